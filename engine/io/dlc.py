"""DeepLabCut labels and predictions (``.h5`` via pandas/PyTables and ``.csv``).

Exactly DeepLabCut's layout (see ``shared/docs/dlc-formats.md``):

- labels ``CollectedData_<scorer>.h5``: key ``df_with_missing``, columns
  ``scorer/bodyparts/coords`` (``x, y``) or ``scorer/individuals/bodyparts/coords``;
  rows ``labeled-data/<video>/img<idx>.png`` as one string or as DLC ≥ 2.2's 3-level
  index. The ``.csv`` twin has 3 (or 4) header rows.
- predictions ``<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5``: key
  ``df_with_missing``, table format, integer frame index, coords ``x, y, likelihood``.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from .. import logger
from .._fileio import atomic_path, atomic_paths
from ..poses import frame_numbers, from_numpy, mark_time_unit
from . import register_loader, register_saver

__all__ = [
    "LabelError",
    "analysis_metadata",
    "column_points",
    "H5_KEY",
    "read_labels",
    "write_labels",
    "read_dlc_csv",
    "convert_csv_to_h5",
    "convert_h5_to_csv",
    "convert_dlc_file",
    "index_to_paths",
    "paths_to_index",
    "make_labels_frame",
    "labels_to_array",
    "validate_labels",
    "predictions_frame",
    "write_predictions",
    "read_predictions",
    "load_dlc",
    "save_dlc",
    "are_labels",
    "labeller_of",
    "write_hdf",
    "PANDAS_HDF_VERSION",
]

H5_KEY = "df_with_missing"
_READ_KEYS = ("df_with_missing", "keypoints", "tracks")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: The ``pandas_version`` attribute pandas 0.15.2 … 2.x write on every object in an HDF
#: file. pandas 3 no longer writes it, and pandas 2 (which DeepLabCut 3.0 requires)
#: then takes a table for a pre-0.10.1 file and fails to read it
#: (``'NoneType' object has no attribute 'startswith'``); :func:`write_hdf` adds it.
PANDAS_HDF_VERSION = "0.15.2"


class LabelError(ValueError):
    """A label file is malformed or does not match the project."""


# ---------------------------------------------------------------- row index


def index_to_paths(index: pd.Index) -> list[str]:
    """Row index (string or 3-level) → ``labeled-data/<video>/<img>`` with ``/``."""
    if isinstance(index, pd.MultiIndex):
        return ["/".join(str(p) for p in row) for row in index]
    return [str(p).replace("\\", "/") for p in index]


def paths_to_index(paths: Sequence[str], *, multiindex: bool = True) -> pd.Index:
    """``labeled-data/<video>/<img>`` strings → DLC ≥ 2.2 3-level index (or strings)."""
    paths = [str(p).replace("\\", "/") for p in paths]
    if not multiindex:
        return pd.Index(paths)  # same dtype as pandas reads back from .h5/.csv
    parts = [tuple(p.split("/")) for p in paths]
    if any(len(p) != 3 for p in parts):
        bad = next(p for p in paths if len(p.split("/")) != 3)
        raise LabelError(
            f"Row {bad!r} is not of the form labeled-data/<video>/<image>.png"
        )
    return pd.MultiIndex.from_tuples(parts)


# ---------------------------------------------------------------- reading


def read_labels(path: str | os.PathLike) -> pd.DataFrame:
    """Read a DLC label file (``.h5`` with any known key, or ``.csv``).

    Parameters
    ----------
    path
        ``CollectedData_<scorer>.h5`` or ``.csv`` (single- or multi-animal).

    Returns
    -------
    pandas.DataFrame
        Columns ``scorer/bodyparts/coords`` (or with ``individuals``), float64 with NaN
        for missing points; the row index as stored in the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    LabelError
        If the file cannot be parsed as DLC labels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No label file at {path}")
    if _is_hdf5(path):
        return _read_h5(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise LabelError(
            f"Could not read {path} as a DeepLabCut h5 file (it does not start with the "
            "HDF5 signature). If the file was cut short, restore it from the .csv twin "
            "with "
            "posekit.engine.io.dlc.convert_csv_to_h5."
        )
    return read_dlc_csv(path)


def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == _HDF5_MAGIC
    except OSError:
        return False


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            key = next((k for k in _READ_KEYS if k in keys), keys[0] if keys else None)
            if key is None:
                raise LabelError(f"{path} holds no pandas table")
            df = store[key]
    except LabelError:
        raise
    except Exception as err:  # HDF5/PyTables raise many types for corrupt files
        raise LabelError(
            f"Could not read {path} as a DeepLabCut h5 file ({type(err).__name__}: {err}). "
            "If the file was cut short, restore it from the .csv twin with "
            "posekit.engine.io.dlc.convert_csv_to_h5."
        ) from err
    _check_columns(df, path)
    _check_xy_pairs(path, df.columns)
    return df


def _check_columns(df: pd.DataFrame, path: Path) -> None:
    names = list(df.columns.names)
    if names not in (
        ["scorer", "bodyparts", "coords"],
        ["scorer", "individuals", "bodyparts", "coords"],
    ):
        raise LabelError(
            f"{path}: column levels are {names}; DeepLabCut files have "
            "['scorer', 'bodyparts', 'coords'] (or with 'individuals')."
        )


def read_dlc_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a DLC ``.csv`` (3 or 4 header rows, 1 or 3 index columns, ragged rows).

    Missing cells (including rows shorter than the header) become NaN.

    Parameters
    ----------
    path
        The ``.csv`` file (``CollectedData_<scorer>.csv`` or a predictions file).

    Returns
    -------
    pandas.DataFrame
        Float values with DLC's column levels (``scorer``, [``individuals``,]
        ``bodyparts``, ``coords``); the index is the frame paths (1 or 3 levels) or,
        for predictions, the frame numbers.

    Raises
    ------
    LabelError
        If the file is not UTF-8 text, its header is not DLC's, or a cell is not a
        number.
    """
    path = Path(path)
    return _frame_from_csv_rows(path, _read_csv_rows(path))


def _frame_from_csv_rows(path: Path, rows: list[list[str]]) -> pd.DataFrame:
    """Check and read the cells of a DLC-style ``.csv`` (what :func:`read_dlc_csv` does).

    The Lightning Pose reader passes its rows (less the ``set`` column) through here,
    so both formats are checked the same way: header rows, repeated columns, a
    bodypart with ``x`` but no ``y`` (or the reverse), cells that are not numbers.

    Parameters
    ----------
    path
        The file the rows come from (named in the messages).
    rows
        Its cells, as :func:`csv.reader` gives them (``scorer`` row first).

    Returns
    -------
    pandas.DataFrame
        See :func:`read_dlc_csv`.

    Raises
    ------
    LabelError
        If the header is not DLC's, a column is repeated or lacks its ``x``/``y``
        partner, or a cell is not a number.
    """
    header = _csv_header_rows(path, rows)
    names = [h[0] for h in header]
    width = max(len(r) for r in rows)
    header = [r + [""] * (width - len(r)) for r in header]
    n_index = _csv_index_columns(path, header[-1], width)
    _check_header_complete(path, header, n_index)
    _fill_forward(header[0], n_index)
    columns = pd.MultiIndex.from_arrays([h[n_index:] for h in header], names=names)
    if columns.has_duplicates:
        dup = list(dict.fromkeys(columns[columns.duplicated()]))
        raise LabelError(
            f"{path}: the header names the same column more than once: "
            f"{dup[:5]}{' …' if len(dup) > 5 else ''}. Each (individual,) bodypart and "
            "coordinate may appear once; remove or rename the repeated columns."
        )
    _check_xy_pairs(path, columns)
    index, data = _csv_body(path, rows, len(header), n_index, width)
    return pd.DataFrame(data, index=index, columns=columns)


def _check_xy_pairs(path: Path, columns: pd.MultiIndex) -> None:
    """Refuse a bodypart that has an ``x`` column and no ``y`` (or the reverse)."""
    groups: dict[tuple, set[str]] = {}
    for col in columns:
        groups.setdefault(tuple(col[:-1]), set()).add(str(col[-1]))
    lone = [
        (key, "x" if "x" in coords else "y")
        for key, coords in groups.items()
        if len({"x", "y"} & coords) == 1
    ]
    if lone:
        named = [f"{'/'.join(map(str, key[1:]))} ({has} only)" for key, has in lone]
        raise LabelError(
            f"{path}: {len(lone)} bodypart(s) have one coordinate column without the "
            f"other: {named[:5]}{' …' if len(named) > 5 else ''}. Each bodypart needs "
            "both an x and a y column: add the missing one or remove the lone one."
        )


def _read_csv_rows(path: Path) -> list[list[str]]:
    """Read the cells of a DLC ``.csv``, checking that it starts with ``scorer``.

    What a spreadsheet leaves in a file it saved is read too: a byte-order mark,
    empty rows at the end, and, in locales that write decimal commas, ``;`` between
    the cells (the cells' commas then become points).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # Excel adds a BOM
            text = fh.read()
    except UnicodeDecodeError as err:
        raise LabelError(
            f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); save it "
            "again as 'CSV UTF-8', or restore it from the .h5 with convert_h5_to_csv."
        ) from err
    semicolons = text.startswith("scorer;")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if semicolons else ","))
    if semicolons:
        rows = [[cell.replace(",", ".") for cell in row] for row in rows]
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # a spreadsheet's empty rows at the end
    if not rows or rows[0][:1] != ["scorer"]:
        raise LabelError(
            f"{path} is not a DeepLabCut CSV: its first cell should be 'scorer'."
        )
    return rows


