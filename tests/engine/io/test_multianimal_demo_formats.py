"""The multi-animal demo's exact tracks through every format that holds several animals.

The synthetic 3-animal demo (:func:`posekit.engine.demo.make_demo_project` with
``n_animals=3``) writes the exact track of every mouse, with its hidden parts marked. Here
those tracks (hidden parts NaN, a seeded random likelihood as confidence) are written and
read back through posekit's format layer (:func:`posekit.engine.io.save` /
:func:`~posekit.engine.io.load` / :func:`~posekit.engine.io.convert`) in DeepLabCut
``.h5`` and ``.csv``, netCDF, NWB, SLEAP ``.slp`` and analysis ``.h5`` and COCO keypoint
results: positions, NaN, confidence and identities must come back as written, except
what a format does not hold by design (said per format in :data:`FORMATS`). movement
(in this Python if it has it, else in its own environment) reads the DeepLabCut ``.h5``,
the netCDF and the ``.slp`` and finds the same tracks.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from posekit.engine.demo import SKELETON, make_demo_project
from posekit.engine.io import convert, detect_format, load, save
from posekit.engine.multianimal.demo import load_multianimal_ground_truth
from posekit.engine.poses import from_numpy

from .conftest import run_script

N_FRAMES = 40
FPS = 30.0
ANIMALS = ["mouse1", "mouse2", "mouse3"]  # the demo's names, in its order
#: The order the poses are written in: not sorted, so a writer or reader that sorts the
#: individuals (or numbers them by position) changes it and the tests see it.
ORDER = ["mouse2", "mouse3", "mouse1"]
GONE = ("mouse3", slice(12, 15))  # frames where one animal has no point at all
SCORER = "DLC_resnet50_social3Jan1shuffle1_100"


@dataclass(frozen=True)
class Format:
    """How one format round-trips the demo's poses.

    Attributes
    ----------
    save_as
        The format name :func:`save` takes.
    file
        The file written (its name matters only for the DeepLabCut scorer).
    detected
        The format :func:`detect_format` names for the written file.
    needs
        The optional module the format needs (the test skips without it).
    confidence
        Where the confidence comes back: ``"everywhere"``; ``"instance"``: in the
        frames where the animal has a point (SLEAP stores an instance there, its
        invisible points with their scores, and none where it has no point);
        ``"position"``: only for keypoints with a position (NaN elsewhere).
    keypoint_names
        Whether the keypoint names are kept (else ``keypoint_0…`` in order).
    seconds
        Whether the time in seconds and the fps are kept (else frame numbers, no fps).
    individual_order
        Whether the individuals come back in the order written (else each under its
        name, in another order).
    """

    save_as: str
    file: str
    detected: str
    needs: str | None = None
    confidence: str = "everywhere"
    keypoint_names: bool = True
    seconds: bool = False
    individual_order: bool = True


FORMATS = {
    # DeepLabCut keeps x, y, likelihood, names and frame numbers, not the fps.
    "dlc-h5": Format("DeepLabCut", f"session1{SCORER}.h5", "DeepLabCut"),
    "dlc-csv": Format("DeepLabCut", f"session1{SCORER}.csv", "DeepLabCut"),
    # netCDF is the poses dataset itself: everything, time in seconds and fps too.
    "netcdf": Format("netCDF", "session1.nc", "netCDF", seconds=True),
    # NWB: one PoseEstimation_<individual> per animal, times in seconds from the rate.
    # The PoseEstimation objects are HDF5 groups, which have no order: they are read
    # back by name, so each animal keeps its name and track but not its place.
    "nwb": Format(
        "NWB",
        "session1.nwb",
        "NWB",
        needs="ndx_pose",
        seconds=True,
        individual_order=False,
    ),
    # SLEAP: frame numbers, no fps; an instance per frame and animal with a point,
    # whose invisible points keep their scores (as movement reads them, see below).
    "sleap-slp": Format(
        "SLEAP", "session1.slp", "SLEAP", needs="sleap_io", confidence="instance"
    ),
    "sleap-analysis": Format(
        "SLEAP-analysis",
        "session1.analysis.h5",
        "SLEAP",
        needs="sleap_io",
        confidence="instance",
    ),
    # COCO results: one entry per image and animal with x, y, likelihood ("individual"
    # is posekit's extra key); a missing point is 0, 0, 0 with no likelihood. Results
    # name no keypoints (the dataset they belong to does) and hold image ids, no times.
    "coco-results": Format(
        "COCO",
        "session1_results.json",
        "COCO",
        confidence="position",
        keypoint_names=False,
    ),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """Make a small 3-animal demo project (video, ground truth, no labelled frames)."""
    return make_demo_project(
        tmp_path_factory.mktemp("social"),
        n_animals=3,
        n_frames=N_FRAMES,
        n_labeled=0,
        size=(160, 120),
        fps=FPS,
    )


@pytest.fixture(scope="module")
def truth(demo) -> tuple[np.ndarray, np.ndarray]:
    """Return the demo's exact keypoints ``(T, I, K, 2)`` and visibility ``(T, I, K)``."""
    kp, visible = load_multianimal_ground_truth(demo)
    # the demo must exercise what is tested: animals that hide each other's parts
    assert kp.shape == (N_FRAMES, 3, 6, 2) and np.isfinite(kp).all()
    assert 0 < (~visible).sum() < visible.size / 4
    return kp, visible


