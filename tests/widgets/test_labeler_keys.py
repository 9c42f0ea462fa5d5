"""The labeller view's page-side parts, driven headlessly as the browser would.

Keys reach Python through the key source the page writes (any focus in the app), the
frames around the current one are prefetched (image + points with their own anchor
version, so an edit made on a prefetched frame lands on that frame), brightness and
contrast re-encode the image, machine points are drawn hollow, "not visible" is
drawn on the canvas and the project's progress is shown.
"""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pandas as pd
import pytest
from bokeh.core.serialization import Serializer

from posekit.engine.demo import make_demo_project
from posekit.engine.refinement import write_machine_labels
from posekit.engine.video import extract_frames
from posekit.widgets.labeler import KEYS_JS, PREFETCH, Labeler

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


@pytest.fixture
def project(tmp_path):
    project = make_demo_project(tmp_path, n_frames=60, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=6)
    return project


@pytest.fixture
def lab(project):
    return Labeler(project, load_bokehjs=False)


def browser_sets(lab, source, data) -> None:
    """Deliver ``source.data = data`` as jupyter_bokeh does for a browser change."""
    content = {
        "event": "jsevent",
        "kind": "ModelChanged",
        "model": {"id": source.id},
        "attr": "data",
        "new": Serializer(deferred=False).encode(data),
    }
    lab.bokeh_model._sync_model(lab.bokeh_model, content, [])


_seq = iter(range(1, 10_000))


def page_key(lab, key, *, shown=-1, shift=False, ctrl=False) -> None:
    """Write into the key source what KEYS_JS writes after a key press."""
    browser_sets(
        lab,
        lab.key_source,
        {"key": [key], "ctrl": [ctrl], "shift": [shift], "seq": [next(_seq)],
         "shown": [shown], "index": [lab.frame_index]},
    )  # fmt: skip


def prefetched(lab) -> dict[int, dict]:
    d = lab.prefetch_source.data
    return {int(i): {k: d[k][j] for k in d} for j, i in enumerate(d["index"])}


def fast_switch(lab, index) -> dict:
    """Do what KEYS_JS does for "next frame" when the frame is prefetched."""
    row = prefetched(lab)[index]
    browser_sets(
        lab,
        lab.image_source,
        {"url": [row["url"]], "x": [-0.5], "y": [-0.5], "w": [row["w"]],
         "h": [row["h"]], "v": [row["v"]], "frame": [row["frame"]]},
    )  # fmt: skip
    pts = json.loads(row["points"])
    pts["x"] = [np.nan if v is None else v for v in pts["x"]]
    pts["y"] = [np.nan if v is None else v for v in pts["y"]]
    browser_sets(lab, lab.points_source, pts)
    return pts


def on_disk(project, frame, bp):
    df = pd.read_hdf(
        project.path / "labeled-data/session1/CollectedData_posekit.h5",
        "df_with_missing",
    )
    row = df.loc[tuple(frame.split("/"))]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def test_keys_from_the_page_and_the_handler_installed(lab):
    f0, f1, f2 = lab.frames[:3]
    page_key(lab, "n")
    assert lab.frame == f1
    page_key(lab, "ArrowLeft")
    assert lab.frame == f0
    page_key(lab, ".")
    assert lab.selected == "leftear"
    page_key(lab, "z", ctrl=True)  # nothing to undo: said, nothing else
    assert lab.frame == f0
    # installed when the document is ready, and on the first navigation update
    doc = lab.figure.document
    ready = doc.callbacks._js_event_callbacks["document_ready"]
    assert ready[0].code == KEYS_JS
    assert lab.nav_source.js_property_callbacks["change:data"][0].code == KEYS_JS
    for name in ("prefetch", "nav", "keys"):
        assert doc.get_model_by_name(f"posekit-labeler-{name}") is not None
    shortcuts = json.loads(lab.nav_source.data["shortcuts"][0])
    assert shortcuts["n"] == "next frame" and shortcuts["a"] == "accept frame"
    assert lab.nav_source.data["index"] == [0]


def test_neighbours_prefetched_and_a_fast_switch_is_confirmed(lab, project):
    rows = prefetched(lab)
    assert sorted(rows) == [1, 2]  # frame 0: +1, +2 (and the next to do is 1)
    lab.goto(3)
    rows = prefetched(lab)
    assert sorted(rows) == sorted(3 + d for d in PREFETCH)
    row = rows[4]
    assert row["frame"] == lab.frames[4]
    jpeg = base64.b64decode(row["url"].split(",", 1)[1])
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (120, 160, 3) and (row["w"], row["h"]) == (160, 120)
    # the page shows frame 4 from the prefetch, then tells Python
    pts = fast_switch(lab, 4)
    sent_before = lab.image_source.data["v"][0]
    page_key(lab, "n", shown=4)
    assert lab.frame == lab.frames[4]
    assert lab.image_source.data["v"][0] == sent_before  # not sent again
    assert lab.nav_source.data["index"] == [4]
    # a click made on the prefetched table lands on frame 4, even if it arrives late
    lab.goto(1)
    late = dict(pts)
    late = {k: list(v) for k, v in late.items()}
    for k in late:
        late[k].append({"x": 12.0, "y": 13.0}.get(k, "?"))
    browser_sets(lab, lab.points_source, late)
    assert on_disk(project, lab.frames[4], "snout") == (12.0, 13.0)
    assert not lab.store.is_labelled(lab.frames[1])


