"""The interactive page (`graphnn graph -o X.html`, `graphnn check --html`) in a real browser.

Headless Chromium (the system's package: .ci/run installs it) driven by Playwright's Python
API. Every test waits for the page to lay out and paint, and reads what it shows through the
page itself: counts of drawn nodes, mouse clicks at a node's drawn position, the side panel's
text, pixels of the canvas. Without a browser the tests skip, except where
GRAPHNN_REQUIRE_BROWSER is set (CI), where that is a failure.
With GRAPHNN_PAGE_SCREENSHOTS=FOLDER the pages' pictures for the README are saved there.
"""
import os
import shutil
import textwrap
import time

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import graphnn
from graphnn.backend.onnx import registry
from graphnn.cli.main import main
from graphnn.ops import opdef
from graphnn.view import view_of_graph
from graphnn.view.html import to_html

BROWSER = os.environ.get("GRAPHNN_CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
SCREENSHOTS = os.environ.get("GRAPHNN_PAGE_SCREENSHOTS")
RED = "#e53935"

NET = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x))) + x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(Block(8), Block(8), Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


model = Net()
example_inputs = (torch.randn(2, 3, 16, 16),)
"""

CHAIN = """
import torch
from torch import nn


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 16)
        self.gate = nn.Tanh()
        self.mid = nn.Linear(16, 16)
        self.act = nn.ReLU()
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.act(self.mid(self.gate(self.stem(x)))))


torch.manual_seed(0)
model = Chain()
example_inputs = (torch.randn(4, 8),)
"""


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("GRAPHNN_REQUIRE_BROWSER")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or BROWSER is None:
        missing = "Playwright (pip install playwright)" if sync_playwright is None else "Chromium"
        assert not required, f"GRAPHNN_REQUIRE_BROWSER is set but {missing} is missing"
        pytest.skip(f"{missing} is not installed (.ci/run installs it and requires it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=BROWSER, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser, path, timeout_ms=30000):
    """The page, laid out and painted, with no script error; and the seconds that took."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    started = time.perf_counter()
    page.goto(f"file://{path}")
    page.wait_for_function("window.graphnnPage && window.graphnnPage.ready", timeout=timeout_ms)
    seconds = time.perf_counter() - started
    assert not failures, failures
    return page, seconds


def counts(page):
    return page.evaluate("graphnnPage.counts()")


def drawn_at(page, element_id):
    """Where the node is drawn on the screen, and whether the canvas has paint there."""
    found = page.evaluate("""id => {
        const node = graphnnPage.cy.getElementById(id);
        if (node.empty()) return null;
        const p = node.renderedPosition(), box = node.renderedBoundingBox();
        const x = Math.round(box.x1 + (p.x - box.x1) / 4), y = Math.round(p.y);
        const painted = Array.from(document.querySelectorAll('#graph canvas')).some(c => {
            const ctx = c.getContext('2d');
            return ctx && ctx.getImageData(x, y, 1, 1).data[3] > 0;
        });
        return {x: p.x, y: p.y, painted: painted};
    }""", element_id)
    assert found is not None, f"{element_id} is not drawn"
    assert found["painted"], f"nothing painted where {element_id} is drawn"
    frame = page.locator("#graph").bounding_box()
    return frame["x"] + found["x"], frame["y"] + found["y"]


def click(page, element_id):
    page.mouse.click(*drawn_at(page, element_id))


def write_model(tmp_path, text):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def ir_layers(graph):
    return [n for n in graph.nodes() if n.op != "constant"]


def screenshot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, name))


@pytest.fixture
def net_page(tmp_path, browser):
    model_py = write_model(tmp_path, NET)
    out = tmp_path / "net.html"
    result = cli("graph", model_py, "-o", out)
    assert result.exit_code == 0, result.output
    page, _ = open_page(browser, out)
    yield page
    page.close()


