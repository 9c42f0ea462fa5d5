"""Chunked video analysis: job-array shards and a Dask cluster that loses a worker.

Both must write the ``.h5`` a serial run writes, exactly: chunks start on batch
boundaries and seek exactly. A rerun skips the chunks already on disk.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos
from posekit.engine.distributed import (
    CHUNKS_FOLDER,
    chunk_shard,
    parse_shard,
    plan_chunks,
)
from posekit.engine.project import Project
from posekit.engine.video import VideoReader

FRAMES = 40  # the short video's frames
CHUNK = 16  # frames per chunk: 3 chunks (16, 16, 8)


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Train a tiny MobileNetV2-0.35 for 3 iterations on a copy of the demo project."""
    return tiny_trained_copy("dist")


@pytest.fixture(scope="module")
def clip(trained: Project, video_clip) -> Path:
    """Cut the first FRAMES frames of the demo video (MJPG: every frame a keyframe)."""
    return video_clip(trained.videos()[0], FRAMES)


@pytest.fixture(scope="module")
def serial(trained: Project, clip: Path, tmp_path_factory) -> pd.DataFrame:
    """Analyse the clip serially (float32 TFLite) and return its predictions."""
    dest = tmp_path_factory.mktemp("serial")
    [out] = analyze_videos(
        trained, [clip], destfolder=dest, progress=False, precision="float32"
    )
    return pd.read_hdf(out)


def test_plan_chunks_on_batch_boundaries() -> None:
    assert plan_chunks(40, 16, 8) == [(0, 16), (16, 32), (32, None)]
    assert plan_chunks(40, 10, 8) == [(0, 16), (16, 32), (32, None)]  # rounded up
    assert plan_chunks(5, 16, 1) == [(0, None)]
    with pytest.raises(ValueError, match="chunk_frames and batch_size must be >= 1"):
        plan_chunks(10, 0)
    assert parse_shard("1/3") == (1, 3)
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard("3/3")
    with pytest.raises(ValueError, match="task i of n"):
        parse_shard("one of three")


def test_seeking_is_exact_at_chunk_boundaries(clip: Path) -> None:
    with VideoReader(clip) as reader:
        sequential = [f for _, f in reader.iter_frames(backend="opencv")]
        for start in (CHUNK - 1, CHUNK, 2 * CHUNK, FRAMES - 1):
            _, first = next(reader.iter_frames(start, backend="opencv"))
            np.testing.assert_array_equal(first, sequential[start])


def test_openfield_boundaries_seek_exactly(openfield_dir: Path) -> None:
    """The real H.264 video (B-frames): frames at chunk starts equal a serial decode."""
    video = openfield_dir / "videos" / "m3v1mp4.mp4"
    starts = (1023, 1024, 2048)
    with VideoReader(video) as reader:
        wanted = {}
        for index, frame in reader.iter_frames(0, max(starts) + 1, backend="opencv"):
            if index in starts:
                wanted[index] = frame
        for start in starts:
            _, first = next(reader.iter_frames(start, backend="opencv"))
            np.testing.assert_array_equal(first, wanted[start])


def test_shards_write_the_serial_h5_and_reruns_skip_chunks(
    trained: Project, clip: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    common = {
        "destfolder": tmp_path,
        "progress": False,
        "precision": "float32",
        "chunk_frames": CHUNK,
    }
    # the task of 2 that has chunks 0 and 2; the video is not complete yet
    first = chunk_shard(clip, 0, 2)
    assert chunk_shard(clip, 2, 2) == first != chunk_shard(clip, 1, 2)
    assert analyze_videos(trained, [clip], shard=f"{first}/2", **common) == []
    chunks = tmp_path / CHUNKS_FOLDER / f"clip{serial.columns[0][0]}"
    assert sorted(p.name for p in chunks.glob("chunk-*.npz")) == [
        "chunk-000000.npz",
        "chunk-000002.npz",
    ]
    # the other task computes chunk 1, finds all chunks and writes the h5
    [out] = analyze_videos(trained, [clip], shard=(1 - first, 2), **common)
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)
    assert not list(chunks.glob("chunk-*.npz"))  # put together and removed
    assert not (tmp_path / CHUNKS_FOLDER).exists()  # plan.json and the folders too
    assert (out.parent / f"{out.stem}_meta.pickle").is_file()
    # a rerun of any task finds the video done and computes nothing
    assert analyze_videos(trained, [clip], shard="0/2", **common) == [out]


