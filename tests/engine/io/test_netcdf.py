"""netCDF: exact round trips (attrs and the processing log included), movement files."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.filters import filter_kalman, filter_poses, get_log
from posekit.engine.io import list_formats, load_poses, save_poses
from posekit.engine.io.netcdf import load_netcdf, save_netcdf
from posekit.engine.poses import from_numpy


def _poses(rng, fps=30.0):
    pos = rng.normal(100, 20, size=(40, 2, 3, 2))
    pos[5:8, :, 1, 0] = np.nan
    return from_numpy(
        pos,
        rng.uniform(size=(40, 3, 2)),
        keypoint_names=["a", "b", "c"],
        individual_names=["m1", "m2"],
        fps=fps,
        source_software="DeepLabCut",
        source_file="/data/x.h5",
    )


def test_round_trip_is_identical_including_the_log(tmp_path, rng):
    ds = filter_poses(_poses(rng), "median", confidence_threshold=0.2, max_gap=4)
    ds.attrs["frames"] = ["labeled-data/v/img0.png"]  # a one-element list survives too
    path = save_poses(ds, tmp_path / "poses.nc", fmt="netCDF")
    assert "netCDF" in list_formats()["save"]
    back = load_poses(path)
    xr.testing.assert_identical(back, ds)
    assert get_log(back) == get_log(ds) and len(get_log(back)) == 3
    assert ds.attrs["frames"] == ["labeled-data/v/img0.png"]  # input not modified


def test_none_attrs_and_extra_variables(tmp_path, rng):
    ds = filter_kalman(_poses(rng, fps=None))
    assert ds.attrs["fps"] is None
    back = load_netcdf(save_netcdf(ds, tmp_path / "k.nc"))
    xr.testing.assert_identical(back, ds)
    assert back.attrs["fps"] is None and "velocity" in back


def test_movement_file_with_plural_dims(tmp_path, rng):
    ds = _poses(rng)
    legacy = ds.rename({"individual": "individuals", "keypoint": "keypoints"})
    legacy.attrs = {"fps": 30.0, "time_unit": "seconds", "source_software": "SLEAP"}
    legacy.to_netcdf(tmp_path / "movement.nc", engine="h5netcdf")
    back = load_poses(tmp_path / "movement.nc")
    assert back.position.dims == ("time", "space", "keypoint", "individual")
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    assert back.attrs["source_file"] is None and back.attrs["ds_type"] == "poses"


def test_fps_override_rescales_time(tmp_path, rng):
    path = save_netcdf(_poses(rng, fps=30.0), tmp_path / "p.nc")
    back = load_netcdf(path, fps=60.0)
    np.testing.assert_allclose(back.time.values, np.arange(40) / 60.0)
    assert back.attrs["fps"] == 60.0


def test_non_poses_netcdf_is_refused(tmp_path):
    xr.Dataset({"temperature": ("t", np.arange(3.0))}).to_netcdf(
        tmp_path / "w.nc", engine="h5netcdf"
    )
    with pytest.raises(ValueError, match="position"):
        load_poses(tmp_path / "w.nc")
    (tmp_path / "fake.nc").write_text("hello")
    with pytest.raises(ValueError, match="Could not recognise"):
        load_poses(tmp_path / "fake.nc")


def test_no_fps_is_left_out_not_stored_as_null(tmp_path, rng):
    import h5py

    ds = _poses(rng, fps=None)
    path = save_netcdf(ds, tmp_path / "nofps.nc")
    with h5py.File(path) as f:
        assert "fps" not in f.attrs  # movement reads no fps, not the text "null"
        assert "null" not in [str(v) for v in f.attrs.values()]
    raw = xr.open_dataset(path, engine="h5netcdf")
    assert "fps" not in raw.attrs and raw.attrs["source_software"] == "DeepLabCut"
    raw.close()
    back = load_netcdf(path)
    assert back.attrs["fps"] is None
    xr.testing.assert_identical(back, ds)


def test_netcdf3_and_files_without_the_nc_suffix(tmp_path, rng):
    ds = _poses(rng)
    plain = ds.copy()
    plain.attrs = {"fps": 30.0, "time_unit": "seconds", "source_software": "movement"}
    plain.to_netcdf(tmp_path / "classic.nc", engine="scipy")  # netCDF-3
    back = load_poses(tmp_path / "classic.nc")
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    save_netcdf(ds, tmp_path / "poses.nc").rename(tmp_path / "poses.bin")
    xr.testing.assert_identical(load_poses(tmp_path / "poses.bin"), ds)
