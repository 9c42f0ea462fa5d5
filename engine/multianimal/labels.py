"""Labels of several animals per frame: the label store with four column levels.

:class:`MultiAnimalLabelStore` is :class:`posekit.engine.labels.LabelStore` (every
edit saved at once and atomically, undo/redo, three-way merge with another writer,
conflicts backed up) for a multi-animal project: its "bodyparts" are the points of a
frame, one per individual and bodypart, named ``"<individual>/<bodypart>"``
(:func:`slot_name`; unique bodyparts under ``single``), in the column order of
DeepLabCut's ``CollectedData_<scorer>.h5`` (``scorer/individuals/bodyparts/coords``).
``LabelStore(project, video)`` gives one for a multi-animal project.

Beyond single points, two edits that labelling several animals needs, each one
undoable edit: :meth:`~MultiAnimalLabelStore.copy_individual` (an animal's points from
another frame, e.g. the previous one) and :meth:`~MultiAnimalLabelStore.swap_individuals`
(two animals' labels exchanged on a frame).

Examples
--------
>>> import tempfile
>>> from posekit.engine.demo import make_demo_project
>>> project = make_demo_project(tempfile.mkdtemp(), n_animals=2, n_frames=20,
...                             n_labeled=2)
>>> store = LabelStore(project, "session1")
>>> type(store).__name__, store.bodyparts[:2]
('MultiAnimalLabelStore', ['mouse1/snout', 'mouse1/leftear'])
>>> _ = store.swap_individuals(store.frames[0], "mouse1", "mouse2")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import logger
from ..io.dlc import LabelError, index_to_paths, paths_to_index, write_labels
from ..labels import (
    LabelStore,
    PointChange,
    _DiskState,
    _frame_paths,
    _one_scorer,
    on_disk_frames,
)
from .layout import SINGLE, MultiAnimalLayout, frame_to_arrays, multianimal_frame

__all__ = [
    "SLOT_SEPARATOR",
    "slot_name",
    "split_slot",
    "slot_points",
    "MultiAnimalLabelStore",
]

#: Label files already said to name their animals otherwise than the config.
_TOLD_DISAGREE: set[Path] = set()

#: Separates the individual from the bodypart in a point's name.
SLOT_SEPARATOR = "/"


def slot_name(individual: str, bodypart: str) -> str:
    """Return the name of an individual's bodypart as a point of the label store.

    Examples
    --------
    >>> slot_name("mouse1", "snout")
    'mouse1/snout'
    """
    return f"{individual}{SLOT_SEPARATOR}{bodypart}"


def split_slot(name: str) -> tuple[str, str]:
    """Inverse of :func:`slot_name`.

    Raises
    ------
    ValueError
        If ``name`` has no separator.

    Examples
    --------
    >>> split_slot("single/lever")
    ('single', 'lever')
    """
    individual, sep, bodypart = str(name).partition(SLOT_SEPARATOR)
    if not sep:
        raise ValueError(f"{name!r} is not '<individual>{SLOT_SEPARATOR}<bodypart>'")
    return individual, bodypart


def slot_points(project, df: pd.DataFrame) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read a four-level label table as the label store's points.

    Parameters
    ----------
    project
        The multi-animal project (its layout; the file's other animals are added).
    df
        Labels with columns ``scorer/individuals/bodyparts/coords``.

    Returns
    -------
    names : list of str
        ``"<individual>/<bodypart>"`` of each point.
    points : dict
        Frame path → ``(n_points, 2)``.

    Raises
    ------
    ValueError
        If the table is not four-level or names unknown bodyparts.
    """
    multi, unique, layout = frame_to_arrays(df, MultiAnimalLayout.from_config(project))
    flat = layout.flatten(multi, unique)
    names = [slot_name(i, b) for i, b in layout.slots]
    return names, dict(zip(index_to_paths(df.index), flat, strict=True))


