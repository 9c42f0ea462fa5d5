"""Opening the trajectory viewer: what the first view and the identities show.

The expected values were written from the viewer as it was before opening was made
lazy (likely swaps found after the first view, the plots' columns built in one go):
the lazy viewer must show exactly the same. The likely swaps are compared with
:func:`~posekit.engine.multianimal.identity.likely_swaps` called on the tracks shown
(the eager viewer listed exactly that); ``OPTIONS`` is what the engine finds
(recorded when exchanges and jumps were added to it).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from posekit.engine.multianimal.identity import likely_swaps
from posekit.engine.poses import from_numpy
from posekit.widgets.trajectory_model import SERIES, TrajectoryModel
from posekit.widgets.trajectory_viewer import TrajectoryViewer


def _tracks():
    """Three animals, 120 frames: a crossing, track ends, a gap, a swap at 100."""
    rng = np.random.default_rng(7)
    t = np.arange(120.0)
    centres = np.stack(
        [
            np.stack([20 + t, 40 + 0 * t], -1),  # a: left to right
            np.stack([140 - t, 44 + 0 * t], -1),  # b: right to left, crosses a
            np.stack([80 + 10 * np.sin(t / 9), 120 + 0 * t], -1),  # c: below
        ],
        1,
    )
    offs = np.array([[0, 0], [6, 2], [-5, 3]], float)
    pos = centres[:, :, None, :] + offs[None, None] + rng.normal(0, 0.3, (120, 3, 3, 2))
    conf = rng.uniform(0.3, 1.0, (120, 3, 3))
    pos[30:38, 2] = np.nan  # c's track ends and starts
    pos[90, 1] = np.nan  # b missing one frame
    pos[10:20, 0, 1] = np.nan  # a's ear missing
    pos[100:, [0, 2]] = pos[100:, [2, 0]]  # a and c swapped at 100
    conf[100:, [0, 2]] = conf[100:, [2, 0]]
    return from_numpy(
        pos.transpose(0, 3, 2, 1),
        conf.transpose(0, 2, 1),
        keypoint_names=["snout", "ear", "tail"],
        individual_names=["a", "b", "c"],
        fps=30.0,
    )


def _listed(ds):
    """Give what the eager viewer listed: the engine's likely swaps of ``ds``."""
    return [(str(c), c.frame) for c in likely_swaps(ds, max_candidates=200)]


# the engine's likely swaps when these tests were written (for reference)
OPTIONS = [
    ("frame 100: exchange (a, c)", 100),  # the swap _tracks plants
    ("frame 60: crossing (a, b)", 60),
    ("frame 89: track ends (b, a)", 89),
    ("frame 91: track starts (b, a)", 91),
    ("frame 38: track starts (c, a)", 38),
    ("frame 29: track ends (c, b)", 29),
]
SCORES = [60.221447707, 2.918519512, 1.190486133, 1.177899444, 1.13537815, 1.133774266]
# after swapping b and c from frame 89
OPTIONS_SWAPPED = [
    ("frame 100: exchange (a, b)", 100),
    ("frame 89: exchange (b, c)", 89),  # the swap just made is listed too
    ("frame 60: crossing (a, b)", 60),
    ("frame 89: track ends (c, a)", 89),
    ("frame 91: track starts (c, a)", 91),
    ("frame 38: track starts (c, a)", 38),
    ("frame 29: track ends (c, b)", 29),
]
# (nansum, NaN count) of each plotted column (every 3rd frame, p-cutoff 0.6)
SUMS = {
    "frame": (2340.0, 0),
    "x_0": (1720.085793, 18),
    "y_0": (1196.868782, 18),
    "speed_0": (151.044708, 35),
    "likelihood_0": (26.072666, 0),
    "x_1": (1453.057749, 20),
    "y_1": (998.000368, 20),
    "speed_1": (151.390439, 35),
    "likelihood_1": (25.358444, 0),
    "x_2": (1347.997451, 20),
    "y_2": (1179.942297, 20),
    "speed_2": (316.827711, 30),
    "likelihood_2": (25.456311, 0),
}


@pytest.fixture
def viewer():
    v = TrajectoryViewer(_tracks(), load_bokehjs=False, max_points=50)
    yield v
    v.close()


def test_identities_and_first_view_are_those_of_the_eager_viewer(viewer):
    m = viewer.model
    assert (m.color_by, m.animals) == ("individual", ["a", "b", "c"])
    assert (m.width, m.height, m.stride) == (147, 147, 3)
    expected = likely_swaps(m.raw, max_candidates=200)
    found = m.likely_swaps()
    assert found == expected and found is not m.likely_swaps()  # a copy each time
    assert viewer.wait_likely_swaps(timeout=30)
    assert list(viewer.swaps.options) == _listed(m.raw)
    table = dict(viewer.series_source.data)
    assert list(table) == list(SUMS)
    for key, (total, nans) in SUMS.items():
        col = np.asarray(table[key], float)
        assert (round(float(np.nansum(col)), 6), int(np.isnan(col).sum())) == (
            total,
            nans,
        ), key
    np.testing.assert_allclose(
        m.points(35)["x"],
        [55.059544, np.nan, 49.710003, 104.94055, np.nan, 99.725465] + [np.nan] * 3,
        atol=1e-6,
    )
    assert m.points(35)["color"] == ["#aa00ff"] * 3 + ["#7dff00"] * 3 + ["#ff0000"] * 3
    traj = m.trajectory()
    assert len(traj["x"]) == 22 and round(float(traj["x"].sum()), 6) == 1720.085793


