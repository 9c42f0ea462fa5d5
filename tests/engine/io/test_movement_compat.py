"""posekit and movement 0.17 read each other's files (netCDF poses, ROI GeoJSON).

movement runs in its own environment (it needs Python >= 3.12); the tests skip, saying
why, where none can be made.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.behavior.kinematics import compute_path_length
from posekit.engine.behavior.roi import (
    CircleROI,
    LineROI,
    PolygonROI,
    RectangleROI,
    load_rois,
    save_rois,
)
from posekit.engine.io import load, save
from posekit.engine.poses import from_numpy

from .conftest import run_script

pytestmark = pytest.mark.slow

SQUARE = ((0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0))
HOLE = ((40.0, 40.0), (60.0, 40.0), (60.0, 60.0), (40.0, 60.0))

MOVEMENT_READS = r"""
import json, sys, warnings
import numpy as np, xarray as xr
from movement.kinematics import compute_path_length
from movement.roi import load_rois
nc, geojson = sys.argv[1], sys.argv[2]
ds = xr.open_dataset(nc)
centroid = ds.position.mean("keypoint")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    lengths = {p: compute_path_length(centroid, nan_policy=p).values.tolist()
               for p in ("ffill", "scale")}
rois = load_rois(geojson)
print(json.dumps({
    "dims": {k: list(ds[k].dims) for k in ("position", "confidence")},
    "position": np.where(np.isnan(ds.position.values), None, ds.position.values).tolist(),
    "confidence": np.where(np.isnan(ds.confidence.values), None, ds.confidence.values).tolist(),
    "keypoint": [str(k) for k in ds.keypoint.values],
    "individual": [str(i) for i in ds.individual.values],
    "attrs": {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in ds.attrs.items()},
    "path_length": lengths,
    "rois": [{"name": r.name, "type": type(r).__name__,
              "area": float(getattr(r.region, "area", 0.0)),
              "length": float(getattr(r.region, "length", 0.0))} for r in rois],
}))
"""

MOVEMENT_WRITES = r"""
import sys
import numpy as np
from movement.io import load_poses
from movement.roi import LineOfInterest, PolygonOfInterest, save_rois
out = sys.argv[1]
rng = np.random.default_rng(7)
pos = rng.normal(100, 20, size=(30, 2, 3, 2))
pos[4:9, :, 1, 0] = np.nan
conf = rng.uniform(size=(30, 3, 2))
ds = load_poses.from_numpy(pos, conf, individual_names=["f", "m"],
                           keypoint_names=["a", "b", "c"], source_software="SLEAP")
ds.to_netcdf(out + "/singular.nc")
ds.rename({"keypoint": "keypoints", "individual": "individuals"}).to_netcdf(
    out + "/plural.nc")
ds30 = load_poses.from_numpy(pos, conf, individual_names=["f", "m"],
                             keypoint_names=["a", "b", "c"], fps=30,
                             source_software="SLEAP")
