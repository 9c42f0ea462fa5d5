"""The labeller's keys in real JupyterLab: chromium (Playwright) against ``jupyter lab``.

JupyterLab's command mode takes single keys too (``x`` cuts the cell, ``a`` inserts
one above, ``c``/``v`` copy and paste cells, ``m`` makes a cell Markdown). QA s18 #1:
after a click on the labeller's image, ``x`` ("delete point") cut the labeller's
cell out of the notebook and ``n`` (next frame) did nothing. While the user works in
the labeller (the pointer over it, or the last click in it) its keys must act on it
and never reach the notebook; after a click elsewhere in the notebook JupyterLab's
keys work again, and keys typed in a text box go to the box. QA s18 #9: the
trajectory viewer fits the notebook's width at 1400 px (its time series wrap under
the video instead of being cut off).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.labels import list_frames
from posekit.engine.project import Project
from posekit.engine.video import extract_frames

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOUBLE_TAP_GAP = 0.75  # s between clicks, or Bokeh makes a DoubleTap of them

JS_NOTEBOOK = "() => jupyterapp.shell.currentWidget.content"
JS_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && jupyterapp.shell.currentWidget;
  const s = w && w.sessionContext && w.sessionContext.session;
  return !!(s && s.kernel && s.kernel.status === 'idle');
}"""
JS_CELLS = """() => {
  const nb = jupyterapp.shell.currentWidget.content;
  return {n: nb.model.cells.length,
          sources: Array.from(nb.model.cells, (c) => c.sharedModel.getSource()),
          mode: nb.mode};
}"""
JS_VIEW = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const m = v.model;
  return {x0: m.x_range.start, x1: m.x_range.end, y0: m.y_range.start,
          y1: m.y_range.end, fw: m.frame_width, fh: m.frame_height};
}"""


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> tuple[Path, Project]:
    """Make a folder with a tiny demo project and a notebook opening a labeller."""
    root = tmp_path_factory.mktemp("jupyterlab-root")
    project = make_demo_project(
        root / "demo", n_frames=60, n_labeled=0, size=(320, 240)
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=4)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Labelling in JupyterLab"),
        nbformat.v4.new_code_cell(
            "from posekit.widgets.labeler import Labeler\n"
            f"lab = Labeler({str(project.path)!r})\n"
            "lab.widget"
        ),
        nbformat.v4.new_code_cell("after = 1"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "labelling.ipynb")
    return root, project


@pytest.fixture(scope="module")
def lab(jupyterlab_server, lab_root):
    """One JupyterLab server on the folder, for the module's tests."""
    return jupyterlab_server(lab_root[0])


def read_point(h5: Path, frame: str, bp: str) -> tuple[float, float] | None:
    """Read ``bp`` on ``frame`` from the label file (None: no file, row or point)."""
    if not h5.exists():
        return None
    df = pd.read_hdf(h5, "df_with_missing")
    key = tuple(frame.split("/"))
    if key not in df.index:
        return None
    x, y = df.loc[key, ("posekit", bp, "x")], df.loc[key, ("posekit", bp, "y")]
    if math.isnan(x) or math.isnan(y):
        return None
    return float(x), float(y)


def wait_for(fn, expect, what: str, timeout: float = 30.0):
    """Poll ``fn()`` until it gives ``expect`` (floats within 0.5 px)."""

    def same(got) -> bool:
        if expect is None or got is None:
            return got is expect
        return all(abs(g - e) <= 0.5 for g, e in zip(got, expect, strict=True))

    deadline = time.monotonic() + timeout
    got = fn()
    while not same(got):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: expected {expect}, got {got}")
        time.sleep(0.1)
        got = fn()
    return got


def status(page) -> str:
    return page.locator(".labeler-status").first.inner_text()


def to_page(page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of image pixel (x, y), from Bokeh's live ranges."""
    v = page.evaluate(JS_VIEW)
    b = page.locator(".labeler .bk-Canvas").first.bounding_box()
    sx = (x - v["x0"]) * v["fw"] / (v["x1"] - v["x0"])
    sy = (y - v["y1"]) * v["fh"] / (v["y0"] - v["y1"])  # y flipped: end at top
    return b["x"] + sx, b["y"] + sy


def test_labeler_keys_in_jupyterlab(lab, page, lab_root):
    root, project = lab_root
    h5 = project.labels_path("session1")
    f0 = list_frames(project, "session1")[0]
    page.goto(
        lab.url_for("lab/tree/labelling.ipynb"),
        wait_until="domcontentloaded",
        timeout=120_000,
    )
    page.wait_for_function(JS_KERNEL_IDLE, timeout=120_000, polling=250)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".labeler-status >> text=frame 1 of 4", timeout=120_000)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.index.roots.some(r => r.model.name === "
        "'posekit-labeler')",
        timeout=30_000,
    )
    time.sleep(0.5)  # the frame image decodes
    sources = page.evaluate(JS_CELLS)["sources"]
    assert len(sources) == 3

    def cells() -> list[str]:
        return page.evaluate(JS_CELLS)["sources"]

    # a click on the image places snout (it becomes the active point), on disk
    page.mouse.click(*to_page(page, 100, 50))
    wait_for(lambda: read_point(h5, f0, "snout"), (100, 50), "snout after the click")
    time.sleep(DOUBLE_TAP_GAP)
    assert page.evaluate(JS_CELLS)["mode"] == "command"  # JupyterLab's keys armed

    # the pointer leaves the labeller (the last click was in it): x deletes the
    # point and the notebook keeps its cells (JupyterLab: x = cut the cell)
    page.mouse.move(640, 8)
    page.keyboard.press("x")
    wait_for(lambda: read_point(h5, f0, "snout"), None, "snout after x")
    time.sleep(0.5)
    assert cells() == sources
    # n: the next frame (JupyterLab: nothing)
    page.keyboard.press("n")
    page.wait_for_selector(".labeler-status >> text=frame 2 of 4", timeout=30_000)

    # keys typed in a text box go to the box, not to the labeller or the notebook
    jump = page.locator(".labeler-jump input").first
    jump.click()
    page.keyboard.type("xn")
    assert jump.input_value() == "xn"
    time.sleep(0.5)
    assert cells() == sources
    assert "frame 2 of 4" in status(page)
    jump.fill("")

    # a click elsewhere in the notebook gives JupyterLab its keys back: a inserts a
    # cell above the last one; the labeller stays on its frame
    page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-InputPrompt").click()
    time.sleep(0.3)
    page.keyboard.press("Escape")  # command mode (the click may not leave edit mode)
    page.keyboard.press("a")
    wait_for(lambda: (len(cells()),), (4,), "cells after a on the last cell")
    now = cells()
    assert now[:2] == sources[:2] and now[2] == "" and now[3] == sources[2]
    assert "frame 2 of 4" in status(page)

    # the pointer over the image (no click): the keys are the labeller's again
    page.locator(".labeler .bk-Canvas").first.scroll_into_view_if_needed()
    time.sleep(0.3)
    page.mouse.move(*to_page(page, 160, 120))
    page.keyboard.press("n")
    page.wait_for_selector(".labeler-status >> text=frame 3 of 4", timeout=30_000)
    page.keyboard.press("x")  # nothing to delete here; JupyterLab would cut a cell
    time.sleep(1.0)
    assert cells() == now
    assert "frame 3 of 4" in status(page)
    assert read_point(h5, f0, "snout") is None
    assert not [e for e in page.posekit_errors if "pageerror" in e], page.posekit_errors
