"""``posekit analyze --model FILE FOLDER``: the folder is listed as a project's is.

QA s18: with ``--model`` the folder gave all its videos whatever ``--videotype``
said. A stand-in model (its network returns the frame's centre) stands for the
``.posekit.zip``: what matters is which videos get an output, not the keypoints.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.export import ExportedModel

SCORER = "DLC_standin_testJan1shuffle1_1"
W, H = 24, 16


def _video(path: Path, fourcc: str, n: int = 4) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (W, H))
    assert writer.isOpened(), f"OpenCV cannot write {path.suffix} with {fourcc}"
    for i in range(n):
        writer.write(np.full((H, W, 3), 40 * i, np.uint8))
    writer.release()
    return path


class _Centre:
    """The stand-in network: one keypoint at the frame's centre, likelihood 0.9."""

    batch_size = 1
    precision = "float32"

    def __call__(self, frames):
        frames = np.asarray(frames)
        n, h, w = frames.shape[:3]
        return np.tile(np.array([[w / 2, h / 2, 0.9]]), (n, 1, 1))


class _Card:
    input_size = (H, W)
    scorer = SCORER
    bodyparts = ("centre",)

    def summary(self) -> str:
        return "stand-in model"


class _TFLite:
    path = Path("standin.tflite")

    def predictor(self, num_threads=None):
        return _Centre()


class _Model(ExportedModel):
    runtimes: list[str] = []  # which runtime each predictor was built for

    def __init__(self) -> None:
        super().__init__(Path("standin.posekit.zip"), Path("standin"), _Card())

    def pose_cfg(self) -> dict:
        return {"iteration": 0}

    def tflite_model(self, shape, batch_size=1, precision="auto", on_stage=None):
        self.runtimes.append(f"tflite {precision}")
        return _TFLite()

    def predictor(self, frame_shape=None, batch_size=1, precision="auto", **kwargs):
        assert frame_shape is None  # only the Keras runtime is asked for directly
        self.runtimes.append("keras")
        return _Centre()


@pytest.fixture
def model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a model path whose loading gives the stand-in model."""
    monkeypatch.setattr(_Model, "runtimes", [])

    def load(path, **kwargs):
        return _Model()

    monkeypatch.setattr("posekit.engine.export.load_model_file", load)
    path = tmp_path / "standin.posekit.zip"
    path.write_bytes(b"")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Make a folder with two tiny videos of two types: ``top.avi``, ``side.mp4``."""
    out = tmp_path / "videos"
    out.mkdir()
    _video(out / "top.avi", "MJPG")
    _video(out / "side.mp4", "mp4v")
    return out


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.h5"))


def test_videotype_chooses_the_videos_of_a_folder(model_file, folder, capsys):
    argv = ["analyze", "--model", str(model_file), str(folder)]
    assert main([*argv, "--videotype", "avi"]) == 0
    assert _outputs(folder) == [f"top{SCORER}.h5"]
    printed = capsys.readouterr().out.split()
    assert printed == [str(folder / f"top{SCORER}.h5")]
    df = pd.read_hdf(folder / f"top{SCORER}.h5")
    assert len(df) == 4
    np.testing.assert_allclose(df.iloc[0].to_numpy(), [W / 2, H / 2, 0.9])
    # as for a project: several types, any case, with or without the dot
    assert main([*argv, "--videotype", ".MP4", "--videotype", "avi"]) == 0
    assert _outputs(folder) == [f"side{SCORER}.h5", f"top{SCORER}.h5"]


def test_without_videotype_a_folder_gives_all_its_videos(model_file, folder):
    assert main(["analyze", "--model", str(model_file), str(folder)]) == 0
    assert _outputs(folder) == [f"side{SCORER}.h5", f"top{SCORER}.h5"]


