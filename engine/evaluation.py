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
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._fileio import atomic_write_text

__all__ = [
    "COMBINED_EVALUATION_COLUMNS",
    "keypoint_distances",
    "mean_error",
    "rmse",
    "per_bodypart_error",
    "pck",
    "evaluation_summary",
    "write_combined_evaluation",
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
        ``per_bodypart_px``, ``n_frames``, ``n_labelled``.
    """
    d = keypoint_distances(predictions, labels)
    has_p = np.asarray(predictions).shape[-1] == 3
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
    """Append one row to DeepLabCut's ``CombinedEvaluation-results.csv`` (atomically).

    The file has exactly the columns :data:`COMBINED_EVALUATION_COLUMNS`. Errors are
    mean Euclidean distances (DLC's convention), rounded to 2 decimals as DLC does.
    A file written by DeepLabCut itself (a leading unnamed index column) keeps its
    layout.

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
    Training iterations:,%Training dataset,Shuffle number,Train error(px),Test error(px),p-cutoff used,Train error with p-cutoff,Test error with p-cutoff
    1000,95,1,1.23,2.5,0.6,1.2,2.4
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
        writer.writerow(COMBINED_EVALUATION_COLUMNS)
    else:
        header = next(csv.reader([lines[0]]))
        if (
            header
            and header[0] == ""
            and tuple(h.strip() for h in header[1:]) == (COMBINED_EVALUATION_COLUMNS)
        ):
            row = [len(lines) - 1, *row]  # DLC's pandas index column
        elif tuple(h.strip() for h in header) != COMBINED_EVALUATION_COLUMNS:
            raise ValueError(
                f"{path} is not a CombinedEvaluation-results.csv (header {header}); "
                "move it away or pass another path."
            )
    writer.writerow(row)
    text = (existing.rstrip("\n") + "\n" if lines else "") + buf.getvalue()
    return atomic_write_text(path, text)
