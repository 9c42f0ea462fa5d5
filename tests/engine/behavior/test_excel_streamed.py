"""Excel tables are written a chunk of rows at a time, with the cells of before.

:func:`~posekit.engine.behavior.export.save_table_chunks`,
:func:`~posekit.engine.behavior.export.save_tables` and
:meth:`BehaviorModel.write_features_table` stream the rows of a sheet through
openpyxl's write-only mode, where the code before concatenated the chunks and had
pandas build the whole workbook in memory (a Python object per cell). The cells are
the ones ``DataFrame.to_excel(index=False)`` writes (what the code before wrote),
compared here cell by cell and as read back by pandas. A table longer than an Excel
sheet (1,048,575 rows below the header) or wider (16,384 columns) is refused with a
message that says what to write instead, before any feature is computed.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet import _writer as openpyxl_writer

from posekit.engine.behavior import export
from posekit.engine.behavior.export import save_table, save_table_chunks, save_tables
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.cli import main
from posekit.engine.io import save
from posekit.engine.poses import from_numpy

N_FRAMES = 90
WINDOWS = (3, 5)
CHUNK = 32


def _session(n_frames: int = N_FRAMES, seed: int = 0):
    """Two animals of three keypoints, with gaps (NaN cells)."""
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.normal(0, 2, (n_frames, 2, 3, 2)), axis=0) + 100
    pos[:, :, :, 1] += 60
    pos[10:20, :, 1, 0] = np.nan
    pos[40:45, :, :, 1] = np.nan
    return from_numpy(pos, individual_names=["a", "b"], fps=30.0)


@pytest.fixture(scope="module")
def model() -> BehaviorModel:
    """Two sessions: two animals, and one (its rows lack the social columns)."""
    m = BehaviorModel(windows=WINDOWS)
    m.add_dataset(_session(), "pair")
    m.add_dataset(_session(N_FRAMES - 20, seed=1).isel(individual=[0]), "single")
    return m


def _cells(path: Path, sheet: str | None = None) -> list[tuple]:
    """Return the sheet's cell values by row (empty cells at a row's end left out).

    A streamed sheet has no ``dimension`` (its size is known at its end only), so
    openpyxl reads its rows without padding them to the widest.
    """
    book = load_workbook(path, read_only=True)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = []
        for row in ws.iter_rows(values_only=True):
            row = list(row)
            while row and row[-1] is None:
                row.pop()
            rows.append(tuple(row))
        return rows
    finally:
        book.close()


def test_features_workbook_is_the_whole_tables(model, tmp_path: Path) -> None:
    """Streamed chunk by chunk: the cells of the whole table written by pandas."""
    chunked = model.write_features_table(tmp_path / "f.xlsx", chunk_frames=CHUNK)
    whole = model.features_table(dtype=np.float32)
    before = tmp_path / "before.xlsx"  # what save_tables wrote: pandas' to_excel
    whole.to_excel(before, sheet_name="features", index=False)
    assert load_workbook(chunked, read_only=True).sheetnames == ["features"]
    assert _cells(chunked) == _cells(before)
    a = pd.read_excel(chunked, sheet_name="features")
    assert len(a) == 3 * N_FRAMES - 20
    assert a["nearest_distance"].isna().sum() >= N_FRAMES - 20  # the single's rows
    pd.testing.assert_frame_equal(a, pd.read_excel(before, sheet_name="features"))


def test_cells_are_those_pandas_writes(tmp_path: Path) -> None:
    """Every kind of column: NaN and None empty, infinities as text, numbers."""
    table = pd.DataFrame(
        {
            "name": ["x", "y", "=1+1", "z"],
            "n": np.array([1, -2, 3, 2**40], dtype=np.int64),
            "v": [0.5, np.nan, np.inf, -np.inf],
            "v32": np.array([0.1, np.nan, 1e-8, 3], dtype=np.float32),
            "u8": np.array([0, 1, 2, 255], dtype=np.uint8),
            "ok": [True, False, True, False],
            "mixed": ["a", None, 3, 2.5],
            "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
            "text": pd.array(["p", None, "r", "s"], dtype="string"),
            "kind": pd.Categorical(["rest", "walk", "rest", None]),
            "when": pd.to_datetime(
                ["2026-01-01 10:00", None, "2026-01-02 00:00", "2026-01-03 12:30"]
            ),
            "day": [dt.date(2026, 1, 1)] * 4,
            3: [1.0, 2.0, 3.0, 4.0],
        }
    )
    streamed = save_table(table, tmp_path / "streamed.xlsx")
    before = tmp_path / "before.xlsx"
    table.to_excel(before, sheet_name="Sheet1", index=False)
    assert _cells(streamed) == _cells(before)
    pd.testing.assert_frame_equal(pd.read_excel(streamed), pd.read_excel(before))
    # several sheets, and a table with its index (written by pandas, as before)
    tables = {"first": table, "second": table.iloc[:2]}
    book = save_tables(tables, tmp_path / "book.xlsx")
    for name, t in tables.items():
        t.to_excel(tmp_path / f"{name}.xlsx", sheet_name=name, index=False)
        assert _cells(book, name) == _cells(tmp_path / f"{name}.xlsx")
    indexed = save_tables({"t": table.set_index("n")}, tmp_path / "i.xlsx", index=True)
    assert pd.read_excel(indexed, index_col=0).index.tolist() == [1, -2, 3, 2**40]


def _chunks(n_chunks: int, rows: int = 100, columns: int = 40):
    rng = np.random.default_rng(0)
    names = [f"feature_{j}" for j in range(columns)]
    for k in range(n_chunks):
        values = rng.normal(size=(rows, columns)).astype(np.float32)
        values[::7, k % columns] = np.nan
        part = pd.DataFrame(values, columns=names)
        part.insert(0, "frame", np.arange(k * rows, (k + 1) * rows))
        part.insert(0, "track", "mouse")
        yield part


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamed_workbook_takes_a_fraction_of_the_memory(tmp_path: Path) -> None:
    """12 chunks of 50 rows: the workbook is not built in memory.

    The peak of the whole workbook grows with its cells (6.4 MB here), the
    streamed one's does not (0.5 MB).
    """
    streamed = tmp_path / "streamed.xlsx"
    whole = tmp_path / "whole.xlsx"
    peak_streamed = _peak(lambda: save_table_chunks(_chunks(12, 50, 30), streamed))
    peak_whole = _peak(
        lambda: pd.concat(_chunks(12, 50, 30), ignore_index=True).to_excel(
            whole, sheet_name="Sheet1", index=False
        )
    )
    assert peak_streamed < peak_whole / 5, (peak_streamed, peak_whole)
    pd.testing.assert_frame_equal(pd.read_excel(streamed), pd.read_excel(whole))


def test_longer_than_a_sheet_is_refused(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clear error, no file, no temporary sheet left behind."""
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 251)  # 250 rows below the header
    spooled = set(openpyxl_writer.ALL_TEMP_FILES)
    out = tmp_path / "t.xlsx"
    with pytest.raises(ValueError, match=r"t.xlsx: the table has 300 rows") as err:
        save_table_chunks(_chunks(3), out)
    assert "250 below its header row" in str(err.value)
    assert ".csv, .h5 or .nc" in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert set(openpyxl_writer.ALL_TEMP_FILES) == spooled
    with pytest.raises(ValueError, match="the table 'big' has 300 rows"):
        save_tables({"big": pd.concat(_chunks(3))}, out)
    monkeypatch.setattr(export, "EXCEL_MAX_COLUMNS", 10)
    with pytest.raises(ValueError, match="42 columns; an Excel sheet holds 10"):
        save_table(next(_chunks(1)), out)
    assert not out.exists()


