"""Dragging a machine guess in the refine app lands where the pointer lets go (QA s16 #1).

A demo project's extracted frames carry machine labels (``machinelabels-iter0.h5``);
the refine app's "2 · Refine" tab shows them as hollow guesses. At 1400×1000 and at a
narrow width, a guess is dragged (mouse down, a pause mid-drag long enough for the
kernel's answer to the point becoming active, mouse up) and the coordinates saved in
``CollectedData_<scorer>.h5`` must equal the drop position to the pixel. Before the
fix the status line gained "· arrows move <part> (Shift: 10 px, Esc: done)" as the
drag started, wrapped to another line and pushed the canvas down 28 px under the
pointer: the point was saved 28 px off in y. A drag that holds the button still for
1.5 s before moving (Bokeh's "press") must move the point too; it did not.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.refinement import write_machine_labels

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "refine.ipynb"

JS_VIEW = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  if (!v) return null;
  const m = v.model;
  return {x0: m.x_range.start, x1: m.x_range.end, y0: m.y_range.start,
          y1: m.y_range.end, fw: m.frame_width, fh: m.frame_height};
}"""
JS_POINTS = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const r = v.model.renderers.find(
      r => r.data_source && r.data_source.data.bodypart !== undefined);
  const d = r.data_source.data;
  return {x: Array.from(d.x), y: Array.from(d.y), bodypart: Array.from(d.bodypart),
          fill: Array.from(d.fill)};
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Make a demo project whose extracted (unlabelled) frames have machine labels."""
    project = make_demo_project(
        tmp_path_factory.mktemp("drag-guess"), n_frames=40, n_labeled=4
    )
    folder = project.labeled_data_dir("session1")
    for f in folder.glob("CollectedData_*"):  # extracted frames, not labelled yet
        f.unlink()
    frames = sorted(f"labeled-data/session1/{p.name}" for p in folder.glob("*.png"))
    assert frames
    k = len(project.bodyparts)
    xyp = np.zeros((len(frames), k, 3))
    for j in range(k):  # well apart, away from the edges of the 320×240 image
        xyp[:, j] = (60 + 45 * j, 50 + 30 * j, 0.95)
    write_machine_labels(
        project,
        "session1",
        frames,
        xyp,
        "DLC_resnet50_demoshuffle1_100",
        project.bodyparts,
    )
    return project


@pytest.fixture(scope="module")
def server(voila_server, demo):
    return voila_server(APP, env={"POSEKIT_PROJECT": str(demo.path)}, timeout=120)


def wait_until(fn, timeout: float = 30.0, what: str = ""):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def point_on_disk(demo, frame: str, bp: str):
    path = demo.labels_path("session1")
    if not path.exists():
        return None
    df = pd.read_hdf(path, "df_with_missing")
    key = tuple(frame.split("/"))
    if key not in df.index:
        return None
    row = df.loc[key]
    x, y = (float(row[(demo.scorer, bp, c)]) for c in ("x", "y"))
    return (x, y) if np.isfinite([x, y]).all() else None


def canvas_box(page) -> dict:
    return page.locator(".labeler .bk-Canvas").first.bounding_box()


def to_page(page, x: float, y: float) -> tuple[float, float]:
    """Image pixel → page position, from Bokeh's live ranges and the canvas's box."""
    v, b = page.evaluate(JS_VIEW), canvas_box(page)
    sx = (x - v["x0"]) * v["fw"] / (v["x1"] - v["x0"])
    sy = (y - v["y1"]) * v["fh"] / (v["y0"] - v["y1"])
    return b["x"] + sx, b["y"] + sy


def guesses(page) -> dict[str, tuple[float, float]]:
    pts = page.evaluate(JS_POINTS)
    return {
        b: (x, y)
        for x, y, b, f in zip(
            pts["x"], pts["y"], pts["bodypart"], pts["fill"], strict=True
        )  # fmt: skip
        if f == "machine" and not b.startswith("__")
    }


def drag(page, start, end, *, hold: float = 0.0) -> tuple[dict, dict]:
    """Drag from image pixel ``start`` to ``end``; the canvas box before and mid-drag."""
    sx, sy = to_page(page, *start)
    ex, ey = to_page(page, *end)
    before = canvas_box(page)
    page.mouse.move(sx, sy)
    time.sleep(0.3)
    page.mouse.down()
    time.sleep(hold)
    page.mouse.move((sx + ex) / 2, (sy + ey) / 2, steps=5)
    time.sleep(1.5)  # the kernel answers the point becoming active, mid-drag
    page.mouse.move(ex, ey, steps=5)
    during = canvas_box(page)
    page.mouse.up()
    return before, during


@pytest.mark.parametrize("width", [1400, 760])
def test_dragged_guess_lands_under_the_pointer(server, page, demo, width):
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(server.url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector(".posekit-refine-app", timeout=120_000)
    page.get_by_text("2 · Refine").click()
    page.wait_for_selector(".labeler .bk-Canvas", state="visible", timeout=60_000)
    time.sleep(2.0)  # the frame image decodes, the canvas fits the width
    status = page.locator(".labeler-status >> visible=true").first
    frame_name = wait_until(
        lambda: status.inner_text().split(" ·")[0].strip(), what="the status line"
    )
    frame = f"labeled-data/session1/{frame_name}"
    shown = wait_until(lambda: guesses(page), what="the guesses")
    order = sorted(shown)
    assert len(order) >= 2, shown
    # a quick drag, then one held still for 1.5 s before it moves
    for bp, hold in ((order[0], 0.0), (order[-1], 1.5)):
        start = shown[bp]
        target = (round(start[0] + 17), round(start[1] - 11))
        before, during = drag(page, start, target, hold=hold)
        assert during["y"] == pytest.approx(before["y"], abs=0.5), (
            f"the canvas moved mid-drag at width {width}: {before} → {during}"
        )
        got = wait_until(
            lambda bp=bp: point_on_disk(demo, frame, bp),
            what=f"{bp} on disk after the drag (hold {hold} s)",
        )
        assert got == pytest.approx(target, abs=0.5), (bp, hold, width)
    assert not page.posekit_errors, page.posekit_errors
