"""Social behaviour of several animals: distances, contacts, approaches, following.

Built on :func:`~posekit.engine.behavior.kinematics.compute_interindividual_distances`
(the distance of every pair of animals, between centroids or at one keypoint). The
centroid is the one of the kinematics
(:func:`~posekit.engine.behavior.kinematics.compute_centroid`): the mean of all
keypoints, a keypoint missing in a frame placed from those seen there, so it never
jumps towards the keypoints left when one drops out and is missing only where none of
the animal's keypoints is seen. The frames where both animals of a pair have a point
are the pair's *frames used*.

- a **contact** is a bout in which a pair is closer than ``contact_distance``. It
  starts when the distance falls below ``contact_distance`` and lasts until the pair
  is apart (farther than ``release_distance``, by default 10 % more than the contact
  distance, or not seen) for more than ``merge_gap`` frames (hysteresis and bout
  merging, so noise around the threshold does not split one contact into many;
  :func:`contact_bouts`);
- an **approach** is a pair's distance falling from at least ``approach_from`` to a
  contact within ``window`` frames, the pair having been that far apart since its
  previous contact; the animal that moved more towards the other (its displacement
  along the line between them) is the one that approached (:func:`approach_events`);
- **following**: animal A follows B in the frames where both move (at least
  ``min_speed``), they are at most ``follow_distance`` apart, A moves towards B (its
  velocity within ``max_angle`` of the direction to B) and B moves away from A
  (the direction from A to B within ``max_angle`` of B's velocity: A is behind B),
  for at least ``follow_min_frames`` frames (:func:`following_bouts`);
- :func:`social_summary` gives, per pair, the frames used, the mean and median
  distance, the time in contact, the contacts, the approaches by each animal and the
  following by each animal.

Distances are in the units of the positions (pixels, or mm after calibration);
``default_contact_distance`` takes the animals' median body length when none is given.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from ._utils import position_of, select_keypoint
from .kinematics import compute_interindividual_distances

__all__ = [
    "default_contact_distance",
    "contact_bouts",
    "approach_events",
    "following_bouts",
    "social_summary",
]

#: A contact ends when the pair is farther apart than this times the contact distance.
RELEASE_FACTOR = 1.1
#: A contact survives this many frames apart (or unseen) in a row.
CONTACT_MERGE_GAP = 5
#: Following: the largest angle (degrees) between the follower's velocity and the
#: direction to the leader, and between the leader's velocity and that direction.
FOLLOW_MAX_ANGLE = 45.0
#: Following: the shortest bout (frames).
FOLLOW_MIN_FRAMES = 10
#: Following: a bout survives this many frames that break the conditions in a row.
FOLLOW_MERGE_GAP = 3
#: Following: the slowest speed that counts as moving, in contact distances (body
#: lengths) per second (with a frame rate) ...
FOLLOW_MIN_SPEED_PER_S = 0.25
#: ... or per frame (without one; 0.25 per second at 25 frames per second).
FOLLOW_MIN_SPEED_PER_FRAME = 0.01


def _animals(position: xr.DataArray) -> list[str]:
    return [str(i) for i in position["individual"].values if str(i) != "single"]


def default_contact_distance(position: xr.DataArray) -> float:
    """Return the animals' median body length: the spread of an animal's keypoints.

    Parameters
    ----------
    position
        ``(time, space, keypoint, individual)`` positions.

    Returns
    -------
    float
        The median over frames and animals of the larger side of the keypoints' box
        (NaN without any animal of two keypoints).

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((3, 2, 2, 2)); pos[:, 0, 1, :] = 30.0
    >>> default_contact_distance(from_numpy(pos).position)
    30.0
    """
    pos = position.sel(individual=_animals(position))
    span = pos.max("keypoint", skipna=True) - pos.min("keypoint", skipna=True)
    length = span.max("space", skipna=True).values
    finite = length[np.isfinite(length)]
    return float(np.median(finite)) if len(finite) else float("nan")


def _bouts(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True (stop exclusive)."""
    padded = np.r_[0, mask.astype(int), 0]
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _held_bouts(
    start: np.ndarray, hold: np.ndarray, merge_gap: int
) -> list[tuple[int, int]]:
    """Bouts that begin and end in ``start`` frames and last while ``hold`` does.

    A bout survives runs of up to ``merge_gap`` frames outside ``hold``; it is cut
    to its first and last ``start`` frame. ``(start, stop)``, stop exclusive.
    """
    broken = np.zeros(len(start), bool)
    for s, e in _bouts(~hold):
        if e - s > merge_gap:
            broken[s:e] = True
    out = []
    for s, e in _bouts(~broken):
        inside = np.flatnonzero(start[s:e])
        if len(inside):
            out.append((s + int(inside[0]), s + int(inside[-1]) + 1))
    return out


