"""QA s17 (interop): conversions checked against the reference libraries.

Each test reproduces a finding of ``qa/s17-interop.md`` and fails on the code before
its fix: NWB cameras read as animals, COCO results numbered 1..n, Lightning Pose frame
numbers lost, COCO crowd annotations imported as animals, sleap-io's frame-local
instances read as identities, NWB metadata dropped, NWB external files relative to
the wrong folder, NWB timestamps with dropped frames, label files converted into
prediction tables, and a ``.slp``'s video link broken by a move.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.io import convert, load, save
from posekit.engine.io.dlc import (
    index_to_paths,
    labels_to_array,
    make_labels_frame,
    predictions_frame,
    read_labels,
    write_labels,
    write_predictions,
)
from posekit.engine.poses import from_numpy

OPENFIELD = ["snout", "leftear", "rightear", "tailbase"]
SCORER = "DLC_resnet50_demoJan1shuffle1_100"


def _predictions(frames: np.ndarray, fps: float | None = 30.0, seed: int = 0):
    """Single-animal predictions on ``frames`` (x, y, likelihood; one NaN point)."""
    rng = np.random.default_rng(seed)
    n = len(frames)
    pos = rng.uniform(0, 300, (n, 2, 3, 1))
    conf = rng.uniform(0.1, 1, (n, 3, 1))
    pos[2, :, 1] = np.nan
    conf[2, 1] = np.nan
    ds = from_numpy(pos, conf, keypoint_names=["nose", "ear", "tail"], fps=fps)
    frames = np.asarray(frames, np.float64)
    return ds.assign_coords(time=frames / fps if fps else frames)


def _same(a, b) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------- 1. NWB cameras


def _two_camera_nwb(path: Path) -> tuple[Path, np.ndarray]:
    """Write a DANDI-style file: one subject, two cameras (30 and 60 fps)."""
    pynwb = pytest.importorskip("pynwb")
    ndx_pose = pytest.importorskip("ndx_pose")
    nwbfile = pynwb.NWBFile(
        session_description="two cams",
        identifier="twocam",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        subject=pynwb.file.Subject(
            subject_id="mouse1", species="Mus musculus", sex="M", age="P90D"
        ),
    )
    skeleton = ndx_pose.Skeleton(
        name="skeleton",
        nodes=["nose", "tail"],
        edges=np.array([[0, 1]], dtype="uint8"),
        subject=nwbfile.subject,
    )
    behavior = nwbfile.create_processing_module("behavior", "poses")
    behavior.add(ndx_pose.Skeletons(skeletons=[skeleton]))
    rng = np.random.default_rng(3)
    top = None
    for cam, rate, n in (("cam_top", 30.0, 10), ("cam_side", 60.0, 20)):
        device = nwbfile.create_device(name=cam)
        data = rng.uniform(0, 100, (2, n, 2))
        if cam == "cam_top":
            top = data
        series = [
            ndx_pose.PoseEstimationSeries(
                name=node,
                description=node,
                data=data[j],
                unit="pixels",
                reference_frame="top left",
                rate=rate,
                confidence=np.full(n, 0.9),
                confidence_definition="likelihood",
            )
            for j, node in enumerate(["nose", "tail"])
        ]
        behavior.add(
            ndx_pose.PoseEstimation(
                name=f"PoseEstimation_{cam}",
                pose_estimation_series=series,
                description=f"poses from {cam}",
                original_videos=[f"{cam}.mp4"],
                device=device,
                skeleton=skeleton,
            )
        )
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path, top


def test_nwb_cameras_are_not_read_as_animals(tmp_path, capsys):
    from posekit.engine.io.nwb import NWBError

    path, top = _two_camera_nwb(tmp_path / "twocam.nwb")
    # old code: individuals ['cam_side', 'cam_top'] on a merged 60 fps timeline
    with pytest.raises(NWBError, match="different cameras.*cam_side.*cam_top"):
        load(path)
    assert main(["convert", str(path), str(tmp_path / f"x{SCORER}.h5")]) == 2
    assert "--pose-estimation" in capsys.readouterr().err
    assert not (tmp_path / f"x{SCORER}.h5").exists()
    ds = load(path, pose_estimation="cam_top")
    assert ds.individual.values.tolist() == ["mouse1"]  # the subject, not the camera
    assert ds.attrs["fps"] == 30.0 and ds.sizes["time"] == 10
    assert ds.attrs["video_path"] == "cam_top.mp4"
    _same(ds.position.sel(individual="mouse1").transpose("keypoint", "time", "space"),
          top)  # fmt: skip
    out = tmp_path / f"top{SCORER}.h5"
    argv = [
        "convert",
        str(path),
        str(out),
        "--pose-estimation",
        "PoseEstimation_cam_top",
    ]
    assert main(argv) == 0
    back = read_labels(out)
    assert back.index.tolist() == list(range(10))  # frame k stays frame k
    _same(back[(SCORER, "mouse1", "nose", "x")], top[0, :, 0])


# ---------------------------------------------------------------- 2. COCO results


def _openfield_coco(openfield_dir, tmp_path):
    from posekit.engine.io.coco import labels_to_coco, write_coco

    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    coco = labels_to_coco(labels, image_root=openfield_dir)
    return labels, coco, write_coco(coco, tmp_path / "gt.json")


def test_coco_results_take_the_dataset_image_ids(openfield_dir, tmp_path):
    from posekit.engine.io.coco import CocoError, evaluate_coco

    pytest.importorskip("pycocotools")
    labels, coco, gt = _openfield_coco(openfield_dir, tmp_path)
    xy = labels_to_array(labels)[50:60]  # the labels of img0050..img0059, exactly
    ds = from_numpy(
        xy[:, None].transpose(0, 3, 2, 1),
        np.full((10, 4, 1), 0.95),
        keypoint_names=OPENFIELD,
    )
    names = [f"img00{i}.png" for i in range(50, 60)]
    ds.attrs["frames"] = names
    # as analyze-images writes them: one row per image, indexed by its file name
    xyp = np.concatenate([xy, np.full((10, 4, 1), 0.95)], axis=-1)
    preds = write_predictions(
        predictions_frame(xyp, SCORER, OPENFIELD, index=names),
        tmp_path / f"m4s1{SCORER}.h5",
    )
    # without the dataset the ids would be meaningless: refused (old: ids 1..10)
    with pytest.raises(CocoError, match="--images"):
        convert(preds, tmp_path / "res.json")
    assert not (tmp_path / "res.json").exists()
    argv = ["convert", str(preds), str(tmp_path / "res.json"), "--images", str(gt)]
    assert main(argv) == 0
    results = json.loads((tmp_path / "res.json").read_text())
    ids = {im["file_name"]: im["id"] for im in coco["images"]}
    assert [r["image_id"] for r in results] == [
        ids[f"labeled-data/m4s1/img00{i}.png"] for i in range(50, 60)
    ]
    stats = evaluate_coco(gt, tmp_path / "res.json")
    assert stats["AP"] > 0.08  # perfect on its 10 images (old: AP 0.0)
    # read back with the dataset: keypoint names and image names
    back = load(tmp_path / "res.json", images=coco)
    assert back.keypoint.values.tolist() == OPENFIELD
    _same(back.position.values[50:60], ds.position.values)
    # written back to DeepLabCut, predictions of images keep their names
    again = save(load(preds), tmp_path / f"again{SCORER}.h5")
    assert read_labels(again).index.tolist() == names  # old: 0..9


def test_coco_results_of_video_frames_keep_their_frame_numbers(tmp_path):
    frames = np.r_[100:120, 130:160]  # a trimmed clip with dropped frames
    ds = _predictions(frames)
    out = save(ds, tmp_path / "res.json")
    ids = [r["image_id"] for r in json.loads(out.read_text())]
    assert ids == (frames + 1).tolist()  # old: 1..50
    back = load(out, fps=30.0)
    kept = back.sel(time=frames / 30.0, method="nearest")
    _same(kept.position.values, ds.position.values)


# ---------------------------------------------------------------- 3. Lightning Pose


def test_lightning_pose_reads_its_frame_numbers(tmp_path):
    frames = np.r_[100:120, 130:160]
    src = save(_predictions(frames), tmp_path / f"vid{SCORER}.h5")
    lp = convert(src, tmp_path / "vid.csv", to="LightningPose")
    assert load(lp).time.values.tolist() == frames.tolist()  # old: 0..49
    assert load(lp, fps=30.0).time.values.tolist() == (frames / 30.0).tolist()
    back = convert(lp, tmp_path / f"back{SCORER}.h5", to="DeepLabCut")
    pd.testing.assert_frame_equal(read_labels(back), read_labels(src))


# ---------------------------------------------------------------- 4. COCO crowd


def test_coco_crowd_annotations_are_not_animals(tmp_path, caplog):
    import cv2

    from posekit.engine.io.coco import coco_to_labels, import_coco, read_coco

    (tmp_path / "images").mkdir()
    images, anns = [], []
    for i in range(3):
        name = f"images/img{i}.png"
        cv2.imwrite(str(tmp_path / name), np.zeros((40, 50, 3), np.uint8))
        images.append({"id": i + 1, "file_name": name, "width": 50, "height": 40})
        anns.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "keypoints": [10, 10, 2, 20, 20, 2],
                "num_keypoints": 2,
                "bbox": [10, 10, 10, 10],
                "area": 100,
                "iscrowd": 0,
            }
        )
    # crowd regions as other COCO tools write them: one with no keypoint (an RLE
    # segmentation), one with keypoints
    anns.append(
        {
            "id": 100,
            "image_id": 1,
            "category_id": 1,
            "iscrowd": 1,
            "keypoints": [0] * 6,
            "num_keypoints": 0,
            "segmentation": {"counts": [0, 20], "size": [40, 50]},
            "bbox": [0, 0, 5, 4],
            "area": 20,
        }
    )
    anns.append(
        {
            "id": 101,
            "image_id": 2,
            "category_id": 1,
            "iscrowd": 1,
            "keypoints": [40, 30, 2, 45, 35, 2],
            "num_keypoints": 2,
            "bbox": [40, 30, 5, 5],
            "area": 25,
        }
    )
    dataset = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "mouse", "keypoints": ["a", "b"]}],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(dataset))
    with caplog.at_level("WARNING", logger="posekit"):
        labels = coco_to_labels(read_coco(path), where=str(path))
    assert "individuals" not in labels.columns.names  # old: individual1, individual2
    assert "2 crowd annotation(s)" in caplog.text
    _same(labels_to_array(labels)[:, 0], [[10, 10]] * 3)
    project = import_coco(path, tmp_path / "proj")
    assert not project.cfg.get("multianimalproject")
    # a crowd region without any keypoints list is no malformed annotation either
    del dataset["annotations"][3]["keypoints"]
    path.write_text(json.dumps(dataset))
    labels = coco_to_labels(read_coco(path), where=str(path))
    assert "individuals" not in labels.columns.names


# ---------------------------------------------------------------- 5. no identities


def test_sleap_io_nwb_instances_without_identity_stay_untracked(
    shared_data, tmp_path, caplog
):
    sio = pytest.importorskip("sleap_io")
    pytest.importorskip("ndx_pose")
    labels = sio.load_slp(str(shared_data / "sleap-flies-clip/clip.slp"))
    labels.labeled_frames = labels.labeled_frames[:50]
    path = tmp_path / "flies.nwb"
    sio.save_nwb(labels, str(path))  # no subjects table: instance_0, instance_1
    with caplog.at_level("WARNING", logger="posekit"):
        ds = load(path)
    assert "holds no identities" in caplog.text
    assert ds.attrs["identities"] is False
    out = convert(path, tmp_path / "flies.slp")
    back = sio.load_slp(str(out))
    assert back.tracks == []  # old: tracks instance_0/instance_1, swapped 18 times
    assert all(inst.track is None for lf in back for inst in lf.instances)
    assert sum(len(lf.instances) for lf in back) == 100


# ---------------------------------------------------------------- 6. NWB metadata


def test_nwb_keeps_the_metadata_it_is_given(tmp_path, caplog):
    pynwb = pytest.importorskip("pynwb")
    from posekit.engine.io.nwb import save_nwb

    ds = _predictions(np.arange(20))
    start = datetime.datetime(2024, 1, 2, 10, tzinfo=datetime.UTC)
    subject = pynwb.file.Subject(
        subject_id="m1", species="Mus musculus", sex="M", age="P90D"
    )
    out = save_nwb(
        ds,
        tmp_path / "subj.nwb",
        subject=subject,
        experimenter=["Doe, Jane"],
        lab="X",
        institution="Uni",
        session_start_time=start,
    )
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        f = io.read()
        assert f.subject.subject_id == "m1" and f.subject.species == "Mus musculus"
        assert (f.subject.sex, f.subject.age) == ("M", "P90D")
        assert list(f.experimenter) == ["Doe, Jane"]
        assert (f.lab, f.institution) == ("X", "Uni")
        assert f.session_start_time == start
    with pytest.raises(TypeError, match="labb"):  # a typo is not dropped silently
        save_nwb(ds, tmp_path / "typo.nwb", labb="X")
    # without a session start: the warning says what is recorded instead
    with caplog.at_level("WARNING", logger="posekit"):
        save_nwb(ds, tmp_path / "now.nwb")
    assert "no session start given" in caplog.text and "--session-start" in caplog.text
    # NWB to NWB keeps the session (and subject) metadata
    again = save_nwb(load(out), tmp_path / "again.nwb")
    with pynwb.NWBHDF5IO(str(again), "r") as io:
        f = io.read()
        assert f.subject.species == "Mus musculus" and f.lab == "X"
        assert f.session_start_time == start


def test_convert_sets_nwb_metadata_and_links_the_video_relatively(
    shared_data, tmp_path
):
    pynwb = pytest.importorskip("pynwb")
    out = tmp_path / "sub" / "flies.nwb"
    out.parent.mkdir()
    argv = [
        "convert",
        str(shared_data / "sleap-flies-clip/clip.slp"),
        str(out),
        "--session-start",
        "2024-01-02T10:00:00+01:00",
        "--experimenter",
        "Doe, Jane",
        "--lab",
        "Fly lab",
        "--species",
        "Drosophila melanogaster",
        "--subject-id",
        "flies1",
        "--sex",
        "U",
        "--age",
        "P3D",
    ]
    assert main(argv) == 0
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        f = io.read()
        assert f.subject.subject_id == "flies1"
        assert f.subject.species == "Drosophila melanogaster"
        assert (f.subject.sex, f.subject.age) == ("U", "P3D")
        assert list(f.experimenter) == ["Doe, Jane"] and f.lab == "Fly lab"
        assert f.session_start_time.isoformat() == "2024-01-02T10:00:00+01:00"
        video = f.acquisition["video"].external_file[0]
    # NWB's rule (DANDI's check_image_series_external_file_relative): relative
    assert not Path(video).is_absolute()
    assert (out.parent / video).resolve() == (
        shared_data / "sleap-flies-clip/clip.mp4"
    ).resolve()
    assert main(["convert", str(out), str(tmp_path / "x.nc"), "--lab", "X"]) == 2


# ---------------------------------------------------------------- 7. NWB label images


def _tiny_project(root: Path) -> Path:
    """``root/labeled-data/cage/`` with 4 small images and their labels."""
    import cv2

    folder = root / "labeled-data" / "cage"
    folder.mkdir(parents=True)
    rows = []
    for i in range(4):
        cv2.imwrite(str(folder / f"img{i}.png"), np.full((24, 32, 3), i * 40, np.uint8))
        rows.append(f"labeled-data/cage/img{i}.png")
    xy = np.arange(4 * 3 * 2, dtype=float).reshape(4, 3, 2)
    xy[1, 2] = np.nan
    labels = make_labels_frame("Ann", ["a", "b", "c"], rows, xy)
    return write_labels(labels, folder / "CollectedData_Ann.h5")


def test_nwb_labels_name_their_images_relative_to_the_nwb_file(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from posekit.engine.io.nwb import import_nwb

    src = _tiny_project(tmp_path / "proj")
    out = tmp_path / "elsewhere" / "labels.nwb"
    out.parent.mkdir()
    convert(src, out, write_options={"session_start_time": "2024-01-02T10:00:00Z"})
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        series = io.read().processing["behavior"]["PoseTraining"].source_videos["cage"]
        files = list(series.external_file[:])
    # old: 'labeled-data/cage/img0.png', missing next to the NWB file
    assert all((out.parent / f).is_file() for f in files)
    assert (out.parent / files[2]).resolve() == (
        tmp_path / "proj/labeled-data/cage/img2.png"
    )
    back = load(out)
    assert back.attrs["frames"] == index_to_paths(read_labels(src).index)
    # and the NWB training frames become a project again (old: no route at all)
    project = import_nwb(out, tmp_path / "again")
    again = read_labels(project.path / "labeled-data/cage/CollectedData_Ann.h5")
    pd.testing.assert_frame_equal(again, read_labels(src), check_index_type=False)
    assert (project.path / "labeled-data/cage/img3.png").read_bytes() == (
        tmp_path / "proj/labeled-data/cage/img3.png"
    ).read_bytes()
    assert main(["import", str(out), str(tmp_path / "cli")]) == 0


# ---------------------------------------------------------------- 8. NWB timestamps


def test_nwb_with_dropped_frames_converts_to_deeplabcut(tmp_path):
    pytest.importorskip("ndx_pose")
    frames = np.r_[100:120, 130:160]
    src = save(_predictions(frames), tmp_path / f"vid{SCORER}.h5")
    nwb = convert(src, tmp_path / "x.nwb", fps=30.0)
    out = tmp_path / f"back{SCORER}.h5"
    # old: "these poses have times in seconds but no fps", with or without --fps
    assert main(["convert", str(nwb), str(out)]) == 0
    pd.testing.assert_frame_equal(read_labels(out), read_labels(src))


def _one_series_nwb(path: Path, times: np.ndarray, data: np.ndarray) -> Path:
    pynwb = pytest.importorskip("pynwb")
    ndx_pose = pytest.importorskip("ndx_pose")
    nwbfile = pynwb.NWBFile(
        session_description="x",
        identifier="x",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    series = ndx_pose.PoseEstimationSeries(
        name="nose",
        description="nose",
        data=data,
        unit="pixels",
        reference_frame="top left",
        timestamps=times,
    )
    module = nwbfile.create_processing_module("behavior", "poses")
    module.add(
        ndx_pose.PoseEstimation(
            name="PoseEstimation", pose_estimation_series=[series], description="x"
        )
    )
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_nwb_camera_clock_timestamps_go_to_their_frames_with_fps(tmp_path, capsys):
    """A camera's timestamps (jitter, a dropped frame): --fps gives their frames."""
    frames = np.r_[0:10, 11:20]
    jitter = np.random.default_rng(2).uniform(-0.002, 0.002, len(frames))
    data = np.random.default_rng(1).uniform(0, 50, (len(frames), 2))
    path = _one_series_nwb(tmp_path / "clock.nwb", frames / 30.0 + jitter, data)
    out = tmp_path / f"clock{SCORER}.h5"
    assert main(["convert", str(path), str(out)]) == 2  # no rate in irregular times
    assert "fps" in capsys.readouterr().err
    assert main(["convert", str(path), str(out), "--fps", "30"]) == 0
    back = read_labels(out)
    assert back.index.tolist() == frames.tolist()
    _same(back[(SCORER, "nose", "y")], data[:, 1])


