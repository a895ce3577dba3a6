"""`graphnn graph`: the table's counts against PyTorch's own, the module tree and --depth,
opaque layers, DOT rendered by the real Graphviz, pictures, ONNX files, JSON, --optimize marks."""
import json
import os
import re
import shutil
import subprocess

import onnx
import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner
from torch.utils.flop_counter import FlopCounterMode

import graphnn
from graphnn.cli.main import main
from graphnn.errors import UnsupportedError
from graphnn.frontend.rules import opaque_layers
from graphnn.loader import load_model_file
from graphnn.view import view_of_graph, view_of_onnx
from graphnn.view.dot import to_dot
from graphnn.view.table import render, rows
from tests.conftest import FIXTURE_FILES, ROOT, invoke

# Dynamically quantized Linear keeps packed weights, which model.parameters() does not list.
PACKED_WEIGHTS = {"quantized_dynamic.py"}


def graphviz_dot():
    dot = shutil.which("dot")
    if dot is None and not os.environ.get("GRAPHNN_REQUIRE_DOT"):
        pytest.skip("Graphviz `dot` is not installed (.ci/run installs it and requires it)")
    assert dot is not None, "GRAPHNN_REQUIRE_DOT is set but Graphviz `dot` is missing"
    return dot


def view(model, *inputs, **kwargs):
    with opaque_layers():
        graph = graphnn.trace(model, inputs if len(inputs) > 1 else inputs[0], **kwargs)
    return view_of_graph(graph, model)


def torch_macs(model, *inputs):
    """PyTorch's own count: FlopCounterMode's FLOPs are 2 per multiply-accumulate. In training
    mode with grad: eval's fused fast paths (MultiheadAttention's native kernel) hide their
    products from the counter; no layer here has randomness that changes the products."""
    with FlopCounterMode(display=False) as counter:
        model.train()(*inputs)
    model.eval()
    return counter.get_total_flops() // 2


def total_macs(v):
    return sum(n.macs for n in v.nodes if n.macs)


# ----------------------------------------------------------------- every fixture
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=os.path.basename)
def test_fixture_totals_match_torch_and_dot_renders(path):
    """Totals equal sum(p.numel()) (tied weights once), also for the LSTM / Transformer /
    Embedding fixtures; the rows' parameters add up to it; the DOT renders to SVG."""
    loaded = load_model_file(path)
    example = loaded.example_inputs
    with opaque_layers():
        graph = graphnn.trace(loaded.model, example, dynamic_dims=loaded.dynamic_dims)
    v = view_of_graph(graph, loaded.model)
    expected = sum(p.numel() for p in loaded.model.parameters())
    assert re.search(rf"^Total params: {expected:,} \(", render(v), re.M)
    if os.path.basename(path) not in PACKED_WEIGHTS:
        assert v.param_totals().total == expected
    svg = subprocess.run([graphviz_dot(), "-Tsvg"], input=to_dot(v), capture_output=True, text=True)
    assert svg.returncode == 0 and "<svg" in svg.stdout, svg.stderr


def test_tied_weights_count_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.head = nn.Embedding(50, 8), nn.Linear(8, 50, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids):
            return self.head(self.embed(ids))

    v = view(Tied(), torch.randint(0, 50, (2, 5)))
    assert v.param_totals().total == 400 == v.totals.total
    assert "Total params: 400 (trainable: 400, frozen: 0" in render(v)