def _csv_header_rows(path: Path, rows: list[list[str]]) -> list[list[str]]:
    """Return the header rows (``scorer`` … ``coords``), checking their names."""
    n_header = 0
    for row in rows:
        if row and row[0] in ("scorer", "individuals", "bodyparts", "coords"):
            n_header += 1
        else:
            break
    header = rows[:n_header]
    names = [h[0] for h in header]
    if names not in (
        ["scorer", "bodyparts", "coords"],
        ["scorer", "individuals", "bodyparts", "coords"],
    ):
        raise LabelError(f"{path}: unexpected header rows {names}")
    return header


def _csv_index_columns(path: Path, coords_row: list[str], width: int) -> int:
    """Count the index columns: 1, or 3 in v2 files.

    In v2 files the header rows have 2 empty cells after the name, in the 2 extra
    index columns.
    """
    n_index = 1
    while n_index < width and coords_row[n_index] == "":
        n_index += 1
    if n_index not in (1, 3):
        raise LabelError(f"{path}: cannot tell the index columns ({n_index})")
    return n_index


def _check_header_complete(path: Path, header: list[list[str]], n_index: int) -> None:
    """Refuse a header row (below ``scorer``) with empty or missing entries."""
    n_columns = max(len(h) for h in header) - n_index
    for h in header[1:]:
        named = sum(1 for c in h[n_index:] if c.strip())
        if named < n_columns:
            raise LabelError(
                f"{path}: the header row {h[0]!r} has missing entries: it names "
                f"{named} of the {n_columns} columns. Every column needs its "
                f"{h[0]} entry: fill the row in (the file may have been cut short or "
                "edited by hand), or export the file again."
            )


def _fill_forward(scorer_row: list[str], n_index: int) -> None:
    """Fill the empty cells of a ragged scorer row with the name before them."""
    last = ""
    for j in range(n_index, len(scorer_row)):
        if scorer_row[j] == "":
            scorer_row[j] = last
        last = scorer_row[j] or last


