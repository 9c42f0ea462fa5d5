"""Stop in the analysis app, in a real browser: chromium (Playwright) against Voila.

Analyze a long demo video, press Stop (from the keyboard: Analyze hands the focus to
it) once frames move, and see the stopped status with the frame it stopped at; the
frames so far are kept beside the output (``.<output>.partial.npz``), no ``.h5`` is
written, Analyze is enabled again and Stop disabled.

Reloading the page while it analyses ends the analysis with the page's kernel (QA
s22 #3): the page says so while it runs, and the page reloaded says that the last
analysis was stopped when its page was left and that Analyze videos continues it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest

from posekit.engine.api import train_network
from posekit.engine.demo import make_demo_project

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "analyze.ipynb"
#: Frames of the demo video: long enough that the analysis still runs when Stop is
#: pressed after the first frames (a few hundred frames/s at most here).
N_FRAMES = 2400

#: The element that has the keyboard focus, described.
JS_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el) return null;
  return {tag: el.tagName, text: (el.textContent || '').trim(),
          status: !!el.closest('.posekit-analysis-status')};
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Make a demo project with a long video and a network trained a few steps."""
    project = make_demo_project(
        tmp_path_factory.mktemp("analyze-stop"), n_frames=N_FRAMES, n_labeled=8
    )
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=3,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    return project


@pytest.fixture(scope="module")
def server(voila_server, demo):
    return voila_server(APP, env={"POSEKIT_PROJECT": str(demo.path)}, timeout=120)


def _wait(page, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        page.wait_for_timeout(200)


def _state(page) -> str | None:
    return page.locator(".posekit-analysis-state").get_attribute("data-state")


def test_stop_shows_where_the_analysis_stopped(server, demo, page) -> None:
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    analyze = page.get_by_role("button", name="Analyze videos")
    stop = page.get_by_role("button", name="Stop")  # (the icon is in the name)
    assert stop.is_disabled() and analyze.is_enabled()  # nothing runs yet

    analyze.click()
    _wait(page, lambda: _state(page) == "running", 30, "the analysis to start")
    assert analyze.is_disabled()
    # frames move (TensorFlow, loading and the TFLite conversion come first)
    text = page.locator(".posekit-analysis-progress-text")
    _wait(page, lambda: "frames/s" in text.inner_text(), 240, "frames to move")
    assert stop.is_enabled()
    # Analyze disabled itself and handed the focus to Stop: Enter presses it
    focused = page.evaluate(JS_FOCUSED)
    assert focused and focused["tag"] == "BUTTON" and focused["text"] == "Stop"
    page.keyboard.press("Enter")

    _wait(page, lambda: _state(page) == "stopped", 60, "the stopped status")
    status = page.locator(".posekit-analysis-status").inner_text()
    found = re.search(r"stopped at frame (\d+) of (\d+) \(session1\.mp4\)", status)
    assert found, status
    frame, total = int(found[1]), int(found[2])
    assert 0 < frame < total == N_FRAMES
    assert "Analyze videos resumes there" in status
    assert analyze.is_enabled() and stop.is_disabled()  # Analyze comes back
    # the focus left the disabled Stop for the announced status line
    _wait(page, lambda: page.evaluate(JS_FOCUSED)["status"], 10, "status focus")
    assert page.locator(".posekit-analysis-status").get_attribute("role") == "status"

    videos = Path(demo.videos()[0]).parent
    partial = list(videos.glob(".session1DLC_*.partial.npz"))
    assert len(partial) == 1  # the frames so far, for the next Analyze
    assert not list(videos.glob("session1DLC_*.h5"))  # no incomplete output
    assert page.posekit_errors == []


def test_a_reload_stops_the_analysis_and_the_page_says_so(server, demo, page) -> None:
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    leave = page.locator(".posekit-analysis-leave")
    assert not leave.is_visible()  # nothing runs
    page.get_by_role("button", name="Analyze videos").click()
    _wait(page, lambda: _state(page) == "running", 30, "the analysis to start")
    # while it runs: leaving or reloading stops it (a training goes on)
    assert leave.is_visible()
    assert "leaving or reloading the page stops it" in leave.inner_text()
    text = page.locator(".posekit-analysis-progress-text")
    _wait(page, lambda: "frames/s" in text.inner_text(), 240, "frames to move")
    assert _state(page) == "running"

    kernel = server.kernel_pids()[-1]  # this page's (the newest)
    page.reload(wait_until="domcontentloaded")
    # the apps' server ends the kernel of a page left, with its process group
    # (Voila's unload beacon; a plain voila, as here, may not: done as it does)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(kernel), signal.SIGKILL)
    _wait(page, lambda: kernel not in server.kernel_pids(), 30, "the kernel to go")
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    status = page.locator(".posekit-analysis-status")

    def said() -> bool:
        if "runs in another page" in status.inner_text():  # the old kernel ends
            page.get_by_title("Re-read the videos and results").click()
        return "was stopped when its page was left" in status.inner_text()

    _wait(page, said, 60, "the page to say the analysis was stopped")
    message = status.inner_text()
    assert message.startswith("The last analysis of session1.mp4 (started at "), message
    assert "Press Analyze videos: it " in message
    assert _state(page) == "stopped"
    assert page.get_by_role("button", name="Analyze videos").is_enabled()
    assert not leave.is_visible()
    videos = Path(demo.videos()[0]).parent
    assert not list(videos.glob("session1DLC_*.h5"))  # it did not finish
    assert page.posekit_errors == []
