"""``--target ort-cpu``: graphnn's ``attention`` as onnxruntime's fused ``MultiHeadAttention``.

Each case exports at the target with parity on (two batch sizes, the default), asserts the
file holds the contrib op and no Softmax, and that onnxruntime's profile of a run on the CPU
provider lists the MultiHeadAttention kernel: the file runs the fused kernel, not a fallback.
Masks covered: none, bool key padding (B, 1, 1, S), an additive float mask, causal (also with
L != S, where torch's top-left tril differs from the kernel's own causal flag), grouped
key/value heads; then tiny BERT and Llama configs with padding, and Llama with its KV cache.
"""
import json
from collections import Counter

import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphnn
from graphnn.backend.onnx.targets import TARGETS
from tests.conftest import invoke


class SDPA(nn.Module):
    """Projections, heads split, F.scaled_dot_product_attention with one mask kind."""

    def __init__(self, mask: str = "none", heads: int = 4, kv_heads: int = 4, width: int = 32):
        super().__init__()
        self.mask, self.heads, self.kv_heads, self.size = mask, heads, kv_heads, width // heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * kv_heads * self.size)
        self.out = nn.Linear(width, width)

    def forward(self, x, memory, keep):
        b, length, _ = x.shape
        q = self.q(x).view(b, length, self.heads, self.size).transpose(1, 2)
        k, v = self.kv(memory).view(b, memory.shape[1], 2 * self.kv_heads, self.size).transpose(1, 2).chunk(2, dim=1)
        options = {
            "none": {},
            "padding": {"attn_mask": keep[:, None, None, :]},
            "float": {"attn_mask": torch.zeros(keep.shape).masked_fill(~keep, -1e4)[:, None, None, :]},
            "causal": {"is_causal": True},
            "gqa": {"enable_gqa": True, "attn_mask": keep[:, None, None, :]},
        }[self.mask]
        y = F.scaled_dot_product_attention(q, k, v, **options)
        return self.out(y.transpose(1, 2).reshape(b, length, -1))


def sdpa_inputs(length: int = 6, memory: int = 6):
    torch.manual_seed(0)
    keep = torch.ones(2, memory, dtype=torch.bool)
    keep[1, memory - 2:] = False
    return torch.randn(2, length, 32), torch.randn(2, memory, 32), keep


def export_fused(model, inputs, tmp_path, **options):
    """Export for ort-cpu with parity; the file's op counts."""
    path = str(tmp_path / "fused.onnx")
    result = graphnn.export(model.eval(), inputs, path, target="ort-cpu", **options)
    assert result.ok, result.report
    assert len({run.inputs[0].shape[0] for run in result.report.runs}) >= 2, "parity at one batch size only"
    return path, Counter(node.op_type for node in result.onnx_model.graph.node)


def profiled_ops(path: str, feeds: dict, tmp_path) -> Counter:
    """Kernels onnxruntime ran on the CPU provider, from its profile of one run."""
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "profile")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    return Counter(e["args"]["op_name"] for e in events
                   if e.get("cat") == "Node" and e["args"].get("provider") == "CPUExecutionProvider"
                   and e["name"].endswith("_kernel_time"))


@pytest.mark.parametrize("mask", ["none", "padding", "float", "causal", "gqa"])
def test_sdpa_becomes_multi_head_attention_with_parity(mask, tmp_path):
    model = SDPA(mask, kv_heads=2 if mask == "gqa" else 4)
    inputs = sdpa_inputs()
    path, ops = export_fused(model, inputs, tmp_path)
    assert ops["MultiHeadAttention"] == 1 and ops["Softmax"] == 0, dict(ops)
    feeds = dict(zip([i.name for i in onnx.load(path).graph.input], (t.numpy() for t in inputs)))
    assert profiled_ops(path, feeds, tmp_path)["MultiHeadAttention"] == 1


def test_causal_attention_over_a_longer_memory_is_torchs_top_left_tril(tmp_path):
    """L=4 queries over S=7 keys: torch's causal mask keeps key j <= i, not the last L+i keys."""
    model = SDPA("causal")
    _, ops = export_fused(model, sdpa_inputs(length=4, memory=7), tmp_path)
    assert ops["MultiHeadAttention"] == 1


def test_a_fully_masked_row_is_zero_as_torch_gives_it(tmp_path):
    model = SDPA("padding")
    x, memory, keep = sdpa_inputs()
    keep[0] = False  # every key of sample 0 masked
    with torch.no_grad():
        expected = model.eval()(x, memory, keep)
    assert torch.isfinite(expected).all()
    export_fused(model, (x, memory, keep), tmp_path)


def test_attention_weights_asked_for_fall_back_with_a_note(tmp_path):
    """nn.MultiheadAttention returning its weights: the kernel has no such output."""
    model = nn.MultiheadAttention(32, 4, batch_first=True)
    x = torch.randn(2, 5, 32)
    path = str(tmp_path / "weights.onnx")
    result = graphnn.export(model.eval(), (x, x, x), path, target="ort-cpu")
    assert result.ok, result.report
    ops = Counter(node.op_type for node in result.onnx_model.graph.node)
    assert ops["MultiHeadAttention"] == 0 and ops["Softmax"] == 1
    assert "does not return the attention weights" in result.onnx_model.doc_string


