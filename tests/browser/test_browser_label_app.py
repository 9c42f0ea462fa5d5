"""The labelling app in a real browser: chromium (Playwright) against Voila.

Clicks at known image pixels must land in the h5 on disk within 0.5 px — also after
zooming with the wheel; drags, keyboard shortcuts, the jump box, a page reload, the check-labels
gallery and a SIGKILL of the kernel right after a click are exercised on a small demo
project. A screenshot of the app on (a copy of) the openfield project, ``label_app.png``
for the README, goes to the ``screenshots_dir`` (``docs/_static/screenshots/`` under
``make screenshots``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_labels
from posekit.engine.labels import list_frames
from posekit.engine.video import extract_frames

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "label.ipynb"
DOUBLE_TAP_GAP = 0.75  # s between clicks, or Bokeh makes a DoubleTap of them

# Ranges and frame size of the labeller's Bokeh figure, read in the page.
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
  return {x: Array.from(d.x), y: Array.from(d.y), bodypart: Array.from(d.bodypart)};
}"""

# Replaces the points table as a kernel update does, with one bodypart at (x, y).
JS_STALE_TABLE = """([bp, x, y]) => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const src = v.model.renderers.find(
      r => r.data_source && r.data_source.data.bodypart !== undefined).data_source;
  const d = {};
  for (const k of Object.keys(src.data)) { d[k] = Array.from(src.data[k]); }
  const i = d.bodypart.indexOf(bp);
  d.x[i] = x;
  d.y[i] = y;
  src.data = d;
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    project = make_demo_project(
        tmp_path_factory.mktemp("label-app"), n_frames=60, n_labeled=0, size=(320, 240)
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=4)
    return project


@pytest.fixture(scope="module")
def server(voila_server, demo):
    return voila_server(APP, env={"POSEKIT_PROJECT": str(demo.path)})


class Canvas:
    """Image pixel ↔ page coordinates of the labeller, from Bokeh's live ranges."""

    def __init__(self, page) -> None:
        self.page = page

    def box(self) -> dict:
        return self.page.locator(".labeler .bk-Canvas").first.bounding_box()

    def view(self) -> dict:
        return self.page.evaluate(JS_VIEW)

    def to_page(self, x: float, y: float) -> tuple[float, float]:
        v, b = self.view(), self.box()
        sx = (x - v["x0"]) * v["fw"] / (v["x1"] - v["x0"])
        sy = (y - v["y1"]) * v["fh"] / (v["y0"] - v["y1"])  # y flipped: end at top
        return b["x"] + sx, b["y"] + sy

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.to_page(x, y))
        time.sleep(DOUBLE_TAP_GAP)

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        self.page.mouse.move(*self.to_page(*start))
        self.page.mouse.down()
        self.page.mouse.move(*self.to_page(*end), steps=12)
        self.page.mouse.up()
        time.sleep(DOUBLE_TAP_GAP)

    def hover(self) -> None:
        b = self.box()
        self.page.mouse.move(b["x"] + 20, b["y"] + 20)


def read_point(h5: Path, frame: str, bp: str) -> tuple[float, float] | None:
    if not h5.exists():
        return None
    df = pd.read_hdf(h5, "df_with_missing")
    key = tuple(frame.split("/"))
    if key not in df.index:
        return None
    row = df.loc[key]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def wait_for_point(h5, frame, bp, expect, timeout=20.0) -> float:
    """Poll the h5 until ``bp`` is within 0.5 px of ``expect``; return the wait."""
    t0 = time.monotonic()
    got = None
    while time.monotonic() - t0 < timeout:
        got = read_point(h5, frame, bp)
        if got is not None and all(
            abs(g - e) <= 0.5 for g, e in zip(got, expect, strict=True)
        ):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"{bp} on {frame}: expected {expect}, h5 has {got}")


