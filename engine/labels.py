"""Human labels of one video's frames: edit, undo, and save so that no click is lost.

A :class:`LabelStore` holds the labels of ``labeled-data/<video>/`` in memory and keeps
DeepLabCut's ``CollectedData_<scorer>.h5`` (+ ``.csv``) on disk in step with them:

- every edit is saved at once, atomically (:func:`posekit.engine.io.dlc.write_labels`),
  so killing the process at any moment loses at most the edit being made;
- opening keeps everything already on disk (frames whose image is gone included),
  re-orders bodyparts to config order, and refuses, with a clear error, a file that
  labels bodyparts the config does not list (saving it would drop them);
- two writers on the same file (two browser tabs, two kernels, DLC's GUI) cannot
  overwrite each other silently. The store remembers a digest of the file as it last
  read or wrote it; before each save, and on :meth:`LabelStore.sync`, a changed
  file is merged three ways (base = the file as we last saw it, ours = memory,
  theirs = the file now): points only they changed are taken, points only we changed
  are kept, and a point both changed keeps our (newer) value while the other writer's
  whole file is copied to ``labeled-data/<video>/.posekit/conflicts/`` so no click of
  either side is lost. Frames they removed stay removed (unless we changed them
  since), and points of ours that they changed back (DLC's GUI writes its whole
  table) are said, with a copy of our version. Every merge is reported in a
  :class:`SyncReport` (listeners are called, e.g. to warn in the labelling widget).
  posekit writers also hold the folder's label lock (:func:`_folder_lock`: a POSIX
  record lock on ``.posekit/labels.lock``, which network drives pass on) for the
  read-merge-write, and a store opens (reads and digests the file) under it.

The ``.h5`` is the label file (as for DeepLabCut); its ``.csv`` twin is compared with
it on reading (:func:`read_label_file`): when they disagree (a ``.csv`` edited by hand,
one of the two copied from elsewhere), a warning says how and that the ``.h5`` was
used, and before the first save overwrites the ``.csv`` a copy of it goes to
``labeled-data/<video>/.posekit/conflicts/``.

Multi-animal projects get the same store with one point per individual and bodypart
(:mod:`posekit.engine.multianimal.labels`).

Examples
--------
>>> import tempfile
>>> from posekit.engine.demo import make_demo_project
>>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=3)
>>> store = LabelStore(project, "session1")
>>> frame = store.frames[0]
>>> _ = store.set_point(frame, "snout", 10.5, 20.25)
>>> read_labels(store.path).loc[tuple(frame.split("/")), ("posekit", "snout", "x")]
np.float64(10.5)
>>> _ = store.undo()  # back to the value from the demo, saved again
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import logger
from ._fileio import remove_stale_temps
from .io.dlc import (
    LabelError,
    index_to_paths,
    make_labels_frame,
    read_labels,
    write_labels,
)
from .project import video_folder_name

try:  # POSIX record locks (msvcrt's on Windows): _folder_lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "IMAGE_SUFFIXES",
    "LabelError",
    "PointChange",
    "Conflict",
    "SyncReport",
    "LabelStore",
    "LabelFile",
    "merge_labels",
    "list_frames",
    "on_disk_frames",
    "read_label_file",
    "VISIBILITY_FILE",
    "visibility_path",
    "read_visibility",
    "update_visibility",
    "labelling_progress",
    "empty_points",
    "mark_missing_not_visible",
    "never_labelled",
]

#: The "not visible" marks (and dismissed machine labels) of a video's frames, beside
#: its labels: ``labeled-data/<video>/.posekit/visibility.json``. DeepLabCut's files
#: keep NaN for those points.
VISIBILITY_FILE = ".posekit/visibility.json"

#: Image files the labeller lists in ``labeled-data/<video>/``.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

Frames = dict[str, np.ndarray]  # frame path -> (n_bodyparts, 2) float64, NaN = missing


@dataclass(frozen=True)
class PointChange:
    """One bodypart of one frame changed from ``old`` to ``new`` (``(x, y)``, NaN = none)."""

    frame: str
    bodypart: str
    old: tuple[float, float]
    new: tuple[float, float]


@dataclass(frozen=True)
class Conflict:
    """Both writers changed the same point: ``ours`` was kept, ``theirs`` backed up."""

    frame: str
    bodypart: str
    ours: tuple[float, float]
    theirs: tuple[float, float]


@dataclass(frozen=True)
class SyncReport:
    """What a save or sync did.

    Attributes
    ----------
    saved
        The label file was written.
    external
        The file had been changed on disk by another writer since we last read or
        wrote it (its changes were merged).
    merged
        ``(frame, bodypart)`` points taken from the other writer.
    conflicts
        Points both sides changed (ours kept; theirs in ``backup``).
    backup
        Copy of the other writer's file when there were conflicts.
    deleted
        Frames the other writer removed from the file (DeepLabCut's
        ``dropunlabeledframes``, its GUI): they stay removed.
    kept_deleted
        Frames the other writer removed but we had changed since: ours were kept.
    reverted
        ``(frame, bodypart)`` points this store had written that the other writer
        changed back (a program that writes its whole table, such as DeepLabCut's
        GUI, puts back what it had read): theirs were taken.
    reverted_backup
        Copy of our labels as they were before those points were changed back.
    error
        Why the save failed (the edit stays in memory and is retried on the next
        save); empty when it did not.
    """

    saved: bool = False
    external: bool = False
    merged: tuple[tuple[str, str], ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    backup: Path | None = None
    deleted: tuple[str, ...] = ()
    kept_deleted: tuple[str, ...] = ()
    reverted: tuple[tuple[str, str], ...] = ()
    reverted_backup: Path | None = None
    error: str = ""

    @property
    def message(self) -> str:
        """A sentence for the user (empty when nothing noteworthy happened)."""
        parts = []
        if self.external:
            mine = set(self.reverted)
            others = [m for m in self.merged if m not in mine]
            parts.append(
                "The label file was changed by another labeller (another tab or "
                f"program); merged {len(others)} of its point(s)"
                + (f" on {_shown(f for f, _ in others)}" if others else "")
                + "."
                if others or not (self.deleted or self.kept_deleted or mine)
                else "The label file was changed by another labeller (another tab "
                "or program)."
            )
        if self.deleted:
            parts.append(
                f"It removed {len(self.deleted)} frame(s) from the file "
                f"({_shown(self.deleted)}); they stay removed."
            )
        if self.kept_deleted:
            parts.append(
                f"It removed {len(self.kept_deleted)} frame(s) whose points you had "
                f"changed since ({_shown(self.kept_deleted)}); your labels of them "
                "were kept."
            )
        if self.reverted:
            parts.append(
                f"{len(self.reverted)} of your point(s) were changed back by the "
                f"other program (on {_shown(f for f, _ in self.reverted)}): it wrote "
                "its own copy of the labels over yours, as DeepLabCut's GUI does when "
                f"it saves. Your version was saved to {self.reverted_backup}; place "
                "those points again if yours were right."
            )
        if self.conflicts:
            parts.append(
                f"{len(self.conflicts)} point(s) were changed on both sides; yours were "
                f"kept and the other version was saved to {self.backup}."
            )
        if self.error:
            parts.append(f"Not saved: {self.error}")
        return " ".join(parts)


def _shown(frames: Iterable[str]) -> str:
    """Name up to four frames by their image (``img000.png, img015.png …``)."""
    names = sorted({f.rsplit("/", 1)[-1] for f in frames})
    return ", ".join(names[:4]) + (" …" if len(names) > 4 else "")


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality that treats NaN == NaN; reduces the last axis (x, y)."""
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=-1)


