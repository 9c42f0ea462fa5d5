"""Training sets of multi-animal projects, in DeepLabCut's layout.

:func:`posekit.engine.dataset.create_training_dataset` and
:func:`~posekit.engine.dataset.load_training_set` come here for a multi-animal project.
The merged ``CollectedData_<scorer>.h5`` keeps the four column levels
(``scorer/individuals/bodyparts/coords``, unique bodyparts under ``single``), and the
``Documentation_data-…pickle`` lists each training image's joints per individual, as
DeepLabCut's ``format_multianimal_training_data`` does: ``joints`` maps the
individual's position (``single`` last) to rows ``[bodypart index, x, y]``, where the
unique bodyparts are numbered after the multi-animal ones.

The labeller's "not visible" marks (``labeled-data/<video>/.posekit/visibility.json``,
points named ``"<individual>/<bodypart>"``) are read with the training set
(:attr:`MultiAnimalTrainingSet.not_visible`), as for a single animal: training knows
the marked points are absent, under either ``weigh_only_present_joints``
(:mod:`~posekit.engine.multianimal.targets`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    "multianimal_not_visible_marks",
    "dlc_multianimal_keys",
    "identity_enabled",
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
    not_visible
        ``(n_images, n_slots)`` bool, slots in :attr:`flat_keypoints` order: points
        marked "not visible" in the labeller (and empty in the labels); ``None``:
        not read.
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
    not_visible: np.ndarray | None = None

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

    def absent(self, which: str) -> np.ndarray | None:
        """``("train" | "test")`` → the :attr:`not_visible` rows of that subset.

        What :meth:`Trainer.fit <posekit.engine.training.Trainer.fit>` takes as
        ``absent`` (as :meth:`posekit.engine.dataset.TrainingSet.absent`); ``None``
        when the marks were not read.
        """
        if self.not_visible is None:
            return None
        idx = self.train_indices if which == "train" else self.test_indices
        return self.not_visible[idx]


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
    from ..labels import on_disk_frames, read_label_file

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
        # macOS names (NFD) vs rows (NFC): as the images are named on disk
        paths = on_disk_frames(project, index_to_paths(df.index))
        if paths != index_to_paths(df.index):
            df.index = pd.Index(paths)
        validate_labels(df, list(layout.bodyparts), project_path=project.path)
        try:
            kp, unique, layout = frame_to_arrays(df, layout)
        except ValueError as err:
            raise LabelError(f"{h5}: {err}") from err
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


def multianimal_not_visible_marks(
    project, paths: Sequence[str], layout: MultiAnimalLayout
) -> np.ndarray:
    """Return the "not visible" marks of labelled frames as ``(n, n_slots)`` bool.

    Parameters
    ----------
    project
        A multi-animal project.
    paths
        ``labeled-data/<video>/<image>`` of each frame.
    layout
        The training set's layout (its slots are the columns).

    Returns
    -------
    numpy.ndarray
        True where the labeller marked the individual's bodypart not visible on the
        frame (:func:`~posekit.engine.labels.read_visibility`, points named
        ``"<individual>/<bodypart>"``); marks of points the layout lacks are left out.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> from posekit.engine.labels import update_visibility
    >>> project = make_demo_project(tempfile.mkdtemp(), n_animals=2, n_frames=12,
    ...                             n_labeled=2)
    >>> frame = "labeled-data/session1/img00.png"
    >>> _ = update_visibility(project, "session1",
    ...                       not_visible_add=[(frame, "mouse2/snout")])
    >>> layout = MultiAnimalLayout.from_config(project)
    >>> layout.slots[6]
    ('mouse2', 'snout')
    >>> multianimal_not_visible_marks(project, [frame], layout).nonzero()[1].tolist()
    [6]
    """
    from ..labels import read_visibility
    from .labels import split_slot

    slot = {s: j for j, s in enumerate(layout.slots)}
    row = {p: i for i, p in enumerate(paths)}
    out = np.zeros((len(paths), layout.n_slots), bool)
    for stem in dict.fromkeys(p.split("/")[1] for p in paths if p.count("/") >= 2):
        for frame, name in read_visibility(project, stem)["not_visible"]:
            try:
                point = split_slot(name)
            except ValueError:  # a single-animal mark: no individual named
                continue
            if frame in row and point in slot:
                out[row[frame], slot[point]] = True
    return out


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
    # the labeller's marks (read now: a mark added since the set was made counts)
    empty = ~np.isfinite(layout.flatten(kp, unique)).all(axis=-1)
    not_visible = multianimal_not_visible_marks(project, paths, layout) & empty
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
        not_visible=not_visible,
    )


def identity_enabled(project) -> bool:
    """Return whether ``config.yaml`` has ``identity: true`` (also ``"yes"``, ``"on"``, ``"1"``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> [identity_enabled(SimpleNamespace(get=lambda k, v=v: v))
    ...  for v in (True, "Yes", "false", None)]
    [True, True, False, False]
    """
    value = project.get("identity")
    if isinstance(value, str):
        value = value.strip().lower() in ("true", "yes", "on", "1")
    return value is True


def dlc_multianimal_keys(
    project,
    split,
    *,
    paf_graph: str | Sequence[Sequence[int]] | None = None,
    crop_size: Sequence[int] | None = None,
    crop_sampling: str | None = None,
    n_edges_threshold: int | None = None,
    paf_graph_degree: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the keys DeepLabCut's ``create_multianimaltraining_dataset`` writes.

    The part-affinity graph by DeepLabCut's rule (:func:`.graph.paf_graph`: every
    pair of multi-animal bodyparts, pruned from the shuffle's training labels to an
    average degree of ``paf_graph_degree`` above ``n_edges_threshold`` edges), and
    the identity channels; the rest of what that function writes is the same for
    every project (:data:`posekit.engine._dlc_pose_cfg.MULTI_TEMPLATE`).

    Parameters
    ----------
    project
        A multi-animal project.
    split
        The shuffle's :class:`~posekit.engine.dataset.Split`.
    paf_graph
        DeepLabCut's ``paf_graph``: ``None`` (its rule), ``"config"`` (the edges of
        ``config.yaml``'s ``skeleton`` between multi-animal bodyparts) or index pairs
        of ``multianimalbodyparts``.
    crop_size
        DeepLabCut's ``crop_size`` (width, height of the training crops).
    crop_sampling
        DeepLabCut's ``crop_sampling`` (written; posekit places its crops itself).
    n_edges_threshold, paf_graph_degree
        DeepLabCut's pruning rule (default 105 and 6).

    Returns
    -------
    keys : dict
        The shuffle's keys (a file already there keeps its own values).
    given : dict
        The keys asked for in this call (a graph or rule given, ``crop_size``),
        which replace the file's.

    Raises
    ------
    ValueError
        A graph names bodyparts out of range, or ``"config"`` finds no edge.
    """
    from .graph import FULL_GRAPH_MAX_EDGES, GRAPH_DEGREE, skeleton_edges
    from .graph import paf_graph as make_graph

    layout = MultiAnimalLayout.from_config(project)
    h5 = project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    animals, _, _ = frame_to_arrays(read_labels(h5), layout)
    train = animals[np.asarray(split.train_indices, dtype=int)]
    edges: str | Sequence[Sequence[int]] = "auto" if paf_graph is None else paf_graph
    if isinstance(edges, str) and edges == "config":
        edges = skeleton_edges(layout.multi_bodyparts, project.skeleton)
        if not edges:
            raise ValueError(
                "paf_graph='config': config.yaml's skeleton links no two "
                f"multianimalbodyparts {list(layout.multi_bodyparts)}. Add edges to "
                "skeleton, or leave paf_graph out for DeepLabCut's rule."
            )
    graph = make_graph(
        layout.n_multi,
        train.reshape(-1, layout.n_multi, 2),
        edges=edges,
        max_edges=FULL_GRAPH_MAX_EDGES
        if n_edges_threshold is None
        else n_edges_threshold,
        degree=GRAPH_DEGREE if paf_graph_degree is None else paf_graph_degree,
    )
    graph_keys = {"partaffinityfield_graph": [[int(a), int(b)] for a, b in graph]}
    identity = identity_enabled(project)
    keys = {**graph_keys, "num_idchannel": layout.n_individuals if identity else 0}
    given: dict[str, Any] = {}
    if (paf_graph, n_edges_threshold, paf_graph_degree) != (None, None, None):
        given.update(graph_keys)
    if crop_size is not None:
        given["crop_size"] = [int(v) for v in crop_size]
    if crop_sampling is not None:
        given["crop_sampling"] = str(crop_sampling)
    return keys, given
