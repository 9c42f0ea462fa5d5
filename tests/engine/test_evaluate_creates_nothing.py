"""Evaluating a shuffle reads its network and split; it never makes a new split.

QA s21 (cluster): ``posekit evaluate PROJECT --shuffle 7``, a typo where only shuffle
1 exists, wrote a new train/test split of shuffle 7 (``Documentation_data-…shuffle7``,
its ``.mat`` and ``pose_cfg.yaml`` files) and then failed with "No trained snapshot".
A later ``posekit train --shuffle 7`` would have used that split without a word.
DeepLabCut's ``evaluate_network`` creates no dataset either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from posekit.engine.api import evaluate_network
from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset
from posekit.engine.project import Project


def _tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``: its path and a hash of its bytes."""
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        )
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def trained(tiny_trained_writable: Project) -> Project:
    """Return a writable copy of the demo with the tiny network trained."""
    return tiny_trained_writable


def test_a_mistyped_shuffle_writes_nothing_and_names_the_trained_ones(
    trained: Project, capsys: pytest.CaptureFixture
) -> None:
    before = _tree(trained.path)
    path = str(trained.path)
    assert main(["evaluate", path, "--shuffle", "7"]) == 2
    err = capsys.readouterr().err
    assert "shuffle 7 is not trained" in err
    assert "Trained shuffle(s) (iteration 0, TrainingFraction 0.8): 1;" in err
    assert "evaluate one with --shuffle 1" in err
    assert "`posekit create-training-dataset PROJECT --shuffles 7`" in err
    assert "`posekit train PROJECT --shuffle 7`" in err
    assert "Nothing was written." in err
    assert "creating one" not in err and "Traceback" not in err
    assert _tree(trained.path) == before
    # several: every shuffle is checked before the first is evaluated (shuffle 1
    # would have written its evaluation results before shuffle 7 failed)
    assert main(["evaluate", path, "--shuffle", "1", "--shuffle", "7"]) == 2
    assert "shuffle 7 is not trained" in capsys.readouterr().err
    assert _tree(trained.path) == before
    # Python, one snapshot or all of them (that one counted none: "No objects to
    # concatenate")
    for snapshot in (None, "all"):
        with pytest.raises(FileNotFoundError, match="shuffle 7 is not trained"):
            evaluate_network(trained, shuffle=7, snapshot=snapshot)
    assert _tree(trained.path) == before
    assert not list(trained.training_set_dir().glob("*shuffle7*"))


def test_a_shuffle_with_a_split_but_no_network_says_train_first(
    trained: Project, capsys: pytest.CaptureFixture
) -> None:
    create_training_dataset(trained, shuffles=[2])
    before = _tree(trained.path)
    assert main(["evaluate", str(trained.path), "--shuffle", "2"]) == 2
    err = capsys.readouterr().err
    assert "shuffle 2 is not trained" in err
    assert "Train first: posekit.engine.train_network(project) or " in err
    assert "`posekit train PROJECT` (--shuffle 2, shuffle=2)." in err
    assert "create-training-dataset" not in err  # it has its split
    assert _tree(trained.path) == before


def test_a_trained_shuffle_whose_split_is_gone_gets_no_new_one(
    trained: Project,
) -> None:
    """A new random split would count frames the network trained on as test frames."""
    doc = trained.training_set_dir() / "Documentation_data-demo_80shuffle1.pickle"
    doc.unlink()
    before = _tree(trained.path)
    with pytest.raises(FileNotFoundError) as info:
        evaluate_network(trained, shuffle=1)
    message = str(info.value)
    assert "Shuffle 1 has a trained network" in message
    assert f"{doc.name} is missing in {doc.parent}" in message
    assert "Put the file back" in message
    assert _tree(trained.path) == before  # no new split, no results


def test_evaluating_a_trained_shuffle_still_works_and_keeps_its_split(
    trained: Project, capsys: pytest.CaptureFixture
) -> None:
    datasets = _tree(trained.training_set_dir())
    assert main(["evaluate", str(trained.path)]) == 0
    out = capsys.readouterr().out
    assert "Training iterations:" in out and "Test error(px)" in out
    assert _tree(trained.training_set_dir()) == datasets
    combined = (
        trained.path
        / "evaluation-results"
        / "iteration-0"
        / "CombinedEvaluation-results.csv"
    )
    assert combined.is_file()
    assert len(combined.read_text().splitlines()) == 2  # header and shuffle 1's row
