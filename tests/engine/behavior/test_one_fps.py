"""A frame rate of 1 fps works as every other rate (QA s21, finding 2).

At 1 fps the times in seconds step by 1, as frame numbers do, so the rate cannot be
told from the spacing of the ``time`` coordinate: the coordinate says its unit itself
(``time.attrs["time_unit"]``) and travels with ``ds.position``. The trajectory moves
3 px per frame along x, so its speed is 3 px/s at 1 fps and 6 px/s at 2 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.calibration import Calibration
from posekit.engine.behavior.kinematics import compute_acceleration, compute_speed
from posekit.engine.cli import main
from posekit.engine.io import load_poses, save_poses
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.poses import from_numpy

N = 40
STEP = 3.0  # px per frame


def _trajectory() -> np.ndarray:
    """``(time, space, keypoint, individual)``: two keypoints moving 3 px/frame in x."""
    t = np.arange(N, dtype=float)
    pos = np.zeros((N, 2, 2, 1))
    pos[:, 0, 0, 0] = 10 + STEP * t
    pos[:, 1, 0, 0] = 50.0
    pos[:, 0, 1, 0] = 20 + STEP * t
    pos[:, 1, 1, 0] = 60.0
    return pos


def _predictions(folder: Path) -> Path:
    """Write the trajectory as DeepLabCut predictions (likelihood 1)."""
    pos = _trajectory()
    xyp = np.concatenate(
        [pos[:, :, :, 0].transpose(0, 2, 1), np.ones((N, 2, 1))], axis=-1
    )
    df = predictions_frame(xyp, "DLC_resnet50_oneJan1shuffle1_100", ["nose", "tail"])
    return write_predictions(df, folder / "trackDLC_resnet50_oneJan1shuffle1_100.h5")


def test_from_numpy_at_one_fps_gives_speed_per_second() -> None:
    ds = from_numpy(_trajectory(), fps=1)
    speed = compute_speed(ds.position, per="second")  # the array alone: no fps attr
    np.testing.assert_allclose(speed.values, STEP)
    assert speed.attrs["units"] == "px/s"
    assert ds.position["time"].attrs["time_unit"] == "seconds"
    acc = compute_acceleration(ds.position, per="second")
    np.testing.assert_allclose(acc.values, 0.0, atol=1e-12)


def test_frames_are_still_frames() -> None:
    speed = compute_speed(from_numpy(_trajectory()).position)
    assert speed.attrs["units"] == "px/frame"
    with pytest.raises(ValueError, match="needs the frame rate"):
        compute_speed(from_numpy(_trajectory()).position, per="second")


def test_load_poses_at_one_fps(tmp_path: Path) -> None:
    ds = load_poses(_predictions(tmp_path), fps=1)
    assert ds.attrs["fps"] == 1.0
    speed = compute_speed(ds.position, per="second")
    np.testing.assert_allclose(speed.values, STEP)


def test_netcdf_round_trip_keeps_one_fps(tmp_path: Path) -> None:
    path = save_poses(from_numpy(_trajectory(), fps=1), tmp_path / "p.nc", fmt="netCDF")
    back = load_poses(path)
    np.testing.assert_allclose(compute_speed(back.position, per="second").values, STEP)
    assert back["time"].attrs["time_unit"] == "seconds"


def test_calibration_to_one_fps() -> None:
    """A rate set on poses timed in frames (the CLI's --fps 1) reaches the arrays."""
    ds = Calibration(fps=1.0).apply(from_numpy(_trajectory()))
    speed = compute_speed(ds["position"], per="second")
    np.testing.assert_allclose(speed.values, STEP)


@pytest.mark.parametrize("fps", [1.0, 2.0])
def test_cli_export_at_one_and_two_fps(tmp_path: Path, fps: float) -> None:
    track = _predictions(tmp_path)
    out = tmp_path / "res"
    rc = main(
        [
            "behavior",
            "export",
            str(track),
            "--fps",
            f"{fps:g}",
            "--keypoint",
            "nose",
            "--figures",
            "png",
            "--no-excel",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    row = pd.read_csv(out / "kinematics.csv").iloc[0]
    assert row["fps"] == fps
    assert row["duration_s"] == pytest.approx(N / fps)
    assert row["distance"] == pytest.approx(STEP * (N - 1))
    assert row["mean_speed"] == pytest.approx(STEP * fps)
    assert row["max_speed"] == pytest.approx(STEP * fps)
    assert row["speed_unit"] == "px/s"