def test_nwb_fps_numbers_the_frames_of_seconds(tmp_path):
    """Every other frame kept: the step says 15 fps; --fps 30 numbers them right."""
    frames = np.arange(0, 40, 2)
    data = np.random.default_rng(1).uniform(0, 50, (len(frames), 2))
    path = _one_series_nwb(tmp_path / "sparse.nwb", frames / 30.0, data)
    out = tmp_path / f"sparse{SCORER}.h5"
    assert main(["convert", str(path), str(out), "--fps", "30"]) == 0
    back = read_labels(out)
    assert back.index.tolist() == frames.tolist()
    _same(back[(SCORER, "nose", "x")], data[:, 0])


# ---------------------------------------------------------------- 9. label files


def test_labels_convert_to_label_files(openfield_dir, tmp_path):
    pytest.importorskip("ndx_pose")
    pytest.importorskip("sleap_io")
    src = openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5"
    ref = read_labels(src)
    lp = convert(src, tmp_path / "CollectedData.csv", to="LightningPose")
    head = lp.read_text().splitlines()[:3]
    assert head[0].split(",")[1] == "Pranav"  # the labeller (old: heatmap_tracker)
    assert set(head[2].split(",")[1:]) == {"x", "y"}  # old: x, y, likelihood
    # as Lightning Pose reads labels (lightning_pose/data/datasets.py)
    csv = pd.read_csv(lp, header=[0, 1, 2], index_col=0)
    _same(csv.to_numpy().reshape(len(csv), -1, 2), labels_to_array(ref))
    for name in ("x.nc", "x.nwb", "x.json", "x.slp"):
        mid = convert(src, tmp_path / name)
        back_dir = tmp_path / f"back_{name}"
        back_dir.mkdir()
        back = convert(mid, back_dir / "CollectedData_Pranav.h5", to="DeepLabCut")
        got = read_labels(back)
        # a label file: image rows, x and y, the labeller (old: 0..115, likelihood)
        assert index_to_paths(got.index) == index_to_paths(ref.index), name
        assert list(got.columns) == list(ref.columns), name
        _same(got.to_numpy(), ref.to_numpy())


