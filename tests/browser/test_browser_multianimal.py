"""Several animals in a real browser: label two animals; swap identities in the viewer.

The labelling app on a 2-animal demo frame: a click places the selected animal's
bodypart, ``i`` chooses the next animal, the next click places that one's; both are in
the four-level ``CollectedData_posekit.h5``. The viewer app on tracks of two animals:
swap their identities from a frame on, save, and find the swap in the saved file.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from test_browser_label_app import DOUBLE_TAP_GAP, open_app

from posekit.engine.demo import make_demo_project
from posekit.engine.labels import list_frames
from posekit.engine.video import extract_frames

pytestmark = pytest.mark.browser

LABEL_APP = "notebooks/label.ipynb"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    project = make_demo_project(
        tmp_path_factory.mktemp("ma-browser"),
        n_animals=2,
        n_frames=40,
        n_labeled=0,
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=2)
    return project


def _four_level_point(h5, frame, individual, bodypart):
    if not h5.exists():
        return None
    df = pd.read_hdf(h5)
    key = tuple(frame.split("/"))
    col = ("posekit", individual, bodypart, "x")
    if key not in df.index or col not in df.columns:
        return None
    row = df.loc[key]
    return float(row[col]), float(row[("posekit", individual, bodypart, "y")])


def _wait(h5, frame, individual, bodypart, expect, timeout=20.0):
    t0, got = time.monotonic(), None
    while time.monotonic() - t0 < timeout:
        got = _four_level_point(h5, frame, individual, bodypart)
        if got is not None and all(
            abs(g - e) <= 0.5 for g, e in zip(got, expect, strict=True)
        ):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{individual}/{bodypart}: expected {expect}, h5 has {got}")


def test_label_two_animals_on_a_demo_frame(voila_server, page, pair):
    from test_browser_label_app import REPO_ROOT

    server = voila_server(
        REPO_ROOT / LABEL_APP, env={"POSEKIT_PROJECT": str(pair.path)}
    )
    h5 = pair.labels_path("session1")
    f0 = list_frames(pair, "session1")[0]
    canvas = open_app(page, server.url)
    page.wait_for_selector(".labeler-individual >> text=mouse2", timeout=30_000)
    canvas.page.mouse.click(*canvas.to_page(100, 50))  # mouse1's snout
    _wait(h5, f0, "mouse1", "snout", (100, 50))
    time.sleep(DOUBLE_TAP_GAP)
    canvas.hover()
    # the click selected mouse1's next bodypart; i: the same bodypart of mouse2
    page.keyboard.press("i")
    page.wait_for_function(
        "() => document.querySelector('.selected-bodypart')?.innerText"
        " === 'mouse2/leftear'",
        timeout=30_000,
    )
    canvas.page.mouse.click(*canvas.to_page(200, 150))
    _wait(h5, f0, "mouse2", "leftear", (200, 150))
    df = pd.read_hdf(h5)
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert _four_level_point(h5, f0, "mouse1", "snout") == pytest.approx(
        (100, 50), abs=0.5
    )


def test_swap_identities_in_the_viewer_and_find_them_saved(
    voila_server, page, tmp_path_factory
):
    import shutil

    import numpy as np
    from test_browser_label_app import REPO_ROOT

    project = make_demo_project(
        tmp_path_factory.mktemp("ma-viewer"), n_animals=2, n_frames=60, n_labeled=0
    )
    tracks = (
        project.path / "videos" / "session1DLC_mobnet_35_social2Jan1shuffle1_9_el.h5"
    )
    shutil.copy(project.path / "ground-truth" / "session1_keypoints.h5", tracks)
    before = pd.read_hdf(tracks, "tracks")
    server = voila_server(
        REPO_ROOT / "notebooks" / "viewer.ipynb",
        env={"POSEKIT_PROJECT": str(project.path)},
    )
    page.goto(server.url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector(".posekit-viewer-swap", timeout=90_000)
    box = page.locator(".posekit-viewer-swap-from input").first
    box.fill("20")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.posekit-viewer-frame-text')"
        "?.dataset.frame === '20'",
        timeout=30_000,
    )
    page.locator(".posekit-viewer-swap").first.click()
    page.wait_for_selector(".posekit-viewer-status >> text=swapped", timeout=30_000)
    page.locator(".posekit-viewer-save-tracks").first.click()
    col1 = ("GroundTruth", "mouse1", "snout", "x")
    col2 = ("GroundTruth", "mouse2", "snout", "x")
    t0, after = time.monotonic(), None
    while time.monotonic() - t0 < 30:
        after = pd.read_hdf(tracks, "tracks")
        if np.array_equal(after[col1].values[20:], before[col2].values[20:]):
            break
        time.sleep(0.2)
    np.testing.assert_array_equal(after[col1].values[20:], before[col2].values[20:])
    np.testing.assert_array_equal(after[col2].values[20:], before[col1].values[20:])
    np.testing.assert_array_equal(after[col1].values[:20], before[col1].values[:20])
