"""Trained models as training scripts keep them: --weights state dicts (wrappers, prefixes,
.safetensors, mismatches) and whole pickled modules behind --trust-pickle."""
import os
import subprocess
import sys
import textwrap
import uuid
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

from graphnn.checkpoints import WeightsError, load_weights, strip_prefixes, unwrap
from tests.conftest import invoke

NET_PY = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.flatten(1))


torch.manual_seed(0)  # the same fresh weights in every process
model = Net()
example_inputs = (torch.randn(2, 1, 8, 8),)
"""


def net_module(tmp_path):
    """Net from net.py, imported as the user's training script would."""
    (tmp_path / "net.py").write_text(NET_PY)
    namespace = {}
    exec(compile(NET_PY, str(tmp_path / "net.py"), "exec"), namespace)
    return namespace["Net"], namespace["model"]


def trained(model, steps=5):
    """A few SGD steps on random data: weights and BatchNorm statistics both move."""
    torch.manual_seed(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    for _ in range(steps):
        x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def onnx_output(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


@pytest.fixture
def trained_net(tmp_path):
    cls, fresh = net_module(tmp_path)
    fresh_copy = cls()
    fresh_copy.load_state_dict(fresh.state_dict())
    return trained(fresh), fresh_copy.eval()


def assert_exports_trained(path, trained_model, fresh_model):
    x = torch.randn(5, 1, 8, 8)
    got = onnx_output(path, x)
    with torch.no_grad():
        want, untrained = trained_model(x).numpy(), fresh_model(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    assert np.abs(got - untrained).max() > 1e-2  # the trained weights, not net.py's fresh ones


def test_trained_state_dict_is_what_gets_exported(tmp_path, trained_net):
    trained_model, fresh = trained_net
    torch.save(trained_model.state_dict(), tmp_path / "net.pt")
    out = tmp_path / "out.onnx"
    proc = subprocess.run([sys.executable, "-m", "graphnn", "export", "net.py", "out.onnx", "--weights", "net.pt"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "parity ok" in proc.stdout and "batch 3:" in proc.stdout
    assert_exports_trained(out, trained_model, fresh)


def test_wrapped_checkpoint_with_dataparallel_prefixes(tmp_path, trained_net):
    trained_model, fresh = trained_net
    state = {f"module.{k}": v for k, v in trained_model.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 5, "optimizer": {"lr": 0.5}}, tmp_path / "ckpt.pth")
    out = tmp_path / "out.onnx"
    result = invoke(["export", str(tmp_path / "net.py"), str(out),
                                       "--weights", str(tmp_path / "ckpt.pth")])
    assert result.exit_code == 0, result.output
    assert_exports_trained(out, trained_model, fresh)


def test_safetensors_checkpoint(tmp_path, trained_net):
    from safetensors.torch import save_file
    trained_model, fresh = trained_net
    save_file(trained_model.state_dict(), str(tmp_path / "net.safetensors"))
    out = tmp_path / "out.onnx"
    result = invoke(["export", str(tmp_path / "net.py"), str(out),
                                       "--weights", str(tmp_path / "net.safetensors")])
    assert result.exit_code == 0, result.output
    assert_exports_trained(out, trained_model, fresh)


def test_check_and_graph_take_weights_too(tmp_path, trained_net):
    trained_model, _ = trained_net
    torch.save(trained_model.state_dict(), tmp_path / "net.pt")
    net_py, weights = str(tmp_path / "net.py"), str(tmp_path / "net.pt")
    result = invoke(["check", net_py, "--weights", weights])
    assert result.exit_code == 0 and "parity ok" in result.output, result.output
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    result = invoke(["graph", net_py, "--weights", str(tmp_path / "bad.pt")])
    assert result.exit_code == 2 and "does not fit Net" in result.output, result.output


def test_mismatched_checkpoint_names_every_problem_and_writes_nothing(tmp_path, trained_net):
    state = dict(trained_net[0].state_dict())
    del state["fc.bias"]
    state["head.weight"] = torch.zeros(3)
    state["conv.weight"] = torch.zeros(8, 1, 3, 3)
    torch.save(state, tmp_path / "bad.pt")
    out = tmp_path / "out.onnx"
    proc = subprocess.run([sys.executable, "-m", "graphnn", "export", "net.py", "out.onnx", "--weights", "bad.pt"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message == ("error: --weights bad.pt does not fit Net: 1 missing key: fc.bias; 1 unexpected key: "
                       "head.weight; 1 shape mismatch: conv.weight (checkpoint 8x1x3x3, model 4x1x3x3)")
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.pt", "net.py"]


def test_many_mismatches_are_listed_first_few_then_counted(tmp_path):
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(4)])
    torch.save({}, tmp_path / "empty.pt")
    with pytest.raises(WeightsError, match="no tensors by parameter name"):
        load_weights(model, str(tmp_path / "empty.pt"))
    torch.save({"other.weight": torch.zeros(1)}, tmp_path / "w.pt")
    with pytest.raises(WeightsError, match=r"8 missing keys: 0\.weight, 0\.bias, 1\.weight, 1\.bias and 4 more; "
                                           r"1 unexpected key: other\.weight$"):
        load_weights(model, str(tmp_path / "w.pt"))


def test_prefixes_and_wrappers_unwrap():
    tensor = torch.zeros(1)
    assert unwrap({"model": {"fc.weight": tensor}, "epoch": 1}, "f") == {"fc.weight": tensor}
    assert unwrap({"state_dict": {"model": {"w": tensor}}}, "f") == {"w": tensor}
    assert unwrap({"best_acc": tensor, "state_dict": {"w": tensor}}, "f") == {"w": tensor}  # a metric beside
    compiled_in_ddp = {"module._orig_mod.fc.weight": tensor}
    assert strip_prefixes(compiled_in_ddp, {"fc.weight"}) == {"fc.weight": tensor}
    own_module_prefix = {"module.fc.weight": tensor}  # the model's own attribute is called module
    assert strip_prefixes(own_module_prefix, {"module.fc.weight"}) == own_module_prefix
    lightning = {"model.fc.weight": tensor, "model.fc.bias": tensor}  # LightningModule.model = Net()
    assert set(strip_prefixes(lightning, {"fc.weight", "fc.bias"})) == {"fc.weight", "fc.bias"}
    assert set(strip_prefixes(lightning, {"fc.weight"})) == set(lightning)  # no exact fit: reported as is
    with pytest.raises(WeightsError, match="holds a list"):
        unwrap([tensor], "f")


def test_weights_are_loaded_on_cpu_and_a_failed_load_leaves_the_model(tmp_path):
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    torch.save({"weight": torch.ones(2, 3), "bias": torch.ones(2, 2)}, tmp_path / "w.pt")
    with pytest.raises(WeightsError, match=r"bias \(checkpoint 2x2, model 2\)"):
        load_weights(model, str(tmp_path / "w.pt"))
    assert torch.equal(model.weight, before)
    torch.save({"weight": torch.ones(2, 3), "bias": torch.ones(2)}, tmp_path / "w.pt")
    load_weights(model, str(tmp_path / "w.pt"))
    assert torch.equal(model.weight, torch.ones(2, 3)) and model.weight.device.type == "cpu"


def test_checkpoint_saved_on_a_gpu_loads_on_the_cpu(tmp_path):
    """The file records where each tensor lived (cuda:0 here, as torch.save on a GPU writes);
    torch.load without map_location fails on a machine without CUDA."""
    source = nn.Linear(3, 2)
    with mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0"):
        torch.save(source.state_dict(), tmp_path / "gpu.pt")
    model = nn.Linear(3, 2)
    load_weights(model, str(tmp_path / "gpu.pt"))
    assert torch.equal(model.weight, source.weight) and model.weight.device.type == "cpu"


# ------------------------------------------------------------------ whole pickled modules
def pickled_module(tmp_path):
    """torch.save(model) of a class in the user's own module (a unique name per test);
    the module is then forgotten, as a fresh graphnn process would not know it."""
    name = f"usernet_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(6, 3)
            def forward(self, x):
                return self.fc(x).relu()
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(name)
        model = module.Net().eval()
        torch.save(model, tmp_path / "model.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    return name, model


def test_pickled_module_needs_trust_pickle(tmp_path):
    _, model = pickled_module(tmp_path)
    out = tmp_path / "out.onnx"
    args = ["export", str(tmp_path / "model.pt"), str(out), "--input", "2x6"]
    result = invoke(args)
    assert result.exit_code == 2 and not out.exists()
    assert "runs code named in the file" in result.output and "--trust-pickle" in result.output
    result = invoke(args + ["--trust-pickle"])
    assert result.exit_code == 0 and "parity ok" in result.output, result.output
    x = torch.randn(4, 6)
    with torch.no_grad():
        np.testing.assert_allclose(onnx_output(out, x), model(x).numpy(), atol=1e-5)


def test_pickled_module_whose_class_cannot_be_imported(tmp_path):
    name, _ = pickled_module(tmp_path)
    os.remove(tmp_path / f"{name}.py")
    result = invoke(["export", str(tmp_path / "model.pt"), str(tmp_path / "o.onnx"),
                                       "--input", "2x6", "--trust-pickle"])
    assert result.exit_code == 2, result.output
    assert f"holds a pickled {name}.Net, which cannot be imported" in result.output
    assert "Traceback" not in result.output


def test_pickle_of_a_class_from_the_training_script_says_what_to_do_instead(tmp_path, monkeypatch):
    class Net(nn.Linear):  # defined in `python train.py`, so pickled as __main__.Net
        pass
    Net.__module__, Net.__qualname__ = "__main__", "Net"
    monkeypatch.setattr(sys.modules["__main__"], "Net", Net, raising=False)
    torch.save(Net(3, 2), tmp_path / "model.pt")
    monkeypatch.delattr(sys.modules["__main__"], "Net")
    result = invoke(["graph", str(tmp_path / "model.pt"), "--trust-pickle", "--input", "1x3"])
    assert result.exit_code == 2, result.output
    assert "holds a pickled __main__.Net, which cannot be imported" in result.output
    assert "save model.state_dict() instead" in result.output


def test_torchscript_state_dicts_and_foreign_files_are_refused_clearly(tmp_path, trained_net):
    torch.jit.save(torch.jit.script(nn.Linear(6, 3)), str(tmp_path / "ts.pt"))
    torch.save(trained_net[0].state_dict(), tmp_path / "sd.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    net_py = str(tmp_path / "net.py")
    cases = [
        (["graph", str(tmp_path / "ts.pt")], "TorchScript archive (torch.jit.save)"),
        (["graph", net_py, "--weights", str(tmp_path / "ts.pt")], "torch.jit.load(path).state_dict()"),
        (["graph", str(tmp_path / "sd.pt")], "as MODEL_PY and this file as --weights"),
        (["graph", str(tmp_path / "notes.pt")], "nor a file torch.save wrote"),
        (["graph", net_py, "--weights", str(tmp_path / "notes.pt")], "not a PyTorch checkpoint"),
        (["graph", net_py, "--weights", str(tmp_path / "missing.pt")], "does not exist"),
    ]
    for args, message in cases:
        result = invoke(args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
