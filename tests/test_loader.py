"""Finding the model and its example inputs in a user's model.py."""
import textwrap

import pytest
import torch
import torch.nn as nn

from graphnn.errors import InputSpecError, ModelLoadError
from graphnn.inputs import parse_input_spec, with_batch
from graphnn.loader import LoadOptions, load, load_model_file

HEADER = "import torch\nimport torch.nn as nn\n"


def write(tmp_path, body, name="m.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


def test_module_level_model_and_dummy_input(tmp_path):
    path = write(tmp_path, """
        model = nn.Linear(3, 2)
        other = nn.ReLU()
        dummy_input = torch.randn(1, 3)
        print("printed at import")
    """)
    loaded, inputs = load(path)
    assert loaded.model_name == "model"
    assert inputs.tensors[0].shape == (1, 3) and inputs.items[0].dims == ((0, "batch"),)


def test_only_instance_is_found(tmp_path):
    path = write(tmp_path, "net = nn.Linear(3, 2)\nexample_inputs = (torch.randn(1, 3),)\n")
    assert load_model_file(path).model_name == "net"


def test_only_buildable_class_is_found(tmp_path):
    path = write(tmp_path, """
        class Needs(nn.Module):
            def __init__(self, n):
                super().__init__()
        class Net(nn.Module):
            def __init__(self, width=4):
                super().__init__()
                self.fc = nn.Linear(width, 2)
            def forward(self, x):
                return self.fc(x)
    """)
    loaded = load_model_file(path)
    assert loaded.model_name == "Net" and isinstance(loaded.model.fc, torch.nn.Linear)


def test_several_instances_is_an_error_listing_them(tmp_path):
    path = write(tmp_path, "a = nn.Linear(3, 2)\nb = nn.ReLU()\n")
    with pytest.raises(ModelLoadError, match=r"several nn.Module instances \(a, b\).*--model"):
        load_model_file(path)


def test_model_option_picks_a_factory(tmp_path):
    path = write(tmp_path, "a = nn.Linear(3, 2)\ndef make():\n    return nn.Linear(3, 4)\n")
    assert load_model_file(path, "make").model.out_features == 4
    with pytest.raises(ModelLoadError, match="no such name"):
        load_model_file(path, "missing")


def test_no_model_at_all(tmp_path):
    path = write(tmp_path, "x = 1\n")
    with pytest.raises(ModelLoadError, match="no model found"):
        load_model_file(path)


def test_import_error_names_the_line(tmp_path):
    path = write(tmp_path, "model = nn.Linear(3, 2)\nraise ValueError('boom')\n")
    with pytest.raises(ModelLoadError, match=r"m.py:4 failed: ValueError: boom"):
        load_model_file(path)


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model_file(str(tmp_path / "nope.py"))
    (tmp_path / "m.txt").write_text("")
    with pytest.raises(ModelLoadError, match="not a Python file"):
        load_model_file(str(tmp_path / "m.txt"))


def test_missing_inputs_says_what_to_do(tmp_path):
    path = write(tmp_path, "model = nn.Linear(3, 2)\n")
    with pytest.raises(ModelLoadError, match="--input"):
        load(path)
    _, inputs = load(path, LoadOptions(input_specs=["2x3"]))
    assert inputs.tensors[0].shape == (2, 3) and inputs.tensors[0].dtype == torch.float32


def test_bad_example_inputs_type(tmp_path):
    path = write(tmp_path, "model = nn.Linear(3, 2)\nexample_inputs = [1, 2]\n")
    with pytest.raises(InputSpecError, match="tuple of tensors"):
        load(path)


@pytest.mark.parametrize("text, shape, dtype", [
    ("1x3x28x28", (1, 3, 28, 28), "float32"),
    ("4x20:int64", (4, 20), "int64"),
    (" 2 x 5 ", (2, 5), "float32"),
    (":float32", (), "float32"),
])
def test_parse_input_spec(text, shape, dtype):
    spec = parse_input_spec(text)
    assert (spec.shape, spec.dtype) == (shape, dtype)


@pytest.mark.parametrize("text", ["1x3x", "abc", "1x3:float99", "", "1,3"])
def test_bad_input_spec(text):
    with pytest.raises(InputSpecError):
        parse_input_spec(text)


def test_with_batch_keeps_integer_range():
    example = torch.tensor([[3, 7, 5]])
    resized = with_batch(example, 4, torch.Generator().manual_seed(0))
    assert resized.shape == (4, 3) and int(resized.min()) >= 3 and int(resized.max()) <= 7


# ------------------------------------------------------------------ trained models (issue 11)
def test_load_options_carry_weights_into_load(tmp_path):
    path = write(tmp_path, "model = nn.Linear(3, 2)\nexample_inputs = (torch.randn(1, 3),)\n")
    torch.save({"weight": torch.ones(2, 3), "bias": torch.zeros(2)}, tmp_path / "w.pt")
    loaded, _ = load(path, LoadOptions(weights=str(tmp_path / "w.pt")))
    assert torch.equal(loaded.model.weight, torch.ones(2, 3))
    loaded, _ = load(path)  # a plain path: the file's own fresh weights
    assert not torch.equal(loaded.model.weight, torch.ones(2, 3))


def test_what_a_file_is_comes_from_its_content(tmp_path):
    from graphnn.loader import source_kind
    program = torch.export.export(nn.Linear(3, 2), (torch.randn(2, 3),))
    torch.export.save(program, str(tmp_path / "program.pt"))
    torch.save(nn.Linear(3, 2).state_dict(), tmp_path / "weights.pt2")
    torch.save(nn.Linear(3, 2), tmp_path / "whole.bin")
    assert [source_kind(str(tmp_path / name)) for name in ("program.pt", "weights.pt2", "whole.bin")] == \
        ["program", "weights", "pickle"]
    with pytest.raises(ModelLoadError, match="pass --trust-pickle"):
        load_model_file(str(tmp_path / "whole.bin"))


def test_weights_load_into_a_trusted_pickled_module(tmp_path):
    torch.save(nn.Linear(3, 2), tmp_path / "whole.pt")
    torch.save({"weight": torch.ones(2, 3), "bias": torch.zeros(2)}, tmp_path / "w.pt")
    loaded = load_model_file(str(tmp_path / "whole.pt"), weights=str(tmp_path / "w.pt"), trust_pickle=True)
    assert loaded.kind == "pickle" and loaded.model_name == "Linear"
    assert torch.equal(loaded.model.weight, torch.ones(2, 3))
    with pytest.raises(ModelLoadError, match="no example inputs for Linear: pass --input"):
        load(str(tmp_path / "whole.pt"), LoadOptions(trust_pickle=True))
