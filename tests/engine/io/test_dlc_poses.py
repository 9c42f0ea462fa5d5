"""DeepLabCut files through the poses dataset: what a round trip must keep.

Frame numbers, the analysis' frame rate and scorer, the multi-animal layout of unique
bodyparts, labelled images (to SLEAP), and spreadsheet-saved CSVs recognised by their
content. Each test failed before its fix (found by a user converting files).
"""

from __future__ import annotations

import logging
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import convert, detect_format, load, save
from posekit.engine.io.dlc import predictions_frame, read_labels, write_predictions
from posekit.engine.poses import from_numpy

SCORER = "DLC_effnet_lite0_catDec6shuffle1_500"


def _predictions(tmp_path, n=12, start=0, fps=None):
    """Write ``cage1<scorer>.h5`` (frames ``start…``), with its meta if ``fps``."""
    rng = np.random.default_rng(0)
    xyp = np.concatenate(
        [rng.uniform(0, 100, (n, 3, 2)), rng.uniform(0.5, 1, (n, 3, 1))], axis=-1
    )
    df = predictions_frame(
        xyp, SCORER, ["snout", "ear", "tail"], index=range(start, start + n)
    )
    h5 = write_predictions(df, tmp_path / f"cage1{SCORER}.h5")
    if fps is not None:
        with open(tmp_path / f"cage1{SCORER}_meta.pickle", "wb") as fh:
            pickle.dump({"data": {"fps": fps, "nframes": n}}, fh)
    return h5, df


def test_frame_numbers_survive_a_round_trip(tmp_path):
    """A slice of a session keeps its frame numbers (it was renumbered from 0)."""
    ds = from_numpy(np.random.default_rng(1).uniform(0, 50, (20, 2, 3, 1)))
    part = ds.isel(time=slice(5, 15))
    out = save(part, tmp_path / "part.h5")
    assert pd.read_hdf(out).index.tolist() == list(range(5, 15))
    back = load(out)
    np.testing.assert_array_equal(back["time"].values, np.arange(5, 15))
    np.testing.assert_array_equal(back["position"].values, part["position"].values)
    # in seconds with a frame rate: frame = time × fps
    secs = from_numpy(np.zeros((4, 2, 1, 1)), fps=25).isel(time=slice(2, 4))
    assert pd.read_hdf(save(secs, tmp_path / "s.h5")).index.tolist() == [2, 3]
    with pytest.raises(ValueError, match="DeepLabCut stores frame numbers"):
        save(secs.assign_attrs(fps=None), tmp_path / "nofps.h5")


def test_predictions_keep_their_fps_and_scorer(tmp_path):
    """The analysis' ``_meta.pickle`` gives the frame rate; the scorer goes to NWB."""
    pynwb = pytest.importorskip("pynwb")
    h5, df = _predictions(tmp_path, start=3, fps=30.0)
    ds = load(h5)
    assert ds.attrs["fps"] == 30.0 and ds.attrs["time_unit"] == "seconds"
    np.testing.assert_allclose(ds["time"].values, np.arange(3, 15) / 30.0)
    assert ds.attrs["scorer"] == SCORER
    # the filtered file shares the analysis' metadata
    shutil.copy(h5, tmp_path / f"cage1{SCORER}_filtered.h5")
    assert load(tmp_path / f"cage1{SCORER}_filtered.h5").attrs["fps"] == 30.0
    # so do a multi-animal analysis' tracks (…_el.h5, _bx, _sk; they had no fps)
    for tracker in ("el", "bx", "sk"):
        tracks = shutil.copy(h5, tmp_path / f"cage1{SCORER}_{tracker}.h5")
        assert load(tracks).attrs["fps"] == 30.0
    filtered = shutil.copy(h5, tmp_path / f"cage1{SCORER}_el_filtered.h5")
    assert load(filtered).attrs["fps"] == 30.0
    # a given fps wins; a broken metadata file is no frame rate, not an error
    assert load(h5, fps=10.0).attrs["fps"] == 10.0
    (tmp_path / f"cage1{SCORER}_meta.pickle").write_bytes(b"not a pickle")
    assert load(h5).attrs["time_unit"] == "frames"
    _predictions(tmp_path, start=3, fps=30.0)
    nwb = convert(h5, tmp_path / "cage1.nwb")
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        pe = io.read().processing["behavior"]["PoseEstimation"]
        assert pe.scorer == SCORER
        series = pe.pose_estimation_series["snout"]
        np.testing.assert_allclose(series.timestamps[:], np.arange(3, 15) / 30.0)
    back = convert(nwb, tmp_path / "back.h5")
    again = pd.read_hdf(back)
    assert again.columns.get_level_values("scorer")[0] == SCORER
    assert again.index.tolist() == df.index.tolist()
    np.testing.assert_allclose(again.to_numpy(), df.to_numpy())