def merge_labels(
    base: Mapping[str, np.ndarray],
    ours: Mapping[str, np.ndarray],
    theirs: Mapping[str, np.ndarray],
    bodyparts: Sequence[str],
) -> tuple[Frames, list[tuple[str, str]], list[Conflict]]:
    """Three-way merge of labels, point by point.

    Parameters
    ----------
    base
        Labels as both writers last agreed (the file as we last read or wrote it).
    ours, theirs
        The two edited versions. Each maps a frame path to an
        ``(n_bodyparts, 2)`` array in ``bodyparts`` order (NaN = not labelled).
    bodyparts
        Bodypart names (the arrays' row order).

    Returns
    -------
    merged : dict
        Frame path → array. A frame that ``base`` has and ``theirs`` has not was
        deleted by the other writer (DeepLabCut's ``dropunlabeledframes``, its GUI):
        it stays deleted, unless ``ours`` changed a point of it since ``base`` (then
        ours is kept). The deleted frames are those of ``base`` in neither
        ``theirs`` nor ``merged``; the kept ones are in ``merged`` and not in
        ``theirs``. A frame ``base`` never had is kept from whichever side has it.
    taken : list of (frame, bodypart)
        Points whose value came from ``theirs``.
    conflicts : list of Conflict
        Points both changed to different values (``ours`` kept).

    Examples
    --------
    >>> nan = np.nan
    >>> base = {"f": np.array([[1.0, 1.0], [nan, nan]])}
    >>> ours = {"f": np.array([[5.0, 5.0], [nan, nan]])}
    >>> theirs = {"f": np.array([[1.0, 1.0], [7.0, 7.0]])}
    >>> merged, taken, conflicts = merge_labels(base, ours, theirs, ["a", "b"])
    >>> merged["f"].tolist(), taken, conflicts
    ([[5.0, 5.0], [7.0, 7.0]], [('f', 'b')], [])
    >>> sorted(merge_labels(base, base, {}, ["a", "b"])[0])  # they deleted 'f'
    []
    """
    k = len(bodyparts)
    empty = np.full((k, 2), np.nan)
    merged: Frames = {}
    taken: list[tuple[str, str]] = []
    conflicts: list[Conflict] = []
    for frame in sorted(set(base) | set(ours) | set(theirs)):
        b = np.asarray(base.get(frame, empty), float)
        o = np.asarray(ours.get(frame, b), float)
        ours_same = _same(o, b)
        if frame in base and frame not in theirs:  # they deleted the row
            if not ours_same.all():
                merged[frame] = o.copy()  # we changed it since: ours is kept
            continue
        t = np.asarray(theirs.get(frame, b), float)
        out = o.copy()
        theirs_same = _same(t, b)
        agree = _same(o, t)
        for j in range(k):
            if ours_same[j] and not theirs_same[j]:
                out[j] = t[j]
                taken.append((frame, bodyparts[j]))
            elif not ours_same[j] and not theirs_same[j] and not agree[j]:
                conflicts.append(
                    Conflict(
                        frame,
                        bodyparts[j],
                        (float(o[j, 0]), float(o[j, 1])),
                        (float(t[j, 0]), float(t[j, 1])),
                    )
                )
        merged[frame] = out
    return merged, taken, conflicts


@dataclass(frozen=True)
class LabelFile:
    """A label file as read by :func:`read_label_file`.

    Attributes
    ----------
    frame
        The labels (DeepLabCut's columns ``scorer/bodyparts/coords``).
    path
        The file the labels come from: the ``.h5``, or the ``.csv`` when there is no
        (readable) ``.h5``.
    note
        Why the other twin was not used, when both exist and disagree or one cannot
        be read (also logged as a warning); ``""`` otherwise.
    """

    frame: pd.DataFrame
    path: Path
    note: str = ""


def read_label_file(path: str | os.PathLike) -> LabelFile:
    """Read ``CollectedData_<scorer>.h5`` (or its ``.csv`` twin) and check the twin.

    The ``.h5`` is used when it exists and reads, as DeepLabCut does; when the
    ``.csv`` beside it holds other labels, a warning names both files, says how they
    differ and which one was used. Twins that disagree are read again under the
    folder's lock (:func:`_folder_lock`, where the folder is writable), so a labeller
    saving between the two reads is not taken for a disagreement; a ``.csv`` older
    than the ``.h5`` is said to be stale (the next save rewrites it), not offered
    for conversion.

    Parameters
    ----------
    path
        The ``.h5`` or the ``.csv`` of a label file.

    Returns
    -------
    LabelFile
        The labels, the file used and the note.

    Raises
    ------
    FileNotFoundError
        Neither the ``.h5`` nor the ``.csv`` exists.
    LabelError
        The file used cannot be read.
    """
    path = Path(path)
    h5, csv = path.with_suffix(".h5"), path.with_suffix(".csv")
    label_file = _read_twins(h5, csv)
    if label_file.note:  # read again under the lock: a save between the two reads
        with _folder_lock(h5.parent, create=False):  # (re-entrant in a store's save)
            label_file = _read_twins(h5, csv)
    if label_file.note:
        if label_file.path == h5:
            _warn_disagreement(h5, csv, label_file.note)
        else:
            logger.warning("%s", label_file.note)
    return label_file


