"""DeepLabCut's training keys in a shuffle's ``pose_cfg.yaml`` (QA s19 dlcconfig, 1 and 3).

A DeepLabCut user sets augmentation, the learning-rate schedule, the snapshot and
display intervals and fine-tuning by editing ``dlc-models/…/train/pose_cfg.yaml``.
posekit ignored every such key silently and its next training rewrote the file,
deleting the user's keys. Now: an explicit argument > the value the user set in the
file > posekit's project-derived default; keys without a counterpart are named in a
warning; the file keeps every key the user wrote. A value is the user's when it
differs from what posekit wrote (recorded in the file), or, in a file posekit did not
write, from DeepLabCut's template (so an untouched DeepLabCut project keeps posekit's
defaults).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import yaml

keras = pytest.importorskip("keras")

from posekit.engine.api import train_network  # noqa: E402
from posekit.engine.demo import make_demo_project  # noqa: E402
from posekit.engine.model_folder import ModelFolder  # noqa: E402
from posekit.engine.models.registry import register_backbone  # noqa: E402


@register_backbone("tiny_dlckeys_cnn", dlc_netname="tiny_dlckeys", strides=(16,))
def tiny_dlckeys_cnn(
    input_shape, *, weights=None, output_stride=16, bn_momentum=0.99, name=None
):
    """4 stride-2 convolutions (inputs in [0, 255])."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (8, 8, 16, 16):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name=name)


TINY = {
    "backbone": "tiny_dlckeys_cnn",
    "weights": None,
    "crop_size": (64, 64),
    "progress": False,
    "eval_interval": 0,
    "save_interval_s": 0,
}

#: DeepLabCut's template values (deeplabcut/pose_cfg.yaml) of the keys posekit reads.
DLC_TEMPLATE = """\
dataset: training-datasets/iteration-0/UnaugmentedDataSet_demoJan1/demo_80shuffle1.mat
init_weights: /opt/dlc/pretrained/resnet_v1_50.ckpt
pos_dist_thresh: 17
global_scale: 0.8
dataset_type: imgaug
batch_size: 1
cropratio: 0.4
rotation: 25
rotratio: 0.4
scale_jitter_lo: 0.5
scale_jitter_up: 1.25
mirror: false
clahe: true
claheratio: 0.1
histeq: true
histeqratio: 0.1
net_type: resnet_50
location_refinement: true
locref_loss_weight: 0.05
intermediate_supervision: false
max_input_size: 1500
min_input_size: 64
multi_step:
- [0.005, 10000]
- [0.02, 430000]
- [0.002, 730000]
- [0.001, 1030000]
display_iters: 1000
save_iters: 50000
optimizer: sgd
"""


@pytest.fixture
def project(tmp_path):
    return make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))


def _folder(project, shuffle: int = 1) -> Path:
    folder = ModelFolder.of(project, shuffle).path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cfg(folder: Path) -> dict:
    return yaml.safe_load((folder / "pose_cfg.yaml").read_text())


def _recorded(folder: Path, iteration: int) -> tuple[dict, dict]:
    """Model and training configuration a snapshot records."""
    meta = json.loads((folder / f"snapshot-{iteration}.json").read_text())
    return meta["model_config"], meta["train_config"]


