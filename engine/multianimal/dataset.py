"""Training sets of multi-animal projects, in DeepLabCut's layout.

:func:`posekit.engine.dataset.create_training_dataset` and
:func:`~posekit.engine.dataset.load_training_set` come here for a multi-animal project.
The merged ``CollectedData_<scorer>.h5`` keeps the four column levels
(``scorer/individuals/bodyparts/coords``, unique bodyparts under ``single``), and the
``Documentation_data-…pickle`` lists each training image's joints per individual, as
DeepLabCut's ``format_multianimal_training_data`` does: ``joints`` maps the
individual's position (``single`` last) to rows ``[bodypart index, x, y]``, where the
unique bodyparts are numbered after the multi-animal ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..io.dlc import LabelError, index_to_paths, read_labels, validate_labels
from .layout import MultiAnimalLayout, frame_to_arrays

__all__ = [
    "MultiAnimalTrainingSet",
    "merge_multianimal_labels",
    "documentation_entries",
    "load_multianimal_training_set",
]

logger = logging.getLogger("posekit.engine.multianimal")


@dataclass
class MultiAnimalTrainingSet:
    """Images and labels of one shuffle of a multi-animal project.

    Attributes
    ----------
    images
        RGB ``uint8`` frames.
    keypoints
        ``(n_images, n_individuals, n_multi, 2)``, NaN where not labelled.
    unique
        ``(n_images, n_unique, 2)``.
    paths
        ``labeled-data/<video>/<image>`` of each image.
    layout
        Individuals and bodyparts.
    train_indices, test_indices
        Positions into the arrays.
    train_fraction, shuffle
        The split's fraction and number.
    flip_pairs
        Left/right bodypart pairs found by name.
    """

    images: Sequence[np.ndarray]
    keypoints: np.ndarray
    unique: np.ndarray
    paths: list[str]
    layout: MultiAnimalLayout
    train_indices: np.ndarray
    test_indices: np.ndarray
    train_fraction: float = 0.95
    shuffle: int = 1
    flip_pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bodyparts(self) -> list[str]:
        """Network channels: multi-animal bodyparts, then unique ones."""
        return list(self.layout.bodyparts)

    @property
    def flat_keypoints(self) -> np.ndarray:
        """``(n_images, n_slots, 2)``: every point of a frame in column order."""
        return self.layout.flatten(self.keypoints, self.unique)

    def subset(self, which: str) -> tuple[Sequence[np.ndarray], np.ndarray]:
        """``("train" | "test")`` → (images, flat keypoints); images read lazily."""
        from ..dataset import _take

        idx = self.train_indices if which == "train" else self.test_indices
        return _take(self.images, idx), self.flat_keypoints[idx]


def merge_multianimal_labels(project) -> pd.DataFrame:
    """Merge every ``labeled-data/*/CollectedData_<scorer>.h5`` of a multi-animal project.

    Columns follow the config (individuals, multi-animal then unique bodyparts);
    individuals a file names otherwise are kept after the config's own. Rows get DLC
    ≥ 2.2's 3-level index; frames without any label are dropped.

    Parameters
    ----------
    project
        A multi-animal :class:`~posekit.engine.project.Project`.

    Returns
    -------
    pandas.DataFrame
        Four column levels.

    Raises
    ------
    LabelError
        No labels, or a file labels bodyparts the config does not list.
    """
    from ..labels import read_label_file

    layout = MultiAnimalLayout.from_config(project)
    parts = []
    for stem in project.labeled_videos():
        if not project.has_labels(stem):
            continue
        h5 = project.labels_path(stem)
        df = read_label_file(h5).frame
        if "individuals" not in df.columns.names:
            raise LabelError(
                f"{h5} has single-animal columns (no 'individuals' level) but the "
                "project is multi-animal; convert it or fix multianimalproject."
            )
        validate_labels(df, list(layout.bodyparts), project_path=project.path)
        try:
            kp, unique, layout = frame_to_arrays(df, layout)
        except ValueError as err:
            raise LabelError(f"{h5}: {err}") from err
        paths = index_to_paths(df.index)
        parts.append((paths, kp, unique))
    if not parts:
        raise LabelError(
            f"No labels found in {project.path / 'labeled-data'}: label some frames "
            f"first (CollectedData_{project.scorer}.h5)."
        )
    n_ind = layout.n_individuals
    rows, kps, uniques = [], [], []
    for paths, kp, unique in parts:
        pad = n_ind - kp.shape[1]
        if pad:
            kp = np.concatenate(
                [kp, np.full((len(kp), pad, *kp.shape[2:]), np.nan)], axis=1
            )
        rows += paths
        kps.append(kp)
        uniques.append(unique)
    kp = np.concatenate(kps)
    unique = np.concatenate(uniques)
    index = pd.MultiIndex.from_tuples([tuple(p.split("/")) for p in rows])
    flat = layout.flatten(kp, unique).reshape(len(rows), -1)
    merged = pd.DataFrame(
        flat, index=index, columns=layout.columns(project.scorer)
    ).sort_index()
    return merged[merged.notna().any(axis=1)]


def documentation_entries(
    project, merged: pd.DataFrame, paths: Sequence[str], train: np.ndarray
) -> list[dict]:
    """Build the ``data`` list of DeepLabCut's multi-animal ``Documentation_data`` pickle.

    Parameters
    ----------
    project
        The project (images are read for their size).
    merged
        The merged labels (:func:`merge_multianimal_labels`).
    paths
        Row paths of ``merged``.
    train
        Positions of the training rows.

    Returns
    -------
    list of dict
        ``{"image", "size", "joints"}`` per training image; ``joints`` maps each
        individual's position (``single`` last) to ``[bodypart, x, y]`` rows, points
        outside the image dropped.
    """
    layout = MultiAnimalLayout.from_config(project)
    kp, unique, layout = frame_to_arrays(merged, layout)
    data = []
    for i in train:
        img = cv2.imread(str(project.path / paths[i]))
        size = (3, img.shape[0], img.shape[1]) if img is not None else (3, 0, 0)
        joints = {}
        groups = [(np.arange(layout.n_multi), kp[i, k]) for k in range(kp.shape[1])]
        if layout.n_unique:
            groups.append((layout.n_multi + np.arange(layout.n_unique), unique[i]))
        for k, (ids, xy) in enumerate(groups):
            ok = (
                np.isfinite(xy).all(axis=1)
                & (xy[:, 0] >= 0)
                & (xy[:, 0] < size[2])
                & (xy[:, 1] >= 0)
                & (xy[:, 1] < size[1])
            )
            if ok.any():
                joints[k] = np.column_stack([ids[ok], xy[ok]]).astype(float)
        data.append(
            {
                "image": tuple(paths[i].split("/")),
                "size": np.array(size),
                "joints": joints,
            }
        )
    return data


def load_multianimal_training_set(
    project, split, *, cache_bytes: int | None = None
) -> MultiAnimalTrainingSet:
    """Load the merged labels and a recorded split; images read on demand.

    Parameters
    ----------
    project
        A multi-animal project.
    split
        The shuffle's :class:`~posekit.engine.dataset.Split`.
    cache_bytes
        Decoded images kept in memory at most (default 512 MB; see
        :class:`~posekit.engine._image_cache.ImageList`).

    Returns
    -------
    MultiAnimalTrainingSet

    Raises
    ------
    LabelError
        An image is missing or unreadable.
    """
    from ..dataset import symmetric_pairs

    h5 = project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    merged = read_labels(h5)
    paths = index_to_paths(merged.index)
    kp, unique, layout = frame_to_arrays(merged, MultiAnimalLayout.from_config(project))
    from .._image_cache import ImageList

    images = ImageList(
        [Path(project.path) / p for p in paths],
        cache_bytes=cache_bytes,
        error=LabelError,
    )
    pairs = [
        (a, b)
        for a, b in symmetric_pairs(layout.bodyparts)
        if (a in layout.unique_bodyparts) == (b in layout.unique_bodyparts)
    ]
    return MultiAnimalTrainingSet(
        images=images,
        keypoints=kp,
        unique=unique,
        paths=paths,
        layout=layout,
        train_indices=split.train_indices,
        test_indices=split.test_indices,
        train_fraction=split.train_fraction,
        shuffle=split.shuffle,
        flip_pairs=pairs,
    )
