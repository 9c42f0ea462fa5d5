"""A multi-animal shuffle's ``pose_cfg.yaml``, as DeepLabCut's maDLC workflow has it.

Leftover of sessions 19-21: ``create_training_dataset`` wrote no ``pose_cfg.yaml`` for
a multi-animal shuffle, posekit had no ``create_multianimaltraining_dataset`` (a
maDLC script stopped at its first line), and multi-animal training read none of
DeepLabCut's keys from the file. Now the file is the one DeepLabCut's
``create_multianimaltraining_dataset`` writes (its graph by DeepLabCut's rule), an
untouched file trains exactly as no file, and the keys a maDLC user edits
(``pafwidth``, ``pairwise_loss_weight``, ``partaffinityfield_graph``,
``crop_size``, and the single-animal ones) are taken, unless given explicitly.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

import posekit.engine as deeplabcut
from posekit.engine import _dlc_pose_cfg
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder

#: every pair of the demo's 6 multi-animal bodyparts: DeepLabCut's graph (15 < 105)
ALL_PAIRS = [[a, b] for a in range(6) for b in range(a + 1, 6)]


def _project(root: Path):
    return make_demo_project(root, n_animals=2, n_frames=24, n_labeled=6)


@pytest.fixture
def project(tmp_path):
    project = _project(tmp_path / "p")
    deeplabcut.create_multianimaltraining_dataset(str(project.config_path))
    return project


def _train_cfg(project, shuffle: int = 1) -> Path:
    return ModelFolder.of(project, shuffle).path / "pose_cfg.yaml"


@pytest.fixture(scope="module")
def tiny():
    """Return the settings of a 2-iteration training of a small random network."""
    pytest.importorskip("keras")
    return {
        "backbone": "mobilenet_v2_0.35",
        "weights": None,
        "progress": False,
        "eval_interval": 0,
        "save_interval_s": 0,
        "max_iterations": 2,
    }


def _recorded(project) -> tuple[dict, dict, dict]:
    path = _train_cfg(project)
    meta = json.loads((path.parent / "snapshot-2.json").read_text())
    section = yaml.safe_load(path.read_text())["posekit"]["multianimal"]
    return meta["model_config"], meta["train_config"], section


def test_the_files_are_maDLCs(project):
    path = _train_cfg(project)
    text = path.read_text()
    assert text.startswith("# DeepLabCut's training settings of this shuffle")
    cfg = yaml.safe_load(text)
    # what create_multianimaltraining_dataset writes over the template
    assert cfg["dataset"].endswith("80shuffle1.pickle")
    assert (project.path / cfg["dataset"]).is_file()  # DLC's multi-animal dataset
    assert cfg["dataset_type"] == "multi-animal-imgaug"
    assert cfg["partaffinityfield_predict"] is True
    assert cfg["partaffinityfield_graph"] == ALL_PAIRS and cfg["num_limbs"] == 15
    assert (cfg["pafwidth"], cfg["pairwise_loss_weight"]) == (20, 0.1)
    assert (cfg["batch_size"], cfg["crop_size"], cfg["save_iters"]) == (
        8,
        [400, 400],
        10000,
    )
    assert cfg["multi_step"] == [[0.0001, 7500], [5e-05, 12000], [1e-05, 200000]]
    assert cfg["all_joints_names"] == list(project.bodyparts)
    assert cfg["num_idchannel"] == 0
    assert list(cfg) == sorted(cfg)
    # DeepLabCut's own values are not the user's; the graph is read by the training
    assert set(_dlc_pose_cfg.user_choices(cfg)) == {"partaffinityfield_graph"}
    test = yaml.safe_load((path.parent.parent / "test" / "pose_cfg.yaml").read_text())
    assert test["partaffinityfield_graph"] == ALL_PAIRS
    assert (test["nmsradius"], test["minconfidence"], test["sigma"]) == (5.0, 0.01, 1)
    assert test["dataset_type"] == "multi-animal-imgaug"
    assert test["scoremap_dir"] == "test"


def test_create_training_dataset_writes_the_same_file(tmp_path, project):
    other = _project(tmp_path / "q")
    create_training_dataset(other)
    mine = yaml.safe_load(_train_cfg(project).read_text())
    theirs = yaml.safe_load(_train_cfg(other).read_text())
    assert {k: v for k, v in mine.items() if k != "project_path"} == {
        k: v for k, v in theirs.items() if k != "project_path"
    }


def test_deeplabcuts_arguments_are_written(project):
    deeplabcut.create_multianimaltraining_dataset(
        project.config_path,
        Shuffles=[2],
        paf_graph=[[0, 3], [3, 5], [3, 1], [3, 2], [3, 4]],
        crop_size=(200, 160),
        crop_sampling="density",
        numdigits=3,
    )
    cfg = yaml.safe_load(_train_cfg(project, 2).read_text())
    assert cfg["partaffinityfield_graph"] == [[0, 3], [3, 5], [1, 3], [2, 3], [3, 4]]
    assert cfg["num_limbs"] == 5
    assert (cfg["crop_size"], cfg["crop_sampling"]) == ([200, 160], "density")
    # the config's skeleton as the graph (DeepLabCut's paf_graph="config")
    project.set(
        "skeleton", [["snout", "neck"], ["neck", "tailbase"], ["snout", "lever"]]
    )
    project.save()
    deeplabcut.create_multianimaltraining_dataset(
        project.config_path, Shuffles=[2], paf_graph="config"
    )
    cfg = yaml.safe_load(_train_cfg(project, 2).read_text())
    assert cfg["partaffinityfield_graph"] == [[0, 3], [3, 5]]
    # DeepLabCut's pruning rule: above 5 edges, an average degree of 2
    deeplabcut.create_multianimaltraining_dataset(
        project.config_path, Shuffles=[3], n_edges_threshold=5, paf_graph_degree=2
    )
    cfg = yaml.safe_load(_train_cfg(project, 3).read_text())
    assert cfg["num_limbs"] == 6  # 6 bodyparts × degree 2 / 2
    # an edit of the file is kept when the training set is made again
    path = _train_cfg(project)
    path.write_text(path.read_text().replace("pafwidth: 20\n", "pafwidth: 7\n"))
    create_training_dataset(project)
    assert yaml.safe_load(path.read_text())["pafwidth"] == 7


def test_refusals_say_what_to_do(tmp_path, project):
    single = make_demo_project(tmp_path / "one", n_frames=20, n_labeled=4)
    with pytest.raises(
        ValueError, match="single-animal project.*create_training_dataset"
    ):
        deeplabcut.create_multianimaltraining_dataset(single.config_path)
    with pytest.raises(ValueError, match="SuperAnimal"):
        deeplabcut.create_multianimaltraining_dataset(
            project, weight_init="superanimal"
        )
    project.set("skeleton", [["snout", "lever"]])  # no edge between two of them
    project.save()
    with pytest.raises(ValueError, match="skeleton links no two"):
        deeplabcut.create_multianimaltraining_dataset(project, paf_graph="config")


def test_untouched_trains_as_no_file_and_edits_are_the_users(
    tmp_path, project, tiny, caplog
):
    from posekit.engine.api import train_network
    from posekit.engine.multianimal.api import train_multianimal

    plain = _project(tmp_path / "plain")
    create_training_dataset(plain)
    _train_cfg(plain).unlink()  # as before: no file until the first training
    train_network(plain, **tiny)
    expected = _recorded(plain)

    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, **tiny)
    assert _recorded(project) == expected
    assert "pose_cfg.yaml:" not in caplog.text  # nothing taken, nothing warned

    # the maDLC habit: edit the file before training
    path = _train_cfg(project)
    for snap in path.parent.glob("snapshot-*"):
        snap.unlink()
    path.unlink()
    create_training_dataset(project)
    cfg = yaml.safe_load(path.read_text())
    cfg.update(
        pafwidth=6,
        pairwise_loss_weight=0.2,
        partaffinityfield_graph=[[0, 3], [3, 5], [1, 3]],
        crop_size=[96, 64],
        rotation=10,
        crop_sampling="keypoints",
    )
    path.write_text(yaml.safe_dump(cfg))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, **tiny)
    model, train, multi = _recorded(project)
    assert model["paf_edges"] == [[0, 3], [3, 5], [1, 3]]
    assert multi["paf_width"] == 6.0
    assert multi["paf_loss_weight"] == pytest.approx(2.0)  # 0.2 is twice DLC's 0.1
    assert train["crop_size"] == [64, 96]  # DeepLabCut writes width, height
    assert train["augment"]["rotation_deg"] == 10
    for line in (
        "partaffinityfield_graph [[0, 3], [3, 5], [1, 3]] (your value)",
        "pafwidth 6 (your value)",
        "pairwise_loss_weight 0.2 (your value)",
        "crop_size [96, 64] (your value)",
        "crop_sampling 'keypoints' has no effect in posekit",
    ):
        assert f"pose_cfg.yaml: {line}" in caplog.text
    written = yaml.safe_load(path.read_text())
    assert (written["pafwidth"], written["pairwise_loss_weight"]) == (6, 0.2)
    assert written["num_limbs"] == 3

    # the analysis setting the guide says to tune there survives a training (QA s22)
    path.write_text(path.read_text().replace("nmsradius: 5.0", "nmsradius: 3"))
    train_network(project, max_iterations=3, progress=False, eval_interval=0)
    assert yaml.safe_load(path.read_text())["nmsradius"] == 3

    # given explicitly, posekit's arguments win; the file keeps the user's values
    for snap in path.parent.glob("snapshot-*"):
        snap.unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_multianimal(
            project,
            resume=False,
            paf_width=4.0,
            crop_size=(80, 80),
            paf_graph="all",
            **tiny,
        )
    model, train, multi = _recorded(project)
    assert (multi["paf_width"], train["crop_size"]) == (4.0, [80, 80])
    assert model["paf_edges"] == ALL_PAIRS
    assert (
        "pafwidth 6 kept in the file; this run uses the paf_width given" in caplog.text
    )
    assert (
        "partaffinityfield_graph [[0, 3], [3, 5], [1, 3]] replaced by the graph this run"
        in caplog.text
    )
    written = yaml.safe_load(path.read_text())
    assert written["pafwidth"] == 6  # the user's, kept
    assert written["partaffinityfield_graph"] == ALL_PAIRS  # the network's


def test_a_graph_out_of_range_names_the_file(project, tiny):
    from posekit.engine.api import train_network

    path = _train_cfg(project)
    cfg = yaml.safe_load(path.read_text())
    cfg["partaffinityfield_graph"] = [[0, 9]]
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(
        ValueError, match=r"pose_cfg.yaml: partaffinityfield_graph.*0 to 5"
    ):
        train_network(project, **tiny)
