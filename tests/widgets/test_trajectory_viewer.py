"""The trajectory viewer, headless.

Cursor linking both ways, p-cutoff, live filters (checked against the engine's
``filter_poses``), exports.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pandas as pd
import pytest
from bokeh.events import Tap

from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io import load_poses
from posekit.engine.io.dlc import predictions_frame, read_dlc_csv, write_predictions
from posekit.engine.poses import from_numpy
from posekit.engine.postprocessing import filter_predictions
from posekit.engine.video import VideoReader
from posekit.widgets.serve import FILES_URL_ENV
from posekit.widgets.trajectory_model import SMOOTHING_MAX_GAP, TrajectoryModel
from posekit.widgets.trajectory_viewer import TrajectoryApp, TrajectoryViewer

SCORER = "DLC_resnet50_demoJan1shuffle1_100"
N = 48
LOW = 0.2  # likelihood of the "unlikely" points


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Make a demo project with noisy predictions beside the video.

    The snout is unlikely on frames 10–14.
    """
    project = make_demo_project(
        tmp_path_factory.mktemp("viewer"), n_frames=N, n_labeled=0
    )
    truth, _ = load_ground_truth(project)
    rng = np.random.default_rng(1)
    xy = truth + rng.normal(0, 1.5, truth.shape)
    lik = np.full(truth.shape[:2], 0.95)
    lik[10:15, 0] = LOW
    xyp = np.concatenate([xy, lik[..., None]], axis=-1)
    path = project.path / "videos" / f"session1{SCORER}.h5"
    write_predictions(predictions_frame(xyp, SCORER, project.bodyparts), path)
    return project, path, xy, lik


@pytest.fixture
def viewer(demo):
    _, path, _, _ = demo
    return TrajectoryViewer(path, load_bokehjs=False)


def _decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/jpeg;base64,")
    data = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_model_finds_video_and_project(demo) -> None:
    project, path, _, _ = demo
    m = TrajectoryModel(path)
    assert m.video_path == project.path / "videos" / "session1.mp4"
    assert m.project is not None and m.project.path == project.path
    assert m.n_frames == N and m.fps == pytest.approx(30.0)
    assert ("snout", "neck") in m.skeleton
    assert m.pcutoff == pytest.approx(project.pcutoff)
    assert m.scorer == SCORER


def test_slider_moves_cursor_frame_and_points(demo, viewer) -> None:
    _, _, xy, _ = demo
    m = viewer.model
    first_url = viewer.image_source.data["url"][0]
    viewer.slider.value = 21
    assert m.frame == 21
    assert all(c.location == 21 for c in viewer.cursors.values())
    assert 'data-frame="21"' in viewer.frame_label.value
    assert "frame 21 / 47" in viewer.frame_label.value
    assert viewer.video_figure.title.text.startswith("frame 21")
    url = viewer.image_source.data["url"][0]
    assert url != first_url
    with VideoReader(m.video_path) as reader:
        expected = reader[21].astype(float)
    assert np.abs(_decode(url).astype(float) - expected).mean() < 3  # the frame, JPEG
    pts = viewer.points_source.data
    np.testing.assert_allclose(pts["x"], xy[21, :, 0])
    np.testing.assert_allclose(pts["y"], xy[21, :, 1])
    assert len(viewer.skeleton_source.data["x0"]) == len(m.skeleton)
    cur = viewer.current_source.data
    assert cur["x"][0] == pytest.approx(xy[21, 0, 0])


def test_tap_on_time_series_moves_the_video(viewer) -> None:
    m = viewer.model
    url = viewer.image_source.data["url"][0]
    fig = viewer.series_figures["speed"]
    fig._trigger_event(Tap(fig, x=32.4, y=0.0))
    assert m.frame == 32 and viewer.slider.value == 32
    assert all(c.location == 32 for c in viewer.cursors.values())
    assert 'data-frame="32"' in viewer.frame_label.value
    assert viewer.image_source.data["url"][0] != url
    fig = viewer.series_figures["likelihood"]
    fig._trigger_event(Tap(fig, x=1e9, y=0.0))  # clamped to the last frame
    assert m.frame == N - 1
    traj = m.trajectory()
    t = viewer.trajectory_figure
    t._trigger_event(Tap(t, x=traj["x"][5] + 0.01, y=traj["y"][5]))
    assert m.frame == int(traj["frame"][5])