def test_arrow_keys_nudge_after_a_click_and_nav_says_so(lab, project):
    f0 = lab.frame
    assert lab.nav_source.data["nudge"] == [False]
    lab.place(40.0, 50.0)
    assert lab.nav_source.data["nudge"] == [True]
    page_key(lab, "ArrowRight", shift=True)
    assert on_disk(project, f0, "snout") == (50.0, 50.0) and lab.frame == f0
    page_key(lab, "Escape")
    assert lab.nav_source.data["nudge"] == [False]
    page_key(lab, "ArrowRight")
    assert lab.frame == lab.frames[1]


def test_tap_on_a_point_makes_it_active(lab, project):
    f0 = lab.frame
    lab.place(40.0, 50.0, "neck")
    lab.place(60.0, 70.0, "snout")
    names = list(lab.points_source.data["bodypart"])
    lab.points_source.selected.indices = [names.index("neck")]
    assert lab.model.active == "neck"
    page_key(lab, "ArrowUp")
    assert on_disk(project, f0, "neck") == (40.0, 49.0)


def test_brightness_and_contrast_reencode_the_frame(lab):
    url = lab.image_source.data["url"][0]
    lab.brightness_slider.value = 60
    brighter = lab.image_source.data["url"][0]
    assert brighter != url
    decode = lambda u: cv2.imdecode(  # noqa: E731
        np.frombuffer(base64.b64decode(u.split(",", 1)[1]), np.uint8),
        cv2.IMREAD_GRAYSCALE,
    )
    assert decode(brighter).mean() > decode(url).mean() + 30
    assert prefetched(lab)[1]["url"] != url
    lab.contrast_slider.value = 2.0
    assert decode(lab.image_source.data["url"][0]).std() > decode(brighter).std()
    lab.brightness_slider.value = 0
    lab.contrast_slider.value = 1.0
    assert lab.image_source.data["url"][0] == url


def test_machine_points_hollow_not_visible_drawn_progress_shown(lab, project):
    f0, f1 = lab.frames[:2]
    xyp = np.zeros((1, len(BPS), 3))
    xyp[0, :, 0], xyp[0, :, 1], xyp[0, :, 2] = 30.0, 40.0, 0.2
    write_machine_labels(project, "session1", [f1], xyp, "DLC_x", BPS)
    lab.refresh_frames()
    fresh = Labeler(project, load_bokehjs=False)
    fresh.goto(f1)
    data = fresh.points_source.data
    assert set(data["fill"][:-1]) == {"machine"} and set(data["edge"][:-1]) == {"p-low"}
    mapper = fresh.points_renderer.glyph.fill_color.transform
    assert dict(zip(mapper.factors, mapper.palette, strict=True))["machine"].endswith(
        "0)"
    )  # transparent: hollow
    fresh.accept_button.click()
    assert on_disk(project, f1, "snout") == (30.0, 40.0)
    assert set(fresh.points_source.data["fill"][:-1]) == set(BPS)
    fresh.goto(f0)
    fresh.mark_not_visible("tailbase")
    assert fresh.hidden_label.text == "not visible: tailbase"
    assert "(not visible)" in fresh.bodypart_buttons[-1].description
    assert "1 of 6 frames done" in fresh.progress.value
    assert "1 of 6 frames done" in fresh.status.value
    fresh.goto(f0)
    assert fresh.hidden_label.text == "not visible: tailbase"
    fresh.goto(lab.frames[2])
    assert fresh.hidden_label.text == ""


def test_marker_sliders_remembered_in_the_project(lab, project):
    lab.dotsize_slider.value = 14
    lab.alpha_slider.value = 0.4
    from posekit.engine.project import load_project

    display = load_project(project.path).display
    assert (display.dotsize, display.alphavalue) == (14, 0.4)
    again = Labeler(project, load_bokehjs=False)
    assert again.points_renderer.glyph.size == 14
    assert again.points_renderer.glyph.fill_alpha == 0.4


