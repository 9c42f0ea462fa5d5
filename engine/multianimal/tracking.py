"""Frame-to-frame tracking: the animals of consecutive frames linked into tracklets.

DeepLabCut's SORT-style trackers (``trackingutils.py``: ``SORTEllipse``, ``SORTBox``,
``SORTSkeleton``) in NumPy/SciPy. Each track keeps the animal's last keypoints and a
constant-velocity motion model (the velocity of its centroid, smoothed exponentially:
an alpha filter, the steady state of a Kalman filter). In each frame every track's
keypoints are predicted forward, compared with the frame's assembled animals, and
matched by the Hungarian method (``scipy.optimize.linear_sum_assignment``); a pair
less similar than ``min_similarity`` is not matched. An unmatched animal starts a new
track; a track unmatched for more than ``max_age`` frames ends.

Similarities (all in ``[0, 1]``, computed for all pairs at once):

- ``"ellipse"`` (DeepLabCut's default): the Bhattacharyya coefficient of the two
  Gaussians (mean and covariance) fitted to the keypoints: how much the ellipses
  overlap;
- ``"box"``: the intersection over union of the keypoints' bounding boxes (grown by
  ``box_margin`` of their size);
- ``"keypoints"``: an object-keypoint similarity, the mean of
  ``exp(-d² / (2 (κ s)²))`` over shared keypoints, ``s`` the track's size.

The result is a list of :class:`Tracklet`: pieces of trajectories that
:mod:`.stitching` joins into whole tracks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "TRACK_METHODS",
    "TrackingConfig",
    "Tracklet",
    "similarity",
    "track_animals",
]

#: Similarity measures, and DeepLabCut's file suffix for each (``_el``, ``_bx``, ``_sk``).
TRACK_METHODS = {"ellipse": "el", "box": "bx", "keypoints": "sk"}


@dataclass(frozen=True)
class TrackingConfig:
    """Settings of the frame-to-frame tracker (frozen, validated).

    Attributes
    ----------
    method
        ``"ellipse"``, ``"box"`` or ``"keypoints"`` (see the module docstring).
    min_similarity
        Pairs less similar are not matched.
    max_age
        Frames a track survives without a match (then it ends).
    velocity_smoothing
        Weight of the newest velocity in the smoothed one (1: no smoothing).
    box_margin
        ``"box"``: boxes grow by this fraction of their size on each side.
    kappa
        ``"keypoints"``: the spread of the similarity, a fraction of the size.

    Examples
    --------
    >>> TrackingConfig(method="box").max_age
    2
    """

    method: Literal["ellipse", "box", "keypoints"] = "ellipse"
    min_similarity: float = 0.05
    max_age: int = 2
    velocity_smoothing: float = 0.5
    box_margin: float = 0.1
    kappa: float = 0.25

    def __post_init__(self) -> None:
        if self.method not in TRACK_METHODS:
            raise ValueError(
                f"method must be one of {sorted(TRACK_METHODS)}. Received: "
                f"method={self.method!r}"
            )
        if not 0 <= float(self.min_similarity) < 1:
            raise ValueError(
                f"min_similarity must be in [0, 1). Received: {self.min_similarity!r}"
            )
        if not isinstance(self.max_age, int | np.integer) or self.max_age < 0:
            raise ValueError(
                f"max_age must be an integer >= 0. Received: {self.max_age!r}"
            )
        if not 0 < float(self.velocity_smoothing) <= 1:
            raise ValueError(
                "velocity_smoothing must be in (0, 1]. Received: "
                f"{self.velocity_smoothing!r}"
            )
        object.__setattr__(self, "max_age", int(self.max_age))

    def replace(self, **changes: Any) -> TrackingConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        return dataclasses.asdict(self)


@dataclass
class Tracklet:
    """A piece of one animal's trajectory.

    Attributes
    ----------
    id
        Number of the tracklet (in order of creation).
    frames
        ``(n,)`` frame indices, increasing.
    keypoints
        ``(n, K, 3)`` ``x, y, likelihood``.
    """

    id: int
    frames: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def start(self) -> int:
        """First frame."""
        return int(self.frames[0])

    @property
    def end(self) -> int:
        """Last frame."""
        return int(self.frames[-1])

    def centroids(self) -> np.ndarray:
        """``(n, 2)`` mean of each frame's keypoints."""
        xy = self.keypoints[..., :2]
        ok = np.isfinite(xy).all(axis=-1)
        total = np.where(ok[..., None], xy, 0.0).sum(axis=1)
        return total / np.maximum(ok.sum(axis=1), 1)[:, None]


