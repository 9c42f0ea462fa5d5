"""One entry point: load/save by content and extension, convert, ``posekit convert``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from posekit.engine.cli import main
from posekit.engine.io import (
    convert,
    detect_format,
    export_formats,
    load,
    save,
)
from posekit.engine.io.dlc import LabelError, predictions_frame
from posekit.engine.poses import from_numpy

SCORER = "DLC_mobnet_35_demoJan1shuffle1_700"


def _poses(rng: np.random.Generator, individuals=("individual_0",)) -> xr.Dataset:
    pos = rng.uniform(0, 200, (15, 2, 3, len(individuals)))
    pos[3, :, 1, 0] = np.nan
    conf = rng.uniform(0, 1, (15, 3, len(individuals)))
    conf[3, 1, 0] = np.nan
    return from_numpy(
        pos,
        conf,
        keypoint_names=["snout", "ear", "tail"],
        individual_names=list(individuals),
    )


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    np.testing.assert_array_equal(a.position.values, b.position.values)
    np.testing.assert_array_equal(a.confidence.values, b.confidence.values)
    assert list(a.keypoint.values) == list(b.keypoint.values)
    assert list(a.individual.values) == list(b.individual.values)


def test_formats_are_recognised_by_content_not_extension(tmp_path, rng) -> None:
    ds = _poses(rng)
    h5 = save(ds, tmp_path / f"v{SCORER}.h5")
    nc = save(ds, tmp_path / "v.nc")
    csv = save(ds, tmp_path / f"v{SCORER}.csv")
    for src, fmt in ((h5, "DeepLabCut"), (nc, "netCDF"), (csv, "DeepLabCut")):
        renamed = tmp_path / f"renamed_{src.suffix[1:]}.dat"
        shutil.copy(src, renamed)
        assert detect_format(src) == detect_format(renamed) == fmt
        _same(load(renamed), ds)


def test_lightning_pose_csv_is_not_taken_for_deeplabcut(tmp_path, rng) -> None:
    df = predictions_frame(rng.uniform(0, 1, (4, 2, 3)), "heatmap_tracker", ["a", "b"])
    df.to_csv(tmp_path / "preds.csv")
    assert detect_format(tmp_path / "preds.csv") == "LightningPose"


def test_save_chooses_the_format_by_extension(tmp_path, rng) -> None:
    ds = _poses(rng)
    assert export_formats()["DeepLabCut"][:2] == (".h5", ".csv")
    assert export_formats()["netCDF"] == (".nc",)
    csv = save(ds, tmp_path / f"v{SCORER}.csv")
    assert csv.read_text().startswith(f"scorer,{SCORER},")
    assert not csv.with_suffix(".h5").exists()  # the CSV alone
    with pytest.raises(ValueError, match="Cannot tell the format.*format="):
        save(ds, tmp_path / "v.xyz")
    out = save(ds, tmp_path / "v.xyz", format="netCDF")
    assert detect_format(out) == "netCDF"


@pytest.mark.parametrize("individuals", [("individual_0",), ("f", "m")])
def test_convert_round_trips_dlc_and_netcdf(tmp_path, rng, individuals) -> None:
    ds = _poses(rng, individuals)
    h5 = save(ds, tmp_path / f"v{SCORER}.h5")
    nc = convert(h5, tmp_path / "v.nc")
    back = convert(nc, tmp_path / f"w{SCORER}.h5")
    _same(load(nc), ds)
    _same(load(back), ds)
    pd.testing.assert_frame_equal(pd.read_hdf(h5), pd.read_hdf(back))


def test_sleap_identities_survive_conversion(tmp_path, shared_data) -> None:
    clip = shared_data / "sleap-flies-clip" / "clip.slp"
    ds = load(clip)
    for out in (tmp_path / "clip.nc", tmp_path / f"clip{SCORER}.h5"):
        back = load(convert(clip, out))
        _same(back, ds)
        assert list(back.individual.values) == ["female", "male"]


def test_dlc_labels_convert_to_netcdf_with_their_frames(tmp_path, openfield_dir):
    labels = next(openfield_dir.glob("labeled-data/*/CollectedData_*.h5"))
    ds = load(labels)
    back = load(convert(labels, tmp_path / "labels.nc"))
    _same(back, ds)
    assert back.attrs["frames"] == ds.attrs["frames"]
    assert np.isnan(back.confidence.values).all()  # hand labels: no confidence


def _duplicated_csv(path: Path) -> Path:
    path.write_text(
        "scorer,me,me,me,me\n"
        "bodyparts,snout,snout,snout,snout\n"
        "coords,x,y,x,y\n"
        "labeled-data/v/img0.png,1,2,3,4\n"
    )
    return path


def test_duplicated_csv_columns_are_refused_and_nothing_is_written(tmp_path) -> None:
    bad = _duplicated_csv(tmp_path / "CollectedData_me.csv")
    with pytest.raises(LabelError, match=r"CollectedData_me\.csv.*more than once"):
        load(bad)
    out = tmp_path / "out.nc"
    with pytest.raises(LabelError, match="CollectedData_me"):
        convert(bad, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CollectedData_me.csv"]


def test_cli_convert(tmp_path, rng, capsys) -> None:
    ds = _poses(rng)
    h5 = save(ds, tmp_path / f"v{SCORER}.h5")
    assert main(["convert", str(h5), str(tmp_path / "v.nc")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "v.nc")
    _same(load(tmp_path / "v.nc"), ds)
    assert main(["convert", str(h5), str(tmp_path / "v.data"), "--to", "netCDF"]) == 0
    assert detect_format(tmp_path / "v.data") == "netCDF"
    assert main(["convert", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "DeepLabCut" in listing and "netCDF" in listing and ".nc" in listing
    assert "SLEAP-analysis   read: yes (as SLEAP)" in listing  # load_sleap reads it
    bad = _duplicated_csv(tmp_path / "dup.csv")
    assert main(["convert", str(bad), str(tmp_path / "dup.nc")]) == 2
    err = capsys.readouterr().err
    assert "posekit convert: error:" in err and "dup.csv" in err
    assert not (tmp_path / "dup.nc").exists()
    assert main(["convert", str(h5), str(tmp_path / "v.xyz")]) == 2
    assert "--to" in capsys.readouterr().err


def test_dlc_to_dlc_keeps_the_table(tmp_path, openfield_dir, shared_data) -> None:
    """``posekit convert`` from DLC to DLC is DeepLabCut's convertcsv2h5 and back.

    Label files keep their image paths and labeller (they used to come out as
    predictions of scorer ``posekit`` with frame numbers), predictions their scorer
    whatever the output is named.
    """
    folder = next(openfield_dir.glob("labeled-data/*"))
    dlc_h5 = folder / "CollectedData_Pranav.h5"
    csv = shutil.copy(folder / "CollectedData_Pranav.csv", tmp_path)
    out = tmp_path / "CollectedData_Pranav.h5"
    assert main(["convert", str(csv), str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_hdf(out), pd.read_hdf(dlc_h5))
    back = convert(dlc_h5, tmp_path / "again.csv")
    assert back.read_text() == (folder / "CollectedData_Pranav.csv").read_text()

    fixtures = shared_data / "sleap-dlc-format-fixtures" / "labeled-data" / "video"
    ma = convert(fixtures / "madlc_testdata.csv", tmp_path / "ma.h5")
    pd.testing.assert_frame_equal(
        pd.read_hdf(ma),
        pd.read_csv(fixtures / "madlc_testdata.csv", header=[0, 1, 2, 3], index_col=0),
    )

    preds = save(_poses(np.random.default_rng(0)), tmp_path / f"v{SCORER}.h5")
    plain = convert(preds, tmp_path / "predictions.csv")
    assert plain.read_text().startswith(f"scorer,{SCORER},")
    pd.testing.assert_frame_equal(
        pd.read_hdf(convert(plain, tmp_path / "p.h5")), pd.read_hdf(preds)
    )


def test_h5_means_deeplabcut_whichever_format_module_came_first(tmp_path) -> None:
    """``import posekit.engine.io.sleap`` first must not make .h5 a SLEAP file."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "import posekit.engine.io.sleap\n"
        "from posekit.engine.io import detect_format, save\n"
        "from posekit.engine.poses import from_numpy\n"
        "ds = from_numpy(np.ones((3, 2, 2, 1)), np.ones((3, 2, 1)))\n"
        "print(detect_format(save(ds, sys.argv[1])))\n"
    )
    out = tmp_path / f"v{SCORER}.h5"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == "DeepLabCut"
