"""ROIs: exact entry frames and dwell times, shapes, GeoJSON files, zones, heatmaps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.engine.behavior.roi import (
    CircleROI,
    LineROI,
    PolygonROI,
    RectangleROI,
    compute_line_crossings,
    compute_occupancy_heatmap,
    compute_roi_occupancy,
    compute_zone_sequence,
    line_crossing_summary,
    load_rois,
    roi_bouts,
    roi_summary,
    save_rois,
    zone_transitions,
)
from posekit.engine.poses import from_numpy

FPS = 10.0


def _walker(x: np.ndarray, y: np.ndarray, fps: float | None = FPS):
    return from_numpy(np.stack([x, y], 1)[:, :, None, None], fps=fps)


@pytest.fixture
def crossing():
    """Move a point right at 1 px/frame through the square 40.5..60.5."""
    x = np.arange(100.0)
    return _walker(x, np.full_like(x, 50.0)), RectangleROI(
        "square", 40.5, 40.5, 60.5, 60.5
    )


def test_entry_frame_and_dwell_are_exact(crossing):
    ds, square = crossing
    occ = compute_roi_occupancy(ds, [square])
    assert occ.dims == ("time", "individual", "roi")
    inside = np.flatnonzero(occ.values.ravel() == 1)
    assert inside.tolist() == list(range(41, 61))
    (bout,) = roi_bouts(occ).to_dict("records")
    assert bout["start"] == 41 and bout["end"] == 60 and bout["duration"] == 20
    assert bout["entered"] and bout["exited"]
    assert bout["start_s"] == pytest.approx(4.1) and bout[
        "duration_s"
    ] == pytest.approx(2.0)
    row = roi_summary(occ).iloc[0]
    assert row.entries == 1 and row.exits == 1 and row.n_bouts == 1
    assert row.latency == 41 and row.latency_s == pytest.approx(4.1)
    assert row.frames_inside == 20 and row.time_inside_s == pytest.approx(2.0)
    assert row.fraction == pytest.approx(0.2) and row.mean_bout_s == pytest.approx(2.0)


def test_missing_frames_are_unknown_not_outside(crossing):
    ds, square = crossing
    ds.position[45:50] = np.nan
    ds.position[90:] = np.nan
    occ = compute_roi_occupancy(ds, [square])
    assert np.isnan(occ.values.ravel()[45:50]).all()
    row = roi_summary(occ).iloc[0]
    # missing frames are unknown, not outside: the 5-frame gap does not split the
    # visit, and counts inside (QA s17: 15 frames inside, a visit of 20, before)
    assert row.frames_observed == 85 and row.frames_inside == 20
    assert row.frames_bridged == 5 and row.fraction == pytest.approx(20 / 90)
    assert row.n_bouts == 1 and row.entries == 1 and row.exits == 1
    assert row.mean_bout == 20  # frames 41..60, 5 of them unknown
    (visit,) = roi_bouts(occ).to_dict("records")
    assert (visit["start"], visit["end"], visit["frames_missing"]) == (41, 60, 5)
    assert visit["entered"] and visit["exited"]


@pytest.mark.parametrize(
    ("gaps", "inside"), [([(25, 28)], 17), ([(25, 28), (30, 32)], 15)]
)
def test_tracking_gap_inside_an_roi_is_one_visit(gaps, inside):
    """QA S14 F5: x = 10 t + 5 at 10 fps, the box 200..400 holds frames 20..39.

    With the position NaN at 25..27 (and 30..31, as --pcutoff 0.5 made it) there
    were 2 (3) entries and visits; the point never left the box: 1 entry, 1 visit.
    """
    x = 10.0 * np.arange(100) + 5
    for a, b in gaps:
        x[a:b] = np.nan
    occ = compute_roi_occupancy(
        _walker(x, np.full_like(x, 100.0), fps=10.0),
        [RectangleROI("box", 200, 0, 400, 200)],
    )
    row = roi_summary(occ).iloc[0]
    assert (row.entries, row.exits, row.n_bouts) == (1, 1, 1)
    # the gaps count inside (QA s17: frames_inside was the frames seen, 17 or 15)
    assert row.frames_inside == 20 and row.mean_bout == 20
    assert row.frames_inside - row.frames_bridged == inside
    assert row.latency_s == pytest.approx(2.0) and row.mean_bout_s == pytest.approx(2.0)
    visits = roi_bouts(occ)
    assert visits[["start", "end", "duration"]].values.tolist() == [[20, 39, 20]]
    assert visits["frames_missing"].tolist() == [20 - inside]


def test_an_entry_hidden_in_a_gap_is_still_an_entry():
    """Seen outside, lost, seen inside: the animal went in (as a line is crossed)."""
    # outside 0..9, unknown 10..12, inside 13..20, unknown 21..23, outside from 24
    x = np.r_[np.full(10, 10.0), np.full(3, np.nan), np.full(8, 50.0)]
    x = np.r_[x, np.full(3, np.nan), np.full(10, 90.0)]
    occ = compute_roi_occupancy(
        _walker(x, np.full_like(x, 50.0)), [RectangleROI("a", 40, 40, 60, 60)]
    )
    (visit,) = roi_bouts(occ).to_dict("records")
    assert (visit["start"], visit["end"], visit["frames_missing"]) == (13, 20, 0)
    assert visit["entered"] and visit["exited"]
    row = roi_summary(occ).iloc[0]
    assert (row.entries, row.exits, row.n_bouts, row.latency) == (1, 1, 1, 13)
    # first seen inside (after frames missing from the start): no entry seen
    late = np.r_[np.full(3, np.nan), np.full(5, 50.0), np.full(5, 90.0)]
    occ = compute_roi_occupancy(
        _walker(late, np.full_like(late, 50.0)), [RectangleROI("a", 40, 40, 60, 60)]
    )
    row = roi_summary(occ).iloc[0]
    assert (row.entries, row.exits, row.n_bouts) == (0, 1, 1)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([290, 300, 290, 300, 310, 300, 310], [0, 0, 0, 0, -1, 0, 0]),  # QA S14 F13
        ([290, 300, 290], [0, 0, 0]),  # touching the line and going back
        ([310, 300, 300, 290], [0, 0, 0, 1]),  # onto the line, then across it
        ([290, 300, 310, 300, 290], [0, 0, -1, 0, 1]),  # across and back: two
    ],
)
def test_a_point_on_the_line_is_on_neither_side(path, expected):
    x = np.asarray(path, dtype=float)
    pos = _walker(x, np.full_like(x, 50.0))
    wall = LineROI("wall", ((300, 0), (300, 100)))  # drawn downwards
    crossings = compute_line_crossings(pos, [wall])
    assert crossings.values.ravel().tolist() == expected
    row = line_crossing_summary(crossings).iloc[0]
    assert row.crossings == sum(map(abs, expected))


def test_starting_inside_is_not_an_entry():
    x = np.r_[np.full(5, 50.0), np.arange(50.0, 100.0)]
    occ = compute_roi_occupancy(
        _walker(x, np.full_like(x, 50.0)), [RectangleROI("a", 40, 40, 60, 60)]
    )
    row = roi_summary(occ).iloc[0]
    assert row.entries == 0 and row.exits == 1 and row.latency == 0 and row.n_bouts == 1
    assert not roi_bouts(occ)["entered"].iloc[0]


def test_shapes_contain_like_shapely(rng):
    shapely = pytest.importorskip("shapely")
    x, y = rng.uniform(-20, 120, (2, 5000))
    verts = ((10, 10), (90, 20), (70, 80), (40, 50), (20, 90))  # non-convex
    for roi, geom in (
        (PolygonROI("poly", verts), shapely.Polygon(verts)),
        (
            CircleROI("disc", 50, 40, 30),
            shapely.Point(50, 40).buffer(30, quad_segs=512),
        ),
        (RectangleROI("box", 0, 10, 60, 70), shapely.box(0, 10, 60, 70)),
    ):
        ours = roi.contains(x, y)
        ref = shapely.contains_xy(geom, x, y)
        # the buffered circle is a polygon: allow disagreement only on its rim
        rim = (
            np.abs(np.hypot(x - 50, y - 40) - 30) < 0.01
            if roi.name == "disc"
            else False
        )
        assert np.array_equal(ours | rim, ref | rim), roi.name
        assert roi.area == pytest.approx(geom.area, rel=1e-4)
    assert not PolygonROI("p", verts).contains(np.array([np.nan]), np.array([50.0]))[0]


def test_geojson_round_trip(tmp_path):
    rois = [
        RectangleROI("box", 0, 0, 10, 5),
        CircleROI("well", 5.5, 6.5, 2.25),
        PolygonROI("tri", ((0, 0), (10, 0), (0, 10))),
    ]
    path = save_rois(rois, tmp_path / "rois.geojson")
    assert load_rois(path) == rois
    with pytest.raises(ValueError, match="unique"):
        save_rois([rois[0], rois[0]], tmp_path / "dup.geojson")
    (tmp_path / "bad.geojson").write_text(
        '{"type": "FeatureCollection", "features": '
        '[{"type": "Feature", "geometry": {"type": "MultiPoint", '
        '"coordinates": [[0, 0], [1, 1]]}, "properties": {}}]}'
    )
    with pytest.raises(ValueError, match="MultiPoint"):
        load_rois(tmp_path / "bad.geojson")


SQUARE = ((0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0))
HOLE = ((40.0, 40.0), (60.0, 40.0), (60.0, 60.0), (40.0, 60.0))


def test_polygon_hole_is_kept_and_excluded():
    ring = PolygonROI("ring", SQUARE, holes=(HOLE,))
    assert ring.area == 9600.0 and PolygonROI("full", SQUARE).area == 10000.0
    inside = ring.contains(
        np.array([10.0, 50.0, 40.0, 120.0]), np.array([10, 50, 50, 5])
    )
    # in the body, in the hole, on the hole's edge (a boundary: inside), outside
    assert inside.tolist() == [True, False, True, False]


def test_files_follow_movements_roi_schema(tmp_path):
    rois = [
        RectangleROI("box", 0, 0, 10, 5),
        CircleROI("well", 5.5, 6.5, 2.25),
        PolygonROI("ring", SQUARE, holes=(HOLE,)),
        LineROI("wall", ((0, 0), (10, 0), (10, 10))),
        LineROI("loop", ((0, 0), (10, 0), (10, 10)), loop=True),
    ]
    path = save_rois(rois, tmp_path / "rois.geojson")
    data = json.loads(path.read_text())
    kinds = [
        (f["geometry"]["type"], f["properties"]["roi_type"]) for f in data["features"]
    ]
    # movement's ROI_TYPE_TO_GEOMETRY: PolygonOfInterest ↔ Polygon,
    # LineOfInterest ↔ LineString or LinearRing
    assert kinds == [
        ("Polygon", "PolygonOfInterest"),
        ("Polygon", "PolygonOfInterest"),
        ("Polygon", "PolygonOfInterest"),
        ("LineString", "LineOfInterest"),
        ("LineString", "LineOfInterest"),  # closed, as movement writes a loop
    ]
    loop = data["features"][4]["geometry"]["coordinates"]
    assert loop[0] == loop[-1] == [0.0, 0.0] and len(loop) == 4
    ring = data["features"][2]["geometry"]["coordinates"]
    assert len(ring) == 2 and ring[1][0] == ring[1][-1] == [40.0, 40.0]
    assert load_rois(path) == rois
    circle = data["features"][1]["geometry"]["coordinates"][0]
    area = PolygonROI("c", [tuple(p) for p in circle]).area
    assert area == pytest.approx(rois[1].area, rel=5e-4)


def test_movement_style_file_loads(tmp_path):
    # what movement.roi.save_rois writes (shapely.to_geojson geometries)
    (tmp_path / "movement.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [list(p) for p in SQUARE + SQUARE[:1]],
                                [list(p) for p in HOLE + HOLE[:1]],
                            ],
                        },
                        "properties": {
                            "name": "arena",
                            "roi_type": "PolygonOfInterest",
                        },
                    },
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[0.0, 0.0], [1.0, 1.0]],
                        },
                        "properties": {"name": "diag", "roi_type": "LineOfInterest"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "LinearRing",
                            "coordinates": [[0, 0], [4, 0], [4, 3], [0, 0]],
                        },
                        "properties": None,
                    },
                ],
            }
        )
    )
    arena, diag, loop = load_rois(tmp_path / "movement.geojson")
    assert arena == PolygonROI("arena", SQUARE, holes=(HOLE,)) and arena.area == 9600
    assert diag == LineROI("diag", ((0, 0), (1, 1)))
    assert loop.loop and loop.length == 12.0 and loop.name == "roi"


def test_files_of_earlier_posekit_versions_load(tmp_path):
    (tmp_path / "old.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [5.5, 6.5]},
                        "properties": {
                            "name": "well",
                            "roi_type": "circle",
                            "radius": 2,
                        },
                    },
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [10, 0], [10, 5], [0, 5], [0, 0]]],
                        },
                        "properties": {"name": "box", "roi_type": "rectangle"},
                    },
                ],
            }
        )
    )
    assert load_rois(tmp_path / "old.geojson") == [
        CircleROI("well", 5.5, 6.5, 2.0),
        RectangleROI("box", 0, 0, 10, 5),
    ]


def test_zone_sequence_and_transitions():
    # A (0-9) → outside (10-14) → B (15-24) → A (25-29)
    x = np.r_[np.full(10, 5.0), np.full(5, 50.0), np.full(10, 95.0), np.full(5, 5.0)]
    ds = _walker(x, np.full_like(x, 5.0))
    rois = [RectangleROI("A", 0, 0, 10, 10), CircleROI("B", 95, 5, 4)]
    zones = compute_zone_sequence(compute_roi_occupancy(ds, rois))
    assert (
        zones.values.ravel().tolist()
        == ["A"] * 10 + ["outside"] * 5 + ["B"] * 10 + ["A"] * 5
    )
    counts = zone_transitions(zones)
    assert (
        counts.loc["A", "B"] == 1
        and counts.loc["B", "A"] == 1
        and counts.values.sum() == 2
    )
    with_outside = zone_transitions(zones, include_outside=True)
    assert (
        with_outside.loc["A", "outside"] == 1 and with_outside.loc["outside", "B"] == 1
    )


def test_heatmap_counts_time(crossing):
    ds, _ = crossing
    heat = compute_occupancy_heatmap(ds, bins=(10, 1), extent=(0, 100, 0, 100))
    assert heat.attrs["units"] == "s" and heat.dims == ("y", "x")
    np.testing.assert_allclose(heat.values.ravel(), 1.0)  # 10 frames at 10 fps per bin
    frames = compute_occupancy_heatmap(
        _walker(np.arange(100.0), np.full(100, 50.0), fps=None), bins=5
    )
    assert frames.attrs["units"] == "frames" and frames.sum() == 100


def test_invalid_rois_are_rejected():
    with pytest.raises(ValueError, match="x_max > x_min"):
        RectangleROI("r", 5, 0, 1, 1)
    with pytest.raises(ValueError, match="radius"):
        CircleROI("c", 0, 0, 0)
    with pytest.raises(ValueError, match="3 vertices"):
        PolygonROI("p", ((0, 0), (1, 1)))
    with pytest.raises(ValueError, match="at least one ROI"):
        compute_roi_occupancy(_walker(np.zeros(3), np.zeros(3)), [])


# ------------------------------------------------------------------ line crossings


def _crossings(x, y, *rois, fps=FPS):
    return compute_line_crossings(
        _walker(np.asarray(x, float), np.asarray(y, float), fps), rois
    )


def test_line_crossings_frames_and_directions_are_exact():
    # back and forth across the horizontal line y = 50 (drawn left to right, so its
    # right-hand side in the image, y down, is below it: y > 50)
    t = np.arange(40.0)
    y = 50 + 20 * np.sin(2 * np.pi * t / 20 + 0.1)  # crosses at t = 10, 20, 30
    line = LineROI("midline", ((0, 50), (100, 50)))
    c = _crossings(np.full_like(t, 30.0), y, line)
    assert c.dims == ("time", "individual", "roi")
    v = c.values.ravel()
    assert np.flatnonzero(v).tolist() == [10, 20, 30]
    # starts below the line (y > 50: its right-hand side), so goes up (-1) first
    assert v[[10, 20, 30]].tolist() == [-1.0, 1.0, -1.0]
    row = line_crossing_summary(c).iloc[0]
    assert (row["roi"], row["crossings"], row["to_right"], row["to_left"]) == (
        "midline", 3, 1, 2,
    )  # fmt: skip
    assert row["first_crossing"] == 10 and row["first_crossing_s"] == pytest.approx(1.0)
    assert row["crossings_per_min"] == pytest.approx(3 / (40 / FPS / 60))


def test_line_crossings_only_within_the_segment_and_once_at_a_vertex():
    y = np.array([40.0, 60.0, 40.0])
    short = LineROI("short", ((0, 50), (20, 50)))
    assert not np.any(_crossings([30, 30, 30], y, short).values)  # past its end
    # a V-shaped polyline crossed exactly through its middle vertex: counted once
    vee = LineROI("vee", ((0, 40), (50, 50), (100, 40)))
    v = _crossings([50, 50, 50], [45.0, 55.0, 45.0], vee).values.ravel()
    assert v.tolist() == [0.0, 1.0, -1.0]


def test_line_crossings_of_a_loop_and_across_missing_frames():
    loop = LineROI("ring", ((40, 40), (60, 40), (60, 60), (40, 60)), loop=True)
    x = np.array([30.0, 50.0, 50.0, np.nan, np.nan, 70.0, 71.0])
    c = _crossings(x, np.full(7, 50.0), loop).values.ravel()
    # drawn clockwise on screen, so its inside is on its right-hand side: in (+1)
    # at frame 1; lost at 3-4; seen again outside at 5: the exit (-1) counts there
    assert np.isnan(c[[3, 4]]).all()
    assert c[[0, 1, 2, 5, 6]].tolist() == [0.0, 1.0, 0.0, -1.0, 0.0]
    assert (
        line_crossing_summary(_crossings(x, np.full(7, 50.0), loop)).iloc[0][
            "frames_observed"
        ]
        == 5
    )


def test_line_crossings_per_individual_and_only_for_lines():
    xy = np.zeros((3, 2, 1, 2))  # time, space, keypoint, individual
    xy[:, 0, 0, 0] = [0, 10, 20]  # crosses x = 5 at frame 1
    xy[:, 0, 0, 1] = [0, 1, 2]  # never crosses
    xy[:, 1] = 5.0
    pos = from_numpy(xy, fps=FPS)
    wall = LineROI("wall", ((5, 0), (5, 10)))
    box = RectangleROI("box", 0, 0, 1, 1)
    c = compute_line_crossings(pos, [box, wall])
    assert c["roi"].values.tolist() == ["wall"]
    assert c.sel(roi="wall").values.tolist() == [[0, 0], [-1, 0], [0, 0]]
    table = line_crossing_summary(c)
    assert table["crossings"].tolist() == [1, 0]
    assert np.isnan(table["first_crossing"].iloc[1])
    assert compute_line_crossings(pos, [box]) is None
