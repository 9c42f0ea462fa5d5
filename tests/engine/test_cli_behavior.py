"""``posekit behavior features|rois|classify|export`` on the demo's exact ground truth.

The answers are computed here from the ground truth (``load_ground_truth``) with
numpy: distances between keypoints, the frames where the centroid is inside a square,
the behaviour of every frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from posekit.engine.behavior.roi import LineROI, RectangleROI, save_rois
from posekit.engine.cli import main
from posekit.engine.demo import (
    BEHAVIORS,
    BODYPARTS,
    load_ground_truth,
    make_demo_project,
)

N = 900
FPS = 30.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """Two demo sessions (900 frames each, 30 fps) with exact keypoints and behaviour.

    Seeds 4 and 5: each session shows all five behaviours.
    """
    return make_demo_project(
        tmp_path_factory.mktemp("cli-behavior"),
        n_frames=N,
        n_labeled=0,
        n_videos=2,
        seed=4,
    )


def _truth_file(project, session: str = "session1") -> Path:
    return project.path / "ground-truth" / f"{session}_keypoints.h5"


def _printed(capsys: pytest.CaptureFixture) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def _base_features(keypoints: list[str]) -> list[str]:
    pairs = [
        f"dist_{a}_{b}" for i, a in enumerate(keypoints) for b in keypoints[i + 1 :]
    ]
    return [
        *(f"speed_{k}" for k in [*keypoints, "centroid"]),
        *pairs,
        "heading_angular_velocity",
        *(f"ego_x_{k}" for k in keypoints),
        *(f"ego_y_{k}" for k in keypoints),
    ]


def test_features_one_row_per_frame_and_track(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "features.csv"
    rc = main(
        [
            "behavior", "features", str(demo.path / "ground-truth"),
            "--windows", "5,15", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    assert _printed(capsys) == [str(out)]
    table = pd.read_csv(out)
    base = _base_features(BODYPARTS)
    assert len(base) == 35
    stats = [f"{f}_{s}{w}" for w in (5, 15) for s in ("mean", "std") for f in base]
    ids = ["track", "session", "individual", "frame", "distance_unit", "speed_unit"]
    assert list(table.columns) == ids + [
        *base,
        *stats,
    ]
    assert len(table) == 2 * N  # two sessions, one animal each
    for session in ("session1", "session2"):
        rows = table[table["session"] == f"{session}_keypoints"]
        assert rows["frame"].tolist() == list(range(N))
        assert (rows["track"] == f"{session}_keypoints").all()
        truth, _ = load_ground_truth(demo, session)
        snout, tail = BODYPARTS.index("snout"), BODYPARTS.index("tailbase")
        expected = np.linalg.norm(truth[:, snout] - truth[:, tail], axis=-1)
        np.testing.assert_allclose(rows["dist_snout_tailbase"], expected, rtol=1e-6)


def test_features_of_a_long_recording_in_fast_formats(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``.h5`` and ``.nc`` hold the CSV's table; the CSV's floats have 7 digits.

    QA s15 (scale): a 1-hour recording's table took more than 6 minutes to write
    as CSV (every digit, cell by cell) and 3.4 GB of memory.
    """
    truth = str(_truth_file(demo))
    outs = {ext: tmp_path / f"features.{ext}" for ext in ("csv", "h5", "nc")}
    for out in outs.values():
        argv = ["behavior", "features", truth, "--windows", "5", "--out", str(out)]
        assert main(argv) == 0
    assert _printed(capsys) == [str(out) for out in outs.values()]
    csv = pd.read_csv(outs["csv"])
    h5 = pd.read_hdf(outs["h5"], "table")
    text = ["track", "session", "individual", "distance_unit", "speed_unit"]
    pd.testing.assert_frame_equal(
        h5.drop(columns=text).astype("float64"),
        csv.drop(columns=text).astype("float64"),
        rtol=1e-6,
    )
    assert (h5["track"] == csv["track"]).all()
    import xarray as xr

    with xr.open_dataset(outs["nc"], engine="h5netcdf") as ds:
        assert ds["values"].dims == ("row", "column")
        assert list(ds["column"].values) == list(h5.columns[6:])
        np.testing.assert_array_equal(ds["values"].values, h5.iloc[:, 6:].to_numpy())
        assert list(ds["frame"].values) == list(range(N))
    cells = outs["csv"].read_text().splitlines()[1].split(",")[6:]
    assert max(len(c.lstrip("-").replace(".", "").lstrip("0")) for c in cells) <= 7