def _csv_body(
    path: Path, rows: list[list[str]], n_header: int, n_index: int, width: int
) -> tuple[pd.Index, np.ndarray]:
    """Read the rows below the header into an index and a float array (NaN if empty)."""
    body = rows[n_header:]
    index_vals, data = [], np.full((len(body), width - n_index), np.nan)
    for i, row in enumerate(body):
        row = row + [""] * (width - len(row))
        index_vals.append(tuple(row[:n_index]) if n_index == 3 else row[0])
        for j, cell in enumerate(row[n_index:]):
            if cell.strip():
                try:
                    data[i, j] = float(cell)
                except ValueError as err:
                    raise LabelError(
                        f"{path}, row {n_header + i + 1}: {cell!r} is not a number"
                    ) from err
    if n_index == 3:
        index = pd.MultiIndex.from_tuples(index_vals)
    elif index_vals and all(re.fullmatch(r"\d+", v) for v in index_vals):
        index = pd.Index([int(v) for v in index_vals], dtype="int64")  # predictions
    else:
        index = pd.Index(index_vals)  # the dtype pandas gives when reading the .h5
    return index, data


# ---------------------------------------------------------------- writing


def write_hdf(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    key: str = H5_KEY,
    format: Literal["fixed", "table"] = "table",
) -> Path:
    """Write ``df`` to a new HDF5 file atomically, readable by pandas 2.2+ and 3.x.

    pandas 3 stopped writing the ``pandas_version`` attribute; pandas 2 reads a table
    without it as a file older than pandas 0.10.1, looks for column blocks under
    their old names and fails. This writes with the installed pandas, then adds
    ``pandas_version`` (:data:`PANDAS_HDF_VERSION`, what pandas 2 writes) to every
    pandas object in the file that lacks it. Every HDF5 file posekit writes (labels,
    predictions, filtered predictions, evaluation results) goes through here.

    Parameters
    ----------
    df
        The frame.
    path
        Target file (replaced).
    key
        HDF key (DeepLabCut: ``df_with_missing``; tracklets: ``tracks``).
    format
        ``"table"`` (predictions, as DeepLabCut writes them) or ``"fixed"`` (labels).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        _write_hdf_file(df, tmp, key=key, format=format)
    return path


def _write_hdf_file(
    df: pd.DataFrame, path: Path, *, key: str, format: Literal["fixed", "table"]
) -> None:
    """Write ``df`` to ``path`` (not atomically) with ``pandas_version`` added."""
    import tables

    df.to_hdf(path, key=key, format=format, mode="w")
    with tables.open_file(path, mode="a") as h5:
        for group in h5.walk_groups():
            names = group._v_attrs._v_attrnames
            if "pandas_type" in names and "pandas_version" not in names:
                group._v_attrs.pandas_version = PANDAS_HDF_VERSION


def write_labels(
    df: pd.DataFrame, path: str | os.PathLike, *, csv: bool = True
) -> Path:
    """Write labels as DLC does: ``.h5`` (key ``df_with_missing``) and the ``.csv`` twin.

    Both files are written atomically (temp files + ``os.replace``): a kill at any
    moment leaves either the old or the new file, never a broken one. Both temporary
    files are written before either replaces its file, so a failure while writing
    (disk full, Ctrl-C) leaves both old files, never one new and one old.

    Parameters
    ----------
    df
        Labels with DLC columns (see :func:`make_labels_frame`).
    path
        Target ``.h5`` path (``CollectedData_<scorer>.h5``).
    csv
        Also write the ``.csv`` beside it.

    Returns
    -------
    Path
        The ``.h5`` path.
    """
    path = Path(path).with_suffix(".h5")
    _check_columns(df, path)
    df = df.astype("float64")
    # Fixed format, like DLC's merge_annotateddatasets (a 3-level row index cannot go
    # into a PyTables table).
    targets = [path, path.with_suffix(".csv")] if csv else [path]
    with atomic_paths(*targets) as tmps:
        _write_hdf_file(df, tmps[0], key=H5_KEY, format="fixed")
        if csv:
            df.to_csv(tmps[1])
    return path


def convert_dlc_file(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Rewrite a DeepLabCut file as ``.csv`` or ``.h5`` with its table unchanged.

    Labels keep their image paths and labeller (the scorer), predictions their scorer
    and frame numbers: the file DeepLabCut's ``convertcsv2h5`` or
    ``analyze_videos_converth5_to_csv`` would write. Labels go into a fixed-format
    ``.h5`` (as DeepLabCut's labelling writes them), predictions into a table-format
    one; both under the key ``df_with_missing``, written atomically.

    Parameters
    ----------
    src
        A DeepLabCut ``.h5`` or ``.csv`` (labels or predictions, single- or
        multi-animal).
    dst
        The file to write: a ``.csv``, else an HDF5 file.

    Returns
    -------
    Path
        ``dst``.

    Raises
    ------
    LabelError
        If ``src`` is not a readable DeepLabCut table.

    Examples
    --------
    >>> convert_dlc_file("CollectedData_me.csv", "CollectedData_me.h5")  # doctest: +SKIP
    """
    df = read_labels(src)
    dst = Path(dst)
    if dst.suffix.lower() == ".csv":
        with atomic_path(dst) as tmp:
            df.to_csv(tmp)
        return dst
    if pd.api.types.is_integer_dtype(df.index):
        return write_predictions(df, dst)
    _check_columns(df, dst)
    write_hdf(df.astype("float64"), dst, key=H5_KEY, format="fixed")
    return dst


