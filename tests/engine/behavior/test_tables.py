"""Result tables over sessions, and labels files.

Known bouts, groups and transitions on hand-made labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.annotations import (
    read_behavior_names,
    read_labels,
    write_labels,
)
from posekit.engine.behavior.session import Session
from posekit.engine.behavior.tables import (
    behavior_bouts_table,
    behavior_summary_table,
    behavior_transitions_table,
    group_summary_table,
    roi_table,
)
from posekit.engine.poses import from_numpy

N = 10


def _session(name: str, group: str) -> Session:
    return Session(name, None, group, from_numpy(np.zeros((N, 2, 1, 1)), fps=2.0))


def _labels(*bouts: tuple[str, int, int]) -> np.ndarray:
    out = np.array(["none"] * N, dtype=object)
    for name, s, e in bouts:
        out[s : e + 1] = name
    return out.astype(str)


@pytest.fixture
def study() -> tuple[list[Session], dict[str, np.ndarray]]:
    sessions = [_session("m1", "ctrl"), _session("m2", "ctrl"), _session("m3", "")]
    labels = {
        "m1": _labels(("walk", 0, 3), ("rest", 6, 9)),
        "m2": _labels(("walk", 2, 5)),
        "m3": _labels(("rest", 0, 9)),
    }
    return sessions, labels


def test_behavior_bouts_and_transitions(study) -> None:
    sessions, labels = study
    bouts = behavior_bouts_table(labels, sessions, fps=2.0)
    assert bouts[["track", "session", "group", "individual"]].values.tolist()[0] == [
        "m1",
        "m1",
        "ctrl",
        "individual_0",
    ]
    assert bouts[["track", "behavior", "start", "end", "duration"]].values.tolist() == [
        ["m1", "walk", 0, 3, 4],
        ["m1", "rest", 6, 9, 4],
        ["m2", "walk", 2, 5, 4],
        ["m3", "rest", 0, 9, 10],
    ]
    assert bouts["duration_s"].tolist() == [2.0, 2.0, 2.0, 5.0]
    trans = behavior_transitions_table(labels)
    moved = trans[trans["count"] > 0][["track", "from", "to", "count"]]
    assert moved.values.tolist() == [["m1", "walk", "rest", 1]]
    with pytest.raises(KeyError, match="no track 'm9'"):
        behavior_bouts_table({"m9": labels["m1"]}, sessions)


def test_behavior_and_group_summaries(study) -> None:
    sessions, labels = study
    summary = behavior_summary_table(labels, sessions, fps=2.0)
    walk = summary[summary["behavior"] == "walk"].set_index("track")
    # every track has a row for every behaviour: m3 never walks (0 bouts, 0 frames)
    assert walk["group"].to_dict() == {"m1": "ctrl", "m2": "ctrl", "m3": ""}
    assert walk["n_bouts"].to_dict() == {"m1": 1, "m2": 1, "m3": 0}
    assert walk["total_frames"].to_dict() == {"m1": 4, "m2": 4, "m3": 0}
    assert walk.loc["m3", "fraction"] == 0.0 and walk.loc["m3", "total_s"] == 0.0
    assert np.isnan(walk.loc["m3", "latency"]) and np.isnan(walk.loc["m3", "mean_bout"])
    assert len(summary) == 3 * 2  # tracks × behaviours
    groups = group_summary_table(labels, sessions, fps=2.0)
    assert set(groups["group"]) == {"ctrl", "(none)"}
    # no group anywhere: no group table
    plain = [_session(s.name, "") for s in sessions]
    assert group_summary_table(labels, plain).empty
    assert behavior_bouts_table({}, sessions).empty
    assert roi_table(sessions, {}).empty


def test_labels_files_round_trip(tmp_path) -> None:
    labels = _labels(("walk", 1, 3), ("rest", 7, 8))
    per_frame = write_labels(labels, tmp_path / "a.csv")
    assert pd.read_csv(per_frame).columns.tolist() == ["frame", "behavior"]
    bouts = write_labels(labels, tmp_path / "a_bouts.csv", fps=4.0)
    table = pd.read_csv(bouts)
    assert table[["behavior", "start", "end"]].values.tolist() == [
        ["walk", 1, 3],
        ["rest", 7, 8],
    ]
    assert table["start_s"].tolist() == [0.25, 1.75]
    for path in (per_frame, bouts):
        assert read_labels(path, N).tolist() == labels.tolist()
    assert read_behavior_names(per_frame) == ["none", "walk", "rest"]
    # per-frame rows outside the recording are ignored; none inside is an error
    assert read_labels(per_frame, 5).tolist() == labels[:5].tolist()
    pd.DataFrame({"frame": [20], "behavior": ["walk"]}).to_csv(
        tmp_path / "far.csv", index=False
    )
    with pytest.raises(ValueError, match="no frame inside"):
        read_labels(tmp_path / "far.csv", N)
    with pytest.raises(FileNotFoundError, match="No labels file"):
        read_labels(tmp_path / "missing.csv", N)


def test_group_summary_counts_animals_without_the_behaviour() -> None:
    # F4: two animals of group g at 30 fps; only the first grooms (450 of 900 frames)
    sessions = [
        Session(name, None, "g", from_numpy(np.zeros((900, 2, 1, 1)), fps=30.0))
        for name in ("a", "b")
    ]
    labels = {
        "a": np.array(["groom"] * 450 + ["rest"] * 450),
        "b": np.array(["rest"] * 900),
    }
    groups = group_summary_table(labels, sessions, fps=30.0).set_index("behavior")
    groom = groups.loc["groom"]
    assert groom["fraction_mean"] == pytest.approx(0.25)  # was 0.5 (a alone)
    assert groom["total_frames_mean"] == pytest.approx(225.0)
    assert groom["n_bouts_mean"] == pytest.approx(0.5)
    assert groom["total_s_mean"] == pytest.approx(7.5)
    assert groom["n_bouts_count"] == 2 and groom["fraction_count"] == 2
    # the mean bout and the latency exist only for the animal that grooms
    assert groom["mean_bout_count"] == 1 and groom["latency_count"] == 1
    assert groom["mean_bout_mean"] == pytest.approx(450.0)
    assert groups.loc["rest", "fraction_mean"] == pytest.approx(0.75)


def test_tables_at_each_sessions_rate_and_frame_numbers() -> None:
    # F1 + F11: one rate per session; bouts at the file's frame numbers
    late = from_numpy(np.zeros((N, 2, 1, 1)), fps=2.0)
    late = late.assign_coords(time=(np.arange(N) + 100) / 2.0)
    sessions = [Session("m1", None, "", late), _session("m2", "")]
    labels = {"m1": _labels(("walk", 0, 3)), "m2": _labels(("walk", 0, 3))}
    bouts = behavior_bouts_table(labels, sessions, fps={"m1": 2.0, "m2": 4.0})
    assert bouts[["start", "end"]].values.tolist() == [[100, 103], [0, 3]]
    assert bouts["start_s"].tolist() == [50.0, 0.0]
    assert bouts["end_s"].tolist() == [52.0, 1.0]  # when the bout stops
    assert bouts["duration_s"].tolist() == [2.0, 1.0]
    summary = behavior_summary_table(labels, sessions, fps={"m1": 2.0, "m2": 4.0})
    assert summary["latency"].tolist() == [0, 0]  # from the start of the recording
    assert summary["total_s"].tolist() == [2.0, 1.0]
