"""Accuracy of multi-animal predictions: assembly and identity.

- **Assembly** (per frame, identities ignored): COCO's OKS mAP and mAR
  (:func:`posekit.engine.evaluation.oks_map`, :func:`~posekit.engine.evaluation.oks_mar`,
  DeepLabCut's σ), and the keypoint error after matching each labelled animal to the
  prediction of highest OKS (Hungarian): the mean Euclidean distance (DeepLabCut's
  "RMSE") and the root-mean-square.
- **Identity** (over a tracked video): per frame, labelled and predicted animals are
  matched when their OKS is at least ``min_oks`` (Hungarian, most similar first). An
  identity switch is a labelled animal matched to another predicted identity than the
  last time it was matched (CLEAR MOT's IDSW). IDF1 (Ristani et al. 2016) matches
  each labelled identity to one predicted identity over the whole video, maximising
  the frames where they match: ``IDF1 = 2 IDTP / (labelled + predicted instances)``.

Arrays: predictions ``(..., K, 2|3)`` (``x, y[, likelihood]``), labels ``(..., K, 2)``;
NaN for missing keypoints; an instance without any keypoint is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..evaluation import DEFAULT_OKS_SIGMA, oks, oks_map, oks_mar

__all__ = [
    "match_instances",
    "matched_errors",
    "assembly_metrics",
    "identity_metrics",
]


def _present(x: np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(x, float)[..., :2]).all(axis=-1).any(axis=-1)


def match_instances(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    min_oks: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match predicted to labelled instances of one frame by OKS (Hungarian).

    Parameters
    ----------
    predictions
        ``(P, K, 2|3)``.
    labels
        ``(G, K, 2)``.
    sigma
        OKS σ (DeepLabCut's convention).
    min_oks
        Pairs less similar are not matched.

    Returns
    -------
    pred_index, label_index : numpy.ndarray
        Matched positions (absent instances are never matched).
    similarity : numpy.ndarray
        Their OKS.

    Examples
    --------
    >>> gt = np.array([[[0.0, 0.0], [10.0, 10.0]], [[50.0, 50.0], [60.0, 60.0]]])
    >>> p, g, s = match_instances(gt[::-1] + 0.5, gt)
    >>> p.tolist(), g.tolist()
    ([0, 1], [1, 0])
    """
    gt = np.asarray(labels, float).reshape(-1, *np.shape(labels)[-2:])
    pred = np.asarray(predictions, float)
    if pred.size == 0:
        pred = np.zeros((0, gt.shape[-2], 2))
    pred = pred.reshape(-1, *pred.shape[-2:])
    pi = np.flatnonzero(_present(pred))
    gi = np.flatnonzero(_present(gt))
    empty = np.zeros(0, int)
    if not len(pi) or not len(gi):
        return empty, empty, np.zeros(0)
    sim = oks(pred[pi][:, None], gt[gi][None], sigma=sigma)
    sim = np.nan_to_num(sim, nan=0.0)
    rows, cols = linear_sum_assignment(sim, maximize=True)
    ok = sim[rows, cols] >= min_oks
    if min_oks <= 0:
        ok &= sim[rows, cols] > 0
    return pi[rows[ok]], gi[cols[ok]], sim[rows[ok], cols[ok]]


def matched_errors(
    predictions: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
) -> np.ndarray:
    """Distances of labelled keypoints to the matched prediction's, over all frames.

    Each frame's animals are matched by :func:`match_instances`; a labelled keypoint of
    a matched animal that the prediction lacks, or of an unmatched animal, is not
    counted (the mAR says how many animals were missed).

    Parameters
    ----------
    predictions, labels
        Per frame ``(P, K, 2|3)`` and ``(G, K, 2)``.
    sigma
        OKS σ for the matching.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` pixel distances.
    """
    out = []
    for pred, gt in zip(predictions, labels, strict=True):
        p, g, _ = match_instances(pred, gt, sigma=sigma)
        if len(p):
            d = np.linalg.norm(
                np.asarray(pred, float)[p][..., :2] - np.asarray(gt, float)[g], axis=-1
            )
            out.append(d[np.isfinite(d)])
    return np.concatenate(out) if out else np.zeros(0)


