"""Training sets: merge the project's labels, split into shuffles, record the split.

Files follow DeepLabCut (``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/``):
the merged ``CollectedData_<scorer>.h5``/``.csv``, ``Documentation_data-<Task>_<pct>shuffle<k>.pickle``
(``[data, trainIndices, testIndices, trainFraction]``) and the legacy ``.mat``. A split
that already exists on disk (written by DeepLabCut or by us) is read, never redrawn, so a
DLC project keeps its split.

A bodypart left empty (NaN) in a labelled frame is kept as it is: training learns it
as absent there, as DeepLabCut does (``weigh_only_present_joints: false``,
:class:`~posekit.engine.training.TrainConfig`). The labeller's "not visible" marks
(``labeled-data/<video>/.posekit/visibility.json``) are read with the training set
(:attr:`TrainingSet.not_visible`). Empty points that are not marked may be parts the
labeller has not placed yet rather than hidden ones: creating the training set warns
about them, naming frames, and keeps them.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path
from .dlc_names import dlc_keywords, ignored, note_config_engine, refused, renamed
from .io.dlc import (
    LabelError,
    index_to_paths,
    labels_to_array,
    read_labels,
    validate_labels,
    write_labels,
)
from .labels import on_disk_frames, read_label_file
from .project import Project, as_project

__all__ = [
    "TrainingSet",
    "Split",
    "merge_labels",
    "make_split",
    "create_training_dataset",
    "mergeandsplit",
    "load_split",
    "load_training_set",
    "symmetric_pairs",
    "not_visible_marks",
]


@dataclass(frozen=True)
class Split:
    """A recorded train/test split of the merged labels (row positions)."""

    train_indices: np.ndarray
    test_indices: np.ndarray
    train_fraction: float
    shuffle: int


@dataclass
class TrainingSet:
    """Images and keypoints of one shuffle, ready for :class:`~posekit.engine.training.Trainer`.

    Attributes
    ----------
    images
        RGB ``uint8`` arrays (full frames): a sequence that reads them from disk
        when asked for and keeps them in memory up to a budget
        (:class:`~posekit.engine._image_cache.ImageList`).
    keypoints
        ``(n_images, n_bodyparts, 2)`` pixel coordinates, NaN where not labelled.
    paths
        ``labeled-data/<video>/<image>`` for each image.
    bodyparts
        Names in config order.
    train_indices, test_indices
        Positions into the arrays.
    not_visible
        ``(n_images, n_bodyparts)`` bool: points marked "not visible" in the
        labeller (and empty in the labels); ``None``: not read.
    """

    images: Sequence[np.ndarray]
    keypoints: np.ndarray
    paths: list[str]
    bodyparts: list[str]
    train_indices: np.ndarray
    test_indices: np.ndarray
    train_fraction: float = 0.95
    shuffle: int = 1
    flip_pairs: list[tuple[str, str]] = field(default_factory=list)
    not_visible: np.ndarray | None = None

    def subset(self, which: str) -> tuple[Sequence[np.ndarray], np.ndarray]:
        """``("train" | "test")`` → (images, keypoints); images read lazily."""
        idx = self.train_indices if which == "train" else self.test_indices
        return _take(self.images, idx), self.keypoints[idx]

    def absent(self, which: str) -> np.ndarray | None:
        """``("train" | "test")`` → the :attr:`not_visible` rows of that subset.

        What :meth:`Trainer.fit <posekit.engine.training.Trainer.fit>` takes as
        ``absent``; ``None`` when the marks were not read.
        """
        if self.not_visible is None:
            return None
        idx = self.train_indices if which == "train" else self.test_indices
        return self.not_visible[idx]


def _take(images: Sequence[np.ndarray], idx: Sequence[int]) -> Sequence[np.ndarray]:
    """``images[idx]``: a lazy view of an ``ImageList``, else a list."""
    from ._image_cache import ImageList

    if isinstance(images, ImageList):
        return images.take(idx)
    return [images[i] for i in idx]


def _pct(fraction: float) -> int:
    return int(round(100 * float(fraction)))


def merge_labels(project: Project) -> pd.DataFrame:
    """Merge every ``labeled-data/*/CollectedData_<scorer>.h5`` in config bodypart order.

    Rows get DLC ≥ 2.2's 3-level index; frames with no label at all are dropped.

    Raises
    ------
    LabelError
        If there are no labels, or a file's bodyparts do not match the config.
    """
    if not any(project.has_labels(stem) for stem in project.labeled_videos()):
        _refuse_other_scorers(project)  # QA s25 #7: theirs, not "label some frames"
    if project.multianimal:  # four column levels (posekit.engine.multianimal)
        from .multianimal.dataset import merge_multianimal_labels

        return merge_multianimal_labels(project)
    frames = []
    for stem in project.labeled_videos():
        if not project.has_labels(stem):
            continue
        h5 = project.labels_path(stem)
        # the .h5 (else the .csv); a .csv that disagrees with it is warned about
        df = read_label_file(h5).frame
        rows = index_to_paths(df.index)
        disk = on_disk_frames(project, rows)  # macOS names (NFD) vs rows (NFC)
        if disk != rows:
            df.index = pd.Index(disk)
        validate_labels(df, project.bodyparts, project_path=project.path)
        df = df.reindex(
            columns=pd.MultiIndex.from_product(
                [[project.scorer], project.bodyparts, ["x", "y"]],
                names=["scorer", "bodyparts", "coords"],
            )
        )
        df.index = pd.MultiIndex.from_tuples(
            [tuple(p.split("/")) for p in index_to_paths(df.index)]
        )
        frames.append(df)
    if not frames:
        raise LabelError(
            f"No labels found in {project.path / 'labeled-data'}: label some frames first "
            "(the labelling app, or posekit's label files CollectedData_"
            f"{project.scorer}.h5)."
        )
    merged = pd.concat(frames).sort_index()
    merged = merged[merged.notna().any(axis=1)]
    return merged


def _refuse_other_scorers(project: Project) -> None:
    """Raise, naming them, when only label files of other scorers exist.

    Raises
    ------
    LabelError
        If a ``labeled-data/<video>/`` holds ``CollectedData_*`` of a scorer other
        than config.yaml's (and none of config.yaml's scorer exists).
    """
    from .label_check import other_scorer_advice, other_scorer_labels

    others = other_scorer_labels(project)
    if others:
        raise LabelError(
            f"No labels of the scorer {project.scorer!r} (config.yaml) in "
            f"{project.path / 'labeled-data'}: no labeled-data/<video>/CollectedData_"
            f"{project.scorer}.h5. {other_scorer_advice(project, others)}"
        )


def _warn_other_scorers(project: Project, merged: pd.DataFrame) -> None:
    """Warn about the label files of other scorers the training set leaves out.

    As DeepLabCut, only ``CollectedData_<scorer>`` of config.yaml's scorer counts;
    the frames labelled only in another scorer's file are named.
    """
    from .label_check import other_scorer_advice, other_scorer_labels

    others = other_scorer_labels(project)
    if not others:
        return
    used = set(index_to_paths(merged.index))
    left: dict[str, None] = {}
    for other in others:
        left.update(dict.fromkeys(f for f in other.frames or () if f not in used))
    names = [f.split("/", 1)[-1] for f in left]  # <video>/<image>
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if names[5:] else "")
    frames = (
        f" {len(left)} frame(s) labelled only there are left out of the training "
        f"set: {shown}."
        if left
        else ""
    )
    logger.warning("%s%s", other_scorer_advice(project, others), frames)


def make_split(
    n: int, train_fraction: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``n`` rows: ``round(train_fraction * n)`` train rows."""
    if not 0 < train_fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1]; received {train_fraction}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_train = int(round(train_fraction * n))
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _doc_path(project: Project, fraction: float, shuffle: int) -> Path:
    return (
        project.training_set_dir()
        / f"Documentation_data-{project.task}_{_pct(fraction)}shuffle{shuffle}.pickle"
    )


def _dataset_path(project: Project, fraction: float, shuffle: int) -> Path:
    """DeepLabCut's ``.mat`` dataset of a split, beside its Documentation pickle."""
    return (
        project.training_set_dir()
        / f"{project.task}_{project.scorer}{_pct(fraction)}shuffle{shuffle}.mat"
    )


def _index_lists(value: Sequence[Sequence[int]] | Sequence[int]) -> list[list[int]]:
    """DeepLabCut's ``trainIndices``: one list per shuffle (a flat list: one split)."""
    lists = list(value)
    if lists and all(isinstance(v, (int, np.integer)) for v in lists):
        lists = [lists]
    return [[int(i) for i in one] for one in lists]


def _require_frames(project: Project, merged: pd.DataFrame) -> None:
    """Refuse to record a split of no frames (it could never be trained)."""
    if len(merged) == 0:
        raise LabelError(
            f"no labelled frames in {project.path / 'labeled-data'}; label frames "
            "first (every label file holds only empty points), then create the "
            "training set again."
        )


def _merged_paths(path: Path) -> list[str] | None:
    """Images of the merged labels already on disk (``None``: absent or unreadable)."""
    if not path.is_file():
        return None
    try:
        return index_to_paths(pd.read_hdf(path).index)
    except Exception as err:  # noqa: BLE001 - any unreadable file: cannot map
        logger.warning("could not read the previous merged labels %s: %s", path, err)
        return None


def _keep_split(
    project: Project,
    merged: pd.DataFrame,
    paths: list[str],
    old_paths: list[str] | None,
    fraction: float,
    shuffle: int,
) -> Split | None:
    """Keep a recorded split, mapped by image onto the new merged labels.

    The Documentation pickle holds row positions into the merged labels it was made
    with (``old_paths``). Its test images stay test images, its training images stay
    training images, images no longer labelled are dropped and images labelled since
    go to the training set; the record is rewritten when the rows moved. ``None``: the
    recorded split has no frames and is drawn again.
    """
    doc = _doc_path(project, fraction, shuffle)
    split = load_split(project, shuffle=shuffle, train_fraction=fraction)
    if len(split.train_indices) + len(split.test_indices) == 0:
        logger.info("replacing the empty split %s", doc.name)
        return None
    rows = old_paths if old_paths is not None else paths
    beyond = [int(i) for i in (*split.train_indices, *split.test_indices)]
    beyond = [i for i in beyond if not 0 <= i < len(rows)]
    if beyond:
        raise LabelError(
            f"{doc} names rows {beyond[:5]} beyond the {len(rows)} frames of the "
            f"merged labels: delete {doc} and run `posekit create-training-dataset "
            f"{shlex.quote(str(project.path))}` again (a new split)."
        )
    if old_paths is None or old_paths == paths:
        logger.info("keeping the existing split %s", doc.name)
        return split
    row = {p: i for i, p in enumerate(paths)}
    test = sorted({row[p] for p in (rows[i] for i in split.test_indices) if p in row})
    train = {row[p] for p in (rows[i] for i in split.train_indices) if p in row}
    added = set(range(len(paths))) - train - set(test)
    dropped = len(split.train_indices) + len(split.test_indices) - len(train)
    dropped -= len(test)
    logger.warning(
        "keeping the existing split %s by image: %d frame(s) no longer labelled "
        "dropped, %d frame(s) labelled since added to the training set "
        "(%d train, %d test)",
        doc.name,
        dropped,
        len(added),
        len(train | added),
        len(test),
    )
    train_rows = np.asarray(sorted(train | added), dtype=int)
    test_rows = np.asarray(test, dtype=int)
    _write_documentation(
        project, merged, paths, train_rows, test_rows, fraction, shuffle
    )
    return Split(train_rows, test_rows, split.train_fraction, shuffle)


def _check_split_rows(
    project: Project, split: Split, n_rows: int, merged_path: Path
) -> None:
    """Refuse a recorded split naming rows the merged labels do not have."""
    rows = np.concatenate([split.train_indices, split.test_indices]).astype(int)
    beyond = rows[(rows < 0) | (rows >= n_rows)]
    if beyond.size:
        doc = _doc_path(project, split.train_fraction, split.shuffle)
        raise LabelError(
            f"the split {doc} names rows {beyond[:5].tolist()} but {merged_path} has "
            f"{n_rows} frames (the labels changed after the split was made): run "
            "`posekit create-training-dataset "
            f"{shlex.quote(str(project.path))}` (it maps the split onto the new "
            f"labels), or delete {doc} for a new split."
        )


@dlc_keywords(
    num_shuffles=renamed("shuffles", lambda n: tuple(range(1, int(n) + 1))),
    Shuffles=renamed("shuffles", tuple),
    net_type=renamed("net_type"),
    trainIndices=renamed("train_indices", _index_lists),
    testIndices=renamed("test_indices", _index_lists),
    weight_init=refused(
        "weight_init={value!r}: DeepLabCut's transfer-learning weights (SuperAnimal "
        "models, a WeightInitialization) cannot be loaded by posekit; leave "
        "weight_init out: the network starts from ImageNet weights where they are "
        "available (posekit train --help), or from a posekit snapshot with "
        "train_network(init_from=...).",
        unless=lambda v: v is None,
    ),
    detector_type=ignored(
        "DeepLabCut 3's detector of top-down models: posekit's networks find the "
        "keypoints in the whole frame (bottom-up), with no detector"
    ),
    ctd_conditions=ignored(
        "DeepLabCut 3's conditional top-down models: posekit's networks find the "
        "keypoints in the whole frame"
    ),
)
def create_training_dataset(
    project: Project | str | os.PathLike,
    *,
    shuffles: Sequence[int] = (1,),
    train_fraction: float | None = None,
    seed: int | None = None,
    test_frames: Sequence[str] | None = None,
    train_indices: Sequence[Sequence[int]] | None = None,
    test_indices: Sequence[Sequence[int]] | None = None,
    net_type: str | None = None,
) -> list[Split]:
    """Merge labels and write one recorded split per shuffle (DLC layout).

    As DeepLabCut does, it also writes each shuffle's
    ``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train/pose_cfg.yaml``
    and ``test/pose_cfg.yaml`` (DeepLabCut's template with the project's joints and
    paths; for a multi-animal project also what DeepLabCut's
    ``create_multianimaltraining_dataset`` writes, with the part-affinity graph
    chosen by DeepLabCut's rule, and ``test/inference_cfg.yaml``, DeepLabCut's
    assembly and tracking settings, which the analysis reads), to edit before the
    first training: a value left at DeepLabCut's default leaves the choice to
    posekit's training, which rewrites the file with the values it used.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    shuffles
        Shuffle numbers to create.
    train_fraction
        Fraction of labelled frames for training (default: every fraction of the
        config's ``TrainingFraction``, as DeepLabCut makes them; shuffle ``k`` of
        each uses the same seed, so a smaller fraction's training frames are part of
        a larger one's). The verbs train the fraction in use
        (``TrainingFraction[0]``, or ``trainingsetindex``), so a fraction that is not
        is warned about.
    seed
        Base random seed; shuffle ``k`` uses ``seed + k`` (default ``k``).
    test_frames
        Explicit test images (``labeled-data/<video>/<image>`` or image names):
        a fixed, recorded split instead of a random one. Without ``train_fraction``
        it is named by its own fraction, ``round(len(train) / (len(train) +
        len(test)), 2)``, as DeepLabCut names a split of given rows (240 train and
        60 test frames: ``…80shuffle1``), and that fraction is put first in
        ``config.yaml``'s ``TrainingFraction`` (with a warning) so the verbs train
        it; a project that already has splits or models of the configured fraction
        records it under that one, so they still resolve.
    train_indices, test_indices
        DeepLabCut's ``trainIndices``/``testIndices``: one list of rows of the
        merged labels per shuffle of ``shuffles`` (as :func:`mergeandsplit`
        returns them; ``-1``, DeepLabCut's padding, is left out). Each split's
        fraction is ``round(len(train) / (len(train) + len(test)), 2)`` as in
        DeepLabCut.
    net_type
        DeepLabCut's ``net_type``: the network (backbone) of these shuffles, e.g.
        ``"resnet_50"``, recorded in each shuffle's ``pose_cfg.yaml`` (``net_type``,
        as DeepLabCut writes it, and posekit's ``shuffle_net_type``), so that
        :func:`~posekit.engine.api.train_network` trains it there, as it trains
        ``config.yaml``'s ``default_net_type`` elsewhere (a backbone without
        ImageNet weights here is replaced by one that has them, with a notice;
        ``backbone=`` still chooses). ``None``: ``default_net_type`` (a network
        recorded before is kept). A shuffle that holds snapshots keeps its trained
        network when it resumes; the one recorded trains when it starts over.

    Returns
    -------
    list of Split
        The splits. One already on disk is kept: mapped by image onto the new
        merged labels when they changed (its test images stay test images, images
        no longer labelled are dropped, images labelled since go to training); an
        empty one is drawn again.

    Raises
    ------
    ValueError
        If ``train_indices`` and ``test_indices`` do not give one split per
        shuffle, or name rows the merged labels do not have.
    LabelError
        If no frame is labelled.
    """
    project = as_project(project)
    note_config_engine(project)  # DeepLabCut 3's engine: pytorch
    return _create_training_dataset(
        project,
        shuffles=shuffles,
        train_fraction=train_fraction,
        seed=seed,
        test_frames=test_frames,
        train_indices=train_indices,
        test_indices=test_indices,
        net_type=net_type,
    )


def _create_training_dataset(
    project: Project,
    *,
    shuffles: Sequence[int],
    train_fraction: float | None,
    seed: int | None,
    test_frames: Sequence[str] | None,
    train_indices: Sequence[Sequence[int]] | None,
    test_indices: Sequence[Sequence[int]] | None,
    net_type: str | None,
    multianimal: Mapping[str, Any] | None = None,
) -> list[Split]:
    """:func:`create_training_dataset`, with a multi-animal shuffle's settings.

    ``multianimal``: what DeepLabCut's ``create_multianimaltraining_dataset`` takes
    for its ``pose_cfg.yaml`` (:func:`.multianimal.dataset.dlc_multianimal_keys`:
    ``paf_graph``, ``crop_size``, ``n_edges_threshold``, ``paf_graph_degree``).
    """
    splits = _create_splits(
        project,
        shuffles,
        train_fraction,
        seed,
        test_frames,
        train_indices,
        test_indices,
    )
    for split in splits:
        keys = given = None
        if project.multianimal:
            from .multianimal.dataset import dlc_multianimal_keys

            keys, given = dlc_multianimal_keys(project, split, **(multianimal or {}))
        _write_pose_cfgs(
            project, split.shuffle, split.train_fraction, net_type, keys, given
        )
        if project.multianimal:  # DeepLabCut's test/inference_cfg.yaml
            from .multianimal._inference_cfg import write_inference_cfg

            write_inference_cfg(
                project.model_dir(split.shuffle, split.train_fraction),
                len(project.multianimal_bodyparts),
                len(project.individuals),
            )
    if net_type is not None:
        for split in splits:
            _record_net_type(project, split.shuffle, split.train_fraction, net_type)
    return splits


#: The first lines of the ``train/pose_cfg.yaml`` create_training_dataset writes.
_POSE_CFG_HEADER = """\
# DeepLabCut's training settings of this shuffle, written by posekit's
# create_training_dataset. A value left at DeepLabCut's default leaves the choice to
# posekit, which chooses from the project when training starts; a value you change
# is yours ("pose_cfg.yaml: <key> <value> (your value)" in the log of
# posekit -v train, and of posekit.engine.show_log() in Python). net_type chooses the
# network, as in DeepLabCut.
# Training rewrites this file with the values it used and keeps the keys you set.
"""


def _write_pose_cfgs(
    project: Project,
    shuffle: int,
    train_fraction: float,
    net_type: str | None,
    multianimal: Mapping[str, Any] | None = None,
    given: Mapping[str, Any] | None = None,
) -> None:
    """Write a shuffle's ``train/`` and ``test/pose_cfg.yaml`` as DeepLabCut does.

    A DeepLabCut user edits ``train/pose_cfg.yaml`` before the first training;
    DeepLabCut trains from it. One that posekit's training wrote is kept; another
    keeps every key but the project's (:func:`._dlc_pose_cfg.new_train_cfg`).
    ``net_type`` (given to create_training_dataset) replaces the file's; so do the
    multi-animal keys in ``given``. ``multianimal``: a multi-animal shuffle's keys.
    """
    import yaml

    from . import _dlc_pose_cfg
    from ._fileio import atomic_write_text

    model = project.model_dir(shuffle, train_fraction)
    train = model / "train" / "pose_cfg.yaml"
    try:
        existing = yaml.safe_load(train.read_text()) if train.is_file() else None
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(
            f"{train} cannot be read ({err}). Fix the file, or delete it: "
            "create_training_dataset then writes DeepLabCut's defaults there."
        ) from err
    doc = _doc_path(project, train_fraction, shuffle)
    dataset = _dataset_path(project, train_fraction, shuffle)
    if multianimal is not None:  # DeepLabCut's multi-animal training reads the pickle
        dataset = dataset.with_suffix(".pickle")
    cfg = _dlc_pose_cfg.new_train_cfg(
        existing if isinstance(existing, dict) else None,
        dataset=dataset.relative_to(project.path).as_posix(),
        metadataset=doc.relative_to(project.path).as_posix(),
        bodyparts=list(project.bodyparts),
        project_path=str(project.path),
        net_type=str(project.get("default_net_type") or "resnet_50"),
        multianimal=multianimal,
        given=given,
    )
    if cfg is not None and net_type is not None:
        cfg["net_type"] = net_type
    if cfg is not None:
        train.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            train, _POSE_CFG_HEADER + yaml.safe_dump(cfg, sort_keys=False)
        )
    test = model / "test" / "pose_cfg.yaml"
    if cfg is not None or not test.is_file():
        source = cfg if cfg is not None else existing
        test.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            test,
            yaml.safe_dump(
                _dlc_pose_cfg.test_cfg(
                    source or {}, multianimal=multianimal is not None
                ),
                sort_keys=False,
            ),
        )


def _has_header(path: Path) -> bool:
    """Whether ``path`` starts with :data:`_POSE_CFG_HEADER` (kept when rewritten)."""
    try:
        return path.read_text().startswith(_POSE_CFG_HEADER)
    except OSError:
        return False


def _create_splits(
    project: Project,
    shuffles: Sequence[int],
    train_fraction: float | None,
    seed: int | None,
    test_frames: Sequence[str] | None,
    train_indices: Sequence[Sequence[int]] | None,
    test_indices: Sequence[Sequence[int]] | None,
) -> list[Split]:
    """Make (or keep) the splits of :func:`create_training_dataset`."""
    if train_indices is not None or test_indices is not None:
        return _create_given_splits(
            project, list(shuffles), train_indices or [], test_indices or []
        )
    fractions = (
        [float(train_fraction)] if train_fraction else project.training_fractions
    )
    if not np.isclose(fractions[0], project.training_fractions[0]):
        _warn_unused_fraction(project, fractions[0])
    merged, paths, old_paths = _write_merged(project)
    fixed = None
    if test_frames is not None:
        fixed = _fixed_split(paths, test_frames)
        if not train_fraction:  # named by its own fraction, as DeepLabCut does
            fractions = [_fixed_fraction(project, *fixed)]
    splits = []
    for fraction, k in ((f, k) for f in fractions for k in shuffles):
        doc = _doc_path(project, fraction, k)
        if doc.exists() and (
            kept := _keep_split(project, merged, paths, old_paths, fraction, k)
        ):
            splits.append(kept)
            continue
        if fixed is not None:
            train, test = fixed
        else:
            train, test = make_split(len(paths), fraction, seed=(seed or 0) + k)
        _write_documentation(project, merged, paths, train, test, fraction, k)
        splits.append(Split(train, test, fraction, k))
    return splits


#: posekit's ``pose_cfg.yaml`` key for the network ``create_training_dataset``
#: recorded for a shuffle (``net_type`` names the network trained, once trained).
_SHUFFLE_NET_TYPE = "shuffle_net_type"


def _record_net_type(
    project: Project, shuffle: int, train_fraction: float, net_type: str
) -> Path:
    """Record DeepLabCut's ``net_type`` for a shuffle in its ``pose_cfg.yaml``.

    Parameters
    ----------
    project
        The project.
    shuffle, train_fraction
        The shuffle's model folder (``…-trainset<pct>shuffle<k>/train``).
    net_type
        The network to train there (a backbone name, DeepLabCut's or posekit's).

    Returns
    -------
    Path
        The ``pose_cfg.yaml`` written (its other keys are kept).
    """
    import yaml

    from ._fileio import atomic_write_text
    from .models.pretrained import choose_backbone

    if not isinstance(net_type, str) or not net_type.strip():
        raise TypeError(
            f"net_type={net_type!r}: give a network name, e.g. 'resnet_50' or "
            "'efficientnet_lite0', or leave net_type out (config.yaml's "
            "default_net_type)."
        )
    folder = project.model_dir(shuffle, train_fraction) / "train"
    path = folder / "pose_cfg.yaml"
    cfg = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    cfg[_SHUFFLE_NET_TYPE] = net_type
    trained = any(folder.glob("snapshot-*.keras"))
    if not trained:  # DeepLabCut's key; once trained, it names the network trained
        cfg["net_type"] = net_type
    folder.mkdir(parents=True, exist_ok=True)
    header = _POSE_CFG_HEADER if _has_header(path) else ""
    atomic_write_text(path, header + yaml.safe_dump(cfg, sort_keys=False))
    choice = choose_backbone(net_type, source=f"net_type of shuffle {shuffle}")
    when = (
        " when it starts over (resume=False): the shuffle's snapshots keep their "
        "network when it resumes"
        if trained
        else ""
    )
    logger.info(
        "create_training_dataset: net_type=%r recorded for shuffle %d in %s; %s%s",
        net_type,
        shuffle,
        path,
        "train_network trains it"
        if choice.backbone == net_type
        else f"train_network does not train it as it stands: {choice.notice}",
        when if choice.backbone == net_type else "",
    )
    return path


def _fixed_split(
    paths: Sequence[str], test_frames: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the merged labels: the given test images and the rest for training."""
    wanted = {str(t).replace("\\", "/") for t in test_frames}
    test = np.array(
        [i for i, p in enumerate(paths) if p in wanted or p.split("/")[-1] in wanted],
        dtype=int,
    )
    if len(test) != len(wanted):
        raise LabelError(
            f"{len(wanted) - len(test)} requested test frames are not labelled"
        )
    return np.setdiff1d(np.arange(len(paths)), test), test


def _fraction_used(project: Project, fraction: float) -> bool:
    """Whether a split or model of ``fraction`` exists (any shuffle or iteration)."""
    pct = _pct(fraction)
    docs = project.path.glob(
        f"training-datasets/iteration-*/*/Documentation_data-{project.task}_"
        f"{pct}shuffle*.pickle"
    )
    models = project.path.glob(f"dlc-models*/iteration-*/*-trainset{pct}shuffle*")
    return next(docs, None) is not None or next(models, None) is not None


