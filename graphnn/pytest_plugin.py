"""pytest plugin: a folder of MODEL_PY files becomes one parity test per file.

    pytest --graphnn-models models/            # or graphnn_models = models in pytest.ini
    pytest --graphnn-models models/ -n auto --junitxml=parity.xml

Installing graphnn registers it (the ``pytest11`` entry point), so it loads in every pytest
run of the environment: until model folders are named it does nothing and imports nothing
beyond pytest (no torch); graphnn itself is imported when the first model item runs.

Each MODEL_PY file under a model folder (``graphnn.model_files``: not ``conftest.py``, not
``_private.py``) is one item named after the file; it exports the model with graphnn and checks parity
(``graphnn.testing.assert_file_parity``), and fails with the parity report. Items are
plain pytest items, so ``-n`` (pytest-xdist) spreads them over workers and ``--junitxml``
records them, with the max abs error as a property.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from graphnn.model_files import is_model_file

DEVICES = ("cpu", "cuda", "auto")  # graphnn.checking.runtime.DEVICES, without importing onnxruntime here
_ROOTS = pytest.StashKey[tuple]()
_OPTIONS = pytest.StashKey[dict]()
_CONVERT = {"opset": int, "device": str, "atol": float, "rtol": float}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("graphnn", "graphnn parity of model files")
    group.addoption("--graphnn-models", action="append", default=[], metavar="PATH",
                    help="Collect every MODEL_PY file under PATH (a folder or a file) as a parity test; "
                         "repeatable.")
    group.addoption("--graphnn-opset", type=int, default=None, metavar="N",
                    help="ONNX opset of the model items [default: graphnn's default opset].")
    group.addoption("--graphnn-device", choices=DEVICES, default=None,
                    help="onnxruntime device of the model items [default: cpu].")
    group.addoption("--graphnn-atol", type=float, default=None, metavar="ATOL",
                    help="Absolute parity tolerance of the model items [default: per model, 1e-4 for float32].")
    group.addoption("--graphnn-rtol", type=float, default=None, metavar="RTOL",
                    help="Parity tolerance relative to each output's largest magnitude "
                         "[default: per model, 1e-4 for float32].")
    parser.addini("graphnn_models", type="paths", default=[],
                  help="Folders (or files) of MODEL_PY files collected as parity tests when pytest runs "
                       "without explicit paths; --graphnn-models adds more.")
    for name in ("opset", "device", "atol", "rtol"):
        parser.addini(f"graphnn_{name}", f"Default for --graphnn-{name}.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    """Model folders from the command line are always collected; those of the ini file
    when pytest was given no paths (so ``pytest tests/test_x.py`` stays that file)."""
    named = [Path(p).resolve() for p in config.getoption("graphnn_models")]
    from_ini = [Path(p).resolve() for p in config.getini("graphnn_models")]
    for root in named + from_ini:
        if not root.exists():
            raise pytest.UsageError(f"--graphnn-models / graphnn_models: {root} does not exist")
    config.stash[_ROOTS] = tuple(named + from_ini)
    config.stash[_OPTIONS] = _item_options(config) if named or from_ini else {}
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    for root in named + ([] if explicit else from_ini):
        config.args.append(str(root))  # pytest drops paths that overlap its other arguments


def _item_options(config: pytest.Config) -> dict:
    """check_parity's options for every item: --graphnn-NAME, else graphnn_NAME in the ini file."""
    options = {}
    for name, convert in _CONVERT.items():
        value = config.getoption(f"graphnn_{name}")
        if value is None:
            value = config.getini(f"graphnn_{name}")
        if value in (None, ""):
            continue
        try:
            options[name] = convert(value)
        except ValueError:
            raise pytest.UsageError(f"graphnn_{name} = {value!r}: not a {convert.__name__}") from None
    if options.get("device", "cpu") not in DEVICES:
        raise pytest.UsageError(f"graphnn_device = {options['device']!r}: choose one of {', '.join(DEVICES)}")
    return options


def _is_model_file(path: Path, config: pytest.Config) -> bool:
    roots = config.stash.get(_ROOTS, ())
    if not roots or not is_model_file(path):
        return False
    return any(path == root or root in path.parents for root in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    if not _is_model_file(file_path, parent.config):
        return None
    if parent.session.isinitpath(file_path) or _python_would_collect(file_path, parent.config):
        return None  # pytest's own Python collector asks pytest_pycollect_makemodule below
    return ModelFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    """A model file named on the command line (or matching ``python_files``) is a model
    item, not a test module to import at collection."""
    if _is_model_file(module_path, parent.config):
        return ModelFile.from_parent(parent, path=module_path)
    return None


def _python_would_collect(path: Path, config: pytest.Config) -> bool:
    return any(path.match(pattern) for pattern in config.getini("python_files"))


class ModelFile(pytest.File):
    def collect(self):
        yield ModelItem.from_parent(self, name=self.path.stem)


class ModelItem(pytest.Item):
    """Export this file's model with graphnn and check parity."""

    def runtest(self) -> None:
        from graphnn.testing import ParityMismatch, assert_file_parity

        try:
            report = assert_file_parity(str(self.path), **self.config.stash[_OPTIONS])
        except ParityMismatch as exc:
            self._record(exc.report)
            raise
        self._record(report)

    def _record(self, report) -> None:
        self.user_properties.append(("graphnn_max_abs_error", f"{report.max_abs:.3e}"))
        self.user_properties.append(("graphnn_device", report.device))

    def repr_failure(self, excinfo, style=None):
        """The parity report, or graphnn's one-line message; a traceback only for a graphnn bug."""
        from graphnn.errors import GraphnnError
        from graphnn.testing import ParityMismatch

        if isinstance(excinfo.value, ParityMismatch):
            return str(excinfo.value)
        if isinstance(excinfo.value, GraphnnError):
            return f"{self.path.name}: error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"graphnn parity of {self.path.name}"
