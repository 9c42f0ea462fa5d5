"""``create_training_dataset(config, net_type=...)``: DeepLabCut's most common line.

It was a ``TypeError`` (QA s18 jupyterlab #5). The network is now recorded in the
shuffle's ``pose_cfg.yaml`` and ``train_network`` trains it for that shuffle.
"""

from __future__ import annotations

import logging

import yaml

from posekit.engine.demo import make_demo_project


def _pose_cfg(project, shuffle: int = 1) -> dict:
    path = project.model_dir(shuffle) / "train" / "pose_cfg.yaml"
    return yaml.safe_load(path.read_text())


def test_net_type_is_recorded_per_shuffle_and_chooses_the_backbone(
    tmp_path, caplog
) -> None:
    import posekit.engine as deeplabcut
    from posekit.engine.api import backbone_choice

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    assert project.get("default_net_type") == "efficientnet_lite0"
    with caplog.at_level(logging.INFO, logger="posekit"):
        (split,) = deeplabcut.create_training_dataset(
            str(project.config_path), net_type="resnet_50", augmenter_type="imgaug"
        )
    assert split.shuffle == 1
    cfg = _pose_cfg(project)
    assert cfg["net_type"] == "resnet_50" and cfg["shuffle_net_type"] == "resnet_50"
    said = [r.getMessage() for r in caplog.records if "net_type=" in r.getMessage()]
    assert len(said) == 1 and "recorded for shuffle 1" in said[0], said
    # shuffle 1 trains resnet_50 (without ImageNet weights here: the offline
    # fallback and its notice, as for default_net_type); shuffle 2 the config's
    choice = backbone_choice(project, shuffle=1)
    assert choice.configured == "resnet_50"
    assert choice.notice.startswith("Backbone resnet_50 (net_type of shuffle 1, ")
    assert (
        backbone_choice(project, "resnet_50", None, shuffle=1).backbone == "resnet_50"
    )
    assert backbone_choice(project, shuffle=2).configured == "efficientnet_lite0"
    assert backbone_choice(project).configured == "efficientnet_lite0"


def test_a_shuffle_trains_the_net_type_it_was_created_with(tmp_path) -> None:
    from posekit.engine.api import train_network
    from posekit.engine.dataset import create_training_dataset

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    create_training_dataset(project, net_type="mobilenet_v2_0.35")
    result = train_network(
        project,
        weights=None,  # no download; given without backbone: the configured one
        max_iterations=1,
        batch_size=2,
        crop_size=(64, 64),
        save_interval_s=0,
        progress=False,
    )
    assert result.iteration == 1
    cfg = _pose_cfg(project)
    assert cfg["posekit"]["model"]["backbone"] == "mobilenet_v2_0.35"
    assert cfg["net_type"] == "mobilenet_v2_0.35"
    assert cfg["shuffle_net_type"] == "mobilenet_v2_0.35"  # kept for a fresh start


def test_a_net_type_posekit_cannot_train_is_not_said_to_be_trained(
    tmp_path, caplog
) -> None:
    """QA s22 (madlc), finding 6: a network posekit does not have.

    ``net_type='dlcrnet_ms5'`` logged "train_network trains it", and
    ``train_network`` trains efficientnet_lite0 instead.
    """
    import posekit.engine as deeplabcut
    from posekit.engine.api import backbone_choice

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    with caplog.at_level(logging.INFO, logger="posekit"):
        deeplabcut.create_training_dataset(project, net_type="dlcrnet_ms5")
        deeplabcut.create_training_dataset(
            project, net_type="efficientnet_lite1", Shuffles=[2]
        )
    said = [r.getMessage() for r in caplog.records if "net_type=" in r.getMessage()]
    assert len(said) == 2, said
    assert "train_network trains it" not in said[0]
    assert (
        "train_network does not train it as it stands: Backbone dlcrnet_ms5 "
        in (said[0])
    )
    assert "is not a posekit backbone" in said[0]
    assert backbone_choice(project, shuffle=1).backbone == "efficientnet_lite0"
    assert said[1].endswith("; train_network trains it")  # one it has: trained
    assert backbone_choice(project, shuffle=2).backbone == "efficientnet_lite1"
