"""Accuracy of multi-animal predictions: assembly and identity.

- **Assembly** (per frame, identities ignored): COCO's OKS mAP and mAR
  (:func:`posekit.engine.evaluation.oks_map`, :func:`~posekit.engine.evaluation.oks_mar`,
  DeepLabCut's σ), and the keypoint error after matching each labelled animal to the
  prediction of highest OKS (Hungarian): the mean Euclidean distance (DeepLabCut's
  "RMSE") and the root-mean-square.
- **Identity** (over a tracked video): per frame, labelled and predicted animals are
  matched (Hungarian) among the pairs within a gate, as CLEAR MOT matches objects
  within a distance threshold: an OKS of at least ``min_oks`` (default 0.5), or a
  mean keypoint distance of at most ``max_distance`` pixels. An identity switch is a
  labelled animal matched to another predicted identity than the last time it was
  matched (CLEAR MOT's IDSW), so switches are only seen on matched animals: the
  animals left unmatched (beyond the gate, or with no predicted animal) are counted
  beside them. IDF1 (Ristani et al. 2016) matches each labelled identity to one
  predicted identity over the whole video, maximising the frames where they match:
  ``IDF1 = 2 IDTP / (labelled + predicted instances)``.

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
    "DEFAULT_MIN_OKS",
    "mean_keypoint_distance",
    "match_instances",
    "matched_errors",
    "assembly_metrics",
    "identity_metrics",
]


DEFAULT_MIN_OKS = 0.5
"""The OKS at which :func:`identity_metrics` matches animals unless told otherwise."""


def _present(x: np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(x, float)[..., :2]).all(axis=-1).any(axis=-1)


def mean_keypoint_distance(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean distance between the keypoints two instances both have, in pixels.

    Parameters
    ----------
    predictions
        ``(..., K, 2|3)`` (the likelihood column is ignored).
    labels
        ``(..., K, 2)``, broadcast against ``predictions``
        (``mean_keypoint_distance(pred[:, None], gt[None])`` gives a matrix).

    Returns
    -------
    numpy.ndarray
        The leading dims; NaN where the two share no keypoint.

    Examples
    --------
    >>> gt = np.array([[0.0, 0.0], [10.0, 10.0], [np.nan, np.nan]])
    >>> float(mean_keypoint_distance(gt + [3.0, 4.0], gt))
    5.0
    """
    pred = np.asarray(predictions, float)[..., :2]
    gt = np.asarray(labels, float)[..., :2]
    d = np.linalg.norm(pred - gt, axis=-1)
    both = np.isfinite(d)
    n = both.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(both, d, 0.0).sum(axis=-1) / n, np.nan)


def _gate(
    min_oks: float | None, max_distance: float | None, *, default_oks: float
) -> tuple[float | None, float | None]:
    """Check the matching gate: an OKS or a distance, not both."""
    if max_distance is not None:
        if min_oks is not None:
            raise ValueError(
                f"give min_oks ({min_oks}) or max_distance ({max_distance} px), not "
                "both: animals match within one gate, by OKS or by pixel distance"
            )
        max_distance = float(max_distance)
        if not 0 < max_distance < np.inf:
            raise ValueError(
                f"max_distance must be a distance in pixels above 0; got {max_distance}"
            )
        return None, max_distance
    min_oks = default_oks if min_oks is None else float(min_oks)
    if not 0 <= min_oks <= 1:
        raise ValueError(f"min_oks is an OKS, between 0 and 1; got {min_oks}")
    return min_oks, None


