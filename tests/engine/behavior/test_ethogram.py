"""Bouts, ethogram arrays, transitions and summary tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.ethogram import (
    bout_summary,
    bouts_to_labels,
    compute_ethogram,
    group_summary,
    labels_to_bouts,
    remove_short_bouts,
    transition_matrix,
)

LABELS = np.array(["rest"] * 4 + ["walk"] * 3 + ["rest"] * 2 + ["groom"] * 6 + ["walk"])


def test_bouts_have_inclusive_frames_and_seconds():
    bouts = labels_to_bouts(LABELS, fps=2.0, individual="m1")
    assert bouts[["behavior", "start", "end", "duration"]].values.tolist() == [
        ["rest", 0, 3, 4],
        ["walk", 4, 6, 3],
        ["rest", 7, 8, 2],
        ["groom", 9, 14, 6],
        ["walk", 15, 15, 1],
    ]
    assert bouts["duration_s"].tolist() == [2.0, 1.5, 1.0, 3.0, 0.5]
    # end is the last frame (inclusive); end_s when the bout stops: [start_s, end_s)
    assert bouts["start_s"].tolist() == [0.0, 2.0, 3.5, 4.5, 7.5]
    assert bouts["end_s"].tolist() == [2.0, 3.5, 4.5, 7.5, 8.0]
    assert (bouts["end_s"] - bouts["start_s"] == bouts["duration_s"]).all()
    assert (bouts["individual"] == "m1").all()
    assert bouts_to_labels(bouts, len(LABELS)).tolist() == LABELS.tolist()
    assert "rest" not in labels_to_bouts(LABELS, ignore=["rest"])["behavior"].tolist()


def test_remove_short_bouts():
    cleaned = remove_short_bouts(LABELS, 3)
    assert labels_to_bouts(cleaned)[["behavior", "duration"]].values.tolist() == [
        ["rest", 4],
        ["walk", 5],  # the 2-frame rest joins the walk before it
        ["groom", 7],  # the 1-frame walk joins the groom
    ]
    assert remove_short_bouts(np.array([1, 2, 2, 2]), 2).tolist() == [2, 2, 2, 2]
    assert remove_short_bouts(LABELS, 1).tolist() == LABELS.tolist()
    with pytest.raises(ValueError, match="min_frames"):
        remove_short_bouts(LABELS, 0)


def test_ethogram_and_transitions():
    eth = compute_ethogram(LABELS, ["rest", "walk", "groom"], fps=2.0)
    assert eth.dims == ("behavior", "time") and eth.sum("time").values.tolist() == [
        6,
        4,
        6,
    ]
    assert eth.time.values[-1] == 7.5
    counts = transition_matrix(LABELS)
    assert counts.loc["rest", "walk"] == 1 and counts.loc["walk", "rest"] == 1
    assert counts.loc["rest", "groom"] == 1 and counts.loc["groom", "walk"] == 1
    assert counts.values.sum() == 4 and np.trace(counts.values) == 0
    probs = transition_matrix(LABELS, normalize=True)
    assert probs.loc["rest"].sum() == pytest.approx(1.0)
    assert transition_matrix(LABELS, ignore=["rest"]).loc["walk", "groom"] == 1


def test_per_animal_and_group_summaries():
    bouts = pd.concat(
        [
            labels_to_bouts(LABELS, individual="m1"),
            labels_to_bouts(["rest"] * 10 + ["walk"] * 6, individual="m2"),
            labels_to_bouts(["walk"] * 16, individual="m3"),
        ]
    )
    summary = bout_summary(bouts, n_frames=16, fps=2.0)
    m1_walk = summary.set_index(["individual", "behavior"]).loc[("m1", "walk")]
    assert m1_walk.n_bouts == 2 and m1_walk.total_frames == 4 and m1_walk.latency == 4
    assert m1_walk.fraction == pytest.approx(0.25) and m1_walk.total_s == 2.0
    groups = group_summary(summary, {"m1": "ctrl", "m2": "ctrl", "m3": "drug"})
    walk = groups.loc[("ctrl", "walk")]
    assert (
        walk[("total_frames", "mean")] == 5.0 and walk[("total_frames", "count")] == 2
    )
    assert walk[("total_frames", "sem")] == pytest.approx(
        np.std([4, 6], ddof=1) / np.sqrt(2)
    )
    with pytest.raises(ValueError, match="without a group"):
        group_summary(summary, {"m1": "ctrl"})
