"""Labeler driven headlessly, as the browser would.

Bokeh data changes are delivered through jupyter_bokeh's own message handler, with
key events from the page and widget traits. Labels are checked in memory and in the h5 on
disk.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bokeh.core.serialization import Serializer

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.video import extract_frames
from posekit.widgets.labeler import ANCHOR, Labeler

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


@pytest.fixture
def project(tmp_path):
    """Demo project (160x120 video), 3 extracted frames, no labels yet."""
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


@pytest.fixture
def lab(project):
    return Labeler(project, load_bokehjs=False)


# ---------------------------------------------------------------- browser stand-ins
def browser_sends(lab: Labeler, data: dict) -> None:
    """Deliver ``points_source.data = data`` exactly as jupyter_bokeh does.

    That is a browser edit serialised by Bokeh, applied by
    ``BokehModel._sync_model``, which calls the Python callbacks twice.
    """
    content = {
        "event": "jsevent",
        "kind": "ModelChanged",
        "model": {"id": lab.points_source.id},
        "attr": "data",
        "new": Serializer(deferred=False).encode(data),
    }
    lab.bokeh_model._sync_model(lab.bokeh_model, content, [])


def shown(lab: Labeler) -> dict:
    """Return the points data as the browser holds it after Python's last update."""
    return {k: list(v) for k, v in lab.points_source.data.items()}


def click(lab: Labeler, x: float, y: float, data: dict | None = None) -> dict:
    """PointDrawTool adds a row with bodypart '?' where the user clicked."""
    data = shown(lab) if data is None else data
    data = {k: list(v) for k, v in data.items()}
    data["x"].append(x)
    data["y"].append(y)
    for k in data:  # PointDrawTool pads the other columns with its empty_value
        if k not in ("x", "y"):
            data[k].append("?")
    browser_sends(lab, data)
    return data


def drag(lab: Labeler, bodypart: str, x: float, y: float) -> None:
    data = shown(lab)
    i = data["bodypart"].index(bodypart)
    data["x"][i], data["y"][i] = x, y
    browser_sends(lab, data)


def backspace(lab: Labeler, bodypart: str) -> None:
    """PointDrawTool deletes the selected row (tap + Backspace)."""
    data = shown(lab)
    i = data["bodypart"].index(bodypart)
    browser_sends(lab, {k: v[:i] + v[i + 1 :] for k, v in data.items()})


def key(lab: Labeler, name: str, **mods) -> str | None:
    return lab.handle_key({"type": "keydown", "key": name, **mods})


def on_disk(lab: Labeler, frame: str, bp: str) -> tuple[float, float]:
    df = pd.read_hdf(lab.store.path, "df_with_missing")
    row = df.loc[tuple(frame.split("/"))]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def is_nan(xy) -> bool:
    return all(math.isnan(v) for v in xy)


# ---------------------------------------------------------------- tests
def test_click_places_selected_and_selects_next(lab):
    f0 = lab.frame
    assert lab.selected == "snout"
    click(lab, 10.0, 20.0)
    assert on_disk(lab, f0, "snout") == (10.0, 20.0)
    assert lab.selected == "leftear"
    # the data Python sent back names the point, plus the invisible version row
    data = shown(lab)
    assert data["bodypart"][0] == "snout" and data["bodypart"][-1].startswith(ANCHOR)
    click(lab, 30.5, 40.25)
    assert on_disk(lab, f0, "leftear") == (30.5, 40.25)
    assert lab.selected == "rightear"
    # clicking with a labelled bodypart selected moves it
    lab.select("snout")
    click(lab, 11.0, 21.0)
    assert on_disk(lab, f0, "snout") == (11.0, 21.0)
    assert lab.selected == "rightear"  # next unlabelled after snout
    assert "2 of 6 bodyparts" in lab.status.value
    assert "1 of 3 frames labelled" in lab.status.value


def test_fast_clicks_before_python_answered(lab):
    stale = shown(lab)
    first = click(lab, 5.0, 5.0, stale)  # browser has not got Python's answer yet
    click(lab, 6.0, 6.0, first)  # so the second click still has the first as '?'
    assert lab.store.point(lab.frame, "snout") == (5.0, 5.0)
    assert lab.store.point(lab.frame, "leftear") == (6.0, 6.0)
    assert is_nan(lab.store.point(lab.frame, "rightear"))
    assert lab.selected == "rightear"


