"""Identity correction: swaps over ranges, likely swaps, saving DLC tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import load_poses
from posekit.engine.multianimal.identity import (
    likely_swaps,
    save_tracks,
    swap_identities,
)
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.outputs import tracks_frame, write_tracks
from posekit.engine.poses import from_numpy


def _crossing(n=60):
    t = np.arange(n, dtype=float)
    shape = np.array([[0.0, 0.0], [6.0, 2.0], [12.0, 0.0]])
    a = t[:, None, None] * [1.0, 1.0] + shape
    b = np.stack([t, n - t], -1)[:, None] + shape
    return np.stack([a, b], axis=1)  # (T, 2, K, 2)


def test_swap_from_a_frame_and_over_a_range():
    kp = _crossing()
    ds = from_numpy(kp.transpose(0, 3, 2, 1), individual_names=["a", "b"])
    out = swap_identities(ds, "a", "b", start=30)
    a = out.position.sel(individual="a").transpose("time", "keypoint", "space").values
    np.testing.assert_array_equal(a[:30], kp[:30, 0])
    np.testing.assert_array_equal(a[30:], kp[30:, 1])
    ranged = swap_identities(ds, "a", "b", start=10, stop=20)
    b = (
        ranged.position.sel(individual="b")
        .transpose("time", "keypoint", "space")
        .values
    )
    np.testing.assert_array_equal(b[10:20], kp[10:20, 0])
    np.testing.assert_array_equal(b[20:], kp[20:, 1])
    assert ds.position.sel(individual="a").values[0, 0, 0] == kp[0, 0, 0, 0]  # copy
    with pytest.raises(ValueError, match="range"):
        swap_identities(ds, "a", "b", start=40, stop=40)
    with pytest.raises(ValueError, match="not an individual"):
        swap_identities(ds, "a", "z")


def test_likely_swaps_find_the_crossing_and_track_ends():
    kp = _crossing()
    kp[45:50, 1] = np.nan  # b lost for a few frames
    ds = from_numpy(kp.transpose(0, 3, 2, 1), individual_names=["a", "b"])
    found = likely_swaps(ds)
    reasons = {(c.reason, c.frame) for c in found}
    assert ("crossing", 30) in reasons
    assert ("track ends", 44) in reasons and ("track starts", 50) in reasons
    assert found[0].reason == "crossing"  # the closest encounter ranks first


def test_saved_tracks_keep_dlc_columns_and_the_swap(tmp_path):
    layout = MultiAnimalLayout(("m1", "m2"), ("a", "b", "c"), ("lever",))
    kp = np.concatenate([_crossing(), np.ones((60, 2, 3, 1))], axis=-1)
    unique = np.full((60, 1, 3), 7.0)
    path = write_tracks(tracks_frame(kp, layout, "DLC_x", unique), tmp_path / "v_el.h5")
    ds = load_poses(path)
    swapped = swap_identities(ds, "m1", "m2", start=20)
    out = save_tracks(swapped, tmp_path / "sessionDLC_x_el.h5")  # scorer from the name
    df = pd.read_hdf(out, "tracks")
    original = pd.read_hdf(path, "tracks")
    assert list(df.columns) == list(original.columns)  # 'single' only for the lever
    np.testing.assert_array_equal(
        df[("DLC_x", "m1", "a", "x")].values[20:],
        original[("DLC_x", "m2", "a", "x")].values[20:],
    )


def _walkers(n=600, seed=0, missing=0.0):
    """Three 5-keypoint animals walking in lanes ~1.2 body lengths apart, jittering."""
    rng = np.random.default_rng(seed)
    shape = np.array([[0.0, 0.0], [10.0, 4.0], [20.0, 0.0], [30.0, -4.0], [40.0, 0.0]])
    out = []
    for k in range(3):
        step = rng.normal(0.0, 1.0, (n, 2)) * [1.5, 0.3]
        path = np.cumsum(step, axis=0) + [100.0, 100.0 + 50.0 * k]
        out.append(path[:, None] + shape + rng.normal(0.0, 0.3, (n, 5, 2)))
    kp = np.stack(out, axis=1)  # (T, 3, 5, 2)
    kp[rng.random(kp.shape[:3]) < missing] = np.nan  # keypoints lost and found
    return kp


def test_likely_swaps_find_every_injected_exchange_and_invent_none():
    # QA s16: both flies jumped onto each other's places at frame 700 (a 101 px
    # jump, median step 0.08 px) and the list only had crossings
    names = ["a", "b", "c"]
    for seed, missing in ((0, 0.0), (1, 0.1)):
        kp = _walkers(seed=seed, missing=missing)
        clean = from_numpy(kp.transpose(0, 3, 2, 1), individual_names=names)
        found = likely_swaps(clean)
        assert not [c for c in found if c.reason in ("exchange", "jump")], found[:3]
        ds = swap_identities(clean, "a", "b", start=150)
        ds = swap_identities(ds, "b", "c", start=320)
        ds = swap_identities(ds, "a", "c", start=480, stop=481 + 60)
        found = likely_swaps(ds)
        exchanges = {
            c.frame: set(c.individuals) for c in found if c.reason == "exchange"
        }
        assert exchanges == {
            150: {"a", "b"},
            320: {"b", "c"},
            480: {"a", "c"},
            541: {"a", "c"},
        }
        assert {c.reason for c in found[:4]} == {"exchange"}  # ranked first


def test_likely_swaps_flag_one_animal_jumping_far():
    kp = _walkers(missing=0.05)
    kp[300:, 2] += [0.0, 120.0]  # c's track jumps away and stays
    ds = from_numpy(kp.transpose(0, 3, 2, 1), individual_names=["a", "b", "c"])
    found = [c for c in likely_swaps(ds) if c.reason in ("exchange", "jump")]
    assert [(c.frame, c.reason, c.individuals) for c in found] == [
        (300, "jump", ("c",))
    ]