def _fixed_fraction(project: Project, train: np.ndarray, test: np.ndarray) -> float:
    """Return the fraction a fixed test split is recorded as (its name's ``<pct>``).

    DeepLabCut names a split given by its rows (``trainIndices``/``testIndices``)
    after its own fraction, ``round(len(train) / (len(train) + len(test)), 2)``;
    so does posekit, and since the verbs train ``TrainingFraction[0]`` that fraction
    is put first in ``config.yaml``. A project that already has splits or models of
    the configured fraction (the next iteration of a refined project keeps its
    test frames) keeps that fraction, so its shuffles and model folders still
    resolve; a message says what the split holds.
    """
    configured = project.training_fractions[0]
    n = len(train) + len(test)
    if not n or not len(test):
        return configured
    own = round(len(train) / n, 2)
    if np.isclose(own, configured):
        return configured
    if _fraction_used(project, configured):
        logger.info(
            "the fixed split trains on %d of %d frames (%g) and is recorded as "
            "TrainingFraction %g, the one this project's splits and models use",
            len(train),
            n,
            own,
            configured,
        )
        return configured
    listed = [f for f in project.listed_training_fractions if not np.isclose(f, own)]
    project.set("TrainingFraction", [own, *listed])
    project.save(keys=["TrainingFraction"])
    logger.warning(
        "The fixed split trains on %d of %d frames: it is recorded as TrainingFraction "
        "%g (…%dshuffle<k>, as DeepLabCut names a split of given frames), and "
        "config.yaml's TrainingFraction is now %s, so training, evaluation and "
        "analysis use it",
        len(train),
        n,
        own,
        _pct(own),
        [own, *listed],
    )
    return own


