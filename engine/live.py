"""Real time: one frame in, a pose out, as fast as the CPU allows.

:class:`LivePredictor` wraps a batch-1 :class:`~posekit.engine.inference.Predictor`
(TFLite, int8 when it is as accurate) for frames that arrive one at a time from a
camera or a video:

- called directly (``live(frame)``) it predicts that frame and returns a
  :class:`LivePose` with its latency;
- started (:meth:`LivePredictor.start`) it runs in a thread of its own and applies the
  *latest-frame* policy: :meth:`~LivePredictor.submit` replaces a frame still waiting
  (it is counted as dropped), so when frames come faster than inference the pose is
  always of the newest frame and the delay never grows;
- ``smoothing`` (0 to 1) blends each position with the previous one (an exponential
  moving average; keypoints below ``pcutoff`` are not blended), trading a little lag
  for less jitter.

:func:`open_live` builds one from a shared model file or a project's model folder;
:func:`frame_source` reads a camera or a video; ``posekit live`` shows or streams
the poses.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import logger

if TYPE_CHECKING:
    from .inference import Predictor

__all__ = [
    "LivePose",
    "LivePredictor",
    "LiveStats",
    "frame_source",
    "open_live",
]


@dataclass(frozen=True)
class LivePose:
    """The pose of one frame.

    Attributes
    ----------
    index
        The frame's number, as given to :meth:`LivePredictor.submit` (or counted).
    timestamp
        When the frame was given (``time.perf_counter()`` seconds, or the caller's).
    xyp
        ``(K, 3)``: x, y in the frame's pixels and likelihood (smoothed when asked).
    latency_s
        From the frame being given to its pose being ready (waiting included).
    """

    index: int
    timestamp: float
    xyp: np.ndarray
    latency_s: float

    def as_dict(self, bodyparts: Sequence[str]) -> dict[str, Any]:
        """Return the pose as JSON-ready data (``bodyparts``: ``name -> [x, y, p]``).

        Examples
        --------
        >>> pose = LivePose(3, 0.5, np.array([[1.0, 2.0, 0.9]]), 0.004)
        >>> pose.as_dict(["snout"])
        {'frame': 3, 'time': 0.5, 'latency_ms': 4.0, 'bodyparts': {'snout': [1.0, 2.0, 0.9]}}
        """
        return {
            "frame": int(self.index),
            "time": round(float(self.timestamp), 6),
            "latency_ms": round(1000 * float(self.latency_s), 3),
            "bodyparts": {
                str(name): [round(float(v), 3) for v in row]
                for name, row in zip(bodyparts, self.xyp, strict=True)
            },
        }


@dataclass
class LiveStats:
    """Counts of a running :class:`LivePredictor`."""

    submitted: int = 0
    predicted: int = 0
    dropped: int = 0


class LivePredictor:
    """Predict poses frame by frame with a latest-frame policy; optional smoothing.

    Parameters
    ----------
    predictor
        A :class:`~posekit.engine.inference.Predictor` (batch size 1 is fastest).
    bodyparts
        Keypoint names, for :meth:`LivePose.as_dict` and the command line.
    smoothing
        0 (off) to below 1: weight of the previous position in each new one.
    pcutoff
        Keypoints below this likelihood are reported as predicted (not blended),
        and do not update the smoothed position.

    Raises
    ------
    ValueError
        ``smoothing`` outside ``[0, 1)``.

    Examples
    --------
    >>> class Centre:  # a stand-in predictor: the brightest pixel
    ...     batch_size = 1
    ...     def __call__(self, frames):
    ...         f = np.asarray(frames)[0, ..., 0]
    ...         y, x = np.unravel_index(f.argmax(), f.shape)
    ...         return np.array([[[x, y, 1.0]]], float)
    >>> live = LivePredictor(Centre(), ["dot"])
    >>> frame = np.zeros((8, 8, 3), np.uint8); frame[2, 5] = 255
    >>> live(frame).xyp.tolist()
    [[5.0, 2.0, 1.0]]
    """

    def __init__(
        self,
        predictor: Predictor,
        bodyparts: Sequence[str] = (),
        *,
        smoothing: float = 0.0,
        pcutoff: float = 0.0,
    ) -> None:
        if not 0.0 <= float(smoothing) < 1.0:
            raise ValueError(
                f"smoothing must be in [0, 1): 0 is off, 0.5 blends each position "
                f"half with the previous one. Received: smoothing={smoothing!r}"
            )
        self.predictor = predictor
        self.bodyparts = tuple(bodyparts)
        self.smoothing = float(smoothing)
        self.pcutoff = float(pcutoff)
        self.stats = LiveStats()
        self._previous: np.ndarray | None = None
        self._count = 0
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, int, float] | None = None
        self._latest: LivePose | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[LivePose], None]] = []

    # ------------------------------------------------------------------ one frame
    def _smooth(self, xyp: np.ndarray) -> np.ndarray:
        if self.smoothing <= 0.0:
            return xyp
        out = xyp.copy()
        if self._previous is not None:
            good = (xyp[:, 2] >= self.pcutoff) & np.isfinite(self._previous[:, 0])
            a = self.smoothing
            out[good, :2] = a * self._previous[good, :2] + (1 - a) * xyp[good, :2]
        keep = out[:, 2] >= self.pcutoff
        if self._previous is None:
            self._previous = np.where(keep[:, None], out, np.nan)
        else:
            self._previous[keep] = out[keep]
        return out

    def predict(
        self,
        frame: np.ndarray,
        index: int | None = None,
        timestamp: float | None = None,
    ) -> LivePose:
        """Predict one RGB frame now (in the calling thread).

        Parameters
        ----------
        frame
            ``(H, W, 3)`` ``uint8`` RGB.
        index
            Its number (default: counted from 0).
        timestamp
            When it was captured (default: now); the latency counts from it.

        Returns
        -------
        LivePose
        """
        t0 = time.perf_counter() if timestamp is None else float(timestamp)
        if index is None:
            index = self._count
        self._count = int(index) + 1
        xyp = np.asarray(self.predictor(np.asarray(frame)[None]))[0]
        xyp = self._smooth(np.asarray(xyp, np.float64))
        self.stats.predicted += 1
        return LivePose(int(index), t0, xyp, time.perf_counter() - t0)

    __call__ = predict

    # ------------------------------------------------------------------ a stream
    def start(self, on_pose: Callable[[LivePose], None] | None = None) -> LivePredictor:
        """Run inference in a background thread on the frames :meth:`submit` gives.

        Parameters
        ----------
        on_pose
            Called (in that thread) with each pose as soon as it is ready.

        Returns
        -------
        LivePredictor
            ``self``, to write ``with LivePredictor(...).start() as live:``.
        """
        if self._thread is not None:
            raise RuntimeError("This LivePredictor is already running.")
        if on_pose is not None:
            self._callbacks.append(on_pose)
        self._running = True
        self._thread = threading.Thread(
            target=self._loop, name="posekit-live", daemon=True
        )
        self._thread.start()
        return self

    def submit(
        self,
        frame: np.ndarray,
        index: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Give the newest frame; a frame still waiting for inference is dropped.

        Raises
        ------
        RuntimeError
            Not started, or inference or a pose callback failed (the error is
            chained).
        """
        if self._error is not None:
            raise RuntimeError(f"live inference stopped: {self._error}") from (
                self._error
            )
        if not self._running:
            raise RuntimeError("Call start() before submit().")
        t = time.perf_counter() if timestamp is None else float(timestamp)
        with self._cond:
            if index is None:
                index = self.stats.submitted
            if self._pending is not None:
                self.stats.dropped += 1
            self._pending = (frame, int(index), t)
            self.stats.submitted += 1
            self._cond.notify()

    def latest(self) -> LivePose | None:
        """Return the newest pose computed so far (``None`` before the first)."""
        with self._cond:
            return self._latest

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no frame is waiting; ``True`` if so within ``timeout``.

        Raises
        ------
        RuntimeError
            Inference or a pose callback failed (the error is chained).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                # (checked when nothing waits too: the frame that failed was the
                # last one, and True would say it was done)
                if self._error is not None:
                    raise RuntimeError(f"live inference stopped: {self._error}") from (
                        self._error
                    )
                if self._pending is None and not self._busy:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)

    _busy = False

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._running and self._pending is None:
                    self._cond.wait()
                if not self._running and self._pending is None:
                    return
                frame, index, t = self._pending
                self._pending = None
                self._busy = True
            try:
                pose = self.predict(frame, index, t)
            except BaseException as exc:  # noqa: BLE001 - reported by submit()
                logger.error("live inference failed: %s", exc)
                with self._cond:
                    self._error = exc
                    self._running = False
                    self._busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._latest = pose
                self._busy = False
                self._cond.notify_all()
            try:
                for callback in self._callbacks:
                    callback(pose)
            except BaseException as exc:  # noqa: BLE001 - reported by submit()/wait()
                # e.g. BrokenPipeError from a callback printing to a closed pipe:
                # the stream stops, and the caller learns why (it used to hang in
                # wait(), with this thread gone and a frame left waiting)
                if not isinstance(exc, BrokenPipeError):
                    logger.error("a pose callback failed: %s", exc)
                with self._cond:
                    self._error = exc
                    self._running = False
                    self._cond.notify_all()
                return

    def stop(self) -> None:
        """Finish the frame in progress and stop the thread (a waiting frame is dropped)."""
        with self._cond:
            self._running = False
            if self._pending is not None:
                self._pending = None
                self.stats.dropped += 1
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LivePredictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_live(
    source: str | os.PathLike,
    frame_shape: tuple[int, int],
    *,
    precision: str = "auto",
    shuffle: int = 1,
    smoothing: float = 0.0,
    pcutoff: float | None = None,
    num_threads: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> LivePredictor:
    """Build a :class:`LivePredictor` (batch 1, TFLite) from a model file or a project.

    Parameters
    ----------
    source
        A ``.posekit.zip`` (:func:`posekit.engine.export.load_model_file`) or the
        folder it was unzipped into, a project folder (its shuffle's newest
        snapshot) or a ``train/`` folder.
    frame_shape
        ``(height, width)`` of the frames: ``(480, 640)`` for 640×480 video.
    precision
        ``"auto"``, ``"float32"`` or ``"int8"``.
    shuffle
        The project's shuffle.
    smoothing, pcutoff
        As for :class:`LivePredictor` (``pcutoff`` default: the project's, the one
        a model file's card records, else 0).
    num_threads
        LiteRT threads.
    on_stage
        Called with one line (``"converting the model for 640×480 frames …"``)
        before a conversion for a new frame size (5-30 s, once per size); default:
        that line is logged (logger ``posekit``, INFO).

    Returns
    -------
    LivePredictor

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If the project's model is a multi-animal one, or ``frame_shape`` is not
        ``(height, width)``.
    """
    from .export import MODEL_FILE_SUFFIX, _is_unpacked, load_model_file
    from .model_folder import ModelFolder

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"No model at {path}: give a {MODEL_FILE_SUFFIX} file (posekit "
            "export-model), a project folder or a shuffle's train/ folder."
        )
    h, w = _frame_shape(frame_shape)
    stage = _converting_line(h, w, on_stage)
    if (
        path.name.endswith(MODEL_FILE_SUFFIX)
        or path.suffix.lower() == ".zip"
        or _is_unpacked(path)
    ):
        model = load_model_file(path)
        card = model.card
        ch, cw = card.input_size
        if (h, w) == (cw, ch) and h != w:  # (width, height) given, as OpenCV says
            logger.warning(
                "%s was exported for %d×%d (width×height) frames, frame_shape=(%d, "
                "%d); frame_shape=(%d, %d) is (height, width): frames %d wide and %d "
                "high. If yours are %d×%d, pass frame_shape=(%d, %d).",
                path.name,
                *(cw, ch, ch, cw),
                *(h, w, w, h),
                *(cw, ch, ch, cw),
            )
        if pcutoff is None:
            pcutoff = card.pcutoff
            if pcutoff is None:
                pcutoff = 0.0
                if smoothing:
                    logger.warning(
                        "%s records no pcutoff (exported by an older posekit): "
                        "smoothing blends every point (pcutoff 0). Pass the "
                        "project's, e.g. pcutoff=0.6 (posekit live --pcutoff 0.6).",
                        path.name,
                    )
        predictor = model.predictor(
            (h, w), 1, precision, num_threads=num_threads, on_stage=stage
        )
        return LivePredictor(
            predictor, model.bodyparts, smoothing=smoothing, pcutoff=pcutoff
        )
    in_project = (path / "config.yaml").is_file() or path.name == "config.yaml"
    if in_project:
        from .project import load_project

        project = load_project(path)
        folder = ModelFolder.of(project, shuffle)
        cut = project.pcutoff if pcutoff is None else pcutoff
    else:
        folder = ModelFolder.at(path)
        cut = 0.0 if pcutoff is None else pcutoff
    config = folder.model_config()
    if config.paf_edges:
        where = (
            "posekit analyze PROJECT VIDEO"
            if in_project
            else "posekit analyze PROJECT VIDEO, with the project (its config.yaml "
            "and dlc-models folder) around this model folder"
        )
        raise ValueError(
            f"The model in {folder.path} is a multi-animal model (part-affinity "
            "fields): live prediction finds one animal per frame. Analyse the video "
            f"instead ({where}), which assembles and tracks the animals."
        )
    predictor = folder.predictor(
        (h, w), 1, precision=precision, num_threads=num_threads, on_stage=stage
    )
    return LivePredictor(predictor, config.bodyparts, smoothing=smoothing, pcutoff=cut)


