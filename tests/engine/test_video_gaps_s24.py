"""A corrupt part in the middle of a recording (QA s24 long recordings 1, 2).

One corrupt stretch half-way through a video ended the analysis there (the good
rest of the file dropped, "the file ends at 14.83 s"), and with ``--scale`` (frames
streamed by ffmpeg, which leaves the frames it cannot decode out) the frames after
it were written in the rows of earlier frames: every point 166 frames (5.5 s) early.
Now the frames that do not decode are empty rows and every later frame keeps its
number, as in DeepLabCut's analysis (it reads on past failed reads).

The video's frames carry their index in binary (:func:`_code`), so where each frame
lands is known.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.inference import predict_video
from posekit.engine.video import VideoReader

W, H, BITS, N = 96, 64, 8, 240


def _frames() -> bytes:
    out = []
    for i in range(N):
        f = np.full((H, W, 3), 60, np.uint8)
        f[24:48, (i * 3) % (W - 16) :][:, :16] = (200, 120, 40)
        for b in range(BITS):
            if i >> b & 1:
                f[0:12, b * 12 : b * 12 + 12] = 255
        out.append(f.tobytes())
    return b"".join(out)


def _code(rgb: np.ndarray) -> int:
    """Read the index written in a frame (any size: the blocks scale with it)."""
    h, w = rgb.shape[:2]
    y, step = int(6 * h / H), 12 * w / W
    return sum(
        1 << b for b in range(BITS) if rgb[y, int((b + 0.5) * step)].mean() > 128
    )


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory) -> Path:
    """Write an MPEG-4 MP4 (index first) with zeros over a stretch in its middle."""
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("gaps") / "corrupt.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo"]
    cmd += ["-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", "30", "-i", "-"]
    cmd += ["-c:v", "mpeg4", "-q:v", "3", "-g", "15", "-movflags", "+faststart"]
    subprocess.run([*cmd, str(path)], input=_frames(), check=True)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + len(data) // 8] = bytes(len(data) // 8)
    path.write_bytes(bytes(data))
    return path


#: Frames between key frames (``-g``): the frames next to a corrupt part decode
#: from damaged references (what any decoder shows there); from the next key
#: frame on, and before the part, each frame must show its own index.
GOP = 15


def _check_codes(codes: dict[int, int], empty: list[int]) -> None:
    first, last = (empty[0], empty[-1]) if empty else (max(codes), N)
    clean = [i for i in codes if i < first - 1 or i >= -(-(last + 1) // GOP) * GOP]
    assert len(clean) > N // 3
    assert {i: codes[i] for i in clean} == {i: i for i in clean}


def _stream(path: Path, **kwargs) -> tuple[list[int], list[int], VideoReader]:
    """Return the indices yielded with a frame and empty; check the frames."""
    reader = VideoReader(path)
    codes, empty = {}, []
    for i, frame in reader.iter_frames(**kwargs):
        if frame is None:
            empty.append(i)
        else:
            codes[i] = _code(frame)
    reader.close()
    _check_codes(codes, empty)
    return list(codes), empty, reader


@pytest.mark.parametrize("how", [{}, {"scale": 0.5, "backend": "ffmpeg"}])
def test_frames_after_a_corrupt_part_keep_their_numbers(corrupt, how, caplog):
    with caplog.at_level(logging.WARNING, logger="posekit"):
        got, empty, reader = _stream(corrupt, gaps=True, **how)
    assert empty and empty == list(range(empty[0], empty[-1] + 1))  # one stretch
    assert got == [i for i in range(N) if i not in empty]  # all others, in place
    assert got[-1] == N - 1 and empty[0] > 0 and empty[-1] < N - 1
    end = reader.stream_end
    assert end.missing == ((empty[0], empty[-1] + 1),) and not end.truncated
    assert f"frames {empty[0]} to {empty[-1]} " in caplog.text
    assert f"the other {len(got)} of its {N} frames are used" in end.describe()


@pytest.mark.parametrize("backend", ["opencv", "ffmpeg"])
def test_without_gaps_the_stream_ends_at_the_corrupt_part(corrupt, backend):
    got, empty, reader = _stream(corrupt, backend=backend, scale=0.5)
    assert not empty and got == list(range(len(got))) and len(got) < N // 2 + 20
    assert reader.stream_end is None or not reader.stream_end.missing


class _CodeReader:
    """A predictor that reads each frame's index into its one keypoint's likelihood."""

    batch_size, num_keypoints, precision = 8, 1, "float32"

    def __call__(self, frames):
        return np.array([[[1.0, 1.0, _code(f) / 1000]] for f in frames], np.float32)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_analysis_has_a_row_for_every_frame_and_empty_rows_for_the_lost(
    corrupt, scale
):
    xyp, info = predict_video(_CodeReader(), corrupt, scale=scale)
    assert len(xyp) == N == info["n_frames"]
    lost = np.isnan(xyp[:, 0, 2])
    (first, end), *more = info["missing_frames"]
    assert not more and lost.sum() == end - first and lost[first:end].all()
    rows = np.flatnonzero(~lost)
    codes = np.rint(xyp[rows, 0, 2] * 1000).astype(int)
    _check_codes(
        dict(zip(rows.tolist(), codes.tolist(), strict=True)), list(range(first, end))
    )
    assert "do not decode" in info["truncated"]  # the video counts as analysed in part


def test_an_analysis_with_lost_frames_is_complete_on_a_rerun(corrupt, tmp_path):
    """The rows of a damaged and cut video: not analysed again at every rerun."""
    from posekit.engine.inference import _complete
    from posekit.engine.io.dlc import (
        predictions_frame,
        write_analysis_metadata,
        write_predictions,
    )

    video = tmp_path / "cut.mp4"
    data = corrupt.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.9)])  # damaged, then cut
    xyp, info = predict_video(_CodeReader(), video)
    assert info["missing_frames"] and "truncated or corrupt" in info["truncated"]
    assert VideoReader(video).n_frames < len(xyp) < N  # the frames counted to the gap
    out = tmp_path / "cutDLC_x.h5"
    write_predictions(predictions_frame(xyp, "DLC_x", ["p"]), out)
    meta = out.with_name("cutDLC_x_meta.pickle")
    write_analysis_metadata(meta, {"nframes": len(xyp)})
    assert not _complete(out, video)  # without the record of the lost frames
    write_analysis_metadata(
        meta, {"nframes": len(xyp), "missing_frames": info["missing_frames"]}
    )
    assert _complete(out, video)


class _CodeDetector:
    """A multi-animal detector: one candidate per frame at ``x`` = the frame's index."""

    batch_size, n_multi, n_unique = 4, 1, 0

    def detect(self, frames):
        from posekit.engine.multianimal.peaks import FrameDetections

        return [
            FrameDetections([np.array([[float(_code(f)), 1.0]])], [np.array([0.9])])
            for f in frames
        ]


