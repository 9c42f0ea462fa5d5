"""Feature tables computed and written chunk by chunk equal the whole-table ones.

A synthetic recording several chunks long plus a remainder, with NaN gaps across
the chunks' ends (one keypoint, one animal, every keypoint, the first and last
frames): :func:`iter_window_features`, :meth:`BehaviorModel.iter_features_table` and
the chunked writers (CSV, HDF5, netCDF) give the whole table's values (rtol 1e-12),
columns and index, in a fraction of its memory.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from posekit.engine.behavior import features as features_module
from posekit.engine.behavior.export import save_table, save_table_chunks
from posekit.engine.behavior.features import (
    FEATURE_FAMILIES,
    FEATURE_MARGINS,
    compute_window_features,
    iter_window_features,
    register_feature,
)
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.cli import main
from posekit.engine.io import save
from posekit.engine.poses import from_numpy

CHUNK = 64
WINDOWS = (5, 15, 45)  # the largest reaches 22 frames on each side
N_FRAMES = 3 * CHUNK + 37  # three chunks and a remainder
KEYPOINTS = ["snout", "ear", "neck", "spine", "tailbase"]


def _session(n_frames: int = N_FRAMES, n_animals: int = 2, seed: int = 0):
    """Random walks of a 5-keypoint body with NaN gaps across the chunks' ends."""
    rng = np.random.default_rng(seed)
    pos = np.empty((n_frames, 2, len(KEYPOINTS), n_animals))
    for a in range(n_animals):
        centre = np.cumsum(rng.normal(0, 2, (n_frames, 2)), axis=0) + [
            300 + 50 * a,
            200,
        ]
        # spins (0.4 rad a frame): the unwrapped heading reaches tens of turns
        theta = np.cumsum(rng.normal(0.4, 0.2, n_frames))
        axis = np.c_[np.cos(theta), np.sin(theta)]
        for k in range(len(KEYPOINTS)):
            pos[:, :, k, a] = centre + (20 - 10 * k) * axis
    pos += rng.normal(0, 0.5, pos.shape)
    c = CHUNK
    pos[c - 10 : c + 12, :, 1, 0] = np.nan  # one keypoint across the 1st end
    pos[2 * c - 30 : 2 * c + 30, :, :, 1] = np.nan  # a whole animal across the 2nd
    pos[3 * c - 1 : 3 * c + 1, :, 3, :] = np.nan  # two frames at the 3rd end
    pos[:25, :, 4, 0] = np.nan  # from the first frame (its series starts late)
    pos[-5:, :, 2, 1] = np.nan  # to the last frame
    return from_numpy(
        pos, keypoint_names=KEYPOINTS, individual_names=["a", "b"], fps=30.0
    )


def test_gaps_cross_the_chunk_ends():
    """The fixture does what the tests rely on."""
    pos = _session()["position"].values
    for end in (CHUNK, 2 * CHUNK, 3 * CHUNK):
        assert np.isnan(pos[end - 1 : end + 1]).any()
    assert N_FRAMES % CHUNK and N_FRAMES // CHUNK == 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunk", [CHUNK, 7, 3])
def test_chunks_are_the_whole_features(dtype, chunk):
    """Chunks smaller than the windows' reach too (7, 3 frames)."""
    ds = _session()
    whole = compute_window_features(ds, windows=WINDOWS, dtype=dtype)
    parts = list(
        iter_window_features(ds, windows=WINDOWS, dtype=dtype, chunk_frames=chunk)
    )
    assert len(parts) == -(-N_FRAMES // max(chunk, 3))
    joined = xr.concat(parts, "time")
    assert joined.dtype == whole.dtype
    assert list(joined["feature"].values) == list(whole["feature"].values)
    np.testing.assert_array_equal(joined["time"].values, whole["time"].values)
    np.testing.assert_array_equal(np.isnan(joined.values), np.isnan(whole.values))
    np.testing.assert_allclose(joined.values, whole.values, rtol=1e-12, atol=0)
    # bit for bit, in fact: the same sums in the same order
    np.testing.assert_array_equal(joined.values, whole.values)
    assert np.isnan(whole.values).any() and np.isfinite(whole.values).any()


def test_one_individual_and_a_family_without_margin():
    """A registered family with no margin is computed whole; others see everyone."""

    @register_feature("path_so_far")  # depends on every earlier frame
    def _path(ctx):
        cx, cy = ctx.centroid
        step = np.hypot(np.diff(cx, prepend=cx[:, :1]), np.diff(cy, prepend=cy[:, :1]))
        return ["path_so_far"], np.nancumsum(step, axis=-1)[:, None]

    try:
        assert FEATURE_MARGINS["path_so_far"] is None
        assert FEATURE_MARGINS["speed"] == 1
        ds = _session()
        families = ["speed", "angle", "social", "path_so_far"]
        whole = compute_window_features(
            ds, windows=WINDOWS, features=families, dtype=np.float64
        ).sel(individual=["b"])
        parts = iter_window_features(
            ds,
            windows=WINDOWS,
            features=families,
            dtype=np.float64,
            individuals=["b"],
            chunk_frames=CHUNK,
        )
        joined = xr.concat(list(parts), "time")
        assert "nearest_distance" in joined["feature"].values  # sees animal a
        np.testing.assert_allclose(joined.values, whole.values, rtol=1e-12, atol=0)
        with pytest.raises(ValueError, match="no individual"):
            next(iter_window_features(ds, individuals=["c"]))
    finally:
        del FEATURE_FAMILIES["path_so_far"], FEATURE_MARGINS["path_so_far"]


@pytest.fixture(scope="module")
def model() -> BehaviorModel:
    """Two sessions: two animals, and one animal (different lengths)."""
    m = BehaviorModel(windows=WINDOWS)
    m.add_dataset(_session(), "pair")
    m.add_dataset(_session(N_FRAMES - 50, seed=1).isel(individual=[0]), "single")
    return m


@pytest.mark.parametrize("dtype", [None, np.float32])
def test_table_chunks_are_the_table(model, dtype):
    whole = model.features_table(dtype=dtype)
    parts = list(model.iter_features_table(dtype, chunk_frames=CHUNK))
    assert len(parts) == 2 * 4 + 3  # 2 tracks of 4 chunks, 1 of 3
    joined = pd.concat(parts)
    pd.testing.assert_index_equal(joined.index, whole.index, exact=False)
    pd.testing.assert_series_equal(joined.dtypes, whole.dtypes)
    pd.testing.assert_frame_equal(joined, whole, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".nc"])
