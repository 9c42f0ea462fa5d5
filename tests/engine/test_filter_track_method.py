"""Several animals: ``filter`` and ``labeled-video`` read the config's tracker.

QA s18 (finding 1): after ``posekit analyze --track-method box``, ``posekit filter``
and ``posekit labeled-video`` took the newest tracks file (``…_bx.h5``) instead of the
config's ``default_track_method`` (``…_el.h5``, the tracks whose identities the user
corrected), and said nothing. DeepLabCut's ``filterpredictions`` and
``create_labeled_video`` default to ``default_track_method``; both commands now take
``--track-method`` and print the file read and the file written.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.cli import build_parser, main
from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_predictions, write_predictions
from posekit.engine.multianimal.tracking import TRACK_METHODS
from posekit.engine.postprocessing import track_method_of

SCORER = "DLC_mobnet_35_social2Jan1shuffle1_1404"


@pytest.fixture(scope="module")
def social(tmp_path_factory):
    """Two-mouse demo with ``_el`` tracks (the truth) and newer ``_bx`` tracks.

    The box tracker's file has the animals swapped, so the file a command read shows
    in its output.
    """
    project = make_demo_project(
        tmp_path_factory.mktemp("tracks"),
        n_frames=24,
        n_labeled=0,
        n_animals=2,
        size=(160, 120),
    )
    assert project.get("default_track_method") == "ellipse"
    truth = read_predictions(project.path / "ground-truth" / "session1_keypoints.h5")
    truth = truth.rename(columns={"GroundTruth": SCORER}, level="scorer")
    swapped = truth.rename(
        columns={"mouse1": "mouse2", "mouse2": "mouse1"}, level="individuals"
    )[truth.columns]
    swapped.columns = truth.columns
    videos = project.path / "videos"
    el = write_predictions(truth, videos / f"session1{SCORER}_el.h5", key="tracks")
    bx = write_predictions(swapped, videos / f"session1{SCORER}_bx.h5", key="tracks")
    now = time.time()
    os.utime(el, (now - 600, now - 600))  # the box tracker ran last
    return project, el, bx


def _printed(out: str) -> list[tuple[str, str]]:
    """``[("read", file and note), ("wrote", file)]`` as the command printed them."""
    return [tuple(line.split(maxsplit=1)) for line in out.strip().splitlines()]


def _mouse1_snout_x(path: Path) -> np.ndarray:
    df = read_predictions(path)
    scorer = df.columns.get_level_values("scorer")[0]
    return df[(scorer, "mouse1", "snout", "x")].to_numpy()


def test_filter_reads_the_configs_tracker_not_the_newest(social, capsys) -> None:
    project, el, bx = social
    assert main(["filter", str(project.path), "--window", "3"]) == 0
    printed = _printed(capsys.readouterr().out)
    out = el.with_name(el.stem + "_filtered.h5")
    assert printed == [
        ("read", f"{el} (tracks of 'ellipse', the config's default_track_method)"),
        ("wrote", str(out)),
    ]
    # the values are the ellipse tracks', not the box tracks' (animals swapped)
    x = _mouse1_snout_x(out)
    assert np.nanmean(np.abs(x - _mouse1_snout_x(el))) < 3
    assert np.nanmean(np.abs(x - _mouse1_snout_x(bx))) > 10

    assert main(["filter", str(project.path), "--track-method", "box"]) == 0
    assert _printed(capsys.readouterr().out) == [
        ("read", f"{bx} (tracks of 'box')"),
        ("wrote", str(bx.with_name(bx.stem + "_filtered.h5"))),
    ]


def test_labeled_video_reads_the_configs_tracker(social, capsys) -> None:
    project, el, bx = social
    argv = ["labeled-video", str(project.path), "--codec", "mjpeg"]
    assert main(argv) == 0
    (read, wrote) = _printed(capsys.readouterr().out)
    assert read == (
        "read",
        f"{el} (tracks of 'ellipse', the config's default_track_method)",
    )
    assert wrote[0] == "wrote"
    assert Path(wrote[1]).name == f"{el.stem}_bp_p50_labeled.avi"  # DLC's name
    assert Path(wrote[1]).is_file()
    assert main([*argv, "--track-method", "box"]) == 0
    (read, wrote) = _printed(capsys.readouterr().out)
    assert read == ("read", f"{bx} (tracks of 'box')")
    assert Path(wrote[1]).name == f"{bx.stem}_bp_p50_labeled.avi"
    # --filtered: the ellipse tracks' _filtered.h5 (DeepLabCut's key), read by posekit
    assert main(["filter", str(project.path), "--window", "3"]) == 0
    capsys.readouterr()
    assert main([*argv, "--filtered"]) == 0
    (read, wrote) = _printed(capsys.readouterr().out)
    filtered = el.with_name(el.stem + "_filtered.h5")
    assert read[1].startswith(f"{filtered} (tracks of 'ellipse'")
    assert Path(wrote[1]).name == f"{filtered.stem}_bp_p50_labeled.avi"


def test_python_functions_default_to_the_configs_tracker(social) -> None:
    import posekit.engine as deeplabcut

    project, el, bx = social
    config = str(project.config_path)
    assert deeplabcut.filterpredictions(config, windowlength=3) == [
        el.with_name(el.stem + "_filtered.h5")
    ]
    # DeepLabCut's own default, track_method=""
    assert deeplabcut.filterpredictions(config, track_method="", windowlength=3) == [
        el.with_name(el.stem + "_filtered.h5")
    ]
    assert deeplabcut.filterpredictions(config, track_method="box") == [
        bx.with_name(bx.stem + "_filtered.h5")
    ]
    (video,) = deeplabcut.create_labeled_video(config, codec="mjpeg", progress=False)
    assert video.name == f"{el.stem}_bp_p50_labeled.avi"
    # a file given is read as it is
    (out,) = deeplabcut.filterpredictions(config, [str(bx)], windowlength=3)
    assert out == bx.with_name(bx.stem + "_filtered.h5")


def test_missing_tracks_of_the_tracker_name_the_others(social, tmp_path) -> None:
    project, _, bx = social
    video = tmp_path / "other.mp4"
    shutil.copy(project.path / "videos" / "session1.mp4", video)
    shutil.copy(bx, tmp_path / f"other{SCORER}_bx.h5")
    from posekit.engine.api import filter_predictions

    with pytest.raises(FileNotFoundError) as err:
        filter_predictions(project, [video])
    message = str(err.value)
    assert "tracked by 'ellipse' (…_el.h5)" in message
    assert f"other{SCORER}_bx.h5 (track_method='box')" in message
    assert "--track-method" in message and "default_track_method" in message
    assert main(["filter", str(project.path), str(video), "--track-method", "box"]) == 0


def test_a_config_tracker_posekit_does_not_have_is_explained(social) -> None:
    project, _, _ = social
    project.cfg["default_track_method"] = "transformer"
    try:
        with pytest.raises(ValueError, match=r"default_track_method is 'transformer'"):
            track_method_of(project)
        assert track_method_of(project, "box") == "box"
    finally:
        project.cfg["default_track_method"] = "ellipse"


def test_the_option_offers_posekits_trackers() -> None:
    parser = build_parser()
    for command in ("filter", "labeled-video", "analyze"):
        args = parser.parse_args([command, "p", "--track-method", "keypoints"])
        assert args.track_method == "keypoints"
        with pytest.raises(SystemExit):
            parser.parse_args([command, "p", "--track-method", "skeleton"])
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("filter", "labeled-video"):
        option = next(
            a for a in sub.choices[command]._actions if a.dest == "track_method"
        )
        assert list(option.choices) == list(TRACK_METHODS)