def test_unique_bodyparts_stay_under_single(shared_data, tmp_path):
    """Multi-animal DLC layout: animals A–C, ``single`` D–E, via the poses dataset."""
    src = (
        shared_data
        / "sleap-dlc-format-fixtures/labeled-data/video/maudlc_testdata_v2.csv"
    )
    want = {(i, b) for _, i, b, _ in read_labels(src).columns}
    assert ("single", "D") in want and ("Animal1", "D") not in want
    ds = load(src)
    assert ds.attrs["unique_bodyparts"] == ["D", "E"]
    out = save(ds, tmp_path / "maud.h5")
    assert {(i, b) for _, i, b, _ in pd.read_hdf(out).columns} == want
    np.testing.assert_array_equal(load(out)["position"].values, ds["position"].values)
    # without the attribute (e.g. after netCDF), from which animal has which points
    del ds.attrs["unique_bodyparts"]
    out = save(ds, tmp_path / "maud2.h5")
    assert {(i, b) for _, i, b, _ in pd.read_hdf(out).columns} == want


def test_labels_to_slp_list_their_images(openfield_dir, tmp_path, caplog):
    """A DLC label file becomes SLEAP labels on its images, not on a made-up video."""
    sio = pytest.importorskip("sleap_io")
    labels = openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5"
    ds = load(labels)
    out = save(ds, tmp_path / "openfield.slp")
    slp = sio.load_slp(str(out))
    images = slp.videos[0].filename
    assert isinstance(images, list) and len(images) == 116
    assert images[20] == str((openfield_dir / ds.attrs["frames"][20]).absolute())
    frame = next(f for f in slp.labeled_frames if f.frame_idx == 20)
    np.testing.assert_allclose(
        frame.instances[0].numpy(), ds["position"].values[20, :, :, 0].T
    )
    assert slp.videos[0].shape[1:3] == (480, 640)
    # a label file away from its images: named as given, with a warning
    shutil.copy(labels, tmp_path / "CollectedData_Pranav.h5")
    with caplog.at_level(logging.WARNING):
        alone = save(load(tmp_path / "CollectedData_Pranav.h5"), tmp_path / "a.slp")
    assert "are not found beside" in caplog.text
    names = sio.load_slp(str(alone), open_videos=False).videos[0].filename
    assert names[0] == "labeled-data/m4s1/img0000.png"


def test_spreadsheet_csv_is_recognised(openfield_dir, tmp_path):
    """``;`` between cells and decimal commas (a spreadsheet's save) load by content."""
    src = openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.csv"
    text = src.read_text(encoding="utf-8")
    rows = [
        ";".join(cell.replace(".", ",") if cell[:1].isdigit() else cell for cell in r)
        for r in (line.split(",") for line in text.splitlines())
    ]
    sheet = tmp_path / "CollectedData_Pranav.csv"
    sheet.write_text("\ufeff" + "\r\n".join(rows) + "\r\n;;\r\n", encoding="utf-8")
    assert detect_format(sheet) == "DeepLabCut"
    np.testing.assert_array_equal(
        load(sheet)["position"].values, load(src)["position"].values
    )


def test_what_dlc_files_cannot_hold_is_said(tmp_path, caplog):
    """The z coordinate and a skeleton are dropped with a warning, not silently."""
    ds = from_numpy(np.ones((3, 3, 2, 1)), keypoint_names=["a", "b"])
    ds.attrs["skeleton"] = [["a", "b"]]
    with caplog.at_level(logging.WARNING):
        save(ds, tmp_path / "d3.h5")
    assert "z is not written" in caplog.text
    assert "the 1 edges are not written" in caplog.text
