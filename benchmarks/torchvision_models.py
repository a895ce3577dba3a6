"""Benchmark: export torchvision classification models (random weights) with parity.

Run on demand; needs torchvision, which is not a graphnn dependency:
    pip install torch==2.14.1 torchvision==0.29.1 && pip install -e .
    python benchmarks/torchvision_models.py [--models resnet18,mobilenet_v2] [--size 224]

Prints, per model: export time (trace + passes + lower), ONNX node count, parity (max abs error
at batch 1 and 3) or graphnn's one-line error when the model is not supported yet.
"""
from __future__ import annotations

import argparse
import time

import torch

import graphnn
from graphnn.errors import GraphnnError

DEFAULT_MODELS = (
    "alexnet,vgg11,resnet18,resnet50,resnext50_32x4d,wide_resnet50_2,densenet121,squeezenet1_1,"
    "googlenet,inception_v3,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,shufflenet_v2_x1_0,"
    "mnasnet1_0,efficientnet_b0,efficientnet_v2_s,regnet_y_400mf,regnet_x_400mf,convnext_tiny,"
    "vit_b_16,swin_t,maxvit_t"
)


def build(name: str) -> torch.nn.Module:
    import torchvision

    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    return torchvision.models.get_model(name, weights=None, **kwargs).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{'model':22} {'export s':>8} {'nodes':>6}  parity / error")
    for name in args.models.split(","):
        size = 299 if name == "inception_v3" else args.size
        model = build(name)
        x = torch.randn(1, 3, size, size)
        start = time.perf_counter()
        try:
            result = graphnn.export(model, (x,), check=False)
            seconds = time.perf_counter() - start
            report = graphnn.check_parity(model, (x,), result.onnx_model, atol=1e-3, rtol=1e-3)
            verdict = f"{'ok' if report.ok else 'MISMATCH'} max abs {report.max_abs:.1e}"
            print(f"{name:22} {seconds:8.2f} {len(result.onnx_model.graph.node):6d}  {verdict}")
        except GraphnnError as exc:
            print(f"{name:22} {'-':>8} {'-':>6}  {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