@dataclass
class _Track:
    id: int
    last_frame: int
    keypoints: np.ndarray  # (K, 2), NaN filled from earlier frames
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    frames: list[int] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def predict(self, frame: int) -> np.ndarray:
        return self.keypoints + self.velocity * (frame - self.last_frame)


def _centroid(xy: np.ndarray) -> np.ndarray:
    """``(..., K, 2)`` → ``(..., 2)`` nan-mean (NaN without any keypoint)."""
    ok = np.isfinite(xy).all(axis=-1)
    total = np.where(ok[..., None], xy, 0.0).sum(axis=-2)
    n = ok.sum(axis=-1)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _gaussians(xy: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(..., 2)`` and covariance ``(..., 2, 2)`` of each shape's keypoints."""
    ok = np.isfinite(xy).all(axis=-1)
    mu = _centroid(xy)
    d = np.where(ok[..., None], xy - mu[..., None, :], 0.0)
    n = np.maximum(ok.sum(axis=-1), 1)[..., None, None]
    cov = np.einsum("...ki,...kj->...ij", d, d) / n
    return mu, cov + floor * np.eye(2)


def similarity(
    tracks: np.ndarray,
    detections: np.ndarray,
    config: TrackingConfig | None = None,
) -> np.ndarray:
    """Similarity of every predicted track shape to every detected animal.

    Parameters
    ----------
    tracks
        ``(T, K, 2)`` predicted keypoints (NaN where unknown).
    detections
        ``(N, K, 2)`` (or ``(N, K, 3)``) detected animals.
    config
        The method and its settings.

    Returns
    -------
    numpy.ndarray
        ``(T, N)`` in ``[0, 1]``.

    Examples
    --------
    >>> a = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 4.0]]])
    >>> s = similarity(a, np.concatenate([a, a + 100]), TrackingConfig())
    >>> s.round(3).tolist()
    [[1.0, 0.0]]
    """
    cfg = config or TrackingConfig()
    t = np.asarray(tracks, float)[..., :2]
    d = np.asarray(detections, float)[..., :2]
    if not len(t) or not len(d):
        return np.zeros((len(t), len(d)))
    if cfg.method == "box":
        return _box_iou(t, d, cfg.box_margin)
    size = np.array([_size(x) for x in t])  # (T,)
    if cfg.method == "keypoints":
        dist2 = np.sum((t[:, None] - d[None]) ** 2, axis=-1)  # (T, N, K)
        ok = np.isfinite(dist2)
        spread = (cfg.kappa * size)[:, None, None] ** 2
        e = np.where(ok, np.exp(-dist2 / (2 * np.maximum(spread, 1e-9))), 0.0)
        n = ok.sum(axis=-1)
        return np.where(n > 0, e.sum(axis=-1) / np.maximum(n, 1), 0.0)
    floor = (0.05 * np.nanmedian(size)) ** 2 if np.isfinite(size).any() else 1.0
    mt, ct = _gaussians(t, max(floor, 1e-6))
    md, cd = _gaussians(d, max(floor, 1e-6))
    cov = 0.5 * (ct[:, None] + cd[None])  # (T, N, 2, 2)
    det = cov[..., 0, 0] * cov[..., 1, 1] - cov[..., 0, 1] * cov[..., 1, 0]
    inv = (
        np.stack(
            [
                np.stack([cov[..., 1, 1], -cov[..., 0, 1]], -1),
                np.stack([-cov[..., 1, 0], cov[..., 0, 0]], -1),
            ],
            -2,
        )
        / det[..., None, None]
    )
    diff = mt[:, None] - md[None]  # (T, N, 2)
    maha = np.einsum("...i,...ij,...j->...", diff, inv, diff)
    dt = ct[..., 0, 0] * ct[..., 1, 1] - ct[..., 0, 1] ** 2
    dd = cd[..., 0, 0] * cd[..., 1, 1] - cd[..., 0, 1] ** 2
    bhatt = maha / 8 + 0.5 * np.log(det / np.sqrt(dt[:, None] * dd[None]))
    out = np.exp(-bhatt)
    return np.where(np.isfinite(out), np.clip(out, 0.0, 1.0), 0.0)


def _size(xy: np.ndarray) -> float:
    ok = np.isfinite(xy).all(axis=-1)
    if ok.sum() < 2:
        return np.nan
    return float(np.ptp(xy[ok], axis=0).max())


def _box_iou(t: np.ndarray, d: np.ndarray, margin: float) -> np.ndarray:
    def boxes(x: np.ndarray) -> np.ndarray:
        lo = np.nanmin(np.where(np.isfinite(x), x, np.inf), axis=1)
        hi = np.nanmax(np.where(np.isfinite(x), x, -np.inf), axis=1)
        grow = margin * (hi - lo).max(axis=1, keepdims=True) + 1.0
        return np.concatenate([lo - grow, hi + grow], axis=1)  # (n, 4)

    bt, bd = boxes(t), boxes(d)
    lo = np.maximum(bt[:, None, :2], bd[None, :, :2])
    hi = np.minimum(bt[:, None, 2:], bd[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_t = np.prod(bt[:, 2:] - bt[:, :2], axis=-1)
    area_d = np.prod(bd[:, 2:] - bd[:, :2], axis=-1)
    union = area_t[:, None] + area_d[None] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return np.where(np.isfinite(iou), iou, 0.0)


def track_animals(
    animals: Sequence[np.ndarray],
    config: TrackingConfig | None = None,
    *,
    frames: Sequence[int] | None = None,
) -> list[Tracklet]:
    """Link each frame's assembled animals into tracklets.

    Parameters
    ----------
    animals
        Per frame ``(n_i, K, 3)`` animals (``x, y, likelihood``; NaN where missing).
    config
        Tracker settings.
    frames
        Frame index of each entry (default ``0, 1, 2, …``).

    Returns
    -------
    list of Tracklet
        In order of creation.

    Examples
    --------
    Two animals moving right, one above the other:

    >>> a = [np.array([[[x, 0.0, 1], [x + 5, 0, 1]], [[x, 50, 1], [x + 5, 50, 1]]])
    ...      for x in range(0, 10, 2)]
    >>> [(len(t), float(t.keypoints[0, 0, 1])) for t in track_animals(a)]
    [(5, 0.0), (5, 50.0)]
    """
    cfg = config or TrackingConfig()
    frames = list(range(len(animals))) if frames is None else [int(f) for f in frames]
    active: list[_Track] = []
    done: list[_Track] = []
    next_id = 0
    alpha = float(cfg.velocity_smoothing)
    for frame, found in zip(frames, animals, strict=True):
        found = np.asarray(found, float).reshape(-1, *np.shape(found)[-2:])
        found = found[np.isfinite(found[..., :2]).all(axis=-1).any(axis=-1)]
        predicted = (
            np.stack([t.predict(frame) for t in active])
            if active
            else np.zeros((0, found.shape[1] if found.ndim == 3 else 0, 2))
        )
        sim = similarity(predicted, found, cfg)
        matched_t, matched_d = set(), set()
        if sim.size:
            rows, cols = linear_sum_assignment(sim, maximize=True)
            for r, c in zip(rows, cols, strict=True):
                if sim[r, c] > cfg.min_similarity:
                    _update(active[r], frame, found[c], alpha)
                    matched_t.add(r)
                    matched_d.add(c)
        still = []
        for i, track in enumerate(active):
            if i in matched_t or frame - track.last_frame <= cfg.max_age:
                still.append(track)
            else:
                done.append(track)
        active = still
        for c in range(len(found)):
            if c not in matched_d:
                xy = found[c, :, :2].copy()
                active.append(
                    _Track(next_id, frame, xy, frames=[frame], rows=[found[c]])
                )
                next_id += 1
    done += active
    done.sort(key=lambda t: t.id)
    return [Tracklet(t.id, np.asarray(t.frames, int), np.stack(t.rows)) for t in done]


def _update(track: _Track, frame: int, found: np.ndarray, alpha: float) -> None:
    xy = found[:, :2]
    dt = max(frame - track.last_frame, 1)
    old, new = _centroid(track.keypoints), _centroid(xy)
    if np.isfinite(old).all() and np.isfinite(new).all():
        track.velocity = alpha * (new - old) / dt + (1 - alpha) * track.velocity
    predicted = track.predict(frame)
    track.keypoints = np.where(np.isfinite(xy), xy, predicted)
    track.last_frame = frame
    track.frames.append(frame)
    track.rows.append(found)
