"""Project-level API: output names and the prediction path.

The verbs name their outputs with the model folder's DLC scorer name (one name
everywhere), and predict through the model folder's predictor.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from posekit.engine.api import analyze_videos, predict_frames, train_network
from posekit.engine.inference import analyze_video
from posekit.engine.model_folder import ModelFolder
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
    """Train a MobileNetV2-0.35 (barely) on a copy of the demo project (read-only)."""
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
    """Copy the trained project to a writable folder."""
    dst = tmp_path / trained.path.name
    shutil.copytree(trained.path, dst)
    return load_project(dst)


def test_pose_cfg_names_the_model(trained: Project) -> None:
    folder = ModelFolder.of(trained, 1).path
    assert folder == trained.model_dir(1) / "train"
    cfg = yaml.safe_load((folder / "pose_cfg.yaml").read_text())
    assert cfg["Task"] == "demo" and cfg["date"] == "Jan1"
    assert cfg["shuffle"] == 1 and cfg["trainingsetindex"] == 0
    assert cfg["train_fraction"] == trained.training_fractions[0]
    assert cfg["iteration (active-learning)"] == 0
    snapshot = folder / f"snapshot-{ITERATIONS}.keras"
    assert ModelFolder.at(snapshot).scorer(snapshot) == SCORER
    assert ModelFolder(folder).scorer() == SCORER  # newest snapshot
    assert ModelFolder.of(trained.path).scorer(0) == SCORER  # project folder, index


def test_predict_frames_takes_frames_of_any_size(trained: Project) -> None:
    import cv2

    frame = cv2.cvtColor(
        cv2.imread(str(next(trained.path.glob("labeled-data/*/*.png")))),
        cv2.COLOR_BGR2RGB,
    )
    small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2))
    both = predict_frames(trained, [frame, small, frame], batch_size=2)
    assert both.shape == (3, len(trained.bodyparts), 3)
    alone = predict_frames(trained, [small], batch_size=2)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-4)
    np.testing.assert_allclose(both[0], both[2], atol=1e-4)


def test_model_folder_predictor_and_analyze_videos_agree(
    project: Project, tmp_path: Path, video_clip
) -> None:
    video = video_clip(project.videos()[0], 16)
    folder = ModelFolder(project.model_dir(1) / "train")
    predictor = folder.predictor((240, 320), use_tflite=False)
    assert folder.scorer() == SCORER
    by_hand = analyze_video(
        predictor,
        video,
        scorer=folder.scorer(),
        bodyparts=folder.model_config().bodyparts,
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
    path = ModelFolder.of(project, 1).path / "pose_cfg.yaml"
    cfg = yaml.safe_load(path.read_text())
    for key in NAMING_KEYS:
        cfg.pop(key)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_old_model_folder_falls_back_to_the_project(
    project: Project, tmp_path: Path, video_clip
) -> None:
    pose_cfg = _make_old(project)
    before = pose_cfg.read_bytes()
    folder = ModelFolder(pose_cfg.parent)  # the project is found from the folder
    info = folder.info
    assert {k: info[k] for k in NAMING_KEYS} == {
        "Task": "demo",
        "date": "Jan1",
        "shuffle": 1,
        "train_fraction": project.training_fractions[0],
        "trainingsetindex": 0,
        "iteration (active-learning)": 0,
    }
    assert folder.scorer() == SCORER
    [out] = analyze_videos(
        project,
        [video_clip(project.videos()[0], 16)],
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
    assert ModelFolder(moved / "train").scorer() == SCORER
    info = ModelFolder(moved / "train").info
    assert info["shuffle"] == 1 and info["train_fraction"] == 0.8


def test_unparsable_pose_cfg_is_a_clear_error(project: Project) -> None:
    path = ModelFolder.of(project, 1).path / "pose_cfg.yaml"
    path.write_text("Task: [unclosed\n")
    with pytest.raises(ValueError, match="pose_cfg.yaml is not valid YAML"):
        ModelFolder(path.parent).info  # noqa: B018
    assert path.read_text() == "Task: [unclosed\n"


def test_analysis_says_which_stage_runs(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture, video_clip
) -> None:
    """Loading and the one-time TFLite conversion are named before the frames move."""
    from posekit.engine.api import AnalysisStage
    from posekit.engine.cli import main

    video = video_clip(project.videos()[0], 16)
    # the command line: the set-up steps on stderr, then the frames' bar
    assert (
        main(["analyze", str(project.path), str(video), "--dest", str(tmp_path)]) == 0
    )
    err = capsys.readouterr().err
    loading = err.index("posekit analyze: loading the model…")
    converting = err.index("posekit analyze: preparing the fast runtime (TFLite")
    assert loading < converting < err.index("16/16")
    # the API: stage events, the conversion only when it is not cached yet
    stages: list[AnalysisStage] = []
    other = shutil.copy(video, tmp_path / "clip2.avi")
    analyze_videos(
        project, [video, other], destfolder=tmp_path / "api", progress=False,
        on_stage=stages.append,
    )  # fmt: skip
    assert [(s.name, s.index, s.total) for s in stages] == [
        ("loading", 1, 2),
        ("analysing", 1, 2),
        ("analysing", 2, 2),  # same frame size: the same runtime
    ]
    assert str(stages[-1]) == "analysing video 2 of 2: clip2.avi"


def test_a_resume_with_nothing_left_to_train_says_so(tmp_path) -> None:
    from posekit.engine.api import TrainResult

    done = TrainResult(500, 500, "max_iterations", tmp_path / "s.keras", 2.5, tmp_path)
    assert str(done).startswith(
        "nothing to train: the snapshot is already at iteration 500"
    )
    assert "--iterations" in str(done) and "--fresh" in str(done)
    ran = TrainResult(800, 500, "max_iterations", tmp_path / "s.keras", 2.5, tmp_path)
    assert str(ran).startswith("trained to iteration 800 (from 500; max_iterations)")
    first = TrainResult(0, 0, "time_budget", None, None, tmp_path)
    assert str(first).startswith("trained to iteration 0")