def _rows(folder: Path) -> list[dict]:
    with open(folder / "learning_stats.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_edited_keys_reach_the_training_and_stay_in_the_file(project, caplog):
    folder = _folder(project)
    (folder / "pose_cfg.yaml").write_text(
        "my_lab_note: keep me\n"
        "rotation: 10\n"
        "scale_jitter_lo: 0.9\n"
        "scale_jitter_up: 1.1\n"
        "mirror: true\n"
        "global_scale: 0.5\n"
        "pos_dist_thresh: 5\n"
        "batch_size: 2\n"
        "save_iters: 4\n"
        "display_iters: 2\n"
        "cropratio: 0.6\n"
        "max_input_size: 300\n"
        "multi_step:\n- [0.005, 4]\n- [0.0002, 6]\n- [0.00001, 8]\n"
    )
    with caplog.at_level(logging.INFO, logger="posekit"):
        result = train_network(project, **TINY)  # no max_iterations: multi_step's end
    assert result.iteration == 8
    model, train = _recorded(folder, 8)
    assert train["batch_size"] == 2
    assert train["augment"]["rotation_deg"] == 10
    assert train["augment"]["scale_range"] == [0.9, 1.1]
    assert train["augment"]["flip_probability"] == 0.5
    assert train["lr_schedule"] == [[0.005, 4], [0.0002, 6], [1e-05, 8]]
    assert (model["input_scale"], model["pos_dist_thresh"], model["sigma"]) == (
        0.5,
        5.0,
        2.5,
    )
    rows = _rows(folder)
    assert [int(r["iteration"]) for r in rows] == [2, 4, 6, 8]  # display_iters
    assert [float(r["learning_rate"]) for r in rows] == [0.005, 0.005, 0.0002, 1e-05]
    snaps = sorted(p.name for p in folder.glob("snapshot-*.json"))
    assert snaps == ["snapshot-4.json", "snapshot-8.json"]  # save_iters
    assert "pose_cfg.yaml: rotation 10 (your value)" in caplog.text
    for key in ("cropratio", "max_input_size"):
        assert f"pose_cfg.yaml: {key} " in caplog.text
        assert caplog.text.count(f"pose_cfg.yaml: {key} ") == 1
        assert any(
            r.levelno == logging.WARNING and f": {key} " in r.getMessage()
            for r in caplog.records
        )
    cfg = _cfg(folder)
    assert cfg["my_lab_note"] == "keep me"
    assert (cfg["rotation"], cfg["mirror"], cfg["cropratio"]) == (10, True, 0.6)
    assert (cfg["batch_size"], cfg["save_iters"], cfg["display_iters"]) == (2, 4, 2)
    assert cfg["max_input_size"] == 300
    assert cfg["multi_step"] == [[0.005, 4], [0.0002, 6], [1e-05, 8]]
    assert cfg["global_scale"] == 0.5


def test_edits_of_a_posekit_file_count_on_resume_and_explicit_arguments_win(
    project, caplog
):
    folder = _folder(project)
    train_network(project, max_iterations=2, batch_size=3, **TINY)
    cfg = _cfg(folder)
    assert cfg["batch_size"] == 3 and cfg["display_iters"] == 50
    # edit what posekit wrote, as the QA user did, and resume
    text = (folder / "pose_cfg.yaml").read_text()
    text = text.replace("display_iters: 50", "display_iters: 1")
    text = text.replace("save_iters: 5000", "save_iters: 1")
    text += "rotation_note: mine\nmulti_step:\n- [0.003, 3]\n- [0.0001, 100]\n"
    (folder / "pose_cfg.yaml").write_text(text)
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, max_iterations=4, save_interval=2, **TINY)
    _, train = _recorded(folder, 4)
    assert train["batch_size"] == 3  # the resumed run's batch size (not 8)
    assert train["log_interval"] == 1  # the edit
    assert train["save_interval"] == 2  # given: wins over save_iters 1
    assert train["max_iterations"] == 4  # given: wins over multi_step's end
    rows = {int(r["iteration"]): float(r["learning_rate"]) for r in _rows(folder)}
    assert rows[3] == 0.003 and rows[4] == 0.0001  # steps 2 and 3 of multi_step
    assert rows[2] != 0.003  # the first run had posekit's schedule
    assert (folder / "snapshot-2.json").exists()
    assert not (folder / "snapshot-3.json").exists()  # save_iters 1 not used
    assert "this run uses the save_interval given" in caplog.text
    cfg = _cfg(folder)
    assert cfg["save_iters"] == 1  # the user's value stays in the file
    assert cfg["rotation_note"] == "mine"
    assert cfg["display_iters"] == 1


def test_untouched_posekit_file_changes_nothing(project, tmp_path):
    folder = _folder(project)
    train_network(project, max_iterations=2, **TINY)
    first = _recorded(folder, 2)
    written = (folder / "pose_cfg.yaml").read_text()
    train_network(project, max_iterations=2, resume=False, **TINY)
    assert _recorded(folder, 2) == first
    assert (folder / "pose_cfg.yaml").read_text() == written


def test_a_deeplabcut_template_file_keeps_posekits_defaults(project, tmp_path, caplog):
    plain = make_demo_project(
        tmp_path / "plain", n_frames=30, n_labeled=6, size=(160, 120)
    )
    train_network(plain, max_iterations=2, **TINY)
    expected = _recorded(ModelFolder.of(plain, 1).path, 2)
    folder = _folder(project)
    (folder / "pose_cfg.yaml").write_text(DLC_TEMPLATE)
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(project, max_iterations=2, **TINY)
    assert _recorded(folder, 2) == expected
    assert "pose_cfg.yaml:" not in caplog.text  # nothing taken, nothing warned
    cfg = _cfg(folder)
    assert cfg["clahe"] is True and cfg["rotratio"] == 0.4  # DeepLabCut's keys kept


