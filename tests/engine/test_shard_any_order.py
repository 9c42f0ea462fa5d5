"""A job array's tasks (``--shard I/N``) run in any order: every chunk is computed once.

QA s21 (cluster): a task took the chunks ``counter % n == i`` over the chunks of the
videos not done yet, so the numbering moved once a video was done. Tasks that ran
one after another (a throttled array, late starts) left a video unanalysed, and
every task exited 0. Now a chunk's task depends only on its video's name and its
number (:func:`posekit.engine.distributed.chunk_shard`).

Three short clips (24 frames each, different frames), analysed once serially: the
known answer. Each test runs the tasks one after another, in the QA's order and in
others, with videos done before, or with each task given the videos in another
order (a shell pattern that expands differently), and compares every ``.h5`` with
the serial one, exactly. The command line's own lines are checked too: a task
prints the ``.h5`` files it wrote and a line per video it left incomplete.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import pandas as pd
import pytest

from posekit.engine import distributed
from posekit.engine.api import analyze_videos
from posekit.engine.cli import main
from posekit.engine.project import Project

FRAMES = 24  # frames per clip: one chunk by default, 3 of 8 frames with CHUNK
CHUNK = 8
NAMES = ("session1.avi", "session2.avi", "session3.avi")
COMMON = {"progress": False, "precision": "float32"}


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Train a tiny network for 3 iterations on a copy of the demo project."""
    return tiny_trained_copy("shard-order")


@pytest.fixture(scope="module")
def clips(trained: Project, tmp_path_factory) -> list[Path]:
    """Cut 3 clips of FRAMES frames each (frames 0-23, 24-47, 48-71), MJPG."""
    folder = tmp_path_factory.mktemp("videos")
    cap = cv2.VideoCapture(str(trained.videos()[0]))
    out = []
    for name in NAMES:
        path = folder / name
        writer = None
        for _ in range(FRAMES):
            ok, frame = cap.read()
            assert ok
            if writer is None:
                h, w = frame.shape[:2]
                fourcc = cv2.VideoWriter_fourcc(*"MJPG")
                writer = cv2.VideoWriter(str(path), fourcc, 30, (w, h))
            writer.write(frame)
        writer.release()
        out.append(path)
    cap.release()
    return out


@pytest.fixture(scope="module")
def serial(trained: Project, clips: list[Path], tmp_path_factory) -> dict:
    """Analyse the clips in one process, not chunked: each clip's predictions."""
    dest = tmp_path_factory.mktemp("serial")
    outputs = analyze_videos(trained, clips, destfolder=dest, **COMMON)
    assert len(outputs) == 3
    return {out.name: pd.read_hdf(out) for out in outputs}


def _check_all_analysed(dest: Path, serial: dict) -> None:
    """Every clip's .h5 is in ``dest``, equal to the serial one; no chunk is left."""
    for name, frame in serial.items():
        assert (dest / name).is_file(), f"{name} was never written"
        pd.testing.assert_frame_equal(pd.read_hdf(dest / name), frame, check_exact=True)
    assert not (dest / distributed.CHUNKS_FOLDER).exists()


@pytest.mark.parametrize("chunk_frames", [None, CHUNK])
@pytest.mark.parametrize(
    "order",
    [(1, 2, 0), (0, 1, 2), (2, 1, 0), (0, 2, 1)],
    ids=lambda o: "-".join(map(str, o)),
)
def test_tasks_one_after_another_analyse_every_video(
    trained, clips, serial, tmp_path, order, chunk_frames
) -> None:
    """(1, 2, 0) is the QA's run: session3 was never analysed, and all exited 0."""
    for i in order:
        analyze_videos(
            trained,
            clips,
            destfolder=tmp_path,
            shard=(i, 3),
            chunk_frames=chunk_frames,
            **COMMON,
        )
    _check_all_analysed(tmp_path, serial)


