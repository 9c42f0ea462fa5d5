"""SLEAP .slp and analysis .h5 through h5py, checked against sleap-io as a reference."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.io import convert, detect_format, load_poses
from posekit.engine.io.sleap import load_sleap, save_sleap_analysis, save_slp
from posekit.engine.poses import from_numpy

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
    # invisible point -> NaN position; its score stays (as sleap-io and movement
    # read it: a predicted point below threshold, not a gap)
    assert np.isnan(pos.sel(time=1, keypoint="b", individual="right")).all()
    assert float(ds.confidence.sel(time=1, keypoint="b", individual="right")) == (
        pytest.approx(0.8 - 0.1)
    )
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


# ---------------------------------------------------------------- writing


FLY_EDGES = [
    ["thorax", "head"],
    ["thorax", "abdomen"],
    ["thorax", "wingL"],
    ["thorax", "wingR"],
    ["thorax", "forelegL4"],
    ["thorax", "forelegR4"],
    ["thorax", "midlegL4"],
    ["thorax", "midlegR4"],
    ["thorax", "hindlegL4"],
    ["thorax", "hindlegR4"],
    ["head", "eyeL"],
    ["head", "eyeR"],
]


def _equal(a, b) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_fly_clip_skeleton_is_read(clip):
    ds = load_sleap(clip)
    assert sorted(map(tuple, ds.attrs["skeleton"])) == sorted(map(tuple, FLY_EDGES))
    assert ds.attrs["skeleton"][0] == ["thorax", "head"]  # SLEAP's insertion order


def test_fly_clip_slp_round_trip(clip, tmp_path):
    ds = load_sleap(clip, fps=25)
    out = save_slp(ds, tmp_path / "flies.slp")
    assert detect_format(out) == "SLEAP"
    back = load_poses(out, fps=25)
    assert back.individual.values.tolist() == ["female", "male"]
    _equal(back.position.values, ds.position.values)
    assert int(np.isnan(back.position.sel(space="x")).sum()) == 637
    assert np.isnan(back.confidence).all()  # user instances stay user instances
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    # the .slp names clip.mp4 relative to itself: written elsewhere, the new file
    # names it absolute (QA s17: a relative name broke the link)
    assert back.attrs["video_path"] == str((clip.parent / "clip.mp4").absolute())
    # sleap-io reads the same values, tracks and user instances
    labels = sio.load_slp(str(out))
    assert [t.name for t in labels.tracks] == ["female", "male"]
    assert all(
        type(inst) is sio.Instance for lf in labels.labeled_frames for inst in lf
    )
    _equal(labels.numpy(), sio.load_slp(str(clip)).numpy())


@pytest.mark.parametrize("preset", ["matlab", "standard"])
def test_fly_clip_analysis_round_trip(clip, tmp_path, preset):
    ds = load_sleap(clip)
    out = save_sleap_analysis(ds, tmp_path / "flies.analysis.h5", preset=preset)
    assert detect_format(out) == "SLEAP"
    back = load_poses(out)
    assert back.individual.values.tolist() == ["female", "male"]
    assert back.keypoint.values.tolist() == FLY_NODES
    _equal(back.position.values, ds.position.values)
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    ref = sio.load_analysis_h5(str(out))
    _equal(ref.numpy(), sio.load_slp(str(clip)).numpy())


def _multi_predictions():
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 400, (9, 2, 4, 3))
    conf = rng.uniform(0, 1, (9, 4, 3))
    pos[1, :, 2, 0] = np.nan  # an invisible point
    conf[1, 2, 0] = np.nan
    pos[3:5, :, :, 1] = np.nan  # an animal out of view
    conf[3:5, :, 1] = np.nan
    conf[6, :, 2] = np.nan  # a hand-corrected instance: no confidence
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=["nose", "neck", "hip", "tail"],
        individual_names=["red", "green", "blue"],
        fps=30.0,
    )
    ds.attrs["skeleton"] = [["nose", "neck"], ["neck", "hip"], ["hip", "tail"]]
    ds.attrs["video_path"] = "cage.mp4"
    return ds


def test_multi_animal_predictions_round_trip(tmp_path):
    ds = _multi_predictions()
    out = save_slp(ds, tmp_path / "preds.slp")
    back = load_poses(out, fps=30.0)
    assert back.individual.values.tolist() == ["red", "green", "blue"]
    _equal(back.position.values, ds.position.values)
    _equal(back.confidence.values, ds.confidence.values)
    _equal(back.time.values, ds.time.values)
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    labels = sio.load_slp(str(out))
    frame6 = labels.find(labels.videos[0], frame_idx=6)[0]
    kinds = {inst.track.name: type(inst).__name__ for inst in frame6}
    assert kinds == {"red": "PredictedInstance", "green": "PredictedInstance",
                     "blue": "Instance"}  # fmt: skip
    red = next(
        i
        for i in labels.find(labels.videos[0], frame_idx=0)[0]
        if i.track.name == "red"
    )
    np.testing.assert_allclose(
        red.numpy(scores=True)[:, 2], ds.confidence.isel(time=0, individual=0)
    )
    ana = save_sleap_analysis(ds, tmp_path / "preds.h5")
    back = load_poses(ana, fps=30.0)
    _equal(back.position.values, ds.position.values)
    _equal(back.confidence.values, ds.confidence.values)


def test_openfield_predictions_through_slp(openfield_dir, tmp_path):
    from posekit.engine.io.dlc import labels_to_array, read_labels

    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    xy = labels_to_array(labels)
    like = np.random.default_rng(0).uniform(0, 1, xy.shape[:2])
    like[10] = np.nan
    xy[10] = np.nan
    ds = from_numpy(
        xy.transpose(0, 2, 1)[..., None],
        like[..., None],
        keypoint_names=["snout", "leftear", "rightear", "tailbase"],
        fps=30.0,
    )
    back = load_poses(save_slp(ds, tmp_path / "of.slp"), fps=30.0)
    _equal(back.position.values, ds.position.values)
    _equal(back.confidence.values, ds.confidence.values)
    assert back.individual.values.tolist() == ["individual_0"]


def test_what_slp_cannot_hold(tmp_path):
    ds = _multi_predictions()
    ds.attrs["fps"] = None
    with pytest.raises(ValueError, match="no fps"):
        save_slp(ds, tmp_path / "x.slp")
    flat = from_numpy(np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError, match="3-D"):
        save_slp(flat, tmp_path / "x.slp")
    assert not (tmp_path / "x.slp").exists()


def test_truncated_slp_is_a_clear_error_and_nothing_is_written(clip, tmp_path):
    cut = tmp_path / "cut.slp"
    cut.write_bytes(clip.read_bytes()[:20000])
    with pytest.raises(ValueError, match="cut.slp.*cut short"):
        load_sleap(cut)
    with pytest.raises(ValueError, match="cut.slp"):
        load_poses(cut)
    with pytest.raises(ValueError, match="cut.slp"):
        convert(cut, tmp_path / "out.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.slp"]


def test_dlc_predictions_to_slp_link_their_video(tmp_path):
    """DLC names predictions <video>DLC_<scorer>.h5: the .slp points at <video>.mp4.

    It used to point at <video>DLC_<scorer>.mp4, a file that does not exist.
    """
    from posekit.engine.io.dlc import save_dlc

    ds = _multi_predictions()
    del ds.attrs["video_path"]
    ds.attrs.update(fps=None, time_unit="frames")  # a DLC file has frame numbers
    ds = ds.assign_coords(time=np.arange(ds.sizes["time"], dtype=float))
    (tmp_path / "cage1.mp4").write_bytes(b"")  # the video beside its predictions
    (tmp_path / "cage1_labeled.mp4").write_bytes(b"")  # not it
    h5 = save_dlc(ds, tmp_path / "cage1DLC_effnet_lite0_catDec6shuffle1_500_el.h5")
    assert load_poses(h5).attrs["video_path"] == str(tmp_path / "cage1.mp4")
    out = convert(h5, tmp_path / "cage1.slp")
    assert sio.load_slp(str(out)).videos[0].filename == str(tmp_path / "cage1.mp4")
    (tmp_path / "cage1.mp4").unlink()  # no video found: no link invented
    assert "video_path" not in load_poses(h5).attrs
