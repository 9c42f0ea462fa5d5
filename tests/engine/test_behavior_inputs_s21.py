"""What the behaviour tools say about inputs they cannot measure as given (QA s21).

- A label file (``CollectedData_*.h5``) holds labelled images, not consecutive frames:
  speeds between its rows are refused, in Python and by ``posekit behavior``.
- A DeepLabCut file whose ``coords`` level has an unknown name (``likelihod``) or that
  lacks a bodypart's likelihood loads with a warning naming it, and
  ``posekit behavior --pcutoff`` says that it cannot apply the cut-off there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.calibration import Calibration
from posekit.engine.behavior.kinematics import compute_speed
from posekit.engine.cli import main
from posekit.engine.io import load_poses
from posekit.engine.io.dlc import make_labels_frame, write_labels

N = 50


def _label_file(tmp_path: Path) -> Path:
    """Six labelled images of one animal, as DeepLabCut keeps them."""
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    rows = [f"labeled-data/vid/img{i:04d}.png" for i in (3, 17, 40, 41, 90, 120)]
    xy = np.arange(6 * 2 * 2, dtype=float).reshape(6, 2, 2) * 7.0
    df = make_labels_frame("me", ["nose", "tail"], rows, xy)
    return write_labels(df, folder / "CollectedData_me.h5")


def _csv(path: Path, coords: list[tuple[str, str]], rng: np.random.Generator) -> Path:
    """Write a DeepLabCut predictions CSV with these (bodypart, coord) columns."""
    columns = pd.MultiIndex.from_tuples(
        [("DLC_resnet50_xJan1shuffle1_100", bp, c) for bp, c in coords],
        names=["scorer", "bodyparts", "coords"],
    )
    values = rng.uniform(0, 1, (N, len(columns)))
    pd.DataFrame(values, columns=columns).to_csv(path)
    return path


def _xy_and(likelihood: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for bp, name in likelihood.items():
        out += [(bp, "x"), (bp, "y")] + ([(bp, name)] if name else [])
    return out


# ---------------------------------------------------------------- label files


def test_speed_of_labelled_images_is_refused(tmp_path: Path) -> None:
    ds = load_poses(_label_file(tmp_path), fps=30)
    assert ds["time"].attrs["rows"] == "images"
    with pytest.raises(ValueError, match="labelled images.*posekit analyze"):
        compute_speed(ds.position)
    # a frame rate set afterwards (the behaviour tools' calibration) keeps the mark
    calibrated = Calibration(fps=30.0).apply(load_poses(_label_file(tmp_path / "b")))
    with pytest.raises(ValueError, match="labelled images"):
        compute_speed(calibrated["position"], per="frame")


def test_behavior_export_refuses_a_label_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labels = _label_file(tmp_path)
    out = tmp_path / "res"
    rc = main(["behavior", "export", str(labels), "--fps", "30", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "CollectedData_me.h5 (6 images): label files" in err
    assert "labeled-data/vid/img0003.png" in err
    assert not (out / "kinematics.csv").exists()


def test_behavior_refuses_the_openfield_labels(
    openfield_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labels = openfield_dir / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    rc = main(["behavior", "features", str(labels), "--out", str(tmp_path / "f.csv")])
    assert rc == 2
    assert "(116 images): label files" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


# ---------------------------------------------------------------- likelihoods


def test_misspelled_likelihood_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, rng: np.random.Generator
) -> None:
    path = _csv(
        tmp_path / "bad.csv", _xy_and({"nose": "likelihod", "tail": "likelihod"}), rng
    )
    with caplog.at_level(logging.WARNING, logger="posekit"):
        ds = load_poses(path)
    assert np.isnan(ds.confidence.values).all()
    assert "coords ['likelihod'] not read" in caplog.text
    assert "no likelihood column for any bodypart" in caplog.text


def test_missing_likelihood_of_one_bodypart_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, rng: np.random.Generator
) -> None:
    path = _csv(
        tmp_path / "ragged.csv", _xy_and({"nose": "likelihood", "tail": ""}), rng
    )
    with caplog.at_level(logging.WARNING, logger="posekit"):
        ds = load_poses(path)
    assert np.isfinite(ds.confidence.sel(keypoint="nose").values).all()
    assert np.isnan(ds.confidence.sel(keypoint="tail").values).all()
    assert "ragged.csv: no likelihood column for tail:" in caplog.text
    assert "nose" not in caplog.text


def test_label_files_and_complete_predictions_load_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, rng: np.random.Generator
) -> None:
    good = _csv(
        tmp_path / "good.csv",
        _xy_and({"nose": "likelihood", "tail": "likelihood"}),
        rng,
    )
    with caplog.at_level(logging.WARNING, logger="posekit"):
        load_poses(good)
        load_poses(_label_file(tmp_path))  # x, y only, as every label file
    assert "likelihood" not in caplog.text


@pytest.mark.parametrize(
    ("coords", "said"),
    [
        (
            {"nose": "likelihod", "tail": "likelihod"},
            "--pcutoff 0.6 not applied to bad: its file has no likelihood",
        ),
        (
            {"nose": "likelihood", "tail": ""},
            "--pcutoff 0.6 not applied to bad's tail: its file has no likelihood",
        ),
    ],
)
def test_pcutoff_says_where_it_does_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    rng: np.random.Generator,
    coords: dict[str, str],
    said: str,
) -> None:
    path = _csv(tmp_path / "bad.csv", _xy_and(coords), rng)
    out = tmp_path / "k.csv"
    argv = ["behavior", "features", str(path), "--fps", "30", "--out", str(out)]
    assert main([*argv, "--pcutoff", "0.6"]) == 0
    assert said in capsys.readouterr().err
    assert main(argv) == 0  # no --pcutoff: nothing to say
    assert "--pcutoff" not in capsys.readouterr().err
