"""Tables (CSV, Excel) and figures (PNG, SVG) of behaviour results.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot state,
no GUI backend, safe on headless cluster nodes and inside Voila. matplotlib is imported
only when a figure is made. Every file is written atomically.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .._fileio import atomic_path
from ._utils import position_of, resolve_fps, select_keypoint

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .roi import ROI

__all__ = [
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "check_excel_size",
    "save_table",
    "save_table_chunks",
    "save_tables",
    "new_figure",
    "save_figure",
    "plot_trajectory",
    "plot_occupancy_heatmap",
    "plot_speed",
    "plot_ethogram",
]

_TABLE_SUFFIXES = (".csv", ".xlsx", ".h5", ".nc")
_FIGURE_SUFFIXES = (".png", ".svg")


# ---------------------------------------------------------------- tables


def save_table(
    table: pd.DataFrame,
    path: str | os.PathLike,
    *,
    index: bool = False,
    float_format: str | None = None,
) -> Path:
    r"""Write one table as ``.csv``, ``.xlsx``, ``.h5`` or ``.nc`` (by the suffix).

    ``.h5``: pandas' HDF5 (``pd.read_hdf(path, "table")``), ``.nc``: a
    netCDF-4 file (HDF5 too; ``xarray.open_dataset``) with the float columns in one
    ``values (row, column)`` variable and each other column a ``(row,)`` variable.
    Both write a table of a million numbers in about a second, where CSV takes
    tens of seconds; a 10-minute recording's feature table was 643 MB as CSV with
    Python's full float digits.

    Parameters
    ----------
    table
        The table.
    path
        Target file.
    index
        Write the index too (CSV, Excel, HDF5).
    float_format
        CSV only: ``%``-format of the float cells (e.g. ``"%.6g"``: six significant
        digits, several times faster and half the size of the default, which
        writes every digit of a float64). ``None``: pandas' default.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If the suffix is none of ``.csv``, ``.xlsx``, ``.h5``, ``.nc``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> save_table(pd.DataFrame({"a": [1]}), p).read_text()
    'a\n1\n'
    >>> table = pd.DataFrame({"name": ["x", "y"], "v": [1 / 3, float("nan")]})
    >>> save_table(table, p, float_format="%.6g").read_text()
    'name,v\nx,0.333333\ny,\n'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return save_tables({"Sheet1": table}, path, index=index)
    if suffix not in _TABLE_SUFFIXES:
        raise ValueError(
            f"Cannot write a table to {path.name!r}: use one of {list(_TABLE_SUFFIXES)}"
        )
    with atomic_path(path) as tmp:
        if suffix == ".csv" and float_format is None:
            table.to_csv(tmp, index=index)
        elif suffix == ".csv":
            _write_csv(table, tmp, index=index, float_format=float_format)
        elif suffix == ".h5":
            table.to_hdf(tmp, key="table", mode="w", format="fixed", index=index)
        else:
            _table_dataset(table).to_netcdf(tmp, engine="h5netcdf")
    return path


#: Rows formatted and written at a time by :func:`save_table`'s fast CSV writer.
CSV_CHUNK_ROWS = 200


def _write_csv(
    table: pd.DataFrame, path: Path, *, index: bool, float_format: str
) -> None:
    """Write CSV in row chunks, float cells ``%``-formatted (NaN: an empty cell).

    ``DataFrame.to_csv`` formats cell by cell; here a chunk's rows are formatted
    with one ``%`` per row (5× faster). The other columns are written by pandas.
    """
    if index:
        table = table.reset_index()
    with open(path, "w", newline="") as fh:
        _append_csv(table, fh, float_format=float_format, header=True)


def _append_csv(
    table: pd.DataFrame, fh: IO[str], *, float_format: str, header: bool
) -> None:
    """Write the rows of ``table`` (and with ``header`` its header) to ``fh``."""
    floats = [
        i for i, dtype in enumerate(table.dtypes) if pd.api.types.is_float_dtype(dtype)
    ]
    others = [i for i in range(table.shape[1]) if i not in set(floats)]
    fast = others + floats == list(range(table.shape[1]))  # the floats come last
    row_format = ",".join([float_format] * len(floats))
    if header:
        table.iloc[:0].to_csv(fh, index=False)
    for start in range(0, len(table), CSV_CHUNK_ROWS):
        chunk = table.iloc[start : start + CSV_CHUNK_ROWS]
        if not fast:
            chunk.to_csv(fh, index=False, header=False, float_format=float_format)
            continue
        heads = [""] * len(chunk)
        if others:
            text = chunk.iloc[:, others].to_csv(index=False, header=False)
            heads = (
                [h + "," for h in text.splitlines()] if floats else text.splitlines()
            )
        values = chunk.iloc[:, floats].to_numpy(np.float64).tolist()
        lines = [
            head + (row_format % tuple(row)).replace("nan", "")
            for head, row in zip(heads, values, strict=True)
        ]
        fh.write("\n".join(lines) + "\n")