def _frame_shape(frame_shape: Sequence[int]) -> tuple[int, int]:
    """Return ``(height, width)``; refuse anything else (``(H, W, 3)`` is accepted)."""
    try:
        shape = tuple(frame_shape)
    except TypeError:  # a number
        shape = ()
    if len(shape) == 3 and shape[2] == 3:
        shape = shape[:2]
    if len(shape) != 2 or not all(  # whole numbers (OpenCV's sizes are floats)
        isinstance(v, int | float | np.number) and float(v).is_integer() and v > 0
        for v in shape
    ):
        raise ValueError(
            "frame_shape is (height, width) of the frames, e.g. (480, 640) for "
            f"640×480 video (frame.shape[:2]). Received: frame_shape={frame_shape!r}"
        )
    return int(shape[0]), int(shape[1])


def _converting_line(
    height: int, width: int, on_stage: Callable[[str], None] | None
) -> Callable[[str], None]:
    """Say (or log) the conversion for a new frame size: seconds that looked hung."""

    def stage(name: str) -> None:
        if name != "converting":
            return
        line = (
            f"converting the model for {width}×{height} frames (once for this size, "
            "some seconds; cached)"
        )
        if on_stage is None:
            logger.info("%s", line)
        else:
            on_stage(line)

    return stage