def test_graph_page_counts_match_the_ir_and_repeats_start_collapsed(net_page, tmp_path):
    namespace = {}
    exec(NET, namespace)
    layers = ir_layers(graphnn.trace(namespace["model"], namespace["example_inputs"]))
    shown = counts(net_page)
    assert shown["layers"] == len(layers) == 16  # stem, 3 x (conv, bn, relu, add), pool, flatten, fc
    assert (shown["groups"], shown["repeats"]) == (4, 1)  # blocks, blocks.0..2; the run of three
    assert shown["collapsed"] == 1 and shown["shownLayers"] == len(layers) - 12
    label = net_page.evaluate("graphnnPage.cy.getElementById('r:blocks.0..2').data('label')")
    assert "x3" in label and "Block" in label
    drawn_at(net_page, "r:blocks.0..2")
    edge_labels = net_page.evaluate("graphnnPage.cy.edges().map(e => e.data('label'))")
    assert "batchx8x16x16" in edge_labels  # shapes on the edges
    screenshot(net_page, "graph-page.png")


def test_a_click_expands_and_the_button_collapses_a_repeated_group(net_page):
    click(net_page, "r:blocks.0..2")
    net_page.wait_for_function("graphnnPage.expanded('r:blocks.0..2') && graphnnPage.counts().collapsed === 0")
    shown = counts(net_page)
    assert shown["shownLayers"] == shown["layers"] and shown["shownGroups"] == 5
    drawn_at(net_page, "blocks.1.conv")
    assert "3 identical blocks" in net_page.inner_text("#panel")
    net_page.click("#collapse-all")
    net_page.wait_for_function("graphnnPage.counts().collapsed === 1")
    assert counts(net_page)["shownLayers"] == 4


def test_clicking_a_layer_shows_its_details(net_page):
    click(net_page, "stem")
    panel = net_page.inner_text("#panel")
    for expected in ("Conv2d", "stem.weight [8x3x3x3]", "stem.bias", "model.py:", "kernel", "batchx8x16x16"):
        assert expected in panel, (expected, panel)
    assert "MACs\t110,592" in panel  # 8 outputs x 27 taps x 16 x 16 positions x batch 2


def test_search_opens_the_groups_around_a_match(net_page):
    net_page.fill("#search", "blocks.1.conv")
    net_page.wait_for_function("document.getElementById('matches').textContent === '1 match'")
    net_page.wait_for_function("graphnnPage.cy.getElementById('blocks.1.conv').hasClass('match')")
    assert net_page.evaluate("graphnnPage.expanded('r:blocks.0..2')")
    drawn_at(net_page, "blocks.1.conv")
    assert "blocks.1.conv" in net_page.inner_text("#panel h2")


def test_a_1000_layer_mlp_stays_responsive(browser, tmp_path):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act1, self.fc2, self.act2 = nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU()

        def forward(self, x):
            return self.act2(self.fc2(self.act1(self.fc1(x))))

    mlp = nn.Sequential(*[Block() for _ in range(250)])
    graph = graphnn.trace(mlp, (torch.randn(2, 8),))
    out = tmp_path / "mlp.html"
    out.write_text(to_html(view_of_graph(graph, mlp)))
    page, first_paint = open_page(browser, out)
    shown = counts(page)
    assert shown["layers"] == len(ir_layers(graph)) == 1000
    assert (shown["groups"], shown["repeats"], shown["collapsed"]) == (250, 1, 1)
    drawn_at(page, "r:0..249")
    expand_ms = page.evaluate("graphnnPage.expandAll()")
    shown = counts(page)
    assert shown["shownLayers"] == 1000 and shown["shownGroups"] == 251 and shown["edges"] == 1001
    drawn_at(page, "124.fc2")
    print(f"1000-layer MLP: first paint {first_paint:.2f} s, expand all {expand_ms / 1000:.2f} s")
    assert first_paint < 10 and expand_ms < 30000  # measured ~0.7 s and ~3.6 s on 2 busy cores
    page.close()


