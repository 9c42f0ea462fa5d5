"""netCDF for movement 0.16 and earlier, and ``load`` of per-animal NWB files (QA s23).

movement 0.17 names the dimensions ``keypoint`` / ``individual`` (posekit's
default); movement 0.15 and 0.16 (what ``pip install movement`` gives where 0.17 is
not offered) use ``keypoints`` / ``individuals``, and their writers and kinematics
refuse the singular names. ``save_poses(..., fmt="netCDF", movement_dims="plural")``
and ``posekit convert --movement-dims plural`` write the plural names; posekit
reads both. movement itself is not needed: the names on disk are checked with
xarray.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.filters import filter_kalman
from posekit.engine.cli import main
from posekit.engine.io import convert, load, load_poses, save, save_poses
from posekit.engine.poses import from_numpy

PLURAL = ("time", "space", "keypoints", "individuals")
SINGULAR = ("time", "space", "keypoint", "individual")


def _poses(fps: float | None = 30.0) -> xr.Dataset:
    rng = np.random.default_rng(7)
    pos = rng.uniform(0, 100, size=(12, 2, 3, 2))
    pos[3, :, 1, 0] = np.nan
    return from_numpy(
        pos,
        rng.uniform(size=(12, 3, 2)),
        keypoint_names=["snout", "leftear", "rightear"],
        individual_names=["mouse1", "mouse2"],
        fps=fps,
        source_software="DeepLabCut",
    )


def _on_disk(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def test_plural_dims_on_disk_and_back(tmp_path: Path) -> None:
    ds = filter_kalman(_poses())  # an extra variable (velocity) is renamed too
    path = save_poses(ds, tmp_path / "old.nc", fmt="netCDF", movement_dims="plural")
    raw = _on_disk(path)
    assert raw.position.dims == PLURAL
    assert raw.confidence.dims == ("time", "keypoints", "individuals")
    assert "keypoint" not in raw.dims and "individual" not in raw.variables
    assert raw["keypoints"].values.tolist() == ["snout", "leftear", "rightear"]
    assert raw["individuals"].values.tolist() == ["mouse1", "mouse2"]
    assert "keypoint" not in raw["velocity"].dims
    xr.testing.assert_identical(load_poses(path), ds)


def test_singular_is_the_default_and_both_ways_convert(tmp_path: Path) -> None:
    ds = _poses(fps=None)
    new = save(ds, tmp_path / "new.nc")
    assert _on_disk(new).position.dims == SINGULAR
    # singular -> plural -> singular, through files
    old = convert(new, tmp_path / "old.nc", write_options={"movement_dims": "plural"})
    assert _on_disk(old).position.dims == PLURAL
    again = convert(old, tmp_path / "again.nc")
    assert _on_disk(again).position.dims == SINGULAR
    for path in (new, old, again):
        xr.testing.assert_identical(load(path), ds)
    explicit = save(ds, tmp_path / "s.nc", movement_dims="singular")
    assert _on_disk(explicit).position.dims == SINGULAR


def test_unknown_movement_dims_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'singular'.*'plural'"):
        save(_poses(), tmp_path / "x.nc", movement_dims="old")
    assert not (tmp_path / "x.nc").exists()


def test_cli_convert_movement_dims(tmp_path: Path, capsys) -> None:
    src = save(_poses(), tmp_path / "sDLC_x.h5")
    out = tmp_path / "s.nc"
    assert main(["convert", str(src), str(out), "--movement-dims", "plural"]) == 0
    assert _on_disk(out).position.dims == PLURAL
    np.testing.assert_array_equal(load(out).position.values, _poses().position.values)
    csv = tmp_path / "s.csv"
    argv = ["convert", str(out), str(csv), "--movement-dims", "plural"]
    assert main(argv) != 0
    assert "--movement-dims applies to a netCDF output" in capsys.readouterr().err
    assert not csv.exists()


def test_load_a_list_of_per_animal_nwb_files(tmp_path: Path) -> None:
    pytest.importorskip("ndx_pose")
    from posekit.engine.io.nwb import save_nwb_individuals

    ds = _poses()
    files = save_nwb_individuals(ds, tmp_path / "a.nwb")
    assert [f.name for f in files] == ["a_mouse1.nwb", "a_mouse2.nwb"]
    for back in (load([str(f) for f in files]), load_poses(tuple(files))):
        assert back.individual.values.tolist() == ["mouse1", "mouse2"]
        np.testing.assert_array_equal(back.position.values, ds.position.values)
        assert back.attrs["fps"] == 30.0
    nc = save(ds, tmp_path / "x.nc")
    with pytest.raises(ValueError, match=r"only of NWB files.*load_nwb.*is netCDF"):
        load([files[0], nc])
    with pytest.raises(FileNotFoundError, match="missing.nwb"):
        load([files[0], tmp_path / "missing.nwb"])
    with pytest.raises(ValueError, match="empty list"):
        load([])
