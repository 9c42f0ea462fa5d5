"""Open and the results' links in the analysis app: chromium against the apps' server.

QA s18 (a workshop student on Binder): after the analysis, "Open" put the trajectory
viewer below the results list and the export, out of sight, and nothing seemed to
happen; a labelled video could not be downloaded or played from the browser. Served
as ``make app`` serves it (``python -m posekit.widgets.serve``, with a token), on a
project with several analysed videos and a labelled video:

- Open on the last result shows the viewer at the top of the results, and the page
  scrolls its title to the top of the window, the viewer filling the window below
  (the title has the focus); the list follows.
- The labelled video's "play" link gives the file's bytes (200, the same length) and
  plays in a tab of its own (the browser reads its length); the CSV link downloads
  the same bytes; a path outside the project is refused (403).
- The viewer's "Labelled video" plays from that address (the player's ``src``), not
  from bytes the kernel sent into the widget.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from conftest import NOTEBOOKS, free_port

from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.labeled_video import create_labeled_video

pytestmark = pytest.mark.browser

TOKEN = "analyze-open-token"
SCORER = "DLC_resnet50_demoJan1shuffle1_100"
N_FRAMES = 60
N_VIDEOS = 4

#: Where an element is against the window: its top and bottom, the window's height.
JS_BOX = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: window.innerHeight};
}"""
#: Whether the focus is in the viewer's title.
JS_TITLE_FOCUSED = """() => {
  const el = document.activeElement;
  return !!(el && el.closest('.posekit-analysis-viewer-title'));
}"""
#: Open a served video in a <video> and wait for its length (it can be played).
JS_PLAY = """async (url) => {
  const v = document.createElement('video');
  v.muted = true; v.preload = 'auto'; v.src = url;
  document.body.appendChild(v);
  await new Promise((ok, fail) => {
    v.onloadedmetadata = ok;
    v.onerror = () => fail(new Error('video error ' + (v.error && v.error.code)));
  });
  return {duration: v.duration, width: v.videoWidth, height: v.videoHeight};
}"""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Build a data root: a demo project, every video analysed, one labelled video."""
    root = tmp_path_factory.mktemp("analyze-open").resolve()
    project = make_demo_project(
        root / "demo", n_frames=N_FRAMES, n_labeled=0, n_videos=N_VIDEOS
    )
    for video in project.videos():
        truth, _ = load_ground_truth(project, video)
        xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.9)], axis=-1)
        frame = predictions_frame(xyp, SCORER, project.bodyparts)
        out = Path(video).parent / f"{Path(video).stem}{SCORER}.h5"
        write_predictions(frame, out)
        if Path(video).stem == "session1":
            frame.to_csv(out.with_suffix(".csv"))
            create_labeled_video(video, out, progress=False)
    return root


@pytest.fixture(scope="module")
def project(data_root):
    return next((data_root / "demo").glob("*/config.yaml")).parent


@pytest.fixture(scope="module")
def server(data_root, project, tmp_path_factory):
    """Run the apps' server as ``make app`` does; yield its port."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "POSEKIT_TOKEN": TOKEN,
        "POSEKIT_DEMO_DIR": str(data_root / "demo"),
    }
    cmd = [
        sys.executable,
        "-m",
        "posekit.widgets.serve",
        str(NOTEBOOKS),
        f"--port={port}",
        f"--data-root={data_root}",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while "running at" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait(page, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        page.wait_for_timeout(200)


def test_open_shows_the_viewer_in_sight_and_the_files_are_served(
    server, project, page, tmp_path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    url = (
        f"http://127.0.0.1:{server}/voila/render/analyze.ipynb?"
        f"project={quote(str(project))}&token={TOKEN}"
    )
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    opens = page.get_by_role("button", name="Open")
    _wait(page, lambda: opens.count() == N_VIDEOS, 30, "the results")
    # no trained network (these results were written, not analysed): said before
    # any click, once, and Analyze waits for one (QA s22 #7)
    note = page.locator(".posekit-analysis-no-network").inner_text()
    assert note == (
        "No trained network yet: train one in the Train app (home page → Train), "
        "then analyse here."
    )
    assert page.get_by_role("button", name="Analyze videos").is_disabled()
    assert (
        "No trained network"
        not in page.locator(".posekit-analysis-status").inner_text()
    )

    # Open the last result (the click scrolls the button into view first)
    opens.nth(N_VIDEOS - 1).click()
    viewer = ".posekit-trajectory-viewer"
    page.wait_for_selector(f"{viewer} .posekit-viewer .bk-Canvas", timeout=60_000)
    page.wait_for_timeout(500)  # (layout settles)
    # the page scrolled the viewer's title to the top of the window, the viewer
    # under it fills the window (it was 550 px down, 250 px of it in sight)
    box = page.evaluate(JS_BOX, viewer)
    assert 0 <= box["top"] < 100 and box["bottom"] >= box["height"], box
    title = page.evaluate(JS_BOX, ".posekit-analysis-viewer-title")
    assert abs(title["top"]) < 5 and title["bottom"] <= box["top"] + 1, (title, box)
    name = f"session{N_VIDEOS}{SCORER}.h5"
    assert name in page.inner_text(".posekit-analysis-viewer-title")
    assert page.evaluate(JS_TITLE_FOCUSED)
    # the results list now follows the viewer
    listed = page.evaluate(JS_BOX, ".posekit-output")
    assert listed["top"] > box["bottom"] - 1

    # the labelled video: its bytes, and it plays
    videos = project / "videos"
    (labelled,) = videos.glob(f"session1{SCORER}_*_labeled.*")
    play = page.locator("a.posekit-result-play")
    assert play.count() == 1 and labelled.name in play.inner_text()
    href = play.get_attribute("href")
    assert href == "/posekit/files/" + quote(str(labelled).lstrip("/"))
    origin = f"http://127.0.0.1:{server}"
    # (as a followed link: with the page as referrer; without one, a request with
    # the login cookie is refused, as Jupyter's /files/ refuses it: cross-site)
    got = page.request.get(origin + href, headers={"Referer": page.url})
    assert got.status == 200 and got.body() == labelled.read_bytes()
    assert int(got.headers["content-length"]) == labelled.stat().st_size
    if labelled.suffix == ".mp4":
        meta = page.evaluate(JS_PLAY, href)
        assert meta["duration"] == pytest.approx(N_FRAMES / 30.0, abs=0.1), meta
        assert meta["width"] > 0 and meta["height"] > 0
    # the CSV downloads
    csv = videos / f"session1{SCORER}.csv"
    link = page.locator(f'a.posekit-result-download[download="{csv.name}"]')
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "downloaded.csv"
    info.value.save_as(saved)
    assert saved.read_bytes() == csv.read_bytes()
    # outside the project: refused, logged in or not
    assert page.request.get(origin + href).status == 403  # no referrer
    for outside in ("etc/passwd", quote(str(project / "config.yaml").lstrip("/"))):
        got = page.request.get(
            f"{origin}/posekit/files/{outside}", headers={"Referer": page.url}
        )
        assert got.status == 403
    assert page.posekit_errors == []


#: The labelled video's player in the viewer: where it plays from, once it can play.
JS_PLAYER = """async () => {
  const v = document.querySelector('video.posekit-viewer-labeled-video');
  if (!v) return null;
  if (v.readyState < 1) {
    await new Promise((ok, fail) => {
      v.addEventListener('loadedmetadata', ok, {once: true});
      v.addEventListener('error', () => fail(new Error('video error')), {once: true});
    });
  }
  return {src: v.getAttribute('src') || v.currentSrc, duration: v.duration};
}"""


def test_the_viewer_plays_its_labelled_video_from_the_server(
    server, project, page
) -> None:
    """The player fetches the served file; the kernel sends no video bytes.

    Before, the viewer put the whole labelled video into the widget (500 MB through
    the kernel's websocket for a long recording).
    """
    page.set_viewport_size({"width": 1280, "height": 900})
    url = (
        f"http://127.0.0.1:{server}/voila/render/analyze.ipynb?"
        f"project={quote(str(project))}&token={TOKEN}"
    )
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    opens = page.get_by_role("button", name="Open")
    _wait(page, lambda: opens.count() == N_VIDEOS, 30, "the results")
    opens.nth(1).click()  # session2: no labelled video yet
    viewer = ".posekit-trajectory-viewer"
    page.wait_for_selector(f"{viewer} .posekit-viewer .bk-Canvas", timeout=60_000)
    page.locator(viewer).get_by_role("button", name="Labelled video").click()
    page.wait_for_selector(
        "video.posekit-viewer-labeled-video", state="attached", timeout=120_000
    )
    (made,) = (project / "videos").glob(f"session2{SCORER}_*_labeled.mp4")
    try:
        player = page.evaluate(JS_PLAYER)
        served = "/posekit/files/" + quote(str(made).lstrip("/"))
        assert player["src"] == served, player  # (bytes would play from a blob:)
        assert player["duration"] == pytest.approx(N_FRAMES / 30.0, abs=0.1), player
        download = page.locator("a.posekit-viewer-labeled-video-download")
        assert download.get_attribute("href") == served
        assert page.posekit_errors == []
    finally:
        made.unlink()
