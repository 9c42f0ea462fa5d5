"""The ROI editor's view, headless.

Shapes arrive through the Bokeh data sources exactly as the drawing tools send them,
and the ROIs that come out give the engine's known entry frame and dwell on a
synthetic trajectory. The model alone: test_roi_editor_model.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.engine.behavior.roi import (
    CircleROI,
    LineROI,
    PolygonROI,
    RectangleROI,
    compute_roi_occupancy,
    load_rois,
    roi_bouts,
    roi_summary,
    save_rois,
)
from posekit.engine.poses import from_numpy
from posekit.widgets.roi_editor import ROIEditor, roi_description

FPS = 10.0
N = 60


def _trajectory() -> object:
    """One point moving right at 2 px/frame along y = 50: x(t) = 2 t + 1."""
    t = np.arange(N, dtype=float)
    pos = np.zeros((N, 2, 1, 1))
    pos[:, 0, 0, 0] = 2 * t + 1
    pos[:, 1, 0, 0] = 50.0
    return from_numpy(pos, fps=FPS)


def _box_drawn(editor: ROIEditor, x: float, y: float, w: float, h: float) -> None:
    """Send what BoxEditTool sends when a box is drawn.

    That is the old rows plus a new one whose other columns hold ``empty_value`` ("").
    """
    data = {k: list(v) for k, v in editor.rect_source.data.items()}
    for key, value in (("x", x), ("y", y), ("width", w), ("height", h), ("name", "")):
        data[key].append(value)
    editor.rect_source.data = data


@pytest.fixture
def editor() -> ROIEditor:
    return ROIEditor(size=(200, 100), load_bokehjs=False)


def test_square_drawn_gives_engine_entry_and_dwell(editor) -> None:
    seen: list[list] = []
    editor.on_change(seen.append)
    # a 20 x 20 square centred on (50, 50): x 40–60, y 40–60
    _box_drawn(editor, 50.0, 50.0, 20.0, 20.0)
    assert editor.rois == [RectangleROI("roi1", 40.0, 40.0, 60.0, 60.0)]
    assert list(editor.rect_source.data["name"]) == ["roi1"]  # written back
    assert list(editor.label_source.data["text"]) == ["roi1"]
    assert len(seen) == 1 and seen[0] == editor.rois
    assert editor.roi_list.options == (
        ("roi1: rectangle x 40.0–60.0, y 40.0–60.0", "roi1"),
    )

    # x(t) = 2t + 1 is inside for 40 <= x <= 60: frames 20..29
    occ = compute_roi_occupancy(_trajectory(), editor.rois)
    row = roi_summary(occ, fps=FPS).iloc[0]
    assert row["latency"] == 20 and row["latency_s"] == pytest.approx(2.0)
    assert row["entries"] == 1 and row["exits"] == 1
    assert row["frames_inside"] == 10 and row["time_inside_s"] == pytest.approx(1.0)
    bouts = roi_bouts(occ, fps=FPS)
    assert bouts[["roi", "start", "end", "duration"]].values.tolist() == [
        ["roi1", 20, 29, 10]
    ]


def test_echoes_change_nothing(editor) -> None:
    calls: list[int] = []
    editor.on_change(lambda rois: calls.append(len(rois)))
    _box_drawn(editor, 50.0, 50.0, 20.0, 20.0)
    echo = {k: list(v) for k, v in editor.rect_source.data.items()}
    # the browser sends the same data again (twice), with and without the name
    editor.rect_source.data = dict(echo)
    editor.rect_source.data = {**echo, "name": [""]}
    assert editor.names == ["roi1"] and calls == [1]


def test_box_drawn_right_to_left_and_moved(editor) -> None:
    _box_drawn(editor, 50.0, 50.0, -20.0, 20.0)  # negative width: same box
    assert editor.get("roi1") == RectangleROI("roi1", 40.0, 40.0, 60.0, 60.0)
    # a drag moves the row: the name stays, the geometry follows
    data = {k: list(v) for k, v in editor.rect_source.data.items()}
    data["x"], data["y"] = [150.0], [30.0]
    editor.rect_source.data = data
    assert editor.rois == [RectangleROI("roi1", 140.0, 20.0, 160.0, 40.0)]
    # a second box gets the next name; deleting a row (Backspace) deletes the ROI
    _box_drawn(editor, 20.0, 20.0, 10.0, 10.0)
    assert editor.names == ["roi1", "roi2"]
    data = {k: list(v)[1:] for k, v in editor.rect_source.data.items()}
    editor.rect_source.data = data
    assert editor.names == ["roi2"]
    assert editor.get("roi2") == RectangleROI("roi2", 15.0, 15.0, 25.0, 25.0)


def test_box_in_circle_mode_becomes_inscribed_circle(editor) -> None:
    editor.shape_toggle.value = "circle"
    _box_drawn(editor, 100.0, 50.0, 30.0, 20.0)
    assert editor.rois == [CircleROI("roi1", 100.0, 50.0, 10.0)]
    assert list(editor.rect_source.data["x"]) == []  # the box itself is gone
    assert list(editor.circle_source.data["radius"]) == [10.0]
    # a second echo of the same box does not add a second circle
    editor.rect_source.data = {
        "x": [100.0], "y": [50.0], "width": [30.0], "height": [20.0], "name": [""]
    }  # fmt: skip
    assert len(editor) == 1
    # the point-draw tool drags the circle's centre
    editor.circle_source.data = {
        "x": [101.0], "y": [50.0], "radius": [10.0], "name": ["roi1"]
    }  # fmt: skip
    assert editor.rois == [CircleROI("roi1", 101.0, 50.0, 10.0)]
    # on y = 50 the disc spans x 91..111: 2t + 1 there for t = 45..55
    row = roi_summary(compute_roi_occupancy(_trajectory(), editor.rois)).iloc[0]
    assert row["latency"] == 45 and row["frames_inside"] == 11


def test_polygon_drawn_and_edited(editor) -> None:
    # PolyDrawTool: the row grows vertex by vertex; the last vertex follows the cursor
    editor.poly_source.data = {"xs": [[40.0, 60.0]], "ys": [[40.0, 40.0]], "name": [""]}
    assert editor.names == []  # two vertices: not a polygon yet
    editor.poly_source.data = {
        "xs": [[40.0, 60.0, 50.0, 50.0]], "ys": [[40.0, 40.0, 60.0, 60.0]],
        "name": [""],
    }  # fmt: skip
    assert editor.rois == [PolygonROI("roi1", ((40, 40), (60, 40), (50, 60)))]
    # the polygon source is not written back while it is being drawn
    assert list(editor.poly_source.data["name"]) == [""]
    assert list(editor.label_source.data["text"]) == ["roi1"]
    # PolyEditTool moves a vertex: same name
    editor.poly_source.data = {
        "xs": [[40.0, 60.0, 50.0]], "ys": [[40.0, 40.0, 70.0]], "name": [""]
    }  # fmt: skip
    assert editor.rois == [PolygonROI("roi1", ((40, 40), (60, 40), (50, 70)))]
    # a horizontal line through the triangle at y = 50 enters at x = 45 (frame 22)
    occ = compute_roi_occupancy(_trajectory(), editor.rois)
    row = roi_summary(occ).iloc[0]
    # edges at y=50: x from 40 + 10*(10/30) = 43.33 to 60 - 10*(10/30) = 56.67
    # 2t+1 in [43.33, 56.67] -> t = 22..27
    assert row["latency"] == 22 and row["frames_inside"] == 6


def test_line_drawn_edited_and_mirrored(editor) -> None:
    # the line PolyDrawTool: a press starts the row (the point twice), a tap adds one
    editor.line_source.data = {"xs": [[21.0, 21.0]], "ys": [[0.0, 0.0]], "name": [""]}
    assert editor.names == []
    editor.line_source.data = {
        "xs": [[21.0, 21.0, 21.0]], "ys": [[0.0, 99.0, 99.0]], "name": [""]
    }  # fmt: skip
    assert editor.rois == [LineROI("roi1", ((21, 0), (21, 99)))]
    # the line source is not written back while drawn; the label and list show it
    assert list(editor.line_source.data["name"]) == [""]
    assert list(editor.label_source.data["text"]) == ["roi1"]
    assert editor.roi_list.options == (("roi1: line with 2 points", "roi1"),)
    assert editor.poly_edit_tool.renderers[1].data_source is editor.line_source
    assert editor.line_draw_tool.renderers[0].data_source is editor.line_source
    # a line has no inside: the engine counts the frame the point is on it
    # (x = 2t + 1 = 21 at t = 10)
    row = roi_summary(compute_roi_occupancy(_trajectory(), editor.rois)).iloc[0]
    assert row["latency"] == 10 and row["frames_inside"] == 1
    # a loop added in Python: the source mirrors the model, the closing segment
    # is drawn apart, and a point moved in the browser keeps the loop
    editor.add_line("rim", [(100, 10), (190, 10), (150, 90)], loop=True)
    assert editor.model.source_data("line") == {
        k: list(v) for k, v in editor.line_source.data.items()
    }
    assert dict(editor.line_source.data) == {
        "xs": [[21.0, 21.0], [100.0, 190.0, 150.0]],
        "ys": [[0.0, 99.0], [10.0, 10.0, 90.0]],
        "name": ["roi1", "rim"],
    }
    assert dict(editor.loop_source.data) == {
        "x0": [150.0], "y0": [90.0], "x1": [100.0], "y1": [10.0]
    }  # fmt: skip
    editor.line_source.data = {
        "xs": [[21.0, 21.0], [100.0, 190.0, 160.0]],
        "ys": [[0.0, 99.0], [10.0, 10.0, 90.0]],
        "name": ["", ""],
    }
    assert editor.get("rim") == LineROI(
        "rim", ((100, 10), (190, 10), (160, 90)), loop=True
    )
    assert list(editor.loop_source.data["x0"]) == [160.0]
    editor.remove("rim")
    assert list(editor.line_source.data["name"]) == ["roi1"]
    assert list(editor.loop_source.data["x0"]) == []


def test_typed_circle_rename_delete_and_errors(editor) -> None:
    editor.name_box.value = "well"
    editor.cx.value, editor.cy.value, editor.radius.value = 30.0, 40.0, 5.0
    editor.add_circle_button.click()
    assert editor.rois == [CircleROI("well", 30.0, 40.0, 5.0)]
    assert roi_description(editor.get("well")) == (
        "well: circle centre (30.0, 40.0), radius 5.0"
    )
    editor.add_circle_button.click()  # same name again: an error in the widget
    assert "exists already" in editor.status.value and len(editor) == 1
    editor.roi_list.value = "well"
    editor.name_box.value = "centre"
    editor.rename_button.click()
    assert editor.names == ["centre"]
    assert list(editor.circle_source.data["name"]) == ["centre"]
    editor.roi_list.value = "centre"
    editor.delete_button.click()
    assert editor.names == [] and list(editor.circle_source.data["x"]) == []
    with pytest.raises(KeyError, match="no ROI called"):
        editor.get("centre")


def test_geojson_round_trip_through_buttons(editor, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(tmp_path))
    editor.add_rectangle("box", 10, 10, 40, 30)
    editor.add_circle("well", 70, 40, 5)
    editor.add_polygon("tri", [(100, 10), (140, 10), (120, 40)])
    editor.add_line("wall", [(10, 90), (190, 90)])
    path = tmp_path / "rois.geojson"
    editor.path_box.value = str(path)
    editor.save_button.click()
    assert "saved 4 ROI(s)" in editor.status.value
    data = json.loads(path.read_text())
    assert [f["properties"]["name"] for f in data["features"]] == [
        "box",
        "well",
        "tri",
        "wall",
    ]
    assert data["features"][3]["properties"]["roi_type"] == "LineOfInterest"
    assert load_rois(path) == editor.rois

    other = ROIEditor(size=(200, 100), load_bokehjs=False)
    other.path_box.value = str(path)
    other.load_button.click()
    assert other.rois == editor.rois
    assert list(other.rect_source.data["name"]) == ["box"]
    assert list(other.poly_source.data["name"]) == ["tri"]
    assert list(other.line_source.data["name"]) == ["wall"]
    # the engine's own file loads too
    save_rois([RectangleROI("a", 0, 0, 5, 5)], tmp_path / "a.geojson")
    other.load(tmp_path / "a.geojson")
    assert other.names == ["a"]


def test_geojson_box_refuses_a_path_outside_the_data_root(
    editor, tmp_path, monkeypatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    editor.add_rectangle("box", 10, 10, 40, 30)
    for value in (outside / "rois.geojson", root / ".." / "outside" / "rois.geojson"):
        editor.path_box.value = str(value)
        editor.save_button.click()
        assert "outside the folders the apps may open" in editor.status.value
        assert "is outside the folders the apps may open" in editor.status.value
        assert not (outside / "rois.geojson").exists()
    save_rois([RectangleROI("a", 0, 0, 5, 5)], outside / "a.geojson")
    editor.path_box.value = str(outside / "a.geojson")
    editor.load_button.click()
    assert (
        "outside the folders the apps may open" in editor.status.value
        and editor.names == ["box"]
    )
    # a relative path is taken in the data root; the app's own folders are accepted
    editor.path_box.value = "rel.geojson"
    editor.save_button.click()
    assert (root / "rel.geojson").is_file(), editor.status.value
    editor.allowed_folders = (outside,)
    editor.path_box.value = str(outside / "rois.geojson")
    editor.save_button.click()
    assert (outside / "rois.geojson").is_file(), editor.status.value


def test_image_sets_arena_and_ranges() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    editor = ROIEditor(image, load_bokehjs=False)
    assert (editor.width, editor.height) == (160, 120)
    assert editor.image_source.data["url"][0].startswith("data:image/jpeg;base64,")
    assert (editor.x_range.start, editor.x_range.end) == (-0.5, 159.5)
    assert (editor.y_range.start, editor.y_range.end) == (119.5, -0.5)  # y down
    editor.set_arena(640, 480)
    assert list(editor.image_source.data["url"]) == []
    assert editor.figure.frame_width == round(640 * editor.scale)
    with pytest.raises(ValueError, match="uint8"):
        editor.set_image(np.zeros((4, 4), float))


def test_close_closes_every_widget(editor) -> None:
    editor.add_rectangle(None, 1, 1, 5, 5)
    editor.close()
    assert editor.widget.comm is None
    assert editor.bokeh_model.comm is None
    assert editor.save_button.comm is None


def test_status_is_announced(editor) -> None:
    """QA s15 #8: what a button did reaches a screen reader."""
    assert "posekit-live" in editor.status._dom_classes
