"""The project verbs on a multi-animal project: train, evaluate, analyse, score tracks."""

from __future__ import annotations

import logging
import pickle

import pandas as pd
import pytest

from posekit.engine.api import analyze_videos, evaluate_network, train_network
from posekit.engine.demo import make_demo_project
from posekit.engine.multianimal.api import evaluate_tracks
from posekit.engine.multianimal.outputs import read_full_pickle, read_tracklets_pickle

pytestmark = pytest.mark.slow


def test_train_evaluate_analyse_a_two_animal_demo(tmp_path, monkeypatch, caplog):
    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    result = train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        save_interval_s=0,
    )
    assert result.iteration == 2
    cfg = result.train_dir / "pose_cfg.yaml"
    assert "partaffinityfield_graph" in cfg.read_text()
    table = evaluate_network(project)
    assert {"Test mAP", "Test mAR", "Test error(px)", "Train mAP"} <= set(table.columns)
    assert 0.0 <= float(table["Test mAP"].iloc[0]) <= 1.0
    combined = pd.read_csv(
        project.path
        / "evaluation-results"
        / "iteration-0"
        / "CombinedEvaluation-results.csv"
    )
    assert len(combined) == 1
    (tracks,) = analyze_videos(project, destfolder=tmp_path / "out", progress=False)
    assert tracks.name.endswith("_el.h5")
    stem = str(tracks)[: -len("_el.h5")]
    meta, dets = read_full_pickle(stem + "_full.pickle")
    assert len(dets) == 24 and meta["PAFgraph"] and meta["nframes"] == 24
    read_tracklets_pickle(stem + "_el.pickle")
    with open(stem + "_meta.pickle", "rb") as fh:
        assert pickle.load(fh)["data"]["individuals"] == ["mouse1", "mouse2"]
    df = pd.read_hdf(tracks, "tracks")
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    scores = evaluate_tracks(
        tracks, project.path / "ground-truth" / "session1_keypoints.h5"
    )
    assert {"id_switches", "idf1", "frames_map"} <= set(scores)
    _batch_checks(project, tracks, tmp_path)
    _restitch(project, tracks, tmp_path, monkeypatch, caplog)
    _images(project, tmp_path)
    # one animal per frame: live prediction and the model file refuse, saying why
    from posekit.engine.export import export_model
    from posekit.engine.live import open_live

    with pytest.raises(ValueError, match="multi-animal model.*posekit analyze"):
        open_live(project.path, (240, 320))
    with pytest.raises(ValueError, match="multi-animal model.*posekit analyze"):
        export_model(project, tmp_path / "ma.posekit.zip")
    assert not list(tmp_path.glob("ma*.zip"))
    # the training app's worst test frames: each labelled animal beside its match
    from posekit.widgets.worst_frames import find_worst_frames

    worst = find_worst_frames(project, 1, 1, predict=None)
    assert len(worst) == 1 and worst[0].png.startswith(b"\x89PNG")


def _batch_checks(project, tracks, tmp_path):
    """Check that the checks of a single-animal batch hold for several animals.

    A rerun analysed every video again and overwrote its tracks; an unreadable video
    stopped the batch; ``--shard``, ``--cluster``, int8 and ``--scale`` were ignored
    without a word (every task of a job array analysed every video into the same
    files).
    """
    from posekit.engine.video import VideoError

    before = tracks.stat().st_mtime_ns
    again = analyze_videos(project, destfolder=tmp_path / "out", progress=False)
    assert list(again) == [tracks] and again.skipped == [tracks]
    assert tracks.stat().st_mtime_ns == before
    redone = analyze_videos(
        project, destfolder=tmp_path / "out", progress=False, overwrite=True
    )
    assert redone.skipped == [] and tracks.stat().st_mtime_ns != before
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    video = project.source_videos()[0]
    mixed = analyze_videos(
        project, [video, broken], destfolder=tmp_path / "out", progress=False
    )
    assert list(mixed) == [tracks] and list(mixed.failed) == [broken]
    with pytest.raises(VideoError, match="No video can be read"):
        analyze_videos(project, [broken], progress=False)
    twin = tmp_path / "twin" / video.name
    twin.parent.mkdir()
    twin.write_bytes(video.read_bytes())
    with pytest.raises(ValueError, match="would all be written to"):
        analyze_videos(project, [video, twin], destfolder=tmp_path / "o2")
    for option in ({"shard": (0, 2)}, {"precision": "int8"}, {"scale": 0.5}):
        with pytest.raises(ValueError, match="single-animal projects only"):
            analyze_videos(project, destfolder=tmp_path / "o3", **option)
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
    # the tracks' frame rate comes from the analysis' _meta.pickle
    from posekit.engine.io import load_poses

    assert load_poses(tracks).attrs["fps"] == pytest.approx(project_fps(video))


