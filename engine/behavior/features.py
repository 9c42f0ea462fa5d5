"""Windowed features over keypoint time series, for classifiers and clustering.

:func:`compute_window_features` builds per-frame *base features* (speeds, distances,
angles, egocentric posture, social distance, distance to landmarks) and then their
centred rolling mean and standard deviation over several windows. Everything is vectorised numpy on
``(individual, feature, time)`` blocks: rolling statistics use cumulative sums (O(T) per
window, independent of the window length) and work buffers are reused, so an hour of
two-animal tracking (399 features) takes about a second on 2 cores
(``benchmarks/behavior_speed.py``).

Base-feature families are registered with :func:`register_feature`; add your own with
the same decorator.

Unique bodyparts of a multi-animal DeepLabCut file (a landmark, a feeder: the
keypoints of its ``single`` individual) are not an animal. When the poses hold a
``single`` individual beside the animals, it is left out of the individuals and its
keypoints (``attrs["unique_bodyparts"]``, else those only ``single`` has seen) out
of the animals' keypoints; the ``"landmark"`` family gives each animal the distance
of each of its keypoints to each of them, frame by frame, from ``single``'s
positions (``dist_snout_lamp``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import xarray as xr
from numpy.typing import DTypeLike

from ._utils import (
    UNIQUE_BODYPARTS,
    frame_seconds,
    position_of,
    require_dims,
    resolve_fps,
)

__all__ = [
    "FeatureContext",
    "register_feature",
    "FEATURE_FAMILIES",
    "DEFAULT_FEATURES",
    "rolling_mean_std",
    "compute_base_features",
    "compute_window_features",
    "iter_window_features",
    "feature_names",
    "FEATURE_MARGINS",
    "FEATURE_CHUNK_VALUES",
]


@dataclass
class FeatureContext:
    """What a base-feature function receives (time-last arrays for speed).

    Attributes
    ----------
    x, y : numpy.ndarray
        ``(individual, keypoint, time)`` coordinates (float64, NaN where missing).
    keypoints : list of str
        Keypoint names.
    individuals : list of str
        Individual names.
    frames_per_unit : float
        Multiply per-frame rates by this (the fps for per-second features, else 1).
    heading : tuple of int
        Indices ``(from, to)`` of the keypoints that define the body axis.
    joint_angles : list of tuple of int
        Keypoint index triplets ``(a, b, c)``; the angle is at ``b``.
    distance_pairs : list of tuple of int
        Keypoint index pairs for within-animal distances.
    cache : dict
        Scratch space shared between families (e.g. the centroid).
    landmarks : list of str
        Unique bodyparts (the ``single`` individual's keypoints: a landmark, a
        feeder), not among :attr:`keypoints`.
    lx, ly : numpy.ndarray or None
        ``(landmark, time)`` coordinates of :attr:`landmarks` (``None`` when there
        are none).
    seconds : numpy.ndarray or None
        Each frame's real time in seconds (a variable frame rate, per-second
        features): rates are differences over these times, and
        :attr:`frames_per_unit` is not used. ``None``: a constant frame rate.
    """

    x: np.ndarray
    y: np.ndarray
    keypoints: list[str]
    individuals: list[str]
    frames_per_unit: float
    heading: tuple[int, int]
    joint_angles: list[tuple[int, int, int]]
    distance_pairs: list[tuple[int, int]]
    cache: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks: list[str] = field(default_factory=list)
    lx: np.ndarray | None = None
    ly: np.ndarray | None = None
    seconds: np.ndarray | None = None

    def rate(self, values: np.ndarray) -> np.ndarray:
        """Rate of change of ``values`` along the last (time) axis, per unit.

        :func:`_gradient` times :attr:`frames_per_unit`, or over :attr:`seconds`
        (a variable frame rate) when they are known.
        """
        if self.seconds is None:
            return _gradient(values) * self.frames_per_unit
        return _gradient(values, self.seconds)

    @property
    def centroid(self) -> tuple[np.ndarray, np.ndarray]:
        """``(individual, time)`` x and y of the centroid of all keypoints.

        The behaviour session's centroid
        (:func:`~posekit.engine.behavior.kinematics.compute_centroid`, its default
        ``missing="place"``): a keypoint missing in a frame is placed from those
        seen there, at its offset from them interpolated in time, so the centroid
        neither jumps (a false speed spike) nor disappears when a keypoint drops
        out; missing only where no keypoint is seen. Placing depends on other
        frames: :func:`iter_window_features` computes it on the whole recording
        once and gives each chunk its part here.
        """
        if "cx" not in self.cache:
            self.cache["cx"], self.cache["cy"] = _placed_centroid_xy(self.x, self.y)
        return self.cache["cx"], self.cache["cy"]

    @property
    def heading_angle(self) -> np.ndarray:
        """``(individual, time)`` body-axis angle in radians."""
        if "heading" not in self.cache:
            a, b = self.heading
            self.cache["heading"] = np.arctan2(
                self.y[:, b] - self.y[:, a], self.x[:, b] - self.x[:, a]
            )
        return self.cache["heading"]

    @property
    def heading_unwrapped(self) -> np.ndarray:
        """:attr:`heading_angle` unwrapped along time (gaps unwrapped across).

        Unwrapping depends on every earlier frame: :func:`iter_window_features`
        unwraps the whole recording once and gives each chunk its part here.
        """
        if "heading_unwrapped" not in self.cache:
            self.cache["heading_unwrapped"] = _unwrap(self.heading_angle)
        return self.cache["heading_unwrapped"]


def _placed_centroid_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids ``(individual, time)`` of ``(individual, keypoint, time)`` x and y.

    Each individual's is :func:`~posekit.engine.behavior.kinematics.compute_centroid`'s
    (the same function, ``_placed_track``), so ``speed_centroid`` is the speed of the
    session's centroid. A frame with every keypoint seen has their mean, one with
    none seen none; the placing runs only on the frames with some keypoint missing
    and, for each pair of keypoints, the frames up to the nearest ones on either
    side where both are seen (its offset is interpolated between those): the whole
    recording's values in a fraction of its memory (the features are streamed
    chunk by chunk).
    """
    from .kinematics import _placed_track

    n_ind, _, n_time = x.shape
    cx, cy = np.full((n_ind, n_time), np.nan), np.full((n_ind, n_time), np.nan)
    for i in range(n_ind):
        present = ~(np.isnan(x[i]) | np.isnan(y[i]))  # (keypoint, time)
        ever = np.flatnonzero(present.any(axis=1))  # keypoints never seen: left out
        if not ever.size:
            continue
        present = present[ever]
        every = present.all(axis=0)
        sum_x, sum_y = np.zeros(n_time), np.zeros(n_time)
        for k in ever:
            sum_x += x[i, k]
            sum_y += y[i, k]
        cx[i, every] = sum_x[every] / len(ever)
        cy[i, every] = sum_y[every] / len(ever)
        some = np.flatnonzero(~every & present.any(axis=0))
        if not some.size:
            continue
        # the runs of frames from the last frame before to the first after where
        # both keypoints of a pair are seen: time spacing kept for interpolating
        starts, stops = [some], [some]
        index = np.arange(n_time)
        for a, b in combinations(range(len(ever)), 2):
            both = present[a] & present[b]
            if both.any():
                # the frame where both are seen at or before each frame, and after
                before = np.maximum.accumulate(np.where(both, index, -1))[some]
                after = np.minimum.accumulate(np.where(both, index, n_time)[::-1])
                after = after[::-1][some]
                starts.append(np.where(before >= 0, before, some))
                stops.append(np.where(after < n_time, after, some))
        edges = np.bincount(np.concatenate(starts), minlength=n_time + 1)
        edges -= np.bincount(np.concatenate(stops) + 1, minlength=n_time + 1)
        frames = np.flatnonzero(np.cumsum(edges[:-1]) > 0)
        values = np.stack([x[i][ever][:, frames], y[i][ever][:, frames]], axis=1)
        track = _placed_track(values.transpose(2, 1, 0))  # (time, space, keypoint)
        at_some = np.searchsorted(frames, some)
        cx[i, some], cy[i, some] = track[at_some, 0], track[at_some, 1]
    return cx, cy


