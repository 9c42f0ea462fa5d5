"""Behaviour annotations on disk: find, read and write the labels marked by hand.

The CSV layouts read (:data:`LABEL_LAYOUTS`; column names are matched without regard
to case, and ``Start (s)`` reads as ``start_s``, as BORIS writes it):

- **per frame**: ``behavior`` and optionally ``frame`` (else row *i* is frame *i*)
  and ``time``, one row per frame, as the demo's ``ground-truth/<video>_behavior.csv``;
- **bouts in frames**: ``behavior, start, end`` or ``behavior, start, stop``, one row
  per bout, ``start`` and ``end``/``stop`` the first and last frame (inclusive); the
  values must be whole frames;
- **bouts in seconds**: ``behavior, start_s, stop_s`` (or ``end_s``), one row per
  bout, as BORIS's aggregated events export (``Behavior, Start (s), Stop (s)``):
  the frames whose time ``frame / fps`` lies in ``[start_s, stop_s)``; needs the
  frame rate. ``behavior, start, stop`` in seconds reads with ``time_unit="seconds"``.

Other layouts are rejected with a message that lists these. A per-frame table whose
rows do not match the track's frames (the usual sign of another session's labels) is
read, with a warning that names both lengths; a bout outside the track is an error.

Any layout may add a column naming each row's animal (:data:`INDIVIDUAL_COLUMNS`:
``individual``, as the 2-animal demo's ``ground-truth/<video>_behavior.csv``;
BORIS's ``Subject``): only the rows of the track's animal are read. A file whose
animals do not include the track's is refused (a recording of one animal reads a file
that names one animal, whatever its name: BORIS writes ``No focal subject``), and so
is a per-frame table that repeats a frame number without such a column (the rows of
several animals, which would overwrite each other).

Files are written per frame (``frame[, time], behavior``) or, when the name ends in
``_bouts.csv``, as ``behavior, start, end`` bouts (inclusive frames). Frames outside
every bout get the ``background`` label (``"none"`` by default).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .ethogram import bouts_to_labels, labels_to_bouts

if TYPE_CHECKING:  # pragma: no cover
    from ..project import Project

__all__ = [
    "INDIVIDUAL_COLUMNS",
    "LABEL_LAYOUTS",
    "label_individuals",
    "labels_file_for",
    "read_labels",
    "read_behavior_names",
    "write_labels",
]

logger = logging.getLogger("posekit.engine.behavior.annotations")

_BOUTS_SUFFIX = "_bouts.csv"

#: The labels-file layouts :func:`read_labels` accepts (columns → meaning).
LABEL_LAYOUTS: dict[str, str] = {
    "behavior[, frame][, time]": "one row per frame (no frame column: row i is frame i)",
    "behavior, start, end": "one row per bout, first and last frame (inclusive)",
    "behavior, start, stop": "one row per bout, first and last frame (inclusive)",
    "behavior, start_s, stop_s": "one row per bout in seconds, [start, stop) "
    "(BORIS: Behavior, Start (s), Stop (s); end_s also accepted)",
}

#: Columns that name each row's animal (any one of them, matched as the others): the
#: rows of the track's animal are read. BORIS calls it ``Subject``.
INDIVIDUAL_COLUMNS: tuple[str, ...] = ("individual", "individuals", "subject", "animal")

# BORIS's subject of events recorded without one
_NO_SUBJECT = "no focal subject"


def labels_file_for(
    path: str | os.PathLike | None, project: Project | None = None
) -> Path | None:
    """Find the behaviour labels that belong to a tracking file, if any.

    That is the demo's ``<video>_behavior.csv`` beside ``<video>_keypoints.h5`` (or
    in the project's ``ground-truth/``).

    Parameters
    ----------
    path
        The tracking file (``None``: no labels).
    project
        Also look in this project's ``ground-truth/`` folder.

    Returns
    -------
    Path or None
        The labels file, or ``None`` if there is none.

    Examples
    --------
    >>> labels_file_for("/nonexistent/session1_keypoints.h5") is None
    True
    """
    if path is None:
        return None
    path = Path(path)
    stem = path.stem.removesuffix("_keypoints")
    folders = [path.parent]
    if project is not None:
        folders.append(Path(project.path) / "ground-truth")
    for video_stem in dict.fromkeys([stem, stem.split("DLC")[0]]):
        for folder in folders:
            candidate = folder / f"{video_stem}_behavior.csv"
            if candidate.is_file():
                return candidate
    return None


def _column_key(name: object) -> str:
    """Normalise a column name: lower case, ``Start (s)`` → ``start_s``."""
    key = str(name).strip().lower()
    key = re.sub(r"\s*\((s|sec|secs|seconds)\)$", "_s", key)
    key = re.sub(r"[\s\-]+", "_", key)
    return {"behaviour": "behavior"}.get(key, key)


def _layouts_message(path: Path, columns: Sequence[object]) -> str:
    accepted = "; ".join(f"'{k}' ({v})" for k, v in LABEL_LAYOUTS.items())
    return (
        f"{path} has columns {[str(c) for c in columns]}; accepted layouts: "
        f"{accepted}; any of them may add an 'individual' column naming each row's "
        "animal (BORIS: 'Subject')"
    )


def _individual_column(path: Path, raw: pd.DataFrame, keys: list[str]) -> str | None:
    """Return the key of the column naming each row's animal (``None``: none)."""
    found = [k for k in keys if k in INDIVIDUAL_COLUMNS]
    if len(found) > 1:
        names = [str(raw.columns[keys.index(k)]) for k in found]
        raise ValueError(
            f"{path} has {len(found)} columns naming the animal ({names}); keep one"
        )
    return found[0] if found else None


