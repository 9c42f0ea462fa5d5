"""``evaluate`` says when the labels were edited after the training set was created.

QA s22 (metrics 5, 6): evaluation scores the labels copied into
``training-datasets`` by ``create-training-dataset`` (as DeepLabCut); a label moved
by 50 px in ``labeled-data`` afterwards left every number unchanged without a word.
And evaluating the same model twice appended a second, identical row to
``CombinedEvaluation-results.csv``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import evaluate_network
from posekit.engine.dataset import load_training_set
from posekit.engine.io.dlc import index_to_paths, read_labels, write_labels

pytestmark = pytest.mark.slow


def _combined(project):
    return pd.read_csv(
        project.path
        / "evaluation-results"
        / f"iteration-{project.iteration}"
        / "CombinedEvaluation-results.csv",
        index_col=0,
    )


def test_edited_labels_are_warned_about_and_rows_are_not_repeated(
    tiny_trained_writable, caplog
):
    project = tiny_trained_writable
    ts = load_training_set(project)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        first = evaluate_network(project)
    assert "changed in labeled-data" not in caplog.text  # NaN labels compare equal
    # move one labelled point of a test frame, as the QA did (+50 px)
    frame = ts.paths[ts.test_indices[0]]
    path = project.labels_path(frame.split("/")[1])
    labels = read_labels(path)
    row = index_to_paths(labels.index).index(frame)
    column = int(np.flatnonzero(np.isfinite(labels.iloc[row].to_numpy(float)))[0])
    labels.iloc[row, column] += 50.0
    write_labels(labels, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        again = evaluate_network(project)
    n = len(ts.train_indices) + len(ts.test_indices)
    assert f"the labels of 1 of the {n} frames of shuffle 1's split" in caplog.text
    assert frame in caplog.text
    assert f"posekit create-training-dataset {project.path}" in caplog.text
    # the numbers are those of the copied labels, as before
    assert again["Test error(px)"].iloc[0] == first["Test error(px)"].iloc[0]
    # the same model evaluated twice: one row, not two
    rows = _combined(project)
    assert len(rows) == 1 and rows["Shuffle number"].tolist() == [1]
