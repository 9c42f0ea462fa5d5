"""The ".csv disagrees with .h5" warning is said once per file (QA s24 paths #8).

A copy made during a save leaves the older ``.h5`` and the newer ``.csv``; ``posekit
label`` and ``create-training-dataset`` printed the same long warning 3-5 times.
"""

from __future__ import annotations

import logging
import os

import pytest

from posekit.engine.cli import main
from posekit.engine.io.dlc import read_labels


@pytest.fixture
def csv_ahead(demo_project):
    """Make the demo's label .csv disagree with its .h5 (one point moved), newer."""
    h5 = demo_project.labels_path("session1")
    csv = h5.with_suffix(".csv")
    df = read_labels(h5)
    df.iloc[0, 0] += 7.0
    df.to_csv(csv)
    t = h5.stat().st_mtime
    os.utime(csv, (t + 60, t + 60))
    return demo_project, csv


def _said(caplog, csv) -> int:
    return sum(
        f"{csv} disagrees with" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


@pytest.mark.parametrize("verb", ["label", "create-training-dataset"])
def test_disagreement_said_once_per_command(csv_ahead, caplog, verb) -> None:
    from posekit.engine import labels

    # once per process: start as a fresh one
    getattr(labels, "_WARNED_DISAGREEMENTS", set()).clear()
    project, csv = csv_ahead
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main([verb, str(project.path)]) == 0
        assert main([verb, str(project.path)]) == 0  # the same process again
    assert _said(caplog, csv) == 1


def test_disagreement_said_again_when_a_file_changes(csv_ahead, caplog) -> None:
    from posekit.engine import labels
    from posekit.engine.labels import read_label_file

    getattr(labels, "_WARNED_DISAGREEMENTS", set()).clear()
    project, csv = csv_ahead
    h5 = project.labels_path("session1")
    with caplog.at_level(logging.WARNING, logger="posekit"):
        first = read_label_file(h5)
        second = read_label_file(h5)
        t = csv.stat().st_mtime
        os.utime(csv, (t + 5, t + 5))  # saved again meanwhile: a new state
        read_label_file(h5)
    assert first.note and second.note == first.note  # the note is still returned
    assert _said(caplog, csv) == 2