def test_a_swap_refreshes_the_likely_swaps_and_the_plots(viewer):
    m = viewer.model
    assert viewer.wait_likely_swaps(timeout=30)
    before = list(viewer.swaps.options)
    original = m.raw
    m.swap_identities("b", "c", 89)
    assert viewer.wait_likely_swaps(timeout=30)
    after = list(viewer.swaps.options)
    assert after == _listed(m.raw) and after != before
    assert m.dirty and viewer.save_tracks_button.button_style == "warning"
    assert round(float(np.nansum(viewer.series_source.data["x_0"])), 6) == 1720.085793
    assert m.undo_identity() and m.raw is original
    assert viewer.wait_likely_swaps(timeout=30)
    assert list(viewer.swaps.options) == before == _listed(original)


def test_the_likely_swaps_of_the_engine_when_the_tests_were_written():
    """``OPTIONS``: the planted exchange first, then crossings and track ends."""
    found = likely_swaps(_tracks(), max_candidates=200)
    assert [(str(c), c.frame) for c in found] == OPTIONS
    assert [c.score for c in found] == pytest.approx(SCORES, abs=1e-8)
    ds = _tracks()
    model = TrajectoryModel(ds)
    model.frame = 89
    model.swap_identities("b", "c")
    assert _listed(model.raw) == OPTIONS_SWAPPED


def test_series_table_equals_the_series_one_by_one():
    m = TrajectoryModel(_tracks(), max_points=50)
    for individual in m.individuals:
        m.individual = individual
        table = m.series_table()
        step = m.stride
        expected = {"frame": np.arange(m.n_frames, dtype=float)[::step]}
        for j, kp in enumerate(m.keypoints):
            for name in SERIES:
                expected[f"{name}_{j}"] = m.series(name, kp)[::step]
        assert list(table) == list(expected)
        for key, col in expected.items():
            np.testing.assert_array_equal(table[key], col)
            assert table[key].dtype == col.dtype


@pytest.mark.parametrize("fill", ["finite", "nan", "inf"])
def test_image_extent_without_a_video(fill):
    pos = np.full((4, 2, 2, 1), np.nan)
    if fill != "nan":
        pos[1, :, 0, 0] = [10.2, 30.7]
    if fill == "inf":
        pos[2, 0, 1, 0] = np.inf
    m = TrajectoryModel(from_numpy(pos))
    assert m.width == m.height == {"finite": 32, "nan": 640, "inf": 32}[fill]


def test_points_once_every_animal_is_filtered_are_the_whole_filter():
    m = TrajectoryModel(_tracks(), skeleton=[("snout", "ear"), ("ear", "tail")])
    m.method = "median"
    for individual in m.individuals:  # every animal filtered now
        m.individual = individual
    whole = m.filtered
    for frame in (0, 35, 89, 119):
        at = whole.isel(time=frame)
        pts = m.points(frame)
        np.testing.assert_array_equal(
            pts["x"],
            at["position"]
            .sel(space="x")
            .transpose("individual", "keypoint")
            .values.ravel(),
        )
        np.testing.assert_array_equal(
            pts["likelihood"],
            at["confidence"].transpose("individual", "keypoint").values.ravel(),
        )
        segments = m.skeleton_segments(frame)
        given = m.skeleton_segments(frame, points=pts)
        assert segments.keys() == given.keys()
        for key in segments:
            np.testing.assert_array_equal(segments[key], given[key])


def test_the_viewer_shows_before_the_likely_swaps_are_found(monkeypatch):
    release = threading.Event()
    real = TrajectoryModel.likely_swaps

    def slow(self, max_candidates=200):
        release.wait(30)
        return real(self, max_candidates)

    monkeypatch.setattr(TrajectoryModel, "likely_swaps", slow)
    viewer = TrajectoryViewer(_tracks(), load_bokehjs=False, max_points=50)
    closed = TrajectoryViewer(_tracks(), load_bokehjs=False, max_points=50)
    try:
        assert not viewer.wait_likely_swaps(timeout=0.2)
        assert viewer.swaps.options == () and "finding" in viewer.swaps.description
        assert len(viewer.series_source.data["frame"]) == 40  # the plots are drawn
        closed.close()  # before its list is found: nothing is shown in it
        release.set()
        assert viewer.wait_likely_swaps(timeout=30)
        assert viewer.swaps.description == "likely swaps"
        assert list(viewer.swaps.options) == _listed(viewer.model.raw)
        closed._swaps_thread.join(30)
        assert closed.swaps.options == ()
    finally:
        release.set()
        viewer.close()
