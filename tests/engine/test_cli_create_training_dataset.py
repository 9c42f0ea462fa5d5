"""``posekit create-training-dataset --net-type NAME``: DeepLabCut's ``net_type``.

``create_training_dataset(config, net_type=...)`` recorded the network of the
shuffles in Python (QA s18); the command line had no way to say it.
"""

from __future__ import annotations

import pytest
import yaml

from posekit.engine.api import backbone_choice
from posekit.engine.cli import main
from posekit.engine.project import Project


def _pose_cfg(project: Project, shuffle: int) -> dict:
    path = project.model_dir(shuffle) / "train" / "pose_cfg.yaml"
    return yaml.safe_load(path.read_text())


def test_net_type_is_recorded_in_each_shuffles_pose_cfg(
    demo_project: Project, capsys
) -> None:
    argv = ["create-training-dataset", str(demo_project.path), "--shuffles", "1,2"]
    assert main([*argv, "--net-type", "mobilenet_v2_0.35"]) == 0
    out = capsys.readouterr().out
    assert out.count("; net_type mobilenet_v2_0.35") == 2, out
    for shuffle in (1, 2):
        cfg = _pose_cfg(demo_project, shuffle)
        assert cfg["net_type"] == cfg["shuffle_net_type"] == "mobilenet_v2_0.35"
        choice = backbone_choice(demo_project, shuffle=shuffle)
        assert choice.configured == "mobilenet_v2_0.35"
    assert backbone_choice(demo_project, shuffle=3).configured == "efficientnet_lite0"
    # without --net-type the recorded network is kept (as in Python)
    assert main(argv) == 0
    assert _pose_cfg(demo_project, 1)["shuffle_net_type"] == "mobilenet_v2_0.35"


def test_an_empty_net_type_is_refused(demo_project: Project, capsys) -> None:
    argv = ["create-training-dataset", str(demo_project.path), "--net-type", " "]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--net-type: give a network name, e.g. resnet_50" in err
    assert not (demo_project.model_dir(1) / "train" / "pose_cfg.yaml").exists()
