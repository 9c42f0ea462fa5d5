"""``speed_centroid`` is the speed of the behaviour session's centroid.

The session's centroid (:func:`~posekit.engine.behavior.kinematics.compute_centroid`,
``missing="place"``) places a keypoint missing in a frame from those seen there. The
feature used the mean of the keypoints present, which jumps when one drops in and out
and gives false speed spikes on an animal moving at constant speed.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.features import (
    FEATURE_FAMILIES,
    FEATURE_MARGINS,
    compute_base_features,
    compute_window_features,
    iter_window_features,
    register_feature,
)
from posekit.engine.behavior.kinematics import compute_centroid, compute_speed
from posekit.engine.poses import from_numpy

FPS = 30.0
KEYPOINTS = ["snout", "neck", "tailbase"]
#: Keypoint offsets from the body's centre (x, y), a rigid body.
OFFSETS = np.array([[12.0, 0.0], [0.0, 3.0], [-12.0, -3.0]])


def _constant_speed(n: int = 40, period: int = 2) -> xr.Dataset:
    """Return an animal gliding 3 px right and 4 px down per frame (5 px/frame, 150 px/s).

    The snout is missing (below the likelihood cut-off) in the second half of every
    ``period`` frames: every other frame for 2.
    """
    t = np.arange(n, dtype=float)
    centre = np.stack([100 + 3 * t, 50 + 4 * t], axis=1)  # (time, space)
    pos = centre[:, :, None] + OFFSETS.T[None]  # (time, space, keypoint)
    pos[t % period >= period // 2, :, 0] = np.nan
    return from_numpy(pos[..., None], keypoint_names=KEYPOINTS, fps=FPS)


@pytest.mark.parametrize("period", [2, 4])
def test_speed_centroid_stays_constant_when_a_keypoint_drops_in_and_out(
    period: int,
) -> None:
    ds = _constant_speed(period=period)
    f = compute_base_features(ds, features=["speed"]).isel(individual=0)
    speed = f.sel(feature="speed_centroid").values
    # every frame, the first and last too: 5 px/frame at 30 fps. The mean of the
    # keypoints present jumped 6 px back and 1.5 px up whenever the snout went:
    # 145 px/s more at the ends (every other frame), up to 66 px/s off in the
    # middle (two frames of four)
    np.testing.assert_allclose(speed, 150.0, rtol=1e-9)
    # the snout's own speed is NaN where it is missing, not a spike
    snout = f.sel(feature="speed_snout").values
    assert np.isnan(snout[period // 2 :: period]).all()
    # the same series as the session's centroid gives (one function)
    session = compute_speed(compute_centroid(ds.position)).isel(individual=0)
    np.testing.assert_allclose(speed, session.values, rtol=1e-12)
    # its windowed statistics: no spread either
    win = compute_window_features(ds, windows=(5,), features=["speed"])
    std = win.isel(individual=0).sel(feature="speed_centroid_std5").values
    np.testing.assert_allclose(std, 0.0, atol=1e-4)


def test_egocentric_features_use_the_same_centroid() -> None:
    """The body frame's origin does not jump either: a rigid body's posture is fixed."""
    ds = _constant_speed()
    f = compute_base_features(
        ds, features=["egocentric"], heading=("tailbase", "neck")
    ).isel(individual=0)
    for k in ("neck", "tailbase"):
        for axis in ("x", "y"):
            values = f.sel(feature=f"ego_{axis}_{k}").values
            np.testing.assert_allclose(values, values[0], atol=1e-9)


def _gappy_pair(n: int = 300, seed: int = 2) -> xr.Dataset:
    """Return two animals that bend (offsets change in time) with gaps across chunk ends."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    pos = np.empty((n, 2, len(KEYPOINTS), 2))
    for i in range(2):
        centre = np.stack(
            [200 * i + 60 * np.sin(t / 40 + i), 80 + 40 * np.cos(t / 30 + i)], 1
        )
        bend = 6 * np.sin(t / 25 + i)  # the snout swings sideways
        offsets = np.repeat(OFFSETS[None], n, 0)
        offsets[:, 0, 1] += bend
        pos[:, :, :, i] = centre[:, :, None] + offsets.transpose(0, 2, 1)
    pos += rng.normal(0, 0.3, pos.shape)
    pos[50:130, :, 0, 0] = np.nan  # the snout of animal 0, across two chunk ends
    pos[rng.uniform(size=n) < 0.3, :, 2, 1] = np.nan  # a flickering tail base
    pos[200:210, :, :, 1] = np.nan  # animal 1 not seen at all
    return from_numpy(
        pos, keypoint_names=KEYPOINTS, fps=FPS, individual_names=["a", "b"]
    )


def test_speed_centroid_is_the_sessions_centroid_speed_chunked_too() -> None:
    """Whole and chunk by chunk (a gap's placing reaches beyond the chunk)."""
    ds = _gappy_pair()
    session = compute_speed(compute_centroid(ds.position)).transpose(
        "time", "individual"
    )
    whole = compute_base_features(ds, features=["speed"]).sel(feature="speed_centroid")
    np.testing.assert_allclose(whole.values, session.values, rtol=1e-12)
    assert np.isnan(whole.sel(individual="b").values[200:210]).all()  # never seen
    windows = (5, 15)
    full = compute_window_features(
        ds,
        windows=windows,
        features=["speed", "egocentric", "social"],
        dtype=np.float64,
    )
    parts = iter_window_features(
        ds,
        windows=windows,
        features=["speed", "egocentric", "social"],
        dtype=np.float64,
        chunk_frames=64,
    )
    joined = xr.concat(list(parts), "time")
    np.testing.assert_array_equal(joined.values, full.values)


@pytest.mark.parametrize("seed", range(4))
def test_features_centroid_equals_compute_centroid_on_random_gaps(seed: int) -> None:
    """Short and long gaps, a keypoint never seen, frames with none: exact values."""
    rng = np.random.default_rng(seed)
    n, names = 500, ["a", "b", "c", "d", "e"]
    walk = np.cumsum(rng.normal(0, 2, (n, 2, 1, 1)), axis=0)
    pos = (
        walk + rng.normal(0, 8, (1, 2, len(names), 1)) + rng.normal(0, 1, (n, 2, 5, 1))
    )
    for k in range(4):  # gaps of 1 to 120 frames
        for _ in range(rng.integers(1, 8)):
            start, length = rng.integers(0, n), rng.integers(1, 120)
            pos[start : start + length, :, k, 0] = np.nan
    pos[rng.uniform(size=n) < 0.2, :, 1, 0] = np.nan  # flickering
    if seed % 2:
        pos[:, :, 4, 0] = np.nan  # a keypoint never seen
    pos[300:305, :, :, 0] = np.nan  # no keypoint seen
    ds = from_numpy(pos, keypoint_names=names, fps=FPS)

    @register_feature("test_centroid_xy", margin=0)
    def _xy(ctx):
        return ["cx", "cy"], np.stack(ctx.centroid, axis=1)

    try:
        got = compute_base_features(ds, features=["test_centroid_xy"])
    finally:
        del FEATURE_FAMILIES["test_centroid_xy"], FEATURE_MARGINS["test_centroid_xy"]
    want = compute_centroid(ds.position).isel(individual=0)
    np.testing.assert_array_equal(
        got.isel(individual=0).values, want.transpose("time", "space").values
    )
    assert np.isnan(got.values[300:305]).all() and np.isfinite(got.values[:300]).any()
