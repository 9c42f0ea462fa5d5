"""LabelerModel without any widget.

Placing, moving and deleting points, frames, undo/redo, keyboard actions, the browser
points protocol and the files on disk.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.labels import LabelStore
from posekit.engine.video import extract_frames
from posekit.widgets.labeler_model import ANCHOR, EVENTS, LabelerModel, key_action

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


@pytest.fixture
def project(tmp_path):
    """Demo project (160x120 video), 3 extracted frames, no labels yet."""
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


@pytest.fixture
def model(project):
    return LabelerModel(project)


def on_disk(project, frame: str, bp: str) -> tuple[float, float]:
    """Read a point as DeepLabCut does: from ``CollectedData_<scorer>.h5``."""
    path = project.path / "labeled-data" / "session1" / "CollectedData_posekit.h5"
    df = pd.read_hdf(path, "df_with_missing")
    row = df.loc[tuple(frame.split("/"))]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def is_nan(xy) -> bool:
    return all(math.isnan(v) for v in xy)


def key(model: LabelerModel, name: str, **mods) -> str | None:
    return model.handle_key({"type": "keydown", "key": name, **mods})


def shown(model: LabelerModel) -> dict:
    return {k: list(v) for k, v in model.points_table.items()}


def test_place_on_a_frame_lands_in_the_h5_at_the_pixel(project, model):
    assert model.frames == [
        f"labeled-data/session1/img{i:02d}.png" for i in (0, 14, 29)
    ]
    model.goto(1)
    frame = model.frame
    assert frame == "labeled-data/session1/img14.png"
    model.place(12.25, 34.5)  # the selected bodypart: snout
    assert on_disk(project, frame, "snout") == (12.25, 34.5)
    assert model.selected == "leftear"  # the next unlabelled one
    model.place(100.0, 7.0, "tailbase")
    assert on_disk(project, frame, "tailbase") == (100.0, 7.0)
    # only that frame has points, and the csv says the same as the h5
    df = read_labels(model.store.path)
    labelled = df.index[df.notna().any(axis=1)]
    assert list(labelled) == [("labeled-data", "session1", "img14.png")]
    csv = pd.read_csv(
        model.store.path.with_suffix(".csv"), header=[0, 1, 2], index_col=[0, 1, 2]
    )
    row = csv.loc[("labeled-data", "session1", "img14.png")]
    assert (row[("posekit", "snout", "x")], row[("posekit", "snout", "y")]) == (
        12.25,
        34.5,
    )
    # a new model (a new session, a reload) reads the same points back
    again = LabelerModel(project)
    assert again.store.point(frame, "snout") == (12.25, 34.5)
    assert again.store.point(frame, "tailbase") == (100.0, 7.0)
    again.goto(frame)
    assert again.n_labelled_bodyparts() == 2 and again.n_labelled_frames() == 1
    assert again.selected == "leftear"  # first unlabelled on that frame


def test_undo_redo_restore_the_file(project, model):
    f0, f1 = model.frames[:2]
    model.place(10.0, 10.0, "snout")
    model.place(50.0, 60.0, "snout")  # moved
    assert model.can_undo and not model.can_redo
    assert model.undo()[0].bodypart == "snout"
    assert on_disk(project, f0, "snout") == (10.0, 10.0)
    assert model.can_redo
    model.redo()
    assert on_disk(project, f0, "snout") == (50.0, 60.0)
    model.undo()
    model.undo()
    assert is_nan(on_disk(project, f0, "snout"))
    assert model.undo() == [] and model.message == "Nothing to undo or redo."
    # undoing a change made on another frame goes back to that frame
    model.redo()
    model.next_frame()
    assert model.frame == f1
    key(model, "z", ctrlKey=True)
    assert model.frame == f0 and is_nan(model.store.point(f0, "snout"))


def test_next_and_previous_frame_move_the_cursor(model):
    f0, f1, f2 = model.frames
    seen: list[str] = []
    model.frame_changed.append(seen.append)
    assert model.frame_index == 0 and model.frame == f0
    model.next_frame()
    assert (model.frame_index, model.frame) == (1, f1)
    model.next_frame()
    model.next_frame()  # stays at the last frame
    assert (model.frame_index, model.frame) == (2, f2)
    model.previous_frame()
    assert model.frame == f1
    model.goto("img29.png")  # by image name
    assert model.frame == f2
    assert seen == [f1, f2, f2, f1, f2]
    with pytest.raises(ValueError, match="not a frame of session1"):
        model.goto("img03.png")
    # ] (next video) with no other video to label says why (it did nothing, silently)
    assert model.next_video() is None and model.video == "session1"
    assert model.message_level == "warning"
    assert "No other video has frames to label" in model.message


def test_delete_not_visible_and_selection(project, model):
    f0 = model.frame
    model.place(1.0, 2.0)  # snout
    model.place(3.0, 4.0)  # leftear
    model.delete("snout")
    assert is_nan(on_disk(project, f0, "snout"))
    assert model.point_state("leftear") == "labelled"
    model.select("rightear")
    model.mark_not_visible()
    assert (f0, "rightear") in model.not_visible
    assert model.point_state("rightear") == "not visible"
    assert model.selected == "neck"
    model.select("leftear")
    model.place(5.0, 6.0)  # leftear moved; next unlabelled skips rightear
    assert on_disk(project, f0, "leftear") == (5.0, 6.0)
    assert model.selected == "neck"
    model.select_next(-1)
    assert model.selected == "rightear"
    with pytest.raises(ValueError, match="whisker"):
        model.select("whisker")


def test_keyboard_actions(project, model):
    f0, f1, _ = model.frames
    assert key(model, "n") == "next frame" and model.frame == f1
    assert key(model, "ArrowLeft") == "previous frame" and model.frame == f0
    assert key(model, ".") == "next bodypart" and model.selected == "leftear"
    assert key(model, "ArrowUp") == "previous bodypart" and model.selected == "snout"
    model.place(7.0, 8.0, "snout")
    model.select("snout")
    assert key(model, "x") == "delete point"
    assert is_nan(on_disk(project, f0, "snout"))
    assert key(model, "Z") == "undo"  # letters are case-insensitive
    assert on_disk(project, f0, "snout") == (7.0, 8.0)
    assert key(model, "z", metaKey=True, shiftKey=True) == "redo"
    assert is_nan(on_disk(project, f0, "snout"))
    assert key(model, "v") == "not visible"
    # zoom and pan belong to the view; unknown keys and key-up do nothing
    assert key_action({"type": "keydown", "key": "r"}) == "reset zoom"
    assert key(model, "r") is None and key(model, "m") is None
    assert key(model, "q") is None
    assert model.handle_key({"type": "keyup", "key": "n"}) is None
    assert model.frame == f0


def test_browser_points_protocol(project, model):
    """Apply what the browser sends back: a click, its duplicate, an echo, a drag.

    A click is a '?' row; a delete is a missing row.
    """
    f0, f1 = model.frames[:2]
    table = shown(model)
    assert table["bodypart"] == [f"{ANCHOR}1"] and np.isnan(table["x"][0])
    click = {k: list(v) for k, v in table.items()}
    click["x"].append(20.0)
    click["y"].append(30.0)
    click["bodypart"].append("?")
    model.receive_points(click)
    model.receive_points(click)  # jupyter_bokeh delivers each change twice
    assert on_disk(project, f0, "snout") == (20.0, 30.0)
    assert model.selected == "leftear"
    table = shown(model)  # Python's answer: the point named, a new version
    assert table["bodypart"] == ["snout", f"{ANCHOR}2"]
    model.receive_points(table)  # the echo changes nothing
    assert model.store.labelled_frames() == [f0]
    assert not model.can_redo and model.store.can_undo
    drag = shown(model)
    drag["x"][0], drag["y"][0] = 25.5, 31.0
    model.receive_points(drag)
    assert on_disk(project, f0, "snout") == (25.5, 31.0)
    old = shown(model)
    model.next_frame()
    late = {
        k: [*v[:-1], 9.0 if k != "bodypart" else "?", v[-1]] for k, v in old.items()
    }
    late["y"][-2] = 9.5
    model.receive_points(late)  # a click made on frame 0 just before the switch
    assert model.store.point(f0, "leftear") == (9.0, 9.5)
    assert not model.store.is_labelled(f1)
    model.previous_frame()
    gone = shown(model)
    i = gone["bodypart"].index("snout")
    model.receive_points({k: v[:i] + v[i + 1 :] for k, v in gone.items()})
    assert is_nan(on_disk(project, f0, "snout"))
    assert model.store.point(f0, "leftear") == (9.0, 9.5)
    model.receive_points({"x": [1.0]})  # malformed: logged, ignored
    assert model.store.point(f0, "leftear") == (9.0, 9.5)


def test_events_tell_a_view_what_changed(model):
    seen: list[str] = []
    for event in EVENTS:
        model.on(event, lambda e=event: seen.append(e))
    model.next_frame()
    assert seen == ["frame", "points"]
    seen.clear()
    model.select("neck")
    assert seen == ["status"]
    seen.clear()
    model.place(1.0, 1.0)
    assert seen == ["points"]
    seen.clear()
    model.refresh_frames()
    assert seen[:2] == ["videos", "frames"] and "frame" in seen
    with pytest.raises(ValueError, match="unknown event"):
        model.on("zoom", print)
    handler = seen.append
    model.on("status", handler)
    model.off("status", handler)
    seen.clear()
    model.select("snout")
    assert seen == ["status"]  # only the first listener


def test_two_models_on_one_file_merge_and_warn(project):
    a, b = LabelerModel(project), LabelerModel(project)
    f0 = a.frame
    a.place(10.0, 10.0, "snout")
    b.place(30.0, 30.0, "neck")  # B never saw A's point
    assert b.message_level == "warning" and "another labeller" in b.message
    assert on_disk(project, f0, "snout") == (10.0, 10.0)
    assert on_disk(project, f0, "neck") == (30.0, 30.0)
    a.next_frame()
    a.previous_frame()  # a frame switch pulls B's point in
    assert a.store.point(f0, "neck") == (30.0, 30.0)


def test_bad_label_file_and_no_frames(project, tmp_path):
    store = LabelStore(project, "session1")
    store.set_point(store.frames[0], "snout", 1.0, 1.0)
    df = read_labels(store.path)
    df[("posekit", "whisker", "x")] = 3.0
    df[("posekit", "whisker", "y")] = 3.0
    write_labels(df, store.path)
    model = LabelerModel(project)
    assert model.store is None and model.video is None
    assert model.message_level == "error" and "whisker" in model.message
    model.place(5.0, 5.0)  # nothing to write to
    assert read_labels(store.path)[("posekit", "whisker", "x")].iloc[0] == 3.0

    empty = make_demo_project(tmp_path / "e", n_frames=10, n_labeled=0, size=(64, 48))
    model = LabelerModel(empty)
    assert model.frames == [] and model.frame == ""
    assert "No extracted frames" in model.message
    assert key(model, "n") == "next frame"  # harmless
    extract_frames(empty, empty.videos()[0], indices=[3])
    model.refresh_frames()
    assert model.known_videos == ["session1"]
    assert model.frames == ["labeled-data/session1/img3.png"]


def test_model_imports_no_widget_library():
    """The model module imports neither Bokeh nor ipywidgets (nor any view)."""
    import ast
    from pathlib import Path

    import posekit.widgets.labeler_model as module
    import posekit.widgets.labeler_multianimal as mixin

    def imports(mod) -> list[str]:
        tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
        out = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                out.append("." * node.level + (node.module or ""))
        return out

    imported = imports(module)
    assert "..engine.labels" in imported
    widget_libs = ("bokeh", "ipywidgets", "jupyter_bokeh", "ipyevents", "traitlets")
    assert not [m for m in imported if m.split(".")[0] in widget_libs]
    # the only sibling is the multi-animal part of the model, itself widget-free
    siblings = [m for m in imported if m.startswith(".") and not m.startswith("..")]
    assert siblings == [".labeler_multianimal"]
    mixed = imports(mixin)
    assert not [m for m in mixed if m.split(".")[0] in widget_libs]
    assert not [m for m in mixed if m.startswith(".") and not m.startswith("..")]


def test_jump_to_a_frame_by_its_name_or_number(model):
    """The jump box's logic: a file name, its stem, its number or its path."""
    f0, f14, f29 = model.frames
    assert model.find_frame("img14.png") == f14
    assert model.find_frame(" IMG29 ") == f29
    assert model.find_frame("labeled-data/session1/img00.png") == f0
    assert model.find_frame("14") == f14 and model.find_frame("0") == f0
    assert model.jump("29") == f29 and model.frame == f29
    assert model.jump("15") is None and model.frame == f29  # no such frame: stays
    assert model.message_level == "warning"
    assert model.message == (
        "No frame '15' in session1: its 3 frames go from img00.png to img29.png."
    )
    assert model.jump("img14.png") == f14 and model.message == ""
    with pytest.raises(ValueError, match="Type a frame's file name"):
        model.find_frame("  ")