ds30.to_netcdf(out + "/fps.nc")
np.save(out + "/pos.npy", pos)
np.save(out + "/conf.npy", conf)
save_rois([
    PolygonOfInterest([(0, 0), (100, 0), (100, 100), (0, 100)],
                      holes=[[(40, 40), (60, 40), (60, 60), (40, 60)]], name="arena"),
    LineOfInterest([(0, 0), (10, 5), (20, 0)], name="wall"),
    LineOfInterest([(0, 0), (4, 0), (4, 3)], loop=True, name="loop"),
], out + "/rois.geojson")
print("{}")
"""


def _gappy_fly(rng: np.random.Generator):
    """Two animals, three keypoints, random walk with a long gap (as a fly track)."""
    steps = rng.normal(0, 3, size=(200, 2, 3, 2))
    pos = 100 + np.cumsum(steps, axis=0)
    pos[20:80, :, :, 1] = np.nan  # animal 2 unseen for 60 frames
    pos[100:104, :, 0, 0] = np.nan
    conf = rng.uniform(size=(200, 3, 2))
    conf[20:80, :, 1] = np.nan
    return from_numpy(
        pos,
        conf,
        keypoint_names=["head", "thorax", "abdomen"],
        individual_names=["female", "male"],
        source_software="SLEAP",
    )


def _nan_list(a: np.ndarray) -> np.ndarray:
    return np.array(a, dtype=float)


def test_movement_reads_posekit_files(tmp_path: Path, movement_python, rng) -> None:
    ds = _gappy_fly(rng)
    assert ds.attrs["fps"] is None
    nc = save(ds, tmp_path / "fly.nc")
    rois = [
        RectangleROI("box", 0, 0, 10, 5),
        CircleROI("well", 50, 50, 10),
        PolygonROI("arena", SQUARE, holes=(HOLE,)),
        LineROI("wall", ((0, 0), (10, 0))),
    ]
    geojson = save_rois(rois, tmp_path / "rois.geojson")
    got = run_script(movement_python, MOVEMENT_READS, nc, geojson)
    assert got["dims"] == {
        "position": ["time", "space", "keypoint", "individual"],
        "confidence": ["time", "keypoint", "individual"],
    }
    np.testing.assert_array_equal(_nan_list(got["position"]), ds.position.values)
    np.testing.assert_array_equal(_nan_list(got["confidence"]), ds.confidence.values)
    assert got["keypoint"] == ["head", "thorax", "abdomen"]
    assert got["individual"] == ["female", "male"]
    assert "fps" not in got["attrs"]  # not the string "null"
    assert got["attrs"]["source_software"] == "SLEAP"
    centroid = ds.position.mean("keypoint")
    for policy in ("ffill", "scale"):
        ours = compute_path_length(centroid, nan_policy=policy, nan_warn_threshold=1)
        np.testing.assert_allclose(ours.values, got["path_length"][policy], rtol=1e-9)
    by_name = {r["name"]: r for r in got["rois"]}
    assert by_name["arena"]["type"] == "PolygonOfInterest"
    assert by_name["arena"]["area"] == pytest.approx(9600.0)
    assert by_name["box"]["area"] == pytest.approx(50.0)
    assert by_name["well"]["area"] == pytest.approx(np.pi * 100, rel=5e-4)
    assert by_name["wall"]["type"] == "LineOfInterest"
    assert by_name["wall"]["length"] == pytest.approx(10.0)


def test_posekit_reads_movement_files(tmp_path: Path, movement_python) -> None:
    run_script(movement_python, MOVEMENT_WRITES, tmp_path)
    pos = np.load(tmp_path / "pos.npy")
    conf = np.load(tmp_path / "conf.npy")
    for name in ("singular.nc", "plural.nc", "fps.nc"):
        ds = load(tmp_path / name)
        assert ds.attrs["source_software"] in ("SLEAP", None), name
        assert ds.position.dims == ("time", "space", "keypoint", "individual"), name
        np.testing.assert_array_equal(ds.position.values, pos, err_msg=name)
        np.testing.assert_array_equal(ds.confidence.values, conf, err_msg=name)
        assert list(ds.individual.values) == ["f", "m"], name
    assert load(tmp_path / "fps.nc").attrs["fps"] == 30
    assert load(tmp_path / "singular.nc").attrs["fps"] is None
    arena, wall, loop = load_rois(tmp_path / "rois.geojson")
    assert arena == PolygonROI("arena", SQUARE, holes=(HOLE,))
    assert arena.area == 9600.0
    assert wall == LineROI("wall", ((0, 0), (10, 5), (20, 0)))
    # movement stores the loop as a closed LineString (shapely reorders the ring)
    assert loop == LineROI("loop", ((0, 0), (4, 3), (4, 0)), loop=True)
    assert loop.length == 12.0
    # and back: posekit's file of movement's ROIs is movement's file again
    data = json.loads(
        save_rois([arena, wall, loop], tmp_path / "again.geojson").read_text()
    )
    original = json.loads((tmp_path / "rois.geojson").read_text())
    assert [f["geometry"] for f in data["features"]] == [
        f["geometry"] for f in original["features"]
    ]
