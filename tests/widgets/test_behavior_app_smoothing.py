"""The behaviour app's default distance is the animal's, not the tracking's jitter.

QA s22 (workshop) finding 5: on the demo, the app's default (no smoothing) measured
3031 px where the true centroid path is 1266 px (2.4 times): the distance adds up
the network's frame-to-frame jitter, and the points below the p-cutoff (56 % after
the app's 2.5-minute training) make the centroid of the keypoints left jump. The
app now fills gaps of up to 10 frames and smooths with a median of 5 frames by
default, says so beside the table, and the exported movement table records it.

The tracking here is the demo's ground truth plus the network's jitter (Gaussian,
2.5 px) with, as after that training, a share of the points below the p-cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io import save_poses
from posekit.engine.poses import from_numpy
from posekit.widgets.behavior_app import BehaviorApp

JITTER_PX = 2.5


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Return the demo project (900 frames, nothing labelled) and its true path."""
    project = make_demo_project(tmp_path_factory.mktemp("demo"), n_labeled=0)
    truth, _ = load_ground_truth(project)
    centroid = truth.mean(axis=1)
    path_px = float(np.linalg.norm(np.diff(centroid, axis=0), axis=1).sum())
    return project, truth, path_px


def tracking(project, truth, tmp_path, unsure: float):
    """Write the truth plus jitter; ``unsure``: the share below the p-cutoff."""
    rng = np.random.default_rng(0)
    pos = truth + rng.normal(0.0, JITTER_PX, truth.shape)
    likelihood = np.where(rng.random(truth.shape[:2]) < unsure, 0.3, 0.95)
    ds = from_numpy(
        pos.transpose(0, 2, 1)[..., None], likelihood[..., None],
        keypoint_names=list(project.bodyparts), fps=30.0,
    )  # fmt: skip
    return save_poses(ds, tmp_path / "session1_tracked.nc", fmt="netCDF")


@pytest.mark.parametrize("unsure", [0.0, 0.56])
def test_the_default_distance_is_close_to_the_true_path(demo, tmp_path, unsure):
    project, truth, path_px = demo
    assert path_px == pytest.approx(1265.6, abs=0.1)  # the QA's known answer
    assert project.cfg["pcutoff"] == 0.5
    app = BehaviorApp(
        project, path=tracking(project, truth, tmp_path, unsure),
        output_dir=tmp_path / "out", load_bokehjs=False,
    )  # fmt: skip
    row = app.model.kinematics_table().iloc[0]
    # the default: within 15 % of the true path, from (nearly) every frame
    assert row["distance"] == pytest.approx(path_px, rel=0.15)
    assert row["observed_fraction"] > 0.99
    assert row["smoothing"] == (
        "median of 5 frames, gaps of up to 10 frames interpolated first"
    )
    assert "positions smoothed: median of 5 frames" in app.jitter_note.value
    assert "frame-to-frame jitter" in app.jitter_note.value
    assert app.coverage_box.layout.display == "none"  # no "few frames" warning

    # unsmoothed (the old default): far off, and the page says why
    app.smoother.value = "none"
    app.max_gap.value = 0
    app.clean_button.click()
    raw = app.model.kinematics_table().iloc[0]
    assert raw["distance"] > 1.5 * path_px
    assert raw["smoothing"] == "none"
    assert "no smoothing" in app.jitter_note.value


def test_the_median_alone_would_blank_the_frames_near_unsure_points(
    demo, tmp_path
) -> None:
    """Why the default also fills gaps: the median needs its whole window."""
    project, truth, path_px = demo
    app = BehaviorApp(
        project, path=tracking(project, truth, tmp_path, 0.56),
        output_dir=tmp_path / "out", load_bokehjs=False,
    )  # fmt: skip
    app.max_gap.value = 0
    app.clean_button.click()
    row = app.model.kinematics_table().iloc[0]
    assert row["observed_fraction"] < 0.5
    assert row["smoothing"] == "median of 5 frames"


def test_the_exported_movement_table_records_the_smoothing(demo, tmp_path) -> None:
    project, truth, _ = demo
    app = BehaviorApp(
        project, path=tracking(project, truth, tmp_path, 0.0),
        output_dir=tmp_path / "out", load_bokehjs=False,
    )  # fmt: skip
    app.export_excel.value = False
    app.export_png.value = app.export_svg.value = False
    app.export_button.click()
    table = pd.read_csv(tmp_path / "out" / "kinematics.csv")
    assert table["smoothing"].tolist() == [
        "median of 5 frames, gaps of up to 10 frames interpolated first"
    ]
    app.smoother.value = "savgol"
    app.window.value = 7
    app.max_gap.value = 0
    app.clean_button.click()
    app.export_button.click()
    table = pd.read_csv(tmp_path / "out" / "kinematics.csv")
    assert table["smoothing"].tolist() == ["Savitzky-Golay of 7 frames (order 2)"]


def test_the_processing_log_says_each_step_in_words(demo, tmp_path):
    project, truth, _ = demo
    app = BehaviorApp(
        project, path=tracking(project, truth, tmp_path, 0.2),
        output_dir=tmp_path / "out", load_bokehjs=False,
    )  # fmt: skip
    text = app.log_box.value
    # the defaults, in order, with the app's words and the number of points removed
    steps = app.model.processing_log(app.model.sessions[0].name)
    assert [step["operation"] for step in steps] == [
        "calibrate", "filter_by_confidence", "interpolate_gaps", "filter_median",
    ]  # fmt: skip
    removed = steps[1]["parameters"]["n_points_removed"]
    assert removed > 0
    assert "<li>Calibration: frames/s 30 (" in text
    cut = text.index("Likelihood cut-off: threshold 0.5, points of unknown likelihood "
                     f"kept, points removed {removed} (")  # fmt: skip
    assert cut < text.index("Gaps filled: up to (frames) 10 (")
    assert text.index("Gaps filled") < text.index("Median filter: window (frames) 5")
    assert "{" not in text and "parameters" not in text and "filter_" not in text