def convert_csv_to_h5(csv_path: str | os.PathLike) -> Path:
    """DLC's ``convertcsv2h5`` for one file: read the ``.csv``, write the ``.h5``.

    A label file (``CollectedData_<scorer>.csv``) is read and converted under its
    folder's lock, as the labelling app saves, so that a point a labeller saves
    meanwhile is not reverted by the ``.csv`` read before it.
    """
    csv_path = Path(csv_path)
    if not csv_path.name.startswith("CollectedData_"):
        return convert_dlc_file(csv_path, csv_path.with_suffix(".h5"))
    from ..labels import _folder_lock

    with _folder_lock(csv_path.parent):
        return convert_dlc_file(csv_path, csv_path.with_suffix(".h5"))


def convert_h5_to_csv(h5_path: str | os.PathLike) -> Path:
    """Write the ``.csv`` twin of a DLC ``.h5`` file."""
    return convert_dlc_file(h5_path, Path(h5_path).with_suffix(".csv"))


# ---------------------------------------------------------------- arrays


def make_labels_frame(
    scorer: str,
    bodyparts: Sequence[str],
    image_paths: Sequence[str],
    coords: np.ndarray,
    *,
    individuals: Sequence[str] | None = None,
    multiindex_rows: bool = True,
) -> pd.DataFrame:
    """Build a DLC labels DataFrame from arrays.

    Parameters
    ----------
    scorer
        Labeller name.
    bodyparts
        Bodypart names (config order).
    image_paths
        ``labeled-data/<video>/<image>`` for each row.
    coords
        ``(n_images, n_bodyparts, 2)`` or, with ``individuals``,
        ``(n_images, n_individuals, n_bodyparts, 2)``; NaN for missing points.
    individuals
        Individual names for a multi-animal frame.
    multiindex_rows
        Use DLC ≥ 2.2's 3-level row index (default) or one string per row.
    """
    coords = np.asarray(coords, dtype=float)
    n = len(image_paths)
    if individuals is None:
        columns = pd.MultiIndex.from_product(
            [[scorer], list(bodyparts), ["x", "y"]],
            names=["scorer", "bodyparts", "coords"],
        )
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], list(individuals), list(bodyparts), ["x", "y"]],
            names=["scorer", "individuals", "bodyparts", "coords"],
        )
    return pd.DataFrame(
        coords.reshape(n, -1),
        index=paths_to_index(image_paths, multiindex=multiindex_rows),
        columns=columns,
    )


def labels_to_array(
    df: pd.DataFrame, bodyparts: Sequence[str] | None = None
) -> np.ndarray:
    """Labels → ``(n_images, n_bodyparts, 2)`` (single-animal) in ``bodyparts`` order.

    Multi-animal frames give ``(n_images, n_individuals, n_bodyparts, 2)``.
    """
    scorer = df.columns.get_level_values("scorer")[0]
    sub = df[scorer]
    if "individuals" in df.columns.names:
        inds = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
        bps = bodyparts or list(
            dict.fromkeys(sub.columns.get_level_values("bodyparts"))
        )
        out = np.full((len(df), len(inds), len(bps), 2), np.nan)
        for i, ind in enumerate(inds):
            for j, bp in enumerate(bps):
                if (ind, bp, "x") in sub.columns:
                    out[:, i, j, 0] = sub[(ind, bp, "x")].to_numpy(float)
                    out[:, i, j, 1] = sub[(ind, bp, "y")].to_numpy(float)
        return out
    bps = (
        list(bodyparts)
        if bodyparts is not None
        else list(dict.fromkeys(sub.columns.get_level_values("bodyparts")))
    )
    out = np.full((len(df), len(bps), 2), np.nan)
    for j, bp in enumerate(bps):
        if (bp, "x") in sub.columns:
            out[:, j, 0] = sub[(bp, "x")].to_numpy(float)
            out[:, j, 1] = sub[(bp, "y")].to_numpy(float)
    return out


def validate_labels(
    df: pd.DataFrame,
    bodyparts: Sequence[str],
    *,
    project_path: str | os.PathLike | None = None,
    check_images: bool = True,
) -> None:
    """Check labels against a project; raise :class:`LabelError` with every problem.

    Checks: bodyparts in the file that the config does not list, duplicated frames, a
    missing image file, coordinates outside the image (``0 <= x <= width``,
    ``0 <= y <= height``; named by frame, bodypart, coordinates and image size, with
    what to do). Bodyparts the config lists but
    the file lacks (added to the config after labelling) are not an error: they are
    unlabelled in these frames, and a warning says so.
    """
    import cv2

    problems: list[str] = []
    file_bps = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    unknown = [b for b in file_bps if b not in bodyparts]
    if unknown:
        problems.append(
            f"bodyparts {unknown} are in the label file but not in config.yaml "
            f"(config lists {list(bodyparts)}); add them to the config or remove them "
            "from the labels"
        )
    absent = [b for b in bodyparts if b not in file_bps]
    # a bodypart added to the config after labelling: unlabelled in these frames (as
    # DeepLabCut treats it); said with the errors, where it may explain a renaming
    absent_note = (
        f"bodyparts {absent} are in config.yaml but not in the label file"
        if absent
        else ""
    )
    paths = index_to_paths(df.index)
    dup = sorted({p for p in paths if paths.count(p) > 1})
    if dup:
        problems.append(f"duplicated frames: {dup[:5]}{' …' if len(dup) > 5 else ''}")
    if project_path is not None and check_images:
        root = Path(project_path)
        sizes: dict[str, tuple[int, int]] = {}
        missing = []
        for p in dict.fromkeys(paths):
            f = root / p
            if not f.is_file():
                missing.append(p)
                continue
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                missing.append(p)
                continue
            sizes[p] = (img.shape[1], img.shape[0])
        if missing:
            problems.append(
                f"{len(missing)} labelled image file(s) missing or unreadable, e.g. "
                f"{missing[:3]}: put them back (extract_frames(project, video, "
                "indices=[...]) writes img<index>.png again from a video of the "
                "project), or remove their rows from the label file"
            )
        outside = _points_outside(df, paths, sizes)
        if outside:
            problems.append(_outside_message(outside))
    if problems:
        if absent_note:
            problems.append(absent_note)
        raise LabelError("Invalid labels:\n- " + "\n- ".join(problems))
    if absent_note:
        logger.warning(
            "%s: they count as unlabelled in these frames (label them in the "
            "labelling app)",
            absent_note,
        )


