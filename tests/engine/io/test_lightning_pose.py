"""Lightning Pose CSVs (labels, predictions) both ways, and data folders as projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import detect_format, load, load_poses, save
from posekit.engine.io.dlc import (
    index_to_paths,
    labels_to_array,
    predictions_frame,
    read_labels,
    write_predictions,
)
from posekit.engine.io.lightning_pose import (
    import_lightning_pose,
    is_lightning_pose_csv,
    load_lightning_pose,
    read_lightning_pose_labels,
    save_lightning_pose,
    write_lightning_pose_labels,
)
from posekit.engine.poses import from_numpy

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


# ---------------------------------------------------------------- labels


def _lp_labels_csv(path: Path, n: int = 4, visible: bool = False) -> pd.DataFrame:
    """Write a labels file as Lightning Pose's example data has it."""
    rng = np.random.default_rng(2)
    coords = ["x", "y", "visible"] if visible else ["x", "y"]
    cols = pd.MultiIndex.from_product(
        [["rick"], BODYPARTS, coords], names=["scorer", "bodyparts", "coords"]
    )
    data = np.zeros((n, len(cols)))
    for j in range(len(BODYPARTS)):
        k = len(coords) * j
        data[:, k : k + 2] = rng.uniform(0, 60, (n, 2)).round(2)
        if visible:
            data[:, k + 2] = 2
    df = pd.DataFrame(data, columns=cols)
    df.index = [f"labeled-data/img{i + 1:02d}.png" for i in range(n)]
    df.iloc[1, 0:2] = np.nan  # nose unlabelled in img02 (empty cells)
    if visible:
        df.iloc[1, 2] = 0
        df.iloc[2, 3:5] = [11.0, 12.0]
        df.iloc[2, 5] = 1  # occluded: coordinates present but not used
    df.to_csv(path)
    return df


def test_lp_labels_are_told_apart_from_dlc_labels(tmp_path, dlc_csv_variants):
    plain = tmp_path / "CollectedData.csv"
    _lp_labels_csv(plain)
    assert plain.read_text().splitlines()[3].startswith("labeled-data/img01.png,")
    assert is_lightning_pose_csv(plain)
    assert detect_format(plain) == "LightningPose"
    flagged = tmp_path / "flags.csv"
    _lp_labels_csv(flagged, visible=True)
    assert is_lightning_pose_csv(flagged)
    for f in dlc_csv_variants.values():  # labeled-data/<video>/<img> rows: DLC's
        assert not is_lightning_pose_csv(f), f


def test_labels_round_trip_with_visible_flags(tmp_path):
    src = tmp_path / "flags.csv"
    df = _lp_labels_csv(src, visible=True)
    labels = read_lightning_pose_labels(src)
    assert list(labels.index) == list(df.index)
    np.testing.assert_array_equal(labels.to_numpy(), df.to_numpy())
    out = write_lightning_pose_labels(labels, tmp_path / "again.csv")
    again = read_lightning_pose_labels(out)
    assert list(again.columns) == list(df.columns)
    np.testing.assert_array_equal(again.to_numpy(), df.to_numpy())
    # as poses: points not flagged 2 are unlabelled
    ds = load(src)
    nose = ds.position.sel(keypoint="nose", individual="individual_0", space="x")
    assert np.isnan(nose[1]) and np.isfinite(nose[0])
    assert np.isnan(ds.position.sel(keypoint="paw_l").isel(time=2)).all()
    assert ds.attrs["frames"][0] == "labeled-data/img01.png"


def test_openfield_labels_to_lp_and_back(openfield_dir, tmp_path):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    out = write_lightning_pose_labels(
        labels, tmp_path / "CollectedData.csv", visible=True
    )
    back = read_lightning_pose_labels(out)
    assert list(back.index) == index_to_paths(labels.index)
    np.testing.assert_array_equal(back.xs("x", axis=1, level="coords"),
                                  labels.xs("x", axis=1, level="coords"))  # fmt: skip
    assert (back.xs("visible", axis=1, level="coords").to_numpy() == 2).all()
    ref = pd.read_csv(out, header=[0, 1, 2], index_col=0)  # how Lightning Pose reads it
    assert ref.shape == (116, 12)


# ---------------------------------------------------------------- predictions


def _openfield_predictions(openfield_dir) -> object:
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    rng = np.random.default_rng(4)
    xy = labels_to_array(labels) + rng.normal(0, 1, (116, 4, 2))
    like = rng.uniform(0, 1, (116, 4))
    xy[3, 1] = np.nan
    like[3, 1] = np.nan
    ds = from_numpy(
        xy.transpose(0, 2, 1)[..., None],
        like[..., None],
        keypoint_names=["snout", "leftear", "rightear", "tailbase"],
    )
    ds.attrs["frames"] = index_to_paths(labels.index)
    ds.attrs["set"] = ["train"] * 100 + ["validation"] * 10 + ["test"] * 6
    ds.attrs["scorer"] = "heatmap_mhcrnn_tracker"
    return ds


def test_labelled_frame_predictions_round_trip(openfield_dir, tmp_path):
    ds = _openfield_predictions(openfield_dir)
    out = save(ds, tmp_path / "predictions.csv", format="LightningPose")
    assert detect_format(out) == "LightningPose"
    back = load(out)
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    np.testing.assert_array_equal(back.confidence.values, ds.confidence.values)
    assert back.attrs["frames"] == ds.attrs["frames"]
    assert back.attrs["set"] == ds.attrs["set"]
    assert back.attrs["scorer"] == "heatmap_mhcrnn_tracker"
    raw = pd.read_csv(out, header=[0, 1, 2], index_col=0)
    assert raw.columns[-1][0] == "set" and raw.iloc[-1, -1] == "test"