def save_table_chunks(
    chunks: Iterable[pd.DataFrame],
    path: str | os.PathLike,
    *,
    float_format: str | None = None,
    sheet_name: str = "Sheet1",
) -> Path:
    r"""Write a table given as consecutive row chunks, one chunk in memory at a time.

    The file is the one :func:`save_table` writes of the chunks put end to end
    (``pd.concat(chunks)``, without the index): ``.csv`` appended chunk by chunk;
    ``.h5`` pandas' fixed format (``pd.read_hdf(path, "table")``), its columns
    extended chunk by chunk (the text columns, a pointer per row, are written at
    the end); ``.nc`` netCDF-4 with an unlimited ``row`` dimension, extended chunk
    by chunk (``xarray.open_dataset``); ``.xlsx`` a workbook of one sheet
    (``sheet_name``), its rows streamed chunk by chunk (openpyxl's write-only
    mode: the sheet is spooled to a temporary file, about 50 bytes a cell,
    and zipped at the end), the cells those of :func:`save_table`. Excel holds
    :data:`EXCEL_MAX_ROWS` rows (the header is the first) and
    :data:`EXCEL_MAX_COLUMNS` columns a sheet: a longer table raises
    ``ValueError`` at the chunk that would pass the limit, leaving no file
    (a per-frame table that long is better read as ``.csv``, ``.h5`` or
    ``.nc``; a sheet split in parts would be read back in part).

    Parameters
    ----------
    chunks
        The row chunks: the same columns and dtypes; their index is not written.
    path
        Target file (``.csv``, ``.h5``, ``.nc`` or ``.xlsx``).
    float_format
        CSV only: ``%``-format of the float cells (:func:`save_table`).
    sheet_name
        ``.xlsx`` only: the sheet's name (cut to Excel's 31 characters).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If the suffix is none of those, there is no chunk, the chunks' columns
        differ, or (``.xlsx``) the table has more rows or columns than an Excel
        sheet holds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> parts = (pd.DataFrame({"a": [i, i + 1], "v": [0.5, 1.5]}) for i in (0, 2))
    >>> save_table_chunks(parts, p, float_format="%.3g").read_text()
    'a,v\n0,0.5\n1,1.5\n2,0.5\n3,1.5\n'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise ValueError(
            f"Cannot write a table to {path.name!r}: use one of {list(_TABLE_SUFFIXES)}"
        )
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        raise ValueError("save_table_chunks needs at least one chunk")
    columns = list(first.columns)

    def rest() -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            if list(chunk.columns) != columns:
                raise ValueError(
                    "the chunks of a table must have the same columns; received "
                    f"{list(chunk.columns)[:5]}... after {columns[:5]}..."
                )
            yield chunk

    if suffix == ".xlsx":
        name = str(sheet_name)[:31]
        with atomic_path(path) as tmp:
            _write_xlsx(tmp, [(name, itertools.chain([first], rest()))], path.name)
        return path
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            with open(tmp, "w", newline="") as fh:
                for n, chunk in enumerate(itertools.chain([first], rest())):
                    if float_format is None:
                        chunk.to_csv(fh, index=False, header=n == 0)
                    else:
                        _append_csv(chunk, fh, float_format=float_format, header=n == 0)
        elif suffix == ".h5":
            _append_hdf(first, rest(), tmp)
        else:
            _append_netcdf(first, rest(), tmp)
    return path


def _append_hdf(first: pd.DataFrame, rest: Iterable[pd.DataFrame], path: Path) -> None:
    """Write pandas' fixed HDF5 format (``to_hdf(format="fixed")``) chunk by chunk.

    The first chunk is written by pandas; its arrays of numbers (the index and the
    blocks of columns, stored rows first) become extendable arrays that the next
    chunks extend. Text blocks (one pickled array each) are rewritten at the end
    with every row: a pointer per row and column, the strings shared.
    """
    import tables

    n_rows = len(first)
    first = first.set_axis(pd.RangeIndex(n_rows))
    first.to_hdf(path, key="table", mode="w", format="fixed")
    with tables.open_file(path, "a") as h5:
        group = h5.get_node("/table")
        extendable: dict[str, list[str] | None] = {}  # node → its columns (None: index)
        texts: dict[str, tuple[list[str], list[np.ndarray]]] = {}
        for name in ["axis1"] + [
            f"block{i}_values" for i in range(int(group._v_attrs.nblocks))
        ]:
            node = h5.get_node(group, name)
            items = None
            if name != "axis1":
                raw = h5.get_node(group, name.replace("_values", "_items")).read()
                items = [
                    v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw
                ]
            attrs = {k: node._v_attrs[k] for k in node._v_attrs._f_list("user")}
            if isinstance(node, tables.VLArray):
                texts[name] = (items or [], [node.read()[0]])
                continue
            if (
                type(node) is not tables.Array
                or "value_type" in attrs
                or "shape" in attrs
            ):
                raise ValueError(
                    f"cannot append to the HDF5 column block {name} ({type(node).__name__}"
                    f", {attrs}): write the table whole (save_table)"
                )
            data = node.read()
            node._f_remove()
            earray = h5.create_earray(
                group,
                name,
                atom=tables.Atom.from_dtype(data.dtype),
                shape=(0, *data.shape[1:]),
                expectedrows=max(n_rows * 100, 1000),
            )
            earray.append(data)
            for k, v in attrs.items():
                earray._v_attrs[k] = v
            extendable[name] = items
        for chunk in rest:
            index = np.arange(n_rows, n_rows + len(chunk), dtype=np.int64)
            n_rows += len(chunk)
            for name, items in extendable.items():
                node = h5.get_node(group, name)
                if items is None:
                    node.append(index.astype(node.dtype, copy=False))
                else:
                    node.append(chunk[items].to_numpy(node.dtype))
            for items, parts in texts.values():
                one = parts[0].ndim == 1
                parts.append(
                    chunk[items[0]].to_numpy(object)
                    if one
                    else chunk[items].to_numpy(object)
                )
        for name, (_, parts) in texts.items():
            node = h5.get_node(group, name)
            if len(parts) == 1:
                continue
            attrs = {k: node._v_attrs[k] for k in node._v_attrs._f_list("user")}
            filters = node.filters
            node._f_remove()
            vlarray = h5.create_vlarray(
                group, name, tables.ObjectAtom(), filters=filters
            )
            vlarray.append(np.concatenate(parts))
            for k, v in attrs.items():
                vlarray._v_attrs[k] = v


def _append_netcdf(
    first: pd.DataFrame, rest: Iterable[pd.DataFrame], path: Path
) -> None:
    """Write :func:`_table_dataset`'s netCDF file chunk by chunk (``row`` unlimited)."""
    import h5netcdf

    ds = _table_dataset(first)
    encoding = {}
    if "values" in ds:
        # HDF5 chunks of whole rows, about 1 MB (h5py's guess: a few KB, 5x slower)
        n_columns = max(ds.sizes["column"], 1)
        encoding["values"] = {"chunksizes": (max(1, 2**18 // n_columns), n_columns)}
    ds.to_netcdf(path, engine="h5netcdf", unlimited_dims=["row"], encoding=encoding)
    n_rows = len(first)
    with h5netcdf.File(path, "a") as nc:
        for chunk in rest:
            part = _table_dataset(chunk)
            end = n_rows + len(chunk)
            nc.resize_dimension("row", end)
            for name, var in part.data_vars.items():
                values = var.values
                if values.dtype.kind == "U":
                    values = values.astype(object)
                nc.variables[str(name)][n_rows:end] = values
            n_rows = end


def _table_dataset(table: pd.DataFrame) -> xr.Dataset:
    """Return the table as a Dataset: float columns in ``values (row, column)``."""
    # by the dtypes, not column by column: a feature table has thousands
    dtypes = table.dtypes
    is_float = [pd.api.types.is_float_dtype(d) for d in dtypes]
    floats = [c for c, f in zip(table.columns, is_float, strict=True) if f]
    data = {
        str(c): ("row", table[c].to_numpy().astype(str))
        if pd.api.types.is_object_dtype(d) or pd.api.types.is_string_dtype(d)
        else ("row", table[c].to_numpy())
        for c, d, f in zip(table.columns, dtypes, is_float, strict=True)
        if not f
    }
    if floats:
        float_dtypes = {d for d, f in zip(dtypes, is_float, strict=True) if f}
        values = table[floats].to_numpy(np.result_type(*float_dtypes))
        data["values"] = (("row", "column"), values)
    return xr.Dataset(data, coords={"column": [str(c) for c in floats]})


def save_tables(
    tables: Mapping[str, pd.DataFrame], path: str | os.PathLike, *, index: bool = False
) -> Path:
    """Write several tables as the sheets of one Excel workbook (openpyxl).

    Without the indexes, the rows are streamed (openpyxl's write-only mode: no
    Python object per cell held), the cells those pandas' ``to_excel`` writes;
    with them (or columns of several levels), pandas writes the workbook.

    Parameters
    ----------
    tables
        Sheet name → table (names are cut to Excel's 31 characters).
    path
        Target ``.xlsx`` file.
    index
        Write the indexes too.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If ``tables`` is empty, the suffix is not ``.xlsx``, sheet names collide,
        or a table has more rows or columns than an Excel sheet holds
        (:func:`check_excel_size`: checked before anything is written).
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValueError(
            f"save_tables writes Excel workbooks (.xlsx); received {path.name!r}"
        )
    if not tables:
        raise ValueError("save_tables needs at least one table")
    names = [str(n)[:31] for n in tables]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names collide after cutting to 31 characters: {names}")
    for name, table in zip(names, tables.values(), strict=True):
        n_index = table.index.nlevels if index else 0
        check_excel_size(
            len(table) + table.columns.nlevels - 1,
            table.shape[1] + n_index,
            path.name,
            f"the table {name!r}",
        )
    if not index and not any(
        isinstance(t.columns, pd.MultiIndex) for t in tables.values()
    ):
        # rows streamed (openpyxl's write-only mode): no cell object per value
        with atomic_path(path) as tmp:
            _write_xlsx(
                tmp, [(n, [t]) for n, t in zip(names, tables.values(), strict=True)],
                path.name,
            )  # fmt: skip
        return path
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, table in zip(names, tables.values(), strict=True):
            table.to_excel(writer, sheet_name=name, index=index)
    return path


#: Rows of an Excel sheet (its header is the first) and its columns: the most
#: that :func:`save_tables` and :func:`save_table_chunks` write.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384

#: About this many cells are turned into Python values at a time when writing
#: ``.xlsx`` rows (bounded memory whatever the chunks' size).
XLSX_BLOCK_CELLS = 65_536


def check_excel_size(
    n_rows: int, n_columns: int, name: str, what: str = "the table"
) -> None:
    """Raise a clear error when a table does not fit in one Excel sheet.

    Parameters
    ----------
    n_rows
        Rows below the header.
    n_columns
        Columns.
    name
        The file's name (for the message).
    what
        What the table is (for the message).

    Raises
    ------
    ValueError
        If ``n_rows`` is over ``EXCEL_MAX_ROWS - 1`` or ``n_columns`` over
        :data:`EXCEL_MAX_COLUMNS`; the message says what to write instead.

    Examples
    --------
    >>> check_excel_size(1_048_575, 16_384, "t.xlsx")
    >>> check_excel_size(1_048_576, 3, "t.xlsx")
    Traceback (most recent call last):
    ...
    ValueError: t.xlsx: the table has 1,048,576 rows; an Excel sheet holds 1,048,575 below its header row. Write it as .csv, .h5 or .nc instead (pandas, R and MATLAB read them whole; Excel opens a CSV up to the same row), or put fewer or shorter sessions in one table
    """
    if n_columns > EXCEL_MAX_COLUMNS:
        raise ValueError(
            f"{name}: {what} has {n_columns:,} columns; an Excel sheet holds "
            f"{EXCEL_MAX_COLUMNS:,}. Write it as .csv, .h5 or .nc instead (pandas, "
            "R and MATLAB read them whole), or compute fewer features (fewer "
            "bodyparts or windows)"
        )
    if n_rows > EXCEL_MAX_ROWS - 1:
        raise ValueError(
            f"{name}: {what} has {n_rows:,} rows; an Excel sheet holds "
            f"{EXCEL_MAX_ROWS - 1:,} below its header row. Write it as .csv, .h5 "
            "or .nc instead (pandas, R and MATLAB read them whole; Excel opens a "
            "CSV up to the same row), or put fewer or shorter sessions in one table"
        )


def _write_xlsx(
    path: Path, sheets: Iterable[tuple[str, Iterable[pd.DataFrame]]], name: str
) -> None:
    """Write sheets of row chunks to a workbook with openpyxl's write-only mode.

    The cells are those ``DataFrame.to_excel(index=False)`` writes: the column
    names, then the values, NaN and None as empty cells, infinities as
    ``"inf"``/``"-inf"``, numpy numbers as Python numbers. Each sheet's rows go to
    a temporary file as they come (about 50 bytes a cell), zipped on saving.
    ``name``: the target's name, for the size error.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    try:
        for title, chunks in sheets:
            sheet = book.create_sheet(title=title)
            columns: list[Any] | None = None
            n_rows = 0
            for chunk in chunks:
                if columns is None:
                    columns = list(chunk.columns)
                    check_excel_size(len(chunk), len(columns), name)
                    sheet.append([_excel_value(c) for c in columns])
                n_rows += len(chunk)
                check_excel_size(n_rows, len(columns), name)
                for row in _excel_rows(chunk):
                    sheet.append(row)
        book.save(path)
    except BaseException:
        _discard_spooled(book)
        raise


def _discard_spooled(book: Any) -> None:
    """Remove the temporary files of a write-only workbook that was not saved."""
    for sheet in book.worksheets:
        writer = getattr(sheet, "_writer", None)
        if writer is None:
            continue
        rows = getattr(sheet, "_rows", None)
        if rows is not None:  # the generator writing rows: ends the sheet's XML
            with contextlib.suppress(Exception):
                rows.close()
        with contextlib.suppress(Exception):
            writer.close()
        with contextlib.suppress(Exception):
            writer.cleanup()


def _excel_value(value: Any) -> Any:
    """One cell's value as pandas' ``to_excel`` writes it (``None``: empty)."""
    import datetime as dt
    from decimal import Decimal

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Decimal | dt.date | dt.time):
        if getattr(value, "tzinfo", None) is not None:
            raise ValueError(
                "Excel does not support datetimes with timezones; make them "
                "timezone-naive (tz_localize(None)) before writing"
            )
        return value
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return str(value)


def _excel_rows(table: pd.DataFrame) -> Iterator[list[Any]]:
    """Yield the rows of ``table`` as lists of Excel cell values, block by block."""
    n_rows, n_columns = table.shape
    groups: dict[Any, list[int]] = {}
    for j, dtype in enumerate(table.dtypes):
        key = dtype if isinstance(dtype, np.dtype) and dtype.kind in "fiub" else None
        groups.setdefault(key, []).append(j)
    step = max(1, XLSX_BLOCK_CELLS // max(n_columns, 1))
    to_cell = np.frompyfunc(_excel_value, 1, 1)
    for start in range(0, n_rows, step):
        part = table.iloc[start : start + step]
        cells = np.empty(part.shape, dtype=object)
        for dtype, cols in groups.items():
            block = part.iloc[:, cols]
            if dtype is None:  # text, nullable and other columns: cell by cell
                values = to_cell(block.to_numpy(object))
            elif dtype.kind == "f":
                floats = block.to_numpy(np.float64)
                values = floats.astype(object)  # Python floats
                values[np.isnan(floats)] = None
                values[np.isposinf(floats)] = "inf"
                values[np.isneginf(floats)] = "-inf"
            else:  # Python ints and bools
                values = block.to_numpy(dtype).astype(object)
            cells[:, cols] = values
        yield from cells.tolist()


# ---------------------------------------------------------------- figures


def new_figure(figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
    """Create a matplotlib Figure on the Agg canvas (no pyplot, no GUI).

    Parameters
    ----------
    figsize
        Size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Figure with one Axes.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Figures need matplotlib: pip install 'matplotlib>=3.8,<4'"
        ) from err
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    fig.add_subplot(1, 1, 1)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Save a figure as ``.png`` or ``.svg`` (chosen by the suffix), atomically.

    Parameters
    ----------
    fig
        The figure.
    path
        Target file.
    dpi
        Resolution of PNG files.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If the suffix is neither ``.png`` nor ``.svg``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FIGURE_SUFFIXES:
        raise ValueError(
            f"Cannot save a figure as {path.name!r}: use one of {list(_FIGURE_SUFFIXES)}"
        )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix[1:], dpi=dpi)
    return path


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = new_figure(figsize)
    return fig, fig.axes[0]


def _draw_rois(ax: Axes, rois: Sequence[ROI]) -> None:
    """Outline ``rois`` on ``ax``: shapes, polygon holes, lines as polylines."""
    from matplotlib.patches import Circle, Polygon, Rectangle

    from .roi import CircleROI, LineROI, PolygonROI, RectangleROI

    style = {"fill": False, "lw": 1.5, "ec": "tab:red"}
    for roi in rois:
        if isinstance(roi, RectangleROI):
            patches = [
                Rectangle(
                    (roi.x_min, roi.y_min),
                    roi.x_max - roi.x_min,
                    roi.y_max - roi.y_min,
                    **style,
                )
            ]
            label_xy = (roi.x_min, roi.y_min)
        elif isinstance(roi, CircleROI):
            patches = [Circle((roi.cx, roi.cy), roi.radius, **style)]
            label_xy = (roi.cx, roi.cy - roi.radius)
        elif isinstance(roi, PolygonROI):
            patches = [
                Polygon(np.asarray(ring), closed=True, **style)
                for ring in (roi.vertices, *roi.holes)
            ]
            label_xy = roi.vertices[0]
        elif isinstance(roi, LineROI):
            patches = [Polygon(np.asarray(roi.points), closed=roi.loop, **style)]
            label_xy = roi.points[0]
        else:  # pragma: no cover - future ROI types
            continue
        for patch in patches:
            ax.add_patch(patch)
        ax.annotate(roi.name, label_xy, color="tab:red", fontsize=8)


def plot_trajectory(
    position: xr.DataArray | xr.Dataset,
    *,
    keypoint: str | None = None,
    individual: str | None = None,
    rois: Sequence[ROI] = (),
    image_size: tuple[int, int] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Path of one keypoint (or the centroid) per individual, coloured by time.

    Parameters
    ----------
    position
        Poses Dataset or position DataArray.
    keypoint
        Keypoint to draw; ``None``: the centroid.
    individual
        One individual; ``None``: all.
    rois
        ROIs to outline.
    image_size
        ``(width, height)`` to fix the axes to the video frame.
    ax
        Axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (y axis pointing down, like the video).

    Raises
    ------
    ValueError
        If the keypoint or individual is unknown.
    """
    pos = select_keypoint(position_of(position), keypoint)
    if "individual" not in pos.dims:
        pos = pos.expand_dims(individual=["individual_0"])
    if individual is not None:
        pos = pos.sel(individual=[individual])
    fig, ax = _axes(ax, (6.0, 5.0))
    cmaps = ["viridis", "plasma", "cividis", "magma"]
    for i, ind in enumerate(pos["individual"].values):
        p = pos.sel(individual=ind)
        x, y = p.sel(space="x").values, p.sel(space="y").values
        ax.plot(x, y, lw=0.6, alpha=0.5, label=str(ind))
        ax.scatter(x, y, c=np.arange(x.size), s=2, cmap=cmaps[i % len(cmaps)])
    _draw_rois(ax, rois)
    if image_size is not None:
        ax.set_xlim(0, image_size[0])
        ax.set_ylim(image_size[1], 0)
    else:
        ax.invert_yaxis()
    ax.set_aspect("equal")
    unit = position_of(position).attrs.get("space_unit", "px")
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_title(f"Trajectory ({keypoint or 'centroid'})")
    if pos.sizes["individual"] > 1:
        ax.legend(loc="best", fontsize=8)
    return fig


def plot_occupancy_heatmap(
    heatmap: xr.DataArray, *, rois: Sequence[ROI] = (), ax: Axes | None = None
) -> Figure:
    """Occupancy map from :func:`~posekit.engine.behavior.roi.compute_occupancy_heatmap`.

    Parameters
    ----------
    heatmap
        ``(y, x)`` DataArray with bin-centre coords.
    rois
        ROIs to outline.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
        The figure with a colour bar.

    Raises
    ------
    ValueError
        If ``heatmap`` does not have dims ``(y, x)``.
    """
    if set(heatmap.dims) != {"y", "x"}:
        raise ValueError(f"heatmap must have dims (y, x); received {heatmap.dims}")
    heatmap = heatmap.transpose("y", "x")
    fig, ax = _axes(ax, (6.0, 5.0))
    x, y = heatmap["x"].values, heatmap["y"].values
    dx = (x[1] - x[0]) if x.size > 1 else 1.0
    dy = (y[1] - y[0]) if y.size > 1 else 1.0
    extent = (x[0] - dx / 2, x[-1] + dx / 2, y[-1] + dy / 2, y[0] - dy / 2)
    im = ax.imshow(heatmap.values, extent=extent, origin="upper", cmap="inferno")
    fig.colorbar(im, ax=ax, label=f"time ({heatmap.attrs.get('units', '')})")
    _draw_rois(ax, rois)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Occupancy")
    return fig


def plot_speed(
    speed: xr.DataArray, *, fps: float | None = None, ax: Axes | None = None
) -> Figure:
    """Speed over time, one line per individual (and keypoint, if present).

    Parameters
    ----------
    speed
        Output of :func:`~posekit.engine.behavior.kinematics.compute_speed`.
    fps
        Frames per second for a time axis in seconds (default: from the data).
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        If ``speed`` has no ``time`` dim.
    """
    if "time" not in speed.dims:
        raise ValueError(f"speed must have a time dim; received {speed.dims}")
    rate = resolve_fps(speed, fps)
    n = speed.sizes["time"]
    t = np.arange(n) / rate if rate is not None else np.arange(n)
    fig, ax = _axes(ax, (8.0, 3.0))
    other = [d for d in speed.dims if d != "time"]
    flat = speed.transpose("time", *other).values.reshape(n, -1)
    labels = (
        [
            " / ".join(map(str, k))
            for k in pd.MultiIndex.from_product([speed[d].values for d in other])
        ]
        if other
        else [str(speed.name or "speed")]
    )
    for j in range(flat.shape[1]):
        ax.plot(t, flat[:, j], lw=0.8, label=labels[j])
    ax.set_xlabel("time (s)" if rate is not None else "time (frames)")
    ax.set_ylabel(f"speed ({speed.attrs.get('units', '')})")
    if flat.shape[1] > 1:
        ax.legend(loc="upper right", fontsize=7)
    return fig


def plot_ethogram(
    labels: Sequence[str] | np.ndarray | Mapping[str, Sequence[str]],
    *,
    behaviors: Sequence[str] | None = None,
    fps: float | None = None,
    ignore: Sequence[str] = (),
    ax: Axes | None = None,
) -> Figure:
    """Ethogram: coloured bars for each behaviour bout along time.

    Parameters
    ----------
    labels
        Frame labels of one animal, or a mapping individual → frame labels (one row
        per animal).
    behaviors
        Colour/legend order (default: sorted labels).
    fps
        Frames per second for a time axis in seconds.
    ignore
        Labels not drawn (e.g. ``"none"``).
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        If a label sequence is not 1-D.
    """
    from .ethogram import labels_to_bouts

    tracks = dict(labels) if isinstance(labels, Mapping) else {"": labels}
    all_labels = sorted(
        {str(v) for lab in tracks.values() for v in np.asarray(lab)} - set(ignore)
    )
    behaviors = all_labels if behaviors is None else list(behaviors)
    fig, ax = _axes(ax, (8.0, 0.6 + 0.5 * len(tracks)))
    scale = 1.0 / fps if fps else 1.0
    colors = {b: f"C{i % 10}" for i, b in enumerate(behaviors)}
    for row, lab in enumerate(tracks.values()):
        bouts = labels_to_bouts(lab, ignore=ignore)
        for beh in behaviors:
            sel = bouts[bouts["behavior"] == beh]
            if sel.empty:
                continue
            spans = list(
                zip(sel["start"] * scale, sel["duration"] * scale, strict=True)
            )
            ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=colors[beh])
    ax.set_yticks(range(len(tracks)), [str(n) for n in tracks])
    ax.set_ylim(-0.6, len(tracks) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)" if fps else "time (frames)")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=colors[b], label=b) for b in behaviors],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35 if len(tracks) < 3 else -0.15),
        ncol=min(len(behaviors), 6),
        fontsize=8,
        frameon=False,
    )
    return fig