def _restitch(project, tracks, tmp_path, monkeypatch, caplog):
    """Check that another number of animals re-stitches the detections, no network.

    ``posekit analyze PROJECT --animals 3`` on an analysed video kept the 2-animal
    tracks and said only that the video was analysed before (QA s16, finding 6).
    """
    import posekit.engine.multianimal.api as ma

    def no_network(*args, **kwargs):
        raise AssertionError("the network ran again")

    monkeypatch.setattr(ma, "multianimal_predictor", no_network)
    stem = str(tracks)[: -len("_el.h5")]
    full = tracks.with_name(tracks.name.replace("_el.h5", "_full.pickle"))
    before = full.stat().st_mtime_ns
    out = analyze_videos(
        project, destfolder=tmp_path / "out", progress=False, n_tracks=3
    )
    assert list(out) == [tracks] and out.skipped == []
    df = pd.read_hdf(tracks, "tracks")
    assert list(dict.fromkeys(df.columns.get_level_values("individuals"))) == [
        "mouse1",
        "mouse2",
        "ind3",
    ]
    assert full.stat().st_mtime_ns == before  # the detections were only read
    read_tracklets_pickle(stem + "_el.pickle")
    # the same number again: analysed before, skipped
    again = analyze_videos(
        project, destfolder=tmp_path / "out", progress=False, n_tracks=3
    )
    assert again.skipped == [tracks]
    # another tracker: tracked from the same detections
    (boxes,) = analyze_videos(
        project, destfolder=tmp_path / "out", progress=False, track_method="box"
    )
    assert boxes.name.endswith("_bx.h5") and boxes.is_file()
    assert len(pd.read_hdf(boxes, "tracks")) == len(df)
    # one animal: "into 1 animal" (it said "into 1 animals", QA s22 madlc finding 6)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        (one,) = analyze_videos(
            project, destfolder=tmp_path / "out", progress=False, n_tracks=1
        )
    assert one == tracks
    said = [r.getMessage() for r in caplog.records if "re-stitched" in r.getMessage()]
    assert said == [
        f"{project.source_videos()[0].name}: analysed before with this network into "
        f"3 animals; re-stitched its detections ({full.name}) into 1 animal without "
        "running the network again (--overwrite analyses it again)"
    ]
    monkeypatch.undo()
    meta, _ = read_full_pickle(stem + "_full.pickle")
    assert meta["nms radius"] == 5.0 and meta["nms distance"] > 0


def _images(project, tmp_path):
    """Check a folder of images: each image's animals in the individuals' columns."""
    import cv2

    from posekit.engine.image_analysis import analyze_images
    from posekit.engine.video import VideoReader

    folder = tmp_path / "stills"
    folder.mkdir()
    with VideoReader(project.source_videos()[0]) as reader:
        for i, frame in reader.iter_frames(0, 3):
            cv2.imwrite(
                str(folder / f"f{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            )
    (h5,) = analyze_images(project, folder, progress=False, plot=True)
    df = pd.read_hdf(h5)
    assert df.index.tolist() == ["f0.png", "f1.png", "f2.png"]
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(df.columns.get_level_values("individuals"))) == [
        "mouse1",
        "mouse2",
    ]
    meta = pickle.loads(h5.with_name(h5.stem + "_meta.pickle").read_bytes())["data"]
    assert meta["individuals"] == ["mouse1", "mouse2"] and meta["nframes"] == 3
    assert len(list(h5.with_name(h5.stem + "_labeled").glob("*.png"))) == 3
    with pytest.raises(ValueError, match="single-animal projects only"):
        analyze_images(project, folder, scale=0.5, overwrite=True)


def project_fps(video):
    """Return the video's frame rate, as OpenCV reads it."""
    from posekit.engine.video import VideoReader

    with VideoReader(video) as reader:
        return reader.fps


def test_after_a_merge_training_starts_from_the_previous_model(tmp_path, caplog):
    """The refinement loop of several animals: iteration 1 starts from iteration 0.

    It started from the backbone's ImageNet weights (the multi-animal path ignored
    ``init_from``), so refined frames did not fine-tune the model the user had.
    """
    import logging

    import numpy as np

    from posekit.engine.demo import load_ground_truth
    from posekit.engine.labels import LabelStore
    from posekit.engine.multianimal.labels import slot_name
    from posekit.engine.refinement import merge_datasets
    from posekit.engine.video import extract_frames

    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    tiny = {"max_iterations": 2, "batch_size": 2, "crop_size": (64, 64)}
    first = train_network(
        project, backbone="mobilenet_v2_0.35", weights=None, progress=False, **tiny
    )
    # a refined frame: extracted and labelled from the ground truth
    truth, _ = load_ground_truth(project, "session1")
    (image,) = extract_frames(project, project.videos()[0], indices=[17])
    store = LabelStore(project, "session1")
    frame = f"labeled-data/session1/{image.name}"
    store.apply(
        frame,
        {
            slot_name(a, b): tuple(truth[17, i, j])
            for i, a in enumerate(project.individuals)
            for j, b in enumerate(project.multianimal_bodyparts)
        },
    )
    assert merge_datasets(project).iteration == 1
    with caplog.at_level(logging.INFO, logger="posekit"):
        second = train_network(project, progress=False, **tiny)
    assert "iteration-1" in str(second.train_dir)
    assert f"training starts from the weights of {first.snapshot}" in caplog.text
    cfg = (second.train_dir / "pose_cfg.yaml").read_text()
    assert f"init_weights: {first.snapshot.with_suffix('')}" in cfg
    assert "net_type: mobilenet_v2_0.35" in cfg  # the previous model's backbone
    assert np.isfinite(second.test_error_px)