def test_echo_and_stale_edits_never_land_on_another_frame(lab):
    f0, f1 = lab.frames[:2]
    click(lab, 10.0, 10.0)
    old = shown(lab)  # what the browser shows of frame 0
    key(lab, "n")
    assert lab.frame == f1
    browser_sends(lab, old)  # late echo of frame 0's data
    assert lab.store.is_labelled(f1) is False
    # a click the user made on frame 0 just before the switch arrives late:
    click(lab, 20.0, 25.0, old)
    assert lab.store.point(f0, "leftear") == (20.0, 25.0)
    assert not lab.store.is_labelled(f1)
    assert on_disk(lab, f0, "leftear") == (20.0, 25.0)


def test_drag_delete_and_not_visible(lab):
    f0 = lab.frame
    click(lab, 10.0, 10.0)
    click(lab, 20.0, 20.0)
    drag(lab, "snout", 15.5, 12.0)
    assert on_disk(lab, f0, "snout") == (15.5, 12.0)
    assert on_disk(lab, f0, "leftear") == (20.0, 20.0)
    backspace(lab, "leftear")
    assert is_nan(on_disk(lab, f0, "leftear"))
    assert lab.store.point(f0, "snout") == (15.5, 12.0)
    lab.select("snout")
    lab.delete_button.click()
    assert is_nan(on_disk(lab, f0, "snout"))
    lab.select("rightear")
    lab.hide_button.click()  # "not visible": NaN and on to the next bodypart
    assert lab.selected == "neck"
    assert "rightear (not visible)" in lab.bodypart_buttons[2].description
    click(lab, 1.0, 2.0)
    assert on_disk(lab, f0, "neck") == (1.0, 2.0)
    assert lab.selected == "spine"  # skips rightear (not visible)


def test_undo_redo_buttons_and_keys(lab):
    f0, f1 = lab.frames[:2]
    click(lab, 10.0, 10.0)
    drag(lab, "snout", 50.0, 50.0)
    lab.undo_button.click()
    assert on_disk(lab, f0, "snout") == (10.0, 10.0)
    lab.redo_button.click()
    assert on_disk(lab, f0, "snout") == (50.0, 50.0)
    assert key(lab, "z", ctrlKey=True) == "undo"
    assert on_disk(lab, f0, "snout") == (10.0, 10.0)
    assert key(lab, "y", ctrlKey=True) == "redo"
    assert on_disk(lab, f0, "snout") == (50.0, 50.0)
    assert key(lab, "z", metaKey=True, shiftKey=True) == "redo"  # nothing left
    # undo of a change made on another frame goes to that frame
    key(lab, "ArrowRight")
    assert lab.frame == f1
    key(lab, "z")
    assert lab.frame == f0
    assert on_disk(lab, f0, "snout") == (10.0, 10.0)
    assert [p for p in shown(lab)["bodypart"] if p in BPS] == ["snout"]


def test_keyboard_navigation(lab):
    f0, f1, f2 = lab.frames
    assert key(lab, "n") == "next frame" and lab.frame == f1
    assert key(lab, "ArrowRight") == "next frame" and lab.frame == f2
    assert key(lab, "ArrowRight") == "next frame" and lab.frame == f2  # stays at end
    assert key(lab, "p") == "previous frame" and lab.frame == f1
    assert key(lab, "ArrowLeft") == "previous frame" and lab.frame == f0
    assert lab.frame_slider.value == 1
    assert key(lab, "ArrowDown") == "next bodypart" and lab.selected == "leftear"
    assert key(lab, ".") == "next bodypart" and lab.selected == "rightear"
    assert key(lab, "ArrowUp") == "previous bodypart" and lab.selected == "leftear"
    lab.place(3.0, 4.0)  # leftear
    lab.select("leftear")
    assert key(lab, "Delete") == "delete point"
    assert is_nan(on_disk(lab, f0, "leftear"))
    assert key(lab, "V") == "not visible"  # letters are case-insensitive
    assert (f0, "leftear") in lab.not_visible
    assert key(lab, "m") == "label / pan mode"
    assert lab.figure.toolbar.active_drag is lab.pan_tool
    assert "mode: pan" in lab.status.value
    key(lab, "m")
    assert lab.figure.toolbar.active_drag is lab.draw_tool
    lab.x_range.update(start=10, end=50)
    assert key(lab, "r") == "reset zoom"
    assert (lab.x_range.start, lab.x_range.end) == (-0.5, 159.5)
    assert key(lab, "q") is None
    assert lab.handle_key({"type": "keyup", "key": "n"}) is None
    assert lab.frame == f0