def _write_merged(project: Project) -> tuple[pd.DataFrame, list[str], list[str] | None]:
    """Merge the labels into ``training-datasets/``; refuse a project with none.

    Returns the merged labels, their image paths, and the image paths of the merged
    file it replaced (``None`` when there was none): the rows existing splits
    refer to.
    """
    merged = merge_labels(project)
    _warn_other_scorers(project, merged)
    _require_frames(project, merged)
    out_dir = project.training_set_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged_path = out_dir / f"CollectedData_{project.scorer}.h5"
    old_paths = _merged_paths(merged_path)
    write_labels(merged, merged_path)
    paths = index_to_paths(merged.index)
    if not project.multianimal:
        _warn_empty_points(project, labels_to_array(merged, project.bodyparts), paths)
    return merged, paths, old_paths


def not_visible_marks(project: Project, paths: Sequence[str]) -> np.ndarray:
    """Return the "not visible" marks of labelled frames as ``(n, n_bodyparts)`` bool.

    Parameters
    ----------
    project
        A single-animal project.
    paths
        ``labeled-data/<video>/<image>`` of each frame.

    Returns
    -------
    numpy.ndarray
        True where the labeller marked the bodypart not visible on the frame
        (:func:`~posekit.engine.labels.read_visibility`).

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> from posekit.engine.labels import update_visibility
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> frame = "labeled-data/session1/img00.png"
    >>> _ = update_visibility(project, "session1", not_visible_add=[(frame, "snout")])
    >>> not_visible_marks(project, [frame]).nonzero()
    (array([0]), array([0]))
    """
    from .labels import read_visibility

    bodyparts = list(project.bodyparts)
    col = {b: j for j, b in enumerate(bodyparts)}
    row = {p: i for i, p in enumerate(paths)}
    out = np.zeros((len(paths), len(bodyparts)), bool)
    for stem in dict.fromkeys(p.split("/")[1] for p in paths if p.count("/") >= 2):
        for frame, bp in read_visibility(project, stem)["not_visible"]:
            if frame in row and bp in col:
                out[row[frame], col[bp]] = True
    return out