FeatureFunction = Callable[[FeatureContext], tuple[list[str], np.ndarray]]

#: Base-feature families by name; each returns ``(names, values (individual, n, time))``.
FEATURE_FAMILIES: dict[str, FeatureFunction] = {}

#: The families computed by default (families added with :func:`register_feature`
#: are computed when named in ``features``).
DEFAULT_FEATURES: tuple[str, ...] = (
    "speed",
    "distance",
    "angle",
    "egocentric",
    "social",
    "landmark",
)

#: Frames on either side that a family's value at a frame depends on (its reach:
#: 1 for differences between neighbouring frames); ``None``: the whole recording.
#: :func:`iter_window_features` computes a family with a reach on each chunk of
#: frames with that many frames more on each side, and one without on the whole
#: recording at once.
FEATURE_MARGINS: dict[str, int | None] = {}


def register_feature(
    name: str, *, margin: int | None = None
) -> Callable[[FeatureFunction], FeatureFunction]:
    """Register a base-feature family under ``name``.

    The function takes a :class:`FeatureContext` and returns ``(names, values)`` with
    ``values`` of shape ``(individual, len(names), time)``.

    Parameters
    ----------
    name
        Family name used in ``compute_window_features(features=[...])``.
    margin
        Frames on either side of a frame that its values depend on (e.g. 1 for a
        central difference), so that :func:`iter_window_features` can compute the
        family chunk by chunk; ``None`` (the default, always correct): the family
        is computed on the whole recording at once, its values held in memory.

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> @register_feature("x_position")
    ... def _x(ctx):
    ...     return ["x"], ctx.centroid[0][:, None, :]
    >>> "x_position" in FEATURE_FAMILIES
    True
    >>> del FEATURE_FAMILIES["x_position"]
    """
    if margin is not None and (int(margin) != margin or margin < 0):
        raise ValueError(
            f"margin must be a frame count >= 0 or None; received {margin!r}"
        )

    def decorator(fn: FeatureFunction) -> FeatureFunction:
        FEATURE_FAMILIES[name] = fn
        FEATURE_MARGINS[name] = None if margin is None else int(margin)
        return fn

    return decorator


def _gradient(values: np.ndarray, seconds: np.ndarray | None = None) -> np.ndarray:
    """Central differences along the last (time) axis; NaN where ``values`` is NaN.

    At the first and last frames, first-order one-sided differences, as
    :func:`~posekit.engine.behavior.kinematics.compute_speed` takes them (movement's
    edges), so that a feature's speed is the kinematics' speed on every frame.
    ``seconds``: each frame's time (a variable frame rate), the differences then
    per second over those times.
    """
    if values.shape[-1] < 2:
        return np.full_like(values, np.nan)
    step = () if seconds is None else (seconds,)
    grad = np.gradient(values, *step, axis=-1, edge_order=1)
    grad[np.isnan(values)] = np.nan
    return grad