def column_points(columns: pd.MultiIndex) -> list[str]:
    """Return the point of each ``x`` column of a DeepLabCut table, in column order.

    ``bodypart``, or a multi-animal table's ``<individual>/<bodypart>`` (the label
    store's point names, :func:`~posekit.engine.multianimal.labels.slot_name`).

    Examples
    --------
    >>> cols = pd.MultiIndex.from_product(
    ...     [["s"], ["mus1", "mus2"], ["snout"], ["x", "y"]],
    ...     names=["scorer", "individuals", "bodyparts", "coords"])
    >>> column_points(cols)
    ['mus1/snout', 'mus2/snout']
    """
    return ["/".join(str(v) for v in c[1:-1]) for c in columns if c[-1] == "x"]


def _points_outside(
    df: pd.DataFrame, paths: list[str], sizes: dict[str, tuple[int, int]]
) -> list[tuple[str, tuple[int, int], list[tuple[str, float, float]]]]:
    """Points outside their image: ``(frame, (w, h), [(bodypart, x, y), ...])``.

    A point is inside when ``0 <= x <= w`` and ``0 <= y <= h``; a multi-animal
    point is named ``<individual>/<bodypart>``.
    """
    names = column_points(df.columns)
    xs = df.xs("x", axis=1, level="coords").to_numpy(float)
    ys = df.xs("y", axis=1, level="coords").to_numpy(float)
    out = []
    for i, p in enumerate(paths):
        if p not in sizes:
            continue
        w, h = sizes[p]
        bad = (xs[i] < 0) | (xs[i] > w) | (ys[i] < 0) | (ys[i] > h)
        if np.any(bad):
            points = [(names[j], xs[i, j], ys[i, j]) for j in np.flatnonzero(bad)]
            out.append((p, (w, h), points))
    return out


def _outside_message(
    outside: list[tuple[str, tuple[int, int], list[tuple[str, float, float]]]],
    shown: int = 5,
) -> str:
    """Say which points lie outside their image, and what to do."""
    lines = []
    for frame, (w, h), points in outside[:shown]:
        where = ", ".join(f"{bp} ({x:.1f}, {y:.1f})" for bp, x, y in points)
        lines.append(f"{frame} (image {w}×{h} px): {where}")
    more = len(outside) - shown
    if more > 0:
        lines.append(f"… and {more} more frame(s)")
    videos = list(dict.fromkeys(Path(f).parent.name for f, _, _ in outside))
    return (
        f"coordinates outside the image in {len(outside)} frame(s) (a point must "
        "lie within 0 ≤ x ≤ width and 0 ≤ y ≤ height):\n  "
        + "\n  ".join(lines)
        + "\n  Move each of these points inside the image, or delete it (or mark it "
        "not visible), in the labelling app (notebooks/label.ipynb; video "
        + ", ".join(videos)
        + "; its Go to box finds a frame by name) or in the refine app "
        "(notebooks/refine.ipynb), then run this again"
    )


# ---------------------------------------------------------------- predictions


def predictions_frame(
    xyp: np.ndarray,
    scorer: str,
    bodyparts: Sequence[str],
    *,
    individuals: Sequence[str] | None = None,
    index: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Predictions ``(n_frames, n_bodyparts, 3)`` (x, y, likelihood) → DLC DataFrame.

    With ``individuals`` the array is ``(n_frames, n_individuals, n_bodyparts, 3)``.
    """
    xyp = np.asarray(xyp, dtype=float)
    n = xyp.shape[0]
    if individuals is None:
        columns = pd.MultiIndex.from_product(
            [[scorer], list(bodyparts), ["x", "y", "likelihood"]],
            names=["scorer", "bodyparts", "coords"],
        )
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], list(individuals), list(bodyparts), ["x", "y", "likelihood"]],
            names=["scorer", "individuals", "bodyparts", "coords"],
        )
    idx = pd.RangeIndex(n) if index is None else pd.Index(index)
    return pd.DataFrame(xyp.reshape(n, -1), index=idx, columns=columns)


def write_predictions(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    save_csv: bool = False,
    key: str = H5_KEY,
) -> Path:
    """Write predictions as DLC does (table format, key ``df_with_missing``), atomically.

    The file opens with pandas 2 and 3 alike (see :func:`write_hdf`).
    """
    path = Path(path)
    write_hdf(df, path, key=key, format="table")
    if save_csv:
        with atomic_path(path.with_suffix(".csv")) as tmp:
            df.to_csv(tmp)
    return path


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read DLC predictions (``.h5`` any key — ``df_with_missing``, ``tracks`` — or ``.csv``)."""
    return read_labels(path)


# ---------------------------------------------------------------- poses dataset


_COORDS = ("x", "y", "likelihood")


def _dataframe_to_poses(
    df: pd.DataFrame,
    *,
    fps: float | None,
    source_file: str | None,
    labels: bool = False,
) -> xr.Dataset:
    scorer = df.columns.get_level_values("scorer")[0]
    sub = df[scorer]
    coords_names = list(dict.fromkeys(sub.columns.get_level_values("coords")))
    name = Path(source_file).name if source_file else "the table"
    unknown = [c for c in coords_names if c not in _COORDS]
    if unknown:
        logger.warning(
            "%s: coords %s not read: DeepLabCut's are x, y and likelihood (a "
            "misspelled likelihood leaves the confidence empty, and a p-cutoff "
            "then keeps every point)",
            name,
            unknown,
        )
    bps = list(dict.fromkeys(sub.columns.get_level_values("bodyparts")))
    unique: list[str] = []
    if "individuals" in df.columns.names:
        inds = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
        if "single" in inds:
            unique = list(dict.fromkeys(sub["single"].columns.get_level_values(0)))
    else:
        inds = ["individual_0"]
        sub = pd.concat({"individual_0": sub}, axis=1)
    n = len(df)
    pos = np.full((n, 2, len(bps), len(inds)), np.nan)
    conf = np.full((n, len(bps), len(inds)), np.nan)
    no_likelihood: list[str] = []
    for i, ind in enumerate(inds):
        for j, bp in enumerate(bps):
            if (ind, bp, "x") not in sub.columns:
                continue
            pos[:, 0, j, i] = sub[(ind, bp, "x")].to_numpy(float)
            pos[:, 1, j, i] = sub[(ind, bp, "y")].to_numpy(float)
            if (ind, bp, "likelihood") in sub.columns:
                conf[:, j, i] = sub[(ind, bp, "likelihood")].to_numpy(float)
            else:
                no_likelihood.append(bp if len(inds) == 1 else f"{ind}/{bp}")
    if no_likelihood and not labels:  # label files have none: x, y only
        n_read = sum((ind, bp, "x") in sub.columns for ind in inds for bp in bps)
        logger.warning(
            "%s: no likelihood column for %s: their confidence is empty (NaN), so "
            "a p-cutoff keeps all their points",
            name,
            "any bodypart"
            if len(no_likelihood) == n_read
            else ", ".join(no_likelihood),
        )
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=bps,
        individual_names=inds,
        fps=fps,
        source_software="DeepLabCut",
        source_file=source_file,
    )
    if unique:
        ds.attrs["unique_bodyparts"] = unique
    return ds