def test_written_chunk_by_chunk_is_the_whole_table(model, tmp_path: Path, suffix):
    """Each format reads back as the table written whole (save_table)."""
    fmt = "%.7g" if suffix == ".csv" else None
    whole = save_table(
        model.features_table(dtype=np.float32),
        tmp_path / f"whole{suffix}",
        float_format=fmt,
    )
    chunked = model.write_features_table(
        tmp_path / f"chunked{suffix}",
        dtype=np.float32,
        float_format=fmt,
        chunk_frames=CHUNK,
    )
    if suffix == ".csv":
        assert chunked.read_bytes() == whole.read_bytes()
    elif suffix == ".h5":
        a, b = pd.read_hdf(chunked, "table"), pd.read_hdf(whole, "table")
        assert len(a) == 3 * N_FRAMES - 50
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    else:
        with (
            xr.open_dataset(chunked, engine="h5netcdf") as a,
            xr.open_dataset(whole, engine="h5netcdf") as b,
        ):
            assert a.identical(b)
            np.testing.assert_allclose(a["values"], b["values"], rtol=1e-12)
            assert a.sizes["row"] == 3 * N_FRAMES - 50


def test_table_chunks_need_the_same_columns(tmp_path: Path):
    parts = [pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [2.0]})]
    with pytest.raises(ValueError, match="same columns"):
        save_table_chunks(parts, tmp_path / "t.csv")
    with pytest.raises(ValueError, match="at least one chunk"):
        save_table_chunks([], tmp_path / "t.h5")
    with pytest.raises(ValueError, match="Cannot write"):
        save_table_chunks(parts[:1], tmp_path / "t.parquet")
    xlsx = save_table_chunks(parts[:1] * 2, tmp_path / "t.xlsx")
    assert pd.read_excel(xlsx)["a"].tolist() == [1.0, 1.0]


def test_cli_writes_the_whole_table_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """``posekit behavior features`` streams (chunks of 256 frames here)."""
    ds = _session(900)
    path = save(ds, tmp_path / "pair.nc")
    monkeypatch.setattr(features_module, "FEATURE_CHUNK_VALUES", 1)  # 256 frames
    out = tmp_path / "features.csv"
    argv = ["behavior", "features", str(path), "--windows", "5,15,45"]
    assert main([*argv, "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    m = BehaviorModel(windows=WINDOWS)
    m.load([path])
    whole = save_table(
        m.features_table(dtype=np.float32), tmp_path / "whole.csv", float_format="%.7g"
    )
    assert out.read_bytes() == whole.read_bytes()


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamed_table_takes_a_fraction_of_the_memory(tmp_path: Path):
    """Peak of the chunked HDF5 writer against the whole table's (tracemalloc)."""
    m = BehaviorModel(windows=WINDOWS)
    m.add_dataset(_session(30000).isel(individual=[0]), "long")
    m.calibrated("long")  # the cleaned poses are cached either way
    n_columns = 6 + 7 * (6 + 10 + 1 + 10)  # ids, frame, 2 units, features
    table_bytes = 30000 * n_columns * 4  # 23 MB
    streamed = _peak(
        lambda: m.write_features_table(tmp_path / "f.h5", chunk_frames=500)
    )
    assert pd.read_hdf(tmp_path / "f.h5", "table").shape == (30000, n_columns)
    whole = _peak(lambda: save_table(m.features_table(np.float32), tmp_path / "w.h5"))
    # what is left is the size of the poses (a few copies of 2.4 MB here)
    assert streamed < table_bytes / 2 < whole / 4, (streamed, whole, table_bytes)