def test_multi_animal_detections_keep_their_frames_too(corrupt):
    from posekit.engine.multianimal.inference import predict_video_detections

    dets, info = predict_video_detections(_CodeDetector(), corrupt)
    assert len(dets) == N == info["n_frames"]
    (first, end), *more = info["missing_frames"]
    assert not more and "do not decode" in info["truncated"]
    found = {i: d.coordinates[0] for i, d in enumerate(dets)}
    assert all(len(found[i]) == 0 for i in range(first, end))  # nothing detected
    codes = {i: int(c[0, 0]) for i, c in found.items() if len(c)}
    assert set(codes) == set(range(N)) - set(range(first, end))
    _check_codes(codes, list(range(first, end)))


# ---------------------------------------------------------------------------------
# Ranges of the video (a job array's chunks, a resumed analysis): session 25. A range
# that began after the corrupt part had no frame at all (the seek fails there, and
# decoding up to the range stopped at the part: "the file ends at 3.83 s"); one that
# ended in the part ended the stream as if the file ended there.


@pytest.fixture(scope="module")
def whole(corrupt) -> tuple[dict[int, np.ndarray], list[int]]:
    """Decode a whole pass: its frames (index → frame) and the indices left empty."""
    reader = VideoReader(corrupt)
    frames, empty = {}, []
    for i, frame in reader.iter_frames(gaps=True):
        if frame is None:
            empty.append(i)
        else:
            frames[i] = frame
    reader.close()
    assert empty and len(frames) + len(empty) == N
    return frames, empty