def test_pcutoff_hides_points(viewer) -> None:
    m = viewer.model
    m.pcutoff = 0.5
    m.frame = 12
    pts = viewer.points_source.data
    assert np.isnan(pts["x"][0]) and np.isnan(pts["y"][0])  # snout below the cutoff
    assert np.isfinite(pts["x"][1:]).all()
    assert len(viewer.skeleton_source.data["x0"]) == len(m.skeleton) - 1  # snout–neck
    x0 = np.asarray(viewer.series_source.data["x_0"])
    assert np.isnan(x0[10:15]).all() and np.isfinite(x0[:10]).all()
    assert np.isnan(viewer.series_source.data["speed_0"][10:15]).all()
    lik = np.asarray(viewer.series_source.data["likelihood_0"])
    np.testing.assert_allclose(lik[10:15], LOW)  # likelihood itself stays visible
    assert viewer.pcutoff_line.location == pytest.approx(0.5)
    assert 12 not in m.trajectory()["frame"]
    m.pcutoff = 0.1
    assert np.isfinite(viewer.points_source.data["x"]).all()
    assert np.isfinite(viewer.series_source.data["x_0"]).all()


def test_points_below_the_pcutoff_are_drawn_hollow_and_named(demo, viewer) -> None:
    """QA s17 #4: hidden points show, faded, and the page says which and why."""
    _, _, xy, _ = demo
    m = viewer.model
    m.pcutoff = 0.5
    m.frame = 12
    hidden = viewer.hidden_source.data
    assert hidden["keypoint"] == ["snout"]
    assert (hidden["x"][0], hidden["y"][0]) == pytest.approx(tuple(xy[12, 0]))
    assert hidden["likelihood"][0] == pytest.approx(LOW)
    assert "hidden: snout (likelihood &lt; 0.50)" in viewer.hidden_line.value
    # 5 of the 48 snout points, 5 of 288 in all
    assert "2 % of the points are below the p-cutoff (0.50)" in (
        viewer.coverage_line.value
    )
    assert "snout 10 %" in viewer.coverage_line.value
    assert m.coverage()["below"]["snout"] == pytest.approx(5 / N)
    m.frame = 30
    assert len(viewer.hidden_source.data["x"]) == 0 and viewer.hidden_line.value == ""
    m.pcutoff = 0.1
    assert viewer.coverage_line.value == ""  # nothing hidden: nothing to say


def test_median_keeps_the_points_next_to_gaps_and_says_what_it_kept(demo) -> None:
    """The median ignores the NaN in its window and never removes a point.

    As ``posekit filter`` does (``smooth_predictions``); before, a point whose
    window held fewer than half its values was left out.
    """
    _, path, xy, _ = demo
    m = TrajectoryModel(path, pcutoff=0.5)
    m.method = "median"
    m.max_gap = 0  # no gap filling: the median alone
    snout = m.series("x", "snout")
    assert np.isnan(snout[10:15]).all()  # below the p-cutoff: no value to smooth
    assert np.isfinite(snout[:10]).all() and np.isfinite(snout[15:]).all()
    c = m.coverage()
    assert (c["above"], c["shown"], c["filled"]) == (283, 283, 0)  # none removed
    assert m.coverage_text == (
        "Points shown: 98 % (98 % above the p-cutoff 0.50); the median smoothed "
        "them (it keeps every point, fills no gap)."
    )

    # a keypoint seen one frame in three: each keeps its value (alone in its window)
    pos = np.tile(np.arange(31.0)[:, None, None, None], (1, 2, 2, 1)) + 5
    conf = np.full((31, 2, 1), 0.9)
    conf[:, 0, 0] = 0.1
    conf[::3, 0, 0] = 0.9
    ds = from_numpy(pos, conf, keypoint_names=["nose", "tail"])
    sparse = TrajectoryModel(ds, pcutoff=0.5)
    sparse.method = "median"
    sparse.max_gap = 0
    nose = sparse.series("x", "nose")
    np.testing.assert_array_equal(nose[::3], np.arange(0, 31, 3) + 5)
    assert np.isnan(np.delete(nose, np.arange(0, 31, 3))).all()
    assert sparse.hidden_points(3)["keypoint"] == []
    assert sparse.hidden_text(4) == "hidden: nose (likelihood < 0.50)"
    c = sparse.coverage()
    assert c["shown"] == c["above"] and c["filled"] == 0  # none removed, none filled
    sparse.max_gap = 2  # filled: every frame has a nose
    assert np.isfinite(sparse.series("x", "nose")).all()
    assert "32 % filled in gaps ≤ 2 frames" in sparse.coverage_text


