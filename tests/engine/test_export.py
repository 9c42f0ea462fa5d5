"""Shareable models: export, the checks on loading, analysis without a project, live.

The exported ``.posekit.zip`` must give the project's keypoints in a fresh folder with
no project: float32 within 0.01 px, and int8 the project's int8 keypoints (the same
calibrated model) with the test error the card reports.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos
from posekit.engine.cli import main
from posekit.engine.export import (
    ModelFileError,
    analyze_with_model,
    export_model,
    load_model_file,
)
from posekit.engine.model_folder import ModelFolder
from posekit.engine.project import Project

FRAMES = 24


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Train a tiny MobileNetV2-0.35 for 3 iterations on a copy of the demo project."""
    return tiny_trained_copy("export")


@pytest.fixture(scope="module")
def clip(trained: Project, video_clip) -> Path:
    """Cut the first FRAMES frames of the demo video."""
    return video_clip(trained.videos()[0], FRAMES)


@pytest.fixture(scope="module")
def model_file(trained: Project, tmp_path_factory) -> Path:
    """Export the trained shuffle with the command line (float32 and int8)."""
    out = tmp_path_factory.mktemp("zoo") / "demo-mouse"
    assert (
        main(
            [
                "export-model",
                str(trained.path),
                str(out),
                "--licence",
                "CC-BY-4.0",
                "--authors",
                "posekit tests",
            ]
        )
        == 0
    )
    return out.with_name("demo-mouse.posekit.zip")


def test_the_card_says_what_the_model_is(trained: Project, model_file: Path) -> None:
    with zipfile.ZipFile(model_file) as zf:
        assert sorted(zf.namelist()) == sorted(
            [
                "MANIFEST.json",
                "model_card.json",
                "pose_cfg.yaml",
                "model.keras",
                "float32.tflite",
                "int8.tflite",
            ]
        )
    model = load_model_file(model_file)
    card = model.card
    assert card.bodyparts == tuple(trained.bodyparts)
    assert card.skeleton == tuple(tuple(e) for e in trained.skeleton)
    assert card.scorer == ModelFolder.of(trained).scorer()
    assert card.input_size == (240, 320)
    assert card.licence == "CC-BY-4.0" and card.authors == "posekit tests"
    assert card.training_videos == tuple(Path(v).name for v in trained.video_sets)
    folder = ModelFolder.of(trained)
    frames = folder.labelled_frames()
    assert card.training_frames == len(frames.calibration)
    assert card.test_frames == len(frames.test) > 0
    report = folder.quantization_report((240, 320), 1)
    assert card.float_test_error_px == pytest.approx(report.float_test_error_px)
    assert card.int8_test_error_px == pytest.approx(report.int8_test_error_px)
    assert card.int8_chosen == (report.chosen == "int8")
    assert "licence: CC-BY-4.0" in card.summary()


