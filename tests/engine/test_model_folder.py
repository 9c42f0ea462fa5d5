"""The model folder: snapshots listed and verified, naming, loading, predictors.

Also the TFLite cache; all on snapshot files written here (no training).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from posekit.engine.model_folder import (
    MODEL_KEYS,
    SNAPSHOT_FORMAT,
    ModelFolder,
    Snapshot,
    SnapshotError,
    dlc_scorer_name,
    file_sha256,
    model_naming,
)
from posekit.engine.project import Project

BODYPARTS = ("nose", "tail")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """Build a small untrained pose model and save it as a ``.keras`` file."""
    from posekit.engine.models.pose_model import (
        PoseModelConfig,
        build_pose_model,
        save_pose_model,
    )

    config = PoseModelConfig(
        bodyparts=BODYPARTS, backbone="mobilenet_v2_0.35", weights=None
    )
    model = build_pose_model(config, (None, None, 3))
    path = save_pose_model(model, tmp_path_factory.mktemp("model") / "m.keras")
    return model, path


def _write_snapshot(folder: Path, iteration: int, keras_file: Path, config) -> None:
    """Write a snapshot as the Trainer does: model, optimizer, then the metadata."""
    model_path = folder / f"snapshot-{iteration}.keras"
    opt_path = folder / f"snapshot-{iteration}.optimizer.npz"
    shutil.copy(keras_file, model_path)
    np.savez(opt_path, v0=np.arange(3.0))
    meta = {
        "format": SNAPSHOT_FORMAT,
        "iteration": iteration,
        "model_file": model_path.name,
        "model_sha256": file_sha256(model_path),
        "optimizer_file": opt_path.name,
        "optimizer_sha256": file_sha256(opt_path),
        "model_config": config.to_dict(),
    }
    (folder / f"snapshot-{iteration}.json").write_text(json.dumps(meta))


@pytest.fixture
def folder(tmp_path: Path, saved_model) -> ModelFolder:
    """Make a ``train/`` folder with snapshots 5, 20 and 100, and files that are none."""
    model, keras_file = saved_model
    train = tmp_path / "train"
    train.mkdir()
    for it in (5, 20, 100):
        _write_snapshot(train, it, keras_file, model.pose_config)
    shutil.copy(keras_file, train / "snapshot-300.keras")  # no metadata: not saved
    (train / "snapshot-20-64x96-b2-u8.tflite").write_bytes(b"cache")
    (train / "learning_stats.csv").write_text("iteration\n")
    return ModelFolder(train)


def test_snapshots_are_listed_oldest_first_by_their_metadata(folder) -> None:
    p = folder.path
    assert folder.snapshots() == [
        (5, p / "snapshot-5.keras"),
        (20, p / "snapshot-20.keras"),
        (100, p / "snapshot-100.keras"),  # by number, not by name
    ]
    assert folder.snapshot() == (100, p / "snapshot-100.keras")  # DLC snapshotindex
    assert folder.snapshot(0) == (5, p / "snapshot-5.keras")
    with pytest.raises(IndexError, match=r"index 3 out of range.*\[5, 20, 100\]"):
        folder.snapshot(3)
    assert ModelFolder(p / "absent").snapshots() == []
    empty = ModelFolder(p.parent / "empty")
    empty.path.mkdir()
    with pytest.raises(FileNotFoundError, match="Train first"):
        empty.snapshot()
    assert ModelFolder.at(p / "snapshot-20.keras").path == p
    assert ModelFolder.at(p).path == p


def test_latest_skips_corrupt_snapshots_and_load_verifies(folder, caplog) -> None:
    newest = folder.path / "snapshot-100.keras"
    newest.write_bytes(newest.read_bytes()[:2000])  # truncated
    with caplog.at_level(logging.WARNING, logger="posekit"):
        snap = folder.latest()
    assert snap is not None and snap.iteration == 20
    assert snap.bodyparts == BODYPARTS
    assert "skipping snapshot snapshot-100.json" in caplog.text
    assert "checksum" in caplog.text
    assert "skipping snapshot-300.keras: no metadata" in caplog.text
    assert folder.load().pose_config.bodyparts == BODYPARTS  # the newest intact
    with pytest.raises(SnapshotError, match="checksum"):
        folder.load("snapshot-100.json")  # a .json is verified first
    assert folder.load(0).pose_config.bodyparts == BODYPARTS  # an index
    # what Snapshot.read refuses
    (folder.path / "snapshot-5.optimizer.npz").unlink()
    with pytest.raises(SnapshotError, match="snapshot-5.optimizer.npz is missing"):
        Snapshot.read(folder.path / "snapshot-5.keras")
    assert Snapshot.read(folder.path / "snapshot-5.json", verify=False).iteration == 5
    (folder.path / "snapshot-5.json").write_text('{"format": "other"}')
    with pytest.raises(SnapshotError, match="not a posekit snapshot"):
        Snapshot.read(folder.path / "snapshot-5.json")
    with pytest.raises(SnapshotError, match="unreadable metadata"):
        Snapshot.read(folder.path / "snapshot-300.keras")


def test_no_intact_snapshot_is_a_clear_error(folder) -> None:
    for it, _ in folder.snapshots():
        (folder.path / f"snapshot-{it}.keras").write_bytes(b"broken")
    assert folder.latest() is None
    with pytest.raises(FileNotFoundError, match="No intact snapshot"):
        folder.load()


def test_remove_snapshot_deletes_its_files(folder) -> None:
    folder.remove_snapshot(20)
    assert [it for it, _ in folder.snapshots()] == [5, 100]
    assert not list(folder.path.glob("snapshot-20.*"))
    assert (folder.path / "snapshot-20-64x96-b2-u8.tflite").exists()  # not ours


def test_naming_and_info(folder, demo_project_ro: Project) -> None:
    naming = model_naming(demo_project_ro, shuffle=2, train_fraction=0.8)
    assert tuple(naming) == MODEL_KEYS
    assert naming == {
        "Task": "demo",
        "date": "Jan1",
        "shuffle": 2,
        "train_fraction": 0.8,
        "trainingsetindex": 0,  # 0.8 is the project's first TrainingFraction
        "iteration (active-learning)": 0,
    }
    assert (
        model_naming(demo_project_ro, shuffle=1, train_fraction=0.5)["trainingsetindex"]
        is None
    )
    with pytest.raises(FileNotFoundError):
        folder.pose_cfg()
    (folder.path / "pose_cfg.yaml").write_text(
        yaml.safe_dump({"net_type": "mobilenet_v2_0.35", **naming})
    )
    assert folder.info == {"net_type": "mobilenet_v2_0.35", **naming}
    assert folder.scorer() == dlc_scorer_name("mobnet_35", "demo", "Jan1", 2, 100)
    assert folder.scorer() == "DLC_mobnet_35_demoJan1shuffle2_100"
    assert folder.scorer("snapshot-20.keras") == "DLC_mobnet_35_demoJan1shuffle2_20"
    assert folder.scorer(0, netname="resnet50") == "DLC_resnet50_demoJan1shuffle2_5"
    (folder.path / "pose_cfg.yaml").write_text("- a list\n")
    with pytest.raises(ValueError, match="mapping"):
        folder.info  # noqa: B018


def test_model_config_from_the_snapshot_or_pose_cfg(folder, saved_model) -> None:
    model, _ = saved_model
    assert folder.model_config() == model.pose_config
    orphan = folder.path / "snapshot-300.keras"  # no metadata: from pose_cfg.yaml
    with pytest.raises(FileNotFoundError):
        folder.model_config(orphan)
    (folder.path / "pose_cfg.yaml").write_text(yaml.safe_dump({"net_type": "x"}))
    with pytest.raises(ValueError, match="no posekit section"):
        folder.model_config(orphan)
    other = model.pose_config.replace(bodyparts=("a", "b", "c"))
    (folder.path / "pose_cfg.yaml").write_text(
        yaml.safe_dump({"posekit": {"model": other.to_dict()}})
    )
    assert folder.model_config(orphan) == other


def test_predictors_and_the_tflite_cache(folder, saved_model) -> None:
    from posekit.engine.inference import KerasPredictor, TFLitePredictor

    model, _ = saved_model
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(3)]
    other = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)
    # any frame size: the snapshot's own free-size model, through Keras
    free = folder.predictor(batch_size=2)
    assert isinstance(free, KerasPredictor)
    out = free([*frames, other])
    np.testing.assert_allclose(
        out, KerasPredictor(model, batch_size=2)([*frames, other]), atol=1e-5
    )
    maps = free._run(np.stack(frames[:2]))  # score maps and locref of two frames
    with pytest.raises(ValueError, match="frame_shape"):
        folder.predictor(use_tflite=True)
    # a fixed size: TFLite, converted once and cached beside the snapshot
    cache = folder.path / "snapshot-100-64x96-b2-u8.tflite"
    assert folder.tflite_path(-1, (64, 96), 2) == cache
    lite = folder.predictor((64, 96), 2)
    assert isinstance(lite, TFLitePredictor) and lite.input_shape == (2, 64, 96, 3)
    assert cache.is_file()
    for a, b in zip(lite._run(np.stack(frames[:2])), maps, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-3)  # same maps, another runtime
    assert lite(np.stack(frames)).shape == (3, 2, 3)
    converted = cache.stat().st_mtime_ns
    folder.predictor((64, 96), 2)
    assert cache.stat().st_mtime_ns == converted  # reused
    snapshot = folder.path / "snapshot-100.keras"
    later = cache.stat().st_mtime + 10
    os.utime(snapshot, (later, later))  # the snapshot is newer than its conversion
    folder.predictor((64, 96), 2)
    assert cache.stat().st_mtime_ns != converted  # converted again
    # Keras at a fixed size, and an older snapshot by its file
    keras_fixed = folder.predictor((64, 96), 2, use_tflite=False, snapshot=0)
    assert isinstance(keras_fixed, KerasPredictor)
    assert keras_fixed.model.input_shape == (None, 64, 96, 3)
    for a, b in zip(keras_fixed._run(np.stack(frames[:2])), maps, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def _dlc_lists(train: Path) -> list[str]:
    """DeepLabCut's ``get_snapshots_from_folder`` (utils/auxiliaryfunctions.py, 3.0)."""
    names = [f.stem for f in train.iterdir() if "index" in f.name]
    return sorted(names, key=lambda name: int(name.split("-")[1]))