def test_parameter_read_in_forward_is_drawn_apart_and_counted_in_its_row():
    class PosEmbed(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Parameter(torch.zeros(1, 5, 4))
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            x = x + self.pos
            return self.fc(x)

    v = view(PosEmbed(), torch.randn(2, 5, 4))
    assert v.param_totals().total == 30 == v.totals.total
    assert re.search(r"^add\s+add\s+\[batch, 5, 4\]\s+20\s+yes", render(v), re.M)
    assert re.search(r'^\tpos \[label="pos\\nparameter 1x5x4".*shape=note', to_dot(v), re.M)


def test_frozen_parameters_are_counted_apart():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    table = render(view(model, torch.randn(2, 4)))
    assert "Total params: 23 (trainable: 8, frozen: 15" in table
    assert re.search(r"^0\s+Linear\s+\[batch, 3\]\s+15\s+frozen", table, re.M)


# ----------------------------------------------------------------- MACs
class BasicBlock(nn.Module):
    """torchvision's ResNet basic block with a strided 1x1 downsample."""

    def __init__(self, cin=8, cout=16):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(cout), nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


def test_macs_hand_counted():
    assert total_macs(view(nn.Linear(10, 5), torch.randn(3, 10))) == 3 * 5 * 10
    assert total_macs(view(nn.Conv2d(3, 8, 3, padding=1), torch.randn(1, 3, 8, 8))) == 8 * 8 * 8 * (3 * 3 * 3)
    # conv1: 16x8x8 outputs of 8*3*3; conv2: 16x8x8 of 16*3*3; downsample: 16x8x8 of 8
    hand = 16 * 64 * 72 + 16 * 64 * 144 + 16 * 64 * 8
    x = torch.randn(1, 8, 16, 16)
    assert total_macs(view(BasicBlock(), x)) == hand == torch_macs(BasicBlock(), x)


def test_lstm_macs_hand_counted():
    """FlopCounterMode sees no products in torch's fused CPU LSTM kernel, so count by hand:
    per step and batch row, 4 gates x (input + hidden) per layer and direction."""
    v = view(nn.LSTM(6, 5, num_layers=2, bidirectional=True), torch.randn(7, 2, 6))
    per_step = 2 * (20 * 6 + 20 * 5) + 2 * (20 * 10 + 20 * 5)
    assert total_macs(v) == 7 * 2 * per_step


@pytest.mark.parametrize("name, model, inputs", [
    ("gru", nn.GRU(6, 5, batch_first=True), (torch.randn(2, 7, 6),)),
    ("attention", nn.MultiheadAttention(16, 4, batch_first=True), (torch.randn(2, 5, 16),) * 3),
    ("encoder", nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), (torch.randn(2, 5, 16),)),
    ("conv_transpose", nn.ConvTranspose2d(4, 6, 3, stride=2), (torch.randn(2, 4, 5, 5),)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_macs_agree_with_flop_counter(name, model, inputs):
    assert total_macs(view(model, *inputs)) == torch_macs(model, *inputs) > 0


def test_attention_macs_are_torch_sdpa_formula():
    """torch's counter skips its fused CPU attention kernel (on CUDA it counts it), so compare
    with the formula it applies there: q @ k^T plus weights @ v."""
    from torch.utils.flop_counter import sdpa_flop_count

    class Attend(nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 7, 8), torch.randn(2, 4, 7, 6)
    assert total_macs(view(Attend(), q, k, v)) == sdpa_flop_count(q.shape, k.shape, v.shape) // 2


def test_transformers_gpt2_counts_agree_with_torch():
    """A Hugging Face model under the torch.export frontend: tied LM head counted once, MACs
    equal to FlopCounterMode's (GPT-2 computes attention with matmuls the counter sees)."""
    pytest.importorskip("transformers")
    from tests.transformer_zoo import ZOO

    model, inputs, dims = ZOO["gpt2"]()
    with opaque_layers():
        graph = graphnn.trace(model, inputs, dynamic_dims=dims, frontend="export")
    v = view_of_graph(graph, model)
    assert v.param_totals().total == v.totals.total == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model.train()(**inputs)
    assert total_macs(v) == counter.get_total_flops() // 2 > 0


# ----------------------------------------------------------------- module tree
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.layer1(self.stem(x)).mean((2, 3)))


def test_tree_rows_and_depth_collapse():
    model, x = Net(), torch.randn(1, 3, 16, 16)
    v = view(model, x)
    full = {}
    for row in rows(v):
        full.setdefault(row.name, row)  # a block's header row comes before its own ops' row
    assert full["layer1"].kind == "Sequential" and full["layer1"].indent == 0
    assert full["layer1.0"].kind == "BasicBlock" and full["layer1.0"].indent == 1
    assert full["layer1.0.conv1"].indent == 2 and full["layer1.0.downsample.0"].indent == 3
    block = full["layer1.0"]
    block_params = sum(p.numel() for p in model.layer1[0].parameters())
    assert sum(p.numel for p in block.params.values()) == block_params
    collapsed = [r for r in rows(v, depth=2) if r.name.startswith("layer1")]
    assert [(r.name, r.kind) for r in collapsed] == [("layer1", "Sequential"), ("layer1.0", "BasicBlock"),
                                                     ("layer1.1", "BasicBlock")]
    assert collapsed[1].macs == block.macs == torch_macs(model.layer1[0], model.stem(x))
    assert sum(p.numel for p in collapsed[1].params.values()) == block_params


def test_svg_has_module_clusters_and_labels(tmp_path):
    dot = graphviz_dot()
    svg = subprocess.run([dot, "-Tsvg"], input=to_dot(view(Net(), torch.randn(1, 3, 16, 16))),
                         capture_output=True, text=True, check=True).stdout
    for cluster in ("cluster_layer1", "cluster_layer1.0", "cluster_layer1.0.downsample"):
        assert f"<title>{cluster}</title>" in svg
    assert "layer1: Sequential" in svg and "layer1.0: BasicBlock" in svg
    assert "kernel 3x3, stride 2x2" in svg and "features 8 &#45;&gt; 4" in svg
    assert "[batch, 8, 16, 16]" in svg  # edge labels are shapes


def test_depth_draws_a_block_as_one_node():
    model = Net()
    text = to_dot(view(model, torch.randn(1, 3, 16, 16)), depth=2)
    params = sum(p.numel() for p in model.layer1[0].parameters())
    assert f'"layer1.0" [label="layer1.0\\nBasicBlock\\n{params:,} params\\n9 ops"' in text
    assert "layer1.0.conv1" not in text


def test_dot_is_stable_run_to_run():
    outputs = [invoke(["graph", os.path.join(ROOT, "fixtures", "transformer_encoder.py"),
                                         "--dot"]).output for _ in range(2)]
    assert outputs[0] == outputs[1] and outputs[0].startswith("digraph")


# ----------------------------------------------------------------- opaque layers
class WithUnsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.FractionalMaxPool2d(2, output_size=(4, 4))
        self.unfold = nn.Unfold(2, stride=2)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.unfold(self.pool(self.conv(x))).transpose(1, 2))


def test_layer_without_rule_is_an_opaque_node_in_graph_only():
    model, x = WithUnsupported(), torch.randn(2, 3, 8, 8)
    table = render(view(model, x))
    assert re.search(r"^pool\s+FractionalMaxPool2d\s+\[batch, 8, 4, 4\].*no rule: export tries torch.export",
                     table, re.M)
    assert re.search(r"^unfold\s+Unfold\s+\[batch, 32, 4\]\s+test_graph_view.py:\d+\s*$", table, re.M)  # no note
    assert re.search(r"^fc\s+Linear\s+\[batch, 4, 4\]", table, re.M)
    with pytest.raises(UnsupportedError, match="nn.FractionalMaxPool2d is not supported"):
        graphnn.export(model, x, None)


def test_cli_graph_shows_an_unsupported_layer_that_export_refuses(tmp_path):
    source = tmp_path / "unsupported.py"
    source.write_text("import torch, torch.nn as nn\n"
                      "model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.FractionalMaxPool2d(2, output_size=4), "
                      "nn.Flatten(), nn.Linear(64, 2))\n"
                      "example_inputs = (torch.randn(1, 3, 8, 8),)\n")
    result = invoke(["graph", str(source)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^1\s+FractionalMaxPool2d\s+\[batch, 4, 4, 4\].*no rule: export tries torch.export", result.stdout, re.M)
    refused = invoke(["export", str(source), str(tmp_path / "u.onnx")])
    assert refused.exit_code == 2 and "layer nn.FractionalMaxPool2d is not supported by graphnn yet" in refused.output
    assert not (tmp_path / "u.onnx").exists()


class FunctionalBessel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x, mask=None, scale=2.0):
        bessel = torch.special.i0(x)
        return self.fc(bessel * scale)


def test_function_without_rule_is_opaque_in_graph_only():
    """A torch function without a rule: its shapes come from a replay of the fx graph (the
    forward's float default reaches the replay as itself, not as None)."""
    model, x = FunctionalBessel(), torch.randn(2, 1, 4, 6)
    table = render(view(model, x))
    assert re.search(r"^special_i0\s+torch.special.i0\s+\[batch, 1, 4, 6\].*no rule: export tries torch.export",
                     table, re.M)
    assert re.search(r"^fc\s+Linear\s+\[batch, 1, 4, 3\]\s+21\s+yes\s+144", table, re.M)
    with pytest.raises(UnsupportedError, match="function torch.special.i0 is not supported"):
        graphnn.trace(model, x, frontend="fx")  # auto: torch.export decomposes aten.special_i0


def test_forward_float_default_is_its_value():
    class Scaled(nn.Module):
        def forward(self, x, scale=2.0):
            return x * scale

    assert graphnn.export(Scaled(), torch.randn(2, 3), None).ok


# ----------------------------------------------------------------- CLI: files, ONNX, JSON, --optimize
def test_pictures_and_dot_files(tmp_path):
    graphviz_dot()
    runner = CliRunner()
    for name in ("m.svg", "m.png", "m.dot"):
        result = runner.invoke(main, ["graph", os.path.join(ROOT, "fixtures", "simple_cnn.py"), "-o",
                                      str(tmp_path / name), "--depth", "1"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "m.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "m.dot").read_text().startswith("digraph SimpleCNN")


def test_missing_graphviz_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke(["graph", os.path.join(ROOT, "fixtures", "simple_cnn.py"), "-o",
                                       str(tmp_path / "m.svg")])
    assert result.exit_code == 2
    assert "apt-get install graphviz" in result.output and "-o model.dot" in result.output
    assert os.listdir(tmp_path) == []


def test_graph_of_an_exported_onnx_file(tmp_path):
    loaded = load_model_file(os.path.join(ROOT, "fixtures", "conv_bn_relu.py"))
    example = loaded.example_inputs
    path = tmp_path / "m.onnx"
    graphnn.export(loaded.model, example, str(path), check=False)
    nodes = len(onnx.load(str(path)).graph.node)
    result = invoke(["graph", str(path)])
    assert result.exit_code == 0, result.output
    assert f"\n{nodes} nodes (ONNX file)" in result.output
    total = sum(p.numel() for p in loaded.model.parameters())  # BatchNorm folded: fewer weights
    assert re.search(r"^conv1\s+Conv2d\s+\[batch, 16, 32, 32\]", result.output, re.M), result.output
    assert "Total params: " in result.output and total > 0
    onnx_macs = re.search(r"MACs: ([\d,]+)", result.output).group(1)
    assert onnx_macs == re.search(r"MACs: ([\d,]+)", render(view(loaded.model, *example))).group(1)
    dot = invoke(["graph", str(path), "--dot"])
    assert dot.exit_code == 0 and dot.output.startswith("digraph")
    for option in (["--input", "1x3x8x8"], ["--weights", str(path)]):
        refused = invoke(["graph", str(path), *option])
        assert refused.exit_code == 2 and f"{option[0]} apply to a MODEL_PY, not to an ONNX file" in refused.output


def test_torch_onnx_files_group_under_their_modules(tmp_path):
    """Files from torch.onnx: TorchScript's scoped names (/layer1/layer1.0/conv1/Conv), and the
    dynamo exporter's namespace metadata (module paths and classes)."""
    path = tmp_path / "t.onnx"
    torch.onnx.export(Net().eval(), (torch.randn(1, 3, 16, 16),), str(path), dynamo=False)
    v = view_of_onnx(onnx.load(str(path)))
    assert len(v.nodes) == len(onnx.load(str(path)).graph.node)
    names = {}
    for row in rows(v):
        names.setdefault(row.name, row)
    assert names["layer1.0.downsample.0"].kind == "Conv" and names["layer1.0.downsample.0"].indent == 3
    assert names["layer1.0"].indent == 1 and names["layer1.0"].macs == torch_macs(Net().layer1[0], torch.randn(1, 8, 16, 16))

    node = onnx.helper.make_node("Relu", ["x"], ["y"], name="node_relu")
    onnx.helper.set_metadata_props(node, {"namespace": ": m.Net/layer1: torch.nn.modules.container.Sequential"
                                                       "/layer1.0.relu: torch.nn.modules.activation.ReLU/relu: aten.relu"})
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", 1, [2])],
                                   [onnx.helper.make_tensor_value_info("y", 1, [2])])
    v = view_of_onnx(onnx.helper.make_model(graph, producer_name="pytorch"))
    assert (v.nodes[0].module, v.nodes[0].module_class, v.modules["layer1"]) == ("layer1.0.relu", "ReLU", "Sequential")


def test_json_has_nodes_edges_shapes_and_tree():
    result = invoke(["graph", os.path.join(ROOT, "fixtures", "simple_cnn.py"), "--json"])
    document = json.loads(result.stdout)
    assert document["schema"] == "graphnn.graph/1"
    assert document["totals"]["params"] == 20778
    conv1 = next(n for n in document["nodes"] if n["id"] == "conv1")
    assert conv1["kind"] == "Conv2d" and conv1["macs"] > 0 and conv1["params"][0]["shape"] == [16, 3, 3, 3]
    assert {"from": None, "to": "conv1", "tensor": "x", "shape": ["batch", 3, 28, 28]} in document["edges"]


def test_optimize_marks_what_each_pass_did():
    result = invoke(["graph", os.path.join(ROOT, "fixtures", "conv_bn_relu.py"), "--optimize"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^conv1\s+Conv2d.*conv1 \+ bn1 folded", result.output, re.M)
    assert not re.search(r"^bn1\s", result.output, re.M)
    result = invoke(["graph", os.path.join(ROOT, "fixtures", "dropout.py"), "--optimize"])
    assert "dropout removed" in result.output
