"""The IR keeps ordered inputs as the one source of truth and edges derived from them."""
import pytest
import torch

from graphnn.ir import Graph


def small_graph():
    g = Graph("g")
    g.add_input("x", ("batch", 4), "float32")
    a = g.add_node("relu", ["x"], name="a")
    b = g.add_node("sub", [a.outputs[0], a.outputs[0]], name="b")
    g.outputs = [b.outputs[0]]
    for name in ("a", "b"):
        g.values[name].shape, g.values[name].dtype = ("batch", 4), "float32"
    return g


def test_edges_follow_ordered_inputs_including_repeats():
    g = small_graph()
    assert g.node("b").inputs == ("a", "a")
    assert sorted(g.edges()) == [("a", "b", 0, "a"), ("a", "b", 1, "a")]
    g.verify()


def test_replace_uses_rewires_consumers_and_outputs():
    g = small_graph()
    g.add_node("relu", ["x"], name="c")
    g.values["c"].shape, g.values["c"].dtype = ("batch", 4), "float32"
    g.replace_uses("a", "c")
    assert g.node("b").inputs == ("c", "c")
    assert g.consumers("a") == []
    g.remove_node(g.node("a"))
    g.verify()
    assert [n.name for n in g.nodes()] == ["c", "b"]


def test_remove_node_refuses_while_used():
    g = small_graph()
    with pytest.raises(ValueError, match="still used"):
        g.remove_node(g.node("a"))


def test_names_are_unique_across_nodes_and_values():
    g = small_graph()
    assert g.add_node("relu", ["x"], name="a").name == "a_1"
    assert g.unique_name("x") == "x_1"


def test_verify_catches_missing_shapes():
    g = small_graph()
    g.values["b"].shape = None
    with pytest.raises(AssertionError, match="shape unknown"):
        g.verify()


def test_copy_is_independent():
    g = small_graph()
    g.node("a").params["w"] = torch.ones(2)
    h = g.copy()
    h.replace_uses("a", "x")
    h.remove_node(h.node("a"))
    assert [n.name for n in g.nodes()] == ["a", "b"]
    assert [n.name for n in h.nodes()] == ["b"]
    h.verify()


def test_show_shape_uses_example_symbol_sizes():
    g = small_graph()
    g.symbols["batch"] = 3
    assert g.show_shape(("batch", 4)) == "3x4"
    assert g.show_shape(()) == "scalar"


def test_layer_calls_merge_consecutive_nodes_of_one_layer():
    from graphnn.calls import layer_calls

    g = Graph("g")
    g.add_input("x", (2, 4), "float32")
    a = g.add_node("matmul", ["x", "x"], name="attn", module="enc.attn", module_class="MultiheadAttention")
    b = g.add_node("softmax", [a.outputs[0]], name="attn_1", module="enc.attn", module_class="MultiheadAttention")
    c = g.add_node("relu", [b.outputs[0]], name="act", module="enc.act", module_class="ReLU")
    d = g.add_node("add", [c.outputs[0], "x"], name="add")
    e = g.add_node("matmul", [d.outputs[0], "x"], name="attn_2", module="enc.attn", module_class="MultiheadAttention")
    calls = layer_calls(g)
    assert [(call.name, [n.name for n in call.nodes]) for call in calls] == [
        ("enc.attn", ["attn", "attn_1"]), ("enc.act", ["act"]), ("add", ["add"]), ("enc.attn", ["attn_2"])]
    assert calls[0].last is b and calls[-1].last is e


def test_layer_calls_merge_the_models_own_ops_of_one_source_line():
    from graphnn.calls import layer_calls

    g = Graph("g")
    g.add_input("x", (2, 4), "float32")
    a = g.add_node("size", ["x"], name="size", source="m.py:3")
    b = g.add_node("reshape", ["x", a.outputs[0]], name="view", source="m.py:3")
    c = g.add_node("relu", [b.outputs[0]], name="relu", source="m.py:4")
    calls = layer_calls(g)
    assert [(call.name, call.kind) for call in calls] == [("view", "reshape (+1 op)"), ("relu", "relu")]


def test_consumers_come_from_the_reader_index_and_follow_rewiring():
    g = small_graph()
    c = g.add_node("relu", ["x"], name="c")
    assert [n.name for n in g.consumers("x")] == ["a", "c"]  # a graph input: no edges to follow
    g.set_inputs(c, ["a"])
    assert [n.name for n in g.consumers("x")] == ["a"]
    assert [n.name for n in g.consumers("a")] == ["b", "c"]
    g.values["c"].shape, g.values["c"].dtype = ("batch", 4), "float32"
    g.verify()


def test_node_order_is_resorted_after_a_change():
    g = small_graph()
    assert [n.name for n in g.nodes()] == ["a", "b"]
    c = g.add_node("relu", ["x"], name="c")  # inserted last, read first below
    g.set_inputs(g.node("a"), [c.outputs[0]])
    assert [n.name for n in g.nodes()] == ["c", "a", "b"]


def test_verify_catches_a_stale_reader_index():
    g = small_graph()
    g._readers["x"]["b"] = None  # b does not read x
    with pytest.raises(AssertionError, match="reader index"):
        g.verify()
