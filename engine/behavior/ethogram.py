"""Ethograms: behaviour bouts from frame labels, transitions and summary tables.

Frame labels are a 1-D array of strings, one per frame (a chosen background label,
e.g. ``"none"``, for "no behaviour"). A **bout** is a run of identical labels; its
``start`` and ``end`` are inclusive frame indices and ``duration`` is in frames
(``*_s`` columns in seconds when a frame rate is given).

:data:`MISSING` (the empty string, an empty cell in a CSV) marks frames with no pose,
where the behaviour is unknown (a classifier's prediction for an untracked frame,
see :class:`~posekit.engine.behavior.classify.BehaviorClassifier`). It is not a
behaviour: it never forms a bout (so bouts neither include nor bridge those frames),
has no row in the ethogram, and no transition is counted across it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ._utils import run_lengths, true_runs

#: Label of frames with no pose (behaviour unknown): never a bout or a behaviour.
MISSING = ""

__all__ = [
    "MISSING",
    "labels_to_bouts",
    "bouts_to_labels",
    "remove_short_bouts",
    "compute_ethogram",
    "transition_matrix",
    "bout_summary",
    "group_summary",
]


def _as_labels(labels: Sequence[str] | np.ndarray | xr.DataArray) -> np.ndarray:
    arr = np.asarray(labels.values if isinstance(labels, xr.DataArray) else labels)
    if arr.ndim != 1:
        raise ValueError(
            f"frame labels must be 1-D (one per frame); received shape {arr.shape}"
        )
    return arr.astype(str)


def labels_to_bouts(
    labels: Sequence[str] | np.ndarray | xr.DataArray,
    *,
    fps: float | None = None,
    individual: str | None = None,
    ignore: Sequence[str] = (),
) -> pd.DataFrame:
    """Bouts (runs of the same label) from per-frame labels.

    Parameters
    ----------
    labels
        One label per frame.
    fps
        Frames per second; adds ``start_s`` (when the bout starts: the time of
        its first frame), ``end_s`` (when it stops: the end of its last frame,
        ``(end + 1) / fps``, as BORIS's stop times) and ``duration_s``
        (``end_s - start_s``). ``start`` and ``end`` are frames, both inclusive; the
        bout covers the times ``[start_s, end_s)``.
    individual
        Added as an ``individual`` column (for pooling animals).
    ignore
        Labels that are not behaviours (e.g. ``"none"``); their runs are dropped.
        Runs of :data:`MISSING` (no pose) are always dropped.

    Returns
    -------
    pandas.DataFrame
        Columns ``behavior, start, end, duration`` (+ ``individual``, seconds).

    Raises
    ------
    ValueError
        If ``labels`` is not 1-D or ``fps`` is not positive.

    Examples
    --------
    >>> labels_to_bouts(["rest", "rest", "walk", "rest"]).to_dict("list")
    {'behavior': ['rest', 'walk', 'rest'], 'start': [0, 2, 3], 'end': [1, 2, 3], 'duration': [2, 1, 1]}
    """
    arr = _as_labels(labels)
    starts, ends, values = run_lengths(arr)
    df = pd.DataFrame(
        {
            "behavior": values.astype(str),
            "start": starts.astype(int),
            "end": (ends - 1).astype(int),
            "duration": (ends - starts).astype(int),
        }
    )
    df = df[~df["behavior"].isin([*ignore, MISSING])].reset_index(drop=True)
    if fps is not None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive; received fps={fps!r}")
        df["start_s"] = df["start"] / fps
        df["end_s"] = (df["end"] + 1) / fps
        df["duration_s"] = df["duration"] / fps
    if individual is not None:
        df.insert(0, "individual", individual)
    return df


def bouts_to_labels(
    bouts: pd.DataFrame, n_frames: int, *, background: str = "none"
) -> np.ndarray:
    """Per-frame labels from a bouts table (the inverse of :func:`labels_to_bouts`).

    Parameters
    ----------
    bouts
        Table with ``behavior``, ``start``, ``end`` (inclusive) columns.
    n_frames
        Length of the output.
    background
        Label of frames in no bout.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` labels; later bouts overwrite earlier ones where they overlap.

    Raises
    ------
    ValueError
        If a bout lies outside ``0 .. n_frames - 1`` or columns are missing.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"behavior": ["walk"], "start": [1], "end": [2]})
    >>> bouts_to_labels(b, 4).tolist()
    ['none', 'walk', 'walk', 'none']
    """
    missing = {"behavior", "start", "end"} - set(bouts.columns)
    if missing:
        raise ValueError(f"bouts table lacks columns {sorted(missing)}")
    out = np.full(int(n_frames), background, dtype=object)
    for beh, s, e in bouts[["behavior", "start", "end"]].itertuples(index=False):
        if not 0 <= s <= e < n_frames:
            raise ValueError(
                f"bout {beh!r} [{s}, {e}] lies outside frames 0..{n_frames - 1}"
            )
        out[int(s) : int(e) + 1] = beh
    return out.astype(str)


def remove_short_bouts(
    labels: Sequence[str] | np.ndarray, min_frames: int
) -> np.ndarray:
    """Relabel bouts shorter than ``min_frames`` with the preceding bout's label.

    A short bout at the very start takes the label of the first long bout. Runs of
    several short bouts in a row are absorbed together. Frames labelled
    :data:`MISSING` (no pose) are kept as they are and split the labels into parts
    smoothed on their own, so no behaviour spreads over them. Vectorised (no loop
    over frames).

    Parameters
    ----------
    labels
        One label per frame (any dtype).
    min_frames
        Minimum bout length to keep (1 keeps everything).

    Returns
    -------
    numpy.ndarray
        New labels, same dtype.

    Raises
    ------
    ValueError
        If ``min_frames`` < 1.

    Examples
    --------
    >>> remove_short_bouts(["a", "a", "a", "b", "a", "a", "c", "c", "c"], 2).tolist()
    ['a', 'a', 'a', 'a', 'a', 'a', 'c', 'c', 'c']
    """
    if int(min_frames) != min_frames or min_frames < 1:
        raise ValueError(f"min_frames must be an integer >= 1; received {min_frames!r}")
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"frame labels must be 1-D; received shape {arr.shape}")
    if min_frames == 1 or arr.size == 0:
        return arr.copy()
    if arr.dtype.kind in "OUS":
        missing = arr.astype(str) == MISSING
        if missing.any():
            out = arr.copy()
            for s, e in zip(*true_runs(~missing), strict=True):
                out[s:e] = remove_short_bouts(arr[s:e], min_frames)
            return out
    starts, ends, values = run_lengths(arr)
    long_run = (ends - starts) >= min_frames
    if not long_run.any():
        return arr.copy()
    # index of the run each short run inherits from: the last long run before it
    run_idx = np.arange(starts.size)
    src = np.where(long_run, run_idx, -1)
    src = np.maximum.accumulate(src)
    first_long = int(np.argmax(long_run))
    src = np.where(src < 0, first_long, src)
    new_values = values[src]
    return np.repeat(new_values, ends - starts)


def compute_ethogram(
    labels: Sequence[str] | np.ndarray,
    behaviors: Sequence[str] | None = None,
    *,
    fps: float | None = None,
) -> xr.DataArray:
    """Ethogram array: one boolean row per behaviour, one column per frame.

    Parameters
    ----------
    labels
        One label per frame.
    behaviors
        Row order (default: sorted unique labels, without :data:`MISSING`).
    fps
        Frames per second; the ``time`` coordinate is then in seconds.

    Returns
    -------
    xarray.DataArray
        ``ethogram`` with dims ``(behavior, time)``, dtype bool; frames with no pose
        (:data:`MISSING`) are False in every row.

    Raises
    ------
    ValueError
        If ``labels`` is not 1-D.

    Examples
    --------
    >>> compute_ethogram(["a", "b", "a"]).values.astype(int).tolist()
    [[1, 0, 1], [0, 1, 0]]
    """
    arr = _as_labels(labels)
    if behaviors is None:
        behaviors = sorted(set(arr.tolist()) - {MISSING})
    behaviors = list(behaviors)
    mask = arr[None, :] == np.asarray(behaviors, dtype=str)[:, None]
    time = np.arange(arr.size, dtype=float)
    if fps is not None:
        time = time / fps
    return xr.DataArray(
        mask,
        dims=("behavior", "time"),
        coords={"behavior": behaviors, "time": time},
        name="ethogram",
        attrs={"time_unit": "seconds" if fps is not None else "frames"},
    )


def transition_matrix(
    labels: Sequence[str] | np.ndarray,
    *,
    behaviors: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    normalize: bool = False,
) -> pd.DataFrame:
    """Bout-to-bout transitions: how often behaviour A is followed by behaviour B.

    Parameters
    ----------
    labels
        One label per frame.
    behaviors
        Row/column order (default: sorted labels).
    ignore
        Labels removed before counting (``a → none → b`` counts as ``a → b``).
        Frames with no pose (:data:`MISSING`) are not removed but break the
        sequence: nothing is counted across them (what happened there is unknown).
    normalize
        Divide each row by its total (transition probabilities; rows with no
        transitions are NaN).

    Returns
    -------
    pandas.DataFrame
        Rows ``from``, columns ``to``; counts, or probabilities with ``normalize``.

    Raises
    ------
    ValueError
        If ``labels`` is not 1-D.

    Examples
    --------
    >>> transition_matrix(["a", "a", "b", "a", "b"]).values.tolist()
    [[0, 2], [1, 0]]
    """
    arr = _as_labels(labels)
    arr = arr[~np.isin(arr, list(ignore))] if ignore else arr
    _, _, seq = run_lengths(arr)
    if behaviors is None:
        names = sorted(set(seq.tolist()) - {MISSING})
    else:
        names = [b for b in behaviors if b != MISSING]
    index = {b: i for i, b in enumerate(names)}  # MISSING has none: not counted
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    if seq.size > 1:
        src = np.array([index.get(s, -1) for s in seq[:-1]])
        dst = np.array([index.get(s, -1) for s in seq[1:]])
        ok = (src >= 0) & (dst >= 0)
        np.add.at(counts, (src[ok], dst[ok]), 1)
    df = pd.DataFrame(
        counts, index=pd.Index(names, name="from"), columns=pd.Index(names, name="to")
    )
    if normalize:
        totals = df.sum(axis=1).replace(0, np.nan)
        return df.div(totals, axis=0)
    return df


def bout_summary(
    bouts: pd.DataFrame,
    *,
    n_frames: int | Mapping[str, int] | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Per-animal, per-behaviour summary of a bouts table.

    Parameters
    ----------
    bouts
        Output of :func:`labels_to_bouts` (several animals concatenated, each with an
        ``individual`` column, or one animal without it).
    n_frames
        Recording length in frames (one number, or one per individual) for the
        ``fraction`` column.
    fps
        Frames per second for the ``*_s`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per (individual, behavior): ``n_bouts``, ``total_frames``,
        ``mean_bout``, ``median_bout`` (frames), ``latency`` (first start frame),
        ``fraction`` (with ``n_frames``) and seconds columns (with ``fps``).

    Raises
    ------
    ValueError
        If a required column is missing.

    Examples
    --------
    >>> b = labels_to_bouts(["a", "a", "b", "a"], individual="m1")
    >>> row = bout_summary(b, n_frames=4).iloc[0]
    >>> row.behavior, int(row.n_bouts), float(row.fraction)
    ('a', 2, 0.75)
    """
    needed = {"behavior", "start", "duration"}
    missing = needed - set(bouts.columns)
    if missing:
        raise ValueError(f"bouts table lacks columns {sorted(missing)}")
    df = bouts.copy()
    if "individual" not in df.columns:
        df["individual"] = "individual_0"
    grouped = df.groupby(["individual", "behavior"], sort=True)
    out = grouped.agg(
        n_bouts=("duration", "size"),
        total_frames=("duration", "sum"),
        mean_bout=("duration", "mean"),
        median_bout=("duration", "median"),
        latency=("start", "min"),
    ).reset_index()
    if n_frames is not None:
        if isinstance(n_frames, Mapping):
            total = out["individual"].map(lambda i: n_frames.get(i, np.nan))
        else:
            total = float(n_frames)
        out["fraction"] = out["total_frames"] / total
    if fps is not None:
        for col in ("total_frames", "mean_bout", "median_bout", "latency"):
            name = {"total_frames": "total_s"}.get(col, f"{col}_s")
            out[name] = out[col] / fps
    return out


def group_summary(
    summary: pd.DataFrame,
    groups: Mapping[str, str],
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean, standard deviation, SEM and count per group and behaviour.

    Parameters
    ----------
    summary
        Output of :func:`bout_summary` (or any table with ``individual`` and
        ``behavior`` columns).
    groups
        Individual → group name (e.g. ``{"m1": "control", "m2": "treated"}``).
    columns
        Numeric columns to summarise (default: every numeric column).

    Returns
    -------
    pandas.DataFrame
        Index ``(group, behavior)``; columns ``(<column>, mean|std|sem|count)``.

    Raises
    ------
    ValueError
        If an individual has no group.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"individual": ["m1", "m2"], "behavior": ["a", "a"],
    ...                   "n_bouts": [2, 4]})
    >>> float(group_summary(s, {"m1": "g", "m2": "g"}).loc[("g", "a"), ("n_bouts", "mean")])
    3.0
    """
    unknown = sorted(set(summary["individual"]) - set(groups))
    if unknown:
        raise ValueError(f"individuals without a group: {unknown}; add them to groups")
    df = summary.copy()
    df["group"] = df["individual"].map(dict(groups))
    if columns is None:
        columns = [
            c
            for c in df.select_dtypes("number").columns
            if c not in ("individual", "behavior", "group")
        ]
    agg = df.groupby(["group", "behavior"])[list(columns)].agg(["mean", "std", "count"])
    for col in columns:
        agg[(col, "sem")] = agg[(col, "std")] / np.sqrt(agg[(col, "count")])
    order = [(c, s) for c in columns for s in ("mean", "std", "sem", "count")]
    return agg[order]