def test_a_smoother_fills_short_gaps_unless_told_otherwise(demo) -> None:
    _, path, _, _ = demo
    m = TrajectoryModel(path)
    m.method = "savgol"
    assert m.max_gap == SMOOTHING_MAX_GAP
    m.method = "median"
    assert m.max_gap == SMOOTHING_MAX_GAP
    m.method = "none"
    assert m.max_gap == 0  # what "none" showed before
    m.max_gap = 3  # the user's value is kept
    m.method = "median"
    m.method = "none"
    assert m.max_gap == 3
    off = TrajectoryModel(path)
    off.auto_gap = False
    off.method = "median"
    assert off.max_gap == 0


@pytest.mark.parametrize(
    ("label", "method", "params"),
    [("median", "median", {"window": 7}), ("Savitzky–Golay", "savgol", {"window": 9})],
)
def test_filter_choice_changes_plotted_data(
    demo, viewer, tmp_path, label, method, params
):
    """The viewer's filter is ``posekit filter --pcutoff P --max-gap G``.

    A smoother chosen fills gaps up to SMOOTHING_MAX_GAP frames first (QA s17 #4:
    the median with any NaN in its window left 6.5 % of the snout).
    """
    _, path, xy, _ = demo
    m = viewer.model
    viewer.pcutoff.value = 0.5
    before = np.asarray(viewer.series_source.data["x_2"]).copy()
    np.testing.assert_allclose(before, xy[:, 2, 0])  # "none": the raw predictions
    viewer.filter.value = method
    assert dict(viewer.filter.options)[label] == method
    assert viewer.max_gap.value == SMOOTHING_MAX_GAP  # said in the box
    viewer.window.value = params["window"]
    assert m.method == method and m.window == params["window"] and not m.error
    out = filter_predictions(
        path,
        method=method,
        pcutoff=0.5,
        max_gap=SMOOTHING_MAX_GAP,
        out=tmp_path / "filtered.h5",
        **params,
    )
    expected = load_poses(out, fps=30)
    assert np.isfinite(expected.position.values).all()  # the 5-frame gap filled
    for j, kp in enumerate(m.keypoints):
        for coord in ("x", "y"):
            got = np.asarray(viewer.series_source.data[f"{coord}_{j}"])
            want = expected.position.sel(space=coord, keypoint=kp).values[:, 0]
            np.testing.assert_allclose(got, want, equal_nan=True)
    after = np.asarray(viewer.series_source.data["x_2"])
    assert not np.allclose(after, before)
    m.frame = 30
    np.testing.assert_allclose(
        viewer.points_source.data["x"],
        expected.position.sel(space="x").values[30, :, 0],
    )


def test_invalid_filter_is_reported_not_applied(viewer) -> None:
    m = viewer.model
    m.method = "savgol"
    data = dict(viewer.series_source.data)
    m.polyorder = 5  # >= window 5
    assert "polyorder" in m.error
    assert "polyorder" in viewer.status.value
    np.testing.assert_array_equal(viewer.series_source.data["x_0"], data["x_0"])
    m.polyorder = 2
    assert m.error == ""