# ---------------------------------------------------------------- 10. SLEAP video


def test_slp_moved_elsewhere_keeps_its_video(shared_data, tmp_path, monkeypatch):
    sio = pytest.importorskip("sleap_io")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    src = shared_data / "sleap-flies-clip/clip.slp"
    copy = convert(src, tmp_path / "out/clip_copy.slp")
    video = sio.load_slp(str(copy)).videos[0]
    assert video.exists()  # old: 'clip.mp4', relative to the old folder
    nc = convert(src, tmp_path / "out/clip.nc")
    assert Path(load(nc).attrs["video_path"]).is_file()


def test_dlc_file_without_its_video_names_the_dlc_video(tmp_path):
    sio = pytest.importorskip("sleap_io")
    src = save(_predictions(np.arange(5)), tmp_path / f"vid{SCORER}.h5")
    out = convert(src, tmp_path / "v.slp")
    assert sio.load_slp(str(out)).videos[0].filename == "vid.mp4"


def test_existing_round_trip_still_bit_exact(tmp_path):
    """The "worked well" list: DLC predictions through every format, bit for bit."""
    pytest.importorskip("ndx_pose")
    pytest.importorskip("sleap_io")
    src = save(_predictions(np.arange(30)), tmp_path / f"vid{SCORER}.h5")
    ref = read_labels(src)
    for name in ("x.nc", "x.nwb", "x.csv", "x.slp"):
        mid = convert(src, tmp_path / name)
        back = convert(mid, tmp_path / f"back_{name}{SCORER}.h5", to="DeepLabCut")
        got = read_labels(back)
        assert got.index.tolist() == ref.index.tolist(), name
        np.testing.assert_array_equal(
            got.xs("x", level="coords", axis=1), ref.xs("x", level="coords", axis=1)
        )
        np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())
