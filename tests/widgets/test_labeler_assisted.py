"""Model-assisted labelling and labelling at scale in LabelerModel (no widgets).

Machine labels pre-fill frames, are moved, dismissed and accepted into
CollectedData; "not visible" marks survive a reload and a video switch and count as
done; the model opens on the first frame with work left and jumps to the next one and
to the next video; arrow keys nudge the point just placed; Delete right after a click
removes that point; the previous frame's points are copied; marker size and opacity
are remembered in config.yaml (only those keys).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import make_labels_frame, write_labels
from posekit.engine.labels import list_frames, read_visibility, visibility_path
from posekit.engine.project import load_project
from posekit.engine.refinement import write_machine_labels
from posekit.engine.video import extract_frames
from posekit.widgets.labeler_model import ANCHOR, LabelerModel

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


@pytest.fixture
def project(tmp_path):
    """Two videos (160x120), 3 extracted frames each, no labels."""
    project = make_demo_project(
        tmp_path, n_frames=30, n_labeled=0, size=(160, 120), n_videos=2
    )
    for video in project.videos():
        extract_frames(project, video, mode="uniform", n=3)
    return project


def on_disk(project, frame: str, bp: str, video: str = "session1"):
    path = project.path / "labeled-data" / video / "CollectedData_posekit.h5"
    df = pd.read_hdf(path, "df_with_missing")
    row = df.loc[tuple(frame.split("/"))]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def key(model, name: str, **mods):
    return model.handle_key({"type": "keydown", "key": name, **mods})


def machine_xyp(value: float = 50.0, likelihood=(0.99, 0.7, 0.2, 0.97, 0.99, 0.3)):
    xyp = np.zeros((len(BPS), 3))
    xyp[:, 0] = value + np.arange(len(BPS)) * 10
    xyp[:, 1] = value / 2 + np.arange(len(BPS)) * 5
    xyp[:, 2] = likelihood
    return xyp


def write_machine(project, frames, value=50.0):
    xyp = np.stack([machine_xyp(value)] * len(frames))
    write_machine_labels(project, "session1", frames, xyp, "DLC_test_net", BPS)


def rows(model):
    t = model.points_table
    return [
        (name, x, y, fill, edge)
        for name, x, y, fill, edge in zip(
            t["bodypart"], t["x"], t["y"], t["fill"], t["edge"], strict=True
        )
        if not name.startswith(ANCHOR)
    ]


def test_machine_labels_prefill_and_are_accepted_into_collected_data(project):
    f0 = LabelerModel(project).frames[0]
    write_machine(project, [f0])
    model = LabelerModel(project)
    assert model.frame == f0
    shown = rows(model)
    assert [r[0] for r in shown] == BPS
    assert all(r[3] == "machine" for r in shown)  # hollow
    # outline by likelihood: pcutoff 0.5 in the demo
    assert [r[4] for r in shown] == ["p-high", "p-mid", "p-low", "p-high", "p-high",
                                     "p-low"]  # fmt: skip
    assert not model.store.labelled_frames()  # nothing saved yet
    # the low-likelihood filter shows only the unsure guesses
    model.set_low_likelihood_filter(True)
    assert [r[0] for r in rows(model)] == ["rightear", "tailbase"]
    assert key(model, "l") == "low-likelihood filter"
    assert len(rows(model)) == 6
    # a moved machine point becomes a label where it was dropped
    table = {k: list(v) for k, v in model.points_table.items()}
    i = table["bodypart"].index("neck")
    table["x"][i], table["y"][i] = 33.0, 44.0
    model.receive_points(table)
    assert on_disk(project, f0, "neck") == (33.0, 44.0)
    assert ("neck", 33.0, 44.0, "neck", "label") in rows(model)
    # a deleted machine point is dismissed, remembered beside the labels
    table = {k: list(v) for k, v in model.points_table.items()}
    i = table["bodypart"].index("tailbase")
    model.receive_points({k: v[:i] + v[i + 1 :] for k, v in table.items()})
    assert "tailbase" not in [r[0] for r in rows(model)]
    assert (f0, "tailbase") in read_visibility(project, "session1")["dismissed"]
    # accept the frame: the remaining guesses become labels, one undoable edit
    assert key(model, "a") == "accept frame"
    for j, bp in enumerate(BPS[:3]):
        x, y, _ = machine_xyp()[j]
        assert on_disk(project, f0, bp) == (x, y)
    assert on_disk(project, f0, "neck") == (33.0, 44.0)
    assert all(math.isnan(v) for v in on_disk(project, f0, "tailbase"))
    assert all(r[3] != "machine" for r in rows(model))
    model.undo()
    assert all(math.isnan(v) for v in on_disk(project, f0, "snout"))
    assert "snout" in [r[0] for r in rows(model) if r[3] == "machine"]
    # a reload shows the same: guesses for what is not labelled, tailbase dismissed
    again = LabelerModel(project)
    again.goto(f0)
    assert "tailbase" not in [r[0] for r in rows(again)]


def test_predictor_prefills_frames_on_the_fly(project):
    calls = []

    def predictor(frames):
        calls.append(len(frames))
        return np.stack([machine_xyp(20.0)] * len(frames))

    model = LabelerModel(project)
    model.use_predictor(predictor)
    assert calls == [1] and len(rows(model)) == 6
    model.next_frame()
    assert calls == [1, 1]
    model.accept_frame()
    assert on_disk(project, model.frame, "snout") == (20.0, 10.0)
    model.previous_frame()
    assert calls == [1, 1]  # kept in memory


def test_not_visible_is_saved_counts_as_done_and_survives_reload(project):
    model = LabelerModel(project)
    f0 = model.frame
    for bp in BPS[:-1]:
        model.place(10.0, 10.0, bp)
    assert not model.frame_done()
    model.mark_not_visible("tailbase")
    assert model.frame_done()
    assert model.video_progress() == (1, 3)
    doc = json.loads(visibility_path(project, "session1").read_text())
    assert doc["not_visible"] == {f0.rsplit("/", 1)[1]: ["tailbase"]}
    # DeepLabCut's file keeps NaN
    assert all(math.isnan(v) for v in on_disk(project, f0, "tailbase"))
    # a video switch and back, and a reload, keep the mark
    model.set_video("session2")
    assert model.project_progress()["session1"] == (1, 3)
    model.set_video("session1")
    model.goto(f0)
    assert model.point_state("tailbase") == "not visible"
    again = LabelerModel(project, "session1")
    again.goto(f0)
    assert again.point_state("tailbase") == "not visible" and again.frame_done(f0)
    # placing the point later drops the mark
    again.place(5.0, 5.0, "tailbase")
    assert (f0, "tailbase") not in read_visibility(project, "session1")["not_visible"]


def test_opens_on_first_frame_with_work_and_jumps_to_the_next(project):
    model = LabelerModel(project)
    f0, f1, f2 = model.frames
    for f in (f0, f1):
        model.goto(f)
        for bp in BPS:
            model.place(1.0, 2.0, bp)
    again = LabelerModel(project)
    assert again.video == "session1" and again.frame == f2
    assert key(again, "u") == "next unlabelled frame" and again.frame == f2
    assert "Every frame" not in again.message
    again.goto(f2)
    for bp in BPS:
        again.place(3.0, 4.0, bp)
    assert again.next_unlabelled() is None
    assert "Every frame of session1 is done" in again.message
    assert "session2" in again.message
    # every frame of session1 done: a new model opens session2
    assert LabelerModel(project).video == "session2"
    assert key(again, "]") == "next video" and again.video == "session2"
    assert key(again, "[") == "previous video" and again.video == "session1"
    progress = again.project_progress()
    assert progress == {"session1": (3, 3), "session2": (0, 3)}


def test_arrows_nudge_the_point_just_placed_and_delete_removes_it(project):
    model = LabelerModel(project)
    f0, f1 = model.frames[:2]
    model.place(50.0, 40.0)  # snout; leftear is selected now
    assert model.active == "snout" and model.selected == "leftear"
    assert key(model, "ArrowRight") == "nudge point"
    assert key(model, "ArrowDown", shiftKey=True) == "nudge point"
    assert on_disk(project, f0, "snout") == (51.0, 50.0)
    assert model.frame == f0
    # Delete right after a click removes the point just placed
    model.place(70.0, 30.0)  # leftear
    assert key(model, "Delete") == "delete point"
    assert all(math.isnan(v) for v in on_disk(project, f0, "leftear"))
    assert on_disk(project, f0, "snout") == (51.0, 50.0)
    # without an active point the arrows navigate
    assert model.active is None
    assert key(model, "ArrowRight") == "next frame" and model.frame == f1
    model.goto(f0)
    model.activate("snout")  # a tap on the point
    assert key(model, "ArrowLeft", shiftKey=True) == "nudge point"
    assert on_disk(project, f0, "snout") == (41.0, 50.0)
    assert key(model, "Escape") == "release point"
    assert key(model, "ArrowLeft") == "previous frame"


def test_browser_click_and_drag_make_the_point_active(project):
    model = LabelerModel(project)
    f0 = model.frame
    table = {k: list(v) for k, v in model.points_table.items()}
    for k in table:
        table[k].append({"x": 20.0, "y": 30.0}.get(k, "?"))
    model.receive_points(table)
    assert model.active == "snout"
    key(model, "ArrowUp")
    assert on_disk(project, f0, "snout") == (20.0, 29.0)


def test_copy_previous_frame_points(project):
    model = LabelerModel(project)
    f0, f1 = model.frames[:2]
    model.place(10.0, 11.0, "snout")
    model.place(20.0, 21.0, "neck")
    model.goto(f1)
    model.place(99.0, 98.0, "neck")
    model.mark_not_visible("snout")
    assert model.copy_previous() == []  # snout hidden here, neck placed here
    model.goto(f0)
    model.place(30.0, 31.0, "spine")
    model.goto(f1)
    assert key(model, "c") == "copy previous frame"
    assert on_disk(project, f1, "spine") == (30.0, 31.0)
    assert model.message == "Copied 1 point from the previous frame (spine)."
    assert on_disk(project, f1, "neck") == (99.0, 98.0)
    assert all(math.isnan(v) for v in on_disk(project, f1, "snout"))
    model.goto(f0)
    model.copy_previous()
    assert "first frame" in model.message


def test_marker_size_and_opacity_remembered_in_config_only(project):
    before = project.config_path.read_text()
    model = LabelerModel(project)
    model.project.set("pcutoff", 0.9)  # unsaved elsewhere: must stay unsaved
    model.remember_display(dotsize=9, alphavalue=0.35)
    after = project.config_path.read_text()
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [
        ("dotsize: 6", "dotsize: 9"),
        ("alphavalue: 0.7", "alphavalue: 0.35"),
    ]
    reloaded = load_project(project.path)
    assert reloaded.display.dotsize == 9 and reloaded.display.alphavalue == 0.35
    assert reloaded.pcutoff == 0.5


def test_a_label_file_with_unknown_bodyparts_counts_nothing_done(project):
    """Another video's unreadable label file does not stop the labeller.

    Its frames count as not done, and the file is left as it is.
    """
    frames = list_frames(project, "session2")
    df = make_labels_frame(
        "posekit", [*BPS, "tailtip"], frames, np.ones((len(frames), len(BPS) + 1, 2))
    )
    path = write_labels(df, project.labels_path("session2"))
    before = path.read_bytes()
    model = LabelerModel(project, "session1")
    assert model.project_progress() == {"session1": (0, 3), "session2": (0, 3)}
    assert path.read_bytes() == before


def nv_on_disk(project, video: str = "session1") -> set:
    return read_visibility(project, video)["not_visible"]


def test_not_visible_is_one_undoable_edit_of_point_and_mark(project):
    """QA s15 #7: `v` then `z` brings the point back and leaves no mark on disk."""
    model = LabelerModel(project)
    f0 = model.frames[0]
    model.place(10.0, 20.0, "snout")
    model.select("snout")
    assert key(model, "v") == "not visible"
    assert math.isnan(on_disk(project, f0, "snout")[0])
    assert (f0, "snout") in nv_on_disk(project)
    assert key(model, "z") == "undo"  # one step: the point and the mark
    assert on_disk(project, f0, "snout") == (10.0, 20.0)
    assert (f0, "snout") not in model.not_visible
    assert (f0, "snout") not in nv_on_disk(project)
    assert key(model, "y") == "redo"  # the `v` again: point gone, mark back
    assert math.isnan(on_disk(project, f0, "snout")[0])
    assert (f0, "snout") in nv_on_disk(project)
    model.undo()
    model.delete("snout")  # no stale mark shows up once the point is gone
    assert model.point_state("snout") == ""
    assert (f0, "snout") not in nv_on_disk(project)

    # `v` on an empty bodypart changes only the mark: still one undoable edit
    model.select("neck")
    model.mark_not_visible()
    assert (f0, "neck") in nv_on_disk(project) and model.can_undo
    assert model.undo() == [] and model.message != "Nothing to undo or redo."
    assert (f0, "neck") not in nv_on_disk(project)
    assert model.point_state("neck") == ""

    # `v` on a bodypart marked not visible clears the mark (undoable too)
    model.mark_not_visible("neck")
    model.select("neck")
    model.mark_not_visible()
    assert (f0, "neck") not in nv_on_disk(project)
    assert model.point_state("neck") == "" and model.selected == "neck"
    model.undo()
    assert (f0, "neck") in nv_on_disk(project)

    # placing a marked bodypart drops its mark; undoing the placement restores it
    model.place(5.0, 6.0, "neck")
    assert (f0, "neck") not in nv_on_disk(project)
    model.undo()
    assert (f0, "neck") in nv_on_disk(project)
    assert math.isnan(on_disk(project, f0, "neck")[0])


