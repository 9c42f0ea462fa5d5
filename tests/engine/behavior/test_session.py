"""BehaviorModel without widgets.

Load → clean → calibrate → ROI → metrics → labels → export, with answers known in
advance (a synthetic constant-velocity trajectory) or read back from the files written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.annotations import labels_file_for
from posekit.engine.behavior.roi import LineROI, RectangleROI, save_rois
from posekit.engine.behavior.session import (
    BehaviorModel,
    Session,
    Track,
    default_input,
    find_tracking_files,
    read_sessions_table,
)
from posekit.engine.poses import from_numpy

N = 60
FPS = 10.0


def _synthetic() -> object:
    """Return two keypoints moving right at 2 px/frame, at y = 48 and y = 52.

    The centroid is x = 2t + 1, y = 50; frame 25 has likelihood 0.1, the others 1.
    """
    t = np.arange(N, dtype=float)
    pos = np.zeros((N, 2, 2, 1))
    pos[:, 0, :, 0] = (2 * t + 1)[:, None]
    pos[:, 1, 0, 0], pos[:, 1, 1, 0] = 48.0, 52.0
    conf = np.ones((N, 2, 1))
    conf[25] = 0.1
    return from_numpy(pos, conf, keypoint_names=["nose", "tail"], fps=FPS)


@pytest.fixture
def truth_file(demo_project_ro):
    return demo_project_ro.path / "ground-truth" / "session1_keypoints.h5"


def test_session_imports_no_widget_library() -> None:
    code = (
        "import sys, posekit.engine.behavior.session; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'ipywidgets', 'bokeh', 'jupyter_bokeh', 'ipyevents'}), "
        "any(m.startswith('posekit.widgets') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[] False"


def test_model_synthetic_clean_roi_kinematics_export(tmp_path) -> None:
    m = BehaviorModel(output_dir=tmp_path / "out")
    m.add_dataset(_synthetic(), name="mouse", group="control")
    assert m.calibration.fps == FPS  # taken from the data
    m.set_rois([RectangleROI("box", 40, 40, 60, 60)])

    # raw: centroid x = 2t + 1 inside 40..60 for t = 20..29
    row = m.roi_table().iloc[0]
    assert (row["session"], row["group"], row["roi"]) == ("mouse", "control", "box")
    assert row["latency"] == 20 and row["entries"] == 1
    assert row["frames_inside"] == 10 and row["time_inside_s"] == pytest.approx(1.0)
    k = m.kinematics_table().iloc[0]
    assert k["mean_speed"] == pytest.approx(20.0)  # 2 px/frame at 10 fps
    assert k["distance"] == pytest.approx(2.0 * (N - 1))
    assert k["straightness"] == pytest.approx(1.0)
    assert (k["distance_unit"], k["speed_unit"]) == ("px", "px/s")

    # likelihood threshold: frame 25 becomes missing and splits the visit in two
    m.set_cleaning(method="none", confidence_threshold=0.5)
    row = m.roi_table().iloc[0]
    assert row["frames_inside"] == 9 and row["frames_observed"] == N - 1
    assert row["entries"] == 2 and row["n_bouts"] == 2
    assert m.roi_bouts_table()[["start", "end"]].values.tolist() == [[20, 24], [26, 29]]
    # gap interpolation (1 frame) brings it back, and the log records both steps
    m.set_cleaning(method="none", confidence_threshold=0.5, max_gap=1)
    row = m.roi_table().iloc[0]
    assert row["frames_inside"] == 10 and row["entries"] == 1
    operations = [s["operation"] for s in m.processing_log("mouse")]
    assert operations[:2] == ["filter_by_confidence", "interpolate_gaps"]
    assert operations[-1] == "calibrate"

    # 0.5 mm per pixel: distance and speed halve, in mm
    m.set_calibration(fps=FPS, mm_per_px=0.5)
    k = m.kinematics_table().iloc[0]
    assert k["distance"] == pytest.approx(N - 1.0)
    assert k["mean_speed"] == pytest.approx(10.0)
    assert (k["distance_unit"], k["speed_unit"]) == ("mm", "mm/s")
    # ROIs stay in pixels
    assert m.roi_table().iloc[0]["latency"] == 20

    files = m.export(excel=False, figure_formats=())
    names = sorted(p.name for p in files)
    assert names == sorted(
        [
            "sessions.csv",
            "kinematics.csv",
            "roi_summary.csv",
            "roi_bouts.csv",
            "rois.geojson",
            "settings.json",
        ]
    )
    out = tmp_path / "out"
    summary = pd.read_csv(out / "roi_summary.csv")
    assert summary[
        ["session", "group", "roi", "latency", "entries"]
    ].values.tolist() == [["mouse", "control", "box", 20, 1]]
    assert summary["frames_inside"].tolist() == [10]
    kin = pd.read_csv(out / "kinematics.csv")
    assert kin["distance"].iloc[0] == pytest.approx(N - 1.0)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["calibration"] == {"mm_per_px": 0.5, "fps": FPS}
    assert settings["filter"]["confidence_threshold"] == 0.5
    assert settings["filter"]["max_gap"] == 1


def test_line_rois_are_counted_as_crossings_not_occupancy(tmp_path) -> None:
    m = BehaviorModel(output_dir=tmp_path / "out")
    m.add_dataset(_synthetic(), name="mouse", group="control")
    gate = LineROI("gate", ((50, 0), (50, 100)))  # drawn downwards in the image
    m.set_rois([gate])
    assert m.roi_table().empty and m.occupancy("mouse") is None
    # centroid x = 2t + 1 passes x = 50 between frames 24 (49) and 25 (51),
    # eastwards: onto the left-hand side of a line walked southwards
    (row,) = m.line_crossings_table().to_dict("records")
    assert (row["session"], row["group"], row["roi"]) == ("mouse", "control", "gate")
    assert (row["crossings"], row["to_right"], row["to_left"]) == (1, 0, 1)
    assert row["first_crossing"] == 25 and row["first_crossing_s"] == pytest.approx(2.5)
    # frame 25 missing (likelihood 0.1): the crossing is seen at frame 26
    m.set_cleaning(method="none", confidence_threshold=0.5)
    assert m.line_crossings_table().iloc[0]["first_crossing"] == 26
    m.set_rois([RectangleROI("box", 40, 40, 60, 60), gate])
    assert m.roi_table()["roi"].tolist() == ["box"]
    files = {p.name for p in m.export(excel=False, figure_formats=())}
    assert {"roi_summary.csv", "line_crossings.csv"} <= files
    table = pd.read_csv(tmp_path / "out" / "line_crossings.csv")
    assert table[["roi", "crossings", "first_crossing"]].values.tolist() == [
        ["gate", 1, 26]
    ]


def test_model_load_errors_and_sessions_table(tmp_path, truth_file) -> None:
    m = BehaviorModel(output_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        m.load_path(tmp_path / "missing.h5")
    folder = tmp_path / "sessions"
    folder.mkdir()
    shutil.copy(truth_file, folder / "a.h5")
    (folder / "broken.h5").write_bytes(b"not hdf5")
    done: list[tuple[int, int, str]] = []
    loaded = m.load_path(folder, "*.h5", progress=lambda *a: done.append(a))
    assert [s.name for s in loaded] == ["a"]
    assert len(m.load_errors) == 1 and m.load_errors[0].startswith("broken.h5")
    assert done == [(1, 2, "a.h5"), (2, 2, "broken.h5")]
    with pytest.raises(ValueError, match="no tracking file"):
        m.load_path(folder, "*.slp")


def test_labels_file_is_found_for_dlc_names(demo_project_ro, tmp_path) -> None:
    demo = demo_project_ro
    assert labels_file_for(demo.path / "videos" / "session1DLC_x.h5", demo) == (
        demo.path / "ground-truth" / "session1_behavior.csv"
    )
    assert labels_file_for(tmp_path / "other.h5", demo) is None


def test_discovery_sessions_table_and_default_input(demo_project_ro, tmp_path) -> None:
    assert default_input(None) is None
    assert default_input(demo_project_ro) == (
        demo_project_ro.path / "ground-truth" / "session1_keypoints.h5"
    )
    (tmp_path / "b.h5").write_bytes(b"")
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "notes.txt").write_text("")
    assert find_tracking_files(tmp_path, "*") == [tmp_path / "a.csv", tmp_path / "b.h5"]
    assert find_tracking_files(tmp_path, "*.h5") == [tmp_path / "b.h5"]
    with pytest.raises(FileNotFoundError, match="No folder"):
        find_tracking_files(tmp_path / "missing")
    table = tmp_path / "sessions.csv"
    pd.DataFrame({"file": ["m1.h5", "/abs/m2.h5"], "group": ["ctrl", ""]}).to_csv(
        table, index=False
    )
    files, groups = read_sessions_table(table)
    assert files == [tmp_path / "m1.h5", Path("/abs/m2.h5")]
    assert groups == ["ctrl", ""]
    assert read_sessions_table(tmp_path / "a.csv") is None  # not a sessions table


def test_tracks_of_a_two_animal_session() -> None:
    pos = np.zeros((5, 2, 1, 2))
    ds = from_numpy(pos, individual_names=["a", "b"], fps=5.0)
    m = BehaviorModel()
    s = m.add_dataset(ds, name="pair")
    assert isinstance(s, Session) and s.individuals == ["a", "b"]
    assert m.tracks() == [Track("pair/a", "pair", "a"), Track("pair/b", "pair", "b")]
    with pytest.raises(KeyError, match="no track"):
        m.track("pair")


def test_labels_features_and_rois_from_files(tmp_path) -> None:
    m = BehaviorModel(output_dir=tmp_path)
    m.add_dataset(_synthetic(), name="mouse")
    # a bout table: walk on frames 10..19, rest on 40..44
    bouts = tmp_path / "mouse_bouts.csv"
    pd.DataFrame(
        {"behavior": ["walk", "rest"], "start": [10, 40], "end": [19, 44]}
    ).to_csv(bouts, index=False)
    labels = m.load_labels("mouse", bouts)
    expected = ["none"] * N
    expected[10:20] = ["walk"] * 10
    expected[40:45] = ["rest"] * 5
    assert labels.tolist() == expected
    assert m.annotations["mouse"].tolist() == expected
    # written back per frame (with time, at 10 fps) and read again
    per_frame = m.save_labels("mouse", tmp_path / "mouse_labels.csv")
    table = pd.read_csv(per_frame)
    assert table.columns.tolist() == ["frame", "time", "behavior"]
    assert table["behavior"].tolist() == expected
    assert table["time"].iloc[10] == pytest.approx(1.0)
    with pytest.raises(KeyError, match="no predictions"):
        m.save_labels("mouse", tmp_path / "p.csv", predicted=True)
    with pytest.raises(ValueError, match="frames"):
        m.set_annotation("mouse", ["walk"] * 3)

    feats = m.features_table()
    assert feats.columns[:4].tolist() == ["track", "session", "individual", "frame"]
    assert len(feats) == N and feats["frame"].tolist() == list(range(N))
    pd.testing.assert_frame_equal(
        feats.drop(columns=["track", "session", "individual", "frame"]),
        m.features("mouse"),
    )
    X, y = m.training_data()
    assert len(X) == 15 and sorted(set(y)) == ["rest", "walk"]

    path = save_rois([RectangleROI("box", 40, 40, 60, 60)], tmp_path / "r.geojson")
    assert m.load_rois(path) == [RectangleROI("box", 40, 40, 60, 60)]
    assert m.roi_table().iloc[0]["latency"] == 20