def _unwrap(angle: np.ndarray) -> np.ndarray:
    """Unwrap along the last axis, tolerating NaN (gaps unwrapped across)."""
    valid = ~np.isnan(angle)
    if valid.all():
        return np.unwrap(angle, axis=-1)
    idx = np.where(valid, np.arange(angle.shape[-1]), 0)
    idx = np.maximum.accumulate(idx, axis=-1)
    filled = np.take_along_axis(angle, idx, axis=-1)
    filled = np.where(np.isnan(filled), 0.0, filled)
    out = np.unwrap(filled, axis=-1)
    out[~valid] = np.nan
    return out


@register_feature("speed", margin=1)
def _speed_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Speed of every keypoint and of the centroid."""
    kp_speed = np.hypot(ctx.rate(ctx.x), ctx.rate(ctx.y))
    cx, cy = ctx.centroid
    cen_speed = np.hypot(ctx.rate(cx), ctx.rate(cy))
    names = [f"speed_{k}" for k in ctx.keypoints] + ["speed_centroid"]
    return names, np.concatenate([kp_speed, cen_speed[:, None, :]], axis=1)


@register_feature("distance", margin=0)
def _distance_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Within-animal keypoint distances."""
    if not ctx.distance_pairs:
        return [], np.empty((ctx.x.shape[0], 0, ctx.x.shape[2]))
    names = [
        f"dist_{ctx.keypoints[p]}_{ctx.keypoints[q]}" for p, q in ctx.distance_pairs
    ]
    out = np.empty((ctx.x.shape[0], len(ctx.distance_pairs), ctx.x.shape[2]))
    for j, (p, q) in enumerate(ctx.distance_pairs):  # loop over pairs, not frames
        np.hypot(ctx.x[:, p] - ctx.x[:, q], ctx.y[:, p] - ctx.y[:, q], out=out[:, j])
    return names, out


@register_feature("angle", margin=1)
def _angle_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Angular velocity of the body axis and the requested joint angles (radians)."""
    ang_vel = ctx.rate(ctx.heading_unwrapped)
    names = ["heading_angular_velocity"]
    cols = [ang_vel]
    for a, b, c in ctx.joint_angles:
        ux, uy = ctx.x[:, a] - ctx.x[:, b], ctx.y[:, a] - ctx.y[:, b]
        vx, vy = ctx.x[:, c] - ctx.x[:, b], ctx.y[:, c] - ctx.y[:, b]
        names.append(f"angle_{ctx.keypoints[a]}_{ctx.keypoints[b]}_{ctx.keypoints[c]}")
        cols.append(np.arctan2(ux * vy - uy * vx, ux * vx + uy * vy))
    return names, np.stack(cols, axis=1)


@register_feature("egocentric", margin=0)
def _egocentric_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Keypoints in the animal's frame (origin: centroid, +x: body axis)."""
    cx, cy = ctx.centroid
    rx, ry = ctx.x - cx[:, None], ctx.y - cy[:, None]
    theta = ctx.heading_angle[:, None]
    cos, sin = np.cos(theta), np.sin(theta)
    ex = cos * rx + sin * ry
    ey = cos * ry - sin * rx
    names = [f"ego_x_{k}" for k in ctx.keypoints] + [
        f"ego_y_{k}" for k in ctx.keypoints
    ]
    return names, np.concatenate([ex, ey], axis=1)


@register_feature("social", margin=1)
def _social_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Distance to the nearest other animal (centroids) and its rate of change."""
    cx, cy = ctx.centroid  # (I, T)
    n_ind, n_time = cx.shape
    if n_ind < 2:
        return [], np.empty((n_ind, 0, n_time))
    dist = np.hypot(cx[:, None] - cx[None], cy[:, None] - cy[None])  # (I, I, T)
    idx = np.arange(n_ind)
    dist[idx, idx] = np.inf
    dist[np.isnan(dist)] = np.inf
    nearest = dist.min(axis=1)
    nearest[~np.isfinite(nearest)] = np.nan
    approach = ctx.rate(nearest)
    return ["nearest_distance", "nearest_distance_rate"], np.stack(
        [nearest, approach], axis=1
    )


@register_feature("landmark", margin=0)
def _landmark_features(ctx: FeatureContext) -> tuple[list[str], np.ndarray]:
    """Distance of every keypoint to every unique bodypart (``dist_<kp>_<landmark>``)."""
    n_ind, _, n_time = ctx.x.shape
    if not ctx.landmarks or ctx.lx is None or ctx.ly is None:
        return [], np.empty((n_ind, 0, n_time))
    names = [f"dist_{k}_{m}" for m in ctx.landmarks for k in ctx.keypoints]
    dist = np.hypot(
        ctx.x[:, None] - ctx.lx[None, :, None], ctx.y[:, None] - ctx.ly[None, :, None]
    )  # (individual, landmark, keypoint, time)
    return names, dist.reshape(n_ind, len(names), n_time)


def _window_sums(cum: np.ndarray, half: int, out: np.ndarray) -> np.ndarray:
    """Centred window sums from a cumulative sum along the last axis.

    ``cum`` is ``(n, T + 1)`` with a leading 0; the window at ``t`` covers
    ``[max(t - half, 0), min(t + half + 1, T))``. Slices, not fancy indexing.
    """
    n_time = cum.shape[-1] - 1
    width = 2 * half + 1
    if n_time <= 2 * width:
        t = np.arange(n_time)
        hi = np.minimum(t + half + 1, n_time)
        lo = np.maximum(t - half, 0)
        np.subtract(cum[:, hi], cum[:, lo], out=out)
        return out
    np.subtract(
        cum[:, width:], cum[:, : n_time + 1 - width], out=out[:, half : n_time - half]
    )
    np.subtract(cum[:, half + 1 : width], cum[:, :1], out=out[:, :half])
    np.subtract(
        cum[:, n_time:],
        cum[:, n_time - 2 * half : n_time - half],
        out=out[:, n_time - half :],
    )
    return out


class _Workspace:
    """Reusable float64 scratch arrays (fresh large allocations cost page faults)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        size = shape[0] * shape[1]
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size)
        return buf[:size].reshape(shape)


