"""Project-level API: the model folder names the model (one DLC scorer name everywhere)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from posekit.engine.api import (
    analyze_videos,
    load_predictor,
    model_info,
    scorer_name,
    train_dir,
    train_network,
)
from posekit.engine.inference import analyze_video
from posekit.engine.project import Project, load_project

ITERATIONS = 3
# DLC 2.x: <video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5 (demo: Task demo, date
# Jan1; mobilenet_v2_0.35 is DLC's mobnet_35)
SCORER = f"DLC_mobnet_35_demoJan1shuffle1_{ITERATIONS}"
NAMING_KEYS = (
    "Task",
    "date",
    "shuffle",
    "train_fraction",
    "trainingsetindex",
    "iteration (active-learning)",
)


@pytest.fixture(scope="module")
def trained(demo_project_ro: Project, tmp_path_factory) -> Project:
    """The demo project with a (barely) trained MobileNetV2-0.35 (read-only)."""
    dst = tmp_path_factory.mktemp("trained") / demo_project_ro.path.name
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


@pytest.fixture
def project(trained: Project, tmp_path: Path) -> Project:
    """A writable copy of the trained project."""
    dst = tmp_path / trained.path.name
    shutil.copytree(trained.path, dst)
    return load_project(dst)


def _short_video(project: Project, tmp_path: Path) -> Path:
    """The first 16 frames of the demo video (analysis stays quick)."""
    import cv2

    src = project.videos()[0]
    cap = cv2.VideoCapture(str(src))
    out = tmp_path / "clip.avi"
    writer = None
    for _ in range(16):
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


def test_pose_cfg_names_the_model(trained: Project) -> None:
    folder = train_dir(trained, 1)
    cfg = yaml.safe_load((folder / "pose_cfg.yaml").read_text())
    assert cfg["Task"] == "demo" and cfg["date"] == "Jan1"
    assert cfg["shuffle"] == 1 and cfg["trainingsetindex"] == 0
    assert cfg["train_fraction"] == trained.training_fractions[0]
    assert cfg["iteration (active-learning)"] == 0
    snapshot = folder / f"snapshot-{ITERATIONS}.keras"
    assert scorer_name(snapshot) == SCORER
    assert scorer_name(folder) == SCORER  # newest snapshot


def test_load_predictor_and_analyze_videos_agree(
    project: Project, tmp_path: Path
) -> None:
    video = _short_video(project, tmp_path)
    predictor, info = load_predictor(
        train_dir(project, 1), frame_shape=(240, 320), use_tflite=False
    )
    assert info["scorer"] == SCORER
    by_hand = analyze_video(
        predictor,
        video,
        scorer=info["scorer"],
        bodyparts=info["bodyparts"],
        destfolder=tmp_path / "a",
        progress=False,
    )
    [by_api] = analyze_videos(
        project, [video], destfolder=tmp_path / "b", use_tflite=False, progress=False
    )
    assert by_hand.name == by_api.name == f"clip{SCORER}.h5"
    a, b = pd.read_hdf(by_hand), pd.read_hdf(by_api)
    assert list(b.columns.get_level_values("scorer").unique()) == [SCORER]
    pd.testing.assert_frame_equal(a, b)
    with open(tmp_path / "b" / f"clip{SCORER}_meta.pickle", "rb") as fh:
        meta = pickle.load(fh)["data"]
    assert meta["Scorer"] == SCORER
    assert meta["training set fraction"] == project.training_fractions[0]
    assert meta["iteration (active-learning)"] == 0
    assert meta["DLC-model-config file"]["Task"] == "demo"


def _make_old(project: Project) -> Path:
    """Strip what names the model from pose_cfg.yaml, as models trained before had it."""
    path = train_dir(project, 1) / "pose_cfg.yaml"
    cfg = yaml.safe_load(path.read_text())
    for key in NAMING_KEYS:
        cfg.pop(key)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_old_model_folder_falls_back_to_the_project(
    project: Project, tmp_path: Path
) -> None:
    pose_cfg = _make_old(project)
    before = pose_cfg.read_bytes()
    folder = pose_cfg.parent
    info = model_info(folder)
    assert {k: info[k] for k in NAMING_KEYS} == {
        "Task": "demo",
        "date": "Jan1",
        "shuffle": 1,
        "train_fraction": project.training_fractions[0],
        "trainingsetindex": 0,
        "iteration (active-learning)": 0,
    }
    assert scorer_name(folder) == SCORER
    _, info = load_predictor(folder, frame_shape=(240, 320), use_tflite=False)
    assert info["scorer"] == SCORER
    [out] = analyze_videos(
        project,
        [_short_video(project, tmp_path)],
        destfolder=tmp_path / "out",
        use_tflite=False,
        progress=False,
    )
    assert out.name == f"clip{SCORER}.h5"
    assert pose_cfg.read_bytes() == before  # reading never rewrites it


def test_old_model_folder_without_its_project(project: Project, tmp_path: Path) -> None:
    """A model folder copied out of its project: DLC's folder names still name it."""
    _make_old(project)
    model_dir = project.model_dir(1)  # .../iteration-0/demoJan1-trainset80shuffle1
    moved = tmp_path / "elsewhere" / "iteration-0" / model_dir.name
    shutil.copytree(model_dir, moved)
    shutil.rmtree(project.path)  # project_path in pose_cfg.yaml now leads nowhere
    assert scorer_name(moved / "train") == SCORER
    info = model_info(moved / "train")
    assert info["shuffle"] == 1 and info["train_fraction"] == 0.8


def test_unparsable_pose_cfg_is_a_clear_error(project: Project) -> None:
    path = train_dir(project, 1) / "pose_cfg.yaml"
    path.write_text("Task: [unclosed\n")
    with pytest.raises(ValueError, match="pose_cfg.yaml is not valid YAML"):
        model_info(path.parent)
    assert path.read_text() == "Task: [unclosed\n"