def test_video_predictions_round_trip_in_seconds(tmp_path):
    rng = np.random.default_rng(5)
    pos = rng.uniform(0, 100, (20, 2, 3, 1))
    conf = rng.uniform(0, 1, (20, 3, 1))
    pos[4, :, 0] = np.nan
    conf[4, 0] = np.nan
    ds = from_numpy(pos, conf, keypoint_names=BODYPARTS, fps=50.0)
    out = save_lightning_pose(ds, tmp_path / "video_preds.csv")
    raw = pd.read_csv(out, header=[0, 1, 2], index_col=0)
    assert raw.index.tolist() == list(range(20))
    assert raw.columns[0] == ("heatmap_tracker", "nose", "x")
    back = load(out, fps=50.0)
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    np.testing.assert_array_equal(back.confidence.values, ds.confidence.values)
    np.testing.assert_allclose(back.time.values, ds.time.values)


def test_lp_holds_one_animal(tmp_path):
    ds = from_numpy(np.zeros((3, 2, 2, 2)))
    with pytest.raises(ValueError, match="one animal"):
        save_lightning_pose(ds, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- data folder → project


def _lp_folder(root: Path, visible: bool = False) -> pd.DataFrame:
    """Make a Lightning Pose data folder: grayscale frames in labeled-data/, a video."""
    root.mkdir(parents=True)
    df = _lp_labels_csv(root / "CollectedData.csv", visible=visible)
    (root / "labeled-data").mkdir()
    rng = np.random.default_rng(6)
    for row in df.index:
        cv2.imwrite(str(root / row), rng.integers(0, 255, (64, 80), dtype=np.uint8))
    (root / "videos").mkdir()
    writer = cv2.VideoWriter(
        str(root / "videos" / "session0.mp4"),
        cv2.VideoWriter_fourcc(*"mp4v"),
        10.0,
        (80, 64),
    )
    for _ in range(5):
        writer.write(np.zeros((64, 80, 3), np.uint8))
    writer.release()
    return df


def test_import_lightning_pose_folder(tmp_path):
    df = _lp_folder(tmp_path / "mirror-mouse", visible=True)
    project = import_lightning_pose(tmp_path / "mirror-mouse", tmp_path / "project")
    assert project.task == "mirror_mouse" and project.scorer == "rick"
    assert project.bodyparts == BODYPARTS and not project.multianimal
    assert [v.name for v in project.videos()] == ["session0.mp4"]
    h5 = project.path / "labeled-data/mirror_mouse/CollectedData_rick.h5"
    labels = read_labels(h5)
    assert index_to_paths(labels.index)[0] == "labeled-data/mirror_mouse/img01.png"
    xy = labels_to_array(labels)
    np.testing.assert_array_equal(xy[0], df.iloc[0].to_numpy().reshape(3, 3)[:, :2])
    assert np.isnan(xy[1, 0]).all()  # visible = 0
    assert np.isnan(xy[2, 1]).all()  # visible = 1: occluded, not a label
    img = cv2.imread(str(project.path / "labeled-data/mirror_mouse/img01.png"),
                     cv2.IMREAD_UNCHANGED)  # fmt: skip
    gray = cv2.imread(str(tmp_path / "mirror-mouse/labeled-data/img01.png"),
                      cv2.IMREAD_UNCHANGED)  # fmt: skip
    assert gray.ndim == 2 and img.shape == (64, 80, 3)
    np.testing.assert_array_equal(img[..., 0], gray)
    np.testing.assert_array_equal(img[..., 2], gray)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror-mouse", "project"]


def test_import_refuses_missing_images_and_writes_nothing(tmp_path):
    _lp_folder(tmp_path / "lp")
    (tmp_path / "lp/labeled-data/img03.png").unlink()
    with pytest.raises(FileNotFoundError, match="img03.png"):
        import_lightning_pose(tmp_path / "lp", tmp_path / "project")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lp"]


def test_openfield_as_lightning_pose_folder_imports_back(openfield_dir, tmp_path):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    labels = labels.iloc[:10]
    lp = tmp_path / "of-lp"
    (lp / "labeled-data").mkdir(parents=True)
    rows = [f"labeled-data/{Path(r).name}" for r in index_to_paths(labels.index)]
    for src, row in zip(index_to_paths(labels.index), rows, strict=True):
        shutil.copy(openfield_dir / src, lp / row)
    write_lightning_pose_labels(labels.set_axis(rows, axis=0), lp / "CollectedData.csv")
    project = import_lightning_pose(lp, tmp_path / "proj", video="m4s1")
    back = read_labels(project.path / "labeled-data/m4s1/CollectedData_Pranav.h5")
    assert index_to_paths(back.index) == index_to_paths(labels.index)
    np.testing.assert_array_equal(back.to_numpy(), labels.to_numpy())
    same = cv2.imread(str(project.path / "labeled-data/m4s1/img0003.png"))
    np.testing.assert_array_equal(
        same, cv2.imread(str(openfield_dir / index_to_paths(labels.index)[3]))
    )
