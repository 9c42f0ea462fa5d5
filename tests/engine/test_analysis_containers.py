"""Analysing videos of many cameras: odd sizes, trimmed and cut files, a batch (QA s17).

A tiny network (3 iterations) analyses 64×48 videos encoded by the ffmpeg of
``imageio-ffmpeg``; what matters here is which frames make the rows, not where the
keypoints fall.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos
from posekit.engine.io.dlc import analysis_metadata
from posekit.engine.project import Project

W, H = 64, 48
COMMON = {"progress": False, "precision": "float32"}


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _encode(
    path: Path, n: int, options: list[str], vf: str | None = None, size=(W, H)
) -> Path:
    """Encode ``n`` frames with a box that moves (and grey elsewhere)."""
    w, h = size
    frames = np.full((n, h, w, 3), 60, np.uint8)
    for i in range(n):
        x = (i * 3) % (w - 16)
        frames[i, 16:40, x : x + 16] = (200, 120, 40)
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{w}x{h}", "-r", "30", "-i", "-"]
    cmd += (["-vf", vf] if vf else []) + options + [str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


H264 = ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-bf", "3"]


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Copy the demo project and train a tiny network for 3 iterations."""
    return tiny_trained_copy("containers")


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Encode ``trim.mp4``, ``cut.mp4``, ``vfr.mkv`` and ``plain.mp4``.

    ``trim.mp4`` has an edit list (60 frames announced, 45 decode), ``cut.mp4`` is
    truncated, ``vfr.mkv`` has a variable frame rate.
    """
    folder = tmp_path_factory.mktemp("videos")
    full = _encode(folder / "full.mp4", 60, [*H264, "-movflags", "+faststart"])
    out = {"plain.mp4": _encode(folder / "plain.mp4", 24, H264)}
    out["trim.mp4"] = folder / "trim.mp4"
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-y", "-ss", "0.5", "-i", str(full)]
        + ["-c", "copy", str(out["trim.mp4"])],
        check=True,
    )
    data = full.read_bytes()
    out["cut.mp4"] = folder / "cut.mp4"
    out["cut.mp4"].write_bytes(data[: int(len(data) * 0.6)])
    out["vfr.mkv"] = _encode(
        folder / "vfr.mkv",
        40,
        ["-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
        vf="setpts='(N+floor(N/10)*0.7)/30/TB'",
    )
    return out


def test_an_odd_crop_at_half_size_is_analysed(
    trained: Project, videos: dict[str, Path], tmp_path: Path
) -> None:
    """Finding 3: "Cannot set tensor: Got 22 but expected 21" (int(43 * 0.5) = 21)."""
    outputs = analyze_videos(
        trained,
        [videos["plain.mp4"]],
        destfolder=tmp_path,
        cropping=[1, 60, 1, 44],  # 59 × 43: 30 × 22 at half size (29 × 21 before)
        scale=0.5,
        **COMMON,
    )
    assert not outputs.failed
    [out] = outputs
    assert len(pd.read_hdf(out)) == 24


def test_a_video_that_fails_does_not_stop_the_batch(
    trained: Project,
    videos: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 3: the videos after the one that failed were not analysed."""
    from posekit.engine import inference

    real = inference.analyze_video

    def analyze_video(predictor, video, **kwargs):
        if Path(video).name == "trim.mp4":
            raise ValueError("Cannot set tensor: Dimension mismatch (simulated)")
        return real(predictor, video, **kwargs)

    monkeypatch.setattr(inference, "analyze_video", analyze_video)
    outputs = analyze_videos(
        trained,
        [videos["trim.mp4"], videos["plain.mp4"]],
        destfolder=tmp_path,
        **COMMON,
    )
    assert [p.name.split("DLC")[0] for p in outputs] == ["plain"]
    assert list(outputs.failed) == [videos["trim.mp4"]]
    assert "Dimension mismatch" in outputs.failed[videos["trim.mp4"]]


def test_chunks_of_trimmed_and_variable_rate_videos_equal_the_serial_run(
    trained: Project, videos: dict[str, Path], tmp_path: Path
) -> None:
    """Finding 4: a chunk past the end of a trimmed MP4 crashed (numpy reshape)."""
    names = ["trim.mp4", "vfr.mkv", "plain.mp4"]
    serial = analyze_videos(
        trained, [videos[n] for n in names], destfolder=tmp_path / "serial", **COMMON
    )
    chunked = analyze_videos(
        trained,
        [videos[n] for n in names],
        destfolder=tmp_path / "chunked",
        shard="0/1",
        chunk_frames=8,
        **COMMON,
    )
    assert not chunked.failed
    assert [p.name for p in chunked] == [p.name for p in serial]
    for a, b in zip(serial, chunked, strict=True):
        pd.testing.assert_frame_equal(pd.read_hdf(a), pd.read_hdf(b), check_exact=True)
        ma, mb = analysis_metadata(a), analysis_metadata(b)
        assert ma.get("variable_frame_rate") == mb.get("variable_frame_rate")
        np.testing.assert_array_equal(ma.get("frame_times"), mb.get("frame_times"))
    assert len(pd.read_hdf(serial[0])) == 45  # the edit list's frames
    assert analysis_metadata(serial[0])["container_nframes"] == 60
    assert analysis_metadata(serial[1])["variable_frame_rate"] is True