def frame_source(
    source: str | int, *, realtime: bool = False
) -> tuple[Iterator[tuple[int, float, np.ndarray]], dict[str, float]]:
    """Read RGB frames from a camera (an index) or a video file.

    Parameters
    ----------
    source
        A camera index (``0``, or ``"0"``) or a video file.
    realtime
        For a video file: release frames at the video's frame rate (as a camera
        would), so that a slower consumer drops frames instead of slowing the video.

    Returns
    -------
    frames : iterator
        ``(index, timestamp, rgb_frame)``.
    info : dict
        ``fps``, ``width``, ``height``.

    Raises
    ------
    OSError
        The camera or video cannot be opened.
    """
    import cv2

    camera = isinstance(source, int) or (
        isinstance(source, str) and source.strip().isdigit()
    )
    cap = cv2.VideoCapture(int(source) if camera else str(source))
    if not cap.isOpened():
        kind = "camera" if camera else "video"
        raise OSError(f"Cannot open {kind} {source!r}.")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    info = {
        "fps": fps,
        "width": float(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": float(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    }

    def frames() -> Iterator[tuple[int, float, np.ndarray]]:
        t0 = time.perf_counter()
        index = 0
        try:
            while True:
                if realtime and not camera:
                    delay = t0 + index / fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    return
                yield index, time.perf_counter(), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            cap.release()

    return frames(), info