def test_canvas_name_keyboard_placement_and_zoom_keys(lab):
    """QA s15 #1: a named image, `k` places, `+` / `-` zoom around the point.

    The name (for a screen reader) is kept up to date.
    """
    name = lab.nav_source.data["aria"][0]
    f0 = lab.frames[0].rsplit("/", 1)[1]
    assert f"frame {f0} (1 of 6), 0 of 6 bodyparts placed" in name
    assert "k or Enter places snout" in name
    page_key(lab, "k")
    assert lab.store.point(lab.frame, "snout") == (80.0, 60.0)  # image centre
    page_key(lab, "ArrowLeft", shift=True)  # the arrows move it now
    assert lab.store.point(lab.frame, "snout") == (70.0, 60.0)
    assert lab.nav_source.data["aria"][0].endswith(
        "1 of 6 bodyparts placed; arrows move snout at 70, 60"
    )
    assert "arrows move <b>snout</b>" in lab.status.value
    page_key(lab, "+")
    x0, x1 = lab.x_range.start, lab.x_range.end
    assert x1 - x0 == pytest.approx(160 / 1.5) and (x0 + x1) / 2 == pytest.approx(70)
    assert lab.y_range.start - lab.y_range.end == pytest.approx(120 / 1.5)
    assert (lab.y_range.start + lab.y_range.end) / 2 == pytest.approx(60)
    page_key(lab, "-")
    page_key(lab, "-")  # never past the whole image
    assert (lab.x_range.start, lab.x_range.end) == (-0.5, 159.5)
    assert (lab.y_range.start, lab.y_range.end) == (119.5, -0.5)


def test_status_follows_the_toolbar_tools(lab):
    """QA s15 #6: a tool toggled in Bokeh's toolbar shows in the status line.

    `m` then goes back to labelling through the page's tools.
    """
    assert "mode: label" in lab.status.value
    browser_sets(lab, lab.tool_source, {"mode": ["none"]})  # Point Draw switched off
    assert lab.mode == "none" and "mode: no tool" in lab.status.value
    page_key(lab, "m")
    assert lab.mode_source.data["want"] == ["label"] and lab.mode == "label"
    browser_sets(lab, lab.tool_source, {"mode": ["pan"]})  # Pan pressed
    assert "mode: pan" in lab.status.value
    page_key(lab, "m")
    assert lab.mode_source.data["want"] == ["label"]
    assert "mode: label" in lab.status.value
    page_key(lab, "m")
    assert lab.mode_source.data["want"] == ["pan"] and "mode: pan" in lab.status.value


def test_help_keys_messages_and_guess_likelihood_in_words(lab, project, tmp_path):
    """QA s15 #12, #14, #15: messages, guesses in words, the key list.

    Messages sit above the image, the network's guess says its likelihood in words,
    the key list has Backspace and no animal keys for a single-animal project (their
    keys are not caught either).
    """
    children = list(lab.widget.children)
    row = next(c for c in children if lab.bokeh_model in getattr(c, "children", ()))
    assert children.index(lab.message) < children.index(row)
    assert children.index(lab.status) < children.index(lab.message)
    assert "<b>Del / x / Backspace</b>" in lab.help.value
    assert "animal" not in lab.help.value
    caught = json.loads(lab.nav_source.data["shortcuts"][0])
    assert "Backspace" in caught and "i" not in caught and "w" not in caught
    assert "tab bar, slider" in lab.help.value  # which keys a control keeps
    # QA s18 #1: where the keys work in a JupyterLab notebook (x cut the cell)
    assert "JupyterLab notebook the keys act on the labeller while the pointer" in (
        lab.help.value
    )

    f1 = lab.frames[1]
    xyp = np.zeros((1, len(BPS), 3))
    xyp[0, :, 0], xyp[0, :, 1] = 30.0, 40.0
    xyp[0, :, 2] = [0.99, 0.7, 0.2, 0.99, 0.99, 0.99]
    write_machine_labels(project, "session1", [f1], xyp, "DLC_x", BPS)
    fresh = Labeler(project, load_bokehjs=False)
    fresh.goto(f1)
    snout, leftear, rightear = fresh.bodypart_buttons[:3]
    assert snout.description.endswith("snout · guess 0.99")
    assert "likelihood 0.70 (unsure)" in leftear.tooltip
    assert "likelihood 0.20 (below the p-cutoff)" in rightear.tooltip

    pair = make_demo_project(tmp_path / "ma", n_animals=2, n_frames=20, n_labeled=2)
    several = Labeler(pair, load_bokehjs=False)
    assert "next animal" in several.help.value
    assert "i" in json.loads(several.nav_source.data["shortcuts"][0])


def test_focus_goes_to_the_selected_bodypart(lab, monkeypatch):
    """QA s15 #9/#10: after a tab switch the apps put the focus in the labeller."""
    focused = []
    for b in lab.bodypart_buttons:
        monkeypatch.setattr(b, "focus", lambda b=b: focused.append(b.description))
    lab.select("neck")
    lab.focus()
    assert focused == ["▶ neck"]