def _warn_empty_points(
    project: Project,
    keypoints: np.ndarray,
    paths: Sequence[str],
    not_visible: np.ndarray | None = None,
) -> None:
    """Warn about points left empty in labelled frames and not marked not visible.

    They are trained as absent (DeepLabCut's rule): right for hidden parts, wrong for
    parts the labeller has not placed yet. Nothing is dropped. Creating a training
    set warns (:func:`create_training_dataset`), and so does training on one it
    reuses (:func:`~posekit.engine.api.train_network`), with the marks the training
    set read (``not_visible``, :attr:`TrainingSet.not_visible`; ``None``: read
    them here).
    """
    empty = ~np.isfinite(keypoints).all(axis=-1)
    if not empty.any():
        return
    bodyparts = list(project.bodyparts)
    never = empty.all(axis=0)  # added to config.yaml after labelling, most likely
    if never.any():
        logger.warning(
            "bodypart(s) %s have no label in any of the %d labelled frames: training "
            "would learn that they are never there. Label them (posekit label %s), "
            "or remove them from config.yaml's bodyparts.",
            [b for j, b in enumerate(bodyparts) if never[j]],
            len(paths),
            shlex.quote(str(project.path)),
        )
    if not_visible is None:
        not_visible = not_visible_marks(project, paths)
    unmarked = empty & ~not_visible & ~never
    rows = np.flatnonzero(unmarked.any(axis=1))
    if not len(rows):
        return
    examples = "; ".join(
        f"{paths[i]}: "
        + ", ".join(b for j, b in enumerate(bodyparts) if unmarked[i, j])
        for i in rows[:3]
    )
    logger.warning(
        "%d of %d labelled frames have points left empty and not marked not visible "
        "(e.g. %s%s). Training learns them as absent there, as DeepLabCut does "
        "(its default and posekit's, weigh_only_present_joints: false in the "
        "model's pose_cfg.yaml): right for hidden parts, "
        "but a visible part not placed yet would teach the network to miss it. "
        "Place those (posekit label %s opens on the frames with work left) and mark "
        "hidden ones not visible (v in the Label app; for labels made in "
        "DeepLabCut, posekit label --missing-not-visible).",
        len(rows),
        len(paths),
        examples,
        "; …" if len(rows) > 3 else "",
        shlex.quote(str(project.path)),
    )


