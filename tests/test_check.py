"""`graphnn check` as the CI command: files exported elsewhere (--onnx), several random draws
(--runs/--seed), chosen sizes (--batch-sizes/--sizes), folders of models with one line each,
--json; the parity report's detail; and the CUDA path's provider selection and tolerances,
tested without a GPU."""
import json
import os
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.checking import parity
from graphnn.backend.onnx import registry
from graphnn.errors import InputSpecError
from graphnn.inputs import model_inputs
from graphnn.loader import load_model_file
from graphnn.ops import opdef
from graphnn.checking.runtime import CPU, CUDA
from tests.conftest import ROOT, invoke

FIXTURES = os.path.join(ROOT, "fixtures")
CONV_BN = os.path.join(FIXTURES, "conv_bn_relu.py")  # seeded: every import builds the same weights
MLP = os.path.join(FIXTURES, "mlp_sequential.py")


def check(*args):
    return invoke(["check", *map(str, args)])


def torch_onnx_export(model, inputs, path, dynamic_batch=True):
    """A file from another exporter: torch.onnx's TorchScript exporter (a baseline, never graphnn's path)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), inputs, str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}} if dynamic_batch else None)


@pytest.fixture(scope="module")
def conv_bn_files(tmp_path_factory):
    """conv_bn_relu exported by torch.onnx.export, and the same architecture with other weights."""
    folder = tmp_path_factory.mktemp("onnx")
    loaded = load_model_file(CONV_BN)
    inputs = loaded.example_inputs
    torch_onnx_export(loaded.model, inputs, folder / "same.onnx")
    torch.manual_seed(1)
    for p in loaded.model.parameters():
        p.data.normal_()
    torch_onnx_export(loaded.model, inputs, folder / "other.onnx", dynamic_batch=False)
    return folder


def test_onnx_from_torch_onnx_export_passes(conv_bn_files):
    result = check(CONV_BN, "--onnx", conv_bn_files / "same.onnx")
    assert result.exit_code == 0, result.output
    assert "batch 1:" in result.output and "batch 3:" in result.output and "parity ok on cpu" in result.output


def test_onnx_of_another_model_fails_with_the_report(conv_bn_files):
    result = check(CONV_BN, "--onnx", conv_bn_files / "other.onnx")
    assert result.exit_code == 1
    assert "static shapes: 24 [1x10] max abs" in result.output  # the file's own output name
    assert "100% of elements out of tolerance ... MISMATCH" in result.output
    assert "not looked for in a given ONNX file" in result.output and "parity FAILED on cpu" in result.output


def test_onnx_whose_inputs_do_not_fit_the_model(conv_bn_files):
    result = check(os.path.join(FIXTURES, "simple_cnn.py"), "--onnx", conv_bn_files / "same.onnx")
    assert result.exit_code == 1
    assert ("the ONNX file's input 'x' is ?x3x32x32:float32, the model's 'x' example is 1x3x28x28:float32: "
            "is it this model's file?") in result.output
    assert "nothing compared" in result.output and "Traceback" not in result.output


def test_onnx_file_errors_are_one_line(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    for path, message in ((tmp_path / "missing.onnx", "does not exist"),
                          (tmp_path / "junk.onnx", "is not a readable ONNX model")):
        result = check(MLP, "--onnx", path)
        assert result.exit_code == 2 and message in result.output, result.output
    result = check(MLP, CONV_BN, "--onnx", tmp_path / "junk.onnx")
    assert result.exit_code == 2 and "--onnx goes with one MODEL_PY; 2 model files given" in result.output


def test_runs_seed_and_batch_sizes_in_json():
    result = check(MLP, "--runs", "2", "--seed", "3", "--batch-sizes", "1,4,16", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["summary"] == {"ok": 1, "failed": 0, "error": 0}
    (model,) = doc["models"]
    assert model["status"] == "ok" and model["model"] == "model"
    runs = model["report"]["runs"]
    assert [(r["sizes"]["batch"], r["draw"]) for r in runs] == [  # the example's batch is 1
        (1, 0), (1, 1), (4, 0), (4, 1), (16, 0), (16, 1)]
    output = runs[-1]["outputs"][0]
    assert output["shape"][0] == 16 and output["max_abs"] < 1e-4 and output["out_of_tolerance"] == 0.0


def test_seed_changes_the_random_inputs_and_the_example_stays():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    x = torch.randn(2, 4)

    def fed(seed):
        return [run.inputs[0] for run in graphnn.check_parity(model, (x,), runs=2, seed=seed).runs]

    first, again, other = fed(0), fed(0), fed(1)
    assert torch.equal(first[0], x) and torch.equal(other[0], x)  # draw 0 at the example's sizes
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])


def test_sizes_of_other_dynamic_dims():
    model = nn.GRU(3, 4, batch_first=True)
    report = graphnn.check_parity(model, (torch.randn(2, 5, 3),), dynamic_dims=[{0: "batch", 1: "seq"}],
                                  sizes={"seq": [1, 9, 20]})
    assert report.ok
    assert [run.sizes for run in report.runs] == [{"batch": 2, "seq": 5}, {"batch": 1, "seq": 1},
                                                  {"batch": 3, "seq": 9}, {"batch": 1, "seq": 20}]


def test_size_plans_with_listed_sizes():
    assert parity.size_plans({"batch": 2}, {"batch": [1, 4, 16]}) == [{"batch": 2}, {"batch": 1}, {"batch": 4},
                                                                       {"batch": 16}]
    assert parity.size_plans({"batch": 1}, {"batch": [1, 8]}) == [{"batch": 1}, {"batch": 8}]
    with pytest.raises(InputSpecError, match="sizes of 'seq' asked for, but it is not a dynamic dim.*"
                                             r"\(dynamic dims: batch\)"):
        parity.size_plans({"batch": 2}, {"seq": [4]})


@pytest.mark.parametrize("args, message", [
    (["--batch-sizes", "1,x"], "bad sizes 'batch=1,x'"),
    (["--batch-sizes", "0,2"], "bad sizes 'batch=0,2'"),
    (["--sizes", "seq"], "bad sizes 'seq'"),
    (["--sizes", "seq=4"], "sizes of 'seq' asked for, but it is not a dynamic dim"),
    (["--static", "--batch-sizes", "4"], "(dynamic dims: none, every input dim is fixed)"),
])
def test_bad_sizes_are_one_line_user_errors(args, message):
    result = check(MLP, *args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: ") and message in result.output


def test_random_masks_get_padding_and_ids_stay_in_range():
    class Masked(nn.Module):
        def forward(self, ids, attention_mask):
            return ids * attention_mask

    ids = torch.randint(3, 7, (2, 12))
    inputs = model_inputs(Masked(), {"ids": ids, "attention_mask": torch.ones(2, 12, dtype=torch.long)},
                          dynamic_dims={"ids": {0: "batch"}, "attention_mask": {0: "batch"}})
    generator = torch.Generator().manual_seed(0)
    ids_drawn, mask = parity.draw_inputs(inputs, {"batch": 64}, 1, generator)
    assert ids_drawn.min() >= 3 and ids_drawn.max() <= 6
    assert mask.shape == (64, 12) and mask.dtype == torch.long
    assert (mask[:, 0] == 1).all() and (mask == 0).any()  # never an empty row; some padding
    assert (mask[:, 1:] <= mask[:, :-1]).all()  # ones, then zeros: a padded batch
    assert parity.draw_inputs(inputs, {"batch": 2}, 0, generator)[1] is inputs.tensors[1]  # the example itself


def test_compare_reports_share_out_of_tolerance_and_worst_index():
    expected = np.zeros((2, 3, 4), dtype=np.float32)
    expected[0, 0, 0] = 10.0
    actual = expected.copy()
    actual[1, 2, 3] += 0.5
    actual[0, 1, 2] += 0.1
    out = parity.compare("logits", expected, actual, atol=1e-4, rtol=1e-4)
    assert not out.ok and out.worst_index == (1, 2, 3)
    assert out.out_of_tolerance == pytest.approx(2 / 24)
    assert out.detail() == "max abs 5.00e-01 at [1, 2, 3], max rel 5.00e-02, 8% of elements out of tolerance"
    assert parity.compare("b", np.array([True, False]), np.array([True, True]), 0, 0).worst_index == (1,)
    assert out.to_dict()["worst_index"] == [1, 2, 3]


def test_a_missing_output_fails_by_name():
    outputs = parity._compare_all(["a"], [np.ones(2), np.ones(2)], [np.ones(2)], 1e-4, 1e-4)
    assert [o.ok for o in outputs] == [True, False]
    assert outputs[1].problem == "onnxruntime gives 1 output(s), torch 2"


def write_model(path, body):
    path.write_text("import torch\nimport torch.nn as nn\n" + body)


def test_a_folder_one_line_per_model_and_a_summary(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    write_model(models / "good.py", "model = nn.Linear(4, 2)\nexample_inputs = torch.randn(2, 4)\n")
    write_model(models / "bad.py", "class Net(nn.Module):\n"
                                   "    def __init__(self):\n"
                                   "        super().__init__()\n"
                                   "        self.fc, self.act = nn.Linear(4, 3), nn.Softsign()\n"
                                   "    def forward(self, x):\n"
                                   "        return self.act(self.fc(x))\n"
                                   "model = Net()\nexample_inputs = torch.randn(2, 4)\n")
    write_model(models / "_helpers.py", "raise RuntimeError('not a model')\n")

    def tanh(ctx, node):
        ctx.add1("Tanh", ctx.inputs(node), ctx.output(node))

    monkeypatch.setitem(registry._LOWERINGS, opdef("softsign"), {1: tanh})
    result = check(models)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"FAILED  {models / 'bad.py'} (model): max abs error ")
    assert "    first divergent layer: act (bad.py:8), nn.Softsign" in result.stdout
    assert any(line.startswith(f"ok      {models / 'good.py'} (model): max abs error ") for line in lines)
    assert lines[-1] == "2 models: 1 ok, 1 failed, 0 could not be checked"

    write_model(models / "empty.py", "x = 1\n")  # a model that cannot be checked: exit 2, the rest still run
    result = check(models, "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [(os.path.basename(m["path"]), m["status"]) for m in doc["models"]] == [
        ("bad.py", "failed"), ("empty.py", "error"), ("good.py", "ok")]
    assert "no model found" in doc["models"][1]["error"]
    bad = doc["models"][0]["report"]
    assert not bad["ok"] and "first divergent layer" in bad["diagnosis"]
    assert bad["runs"][0]["outputs"][0]["out_of_tolerance"] > 0


def test_several_files_and_an_empty_folder(tmp_path):
    result = check(MLP, os.path.join(FIXTURES, "simple_linear.py"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 models: 2 ok, 0 failed, 0 could not be checked"
    (tmp_path / "empty").mkdir()
    result = check(tmp_path / "empty")
    assert result.exit_code == 2 and "no model files (.py) under" in result.output


class PretendCuda:
    """An onnxruntime session that says it runs on CUDA (a CPU session inside): the CUDA path
    without a GPU."""

    real = ort.InferenceSession
    asked = []

    def __init__(self, model, options=None, providers=None, **kwargs):
        PretendCuda.asked.append(providers)
        self._session = PretendCuda.real(model, options, providers=[CPU])

    def get_providers(self):
        return [CUDA, CPU]

    def __getattr__(self, name):
        return getattr(self._session, name)


def pretend_a_gpu(monkeypatch):
    import graphnn.checking.runtime as runtime

    monkeypatch.setattr(runtime, "cuda_gpu_count", lambda: (1, ""))
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", PretendCuda)
    PretendCuda.asked.clear()


def test_cuda_asks_for_cuda_without_tf32_and_takes_its_own_tolerance(monkeypatch):
    pretend_a_gpu(monkeypatch)
    torch.manual_seed(0)
    report = graphnn.check_parity(nn.Linear(4, 2), (torch.randn(2, 4),), device="cuda")
    assert PretendCuda.asked[0] == [(CUDA, {"use_tf32": "0"}), (CPU, {})]
    assert report.device == "cuda" and report.ok
    assert (report.atol, report.rtol) == (1e-4, parity.CUDA_MIN_RTOL)
    assert "parity ok on cuda (atol 0.0001, rtol 0.001)" in report.summary()
    user = graphnn.check_parity(nn.Linear(4, 2), (torch.randn(2, 4),), device="cuda", rtol=1e-5)
    assert user.rtol == 1e-5  # the user's tolerance wins


def test_auto_without_a_gpu_keeps_the_cpu_tolerance(monkeypatch):
    import graphnn.checking.runtime as runtime

    monkeypatch.setattr(runtime, "cuda_gpu_count", lambda: (0, "no NVIDIA driver"))
    report = graphnn.check_parity(nn.Linear(4, 2), (torch.randn(2, 4),), device="auto")
    assert report.device == "cpu" and report.rtol == 1e-4
    assert parity.device_rtol(1e-2, "cuda") == 1e-2  # a coarser default (quantized) stays


def test_cuda_without_a_gpu_is_a_one_line_error(monkeypatch):
    import graphnn.checking.runtime as runtime

    monkeypatch.setattr(runtime, "cuda_gpu_count", lambda: (0, "no NVIDIA driver"))
    result = check(MLP, "--device", "cuda")
    assert result.exit_code == 2 and "--device cuda cannot be used" in result.output
