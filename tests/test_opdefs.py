"""Every canonical op has each facet: a lowering (or is graph-only on purpose), a MAC rule
or an explicit NO_MACS, a parity test (docs/support.md lists the opsets it ran at), and it
lives in the ops module its family names."""
import importlib
import os

import pytest

import graphnn.backend.onnx  # noqa: F401  (loads every lowering)
import graphnn.frontend  # noqa: F401  (loads every rule)
from graphnn.backend.onnx import registry
from graphnn.errors import UnsupportedError
from graphnn.frontend.rules import Builder, Ref
from graphnn.ir import Graph
from graphnn.ops import NO_MACS, all_opdefs, define, opdef
from graphnn.ops.activation import RELU
from graphnn.ops.opdef import undefine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPDEFS = list(all_opdefs())
NAMES = [d.name for d in OPDEFS]


def opsets_in_support_doc() -> dict[str, str]:
    """op -> its "opsets tested" cell in docs/support.md's canonical ops table."""
    with open(os.path.join(ROOT, "docs", "support.md")) as f:
        section = f.read().split("## Canonical ops", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|") for line in section.splitlines() if line.startswith("| `")]
    return {row[1].strip().strip("`"): row[3].strip() for row in cells}


def test_there_is_one_opdef_per_op_name():
    assert len(NAMES) == len(set(NAMES)) > 150


@pytest.mark.parametrize("definition", OPDEFS, ids=NAMES)
def test_every_op_lowers_unless_graph_only(definition):
    assert registry.lowered(definition) != definition.graph_only, \
        f"{definition.name}: a lowering in backend/onnx/lowering/, or graph_only=True on its OpDef"


@pytest.mark.parametrize("definition", OPDEFS, ids=NAMES)
def test_every_op_counts_macs_or_says_it_has_none(definition):
    assert definition.macs is NO_MACS or callable(definition.macs), definition.name


@pytest.mark.parametrize("definition", OPDEFS, ids=NAMES)
def test_every_op_is_defined_in_its_family_module(definition):
    module = importlib.import_module(f"graphnn.ops.{definition.family}")
    assert any(value is definition for value in vars(module).values()), definition.name


def test_every_op_has_a_parity_test():
    """docs/support.md records the ops each tests/ops parity test traced: an op not seen
    there needs one in tests/ops/test_<family>.py (then: python docs/gen_support.py)."""
    tested = opsets_in_support_doc()
    untested = [d.name for d in OPDEFS if not d.graph_only and tested.get(d.name, "(not seen").startswith("(not seen")]
    assert not untested, f"ops without a recorded parity test: {untested}"
    assert set(tested) == set(NAMES), "run: python docs/gen_support.py"


def test_an_op_name_is_defined_once():
    with pytest.raises(RuntimeError, match="'relu' defined twice"):
        define("relu", shape=RELU.shape, macs=NO_MACS)
    assert opdef("relu") is RELU


def test_an_unknown_op_is_named():
    with pytest.raises(UnsupportedError, match="'no_such_op'"):
        opdef("no_such_op")


@pytest.mark.parametrize("given, family", [(None, "test_opdefs"), ("toy", "toy")])
def test_the_family_is_the_defining_module_unless_given(given, family):
    toy = define("toy_identity", shape=RELU.shape, macs=NO_MACS, family=given)
    try:
        assert toy.family == family and opdef("toy_identity") is toy
    finally:
        undefine(toy)


def test_emit_takes_an_opdef_not_a_name():
    graph = Graph()
    graph.add_input("x", (2, 3), "float32")
    builder = Builder(graph, "act")
    with pytest.raises(TypeError, match="OpDef"):
        builder.emit("relu", [Ref("x")])
    out = builder.emit(RELU, [Ref("x")])
    assert graph.producer(out.name).op == "relu" and builder.shape(out) == (2, 3)


def test_lowerings_register_against_opdefs_once():
    with pytest.raises(TypeError, match="OpDef"):
        registry.lowers("relu")
    with pytest.raises(RuntimeError, match="'relu' since opset 1 registered twice"):
        registry.lowers(RELU)(lambda ctx, node: None)
    assert registry.lowering_for("relu", 18) is registry.lowering_for(RELU.name, 13)


def test_mac_and_label_rules_come_from_the_opdef():
    from graphnn.view.labels import key_attrs
    from graphnn.view.macs import ir_count
    conv = opdef("conv2d")
    weights = {"weight": (8, 3, 3, 3)}
    assert ir_count("conv2d", [(1, 3, 8, 8)], [(1, 8, 6, 6)], weights) == 8 * 36 * 27
    assert ir_count("relu", [(1, 4)], [(1, 4)], {}) == 0
    assert key_attrs("conv2d", {"stride": [1, 1]}, weights) == conv.label({"stride": [1, 1]}, weights) \
        == {"kernel": "3x3", "stride": "1x1"}
