"""Prediction with a multi-animal model: maps → candidates → affinities → animals.

:class:`MultiAnimalPredictor` runs a multi-animal :class:`~posekit.engine.models.PoseModel`
(score maps, location refinement and part-affinity fields) through a traced
``tf.function``, finds the candidates of each frame (:func:`~.peaks.find_peaks`), their
part-affinity line integrals (:func:`~.assembly.paf_costs`) and assembles them into
animals (:class:`~.assembly.Assembler`). Frames of one shape are batched together, the
last batch padded (one traced shape per frame shape), as the single-animal
:class:`~posekit.engine.inference.Predictor` does.

:func:`predict_video_detections` does this for every frame of a video, decoding in a
background thread (:meth:`~posekit.engine.video.VideoReader.iter_frames`). As the
single-animal :func:`~posekit.engine.inference.predict_video`, it keeps the frames
done in a :class:`PartialDetections` (every minute, on Ctrl-C and when its
``stop_event`` is set) and resumes from it, so a stopped or killed analysis goes on
where it was and gives the uninterrupted run's detections.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..inference import PartialAnalysis
from ..video import VideoReader
from .assembly import Assembler, Assemblies, AssemblyConfig, paf_costs
from .peaks import FrameDetections, find_peaks
from .peaks import nms_distance as peak_distance

if TYPE_CHECKING:
    from ..inference import StopSignal

__all__ = ["MultiAnimalPredictor", "PartialDetections", "predict_video_detections"]

logger = logging.getLogger("posekit.engine.multianimal")


class MultiAnimalPredictor:
    """Frames → candidates and assembled animals, with a multi-animal Keras model.

    Parameters
    ----------
    model
        A :class:`~posekit.engine.models.PoseModel` with ``paf_edges``.
    n_multi, n_unique
        Multi-animal and unique bodyparts (channels in that order).
    assembly
        Assembly settings (``max_individuals`` at least).
    batch_size
        Frames per network call.
    peak_threshold
        Smallest score of a candidate (default 0.05).
    nms_radius
        Non-maximum suppression radius in map cells: a peak is the largest value of
        a ``2 r + 1`` window (default: σ in cells, at least 1; DeepLabCut's
        ``nmsradius`` is the window's size, see :func:`~.peaks.nms_radius_from_dlc`).
    nms_distance
        Peaks of one bodypart closer than this (frame pixels, after location
        refinement) are one peak (default: :func:`~.peaks.nms_distance`, the window's
        radius in frame pixels, at least σ).

    Raises
    ------
    ValueError
        If the model has no part-affinity fields.
    """

    def __init__(
        self,
        model: Any,
        n_multi: int,
        n_unique: int = 0,
        *,
        assembly: AssemblyConfig,
        batch_size: int = 1,
        peak_threshold: float = 0.05,
        nms_radius: int | None = None,
        nms_distance: float | None = None,
    ) -> None:
        from .._tf import tensorflow as tf

        cfg = model.pose_config
        if not cfg.paf_edges:
            raise ValueError(
                "this model has no part-affinity fields: it is a single-animal model "
                "(use posekit.engine.inference.KerasPredictor)"
            )
        if n_multi + n_unique != cfg.num_keypoints:
            raise ValueError(
                f"{n_multi} + {n_unique} bodyparts but the model has "
                f"{cfg.num_keypoints} channels"
            )
        self.model = model
        self.config = cfg
        self.n_multi, self.n_unique = int(n_multi), int(n_unique)
        self.assembly = assembly
        self.batch_size = int(batch_size)
        self.peak_threshold = float(peak_threshold)
        self.nms_radius = (
            int(nms_radius)
            if nms_radius is not None
            else max(1, round(cfg.sigma * cfg.input_scale / cfg.head_stride))
        )
        self.nms_distance = (
            float(nms_distance)
            if nms_distance is not None
            else peak_distance(
                self.nms_radius,
                stride=cfg.head_stride,
                input_scale=cfg.input_scale,
                sigma=cfg.sigma,
            )
        )
        self.assembler = Assembler(
            assembly, cfg.paf_edges, n_multi, n_unique, peak_distance=self.nms_distance
        )
        self._fn = tf.function(
            lambda x: model(x, training=False), reduce_retracing=True
        )

    def maps(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the network: ``(scoremap, locref, paf)`` of a batch of frames."""
        out = self._fn(np.asarray(batch, np.float32))
        return (
            np.asarray(out["scoremap"]),
            np.asarray(out["locref"]),
            np.asarray(out["paf"]),
        )

    def _detect_batch(self, batch: np.ndarray, m: int) -> list[FrameDetections]:
        cfg = self.config
        scmap, locref, paf = self.maps(batch)
        dets = find_peaks(
            scmap[:m],
            locref[:m],
            stride=cfg.head_stride,
            locref_stdev=cfg.locref_stdev,
            input_scale=cfg.input_scale,
            threshold=self.peak_threshold,
            nms_radius=self.nms_radius,
            max_peaks=3 * self.assembly.max_individuals,
            min_distance=self.nms_distance,
        )
        for det, field in zip(dets, paf[:m], strict=True):
            paf_costs(
                det,
                field,
                cfg.paf_edges,
                stride=cfg.head_stride,
                input_scale=cfg.input_scale,
                n_samples=self.assembly.n_samples,
            )
        return dets

    def detect(
        self, frames: np.ndarray | Sequence[np.ndarray]
    ) -> list[FrameDetections]:
        """Candidates and affinities of each frame (sizes may differ).

        Parameters
        ----------
        frames
            ``(N, H, W, 3)`` or a sequence of ``(H, W, 3)`` RGB frames.

        Returns
        -------
        list of FrameDetections
            In the order of ``frames``.
        """
        if not isinstance(frames, Sequence):
            frames = list(frames)  # a sequence (images read on demand) stays one
        out: list[FrameDetections | None] = [None] * len(frames)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(tuple(np.shape(f)), []).append(i)
        bs = self.batch_size
        for idx in by_shape.values():
            for start in range(0, len(idx), bs):
                chunk = idx[start : start + bs]
                batch = np.stack([np.asarray(frames[i]) for i in chunk])
                if len(chunk) < bs:
                    pad = np.zeros((bs - len(chunk), *batch.shape[1:]), batch.dtype)
                    batch = np.concatenate([batch, pad])
                for i, det in zip(
                    chunk, self._detect_batch(batch, len(chunk)), strict=True
                ):
                    out[i] = det
        return out  # type: ignore[return-value]

    def assemble(self, detections: Sequence[FrameDetections]) -> list[Assemblies]:
        """Assemble each frame's candidates into animals."""
        return [self.assembler.assemble(d) for d in detections]

    def __call__(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[Assemblies]:
        """Animals of each frame (:meth:`detect` then :meth:`assemble`)."""
        return self.assemble(self.detect(frames))


class PartialDetections(PartialAnalysis):
    """The detections of a multi-animal analysis so far: a hidden file beside it.

    ``.<video stem><scorer>_full.partial.pickle`` holds the candidates and
    affinities of the frames detected (whole batches) and a key: the video (path,
    size, time), the model file (path, size, time), the batch size and the
    detection settings (peak threshold, NMS radius and distance, most peaks per
    bodypart, affinity samples, the frame range). A rerun with the same key
    resumes after them; any other key starts over. Written atomically, read with
    the safe unpickler (:func:`~posekit.engine.io.safe_pickle.read_pickle`),
    removed once the ``_full.pickle`` is written.

    Parameters
    ----------
    path
        The file.
    key
        What the detections were computed with (JSON-serialisable).
    every_s
        Seconds between saves (default
        :data:`~posekit.engine.inference.CHECKPOINT_EVERY_S`).
    """

    @classmethod
    def for_video(
        cls,
        full_pickle: str | os.PathLike,
        predictor: MultiAnimalPredictor,
        video: str | os.PathLike,
        *,
        model: str | os.PathLike | None = None,
        frames: tuple[int, int | None] = (0, None),
    ) -> PartialDetections:
        """Return the partial detections of ``video`` into ``full_pickle``.

        Parameters
        ----------
        full_pickle
            The ``<stem><scorer>_full.pickle`` the detections go into.
        predictor
            What detects (its settings are in the key).
        video
            The video.
        model
            The model file (snapshot) the predictor was loaded from.
        frames
            The ``(start, stop)`` range detected (default: the whole video).

        Returns
        -------
        PartialDetections
        """
        full_pickle, video = Path(full_pickle), Path(video)
        stat = video.stat()
        model_id = None
        if model is not None and Path(model).is_file():
            mstat = Path(model).stat()
            model_id = [str(Path(model).resolve()), mstat.st_size, mstat.st_mtime_ns]
        key = {
            "format": "posekit-partial-detections/1",
            "output": full_pickle.name,
            "video": str(video.resolve()),
            "video_size": stat.st_size,
            "video_mtime_ns": stat.st_mtime_ns,
            "model": model_id,
            "batch_size": predictor.batch_size,
            "peak_threshold": predictor.peak_threshold,
            "nms_radius": predictor.nms_radius,
            "nms_distance": predictor.nms_distance,
            "max_peaks": 3 * predictor.assembly.max_individuals,
            "n_samples": predictor.assembly.n_samples,
            "frames": [int(frames[0]), frames[1]],
        }
        return cls(full_pickle.with_name(f".{full_pickle.stem}.partial.pickle"), key)

    def load(self, batch_size: int) -> list[FrameDetections] | None:  # type: ignore[override]
        """Return the saved detections if their key is this one, else ``None``."""
        import pickle

        from ..io.safe_pickle import read_pickle

        try:
            data = read_pickle(self.path)
            if str(data["key"]) != self.key:
                logger.info(
                    "%s: computed with other options; starting over", self.path.name
                )
                return None
            dets = [
                FrameDetections(list(c), list(p), dict(k)) for c, p, k in data["frames"]
            ]
        except FileNotFoundError:
            return None
        except (
            OSError,
            pickle.UnpicklingError,
            KeyError,
            TypeError,
            ValueError,
        ) as err:
            logger.warning("%s is unreadable; starting over: %s", self.path, err)
            return None
        if len(dets) % int(batch_size):
            return None  # not whole batches: never written so
        self.saved_frames = len(dets)
        return dets

    def save(self, results: list[FrameDetections]) -> None:  # type: ignore[override]
        """Save the detections so far (each frame's arrays as they are)."""
        from .outputs import _dump

        frames = [(d.coordinates, d.confidence, d.costs) for d in results]
        _dump({"key": self.key, "frames": frames}, self.path)
        self.saved_frames = len(results)


def predict_video_detections(
    predictor: MultiAnimalPredictor,
    video: str | Path,
    *,
    start: int = 0,
    stop: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
    checkpoint: PartialDetections | None = None,
    stop_event: StopSignal | None = None,
) -> tuple[list[FrameDetections], dict[str, Any]]:
    """Candidates and affinities of every frame of a video.

    Parameters
    ----------
    predictor
        The predictor (its batch size sets the batching).
    video
        The video file.
    start, stop
        Frame range.
    progress
        ``True`` for a tqdm bar, or ``progress(done, total)``.
    checkpoint
        Save the detections so far into this :class:`PartialDetections` every
        :attr:`~PartialDetections.every_s` seconds and when interrupted (Ctrl-C,
        SIGTERM, an error, ``stop_event``), and resume from the one saved by an
        interrupted run (its key names the frame range). The frames after the
        resumed ones are decoded with OpenCV, which seeks exactly, in the same
        batches as an uninterrupted run: the detections are the same.
    stop_event
        A ``threading.Event`` another thread sets to stop: it is checked before
        each batch goes through the network. Once set, the whole batches so far
        are saved into ``checkpoint`` and
        :class:`~posekit.engine.inference.AnalysisStopped` is raised.

    Returns
    -------
    detections : list of FrameDetections
        One per decoded frame.
    info : dict
        ``fps``, ``n_frames``, ``frame_dimensions`` ``(height, width)``, ``seconds``,
        ``frames_per_second`` (as :func:`posekit.engine.inference.predict_video`).

    Raises
    ------
    posekit.engine.inference.AnalysisStopped
        When ``stop_event`` was set (the batch being gathered is dropped; the next
        run decodes it again).
    """
    from ..inference import (
        _report,
        _save_stopped,
        _StopAsked,
        _stopped,
        _video_bar,
        stop_asked,
        stream_info,
    )

    t0 = time.perf_counter()
    bs = predictor.batch_size
    dets: list[FrameDetections] = []
    if checkpoint is not None:
        dets = checkpoint.load(bs) or []
    resumed = len(dets)
    if resumed:
        logger.info(
            "%s: resuming at frame %d (saved by an interrupted analysis)",
            Path(video).name,
            start + resumed,
        )
    first, start = start, start + resumed
    with VideoReader(video) as reader:
        total = (stop if stop is not None else reader.metadata_frames) - start + resumed
        bar = _video_bar(progress, total, resumed, video)
        batch: list[np.ndarray] = []
        saved = time.monotonic()

        def flush() -> None:
            nonlocal saved
            if stop_asked(stop_event):  # whole batches only: this one is dropped
                raise _StopAsked
            dets.extend(_detect_batch(predictor, batch, dets))
            if (
                checkpoint is not None
                and time.monotonic() - saved >= checkpoint.every_s
            ):
                checkpoint.save(dets)
                saved = time.monotonic()
            _report(bar, progress, len(batch), len(dets), total)
            batch.clear()

        try:
            # a corrupt part of the video: no candidates in its frames, and the
            # frames after it keep their numbers (as the single-animal analysis)
            for _, frame in reader.iter_frames(
                start, stop, backend="opencv", gaps=True
            ):
                batch.append(frame)
                if len(batch) == bs:
                    flush()
            if batch:
                flush()
        except BaseException as err:
            if bar is not None:
                bar.close()  # the bar's line ends before the log line
            if checkpoint is not None and len(dets) > resumed:
                _save_stopped(checkpoint, dets, video, first)
            if isinstance(err, _StopAsked):
                raise _stopped(video, checkpoint, max(total, len(dets))) from None
            raise
        finally:
            if bar is not None:
                bar.close()
        info = stream_info(reader, len(dets), time.perf_counter() - t0)
    return dets, info


def _detect_batch(
    predictor: MultiAnimalPredictor,
    batch: Sequence[np.ndarray | None],
    before: Sequence[FrameDetections],
) -> list[FrameDetections]:
    """Detect a batch of frames; a frame that did not decode (``None``) has none.

    ``before``: the frames detected before (a batch of lost frames takes their
    channels; the first of a stream that begins in a corrupt part of the video
    takes the predictor's bodyparts).
    """
    decoded = [f for f in batch if f is not None]
    found = iter(predictor.detect(np.stack(decoded)) if decoded else [])
    out = [next(found) if f is not None else None for f in batch]
    known = [d for d in out if d is not None] or list(before[-1:])
    empty = FrameDetections.empty(
        known[0].n_channels if known else predictor.n_multi + predictor.n_unique
    )
    return [empty if d is None else d for d in out]
