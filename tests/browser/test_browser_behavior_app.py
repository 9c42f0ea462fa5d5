"""The behaviour app in a real browser: chromium (Playwright) against Voila.

A tracking file is loaded through the path box; a rectangle is drawn with the mouse
(shift + drag with Bokeh's BoxEditTool) on the video frame; the ROI table must show the
entries and the latency that the engine computes for that rectangle on the file's
positions; a line is drawn with the line PolyDrawTool (press and hold, tap, press and
hold); Export must write ``roi_summary.csv`` with the rectangle's row,
``line_crossings.csv`` with the line's crossings as the engine counts them, and
``rois.geojson`` with both ROIs, the line where the mouse went. A screenshot
``behavior_app.png`` goes to the ``screenshots_dir`` (a temporary folder;
``docs/_static/screenshots/`` under ``make screenshots``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh_js import JS_FIND  # tests/browser is on sys.path (pytest `pythonpath`)

from posekit.engine.behavior.calibration import Calibration
from posekit.engine.behavior.filters import FilterConfig, filter_poses
from posekit.engine.behavior.roi import (
    LineROI,
    RectangleROI,
    compute_line_crossings,
    compute_roi_occupancy,
    line_crossing_summary,
    load_rois,
    roi_summary,
)
from posekit.engine.demo import make_demo_project
from posekit.engine.io import load_poses

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "behavior.ipynb"
N = 150
FPS = 30.0
BOX = 50.0  # side of the drawn square in image pixels

# Frame box (page coordinates) and data ranges of the ROI editor's figure.
JS_EDITOR = (
    "() => {"
    + JS_FIND
    + """
  const view = findView('posekit-roi-editor');
  if (!view) return null;
  const c = view.canvas_view.el.getBoundingClientRect();
  const b = view.frame.bbox;
  const m = view.model;
  return {left: c.left + b.left, top: c.top + b.top, width: b.width, height: b.height,
          x0: m.x_range.start, x1: m.x_range.end, y0: m.y_range.start, y1: m.y_range.end,
          image: m.renderers.some(r => r.data_source.data.url !== undefined
                                   && r.data_source.data.url.length > 0)};
}"""
)
# The rectangles in the editor's data source (what Python received).
JS_RECTS = (
    "() => {"
    + JS_FIND
    + """
  const m = findView('posekit-roi-editor').model;
  const r = m.renderers.find(r => r.data_source.data.width !== undefined);
  const d = r.data_source.data;
  return {x: Array.from(d.x), y: Array.from(d.y), width: Array.from(d.width),
          height: Array.from(d.height), name: Array.from(d.name)};
}"""
)
# Activate the line PolyDrawTool (what its toolbar button does).
JS_LINE_TOOL = (
    "() => {"
    + JS_FIND
    + """
  const m = findView('posekit-roi-editor').model;
  const t = m.toolbar.tools.find(t => (t.description || '').startsWith('Line'));
  t.active = true;
  return t.active;
}"""
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_project(
        tmp_path_factory.mktemp("behavior-app"), n_frames=N, n_labeled=0, fps=FPS
    )


@pytest.fixture(scope="module")
def tracking_file(demo) -> Path:
    """Copy the ground truth under a DLC-style name beside the project.

    Its video is found by name.
    """
    folder = demo.path / "tracking"
    folder.mkdir(exist_ok=True)
    target = folder / "session1DLC_resnet50_demoJan1shuffle1_100.h5"
    shutil.copy(demo.path / "ground-truth" / "session1_keypoints.h5", target)
    return target


@pytest.fixture(scope="module")
def server(voila_server, demo):
    return voila_server(APP, env={"POSEKIT_PROJECT": str(demo.path)})


def _square(tracking_file: Path) -> tuple[float, float, float, float]:
    """Return a square around the centroid where it is farthest from its start.

    The animal then starts outside the square and enters it later.
    """
    pos = load_poses(tracking_file)["position"].mean("keypoint")
    xy = pos.isel(individual=0).transpose("time", "space").values
    far = int(np.argmax(np.hypot(*(xy - xy[0]).T)))
    cx, cy = np.round(xy[far]).astype(float)
    return cx - BOX / 2, cy - BOX / 2, cx + BOX / 2, cy + BOX / 2


def _table(page, css: str) -> pd.DataFrame:
    """Read the first HTML table inside ``css`` as shown (cell texts, header row)."""
    cells = page.locator(f"{css} table").first.evaluate(
        "t => Array.from(t.rows, r => Array.from(r.cells, c => c.textContent.trim()))"
    )
    return pd.DataFrame(cells[1:], columns=cells[0])


def test_load_draw_roi_entries_export(
    server, page, demo, tracking_file, screenshots_dir
) -> None:
    page.goto(server.url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector(".posekit-roi-editor .bk-Canvas", timeout=90_000)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.index.roots.length > 0", timeout=30_000
    )
    # the demo's ground truth is loaded at start
    page.wait_for_selector(".posekit-loaded", timeout=30_000)

    # --- load a file through the path box
    path_input = page.locator(".posekit-behavior-path input")
    path_input.fill(str(tracking_file))
    page.locator(".posekit-behavior-load").click()
    page.wait_for_function(
        "(n) => Array.from(document.querySelectorAll('.posekit-session-name'))"
        ".some(e => e.textContent === n)",
        arg=tracking_file.stem,
        timeout=30_000,
    )
    assert page.locator(".posekit-session-name").count() == 1
    page.wait_for_selector(".posekit-roi-empty", timeout=30_000)  # no ROI yet

    # --- draw a square with the mouse: shift + drag (BoxEditTool)
    page.locator(".posekit-roi-editor").first.scroll_into_view_if_needed()
    time.sleep(0.5)
    view = page.evaluate(JS_EDITOR)
    assert view["image"], "the video frame is not shown under the ROIs"

    def to_page(x: float, y: float) -> tuple[float, float]:
        sx = view["left"] + (x - view["x0"]) / (view["x1"] - view["x0"]) * view["width"]
        sy = view["top"] + (y - view["y1"]) / (view["y0"] - view["y1"]) * view["height"]
        return sx, sy

    x_min, y_min, x_max, y_max = _square(tracking_file)
    p0, p1 = to_page(x_min, y_min), to_page(x_max, y_max)
    page.keyboard.down("Shift")
    page.mouse.move(*p0)
    page.mouse.down()
    page.mouse.move((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2, steps=5)
    page.mouse.move(*p1, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")

    # Python names the box (written back) and the ROI table appears
    page.wait_for_function(
        "() => {" + JS_FIND + " const m = findView('posekit-roi-editor').model;"
        " const r = m.renderers.find(r => r.data_source.data.width !== undefined);"
        " return r.data_source.data.name.length === 1"
        " && r.data_source.data.name[0] === 'roi1';}",
        timeout=20_000,
    )
    page.wait_for_selector(".posekit-roi-table table", timeout=20_000)
    rects = page.evaluate(JS_RECTS)
    cx, cy = rects["x"][0], rects["y"][0]
    w, h = abs(rects["width"][0]), abs(rects["height"][0])
    # the drawn box is where the mouse went (within a screen pixel)
    tol = 1.5 * (view["x1"] - view["x0"]) / view["width"]
    assert abs((cx - w / 2) - x_min) < tol and abs((cx + w / 2) - x_max) < tol
    assert abs((cy - h / 2) - y_min) < tol and abs((cy + h / 2) - y_max) < tol
    roi = RectangleROI("roi1", cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    # the expected answer: the engine on the file's positions, cleaned as the app
    # does by default (gaps of up to 10 frames filled, a median of 5 frames)
    poses = filter_poses(
        Calibration(fps=FPS).apply(load_poses(tracking_file)),
        config=FilterConfig(
            method="median", window=5, max_gap=10,
            confidence_threshold=demo.cfg["pcutoff"],
        ),
    )  # fmt: skip
    expected = roi_summary(compute_roi_occupancy(poses, [roi]), fps=FPS).iloc[0]
    assert expected["entries"] >= 1 and expected["latency"] > 0

    shown = _table(page, ".posekit-roi-table")
    row = shown[shown["roi"] == "roi1"].iloc[0]
    assert int(row["entries"]) == int(expected["entries"])
    assert int(row["latency"]) == int(expected["latency"])
    assert int(row["frames_inside"]) == int(expected["frames_inside"])

    # --- draw a line: press and hold starts it, a tap adds a point, press and hold
    # on the last point ends it (Bokeh 3.9 PolyDrawTool; taps 300 ms apart, else a
    # double tap, which the tool ignores)
    assert page.evaluate(JS_LINE_TOOL)
    span_x, span_y = view["x1"] - view["x0"], view["y0"] - view["y1"]
    line = [
        (round(view["x0"] + f * span_x), round(view["y1"] + g * span_y))
        for f, g in ((0.15, 0.9), (0.5, 0.8), (0.85, 0.9))
    ]

    def hold(x: float, y: float) -> None:
        page.mouse.move(x, y)
        page.mouse.down()
        time.sleep(0.6)
        page.mouse.up()
        time.sleep(0.5)

    hold(*to_page(*line[0]))
    page.mouse.click(*to_page(*line[1]))
    time.sleep(0.5)
    hold(*to_page(*line[2]))
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.posekit-roi-list option'))"
        ".some(o => o.textContent.replace(/\\u00a0/g, ' ')"
        " === 'roi2: line with 3 points')",  # ipywidgets writes spaces as nbsp
        timeout=20_000,
    )

    # --- export: the CSV on disk has the same row
    out = demo.path / "behavior-results"
    page.locator(".posekit-output-dir input").fill(str(out))
    page.locator(".posekit-output-dir input").press("Tab")
    page.locator(".posekit-behavior-export").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.posekit-written-file'))"
        ".some(e => e.textContent === 'roi_summary.csv')",
        timeout=90_000,
    )
    csv = out / "roi_summary.csv"
    assert csv.is_file()
    table = pd.read_csv(csv)
    assert table["roi"].tolist() == ["roi1"]  # a line has no inside
    assert table["session"].tolist() == [tracking_file.stem]
    got = table.iloc[0]
    for col in ("entries", "exits", "frames_inside", "latency", "n_bouts"):
        assert got[col] == expected[col], col
    assert got["time_inside_s"] == pytest.approx(expected["time_inside_s"])
    bouts = pd.read_csv(out / "roi_bouts.csv")
    bouts = bouts[bouts["roi"] == "roi1"]
    assert int(bouts["start"].iloc[0]) == int(expected["latency"])
    rois = json.loads((out / "rois.geojson").read_text())
    assert [f["properties"]["name"] for f in rois["features"]] == ["roi1", "roi2"]
    drawn = rois["features"][1]
    assert drawn["properties"]["roi_type"] == "LineOfInterest"
    assert drawn["geometry"]["type"] == "LineString"
    got_line = np.asarray(drawn["geometry"]["coordinates"])
    assert got_line.shape == (3, 2)
    assert np.abs(got_line - np.asarray(line, float)).max() < tol, got_line
    assert load_rois(out / "rois.geojson")[1].points == tuple(map(tuple, got_line))
    # the line's crossings: the engine's answer on the same positions
    want = line_crossing_summary(
        compute_line_crossings(poses, [LineROI("roi2", got_line)]), fps=FPS
    ).iloc[0]
    crossed = pd.read_csv(out / "line_crossings.csv")
    assert crossed["roi"].tolist() == ["roi2"]
    for col in ("crossings", "to_right", "to_left"):
        assert int(crossed[col].iloc[0]) == int(want[col]), col
    assert page.locator("table.posekit-line-crossings").count() == 1
    listed = page.locator(".posekit-written-file").all_inner_texts()
    assert "roi_summary.csv" in listed and "behavior_tables.xlsx" in listed
    for name in listed:
        assert (out / name).is_file(), name

    # the screenshot: the drawn ROI on the frame and the tables under it
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.locator(".posekit-roi-editor-box").evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    time.sleep(0.5)
    shot = screenshots_dir / "behavior_app.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert not page.posekit_errors, page.posekit_errors
