"""Labels files of several animals (an ``individual`` column; BORIS's ``Subject``).

The 2-animal demo writes its behaviour ground truth as one table,
``frame, time, individual, behavior``, mouse1's and mouse2's rows alternating (QA s21
finding 1: every animal used to get the last animal's labels). The answers are the
same file filtered with pandas.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.annotations import label_individuals, read_labels
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.cli import main
from posekit.engine.demo import make_demo_project

N = 300
FPS = 30.0
SESSION = "session1_keypoints"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    """Return the 2-animal demo (``posekit demo --animals 2 --frames 300``)."""
    return make_demo_project(
        tmp_path_factory.mktemp("labels-pair"), n_animals=2, n_frames=N, n_labeled=0
    )


def _truth(project):
    return project.path / "ground-truth" / "session1_behavior.csv"


def _tracking(project):
    return project.path / "ground-truth" / f"{SESSION}.h5"


def _rows_of(project, animal: str) -> np.ndarray:
    """Return the labels of ``animal``, by pandas."""
    table = pd.read_csv(_truth(project))
    mine = table[table["individual"] == animal].sort_values("frame")
    assert mine["frame"].tolist() == list(range(N))
    return mine["behavior"].astype(str).to_numpy()


def test_the_demo_ground_truth_is_two_animals(pair) -> None:
    table = pd.read_csv(_truth(pair))
    assert list(table.columns) == ["frame", "time", "individual", "behavior"]
    assert len(table) == 2 * N
    assert label_individuals(_truth(pair)) == ["mouse1", "mouse2"]
    # the two animals do different things (else the tests below prove nothing)
    assert np.mean(_rows_of(pair, "mouse1") == _rows_of(pair, "mouse2")) < 0.7


@pytest.mark.parametrize("animal", ["mouse1", "mouse2"])
def test_read_labels_reads_the_rows_of_the_animal(pair, animal) -> None:
    got = read_labels(_truth(pair), N, individual=animal)
    assert got.tolist() == _rows_of(pair, animal).tolist()


def test_model_marks_each_track_with_its_own_animal(pair) -> None:
    model = BehaviorModel(pair)
    model.load([_tracking(pair)])
    keys = model.track_keys()
    assert keys == [f"{SESSION}/mouse1", f"{SESSION}/mouse2"]
    for key in keys:
        model.load_labels(key, _truth(pair))
    assert model.annotations[keys[0]].tolist() == _rows_of(pair, "mouse1").tolist()
    assert model.annotations[keys[1]].tolist() == _rows_of(pair, "mouse2").tolist()


def test_a_file_without_the_track_animal_is_refused(pair, tmp_path) -> None:
    other = pd.read_csv(_truth(pair))
    other["individual"] = other["individual"].map({"mouse1": "A", "mouse2": "B"})
    other.to_csv(tmp_path / "other.csv", index=False)
    model = BehaviorModel(pair)
    model.load([_tracking(pair)])
    with pytest.raises(ValueError, match=r"no rows of 'mouse1'.*names A, B"):
        model.load_labels(f"{SESSION}/mouse1", tmp_path / "other.csv")
    assert model.annotations == {}
    # nor read without saying whose rows
    with pytest.raises(ValueError, match=r"labels of 2 animals \(A, B\)"):
        read_labels(tmp_path / "other.csv", N)


def test_repeated_frames_without_an_individual_column_are_refused(
    pair, tmp_path
) -> None:
    path = tmp_path / "mixed.csv"
    pd.read_csv(_truth(pair)).drop(columns="individual").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"600 rows for 300 frames.*'individual'"):
        read_labels(path, N)
    model = BehaviorModel(pair)
    model.load([_tracking(pair)])
    with pytest.raises(ValueError, match=r"frame 0 appears 2 times"):
        model.load_labels(f"{SESSION}/mouse1", path)


def test_repeated_frames_of_one_animal_are_refused(pair, tmp_path) -> None:
    """Two sessions' rows of mouse1 in one file: which would win is not a choice."""
    path = tmp_path / "twice.csv"
    table = pd.read_csv(_truth(pair))
    pd.concat([table, table]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"600 rows of one animal.*'individual'"):
        read_labels(path, N, individual="mouse1")


def test_boris_subject_column_selects_the_animal(tmp_path) -> None:
    """BORIS's aggregated events (``Subject, Behavior, Start (s), Stop (s)``)."""
    path = tmp_path / "boris.csv"
    pd.DataFrame(
        {
            "Subject": ["mouse1", "mouse2", "mouse1", "mouse2"],
            "Behavior": ["walk", "rest", "rest", "groom"],
            "Start (s)": [0.0, 0.0, 1.0, 0.5],
            "Stop (s)": [1.0, 2.0, 2.0, 1.5],
        }
    ).to_csv(path, index=False)
    fps = 4.0  # 8 frames: 0.25 s each
    assert read_labels(path, 8, fps=fps, individual="mouse1").tolist() == [
        *["walk"] * 4,
        *["rest"] * 4,
    ]
    assert read_labels(path, 8, fps=fps, individual="mouse2").tolist() == [
        "rest",
        "rest",
        *["groom"] * 4,
        "rest",
        "rest",
    ]