def open_app(page, url: str) -> Canvas:
    page.goto(url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector(".labeler .bk-Canvas", timeout=90_000)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.index.roots.some(r => r.model.name === "
        "'posekit-labeler')",
        timeout=30_000,
    )
    page.wait_for_selector(".labeler-status >> text=frame 1 of", timeout=30_000)
    time.sleep(0.5)  # let the frame image decode
    return Canvas(page)


def status(page) -> str:
    return page.locator(".labeler-status").first.inner_text()


def test_label_in_the_browser(server, page, demo, tmp_path):
    h5 = demo.labels_path("session1")
    frames = list_frames(demo, "session1")
    f0 = frames[0]
    canvas = open_app(page, server.url)
    v = canvas.view()
    assert (v["x0"], v["x1"], v["y0"], v["y1"]) == (-0.5, 319.5, 239.5, -0.5)
    assert canvas.box()["height"] == pytest.approx(v["fh"], abs=1)

    # QA s17 #7: in a 1024x700 window the whole image shows (a little smaller)
    page.set_viewport_size({"width": 1024, "height": 700})
    page.wait_for_function(
        "() => Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler')"
        ".el.getBoundingClientRect().bottom <= window.innerHeight",
        timeout=10_000,
    )
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.wait_for_function(f"() => ({JS_VIEW})().fh === {v['fh']}", timeout=10_000)

    # click at known pixels -> snout, then leftear (auto-selected), on disk
    latencies = []
    canvas.page.mouse.click(*canvas.to_page(100, 50))
    latencies.append(wait_for_point(h5, f0, "snout", (100, 50)))
    time.sleep(DOUBLE_TAP_GAP)
    canvas.page.mouse.click(*canvas.to_page(200, 150))
    latencies.append(wait_for_point(h5, f0, "leftear", (200, 150)))
    time.sleep(DOUBLE_TAP_GAP)
    assert "2 of 6 bodyparts" in status(page)

    # drag snout to a new place
    canvas.drag((100, 50), (130, 70))
    wait_for_point(h5, f0, "snout", (130, 70))

    # keyboard (mouse over the canvas): undo, redo, next/previous frame
    canvas.hover()
    page.keyboard.press("z")
    wait_for_point(h5, f0, "snout", (100, 50))
    page.keyboard.press("y")
    wait_for_point(h5, f0, "snout", (130, 70))

    # a points table that lands mid-drag (a slow kernel answering an earlier edit,
    # here with leftear where the drag started) must not move the drop: leftear ends
    # under the pointer, not at the stale place plus the rest of the moves
    page.mouse.move(*canvas.to_page(200, 150))
    page.mouse.down()
    page.mouse.move(*canvas.to_page(210, 160), steps=4)
    page.evaluate(JS_STALE_TABLE, ["leftear", 200, 150])
    page.mouse.move(*canvas.to_page(230, 170), steps=6)
    page.mouse.up()
    wait_for_point(h5, f0, "leftear", (230, 170))
    time.sleep(DOUBLE_TAP_GAP)
    canvas.drag((230, 170), (200, 150))
    wait_for_point(h5, f0, "leftear", (200, 150))
    canvas.hover()
    page.keyboard.press("n")
    page.wait_for_selector(".labeler-status >> text=frame 2 of 4", timeout=15_000)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector(".labeler-status >> text=frame 1 of 4", timeout=15_000)
    time.sleep(0.3)

    # the jump box: type a frame's file name or its number, then Enter
    jump = page.locator(".labeler-jump input").first
    jump.click()
    page.keyboard.type("39")
    page.keyboard.press("Enter")
    page.wait_for_selector(".labeler-status >> text=frame 3 of 4", timeout=15_000)
    assert "img39.png" in status(page)
    page.wait_for_function(
        "() => document.querySelector('.labeler-jump input').value === ''"
    )  # emptied for the next name
    page.keyboard.type("img00.png")
    page.keyboard.press("Enter")
    page.wait_for_selector(".labeler-status >> text=frame 1 of 4", timeout=15_000)
    assert "img00.png" in status(page)
    time.sleep(0.3)

    # zoom with the wheel around pixel (160, 120), then click: still image pixels
    page.mouse.move(*canvas.to_page(160, 120))
    page.mouse.wheel(0, -500)
    time.sleep(0.8)
    zoomed = canvas.view()
    assert zoomed["x1"] - zoomed["x0"] < 250, zoomed  # really zoomed in
    canvas.page.mouse.click(*canvas.to_page(170, 110))  # rightear is selected now
    latencies.append(wait_for_point(h5, f0, "rightear", (170, 110)))
    time.sleep(DOUBLE_TAP_GAP)
    before_reload = pd.read_hdf(h5, "df_with_missing")

    # reload: a new kernel shows the saved labels again
    canvas = open_app(page, server.url)
    assert "3 of 6 bodyparts" in status(page)
    pts = page.evaluate(JS_POINTS)
    got = {
        b: (x, y)
        for x, y, b in zip(pts["x"], pts["y"], pts["bodypart"], strict=True)
        if not b.startswith("__")
    }
    expect = {"snout": (130, 70), "leftear": (200, 150), "rightear": (170, 110)}
    assert set(got) == set(expect)
    for bp, xy in expect.items():
        assert got[bp] == pytest.approx(xy, abs=0.5)
    assert page.locator(".labeler-bodypart >> text=snout ✓").count() == 1

    # check labels: render, then click a frame to come back to the labeller
    page.get_by_text("3 · Check labels").click()
    page.get_by_role("button", name="Render labelled frames").click()
    page.wait_for_selector(".check-labels-open", timeout=30_000)
    assert (demo.path / "labeled-data" / "session1_labeled" / Path(f0).name).is_file()
    page.locator(".check-labels-open").first.click()
    page.wait_for_selector(".labeler .bk-Canvas", state="visible", timeout=15_000)
    assert Path(f0).name in status(page)
    time.sleep(0.5)
    page.screenshot(path=str(tmp_path / "demo_app.png"))

    # SIGKILL the kernel right after a click: the click is on disk, the file intact
    canvas = Canvas(page)
    kernel = server.kernel_pids()[-1]  # this page's kernel (the newest)
    canvas.page.mouse.click(*canvas.to_page(60, 200))  # neck
    delay = min(5.0, max(0.5, 2 * max(latencies)))
    time.sleep(delay)
    os.kill(kernel, signal.SIGKILL)
    time.sleep(0.2)
    assert read_point(h5, f0, "neck") == pytest.approx((60, 200), abs=0.5), (
        f"click not saved {delay:.2f} s after it (latencies {latencies})"
    )
    after = read_labels(h5)  # readable: the kill left a whole file
    others = [c for c in after.columns if c[1] != "neck"]
    pd.testing.assert_frame_equal(after[others], before_reload[others])
    assert not page.posekit_errors, page.posekit_errors


def test_openfield_screenshot(voila_server, page, openfield_dir, screenshots_dir):
    tmp = Path(tempfile.mkdtemp(prefix="posekit-"))  # a short path for the picture
    try:
        dst = tmp / "openfield-Pranav-2018-10-30"
        shutil.copytree(openfield_dir, dst)  # never label the shared copy
        server = voila_server(APP, env={"POSEKIT_PROJECT": str(dst)})
        page.set_viewport_size({"width": 1200, "height": 900})
        canvas = open_app(page, server.url)
        v = canvas.view()
        assert (v["x1"], v["y0"]) == (639.5, 479.5)  # 640x480 frames, 1:1
        assert "116 of 116 frames labelled" in status(page)
        # type a frame number into the slider's readout (the mouse is well in view)
        readout = page.locator(".posekit-labeler .widget-readout").first
        readout.click()
        page.keyboard.press("Control+a")
        page.keyboard.type("88")
        page.keyboard.press("Enter")
        page.wait_for_selector(".labeler-status >> text=img0087.png", timeout=15_000)
        assert "4 of 4 bodyparts" in status(page)
        time.sleep(0.8)  # image decode
        page.mouse.move(5, 5)
        app = page.locator(".posekit-label-app").first
        shot = screenshots_dir / "label_app.png"
        app.screenshot(path=str(shot))
        assert shot.stat().st_size > 50_000
        assert not page.posekit_errors, page.posekit_errors
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


JS_FOCUS = """() => {
  let e = document.activeElement;
  while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
  return (e.innerText || e.title || e.className || '').toString().slice(0, 40);
}"""
JS_KEYS_SEEN = "() => (window.posekitLabelerStats || {}).keys || 0"


@pytest.fixture(scope="module")
def keys_project(tmp_path_factory):
    project = make_demo_project(
        tmp_path_factory.mktemp("label-keys"), n_frames=60, n_labeled=0, size=(320, 240)
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=4)
    return project


def test_keyboard_only_at_200_percent_zoom(voila_server, page, keys_project):
    """QA s15: keyboard placement and the keys a focused control keeps.

    Also the canvas fit into a narrow window (683 CSS px: 200 % zoom on a laptop)
    and the status line's mode after a toolbar button.
    """
    project = keys_project
    h5 = project.labels_path("session1")
    f0 = list_frames(project, "session1")[0]
    server = voila_server(APP, env={"POSEKIT_PROJECT": str(project.path)})
    page.set_viewport_size({"width": 683, "height": 340})
    canvas = open_app(page, server.url)
    host = page.locator("div.labeler").filter(has=page.locator(".bk-Canvas")).first

    def offset() -> float:
        return canvas.box()["x"] - host.bounding_box()["x"]

    # #4: nothing clipped, toolbar included; tabbing onto the toolbar shifts nothing
    assert host.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    tool = page.locator(".labeler [title='Pan']").first
    assert (
        tool.bounding_box()["x"] + 20
        <= host.bounding_box()["x"] + host.bounding_box()["width"]
    )
    tool.focus()
    time.sleep(0.3)
    assert offset() == pytest.approx(0, abs=1)

    # #2, #3: a focused tab bar and slider keep their arrow keys
    seen = page.evaluate(JS_KEYS_SEEN)
    page.locator(".lm-TabBar-tab", has_text="2 · Label").first.focus()
    page.keyboard.press("ArrowRight")
    time.sleep(0.8)
    assert "3 · Check labels" in page.evaluate(JS_FOCUS)
    marker = page.locator(".widget-slider").filter(has_text="Marker")
    before = marker.locator(".widget-readout").inner_text()
    marker.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    time.sleep(0.8)
    assert int(marker.locator(".widget-readout").inner_text()) == int(before) + 1
    assert page.evaluate(JS_KEYS_SEEN) == seen  # the labeller took none of them
    assert "frame 1 of 4" in status(page)

    # #1: k places the selected bodypart mid-image, arrows move it, Esc lets go
    name = page.locator(".labeler [role=application]").first
    assert "0 of 6 bodyparts placed" in name.get_attribute("aria-label")
    assert page.locator(".labeler-status").first.get_attribute("aria-live") == "polite"
    page.locator(".labeler-bodypart", has_text="snout").first.focus()
    page.keyboard.press("k")
    wait_for_point(h5, f0, "snout", (160, 120))
    page.wait_for_selector(".labeler-status >> text=arrows move snout", timeout=15_000)
    page.keyboard.press("ArrowRight")
    wait_for_point(h5, f0, "snout", (161, 120))
    page.keyboard.press("Shift+ArrowDown")
    wait_for_point(h5, f0, "snout", (161, 130))
    page.keyboard.press("+")  # zoom in around the active point
    page.wait_for_function(
        f"() => {{ const v = ({JS_VIEW})(); return v && v.x1 - v.x0 < 220; }}"
    )
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.wait_for_function(
        f"() => {{ const v = ({JS_VIEW})(); return v && v.x1 - v.x0 > 319; }}"
    )
    name.focus()  # Enter on the image places the next bodypart (leftear)
    page.keyboard.press("Enter")
    wait_for_point(h5, f0, "leftear", (160, 120))
    t0 = time.monotonic()  # the image's name follows (after the kernel's answer)
    while "2 of 6 bodyparts placed; arrows move leftear" not in (
        name.get_attribute("aria-label")
    ):
        assert time.monotonic() - t0 < 15, name.get_attribute("aria-label")
        time.sleep(0.1)
    page.keyboard.press("Escape")

    # #6: Point Draw switched off in the toolbar shows in the status; m restores it
    page.locator(".labeler [title='Point Draw Tool']").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".labeler-status >> text=mode: no tool", timeout=15_000)
    page.keyboard.press("m")
    page.wait_for_selector(".labeler-status >> text=mode: label", timeout=15_000)

    # #4: narrower still, the canvas is scaled down and clicks stay exact pixels
    page.set_viewport_size({"width": 420, "height": 340})
    page.wait_for_function(f"() => ({JS_VIEW})().fw < 480")
    time.sleep(0.5)
    assert host.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    canvas.click(230, 170)  # rightear
    wait_for_point(h5, f0, "rightear", (230, 170))
    assert not page.posekit_errors, page.posekit_errors