def test_the_default_target_holds_no_contrib_op_and_is_unchanged(tmp_path):
    model, inputs = SDPA("padding").eval(), sdpa_inputs()
    plain = graphnn.export(model, inputs, str(tmp_path / "plain.onnx"), check=False)
    onnx_target = graphnn.export(model, inputs, str(tmp_path / "onnx.onnx"), check=False, target="onnx")
    assert (tmp_path / "plain.onnx").read_bytes() == (tmp_path / "onnx.onnx").read_bytes()
    assert {op.domain for op in onnx_target.onnx_model.opset_import} == {""}
    assert Counter(n.op_type for n in plain.onnx_model.graph.node)["Softmax"] == 1


def test_ort_cuda_file_holds_the_fused_op(tmp_path):
    """Written unchecked here (a CUDA provider may be absent): the structure only."""
    result = graphnn.export(SDPA("causal").eval(), sdpa_inputs(), str(tmp_path / "cuda.onnx"), check=False,
                            target="ort-cuda")
    ops = Counter(node.op_type for node in result.onnx_model.graph.node)
    assert ops["MultiHeadAttention"] == 1
    assert ("com.microsoft", 1) in {(op.domain, op.version) for op in result.onnx_model.opset_import}


def test_every_cpu_kernel_of_the_target_table_is_one_onnxruntime_has():
    assert TARGETS["ort-cpu"].provider in ort.get_available_providers()
    assert {op for op, _ in TARGETS["ort-cpu"].kernels} == {"MultiHeadAttention"}  # each is run above


transformers = pytest.importorskip("transformers")


def padded_text(length: int = 8, left: bool = False):
    torch.manual_seed(0)
    mask = torch.ones(2, length, dtype=torch.long)
    if left:
        mask[1, :3] = 0
    else:
        mask[1, length - 3:] = 0
    return {"input_ids": torch.randint(0, 100, (2, length)), "attention_mask": mask}


@pytest.mark.slow
def test_tiny_bert_with_padding(tmp_path):
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64)
    inputs = padded_text()
    path, ops = export_fused(transformers.BertModel(config), inputs, tmp_path)
    assert ops["MultiHeadAttention"] == 2 and ops["Softmax"] == 0, dict(ops)
    feeds = {name: t.numpy() for name, t in inputs.items()}
    feeds["token_type_ids"] = feeds["input_ids"] * 0
    names = {i.name for i in onnx.load(path).graph.input}
    assert profiled_ops(path, {k: v for k, v in feeds.items() if k in names}, tmp_path)["MultiHeadAttention"] == 2


def tiny_llama():
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64))


@pytest.mark.slow
@pytest.mark.parametrize("left", [False, True], ids=["right_padded", "left_padded"])
def test_tiny_llama_gqa_causal_with_padding(left, tmp_path):
    _, ops = export_fused(tiny_llama(), padded_text(left=left), tmp_path)
    assert ops["MultiHeadAttention"] == 2 and ops["Softmax"] == 0, dict(ops)


@pytest.mark.slow
def test_tiny_llama_with_past_key_values(tmp_path):
    """One decoding step: 3 new tokens over a 5-token cache; present.* come out with parity."""
    torch.manual_seed(0)
    past = transformers.DynamicCache(ddp_cache_data=[(torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8))
                                                     for _ in range(2)])
    inputs = {"input_ids": torch.randint(0, 100, (2, 3)), "attention_mask": torch.ones(2, 8, dtype=torch.long),
              "past_key_values": past}
    path, ops = export_fused(tiny_llama(), inputs, tmp_path)
    assert ops["MultiHeadAttention"] == 2 and ops["Softmax"] == 0, dict(ops)
    assert "present.1.value" in {o.name for o in onnx.load(path).graph.output}


def test_cli_export_and_check_at_the_target(tmp_path):
    model_py = tmp_path / "attn.py"
    model_py.write_text(
        "import torch\nfrom tests.test_fused_attention import SDPA, sdpa_inputs\n"
        "model = SDPA('causal')\nexample_inputs = sdpa_inputs()\n")
    out = tmp_path / "attn.onnx"
    result = invoke(["export", str(model_py), str(out), "--target", "ort-cpu"])
    assert result.exit_code == 0, result.output
    assert Counter(n.op_type for n in onnx.load(str(out)).graph.node)["MultiHeadAttention"] == 1
    checked = invoke(["check", str(model_py), "--target", "ort-cpu"])
    assert checked.exit_code == 0 and "parity ok" in checked.output, checked.output
    bad = invoke(["export", str(model_py), str(tmp_path / "x.onnx"), "--target", "tensorrt"])
    assert bad.exit_code == 2 and not (tmp_path / "x.onnx").exists()


def test_a_dtype_without_the_providers_kernel_falls_back_with_a_note(tmp_path):
    """float16 MultiHeadAttention is a CUDA kernel only in the target table: ort-cpu keeps Softmax."""
    model = SDPA("causal").half().eval()
    x, memory, keep = sdpa_inputs()
    result = graphnn.export(model, (x.half(), memory.half(), keep), str(tmp_path / "half.onnx"), check=False,
                            target="ort-cpu")
    ops = Counter(node.op_type for node in result.onnx_model.graph.node)
    assert ops["MultiHeadAttention"] == 0 and ops["Softmax"] == 1
    assert "ort-cpu has no float16 MultiHeadAttention kernel" in result.onnx_model.doc_string
    cuda = graphnn.export(model, (x.half(), memory.half(), keep), str(tmp_path / "cuda.onnx"), check=False,
                          target="ort-cuda")
    assert Counter(node.op_type for node in cuda.onnx_model.graph.node)["MultiHeadAttention"] == 1