def _create_given_splits(
    project: Project,
    shuffles: list[int],
    train_indices: Sequence[Sequence[int]],
    test_indices: Sequence[Sequence[int]],
) -> list[Split]:
    """Write the splits DeepLabCut's ``trainIndices``/``testIndices`` give."""
    if not len(train_indices) == len(test_indices) == len(shuffles):
        raise ValueError(
            f"trainIndices/testIndices give {len(train_indices)} and "
            f"{len(test_indices)} splits for {len(shuffles)} shuffle(s) {shuffles}: "
            "give one list of each per shuffle (Shuffles=[...])."
        )
    merged, paths, old_paths = _write_merged(project)
    splits = []
    for k, train_in, test_in in zip(shuffles, train_indices, test_indices, strict=True):
        fraction = round(len(train_in) / (len(train_in) + len(test_in)), 2)
        train = np.asarray([i for i in train_in if i != -1], dtype=int)
        test = np.asarray([i for i in test_in if i != -1], dtype=int)
        bad = [int(i) for i in (*train, *test) if not 0 <= i < len(paths)]
        if bad:
            raise ValueError(
                f"shuffle {k}: rows {bad} are not in the merged labels ({len(paths)} "
                "labelled frames); take the indices from mergeandsplit(config)."
            )
        doc = _doc_path(project, fraction, k)
        if doc.exists() and (
            kept := _keep_split(project, merged, paths, old_paths, fraction, k)
        ):
            splits.append(kept)
            continue
        if not np.isclose(fraction, project.training_fractions[0]):
            _warn_unused_fraction(project, fraction)
        _write_documentation(project, merged, paths, train, test, fraction, k)
        splits.append(Split(train, test, fraction, k))
    return splits