def test_a_rerun_keeps_finished_chunks(
    trained: Project, clip: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    from posekit.engine import distributed

    common = {"destfolder": tmp_path, "progress": False, "precision": "float32"}
    # the task of 3 that has chunk 2 computes it (as if the job had been stopped)
    task = chunk_shard(clip, 2, 3)
    analyze_videos(trained, [clip], shard=f"{task}/3", chunk_frames=CHUNK, **common)
    computed: list[tuple[int, bool]] = []
    done: list[tuple[int, int]] = []
    [out] = distributed.analyze_chunked(
        _jobs(trained, clip, tmp_path),
        shard="0/1",
        chunk_frames=CHUNK,
        progress=lambda d, t: done.append((d, t)),
        on_chunk=lambda r: computed.append((r.index, r.skipped)),
    )
    assert sorted(computed) == [(0, False), (1, False), (2, True)]
    # the progress counts the chunk on disk from the start (8 frames), not at its turn
    assert done == [(8, FRAMES), (8 + CHUNK, FRAMES), (FRAMES, FRAMES)]
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)


def test_a_task_with_other_options_is_refused_while_a_task_runs(
    trained: Project, clip: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    """QA s15: tasks with other --chunk-frames on one video wrote 256 or 1032 rows."""
    import contextlib

    from posekit.engine import distributed

    common = {"destfolder": tmp_path, "progress": False, "precision": "float32"}
    [job] = _jobs(trained, clip, tmp_path)
    with contextlib.ExitStack() as running:  # a task on chunks of 8 runs meanwhile
        distributed._join_plan(job, job.plan(8), running)
        with pytest.raises(distributed.ChunkPlanError, match="--chunk-frames"):
            analyze_videos(trained, [clip], shard="0/1", chunk_frames=CHUNK, **common)
        assert not list(job.chunk_dir.glob("chunk-*.npz"))  # computed nothing
    # that task has ended: its plan is replaced, the result is the serial one
    [out] = analyze_videos(trained, [clip], shard="0/1", chunk_frames=CHUNK, **common)
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)
    assert not (tmp_path / CHUNKS_FOLDER).exists()


