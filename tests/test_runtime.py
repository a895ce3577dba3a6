"""Provider selection (pure logic, testable without a GPU) and the CPU session."""
import pytest

from graphnn.errors import DeviceError
from graphnn.checking.runtime import CPU, CUDA, create_runtime, plan_providers

BOTH = [CUDA, CPU]


def test_cpu_is_cpu_only():
    assert plan_providers("cpu", BOTH, gpus=1).providers == [(CPU, {})]


def test_cuda_with_gpu_disables_tf32_and_keeps_cpu_fallback():
    plan = plan_providers("cuda", BOTH, gpus=1)
    assert plan.providers == [(CUDA, {"use_tf32": "0"}), (CPU, {})]
    assert plan.wants_cuda


def test_cuda_without_gpu_is_a_user_error():
    with pytest.raises(DeviceError, match="no NVIDIA driver.*--device cpu"):
        plan_providers("cuda", BOTH, gpus=0, why_no_gpu="no NVIDIA driver")


def test_cuda_without_cuda_build_names_the_package():
    with pytest.raises(DeviceError, match="onnxruntime-gpu"):
        plan_providers("cuda", [CPU], gpus=1)


def test_auto_falls_back_to_cpu_with_a_note():
    plan = plan_providers("auto", BOTH, gpus=0, why_no_gpu="no NVIDIA driver")
    assert plan.providers == [(CPU, {})] and "no NVIDIA driver" in plan.note


def test_auto_uses_cuda_when_present():
    assert plan_providers("auto", BOTH, gpus=2).wants_cuda


def test_unknown_device():
    with pytest.raises(DeviceError, match="unknown device"):
        plan_providers("tpu", BOTH, gpus=0)


def test_cpu_runtime_runs_a_model():
    import numpy as np
    import torch

    import graphnn

    result = graphnn.export(torch.nn.Linear(3, 2), torch.randn(1, 3), check=False)
    runtime = create_runtime(result.onnx_model.SerializeToString(), "cpu")
    assert runtime.device == "cpu" and runtime.input_names == ["input"]
    (out,) = runtime.run({"input": np.ones((5, 3), dtype=np.float32)})
    assert out.shape == (5, 2)


def _pool_padded_past_its_kernel():
    """A graphnn export whose MaxPool pads (2) reach its kernel (2): onnxruntime refuses it."""
    import torch

    import graphnn

    class ConvPool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.pool = torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(torch.relu(self.conv(x)))

    proto = graphnn.export(ConvPool(), torch.randn(2, 3, 8, 8), check=False).onnx_model
    pool = next(n for n in proto.graph.node if n.op_type == "MaxPool")
    next(a for a in pool.attribute if a.name == "pads").ints[:] = [2, 2, 2, 2]
    return proto


def test_a_file_refused_at_load_names_the_layer_in_one_line():
    from graphnn.errors import UnsupportedError

    with pytest.raises(UnsupportedError) as caught:
        create_runtime(_pool_padded_past_its_kernel().SerializeToString(), "cpu")
    message = str(caught.value)
    assert message.startswith("layer pool (MaxPool2d at test_runtime.py:")
    assert message.endswith("onnxruntime's CPU provider refuses its MaxPool node at load: "
                            "Pad should be smaller than kernel.")
    assert "\n" not in message and "onnxruntime_src" not in message


def test_a_refused_file_on_disk_names_the_layer(tmp_path):
    from graphnn.errors import UnsupportedError
    import onnx

    path = str(tmp_path / "bad.onnx")
    onnx.save(_pool_padded_past_its_kernel(), path)
    with pytest.raises(UnsupportedError, match=r"^layer pool \(MaxPool2d at test_runtime.py:\d+\): onnxruntime's CPU "
                                               r"provider refuses its MaxPool node at load: Pad should be"):
        create_runtime(path, "cpu")


def test_a_refused_file_with_external_weights_is_named_by_its_path(tmp_path):
    """Its prefixes would lack the weights: the path is named, not a layer."""
    from graphnn.errors import UnsupportedError
    import onnx

    path = str(tmp_path / "bad.onnx")
    onnx.save(_pool_padded_past_its_kernel(), path, save_as_external_data=True, size_threshold=0)
    with pytest.raises(UnsupportedError, match=r"^onnxruntime's CPU provider refuses .*bad.onnx at load: "
                                               r"Pad should be smaller than kernel\.$"):
        create_runtime(path, "cpu")


def test_parity_tolerance_scales_with_the_output_magnitude():
    import numpy as np

    from graphnn.checking.parity import compare

    big = np.array([1e6, 1e-3], dtype=np.float32)
    noisy = big + np.array([0.05, 0.05], dtype=np.float32)  # float32 noise at 1e6 scale
    assert compare("o", big, noisy, atol=1e-4, rtol=1e-4).ok
    assert not compare("o", big, big + np.float32(500), atol=1e-4, rtol=1e-4).ok
    small = np.array([1.0, 2.0], dtype=np.float32)
    result = compare("o", small, small + np.float32(3e-4), atol=1e-4, rtol=1e-4)
    assert not result.ok and abs(result.max_abs - 3e-4) < 1e-6


def test_parity_nan_and_inf_must_match_in_place():
    import numpy as np

    from graphnn.checking.parity import compare

    a = np.array([np.nan, np.inf, 1.0])
    assert compare("o", a, a.copy(), 1e-4, 1e-4).ok
    assert not compare("o", a, np.array([0.0, np.inf, 1.0]), 1e-4, 1e-4).ok
    assert not compare("o", a, np.array([np.nan, 5.0, 1.0]), 1e-4, 1e-4).ok
