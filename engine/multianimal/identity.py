"""Identity correction of tracked animals: swap two identities, find likely swaps.

Where DeepLabCut users fix swapped identities one frame at a time (DLC issues #2662,
#2867, #3392; a bulk swap asked for in #2670), these work on whole stretches of a
tracked video, as a movement-schema Dataset with an ``individual`` dimension:

- :func:`swap_identities` exchanges two individuals from a frame onwards, or over a
  range of frames;
- :func:`likely_swaps` lists the frames where a swap most likely happened, most
  suspicious first: where two animals exchange places from one frame to the next
  (putting each on the other's previous position is much cheaper than keeping the
  identities, measured against each animal's usual frame-to-frame step), where an
  animal jumps far beyond its usual step, where an animal's track ends or starts
  again (a tracklet end; the stitcher joined pieces there) and where two animals
  come close (a crossing);
- :func:`save_tracks` writes the corrected tracks as DeepLabCut's ``_el.h5`` (key
  ``tracks``), atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .layout import SINGLE

__all__ = ["SwapCandidate", "swap_identities", "likely_swaps", "save_tracks"]


def swap_identities(
    ds: xr.Dataset,
    first: str,
    second: str,
    start: int = 0,
    stop: int | None = None,
) -> xr.Dataset:
    """Exchange two individuals' poses over frames ``start`` up to ``stop``.

    Parameters
    ----------
    ds
        Poses with an ``individual`` dimension.
    first, second
        The individuals.
    start
        First frame (position along ``time``) of the swap.
    stop
        Frame after the last one (default: to the end).

    Returns
    -------
    xarray.Dataset
        A copy; ``ds`` is unchanged.

    Raises
    ------
    ValueError
        Unknown or equal individuals, ``single``, or an empty range.

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((4, 2, 1, 2)); pos[..., 1] = 1.0
    >>> ds = from_numpy(pos, individual_names=["a", "b"])
    >>> out = swap_identities(ds, "a", "b", start=2)
    >>> out.position.sel(individual="a", space="x", keypoint="keypoint_0").values
    array([0., 0., 1., 1.])
    """
    names = [str(i) for i in ds["individual"].values]
    for name in (first, second):
        if name not in names:
            raise ValueError(f"{name!r} is not an individual of these poses: {names}")
    if first == second or SINGLE in (first, second):
        raise ValueError(
            f"swap two different animals (not {SINGLE!r}); got {first!r} and {second!r}"
        )
    n = ds.sizes["time"]
    stop = n if stop is None else int(stop)
    start = int(start)
    if not 0 <= start < stop <= n:
        raise ValueError(f"frames {start}..{stop} are not a range within 0..{n}")
    i, j = names.index(first), names.index(second)
    out = ds.copy(deep=True)
    for var in out.data_vars:
        da = out[var]
        if "individual" not in da.dims or "time" not in da.dims:
            continue
        axis_t, axis_i = da.dims.index("time"), da.dims.index("individual")
        values = da.values
        sl = [slice(None)] * values.ndim
        sl[axis_t] = slice(start, stop)
        a, b = list(sl), list(sl)
        a[axis_i], b[axis_i] = i, j
        tmp = values[tuple(a)].copy()
        values[tuple(a)] = values[tuple(b)]
        values[tuple(b)] = tmp
        out[var] = da.copy(data=values)
    return out


@dataclass(frozen=True)
class SwapCandidate:
    """A frame where two identities may have been swapped.

    Attributes
    ----------
    frame
        The frame (position along ``time``).
    individuals
        The animals concerned.
    reason
        ``"exchange"`` (two animals jump onto each other's previous positions),
        ``"jump"`` (one animal moves far beyond its usual step), ``"track ends"``,
        ``"track starts"`` or ``"crossing"``.
    score
        How suspicious (higher: more). An exchange scores ``10 +`` the distance saved
        by exchanging the identities in units of the animals' usual steps (so an
        exchange comes first); the others at most 10: a jump half its step in
        usual steps, a track end or a crossing about the animals' size over their
        distance.
    """

    frame: int
    individuals: tuple[str, ...]
    reason: str
    score: float

    def __str__(self) -> str:
        return f"frame {self.frame}: {self.reason} ({', '.join(self.individuals)})"


def _sorted_median(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.nanmedian(v, axis=-1)`` without its warnings, and the sorted values.

    The same values: the two middle ones of the values present, added and halved
    (NaN where all are NaN). Returns the median, ``v`` sorted along its last axis
    (NaN last) and the count present, each row of ``v`` flattened to one row.
    """
    n = v.shape[-1] - np.isnan(v).sum(axis=-1).ravel()
    s = np.sort(v, axis=-1).reshape(len(n), -1)
    rows = np.arange(len(n))
    out = (s[rows, (n - 1) // 2] + s[rows, n // 2]) / 2.0
    out[n == 0] = np.nan
    return out.reshape(v.shape[:-1]), s, n


def _per_frame(
    x: np.ndarray, y: np.ndarray, *, pairwise: bool = True, chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each animal's centres, size and step in each frame, from its keypoints.

    ``x`` and ``y`` are the keypoints' coordinates, ``(T, I, K)`` (C-ordered), NaN
    where not seen; ``pairwise``: the keypoints are summed as NumPy sums
    neighbours in memory (else one after the other, as it sums an axis apart in
    memory). Returns ``centre`` (the mean of the keypoints seen,
    ``(T, I, 2)``), ``middle`` (their median: robust to a keypoint on the other
    animal), ``size`` (the larger side of their bounding box, ``(T, I)``) and
    ``step`` (the median displacement of the keypoints seen in two frames in a row,
    ``(T - 1, I)``), NaN where the animal is absent. Worked out a few thousand
    frames at a time, so that the arrays stay small; the values are those of
    ``np.nanmedian`` and ``np.linalg.norm`` on the whole.
    """
    n_t, n_i, n_k = x.shape
    centre = np.full((n_t, n_i, 2), np.nan)
    middle = np.full((n_t, n_i, 2), np.nan)
    size = np.full((n_t, n_i), np.nan)
    step = np.full((max(n_t - 1, 0), n_i), np.nan)
    if n_k == 0:
        return centre, middle, size, step
    for start in range(0, n_t, chunk):
        stop = min(start + chunk, n_t)
        later = min(stop + 1, n_t)  # the steps from frames start..stop-1
        ok = np.isfinite(x[start:stop]) & np.isfinite(y[start:stop])
        n_ok = ok.sum(axis=-1)
        present = n_ok > 0
        span = []
        for c, v in enumerate((x[start:stop], y[start:stop])):
            seen_v = np.where(ok, v, 0.0)
            if pairwise:  # summed along the keypoints, side by side
                total = seen_v.sum(axis=-1)
            else:  # one keypoint after the other
                total = seen_v[..., 0].copy()
                for k in range(1, n_k):
                    total += seen_v[..., k]
            np.divide(total, n_ok, out=centre[start:stop, :, c], where=present)
            middle[start:stop, :, c], ordered, seen = _sorted_median(v)
            if np.array_equal(ok, ~np.isnan(v)):
                # the keypoints seen are those sorted first: the least, the greatest
                rows = np.arange(len(seen))
                extent = ordered[rows, np.maximum(seen - 1, 0)] - ordered[:, 0]
                span.append(extent.reshape(n_ok.shape))
            else:  # a coordinate without the other, or infinite
                hi = np.where(ok, v, -np.inf).max(axis=-1)
                span.append(hi - np.where(ok, v, np.inf).min(axis=-1))
        size[start:stop] = np.where(present, np.maximum(span[0], span[1]), np.nan)
        if later - start > 1:
            dx = np.diff(x[start:later], axis=0)
            dy = np.diff(y[start:later], axis=0)
            step[start : later - 1] = _sorted_median(np.sqrt(dx * dx + dy * dy))[0]
    return centre, middle, size, step


def _norm(d: np.ndarray) -> np.ndarray:
    """Length of ``(..., 2)`` vectors, as ``np.linalg.norm(d, axis=-1)`` gives it."""
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])


def _step_scale(centre: np.ndarray, size: float) -> np.ndarray:
    """Per animal, its usual frame-to-frame step: the 95th percentile, floored.

    ``centre`` is ``(T, I, 2)`` with NaN where absent; the floor (2 % of the
    animals' size) keeps a still animal's tiny steps from making every move a jump.
    """
    return _step_scale_of(_norm(np.diff(centre, axis=0)), size)


def _step_scale_of(step: np.ndarray, size: float) -> np.ndarray:
    """:func:`_step_scale` of ``(T-1, I)`` steps."""
    out = np.full(step.shape[1], 0.02 * size)
    for k in range(step.shape[1]):
        s = step[:, k][np.isfinite(step[:, k])]
        if len(s):
            out[k] = max(float(np.percentile(s, 95)), 0.02 * size)
    return out


def _peaks(hit: np.ndarray, value: np.ndarray, gap: int) -> list[int]:
    """Return the frame of highest ``value`` in each run of ``hit`` frames.

    Runs ``gap`` frames apart are one; of a plateau the middle frame, rounded up (the
    first swapped frame).
    """
    frames = np.flatnonzero(hit)
    if not len(frames):
        return []
    out = []
    for run in np.split(frames, np.flatnonzero(np.diff(frames) > gap) + 1):
        v = value[run]
        top = run[v >= v.max() - 1e-6 * max(abs(v.max()), 1.0)]
        out.append(int(np.ceil((top[0] + top[-1]) / 2)))
    return out


def _exchanges(
    centre: np.ndarray,
    step: np.ndarray,
    inds: list[str],
    size: float,
    min_evidence: float,
    windows: tuple[int, ...] = (1, 2),
) -> list[SwapCandidate]:
    """Exchange and jump candidates (see :func:`likely_swaps`).

    ``centre`` is ``(T, I, 2)`` (NaN where absent), ``step`` ``(T - 1, I)``, each
    animal's median keypoint displacement (see :func:`_per_frame`). Every
    pair of animals is compared at every frame at once (arrays of ``(T, pairs)``);
    only the frames that qualify are looked at one by one.
    """
    n_t, n_i = centre.shape[:2]
    if n_t < 2:
        return []
    scale = _step_scale(centre, size)
    # the last position seen before each frame (an animal may be missing a while):
    # the latest frame up to each one where the animal is seen
    seen = np.isfinite(centre[:, :, 0])
    latest = np.maximum.accumulate(np.where(seen, np.arange(n_t)[:, None], 0), axis=0)
    last = np.take_along_axis(centre, latest[:, :, None], axis=0)
    first, second = np.triu_indices(n_i, 1)  # the pairs, in order
    unit = scale[first] + scale[second]
    best: list[dict[int, float]] = [{} for _ in first]
    for w in windows:  # positions w frames before against w frames after
        if n_t <= 2 * w - 1:
            continue
        prev, now = last[: n_t - 2 * w + 1], centre[2 * w - 1 :]
        stay = _norm(now - prev)  # (T', I): each animal keeping its identity
        keep = stay[:, first] + stay[:, second]
        cross = _norm(now[:, first] - prev[:, second]) + _norm(
            now[:, second] - prev[:, first]
        )
        with np.errstate(invalid="ignore"):
            saved = np.nan_to_num((keep - cross) / unit, nan=-np.inf)
            hit = (saved > min_evidence) & (cross < 0.5 * keep)
        rows = np.flatnonzero(hit.any(axis=0))
        saved, hit = saved[:, rows].T, hit[:, rows].T
        for r, p in enumerate(rows):
            # index i compares frame i (before) with i + 2w - 1 (after): the first
            # swapped frame is i + w
            for i in _peaks(hit[r], saved[r], 2 * w):
                f = i + w
                near = [g for g in best[p] if abs(g - f) <= 2 * w]
                if near:  # the shorter window placed it better
                    best[p][near[0]] = max(best[p][near[0]], float(saved[r, i]))
                else:
                    best[p][f] = float(saved[r, i])
    out: list[SwapCandidate] = [
        SwapCandidate(f, (inds[a], inds[b]), "exchange", 10.0 + v)
        for a, b, found in zip(first, second, best, strict=True)
        for f, v in found.items()
    ]
    # one animal jumping far beyond its usual step (not part of an exchange): the
    # median displacement of the keypoints seen in both frames, so that keypoints
    # lost or found do not move it
    jump_scale = _step_scale_of(step, size)
    far = np.nan_to_num(step / jump_scale, nan=0.0)
    jump = (far > 3 * min_evidence) & (step > 0.25 * size)
    taken = np.sort([c.frame for c in out]).astype(int)
    for k in np.flatnonzero(jump.any(axis=0)):
        for i in _peaks(jump[:, k], far[:, k], 2):
            # no exchange within 2 frames of i + 1
            j = np.searchsorted(taken, i - 1)
            if j == len(taken) or taken[j] > i + 3:
                out.append(
                    SwapCandidate(i + 1, (inds[k],), "jump", min(far[i, k] / 2.0, 10.0))
                )
    return out


def likely_swaps(
    ds: xr.Dataset,
    *,
    max_candidates: int = 200,
    closeness: float = 1.0,
    min_evidence: float = 1.0,
) -> list[SwapCandidate]:
    """Frames where identities most likely swapped, most suspicious first.

    Parameters
    ----------
    ds
        Tracked poses (``individual`` dimension).
    max_candidates
        Return at most this many.
    closeness
        A crossing is two animals whose centres are closer than ``closeness`` times
        the animals' median size.
    min_evidence
        An exchange is listed when exchanging two animals' identities between the
        positions 1 (or 2) frames before and after a frame saves more distance than
        ``min_evidence`` times the sum of their usual steps (each animal's 95th
        percentile frame-to-frame step of its centre, the median of its keypoints)
        and halves the distance of keeping them; a jump is one animal's step above
        ``3 * min_evidence`` usual steps and a quarter of the animals' size.

    Returns
    -------
    list of SwapCandidate
        Exchanges (scored by the cost saved), jumps, track ends and starts (scored
        by how close another animal is then) and crossings (local minima of two
        animals' distance, scored by how close), most suspicious first.

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> t = np.arange(40.0)
    >>> a = np.stack([t, t], -1); b = np.stack([t, 40 - t], -1)  # cross at 20
    >>> pos = np.stack([a, a + 3, b, b + 3], 1).reshape(40, 2, 2, 2)
    >>> ds = from_numpy(pos.transpose(0, 3, 2, 1), individual_names=["a", "b"])
    >>> [str(c) for c in likely_swaps(ds)]
    ['frame 20: crossing (a, b)']
    """
    names = [str(i) for i in ds["individual"].values]
    which = [k for k, name in enumerate(names) if name != SINGLE]
    inds = [names[k] for k in which]
    values = ds["position"].transpose("time", "individual", "keypoint", "space").values
    # x and y apart, each (T, I, K): the keypoints of a frame side by side
    x = np.take(values[..., 0], which, axis=1).astype(float, copy=False)
    y = np.take(values[..., 1], which, axis=1).astype(float, copy=False)
    # NumPy sums the keypoints pairwise where they lie side by side in memory, else
    # one after the other: the mean centre follows the layout of the poses
    position = ds["position"]
    raw = position.values
    strides = {
        d: abs(s)
        for d, s, n in zip(position.dims, raw.strides, raw.shape, strict=True)
        if d not in ("individual", "space") and n > 1
    }
    strides["space"] = abs(raw.strides[position.dims.index("space")])
    pairwise = strides.get("keypoint", -1) == min(strides.values())
    with np.errstate(invalid="ignore"):  # infinite coordinates: inf - inf
        centre, middle, sizes, step = _per_frame(x, y, pairwise=pairwise)
    present = ~np.isnan(centre[..., 0])  # NaN only where no keypoint is seen
    size = float(np.nanmedian(sizes)) if np.isfinite(sizes).any() else 1.0
    size = size if size > 0 else 1.0
    with np.errstate(invalid="ignore"):  # infinite coordinates: inf - inf
        out: list[SwapCandidate] = _exchanges(middle, step, inds, size, min_evidence)
    n_t, n_i = present.shape
    dist = _norm(centre[:, :, None] - centre[:, None])  # (T, I, I)
    dist[:, np.arange(n_i), np.arange(n_i)] = np.nan
    nearest = np.where(np.isfinite(dist), dist, np.inf).min(axis=2)
    for k, name in enumerate(inds):
        p = present[:, k].astype(int)
        change = np.flatnonzero(np.diff(p))
        for f in change:
            ends = p[f] == 1
            frame = int(f) if ends else int(f + 1)
            near = nearest[frame, k]
            score = min(
                1.0 + (size / (near + 1e-9) if np.isfinite(near) else 0.0), 10.0
            )
            row = np.where(np.isfinite(dist[frame, k]), dist[frame, k], np.inf)
            partner = int(np.argmin(row))
            who = (name, inds[partner]) if np.isfinite(near) else (name,)
            out.append(
                SwapCandidate(
                    frame, who, "track ends" if ends else "track starts", score
                )
            )
    for a in range(n_i):
        for b in range(a + 1, n_i):
            d = dist[:, a, b]
            close = np.isfinite(d) & (d < closeness * size)
            if not close.any():
                continue
            # one candidate per close encounter: its closest frame
            starts = np.flatnonzero(np.diff(np.r_[0, close.astype(int)]) == 1)
            stops = np.flatnonzero(np.diff(np.r_[close.astype(int), 0]) == -1) + 1
            for s, e in zip(starts, stops, strict=True):
                f = int(s + np.argmin(d[s:e]))  # all finite: close frames
                out.append(
                    SwapCandidate(
                        f,
                        (inds[a], inds[b]),
                        "crossing",
                        min(size / (d[f] + 1e-9), 10.0),
                    )
                )
    out.sort(key=lambda c: (-c.score, c.frame))
    return out[:max_candidates]


def save_tracks(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    scorer: str | None = None,
    columns: pd.MultiIndex | None = None,
    save_csv: bool = False,
) -> Path:
    """Write tracked poses as DeepLabCut's ``_el.h5`` (key ``tracks``), atomically.

    Parameters
    ----------
    ds
        Poses with an ``individual`` dimension (``single`` holds unique bodyparts).
    path
        The ``.h5`` (replaced); a ``.csv`` path gets DeepLabCut's CSV only.
    scorer
        The scorer level (default: the ``DLC_…`` part of the name, else ``posekit``).
    columns
        The columns to write, in order (e.g. those of the file the poses were read
        from). Default: DeepLabCut's, each animal its multi-animal bodyparts and
        ``single`` the bodyparts only it has.
    save_csv
        Also write the ``.csv`` twin.

    Returns
    -------
    Path
        The file.
    """
    import re

    from ..io.dlc import predictions_frame, write_predictions

    path = Path(path)
    if scorer is None:
        m = re.search(r"(DLC_.*?)(_el|_bx|_sk)?$", path.stem)
        scorer = m.group(1) if m else "posekit"
    inds = [str(i) for i in ds["individual"].values]
    bps = [str(k) for k in ds["keypoint"].values]
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["confidence"].transpose("time", "individual", "keypoint").values
    xyp = np.concatenate([pos[..., :2], conf[..., None]], axis=-1)
    df = predictions_frame(xyp, scorer, bps, individuals=inds)
    if columns is not None:
        wanted = [(scorer, *c[1:]) for c in columns]
        df = df[[c for c in wanted if c in df.columns]]
    elif SINGLE in inds:
        has = df.notna().any(axis=0)
        unique = {c[2] for c in df.columns if c[1] == SINGLE and has[c]}
        keep = [c for c in df.columns if (c[1] == SINGLE) == (c[2] in unique)]
        df = df[keep]
    if path.suffix.lower() == ".csv":
        from .._fileio import atomic_path

        with atomic_path(path) as tmp:
            df.to_csv(tmp)
        return path
    return write_predictions(df, path, save_csv=save_csv, key="tracks")
