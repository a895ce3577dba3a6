"""Passes: node counts before and after, and parity after."""
import torch
import torch.nn as nn

import graphnn
from graphnn.passes import dce, fold_batchnorm, run_passes
from tests.parity_utils import Wrap, export_checked, onnx_ops


def randomize_bn(bn):
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    if bn.affine:
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.3, 0.3)
    return bn


def trace(model, *inputs):
    return graphnn.trace(model, inputs)


def test_conv_bn_folds_into_conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), randomize_bn(nn.BatchNorm2d(8)), nn.ReLU())
    graph = trace(model, torch.randn(1, 3, 10, 10))
    assert graph.ops() == ["conv2d", "batch_norm", "relu"]
    assert fold_batchnorm(graph) == 1
    assert graph.ops() == ["conv2d", "relu"]
    graph.verify()
    models = export_checked(model, torch.randn(1, 3, 10, 10))
    assert onnx_ops(models[18]) == ["Conv", "Relu"]


def test_linear_bn1d_folds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), randomize_bn(nn.BatchNorm1d(4)))
    graph = graphnn.optimize(trace(model, torch.randn(2, 6)))
    assert graph.ops() == ["linear"]
    export_checked(model, torch.randn(2, 6))


def test_bn_without_affine_folds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 1), randomize_bn(nn.BatchNorm2d(4, affine=False)))
    assert graphnn.optimize(trace(model, torch.randn(1, 2, 5, 5))).ops() == ["conv2d"]
    export_checked(model, torch.randn(1, 2, 5, 5))


def test_bn_not_folded_when_conv_output_is_shared():
    torch.manual_seed(0)

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = randomize_bn(nn.BatchNorm2d(4))

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    model = Shared()
    graph = graphnn.optimize(trace(model, torch.randn(1, 3, 8, 8)))
    assert graph.ops() == ["conv2d", "batch_norm", "add"]
    models = export_checked(model, torch.randn(1, 3, 8, 8))
    assert all(onnx_ops(m) == ["Conv", "BatchNormalization", "Add"] for m in models.values())


def test_lone_bn_stays_one_batchnormalization_node():
    """Nothing to fold into: one BatchNormalization, which onnxruntime runs faster than the
    Mul + Add it equals (issue 7: DenseNet's BatchNorms after a Concat)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.MaxPool2d(2), randomize_bn(nn.BatchNorm2d(3)))
    graph = trace(model, torch.randn(1, 3, 8, 8))
    assert graphnn.optimize(graph).ops() == ["max_pool2d", "batch_norm"]
    assert run_passes(graph.copy())["fold_batchnorm"] == 0  # nothing changed
    for optimize in (False, True):
        models = export_checked(model, torch.randn(1, 3, 8, 8), optimize=optimize)
        assert all(onnx_ops(m) == ["MaxPool", "BatchNormalization"] for m in models.values())


def test_bn_after_concat_stays_batchnormalization_and_the_conv_bn_folds():
    """DenseNet's pattern: BN over a Concat of features cannot fold; a conv's own BN still does."""
    torch.manual_seed(0)

    class Dense(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.conv_bn = randomize_bn(nn.BatchNorm2d(4))
            self.norm = randomize_bn(nn.BatchNorm2d(7))

        def forward(self, x):
            return self.norm(torch.cat([x, self.conv_bn(self.conv(x))], 1)).relu()

    model = Dense()
    assert graphnn.optimize(trace(model, torch.randn(1, 3, 8, 8))).ops() == ["conv2d", "concat", "batch_norm", "relu"]
    models = export_checked(model, torch.randn(2, 3, 8, 8))
    assert all(onnx_ops(m) == ["Conv", "Concat", "BatchNormalization", "Relu"] for m in models.values())


def test_dropout_and_identity_are_removed():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Identity(), nn.ReLU())
    graph = trace(model, torch.randn(2, 4))
    assert graph.ops() == ["linear", "dropout", "identity", "relu"]
    changes = run_passes(graph, verify=True)
    assert changes["eliminate_dropout"] == 1 and changes["eliminate_identity"] == 1
    assert graph.ops() == ["linear", "relu"]
    export_checked(model, torch.randn(2, 4))


def test_model_returning_its_input_through_dropout():
    model = nn.Sequential(nn.Dropout(0.1))
    models = export_checked(model, torch.randn(2, 3))
    assert onnx_ops(models[18]) == ["Identity"]


def test_fold_shapes_turns_traced_batch_into_copy_dim():
    graph = trace(Wrap(lambda x: x.view(x.size(0), -1)), torch.randn(1, 2, 3))
    assert graph.ops() == ["size", "reshape"]
    run_passes(graph, verify=True)
    assert graph.ops() == ["reshape"]
    assert graph.nodes()[0].attrs["shape"] == ["same", -1]


def test_fold_shapes_bakes_static_sizes():
    graph = trace(Wrap(lambda x: x.reshape(x.size(0), x.size(1) * x.size(2))), torch.randn(1, 2, 3))
    run_passes(graph, verify=True)
    assert graph.ops() == ["reshape"]
    assert graph.nodes()[0].attrs["shape"] == ["same", 6]


def test_dce_removes_unused_branch():
    graph = trace(Wrap(lambda x: (x.relu(), x + 1)[0]), torch.randn(2, 3))
    assert len(graph) == 3  # relu, const, add
    assert dce(graph) == 2
    assert graph.ops() == ["relu"]
    graph.verify()


def test_pipeline_leaves_input_graph_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), randomize_bn(nn.BatchNorm2d(4)))
    graph = trace(model, torch.randn(1, 3, 6, 6))
    before = graph.ops()
    graphnn.optimize(graph)
    assert graph.ops() == before


def test_zero_biases_are_dropped_and_nonzero_ones_kept():
    """A default-initialised BatchNorm folds into an all-zero conv bias; onnxruntime would
    spend a kernel adding it. Non-zero biases, and ops whose bias is not optional, stay."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 5), nn.LayerNorm(5))
    nn.init.zeros_(model[5].bias)
    graph = graphnn.optimize(trace(model, torch.randn(2, 3, 10, 10)))
    with_bias = {node.op: "bias" in node.params for node in graph.nodes()}
    assert with_bias == {"conv2d": True, "relu": False, "flatten": False, "linear": False, "layer_norm": True}
    assert [("bias" in n.params) for n in graph.nodes() if n.op == "conv2d"] == [False, True]
    models = export_checked(model, torch.randn(2, 3, 10, 10))
    gemm = next(n for n in models[18].graph.node if n.op_type == "Gemm")
    assert len(gemm.input) == 2
    assert [len(n.input) for n in models[18].graph.node if n.op_type == "Conv"] == [2, 3]
