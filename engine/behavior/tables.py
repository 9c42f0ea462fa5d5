"""Result tables over a set of sessions: movement, ROI visits and behaviour bouts.

Each function takes the sessions (:class:`~posekit.engine.behavior.session.Session`)
and what was computed for them (positions, ROI occupancy, per-frame labels) and
returns one long table with ``session`` and ``group`` (and ``track`` for behaviour)
columns, ready for CSV or Excel. :class:`~posekit.engine.behavior.session.BehaviorModel`
builds them from its state; :data:`TABLE_FILES` names their files.

Conventions shared by the tables:

- ``fps`` is one frame rate for every session, or a mapping session name → rate
  (each session at its own rate); ``None``: per frame, no seconds columns.
- Frame columns (``start``, ``end``, ``first_crossing``) are the file's own frame
  numbers (:attr:`Session.frames <posekit.engine.behavior.session.Session.frames>`:
  a trimmed analysis starting at frame 1000 starts at 1000), and their ``*_s``
  columns their times (``frame / fps``). ``end`` is the last frame of a bout
  (inclusive) and ``end_s`` when the bout stops (``(end + 1) / fps``, the end of that
  frame), so ``duration_s = end_s - start_s``. Latencies count frames from the start
  of the recording.
- Only animals are tabulated: the ``single`` individual of a multi-animal DeepLabCut
  file's unique bodyparts is left out
  (:attr:`Session.animals <posekit.engine.behavior.session.Session.animals>`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from .roi import ROI_MAX_GAP

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session, Track

#: One frame rate for every session, or session name → rate (``None``: unknown).
Rates = float | Mapping[str, float | None] | None

__all__ = [
    "TABLE_FILES",
    "Rates",
    "to_file_frames",
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


# ---------------------------------------------------------------- helpers


def _rate(fps: Rates, name: str) -> float | None:
    """Return the frame rate of session ``name`` from one rate or a mapping."""
    if isinstance(fps, Mapping):
        rate = fps.get(name)
    else:
        rate = fps
    return float(rate) if rate else None


def to_file_frames(
    table: pd.DataFrame,
    frames: np.ndarray,
    fps: float | None,
    columns: Sequence[str] = ("start", "end"),
) -> pd.DataFrame:
    """Replace frame indices (0 = first frame) by the file's frame numbers.

    Each ``<column>_s`` present is recomputed as ``frame / fps`` (``end_s`` as
    ``(end + 1) / fps``: when the bout stops, the end of its last frame).

    Parameters
    ----------
    table
        A table whose ``columns`` hold frame indices (missing values allowed).
    frames
        The file's frame number of each index (:attr:`Session.frames
        <posekit.engine.behavior.session.Session.frames>`).
    fps
        Frames per second (``None``: the seconds columns are left as they are).
    columns
        The frame columns.

    Returns
    -------
    pandas.DataFrame
        A copy; the frame columns are ``Int64`` when they had missing values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.DataFrame({"start": [0, 5], "end": [2, 9], "start_s": [0.0, 0.5]})
    >>> to_file_frames(t, np.arange(1000, 1010), 10.0).values.tolist()
    [[1000.0, 1002.0, 100.0], [1005.0, 1009.0, 100.5]]
    """
    out = table.copy()
    frames = np.asarray(frames)
    for col in columns:
        if col not in out:
            continue
        index = pd.to_numeric(out[col], errors="coerce")
        known = index.notna().to_numpy()
        mapped = np.full(len(out), np.nan)
        mapped[known] = frames[index[known].to_numpy().astype(int)]
        series = pd.Series(mapped, index=out.index)
        out[col] = series.astype(np.int64) if known.all() else series.astype("Int64")
        if fps and f"{col}_s" in out:
            # end_s is when a bout stops: the end of its last frame
            out[f"{col}_s"] = (mapped + (col == "end")) / fps
    return out


def _animals(data: xr.DataArray, session: Session) -> xr.DataArray:
    """Keep the animals of ``session`` (not its ``single`` unique bodyparts)."""
    if "individual" not in data.dims:
        return data
    animals = session.animals
    if len(animals) == data.sizes["individual"]:
        return data
    return data.sel(individual=animals)


# ---------------------------------------------------------------- movement


def kinematics_table(
    sessions: Sequence[Session],
    points: Mapping[str, xr.DataArray],
    *,
    fps: Rates = None,
) -> pd.DataFrame:
    """Tabulate the movement per session and individual.

    Duration, the frames where the point is known (``frames_used``, and as a
    fraction of the frames, ``observed_fraction``), distance, speed (mean, median,
    max), straightness, with their units. Speeds come from the frames used only.
    ``distance`` (and straightness) bridge a gap in the track with the straight line
    from where the point was last seen to where it is seen again (movement's
    ``nan_policy="ffill"``); ``distance_across_gaps`` is the part of the distance
    those lines make, so that a jump across a gap (a lost or swapped animal) shows.

    Parameters
    ----------
    sessions
        The sessions.
    points
        Session name → position of one point per individual (dims ``time, space,
        individual``; ``attrs["space_unit"]`` gives the distance unit).
    fps
        Frames per second, one for all or one per session (speeds per second and
        durations; per frame without).

    Returns
    -------
    pandas.DataFrame
        One row per session and animal; ``distance`` is NaN for an animal never
        seen.
    """
    from .kinematics import compute_path_length, compute_speed, compute_straightness

    rows = []
    for s in sessions:
        point = points[s.name]
        rate = _rate(fps, s.name)
        unit = point.attrs.get("space_unit", "px")
        if rate:
            speed = compute_speed(point, fps=rate, per="second")
        else:
            speed = compute_speed(point, per="frame")
        length = compute_path_length(point)
        seen = compute_path_length(point, nan_policy="skip", nan_warn_threshold=1.0)
        straight = compute_straightness(point)
        for ind in s.animals:
            p = point.sel(individual=ind)
            sp = np.asarray(speed.sel(individual=ind).values, float)
            known = np.isfinite(p.values).all(axis=-1)
            finite = sp[np.isfinite(sp)]
            rows.append(
                {
                    "session": s.name,
                    "group": s.group,
                    "individual": ind,
                    "frames": s.n_frames,
                    "duration_s": s.n_frames / rate if rate else math.nan,
                    "fps": rate if rate else math.nan,
                    "frames_used": int(known.sum()),
                    "observed_fraction": float(known.mean()) if known.size else 0.0,
                    "distance": float(length.sel(individual=ind)),
                    "distance_across_gaps": _across_gaps(
                        length.sel(individual=ind), seen.sel(individual=ind)
                    ),
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


def _across_gaps(length: xr.DataArray, seen: xr.DataArray) -> float:
    """Return the part of a path length made by the straight lines across its gaps."""
    total, observed = float(length), float(seen)
    if math.isnan(total):
        return math.nan
    return max(total - (0.0 if math.isnan(observed) else observed), 0.0)


# ---------------------------------------------------------------- ROIs


def _per_session(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    fn: Callable[[xr.DataArray, Session], pd.DataFrame],
) -> pd.DataFrame:
    parts = []
    for s in sessions:
        occ = occupancies.get(s.name)
        if occ is None:
            continue
        part = fn(_animals(occ, s), s)
        part.insert(0, "group", s.group)
        part.insert(0, "session", s.name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def roi_table(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    *,
    fps: Rates = None,
    max_gap: int | None = ROI_MAX_GAP,
) -> pd.DataFrame:
    """Tabulate ROI use per session, individual and ROI.

    Time and fraction inside, entries, exits, latency to the first entry (whole
    frames; empty if never inside), bouts
    (:func:`~posekit.engine.behavior.roi.roi_summary`: the frames inside are the
    frames of the visits, ``frames_inside = n_bouts × mean_bout``).

    Parameters
    ----------
    sessions
        The sessions.
    occupancies
        Session name → ROI occupancy
        (:func:`~posekit.engine.behavior.roi.compute_roi_occupancy`; ``None`` or
        missing: the session is left out).
    fps
        Frames per second, one for all or one per session (adds the ``*_s``
        columns).
    max_gap
        Longest gap in the tracking (frames) a visit goes on across
        (:func:`~posekit.engine.behavior.roi.roi_bouts`; ``None``: any gap).

    Returns
    -------
    pandas.DataFrame
        Empty when no session has an occupancy.
    """
    from .roi import roi_summary

    table = _per_session(
        sessions,
        occupancies,
        lambda occ, s: roi_summary(occ, fps=_rate(fps, s.name), max_gap=max_gap),
    )
    if "latency" in table:
        table["latency"] = table["latency"].astype("Int64")
    return table


def roi_bouts_table(
    sessions: Sequence[Session],
    occupancies: Mapping[str, xr.DataArray | None],
    *,
    fps: Rates = None,
    max_gap: int | None = ROI_MAX_GAP,
) -> pd.DataFrame:
    """Tabulate every visit to every ROI, with ``session`` and ``group``.

    See :func:`~posekit.engine.behavior.roi.roi_bouts`; ``start`` and ``end`` are
    the file's frame numbers, ``start_s`` their time. Arguments as for
    :func:`roi_table`.
    """
    from .roi import roi_bouts

    def one(occ: xr.DataArray, s: Session) -> pd.DataFrame:
        rate = _rate(fps, s.name)
        visits = roi_bouts(occ, fps=rate, max_gap=max_gap)
        return to_file_frames(visits, s.frames, rate)

    return _per_session(sessions, occupancies, one)


def zone_transitions_table(
    sessions: Sequence[Session], occupancies: Mapping[str, xr.DataArray | None]
) -> pd.DataFrame:
    """Tabulate transitions between ROIs per session: ``from, to, count``.

    Arguments as for :func:`roi_table`.
    """
    from .roi import compute_zone_sequence, zone_transitions

    def one(occ: xr.DataArray, s: Session) -> pd.DataFrame:
        counts = zone_transitions(compute_zone_sequence(occ))
        long = counts.stack().rename("count").reset_index()
        long.columns = ["from", "to", "count"]
        return long[long["from"] != long["to"]].reset_index(drop=True)

    return _per_session(sessions, occupancies, one)


def line_crossings_table(
    sessions: Sequence[Session],
    crossings: Mapping[str, xr.DataArray | None],
    *,
    fps: Rates = None,
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
        Frames per second, one for all or one per session (adds
        ``first_crossing_s`` and ``crossings_per_min``).

    Returns
    -------
    pandas.DataFrame
        Empty when no session has a line. ``first_crossing`` is the file's frame
        number.
    """
    from .roi import line_crossing_summary

    def one(c: xr.DataArray, s: Session) -> pd.DataFrame:
        rate = _rate(fps, s.name)
        summary = line_crossing_summary(c, fps=rate)
        return to_file_frames(summary, s.frames, rate, columns=["first_crossing"])

    table = _per_session(sessions, crossings, one)
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


def _frames_of(session: Session, n_labels: int) -> np.ndarray:
    """Return the file's frame numbers for ``n_labels`` labels of ``session``."""
    frames = session.frames
    return frames if frames.size == n_labels else np.arange(n_labels)


def behavior_bouts_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: Rates = None,
    background: str = "none",
) -> pd.DataFrame:
    """Tabulate the bouts of per-frame labels.

    Columns: track, session, group, individual, behaviour, ``start``, ``end`` (the
    file's frame numbers of the first and last frame of the bout, inclusive),
    ``duration`` (frames), and with a frame rate ``start_s``, ``end_s`` (the times
    of those frames) and ``duration_s``.

    Parameters
    ----------
    labels
        Track key (:meth:`Session.tracks <posekit.engine.behavior.session.Session.tracks>`)
        → one label per frame.
    sessions
        The sessions the tracks belong to.
    fps
        Frames per second, one for all or one per session (adds the ``*_s``
        columns).
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
        rate = _rate(fps, s.name)
        b = labels_to_bouts(frame_labels, fps=rate, ignore=[background])
        b = to_file_frames(b, _frames_of(s, len(frame_labels)), rate)
        b.insert(0, "individual", t.individual)
        b.insert(0, "group", s.group)
        b.insert(0, "session", t.session)
        b.insert(0, "track", key)
        parts.append(b)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


#: Summary columns that are 0 for a track that never shows a behaviour (the others,
#: such as the mean bout or the latency, are undefined there: NaN).
_ZERO_WHEN_ABSENT = ("n_bouts", "total_frames", "fraction", "total_s")


def behavior_summary_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: Rates = None,
    background: str = "none",
) -> pd.DataFrame:
    """Summarise bouts per track and behaviour, with the group.

    Bouts, total and mean duration, latency (frames from the start of the
    recording), fraction (:func:`~posekit.engine.behavior.ethogram.bout_summary`).
    Every track has a row for every behaviour seen in any track, as the ROI summary
    has one for every ROI: a track that never shows it has 0 bouts, 0 frames and a
    fraction of 0, and no mean bout or latency (NaN). Arguments as for
    :func:`behavior_bouts_table`.
    """
    from .ethogram import bout_summary, labels_to_bouts

    tracks = _tracks_by_key(sessions)
    per_track = []
    behaviors: set[str] = set()
    for key, frame_labels in labels.items():
        _, s = _lookup(tracks, key)
        b = labels_to_bouts(frame_labels, ignore=[background])
        behaviors |= set(b["behavior"].tolist())
        per_track.append((key, s, len(frame_labels), b))
    if not behaviors:
        return pd.DataFrame()
    order = sorted(behaviors)
    parts = []
    for key, s, n, b in per_track:
        rate = _rate(fps, s.name)
        columns = ["n_bouts", "total_frames", "mean_bout", "median_bout", "latency"]
        columns += ["fraction"]
        if rate:
            columns += ["total_s", "mean_bout_s", "median_bout_s", "latency_s"]
        if b.empty:
            summary = pd.DataFrame(columns=["behavior"])
        else:
            summary = bout_summary(b.assign(individual=key), n_frames=n, fps=rate)
        summary = summary.drop(columns=["individual"], errors="ignore")
        summary = summary.set_index("behavior").reindex(order)
        summary = summary.reindex(columns=columns).astype(float)
        for col in _ZERO_WHEN_ABSENT:
            if col in summary:
                summary[col] = summary[col].fillna(0.0)
        for col in ("n_bouts", "total_frames"):
            summary[col] = summary[col].astype(np.int64)
        summary = summary.rename_axis("behavior").reset_index()
        summary.insert(0, "group", s.group)
        summary.insert(0, "track", key)
        parts.append(summary)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["track", "behavior"], kind="stable").reset_index(drop=True)


def group_summary_table(
    labels: Mapping[str, np.ndarray],
    sessions: Sequence[Session],
    *,
    fps: Rates = None,
    background: str = "none",
) -> pd.DataFrame:
    """Summarise the behaviour per group: mean, SD, SEM and count.

    See :func:`~posekit.engine.behavior.ethogram.group_summary`; empty when no
    session has a group. Every track of the group counts, with 0 bouts and 0 frames
    for a behaviour it never shows (:func:`behavior_summary_table`), so ``count`` is
    the number of animals; the mean bout and latency average the animals that show
    the behaviour. Arguments as for :func:`behavior_bouts_table`.
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
