"""Accuracy of predicted keypoints and DeepLabCut's evaluation file.

Metric names, because DeepLabCut's are misleading: what DLC reports as "RMSE" / "Test
error(px)" is the **mean Euclidean distance** between prediction and label over all
labelled keypoints of all frames (:func:`mean_error`). The root-mean-square of those
distances is :func:`rmse`; it weights large misses more and is always ≥ the mean.
The "p-cutoff" variants only count predictions with likelihood ≥ ``pcutoff`` (DLC:
``RMSEpcutoff``).

Arrays: predictions ``(N, K, 3)`` = ``x, y, likelihood`` (or ``(N, K, 2)``); labels
``(N, K, 2)`` with NaN for missing keypoints; all in pixels. The predictions come
from :mod:`posekit.engine.inference` (this module imports no TensorFlow).

Multi-instance keypoints are scored with COCO's object keypoint similarity
(:func:`oks`) and its mean average precision (:func:`oks_map`), computed as
pycocotools' ``COCOeval`` does, with DeepLabCut's σ convention.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ._fileio import atomic_write_bytes, atomic_write_text

logger = logging.getLogger("posekit.engine.evaluation")

__all__ = [
    "COMBINED_EVALUATION_COLUMNS",
    "keypoint_distances",
    "mean_error",
    "rmse",
    "per_bodypart_error",
    "pck",
    "likelihood_table",
    "MISS_PX",
    "evaluation_summary",
    "write_combined_evaluation",
    "evaluation_image_names",
    "write_evaluation_images",
    "DEFAULT_OKS_SIGMA",
    "OKS_THRESHOLDS",
    "keypoint_box",
    "oks",
    "oks_average_precision",
    "oks_average_recall",
    "oks_map",
    "oks_mar",
]

#: Header of DeepLabCut's ``CombinedEvaluation-results.csv``.
COMBINED_EVALUATION_COLUMNS = (
    "Training iterations:",
    "%Training dataset",
    "Shuffle number",
    "Train error(px)",
    "Test error(px)",
    "p-cutoff used",
    "Train error with p-cutoff",
    "Test error with p-cutoff",
)


def keypoint_distances(
    predictions: np.ndarray, labels: np.ndarray, *, pcutoff: float | None = None
) -> np.ndarray:
    """Euclidean distance per frame and keypoint.

    Parameters
    ----------
    predictions
        ``(N, K, 2)`` or ``(N, K, 3)`` (with likelihood).
    labels
        ``(N, K, 2)``; NaN for missing.
    pcutoff
        If given, distances of predictions with likelihood < ``pcutoff`` are NaN
        (needs ``(N, K, 3)`` predictions).

    Returns
    -------
    numpy.ndarray
        ``(N, K)`` pixels; NaN where the label is missing (or below the cutoff).

    Examples
    --------
    >>> keypoint_distances(np.array([[[3.0, 4.0, 0.9]]]), np.zeros((1, 1, 2)))
    array([[5.]])
    """
    predictions = np.asarray(predictions, np.float64)
    labels = np.asarray(labels, np.float64)
    if predictions.ndim != 3 or predictions.shape[-1] not in (2, 3):
        raise ValueError(
            f"predictions must be (N, K, 2) or (N, K, 3). Received {predictions.shape}"
        )
    if labels.shape != (*predictions.shape[:2], 2):
        raise ValueError(
            f"labels must be {(*predictions.shape[:2], 2)} to match the predictions. "
            f"Received {labels.shape}"
        )
    d = np.linalg.norm(predictions[..., :2] - labels, axis=-1)
    if pcutoff is not None:
        if predictions.shape[-1] != 3:
            raise ValueError("pcutoff needs predictions with a likelihood (N, K, 3)")
        d = np.where(predictions[..., 2] >= pcutoff, d, np.nan)
    return d


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    return float(np.mean(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")


def mean_error(
    predictions: np.ndarray, labels: np.ndarray, *, pcutoff: float | None = None
) -> float:
    """Mean Euclidean distance (what DeepLabCut reports as "RMSE"), pixels.

    Examples
    --------
    >>> p = np.array([[[3.0, 4.0], [0.0, 1.0]]]); t = np.zeros((1, 2, 2))
    >>> mean_error(p, t)
    3.0
    """
    return _nanmean(keypoint_distances(predictions, labels, pcutoff=pcutoff))


def rmse(
    predictions: np.ndarray, labels: np.ndarray, *, pcutoff: float | None = None
) -> float:
    """Root-mean-square Euclidean distance (a true RMSE), pixels.

    Examples
    --------
    >>> p = np.array([[[3.0, 4.0], [0.0, 1.0]]]); t = np.zeros((1, 2, 2))
    >>> round(rmse(p, t), 4)
    3.6056
    """
    d = keypoint_distances(predictions, labels, pcutoff=pcutoff)
    return float(np.sqrt(_nanmean(d**2)))


def per_bodypart_error(
    predictions: np.ndarray,
    labels: np.ndarray,
    bodyparts: Sequence[str] | None = None,
    *,
    pcutoff: float | None = None,
) -> dict[str, float]:
    """Mean Euclidean distance per bodypart (NaN for a bodypart never labelled).

    Examples
    --------
    >>> p = np.array([[[3.0, 4.0], [0.0, 1.0]]]); t = np.zeros((1, 2, 2))
    >>> per_bodypart_error(p, t, ["a", "b"])
    {'a': 5.0, 'b': 1.0}
    """
    d = keypoint_distances(predictions, labels, pcutoff=pcutoff)
    names = (
        list(bodyparts)
        if bodyparts is not None
        else [str(i) for i in range(d.shape[1])]
    )
    if len(names) != d.shape[1]:
        raise ValueError(f"{len(names)} bodypart names for {d.shape[1]} keypoints")
    return {n: _nanmean(d[:, i]) for i, n in enumerate(names)}


def pck(predictions: np.ndarray, labels: np.ndarray, radius: float) -> float:
    """Percentage of correct keypoints: fraction of labelled keypoints within ``radius``.

    Examples
    --------
    >>> p = np.array([[[3.0, 4.0], [0.0, 1.0]]]); t = np.zeros((1, 2, 2))
    >>> pck(p, t, radius=2.0)
    0.5
    """
    d = keypoint_distances(predictions, labels)
    labelled = np.isfinite(d)
    if not labelled.any():
        return float("nan")
    return float(np.mean(d[labelled] <= radius))


#: A test point further than this from its label is a miss in :func:`likelihood_table`.
MISS_PX = 10.0


def likelihood_table(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    pcutoffs: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    miss_px: float = MISS_PX,
) -> list[dict[str, float]]:
    """How the p-cutoff trades the points kept against the confident misses.

    For each p-cutoff: the share of the labelled points whose likelihood reaches it
    (the points an analysis keeps), their mean error, and how many of them are
    more than ``miss_px`` off (confident misses: a point kept that is wrong). Read
    on the test frames, it shows what a p-cutoff means for this network: the
    highest share kept at an acceptable miss share.

    Parameters
    ----------
    predictions
        ``(N, K, 3)``: ``x, y, likelihood``.
    labels
        ``(N, K, 2)``, NaN where not labelled.
    pcutoffs
        The p-cutoffs, one row each.
    miss_px
        A point further than this from its label is a miss.

    Returns
    -------
    list of dict
        One row per p-cutoff: ``pcutoff``, ``labelled`` (points), ``kept`` (points
        with likelihood ≥ p-cutoff), ``kept_share``, ``mean_error_kept_px`` (NaN
        when none is kept), ``misses_kept`` (kept points more than ``miss_px``
        off), ``miss_share_kept`` (of the kept points; NaN when none is kept).

    Examples
    --------
    >>> pred = np.array([[[0, 0, 0.9], [20, 0, 0.7], [0, 0, 0.3]]], float)
    >>> labels = np.zeros((1, 3, 2))
    >>> rows = likelihood_table(pred, labels, pcutoffs=(0.5, 0.8))
    >>> [(r["kept"], r["misses_kept"], r["miss_share_kept"]) for r in rows]
    [(2, 1, 0.5), (1, 0, 0.0)]
    """
    predictions = np.asarray(predictions, float)
    if predictions.shape[-1] != 3:
        raise ValueError(
            "likelihood_table needs predictions with a likelihood (N, K, 3). "
            f"Received shape {predictions.shape}"
        )
    d = keypoint_distances(predictions, labels)
    labelled = np.isfinite(d)
    likelihood = predictions[..., 2]
    rows = []
    for p in pcutoffs:
        kept = labelled & (likelihood >= p)
        n_kept = int(kept.sum())
        misses = int((d[kept] > miss_px).sum())
        rows.append(
            {
                "pcutoff": float(p),
                "labelled": int(labelled.sum()),
                "kept": n_kept,
                "kept_share": (
                    float(n_kept / labelled.sum()) if labelled.any() else np.nan
                ),
                "mean_error_kept_px": float(d[kept].mean()) if n_kept else np.nan,
                "misses_kept": misses,
                "miss_share_kept": misses / n_kept if n_kept else np.nan,
            }
        )
    return rows


def evaluation_summary(
    predictions: np.ndarray,
    labels: np.ndarray,
    bodyparts: Sequence[str] | None = None,
    *,
    pcutoff: float = 0.6,
    pck_radius: float = 5.0,
) -> dict[str, Any]:
    """All metrics in one dict (JSON-safe).

    Returns
    -------
    dict
        ``mean_error_px`` (DLC's "RMSE"), ``rmse_px``, ``mean_error_pcutoff_px``,
        ``rmse_pcutoff_px``, ``pcutoff``, ``pck`` (at ``pck_radius``), ``pck_radius_px``,
        ``per_bodypart_px``, ``n_frames``, ``n_labelled``; with likelihoods also
        ``kept_share`` and ``miss_share_kept``: the share of the points with
        likelihood ≥ ``pcutoff``, and the share of those more than :data:`MISS_PX`
        off (:func:`likelihood_table`).
    """
    d = keypoint_distances(predictions, labels)
    has_p = np.asarray(predictions).shape[-1] == 3
    confident = (
        likelihood_table(predictions, labels, pcutoffs=(pcutoff,))[0] if has_p else {}
    )
    return {
        "mean_error_px": mean_error(predictions, labels),
        "rmse_px": rmse(predictions, labels),
        "mean_error_pcutoff_px": (
            mean_error(predictions, labels, pcutoff=pcutoff) if has_p else float("nan")
        ),
        "rmse_pcutoff_px": (
            rmse(predictions, labels, pcutoff=pcutoff) if has_p else float("nan")
        ),
        "pcutoff": float(pcutoff),
        "pck": pck(predictions, labels, pck_radius),
        "pck_radius_px": float(pck_radius),
        "per_bodypart_px": per_bodypart_error(predictions, labels, bodyparts),
        "n_frames": int(d.shape[0]),
        "n_labelled": int(np.isfinite(d).sum()),
        "kept_share": float(confident.get("kept_share", np.nan)),
        "miss_share_kept": float(confident.get("miss_share_kept", np.nan)),
    }


def write_combined_evaluation(
    path: str | os.PathLike,
    *,
    iterations: int,
    train_fraction: float,
    shuffle: int,
    train_error: float,
    test_error: float,
    pcutoff: float,
    train_error_pcutoff: float,
    test_error_pcutoff: float,
) -> Path:
    """Write one row of DeepLabCut's ``CombinedEvaluation-results.csv`` (atomically).

    The row is appended, unless the file has a row of the same model already (the
    same training iterations, training-set percentage and shuffle): that row is
    replaced, so that evaluating a model again does not count it twice (older
    duplicates of it are dropped; the index column is renumbered).

    The file is DeepLabCut's layout: pandas' index as a leading unnamed column (DLC
    reads it back with ``index_col=0`` when it appends), then exactly the columns
    :data:`COMBINED_EVALUATION_COLUMNS`. Errors are mean Euclidean distances (DLC's
    convention), rounded to 2 decimals as DLC does. A file an older posekit wrote
    without the index column is given one.

    Parameters
    ----------
    path
        The CSV file (created with a header if absent).
    iterations
        Training iterations of the evaluated snapshot.
    train_fraction
        Fraction of frames used for training (written as a percentage, e.g. 95).
    shuffle
        Shuffle number.
    train_error, test_error
        Mean Euclidean distance in pixels.
    pcutoff
        Likelihood cutoff used for the two last columns.
    train_error_pcutoff, test_error_pcutoff
        Errors of predictions with likelihood ≥ ``pcutoff``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "CombinedEvaluation-results.csv"
    >>> _ = write_combined_evaluation(p, iterations=1000, train_fraction=0.95, shuffle=1,
    ...     train_error=1.234, test_error=2.5, pcutoff=0.6, train_error_pcutoff=1.2,
    ...     test_error_pcutoff=2.4)
    >>> print(p.read_text().strip())
    ,Training iterations:,%Training dataset,Shuffle number,Train error(px),Test error(px),p-cutoff used,Train error with p-cutoff,Test error with p-cutoff
    0,1000,95,1,1.23,2.5,0.6,1.2,2.4
    >>> _ = write_combined_evaluation(p, iterations=1000, train_fraction=0.95, shuffle=1,
    ...     train_error=1.0, test_error=2.0, pcutoff=0.6, train_error_pcutoff=1.0,
    ...     test_error_pcutoff=2.0)
    >>> print(p.read_text().strip().splitlines()[1:])  # the same model: replaced
    ['0,1000,95,1,1.0,2.0,0.6,1.0,2.0']
    """
    path = Path(path)
    pct = (
        int(round(100 * float(train_fraction)))
        if train_fraction <= 1
        else int(train_fraction)
    )
    row: list[Any] = [
        int(iterations),
        pct,
        int(shuffle),
        *(round(float(v), 2) for v in (train_error, test_error)),
        float(pcutoff),
        *(round(float(v), 2) for v in (train_error_pcutoff, test_error_pcutoff)),
    ]
    existing = path.read_text() if path.exists() else ""
    lines = [ln for ln in existing.splitlines() if ln.strip()]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not lines:
        lines = [",".join(["", *COMBINED_EVALUATION_COLUMNS])]
    header = next(csv.reader([lines[0]]))
    if tuple(h.strip() for h in header) == COMBINED_EVALUATION_COLUMNS:
        # an older posekit's file, without the index column: given DeepLabCut's
        lines = [f",{lines[0]}", *(f"{i},{ln}" for i, ln in enumerate(lines[1:]))]
    elif not (
        header
        and header[0] == ""
        and tuple(h.strip() for h in header[1:]) == COMBINED_EVALUATION_COLUMNS
    ):
        raise ValueError(
            f"{path} is not a CombinedEvaluation-results.csv (header {header}); "
            "move it away or pass another path."
        )
    rows = [next(csv.reader([ln]))[1:] for ln in lines[1:]]
    key = tuple(row[:3])
    same = [i for i, r in enumerate(rows) if _model_key(r) == key]
    if same:  # this model's row again: replaced where it was, duplicates dropped
        logger.info(
            "%s: replacing the row of %d iterations, %d%% training set, shuffle %d",
            path,
            *key,
        )
        rows[same[0]] = [str(v) for v in row]
        rows = [r for i, r in enumerate(rows) if i not in same[1:]]
    else:
        rows.append([str(v) for v in row])
    writer.writerow(["", *COMBINED_EVALUATION_COLUMNS])
    for i, r in enumerate(rows):
        writer.writerow([i, *r])  # DLC's pandas index column first
    return atomic_write_text(path, buf.getvalue())


def _model_key(fields: Sequence[str]) -> tuple[int, int, int] | None:
    """Return a combined-evaluation row's iterations, training % and shuffle.

    ``None`` when they cannot be read as numbers.
    """
    try:
        it, pct, shuffle = (int(round(float(v))) for v in fields[:3])
    except (TypeError, ValueError):
        return None
    return it, pct, shuffle


# ------------------------------------------------------------------ evaluation images

#: Name prefixes of the evaluation images (DeepLabCut's), and of posekit's older ones.
_EVALUATION_IMAGE_PREFIXES = ("Training-", "Test-", "labeled-data_")


def evaluation_image_names(
    paths: Sequence[str],
    train_indices: Sequence[int],
    test_indices: Sequence[int],
) -> dict[int, str]:
    """DeepLabCut's file names of the evaluation images, by frame position.

    ``Training-<video>-<image>`` for the frames trained on and
    ``Test-<video>-<image>`` for the held-out ones, as DeepLabCut's
    ``evaluate_network(..., plotting=True)`` names them (always ``.png``).

    Parameters
    ----------
    paths
        ``labeled-data/<video>/<image>`` of every frame.
    train_indices, test_indices
        The split: positions into ``paths``.

    Returns
    -------
    dict
        Position → file name, the training frames first.

    Examples
    --------
    >>> paths = ["labeled-data/s1/img01.png", "labeled-data/s1/img02.jpg"]
    >>> evaluation_image_names(paths, [1], [0])
    {1: 'Training-s1-img02.png', 0: 'Test-s1-img01.png'}
    """
    names = {}
    for prefix, idx in (("Training", train_indices), ("Test", test_indices)):
        for i in idx:
            parts = PurePosixPath(str(paths[int(i)]).replace("\\", "/")).parts
            name = "-".join((prefix, *parts[-2:]))
            names[int(i)] = str(PurePosixPath(name).with_suffix(".png"))
    return names


def write_evaluation_images(
    folder: str | os.PathLike,
    names: Mapping[int, str],
    draw: Callable[[int], np.ndarray],
) -> list[Path]:
    """Write the evaluation images of a snapshot as PNGs, each atomically.

    Images in ``folder`` from an earlier evaluation that are not written now (a
    frame whose split changed, ``Test-…`` then ``Training-…``, or that left the
    labels; posekit's older names ``labeled-data_<video>_<image>.png``) are removed,
    so that the folder holds one image per frame of the current split.

    Parameters
    ----------
    folder
        DeepLabCut's ``LabeledImages_<scorer>_snapshot-<N>`` (created).
    names
        Frame position → file name (:func:`evaluation_image_names`).
    draw
        ``draw(position)`` → the drawn RGB ``uint8`` image of that frame.

    Returns
    -------
    list of pathlib.Path
        The written files, in the order of ``names``.

    Raises
    ------
    RuntimeError
        If an image cannot be encoded.
    """
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in names.items():
        ok, data = cv2.imencode(".png", cv2.cvtColor(draw(i), cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover - cv2 failure
            raise RuntimeError(f"could not encode the evaluation image {name}")
        written.append(atomic_write_bytes(folder / name, data.tobytes()))
    keep = {p.name for p in written}
    stale = [
        p
        for p in folder.glob("*.png")
        if p.name.startswith(_EVALUATION_IMAGE_PREFIXES) and p.name not in keep
    ]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        logger.info("removed %d evaluation images of another split", len(stale))
    return written


# ---------------------------------------------------------------- OKS (COCO keypoints)

#: DeepLabCut's default OKS sigma (``oks_sigma``), the same for every keypoint.
DEFAULT_OKS_SIGMA = 0.1

#: The OKS thresholds of COCO's keypoint mAP (0.50, 0.55, ..., 0.95).
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)

_RECALL_STEPS = np.linspace(0.0, 1.0, 101)


def keypoint_box(labels: np.ndarray, *, margin: float = 0.0) -> np.ndarray:
    """Bounding box ``(x, y, w, h)`` of the labelled keypoints of each instance.

    Parameters
    ----------
    labels
        ``(..., K, 2)``; NaN for missing keypoints.
    margin
        Pixels added on every side (DeepLabCut's ``oks_bbox_margin``).

    Returns
    -------
    numpy.ndarray
        ``(..., 4)``; NaN for an instance without any labelled keypoint.

    Examples
    --------
    >>> keypoint_box(np.array([[1.0, 2.0], [4.0, 6.0], [np.nan, np.nan]]))
    array([1., 2., 3., 4.])
    """
    labels = np.asarray(labels, np.float64)
    seen = np.isfinite(labels).all(axis=-1)
    big = np.where(seen[..., None], labels, np.inf)
    small = np.where(seen[..., None], labels, -np.inf)
    lo, hi = big.min(axis=-2), small.max(axis=-2)
    box = np.concatenate([lo - margin, hi - lo + 2 * margin], axis=-1)
    return np.where(seen.any(axis=-1)[..., None], box, np.nan)


def _sigmas(
    sigma: float | Sequence[float] | np.ndarray, n_keypoints: int
) -> np.ndarray:
    s = np.broadcast_to(np.asarray(sigma, np.float64), (n_keypoints,)).copy()
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"OKS sigmas must be positive numbers; received {sigma!r}")
    return s


def oks(
    predictions: np.ndarray,
    labels: np.ndarray,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    area: np.ndarray | float | None = None,
    margin: float = 0.0,
) -> np.ndarray:
    """Object keypoint similarity, as COCO's ``COCOeval.computeOks`` computes it.

    ``OKS = mean over labelled keypoints of exp(-d² / (2 · area · (2σ)²))``, where
    ``d`` is the distance between prediction and label and ``area`` the object's
    scale². σ follows DeepLabCut's convention (``oks_sigma``, default 0.1, one value
    or one per keypoint; COCO's ``kpt_oks_sigmas``), and the default area is DLC's
    scale, the area of the box around the labelled keypoints (plus ``margin`` on
    every side), which is also the ``area`` :mod:`posekit.engine.io.coco` writes.
    A missing (NaN) prediction of a labelled keypoint counts as a miss (0).

    Parameters
    ----------
    predictions
        ``(..., K, 2)`` or ``(..., K, 3)`` (the likelihood column is ignored).
    labels
        ``(..., K, 2)``, NaN for unlabelled keypoints; broadcast against
        ``predictions`` (``oks(pred[:, None], gt[None])`` gives a matrix).
    sigma
        Per-keypoint σ (scalar or ``(K,)``).
    area
        Object area per instance (broadcast to the result); default: the labelled
        keypoints' box.
    margin
        Pixels added on every side of that box.

    Returns
    -------
    numpy.ndarray
        OKS in [0, 1], shape of the broadcast leading dims; NaN where an instance
        has no labelled keypoint.

    Examples
    --------
    >>> gt = np.array([[0.0, 0.0], [10.0, 10.0]])
    >>> float(oks(gt, gt))
    1.0
    >>> round(float(oks(gt + [1.0, 0.0], gt)), 4)  # d² = 1, area 100, σ 0.1
    0.8825
    """
    predictions = np.asarray(predictions, np.float64)[..., :2]
    labels = np.asarray(labels, np.float64)
    if labels.shape[-1] != 2 or predictions.shape[-2] != labels.shape[-2]:
        raise ValueError(
            "predictions (..., K, 2|3) and labels (..., K, 2) need the same K; "
            f"received {predictions.shape} and {labels.shape}"
        )
    k = labels.shape[-2]
    variances = (2 * _sigmas(sigma, k)) ** 2
    if area is None:
        box = keypoint_box(labels, margin=margin)
        area = box[..., 2] * box[..., 3]
    area = np.asarray(area, np.float64)
    labelled = np.isfinite(labels).all(axis=-1)
    d2 = np.sum((predictions - labels) ** 2, axis=-1)
    d2 = np.where(np.isfinite(d2), d2, np.inf)
    e = d2 / variances / (area[..., None] + np.spacing(1)) / 2
    n = labelled.sum(axis=-1)
    total = np.where(labelled, np.exp(-e), 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def _instance_scores(pred: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    if scores is not None:
        scores = np.asarray(scores, np.float64).reshape(-1)
        if len(scores) != len(pred):
            raise ValueError(
                f"{len(scores)} scores for {len(pred)} predicted instances"
            )
        return scores
    if pred.shape[-1] == 3:
        like = np.where(np.isfinite(pred[..., :2]).all(-1), pred[..., 2], np.nan)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isfinite(like), like, np.nan), axis=-1)
        return np.where(np.isfinite(mean), mean, 0.0)
    return np.ones(len(pred))


def _match_image(ious: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Greedy matching of score-sorted detections as COCOeval.evaluateImg does."""
    n_dt, n_gt = ious.shape
    matched = np.zeros((len(thresholds), n_dt), dtype=bool)
    for t, thr in enumerate(thresholds):
        taken = np.zeros(n_gt, dtype=bool)
        for d in range(n_dt):
            best, m = min(thr, 1 - 1e-10), -1
            for g in range(n_gt):
                if taken[g] or ious[d, g] < best:
                    continue
                best, m = ious[d, g], g
            if m >= 0:
                taken[m] = True
                matched[t, d] = True
    return matched


def _precision_at_recalls(tp: np.ndarray, n_gt: int) -> np.ndarray:
    tp_sum = np.cumsum(tp).astype(float)
    fp_sum = np.cumsum(~tp).astype(float)
    recall = tp_sum / n_gt
    precision = (tp_sum / (fp_sum + tp_sum + np.spacing(1))).tolist()
    for i in range(len(precision) - 1, 0, -1):
        if precision[i] > precision[i - 1]:
            precision[i - 1] = precision[i]
    # recall steps beyond the end of the curve keep precision 0 (as in COCOeval)
    q = np.zeros(len(_RECALL_STEPS))
    idx = np.searchsorted(recall, _RECALL_STEPS, side="left")
    ok = idx < len(precision)
    q[ok] = np.asarray(precision)[idx[ok]]
    return q


def oks_average_precision(
    labels: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    margin: float = 0.0,
    thresholds: Sequence[float] = tuple(OKS_THRESHOLDS),
    max_detections: int = 20,
) -> np.ndarray:
    """Average precision of multi-instance keypoints at each OKS threshold.

    The same computation as pycocotools' ``COCOeval(iouType="keypoints")``
    (``evaluate`` + ``accumulate``, area range "all"): per image, detections sorted
    by score (at most ``max_detections``) are matched greedily to the unmatched
    ground truth of highest OKS ≥ the threshold; then, over all images, precision
    is made monotone and read at the recall steps 0, 0.01, …, 1. Identities play
    no part: predictions are matched by OKS.

    Parameters
    ----------
    labels
        One array per image: ``(G, K, 2)`` ground-truth instances, NaN for
        unlabelled keypoints. Instances without a labelled keypoint are not objects.
    predictions
        One array per image: ``(D, K, 2)`` or ``(D, K, 3)`` (x, y, likelihood).
        All-NaN instances are not detections.
    scores
        One array per image: ``(D,)`` instance scores. Default: the mean
        likelihood of the instance's keypoints (or 1 without a likelihood).
    sigma, margin
        See :func:`oks`.
    thresholds
        OKS thresholds (default COCO's 0.50:0.05:0.95).
    max_detections
        Detections kept per image, highest score first (COCO: 20).

    Returns
    -------
    numpy.ndarray
        AP per threshold; NaN when there is no ground-truth instance at all.

    Raises
    ------
    ValueError
        If the image lists differ in length or the arrays in shape.
    """
    thr = np.asarray(thresholds, np.float64)
    all_scores, all_tp, n_gt = _match_images(
        labels, predictions, scores, sigma, margin, thr, max_detections
    )
    if n_gt == 0:
        return np.full(len(thr), np.nan)
    if not all_scores:
        return np.zeros(len(thr))
    s = np.concatenate(all_scores)
    order = np.argsort(-s, kind="mergesort")
    tp = np.concatenate(all_tp, axis=1)[:, order]
    return np.array(
        [_precision_at_recalls(tp[t], n_gt).mean() for t in range(len(thr))]
    )


def _match_images(
    labels: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None,
    sigma: float | Sequence[float],
    margin: float,
    thr: np.ndarray,
    max_detections: int,
) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Per image, the detections' scores and matches at each threshold (COCOeval)."""
    if len(labels) != len(predictions):
        raise ValueError(
            f"{len(labels)} images of labels but {len(predictions)} of predictions"
        )
    if scores is not None and len(scores) != len(predictions):
        raise ValueError(f"{len(scores)} score arrays for {len(predictions)} images")
    all_scores, all_tp, n_gt = [], [], 0
    for i, (gt, pred) in enumerate(zip(labels, predictions, strict=True)):
        gt = np.asarray(gt, np.float64).reshape(-1, *np.shape(gt)[-2:])
        pred = np.asarray(pred, np.float64).reshape(-1, *np.shape(pred)[-2:])
        s = _instance_scores(pred, None if scores is None else scores[i])
        gt = gt[np.isfinite(gt).all(-1).any(-1)]
        keep = np.isfinite(pred[..., :2]).all(-1).any(-1)
        pred, s = pred[keep], s[keep]
        order = np.argsort(-s, kind="mergesort")[:max_detections]
        pred, s = pred[order], s[order]
        n_gt += len(gt)
        if len(pred) == 0:
            continue
        if len(gt):
            ious = oks(pred[:, None], gt[None], sigma=sigma, margin=margin)
            all_tp.append(_match_image(ious, thr))
        else:
            all_tp.append(np.zeros((len(thr), len(pred)), dtype=bool))
        all_scores.append(s)
    return all_scores, all_tp, n_gt


def oks_average_recall(
    labels: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    margin: float = 0.0,
    thresholds: Sequence[float] = tuple(OKS_THRESHOLDS),
    max_detections: int = 20,
) -> np.ndarray:
    """Recall of multi-instance keypoints at each OKS threshold (COCOeval's).

    The matching of :func:`oks_average_precision`; the recall at a threshold is the
    fraction of ground-truth instances matched by some detection (COCOeval's
    ``recall``, area "all", the ``max_detections`` best detections per image).

    Parameters
    ----------
    labels, predictions, scores, sigma, margin, thresholds, max_detections
        As for :func:`oks_average_precision`.

    Returns
    -------
    numpy.ndarray
        Recall per threshold; NaN without any ground-truth instance.

    Examples
    --------
    >>> gt = [np.array([[[0.0, 0.0], [10.0, 10.0]], [[50, 50], [60, 60]]])]
    >>> oks_average_recall(gt, [gt[0][:1]], thresholds=[0.5]).tolist()  # 1 of 2
    [0.5]
    """
    thr = np.asarray(thresholds, np.float64)
    _, all_tp, n_gt = _match_images(
        labels, predictions, scores, sigma, margin, thr, max_detections
    )
    if n_gt == 0:
        return np.full(len(thr), np.nan)
    if not all_tp:
        return np.zeros(len(thr))
    return np.concatenate(all_tp, axis=1).sum(axis=1) / n_gt


def oks_mar(
    labels: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    margin: float = 0.0,
    max_detections: int = 20,
) -> float:
    """OKS mAR: the mean of :func:`oks_average_recall` over 0.50:0.05:0.95.

    This is COCOeval's ``stats[5]`` for keypoints (AR at area "all").

    Parameters
    ----------
    labels, predictions, scores, sigma, margin, max_detections
        As for :func:`oks_map`.

    Returns
    -------
    float
        The mAR; NaN without any ground-truth instance.

    Examples
    --------
    >>> gt = [np.array([[[0.0, 0.0], [10.0, 10.0]]])]
    >>> oks_mar(gt, gt)
    1.0
    """
    return float(
        np.mean(
            oks_average_recall(
                labels,
                predictions,
                scores,
                sigma=sigma,
                margin=margin,
                max_detections=max_detections,
            )
        )
    )


def oks_map(
    labels: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    scores: Sequence[np.ndarray] | None = None,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
    margin: float = 0.0,
    max_detections: int = 20,
) -> float:
    """OKS mAP: the mean of :func:`oks_average_precision` over 0.50:0.05:0.95.

    This is COCOeval's ``stats[0]`` for keypoints (AP at area "all").

    Parameters
    ----------
    labels, predictions, scores
        Per image, as in :func:`oks_average_precision`.
    sigma, margin
        See :func:`oks`.
    max_detections
        Detections kept per image (COCO: 20).

    Returns
    -------
    float
        The mAP; NaN without any ground-truth instance.

    Examples
    --------
    >>> gt = [np.array([[[0.0, 0.0], [10.0, 10.0]]])]
    >>> round(oks_map(gt, gt), 6)  # COCO's precision is tp / (tp + fp + eps)
    1.0
    """
    ap = oks_average_precision(
        labels,
        predictions,
        scores,
        sigma=sigma,
        margin=margin,
        max_detections=max_detections,
    )
    return float(np.mean(ap))