def mergeandsplit(
    config: Project | str | os.PathLike,
    trainindex: int = 0,
    uniform: bool = True,
    *,
    seed: int | None = None,
) -> tuple[list[int], list[int]]:
    """Merge the labels and draw a split, without writing one (DeepLabCut's).

    The rows index the merged labels of the training-set folder (written here if
    absent, as DeepLabCut does); pass them to
    ``create_training_dataset(config, Shuffles=[k], trainIndices=[train],
    testIndices=[test])`` to freeze a split, or to several shuffles to train them on
    the same frames.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    trainindex
        ``uniform=True``: which ``TrainingFraction`` (an index into the config's
        list). ``uniform=False``: which video of ``video_sets`` (an index) is left
        out of training; its frames are the test set.
    uniform
        A random split of all frames (``True``) or leave one video out.
    seed
        Seed of the random split (default: unseeded, as DeepLabCut's).

    Returns
    -------
    tuple of list of int
        ``(trainIndices, testIndices)``.

    Raises
    ------
    IndexError
        If ``trainindex`` is beyond the config's ``TrainingFraction`` (or
        ``video_sets``).

    Examples
    --------
    >>> import tempfile
    >>> import posekit.engine as deeplabcut
    >>> project = deeplabcut.make_demo_project(tempfile.mkdtemp(), n_labeled=8)
    >>> train, test = deeplabcut.mergeandsplit(project, uniform=False)
    >>> len(train), len(test)
    (0, 8)
    """
    from .project import entry_name

    project = as_project(config)
    out_dir = project.training_set_dir()
    merged_path = out_dir / f"CollectedData_{project.scorer}.h5"
    if merged_path.is_file():
        merged = read_labels(merged_path)
    else:
        merged = merge_labels(project)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_labels(merged, merged_path)
    paths = index_to_paths(merged.index)
    if uniform:
        fractions = project.listed_training_fractions
        if not 0 <= trainindex < len(fractions):
            raise IndexError(
                f"trainindex={trainindex}: config.yaml's TrainingFraction has "
                f"{len(fractions)} value(s) {fractions}; give an index into it."
            )
        seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
        train, test = make_split(len(paths), fractions[trainindex], seed=seed)
        return _pad_indices(train.tolist(), test.tolist(), fractions[trainindex])
    stems = [Path(entry_name(v)).stem for v in project.video_sets]
    if not 0 <= trainindex < len(stems):
        raise IndexError(
            f"trainindex={trainindex}: config.yaml's video_sets lists {len(stems)} "
            "video(s); give the index of the one to leave out."
        )
    left_out = stems[trainindex]
    logger.info("leaving out the frames of %s (the test set)", left_out)
    in_video = [p.split("/")[-2] == left_out for p in paths]
    train = [i for i, inside in enumerate(in_video) if not inside]
    test = [i for i, inside in enumerate(in_video) if inside]
    return train, test


