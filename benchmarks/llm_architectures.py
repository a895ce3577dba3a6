"""Benchmark: decoder-only architectures as checkpoint folders. Each architecture is built from a
tiny config (hidden 32, 2 layers, 4 heads sharing 2 key/value heads where it has the option,
vocabulary 100, random weights), written with save_pretrained, then checked as a user checks it:
``graphnn check DIR --task text-generation`` and ``--task text-generation-with-past``, each in
its own process. Prints one Markdown row per architecture (exit codes and seconds) and the
transformers version, so a run in a venv with the newest release (bash .ci/newest_transformers
makes one) shows what that release breaks.

    python benchmarks/llm_architectures.py [--quick] [--archs mistral,bloom]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import torch

SMALL = dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
ARCHS = {  # name: (config class, its own settings beside SMALL)
    "llama": ("LlamaConfig", {}), "mistral": ("MistralConfig", {"sliding_window": 4}),
    "qwen2": ("Qwen2Config", {}), "qwen3": ("Qwen3Config", {"head_dim": 8}),
    "phi3": ("Phi3Config", {"partial_rotary_factor": 0.5}), "phi": ("PhiConfig", {}),
    "gemma": ("GemmaConfig", {"head_dim": 16}), "gemma2": ("Gemma2Config", {"head_dim": 8, "sliding_window": 4}),
    "gemma3": ("Gemma3TextConfig", {"head_dim": 8, "sliding_window": 4}),
    "opt": ("OPTConfig", {"ffn_dim": 64, "word_embed_proj_dim": 32, "pad_token_id": 1, "bos_token_id": 2}),
    "bloom": ("BloomConfig", {"n_layer": 2, "n_head": 4}), "falcon": ("FalconConfig", {}),
    "gpt2": ("GPT2Config", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}),
    "gptj": ("GPTJConfig", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "rotary_dim": 4}),
    "gpt_neox": ("GPTNeoXConfig", {}), "stablelm": ("StableLmConfig", {}), "olmo2": ("Olmo2Config", {}),
    "smollm3": ("SmolLM3Config", {}), "granite": ("GraniteConfig", {}), "cohere": ("CohereConfig", {}),
    "starcoder2": ("Starcoder2Config", {"sliding_window": 4}),
}
QUICK = ("mistral", "opt", "bloom")
TASKS = ("text-generation", "text-generation-with-past")


def write_folder(name: str, root: str) -> str:
    import transformers
    config_name, own = ARCHS[name]
    config_class = getattr(transformers, config_name)
    known = config_class().to_dict()
    config = config_class(**{k: v for k, v in {**SMALL, **own}.items() if k in known or k in own})
    torch.manual_seed(0)
    path = f"{root}/{name}"
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    return path


def check(path: str, task: str) -> tuple[str, float]:
    """(``ok`` / ``exit N: last line``, seconds) of ``graphnn check path --task task``."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "graphnn", "check", path, "--task", task],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode == 0:
        return "ok", seconds
    last = (run.stderr.strip().splitlines() or run.stdout.strip().splitlines() or ["?"])[-1]
    return f"exit {run.returncode}: {last[:120]}".replace("|", "/"), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated names (default: all)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    args = parser.parse_args()
    import transformers
    transformers.utils.logging.disable_progress_bar()
    names = QUICK if args.quick else [n for n in args.archs.split(",") if n]
    print(f"transformers {transformers.__version__}, torch {torch.__version__}\n")
    print("| architecture | " + " | ".join(f"{task} | s" for task in TASKS) + " |")
    print("|---|" + "---|---|" * len(TASKS))
    passed = 0
    with tempfile.TemporaryDirectory() as root:
        for name in names:
            try:
                path = write_folder(name, root)
            except Exception as exc:  # a class this transformers lacks, a config it refuses
                print(f"| {name} | (does not build: {type(exc).__name__}) |" + " |" * (2 * len(TASKS) - 1))
                continue
            cells = [check(path, task) for task in TASKS]
            passed += all(verdict == "ok" for verdict, _ in cells)
            print(f"| {name} | " + " | ".join(f"{v} | {s:.1f}" for v, s in cells) + " |", flush=True)
    print(f"\n{passed}/{len(names)} architectures pass both tasks")


if __name__ == "__main__":
    main()
