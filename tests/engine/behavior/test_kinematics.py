"""Kinematics with analytic answers: straight lines, circles, rigid transforms."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.behavior.kinematics import (
    EgocentricTransform,
    compute_acceleration,
    compute_angular_velocity,
    compute_centroid,
    compute_displacement,
    compute_distance_travelled,
    compute_head_direction,
    compute_heading,
    compute_interindividual_distances,
    compute_joint_angle,
    compute_keypoint_distances,
    compute_path_length,
    compute_speed,
    compute_straightness,
    compute_velocity,
)
from posekit.engine.demo import simulate_session
from posekit.engine.poses import from_numpy

FPS = 30.0


@pytest.fixture
def straight():
    """Two keypoints moving at (3, -4) px/frame: speed exactly 5 px/frame."""
    t = np.arange(50.0)
    pos = np.zeros((50, 2, 2, 1))
    pos[:, 0, 0, 0] = 10 + 3 * t
    pos[:, 1, 0, 0] = 200 - 4 * t
    pos[:, :, 1, 0] = pos[:, :, 0, 0] - [[6.0, -8.0]]  # tail 10 px behind
    return from_numpy(pos, keypoint_names=["head", "tail"], fps=FPS)


@pytest.fixture
def circle():
    """Head ahead of tail on a circle of radius 50 turning 0.05 rad/frame."""
    n, r, w = 200, 50.0, 0.05
    theta = w * np.arange(n)
    centre = np.array([300.0, 200.0])
    tail = centre + r * np.c_[np.cos(theta), np.sin(theta)]
    tangent = np.c_[-np.sin(theta), np.cos(theta)]  # direction of motion
    head = tail + 5.0 * tangent
    mid = np.broadcast_to(centre, tail.shape)
    pos = np.stack([head, tail, mid], axis=-1)[..., None]  # (T, 2, 3, 1)
    ds = from_numpy(pos, keypoint_names=["head", "tail", "centre"], fps=FPS)
    return ds, theta, r, w


def test_constant_velocity_gives_exact_speed_in_both_units(straight):
    pos = straight.position
    per_s = compute_speed(pos)
    per_f = compute_speed(pos, per="frame")
    np.testing.assert_allclose(per_f.values, 5.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(per_s.values, 150.0, rtol=0, atol=1e-9)
    assert per_s.attrs["units"] == "px/s" and per_f.attrs["units"] == "px/frame"
    assert per_s.name == "speed" and per_s.dims == ("time", "keypoint", "individual")
    vel = compute_velocity(pos)
    np.testing.assert_allclose(vel.sel(space="x").values, 90.0)
    np.testing.assert_allclose(vel.sel(space="y").values, -120.0)
    acc = compute_acceleration(pos)
    np.testing.assert_allclose(acc.values, 0.0, atol=1e-9)
    assert acc.attrs["units"] == "px/s^2"
    disp = compute_displacement(pos)
    assert np.isnan(disp.isel(time=0)).all()
    np.testing.assert_allclose(disp.sel(space="x").values[1:], 3.0)


def test_distance_travelled_and_straight_path(straight):
    pos = straight.position.sel(keypoint="head")
    dist = compute_distance_travelled(pos)
    np.testing.assert_allclose(dist.values.ravel(), 5.0 * np.arange(50))
    assert float(compute_path_length(pos).squeeze()) == pytest.approx(245.0)
    assert float(compute_straightness(pos).squeeze()) == pytest.approx(1.0)
    rolling = compute_straightness(pos, window=10)
    assert np.isnan(rolling.values[:9]).all()
    np.testing.assert_allclose(rolling.values[9:], 1.0)


def test_nan_steps_are_not_counted(straight):
    pos = straight.position.sel(keypoint="head").copy()
    pos[10] = np.nan
    # "skip": the two steps next to the missing frame are not counted
    assert float(compute_path_length(pos, nan_policy="skip").squeeze()) == (
        pytest.approx(235.0)
    )
    speed = compute_speed(pos, per="frame")
    assert np.isnan(speed.values.ravel()[[9, 10, 11]]).all()


def test_path_length_gap_policies_match_movement(straight, caplog):
    # 50 frames, 5 px per step (245 px); frames 10-12 missing
    pos = straight.position.sel(keypoint="head").copy()
    pos[10:13] = np.nan

    def length(policy: str) -> float:
        return float(compute_path_length(pos, nan_policy=policy).squeeze())

    # ffill (movement's default): stays at frame 9, jumps to frame 13 (20 px)
    assert length("ffill") == pytest.approx(245.0)
    # scale: 45 of 49 steps observed, 225 px of them
    assert length("scale") == pytest.approx(225.0 * 49 / 45)
    assert length("skip") == pytest.approx(225.0)
    assert compute_path_length(pos).name == "path_length"
    with pytest.raises(ValueError, match="nan_policy"):
        compute_path_length(pos, nan_policy="drop")
    assert "unreliable" not in caplog.text  # 3 of 50 missing: under 20 %
    mostly = pos.copy()
    mostly[5:40] = np.nan
    with caplog.at_level("WARNING", logger="posekit.behavior.kinematics"):
        compute_path_length(mostly)
    assert "unreliable" in caplog.text and "70% missing" in caplog.text


def test_distance_and_straightness_follow_the_path_length_gap_policy(straight):
    # 50 frames, 5 px per step (245 px); frames 10-12 missing
    pos = straight.position.sel(keypoint="head").copy()
    pos[10:13] = np.nan

    def travelled(**kw) -> np.ndarray:
        return compute_distance_travelled(pos, **kw).values.ravel()

    # ffill (the default, movement's): the point stays at frame 9 during the gap,
    # then its 20 px jump to frame 13 counts on frame 13
    expected = 5.0 * np.arange(50)
    expected[10:13] = 45.0
    np.testing.assert_allclose(travelled(), expected)
    np.testing.assert_allclose(travelled(nan_policy="ffill"), expected)
    # skip: the 4 steps into and out of the gap are lost
    skipped = 5.0 * np.arange(50)
    skipped[10:13] = 45.0
    skipped[13:] -= 20.0
    np.testing.assert_allclose(travelled(nan_policy="skip"), skipped)
    # scale: the observed steps (45 of 49) scaled up to all 49
    np.testing.assert_allclose(travelled(nan_policy="scale"), skipped * 49 / 45)
    # the last value is the path length of the same policy
    for policy in ("ffill", "scale", "skip"):
        total = compute_path_length(pos, nan_policy=policy, nan_warn_threshold=1)
        assert travelled(nan_policy=policy)[-1] == pytest.approx(float(total.item()))
    with pytest.raises(ValueError, match="nan_policy"):
        compute_distance_travelled(pos, nan_policy="drop")

    # a straight line with a gap stays straight with ffill
    assert float(compute_straightness(pos).item()) == pytest.approx(1.0)


def test_straightness_follows_the_path_length_gap_policy():
    # out and back along x with frame 3 missing: 0, 2, 4, -, 8, 6, 4
    x = np.array([0.0, 2.0, 4.0, np.nan, 8.0, 6.0, 4.0])
    pos = from_numpy(np.stack([x, 0 * x], 1)[:, :, None, None]).position

    def straightness(**kw) -> np.ndarray:
        return compute_straightness(pos, **kw).values.ravel()

    # net 4 px; ffill walks 2+2+0+4+2+2 = 12 px, skip counts 2+2+2+2 = 8 px,
    # scale counts 8 px in 4 of 6 steps: 12 px
    assert straightness() == pytest.approx([1 / 3])
    assert straightness(nan_policy="ffill") == pytest.approx([1 / 3])
    assert straightness(nan_policy="scale") == pytest.approx([1 / 3])
    assert straightness(nan_policy="skip") == pytest.approx([0.5])
    # windows of 4 frames (3 steps); NaN where an end of the window is missing.
    # Frames 1-4 (2, 4, -, 8): net 6, ffill 2+0+4, skip 2, scale 2 * 3 -> 1;
    # frames 2-5 (4, -, 8, 6): net 2, ffill 0+4+2 = 6, skip 2, scale 2 * 3 = 6
    nan = np.nan
    expected = {
        "ffill": [nan, nan, nan, nan, 1.0, 1 / 3, nan],
        "scale": [nan, nan, nan, nan, 1.0, 1 / 3, nan],
        "skip": [nan, nan, nan, nan, 1.0, 1.0, nan],
    }
    for policy, values in expected.items():
        got = straightness(window=4, nan_policy=policy)
        np.testing.assert_allclose(got, values, err_msg=policy)
    np.testing.assert_allclose(straightness(window=4), expected["ffill"])
    with pytest.raises(ValueError, match="nan_policy"):
        compute_straightness(pos, nan_policy="drop")


def test_velocity_and_acceleration_next_to_a_missing_frame():
    # x = t^2: velocity 2t, acceleration 2 (per frame); frame 10 of 20 missing
    t = np.arange(20.0)
    pos = from_numpy(np.stack([t**2, 0 * t], 1)[:, :, None, None]).position
    pos[10] = np.nan
    vel = compute_velocity(pos, per="frame").sel(space="x").values.ravel()
    acc = compute_acceleration(pos, per="frame").sel(space="x").values.ravel()
    # velocity: NaN at the missing frame and its two neighbours, exact elsewhere
    # inside; the ends are movement's one-sided differences x[1]-x[0], x[-1]-x[-2]
    assert np.flatnonzero(np.isnan(vel)).tolist() == [9, 10, 11]
    inside = np.isfinite(vel) & (t > 0) & (t < 19)
    np.testing.assert_allclose(vel[inside], 2 * t[inside], atol=1e-9)
    assert vel[0] == 1.0 and vel[-1] == 19**2 - 18**2
    # acceleration: the derivative of that velocity, NaN within two frames
    assert np.flatnonzero(np.isnan(acc)).tolist() == [8, 9, 10, 11, 12]
    np.testing.assert_allclose(acc[2:7], 2.0, atol=1e-9)
    np.testing.assert_allclose(acc[[0, 1, -2, -1]], [1.0, 1.5, 1.5, 1.0])
    # a missing frame near the start blanks its neighbours; the first frame's
    # one-sided difference x[1]-x[0] does not reach it
    early = pos.copy()
    early[10] = 100.0
    early[2] = np.nan
    v0 = compute_velocity(early, per="frame").sel(space="x").values.ravel()
    assert np.flatnonzero(np.isnan(v0)).tolist() == [1, 2, 3]
    early[1] = np.nan
    v1 = compute_velocity(early, per="frame").sel(space="x").values.ravel()
    assert np.flatnonzero(np.isnan(v1)).tolist() == [0, 1, 2, 3]


def _movement_derivative(x: np.ndarray, dt: float) -> np.ndarray:
    """Movement's ``compute_velocity`` written out, along axis 0.

    movement 0.x: ``position.differentiate("time")``, i.e. xarray's gradient with
    ``edge_order=1`` over a uniform time step: central differences inside,
    one-sided first-order differences at the first and last frame.
    """
    out = np.empty_like(x)
    out[1:-1] = (x[2:] - x[:-2]) / (2 * dt)
    out[0] = (x[1] - x[0]) / dt
    out[-1] = (x[-1] - x[-2]) / dt
    return out


def test_velocity_speed_and_acceleration_match_movement_on_every_frame():
    # QA s18 #7: the first and last frame differed by up to 155 px/s on the demo
    # (second-order one-sided differences there; movement takes first-order ones)
    kp, _, bps = simulate_session(300, seed=4)
    pos = from_numpy(
        kp.transpose(0, 2, 1)[..., None], keypoint_names=bps, fps=FPS
    ).position
    x = pos.transpose("time", "space", "keypoint", "individual").values
    vel = _movement_derivative(x, 1 / FPS)
    ours = compute_velocity(pos).transpose("time", "space", "keypoint", "individual")
    np.testing.assert_allclose(ours.values, vel, rtol=1e-12, atol=1e-9)
    speed = compute_speed(pos).transpose("time", "keypoint", "individual")
    np.testing.assert_allclose(
        speed.values, np.sqrt((vel**2).sum(axis=1)), rtol=1e-12, atol=1e-9
    )
    acc = compute_acceleration(pos).transpose(*ours.dims)
    np.testing.assert_allclose(
        acc.values, _movement_derivative(vel, 1 / FPS), rtol=1e-9, atol=1e-6
    )
    # the ends are where the two ways differ: this data tells them apart
    second_order = np.gradient(x, 1 / FPS, axis=0, edge_order=2)
    assert np.abs(second_order[[0, -1]] - vel[[0, -1]]).max() > 1.0


def test_per_second_needs_a_frame_rate():
    ds = from_numpy(np.zeros((5, 2, 1, 1)))
    with pytest.raises(ValueError, match="fps"):
        compute_speed(ds.position, per="second")
    assert compute_speed(ds.position).attrs["units"] == "px/frame"
    assert compute_speed(ds.position, fps=10).attrs["units"] == "px/s"


def test_circle_heading_angular_velocity_and_path_length(circle):
    ds, theta, r, w = circle
    heading = compute_heading(ds.position, "tail", "head")
    expected = np.angle(np.exp(1j * (theta + np.pi / 2)))
    np.testing.assert_allclose(heading.values.ravel(), expected, atol=1e-12)
    assert heading.attrs["units"] == "rad"
    omega = compute_angular_velocity(heading)
    np.testing.assert_allclose(omega.values, w * FPS, rtol=1e-9)
    assert omega.attrs["units"] == "rad/s"
    deg = compute_heading(ds.position, "tail", "head", degrees=True)
    np.testing.assert_allclose(
        compute_angular_velocity(deg, per="frame").values, np.rad2deg(w), rtol=1e-9
    )
    tail = ds.position.sel(keypoint="tail")
    chord = 2 * r * np.sin(w / 2)
    assert float(compute_path_length(tail).squeeze()) == pytest.approx(199 * chord)
    speed = compute_speed(tail, per="frame").values.ravel()
    # central difference of a circle: |p[t+1] - p[t-1]| / 2 = r sin(w)
    np.testing.assert_allclose(speed[1:-1], r * np.sin(w), rtol=1e-9)


def test_joint_angle_on_the_circle(circle):
    ds, theta, r, w = circle
    # angle at the centre between the tail (on the circle) and the head (5 px along
    # the tangent): atan(5 / r), signed clockwise-positive in image coordinates
    angle = compute_joint_angle(ds.position, "tail", "centre", "head")
    np.testing.assert_allclose(angle.values, np.arctan2(5.0, r), atol=1e-12)
    signed = compute_joint_angle(ds.position, "head", "centre", "tail", signed=True)
    np.testing.assert_allclose(signed.values, -np.arctan2(5.0, r), atol=1e-12)
    right = compute_joint_angle(ds.position, "centre", "tail", "head", degrees=True)
    np.testing.assert_allclose(right.values, 90.0, atol=1e-9)


def test_head_direction_matches_body_heading_on_demo_animal():
    kp, labels, bps = simulate_session(600, seed=2)
    ds = from_numpy(kp.transpose(0, 2, 1)[..., None], keypoint_names=bps, fps=FPS)
    body = compute_heading(ds.position, "tailbase", "neck")
    head = compute_head_direction(ds.position, "leftear", "rightear")
    diff = np.angle(np.exp(1j * (head - body).values.ravel()))
    still = labels != "groom"  # grooming moves the head sideways
    assert np.median(np.abs(diff[still])) < 0.1


def test_keypoint_and_interindividual_distances():
    pos = np.zeros((4, 2, 2, 3))
    pos[:, 0, 1, :] = 3.0
    pos[:, 1, 1, :] = 4.0  # keypoint b at (3, 4) for everyone: a-b = 5
    pos[:, 0, :, 1] += 10.0  # individual 1 shifted by 10 in x
    pos[:, 1, :, 2] += 7.0  # individual 2 shifted by 7 in y
    ds = from_numpy(pos, keypoint_names=["a", "b"], individual_names=["m1", "m2", "m3"])
    d = compute_keypoint_distances(ds.position)
    assert d.dims == ("time", "pair", "individual") and d.pair.values.tolist() == [
        "a-b"
    ]
    np.testing.assert_allclose(d.values, 5.0)
    inter = compute_interindividual_distances(ds.position, "a")
    assert inter.pair.values.tolist() == ["m1-m2", "m1-m3", "m2-m3"]
    np.testing.assert_allclose(inter.isel(time=0).values, [10.0, 7.0, np.hypot(10, 7)])
    cen = compute_interindividual_distances(ds.position, pairs=[("m1", "m2")])
    np.testing.assert_allclose(cen.values, 10.0)
    with pytest.raises(ValueError, match="unknown individual"):
        compute_interindividual_distances(ds.position, pairs=[("m1", "m9")])


def test_egocentric_transform_round_trip(rng):
    pos = rng.uniform(0, 500, size=(30, 2, 4, 2))
    ds = from_numpy(pos, keypoint_names=["snout", "ear", "spine", "tail"])
    tf = EgocentricTransform.from_keypoints(
        ds.position, origin="spine", heading=("tail", "snout")
    )
    ego = tf.transform(ds.position)
    assert ego.dims == ds.position.dims
    np.testing.assert_allclose(ego.sel(keypoint="spine").values, 0.0, atol=1e-9)
    # the heading keypoint lies on the +x axis
    np.testing.assert_allclose(
        ego.sel(keypoint="snout", space="y").values
        - ego.sel(keypoint="tail", space="y").values,
        0.0,
        atol=1e-9,
    )
    assert (
        ego.sel(keypoint="snout", space="x") > ego.sel(keypoint="tail", space="x")
    ).all()
    # distances are preserved and the inverse gives the input back
    np.testing.assert_allclose(
        compute_keypoint_distances(ego).values,
        compute_keypoint_distances(ds.position).values,
    )
    back = tf.inverse_transform(ego)
    np.testing.assert_allclose(back.values, ds.position.values, atol=1e-9)
    centroid_tf = EgocentricTransform.from_keypoints(
        ds.position, heading=("tail", "snout")
    )
    np.testing.assert_allclose(
        compute_centroid(centroid_tf.transform(ds.position)).values, 0.0, atol=1e-9
    )


def test_unknown_keypoint_is_reported():
    ds = from_numpy(np.zeros((3, 2, 2, 1)), keypoint_names=["a", "b"])
    with pytest.raises(ValueError, match="unknown keypoint 'c'"):
        compute_heading(ds.position, "a", "c")


def test_path_length_of_a_track_never_seen_is_nan() -> None:
    # an all-NaN track has no distance (not 0.0); a seen one keeps its value
    t = np.arange(5.0)
    pos = np.zeros((5, 2, 1, 2))
    pos[:, 0, 0, 0] = t
    pos[:, :, :, 1] = np.nan
    position = from_numpy(pos).position
    for policy in ("ffill", "scale", "skip"):
        length = compute_path_length(
            position, nan_policy=policy, nan_warn_threshold=1
        ).values.ravel()
        assert length[0] == pytest.approx(4.0) and np.isnan(length[1]), policy
    travelled = compute_distance_travelled(position).isel(keypoint=0).values
    assert travelled[-1, 0] == pytest.approx(4.0) and np.isnan(travelled[:, 1]).all()


def test_centroid_is_missing_where_a_keypoint_is() -> None:
    # a still animal whose nose drops out on odd frames: no jump, no distance
    # (QA s17: missing="drop" was the default; the default places the nose, see
    # test_centroid_coverage.py)
    pos = np.zeros((6, 2, 2, 1))
    pos[:, 0, 0, 0], pos[:, 0, 1, 0] = 120.0, 100.0
    pos[1::2, :, 0, 0] = np.nan
    position = from_numpy(pos, keypoint_names=["nose", "tail"]).position
    centroid = compute_centroid(position, missing="drop")
    assert np.isnan(centroid.sel(space="x").values.ravel()[1::2]).all()
    assert centroid.sel(space="x").values.ravel()[::2].tolist() == [110.0] * 3
    assert float(compute_path_length(centroid, nan_warn_threshold=1).squeeze()) == 0.0
    jumpy = compute_centroid(position, skipna=True)  # the old behaviour: 50 px
    assert float(compute_path_length(jumpy).squeeze()) == pytest.approx(50.0)