def test_exports_write_files(demo, viewer, tmp_path) -> None:
    _, path, xy, _ = demo
    m = viewer.model
    m.method = "median"
    m.max_gap = 0  # the gaps stay gaps
    m.pcutoff = 0.5
    paths = m.export_figures(("png", "svg"), folder=tmp_path / "figs")
    assert len(paths) == 4 and all(p.stat().st_size > 1000 for p in paths)
    pngs = [p for p in paths if p.suffix == ".png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all("<svg" in p.read_text()[:2000] for p in paths if p.suffix == ".svg")
    csv = m.export_csv(tmp_path / "poses.csv")
    df = read_dlc_csv(csv)
    assert df.columns.names == ["scorer", "bodyparts", "coords"]
    assert df.columns.get_level_values("scorer")[0] == SCORER
    expected = m.filtered.position.sel(space="x", individual="individual_0").values
    got = df.xs("x", axis=1, level="coords").to_numpy()
    np.testing.assert_allclose(got, expected, equal_nan=True)
    assert np.isnan(got[10:15, 0]).all()
    # default locations: DLC's plot-poses folder beside the predictions
    default = m.export_csv()
    assert default.parent == path.parent / "plot-poses" / path.stem
    assert pd.read_csv(default, header=[0, 1, 2], index_col=0).shape == (N, 18)


def test_labeled_video_from_the_viewer(demo, viewer, monkeypatch) -> None:
    _, path, _, _ = demo
    monkeypatch.delenv(FILES_URL_ENV, raising=False)  # plain JupyterLab: no handler
    viewer.model.method = "savgol"
    viewer.trail.value = 3
    viewer.start_labeled_video(wait=True)
    p = int(100 * viewer.model.pcutoff)
    out = path.with_name(f"{path.stem}_filtered_p{p}_labeled.mp4")  # DLC's name
    assert out.is_file(), viewer.model.error
    with VideoReader(out) as reader:
        assert reader.n_frames == N
    caption, player = viewer.video_box.children
    assert player.format == "mp4" and len(player.value) == out.stat().st_size
    # QA s17 #7: the server serves no videos/: the page says how to keep a copy
    assert out.name in caption.value and "Download" in caption.value
    assert "plays below" in viewer.model.message
    assert not viewer.video_button.disabled


def test_labeled_video_plays_from_the_server_that_serves_it(
    demo, viewer, monkeypatch
) -> None:
    """Under posekit's server the player gets the file's address, not its bytes.

    A labelled video of 500 MB went through the kernel's websocket into the page;
    the server serves it read-only (``/posekit/files/``), so the browser fetches it.
    """
    project, path, _, _ = demo
    prefix = "/user/me/posekit/files/"
    monkeypatch.setenv(FILES_URL_ENV, prefix)
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(project.path.parent))
    viewer.start_labeled_video(wait=True)
    assert viewer.model.error == ""
    p = int(100 * viewer.model.pcutoff)
    out = path.with_name(f"{path.stem}_p{p}_labeled.mp4")  # DLC's name, no filter
    assert out.is_file()
    url = prefix + quote(str(out.resolve()).lstrip("/"))
    caption, player = viewer.video_box.children
    assert player.format == "url" and player.value == url.encode()
    assert "posekit-viewer-labeled-video" in player._dom_classes
    assert f'href="{url}" download="{out.name}"' in caption.value
    # a video the server would not serve (outside the data root): the bytes again
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(path.parent / "elsewhere"))
    viewer.start_labeled_video(wait=True)
    caption, player = viewer.video_box.children
    assert player.format == "mp4" and len(player.value) == out.stat().st_size
    assert "href" not in caption.value


def test_labeled_video_error_shows_the_message_and_logs_the_traceback(
    viewer, monkeypatch, caplog
) -> None:
    def broken(**kwargs):
        raise RuntimeError("the encoder is missing")

    monkeypatch.setattr(viewer.model, "make_labeled_video", broken)
    with caplog.at_level(logging.ERROR, logger="posekit.widgets.viewer"):
        viewer.start_labeled_video(wait=True)
    assert viewer.model.error == (
        "Something went wrong inside posekit (RuntimeError: the encoder is "
        "missing); the details are in the server's log."
    )
    assert "Traceback" not in viewer.status.value
    assert "Traceback" in caplog.text and "the encoder is missing" in caplog.text