@pytest.fixture(scope="module")
def poses(demo, truth) -> xr.Dataset:
    """Return the ground truth as predictions: hidden parts NaN, random likelihood.

    Read through the format layer from the demo's DeepLabCut tracks file; animals in
    the order :data:`ORDER`; one animal has no point in the frames of :data:`GONE`.
    """
    gt_file = Path(demo.path) / "ground-truth" / "session1_keypoints.h5"
    assert detect_format(gt_file) == "DeepLabCut"
    gt = load(gt_file)
    assert gt.individual.values.tolist() == ANIMALS
    kp, visible = truth
    # the tracks file and the demo's own reader agree (likelihood = visibility)
    np.testing.assert_array_equal(
        gt.position.transpose("time", "individual", "keypoint", "space").values, kp
    )
    np.testing.assert_array_equal(
        gt.confidence.transpose("time", "individual", "keypoint").values, visible
    )
    gt = gt.sel(individual=ORDER)
    position = gt.position.where(gt.confidence > 0.5)
    name, frames = GONE
    position.loc[{"individual": name, "time": position.time[frames]}] = np.nan
    rng = np.random.default_rng(17)
    confidence = rng.uniform(0.0, 1.0, gt.confidence.shape)
    ds = from_numpy(
        position.transpose("time", "space", "keypoint", "individual").values,
        confidence,
        keypoint_names=gt.keypoint.values.tolist(),
        individual_names=ORDER,
        fps=FPS,
        source_software="posekit",
    )
    ds.attrs["skeleton"] = [list(edge) for edge in SKELETON]
    return ds


def _check_identities(back: xr.Dataset, truth: tuple[np.ndarray, np.ndarray]) -> None:
    """Each named track in ``back`` is that animal of the demo, wherever it is seen."""
    kp, visible = truth
    name, frames = GONE
    for a, animal in enumerate(ANIMALS):
        got = back.position.sel(individual=animal)
        got = got.transpose("time", "keypoint", "space").values
        shown = visible[:, a].copy()
        if animal == name:
            shown[frames] = False
        np.testing.assert_array_equal(np.isfinite(got).all(axis=-1), shown, animal)
        np.testing.assert_allclose(got[shown], kp[:, a][shown], rtol=1e-12, atol=0)


def _check_round_trip(back: xr.Dataset, ds: xr.Dataset, fmt: Format) -> None:
    """``back`` (read from a file) holds what ``ds`` held, as far as ``fmt`` keeps it."""
    assert back.position.dims == ("time", "space", "keypoint", "individual")
    assert back.sizes == ds.sizes
    if fmt.individual_order:
        assert back.individual.values.tolist() == ORDER
    else:
        assert sorted(back.individual.values.tolist()) == sorted(ORDER)
        back = back.sel(individual=ORDER)
    keypoints = ds.keypoint.values.tolist()
    if fmt.keypoint_names:
        assert back.keypoint.values.tolist() == keypoints
    else:
        assert back.keypoint.values.tolist() == [f"keypoint_{j}" for j in range(6)]
        back = back.assign_coords(keypoint=keypoints)
    pos, pos0 = back.position.values, ds.position.values
    np.testing.assert_array_equal(np.isnan(pos), np.isnan(pos0))
    np.testing.assert_allclose(pos, pos0, rtol=1e-12, atol=0)
    conf, conf0 = back.confidence.values, ds.confidence.values
    seen = np.isfinite(pos0).all(axis=1)  # (time, keypoint, individual)
    kept = {
        "everywhere": np.ones_like(seen),
        "instance": np.broadcast_to(seen.any(axis=1, keepdims=True), seen.shape),
        "position": seen,
    }[fmt.confidence]
    np.testing.assert_allclose(conf[kept], conf0[kept], rtol=1e-12, atol=0)
    assert np.isnan(conf[~kept]).all()
    frames = np.arange(N_FRAMES)
    if fmt.seconds:
        np.testing.assert_allclose(back.time.values, frames / FPS, rtol=1e-12)
        assert back.attrs["fps"] == FPS
    else:
        np.testing.assert_array_equal(back.time.values, frames)
        assert back.attrs["fps"] is None


