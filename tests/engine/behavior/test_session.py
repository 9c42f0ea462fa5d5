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
    # the session keeps its own rate (from the data); none is set for all
    assert m.calibration.fps is None
    assert m.session("mouse").fps == FPS and m.session_fps("mouse") == FPS
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

    # likelihood threshold: frame 25 becomes missing (unknown, not outside): the
    # visit goes on across it (QA S14 F5: it was split into two entries), and the
    # bridged frame counts inside (QA s17: 9 frames inside in a visit of 10)
    m.set_cleaning(method="none", confidence_threshold=0.5)
    row = m.roi_table().iloc[0]
    assert row["frames_inside"] == 10 and row["frames_observed"] == N - 1
    assert row["frames_bridged"] == 1 and row["mean_bout"] == 10
    assert row["entries"] == 1 and row["n_bouts"] == 1
    visits = m.roi_bouts_table()
    assert visits[["start", "end", "frames_missing"]].values.tolist() == [[20, 29, 1]]
    # gap interpolation (1 frame) brings it back, and the log records both steps
    m.set_cleaning(method="none", confidence_threshold=0.5, max_gap=1)
    row = m.roi_table().iloc[0]
    assert row["frames_inside"] == 10 and row["entries"] == 1
    operations = [s["operation"] for s in m.processing_log("mouse")]
    # the frame rate first (filters in Hz use it), then the cleaning
    assert operations == ["calibrate", "filter_by_confidence", "interpolate_gaps"]

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
    assert settings["calibration"] == {
        "mm_per_px": 0.5,
        "fps": FPS,
        "session_fps": {"mouse": FPS},
    }
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


def _one_file_per_video(folder) -> None:
    """Check a folder of analyses gives one file per video, not one per file.

    ``posekit behavior features videos/`` after ``posekit filter`` counted the raw and
    the filtered predictions of each video (and older networks') as two animals, and
    a ``_skeleton.h5`` made it fail.
    """
    import os
    import time

    folder.mkdir()
    old, new = "DLC_mobnet_35_tJan1shuffle1_100", "DLC_effnet_lite0_tJan1shuffle1_300"
    names = [
        f"m1{old}.h5",
        f"m1{new}.h5",
        f"m1{new}_filtered.h5",
        f"m1{new}.csv",
        f"m1{new}_skeleton.h5",
        f"m1{new}_p60_labeled{new}.h5",
        f"m2{old}.h5",
        "fly.slp",
    ]
    for age, name in enumerate(reversed(names)):
        (folder / name).write_bytes(b"")
        stamp = time.time() - 100 * age
        os.utime(folder / name, (stamp, stamp))
    os.utime(folder / f"m1{old}.h5", (time.time() - 10**4,) * 2)  # the older network
    found = find_tracking_files(folder, "*")
    assert [p.name for p in found] == ["fly.slp", f"m1{new}_filtered.h5", f"m2{old}.h5"]


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
    _one_file_per_video(tmp_path / "analyses")
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
        feats.drop(columns=["track", "session", "individual", "frame"]).drop(
            columns=["distance_unit", "speed_unit"]
        ),
        m.features("mouse"),
    )
    X, y = m.training_data()
    assert len(X) == 15 and sorted(set(y)) == ["rest", "walk"]

    path = save_rois([RectangleROI("box", 40, 40, 60, 60)], tmp_path / "r.geojson")
    assert m.load_rois(path) == [RectangleROI("box", 40, 40, 60, 60)]
    assert m.roi_table().iloc[0]["latency"] == 20


# ------------------------------------------------------------------ QA S14 findings

SCORER = "DLC_resnet50_testOct30shuffle1_1000"


