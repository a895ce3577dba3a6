"""Options shared by several commands, defined once."""
import functools

import click

from graphnn.backend.onnx import DEFAULT_OPSET, MIN_OPSET
from graphnn.backend.onnx.targets import DEFAULT_TARGET, TARGETS
from graphnn.frontend import FRONTENDS
from graphnn.checking.parity import DEFAULT_ATOL, DEFAULT_RTOL
from graphnn.checking.runtime import DEVICES
from graphnn.checking.tolerances import QUANTIZED
from graphnn.compress import PRECISIONS, QUANTIZE_MODES
from graphnn.hf.tasks import TASKS
from graphnn.loader import LoadOptions


def model_source(fn):
    """MODEL_PY, --model, --weights, --trust-pickle, --input, --dynamic, --static, --frontend:
    which model, loaded and traced how. The command gets ``model_py``, ``frontend`` and the
    rest as one ``loading`` (a ``loader.LoadOptions``), which it hands to ``load``."""
    fn = _loading_options(fn)
    fn = click.option(
        "--frontend", type=click.Choice(FRONTENDS), default="auto", show_default=True,
        help="Tracer: fx (fast, layer-level), export (torch.export: for models fx cannot trace, "
             "e.g. transformers), or auto (fx, falling back to export with a note).",
    )(fn)
    fn = click.option(
        "--dynamic", "dynamic", multiple=True, metavar="DIM=NAME[,...]",
        help="Dims that stay symbolic in the ONNX file, once per input in order, e.g. "
             "--dynamic 0=seq,1=batch for a sequence-first RNN; INPUT:1=seq names the input; "
             "'none' fixes them all. Default: dim 0 is 'batch'. Parity varies every dynamic dim.",
    )(fn)
    fn = click.option(
        "--static", is_flag=True,
        help="Fix every input dim, batch included (default: dim 0 is a dynamic 'batch').",
    )(fn)
    fn = click.option(
        "--input", "inputs", multiple=True, metavar="[NAME=]SHAPE[:DTYPE]",
        help="An example input, e.g. 1x3x28x28 or 4x20:int64; repeat once per forward argument, "
             "or pass them by name: input_ids=2x16:int64. "
             "Default: example_inputs / dummy_input / example_input from MODEL_PY.",
    )(fn)
    fn = click.option(
        "--model", "model_name", metavar="NAME",
        help="The nn.Module instance, class or zero-argument factory in MODEL_PY. Default: `model`, "
             "else the only nn.Module instance, else the only nn.Module class buildable without arguments.",
    )(fn)
    return click.argument("model_py", type=click.Path())(fn)


def _loading_options(fn):
    @functools.wraps(fn)
    def command(*args, model_name, weights, trust_pickle, inputs, dynamic, static, task, **kwargs):
        loading = LoadOptions(model_name, weights, trust_pickle, inputs, dynamic, static, task)
        return fn(*args, loading=loading, **kwargs)

    command = click.option(
        "--task", type=click.Choice(list(TASKS)),
        help="For a checkpoint folder (config.json + *.safetensors from save_pretrained): the model and "
             "example inputs to build. Default: from config.json's architectures.",
    )(command)
    command = click.option(
        "--trust-pickle", is_flag=True,
        help="Load MODEL_PY when it is a whole module saved with torch.save(model). Unpickling runs code "
             "named in the file, so only for files you trust; its classes must be importable.",
    )(command)
    return click.option(
        "--weights", metavar="FILE",
        help="A state dict (.pt/.pth from torch.save(model.state_dict()), or .safetensors) loaded into "
             "the model before tracing; {'state_dict': ...} / {'model': ...} wrappers and module. / "
             "_orig_mod. prefixes are accepted.",
    )(command)


def lowering(fn):
    fn = click.option("--no-optimize", is_flag=True,
                      help="Skip the optimizing passes (BatchNorm folding, Dropout/Identity removal, DCE).")(fn)
    return click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True,
                        help=f"ONNX opset, from {MIN_OPSET} to the newest the installed onnxruntime runs.")(fn)


def target(fn):
    return click.option(
        "--target", type=click.Choice(list(TARGETS)), default=DEFAULT_TARGET, show_default=True,
        help="The runtime the file is for: onnx (standard operators, any runtime), or ort-cpu / ort-cuda "
             "(onnxruntime's fused kernels, e.g. MultiHeadAttention, where that provider has them).",
    )(fn)


def device(fn):
    return click.option(
        "--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
        help="onnxruntime execution device; auto uses CUDA when a GPU is usable, else CPU.",
    )(fn)


def tolerances(fn):
    fn = click.option("--rtol", type=float, default=None,
                      help=f"Parity: tolerance relative to the output's largest magnitude "
                           f"[default: {DEFAULT_RTOL:g}; {QUANTIZED.rtol:g} for dynamically quantized layers].")(fn)
    return click.option("--atol", type=float, default=None,
                        help=f"Parity: absolute tolerance; an output passes if max|onnx - torch| <= atol + rtol * "
                             f"max|torch| [default: {DEFAULT_ATOL:g}].")(fn)


def compression(fn):
    """--quantize, --precision, --quantize-tolerance, --float16-io: a smaller file, its
    layers chosen by parity (graphnn.compress)."""
    fn = click.option("--float16-io", is_flag=True,
                      help="With --precision float16: float16 inputs and outputs too (default: float32 at the "
                           "boundaries, Casts inside).")(fn)
    fn = click.option("--quantize-tolerance", metavar="REL|rel=X,top1=Y",
                      help="How far the int8 / float16 file may be from torch on the parity inputs: relative "
                           "error ||onnx - torch|| / ||torch|| per output, and top-1 agreement on classifier-like "
                           "outputs (logits). Layers breaking it stay float32 [default: rel=0.05,top1=0.99 for "
                           "int8; rel=0.01,top1=0.99 for float16].")(fn)
    fn = click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True,
                      help="float16: compute in float16 (onnxruntime's converter; softmax, norms and reductions "
                           "stay float32, parity decides more).")(fn)
    return click.option("--quantize", type=click.Choice([m for m in QUANTIZE_MODES if m]), default=None,
                        help="dynamic: int8 weights for MatMul/Gemm/Conv with activations quantized per run "
                             "(onnxruntime.quantization), checked against torch.")(fn)
