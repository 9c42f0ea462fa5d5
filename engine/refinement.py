"""Active learning: find the frames the network gets wrong, and merge their labels back.

The loop, with DeepLabCut's names and files:

1. :func:`extract_outlier_frames` scores every frame of an analysed video with the
   outlier criteria of :data:`CRITERIA`, keeps the frames that exceed a threshold,
   picks a visually diverse subset with k-means on the frames, extracts them into
   ``labeled-data/<video>/img<index>.png`` and writes the network's predictions for
   them as ``labeled-data/<video>/machinelabels-iter<N>.h5`` (+ ``machinelabels.csv``),
   DeepLabCut's layout;
2. the labeller opens those frames pre-filled with the machine labels
   (:func:`read_machine_labels`); accepted and corrected points go to
   ``CollectedData_<scorer>.h5`` like any click;
3. :func:`merge_datasets` raises ``iteration`` in ``config.yaml`` (that key only) and
   creates the next training set with the previous test frames kept as the test set;
   :func:`posekit.engine.api.train_network` then starts from the previous iteration's
   snapshot.

Each criterion is a pure function ``predictions (T, K, 3) -> per-frame score (T,)`` in
its natural unit (pixels, or ``1 - likelihood``) registered in :data:`CRITERIA` with a
default threshold; a frame is an outlier for a criterion when its score exceeds the
threshold, and for a combination when it does for any of them
(:func:`outlier_scores` divides each score by its threshold, so 1 is the line).

>>> t = np.arange(50.0)
>>> xyp = np.stack([3 * t, 100 + 0 * t, 0.99 + 0 * t], axis=-1)[:, None, :]
>>> xyp[20, 0, 0] += 60  # one frame off by 60 px
>>> xyp[33, 0, 2] = 0.2  # one unsure frame
>>> scores = outlier_scores(xyp, ["jump", "uncertain", "fitting"])
>>> scores.outliers().tolist()
[20, 33]
"""

from __future__ import annotations

import os
import re
import shlex
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path
from .dlc_names import dlc_keywords, elsewhere, ignored, renamed, thresholds
from .io.dlc import (
    LabelError,
    column_points,
    index_to_paths,
    paths_to_index,
    predictions_frame,
    read_predictions,
    write_hdf,
)

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Split
    from .project import Project

__all__ = [
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "ALMOST_EVERY_FRAME",
    "MACHINE_LABELS_CSV",
    "MergeResult",
    "OutlierAdvice",
    "OutlierCriterion",
    "OutlierFrames",
    "OutlierScores",
    "StaleAnalysisError",
    "explain_outliers",
    "extract_outlier_frames",
    "find_prediction_file",
    "older_analysis",
    "fitting_scores",
    "frame_features",
    "jump_scores",
    "likelihood_scores",
    "machine_labels_path",
    "merge_datasets",
    "novelty_scores",
    "outlier_scores",
    "predict_machine_labels",
    "predictions_for_frames",
    "rarely_confident_bodyparts",
    "outlier_advice",
    "read_machine_labels",
    "select_diverse",
    "tta_predictions",
    "tta_scores",
    "write_machine_labels",
]

#: The CSV twin of the machine labels (DeepLabCut writes it without the iteration).
MACHINE_LABELS_CSV = "machinelabels.csv"


# --------------------------------------------------------------------------- criteria


def _xy_valid(xyp: np.ndarray, min_likelihood: float) -> np.ndarray:
    """Return ``(T, K, 2)`` coordinates with NaN where unusable."""
    xyp = np.asarray(xyp, dtype=float)
    if xyp.ndim != 3 or xyp.shape[2] < 2:
        raise ValueError(
            "predictions must be (n_frames, n_keypoints, 3) x, y, likelihood; "
            f"received shape {xyp.shape}"
        )
    xy = xyp[..., :2].copy()
    if xyp.shape[2] > 2 and min_likelihood > 0:
        xy[xyp[..., 2] < min_likelihood] = np.nan
    return xy


def _per_frame(values: np.ndarray) -> np.ndarray:
    """Maximum over keypoints ignoring NaN; 0 for a frame with none."""
    values = np.where(np.isnan(values), -np.inf, values)
    out = values.max(axis=1) if values.shape[1] else np.zeros(len(values))
    return np.where(np.isfinite(out), out, 0.0)


def jump_scores(
    xyp: np.ndarray, *, min_likelihood: float = 0.0, previous_only: bool = False
) -> np.ndarray:
    """Score frames by how far a keypoint jumps away from both neighbouring frames.

    For each keypoint the displacement from the previous and from the next frame is
    computed (Euclidean distance between consecutive frames); the smaller of the two
    is the frame's jump, so that a frame that jumps away and back is found, not the
    correct frame after it. The first and last frames have one neighbour. A run of
    several wrong frames is what :func:`fitting_scores` finds. With
    ``previous_only``, the jump is the displacement from the previous frame alone
    (DeepLabCut's ``jump``: a step change flags the frame after it, and a frame that
    jumps away and back flags itself and the frame after it; the first frame scores 0).

    Parameters
    ----------
    xyp
        Predictions ``(T, K, 3)`` (x, y, likelihood).
    min_likelihood
        Ignore keypoints below this likelihood (they are :func:`likelihood_scores`'s).
    previous_only
        Compare with the previous frame only (DeepLabCut's definition).

    Returns
    -------
    numpy.ndarray
        ``(T,)`` pixels: the largest jump of any keypoint.

    Examples
    --------
    >>> xyp = np.zeros((5, 1, 3)); xyp[:, 0, 0] = [0, 1, 40, 3, 4]
    >>> jump_scores(xyp).tolist()
    [1.0, 1.0, 37.0, 1.0, 1.0]
    >>> jump_scores(xyp, previous_only=True).tolist()
    [0.0, 1.0, 39.0, 37.0, 1.0]
    """
    xy = _xy_valid(xyp, min_likelihood)
    t = len(xy)
    prev = np.full(xy.shape[:2], np.nan)
    nxt = np.full(xy.shape[:2], np.nan)
    if t > 1:
        step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
        prev[1:] = step
        nxt[:-1] = step
    if previous_only:
        return _per_frame(prev)
    return _per_frame(np.fmin(prev, nxt))


def likelihood_scores(xyp: np.ndarray) -> np.ndarray:
    """Score frames by their least sure keypoint: ``1 - min(likelihood)``.

    With the threshold ``1 - pcutoff``, a frame is an outlier when some keypoint's
    likelihood is below the p-cutoff (DeepLabCut's ``uncertain``).

    Parameters
    ----------
    xyp
        Predictions ``(T, K, 3)``.

    Returns
    -------
    numpy.ndarray
        ``(T,)`` in [0, 1].

    Examples
    --------
    >>> xyp = np.ones((3, 2, 3)); xyp[1, 1, 2] = 0.25
    >>> likelihood_scores(xyp).tolist()
    [0.0, 0.75, 0.0]
    """
    xyp = np.asarray(xyp, dtype=float)
    if xyp.ndim != 3 or xyp.shape[2] < 3:
        raise ValueError(
            f"predictions must be (n_frames, n_keypoints, 3); received {xyp.shape}"
        )
    p = np.nan_to_num(xyp[..., 2], nan=0.0)
    return 1.0 - p.min(axis=1) if p.shape[1] else np.zeros(len(p))


