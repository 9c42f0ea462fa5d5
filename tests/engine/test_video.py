"""Video reading (exact count, exact seeks, background decode) and frame extraction."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.project import Project
from posekit.engine.video import (
    Crop,
    VideoError,
    VideoReader,
    extract_frames,
    frame_filename,
    select_frames_kmeans,
    select_frames_uniform,
)

DEMO_FRAMES = 120  # frames of the demo video (tests/engine/conftest.py)


def _decode_all(path: Path) -> list[np.ndarray]:
    """Every frame, decoded sequentially with plain OpenCV (the reference), as RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


@pytest.fixture(scope="module")
def demo_video(demo_project_ro: Project) -> Path:
    return demo_project_ro.path / "videos" / "session1.mp4"


@pytest.fixture(scope="module")
def demo_frames(demo_video: Path) -> list[np.ndarray]:
    return _decode_all(demo_video)


def _write_avi(path: Path, frames: list[np.ndarray]) -> Path:
    """Write an MJPG .avi (streamable: a cut file still decodes up to the cut)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


# ---------------------------------------------------------------- reading


def test_reader_basics(demo_video: Path, demo_frames: list[np.ndarray]) -> None:
    assert len(demo_frames) == DEMO_FRAMES
    with VideoReader(demo_video) as reader:
        assert len(reader) == len(demo_frames)
        assert reader.metadata_frames == DEMO_FRAMES
        assert (reader.width, reader.height) == (320, 240)
        assert reader.shape == (240, 320, 3)
        assert reader.fps == pytest.approx(30.0)
        frame = reader[0]
        assert frame.dtype == np.uint8 and frame.shape == (240, 320, 3)
        assert "320x240" in repr(reader)


def test_frames_are_rgb(demo_video: Path) -> None:
    """Frames come back RGB, not BGR: the demo floor is warm (red above blue)."""
    with VideoReader(demo_video) as reader:
        frame = reader[0].astype(int)
    # the floor is slightly warm: red above blue on average
    assert frame[..., 0].mean() > frame[..., 2].mean() + 5


def test_random_seeks_equal_sequential_frames(
    demo_video: Path, demo_frames: list[np.ndarray]
) -> None:
    order = [0, 119, 5, 4, 3, 100, 64, 65, 66, 1, 118, 50, 50, 49, 70, 0, 119]
    with VideoReader(demo_video) as reader:
        for i in order:
            np.testing.assert_array_equal(
                reader[i], demo_frames[i], err_msg=f"frame {i}"
            )
        np.testing.assert_array_equal(reader[-1], demo_frames[-1])
        np.testing.assert_array_equal(reader.read(-120), demo_frames[0])


def test_out_of_range_index(demo_video: Path) -> None:
    with VideoReader(demo_video) as reader:
        with pytest.raises(
            IndexError, match=r"frame 120 cannot be decoded.*120 frames"
        ):
            reader[120]
        with pytest.raises(IndexError, match="out of range"):
            reader[-121]
        assert reader[119].shape == (240, 320, 3)  # still usable afterwards


def test_iter_frames_all(demo_video: Path, demo_frames: list[np.ndarray]) -> None:
    with VideoReader(demo_video) as reader:
        got = list(reader.iter_frames())
    assert [i for i, _ in got] == list(range(DEMO_FRAMES))
    for i, frame in got:
        np.testing.assert_array_equal(frame, demo_frames[i])


@pytest.mark.parametrize(
    ("start", "stop", "step"),
    [
        (0, None, 7),
        (5, 50, 3),
        (90, None, 1),
        (100, 103, 1),
        (30, 31, 5),
        (119, None, 2),
    ],
)
def test_iter_frames_start_stop_step(
    demo_video: Path,
    demo_frames: list[np.ndarray],
    start: int,
    stop: int | None,
    step: int,
) -> None:
    with VideoReader(demo_video) as reader:
        got = list(reader.iter_frames(start, stop, step=step, prefetch=4))
    expected = list(range(start, DEMO_FRAMES if stop is None else stop, step))
    assert [i for i, _ in got] == expected
    for i, frame in got:
        np.testing.assert_array_equal(frame, demo_frames[i])


def test_iter_frames_past_the_end(demo_video: Path) -> None:
    with VideoReader(demo_video) as reader:
        assert list(reader.iter_frames(500)) == []
        assert [i for i, _ in reader.iter_frames(115, 1000)] == list(range(115, 120))


def _assert_same_image(actual: np.ndarray, expected: np.ndarray, exact: bool) -> None:
    """Assert equal images, or the same picture up to rounding.

    ffmpeg resizes in YUV before converting to RGB, OpenCV after; when not ``exact``
    the mean difference must be under 1 grey level.
    """
    assert actual.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        diff = np.abs(actual.astype(int) - expected.astype(int))
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 6, diff.mean()


@pytest.mark.parametrize("backend", ["opencv", "ffmpeg"])
def test_iter_frames_crop_and_scale(
    demo_video: Path, demo_frames: list[np.ndarray], backend: str
) -> None:
    crop = Crop(10, 210, 20, 140)
    with VideoReader(demo_video) as reader:
        cropped = dict(reader.iter_frames(0, 10, crop=crop, backend=backend))
        scaled = dict(reader.iter_frames(0, 10, scale=0.5, backend=backend))
        both = dict(reader.iter_frames(0, 10, crop=crop, scale=0.5, backend=backend))
    exact = backend == "opencv"
    for i in range(10):
        np.testing.assert_array_equal(cropped[i], demo_frames[i][20:140, 10:210])
        assert scaled[i].shape == (120, 160, 3)
        _assert_same_image(
            scaled[i],
            cv2.resize(
                demo_frames[i], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
            ),
            exact,
        )
        assert both[i].shape == (60, 100, 3)
        _assert_same_image(
            both[i],
            cv2.resize(
                demo_frames[i][20:140, 10:210],
                None,
                fx=0.5,
                fy=0.5,
                interpolation=cv2.INTER_AREA,
            ),
            exact,
        )


@pytest.mark.parametrize("backend", ["opencv", "ffmpeg"])
def test_iter_frames_backends_give_the_same_frames(
    demo_video: Path, demo_frames: list[np.ndarray], backend: str
) -> None:
    with VideoReader(demo_video) as reader:
        got = list(reader.iter_frames(backend=backend))
        stepped = list(reader.iter_frames(5, 50, step=3, backend=backend))
        odd = dict(reader.iter_frames(0, 3, crop=Crop(3, 101, 7, 60), backend=backend))
    assert [i for i, _ in got] == list(range(DEMO_FRAMES))
    for i, frame in got:
        np.testing.assert_array_equal(frame, demo_frames[i])
    assert [i for i, _ in stepped] == list(range(5, 50, 3))
    for i, frame in stepped:
        np.testing.assert_array_equal(frame, demo_frames[i])
    # odd offsets on a 4:2:0 video: cropped exactly, not rounded to the chroma grid
    for i in range(3):
        np.testing.assert_array_equal(odd[i], demo_frames[i][7:60, 3:101])


def test_iter_frames_auto_streams_resized_whole_videos_through_ffmpeg(
    demo_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    real = VideoReader._iter_ffmpeg

    def spy(self, *args):
        seen.append(args[:3])
        return real(self, *args)

    monkeypatch.setattr(VideoReader, "_iter_ffmpeg", spy)
    with VideoReader(demo_video) as reader:
        assert len(list(reader.iter_frames(0, 5, scale=0.5))) == 5
        assert len(list(reader.iter_frames(0, 5))) == 5  # full size: OpenCV
        assert len(list(reader.iter_frames(3, 8, scale=0.5))) == 5  # seeks: OpenCV
        assert len(list(reader.iter_frames(0, 9, step=3, scale=0.5))) == 3
        with pytest.raises(ValueError, match="backend"):
            next(reader.iter_frames(backend="gstreamer"))
    assert seen == [(0, 5, 1)]


@pytest.mark.parametrize("backend", ["opencv", "ffmpeg"])
def test_iter_frames_stops_its_thread_when_abandoned(
    demo_video: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    import posekit.engine.video as video_module

    procs = []

    class Popen(subprocess.Popen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            procs.append(self)

    monkeypatch.setattr(video_module.subprocess, "Popen", Popen)
    with VideoReader(demo_video) as reader:
        it = reader.iter_frames(prefetch=2, backend=backend)
        first = [next(it) for _ in range(3)]
        it.close()
    assert [i for i, _ in first] == [0, 1, 2]
    names = {"posekit-decode", "posekit-ffmpeg"}
    assert not [t for t in threading.enumerate() if t.name in names]
    # the ffmpeg process is gone, not left decoding into a full pipe
    assert len(procs) == (backend == "ffmpeg")
    assert all(p.poll() is not None for p in procs)


def test_reader_survives_interleaved_streaming(
    demo_video: Path, demo_frames: list[np.ndarray]
) -> None:
    with VideoReader(demo_video) as reader:
        for i, frame in reader.iter_frames(0, 40, step=10):
            np.testing.assert_array_equal(reader[119 - i], demo_frames[119 - i])
            np.testing.assert_array_equal(frame, demo_frames[i])


# ---------------------------------------------------------------- the real video


def test_openfield_frame_count(openfield_dir: Path) -> None:
    with VideoReader(openfield_dir / "videos" / "m3v1mp4.mp4") as reader:
        assert (reader.width, reader.height) == (640, 480)
        assert reader.fps == pytest.approx(30.0003, abs=1e-3)
        assert len(reader) == 2330


@pytest.mark.slow
def test_openfield_seeks_equal_sequential_decode(openfield_dir: Path) -> None:
    path = openfield_dir / "videos" / "m3v1mp4.mp4"
    order = [2329, 5, 1500, 1499, 3, 700, 0, 2000, 2064, 64, 1, 1234, 2328]
    wanted = set(order)
    with VideoReader(path) as reader:
        reference = {}
        n = 0
        for i, frame in reader.iter_frames():  # every frame, in order
            assert i == n
            n += 1
            if i in wanted:
                reference[i] = frame
        assert n == len(reader) == 2330
        for i in order:
            np.testing.assert_array_equal(reader[i], reference[i], err_msg=f"frame {i}")
    cap = cv2.VideoCapture(str(path))  # and plain OpenCV agrees on a few
    for i in range(4):
        ok, frame = cap.read()
        if i in wanted:
            np.testing.assert_array_equal(
                cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), reference[i]
            )
    cap.release()


@pytest.mark.slow
def test_openfield_uniform_extraction_uses_dlc_names(
    openfield_copy: Path, openfield_dir: Path
) -> None:
    from posekit.engine.project import load_project

    project = load_project(openfield_copy)
    video = project.videos()[0]
    paths = extract_frames(project, video, mode="uniform", n=5)
    names = [p.name for p in paths]
    assert names == [
        "img0000.png",
        "img0582.png",
        "img1164.png",
        "img1747.png",
        "img2329.png",
    ]
    assert all(p.parent == openfield_copy / "labeled-data" / "m3v1mp4" for p in paths)
    with VideoReader(video) as reader:
        for p in paths:
            img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
            np.testing.assert_array_equal(img, reader[int(p.stem[3:])])


# ---------------------------------------------------------------- bad input


def test_missing_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="Video not found"):
        VideoReader(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoError, match="Could not open .* as a video"):
        VideoReader(text)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"is empty \(0 bytes\).*copy it again"):
        VideoReader(empty)
    assert issubclass(VideoError, OSError)


def test_truncated_mp4_is_a_clear_error(tmp_path: Path, demo_video: Path) -> None:
    data = demo_video.read_bytes()
    for name, cut in (("half.mp4", data[: len(data) // 2]), ("header.mp4", data[:64])):
        path = tmp_path / name
        path.write_bytes(cut)
        # mp4v from OpenCV puts the index (moov atom) at the end: nothing decodes
        with pytest.raises(VideoError, match=r"(corrupt|truncated)"):
            VideoReader(path)


def test_truncated_avi_counts_the_frames_that_decode(
    tmp_path: Path, demo_frames: list[np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    frames = [f[::2, ::2].copy() for f in demo_frames[:40]]
    full = _write_avi(tmp_path / "full.avi", frames)
    with VideoReader(full) as reader:
        assert len(reader) == 40
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="posekit"), VideoReader(cut) as reader:
        assert reader.metadata_frames == 40  # the header still says 40
        n = len(reader)
        decoded = _decode_all(cut)
        assert n == len(decoded)
        assert 5 < n < 40
        assert "container says 40 frames" in caplog.text
        assert "truncated" in caplog.text
        caplog.clear()
        for backend in ("opencv", "ffmpeg"):
            caplog.clear()
            got = list(reader.iter_frames(backend=backend))
            assert [i for i, _ in got] == list(range(n)), backend
            assert "decoding stopped at frame" in caplog.text, backend
        np.testing.assert_array_equal(reader[n - 1], decoded[n - 1])
        np.testing.assert_array_equal(reader[2], decoded[2])
        with pytest.raises(IndexError, match=f"cannot be decoded.*{n} frames decode"):
            reader[39]
    header_only = tmp_path / "header.avi"
    header_only.write_bytes(data[:4096])
    with pytest.raises(VideoError):
        VideoReader(header_only)


def test_no_warning_for_a_healthy_video(
    demo_video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="posekit"),
        VideoReader(demo_video) as r,
    ):
        len(r)
        list(r.iter_frames(100))
    assert caplog.text == ""


# ---------------------------------------------------------------- crops and names


def test_crop() -> None:
    crop = Crop.parse("0, 640, 277, 624")
    assert crop == Crop(0, 640, 277, 624)
    assert Crop.parse([1, 5, 2, 8]) == Crop(1, 5, 2, 8)
    assert Crop.parse("1.0,5,2,8") == Crop(1, 5, 2, 8)
    img = np.arange(10 * 12 * 3).reshape(10, 12, 3)
    np.testing.assert_array_equal(Crop(1, 5, 2, 8).apply(img), img[2:8, 1:5])
    with pytest.raises(ValueError, match="4 numbers"):
        Crop.parse("1, 2, 3")
    with pytest.raises(ValueError, match="need 0 <= x1 < x2"):
        Crop(5, 5, 0, 10)
    with pytest.raises(ValueError, match="Invalid crop"):
        Crop(-1, 5, 0, 10)


def test_frame_filename_uses_dlc_padding() -> None:
    assert frame_filename(7, 2330) == "img0007.png"
    assert frame_filename(2329, 2330) == "img2329.png"
    assert frame_filename(7, 120) == "img007.png"
    assert frame_filename(7, 100) == "img07.png"
    assert frame_filename(99, 100) == "img99.png"
    assert frame_filename(0, 5) == "img0.png"
    # DLC: "img" + str(index).zfill(int(np.ceil(np.log10(nframes))))
    for n in (9, 10, 11, 999, 1000, 1001, 12345):
        assert (
            frame_filename(3, n)
            == "img" + "3".zfill(int(np.ceil(np.log10(n)))) + ".png"
        )


def test_select_frames_uniform() -> None:
    idx = select_frames_uniform(120, 12)
    assert len(idx) == 12 and idx[0] == 0 and idx[-1] == 119
    assert np.all(np.diff(idx) > 0)
    idx = select_frames_uniform(100, 5, start=0.5, stop=0.7)
    assert idx.tolist() == [50, 55, 60, 64, 69]  # within frames 50..69
    assert select_frames_uniform(10, 50).tolist() == list(range(10))  # at most all
    with pytest.raises(ValueError, match="0 <= start < stop <= 1"):
        select_frames_uniform(100, 5, start=0.8, stop=0.2)


# ---------------------------------------------------------------- extraction


def test_extract_uniform(
    demo_project: Project, demo_video: Path, demo_frames: list[np.ndarray]
) -> None:
    calls = []
    paths = extract_frames(
        demo_project,
        demo_video,
        mode="uniform",
        n=4,
        progress=lambda done, total: calls.append((done, total)),
    )
    out_dir = demo_project.path / "labeled-data" / "session1"
    assert [p.name for p in paths] == [
        "img000.png",
        "img040.png",
        "img079.png",
        "img119.png",
    ]
    assert all(p.parent == out_dir for p in paths)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for p in paths:
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(img, demo_frames[int(p.stem[3:])])
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]


def test_extract_uses_config_defaults(demo_project: Project, demo_video: Path) -> None:
    demo_project.set("numframes2pick", 3)
    demo_project.set("start", 0.5)
    demo_project.set("stop", 0.75)
    paths = extract_frames(demo_project, demo_video, mode="uniform")
    idx = [int(p.stem[3:]) for p in paths]
    assert len(idx) == 3
    assert all(60 <= i < 90 for i in idx)


def test_extract_keeps_existing_frames(demo_project: Project, demo_video: Path) -> None:
    existing = demo_project.path / "labeled-data" / "session1" / "img000.png"
    before = existing.read_bytes()
    existing.write_bytes(b"a labelled frame we must not lose")
    extract_frames(demo_project, demo_video, indices=[0, 3])
    assert existing.read_bytes() == b"a labelled frame we must not lose"
    assert (existing.parent / "img003.png").is_file()
    extract_frames(demo_project, demo_video, indices=[0], overwrite=True)
    assert existing.read_bytes() == before


def test_extract_explicit_indices_and_crop(
    demo_project: Project, demo_video: Path, demo_frames: list[np.ndarray]
) -> None:
    paths = extract_frames(
        demo_project, demo_video, indices=[17, 3, 17], crop="10, 110, 20, 90"
    )
    assert [p.name for p in paths] == ["img003.png", "img017.png"]
    img = cv2.cvtColor(cv2.imread(str(paths[1])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(img, demo_frames[17][20:90, 10:110])
    with pytest.raises(ValueError, match=r"within 0\.\.119"):
        extract_frames(demo_project, demo_video, indices=[120])
    with pytest.raises(ValueError, match="mode must be"):
        extract_frames(demo_project, demo_video, mode="random")


def test_extract_kmeans_distinct_seeded_within_range(
    demo_project: Project, demo_video: Path
) -> None:
    with VideoReader(demo_video) as reader:
        a = select_frames_kmeans(reader, 8, start=0.25, stop=0.75, seed=3)
        b = select_frames_kmeans(reader, 8, start=0.25, stop=0.75, seed=3)
        full = select_frames_kmeans(reader, 12, seed=0)
    assert a.tolist() == b.tolist()  # same seed, same frames
    assert len(a) == 8 and len(set(a.tolist())) == 8
    assert all(30 <= i < 90 for i in a)
    assert len(set(full.tolist())) == 12
    assert full.min() >= 0 and full.max() < DEMO_FRAMES
    paths = extract_frames(demo_project, demo_video, mode="kmeans", n=6, seed=1)
    again = select_frames_kmeans(VideoReader(demo_video), 6, seed=1)
    assert [int(p.stem[3:]) for p in paths] == again.tolist()
    assert all(p.is_file() for p in paths)


def test_kmeans_gives_n_frames_when_clusters_stay_empty(tmp_path: Path) -> None:
    """A still video (50 identical frames, 10 others): 20 asked, 20 distinct given.

    k-means cannot fill 20 clusters with 11 distinct images; DeepLabCut (and posekit
    before) then returned fewer frames without a word (20 asked, 16 given).
    """
    rng = np.random.default_rng(0)
    still = np.full((48, 64, 3), 90, np.uint8)
    frames = [still.copy() for _ in range(50)]
    frames += [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(10)]
    video = _write_avi(tmp_path / "still.avi", frames)
    with VideoReader(video) as reader:
        idx = select_frames_kmeans(reader, 20, seed=0)
    assert len(idx) == 20 and len(set(idx.tolist())) == 20
    assert set(range(50, 60)) <= set(idx.tolist())  # every distinct frame is in


def test_extract_says_why_fewer_frames_came_out(
    demo_project: Project, demo_video: Path
) -> None:
    """Fewer frames than asked, frames extracted before, a video not in video_sets."""
    folder = demo_project.labeled_data_dir("session1")
    before = {p.name for p in folder.glob("*.png")}  # the demo's labelled frames
    assert before
    got = extract_frames(demo_project, demo_video, mode="uniform", n=300)
    assert got.requested == 300 and len(got) == DEMO_FRAMES
    assert {p.name for p in got.existing} == before
    assert len(got.new) == DEMO_FRAMES - len(before)
    text = got.summary()
    assert text.startswith(
        f"{DEMO_FRAMES} frames in labeled-data/session1 ({len(got.new)} new, "
        f"{len(before)} extracted before)"
    )
    assert f"has only {DEMO_FRAMES} frames between start=0 and stop=1" in text
    assert "fewer than the 300 asked for" in text
    assert f"{len(before)} of the chosen frames were extracted before" in text
    assert extract_frames(demo_project, demo_video, indices=[5]).notes == (
        "1 of the chosen frames were extracted before and are kept as they are "
        "(their labels stay valid).",
    )
    # a video the config does not list: its new folder is named in the notes
    clip = demo_project.path / "videos" / "clip.mp4"
    clip.write_bytes(demo_video.read_bytes())
    config_before = demo_project.config_path.read_bytes()
    clipped = extract_frames(demo_project, clip, mode="uniform", n=2)
    assert len(clipped) == 2 and clipped.folder.name == "clip"
    (note,) = clipped.notes
    assert "clip.mp4 is not listed in config.yaml's video_sets" in note
    assert f"a new folder {demo_project.path / 'labeled-data' / 'clip'}" in note
    assert demo_project.config_path.read_bytes() == config_before  # not written
    # nothing chosen (an empty range of indices): no empty folder is left behind
    empty = extract_frames(demo_project, clip, indices=[])
    assert list(empty) == []
    none = demo_project.path / "videos" / "other.mp4"
    none.write_bytes(demo_video.read_bytes())
    assert list(extract_frames(demo_project, none, indices=[])) == []
    assert not (demo_project.path / "labeled-data" / "other").exists()


# ---------------------------------------------------------------- no needless counts


@pytest.fixture
def no_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail when anything decodes a whole video just to count its frames."""

    def count(self: VideoReader) -> int:
        raise AssertionError(f"{self.path.name}: every frame decoded to count them")

    monkeypatch.setattr(VideoReader, "_count_frames", count)


