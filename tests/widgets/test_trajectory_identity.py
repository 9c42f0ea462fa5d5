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


def test_save_rewrites_the_csv_and_nc_beside_the_tracks(tracked):
    # QA s16 #3: Save tracks rewrote the _el.h5 only; the _el.csv that
    # analyze --csv wrote beside it kept the swapped identities
    from posekit.engine.io import load_poses, save_poses
    from posekit.engine.multianimal.outputs import write_tracks
    from posekit.widgets.trajectory_model import TrajectoryModel

    _, el = tracked
    before = pd.read_hdf(el, "tracks")
    write_tracks(before, el, save_csv=True)  # what analysis writes
    csv, nc = el.with_suffix(".csv"), el.with_suffix(".nc")
    save_poses(load_poses(el, fps=30.0), nc, fmt="netCDF")
    pickle = el.with_suffix(".pickle")
    pickle.write_bytes(b"tracklets")
    m = TrajectoryModel(el)
    m.swap_identities("mouse1", "mouse2", start=40)
    assert m.save_identities() == el
    saved = pd.read_hdf(el, "tracks")
    table = pd.read_csv(csv, header=[0, 1, 2, 3], index_col=0)
    assert list(table.columns) == list(saved.columns)
    np.testing.assert_allclose(table.values, saved.values, rtol=1e-12)
    col = ("GroundTruth", "mouse1", "snout", "x")
    other = ("GroundTruth", "mouse2", "snout", "x")
    np.testing.assert_array_equal(saved[col].values[40:], before[other].values[40:])
    ds = load_poses(nc)
    assert ds.attrs["fps"] == 30.0
    np.testing.assert_array_equal(
        ds.position.sel(individual="mouse1", keypoint="snout", space="x").values,
        saved[col].values,
    )
    for name in (el.name, csv.name, nc.name):
        assert name in m.message
        assert (el.parent / ".posekit" / f"{name}.orig").is_file()
    original = pd.read_csv(
        el.parent / ".posekit" / f"{csv.name}.orig", header=[0, 1, 2, 3], index_col=0
    )
    np.testing.assert_allclose(original.values, before.values, rtol=1e-12)
    assert pickle.read_bytes() == b"tracklets"  # the tracker's own, left alone
    assert not [p for p in el.parent.iterdir() if p.name.startswith(f".{el.stem}")]


def test_tracks_opened_from_the_csv_are_saved_as_csv(tracked):
    # the CSV was written as HDF5 under its .csv name
    from posekit.engine.multianimal.outputs import write_tracks
    from posekit.widgets.trajectory_model import TrajectoryModel

    _, el = tracked
    before = pd.read_hdf(el, "tracks")
    write_tracks(before, el, save_csv=True)
    csv = el.with_suffix(".csv")
    m = TrajectoryModel(csv)
    m.swap_identities("mouse1", "mouse3", start=10, stop=20)
    assert m.save_identities() == csv
    assert m.message.startswith(f"tracks saved: {csv.name}, {el.name}")
    table = pd.read_csv(csv, header=[0, 1, 2, 3], index_col=0)
    saved = pd.read_hdf(el, "tracks")
    np.testing.assert_allclose(table.values, saved.values, rtol=1e-12)
    col = ("GroundTruth", "mouse1", "snout", "x")
    other = ("GroundTruth", "mouse3", "snout", "x")
    np.testing.assert_array_equal(saved[col].values[10:20], before[other].values[10:20])
    el.unlink()  # the CSV alone
    m.swap_identities("mouse1", "mouse3", start=10, stop=20)
    m.save_identities()
    assert m.message.startswith(f"tracks saved: {csv.name} (in")
    table = pd.read_csv(csv, header=[0, 1, 2, 3], index_col=0)
    np.testing.assert_allclose(table.values, before.values, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\.h5 or \.csv"):
        m.save_identities(el.with_suffix(".slp"))
