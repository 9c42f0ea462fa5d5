"""A merge that raised the iteration without its training set (QA s17).

An interrupted merge (or ``merge --no-training-set``) leaves iteration N without a
split while iteration N-1 has one. Training a multi-animal project in that state
refuses, as the single-animal one does (a new random split would move the old test
frames into training), and a second ``merge --no-training-set`` says that the
previous merge did not finish and that a plain ``posekit merge`` finishes it (it
said "Nothing to merge: … create the training set and train").
"""

from __future__ import annotations

import pytest

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.labels import LabelError, LabelStore
from posekit.engine.project import load_project
from posekit.engine.refinement import _doc_split, merge_datasets
from posekit.engine.video import extract_frames

REFUSED = r"Iteration 1 has no training set of shuffle 1, but iteration 0 has one"
UNFINISHED = (
    "The previous merge did not finish: iteration 1 has no training set, "
    "iteration 0 has one"
)


def _label_one_more(project, index: int = 17) -> str:
    """Extract a frame and label it from the ground truth; its labels path."""
    truth, _ = load_ground_truth(project, "session1")
    (image,) = extract_frames(project, project.videos()[0], indices=[index])
    frame = f"labeled-data/session1/{image.name}"
    if project.multianimal:
        from posekit.engine.multianimal.labels import slot_name

        points = {
            slot_name(a, b): tuple(truth[index, i, j])
            for i, a in enumerate(project.individuals)
            for j, b in enumerate(project.multianimal_bodyparts)
        }
    else:
        points = {b: tuple(truth[index, j]) for j, b in enumerate(project.bodyparts)}
    LabelStore(project, "session1").apply(frame, points)
    return frame


def _unfinished(project, how: str):
    """Leave ``project`` at iteration 1 without its split (iteration 0 has one)."""
    create_training_dataset(project)
    _label_one_more(project)
    if how == "no-training-set":
        assert main(["merge", str(project.path), "--no-training-set"]) == 0
    else:  # the state an interrupted merge of an older posekit left
        merge_datasets(project)
        for pattern in ("Documentation_data-*.pickle", "*.mat"):
            for f in project.training_set_dir().glob(pattern):
                f.unlink()
    project = load_project(project.path)
    assert project.iteration == 1 and not any(_doc_split(project, 1, 1))
    return project


@pytest.mark.parametrize("how", ["interrupted", "no-training-set"])
def test_multi_animal_training_refuses_an_unfinished_merge(tmp_path, capsys, how):
    from posekit.engine.api import train_network

    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    project = _unfinished(project, how)
    test0 = sorted(_doc_split(project, 0, 1)[1])
    assert test0
    with pytest.raises(FileNotFoundError, match=REFUSED) as err:
        train_network(
            project,
            backbone="mobilenet_v2_0.35",
            weights=None,
            max_iterations=1,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
        )
    assert f"Run `posekit merge {project.path}` again" in str(err.value)
    # nothing made up: no new split, no model
    assert not list(project.training_set_dir().glob("Documentation_data-*"))
    # (the merge's pose_cfg.yaml may be there, as DeepLabCut's is: no snapshot)
    assert not list((project.path / "dlc-models" / "iteration-1").rglob("snapshot-*"))
    capsys.readouterr()
    assert main(["train", str(project.path), "--iterations", "1"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("posekit train: error: Iteration 1 has no training")
    assert "Traceback" not in err_text
    # a second --no-training-set says what happened and what to run
    assert main(["merge", str(project.path), "--no-training-set"]) == 2
    assert UNFINISHED in capsys.readouterr().err
    # a plain merge finishes it, with iteration 0's test frames
    result = merge_datasets(project)
    assert result.resumed and result.iteration == 1
    assert sorted(_doc_split(project, 1, 1)[1]) == test0
    assert load_project(project.path).iteration == 1


def test_merge_without_training_set_after_an_unfinished_merge_says_so(
    demo_project, capsys
) -> None:
    project = _unfinished(demo_project, "no-training-set")
    capsys.readouterr()
    with pytest.raises(LabelError) as err:
        merge_datasets(project, create_training_set=False)
    text = str(err.value)
    assert text.startswith(UNFINISHED)
    assert f"Run `posekit merge {project.path}` without --no-training-set" in text
    assert "merge_datasets(project)" in text and "Nothing was merged" in text
    assert "create the training set and train" not in text  # the old advice
    assert load_project(project.path).iteration == 1  # not raised again
    # the command line: exit status 2, the message, no traceback
    assert main(["merge", str(project.path), "--no-training-set"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith(f"posekit merge: error: {UNFINISHED}")
    assert "Traceback" not in err_text
    # what it says to run works
    assert main(["merge", str(project.path)]) == 0
    assert "finished the interrupted merge" in capsys.readouterr().out
    assert any(_doc_split(load_project(project.path), 1, 1))