def test_dlc_markers_make_the_snapshots_visible_to_deeplabcut(folder) -> None:
    assert _dlc_lists(folder.path) == []  # "No snapshots were found"
    written = folder.ensure_dlc_markers()
    assert [p.name for p in written] == [
        "snapshot-5.index",
        "snapshot-20.index",
        "snapshot-100.index",
    ]
    # DeepLabCut then takes the iteration of snapshotindex -1 for the scorer name
    assert _dlc_lists(folder.path) == ["snapshot-5", "snapshot-20", "snapshot-100"]
    assert _dlc_lists(folder.path)[-1].split("-")[-1] == "100"
    assert "snapshot-100.keras" in written[-1].read_text()
    assert folder.ensure_dlc_markers() == []  # already there
    assert not list(folder.path.glob(".dlc-marker-*"))  # no temporary file left
    # pruned with its snapshot (the marker first)
    folder.remove_snapshot(20)
    assert _dlc_lists(folder.path) == ["snapshot-5", "snapshot-100"]
    assert [it for it, _ in folder.snapshots()] == [5, 100]
    # a marker whose snapshot is gone is removed
    folder.write_dlc_marker(7)
    folder.ensure_dlc_markers()
    assert _dlc_lists(folder.path) == ["snapshot-5", "snapshot-100"]