@pytest.mark.parametrize("key", list(FORMATS))
def test_demo_tracks_round_trip(tmp_path: Path, poses, truth, key: str) -> None:
    fmt = FORMATS[key]
    if fmt.needs:
        pytest.importorskip(fmt.needs)
    path = save(poses, tmp_path / fmt.file, format=fmt.save_as)
    assert path == tmp_path / fmt.file and path.is_file()
    assert detect_format(path) == fmt.detected
    back = load(path)
    _check_round_trip(back, poses, fmt)
    _check_identities(back, truth)


def test_demo_tracks_survive_a_chain_of_conversions(
    tmp_path: Path, poses, truth
) -> None:
    """DeepLabCut → netCDF → NWB → SLEAP → COCO → DeepLabCut CSV keeps the tracks."""
    pytest.importorskip("ndx_pose")
    pytest.importorskip("sleap_io")
    src = save(poses, tmp_path / f"session1{SCORER}.h5")
    chain = ["a.nc", "b.nwb", "c.slp", "d.json", f"e{SCORER}.csv"]
    for name in chain:
        src = convert(src, tmp_path / name)
    back = load(src)
    assert detect_format(src) == "DeepLabCut"
    # NWB dropped the order of the animals, COCO the scores of unseen points and
    # the keypoint names
    _check_round_trip(
        back,
        poses,
        Format(
            "DeepLabCut",
            src.name,
            "DeepLabCut",
            confidence="position",
            keypoint_names=False,
            individual_order=False,
        ),
    )
    _check_identities(back, truth)


def test_one_animal_formats_refuse_the_demo(tmp_path: Path, poses) -> None:
    target = tmp_path / "session1.csv"
    with pytest.raises(ValueError, match="one animal.*3 individuals"):
        save(poses, target, format="LightningPose")
    assert not target.exists()


MOVEMENT_READS = r"""
import json, sys
import numpy as np, xarray as xr
from movement.io import load_poses
h5, nc, slp = sys.argv[1:4]
def dump(ds):
    pos = ds.position.transpose("time", "space", "keypoint", "individual").values
    conf = ds.confidence.transpose("time", "keypoint", "individual").values
    return {
        "position": np.where(np.isnan(pos), None, pos).tolist(),
        "confidence": np.where(np.isnan(conf), None, conf).tolist(),
        "time": ds.time.values.tolist(),
        "keypoint": [str(k) for k in ds.keypoint.values],
        "individual": [str(i) for i in ds.individual.values],
        "fps": ds.attrs.get("fps"),
    }
print(json.dumps({
    "dlc": dump(load_poses.from_dlc_file(h5, fps=30)),
    "netcdf": dump(xr.open_dataset(nc)),
    "sleap": dump(load_poses.from_sleap_file(slp, fps=30)),
}))
"""


@pytest.fixture(scope="module")
def movement_exe(request: pytest.FixtureRequest) -> Path:
    """Return a Python with movement: this one if it has it, else movement's venv."""
    if importlib.util.find_spec("movement") is not None:
        return Path(sys.executable)
    return request.getfixturevalue("movement_python")  # skips, saying why, if unmade


@pytest.mark.slow
def test_movement_reads_the_demo_files(tmp_path: Path, poses, movement_exe) -> None:
    pytest.importorskip("sleap_io")
    h5 = save(poses, tmp_path / f"session1{SCORER}.h5")
    nc = save(poses, tmp_path / "session1.nc")
    slp = save(poses, tmp_path / "session1.slp")
    got = run_script(movement_exe, MOVEMENT_READS, h5, nc, slp)
    # SLEAP stores an instance per frame and animal with a point; movement keeps the
    # score stored for a point the instance does not show (as posekit does)
    instance = np.isfinite(poses.position.values).all(axis=1).any(axis=1)
    in_slp = np.broadcast_to(instance[:, None], poses.confidence.shape)
    # movement reads DeepLabCut and netCDF exactly, SLEAP as float32 (2**-24 relative)
    for key, rtol in (("dlc", 0.0), ("netcdf", 0.0), ("sleap", 2.0**-24)):
        read = got[key]
        assert read["individual"] == ORDER, key
        assert read["keypoint"] == poses.keypoint.values.tolist(), key
        pos = np.array(read["position"], dtype=float)
        np.testing.assert_array_equal(np.isnan(pos), ~np.isfinite(poses.position))
        np.testing.assert_allclose(pos, poses.position.values, rtol=rtol, atol=0)
        conf = np.array(read["confidence"], dtype=float)
        kept = in_slp if key == "sleap" else np.ones_like(in_slp)
        np.testing.assert_array_equal(np.isnan(conf), ~kept, key)
        np.testing.assert_allclose(
            conf[kept], poses.confidence.values[kept], rtol=rtol, atol=0
        )
        np.testing.assert_allclose(read["time"], np.arange(N_FRAMES) / FPS)
        assert read["fps"] == FPS, key