def assembly_metrics(
    predictions: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
) -> dict[str, float]:
    """OKS mAP/mAR and the keypoint error after matching, over frames.

    Parameters
    ----------
    predictions
        Per frame ``(P, K, 2|3)`` assembled animals.
    labels
        Per frame ``(G, K, 2)`` labelled animals.
    scores
        Per frame ``(P,)`` ranking scores (default: mean likelihood).
    sigma
        OKS σ.

    Returns
    -------
    dict
        ``map``, ``mar``, ``mean_error_px`` (DeepLabCut's "RMSE"), ``rmse_px``,
        ``n_labelled`` animals, ``n_predicted`` animals, ``n_keypoints`` compared.

    Examples
    --------
    >>> gt = [np.array([[[0.0, 0.0], [10.0, 10.0]]])]
    >>> m = assembly_metrics([gt[0] + [3.0, 4.0]], gt)
    >>> round(m["mean_error_px"], 6), m["n_keypoints"]
    (5.0, 2)
    """
    preds = [np.asarray(p, float) for p in predictions]
    gts = [np.asarray(g, float) for g in labels]
    d = matched_errors(preds, gts, sigma=sigma)
    return {
        "map": oks_map(gts, preds, scores, sigma=sigma),
        "mar": oks_mar(gts, preds, scores, sigma=sigma),
        "mean_error_px": float(d.mean()) if len(d) else float("nan"),
        "rmse_px": float(np.sqrt(np.mean(d**2))) if len(d) else float("nan"),
        "n_labelled": int(sum(_present(g).sum() for g in gts)),
        "n_predicted": int(sum(_present(p).sum() for p in preds)),
        "n_keypoints": len(d),
    }


def identity_metrics(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    min_oks: float = 0.5,
) -> dict[str, Any]:
    """Identity switches and IDF1 of tracked predictions against labelled tracks.

    Parameters
    ----------
    predictions
        ``(T, P, K, 2|3)``: each predicted identity's keypoints in every frame.
    labels
        ``(T, G, K, 2)``: the true identities.
    sigma
        OKS σ.
    min_oks
        An instance pair with a lower OKS does not match.

    Returns
    -------
    dict
        ``id_switches``, ``switches_per_1000_frames``, ``idf1``, ``idp``, ``idr``
        (identity precision and recall), ``idtp``, ``mota``, ``n_frames``,
        ``assignment`` (true identity → predicted identity of the IDF1 matching).

    Examples
    --------
    Two animals whose predicted identities swap half way:

    >>> gt = np.zeros((4, 2, 2, 2)); gt[:, 1] += 50; gt[..., 1, :] += 10
    >>> pred = gt.copy(); pred[2:] = pred[2:, ::-1]
    >>> m = identity_metrics(pred, gt)
    >>> m["id_switches"], m["idf1"]
    (2, 0.5)
    """
    pred = np.asarray(predictions, float)
    gt = np.asarray(labels, float)
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(
            f"predictions cover {pred.shape[0]} frames but the labels {gt.shape[0]}"
        )
    n_t, n_p, n_g = gt.shape[0], pred.shape[1], gt.shape[1]
    together = np.zeros((n_g, n_p))  # frames in which g and p match
    last = np.full(n_g, -1)
    switches = misses = false_pos = 0
    for t in range(n_t):
        p_idx, g_idx, _ = match_instances(pred[t], gt[t], sigma=sigma, min_oks=min_oks)
        sim = np.zeros((n_p, n_g))
        gp, pp = np.flatnonzero(_present(gt[t])), np.flatnonzero(_present(pred[t]))
        if len(gp) and len(pp):
            s = np.nan_to_num(oks(pred[t][pp][:, None], gt[t][gp][None], sigma=sigma))
            sim[np.ix_(pp, gp)] = s
        # as match_instances: absent animals never match, nor (min_oks <= 0) OKS 0
        together += ((sim >= min_oks) & (sim > 0)).T
        for p, g in zip(p_idx, g_idx, strict=True):
            if last[g] >= 0 and last[g] != p:
                switches += 1
            last[g] = p
        misses += len(gp) - len(g_idx)
        false_pos += len(pp) - len(p_idx)
    n_gt = int(_present(gt).sum())
    n_pred = int(_present(pred).sum())
    rows, cols = linear_sum_assignment(together, maximize=True)
    idtp = float(together[rows, cols].sum())
    denom = n_gt + n_pred
    return {
        "id_switches": int(switches),
        "switches_per_1000_frames": 1000.0 * switches / max(n_t, 1),
        "idf1": 2 * idtp / denom if denom else float("nan"),
        "idp": idtp / n_pred if n_pred else float("nan"),
        "idr": idtp / n_gt if n_gt else float("nan"),
        "idtp": int(idtp),
        "mota": 1.0 - (misses + false_pos + switches) / n_gt if n_gt else float("nan"),
        "n_frames": int(n_t),
        "assignment": {int(g): int(p) for g, p in zip(rows, cols, strict=True)},
    }