def test_keyboard_placement_then_arrows_move_the_point(project):
    """QA s15 #1: `k` places the selected bodypart; arrows move it; Esc releases."""
    model = LabelerModel(project)
    f0, f1, f2 = model.frames
    assert model.selected == "snout"
    assert key(model, "k") == "place point"
    assert on_disk(project, f0, "snout") == (80.0, 60.0)  # the middle of 160x120
    assert model.active == "snout" and model.arrows_nudge
    assert model.selected == "leftear"  # as after a click
    key(model, "ArrowRight")
    key(model, "ArrowDown", shiftKey=True)
    assert on_disk(project, f0, "snout") == (81.0, 70.0)
    assert key(model, "Escape") == "release point"
    assert key(model, "ArrowRight") == "next frame" and model.frame == f1
    # next frame: the previous frame's position of the bodypart
    model.select("snout")
    assert key(model, "Enter") == "place point"
    assert on_disk(project, f1, "snout") == (81.0, 70.0)
    # `k` on a bodypart placed here only makes it the active point
    model.release()
    model.select("snout")
    key(model, "k")
    assert model.active == "snout" and on_disk(project, f1, "snout") == (81.0, 70.0)
    # no previous position: the network's guess shown here
    write_machine(project, [f2])
    model = LabelerModel(project)
    model.goto(f2)
    model.select("leftear")
    key(model, "k")
    assert on_disk(project, f2, "leftear") == tuple(machine_xyp()[1, :2])
    # one undo takes the placement back
    model.undo()
    assert math.isnan(on_disk(project, f2, "leftear")[0])
