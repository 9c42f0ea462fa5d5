"""Home → train → analyze in Voila, driven by chromium.

Start a short training, watch the curve and the progress bar move, stop it, resume it,
train more and leave the page while it trains (its kernel is ended, the training goes
on: the page opened again follows it), analyse the video; screenshots of the three
apps go to the ``screenshots_dir`` (``docs/_static/screenshots/`` under ``make
screenshots``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder
from posekit.widgets.training_model import JOB_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"

pytestmark = pytest.mark.browser

#: Number of points in the loss ColumnDataSource, read from BokehJS in the page.
LOSS_POINTS_JS = """() => {
  for (const doc of (window.Bokeh?.documents ?? [])) {
    const src = doc.get_model_by_name("posekit_loss");
    if (src) return src.data.iteration.length;
  }
  return -1;
}"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    p = make_demo_project(
        tmp_path_factory.mktemp("train-app"), n_frames=90, n_labeled=20
    )
    create_training_dataset(p)
    return p


@pytest.fixture(scope="module")
def server(voila_server, project, tmp_path_factory):
    """Voila in tree mode on notebooks/, as `make app` serves it."""
    return voila_server(
        NOTEBOOKS,
        cwd=NOTEBOOKS,
        env={
            "POSEKIT_PROJECT": str(project.path),
            "POSEKIT_DEMO_DIR": str(tmp_path_factory.mktemp("unused-demo")),
        },
        timeout=120,
    )


def _state(page) -> str:
    return page.locator(".posekit-train-state").get_attribute("data-state")


def _iteration(page) -> int:
    return int(page.locator(".posekit-train-iteration").inner_text())


def _progress_percent(page) -> float:
    text = page.locator(".posekit-train-eta").inner_text()
    return float(re.match(r"\s*(\d+)%", text).group(1))


