"""Benchmark: breadth. One model per timm architecture family (its smallest variant, random
weights, pretrained=False) and transformers model classes built from small configs, each
exported by graphnn and by the dynamo exporter (``torch.onnx.export(..., dynamo=True)``),
both checked against torch with onnxruntime.

Run on demand, in the benchmark venv (torch 2.14.1, torchvision, timm, transformers; neither timm
nor transformers is a graphnn dependency), with graphnn from the checkout:
    PYTHONPATH=. /work/venv-bench/bin/python benchmarks/breadth.py [--timm convnext,davit]
        [--hf gpt2] [--limit N] [--timeout S] [--results FILE] [--no-dynamo] [--quick] [--table]

Every (model, exporter) pair runs in its own process with a timeout, so a crash, a hang or a
memory blow-up costs one row, and its verdict is saved in the results JSON as soon as it is
known: a rerun resumes where the last one stopped (delete the file, or pass --fresh, to start
over). graphnn runs first over all models, then the dynamo exporter.

Prints one row per model: graphnn's verdict (ok / MISMATCH / the one-line refusal /
TRACEBACK for anything else / TIMEOUT) and the dynamo exporter's, then the pass rates; the table
in docs/benchmarks.md comes from it.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

TOLERANCE = 1e-3  # |onnx - torch| <= TOLERANCE * (1 + max|torch|), for both exporters alike
QUICK = ["convnext", "vision_transformer", "resnet", "swin_transformer"]


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


def timm_build(name: str) -> Callable:
    def build():
        import timm
        model = timm.create_model(name, pretrained=False).eval()
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))
        return model, (torch.randn(1, *size),)
    return build


# ------------------------------------------------------------------ transformers: small configs
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
             intermediate_size=64, vocab_size=100, max_position_embeddings=64, n_embd=32, n_layer=2,
             n_head=2, d_model=32, num_layers=2, num_heads=2, d_ff=64, d_kv=16, encoder_layers=2,
             decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
             decoder_ffn_dim=64, head_dim=16, image_size=32, patch_size=8, embedding_size=32,
             hidden_sizes=[16, 32], depths=[1, 1], num_channels=3, embed_dim=16)
HF = {  # name: (config class, model class, input kind)
    "bert": ("BertConfig", "BertModel", "ids"),
    "roberta": ("RobertaConfig", "RobertaModel", "ids"),
    "distilbert": ("DistilBertConfig", "DistilBertModel", "ids"),
    "electra": ("ElectraConfig", "ElectraModel", "ids"),
    "albert": ("AlbertConfig", "AlbertModel", "ids"),
    "deberta_v2": ("DebertaV2Config", "DebertaV2Model", "ids"),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "ids"),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", "ids"),
    "llama": ("LlamaConfig", "LlamaForCausalLM", "ids"),
    "mistral": ("MistralConfig", "MistralForCausalLM", "ids"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "ids"),
    "phi": ("PhiConfig", "PhiForCausalLM", "ids"),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", "ids"),
    "opt": ("OPTConfig", "OPTForCausalLM", "ids"),
    "bloom": ("BloomConfig", "BloomForCausalLM", "ids"),
    "t5_encoder": ("T5Config", "T5EncoderModel", "ids"),
    "vit": ("ViTConfig", "ViTForImageClassification", "pixels"),
    "deit": ("DeiTConfig", "DeiTModel", "pixels"),
    "beit": ("BeitConfig", "BeitModel", "pixels"),
    "convnext": ("ConvNextConfig", "ConvNextModel", "pixels"),
    "resnet": ("ResNetConfig", "ResNetModel", "pixels"),
    # the long tail: what people ship, and the newest decoder architectures
    "modernbert": ("ModernBertConfig", "ModernBertModel", "ids"),
    "xlm_roberta": ("XLMRobertaConfig", "XLMRobertaModel", "ids"),
    "mpnet": ("MPNetConfig", "MPNetModel", "ids"),
    "funnel": ("FunnelConfig", "FunnelModel", "ids"),
    "mobilebert": ("MobileBertConfig", "MobileBertModel", "ids"),
    "squeezebert": ("SqueezeBertConfig", "SqueezeBertModel", "ids"),
    "longformer": ("LongformerConfig", "LongformerModel", "ids"),
    "big_bird": ("BigBirdConfig", "BigBirdModel", "ids"),
    "clip_text": ("CLIPTextConfig", "CLIPTextModel", "ids"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", "ids"),
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM", "ids"),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", "ids"),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", "ids"),
    "gemma3_text": ("Gemma3TextConfig", "Gemma3ForCausalLM", "ids"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", "ids"),
    "starcoder2": ("Starcoder2Config", "Starcoder2ForCausalLM", "ids"),
    "falcon": ("FalconConfig", "FalconForCausalLM", "ids"),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", "ids"),
    "gpt_bigcode": ("GPTBigCodeConfig", "GPTBigCodeForCausalLM", "ids"),
    "codegen": ("CodeGenConfig", "CodeGenForCausalLM", "ids"),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", "ids"),
    "granite": ("GraniteConfig", "GraniteForCausalLM", "ids"),
    "mamba": ("MambaConfig", "MambaForCausalLM", "ids"),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "ids"),
    "olmoe": ("OlmoeConfig", "OlmoeForCausalLM", "ids"),
    "deepseek_v3": ("DeepseekV3Config", "DeepseekV3ForCausalLM", "ids"),
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM", "ids"),
    "cohere2": ("Cohere2Config", "Cohere2ForCausalLM", "ids"),
    "glm4": ("Glm4Config", "Glm4ForCausalLM", "ids"),
    "bart": ("BartConfig", "BartModel", "ids"),
    "mbart": ("MBartConfig", "MBartModel", "ids"),
    "pegasus": ("PegasusConfig", "PegasusModel", "ids+decoder"),
    "clip_vision": ("CLIPVisionConfig", "CLIPVisionModel", "pixels"),
    "siglip_vision": ("SiglipVisionConfig", "SiglipVisionModel", "pixels"),
    "dinov2": ("Dinov2Config", "Dinov2Model", "pixels"),
    "swin": ("SwinConfig", "SwinModel", "pixels"),
    "swinv2": ("Swinv2Config", "Swinv2Model", "pixels"),
    "segformer": ("SegformerConfig", "SegformerModel", "pixels"),
    "mobilevit": ("MobileViTConfig", "MobileViTModel", "pixels"),
    "convnextv2": ("ConvNextV2Config", "ConvNextV2Model", "pixels"),
    "efficientnet": ("EfficientNetConfig", "EfficientNetModel", "pixels"),
    "regnet": ("RegNetConfig", "RegNetModel", "pixels"),
    "yolos": ("YolosConfig", "YolosModel", "pixels"),
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model", "waveform"),
    "hubert": ("HubertConfig", "HubertModel", "waveform"),
    "wavlm": ("WavLMConfig", "WavLMModel", "waveform"),
    "whisper_encoder": ("WhisperConfig", "WhisperForAudioClassification", "mel"),
}
STAGES4 = dict(depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32], patch_size=4)  # convnext: four stages, 32 -> 1
AUDIO_CONV = dict(conv_dim=[16, 16], conv_stride=[5, 2], conv_kernel=[10, 3], num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=2, num_feat_extract_layers=2)
TOKENS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)  # within vocab_size
MOE = dict(num_experts=4, num_local_experts=4, num_experts_per_tok=2, moe_intermediate_size=32)
CONFIG = {  # name: what a class needs beyond SMALL (its own field names, or a shape SMALL does not fit)
    "distilbert": dict(dim=32, hidden_dim=64, n_layers=2, n_heads=2),
    "convnext": STAGES4,
    "convnextv2": STAGES4,
    "modernbert": TOKENS, "phi3": TOKENS, "smollm3": TOKENS, "glm4": TOKENS,
    "mobilebert": dict(embedding_size=16, intra_bottleneck_size=32, true_hidden_size=32, num_feedforward_networks=1),
    "funnel": dict(block_sizes=[1, 1], d_head=16, d_inner=64, n_head=2),
    "longformer": dict(attention_window=[4, 4]),
    "big_bird": dict(attention_type="original_full"),
    "qwen3_moe": MOE, "mixtral": MOE, "olmoe": MOE,
    "qwen2_moe": dict(MOE, shared_expert_intermediate_size=32),
    "deepseek_v3": dict(MOE, n_routed_experts=4, n_shared_experts=1, n_group=2, topk_group=1,
                        first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=16, qk_rope_head_dim=8,
                        qk_nope_head_dim=8, v_head_dim=16, head_dim=8),  # head_dim: the rope part
    "cohere2": dict(sliding_window=4),
    "gemma2": dict(sliding_window=4), "gemma3_text": dict(sliding_window=4),
    "gptj": dict(rotary_dim=8), "codegen": dict(rotary_dim=8, n_ctx=64),
    "mamba": dict(state_size=4, expand=2, conv_kernel=4, time_step_rank=4),
    "pegasus": dict(max_position_embeddings=64),
    "swin": dict(depths=[1, 1], num_heads=[2, 2], window_size=4, patch_size=4),
    "swinv2": dict(depths=[1, 1], num_heads=[2, 2], window_size=4, patch_size=4),
    "segformer": dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                      patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2]),
    "mobilevit": dict(hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 48], image_size=64),
    "efficientnet": dict(image_size=32, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320),  # round_filters(1280) at 0.25
    "regnet": dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8),
    "yolos": dict(num_detection_tokens=4, image_size=[32, 32]),
    "wav2vec2": AUDIO_CONV, "hubert": AUDIO_CONV, "wavlm": dict(AUDIO_CONV, num_buckets=16, max_bucket_distance=32),
    "whisper_encoder": dict(num_mel_bins=16, max_source_positions=16, d_model=32, encoder_layers=2),
}


def hf_inputs(kind: str, config) -> dict:
    """The example input of one input kind, sized from the built config."""
    image = config.image_size if isinstance(getattr(config, "image_size", None), int) else 32
    return {
        "ids": lambda: {"input_ids": torch.randint(0, 100, (2, 8))},
        "ids+decoder": lambda: {"input_ids": torch.randint(0, 100, (2, 8)),
                                "decoder_input_ids": torch.randint(0, 100, (2, 8))},
        "pixels": lambda: {"pixel_values": torch.randn(2, 3, image, image)},
        "waveform": lambda: {"input_values": torch.randn(2, 1600)},
        "mel": lambda: {"input_features": torch.randn(2, config.num_mel_bins, 2 * config.max_source_positions)},
    }[kind]()


def hf_build(name: str) -> Callable:
    def build():
        import transformers
        config_name, model_name, kind = HF[name]
        config_class = getattr(transformers, config_name)
        known = config_class().to_dict()
        config = config_class(**{k: v for k, v in {**SMALL, **CONFIG.get(name, {})}.items() if k in known})
        config.use_cache = False  # the cache classes as outputs are another engineer's item: both exporters alike
        model = getattr(transformers, model_name)(config).eval()
        return model, hf_inputs(kind, config)
    return build


# ------------------------------------------------------------------ the two exporters
def torch_outputs(model, inputs) -> list[np.ndarray]:
    with torch.no_grad():
        out = model(**inputs) if isinstance(inputs, dict) else model(*inputs)
    flat = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    return [t.detach().numpy() for t in flat]


def graphnn_verdict(model, inputs) -> str:
    import graphnn
    from graphnn.errors import GraphnnError
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


VERDICTS = {"graphnn": graphnn_verdict, "dynamo": dynamo_verdict}


# ------------------------------------------------------------------ one pair, in a child process
def run_one(label: str, exporter: str) -> dict:
    """Builds one model and runs one exporter on it; what the child prints as JSON."""
    kind, _, rest = label.partition("/")
    if kind == "timm":
        family, _, name = rest.partition("/")
        name = name or smallest_timm_model(family)
        if name is None:
            return {"name": None, "verdict": "(no variant builds)", "seconds": 0.0}
        build = timm_build(name)
    else:
        name, build = rest, hf_build(rest)
    torch.manual_seed(0)
    try:
        model, inputs = build()
    except Exception as exc:
        return {"name": name, "verdict": f"(does not build: {type(exc).__name__})", "seconds": 0.0}
    start = time.perf_counter()
    verdict = VERDICTS[exporter](model, inputs)
    return {"name": name, "verdict": verdict, "seconds": round(time.perf_counter() - start, 1)}


def in_child(label: str, exporter: str, timeout: float) -> dict:
    command = [sys.executable, __file__, "--one", label, "--exporter", exporter]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"verdict": f"TIMEOUT after {timeout:.0f} s", "seconds": timeout}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"verdict": f"CRASH (exit {done.returncode}): {tail[:140]}", "seconds": 0.0}


# ------------------------------------------------------------------ the table
def row_label(label: str, record: dict) -> str:
    name = record.get("name")
    return f"{label}/{name}" if label.startswith("timm/") and name else label


def print_table(labels: list[str], results: dict) -> None:
    clean = lambda s: str(s).replace("|", "/").replace("\n", " ")  # noqa: E731
    totals = {"graphnn": 0, "dynamo": 0}
    print("| model | graphnn | s | dynamo | s |\n|---|---|---|---|---|")
    for label in labels:
        ours, theirs = results.get(label, {}).get("graphnn", {}), results.get(label, {}).get("dynamo", {})
        for exporter, record in (("graphnn", ours), ("dynamo", theirs)):
            totals[exporter] += record.get("verdict") == "ok"
        print(f"| {row_label(label, ours or theirs)} | {clean(ours.get('verdict', '-'))} | "
              f"{ours.get('seconds', '')} | {clean(theirs.get('verdict', '-'))} | {theirs.get('seconds', '')} |")
    print(f"\npass rate over {len(labels)} models: graphnn {totals['graphnn']}/{len(labels)}, "
          f"dynamo {totals['dynamo']}/{len(labels)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm", default=None, help="comma-separated timm families (default: all)")
    parser.add_argument("--hf", default=",".join(HF), help="comma-separated transformers models")
    parser.add_argument("--limit", type=int, default=0, help="at most this many timm families")
    parser.add_argument("--quick", action="store_true", help=f"only timm {','.join(QUICK)} and hf bert")
    parser.add_argument("--no-dynamo", action="store_true")
    parser.add_argument("--only", choices=list(VERDICTS), help="run one exporter (e.g. both at once, "
                        "each with its own --results, merged with --merge)")
    parser.add_argument("--merge", action="append", default=[], help="more results files to read in")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per model and exporter")
    parser.add_argument("--results", default=str(Path(__file__).with_name("breadth-results.json")),
                        help="the resumable results file (default: benchmarks/breadth-results.json, committed)")
    parser.add_argument("--fresh", action="store_true", help="ignore saved results")
    parser.add_argument("--table", action="store_true", help="only print the table from the results")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--exporter", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.exporter)), flush=True)
        return
    import timm
    if args.quick:
        args.timm, args.hf = ",".join(QUICK), "bert"
    modules = timm.list_modules() if args.timm is None else [m for m in args.timm.split(",") if m]
    modules = modules[:args.limit] if args.limit else modules
    labels = [f"timm/{m}" for m in modules] + [f"hf/{n}" for n in args.hf.split(",") if n]
    path = Path(args.results)
    results = {} if args.fresh or not path.exists() else json.loads(path.read_text())
    for extra in args.merge:
        for label, records in json.loads(Path(extra).read_text()).items():
            results.setdefault(label, {}).update(records)
    exporters = ["graphnn"] + ([] if args.no_dynamo else ["dynamo"])
    exporters = [] if args.table else [args.only] if args.only else exporters
    for exporter in exporters:
        for label in labels:
            if exporter in results.get(label, {}):
                continue
            record = in_child(row_label(label, results.get(label, {}).get("graphnn", {})), exporter, args.timeout)
            results.setdefault(label, {})[exporter] = record
            path.write_text(json.dumps(results, indent=1))
            print(f"{exporter} {row_label(label, record)}: {record['verdict']} ({record['seconds']} s)",
                  file=sys.stderr, flush=True)
    print_table(labels, results)


if __name__ == "__main__":
    main()