class MultiAnimalLabelStore(LabelStore):
    """Labels of a multi-animal project's frames (see the module docstring).

    Parameters
    ----------
    project
        A multi-animal :class:`~posekit.engine.project.Project`.
    video, autosave, max_undo
        As for :class:`~posekit.engine.labels.LabelStore`.

    Attributes
    ----------
    layout
        Individuals and bodyparts (a label file's other individuals are added).
    bodyparts
        The points of a frame, ``"<individual>/<bodypart>"`` in column order.

    Raises
    ------
    LabelError
        The config lists no individuals or bodyparts, the label file cannot be read,
        or it labels bodyparts the config does not list.
    """

    def __init__(
        self,
        project,
        video: str | os.PathLike,
        *,
        autosave: bool = True,
        max_undo: int = 1000,
    ) -> None:
        try:
            self.layout = MultiAnimalLayout.from_config(project)
        except ValueError as err:
            raise LabelError(f"{project.config_path}: {err}") from err
        super().__init__(project, video, autosave=autosave, max_undo=max_undo)
        self.bodyparts = [slot_name(i, b) for i, b in self.layout.slots]

    # ------------------------------------------------------------------ columns
    @property
    def individuals(self) -> list[str]:
        """The animals (``single`` last when there are unique bodyparts)."""
        out = list(self.layout.individuals)
        return out + [SINGLE] if self.layout.n_unique else out

    def slots_of(self, individual: str) -> list[str]:
        """Return the point names of one individual, in bodypart order."""
        return [slot_name(i, b) for i, b in self.layout.slots if i == str(individual)]

    def _frame(self, frames: Mapping[str, np.ndarray], scorer: str) -> pd.DataFrame:
        names = sorted(frames)
        flat = (
            np.stack([frames[f] for f in names])
            if names
            else np.zeros((0, self.layout.n_slots, 2))
        )
        multi, unique = self.layout.unflatten(flat)
        return multianimal_frame(
            self.layout,
            scorer,
            paths_to_index(names, multiindex=self._multiindex_rows),
            multi,
            unique,
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Return the labels as DLC writes them (four column levels, rows sorted)."""
        return self._frame(self._data, self.scorer)

    def _backup(self, theirs, scorer: str) -> Path:
        import datetime as _dt

        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = self.folder / ".posekit" / "conflicts" / f"{self.path.stem}-{stamp}.h5"
        write_labels(self._frame(theirs, scorer), path)
        return path

    def _read_disk(self) -> _DiskState | None:
        path = self._label_file()
        if path is None:
            return None
        df = self._open_label_file(path)
        if "individuals" not in df.columns.names:
            raise LabelError(
                f"{path} is a single-animal label file (no 'individuals' level) but "
                f"{self.project.config_path} is a multi-animal project."
            )
        scorer = _one_scorer(df, path)
        paths = on_disk_frames(self.project, _frame_paths(df, path))  # (NFD/NFC)
        self.layout = self._file_animals(df, path)
        try:
            multi, unique, layout = frame_to_arrays(df, self.layout)
        except ValueError as err:
            raise LabelError(
                f"{path}: {err}. posekit does not open it, so those labels are not "
                "lost: add them to config.yaml or remove their columns."
            ) from err
        self.layout = layout  # a file's other individuals are kept
        flat = layout.flatten(multi, unique)
        frames = {p: flat[i].copy() for i, p in enumerate(paths)}
        return _DiskState(frames, scorer, isinstance(df.index, pd.MultiIndex))

    def _bp_index(self, bodypart: str) -> int:
        try:
            return self.bodyparts.index(bodypart)
        except ValueError:
            pass
        individual, sep, part = str(bodypart).partition(SLOT_SEPARATOR)
        part = part if sep else individual
        owners = [i for i, b in self.layout.slots if b == part]
        example = slot_name(owners[0], part) if owners else self.bodyparts[0]
        raise LabelError(
            f"{bodypart!r} is not a point of this project: with several animals, "
            f"name a point '<individual>{SLOT_SEPARATOR}<bodypart>', e.g. "
            f"{example!r} (individuals {self.individuals}; bodyparts "
            f"{[*self.layout.multi_bodyparts, *self.layout.unique_bodyparts]}, the "
            f"unique ones under {SINGLE!r})"
        ) from None

    def _file_animals(self, df: pd.DataFrame, path: Path) -> MultiAnimalLayout:
        """Return the layout to read ``df`` with: the file's animals if not the config's.

        A file whose animals are all named otherwise than config.yaml's
        ``individuals`` keeps its own animals: saving adds no empty columns for the
        config's (the file would grow an animal per config name, and the labeller
        would offer animals the frames do not have). Said once per file in the log.
        Files that share an animal with the config get the config's others too.
        """
        layout = self.layout
        animals = [
            str(i)
            for i in dict.fromkeys(df.columns.get_level_values("individuals"))
            if i != SINGLE
        ]
        if not animals or set(animals) & set(layout.individuals):
            return layout
        if path not in _TOLD_DISAGREE:
            _TOLD_DISAGREE.add(path)
            logger.warning(
                "%s names its animals %s, config.yaml's individuals are %s: posekit "
                "keeps the file's animals (no columns are added for the config's). "
                "To label under the config's names, rename the animals in one of "
                "them so that they agree.",
                path,
                animals,
                list(layout.individuals),
            )
        return MultiAnimalLayout(
            tuple(animals), layout.multi_bodyparts, layout.unique_bodyparts
        )

    # ------------------------------------------------------------------ edits
    def copy_individual(
        self, source: str | int, target: str | int, individual: str
    ) -> list[PointChange]:
        """Copy one animal's points from frame ``source`` to frame ``target``.

        Parameters
        ----------
        source, target
            Frames (path, image name or position).
        individual
            The animal; its points missing on ``source`` are left as they are on
            ``target``.

        Returns
        -------
        list of PointChange
            One undoable edit (empty: nothing changed).

        Raises
        ------
        LabelError
            ``individual`` is not an individual of the project.
        """
        slots = self._slots(individual)
        src = self.get(source)
        idx = [self._bp_index(s) for s in slots]
        points = {
            s: (float(src[j, 0]), float(src[j, 1]))
            for s, j in zip(slots, idx, strict=True)
            if np.isfinite(src[j]).all()
        }
        return self.apply(target, points)

    def swap_individuals(
        self, frame: str | int, first: str, second: str
    ) -> list[PointChange]:
        """Exchange two animals' labels on one frame (one undoable edit).

        Raises
        ------
        LabelError
            If either is not an individual, or one is ``single``.
        """
        if SINGLE in (first, second):
            raise LabelError(f"{SINGLE!r} holds unique bodyparts: it cannot be swapped")
        a, b = self._slots(first), self._slots(second)
        arr = self.get(frame)
        points = {}
        for sa, sb in zip(a, b, strict=True):
            ja, jb = self._bp_index(sa), self._bp_index(sb)
            points[sa] = (float(arr[jb, 0]), float(arr[jb, 1]))
            points[sb] = (float(arr[ja, 0]), float(arr[ja, 1]))
        return self.apply(frame, points)

    def _slots(self, individual: str) -> list[str]:
        slots = self.slots_of(individual)
        if not slots:
            raise LabelError(
                f"{individual!r} is not an individual of this project "
                f"(config.yaml lists {list(self.layout.individuals)})"
            )
        return slots
