"""``convert`` gives every output the frame rate of the input's video (QA s21, finding 5).

The NWB writer took the rate of the video a tracking file names or is named after;
``.nc`` (and every other output) now gets the same, so ``posekit convert clip.slp
clip.nc`` and ``clip.nwb`` agree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.io import convert, load_poses
from posekit.engine.io.dlc import predictions_frame, write_predictions

N = 12
VIDEO_FPS = 10.0


def _track_with_video(folder: Path, *, video: bool = True) -> Path:
    """Predictions ``trackDLC_….h5`` (frames 5…16) beside ``track.avi`` at 10 fps."""
    folder.mkdir(parents=True, exist_ok=True)
    if video:
        writer = cv2.VideoWriter(
            str(folder / "track.avi"),
            cv2.VideoWriter_fourcc(*"MJPG"),
            VIDEO_FPS,
            (32, 24),
        )
        for i in range(N + 5):
            writer.write(np.full((24, 32, 3), 10 * i % 255, np.uint8))
        writer.release()
    xyp = np.ones((N, 1, 3))
    xyp[:, 0, 0] = np.arange(N) * 2.0
    df = predictions_frame(
        xyp, "DLC_resnet50_xJan1shuffle1_100", ["nose"], index=list(range(5, 5 + N))
    )
    return write_predictions(df, folder / "trackDLC_resnet50_xJan1shuffle1_100.h5")


def test_nc_gets_the_video_rate(tmp_path: Path) -> None:
    track = _track_with_video(tmp_path / "in")
    assert load_poses(track).attrs["fps"] is None  # the file itself records none
    out = convert(track, tmp_path / "track.nc")
    ds = load_poses(out)
    assert ds.attrs["fps"] == VIDEO_FPS
    assert ds.attrs["time_unit"] == "seconds"
    np.testing.assert_allclose(ds["time"].values, np.arange(5, 5 + N) / VIDEO_FPS)
    np.testing.assert_allclose(
        ds.position.sel(space="x").values.ravel(), np.arange(N) * 2
    )


def test_nc_and_nwb_agree(tmp_path: Path) -> None:
    pytest.importorskip("ndx_pose")
    track = _track_with_video(tmp_path / "in")
    nc = load_poses(convert(track, tmp_path / "t.nc"))
    nwb = load_poses(convert(track, tmp_path / "t.nwb"))
    assert nc.attrs["fps"] == nwb.attrs["fps"] == VIDEO_FPS
    np.testing.assert_allclose(nc["time"].values, nwb["time"].values)


def test_given_fps_wins_and_no_video_keeps_frames(tmp_path: Path) -> None:
    track = _track_with_video(tmp_path / "in")
    ds = load_poses(convert(track, tmp_path / "given.nc", fps=25.0))
    assert ds.attrs["fps"] == 25.0
    np.testing.assert_allclose(ds["time"].values, np.arange(5, 5 + N) / 25.0)
    bare = _track_with_video(tmp_path / "bare", video=False)
    ds = load_poses(convert(bare, tmp_path / "bare.nc"))
    assert ds.attrs["fps"] is None
    assert ds.attrs["time_unit"] == "frames"
    np.testing.assert_allclose(ds["time"].values, np.arange(5, 5 + N))


def test_sleap_clip_to_nc_has_the_video_rate(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    clip = shared_data / "sleap-flies-clip"
    if not (clip / "clip.slp").is_file() or not (clip / "clip.mp4").is_file():
        pytest.skip("the SLEAP fly clip is not in the shared data")
    pytest.importorskip("sleap_io")
    for name in ("clip.slp", "clip.mp4"):
        shutil.copy(clip / name, tmp_path / name)
    out = tmp_path / "flies.nc"
    assert main(["convert", str(tmp_path / "clip.slp"), str(out)]) == 0
    ds = load_poses(out)
    source = load_poses(tmp_path / "clip.slp")
    assert ds.attrs["fps"] == 25.0
    np.testing.assert_allclose(ds["time"].values, np.arange(ds.sizes["time"]) / 25.0)
    np.testing.assert_array_equal(ds.position.values, source.position.values)