def test_deeplabcut_trained_folder_is_left_alone(demo_project) -> None:
    """A shuffle DeepLabCut trained: posekit neither trains into it nor calls it empty.

    Training there used to add posekit's snapshots beside DeepLabCut's and replace
    its pose_cfg.yaml, so that DeepLabCut could no longer load its own network.
    """
    from posekit.engine.api import train_network

    folder = ModelFolder.of(demo_project, 1)
    folder.path.mkdir(parents=True)
    dlc_files = {
        "snapshot-50000.index": b"tf index",
        "snapshot-50000.meta": b"tf graph",
        "snapshot-50000.data-00000-of-00001": b"tf weights",
        "pose_cfg.yaml": b"net_type: resnet_50\n",
        "learning_stats.csv": b"50000,0.001,0.005\n",
    }
    for name, data in dlc_files.items():
        (folder.path / name).write_bytes(data)
    assert folder.deeplabcut_snapshots() == [50000] and folder.snapshots() == []
    with pytest.raises(FileExistsError, match="DeepLabCut's own trained network"):
        train_network(demo_project, max_iterations=1, progress=False)
    assert {p.name: p.read_bytes() for p in folder.path.iterdir()} == dlc_files
    with pytest.raises(FileNotFoundError, match="--shuffle 2"):
        folder.snapshot()


def test_deeplabcut3_pytorch_shuffle_is_left_alone(demo_project) -> None:
    """A shuffle DeepLabCut 3 trained (``dlc-models-pytorch/…/snapshot-*.pt``).

    posekit used to say "Train first" and then train into the shuffle, so that
    shuffle 1 named two different networks.
    """
    from posekit.engine.api import analyze_videos, train_network

    folder = ModelFolder.of(demo_project, 1)
    torch = folder.deeplabcut_pytorch_path()
    assert torch.parts[-4:] == ("dlc-models-pytorch", *folder.path.parts[-3:])
    torch.mkdir(parents=True)
    for name in ("snapshot-200.pt", "snapshot-best-190.pt", "pytorch_config.yaml"):
        (torch / name).write_bytes(b"torch")
    assert folder.deeplabcut_snapshots() == [190, 200]
    with pytest.raises(FileExistsError, match=r"PyTorch.*snapshot-200\.pt.*shuffle 2"):
        train_network(demo_project, max_iterations=1, progress=False)
    assert not folder.path.exists()  # nothing trained into the shuffle
    with pytest.raises(FileNotFoundError, match=r"PyTorch.*cannot load.*--shuffle 2"):
        folder.snapshot()
    with pytest.raises(FileNotFoundError, match="DeepLabCut 3, PyTorch"):
        analyze_videos(demo_project, progress=False)
    other = ModelFolder.of(demo_project, 2)  # another shuffle is posekit's
    assert other.deeplabcut_snapshots() == []
    other.check_trainable()
