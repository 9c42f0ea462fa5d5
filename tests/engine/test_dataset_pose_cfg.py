"""``create_training_dataset`` writes DeepLabCut's ``train/`` and ``test/pose_cfg.yaml``.

A DeepLabCut user edits ``dlc-models/…/train/pose_cfg.yaml`` between
``create_training_dataset`` and the first training (augmentation, ``batch_size``,
``multi_step``…). posekit wrote no file there until the first training, so there was
nothing to edit (QA s20, leftover of session 19). Now the file is DeepLabCut's (its
template with the project's keys), an untouched one trains exactly as no file, an
edited value is the user's, and ``test/pose_cfg.yaml`` holds the keys DeepLabCut's
``MakeTest_pose_yaml`` copies.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from posekit.engine import _dlc_pose_cfg
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.model_folder import ModelFolder
from posekit.engine.refinement import older_analysis


@pytest.fixture
def project(tmp_path):
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    create_training_dataset(project)
    return project


def _train_cfg(project) -> Path:
    return ModelFolder.of(project, 1).path / "pose_cfg.yaml"


def test_the_files_are_deeplabcuts(project):
    path = _train_cfg(project)
    text = path.read_text()
    assert text.startswith("# DeepLabCut's training settings of this shuffle")
    cfg = yaml.safe_load(text)
    # the project's keys, as DeepLabCut's create_training_dataset sets them
    assert (project.path / cfg["dataset"]).is_file()
    assert cfg["dataset"].endswith("80shuffle1.mat")
    assert (project.path / cfg["metadataset"]).is_file()
    assert cfg["all_joints_names"] == list(project.bodyparts)
    assert cfg["num_joints"] == len(project.bodyparts)
    assert cfg["all_joints"] == [[i] for i in range(len(project.bodyparts))]
    assert cfg["project_path"] == str(project.path)
    assert cfg["net_type"] == project.get("default_net_type")
    # DeepLabCut's template for the rest, sorted as its yaml.dump writes it
    assert cfg["global_scale"] == 0.8 and cfg["rotation"] == 25
    assert cfg["multi_step"][0] == [0.005, 10000] and cfg["save_iters"] == 50000
    assert list(cfg) == sorted(cfg)
    assert _dlc_pose_cfg.user_choices(cfg) == {}  # nothing counts as the user's
    test = yaml.safe_load((path.parent.parent / "test" / "pose_cfg.yaml").read_text())
    assert test == {
        **{key: cfg[key] for key in _dlc_pose_cfg.TEST_KEYS},
        "scoremap_dir": "test",
    }


@pytest.fixture(scope="module")
def tiny():
    """Return the settings of a short training of a small backbone (random weights)."""
    pytest.importorskip("keras")
    return {
        "backbone": "mobilenet_v2_0.35",
        "weights": None,
        "crop_size": (64, 64),
        "progress": False,
        "eval_interval": 0,
        "save_interval_s": 0,
        "max_iterations": 2,
    }


def _recorded(project) -> tuple[dict, dict]:
    meta = json.loads((_train_cfg(project).parent / "snapshot-2.json").read_text())
    return meta["model_config"], meta["train_config"]


def test_untouched_trains_as_no_file_and_an_edit_is_the_users(
    project, tmp_path, tiny, caplog
):
    from posekit.engine.api import train_network

    plain = make_demo_project(
        tmp_path / "plain", n_frames=30, n_labeled=6, size=(160, 120)
    )
    create_training_dataset(plain)
    _train_cfg(plain).unlink()  # as before: no file until the first training
    train_network(plain, **tiny)
    expected = _recorded(plain)

    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, **tiny)
    assert _recorded(project) == expected
    assert "pose_cfg.yaml:" not in caplog.text  # nothing taken, nothing warned

    # the DeepLabCut habit: edit the file before training
    path = _train_cfg(project)
    for snap in path.parent.glob("snapshot-*"):
        snap.unlink()
    path.unlink()
    create_training_dataset(project)
    text = path.read_text()
    assert "rotation: 25\n" in text
    path.write_text(text.replace("rotation: 25\n", "rotation: 10\n") + "my_note: a\n")
    create_training_dataset(project)  # again: the edits stay
    assert yaml.safe_load(path.read_text())["rotation"] == 10
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, **tiny)
    assert _recorded(project)[1]["augment"]["rotation_deg"] == 10
    assert "pose_cfg.yaml: rotation 10 (your value)" in caplog.text
    cfg = yaml.safe_load(path.read_text())
    assert (cfg["rotation"], cfg["my_note"], cfg["clahe"]) == (10, "a", True)
    # a file posekit's training wrote is left to it
    written = path.read_text()
    create_training_dataset(project)
    assert path.read_text() == written


def test_a_shuffle_without_snapshots_is_no_network(project):
    """``older_analysis``: the train folder create_training_dataset made trained nothing."""
    assert _train_cfg(project).is_file()
    video = project.videos()[0]
    scorer = "DLC_resnet50_elsewhereJan1shuffle1_1000"
    path = video.with_name(video.stem + scorer + ".h5")
    xyp = [[[10.0, 20.0, 0.9]] * len(project.bodyparts)] * 3
    write_predictions(predictions_frame(xyp, scorer, project.bodyparts), path)
    # predictions made elsewhere: no network of this project to compare with
    assert older_analysis(project, video, path) is None
    # a snapshot file there (its network's): the analysis is another network's
    (_train_cfg(project).parent / "snapshot-5.keras").touch()
    assert "was analysed by a network" in (older_analysis(project, video, path) or "")


def test_net_type_in_the_file_chooses_the_network_as_in_deeplabcut(project) -> None:
    """QA s21 docsreview 1 and 6: the file's net_type was never read."""
    import posekit.engine.api as api

    path = _train_cfg(project)
    configured = project.get("default_net_type")
    assert yaml.safe_load(path.read_text())["net_type"] == configured
    assert api.backbone_choice(project, None, None, shuffle=1).backbone == configured
    # edited, as a DeepLabCut user does (or made by DLC with net_type=...)
    text = path.read_text().replace(
        f"net_type: {configured}\n", "net_type: mobilenet_v2_0.35\n"
    )
    path.write_text(text)
    choice = api.backbone_choice(project, None, None, shuffle=1)
    assert choice.backbone == "mobilenet_v2_0.35"
    # a shuffle of its own: --net-type keeps the header, test/ names the same network
    create_training_dataset(project, shuffles=[2], net_type="mobilenet_v2_0.35")
    two = ModelFolder.of(project, 2).path / "pose_cfg.yaml"
    assert two.read_text().startswith("# DeepLabCut's training settings")
    test = yaml.safe_load((two.parent.parent / "test" / "pose_cfg.yaml").read_text())
    assert test["net_type"] == yaml.safe_load(two.read_text())["net_type"]
    assert test["net_type"] == "mobilenet_v2_0.35"
    assert api.backbone_choice(project, None, None, shuffle=2).backbone == (
        "mobilenet_v2_0.35"
    )