def _animal_names(values: pd.Series) -> pd.Series:
    """Return the animal of each row as text: ``""`` for none (``No focal subject``)."""

    def name(v: object) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return ""
        if isinstance(v, float) and v.is_integer():  # 1, 2 read as 1.0, 2.0
            v = int(v)
        text = str(v).strip()
        return "" if text.lower() in ("", "nan", _NO_SUBJECT) else text

    return values.map(name)


def label_individuals(path: str | os.PathLike) -> list[str] | None:
    r"""Return the animals a labels CSV names, in order of first appearance.

    They are the values of its column of :data:`INDIVIDUAL_COLUMNS` (``individual``,
    BORIS's ``Subject``, ...), without empty cells and BORIS's ``No focal subject``.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    list of str or None
        The animals, or ``None`` if the file has no such column (one animal's
        labels).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it has several such columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "two.csv"
    >>> _ = p.write_text("frame,individual,behavior\n0,m1,walk\n0,m2,rest\n")
    >>> label_individuals(p)
    ['m1', 'm2']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No labels file at {path}")
    raw = pd.read_csv(path)
    keys = [_column_key(c) for c in raw.columns]
    column = _individual_column(path, raw, keys)
    if column is None:
        return None
    names = _animal_names(raw.iloc[:, keys.index(column)])
    return [str(n) for n in pd.unique(names[names != ""])]


def _rows_of_animal(
    table: pd.DataFrame,
    column: str,
    label: str,
    path: Path,
    individual: str | None,
    single_animal: bool,
) -> pd.DataFrame:
    """Keep the rows of ``individual`` (see :func:`read_labels`); ``label``: the column's name."""
    who = _animal_names(table[column])
    named = [str(n) for n in pd.unique(who[who != ""])]
    if individual is not None and individual in named:
        return table[(who == individual).to_numpy()].reset_index(drop=True)
    if len(named) <= 1 and (individual is None or single_animal):
        return table  # one animal's labels, by whatever name
    if individual is None:
        raise ValueError(
            f"{path} holds the labels of {len(named)} animals ({', '.join(named)}) in "
            f"its {label!r} column: say whose rows to read (in Python "
            "individual=NAME, as BehaviorModel.load_labels does for each track and "
            "EthogramAnnotator.load(path, individual=NAME) takes; on the command "
            "line --labels SESSION/ANIMAL=CSV), or keep one animal's rows in a "
            "file of their own"
        )
    raise ValueError(
        f"{path} has no rows of {individual!r}: its {label!r} column names "
        f"{', '.join(named) or 'no animal'}. Give this track a file with rows of "
        f"{individual!r}, or write the animal in that column as the tracking file "
        f"names it ({individual!r})"
    )


def _check_one_row_per_frame(
    frames: np.ndarray, path: Path, animal_column: str | None
) -> None:
    """Refuse a per-frame table that repeats a frame number.

    ``animal_column``: the name of the file's column naming each row's animal.
    """
    values, counts = np.unique(frames, return_counts=True)
    if (counts == 1).all():
        return
    first = int(values[np.argmax(counts > 1)])
    n = int(counts[np.argmax(counts > 1)])
    if animal_column is None:
        raise ValueError(
            f"{path} has {len(frames)} rows for {values.size} frames (frame {first} "
            f"appears {n} times): the labels of several animals? Add an 'individual' "
            "column naming each row's animal (BORIS: 'Subject'), or keep one row "
            "per frame"
        )
    raise ValueError(
        f"{path} has {len(frames)} rows of one animal (by its {animal_column!r} "
        f"column) for {values.size} frames (frame {first} appears {n} times): the "
        "labels of several sessions? Keep one row per frame and animal"
    )


