"""Windowed features: exact values on synthetic motion, rigid-motion invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.features import (
    FEATURE_FAMILIES,
    compute_base_features,
    compute_window_features,
    register_feature,
    rolling_mean_std,
)
from posekit.engine.poses import from_numpy


def test_rolling_mean_std_matches_pandas(rng):
    scale = np.array([1.0, 10.0, 100.0, 1000.0])
    x = rng.normal(size=(300, 4)) * scale + [0, 5, -50, 1e4]
    x[rng.uniform(size=x.shape) < 0.15] = np.nan
    for w in (1, 5, 15):
        ((mean, std),) = rolling_mean_std(x, [w])
        roll = pd.DataFrame(x).rolling(
            w, center=True, min_periods=max(1, int(np.ceil(0.5 * w)))
        )
        assert np.array_equal(np.isnan(mean), roll.mean().isna().values)
        np.testing.assert_allclose(mean / scale, roll.mean().values / scale, atol=1e-12)
        # cumulative sums lose ~1e-7 relative precision on a variance near 0
        np.testing.assert_allclose(
            std / scale, roll.std(ddof=0).values / scale, atol=1e-6
        )
    # time-last layout gives the same numbers
    ((m2, s2),) = rolling_mean_std(x.T, [5], time_last=True)
    ((m1, s1),) = rolling_mean_std(x, [5])
    np.testing.assert_allclose(m2.T, m1)


def _straight(n=60, fps=30.0):
    t = np.arange(n, dtype=float)
    pos = np.zeros((n, 2, 3, 1))
    for k, off in enumerate([10.0, 0.0, -10.0]):  # head, mid, tail along the x axis
        pos[:, 0, k, 0] = 3 * t + off
        pos[:, 1, k, 0] = 4 * t
    return from_numpy(pos, keypoint_names=["head", "mid", "tail"], fps=fps)


def test_feature_speed_is_the_kinematics_speed_on_every_frame(rng):
    """The first and last frames too (features used first-order differences there)."""
    from posekit.engine.behavior.kinematics import compute_speed

    t = np.arange(40, dtype=float)
    pos = np.zeros((40, 2, 2, 1))
    pos[:, 0, 0, 0] = 0.05 * t**2 + rng.normal(0, 0.5, 40)  # accelerating, noisy
    pos[:, 1, 0, 0] = np.sin(t / 5) * 20
    pos[:, :, 1, 0] = pos[:, :, 0, 0] + 10
    ds = from_numpy(pos, keypoint_names=["head", "tail"], fps=30.0)
    f = compute_base_features(ds, heading=("tail", "head")).isel(individual=0)
    speed = compute_speed(ds["position"]).sel(
        keypoint="head", individual=ds.individual[0]
    )
    np.testing.assert_allclose(f.sel(feature="speed_head").values, speed.values)


def test_base_features_on_straight_motion():
    base = compute_base_features(_straight(), heading=("tail", "head"))
    assert base.dims == ("time", "individual", "feature")
    f = base.isel(individual=0).to_pandas()
    np.testing.assert_allclose(f["speed_head"], 150.0)  # 5 px/frame at 30 fps
    np.testing.assert_allclose(f["speed_centroid"], 150.0)
    np.testing.assert_allclose(f["dist_head_tail"], 20.0)
    np.testing.assert_allclose(f["heading_angular_velocity"], 0.0, atol=1e-9)
    np.testing.assert_allclose(f["ego_x_head"], 10.0, atol=1e-9)  # along the body axis
    np.testing.assert_allclose(f["ego_y_head"], 0.0, atol=1e-9)
    assert "nearest_distance" not in f  # social features need two animals


def test_window_features_names_and_values():
    feats = compute_window_features(_straight(), windows=(5, 9), features=["speed"])
    names = feats.feature.values.tolist()
    assert names[:4] == ["speed_head", "speed_mid", "speed_tail", "speed_centroid"]
    assert "speed_head_mean5" in names and "speed_centroid_std9" in names
    assert feats.sizes["feature"] == 4 * 5 and feats.dtype == np.float32
    f = feats.isel(individual=0).to_pandas()
    np.testing.assert_allclose(f["speed_head_mean9"], 150.0, rtol=1e-6)
    np.testing.assert_allclose(f["speed_head_std9"], 0.0, atol=1e-3)


def test_posture_features_ignore_where_the_animal_is(rng):
    """Rotating and moving the whole recording leaves egocentric features unchanged."""
    pos = rng.normal(size=(80, 2, 4, 2)).cumsum(axis=0) + 100
    ds = from_numpy(pos, fps=30.0)
    a = 0.7
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = (
        np.einsum("ij,tjkn->tikn", rot, pos)
        + np.array([50.0, -20.0])[None, :, None, None]
    )
    ds2 = from_numpy(moved, fps=30.0)
    kw = {"features": ["speed", "distance", "egocentric", "social"], "windows": (5,)}
    np.testing.assert_allclose(
        compute_window_features(ds, dtype=np.float64, **kw).values,
        compute_window_features(ds2, dtype=np.float64, **kw).values,
        atol=1e-8,
    )


def test_missing_points_give_nan_not_zero():
    ds = _straight()
    ds.position[20:30, :, 0] = np.nan
    f = compute_base_features(ds, features=["speed"]).isel(individual=0).to_pandas()
    assert f["speed_head"].iloc[20:30].isna().all()
    assert np.isfinite(f["speed_centroid"].iloc[20:30]).all()  # other keypoints remain


def test_register_a_custom_feature_family():
    @register_feature("test_x")
    def _x(ctx):
        return ["x_centroid"], ctx.centroid[0][:, None, :]

    try:
        f = compute_base_features(_straight(), features=["test_x"])
        np.testing.assert_allclose(f.values.ravel(), 3 * np.arange(60.0))
    finally:
        del FEATURE_FAMILIES["test_x"]
    with pytest.raises(ValueError, match="Unknown feature families"):
        compute_base_features(_straight(), features=["test_x"])


def test_window_statistics_equal_pandas_rolling_on_base_features(rng):
    pos = rng.normal(size=(400, 2, 4, 2)).cumsum(axis=0) + 50
    pos[100:130, :, 1, 0] = np.nan  # a long gap: NaN windows, not zeros
    ds = from_numpy(pos, fps=25.0)
    base = compute_base_features(ds)
    feats = compute_window_features(ds, windows=(7, 21), dtype=np.float64)
    for ind in ds.individual.values:
        b = base.sel(individual=ind).to_pandas()
        f = feats.sel(individual=ind).to_pandas()
        for w in (7, 21):
            roll = b.rolling(w, center=True, min_periods=int(np.ceil(0.5 * w)))
            mean = f[[f"{c}_mean{w}" for c in b.columns]].to_numpy()
            std = f[[f"{c}_std{w}" for c in b.columns]].to_numpy()
            ref_mean, ref_std = roll.mean().to_numpy(), roll.std(ddof=0).to_numpy()
            assert np.array_equal(np.isnan(mean), np.isnan(ref_mean))
            np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(std, ref_std, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(f[list(b.columns)].to_numpy(), b.to_numpy())
