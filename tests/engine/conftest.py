"""Fixtures shared by the engine tests: a small synthetic demo project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.project import Project, load_project

#: Size of the shared demo project (frames in the video, labelled frames).
DEMO_FRAMES = 120
DEMO_LABELED = 12


@pytest.fixture(scope="session")
def demo_project_ro(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The demo project built once per session. Do not modify it (use demo_project)."""
    root = tmp_path_factory.mktemp("demo-ro")
    return make_demo_project(root, n_frames=DEMO_FRAMES, n_labeled=DEMO_LABELED)


@pytest.fixture
def demo_project(demo_project_ro: Project, tmp_path: Path) -> Project:
    """A fresh, writable copy of the demo project for one test."""
    dst = tmp_path / demo_project_ro.path.name
    shutil.copytree(demo_project_ro.path, dst)
    return load_project(dst)


@pytest.fixture
def openfield_copy(openfield_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the real openfield project (the video is linked, not copied)."""
    dst = tmp_path / openfield_dir.name
    shutil.copytree(openfield_dir, dst, ignore=shutil.ignore_patterns("videos"))
    (dst / "videos").mkdir()
    for video in (openfield_dir / "videos").iterdir():
        (dst / "videos" / video.name).symlink_to(video)
    for path in [dst, *dst.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return dst
