"""Labels of several animals: the four-level label store, copy, swap, merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.io.dlc import LabelError, read_labels, write_labels
from posekit.engine.labels import LabelStore
from posekit.engine.multianimal.labels import MultiAnimalLabelStore, split_slot
from posekit.engine.multianimal.layout import SINGLE, frame_to_arrays
from posekit.engine.project import create_project

NAN = np.nan


@pytest.fixture
def project(tmp_path):
    import cv2

    project = create_project(
        "mice",
        "Jo",
        working_directory=tmp_path,
        bodyparts=["nose", "tail"],
        individuals=["m1", "m2"],
        uniquebodyparts=["lever"],
    )
    folder = project.labeled_data_dir("v")
    folder.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(folder / f"img{i}.png"), np.zeros((50, 60, 3), np.uint8))
    return project


def test_store_of_a_multianimal_project_names_points_by_individual(project):
    store = LabelStore(project, "v")
    assert isinstance(store, MultiAnimalLabelStore)
    assert store.bodyparts == [
        "m1/nose",
        "m1/tail",
        "m2/nose",
        "m2/tail",
        "single/lever",
    ]
    assert store.individuals == ["m1", "m2", SINGLE]
    assert split_slot(store.bodyparts[-1]) == (SINGLE, "lever")
    frame = store.frames[0]
    store.set_point(frame, "m1/nose", 1.0, 2.0)
    store.set_point(frame, "m2/nose", 30.0, 40.0)
    store.set_point(frame, "single/lever", 5.0, 6.0)
    df = read_labels(store.path)
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.loc[("labeled-data", "v", "img0.png"), ("Jo", "m2", "nose", "x")] == 30.0
    assert ("Jo", "single", "nose", "x") not in df.columns  # DLC's columns exactly
    assert list(pd.read_csv(store.path.with_suffix(".csv"), header=None)[0][:4]) == [
        "scorer",
        "individuals",
        "bodyparts",
        "coords",
    ]


def test_copy_from_the_previous_frame_and_swap_are_undoable(project):
    store = LabelStore(project, "v")
    f0, f1 = store.frames[:2]
    store.apply(f0, {"m1/nose": (1.0, 1.0), "m1/tail": (2.0, 2.0), "m2/nose": (9, 9)})
    changes = store.copy_individual(f0, f1, "m1")
    assert {c.bodypart for c in changes} == {"m1/nose", "m1/tail"}
    assert store.point(f1, "m1/tail") == (2.0, 2.0)
    assert np.isnan(store.point(f1, "m2/nose")[0])  # other animals untouched
    store.swap_individuals(f0, "m1", "m2")
    assert store.point(f0, "m2/nose") == (1.0, 1.0)
    assert store.point(f0, "m1/nose") == (9.0, 9.0)
    assert np.isnan(store.point(f0, "m1/tail")[0])
    kp, _, _ = frame_to_arrays(read_labels(store.path))
    assert kp[0, 1, 1].tolist() == [2.0, 2.0]  # saved: m2's tail is the old m1's
    store.undo()
    assert store.point(f0, "m1/nose") == (1.0, 1.0)
    with pytest.raises(LabelError, match="unique"):
        store.swap_individuals(f0, "m1", SINGLE)
    with pytest.raises(LabelError, match="not an individual"):
        store.copy_individual(f0, f1, "m9")


def test_another_writer_is_merged_point_by_point(project):
    ours = LabelStore(project, "v")
    theirs = LabelStore(project, "v")
    frame = ours.frames[0]
    ours.set_point(frame, "m1/nose", 1.0, 1.0)
    theirs.set_point(frame, "m2/tail", 7.0, 7.0)  # merges ours in before writing
    ours.sync()
    assert ours.point(frame, "m2/tail") == (7.0, 7.0)
    assert ours.point(frame, "m1/nose") == (1.0, 1.0)


def test_label_file_with_other_animal_names_keeps_them(project, caplog):
    """A file whose animals all differ from config.yaml's keeps its own (QA s15, 9).

    An edit used to add empty columns for every animal of the config (18 → 42
    columns), and the labeller offered animals the frames do not have.
    """
    frames = [("labeled-data", "v", "img0.png")]
    cols = pd.MultiIndex.from_tuples(
        [
            ("Jo", animal, part, xy)
            for animal, parts in (
                ("mus1", ("nose", "tail")),
                ("mus2", ("nose", "tail")),
            )
            for part in parts
            for xy in ("x", "y")
        ]
        + [("Jo", SINGLE, "lever", "x"), ("Jo", SINGLE, "lever", "y")],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    values = np.arange(len(cols), dtype=float)[None] + 0.5
    write_labels(
        pd.DataFrame(values, index=pd.MultiIndex.from_tuples(frames), columns=cols),
        project.labels_path("v"),
    )
    with caplog.at_level("WARNING", logger="posekit"):
        store = LabelStore(project, "v")
        LabelStore(project, "v")  # said once
    assert caplog.text.count("config.yaml's individuals are ['m1', 'm2']") == 1
    assert store.individuals == ["mus1", "mus2", SINGLE]
    assert store.bodyparts == [
        "mus1/nose", "mus1/tail", "mus2/nose", "mus2/tail", "single/lever",
    ]  # fmt: skip
    assert store.point("img0.png", "mus2/nose") == (4.5, 5.5)
    store.set_point("img0.png", "mus1/tail", 1.0, 1.0)
    saved = read_labels(store.path)
    assert saved.columns.equals(cols)  # no columns for m1, m2
    assert saved.loc[frames[0], ("Jo", "mus1", "tail", "x")] == 1.0
    with pytest.raises(
        LabelError, match=r"'<individual>/<bodypart>', e\.g\. 'mus1/nose'"
    ):
        store.set_point("img0.png", "m1/nose", 1.0, 1.0)


def test_a_point_without_its_individual_says_how_to_name_it(project):
    """``set_point(frame, "lever", …)`` says to name points ``<individual>/<bodypart>``.

    The error said "config.yaml lists ['m1/nose', …]", names config.yaml does not
    have (QA s15, finding 8).
    """
    store = LabelStore(project, "v")
    with pytest.raises(
        LabelError, match=r"'<individual>/<bodypart>', e\.g\. 'single/lever'"
    ):
        store.set_point(store.frames[0], "lever", 1.0, 1.0)


def test_single_animal_file_in_a_multianimal_project_is_refused(project):
    cols = pd.MultiIndex.from_tuples(
        [("Jo", "nose", "x"), ("Jo", "nose", "y")],
        names=["scorer", "bodyparts", "coords"],
    )
    write_labels(
        pd.DataFrame(
            [[NAN, NAN]],
            index=pd.MultiIndex.from_tuples([("labeled-data", "v", "img0.png")]),
            columns=cols,
        ),
        project.labels_path("v"),
    )
    with pytest.raises(LabelError, match="single-animal label file"):
        LabelStore(project, "v")