def test_init_weights_starts_from_that_snapshot(project, caplog):
    train_network(project, max_iterations=2, **TINY)
    source = ModelFolder.of(project, 1).path / "snapshot-2"
    from posekit.engine.dataset import create_training_dataset

    create_training_dataset(project, shuffles=[2])
    folder = _folder(project, 2)
    (folder / "pose_cfg.yaml").write_text(f"init_weights: {source}\n")
    with caplog.at_level(logging.INFO, logger="posekit"):
        result = train_network(project, shuffle=2, max_iterations=1, **TINY)
    assert result.initialised_from == source.with_suffix(".keras")
    assert f"training starts from the weights of {source}.keras" in caplog.text
    # not "random initialisation": the weights are the snapshot's (QA s19 refine #7)
    assert "random initialisation" not in caplog.text
    assert _cfg(folder)["init_weights"] == str(source)
    # a path that names no posekit snapshot is refused, nothing trained
    (folder / "pose_cfg.yaml").write_text("init_weights: /nowhere/snapshot-30\n")
    with pytest.raises(ValueError, match="init_weights '/nowhere/snapshot-30' names"):
        train_network(project, shuffle=2, max_iterations=1, resume=False, **TINY)


def test_mirror_without_pairs_and_bad_values_are_refused(tmp_path):
    side = make_demo_project(tmp_path, n_frames=30, n_labeled=6, view="side")
    folder = _folder(side)
    (folder / "pose_cfg.yaml").write_text("mirror: true\n")
    with pytest.raises(ValueError, match="mirror: true needs left/right bodypart"):
        train_network(side, max_iterations=1, **TINY)
    (folder / "pose_cfg.yaml").write_text("rotation: lots\n")
    with pytest.raises(ValueError, match="rotation: 'lots' cannot be used"):
        train_network(side, max_iterations=1, **TINY)
    assert not list(folder.glob("snapshot-*.json"))


def test_resume_keeps_the_backbone_and_batch_size(project):
    folder = _folder(project)
    train_network(project, max_iterations=1, batch_size=3, **TINY)
    again = {k: v for k, v in TINY.items() if k not in ("backbone", "weights")}
    train_network(project, max_iterations=2, **again)  # no backbone, no batch size
    model, train = _recorded(folder, 2)
    assert model["backbone"] == "tiny_dlckeys_cnn"
    assert train["batch_size"] == 3


def test_cli_notice_says_a_new_iteration_starts_from_the_previous_model(
    project, monkeypatch, capsys
):
    """QA s19 finding 3: not "training efficientnet_lite0 with its ImageNet weights"."""
    import posekit.engine.api as api
    from posekit.engine.cli import main

    train_network(project, max_iterations=1, **TINY)  # iteration 0's model
    previous = ModelFolder.of(project, 1).path / "snapshot-1.keras"
    config = project.config_path
    text = config.read_text()
    text = text.replace(
        "default_net_type: efficientnet_lite0", "default_net_type: resnet_50"
    )
    config.write_text(text.replace("iteration: 0", "iteration: 1"))
    calls = []

    def fake_train(project, **kw):
        calls.append(capsys.readouterr().out)  # what was printed before training
        return api.TrainResult(1, 0, "max_iterations", None, None, project.path)

    monkeypatch.setattr(api, "train_network", fake_train)
    assert main(["train", str(project.path), "--iterations", "1"]) == 0
    first = calls[-1].splitlines()[0]
    assert first.startswith(f"Training starts from {previous}")
    assert "ImageNet weights" in first and "not from ImageNet" in first


def test_a_warm_start_does_not_say_random_initialisation(project, caplog):
    """No "random initialisation" warning when a snapshot's weights follow.

    QA s19 refine loop #7: the backbone's warning said so right before the weights
    of the previous snapshot were loaded.
    """
    small = {**TINY, "backbone": "mobilenet_v2_0.35"}
    with caplog.at_level(logging.WARNING, logger="posekit"):
        train_network(project, max_iterations=1, **small)
    assert "random initialisation" in caplog.text  # from scratch: said
    source = ModelFolder.of(project, 1).path / "snapshot-1.keras"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        result = train_network(
            project, shuffle=2, max_iterations=1, init_from=source, **small
        )
    assert result.initialised_from == source
    assert "random initialisation" not in caplog.text