def test_app_refuses_a_file_outside_the_data_root(demo, tmp_path, monkeypatch):
    import shutil

    project, path, _, _ = demo
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    app = TrajectoryApp(project, load_bokehjs=False)
    assert app.files[0] == path and app.viewer.model.source == path
    offered = list(app.files)
    first = app.viewer
    stray = Path(shutil.copy(path, outside / path.name))
    for value in (stray, root / ".." / "outside" / path.name):
        assert app.open(value) is None
        assert "outside the folders the apps may open" in app.message.value
        assert "is outside the folders the apps may open" in app.message.value
        assert app.viewer is first and app.dropdown.value == str(path)
    # inside the data root: opened and offered in the menu
    inside = Path(shutil.copy(path, root / path.name))
    viewer = app.open(inside)
    assert viewer is not None and app.viewer is viewer and app.message.value == ""
    assert app.files == [*offered, inside] and app.dropdown.value == str(inside)
    app.dropdown.value = str(path)  # the menu opens the project's file again
    assert app.viewer.model.source == path


def test_dataset_and_video_path(demo, tmp_path) -> None:
    project, path, _, _ = demo
    ds = load_poses(path, fps=30)
    video = project.path / "videos" / "session1.mp4"
    m = TrajectoryModel(ds, video, export_dir=tmp_path, skeleton=[("snout", "neck")])
    assert m.project is None and m.skeleton == [("snout", "neck")]
    assert m.image(3).shape == (240, 320, 3)
    assert m.export_csv().parent == tmp_path
    v = TrajectoryViewer(m, load_bokehjs=False)
    assert v.model is m
    no_video = TrajectoryModel(ds)
    assert no_video.image() is None and no_video.reader is None


def test_long_recordings_are_decimated_in_the_plots(demo) -> None:
    _, path, xy, _ = demo
    m = TrajectoryModel(path, max_points=10)
    assert m.stride == 5  # 48 frames / 10 points
    table = m.series_table()
    np.testing.assert_array_equal(table["frame"], np.arange(0, N, 5))
    np.testing.assert_allclose(table["x_1"], xy[::5, 1, 0])
    assert set(m.trajectory()["frame"]) <= set(range(0, N, 5))
    v = TrajectoryViewer(m, load_bokehjs=False)
    m.frame = 7  # the cursor and the frame view stay frame-exact
    np.testing.assert_allclose(v.points_source.data["x"], xy[7, :, 0])
    assert v.cursors["x"].location == 7


def test_plots_scroll_and_messages_are_announced(viewer) -> None:
    """QA s15 #11 (time series cut at 200 % zoom), #8 (silent status)."""
    assert viewer.bokeh_model.layout.overflow == "auto"
    assert viewer.bokeh_model.layout.max_width == "100%"
    assert "posekit-scroll" in viewer.bokeh_model._dom_classes
    assert "posekit-live" in viewer.status._dom_classes
    # the sliders and the Play widget are named (the page script names the handles
    # and the icon buttons from these)
    assert viewer.slider.description and viewer.pcutoff.description


def test_model_opens_without_counting_the_video(demo, monkeypatch) -> None:
    """DLC .h5 files carry no fps: it comes from the video, without counting frames.

    ``if self.reader`` used to call ``len(reader)``, decoding the whole video
    (100-150 s for a 1-hour recording).
    """
    _, path, _, _ = demo

    def count(self):
        raise AssertionError("every frame decoded to count them")

    monkeypatch.setattr(VideoReader, "_count_frames", count)
    m = TrajectoryModel(path)
    assert m.reader is not None and m.fps == pytest.approx(30.0)


@pytest.fixture
def three_animals():
    """3 animals x 4 keypoints x 300 frames, random walks, likelihoods that leave gaps."""
    from posekit.engine.poses import from_numpy

    rng = np.random.default_rng(5)
    pos = 200 + np.cumsum(rng.normal(0, 3, (300, 2, 4, 3)), axis=0)
    conf = rng.uniform(0, 1, (300, 4, 3))
    return from_numpy(pos, conf, fps=30.0)


