"""``graphnn check``: parity of graphnn's ONNX against PyTorch, nothing written."""
import sys

import click

import graphnn
from . import options
from .output import print_report, progress
from graphnn.loader import load


@click.command()
@options.model_source
@options.lowering
@options.device
@options.tolerances
def check(model_py, model_name, inputs, dynamic, frontend, static, opset, no_optimize, device, atol, rtol):
    """Check that graphnn's ONNX for MODEL_PY computes what PyTorch computes.

    Exit code 0 when every output matches within tolerance at every batch size
    tried, 1 on a mismatch: use it as a CI gate.

    \b
    Example: graphnn check fixtures/simple_cnn.py --device auto
    """
    loaded, example_inputs = load(model_py, model_name, inputs, dynamic)
    progress(f"checking {loaded.model_name} from {model_py}")
    report = graphnn.check_parity(
        loaded.model, example_inputs, device=device, atol=atol, rtol=rtol, opset=opset,
        dynamic_batch=not static, dynamic_dims=None if static else loaded.dynamic_dims,
        frontend=frontend, optimize_graph=not no_optimize,
    )
    print_report(report)
    if not report.ok:
        sys.exit(1)
