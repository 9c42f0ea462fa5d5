"""``posekit behavior rois|export`` say when their numbers come from few frames.

QA s17 (workshop) finding 2: the warning that the centroid was missing in most
frames was a log line only. Now ``rois`` and ``export`` print which animals'
numbers come from how many frames, and the options that give more (the same text
as the behaviour app's box, ``BehaviorModel.coverage_warning``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.roi import RectangleROI, save_rois
from posekit.engine.cli import main
from posekit.engine.io import save_poses
from posekit.engine.poses import from_numpy

N = 300
NAMES = ["snout", "neck", "spine", "tailbase"]


@pytest.fixture
def gappy(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Write a walker whose keypoints are unsure (likelihood 0.1) at times.

    Each keypoint in 65 % of the frames, and every keypoint in frames 100-199 (the
    animal hidden).
    """
    t = np.arange(N, dtype=float)
    offsets = np.array([[9.0, 0.0], [3.0, 0.0], [-3.0, 0.0], [-9.0, 0.0]]).T
    pos = np.stack([20.0 + 2.0 * t, np.full(N, 100.0)], 1)[:, :, None] + offsets
    likelihood = np.where(rng.random((N, len(NAMES))) < 0.35, 0.9, 0.1)
    likelihood[100:200] = 0.1
    ds = from_numpy(
        pos[..., None], likelihood[..., None], keypoint_names=NAMES, fps=30.0
    )
    return save_poses(ds, tmp_path / "walk.nc", fmt="netCDF")


def test_rois_prints_the_few_frames_warning(
    gappy: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rois = save_rois([RectangleROI("left", 0, 0, 300, 200)], tmp_path / "r.geojson")
    out = tmp_path / "rois.csv"
    args = ["behavior", "rois", str(gappy), "--rois", str(rois), "--out", str(out)]
    assert main([*args, "--pcutoff", "0.5"]) == 0
    err = capsys.readouterr().err
    assert "posekit: warning: these numbers come from few frames" in err
    assert "walk: the distance, speeds and ROI times come from" in err
    assert "of 300 frames" in err and "--max-gap 10" in err
    row = pd.read_csv(out).iloc[0]
    assert row["n_bouts"] * row["mean_bout"] == row["frames_inside"]
    # a keypoint seen less: the centroid is offered
    assert main([*args, "--pcutoff", "0.5", "--keypoint", "spine"]) == 0
    err = capsys.readouterr().err
    assert "spine is missing in the others" in err
    assert "measure the centroid" in err
    # gaps filled: every frame has a centroid, no warning
    assert main([*args, "--pcutoff", "0.5", "--max-gap", "150"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_export_prints_the_few_frames_warning(
    gappy: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "results"
    rc = main(
        [
            "behavior", "export", str(gappy), "--pcutoff", "0.5", "--out", str(out),
            "--figures", "", "--no-excel",
        ]
    )  # fmt: skip
    assert rc == 0
    err = capsys.readouterr().err
    assert "these numbers come from few frames" in err
    kinematics = pd.read_csv(out / "kinematics.csv").iloc[0]
    assert f"come from {kinematics['frames_used']} of 300 frames" in err
