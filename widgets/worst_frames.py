"""The worst test frames of a trained network, drawn for the training dashboard.

:func:`find_worst_frames` predicts a shuffle's test frames, ranks them by their mean
keypoint error and draws the worst ones (labels as crosses, predictions as circles)
into ``evaluation-results/.../worst-test-frames/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..engine.project import Project

__all__ = ["WorstFrame", "find_worst_frames"]


@dataclass(frozen=True)
class WorstFrame:
    """A test frame with its prediction drawn on it (ground truth = crosses).

    Parameters
    ----------
    path
        The frame (``labeled-data/<video>/<image>``).
    error_px
        Its mean keypoint error in pixels (-1 when no keypoint could be compared).
    png
        The drawing, PNG bytes.
    """

    path: str
    error_px: float
    png: bytes


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"labelled image {path} is missing or unreadable")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def find_worst_frames(
    project: Project, shuffle: int, n: int, *, predict: Callable[..., Any]
) -> list[WorstFrame]:
    """Predict the test frames of ``shuffle`` and draw the ``n`` worst.

    Parameters
    ----------
    project
        The project.
    shuffle
        Which training set (its test split) and network.
    n
        How many frames to draw.
    predict
        ``predict(project, images, shuffle=shuffle)`` giving ``(frames, bodyparts,
        3)`` arrays of x, y, likelihood (e.g. :func:`posekit.engine.api.predict_frames`).

    Returns
    -------
    list of WorstFrame
        Largest mean error first (empty without test frames or for ``n < 1``).

    Raises
    ------
    FileNotFoundError
        If a test frame's image is missing.
    """
    from ..engine.dataset import load_split
    from ..engine.drawing import plot_predictions
    from ..engine.evaluation import keypoint_distances
    from ..engine.io.dlc import index_to_paths, labels_to_array, read_labels

    split = load_split(project, shuffle=shuffle)
    merged = read_labels(
        project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    )
    paths = index_to_paths(merged.index)
    test = [int(i) for i in split.test_indices]
    if not test or n < 1:
        return []
    images = [_read_rgb(project.path / paths[i]) for i in test]
    bodyparts = list(project.bodyparts)
    if project.multianimal:  # each labelled animal beside its matched prediction
        from ..engine.multianimal.api import matched_predictions
        from ..engine.multianimal.labels import slot_points

        bodyparts, points = slot_points(project, merged)
        truth = np.stack([points[paths[i]] for i in test])
        n_multi = sum(not b.startswith("single/") for b in bodyparts)
        k = len(project.multianimal_bodyparts)
        animals = truth[:, :n_multi].reshape(len(test), -1, k, 2)
        pred = matched_predictions(project, images, animals, shuffle=shuffle)
        truth = truth[:, : pred.shape[1]]
        bodyparts = bodyparts[: pred.shape[1]]
    else:
        truth = labels_to_array(merged, project.bodyparts)[test]
        pred = np.asarray(predict(project, images, shuffle=shuffle))
    dist = keypoint_distances(pred, truth)
    per_frame = np.array(
        [float(np.nanmean(d)) if np.isfinite(d).any() else -1.0 for d in dist]
    )
    order = np.argsort(-per_frame, kind="stable")[:n]
    files = plot_predictions(
        [images[i] for i in order],
        pred[order],
        truth[order],
        project.evaluation_dir(shuffle) / "worst-test-frames",
        names=[f"{r:02d}_{Path(paths[test[i]]).stem}" for r, i in enumerate(order)],
        bodyparts=bodyparts,
        pcutoff=project.pcutoff,
    )
    return [
        WorstFrame(paths[test[i]], float(per_frame[i]), f.read_bytes())
        for i, f in zip(order, files, strict=True)
    ]