def test_tasks_that_find_videos_done_still_analyse_the_others(
    trained, clips, serial, tmp_path
) -> None:
    """session2 analysed before (its .h5 there): the tasks skip it, as a rerun does."""
    analyze_videos(trained, [clips[1]], destfolder=tmp_path, **COMMON)
    for i in (0, 1, 2):  # the old numbering: task 0 took session1, nobody session3
        analyze_videos(trained, clips, destfolder=tmp_path, shard=(i, 3), **COMMON)
    _check_all_analysed(tmp_path, serial)


def test_tasks_given_the_videos_in_other_orders(
    trained, clips, serial, tmp_path
) -> None:
    """A shell pattern can expand to another list in each task (files still copied)."""
    s1, s2, s3 = clips
    for i, videos in ((0, [s1, s2, s3]), (1, [s3, s2, s1]), (2, [s2, s3, s1])):
        analyze_videos(trained, videos, destfolder=tmp_path, shard=(i, 3), **COMMON)
    _check_all_analysed(tmp_path, serial)


def test_a_chunks_task_does_not_change_when_videos_are_done_or_added(
    trained, clips, tmp_path, monkeypatch
) -> None:
    """Which task computes a chunk, for lists of videos with some done or some added."""
    computed: list[tuple[str, int]] = []

    def record(task, stop_event=None):  # computes nothing, writes nothing
        computed.append((Path(task.video).name, task.index))
        return distributed.ChunkResult(task.video, task.index, 0, task.out)

    monkeypatch.setattr(distributed, "run_chunk", record)
    extra = tmp_path / "session4.avi"
    extra.write_bytes(clips[0].read_bytes())
    s1, s2, s3 = clips
    lists = {"all": [s1, s2, s3], "s1 done": [s2, s3], "s1, s2 done": [s3]}
    lists["one added"] = [s3, extra, s1, s2]
    shares: dict[str, list[set]] = {}
    for label, videos in lists.items():
        shares[label] = []
        for i in range(3):
            computed.clear()
            analyze_videos(
                trained,
                videos,
                destfolder=tmp_path / "out",
                shard=(i, 3),
                chunk_frames=CHUNK,
                **COMMON,
            )
            shares[label].append(set(computed))
    every = {(v.name, k) for v in lists["one added"] for k in range(3)}
    # the tasks share the chunks out: each chunk once
    assert sorted(c for share in shares["one added"] for c in share) == sorted(every)
    for label, videos in lists.items():
        names = {v.name for v in videos}
        for i in range(3):  # the same chunks as with every video, for its videos
            wanted = {c for c in shares["one added"][i] if c[0] in names}
            assert shares[label][i] == wanted, (label, i)
    from posekit.engine.distributed import chunk_shard

    for name, k in every:
        assert (name, k) in shares["one added"][chunk_shard(name, k, 3)]


def _cli(capsys, project: Project, clips, dest: Path, shard: str, *more: str):
    argv = ["analyze", str(project.path), *map(str, clips), "--dest", str(dest)]
    code = main([*argv, "--precision", "float32", "--shard", shard, *more])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_a_task_prints_the_h5_files_it_wrote(
    trained, clips, serial, tmp_path, capsys
) -> None:
    """The QA's run: task 2 printed session2's .h5, which task 1 had written."""
    from posekit.engine.distributed import chunk_shard

    scorer = next(iter(serial)).removeprefix("session1").removesuffix(".h5")
    loading = []
    for i in (1, 2, 0):
        code, out, err = _cli(capsys, trained, clips, tmp_path, f"{i}/3")
        assert code == 0
        mine = [c for c in clips if chunk_shard(c, 0, 3) == i]  # one chunk each
        wrote = [str(tmp_path / f"{c.stem}{scorer}.h5") for c in mine]
        assert out == wrote or (not mine and "no chunk of the" in out[0])
        loading.append(sum("loading the model" in line for line in err))
    assert loading[0] == 1 and max(loading) == 1  # the first said it 3 times
    _check_all_analysed(tmp_path, serial)
    # a rerun finds them done: it wrote nothing, so it prints nothing
    assert _cli(capsys, trained, clips, tmp_path, "0/3")[:2] == (0, [])


