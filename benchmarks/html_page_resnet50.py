"""The interactive page of torchvision's ResNet-50 (issue 22's acceptance): repeated Bottlenecks
folded, time to first paint and to expand all. Not part of the test suite.

Two steps, because torchvision lives in its own venv and Playwright in graphnn's:

    .venv-bench/bin/python benchmarks/html_page_resnet50.py write resnet50.html   # the README's benchmark venv
    .venv/bin/python benchmarks/html_page_resnet50.py open resnet50.html   # headless Chromium

``write`` also writes ``resnet50-check.html``: the check page with one layer (``layer2.1.relu``,
lowered as a Sigmoid) wrong, to see it and everything after it coloured.
"""
import json
import sys
import time


def write(path: str) -> None:
    import torch
    import torchvision

    import graphnn
    from graphnn.backend.onnx import registry
    from graphnn.build import build
    from graphnn.inputs import model_inputs
    from graphnn.ops import opdef
    from graphnn.view import view_of_graph
    from graphnn.view.html import check_page, to_html

    model = torchvision.models.resnet50(weights=None).eval()
    example = (torch.randn(1, 3, 224, 224),)
    started = time.perf_counter()
    graph = graphnn.trace(model, example)
    page = to_html(view_of_graph(graph, model))
    with open(path, "w") as out:
        out.write(page)
    print(f"wrote {path}: {len(page):,} bytes in {time.perf_counter() - started:.1f} s")

    right = registry.lowering_for("relu", 18)

    def wrong(ctx, node):  # one block's first ReLU lowered as a Sigmoid
        if node.name == "layer2.1.relu":
            ctx.add1("Sigmoid", ctx.inputs(node), ctx.output(node))
        else:
            right(ctx, node)

    versions = registry._LOWERINGS[opdef("relu")]  # a benchmark's deliberate breakage, not an API use
    saved = dict(versions)
    versions.clear()
    versions[1] = wrong
    try:
        report = graphnn.check_parity(model, example)
        print(f"parity with the broken lowering: {report.summary()}")
        check_path = path.replace(".html", "-check.html")
        with open(check_path, "w") as out:
            out.write(check_page(model, build(model, model_inputs(model, example), 18, optimize_graph=False), report))
        print(f"wrote {check_path}")
    finally:
        versions.clear()
        versions.update(saved)


def open_page(path: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        for page_path in (path, path.replace(".html", "-check.html")):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            started = time.perf_counter()
            page.goto(f"file://{__import__('os').path.abspath(page_path)}")
            page.wait_for_function("window.graphnnPage && window.graphnnPage.ready", timeout=120000)
            first = time.perf_counter() - started
            at_open = page.evaluate("graphnnPage.counts()")
            repeats = page.evaluate("graphnnPage.cy.nodes('.repeat').map(n => n.data('label'))")
            expand_ms = page.evaluate("graphnnPage.expandAll()")
            print(json.dumps({"page": page_path, "first_paint_s": round(first, 2), "at_open": at_open,
                              "repeats": repeats, "expand_all_s": round(expand_ms / 1000, 2),
                              "after_expand": page.evaluate("graphnnPage.counts()")}, indent=1))
            page.close()
        browser.close()


if __name__ == "__main__":
    {"write": write, "open": open_page}[sys.argv[1]](sys.argv[2])