def _read_twins(h5: Path, csv: Path) -> LabelFile:
    """Read the ``.h5`` (or the ``.csv``) and compare the twins; nothing is logged."""
    if not h5.is_file():
        if csv.is_file():
            return LabelFile(read_labels(csv), csv)
        raise FileNotFoundError(f"No label file {h5} (nor {csv.name})")
    try:
        df = read_labels(h5)
    except LabelError:
        if not csv.is_file():
            raise
        note = f"{h5} is unreadable; its .csv twin {csv.name} was used instead."
        return LabelFile(read_labels(csv), csv, note)
    if not csv.is_file():
        return LabelFile(df, h5)
    try:
        differences = _label_differences(df, read_labels(csv))
    except LabelError as err:
        differences = [f"the .csv cannot be read ({err})"]
    if not differences:
        return LabelFile(df, h5)
    said = f"{csv} disagrees with {h5.name}: {'; '.join(differences)}."
    if _mtime(csv) < _mtime(h5):  # a save stopped between the two files
        note = (
            f"{said} The .csv is older than {h5.name}: a stale copy (a save stopped "
            "between writing the two files, or a program that wrote only the .h5). "
            f"The labels of {h5.name} are used, as DeepLabCut does, and the next save "
            "of labels in posekit rewrites the .csv from them (a copy of the old .csv "
            "is kept in .posekit/conflicts/)."
        )
    else:
        newer = " (the .csv is the newer file)" if _mtime(csv) > _mtime(h5) else ""
        note = (
            f"{said} The labels of {h5.name} are used, as DeepLabCut does{newer}. If "
            "the .csv holds the labels you want, convert it first (when nobody "
            "labels this video): posekit.engine.io.dlc.convert_csv_to_h5 "
            "(DeepLabCut's convertcsv2h5); saving labels in posekit rewrites the .csv "
            "from the .h5 (a copy of the old .csv is kept in .posekit/conflicts/)."
        )
    return LabelFile(df, h5, note)


#: The label files whose ``.csv`` disagreement was said in this process: the
#: ``.h5``, with both files' times (a file saved again is a new state, said again).
_WARNED_DISAGREEMENTS: set[tuple[str, float, float]] = set()


def _warn_disagreement(h5: Path, csv: Path, note: str) -> None:
    """Log ``note`` once per label file (and state) per process.

    One command reads a label file several times (progress, frame lists, the
    training set): the warning was printed 3-5 times.
    """
    key = (os.path.abspath(h5), _mtime(h5), _mtime(csv))
    if key in _WARNED_DISAGREEMENTS:
        logger.debug("%s", note)
        return
    _WARNED_DISAGREEMENTS.add(key)
    logger.warning("%s", note)


def _one_scorer(df: pd.DataFrame, path: str | os.PathLike) -> str:
    """Return the scorer of a label table, checked to be the only one.

    Parameters
    ----------
    df
        Labels with DeepLabCut's columns (a ``scorer`` level).
    path
        The file they come from (named in the error).

    Returns
    -------
    str
        The scorer.

    Raises
    ------
    LabelError
        If the table has more than one scorer (or none).
    """
    scorers = list(dict.fromkeys(df.columns.get_level_values("scorer")))
    if len(scorers) != 1:
        raise LabelError(f"{path} mixes scorers {scorers}; expected one.")
    return scorers[0]


