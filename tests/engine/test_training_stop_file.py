"""A ``posekit train`` in another process stops when its stop file appears.

The way a reopened Train app (or a shell: ``touch <project>/.posekit-training.stop``)
stops a training that a closed browser tab started: the process saves a snapshot and
ends; the lock and the stop file are gone after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.locks import lock_path, request_stop, running_job, stop_path
from posekit.engine.model_folder import ModelFolder

pytestmark = pytest.mark.slow


def test_a_training_in_another_process_stops_on_its_stop_file(tmp_path):
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=8, size=(160, 120))
    cmd = [
        sys.executable,
        "-m",
        "posekit.engine.cli",
        "train",
        str(project.path),
        "--backbone",
        "mobilenet_v2_0.35",
        "--weights",
        "none",
        "--batch-size",
        "2",
        "--iterations",
        "100000",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            folder = ModelFolder.of(project)
            deadline = time.monotonic() + 300
            # running: the lock is held and the first steps are done
            while time.monotonic() < deadline and proc.poll() is None:
                stats = folder.path / "learning_stats.csv"
                if running_job(project.path, "training") and stats.is_file():
                    break
                time.sleep(0.5)
            assert proc.poll() is None, log.read_text()[-3000:]
            request_stop(project.path)
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert folder.snapshots(), text[-3000:]  # a snapshot saved on the way out
    iteration = folder.snapshots()[-1][0]
    assert 0 < iteration < 100_000
    assert not stop_path(project.path, "training").exists()
    assert not lock_path(project.path, "training").exists()
