"""A project copied without its videos reads and writes only its own analysis.

QA s24 paths #1: ``cp -r A B; rm B/videos/*`` leaves B's ``video_sets`` naming A's
videos. ``posekit analyze B`` puts their predictions into ``B/videos`` (nothing is
written outside the project); ``filter``, ``labeled-video`` and ``extract-outliers``
read A's predictions and wrote ``_filtered.h5`` / ``_labeled.mp4`` into A.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.api import _destinations
from posekit.engine.cli import main
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, read_predictions, write_predictions
from posekit.engine.postprocessing import prediction_files
from posekit.engine.project import load_project

SCORER = "DLC_effnet_lite0_demoJan1shuffle1_30"
N = 40


def _analyse(project, video: Path, folder: Path, dx: float) -> Path:
    """Write ``video``'s predictions into ``folder``: the truth moved by ``dx``."""
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth + dx, np.full(truth.shape[:2] + (1,), 0.95)], -1)
    xyp[17, 2, 0] += 60.0  # one outlier
    path = folder / f"{video.stem}{SCORER}.h5"
    write_predictions(predictions_frame(xyp, SCORER, project.bodyparts), path)
    return path


def _files(root: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def copied(tmp_path):
    """Make A (analysed) and B, its copy without videos, analysed into B/videos."""
    a = make_demo_project(tmp_path / "A", n_frames=N, n_labeled=4)
    a_video = a.videos()[0]
    a_h5 = _analyse(a, a_video, a_video.parent, dx=0.0)
    b_path = tmp_path / "B"
    shutil.copytree(a.path, b_path)
    for f in (b_path / "videos").iterdir():
        f.unlink()
    b = load_project(b_path)
    (video,) = b.source_videos()
    assert video == a_video  # B's config names A's video
    # where `posekit analyze B` puts it (no video list: nothing outside B)
    dest = _destinations(b, [video], None, own_videos=True)[video]
    assert Path(dest) == b_path / "videos"
    b_h5 = _analyse(b, video, Path(dest), dx=5.0)
    return a, a_h5, b, b_h5


def test_copy_reads_and_writes_only_its_own_analysis(copied, capsys) -> None:
    a, a_h5, b, b_h5 = copied
    before = _files(a.path)
    time.sleep(0.01)
    assert main(["filter", str(b.path)]) == 0
    out = capsys.readouterr().out
    assert f"read  {b_h5}" in out
    filtered = b_h5.with_name(b_h5.stem + "_filtered.h5")
    assert f"wrote {filtered}" in out and filtered.is_file()
    # B's own values (A's are 5 px off)
    diff = read_predictions(filtered).to_numpy() - read_predictions(b_h5).to_numpy()
    assert np.median(np.abs(diff)) < 1.0
    assert main(["labeled-video", str(b.path)]) == 0
    out = capsys.readouterr().out
    assert f"read  {b_h5}" in out
    (drawn,) = b.path.joinpath("videos").glob("*_labeled.mp4")
    assert str(drawn) in out
    assert main(["extract-outliers", str(b.path), "--criteria", "jump", "-n", "3"]) == 0
    capsys.readouterr()
    assert list((b.path / "labeled-data" / "session1").glob("machinelabels*"))
    assert _files(a.path) == before  # nothing written into A, nothing changed
    assert prediction_files(b)[:2] == [b_h5, filtered]

    # A's analyses deleted: B's steps still work
    for f in a_h5.parent.glob("*DLC_*"):
        f.unlink()
    assert main(["filter", str(b.path)]) == 0
    assert f"read  {b_h5}" in capsys.readouterr().out
    assert main(["extract-outliers", str(b.path), "--criteria", "jump", "-n", "3"]) == 0


def test_copy_without_its_own_analysis_says_it_reads_outside(
    copied, capsys, caplog
) -> None:
    a, a_h5, b, b_h5 = copied
    b_h5.unlink()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["filter", str(b.path)]) == 0
    out = capsys.readouterr().out
    assert f"read  {a_h5}" in out
    warned = [r.getMessage() for r in caplog.records if "OUTSIDE" in r.getMessage()]
    assert len(warned) == 1
    assert str(a_h5) in warned[0] and str(b.path / "videos") in warned[0]
    assert f"posekit analyze {b.path}" in warned[0]


def test_project_video_beside_its_predictions_unchanged(copied) -> None:
    a, a_h5, _, _ = copied
    assert prediction_files(a)[0] == a_h5
    assert os.path.dirname(a_h5) == str(a.path / "videos")
