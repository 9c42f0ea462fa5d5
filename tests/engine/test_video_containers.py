"""Videos of every container: exact frames, frame counts, timing, folders (QA s17).

Each test video is a few dozen 64×48 frames whose index is written in binary in
their top row (:func:`_code`), encoded by the ffmpeg of ``imageio-ffmpeg`` the way
cameras and tools write them: MPEG-2 in MPEG-PS (``.mpg``), H.264 in MPEG-TS
(``.ts``, camcorders' ``.mts``), a variable frame rate in Matroska, an MP4 trimmed
with ``-c copy`` (an edit list) and an MP4 cut short (a copy that did not finish).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.io.dlc import make_labels_frame, write_labels
from posekit.engine.project import Project, list_videos
from posekit.engine.video import (
    VideoReader,
    extract_frames,
    frame_timing,
    scaled_size,
)

W, H, BITS = 64, 48, 8
N = 120  # frames of the coded videos

#: name -> (ffmpeg output options, video filter)
CONTAINERS = {
    "mpeg2.mpg": (["-c:v", "mpeg2video", "-q:v", "3", "-bf", "2", "-g", "12"], None),
    "h264.ts": (
        ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-bf", "3"],
        None,
    ),
    # every 10th frame interval 1.7 times the others (a phone, a webcam)
    "vfr.mkv": (
        ["-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
        "setpts='(N+floor(N/10)*0.7)/30/TB'",
    ),
    "h264.mp4": (
        ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-bf", "3"],
        None,
    ),
}


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _frames(n: int, width: int = W, height: int = H) -> list[np.ndarray]:
    """RGB frames: index ``i`` in binary (white 8×8 blocks) and a moving box."""
    out = []
    for i in range(n):
        f = np.full((height, width, 3), 60, np.uint8)
        x = (i * 3) % (width - 16)
        f[16:40, x : x + 16] = (200, 120, 40)
        for b in range(BITS):
            if i >> b & 1:
                f[0:8, b * 8 : b * 8 + 8] = 255
        out.append(f)
    return out


def _code(rgb: np.ndarray) -> int:
    """Read the index written in a frame (:func:`_frames`)."""
    return sum(1 << b for b in range(BITS) if rgb[4, b * 8 + 4].mean() > 128)


def _encode(path: Path, n: int, options: list[str], vf: str | None = None) -> Path:
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", "30", "-i", "-"]
    cmd += (["-vf", vf] if vf else []) + options + [str(path)]
    frames = b"".join(f.tobytes() for f in _frames(n))
    subprocess.run(cmd, input=frames, check=True)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Encode the coded videos, ``trim.mp4`` (edit list), ``cut.mp4`` (truncated)."""
    folder = tmp_path_factory.mktemp("containers")
    out = {
        name: _encode(folder / name, N, options, vf)
        for name, (options, vf) in CONTAINERS.items()
    }
    faststart = _encode(
        folder / "faststart.mp4",
        60,
        [*CONTAINERS["h264.mp4"][0], "-movflags", "+faststart"],
    )
    data = faststart.read_bytes()
    out["cut.mp4"] = folder / "cut.mp4"
    out["cut.mp4"].write_bytes(data[: int(len(data) * 0.6)])  # the index survives
    out["trim.mp4"] = folder / "trim.mp4"
    subprocess.run(  # the usual lossless trim: 15 frames outside the edit list
        [_ffmpeg(), "-v", "error", "-y", "-ss", "0.5", "-i", str(faststart)]
        + ["-c", "copy", str(out["trim.mp4"])],
        check=True,
    )
    return out


# ---------------------------------------------------------------- exact frames


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_random_reads_give_the_frame_asked_for(
    videos: dict[str, Path], name: str
) -> None:
    """Finding 1: after the end, read(0) gave frame 32 of a .ts, 2 later of a .mpg."""
    rng = np.random.default_rng(1)
    order = [N - 1, 0, 1, N - 2, *rng.permutation(N)[:50].tolist(), 3]
    with VideoReader(videos[name]) as reader:
        got = {i: _code(reader.read(i)) for i in order}
        starts = {
            s: [_code(f) for _, f in reader.iter_frames(s, s + 2, backend="opencv")]
            for s in range(0, N, 9)
        }
    assert {i: c for i, c in got.items() if c != i} == {}
    assert {s: c for s, c in starts.items() if c != [s, s + 1][: len(c)]} == {}


