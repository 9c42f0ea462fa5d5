"""Identity correction of tracked animals: swap two identities, find likely swaps.

Where DeepLabCut users fix swapped identities one frame at a time (DLC issues #2662,
#2867, #3392; a bulk swap asked for in #2670), these work on whole stretches of a
tracked video, as a movement-schema Dataset with an ``individual`` dimension:

- :func:`swap_identities` exchanges two individuals from a frame onwards, or over a
  range of frames;
- :func:`likely_swaps` lists the frames where a swap most likely happened: where an
  animal's track ends or starts again (a tracklet end; the stitcher joined pieces
  there) and where two animals come close (a crossing), most suspicious first;
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
        ``"track ends"``, ``"track starts"`` or ``"crossing"``.
    score
        How suspicious (higher: more).
    """

    frame: int
    individuals: tuple[str, ...]
    reason: str
    score: float

    def __str__(self) -> str:
        return f"frame {self.frame}: {self.reason} ({', '.join(self.individuals)})"


def likely_swaps(
    ds: xr.Dataset, *, max_candidates: int = 200, closeness: float = 1.0
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

    Returns
    -------
    list of SwapCandidate
        Track ends and starts (scored by how close another animal is then) and
        crossings (local minima of two animals' distance, scored by how close).

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
    inds = [str(i) for i in ds["individual"].values if str(i) != SINGLE]
    pos = (
        ds["position"]
        .sel(individual=inds)
        .transpose("time", "individual", "keypoint", "space")
        .values[..., :2]
        .astype(float)
    )
    ok = np.isfinite(pos).all(axis=-1)
    n_ok = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(ok[..., None], pos, 0.0).sum(axis=2) / n_ok[..., None]
    present = n_ok > 0
    centre[~present] = np.nan
    hi = np.where(ok[..., None], pos, -np.inf).max(axis=2)
    lo = np.where(ok[..., None], pos, np.inf).min(axis=2)
    sizes = np.where(present, (hi - lo).max(axis=-1), np.nan)
    size = float(np.nanmedian(sizes)) if np.isfinite(sizes).any() else 1.0
    size = size if size > 0 else 1.0
    out: list[SwapCandidate] = []
    n_t, n_i = present.shape
    dist = np.linalg.norm(centre[:, :, None] - centre[:, None], axis=-1)  # (T, I, I)
    dist[:, np.arange(n_i), np.arange(n_i)] = np.nan
    nearest = np.where(np.isfinite(dist), dist, np.inf).min(axis=2)
    for k, name in enumerate(inds):
        p = present[:, k].astype(int)
        change = np.flatnonzero(np.diff(p))
        for f in change:
            ends = p[f] == 1
            frame = int(f) if ends else int(f + 1)
            near = nearest[frame, k]
            score = 1.0 + (size / (near + 1e-9) if np.isfinite(near) else 0.0)
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
                        f, (inds[a], inds[b]), "crossing", size / (d[f] + 1e-9)
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
        The ``.h5`` (replaced).
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
    return write_predictions(df, path, save_csv=save_csv, key="tracks")
