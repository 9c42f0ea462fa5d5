"""Lightning Pose CSV: loading, and telling it apart from DeepLabCut CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import load_poses
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.io.lightning_pose import is_lightning_pose_csv, load_lightning_pose

BODYPARTS = ["nose", "paw_l", "paw_r"]


def _lp_frame(n: int = 6, scorer: str = "heatmap_tracker") -> pd.DataFrame:
    """Make what Lightning Pose's PredictionHandler writes for a video."""
    rng = np.random.default_rng(0)
    data = np.empty((n, 3 * len(BODYPARTS)))
    data[:, 0::3] = rng.uniform(0, 640, (n, 3))
    data[:, 1::3] = rng.uniform(0, 480, (n, 3))
    data[:, 2::3] = rng.uniform(0, 1, (n, 3))
    cols = pd.MultiIndex.from_product(
        [[scorer], BODYPARTS, ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    return pd.DataFrame(data, columns=cols)


def test_video_predictions_load(tmp_path):
    df = _lp_frame()
    path = tmp_path / "video_preds.csv"
    df.to_csv(path)
    assert is_lightning_pose_csv(path)
    ds = load_lightning_pose(path, fps=30)
    assert ds.attrs["source_software"] == "LightningPose"
    assert (
        ds.keypoint.values.tolist() == BODYPARTS
        and ds.individual.values.tolist() == ["individual_0"]
    )
    np.testing.assert_allclose(
        ds.position.sel(space="x", individual="individual_0"),
        df.xs("x", axis=1, level="coords").values,
    )
    np.testing.assert_allclose(
        ds.confidence.sel(individual="individual_0"),
        df.xs("likelihood", axis=1, level="coords").values,
    )
    assert ds.time.values[1] == pytest.approx(1 / 30)


def test_labelled_frame_predictions_with_set_column(tmp_path):
    df = _lp_frame(4, scorer="heatmap_mhcrnn_tracker")
    df.index = [f"labeled-data/vid/img{i:03d}.png" for i in range(4)]
    df[("set", "", "")] = ["train", "train", "validation", "test"]
    path = tmp_path / "predictions.csv"
    df.to_csv(path)
    assert is_lightning_pose_csv(path)
    ds = load_lightning_pose(path)
    assert ds.attrs["frames"][2] == "labeled-data/vid/img002.png"
    assert ds.sizes["keypoint"] == 3  # the set column is not a keypoint


def test_eks_output_keeps_only_x_y_likelihood(tmp_path):
    cols = pd.MultiIndex.from_product(
        [
            ["ensemble-kalman_tracker"],
            ["nose"],
            ["x", "y", "likelihood", "x_ens_median", "x_posterior_var"],
        ],
        names=["scorer", "bodyparts", "coords"],
    )
    pd.DataFrame(np.arange(10.0).reshape(2, 5), columns=cols).to_csv(
        tmp_path / "eks.csv"
    )
    ds = load_poses(tmp_path / "eks.csv", source_software="LightningPose")
    np.testing.assert_allclose(ds.position.sel(space="x").values.ravel(), [0.0, 5.0])
    np.testing.assert_allclose(ds.confidence.values.ravel(), [2.0, 7.0])


def test_dlc_csv_files_are_not_taken_for_lightning_pose(tmp_path, dlc_csv_variants):
    dlc_files = sorted(dlc_csv_variants.values())
    assert len(dlc_files) >= 5
    xyp = np.random.default_rng(1).uniform(size=(5, 3, 3))
    pred = write_predictions(
        predictions_frame(
            xyp, "DLC_resnet50_openfieldOct30shuffle1_1030000", BODYPARTS
        ),
        tmp_path / "m3v1mp4DLC_resnet50_openfieldOct30shuffle1_1030000.h5",
        save_csv=True,
    )
    dlc_files.append(pred.with_suffix(".csv"))
    for f in dlc_files:
        assert not is_lightning_pose_csv(f), f
    # a renamed scorer is not recognised automatically, but loads when asked for
    renamed = tmp_path / "renamed.csv"
    _lp_frame(scorer="my_model").to_csv(renamed)
    assert not is_lightning_pose_csv(renamed)
    assert load_poses(renamed, source_software="LightningPose").sizes["time"] == 6


@pytest.mark.parametrize("name", ["multi", "multi_v2", "multi_unique"])
def test_multi_animal_file_is_refused(dlc_csv_variants, name):
    with pytest.raises(ValueError, match="multi-animal"):
        load_lightning_pose(dlc_csv_variants[name])


def test_load_poses_recognises_lightning_pose(tmp_path):
    path = tmp_path / "video_preds.csv"
    _lp_frame().to_csv(path)
    assert load_poses(path).attrs["source_software"] == "LightningPose"