def test_a_fresh_folder_gives_the_projects_keypoints(
    trained: Project,
    clip: Path,
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the project's own analyses, both precisions, batch 1 as the model file's
    expected = {}
    for precision in ("float32", "int8"):
        [out] = analyze_videos(
            trained,
            [clip],
            destfolder=tmp_path / f"project-{precision}",
            progress=False,
            precision=precision,
            batch_size=1,
        )
        expected[precision] = pd.read_hdf(out)
    # a fresh folder: the model file and the video, nothing of the project
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(model_file, fresh / model_file.name)
    shutil.copy(clip, fresh / clip.name)
    monkeypatch.chdir(fresh)
    monkeypatch.setenv("POSEKIT_CACHE", str(fresh / "cache"))
    for precision in ("float32", "int8"):
        argv = ["analyze", "--model", model_file.name, clip.name]
        argv += ["--precision", precision, "--dest", precision]
        assert main(argv) == 0
        [out] = (fresh / precision).glob("*.h5")
        got = pd.read_hdf(out)
        assert out.name == f"clip{ModelFolder.of(trained).scorer()}.h5"
        diff = np.abs(got.to_numpy() - expected[precision].to_numpy())
        assert diff.max() <= 0.01, (precision, diff.max())
    # the int8 model's test error is the one the card reports
    model = load_model_file(model_file)
    predictor = model.predictor((240, 320), 1, "int8")
    assert predictor.precision == "int8"
    frames = ModelFolder.of(trained).labelled_frames()
    error = frames.test_error_px(predictor, (240, 320))
    assert error == pytest.approx(model.card.int8_test_error_px, abs=0.01)


def test_a_model_file_batch_has_the_projects_checks(
    model_file: Path, clip: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """``analyze --model`` checks a batch as the project's analysis does.

    Done videos skipped (per precision), clashes refused, folders expanded, a bad
    video left out with exit 2: it had none of these.
    """
    import pickle

    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        shutil.copy(clip, folder / "s.avi")
    (a / "empty.avi").write_bytes(b"")
    run = ["analyze", "--model", str(model_file)]
    assert main([*run, str(a), "--precision", "float32"]) == 2  # a folder
    printed = capsys.readouterr()
    (out,) = [Path(line) for line in printed.out.split()]
    assert "not analysed: " + str(a / "empty.avi") in printed.err
    meta = pickle.loads(out.with_name(out.stem + "_meta.pickle").read_bytes())
    assert meta["data"]["precision"] == "float32"
    stamp = out.stat().st_mtime_ns
    assert main([*run, str(a / "s.avi"), "--precision", "float32"]) == 0
    assert out.stat().st_mtime_ns == stamp  # analysed before: skipped
    assert main([*run, str(a / "s.avi"), "--precision", "int8"]) == 0
    assert out.stat().st_mtime_ns > stamp  # another precision: analysed again
    meta = pickle.loads(out.with_name(out.stem + "_meta.pickle").read_bytes())
    assert meta["data"]["precision"] == "int8"
    capsys.readouterr()
    dest = tmp_path / "dest"
    both = [str(a / "s.avi"), str(b / "s.avi"), "--dest", str(dest)]
    assert main([*run, *both]) == 2
    assert "would all be written to" in capsys.readouterr().err
    assert not dest.exists()


def test_other_frame_sizes_run_the_keras_weights(
    model_file: Path, tmp_path: Path
) -> None:
    model = load_model_file(model_file, folder=tmp_path / "m")
    tfl = model.tflite_model((120, 160), 1, "auto")
    assert tfl.precision == "float32" and tfl.path.parent == tmp_path / "m"
    with pytest.raises(ValueError, match="int8 model of demo-mouse.posekit.zip takes"):
        model.tflite_model((120, 160), 1, "int8")
    frame = np.zeros((120, 160, 3), np.uint8)
    assert tfl.predictor()(frame[None]).shape == (1, len(model.bodyparts), 3)


def _rewrite(source: Path, dest: Path, change) -> Path:
    """Copy a model file, letting ``change(members)`` alter its members."""
    with zipfile.ZipFile(source) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(dest, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dest


def _relist(members: dict[str, bytes]) -> None:
    """Make the manifest match the members (as a careful forger would)."""
    import hashlib

    manifest = json.loads(members["MANIFEST.json"])
    manifest["files"] = {
        n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in members.items()
        if n != "MANIFEST.json"
    }
    members["MANIFEST.json"] = json.dumps(manifest).encode()


def test_loading_refuses_damaged_or_dangerous_files(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flip_a_byte(members):
        data = bytearray(members["float32.tflite"])
        data[len(data) // 2] ^= 0xFF
        members["float32.tflite"] = bytes(data)

    def traversal(members):
        members["../../evil.py"] = b"print('owned')"

    def pickle_member(members):
        members["model.pkl"] = b"\x80\x04N."
        _relist(members)

    def pickle_in_keras(members):
        buf = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(members["model.keras"])) as inner,
            zipfile.ZipFile(buf, "w") as out,
        ):
            for name in inner.namelist():
                out.writestr(name, inner.read(name))
            out.writestr("extra.pkl", b"\x80\x04N.")
        members["model.keras"] = buf.getvalue()
        _relist(members)

    def no_card(members):
        del members["model_card.json"]
        _relist(members)

    def newer(members):
        manifest = json.loads(members["MANIFEST.json"])
        manifest["format"] = "posekit-model/2"
        members["MANIFEST.json"] = json.dumps(manifest).encode()

    def newer_card(members):
        card = json.loads(members["model_card.json"])
        card["format"] = "posekit-model/2"
        members["model_card.json"] = json.dumps(card).encode()
        _relist(members)

    cases = {
        "checksum": (flip_a_byte, "does not match its checksum"),
        "traversal": (traversal, "'../../evil.py', which a posekit model file"),
        "pickle": (pickle_member, "'model.pkl', which a posekit model file never"),
        "keras": (pickle_in_keras, "no pickle, no code"),
        "card": (no_card, "lacks model_card.json"),
        "newer": (newer, "written by a newer posekit.*upgrade posekit"),
        "newer-card": (newer_card, "posekit-model/2 file, written by a newer"),
    }
    for name, (change, message) in cases.items():
        bad = _rewrite(model_file, tmp_path / f"{name}.posekit.zip", change)
        with pytest.raises(ModelFileError, match=message):
            load_model_file(bad, folder=tmp_path / name)
        assert not (tmp_path / name).exists()  # nothing was unpacked
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("POSEKIT_CACHE", str(blocked / "cache"))  # cannot be made
    with pytest.raises(OSError, match="point POSEKIT_CACHE at a folder"):
        load_model_file(model_file)
    (tmp_path / "text.posekit.zip").write_text("not a zip")
    with pytest.raises(ModelFileError, match="not a zip file.*did not finish"):
        load_model_file(tmp_path / "text.posekit.zip")


def test_export_needs_a_trained_snapshot(demo_project: Project, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No trained snapshot"):
        export_model(demo_project, tmp_path / "m.posekit.zip")


def test_savedmodel_and_onnx_give_the_same_keypoints(
    model_file: Path, trained: Project, tmp_path: Path
) -> None:
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    from posekit.engine._tf import tensorflow as tf
    from posekit.engine.export import check_onnx, export_onnx, export_savedmodel

    model = load_model_file(model_file, folder=tmp_path / "m")
    frames = ModelFolder.of(trained).labelled_frames()
    images = [np.asarray(frames.images[i]) for i in frames.test]
    onnx = export_onnx(model, tmp_path / "m.onnx")
    diff = check_onnx(onnx, model, images)
    assert diff["max_abs_px"] <= 0.01 and diff["frames"] == len(images)
    saved = export_savedmodel(model, tmp_path / "saved")
    loaded = tf.saved_model.load(str(saved))
    batch = np.stack(images).astype(np.float32)
    got = loaded.serve(batch)
    net = model.load_keras()
    want = net(batch, training=False)
    np.testing.assert_allclose(
        np.asarray(got["scoremap"]), np.asarray(want["scoremap"]), atol=1e-4
    )
    keypoints = net.decode({k: np.asarray(v) for k, v in got.items()})
    expected = net.decode({k: np.asarray(v) for k, v in want.items()})
    np.testing.assert_allclose(keypoints[..., :2], expected[..., :2], atol=0.01)


def test_savedmodel_never_deletes_other_files(
    model_file: Path, trained: Project, tmp_path: Path, monkeypatch, capsys
) -> None:
    """``--savedmodel .`` used to empty the working folder (shutil.rmtree)."""
    from posekit.engine.export import export_savedmodel

    work = tmp_path / "work"
    work.mkdir()
    (work / "results.csv").write_text("precious\n")
    monkeypatch.chdir(work)
    zip_out = tmp_path / "again.posekit.zip"
    argv = ["export-model", str(trained.path), str(zip_out), "--no-int8"]
    assert main([*argv, "--savedmodel", "."]) == 2
    assert "holds other files (results.csv)" in capsys.readouterr().err
    assert (work / "results.csv").read_text() == "precious\n"
    assert not zip_out.exists()  # refused before anything was written
    model = load_model_file(model_file, folder=tmp_path / "m")
    with pytest.raises(FileExistsError, match="deletes nothing else"):
        export_savedmodel(model, work)
    saved = export_savedmodel(model, tmp_path / "saved")
    first = (saved / "saved_model.pb").stat().st_mtime_ns
    assert export_savedmodel(model, saved) == saved  # an earlier SavedModel: replaced
    assert (saved / "saved_model.pb").stat().st_mtime_ns >= first
    assert not list(tmp_path.glob(".savedmodel-*"))


def test_edited_files_are_refused_with_a_message(model_file: Path, tmp_path: Path):
    """A card whose bodyparts disagree with the network, a network config edited.

    Both used to run: a traceback after loading, or an error after a whole video.
    """

    def fewer_bodyparts(members):
        card = json.loads(members["model_card.json"])
        card["bodyparts"] = card["bodyparts"][:-1]
        members["model_card.json"] = json.dumps(card).encode()
        _relist(members)

    bad = _rewrite(model_file, tmp_path / "card.posekit.zip", fewer_bodyparts)
    with pytest.raises(ModelFileError, match="the network was trained for"):
        load_model_file(bad, folder=tmp_path / "card")

    def unknown_backbone(members):
        buf = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(members["model.keras"])) as inner,
            zipfile.ZipFile(buf, "w") as out,
        ):
            for name in inner.namelist():
                data = inner.read(name)
                if name == "config.json":  # a backbone no posekit knows
                    data = re.sub(rb'"backbone": "[^"]*"', b'"backbone": "nope"', data)
                out.writestr(name, data)
        members["model.keras"] = buf.getvalue()
        _relist(members)

    bad = _rewrite(model_file, tmp_path / "net.posekit.zip", unknown_backbone)
    model = load_model_file(bad, folder=tmp_path / "net")
    with pytest.raises(ModelFileError, match="cannot be loaded as a posekit network"):
        model.load_keras()


def test_a_shared_file_names_no_folder_of_the_trainer(
    model_file: Path, trained: Project
) -> None:
    """pose_cfg.yaml and the card held the trainer's absolute paths (home, user)."""
    import yaml

    with zipfile.ZipFile(model_file) as zf:
        cfg_text = zf.read("pose_cfg.yaml").decode()
        card_text = zf.read("model_card.json").decode()
    for text in (cfg_text, card_text):
        assert str(trained.path) not in text
        assert str(trained.path.parent) not in text
    cfg = yaml.safe_load(cfg_text)
    assert cfg["project_path"] == trained.path.name
    assert cfg["snapshot_prefix"].startswith(trained.path.name + "/dlc-models/")
    assert cfg["all_joints_names"] == list(trained.bodyparts)  # the rest is kept


def test_card_without_int8_counts_the_frames(trained: Project, tmp_path: Path) -> None:
    """``--no-int8`` used to give a card 'trained on 0 frames, test error not measured'."""
    from posekit.engine.export import export_model

    out = export_model(trained, tmp_path / "small", int8=False)
    card = load_model_file(out, folder=tmp_path / "m").card
    frames = ModelFolder.of(trained).labelled_frames()
    assert card.training_frames == len(frames.calibration) > 0
    assert card.test_frames == len(frames.test) > 0
    assert card.int8_test_error_px is None
    assert card.test_error_px is not None  # measured when training stopped
    assert (
        f"{card.test_error_px:.2f} px (the snapshot's, at training)" in card.summary()
    )


def test_posekit_live_streams_poses(
    model_file: Path, clip: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["live", str(clip), "--model", str(model_file), "--max-frames", "5"]
    assert main([*argv, "--format", "csv", "--precision", "float32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("frame,time,latency_ms,snout_x,snout_y")
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2", "3", "4"]
    # a file's poses are timed by the video (frame / fps), not the clock (QA s15)
    import cv2

    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    times = [float(line.split(",")[1]) for line in lines[1:]]
    np.testing.assert_allclose(times, np.arange(5) / fps, atol=1e-6)
    # JSON lines with the same keypoints as the analysis of the same frames
    assert main([*argv, "--format", "json", "--precision", "float32"]) == 0
    poses = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert poses[2]["time"] == pytest.approx(2 / fps, abs=1e-6)
    model = load_model_file(model_file)
    [out] = _analyse_first_frames(model, clip)
    first = np.array(poses[0]["bodyparts"]["snout"][:2])
    np.testing.assert_allclose(first, out[0, 0, :2], atol=1e-3)


def test_posekit_live_says_how_it_went_however_it_ends(
    model_file: Path,
    clip: Path,
    trained: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    """A latency summary; Ctrl-C and a closed pipe end a stream cleanly.

    There was no summary of the latency, Ctrl-C lost the counts, ``| head`` gave
    'error: Broken pipe', and --max-frames -3 predicted nothing with exit 0.
    """
    import signal
    import subprocess
    import sys

    argv = ["live", str(clip), "--model", str(model_file), "--precision", "float32"]
    assert main([*argv, "--max-frames", "3"]) == 0
    err = capsys.readouterr().err
    assert "3 frames predicted, 0 dropped; latency median" in err
    assert "95th percentile" in err and "frames/s" in err
    with pytest.raises(SystemExit):
        main([*argv, "--max-frames", "-3"])
    assert "must be 1 or more" in capsys.readouterr().err
    long = [*argv[:1], str(trained.videos()[0]), *argv[2:], "--format", "csv"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "POSEKIT_CACHE": str(tmp_path)}

    def stream(argv=long):
        code = (
            "import sys\nfrom posekit.engine.cli import main\n"
            f"sys.exit(main({argv!r}))\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        proc.stdout.readline(), proc.stdout.readline()  # header and a first pose
        return proc

    proc = stream()  # the reader takes two lines and goes: | head -2
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert b"Broken pipe" not in stderr and b"frames predicted" in stderr
    # with --realtime the poses are printed by the inference thread: a closed pipe
    # there left the command waiting forever (QA S14)
    proc = stream([*long, "--realtime"])
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert b"BrokenPipeError" not in stderr and b"frames predicted" in stderr
    # Ctrl-C in the middle of the video: --realtime paces the frames at the video's
    # rate, so the signal lands before the end however fast the machine predicts
    proc = stream([*long, "--realtime"])
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    assert b"frames predicted" in stderr and b"latency median" in stderr


def _analyse_first_frames(model, clip: Path) -> list[np.ndarray]:
    from posekit.engine.video import VideoReader

    with VideoReader(clip) as reader:
        frame = reader.read(0)
    return [model.predictor((240, 320), 1, "float32")(frame[None])]


def test_a_model_file_sharded_analysis_equals_the_serial_one(
    model_file: Path, clip: Path, tmp_path: Path, monkeypatch
) -> None:
    """``analyze --model --shard`` goes through the project's chunked path."""
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    [serial] = analyze_with_model(
        model_file,
        [clip],
        destfolder=tmp_path / "serial",
        progress=False,
        precision="float32",
    )
    [sharded] = analyze_with_model(
        model_file,
        [clip],
        destfolder=tmp_path / "sharded",
        progress=False,
        precision="float32",
        shard=(0, 1),
        chunk_frames=7,
    )
    assert sharded.name == serial.name
    np.testing.assert_allclose(
        pd.read_hdf(sharded).to_numpy(), pd.read_hdf(serial).to_numpy(), atol=1e-4
    )


def test_a_model_file_analyses_again_what_another_network_of_its_name_made(
    model_file: Path, clip: Path, tmp_path: Path, monkeypatch
) -> None:
    """Two networks can share a scorer name (iterations trained to the same steps).

    ``analyze --model`` skipped any output of its name, as a project's analysis did
    before QA s19; now the ``_meta.pickle`` decides, as for a project's network.
    """
    from posekit.engine.inference import PREVIOUS_ANALYSES_DIR
    from posekit.engine.io.dlc import analysis_metadata, write_analysis_metadata

    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    common = {"destfolder": tmp_path, "progress": False, "precision": "float32"}
    [out] = analyze_with_model(model_file, [clip], **common)
    meta_path = out.with_name(f"{out.stem}_meta.pickle")
    meta = analysis_metadata(out)
    assert meta["iteration (active-learning)"] == 0
    # the same network: skipped, as ever
    assert analyze_with_model(model_file, [clip], **common).skipped == [out]
    # the same name made by iteration 4's network: analysed again, the old one kept
    meta["iteration (active-learning)"] = 4
    write_analysis_metadata(meta_path, meta)
    again = analyze_with_model(model_file, [clip], **common)
    assert again == [out] and again.skipped == []
    assert analysis_metadata(out)["iteration (active-learning)"] == 0
    kept = tmp_path / PREVIOUS_ANALYSES_DIR / "iteration-4"
    assert analysis_metadata(kept / out.name)["iteration (active-learning)"] == 4