def _frame_paths(df: pd.DataFrame, path: str | os.PathLike) -> list[str]:
    """Return the frame paths of a label table's rows, checked to be unique.

    Parameters
    ----------
    df
        Labels (DeepLabCut's index: paths or their 3-level form).
    path
        The file they come from (named in the error).

    Returns
    -------
    list of str
        ``labeled-data/<video>/<image>`` per row.

    Raises
    ------
    LabelError
        If a frame is listed twice.
    """
    paths = index_to_paths(df.index)
    if len(set(paths)) != len(paths):
        dup = sorted({p for p in paths if paths.count(p) > 1})
        raise LabelError(
            f"{path} lists frames twice: {dup[:3]}; remove the duplicated rows."
        )
    return paths


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def _label_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Say how two label tables differ (frames, bodyparts, points); ``[]``: alike."""

    def table(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out.index = pd.Index(index_to_paths(df.index))
        out.columns = out.columns.droplevel("scorer")
        return out

    a, b = table(a), table(b)
    out = []
    only_a = [p for p in a.index if p not in set(b.index)]
    only_b = [p for p in b.index if p not in set(a.index)]

    def some(paths: list[str]) -> str:
        names = [p.rsplit("/", 1)[-1] for p in paths[:3]]
        return ", ".join(names) + (" …" if len(paths) > 3 else "")

    if only_a:
        out.append(f"{len(only_a)} frame(s) only in the .h5 ({some(only_a)})")
    if only_b:
        out.append(f"{len(only_b)} frame(s) only in the .csv ({some(only_b)})")
    cols_a, cols_b = set(a.columns), set(b.columns)
    if cols_a != cols_b:
        parts = sorted({str(c[-2]) for c in cols_a ^ cols_b})
        out.append(f"bodyparts {parts} are in only one of them")
    rows = [p for p in a.index if p in set(b.index)]
    cols = [c for c in a.columns if c in cols_b]
    if rows and cols and a.index.is_unique and b.index.is_unique:
        va = a.loc[rows, cols].to_numpy(float)
        vb = b.loc[rows, cols].to_numpy(float)
        same = np.isclose(va, vb, rtol=0, atol=1e-3) | (np.isnan(va) & np.isnan(vb))
        differ = [p for p, ok in zip(rows, same.all(axis=1), strict=True) if not ok]
        if differ:
            out.append(f"{len(differ)} frame(s) with other points ({some(differ)})")
    return out


def on_disk_frames(project, frames: Sequence[str]) -> list[str]:
    """Name label rows as their images are named on disk.

    A folder or image named on a Mac (NFD: ``u`` + combining diaeresis) and a label
    row or config that say ``ü`` (NFC) look the same but differ as strings. Each row
    whose image is not found as named, but is found under a name equal to it in NFC,
    is given the name on disk; other rows (ASCII ones, found ones, missing ones)
    stay as they are. Nothing on disk is renamed.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    frames
        Label rows, ``labeled-data/<video>/<image>``.

    Returns
    -------
    list of str
        The rows, in the same order.

    Examples
    --------
    >>> import tempfile, unicodedata
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> nfd = unicodedata.normalize("NFD", "Maus_ü")
    >>> (project.path / "labeled-data" / nfd).mkdir()
    >>> (project.path / "labeled-data" / nfd / "img0.png").touch()
    >>> on_disk_frames(project, ["labeled-data/Maus_ü/img0.png"]) == [
    ...     f"labeled-data/{nfd}/img0.png"
    ... ]
    True
    """
    import unicodedata

    out = []
    names: dict[str, dict[str, str]] = {}  # folder → {NFC image name: name}
    for frame in frames:
        parts = frame.split("/")
        if frame.isascii() or len(parts) != 3 or (project.path / frame).exists():
            out.append(frame)
            continue
        if parts[1] not in names:
            folder = project.labeled_data_dir(parts[1])
            names[parts[1]] = (
                {
                    unicodedata.normalize("NFC", f.name): f"{folder.name}/{f.name}"
                    for f in folder.iterdir()
                }
                if folder.is_dir()
                else {}
            )
        found = names[parts[1]].get(unicodedata.normalize("NFC", parts[2]))
        out.append(f"{parts[0]}/{found}" if found else frame)
    return out


def list_frames(project, video: str | os.PathLike) -> list[str]:
    """Image files in ``labeled-data/<video stem>/`` as ``labeled-data/<stem>/<name>``.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.

    Returns
    -------
    list of str
        Sorted relative paths (the row names of DLC label files).
    """
    folder = project.labeled_data_dir(video)
    if not folder.is_dir():
        return []
    return sorted(
        f"labeled-data/{folder.name}/{f.name}"
        for f in folder.iterdir()
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
    )


def visibility_path(project, video: str | os.PathLike) -> Path:
    """``labeled-data/<video>/.posekit/visibility.json`` (:data:`VISIBILITY_FILE`)."""
    return project.labeled_data_dir(video) / VISIBILITY_FILE


def read_visibility(
    project, video: str | os.PathLike
) -> dict[str, set[tuple[str, str]]]:
    """Read a video's "not visible" marks and dismissed machine labels.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.

    Returns
    -------
    dict
        ``{"not_visible": {(frame, bodypart), ...}, "dismissed": {...}}`` with frames
        as ``labeled-data/<video>/<image>``; empty sets when there is no file (an
        unreadable file is logged and read as empty).

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> frame = "labeled-data/session1/img00.png"
    >>> _ = update_visibility(project, "session1", not_visible_add=[(frame, "snout")])
    >>> read_visibility(project, "session1")["not_visible"]
    {('labeled-data/session1/img00.png', 'snout')}
    """
    import json

    stem = project.labeled_data_dir(video).name
    path = visibility_path(project, stem)
    out: dict[str, set[tuple[str, str]]] = {"not_visible": set(), "dismissed": set()}
    if not path.is_file():
        return out
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for key in out:
            for image, parts in (doc.get(key) or {}).items():
                out[key] |= {(f"labeled-data/{stem}/{image}", str(b)) for b in parts}
    except (OSError, ValueError, AttributeError, TypeError) as err:
        logger.warning("cannot read %s (%s): no point is marked not visible", path, err)
    return out


def update_visibility(
    project,
    video: str | os.PathLike,
    *,
    not_visible_add: Sequence[tuple[str, str]] = (),
    not_visible_remove: Sequence[tuple[str, str]] = (),
    dismissed_add: Sequence[tuple[str, str]] = (),
    dismissed_remove: Sequence[tuple[str, str]] = (),
) -> dict[str, set[tuple[str, str]]]:
    """Add and remove marks in a video's :data:`VISIBILITY_FILE`, merge-safe.

    The file is read, changed and written atomically under the label folder's lock,
    so two labellers marking points at once both keep their marks.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.
    not_visible_add, not_visible_remove
        ``(frame, bodypart)`` "not visible" marks to add and to remove.
    dismissed_add, dismissed_remove
        Machine labels the user deleted (not shown again) and ones to show again.

    Returns
    -------
    dict
        The marks now on disk (as :func:`read_visibility`).
    """
    import json

    from ._fileio import atomic_write_text

    stem = video_folder_name(video)
    path = visibility_path(project, stem)
    with _folder_lock(path.parent.parent):
        marks = read_visibility(project, stem)
        marks["not_visible"] |= set(not_visible_add)
        marks["not_visible"] -= set(not_visible_remove)
        marks["dismissed"] |= set(dismissed_add)
        marks["dismissed"] -= set(dismissed_remove)
        doc: dict[str, Any] = {"version": 1}
        for key, pairs in marks.items():
            by_image: dict[str, list[str]] = {}
            for frame, bp in sorted(pairs):
                by_image.setdefault(frame.rsplit("/", 1)[-1], []).append(bp)
            doc[key] = by_image
        remove_stale_temps(path, older_than=_STALE_LABEL_TEMP_SECONDS)
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return marks


def _known_bodyparts(df: pd.DataFrame, path: Path, project) -> list[str]:
    """Return a single-animal label table's bodyparts, checked against config.yaml.

    Raises
    ------
    LabelError
        If the file has bodyparts the config does not list (it is then not opened,
        so that those labels are not lost).
    """
    bodyparts = list(project.bodyparts)
    file_bps = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    unknown = [b for b in file_bps if b not in bodyparts]
    if unknown:
        raise LabelError(
            f"{path} has labels for bodyparts {unknown} that config.yaml does "
            f"not list (it lists {bodyparts}). posekit does not open it, so "
            "those labels are not lost: add the bodyparts to `bodyparts` in "
            f"{project.config_path}, or remove their columns from the label "
            "file."
        )
    return file_bps


def _video_points(project, stem: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read a video's labels as point names and ``frame path -> (n_points, 2)``.

    Names are the bodyparts, or ``"<individual>/<bodypart>"`` in a multi-animal
    project (the names the "not visible" marks use). No label file: no points.

    Raises
    ------
    LabelError
        If the label file exists but cannot be read, or lists bodyparts that
        config.yaml does not.
    """
    from .io.dlc import labels_to_array

    bodyparts = list(project.bodyparts)
    h5 = project.labels_path(stem)
    try:
        df = read_label_file(h5).frame
        if project.multianimal:  # one point per individual and bodypart
            from .multianimal.labels import slot_points

            return slot_points(project, df)
        _known_bodyparts(df, h5, project)
        arr = labels_to_array(df, bodyparts)
        paths = on_disk_frames(project, index_to_paths(df.index))
        return bodyparts, dict(zip(paths, arr, strict=True))
    except FileNotFoundError:
        return bodyparts, {}
    except LabelError:
        raise
    except (OSError, KeyError, ValueError) as err:
        raise LabelError(
            f"{h5} cannot be read as this project's labels: {err}"
        ) from err


def labelling_progress(project, video: str | os.PathLike) -> tuple[int, int]:
    """Count a video's frames done: every bodypart placed or marked not visible.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.

    Returns
    -------
    tuple of int
        ``(frames done, frames)``; frames are the images in ``labeled-data/<video>/``
        and the rows of its label file.

    Raises
    ------
    LabelError
        If the video's label file exists but cannot be read, or lists bodyparts that
        config.yaml does not (rather than counting its frames as not labelled).

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=3)
    >>> labelling_progress(project, "session1")
    (3, 3)
    """
    stem = video_folder_name(video)
    names, points = _video_points(project, stem)
    hidden = read_visibility(project, stem)["not_visible"]
    frames = set(list_frames(project, stem)) | set(points)
    done = 0
    for f in frames:
        arr = points.get(f)
        if arr is not None and all(
            np.isfinite(arr[j, 0]) or (f, bp) in hidden for j, bp in enumerate(names)
        ):
            done += 1
    return done, len(frames)