def _contact_runs(
    d: np.ndarray,
    contact_distance: float,
    release_distance: float | None,
    merge_gap: int,
) -> list[tuple[int, int]]:
    release = (
        RELEASE_FACTOR * contact_distance
        if release_distance is None
        else release_distance
    )
    release = max(float(release), float(contact_distance))
    seen = np.isfinite(d)
    with np.errstate(invalid="ignore"):
        close = seen & (d < contact_distance)
        hold = seen & (d <= release)
    return _held_bouts(close, hold, int(merge_gap))


def contact_bouts(
    position: xr.DataArray | xr.Dataset | None = None,
    contact_distance: float | None = None,
    *,
    keypoint: str | None = None,
    release_distance: float | None = None,
    merge_gap: int = CONTACT_MERGE_GAP,
    min_frames: int = 1,
    fps: float | None = None,
    distance: xr.DataArray | None = None,
) -> pd.DataFrame:
    """Bouts in which a pair of animals is in contact.

    A contact starts when the distance falls below ``contact_distance`` and ends
    when the pair is apart (farther than ``release_distance``, or not seen) for more
    than ``merge_gap`` frames in a row; it runs from its first to its last frame
    closer than ``contact_distance``. The two thresholds (hysteresis) and the
    merging keep a pair that hovers around the contact distance, or drops out for a
    frame, in one contact instead of many: ``release_distance=contact_distance,
    merge_gap=0`` counts every crossing of the threshold.

    Called as :func:`approach_events` and :func:`following_bouts` are, with the
    positions (``contact_bouts(pos, keypoint="thorax", fps=25)``), or with the
    distances of the pairs already measured (``contact_bouts(distance=d,
    contact_distance=40)``, ``d`` from
    :func:`~posekit.engine.behavior.kinematics.compute_interindividual_distances`).

    Parameters
    ----------
    position
        ``(time, space, [keypoint,] individual)`` positions (or a poses Dataset):
        the distance of each pair is measured at ``keypoint`` or between the
        centroids, as in :func:`social_summary`. A ``(time, pair)`` DataArray of
        distances here is taken as ``distance``.
    contact_distance
        Closer than this is contact (default with positions:
        :func:`default_contact_distance`, the animals' median body length; needed
        with ``distance``).
    keypoint
        With positions: measure at this keypoint (default: centroids, missing
        where no keypoint is seen).
    release_distance
        Farther than this is apart (default: ``1.1 * contact_distance``; at least
        ``contact_distance``).
    merge_gap
        A contact survives this many frames apart or unseen in a row (default 5).
    min_frames
        Shorter bouts (first to last frame) are left out.
    fps
        Frame rate for durations in seconds.
    distance
        ``(time, pair)`` distances instead of positions
        (:func:`~posekit.engine.behavior.kinematics.compute_interindividual_distances`).

    Returns
    -------
    pandas.DataFrame
        ``pair, start_frame, end_frame, frames, frames_used, duration_s,
        min_distance``: ``frames`` from the first to the last frame (inclusive),
        ``frames_used`` those of them where both animals are seen. Empty with
        fewer than two animals.

    Raises
    ------
    ValueError
        Neither or both of positions and distances are given, ``keypoint`` with
        distances, distances without ``contact_distance``, or an array that is
        neither.

    Examples
    --------
    ``a`` walks to ``b`` and stays 10 units away from frame 8 on:

    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((12, 2, 1, 2)); pos[:, 0, 0, 1] = 100.0
    >>> pos[:, 0, 0, 0] = np.minimum(np.arange(12) * 12.0, 90.0)
    >>> ds = from_numpy(pos, individual_names=["a", "b"])
    >>> bouts = contact_bouts(ds.position, contact_distance=20.0, fps=4.0)
    >>> bouts[["pair", "start_frame", "end_frame", "duration_s"]].values.tolist()
    [['a-b', 7, 11, 1.25]]

    The same from the distances:

    >>> from posekit.engine.behavior.kinematics import (
    ...     compute_interindividual_distances)
    >>> d = compute_interindividual_distances(ds.position)
    >>> contact_bouts(distance=d, contact_distance=20.0)["start_frame"].tolist()
    [7]
    """
    distance, contact_distance = _pair_distances(
        position, distance, contact_distance, keypoint
    )
    rows = []
    for pair in [str(p) for p in distance["pair"].values]:
        d = np.asarray(distance.sel(pair=pair).values, float)
        for s, e in _contact_runs(d, contact_distance, release_distance, merge_gap):
            if e - s < min_frames:
                continue
            rows.append(
                {
                    "pair": pair,
                    "start_frame": s,
                    "end_frame": e - 1,
                    "frames": e - s,
                    "frames_used": int(np.isfinite(d[s:e]).sum()),
                    "duration_s": (e - s) / fps if fps else np.nan,
                    "min_distance": float(np.nanmin(d[s:e])),
                }
            )
    columns = [
        "pair",
        "start_frame",
        "end_frame",
        "frames",
        "frames_used",
        "duration_s",
        "min_distance",
    ]
    return pd.DataFrame(rows, columns=columns)