def test_features_longer_than_a_sheet_are_refused_first(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are counted before any feature is computed."""
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 3 * N_FRAMES - 20)  # one too many

    def computed(*args, **kwargs):
        raise AssertionError("features computed before the size was checked")

    monkeypatch.setattr(BehaviorModel, "iter_features", computed)
    with pytest.raises(ValueError, match="the feature table has 250 rows"):
        model.write_features_table(tmp_path / "f.xlsx")
    assert not (tmp_path / "f.xlsx").exists()


def test_cli_streams_the_features_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``posekit behavior features … --out f.xlsx`` never builds the whole table."""
    path = save(_session(), tmp_path / "pair.nc")
    m = BehaviorModel(windows=(5, 15, 45))
    m.load([path])
    whole = m.features_table(dtype=np.float32)
    before = tmp_path / "before.xlsx"
    whole.to_excel(before, sheet_name="features", index=False)

    def whole_table(*args, **kwargs):
        raise AssertionError("the whole table was built")

    monkeypatch.setattr(BehaviorModel, "features_table", whole_table)
    out = tmp_path / "f.xlsx"
    argv = ["behavior", "features", str(path), "--windows", "5,15,45", "--out"]
    assert main([*argv, str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    assert _cells(out, "features") == _cells(before, "features")
    # longer than a sheet: the command says so and writes nothing
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", N_FRAMES)
    assert main([*argv, str(tmp_path / "long.xlsx")]) != 0
    err = capsys.readouterr().err
    assert "180 rows" in err and ".csv, .h5 or .nc" in err
    assert not (tmp_path / "long.xlsx").exists()
