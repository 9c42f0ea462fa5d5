"""Stopping a chunked analysis (``shard=``, ``client=``) within a batch or so.

The stop of a chunked analysis came only as a finished chunk was reported to a
``progress`` callable: a chunk (``chunk_frames``, 1024 frames by default) ran to
its end first, and with a tqdm bar (the command line) or no progress the analysis
ran on to the end of the video. Now:

- a job-array task (``shard``) stops before the next batch; the batches of the
  stopped chunk are kept beside it (``.chunk-<index>.partial.npz``) with the
  finished chunks, and the same call resumes the chunk there: the ``.h5`` equals
  a serial run's;
- on a Dask cluster the chunks not started are cancelled within a second of the
  stop; those that finished are kept.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from posekit.engine import distributed
from posekit.engine.api import analyze_videos
from posekit.engine.distributed import CHUNKS_FOLDER
from posekit.engine.inference import AnalysisStopped
from posekit.engine.project import Project

FRAMES = 40  # the clip's frames
CHUNK = 16  # frames per chunk: chunks of 16, 16 and 8 frames
BATCH = 4  # frames per network call: 4 batches per whole chunk


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Copy the demo project and train a tiny network on it."""
    return tiny_trained_copy("stop-chunks")


@pytest.fixture(scope="module")
def clip(trained: Project, video_clip, tmp_path_factory) -> Path:
    """Cut the first FRAMES frames of the demo video (MJPG: every frame a keyframe)."""
    src = video_clip(trained.videos()[0], FRAMES)
    dst = tmp_path_factory.mktemp("stop-chunks-clip") / "m1.avi"
    shutil.copy(src, dst)
    return dst


def _analyse(trained: Project, clip: Path, dest: Path, **kwargs):
    return analyze_videos(
        trained,
        [clip],
        destfolder=dest,
        batch_size=BATCH,
        precision="float32",
        progress=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def serial(trained: Project, clip: Path, tmp_path_factory) -> pd.DataFrame:
    """Analyse the clip serially, uninterrupted: what the chunked runs must give."""
    (out,) = _analyse(trained, clip, tmp_path_factory.mktemp("stop-chunks-serial"))
    return pd.read_hdf(out)


def _stop_at_batch(
    monkeypatch, stop: threading.Event, n: int, slow_after_s: float = 0.0
) -> list[int]:
    """Set ``stop`` while the network runs its ``n``-th batch; return the calls.

    ``slow_after_s``: each batch after that takes this much longer (a big network
    on a slow machine), so that the chunk runs on while the stop is handled.
    """
    calls: list[int] = []
    load = distributed._worker_predictor

    def hooked(model, threads):
        predictor, load_s = load(model, threads)
        run = type(predictor)._run

        def counting(batch):
            calls.append(len(batch))
            if len(calls) == n:
                stop.set()  # the Stop button, from another thread
            elif len(calls) > n:
                time.sleep(slow_after_s)
            return run(predictor, batch)

        monkeypatch.setattr(predictor, "_run", counting)
        return predictor, load_s

    monkeypatch.setattr(distributed, "_worker_predictor", hooked)
    return calls


def _chunk_dir(dest: Path, serial: pd.DataFrame) -> Path:
    return dest / CHUNKS_FOLDER / f"m1{serial.columns[0][0]}"


def test_a_shard_stops_inside_a_chunk_and_the_same_call_resumes_there(
    trained: Project,
    clip: Path,
    serial: pd.DataFrame,
    tmp_path: Path,
    monkeypatch,
    caplog,
) -> None:
    stop = threading.Event()
    calls = _stop_at_batch(monkeypatch, stop, 6)  # chunk 1's second batch
    common = {"shard": "0/1", "chunk_frames": CHUNK}
    with pytest.raises(AnalysisStopped) as info:
        _analyse(trained, clip, tmp_path, stop_event=stop, **common)
    stopped = info.value
    kept = CHUNK + 2 * BATCH  # chunk 0 and two batches of chunk 1
    assert len(calls) == 6  # no batch after the stop
    assert (stopped.video, stopped.frame, stopped.total) == (clip, kept, FRAMES)
    assert f"stopped at frame {kept} of {FRAMES}" in str(stopped)
    assert stopped.outputs == []
    chunks = _chunk_dir(tmp_path, serial)
    assert sorted(p.name for p in chunks.glob("*chunk-*")) == [
        ".chunk-000001.partial.npz",
        "chunk-000000.npz",
    ]
    assert stopped.partial == chunks / ".chunk-000001.partial.npz"
    assert not list(tmp_path.glob("*.h5"))

    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="posekit"):
        (out,) = _analyse(trained, clip, tmp_path, **common)
    assert f"m1.avi: resuming at frame {kept}" in caplog.text
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)
    assert not (tmp_path / CHUNKS_FOLDER).exists()  # partial file and chunks removed


def test_a_stop_before_the_first_chunk_computes_nothing(
    trained: Project, clip: Path, tmp_path: Path
) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(AnalysisStopped) as info:
        _analyse(trained, clip, tmp_path, stop_event=stop, shard="0/1")
    assert info.value.frame == 0
    assert not list(tmp_path.rglob("*chunk-*"))


def test_a_dask_analysis_cancels_the_chunks_not_started(
    trained: Project,
    clip: Path,
    serial: pd.DataFrame,
    tmp_path: Path,
    monkeypatch,
) -> None:
    dask = pytest.importorskip("distributed")
    stop = threading.Event()
    calls = _stop_at_batch(monkeypatch, stop, 2, 0.5)  # chunk 0's second batch
    with (
        dask.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        dask.Client(cluster) as client,
    ):
        common = {"client": client, "chunk_frames": CHUNK}
        with pytest.raises(AnalysisStopped) as info:
            _analyse(trained, clip, tmp_path, stop_event=stop, **common)
        chunks = _chunk_dir(tmp_path, serial)
        done = chunks / "chunk-000000.npz"
        assert not done.is_file()  # returned before the running chunk's end (1 s)
        assert info.value.video == clip and info.value.total == FRAMES
        deadline = time.monotonic() + 30  # the running chunk ends on its worker
        while not done.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert done.is_file()  # the chunk that ran is kept
        assert sorted(p.name for p in chunks.glob("chunk-*.npz")) == [done.name]
        assert len(calls) == CHUNK // BATCH  # chunks 1 and 2 never ran
        monkeypatch.undo()
        (out,) = _analyse(trained, clip, tmp_path, **common)
    pd.testing.assert_frame_equal(pd.read_hdf(out), serial, check_exact=True)