def _whole_frames(values: pd.Series, path: Path, column: str) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    if not np.isfinite(v).all() or not np.array_equal(v, np.round(v)):
        raise ValueError(
            f"{path}: column {column!r} is not whole frames ({v[:3].tolist()} …); "
            "for seconds name the columns start_s and stop_s (BORIS: 'Start (s)', "
            "'Stop (s)') or pass time_unit='seconds'"
        )
    return v.astype(int)


def _bouts_table(
    table: pd.DataFrame,
    path: Path,
    n_frames: int,
    stop: str,
    seconds: bool,
    fps: float | None,
) -> pd.DataFrame:
    """Bouts as ``behavior, start, end`` in inclusive frames."""
    start = "start_s" if stop.endswith("_s") else "start"
    if seconds:
        if not fps or not np.isfinite(fps) or fps <= 0:
            raise ValueError(
                f"{path} gives bouts in seconds: the frame rate is needed to turn "
                "them into frames (pass fps=..., or --fps on the command line)"
            )
        t0 = pd.to_numeric(table[start], errors="coerce").to_numpy(float)
        t1 = pd.to_numeric(table[stop], errors="coerce").to_numpy(float)
        if not (np.isfinite(t0).all() and np.isfinite(t1).all()):
            raise ValueError(f"{path}: columns {start!r}, {stop!r} must be numbers")
        first = np.round(t0 * fps).astype(int)
        last = np.maximum(np.round(t1 * fps).astype(int) - 1, first)  # [start, stop)
    else:
        first = _whole_frames(table[start], path, start)
        last = _whole_frames(table[stop], path, stop)
    bouts = pd.DataFrame(
        {"behavior": table["behavior"].astype(str), "start": first, "end": last}
    )
    outside = (bouts["start"] < 0) | (bouts["end"] >= n_frames)
    if outside.any():
        bad = bouts[outside].iloc[0]
        what = f"{bad['start']}..{bad['end']}"
        if seconds:
            what += f" (at {fps:g} fps)"
        raise ValueError(
            f"{path}: bout {bad['behavior']!r} at frames {what} lies outside the "
            f"track's {n_frames} frames (0..{n_frames - 1}); are these the labels "
            "of another session?"
        )
    return bouts