def _sniff_dlc(path: Path) -> bool:
    """Recognise a DeepLabCut file by its content, whatever its extension.

    An HDF5 file holding a pandas object under ``df_with_missing``, ``keypoints`` or
    ``tracks``; or a text file whose first cell is ``scorer`` with DLC's header rows
    (``scorer``, [``individuals``,] ``bodyparts``, ``coords``) that is not a Lightning
    Pose CSV (:func:`~posekit.engine.io.lightning_pose.is_lightning_pose_csv`);
    cells separated by ``,`` or, as spreadsheets save them, ``;``.
    """
    if _is_hdf5(path):
        # h5py, not pandas.HDFStore: PyTables warns about every node of a foreign
        # layout (NWB, SLEAP), and only the top-level pandas groups matter here
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                return any(
                    key in fh and "pandas_type" in fh[key].attrs for key in _READ_KEYS
                )
        except (OSError, ValueError):
            return False
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            lines = [fh.readline() for _ in range(4)]
        # a spreadsheet in a decimal-comma locale writes ";" between the cells
        sep = ";" if lines[0].startswith("scorer;") else ","
        head = [next(csv.reader([line], delimiter=sep), []) for line in lines]
    except (OSError, UnicodeDecodeError):
        return False
    names = [row[0] if row else "" for row in head]
    if names[:3] != ["scorer", "bodyparts", "coords"] and names != [
        "scorer",
        "individuals",
        "bodyparts",
        "coords",
    ]:
        return False
    from .lightning_pose import is_lightning_pose_csv

    return not (path.suffix.lower() == ".csv" and is_lightning_pose_csv(path))


@register_loader("DeepLabCut", sniff=_sniff_dlc, suffixes=(".h5", ".csv"))
def load_dlc(path: str | os.PathLike, *, fps: float | None = None) -> xr.Dataset:
    """Load DeepLabCut/posekit predictions or labels (``.h5``/``.csv``) as poses.

    Single-animal files get one individual ``individual_0``; multi-animal files keep
    their individuals (unique bodyparts under ``single``, named in
    ``attrs["unique_bodyparts"]``). Label files (no likelihood) get NaN confidence
    and their image paths in ``attrs["frames"]``. Predictions keep their frame
    numbers (``time``, in seconds when the frame rate is known) and their scorer
    (``attrs["scorer"]``); the frame rate is ``fps``, else the one the analysis
    recorded in ``<video><scorer>_meta.pickle`` beside the file. The video they
    were made from (``<video stem>DLC_<scorer>.h5``, found beside the file by
    :func:`posekit.engine.project.find_video`) is ``attrs["video_path"]``, which the
    SLEAP and NWB writers link to.

    Examples
    --------
    >>> ds = load_dlc("video1DLC_mobnet_35_demoNov25shuffle1_1000.h5", fps=30)  # doctest: +SKIP
    """
    path = Path(path)
    df = read_labels(path)
    if not pd.api.types.is_integer_dtype(df.index):
        # labels: rows are image paths; keep them as an attribute
        ds = _dataframe_to_poses(
            df.reset_index(drop=True), fps=fps, source_file=str(path), labels=True
        )
        ds.attrs["frames"] = index_to_paths(df.index)
        return mark_time_unit(ds)
    from ..project import find_video

    meta = analysis_metadata(path) or {}
    if fps is None:
        fps = _recorded_fps(path)
    ds = _dataframe_to_poses(df, fps=fps, source_file=str(path))
    frames = df.index.to_numpy(np.float64)
    ds = ds.assign_coords(time=frames / fps if fps else frames)
    ds = _with_frame_times(ds, meta.get("frame_times"), frames)
    ds.attrs["scorer"] = str(df.columns.get_level_values("scorer")[0])
    video = find_video(path)
    if video is not None:
        ds.attrs["video_path"] = str(video.absolute())
    return mark_time_unit(ds)