def _interpolate(series: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN along axis 0 (edges hold the nearest value)."""
    out = series.copy()
    idx = np.arange(len(series))
    for col in np.ndindex(series.shape[1:]):
        s = series[(slice(None), *col)]
        ok = ~np.isnan(s)
        if ok.sum() >= 1 and not ok.all():
            out[(slice(None), *col)] = np.interp(idx, idx[ok], s[ok])
    return out


def _rolling_median(series: np.ndarray, half: int) -> np.ndarray:
    """Median of the ``2 * half`` neighbours of each frame (the frame itself excluded)."""
    t = len(series)
    padded = np.concatenate(
        [np.full((half,) + series.shape[1:], np.nan), series]
        + [np.full((half,) + series.shape[1:], np.nan)]
    )
    stack = [padded[half + k : half + k + t] for k in range(-half, half + 1) if k != 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        return np.nanmedian(np.stack(stack), axis=0)


def fitting_scores(
    xyp: np.ndarray,
    *,
    method: str = "savgol",
    window: int = 9,
    polyorder: int = 2,
    min_likelihood: float = 0.0,
    fit_min_likelihood: float = 0.0,
    gate_px: float = 10.0,
    measurement_std: float = 2.0,
    acceleration_std: float = 2.0,
) -> np.ndarray:
    """Score frames by their distance from a smoothed trajectory (fitting residual).

    Each keypoint's track is fitted robustly: points farther than ``gate_px`` from
    the median of their ``window - 1`` neighbours are left out (so that an error does
    not drag the fit towards itself), the gaps are bridged linearly, and the track is
    smoothed with a Savitzky–Golay filter (``method="savgol"``) or a constant-velocity
    Kalman filter with a Rauch–Tung–Striebel smoother (``method="kalman"``). The
    residual is the distance of each prediction from the smoothed track
    (DeepLabCut's ``fitting``, which fits an ARIMA model instead). Runs of wrong
    frames shorter than half the window are found.

    Parameters
    ----------
    xyp
        Predictions ``(T, K, 3)``.
    method
        ``"savgol"`` or ``"kalman"``.
    window, polyorder
        Savitzky–Golay window (odd, frames) and polynomial order; ``window`` is also
        the neighbourhood of the median gate.
    min_likelihood
        Ignore keypoints below this likelihood.
    fit_min_likelihood
        Leave keypoints below this likelihood out of the fit (bridged as gaps) but
        still score their distance from it: DeepLabCut's ``fitting`` treats points
        below ``p_bound`` as missing data in its SARIMAX fit, and flags a frame
        whose uncertain point lies far from the fitted track.
    gate_px
        Distance from the neighbours' median beyond which a point is left out of
        the fit.
    measurement_std, acceleration_std
        Kalman noise (pixels; pixels per frame²).

    Returns
    -------
    numpy.ndarray
        ``(T,)`` pixels: the largest residual of any keypoint.

    Raises
    ------
    ValueError
        Unknown ``method``, or a window that is even or not larger than ``polyorder``.

    Examples
    --------
    >>> t = np.arange(40.0)
    >>> xyp = np.stack([2 * t, 0 * t, 1 + 0 * t], -1)[:, None, :]
    >>> xyp[[10, 11], 0, 0] += 50  # two wrong frames in a row
    >>> np.flatnonzero(fitting_scores(xyp) > 20).tolist()
    [10, 11]
    """
    if method not in ("savgol", "kalman"):
        raise ValueError(f"method must be 'savgol' or 'kalman'; received {method!r}")
    window = int(window)
    if window % 2 == 0 or window <= polyorder or window < 3:
        raise ValueError(
            f"window must be odd, >= 3 and larger than polyorder={polyorder}; "
            f"received window={window}"
        )
    xy = _xy_valid(xyp, min_likelihood)
    t, k = xy.shape[:2]
    if t == 0:
        return np.zeros(0)
    flat = xy.reshape(t, k * 2)
    reference = _rolling_median(flat, window // 2)
    off = np.abs(flat - reference).reshape(t, k, 2)
    gated = xy.copy()
    gated[np.linalg.norm(off, axis=-1) > gate_px] = np.nan
    if fit_min_likelihood > 0 and np.shape(xyp)[2] > 2:
        gated[np.asarray(xyp[..., 2], float) < fit_min_likelihood] = np.nan
    usable = ~np.isnan(gated[..., 0]).all(axis=0)
    smooth = np.full_like(flat, np.nan)
    filled = _interpolate(gated.reshape(t, k * 2))
    cols = np.repeat(usable, 2)
    if cols.any():
        block = filled[:, cols]
        if method == "savgol":
            from scipy.signal import savgol_filter

            if t >= window:
                smooth[:, cols] = savgol_filter(block, window, polyorder, axis=0)
            else:
                smooth[:, cols] = block
        else:
            from .behavior.filters import _kalman_rts

            smooth[:, cols] = _kalman_rts(
                gated.reshape(t, k * 2)[:, cols],
                measurement_std**2,
                acceleration_std**2,
            )[0]
    residual = np.linalg.norm(flat.reshape(t, k, 2) - smooth.reshape(t, k, 2), axis=-1)
    return _per_frame(residual)


def tta_scores(
    xyp: np.ndarray,
    augmented: Sequence[np.ndarray] = (),
    *,
    min_likelihood: float = 0.0,
) -> np.ndarray:
    """Score frames by how much predictions on augmented copies disagree (TTA).

    Parameters
    ----------
    xyp
        Predictions on the frames as they are ``(T, K, 3)``.
    augmented
        Predictions on augmented copies (flipped, rescaled), already mapped back to
        the original frame's pixels and bodyparts (:func:`tta_predictions`).
    min_likelihood
        Ignore keypoints below this likelihood in either prediction.

    Returns
    -------
    numpy.ndarray
        ``(T,)`` pixels: the largest distance between a keypoint's prediction and its
        prediction on an augmented copy.

    Raises
    ------
    ValueError
        If there are no augmented predictions, or their shape differs.

    Examples
    --------
    >>> a = np.zeros((3, 1, 3)); b = a.copy(); b[2, 0, 0] = 25.0
    >>> tta_scores(a, [b]).tolist()
    [0.0, 0.0, 25.0]
    """
    if not len(augmented):
        raise ValueError(
            "tta_scores needs predictions on augmented frames: use tta_predictions"
        )
    base = _xy_valid(xyp, min_likelihood)
    worst = np.full(base.shape[:2], np.nan)
    for aug in augmented:
        other = _xy_valid(aug, min_likelihood)
        if other.shape != base.shape:
            raise ValueError(
                f"augmented predictions have shape {np.shape(aug)}; expected "
                f"{np.shape(xyp)}"
            )
        worst = np.fmax(worst, np.linalg.norm(base - other, axis=-1))
    return _per_frame(worst)


def novelty_scores(xyp: np.ndarray, novelty: np.ndarray | None = None) -> np.ndarray:
    """Score frames by how unlike the network's training frames they look.

    The scores come from the network's features, not from its predictions
    (:class:`posekit.engine.novelty.PatchNovelty`, computed for a video by
    :func:`extract_outlier_frames`): this criterion finds frames that show what the
    training frames never showed (a part the network was never taught is unsure in
    every frame, so ``uncertain`` cannot single those frames out).

    Parameters
    ----------
    xyp
        Predictions ``(T, K, 3)`` (only their number of frames is used).
    novelty
        ``(T,)`` per-frame novelty in units of the training frames' own novelty
        (NaN or 0: not scored).

    Returns
    -------
    numpy.ndarray
        ``(T,)``.

    Raises
    ------
    ValueError
        Without ``novelty``, or with one of another length.

    Examples
    --------
    >>> novelty_scores(np.zeros((3, 1, 3)), np.array([0.9, np.nan, 4.0])).tolist()
    [0.9, 0.0, 4.0]
    """
    if novelty is None:
        raise ValueError(
            "novelty_scores needs per-frame novelty from the network's features "
            "(posekit.engine.novelty.PatchNovelty)"
        )
    novelty = np.asarray(novelty, float)
    if novelty.shape != (len(xyp),):
        raise ValueError(
            f"novelty has shape {novelty.shape}; expected ({len(xyp)},), one per frame"
        )
    return np.nan_to_num(novelty, nan=0.0)


@dataclass(frozen=True)
class OutlierCriterion:
    """One outlier criterion: a per-frame score and when a frame is an outlier.

    Attributes
    ----------
    name
        Key in :data:`CRITERIA` (DeepLabCut's ``outlieralgorithm`` names where they
        exist: ``jump``, ``uncertain``, ``fitting``).
    score
        ``score(xyp, **params) -> (T,)``; the ``tta`` criterion also takes
        ``augmented=`` (predictions on augmented frames), ``novelty`` takes
        ``novelty=`` (per-frame novelty from the network's features).
    threshold
        Default threshold: a frame is an outlier when its score exceeds it.
    unit
        Unit of the score.
    description
        One line for the user.
    """

    name: str
    score: Callable[..., np.ndarray]
    threshold: float
    unit: str
    description: str


#: The outlier criteria, by name. A new criterion is a pure function here and a row.
CRITERIA: dict[str, OutlierCriterion] = {
    c.name: c
    for c in (
        OutlierCriterion(
            "jump",
            jump_scores,
            20.0,
            "px",
            "a keypoint jumps away from both neighbouring frames",
        ),
        OutlierCriterion(
            "uncertain",
            likelihood_scores,
            1.0 - 0.6,
            "1 - likelihood",
            "some keypoint's likelihood is below the p-cutoff",
        ),
        OutlierCriterion(
            "fitting",
            fitting_scores,
            15.0,
            "px",
            "a keypoint is far from its smoothed trajectory (Savitzky–Golay/Kalman)",
        ),
        OutlierCriterion(
            "tta",
            tta_scores,
            10.0,
            "px",
            "predictions on copies of the frame augmented as in training disagree",
        ),
        OutlierCriterion(
            "novelty",
            novelty_scores,
            1.5,
            "x training frames' own",
            "the frame shows something the training frames never showed (network "
            "features)",
        ),
    )
}

#: The criteria :func:`extract_outlier_frames` uses unless told otherwise.
DEFAULT_CRITERIA = ("jump", "uncertain", "fitting")


@dataclass
class OutlierScores:
    """Per-frame scores of several criteria and their combination.

    Attributes
    ----------
    scores
        Criterion name → ``(T,)`` score in the criterion's unit.
    thresholds
        Criterion name → threshold used.
    frames
        Video frame index of each score (default ``0 .. T-1``).
    """

    scores: dict[str, np.ndarray]
    thresholds: dict[str, float]
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    @property
    def normalized(self) -> dict[str, np.ndarray]:
        """Each score divided by its threshold (above 1: an outlier)."""
        return {n: s / self.thresholds[n] for n, s in self.scores.items()}

    @property
    def combined(self) -> np.ndarray:
        """The largest normalised score of any criterion (above 1: an outlier)."""
        if not self.scores:
            return np.zeros(len(self.frames))
        return np.max(np.stack(list(self.normalized.values())), axis=0)

    @property
    def priority(self) -> np.ndarray:
        """How strongly the criteria together point at each frame, in [0, 1].

        Each criterion that flags the frame (its score above its threshold) votes
        with the frame's percentile rank among all frames by that criterion; the
        priority is the mean vote over the criteria (a Borda count of the flagging
        criteria): which frame to take first among the outliers. Frames flagged by
        more criteria, and further up each, come first. Unlike :attr:`combined`, a
        criterion that flags nearly every frame (``uncertain`` with a part the
        network never learned) does not decide alone, and no criterion's unit weighs
        more than another's.
        """
        if not self.scores or not len(self.frames):
            return np.zeros(len(self.frames))
        from scipy.stats import rankdata

        votes = [
            np.where(n > 1.0, rankdata(n, method="average") / len(n), 0.0)
            for n in self.normalized.values()
        ]
        return np.mean(votes, axis=0)

    def outliers(self, criterion: str | None = None) -> np.ndarray:
        """Frame indices whose score exceeds the threshold (of one criterion or any)."""
        score = self.combined if criterion is None else self.normalized[criterion]
        return self.frames[score > 1.0]


def outlier_scores(
    xyp: np.ndarray,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    *,
    thresholds: Mapping[str, float] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    pcutoff: float | None = None,
    augmented: Sequence[np.ndarray] | None = None,
    novelty: np.ndarray | None = None,
    frames: Sequence[int] | None = None,
) -> OutlierScores:
    """Score frames with several criteria of :data:`CRITERIA`.

    Parameters
    ----------
    xyp
        Predictions ``(T, K, 3)``.
    criteria
        Names of the criteria to combine (a frame is an outlier for any of them).
    thresholds
        Thresholds that replace the defaults, by criterion name.
    params
        Extra keyword arguments of each criterion's function, by name.
    pcutoff
        p-cutoff for ``uncertain`` (its threshold becomes ``1 - pcutoff``).
    augmented
        Predictions on augmented frames, for ``tta``.
    novelty
        Per-frame novelty (:class:`posekit.engine.novelty.PatchNovelty`), for
        ``novelty``.
    frames
        Video frame index of each row of ``xyp`` (default ``0 .. T-1``).

    Returns
    -------
    OutlierScores

    Raises
    ------
    ValueError
        Unknown criterion, or ``tta`` without augmented predictions, or ``novelty``
        without novelty.
    """
    unknown = [c for c in criteria if c not in CRITERIA]
    if unknown:
        raise ValueError(
            f"unknown outlier criteria {unknown}; choose from {sorted(CRITERIA)}"
        )
    xyp = np.asarray(xyp, dtype=float)
    scores, used = {}, {}
    for name in criteria:
        crit = CRITERIA[name]
        kwargs = dict((params or {}).get(name, {}))
        if name == "tta":
            if augmented is None:
                raise ValueError(
                    "the tta criterion needs predictions on augmented frames "
                    "(tta_predictions)"
                )
            kwargs["augmented"] = augmented
        if name == "novelty":
            kwargs["novelty"] = novelty
        scores[name] = np.asarray(crit.score(xyp, **kwargs), dtype=float)
        threshold = crit.threshold
        if name == "uncertain" and pcutoff is not None:
            threshold = 1.0 - float(pcutoff)
        threshold = float((thresholds or {}).get(name, threshold))
        if not threshold > 0:
            raise ValueError(f"threshold of {name} must be positive; got {threshold}")
        used[name] = threshold
    index = np.arange(len(xyp)) if frames is None else np.asarray(frames, dtype=int)
    return OutlierScores(scores, used, index)


# --------------------------------------------------------------------- augmentation


def tta_predictions(
    predictor: Callable[[list[np.ndarray]], np.ndarray],
    frames: Sequence[np.ndarray],
    *,
    flip_pairs: Sequence[tuple[int, int]] = (),
    flip: bool = True,
    scales: Sequence[float] = (0.8, 1.25),
) -> list[np.ndarray]:
    """Predict on flipped and rescaled copies of frames, mapped back to the frames.

    Parameters
    ----------
    predictor
        Frames (RGB, any size) → ``(N, K, 3)``, e.g. ``ModelFolder.predictor()``
        (the Keras runtime takes frames of any size).
    frames
        RGB frames ``(H, W, 3)``.
    flip_pairs
        Keypoint index pairs that swap under a horizontal flip (left/right ears).
    flip
        Predict on the mirrored frames.
    scales
        Predict on frames resized by these factors.

    Returns
    -------
    list of numpy.ndarray
        One ``(N, K, 3)`` per augmentation, in the original frames' pixels and
        keypoint order.
    """
    frames = [np.asarray(f) for f in frames]
    out = []
    if flip:
        pred = np.asarray(predictor([np.ascontiguousarray(f[:, ::-1]) for f in frames]))
        pred = pred.copy()
        widths = np.array([f.shape[1] for f in frames], float)
        pred[..., 0] = widths[:, None] - 1.0 - pred[..., 0]
        perm = np.arange(pred.shape[1])
        for a, b in flip_pairs:
            perm[a], perm[b] = b, a
        out.append(pred[:, perm])
    for s in scales:
        resized = [
            cv2.resize(
                f,
                (max(1, round(f.shape[1] * s)), max(1, round(f.shape[0] * s))),
                interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
            )
            for f in frames
        ]
        pred = np.asarray(predictor(resized)).copy()
        for i, (f, r) in enumerate(zip(frames, resized, strict=True)):
            pred[i, :, 0] = (pred[i, :, 0] + 0.5) * f.shape[1] / r.shape[1] - 0.5
            pred[i, :, 1] = (pred[i, :, 1] + 0.5) * f.shape[0] / r.shape[0] - 0.5
        out.append(pred)
    return out


TTA_SCALES = (0.8, 1.25)


def tta_augmentations(
    train_config: Mapping[str, Any] | None,
    scales: Sequence[float] = TTA_SCALES,
) -> tuple[bool, tuple[float, ...]]:
    """Choose the augmentations for test-time augmentation: those the network trained with.

    Disagreement between predictions on augmented copies says the frame is hard only
    when the network knows the augmentation. A network trained without mirroring
    (posekit's default) does not know mirrored animals: on the fly crops of the
    accuracy benchmark (a sample of them), its thorax on the mirrored crops is a
    median 81 px from where it is on the crops as they are, so the mirror flags every
    crop and ranks the crops with a miss worse than chance (ROC AUC 0.45; the rescaled
    copies: 0.89; ``benchmarks/results/fly_active_learning.json``).
    So the copies are mirrored only when the training mirrored, and rescaled only
    within the training's scale range.

    Parameters
    ----------
    train_config
        The snapshot's ``train_config`` record (``Snapshot.meta["train_config"]``);
        ``None``: not known (mirrored and rescaled by ``scales``, as before).
    scales
        The rescalings wanted; each is clipped to the trained scale range, and those
        that become 1 are left out.

    Returns
    -------
    flip : bool
        Whether to predict on mirrored copies.
    scales : tuple of float
        The rescalings to predict on.

    Examples
    --------
    >>> tta_augmentations({"augment": {"flip_probability": 0.0,
    ...                                "scale_range": [0.9, 1.25]}})
    (False, (0.9, 1.25))
    >>> tta_augmentations({"augment": {"flip_probability": 0.5}})
    (True, (0.8, 1.25))
    """
    if train_config is None:
        return True, tuple(float(s) for s in scales)
    from .augment import AugmentConfig

    augment = AugmentConfig.from_dict(dict(train_config.get("augment") or {}))
    lo, hi = augment.scale_range
    kept = [float(np.clip(s, lo, hi)) for s in scales]
    return augment.flip_probability > 0, tuple(
        dict.fromkeys(s for s in kept if s != 1.0)
    )


def snapshot_tta_augmentations(folder: Any) -> tuple[bool, tuple[float, ...]]:
    """:func:`tta_augmentations` of the newest snapshot in a model folder.

    Parameters
    ----------
    folder
        A :class:`~posekit.engine.model_folder.ModelFolder`.

    Returns
    -------
    flip : bool
    scales : tuple of float
        As :func:`tta_augmentations` returns them; mirrored and rescaled by
        :data:`TTA_SCALES` when the folder has no readable snapshot (a predictor of
        the caller's own).
    """
    from .model_folder import Snapshot

    try:
        _, path = folder.snapshot(-1)
        record = Snapshot.read(path.with_suffix(".json"), verify=False).meta
    except (FileNotFoundError, ValueError):
        return tta_augmentations(None)
    return tta_augmentations(record.get("train_config"))


def predict_augmented(
    predictor: Callable[[list[np.ndarray]], np.ndarray],
    frames: Sequence[np.ndarray],
    bodyparts: Sequence[str],
    augmentations: tuple[bool, tuple[float, ...]],
) -> list[np.ndarray]:
    """:func:`tta_predictions` with the bodyparts' mirror pairs and chosen augmentations.

    Parameters
    ----------
    predictor
        Frames (RGB, any size) → ``(N, K, 3)``.
    frames
        RGB frames ``(H, W, 3)``.
    bodyparts
        The predictor's keypoints, in order (left/right pairs swap in a mirror,
        :func:`posekit.engine.dataset.symmetric_pairs`).
    augmentations
        ``(flip, scales)``, e.g. :func:`snapshot_tta_augmentations`.

    Returns
    -------
    list of numpy.ndarray
        One ``(N, K, 3)`` per augmentation, in the original frames' pixels.

    Raises
    ------
    ValueError
        No augmentation (no mirror and no rescaling).
    """
    from .dataset import symmetric_pairs

    flip, scales = augmentations
    if not flip and not scales:
        raise ValueError(
            "the tta criterion has no augmentation to compare with: the network was "
            "trained without mirroring and without rescaling. Leave tta out."
        )
    bps = list(bodyparts)
    pairs = [(bps.index(a), bps.index(b)) for a, b in symmetric_pairs(bps)]
    return tta_predictions(
        predictor, frames, flip_pairs=pairs, flip=flip, scales=scales
    )


# ------------------------------------------------------------------------ selection


def frame_features(frames: Sequence[np.ndarray], width: int = 30) -> np.ndarray:
    """Downsampled grayscale frames as feature rows for k-means (as DeepLabCut does).

    Parameters
    ----------
    frames
        RGB frames.
    width
        Width of the thumbnails (aspect ratio kept).

    Returns
    -------
    numpy.ndarray
        ``(N, n_pixels)`` in [0, 1].
    """
    rows = []
    for f in frames:
        h, w = f.shape[:2]
        small = cv2.resize(
            cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY),
            (width, max(1, round(h * width / w))),
            interpolation=cv2.INTER_AREA,
        )
        rows.append(small.ravel().astype(np.float32) / 255.0)
    if not rows:
        return np.zeros((0, 0), np.float32)
    size = max(len(r) for r in rows)
    return np.stack([np.pad(r, (0, size - len(r))) for r in rows])


def select_diverse(
    scores: np.ndarray,
    features: np.ndarray,
    n: int,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Choose ``n`` diverse rows: k-means on ``features``, the best score per cluster.

    Parameters
    ----------
    scores
        ``(N,)`` how much each candidate is worth (higher first).
    features
        ``(N, D)`` what makes frames look alike (:func:`frame_features`).
    n
        How many to choose (all when ``N <= n``).
    seed
        k-means seed.

    Returns
    -------
    numpy.ndarray
        Sorted row positions.

    Examples
    --------
    >>> feats = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> select_diverse(np.array([1.0, 2.0, 3.0, 0.5]), feats, 2).tolist()
    [1, 2]
    """
    scores = np.asarray(scores, float)
    m = len(scores)
    if n <= 0 or m == 0:
        return np.zeros(0, int)
    if m <= n:
        return np.arange(m)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n, random_state=seed, n_init=4)
    labels = km.fit_predict(np.asarray(features, float))
    picked = []
    for c in range(n):
        members = np.flatnonzero(labels == c)
        if len(members):
            picked.append(int(members[np.argmax(scores[members])]))
    if len(picked) < n:  # empty clusters: take the best of the rest
        rest = [i for i in np.argsort(-scores) if i not in set(picked)]
        picked += [int(i) for i in rest[: n - len(picked)]]
    return np.sort(np.asarray(picked, int))


# ---------------------------------------------------------------------- predictions


def find_prediction_file(
    project: Project,
    video: str | os.PathLike,
    *,
    shuffle: int = 1,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
) -> Path:
    """Find the predictions of ``video`` to look for outliers in.

    The file of the shuffle's newest snapshot (DeepLabCut's ``<video><scorer>.h5``)
    when it exists, else the ``<video>DLC_*.h5`` beside the video of the newest
    model (its iteration, then its training iterations:
    :func:`~.postprocessing.model_order`; not the file time), with a warning.
    :func:`older_analysis` says whether it is the current network's.

    Parameters
    ----------
    project
        The project.
    video
        The analysed video.
    shuffle
        Shuffle whose model analysed it.
    destfolder
        Where the analysis wrote it (default: beside the video).
    track_method
        Several animals: only the tracks file of this tracker (``"ellipse"`` →
        ``…_el.h5``, ``"box"`` → ``…_bx.h5``, ``"keypoints"`` → ``…_sk.h5``;
        default: any, the config's ``default_track_method`` first).

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        The video was not analysed, or has no tracks of ``track_method`` (the
        message says how to analyse it, and names the other trackers' files).
    """
    from .api import _other_tracks
    from .postprocessing import (
        TRACKS_SUFFIXES,
        network_predictions,
        prediction_folders,
    )

    video = Path(video)
    found = network_predictions(
        project, video, shuffle, destfolder=destfolder, track_method=track_method
    )
    if not found:
        ending = TRACKS_SUFFIXES[track_method] if track_method else ""
        folders = (
            [Path(destfolder)] if destfolder else prediction_folders(project, video)
        )
        # a video outside the project: analysed into the project's videos/, where
        # this verb looks first (an explicit video list writes beside the video)
        dest = (
            f" --dest {shlex.quote(str(folders[0]))}"
            if destfolder or len(folders) > 1
            else ""
        )
        raise FileNotFoundError(
            f"{video.name} has not been analysed"
            + (f" with the {track_method!r} tracker" if track_method else "")
            + f": no {video.stem}DLC_*{ending}.h5 in "
            + " or ".join(map(str, folders))
            + ". "
            "Analyse it first: "
            f"posekit.engine.analyze_videos(project, [{str(video)!r}]"
            + (f", destfolder={str(folders[0])!r}" if dest else "")
            + (f", track_method={track_method!r}" if track_method else "")
            + f") or `posekit analyze {shlex.quote(str(project.path))} "
            f"{shlex.quote(str(video))}{dest}"
            + (f" --track-method {track_method}" if track_method else "")
            + "`."
            + _other_tracks(
                [video],
                destfolder,
                False,
                track_method,
                "posekit extract-outliers --track-method",
                project=project,
            )
        )
    return found[0]


class StaleAnalysisError(FileNotFoundError):
    """The video's analysis is not from the current iteration's network."""


def older_analysis(
    project: Project,
    video: str | os.PathLike,
    path: str | os.PathLike,
    *,
    shuffle: int = 1,
) -> str | None:
    """Why ``path`` is not the analysis of the current iteration's network, or ``None``.

    ``None`` when it is that network's file (DeepLabCut's ``<video><scorer>.h5`` of
    the shuffle's newest snapshot, whose ``_meta.pickle``, if any, names that
    network's iteration and model folder: two iterations trained to the same number
    of steps have the same scorer name,
    :func:`~posekit.engine.inference.analysed_by_other_network`), or when the
    project has no network of its own at all (predictions made elsewhere).
    Otherwise one sentence for the user: which analysis exists, which network made
    it (:func:`~.postprocessing.prediction_model`) and which one should have.
    """
    from .postprocessing import FILTERED_SUFFIX, network_scorer, prediction_model

    path = Path(path)
    video = Path(video)
    iteration, iters = prediction_model(path)
    made_by = (
        f"iteration {iteration}'s network" if iteration is not None else "a network"
    ) + (f" after {iters} training iterations" if iters is not None else "")
    scorer = network_scorer(project, shuffle)
    if scorer is not None:
        stem = path.stem.removesuffix(FILTERED_SUFFIX)
        named = stem == f"{video.stem}{scorer}" or stem.startswith(
            f"{video.stem}{scorer}_"
        )
        if named and not _other_network_made(project, path, shuffle):
            return None
        return (
            f"{video.name} was analysed by {made_by} ({path.name}), not by the "
            f"network of iteration {project.iteration} (shuffle {shuffle}, {scorer})"
        )
    version, snapshots = _deeplabcut_network_of(project, shuffle)
    if version:
        if _deeplabcut_network_made(project, path, shuffle, iteration, snapshots):
            return None
        return (
            f"{video.name} was analysed by {made_by} ({path.name}), not by the "
            f"network of iteration {project.iteration} (shuffle {shuffle}: "
            f"{version}, snapshots {', '.join(map(str, snapshots))})"
        )
    trained = [  # a train folder with snapshots (create_training_dataset makes it)
        train
        for train in project.path.glob("dlc-models*/iteration-*/*shuffle*/train")
        if any(train.glob("snapshot-*"))
    ]
    if not trained:
        return None  # no network here: the predictions were made elsewhere
    return (
        f"{video.name} was analysed by {made_by} ({path.name}); iteration "
        f"{project.iteration} has no trained network of shuffle {shuffle} yet"
    )


#: The snapshot a DeepLabCut scorer ends with: ``…shuffle1_200000`` (DeepLabCut 2,
#: iterations), ``…shuffle1_snapshot_200`` (DeepLabCut 3, epochs).
_DLC_SCORER_SNAPSHOT = re.compile(r"shuffle\d+_(?:snapshot_)?(\d+)$")


def _deeplabcut_network_of(project: Project, shuffle: int) -> tuple[str, list[int]]:
    """DeepLabCut's own network of the shuffle in this iteration: engine and snapshots.

    ``("", [])`` when DeepLabCut trained none there (posekit's network, or none).
    """
    from .model_folder import ModelFolder

    try:
        folder = ModelFolder.of(project, shuffle)
        engine = folder.deeplabcut_engine()
        snapshots = folder.deeplabcut_snapshots() if engine else []
    except (OSError, ValueError) as err:
        logger.info("cannot read DeepLabCut's network of shuffle %d: %s", shuffle, err)
        return "", []
    version = {"TensorFlow": "DeepLabCut 2", "PyTorch": "DeepLabCut 3"}.get(engine, "")
    return (version, snapshots) if version else ("", [])


def _deeplabcut_network_made(
    project: Project,
    path: Path,
    shuffle: int,
    iteration: int | None,
    snapshots: Sequence[int],
) -> bool:
    """Whether DeepLabCut's own network of the shuffle (this iteration) made ``path``.

    A shuffle DeepLabCut trained (DeepLabCut 2's checkpoints, DeepLabCut 3's
    ``snapshot-<epoch>.pt``: ``snapshots``) has no posekit scorer; its analysis
    (``…shuffle1_snapshot_200.h5``, ``…shuffle1_200000.h5``) is the current network's
    when its scorer names the shuffle and one of the snapshots, and its
    ``_meta.pickle`` (if any) names this iteration.
    """
    from .postprocessing import FILTERED_SUFFIX, TRACKS_SUFFIXES, names_shuffle

    stem = path.stem.removesuffix(FILTERED_SUFFIX)
    for sfx in TRACKS_SUFFIXES.values():
        stem = stem.removesuffix(sfx)
    m = _DLC_SCORER_SNAPSHOT.search(stem)
    return (
        m is not None
        and int(m.group(1)) in snapshots
        and names_shuffle(path, shuffle)
        and iteration in (None, project.iteration)
    )


def _other_network_made(project: Project, path: Path, shuffle: int) -> bool:
    """Whether ``path``'s ``_meta.pickle`` names another network than the shuffle's."""
    from .inference import analysed_by_other_network
    from .model_folder import ModelFolder

    try:
        model = dict(ModelFolder.of(project, shuffle).info)
    except (OSError, ValueError) as err:
        logger.info("cannot read the model of shuffle %d: %s", shuffle, err)
        return False
    return analysed_by_other_network(path, model) is not None


def predictions_for_frames(path: str | os.PathLike) -> tuple[np.ndarray, str, list]:
    """Read a predictions file as ``(T, K, 3)``, its scorer and the ``K`` point names.

    A single-animal file's points are its bodyparts. A multi-animal file (the tracks,
    ``…_el.h5``) has one point per individual and bodypart, named
    ``"<individual>/<bodypart>"`` (:func:`posekit.engine.multianimal.labels.slot_name`;
    unique bodyparts under ``single``), in the file's column order.

    Raises
    ------
    LabelError
        A file without likelihoods.
    """
    from .multianimal.labels import slot_name

    df = read_predictions(path)
    scorer = str(df.columns.get_level_values("scorer")[0])
    coords = list(dict.fromkeys(df.columns.get_level_values("coords")))
    if coords[:3] != ["x", "y", "likelihood"]:
        raise LabelError(f"{path} has coords {coords}; expected x, y, likelihood")
    sub = df[scorer]
    keys = list(dict.fromkeys(c[:-1] for c in sub.columns))
    names = [slot_name(*k) if len(k) == 2 else str(k[0]) for k in keys]
    xyp = np.stack(
        [
            np.stack(
                [sub[(*key, c)].to_numpy(float) for c in ("x", "y", "likelihood")], -1
            )
            for key in keys
        ],
        axis=1,
    )
    return xyp, scorer, names


# ------------------------------------------------------------------- machine labels


def machine_labels_path(project: Project, video: str | os.PathLike) -> Path:
    """``labeled-data/<video>/machinelabels-iter<N>.h5`` for the project's iteration."""
    return project.labeled_data_dir(video) / f"machinelabels-iter{project.iteration}.h5"


def write_machine_labels(
    project: Project,
    video: str | os.PathLike,
    frames: Sequence[str],
    xyp: np.ndarray,
    scorer: str,
    bodyparts: Sequence[str],
) -> Path:
    """Write predictions for extracted frames as DeepLabCut's machine labels.

    Rows of frames already in the file are replaced, others kept with their scorer:
    rows another network wrote (DeepLabCut's, or an older analysis') stay under
    theirs, in a column group of their own, as DeepLabCut's ``pd.concat`` keeps
    them (:func:`read_machine_labels` reads each row from its group). Written atomically
    as ``machinelabels-iter<N>.h5`` (key ``df_with_missing``, columns
    ``scorer/bodyparts/coords`` with ``x, y, likelihood``, rows
    ``("labeled-data", <video>, <image>)``) and the ``machinelabels.csv`` twin.

    Parameters
    ----------
    project
        The project (its iteration names the file).
    video
        Video path or stem.
    frames
        ``labeled-data/<video>/<image>`` of each row.
    xyp
        ``(n_frames, K, 3)`` predictions.
    scorer
        The network's scorer name (DeepLabCut's ``DLC_<net>_…``).
    bodyparts
        Names of the ``K`` keypoints; ``"<individual>/<bodypart>"`` points (a
        multi-animal project's) are written with DeepLabCut's four column levels.

    Returns
    -------
    Path
        The ``.h5`` file.
    """
    path = machine_labels_path(project, video)
    df = _machine_frame(np.asarray(xyp, float), scorer, bodyparts)
    df.index = paths_to_index(list(frames))
    if path.is_file():
        try:
            df = _append_machine_rows(read_predictions(path), df)
        except (LabelError, OSError, KeyError, ValueError) as err:
            logger.warning("replacing unreadable machine labels %s (%s)", path, err)
    write_hdf(df, path, format="fixed")
    with atomic_path(path.with_name(MACHINE_LABELS_CSV)) as tmp:
        df.to_csv(tmp)
    return path


def _append_machine_rows(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Machine labels ``old`` with the rows of ``new`` added or replacing theirs.

    Each kept row keeps its scorer: the columns are the union of both tables' (one
    group per scorer, the new one last), and a scorer none of whose rows is left
    loses its columns.
    """
    old.index = paths_to_index(index_to_paths(old.index))
    if list(old.columns.names) != list(new.columns.names):
        raise ValueError(
            f"its columns are {list(old.columns.names)}, not "
            f"{list(new.columns.names)} (another kind of project's file)"
        )
    scorer = new.columns.get_level_values("scorer")[0]
    keep = old.loc[~old.index.isin(new.index)]
    groups = []
    for name in dict.fromkeys(keep.columns.get_level_values("scorer")):
        part = keep.xs(name, axis=1, level="scorer", drop_level=False)
        if name == scorer:
            part = part.reindex(columns=new.columns)
        elif not part.notna().to_numpy().any():
            continue  # all its rows were replaced
        groups.append(part)
    if not groups:
        return new
    kept = pd.concat(groups, axis=1)
    columns = kept.columns.append(new.columns[~new.columns.isin(kept.columns)])
    return pd.concat([kept, new]).reindex(columns=columns).sort_index()


def _machine_frame(xyp: np.ndarray, scorer: str, names: Sequence[str]) -> pd.DataFrame:
    """Predictions of ``names`` as a DLC table: four levels for ``individual/part``."""
    from .multianimal.labels import SLOT_SEPARATOR, split_slot

    if not names or not all(SLOT_SEPARATOR in n for n in names):
        return predictions_frame(xyp, scorer, names)
    columns = pd.MultiIndex.from_tuples(
        [(scorer, *split_slot(n), c) for n in names for c in ("x", "y", "likelihood")],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    return pd.DataFrame(xyp.reshape(len(xyp), -1), columns=columns)


def read_machine_labels(
    project: Project,
    video: str | os.PathLike,
    points: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Machine labels of a video's extracted frames, in the project's points.

    Every ``machinelabels-iter<N>.h5`` of ``labeled-data/<video>/`` is read, older
    iterations first, so that a frame's newest prediction wins. A file with several
    scorers (rows of two networks, :func:`write_machine_labels`, DeepLabCut's
    ``pd.concat``) gives each row's points from the scorer that has them.

    Parameters
    ----------
    project
        The project.
    video
        Video path or stem.
    points
        The points to read, in this order (default: the bodyparts; in a multi-animal
        project ``"<individual>/<bodypart>"`` of the config's animals, as the label
        store names them).

    Returns
    -------
    dict
        ``labeled-data/<video>/<image>`` → ``(n_points, 3)`` x, y, likelihood (NaN
        for a point the file does not predict).
    """
    from .multianimal.labels import split_slot

    folder = project.labeled_data_dir(video)
    files = []
    for p in folder.glob("machinelabels-iter*.h5"):
        digits = p.stem[len("machinelabels-iter") :]
        if digits.isdigit():
            files.append((int(digits), p))
    out: dict[str, np.ndarray] = {}
    if points is None:
        points = _project_points(project)
    keys = [split_slot(n) if project.multianimal else (n,) for n in points]
    for _, path in sorted(files):
        try:
            df = read_predictions(path)
        except (LabelError, OSError, ValueError) as err:
            logger.warning("cannot read machine labels %s: %s", path, err)
            continue
        if ("individuals" in df.columns.names) != project.multianimal:
            continue  # another kind of project's file
        paths = index_to_paths(df.index)
        arr = np.full((len(df), len(keys), 3), np.nan)
        # one column group per scorer (DeepLabCut's pd.concat of two networks'
        # rows): each row's point from the group that has it
        for scorer in dict.fromkeys(df.columns.get_level_values("scorer")):
            sub = df[scorer]
            for j, key in enumerate(keys):
                if (*key, "x") not in sub.columns:
                    continue
                empty = np.isnan(arr[:, j, 0])
                for c, coord in enumerate(("x", "y", "likelihood")):
                    if (*key, coord) in sub.columns:
                        values = sub[(*key, coord)].to_numpy(float)
                        arr[empty, j, c] = values[empty]
        for p, a in zip(paths, arr, strict=True):
            out[p] = a
    return out


def _project_points(project: Project) -> list[str]:
    """Return the bodyparts, or a multi-animal project's ``<individual>/<bodypart>``."""
    if not project.multianimal:
        return list(project.bodyparts)
    from .multianimal.labels import slot_name
    from .multianimal.layout import MultiAnimalLayout

    return [slot_name(i, b) for i, b in MultiAnimalLayout.from_config(project).slots]


def predict_machine_labels(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    overwrite: bool = False,
    predictor: Callable[[list[np.ndarray]], np.ndarray] | None = None,
) -> dict[str, int]:
    """Pre-fill extracted frames with the network's guesses (machine labels).

    For every frame of ``labeled-data/<video>/`` that is not fully labelled and has
    no machine label yet, the shuffle's snapshot predicts the keypoints, written as
    ``machinelabels-iter<N>.h5`` (:func:`write_machine_labels`), so that the
    labeller opens those frames pre-filled (``posekit label --from-predictions``).

    Parameters
    ----------
    project
        The project (or its folder).
    videos
        Video paths or stems (default: every folder of ``labeled-data``).
    shuffle, snapshot
        Which network (``snapshot`` indexes the snapshots, -1 newest).
    overwrite
        Predict frames that have machine labels already, too.
    predictor
        Frames (RGB) → ``(N, K, 3)`` in the project's bodyparts (default: the
        snapshot's Keras runtime, frames of any size).

    Returns
    -------
    dict
        Video stem → number of frames pre-filled.

    Raises
    ------
    FileNotFoundError
        No trained snapshot (train first).
    """
    from .labels import LabelStore
    from .model_folder import ModelFolder
    from .project import as_project, video_folder_name

    proj = as_project(project)
    if proj.multianimal and predictor is None:
        raise ValueError(
            "Pre-filling the frames of a multi-animal project from a snapshot is not "
            "possible: which animal is which comes from tracking a video. Analyse the "
            "video and extract its outlier frames instead (posekit extract-outliers): "
            "they open pre-filled with the tracks."
        )
    folder = ModelFolder.of(proj, shuffle)
    _, path = folder.snapshot(snapshot)
    scorer = folder.scorer(path)
    if predictor is None:
        predictor = folder.predictor(batch_size=1, snapshot=path)
    stems = [video_folder_name(v) for v in videos] if videos else proj.labeled_videos()
    done: dict[str, int] = {}
    for stem in stems:
        store = LabelStore(proj, stem)
        machine = {} if overwrite else read_machine_labels(proj, stem)
        todo = [
            f
            for f in store.frames
            if f not in machine
            and np.isnan(store.get(f)).any()
            and store.image_path(f).is_file()
        ]
        images = []
        for f in todo:
            bgr = cv2.imread(str(store.image_path(f)), cv2.IMREAD_COLOR)
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if todo:
            xyp = np.asarray(predictor(images))
            write_machine_labels(proj, stem, todo, xyp, scorer, proj.bodyparts)
        done[stem] = len(todo)
        logger.info("%s: %d frame(s) pre-filled with %s", stem, len(todo), scorer)
    return done


# ------------------------------------------------------------------------ extraction


@dataclass
class OutlierFrames:
    """What :func:`extract_outlier_frames` found and extracted for one video.

    Attributes
    ----------
    video
        The video.
    predictions
        The predictions file scored.
    scores
        Per-frame scores (:class:`OutlierScores`; ``frames`` are video frame indices).
    candidates
        Frames above a threshold (video frame indices), frames extracted before
        excluded.
    picked
        The frames chosen and extracted (video frame indices, sorted).
    images
        Their images ``labeled-data/<video>/img<index>.png``.
    machine_labels
        The machine-labels file written (``None`` when nothing was picked).
    advice
        What made the criteria less useful on this video, and what to do
        (:func:`rarely_confident_bodyparts`).
    pcutoff
        The project's p-cutoff (how the ``uncertain`` counts are told).
    warnings
        What the user must know about the result (an older network's analysis
        used): in the summary line.
    explained
        :attr:`advice` as data (:class:`OutlierAdvice`), for an app to say it in
        its own words.
    start, stop
        The fractions of the video scored (DeepLabCut's ``start``/``stop``; 0 and 1:
        all of it); the summary names the frame range when they restrict it.
    range_from_config
        Whether ``start``/``stop`` came from ``config.yaml`` (not the call).
    listed
        The frames were listed by the user (DeepLabCut's ``outlieralgorithm="list"``,
        ``--frames``), not flagged: the summary calls them listed frames.
    """

    video: Path
    predictions: Path
    scores: OutlierScores
    candidates: np.ndarray
    picked: np.ndarray
    images: list[Path] = field(default_factory=list)
    machine_labels: Path | None = None
    advice: list[str] = field(default_factory=list)
    pcutoff: float | None = None
    warnings: list[str] = field(default_factory=list)
    explained: list[OutlierAdvice] = field(default_factory=list)
    start: float = 0.0
    stop: float = 1.0
    range_from_config: bool = False
    listed: bool = False

    def flagged(self) -> str:
        """Say what flagged the candidates and how strongly (``uncertain only (…)``).

        Counts are of the candidates (frames extracted before left out); a criterion
        that flags none is listed with 0. When only ``uncertain`` flags them, and by
        a small margin (the median lowest likelihood at least half the p-cutoff),
        it says that the network may already be good.
        """
        if not len(self.candidates) or not self.scores.scores:
            return ""
        frames = self.scores.frames
        rows = np.isin(frames, self.candidates)
        norm = {c: v[rows] for c, v in self.scores.normalized.items()}
        by = {c: int((v > 1.0).sum()) for c, v in norm.items()}
        flagging = [c for c, k in by.items() if k]
        parts = []
        for c in flagging:
            hit = norm[c] > 1.0
            raw = self.scores.scores[c][rows][hit]
            if c == "uncertain":
                lik = 1.0 - raw
                cutoff = 1.0 - self.scores.thresholds[c]
                strength = (
                    f"lowest likelihood {lik.min():.2f}–{lik.max():.2f} against "
                    f"{self._bound_name(cutoff)} {cutoff:.2g}"
                )
            else:
                unit = CRITERIA[c].unit if c in CRITERIA else ""
                strength = (
                    f"{raw.min():.3g}–{raw.max():.3g} {unit} against "
                    f"{self.scores.thresholds[c]:.3g}"
                ).replace("  ", " ")
            parts.append(f"{c} {by[c]} ({strength})")
        zero = [f"{c} 0" for c, k in by.items() if not k]
        if len(flagging) == 1:
            c = flagging[0]
            text = f"flagged by {c} only ({parts[0].split(' (', 1)[1]}"
        else:
            text = "flagged by " + ", ".join(parts)
        if zero:
            text += "; " + ", ".join(zero)
        if flagging == ["uncertain"]:
            lik = 1.0 - self.scores.scores["uncertain"][rows]
            cutoff = 1.0 - self.scores.thresholds["uncertain"]
            if float(np.median(lik)) >= cutoff / 2:
                text += (
                    " — the network may already be good: check `posekit evaluate` "
                    "(the frames are only a little less sure than the "
                    f"{self._bound_name(cutoff)})"
                )
        return text

    def _bound_name(self, cutoff: float) -> str:
        """``"p-cutoff"`` (the config's), or ``"p_bound"`` (DeepLabCut's, another)."""
        if self.pcutoff is None or np.isclose(cutoff, self.pcutoff):
            return "p-cutoff"
        return "p_bound"

    def summary(self) -> str:
        """One line: how many outliers, what flagged them, how many extracted, where.

        Warnings (an older network's analysis used) end the line; advice follows.
        """
        if self.images:
            done = f"{len(self.picked)} extracted ({self.images[0].parent})"
        else:
            done = f"{len(self.picked)} chosen, nothing extracted"
        flagged = self.flagged()
        kind = "listed" if self.listed else "outlier"
        return (
            f"{self.video.name}: {len(self.candidates)} {kind} frame(s) of "
            f"{len(self.scores.frames)}{self._range_note()}; {done}"
            + (f"; {flagged}" if flagged else "")
            + "".join(f"; WARNING: {w}" for w in self.warnings)
        ) + "".join(f"\n{a}" for a in self.advice)

    def _range_note(self) -> str:
        """`` (frames 75-89: config start 0.5, stop 0.6)`` when start/stop restrict."""
        frames = self.scores.frames
        if (self.start, self.stop) == (0.0, 1.0) or not len(frames):
            return ""
        where = "config " if self.range_from_config else ""
        return (
            f" (frames {int(frames[0])}-{int(frames[-1])}: {where}start "
            f"{self.start:g}, stop {self.stop:g})"
        )

    def __str__(self) -> str:
        return self.summary()


def rarely_confident_bodyparts(
    xyp: np.ndarray,
    bodyparts: Sequence[str],
    pcutoff: float,
    *,
    share: float = 0.5,
) -> dict[str, float]:
    """Bodyparts below the p-cutoff in more than ``share`` of the frames.

    Such a part (a tongue that is mostly in, a paw mostly hidden, or a part the network
    has not learned yet) makes ``uncertain`` flag nearly every frame, so that the
    frames chosen are little better than random ones.

    Parameters
    ----------
    xyp
        ``(T, K, 3)`` predictions.
    bodyparts
        The ``K`` names.
    pcutoff
        Likelihood cutoff.
    share
        Fraction of frames above which a part is reported.

    Returns
    -------
    dict
        Bodypart → fraction of frames below the cutoff.

    Examples
    --------
    >>> xyp = np.ones((4, 2, 3)); xyp[:3, 1, 2] = 0.1
    >>> rarely_confident_bodyparts(xyp, ["nose", "tongue"], 0.6)
    {'tongue': 0.75}
    """
    xyp = np.asarray(xyp, float)
    if not len(xyp):
        return {}
    low = ~(np.nan_to_num(xyp[..., 2], nan=0.0) >= pcutoff)
    rate = low.mean(axis=0)
    return {str(b): float(r) for b, r in zip(bodyparts, rate, strict=True) if r > share}


#: Share of the frames above which ``uncertain`` is said to flag "almost every
#: frame": then the network is unsure everywhere, and the advice is to train longer.
ALMOST_EVERY_FRAME = 0.9


@dataclass(frozen=True)
class OutlierAdvice:
    """Why a criterion flags most frames, as data (:func:`explain_outliers`).

    :meth:`text` says it in Python and command-line words (``comparisonbodyparts``,
    ``--bodyparts``); an app says it in its own words from the fields.

    Attributes
    ----------
    criterion
        ``"uncertain"`` or ``"tta"``.
    flagged
        Share of the frames it flags (``tta``: of the frames it compared).
    pcutoff
        The likelihood cutoff the parts are below.
    rare
        Bodyparts below ``pcutoff`` in most frames → their share of the frames.
    keep
        The other bodyparts scored (empty: none is seen; the network is unready).
    without
        ``tta`` only: the share it would flag without the ``rare`` parts.
    novelty
        Whether the ``novelty`` criterion can be suggested (available, not chosen).
    """

    criterion: str
    flagged: float
    pcutoff: float
    rare: dict[str, float]
    keep: list[str]
    without: float | None = None
    novelty: bool = False

    @property
    def unsure_everywhere(self) -> bool:
        """``uncertain`` flags almost every frame (:data:`ALMOST_EVERY_FRAME`)."""
        return self.criterion == "uncertain" and self.flagged >= ALMOST_EVERY_FRAME

    def text(self) -> str:
        """Say the advice in Python and command-line words."""
        parts = ", ".join(f"{b} ({100 * r:.0f} %)" for b, r in self.rare.items())
        keep = self.keep
        if self.criterion == "tta":
            return (
                f"'tta' flags {100 * self.flagged:.0f} % of the frames it compared, "
                f"and bodyparts below the p-cutoff ({self.pcutoff:g}) in most frames "
                f"can be why: {parts}. Where the network sees no such part its peak "
                "wanders between the augmented copies. Without them 'tta' would flag "
                f"{100 * (self.without or 0.0):.0f} %: leave them out "
                f"(comparisonbodyparts={keep!r}, --bodyparts {','.join(keep)})."
            )
        if not keep:  # no bodypart is seen: the network is unready
            return (
                f"'uncertain' flags {100 * self.flagged:.0f} % of the frames because "
                f"every bodypart is below the p-cutoff ({self.pcutoff:g}) in most "
                f"frames: {parts}. The network has not learned this video yet: train "
                "it longer or on more labelled frames first (posekit evaluate shows "
                "its test error), then look for outliers again."
            )
        find = (
            " (the 'novelty' criterion finds frames that show what the training "
            "frames never showed)"
            if self.novelty
            else ""
        )
        longer = (
            " A network unsure in almost every frame may also need a longer "
            "training first (posekit evaluate shows its test error)."
            if self.unsure_everywhere
            else ""
        )
        return (
            f"'uncertain' flags {100 * self.flagged:.0f} % of the frames because some "
            f"bodyparts are below the p-cutoff ({self.pcutoff:g}) in most frames: "
            f"{parts}. If they are often hidden, leave them out "
            f"(comparisonbodyparts={keep!r}, --bodyparts {','.join(keep)}); if the "
            "network has not learned them "
            f"yet, label a few frames that show them first{find}.{longer}"
        )

    def __str__(self) -> str:
        return self.text()


def explain_outliers(
    scores: OutlierScores,
    xyp: np.ndarray,
    bodyparts: Sequence[str],
    *,
    pcutoff: float,
    augmented: Sequence[np.ndarray] | None = None,
    novelty_available: bool = True,
) -> list[OutlierAdvice]:
    """Find when a criterion flags most frames because of a few bodyparts.

    A bodypart below the p-cutoff in most frames (a tongue that is mostly in, a paw
    mostly hidden, a part the network has not learned yet) makes ``uncertain`` flag
    nearly every frame. It also makes ``tta`` flag them: where the network sees no
    such part, its peak wanders between the augmented copies. The frames chosen are
    then little better than random ones. :func:`outlier_advice` says it in words.

    Parameters
    ----------
    scores
        The frames' scores (:func:`outlier_scores`).
    xyp
        ``(T, K, 3)`` predictions the scores were computed from.
    bodyparts
        The ``K`` names.
    pcutoff
        Likelihood cutoff.
    augmented
        The predictions on augmented copies ``tta`` compared (rows it did not
        compare equal ``xyp``).
    novelty_available
        Whether the ``novelty`` criterion can be suggested (not in a multi-animal
        project).

    Returns
    -------
    list of OutlierAdvice
        One per criterion that flags at least half of the frames it scored while
        some bodyparts are below the p-cutoff in most frames; empty otherwise.

    Examples
    --------
    >>> xyp = np.ones((10, 2, 3)); xyp[:, 1, 2] = 0.05  # the tongue is never seen
    >>> scores = outlier_scores(xyp, ["uncertain"], pcutoff=0.6)
    >>> (advice,) = explain_outliers(scores, xyp, ["nose", "tongue"], pcutoff=0.6)
    >>> advice.rare, advice.keep, advice.unsure_everywhere
    ({'tongue': 1.0}, ['nose'], True)
    """
    if not len(scores.frames):
        return []
    bodyparts = list(bodyparts)

    def rarely_seen(cutoff: float) -> tuple[dict[str, float], list[str]]:
        rare = rarely_confident_bodyparts(xyp, bodyparts, cutoff)
        return rare, [b for b in bodyparts if b not in rare]

    out = []
    if "uncertain" in scores.scores:
        flagged = len(scores.outliers("uncertain")) / len(scores.frames)
        cutoff = 1.0 - scores.thresholds["uncertain"]  # the likelihood it used
        rare, keep = rarely_seen(cutoff)
        if flagged >= 0.5 and rare:
            out.append(
                OutlierAdvice(
                    "uncertain",
                    flagged,
                    cutoff,
                    rare,
                    keep,
                    novelty=novelty_available and "novelty" not in scores.scores,
                )
            )
    if "tta" not in scores.scores or augmented is None or not len(augmented):
        return out
    rare, keep = rarely_seen(pcutoff)
    if not rare or not keep:
        return out
    xyp = np.asarray(xyp, float)
    compared = np.zeros(len(xyp), bool)
    for aug in augmented:
        diff = np.nan_to_num(np.asarray(aug, float)[..., :2], nan=-1e9) != (
            np.nan_to_num(xyp[..., :2], nan=-1e9)
        )
        compared |= diff.any(axis=(1, 2))
    threshold = scores.thresholds["tta"]
    flagged = scores.scores["tta"][compared] > threshold
    if compared.any() and flagged.mean() >= 0.5:
        k = [bodyparts.index(b) for b in keep]
        without = tta_scores(xyp[:, k], [np.asarray(a)[:, k] for a in augmented])
        rest = float((without[compared] > threshold).mean())
        out.append(
            OutlierAdvice("tta", float(flagged.mean()), pcutoff, rare, keep, rest)
        )
    return out


def outlier_advice(
    scores: OutlierScores,
    xyp: np.ndarray,
    bodyparts: Sequence[str],
    *,
    pcutoff: float,
    augmented: Sequence[np.ndarray] | None = None,
    novelty_available: bool = True,
) -> list[str]:
    """Say what to do when a criterion flags most frames because of a few bodyparts.

    :func:`explain_outliers` in Python and command-line words
    (:meth:`OutlierAdvice.text`): the parts and the ``comparisonbodyparts`` that
    leave them out, for ``tta`` the share of frames it would flag without them,
    and a longer training when ``uncertain`` flags almost every frame.

    Parameters
    ----------
    scores, xyp, bodyparts, pcutoff, augmented, novelty_available
        As for :func:`explain_outliers`.

    Returns
    -------
    list of str
        One message per criterion that flags at least half of the frames it scored
        while some bodyparts are below the p-cutoff in most frames; empty otherwise.

    Examples
    --------
    >>> xyp = np.ones((10, 2, 3)); xyp[:, 1, 2] = 0.05  # the tongue is never seen
    >>> scores = outlier_scores(xyp, ["uncertain"], pcutoff=0.6)
    >>> print(outlier_advice(scores, xyp, ["nose", "tongue"], pcutoff=0.6)[0][:60])
    'uncertain' flags 100 % of the frames because some bodyparts
    """
    return [
        a.text()
        for a in explain_outliers(
            scores,
            xyp,
            bodyparts,
            pcutoff=pcutoff,
            augmented=augmented,
            novelty_available=novelty_available,
        )
    ]


def _read_frames(video: Path, indices: Sequence[int]) -> list[np.ndarray]:
    """Read frames by index: by seeking when few, else by one pass over the range."""
    from .video import VideoReader

    indices = sorted(int(i) for i in indices)
    if not indices:
        return []
    with VideoReader(video) as reader:
        if len(indices) <= 64:
            return [reader.read(i) for i in indices]
        wanted = set(indices)
        got = {}
        for i, frame in reader.iter_frames(indices[0], indices[-1] + 1):
            if i in wanted:
                got[i] = frame
        return [got[i] for i in indices]


def _already_extracted(project: Project, video: Path, n_total: int) -> set[int]:
    from .labels import list_frames
    from .video import frame_index_of

    out = set()
    for rel in list_frames(project, video):
        index = frame_index_of(rel)
        if index is not None and index < n_total:
            out.add(index)
    return out


#: DeepLabCut's defaults of ``extract_outlier_frames`` (epsilon: ``jump`` and
#: ``fitting``; p_bound: ``uncertain``), used with ``dlc_definitions=True``.
_DLC_EPSILON = 20.0
_DLC_P_BOUND = 0.01


def _dlc_outlier_algorithm(name: str) -> dict[str, Any]:
    """DeepLabCut's ``outlieralgorithm`` as posekit's ``criteria``, DLC's definitions."""
    if name == "list":
        return {"criteria": ("list",), "dlc_definitions": True}
    if name not in ("jump", "uncertain", "fitting"):
        hint = (
            "outlieralgorithm='manual' opens DeepLabCut's GUI, which posekit does not "
            "have: pick the frames yourself and pass them as "
            "outlieralgorithm='list', frames2use=[...] (`posekit extract-outliers "
            "PROJECT VIDEO --frames 5 10 24`); they are extracted with the analysis' "
            "guesses as machine labels, to correct in the refine app."
            if name == "manual"
            else f"outlieralgorithm={name!r}: posekit has 'jump', 'uncertain', "
            "'fitting' and 'list' (with frames2use=[...]), and 'tta', 'novelty' as "
            "criteria=[...]."
        )
        raise ValueError(hint)
    return {"criteria": [name], "dlc_definitions": True}


def _sarimax_option(default: float) -> Callable[[Any], dict[str, Any]]:
    """Accept DeepLabCut's ``ARdegree``/``MAdegree``/``alpha``; warn when not default."""

    def apply(value: Any) -> dict[str, Any]:
        from .dlc_names import _named

        if value != default:
            logger.warning(
                "%s is not used: posekit's 'fitting' fits each track with a robust "
                "Savitzky–Golay filter, not DeepLabCut's SARIMAX model, and flags "
                "frames whose distance from it exceeds epsilon (params={'fitting': "
                "{'window': 9, 'polyorder': 2}} or {'method': 'kalman'} tune it)",
                _named(value),
            )
        return {}

    return apply


def _frame_list(frames: Any) -> list[int]:
    """DeepLabCut's ``frames2use`` (frame indices) as a list of ``int``."""
    if frames is None:
        return None  # type: ignore[return-value]
    if isinstance(frames, str | bytes) or not isinstance(frames, Sequence | np.ndarray):
        raise TypeError(
            f"frames2use={frames!r}: give the frame indices to extract, e.g. "
            "frames2use=[5, 10, 24]"
        )
    out = []
    for f in frames:
        if isinstance(f, bool) or int(f) != f:
            raise TypeError(
                f"frames2use={list(frames)!r}: frame indices are whole numbers "
                "(0 is the video's first frame)"
            )
        out.append(int(f))
    return out


@dlc_keywords(
    outlieralgorithm=_dlc_outlier_algorithm,
    frames2use=renamed("frames", _frame_list),
    epsilon=thresholds(jump=float, fitting=float),
    p_bound=thresholds(uncertain=lambda p: 1.0 - float(p)),
    cluster_resizewidth=ignored("posekit's k-means has its own image size"),
    cluster_color=ignored("posekit's k-means has its own image features"),
    savelabeled=ignored("check the frames in the Refine app"),
    copy_videos=ignored(
        "a video whose frames are extracted and that config.yaml's video_sets does "
        "not list is linked into the project's videos/ (a symbolic link), not "
        "copied; to have a copy there, add it first with "
        "add_new_videos(config, [video], copy_videos=True)"
    ),
    modelprefix=ignored("posekit's models are in the project"),
    ARdegree=_sarimax_option(3),
    MAdegree=_sarimax_option(1),
    alpha=_sarimax_option(0.01),
)
def extract_outlier_frames(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    shuffle: int = 1,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    thresholds: Mapping[str, float] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    comparisonbodyparts: str | Sequence[str] = "all",
    n: int | None = None,
    extractionalgorithm: str = "kmeans",
    predictions: str | os.PathLike | None = None,
    fill: bool = False,
    start: float | None = None,
    stop: float | None = None,
    seed: int = 0,
    predictor: Callable[[list[np.ndarray]], np.ndarray] | None = None,
    tta_max_frames: int = 1000,
    novelty_max_frames: int = 2000,
    dry_run: bool = False,
    videotype: str | Sequence[str] | None = None,
    destfolder: str | os.PathLike | None = None,
    allow_older: bool = False,
    frames: Sequence[int] | None = None,
    dlc_definitions: bool = False,
    track_method: str | None = None,
) -> list[OutlierFrames]:
    """Find frames the network gets wrong, extract a diverse subset, write machine labels.

    DeepLabCut's ``extract_outlier_frames``: for each analysed video, every frame in
    ``[start, stop]`` is scored with the ``criteria`` (:data:`CRITERIA`), the frames
    above a threshold are the candidates (frames already in ``labeled-data`` are
    left out), ``n`` of them are chosen, extracted as
    ``labeled-data/<video>/img<index>.png``, and the network's predictions for them are
    written as ``machinelabels-iter<N>.h5`` so that the labeller opens them pre-filled.

    Parameters
    ----------
    project
        The project (or its folder).
    videos
        Analysed videos, or folders of them (default: the project's videos that
        have predictions). When ``videotype`` leaves out every video given, no
        frame is extracted (a warning, as DeepLabCut's "No video(s) were found";
        ``[]`` is returned), never from the project's videos instead.
    shuffle
        Shuffle whose predictions are used (:func:`find_prediction_file`) and whose
        model predicts the augmented frames for ``tta``.
    criteria
        Criteria names, combined with "any": ``jump``, ``uncertain``, ``fitting``,
        ``tta``, ``novelty`` (the last two run the shuffle's newest model on the
        frames; ``novelty`` also on its training frames).
    thresholds
        Thresholds by criterion (defaults: :data:`CRITERIA`; ``uncertain`` uses the
        project's ``pcutoff``).
    params
        Extra arguments of each criterion's function (``{"fitting": {"method":
        "kalman"}}``).
    comparisonbodyparts
        ``"all"`` or the bodyparts whose predictions are scored.
    n
        Frames to extract per video (default: the config's ``numframes2pick``).
    extractionalgorithm
        ``"kmeans"`` (diverse: k-means on the frames, the highest
        :attr:`OutlierScores.priority` per cluster), ``"uniform"`` (evenly spaced
        among the candidates) or ``"top"`` (the highest priorities).
    predictions
        The predictions file to score (one video only; default: found beside the
        video).
    fill
        When fewer frames than ``n`` exceed a threshold, add the next highest
        scoring frames (DeepLabCut does so for ``fitting``).
    start, stop
        Fractions of the video to look in (default: the config's ``start``/``stop``).
    seed
        k-means seed.
    predictor
        Frames → ``(N, K, 3)`` for ``tta`` (default: the shuffle's newest snapshot,
        Keras runtime). Its keypoints are the predictions file's.
    tta_max_frames
        ``tta`` predicts at most this many frames per video (evenly spaced; the
        others score 0 for it).
    novelty_max_frames
        ``novelty`` scores at most this many frames per video (evenly spaced; the
        others score 0 for it).
    dry_run
        Score and choose, but extract and write nothing.
    videotype
        DeepLabCut's ``videotype``: only the videos of this extension in the folders
        given (``".avi"``; default: every video).
    destfolder
        Where the analysis wrote the predictions (default: beside each video).
    allow_older
        Use a video's analysis by an older network when the current iteration's
        network has not analysed it (refused by default, as DeepLabCut does:
        its mistakes may be fixed already). The machine labels' scorer names the
        network that made them, and :attr:`OutlierFrames.warnings` says so.
    frames
        Extract exactly these frames of each video (video frame indices; DeepLabCut's
        ``outlieralgorithm="list", frames2use=[...]``), with the analysis' rows for
        them as machine labels: nothing is scored, ``criteria``, ``n`` and
        ``start``/``stop`` do not apply.
    dlc_definitions
        Compute ``jump``, ``uncertain`` and ``fitting`` as DeepLabCut's
        ``outlieralgorithm`` does (set when that keyword is given): ``jump`` is the
        displacement from the previous frame only (posekit's own: from both
        neighbours); unless given, ``uncertain`` flags likelihoods below
        ``p_bound=0.01`` (posekit's own: below the p-cutoff) and ``epsilon`` is 20 px
        for ``jump`` and ``fitting``; when fewer than ``2 × n`` frames pass
        ``fitting``'s epsilon, the ``2 × n`` most deviant ones are the candidates
        (as DeepLabCut does). ``fitting`` remains posekit's Savitzky–Golay fit, not
        DeepLabCut's SARIMAX model.
    track_method
        A multi-animal project: score the tracks of this tracker (DeepLabCut's
        ``track_method``: ``"ellipse"`` → ``…_el.h5``, ``"box"`` → ``…_bx.h5``,
        ``"keypoints"`` → ``…_sk.h5``; default: the config's
        ``default_track_method``, else ``"ellipse"``, as DeepLabCut;
        :func:`~posekit.engine.postprocessing.track_method_of`), not the newest
        tracks file. A single-animal project's predictions have no tracker: it is
        ignored there (a log line), as in DeepLabCut.

    Returns
    -------
    list of OutlierFrames
        One per video. A video that ``video_sets`` does not list is added to it (and
        linked into ``videos/``) when frames of it are extracted, as DeepLabCut does.

    Raises
    ------
    FileNotFoundError
        A video was not analysed (multi-animal: has no tracks of ``track_method``;
        the message names the other trackers' files there are).
    StaleAnalysisError
        A video's analysis is not from the current iteration's network (unless
        ``allow_older``); nothing is extracted.
    ValueError
        Bad criteria, algorithm or bodyparts, or ``track_method`` (or the config's
        ``default_track_method``) is not one of posekit's trackers.
    """
    from .project import as_project
    from .video import VideoReader, _range

    proj = as_project(project)
    track_method = _outlier_track_method(proj, track_method)
    criteria, listed = _listed_frames(criteria, frames, dlc_definitions)
    if extractionalgorithm not in ("kmeans", "uniform", "top"):
        raise ValueError(
            "extractionalgorithm must be 'kmeans', 'uniform' or 'top'; received "
            f"{extractionalgorithm!r}"
        )
    videos = _outlier_videos(proj, videos, videotype, shuffle, destfolder, track_method)
    if not videos:  # DeepLabCut: "No video(s) were found" (videotype)
        return []
    if predictions is not None and len(videos) != 1:
        raise ValueError("predictions= names one file: give exactly one video")
    if listed is None and proj.multianimal and {"tta", "novelty"} & set(criteria):
        raise ValueError(
            "'tta' and 'novelty' run a single-animal network on the frames; in a "
            "multi-animal project use 'jump', 'uncertain' and 'fitting' (on the "
            "tracks, each animal's bodyparts)."
        )
    n = int(n if n is not None else proj.get("numframes2pick", 20) or 20)
    range_from_config = start is None and stop is None
    start = float(start if start is not None else proj.get("start", 0) or 0)
    stop = float(stop if stop is not None else proj.get("stop", 1) or 1)
    sources = _prediction_sources(
        proj, videos, shuffle, predictions, destfolder, allow_older, track_method
    )
    if dlc_definitions:
        thresholds, params = _dlc_defaults(thresholds, params)
    results = []
    network = _SharedNetwork(proj, shuffle, seed)
    for video in videos:
        video = Path(video)
        pred_path, older = sources[video]
        xyp_all, scorer, file_bps = predictions_for_frames(pred_path)
        with VideoReader(video) as reader:
            n_video = reader.expected_frames  # the container's count: no decoding
        if listed is not None:
            results.append(
                _extract_listed(
                    proj,
                    video,
                    pred_path,
                    older,
                    xyp_all,
                    scorer,
                    file_bps,
                    n_video,
                    listed,
                    dry_run,
                )
            )
            continue
        lo, hi = _range(min(n_video, len(xyp_all)), start, stop)
        frames = np.arange(lo, hi)
        use = _bodypart_columns(file_bps, comparisonbodyparts)
        xyp = xyp_all[lo:hi][:, use]
        augmented = None
        if "tta" in criteria:
            augmented = _tta_for_video(
                video,
                frames,
                xyp_all[lo:hi],
                file_bps,
                predictor if predictor is not None else network.predictor(),
                tta_max_frames,
                network.tta,
            )
            augmented = [a[:, use] for a in augmented]
        novelty = None
        if "novelty" in criteria:
            novelty = _novelty_for_video(video, frames, network, novelty_max_frames)
        scores = outlier_scores(
            xyp,
            criteria,
            thresholds=thresholds,
            params=params,
            pcutoff=proj.pcutoff,
            augmented=augmented,
            novelty=novelty,
            frames=frames,
        )
        combined = scores.combined
        priority = scores.priority
        done = _already_extracted(proj, video, n_video)
        free = np.array([f not in done for f in frames], bool)
        is_candidate = (combined > 1.0) & free
        candidates = frames[is_candidate]
        fill_to = n if fill else 0
        dlc_fallback = dlc_definitions and "fitting" in criteria
        if dlc_fallback and len(frames) > 2 * n:
            fill_to = max(fill_to, 2 * n)  # DeepLabCut's fallback for fitting
        pool = _filled_pool(combined, free, is_candidate, fill_to)
        fill_note = []
        if dlc_fallback and len(pool) > len(candidates):
            fill_note.append(
                f"only {len(candidates)} frame(s) pass fitting's epsilon "
                f"({scores.thresholds['fitting']:g} px): as DeepLabCut does, the "
                f"{len(pool)} most deviant frame(s) are the candidates"
            )
        chosen = _choose(
            pool,
            priority[pool] if len(pool) else np.zeros(0),
            frames,
            video,
            n,
            extractionalgorithm,
            seed,
        )
        picked = np.sort(frames[chosen]) if len(chosen) else np.zeros(0, int)
        explained = explain_outliers(
            scores,
            xyp,
            [file_bps[j] for j in use],
            pcutoff=proj.pcutoff,
            augmented=augmented,
            novelty_available=not proj.multianimal,
        )
        advice = fill_note + [a.text() for a in explained]
        for line in advice:
            logger.warning("%s: %s", video.name, line)
        result = OutlierFrames(
            video,
            pred_path,
            scores,
            candidates,
            picked,
            advice=advice,
            pcutoff=proj.pcutoff,
            explained=explained,
            start=start,
            stop=stop,
            range_from_config=range_from_config,
        )
        _older_warning(result, older)
        logger.info(
            "%s: %d outlier frame(s) (%s), %d chosen",
            video.name,
            len(candidates),
            ", ".join(f"{c}: {len(scores.outliers(c))}" for c in scores.scores),
            len(picked),
        )
        if len(picked) and not dry_run:
            _extract_with_labels(proj, result, xyp_all, scorer, file_bps)
        results.append(result)
    return results


def _listed_frames(
    criteria: Sequence[str], frames: Sequence[int] | None, dlc_definitions: bool
) -> tuple[list[str], list[int] | None]:
    """Split DeepLabCut's ``outlieralgorithm="list"`` off ``criteria``.

    Returns the criteria to score and the frames to extract as they are (``None``:
    score the frames).
    """
    criteria = list(criteria)
    if "list" in criteria:  # DeepLabCut's outlieralgorithm="list"
        if frames is None:
            raise ValueError(
                "outlieralgorithm='list' extracts the frames given as "
                "frames2use=[...] (video frame indices, e.g. frames2use=[5, 10, 24]); "
                "none were given."
            )
        criteria = [c for c in criteria if c != "list"]
    elif frames is not None and dlc_definitions:
        logger.warning(
            "frames2use=%s applies to outlieralgorithm='list' only (as in "
            "DeepLabCut); the frames are chosen by %s",
            list(frames),
            ", ".join(criteria),
        )
        frames = None
    listed = _frame_list(frames) if frames is not None else None
    if listed is not None and not listed:
        raise ValueError(
            "frames (frames2use) is empty: give the frame indices to extract"
        )
    return criteria, listed


def _dlc_defaults(
    thresholds: Mapping[str, float] | None,
    params: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Thresholds and criteria parameters with DeepLabCut's definitions and defaults."""
    thresholds = dict(thresholds or {})
    params = {k: dict(v) for k, v in (params or {}).items()}
    thresholds.setdefault("jump", _DLC_EPSILON)
    thresholds.setdefault("fitting", _DLC_EPSILON)
    thresholds.setdefault("uncertain", 1.0 - _DLC_P_BOUND)
    params.setdefault("jump", {}).setdefault("previous_only", True)
    # DLC's SARIMAX fit takes the points below p_bound as missing data
    p_bound = 1.0 - thresholds["uncertain"]
    params.setdefault("fitting", {}).setdefault("fit_min_likelihood", p_bound)
    return thresholds, params


def _filled_pool(
    combined: np.ndarray, free: np.ndarray, is_candidate: np.ndarray, fill_to: int
) -> np.ndarray:
    """Positions of the candidates, topped up to ``fill_to`` with the best others."""
    pool = np.flatnonzero(is_candidate)
    if len(pool) < fill_to:
        order = [i for i in np.argsort(-combined) if free[i] and not is_candidate[i]]
        pool = np.sort(np.concatenate([pool, order[: fill_to - len(pool)]]))
    return pool.astype(int)


def _older_warning(result: OutlierFrames, older: str | None) -> None:
    """Say in ``result`` that an older network's analysis was used (``older``: why)."""
    if older:
        result.warnings.append(
            f"{older}: its guesses were used as asked (--use-older-analysis, "
            "allow_older=True), and the "
            "machine labels' scorer names that network"
        )
        logger.warning("%s", result.warnings[-1])


def _extract_with_labels(
    proj: Project,
    result: OutlierFrames,
    xyp_all: np.ndarray,
    scorer: str,
    file_bps: Sequence[str],
) -> None:
    """Extract ``result.picked`` and write the analysis' rows as machine labels."""
    from .video import extract_frames

    video, picked = result.video, result.picked
    extracted = extract_frames(proj, video, indices=picked.tolist())
    if not proj.lists_video(video):
        # as DeepLabCut does (add_new_videos): create_training_dataset and
        # merge_datasets read the folders of listed videos only
        proj.add_videos([video])
        proj.save(keys=["video_sets"])
        logger.info("%s added to video_sets in config.yaml", video.name)
    result.images = list(extracted)
    rel = [f"labeled-data/{video.stem}/{p.name}" for p in extracted]
    result.machine_labels = write_machine_labels(
        proj, video, rel, xyp_all[picked], scorer, file_bps
    )


def _extract_listed(
    proj: Project,
    video: Path,
    pred_path: Path,
    older: str | None,
    xyp_all: np.ndarray,
    scorer: str,
    file_bps: Sequence[str],
    n_video: int,
    listed: Sequence[int],
    dry_run: bool,
) -> OutlierFrames:
    """Extract the frames ``listed`` (DeepLabCut's ``outlieralgorithm="list"``)."""
    n_rows = min(n_video, len(xyp_all))
    outside = sorted({f for f in listed if not 0 <= f < n_rows})
    if outside:
        raise ValueError(
            f"frames {outside} are not frames of {video.name}'s analysis (frames "
            f"0-{n_rows - 1}; {pred_path.name}): give indices from 0 (the first "
            "frame) to the last analysed one. Nothing was extracted."
        )
    picked = np.array(sorted(set(listed)), int)
    result = OutlierFrames(
        video,
        pred_path,
        OutlierScores({}, {}, np.arange(n_rows)),
        picked,
        picked,
        pcutoff=proj.pcutoff,
        listed=True,
    )
    _older_warning(result, older)
    logger.info("%s: %d listed frame(s) to extract", video.name, len(picked))
    if not dry_run:
        _extract_with_labels(proj, result, xyp_all, scorer, file_bps)
    return result


def _prediction_sources(
    proj: Project,
    videos: Sequence[str | os.PathLike],
    shuffle: int,
    predictions: str | os.PathLike | None,
    destfolder: str | os.PathLike | None,
    allow_older: bool,
    track_method: str | None = None,
) -> dict[Path, tuple[Path, str | None]]:
    """Each video's predictions file and why it is not the current network's.

    ``track_method``: a multi-animal project's tracker (only its tracks file).
    Raises :class:`StaleAnalysisError` for all the videos at once, before anything
    is extracted, unless ``allow_older``.
    """
    from .postprocessing import network_predictions

    sources: dict[Path, tuple[Path, str | None]] = {}
    for video in map(Path, videos):
        if predictions is not None:  # chosen by the caller: taken as it is
            sources[video] = (Path(predictions), None)
            continue
        found = network_predictions(
            proj,
            video,
            shuffle,
            destfolder=destfolder,
            track_method=track_method,
            warn=False,
        )
        if not found:  # raises, saying how to analyse it
            find_prediction_file(
                proj,
                video,
                shuffle=shuffle,
                destfolder=destfolder,
                track_method=track_method,
            )
        sources[video] = (
            found[0],
            older_analysis(proj, video, found[0], shuffle=shuffle),
        )
    stale = [(v, why) for v, (_, why) in sources.items() if why]
    if stale and not allow_older:
        names = " ".join(shlex.quote(str(v)) for v, _ in stale)
        raise StaleAnalysisError(
            "; ".join(why for _, why in stale)
            + ". An older analysis' outliers are another network's mistakes (perhaps "
            "fixed already), saved as this iteration's machine labels. Analyse "
            "with the current network first: `posekit analyze "
            f"{shlex.quote(str(proj.path))} {names}` (posekit.engine.analyze_videos), "
            "then extract again; to "
            "extract from the older analysis anyway, pass --use-older-analysis "
            "(allow_older=True). Nothing was extracted."
        )
    return sources


def _has_predictions(
    project: Project,
    video: Path,
    shuffle: int,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
) -> bool:
    from .postprocessing import network_predictions

    return bool(
        network_predictions(
            project,
            video,
            shuffle,
            destfolder=destfolder,
            track_method=track_method,
            warn=False,
        )
    )


def _outlier_videos(
    proj: Project,
    videos: Sequence[str | os.PathLike] | str | os.PathLike | None,
    videotype: str | Sequence[str] | None,
    shuffle: int,
    destfolder: str | os.PathLike | None,
    track_method: str | None,
) -> list[Path]:
    """Return the videos ``extract_outlier_frames`` scores (``[]``: none is left).

    The videos given (folders expanded, ``videotype`` applied: none left is a
    warning and ``[]``), else the project's videos that have predictions (none is
    a ``FileNotFoundError``).
    """
    from .api import _given_videos

    given = _given_videos(videos, videotype, "no frame is extracted")
    if given is not None:
        return given
    found = [
        Path(v)
        for v in proj.source_videos()
        if _has_predictions(proj, v, shuffle, destfolder, track_method)
    ]
    if not found:
        raise FileNotFoundError(
            "No analysed video in the project"
            + (f" with tracks of {track_method!r}" if track_method else "")
            + ": analyse one first "
            "(posekit.engine.analyze_videos or `posekit analyze PROJECT`)."
        )
    return found


def _outlier_track_method(project: Project, track_method: str | None) -> str | None:
    """Return the tracker whose tracks ``extract_outlier_frames`` scores (or ``None``).

    A multi-animal project: ``track_method``, else the config's
    ``default_track_method`` (:func:`~.postprocessing.track_method_of`). A
    single-animal project's predictions have no tracker: a ``track_method`` given
    there is ignored with a log line, as DeepLabCut ignores it.
    """
    from .postprocessing import track_method_of

    if not project.multianimal:
        if track_method:
            logger.info(
                "extract_outlier_frames: track_method=%r does not apply to a "
                "single-animal project (its predictions are not tracks); ignored",
                track_method,
            )
        return None
    return track_method_of(project, track_method)


def _bodypart_columns(
    bodyparts: Sequence[str], wanted: str | Sequence[str]
) -> np.ndarray:
    """Columns of ``wanted``; a bodypart name also picks ``<animal>/<bodypart>``."""
    from .multianimal.labels import SLOT_SEPARATOR

    if isinstance(wanted, str) and wanted == "all":
        return np.arange(len(bodyparts))
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    parts = [str(b).rpartition(SLOT_SEPARATOR)[2] for b in bodyparts]
    missing = [b for b in names if b not in bodyparts and b not in parts]
    if missing or not names:
        shown = list(dict.fromkeys(parts)) if parts != list(bodyparts) else parts
        raise ValueError(
            f"comparisonbodyparts {names} must be among the predicted bodyparts {shown}"
        )
    return np.array(
        [
            j
            for j, (name, part) in enumerate(zip(bodyparts, parts, strict=True))
            if name in names or part in names
        ],
        int,
    )


def _choose(
    pool: np.ndarray,
    pool_scores: np.ndarray,
    frames: np.ndarray,
    video: Path,
    n: int,
    algorithm: str,
    seed: int,
) -> np.ndarray:
    """Pick ``n`` positions of ``pool`` (positions into ``frames``)."""
    if len(pool) <= n:
        return np.asarray(pool, int)
    if algorithm == "top":
        return np.sort(pool[np.argsort(-pool_scores)[:n]])
    if algorithm == "uniform":
        return pool[np.unique(np.linspace(0, len(pool) - 1, n).round().astype(int))]
    # k-means on the frames; at most 1000 candidates (the highest scores) are read
    keep = np.argsort(-pool_scores)[:1000]
    sub = pool[keep]
    images = _read_frames(video, frames[sub].tolist())
    order = np.argsort(frames[sub])  # _read_frames returns frames in index order
    feats = np.empty((len(sub), 0))
    if images:
        f_sorted = frame_features(images)
        feats = np.empty_like(f_sorted)
        feats[order] = f_sorted
    picked = select_diverse(pool_scores[keep], feats, n, seed=seed)
    return np.sort(sub[picked])


def _evenly_spaced(n: int, max_rows: int) -> np.ndarray:
    """Row positions of at most ``max_rows`` of ``n`` rows, evenly spaced from row 0."""
    step = max(1, int(np.ceil(n / max(1, max_rows))))
    return np.arange(0, n, step)


class _SharedNetwork:
    """The shuffle's newest snapshot, loaded once for every video of one call.

    ``tta`` and ``novelty`` both run the network; the novelty reference (the model's
    training frames) is fitted once, not once per video.
    """

    def __init__(self, project: Project, shuffle: int, seed: int) -> None:
        self.project, self.shuffle, self.seed = project, shuffle, seed

    @cached_property
    def folder(self):
        from .model_folder import ModelFolder

        return ModelFolder.of(self.project, self.shuffle)

    @cached_property
    def model(self):
        return self.folder.load()

    def predictor(self) -> Callable[[list[np.ndarray]], np.ndarray]:
        from .inference import KerasPredictor

        return KerasPredictor(self.model, batch_size=4)

    @cached_property
    def tta(self) -> tuple[bool, tuple[float, ...]]:
        """Mirror and rescalings for ``tta``: those the newest snapshot trained with."""
        return snapshot_tta_augmentations(self.folder)

    @cached_property
    def novelty(self):
        """The :class:`~posekit.engine.novelty.PatchNovelty` of the training frames."""
        from .novelty import fit_to_model_frames

        labelled = self.folder.labelled_frames()
        if labelled is None or len(labelled.calibration) < 2:
            raise ValueError(
                "the novelty criterion compares frames with the training frames of "
                f"{self.folder.path}, and found fewer than 2: create the training set "
                "and train first, or leave novelty out"
            )
        reference = [labelled.images[i] for i in labelled.calibration]
        return fit_to_model_frames(self.model, reference, batch_size=4, seed=self.seed)


def _tta_for_video(
    video: Path,
    frames: np.ndarray,
    xyp: np.ndarray,
    bodyparts: Sequence[str],
    predictor: Callable[[list[np.ndarray]], np.ndarray],
    max_frames: int,
    augmentations: tuple[bool, tuple[float, ...]],
) -> list[np.ndarray]:
    """Augmented predictions for (a subsample of) the frames; unscored rows = xyp."""
    rows = _evenly_spaced(len(frames), max_frames)
    images = _read_frames(video, frames[rows].tolist())
    out = []
    for aug in predict_augmented(predictor, images, bodyparts, augmentations):
        full = xyp.copy()
        full[rows] = aug
        out.append(full)
    return out


def _novelty_for_video(
    video: Path,
    frames: np.ndarray,
    network: _SharedNetwork,
    max_frames: int,
) -> np.ndarray:
    """Novelty of (a subsample of) the frames against the model's training frames."""
    from .novelty import backbone_features

    fitted = network.novelty
    model = network.model
    rows = _evenly_spaced(len(frames), max_frames)
    out = np.zeros(len(frames))
    # in chunks: at most 256 decoded frames in memory at a time
    for i in range(0, len(rows), 256):
        part = rows[i : i + 256]
        images = _read_frames(video, frames[part].tolist())
        out[part] = fitted.score(backbone_features(model, images, batch_size=4))
    logger.info(
        "%s: novelty of %d frame(s) against %d training frame(s)",
        video.name,
        len(rows),
        fitted.n_frames_,
    )
    return out


# ----------------------------------------------------------------------------- merge


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_datasets` did.

    Attributes
    ----------
    previous_iteration, iteration
        ``iteration`` in ``config.yaml`` before and after.
    new_frames
        Labelled frames that were not in the previous training set.
    refined_frames
        The new frames that came from outlier extraction (they have machine labels).
    unrefined_frames
        Extracted outlier frames that were not labelled yet (left out).
    test_frames
        The test frames of the new training set (the previous ones, kept).
    splits
        The new training set's splits (empty with ``create_training_set=False``).
    partial_frames
        Refined frames merged with only some of their points: ``(frame, labelled
        points, points, guesses not accepted, points with neither a label nor a
        guess)``; points marked not visible or dismissed count as done. The guesses
        not accepted are not merged.
    changed_test_frames
        Kept test frames whose labels differ from the previous training set's.
    resumed
        This merge finished an interrupted one (``iteration`` was raised already).
    """

    previous_iteration: int
    iteration: int
    new_frames: tuple[str, ...]
    refined_frames: tuple[str, ...]
    unrefined_frames: tuple[str, ...]
    test_frames: tuple[str, ...]
    splits: tuple[Split, ...] = ()
    partial_frames: tuple[tuple[str, int, int, int, int], ...] = ()
    changed_test_frames: tuple[str, ...] = ()
    resumed: bool = False

    def summary(self) -> str:
        """Say what the merge did, in a few lines for the user."""
        lines = [
            f"iteration {self.previous_iteration} → {self.iteration}: "
            f"{len(self.new_frames)} new labelled frame(s) "
            f"({len(self.refined_frames)} refined outlier frame(s))",
            f"test frames kept: {len(self.test_frames)}",
        ]
        if self.resumed:
            lines.insert(
                0,
                f"finished the interrupted merge: iteration {self.iteration} had no "
                f"training set; it now has one, with iteration "
                f"{self.previous_iteration}'s test frames",
            )
        for frame, done, total, guesses, neither in self.partial_frames:
            line = f"{frame.rsplit('/', 1)[-1]}: {done} of {total} points labelled"
            if guesses:
                line += (
                    f"; its {guesses} other guess(es) were not accepted (accept them "
                    "in the refine app and merge again if they are right)"
                )
            if neither:
                line += (
                    f"; {neither} bodypart(s) have neither a label nor a guess (label "
                    "them or mark them not visible in the refine app and merge again, "
                    "if the animal shows them)"
                )
            lines.append(line)
        if self.changed_test_frames:
            k = len(self.changed_test_frames)
            names = ", ".join(f.rsplit("/", 1)[-1] for f in self.changed_test_frames)
            whose = "frames'" if k > 1 else "frame's"
            lines.append(
                f"{k} test {whose} labels changed since iteration "
                f"{self.previous_iteration} ({names}): test errors of the two "
                "iterations are not directly comparable"
            )
        if self.unrefined_frames:
            lines.append(
                f"{len(self.unrefined_frames)} extracted outlier frame(s) not labelled "
                "yet were left out"
            )
        return "\n".join(lines)


def _doc_split(project: Project, iteration: int, shuffle: int) -> tuple[list, list]:
    """Train and test frame paths of a shuffle's split at ``iteration`` ([] if none)."""
    from .dataset import _SafeDocUnpickler
    from .io.dlc import read_labels

    base = (
        project.path
        / "training-datasets"
        / f"iteration-{iteration}"
        / f"UnaugmentedDataSet_{project.task}{project.date}"
    )
    pct = int(round(100 * project.training_fractions[0]))
    doc = base / f"Documentation_data-{project.task}_{pct}shuffle{shuffle}.pickle"
    merged = base / f"CollectedData_{project.scorer}.h5"
    if not doc.is_file() or not merged.is_file():
        return [], []
    with open(doc, "rb") as fh:
        _, train, test, _ = _SafeDocUnpickler(fh).load()
    paths = index_to_paths(read_labels(merged).index)
    return [paths[i] for i in train], [paths[i] for i in test]


def _training_labels(project: Project, iteration: int) -> pd.DataFrame | None:
    """Read the merged labels of the training set of ``iteration`` (or ``None``)."""
    from .io.dlc import read_labels

    merged = (
        project.path
        / "training-datasets"
        / f"iteration-{iteration}"
        / f"UnaugmentedDataSet_{project.task}{project.date}"
        / f"CollectedData_{project.scorer}.h5"
    )
    return read_labels(merged) if merged.is_file() else None


def _xy_by_frame(labels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each frame's ``x``/``y`` values, in the columns' order."""
    cols = [c for c in labels.columns if c[-1] in ("x", "y")]
    values = labels[cols].to_numpy(float)
    return dict(zip(index_to_paths(labels.index), values, strict=True))


def _changed_frames(
    old: pd.DataFrame | None, new: pd.DataFrame, frames: Sequence[str]
) -> list[str]:
    """Frames of ``frames`` whose labels differ between two merged label tables."""
    if old is None:
        return []
    new = new.reindex(columns=old.columns)
    before, after = _xy_by_frame(old), _xy_by_frame(new)
    return sorted(
        f
        for f in frames
        if f in before
        and f in after
        and not np.allclose(before[f], after[f], equal_nan=True, atol=1e-6)
    )


def _partial_frames(
    project: Project,
    labels: pd.DataFrame,
    frames: Sequence[str],
    machine: Mapping[str, np.ndarray] | None = None,
) -> list[tuple[str, int, int, int, int]]:
    """Refined frames with points left: ``(frame, labelled, points, guesses, neither)``.

    ``guesses`` are the points left whose machine label has a point (a guess not
    accepted); ``neither`` are the points left with neither a label nor a guess.
    Points marked not visible or dismissed in the labeller count as done.
    ``machine`` is each frame's machine labels in ``labels``' points (default: read).
    """
    from .labels import read_visibility

    xy = _xy_by_frame(labels)
    names = column_points(labels.columns)
    marked: set[tuple[str, str]] = set()
    stems = {f.split("/")[1] for f in frames if f.count("/") >= 2}
    if machine is None:
        machine = {}
        for stem in stems:
            machine.update(read_machine_labels(project, stem, points=names))
    for stem in stems:
        vis = read_visibility(project, stem)
        marked |= vis.get("not_visible", set()) | vis.get("dismissed", set())
    out = []
    for f in frames:
        if f not in xy:
            continue
        points = np.asarray(xy[f]).reshape(-1, 2)
        labelled = np.isfinite(points).all(axis=1)
        left = ~labelled & ~np.array([(f, n) in marked for n in names], bool)
        guess = machine.get(f)
        guessed = np.zeros(len(points), bool)
        if guess is not None and len(guess) == len(points):
            guessed = np.isfinite(np.asarray(guess)[:, :2]).all(axis=1)
        if left.any():
            out.append(
                (
                    f,
                    int(labelled.sum()),
                    len(points),
                    int((left & guessed).sum()),
                    int((left & ~guessed).sum()),
                )
            )
    return out


def _splits_keeping_tests(
    proj: Project, tests: dict[int, Sequence[str]], labelled: Sequence[str]
) -> tuple[list[Split], set[str]]:
    """Create each shuffle's split of the current iteration, keeping its test frames.

    ``tests`` maps a shuffle to the previous iteration's test frames; those still
    labelled stay test frames (a shuffle with none gets a random split). Returns the
    splits and the test frames kept.
    """
    from .dataset import create_training_dataset

    still = set(labelled)
    splits: list[Split] = []
    kept: set[str] = set()
    for k, te in tests.items():
        te = [p for p in te if p in still]
        splits += create_training_dataset(proj, shuffles=[k], test_frames=te or None)
        kept |= set(te)
    return splits, kept


def _unfinished_merge(
    proj: Project, shuffles: Sequence[int]
) -> dict[int, tuple[list, list]] | None:
    """Return the previous iteration's splits when a merge raised ``iteration`` only.

    A merge interrupted after raising ``iteration`` (an older posekit's order), or
    run with ``create_training_set=False``, leaves iteration N without a split of
    the shuffles while N-1 has one. ``None`` when the current iteration has a split
    of a shuffle, or the previous one has none (nothing to finish).
    """
    now = proj.iteration
    if now < 1 or any(any(_doc_split(proj, now, k)) for k in shuffles):
        return None
    previous = {k: _doc_split(proj, now - 1, k) for k in shuffles}
    if not any(tr or te for tr, te in previous.values()):
        return None
    return previous


def _finish_interrupted_merge(
    proj: Project, shuffles: Sequence[int], labels: pd.DataFrame
) -> MergeResult | None:
    """Finish a merge that raised ``iteration`` but wrote no training set.

    ``None`` when there is none to finish (:func:`_unfinished_merge`).
    """
    now = proj.iteration
    previous = _unfinished_merge(proj, shuffles)
    if previous is None:
        return None
    labelled = index_to_paths(labels.index)
    known = {p for tr, te in previous.values() for p in (*tr, *te)}
    splits, test_kept = _splits_keeping_tests(
        proj, {k: te for k, (_, te) in previous.items()}, labelled
    )
    logger.info("finished the interrupted merge to iteration %d", now)
    return _merge_result(proj, now - 1, now, labels, known, test_kept, splits, True)


def _merge_result(
    proj: Project,
    before: int,
    after: int,
    labels: pd.DataFrame,
    known: set[str],
    test_kept: set[str],
    splits: list[Split],
    resumed: bool = False,
) -> MergeResult:
    labelled = index_to_paths(labels.index)
    new = [p for p in labelled if p not in known]
    machine: set[str] = set()
    for stem in proj.labeled_videos():
        machine |= set(read_machine_labels(proj, stem))
    refined = [p for p in new if p in machine]
    return MergeResult(
        previous_iteration=before,
        iteration=after,
        new_frames=tuple(new),
        refined_frames=tuple(refined),
        unrefined_frames=tuple(sorted(machine - set(labelled))),
        test_frames=tuple(sorted(test_kept)),
        splits=tuple(splits),
        partial_frames=tuple(_partial_frames(proj, labels, refined)),
        changed_test_frames=tuple(
            _changed_frames(_training_labels(proj, before), labels, sorted(test_kept))
        ),
        resumed=resumed,
    )


@dlc_keywords(
    forceiterate=elsewhere(
        "forceiterate={value!r}: posekit's merge makes the next iteration; to set "
        "another, edit iteration in config.yaml after merging."
    ),
    windows2linux=ignored("paths are read on every system"),
)
def merge_datasets(
    project: Project | str | os.PathLike,
    *,
    shuffles: Sequence[int] = (1,),
    create_training_set: bool = True,
    force: bool = False,
) -> MergeResult:
    """Add the refined frames to the training data and start the next iteration.

    DeepLabCut's ``merge_datasets``: after the outlier frames were corrected in the
    labeller (their labels are in ``CollectedData_<scorer>.h5``), ``iteration`` in
    ``config.yaml`` goes up by one (only that key is rewritten), and the training set
    of the new iteration is created with every labelled frame, the previous test
    frames kept as the test set (so test errors of both iterations compare; the new
    frames train). :func:`~posekit.engine.api.train_network` then starts from the
    previous iteration's newest snapshot.

    Parameters
    ----------
    project
        The project (or its folder).
    shuffles
        Shuffles whose split is carried over.
    create_training_set
        Create the new iteration's training set (else only raise the iteration).
    force
        Merge even when no frame was labelled since the last training set.

    Returns
    -------
    MergeResult

    Raises
    ------
    LabelError
        No training set in the current iteration (nothing was trained yet), or no new
        labelled frame since it (refine the extracted frames first), unless
        ``force``. With ``create_training_set=False``, also when the previous merge
        did not finish (the iteration has no training set, the previous one has
        one): a merge with the training set finishes it.
    """
    from .dataset import merge_labels
    from .project import as_project

    proj = as_project(project)
    before = proj.iteration
    labels = merge_labels(proj)
    if create_training_set and (
        resumed := _finish_interrupted_merge(proj, shuffles, labels)
    ):
        return resumed
    if not create_training_set and _unfinished_merge(proj, shuffles) is not None:
        raise LabelError(
            f"The previous merge did not finish: iteration {before} has no training "
            f"set, iteration {before - 1} has one (the merge to iteration {before} "
            "was interrupted, or ran without the training set). Raising it again "
            f"would skip iteration {before}'s training set, and the next one could "
            f"not keep iteration {before - 1}'s test frames. Run `posekit merge "
            f"{shlex.quote(str(proj.path))}` without "
            "--no-training-set (merge_datasets(project)): it finishes that merge, "
            f"creating iteration {before}'s training set with iteration "
            f"{before - 1}'s test frames. Nothing was merged."
        )
    labelled = index_to_paths(labels.index)
    old_train, old_test = set(), set()
    for k in shuffles:
        tr, te = _doc_split(proj, before, k)
        old_train |= set(tr)
        old_test |= set(te)
    known = old_train | old_test
    if not known and not force:
        raise LabelError(
            f"Nothing to merge: iteration {before} has no training set yet. Refinement "
            "starts from a trained network: create the training set and train "
            "(posekit.engine.train_network / `posekit train`), analyse a video, "
            "extract its outlier frames and correct them, then merge."
        )
    new = [p for p in labelled if p not in known]
    machine: set[str] = set()
    for stem in proj.labeled_videos():
        machine |= set(read_machine_labels(proj, stem))
    unrefined = sorted(machine - set(labelled))
    if not new and not force and unrefined:
        shown = ", ".join(unrefined[:3]) + (" …" if len(unrefined) > 3 else "")
        merged_before = sorted(machine & known)
        since = (
            f"Nothing new to merge since iteration {before}'s training set"
            + (" (created by the last merge)" if before > 0 else "")
            + f": {len(unrefined)} extracted outlier frame(s) ({shown}) are still "
            "uncorrected"
            if merged_before
            else f"Nothing to merge yet: {len(unrefined)} outlier frame(s) were "
            f"extracted ({shown}) but none is corrected yet"
        )
        labeller = (
            # posekit label --from-predictions refuses multi-animal projects; the
            # labeller opens the extracted frames with their machine labels
            " or in the labelling app (notebooks/label.ipynb), which opens them "
            "pre-filled with these guesses"
            if proj.multianimal
            else " or pre-filled in the labeller (`posekit label "
            f"{shlex.quote(str(proj.path))} --from-predictions`)"
        )
        raise LabelError(
            f"{since}; their machine labels are guesses, not labels, until a person "
            "checks them. Correct them in the refine app (notebooks/refine.ipynb, "
            'tab "2 · Refine": drag the wrong guesses, accept the right ones'
            + (", each animal's points" if proj.multianimal else "")
            + f"){labeller}; every change is saved at once (into "
            "CollectedData_<scorer>.h5). Then merge."
        )
    if not new and not force:
        raise LabelError(
            "Nothing to merge: no frame was labelled since the training set of "
            f"iteration {before}. Extract outlier frames (extract_outlier_frames / "
            "`posekit extract-outliers`), correct them in the refine app, then merge."
        )
    # crash-safe order: the new iteration's training set and split first (in
    # iteration-<N+1>/, the iteration raised in memory only), config.yaml last. A
    # merge killed before the last step leaves config.yaml at N: merge again.
    splits: list[Split] = []
    test_kept: set[str] = set()
    proj.set("iteration", before + 1)
    try:
        if create_training_set:
            splits, test_kept = _splits_keeping_tests(
                proj, {k: _doc_split(proj, before, k)[1] for k in shuffles}, labelled
            )
        proj.save(keys=["iteration"])  # only that key, whatever else changed; atomic
    except BaseException:
        proj.set("iteration", before)
        raise
    # the save logged "config.yaml: iteration: N -> N+1" (Project.save)
    return _merge_result(proj, before, before + 1, labels, known, test_kept, splits)
