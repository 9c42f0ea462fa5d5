"""Video analysis and training runs spread over many processes or machines (Dask).

A video is cut into *chunks* of frames (:func:`plan_chunks`); a chunk is the unit of
work, so one long video keeps many workers busy. Each chunk's keypoints are written
atomically into ``<dest>/.posekit-chunks/<video stem><scorer>/`` as soon as they are
computed, a rerun after a crash or a lost worker skips the chunks on disk, and the
chunks are put together into the same ``.h5``/``_meta.pickle`` as a serial run
(:func:`posekit.engine.inference.save_video_analysis`). Two ways to run the chunks:

- on a Dask cluster (``client``): a ``LocalCluster`` on this machine, a SLURM/PBS
  cluster through ``dask-jobqueue``, Dask-Gateway on JupyterHub, or any scheduler
  address. Dask reschedules the chunks of a worker that dies.
- as a plain job array (``shard=(i, n)``): task ``i`` of ``n`` analyses its share
  of the chunks (:func:`chunk_shard`: fixed by the video's file name and the chunk's
  number, so the tasks may run in any order, at any time, with any videos done
  already); whichever task finds all chunks of a video on disk writes its ``.h5``.
  No Dask is needed.

The result is identical to a serial run's: chunks start on a multiple of the batch
size (every network call sees the same frames as in the serial run) and are decoded
with OpenCV, as the serial run decodes at full size, from the exact frame
(:class:`posekit.engine.video.VideoReader`: MP4 and AVI files are sought by frame;
in other containers a chunk decodes from the start of the video, which costs time
but not exactness). A chunk past the end of the video (the container announced more
frames than decode: a file trimmed with ``-c copy``) is empty. A chunk that fails
stops only its own video: the others are put together and written, and the failed
one is named (:class:`ChunkedOutputs`).

Each worker process loads the model once (a module-level cache) and limits its own
threads: LiteRT, OpenCV and TensorFlow each start as many threads as the machine has
cores unless told otherwise, and Dask's ``OMP_NUM_THREADS`` reaches none of them. A
worker's share is its host's cores divided by the task threads of the workers on that
host. The TFLite runtime needs no TensorFlow on the workers: the model is converted
(and quantized) once by the process that submits the work.

:func:`train_in_parallel` trains several shuffles or backbones as Dask tasks, each
with its own threads, and returns one comparison table.

``dask`` and ``distributed`` are the optional extra ``posekit[dask]``; the job-array
mode and everything else in posekit work without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import logger
from ._fileio import atomic_path, atomic_write_text
from .locks import JobLockError, _same_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

    from .inference import Predictor, StopSignal
    from .model_folder import TFLiteModel
    from .project import Project
    from .video import Crop

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "CHUNKS_FOLDER",
    "ChunkResult",
    "ChunkPlanError",
    "ChunkedOutputs",
    "ChunkTask",
    "TrainRun",
    "VideoJob",
    "WorkerModel",
    "PENDING_LOGGER",
    "analyze_chunked",
    "chunk_shard",
    "dask_client",
    "limit_threads",
    "parse_shard",
    "plan_chunks",
    "run_chunk",
    "train_in_parallel",
]

#: Frames per chunk by default: ~5-20 s of work on one core, small enough that a
#: lost worker costs little and a video of an hour (108 000 frames at 30 frames/s)
#: feeds a hundred workers.
DEFAULT_CHUNK_FRAMES = 1024

#: Hidden folder, beside the outputs, that holds the chunks of unfinished videos.
CHUNKS_FOLDER = ".posekit-chunks"

#: Logger of the line a job array's task logs (INFO) for each video it computed
#: chunks of that is not complete yet: ``posekit analyze --shard`` prints these
#: lines on stdout, beside the ``.h5`` files it wrote.
PENDING_LOGGER = "posekit.chunks.pending"

_DASK_MISSING = (
    "Distributed analysis needs Dask: pip install 'posekit[dask]' (dask and "
    "distributed; dask-jobqueue for SLURM/PBS clusters)."
)


# --------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------


def plan_chunks(
    n_frames: int, chunk_frames: int = DEFAULT_CHUNK_FRAMES, batch_size: int = 1
) -> list[tuple[int, int | None]]:
    """Cut ``n_frames`` into chunks ``(start, stop)``; the last one is open-ended.

    Chunk sizes are rounded up to a multiple of ``batch_size``, so each chunk's
    batches are the serial run's batches. The last chunk's ``stop`` is ``None``: it
    reads to the real end of the video, however many frames the container claimed.

    Parameters
    ----------
    n_frames
        Frames the container announces (it may be wrong; see above).
    chunk_frames
        Frames per chunk.
    batch_size
        Frames per network call.

    Returns
    -------
    list of (int, int or None)

    Raises
    ------
    ValueError
        ``chunk_frames`` or ``batch_size`` below 1.

    Examples
    --------
    >>> plan_chunks(100, 30, 8)
    [(0, 32), (32, 64), (64, 96), (96, None)]
    >>> plan_chunks(0, 30)
    [(0, None)]
    """
    if int(chunk_frames) < 1 or int(batch_size) < 1:
        raise ValueError(
            f"chunk_frames and batch_size must be >= 1. Received: "
            f"chunk_frames={chunk_frames!r}, batch_size={batch_size!r}"
        )
    size = math.ceil(int(chunk_frames) / int(batch_size)) * int(batch_size)
    starts = list(range(0, max(int(n_frames), 1), size))
    return [(s, s + size) for s in starts[:-1]] + [(starts[-1], None)]


def parse_shard(text: str | Sequence[int]) -> tuple[int, int]:
    """Parse ``"i/n"`` (task ``i`` of ``n``, from 0) into ``(i, n)``.

    Raises
    ------
    ValueError
        Not two integers with ``0 <= i < n``.

    Examples
    --------
    >>> parse_shard("3/8")
    (3, 8)
    """
    try:
        if isinstance(text, str):
            i, n = (int(v) for v in text.split("/"))
        else:
            i, n = (int(v) for v in text)
    except ValueError:
        raise ValueError(
            f"A shard is 'i/n' (task i of n, counted from 0), e.g. 0/4. Received: "
            f"{text!r}"
        ) from None
    if not 0 <= i < n:
        raise ValueError(f"A shard i/n needs 0 <= i < n. Received: {i}/{n}")
    return i, n


def chunk_shard(video: str | os.PathLike, index: int, n: int) -> int:
    """Return the task (of ``n``, from 0) of a job array that computes a chunk.

    The share depends only on the video's file name, the chunk's number and ``n``:
    not on the other videos, on which of them are done, or on the order the tasks
    run in. So each chunk is computed by exactly one task however the tasks of an
    array are scheduled (throttled, late, one after another) and whatever videos
    a shell pattern finds in each. The video's chunks go round the tasks from a
    place fixed by a hash of its name (SHA-256, the same in every process, unlike
    Python's ``hash``), so one long video keeps every task busy.

    Parameters
    ----------
    video
        The video (its file name counts, not its folder).
    index
        The chunk's number in the video (from 0).
    n
        Tasks in the array.

    Returns
    -------
    int
        ``i`` of the task ``--shard i/n`` that computes the chunk.

    Examples
    --------
    >>> [chunk_shard("/data/m1.mp4", k, 4) for k in range(6)]
    [3, 0, 1, 2, 3, 0]
    >>> chunk_shard("/data/m1.mp4", 3, 4) == chunk_shard("elsewhere/m1.mp4", 3, 4)
    True
    """
    import hashlib

    digest = hashlib.sha256(Path(video).name.encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") + int(index)) % int(n)


# --------------------------------------------------------------------------------------
# What a worker runs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerModel:
    """What a worker needs to build the predictor (plain data, pickled to workers).

    Attributes
    ----------
    tflite
        A converted model (:class:`~posekit.engine.model_folder.TFLiteModel`), or
        ``None`` to run the Keras snapshot with TensorFlow.
    snapshot
        The snapshot ``.keras`` file (the TensorFlow runtime).
    frame_shape, batch_size
        What the network sees per call.
    """

    tflite: TFLiteModel | None
    snapshot: str
    frame_shape: tuple[int, int]
    batch_size: int

    @property
    def key(self) -> tuple:
        """What identifies the loaded model in a worker's cache."""
        path = self.tflite.path if self.tflite is not None else self.snapshot
        return (str(path), self.frame_shape, self.batch_size)

    def load(self, num_threads: int | None = None) -> Predictor:
        """Build the predictor (LiteRT without TensorFlow, or Keras).

        Parameters
        ----------
        num_threads
            Threads for the runtime.

        Returns
        -------
        Predictor
        """
        if self.tflite is not None:
            return self.tflite.predictor(num_threads)
        from .model_folder import ModelFolder

        return ModelFolder.at(self.snapshot).predictor(
            self.frame_shape,
            self.batch_size,
            use_tflite=False,
            snapshot=self.snapshot,
        )


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one video: what :func:`run_chunk` computes and where it goes."""

    model: WorkerModel
    video: str
    index: int
    start: int
    stop: int | None
    out: str
    scale: float = 1.0
    crop: Crop | None = None
    threads: dict[str, int] = field(default_factory=dict)
    plan_id: str = ""
    #: the video's frame-time table (:func:`_frame_times_file`), or None
    times_file: str | None = None
    #: hide the runtime's start-up lines in the worker, as the submitting process
    #: does (:func:`posekit.engine._tf.quiet_startup`: the command line's default)
    quiet: bool = False


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk did, for progress and the benchmark.

    Attributes
    ----------
    video, index, frames
        Which chunk and how many frames it decoded.
    path
        The chunk file.
    seconds
        Time to analyse it (model loading excluded).
    load_s
        Time this call spent loading the model (0 when it was cached).
    threads
        Threads the runtime used.
    worker
        Process id and host.
    rss_mb
        The worker's resident memory after the chunk.
    skipped
        The chunk was on disk already.
    """

    video: str
    index: int
    frames: int
    path: str
    seconds: float = 0.0
    load_s: float = 0.0
    threads: int = 0
    worker: str = ""
    rss_mb: float = float("nan")
    skipped: bool = False


# loaded predictors of this process: (model key, threads, thread id) -> Predictor
_PREDICTORS: dict[tuple, Predictor] = {}
_PREDICTORS_LOCK = threading.Lock()
_THREADS_SET: list[int] = []
# one load at a time: hiding the start-up lines moves file descriptor 2 meanwhile
_LOAD_LOCK = threading.Lock()


def limit_threads(n: int, *, tensorflow: bool = False) -> None:
    """Limit this process's OpenCV (and TensorFlow) threads to ``n``; LiteRT: per model.

    TensorFlow's thread pools can only be sized before it runs its first operation;
    if it already has, its setting stays (a debug message says so).

    Parameters
    ----------
    n
        Threads (at least 1).
    tensorflow
        Also size TensorFlow's pools, importing it if needed (a worker that runs
        Keras models or trains). Without it, TensorFlow is sized only if it is
        already imported: a worker on the TFLite runtime never loads it.
    """
    import sys

    import cv2

    n = max(1, int(n))
    cv2.setNumThreads(n)
    if tensorflow and "tensorflow" not in sys.modules:
        from ._tf import import_tensorflow

        import_tensorflow()
    if "tensorflow" in sys.modules and [n] != _THREADS_SET:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            _THREADS_SET[:] = [n]
        except RuntimeError as exc:  # TensorFlow already initialised
            logger.debug("TensorFlow threads stay as they are: %s", exc)


def _cores() -> int:
    from ._tf import cpu_threads  # affinity, SLURM_CPUS_PER_TASK, --threads

    return cpu_threads()


def _my_threads(threads: dict[str, int]) -> int:
    """Return this worker's share of its host's cores (:func:`_threads_per_worker`)."""
    address = ""
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        address = get_worker().address
    if address in threads:
        return threads[address]
    if threads:  # a worker started after the plan (a restarted one): the smallest
        return min(threads.values())
    return _cores()


@contextlib.contextmanager
def _startup_quiet(quiet: bool) -> Iterator[None]:
    """Hide the runtime's start-up lines in this block if ``quiet`` (a Dask worker).

    A worker process starts with :func:`posekit.engine._tf.quiet_startup` off, so
    LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." reached the
    log of a command that hides it in its own process. The setting is put back after.
    """
    from . import _tf

    before = _tf._QUIET["startup"]
    if quiet and not before:
        _tf.quiet_startup(True)
    try:
        yield
    finally:
        _tf.quiet_startup(before)


def _worker_predictor(model: WorkerModel, threads: int) -> tuple[Predictor, float]:
    """Return this process's predictor for ``model`` (loaded once) and the load time."""
    key = (model.key, threads, threading.get_ident())
    with _PREDICTORS_LOCK:
        found = _PREDICTORS.get(key)
    if found is not None:
        return found, 0.0
    t0 = time.perf_counter()
    limit_threads(threads, tensorflow=model.tflite is None)
    predictor = model.load(threads)
    with _PREDICTORS_LOCK:
        _PREDICTORS[key] = predictor
    return predictor, time.perf_counter() - t0


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil comes with distributed
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_chunk(path: Path, task: ChunkTask) -> np.ndarray | None:
    """Return a chunk file's keypoints if it is ``task``'s chunk (this plan, start).

    A chunk file of another plan or start (an older posekit's, or one written into
    the folder by a task with other options) is ``None``: it is computed again.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            ok = (
                "plan_id" in data.files
                and str(data["plan_id"]) == task.plan_id
                and int(data["start"]) == task.start
            )
            xyp = data["xyp"] if ok else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as err:  # torn or foreign: compute again
        logger.warning("%s: unreadable chunk, computed again: %s", path, err)
        return None
    if xyp is not None and task.stop is not None and len(xyp) > task.stop - task.start:
        return None
    return xyp


def run_chunk(task: ChunkTask, stop_event: StopSignal | None = None) -> ChunkResult:
    """Analyse one chunk and write its keypoints atomically (``.npz``, no pickle).

    A chunk already on disk is not computed again. The frames of a chunk that was
    interrupted (Ctrl-C, ``stop_event``) are kept beside it
    (:class:`~posekit.engine.inference.PartialAnalysis`,
    ``.chunk-<index>.partial.npz``): the next run resumes the chunk there.

    Parameters
    ----------
    task
        The chunk.
    stop_event
        A ``threading.Event`` (this process) that stops the chunk between two
        batches.

    Returns
    -------
    ChunkResult

    Raises
    ------
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set (its ``frame`` counts the chunk's frames kept).
    """
    import socket

    from .inference import PartialAnalysis, predict_video

    out = Path(task.out)
    worker = f"pid {os.getpid()} on {socket.gethostname()}"
    found = _read_chunk(out, task)
    if found is not None:
        return ChunkResult(
            task.video, task.index, len(found), str(out), worker=worker, skipped=True
        )
    if task.times_file is not None:  # seek in the video (MPEG-TS, Matroska...)
        _remember_times(Path(task.video), Path(task.times_file))
    threads = _my_threads(task.threads)
    with _LOAD_LOCK, _startup_quiet(task.quiet):
        predictor, load_s = _worker_predictor(task.model, threads)
    t0 = time.perf_counter()
    partial = PartialAnalysis.for_output(
        out,
        predictor,
        Path(task.video),
        scale=task.scale,
        crop=task.crop,
        frames=(task.start, task.stop),
    )
    xyp, info = predict_video(
        predictor,
        task.video,
        scale=task.scale,
        crop=task.crop,
        start=task.start,
        stop=task.stop,
        backend="opencv",  # seeks exactly, as the serial run decodes at full size
        checkpoint=partial if out.parent.is_dir() else None,
        stop_event=stop_event,
    )
    seconds = time.perf_counter() - t0
    height, width = info["frame_dimensions"]
    if out.parent.is_dir():  # gone: another task wrote the video's .h5 meanwhile
        xyp = np.asarray(xyp, np.float32)
        # no frame: the chunk lies past the video's end (a file trimmed with -c copy)
        xyp = xyp.reshape(len(xyp), -1, 3) if len(xyp) else np.zeros((0, 0, 3))
        times = info.get("frame_times")
        end = info.get("stream_end")
        with atomic_path(out) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                xyp=xyp.astype(np.float32),
                fps=np.float64(info["fps"]),
                frame_dimensions=np.asarray([height, width], np.int64),
                seconds=np.float64(seconds),
                start=np.int64(task.start),
                plan_id=np.str_(task.plan_id),
                # each frame's time (empty: not known) and where a truncated
                # file stopped decoding (empty: it did not end in this chunk)
                times=np.asarray(times if times is not None else [], np.float64),
                has_times=np.bool_(times is not None),
                truncated=np.str_(info.get("truncated") or ""),
                # the frames of a corrupt part (empty rows), and whether the file
                # ended early in this chunk: the video's sentence is made of all
                missing=np.asarray(info.get("missing_frames") or [], np.int64).reshape(
                    -1, 2
                ),
                cut=np.bool_(end is not None and end.truncated),
                cut_detail=np.str_(end.detail if end is not None else ""),
            )
        partial.remove()
    return ChunkResult(
        task.video,
        task.index,
        len(xyp),
        str(out),
        seconds=seconds,
        load_s=load_s,
        threads=threads,
        worker=worker,
        rss_mb=_rss_mb(),
    )


# --------------------------------------------------------------------------------------
# Videos, their chunks on disk, putting them together
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoJob:
    """One video to analyse and everything its outputs need (as ``analyze_video``).

    Attributes
    ----------
    video
        The video file.
    dest
        Output folder.
    model
        The model the workers run.
    scorer, bodyparts
        Names of the outputs.
    scale, crop
        Resize factor and crop.
    save_as_csv, netcdf
        Extra outputs.
    meta
        The model's ``pose_cfg.yaml`` for ``_meta.pickle``.
    individuals, unique_bodyparts
        For ``_meta.pickle``.
    """

    video: Path
    dest: Path
    model: WorkerModel
    scorer: str
    bodyparts: tuple[str, ...]
    scale: float = 1.0
    crop: Crop | None = None
    save_as_csv: bool = False
    netcdf: bool = False
    meta: dict | None = None
    individuals: tuple[str, ...] | None = None
    unique_bodyparts: tuple[str, ...] = ()

    @property
    def output(self) -> Path:
        """The ``.h5`` file."""
        return self.dest / f"{self.video.stem}{self.scorer}.h5"

    @property
    def chunk_dir(self) -> Path:
        """Where the chunks of this video are kept until the ``.h5`` is written."""
        return self.dest / CHUNKS_FOLDER / f"{self.video.stem}{self.scorer}"

    def plan(self, chunk_frames: int) -> dict[str, Any]:
        """Return what the chunks on disk must have been computed with to be reused."""
        from .video import VideoReader

        stat = self.video.stat()
        with VideoReader(self.video) as reader:
            n = reader.metadata_frames
        model = self.model.tflite.path if self.model.tflite else self.model.snapshot
        return {
            "format": "posekit-chunks/1",
            "video": str(self.video.resolve()),
            "video_size": stat.st_size,
            "video_mtime_ns": stat.st_mtime_ns,
            "model": str(model),
            # the content, not the time: tasks of a job array that each converted
            # the model (the same bytes) must agree on the plan
            "model_sha256": _sha256(Path(model)),
            "frame_shape": list(self.model.frame_shape),
            "batch_size": self.model.batch_size,
            "scale": self.scale,
            "crop": None if self.crop is None else asdict(self.crop),
            "metadata_frames": n,
            "chunks": [
                list(c) for c in plan_chunks(n, chunk_frames, self.model.batch_size)
            ],
        }


#: The frame-time table of a video, beside its chunks (containers other than MP4/AVI).
_TIMES_FILE = "frame_times.npz"


def _frame_times_file(job: VideoJob) -> Path | None:
    """Return the video's frame-time table in its chunk folder, made if missing.

    OpenCV seeks MP4 and AVI files exactly (``None``: no table needed). In other
    containers (MPEG-TS camcorder files, Matroska, MPEG-PS) a reader finds its
    place by the frames' times (:class:`~posekit.engine.video.VideoReader`), which
    one decode of the whole video records here, once for all tasks (under the
    folder's set-up lock); without it each chunk would decode the video from its
    first frame.
    """
    from .video import VideoReader

    path = job.chunk_dir / _TIMES_FILE
    stat = job.video.stat()
    with VideoReader(job.video) as reader:
        if reader.seeks_exactly:
            return None
    with _setup_lock(job.chunk_dir), VideoReader(job.video) as reader:
        if _times_match(path, stat):  # (another task made it meanwhile)
            return path
        logger.info(
            "%s: recording its frames' times, so that its chunks can seek",
            job.video.name,
        )
        times = reader.frame_times_ms()
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                times=times,
                size=np.int64(stat.st_size),
                mtime_ns=np.int64(stat.st_mtime_ns),
            )
    return path


def _times_match(path: Path, stat: os.stat_result) -> bool:
    """Whether a frame-time table on disk is this file's (same size and time)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return (
                int(data["size"]) == stat.st_size
                and int(data["mtime_ns"]) == stat.st_mtime_ns
            )
    except (OSError, ValueError, KeyError):
        return False


def _remember_times(video: Path, path: Path) -> None:
    """Give this process's readers of ``video`` the table at ``path`` (if it is its)."""
    from .video import remember_frame_times

    try:
        if not _times_match(path, video.stat()):
            return
        with np.load(path, allow_pickle=False) as data:
            remember_frame_times(video, np.array(data["times"]))
    except OSError as err:  # gone (the video was put together): decode from 0
        logger.debug("%s: no frame times (%s)", video.name, err)


@dataclasses.dataclass(frozen=True)
class _ChunkEnd:
    """What a chunk file says of the video's damage (:func:`_chunk_timing`)."""

    said: str | None  # the chunk's sentence (truncated or damaged), if any
    missing: tuple[tuple[int, int], ...] = ()  # frames of a corrupt part, empty
    cut: bool = False  # the file ended early in this chunk
    detail: str = ""  # how that is known


def _chunk_timing(path: Path) -> tuple[list[float] | None, _ChunkEnd]:
    """Return a chunk file's frame times (``None``: unknown) and what it says of damage.

    Chunk files of an earlier posekit have the sentence only.
    """
    with np.load(path, allow_pickle=False) as data:
        known = "has_times" in data.files and bool(data["has_times"])
        times = [float(t) for t in data["times"]] if known else None
        said = str(data["truncated"]) if "truncated" in data.files else ""
        if "missing" not in data.files:
            return times, _ChunkEnd(said or None, cut=bool(said))
        missing = tuple((int(a), int(b)) for a, b in data["missing"])
        cut = bool(data["cut"])
        detail = str(data["cut_detail"])
    return times, _ChunkEnd(said or None, missing, cut, detail)


def _video_damage(
    ends: Sequence[_ChunkEnd], n_frames: int, announced: int
) -> tuple[str | None, list[list[int]]]:
    """Say what a chunked analysis lost: the sentence and ``missing_frames``.

    The corrupt parts found by every chunk are put together (one part across two
    chunks is one stretch), with the truncation found by the chunk that reached
    the end of the file, in the sentence a serial run writes.
    """
    spans: list[list[int]] = []
    for a, b in sorted(m for end in ends for m in end.missing):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    last = ends[-1] if ends else _ChunkEnd(None)
    if not spans:
        return last.said, []
    from .video import StreamEnd

    end = StreamEnd(
        n_frames, announced, last.cut, last.detail, tuple(map(tuple, spans))
    )
    return end.describe(), spans


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunk_path(job: VideoJob, index: int) -> Path:
    return job.chunk_dir / f"chunk-{index:06d}.npz"


class ChunkPlanError(JobLockError):
    """Another task computes a video's chunks with other options (a job array mixed up).

    Its chunks and this task's could not be put together; this task refuses before it
    computes anything. ``posekit analyze`` exits with 75 (try again later): once the
    other task has ended, its chunks are replaced, or its ``.h5`` is written.
    """


def _plan_id(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _plan_text(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=1, sort_keys=True)


def _flock(fd: int, how: str, wait: bool = True) -> bool:
    """Lock ``fd`` shared (``"sh"``), exclusive (``"ex"``) or unlock it; False if busy.

    On systems without ``fcntl`` (Windows) nothing is locked: tasks of a job array
    with different options are then not told apart while they run.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return True
    flags = {"sh": fcntl.LOCK_SH, "ex": fcntl.LOCK_EX, "un": fcntl.LOCK_UN}[how]
    try:
        fcntl.flock(fd, flags if wait else flags | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@contextlib.contextmanager
def _setup_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s set-up lock (exclusive, briefly), creating the folder.

    Changing the plan, putting the chunks together and removing the folder happen
    under it; a task that opened the lock file of a folder removed meanwhile
    retries with the new folder.
    """
    path = folder / ".setup.lock"
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock(fd, "ex")
            if not _same_file(fd, path):
                continue
            yield
            return
        finally:
            os.close(fd)  # releases the lock


def _plan_differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Name what differs between two plans, in the command line's words."""
    words = {
        "chunks": "--chunk-frames",
        "batch_size": "--batch-size",
        "scale": "--scale",
        "frame_shape": "--scale or crop",
        "crop": "the crop",
        "model": "the model",
        "model_sha256": "the model",
        "video_size": "the video file",
        "video_mtime_ns": "the video file",
        "video": "the video file",
    }
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    named = dict.fromkeys(words.get(k, k) for k in keys)
    return ", ".join(named) or "the options"


def _join_plan(
    job: VideoJob, plan: dict[str, Any], stack: contextlib.ExitStack
) -> None:
    """Make ``job``'s chunk folder hold chunks of ``plan`` and take part in it.

    The task holds a shared lock on the folder's ``.users.lock`` while it runs (in
    ``stack``), so that a task with another plan knows the chunks are in use.
    Chunks of another plan that no task runs any more (a stopped job array, options
    changed since) are removed and the plan is replaced.

    Raises
    ------
    ChunkPlanError
        A task that runs now computes this video's chunks with another plan.
    """
    folder = job.chunk_dir
    plan_file = folder / "plan.json"
    text = _plan_text(plan)
    with _setup_lock(folder):
        users = os.open(folder / ".users.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            current = plan_file.read_text() if plan_file.is_file() else None
            if current != text:
                if not _flock(users, "ex", wait=False):
                    try:
                        differs = _plan_differences(json.loads(current or "{}"), plan)
                    except ValueError:
                        differs = "the options"
                    raise ChunkPlanError(
                        f"{job.video.name}: another task is computing its chunks in "
                        f"{folder} with other options ({differs} differ). All tasks "
                        "of a job array must use the same options (--chunk-frames, "
                        "--scale, --batch-size, model); this task computed nothing. "
                        "Run it again when that task has ended, or with its options.",
                        None,
                        folder / ".users.lock",
                    )
                if current is not None:
                    logger.info(
                        "%s: chunks of an earlier plan (other options, no task "
                        "running it); starting over",
                        job.video.name,
                    )
                for path in folder.iterdir():
                    if path.name not in (".setup.lock", ".users.lock"):
                        if path.is_dir():
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            path.unlink(missing_ok=True)
                atomic_write_text(plan_file, text)
                _flock(users, "un")
            # never blocks: the exclusive lock is only taken under the set-up lock
            _flock(users, "sh")
        except BaseException:
            os.close(users)
            raise
    stack.callback(os.close, users)


def _assemble(
    job: VideoJob, plan: dict[str, Any], seconds: float
) -> tuple[Path | None, bool]:
    """Put the chunks together and write the outputs; ``None`` if chunks are missing.

    Only chunks of this plan that start where it says count, so the rows are frames
    0…N-1 of the video, each once. A chunk shorter than planned (the video ends
    there, or stops decoding) ends the video, as a serial run stops at the first
    frame that does not decode. The chunk folder is removed once the outputs are
    written. With the folder gone (another task wrote the ``.h5``) the ``.h5`` is
    returned, and ``False``: this call did not write it (``True`` when it did).
    """
    from .inference import save_video_analysis

    text = _plan_text(plan)
    plan_id = _plan_id(text)
    folder = job.chunk_dir
    if not (folder / "plan.json").is_file():
        return (job.output if job.output.is_file() else None), False
    with _setup_lock(folder):  # one task puts them together; the others wait
        plan_file = folder / "plan.json"
        if not plan_file.is_file():  # another task wrote the .h5 meanwhile
            shutil.rmtree(folder, ignore_errors=True)  # made again by _setup_lock
            return (job.output if job.output.is_file() else None), False
        parts, info, times, ends = [], None, [], []
        chunks = plan["chunks"]
        for index, (start, stop) in enumerate(chunks):
            path = _chunk_path(job, index)
            task = ChunkTask(job.model, str(job.video), index, start, stop, str(path))
            task = dataclasses.replace(task, plan_id=plan_id)
            xyp = _read_chunk(path, task)
            if xyp is None:
                if path.is_file():
                    logger.warning(
                        "%s: chunk %d is not one of this plan's (other options); it "
                        "is computed again",
                        job.video.name,
                        index,
                    )
                    path.unlink(missing_ok=True)
                return None, False
            if info is None:
                with np.load(path, allow_pickle=False) as data:
                    info = {
                        "fps": float(data["fps"]),
                        "frame_dimensions": tuple(
                            int(v) for v in data["frame_dimensions"]
                        ),
                    }
            if len(xyp):
                parts.append(xyp)
            chunk_times, end = _chunk_timing(path)
            ends.append(end)
            if times is not None and chunk_times is not None:
                times.extend(chunk_times)
            else:
                times = None
            if stop is None or len(xyp) < stop - start:
                break  # the video ends in this chunk (as a serial run ends there)
        xyp = np.concatenate(parts) if parts else np.zeros((0, len(job.bodyparts), 3))
        truncated, missing = _video_damage(ends, len(xyp), plan["metadata_frames"])
        info = dict(info or {"fps": 30.0, "frame_dimensions": (0, 0)})
        info.update(
            n_frames=len(xyp),
            seconds=seconds,
            frames_per_second=len(xyp) / seconds if seconds > 0 else float("nan"),
            container_nframes=plan["metadata_frames"],
            frame_times=times,
            truncated=truncated,
            missing_frames=missing,
        )
        if truncated:  # (the task that decoded the end warned)
            logger.info("%s: %s", job.video.name, truncated)
        out = save_video_analysis(
            xyp,
            info,
            job.video,
            scorer=job.scorer,
            bodyparts=list(job.bodyparts),
            batch_size=job.model.batch_size,
            destfolder=job.dest,
            save_as_csv=job.save_as_csv,
            scale=job.scale,
            crop=job.crop,
            meta=job.meta,
            netcdf=job.netcdf,
            individuals=list(job.individuals) if job.individuals else None,
            unique_bodyparts=list(job.unique_bodyparts),
        )
        shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # the last video's: the hidden folder too
        folder.parent.rmdir()
    logger.info(
        "analysed %s in %d chunks: %d frames -> %s",
        job.video.name,
        len(chunks),
        len(xyp),
        out,
    )
    return out, True


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_DASK_MISSING) from exc
    return distributed


@contextlib.contextmanager
def dask_client(
    cluster: Any = "local",
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``cluster``; close what was started here.

    Parameters
    ----------
    cluster
        ``"local"``: a ``LocalCluster`` of ``n_workers`` processes on this machine
        (default: one per core); ``"slurm"`` (or ``"pbs"``, ``"sge"``, ``"lsf"``):
        a ``dask-jobqueue`` cluster configured by the ``jobqueue`` section of the
        Dask configuration (``~/.config/dask/jobqueue.yaml``) and scaled to
        ``n_workers`` jobs (default 4); a scheduler address such as
        ``"tcp://10.0.0.5:8786"``; or a ``Client`` (yielded as it is, not closed).
    n_workers
        Workers (or jobs) to start.
    threads_per_worker
        Task threads per worker (local clusters).

    Yields
    ------
    distributed.Client

    Raises
    ------
    ImportError
        Dask (or dask-jobqueue for a batch system) is not installed.
    """
    distributed = _import_distributed()
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if logging.getLogger("posekit").getEffectiveLevel() > logging.INFO:
        # Dask logs its scheduler's and workers' comings and goings at INFO with a
        # handler of its own; posekit's own log level (-v) decides
        logging.getLogger("distributed").setLevel(logging.WARNING)
    name = str(cluster)
    started = None
    if name == "local":
        n = int(n_workers or _cores())
        started = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=int(threads_per_worker),
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(started)
    elif name in ("slurm", "pbs", "sge", "lsf"):
        try:
            import dask_jobqueue
        except ImportError as exc:
            raise ImportError(
                f"--cluster {name} needs dask-jobqueue: pip install dask-jobqueue, "
                "and describe the jobs in ~/.config/dask/jobqueue.yaml (see the "
                "guide 'Analysing many videos')."
            ) from exc
        cls = getattr(dask_jobqueue, f"{name.upper()}Cluster")
        started = cls()
        started.scale(jobs=int(n_workers or 4))
        client = distributed.Client(started)
    else:
        client = distributed.Client(name)
    try:
        yield client
    finally:
        client.close()
        if started is not None:
            started.close()


def _threads_per_worker(client: Any) -> dict[str, int]:
    """Each worker's share of its host's cores: cores // task threads on the host."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(_cores)
    by_host: dict[str, int] = {}
    for info in workers.values():
        by_host[info["host"]] = by_host.get(info["host"], 0) + int(info["nthreads"])
    return {
        addr: max(1, int(cores.get(addr, 1)) // max(1, by_host[info["host"]]))
        for addr, info in workers.items()
    }


# --------------------------------------------------------------------------------------
# Running the chunks
# --------------------------------------------------------------------------------------


class _Progress:
    """``True`` (a tqdm bar), a ``progress(done, total)`` callable, or nothing.

    ``initial`` frames (chunks on disk from an earlier run) count as done from the
    start and not into the bar's rate: a rerun that finds every chunk on disk shows
    no rate, not millions of frames per second. In a log file (no terminal) each
    state is printed once: the bar's last line is not repeated when it closes.
    """

    def __init__(
        self,
        progress: bool | Callable[[int, int], None],
        total: int,
        initial: int = 0,
    ) -> None:
        self.total = max(int(total), 0)
        self.done = min(max(int(initial), 0), self.total)
        self.callback = progress if callable(progress) else None
        self.bar = None
        self._shown: tuple[int, int] | None = None  # (done, total) of a log line
        if progress is True:
            from ._progress import _LogBar, progress_bar

            self.bar = progress_bar(
                self.total, unit="frames", desc="chunks", initial=self.done
            )
            if isinstance(self.bar, _LogBar):  # it printed its first line
                self._shown = (self.done, self.total)
        if self.done and self.callback is not None:
            self.callback(self.done, self.total)

    def add(self, frames: int) -> None:
        self.done += int(frames)
        if self.done > self.total:  # the containers understated their frames
            self.total = self.done
            if self.bar is not None:
                self.bar.total = self.total
        if self.bar is not None:
            self.bar.update(int(frames))
            if self._shown is not None and self.bar.last_print_n == self.bar.n:
                self._shown = (self.bar.n, self.bar.total)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def finish(self) -> None:
        """End at 100 %: the chunks are done (the containers overstated frames)."""
        if self.done < self.total:
            self.total = self.done
            if self.bar is not None:
                self.bar.total = self.total  # (drawn by close)
            if self.callback is not None:
                self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is None:
            return
        if self._shown == (self.bar.n, self.bar.total):  # that line is in the log
            self.bar.leave = False
        self.bar.close()


def analyze_chunked(
    jobs: Sequence[VideoJob],
    *,
    client: Any = None,
    shard: tuple[int, int] | str | None = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    progress: bool | Callable[[int, int], None] = True,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    stop_event: StopSignal | None = None,
) -> ChunkedOutputs:
    """Analyse videos in chunks, on a Dask cluster or as one task of a job array.

    :func:`posekit.engine.api.analyze_videos` with ``client`` or ``shard`` calls it.

    Parameters
    ----------
    jobs
        The videos.
    client
        ``"local"``, a scheduler address, ``"slurm"``... or a ``Client``
        (:func:`dask_client`); ``None`` with ``shard``: this process computes.
    shard
        ``(i, n)`` or ``"i/n"``: compute only this task's share of the chunks, those
        for which :func:`chunk_shard` gives ``i``. The share of a chunk does not
        depend on the other videos or on which are done, so the tasks of an array
        may run at any time and in any order: each chunk is computed by one task.
    chunk_frames
        Frames per chunk (rounded up to a multiple of the batch size).
    progress
        A tqdm bar (``True``) or ``progress(done, total)`` over the frames of all
        videos, updated as chunks finish.
    on_chunk
        Called with each :class:`ChunkResult` (the benchmark's timings).
    stop_event
        A ``threading.Event`` another thread sets to stop. Without ``client``
        the chunk that runs stops between two batches, its frames so far kept
        beside it (:func:`run_chunk`); on a Dask cluster the chunks not started
        are cancelled within a second, and those running finish on their
        workers (kept when the cluster outlives the call). The finished chunks
        are kept: the same call resumes.

    Returns
    -------
    ChunkedOutputs
        The ``.h5`` files this call wrote, with ``failed``: the videos a chunk of
        which failed, and why (their finished chunks are kept); with a shard also
        ``by_others``: the ``.h5`` files another task wrote meanwhile, and
        ``pending``: the videos this task computed chunks of that are not complete
        yet, each with a line that says how many chunks are on disk and which
        tasks compute the others (logged at INFO by :data:`PENDING_LOGGER`).

    Raises
    ------
    ValueError
        Neither ``client`` nor ``shard``; a bad shard.
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set: its ``frame`` counts the frames kept (finished
        chunks and the stopped chunk's batches), ``total`` the frames of all
        chunks.
    """
    if client is None and shard is None:
        raise ValueError(
            "analyze_chunked needs a Dask client (client='local', an address or a "
            "Client) or a shard 'i/n'."
        )
    i, n = parse_shard(shard) if shard is not None else (0, 1)
    with contextlib.ExitStack() as stack:
        return _analyze_chunked(
            jobs, client, i, n, chunk_frames, progress, on_chunk, stack, stop_event
        )


def _analyze_chunked(
    jobs: Sequence[VideoJob],
    client: Any,
    i: int,
    n: int,
    chunk_frames: int,
    progress: bool | Callable[[int, int], None],
    on_chunk: Callable[[ChunkResult], None] | None,
    stack: contextlib.ExitStack,
    stop_event: StopSignal | None = None,
) -> ChunkedOutputs:
    """:func:`analyze_chunked`, holding the chunk folders' locks in ``stack``."""
    from .inference import AnalysisStopped

    t0 = time.perf_counter()
    plans = [job.plan(chunk_frames) for job in jobs]
    for job, plan in zip(jobs, plans, strict=True):  # all, before computing anything
        _join_plan(job, plan, stack)
    tasks, expected, on_disk, bar_start = [], 0, set(), 0
    quiet = _startup_hidden()
    for job, plan in zip(jobs, plans, strict=True):
        plan_id = _plan_id(_plan_text(plan))
        times_file: Path | None | bool = False  # False: not looked for yet
        for index, (start, stop) in enumerate(plan["chunks"]):
            if chunk_shard(job.video, index, n) != i:  # another task's
                continue
            task = ChunkTask(
                model=job.model,
                video=str(job.video),
                index=index,
                start=start,
                stop=stop,
                out=str(_chunk_path(job, index)),
                scale=job.scale,
                crop=job.crop,
                plan_id=plan_id,
                quiet=quiet,
            )
            if start > 0 and not Path(task.out).is_file():  # it seeks
                if times_file is False:
                    times_file = _frame_times_file(job)
                if times_file is not None:
                    task = dataclasses.replace(task, times_file=str(times_file))
            tasks.append(task)
            end = plan["metadata_frames"] if stop is None else stop
            expected += max(end - start, 0)
            if Path(task.out).is_file():  # a rerun: counted as done from the start
                on_disk.add(task.out)
                bar_start += max(end - start, 0)
    _say_idle(len(jobs), len(tasks), i, n)
    # a task with no chunk of these videos shows no bar ("chunks: 0frames")
    bar = _Progress(
        progress if tasks or callable(progress) else False, expected, bar_start
    )
    failed: dict[Path, str] = {}
    try:
        if client is None:
            _run_here(tasks, bar, on_chunk, on_disk, stop_event, failed)
        else:
            with dask_client(client) as dask:
                _run_on_dask(dask, tasks, bar, on_chunk, on_disk, stop_event, failed)
        bar.finish()
    except _DaskStopped:
        where = Path(jobs[0].video)  # (chunks run in any order)
        raise AnalysisStopped(where, bar.done, bar.total, None) from None
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    outputs = ChunkedOutputs(failed=failed)
    mine = {Path(task.video) for task in tasks}
    for job, plan in zip(jobs, plans, strict=True):
        if job.video in failed:  # its finished chunks stay for a rerun
            continue
        out, wrote = _assemble(job, plan, seconds)
        if out is None:
            _still_pending(job, plan, i, n, job.video in mine, outputs)
        elif wrote:
            outputs.append(out)
        else:
            logger.info("%s: another task wrote %s", job.video.name, out.name)
            outputs.by_others.append(out)
    return outputs


def _startup_hidden() -> bool:
    """Whether this process hides the runtime's start-up lines (workers do the same)."""
    from . import _tf

    return bool(_tf._QUIET["startup"])


def _say_idle(n_videos: int, n_tasks: int, i: int, n: int) -> None:
    """Say that task ``i`` of ``n`` has no chunk (``n_tasks == 0``) of the videos.

    One line (:data:`PENDING_LOGGER`), for whoever reads the array's logs; nothing
    outside a job array (``n == 1``), without videos, or with chunks to compute.
    """
    if n > 1 and n_videos and not n_tasks:
        logging.getLogger(PENDING_LOGGER).info(
            "no chunk of the %d video(s) still to analyse is this task's (--shard "
            "%d/%d): the other tasks of the array compute them",
            n_videos,
            i,
            n,
        )


def _still_pending(
    job: VideoJob,
    plan: dict[str, Any],
    i: int,
    n: int,
    touched: bool,
    outputs: ChunkedOutputs,
) -> None:
    """Say that ``job``'s video is not complete yet: chunks on disk, who does the rest.

    For a video this task computed chunks of, one line (:data:`PENDING_LOGGER`,
    INFO; ``posekit analyze --shard`` prints it on stdout) goes into
    ``outputs.pending``; for the others a plain INFO line.
    """
    total = len(plan["chunks"])
    missing = [k for k in range(total) if not _chunk_path(job, k).is_file()]
    owners = sorted({chunk_shard(job.video, k, n) for k in missing})
    if not touched:
        logger.info(
            "%s: %d of %d chunks still to be computed (by the other tasks)",
            job.video.name,
            len(missing),
            total,
        )
        return
    named = [f"{k}/{n}" for k in owners[:10]]
    if len(owners) > 10:
        named.append(f"{len(owners) - 10} more tasks")
    tasks = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
    line = (
        f"{job.video.name}: not complete yet, {total - len(missing)} of {total} "
        f"chunks on disk; the missing ones are those of --shard {tasks}; the task "
        f"that computes the last one writes {job.output.name}"
    )
    if owners == [i]:  # (cannot happen unless a chunk file was removed meanwhile)
        line += " (run this task again)"
    outputs.pending[job.video] = line
    logging.getLogger(PENDING_LOGGER).info("%s", line)


class ChunkedOutputs(list):
    """The ``.h5`` files :func:`analyze_chunked` wrote (a list of ``Path``).

    Attributes
    ----------
    failed
        Videos whose chunk failed → why. Their other chunks were not computed
        (those on disk are kept for a rerun), and the other videos were analysed.
    by_others
        ``.h5`` files of these videos that another task of the job array wrote
        while this one ran.
    pending
        Videos this task computed chunks of that are not complete yet → a line
        that says how many chunks are on disk and which tasks compute the others.
    """

    def __init__(
        self,
        paths: Sequence[Path] = (),
        *,
        failed: dict[Path, str] | None = None,
        by_others: Sequence[Path] = (),
        pending: dict[Path, str] | None = None,
    ) -> None:
        super().__init__(paths)
        self.failed = dict(failed or {})
        self.by_others = list(by_others)
        self.pending = dict(pending or {})


def _chunk_failed(task: ChunkTask, err: BaseException, failed: dict[Path, str]) -> None:
    """Record that a video's chunk failed (a warning says why)."""
    why = f"chunk {task.index} (frames {task.start}-"
    why += f"{task.stop - 1 if task.stop is not None else 'end'}) failed: "
    why += f"{type(err).__name__}: {err}"
    logger.warning("%s is not analysed: %s (the other videos are)", task.video, why)
    failed[Path(task.video)] = why


def _run_here(
    tasks: list[ChunkTask],
    bar: _Progress,
    on_chunk: Callable[[ChunkResult], None] | None,
    on_disk: set[str],
    stop_event: StopSignal | None,
    failed: dict[Path, str] | None = None,
) -> None:
    """Run the chunks one after the other in this process (a job array's task).

    A chunk that fails (an error, not a stop) leaves its video in ``failed`` and
    its other chunks not computed; the other videos' chunks run.

    Raises
    ------
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set: its ``frame`` counts the frames kept, those of
        the finished chunks and the batches of the one stopped.
    """
    from .inference import AnalysisStopped, stop_asked

    failed = {} if failed is None else failed
    for task in tasks:
        if stop_asked(stop_event):
            raise AnalysisStopped(Path(task.video), bar.done, bar.total, None)
        if Path(task.video) in failed:
            continue
        try:
            result = run_chunk(task, stop_event)
        except AnalysisStopped as stop:  # inside the chunk: its batches are kept
            kept = bar.done + stop.frame
            raise AnalysisStopped(
                Path(task.video), kept, bar.total, stop.partial
            ) from None
        except Exception as err:  # noqa: BLE001 - the other videos go on
            _chunk_failed(task, err, failed)
            continue
        if not (result.skipped and task.out in on_disk):
            bar.add(result.frames)
        if on_chunk is not None:
            on_chunk(result)


class _DaskStopped(Exception):
    """The stop event was set while chunks ran on a Dask cluster."""


#: Seconds between two looks at the stop event while Dask chunks run.
_STOP_POLL_S = 0.25


def _run_on_dask(
    client: Any,
    tasks: list[ChunkTask],
    bar: _Progress,
    on_chunk: Callable[[ChunkResult], None] | None,
    counted: set[str] = frozenset(),
    stop_event: StopSignal | None = None,
    failed: dict[Path, str] | None = None,
) -> None:
    """Submit the chunks, largest first in video order, and collect them as they end.

    With ``stop_event``, it is looked at every :data:`_STOP_POLL_S` seconds; once
    set, the chunks not finished are cancelled and :class:`_DaskStopped` raised. A
    chunk that fails leaves its video in ``failed``; the other videos' chunks run.
    """
    distributed = _import_distributed()
    threads = _threads_per_worker(client)
    failed = {} if failed is None else failed
    futures = [
        client.submit(
            run_chunk,
            dataclasses.replace(task, threads=threads),
            # unique per submission: a key Dask still holds would return its result
            key=f"posekit-chunk-{task.index}-{uuid.uuid4().hex}",
            pure=False,
        )
        for task in tasks
    ]
    task_of = {future.key: task for future, task in zip(futures, tasks, strict=True)}
    try:
        for future in _completed(distributed, futures, stop_event):
            if Path(task_of[future.key].video) in failed:
                continue  # (cancelled after another chunk of its video failed)
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - the other videos go on
                task = task_of[future.key]
                _chunk_failed(task, err, failed)
                client.cancel(
                    [f for f in futures if task_of[f.key].video == task.video]
                )
                continue
            if not (result.skipped and result.path in counted):  # counted at start
                bar.add(result.frames)
            if on_chunk is not None:
                on_chunk(result)
    except BaseException:
        client.cancel(futures)
        raise


def _completed(
    distributed: Any, futures: list[Any], stop_event: StopSignal | None
) -> Iterator[Any]:
    """Yield the futures as they finish; raise :class:`_DaskStopped` once asked."""
    from .inference import stop_asked

    if stop_event is None:
        yield from distributed.as_completed(futures)
        return
    pending = distributed.as_completed(futures)
    while not pending.is_empty():
        if stop_asked(stop_event):
            raise _DaskStopped
        yield from pending.next_batch(block=False)
        if not pending.has_ready():  # an Event's wait ends at once when it is set
            getattr(stop_event, "wait", time.sleep)(_STOP_POLL_S)


# --------------------------------------------------------------------------------------
# Training runs in parallel
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRun:
    """One training run of :func:`train_in_parallel`: a shuffle and its backbone.

    Attributes
    ----------
    shuffle
        The shuffle (each run needs its own: its own model folder).
    backbone
        Backbone name (``None``: the project's default).
    options
        Further :func:`~posekit.engine.api.train_network` arguments for this run.
    """

    shuffle: int
    backbone: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _train_task(project_path: str, run: TrainRun, threads: int, common: dict) -> dict:
    """Train one run in a worker: its own threads, no project lock (the caller has it)."""
    limit_threads(threads, tensorflow=True)
    import inspect

    from .api import TrainingInterrupted, train_network

    t0 = time.perf_counter()
    try:  # the undecorated function: the caller holds the training lock
        result = inspect.unwrap(train_network)(
            project_path,
            shuffle=run.shuffle,
            backbone=run.backbone,
            progress=False,
            **{**common, **run.options},
        )
    except TrainingInterrupted as err:  # saved: its row says "interrupted"
        result = err.result
    return {
        "shuffle": run.shuffle,
        "backbone": run.backbone,
        "iterations": result.iteration,
        "test_error_px": result.test_error_px,
        "stop_reason": result.stop_reason,
        "wall_s": time.perf_counter() - t0,
        "threads": threads,
        "snapshot": str(result.snapshot) if result.snapshot else None,
    }


def train_in_parallel(
    project: Project | str | os.PathLike,
    runs: Sequence[TrainRun],
    *,
    client: Any = "local",
    same_split_as: int | None = 1,
    threads_per_run: int | None = None,
    on_result: Callable[[dict], None] | None = None,
    **train_kwargs: Any,
) -> pd.DataFrame:
    """Train several shuffles or backbones at once, as Dask tasks; one comparison table.

    The project's training lock is held for the whole comparison (by this process);
    the runs write into their own shuffles' model folders. Each run limits its
    TensorFlow threads to ``threads_per_run``.

    Parameters
    ----------
    project
        The project.
    runs
        The runs (distinct shuffles).
    client
        As for :func:`dask_client`; ``"local"`` starts one worker per run.
    same_split_as
        Create missing shuffles with the test frames of this shuffle, so that the
        runs are compared on the same frames (``None``: each shuffle's own split).
    threads_per_run
        TensorFlow threads per run (default: the cores divided among the runs).
    on_result
        Called with each run's row as it finishes (a dashboard's table).
    **train_kwargs
        Passed to every :func:`~posekit.engine.api.train_network` (e.g.
        ``max_iterations``, ``time_budget_s``, ``batch_size``).

    Returns
    -------
    pandas.DataFrame
        One row per run: shuffle, backbone, iterations, test error (px), stop
        reason, wall time, threads, snapshot; sorted by test error.

    Raises
    ------
    ValueError
        No runs, or two runs on one shuffle.
    posekit.engine.locks.JobLockError
        A training already runs on the project.
    """
    import pandas as pd

    from .locks import job_lock
    from .project import as_project

    runs = list(runs)
    shuffles = [r.shuffle for r in runs]
    if not runs or len(set(shuffles)) != len(shuffles):
        raise ValueError(
            "Give each run its own shuffle (a model folder each); received shuffles "
            f"{shuffles}."
        )
    project = as_project(project)
    _ensure_shuffles(project, shuffles, same_split_as)
    threads = int(threads_per_run or max(1, _cores() // len(runs)))
    rows = []
    with job_lock(project.path, "training", "train_in_parallel"):
        n_workers = len(runs) if client == "local" else None
        with dask_client(client, n_workers=n_workers) as dask:
            distributed = _import_distributed()
            futures = [
                dask.submit(
                    _train_task,
                    str(project.path),
                    run,
                    threads,
                    dict(train_kwargs),
                    pure=False,
                    key=f"posekit-train-shuffle{run.shuffle}-{uuid.uuid4().hex}",
                )
                for run in runs
            ]
            for future in distributed.as_completed(futures):
                row = future.result()
                rows.append(row)
                if on_result is not None:
                    on_result(row)
    table = pd.DataFrame(rows)
    return table.sort_values("test_error_px", na_position="last").reset_index(drop=True)


def _ensure_shuffles(
    project: Project, shuffles: Sequence[int], same_split_as: int | None
) -> None:
    """Create the training sets of missing shuffles (with a reference's test frames)."""
    from .dataset import create_training_dataset, load_split, load_training_set

    missing = []
    for shuffle in shuffles:
        try:
            load_split(project, shuffle=shuffle)
        except FileNotFoundError:
            missing.append(shuffle)
    if not missing:
        return
    test_frames = None
    if same_split_as is not None:
        try:
            load_split(project, shuffle=same_split_as)
        except FileNotFoundError:
            create_training_dataset(project, shuffles=[same_split_as])
            missing = [s for s in missing if s != same_split_as]
        reference = load_training_set(project, shuffle=same_split_as)
        test_frames = [reference.paths[i] for i in reference.test_indices]
    if missing:
        create_training_dataset(project, shuffles=missing, test_frames=test_frames)
