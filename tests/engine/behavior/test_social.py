"""Social behaviour of several animals: distances, contacts, approaches (known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior import BehaviorModel
from posekit.engine.behavior.kinematics import compute_interindividual_distances
from posekit.engine.behavior.social import (
    approach_events,
    contact_bouts,
    default_contact_distance,
    social_summary,
)
from posekit.engine.demo import make_demo_project
from posekit.engine.poses import from_numpy


def _meeting(n=60):
    # a walks to b (x 0 to 118), b stands at x = 150, c far away; 2 keypoints each
    pos = np.zeros((n, 2, 2, 3))
    pos[:, 0, 0, 0] = np.linspace(0, 118, n)
    pos[:, 0, 1, 0] = pos[:, 0, 0, 0] + 10  # a's 2nd keypoint: body length 10
    pos[:, 0, :, 1] = [150.0, 160.0]
    pos[:, 0, :, 2] = [500.0, 510.0]
    pos[:, 1] = 50.0
    return from_numpy(pos, individual_names=["a", "b", "c"], fps=30.0)


def test_contact_bouts_and_approach_by_the_mover():
    ds = _meeting()
    d = compute_interindividual_distances(ds.position)
    assert [str(p) for p in d.pair.values] == ["a-b", "a-c", "b-c"]
    bouts = contact_bouts(d, 40.0, fps=30.0)
    assert bouts["pair"].tolist() == ["a-b"]
    first = int(np.argmax(d.sel(pair="a-b").values < 40.0))
    assert bouts["start_frame"].tolist() == [first] and bouts["end_frame"].tolist() == [
        59
    ]
    assert bouts["duration_s"].iloc[0] == pytest.approx((60 - first) / 30.0)
    ev = approach_events(ds.position, 40.0, window=40)
    assert ev[["approacher", "target"]].values.tolist() == [["a", "b"]]
    assert ev["contact_frame"].tolist() == [first]
    assert ev["distance_start"].iloc[0] >= 80.0
    # a window too short for the walk: no approach
    assert approach_events(ds.position, 40.0, window=3).empty


def test_summary_per_pair_and_default_contact_distance():
    ds = _meeting()
    assert default_contact_distance(ds.position) == pytest.approx(10.0)
    table = social_summary(ds.position, contact_distance=40.0, window=40, fps=30.0)
    row = table.set_index("pair").loc["a-b"]
    assert row["contacts"] == 1 and row["approaches_by_first"] == 1
    assert row["approaches_by_second"] == 0
    assert row["contact_s"] == pytest.approx(row["contact_frames"] / 30.0)
    assert table.set_index("pair").loc["b-c", "contacts"] == 0
    assert table.set_index("pair").loc["b-c", "mean_distance"] == pytest.approx(350.0)
    one = from_numpy(np.zeros((5, 2, 1, 1)))
    assert social_summary(one.position).empty


def test_behavior_model_tables_of_a_three_animal_demo(tmp_path):
    project = make_demo_project(tmp_path, n_animals=3, n_frames=300, n_labeled=0)
    model = BehaviorModel(output_dir=tmp_path / "out")
    model.load_path(project.path / "ground-truth" / "session1_keypoints.h5")
    social = model.social_table()
    assert social["pair"].tolist() == [
        "mouse1-mouse2",
        "mouse1-mouse3",
        "mouse2-mouse3",
    ]
    assert (social["mean_distance"] > 0).all()
    model.set_social(contact_distance=1e6)  # everyone touches everyone
    every = model.social_table()
    assert (every["contact_fraction"] == 1.0).all() and (every["contacts"] == 1).all()
    events = model.social_events_table()
    assert set(events["event"]) == {"contact"}
    assert {"social", "social_events"} <= set(model.tables())
    assert model.settings()["social"]["contact_distance"] == 1e6
    assert isinstance(events, pd.DataFrame)