def never_labelled(project, videos: Sequence[str | os.PathLike]) -> list[str]:
    """List the points placed in no labelled frame of any of ``videos``.

    A bodypart added to config.yaml after labelling is empty everywhere: it is not
    labelled yet, not hidden, so ``posekit label --missing-not-visible`` leaves it
    alone and says so.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    videos
        Video paths or stems (the project's labelled videos, usually).

    Returns
    -------
    list of str
        Point names (bodyparts; ``"<individual>/<bodypart>"`` in a multi-animal
        project) in config order; empty when no video has a labelled frame.

    Raises
    ------
    LabelError
        If a video's label file cannot be read as this project's labels.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=3)
    >>> never_labelled(project, ["session1"])
    []
    """
    names: list[str] = []
    seen: set[str] = set()
    any_frame = False
    for video in videos:
        video_names, points = _video_points(project, video_folder_name(video))
        names = names or video_names
        for arr in points.values():
            if not np.isfinite(arr).any():
                continue  # not labelled yet
            any_frame = True
            seen.update(
                n for j, n in enumerate(video_names) if np.isfinite(arr[j]).all()
            )
    return [n for n in names if n not in seen] if any_frame else []


def empty_points(project, video: str | os.PathLike) -> list[tuple[str, str]]:
    """List the empty points of a video's labelled frames not marked not visible.

    A frame counts when it has at least one point: frames without any are not
    labelled yet.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.

    Returns
    -------
    list of (str, str)
        ``(frame, point name)``, frames sorted; point names as in the "not visible"
        marks (``"<individual>/<bodypart>"`` in a multi-animal project).

    Raises
    ------
    LabelError
        If the video's label file cannot be read as this project's labels.
    """
    stem = video_folder_name(video)
    names, points = _video_points(project, stem)
    hidden = read_visibility(project, stem)["not_visible"]
    return [
        (frame, name)
        for frame, arr in sorted(points.items())
        if np.isfinite(arr).any()
        for j, name in enumerate(names)
        if not np.isfinite(arr[j]).all() and (frame, name) not in hidden
    ]


def mark_missing_not_visible(project, video: str | os.PathLike) -> int:
    """Mark the empty points of a video's labelled frames "not visible".

    DeepLabCut's and SLEAP's labellers leave a hidden part empty (NaN), and posekit
    counts a frame with an empty point as work left. For labels made in another
    tool, this records those points as not visible (in :data:`VISIBILITY_FILE`; the
    label file is not changed), so the frames count as done. Frames without any
    point are left alone: nobody labelled them yet. The importers of SLEAP, COCO and
    Lightning Pose labels call it on the frames they import.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    video
        A video path or stem.

    Returns
    -------
    int
        How many points were newly marked.

    Raises
    ------
    LabelError
        If the video's label file cannot be read as this project's labels.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=3)
    >>> store = LabelStore(project, "session1")
    >>> _ = store.clear_point(store.frames[0], "snout")
    >>> _ = store.save()
    >>> labelling_progress(project, "session1")
    (2, 3)
    >>> mark_missing_not_visible(project, "session1")
    1
    >>> labelling_progress(project, "session1")
    (3, 3)
    """
    stem = video_folder_name(video)
    folder = project.labeled_data_dir(stem)
    with _folder_lock(folder, create=folder.is_dir()):  # (a writer: makes the lock)
        new = empty_points(project, stem)  # under the lock: no point placed meanwhile
        if new:
            update_visibility(project, stem, not_visible_add=new)
    if new:
        logger.info(
            "%s: %d empty point(s) of labelled frames marked not visible",
            stem,
            len(new),
        )
    return len(new)


#: The label lock of a video's folder: ``labeled-data/<video>/.posekit/labels.lock``,
#: an empty regular file beside :data:`VISIBILITY_FILE` (DeepLabCut skips the hidden
#: folder). It is locked with a POSIX record lock (``fcntl.lockf``), which NFS (v4;
#: v3 through its lock daemon) and SMB pass on to the server, so labellers on
#: different computers exclude each other; ``flock`` on the folder did not.
LABELS_LOCK_FILE = ".posekit/labels.lock"


#: Under the label lock, a temporary file of the label file this old is a killed
#: save's leftover (label saves and :func:`update_visibility` remove it).
_STALE_LABEL_TEMP_SECONDS = 30.0


class _HeldLock:
    """One label folder's lock in this process: a thread lock and the file's lock.

    POSIX record locks belong to the process (two threads both get them, and closing
    any descriptor of the file drops them), so threads take turns on ``rlock`` and
    only the outermost holder opens, locks and closes the file: a nested
    :func:`_folder_lock` (a read inside a save) reuses it.
    """

    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


_HELD: dict[str, _HeldLock] = {}
_HELD_GUARD = threading.Lock()
#: Lock files whose lock the filesystem refused (said once per process).
_NO_LOCK_SAID: set[str] = set()


def _forget_held_locks() -> None:
    """In a forked child: it holds none of its parent's record locks."""
    global _HELD_GUARD
    _HELD.clear()
    _HELD_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held_locks)


def _lock_file(fd: int) -> None:
    """Wait for an exclusive lock on an open lock file (POSIX record lock)."""
    if fcntl is not None:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # F_SETLKW on the whole file
        return
    import msvcrt  # pragma: no cover - Windows

    while True:  # pragma: no cover - Windows
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            time.sleep(0.05)


