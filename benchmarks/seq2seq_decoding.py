"""Greedy decoding tokens/s of a text2text-generation-with-past folder (graphnn's encoder +
decoder files in onnxruntime, ``generate_seq2seq``) against the torch model's
``generate(do_sample=False)`` in eager mode, batch 1, on CPU, at a short and a long encoder
input: both cache the cross-attention keys and values (graphnn's encoder file computes them
once, ``graphnn/hf/seq2seq.py``), so a long input costs only the attention over it.

    python benchmarks/seq2seq_decoding.py            # T5-small's shape (random weights)
    python benchmarks/seq2seq_decoding.py --quick    # a tiny T5, seconds

Record ``uptime`` beside the numbers: the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch
import transformers

from graphnn.checking.runtime import create_runtime
from graphnn.hf.folder_export import export_parts
from graphnn.hf.seq2seq import COPIED_FILES, ENCODER_FILE, generate_seq2seq
from graphnn.hf.seq2seq_parts import parts

SMALL = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8)  # t5-small
TINY = dict(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny T5 and fewer repeats")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens per generation")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = transformers.T5Config(**(TINY if args.quick else SMALL), decoder_start_token_id=0, pad_token_id=0,
                                   eos_token_id=None)  # no eos: every run makes --tokens tokens
    model = transformers.T5ForConditionalGeneration(config).eval()
    with tempfile.TemporaryDirectory() as root:
        model.save_pretrained(os.path.join(root, "src"))
        began = time.perf_counter()
        results, _ = export_parts(parts(model), os.path.join(root, "onnx"), os.path.join(root, "src"), COPIED_FILES)
        print(f"export of both files (with parity): {time.perf_counter() - began:.1f} s; "
              f"parity {'ok' if all(r.ok for r in results) else 'FAILED'}")
        print("| encoder tokens | graphnn tokens/s | of which the encoder file's run (ms) | torch eager tokens/s "
              "| same tokens |\n|---|---|---|---|---|")
        for length in (16, 512):
            print(_row(model, os.path.join(root, "onnx"), length, args.tokens, repeats=2 if args.quick else 5))


def _row(model, folder: str, length: int, new_tokens: int, repeats: int) -> str:
    ids = torch.randint(2, model.config.vocab_size, (1, length), generator=torch.Generator().manual_seed(length))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    ours, theirs = [], []
    for _ in range(repeats):  # interleaved, medians
        tokens, seconds = generate_seq2seq(folder, {k: v.numpy() for k, v in inputs.items()}, new_tokens)
        ours.append(tokens.shape[1] / seconds)
        began = time.perf_counter()
        with torch.no_grad():
            expected = model.generate(**inputs, do_sample=False, max_new_tokens=new_tokens)[:, 1:].numpy()
        theirs.append(expected.shape[1] / (time.perf_counter() - began))
    same = "yes" if np.array_equal(tokens, expected) else "NO"
    return (f"| {length} | {statistics.median(ours):.0f} | {_encoder_ms(folder, inputs, repeats):.0f} | "
            f"{statistics.median(theirs):.0f} | {same} |")


def _encoder_ms(folder: str, inputs: dict, repeats: int) -> float:
    """The encoder file's run alone (median): the part of the decoding time no step repeats."""
    encoder = create_runtime(os.path.join(folder, ENCODER_FILE), "cpu")
    feeds = {k: v.numpy() for k, v in inputs.items()}
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        encoder.run(feeds)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    main()
