"""Identity correction: swaps over ranges, likely swaps, saving DLC tracks."""

from __future__ import annotations

import warnings

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


def _long_tracks(n=20_000, n_animals=4, seed=3):
    """Animals walking about an arena for ``n`` frames, 12 keypoints each.

    Keypoints are lost now and then, whole animals go missing for a while (tracklet
    ends), the last one appears late, and two identities swap twice.
    """
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, 2.0, (n, n_animals, 2)), axis=0)
    walk = np.abs((walk + rng.uniform(100, 500, (1, n_animals, 2))) % 1200 - 600)
    kp = walk[:, :, None] + rng.normal(0.0, 15.0, (1, n_animals, 12, 2))
    kp = kp + rng.normal(0.0, 1.0, kp.shape)
    kp[rng.random(kp.shape[:3]) < 0.1] = np.nan
    for k in range(n_animals):
        for s in rng.integers(0, n, 40):
            kp[s : s + rng.integers(1, 30), k] = np.nan
        s = int(rng.integers(0, n - 1000))
        kp[s : s + 800, k] = np.nan  # gone a long while
    kp[: n // 3, 3] = np.nan  # the last animal appears late
    for f in (n // 4, n // 2):
        kp[f:, [0, 1]] = kp[f:, [1, 0]]
    return from_numpy(
        kp.transpose(0, 3, 2, 1),
        individual_names=[f"m{k}" for k in range(n_animals)],
    )


def test_likely_swaps_are_silent_on_long_tracks_with_gaps(monkeypatch):
    # 4 animals x 1 h: all-NaN medians gave ~60,000 RuntimeWarnings per call, hidden
    # with warnings.catch_warnings, which changes the process's warning filters
    # from the viewer's background thread (not thread-safe); now none is raised
    ds = _long_tracks()

    def no_filters(*args, **kwargs):
        raise AssertionError("likely_swaps changed the warning filters")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.setattr(warnings, "catch_warnings", no_filters)
        found = likely_swaps(ds, max_candidates=10_000)
    exchanges = [(c.frame, c.individuals) for c in found if c.reason == "exchange"]
    assert sorted(exchanges) == [(5000, ("m0", "m1")), (10000, ("m0", "m1"))]


# likely_swaps of _long_tracks() recorded from the code before it was vectorised
# (641e2bb): candidates per reason, the first six, the sum of all scores
LONG_COUNTS = {"exchange": 2, "track starts": 134, "crossing": 78, "track ends": 133}
LONG_FIRST = [
    ("frame 10000: exchange (m0, m1)", 10000, 35.72691606126563),
    ("frame 5000: exchange (m0, m1)", 5000, 13.355315632299526),
    ("frame 2521: track starts (m0, m1)", 2521, 10.0),
    ("frame 2594: crossing (m0, m1)", 2594, 10.0),
    ("frame 2699: crossing (m0, m1)", 2699, 10.0),
    ("frame 5232: crossing (m0, m1)", 5232, 3.7330611653654118),
]
LONG_SCORE_SUM = 538.8978471165077


def test_likely_swaps_of_long_tracks_as_recorded():
    found = likely_swaps(_long_tracks(), max_candidates=10_000)
    counts = {}
    for c in found:
        counts[c.reason] = counts.get(c.reason, 0) + 1
    assert counts == LONG_COUNTS
    assert [(str(c), c.frame, c.score) for c in found[:6]] == LONG_FIRST
    assert sum(c.score for c in found) == LONG_SCORE_SUM  # to the last bit


def test_per_frame_summaries_are_numpys():
    # medians, sizes and steps equal np.nanmedian / np.linalg.norm on the whole,
    # also for frames where an animal or a coordinate is missing, and for chunks
    from posekit.engine.multianimal.identity import _per_frame

    rng = np.random.default_rng(0)
    pos = rng.normal(0.0, 50.0, (301, 3, 7, 2))
    pos[rng.random(pos.shape[:3]) < 0.3] = np.nan
    pos[10:20, 1] = np.nan
    pos[40, 2, 3, 1] = np.nan  # y without x
    x, y = np.ascontiguousarray(pos[..., 0]), np.ascontiguousarray(pos[..., 1])
    ok = np.isfinite(pos).all(axis=-1)
    with warnings.catch_warnings():  # all-NaN slices
        warnings.simplefilter("ignore", RuntimeWarning)
        middle = np.nanmedian(pos, axis=2)
        step = np.nanmedian(np.linalg.norm(np.diff(pos, axis=0), axis=-1), axis=2)
    hi = np.where(ok[..., None], pos, -np.inf).max(axis=2)
    lo = np.where(ok[..., None], pos, np.inf).min(axis=2)
    size = np.where(ok.any(-1), (hi - lo).max(axis=-1), np.nan)
    for chunk in (7, 300, 301, 4096):
        centre, m, s, st = _per_frame(x, y, chunk=chunk)
        np.testing.assert_array_equal(m, middle)
        np.testing.assert_array_equal(s, size)
        np.testing.assert_array_equal(st, step)
        assert np.isnan(centre[10:20, 1]).all() and np.isfinite(centre[:10]).all()