def test_only_folders_with_frames_or_of_known_videos_are_offered(project):
    """An empty labeled-data/ folder of no known video is a leftover, not a video."""
    labeled = project.path / "labeled-data"
    (labeled / "stray").mkdir()
    (labeled / "session1_labeled").mkdir(exist_ok=True)  # check-labels output
    assert LabelerModel(project).known_videos == ["session1"]
    clip = labeled / "clip"
    clip.mkdir()
    (clip / "img001.png").write_bytes((labeled / "session1" / "img00.png").read_bytes())
    assert LabelerModel(project).known_videos == ["clip", "session1"]


def test_csv_that_disagrees_with_the_h5_is_said_and_kept(project):
    """The .h5 wins, as in DeepLabCut, but not silently; the .csv is backed up."""
    store = LabelStore(project, "session1")
    f0 = store.frames[0]
    store.set_point(f0, "snout", 10.0, 20.0)
    csv = store.path.with_suffix(".csv")
    edited = read_labels(csv)
    edited.loc[tuple(f0.split("/")), ("posekit", "snout", "x")] = 99.0
    edited.to_csv(csv)  # edited by hand in a spreadsheet
    hand = csv.read_bytes()
    model = LabelerModel(project)
    assert model.store.point(f0, "snout") == (10.0, 20.0)  # the .h5
    assert model.message_level == "warning"
    assert f"{csv} disagrees with CollectedData_posekit.h5" in model.message
    assert "1 frame(s) with other points (img00.png)" in model.message
    assert "The labels of CollectedData_posekit.h5 are used" in model.message
    model.place(11.0, 21.0, "neck")  # the save rewrites the .csv from memory ...
    (backup,) = (store.folder / ".posekit" / "conflicts").glob("*.csv")
    assert backup.read_bytes() == hand  # ... after keeping the hand-edited one
    assert read_labels(csv).loc[tuple(f0.split("/")), ("posekit", "snout", "x")] == 10