def test_a_failing_chunk_leaves_the_other_videos_written(
    trained: Project,
    videos: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 4: the finished videos' .h5 were not written after a chunk failed."""
    from posekit.engine import distributed

    real = distributed.run_chunk

    def run_chunk(task, stop_event=None):
        if Path(task.video).name == "trim.mp4" and task.index == 1:
            raise ValueError("simulated")
        return real(task, stop_event)

    monkeypatch.setattr(distributed, "run_chunk", run_chunk)
    outputs = analyze_videos(
        trained,
        [videos["trim.mp4"], videos["plain.mp4"]],
        destfolder=tmp_path,
        shard="0/1",
        chunk_frames=8,
        **COMMON,
    )
    assert [p.name.split("DLC")[0] for p in outputs] == ["plain"]
    assert list(outputs.failed) == [videos["trim.mp4"]]
    assert "chunk 1" in outputs.failed[videos["trim.mp4"]]


def test_a_truncated_video_is_named_and_its_rows_do_not_depend_on_scale(
    trained: Project,
    videos: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Finding 5: rc 0, not in the summary; 170 rows at full size, 172 at half size."""
    from posekit.engine.cli.analyze import report_outputs

    rows = {}
    for scale in (1.0, 0.5):
        with caplog.at_level(logging.WARNING, logger="posekit"):
            outputs = analyze_videos(
                trained,
                [videos["cut.mp4"]],
                destfolder=tmp_path / str(scale),
                scale=scale,
                **COMMON,
            )
        [out] = outputs
        rows[scale] = len(pd.read_hdf(out))
        assert list(outputs.incomplete) == [videos["cut.mp4"]]
        meta = analysis_metadata(out)
        assert meta["container_nframes"] == 60
        assert "truncated or corrupt" in meta["truncated"]
    assert rows[1.0] == rows[0.5] < 60
    assert report_outputs(outputs) == 2
    assert "analysed in part: " in capsys.readouterr().err
    # a complete file trimmed with -c copy: no warning, nothing incomplete
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        done = []
        outputs = analyze_videos(
            trained,
            [videos["trim.mp4"]],
            destfolder=tmp_path / "trim",
            **{**COMMON, "progress": lambda d, t: done.append((d, t))},
        )
    assert not outputs.incomplete and "truncated" not in caplog.text
    assert done[-1] == (45, 45)  # the progress ends at 100 %


# ---------------------------------------------------------------- small ones (finding 7)


def test_a_name_clash_names_every_pair(tmp_path: Path) -> None:
    """The refusal hid the second clash ("and 1 more such clashes")."""
    from posekit.engine.inference import plan_analysis

    dests = {
        tmp_path / "a" / "h264.mkv": tmp_path,
        tmp_path / "a" / "h264.mov": tmp_path,
        tmp_path / "a" / "top.mp4": tmp_path,
        tmp_path / "b" / "top.mp4": tmp_path,
    }
    with pytest.raises(ValueError) as info:
        plan_analysis(dests, "DLC_x")
    said = str(info.value)
    for video in dests:
        assert str(video) in said
    assert "Nothing was analysed" in said


def test_resuming_is_said_at_the_default_level(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The line "resuming at frame k" was INFO, shown only with -v."""
    from posekit.engine.inference import PartialAnalysis, _resumed

    partial = PartialAnalysis(tmp_path / ".v.partial.npz", {"k": 1})
    partial.save([np.zeros((16, 2, 3), np.float32)])
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert len(_resumed(partial, 8, tmp_path / "v.mp4")[0]) == 16
    assert "v.mp4: resuming at frame 16" in caplog.text


def test_large_frames_at_full_size_get_a_hint_to_scale(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 4K clip ran for 19 min at full size without a word about --scale."""
    from posekit.engine.inference import hint_large_frames

    with caplog.at_level(logging.WARNING, logger="posekit"):
        hint_large_frames("uhd.mp4", (2160, 3840), 1.0)
        assert "uhd.mp4 has 3840×2160 frames" in caplog.text
        assert "--scale 0.5" in caplog.text
        caplog.clear()
        hint_large_frames("uhd.mp4", (2160, 3840), 0.5)
        hint_large_frames("vga.mp4", (480, 640), 1.0)
    assert caplog.text == ""
