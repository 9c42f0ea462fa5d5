"""The behaviour app's page, headless.

Load → clean → calibrate → ROI → metrics → classify → export through the page's
controls, with answers computed by the engine on the same file. The model itself
(posekit.engine.behavior.session.BehaviorModel) is tested in
tests/engine/behavior/test_session.py.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from posekit.engine.behavior.calibration import Calibration
from posekit.engine.behavior.roi import (
    RectangleROI,
    compute_roi_occupancy,
    roi_bouts,
    roi_summary,
)
from posekit.engine.demo import make_demo_project
from posekit.engine.io import load_poses
from posekit.widgets.behavior_app import BehaviorApp

DEMO_FRAMES = 150
DEMO_FPS = 30.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_project(
        tmp_path_factory.mktemp("behavior-app"),
        n_frames=DEMO_FRAMES,
        n_labeled=0,
        fps=DEMO_FPS,
    )


@pytest.fixture(scope="module")
def truth_file(demo):
    return demo.path / "ground-truth" / "session1_keypoints.h5"


def _square_entered_later(path) -> RectangleROI:
    """Return a 50 px square around the centroid where it is farthest from its start."""
    pos = load_poses(path)["position"].mean("keypoint")
    xy = pos.isel(individual=0).transpose("time", "space").values
    far = int(np.argmax(np.hypot(*(xy - xy[0]).T)))
    cx, cy = np.round(xy[far])
    return RectangleROI("roi1", cx - 25, cy - 25, cx + 25, cy + 25)


# ------------------------------------------------------------------ the page


def test_app_load_roi_metrics_export(demo, truth_file, tmp_path) -> None:
    out = tmp_path / "results"
    app = BehaviorApp(demo, output_dir=out, load_bokehjs=False)
    # the demo's ground truth is loaded at start, with its frame rate
    assert app.path_box.value == str(truth_file)
    assert "Loaded 1 session(s)" in app.load_message.value
    assert (app.load_progress.value, app.load_progress.max) == (1, 1)
    # no rate is set for all: the session uses its own (from the demo video)
    assert app.fps.value == 0.0
    assert app.model.session_fps("session1_keypoints") == DEMO_FPS
    assert [s.name for s in app.model.sessions] == ["session1_keypoints"]
    assert app.roi_editor.image_source.data["url"][0].startswith("data:image/jpeg")
    assert "posekit-roi-empty" in app.roi_html.value  # no ROI yet

    # an ROI drawn in the editor (as BoxEditTool sends it) reaches the metrics
    roi = _square_entered_later(truth_file)
    app.roi_editor.rect_source.data = {
        "x": [(roi.x_min + roi.x_max) / 2], "y": [(roi.y_min + roi.y_max) / 2],
        "width": [roi.x_max - roi.x_min], "height": [roi.y_max - roi.y_min],
        "name": [""],
    }  # fmt: skip
    assert app.model.rois == [roi]
    poses = Calibration(fps=DEMO_FPS).apply(load_poses(truth_file))
    occ = compute_roi_occupancy(poses, [roi])
    expected = roi_summary(occ, fps=DEMO_FPS).iloc[0]
    assert expected["entries"] >= 1 and expected["latency"] > 0
    table = app.model.roi_table().iloc[0]
    for col in ("frames_inside", "entries", "exits", "latency", "n_bouts"):
        assert table[col] == expected[col], col
    assert "posekit-roi" in app.roi_html.value
    assert f"<td>{int(expected['latency'])}</td>" in app.roi_html.value

    # export through the button: CSV files with the engine's numbers
    app.export_png.value = False
    app.export_excel.value = False
    app.export_button.click()
    assert app.export_message.value == ""
    assert app.export_progress.value == app.export_progress.max
    written = sorted(p.name for p in out.iterdir())
    assert "roi_summary.csv" in written and "rois.geojson" in written
    for name in written:
        assert f">{name}</code>" in app.files_html.value
    got = pd.read_csv(out / "roi_summary.csv").iloc[0]
    assert (got["session"], got["roi"]) == ("session1_keypoints", "roi1")
    for col in ("frames_inside", "entries", "exits", "latency", "n_bouts"):
        assert got[col] == expected[col], col
    assert got["time_inside_s"] == pytest.approx(expected["time_inside_s"])
    visits = pd.read_csv(out / "roi_bouts.csv")
    eng = roi_bouts(occ, fps=DEMO_FPS)
    assert visits[["start", "end", "duration"]].values.tolist() == (
        eng[["start", "end", "duration"]].values.tolist()
    )
    assert visits["start"].iloc[0] == expected["latency"]


def test_app_cleaning_and_calibration_controls(demo, truth_file) -> None:
    app = BehaviorApp(demo, load_bokehjs=False)
    px = app.model.kinematics_table().iloc[0]["distance"]
    app.threshold.value = 0.5
    app.max_gap.value = 3
    app.smoother.value = "savgol"
    app.window.value = 6  # even: the app uses 7
    app.clean_button.click()
    cfg = app.model.filter_config
    assert (cfg.method, cfg.window, cfg.polyorder) == ("savgol", 7, 2)
    assert (cfg.confidence_threshold, cfg.max_gap) == (0.5, 3)
    assert "Savitzky-Golay filter: window (frames) 7, order 2" in app.log_box.value
    app.jump_k.value = 3.0
    app.body_from.value = app.body_to.value = "snout"
    app.clean_button.click()
    assert "two different body keypoints" in app.clean_message.value

    app.smoother.value = "none"
    app.jump_k.value = 0.0
    app.threshold.value = 0.0
    app.max_gap.value = 0
    app.clean_button.click()
    app.arena_px.value, app.arena_mm.value = 300.0, 150.0
    app.arena_button.click()
    assert app.mm_per_px.value == 0.5
    app.keypoint.value = "snout"
    app.calib_button.click()
    k = app.model.kinematics_table().iloc[0]
    assert k["distance_unit"] == "mm"
    snout = load_poses(truth_file)["position"].sel(keypoint="snout")
    steps = np.hypot(*np.diff(snout.isel(individual=0).values, axis=0).T)
    assert k["distance"] == pytest.approx(0.5 * np.nansum(steps))
    assert px != pytest.approx(k["distance"])


def test_app_sessions_table_groups_classify_export(demo, truth_file, tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    for name in ("m1", "m2", "m3"):
        shutil.copy(truth_file, folder / f"{name}.h5")
    pd.DataFrame(
        {"file": ["m1.h5", "m2.h5", "m3.h5"], "group": ["ctrl", "ctrl", "drug"]}
    ).to_csv(folder / "sessions.csv", index=False)
    out = tmp_path / "out"
    app = BehaviorApp(demo, output_dir=out, autoload=False, load_bokehjs=False)
    app.load(folder / "sessions.csv")
    assert (app.load_progress.value, app.load_progress.max) == (3, 3)
    assert app.model.sessions_table()[["session", "group"]].values.tolist() == [
        ["m1", "ctrl"],
        ["m2", "ctrl"],
        ["m3", "drug"],
    ]
    assert app.track_dropdown.options == ("m1", "m2", "m3")
    assert app.kinematics_html.value.count("<td>ctrl</td>") == 2
    # the group boxes of the page edit the groups
    app._group_boxes["m3"].value = "treated"
    assert app.model.session("m3").group == "treated"

    # the demo's behaviour labels (found by name) are offered, loaded and trained on
    labels_path = demo.path / "ground-truth" / "session1_behavior.csv"
    truth = pd.read_csv(labels_path)["behavior"].astype(str).to_numpy()
    app.labels_path.value = str(labels_path)
    app.labels_load.click()
    assert app.classify_message.value.startswith("<small>loaded labels for 150")
    assert app.model.annotations["m1"].tolist() == truth.tolist()
    app.n_estimators.value = 30
    app.min_bout.value = 1
    app.train_button.click()
    result = app.model.cv_result
    assert result is not None and app.classify_message.value == ""
    assert f"{result.macro_f1:.3f}" in app.scores_html.value
    assert result.scores.index.tolist() == sorted(set(truth))
    app.predict_button.click()
    assert set(app.model.predictions) == {"m1", "m2", "m3"}
    # the same poses in every session: the same predictions, close to the truth
    pred = app.model.predictions["m1"]
    assert pred.tolist() == app.model.predictions["m3"].tolist()
    assert np.mean(pred == truth) >= 0.9
    assert app.annotator.predictions.tolist() == pred.tolist()
    assert "posekit-behavior-summary" in app.behavior_html.value

    # switching the animal shows its own (empty) marks, then back
    app.track_dropdown.value = "m2"
    assert app.annotator.title == "ethogram · m2"
    assert app.annotator.labels().tolist() == ["none"] * DEMO_FRAMES
    app.track_dropdown.value = "m1"
    assert app.annotator.labels().tolist() == truth.tolist()

    files = app.model.export(out, excel=True, figure_formats=("png",))
    names = {p.name for p in files}
    assert {"behavior_bouts.csv", "group_summary.csv", "classifier_scores.csv",
            "behavior_tables.xlsx", "m1_trajectory.png", "m1_ethogram.png"} <= names  # fmt: skip
    groups = pd.read_csv(out / "group_summary.csv")
    assert set(groups["group"]) == {"ctrl", "treated"}
    bouts = pd.read_csv(out / "behavior_bouts.csv")
    assert set(bouts["track"]) == {"m1", "m2", "m3"}
    sheets = pd.read_excel(out / "behavior_tables.xlsx", sheet_name=None)
    assert "behavior_bouts" in sheets and "sessions" in sheets


def test_app_motifs_and_errors(demo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(tmp_path))
    app = BehaviorApp(demo, load_bokehjs=False)
    app.n_motifs.value = 3
    app.cluster_button.click()
    labels = app.model.predictions["session1_keypoints"]
    assert set(labels) <= {"motif0", "motif1", "motif2"} and len(labels) == 150
    # the fit's sample is said (every frame of a short session)
    assert "motifs fitted on 150 of 150 frames" in app.classify_message.value
    assert app.model.motif_table is not None
    assert "Example clips per motif" in app.behavior_html.value
    # a path that does not exist: an error message, the loaded session stays
    app.path_box.value = str(tmp_path / "nothing.h5")
    app.load_button.click()
    assert "No file or folder at" in app.load_message.value
    assert "FileNotFoundError" not in app.load_message.value  # the apps' words
    assert len(app.model.sessions) == 1
    app.export_csv.value = app.export_excel.value = app.export_png.value = False
    app.output_box.value = str(tmp_path / "x")
    app.export_svg.value = True
    app.export_button.click()
    assert (tmp_path / "x" / "session1_keypoints_trajectory.svg").is_file()


def test_path_boxes_refuse_paths_outside_the_data_root(
    demo, truth_file, tmp_path, monkeypatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    copied = outside / "m1.h5"
    shutil.copy(truth_file, copied)
    app = BehaviorApp(demo, output_dir=root / "out", load_bokehjs=False)
    assert [s.name for s in app.model.sessions] == ["session1_keypoints"]
    # the tracking file box
    for value in (copied, root / ".." / "outside" / "m1.h5"):
        app.path_box.value = str(value)
        app.load_button.click()
        assert "outside the folders the apps may open" in app.load_message.value
        assert "the tracking file" in app.load_message.value.lower()
        assert [s.name for s in app.model.sessions] == ["session1_keypoints"]
    # the labels box: neither loaded nor written outside
    labels = outside / "labels.csv"
    pd.DataFrame({"frame": [0, 1], "behavior": ["rest", "rest"]}).to_csv(labels)
    app.labels_path.value = str(labels)
    app.labels_load.click()
    assert "outside the folders the apps may open" in app.classify_message.value
    app.labels_path.value = str(outside / "mine.csv")
    app.labels_save.click()
    assert "outside the folders the apps may open" in app.classify_message.value
    assert not (outside / "mine.csv").exists()
    # the output folder: nothing exported outside, neither tables nor poses
    app.export_csv.value, app.export_excel.value = True, False
    app.export_png.value = app.export_svg.value = False
    app.output_box.value = str(outside / "results")
    app.export_button.click()
    assert "outside the folders the apps may open" in app.export_message.value
    assert "the output folder" in app.export_message.value.lower()
    with pytest.raises(PermissionError, match="outside the folders"):
        app.pose_export.model.export()
    assert not (outside / "results").exists()
    # inside the data root (relative: in its first folder) and the app's own folders
    app.output_box.value = "results"
    app.export_button.click()
    assert any((root / "results").glob("*.csv")), app.export_message.value
    app.labels_path.value = str(demo.path / "ground-truth" / "session1_behavior.csv")
    app.labels_load.click()
    assert app.classify_message.value.startswith("<small>loaded labels for 150")
    app.labels_path.value = str(root / "out" / "session1_labels.csv")
    app.labels_save.click()
    assert (root / "out" / "session1_labels.csv").is_file()


# ------------------------------------------------------------ kept between visits


@pytest.fixture
def project(tmp_path):
    """Return a fresh demo project per test (what one test saves, no other sees)."""
    return make_demo_project(tmp_path / "fresh", n_frames=60, n_labeled=0, fps=DEMO_FPS)


def test_marks_are_saved_at_once_and_come_back(project) -> None:
    key = "session1_keypoints"
    saved = project.path / "behavior-results" / f"{key}_labels.csv"
    app = BehaviorApp(project, load_bokehjs=False)
    assert app.autosave_path(key) == saved
    assert str(saved) in app.labels_note.value  # the page says where
    # the user's steps: type a behaviour, Add, Mark range (no Save labels)
    annot = app.annotator
    annot.new_behavior.value = "grooming"
    annot.add_behavior_button.click()
    annot.range_slider.value = (0, 29)
    annot.mark_button.click()
    assert saved.is_file()
    written = pd.read_csv(saved)
    assert written["behavior"].tolist() == ["grooming"] * 30 + ["none"] * 30
    assert "last saved" in app.labels_note.value
    assert not list(saved.parent.glob("*.tmp*"))  # written atomically

    # a reload (or coming back from another app): a new page on the same project
    again = BehaviorApp(project, load_bokehjs=False)
    assert again.model.annotations[key].tolist() == written["behavior"].tolist()
    bouts = again.annotator.bouts()
    assert bouts[["behavior", "start", "end"]].values.tolist() == [["grooming", 0, 29]]
    assert "grooming" in again.annotator.behaviors
    assert again.labels_path.value == str(saved)  # Load/Save labels use it too
    # deleting the bout is saved as well
    again.annotator.frame_slider.value = 10
    again.annotator.delete_button.click()
    third = BehaviorApp(project, load_bokehjs=False)
    assert third.annotator.bouts().empty

    # Load labels still works, and what it loads is saved at once too
    truth = project.path / "ground-truth" / "session1_behavior.csv"
    third.labels_path.value = str(truth)
    third.labels_load.click()
    assert third.classify_message.value.startswith("<small>loaded labels for")
    want = pd.read_csv(truth)["behavior"].astype(str).tolist()
    assert pd.read_csv(saved)["behavior"].tolist() == want
    # and Save labels writes the path in its box
    mine = project.path / "behavior-results" / "mine_labels.csv"
    third.labels_path.value = str(mine)
    third.labels_save.click()
    assert pd.read_csv(mine)["behavior"].tolist() == want


def test_marks_of_each_animal_are_saved_apart(project, tmp_path) -> None:
    from posekit.engine.io import save

    one = load_poses(project.path / "ground-truth" / "session1_keypoints.h5")
    pair = xr.concat([one, one.assign(position=one["position"] + 5.0)], "individual")
    pair = pair.assign_coords(individual=["mouse1", "mouse2"])
    path = save(pair, project.path / "pair.nc")
    app = BehaviorApp(project, path=path, load_bokehjs=False)
    assert app.track_dropdown.options == ("pair/mouse1", "pair/mouse2")
    out = project.path / "behavior-results"
    assert app.autosave_path("pair/mouse2") == out / "pair_mouse2_labels.csv"
    app.annotator.add_bout("rest", 5, 9)
    app.track_dropdown.value = "pair/mouse2"
    app.annotator.add_bout("walk", 20, 24)
    assert {p.name for p in out.glob("*_labels.csv")} == {
        "pair_mouse1_labels.csv",
        "pair_mouse2_labels.csv",
    }
    again = BehaviorApp(project, path=path, load_bokehjs=False)
    assert set(again.model.annotations) == {"pair/mouse1", "pair/mouse2"}
    assert again.annotator.bouts()[["behavior", "start", "end"]].values.tolist() == [
        ["rest", 5, 9]
    ]
    again.track_dropdown.value = "pair/mouse2"
    assert again.annotator.bouts()[["behavior", "start", "end"]].values.tolist() == [
        ["walk", 20, 24]
    ]


def test_rois_are_saved_at_once_and_come_back(project) -> None:
    saved = project.path / "behavior-results" / "rois.geojson"
    app = BehaviorApp(project, load_bokehjs=False)
    assert app.rois_path == saved and str(saved) in app.roi_note.value
    assert not saved.exists()
    # Add circle, as the QA tester did
    editor = app.roi_editor
    editor.name_box.value = "centre"
    editor.cx.value, editor.cy.value, editor.radius.value = 320.0, 240.0, 60.0
    editor.add_circle_button.click()
    assert saved.is_file()
    table = app.model.roi_table()

    again = BehaviorApp(project, load_bokehjs=False)
    assert again.roi_editor.rois == app.roi_editor.rois
    assert again.model.rois == app.model.rois
    assert "loaded 1 saved ROI(s)" in again.roi_editor.status.value
    pd.testing.assert_frame_equal(again.model.roi_table(), table)
    assert "posekit-roi-empty" not in again.roi_html.value
    # a deletion is saved too; Export (writing the same file) still works
    again.roi_editor.remove("centre")
    assert BehaviorApp(project, load_bokehjs=False).roi_editor.rois == []
    again.export_png.value = again.export_excel.value = False
    again.export_button.click()
    assert again.export_message.value == ""


def test_nothing_is_saved_by_itself_without_a_project(truth_file, tmp_path) -> None:
    tracking = tmp_path / "m1.h5"
    shutil.copy(truth_file, tracking)
    app = BehaviorApp(path=tracking, load_bokehjs=False)
    assert app.autosave_dir is None and app.rois_path is None
    assert "Save labels" in app.labels_note.value
    app.annotator.add_bout("walk", 0, 3)
    app.roi_editor.add_circle("c", 10, 10, 5)
    assert not any(tmp_path.rglob("*labels.csv")) and not any(
        tmp_path.rglob("*.geojson")
    )


def test_threshold_starts_at_the_project_pcutoff(project, truth_file, tmp_path):
    config = project.path / "config.yaml"
    config.write_text(config.read_text().replace("pcutoff: 0.5", "pcutoff: 0.7"))
    app = BehaviorApp(project.path, load_bokehjs=False)
    assert app.project.pcutoff == 0.7
    assert app.threshold.value == 0.7
    # and it is applied: the metrics leave out the points below it
    assert app.model.filter_config.confidence_threshold == 0.7
    assert "Likelihood cut-off: threshold 0.7," in app.log_box.value
    assert "p-cutoff (0.70)" in app.clean_message.value
    # without a project: no threshold
    plain = BehaviorApp(path=truth_file, output_dir=tmp_path, load_bokehjs=False)
    assert plain.threshold.value == 0.0
    assert plain.model.filter_config.confidence_threshold is None


def test_sessions_table_long_names_wrap(truth_file, tmp_path) -> None:
    long = "m3v1mp4DLC_effnet_lite0_openfieldDec6shuffle1_161"
    tracking = tmp_path / f"{long}.h5"
    shutil.copy(truth_file, tracking)
    app = BehaviorApp(path=tracking, output_dir=tmp_path / "out", load_bokehjs=False)
    head, row = app.sessions_box.children
    cells = row.children[:4]
    for header, cell in zip(head.children, cells, strict=False):
        assert header.layout.width == cell.layout.width  # the columns line up
        assert cell.layout.overflow == "hidden"  # nothing runs into the next column
        assert "overflow-wrap:anywhere" in cell.value  # long text wraps
    assert f">{long}</code>" in cells[0].value
    assert f"title='{tracking}'" in cells[0].value  # the whole path on hover


def test_sessions_table_scrolls_and_its_boxes_are_named(demo) -> None:
    """QA s15 #11 (table cut at 200 % zoom) and #8 (unnamed group box, silence)."""
    app = BehaviorApp(demo, load_bokehjs=False)
    assert app.sessions_box.layout.overflow == "auto"
    assert "posekit-scroll" in app.sessions_box._dom_classes
    for row in app.sessions_box.children:  # the table scrolls, not each row
        assert row.layout.min_width == "max-content"
        assert row.layout.overflow == "visible"
    assert app._group_boxes
    for name, box in app._group_boxes.items():
        assert box.tooltip == f"group of {name}"
    for box in (app.load_message, app.classify_message, app.export_message):
        assert "posekit-live" in box._dom_classes