def _unlock_file(fd: int) -> None:
    with contextlib.suppress(OSError):
        if fcntl is not None:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        else:  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _open_locked(folder: Path, *, create: bool) -> int | None:
    """Open and lock ``folder``'s :data:`LABELS_LOCK_FILE`; ``None``: no lock here.

    ``None`` when the folder has no lock file yet (and ``create`` is false: a
    reader), cannot hold it (read-only: no write permission bit, whoever runs),
    or the filesystem refuses the lock (an NFSv3 mount without its lock daemon:
    said once as a warning).
    """
    path = folder / LABELS_LOCK_FILE
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            # a reader makes no file: a folder without the lock file has had no
            # posekit writer (a reader's digest, checked after the read, still sees
            # a first save made meanwhile)
            return None
        # others who may write the folder (a lab group) must be able to lock too
        shared = stat.S_IMODE(folder.stat().st_mode)
        if not shared & 0o222:  # read-only, even for root (shared test data)
            return None
        if not path.parent.is_dir():
            path.parent.mkdir()
            with contextlib.suppress(OSError):
                os.chmod(path.parent, shared | 0o700)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            with contextlib.suppress(OSError):
                os.fchmod(fd, (shared & 0o666) | 0o600)
        except FileExistsError:
            fd = os.open(path, os.O_RDWR)
    except OSError as err:
        if isinstance(err, PermissionError) and os.access(folder, os.W_OK):
            logger.warning(
                "cannot open the label lock %s (%s): saves of labels are not kept "
                "apart from other labellers'; let everyone who labels write it.",
                path,
                err,
            )
        else:  # a read-only project
            logger.debug("no label lock %s: %s", path, err)
        return None
    try:
        _lock_file(fd)
    except OSError as err:
        os.close(fd)
        if str(path) not in _NO_LOCK_SAID:
            _NO_LOCK_SAID.add(str(path))
            logger.warning(
                "cannot lock %s (%s): saves of labels from other computers are not "
                "kept apart on this drive (on NFSv3 the lock daemon must run).",
                path,
                err,
            )
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _folder_lock(folder: Path, *, create: bool = True) -> Iterator[bool]:
    """Exclusive lock on a label folder for a read-modify-write (or a consistent read).

    Every posekit writer of ``labeled-data/<video>/`` (labels, their ``.csv`` twin,
    the visibility marks) holds it around its read and write. The lock is a POSIX
    record lock (``msvcrt.locking`` on Windows) on :data:`LABELS_LOCK_FILE`, a regular
    file, so that network filesystems pass it on to other computers. It is
    re-entrant in a thread, and threads of one process take turns.

    Parameters
    ----------
    folder
        ``labeled-data/<video>/``.
    create
        Create the folder when it does not exist (a writer); with ``False`` a missing
        folder is not locked (a reader).

    Yields
    ------
    bool
        Whether the lock is held: ``False`` where it cannot be (a read-only folder, a
        missing one with ``create=False``, a filesystem that refuses locks); the block
        runs anyway.
    """
    key = os.path.realpath(folder)
    with _HELD_GUARD:
        held = _HELD.setdefault(key, _HeldLock())
    with held.rlock:
        if held.depth == 0:
            held.fd = _open_locked(Path(folder), create=create)
        held.depth += 1
        try:
            yield held.fd is not None
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fd, held.fd = held.fd, None
                _unlock_file(fd)
                os.close(fd)


@dataclass
class _DiskState:
    frames: Frames
    scorer: str
    multiindex_rows: bool


