"""The part-affinity graph: which pairs of bodyparts get a part-affinity field.

DeepLabCut trains a part-affinity field (PAF) for each edge of
``partaffinityfield_graph``, by default every pair of multi-animal bodyparts; when that
full graph has more than 105 edges it is pruned to an average degree of 6
(``n_edges_threshold`` and ``paf_graph_degree`` of ``create_multianimaltraining_dataset``).
:func:`paf_graph` does the same, and prunes with the labels: :func:`data_driven_edges`
keeps a spanning tree of the bodyparts whose distance varies least relative to its
length (rigid, short links that tell animals apart), then adds the next most rigid
pairs up to the number of edges wanted.

Edges are pairs of indices into the multi-animal bodyparts (unique bodyparts are not
assembled).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree

__all__ = [
    "FULL_GRAPH_MAX_EDGES",
    "GRAPH_DEGREE",
    "all_pairs",
    "skeleton_edges",
    "edge_costs",
    "data_driven_edges",
    "paf_graph",
]

#: A full graph with more edges than this is pruned (DLC's ``n_edges_threshold``).
FULL_GRAPH_MAX_EDGES = 105
#: Average degree of a pruned graph (DLC's ``paf_graph_degree``).
GRAPH_DEGREE = 6


def all_pairs(n: int) -> list[tuple[int, int]]:
    """Every pair of ``n`` bodyparts.

    Examples
    --------
    >>> all_pairs(3)
    [(0, 1), (0, 2), (1, 2)]
    """
    return [(int(a), int(b)) for a, b in itertools.combinations(range(int(n)), 2)]


def skeleton_edges(
    bodyparts: Sequence[str], skeleton: Sequence[Sequence[str]]
) -> list[tuple[int, int]]:
    """Turn the skeleton's edges into index pairs (edges naming other parts are left out).

    Examples
    --------
    >>> skeleton_edges(["a", "b", "c"], [["a", "b"], ["b", "lever"], ["c", "b"]])
    [(0, 1), (1, 2)]
    """
    names = list(bodyparts)
    out: list[tuple[int, int]] = []
    for a, b in skeleton:
        if a in names and b in names and a != b:
            edge = tuple(sorted((names.index(a), names.index(b))))
            if edge not in out:
                out.append(edge)  # type: ignore[arg-type]
    return out


def edge_costs(keypoints: np.ndarray) -> np.ndarray:
    """How unreliable each pair of bodyparts is as a link within an animal.

    The cost of a pair is the coefficient of variation of its length over the labelled
    animals (standard deviation / mean: a rigid link is cheap), plus its median length
    relative to the animal's size (a short link is cheap). Pairs never labelled
    together cost ``inf``.

    Parameters
    ----------
    keypoints
        ``(n_animals, K, 2)`` labelled animals (frames × individuals flattened), NaN
        for missing points.

    Returns
    -------
    numpy.ndarray
        ``(K, K)`` symmetric costs (diagonal ``inf``).
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (n, K, 2). Received shape {kp.shape}")
    d = np.linalg.norm(kp[:, :, None] - kp[:, None, :], axis=-1)  # (n, K, K)
    size = np.nanmax(d.reshape(len(kp), -1), axis=1, initial=0.0)  # animal extent
    size = np.where(size > 0, size, np.nan)
    rel = d / size[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.isfinite(d).sum(axis=0)
        mean = np.nanmean(np.where(n[None] > 0, d, 0.0), axis=0)
        std = np.nanstd(np.where(n[None] > 0, d, 0.0), axis=0)
        cv = std / mean
        length = np.nanmedian(np.where(n[None] > 0, rel, 0.0), axis=0)
    cost = cv + length
    cost = np.where((n >= 2) & np.isfinite(cost), cost, np.inf)
    np.fill_diagonal(cost, np.inf)
    return cost


def data_driven_edges(keypoints: np.ndarray, n_edges: int) -> list[tuple[int, int]]:
    """Choose ``n_edges`` links from the labels: a spanning tree, then the most rigid.

    Parameters
    ----------
    keypoints
        ``(n_animals, K, 2)`` labelled animals.
    n_edges
        Edges wanted (at least ``K - 1`` so that every bodypart is linked).

    Returns
    -------
    list of (int, int)
        Sorted index pairs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> base = np.array([[0.0, 0], [10, 0], [20, 0], [10, 30]])
    >>> kp = base + rng.normal(0, [[0.1], [0.1], [0.1], [5.0]], (50, 4, 2))
    >>> data_driven_edges(kp, 3)  # the wobbly part 3 hangs on one link
    [(0, 1), (1, 2), (1, 3)]
    """
    cost = edge_costs(keypoints)
    k = cost.shape[0]
    if k < 2:
        return []
    n_edges = max(k - 1, min(int(n_edges), k * (k - 1) // 2))
    finite = np.isfinite(cost)
    big = (cost[finite].max() if finite.any() else 1.0) * 10 + 1.0
    # a tree over every bodypart, never-seen pairs only where nothing else links
    weights = np.where(finite, cost + 1e-9, big)
    np.fill_diagonal(weights, 0.0)
    tree = minimum_spanning_tree(np.triu(weights)).tocoo()
    edges = {
        tuple(sorted((int(a), int(b)))) for a, b in zip(tree.row, tree.col, strict=True)
    }
    rest = sorted(
        (float(cost[a, b]), a, b)
        for a, b in all_pairs(k)
        if (a, b) not in edges and np.isfinite(cost[a, b])
    )
    for _, a, b in rest[: max(0, n_edges - len(edges))]:
        edges.add((a, b))
    return sorted(edges)  # type: ignore[arg-type]


def paf_graph(
    n_bodyparts: int,
    keypoints: np.ndarray | None = None,
    *,
    edges: Literal["auto", "all"] | Sequence[Sequence[int]] = "auto",
    max_edges: int = FULL_GRAPH_MAX_EDGES,
    degree: int = GRAPH_DEGREE,
) -> list[tuple[int, int]]:
    """Choose the part-affinity graph a multi-animal model is trained with.

    Parameters
    ----------
    n_bodyparts
        Multi-animal bodyparts ``K``.
    keypoints
        ``(n_animals, K, 2)`` labelled animals (needed to prune a large graph).
    edges
        ``"auto"`` (DeepLabCut's rule: every pair, pruned by
        :func:`data_driven_edges` to an average degree of ``degree`` when there are
        more than ``max_edges``), ``"all"``, or explicit index pairs.
    max_edges, degree
        The pruning rule.

    Returns
    -------
    list of (int, int)

    Raises
    ------
    ValueError
        Explicit edges out of range, or ``"auto"`` pruning without keypoints.

    Examples
    --------
    >>> len(paf_graph(6)), len(paf_graph(13)), paf_graph(3, edges=[[2, 0]])
    (15, 78, [(0, 2)])
    """
    k = int(n_bodyparts)
    if isinstance(edges, str):
        if edges not in ("auto", "all"):
            raise ValueError(
                f"edges must be 'auto', 'all' or index pairs; got {edges!r}"
            )
        full = all_pairs(k)
        if edges == "all" or len(full) <= max_edges:
            return full
        if keypoints is None:
            raise ValueError(
                f"{len(full)} bodypart pairs: pruning the graph needs the labels"
            )
        return data_driven_edges(keypoints, k * int(degree) // 2)
    out = []
    for e in edges:
        a, b = (int(v) for v in e)
        if not (0 <= a < k and 0 <= b < k) or a == b:
            raise ValueError(f"edge {tuple(e)} is not a pair of {k} bodyparts")
        pair = (min(a, b), max(a, b))
        if pair not in out:
            out.append(pair)
    return out
