"""Training sets: merge the project's labels, split into shuffles, record the split.

Files follow DeepLabCut (``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/``):
the merged ``CollectedData_<scorer>.h5``/``.csv``, ``Documentation_data-<Task>_<pct>shuffle<k>.pickle``
(``[data, trainIndices, testIndices, trainFraction]``) and the legacy ``.mat``. A split
that already exists on disk (written by DeepLabCut or by us) is read, never redrawn, so a
DLC project keeps its split.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path
from .dlc_names import dlc_keywords, elsewhere, renamed
from .io.dlc import (
    LabelError,
    index_to_paths,
    labels_to_array,
    read_labels,
    validate_labels,
    write_labels,
)
from .labels import read_label_file
from .project import Project, as_project

__all__ = [
    "TrainingSet",
    "Split",
    "merge_labels",
    "make_split",
    "create_training_dataset",
    "load_split",
    "load_training_set",
    "symmetric_pairs",
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
        RGB ``uint8`` arrays (full frames).
    keypoints
        ``(n_images, n_bodyparts, 2)`` pixel coordinates, NaN where not labelled.
    paths
        ``labeled-data/<video>/<image>`` for each image.
    bodyparts
        Names in config order.
    train_indices, test_indices
        Positions into the arrays.
    """

    images: list[np.ndarray]
    keypoints: np.ndarray
    paths: list[str]
    bodyparts: list[str]
    train_indices: np.ndarray
    test_indices: np.ndarray
    train_fraction: float = 0.95
    shuffle: int = 1
    flip_pairs: list[tuple[str, str]] = field(default_factory=list)

    def subset(self, which: str) -> tuple[list[np.ndarray], np.ndarray]:
        """``("train" | "test")`` → (images, keypoints)."""
        idx = self.train_indices if which == "train" else self.test_indices
        return [self.images[i] for i in idx], self.keypoints[idx]


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


@dlc_keywords(
    num_shuffles=renamed("shuffles", lambda n: tuple(range(1, int(n) + 1))),
    Shuffles=renamed("shuffles", tuple),
    net_type=elsewhere(
        "net_type={value!r}: posekit chooses the network when it trains, "
        "train_network(config, backbone={value!r}) (or default_net_type in "
        "config.yaml)"
    ),
)
def create_training_dataset(
    project: Project | str | os.PathLike,
    *,
    shuffles: Sequence[int] = (1,),
    train_fraction: float | None = None,
    seed: int | None = None,
    test_frames: Sequence[str] | None = None,
) -> list[Split]:
    """Merge labels and write one recorded split per shuffle (DLC layout).

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
        a fixed, recorded split instead of a random one.

    Returns
    -------
    list of Split
        The splits (existing ones on disk are kept and returned as they are).
    """
    project = as_project(project)
    fractions = (
        [float(train_fraction)] if train_fraction else project.training_fractions
    )
    if not np.isclose(fractions[0], project.training_fractions[0]):
        _warn_unused_fraction(project, fractions[0])
    merged = merge_labels(project)
    out_dir = project.training_set_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_labels(merged, out_dir / f"CollectedData_{project.scorer}.h5")
    paths = index_to_paths(merged.index)
    splits = []
    for fraction, k in ((f, k) for f in fractions for k in shuffles):
        doc = _doc_path(project, fraction, k)
        if doc.exists():
            logger.info("keeping the existing split %s", doc.name)
            splits.append(load_split(project, shuffle=k, train_fraction=fraction))
            continue
        if test_frames is not None:
            wanted = {str(t).replace("\\", "/") for t in test_frames}
            test = np.array(
                [
                    i
                    for i, p in enumerate(paths)
                    if p in wanted or p.split("/")[-1] in wanted
                ],
                dtype=int,
            )
            if len(test) != len(wanted):
                raise LabelError(
                    f"{len(wanted) - len(test)} requested test frames are not labelled"
                )
            train = np.setdiff1d(np.arange(len(paths)), test)
        else:
            train, test = make_split(len(paths), fraction, seed=(seed or 0) + k)
        _write_documentation(project, merged, paths, train, test, fraction, k)
        splits.append(Split(train, test, fraction, k))
    return splits


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


def _write_documentation(
    project: Project,
    merged: pd.DataFrame,
    paths: list[str],
    train: np.ndarray,
    test: np.ndarray,
    fraction: float,
    shuffle: int,
) -> None:
    from scipy.io import savemat

    data = []
    if project.multianimal:
        from .multianimal.dataset import documentation_entries

        data = documentation_entries(project, merged, paths, train)
    coords = labels_to_array(merged, project.bodyparts)
    for i in train if not project.multianimal else ():
        img = cv2.imread(str(project.path / paths[i]))
        size = (3, img.shape[0], img.shape[1]) if img is not None else (3, 0, 0)
        joints = [
            [j, coords[i, j, 0], coords[i, j, 1]]
            for j in range(len(project.bodyparts))
            if np.all(np.isfinite(coords[i, j]))
            and 0 <= coords[i, j, 0] < size[2]
            and 0 <= coords[i, j, 1] < size[1]
        ]
        data.append(
            {
                "image": tuple(paths[i].split("/")),
                "size": np.array(size),
                "joints": {0: np.array(joints, dtype=float).reshape(-1, 3)},
            }
        )
    doc = _doc_path(project, fraction, shuffle)
    with atomic_path(doc) as tmp, open(tmp, "wb") as fh:
        pickle.dump(
            [data, train.tolist(), test.tolist(), fraction], fh, pickle.HIGHEST_PROTOCOL
        )
    mat = (
        doc.parent
        / f"{project.task}_{project.scorer}{_pct(fraction)}shuffle{shuffle}.mat"
    )
    with atomic_path(mat) as tmp:
        savemat(
            str(tmp),
            {
                "dataset": np.array(
                    [
                        (
                            np.array(paths[i], dtype="U"),
                            d["size"],
                            np.concatenate(
                                [np.zeros((0, 3)), *d["joints"].values()]
                            ).astype(int),
                        )
                        for i, d in zip(train, data, strict=True)
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
    project: Project, *, shuffle: int = 1, train_fraction: float | None = None
) -> TrainingSet:
    """Load the merged labels, images and recorded split of a shuffle into memory.

    A multi-animal project gives a
    :class:`~posekit.engine.multianimal.dataset.MultiAnimalTrainingSet`.
    """
    split = load_split(project, shuffle=shuffle, train_fraction=train_fraction)
    if project.multianimal:
        from .multianimal.dataset import load_multianimal_training_set

        return load_multianimal_training_set(project, split)
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
    keypoints = labels_to_array(merged, project.bodyparts)
    images = []
    for p in paths:
        img = cv2.imread(str(project.path / p), cv2.IMREAD_COLOR)
        if img is None:
            raise LabelError(
                f"labelled image {project.path / p} is missing or unreadable"
            )
        images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
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
    )
