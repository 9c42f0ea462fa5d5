"""Two labellers, one video: "not visible" marks and label files of other scorers.

QA s25 #8: student A marks snout not visible; student B, whose app read the marks
before, places snout on that frame. The mark stayed on disk beside the point
(``place`` removed only marks it held in memory), so a later delete turned the frame
into "not visible, done". ``place`` now removes the mark on disk in any case, and
``goto`` reads the marks again as it syncs the labels.

QA s25 #7: the Label app opened a project whose config.yaml names another scorer than
its label files with 0 labelled frames and no message.
"""

from __future__ import annotations

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.labels import read_visibility
from posekit.engine.project import load_project
from posekit.engine.video import extract_frames
from posekit.widgets import labeler_model
from posekit.widgets.labeler_model import LabelerModel


@pytest.fixture
def project(tmp_path):
    """Demo project (160x120 video), 3 extracted frames, no labels yet."""
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


def _marks(project) -> set[tuple[str, str]]:
    return read_visibility(project, "session1")["not_visible"]


def test_place_removes_another_labellers_mark(project) -> None:
    a, b = LabelerModel(project), LabelerModel(project)
    frame = a.frame
    assert b.frame == frame
    a.mark_not_visible("snout")  # b does not know it yet (no goto)
    assert _marks(project) == {(frame, "snout")}
    b.place(50.0, 60.0, "snout")
    assert b.store.point(frame, "snout") == (50.0, 60.0)
    assert _marks(project) == set()
    assert b.point_state("snout") == "labelled"
    # undo brings back the state before the point: marked not visible
    b.undo()
    assert _marks(project) == {(frame, "snout")}
    assert b.point_state("snout") == "not visible"


def test_place_removes_a_mark_set_after_it_read_them(project, monkeypatch) -> None:
    a, b = LabelerModel(project), LabelerModel(project)
    frame = a.frame
    a.mark_not_visible("snout")
    # the mark is set between b's read of the marks and its save
    monkeypatch.setattr(
        labeler_model,
        "read_visibility",
        lambda *_: {"not_visible": set(), "dismissed": set()},
    )
    b.place(50.0, 60.0, "snout")
    monkeypatch.undo()
    assert _marks(project) == set()
    # placing where no mark is changes no mark
    b.place(10.0, 20.0, "leftear")
    assert _marks(project) == set()
    assert b.store.point(frame, "leftear") == (10.0, 20.0)


def test_goto_reads_another_labellers_marks(project) -> None:
    a, b = LabelerModel(project), LabelerModel(project)
    first, second = a.frames[0], a.frames[1]
    a.mark_not_visible("snout")
    assert b.point_state("snout") == ""
    b.goto(second)
    b.goto(first)
    assert b.point_state("snout") == "not visible"
    # and a mark removed by A disappears from B
    a.mark_not_visible("snout")  # on a marked point without a point: clears it
    assert _marks(project) == set()
    b.goto(first)
    assert b.point_state("snout") == ""


def test_label_app_names_label_files_of_another_scorer(tmp_path) -> None:
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=2)
    assert LabelerModel(project).message == ""
    config = project.path / "config.yaml"
    config.write_text(
        config.read_text().replace("\nscorer: posekit\n", "\nscorer: alice\n")
    )
    alice = load_project(project.path)
    model = LabelerModel(alice)
    assert model.n_labelled_frames() == 0  # DeepLabCut's rule: alice's file only
    assert model.message_level == "warning"
    assert (
        "Label files of another scorer are not used: labeled-data/session1/"
        "CollectedData_posekit.h5 (scorer 'posekit', 2 labelled frames)"
        in model.message
    )
    assert "set scorer in config.yaml to 'posekit'" in model.message
