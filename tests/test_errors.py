"""User mistakes become GraphnnErrors that say what, where and what to do."""
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import ShapeError, TraceError, UnsupportedError


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


def test_data_dependent_control_flow_names_the_line():
    with pytest.raises(TraceError, match=r"data-dependent control flow at test_errors\.py:\d+: if x\.sum\(\) > 0"):
        graphnn.trace(Branchy(), torch.randn(1, 4))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.odd = nn.FractionalMaxPool2d(2, output_size=2)  # random windows: no ONNX form

    def forward(self, x):
        return self.odd(x)


def test_unsupported_layer_names_layer_and_line():
    with pytest.raises(UnsupportedError, match=r"odd \(test_errors\.py:\d+\): layer nn\.FractionalMaxPool2d is not supported"):
        graphnn.trace(Unsupported(), torch.randn(1, 3, 4, 4), frontend="fx")  # auto: torch.export decomposes it


def test_unsupported_function_names_it():
    class Weird(nn.Module):
        def forward(self, x):
            return torch.linalg.svdvals(x)

    with pytest.raises(UnsupportedError, match=r"svdvals.* is not supported"):
        graphnn.trace(Weird(), torch.randn(2, 4))


def test_reshape_fixing_the_batch_suggests_static():
    class FixedBatch(nn.Module):
        def forward(self, x):
            return x.view(1, 12)

    with pytest.raises(ShapeError, match="--static"):  # the user asked for a dynamic batch
        graphnn.trace(FixedBatch(), torch.randn(1, 3, 4), dynamic_dims=[{0: "batch"}])
    for graph in (graphnn.trace(FixedBatch(), torch.randn(1, 3, 4), dynamic_batch=False),
                  graphnn.trace(FixedBatch(), torch.randn(1, 3, 4))):  # by default torch finds it fixed
        assert graph.values[graph.outputs[0]].shape == (1, 12)


def test_train_mode_is_restored_after_trace_and_parity():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model.train()
    model[0].eval()
    graphnn.export(model, torch.randn(2, 3))
    assert model.training and model[1].training and not model[0].training


def test_tensor_attributes_and_named_tuple_fields():
    from tests.parity_utils import Wrap, export_checked

    export_checked(Wrap(lambda x: x.mT + x.max(1).values.unsqueeze(1)), torch.randn(2, 3, 3))
    export_checked(Wrap(lambda x: x.T), torch.randn(2, 3))
    with pytest.raises(UnsupportedError, match=r"reading attribute \.grad"):
        graphnn.trace(Wrap(lambda x: x.grad), torch.randn(2, 3))


@pytest.mark.parametrize("forward", [
    lambda x: (x.relu_(), x + 1)[1],                      # method ending in _
    lambda x: (torch.relu_(x), x * 2)[1],                 # torch.*_ function
    lambda x: (nn.functional.relu(x, inplace=True), x - 1)[1],
])
def test_in_place_ops_are_seen_by_later_reads(forward):
    from tests.parity_utils import Wrap, export_checked

    export_checked(Wrap(forward), torch.randn(2, 5))


def test_in_place_module_is_seen_by_later_reads():
    from tests.parity_utils import export_checked

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            y = x * 1.0
            self.act(y)
            return y + x

    export_checked(Residual(), torch.randn(2, 5))


def test_torch_assert_on_traced_shapes_is_dropped():
    from tests.parity_utils import Wrap, export_checked

    def checked(x):
        torch._assert(x.shape[1] == 3, "needs 3 features")
        return x * 2

    models = export_checked(Wrap(checked), torch.randn(2, 3))
    assert [n.op_type for n in models[18].graph.node] == ["Mul"]


def test_functions_of_optional_packages_are_found_by_qualified_name():
    from graphnn.frontend.rules import function_rule_for

    def stochastic_depth(input, p, mode, training=True):  # stands in for torchvision's
        return input

    stochastic_depth.__module__ = "torchvision.ops.stochastic_depth"
    stochastic_depth.__qualname__ = "stochastic_depth"
    assert function_rule_for(stochastic_depth) is not None
    assert function_rule_for(lambda x: x) is None


def test_static_tensor_facts_are_python_values():
    from tests.parity_utils import Wrap, export_checked

    def uses_facts(x):  # fx sees x.dim() as a Proxy: no Python `if` on it, but arithmetic works
        torch._assert(x.dim() == 3, "needs a 3-d input")
        return x.flatten(x.ndim - 2).to(x.dtype) * 2

    export_checked(Wrap(uses_facts), torch.randn(2, 3, 4))
    with pytest.raises(UnsupportedError, match="numel"):
        graphnn.trace(Wrap(lambda x: x * x.numel()), torch.randn(2, 3))
    export_checked(Wrap(lambda x: x * x[0].numel()), torch.randn(2, 3))
