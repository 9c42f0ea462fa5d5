"""Fixtures shared by the engine tests: a small synthetic demo project, DLC files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.project import Project, load_project

#: Size of the shared demo project (frames in the video, labelled frames).
DEMO_FRAMES = 120
DEMO_LABELED = 12


#: The scorer of the predictions :func:`fake_analysis` writes.
FAKE_SCORER = "DLC_effnet_lite0_demoJan1shuffle1_500"


@pytest.fixture
def fake_analysis():
    """Write a demo video's ground truth as its predictions, with errors at frames.

    A factory: ``fake_analysis(project, {frame: dx})`` writes
    ``session1<FAKE_SCORER>.h5`` beside the video (likelihood 0.95; the third
    bodypart moved by ``dx`` px in x at each listed frame) as ``analyze_videos``
    would name it, and returns the truth ``(T, K, 2)``.
    """
    from posekit.engine.demo import load_ground_truth
    from posekit.engine.io.dlc import predictions_frame, write_predictions

    def write(project: Project, errors: dict[int, float]) -> np.ndarray:
        truth, _ = load_ground_truth(project, "session1")
        xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.95)], -1)
        for f, dx in errors.items():
            xyp[f, 2, 1] += dx
        video = project.videos()[0]
        write_predictions(
            predictions_frame(xyp, FAKE_SCORER, project.bodyparts),
            video.with_name(video.stem + FAKE_SCORER + ".h5"),
        )
        return truth

    return write


@pytest.fixture(scope="session")
def demo_project_ro(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Build the demo project once per session. Do not modify it (use demo_project)."""
    root = tmp_path_factory.mktemp("demo-ro")
    return make_demo_project(root, n_frames=DEMO_FRAMES, n_labeled=DEMO_LABELED)


@pytest.fixture
def demo_project(demo_project_ro: Project, tmp_path: Path) -> Project:
    """Copy the demo project for one test (writable)."""
    dst = tmp_path / demo_project_ro.path.name
    shutil.copytree(demo_project_ro.path, dst)
    return load_project(dst)


@pytest.fixture
def openfield_copy(openfield_dir: Path, tmp_path: Path) -> Path:
    """Copy the real openfield project, writable (the video is linked, not copied)."""
    dst = tmp_path / openfield_dir.name
    shutil.copytree(openfield_dir, dst, ignore=shutil.ignore_patterns("videos"))
    (dst / "videos").mkdir()
    for video in (openfield_dir / "videos").iterdir():
        (dst / "videos" / video.name).symlink_to(video)
    for path in [dst, *dst.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return dst


def _dlc_labels(individuals: list[str], bodyparts: list[str]) -> pd.DataFrame:
    """Make four labelled frames as DeepLabCut keeps them (one left unlabelled)."""
    columns = pd.MultiIndex.from_product(
        [["Tester"], *([individuals] if individuals else []), bodyparts, ["x", "y"]],
        names=[
            "scorer",
            *(["individuals"] if individuals else []),
            "bodyparts",
            "coords",
        ],
    )
    values = np.arange(4 * len(columns), dtype=float).reshape(4, len(columns)) + 0.5
    values[1, 2:4] = np.nan  # one bodypart missing in img001
    values[2] = np.nan  # img002 not labelled at all
    rows = [f"labeled-data/video/img{i:03d}.png" for i in range(4)]
    return pd.DataFrame(values, index=rows, columns=columns)


@pytest.fixture(scope="session")
def dlc_csv_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write DeepLabCut label CSVs in each layout DLC writes, with pandas as DLC does.

    Single- and multi-animal (4 header rows, with a ``single`` individual for unique
    bodyparts), rows as one path string (DLC < 2.2) or as three index columns.
    """
    folder = tmp_path_factory.mktemp("dlc-csv") / "labeled-data" / "video"
    folder.mkdir(parents=True)
    frames = {
        "single": _dlc_labels([], ["A", "B", "C"]),
        "multi": _dlc_labels(["Animal1", "Animal2"], ["A", "B", "C"]),
        "multi_unique": pd.concat(
            [
                _dlc_labels(["Animal1", "Animal2"], ["A", "B", "C"]),
                _dlc_labels(["single"], ["D", "E"]),
            ],
            axis=1,
        ),
    }
    paths = {}
    for name, df in frames.items():
        paths[name] = folder / f"{name}.csv"
        df.to_csv(paths[name])
        rows = pd.MultiIndex.from_tuples([tuple(p.split("/")) for p in df.index])
        paths[f"{name}_v2"] = folder / f"{name}_v2.csv"
        df.set_axis(rows, axis=0).to_csv(paths[f"{name}_v2"])
    return paths


@pytest.fixture(scope="session")
def tiny_trained_copy(demo_project_ro: Project, tmp_path_factory):
    """Make a copy of the demo project with a tiny network trained for 3 iterations.

    A factory: ``tiny_trained_copy(name)`` gives a fresh copy (its own folder) each
    call, for the modules that analyse or export with a real but quick model.
    """
    from posekit.engine.api import train_network

    def make(name: str) -> Project:
        dst = tmp_path_factory.mktemp(name) / demo_project_ro.path.name
        shutil.copytree(demo_project_ro.path, dst)
        project = load_project(dst)
        train_network(
            project,
            backbone="mobilenet_v2_0.35",
            max_iterations=3,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
            eval_interval=0,
        )
        return project

    return make


@pytest.fixture(scope="module")
def tiny_trained_once(tiny_trained_copy) -> Project:
    """Return the demo with the tiny network trained, once per test module (read only)."""
    return tiny_trained_copy("trained-once")


@pytest.fixture
def tiny_trained_writable(tiny_trained_once: Project, tmp_path: Path) -> Project:
    """Return a copy of :func:`tiny_trained_once` for one test, to change at will."""
    dst = tmp_path / tiny_trained_once.path.name
    shutil.copytree(tiny_trained_once.path, dst)
    return load_project(dst)


@pytest.fixture(scope="session")
def video_clip(tmp_path_factory):
    """Cut a video's first frames into an MJPG ``.avi`` (every frame a keyframe).

    A factory: ``video_clip(video, n_frames)`` returns the clip's path.
    """
    import cv2

    def cut(video: Path, n_frames: int) -> Path:
        out = tmp_path_factory.mktemp("clip") / "clip.avi"
        cap = cv2.VideoCapture(str(video))
        writer = None
        for _ in range(n_frames):
            ok, frame = cap.read()
            assert ok
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(
                    str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h)
                )
            writer.write(frame)
        writer.release()
        cap.release()
        return out

    return cut
