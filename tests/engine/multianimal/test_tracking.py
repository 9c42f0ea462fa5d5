"""Tracking, stitching (a known swap) and DeepLabCut's tracking files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import load_poses
from posekit.engine.multianimal.assembly import Assemblies
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.metrics import identity_metrics
from posekit.engine.multianimal.outputs import (
    read_assemblies_pickle,
    read_full_pickle,
    read_tracklets_pickle,
    save_assemblies_pickle,
    save_full_pickle,
    save_tracklets_pickle,
    tracks_frame,
    write_tracks,
)
from posekit.engine.multianimal.peaks import FrameDetections
from posekit.engine.multianimal.stitching import StitchConfig, stitch_tracklets
from posekit.engine.multianimal.tracking import (
    TrackingConfig,
    Tracklet,
    similarity,
    track_animals,
)

SHAPE = np.array([[0.0, 0.0], [8.0, 3.0], [16.0, 0.0]])  # an animal's 3 keypoints


def _animal(centre):
    xy = SHAPE - SHAPE.mean(axis=0) + centre
    return np.concatenate([xy, np.ones((3, 1))], axis=1)


def _crossing(n=200):
    """Ground truth: A goes down-right, B up-right; they cross at frame n/2."""
    t = np.arange(n, dtype=float)
    a = np.stack([_animal((x, x)) for x in t])
    b = np.stack([_animal((x, n - x)) for x in t])
    return np.stack([a, b], axis=1)  # (T, 2, K, 3)


def test_similarities_find_the_same_animal():
    a = _animal((50, 50))[None, :, :2]
    near, far = _animal((52, 51))[None], _animal((90, 50))[None]
    for method in ("ellipse", "box", "keypoints"):
        sim = similarity(a, np.concatenate([near, far]), TrackingConfig(method=method))
        assert sim[0, 0] > 0.3 > sim[0, 1], method


def test_tracker_follows_two_animals_and_bridges_a_missed_frame():
    truth = _crossing(40)[:, :, :, :]
    truth[:, 1, :, 1] += 200  # keep them apart: no crossing here
    frames = [truth[t] for t in range(40)]
    frames[10] = truth[10][:1]  # animal 1 missed in frame 10
    tracklets = track_animals(frames, TrackingConfig(max_age=2))
    assert [len(t) for t in tracklets] == [40, 39]
    assert 10 not in tracklets[1].frames
    short = track_animals(frames, TrackingConfig(max_age=0))
    assert len(short) == 3  # the gap ends the track without any grace


def test_stitching_joins_broken_tracklets_without_the_swap_nearness_would_make():
    truth = _crossing(200)
    hidden = slice(95, 105)  # both lost while they overlap
    pieces = [
        Tracklet(0, np.arange(0, 95), truth[:95, 0]),
        Tracklet(1, np.arange(0, 95), truth[:95, 1]),
        Tracklet(2, np.arange(105, 200), truth[105:, 1]),  # B's continuation
        Tracklet(3, np.arange(105, 200), truth[105:, 0]),
    ]
    # a join by nearness alone swaps: A's last position is nearer to B's first
    end_a = truth[94, 0, :, :2].mean(axis=0)
    starts = [truth[105, k, :, :2].mean(axis=0) for k in (1, 0)]
    assert np.linalg.norm(end_a - starts[0]) < np.linalg.norm(end_a - starts[1])
    tracks, members = stitch_tracklets(pieces, 200, StitchConfig(n_tracks=2))
    assert sorted(members) == [[0, 3], [1, 2]]
    gt = truth[..., :2].copy()
    gt[hidden] = np.nan
    m = identity_metrics(tracks, gt)
    assert m["id_switches"] == 0 and m["idf1"] == pytest.approx(1.0)
    # the swapped joining, for comparison, has two switches
    swapped = np.full_like(tracks, np.nan)
    swapped[:95] = truth[:95]
    swapped[105:] = truth[105:, ::-1]
    assert identity_metrics(swapped, gt)["id_switches"] == 2


def test_stitching_keeps_the_requested_tracks_and_adds_left_overs():
    truth = _crossing(60)
    truth[:, 1, :, 1] += 300
    pieces = [
        Tracklet(0, np.arange(0, 30), truth[:30, 0]),
        Tracklet(1, np.arange(0, 60), truth[:, 1]),
        Tracklet(2, np.arange(31, 60), truth[31:, 0]),
        Tracklet(3, np.arange(10, 12), truth[10:12, 1] + [[500, 500, 0]]),  # a ghost
    ]
    tracks, members = stitch_tracklets(pieces, 60, StitchConfig(n_tracks=2))
    assert tracks.shape == (60, 2, 3, 3)
    assert sorted(members) == [[0, 2], [1]]
    assert np.isnan(tracks[30]).all(axis=(1, 2)).tolist() in (
        [True, False],
        [False, True],
    )


def test_dlc_tracking_files_round_trip(tmp_path):
    layout = MultiAnimalLayout(("m1", "m2"), ("a", "b", "c"), ("lever",))
    truth = _crossing(12)
    unique = np.full((12, 1, 3), 5.0)
    det = FrameDetections(
        [np.array([[1.0, 2.0]]), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2))],
        [np.array([0.9]), np.zeros(0), np.zeros(0), np.zeros(0)],
        {0: {"m1": np.zeros((1, 0)), "distance": np.zeros((1, 0))}},
    )
    save_full_pickle(tmp_path / "v_full.pickle", [det] * 12, {"nframes": 12})
    meta, dets = read_full_pickle(tmp_path / "v_full.pickle")
    assert meta["nframes"] == 12 and len(dets) == 12
    assert dets[3].coordinates[0].tolist() == [[1.0, 2.0]]
    asm = [Assemblies(truth[t], np.ones(2), unique[t]) for t in range(12)]
    save_assemblies_pickle(tmp_path / "v_assemblies.pickle", asm)
    back = read_assemblies_pickle(tmp_path / "v_assemblies.pickle", 12, 3, 1)
    np.testing.assert_array_equal(back[5].animals, truth[5])
    np.testing.assert_array_equal(back[5].unique, unique[5])
    tracklets = [Tracklet(7, np.arange(12), truth[:, 0])]
    save_tracklets_pickle(
        tmp_path / "v_el.pickle", tracklets, layout, "DLC_x", 12, unique
    )
    (t,) = read_tracklets_pickle(tmp_path / "v_el.pickle")
    assert t.id == 7 and np.array_equal(t.keypoints, truth[:, 0])
    df = tracks_frame(truth, layout, "DLC_x", unique)
    path = write_tracks(df, tmp_path / "v_el.h5")
    with pd.HDFStore(path, "r") as store:
        assert store.keys() == ["/tracks"]
        back = store["tracks"]
    assert back.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(back.columns.get_level_values("individuals"))) == [
        "m1",
        "m2",
        "single",
    ]
    ds = load_poses(path)
    assert ds.sizes["individual"] == 3 and "m2" in ds.individual.values
    np.testing.assert_allclose(
        ds.position.sel(individual="m2", keypoint="b").transpose("time", "space"),
        truth[:, 1, 1, :2],
    )
    # more tracks than individuals: DeepLabCut's ind<k> names
    extra = tracks_frame(np.concatenate([truth, truth[:, :1]], axis=1), layout, "s")
    assert "ind3" in extra.columns.get_level_values("individuals")
