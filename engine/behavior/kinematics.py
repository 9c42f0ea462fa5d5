"""Kinematics of keypoint trajectories: motion, orientation, angles and distances.

Every ``compute_*`` function takes a ``position`` DataArray (dims ``time, space``, and
usually ``keypoint, individual``) and returns a new DataArray with ``.name`` set and its
units in ``attrs["units"]``. Positions are in pixels unless ``attrs["space_unit"]`` says
otherwise (see :mod:`posekit.engine.behavior.calibration`). Rates are per second when
the frame rate is known (``fps`` argument, ``attrs["fps"]`` or a time coordinate in
seconds) and per frame otherwise; pass ``per="frame"`` or ``per="second"`` to choose.
Per second, poses of a variable-frame-rate video (a ``frame_time`` coordinate, each
frame's time in seconds, which :func:`posekit.engine.io.load_poses` reads from the
analysis) take the real time between frames, not ``1 / fps``.

Angles follow image coordinates (x to the right, y **down**): ``atan2(dy, dx)`` in
radians in ``(-π, π]``, so a positive angle turns clockwise on screen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import xarray as xr

from ._utils import (
    frame_seconds,
    position_of,
    refuse_image_rows,
    require_dims,
    space_unit,
    time_first_2d,
    time_scale,
)

__all__ = [
    "compute_displacement",
    "compute_velocity",
    "compute_acceleration",
    "compute_speed",
    "compute_distance_travelled",
    "compute_path_length",
    "compute_straightness",
    "compute_centroid",
    "compute_heading",
    "compute_head_direction",
    "compute_angular_velocity",
    "compute_joint_angle",
    "compute_keypoint_distances",
    "compute_interindividual_distances",
    "EgocentricTransform",
]

Per = Literal["frame", "second"]

logger = logging.getLogger("posekit.behavior.kinematics")


def _named(da: xr.DataArray, name: str, **attrs: object) -> xr.DataArray:
    da = da.copy(deep=False)
    da.name = name
    da.attrs = {k: v for k, v in attrs.items() if v is not None}
    return da


def _keypoint_names(position: xr.DataArray) -> list[str]:
    require_dims(position, ["keypoint"], "this function")
    return [str(k) for k in position["keypoint"].values]


def _check_keypoints(position: xr.DataArray, *names: str) -> None:
    known = _keypoint_names(position)
    for name in names:
        if name not in known:
            raise ValueError(f"unknown keypoint {name!r}; the data has {known}")


def _space_xy(position: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    require_dims(position, ["space"], "this function")
    return position.sel(space="x", drop=True), position.sel(space="y", drop=True)


# ---------------------------------------------------------------- motion


#: ``np.gradient``'s ``edge_order``: first-order one-sided differences at the first
#: and last frame, as movement's ``compute_velocity`` takes them (xarray's
#: ``differentiate("time")``), so that the same names give the same numbers.
_EDGE_ORDER = 1


def compute_displacement(position: xr.DataArray) -> xr.DataArray:
    """Displacement from the previous frame: ``x[t] - x[t-1]`` (NaN at ``t = 0``).

    Parameters
    ----------
    position
        Position with a ``time`` dim.

    Returns
    -------
    xarray.DataArray
        ``displacement``, same dims as ``position``, units of position.

    Raises
    ------
    ValueError
        If ``position`` has no ``time`` dim, or its rows are labelled images (a
        label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.arange(8.0).reshape(4, 2, 1, 1)).position
    >>> compute_displacement(pos).sel(space="x").values.ravel()
    array([nan,  2.,  2.,  2.])
    """
    position = position_of(position)
    refuse_image_rows(
        position, "a displacement (distance travelled, path length, straightness)"
    )
    block, rebuild = time_first_2d(position)
    out = np.full_like(block, np.nan)
    out[1:] = block[1:] - block[:-1]
    unit = space_unit(position)
    return _named(rebuild(out), "displacement", units=unit, space_unit=unit)


def compute_velocity(
    position: xr.DataArray, *, fps: float | None = None, per: Per | None = None
) -> xr.DataArray:
    """Velocity by central differences, as movement's ``compute_velocity``.

    The velocity at frame ``t`` is ``(x[t+1] - x[t-1]) / 2`` per frame; at the first
    and last frame the one-sided difference ``x[1] - x[0]`` (``x[-1] - x[-2]``), as
    movement takes it (xarray's ``differentiate("time")``, ``edge_order=1``), so the
    two agree on every frame. It is NaN where the position is missing and wherever
    one of those frames is missing: a missing frame makes itself and its two
    neighbours NaN (movement gives the missing frame itself its neighbours'
    difference). Interpolate gaps first
    (:func:`~posekit.engine.behavior.filters.interpolate_gaps`) to keep them.
    Per second, poses with a ``frame_time`` coordinate (a variable-frame-rate video:
    each frame's time in seconds) are differentiated over those times (the same
    differences, divided by the real time between the frames, not ``2 / fps``).

    Parameters
    ----------
    position
        Position with a ``time`` dim.
    fps
        Frames per second (default: from the data).
    per
        ``"second"`` or ``"frame"`` (default: per second when the frame rate is known).

    Returns
    -------
    xarray.DataArray
        ``velocity``, same dims, ``attrs["units"]`` e.g. ``"px/s"``.

    Raises
    ------
    ValueError
        If ``per="second"`` and the frame rate is unknown, or the poses' rows are
        labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.arange(10.0).reshape(5, 2, 1, 1), fps=10).position
    >>> compute_velocity(pos).sel(space="x").values.ravel()
    array([20., 20., 20., 20., 20.])
    """
    return _time_derivative(position, fps, per, order=1, name="velocity")


def compute_acceleration(
    position: xr.DataArray, *, fps: float | None = None, per: Per | None = None
) -> xr.DataArray:
    """Acceleration: the central-difference derivative of :func:`compute_velocity`.

    The velocity (NaN as :func:`compute_velocity` says) is differentiated the same
    way (first-order differences at the ends, as movement's
    ``compute_acceleration``), so the acceleration is NaN where the velocity is NaN
    or next to it: within two frames of a missing position.

    Parameters
    ----------
    position
        Position with a ``time`` dim.
    fps, per
        As in :func:`compute_velocity`.

    Returns
    -------
    xarray.DataArray
        ``acceleration``, same dims, ``attrs["units"]`` e.g. ``"px/s^2"``.

    Raises
    ------
    ValueError
        If ``per="second"`` and the frame rate is unknown, or the poses' rows are
        labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.arange(6.0) ** 2
    >>> pos = from_numpy(np.stack([x, x], 1)[:, :, None, None]).position
    >>> compute_acceleration(pos).sel(space="x").values.ravel()
    array([1. , 1.5, 2. , 2. , 1.5, 1. ])
    """
    return _time_derivative(position, fps, per, order=2, name="acceleration")


def _time_derivative(
    position: xr.DataArray,
    fps: float | None,
    per: Per | None,
    *,
    order: int,
    name: str,
) -> xr.DataArray:
    """Take the ``order``-th central-difference derivative over ``time``.

    Units go into attrs; the result is NaN where the position is missing.
    """
    position = position_of(position)
    scale, tunit, rate = time_scale(position, fps, per)
    seconds = frame_seconds(position) if tunit == "s" else None
    block, rebuild = time_first_2d(position)
    if block.shape[0] < 2:
        out = np.full_like(block, np.nan)
    else:
        out = block
        # a variable frame rate: differences over each frame's real time
        step = () if seconds is None else (seconds,)
        for _ in range(order):
            missing = np.isnan(out)
            # np.gradient spreads NaN to the frames whose differences use a missing
            # one; a missing frame's own rate (its neighbours' difference) is masked,
            # so each derivative is that of the previous one as returned
            out = np.gradient(out, *step, axis=0, edge_order=_EDGE_ORDER)
            out[missing] = np.nan
        if seconds is None:
            out = out * scale**order
    unit = space_unit(position)
    return _named(
        rebuild(out),
        name,
        units=f"{unit}/{tunit}" + (f"^{order}" if order > 1 else ""),
        space_unit=unit,
        time_unit=tunit,
        fps=rate,
    )


def compute_speed(
    position: xr.DataArray, *, fps: float | None = None, per: Per | None = None
) -> xr.DataArray:
    """Speed: the norm of :func:`compute_velocity` over ``space``.

    Parameters
    ----------
    position
        Position with ``time`` and ``space`` dims.
    fps, per
        As in :func:`compute_velocity`.

    Returns
    -------
    xarray.DataArray
        ``speed`` without the ``space`` dim; NaN where the position is missing.

    Raises
    ------
    ValueError
        If ``per="second"`` and the frame rate is unknown, or the poses' rows are
        labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> t = np.arange(5.0)
    >>> pos = from_numpy(np.stack([3 * t, 4 * t], 1)[:, :, None, None]).position
    >>> compute_speed(pos, per="frame").values.ravel()
    array([5., 5., 5., 5., 5.])
    """
    velocity = compute_velocity(position, fps=fps, per=per)
    require_dims(velocity, ["space"], "compute_speed")
    speed = np.sqrt((velocity**2).sum("space", min_count=velocity.sizes["space"]))
    return _named(speed, "speed", **velocity.attrs)


def _step_lengths(position: xr.DataArray) -> xr.DataArray:
    disp = compute_displacement(position)
    require_dims(disp, ["space"], "distance travelled")
    return np.sqrt((disp**2).sum("space", min_count=disp.sizes["space"]))


NanPolicy = Literal["ffill", "scale", "skip"]


def _warn_mostly_missing(position: xr.DataArray, threshold: float) -> None:
    """Log a warning naming the tracks with at least ``threshold`` of frames missing."""
    if not 0 <= threshold <= 1:
        raise ValueError(
            f"nan_warn_threshold must be in [0, 1]; received {threshold!r}"
        )
    missing = position.isnull().any("space").mean("time")
    values = np.asarray(missing.values)
    tracks = []
    for index in np.ndindex(values.shape):
        if values[index] >= threshold:
            where = ", ".join(
                f"{dim}={missing[dim].values[i]}"
                for dim, i in zip(missing.dims, index, strict=True)
                if dim in missing.coords
            )
            tracks.append(f"{where or 'the track'}: {values[index]:.0%} missing")
    if tracks:
        logger.warning(
            "path length may be unreliable: %d track(s) have at least %.0f %% of "
            "frames missing (%s); interpolate gaps or choose nan_policy",
            len(tracks),
            100 * threshold,
            "; ".join(tracks[:10]) + (" …" if len(tracks) > 10 else ""),
        )


def _forward_filled(position: xr.DataArray) -> xr.DataArray:
    """Fill each missing value with the last one seen before it (leading NaN stay)."""
    block, rebuild = time_first_2d(position)
    last = np.where(np.isnan(block), 0, np.arange(block.shape[0])[:, None])
    np.maximum.accumulate(last, axis=0, out=last)
    filled = rebuild(np.take_along_axis(block, last, axis=0))
    return filled.assign_attrs(position.attrs)


def _counted_steps(position: xr.DataArray, nan_policy: NanPolicy) -> xr.DataArray:
    """Step lengths as ``nan_policy`` counts them; NaN for a step it does not observe.

    ``"ffill"`` measures the steps of the forward-filled path (NaN only before the
    first observed frame); ``"skip"`` and ``"scale"`` those of the path as it is
    (NaN into or out of a missing frame).
    """
    if nan_policy == "ffill":
        return _step_lengths(_forward_filled(position))
    if nan_policy in ("skip", "scale"):
        return _step_lengths(position)
    raise ValueError(
        f"nan_policy must be 'ffill', 'scale' or 'skip'; received {nan_policy!r}"
    )


def _observed_fraction(steps: xr.DataArray, n_steps: int) -> xr.DataArray:
    """Fraction of ``n_steps`` steps that are observed; NaN where none is."""
    observed = steps.notnull().sum("time") / max(n_steps, 1)
    return observed.where(observed > 0)


def compute_distance_travelled(
    position: xr.DataArray, *, nan_policy: NanPolicy = "ffill"
) -> xr.DataArray:
    """Cumulative path length from the first frame (0 at ``t = 0``).

    Its last value is :func:`compute_path_length` with the same ``nan_policy``.

    Parameters
    ----------
    position
        Position with ``time`` and ``space`` dims.
    nan_policy
        How steps across missing frames count, as in :func:`compute_path_length`
        (movement's ``compute_path_length``):

        - ``"ffill"`` (default, movement's default): a missing point stays where it
          was last seen, and the straight jump to where it is seen again counts, on
          the frame it reappears;
        - ``"scale"``: the observed steps, each multiplied by the track's total
          steps over its observed steps (assumes the animal moved in the gaps as it
          did elsewhere);
        - ``"skip"``: steps into or out of a missing frame are not counted.

    Returns
    -------
    xarray.DataArray
        ``distance_travelled`` without ``space``, units of position; NaN for a
        track with no observed step.

    Raises
    ------
    ValueError
        If a required dim is missing, ``nan_policy`` is unknown, or the rows are
        labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> t = np.arange(4.0)
    >>> pos = from_numpy(np.stack([3 * t, 4 * t], 1)[:, :, None, None]).position
    >>> compute_distance_travelled(pos).values.ravel()
    array([ 0.,  5., 10., 15.])
    >>> gappy = pos.where(pos.time != 2)
    >>> compute_distance_travelled(gappy).values.ravel()
    array([ 0.,  5.,  5., 15.])
    >>> compute_distance_travelled(gappy, nan_policy="skip").values.ravel()
    array([0., 5., 5., 5.])
    """
    position = position_of(position)
    require_dims(position, ["time", "space"], "compute_distance_travelled")
    steps = _counted_steps(position, nan_policy)
    out = steps.fillna(0.0).cumsum("time").where(steps.notnull().any("time"))
    if nan_policy == "scale":
        out = out / _observed_fraction(steps, position.sizes["time"] - 1)
    unit = space_unit(position)
    return _named(out, "distance_travelled", units=unit, space_unit=unit)


def compute_path_length(
    position: xr.DataArray,
    *,
    nan_policy: NanPolicy = "ffill",
    nan_warn_threshold: float = 0.2,
) -> xr.DataArray:
    """Total path length over the whole recording (sum of frame-to-frame steps).

    Parameters
    ----------
    position
        Position with ``time`` and ``space`` dims.
    nan_policy
        How steps across missing frames count, as in movement's
        ``compute_path_length``:

        - ``"ffill"`` (default, movement's default): a missing point stays where it
          was last seen, then jumps in a straight line to where it is seen again
          (the jump counts; underestimates a path with long gaps);
        - ``"scale"``: the sum of the steps between two observed frames, divided by
          the fraction of steps that are observed (assumes the animal moved in the
          gaps as it did elsewhere);
        - ``"skip"``: steps into or out of a missing frame are not counted (the
          shortest).

        :func:`compute_distance_travelled` and :func:`compute_straightness` take the
        same policies.
    nan_warn_threshold
        Log a warning naming every track (keypoint, individual) with at least this
        fraction of frames missing (movement's default 0.2).

    Returns
    -------
    xarray.DataArray
        ``path_length`` without ``time`` and ``space``; NaN for a track with no
        observed step (e.g. one never seen), not 0.

    Raises
    ------
    ValueError
        If a required dim is missing, ``nan_policy`` is unknown, the threshold is
        outside ``[0, 1]``, or the rows are labelled images (a label file).

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> t = np.arange(5.0)
    >>> pos = from_numpy(np.stack([3 * t, 4 * t], 1)[:, :, None, None]).position
    >>> float(compute_path_length(pos).squeeze())
    20.0
    >>> gappy = pos.where(pos.time != 2)
    >>> [float(compute_path_length(gappy, nan_policy=p, nan_warn_threshold=1).squeeze())
    ...  for p in ("ffill", "scale", "skip")]
    [20.0, 20.0, 10.0]
    """
    position = position_of(position)
    require_dims(position, ["time", "space"], "compute_path_length")
    steps = _counted_steps(position, nan_policy)
    _warn_mostly_missing(position, nan_warn_threshold)
    out = steps.sum("time", skipna=True, min_count=1)
    if nan_policy == "scale":
        out = out / _observed_fraction(steps, position.sizes["time"] - 1)
    unit = space_unit(position)
    return _named(out, "path_length", units=unit, space_unit=unit)


def compute_straightness(
    position: xr.DataArray,
    *,
    window: int | None = None,
    nan_policy: NanPolicy = "ffill",
) -> xr.DataArray:
    """Path straightness: net displacement divided by path length (1 = straight line).

    Parameters
    ----------
    position
        Position with ``time`` and ``space`` dims (e.g. one keypoint or the centroid).
    window
        ``None``: one value for the whole track (from its first to its last
        observed point). An integer: straightness over the ``window`` frames ending
        at each frame (NaN for the first frames, and where either end of the window
        is missing).
    nan_policy
        How steps across missing frames count in the path length, as in
        :func:`compute_path_length`: ``"ffill"`` (default, movement's default: the
        straight jump across a gap counts), ``"scale"`` (the observed steps scaled
        up to all steps, over the track or the window) or ``"skip"`` (steps next to
        a gap are not counted).

    Returns
    -------
    xarray.DataArray
        ``straightness`` (dimensionless), NaN where the path length is 0 or unknown.

    Raises
    ------
    ValueError
        If ``window`` is smaller than 2, ``nan_policy`` is unknown, or the rows
        are labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([0.0, 1.0, 2.0, 1.0])
    >>> pos = from_numpy(np.stack([x, 0 * x], 1)[:, :, None, None]).position
    >>> round(float(compute_straightness(pos).squeeze()), 3)
    0.333
    >>> gappy = pos.where(pos.time != 1)  # 0, -, 2, 1: the jump 0 -> 2 counts
    >>> [round(float(compute_straightness(gappy, nan_policy=p).squeeze()), 3)
    ...  for p in ("ffill", "skip")]
    [0.333, 1.0]
    """
    position = position_of(position)
    require_dims(position, ["time", "space"], "compute_straightness")
    counted = _counted_steps(position, nan_policy)
    steps = counted.fillna(0.0)
    if window is None:
        valid = position.notnull().all("space")
        n = position.sizes["time"]
        first = position.isel(time=valid.argmax("time"))
        last = position.isel(
            time=n - 1 - valid.isel(time=slice(None, None, -1)).argmax("time")
        )
        net = np.sqrt(((last - first) ** 2).sum("space", min_count=1))
        length = steps.sum("time")
        if nan_policy == "scale":
            length = length / _observed_fraction(counted, n - 1)
    else:
        if int(window) != window or window < 2:
            raise ValueError(f"window must be an integer >= 2; received {window!r}")
        w = int(window)
        net = np.sqrt(
            ((position - position.shift(time=w - 1)) ** 2).sum("space", min_count=1)
        )
        length = steps.rolling(time=w - 1).sum()
        if nan_policy == "scale":
            observed = counted.notnull().astype(float).rolling(time=w - 1).sum()
            length = length / (observed / (w - 1)).where(observed > 0)
    out = (net / length.where(length > 0)).clip(max=1.0)
    return _named(out, "straightness", units="1")


# ---------------------------------------------------------------- orientation


#: What a centroid does in a frame where some of its keypoints are missing
#: (:func:`compute_centroid`).
CentroidMissing = Literal["place", "drop", "mean"]

_CENTROID_MISSING = ("place", "drop", "mean")


def _missing_rule(missing: str, skipna: bool | None) -> str:
    """Return the centroid's rule for missing keypoints (``skipna``: older spelling)."""
    if skipna is not None:
        return "mean" if skipna else "drop"
    if missing not in _CENTROID_MISSING:
        raise ValueError(
            f"missing must be one of {list(_CENTROID_MISSING)}; received {missing!r}"
        )
    return missing


def _placed_track(values: np.ndarray) -> np.ndarray:
    """Centroid ``(time, space)`` of one animal's ``(time, space, keypoint)`` values.

    A keypoint missing in a frame is placed from each keypoint seen there, at its
    offset from it interpolated in time between the frames where both are seen
    (held before the first and after the last of them), and those placements are
    averaged. Keypoints never seen are left out; a keypoint that shares no frame
    with any keypoint seen in a frame is left out of that frame's mean. Frames with
    no keypoint seen have no centroid.
    """
    n_time, n_space = values.shape[:2]
    # keypoint-major, contiguous: (keypoint, space, time) and (keypoint, time)
    coords = np.ascontiguousarray(values.transpose(2, 1, 0))
    present = np.isfinite(coords).all(axis=1)
    coords = coords[present.any(axis=1)]
    present = present[present.any(axis=1)]
    out = np.full((n_time, n_space), np.nan)
    if not present.size:
        return out
    total = np.where(present[:, None, :], coords, 0.0).sum(axis=0)  # (space, time)
    count = present.sum(axis=0).astype(float)
    if present.all():
        return (total / count).T
    placed = np.zeros(coords.shape)
    placements = np.zeros(present.shape)
    for a, b in combinations(range(len(coords)), 2):
        only_a, only_b = present[a] & ~present[b], present[b] & ~present[a]
        at = np.flatnonzero(only_a | only_b)  # frames to place b from a, or a from b
        both = np.flatnonzero(present[a] & present[b])
        if not at.size or not both.size:
            continue
        from_a, from_b = at[only_a[at]], at[only_b[at]]
        for s in range(n_space):
            # a - b, interpolated between the frames where both are seen
            step = np.interp(at, both, coords[a, s, both] - coords[b, s, both])
            placed[b, s, from_a] += coords[a, s, from_a] - step[only_a[at]]
            placed[a, s, from_b] += coords[b, s, from_b] + step[only_b[at]]
        placements[b, from_a] += 1
        placements[a, from_b] += 1
    placeable = ~present & (placements > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = placed / placements[:, None, :]
    total += np.where(placeable[:, None, :], estimate, 0.0).sum(axis=0)
    count += placeable.sum(axis=0)
    seen = present.any(axis=0)
    out[seen] = (total[:, seen] / count[seen]).T
    return out


def _placed_centroid(position: xr.DataArray) -> xr.DataArray:
    """:func:`_placed_track` over every track (individual, …) of ``position``."""
    other = [d for d in position.dims if d not in ("time", "space", "keypoint")]
    block = position.transpose("time", "space", "keypoint", *other)
    template = block.isel(keypoint=0, drop=True)
    values = np.asarray(block.values, dtype=float)
    flat = values.reshape(values.shape[:3] + (-1,))
    out = np.stack([_placed_track(flat[..., i]) for i in range(flat.shape[-1])], -1)
    result = template.copy(data=out.reshape(template.shape))
    return result.transpose(*[d for d in position.dims if d != "keypoint"])


def compute_centroid(
    position: xr.DataArray,
    keypoints: Sequence[str] | None = None,
    *,
    missing: CentroidMissing = "place",
    skipna: bool | None = None,
) -> xr.DataArray:
    """Mean position of ``keypoints`` (all by default).

    Parameters
    ----------
    position
        Position with a ``keypoint`` dim (and ``time`` for ``missing="place"``).
    keypoints
        Keypoints to average.
    missing
        What the centroid does in a frame where some of the keypoints are missing
        (e.g. below the likelihood cut-off):

        - ``"place"`` (default): each missing keypoint is placed from the keypoints
          seen in that frame, at its offset from each of them interpolated in time
          between the frames where both are seen, so the centroid neither jumps
          nor disappears when a keypoint drops out. It is missing only in the
          frames where no keypoint is seen; keypoints never seen are left out.
          Without a ``time`` dim there is nothing to interpolate: ``"drop"``.
        - ``"drop"``: the centroid is missing in the frame.
        - ``"mean"``: the mean of the keypoints seen. The centroid then jumps
          towards them when one drops out (a still animal whose nose flickers
          below the cut-off seems to move): use it only for keypoints that go
          missing together.
    skipna
        The older spelling of ``missing``: ``True`` is ``"mean"``, ``False``
        ``"drop"`` (``None``: ``missing`` decides).

    Returns
    -------
    xarray.DataArray
        ``centroid`` without the ``keypoint`` dim.

    Raises
    ------
    ValueError
        If a keypoint is unknown or ``missing`` is not one of the above.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.array([[[0.0, 2.0], [0.0, 4.0]]])[..., None]).position
    >>> compute_centroid(pos).values.ravel()
    array([1., 2.])

    A still animal whose second keypoint drops out in the middle frame:

    >>> still = from_numpy(np.repeat(np.array([[[0.0, 2.0], [0.0, 4.0]]]), 3, 0)[..., None])
    >>> gappy = still.position.where((still.time != 1) | (still.keypoint != "keypoint_1"))
    >>> compute_centroid(gappy).sel(space="x").values.ravel()
    array([1., 1., 1.])
    >>> compute_centroid(gappy, missing="drop").sel(space="x").values.ravel()
    array([ 1., nan,  1.])
    >>> compute_centroid(gappy, missing="mean").sel(space="x").values.ravel()
    array([1., 0., 1.])
    """
    rule = _missing_rule(missing, skipna)
    position = position_of(position)
    if keypoints is not None:
        _check_keypoints(position, *keypoints)
        position = position.sel(keypoint=list(keypoints))
    if rule == "place" and "time" in position.dims and "keypoint" in position.dims:
        out = _placed_centroid(position)
    else:
        out = position.mean("keypoint", skipna=rule == "mean")
    unit = space_unit(position)
    return _named(out, "centroid", units=unit, space_unit=unit)


def _angle_attrs(degrees: bool) -> dict[str, str]:
    return {"units": "deg" if degrees else "rad"}


def compute_heading(
    position: xr.DataArray, origin: str, target: str, *, degrees: bool = False
) -> xr.DataArray:
    """Direction of the vector from keypoint ``origin`` to keypoint ``target``.

    For the body axis use e.g. ``origin="tailbase", target="neck"``.

    Parameters
    ----------
    position
        Position with ``keypoint`` and ``space`` dims.
    origin, target
        Keypoint names.
    degrees
        Degrees instead of radians.

    Returns
    -------
    xarray.DataArray
        ``heading`` in ``(-π, π]`` (image coordinates, clockwise positive), without
        ``keypoint`` and ``space``.

    Raises
    ------
    ValueError
        If a keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.array([[[0.0, 0.0], [0.0, 1.0]]])[..., None],
    ...                  keypoint_names=["tail", "head"]).position
    >>> float(compute_heading(pos, "tail", "head", degrees=True).squeeze())
    90.0
    """
    position = position_of(position)
    _check_keypoints(position, origin, target)
    vec = position.sel(keypoint=target, drop=True) - position.sel(
        keypoint=origin, drop=True
    )
    dx, dy = _space_xy(vec)
    angle = np.arctan2(dy, dx)
    if degrees:
        angle = np.rad2deg(angle)
    return _named(angle, "heading", **_angle_attrs(degrees))


def compute_head_direction(
    position: xr.DataArray, left: str, right: str, *, degrees: bool = False
) -> xr.DataArray:
    """Forward direction of the head from a left/right keypoint pair (e.g. the ears).

    The forward vector is perpendicular to the right→left vector, pointing to the
    animal's front for a top-down view in image coordinates (y down).

    Parameters
    ----------
    position
        Position with ``keypoint`` and ``space`` dims.
    left, right
        The animal's left and right keypoints.
    degrees
        Degrees instead of radians.

    Returns
    -------
    xarray.DataArray
        ``head_direction`` in ``(-π, π]``, without ``keypoint`` and ``space``.

    Raises
    ------
    ValueError
        If a keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> # facing +x (right on screen): the left ear is above (smaller y)
    >>> pos = from_numpy(np.array([[[0.0, 0.0], [-1.0, 1.0]]])[..., None],
    ...                  keypoint_names=["leftear", "rightear"]).position
    >>> float(compute_head_direction(pos, "leftear", "rightear").squeeze())
    0.0
    """
    position = position_of(position)
    _check_keypoints(position, left, right)
    vec = position.sel(keypoint=left, drop=True) - position.sel(
        keypoint=right, drop=True
    )
    lx, ly = _space_xy(vec)
    angle = np.arctan2(lx, -ly)  # forward = (-ly, lx)
    if degrees:
        angle = np.rad2deg(angle)
    return _named(angle, "head_direction", **_angle_attrs(degrees))


def compute_angular_velocity(
    angle: xr.DataArray,
    *,
    fps: float | None = None,
    per: Per | None = None,
    degrees: bool | None = None,
) -> xr.DataArray:
    """Rate of change of an angle (unwrapped, central differences).

    Parameters
    ----------
    angle
        Angle with a ``time`` dim (radians, or degrees if ``attrs["units"] == "deg"``).
    fps, per
        As in :func:`compute_velocity`.
    degrees
        Whether ``angle`` is in degrees (default: from ``attrs["units"]``).

    Returns
    -------
    xarray.DataArray
        ``angular_velocity`` in ``rad/s`` (or ``deg/s``, ``rad/frame``...).

    Raises
    ------
    ValueError
        If ``per="second"`` and the frame rate is unknown, or the angle's rows are
        labelled images (a label file), not consecutive frames.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> a = xr.DataArray(np.angle(np.exp(0.5j * np.arange(20))), dims="time")
    >>> np.allclose(compute_angular_velocity(a, per="frame"), 0.5)
    True
    """
    if degrees is None:
        degrees = angle.attrs.get("units") == "deg"
    refuse_image_rows(angle, "an angular velocity (a turning rate)")
    scale, tunit, rate = time_scale(angle, fps, per)
    seconds = frame_seconds(angle) if tunit == "s" else None
    block, rebuild = time_first_2d(angle)
    rad = np.deg2rad(block) if degrees else block
    unwrapped = _nan_unwrap(rad)
    if block.shape[0] < 2:
        rate_block = np.full_like(block, np.nan)
    elif seconds is not None:  # a variable frame rate: each frame's real time
        rate_block = np.gradient(unwrapped, seconds, axis=0)
        rate_block[np.isnan(block)] = np.nan
    else:
        rate_block = np.gradient(unwrapped, axis=0) * scale
        rate_block[np.isnan(block)] = np.nan
    if degrees:
        rate_block = np.rad2deg(rate_block)
    unit = "deg" if degrees else "rad"
    return _named(
        rebuild(rate_block),
        "angular_velocity",
        units=f"{unit}/{tunit}",
        time_unit=tunit,
        fps=rate,
    )


def _nan_unwrap(block: np.ndarray) -> np.ndarray:
    """``np.unwrap`` along time that tolerates NaN (gaps are unwrapped across)."""
    valid = ~np.isnan(block)
    if valid.all():
        return np.unwrap(block, axis=0)
    out = np.full_like(block, np.nan)
    # forward-fill to unwrap across gaps, then restore NaN
    idx = np.where(valid, np.arange(block.shape[0])[:, None], 0)
    idx = np.maximum.accumulate(idx, axis=0)
    filled = np.take_along_axis(block, idx, axis=0)
    filled = np.where(np.isnan(filled), 0.0, filled)
    unwrapped = np.unwrap(filled, axis=0)
    out[valid] = unwrapped[valid]
    return out


def compute_joint_angle(
    position: xr.DataArray,
    a: str,
    b: str,
    c: str,
    *,
    signed: bool = False,
    degrees: bool = False,
) -> xr.DataArray:
    """Angle at keypoint ``b`` between the segments ``b→a`` and ``b→c``.

    Parameters
    ----------
    position
        Position with ``keypoint`` and ``space`` dims.
    a, b, c
        Keypoint names; ``b`` is the joint.
    signed
        ``False``: the interior angle in ``[0, π]``. ``True``: the rotation from
        ``b→a`` to ``b→c`` in ``(-π, π]`` (clockwise positive on screen).
    degrees
        Degrees instead of radians.

    Returns
    -------
    xarray.DataArray
        ``joint_angle`` without ``keypoint`` and ``space``.

    Raises
    ------
    ValueError
        If a keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pts = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])[..., None]
    >>> pos = from_numpy(pts, keypoint_names=["a", "b", "c"]).position
    >>> float(compute_joint_angle(pos, "a", "b", "c", degrees=True).squeeze())
    90.0
    """
    position = position_of(position)
    _check_keypoints(position, a, b, c)
    pb = position.sel(keypoint=b, drop=True)
    ux, uy = _space_xy(position.sel(keypoint=a, drop=True) - pb)
    vx, vy = _space_xy(position.sel(keypoint=c, drop=True) - pb)
    cross = ux * vy - uy * vx
    dot = ux * vx + uy * vy
    angle = np.arctan2(cross, dot)
    if not signed:
        angle = np.abs(angle)
    if degrees:
        angle = np.rad2deg(angle)
    out = _named(angle, "joint_angle", **_angle_attrs(degrees))
    out.attrs["keypoints"] = f"{a}-{b}-{c}"
    return out


# ---------------------------------------------------------------- distances


def compute_keypoint_distances(
    position: xr.DataArray, pairs: Sequence[tuple[str, str]] | None = None
) -> xr.DataArray:
    """Distances between keypoints of the same individual.

    Parameters
    ----------
    position
        Position with ``keypoint`` and ``space`` dims.
    pairs
        Keypoint pairs; default: every pair.

    Returns
    -------
    xarray.DataArray
        ``keypoint_distance`` with the ``keypoint`` and ``space`` dims replaced by
        ``pair`` (labels ``"a-b"``).

    Raises
    ------
    ValueError
        If a keypoint is unknown or fewer than two keypoints are given.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pts = np.array([[[0.0, 3.0], [0.0, 4.0]]])[..., None]
    >>> d = compute_keypoint_distances(from_numpy(pts, keypoint_names=["a", "b"]).position)
    >>> d.sel(pair="a-b").values.ravel()
    array([5.])
    """
    position = position_of(position)
    names = _keypoint_names(position)
    if pairs is None:
        if len(names) < 2:
            raise ValueError("compute_keypoint_distances needs at least two keypoints")
        pairs = list(combinations(names, 2))
    pairs = [(str(p), str(q)) for p, q in pairs]
    for p, q in pairs:
        _check_keypoints(position, p, q)
    first = position.sel(keypoint=[p for p, _ in pairs])
    second = position.sel(keypoint=[q for _, q in pairs])
    labels = [f"{p}-{q}" for p, q in pairs]
    first = first.assign_coords(keypoint=labels).rename(keypoint="pair")
    second = second.assign_coords(keypoint=labels).rename(keypoint="pair")
    dist = np.sqrt(((first - second) ** 2).sum("space", min_count=1))
    unit = space_unit(position)
    return _named(dist, "keypoint_distance", units=unit, space_unit=unit)


def compute_interindividual_distances(
    position: xr.DataArray,
    keypoint: str | None = None,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    missing: CentroidMissing = "place",
    skipna: bool | None = None,
) -> xr.DataArray:
    """Distances between individuals, at one keypoint or between centroids.

    Parameters
    ----------
    position
        Position with ``individual`` and ``space`` dims.
    keypoint
        Keypoint to compare (e.g. ``"snout"``); ``None`` uses each animal's centroid.
    pairs
        Individual pairs; default: every pair.
    missing, skipna
        For centroids, as in :func:`compute_centroid`: ``"place"`` (default) places
        the keypoints missing in a frame from those seen there, ``"drop"`` leaves the
        centroid, and so the distance, missing in the frames where any keypoint is
        missing, ``"mean"`` (``skipna=True``) averages the keypoints present (a
        centroid that jumps).

    Returns
    -------
    xarray.DataArray
        ``interindividual_distance`` with dims ``(time, pair)`` (labels ``"a-b"``).

    Raises
    ------
    ValueError
        If there are fewer than two individuals or a name is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pts = np.zeros((1, 2, 1, 2)); pts[0, 0, 0, 1] = 7.0
    >>> d = compute_interindividual_distances(from_numpy(pts).position)
    >>> d.values.ravel()
    array([7.])
    """
    position = position_of(position)
    require_dims(position, ["individual", "space"], "compute_interindividual_distances")
    if "keypoint" in position.dims:
        if keypoint is None:
            point = compute_centroid(position, missing=missing, skipna=skipna)
        else:
            _check_keypoints(position, keypoint)
            point = position.sel(keypoint=keypoint, drop=True)
    else:
        point = position
    inds = [str(i) for i in position["individual"].values]
    if pairs is None:
        if len(inds) < 2:
            raise ValueError(
                f"compute_interindividual_distances needs two or more individuals; "
                f"the data has {inds}"
            )
        pairs = list(combinations(inds, 2))
    for p, q in pairs:
        for name in (p, q):
            if name not in inds:
                raise ValueError(f"unknown individual {name!r}; the data has {inds}")
    labels = [f"{p}-{q}" for p, q in pairs]
    first = point.sel(individual=[p for p, _ in pairs])
    second = point.sel(individual=[q for _, q in pairs])
    first = first.assign_coords(individual=labels).rename(individual="pair")
    second = second.assign_coords(individual=labels).rename(individual="pair")
    dist = np.sqrt(((first - second) ** 2).sum("space", min_count=1))
    unit = space_unit(position)
    out = _named(dist, "interindividual_distance", units=unit, space_unit=unit)
    out.attrs["keypoint"] = keypoint if keypoint is not None else "centroid"
    return out


# ---------------------------------------------------------------- egocentric frame


@dataclass(frozen=True)
class EgocentricTransform:
    """Per-frame rigid transform into an animal's own frame, and back.

    Egocentric coordinates put ``origin`` at (0, 0) and the heading along +x:
    ``ego = R(-θ) · (p - origin)``; the inverse is ``p = R(θ) · ego + origin``.

    Attributes
    ----------
    origin : xarray.DataArray
        Origin with dims ``(time, space, individual)`` (no ``keypoint``).
    angle : xarray.DataArray
        Heading θ in radians with dims ``(time, individual)``.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pts = np.array([[[5.0, 5.0], [5.0, 7.0]]])[..., None]
    >>> pos = from_numpy(pts, keypoint_names=["tail", "head"]).position
    >>> tf = EgocentricTransform.from_keypoints(pos, origin="tail", heading=("tail", "head"))
    >>> tf.transform(pos).sel(keypoint="head").values.ravel().round(6)
    array([2., 0.])
    """

    origin: xr.DataArray
    angle: xr.DataArray

    @classmethod
    def from_keypoints(
        cls,
        position: xr.DataArray,
        *,
        origin: str | Sequence[str] | None = None,
        heading: tuple[str, str],
    ) -> EgocentricTransform:
        """Build the transform from keypoints.

        Parameters
        ----------
        position
            Position with ``keypoint`` and ``space`` dims.
        origin
            Keypoint (or keypoints, averaged) at the origin; ``None``: the centroid of
            all keypoints.
        heading
            ``(from, to)`` keypoints whose vector becomes the +x axis.

        Returns
        -------
        EgocentricTransform
            The transform.

        Raises
        ------
        ValueError
            If a keypoint is unknown.
        """
        position = position_of(position)
        if isinstance(origin, str):
            _check_keypoints(position, origin)
            org = position.sel(keypoint=origin, drop=True)
        else:
            org = compute_centroid(position, origin, missing="mean")
            org.attrs = {}
        angle = compute_heading(position, heading[0], heading[1])
        org.name = "origin"
        return cls(origin=org, angle=angle)

    def _rotate(self, data: xr.DataArray, sign: float) -> xr.DataArray:
        require_dims(data, ["space"], "EgocentricTransform")
        cos = np.cos(self.angle)
        sin = sign * np.sin(self.angle)
        x, y = _space_xy(data)
        rx = cos * x - sin * y
        ry = sin * x + cos * y
        out = xr.concat([rx, ry], dim="space").assign_coords(space=["x", "y"])
        return out.transpose(*data.dims)

    def transform(self, position: xr.DataArray) -> xr.DataArray:
        """Position → egocentric coordinates (same dims as ``position``).

        Parameters
        ----------
        position
            Position with ``space`` (x, y) and the dims of ``origin``.

        Returns
        -------
        xarray.DataArray
            ``egocentric_position``.
        """
        position = position_of(position)
        out = self._rotate(position - self.origin, -1.0)
        unit = space_unit(position)
        return _named(out, "egocentric_position", units=unit, space_unit=unit)

    def inverse_transform(self, egocentric: xr.DataArray) -> xr.DataArray:
        """Egocentric coordinates → position (undoes :meth:`transform`).

        Parameters
        ----------
        egocentric
            Output of :meth:`transform`.

        Returns
        -------
        xarray.DataArray
            ``position``.
        """
        out = self._rotate(egocentric, 1.0) + self.origin
        out = out.transpose(*egocentric.dims)
        unit = space_unit(egocentric)
        return _named(out, "position", units=unit, space_unit=unit)
