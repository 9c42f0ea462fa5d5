"""Identity correction in the trajectory viewer (headless)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.trajectory_viewer import TrajectoryViewer


@pytest.fixture
def tracked(tmp_path):
    project = make_demo_project(tmp_path, n_animals=3, n_frames=90, n_labeled=0)
    el = project.path / "videos" / "session1DLC_mobnet_35_social3Jan1shuffle1_9_el.h5"
    shutil.copy(project.path / "ground-truth" / "session1_keypoints.h5", el)
    return project, el


def test_colour_swap_undo_and_save_in_the_viewer(tracked):
    project, el = tracked
    before = pd.read_hdf(el, "tracks")
    viewer = TrajectoryViewer(el, project, load_bokehjs=False)
    m = viewer.model
    try:
        assert m.animals == ["mouse1", "mouse2", "mouse3"]
        assert m.color_by == "individual"
        colours = m.points()["color"]
        assert len(set(colours)) == 3 and colours[0] == colours[5] != colours[6]
        viewer.color_by.value = "bodypart"
        assert len(set(m.points()["color"])) == 6
        m.frame = 40
        assert viewer.swap_from.value == 40  # from the frame shown
        viewer.swap_first.value, viewer.swap_second.value = "mouse1", "mouse2"
        viewer.swap_button.click()
        assert m.dirty and viewer.save_tracks_button.button_style == "warning"
        assert m.undo_identity() and viewer.save_tracks_button.button_style == "warning"
        viewer.swap_to.value = 60
        viewer.swap_button.click()  # frames 40..59 only
        saved = m.save_identities()
        assert saved == el and not m.dirty
        after = pd.read_hdf(el, "tracks")
        assert list(after.columns) == list(before.columns)
        col1 = ("GroundTruth", "mouse1", "snout", "x")
        col2 = ("GroundTruth", "mouse2", "snout", "x")
        np.testing.assert_array_equal(
            after[col1].values[40:60], before[col2].values[40:60]
        )
        np.testing.assert_array_equal(after[col1].values[60:], before[col1].values[60:])
        np.testing.assert_array_equal(after[col1].values[:40], before[col1].values[:40])
        assert (el.parent / ".posekit" / f"{el.name}.orig").is_file()
    finally:
        viewer.close()


def test_single_animal_viewer_has_no_identity_controls(tmp_path):
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0)
    truth = project.path / "ground-truth" / "session1_keypoints.h5"
    viewer = TrajectoryViewer(truth, project, load_bokehjs=False)
    try:
        assert viewer.swap_button is None
        assert viewer.model.color_by == "bodypart" and viewer.model.likely_swaps() == []
    finally:
        viewer.close()
