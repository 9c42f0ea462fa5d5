"""``contact_bouts`` takes what its siblings take: positions and a keypoint.

QA s18 (finding 5): ``contact_bouts(pos, keypoint="thorax", fps=25)``, as
``approach_events`` and ``following_bouts`` are called, was a ``TypeError``; a plain
distance array an ``IndexError``. The guide never said how to build the
``(time, pair)`` distances it needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from posekit.engine.behavior.kinematics import compute_interindividual_distances
from posekit.engine.behavior.social import (
    approach_events,
    contact_bouts,
    default_contact_distance,
    following_bouts,
    social_summary,
)
from posekit.engine.poses import from_numpy


def _three_animals(n: int = 60) -> xr.Dataset:
    """Return ``a`` walking to ``b`` snout first, ``c`` far; two keypoints each.

    ``a`` is 10 long, ``b`` and ``c`` 30 (median body length 30). Along x, the
    centroids are 20 units farther apart than the snouts.
    """
    pos = np.zeros((n, 2, 2, 3))
    pos[:, 0, 0, 0] = np.linspace(0, 148, n)  # a's snout
    pos[:, 0, 1, 0] = pos[:, 0, 0, 0] - 10  # a's tail, behind it
    pos[:, 0, :, 1] = [150.0, 180.0]  # b: snout, tail
    pos[:, 0, :, 2] = [500.0, 530.0]
    pos[:, 1] = 50.0
    return from_numpy(
        pos, keypoint_names=["snout", "tail"], individual_names=["a", "b", "c"]
    )


def test_positions_and_keypoint_as_for_approach_events() -> None:
    ds = _three_animals()
    snout = ds.position.sel(keypoint="snout").values
    d = np.abs(snout[:, 0, 0] - snout[:, 0, 1])  # a-b along x
    first = int(np.argmax(d < 40.0))
    bouts = contact_bouts(ds.position, 40.0, keypoint="snout", fps=30.0)
    assert bouts[["pair", "start_frame", "end_frame"]].values.tolist() == [
        ["a-b", first, 59]
    ]
    assert bouts["duration_s"].iloc[0] == pytest.approx((60 - first) / 30.0)
    assert bouts["min_distance"].iloc[0] == pytest.approx(d.min())
    # the same as from the distances the guide now names
    dist = compute_interindividual_distances(ds.position, "snout")
    pd.testing.assert_frame_equal(bouts, contact_bouts(dist, 40.0, fps=30.0))
    pd.testing.assert_frame_equal(
        bouts, contact_bouts(distance=dist, contact_distance=40.0, fps=30.0)
    )
    # centroids (the default point): 20 units farther, a later start
    centre = contact_bouts(ds.position, 40.0)
    assert centre["start_frame"].tolist() == [int(np.argmax(d + 20.0 < 40.0))]
    assert centre["start_frame"].iloc[0] > first
    # a poses Dataset is taken too
    pd.testing.assert_frame_equal(centre, contact_bouts(ds, 40.0))


def test_default_contact_distance_as_in_the_summary() -> None:
    ds = _three_animals()
    assert default_contact_distance(ds.position) == 30.0
    bouts = contact_bouts(ds.position)  # the median body length, 30
    d = compute_interindividual_distances(ds.position).sel(pair="a-b").values
    assert 0 < int(np.argmax(d < 30.0)) < 59
    assert bouts[["pair", "start_frame", "end_frame"]].values.tolist() == [
        ["a-b", int(np.argmax(d < 30.0)), 59]
    ]
    row = social_summary(ds.position).set_index("pair").loc["a-b"]
    assert row["contacts"] == len(bouts)
    assert row["contact_frames"] == bouts["frames_used"].sum()


def test_one_animal_has_no_contact() -> None:
    pos = np.zeros((10, 2, 2, 1))
    pos[:, 0, 1] = 10.0
    assert contact_bouts(from_numpy(pos).position).empty


def test_wrong_inputs_say_what_to_pass() -> None:
    ds = _three_animals()
    plain = xr.DataArray(np.full(60, 30.0), dims="time")  # QA's IndexError
    with pytest.raises(ValueError, match=r"compute_interindividual_distances"):
        contact_bouts(plain, 40.0)
    with pytest.raises(ValueError, match="one of them"):
        contact_bouts()
    dist = compute_interindividual_distances(ds.position)
    with pytest.raises(ValueError, match="one of them"):
        contact_bouts(ds.position, 40.0, distance=dist)
    with pytest.raises(ValueError, match="needs contact_distance"):
        contact_bouts(distance=dist)
    with pytest.raises(ValueError, match="keypoint="):
        contact_bouts(dist, 40.0, keypoint="snout")


def test_sleap_flies_as_the_guide_calls_it(shared_data) -> None:
    """The guide's call on the QA's clip: the thorax contacts of the summary."""
    from posekit.engine import load_poses

    pos = load_poses(shared_data / "sleap-flies-clip" / "clip.slp").position
    bouts = contact_bouts(pos, keypoint="thorax", fps=25)
    assert bouts[["start_frame", "end_frame"]].values.tolist() == [
        [1174, 1193],
        [1223, 1499],
    ]
    row = social_summary(pos, keypoint="thorax", fps=25).iloc[0]
    assert row["contacts"] == 2
    assert row["contact_frames"] == bouts["frames_used"].sum()
    assert bouts["pair"].tolist() == ["female-male"] * 2
    # the guide's other calls, and its distances
    approach = approach_events(
        pos, 94.0, keypoint="thorax", approach_from=150, window=600
    )
    assert approach[["approacher", "target"]].values.tolist() == [["male", "female"]]
    following = following_bouts(pos, keypoint="thorax", fps=25)
    assert len(following) == row["following_by_first"] + row["following_by_second"]
    d = compute_interindividual_distances(pos, "thorax")
    assert d.dims == ("time", "pair") and d["pair"].values.tolist() == ["female-male"]
    again = contact_bouts(distance=d, contact_distance=row["contact_distance"], fps=25)
    pd.testing.assert_frame_equal(again, bouts)
