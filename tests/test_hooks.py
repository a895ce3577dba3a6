"""Hooks are part of what a model computes (graphnn.frontend.hooks): torch.fx would skip
them, so ``auto`` traces hooked models with torch.export (parity proves the hook's effect
is in the ONNX), ``--frontend fx`` refuses naming the module and the hook, and what no
frontend keeps (a bare layer's hooks, global hooks) is refused by every frontend."""
import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

import graphnn
from graphnn.errors import GraphnnError, TraceError, UnsupportedError
from tests.conftest import graphnn_cli


def double(module, inputs, output):
    return output * 2


def shift(module, args):
    return (args[0] + 1,)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def with_forward_hook():
    model = mlp()
    model[0].register_forward_hook(double)
    return model


def with_pre_hook():
    model = mlp()
    model[2].register_forward_pre_hook(shift)
    return model


def with_root_hook():
    model = mlp()
    model.register_forward_hook(double)
    return model


def with_kwargs_hook():
    model = mlp()
    model[0].register_forward_hook(lambda module, args, kwargs, out: out - 1, with_kwargs=True)
    return model


def with_patched_forward():
    model = mlp()
    original = model[0].forward
    model[0].forward = lambda x: original(x) * 3
    return model


CASES = {"forward hook": with_forward_hook, "pre-hook": with_pre_hook, "root hook": with_root_hook,
         "hook with kwargs": with_kwargs_hook, "patched forward": with_patched_forward}


def onnx_output(result, x):
    session = ort.InferenceSession(result.onnx_model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


@pytest.mark.parametrize("case", list(CASES))
def test_auto_traces_the_hook_with_torch_export_and_its_effect_is_in_the_onnx(case):
    model = CASES[case]()
    x = torch.randn(2, 4)
    result = graphnn.export(model, x)
    assert result.report.ok and result.graph.frontend == "export"
    with torch.no_grad():
        without_hooks = mlp()(x).numpy()  # the same weights (seed 0), no hook
    got = onnx_output(result, x)
    assert not np.allclose(got, without_hooks, atol=1e-3)
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("case,names", [("forward hook", "0 has a forward hook double"),
                                        ("pre-hook", "2 has a forward pre-hook shift"),
                                        ("root hook", "<root> has a forward hook double"),
                                        ("patched forward", "0 has a forward replaced on the instance")])
def test_frontend_fx_refuses_naming_the_module_and_the_hook(case, names):
    with pytest.raises(TraceError) as error:
        graphnn.export(CASES[case](), torch.randn(2, 4), frontend="fx")
    assert names in str(error.value) and "--frontend export" in str(error.value)
    assert "test_hooks.py:" in str(error.value)  # where the hook is defined


def test_weight_norm_stays_on_fx_with_the_weight_it_computes_now():
    model = mlp()
    torch.nn.utils.weight_norm(model[0])
    with torch.no_grad():
        model[0].weight_g.mul_(3)  # as load_state_dict would: the stored weight is now stale
    x = torch.randn(2, 4)
    result = graphnn.export(model, x)
    assert result.graph.frontend == "fx" and result.report.ok


def test_spectral_norm_in_eval_exports_with_parity():
    model = mlp()
    torch.nn.utils.spectral_norm(model[2])
    result = graphnn.export(model, torch.randn(2, 4))
    assert result.report.ok


def test_a_hooked_bare_layer_is_refused_by_every_frontend():
    layer = nn.Linear(4, 3)
    layer.register_forward_hook(double)
    for frontend in ("auto", "fx", "export"):
        with pytest.raises(UnsupportedError, match=r"forward hook double .*nn.Sequential\(layer\)"):
            graphnn.export(layer, torch.randn(2, 4), frontend=frontend)


def test_a_global_forward_hook_is_refused():
    handle = torch.nn.modules.module.register_module_forward_hook(double)
    try:
        with pytest.raises(GraphnnError, match="global forward hook double"):
            graphnn.export(mlp(), torch.randn(2, 4))
    finally:
        handle.remove()


HOOKED_PY = """
import torch
import torch.nn as nn

def scale(module, inputs, output):
    return output * 2

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
model[0].register_forward_hook(scale)
example_inputs = (torch.randn(2, 4),)
"""


def test_cli_frontend_fx_refuses_a_hook_in_one_line(tmp_path):
    model_py = tmp_path / "model.py"
    model_py.write_text(HOOKED_PY)
    out = tmp_path / "out.onnx"
    proc = graphnn_cli("export", str(model_py), str(out), "--frontend", "fx")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "0 has a forward hook scale (model.py:5)" in errors[0]
    assert not out.exists()
