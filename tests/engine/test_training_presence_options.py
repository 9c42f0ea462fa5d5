"""Choosing ``weigh_only_present_joints``, and the empty-points warning on reuse (QA s18).

Hidden bodyparts are trained as absent by default (DeepLabCut's
``weigh_only_present_joints: false``), but the rule could only be changed by editing a
model folder's ``pose_cfg.yaml``: ``posekit train`` now takes
``--weigh-only-present-joints`` / ``--no-weigh-only-present-joints`` and
``train_network`` a ``weigh_only_present_joints`` keyword (``None``: what
``pose_cfg.yaml`` says), recorded as the rule set in ``pose_cfg.yaml`` is.

``create-training-dataset`` warns about labelled frames with points left empty and
not marked not visible; ``posekit train`` reusing a training set did not, so a user
who never ran ``create-training-dataset`` (or ran it long ago) never saw it. Training
on a set it reuses now says it too, once.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

keras = pytest.importorskip("keras")

from posekit.engine.cli import main  # noqa: E402
from posekit.engine.dataset import create_training_dataset  # noqa: E402
from posekit.engine.demo import make_demo_project  # noqa: E402
from posekit.engine.labels import LabelStore, update_visibility  # noqa: E402
from posekit.engine.model_folder import ModelFolder  # noqa: E402
from posekit.engine.models.registry import register_backbone  # noqa: E402

WARNING = "have points left empty and not marked not visible"


@register_backbone("tiny_presence_cnn", dlc_netname="tiny_presence", strides=(16,))
def tiny_presence_cnn(
    input_shape, *, weights=None, output_stride=16, bn_momentum=0.99, name=None
):
    """4 stride-2 convolutions (inputs in [0, 255])."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (8, 8, 16, 16):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name=name)


def test_cli_option_reaches_train_network(demo_project, monkeypatch):
    import posekit.engine.api as api

    calls: list[dict] = []

    def train(project, **kw):
        calls.append(kw)
        return SimpleNamespace(stop_reason="max_iterations")

    monkeypatch.setattr(api, "train_network", train)
    path = str(demo_project.path)
    assert main(["train", path, "--weigh-only-present-joints"]) == 0
    assert calls[-1]["weigh_only_present_joints"] is True
    assert main(["train", path, "--no-weigh-only-present-joints"]) == 0
    assert calls[-1]["weigh_only_present_joints"] is False
    assert main(["train", path]) == 0
    assert calls[-1]["weigh_only_present_joints"] is None  # pose_cfg.yaml decides


def _snapshot_rule(folder, iteration: int) -> bool:
    meta = json.loads((folder / f"snapshot-{iteration}.json").read_text())
    return meta["train_config"]["weigh_only_present_joints"]


def test_train_network_records_the_rule_it_is_given(tmp_path, caplog):
    from posekit.engine.api import train_network

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    folder = ModelFolder.of(project, 1).path
    folder.mkdir(parents=True)
    (folder / "pose_cfg.yaml").write_text("weigh_only_present_joints: true\n")
    tiny = {
        "backbone": "tiny_presence_cnn",
        "weights": None,
        "batch_size": 2,
        "crop_size": (64, 64),
        "progress": False,
        "eval_interval": 0,
        "save_interval_s": 0,
    }
    with caplog.at_level(logging.WARNING, logger="posekit"):
        train_network(
            project, max_iterations=1, weigh_only_present_joints=False, **tiny
        )
    assert "weigh_only_present_joints: false as asked" in caplog.text
    cfg = yaml.safe_load((folder / "pose_cfg.yaml").read_text())
    assert cfg["weigh_only_present_joints"] is False
    assert cfg["posekit"]["train"]["weigh_only_present_joints"] is False
    assert _snapshot_rule(folder, 1) is False
    # resumed with the other rule: recorded in pose_cfg.yaml and the new snapshot
    train_network(project, max_iterations=2, weigh_only_present_joints=True, **tiny)
    cfg = yaml.safe_load((folder / "pose_cfg.yaml").read_text())
    assert cfg["weigh_only_present_joints"] is True
    assert cfg["posekit"]["train"]["weigh_only_present_joints"] is True
    assert _snapshot_rule(folder, 2) is True
    with pytest.raises(ValueError, match="weigh_only_present_joints must be True"):
        train_network(
            project, max_iterations=3, weigh_only_present_joints="yes", **tiny
        )
    assert not (folder / "snapshot-3.json").exists()


def test_multianimal_training_gets_the_rule(tmp_path, monkeypatch):
    import posekit.engine.api as api

    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=4)
    seen = {}

    def run(trainer, ts, **kwargs):
        seen["rule"] = trainer.train_config.weigh_only_present_joints
        seen["absent"] = ts.absent("train")
        return "trained"

    monkeypatch.setattr(api, "_run_trainer", run)
    result = api.train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        progress=False,
        weigh_only_present_joints=True,
    )
    assert result == "trained" and seen["rule"] is True
    assert seen["absent"] is not None and not seen["absent"].any()


def _leave_a_point_empty(project) -> str:
    """Clear one point of a labelled frame, unmarked; return ``frame: bodypart``."""
    store = LabelStore(project, "session1")
    frame, bodypart = store.frames[1], list(project.bodyparts)[2]
    store.clear_point(frame, bodypart)
    store.save()
    # a marked one is not named (hidden: nothing to say)
    hidden = (store.frames[0], list(project.bodyparts)[1])
    store.clear_point(*hidden)
    store.save()
    update_visibility(project, "session1", not_visible_add=[hidden])
    return f"{frame}: {bodypart}"


_TRAIN = """
import sys
import posekit.engine.api as api
from posekit.engine.cli import main

def run(trainer, ts, **kwargs):  # everything up to the training steps
    return api.TrainResult(
        iteration=0,
        start_iteration=0,
        stop_reason="max_iterations",
        snapshot=None,
        test_error_px=None,
        train_dir=trainer.train_dir,
    )

api._run_trainer = run
for path in sys.argv[1:]:
    print("=== train", path, file=sys.stderr, flush=True)
    rc = main(["train", path, "--backbone", "mobilenet_v2_0.35", "--weights", "none"])
    assert rc == 0, rc
"""


def test_train_repeats_the_warning_of_a_training_set_it_reuses(tmp_path, caplog):
    made = make_demo_project(tmp_path / "made", n_frames=30, n_labeled=6)
    said = _leave_a_point_empty(made)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        create_training_dataset(made)
    assert WARNING in caplog.text and said in caplog.text
    # a project whose training set `posekit train` makes itself
    fresh = make_demo_project(tmp_path / "fresh", n_frames=30, n_labeled=6)
    assert _leave_a_point_empty(fresh) == said  # the same frame and bodypart
    proc = subprocess.run(
        [sys.executable, "-c", _TRAIN, str(made.path), str(fresh.path), str(made.path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = proc.stderr.split("=== train ")[1:]
    assert len(runs) == 3, proc.stderr[-3000:]
    for run in runs:  # reused, made, reused: said once each time, to stderr
        assert run.count(WARNING) == 1, run
        assert said in run
        assert (
            "labelled frames have points" in run and "weigh_only_present_joints" in run
        )