def _write_dlc(
    path: Path,
    xyl: np.ndarray,
    bodyparts: list[str],
    *,
    fps: float | None = None,
    first_frame: int = 0,
) -> Path:
    """Write a DeepLabCut ``.h5`` (``xyl``: frames × bodyparts × (x, y, likelihood)).

    With ``fps``, also the ``_meta.pickle`` an analysis writes beside it.
    """
    import pickle

    n = xyl.shape[0]
    cols = pd.MultiIndex.from_product(
        [[SCORER], bodyparts, ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    index = range(first_frame, first_frame + n)
    pd.DataFrame(xyl.reshape(n, -1), columns=cols, index=index).to_hdf(
        path, key="df_with_missing", format="table", mode="w"
    )
    if fps is not None:
        meta = path.with_name(path.name.replace(".h5", "_meta.pickle"))
        meta.write_bytes(pickle.dumps({"data": {"fps": fps, "nframes": n}}))
    return path


def _line(n: int = 100, step: float = 10.0, x0: float = 5.0) -> np.ndarray:
    """Nose and tail together at x = step·t + x0, y = 100, likelihood 1."""
    t = np.arange(n, dtype=float)
    point = np.stack([step * t + x0, np.full(n, 100.0), np.ones(n)], -1)
    return np.stack([point, point], 1)


def test_each_session_keeps_its_own_frame_rate(tmp_path, caplog) -> None:
    # F1: the same path (10 px/frame, inside x 200..400 on frames 20..39) at 30 and
    # at 10 fps; whichever file comes first, each is measured at its own rate
    fast = _write_dlc(tmp_path / f"fast{SCORER}.h5", _line(), ["nose", "tail"], fps=30)
    slow = _write_dlc(tmp_path / f"slow{SCORER}.h5", _line(), ["nose", "tail"], fps=10)
    box = RectangleROI("box", 200, 0, 400, 200)
    for files in ([fast, slow], [slow, fast]):
        m = BehaviorModel(output_dir=tmp_path / "out")
        m.load(files)
        m.set_rois([box])
        kin = m.kinematics_table().set_index("session")
        name = {30: fast.stem, 10: slow.stem}
        assert kin.loc[name[30], "mean_speed"] == pytest.approx(300.0)
        assert kin.loc[name[10], "mean_speed"] == pytest.approx(100.0)
        assert kin.loc[name[10], "duration_s"] == pytest.approx(10.0)
        assert kin.loc[name[30], "duration_s"] == pytest.approx(100 / 30)
        assert kin["fps"].to_dict() == {name[30]: 30.0, name[10]: 10.0}
        roi = m.roi_table().set_index("session")
        assert roi.loc[name[10], "time_inside_s"] == pytest.approx(2.0)
        assert roi.loc[name[10], "latency_s"] == pytest.approx(2.0)
        assert roi.loc[name[30], "latency_s"] == pytest.approx(20 / 30)
        sessions = m.sessions_table().set_index("session")
        assert sessions["fps"].to_dict() == {name[30]: 30.0, name[10]: 10.0}
        assert set(sessions["fps_source"]) == {"file"}
        assert m.settings()["calibration"]["session_fps"] == {
            name[30]: 30.0,
            name[10]: 10.0,
        }
    # one rate set for all overrides both, with a warning naming the sessions
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.session"):
        m.set_calibration(fps=20)
    assert "fps=20" in caplog.text
    assert (
        f"{fast.stem} (30 fps" in caplog.text and f"{slow.stem} (10 fps" in caplog.text
    )
    assert m.kinematics_table()["mean_speed"].tolist() == pytest.approx([200.0, 200.0])
    assert set(m.sessions_table()["fps"]) == {20.0}
    assert set(m.sessions_table()["fps_source"]) == {"set for all"}


def test_sessions_with_and_without_a_rate_are_not_mixed(tmp_path) -> None:
    # F1: per frame for one and per second for the other would mix units
    with_rate = _write_dlc(
        tmp_path / f"a{SCORER}.h5", _line(), ["nose", "tail"], fps=30
    )
    without = _write_dlc(tmp_path / f"b{SCORER}.h5", _line(), ["nose", "tail"])
    m = BehaviorModel(output_dir=tmp_path)
    m.load([with_rate, without])
    assert [s.fps for s in m.sessions] == [30.0, None]
    with pytest.raises(ValueError, match=r"no frame rate \(b.*--fps"):
        m.kinematics_table()
    m.set_calibration(fps=25)
    assert m.kinematics_table()["mean_speed"].tolist() == pytest.approx([250.0] * 2)


def test_centroid_neither_jumps_nor_drops_where_a_keypoint_is_missing(
    tmp_path, caplog
) -> None:
    # F2: a still animal (nose 120, tail 100) whose nose likelihood is 0.3 on the
    # odd frames 1..97: the centroid must not jump between 110 and 100 (QA s14), and
    # not be missing there either (QA s17: the nose is placed from the tail)
    n = 100
    xyl = np.zeros((n, 2, 3))
    xyl[:, 0] = [120.0, 100.0, 1.0]
    xyl[:, 1] = [100.0, 100.0, 1.0]
    xyl[1:98:2, 0, 2] = 0.3
    path = _write_dlc(tmp_path / f"still{SCORER}.h5", xyl, ["nose", "tail"], fps=10)
    m = BehaviorModel(output_dir=tmp_path)
    m.load([path])
    m.set_cleaning(method="none", confidence_threshold=0.5)
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.session"):
        k = m.kinematics_table().iloc[0]
    assert k["distance"] == 0.0  # was 990 px with the mean of the keypoints seen
    # every frame has a centroid: speed 0 (was 600 px/s, then none at all)
    assert k["max_speed"] == 0.0
    assert k["observed_fraction"] == 1.0  # was 51 / 100 with the old default
    assert k["frames_used"] == n
    assert k["centroid_gap_frames"] == 49  # frames whose nose is placed
    assert m.centroid_gaps(path.stem) == {"individual_0": 49}
    assert caplog.text == "" and m.coverage_warning() == ""
    m.set_rois([RectangleROI("box", 105, 90, 115, 110)])
    assert m.roi_table().iloc[0]["frames_observed"] == n
    # one-frame dropouts filled by --max-gap: no keypoint to place
    m.set_cleaning(method="none", confidence_threshold=0.5, max_gap=1)
    k = m.kinematics_table().iloc[0]
    assert k["observed_fraction"] == 1.0 and k["centroid_gap_frames"] == 0
    assert k["distance"] == 0.0 and k["max_speed"] == 0.0
    # a chosen keypoint is measured on its own: the nose in 51 frames, with a
    # warning (logged, and coverage_warning for the app and the command line)
    m.set_cleaning(method="none", confidence_threshold=0.5)
    m.set_keypoint("nose")
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.session"):
        k = m.kinematics_table().iloc[0]
    assert k["observed_fraction"] == pytest.approx(51 / 100)
    assert k["centroid_gap_frames"] == 0
    assert "nose" in caplog.text or "known in 51 of 100 frames" in caplog.text
    assert "come from 51 of 100 frames" in m.coverage_warning()
    m.set_keypoint("tail")
    k = m.kinematics_table().iloc[0]
    assert k["observed_fraction"] == 1.0 and k["centroid_gap_frames"] == 0


def test_unloadable_files_are_recorded(tmp_path) -> None:
    # F6 + F8: an empty tracking file is refused when loaded, naming it; every
    # file that fails is recorded in sessions.csv and settings.json
    good = _write_dlc(tmp_path / f"good{SCORER}.h5", _line(), ["nose", "tail"], fps=30)
    empty = tmp_path / f"empty{SCORER}.csv"
    cols = pd.MultiIndex.from_product(
        [[SCORER], ["nose"], ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    pd.DataFrame(columns=cols).to_csv(empty)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5")
    missing = tmp_path / "missing.h5"
    m = BehaviorModel(output_dir=tmp_path / "out")
    m.load([good, empty, garbage, missing], ["a", "b", "c", "d"])
    assert [s.name for s in m.sessions] == [good.stem]
    failures = {Path(f["file"]).name: f for f in m.load_failures}
    assert list(failures) == [empty.name, garbage.name, missing.name]
    assert f"{empty.name} has 0 frames" in failures[empty.name]["reason"]
    assert "--from on the command line" not in failures[garbage.name]["reason"]
    assert [f["group"] for f in failures.values()] == ["b", "c", "d"]
    with pytest.raises(ValueError, match="has 0 frames"):
        m.add_dataset(from_numpy(np.zeros((0, 2, 1, 1))), name="nothing")
    m.export(excel=False, figure_formats=())
    table = pd.read_csv(tmp_path / "out" / "sessions.csv", keep_default_na=False)
    assert table["file"].tolist() == [str(p) for p in (good, empty, garbage, missing)]
    assert table["error"].tolist()[0] == "" and all(table["error"].tolist()[1:])
    assert table["group"].tolist() == ["a", "b", "c", "d"]
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert [Path(s["file"]).name for s in settings["skipped"]] == list(failures)
    assert "0 frames" in settings["skipped"][0]["reason"]


def test_tables_use_the_files_frame_numbers(tmp_path) -> None:
    # F11: a trimmed analysis (frames 1000..1099, 10 fps): the point is inside the
    # box on its frames 1020..1039, i.e. from 102.0 s
    path = _write_dlc(
        tmp_path / f"offset{SCORER}.h5",
        _line(),
        ["nose", "tail"],
        fps=10,
        first_frame=1000,
    )
    m = BehaviorModel(output_dir=tmp_path)
    m.load([path])
    assert m.session(path.stem).frames[[0, -1]].tolist() == [1000, 1099]
    assert m.sessions_table()["first_frame"].tolist() == [1000]
    m.set_rois(
        [RectangleROI("box", 200, 0, 400, 200), LineROI("gate", ((300, 0), (300, 200)))]
    )
    visit = m.roi_bouts_table().iloc[0]
    assert (visit["start"], visit["end"], visit["duration"]) == (1020, 1039, 20)
    assert visit["start_s"] == pytest.approx(102.0)
    assert m.roi_table().iloc[0]["latency"] == 20  # a latency counts from the start
    crossing = m.line_crossings_table().iloc[0]  # x = 305 on frame 1030
    assert crossing["first_crossing"] == 1030
    assert crossing["first_crossing_s"] == pytest.approx(103.0)
    feats = m.features_table()
    assert feats["frame"].tolist() == list(range(1000, 1100))
    labels = np.array(["none"] * 100, dtype=object)
    labels[20:40] = "walk"
    m.predictions = {path.stem: labels.astype(str)}
    bout = m.behavior_bouts_table().iloc[0]
    assert (bout["start"], bout["end"]) == (1020, 1039)
    assert (bout["start_s"], bout["end_s"]) == pytest.approx((102.0, 104.0))
    assert m.behavior_summary_table().iloc[0]["latency"] == 20
    # another rate for all keeps the frame numbers: frame 1020 at 20 fps is 51 s
    m.set_calibration(fps=20)
    assert m.roi_bouts_table().iloc[0]["start_s"] == pytest.approx(51.0)
    assert float(m.cleaned(path.stem)["time"][0]) == pytest.approx(50.0)


def test_unique_bodyparts_are_not_an_animal() -> None:
    # F12: a multi-animal DeepLabCut file keeps its unique bodyparts under "single"
    n = 20
    pos = np.zeros((n, 2, 1, 3))
    pos[:, 0, 0, 0] = 10.0 * np.arange(n)  # mouse1 walks, mouse2 and the food stay
    ds = from_numpy(pos, individual_names=["mouse1", "mouse2", "single"], fps=10.0)
    m = BehaviorModel()
    s = m.add_dataset(ds, name="pair")
    assert s.animals == ["mouse1", "mouse2"]
    assert m.track_keys() == ["pair/mouse1", "pair/mouse2"]
    assert m.kinematics_table()["individual"].tolist() == ["mouse1", "mouse2"]
    m.set_rois([RectangleROI("box", -5, -5, 5, 5)])
    assert sorted(set(m.roi_table()["individual"])) == ["mouse1", "mouse2"]
    alone = from_numpy(np.zeros((n, 2, 1, 1)), individual_names=["single"], fps=10.0)
    assert m.add_dataset(alone, name="one").animals == ["single"]
