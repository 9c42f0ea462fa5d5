"""DeepLabCut config keys and defaults a DLC 2.3 user relies on (QA s19, dlcconfig).

- ``snapshotindex: all`` for analysis: DeepLabCut says it uses the last snapshot
  (index -1); posekit did the same in silence.
- ``default_augmenter`` other than posekit's template value: ignored in silence.
- ``create_labeled_video(config, videos)`` drew the skeleton (DeepLabCut's default is
  ``draw_skeleton=False``) and overwrote an existing labelled video, where
  DeepLabCut skips it ("Labeled video already created. Skipping...").
- extract-outliers' summary "9 outlier frame(s) of 15" on a 150-frame video did not
  say that the 15 were the config's start-stop range.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.project import load_project

pytestmark = pytest.mark.slow


def _set_keys(config: Path, **keys: str) -> None:
    """Edit config.yaml's text as a DeepLabCut user does (sed), key by key."""
    lines = config.read_text().splitlines()
    for key, value in keys.items():
        (i,) = [n for n, line in enumerate(lines) if line.startswith(f"{key}:")]
        lines[i] = f"{key}: {value}"
    config.write_text("\n".join(lines) + "\n")


def _frames(path: Path) -> np.ndarray:
    from posekit.engine.video import VideoReader

    with VideoReader(path) as reader:
        return np.stack([reader.read(i) for i in range(reader.n_frames)]).astype(int)


def _messages(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_dlc_config_keys_are_said_and_labelled_videos_follow_dlc(
    demo_project_ro, tmp_path, video_clip, caplog, capsys
):
    import posekit.engine as deeplabcut
    from posekit.engine.cli import main
    from posekit.engine.labeled_video import create_labeled_video as draw_video

    project = load_project(shutil.copytree(demo_project_ro.path, tmp_path / "p"))
    config = project.config_path
    # pcutoff 0: every point of the barely trained network is drawn (and each edge)
    _set_keys(config, default_augmenter="imgaug", snapshotindex="all", pcutoff="0.0")
    project = load_project(project.path)
    with caplog.at_level(logging.INFO, logger="posekit"):
        deeplabcut.train_network(
            str(config),
            backbone="mobilenet_v2_0.35",
            max_iterations=2,
            save_interval=1,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
            eval_interval=0,
        )
    (line,) = _messages(caplog, "default_augmenter")
    assert "'imgaug'" in line and "ignored" in line and "one augmentation" in line

    clip = video_clip(project.path / "videos" / "session1.mp4", 6)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        (h5,) = deeplabcut.analyze_videos(
            str(config), [str(clip)], progress=False, use_tflite=False
        )
    assert h5.name.endswith("shuffle1_2.h5")  # the newest of snapshots 1 and 2
    (line,) = _messages(caplog, "snapshotindex is 'all'")
    assert "newest snapshot (index -1)" in line and "evaluate_network" in line

    # DeepLabCut's create_labeled_video(config, videos): no skeleton by default
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        (labeled,) = deeplabcut.create_labeled_video(
            str(config), [str(clip)], codec="mjpeg", progress=False
        )
    plain = draw_video(
        clip,
        h5,
        tmp_path / "plain.avi",
        pcutoff=project.pcutoff,
        skeleton=project.skeleton,
        draw_skeleton=False,
        dotsize=project.display.dotsize,
        colormap=project.display.colormap,
        alpha=project.display.alphavalue,
        codec="mjpeg",
        progress=False,
    )
    assert project.skeleton  # there is a skeleton to draw
    assert np.array_equal(_frames(labeled), _frames(plain))
    first = labeled.stat().st_mtime_ns
    # again: kept, as DeepLabCut does, and said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        (again,) = deeplabcut.create_labeled_video(
            str(config), [str(clip)], codec="mjpeg", draw_skeleton=True
        )
    assert again == labeled and labeled.stat().st_mtime_ns == first
    (line,) = _messages(caplog, "Labeled video already created. Skipping...")
    assert str(labeled) in line
    # overwrite=True draws it again (here with the skeleton: other pixels)
    (again,) = deeplabcut.create_labeled_video(
        str(config),
        [str(clip)],
        codec="mjpeg",
        draw_skeleton=True,
        overwrite=True,
        progress=False,
    )
    assert again == labeled
    assert np.abs(_frames(labeled) - _frames(plain)).sum() > 0

    # the command line keeps its skeleton and overwrites, saying so
    before = _frames(labeled)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        code = main(
            [
                "labeled-video",
                str(project.path),
                str(clip),
                "--codec",
                "mjpeg",
                "--no-skeleton",
            ]
        )
    assert code == 0
    assert _messages(caplog, "overwriting") == [f"overwriting {labeled}"]
    assert np.array_equal(_frames(labeled), _frames(plain))
    assert not np.array_equal(before, _frames(labeled))
    assert f"wrote {labeled}" in capsys.readouterr().out


def test_outlier_summary_names_the_start_stop_range(demo_project, fake_analysis):
    from posekit.engine import extract_outlier_frames

    truth = fake_analysis(demo_project, {64: 80.0, 67: 80.0, 100: 80.0})
    n = len(truth)
    video = demo_project.videos()[0]
    lo, hi = int(np.floor(0.5 * n)), int(np.ceil(0.6 * n))
    assert lo < 64 < 67 < hi <= 100  # two errors inside the range, one outside
    _set_keys(demo_project.config_path, start="0.5", stop="0.6")
    project = load_project(demo_project.path)
    (res,) = extract_outlier_frames(
        project, [video], criteria=["jump"], n=5, dry_run=True
    )
    assert set(res.candidates) <= set(range(lo, hi)) and len(res.candidates)
    assert (
        f"outlier frame(s) of {hi - lo} (frames {lo}-{hi - 1}: config start 0.5, "
        "stop 0.6);"
    ) in res.summary()
    (res,) = extract_outlier_frames(
        project, [video], criteria=["jump"], n=5, dry_run=True, start=0.5, stop=0.6
    )
    assert f"of {hi - lo} (frames {lo}-{hi - 1}: start 0.5, stop 0.6);" in str(res)
    (whole,) = extract_outlier_frames(
        project, [video], criteria=["jump"], n=5, dry_run=True, start=0, stop=1
    )
    assert f"outlier frame(s) of {n}; " in whole.summary()