def test_reader_is_truthy_without_counting(demo_video: Path, no_counting) -> None:
    with VideoReader(demo_video) as reader:
        assert reader  # used to call __len__: a whole decode (100 s for 1 h)
        assert bool(reader) is True
        assert reader.expected_frames == DEMO_FRAMES  # the container's count


def test_a_whole_pass_learns_the_count(
    tmp_path: Path, demo_frames: list[np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated file: the pass ends where decoding ends and records that count."""
    frames = [f[::2, ::2].copy() for f in demo_frames[:40]]
    data = _write_avi(tmp_path / "full.avi", frames).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    n = len(_decode_all(cut))
    with caplog.at_level(logging.WARNING, logger="posekit"), VideoReader(cut) as reader:
        assert reader.expected_frames == 40  # planning: the container's word
        got = [i for i, _ in reader.iter_frames()]
        assert got == list(range(n))
        assert "decoding stopped at frame" in caplog.text
        reader._count_frames = None  # type: ignore[method-assign]  # no recount
        assert len(reader) == reader.expected_frames == n


def test_extract_does_not_count_frames(
    demo_project: Project, demo_video: Path, no_counting
) -> None:
    uniform = extract_frames(demo_project, demo_video, mode="uniform", n=4)
    assert [p.name for p in uniform] == [
        "img000.png",
        "img040.png",
        "img079.png",
        "img119.png",
    ]
    kmeans = extract_frames(demo_project, demo_video, mode="kmeans", n=5, seed=1)
    assert len(kmeans) == 5 and all(p.is_file() for p in kmeans)


def test_kmeans_sampling_by_seeking_equals_decoding_through(
    demo_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import posekit.engine.video as video_module

    with VideoReader(demo_video) as reader:
        through = select_frames_kmeans(reader, 6, seed=2, max_samples=30)
    monkeypatch.setattr(video_module, "SEEK_STEP", 1)  # seek to every sample
    with VideoReader(demo_video) as reader:
        seeking = select_frames_kmeans(reader, 6, seed=2, max_samples=30)
        assert reader._n_frames is None  # nothing counted
    assert seeking.tolist() == through.tolist()


def test_extract_from_a_truncated_video_stays_within_what_decodes(
    tmp_path: Path,
    demo_project: Project,
    demo_frames: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The container promises 40 frames, fewer decode: uniform and k-means cope."""
    import posekit.engine.video as video_module

    frames = [f[::2, ::2].copy() for f in demo_frames[:40]]
    data = _write_avi(tmp_path / "full.avi", frames).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    n = len(_decode_all(cut))
    got = extract_frames(demo_project, cut, mode="uniform", n=4)
    idx = [int(p.stem[3:]) for p in got]
    assert len(idx) == 4 and idx[0] == 0 and idx[-1] == n - 1
    monkeypatch.setattr(video_module, "SEEK_STEP", 1)
    with VideoReader(cut) as reader:
        sampled = select_frames_kmeans(reader, 30, seed=0)
    assert len(sampled) == min(30, n) and sampled.max() < n
