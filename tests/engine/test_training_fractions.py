"""Several TrainingFractions, chosen with DeepLabCut's ``trainingsetindex``.

A learning curve in DeepLabCut: ``TrainingFraction: [0.5, 0.8]``, one split per
fraction, then ``train_network(config, trainingsetindex=1)`` and the same index for
evaluation and analysis. posekit refused every index but 0, and DeepLabCut's
``trainingsetindex="all"`` of ``evaluate_network`` (every fraction).
"""

from __future__ import annotations

import pickle

import pytest

import posekit.engine as deeplabcut
from posekit.engine.dataset import create_training_dataset, load_split
from posekit.engine.project import ProjectError, load_project

TINY = {
    "backbone": "mobilenet_v2_0.35",
    "max_iterations": 2,
    "batch_size": 2,
    "crop_size": (64, 64),
    "progress": False,
    "eval_interval": 0,
}


@pytest.mark.slow
def test_train_evaluate_analyse_the_second_fraction(demo_project, tmp_path, capsys):
    demo_project.set("TrainingFraction", [0.5, 0.8])
    demo_project.save()
    config = str(demo_project.config_path)
    before = demo_project.config_path.read_text()
    # one split per fraction, as DeepLabCut makes them; the smaller one nested
    splits = create_training_dataset(demo_project)
    assert sorted(s.train_fraction for s in splits) == [0.5, 0.8]
    half = load_split(demo_project, train_fraction=0.5)
    most = load_split(demo_project, train_fraction=0.8)
    assert set(half.train_indices) < set(most.train_indices)
    result = deeplabcut.train_network(config, shuffle=1, trainingsetindex=1, **TINY)
    assert result.train_dir.parent.name == "demoJan1-trainset80shuffle1"
    cfg = (result.train_dir / "pose_cfg.yaml").read_text()
    assert "trainingsetindex: 1" in cfg and "train_fraction: 0.8" in cfg
    table = deeplabcut.evaluate_network(config, Shuffles=[1], trainingsetindex=1)
    assert int(table["%Training dataset"].iloc[0]) == 80
    assert (
        demo_project.path / "evaluation-results/iteration-0/demoJan1-trainset80shuffle1"
    ).is_dir()
    video = demo_project.videos()[0]
    (h5,) = deeplabcut.analyze_videos(
        config, [str(video)], trainingsetindex=1, destfolder=str(tmp_path / "out")
    )
    meta = pickle.loads(h5.with_name(h5.stem + "_meta.pickle").read_bytes())["data"]
    assert meta["training set fraction"] == 0.8
    # the first fraction has no model yet; an index past the list is named
    with pytest.raises(FileNotFoundError, match="trainset50shuffle1"):
        deeplabcut.analyze_videos(config, [str(video)], trainingsetindex=0)
    with pytest.raises(ProjectError, match=r"has 2 fraction\(s\) \[0.5, 0.8\]"):
        deeplabcut.evaluate_network(config, trainingsetindex=2)
    # "all": every fraction, as DeepLabCut's evaluate_network (it was refused);
    # each must be trained, and the one that is not is named
    with pytest.raises(FileNotFoundError, match="trainset50shuffle1"):
        deeplabcut.evaluate_network(config, trainingsetindex="all")
    with pytest.raises(TypeError, match="once for each fraction"):
        deeplabcut.train_network(config, trainingsetindex="all", **TINY)
    deeplabcut.train_network(config, trainingsetindex=0, **TINY)
    table = deeplabcut.evaluate_network(config, Shuffles=[1], trainingsetindex="all")
    assert table["%Training dataset"].tolist() == [50, 80]
    assert table["Training iterations:"].tolist() == [2, 2]
    # the command line takes the same index
    from posekit.engine.cli import main

    path = str(demo_project.path)
    assert main(["evaluate", path, "--trainingsetindex", "1"]) == 0
    assert "80" in capsys.readouterr().out.split("\n")[1]  # the %Training dataset
    assert main(["analyze", path, "--trainingsetindex", "5"]) == 2
    assert "TrainingFraction has 2 fraction(s)" in capsys.readouterr().err
    # config.yaml is as the user wrote it
    assert demo_project.config_path.read_text() == before
    assert load_project(demo_project.path).training_fractions == [0.5, 0.8]
