"""Tracklet stitching: join tracklets into the requested number of animals, globally.

DeepLabCut's ``TrackletStitcher`` (``refine_training_dataset/stitch.py``) solves a
minimum-cost flow over the tracklets; so does :func:`stitch_tracklets`, with SciPy's
linear-programming solver (HiGHS) on the flow's network, whose optimum is integral:

- every tracklet is a node split in two (in → out); passing through it earns a reward
  per frame it covers, so the flow covers as much of the video as it can;
- an out → in arc joins a tracklet to one that starts after it ends (within
  ``max_gap`` frames); its cost is how far apart they are, in units of the animals'
  size: the end of the first moved on by its velocity, against the start of the
  second moved back by its own, plus ``gap_cost`` per frame of gap;
- ``n_tracks`` units of flow go from a source to a sink: each unit is one animal's
  whole track (starting late or ending early costs ``gap_cost`` per missing frame).

Tracklets the flow leaves out (tracklets of an animal that overlapped another) are
then put into the gap of the track they fit best, if their joining cost is below
``residual_cost``; the rest are dropped. The result is ``(n_frames, n_tracks, K, 3)``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from .tracking import Tracklet

__all__ = ["StitchConfig", "link_costs", "stitch_tracklets"]

logger = logging.getLogger("posekit.engine.multianimal")


@dataclass(frozen=True)
class StitchConfig:
    """Settings of tracklet stitching (frozen, validated).

    Attributes
    ----------
    n_tracks
        Animals (tracks) wanted.
    max_gap
        Largest gap, in frames, between two tracklets that may be joined (``None``:
        any).
    gap_cost
        Cost of a frame without the animal (in units of animal size per frame).
    frame_reward
        Reward of each frame a track covers.
    residual_cost
        Largest cost at which a left-over tracklet still joins a track.
    velocity_frames
        Frames at the end (start) of a tracklet its velocity is measured over.

    Examples
    --------
    >>> StitchConfig(n_tracks=2).max_gap is None
    True
    """

    n_tracks: int
    max_gap: int | None = None
    gap_cost: float = 0.01
    frame_reward: float = 1.0
    residual_cost: float = 1.0
    velocity_frames: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.n_tracks, int | np.integer) or self.n_tracks < 1:
            raise ValueError(
                f"n_tracks must be an integer >= 1. Received: {self.n_tracks!r}"
            )
        object.__setattr__(self, "n_tracks", int(self.n_tracks))
        if self.max_gap is not None and int(self.max_gap) < 1:
            raise ValueError(
                f"max_gap must be >= 1 or None. Received: {self.max_gap!r}"
            )
        for name in ("gap_cost", "frame_reward", "residual_cost"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(
                    f"{name} must be >= 0. Received: {getattr(self, name)!r}"
                )

    def replace(self, **changes: Any) -> StitchConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        return dataclasses.asdict(self)


def _ends(t: Tracklet, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centroid and velocity (px/frame) at the start and at the end of a tracklet."""
    c = t.centroids()
    f = t.frames.astype(float)
    k = min(n, len(t))
    v_end = (c[-1] - c[-k]) / max(f[-1] - f[-k], 1.0) if k > 1 else np.zeros(2)
    v_start = (c[k - 1] - c[0]) / max(f[k - 1] - f[0], 1.0) if k > 1 else np.zeros(2)
    return c[0], v_start, c[-1], v_end