def test_a_bert_opens_with_its_layers_collapsed(browser, tmp_path):
    pytest.importorskip("transformers")
    from tests.transformer_zoo import bert

    model, inputs, _ = bert()
    graph = graphnn.trace(model, inputs)
    out = tmp_path / "bert.html"
    out.write_text(to_html(view_of_graph(graph, model)))
    page, _ = open_page(browser, out)
    label = page.evaluate("graphnnPage.cy.getElementById('r:encoder.layer.0..1').data('label')")
    assert "x2" in label and "BertLayer" in label
    assert page.evaluate("graphnnPage.cy.getElementById('r:encoder.layer.0..1').hasClass('collapsed')")
    shown = counts(page)
    assert shown["layers"] == len(ir_layers(graph)) and shown["shownLayers"] < shown["layers"] / 2
    drawn_at(page, "r:encoder.layer.0..1")
    page.close()


def test_the_page_of_an_onnx_file(browser, tmp_path):
    namespace = {}
    exec(NET, namespace)
    onnx_path = tmp_path / "net.onnx"
    graphnn.export(namespace["model"], namespace["example_inputs"], str(onnx_path))
    import onnx
    nodes = len(onnx.load(str(onnx_path)).graph.node)
    out = tmp_path / "net.html"
    assert cli("graph", onnx_path, "-o", out).exit_code == 0
    page, _ = open_page(browser, out)
    assert counts(page)["layers"] == nodes
    first = page.evaluate("graphnnPage.cy.nodes('.op')[0].id()")
    click(page, first)
    assert page.inner_text("#panel h2") == first
    page.close()


def break_lowering(monkeypatch, op, wrong_onnx_op):
    """Lower ``op`` as ``wrong_onnx_op`` for one test: the deliberately wrong lowering."""
    def wrong(ctx, node):
        ctx.add1(wrong_onnx_op, ctx.inputs(node), ctx.output(node))
    monkeypatch.setitem(registry._LOWERINGS, opdef(op), {1: wrong})


def colours(page, ids):
    return {i: page.evaluate("id => graphnnPage.cy.getElementById(id).data('color')", i) for i in ids}


def test_check_page_colours_the_wrongly_lowered_layer_and_all_after_it(browser, tmp_path, monkeypatch):
    break_lowering(monkeypatch, "relu", "Sigmoid")
    model_py = write_model(tmp_path, CHAIN)
    out = tmp_path / "check.html"
    result = cli("check", model_py, "--html", out)
    assert result.exit_code == 1, result.output
    page, _ = open_page(browser, out)
    colour = colours(page, ["stem", "gate", "mid", "act", "head"])
    assert all(colour[i] != RED for i in ("stem", "gate", "mid")), colour
    assert colour["act"] == colour["head"] == RED, colour
    assert page.evaluate("graphnnPage.cy.getElementById('act').hasClass('first-bad')")
    report = page.inner_text("#report")
    assert "FAILED" in report and "first layer past tolerance: act" in report
    click(page, "act")
    assert "PAST TOLERANCE" in page.inner_text("#panel") and "first layer past tolerance" in page.inner_text("#panel")
    click(page, "mid")
    assert "headroom" in page.inner_text("#panel")
    screenshot(page, "check-page.png")
    page.close()


def test_check_page_of_a_passing_model_shows_headroom(browser, tmp_path):
    model_py = write_model(tmp_path, CHAIN)
    out = tmp_path / "check.html"
    result = cli("check", model_py, "--html", out)
    assert result.exit_code == 0, result.output
    page, _ = open_page(browser, out)
    assert RED not in colours(page, ["stem", "gate", "mid", "act", "head"]).values()
    assert "every layer within tolerance" in page.inner_text("#report")
    click(page, "head")
    assert "headroom" in page.inner_text("#panel")
    page.close()
