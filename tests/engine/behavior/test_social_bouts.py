"""Social measures on trajectories with known answers.

Approaches, contacts with threshold flicker, the centroid shared with the kinematics,
and following.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior import BehaviorModel
from posekit.engine.behavior.kinematics import (
    compute_centroid,
    compute_interindividual_distances,
)
from posekit.engine.behavior.social import (
    approach_events,
    contact_bouts,
    following_bouts,
    social_summary,
)
from posekit.engine.poses import from_numpy

CONTACT = 50.0  # contact distance of the synthetic pairs; release 55, approach 100


def _pair(a_xy: np.ndarray, b_xy: np.ndarray, fps: float = 25.0) -> xr.Dataset:
    """Two one-keypoint animals ``a`` and ``b`` from ``(time, 2)`` tracks."""
    pos = np.stack([a_xy, b_xy], axis=-1)[:, :, None, :]  # time, space, kp, ind
    return from_numpy(pos, individual_names=["a", "b"], fps=fps)


def _distances(values) -> xr.DataArray:
    d = np.asarray(values, float)[:, None]
    return xr.DataArray(d, dims=("time", "pair"), coords={"pair": ["a-b"]})


# ------------------------------------------------------------------ approaches
def _visits() -> tuple[xr.Dataset, list[tuple[str, int, int]]]:
    """Return two animals' visits and the true approaches.

    ``a`` walks to ``b``, hovers around contact (flicker), backs off to 80 (not far
    enough to approach again) and comes back, then retreats to 200; later ``b``
    walks to ``a``. The approaches are ``(approacher, start, contact)``.
    """
    d = np.r_[
        np.full(20, 200.0),  # 0-19 apart
        np.linspace(200, 40, 20),  # 20-39 a walks in
        np.tile([45.0, 53.0, 47.0, 52.0], 5),  # 40-59 flicker around 50, below 55
        np.full(10, 80.0),  # 60-69 backs off, but not to 100
        np.full(10, 40.0),  # 70-79 re-entry: a contact, not an approach
        np.linspace(40, 200, 20),  # 80-99 a retreats
        np.full(20, 200.0),  # 100-119 apart
        np.full(20, np.nan),  # 120-139 placeholder: b walks in (below)
        np.full(20, 40.0),  # 140-159 contact
    ]
    n = len(d)
    a = np.zeros((n, 2))
    b = np.zeros((n, 2))
    a[:, 0] = d  # b at the origin, a at distance d along x ...
    a[120:, 0] = 200.0  # ... until a stops at 200 and b walks to it
    b[120:140, 0] = np.linspace(0, 160, 20)
    b[140:, 0] = 160.0
    dist = np.abs(a[:, 0] - b[:, 0])
    truth = []
    for who, contact in (
        ("a", 20 + int(np.argmax(dist[20:] < CONTACT))),
        ("b", 120 + int(np.argmax(dist[120:] < CONTACT))),
    ):
        start = int(np.flatnonzero(dist[:contact] >= 100.0)[-1])
        truth.append((who, start, contact))
    return _pair(a, b), truth


def test_each_approach_once_with_its_own_start():
    ds, truth = _visits()
    for window in (30, 100, 600):  # her case: a long window
        ev = approach_events(ds.position, CONTACT, approach_from=100.0, window=window)
        got = list(
            zip(ev["approacher"], ev["start_frame"], ev["contact_frame"], strict=True)
        )
        assert got == truth, window
        assert (ev["distance_start"] >= 100.0).all()
        assert (ev["distance_contact"] < CONTACT).all()
    # contacts: the first visit (flicker merged), the re-entry, b's visit
    bouts = contact_bouts(compute_interindividual_distances(ds.position), CONTACT)
    assert bouts["start_frame"].tolist() == [truth[0][2], 70, truth[1][2]]
    d = compute_interindividual_distances(ds.position).values[:, 0]
    last_close = 70 + int(np.flatnonzero(d[70:100] < CONTACT)[-1])  # on the way out
    assert bouts["end_frame"].tolist() == [58, last_close, 159]
    row = social_summary(
        ds.position, contact_distance=CONTACT, approach_from=100.0, window=600
    ).iloc[0]
    assert (
        row["contacts"],
        row["approaches_by_first"],
        row["approaches_by_second"],
    ) == (
        3,
        1,
        1,
    )


def test_an_approach_too_slow_for_the_window_is_none():
    ds, truth = _visits()
    (_, start, contact), _ = truth
    for window, found in ((contact - start, True), (contact - start - 1, False)):
        ev = approach_events(ds.position, CONTACT, approach_from=100.0, window=window)
        assert ("a" in ev["approacher"].tolist()) == found


# ------------------------------------------------------------------ contacts
def test_flicker_around_the_threshold_is_one_contact():
    rng = np.random.default_rng(0)
    # three true contacts (distance 50 +- 3: crosses 50 every frame or two) between
    # stretches apart; what the QA tester saw on the SLEAP flies
    d = np.r_[
        np.full(30, 150.0),
        50.0 + rng.uniform(-3, 3, 40),  # 30-69
        np.full(25, 120.0),
        50.0 + rng.uniform(-3, 3, 60),  # 95-154
        np.full(25, 120.0),
        50.0 + rng.uniform(-3, 3, 30),  # 180-209
        np.full(20, 150.0),
    ]
    below = np.flatnonzero(d < CONTACT)
    dist = _distances(d)
    raw = contact_bouts(dist, CONTACT, release_distance=CONTACT, merge_gap=0)
    assert len(raw) > 20  # every crossing: the old count
    bouts = contact_bouts(dist, CONTACT, fps=25.0)
    assert len(bouts) == 3
    for (lo, hi), (_, b) in zip(
        [(30, 69), (95, 154), (180, 209)], bouts.iterrows(), strict=True
    ):
        inside = below[(below >= lo) & (below <= hi)]
        assert (b["start_frame"], b["end_frame"]) == (inside[0], inside[-1])
        assert b["frames"] == b["frames_used"] == inside[-1] - inside[0] + 1
        assert b["duration_s"] == pytest.approx(b["frames"] / 25.0)
        assert b["min_distance"] == pytest.approx(d[lo : hi + 1].min())


def test_contact_hysteresis_and_merge_gap():
    d = np.full(100, 100.0)
    d[10:20] = 40.0
    d[20:23] = 80.0  # 3 frames apart (> release 55): merged (merge gap 5)
    d[23:30] = 40.0
    d[30:40] = 80.0  # 10 frames apart: a new contact
    d[40:50] = 40.0
    d[50:60] = 54.0  # 10 frames between contact and release: still in contact
    d[60:65] = 40.0
    d[65:67] = np.nan  # 2 frames unseen: merged
    d[67:70] = 40.0
    d[70:80] = np.nan  # 10 frames unseen: the contact ends
    d[80:85] = 40.0
    bouts = contact_bouts(_distances(d), CONTACT)
    spans = list(zip(bouts["start_frame"], bouts["end_frame"], strict=True))
    assert spans == [(10, 29), (40, 69), (80, 84)]
    assert bouts["frames_used"].tolist() == [20, 28, 5]
    # the thresholds and the gap are parameters
    strict = contact_bouts(_distances(d), CONTACT, release_distance=50.0, merge_gap=0)
    assert len(strict) == 6
    assert len(contact_bouts(_distances(d), CONTACT, merge_gap=10)) == 1
    assert contact_bouts(_distances(d), CONTACT, min_frames=6)[
        "start_frame"
    ].tolist() == [
        10,
        40,
    ]
    a = np.c_[d, np.zeros(100)]
    a[np.isnan(d)] = np.nan
    row = social_summary(
        _pair(a, np.zeros((100, 2))).position,
        contact_distance=CONTACT,
        merge_gap=10,
    ).iloc[0]
    assert row["contacts"] == 1
    assert row["frames_used"] == 88 and row["contact_frames"] == 75 - 12
    assert row["contact_fraction"] == pytest.approx(63 / 88)


# ------------------------------------------------------------------ centroid
def _gappy(n=100):
    rng = np.random.default_rng(1)
    pos = np.zeros((n, 2, 3, 2))
    pos[:, 0, :, 0] = np.linspace(0, 200, n)[:, None] + [0.0, 10.0, 20.0]
    pos[:, 0, :, 1] = np.array([300.0, 310.0, 320.0])
    pos[:, 1] = rng.normal(0, 1, (n, 3, 2))
    pos[10:30, :, 2, 0] = np.nan  # a loses its third keypoint for 20 frames
    pos[50:55, :, 0, 1] = np.nan  # b its first for 5
    return from_numpy(
        pos,
        keypoint_names=["nose", "mid", "tail"],
        individual_names=["a", "b"],
        fps=25.0,
    )


def test_social_uses_the_kinematics_centroid():
    ds = _gappy()
    row = social_summary(ds.position, contact_distance=30.0, fps=25.0).iloc[0]
    # QA s17: the centroid places a missing keypoint from those seen, so both
    # animals have one in every frame (75: the frames where all were seen, before)
    assert row["frames"] == 100 and row["frames_used"] == 100
    centre = compute_centroid(ds.position)
    d = np.linalg.norm(
        (centre.sel(individual="a") - centre.sel(individual="b")).values, axis=-1
    )
    assert row["mean_distance"] == pytest.approx(np.nanmean(d))
    assert row["median_distance"] == pytest.approx(np.nanmedian(d))
    # the same frames as the kinematics table of the behaviour model
    model = BehaviorModel(output_dir=None)
    model.add_dataset(ds, "gappy")
    kin = model.kinematics_table().set_index("individual")
    assert kin.loc["a", "observed_fraction"] == 1.0  # 0.8 before QA s17
    assert kin.loc["a", "centroid_gap_frames"] == 20  # frames with a placed keypoint
    seen = {
        i: np.isfinite(model.point("gappy").sel(individual=i).values).all(-1)
        for i in ("a", "b")
    }
    social = model.social_table().iloc[0]
    assert social["frames_used"] == int((seen["a"] & seen["b"]).sum()) == 100
    assert social["mean_distance"] == pytest.approx(np.nanmean(d))
    # one keypoint seen throughout: every frame
    row = social_summary(ds.position, contact_distance=30.0, keypoint="mid").iloc[0]
    assert row["frames_used"] == 100
    # the averaged keypoints left, on request only
    jumpy = compute_interindividual_distances(ds.position, skipna=True)
    assert np.isfinite(jumpy.values).all()


def test_sleap_flies_one_approach_few_contacts_same_frames(shared_data):
    from posekit.engine import load_poses

    poses = load_poses(shared_data / "sleap-flies-clip" / "clip.slp")
    pos = poses.position
    ev = approach_events(pos, 94.0, approach_from=150, window=600)
    assert ev[["approacher", "start_frame", "contact_frame"]].values.tolist() == [
        ["male", 1142, 1177]
    ]
    table = social_summary(pos, approach_from=150, window=600, fps=25.0)
    row = table.iloc[0]
    assert row["contact_distance"] == pytest.approx(94.0)
    assert row["approaches_by_second"] == 1 and row["approaches_by_first"] == 0
    # QA s17: the centroid places the leg tips missing from the keypoints seen:
    # every frame is used (1056 before: the frames where all 26 were seen), and the
    # contacts are those at the thorax (2: 1177-1182, 1221-1499), not 9 pieces
    assert row["frames_used"] == 1500
    assert row["contacts"] == 2
    thorax = social_summary(pos, approach_from=150, window=600, keypoint="thorax")
    assert thorax.iloc[0]["frames_used"] == 1500
    assert thorax.iloc[0]["contacts"] == 2  # 1174-1193 and 1223-1499
    model = BehaviorModel(output_dir=None)
    model.add_dataset(poses, "clip")
    model.set_social(approach_from=150, window=600)
    point = model.point("clip")
    both = np.isfinite(point.values).all(axis=1).all(axis=-1)
    assert model.social_table().iloc[0]["frames_used"] == int(both.sum()) == 1500


# ------------------------------------------------------------------ following
def _walk(n=100):
    t = np.arange(n, dtype=float)
    return t, np.zeros((n, 2)), np.zeros((n, 2))


def test_following_bout_has_the_right_frames():
    t, lead, fol = _walk()
    lead[:, 0] = 10.0 + 2.0 * t  # the leader walks along x from the start
    fol[20:60, 0] = 2.0 * (t[20:60] - 20)  # the follower waits, then walks behind
    fol[60:, 0] = 80.0 - 2.0 * (t[60:] - 60)  # and turns back (walks away)
    ds = _pair(fol, lead)
    bouts = following_bouts(ds.position, 30.0, fps=25.0)
    assert bouts[
        ["follower", "leader", "start_frame", "end_frame"]
    ].values.tolist() == [["a", "b", 20, 59]]
    assert bouts["duration_s"].iloc[0] == pytest.approx(40 / 25.0)
    assert bouts["mean_distance"].iloc[0] == pytest.approx(50.0)
    row = social_summary(ds.position, contact_distance=30.0, fps=25.0).iloc[0]
    assert (row["following_by_first"], row["following_frames_by_first"]) == (1, 40)
    assert row["following_s_by_first"] == pytest.approx(1.6)
    assert row["following_fraction_by_first"] == pytest.approx(0.4)
    assert (row["following_by_second"], row["following_frames_by_second"]) == (0, 0)
    # the leader following behind: the other column
    swapped = social_summary(_pair(lead, fol).position, contact_distance=30.0)
    assert swapped.iloc[0]["following_by_second"] == 1
    # farther than the follow distance, or too short a bout: none
    assert following_bouts(ds.position, 30.0, follow_distance=40.0).empty
    assert following_bouts(ds.position, 30.0, min_frames=41).empty


@pytest.mark.parametrize(
    "case", ["side by side", "moving apart", "head on", "to a still animal", "brief"]
)
def test_not_following(case):
    t, a, b = _walk()
    if case == "side by side":  # parallel, 25 apart
        a[:, 0] = b[:, 0] = 2.0 * t
        b[:, 1] = 25.0
    elif case == "moving apart":  # back to back
        a[:, 0] = -2.0 * t
        b[:, 0] = 20.0 + 2.0 * t
    elif case == "head on":  # walking at each other
        a[:, 0] = 2.0 * t
        b[:, 0] = 220.0 - 2.0 * t
    elif case == "to a still animal":  # an approach, not following
        a[:, 0] = np.minimum(2.0 * t, 150.0)
        b[:, 0] = 180.0
    else:  # behind for 6 frames only (min 10)
        b[:, 0] = 40.0 + 2.0 * t
        a[:, 0] = np.where((t >= 30) & (t < 36), 2.0 * t, 0.0)
        a[36:, 0] = a[35, 0]
    ds = _pair(a, b)
    assert following_bouts(ds.position, 30.0, fps=25.0).empty
    row = social_summary(ds.position, contact_distance=30.0, fps=25.0).iloc[0]
    assert row["following_by_first"] == row["following_by_second"] == 0


def test_behavior_model_settings_reach_every_social_table():
    """set_social's contact and following settings reach the events table too."""
    t, lead, fol = _walk()
    lead[:, 0] = 10.0 + 2.0 * t
    fol[20:60, 0] = 2.0 * (t[20:60] - 20)
    fol[60:, 0] = 80.0 - 2.0 * (t[60:] - 60)
    model = BehaviorModel(output_dir=None)
    model.add_dataset(_pair(fol, lead), "walk")
    model.set_social(contact_distance=30.0, follow_min_frames=50)
    assert model.social["window"] == 30 and model.social["merge_gap"] == 5
    events = model.social_events_table()
    assert "following" not in set(events["event"])  # 40 frames < 50
    assert model.social_table().iloc[0]["following_by_first"] == 0
    model.set_social(contact_distance=30.0)  # defaults again: 10 frames suffice
    events = model.social_events_table()
    follow = events[events["event"] == "following"]
    assert follow[
        ["approacher", "target", "start_frame", "end_frame"]
    ].values.tolist() == [["a", "b", 20, 59]]
    assert model.social_table().iloc[0]["following_by_first"] == 1
    with pytest.raises(TypeError):
        model.set_social(merge_gaps=3)