def _pad_indices(
    train: list[int], test: list[int], fraction: float
) -> tuple[list[int], list[int]]:
    """Pad a split with ``-1`` so its lengths give ``fraction`` exactly (DeepLabCut's).

    DeepLabCut's ``mergeandsplit`` pads this way
    (``trainingsetmanipulation.pad_train_test_indices``), so that
    ``create_training_dataset``, which takes the fraction from the lengths, names
    the split by the configured fraction; it leaves the ``-1`` out.

    Examples
    --------
    >>> _pad_indices(list(range(10)), [10, 11], 0.8)[1]
    [10, 11, -1]
    """
    n_train, n_test = len(train), len(test)
    if n_train + n_test == 0 or n_train / (n_train + n_test) == fraction:
        return train, test
    pct = int(round(100 * fraction))
    length = 100 // math.gcd(100, pct)
    min_train = int(round(length * fraction))
    min_test = length - min_train
    mult = max(
        math.ceil(n_train / min_train) if min_train else 0,
        math.ceil(n_test / min_test) if min_test else 0,
    )
    return (
        train + [-1] * (mult * min_train - n_train),
        test + [-1] * (mult * min_test - n_test),
    )


def _warn_unused_fraction(project: Project, fraction: float) -> None:
    """Say how to train on a split of a fraction the verbs do not use now."""
    listed = project.listed_training_fractions
    match = [i for i, f in enumerate(listed) if np.isclose(f, fraction)]
    how = (
        f"pass trainingsetindex={match[0]} to train_network, evaluate_network, "
        "analyze_videos, …"
        if match
        else f"add {fraction:g} to config.yaml's TrainingFraction and pass its "
        "index as trainingsetindex (or put it first)"
    )
    logger.warning(
        "This split keeps %g of the frames for training, but training, evaluation "
        "and analysis use TrainingFraction %g: to train on this split, %s",
        fraction,
        project.training_fractions[0],
        how,
    )


def _dlc_joints(xy: np.ndarray, size: tuple[int, int, int]) -> np.ndarray:
    """One image's labels as DeepLabCut's ``format_training_data`` stores them.

    An int ``ndarray`` of ``[bodypart, x, y]`` rows: unlabelled bodyparts left out,
    the coordinates truncated to integers, and the points not strictly inside the
    image (``0 < x < width``, ``0 < y < height``) dropped. Only DeepLabCut reads
    them; posekit trains on the merged labels, which keep sub-pixel precision.
    """
    joints = np.c_[np.arange(len(xy)), xy]
    joints = joints[~np.isnan(joints).any(axis=1)].astype(int)
    inside = (
        (joints[:, 1] > 0)
        & (joints[:, 1] < size[2])
        & (joints[:, 2] > 0)
        & (joints[:, 2] < size[1])
    )
    return joints[inside]


def _write_documentation(
    project: Project,
    merged: pd.DataFrame,
    paths: list[str],
    train: np.ndarray,
    test: np.ndarray,
    fraction: float,
    shuffle: int,
) -> None:
    """Write DeepLabCut's record of a split: the Documentation pickle and the dataset.

    Single animal: ``data`` holds one entry per training image with labels, whose
    ``joints`` are DeepLabCut's int array (:func:`_dlc_joints`); the dataset is the
    ``.mat``. Several animals: ``joints`` maps each animal's index to its rows, and
    the dataset is also written as the ``.pickle`` DeepLabCut's multi-animal
    training reads (the same ``data``).
    """
    from scipy.io import savemat

    data = []
    images: list[str] = []  # the image of each entry of data
    if project.multianimal:
        from .multianimal.dataset import documentation_entries

        data = documentation_entries(project, merged, paths, train)
        images = [paths[i] for i in train]
    coords = labels_to_array(merged, project.bodyparts)
    for i in train if not project.multianimal else ():
        img = cv2.imread(str(project.path / paths[i]))
        size = (3, img.shape[0], img.shape[1]) if img is not None else (3, 0, 0)
        joints = _dlc_joints(coords[i], size)
        if joints.size:  # DeepLabCut leaves out the images without labels
            data.append(
                {
                    "image": tuple(paths[i].split("/")),
                    "size": np.array(size),
                    "joints": joints,
                }
            )
            images.append(paths[i])
    doc = _doc_path(project, fraction, shuffle)
    with atomic_path(doc) as tmp, open(tmp, "wb") as fh:
        pickle.dump(
            [data, train.tolist(), test.tolist(), fraction], fh, pickle.HIGHEST_PROTOCOL
        )
    dataset = _dataset_path(project, fraction, shuffle)
    if project.multianimal:  # DeepLabCut's create_multianimaltraining_dataset
        with atomic_path(dataset.with_suffix(".pickle")) as tmp, open(tmp, "wb") as fh:
            pickle.dump(data, fh, pickle.HIGHEST_PROTOCOL)

    def int_joints(joints: np.ndarray | dict[int, np.ndarray]) -> np.ndarray:
        if isinstance(joints, dict):
            joints = np.concatenate([np.zeros((0, 3)), *joints.values()])
        return np.asarray(joints).astype(int)

    with atomic_path(dataset) as tmp:
        savemat(
            str(tmp),
            {
                "dataset": np.array(
                    [
                        (np.array(path, dtype="U"), d["size"], int_joints(d["joints"]))
                        for path, d in zip(images, data, strict=True)
                    ],
                    dtype=[("image", "O"), ("size", "O"), ("joints", "O")],
                )
            },
        )