class LabelStore:
    """Labels of one video's extracted frames, saved after every edit.

    For a multi-animal project, ``LabelStore(project, video)`` gives a
    :class:`~posekit.engine.multianimal.labels.MultiAnimalLabelStore` (one point per
    individual and bodypart, four column levels).

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project` (single-animal).
    video
        A video path or its stem: the labels live in
        ``labeled-data/<stem>/CollectedData_<scorer>.h5``.
    autosave
        Save after every edit (default). With ``False`` call :meth:`save` yourself.
    max_undo
        Number of edits :meth:`undo` can take back.

    Attributes
    ----------
    path
        The ``.h5`` label file (it may not exist yet).
    bodyparts
        Bodyparts in config order (the column order written).
    listeners
        Callables ``f(report: SyncReport)`` called after each save or sync that
        merged, conflicted or failed (e.g. to warn the user).
    last_report
        The last :class:`SyncReport`.
    note
        Why the label file's ``.csv`` twin was not used, when it disagrees with the
        ``.h5`` (:func:`read_label_file`); ``""`` when it does not.

    Raises
    ------
    LabelError
        If the project is multi-animal, the label file cannot be read, or it labels
        bodyparts the config does not list.
    """

    def __new__(cls, project=None, *args, **kwargs):
        """Give a multi-animal project's labels a four-level store."""
        if cls is LabelStore and getattr(project, "multianimal", False):
            from .multianimal.labels import MultiAnimalLabelStore

            cls = MultiAnimalLabelStore
        return super().__new__(cls)

    def __init__(
        self,
        project,
        video: str | os.PathLike,
        *,
        autosave: bool = True,
        max_undo: int = 1000,
    ) -> None:
        if project.multianimal and not hasattr(self, "layout"):
            raise LabelError(
                f"{project.config_path} is a multi-animal project: its labels have "
                "four column levels (posekit.engine.multianimal.labels)."
            )
        self.project = project
        self.video = project.labeled_data_dir(video).name
        self.bodyparts: list[str] = list(project.bodyparts)
        if len(set(self.bodyparts)) != len(self.bodyparts):
            raise LabelError(
                f"config.yaml lists a bodypart twice: {self.bodyparts}; make the "
                "names unique."
            )
        self.path: Path = project.labels_path(self.video)
        self.autosave = autosave
        self.max_undo = int(max_undo)
        self.listeners: list[Callable[[SyncReport], None]] = []
        self.last_report = SyncReport()
        self.dirty = False
        self._undo: list[list[PointChange]] = []
        self._redo: list[list[PointChange]] = []
        self._data: Frames = {}
        self._base: Frames = {}
        self._signature: str | None = None
        self.scorer: str = project.scorer
        self._multiindex_rows = True
        self.note = ""
        self._backup_csv_first = False
        #: (frame, bodypart) -> (the value this store last wrote for a point it
        #: changed, the value the point had before)
        self._mine: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        # read and digest under the lock: a save in between would be missed
        with _folder_lock(self.folder, create=False):
            disk, self._signature = self._read_signed()
        if disk is not None:
            self._data = _copy(disk.frames)
            self._base = _copy(disk.frames)
            self.scorer = disk.scorer
            self._multiindex_rows = disk.multiindex_rows
        self._frames: list[str] = []
        self.refresh_frames()

    # ------------------------------------------------------------------ frames
    @property
    def folder(self) -> Path:
        """``labeled-data/<video>/``."""
        return self.path.parent

    @property
    def frames(self) -> list[str]:
        """All frames: image files in the folder and rows of the label file, sorted."""
        return list(self._frames)

    def refresh_frames(self) -> list[str]:
        """Re-scan the folder for images (after extracting frames); return :attr:`frames`."""
        self._frames = sorted(
            set(list_frames(self.project, self.video)) | set(self._data)
        )
        return self.frames

    def image_path(self, frame: str) -> Path:
        """Absolute path of a frame's image (it may be missing)."""
        return self.project.path / frame

    def frame_name(self, frame: str | int) -> str:
        """Return the path of a frame given by path or by position in :attr:`frames`."""
        if isinstance(frame, (int, np.integer)):
            return self._frames[int(frame)]
        frame = str(frame).replace("\\", "/")
        if "/" not in frame:
            frame = f"labeled-data/{self.video}/{frame}"
        return frame

    # ------------------------------------------------------------------ reading
    def get(self, frame: str | int) -> np.ndarray:
        """Labels of a frame: ``(n_bodyparts, 2)`` copy, NaN where not labelled."""
        frame = self.frame_name(frame)
        arr = self._data.get(frame)
        if arr is None:
            return np.full((len(self.bodyparts), 2), np.nan)
        return arr.copy()

    def point(self, frame: str | int, bodypart: str) -> tuple[float, float]:
        """``(x, y)`` of one bodypart on a frame (NaN, NaN when not labelled)."""
        x, y = self.get(frame)[self._bp_index(bodypart)]
        return float(x), float(y)

    def is_labelled(self, frame: str | int) -> bool:
        """Whether a frame has at least one labelled point."""
        return bool(np.any(~np.isnan(self.get(frame))))

    def labelled_frames(self) -> list[str]:
        """Frames with at least one labelled point, sorted."""
        return sorted(f for f, a in self._data.items() if np.any(~np.isnan(a)))

    def to_dataframe(self) -> pd.DataFrame:
        """Return the labels as DLC writes them (rows sorted, config bodypart order)."""
        frames = sorted(self._data)
        coords = (
            np.stack([self._data[f] for f in frames])
            if frames
            else np.zeros((0, len(self.bodyparts), 2))
        )
        return make_labels_frame(
            self.scorer,
            self.bodyparts,
            frames,
            coords,
            multiindex_rows=self._multiindex_rows,
        )

    # ------------------------------------------------------------------ editing
    def set_point(
        self, frame: str | int, bodypart: str, x: float, y: float
    ) -> list[PointChange]:
        """Place (or move) one bodypart on a frame; saved at once with ``autosave``."""
        return self.apply(frame, {bodypart: (x, y)})

    def clear_point(self, frame: str | int, bodypart: str) -> list[PointChange]:
        """Delete a point (NaN, DeepLabCut's "not labelled / not visible")."""
        return self.apply(frame, {bodypart: (np.nan, np.nan)})

    def apply(
        self, frame: str | int, points: Mapping[str, tuple[float, float]]
    ) -> list[PointChange]:
        """Set several points of one frame as one undoable edit.

        Parameters
        ----------
        frame
            Frame path (``labeled-data/<video>/<image>``), image name, or position.
        points
            ``{bodypart: (x, y)}``; ``(nan, nan)`` deletes.

        Returns
        -------
        list of PointChange
            The points that really changed (empty: nothing to do, nothing saved).
        """
        frame = self.frame_name(frame)
        current = self.get(frame)
        changes = []
        for bp, (x, y) in points.items():
            j = self._bp_index(bp)
            new = np.array([float(x), float(y)])
            if _same(new, current[j]):
                continue
            changes.append(
                PointChange(
                    frame,
                    bp,
                    (float(current[j, 0]), float(current[j, 1])),
                    (float(new[0]), float(new[1])),
                )
            )
        if not changes:
            return []
        self._apply_changes(changes, forward=True)
        self._undo.append(changes)
        del self._undo[: -self.max_undo]
        self._redo.clear()
        self._after_edit()
        return changes

    @property
    def can_undo(self) -> bool:
        """Whether there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return bool(self._redo)

    def undo(self) -> list[PointChange]:
        """Take back the last edit (saved at once); return its changes (empty: none)."""
        if not self._undo:
            return []
        changes = self._undo.pop()
        self._apply_changes(changes, forward=False)
        self._redo.append(changes)
        self._after_edit()
        return changes

    def redo(self) -> list[PointChange]:
        """Re-apply the last undone edit; return its changes (empty: none)."""
        if not self._redo:
            return []
        changes = self._redo.pop()
        self._apply_changes(changes, forward=True)
        self._undo.append(changes)
        self._after_edit()
        return changes

    def _apply_changes(self, changes: Sequence[PointChange], *, forward: bool) -> None:
        for c in changes:
            arr = self._data.get(c.frame)
            if arr is None:
                arr = np.full((len(self.bodyparts), 2), np.nan)
                self._data[c.frame] = arr
                if c.frame not in self._frames:
                    self._frames = sorted({*self._frames, c.frame})
            arr[self._bp_index(c.bodypart)] = c.new if forward else c.old
        self.dirty = True

    def _after_edit(self) -> None:
        if self.autosave:
            self.save()

    def _bp_index(self, bodypart: str) -> int:
        try:
            return self.bodyparts.index(bodypart)
        except ValueError:
            raise LabelError(
                f"{bodypart!r} is not a bodypart of this project "
                f"(config.yaml lists {self.bodyparts})"
            ) from None

    # ------------------------------------------------------------------ disk
    def save(self) -> SyncReport:
        """Write the labels (merging another writer's changes first).

        Returns
        -------
        SyncReport
            Also stored as :attr:`last_report` and passed to :attr:`listeners` when
            it merged, conflicted or failed. A failed write (disk full, a label file
            another program made unreadable) does not raise: the edit stays in
            memory, :attr:`dirty` stays true and the next save retries.
        """
        return self._sync(write=True)

    def sync(self) -> SyncReport:
        """Pull another writer's changes from disk (saving only if a merge needs it)."""
        return self._sync(write=False)

    def has_external_changes(self) -> bool:
        """Whether the file on disk differs from what we last read or wrote."""
        return self._file_signature() != self._signature

    def _sync(self, *, write: bool) -> SyncReport:
        try:
            with self._locked():
                report = self._sync_locked(write=write)
        except (LabelError, OSError) as err:
            logger.warning("labels for %s not saved: %s", self.video, err)
            report = SyncReport(error=str(err))
        self.last_report = report
        if report.external or report.conflicts or report.error:
            for listener in list(self.listeners):
                listener(report)
        return report

    def _sync_locked(self, *, write: bool) -> SyncReport:
        external = self._file_signature() != self._signature
        taken: list[tuple[str, str]] = []
        conflicts: list[Conflict] = []
        backup = reverted_backup = None
        deleted: list[str] = []
        kept: list[str] = []
        reverted: list[tuple[str, str]] = []
        if external:
            disk, signature = self._read_signed()
            theirs = disk.frames if disk is not None else {}
            # a label file removed as a whole is written again, not a deletion of rows
            base = self._base if disk is not None else {}
            ours = self._data
            merged, taken, conflicts = merge_labels(base, ours, theirs, self.bodyparts)
            gone = [f for f in base if f not in theirs]
            deleted = sorted(f for f in gone if f not in merged)
            kept = sorted(f for f in gone if f in merged)
            reverted = self._reverted(base, merged, taken, deleted)
            if conflicts:
                backup = self._backup(theirs, disk.scorer if disk else self.scorer)
            if reverted:
                reverted_backup = self._backup(ours, self.scorer)
            needs_write = self.dirty or any(
                f not in theirs or not np.array_equal(a, theirs[f], equal_nan=True)
                for f, a in merged.items()
            )
            self._data = merged
            self._base = _copy(theirs)
            self._signature = signature
            self.refresh_frames()
            if disk is not None:
                self.scorer = disk.scorer
            logger.warning(
                "%s changed on disk behind this labeller: merged %d point(s) "
                "(%d of ours changed back), %d conflict(s), %d frame(s) removed",
                self.path,
                len(taken),
                len(reverted),
                len(conflicts),
                len(deleted),
            )
            write = write or needs_write
        write = write or self.dirty
        saved = False
        if write and (self._data or self.path.exists()):
            if self._backup_csv_first:
                self._backup_csv()
            # writers of the label file hold this lock, so a temporary file of it
            # that stopped changing is a killed save's (QA s25 #10); 30 s spares a
            # writer that does not take the lock (an older posekit, a script)
            for twin in (self.path, self.path.with_suffix(".csv")):
                remove_stale_temps(twin, older_than=_STALE_LABEL_TEMP_SECONDS)
            try:
                write_labels(self.to_dataframe(), self.path)
            finally:  # under the lock a changed file is our own (partial) write
                self._signature = self._file_signature()
            self._remember_mine()
            self._base = _copy(self._data)
            self.dirty = False
            saved = True
        return SyncReport(
            saved=saved,
            external=external,
            merged=tuple(taken),
            conflicts=tuple(conflicts),
            backup=backup,
            deleted=tuple(deleted),
            kept_deleted=tuple(kept),
            reverted=tuple(reverted),
            reverted_backup=reverted_backup,
        )

    def _remember_mine(self) -> None:
        """Record the points this write changes (vs. the file as last seen) as ours."""
        nan = np.full(2, np.nan)
        for frame, arr in self._data.items():
            old = self._base.get(frame)
            for j, bp in enumerate(self.bodyparts):
                was = old[j] if old is not None else nan
                if _same(arr[j], was):
                    continue
                mine = self._mine.get((frame, bp))
                if mine is not None and _same(mine[0], was):
                    was = mine[1]  # ours already: before our first change
                self._mine[(frame, bp)] = (arr[j].copy(), np.array(was, copy=True))

    def _reverted(
        self,
        base: Frames,
        merged: Frames,
        taken: Sequence[tuple[str, str]],
        deleted: Sequence[str],
    ) -> list[tuple[str, str]]:
        """Points of ours that the other writer put back as they were before us.

        A point is ours when this store wrote it last (``base`` holds our value);
        it was changed back when the other writer's value (a ``taken`` point, or
        none in a ``deleted`` frame) is the one the point had before our change: a
        program that writes its whole table (DeepLabCut's GUI) did that. Another
        labeller who moved our point elsewhere is an ordinary merge. The points
        checked are forgotten as ours.
        """
        out = []
        index = {bp: j for j, bp in enumerate(self.bodyparts)}
        nan = np.full(2, np.nan)
        removed = [(f, bp) for f in deleted for bp in self.bodyparts]
        for frame, bp in [*taken, *removed]:
            mine = self._mine.pop((frame, bp), None)
            if mine is None or frame not in base:
                continue
            theirs = merged[frame][index[bp]] if frame in merged else nan
            if _same(mine[0], base[frame][index[bp]]) and _same(theirs, mine[1]):
                out.append((frame, bp))
        return out

    def _backup(self, theirs: Frames, scorer: str) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = self.folder / ".posekit" / "conflicts" / f"{self.path.stem}-{stamp}.h5"
        frames = sorted(theirs)
        coords = (
            np.stack([theirs[f] for f in frames])
            if frames
            else np.zeros((0, len(self.bodyparts), 2))
        )
        df = make_labels_frame(scorer, self.bodyparts, frames, coords)
        write_labels(df, path)
        logger.warning("a copy of the labels was saved to %s", path)
        return path

    def _backup_csv(self) -> Path | None:
        """Copy the ``.csv`` twin that disagreed with the ``.h5`` before it is rewritten."""
        csv = self.path.with_suffix(".csv")
        self._backup_csv_first = False
        if not csv.is_file():
            return None
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        out = self.folder / ".posekit" / "conflicts" / f"{csv.stem}-{stamp}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(csv.read_bytes())
        logger.warning("%s disagreed with %s; a copy is kept: %s", csv, self.path, out)
        return out

    def _label_file(self) -> Path | None:
        if self.path.is_file():
            return self.path
        csv = self.path.with_suffix(".csv")
        return csv if csv.is_file() else None

    def _read_signed(self) -> tuple[_DiskState | None, str | None]:
        """Read the label file and the digest of the state read.

        posekit's writers hold the folder's lock (held here by the caller where it
        can be); a writer without it (DeepLabCut's GUI) may still replace the file
        during the read, so the digest is taken before and after and the read is
        repeated until they match. If they never do, the digest from before is kept:
        the next sync then merges again instead of missing a save.
        """
        for _ in range(3):
            before = self._file_signature()
            disk = self._read_disk()
            if self._file_signature() == before:
                break
        return disk, before

    def _file_signature(self) -> str | None:
        path = self._label_file()
        if path is None:
            return None
        return f"{path.suffix}:{hashlib.sha1(path.read_bytes()).hexdigest()}"

    def _open_label_file(self, path: Path) -> pd.DataFrame:
        """Read the label file (:func:`read_label_file`) and keep its note.

        A note (the ``.h5`` and ``.csv`` twins disagree, or one does not read) is
        shown to the user; when the ``.h5`` was used, the ``.csv`` is backed up
        before the first save overwrites it.
        """
        label_file = read_label_file(path)
        if label_file.note:
            self.note = label_file.note
            self._backup_csv_first = label_file.path.suffix == ".h5"
        return label_file.frame

    def _read_disk(self) -> _DiskState | None:
        path = self._label_file()
        if path is None:
            return None
        df = self._open_label_file(path)
        if "individuals" in df.columns.names:
            raise LabelError(
                f"{path} is a multi-animal label file; the labeller handles "
                "single-animal labels only."
            )
        scorer = _one_scorer(df, path)
        file_bps = _known_bodyparts(df, path, self.project)
        coords = list(dict.fromkeys(df.columns.get_level_values("coords")))
        if not {"x", "y"} <= set(coords):
            raise LabelError(f"{path} has coords {coords}; expected x and y.")
        paths = on_disk_frames(self.project, _frame_paths(df, path))
        frames: Frames = {}
        values = {
            (bp, c): df[(scorer, bp, c)].to_numpy(float)
            for bp in file_bps
            for c in ("x", "y")
        }
        for i, p in enumerate(paths):
            arr = np.full((len(self.bodyparts), 2), np.nan)
            for j, bp in enumerate(self.bodyparts):
                if (bp, "x") in values:
                    arr[j, 0] = values[(bp, "x")][i]
                    arr[j, 1] = values[(bp, "y")][i]
            frames[p] = arr
        return _DiskState(frames, scorer, isinstance(df.index, pd.MultiIndex))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Advisory exclusive lock on the label folder (POSIX) for read-merge-write."""
        with _folder_lock(self.folder):
            yield


def _copy(frames: Mapping[str, np.ndarray]) -> Frames:
    return {f: np.array(a, dtype=float, copy=True) for f, a in frames.items()}