def _scale(tracklets: Sequence[Tracklet]) -> float:
    sizes = []
    for t in tracklets:
        xy = t.keypoints[..., :2]
        ok = np.isfinite(xy).all(axis=-1)
        for frame_xy, frame_ok in zip(
            xy[:: max(1, len(t) // 5)], ok[:: max(1, len(t) // 5)], strict=True
        ):
            if frame_ok.sum() >= 2:
                sizes.append(np.ptp(frame_xy[frame_ok], axis=0).max())
    return float(np.median(sizes)) if sizes else 1.0


def link_costs(
    tracklets: Sequence[Tracklet], config: StitchConfig, scale: float | None = None
) -> dict[tuple[int, int], float]:
    """Cost of joining each tracklet to each later one (see the module docstring).

    Parameters
    ----------
    tracklets
        The tracklets (positions in this list name them).
    config
        Stitching settings.
    scale
        Animal size in pixels (default: the median over the tracklets).

    Returns
    -------
    dict
        ``(i, j)`` → cost, for every ``j`` starting after ``i`` ends (within
        ``max_gap``).
    """
    scale = scale or _scale(tracklets)
    n = config.velocity_frames
    ends = [_ends(t, n) for t in tracklets]
    starts = np.array([t.start for t in tracklets])
    out = {}
    for i, ti in enumerate(tracklets):
        later = np.flatnonzero(starts > ti.end)
        if config.max_gap is not None:
            later = later[starts[later] - ti.end <= config.max_gap]
        if not len(later):
            continue
        _, _, c_end, v_end = ends[i]
        for j in later:
            c_start, v_start, _, _ = ends[j]
            gap = float(starts[j] - ti.end)
            reach = min(gap, 10.0)  # extrapolate a velocity over a few frames only
            forward = np.linalg.norm(c_end + v_end * reach - c_start)
            backward = np.linalg.norm(c_start - v_start * reach - c_end)
            cost = 0.5 * (forward + backward) / scale + config.gap_cost * gap
            out[(i, int(j))] = float(cost) if np.isfinite(cost) else 1e6
    return out


def stitch_tracklets(
    tracklets: Sequence[Tracklet],
    n_frames: int,
    config: StitchConfig,
) -> tuple[np.ndarray, list[list[int]]]:
    """Join tracklets into ``n_tracks`` whole tracks (minimum-cost flow).

    Parameters
    ----------
    tracklets
        From :func:`~.tracking.track_animals`.
    n_frames
        Frames of the video.
    config
        Stitching settings.

    Returns
    -------
    tracks : numpy.ndarray
        ``(n_frames, n_tracks, K, 3)``; NaN where a track has no animal.
    members : list of list of int
        The positions (in ``tracklets``) of each track's tracklets, in time order.

    Examples
    --------
    Animal 0 moves right along y = 0, animal 1 along y = 40; tracking broke both
    in the middle and the pieces come in a shuffled order:

    >>> def piece(i, f0, f1, y):
    ...     f = np.arange(f0, f1)
    ...     kp = np.stack([np.c_[f, np.full(len(f), y), np.ones(len(f))],
    ...                    np.c_[f + 5, np.full(len(f), y), np.ones(len(f))]], 1)
    ...     return Tracklet(i, f, kp.astype(float))
    >>> parts = [piece(0, 0, 10, 0), piece(1, 0, 12, 40), piece(2, 13, 20, 40),
    ...          piece(3, 11, 20, 0)]
    >>> tracks, members = stitch_tracklets(parts, 20, StitchConfig(n_tracks=2))
    >>> sorted(members)
    [[0, 3], [1, 2]]
    """
    k_tracks = config.n_tracks
    if not tracklets:
        return np.full((n_frames, k_tracks, 0, 3), np.nan), [
            [] for _ in range(k_tracks)
        ]
    n_kp = tracklets[0].keypoints.shape[1]
    scale = _scale(tracklets)
    links = link_costs(tracklets, config, scale)
    members = _min_cost_flow(tracklets, n_frames, config, links)
    members = _add_residuals(tracklets, members, links, config)
    tracks = np.full((n_frames, k_tracks, n_kp, 3), np.nan)
    for k, ids in enumerate(members):
        for i in ids:
            t = tracklets[i]
            ok = (t.frames >= 0) & (t.frames < n_frames)
            tracks[t.frames[ok], k] = t.keypoints[ok]
    return tracks, members


def _min_cost_flow(
    tracklets: Sequence[Tracklet],
    n_frames: int,
    config: StitchConfig,
    links: dict[tuple[int, int], float],
) -> list[list[int]]:
    """Solve the flow (HiGHS) and read each unit's path of tracklets."""
    n = len(tracklets)
    k = config.n_tracks
    src, snk = 2 * n, 2 * n + 1  # in_i = 2i, out_i = 2i + 1
    tails, heads, costs, caps = [], [], [], []

    def arc(u: int, v: int, cost: float, cap: float = 1.0) -> None:
        tails.append(u)
        heads.append(v)
        costs.append(cost)
        caps.append(cap)

    g = config.gap_cost
    for i, t in enumerate(tracklets):
        arc(src, 2 * i, g * t.start)
        arc(2 * i, 2 * i + 1, -config.frame_reward * len(t))
        arc(2 * i + 1, snk, g * (n_frames - 1 - t.end))
    for (i, j), cost in links.items():
        arc(2 * i + 1, 2 * j, cost)
    arc(src, snk, g * n_frames, float(k))  # an animal never seen
    m = len(tails)
    rows = np.concatenate([tails, heads])
    cols = np.concatenate([np.arange(m), np.arange(m)])
    vals = np.concatenate([np.ones(m), -np.ones(m)])  # out - in
    a_eq = coo_matrix((vals, (rows, cols)), shape=(2 * n + 2, m)).tocsr()
    b_eq = np.zeros(2 * n + 2)
    b_eq[src], b_eq[snk] = k, -k
    res = linprog(
        np.asarray(costs),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=list(zip([0.0] * m, caps, strict=True)),
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"tracklet stitching found no flow: {res.message}")
    flow = np.rint(res.x).astype(int)
    nxt: dict[int, list[int]] = {}
    for a in np.flatnonzero(flow > 0):
        nxt.setdefault(tails[a], []).extend([heads[a]] * int(flow[a]))
    paths = []
    for node in nxt.get(src, []):
        path = []
        while node != snk:
            i = node // 2
            path.append(i)
            node = nxt[2 * i + 1].pop()
        paths.append(path)
    paths += [[] for _ in range(k - len(paths))]
    paths.sort(key=lambda p: (tracklets[p[0]].start if p else n_frames, p))
    return paths


def _add_residuals(
    tracklets: Sequence[Tracklet],
    members: list[list[int]],
    links: dict[tuple[int, int], float],
    config: StitchConfig,
) -> list[list[int]]:
    """Put left-over tracklets into the free gap of the track they fit best."""
    used = {i for m in members for i in m}
    rest = sorted(
        (i for i in range(len(tracklets)) if i not in used),
        key=lambda i: -len(tracklets[i]),
    )
    for i in rest:
        t = tracklets[i]
        best, best_cost = None, config.residual_cost
        for k, ids in enumerate(members):
            before = [j for j in ids if tracklets[j].end < t.start]
            after = [j for j in ids if tracklets[j].start > t.end]
            if len(before) + len(after) != len(ids):
                continue  # overlaps the track
            costs = []
            if before:
                costs.append(links.get((before[-1], i), np.inf))
            if after:
                costs.append(links.get((i, after[0]), np.inf))
            cost = max(costs) if costs else 0.5 * config.residual_cost
            if cost < best_cost:
                best, best_cost = k, cost
        if best is not None:
            members[best] = sorted(
                [*members[best], i], key=lambda j: tracklets[j].start
            )
    return members
