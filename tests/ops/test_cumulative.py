"""Parity of cumsum (ONNX CumSum): floats, the int64 sums torch makes of bool and int
tensors, explicit dtypes, and position ids counted from a padding mask."""
import pytest
import torch

import graphnn
from tests.parity_utils import Wrap, export_checked, onnx_ops

CUMSUM = {
    "last": lambda x: x.cumsum(-1),
    "torch.cumsum": lambda x: torch.cumsum(x, dim=1),
    "batch_dim": lambda x: torch.cumsum(x, 0),
    "bool_to_int64": lambda x: (x > 0).cumsum(1).float(),
    "int": lambda x: (x * 10).int().cumsum(1).float(),
    "dtype": lambda x: torch.cumsum(x > 0, 1, dtype=torch.float32),
    "scalar": lambda x: x.sum().cumsum(0),
}


@pytest.mark.parametrize("name", CUMSUM)
def test_cumsum(name):
    models = export_checked(Wrap(CUMSUM[name]), torch.randn(3, 5))
    assert onnx_ops(models[18]).count("CumSum") == 1


def test_cumsum_of_bool_is_int64_as_in_torch():
    graph = graphnn.trace(Wrap(lambda x: (x > 0).cumsum(1)), torch.randn(3, 5))
    assert graph.values[graph.outputs[0]].dtype == "int64"


def test_position_ids_from_a_padding_mask():
    """RoBERTa-style position ids: running count of real tokens, padding stays at 1."""
    class Positions(torch.nn.Module):
        def forward(self, attention_mask):
            return (attention_mask.cumsum(-1) * attention_mask + 1).float()

    mask = torch.ones(2, 6, dtype=torch.long)
    mask[0, 4:] = 0
    export_checked(Positions(), {"attention_mask": mask},
                   dynamic_dims={"attention_mask": {0: "batch", 1: "seq"}}, frontend="export")


DIFF = {
    "last": lambda x: torch.diff(x),
    "method_dim0": lambda x: x.diff(dim=0),  # the dynamic batch shrinks by one
    "twice_prepend_append": lambda x: torch.diff(x, n=2, dim=1, prepend=x[:, :1], append=x[:, -2:]),
    "bool_is_xor": lambda x: torch.diff(x > 0).float(),
    "int": lambda x: (x * 10).long().diff().float(),
}


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("name", DIFF)
def test_diff(name, frontend):
    models = export_checked(Wrap(DIFF[name]), torch.randn(3, 5), frontend=frontend)
    assert onnx_ops(models[18]).count("Slice") >= 2
