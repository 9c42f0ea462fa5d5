"""Training defaults that adapt to the project: scale, crop, scale range, target radius.

posekit's first defaults were tuned on one data set (openfield: 640×480 frames, a mouse
about 110 px long). :func:`project_defaults` chooses them from what a project has
instead:

- **input scale** (DLC's ``global_scale``): frames are resized so that the animal (the
  median spread of a frame's labelled keypoints) is between :data:`ANIMAL_SIZE_RANGE`
  pixels; an animal already in that range keeps scale 1. An animal of 20 px is enlarged
  (at most 2×)
  (small parts a few pixels apart land in separate score-map cells), one of 700 px is
  shrunk (the crops show it whole, training steps are cheaper);
- **crop size**: large enough to show the animal whole with some context (1.5× its
  size) and at least half the smaller frame side, within :data:`AUTO_CROP_RANGE`
  (see :func:`posekit.engine.training.default_crop_size`), never larger than a frame,
  sides multiples of 32 (the score-map grid of a crop then lines up with the frame's);
- **scale augmentation**: at least ±25 %, widened so that the animal of every frame
  size is also shown at the size it has in the other frame sizes: a project whose
  small frames show the animal 1.3× smaller trains with zooms from about 0.7 to 1.43;
- **target radius** (Gaussian σ, and the location-refinement radius
  ``pos_dist_thresh = 2σ``): 8.5 px for a run of at least 2,000 iterations, wider for
  shorter runs (up to 12 px at 500 iterations or fewer), which converge faster with a
  wider target.
- **rotation augmentation** (applied with ``TrainConfig.adaptive_augmentation``;
  otherwise suggested and recorded only, DeepLabCut's ±25° is used): ±2 circular
  standard deviations of the directions in
  which the labelled animals lie (:func:`orientation_spread_deg`), at least ±25° and at
  most ±180°: a mouse filmed from the side keeps ±25°, animals seen from above that
  face many directions are also shown turned further than any labelled frame;
- **mirror augmentation** (likewise): half the crops mirrored when the bodyparts have left/right
  partners by name (``leftear``/``rightear``, ``wingL``/``wingR``), whose labels then
  swap (a mirrored left ear is a right ear); none without such pairs.

The learning-rate schedule scales with the budget in
:func:`posekit.engine.training.learning_rate_at` (the warm-up ends after
``warmup_iterations`` or 5 % of the budget, whichever comes first).

The values are recorded in ``pose_cfg.yaml`` (``posekit.defaults``) and in each snapshot;
a resumed run keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "ANIMAL_SIZE_RANGE",
    "AUTO_CROP_RANGE",
    "ProjectDefaults",
    "animal_sizes",
    "default_rotation",
    "expected_iterations",
    "orientation_spread_deg",
    "project_defaults",
    "default_sigma",
]

#: An animal (spread of its labelled keypoints, px) within this range keeps scale 1.
ANIMAL_SIZE_RANGE = (40.0, 320.0)
#: Bounds of the side of an automatic training crop, pixels.
AUTO_CROP_RANGE = (64, 256)
#: The narrowest scale augmentation (zoom factors).
BASE_SCALE_RANGE = (0.75, 1.25)
#: The largest input scale chosen (an enlarged frame costs its area in compute).
MAX_UPSCALE = 2.0
#: Nominal training speed used to turn a time budget into iterations (2 CPU cores).
NOMINAL_STEPS_PER_S = 4.0
#: Bounds of the rotation augmentation (± degrees).
ROTATION_RANGE_DEG = (25.0, 180.0)
#: Share of mirrored crops when the bodyparts have left/right partners.
MIRROR_PROBABILITY = 0.5


@dataclass(frozen=True)
class ProjectDefaults:
    """What :func:`project_defaults` chose, and from what.

    Attributes
    ----------
    input_scale
        Factor frames are resized by before the network (multiple of 1/8).
    crop_size
        ``(height, width)`` of the training crops (in network pixels).
    scale_range
        Zoom range of the scale augmentation (relative to ``input_scale``).
    sigma
        Gaussian score-map σ, network pixels.
    pos_dist_thresh
        Location-refinement radius, network pixels (``2 σ``).
    animal_size_px
        Median spread of the labelled keypoints of a frame (frame pixels), or ``None``
        when no frame has two labelled keypoints.
    size_ratio
        Largest ratio between the animal sizes of two frame sizes (1: one size).
    frame_sizes
        The distinct ``(height, width)`` of the frames.
    iterations
        The run's expected number of iterations (:func:`expected_iterations`).
    rotation_deg
        Rotation augmentation, ± degrees (:func:`default_rotation`).
    orientation_spread_deg
        Circular standard deviation of the labelled animals' directions, degrees
        (:func:`orientation_spread_deg`), or ``None`` when too few frames show one.
    flip_probability
        Share of mirrored crops (:data:`MIRROR_PROBABILITY` with left/right pairs).
    """

    input_scale: float
    crop_size: tuple[int, int]
    scale_range: tuple[float, float]
    sigma: float
    pos_dist_thresh: float
    animal_size_px: float | None
    size_ratio: float
    frame_sizes: tuple[tuple[int, int], ...]
    iterations: int
    # recorded since the rotation and mirror defaults: older records lack them
    rotation_deg: float = 25.0
    orientation_spread_deg: float | None = None
    flip_probability: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        d = asdict(self)
        d["crop_size"] = list(self.crop_size)
        d["scale_range"] = list(self.scale_range)
        d["frame_sizes"] = [list(s) for s in self.frame_sizes]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectDefaults:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        d["crop_size"] = tuple(d["crop_size"])
        d["scale_range"] = tuple(d["scale_range"])
        d["frame_sizes"] = tuple(tuple(s) for s in d["frame_sizes"])
        return cls(**d)


def animal_sizes(keypoints: np.ndarray) -> np.ndarray:
    """Size of the animal in each frame: the larger side of its keypoints' bounding box.

    Parameters
    ----------
    keypoints
        ``(N, K, 2)`` pixel coordinates, NaN where not labelled.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` pixels; NaN for frames with fewer than two labelled keypoints.

    Examples
    --------
    >>> animal_sizes(np.array([[[0, 0], [30, 10.0]], [[5, 5], [np.nan, np.nan]]]))
    array([30., nan])
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, K, 2). Received shape {kp.shape}")
    ok = np.isfinite(kp).all(axis=-1)
    out = np.full(len(kp), np.nan)
    for i, (pts, m) in enumerate(zip(kp, ok, strict=True)):
        if m.sum() >= 2:
            span = pts[m].max(axis=0) - pts[m].min(axis=0)
            out[i] = float(span.max())
    return out


def expected_iterations(max_iterations: int | None, time_budget_s: float | None) -> int:
    """Return the number of iterations a run is expected to reach.

    ``max_iterations``, or the time budget at :data:`NOMINAL_STEPS_PER_S`, whichever is
    smaller.

    Examples
    --------
    >>> expected_iterations(30000, 900.0), expected_iterations(None, 60.0)
    (3600, 240)
    """
    candidates = []
    if max_iterations is not None:
        candidates.append(int(max_iterations))
    if time_budget_s is not None:
        candidates.append(int(time_budget_s * NOMINAL_STEPS_PER_S))
    return max(1, min(candidates)) if candidates else 30000


def default_sigma(iterations: int) -> float:
    """Gaussian σ (network pixels) for a run of ``iterations``: wider for short runs.

    Examples
    --------
    >>> default_sigma(5000), default_sigma(1250), default_sigma(100)
    (8.5, 10.25, 12.0)
    """
    lo, hi = 500, 2000
    if iterations >= hi:
        return 8.5
    t = (hi - max(iterations, lo)) / (hi - lo)
    return round(8.5 + t * (12.0 - 8.5), 3)


def orientation_spread_deg(keypoints: np.ndarray, min_frames: int = 5) -> float | None:
    """How widely the labelled animals' directions spread: a circular std, degrees.

    For every pair of bodyparts labelled together in at least ``min_frames`` frames,
    the direction from one to the other is taken in each frame and its circular
    standard deviation ``sqrt(-2 ln R)`` computed (``R``: the length of the mean unit
    vector); the median over the pairs is returned. An animal that always faces the
    same way gives about 0°, one that faces every direction equally often gives a
    large value (``R`` near 0).

    Parameters
    ----------
    keypoints
        ``(N, K, 2)`` pixel coordinates, NaN where not labelled.
    min_frames
        Pairs labelled together in fewer frames are left out.

    Returns
    -------
    float or None
        Degrees; ``None`` when no pair is labelled together in ``min_frames`` frames.

    Examples
    --------
    >>> base = np.array([[0.0, 0.0], [40.0, 0.0], [20.0, 10.0]])
    >>> same_way = np.stack([base + 5 * i for i in range(8)])
    >>> round(orientation_spread_deg(same_way), 1)
    0.0
    >>> turns = np.deg2rad(np.arange(8) * 45.0)
    >>> rot = np.stack([[[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]] for a in turns])
    >>> orientation_spread_deg(np.einsum("nij,kj->nki", rot, base)) > 90
    True
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, K, 2). Received shape {kp.shape}")
    i, j = np.triu_indices(kp.shape[1], k=1)
    v = kp[:, j] - kp[:, i]  # (N, pairs, 2)
    length = np.hypot(v[..., 0], v[..., 1])
    ok = np.isfinite(length) & (length > 0)
    n = ok.sum(axis=0)
    keep = n >= min_frames
    if not keep.any():
        return None
    unit = np.where(ok[..., None], v / np.where(ok, length, 1.0)[..., None], 0.0)
    r = np.hypot(*unit.sum(axis=0).T)[keep] / n[keep]
    std = np.sqrt(-2.0 * np.log(np.clip(r, 1e-12, 1.0)))
    return float(np.degrees(np.median(std)))


def default_rotation(spread_deg: float | None) -> float:
    """Rotation augmentation (± degrees) for animals whose directions spread so much.

    Twice the spread (so that a frame turned within the range reaches the directions
    of about 95 % of the labelled animals), rounded to 5°, within
    :data:`ROTATION_RANGE_DEG`; ``None`` (unknown) gives the lower bound.

    Examples
    --------
    >>> default_rotation(None), default_rotation(3.0), default_rotation(43.2)
    (25.0, 25.0, 85.0)
    >>> default_rotation(120.0)
    180.0
    """
    lo, hi = ROTATION_RANGE_DEG
    if spread_deg is None or not np.isfinite(spread_deg):
        return lo
    return float(min(hi, max(lo, 5.0 * round(2.0 * float(spread_deg) / 5.0))))


def _input_scale(size: float | None) -> float:
    if size is None or not np.isfinite(size) or size <= 0:
        return 1.0
    lo, hi = ANIMAL_SIZE_RANGE
    if lo <= size <= hi:
        return 1.0
    target = lo if size < lo else hi
    s = min(MAX_UPSCALE, max(0.125, target / size))
    # multiples of 1/8; round towards the range
    k = math.ceil(s * 8) if size < lo else math.floor(s * 8)
    return max(1, min(32, k)) / 8.0


def project_defaults(
    frame_shapes: Iterable[Sequence[int]],
    keypoints: np.ndarray,
    *,
    max_iterations: int | None = None,
    time_budget_s: float | None = None,
    flip_pairs: Sequence[Sequence[str]] = (),
) -> ProjectDefaults:
    """Choose input scale, crop, augmentation and target radius for a project.

    Parameters
    ----------
    frame_shapes
        ``(height, width, ...)`` of each training frame.
    keypoints
        ``(N, K, 2)`` their labelled keypoints (NaN where not labelled).
    max_iterations, time_budget_s
        The run's budget (:func:`expected_iterations`).
    flip_pairs
        The left/right bodypart pairs the training mirrors with; none: no mirroring.

    Returns
    -------
    ProjectDefaults

    Raises
    ------
    ValueError
        No frames, or frame shapes and keypoints that do not match.

    Examples
    --------
    >>> kp = np.array([[[100, 100], [200, 160.0]]] * 2)
    >>> d = project_defaults([(480, 640, 3)] * 2, kp, max_iterations=5000)
    >>> d.input_scale, d.crop_size, d.scale_range, d.sigma
    (1.0, (256, 256), (0.75, 1.25), 8.5)
    >>> small = project_defaults([(240, 320, 3)] * 2, kp / 8, max_iterations=5000)
    >>> small.input_scale, small.crop_size
    (2.0, (256, 256))
    """
    shapes = [(int(s[0]), int(s[1])) for s in frame_shapes]
    kp = np.asarray(keypoints, dtype=np.float64)
    if not shapes:
        raise ValueError("project_defaults needs at least one frame")
    if len(shapes) != len(kp):
        raise ValueError(f"{len(shapes)} frame shapes but {len(kp)} rows of keypoints")
    sizes = animal_sizes(kp)
    finite = sizes[np.isfinite(sizes)]
    animal = float(np.median(finite)) if len(finite) else None
    scale = _input_scale(animal)

    # animal size per frame size: how far apart the frame sizes are
    distinct = sorted(set(shapes))
    medians = []
    for shape in distinct:
        group = sizes[[s == shape for s in shapes]]
        group = group[np.isfinite(group)]
        if len(group):
            medians.append(float(np.median(group)))
    ratio = max(medians) / min(medians) if len(medians) > 1 else 1.0
    if len(medians) < len(distinct) and len(distinct) > 1:  # a size without labels
        diag = [math.hypot(*s) for s in distinct]
        ratio = max(ratio, max(diag) / min(diag))
    lo, hi = BASE_SCALE_RANGE
    margin = 1.1  # a little beyond the largest gap
    scale_range = (
        round(min(lo, 1.0 / (ratio * margin)), 3),
        round(max(hi, ratio * margin), 3),
    )

    # crop: the animal with context, at least half the smaller frame side
    h = min(s[0] for s in shapes) * scale
    w = min(s[1] for s in shapes) * scale
    want = max(0.5 * min(h, w), 1.5 * (animal or 0.0) * scale)
    c_lo, c_hi = AUTO_CROP_RANGE
    side = min(c_hi, max(c_lo, 32 * math.ceil(want / 32)))
    hh, ww = int(h), int(w)  # sides: multiples of 32, the largest backbone stride
    crop = tuple(
        min(side, n - n % 32 if n >= 32 else max(8, n - n % 8)) for n in (hh, ww)
    )

    iterations = expected_iterations(max_iterations, time_budget_s)
    sigma = default_sigma(iterations)
    spread = orientation_spread_deg(kp)
    return ProjectDefaults(
        input_scale=scale,
        crop_size=crop,
        scale_range=scale_range,
        sigma=sigma,
        pos_dist_thresh=round(2.0 * sigma, 3),
        animal_size_px=None if animal is None else round(animal, 2),
        size_ratio=round(ratio, 3),
        frame_sizes=tuple(distinct),
        iterations=iterations,
        rotation_deg=default_rotation(spread),
        orientation_spread_deg=None if spread is None else round(spread, 1),
        flip_probability=MIRROR_PROBABILITY if len(flip_pairs) else 0.0,
    )
