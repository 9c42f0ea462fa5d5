"""Analysis writes only inside the project that was opened; DLC finds posekit's model.

A copied project still lists the original's absolute video paths in ``video_sets``;
``analyze_videos`` must use the copy's own ``videos/`` and write there, and say when a
listed video lies outside the project.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from pathlib import Path

import pytest

from posekit.engine.api import analyze_videos, train_network
from posekit.engine.model_folder import ModelFolder
from posekit.engine.project import Project, load_project

ITERATIONS = 3


@pytest.fixture(scope="module")
def trained(demo_project_ro: Project, tmp_path_factory) -> Project:
    """Train a MobileNetV2-0.35 for a few iterations on a copy of the demo project."""
    dst = tmp_path_factory.mktemp("trained-own") / demo_project_ro.path.name
    shutil.copytree(demo_project_ro.path, dst)
    project = load_project(dst)
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=ITERATIONS,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    return project


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_training_writes_the_marker_deeplabcut_lists(trained: Project) -> None:
    train = ModelFolder.of(trained, 1).path
    markers = sorted(p.name for p in train.iterdir() if "index" in p.name)
    assert markers == [f"snapshot-{ITERATIONS}.index"]
    assert (train / f"snapshot-{ITERATIONS}.json").is_file()


def test_copied_project_analyses_its_own_videos(
    trained: Project, tmp_path: Path
) -> None:
    original = trained.path
    assert any(Path(k).is_absolute() for k in trained.video_sets)
    copy = load_project(shutil.copytree(original, tmp_path / original.name))
    assert copy.video_sets == trained.video_sets  # still names the original's videos
    before = _files(original / "videos")
    assert copy.source_videos() == [copy.path / "videos" / "session1.mp4"]
    [out] = analyze_videos(copy, progress=False, use_tflite=False)
    assert out.parent == copy.path / "videos"
    assert _files(original / "videos") == before  # nothing written in the original
    with open(out.with_name(out.stem + "_meta.pickle"), "rb") as fh:
        meta = pickle.load(fh)["data"]
    assert meta["cropping_parameters"] == [0, 320, 0, 240]
    assert meta["frame_dimensions"] == (320, 240)


def test_video_listed_outside_the_project(
    trained: Project, tmp_path: Path, caplog
) -> None:
    project = load_project(shutil.copytree(trained.path, tmp_path / "p"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    video = shutil.move(project.path / "videos" / "session1.mp4", elsewhere)
    project.cfg["video_sets"] = {str(video): {"crop": "0, 320, 0, 240"}}
    project.save()
    project = load_project(project.path)
    with caplog.at_level(logging.INFO, logger="posekit"):
        [out] = analyze_videos(project, progress=False, use_tflite=False)
    assert "lies outside the project" in caplog.text
    assert out.parent == project.path / "videos"  # not beside the foreign video
    assert _files(elsewhere) == {"session1.mp4"}


def test_a_folder_of_videos_is_analysed_video_by_video(
    trained: Project, tmp_path: Path
) -> None:
    """As DeepLabCut's analyze_videos with a folder: every video in it.

    Labelled videos and other files are left out; a folder without a video is a clear
    error.
    """
    from posekit.engine.cli import main

    session = tmp_path / "session42"
    session.mkdir()
    video = trained.path / "videos" / "session1.mp4"
    for name in ("a.mp4", "b.MP4", "a_p60_labeled.mp4"):
        shutil.copy(video, session / name)
    (session / "notes.txt").write_text("x")
    outputs = analyze_videos(trained, [session], progress=False, use_tflite=False)
    assert [p.name.split("DLC_")[0] for p in outputs] == ["a", "b"]
    assert all(p.parent == session for p in outputs)
    assert main(["analyze", str(trained.path), str(tmp_path / "none")]) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No video in the folder"):
        analyze_videos(trained, [tmp_path / "empty"], progress=False)


def test_a_batch_skips_done_videos_refuses_clashes_and_survives_a_bad_one(
    trained: Project, tmp_path: Path, video_clip, caplog, capsys
) -> None:
    """What a cluster batch needs (found by a user re-running a batch of videos).

    - a video analysed before with this network is not analysed again (DLC's rule),
      unless asked; it used to be redone and overwritten in silence;
    - two videos that would write the same file are refused before anything runs
      (the second used to overwrite the first's results);
    - a corrupt or empty video is left out and the others analysed; the command
      exits 2 at the end and names it (the batch used to stop at the bad video).
    """
    from posekit.engine.cli import main
    from posekit.engine.video import VideoError

    clip = video_clip(trained.path / "videos" / "session1.mp4", 6)
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("a.avi", "c.avi"):
        shutil.copy(clip, batch / name)
    (batch / "b.avi").write_bytes(clip.read_bytes()[:200])  # cut before a frame
    (batch / "e.avi").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        out = analyze_videos(trained, [batch], progress=False, use_tflite=False)
    assert [p.name.split("DLC_")[0] for p in out] == ["a", "c"]
    assert sorted(v.name for v in out.failed) == ["b.avi", "e.avi"]
    assert "0 bytes" in out.failed[batch / "e.avi"]
    assert "cannot be read and are left out" in caplog.text
    stamp = {p: p.stat().st_mtime_ns for p in out}
    again = analyze_videos(trained, [batch / "a.avi"], progress=False)
    assert list(again) == again.skipped == [out[0]]
    assert out[0].stat().st_mtime_ns == stamp[out[0]]  # not redone
    redo = analyze_videos(
        trained, [batch / "a.avi"], progress=False, use_tflite=False, overwrite=True
    )
    assert redo.skipped == [] and out[0].stat().st_mtime_ns > stamp[out[0]]
    # the command line: outputs printed, the bad videos named, exit status 2
    capsys.readouterr()
    assert main(["analyze", str(trained.path), str(batch), "--no-tflite"]) == 2
    printed = capsys.readouterr()
    assert printed.out.split() == [str(p) for p in out]
    assert "not analysed: " + str(batch / "b.avi") in printed.err
    # two videos named alike into one folder: refused, nothing written
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(clip, other / "a.avi")
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="would all be written to.*Nothing was"):
        analyze_videos(trained, [batch / "a.avi", other / "a.avi"], destfolder=dest)
    assert not dest.exists() or not any(dest.iterdir())
    with pytest.raises(VideoError, match="No video can be read"):
        analyze_videos(trained, [batch / "e.avi"], progress=False)


def test_older_predictions_are_used_with_a_warning(
    trained: Project, tmp_path: Path, caplog
) -> None:
    """extract-outliers on a video analysed by an older snapshot says so."""
    from posekit.engine.refinement import find_prediction_file

    video = shutil.copy(trained.path / "videos" / "session1.mp4", tmp_path / "s.mp4")
    old = tmp_path / "sDLC_mobnet_35_demoJan1shuffle1_1.h5"
    old.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        assert find_prediction_file(trained, video) == old
    assert "no predictions of the newest snapshot" in caplog.text
    assert old.name in caplog.text
    newest = tmp_path / f"s{ModelFolder.of(trained, 1).scorer()}.h5"
    newest.write_bytes(b"")
    caplog.clear()
    assert find_prediction_file(trained, video) == newest
    assert "newest snapshot" not in caplog.text


def test_config_snapshotindex_and_cropping_are_used(
    demo_project_ro: Project, tmp_path: Path, video_clip
) -> None:
    """DeepLabCut's snapshotindex (a number or 'all') and cropping: true (x1..y2).

    Both used to be ignored in silence: the newest snapshot was evaluated and the
    whole frame analysed.
    """
    import numpy as np
    import pandas as pd
    import yaml

    from posekit.engine.api import evaluate_network

    project = load_project(shutil.copytree(demo_project_ro.path, tmp_path / "p"))
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=2,
        save_interval=1,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )

    def configure(**keys):
        cfg = yaml.safe_load(project.config_path.read_text())
        cfg.update(keys)
        project.config_path.write_text(yaml.safe_dump(cfg))
        return load_project(project.path)

    first = configure(snapshotindex=0)
    table = evaluate_network(first)
    assert table["Training iterations:"].tolist() == [1]
    every = configure(snapshotindex="all")
    table = evaluate_network(every, plot=True)
    assert table["Training iterations:"].tolist() == [1, 2]
    shuffle_dir = every.evaluation_dir(1)
    assert sorted(p.name.rsplit("_", 1)[-1] for p in shuffle_dir.glob("Labeled*")) == [
        "snapshot-1",
        "snapshot-2",
    ]
    clip = video_clip(project.path / "videos" / "session1.mp4", 8)
    (out,) = analyze_videos(first, [clip], progress=False, use_tflite=False)
    assert out.name.endswith("shuffle1_1.h5")  # the scorer of snapshot 0
    box = {"x1": 40, "x2": 200, "y1": 30, "y2": 150}
    cropped = configure(snapshotindex=-1, cropping=True, **box)
    (out,) = analyze_videos(cropped, [clip], progress=False, use_tflite=False)
    # the mapping back to the full frame is test_inference's; here: the box is used
    xy = pd.read_hdf(out).to_numpy().reshape(len(pd.read_hdf(out)), -1, 3)[..., :2]
    assert 40 < np.median(xy[..., 0]) < 200 and 30 < np.median(xy[..., 1]) < 150
    meta = pickle.loads(out.with_name(out.stem + "_meta.pickle").read_bytes())
    assert meta["data"]["cropping"] and meta["data"]["cropping_parameters"] == [
        40,
        200,
        30,
        150,
    ]
    outside = configure(x2=5000)
    with pytest.raises(ValueError, match="reaches outside"):
        analyze_videos(outside, [clip], progress=False, overwrite=True)


def test_later_steps_find_the_predictions_of_a_destfolder_and_a_shuffle(
    trained: Project, tmp_path: Path, video_clip
) -> None:
    """DeepLabCut's destfolder and shuffle in filter_predictions and labelled videos.

    They were refused (TypeError), and the newest file of any network beside the
    video was taken.
    """
    import os

    from posekit.engine.api import create_labeled_video, filter_predictions

    clip = shutil.copy(
        video_clip(trained.path / "videos" / "session1.mp4", 6), tmp_path / "c.avi"
    )
    dest = tmp_path / "results"
    (out,) = analyze_videos(trained, [clip], destfolder=dest, progress=False)
    other = dest / "cDLC_mobnet_35_otherJan1shuffle9_7.h5"  # another network, newer
    shutil.copy(out, other)  # (same iteration, trained longer: 7 iterations, not 3)
    shutil.copy(
        out.with_name(f"{out.stem}_meta.pickle"), f"{dest / other.stem}_meta.pickle"
    )
    os.utime(other, (out.stat().st_mtime - 60,) * 2)  # the newest model, not file
    (filtered,) = filter_predictions(trained, [clip], destfolder=dest, shuffle=1)
    assert filtered == out.with_name(out.stem + "_filtered.h5")
    (newest,) = filter_predictions(trained, [clip], destfolder=dest)  # posekit's
    assert newest.name.startswith("cDLC_mobnet_35_other")
    (labeled,) = create_labeled_video(
        trained, [clip], destfolder=dest, shuffle=1, progress=False
    )
    assert labeled.parent == dest and labeled.name.startswith(out.stem)


def test_a_listed_video_found_nowhere_is_named_and_fails_the_batch(
    trained: Project, tmp_path: Path, caplog, capsys
) -> None:
    """QA s15: a video_sets entry on a moved mount was dropped in silence, exit 0."""
    from posekit.engine.cli import main

    project = load_project(shutil.copytree(trained.path, tmp_path / "p"))
    gone = "/oldmount/lab/videos/mouse7.mp4"
    project.cfg["video_sets"][gone] = {"crop": "0, 320, 0, 240"}
    project.save()
    project = load_project(project.path)
    with caplog.at_level(logging.WARNING):
        out = analyze_videos(project, progress=False, use_tflite=False)
    assert [p.name.split("DLC_")[0] for p in out] == ["session1"]  # the others run
    why = out.failed[Path(gone)]
    assert gone in why and str(project.path / "videos" / "mouse7.mp4") in why
    assert f"{gone} is not analysed" in caplog.text
    capsys.readouterr()
    assert main(["analyze", str(project.path), "--no-tflite"]) == 2
    assert f"not analysed: {gone}: listed in config.yaml" in capsys.readouterr().err


def test_an_analysis_locks_its_outputs_so_other_videos_run_together(
    trained: Project, tmp_path: Path, video_clip, capsys
) -> None:
    """QA s15: `posekit analyze PROJECT video_$ID.mp4` array tasks were refused.

    The lock lies beside the output (in ``destfolder``), not in the project; the
    same output twice is refused, and the command exits with 75 (try again later).
    """
    from posekit.engine.cli import main
    from posekit.engine.locks import (
        JobLockError,
        lock_path,
        output_lock,
        output_lock_path,
    )

    clip = video_clip(trained.path / "videos" / "session1.mp4", 6)
    for name in ("v1.avi", "v2.avi"):
        shutil.copy(clip, tmp_path / name)
    folder = ModelFolder.of(trained, 1)
    scorer = folder.scorer(folder.snapshot(-1)[1])
    dest = tmp_path / "out"
    seen: list[tuple[bool, bool]] = []

    def where(stage) -> None:
        mine = output_lock_path(dest / f"v2{scorer}.h5")
        seen.append((mine.is_file(), lock_path(trained.path, "analysis").exists()))

    common = {"destfolder": dest, "progress": False, "use_tflite": False}
    with output_lock(dest / f"v1{scorer}.h5", "analyze_videos"):  # task 1 runs
        [out] = analyze_videos(trained, [tmp_path / "v2.avi"], on_stage=where, **common)
        assert out.is_file() and seen and all(s == (True, False) for s in seen)
        with pytest.raises(
            JobLockError, match="An analysis already runs that writes v1"
        ):
            analyze_videos(trained, [tmp_path / "v1.avi"], **common)
        capsys.readouterr()
        cli = ["analyze", str(trained.path), str(tmp_path / "v1.avi"), "--no-tflite"]
        assert main([*cli, "--dest", str(dest)]) == 75
        assert (
            "posekit analyze: error: An analysis already runs"
            in capsys.readouterr().err
        )
    assert not output_lock_path(out).exists()


def test_conversions_of_a_read_only_model_go_into_the_cache(
    trained: Project, tmp_path: Path, monkeypatch
) -> None:
    """QA s15: a read-only project could not be analysed into --dest elsewhere."""
    folder = ModelFolder.of(trained, 1)
    train = folder.snapshot(-1)[1].parent
    assert folder.tflite_path(-1, (24, 32), 8).parent == train
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == train else real(p, mode)
    )
    cached = folder.tflite_path(-1, (24, 32), 8)
    assert cached.parent.parent == tmp_path / "tflite"
    assert cached.name == f"snapshot-{ITERATIONS}-24x32-b8-u8.tflite"