def test_features_calibrated_by_a_known_length(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "features.xlsx"
    # 200 px in the image are 50 mm: 0.25 mm per pixel; px per cm gives the same
    rc = main(
        [
            "behavior", "features", str(_truth_file(demo)), "--known-length", "200",
            "50", "--windows", "5", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    assert _printed(capsys) == [str(out)]
    table = pd.read_excel(out, sheet_name="features")
    truth, _ = load_ground_truth(demo, "session1")
    a, b = BODYPARTS.index("leftear"), BODYPARTS.index("rightear")
    expected = 0.25 * np.linalg.norm(truth[:, a] - truth[:, b], axis=-1)
    np.testing.assert_allclose(table["dist_leftear_rightear"], expected, rtol=1e-6)
    csv = tmp_path / "features.csv"
    rc = main(
        [
            "behavior", "features", str(_truth_file(demo)), "--px-per-cm", "40",
            "--windows", "5", "--out", str(csv),
        ]
    )  # fmt: skip
    assert rc == 0
    np.testing.assert_allclose(
        pd.read_csv(csv)["dist_leftear_rightear"], expected, rtol=1e-6
    )


def _square_roi(demo) -> tuple[RectangleROI, np.ndarray]:
    """Return a 50 px square around the animal at frame 450, and the frames inside."""
    truth, _ = load_ground_truth(demo, "session1")
    centroid = truth.mean(axis=1)
    cx, cy = centroid[450]
    roi = RectangleROI("square", cx - 25, cy - 25, cx + 25, cy + 25)
    inside = roi.contains(centroid[:, 0], centroid[:, 1])
    return roi, inside


def test_rois_entry_frame_and_dwell(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    roi, inside = _square_roi(demo)
    assert not inside[0] and inside[450]
    first = int(np.argmax(inside))
    dwell = int(inside.sum())
    rises = int((np.diff(inside.astype(int)) == 1).sum())
    geojson = save_rois([roi], tmp_path / "rois.geojson")
    out, bouts = tmp_path / "rois.csv", tmp_path / "visits.csv"
    rc = main(
        [
            "behavior", "rois", str(_truth_file(demo)), "--project", str(demo.path),
            "--rois", str(geojson), "--out", str(out), "--bouts", str(bouts),
        ]
    )  # fmt: skip
    assert rc == 0
    assert _printed(capsys) == [str(out), str(bouts)]
    table = pd.read_csv(out)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["session"], row["roi"]) == ("session1_keypoints", "square")
    assert row["latency"] == first  # the entry frame
    assert row["frames_inside"] == dwell
    assert row["entries"] == rises
    # the frame rate comes from the project's video
    assert row["time_inside_s"] == pytest.approx(dwell / FPS)
    assert row["latency_s"] == pytest.approx(first / FPS)
    visits = pd.read_csv(bouts)
    assert len(visits) == rises
    assert visits["start"].iloc[0] == first
    assert visits["duration"].sum() == dwell
    for start, end in zip(visits["start"], visits["end"], strict=True):
        assert inside[start : end + 1].all()
        assert not inside[start - 1] and (end + 1 == len(inside) or not inside[end + 1])


def test_rois_line_crossings(demo, tmp_path: Path, capsys) -> None:
    truth, _ = load_ground_truth(demo, "session1")
    cx = truth.mean(axis=1)[:, 0]
    x0 = float(cx[450])
    gate = LineROI("gate", ((x0, -1.0), (x0, 1000.0)))  # downwards in the image
    # known answer: the side (x < x0 is the line's right-hand side) changes; a point
    # exactly on the line (frame 450) is on neither side and is skipped
    seen = np.flatnonzero(cx != x0)
    assert 450 not in seen
    strict = cx[seen] < x0
    flip = np.flatnonzero(strict[1:] != strict[:-1]) + 1
    changes = seen[flip]
    side = np.zeros(len(cx), dtype=bool)
    side[seen] = strict
    assert len(changes) >= 2
    lines_only = save_rois([gate], tmp_path / "gate.geojson")
    args = ["behavior", "rois", str(_truth_file(demo)), "--project", str(demo.path),
            "--rois", str(lines_only), "--out", str(tmp_path / "rois.csv")]  # fmt: skip
    assert main(args) != 0  # only lines and no --crossings: says what to do
    assert "holds only lines" in capsys.readouterr().err
    both = save_rois([_square_roi(demo)[0], gate], tmp_path / "both.geojson")
    crossings = tmp_path / "crossings.csv"
    args[6] = str(both)
    assert main([*args, "--crossings", str(crossings)]) == 0
    assert _printed(capsys) == [str(tmp_path / "rois.csv"), str(crossings)]
    row = pd.read_csv(crossings).iloc[0]
    assert row["roi"] == "gate" and row["crossings"] == len(changes)
    assert row["to_right"] == int(side[changes].sum())
    assert row["first_crossing"] == changes[0]
    assert row["first_crossing_s"] == pytest.approx(changes[0] / FPS)


def test_rois_in_pixels_whatever_the_scale_excel(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    roi, inside = _square_roi(demo)
    geojson = save_rois([roi], tmp_path / "rois.geojson")
    out = tmp_path / "rois.xlsx"
    rc = main(
        [
            "behavior", "rois", str(_truth_file(demo)), "--rois", str(geojson),
            "--mm-per-px", "0.3", "--fps", "10", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    assert _printed(capsys) == [str(out)]
    row = pd.read_excel(out, sheet_name="roi_summary").iloc[0]
    assert row["latency"] == int(np.argmax(inside))
    assert row["frames_inside"] == int(inside.sum())
    assert row["time_inside_s"] == pytest.approx(inside.sum() / 10.0)


def test_classify_trained_on_one_session_predicts_another(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labels = demo.path / "ground-truth" / "session1_behavior.csv"
    out, bouts, scores = (
        tmp_path / "predicted.csv",
        tmp_path / "bouts.csv",
        tmp_path / "scores.xlsx",
    )
    rc = main(
        [
            "behavior", "classify", str(demo.path / "ground-truth"),
            "--project", str(demo.path), "--labels", f"session1={labels}",
            "--out", str(out), "--bouts", str(bouts), "--scores", str(scores),
        ]
    )  # fmt: skip
    assert rc == 0
    printed = _printed(capsys)
    assert printed[0] == f"labels of session1_keypoints: {labels}"
    assert printed[1].startswith("classifier trained on 1 track(s)")
    assert printed[2:] == [str(out), str(bouts), str(scores)]
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "track", "session", "individual", "frame", "time", "behavior",
    ]  # fmt: skip
    assert len(table) == 2 * N
    other = table[table["session"] == "session2_keypoints"]
    np.testing.assert_allclose(other["time"], np.arange(N) / FPS)
    _, truth = load_ground_truth(demo, "session2")
    _, trained_on = load_ground_truth(demo, "session1")
    assert set(truth) == set(trained_on) == set(BEHAVIORS)
    f1 = f1_score(truth, other["behavior"].to_numpy(str), average="macro")
    assert f1 > 0.9, f1  # measured 0.989; chance is about 0.2
    # the bouts are those of the predicted labels
    b = pd.read_csv(bouts)
    b2 = b[b["session"] == "session2_keypoints"]
    assert b2["duration"].sum() == N
    pred = other["behavior"].to_numpy(str)
    for _, bout in b2.iterrows():
        assert (pred[bout["start"] : bout["end"] + 1] == bout["behavior"]).all()
    s = pd.read_excel(scores, sheet_name="classifier_scores")
    assert sorted(s["behavior"]) == sorted(BEHAVIORS)
    assert {"precision", "recall", "f1", "support"} <= set(s.columns)
    assert s["support"].sum() == N  # every frame of session1 is labelled


def test_export_results_folder(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    roi, inside = _square_roi(demo)
    geojson = save_rois([roi], tmp_path / "rois.geojson")
    folder = tmp_path / "results"
    rc = main(
        [
            "behavior", "export", str(_truth_file(demo)), "--project", str(demo.path),
            "--rois", str(geojson), "--find-labels", "--figures", "png",
            "--pcutoff", "0.5", "--filter", "median", "--window", "3",
            "--out", str(folder),
        ]
    )  # fmt: skip
    assert rc == 0
    printed = [Path(p) for p in _printed(capsys) if p.startswith(str(folder))]
    assert printed and all(p.is_file() for p in printed)
    names = {p.name for p in printed}
    assert {
        "sessions.csv", "roi_summary.csv", "behavior_bouts.csv",
        "classifier_scores.csv", "behavior_tables.xlsx", "rois.geojson",
        "settings.json",
    } <= names  # fmt: skip
    assert any(n.endswith(".png") for n in names)
    assert not any(n.endswith(".svg") for n in names)
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["filter"]["method"] == "median"
    assert settings["filter"]["window"] == 3
    assert settings["filter"]["confidence_threshold"] == 0.5
    # no --fps: the session's own rate (from the project's video) is recorded
    assert settings["calibration"]["fps"] is None
    assert settings["calibration"]["session_fps"] == {"session1_keypoints": FPS}
    assert settings["sessions"][0]["fps"] == FPS
    assert settings["sessions"][0]["fps_source"] == "video"
    assert settings["skipped"] == []
    sessions = pd.read_csv(folder / "sessions.csv")
    assert sessions[["session", "fps", "fps_source"]].values.tolist() == [
        ["session1_keypoints", FPS, "video"]
    ]
    assert settings["predictions"] == "classifier"


def test_errors_say_what_to_do(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    truth = str(_truth_file(demo))
    out = str(tmp_path / "x.csv")
    cases = [
        (["features", truth, "--out", str(tmp_path / "x.txt")], ".csv, .xlsx"),
        (["features", truth, "--windows", "5,a", "--out", out], "--windows"),
        (["features", truth, "--keypoint", "paw", "--out", out], "no keypoint 'paw'"),
        (["features", truth, "--filter", "savgol", "--window", "4", "--out", out], "odd"),
        (["classify", truth, "--out", out], "--labels TRACK=CSV"),
        (["classify", truth, "--labels", "mouse9=a.csv", "--out", out], "no track"),
        (["classify", truth, "--labels", "session1", "--out", out], "TRACK=CSV"),
        (["rois", truth, "--rois", str(tmp_path / "none.geojson"), "--out", out], "none.geojson"),
        (["features", str(tmp_path), "--out", out], "no tracking file matching"),
    ]  # fmt: skip
    for argv, message in cases:
        rc = main(["behavior", *argv])
        err = capsys.readouterr().err
        assert rc == 2, (argv, err)
        assert err.startswith(f"posekit behavior {argv[0]}: error: "), err
        assert message in err, (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(SystemExit) as info:
        main(["behavior"])
    assert info.value.code == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


def test_files_that_fail_are_recorded_and_exit_2(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # F6 + F8: an empty file, a garbage file and a missing one beside a good one:
    # the good one is analysed and written, the others recorded, exit status 2
    empty = tmp_path / "emptyDLC_resnet50_xOct30shuffle1_1000.csv"
    empty.write_text(
        "scorer,DLC,DLC,DLC\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n"
    )
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5")
    table = tmp_path / "sessions.csv"
    pd.DataFrame(
        {
            "file": [str(_truth_file(demo)), empty.name, "garbage.h5", "missing.h5"],
            "group": ["a", "b", "c", "d"],
        }
    ).to_csv(table, index=False)
    folder = tmp_path / "results"
    rc = main(
        ["behavior", "export", str(table), "--project", str(demo.path),
         "--figures", "", "--no-excel", "--out", str(folder)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"skipped {empty.name}: ValueError: {empty.name} has 0 frames" in err
    assert "--from on the command line" not in err
    assert "3 file(s) could not be loaded" in err
    sessions = pd.read_csv(folder / "sessions.csv", keep_default_na=False)
    assert sessions["group"].tolist() == ["a", "b", "c", "d"]
    assert sessions["session"].tolist()[0] == "session1_keypoints"
    assert [bool(e) for e in sessions["error"]] == [False, True, True, True]
    settings = json.loads((folder / "settings.json").read_text())
    assert [Path(s["file"]).name for s in settings["skipped"]] == [
        empty.name, "garbage.h5", "missing.h5",
    ]  # fmt: skip
    kinematics = pd.read_csv(folder / "kinematics.csv")
    assert kinematics["session"].tolist() == ["session1_keypoints"]
    # a single table (features) is written too, with the same exit status
    out = tmp_path / "features.csv"
    rc = main(["behavior", "features", str(table), "--windows", "5", "--out", str(out)])
    assert rc == 2 and out.is_file()
