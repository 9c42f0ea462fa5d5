"""Social behaviour of several animals: distances, contacts and approaches.

Built on :func:`~posekit.engine.behavior.kinematics.compute_interindividual_distances`
(the distance of every pair of animals, between centroids or at one keypoint):

- a **contact** is a bout in which a pair is closer than ``contact_distance``
  (:func:`contact_bouts`);
- an **approach** is a pair's distance falling from at least ``approach_from`` to below
  ``contact_distance`` within ``window`` frames; the animal that moved more towards
  the other (its displacement along the line between them) is the one that
  approached (:func:`approach_events`);
- :func:`social_summary` gives, per pair, the mean and median distance, the time in
  contact, the contacts and the approaches by each animal.

Distances are in the units of the positions (pixels, or mm after calibration);
``default_contact_distance`` takes the animals' median body length when none is given.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from .kinematics import compute_interindividual_distances

__all__ = [
    "default_contact_distance",
    "contact_bouts",
    "approach_events",
    "social_summary",
]


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


def contact_bouts(
    distance: xr.DataArray,
    contact_distance: float,
    *,
    min_frames: int = 1,
    fps: float | None = None,
) -> pd.DataFrame:
    """Bouts in which a pair of animals is closer than ``contact_distance``.

    Parameters
    ----------
    distance
        ``(time, pair)`` distances (:func:`compute_interindividual_distances`).
    contact_distance
        Closer than this is contact.
    min_frames
        Shorter bouts are left out.
    fps
        Frame rate for durations in seconds.

    Returns
    -------
    pandas.DataFrame
        ``pair, start_frame, end_frame, frames, duration_s, min_distance``.

    Examples
    --------
    >>> d = xr.DataArray([[9.0], [4.0], [3.0], [9.0]], dims=("time", "pair"),
    ...                  coords={"pair": ["a-b"]})
    >>> contact_bouts(d, 5.0)[["pair", "start_frame", "end_frame"]].values.tolist()
    [['a-b', 1, 2]]
    """
    rows = []
    for pair in [str(p) for p in distance["pair"].values]:
        d = np.asarray(distance.sel(pair=pair).values, float)
        for s, e in _bouts(np.isfinite(d) & (d < contact_distance)):
            if e - s < min_frames:
                continue
            rows.append(
                {
                    "pair": pair,
                    "start_frame": s,
                    "end_frame": e - 1,
                    "frames": e - s,
                    "duration_s": (e - s) / fps if fps else np.nan,
                    "min_distance": float(np.min(d[s:e])),
                }
            )
    columns = [
        "pair",
        "start_frame",
        "end_frame",
        "frames",
        "duration_s",
        "min_distance",
    ]
    return pd.DataFrame(rows, columns=columns)


def _centres(position: xr.DataArray, keypoint: str | None) -> xr.DataArray:
    if "keypoint" not in position.dims:
        return position
    if keypoint is None:
        return position.mean("keypoint", skipna=True)
    return position.sel(keypoint=keypoint, drop=True)


def approach_events(
    position: xr.DataArray,
    contact_distance: float,
    *,
    approach_from: float | None = None,
    window: int = 30,
    keypoint: str | None = None,
) -> pd.DataFrame:
    """Approaches: a pair's distance falls from ``approach_from`` to contact.

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
        Measure at this keypoint (default: centroids).

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
    centres = _centres(position, keypoint).sel(individual=animals)
    xy = centres.transpose("time", "individual", "space").values[..., :2].astype(float)
    rows = []
    for i, j in combinations(range(len(animals)), 2):
        d = np.linalg.norm(xy[:, i] - xy[:, j], axis=-1)
        for s, _ in _bouts(np.isfinite(d) & (d < contact_distance)):
            lo = max(0, s - int(window))
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


def social_summary(
    position: xr.DataArray,
    *,
    contact_distance: float | None = None,
    approach_from: float | None = None,
    window: int = 30,
    keypoint: str | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Per pair of animals: distances, time in contact, contacts, approaches.

    Parameters
    ----------
    position
        ``(time, space, [keypoint,] individual)`` positions of two or more animals.
    contact_distance
        The distance of contact (default: :func:`default_contact_distance`).
    approach_from, window, keypoint
        As for :func:`approach_events`.
    fps
        Frame rate for times in seconds.

    Returns
    -------
    pandas.DataFrame
        ``pair, mean_distance, median_distance, contact_frames, contact_s,
        contact_fraction, contacts, approaches_by_first, approaches_by_second,
        contact_distance``; empty with fewer than two animals.

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
    columns = [
        "pair",
        "mean_distance",
        "median_distance",
        "contact_frames",
        "contact_s",
        "contact_fraction",
        "contacts",
        "approaches_by_first",
        "approaches_by_second",
        "contact_distance",
    ]
    if len(animals) < 2:
        return pd.DataFrame(columns=columns)
    position = position.sel(individual=animals)
    if contact_distance is None:
        contact_distance = default_contact_distance(position)
    distance = compute_interindividual_distances(position, keypoint)
    bouts = contact_bouts(distance, contact_distance, fps=fps)
    approaches = approach_events(
        position,
        contact_distance,
        approach_from=approach_from,
        window=window,
        keypoint=keypoint,
    )
    rows = []
    for (first, _), pair in zip(
        combinations(animals, 2), [str(p) for p in distance["pair"].values], strict=True
    ):
        d = np.asarray(distance.sel(pair=pair).values, float)
        seen = np.isfinite(d)
        mine = bouts[bouts["pair"] == pair]
        ev = approaches[approaches["pair"] == pair]
        frames = int(mine["frames"].sum())
        rows.append(
            {
                "pair": pair,
                "mean_distance": float(d[seen].mean()) if seen.any() else np.nan,
                "median_distance": float(np.median(d[seen])) if seen.any() else np.nan,
                "contact_frames": frames,
                "contact_s": frames / fps if fps else np.nan,
                "contact_fraction": frames / int(seen.sum()) if seen.any() else np.nan,
                "contacts": len(mine),
                "approaches_by_first": int((ev["approacher"] == first).sum()),
                "approaches_by_second": int((ev["approacher"] != first).sum()),
                "contact_distance": float(contact_distance),
            }
        )
    return pd.DataFrame(rows, columns=columns)
