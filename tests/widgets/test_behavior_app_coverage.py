"""The behaviour app says, above its tables, when the numbers come from few frames.

QA s17 (workshop) finding 2: the movement and ROI numbers came from 0.3-14 % of the
frames and nothing on the page said so (the engine's warning went to the log only).
Now a box above the tables names the animals, how many frames their numbers come
from, and offers the fixes as buttons; their rows are greyed with a note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.engine.behavior.roi import RectangleROI
from posekit.engine.io import save_poses
from posekit.engine.poses import from_numpy
from posekit.widgets.behavior_app import BehaviorApp

N = 300
NAMES = ["snout", "neck", "spine", "tailbase"]


@pytest.fixture
def app(tmp_path: Path, rng: np.random.Generator) -> BehaviorApp:
    """Return the app on a walker whose keypoints are unsure at times.

    Each keypoint in 65 % of the frames, all of them in frames 100-199; the
    likelihood threshold set to 0.5, no gap filling and no smoothing (the app's
    default fills gaps of up to 10 frames and smooths: QA s22 workshop #5).
    """
    t = np.arange(N, dtype=float)
    offsets = np.array([[9.0, 0.0], [3.0, 0.0], [-3.0, 0.0], [-9.0, 0.0]]).T
    pos = np.stack([20.0 + 2.0 * t, np.full(N, 100.0)], 1)[:, :, None] + offsets
    likelihood = np.where(rng.random((N, len(NAMES))) < 0.35, 0.9, 0.1)
    likelihood[100:200] = 0.1
    ds = from_numpy(
        pos[..., None], likelihood[..., None], keypoint_names=NAMES, fps=30.0
    )
    path = save_poses(ds, tmp_path / "walk.nc", fmt="netCDF")
    app = BehaviorApp(path=path, output_dir=tmp_path / "out", load_bokehjs=False)
    assert app.coverage_box.layout.display == "none"  # every point kept: all frames
    app.threshold.value = 0.5
    app.max_gap.value = 0
    app.smoother.value = "none"
    app.clean_button.click()
    return app


def test_few_frames_box_rows_and_fixes(app: BehaviorApp) -> None:
    m = app.model
    cov = m.coverage_table().iloc[0]
    assert cov["point"] == "centroid" and cov["few_frames"]
    # the box, above the tables: how many frames, and the fixes as buttons
    assert app.coverage_box.layout.display is None
    text = app.coverage_html.value
    assert "These numbers come from few frames" in text
    assert f"come from {cov['frames_used']} of {N} frames" in text
    assert "--max-gap" not in text and "--keypoint" not in text  # app words only
    assert "likelihood threshold (0.5)" in text
    assert app.fill_gaps_button.layout.display is None
    assert app.better_point_button.layout.display == "none"  # the centroid is best
    children = app.widget.children
    assert children.index(app.coverage_box) < children.index(app.kinematics_html)
    # the rows of that animal are greyed, with a note
    assert "posekit-few-frames" in app.kinematics_html.value
    assert f"⚠ {cov['fraction']:.0%} of frames" in app.kinematics_html.value
    m.set_rois([RectangleROI("left", 0, 0, 300, 200)])
    app._refresh_rois()
    assert "posekit-few-frames" in app.roi_html.value
    # a keypoint seen less: the centroid is offered, one click measures it
    app.keypoint.value = "spine"
    app.calib_button.click()
    assert m.keypoint == "spine"
    assert "spine is missing in the others" in app.coverage_html.value
    assert app.better_point_button.layout.display is None
    assert app.better_point_button.description.startswith("Measure the centroid (")
    app.better_point_button.click()
    assert m.keypoint is None and app.keypoint.value == ""
    # one click fills the gaps (here short ones: the animal stays hidden 100 frames)
    app.fill_gaps_button.click()
    assert app.coverage_message.value == ""
    assert app.max_gap.value == 10 and m.filter_config.max_gap == 10
    assert m.filter_config.confidence_threshold == 0.5
    assert app.fill_gaps_button.layout.display == "none"  # done already
    used = m.coverage_table().iloc[0]["frames_used"]
    assert cov["frames_used"] < used < N and app.coverage_box.layout.display is None
    # no smoothing: the distance adds up the tracking's jitter, the page says so
    assert "no smoothing" in app.jitter_note.value
    app.smoother.value = "median"
    app.clean_button.click()
    assert "no smoothing" not in app.jitter_note.value
    assert "positions smoothed: median of 5 frames" in app.jitter_note.value
    app.smoother.value = "none"
    # gaps as long as the hidden stretch: every frame (but an end one, where no
    # keypoint was seen), no box, no marked row
    app.max_gap.value = 150
    app.clean_button.click()
    assert m.coverage_table().iloc[0]["frames_used"] >= N - 2
    assert app.coverage_box.layout.display == "none"
    assert "posekit-few-frames" not in app.kinematics_html.value
    assert "posekit-few-frames" not in app.roi_html.value
