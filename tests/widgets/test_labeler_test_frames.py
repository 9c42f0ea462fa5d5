"""The labeller marks the test frames of the shuffle (QA s16 #5).

A frame in the test split of the project's shuffle (the training set's Documentation
pickle) says so in the status line ("test frame (shuffle 1)"); the first change of such
a frame shows a warning that the test set changes, so test errors of the iterations
before and after no longer compare. Other frames say nothing.
"""

from __future__ import annotations

import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.widgets.labeler_model import LabelerModel


@pytest.fixture
def project(tmp_path):
    p = make_demo_project(tmp_path, n_frames=30, n_labeled=6)
    return p


def test_test_frames_are_marked_and_their_first_change_warned(project):
    model = LabelerModel(project, video="session1")
    assert model.test_frames() == frozenset()  # no training set yet: nothing marked
    test, train = model.frames[1], model.frames[0]
    create_training_dataset(project, test_frames=[test])
    assert model.test_frames() == {test}  # read again once the split exists

    model.goto(train)
    assert model.test_frame_label() == ""
    model.place(10.0, 12.0, model.bodyparts[0])
    assert "test frame" not in model.message

    model.goto(test)
    assert model.is_test_frame()
    assert model.test_frame_label() == "test frame (shuffle 1)"
    x, y = model.store.point(test, "snout")
    model.place(x + 8, y, "snout")
    assert model.message_level == "warning"
    assert "test frame of shuffle 1" in model.message
    assert "changes the test set" in model.message
    assert "no longer compare" in model.message

    model.show_message("")  # once per frame: the next change says nothing again
    model.place(x + 9, y, "snout")
    assert model.message == ""


def test_other_shuffle_and_the_status_line(project):
    model = LabelerModel(project, video="session1", shuffle=2)
    test = model.frames[2]
    create_training_dataset(project, test_frames=[test])  # shuffle 1 only
    assert not model.is_test_frame(test)
    model.shuffle = 1
    assert model.is_test_frame(test)

    from posekit.widgets.labeler import Labeler

    labeler = Labeler(model, load_bokehjs=False)
    model.goto(test)
    assert "test frame (shuffle 1)" in labeler.status.value
    model.goto(model.frames[0])
    assert "test frame" not in labeler.status.value