def _new_state(n_series: int) -> np.ndarray:
    """Return the running state of :func:`_rolling_into` before the first frame.

    Rows: the centre (NaN until a valid value is seen), then the cumulative sums of
    the centred values and of their squares before the frame.
    """
    state = np.zeros((3, n_series))
    state[0] = np.nan
    return state


def _rolling_into(
    x: np.ndarray,
    windows: Sequence[int],
    means: Sequence[np.ndarray],
    stds: Sequence[np.ndarray],
    min_fraction: float,
    work: _Workspace | None = None,
    state: np.ndarray | None = None,
    save_at: int | None = None,
) -> None:
    """Write the rolling mean/std of the rows of ``x`` (``(n, T)`` float64) to outputs.

    One cumulative sum of the centred data, of its square and of the validity mask
    serves every window (window sums are differences of slices). Work buffers come
    from ``work`` (reused across calls) and results are written straight into
    ``means[j]`` / ``stds[j]`` (any float dtype, ``(n, T)``).

    The centre of a series is its first valid value, and the sums run on from
    ``state`` (:func:`_new_state`: the series' state at ``x``'s first frame), which
    is updated in place to the state at frame ``save_at``: a recording given in
    overlapping pieces gets bit for bit the sums, hence the statistics, of the
    whole (away from a piece's cut ends, which the caller drops).
    """
    work = _Workspace() if work is None else work
    n_series, n_time = x.shape
    state = _new_state(n_series) if state is None else state
    save_at = n_time if save_at is None else save_at
    shape, shape1 = (n_series, n_time), (n_series, n_time + 1)
    invalid = np.isnan(x)
    all_valid = not bool(invalid.any())
    centre_row = state[0]
    unknown = np.flatnonzero(np.isnan(centre_row))
    if unknown.size and n_time:
        valid = ~invalid[unknown]
        first = valid.argmax(axis=1)
        seen = valid[np.arange(unknown.size), first]
        centre_row[unknown[seen]] = x[unknown[seen], first[seen]]
    # rows not yet seen are all NaN here: any centre does
    centre = np.where(np.isnan(centre_row), 0.0, centre_row)[:, None]
    z = work.get("z", shape)
    np.subtract(x, centre, out=z)
    if not all_valid:
        np.copyto(z, 0.0, where=invalid)
    cum = work.get("cum", shape1)
    cum2 = work.get("cum2", shape1)
    for c, carry, values in ((cum, state[1], z), (cum2, state[2], None)):
        c[:, 0] = carry
        if values is None:
            np.multiply(z, z, out=c[:, 1:])
        else:
            c[:, 1:] = values
        if n_time:
            c[:, 1] += carry  # the running sum goes on from the carry, in order
            np.add.accumulate(c[:, 1:], axis=1, out=c[:, 1:])
    a = z  # reused as a work buffer
    b = work.get("b", shape)
    cum_n = inv_buf = None
    if not all_valid:
        cum_n = work.get("cum_n", shape1)
        cum_n[:, 0] = 0.0
        np.cumsum(~invalid, axis=1, out=cum_n[:, 1:])
        inv_buf = work.get("inv", shape)
    state[1] = cum[:, save_at]
    state[2] = cum2[:, save_at]
    t = np.arange(n_time)
    for w, mean_out, std_out in zip(windows, means, stds, strict=True):
        half = int(w) // 2
        width = 2 * half + 1
        threshold = max(1.0, min_fraction * width) - 1e-9
        _window_sums(cum, half, a)
        _window_sums(cum2, half, b)
        if cum_n is None or inv_buf is None:
            count = np.minimum(t + half + 1, n_time) - np.maximum(t - half, 0)
            inv: np.ndarray = (1.0 / count.astype(np.float64))[None, :]
            inv[:, count < threshold] = np.nan  # windows cut at the ends
        else:
            # too few valid frames -> inv = NaN, which makes both statistics NaN
            # without a masked assignment
            count = _window_sums(cum_n, half, inv_buf)
            too_few = count < threshold
            with np.errstate(divide="ignore"):
                inv = np.divide(1.0, count, out=inv_buf)
            np.copyto(inv, np.nan, where=too_few)
        np.multiply(a, inv, out=a)  # mean of z
        np.add(a, centre, out=mean_out, casting="same_kind")
        np.multiply(a, a, out=a)
        np.multiply(b, inv, out=b)
        np.subtract(b, a, out=b)
        np.maximum(b, 0.0, out=b)
        np.sqrt(b, out=b)
        np.copyto(std_out, b, casting="same_kind")


