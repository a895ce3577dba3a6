"""``graphnn run``: run an ONNX file on given or random inputs, with latency."""
import os
import statistics
import time

import click
import numpy as np
import onnx

from . import options
from .generation import run_generation
from .output import progress
from graphnn.errors import GraphnnError, InputSpecError
from graphnn.checking.runtime import create_runtime
from graphnn.inputs import inputs_from_specs, parse_input_spec
from graphnn.onnxfile.read import OnnxFileError, graph_inputs, load_checked
from graphnn.onnxfile.types import dtype_name
from graphnn.tensors import to_numpy


@click.command()
@click.argument("model_onnx", type=click.Path())
@click.option("--input", "inputs", multiple=True, metavar="SHAPE[:DTYPE]",
              help="Shape (and dtype) of each input, in order. Default: the file's input shapes, "
                   "dynamic dims set to --batch.")
@click.option("--npz", type=click.Path(exists=True, dir_okay=False),
              help="Take the inputs from a .npz file whose array names are the model's input names.")
@click.option("--batch", type=int, default=1, show_default=True, help="Size of dynamic dims when no --input.")
@click.option("--repeat", type=click.IntRange(1), default=10, show_default=True, help="Timed runs after one warm-up.")
@click.option("--generate", type=int, metavar="N",
              help="Decode N new tokens greedily from --input-ids (a language model file, or an encoder-decoder "
                   "folder) and print them with tokens/s; eos and pad ids from the file.")
@click.option("--input-ids", metavar="ID,ID,...", help="With --generate: the prompt (or the encoder's ids) as token ids.")
@options.device
def run(model_onnx, inputs, npz, batch, repeat, generate, input_ids, device):
    """Run MODEL_ONNX with onnxruntime and print output shapes and latency.

    MODEL_ONNX may be an encoder-decoder folder (encoder_model.onnx + decoder_model.onnx)
    with --generate.

    \b
    Examples:
      graphnn run simple_cnn.onnx
      graphnn run simple_cnn.onnx --input 8x3x28x28 --repeat 100 --device auto
      graphnn run model.onnx --npz inputs.npz
      graphnn run llama.onnx --generate 16 --input-ids 1,2,3
    """
    if generate is not None or input_ids is not None:
        _generate(model_onnx, generate, input_ids, device, input=inputs, npz=npz)
        return
    if os.path.isdir(model_onnx):
        raise InputSpecError(f"{model_onnx} is a folder: run one .onnx file, or decode with an encoder-decoder "
                             f"folder with --generate N --input-ids ...")
    model = load_checked(model_onnx)  # hostile or broken files refused before onnxruntime reads them
    feeds = _feeds(model, inputs, npz, batch)
    runtime = _runtime(model_onnx, device)
    if runtime.note:
        progress(runtime.note)
    try:
        outputs = runtime.run(feeds)
    except Exception as exc:  # onnxruntime rejects inputs that do not fit the model
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputSpecError(f"onnxruntime cannot run {model_onnx} on these inputs: {reason}") from None
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        runtime.run(feeds)
        times.append((time.perf_counter() - start) * 1000)
    for info, value in zip(model.graph.output, outputs):
        click.echo(f"{info.name}: {'x'.join(map(str, value.shape)) or 'scalar'} {value.dtype}")
    click.echo(f"latency on {runtime.device}: median {statistics.median(times):.3f} ms, "
               f"min {min(times):.3f} ms over {repeat} runs")


def _generate(path: str, generate, input_ids, device: str, **others) -> None:
    """``--generate``: the tokens, not the outputs; the input options are for plain runs."""
    refused = [f"--{name}" for name, value in others.items() if value]
    if generate is None or refused:
        raise InputSpecError("--input-ids goes with --generate N" if generate is None else
                             f"--generate decodes from --input-ids; not with {', '.join(refused)}")
    run_generation(path, generate, input_ids, device)


def _runtime(path: str, device: str):
    """A session; whatever else onnxruntime refuses in the file, said in one line."""
    try:
        return create_runtime(path, device)
    except GraphnnError:
        raise
    except Exception as exc:  # onnxruntime's own classes: invalid graph, bad attribute...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise OnnxFileError(f"onnxruntime cannot load {path}: {reason}") from None


def _feeds(model: onnx.ModelProto, specs, npz, batch) -> dict:
    declared = graph_inputs(model)
    names = [i.name for i in declared]
    if npz:
        arrays = np.load(npz)
        missing = [n for n in names if n not in arrays]
        if missing:
            raise InputSpecError(f"{npz} lacks arrays for inputs {', '.join(missing)} (has {', '.join(arrays.files)})")
        return {n: arrays[n] for n in names}
    if specs:
        if len(specs) != len(names):
            raise InputSpecError(f"{len(specs)} --input given, the model has {len(names)} inputs ({', '.join(names)})")
        tensors = inputs_from_specs([parse_input_spec(s) for s in specs])
    else:
        tensors = inputs_from_specs([_default_spec(i, batch) for i in declared])
    return {n: to_numpy(t) for n, t in zip(names, tensors)}


def _default_spec(info, batch: int):
    tensor_type = info.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else batch for d in tensor_type.shape.dim]
    dtype = dtype_name(tensor_type.elem_type) or "float32"
    return parse_input_spec(("x".join(map(str, dims)) if dims else "") + f":{dtype}")
