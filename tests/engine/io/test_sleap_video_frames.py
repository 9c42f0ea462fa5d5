"""SLEAP output on the source video (QA s21 lightningpose, findings 1, 6, 7 and 8).

Labels on images written onto a video go onto the frames the images are named after
(``img0010.png`` is frame 10), not their row numbers; ``posekit convert --video``,
``--skeleton`` and ``--individual``; a ``.slp`` names its video relative to itself,
never to the current folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.io import load_poses, save_poses
from posekit.engine.io._source import source_video
from posekit.engine.io.sleap import import_sleap, load_sleap, save_slp
from posekit.engine.poses import from_numpy

sio = pytest.importorskip("sleap_io")

ROWS = [
    "labeled-data/v/img0000.png",
    "labeled-data/v/img0010.png",
    "labeled-data/v/img0025.png",
]


def _labels(rows=ROWS, individuals=("ind",)):
    """Hand labels on images: keypoints a, b; row t, individual i at t*10+i."""
    n = len(rows)
    pos = np.zeros((n, 2, 2, len(individuals)))
    for t in range(n):
        for i in range(len(individuals)):
            pos[t, :, :, i] = [[t * 10 + i, t * 10 + i + 1], [t + 100, t + 101]]
    ds = from_numpy(pos, keypoint_names=["a", "b"], individual_names=list(individuals))
    ds.attrs["frames"] = list(rows)
    ds.attrs["scorer"] = "me"
    return ds


def _frames_and_points(path: Path) -> dict[int, np.ndarray]:
    labels = sio.load_slp(str(path))
    return {
        lf.frame_idx: np.stack([inst.numpy() for inst in lf.instances])
        for lf in labels.labeled_frames
    }


def _write_video(path: Path, n_frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for i in range(n_frames):
        writer.write(np.full((24, 32, 3), i * 8, np.uint8))
    writer.release()
    return path


def test_labelled_images_go_onto_the_frames_they_are_named_after(tmp_path):
    ds = _labels()
    out = save_slp(ds, tmp_path / "on_video.slp", video_path="v.mp4", skeleton=[])
    got = _frames_and_points(out)
    assert sorted(got) == [0, 10, 25]  # not the row numbers 0, 1, 2
    for t, frame in enumerate([0, 10, 25]):
        want = ds["position"].isel(time=t, individual=0).transpose("keypoint", "space")
        np.testing.assert_array_equal(got[frame][0], want.values)
    assert sio.load_slp(str(out)).video.filename == "v.mp4"
    # read back by posekit: the points are at their frames of the video
    back = load_sleap(out)
    assert back.sizes["time"] == 26
    np.testing.assert_array_equal(
        back["position"].sel(time=25, individual="ind").values,
        ds["position"].isel(time=2, individual=0).values,
    )
    # without a video the images are SLEAP's image-list video, as before
    listed = sio.load_slp(str(save_slp(ds, tmp_path / "imgs.slp", skeleton=[])))
    assert [lf.frame_idx for lf in listed.labeled_frames] == [0, 1, 2]


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (["labeled-data/v/img0000.png", "labeled-data/v/frame_a.png"], "not named"),
        (["labeled-data/v/img0000.png", "labeled-data/w/img0010.png"], "2 videos"),
        (["labeled-data/v/img0010.png", "labeled-data/v/img010.png"], "more than once"),
    ],
)
def test_images_that_give_no_single_frame_are_refused(tmp_path, rows, says):
    target = tmp_path / "x.slp"
    with pytest.raises(ValueError, match=says) as err:
        save_slp(_labels(rows), target, video_path="v.mp4", skeleton=[])
    if says == "not named":  # says what to do, from the CLI and from Python
        assert "without --video" in str(err.value)
        assert "video_path=None" in str(err.value)
    assert not target.exists()


def test_a_video_shorter_than_the_labels_is_refused(tmp_path):
    video = _write_video(tmp_path / "v.mp4", 12)
    with pytest.raises(ValueError, match="has 12 frames"):
        save_slp(_labels(), tmp_path / "x.slp", video_path=str(video), skeleton=[])


def test_convert_video_skeleton_and_individual_options(tmp_path, capsys):
    h5 = save_poses(_labels(), tmp_path / "CollectedData_me.h5", fmt="DeepLabCut")
    edges_file = _labels()
    edges_file.attrs["skeleton"] = [["b", "a"]]
    edges_file.attrs.pop("frames")
    nc = save_poses(edges_file, tmp_path / "edges.nc", fmt="netCDF")
    out = tmp_path / "back.slp"
    argv = ["convert", str(h5), str(out), "--video", "v.mp4", "--skeleton", str(nc)]
    assert main(argv) == 0
    assert sorted(_frames_and_points(out)) == [0, 10, 25]
    labels = sio.load_slp(str(out))
    assert labels.video.filename == "v.mp4"
    assert [(e.source.name, e.destination.name) for e in labels.skeleton.edges] == [
        ("b", "a")
    ]
    # the options name the outputs they apply to
    assert main(["convert", str(h5), str(tmp_path / "x.nc"), "--video", "v.mp4"]) == 2
    assert "--video applies to a SLEAP output" in capsys.readouterr().err
    # netCDF keeps edges (the skeleton attribute): --skeleton applies (QA s21
    # docsreview 3: it was refused, "which keeps no edges")
    y = tmp_path / "y.nc"
    assert main(["convert", str(h5), str(y), "--skeleton", str(nc)]) == 0
    assert load_poses(y).attrs["skeleton"] == [["b", "a"]]
    csv = tmp_path / "z.csv"
    assert main(["convert", str(h5), str(csv), "--skeleton", str(nc)]) == 2
    assert "--skeleton applies to a SLEAP, NWB or netCDF output" in (
        capsys.readouterr().err
    )
    # --individual: one animal of two for a single-animal format
    two = save_poses(
        _labels(individuals=("m1", "m2")), tmp_path / "two.nc", fmt="netCDF"
    )
    lp = tmp_path / "m2.csv"
    assert (
        main(
            [
                "convert",
                str(two),
                str(lp),
                "--to",
                "LightningPose",
                "--individual",
                "m2",
            ]
        )
        == 0
    )
    got = load_poses(lp, source_software="LightningPose")
    assert got["individual"].size == 1
    np.testing.assert_array_equal(
        got["position"].isel(individual=0).values,
        load_poses(two)["position"].sel(individual="m2").values,
    )
    assert (
        main(
            [
                "convert",
                str(two),
                str(tmp_path / "z.csv"),
                "--to",
                "LightningPose",
                "--individual",
                "m3",
            ]
        )
        == 2
    )
    assert "has no individual 'm3'; its individuals are ['m1', 'm2']" in (
        capsys.readouterr().err
    )


def test_skeleton_warning_names_the_cli_way(tmp_path, caplog):
    h5 = save_poses(_labels(), tmp_path / "CollectedData_me.h5", fmt="DeepLabCut")
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["convert", str(h5), str(tmp_path / "x.slp")]) == 0
    assert "--skeleton FILE" in caplog.text
    assert "skeleton=[[a, b], ...] in Python" in caplog.text


def _slp_naming(video_name: str, slp: Path) -> Path:
    """Write a .slp with one instance on frame 1 of a video it names as given."""
    skel = sio.Skeleton(["a", "b"])
    video = sio.Video(filename=video_name, open_backend=False)
    inst = sio.Instance.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), skeleton=skel)
    labels = sio.Labels(
        [sio.LabeledFrame(video=video, frame_idx=1, instances=[inst])],
        videos=[video],
        skeletons=[skel],
    )
    slp.parent.mkdir(parents=True, exist_ok=True)
    sio.save_slp(labels, str(slp))
    return slp


def test_relative_video_is_looked_up_beside_the_slp_only(tmp_path, monkeypatch):
    slp = _slp_naming("vid.mp4", tmp_path / "novid" / "labels.slp")
    assert load_sleap(slp).attrs["video_path"] == "vid.mp4"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write_video(elsewhere / "vid.mp4", 3)  # another video of the same name
    monkeypatch.chdir(elsewhere)
    with pytest.raises(FileNotFoundError, match="relative to the .slp") as err:
        import_sleap(slp, tmp_path / "proj")
    assert "--video VIDEO" in str(err.value) and "video_path=" in str(err.value)
    assert not (tmp_path / "proj").exists()
    assert source_video(load_sleap(slp)) is None  # not ./vid.mp4
    # beside the .slp it is found, wherever the command runs
    _write_video(slp.parent / "vid.mp4", 3)
    project = import_sleap(slp, tmp_path / "proj")
    assert source_video(load_sleap(slp)) == (slp.parent / "vid.mp4").absolute()
    assert [Path(v).name for v in project.videos()] == ["vid.mp4"]


def test_fly_clip_project_goes_back_onto_its_video(shared_data, tmp_path):
    """Known answer: import with every 10, write onto clip.mp4, equal to clip.slp."""
    clip = shared_data / "sleap-flies-clip" / "clip.slp"
    import_sleap(clip, tmp_path / "flies", every=10)
    h5 = tmp_path / "flies" / "labeled-data" / "clip" / "CollectedData_sleap.h5"
    out = tmp_path / "flies_vid.slp"
    video = str(clip.parent / "clip.mp4")
    assert main(["convert", str(h5), str(out), "--video", video]) == 0
    written = sio.load_slp(str(out))
    source = sio.load_slp(str(clip))
    assert written.video.filename == video
    want = {
        lf.frame_idx: {inst.track.name: inst.numpy() for inst in lf.instances}
        for lf in source.labeled_frames
    }
    assert [lf.frame_idx for lf in written.labeled_frames] == list(range(0, 1500, 10))
    n = 0
    for lf in written.labeled_frames:
        for inst in lf.instances:
            np.testing.assert_array_equal(
                inst.numpy(), want[lf.frame_idx][inst.track.name]
            )
            n += 1
    assert n == 300
    edges = [(e.source.name, e.destination.name) for e in written.skeleton.edges]
    assert set(edges) == {
        (e.source.name, e.destination.name) for e in source.skeleton.edges
    }
