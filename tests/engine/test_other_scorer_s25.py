"""Label files of another scorer are named wherever labels are read (QA s25 #7).

A student whose config.yaml names another ``scorer`` than the label files'
(``CollectedData_posekit.h5`` exists, ``scorer: alice``) saw 0 labels with no word:
``posekit label`` printed "0 of 12 frames done", ``create-training-dataset`` said
"label some frames first", and once ``CollectedData_alice.h5`` existed training used
only it and left the other scorer's frames out without a word. DeepLabCut's rule
stays (only ``CollectedData_<config scorer>`` counts); the other files are named, with
how to use them (set ``scorer`` to theirs), as ``check-labels`` did.
"""

from __future__ import annotations

import logging

import pytest

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset, merge_labels
from posekit.engine.io.dlc import LabelError, index_to_paths, read_labels
from posekit.engine.labels import LabelStore
from posekit.engine.project import Project, load_project

from .conftest import DEMO_LABELED


def _as_alice(project: Project) -> Project:
    """Set ``scorer: alice`` in config.yaml (the labels stay posekit's)."""
    config = project.path / "config.yaml"
    text = config.read_text()
    assert "\nscorer: posekit\n" in text
    config.write_text(text.replace("\nscorer: posekit\n", "\nscorer: alice\n"))
    alice = load_project(project.path)
    assert alice.scorer == "alice"
    return alice


def test_other_scorer_labels_names_files_and_frames(demo_project: Project) -> None:
    from posekit.engine.label_check import other_scorer_advice, other_scorer_labels

    assert other_scorer_labels(demo_project) == []
    assert other_scorer_advice(demo_project, []) == ""
    alice = _as_alice(demo_project)
    (found,) = other_scorer_labels(alice)
    assert (found.video, found.scorer) == ("session1", "posekit")
    assert found.path.name == "CollectedData_posekit.h5"  # the .h5, not its .csv
    expected = index_to_paths(read_labels(found.path).index)
    assert list(found.frames) == expected and len(expected) == DEMO_LABELED
    advice = other_scorer_advice(alice, [found])
    assert (
        "labeled-data/session1/CollectedData_posekit.h5 (scorer 'posekit', "
        f"{DEMO_LABELED} labelled frames)" in advice
    )
    assert "set scorer in config.yaml to 'posekit'" in advice


def test_no_labels_of_the_config_scorer_names_the_others(demo_project: Project) -> None:
    alice = _as_alice(demo_project)
    for call in (merge_labels, create_training_dataset):
        with pytest.raises(LabelError) as info:
            call(alice)
        text = str(info.value)
        assert "label some frames first" not in text
        assert "No labels of the scorer 'alice'" in text
        assert "labeled-data/session1/CollectedData_posekit.h5" in text
        assert f"{DEMO_LABELED} labelled frames" in text
        assert "set scorer in config.yaml to 'posekit'" in text
    assert not alice.training_set_dir().exists()


def test_create_training_dataset_warns_about_the_frames_it_leaves_out(
    demo_project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    theirs = index_to_paths(read_labels(demo_project.labels_path("session1")).index)
    alice = _as_alice(demo_project)
    store = LabelStore(alice, "session1")  # alice labels one of their frames
    store.set_point(theirs[0], "snout", 10.0, 20.0)
    assert alice.labels_path("session1").is_file()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        (split,) = create_training_dataset(alice)
    assert (
        len(split.train_indices) + len(split.test_indices) == 1
    )  # DeepLabCut's rule: alice's only
    (warning,) = [
        r.getMessage() for r in caplog.records if "another scorer" in r.getMessage()
    ]
    assert "labeled-data/session1/CollectedData_posekit.h5" in warning
    assert "set scorer in config.yaml to 'posekit'" in warning
    left = [f.split("/", 1)[1] for f in theirs[1:]]
    assert (
        f"{DEMO_LABELED - 1} frame(s) labelled only there are left out of the "
        f"training set: {', '.join(left[:5])} and {len(left) - 5} more." in warning
    )


def test_create_training_dataset_cli_names_the_other_scorer(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    alice = _as_alice(demo_project)
    assert main(["create-training-dataset", str(alice.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posekit create-training-dataset: error: No labels of")
    assert "CollectedData_posekit.h5" in err and "label some frames first" not in err


def test_label_progress_names_the_other_scorer(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    assert main(["label", str(demo_project.path)]) == 0
    assert "another scorer" not in capsys.readouterr().out
    alice = _as_alice(demo_project)
    assert main(["label", str(alice.path)]) == 0
    out = capsys.readouterr().out
    assert "session1: 0 of" in out
    assert (
        "Label files of another scorer are not used: labeled-data/session1/"
        f"CollectedData_posekit.h5 (scorer 'posekit', {DEMO_LABELED} labelled "
        "frames)" in out
    )
    assert "set scorer in config.yaml to 'posekit'" in out
