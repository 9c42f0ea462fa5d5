"""Analysis writes only inside the project that was opened; DLC finds posekit's model.

A copied project still lists the original's absolute video paths in ``video_sets``;
``analyze_videos`` must use the copy's own ``videos/`` and write there, and say when a
listed video lies outside the project.
"""

from __future__ import annotations

import logging
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