def read_labels(
    path: str | os.PathLike,
    n_frames: int,
    *,
    background: str = "none",
    fps: float | None = None,
    time_unit: Literal["frames", "seconds"] | None = None,
    individual: str | None = None,
    single_animal: bool = False,
) -> np.ndarray:
    r"""Read per-frame labels from a labels CSV (a layout of :data:`LABEL_LAYOUTS`).

    A file with a column of :data:`INDIVIDUAL_COLUMNS` (``individual``, BORIS's
    ``Subject``) holds the labels of the animals it names there: only the rows of
    ``individual`` are read.

    Parameters
    ----------
    path
        The CSV file.
    n_frames
        Number of frames of the track. A per-frame table with another number of
        rows (or frames outside ``0 .. n_frames - 1``) is read with a warning that
        names both lengths (rows beyond the track are left out).
    background
        Label of frames without a behaviour (and of empty ``behavior`` cells).
    fps
        Frames per second: needed for bouts in seconds.
    time_unit
        Unit of ``start``/``stop`` (or ``end``) columns without a ``_s`` suffix:
        ``"frames"`` (``None``, the default) or ``"seconds"``.
    individual
        The track's animal: a file with an individual column is read from the rows
        that name it, and refused when it names other animals only. ``None``: the
        file must name one animal at most.
    single_animal
        The track is the only animal of its recording: a file that names one
        animal is read whole whatever that name (``No focal subject``, a name of
        the user's own); a file with the rows of several animals still needs
        ``individual`` among them.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` string labels.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the layout is not one of :data:`LABEL_LAYOUTS`, no row falls inside the
        track, a bout lies outside it, bouts in frames are not whole numbers, bouts
        in seconds come without ``fps``, the file names other animals than
        ``individual`` (or several, with ``individual=None``), or a per-frame table
        repeats a frame number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "marks_bouts.csv"
    >>> _ = p.write_text("behavior,start,end\nwalk,1,2\n")
    >>> read_labels(p, 4).tolist()
    ['none', 'walk', 'walk', 'none']
    >>> _ = p.write_text("Behavior,Start (s),Stop (s)\nwalk,0.5,1.0\n")
    >>> read_labels(p, 4, fps=4).tolist()
    ['none', 'none', 'walk', 'walk']
    >>> _ = p.write_text("frame,individual,behavior\n0,m1,walk\n0,m2,rest\n")
    >>> read_labels(p, 1, individual="m2").tolist()
    ['rest']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No labels file at {path}")
    if time_unit not in (None, "frames", "seconds"):
        raise ValueError(
            f"time_unit must be 'frames' or 'seconds'; received {time_unit!r}"
        )
    raw = pd.read_csv(path)
    keys = [_column_key(c) for c in raw.columns]
    if len(set(keys)) != len(keys):
        raise ValueError(_layouts_message(path, list(raw.columns)))
    table = raw.set_axis(keys, axis=1)
    cols = set(keys)
    if "behavior" not in cols:
        raise ValueError(_layouts_message(path, list(raw.columns)))
    animal = _individual_column(path, raw, keys)
    label = None if animal is None else str(raw.columns[keys.index(animal)])
    if animal is not None:
        table = _rows_of_animal(table, animal, label, path, individual, single_animal)
    table["behavior"] = table["behavior"].where(table["behavior"].notna(), background)
    if "start" in cols and cols & {"end", "stop"}:  # frames first: our own files
        stop = "end" if "end" in cols else "stop"
        seconds = time_unit == "seconds"
        bouts = _bouts_table(table, path, n_frames, stop, seconds, fps)
        labels = bouts_to_labels(bouts, n_frames, background=background)
    elif "start_s" in cols:
        stop = next((c for c in ("stop_s", "end_s") if c in cols), None)
        if stop is None:
            raise ValueError(_layouts_message(path, list(raw.columns)))
        bouts = _bouts_table(table, path, n_frames, stop, True, fps)
        labels = bouts_to_labels(bouts, n_frames, background=background)
    elif cols & {"start", "stop", "end", "stop_s", "end_s"}:
        raise ValueError(_layouts_message(path, list(raw.columns)))
    else:
        labels = np.full(n_frames, background, dtype=object)
        if "frame" in cols:
            frames = _whole_frames(table["frame"], path, "frame")
            _check_one_row_per_frame(frames, path, label)
        else:
            frames = np.arange(len(table))
        ok = (frames >= 0) & (frames < n_frames)
        if not ok.any():
            raise ValueError(f"{path} has no frame inside 0..{n_frames - 1}")
        if not ok.all() or ("frame" not in cols and len(table) != n_frames):
            logger.warning(
                "%s has %d per-frame rows (frames %d..%d) but the track has %d "
                "frames: %s; are these the labels of another session?",
                path,
                len(table),
                int(frames.min()),
                int(frames.max()),
                n_frames,
                f"{int((~ok).sum())} rows outside the track are left out"
                if not ok.all()
                else f"frames {len(table)}..{n_frames - 1} get {background!r}",
            )
        labels[frames[ok]] = table["behavior"].astype(str).to_numpy()[ok]
    return np.asarray(labels).astype(str)


def read_behavior_names(path: str | os.PathLike) -> list[str]:
    """Read the behaviours named in a labels CSV, in order of first appearance.

    They are the values of its ``behavior`` column (``Behavior`` and ``behaviour``
    too, as in :func:`read_labels`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it has no ``behavior`` column.
    """
    table = pd.read_csv(path)
    column = next((c for c in table.columns if _column_key(c) == "behavior"), None)
    if column is None:
        raise ValueError(
            f"{path} has no 'behavior' column; columns: {list(table.columns)}"
        )
    names = table[column].dropna()
    return [str(b) for b in pd.unique(names.astype(str))]


def write_labels(
    labels: Sequence[str] | np.ndarray,
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    background: str = "none",
) -> Path:
    """Write per-frame labels as a CSV.

    One ``frame[, time], behavior`` row per frame, or the bout table when the file
    name ends in ``_bouts.csv``.

    Parameters
    ----------
    labels
        One label per frame.
    path
        Target ``.csv`` file (written atomically).
    fps
        Frames per second: adds ``time`` (per-frame) or the ``*_s`` columns (bouts).
    background
        Label of frames without a behaviour (no bout is written for them).

    Returns
    -------
    Path
        The written file.
    """
    from .export import save_table

    path = Path(path)
    labels = np.asarray(labels).astype(str)
    if path.name.endswith(_BOUTS_SUFFIX):
        return save_table(labels_to_bouts(labels, fps=fps, ignore=[background]), path)
    table = pd.DataFrame({"frame": np.arange(len(labels)), "behavior": labels})
    if fps:
        table.insert(1, "time", table["frame"] / fps)
    return save_table(table, path)
