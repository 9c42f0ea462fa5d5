"""Multi-animal projects in DeepLabCut's format: config keys, four-level labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.dataset import create_training_dataset, load_training_set
from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.multianimal.layout import (
    SINGLE,
    MultiAnimalLayout,
    frame_to_arrays,
    multianimal_frame,
)
from posekit.engine.project import ProjectError, create_project, load_project

LAYOUT = MultiAnimalLayout(("m1", "m2", "m3"), ("nose", "tail"), ("lever",))


def test_columns_are_dlcs_not_a_full_product():
    cols = LAYOUT.columns("Jo")
    assert cols.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(cols[:2]) == [("Jo", "m1", "nose", "x"), ("Jo", "m1", "nose", "y")]
    # unique bodyparts only under 'single', multi-animal ones never there
    assert [c for c in cols if c[1] == SINGLE] == [
        ("Jo", "single", "lever", "x"),
        ("Jo", "single", "lever", "y"),
    ]
    assert len(cols) == 2 * (3 * 2 + 1)
    assert LAYOUT.slot_index("m2", "tail") == 3
    assert LAYOUT.slot_index(SINGLE, "lever") == 6
    with pytest.raises(KeyError, match="not a point"):
        LAYOUT.slot_index(SINGLE, "nose")


def test_flip_permutation_swaps_pairs_in_every_animal():
    layout = MultiAnimalLayout(("a", "b"), ("lear", "rear", "nose"))
    perm = layout.flip_slots([("lear", "rear")])
    assert perm.tolist() == [1, 0, 2, 4, 3, 5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"individuals": ("single",), "multi_bodyparts": ("a",)}, "single"),
        ({"individuals": (), "multi_bodyparts": ("a",)}, "at least one"),
        ({"individuals": ("x",), "multi_bodyparts": ("a", "a")}, "twice"),
        (
            {
                "individuals": ("x",),
                "multi_bodyparts": ("a",),
                "unique_bodyparts": ("a",),
            },
            "both",
        ),
    ],
)
def test_bad_layouts_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiAnimalLayout(**kwargs)


def test_arrays_round_trip_through_the_h5_with_unique_parts(tmp_path):
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (4, 3, 2, 2))
    kp[1, 2] = np.nan  # an animal not labelled in one frame
    unique = rng.uniform(0, 100, (4, 1, 2))
    unique[3] = np.nan
    rows = pd.MultiIndex.from_tuples(
        [("labeled-data", "v", f"img{i}.png") for i in range(4)]
    )
    df = multianimal_frame(LAYOUT, "Jo", rows, kp, unique)
    path = write_labels(df, tmp_path / "CollectedData_Jo.h5")
    back = read_labels(path)
    assert list(back.columns) == list(df.columns)
    kp2, unique2, layout = frame_to_arrays(back, LAYOUT)
    assert layout == LAYOUT
    np.testing.assert_array_equal(kp2, kp)
    np.testing.assert_array_equal(unique2, unique)
    # the .csv twin has DLC's four header rows
    head = (tmp_path / "CollectedData_Jo.csv").read_text().splitlines()[:4]
    assert [h.split(",")[0] for h in head] == [
        "scorer",
        "individuals",
        "bodyparts",
        "coords",
    ]


def test_sleap_fixture_with_unique_parts_reads_with_other_animal_names(shared_data):
    csv = (
        shared_data
        / "sleap-dlc-format-fixtures/labeled-data/video/maudlc_testdata_v2.csv"
    )
    df = read_labels(csv)
    config_layout = MultiAnimalLayout(
        ("individual1", "individual2", "individual3"), ("A", "B", "C"), ("D", "E")
    )
    kp, unique, layout = frame_to_arrays(df, config_layout)
    # the file's Animal1/Animal2 come after the config's three individuals
    assert layout.individuals[3:] == ("Animal1", "Animal2")
    assert np.isnan(kp[:, :3]).all()
    assert kp[0, 3, 0].tolist() == [0.0, 1.0]  # Animal1 A of img000
    assert kp[0, 4, 2].tolist() == [10.0, 11.0]  # Animal2 C
    assert unique.shape == (4, 2, 2)


def test_multianimal_project_config_as_dlc_writes_it(tmp_path):
    project = create_project(
        "mice",
        "Jo",
        working_directory=tmp_path,
        bodyparts=["nose", "tail"],
        individuals=["m1", "m2"],
        uniquebodyparts=["lever"],
    )
    cfg = load_project(project.path).cfg
    keys = list(cfg)
    assert cfg["multianimalproject"] is True
    assert cfg["bodyparts"] == "MULTI!"
    assert cfg["default_augmenter"] == "multi-animal-imgaug"
    assert cfg["default_track_method"] == "ellipse"
    # DLC's template order: video_sets, individuals, uniquebodyparts,
    # multianimalbodyparts, bodyparts
    i = keys.index("video_sets")
    assert keys[i + 1 : i + 5] == [
        "individuals",
        "uniquebodyparts",
        "multianimalbodyparts",
        "bodyparts",
    ]
    loaded = load_project(project.path)
    assert loaded.individuals == ["m1", "m2"]
    assert loaded.multianimal_bodyparts == ["nose", "tail"]
    assert loaded.unique_bodyparts == ["lever"]
    assert loaded.bodyparts == ["nose", "tail", "lever"]
    assert MultiAnimalLayout.from_config(loaded) == MultiAnimalLayout(
        ("m1", "m2"), ("nose", "tail"), ("lever",)
    )


def test_multianimal_config_without_bodyparts_is_refused(tmp_path):
    project = create_project(
        "mice", "Jo", working_directory=tmp_path, bodyparts=["a"], individuals=["m1"]
    )
    text = project.config_path.read_text().replace("- a\n", "", 1)
    project.config_path.write_text(text)
    with pytest.raises(ProjectError, match="multianimalbodyparts"):
        load_project(project.path)


def _labelled_project(tmp_path: Path):
    import cv2

    project = create_project(
        "mice",
        "Jo",
        working_directory=tmp_path,
        bodyparts=["leftear", "rightear"],
        individuals=["m1", "m2"],
        uniquebodyparts=["lever"],
    )
    folder = project.labeled_data_dir("v")
    folder.mkdir(parents=True)
    rows = [f"labeled-data/v/img{i}.png" for i in range(5)]
    for r in rows:
        cv2.imwrite(str(project.path / r), np.zeros((40, 60, 3), np.uint8))
    layout = MultiAnimalLayout.from_config(project)
    kp = np.arange(5 * 2 * 2 * 2, dtype=float).reshape(5, 2, 2, 2) % 40
    kp[4] = np.nan  # frame without animals
    unique = np.full((5, 1, 2), 7.0)
    unique[4] = np.nan  # img4: not labelled at all (dropped by the merge)
    df = multianimal_frame(
        layout,
        "Jo",
        pd.MultiIndex.from_tuples([tuple(r.split("/")) for r in rows]),
        kp,
        unique,
    )
    write_labels(df, project.labels_path("v"))
    return project, kp, unique


def test_training_set_keeps_four_levels_and_documents_joints_per_individual(tmp_path):
    import pickle

    project, kp, unique = _labelled_project(tmp_path)
    create_training_dataset(project, test_frames=["img3.png"])
    merged = read_labels(project.training_set_dir() / "CollectedData_Jo.h5")
    assert merged.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert len(merged) == 4  # img4 has no label
    ts = load_training_set(project)
    np.testing.assert_array_equal(ts.keypoints, kp[:4])
    np.testing.assert_array_equal(ts.unique, unique[:4])
    assert ts.flat_keypoints.shape == (4, 5, 2)
    assert ts.test_indices.tolist() == [3]
    assert ts.flip_pairs == [("leftear", "rightear")]
    doc = next(project.training_set_dir().glob("Documentation_data-*.pickle"))
    with open(doc, "rb") as fh:
        data, train, test, _ = pickle.load(fh)
    assert test == [3] and train == [0, 1, 2]
    joints = data[0]["joints"]
    assert sorted(joints) == [0, 1, 2]  # m1, m2, then 'single'
    assert joints[1][:, 0].tolist() == [0, 1]
    assert joints[2].tolist() == [[2.0, 7.0, 7.0]]  # the unique part numbered after
    # DeepLabCut's multi-animal training reads the dataset as <Task>_<scorer>…pickle
    dataset = doc.parent / doc.name.replace("Documentation_data-", "").replace(
        f"{project.task}_", f"{project.task}_{project.scorer}"
    )
    with open(dataset, "rb") as fh:
        assert repr(pickle.load(fh)) == repr(data)
