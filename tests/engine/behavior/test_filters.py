"""Cleaning and smoothing: exact answers on synthetic tracks, NaN policy, the log."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.filters import (
    FilterConfig,
    filter_butterworth,
    filter_by_confidence,
    filter_jumps,
    filter_kalman,
    filter_median,
    filter_poses,
    filter_savgol,
    get_log,
    interpolate_gaps,
    smooth_kalman,
)
from posekit.engine.poses import from_numpy


def _track(x: np.ndarray, y: np.ndarray | None = None, **kw) -> xr.Dataset:
    """One keypoint, one individual: position (T, 2, 1, 1)."""
    y = np.zeros_like(x) if y is None else y
    return from_numpy(np.stack([x, y], axis=1)[:, :, None, None], **kw)


def _x(ds: xr.Dataset | xr.DataArray) -> np.ndarray:
    pos = ds["position"] if isinstance(ds, xr.Dataset) else ds
    return pos.sel(space="x").values.ravel()


def test_confidence_threshold_sets_nan_and_keeps_unknown_confidence():
    conf = np.array([0.9, 0.2, np.nan, 0.6, 0.59])[:, None, None]
    ds = _track(np.arange(5.0))
    ds["confidence"] = (("time", "keypoint", "individual"), conf)
    out = filter_by_confidence(ds, threshold=0.6)
    x = _x(out)
    assert np.isnan(x).tolist() == [False, True, False, False, True]
    assert np.isnan(out.position.sel(space="y").values.ravel()).tolist() == [
        False, True, False, False, True,
    ]  # fmt: skip
    # the input is untouched and the step is logged with its parameters
    assert not np.isnan(_x(ds)).any()
    (entry,) = get_log(out)
    assert entry["operation"] == "filter_by_confidence"
    assert entry["parameters"] == {
        "threshold": 0.6,
        "unknown": "keep",
        "n_points_removed": 2,
    }
    assert "log" not in ds.attrs


def test_points_without_confidence_can_be_dropped_as_movement_does():
    # a user-labelled SLEAP instance has positions but NaN confidence
    conf = np.array([0.9, 0.2, np.nan, 0.6, 0.59])[:, None, None]
    ds = _track(np.arange(5.0))
    ds["confidence"] = (("time", "keypoint", "individual"), conf)
    out = filter_by_confidence(ds, threshold=0.6, unknown="drop")
    assert np.isnan(_x(out)).tolist() == [False, True, True, False, True]
    assert get_log(out)[0]["parameters"]["n_points_removed"] == 3
    with pytest.raises(ValueError, match="unknown"):
        filter_by_confidence(ds, unknown="ignore")


def test_confidence_filter_on_dataarray_needs_confidence():
    ds = _track(np.arange(3.0))
    with pytest.raises(ValueError, match="confidence"):
        filter_by_confidence(ds.position)
    out = filter_by_confidence(ds.position, threshold=0.5, confidence=ds.confidence)
    assert isinstance(out, xr.DataArray)


def test_interpolation_is_exact_for_linear_motion_and_respects_max_gap():
    t = np.arange(30.0)
    truth = 2.5 * t - 7.0
    x = truth.copy()
    x[0] = np.nan  # leading gap: stays NaN (no extrapolation)
    x[5:7] = np.nan  # 2-frame gap: filled
    x[10:13] = np.nan  # 3-frame gap: filled (== max_gap)
    x[18:24] = np.nan  # 6-frame gap: too long, stays NaN
    x[-1] = np.nan  # trailing gap
    out = interpolate_gaps(_track(x, 0.5 * x), max_gap=3)
    got = _x(out)
    filled = np.r_[5:7, 10:13]
    np.testing.assert_allclose(got[filled], truth[filled], rtol=0, atol=1e-12)
    assert np.isnan(got[[0, 18, 19, 20, 21, 22, 23, 29]]).all()
    np.testing.assert_allclose(
        out.position.sel(space="y").values.ravel()[filled], 0.5 * truth[filled]
    )
    assert get_log(out)[0]["parameters"] == {"max_gap": 3}
    # max_gap=None fills every interior gap exactly
    got_all = _x(interpolate_gaps(_track(x), max_gap=None))
    np.testing.assert_allclose(got_all[1:-1], truth[1:-1], atol=1e-12)


def test_interpolation_does_not_leak_between_keypoints():
    pos = np.full((6, 2, 2, 1), np.nan)
    pos[:3, :, 0, 0] = 1.0  # keypoint 0 only at the start
    pos[3:, :, 1, 0] = 5.0  # keypoint 1 only at the end
    out = interpolate_gaps(from_numpy(pos), max_gap=None).position.values
    assert np.isnan(out[3:, :, 0, 0]).all() and np.isnan(out[:3, :, 1, 0]).all()


def test_median_removes_a_spike_and_keeps_nan():
    x = np.arange(20.0)
    x[7] = 500.0
    x[12] = np.nan
    out = filter_median(_track(x), window=5, min_periods=3)
    got = _x(out)
    assert got[7] == 8.0  # median of 5, 6, 500, 8, 9
    np.testing.assert_allclose(got[[3, 4, 5, 15, 16]], [3, 4, 5, 15, 16])
    assert np.isnan(got[12]) and np.isnan(got).sum() == 1
    assert isinstance(filter_median(_track(x).position, window=3), xr.DataArray)


def test_median_default_is_unbiased_nan_at_edges_and_next_to_gaps():
    """QA S14 F10: shrinking windows at the edges halved the speed there.

    As movement's median filter (min_periods = the window), a frame whose window is
    cut by the recording's ends or by a gap is NaN; every other frame of a straight
    line at constant speed is kept exactly.
    """
    from posekit.engine.behavior.kinematics import compute_path_length, compute_speed

    x = 10.0 * np.arange(100)
    got = _x(filter_median(_track(x, fps=30.0), window=5))
    assert np.isnan(got[[0, 1, 98, 99]]).all()
    np.testing.assert_array_equal(got[2:98], x[2:98])  # was 10, 15, … 175, 180
    pos = filter_median(_track(x, fps=30.0), window=5).position
    speed = compute_speed(pos.sel(keypoint=pos.keypoint[0]), per="second").values
    np.testing.assert_allclose(speed[np.isfinite(speed)], 300.0)  # not 150 at edges
    assert float(compute_path_length(pos.isel(keypoint=0)).squeeze()) == 950.0
    # a gap widens by window // 2 on each side, as with Savitzky–Golay
    gappy = x.copy()
    gappy[50:53] = np.nan
    got = _x(filter_median(_track(gappy), window=5))
    assert np.isnan(got[48:55]).all() and np.isfinite(got[2:48]).all()
    np.testing.assert_array_equal(got[55:98], x[55:98])
    # the old behaviour (fewer values allowed) stays available, with its bias
    biased = _x(filter_median(_track(x), window=5, min_periods=3))
    assert biased[0] == 10.0 and biased[1] == 15.0


def test_savgol_keeps_quadratic_motion_exactly_including_edges():
    t = np.arange(25.0)
    x = 0.3 * t**2 - 2 * t + 1
    got = _x(filter_savgol(_track(x), window=7, polyorder=2))
    np.testing.assert_allclose(got, x, atol=1e-9)


def test_savgol_propagates_nan_over_its_window_only():
    x = np.arange(40.0)
    x[[0, 20]] = np.nan
    got = _x(filter_savgol(_track(x), window=5, polyorder=1))
    assert np.isnan(got[[0, 1, 2, 18, 19, 20, 21, 22]]).all()
    np.testing.assert_allclose(got[3:18], x[3:18], atol=1e-9)
    np.testing.assert_allclose(got[23:], x[23:], atol=1e-9)


def test_butterworth_passes_slow_and_removes_fast_oscillation():
    fps = 100.0
    t = np.arange(400) / fps
    slow = np.sin(2 * np.pi * 1.0 * t)
    fast = 0.5 * np.sin(2 * np.pi * 30.0 * t)
    x = slow + fast
    x[100:103] = np.nan
    out = filter_butterworth(_track(x, fps=fps), cutoff=5.0, order=4)
    got = _x(out)
    assert np.isnan(got[100:103]).all() and np.isnan(got).sum() == 3
    ok = np.r_[40:90, 120:360]
    assert np.max(np.abs(got[ok] - slow[ok])) < 0.02
    with pytest.raises(ValueError, match="Nyquist"):
        filter_butterworth(_track(x, fps=fps), cutoff=60.0)


def test_kalman_recovers_constant_velocity_from_noisy_positions(rng):
    fps = 30.0
    t = np.arange(300.0)
    truth = 1.5 * t
    x = truth + rng.normal(0, 0.5, t.size)
    pos = _track(x, -0.5 * t + rng.normal(0, 0.5, t.size), fps=fps).position
    p, v = smooth_kalman(pos, measurement_std=0.5, acceleration_std=0.01)
    vx = v.sel(space="x").values.ravel()
    vy = v.sel(space="y").values.ravel()
    assert v.attrs["units"] == "px/s"
    np.testing.assert_allclose(vx[20:-20], 1.5 * fps, rtol=0.02)
    np.testing.assert_allclose(vy[20:-20], -0.5 * fps, atol=0.02 * 1.5 * fps)
    err_raw = np.abs(x - truth)[20:-20].mean()
    err_kf = np.abs(p.sel(space="x").values.ravel() - truth)[20:-20].mean()
    assert err_kf < 0.5 * err_raw


def test_kalman_keeps_nan_unless_asked_to_fill_short_gaps():
    t = np.arange(60.0)
    x = 2.0 * t
    x[10:12] = np.nan
    x[30:40] = np.nan
    pos = _track(x).position
    p, v = smooth_kalman(pos, per="frame", measurement_std=0.01, acceleration_std=0.01)
    assert np.isnan(_x(p)[10:12]).all() and np.isnan(_x(v)[30:40]).all()
    p2, v2 = smooth_kalman(
        pos, per="frame", fill_gaps=2, measurement_std=0.01, acceleration_std=0.01
    )
    np.testing.assert_allclose(_x(p2)[10:12], [20.0, 22.0], atol=0.05)
    np.testing.assert_allclose(_x(v2)[10:12], 2.0, atol=0.05)
    assert np.isnan(_x(p2)[30:40]).all()
    ds = filter_kalman(_track(x))
    assert "velocity" in ds and get_log(ds)[-1]["operation"] == "filter_kalman"


def test_jump_filter_removes_only_the_jump():
    pos = np.zeros((40, 2, 2, 1))
    t = np.arange(40.0)
    pos[:, 0, 0, 0] = t  # head moving right at 1 px/frame
    pos[:, 0, 1, 0] = t - 10.0  # tail 10 px behind: body length 10
    pos[15, 1, 0, 0] = 60.0  # 6 body lengths off in one frame
    ds = from_numpy(pos, keypoint_names=["head", "tail"])
    out = filter_jumps(ds, k=2.0, body_length=("head", "tail"))
    bad = np.isnan(out.position.sel(space="x", keypoint="head").values.ravel())
    assert np.flatnonzero(bad).tolist() == [15]
    assert not np.isnan(out.position.sel(keypoint="tail").values).any()
    params = get_log(out)[0]["parameters"]
    assert params["body_length"] == ["head", "tail"] and params["n_points_removed"] == 1
    # a fixed length works too; a threshold above the jump keeps everything
    kept = filter_jumps(ds, k=7.0, body_length=10.0)
    assert not np.isnan(kept.position.values).any()


def test_filter_poses_pipeline_logs_every_step_in_order():
    t = np.arange(50.0)
    conf = np.full((50, 1, 1), 0.9)
    conf[20] = 0.1
    ds = from_numpy(np.stack([t, t], 1)[:, :, None, None], conf, fps=30.0)
    out = filter_poses(ds, "savgol", confidence_threshold=0.5, max_gap=4, window=5)
    assert [e["operation"] for e in get_log(out)] == [
        "filter_by_confidence",
        "interpolate_gaps",
        "filter_savgol",
    ]
    np.testing.assert_allclose(_x(out), t, atol=1e-9)  # linear: refilled and kept
    json.loads(out.attrs["log"])  # stored as a JSON string (netCDF-safe)
    none = filter_poses(ds, "none")
    assert none is not ds and get_log(none) == []
    with pytest.raises(ValueError, match="Unknown filter parameter"):
        filter_poses(ds, "median", windw=5)
    with pytest.raises(ValueError, match="Unknown smoothing method"):
        filter_poses(ds, "loess")


def test_filter_config_round_trip_and_validation():
    cfg = FilterConfig(method="median", jump_k=2.0, body_length=("a", "b"), max_gap=3)
    assert FilterConfig.from_dict(cfg.to_dict()) == cfg
    assert FilterConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="odd"):
        FilterConfig(method="median", window=4)
    with pytest.raises(ValueError, match="both jump_k and body_length"):
        FilterConfig(jump_k=2.0)
    with pytest.raises(ValueError, match="Unknown FilterConfig keys"):
        FilterConfig.from_dict({"methd": "median"})
