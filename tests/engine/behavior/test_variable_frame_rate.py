"""Behaviour rates of a variable-frame-rate analysis (QA s24 longvideo, finding 3).

``posekit analyze`` records each frame's time for a video with dropped frames
(``frame_times`` in the ``_meta.pickle``, ``frame_time`` in the netCDF), but the
behaviour tools took one constant fps: keypoints moving at exactly 100 px/s in real
time came out at 71–214 px/s (a 2× spike after each dropped frame), with no warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior import (
    compute_acceleration,
    compute_angular_velocity,
    compute_heading,
    compute_speed,
)
from posekit.engine.cli import main
from posekit.engine.io import load_poses, save_poses
from posekit.engine.io.dlc import write_analysis_metadata
from posekit.engine.poses import from_numpy

FPS = 30.0
N = 120
KEYPOINTS = ["snout", "neck", "tailbase"]
STEM = "vfrDLC_effnet_lite0_demoJan1shuffle1_30"


def _frame_times() -> np.ndarray:
    """30 fps with frames dropped (QA's select: 2 of every 7 frames lost)."""
    kept = [n for n in range(N * 2) if n % 7 == 0 or n % 7 > 2][:N]
    return np.asarray(kept, dtype=np.float64) / FPS


def _poses(times: np.ndarray):
    """Every keypoint at x = 50 + 100 t px (t: the frame's real time), y = 120."""
    pos = np.zeros((N, 2, len(KEYPOINTS), 1))
    pos[:, 0] = (50 + 100 * times)[:, None, None] + np.arange(3)[None, :, None] * 10
    pos[:, 1] = 120
    return from_numpy(
        pos, np.ones((N, len(KEYPOINTS), 1)), keypoint_names=KEYPOINTS, fps=FPS
    )


def _analysis(folder: Path, *, vfr: bool) -> Path:
    """Write a DLC ``.h5`` and its ``_meta.pickle`` (``frame_times`` if ``vfr``)."""
    folder.mkdir(parents=True, exist_ok=True)
    times = _frame_times()
    h5 = save_poses(_poses(times), folder / f"{STEM}.h5", fmt="DeepLabCut")
    meta = {"fps": FPS, "nframes": N}
    if vfr:
        meta |= {"variable_frame_rate": True, "frame_times": times}
    write_analysis_metadata(folder / f"{STEM}_meta.pickle", meta)
    return h5


def test_speed_of_a_vfr_analysis_is_over_each_frames_real_time(tmp_path) -> None:
    """The DLC ``.h5`` + ``_meta.pickle``: 100 px/s everywhere, acceleration 0."""
    ds = load_poses(_analysis(tmp_path, vfr=True))
    np.testing.assert_array_equal(ds["frame_time"].values, _frame_times())
    speed = compute_speed(ds.position, per="second")
    assert speed.attrs["units"] == "px/s"
    np.testing.assert_allclose(speed.values, 100.0, rtol=1e-6)
    accel = compute_acceleration(ds.position, per="second")
    np.testing.assert_allclose(accel.sel(space="x").values, 0.0, atol=1e-6)
    # per frame: the differences between rows, as before (not per second)
    per_frame = compute_speed(ds.position, per="frame").values
    assert per_frame.max() > 1.9 * per_frame.min()


def test_a_trimmed_selection_keeps_its_frames_times(tmp_path) -> None:
    """``isel`` on ``time`` keeps each row's time: the rate is still 100 px/s."""
    ds = load_poses(_analysis(tmp_path, vfr=True)).isel(time=slice(17, 60))
    speed = compute_speed(ds.position, per="second")
    np.testing.assert_allclose(speed.values, 100.0, rtol=1e-6)


def test_netcdf_frame_time_is_used(tmp_path) -> None:
    """``posekit analyze --netcdf`` writes ``frame_time`` as a variable."""
    times = _frame_times()
    ds = _poses(times)
    ds["frame_time"] = ("time", times)
    save_poses(ds, tmp_path / "vfr.nc", fmt="netCDF")
    loaded = load_poses(tmp_path / "vfr.nc")
    assert "frame_time" in loaded.coords
    speed = compute_speed(loaded.position, per="second")
    np.testing.assert_allclose(speed.values, 100.0, rtol=1e-6)


def test_turning_rate_uses_the_frames_times(tmp_path) -> None:
    """A body axis turning at 2 rad/s in real time gives 2 rad/s."""
    times = _frame_times()
    pos = np.zeros((N, 2, 2, 1))
    pos[:, 0, 1] = 10 * np.cos(2 * times)[:, None]
    pos[:, 1, 1] = 10 * np.sin(2 * times)[:, None]
    ds = from_numpy(pos, keypoint_names=["tail", "head"], fps=FPS)
    ds = ds.assign_coords(frame_time=("time", times))
    heading = compute_heading(ds.position, "tail", "head")
    rate = compute_angular_velocity(heading, per="second")
    # central differences of a turning angle: exact for a constant rate
    np.testing.assert_allclose(rate.values, 2.0, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".h5", ".nc"])
def test_cli_features_give_100_px_per_s_and_warn_once(
    tmp_path, suffix, capsys, caplog
) -> None:
    """``posekit behavior features``: 100 px/s, and a warning names the VFR."""
    h5 = _analysis(tmp_path / "a", vfr=True)
    src = h5
    if suffix == ".nc":
        ds = load_poses(h5)
        src = save_poses(
            ds.reset_coords("frame_time"), tmp_path / "vfr.nc", fmt="netCDF"
        )
    out = tmp_path / "feat.csv"
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["behavior", "features", str(src), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["speed_unit"].iloc[0] == "px/s"
    for col in ("speed_snout", "speed_centroid"):
        np.testing.assert_allclose(table[col].to_numpy(), 100.0, rtol=1e-6)
    said = [
        r.getMessage() for r in caplog.records if "variable frame rate" in r.message
    ]
    assert len(said) == 1 and "approximate" in said[0]


def test_a_constant_frame_rate_file_gives_what_it_gave(tmp_path, caplog) -> None:
    """No ``frame_times``: rates are differences × fps, exactly, and no warning."""
    ds = load_poses(_analysis(tmp_path, vfr=False))
    assert "frame_time" not in ds.coords
    x = ds.position.sel(space="x").values
    expected = np.abs(np.gradient(x, axis=0, edge_order=1)) * FPS
    speed = compute_speed(ds.position, per="second")
    np.testing.assert_array_equal(speed.values, expected)
    out = tmp_path / "feat.csv"
    src = tmp_path / f"{STEM}.h5"
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["behavior", "features", str(src), "--out", str(out)]) == 0
    assert "variable frame rate" not in caplog.text
    table = pd.read_csv(out)
    np.testing.assert_allclose(
        table["speed_snout"].to_numpy(), expected[:, 0, 0], rtol=1e-6
    )