@pytest.mark.parametrize(
    "where", ["after", "at its end", "inside", "ends inside", "all inside", "across"]
)
def test_a_range_keeps_its_frame_numbers_around_a_corrupt_part(corrupt, whole, where):
    frames, empty = whole
    first, end = empty[0], empty[-1] + 1
    start, stop = {
        "after": (end + 13, N),
        "at its end": (end, N),  # the first frame after the part
        "inside": (first + 5, N),
        "ends inside": (first - 20, first + 8),
        "all inside": (first + 5, first + 10),
        "across": (first - 5, end + 20),
    }[where]
    reader = VideoReader(corrupt)
    got = list(reader.iter_frames(start, stop, gaps=True))
    assert [i for i, _ in got] == list(range(start, stop))  # every frame, in place
    lost = [i for i, f in got if f is None]
    assert lost == [i for i in empty if start <= i < stop]
    for i, frame in got:  # the same pictures as the whole pass
        if frame is not None:
            np.testing.assert_array_equal(frame, frames[i])
    want = [(max(start, first), min(stop, end))] if lost else []
    assert list(reader.missing_frames) == want


def test_an_analysis_that_begins_in_a_corrupt_part_has_its_rows(corrupt, whole):
    """A resumed or chunked analysis whose first batch is all lost frames."""
    _, empty = whole
    start, stop = empty[0] + 3, empty[-1] + 30
    xyp, info = predict_video(_CodeReader(), corrupt, start=start, stop=stop)
    assert xyp.shape == (stop - start, 1, 3)
    lost = np.flatnonzero(np.isnan(xyp[:, 0, 2])) + start
    assert lost.tolist() == list(range(start, empty[-1] + 1))
    assert info["missing_frames"] == [[start, empty[-1] + 1]]
    assert "do not decode" in info["truncated"]


def test_chunked_analysis_writes_the_serial_rows_and_record(
    corrupt, whole, tmp_path, monkeypatch
):
    """Chunks (`posekit analyze --shard`) that begin after, in and across the part."""
    from posekit.engine import distributed
    from posekit.engine.inference import AnalysisOutputs
    from posekit.engine.io.dlc import analysis_metadata

    _, empty = whole
    monkeypatch.setattr(
        distributed, "_worker_predictor", lambda model, threads: (_CodeReader(), 0.0)
    )
    snapshot = tmp_path / "model" / "code-reader.keras"  # (the plan hashes it)
    snapshot.parent.mkdir()
    snapshot.write_bytes(b"reads each frame's index")
    model = distributed.WorkerModel(None, str(snapshot), (H, W), 8)
    job = distributed.VideoJob(corrupt, tmp_path, model, "DLC_code", ("p",))
    chunk = 40  # chunks [0, 40) ... [200, None): the part lies across two of them
    assert empty[0] // chunk != empty[-1] // chunk
    [out] = distributed.analyze_chunked(
        [job], shard="0/1", chunk_frames=chunk, progress=False
    )
    xyp, info = predict_video(_CodeReader(), corrupt)
    rows = pd.read_hdf(out).to_numpy().reshape(-1, 1, 3)
    np.testing.assert_array_equal(rows, xyp)  # NaN in the same rows
    meta = analysis_metadata(out)
    assert (
        meta["missing_frames"] == info["missing_frames"] == [[empty[0], empty[-1] + 1]]
    )
    assert meta["truncated"] == info["truncated"]  # the serial run's sentence
    found = AnalysisOutputs()
    found.written(out, corrupt)
    assert corrupt in found.incomplete  # analysed in part (posekit analyze: exit 2)


def test_multi_animal_detections_of_a_range_that_begins_in_the_part(corrupt, whole):
    from posekit.engine.multianimal.inference import predict_video_detections

    _, empty = whole
    start, stop = empty[0] + 2, empty[-1] + 20
    dets, info = predict_video_detections(
        _CodeDetector(), corrupt, start=start, stop=stop
    )
    assert len(dets) == stop - start and all(d.n_channels == 1 for d in dets)
    lost = [start + k for k, d in enumerate(dets) if not len(d.coordinates[0])]
    assert lost == list(range(start, empty[-1] + 1))
    assert info["missing_frames"] == [[start, empty[-1] + 1]]
