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
