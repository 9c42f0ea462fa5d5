"""The trajectory viewer app in a real browser: chromium (Playwright) against Voila.

A click on the speed plot at a known frame moves the cursor and the video there (the
frame label, the video title and the image change); the frame slider moves the
cursor lines; the snout, below the p-cutoff at the frame clicked, is drawn hollow
and named above the frame; the filter buttons change the plotted data. A screenshot
``viewer_app.png`` goes to the ``screenshots_dir`` (``docs/_static/screenshots/``
under ``make screenshots``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from bokeh_js import JS_FIND  # tests/browser is on sys.path (pytest `pythonpath`)

from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "viewer.ipynb"
N = 90
SCORER = "DLC_resnet50_demoJan1shuffle1_100"
JS_HIDDEN = (
    "() => {"
    + JS_FIND
    + """
  const video = findView('posekit-viewer-video').model;
  const r = video.renderers.find(r => r.name === 'posekit-viewer-hidden-points');
  return Array.from(r.data_source.data.keypoint);
}"""
)

JS_PLOT_BOX = (
    "(name) => {"
    + JS_FIND
    + """
  const view = findView(name);
  const c = view.canvas_view.el.getBoundingClientRect();
  const b = view.frame.bbox;
  return {left: c.left + b.left, top: c.top + b.top, width: b.width,
          height: b.height, x0: view.model.x_range.start, x1: view.model.x_range.end};
}"""
)
JS_STATE = (
    "() => {"
    + JS_FIND
    + """
  const video = findView('posekit-viewer-video').model;
  const image = video.renderers.find(r => r.data_source.data.url !== undefined);
  const spans = ['x', 'y', 'speed', 'likelihood'].map(n =>
      findView('posekit-viewer-' + n).model.center.find(s => s.dimension === 'height'));
  const x = findView('posekit-viewer-x').model.renderers[0].data_source.data;
  return {title: video.title.text, url: image.data_source.data.url[0],
          cursors: spans.map(s => s.location), x1: Array.from(x.x_1)};
}"""
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Make a demo project with predictions: the snout unsure on frames 55-65."""
    project = make_demo_project(
        tmp_path_factory.mktemp("viewer-app"), n_frames=N, n_labeled=0
    )
    truth, _ = load_ground_truth(project)
    lik = np.full(truth.shape[:2], 0.95)
    lik[55:66, 0] = 0.05
    xyp = np.concatenate([truth, lik[..., None]], axis=-1)
    write_predictions(
        predictions_frame(xyp, SCORER, project.bodyparts),
        project.path / "videos" / f"session1{SCORER}.h5",
    )
    return project


@pytest.fixture(scope="module")
def server(voila_server, demo):
    return voila_server(APP, env={"POSEKIT_PROJECT": str(demo.path)})


def frame_shown(page) -> int:
    return int(page.locator(".posekit-viewer-frame-text").get_attribute("data-frame"))


def wait_frame(page, frame: int, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "(f) => document.querySelector('.posekit-viewer-frame-text')"
        "?.dataset.frame === String(f)",
        arg=frame,
        timeout=timeout,
    )