def test_a_filter_change_filters_only_the_animal_shown(three_animals, monkeypatch):
    """F6: a slider move used to refilter every animal over the whole recording."""
    import posekit.engine.postprocessing as postprocessing

    m = TrajectoryModel(three_animals, pcutoff=0.3)
    filtered_frames = []
    original = postprocessing.smooth_predictions

    def counted(ds, *args, **kwargs):
        filtered_frames.append(ds.sizes["time"] * ds.sizes["individual"])
        return original(ds, *args, **kwargs)

    monkeypatch.setattr(postprocessing, "smooth_predictions", counted)
    m.pcutoff = 0.5
    m.method = "median"
    m.points(150)  # the frame view: a window around the frame
    assert sum(filtered_frames) < 2 * 300 + 3 * 100  # not 2 x 3 animals x 300
    assert m.series("x").shape == (300,)


@pytest.mark.parametrize(
    ("method", "window", "max_gap"),
    [("none", 5, 3), ("median", 7, 4), ("savgol", 9, 2), ("median", 5, 0)],
)
def test_points_filtered_in_a_window_equal_the_whole_filter(
    three_animals, method, window, max_gap
):
    lazy = TrajectoryModel(three_animals, pcutoff=0.4)
    lazy.window, lazy.max_gap, lazy.method = window, max_gap, method
    assert lazy.error == ""
    full = TrajectoryModel(three_animals, pcutoff=0.4)
    full.window, full.max_gap, full.method = window, max_gap, method
    assert full.filtered.sizes["individual"] == 3  # all filtered, whole recording
    for frame in (0, 3, 150, 296, 299):
        a, b = lazy.points(frame), full.points(frame)
        np.testing.assert_allclose(a["x"], b["x"], equal_nan=True)
        np.testing.assert_allclose(a["y"], b["y"], equal_nan=True)
    assert len(lazy._parts) == 1  # the points did not filter the other animals
    np.testing.assert_allclose(
        lazy.filtered.position.values, full.filtered.position.values, equal_nan=True
    )
    np.testing.assert_allclose(lazy.speed.values, full.speed.values, equal_nan=True)


@pytest.mark.parametrize(
    ("method", "options"),
    [("median", ["--window", "5"]), ("savgol", ["--window", "7", "--polyorder", "2"])],
)
def test_viewer_smooths_gaps_as_posekit_filter(demo, tmp_path, method, options):
    """One smoother: the viewer's filtered values are ``posekit filter``'s.

    On a series with gaps the smoother neither removes a point next to a gap nor
    fills one. Before, the viewer ran its own median (a point needed half its
    window) and plain Savitzky–Golay (NaN spread by half the window around each
    gap), while ``posekit filter`` keeps every point.
    """
    from posekit.engine.cli import main

    project, _, xy, lik = demo
    lik = lik.copy()
    lik[[28, 30, 31], 1] = LOW  # leftear: frame 29 alone between gaps
    lik[20:23, 3] = LOW
    xyp = np.concatenate([xy, lik[..., None]], axis=-1)
    xyp[40:43, 4] = np.nan  # no detection at all
    path = write_predictions(
        predictions_frame(xyp, SCORER, project.bodyparts),
        tmp_path / f"gaps{SCORER}.h5",
    )
    assert (
        main(
            [
                "filter",
                str(project.path),
                str(path),
                "--method",
                method,
                "--pcutoff",
                "0.5",
                *options,
            ]
        )  # fmt: skip
        == 0
    )
    expected = load_poses(path.with_name(path.stem + "_filtered.h5"))
    m = TrajectoryModel(path, pcutoff=0.5)
    m.auto_gap = False  # gaps stay gaps, as posekit filter without --max-gap
    m.window = int(options[1])
    m.method = method
    assert m.max_gap == 0 and not m.error
    got = m.filtered.position.transpose(*expected.position.dims).values
    want = expected.position.values
    np.testing.assert_allclose(got, want, equal_nan=True, rtol=0, atol=1e-9)
    present = np.isfinite(xyp[..., 0]) & (lik >= 0.5)
    assert np.array_equal(np.isfinite(got[:, 0, :, 0]), present)  # none added
    assert np.isfinite(m.series("x", "leftear")[29])