def test_a_task_says_which_videos_it_left_incomplete(
    trained, clips, serial, tmp_path, capsys, monkeypatch
) -> None:
    """Chunks of 8 frames: 3 per clip, one per task; the third task writes the .h5."""
    from posekit.engine import _progress

    monkeypatch.setattr(_progress, "LOG_INTERVAL_S", 0.0)  # a line per chunk
    scorer = next(iter(serial)).removeprefix("session1").removesuffix(".h5")
    chunks = ("--chunk-frames", str(CHUNK))
    code, out, err = _cli(capsys, trained, clips, tmp_path, "2/3", *chunks)
    assert code == 0
    assert len(out) == 3  # no .h5, a line per clip
    for clip, line in zip(clips, out, strict=True):
        missing = sorted(
            f"{distributed.chunk_shard(clip, k, 3)}/3"
            for k in range(3)
            if distributed.chunk_shard(clip, k, 3) != 2
        )
        assert line == (
            f"posekit analyze: {clip.name}: not complete yet, 1 of 3 chunks on disk; "
            f"the missing ones are those of --shard {' and '.join(missing)}; the "
            f"task that computes the last one writes {clip.stem}{scorer}.h5"
        )
    assert sum("loading the model" in line for line in err) == 1  # was 3
    bars = [line for line in err if line.startswith("chunks:")]
    assert sum("100%" in line for line in bars) == 1  # was printed twice
    # the same task again: its chunks are all on disk; no rate made of them
    code, again, err = _cli(capsys, trained, clips, tmp_path, "2/3", *chunks)
    assert code == 0 and again == out
    bars = [line for line in err if line.startswith("chunks:")]
    assert len(bars) == 1 and "100%" in bars[0]
    assert not re.search(r"\d(frames/s|s/frames)", bars[0]), bars[0]
    _cli(capsys, trained, clips, tmp_path, "0/3", *chunks)
    code, out, err = _cli(capsys, trained, clips, tmp_path, "1/3", *chunks)
    assert out == [str(tmp_path / f"{c.stem}{scorer}.h5") for c in clips]
    _check_all_analysed(tmp_path, serial)


def test_a_task_with_no_chunk_says_so(trained, clips, tmp_path, capsys) -> None:
    """One chunk per clip, 7 tasks: a task that owns none says it on stdout."""
    owners = {distributed.chunk_shard(clip, 0, 7) for clip in clips}
    idle = min(set(range(7)) - owners)
    code, out, _ = _cli(capsys, trained, clips, tmp_path, f"{idle}/7")
    assert code == 0
    assert out == [
        f"posekit analyze: no chunk of the 3 video(s) still to analyse is this "
        f"task's (--shard {idle}/7): the other tasks of the array compute them"
    ]


@pytest.mark.parametrize("text", ["3/3", "0/0", "abc", "1/2/3", "2/-1"])
def test_a_bad_shard_is_refused_before_the_model_loads(
    trained, clips, text, capsys, monkeypatch
) -> None:
    def never(*args, **kwargs):
        raise AssertionError("analyze_videos called")

    monkeypatch.setattr("posekit.engine.api.analyze_videos", never)
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(trained.path), str(clips[0]), f"--shard={text}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --shard: {text}" in err or f"argument --shard: '{text}'" in err
    assert "loading the model" not in err
    assert "e.g. --shard" in err


def test_dask_workers_hide_the_runtimes_start_up_lines(
    trained, clips, serial, tmp_path, capfd
) -> None:
    """QA s21: each worker wrote LiteRT's "INFO: Created TensorFlow Lite XNNPACK ..."."""
    pytest.importorskip("distributed")
    from posekit.engine import _tf

    before = _tf._QUIET["startup"]
    _tf.quiet_startup(True)  # as the command line does
    try:
        with distributed.dask_client("local", n_workers=1) as client:
            outputs = analyze_videos(
                trained, clips[:1], destfolder=tmp_path, client=client, **COMMON
            )
    finally:
        _tf.quiet_startup(before)
    pd.testing.assert_frame_equal(
        pd.read_hdf(outputs[0]), serial[outputs[0].name], check_exact=True
    )
    err = capfd.readouterr().err
    assert "XNNPACK" not in err
