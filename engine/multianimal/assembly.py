"""Assemble a frame's candidate keypoints into animals with part-affinity fields.

DeepLabCut's ``Assembler`` (``inferenceutils.py``) in NumPy/SciPy:

1. **Affinities** (:func:`paf_costs`): for every part-affinity edge ``(a, b)`` and every
   pair of candidates of ``a`` and ``b``, the line integral of the edge's field along
   the segment between them: the mean, over ``n_samples`` points, of the dot product
   of the field with the segment's direction (DeepLabCut's ``m1``). All edges and all
   pairs are computed at once on padded arrays; there is no loop over pixels.
2. **Links** (:meth:`Assembler.links`): per edge, the optimal pairing of the
   ``max_individuals`` most confident candidates of each end (candidates of one
   bodypart closer than ``peak_distance`` pixels to a more confident one are
   duplicates of it and left out first, so that a second animal does not take a
   duplicate peak of the first over its own, less confident, peak)
   (``scipy.optimize.linear_sum_assignment``, maximising affinity); pairs below
   ``min_affinity`` are dropped.
3. **Animals** (:meth:`Assembler.assemble`): links are merged strongest first into
   groups that never hold two candidates of the same bodypart (a union-find, as
   DeepLabCut builds assemblies from its sorted links). Groups beyond
   ``max_individuals`` are fused into a compatible group they have affinity with, or
   dropped; candidates left without a link (a bodypart whose links are weak, e.g.
   partly occluded) join the nearest animal that lacks that bodypart (or, with
   ``min_keypoints=1``, stay animals of their own); animals with fewer than
   ``min_keypoints`` keypoints are dropped.
4. **Unique bodyparts**: the most confident candidate of each unique channel.

An animal is ``(n_multi, 3)``: ``x, y, likelihood`` (NaN where the bodypart was not
found). Its score (for ranking, as in mAP) is the sum of its keypoints' likelihoods
divided by the number of bodyparts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .peaks import FrameDetections, suppress_duplicates, to_map_cells

__all__ = ["AssemblyConfig", "Assemblies", "Assembler", "paf_costs"]


@dataclass(frozen=True)
class AssemblyConfig:
    """How candidates are assembled into animals (frozen, validated).

    Attributes
    ----------
    max_individuals
        Animals per frame at most.
    min_keypoints
        An animal needs at least this many keypoints.
    pcutoff
        Candidates scoring below are ignored (DeepLabCut's assembly ``pcutoff``).
    min_affinity
        Links with a lower line integral are dropped.
    n_samples
        Points sampled along each segment for the line integral.
    add_discarded
        Give unlinked candidates to the nearest animal lacking their bodypart.
    discard_distance
        How far from an animal (in units of that animal's size, the larger side of its
        keypoints' box) an unlinked candidate may be to join it.

    Examples
    --------
    >>> AssemblyConfig(max_individuals=3).min_keypoints
    2
    """

    max_individuals: int
    min_keypoints: int = 2
    pcutoff: float = 0.1
    min_affinity: float = 0.05
    n_samples: int = 10
    add_discarded: bool = True
    discard_distance: float = 0.75

    def __post_init__(self) -> None:
        for name, lo in (
            ("max_individuals", 1),
            ("min_keypoints", 1),
            ("n_samples", 2),
        ):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < lo:
                raise ValueError(
                    f"{name} must be an integer >= {lo}. Received: {name}={value!r}"
                )
            object.__setattr__(self, name, int(value))
        for name in ("pcutoff", "min_affinity", "discard_distance"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={value!r}")
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> AssemblyConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssemblyConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"Unknown AssemblyConfig fields {sorted(unknown)}")
        return cls(**data)


class Assemblies(NamedTuple):
    """The animals of one frame.

    Attributes
    ----------
    animals
        ``(n, n_multi, 3)`` ``x, y, likelihood``; NaN where a bodypart is missing.
    scores
        ``(n,)`` ranking score of each animal.
    unique
        ``(n_unique, 3)`` the unique bodyparts (NaN where not found).
    """

    animals: np.ndarray
    scores: np.ndarray
    unique: np.ndarray


def paf_costs(
    detections: FrameDetections,
    paf: np.ndarray,
    edges: Sequence[tuple[int, int]],
    *,
    stride: float = 8.0,
    input_scale: float = 1.0,
    n_samples: int = 10,
) -> dict[int, dict[str, np.ndarray]]:
    """Part-affinity line integrals of every candidate pair of every edge.

    Parameters
    ----------
    detections
        The frame's candidates (frame pixels).
    paf
        ``(h, w, 2E)`` the frame's part-affinity fields.
    edges
        ``E`` channel pairs (the model's graph).
    stride, input_scale
        Map geometry (cell centres, see :func:`~.peaks.to_frame_pixels`).
    n_samples
        Points per segment, from one end to the other.

    Returns
    -------
    dict
        Edge index → ``{"m1": (n_a, n_b) mean dot product in [-1, 1],
        "distance": (n_a, n_b) pixels}``; edges with no candidate at one end are
        left out. Also stored in ``detections.costs``.

    Examples
    --------
    A field pointing right along row 0; a candidate pair along it and one across:

    >>> paf = np.zeros((2, 4, 2)); paf[0, :, 0] = 1.0
    >>> det = FrameDetections([np.array([[4.0, 4.0]]), np.array([[28.0, 4.0],
    ...                         [4.0, 12.0]])], [np.ones(1), np.ones(2)])
    >>> paf_costs(det, paf, [(0, 1)], stride=8)[0]["m1"].round(2).tolist()
    [[1.0, 0.0]]
    """
    paf = np.asarray(paf, np.float32)
    h, w = paf.shape[:2]
    idx = np.asarray(edges, int).reshape(-1, 2)
    counts = np.array([len(c) for c in detections.coordinates], int)
    live = np.flatnonzero((counts[idx[:, 0]] > 0) & (counts[idx[:, 1]] > 0))
    out: dict[int, dict[str, np.ndarray]] = {}
    if not len(live):
        detections.costs = out
        return out
    m = int(counts.max())
    pts = np.full((len(counts), m, 2), np.nan)
    for k, c in enumerate(detections.coordinates):
        pts[k, : len(c)] = c
    a = pts[idx[live, 0]]  # (L, M, 2) frame pixels
    b = pts[idx[live, 1]]
    vec = b[:, None, :, :] - a[:, :, None, :]  # (L, M, M, 2)
    dist = np.linalg.norm(vec, axis=-1)
    unit = vec / np.where(dist > 1e-9, dist, 1.0)[..., None]
    ca, ra = to_map_cells(a[..., 0], a[..., 1], stride=stride, input_scale=input_scale)
    cb, rb = to_map_cells(b[..., 0], b[..., 1], stride=stride, input_scale=input_scale)
    t = np.linspace(0.0, 1.0, int(n_samples))
    cols = ca[:, :, None, None] + t * (cb[:, None, :, None] - ca[:, :, None, None])
    rows = ra[:, :, None, None] + t * (rb[:, None, :, None] - ra[:, :, None, None])
    ok = np.isfinite(cols) & np.isfinite(rows)
    ci = np.clip(np.rint(np.where(ok, cols, 0)), 0, w - 1).astype(int)
    ri = np.clip(np.rint(np.where(ok, rows, 0)), 0, h - 1).astype(int)
    ch = 2 * live[:, None, None, None]
    fx = paf[ri, ci, ch]
    fy = paf[ri, ci, ch + 1]
    dot = fx * unit[..., 0, None] + fy * unit[..., 1, None]  # (L, M, M, T)
    affinity = dot.mean(axis=-1)
    for j, e in enumerate(live):
        na, nb = counts[idx[e, 0]], counts[idx[e, 1]]
        out[int(e)] = {
            "m1": affinity[j, :na, :nb].astype(float),
            "distance": dist[j, :na, :nb].astype(float),
        }
    detections.costs = out
    return out


class _Groups:
    """Union-find over candidates that keeps one candidate per bodypart in a group."""

    def __init__(self, channels: np.ndarray) -> None:
        self.parent = list(range(len(channels)))
        self.mask = [1 << int(c) for c in channels]
        self.linked = [False] * len(channels)
        self.affinity = [0.0] * len(channels)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int, weight: float) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            self.affinity[ri] += weight
            return True
        if self.mask[ri] & self.mask[rj]:
            return False  # a bodypart twice
        self.parent[rj] = ri
        self.mask[ri] |= self.mask[rj]
        self.affinity[ri] += self.affinity[rj] + weight
        self.linked[i] = self.linked[j] = True
        return True


class Assembler:
    """Assemble candidates into animals (see the module docstring).

    Parameters
    ----------
    config
        Assembly settings.
    edges
        The part-affinity graph: channel pairs, in the order of the model's PAF
        channels (edges touching a unique channel are ignored).
    n_multi
        Multi-animal bodyparts (channels ``0 .. n_multi - 1``).
    n_unique
        Unique bodyparts (the channels after them).
    peak_distance
        Candidates of one bodypart closer than this (frame pixels) to a more
        confident one are duplicates and not used
        (:func:`~.peaks.suppress_duplicates`; ``0``: all used). The predictor passes
        its NMS distance; for detections read from a ``_full.pickle`` use
        :func:`~.peaks.nms_distance` of its metadata.

    Examples
    --------
    >>> det = FrameDetections(
    ...     [np.array([[0.0, 0.0], [50.0, 0.0]]), np.array([[50.0, 10.0], [0.0, 10.0]])],
    ...     [np.ones(2), np.ones(2)],
    ...     {0: {"m1": np.array([[0.1, 0.9], [0.8, 0.0]]), "distance": np.ones((2, 2))}})
    >>> out = Assembler(AssemblyConfig(max_individuals=2), [(0, 1)], 2).assemble(det)
    >>> out.animals[..., :2].tolist()
    [[[0.0, 0.0], [0.0, 10.0]], [[50.0, 0.0], [50.0, 10.0]]]
    """

    def __init__(
        self,
        config: AssemblyConfig,
        edges: Sequence[tuple[int, int]],
        n_multi: int,
        n_unique: int = 0,
        *,
        peak_distance: float = 0.0,
    ) -> None:
        self.config = config
        self.edges = [(int(a), int(b)) for a, b in edges]
        self.n_multi = int(n_multi)
        self.n_unique = int(n_unique)
        self.peak_distance = float(peak_distance)

    # ------------------------------------------------------------------ links
    def _kept(self, det: FrameDetections) -> list[np.ndarray]:
        """Per channel, indices of the candidates used.

        Above pcutoff, duplicates (closer than ``peak_distance`` to a more confident
        candidate) left out, the ``max_individuals`` most confident.
        """
        keep = []
        for xy, conf in zip(
            det.coordinates[: self.n_multi], det.confidence[: self.n_multi], strict=True
        ):
            order = suppress_duplicates(xy, conf, self.peak_distance)
            order = order[conf[order] >= self.config.pcutoff]
            keep.append(order[: self.config.max_individuals])
        return keep

    def links(
        self, det: FrameDetections, keep: list[np.ndarray] | None = None
    ) -> list[tuple[float, int, int, int, int]]:
        """Find the optimal links of each edge.

        Parameters
        ----------
        det
            Candidates with ``costs`` filled (:func:`paf_costs`).
        keep
            Candidates used per channel (default: :meth:`_kept`).

        Returns
        -------
        list of tuple
            ``(affinity, channel_a, candidate_a, channel_b, candidate_b)``.
        """
        keep = self._kept(det) if keep is None else keep
        out = []
        for e, (a, b) in enumerate(self.edges):
            if a >= self.n_multi or b >= self.n_multi or e not in det.costs:
                continue
            ka, kb = keep[a], keep[b]
            if not len(ka) or not len(kb):
                continue
            aff = np.asarray(det.costs[e]["m1"])[np.ix_(ka, kb)]
            rows, cols = linear_sum_assignment(
                np.nan_to_num(aff, nan=-1.0), maximize=True
            )
            for r, c in zip(rows, cols, strict=True):
                if aff[r, c] >= self.config.min_affinity:
                    out.append((float(aff[r, c]), a, int(ka[r]), b, int(kb[c])))
        return out

    # ------------------------------------------------------------------ assembly
    def assemble(self, det: FrameDetections) -> Assemblies:
        """Assemble one frame (see the module docstring).

        Parameters
        ----------
        det
            The frame's candidates, with ``costs`` (:func:`paf_costs`).

        Returns
        -------
        Assemblies
        """
        cfg = self.config
        keep = self._kept(det)
        ids = [(k, int(i)) for k in range(self.n_multi) for i in keep[k]]
        index = {key: n for n, key in enumerate(ids)}
        channels = np.array([k for k, _ in ids], int)
        groups = _Groups(channels)
        links = sorted(self.links(det, keep), reverse=True)
        for aff, a, ia, b, ib in links:
            groups.union(index[(a, ia)], index[(b, ib)], aff)
        roots: dict[int, list[int]] = {}
        for n in range(len(ids)):
            if groups.linked[n] or groups.find(n) != n:
                roots.setdefault(groups.find(n), []).append(n)
        members = list(roots.values())
        members = self._fuse(members, ids, channels, det, groups)
        if cfg.add_discarded:
            members = self._add_discarded(members, ids, channels, det)
        if cfg.min_keypoints == 1:  # a lone candidate may be an animal of its own
            used = {n for m in members for n in m}
            members += [[n] for n in range(len(ids)) if n not in used]
        animals = [self._animal(m, ids, det) for m in members]
        animals = [
            a for a in animals if np.isfinite(a[:, 0]).sum() >= cfg.min_keypoints
        ]
        scores = np.array(
            [np.nansum(a[:, 2]) / max(self.n_multi, 1) for a in animals], float
        )
        order = np.argsort(-scores, kind="stable")[: cfg.max_individuals]
        stacked = (
            np.stack([animals[i] for i in order])
            if len(order)
            else np.zeros((0, self.n_multi, 3))
        )
        return Assemblies(stacked, scores[order], self._unique(det))

    def _animal(
        self, members: list[int], ids: list[tuple[int, int]], det: FrameDetections
    ) -> np.ndarray:
        out = np.full((self.n_multi, 3), np.nan)
        for n in members:
            k, i = ids[n]
            out[k, :2] = det.coordinates[k][i]
            out[k, 2] = det.confidence[k][i]
        return out

    def _fuse(
        self,
        members: list[list[int]],
        ids: list[tuple[int, int]],
        channels: np.ndarray,
        det: FrameDetections,
        groups: _Groups,
    ) -> list[list[int]]:
        """Fuse groups beyond ``max_individuals`` into a compatible one, or drop them."""
        members = sorted(members, key=len, reverse=True)
        while len(members) > self.config.max_individuals:
            small = members.pop()
            mask_s = _mask(channels, small)
            best, best_aff = None, self.config.min_affinity
            for g, other in enumerate(members):
                if mask_s & _mask(channels, other):
                    continue
                aff = self._between(small, other, ids, det)
                if aff > best_aff:
                    best, best_aff = g, aff
            if best is not None:
                members[best] = members[best] + small
                members.sort(key=len, reverse=True)
        return members

    def _between(
        self,
        one: list[int],
        other: list[int],
        ids: list[tuple[int, int]],
        det: FrameDetections,
    ) -> float:
        """Mean affinity of the edges joining two groups (0 without any)."""
        at = {ids[n][0]: ids[n][1] for n in other}
        total, count = 0.0, 0
        for n in one:
            k, i = ids[n]
            for e, (a, b) in enumerate(self.edges):
                if e not in det.costs:
                    continue
                if a == k and b in at:
                    total += float(det.costs[e]["m1"][i, at[b]])
                elif b == k and a in at:
                    total += float(det.costs[e]["m1"][at[a], i])
                else:
                    continue
                count += 1
        return total / count if count else 0.0

    def _add_discarded(
        self,
        members: list[list[int]],
        ids: list[tuple[int, int]],
        channels: np.ndarray,
        det: FrameDetections,
    ) -> list[list[int]]:
        """Give each unlinked candidate to the nearest animal lacking its bodypart."""
        used = {n for m in members for n in m}
        loose = [n for n in range(len(ids)) if n not in used]
        if not loose or not members:
            return members
        centres, sizes = [], []
        for m in members:
            xy = np.array([det.coordinates[ids[n][0]][ids[n][1]] for n in m])
            centres.append(xy.mean(axis=0))
            extent = np.ptp(xy, axis=0).max() if len(xy) > 1 else 0.0
            sizes.append(extent)
        typical = float(np.median([s for s in sizes if s > 0] or [0.0]))
        conf = np.array([det.confidence[ids[n][0]][ids[n][1]] for n in loose])
        for n in [loose[j] for j in np.argsort(-conf, kind="stable")]:
            k, i = ids[n]
            xy = det.coordinates[k][i]
            best, best_d = None, np.inf
            for g, m in enumerate(members):
                if _mask(channels, m) & (1 << int(k)):
                    continue
                d = float(np.linalg.norm(xy - centres[g]))
                reach = self.config.discard_distance * max(sizes[g], typical)
                if d <= reach and d < best_d:
                    best, best_d = g, d
            if best is not None:
                members[best] = members[best] + [n]
        return members

    def _unique(self, det: FrameDetections) -> np.ndarray:
        out = np.full((self.n_unique, 3), np.nan)
        for u in range(self.n_unique):
            k = self.n_multi + u
            if k >= det.n_channels or not len(det.confidence[k]):
                continue
            i = int(np.argmax(det.confidence[k]))
            if det.confidence[k][i] >= self.config.pcutoff:
                out[u, :2] = det.coordinates[k][i]
                out[u, 2] = det.confidence[k][i]
        return out


def _mask(channels: np.ndarray, members: list[int]) -> int:
    out = 0
    for n in members:
        out |= 1 << int(channels[n])
    return out