def load_split(
    project: Project, *, shuffle: int = 1, train_fraction: float | None = None
) -> Split:
    """Read the recorded split of a shuffle (ours or DeepLabCut's).

    Raises
    ------
    FileNotFoundError
        If the shuffle was never created (say how to create it).
    """
    fraction = float(train_fraction or project.training_fractions[0])
    doc = _doc_path(project, fraction, shuffle)
    if not doc.exists():
        raise FileNotFoundError(
            f"No training set for shuffle {shuffle} ({doc.name}). Create it with "
            "posekit.engine.create_training_dataset(project) or "
            "`posekit create-training-dataset PROJECT`."
        )
    with open(doc, "rb") as fh:
        doc_data = _SafeDocUnpickler(fh).load()
    _, train, test, frac = doc_data
    return Split(np.asarray(train, int), np.asarray(test, int), float(frac), shuffle)


class _SafeDocUnpickler(pickle.Unpickler):
    """DLC's Documentation pickle holds numpy arrays and builtins only."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "tuple"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # array bytes in protocol < 3 pickles
    }

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing {module}.{name} in a training-set documentation pickle"
        )


def _mirror_name(name: str) -> list[str]:
    """Candidate names of the mirror partner of ``name``."""
    out = []
    for left, right in (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")):
        if name.startswith(left):
            out.append(right + name[len(left) :])
        if name.endswith(left):
            out.append(name[: -len(left)] + right)
    if re.search(r"(^|_)[lL]$", name):
        out.append(name[:-1] + ("R" if name[-1] == "L" else "r"))
    m = re.match(r"^(.*[a-z])L(\d*)$", name)  # wingL, forelegL4
    if m:
        out.append(f"{m.group(1)}R{m.group(2)}")
    return out


def symmetric_pairs(bodyparts: Sequence[str]) -> list[tuple[str, str]]:
    """Left/right bodypart pairs found by name (``leftear``/``rightear``, ``wingL``/``wingR``).

    Examples
    --------
    >>> symmetric_pairs(["snout", "leftear", "rightear", "tailbase"])
    [('leftear', 'rightear')]
    >>> symmetric_pairs(["wingL", "wingR", "forelegL4", "forelegR4"])
    [('wingL', 'wingR'), ('forelegL4', 'forelegR4')]
    """
    names = list(bodyparts)
    pairs = []
    for name in names:
        for partner in _mirror_name(name):
            if partner in names and partner != name:
                pairs.append((name, partner))
                break
    return pairs


def load_training_set(
    project: Project,
    *,
    shuffle: int = 1,
    train_fraction: float | None = None,
    cache_bytes: int | None = None,
) -> TrainingSet:
    """Load the merged labels and recorded split of a shuffle; images on demand.

    The images are decoded when first used and kept in memory up to
    ``cache_bytes`` (default :data:`~posekit.engine._image_cache.DEFAULT_CACHE_BYTES`,
    512 MB: a few hundred frames stay cached, as when they were all loaded at
    once); beyond it the least recently used are read from disk again. Memory no
    longer grows with the number of labelled frames.

    A multi-animal project gives a
    :class:`~posekit.engine.multianimal.dataset.MultiAnimalTrainingSet`.

    Raises
    ------
    LabelError
        A labelled image is missing (here) or does not decode (when it is read).
    """
    split = load_split(project, shuffle=shuffle, train_fraction=train_fraction)
    if project.multianimal:
        from .multianimal.dataset import load_multianimal_training_set

        return load_multianimal_training_set(project, split, cache_bytes=cache_bytes)
    h5 = project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    merged = read_labels(h5)
    unknown = [
        b
        for b in dict.fromkeys(merged.columns.get_level_values("bodyparts"))
        if b not in project.bodyparts
    ]
    if unknown:  # a renamed or misspelt bodyparts entry: not silently left out
        raise LabelError(
            f"bodyparts {unknown} are in the training set {h5.name} but not in "
            f"config.yaml (it lists {list(project.bodyparts)}). Put their names back "
            "in config.yaml's bodyparts, or, if the change is meant, create the "
            "training set again (create_training_dataset) and train a new network."
        )
    paths = index_to_paths(merged.index)
    _check_split_rows(project, split, len(paths), h5)
    keypoints = labels_to_array(merged, project.bodyparts)
    # the labeller's marks (read now: a mark added since the set was made counts)
    not_visible = not_visible_marks(project, paths) & ~np.isfinite(keypoints).all(-1)
    from ._image_cache import ImageList

    images = ImageList(
        [project.path / p for p in paths], cache_bytes=cache_bytes, error=LabelError
    )
    return TrainingSet(
        images=images,
        keypoints=keypoints,
        paths=paths,
        bodyparts=project.bodyparts,
        train_indices=split.train_indices,
        test_indices=split.test_indices,
        train_fraction=split.train_fraction,
        shuffle=shuffle,
        flip_pairs=symmetric_pairs(project.bodyparts),
        not_visible=not_visible,
    )