# DeepLabCut's multi-animal tracks: <video><scorer>_el.h5 (ellipse), _bx (box),
# _sk (skeleton); their _meta.pickle is <video><scorer>_meta.pickle.
_TRACKS_SUFFIX = re.compile(r"_(el|bx|sk)$")


def analysis_metadata(predictions: str | os.PathLike) -> dict | None:
    """Return the ``data`` of the ``_meta.pickle`` an analysis wrote beside a file.

    ``<video><scorer>_meta.pickle`` (also for the ``…_filtered.h5`` and for a
    multi-animal analysis' tracks ``…_el.h5``, ``_bx``, ``_sk``), read with the
    safe unpickler; ``None`` when it is missing or unreadable (logged).
    """
    from .safe_pickle import read_pickle

    path = Path(predictions)
    stem = _TRACKS_SUFFIX.sub("", path.stem.removesuffix("_filtered"))
    meta = path.with_name(f"{stem}_meta.pickle")
    if not meta.is_file():
        return None
    try:
        data = read_pickle(meta)["data"]
    except (OSError, pickle.UnpicklingError, KeyError, TypeError) as err:
        logger.info("%s cannot be read (%s)", meta, err)
        return None
    return data if isinstance(data, dict) else None


def write_analysis_metadata(path: str | os.PathLike, data: dict) -> Path:
    """Write an analysis' ``_meta.pickle`` (``{"data": data}``, DeepLabCut's), atomically.

    Parameters
    ----------
    path
        ``<video><scorer>_meta.pickle``.
    data
        The metadata (:func:`posekit.engine.inference.video_metadata`).

    Returns
    -------
    Path
        ``path``.
    """
    from .._fileio import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump({"data": data}, fh, pickle.HIGHEST_PROTOCOL)
    return path


def _with_frame_times(ds: xr.Dataset, times: object, frames: np.ndarray) -> xr.Dataset:
    """Add the analysis' ``frame_times`` (a variable frame rate) as ``frame_time``.

    The ``_meta.pickle``'s times (seconds from the first frame analysed, one per
    row) become a ``frame_time`` coordinate along ``time`` (seconds), which the
    behaviour rates use instead of ``1 / fps``. Rows of a trimmed file (``frames``,
    its frame numbers) keep their own frames' times. Without times, or when they do
    not match the rows, ``ds`` is returned as it is.
    """
    if times is None:
        return ds
    t = np.asarray(times, dtype=np.float64).ravel()
    rows = np.round(frames).astype(np.int64) if np.isfinite(frames).all() else None
    if rows is None or not np.array_equal(rows, frames):
        return ds
    if len(rows) and (rows.min() < 0 or rows.max() >= len(t)):
        return ds
    t = t[rows]  # each row its frame's time (a file trimmed to part of the analysis)
    return ds.assign_coords(
        frame_time=(
            "time",
            t,
            {
                "units": "seconds",
                "long_name": "the frame's presentation time in the video, from its "
                "first frame (variable frame rate)",
            },
        )
    )