def _pair_scores(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    sigma: float | Sequence[float],
    min_oks: float | None,
    max_distance: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(P, G)`` similarity of present instances (higher: closer) and the gate.

    With ``max_distance`` the similarity is minus the mean keypoint distance and a
    pair is within the gate at ``max_distance`` pixels or less; otherwise it is the
    OKS and a pair is within at ``min_oks`` or more (and above 0). Pairs without a
    common keypoint are never within.
    """
    if max_distance is not None:
        d = mean_keypoint_distance(pred[:, None], gt[None])
        within = np.isfinite(d) & (d <= max_distance)
        return -np.nan_to_num(d, nan=np.inf), within
    sim = np.nan_to_num(oks(pred[:, None], gt[None], sigma=sigma), nan=0.0)
    return sim, (sim >= (min_oks or 0.0)) & (sim > 0)


def _assign(score: np.ndarray, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching among the pairs within the gate.

    The most pairs, then the highest total score, as CLEAR MOT matches objects
    within its threshold.
    """
    if not within.any():
        empty = np.zeros(0, int)
        return empty, empty
    finite = score[within]
    # a pair outside the gate costs more than any set of pairs inside it gains
    outside = finite.min() - 1.0 - (finite.max() - finite.min()) * min(score.shape)
    rows, cols = linear_sum_assignment(np.where(within, score, outside), maximize=True)
    keep = within[rows, cols]
    return rows[keep], cols[keep]


def match_instances(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    min_oks: float | None = None,
    max_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match predicted to labelled instances of one frame (Hungarian, within a gate).

    By OKS (pairs of OKS 0 never match), or with ``max_distance`` by the mean
    distance of their common keypoints.

    Parameters
    ----------
    predictions
        ``(P, K, 2|3)``.
    labels
        ``(G, K, 2)``.
    sigma
        OKS σ (DeepLabCut's convention).
    min_oks
        Pairs less similar are not matched (default 0: any OKS above 0).
    max_distance
        Match by mean keypoint distance instead: pairs farther apart (pixels) are
        not matched. Not together with ``min_oks``.

    Returns
    -------
    pred_index, label_index : numpy.ndarray
        Matched positions (absent instances are never matched).
    similarity : numpy.ndarray
        Their OKS, or with ``max_distance`` their mean keypoint distance.

    Raises
    ------
    ValueError
        If both gates are given, or one is out of range.

    Examples
    --------
    >>> gt = np.array([[[0.0, 0.0], [10.0, 10.0]], [[50.0, 50.0], [60.0, 60.0]]])
    >>> p, g, s = match_instances(gt[::-1] + 0.5, gt)
    >>> p.tolist(), g.tolist()
    ([0, 1], [1, 0])
    >>> p, g, d = match_instances(gt[::-1] + 3.0, gt, max_distance=5.0)
    >>> p.tolist(), g.tolist(), d.round(2).tolist()
    ([0, 1], [1, 0], [4.24, 4.24])
    """
    min_oks, max_distance = _gate(min_oks, max_distance, default_oks=0.0)
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
    score, within = _pair_scores(
        pred[pi], gt[gi], sigma=sigma, min_oks=min_oks, max_distance=max_distance
    )
    rows, cols = _assign(score, within)
    value = score[rows, cols]
    return pi[rows], gi[cols], -value if max_distance is not None else value


def matched_errors(
    predictions: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    pcutoff: float | None = None,
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
    pcutoff
        If given, only the matched keypoints whose predicted likelihood is at least
        this are counted (DeepLabCut's error "with p-cutoff"; the matching itself
        uses every keypoint). Needs ``(P, K, 3)`` predictions.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` pixel distances.

    Raises
    ------
    ValueError
        If ``pcutoff`` is given and a frame's predictions have no likelihood.

    Examples
    --------
    >>> gt = [np.array([[[0.0, 0.0], [10.0, 10.0]]])]
    >>> pred = [np.array([[[3.0, 4.0, 0.9], [10.0, 16.0, 0.2]]])]
    >>> matched_errors(pred, gt).tolist(), matched_errors(pred, gt, pcutoff=0.5).tolist()
    ([5.0, 6.0], [5.0])
    """
    out = []
    for pred, gt in zip(predictions, labels, strict=True):
        p, g, _ = match_instances(pred, gt, sigma=sigma)
        if len(p):
            pred = np.asarray(pred, float)
            d = np.linalg.norm(pred[p][..., :2] - np.asarray(gt, float)[g], axis=-1)
            if pcutoff is not None:
                if pred.shape[-1] != 3:
                    raise ValueError(
                        "pcutoff needs predictions with a likelihood (P, K, 3); "
                        f"received {pred.shape}"
                    )
                d = np.where(pred[p][..., 2] >= pcutoff, d, np.nan)
            out.append(d[np.isfinite(d)])
    return np.concatenate(out) if out else np.zeros(0)


def assembly_metrics(
    predictions: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    pcutoff: float | None = None,
) -> dict[str, float]:
    """OKS mAP/mAR and the keypoint error after matching, over frames.

    Parameters
    ----------
    predictions
        Per frame ``(P, K, 2|3)`` assembled animals.
    labels
        Per frame ``(G, K, 2)`` labelled animals.
    scores
        Per frame ``(P,)`` ranking scores (default: mean likelihood of each animal's
        keypoints).
    sigma
        OKS σ.
    pcutoff
        If given, also the errors over the matched keypoints whose likelihood is at
        least this (:func:`matched_errors`; NaN without likelihoods).

    Returns
    -------
    dict
        ``map``, ``mar``, ``mean_error_px`` (DeepLabCut's "RMSE"), ``rmse_px``,
        ``n_labelled`` animals, ``n_predicted`` animals, ``n_keypoints`` compared;
        with ``pcutoff`` also ``mean_error_pcutoff_px``, ``rmse_pcutoff_px``,
        ``n_keypoints_pcutoff`` and ``pcutoff``.

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
    out = {
        "map": oks_map(gts, preds, scores, sigma=sigma),
        "mar": oks_mar(gts, preds, scores, sigma=sigma),
        "mean_error_px": float(d.mean()) if len(d) else float("nan"),
        "rmse_px": float(np.sqrt(np.mean(d**2))) if len(d) else float("nan"),
        "n_labelled": int(sum(_present(g).sum() for g in gts)),
        "n_predicted": int(sum(_present(p).sum() for p in preds)),
        "n_keypoints": len(d),
    }
    if pcutoff is not None:
        has_p = all(p.shape[-1] == 3 for p in preds if p.size)
        dc = (
            matched_errors(preds, gts, sigma=sigma, pcutoff=pcutoff)
            if has_p
            else np.zeros(0)
        )
        out.update(
            {
                "mean_error_pcutoff_px": float(dc.mean()) if len(dc) else float("nan"),
                "rmse_pcutoff_px": (
                    float(np.sqrt(np.mean(dc**2))) if len(dc) else float("nan")
                ),
                "n_keypoints_pcutoff": len(dc),
                "pcutoff": float(pcutoff),
            }
        )
    return out


def identity_metrics(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    min_oks: float | None = None,
    max_distance: float | None = None,
) -> dict[str, Any]:
    """Identity switches and IDF1 of tracked predictions against labelled tracks.

    In each frame, labelled and predicted animals are matched (Hungarian) among the
    pairs within the gate: an OKS of at least ``min_oks`` (default
    :data:`DEFAULT_MIN_OKS`, 0.5), or with ``max_distance`` a mean keypoint distance
    of at most that many pixels (CLEAR MOT's distance threshold). Switches are seen
    only on matched animals, so the result says how many labelled animals were not
    matched, and why: beyond the gate (a predicted animal was there but too far), or
    no predicted animal left for them. OKS scales with the animal's size: on small
    animals an error of a few pixels is already below 0.5, and their swaps go
    uncounted at the default gate (``unmatched_beyond_gate`` says how many animals);
    a distance gate judges every animal by the same pixels.

    Parameters
    ----------
    predictions
        ``(T, P, K, 2|3)``: each predicted identity's keypoints in every frame.
    labels
        ``(T, G, K, 2)``: the true identities.
    sigma
        OKS σ.
    min_oks
        An instance pair with a lower OKS does not match (default 0.5).
    max_distance
        Match by mean keypoint distance instead: a pair farther apart (pixels) does
        not match. Not together with ``min_oks``.

    Returns
    -------
    dict
        ``id_switches``, ``switch_frames`` (the frame of each switch, in order: a
        frame twice when two animals swap there), ``switches_per_1000_frames``,
        ``idf1``, ``idp``, ``idr`` (identity precision and recall), ``idtp``,
        ``mota``, ``n_frames``, ``assignment`` (true identity → predicted identity
        of the IDF1 matching);
        the gate (``min_oks``, ``max_distance``: one is ``None``, and ``gate`` in
        words); ``n_labelled`` (labelled animal-frames), ``n_matched``,
        ``unmatched`` (``n_labelled - n_matched``) = ``unmatched_beyond_gate`` +
        ``unmatched_no_prediction``, ``unmatched_frames`` (frames in which a
        labelled animal is not matched) of ``n_labelled_frames`` (frames with a
        labelled animal).

    Raises
    ------
    ValueError
        If the two cover different numbers of frames, both gates are given or one
        is out of range.

    Examples
    --------
    Two animals whose predicted identities swap half way:

    >>> gt = np.zeros((4, 2, 2, 2)); gt[:, 1] += 50; gt[..., 1, :] += 10
    >>> pred = gt.copy(); pred[2:] = pred[2:, ::-1]
    >>> m = identity_metrics(pred, gt)
    >>> m["id_switches"], m["idf1"], m["unmatched"]
    (2, 0.5, 0)

    On these 10-pixel animals a 2.8-pixel error gives an OKS of 0.37, below the
    gate: nothing is matched, so no switch can be seen (and the result says so); a
    10-pixel gate matches the animals and counts the switches:

    >>> m = identity_metrics(pred + 2.0, gt)
    >>> m["id_switches"], m["unmatched_beyond_gate"], m["unmatched_frames"]
    (0, 8, 4)
    >>> identity_metrics(pred + 2.0, gt, max_distance=10)["id_switches"]
    2
    """
    min_oks, max_distance = _gate(min_oks, max_distance, default_oks=DEFAULT_MIN_OKS)
    pred = np.asarray(predictions, float)
    gt = np.asarray(labels, float)
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(
            f"predictions cover {pred.shape[0]} frames but the labels {gt.shape[0]}"
        )
    n_t, n_p, n_g = gt.shape[0], pred.shape[1], gt.shape[1]
    together = np.zeros((n_g, n_p))  # frames in which g and p are within the gate
    last = np.full(n_g, -1)
    switch_frames: list[int] = []
    matched = beyond = no_pred = false_pos = unmatched_frames = 0
    for t in range(n_t):
        gp, pp = np.flatnonzero(_present(gt[t])), np.flatnonzero(_present(pred[t]))
        p_idx = g_idx = np.zeros(0, int)
        if len(gp) and len(pp):
            score, within = _pair_scores(
                pred[t][pp],
                gt[t][gp],
                sigma=sigma,
                min_oks=min_oks,
                max_distance=max_distance,
            )
            together[np.ix_(gp, pp)] += within.T
            rows, cols = _assign(score, within)
            p_idx, g_idx = pp[rows], gp[cols]
        for p, g in zip(p_idx, g_idx, strict=True):
            if last[g] >= 0 and last[g] != p:
                switch_frames.append(t)
            last[g] = p
        matched += len(g_idx)
        no_pred += max(len(gp) - len(pp), 0)
        beyond += min(len(gp), len(pp)) - len(g_idx)
        unmatched_frames += len(g_idx) < len(gp)
        false_pos += len(pp) - len(p_idx)
    n_gt = int(_present(gt).sum())
    n_pred = int(_present(pred).sum())
    misses = n_gt - matched
    switches = len(switch_frames)
    rows, cols = linear_sum_assignment(together, maximize=True)
    idtp = float(together[rows, cols].sum())
    denom = n_gt + n_pred
    gate = (
        f"mean keypoint distance <= {max_distance:g} px"
        if max_distance is not None
        else f"OKS >= {min_oks:g}"
    )
    return {
        "id_switches": switches,
        "switch_frames": switch_frames,
        "switches_per_1000_frames": 1000.0 * switches / max(n_t, 1),
        "idf1": 2 * idtp / denom if denom else float("nan"),
        "idp": idtp / n_pred if n_pred else float("nan"),
        "idr": idtp / n_gt if n_gt else float("nan"),
        "idtp": int(idtp),
        "mota": 1.0 - (misses + false_pos + switches) / n_gt if n_gt else float("nan"),
        "n_frames": int(n_t),
        "assignment": {int(g): int(p) for g, p in zip(rows, cols, strict=True)},
        "min_oks": min_oks,
        "max_distance": max_distance,
        "gate": gate,
        "n_labelled": n_gt,
        "n_matched": int(matched),
        "unmatched": int(misses),
        "unmatched_beyond_gate": int(beyond),
        "unmatched_no_prediction": int(no_pred),
        "unmatched_frames": int(unmatched_frames),
        "n_labelled_frames": int(_present(gt).any(axis=-1).sum()),
    }
