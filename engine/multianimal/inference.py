"""Prediction with a multi-animal model: maps → candidates → affinities → animals.

:class:`MultiAnimalPredictor` runs a multi-animal :class:`~posekit.engine.models.PoseModel`
(score maps, location refinement and part-affinity fields) through a traced
``tf.function``, finds the candidates of each frame (:func:`~.peaks.find_peaks`), their
part-affinity line integrals (:func:`~.assembly.paf_costs`) and assembles them into
animals (:class:`~.assembly.Assembler`). Frames of one shape are batched together, the
last batch padded (one traced shape per frame shape), as the single-animal
:class:`~posekit.engine.inference.Predictor` does.

:func:`predict_video_detections` does this for every frame of a video, decoding in a
background thread (:meth:`~posekit.engine.video.VideoReader.iter_frames`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..video import VideoReader
from .assembly import Assembler, Assemblies, AssemblyConfig, paf_costs
from .peaks import FrameDetections, find_peaks
from .peaks import nms_distance as peak_distance

__all__ = ["MultiAnimalPredictor", "predict_video_detections"]


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


def predict_video_detections(
    predictor: MultiAnimalPredictor,
    video: str | Path,
    *,
    start: int = 0,
    stop: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
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

    Returns
    -------
    detections : list of FrameDetections
        One per decoded frame.
    info : dict
        ``fps``, ``n_frames``, ``frame_dimensions`` ``(height, width)``, ``seconds``,
        ``frames_per_second`` (as :func:`posekit.engine.inference.predict_video`).
    """
    t0 = time.perf_counter()
    dets: list[FrameDetections] = []
    with VideoReader(video) as reader:
        total = (stop if stop is not None else reader.metadata_frames) - start
        bar = None
        if progress is True:
            from .._progress import progress_bar

            bar = progress_bar(max(total, 0), unit="frames", desc=Path(video).name)
        batch: list[np.ndarray] = []

        def flush() -> None:
            dets.extend(predictor.detect(np.stack(batch)))
            if bar is not None:
                bar.update(len(batch))
            elif callable(progress):
                progress(len(dets), total)
            batch.clear()

        for _, frame in reader.iter_frames(start, stop):
            batch.append(frame)
            if len(batch) == predictor.batch_size:
                flush()
        if batch:
            flush()
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - t0
        info = {
            "fps": reader.fps,
            "n_frames": len(dets),
            "frame_dimensions": (reader.height, reader.width),
            "seconds": seconds,
            "frames_per_second": len(dets) / seconds if seconds else float("nan"),
        }
    return dets, info
