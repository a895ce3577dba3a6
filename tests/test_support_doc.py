"""docs/support.md is generated (docs/gen_support.py); this fails when the registries moved
on without it, so the page always lists what graphnn converts."""
import os

import graphnn.frontend  # noqa: F401
from graphnn.frontend.rules import supported_functions, supported_layers, supported_methods
from tests.conftest import ROOT



def test_support_page_lists_every_registered_layer_function_and_method():
    with open(os.path.join(ROOT, "docs", "support.md")) as f:
        text = f.read()
    layer_rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| nn.") or line.startswith("| torch.")}
    assert layer_rows == set(supported_layers()), "run: python docs/gen_support.py"
    assert all(f"`{name}`" in text for name in supported_functions()), "run: python docs/gen_support.py"
    assert all(f"`.{name}()`" in text for name in supported_methods()), "run: python docs/gen_support.py"


def test_every_layer_is_seen_in_a_parity_test():
    with open(os.path.join(ROOT, "docs", "support.md")) as f:
        unseen = [line.split("|")[1].strip() for line in f if "(not seen in a parity test)" in line and line.startswith("| nn.")]
    assert not unseen, f"layers without a recorded parity test: {unseen}"