def _tracks_file(tmp_path: Path) -> Path:
    """Two mice, 40 frames; mouse1 has no animal at 10-19, an unsure snout at 30-33.

    Written as a stitched tracks file (``…_el.h5``, key ``tracks``) is: no
    position and no likelihood where the stitcher gave the animal nothing.
    """
    rng = np.random.default_rng(3)
    xyp = np.empty((40, 2, 3, 3))
    xyp[..., :2] = 50 + np.cumsum(rng.normal(0, 1, (40, 2, 3, 2)), axis=0)
    xyp[..., 2] = 0.9
    xyp[10:20, 0] = np.nan  # mouse1 missing: no detection
    xyp[30:34, 0, 0, 2] = 0.1  # mouse1 snout below the p-cutoff
    xyp[5, 0, 2] = np.nan  # mouse1 tail not detected in one frame
    df = predictions_frame(
        xyp, SCORER, ["snout", "neck", "tail"], individuals=["mouse1", "mouse2"]
    )
    return write_predictions(df, tmp_path / f"m{SCORER}_el.h5", key="tracks")


def test_missing_animal_is_not_below_the_pcutoff(tmp_path) -> None:
    """QA s18 (multianimal #7): frames without the animal are not unsure points.

    The message counted the frames where the stitcher gave mouse1 no animal as
    points below the p-cutoff, with the hint that a longer training helps.
    """
    m = TrajectoryModel(_tracks_file(tmp_path), pcutoff=0.6)
    assert m.individual == "mouse1"
    c = m.coverage()
    assert (c["points"], c["low"], c["missing"], c["missing_frames"]) == (
        120,
        4,
        31,
        10,
    )
    assert c["above"] == 120 - 4 - 31
    assert c["below"] == {"snout": 0.1, "neck": 0.0, "tail": 0.0}
    assert m.coverage_text == (
        "3 % of the points of mouse1 are below the p-cutoff (0.60) and hidden "
        "(hollow circles on the frame): snout 10 %. The network is unsure of them "
        "(a longer training helps), or they are out of sight. mouse1 is missing in "
        "10 of 40 frames (no detection: the tracks give it no animal there). "
        "Tracking and stitching decide that, not the network's confidence: check "
        "the number of animals the tracks were stitched into (posekit analyze "
        "--animals N) and try another tracker (--track-method). 1 point of mouse1 "
        "has no position in the frames where it is present (the bodypart was not "
        "detected)."
    )
    m.pcutoff = 0.05  # nothing below: the missing frames are still said
    assert m.coverage_text.startswith("mouse1 is missing in 10 of 40 frames")
    m.method = "median"
    assert "smoothed them" in m.coverage_text
    assert "mouse1 is missing in 10 of 40 frames" in m.coverage_text
    m.individual = "mouse2"
    m.method = "none"
    m.max_gap = 0
    assert m.coverage_text == ""  # all there, nothing below
    hidden = m.hidden_points(12)  # mouse1 has no point to draw hollow at frame 12
    assert "mouse1" not in hidden["individual"]


def test_a_long_legend_wraps_within_the_plots_width() -> None:
    """QA s23 (SLEAP user) 8: 13 fly bodyparts in one row ran over the frame view."""
    names = ["head", "thorax", "abdomen", "wingL", "wingR"] + [
        f"{leg}leg{side}4" for leg in ("fore", "mid", "hind") for side in "LR"
    ] + ["eyeL", "eyeR"]  # fmt: skip
    pos = np.zeros((6, 2, len(names), 1)) + 50.0
    viewer = TrajectoryViewer(from_numpy(pos, keypoint_names=names), load_bokehjs=False)
    legend = viewer.series_figures["x"].legend[0]
    assert [item.label.value for item in legend.items] == names
    # 9-character labels at 9 px: about 84 px an item, 6 in the 560 px plot
    assert legend.ncols == 6
    few = TrajectoryViewer(
        from_numpy(pos[:, :, :4], keypoint_names=names[:4]), load_bokehjs=False
    )
    assert few.series_figures["x"].legend[0].ncols == 4  # one row, as before
