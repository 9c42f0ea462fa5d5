"""Result tables over a set of sessions: movement, ROI visits and behaviour bouts.

Each function takes the sessions (:class:`~posekit.engine.behavior.session.Session`)
and what was computed for them (positions, ROI occupancy, per-frame labels) and
returns one long table with ``session`` and ``group`` (and ``track`` for behaviour)
columns, ready for CSV or Excel. :class:`~posekit.engine.behavior.session.BehaviorModel`
builds them from its state; :data:`TABLE_FILES` names their files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session, Track

__all__ = [
    "TABLE_FILES",
    "kinematics_table",
    "roi_table",
    "roi_bouts_table",
    "zone_transitions_table",
    "line_crossings_table",
    "behavior_bouts_table",
    "behavior_summary_table",
    "group_summary_table",
    "behavior_transitions_table",
]

#: Table name → file stem of its CSV (used by ``BehaviorModel.export``).
TABLE_FILES: dict[str, str] = {
    "sessions": "sessions",
    "kinematics": "kinematics",
    "roi_summary": "roi_summary",
    "roi_bouts": "roi_bouts",
    "zone_transitions": "zone_transitions",
    "line_crossings": "line_crossings",
    "behavior_bouts": "behavior_bouts",
    "behavior_summary": "behavior_summary",
    "group_summary": "group_summary",
    "behavior_transitions": "behavior_transitions",
    "classifier_scores": "classifier_scores",
    "confusion_matrix": "confusion_matrix",
    "motif_examples": "motif_examples",
    "social": "social",
    "social_events": "social_events",
}


# ---------------------------------------------------------------- movement


def kinematics_table(
    sessions: Sequence[Session],
    points: Mapping[str, xr.DataArray],
    *,
    fps: float | None = None,
) -> pd.DataFrame:
    """Tabulate the movement per session and individual.

    Duration, observed fraction, distance, speed (mean, median, max), straightness,
    with their units.

    Parameters
    ----------
    sessions
        The sessions.
    points
        Session name → position of one point per individual (dims ``time, space,
        individual``; ``attrs["space_unit"]`` gives the distance unit).
    fps
        Frames per second (speeds per second and durations; per frame without).

    Returns
    -------
    pandas.DataFrame
        One row per session and individual.
    """
    from .kinematics import compute_path_length, compute_speed, compute_straightness

    rows = []
    for s in sessions:
        point = points[s.name]
        unit = point.attrs.get("space_unit", "px")
        speed = compute_speed(point, per="second" if fps else "frame")
        length = compute_path_length(point)
        straight = compute_straightness(point)
        for ind in s.individuals:
            p = point.sel(individual=ind)
            sp = np.asarray(speed.sel(individual=ind).values, float)
            observed = float(np.mean(np.isfinite(p.values).all(axis=-1)))
            finite = sp[np.isfinite(sp)]
            rows.append(
                {
                    "session": s.name,
                    "group": s.group,
                    "individual": ind,
                    "frames": s.n_frames,
                    "duration_s": s.n_frames / fps if fps else math.nan,
                    "observed_fraction": observed,
                    "distance": float(length.sel(individual=ind)),
                    "mean_speed": float(finite.mean()) if finite.size else math.nan,
                    "median_speed": float(np.median(finite))
                    if finite.size
                    else math.nan,
                    "max_speed": float(finite.max()) if finite.size else math.nan,
                    "straightness": float(straight.sel(individual=ind)),
                    "distance_unit": unit,
                    "speed_unit": speed.attrs.get("units", ""),
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- ROIs


def _per_session(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    fn: Callable[[xr.DataArray], pd.DataFrame],
) -> pd.DataFrame:
    parts = []
    for s in sessions:
        occ = occupancies.get(s.name)
        if occ is None:
            continue
        part = fn(occ)
        part.insert(0, "group", s.group)
        part.insert(0, "session", s.name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def roi_table(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    *,
    fps: float | None = None,
) -> pd.DataFrame:
    """Tabulate ROI use per session, individual and ROI.

    Time and fraction inside, entries, exits, latency to the first entry (whole
    frames; empty if never inside), bouts
    (:func:`~posekit.engine.behavior.roi.roi_summary`).

    Parameters
    ----------
    sessions
        The sessions.
    occupancies
        Session name → ROI occupancy
        (:func:`~posekit.engine.behavior.roi.compute_roi_occupancy`; ``None`` or
        missing: the session is left out).
    fps
        Frames per second (adds the ``*_s`` columns).

    Returns
    -------
    pandas.DataFrame
        Empty when no session has an occupancy.
    """
    from .roi import roi_summary

    table = _per_session(sessions, occupancies, lambda occ: roi_summary(occ, fps=fps))
    if "latency" in table:
        table["latency"] = table["latency"].astype("Int64")
    return table


def roi_bouts_table(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    *,
    fps: float | None = None,
) -> pd.DataFrame:
    """Tabulate every visit to every ROI, with ``session`` and ``group``.

    See :func:`~posekit.engine.behavior.roi.roi_bouts`; arguments as for
    :func:`roi_table`.
    """
    from .roi import roi_bouts

    return _per_session(sessions, occupancies, lambda occ: roi_bouts(occ, fps=fps))


def zone_transitions_table(
    sessions: Sequence[Session], occupancies: Mapping[str, xr.DataArray | None]
) -> pd.DataFrame:
    """Tabulate transitions between ROIs per session: ``from, to, count``.

    Arguments as for :func:`roi_table`.
    """
    from .roi import compute_zone_sequence, zone_transitions

    def one(occ: xr.DataArray) -> pd.DataFrame:
        counts = zone_transitions(compute_zone_sequence(occ))
        long = counts.stack().rename("count").reset_index()
        long.columns = ["from", "to", "count"]
        return long[long["from"] != long["to"]].reset_index(drop=True)

    return _per_session(sessions, occupancies, one)


def line_crossings_table(
    sessions: Sequence[Session],
    crossings: Mapping[str, xr.DataArray | None],
    *,
    fps: float | None = None,
) -> pd.DataFrame:
    """Tabulate line crossings per session, individual and line.

    Crossings in total and onto each side, the first crossing
    (:func:`~posekit.engine.behavior.roi.line_crossing_summary`).

    Parameters
    ----------
    sessions
        The sessions.
    crossings
        Session name → crossings
        (:func:`~posekit.engine.behavior.roi.compute_line_crossings`; ``None`` or
        missing: the session is left out).
    fps
        Frames per second (adds ``first_crossing_s`` and ``crossings_per_min``).

    Returns
    -------
    pandas.DataFrame
        Empty when no session has a line.
    """
    from .roi import line_crossing_summary

    table = _per_session(
        sessions, crossings, lambda c: line_crossing_summary(c, fps=fps)
    )
    if "first_crossing" in table:
        table["first_crossing"] = table["first_crossing"].astype("Int64")
    return table


# ---------------------------------------------------------------- behaviour


def _tracks_by_key(sessions: Sequence[Session]) -> dict[str, tuple[Track, Session]]:
    return {t.key: (t, s) for s in sessions for t in s.tracks()}


def _lookup(
    tracks: Mapping[str, tuple[Track, Session]], key: str
) -> tuple[Track, Session]:
    if key not in tracks:
        raise KeyError(f"no track {key!r}; tracks: {list(tracks)}")
    return tracks[key]


def behavior_bouts_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: float | None = None,
    background: str = "none",
) -> pd.DataFrame:
    """Tabulate the bouts of per-frame labels.

    Columns: track, session, group, individual, behaviour, start, end, duration
    (+ seconds with ``fps``).

    Parameters
    ----------
    labels
        Track key (:meth:`Session.tracks <posekit.engine.behavior.session.Session.tracks>`)
        → one label per frame.
    sessions
        The sessions the tracks belong to.
    fps
        Frames per second (adds the ``*_s`` columns).
    background
        Label of frames without a behaviour (no bout).

    Returns
    -------
    pandas.DataFrame
        Empty without labels.

    Raises
    ------
    KeyError
        If a key is not a track of ``sessions``.
    """
    from .ethogram import labels_to_bouts

    tracks = _tracks_by_key(sessions)
    parts = []
    for key, frame_labels in labels.items():
        t, s = _lookup(tracks, key)
        b = labels_to_bouts(frame_labels, fps=fps, ignore=[background])
        b.insert(0, "individual", t.individual)
        b.insert(0, "group", s.group)
        b.insert(0, "session", t.session)
        b.insert(0, "track", key)
        parts.append(b)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def behavior_summary_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: float | None = None,
    background: str = "none",
) -> pd.DataFrame:
    """Summarise bouts per track and behaviour, with the group.

    Bouts, total and mean duration, latency, fraction
    (:func:`~posekit.engine.behavior.ethogram.bout_summary`); arguments as for
    :func:`behavior_bouts_table`.
    """
    from .ethogram import bout_summary

    bouts = behavior_bouts_table(labels, sessions, fps=fps, background=background)
    if bouts.empty:
        return pd.DataFrame()
    tracks = _tracks_by_key(sessions)
    n_frames = {k: _lookup(tracks, k)[1].n_frames for k in labels}
    table = bouts.drop(columns=["individual"]).rename(columns={"track": "individual"})
    out = bout_summary(table, n_frames=n_frames, fps=fps)
    out = out.rename(columns={"individual": "track"})
    out.insert(1, "group", out["track"].map(lambda k: _lookup(tracks, k)[1].group))
    return out


def group_summary_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: float | None = None,
    background: str = "none",
) -> pd.DataFrame:
    """Summarise the behaviour per group: mean, SD, SEM and count.

    See :func:`~posekit.engine.behavior.ethogram.group_summary`; empty when no
    session has a group. Arguments as for :func:`behavior_bouts_table`.
    """
    from .ethogram import group_summary

    summary = behavior_summary_table(labels, sessions, fps=fps, background=background)
    if summary.empty or not any(s.group for s in sessions):
        return pd.DataFrame()
    tracks = _tracks_by_key(sessions)
    table = summary.rename(columns={"track": "individual"}).drop(columns=["group"])
    groups = {k: (_lookup(tracks, k)[1].group or "(none)") for k in table["individual"]}
    out = group_summary(table, groups)
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    return out.reset_index()


def behavior_transitions_table(
    labels: Mapping[str, np.ndarray], *, background: str = "none"
) -> pd.DataFrame:
    """Bout-to-bout transitions per track (long format: ``track, from, to, count``).

    Parameters
    ----------
    labels
        Track key → one label per frame.
    background
        Label of frames without a behaviour (skipped).

    Returns
    -------
    pandas.DataFrame
        Empty without labels.
    """
    from .ethogram import transition_matrix

    parts = []
    for key, frame_labels in labels.items():
        m = transition_matrix(frame_labels, ignore=[background])
        long = m.stack().rename("count").reset_index()
        long.columns = ["from", "to", "count"]
        long = long[long["from"] != long["to"]]
        long.insert(0, "track", key)
        parts.append(long)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
