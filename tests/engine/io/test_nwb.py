"""NWB (ndx-pose): poses and labelled frames both ways, and files of DLC2NWB and SLEAP."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.io import convert, detect_format, load
from posekit.engine.io.dlc import index_to_paths, labels_to_array, read_labels
from posekit.engine.io.nwb import (
    FRAMES_COMMENT,
    NWBError,
    load_nwb,
    read_nwb_labels,
    save_nwb,
    save_nwb_individuals,
    write_nwb_labels,
)
from posekit.engine.io.sleap import load_sleap
from posekit.engine.poses import from_numpy

pynwb = pytest.importorskip("pynwb")
ndx_pose = pytest.importorskip("ndx_pose")

OPENFIELD = ["snout", "leftear", "rightear", "tailbase"]


def _same(a, b) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture
def openfield_predictions(openfield_dir):
    """Predictions-like poses on the openfield labels: noise, likelihoods, gaps."""
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    rng = np.random.default_rng(0)
    xy = labels_to_array(labels)[:, None] + rng.normal(0, 2, (116, 1, 4, 2))
    like = rng.uniform(0, 1, (116, 1, 4))
    xy[5, 0, 2] = np.nan
    like[5, 0, 2] = np.nan
    xy[7:9] = np.nan
    like[7:9] = np.nan
    ds = from_numpy(
        xy.transpose(0, 3, 2, 1),
        like.transpose(0, 2, 1),
        keypoint_names=OPENFIELD,
        fps=30.0,
        source_software="posekit",
    )
    ds.attrs.update(
        scorer="DLC_mobnet_35_openfieldOct30shuffle1_1000",
        video_path="videos/m3v1mp4.mp4",
        skeleton=[["snout", "leftear"], ["snout", "rightear"]],
    )
    return ds


def _multi_animal(n: int = 12, fps: float | None = 25.0, space: int = 2):
    rng = np.random.default_rng(7)
    pos = rng.uniform(0, 500, (n, space, 3, 3))
    conf = rng.uniform(0, 1, (n, 3, 3))
    pos[2, :, 1, 0] = np.nan
    conf[2, 1, 0] = np.nan
    pos[4:6, :, :, 2] = np.nan  # the third animal is away
    conf[4:6, :, 2] = np.nan
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=["nose", "ear", "tail"],
        individual_names=["alpha", "beta", "gamma"],
        fps=fps,
    )
    ds.attrs["skeleton"] = [["nose", "ear"], ["ear", "tail"]]
    return ds


# ---------------------------------------------------------------- predictions


def test_openfield_predictions_round_trip(openfield_predictions, tmp_path):
    ds = openfield_predictions
    path = save_nwb(ds, tmp_path / "of.nwb")
    assert detect_format(path) == "NWB"
    back = load(path)
    assert back.attrs["source_software"] == "posekit"  # as the file records it
    assert back.keypoint.values.tolist() == OPENFIELD
    assert back.individual.values.tolist() == ["individual_0"]
    _same(back.position.values, ds.position.values)  # NaN where NaN
    _same(back.confidence.values, ds.confidence.values)
    _same(back.time.values, ds.time.values)
    assert back.attrs["fps"] == 30.0 and back.attrs["time_unit"] == "seconds"
    assert back.attrs["scorer"] == ds.attrs["scorer"]
    assert back.attrs["video_path"] == "videos/m3v1mp4.mp4"
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]


def test_pynwb_reads_what_posekit_writes(openfield_predictions, tmp_path):
    ds = openfield_predictions
    path = save_nwb(ds, tmp_path / "of.nwb")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        behavior = nwbfile.processing["behavior"]
        pe = behavior["PoseEstimation"]
        assert isinstance(pe, ndx_pose.PoseEstimation)
        assert pe.scorer == ds.attrs["scorer"]
        assert pe.source_video.external_file[0] == "videos/m3v1mp4.mp4"
        skeleton = behavior["Skeletons"]["skeleton"]
        assert pe.skeleton is skeleton
        assert list(skeleton.nodes[:]) == OPENFIELD
        _same(skeleton.edges[:], [[0, 1], [0, 2]])
        assert nwbfile.subject.subject_id == "individual_0"
        series = pe.pose_estimation_series["rightear"]
        assert series.rate == 30.0 and series.unit == "pixels"
        _same(series.data[:], ds.position.sel(keypoint="rightear").values[..., 0])
        _same(series.confidence[:], ds.confidence.sel(keypoint="rightear").values[:, 0])


def test_multi_animal_one_file_per_individual_and_together(tmp_path):
    ds = _multi_animal()
    one = save_nwb(ds, tmp_path / "all.nwb")
    with pynwb.NWBHDF5IO(str(one), "r") as io:
        names = sorted(io.read().processing["behavior"].data_interfaces)
    assert names == [
        "PoseEstimation_alpha",
        "PoseEstimation_beta",
        "PoseEstimation_gamma",
        "Skeletons",
    ]
    files = save_nwb_individuals(ds, tmp_path / "split.nwb")
    assert [f.name for f in files] == [
        "split_alpha.nwb",
        "split_beta.nwb",
        "split_gamma.nwb",
    ]
    for back in (load_nwb(one), load_nwb(files)):
        assert back.individual.values.tolist() == ["alpha", "beta", "gamma"]
        assert back.keypoint.values.tolist() == ["nose", "ear", "tail"]
        _same(back.position.values, ds.position.values)
        _same(back.confidence.values, ds.confidence.values)
        _same(back.time.values, ds.time.values)
        assert back.attrs["skeleton"] == ds.attrs["skeleton"]


def test_3d_poses_and_no_frame_rate(tmp_path):
    ds = _multi_animal(n=5, fps=None, space=3)
    path = save_nwb(ds, tmp_path / "3d.nwb")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        series = io.read().processing["behavior"]["PoseEstimation_beta"]
        s = series.pose_estimation_series["ear"]
        assert s.data.shape == (5, 3) and s.comments == FRAMES_COMMENT
    back = load(path)
    assert back.attrs["time_unit"] == "frames" and back.attrs["fps"] is None
    _same(back.time.values, np.arange(5.0))
    _same(back.position.values, ds.position.values)
    assert load(path, fps=10.0).time.values[1] == pytest.approx(0.1)


def test_fly_clip_identities_round_trip(shared_data, tmp_path):
    ds = load_sleap(shared_data / "sleap-flies-clip/clip.slp", fps=25)
    back = load(save_nwb(ds, tmp_path / "flies.nwb"))
    assert back.individual.values.tolist() == ["female", "male"]
    _same(back.position.values, ds.position.values)
    assert np.isnan(back.confidence.values).all()  # user labels: no confidence
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    # the .slp names clip.mp4 relative to itself: the NWB file names it wherever it is
    clip = (shared_data / "sleap-flies-clip/clip.mp4").absolute()
    assert back.attrs["video_path"] == str(clip)


def _pose_estimation(nwbfile, name="PoseEstimation_female"):
    return nwbfile.processing["behavior"][name]


def test_fly_clip_converts_with_its_video_frame_rate(shared_data, tmp_path, caplog):
    """The .slp names clip.mp4 (25 fps): NWB times are seconds, the video is linked."""
    clip = (shared_data / "sleap-flies-clip/clip.mp4").absolute()
    with caplog.at_level("WARNING", logger="posekit"):
        out = convert(shared_data / "sleap-flies-clip/clip.slp", tmp_path / "gt.nwb")
    assert "frame numbers" not in caplog.text
    # NWB names external files relative to the NWB file (DANDI checks it)
    relative = os.path.relpath(clip, tmp_path)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwbfile = io.read()
        for name in ("PoseEstimation_female", "PoseEstimation_male"):
            pe = _pose_estimation(nwbfile, name)
            assert list(pe.original_videos[:]) == [relative]
            assert pe.source_video is nwbfile.acquisition["video"]
            assert list(pe.source_video.external_file[:]) == [relative]
            assert pe.source_video.rate == 25.0
            assert pe.source_video.starting_time == 0.0
            _same(pe.dimensions[:], [[1024, 1024]])
            series = pe.pose_estimation_series["thorax"]
            assert series.rate == 25.0 and series.starting_time == 0.0
            assert series.timestamps is None and series.comments != FRAMES_COMMENT
            assert series.data.shape == (1500, 2)
    back = load(out)
    assert back.attrs["fps"] == 25.0 and back.attrs["time_unit"] == "seconds"
    _same(back.time.values[:3], [0.0, 0.04, 0.08])
    # --fps overrides the video's rate
    out = convert(
        shared_data / "sleap-flies-clip/clip.slp", tmp_path / "gt50.nwb", fps=50.0
    )
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        assert _pose_estimation(io.read()).pose_estimation_series["thorax"].rate == 50


def test_fly_clip_without_its_video_warns_that_times_are_frames(
    shared_data, tmp_path, caplog
):
    slp = tmp_path / "clip.slp"  # copied away from clip.mp4
    shutil.copy(shared_data / "sleap-flies-clip/clip.slp", slp)
    with caplog.at_level("WARNING", logger="posekit"):
        assert main(["convert", str(slp), str(tmp_path / "gt.nwb")]) == 0
    assert "timestamps are frame numbers" in caplog.text
    assert "posekit convert --fps" in caplog.text and "clip.mp4" in caplog.text
    with pynwb.NWBHDF5IO(str(tmp_path / "gt.nwb"), "r") as io:
        pe = _pose_estimation(io.read())
        series = pe.pose_estimation_series["thorax"]
        assert series.rate is None and series.comments == FRAMES_COMMENT
        _same(series.timestamps[:3], [0.0, 1.0, 2.0])
        assert list(pe.original_videos[:]) == ["clip.mp4"]  # as the .slp names it


# ---------------------------------------------------------------- labelled frames


def test_openfield_labels_as_training_frames(openfield_dir, tmp_path):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    path = write_nwb_labels(labels, tmp_path / "labels.nwb", skeleton=[OPENFIELD[:2]])
    assert detect_format(path) == "NWB"
    back = read_nwb_labels(path)
    assert index_to_paths(back.index) == index_to_paths(labels.index)
    assert list(back.columns) == list(labels.columns)  # scorer Pranav kept
    _same(back.to_numpy(), labels.to_numpy())
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        training = io.read().processing["behavior"]["PoseTraining"]
        frame = training.training_frames["frame_3"]
        assert frame.annotator == "Pranav"
        assert frame.source_video.name == "m4s1"
        assert int(frame.source_video_frame_index) == 3
        assert frame.source_video.external_file[3] == "labeled-data/m4s1/img0003.png"
        inst = frame.skeleton_instances["individual_0"]
        _same(inst.node_locations[:], labels_to_array(labels)[3])
        assert list(inst.skeleton.nodes[:]) == OPENFIELD
    poses = load(path)
    assert poses.attrs["frames"] == index_to_paths(labels.index)


def test_converting_a_label_file_writes_training_frames(openfield_dir, tmp_path):
    src = openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5"
    out = convert(src, tmp_path / "labels.nwb")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        behavior = io.read().processing["behavior"]
        assert "PoseTraining" in behavior.data_interfaces
        assert "PoseEstimation" not in behavior.data_interfaces
    back, ds = load(out), load(src)
    assert back.attrs["frames"] == ds.attrs["frames"]
    assert back.attrs["scorer"] == "Pranav"
    _same(back.position.values, ds.position.values)


def test_multi_animal_labels_round_trip(tmp_path):
    from posekit.engine.io.dlc import make_labels_frame

    rng = np.random.default_rng(1)
    rows = [f"labeled-data/cage/img{i:02d}.png" for i in range(5)]
    xy = rng.uniform(0, 99, (5, 2, 3, 2))
    xy[1, 0, 2] = np.nan
    xy[3, 1] = np.nan  # the second animal not labelled in row 3
    labels = make_labels_frame(
        "Ann", ["a", "b", "c"], rows, xy, individuals=["m1", "m2"]
    )
    back = read_nwb_labels(write_nwb_labels(labels, tmp_path / "ma.nwb"))
    assert list(back.columns) == list(labels.columns)
    _same(back.to_numpy(), labels.to_numpy())


def test_sleap_io_annotations_with_subjects_open_in_posekit(shared_data, tmp_path):
    sio = pytest.importorskip("sleap_io")
    pytest.importorskip("ndx_multisubjects")
    clip = shared_data / "sleap-flies-clip/clip.slp"
    labels = sio.load_slp(str(clip))
    labels.labeled_frames = labels.labeled_frames[:40]
    path = tmp_path / "flies_annotations.nwb"
    from sleap_io.io import nwb_annotations

    nwb_annotations.save_labels(labels, str(path), use_multisubjects=True)
    back = read_nwb_labels(path)
    # individuals in the order of sleap-io's SubjectsTable (first seen)
    names = list(dict.fromkeys(back.columns.get_level_values("individuals")))
    assert sorted(names) == ["female", "male"]
    assert index_to_paths(back.index)[0] == "labeled-data/clip/img0000.png"
    ref = load_sleap(clip).position.isel(time=slice(0, 40)).sel(individual=names)
    ours = labels_to_array(back, [str(k) for k in ref.keypoint.values])
    _same(ours, ref.transpose("time", "individual", "keypoint", "space").values)


# ---------------------------------------------------------------- other tools' files


def _sleap_predictions():
    sio = pytest.importorskip("sleap_io")
    skel = sio.Skeleton(["head", "thorax", "tail"], name="fly")
    tracks = [sio.Track("left"), sio.Track("right")]
    video = sio.Video(filename="arena.mp4", open_backend=False)
    rng = np.random.default_rng(4)
    frames = []
    for t in range(6):
        insts = []
        for k, track in enumerate(tracks):
            if t == 3 and k == 1:
                continue  # the right animal not found in frame 3
            pts = rng.uniform(0, 200, (3, 2))
            if t == 1 and k == 0:
                pts[1] = np.nan
            insts.append(
                sio.PredictedInstance.from_numpy(
                    pts,
                    skeleton=skel,
                    point_scores=rng.uniform(0, 1, 3),
                    score=0.8,
                    track=track,
                )
            )
        frames.append(sio.LabeledFrame(video=video, frame_idx=t, instances=insts))
    return sio, sio.Labels(frames, skeletons=[skel], videos=[video], tracks=tracks)


def test_sleap_io_predictions_open_in_posekit(tmp_path):
    sio, labels = _sleap_predictions()
    path = tmp_path / "sleap_preds.nwb"
    sio.save_nwb(labels, str(path), nwb_format="predictions")
    slp = tmp_path / "same.slp"
    sio.save_slp(labels, str(slp), verbose=False)
    ref = load_sleap(slp)
    back = load(path)
    assert back.individual.values.tolist() == ["left", "right"]
    assert back.keypoint.values.tolist() == ["head", "thorax", "tail"]
    _same(back.time.values, np.arange(6.0))  # sleap-io: one "second" per frame
    np.testing.assert_allclose(back.position.values, ref.position.values, rtol=1e-6)
    # the .slp reader keeps the score of a predicted point stored as not visible
    # (SLEAP's rule); sleap-io's NWB writes such a point without one: compare the
    # scores of the points with a position
    placed = np.isfinite(ref.position.values).all(axis=1)
    np.testing.assert_allclose(
        back.confidence.values[placed], ref.confidence.values[placed], rtol=1e-6
    )
    assert np.isnan(back.position.sel(time=3, individual="right")).all()


def _dlc2nwb_file(path: Path, animal: str, xyp: np.ndarray, times: np.ndarray) -> Path:
    """Write what DLC2NWB's convert_h5_to_nwb writes for one animal (ndx-pose 0.4)."""
    bodyparts = ["snout", "leftear", "tailbase"]
    series = [
        ndx_pose.PoseEstimationSeries(
            name=f"{animal}_{kpt}",
            description=f"Keypoint {kpt} from individual {animal}.",
            data=xyp[:, j, :2],
            unit="pixels",
            reference_frame="(0,0) corresponds to the bottom left corner of the video.",
            timestamps=times,
            confidence=xyp[:, j, 2],
            confidence_definition="Softmax output of the deep neural network.",
        )
        for j, kpt in enumerate(bodyparts)
    ]
    nwbfile = pynwb.NWBFile(
        session_description="openfield",
        experimenter="Pranav",
        identifier="DLC_resnet50_openfieldOct30shuffle1_30000",
        session_start_time=datetime.datetime.now(datetime.timezone.utc),
    )
    skeleton = ndx_pose.Skeleton(
        name=f"{animal}_skeleton",
        nodes=[s.name for s in series],
        edges=np.array([[0, 1], [0, 2]], dtype="uint8"),
    )
    pe = ndx_pose.PoseEstimation(
        pose_estimation_series=series,
        description="2D keypoint coordinates estimated using DeepLabCut.",
        scorer="DLC_resnet50_openfieldOct30shuffle1_30000",
        source_software="DeepLabCut",
        source_software_version="2.3.8",
        skeleton=skeleton,
    )
    behavior = nwbfile.create_processing_module(
        name="behavior", description="processed behavioral data"
    )
    behavior.add(ndx_pose.Skeletons(skeletons=[skeleton]))
    behavior.add(pe)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_dlc2nwb_files_open_in_posekit(tmp_path):
    rng = np.random.default_rng(9)
    xyp = rng.uniform(0, 1, (2, 8, 3, 3)) * [640, 480, 1]
    xyp[1, 2, 1] = np.nan
    times = np.cumsum(rng.uniform(0.03, 0.035, 8))  # video timestamps, irregular
    files = [
        _dlc2nwb_file(tmp_path / f"m3v1mp4DLC_resnet50_openfield_{a}.nwb", a, x, times)
        for a, x in zip(["ind1", "ind2"], xyp, strict=True)
    ]
    back = load_nwb(files)
    assert back.individual.values.tolist() == ["ind1", "ind2"]
    assert back.keypoint.values.tolist() == ["snout", "leftear", "tailbase"]
    _same(back.time.values, times)
    assert back.attrs["fps"] is None  # irregular timestamps
    _same(
        back.position.transpose("individual", "time", "keypoint", "space").values,
        xyp[..., :2],
    )
    _same(
        back.confidence.transpose("individual", "time", "keypoint").values, xyp[..., 2]
    )
    assert back.attrs["skeleton"] == [["snout", "leftear"], ["snout", "tailbase"]]
    assert back.attrs["scorer"] == "DLC_resnet50_openfieldOct30shuffle1_30000"
    single = load(files[0])
    assert single.individual.values.tolist() == ["ind1"]