def test_chunks_of_another_plan_or_start_are_never_put_together(
    trained: Project, clip: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    """A chunk file that is not this plan's chunk is computed again, not used."""
    common = {"destfolder": tmp_path, "progress": False, "precision": "float32"}
    first = chunk_shard(clip, 0, 2)  # chunks 0 and 2
    analyze_videos(trained, [clip], shard=f"{first}/2", chunk_frames=CHUNK, **common)
    chunks = tmp_path / CHUNKS_FOLDER / f"clip{serial.columns[0][0]}"
    # a foreign chunk 1 (frames 0-15 under chunk 1's name, as when folders mixed)
    (chunks / "chunk-000001.npz").write_bytes(
        (chunks / "chunk-000000.npz").read_bytes()
    )
    [out] = analyze_videos(
        trained, [clip], shard=(1 - first, 2), chunk_frames=CHUNK, **common
    )
    result = pd.read_hdf(out)
    assert len(result) == FRAMES
    pd.testing.assert_frame_equal(result, serial, check_exact=True)


def _jobs(project: Project, clip: Path, dest: Path) -> list:
    """Return the VideoJob analyze_videos builds for the clip (float32, batch 8)."""
    import dataclasses

    from posekit.engine.api import _video_job
    from posekit.engine.model_folder import ModelFolder

    folder = ModelFolder.of(project, 1)
    _, path = folder.snapshot(-1)
    job = _video_job(folder, path, ((240, 320), 8), True, "float32", print, clip, dest)
    meta = dict(folder.info)
    meta["iteration"] = meta["iteration (active-learning)"]
    return [
        dataclasses.replace(
            job,
            scorer=folder.scorer(path),
            bodyparts=tuple(folder.model_config(path).bodyparts),
            meta=meta,
            individuals=None,
        )
    ]


def _kill_first_chunk_plugin(marker: str):
    """Build a worker plugin that SIGKILLs its worker when the first chunk starts.

    Only one worker, once: the marker file is created exclusively. Defined in a
    function so that cloudpickle sends the class to the workers by value.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class KillFirstChunk(WorkerPlugin):
        name = "posekit-test-kill-first-chunk"

        def transition(self, key, start, finish, **kwargs) -> None:
            if finish == "executing" and "posekit-chunk" in str(key):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.write(fd, f"{key} {os.getpid()}".encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)

    return KillFirstChunk()


def test_local_cluster_survives_a_killed_worker(
    trained: Project, clip: Path, serial: pd.DataFrame, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "killed"
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.register_plugin(_kill_first_chunk_plugin(str(marker)))
        pids = set(client.run(os.getpid).values())
        [out] = analyze_videos(
            trained,
            [clip],
            destfolder=tmp_path / "out",
            progress=False,
            precision="float32",
            client=client,
            chunk_frames=CHUNK,
        )
    killed_key, killed_pid = marker.read_text().split()
    assert killed_key.startswith("posekit-chunk-") and int(killed_pid) in pids
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)
    assert out.read_bytes()  # the h5 exists and is complete
    assert not list((tmp_path / "out" / CHUNKS_FOLDER).rglob("chunk-*.npz"))


@pytest.mark.slow
def test_train_in_parallel_compares_runs_on_one_split(trained: Project) -> None:
    """Two shuffles trained as Dask tasks at once, on shuffle 1's test frames."""
    pytest.importorskip("distributed")
    from posekit.engine.dataset import load_split
    from posekit.engine.distributed import TrainRun, train_in_parallel

    rows = []
    table = train_in_parallel(
        trained,
        [TrainRun(2, "mobilenet_v2_0.35"), TrainRun(3, "mobilenet_v2_0.35")],
        client="local",
        on_result=rows.append,
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        eval_interval=2,
    )
    assert sorted(table["shuffle"]) == [2, 3] and len(rows) == 2
    assert (table["iterations"] == 2).all()
    assert table["test_error_px"].notna().all()
    cores = len(os.sched_getaffinity(0))
    assert (table["threads"] == max(1, cores // 2)).all()  # the cores shared by 2
    one = load_split(trained, shuffle=1).test_indices
    for shuffle in (2, 3):
        np.testing.assert_array_equal(
            load_split(trained, shuffle=shuffle).test_indices, one
        )
        assert Path(table.set_index("shuffle").loc[shuffle, "snapshot"]).is_file()
    with pytest.raises(ValueError, match="its own shuffle"):
        train_in_parallel(trained, [TrainRun(2), TrainRun(2)])


def test_a_local_cluster_is_quiet_unless_asked(caplog) -> None:
    """`--cluster local` printed ~30 lines of Dask INFO at shutdown without -v.

    Dask's loggers are at INFO; their records reach the handler the command line
    installs whatever the root level, so posekit's own level has to decide.
    """
    import logging

    pytest.importorskip("distributed")
    from posekit.engine.distributed import dask_client

    before = logging.getLogger("distributed").level
    try:
        with dask_client("local", n_workers=1) as client:
            assert client.submit(sum, [1, 2]).result() == 3
        chatter = [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("distributed") and r.levelno < logging.WARNING
        ]
        assert not chatter, chatter[:5]
    finally:
        logging.getLogger("distributed").setLevel(before)
