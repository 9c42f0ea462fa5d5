"""The ROI editor's model without Bokeh.

Editing, GeoJSON, and drawn tables (as the Bokeh drawing tools send them) reconciled
into named ROIs.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from posekit.engine.behavior.roi import (
    CircleROI,
    LineROI,
    PolygonROI,
    RectangleROI,
    load_rois,
    save_rois,
)
from posekit.widgets import roi_editor_model
from posekit.widgets.roi_editor_model import ROIEditorModel


@pytest.fixture
def model() -> ROIEditorModel:
    return ROIEditorModel()


def _box(x: float, y: float, w: float, h: float, name: str = "") -> dict:
    return {"x": [x], "y": [y], "width": [w], "height": [h], "name": [name]}


def test_the_model_imports_neither_bokeh_nor_ipywidgets() -> None:
    tree = ast.parse(Path(roi_editor_model.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("bokeh", "ipywidgets")}
    assert not {m for m in imported if m.startswith("_bokeh")}
    assert "engine.behavior.roi" in imported


def test_add_rename_remove_clear_and_callbacks(model) -> None:
    seen: list[list] = []
    model.on_change(seen.append)
    model.add_rectangle(None, 10, 10, 40, 30)
    model.add_circle("well", 70, 40, 5)
    model.add_polygon(None, [(100, 10), (140, 10), (120, 40)])
    assert model.names == ["roi1", "well", "roi2"]
    assert model.next_name() == "roi3"
    assert len(seen) == 3 and seen[-1] == model.rois
    renamed = model.rename("roi1", " box ")
    assert renamed == RectangleROI("box", 10, 10, 40, 30)
    assert model.names == ["box", "well", "roi2"]
    with pytest.raises(ValueError, match="exists already"):
        model.rename("box", "well")
    with pytest.raises(ValueError, match="non-empty"):
        model.rename("box", "  ")
    with pytest.raises(ValueError, match="exists already"):
        model.add_circle("well", 1, 1, 1)
    assert model.remove("well") == CircleROI("well", 70, 40, 5)
    with pytest.raises(KeyError, match="no ROI called 'well'"):
        model.get("well")
    with pytest.raises(ValueError, match="repeated"):
        model.set_rois([RectangleROI("a", 0, 0, 1, 1), CircleROI("a", 1, 1, 1)])
    n = len(seen)
    model.set_rois(model.rois)  # the same ROIs: no change, no callback
    assert len(seen) == n
    model.clear()
    assert len(model) == 0 and seen[-1] == []


def test_geojson_save_and_load(model, tmp_path) -> None:
    model.add_rectangle("box", 10, 10, 40, 30)
    model.add_circle("well", 70, 40, 5)
    model.add_polygon("tri", [(100, 10), (140, 10), (120, 40)])
    path = model.save(tmp_path / "rois.geojson")
    data = json.loads(path.read_text())
    assert data == model.to_geojson()
    assert [f["properties"]["name"] for f in data["features"]] == ["box", "well", "tri"]
    assert load_rois(path) == model.rois
    other = ROIEditorModel(name_prefix="zone")
    assert other.load(path) == model.rois and other.rois == model.rois
    assert other.next_name() == "zone1"


def test_tables_written_for_the_views(model) -> None:
    model.add_rectangle("box", 10, 20, 40, 30)
    model.add_circle("well", 70, 40, 5)
    model.add_polygon("tri", [(100, 10), (140, 10), (120, 40)])
    assert model.source_data("rectangle") == {
        "x": [25.0], "y": [25.0], "width": [30.0], "height": [10.0], "name": ["box"]
    }  # fmt: skip
    assert model.source_data("circle") == {
        "x": [70.0], "y": [40.0], "radius": [5.0], "name": ["well"]
    }  # fmt: skip
    assert model.source_data("polygon") == {
        "xs": [[100.0, 140.0, 120.0]], "ys": [[10.0, 10.0, 40.0]], "name": ["tri"]
    }  # fmt: skip
    assert model.label_data() == {
        "x": [10.0, 65.0, 100.0], "y": [20.0, 35.0, 10.0],
        "text": ["box", "well", "tri"],
    }  # fmt: skip


def test_drawn_boxes_echoes_moves_and_deletes(model) -> None:
    calls: list[int] = []
    writes: list[tuple] = []
    model.on_change(lambda rois: calls.append(len(rois)))
    model.observe(lambda kind, changed: writes.append((kind, changed)))
    assert model.apply_drawn("rectangle", _box(50.0, 50.0, -20.0, 20.0)) is True
    assert model.rois == [RectangleROI("roi1", 40.0, 40.0, 60.0, 60.0)]
    # echoes (with or without the name) change nothing, but the views hear of them
    assert model.apply_drawn("rectangle", _box(50.0, 50.0, 20.0, 20.0, "roi1")) is False
    assert model.apply_drawn("rectangle", _box(50.0, 50.0, 20.0, 20.0)) is False
    assert calls == [1]
    assert writes == [("rectangle", True), ("rectangle", False), ("rectangle", False)]
    # a drag moves the row: the name stays
    model.apply_drawn("rectangle", _box(150.0, 30.0, 20.0, 20.0))
    assert model.rois == [RectangleROI("roi1", 140.0, 20.0, 160.0, 40.0)]
    # a second box gets the next name; a row deleted deletes its ROI
    model.apply_drawn(
        "rectangle",
        {"x": [150.0, 20.0], "y": [30.0, 20.0], "width": [20.0, 10.0],
         "height": [20.0, 10.0], "name": ["roi1", ""]},
    )  # fmt: skip
    assert model.names == ["roi1", "roi2"]
    model.apply_drawn("rectangle", _box(20.0, 20.0, 10.0, 10.0, "roi2"))
    assert model.rois == [RectangleROI("roi2", 15.0, 15.0, 25.0, 25.0)]
    # a row that is not a shape (empty cells) is ignored
    model.apply_drawn("rectangle", {**_box(20.0, 20.0, 10.0, 10.0, "roi2"), "x": [""]})
    assert model.rois == []
    with pytest.raises(ValueError, match="kind must be"):
        model.apply_drawn("ellipse", {})  # type: ignore[arg-type]


def test_circle_mode_and_circle_drag(model) -> None:
    model.new_box_shape = "circle"
    model.apply_drawn("rectangle", _box(100.0, 50.0, 30.0, 20.0))
    assert model.rois == [CircleROI("roi1", 100.0, 50.0, 10.0)]
    assert model.source_data("rectangle")["x"] == []
    model.apply_drawn("rectangle", _box(100.0, 50.0, 30.0, 20.0))  # an echo
    assert len(model) == 1
    model.apply_drawn(
        "circle", {"x": [101.0], "y": [50.0], "radius": [10.0], "name": ["roi1"]}
    )
    assert model.rois == [CircleROI("roi1", 101.0, 50.0, 10.0)]
    # a circle row without a radius is not a circle
    model.apply_drawn(
        "circle", {"x": [101.0, 5.0], "y": [50.0, 5.0], "radius": [10.0, ""],
                   "name": ["roi1", ""]}
    )  # fmt: skip
    assert model.names == ["roi1"]


def test_polygon_drawn_vertex_by_vertex(model) -> None:
    model.apply_drawn("polygon", {"xs": [[40.0, 60.0]], "ys": [[40.0, 40.0]]})
    assert model.names == []  # two vertices: not a polygon yet
    model.apply_drawn(
        "polygon",
        {"xs": [[40.0, 60.0, 50.0, 50.0]], "ys": [[40.0, 40.0, 60.0, 60.0]],
         "name": [""]},
    )  # fmt: skip
    assert model.rois == [PolygonROI("roi1", ((40, 40), (60, 40), (50, 60)))]
    model.apply_drawn(
        "polygon",
        {"xs": [[40.0, 60.0, 50.0]], "ys": [[40.0, 40.0, 70.0]], "name": [""]},
    )
    assert model.rois == [PolygonROI("roi1", ((40, 40), (60, 40), (50, 70)))]
    model.add_rectangle(None, 0, 0, 5, 5)
    assert model.names == ["roi1", "roi2"]


def test_polygon_holes_survive_rename_redraw_and_geojson(model, tmp_path) -> None:
    square = ((0, 0), (100, 0), (100, 100), (0, 100))
    hole = ((40, 40), (60, 40), (60, 60), (40, 60))
    model.set_rois([PolygonROI("ring", square, holes=(hole,))])
    renamed = model.rename("ring", "arena")
    assert renamed == PolygonROI("arena", square, holes=(hole,))
    assert model.rois == [renamed] and renamed.area == 9600.0
    # the drawn table (outer ring only) comes back as the tools echo it: no change
    echo = model.source_data("polygon")
    assert echo["xs"] == [[0.0, 100.0, 100.0, 0.0]] and echo["name"] == ["arena"]
    assert not model.apply_drawn("polygon", echo)
    assert model.rois == [renamed]
    # a vertex of the outer ring moved in the browser: the hole stays
    moved = {"xs": [[0.0, 120.0, 100.0, 0.0]], "ys": echo["ys"], "name": ["arena"]}
    assert model.apply_drawn("polygon", moved)
    (roi,) = model.rois
    assert roi.vertices == ((0, 0), (120, 0), (100, 100), (0, 100))
    assert roi.holes == (hole,) and roi.name == "arena"
    # renamed again and saved: the hole is in the file
    model.rename("arena", "ring")
    path = model.save(tmp_path / "rois.geojson")
    assert load_rois(path) == [PolygonROI("ring", roi.vertices, holes=(hole,))]


def test_rejects_foreign_roi_types() -> None:
    class Other(RectangleROI):
        pass

    with pytest.raises(TypeError, match="handles RectangleROI"):
        ROIEditorModel([Other("x", 0, 0, 1, 1)])


def test_line_drawn_point_by_point(model) -> None:
    # PolyDrawTool on the line renderer: a press starts the row with the point and
    # the cursor on it, each tap adds a point (the cursor sits on the last one)
    model.apply_drawn(
        "line", {"xs": [[10.0, 10.0]], "ys": [[20.0, 20.0]], "name": [""]}
    )
    assert model.names == []  # one point (twice): not a line yet
    model.apply_drawn(
        "line", {"xs": [[10.0, 50.0, 50.0]], "ys": [[20.0, 20.0, 20.0]], "name": [""]}
    )
    assert model.rois == [LineROI("roi1", ((10, 20), (50, 20)))]
    model.apply_drawn(
        "line",
        {"xs": [[10.0, 50.0, 50.0, 50.0]], "ys": [[20.0, 20.0, 60.0, 60.0]],
         "name": [""]},
    )  # fmt: skip
    (line,) = model.rois
    assert line == LineROI("roi1", ((10, 20), (50, 20), (50, 60)))
    assert line.loop is False and line.length == 80.0
    assert model.source_data("line") == {
        "xs": [[10.0, 50.0, 50.0]], "ys": [[20.0, 20.0, 60.0]], "name": ["roi1"]
    }  # fmt: skip
    assert model.label_data() == {"x": [10.0], "y": [20.0], "text": ["roi1"]}
    # a line is neither a polygon nor another kind's row
    assert model.source_data("polygon") == {"xs": [], "ys": [], "name": []}
    model.add_rectangle(None, 0, 0, 5, 5)
    assert model.names == ["roi1", "roi2"]


def test_line_redraw_keeps_name_and_loop(model) -> None:
    seen: list[list] = []
    model.on_change(seen.append)
    rim = model.add_line("rim", [(0, 0), (100, 0), (50, 80)], loop=True)
    wall = model.add_line(None, [(0, 90), (100, 90)])
    assert rim == LineROI("rim", ((0, 0), (100, 0), (50, 80)), loop=True)
    assert wall == LineROI("roi1", ((0, 90), (100, 90)))
    assert model.names == ["rim", "roi1"] and len(seen) == 2
    # the echo of the table (points only, no loop flag) changes nothing
    echo = model.source_data("line")
    assert echo["xs"] == [[0.0, 100.0, 50.0], [0.0, 100.0]]
    assert not model.apply_drawn("line", echo)
    assert not model.apply_drawn("line", {**echo, "name": ["", ""]})
    assert model.rois == [rim, wall] and len(seen) == 2
    # PolyEditTool moves a point of each; the rows carry no names
    moved = {
        "xs": [[0.0, 120.0, 50.0], [0.0, 100.0]],
        "ys": [[0.0, 0.0, 80.0], [90.0, 95.0]],
        "name": ["", ""],
    }
    assert model.apply_drawn("line", moved)
    assert model.rois == [
        LineROI("rim", ((0, 0), (120, 0), (50, 80)), loop=True),
        LineROI("roi1", ((0, 90), (100, 95))),
    ]
    # a loop edited down to 2 points cannot close: it stays, open
    model.apply_drawn(
        "line",
        {"xs": [[0.0, 120.0], [0.0, 100.0]], "ys": [[0.0, 0.0], [90.0, 95.0]]},
    )
    assert model.get("rim") == LineROI("rim", ((0, 0), (120, 0)))
    # a row deleted (Backspace) deletes its line
    model.apply_drawn("line", {"xs": [[0.0, 100.0]], "ys": [[90.0, 95.0]]})
    assert model.names == ["roi1"]


def test_line_rows_with_fewer_than_two_points_are_ignored(model) -> None:
    model.add_rectangle("box", 0, 0, 10, 10)
    table = {
        "xs": [[5.0], [], [7.0, 7.0, 7.0], [1.0, "", 3.0], [1.0, 2.0]],
        "ys": [[5.0], [], [8.0, 8.0, 8.0], [1.0, 2.0, float("nan")], [1.0, 2.0]],
        "name": ["", "", "", "", ""],
    }
    assert model.apply_drawn("line", table)
    # only the last row has 2 distinct finite points
    assert model.rois == [
        RectangleROI("box", 0, 0, 10, 10),
        LineROI("roi1", ((1, 1), (2, 2))),
    ]
    assert model.apply_drawn("line", {"xs": [[3.0]], "ys": [[3.0]], "name": [""]})
    assert model.names == ["box"]


def test_all_four_kinds_load_edit_save_round_trip(model, tmp_path) -> None:
    rois = [
        RectangleROI("box", 10, 10, 40, 30),
        CircleROI("well", 70, 40, 5),
        PolygonROI(
            "ring",
            ((0, 0), (100, 0), (100, 100), (0, 100)),
            holes=(((40, 40), (60, 40), (60, 60), (40, 60)),),
        ),
        LineROI("wall", ((0, 50), (30, 60), (90, 50))),
        LineROI("rim", ((10, 10), (90, 10), (50, 90)), loop=True),
    ]
    source = save_rois(rois, tmp_path / "mixed.geojson")
    assert json.loads(source.read_text())["features"][4]["geometry"] == {
        "type": "LineString",
        "coordinates": [[10.0, 10.0], [90.0, 10.0], [50.0, 90.0], [10.0, 10.0]],
    }
    assert model.load(source) == rois and model.rois == rois
    # the browser echoes every table: nothing changes
    for kind in roi_editor_model.KINDS:
        assert not model.apply_drawn(kind, model.source_data(kind)), kind
    out = model.save(tmp_path / "out.geojson")
    assert load_rois(out) == rois
    # an edit (a line renamed and moved, a loop's point moved) keeps every ROI
    model.rename("wall", "edge")
    lines = model.source_data("line")
    lines["xs"][1][2] = 55.0
    assert model.apply_drawn("line", lines)
    expected = [
        *rois[:3],
        LineROI("edge", ((0, 50), (30, 60), (90, 50))),
        LineROI("rim", ((10, 10), (90, 10), (55, 90)), loop=True),
    ]
    assert model.rois == expected
    assert load_rois(model.save(tmp_path / "edited.geojson")) == expected
    other = ROIEditorModel()
    other.set_rois(load_rois(tmp_path / "edited.geojson"))
    assert other.rois == expected
    assert [roi_editor_model.roi_description(r) for r in expected[3:]] == [
        "edge: line with 3 points",
        "rim: closed line with 3 points",
    ]
