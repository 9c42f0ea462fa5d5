"""Behaviour annotations on disk: find, read and write the labels marked by hand.

Two CSV layouts are read and written:

- **per frame**: ``frame, behavior`` (optionally ``time``), one row per frame, as the
  demo's ``ground-truth/<video>_behavior.csv``;
- **bouts**: ``behavior, start, end`` (inclusive frames), one row per bout; written
  when the file name ends in ``_bouts.csv``.

Frames outside every bout get the ``background`` label (``"none"`` by default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .ethogram import bouts_to_labels, labels_to_bouts

if TYPE_CHECKING:  # pragma: no cover
    from ..project import Project

__all__ = [
    "labels_file_for",
    "read_labels",
    "read_behavior_names",
    "write_labels",
]

_BOUTS_SUFFIX = "_bouts.csv"


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


def read_labels(
    path: str | os.PathLike, n_frames: int, *, background: str = "none"
) -> np.ndarray:
    r"""Read per-frame labels from a labels CSV (per-frame or bout table, see the module).

    Parameters
    ----------
    path
        The CSV file.
    n_frames
        Number of frames of the recording (rows for frames outside
        ``0 .. n_frames - 1`` are ignored).
    background
        Label of frames without a behaviour.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` string labels.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the columns are not recognised, no row falls inside the recording, or a
        bout lies outside it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "marks_bouts.csv"
    >>> _ = p.write_text("behavior,start,end\nwalk,1,2\n")
    >>> read_labels(p, 4).tolist()
    ['none', 'walk', 'walk', 'none']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No labels file at {path}")
    table = pd.read_csv(path)
    cols = set(table.columns)
    if {"behavior", "start", "end"} <= cols:
        labels = bouts_to_labels(table, n_frames, background=background)
    elif "behavior" in cols:
        labels = np.full(n_frames, background, dtype=object)
        frames = (
            table["frame"].to_numpy(int) if "frame" in cols else np.arange(len(table))
        )
        ok = (frames >= 0) & (frames < n_frames)
        if not ok.any():
            raise ValueError(f"{path} has no frame inside 0..{n_frames - 1}")
        labels[frames[ok]] = table["behavior"].astype(str).to_numpy()[ok]
    else:
        raise ValueError(
            f"{path} has columns {sorted(cols)}; expected 'frame, behavior' (one "
            "row per frame) or 'behavior, start, end' (one row per bout)"
        )
    return np.asarray(labels).astype(str)


def read_behavior_names(path: str | os.PathLike) -> list[str]:
    """Read the behaviours named in a labels CSV, in order of first appearance.

    They are the values of its ``behavior`` column.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it has no ``behavior`` column.
    """
    names = pd.read_csv(path, usecols=["behavior"])["behavior"]
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
