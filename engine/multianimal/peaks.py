"""Candidate keypoints of a multi-animal frame: local maxima of the score maps.

Where a single-animal model takes the best cell of each score map
(:mod:`posekit.engine.models.decoder`), a multi-animal one keeps every local maximum
above a threshold (non-maximum suppression with a square window of ``nms_radius``
cells, DeepLabCut's ``nmsradius``), each refined by its location-refinement vector.
The peaks of a whole batch are found at once (``scipy.ndimage.maximum_filter``, no
loop over pixels); of equal neighbouring values the first in row-major order is the
peak.

Cells more than the window apart can refine onto the same point (one keypoint whose
score is high on two cells, e.g. a fly's thorax giving two peaks 5 px apart): the
assembly would then give the duplicate to a second animal. So peaks of one bodypart
closer than ``min_distance`` frame pixels *after refinement* are one peak, the
highest kept (:func:`suppress_duplicates`; the predictor uses the NMS window's radius
in frame pixels, at least the label σ).

:class:`FrameDetections` holds one frame's candidates and, once
:func:`~posekit.engine.multianimal.assembly.paf_costs` has filled them, the affinities
of every pair along each part-affinity edge: what DeepLabCut stores per frame in a
video's ``_full.pickle``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter

__all__ = [
    "FrameDetections",
    "find_peaks",
    "nms_distance",
    "nms_radius_from_dlc",
    "suppress_duplicates",
    "to_frame_pixels",
    "to_map_cells",
]


@dataclass
class FrameDetections:
    """Candidate keypoints of one frame, per channel, and their pairwise affinities.

    Attributes
    ----------
    coordinates
        One ``(n_k, 2)`` array of ``x, y`` frame pixels per channel (bodypart).
    confidence
        One ``(n_k,)`` array of score-map values per channel.
    costs
        Edge index → ``{"m1": affinity (n_a, n_b), "distance": (n_a, n_b)}``
        (DeepLabCut's keys: ``m1`` is the part-affinity line integral).
    """

    coordinates: list[np.ndarray]
    confidence: list[np.ndarray]
    costs: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_channels: int) -> FrameDetections:
        """Return a frame with no candidate in any of its ``n_channels`` channels."""
        return cls(
            [np.zeros((0, 2)) for _ in range(n_channels)],
            [np.zeros(0) for _ in range(n_channels)],
        )

    @property
    def n_channels(self) -> int:
        """Number of channels (bodyparts)."""
        return len(self.coordinates)

    def to_dlc(self) -> dict[str, Any]:
        """Return the frame as DeepLabCut's ``_full.pickle`` stores it.

        Returns
        -------
        dict
            ``coordinates`` (a one-element tuple of the per-channel arrays, as DLC
            writes it), ``confidence`` (``(n_k, 1)`` arrays) and ``costs``.
        """
        return {
            "coordinates": (list(self.coordinates),),
            "confidence": [c.reshape(-1, 1) for c in self.confidence],
            "costs": self.costs,
        }

    @classmethod
    def from_dlc(cls, data: dict[str, Any]) -> FrameDetections:
        """Inverse of :meth:`to_dlc` (also reads DeepLabCut's own files)."""
        coords = data["coordinates"][0]
        conf = data["confidence"]
        return cls(
            [np.asarray(c, float).reshape(-1, 2) for c in coords],
            [np.asarray(c, float).reshape(-1) for c in conf],
            {
                int(k): {m: np.asarray(v, float) for m, v in d.items()}
                for k, d in (data.get("costs") or {}).items()
            },
        )


def to_frame_pixels(
    col: np.ndarray,
    row: np.ndarray,
    *,
    stride: float,
    input_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Map (fractional) map cells to frame pixels (cell centres, input scale undone).

    Examples
    --------
    >>> to_frame_pixels(np.array([0.0, 2.0]), np.array([1.0, 1.0]), stride=8)
    (array([ 4., 20.]), array([12., 12.]))
    """
    x = np.asarray(col, float) * stride + stride / 2.0
    y = np.asarray(row, float) * stride + stride / 2.0
    if input_scale != 1.0:
        x = (x + 0.5) / input_scale - 0.5
        y = (y + 0.5) / input_scale - 0.5
    return x, y


def to_map_cells(
    x: np.ndarray, y: np.ndarray, *, stride: float, input_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_frame_pixels`: frame pixels → fractional ``(col, row)``.

    Examples
    --------
    >>> to_map_cells(np.array([4.0, 20.0]), np.array([12.0, 12.0]), stride=8)
    (array([0., 2.]), array([1., 1.]))
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if input_scale != 1.0:
        x = (x + 0.5) * input_scale - 0.5
        y = (y + 0.5) * input_scale - 0.5
    return (x - stride / 2.0) / stride, (y - stride / 2.0) / stride


def nms_distance(
    nms_radius: int, *, stride: float, input_scale: float = 1.0, sigma: float = 0.0
) -> float:
    """Frame pixels within which two refined peaks of one bodypart are one peak.

    The NMS window's radius (``nms_radius`` cells) in frame pixels, at least the
    label σ (frame pixels): the score of one keypoint is high within about σ of it.

    Examples
    --------
    >>> nms_distance(2, stride=8, sigma=10.9)
    16.0
    >>> nms_distance(1, stride=8, sigma=10.9)
    10.9
    """
    return float(max(int(nms_radius) * float(stride) / float(input_scale), sigma))


def nms_radius_from_dlc(nmsradius: float) -> int:
    """DeepLabCut's ``nmsradius`` (the max-pool window, cells) → window radius.

    DeepLabCut's ``find_local_peak_indices_maxpool_nms`` max-pools with a
    ``nmsradius × nmsradius`` window: ``5`` is 2 cells each side.

    Examples
    --------
    >>> nms_radius_from_dlc(5.0), nms_radius_from_dlc(3), nms_radius_from_dlc(1)
    (2, 1, 1)
    """
    return max(1, int(nmsradius) // 2)


def suppress_duplicates(
    xy: np.ndarray, confidence: np.ndarray, min_distance: float
) -> np.ndarray:
    """Return the peaks kept when those closer than ``min_distance`` are merged.

    Greedy, highest score first: a peak is dropped when a kept one lies closer than
    ``min_distance`` (frame pixels). Ties keep the earlier peak.

    Parameters
    ----------
    xy
        ``(n, 2)`` peak positions of one bodypart.
    confidence
        ``(n,)`` their scores.
    min_distance
        Smallest distance between two kept peaks (``0``: keep all).

    Returns
    -------
    numpy.ndarray
        Kept indices, highest score first.

    Examples
    --------
    >>> xy = np.array([[100.0, 50.0], [104.0, 53.0], [10.0, 10.0]])
    >>> suppress_duplicates(xy, np.array([0.8, 0.82, 0.7]), 10.0).tolist()
    [1, 2]
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    conf = np.asarray(confidence, float).reshape(-1)
    order = np.argsort(-conf, kind="stable")
    if min_distance <= 0 or len(order) < 2:
        return order
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    kept: list[int] = []
    for i in order:
        if not kept or not (d[i, kept] < min_distance).any():
            kept.append(int(i))
    return np.asarray(kept, int)


def find_peaks(
    scoremap: np.ndarray,
    locref: np.ndarray | None,
    *,
    stride: float = 8.0,
    locref_stdev: float = 7.2801,
    input_scale: float = 1.0,
    threshold: float = 0.1,
    nms_radius: int = 2,
    max_peaks: int | None = None,
    min_distance: float = 0.0,
) -> list[FrameDetections]:
    """Local maxima of a batch of score maps, refined, in frame pixels.

    Parameters
    ----------
    scoremap
        ``(N, h, w, K)`` probabilities.
    locref
        ``(N, h, w, 2K)`` location refinement (units of ``locref_stdev``), or
        ``None``.
    stride, locref_stdev, input_scale
        As for :func:`posekit.engine.models.decoder.decode_pose`.
    threshold
        Smallest score kept (DeepLabCut's ``minconfidence``).
    nms_radius
        A peak is the largest value within ``nms_radius`` cells in each direction.
    max_peaks
        Keep at most this many peaks per channel, the highest first.
    min_distance
        Peaks of one channel closer than this (frame pixels, after refinement) are
        one peak, the highest kept (:func:`suppress_duplicates`; ``0``: off).

    Returns
    -------
    list of FrameDetections
        One per frame, peaks of each channel sorted by score (highest first).

    Examples
    --------
    >>> s = np.zeros((1, 4, 6, 1)); s[0, 1, 1, 0] = 0.9; s[0, 2, 4, 0] = 0.6
    >>> d = find_peaks(s, None, stride=8, nms_radius=1)[0]
    >>> d.coordinates[0].tolist(), d.confidence[0].round(3).tolist()
    ([[12.0, 12.0], [36.0, 20.0]], [0.9, 0.6])
    """
    s = np.asarray(scoremap, np.float32)
    if s.ndim != 4:
        raise ValueError(f"scoremap must be (N, h, w, K). Received shape {s.shape}")
    n, h, w, k = s.shape
    size = 2 * int(nms_radius) + 1
    # equal neighbours (a keypoint between cells) would all be maxima: the first cell
    # in row-major order wins, as with argmax
    ramp = np.arange(h * w, dtype=np.float64).reshape(1, h, w, 1) / max(h * w, 1)
    tied = s.astype(np.float64) - 1e-6 * ramp
    peak = (tied == maximum_filter(tied, size=(1, size, size, 1), mode="constant")) & (
        s >= threshold
    )
    fi, ri, ci, ki = np.nonzero(peak)
    score = s[fi, ri, ci, ki]
    col, row = ci.astype(float), ri.astype(float)
    if locref is not None:
        off = np.asarray(locref, np.float32).reshape(n, h, w, k, 2)[fi, ri, ci, ki]
        col = col + off[:, 0] * locref_stdev / stride
        row = row + off[:, 1] * locref_stdev / stride
    x, y = to_frame_pixels(col, row, stride=stride, input_scale=input_scale)
    # group by frame and channel, highest score first
    order = np.lexsort((-score, ki, fi))
    fi, ki, x, y, score = fi[order], ki[order], x[order], y[order], score[order]
    group = fi * k + ki
    counts = np.bincount(group, minlength=n * k)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = []
    for f in range(n):
        coords, confs = [], []
        for c in range(k):
            g = f * k + c
            a, b = starts[g], starts[g] + counts[g]
            xy = np.column_stack([x[a:b], y[a:b]])
            conf = score[a:b].astype(float)
            if min_distance > 0 and len(conf) > 1:
                kept = suppress_duplicates(xy, conf, min_distance)
                xy, conf = xy[kept], conf[kept]
            if max_peaks:
                xy, conf = xy[:max_peaks], conf[:max_peaks]
            coords.append(xy)
            confs.append(conf)
        out.append(FrameDetections(coords, confs))
    return out