def _pair_distances(
    position: xr.DataArray | xr.Dataset | None,
    distance: xr.DataArray | None,
    contact_distance: float | None,
    keypoint: str | None,
) -> tuple[xr.DataArray, float]:
    """Return the ``(time, pair)`` distances and contact distance of the inputs.

    Raises
    ------
    ValueError
        As :func:`contact_bouts` says.
    """
    how = (
        "pass the positions, as to approach_events (contact_bouts(pos, "
        "keypoint=...)), or the distances of the pairs (contact_bouts(distance=d, "
        "contact_distance=...), d from compute_interindividual_distances(pos))"
    )
    if isinstance(position, xr.DataArray) and "pair" in position.dims:
        if distance is not None:
            raise ValueError(f"contact_bouts got distances twice: {how}.")
        position, distance = None, position  # contact_bouts(distance, 40.0)
    if (position is None) == (distance is None):
        raise ValueError(
            f"contact_bouts needs positions or distances, one of them: {how}."
        )
    if distance is not None:
        if "pair" not in distance.dims or "time" not in distance.dims:
            raise ValueError(
                f"contact_bouts: distances have dims (time, pair); these have "
                f"{tuple(distance.dims)}: {how}."
            )
        if keypoint is not None:
            raise ValueError(
                "contact_bouts: keypoint= chooses where positions are measured; "
                f"these are distances already: {how}."
            )
        if contact_distance is None:
            raise ValueError(
                "contact_bouts needs contact_distance with distances (with positions "
                "it defaults to the animals' median body length)."
            )
        return distance, float(contact_distance)
    position = position_of(position)
    if "individual" not in position.dims or "space" not in position.dims:
        raise ValueError(
            f"contact_bouts: positions have dims (time, space, [keypoint,] "
            f"individual); these have {tuple(position.dims)}: {how}."
        )
    animals = _animals(position)
    position = position.sel(individual=animals)
    if contact_distance is None:
        contact_distance = default_contact_distance(position)
    if len(animals) < 2:  # no pair
        empty = xr.DataArray(
            np.empty((position.sizes["time"], 0)),
            dims=("time", "pair"),
            coords={"pair": []},
        )
        return empty, float(contact_distance)
    return compute_interindividual_distances(position, keypoint), float(
        contact_distance
    )