# ---------------------------------------------------------------- bad input


def test_truncated_nwb_is_a_clear_error_and_nothing_is_written(
    openfield_predictions, tmp_path
):
    good = save_nwb(openfield_predictions, tmp_path / "good.nwb")
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(NWBError, match="cut.nwb.*cut short"):
        load_nwb(cut)
    with pytest.raises(NWBError, match="cut.nwb"):
        load(cut)
    with pytest.raises(NWBError, match="cut.nwb"):
        convert(cut, tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.nwb", "good.nwb"]


def test_a_file_without_poses_says_so(tmp_path):
    nwbfile = pynwb.NWBFile(
        session_description="empty",
        identifier="x",
        session_start_time=datetime.datetime.now(datetime.timezone.utc),
    )
    path = tmp_path / "empty.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    with h5py.File(path) as f:
        assert "nwb_version" in f.attrs
    with pytest.raises(NWBError, match="empty.nwb holds no ndx-pose PoseEstimation"):
        load_nwb(path)
    with pytest.raises(NWBError, match="no ndx-pose PoseTraining"):
        read_nwb_labels(path)


def test_ndx_pose_example_file_opens_in_posekit(tmp_path):
    from ndx_pose.testing.mock.pose import mock_PoseEstimation

    nwbfile = pynwb.NWBFile(
        session_description="mock",
        identifier="mock",
        session_start_time=datetime.datetime.now(datetime.timezone.utc),
    )
    pe = mock_PoseEstimation(nwbfile=nwbfile)
    path = tmp_path / "mock.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    ds = load(path)
    assert ds.keypoint.values.tolist() == ["node1", "node2", "node3"]
    assert ds.individual.values.tolist() == ["individual_0"]
    _same(ds.time.values, np.linspace(0, 10, 10))
    assert ds.attrs["fps"] == pytest.approx(0.9)
    _same(ds.position.sel(keypoint="node2").values[..., 0],
          np.arange(20.0).reshape(10, 2))  # fmt: skip
    _same(ds.confidence.sel(keypoint="node3").values[:, 0], np.linspace(0, 1, 10))
    assert ds.attrs["skeleton"] == [["node1", "node2"], ["node2", "node3"]]
    assert ds.attrs["scorer"] == pe.scorer


def test_convert_to_nwb_in_a_fresh_process(shared_data, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "flies.nwb"
    code = (
        "import sys; from posekit.engine.io import convert; "
        "print(convert(sys.argv[1], sys.argv[2], fps=25))"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(shared_data / "sleap-flies-clip/clip.slp"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ds = load(out)
    assert ds.individual.values.tolist() == ["female", "male"]
    assert ds.attrs["fps"] == 25.0
