"""A training run killed with SIGKILL (no chance to clean up) damages nothing and resumes.

``posekit train`` runs in a subprocess on a small demo project with a snapshot every few
iterations; it is killed while it writes a file if the test catches it doing so (a
temporary file beside its target), else right after a snapshot. Then every file is
checked, and ``posekit train`` again continues from the newest snapshot's iteration.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder
from posekit.engine.training import LEARNING_STATS_COLUMNS, read_pose_cfg

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL"),
]

SAVE_EVERY = 5
# learning_stats.csv gets its first row at iteration 50 (log interval)
ITERATIONS = 2000
TRAIN_ARGS = [
    "--backbone",
    "mobilenet_v2_0.35",  # small and fast from random initialisation
    "--batch-size",
    "2",
    "--save-interval",
    str(SAVE_EVERY),
    "--weights",
    "none",
]
SNAPSHOT_FILE = re.compile(r"^snapshot-(\d+)\.(keras|json|optimizer\.npz|index)$")


def _hashes(folder: Path) -> dict[Path, str]:
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _temp_files(folder: Path) -> list[Path]:
    """Temporary files of atomic writes (``.<name>.<random><suffix>`` beside the target)."""
    return [p for p in folder.iterdir() if p.name.startswith(".")]


def _kill_while_training(cmd: list[str], folder: Path, log: Path) -> bool:
    """Run ``cmd``; SIGKILL it once a snapshot and the history file exist.

    The signal is sent mid-write if possible. Returns whether a write was in progress
    when the signal was sent.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 480
        while not (
            ModelFolder(folder).snapshots() and (folder / "learning_stats.csv").exists()
        ):
            assert proc.poll() is None, f"training ended early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no snapshot yet:\n{log.read_text()}"
            time.sleep(0.05)
        # now catch it writing (a snapshot every SAVE_EVERY iterations), for up to 20 s
        mid_write = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            if _temp_files(folder):
                mid_write = True
                break
            time.sleep(0.002)
        assert proc.poll() is None, (
            f"training ended before the kill:\n{log.read_text()}"
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        return mid_write
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_during_training_damages_nothing_and_resume_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    project = make_demo_project(
        tmp_path, n_frames=30, n_labeled=10, size=(160, 120), seed=3
    )
    create_training_dataset(project)
    folder = ModelFolder.of(project, 1).path
    # the shuffle's pose_cfg.yaml (create_training_dataset's) is the training's to
    # rewrite: checked whole below
    before = {
        path: digest
        for path, digest in _hashes(project.path).items()
        if path != (folder / "pose_cfg.yaml").relative_to(project.path)
    }
    cmd = [sys.executable, "-m", "posekit.engine.cli", "train", str(project.path)]
    mid_write = _kill_while_training(
        [*cmd, "--iterations", str(ITERATIONS), *TRAIN_ARGS], folder, tmp_path / "log"
    )
    print(f"killed mid-write: {mid_write}; left: {sorted(os.listdir(folder))}")

    # === nothing that existed before the run changed ===
    after = _hashes(project.path)
    assert {p: after.get(p) for p in before} == before

    # === every file the run left is whole ===
    snapshots = ModelFolder(folder).snapshots()
    assert snapshots, os.listdir(folder)
    for p in folder.iterdir():
        if p.name.startswith("."):  # a temporary file: never taken for a snapshot
            assert not SNAPSHOT_FILE.match(p.name)
            continue
        assert p.name in ("pose_cfg.yaml", "learning_stats.csv") or SNAPSHOT_FILE.match(
            p.name
        ), p.name
    for it, model_path in snapshots:
        assert not model_path.name.startswith(".")
        # the .json path verifies both checksums, then loads the model
        model = ModelFolder(folder).load(model_path.with_suffix(".json"))
        assert model.pose_config.bodyparts == tuple(project.bodyparts)
        with np.load(folder / f"snapshot-{it}.optimizer.npz") as opt:
            assert len(opt.files) > 0
    pose_cfg = yaml.safe_load((folder / "pose_cfg.yaml").read_text())
    assert pose_cfg["Task"] == project.task
    model_config, train_config = read_pose_cfg(folder)
    assert train_config.save_interval == SAVE_EVERY
    stats = pd.read_csv(folder / "learning_stats.csv")
    assert tuple(stats.columns) == LEARNING_STATS_COLUMNS
    assert len(stats) >= 1 and stats["iteration"].is_monotonic_increasing
    assert np.isfinite(stats["loss"]).all()

    # === resuming continues from the newest snapshot and finishes ===
    last = snapshots[-1][0]
    assert last > 0 and last % SAVE_EVERY == 0
    target = last + 3
    capsys.readouterr()
    rc = main(["train", str(project.path), "--iterations", str(target), *TRAIN_ARGS])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"trained to iteration {target} (from {last}; max_iterations)" in out
    assert ModelFolder(folder).snapshots()[-1][0] == target
    import json

    meta = json.loads((folder / f"snapshot-{target}.json").read_text())
    assert meta["iteration"] == target
    assert meta["optimizer"]["iterations"] == target  # optimizer state continued
    resumed = pd.read_csv(folder / "learning_stats.csv")
    kept = resumed[resumed["iteration"] <= last].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        kept, stats[stats["iteration"] <= last].reset_index(drop=True)
    )
    assert resumed["iteration"].iloc[-1] == target
    # leftovers of the killed write are cleaned up when training starts again
    assert _temp_files(folder) == []
    assert {p: _hashes(project.path).get(p) for p in before} == before
