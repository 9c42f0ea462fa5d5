"""SLEAP .slp and analysis .h5 through h5py, checked against sleap-io as a reference."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.io import load_poses
from posekit.engine.io.sleap import load_sleap

sio = pytest.importorskip("sleap_io")

FLY_NODES = [
    "head", "thorax", "abdomen", "wingL", "wingR", "forelegL4", "forelegR4",
    "midlegL4", "midlegR4", "hindlegL4", "hindlegR4", "eyeL", "eyeR",
]  # fmt: skip


@pytest.fixture(scope="module")
def clip(shared_data):
    return shared_data / "sleap-flies-clip" / "clip.slp"


def test_fly_clip_loads_with_both_identities(clip):
    ds = load_poses(clip, fps=25)
    assert ds.attrs["source_software"] == "SLEAP" and ds.attrs["fps"] == 25.0
    assert ds.sizes == {"time": 1500, "space": 2, "keypoint": 13, "individual": 2}
    assert ds.individual.values.tolist() == ["female", "male"]
    assert ds.keypoint.values.tolist() == FLY_NODES
    assert ds.time.values[-1] == pytest.approx(1499 / 25)
    x = ds.position.sel(space="x")
    assert int(np.isnan(x).sum()) == 637  # the 637 missing points, NaN not 0
    assert np.array_equal(np.isnan(x), np.isnan(ds.position.sel(space="y")))
    assert float(x.min()) == pytest.approx(252.75) and float(
        ds.position.sel(space="y").max()
    ) == pytest.approx(545.25)
    assert np.isnan(ds.confidence).all()  # user labels carry no score
    assert ds.attrs["video_path"] == "clip.mp4"


def test_fly_clip_matches_sleap_io(clip):
    ref = sio.load_slp(str(clip)).numpy()  # (frame, track, node, xy)
    ds = load_sleap(clip)
    ours = ds.position.transpose("time", "individual", "keypoint", "space").values
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("preset", ["matlab", "standard"])
def test_analysis_h5_matches_the_slp(tmp_path, clip, preset):
    labels = sio.load_slp(str(clip))
    path = tmp_path / f"clip.{preset}.analysis.h5"
    sio.save_analysis_h5(labels, str(path), preset=preset)
    ds = load_poses(path)
    assert ds.attrs["source_software"] == "SLEAP"
    ref = load_sleap(clip)
    assert ds.individual.values.tolist() == ["female", "male"]
    assert ds.keypoint.values.tolist() == FLY_NODES
    np.testing.assert_array_equal(ds.position.values, ref.position.values)


def _synthetic_labels(tracked: bool = True):
    skel = sio.Skeleton(["a", "b", "c"])
    tracks = [sio.Track("left"), sio.Track("right")] if tracked else [None, None]
    video = sio.Video(filename="fake.mp4", open_backend=False)
    frames = []
    for t in (0, 1, 2, 4):  # frame 3 has no instances
        insts = []
        for k, track in enumerate(tracks):
            pts = np.array([[10.0 * t + k, 1.0], [20.0 + t, 2.0 + k], [30.0, 3.0 * t]])
            scores = np.array([0.9, 0.8, 0.7]) - 0.1 * k
            if t == 1 and k == 1:
                pts[1] = np.nan  # invisible point
            insts.append(
                sio.PredictedInstance.from_numpy(
                    pts, skeleton=skel, point_scores=scores, score=0.9, track=track
                )
            )
        if t == 2:  # a user correction of the left animal supersedes its prediction
            insts.append(
                sio.Instance.from_numpy(
                    np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),
                    skeleton=skel,
                    track=tracks[0],
                )
            )
        frames.append(sio.LabeledFrame(video=video, frame_idx=t, instances=insts))
    return sio.Labels(
        frames,
        skeletons=[skel],
        videos=[video],
        tracks=[tr for tr in tracks if tr is not None],
    )


def test_predictions_scores_user_precedence_and_gaps(tmp_path):
    path = tmp_path / "preds.slp"
    sio.save_slp(_synthetic_labels(), str(path))
    ds = load_sleap(path)
    assert ds.individual.values.tolist() == ["left", "right"]
    assert ds.keypoint.values.tolist() == ["a", "b", "c"] and ds.sizes["time"] == 5
    pos = ds.position
    assert float(pos.sel(time=4, keypoint="a", individual="right", space="x")) == 41.0
    np.testing.assert_allclose(
        ds.confidence.sel(time=0, individual="left"), [0.9, 0.8, 0.7]
    )
    np.testing.assert_allclose(
        ds.confidence.sel(time=0, individual="right"), [0.8, 0.7, 0.6]
    )
    # invisible point -> NaN position and confidence
    assert np.isnan(pos.sel(time=1, keypoint="b", individual="right")).all()
    assert np.isnan(ds.confidence.sel(time=1, keypoint="b", individual="right"))
    # user instance wins, and carries no score
    np.testing.assert_allclose(
        pos.sel(time=2, individual="left").transpose("keypoint", "space"),
        [[1, 1], [2, 2], [3, 3]],
    )
    assert np.isnan(ds.confidence.sel(time=2, individual="left")).all()
    assert float(pos.sel(time=2, keypoint="a", individual="right", space="x")) == 21.0
    assert np.isnan(pos.sel(time=3)).all()  # unlabelled frame
    ref = sio.load_slp(str(path)).numpy()
    np.testing.assert_array_equal(
        pos.transpose("time", "individual", "keypoint", "space"), ref
    )


def test_untracked_instances_become_numbered_individuals(tmp_path):
    path = tmp_path / "untracked.slp"
    sio.save_slp(_synthetic_labels(tracked=False), str(path))
    ds = load_sleap(path)
    assert ds.individual.values.tolist() == [
        "individual_0",
        "individual_1",
        "individual_2",
    ]
    # frame 2 holds the user instance first, then the two predictions
    np.testing.assert_allclose(
        ds.position.sel(time=2, individual="individual_0", space="x"), [1, 2, 3]
    )
    assert np.isnan(ds.position.sel(time=0, individual="individual_2")).all()


def test_not_a_sleap_file(tmp_path):
    bad = tmp_path / "bad.slp"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_sleap(bad)
    with pytest.raises(FileNotFoundError):
        load_sleap(tmp_path / "missing.slp")