def rolling_mean_std(
    values: np.ndarray,
    windows: Sequence[int],
    *,
    min_fraction: float = 0.5,
    out_dtype: np.dtype | type = np.float64,
    time_last: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Centred rolling mean and standard deviation of each column, skipping NaN.

    Uses cumulative sums of the centred data (less each series' first valid value),
    so the cost does not depend on the window length. Windows are cut at the ends of
    the recording (fewer frames, which count as missing for ``min_fraction``).

    Parameters
    ----------
    values
        ``(time, n)`` array (``(n, time)`` with ``time_last``).
    windows
        Window lengths in frames (an even length ``w`` uses ``w + 1``).
    min_fraction
        A window needs at least this fraction of valid values, else NaN.
    out_dtype
        dtype of the outputs.
    time_last
        ``values`` is ``(n, time)`` and so are the outputs.

    Returns
    -------
    list of (mean, std)
        One pair of ``(time, n)`` arrays per window (population std, ``ddof=0``).

    Raises
    ------
    ValueError
        If a window is smaller than 1 or ``values`` is not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> (m, s), = rolling_mean_std(np.arange(5.0)[:, None], [3])
    >>> m.ravel()
    array([0.5, 1. , 2. , 3. , 3.5])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D; received shape {values.shape}")
    _check_windows(windows)
    x = np.ascontiguousarray(values if time_last else values.T)
    means = [np.empty(x.shape, dtype=out_dtype) for _ in windows]
    stds = [np.empty(x.shape, dtype=out_dtype) for _ in windows]
    _rolling_into(x, windows, means, stds, min_fraction)
    if time_last:
        return list(zip(means, stds, strict=True))
    return [(m.T, s.T) for m, s in zip(means, stds, strict=True)]


def _check_windows(windows: Sequence[int]) -> None:
    for w in windows:
        if int(w) != w or w < 1:
            raise ValueError(
                f"windows must be positive integers; received {list(windows)}"
            )


def _split_landmarks(
    xy: np.ndarray,
    keypoints: list[str],
    individuals: list[str],
    listed: Sequence[str] | None,
) -> tuple[np.ndarray, list[str], list[str], list[str], np.ndarray | None]:
    """Take a ``single`` individual of unique bodyparts out of the animals.

    ``xy`` is ``(individual, keypoint, space, time)``. Returns the animals' ``xy``
    without ``single`` and without the unique bodyparts, their keypoints and
    individuals, the unique bodyparts and their ``(landmark, space, time)``
    positions from ``single`` (``None`` when there are none). Poses without a
    ``single`` beside other individuals come back as they are.
    """
    if UNIQUE_BODYPARTS not in individuals or len(individuals) < 2:
        return xy, keypoints, individuals, [], None
    k = individuals.index(UNIQUE_BODYPARTS)
    named = [str(b) for b in np.atleast_1d(listed if listed is not None else [])]
    unique = [b for b in keypoints if b in named]
    if not named:  # the keypoints only ``single`` has seen (the DLC loader's rule)
        seen = np.isfinite(xy[:, :, 0]).any(axis=-1)  # (individual, keypoint)
        others = np.delete(seen, k, axis=0).any(axis=0)
        unique = [b for j, b in enumerate(keypoints) if seen[k, j] and not others[j]]
    animals = [i for i in range(len(individuals)) if i != k]
    body = [j for j, b in enumerate(keypoints) if b not in unique]
    marks = [keypoints.index(b) for b in unique]
    return (
        xy[animals][:, body],
        [keypoints[j] for j in body],
        [individuals[i] for i in animals],
        unique,
        xy[k, marks] if unique else None,
    )


def _context(
    position: xr.DataArray,
    *,
    heading: tuple[str, str] | None,
    joint_angles: Sequence[tuple[str, str, str]],
    distance_pairs: Sequence[tuple[str, str]] | None,
    fps: float | None,
    unique_bodyparts: Sequence[str] | None = None,
) -> FeatureContext:
    require_dims(position, ["time", "space", "keypoint"], "windowed features")
    pos = position
    if "individual" not in pos.dims:
        pos = pos.expand_dims(individual=["individual_0"])
    pos = pos.sel(space=["x", "y"]).transpose("individual", "keypoint", "space", "time")
    xy, keypoints, individuals, landmarks, marks = _split_landmarks(
        np.asarray(pos.values, dtype=np.float64),
        [str(k) for k in pos["keypoint"].values],
        [str(i) for i in pos["individual"].values],
        unique_bodyparts
        if unique_bodyparts is not None
        else position.attrs.get("unique_bodyparts"),
    )
    index = {k: i for i, k in enumerate(keypoints)}

    def idx(name: str) -> int:
        if name not in index:
            raise ValueError(f"unknown keypoint {name!r}; the data has {keypoints}")
        return index[name]

    if heading is None:
        if len(keypoints) < 2:
            raise ValueError("windowed features need at least two keypoints")
        head_idx = (len(keypoints) - 1, 0)  # last keypoint → first (tail → head)
    else:
        head_idx = (idx(heading[0]), idx(heading[1]))
    if distance_pairs is None:
        pairs = list(combinations(range(len(keypoints)), 2))
    else:
        pairs = [(idx(a), idx(b)) for a, b in distance_pairs]
    triplets = [(idx(a), idx(b), idx(c)) for a, b, c in joint_angles]
    rate = resolve_fps(position, fps)
    return FeatureContext(
        seconds=frame_seconds(position) if rate is not None else None,
        x=np.ascontiguousarray(xy[:, :, 0]),
        y=np.ascontiguousarray(xy[:, :, 1]),
        keypoints=keypoints,
        individuals=individuals,
        frames_per_unit=rate if rate is not None else 1.0,
        heading=head_idx,
        joint_angles=triplets,
        distance_pairs=pairs,
        landmarks=landmarks,
        lx=None if marks is None else np.ascontiguousarray(marks[:, 0]),
        ly=None if marks is None else np.ascontiguousarray(marks[:, 1]),
    )


def compute_base_features(
    position: xr.DataArray | xr.Dataset,
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    heading: tuple[str, str] | None = None,
    joint_angles: Sequence[tuple[str, str, str]] = (),
    distance_pairs: Sequence[tuple[str, str]] | None = None,
    fps: float | None = None,
) -> xr.DataArray:
    """Per-frame base features (no windowing).

    Parameters
    ----------
    position
        Poses Dataset or position with dims ``time, space, keypoint`` (and
        ``individual``).
    features
        Families from :data:`FEATURE_FAMILIES`: ``"speed"`` (every keypoint and the
        centroid), ``"distance"`` (keypoint pairs), ``"angle"`` (body-axis angular
        velocity and ``joint_angles``), ``"egocentric"`` (keypoints in the body frame),
        ``"social"`` (nearest other animal; only with two or more individuals),
        ``"landmark"`` (each keypoint's distance to each unique bodypart of a
        multi-animal DeepLabCut file's ``single`` individual, which is not an
        animal here; see the module).
    heading
        ``(from, to)`` keypoints of the body axis; default: last keypoint → first.
    joint_angles
        ``(a, b, c)`` keypoint triplets (angle at ``b``, radians).
    distance_pairs
        Keypoint pairs for ``"distance"``; default: all pairs.
    fps
        Frames per second (default: from the data); rates are per second when known.

    Returns
    -------
    xarray.DataArray
        ``base_features`` with dims ``(time, individual, feature)``.

    Raises
    ------
    ValueError
        If a family or keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.random.default_rng(0).normal(size=(20, 2, 3, 1))).position
    >>> compute_base_features(pos, features=["distance"]).sizes["feature"]
    3
    """
    names, blocks, individuals, time = _base(
        position,
        features=features,
        heading=heading,
        joint_angles=joint_angles,
        distance_pairs=distance_pairs,
        fps=fps,
    )
    n_ind, n_time = len(individuals), len(time)
    values = np.concatenate(blocks, axis=1) if blocks else np.empty((n_ind, 0, n_time))
    return xr.DataArray(
        values.transpose(2, 0, 1),
        dims=("time", "individual", "feature"),
        coords={"time": time, "individual": individuals, "feature": names},
        name="base_features",
    )


def _base(
    position: xr.DataArray | xr.Dataset,
    *,
    features: Sequence[str],
    heading: tuple[str, str] | None,
    joint_angles: Sequence[tuple[str, str, str]],
    distance_pairs: Sequence[tuple[str, str]] | None,
    fps: float | None,
) -> tuple[list[str], list[np.ndarray], list[str], np.ndarray]:
    """Compute the base features: ``(names, blocks, individuals, time)``.

    ``blocks`` holds one ``(individual, n, time)`` array per family (not concatenated,
    which would copy every value once more).
    """
    stream = _FeatureStream(
        position,
        windows=(1,),
        features=features,
        heading=heading,
        joint_angles=joint_angles,
        distance_pairs=distance_pairs,
        fps=fps,
    )
    names, blocks = stream.base(0, stream.n_time)
    return names, blocks, stream.individuals, stream.time


#: Values (frames × individuals × feature columns) per chunk of
#: :func:`iter_window_features` by default: 16 MB of float32.
FEATURE_CHUNK_VALUES = 4_000_000


class _FeatureStream:
    """Window features of a recording, computed chunk by chunk of frames.

    The positions (small next to the features: 2 numbers per keypoint and frame
    against some 7 per keypoint pair) are held whole, as are the body axis
    unwrapped over the whole recording, the centroid (a missing keypoint is placed
    from frames far away: :attr:`FeatureContext.centroid`) and the families
    without a reach (:data:`FEATURE_MARGINS`). A chunk of frames ``[s, e)`` computes the base
    features on ``[s - h - m, e + h + m)`` (``h``: half the largest window, ``m``:
    the largest reach of a family) and the rolling statistics on ``[s - h, e + h)``,
    their sums carried on from the chunk before: every value is the one the whole
    recording gives, bit for bit.
    """

    def __init__(
        self,
        position: xr.DataArray | xr.Dataset,
        *,
        windows: Sequence[int],
        features: Sequence[str],
        heading: tuple[str, str] | None,
        joint_angles: Sequence[tuple[str, str, str]],
        distance_pairs: Sequence[tuple[str, str]] | None,
        fps: float | None,
        include_base: bool = True,
        dtype: DTypeLike = np.float32,
        individuals: Sequence[str] | None = None,
    ) -> None:
        unique = (
            position.attrs.get("unique_bodyparts")
            if isinstance(position, xr.Dataset)
            else None
        )
        position = position_of(position)
        unknown = [f for f in features if f not in FEATURE_FAMILIES]
        if unknown:
            raise ValueError(
                f"Unknown feature families {unknown}; known: {sorted(FEATURE_FAMILIES)}"
            )
        self.windows = [int(w) for w in windows]
        _check_windows(self.windows)
        self.features = list(features)
        self.include_base = include_base
        self.dtype = np.dtype(dtype)
        ctx = _context(
            position,
            heading=heading,
            joint_angles=joint_angles,
            distance_pairs=distance_pairs,
            fps=fps,
            unique_bodyparts=unique,
        )
        self.ctx = ctx
        self.n_time = int(ctx.x.shape[2])
        self.individuals = ctx.individuals
        if individuals is None:
            self.selected = list(range(len(ctx.individuals)))
        else:
            missing = [i for i in individuals if i not in ctx.individuals]
            if missing:
                raise ValueError(
                    f"no individual {missing}; the data has {ctx.individuals}"
                )
            self.selected = [ctx.individuals.index(i) for i in individuals]
        self.time = (
            np.asarray(position["time"].values)
            if "time" in position.coords
            else np.arange(self.n_time)
        )
        margins = [FEATURE_MARGINS.get(f) for f in self.features]
        self.margin = max([m for m in margins if m is not None], default=0)
        self.half = max(w // 2 for w in self.windows)
        # non-local families, and the unwrapped body axis, on the whole recording
        self.whole = {
            f: FEATURE_FAMILIES[f](ctx)
            for f, m in zip(self.features, margins, strict=True)
            if m is None
        }
        self.unwrapped = ctx.heading_unwrapped
        # the centroid places a missing keypoint from frames far away: whole too
        self.centroid = ctx.centroid
        self.names = self.base(0, min(self.n_time, 3))[0]
        self.all_names = list(self.names) if include_base else []
        for w in self.windows:
            self.all_names += [f"{n}_mean{w}" for n in self.names]
            self.all_names += [f"{n}_std{w}" for n in self.names]

    @property
    def selected_individuals(self) -> list[str]:
        return [self.individuals[i] for i in self.selected]

    def base(self, a: int, b: int) -> tuple[list[str], list[np.ndarray]]:
        """Return the base features of frames ``[a, b)``: names, one block a family."""
        lo, hi = max(a - self.margin, 0), min(b + self.margin, self.n_time)
        ctx = self.ctx
        if (lo, hi) != (0, self.n_time):
            ctx = FeatureContext(
                x=np.ascontiguousarray(self.ctx.x[:, :, lo:hi]),
                y=np.ascontiguousarray(self.ctx.y[:, :, lo:hi]),
                keypoints=self.ctx.keypoints,
                individuals=self.ctx.individuals,
                frames_per_unit=self.ctx.frames_per_unit,
                heading=self.ctx.heading,
                joint_angles=self.ctx.joint_angles,
                distance_pairs=self.ctx.distance_pairs,
                cache={
                    "heading_unwrapped": self.unwrapped[:, lo:hi],
                    "cx": self.centroid[0][:, lo:hi],
                    "cy": self.centroid[1][:, lo:hi],
                },
                landmarks=self.ctx.landmarks,
                lx=None if self.ctx.lx is None else self.ctx.lx[:, lo:hi],
                ly=None if self.ctx.ly is None else self.ctx.ly[:, lo:hi],
                seconds=None if self.ctx.seconds is None else self.ctx.seconds[lo:hi],
            )
        names: list[str] = []
        blocks: list[np.ndarray] = []
        for fam in self.features:
            if fam in self.whole:
                fam_names, values = self.whole[fam]
                values = values[:, :, a:b]
            else:
                fam_names, values = FEATURE_FAMILIES[fam](ctx)
                values = values[:, :, a - lo : b - lo]
            names.extend(fam_names)
            blocks.append(values)
        return names, blocks

    def default_chunk(self) -> int:
        columns = max(len(self.selected) * len(self.all_names), 1)
        return max(256, FEATURE_CHUNK_VALUES // columns)

    def chunks(
        self, chunk_frames: int | None = None
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(s, e, values)``: frames ``[s, e)``, ``(e - s, individual, column)``."""
        n_time, half = self.n_time, self.half
        step = self.default_chunk() if chunk_frames is None else int(chunk_frames)
        if step < 1:
            raise ValueError(f"chunk_frames must be 1 or more; received {step}")
        # 3 frames at least: the one-sided differences at the ends take 3
        step = max(step, 3)
        n_ind, n_feat = len(self.selected), len(self.names)
        n_blocks = (1 if self.include_base else 0) + 2 * len(self.windows)
        col = 1 if self.include_base else 0
        states: dict[tuple[int, int], np.ndarray] = {}
        work = _Workspace()
        for s in range(0, max(n_time, 1), step):
            e = min(s + step, n_time)
            a, b = max(s - half, 0), min(e + half, n_time)
            save_at = (max(e - half, 0) if e < n_time else b) - a
            names, blocks = self.base(a, b)
            length = b - a
            # (individual, block, feature, time): every write below is a
            # contiguous row; the values are a transposed view of it
            out = np.empty((n_ind, n_blocks, n_feat, length), dtype=self.dtype)
            # ~1 M values at a time: work buffers stay small, Python overhead low
            rows_per = max(1, 1_000_000 // max(length, 1))
            start = 0
            for j, block in enumerate(blocks):
                for k, i in enumerate(self.selected):
                    state = states.get((j, k))
                    if state is None:
                        state = states[(j, k)] = _new_state(block.shape[1])
                    for b0 in range(0, block.shape[1], rows_per):
                        b1 = min(b0 + rows_per, block.shape[1])
                        f0, f1 = start + b0, start + b1
                        rows = np.ascontiguousarray(block[i, b0:b1], dtype=np.float64)
                        if self.include_base:
                            out[k, 0, f0:f1] = rows
                        _rolling_into(
                            rows,
                            self.windows,
                            [
                                out[k, col + 2 * m, f0:f1]
                                for m in range(len(self.windows))
                            ],
                            [
                                out[k, col + 2 * m + 1, f0:f1]
                                for m in range(len(self.windows))
                            ],
                            0.5,
                            work,
                            state[:, b0:b1],
                            save_at,
                        )
                start += block.shape[1]
            values = out.transpose(3, 0, 1, 2).reshape(length, n_ind, n_blocks * n_feat)
            yield s, e, values[s - a : e - a]

    def data_array(self, s: int, e: int, values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(
            values,
            dims=("time", "individual", "feature"),
            coords={
                "time": self.time[s:e],
                "individual": self.selected_individuals,
                "feature": self.all_names,
            },
            name="window_features",
            attrs={"windows": list(self.windows), "families": list(self.features)},
        )


def compute_window_features(
    position: xr.DataArray | xr.Dataset,
    *,
    windows: Sequence[int] = (5, 15, 45),
    features: Sequence[str] = DEFAULT_FEATURES,
    heading: tuple[str, str] | None = None,
    joint_angles: Sequence[tuple[str, str, str]] = (),
    distance_pairs: Sequence[tuple[str, str]] | None = None,
    fps: float | None = None,
    include_base: bool = True,
    dtype: type = np.float32,
) -> xr.DataArray:
    """Compute base features plus their rolling mean and std over several windows.

    Parameters
    ----------
    position
        Poses Dataset or position (see :func:`compute_base_features`).
    windows
        Centred window lengths in frames (odd; e.g. ``(5, 15, 45)`` at 30 fps spans
        0.17–1.5 s).
    features, heading, joint_angles, distance_pairs, fps
        As in :func:`compute_base_features`.
    include_base
        Keep the per-frame values as well as the window statistics.
    dtype
        dtype of the result (float32 halves memory for long recordings).

    Returns
    -------
    xarray.DataArray
        ``window_features`` with dims ``(time, individual, feature)``; feature names
        like ``speed_snout``, ``speed_snout_mean15``, ``speed_snout_std15``. NaN where
        too few valid frames fall in a window.

    Raises
    ------
    ValueError
        If a family, keypoint or window is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.random.default_rng(0).normal(size=(30, 2, 3, 1))).position
    >>> f = compute_window_features(pos, windows=(3, 9), features=["distance"])
    >>> f.sizes["feature"], str(f.feature.values[-1])
    (15, 'dist_keypoint_1_keypoint_2_std9')
    """
    stream = _FeatureStream(
        position,
        windows=windows,
        features=features,
        heading=heading,
        joint_angles=joint_angles,
        distance_pairs=distance_pairs,
        fps=fps,
        include_base=include_base,
        dtype=dtype,
    )
    # one chunk of every frame: the values are a view of one array
    ((s, e, values),) = stream.chunks(max(stream.n_time, 1))
    return stream.data_array(s, e, values)


def feature_names(
    position: xr.DataArray | xr.Dataset,
    *,
    windows: Sequence[int] = (5, 15, 45),
    features: Sequence[str] = DEFAULT_FEATURES,
    heading: tuple[str, str] | None = None,
    joint_angles: Sequence[tuple[str, str, str]] = (),
    distance_pairs: Sequence[tuple[str, str]] | None = None,
    include_base: bool = True,
) -> list[str]:
    """Return the feature names of :func:`compute_window_features`, computing none.

    Arguments as for :func:`compute_window_features` (a family registered without a
    ``margin`` is computed, on the whole recording).

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.zeros((30, 2, 2, 1))).position
    >>> feature_names(pos, windows=(3,), features=["distance"])
    ['dist_keypoint_0_keypoint_1', 'dist_keypoint_0_keypoint_1_mean3', \
'dist_keypoint_0_keypoint_1_std3']
    """
    return _FeatureStream(
        position,
        windows=windows,
        features=features,
        heading=heading,
        joint_angles=joint_angles,
        distance_pairs=distance_pairs,
        fps=None,
        include_base=include_base,
    ).all_names


def iter_window_features(
    position: xr.DataArray | xr.Dataset,
    *,
    windows: Sequence[int] = (5, 15, 45),
    features: Sequence[str] = DEFAULT_FEATURES,
    heading: tuple[str, str] | None = None,
    joint_angles: Sequence[tuple[str, str, str]] = (),
    distance_pairs: Sequence[tuple[str, str]] | None = None,
    fps: float | None = None,
    include_base: bool = True,
    dtype: DTypeLike = np.float32,
    individuals: Sequence[str] | None = None,
    chunk_frames: int | None = None,
) -> Iterator[xr.DataArray]:
    """:func:`compute_window_features` chunk by chunk of frames, in bounded memory.

    Each chunk is computed with the frames its windows reach on either side (half
    the largest window, plus a frame for the speeds' differences), and the rolling
    sums run on from the chunk before, so the chunks, put end to end, are the whole
    table, bit for bit, NaN gaps across their ends included. The positions and the
    unwrapped body axis are held whole (small next to the features), as are the
    values of a family registered without a ``margin`` (:func:`register_feature`).

    Parameters
    ----------
    position, windows, features, heading, joint_angles, distance_pairs, fps, \
include_base, dtype
        As in :func:`compute_window_features`.
    individuals
        The individuals whose features to give (default: all); the social features
        still see every individual.
    chunk_frames
        Frames per chunk (3 at least); default: about
        :data:`FEATURE_CHUNK_VALUES` values per chunk.

    Yields
    ------
    xarray.DataArray
        ``window_features`` of consecutive frames, dims ``(time, individual,
        feature)``.

    Raises
    ------
    ValueError
        If a family, keypoint, individual or window is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.random.default_rng(0).normal(size=(30, 2, 3, 1))).position
    >>> parts = list(iter_window_features(pos, windows=(3, 9), chunk_frames=8))
    >>> [p.sizes["time"] for p in parts]
    [8, 8, 8, 6]
    >>> whole = compute_window_features(pos, windows=(3, 9))
    >>> bool(xr.concat(parts, "time").identical(whole))
    True
    """
    stream = _FeatureStream(
        position,
        windows=windows,
        features=features,
        heading=heading,
        joint_angles=joint_angles,
        distance_pairs=distance_pairs,
        fps=fps,
        include_base=include_base,
        dtype=dtype,
        individuals=individuals,
    )
    for s, e, values in stream.chunks(chunk_frames):
        yield stream.data_array(s, e, values)
