"""Analysis panel: a project without labelled frames converts its network once.

With ``precision="auto"`` and no labelled frames to calibrate int8 on, the conversion
makes the float32 model only and no int8 report. The panel asked whether a conversion
was needed by looking for that report, so every analysis started the conversion
process again (~10 s of TensorFlow start-up that converted nothing). While the process
runs, the panel says so with the engine's own words ("preparing the fast runtime").
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from posekit.engine import tflite_convert
from posekit.engine.api import train_network
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder
from posekit.engine.project import load_project
from posekit.widgets.analysis_panel import AnalysisModel

PREPARING = (
    "video 1 of 1: preparing the fast runtime (TFLite, once per snapshot and "
    "frame size)…"
)


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory):
    """Train a tiny demo project, then take its labelled frames away (no int8)."""
    p = make_demo_project(
        tmp_path_factory.mktemp("nolabels"), n_frames=40, n_labeled=12, n_videos=1
    )
    create_training_dataset(p)
    train_network(
        p, backbone="mobilenet_v2_0.35", max_iterations=8, batch_size=2, weights=None
    )
    (p.path.parent / "labels").mkdir()
    for sub in ("labeled-data", "training-datasets"):  # kept aside for the test below
        shutil.move(p.path / sub, p.path.parent / "labels" / sub)
    p = load_project(p.path)
    assert ModelFolder(p.model_dir(1) / "train", project=p).labelled_frames() is None
    return p


@pytest.fixture
def launches(monkeypatch):
    """Record the conversion processes started (their command lines)."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def popen(cmd, *args, **kwargs):
        if list(cmd[1:3]) == ["-m", tflite_convert.__name__]:
            started.append(list(cmd))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(tflite_convert.subprocess, "Popen", popen)
    return started


def _analyse(m: AnalysisModel) -> list[str]:
    """Analyse (the outputs removed first) and return the messages shown."""
    for p in m.outputs:
        p.unlink()
    messages: list[str] = []
    m.observe(lambda ch: messages.append(ch["new"]), "message")
    m.analyze(wait=True)
    m.unobserve_all("message")
    assert m.state == "done", m.error
    return messages


@pytest.mark.slow
def test_auto_without_labelled_frames_converts_once(unlabelled, launches) -> None:
    m = AnalysisModel(unlabelled)
    assert m.precision == "auto"
    train = unlabelled.model_dir(1) / "train"
    first = _analyse(m)
    # converted in a process of its own, said while it ran; float32 only
    assert len(launches) == 1 and "--precision" in launches[0]
    assert launches[0][launches[0].index("--precision") + 1] == "auto"
    assert PREPARING in first
    assert len(list(train.glob("snapshot-8-240x320-b*-u8.tflite"))) == 1
    assert not list(train.glob("*int8*"))
    (out,) = m.outputs
    want = pd.read_hdf(out).to_numpy()
    assert want.shape[0] == 40
    # analysed again: the cached float32 model, no process, the same keypoints
    again = _analyse(m)
    assert len(launches) == 1, launches
    assert not any("fast runtime" in msg for msg in again)
    assert m.outputs == [out]
    np.testing.assert_array_equal(pd.read_hdf(out).to_numpy(), want)


def test_conversion_needed_follows_what_the_conversion_would_make(
    unlabelled, tmp_path
) -> None:
    """Known answers on the cached files, without converting anything."""
    for name, labels in (("unlabelled", False), ("labelled", True)):
        p = load_project(shutil.copytree(unlabelled.path, tmp_path / name))
        if labels:  # the labelled frames back (the trained project's own)
            for sub in ("labeled-data", "training-datasets"):
                shutil.copytree(unlabelled.path.parent / "labels" / sub, p.path / sub)
        train = p.model_dir(1) / "train"
        for done in train.glob("*.tflite"):
            done.unlink()
        folder = ModelFolder(train, project=p)
        assert (folder.labelled_frames() is not None) == labels
        snapshot = train / "snapshot-8.keras"
        args = (folder, snapshot, (240, 320), 8)
        for precision in ("auto", "float32", "int8"):
            assert tflite_convert.conversion_needed(*args, precision)
        folder.tflite_path(snapshot, (240, 320), 8).write_bytes(b"float32 model")
        assert not tflite_convert.conversion_needed(*args, "float32")
        # "int8" needs its model (or the conversion's message that it cannot be
        # made); "auto" needs it only when there are frames to calibrate it on
        assert tflite_convert.conversion_needed(*args, "int8")
        assert tflite_convert.conversion_needed(*args, "auto") == labels