def test_frame_image_sent_as_jpeg_with_exact_coordinates(lab, project):
    data = lab.image_source.data
    assert data["url"][0].startswith("data:image/jpeg;base64,")
    glyphs = {type(r.glyph).__name__ for r in lab.figure.renderers}
    assert "ImageURL" in glyphs and not glyphs & {"ImageRGBA", "Image"}
    assert (data["x"][0], data["y"][0], data["w"][0], data["h"][0]) == (
        -0.5,
        -0.5,
        160,
        120,
    )
    assert lab.image_size == (160, 120)
    # flipped y axis, pixel centres at integers, no border: 1 image px = scale css px
    assert (lab.y_range.start, lab.y_range.end) == (119.5, -0.5)
    assert (lab.x_range.start, lab.x_range.end) == (-0.5, 159.5)
    assert lab.figure.min_border == 0
    assert lab.figure.frame_width == 480 and lab.figure.frame_height == 360
    assert lab.scale == 3.0
    other = Labeler(project, load_bokehjs=False, display_width=160, image_format="png")
    assert other.figure.frame_width == 160
    assert other.image_source.data["url"][0].startswith("data:image/png;base64,")
    orig = Labeler(project, load_bokehjs=False, image_format="original")
    assert orig.image_source.data["url"][0].startswith("data:image/png;base64,")
    assert orig.image_size == (160, 120)


def test_slider_buttons_and_controls(lab):
    f1 = lab.frames[1]
    lab.frame_slider.value = 2  # the slider counts from 1
    assert lab.frame == f1 and "frame 2 of 3" in lab.status.value
    lab.next_button.click()
    assert lab.frame_index == 2
    lab.prev_button.click()
    assert lab.frame == f1
    lab.bodypart_buttons[3].click()
    assert lab.selected == "neck"
    assert lab.bodypart_buttons[3].description.startswith("▶ neck")
    lab.dotsize_slider.value = 15
    assert lab.points_renderer.glyph.size == 15
    lab.alpha_slider.value = 0.3
    assert lab.points_renderer.glyph.fill_alpha == 0.3
    lab.names_checkbox.value = False
    assert lab.names.visible is False


def test_float_sliders_keep_the_value_of_their_step(lab, project):
    """The Opacity slider's value came back as 0.7000000000000002 from the browser.

    The browser computes ``min + k × step`` in floating point; the value, the
    markers' alpha and the saved ``alphavalue`` carried the error.
    """
    from posekit.engine.project import load_project

    assert lab.alpha_slider.readout_format == ".2f"
    assert lab.contrast_slider.readout_format == ".1f"
    lab.alpha_slider.value = 0.05 + 13 * 0.05  # as the browser sends 0.7
    assert lab.alpha_slider.value == 0.7
    assert lab.points_renderer.glyph.fill_alpha == 0.7
    assert load_project(project.path).get("alphavalue") == 0.7
    lab.contrast_slider.value = 0.3 + 4 * 0.1  # 0.7000000000000001
    assert lab.contrast_slider.value == 0.7 and lab.contrast == 0.7


def test_opening_keeps_labels_on_disk_and_live_widget_state(project):
    from posekit.engine.labels import LabelStore

    store = LabelStore(project, "session1")
    f0, f1, _ = store.frames
    store.set_point(f1, "tailbase", 70.0, 80.0)
    ghost = "labeled-data/session1/img77.png"  # a row whose image is gone
    store.set_point(ghost, "snout", 1.0, 1.0)
    lab = Labeler(project, load_bokehjs=False)
    assert ghost in lab.frames
    lab.goto(f1)
    assert [b for b in shown(lab)["bodypart"] if b in BPS] == ["tailbase"]
    assert lab.selected == "snout"  # first unlabelled
    click(lab, 5.0, 6.0)
    df = read_labels(lab.store.path)
    assert len(df) == 2 and on_disk(lab, f1, "tailbase") == (70.0, 80.0)
    assert on_disk(lab, ghost, "snout") == (1.0, 1.0)
    lab.goto(ghost)
    assert "missing" in lab.message.value
    assert lab.image_source.data["url"][0].startswith("data:image/jpeg")
    assert [b for b in shown(lab)["bodypart"] if b in BPS] == ["snout"]
    # a view created now (page load, second display) starts from the current frame
    state = lab.bokeh_model.get_state()
    assert lab.image_source.data["url"][0][:200] in state["render_bundle"]


