"""Benchmark: breadth. One model per timm architecture family (its smallest variant, random
weights, pretrained=False) and transformers model classes built from small configs, each
exported by graphnn and by the dynamo exporter (``torch.onnx.export(..., dynamo=True)``),
both checked against torch with onnxruntime.

Run on demand, in the README's benchmark venv (.venv-bench: torch 2.14.1, torchvision, graphnn
installed editable) with the newest timm and transformers added (`.venv-bench/bin/pip install timm
transformers`; neither is a graphnn dependency):
    .venv-bench/bin/python benchmarks/breadth.py [--timm convnext,davit] [--hf gpt2]
        [--limit N] [--seconds S]

Prints one row per model: graphnn's verdict (ok / MISMATCH / the one-line refusal /
TRACEBACK for anything else) and the dynamo exporter's, then the pass rates; the table
in docs/benchmarks.md comes from it.
"""
from __future__ import annotations

import argparse
import io
import time
import warnings
from typing import Callable, Optional

import numpy as np
import torch

import graphnn
from graphnn.errors import GraphnnError

TOLERANCE = 1e-3  # |onnx - torch| <= TOLERANCE * (1 + max|torch|), for both exporters alike


# ------------------------------------------------------------------ timm: one model per family
def smallest_timm_model(module: str) -> Optional[str]:
    """The variant of a timm family with the fewest parameters (counted on the meta device)."""
    import timm
    best = None
    for name in timm.list_models(module=module)[:40]:
        try:
            with torch.device("meta"):
                count = sum(p.numel() for p in timm.create_model(name, pretrained=False).parameters())
        except Exception:  # a variant that does not build here (an optional dependency)
            continue
        if best is None or count < best[0]:
            best = (count, name)
    return best[1] if best else None


def timm_case(module: str) -> Optional[tuple[str, Callable]]:
    name = smallest_timm_model(module)
    if name is None:
        return None

    def build():
        import timm
        model = timm.create_model(name, pretrained=False).eval()
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))
        return model, (torch.randn(1, *size),)
    return f"timm/{module}/{name}", build


# ------------------------------------------------------------------ transformers: small configs
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
             intermediate_size=64, vocab_size=100, max_position_embeddings=64, n_embd=32, n_layer=2,
             n_head=2, d_model=32, num_layers=2, num_heads=2, d_ff=64, d_kv=16, encoder_layers=2,
             decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
             decoder_ffn_dim=64, head_dim=16, image_size=32, patch_size=8)
HF = {  # name: (config class, model class, input kind)
    "bert": ("BertConfig", "BertModel", "ids"),
    "roberta": ("RobertaConfig", "RobertaModel", "ids"),
    "distilbert": ("DistilBertConfig", "DistilBertModel", "ids"),
    "electra": ("ElectraConfig", "ElectraModel", "ids"),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "ids"),
    "llama": ("LlamaConfig", "LlamaForCausalLM", "ids"),
    "mistral": ("MistralConfig", "MistralForCausalLM", "ids"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "ids"),
    "opt": ("OPTConfig", "OPTForCausalLM", "ids"),
    "t5_encoder": ("T5Config", "T5EncoderModel", "ids"),
    "vit": ("ViTConfig", "ViTForImageClassification", "pixels"),
    "deit": ("DeiTConfig", "DeiTModel", "pixels"),
}


def hf_case(name: str) -> tuple[str, Callable]:
    def build():
        import transformers
        config_name, model_name, kind = HF[name]
        config_class = getattr(transformers, config_name)
        known = config_class().to_dict()
        config = config_class(**{k: v for k, v in SMALL.items() if k in known})
        if name == "distilbert":
            config.dim, config.hidden_dim, config.n_layers, config.n_heads = 32, 64, 2, 2
        config.use_cache = False  # the cache classes as outputs are another engineer's item: both exporters alike
        model = getattr(transformers, model_name)(config).eval()
        if kind == "pixels":
            return model, {"pixel_values": torch.randn(2, 3, 32, 32)}
        return model, {"input_ids": torch.randint(0, 100, (2, 8))}
    return f"hf/{name}", build


# ------------------------------------------------------------------ the two exporters
def torch_outputs(model, inputs) -> list[np.ndarray]:
    with torch.no_grad():
        out = model(**inputs) if isinstance(inputs, dict) else model(*inputs)
    flat = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    return [t.detach().numpy() for t in flat]


def graphnn_verdict(model, inputs) -> str:
    try:
        result = graphnn.export(model, inputs, atol=TOLERANCE, rtol=TOLERANCE)
    except GraphnnError as exc:
        return f"refused: {str(exc)[:160]}"
    except Exception as exc:  # a graphnn bug: what the benchmark is for finding
        return f"TRACEBACK {type(exc).__name__}: {str(exc)[:140]}"
    return "ok" if result.ok else f"MISMATCH {result.report.summary()[:140]}"


def dynamo_verdict(model, inputs) -> str:
    import onnxruntime as ort
    args, kwargs = (inputs, None) if not isinstance(inputs, dict) else ((), inputs)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, args, kwargs=kwargs, dynamo=True, verbose=False)
        buffer = io.BytesIO()
        program.save(buffer)
        session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
        feeds = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
        names = [i.name for i in session.get_inputs()]
        got = session.run(None, {n: t.numpy() for n, t in zip(names, feeds)})
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140] if str(exc) else ''}"
    want = torch_outputs(model, inputs)
    for w, g in zip(want, got):
        if w.shape != g.shape or np.abs(w - g).max(initial=0) > TOLERANCE * (1 + np.abs(w).max(initial=0)):
            return "MISMATCH"
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm", default=None, help="comma-separated timm families (default: all)")
    parser.add_argument("--hf", default=",".join(HF), help="comma-separated transformers models")
    parser.add_argument("--limit", type=int, default=0, help="at most this many timm families")
    parser.add_argument("--no-dynamo", action="store_true")
    args = parser.parse_args()
    import timm
    modules = args.timm.split(",") if args.timm else timm.list_modules()
    modules = modules[:args.limit] if args.limit else modules
    cases = [case for case in map(timm_case, modules) if case]
    cases += [hf_case(name) for name in args.hf.split(",") if name]
    totals = {"graphnn": 0, "dynamo": 0}
    print(f"| model | graphnn | s | dynamo | s |\n|---|---|---|---|---|")
    for label, build in cases:
        torch.manual_seed(0)
        try:
            model, inputs = build()
        except Exception as exc:
            print(f"| {label} | (does not build: {type(exc).__name__}) | | | |", flush=True)
            continue
        start = time.perf_counter()
        ours = graphnn_verdict(model, inputs)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = "-" if args.no_dynamo else dynamo_verdict(model, inputs)
        theirs_s = time.perf_counter() - start
        totals["graphnn"] += ours == "ok"
        totals["dynamo"] += theirs == "ok"
        clean = lambda s: s.replace("|", "/").replace("\n", " ")  # noqa: E731
        print(f"| {label} | {clean(ours)} | {ours_s:.1f} | {clean(theirs)} | {theirs_s:.1f} |", flush=True)
    print(f"\npass rate over {len(cases)} models: graphnn {totals['graphnn']}/{len(cases)}, "
          f"dynamo {totals['dynamo']}/{len(cases)}")


if __name__ == "__main__":
    main()