def test_reads_seek_by_time_once_the_times_are_known(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .ts is not decoded from its start for each read backwards: checked seeks."""
    import posekit.engine.video as video_module

    monkeypatch.setattr(video_module, "SEEK_STEP", 1)  # seek however short the video
    with VideoReader(videos["h264.ts"]) as reader:
        assert not reader.seeks_exactly and reader.container == "mpegts"
        assert len(reader) == N  # a whole decode records every frame's time
        assert _code(reader.read(N - 1)) == N - 1
        for i in (N - 20, N - 60, 70):
            assert _code(reader.read(i)) == i
            assert reader._anchored  # sought, and the frame's time checked


def test_extract_uniform_names_each_image_after_its_frame(
    demo_project: Project, videos: dict[str, Path]
) -> None:
    """Finding 1: img000.png showed frame 32 of the .ts (12 of the .mpg)."""
    for name in ("h264.ts", "mpeg2.mpg", "vfr.mkv"):
        paths = extract_frames(demo_project, videos[name], mode="uniform", n=10)
        assert len(paths) == 10
        for p in paths:
            image = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
            assert _code(image) == int(p.stem[3:]), (name, p.name)


def test_extract_replaces_a_wrong_image_unless_it_is_labelled(
    demo_project: Project, videos: dict[str, Path]
) -> None:
    """Images an older posekit wrote at wrong positions do not stay silently."""
    video = videos["mpeg2.mpg"]
    folder = demo_project.labeled_data_dir(video)
    folder.mkdir(parents=True, exist_ok=True)
    wrong = cv2.cvtColor(_frames(13)[12], cv2.COLOR_RGB2BGR)  # frame 12, not 0
    for name in ("img000.png", "img050.png"):  # chosen now, and not chosen
        cv2.imwrite(str(folder / name), wrong)
    got = extract_frames(demo_project, video, indices=[0, 30])
    for name, frame in (("img000.png", 0), ("img050.png", 50)):
        image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
        assert _code(image) == frame, name
    assert any("did not show the frame" in note for note in got.notes)
    # a labelled image is kept (its labels belong to it) and named
    cv2.imwrite(str(folder / "img000.png"), wrong)
    bodyparts = list(demo_project.bodyparts)
    labels = make_labels_frame(
        demo_project.scorer,
        bodyparts,
        [f"labeled-data/{folder.name}/img000.png"],
        np.ones((1, len(bodyparts), 2)),
    )
    write_labels(labels, demo_project.labels_path(video))
    got = extract_frames(demo_project, video, indices=[0])
    assert cv2.imread(str(folder / "img000.png")).tobytes() == wrong.tobytes()
    assert any("labelled image(s) do not show" in note for note in got.notes)


def test_a_frame_that_does_not_decode_is_a_note_not_a_traceback(
    demo_project: Project, videos: dict[str, Path]
) -> None:
    """Finding 1: an IndexError traceback came after some images were written."""
    with VideoReader(videos["cut.mp4"]) as reader:
        assert reader.expected_frames == 60
        n = reader.n_frames
    got = extract_frames(demo_project, videos["cut.mp4"], indices=[0, n + 5])
    assert [p.name for p in got] == ["img00.png"]
    assert any("do not decode" in note for note in got.notes)


# ---------------------------------------------------------------- counts and ends


def test_both_decoders_give_the_frames_of_a_truncated_mp4(
    videos: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 5: 170 rows at full size, 172 at --scale 0.5 (ffmpeg) for one file."""
    with caplog.at_level(logging.WARNING, logger="posekit"):
        with VideoReader(videos["cut.mp4"]) as reader:
            full = [_code(f) for _, f in reader.iter_frames(backend="opencv")]
            assert reader.stream_end.truncated
        with VideoReader(videos["cut.mp4"]) as reader:
            half = [i for i, _ in reader.iter_frames(backend="ffmpeg", scale=0.5)]
            assert reader.stream_end.truncated
    assert 0 < len(full) < 60
    assert half == full == list(range(len(full)))
    assert "truncated or corrupt" in caplog.text


def test_an_edit_list_or_an_estimated_count_is_not_called_truncated(
    videos: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 5: complete files got "may be truncated or corrupt"."""
    for name in ("trim.mp4", "vfr.mkv"):
        for backend, scale in (("opencv", 1.0), ("ffmpeg", 0.5)):
            with (
                caplog.at_level(logging.WARNING, logger="posekit"),
                VideoReader(videos[name]) as reader,
            ):
                n = sum(1 for _ in reader.iter_frames(backend=backend, scale=scale))
                assert not reader.stream_end.truncated, (name, backend)
            assert n == (45 if name == "trim.mp4" else N)
    with VideoReader(videos["trim.mp4"]) as reader:
        assert reader.metadata_frames == 60  # the frames outside the edit list too
        assert _code(reader.read(0)) == 15
    assert caplog.text == ""


def test_frame_times_reveal_a_variable_frame_rate(videos: dict[str, Path]) -> None:
    """Finding 6: the container's fps is an average (or a guess) for VFR files."""
    for backend, scale in (("opencv", 1.0), ("ffmpeg", 0.5)):
        for name, variable in (("vfr.mkv", True), ("h264.mp4", False)):
            times: list[float] = []
            with VideoReader(videos[name]) as reader:
                n = sum(
                    1
                    for _ in reader.iter_frames(
                        backend=backend, scale=scale, times=times
                    )
                )
            assert len(times) == n == N
            timing = frame_timing(times)
            assert (timing is not None) == variable, (name, backend)
    assert timing is None
    times = []
    with VideoReader(videos["vfr.mkv"]) as reader:
        list(reader.iter_frames(times=times))
    timing = frame_timing(times)  # (the encoder rounds the times to 1/30 s)
    assert timing["irregular"] >= 5
    assert timing["max_interval"] == pytest.approx(2 / 30, abs=0.002)
    assert timing["median_interval"] == pytest.approx(1 / 30, abs=0.002)


def test_save_records_the_frame_times_of_a_variable_frame_rate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from posekit.engine.inference import save_video_analysis

    times = [(i + (i // 10) * 0.7) / 30 for i in range(40)]
    info = {
        "fps": 30.0,
        "n_frames": 40,
        "frame_dimensions": (48, 64),
        "seconds": 1.0,
        "frames_per_second": 40.0,
        "frame_times": times,
        "container_nframes": 40,
        "truncated": None,
    }
    xyp = np.random.default_rng(0).random((40, 2, 3)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        out = save_video_analysis(
            xyp,
            info,
            tmp_path / "cam.mkv",
            scorer="DLC_x",
            bodyparts=["a", "b"],
            batch_size=8,
            netcdf=True,
        )
    assert "variable frame rate" in caplog.text
    meta = pickle.loads(out.with_name(f"{out.stem}_meta.pickle").read_bytes())["data"]
    assert meta["variable_frame_rate"] is True
    np.testing.assert_allclose(meta["frame_times"], times)
    assert meta["fps"] == 30.0 and meta["container_nframes"] == 40
    from posekit.engine.io import load_poses

    ds = load_poses(out.with_suffix(".nc"))
    np.testing.assert_allclose(ds["frame_time"].values, times)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize("size", [(641, 479), (291, 221), (320, 239), (67, 51)])
def test_scaled_size_is_the_size_of_the_resized_frames(size: tuple[int, int]) -> None:
    """Finding 3: the network was built for int(479 * 0.5) = 239 lines, got 240."""
    w, h = size
    frame = np.zeros((h, w, 3), np.uint8)
    for scale in (0.5, 0.25, 0.3):
        resized = cv2.resize(
            frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
        )
        assert scaled_size(w, h, scale) == (resized.shape[1], resized.shape[0])


# ---------------------------------------------------------------- folders


def test_a_folder_stands_for_its_camera_videos_and_names_other_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 2: .MTS, .m2ts, .ts and .webm files of a folder were skipped silently."""
    for name in ("C0001.MTS", "rec.m2ts", "dvr.ts", "phone.webm", "top.mp4", "a.3gp"):
        (tmp_path / name).write_bytes(b"")
    for name in ("topDLC_x.h5", "notes.txt", "cam.xyz", ".hidden"):
        (tmp_path / name).write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="posekit"):
        found = [p.name for p in list_videos([tmp_path])]
    assert found == sorted(
        ["C0001.MTS", "rec.m2ts", "dvr.ts", "phone.webm", "top.mp4", "a.3gp"]
    )
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "cam.xyz" in warned[0] and "--videotype" in warned[0]
    assert "notes.txt" not in caplog.text and "topDLC_x.h5" not in caplog.text
    assert [p.name for p in list_videos([tmp_path], videotype="mts")] == ["C0001.MTS"]
    assert [p.name for p in list_videos([tmp_path], videotype=".XYZ")] == ["cam.xyz"]


def test_analyze_takes_videotype(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Finding 2: the command line had no --videotype."""
    from posekit.engine import api
    from posekit.engine.cli import main
    from posekit.engine.inference import AnalysisOutputs

    seen = {}

    def fake(project, videos, **kwargs):
        seen.update(kwargs, videos=videos)
        return AnalysisOutputs()

    monkeypatch.setattr(api, "analyze_videos", fake)
    monkeypatch.setattr(
        "posekit.engine.cli.analyze.load_project",
        lambda path: type("P", (), {"for_training_set": lambda self, i: self})(),
    )
    code = main(["analyze", str(tmp_path), str(tmp_path), "--videotype", "mts"])
    assert code == 0
    assert seen["videotype"] == ["mts"]
