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
    def __init__(self) -> None:
        super().__init__(Path("standin.posekit.zip"), Path("standin"), _Card())

    def pose_cfg(self) -> dict:
        return {"iteration": 0}

    def tflite_model(self, shape, batch_size=1, precision="auto", on_stage=None):
        return _TFLite()


@pytest.fixture
def model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a model path whose loading gives the stand-in model."""

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
