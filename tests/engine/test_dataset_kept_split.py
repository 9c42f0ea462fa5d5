"""A kept split follows its images when the labels change; empty splits are refused."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest

from posekit.engine.dataset import (
    create_training_dataset,
    load_split,
    load_training_set,
)
from posekit.engine.io.dlc import LabelError, index_to_paths, read_labels, write_labels
from posekit.engine.project import Project


def _labels(project: Project):
    path = project.labels_path("session1")
    return path, read_labels(path)


def _names(split, paths: list[str]) -> tuple[set[str], set[str]]:
    return (
        {paths[i] for i in split.train_indices},
        {paths[i] for i in split.test_indices},
    )


def _merged_paths(project: Project) -> list[str]:
    merged = project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    return index_to_paths(read_labels(merged).index)


def test_kept_split_follows_images_when_frames_are_removed(demo_project, caplog):
    (split,) = create_training_dataset(demo_project)
    before = _merged_paths(demo_project)
    train_before, test_before = _names(split, before)
    path, df = _labels(demo_project)
    gone = {before[int(split.test_indices[0])], before[int(split.train_indices[0])]}
    keep = [p not in gone for p in index_to_paths(df.index)]
    write_labels(df[keep], path)

    with caplog.at_level(logging.INFO, logger="posekit"):
        (kept,) = create_training_dataset(demo_project)
    after = _merged_paths(demo_project)
    assert len(after) == len(before) - 2
    assert _names(kept, after) == (train_before - gone, test_before - gone)
    assert "2 frame(s) no longer labelled dropped" in caplog.text
    # the pickle (what DeepLabCut and load_training_set read) holds the same rows
    on_disk = load_split(demo_project, shuffle=1)
    np.testing.assert_array_equal(on_disk.train_indices, kept.train_indices)
    np.testing.assert_array_equal(on_disk.test_indices, kept.test_indices)
    doc = demo_project.training_set_dir() / (
        f"Documentation_data-{demo_project.task}_80shuffle1.pickle"
    )
    with open(doc, "rb") as fh:
        data, *_ = pickle.load(fh)
    assert {"/".join(d["image"]) for d in data} <= train_before - gone
    ts = load_training_set(demo_project, shuffle=1)
    assert {ts.paths[i] for i in ts.test_indices} == test_before - gone


def test_frames_labelled_after_the_split_go_to_training(demo_project, caplog):
    path, df = _labels(demo_project)
    write_labels(df.iloc[3:], path)
    (split,) = create_training_dataset(demo_project)
    train_before, test_before = _names(split, _merged_paths(demo_project))
    write_labels(df, path)  # three more frames labelled

    with caplog.at_level(logging.INFO, logger="posekit"):
        (kept,) = create_training_dataset(demo_project)
    after = _merged_paths(demo_project)
    added = set(after) - train_before - test_before
    assert len(added) == 3
    assert _names(kept, after) == (train_before | added, test_before)
    assert "3 frame(s) labelled since added to the training set" in caplog.text


def test_no_labelled_frames_is_refused_and_no_split_written(demo_project):
    path, df = _labels(demo_project)
    write_labels(df * np.nan, path)
    with pytest.raises(LabelError, match="no labelled frames in .*label frames first"):
        create_training_dataset(demo_project)
    assert not list(demo_project.training_set_dir().glob("Documentation_*"))


def test_an_existing_empty_split_is_replaced(demo_project):
    (split,) = create_training_dataset(demo_project)
    doc = demo_project.training_set_dir() / (
        f"Documentation_data-{demo_project.task}_80shuffle1.pickle"
    )
    with open(doc, "wb") as fh:  # what an all-empty label file used to leave
        pickle.dump([[], [], [], 0.8], fh)
    (again,) = create_training_dataset(demo_project)
    assert len(again.train_indices) + len(again.test_indices) == 12
    assert len(load_split(demo_project).train_indices) == 10


def test_load_training_set_refuses_rows_beyond_the_merged_labels(demo_project):
    create_training_dataset(demo_project)
    merged = demo_project.training_set_dir() / f"CollectedData_{demo_project.scorer}.h5"
    write_labels(read_labels(merged).iloc[:5], merged)  # shorter than the split
    with pytest.raises(LabelError, match=r"Documentation_data-.*create-training-data"):
        load_training_set(demo_project, shuffle=1)
