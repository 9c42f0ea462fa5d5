"""QA s21 (lightningpose): importing a real Lightning Pose project.

The LP project is laid out from the demo project as the QA's ``mk_lp.py`` did:
``CollectedData.csv`` (one index column ``labeled-data/session1/imgNNNNNNNN.png``,
scorer ``lpscorer``, keypoints reordered tailbase first, two points NaN),
``videos/session1.mp4`` and Lightning Pose's ``config.yaml``. The malformed CSVs are
the QA's ``mk_bad.py`` ones.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from posekit.engine.cli import main
from posekit.engine.cli.import_project import guess_source
from posekit.engine.io import load_poses
from posekit.engine.io.dlc import LabelError, index_to_paths, read_labels
from posekit.engine.io.lightning_pose import import_lightning_pose
from posekit.engine.project import load_project

ORDER = ["tailbase", "snout", "leftear", "rightear", "neck", "spine"]


def _lp_project(demo, root: Path) -> tuple[pd.DataFrame, dict]:
    """Lay the demo project out as a Lightning Pose project (the QA's mk_lp.py)."""
    video = demo.videos()[0]
    session = video.stem
    (root / "labeled-data" / session).mkdir(parents=True)
    (root / "videos").mkdir()
    shutil.copy(video, root / "videos" / video.name)
    d = read_labels(demo.labels_path(session))
    rows = []
    for path in index_to_paths(d.index):
        img = Path(path).name
        new = f"img{int(img[3:-4]):08d}.png"
        shutil.copy(demo.path / path, root / "labeled-data" / session / new)
        rows.append(f"labeled-data/{session}/{new}")
    scorer = d.columns.get_level_values("scorer")[0]
    xy = {bp: [d[(scorer, bp, c)].to_numpy() for c in ("x", "y")] for bp in ORDER}
    vals = np.stack([np.stack(xy[bp], -1) for bp in ORDER], 1)
    vals[3, 1, :] = np.nan
    vals[7, 5, :] = np.nan
    cols = pd.MultiIndex.from_product(
        [["lpscorer"], ORDER, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    df = pd.DataFrame(vals.reshape(len(rows), -1), index=rows, columns=cols)
    df.to_csv(root / "CollectedData.csv")
    cfg = {
        "data": {
            "image_orig_dims": {"height": 240, "width": 320},
            "image_resize_dims": {"height": 128, "width": 128},
            "data_dir": "/home/someone/lp/data",  # made on another machine
            "video_dir": "videos",
            "csv_file": "CollectedData.csv",
            "downsample_factor": 2,
            "num_keypoints": 6,
            "keypoint_names": ORDER,
            "mirrored_column_matches": None,
        },
        "training": {"train_prob": 0.8, "val_prob": 0.1, "train_batch_size": 16},
        "model": {"backbone": "resnet50_animal_ap10k", "model_type": "heatmap"},
        "eval": {"confidence_thresh_for_vid": 0.9},
    }
    _write_cfg(root, cfg)
    return df, cfg


def _write_cfg(root: Path, cfg: dict) -> None:
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _csv_lines(root: Path) -> list[str]:
    return (root / "CollectedData.csv").read_text().splitlines()


def _written(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_lp_project_with_config_imports_exactly(demo_project_ro, tmp_path, caplog):
    df, _ = _lp_project(demo_project_ro, tmp_path / "lpproj")
    with caplog.at_level(logging.INFO, logger="posekit"):
        project = import_lightning_pose(tmp_path / "lpproj", tmp_path / "imp")
    assert project.bodyparts == ORDER and project.scorer == "lpscorer"
    back = read_labels(project.labels_path("session1"))
    assert index_to_paths(back.index) == list(df.index)
    np.testing.assert_array_equal(back.to_numpy(), df.to_numpy())  # NaN too
    assert [v.name for v in project.videos()] == ["session1.mp4"]
    # training.train_prob and eval.confidence_thresh_for_vid are taken
    reopened = load_project(project.path)
    assert reopened.listed_training_fractions == [0.8]
    assert reopened.pcutoff == 0.9
    text = project.config_path.read_text()
    assert "From Lightning Pose's training.train_prob 0.8" in text
    # each setting without a counterpart: one line saying what posekit does instead
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for key in (
        "data.image_resize_dims",
        "data.image_orig_dims",
        "data.downsample_factor",
        "training.val_prob",
        "model.backbone",
        "model.model_type",
    ):
        assert sum(f"{key} (" in m and ") not used: " in m for m in warned) == 1, key
    assert any("not read" in m and "training.train_batch_size" in m for m in warned)
    assert not any("mirrored_column_matches" in m for m in warned)  # null: not set
    assert not any("keypoint_names" in m or "csv_file" in m for m in warned)


def test_train_prob_is_rounded_as_dlc_names_fractions(demo_project_ro, tmp_path):
    _, cfg = _lp_project(demo_project_ro, tmp_path / "lp")
    cfg["training"]["train_prob"] = 0.8349
    _write_cfg(tmp_path / "lp", cfg)
    project = import_lightning_pose(tmp_path / "lp", tmp_path / "imp")
    assert project.listed_training_fractions == [0.83]


def test_config_csv_file_and_video_dir_find_the_files(demo_project_ro, tmp_path):
    root = tmp_path / "lp_renamed"
    df, cfg = _lp_project(demo_project_ro, root)
    (root / "CollectedData.csv").rename(root / "labels.csv")
    (root / "videos").rename(root / "movies")
    shutil.copy(root / "labels.csv", root / "old_labels.csv")  # two CSVs
    cfg["data"]["csv_file"] = "labels.csv"
    cfg["data"]["video_dir"] = "/home/someone/lp/data/movies"  # absolute, elsewhere
    _write_cfg(root, cfg)
    assert guess_source(root) == "lightning-pose"  # told by its config.yaml
    assert main(["import", str(root), str(tmp_path / "imp")]) == 0
    project = load_project(tmp_path / "imp")
    assert [v.name for v in project.videos()] == ["session1.mp4"]
    back = read_labels(project.labels_path("session1"))
    np.testing.assert_array_equal(back.to_numpy(), df.to_numpy())


def test_keypoint_names_must_match_the_csv(demo_project_ro, tmp_path):
    root = tmp_path / "bad_extrabp"
    _, cfg = _lp_project(demo_project_ro, root)
    df = pd.read_csv(root / "CollectedData.csv", header=[0, 1, 2], index_col=0)
    df[("lpscorer", "tailtip", "x")] = 1.0
    df[("lpscorer", "tailtip", "y")] = 2.0
    df.to_csv(root / "CollectedData.csv")
    with pytest.raises(ValueError, match=r"the CSV has \['tailtip'\], which keypoint"):
        import_lightning_pose(root, tmp_path / "imp")
    cfg["data"]["keypoint_names"] = [*ORDER, "tailtip", "whisker"]
    cfg["data"]["num_keypoints"] = 8
    _write_cfg(root, cfg)
    with pytest.raises(ValueError, match=r"lists \['whisker'\], which the CSV lacks"):
        import_lightning_pose(root, tmp_path / "imp")
    cfg["data"]["keypoint_names"] = [*ORDER, "tailtip"]
    _write_cfg(root, cfg)
    with pytest.raises(ValueError, match="num_keypoints is 8 but .* has 7"):
        import_lightning_pose(root, tmp_path / "imp")
    assert _written(tmp_path) == ["bad_extrabp"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_dup", "names the same column more than once"),
        ("bad_text", "row 4: 'abc' is not a number"),
        ("bad_xonly", r"tailtip \(x only\)"),
    ],
)
def test_malformed_csv_is_refused_by_import_as_by_convert(
    demo_project_ro, tmp_path, capsys, name, message
):
    root = tmp_path / name
    _lp_project(demo_project_ro, root)
    lines = _csv_lines(root)
    if name == "bad_dup":  # a second snout x/y pair (pandas would read x.1, y.1)
        lines = [
            lines[0] + ",lpscorer,lpscorer",
            lines[1] + ",snout,snout",
            lines[2] + ",x,y",
        ] + [line + ",1,2" for line in lines[3:]]
    elif name == "bad_text":
        cells = lines[3].split(",")
        cells[4] = "abc"
        lines[3] = ",".join(cells)
    else:  # a bodypart with an x column and no y
        lines = [
            lines[0] + ",lpscorer",
            lines[1] + ",tailtip",
            lines[2] + ",x",
        ] + [line + ",1.0" for line in lines[3:]]
    (root / "CollectedData.csv").write_text("\n".join(lines) + "\n")
    if name == "bad_xonly":  # the keypoint check must not be what refuses it
        (root / "config.yaml").unlink()
    with pytest.raises(LabelError, match=message):
        import_lightning_pose(root, tmp_path / "imp")
    assert main(["import", str(root), str(tmp_path / "imp")]) == 2
    assert "posekit import: error:" in capsys.readouterr().err
    csv = root / "CollectedData.csv"
    with pytest.raises(LabelError, match=message):  # what convert reads it with
        load_poses(csv)
    assert main(["convert", str(csv), str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "posekit convert: error:" in err and csv.name in err
    assert _written(tmp_path) == [name]


_PREDS = (
    "scorer,heatmap_tracker,heatmap_tracker,heatmap_tracker,heatmap_tracker,{last}set\n"
    "bodyparts,nose,nose,nose,tail,{tail}\n"
    "coords,x,y,likelihood,x,{y}\n"
    "sessA/img0.png,1,2,0.9,{x},{y_value}train\n"
)


def test_lightning_pose_reader_checks_as_dlc_reader(tmp_path):
    """Rows that are not DeepLabCut's: the Lightning Pose reader, same checks."""
    csv = tmp_path / "preds.csv"
    csv.write_text(_PREDS.format(last="", tail="", y="", x=3, y_value=""))
    with pytest.raises(LabelError, match=r"tail \(x only\)"):
        load_poses(csv, source_software="LightningPose")
    full = {"last": "heatmap_tracker,", "tail": "tail,", "y": "y,", "y_value": "4,"}
    csv.write_text(_PREDS.format(**full, x="three"))
    with pytest.raises(LabelError, match="'three' is not a number"):
        load_poses(csv, source_software="LightningPose")
    csv.write_text(_PREDS.format(**full, x=3))
    ds = load_poses(csv, source_software="LightningPose")
    assert ds.attrs["set"] == ["train"]  # the set column holds words: kept aside
    np.testing.assert_array_equal(
        ds["position"].isel(time=0, individual=0).values, [[1, 3], [2, 4]]
    )


def test_session_folders_are_kept(demo_project_ro, tmp_path):
    root = tmp_path / "lp_shortpaths"
    df, cfg = _lp_project(demo_project_ro, root)
    first = df.index[0]
    (root / "sessA").mkdir()
    (root / "sessB").mkdir()
    shutil.copy(root / first, root / "sessA/img00000000.png")
    shutil.copy(root / df.index[1], root / "sessB/img00000000.png")
    shutil.copy(root / "videos/session1.mp4", root / "videos/sessA.mp4")
    (root / "videos/session1.mp4").unlink()
    shutil.rmtree(root / "labeled-data")
    small = df.iloc[:2].set_axis(["sessA/img00000000.png", "sessB/img00000000.png"])
    small.to_csv(root / "CollectedData.csv")
    project = import_lightning_pose(root, tmp_path / "imp")
    a = read_labels(project.labels_path("sessA"))
    b = read_labels(project.labels_path("sessB"))
    assert index_to_paths(a.index) == ["labeled-data/sessA/img00000000.png"]
    assert index_to_paths(b.index) == ["labeled-data/sessB/img00000000.png"]
    np.testing.assert_array_equal(a.to_numpy(), df.iloc[:1].to_numpy())
    np.testing.assert_array_equal(b.to_numpy(), df.iloc[1:2].to_numpy())
    assert [v.name for v in project.videos()] == ["sessA.mp4"]  # its own video
    assert (project.path / "labeled-data/sessB/img00000000.png").is_file()


def test_cli_names_csv_file_flag(demo_project_ro, tmp_path, capsys):
    root = tmp_path / "bad_csvname"
    df, _ = _lp_project(demo_project_ro, root)
    (root / "config.yaml").unlink()
    (root / "CollectedData.csv").rename(root / "labels_v2.csv")
    shutil.copy(root / "labels_v2.csv", root / "labels_v1.csv")
    argv = ["import", str(root), str(tmp_path / "imp"), "--from", "lightning-pose"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "['labels_v1.csv', 'labels_v2.csv']" in err and "--csv-file" in err
    assert main([*argv[:3], "--csv-file", str(root / "labels_v1.csv")]) == 0
    back = read_labels(load_project(tmp_path / "imp").labels_path("session1"))
    np.testing.assert_array_equal(back.to_numpy(), df.to_numpy())
    coco = tmp_path / "x.json"
    coco.write_text("{}")
    assert main(["import", str(coco), str(tmp_path / "c"), "--csv-file", "a"]) == 2
    assert "--csv-file applies to Lightning Pose" in capsys.readouterr().err


def test_h5_with_x_and_no_y_is_refused(tmp_path):
    """A table written before the check (e.g. from such a CSV) is refused on reading."""
    from posekit.engine.io.dlc import write_hdf

    cols = pd.MultiIndex.from_tuples(
        [("me", "nose", "x"), ("me", "nose", "y"), ("me", "tailtip", "x")],
        names=["scorer", "bodyparts", "coords"],
    )
    df = pd.DataFrame(
        [[1.0, 2.0, 3.0]], index=["labeled-data/v/img0.png"], columns=cols
    )
    write_hdf(df, tmp_path / "xo.h5")
    with pytest.raises(LabelError, match=r"tailtip \(x only\)"):
        read_labels(tmp_path / "xo.h5")
    with pytest.raises(LabelError, match=r"tailtip \(x only\)"):
        load_poses(tmp_path / "xo.h5")
