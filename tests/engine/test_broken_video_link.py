"""A video that is a broken symbolic link is named as one (QA s24 paths #7).

A Mac's link to ``/Volumes/lab/videos/session1.mp4`` with that disk not mounted was
reported as "Video not found: …/videos/session1.mp4", a path ``ls`` shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from posekit.engine.api import _missing_listed_videos
from posekit.engine.cli import main
from posekit.engine.project import load_project

TARGET = "/Volumes/lab-s24-not-mounted/videos/session1.mp4"


@pytest.fixture
def linked(tiny_trained_writable):
    """Make the demo's video a link to an unmounted disk, listed so in config.yaml."""
    demo_project = tiny_trained_writable  # trained: analyze gets to the video
    video = demo_project.path / "videos" / "session1.mp4"
    video.unlink()
    video.symlink_to(TARGET)
    cfg_path = demo_project.config_path
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["video_sets"] = {TARGET: next(iter(cfg["video_sets"].values()))}
    cfg_path.write_text(yaml.safe_dump(cfg))
    return load_project(demo_project.path), video


def test_analyze_says_the_link_is_broken_and_where_it_points(linked, capsys) -> None:
    project, video = linked
    assert not Path(TARGET).exists()
    assert main(["analyze", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert f"{video} is a broken link to {TARGET}" in err
    assert "Video not found" not in err


def test_missing_listed_video_names_the_broken_link(linked) -> None:
    project, video = linked
    (why,) = _missing_listed_videos(project).values()
    assert f"looked at {TARGET} and {video}; {video} is a broken link to {TARGET}" in (
        why
    )


def test_the_video_reader_names_a_broken_link(tmp_path) -> None:
    """extract-frames, label, labeled-video: the reader said 'Video not found'."""
    from posekit.engine.video import VideoError, VideoReader

    link = tmp_path / "m1.mp4"
    link.symlink_to("/Volumes/lab/videos/m1.mp4")
    with pytest.raises(VideoError) as err:
        VideoReader(link)
    assert "is a broken link to /Volumes/lab/videos/m1.mp4" in str(err.value)
    assert "Video not found" not in str(err.value)
    with pytest.raises(VideoError, match="Video not found"):
        VideoReader(tmp_path / "absent.mp4")