def test_a_folder_without_that_type_says_so(model_file, folder, capsys):
    argv = ["analyze", "--model", str(model_file), str(folder), "--videotype", "mkv"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "No video in the folder" in err and ".mkv" in err
    assert _outputs(folder) == []


def test_videos_named_that_videotype_all_leaves_out_are_an_error(
    model_file, folder, capsys
):
    """QA s22 (madlc), finding 1: as a project's analysis, no silent success.

    It printed only "left out: not a .mkv video" and exited 0, analysing nothing.
    """
    video = str(folder / "top.avi")
    argv = ["analyze", "--model", str(model_file), video, "--videotype", "mkv"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        f"posekit analyze: No video(s) were found: videotype='mkv' leaves out every "
        f"video given ({video}); nothing is analysed." in err
    )
    assert _outputs(folder) == []


# QA s18: options of a project's network were silently ignored with --model.


@pytest.mark.parametrize(
    ("option", "advice"),
    [
        (["--shuffle", "1"], "posekit export-model PROJECT --shuffle N"),
        (["--trainingsetindex", "0"], "Drop --trainingsetindex"),
        (["--animals", "2"], "posekit analyze PROJECT VIDEO --animals N"),
        (["--track-method", "box"], "--track-method METHOD"),
    ],
)
def test_a_projects_option_is_refused_with_model(
    option, advice, model_file, folder, capsys, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("analyze_with_model called")

    monkeypatch.setattr("posekit.engine.export.analyze_with_model", never)
    argv = ["analyze", "--model", str(model_file), str(folder), *option]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{option[0]} does not apply to --model" in err
    assert advice in err
    assert _outputs(folder) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--precision", "int8"], "use --precision float32"),
        (["--shard", "0/2"], "drop --no-tflite, or --cluster/--shard"),
    ],
)
def test_no_tflite_refuses_what_tensorflow_does_not_run(
    option, message, model_file, folder, capsys
):
    argv = ["analyze", "--model", str(model_file), str(folder), "--no-tflite"]
    assert main([*argv, *option]) == 2
    assert message in capsys.readouterr().err
    assert _outputs(folder) == [] and _Model.runtimes == []


def test_the_other_options_reach_analyze_with_model(
    model_file, folder, tmp_path, monkeypatch
):
    calls = []

    def record(model, videos, **kwargs):
        calls.append((list(videos), kwargs))
        return []

    monkeypatch.setattr("posekit.engine.export.analyze_with_model", record)
    dest = tmp_path / "out"
    argv = ["analyze", "--model", str(model_file), str(folder)]
    assert main([*argv, "--no-tflite", "--precision", "float32", "--scale", "0.5"]) == 0
    assert (
        main(
            [
                *argv,
                *("--videotype", "avi", "--batch-size", "4", "--dest", str(dest)),
                *("--csv", "--netcdf", "--overwrite"),
                *("--shard", "1/3", "--chunk-frames", "10"),
            ]
        )
        == 0
    )
    (videos, first), (only_avi, second) = calls
    assert videos == [folder / "side.mp4", folder / "top.avi"]
    assert first["use_tflite"] is False and first["precision"] == "float32"
    assert first["scale"] == 0.5 and first["videotype"] is None
    assert only_avi == [folder / "top.avi"]
    assert second["use_tflite"] is True and second["precision"] == "auto"
    assert second["videotype"] == ["avi"] and second["batch_size"] == 4
    assert second["destfolder"] == str(dest)
    assert second["save_as_csv"] and second["netcdf"] and second["overwrite"]
    assert second["shard"] == "1/3" and second["chunk_frames"] == 10


def test_no_tflite_runs_the_keras_model(model_file, folder):
    argv = ["analyze", "--model", str(model_file), str(folder), "--videotype", "avi"]
    assert main([*argv, "--no-tflite"]) == 0
    assert _Model.runtimes == ["keras"]
    assert _outputs(folder) == [f"top{SCORER}.h5"]
    assert main([*argv, "--precision", "float32", "--overwrite"]) == 0
    assert _Model.runtimes == ["keras", "tflite float32"]


def test_analyze_with_model_takes_a_videotype(folder):
    from posekit.engine.export import analyze_with_model
    from posekit.engine.project import ProjectError

    outputs = analyze_with_model(_Model(), [folder], videotype="avi", progress=False)
    assert [p.name for p in outputs] == [f"top{SCORER}.h5"]
    assert _outputs(folder) == [f"top{SCORER}.h5"]
    with pytest.raises(ProjectError, match="No video in the folder"):
        analyze_with_model(_Model(), [folder], videotype="mkv", progress=False)


def test_analyze_with_model_says_when_the_videotype_leaves_out_every_file(
    folder, caplog
):
    from posekit.engine.export import analyze_with_model

    files = [folder / "side.mp4", folder / "top.avi"]
    with caplog.at_level("WARNING", logger="posekit"):
        outputs = analyze_with_model("no-such-model.zip", files, videotype="mkv")
    assert list(outputs) == [] and _outputs(folder) == []
    assert set(outputs.failed) == set(files)  # the model was not even opened
    assert "left out by videotype='mkv'" in outputs.failed[files[0]]
    assert "No video(s) were found: videotype='mkv'" in caplog.text


def test_a_projects_analysis_still_defaults_to_shuffle_1(demo_project_ro, monkeypatch):
    calls = []

    def record(project, videos, **kwargs):
        calls.append(kwargs["shuffle"])
        return []

    monkeypatch.setattr("posekit.engine.api.analyze_videos", record)
    assert main(["analyze", str(demo_project_ro.path)]) == 0
    assert main(["analyze", str(demo_project_ro.path), "--shuffle", "2"]) == 0
    assert calls == [1, 2]