def _centres(position: xr.DataArray, keypoint: str | None) -> xr.DataArray:
    """One point per animal: ``keypoint``, or the kinematics' centroid."""
    return select_keypoint(position, keypoint)


def _xy(position: xr.DataArray, animals: list[str], keypoint: str | None) -> np.ndarray:
    """``(time, individual, 2)`` points of ``animals``."""
    centres = _centres(position, keypoint).sel(individual=animals)
    xy = centres.transpose("time", "individual", "space").values[..., :2]
    return np.asarray(xy, float)


def approach_events(
    position: xr.DataArray,
    contact_distance: float,
    *,
    approach_from: float | None = None,
    window: int = 30,
    keypoint: str | None = None,
    release_distance: float | None = None,
    merge_gap: int = CONTACT_MERGE_GAP,
) -> pd.DataFrame:
    """Approaches: a pair's distance falls from ``approach_from`` to contact.

    A contact (:func:`contact_bouts`) is reached by an approach when the pair was at
    least ``approach_from`` apart within the ``window`` frames before it and after
    the end of its previous contact: a pair that stays close and touches again is not
    approaching again. The approach starts at the last frame that far apart.

    Parameters
    ----------
    position
        ``(time, space, [keypoint,] individual)`` positions.
    contact_distance
        The distance of contact.
    approach_from
        Where an approach starts (default: twice ``contact_distance``).
    window
        The fall must take at most this many frames.
    keypoint
        Measure at this keypoint (default: centroids, missing where no keypoint is).
    release_distance, merge_gap
        What ends a contact, as for :func:`contact_bouts`.

    Returns
    -------
    pandas.DataFrame
        ``pair, approacher, target, start_frame, contact_frame, distance_start,
        distance_contact``: one row per contact reached by an approach.

    Examples
    --------
    ``a`` walks to ``b``, which stays put:

    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((20, 2, 1, 2)); pos[:, 0, 0, 0] = np.linspace(0, 95, 20)
    >>> pos[:, 0, 0, 1] = 100.0
    >>> ev = approach_events(from_numpy(pos).position, 20.0)
    >>> ev[["approacher", "target", "contact_frame"]].values.tolist()
    [['individual_0', 'individual_1', 17]]
    """
    start_at = 2.0 * contact_distance if approach_from is None else approach_from
    animals = _animals(position)
    xy = _xy(position, animals, keypoint)
    rows = []
    for i, j in combinations(range(len(animals)), 2):
        d = np.linalg.norm(xy[:, i] - xy[:, j], axis=-1)
        previous_end = 0  # the frame after the previous contact
        for s, e in _contact_runs(d, contact_distance, release_distance, merge_gap):
            lo = max(previous_end, s - int(window))
            previous_end = e
            with np.errstate(invalid="ignore"):
                far = np.flatnonzero(np.isfinite(d[lo:s]) & (d[lo:s] >= start_at))
            if not len(far):
                continue
            f0 = lo + int(far[-1])  # the last frame still far away
            line = xy[f0, j] - xy[f0, i]
            line = line / (np.linalg.norm(line) + 1e-12)
            toward_i = float(np.dot(xy[s, i] - xy[f0, i], line))
            toward_j = float(np.dot(xy[s, j] - xy[f0, j], -line))
            a, b = (i, j) if toward_i >= toward_j else (j, i)
            rows.append(
                {
                    "pair": f"{animals[i]}-{animals[j]}",
                    "approacher": animals[a],
                    "target": animals[b],
                    "start_frame": f0,
                    "contact_frame": int(s),
                    "distance_start": float(d[f0]),
                    "distance_contact": float(d[s]),
                }
            )
    columns = [
        "pair",
        "approacher",
        "target",
        "start_frame",
        "contact_frame",
        "distance_start",
        "distance_contact",
    ]
    return pd.DataFrame(rows, columns=columns)


