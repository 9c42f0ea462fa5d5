"""DeepLabCut 3 keywords: a word on each, not a bare TypeError (QA s23, DLC 3 user 6).

``analyze_videos(torch_kwargs=…, detector_batch_size=…, ctd_conditions=…)``,
``evaluate_network(snapshotindex=…, detector_snapshot_index=…,
snapshots_to_evaluate=…, per_keypoint_evaluation=…)`` and
``create_training_dataset(weight_init=…, detector_type=…)`` failed with "got an
unexpected keyword argument", where ``train_network`` explains its DeepLabCut 3
arguments.
"""

from __future__ import annotations

import pytest

import posekit.engine as deeplabcut
from posekit.engine.demo import make_demo_project


@pytest.fixture
def config(tmp_path):
    project = make_demo_project(tmp_path, n_frames=20, n_labeled=4, size=(96, 80))
    return str(project.config_path)


def test_analysis_and_evaluation_take_dlc3_keywords(config, caplog) -> None:
    with caplog.at_level("INFO", logger="posekit"):
        # accepted (then refused for want of a trained network, as without them)
        with pytest.raises(FileNotFoundError):
            deeplabcut.analyze_videos(
                config, torch_kwargs={"weights_only": False}, detector_batch_size=4,
                ctd_conditions=None, detector_snapshot_index=-1,
            )  # fmt: skip
        with pytest.raises(FileNotFoundError):
            deeplabcut.evaluate_network(
                config, snapshotindex="all", detector_snapshot_index=-1,
                per_keypoint_evaluation=True,
            )  # fmt: skip
    assert "torch_kwargs" in caplog.text and "PyTorch options" in caplog.text
    assert "detector_batch_size" in caplog.text and "bottom-up" in caplog.text
    assert "per_keypoint_evaluation" in caplog.text
    with pytest.raises(ValueError, match="snapshot=-1 .the newest"):
        deeplabcut.evaluate_network(config, snapshots_to_evaluate=["snapshot-28"])
    with pytest.raises(TypeError, match="snapshot"):  # two names of one option
        deeplabcut.evaluate_network(config, snapshotindex=0, snapshot=0)


def test_create_training_dataset_takes_dlc3_keywords(config, caplog) -> None:
    with caplog.at_level("INFO", logger="posekit"):
        deeplabcut.create_training_dataset(
            config, weight_init=None, detector_type="fasterrcnn_resnet50_fpn_v2"
        )
    assert "detector_type" in caplog.text
    with pytest.raises(TypeError, match="weight_init=.*cannot be loaded by posekit"):
        deeplabcut.create_training_dataset(config, weight_init={"dataset": "x"})


def test_a_dlc3_config_says_posekit_trains_its_own_network(
    config, caplog, monkeypatch
) -> None:
    """QA s23 (DLC 3 user) 4: config.yaml's engine: pytorch was passed over silently."""
    import posekit.engine.dlc_names as names
    from posekit.engine.project import as_project

    project = as_project(config)
    project.set("engine", "pytorch")
    project.save()
    monkeypatch.setattr(names, "_pytorch_noted", False)
    with caplog.at_level("WARNING", logger="posekit"):
        deeplabcut.create_training_dataset(config)
        deeplabcut.create_training_dataset(config)  # said once per process
    said = [r.getMessage() for r in caplog.records if "engine: pytorch" in r.message]
    assert len(said) == 1
    assert "config.yaml's engine: pytorch (DeepLabCut 3)" in said[0]
    assert "not dlc-models-pytorch/" in said[0] and "albumentations" in said[0]
    assert as_project(config).get("engine") == "pytorch"  # the key is kept


def test_the_command_line_takes_deeplabcut_s_maxiters() -> None:
    """QA s23 (DLC 3 user) 8: posekit train --maxiters was an unknown option."""
    from posekit.engine.cli import build_parser

    args = build_parser().parse_args(["train", "proj", "--maxiters", "7"])
    assert args.iterations == 7
