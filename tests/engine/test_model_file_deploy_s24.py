"""A ``.posekit.zip`` on a closed-loop rig (QA s24 deploy 2, 3, 4, 5, 6, 7).

Opening a model file imported TensorFlow (8-11 s, 750 MB); its card had no pcutoff, so
``--smooth`` blended every point; an unzipped model file was refused as "No trained
snapshot … Train first"; a new frame size converted for 20-40 s without a word; the
multi-animal refusal advised what ``posekit analyze`` cannot do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.export import ModelFileError, export_model, load_model_file
from posekit.engine.live import open_live
from posekit.engine.model_folder import ModelFolder
from posekit.engine.project import Project

PCUTOFF = 0.35  # not the default 0.6: the card's value is the project's


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Train the tiny network on a copy of the demo (its frames are 320×240)."""
    project = tiny_trained_copy("deploy")
    project.set("pcutoff", PCUTOFF)
    project.save()
    return project


@pytest.fixture(scope="module")
def model_file(trained: Project, tmp_path_factory) -> Path:
    """Export it, float32 only (int8 is not what these tests are about)."""
    out = tmp_path_factory.mktemp("zoo") / "mouse"
    return export_model(trained, out, int8=False)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))


def test_a_model_file_opens_and_predicts_without_tensorflow(
    model_file: Path, tmp_path: Path
) -> None:
    code = (
        "import sys, numpy as np\n"
        "from posekit.engine.live import open_live\n"
        f"live = open_live({str(model_file)!r}, (240, 320))\n"
        "pose = live(np.zeros((240, 320, 3), np.uint8))\n"
        "print(pose.xyp.shape, 'tensorflow' in sys.modules)\n"
    )
    env = {"POSEKIT_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    keypoints = len(load_model_file(model_file).bodyparts)
    assert done.stdout.split("\n")[0] == f"({keypoints}, 3) False"


def test_the_card_records_the_projects_pcutoff(
    model_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_model_file(model_file).card.pcutoff == PCUTOFF
    assert open_live(model_file, (240, 320), smoothing=0.5).pcutoff == PCUTOFF
    assert open_live(model_file, (240, 320), pcutoff=0.1).pcutoff == 0.1
    # a file exported before the card had it: pcutoff 0, and said when smoothing
    old = tmp_path / "old.posekit.zip"
    with zipfile.ZipFile(model_file) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    card = json.loads(members["model_card.json"])
    del card["pcutoff"]
    members["model_card.json"] = json.dumps(card).encode()
    _relist(members)
    with zipfile.ZipFile(old, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert load_model_file(old).card.pcutoff is None
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert open_live(old, (240, 320), smoothing=0.5).pcutoff == 0.0
    assert "records no pcutoff" in caplog.text and "--pcutoff" in caplog.text


def _relist(members: dict[str, bytes]) -> None:
    """Make the manifest match the members."""
    import hashlib

    manifest = json.loads(members["MANIFEST.json"])
    manifest["files"] = {
        n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in members.items()
        if n != "MANIFEST.json"
    }
    members["MANIFEST.json"] = json.dumps(manifest).encode()


def test_an_unzipped_model_file_runs_as_the_file(
    model_file: Path, tmp_path: Path
) -> None:
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(model_file) as zf:
        zf.extractall(unzipped)
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)
    expected = open_live(model_file, (240, 320))(frame).xyp
    np.testing.assert_array_equal(open_live(unzipped, (240, 320))(frame).xyp, expected)
    assert load_model_file(unzipped).card == load_model_file(model_file).card
    data = bytearray((unzipped / "float32.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF  # checked as the zip's members are
    (unzipped / "float32.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="float32.tflite does not match its"):
        load_model_file(unzipped)
    with pytest.raises(FileNotFoundError, match="is a folder, not a model file"):
        load_model_file(tmp_path / "cache")


def test_a_new_frame_size_says_it_converts(
    model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``(320, 240)``: width first, as OpenCV writes sizes; said before converting."""
    lines: list[str] = []
    with caplog.at_level(logging.WARNING, logger="posekit"):
        live = open_live(model_file, (320, 240), on_stage=lines.append)
    assert lines == [
        "converting the model for 240×320 frames (once for this size, some "
        "seconds; cached)"
    ]
    assert "exported for 320×240 (width×height) frames" in caplog.text
    assert "pass frame_shape=(240, 320)" in caplog.text
    with pytest.raises(ValueError, match="height and width are swapped"):
        live(np.zeros((240, 320, 3), np.uint8))
    lines.clear()
    open_live(model_file, (320, 240), on_stage=lines.append)
    assert lines == []  # converted once


def test_the_multi_animal_refusal_says_what_works(
    trained: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It advised analysing with the model folder, which posekit analyze refuses."""
    config = ModelFolder.of(trained).model_config()
    multi = dataclasses.replace(config, paf_edges=((0, 1),))
    monkeypatch.setattr(ModelFolder, "model_config", lambda self, *a: multi)
    with pytest.raises(
        ValueError,
        match=r"copy its config\.yaml and its dlc-models folder \(the network is in "
        r"dlc-models/iteration-0/[^)]+\) into one folder.*posekit analyze FOLDER VIDEO",
    ):
        export_model(trained, tmp_path / "ma.posekit.zip")
    with pytest.raises(ValueError, match=r"instead \(posekit analyze PROJECT VIDEO\)"):
        open_live(trained.path, (240, 320))
