"""Parity of nn.Unfold / F.unfold (im2col) and nn.Fold / F.fold (col2im), lowered as grouped
Conv / ConvTranspose with one-hot kernels, under fx and torch.export (aten.im2col / col2im)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.errors import UnsupportedError
from tests.parity_utils import Wrap, export_checked, onnx_ops

WINDOWS = [  # kernel_size, dilation, padding, stride
    dict(kernel_size=3), dict(kernel_size=(2, 3), stride=2), dict(kernel_size=3, padding=1, stride=(2, 1)),
    dict(kernel_size=2, dilation=2, padding=(0, 1)), dict(kernel_size=(3, 1), dilation=(1, 2), padding=2, stride=3),
]


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("window", WINDOWS)
def test_unfold(window, frontend):
    torch.manual_seed(0)
    models = export_checked(nn.Unfold(**window), torch.randn(2, 3, 9, 10), frontend=frontend, atol=0, rtol=0)
    assert onnx_ops(models[18]) == ["Conv", "Reshape"]


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("window", WINDOWS)
def test_fold_of_unfold(window, frontend):
    """Fold sums overlapping windows back: fold(unfold(x)) is x times each pixel's window count."""
    torch.manual_seed(0)
    model = Wrap(lambda x: F.fold(F.unfold(x, **window), (9, 10), **window))
    export_checked(model, torch.randn(2, 3, 9, 10), frontend=frontend)


@pytest.mark.parametrize("frontend", ["auto", "export"])
def test_fold_layer_alone(frontend):
    """Fold of columns computed by the model (an output size the windows do not tile exactly)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(9, 9), nn.Fold(output_size=(7, 8), kernel_size=(2, 3), stride=2))
    # windows along 7: (7-2)//2+1 = 3; along 8: (8-3)//2+1 = 3, so 9 columns of 1*2*3 values
    models = export_checked(model.eval(), torch.randn(2, 6, 9), frontend=frontend)
    assert "ConvTranspose" in onnx_ops(models[18])


def test_unfold_shows_as_one_row_with_no_params():
    graph = graphnn.trace(nn.Sequential(nn.Unfold(3)), (torch.randn(2, 4, 6, 6),))
    (node,) = [n for n in graph.nodes() if n.op == "unfold"]
    assert not node.params and graph.values[node.outputs[0]].shape[1:] == (36, 16)


def test_unbatched_unfold_is_refused_by_name():
    with pytest.raises(UnsupportedError, match="unfold of a 3-d input"):
        graphnn.trace(Wrap(lambda x: F.unfold(x, 2)), (torch.randn(3, 6, 6),), dynamic_batch=False)


@pytest.mark.parametrize("frontend", ["auto", "export"])
@pytest.mark.parametrize("dim, size, step", [(1, 3, 1), (2, 4, 2), (-1, 2, 3), (1, 5, 5)])
def test_tensor_unfold_sliding_windows(dim, size, step, frontend):
    torch.manual_seed(0)
    export_checked(Wrap(lambda x: x.unfold(dim, size, step) * 2), torch.randn(2, 7, 9), frontend=frontend,
                   atol=0, rtol=0)


def test_tensor_unfold_of_a_dynamic_dim_is_refused_by_name():
    with pytest.raises(UnsupportedError, match=r"x.unfold\(\) along a dynamic dim"):
        graphnn.trace(Wrap(lambda x: x.unfold(0, 2, 1)), (torch.randn(3, 4),), frontend="fx")