def _velocity(xy: np.ndarray) -> np.ndarray:
    """Central differences per frame along the first axis (NaN next to a gap)."""
    v = np.full_like(xy, np.nan)
    if len(xy) >= 3:
        v[1:-1] = (xy[2:] - xy[:-2]) / 2.0
    if len(xy) >= 2:
        v[0] = xy[1] - xy[0]
        v[-1] = xy[-1] - xy[-2]
    return v


def _cos(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cosine of the angle between the rows of ``u`` and ``w`` (NaN for 0 length)."""
    nu = np.linalg.norm(u, axis=-1)
    nw = np.linalg.norm(w, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(u * w, axis=-1) / (nu * nw)


def _following_mask(
    xy_a: np.ndarray,
    xy_b: np.ndarray,
    follow_distance: float,
    min_speed: float,
    max_angle: float,
) -> np.ndarray:
    """Frames where ``a`` follows ``b`` (the conditions of :func:`following_bouts`)."""
    va, vb = _velocity(xy_a), _velocity(xy_b)
    to_b = xy_b - xy_a
    cos_max = np.cos(np.deg2rad(max_angle))
    with np.errstate(invalid="ignore"):
        return (
            (np.linalg.norm(to_b, axis=-1) <= follow_distance)
            & (np.linalg.norm(va, axis=-1) >= min_speed)
            & (np.linalg.norm(vb, axis=-1) >= min_speed)
            & (_cos(va, to_b) >= cos_max)  # a moves towards b
            & (_cos(vb, to_b) >= cos_max)  # b moves away from a: a is behind b
        )


def following_bouts(
    position: xr.DataArray,
    contact_distance: float | None = None,
    *,
    follow_distance: float | None = None,
    min_speed: float | None = None,
    max_angle: float = FOLLOW_MAX_ANGLE,
    min_frames: int = FOLLOW_MIN_FRAMES,
    merge_gap: int = FOLLOW_MERGE_GAP,
    keypoint: str | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Bouts in which one animal follows (chases) another.

    ``a`` follows ``b`` in a frame when both move (speed at least ``min_speed``),
    they are at most ``follow_distance`` apart, ``a`` moves towards ``b`` (its
    velocity within ``max_angle`` of the direction from ``a`` to ``b``) and ``b``
    moves away from ``a`` (that direction within ``max_angle`` of ``b``'s velocity,
    so ``a`` is behind ``b``). Two animals walking side by side, moving apart, or
    meeting head-on do not follow; one walking to a still animal approaches it. A
    bout survives ``merge_gap`` frames in a row that break the conditions and must
    last ``min_frames`` frames. Velocities are central differences of the centroid
    (or ``keypoint``) over one frame each side; the direction of motion is used, not
    the body axis, so any keypoint works.

    Parameters
    ----------
    position
        ``(time, space, [keypoint,] individual)`` positions.
    contact_distance
        Scale for the defaults (default: :func:`default_contact_distance`, the median
        body length).
    follow_distance
        The farthest apart that is following (default: twice ``contact_distance``).
    min_speed
        The slowest that is moving, in units per second with ``fps`` (default: 0.25
        contact distances per second), else per frame (default: 0.01 contact
        distances per frame).
    max_angle
        Degrees (default 45).
    min_frames
        The shortest bout, first to last frame (default 10).
    merge_gap
        Frames that break the conditions in a row, within a bout (default 3).
    keypoint
        Measure at this keypoint (default: centroids, missing where no keypoint is).
    fps
        Frame rate for ``min_speed`` and durations in seconds.

    Returns
    -------
    pandas.DataFrame
        ``pair, follower, leader, start_frame, end_frame, frames, duration_s,
        mean_distance``.

    Examples
    --------
    ``a`` walks 10 units behind ``b`` along x:

    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((30, 2, 1, 2)); pos[:, 0, 0, 1] = np.arange(30.0) * 2
    >>> pos[:, 0, 0, 0] = pos[:, 0, 0, 1] - 10.0
    >>> b = following_bouts(from_numpy(pos).position, 10.0)
    >>> b[["follower", "start_frame", "end_frame"]].values.tolist()
    [['individual_0', 0, 29]]
    """
    animals = _animals(position)
    if contact_distance is None:
        contact_distance = default_contact_distance(position)
    if follow_distance is None:
        follow_distance = 2.0 * contact_distance
    if min_speed is None:
        per_frame = (
            FOLLOW_MIN_SPEED_PER_S * contact_distance / fps
            if fps
            else FOLLOW_MIN_SPEED_PER_FRAME * contact_distance
        )
    else:
        per_frame = min_speed / fps if fps else min_speed
    xy = _xy(position, animals, keypoint)
    rows = []
    for i, j in combinations(range(len(animals)), 2):
        d = np.linalg.norm(xy[:, i] - xy[:, j], axis=-1)
        for a, b in ((i, j), (j, i)):
            mask = _following_mask(
                xy[:, a], xy[:, b], follow_distance, per_frame, max_angle
            )
            for s, e in _held_bouts(mask, mask, int(merge_gap)):
                if e - s < min_frames:
                    continue
                rows.append(
                    {
                        "pair": f"{animals[i]}-{animals[j]}",
                        "follower": animals[a],
                        "leader": animals[b],
                        "start_frame": s,
                        "end_frame": e - 1,
                        "frames": e - s,
                        "duration_s": (e - s) / fps if fps else np.nan,
                        "mean_distance": float(np.nanmean(d[s:e])),
                    }
                )
    columns = [
        "pair",
        "follower",
        "leader",
        "start_frame",
        "end_frame",
        "frames",
        "duration_s",
        "mean_distance",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["pair", "start_frame"], ignore_index=True)


def social_summary(
    position: xr.DataArray,
    *,
    contact_distance: float | None = None,
    release_distance: float | None = None,
    merge_gap: int = CONTACT_MERGE_GAP,
    approach_from: float | None = None,
    window: int = 30,
    follow_distance: float | None = None,
    follow_min_speed: float | None = None,
    follow_max_angle: float = FOLLOW_MAX_ANGLE,
    follow_min_frames: int = FOLLOW_MIN_FRAMES,
    follow_merge_gap: int = FOLLOW_MERGE_GAP,
    keypoint: str | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Per pair of animals: distances, contacts, approaches, following.

    Parameters
    ----------
    position
        ``(time, space, [keypoint,] individual)`` positions of two or more animals.
    contact_distance
        The distance of contact (default: :func:`default_contact_distance`).
    release_distance, merge_gap
        What ends a contact, as for :func:`contact_bouts`.
    approach_from, window
        As for :func:`approach_events`.
    follow_distance, follow_min_speed, follow_max_angle, follow_min_frames, \
follow_merge_gap
        ``follow_distance``, ``min_speed``, ``max_angle``, ``min_frames`` and
        ``merge_gap`` of :func:`following_bouts`.
    keypoint
        Measure at this keypoint (default: each animal's centroid, missing in the
        frames where none of its keypoints is seen, as in the kinematics).
    fps
        Frame rate for times in seconds.

    Returns
    -------
    pandas.DataFrame
        ``pair, frames, frames_used, mean_distance, median_distance, contact_frames,
        contact_s, contact_fraction, contacts, approaches_by_first,
        approaches_by_second, following_by_first, following_frames_by_first,
        following_s_by_first, following_fraction_by_first`` (and ``_by_second``),
        ``contact_distance``; empty with fewer than two animals. ``frames_used``
        are the frames where both animals have a point; distances, contact frames
        (those used inside contact bouts) and fractions are over them.

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((20, 2, 1, 2)); pos[:, 0, 0, 0] = np.linspace(0, 95, 20)
    >>> pos[:, 0, 0, 1] = 100.0
    >>> row = social_summary(from_numpy(pos).position, contact_distance=20.0).iloc[0]
    >>> int(row["contacts"]), int(row["approaches_by_first"]), int(row["contact_frames"])
    (1, 1, 3)
    """
    animals = _animals(position)
    following_columns = [
        f"following{part}_by_{who}"
        for who in ("first", "second")
        for part in ("", "_frames", "_s", "_fraction")
    ]
    columns = [
        "pair",
        "frames",
        "frames_used",
        "mean_distance",
        "median_distance",
        "contact_frames",
        "contact_s",
        "contact_fraction",
        "contacts",
        "approaches_by_first",
        "approaches_by_second",
        *following_columns,
        "contact_distance",
    ]
    if len(animals) < 2:
        return pd.DataFrame(columns=columns)
    position = position.sel(individual=animals)
    if contact_distance is None:
        contact_distance = default_contact_distance(position)
    distance = compute_interindividual_distances(position, keypoint)
    bouts = contact_bouts(
        distance=distance,
        contact_distance=contact_distance,
        release_distance=release_distance,
        merge_gap=merge_gap,
        fps=fps,
    )
    approaches = approach_events(
        position,
        contact_distance,
        approach_from=approach_from,
        window=window,
        keypoint=keypoint,
        release_distance=release_distance,
        merge_gap=merge_gap,
    )
    following = following_bouts(
        position,
        contact_distance,
        follow_distance=follow_distance,
        min_speed=follow_min_speed,
        max_angle=follow_max_angle,
        min_frames=follow_min_frames,
        merge_gap=follow_merge_gap,
        keypoint=keypoint,
        fps=fps,
    )
    rows = []
    for (first, _), pair in zip(
        combinations(animals, 2), [str(p) for p in distance["pair"].values], strict=True
    ):
        d = np.asarray(distance.sel(pair=pair).values, float)
        seen = np.isfinite(d)
        used = int(seen.sum())
        mine = bouts[bouts["pair"] == pair]
        ev = approaches[approaches["pair"] == pair]
        frames = int(mine["frames_used"].sum())
        row = {
            "pair": pair,
            "frames": len(d),
            "frames_used": used,
            "mean_distance": float(d[seen].mean()) if used else np.nan,
            "median_distance": float(np.median(d[seen])) if used else np.nan,
            "contact_frames": frames,
            "contact_s": frames / fps if fps else np.nan,
            "contact_fraction": frames / used if used else np.nan,
            "contacts": len(mine),
            "approaches_by_first": int((ev["approacher"] == first).sum()),
            "approaches_by_second": int((ev["approacher"] != first).sum()),
            "contact_distance": float(contact_distance),
        }
        fol = following[following["pair"] == pair]
        for who, mask in (
            ("first", fol["follower"] == first),
            ("second", fol["follower"] != first),
        ):
            n = 0
            for _, b in fol[mask].iterrows():
                n += int(seen[int(b["start_frame"]) : int(b["end_frame"]) + 1].sum())
            row[f"following_by_{who}"] = int(mask.sum())
            row[f"following_frames_by_{who}"] = n
            row[f"following_s_by_{who}"] = n / fps if fps else np.nan
            row[f"following_fraction_by_{who}"] = n / used if used else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