def _recorded_fps(path: Path) -> float | None:
    """Return the ``fps`` in the ``_meta.pickle`` an analysis wrote beside ``path``."""
    try:
        value = float((analysis_metadata(path) or {})["fps"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


_SCORER_RE = re.compile(r"(DLC_.*)$")


@register_saver("DeepLabCut", suffixes=(".h5", ".csv"))
def save_dlc(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    scorer: str | None = None,
    save_csv: bool = False,
) -> Path:
    """Save a poses dataset as DeepLabCut predictions.

    Parameters
    ----------
    ds
        The poses dataset. One individual named ``individual_0``, ``individual1`` or
        ``single`` gives a single-animal file; otherwise the columns have an
        ``individuals`` level.
    path
        ``.h5`` (table format, key ``df_with_missing``; readable by pandas 2 and 3)
        or ``.csv`` (DeepLabCut's CSV alone).
    scorer
        The scorer level (default: the ``DLC_…`` part of the file name, else
        ``posekit``).
    save_csv
        With an ``.h5`` target, also write the ``.csv`` twin.

    Returns
    -------
    Path
        The written file.

    Notes
    -----
    Labelled images (``attrs["frames"]`` and no confidence, as any label file
    loads) are written as a DeepLabCut label file: rows the image paths
    (``labeled-data/<video>/<image>`` as DLC ≥ 2.2's 3-level index), coords ``x, y``,
    the labeller as the scorer (``CollectedData_<scorer>.h5``'s, else
    ``attrs["scorer"]``), fixed format. Label files are named
    ``CollectedData_<scorer>.h5`` in ``labeled-data/<video>/``.

    Predictions of images (``attrs["frames"]`` with a confidence, as
    ``posekit analyze-images`` writes them) keep the image names as their rows.

    DeepLabCut files keep x, y and the likelihood, bodypart and individual names
    (a multi-animal file's unique bodyparts only under ``single``:
    ``attrs["unique_bodyparts"]``, else the keypoints only ``single`` has) and the
    frame numbers (``time`` × ``fps``). The time coordinate, fps and other attributes
    are not stored; a 3-D ``space`` keeps x and y, and a skeleton (DeepLabCut keeps it
    in ``config.yaml``) is dropped, each with a warning.
    """
    path = Path(path)
    if are_labels(ds):
        return _save_labels(ds, path, scorer)
    if scorer is None:
        m = _SCORER_RE.search(path.stem)
        scorer = m.group(1) if m else str(ds.attrs.get("scorer") or "posekit")
    frames = ds.attrs.get("frames")
    if frames is not None and len(frames) == ds.sizes["time"]:
        index = [str(f) for f in frames]  # predictions of images (analyze-images)
    else:
        index = frame_numbers(ds, fmt="DeepLabCut")
    if ds.attrs.get("identities") is False and ds.sizes["individual"] > 1:
        logger.warning(
            "%s: these poses have no identities (the k-th animal of each frame, "
            "not the same animal from frame to frame); the individuals %s are not "
            "tracks",
            path.name,
            [str(i) for i in ds["individual"].values],
        )
    if ds.sizes.get("space", 2) > 2:
        logger.warning("%s: DeepLabCut files hold x and y; z is not written", path.name)
    if ds.attrs.get("skeleton"):
        logger.warning(
            "%s: DeepLabCut prediction files hold no skeleton (its config.yaml "
            "does); the %d edges are not written",
            path.name,
            len(ds.attrs["skeleton"]),
        )
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["confidence"].transpose("time", "individual", "keypoint").values
    xyp = np.concatenate([pos[..., :2], conf[..., None]], axis=-1)
    inds = [str(i) for i in ds["individual"].values]
    bps = [str(k) for k in ds["keypoint"].values]
    if len(inds) == 1 and inds[0] in ("individual_0", "individual1", "single"):
        df = predictions_frame(xyp[:, 0], scorer, bps, index=index)
    else:
        df = predictions_frame(xyp, scorer, bps, individuals=inds, index=index)
        unique = _unique_bodyparts(ds, inds, bps, xyp)
        if unique:
            keep = [
                (ind == "single") == (bp in unique)
                for _, ind, bp, _ in df.columns.to_list()
            ]
            df = df.loc[:, keep]
    if path.suffix.lower() == ".csv":
        with atomic_path(path) as tmp:
            df.to_csv(tmp)
        return path
    return write_predictions(df, path, save_csv=save_csv)


def are_labels(ds: xr.Dataset) -> bool:
    """Whether poses are labelled images: image paths and no confidence at all.

    Parameters
    ----------
    ds
        Poses dataset.

    Returns
    -------
    bool
        True for ``attrs["frames"]`` (image paths) with NaN confidence everywhere,
        as every label file (DeepLabCut, Lightning Pose, COCO, NWB) loads.
    """
    frames = ds.attrs.get("frames")
    return (
        frames is not None
        and len(frames) > 0
        and not np.isfinite(ds["confidence"].values).any()
    )


def labeller_of(ds: xr.Dataset) -> str:
    """Return the labeller of labels: ``attrs["scorer"]``, a label file's, or posekit.

    Parameters
    ----------
    ds
        Poses dataset of labels.

    Returns
    -------
    str
        ``attrs["scorer"]``, else the ``<scorer>`` of a ``CollectedData_<scorer>``
        source file, else ``"posekit"``.
    """
    match = re.match(
        r"CollectedData_(.+)\.(h5|csv)$",
        Path(str(ds.attrs.get("source_file") or "")).name,
    )
    return str(ds.attrs.get("scorer") or (match and match.group(1)) or "posekit")


def _save_labels(ds: xr.Dataset, path: Path, scorer: str | None) -> Path:
    """Write labelled images as a DeepLabCut label file (x, y; image-path rows)."""
    match = re.match(r"CollectedData_(.+)$", path.stem)
    scorer = scorer or (match.group(1) if match else None) or labeller_of(ds)
    rows = [str(f).replace("\\", "/") for f in ds.attrs["frames"]]
    three = all(len(r.split("/")) == 3 for r in rows)
    inds = [str(i) for i in ds["individual"].values]
    bps = [str(k) for k in ds["keypoint"].values]
    xy = ds["position"].transpose("time", "individual", "keypoint", "space").values
    xy = xy[..., :2]
    if len(inds) == 1 and inds[0] in ("individual_0", "individual1", "single"):
        df = make_labels_frame(scorer, bps, rows, xy[:, 0], multiindex_rows=three)
    else:
        df = make_labels_frame(
            scorer, bps, rows, xy, individuals=inds, multiindex_rows=three
        )
        unique = _unique_bodyparts(
            ds, inds, bps, np.concatenate([xy, np.zeros(xy.shape[:-1] + (1,))], axis=-1)
        )
        if unique:
            keep = [
                (ind == "single") == (bp in unique)
                for _, ind, bp, _ in df.columns.to_list()
            ]
            df = df.loc[:, keep]
    if not three:
        logger.warning(
            "%s: the image paths (e.g. %s) are not DeepLabCut's "
            "labeled-data/<video>/<image>: the rows are written as they are",
            path.name,
            rows[0],
        )
    if path.suffix.lower() == ".csv":
        with atomic_path(path) as tmp:
            df.to_csv(tmp)
        return path
    _check_columns(df, path)
    return write_hdf(df.astype("float64"), path, key=H5_KEY, format="fixed")


def _unique_bodyparts(
    ds: xr.Dataset, inds: list[str], bps: list[str], xyp: np.ndarray
) -> list[str]:
    """Return a multi-animal dataset's ``single`` keypoints (DLC's layout).

    ``attrs["unique_bodyparts"]`` when set; else the keypoints that only ``single``
    has a point for (none when ``single`` shares a keypoint with the animals).
    """
    if "single" not in inds:
        return []
    listed = ds.attrs.get("unique_bodyparts")
    listed = [] if listed is None else np.atleast_1d(listed).tolist()
    named = [str(b) for b in listed if str(b) in bps]
    if named:
        return named
    seen = np.isfinite(xyp[..., 0]).any(axis=0)  # (individual, keypoint)
    k = inds.index("single")
    others = np.delete(seen, k, axis=0).any(axis=0)
    if (seen[k] & others).any():
        return []
    return [bp for bp, own in zip(bps, seen[k] & ~others, strict=True) if own]