@pytest.mark.parametrize("subject", ["No focal subject", "mouse A"])
def test_one_animal_recording_reads_a_file_of_one_subject(tmp_path, subject) -> None:
    """A single-animal track reads a file that names one animal, whatever its name."""
    path = tmp_path / "boris.csv"
    pd.DataFrame(
        {
            "Subject": [subject, subject],
            "Behavior": ["walk", "rest"],
            "Start (s)": [0.0, 1.0],
            "Stop (s)": [1.0, 2.0],
        }
    ).to_csv(path, index=False)
    want = ["walk"] * 4 + ["rest"] * 4
    got = read_labels(path, 8, fps=4.0, individual="individual_0", single_animal=True)
    assert got.tolist() == want
    assert read_labels(path, 8, fps=4.0).tolist() == want
    # a track of a recording of several animals does not take another's rows
    if subject != "No focal subject":
        with pytest.raises(ValueError, match=r"no rows of 'mouse1'.*mouse A"):
            read_labels(path, 8, fps=4.0, individual="mouse1")


def test_one_animal_recording_still_picks_its_rows_of_several(tmp_path) -> None:
    path = tmp_path / "two.csv"
    pd.DataFrame(
        {"frame": [0, 0, 1, 1], "individual": ["a", "b", "a", "b"],
         "behavior": ["walk", "rest", "walk", "groom"]}
    ).to_csv(path, index=False)  # fmt: skip
    assert read_labels(path, 2, individual="b", single_animal=True).tolist() == [
        "rest",
        "groom",
    ]
    with pytest.raises(ValueError, match=r"no rows of 'c'.*names a, b"):
        read_labels(path, 2, individual="c", single_animal=True)


# ---------------------------------------------------------------- command line


def _macro_f1(out: str) -> float:
    found = re.search(r"cross-validated macro F1 ([0-9.]+)", out)
    assert found, out
    return float(found.group(1))


def test_find_labels_gives_each_animal_its_rows(pair, tmp_path, capsys) -> None:
    out = tmp_path / "pred.csv"
    code = main(
        [
            "behavior", "classify", str(_tracking(pair)), "--project", str(pair.path),
            "--find-labels", "--n-estimators", "30", "--out", str(out),
        ]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    for animal in ("mouse1", "mouse2"):
        assert f"labels of {SESSION}/{animal}: {_truth(pair)}" in printed.out
    assert "not used" not in printed.err
    assert _macro_f1(printed.out) > 0.3
    predicted = pd.read_csv(out)
    assert set(predicted["individual"]) == {"mouse1", "mouse2"}
    # the predictions file (track, session, individual, frame, time, behavior)
    # reads back as labels, each animal its own rows
    for animal in ("mouse1", "mouse2"):
        mine = predicted[predicted["individual"] == animal].sort_values("frame")
        got = read_labels(out, N, individual=animal)
        assert got.tolist() == mine["behavior"].astype(str).tolist()


def test_labels_of_one_animal_train_better_than_the_other_animals(
    pair, tmp_path, capsys
) -> None:
    """``--labels SESSION/mouse1=G`` trains on mouse1's rows, not on mouse2's.

    The old reading gave mouse1 mouse2's labels (the last row of each frame): a
    file of mouse2's rows under mouse1's name reproduces it, and scores worse.
    """
    table = pd.read_csv(_truth(pair))
    wrong = table[table["individual"] == "mouse2"].assign(individual="mouse1")
    wrong.to_csv(tmp_path / "wrong.csv", index=False)
    scores = {}
    for name, labels in (("right", _truth(pair)), ("wrong", tmp_path / "wrong.csv")):
        code = main(
            [
                "behavior", "classify", str(_tracking(pair)),
                "--project", str(pair.path),
                "--labels", f"{SESSION}/mouse1={labels}", "--n-estimators", "30",
                "--out", str(tmp_path / f"{name}.csv"),
            ]
        )  # fmt: skip
        printed = capsys.readouterr()
        assert code == 0, printed.err
        scores[name] = _macro_f1(printed.out)
    assert scores["right"] > scores["wrong"] + 0.1


def test_find_labels_without_an_individual_column_says_what_to_do(
    pair, tmp_path, capsys
) -> None:
    project = make_demo_project(
        tmp_path / "plain", n_animals=2, n_frames=60, n_labeled=0
    )
    truth = _truth(project)
    pd.read_csv(truth).drop(columns="individual").to_csv(truth, index=False)
    code = main(
        [
            "behavior", "classify", str(_tracking(project)),
            "--project", str(project.path), "--find-labels",
            "--out", str(tmp_path / "p.csv"),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "no 'individual' column" in err and "--labels TRACK=CSV" in err