def _wait(page, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        page.wait_for_timeout(250)


def _set_int(page, container: str, label: str, value: int) -> None:
    box = page.locator(f"{container} .widget-inline-hbox:has(label:text-is('{label}'))")
    field = box.locator("input")
    field.fill(str(value))
    field.press("Enter")


def test_home_train_stop_resume_analyze(server, project, page, screenshots_dir) -> None:
    SHOTS = screenshots_dir
    # --- home: the project and a link to each app
    page.goto(server.url + "voila/render/home.ipynb", wait_until="domcontentloaded")
    page.wait_for_selector(".posekit-home .posekit-status", timeout=90_000)
    assert str(project.path) in page.locator(".posekit-project-path").inner_text()
    link = page.locator('a[data-app="train.ipynb"]')
    href = link.get_attribute("href")
    assert href.startswith("train.ipynb?")
    assert parse_qs(urlsplit(href).query)["project"] == [str(project.path)]
    page.screenshot(path=str(SHOTS / "home_app.png"), full_page=True)

    # --- train: opened from the home app's link, on the same project
    link.click()
    page.wait_for_url(re.compile(r".*/voila/render/train\.ipynb\?project=.*"))
    page.wait_for_selector(".posekit-train-curves canvas", timeout=120_000)
    dash = ".posekit-training-dashboard"
    assert _state(page) == "idle"
    assert page.evaluate(LOSS_POINTS_JS) == 0
    # a workshop's default: a time budget; here a number of iterations
    assert page.locator(f"{dash} .widget-toggle-button.mod-active").inner_text() == (
        "time budget"
    )
    page.locator(f"{dash} .widget-toggle-button", has_text="iterations").click()
    _set_int(page, dash, "train to iteration", 40)  # a total, as --iterations
    _set_int(page, dash, "batch size (0: default)", 4)
    crop = page.locator(f"{dash} .widget-dropdown:has(label:text-is('crop')) select")
    crop.select_option(label="128×128")
    # DeepLabCut's weigh_only_present_joints: off as the shuffle's pose_cfg.yaml has
    # none; ticked, the run records it (as posekit train --weigh-only-present-joints)
    presence = page.get_by_role("checkbox", name="ignore points left empty")
    assert not presence.is_checked()
    presence.check()
    page.get_by_role("button", name="Start training").click()
    _wait(page, lambda: _state(page) == "running", 30, "running")
    _wait(page, lambda: _iteration(page) >= 6, 150, "6 iterations")
    points = page.evaluate(LOSS_POINTS_JS)
    assert points >= 3, points  # the curve gained points in the browser
    _wait(page, lambda: _progress_percent(page) > 0, 30, "the progress bar to move")
    bar = page.locator(f"{dash} .posekit-train-progress .progress-bar")
    assert float(bar.evaluate("el => parseFloat(el.style.width)")) > 0

    page.get_by_role("button", name="Stop training").click()
    _wait(page, lambda: _state(page) == "stopped", 90, "stopped")
    stopped_at = _iteration(page)
    assert 6 <= stopped_at < 40
    assert f"snapshot-{stopped_at}" in page.locator(".posekit-snapshots").inner_text()
    pose_cfg = yaml.safe_load(
        (ModelFolder.of(project, 1).path / "pose_cfg.yaml").read_text()
    )
    assert pose_cfg["weigh_only_present_joints"] is True
    before = page.evaluate(LOSS_POINTS_JS)

    # after Stop the button is "Train more", as on a page opened later (QA s22 #9)
    page.get_by_role("button", name="Train more").click()
    _wait(page, lambda: _state(page) == "running", 30, "running again")
    _wait(page, lambda: _state(page) == "finished", 180, "finished")
    assert _iteration(page) == 40  # the counter continued to the same target
    assert page.evaluate(LOSS_POINTS_JS) > before
    assert _progress_percent(page) == 100
    assert "snapshot-40" in page.locator(".posekit-snapshots").inner_text()
    # evaluation when finished: the table, then the test frames drawn as PNG images
    page.wait_for_selector(".posekit-evaluation", timeout=120_000)
    assert "Test error(px)" in page.locator(".posekit-evaluation").inner_text()
    page.wait_for_selector(f"{dash} img", timeout=120_000)
    assert page.locator(f"{dash} img").count() == 4  # the 4 test frames
    page.screenshot(path=str(SHOTS / "train_app.png"), full_page=True)

    # --- leave the page while it trains: the training goes on (QA s17 #1)
    page.get_by_role("button", name="Train more").click()  # to iteration 80
    _wait(page, lambda: _state(page) == "running", 30, "training more")
    _wait(page, lambda: _iteration(page) > 40, 150, "an iteration past 40")
    kernel = server.kernel_pids()[-1]  # this page's
    job_file = ModelFolder.of(project, 1).path / JOB_FILE
    trainer = json.loads(job_file.read_text())["pid"]
    assert trainer not in server.kernel_pids()
    page.locator('a[data-app="home.ipynb"]').click()
    page.wait_for_selector(".posekit-home .posekit-status", timeout=90_000)
    # the server ends the kernel of a page left with its process group (Jupyter's
    # kernel manager, after the unload beacon's shutdown request)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(kernel), signal.SIGKILL)
    _wait(page, lambda: kernel not in server.kernel_pids(), 30, "the kernel to go")
    os.kill(trainer, 0)  # the training process is alive
    page.locator('a[data-app="train.ipynb"]').click()
    page.wait_for_selector(".posekit-train-curves canvas", timeout=120_000)
    assert _state(page) in ("running", "finished")
    status = page.locator(".posekit-train-status").inner_text()
    if _state(page) == "running":  # the line says who started it, in plain words
        assert "A training started from the Train app at " in status, status
        assert "pid" not in status and str(trainer) not in status
    assert presence.is_checked()  # what the shuffle trains with, read back
    _wait(page, lambda: _state(page) == "finished", 240, "finished after leaving")
    assert _iteration(page) == 80
    assert "snapshot-80" in page.locator(".posekit-snapshots").inner_text()
    assert (ModelFolder.of(project, 1).path / "snapshot-80.keras").is_file()
    page.wait_for_selector(".posekit-evaluation", timeout=120_000)

    # --- analyze: from the train app's header, analyse the video, open the result
    page.locator('a[data-app="analyze.ipynb"]').click()
    page.wait_for_selector(".posekit-analysis-panel", timeout=120_000)
    page.get_by_role("button", name="Analyze videos").click()
    page.wait_for_selector(".posekit-output", timeout=120_000)
    outputs = list(Path(project.videos()[0]).parent.glob("session1DLC_*.h5"))
    assert len(outputs) == 1 and "_80" in outputs[0].stem
    page.get_by_role("button", name="Open").first.click()
    page.wait_for_selector(".posekit-viewer canvas", timeout=60_000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / "analyze_app.png"), full_page=True)
    assert page.posekit_errors == []
