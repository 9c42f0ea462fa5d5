"""Rerunning a batch that holds a truncated video (QA s24 longvideo, finding 4).

The first run exits 2 ("analysed in part"); the rerun, which finds the output done
and skips it, exited 0. A script such as ``posekit analyze … || notify`` then
reported success after a partial night.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.api import analyze_videos
from posekit.engine.cli import main
from posekit.engine.project import Project

W, H = 64, 48
COMMON = {"progress": False, "precision": "float32"}


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Copy the demo project and train a tiny network for 3 iterations."""
    return tiny_trained_copy("rerun-truncated")


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory) -> Path:
    """Encode 60 frames (faststart mp4, no B-frames), then keep 60 % of its bytes."""
    folder = tmp_path_factory.mktemp("cut")
    frames = np.full((60, H, W, 3), 60, np.uint8)
    for i in range(60):
        x = (i * 3) % (W - 16)
        frames[i, 16:40, x : x + 16] = (200, 120, 40)
    full = folder / "full.mp4"
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", "30", "-i", "-", "-c:v", "libx264", "-crf"]
    cmd += ["18", "-pix_fmt", "yuv420p", "-bf", "0", "-movflags", "+faststart"]
    cmd += [str(full)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    data = full.read_bytes()
    cut = folder / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    return cut


def test_a_rerun_still_counts_a_truncated_video_as_analysed_in_part(
    trained: Project,
    cut_video: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    """The skipped output's ``_meta.pickle`` says truncated: incomplete, exit 2."""
    project = trained
    dest = tmp_path / "out"
    first = analyze_videos(project, [cut_video], destfolder=dest, **COMMON)
    assert list(first.incomplete) == [cut_video]
    why = first.incomplete[cut_video]
    assert "truncated or corrupt" in why

    again = analyze_videos(project, [cut_video], destfolder=dest, **COMMON)
    assert again.skipped == list(first) and list(again) == list(first)
    assert again.incomplete == {cut_video: why}  # the same sentence as the first run

    capsys.readouterr()
    argv = ["analyze", str(project.path), str(cut_video), "--dest", str(dest)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"posekit analyze: analysed in part: {cut_video}: " in err


def test_a_rerun_of_a_complete_video_still_exits_0(
    trained: Project, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A whole video analysed before: skipped, nothing incomplete, exit 0."""
    project = trained
    video = tmp_path / "whole.mp4"
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", "30", "-i", "-", "-c:v", "libx264"]
    cmd += ["-pix_fmt", "yuv420p", str(video)]
    frames = np.full((12, H, W, 3), 90, np.uint8)
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    dest = tmp_path / "out"
    analyze_videos(project, [video], destfolder=dest, **COMMON)
    again = analyze_videos(project, [video], destfolder=dest, **COMMON)
    assert again.skipped and not again.incomplete
    argv = ["analyze", str(project.path), str(video), "--dest", str(dest)]
    assert main(argv) == 0
    assert "analysed in part" not in capsys.readouterr().err