def test_two_labellers_on_one_file_warn_and_keep_both(project):
    a = Labeler(project, load_bokehjs=False)
    b = Labeler(project, load_bokehjs=False)
    f0 = a.frame
    click(a, 10.0, 10.0)  # snout in tab A
    b.select("neck")
    click(b, 30.0, 30.0)  # neck in tab B, which never saw A's click
    assert "another labeller" in b.message.value
    assert "labeler-warning" in b.message.value
    assert on_disk(b, f0, "snout") == (10.0, 10.0)
    assert on_disk(b, f0, "neck") == (30.0, 30.0)
    assert [p for p in shown(b)["bodypart"] if p in BPS] == ["snout", "neck"]
    # switching frames in A pulls B's click in
    a.next_button.click()
    a.prev_button.click()
    assert a.store.point(f0, "neck") == (30.0, 30.0)


def test_label_file_with_unknown_bodypart_is_refused_visibly(project):
    from posekit.engine.labels import LabelStore

    store = LabelStore(project, "session1")
    store.set_point(store.frames[0], "snout", 1.0, 1.0)
    df = read_labels(store.path)
    df[("posekit", "whisker", "x")] = 3.0
    df[("posekit", "whisker", "y")] = 3.0
    write_labels(df, store.path)
    before = store.path.read_bytes()
    lab = Labeler(project, load_bokehjs=False)
    assert lab.store is None
    assert "whisker" in lab.message.value and "labeler-error" in lab.message.value
    lab.place(5.0, 5.0)  # no-op, nothing written
    assert store.path.read_bytes() == before


def test_project_without_frames(tmp_path):
    project = make_demo_project(tmp_path, n_frames=10, n_labeled=0, size=(64, 48))
    lab = Labeler(project, load_bokehjs=False)
    assert lab.store is None and lab.frames == []
    assert "No extracted frames" in lab.message.value
    assert key(lab, "n") == "next frame"  # harmless
    extract_frames(project, project.videos()[0], indices=[3])
    lab.refresh_frames()
    assert lab.frames == ["labeled-data/session1/img3.png"]
    assert lab.image_size == (64, 48)
    np.testing.assert_equal(lab.store.get(0), np.full((6, 2), np.nan))


def test_display_sends_the_current_document(lab, monkeypatch):
    """JupyterLab makes a view only at display: the state it starts from is current."""
    sent = []
    monkeypatch.setattr(
        lab.bokeh_model, "_send", lambda msg, buffers=None: sent.append(msg)
    )
    lab.goto(2)
    lab.widget._repr_mimebundle_()
    bundles = [m["state"]["render_bundle"] for m in sent if "state" in m]
    assert bundles and lab.image_source.data["url"][0][:300] in bundles[-1]


def test_jump_box_goes_to_a_frame_by_name(lab):
    """Type a file name or number, press Enter: that frame; a wrong one is said."""
    f0, _, f29 = lab.frames
    # QA s17 #7: the hint names this project's frames (2 digits here), not img0042
    assert lab.jump_box.placeholder == "go to: img14.png or 14"
    lab.jump_box.value = "img29.png"  # continuous_update=False: sent on Enter
    assert lab.frame == f29 and "frame 3 of 3" in lab.status.value
    assert lab.frame_slider.value == 3 and lab.jump_box.value == ""
    lab.jump_box.value = "0"
    assert lab.frame == f0 and "img00.png" in lab.status.value
    lab.jump_box.value = "img99"
    assert lab.frame == f0
    assert "No frame &#x27;img99&#x27; in session1" in lab.message.value
    assert "labeler-warning" in lab.message.value


def test_names_that_would_overlap_are_left_out(lab):
    """QA s17 #7: "Show names" on a 30-px animal wrote an unreadable clump."""
    assert lab.names.text == "name" and lab.model.name_scale == lab.scale
    spots = {"snout": (60, 50), "leftear": (62, 52), "rightear": (62, 47),
             "neck": (65, 50), "spine": (70, 51), "tailbase": (60, 90)}  # fmt: skip
    for bp, (x, y) in spots.items():
        lab.model.place(float(x), float(y), bp)
    data = lab.points_source.data
    shown = dict(zip(data["bodypart"], data["name"], strict=True))
    assert shown["snout"] == "snout" and shown["tailbase"] == "tailbase"  # room
    assert shown["leftear"] == shown["rightear"] == shown["neck"] == ""  # crowded
    # room enough (a larger animal): every name
    lab.model.place(140.0, 10.0, "leftear")
    lab.model.place(20.0, 110.0, "rightear")
    assert "leftear" in lab.points_source.data["name"]
    assert "rightear" in lab.points_source.data["name"]


def test_the_jump_hint_names_the_frames_of_the_video_shown(lab):
    with pytest.raises(ValueError, match=r"\(img14.png or 14\)"):
        lab.model.find_frame(" ")
