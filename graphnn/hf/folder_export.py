"""A model exported as a folder of ONNX files (``seq2seq_parts.parts``: an encoder and a decoder),
each file parity-checked like a one-file export, the folder written whole or not at all,
with the checkpoint's config files beside them so the folder describes itself."""
from __future__ import annotations

import os
import shutil
from typing import Any

from graphnn.api import ExportResult, export
from graphnn.onnxfile.atomic import write_staged
from graphnn.onnxfile.serialize import save_onnx


def export_parts(parts: list, out_dir: str, source_dir: str, copied: tuple = (), **options: Any
                 ) -> tuple[list[ExportResult], list[str]]:
    """(one ExportResult per part, the files written). Nothing is written unless every part
    passes parity; ``options`` as ``graphnn.export`` takes them (opset, check, atol, ...)."""
    results = [export(part.model, part.examples, None, dynamic_dims=part.dynamic_dims, **options)
               for part in parts]
    if not all(result.ok for result in results):
        return results, []

    def produce(staged: str) -> list[str]:
        folder = os.path.dirname(staged)
        names = []
        for part, result in zip(parts, results):
            written = save_onnx(result.model_without_weights, os.path.join(folder, part.file), result.weights)
            names += [os.path.basename(f) for f in written]
        for name in copied:
            if os.path.isfile(os.path.join(source_dir, name)):
                shutil.copyfile(os.path.join(source_dir, name), os.path.join(folder, name))
                names.append(name)
        return names
    return results, write_staged(os.path.join(out_dir, parts[-1].file), produce)
