"""The backbone notice: DLC's resnet_50 has no ImageNet weights here; said before training.

``posekit train`` prints it as its first line, the train app shows it beside the
backbone menu, and the model trained (efficientnet_lite0) is recorded in pose_cfg.yaml
and in the scorer name.
"""

from __future__ import annotations

import pytest
import yaml

from posekit.engine.cli import main
from posekit.engine.model_folder import ModelFolder
from posekit.engine.project import Project, load_project


@pytest.fixture
def dlc_project(demo_project: Project) -> Project:
    """Configure the demo project as DeepLabCut configures one: resnet_50."""
    return _as_deeplabcut_configures(demo_project)


def _as_deeplabcut_configures(project: Project) -> Project:
    """``default_net_type: resnet_50`` in place of posekit's ``efficientnet_lite0``."""
    config = project.config_path
    text = config.read_text()
    assert "default_net_type: efficientnet_lite0" in text  # posekit's own default
    config.write_text(
        text.replace(
            "default_net_type: efficientnet_lite0", "default_net_type: resnet_50"
        )
    )
    return load_project(project.path)


def test_posekit_projects_train_their_backbone_without_a_notice(
    demo_project: Project,
) -> None:
    import posekit.engine.api as api

    assert demo_project.get("default_net_type") == "efficientnet_lite0"
    choice = api.backbone_choice(demo_project, None, "auto")
    assert (choice.backbone, choice.weights, choice.notice) == (
        "efficientnet_lite0",
        "imagenet",
        "",
    )


def test_cli_says_it_on_its_first_line_before_training(
    dlc_project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import posekit.engine.api as api

    calls: list[tuple[str, dict]] = []

    def fake_train(project, **kw):
        calls.append((capsys.readouterr().out, kw))  # what was printed before
        return api.TrainResult(10, 0, "max_iterations", None, None, dlc_project.path)

    monkeypatch.setattr(api, "train_network", fake_train)
    path = str(dlc_project.path)
    assert main(["train", path, "--iterations", "10"]) == 0
    printed_before, kw = calls[-1]
    first = printed_before.splitlines()[0]
    assert first.startswith("Backbone resnet_50 (config.yaml default_net_type) has no")
    assert "training efficientnet_lite0 with its ImageNet weights" in first
    assert "--backbone resnet_50 --weights none" in first
    assert kw["backbone"] is None and kw["weights"] == "auto"
    # insisting: no notice, resnet_50 from random initialisation
    capsys.readouterr()
    assert main(["train", path, "--backbone", "resnet_50", "--weights", "none"]) == 0
    printed_before, kw = calls[-1]
    assert printed_before == ""
    assert (kw["backbone"], kw["weights"]) == ("resnet_50", None)
    choice = api.backbone_choice(dlc_project, kw["backbone"], kw["weights"])
    assert (choice.backbone, choice.weights) == ("resnet_50", None)


def test_cli_says_nothing_of_the_backbone_when_it_cannot_train(
    dlc_project: Project, capsys
) -> None:
    """No labels, or DeepLabCut's own network in the folder: only the error."""
    import shutil

    path = str(dlc_project.path)
    labels = dlc_project.path / "labeled-data"
    shutil.rmtree(labels)
    labels.mkdir()
    assert main(["train", path, "--iterations", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "No labels found" in captured.err
    folder = ModelFolder.of(dlc_project, 1)
    folder.path.mkdir(parents=True)
    (folder.path / "snapshot-1000.meta").write_bytes(b"tf graph")
    assert main(["train", path, "--iterations", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "DeepLabCut's own trained network" in captured.err


@pytest.mark.slow
def test_the_choice_is_recorded_in_pose_cfg_and_the_scorer(
    dlc_project: Project, capsys, caplog
) -> None:
    path = str(dlc_project.path)
    assert main(["train", path, "--iterations", "2", "--batch-size", "2"]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert (
        out[0].startswith("Backbone resnet_50") and "trained to iteration 2" in out[-1]
    )
    said = captured.out + captured.err + caplog.text
    assert said.count("has no ImageNet weights here") == 1  # printed, not logged too
    folder = ModelFolder.of(dlc_project, 1)
    cfg = yaml.safe_load((folder.path / "pose_cfg.yaml").read_text())
    assert cfg["posekit"]["model"]["backbone"] == "efficientnet_lite0"
    assert cfg["net_type"] == "efficientnet-lite0"  # DeepLabCut's spelling
    assert cfg["init_weights"] == "imagenet"
    assert cfg["configured_net_type"] == "resnet_50"
    assert cfg["backbone_notice"] == out[0]
    assert folder.scorer().startswith("DLC_effnet_lite0_demo")


def test_train_app_model_shows_the_notice(dlc_project: Project) -> None:
    from posekit.widgets.training_dashboard import TrainingDashboard
    from posekit.widgets.training_model import TrainingModel

    m = TrainingModel(dlc_project)
    assert m.default_backbone == "efficientnet_lite0"
    assert m.backbone_notice.startswith("Backbone resnet_50 (config.yaml")
    view = TrainingDashboard(m, backbones=["efficientnet_lite0", "resnet_50"])
    assert view.backbone.value == "efficientnet_lite0"
    assert view.backbone.options[:2] == ("efficientnet_lite0", "resnet_50")
    assert "has no ImageNet weights here" in view.backbone_notice.value
    # the user insists on resnet_50 from scratch: nothing to warn about
    view.backbone.value = "resnet_50"
    view.imagenet.value = False
    assert m.backbone_notice == "" and view.backbone_notice.value == ""
    # resnet_50 with ImageNet asked for: it trains from random initialisation
    view.imagenet.value = True
    assert "random initialisation" in view.backbone_notice.value
    view.close()


@pytest.mark.slow
def test_multianimal_training_says_it_once(tmp_path, capsys, caplog) -> None:
    """The multi-animal trainer logs from a child logger; the notice is still single."""
    from posekit.engine.multianimal.demo import make_multianimal_demo

    project = make_multianimal_demo(tmp_path, n_frames=20, n_labeled=6)
    project = _as_deeplabcut_configures(project)
    path = str(project.path)
    assert main(["create-training-dataset", path]) == 0
    assert main(["train", path, "--iterations", "1", "--batch-size", "2"]) == 0
    captured = capsys.readouterr()
    said = captured.out + captured.err + caplog.text
    assert said.count("has no ImageNet weights here") == 1