def test_click_plot_moves_video(server, page, demo, screenshots_dir) -> None:
    page.goto(server.url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector(".posekit-viewer .bk-Canvas", timeout=90_000)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.index.roots.length > 0", timeout=30_000
    )
    wait_frame(page, 0)
    chosen = page.get_by_label("predictions").input_value()
    assert chosen.endswith(f"videos/session1{SCORER}.h5")  # before the truth
    time.sleep(0.5)
    before = page.evaluate(JS_STATE)
    assert before["title"].startswith("frame 0 /")
    assert before["url"].startswith("data:image/jpeg;base64,")
    assert before["cursors"] == [0, 0, 0, 0]

    # click the speed plot where frame 60 is: cursor, label, title and image follow
    box = page.evaluate(JS_PLOT_BOX, "posekit-viewer-speed")
    target = 60
    x = box["left"] + (target - box["x0"]) / (box["x1"] - box["x0"]) * box["width"]
    page.mouse.click(x, box["top"] + box["height"] / 2)
    wait_frame(page, target)
    label = page.locator(".posekit-viewer-frame").inner_text()
    assert label.startswith(f"frame {target} / {N - 1}")
    page.wait_for_function(
        "(t) => {" + JS_FIND + " return findView('posekit-viewer-video')"
        ".model.title.text.startsWith('frame ' + t + ' ');}",
        arg=target,
        timeout=10_000,
    )
    after = page.evaluate(JS_STATE)
    assert after["cursors"] == [target] * 4
    assert after["url"] != before["url"]
    # QA s17 #4: the snout below the p-cutoff is drawn hollow, and the page says so
    assert page.evaluate(JS_HIDDEN) == ["snout"]
    hidden = page.locator(".posekit-viewer-hidden").inner_text()
    assert f"frame {target}: hidden: snout (likelihood <" in hidden
    assert "below the p-cutoff" in page.locator(".posekit-viewer-coverage").inner_text()

    # the slider (keyboard on its handle) moves the cursor lines
    page.locator(".posekit-viewer-slider .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_frame(page, target + 1)
    page.wait_for_function(
        "(t) => {" + JS_FIND + " return findView('posekit-viewer-likelihood')"
        ".model.center.some(s => s.dimension === 'height' && s.location === t);}",
        arg=target + 1,
        timeout=10_000,
    )

    # a filter changes the plotted data
    page.get_by_role("button", name="Savitzky–Golay").click()
    page.wait_for_function(
        "(old) => {" + JS_FIND + " const d = findView('posekit-viewer-x').model"
        ".renderers[0].data_source.data.x_1;"
        " return Array.from(d).some((v, i) => Math.abs(v - old[i]) > 1e-6);}",
        arg=before["x1"],
        timeout=20_000,
    )
    time.sleep(0.5)
    shot = screenshots_dir / "viewer_app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not page.posekit_errors, page.posekit_errors


@pytest.fixture(scope="module")
def social_page(voila_server, tmp_path_factory):
    """Serve the viewer on a data root holding a two-mouse project; HOME empty.

    No ``POSEKIT_PROJECT``: the project must come from the predictions file named
    in the address (QA s18, multianimal #2).
    """
    from posekit.engine.io.dlc import read_predictions

    root = tmp_path_factory.mktemp("viewer-data")
    home = tmp_path_factory.mktemp("viewer-home")
    project = make_demo_project(
        root, n_frames=30, n_labeled=0, n_animals=2, size=(160, 120)
    )
    truth = read_predictions(project.path / "ground-truth" / "session1_keypoints.h5")
    truth = truth.rename(columns={"GroundTruth": SCORER}, level="scorer")
    el = write_predictions(
        truth, project.path / "videos" / f"session1{SCORER}_el.h5", key="tracks"
    )
    server = voila_server(
        APP,
        env={
            "POSEKIT_DATA_ROOT": str(root),
            "POSEKIT_PROJECT": "",
            "POSEKIT_DEMO_DIR": "",
            "HOME": str(home),
        },
    )
    return server, project, el, home


def test_predictions_in_the_address_open_their_project(social_page, page) -> None:
    """``?predictions=<…_el.h5>``: the file's project, and no demo in the home."""
    from urllib.parse import urlencode

    server, project, el, home = social_page
    page.goto(
        server.url + "?" + urlencode({"predictions": str(el)}),
        wait_until="domcontentloaded",
        timeout=90_000,
    )
    page.wait_for_selector(".posekit-viewer .bk-Canvas", timeout=90_000)
    header = page.locator(".posekit-app-header").inner_text()
    assert f"project social2 ({project.path})" in header, header
    assert page.get_by_label("predictions").input_value() == str(
        el.relative_to(project.path)
    )
    assert page.get_by_text("Identities").count() == 1  # two animals
    assert not (home / "posekit-demo").exists()
    assert not any(home.rglob("config.yaml"))
    assert not page.posekit_errors, page.posekit_errors
