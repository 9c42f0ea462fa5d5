"""Two networks with one scorer name (QA s19 refineloop, finding 1).

DeepLabCut's scorer ``DLC_<net>_<Task><date>shuffle<k>_<steps>`` names no iteration:
every iteration trained to the same number of steps has the same one. Analysis and
``extract_outlier_frames`` tell the networks apart by the analysis' ``_meta.pickle``
(its iteration and model folder), not by the file name.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos, train_network
from posekit.engine.demo import load_ground_truth
from posekit.engine.inference import (
    PREVIOUS_ANALYSES_DIR,
    analysed_by_other_network,
    plan_analysis,
)
from posekit.engine.io.dlc import (
    analysis_metadata,
    predictions_frame,
    write_analysis_metadata,
    write_predictions,
)
from posekit.engine.project import load_project
from posekit.engine.refinement import (
    StaleAnalysisError,
    extract_outlier_frames,
    merge_datasets,
)

SCORER = "DLC_mobnet_35_demoJan1shuffle1_30"
MODEL = "dlc-models/iteration-{}/demoJan1-trainset80shuffle1/train/snapshot"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _model(project, iteration: int) -> dict:
    prefix = str(project.path / MODEL.format(iteration))
    return {"iteration": iteration, "snapshot_prefix": prefix}


def _fake_analysis(project, iteration: int | None) -> tuple[Path, Path]:
    """Write session1's ground truth as an analysis (+ csv, filtered, meta)."""
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.9)], -1)
    video = project.videos()[0]
    path = video.with_name(f"{video.stem}{SCORER}.h5")
    write_predictions(predictions_frame(xyp, SCORER, project.bodyparts), path)
    path.with_suffix(".csv").write_text("x\n")
    path.with_name(f"{path.stem}_filtered.h5").write_bytes(path.read_bytes())
    if iteration is not None:
        write_analysis_metadata(
            path.with_name(f"{path.stem}_meta.pickle"),
            {
                "iteration (active-learning)": iteration,
                "Scorer": SCORER,
                "DLC-model-config file": _model(project, iteration),
            },
        )
    return video, path


def test_plan_analysis_analyses_again_what_another_network_made(demo_project, caplog):
    video, path = _fake_analysis(demo_project, 0)
    before = {p.name: _md5(p) for p in path.parent.glob(f"{path.stem}*")}
    assert len(before) == 4  # .h5, .csv, _filtered.h5, _meta.pickle
    # the same network: analysed before, skipped (as ever)
    same = plan_analysis({video: None}, SCORER, model=_model(demo_project, 0))
    assert same.skipped == [path] and same.todo == []
    # iteration 1's network, same scorer name: analysed again, the old files kept
    with caplog.at_level(logging.WARNING, logger="posekit"):
        plan = plan_analysis({video: None}, SCORER, model=_model(demo_project, 1))
    assert plan.todo == [video] and plan.skipped == []
    kept = video.parent / PREVIOUS_ANALYSES_DIR / "iteration-0"
    assert {p.name: _md5(p) for p in kept.iterdir()} == before
    assert not list(path.parent.glob(f"{path.stem}*"))
    said = [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]
    assert len(said) == 1
    assert "iteration 0's network" in said[0] and str(kept) in said[0]
    # the moved analysis still reads with its meta (names unchanged)
    assert analysis_metadata(kept / path.name)["iteration (active-learning)"] == 0


def test_a_second_set_aside_of_the_same_iteration_goes_to_a_new_folder(demo_project):
    video, path = _fake_analysis(demo_project, 0)
    plan_analysis({video: None}, SCORER, model=_model(demo_project, 1))
    _fake_analysis(demo_project, 0)
    plan_analysis({video: None}, SCORER, model=_model(demo_project, 1))
    root = video.parent / PREVIOUS_ANALYSES_DIR
    assert sorted(p.name for p in root.iterdir()) == ["iteration-0", "iteration-0-2"]
    assert (root / "iteration-0-2" / path.name).is_file()


def test_an_analysis_without_meta_is_skipped_as_deeplabcut_does(demo_project):
    video, path = _fake_analysis(demo_project, None)
    plan = plan_analysis({video: None}, SCORER, model=_model(demo_project, 1))
    assert plan.skipped == [path] and plan.todo == []
    assert not (video.parent / PREVIOUS_ANALYSES_DIR).exists()
    assert analysed_by_other_network(path, _model(demo_project, 1)) is None


def test_another_model_folder_of_the_same_iteration_is_another_network(demo_project):
    _, path = _fake_analysis(demo_project, 0)
    other = {
        "iteration": 0,
        "snapshot_prefix": "/x/dlc-models/iteration-0/"
        "demoJan1-trainset95shuffle1/train/snapshot",
    }
    said = analysed_by_other_network(path, other)
    assert said == (
        "iteration 0's network (iteration-0/demoJan1-trainset80shuffle1/train)"
    )
    # the same folder in a project moved elsewhere: the same network
    moved = {"iteration": 0, "snapshot_prefix": "/elsewhere/" + MODEL.format(0)}
    assert analysed_by_other_network(path, moved) is None


# --------------------------------------------------------- the loop, end to end


def _train(project) -> None:
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=3,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )


def test_retrained_to_the_same_steps_is_analysed_again_and_refused_for_outliers(
    tiny_trained_copy, video_clip
):
    project = tiny_trained_copy("samesteps")  # iteration 0, snapshot-3
    clip = video_clip(project.videos()[0], 12)
    (out0,) = analyze_videos(project, [clip], progress=False)
    md5 = _md5(out0)
    assert analysis_metadata(out0)["iteration (active-learning)"] == 0
    merge_datasets(project, force=True)  # iteration 1, no new frames
    project = load_project(project.path)
    assert project.iteration == 1
    _train(project)  # iteration 1 to the same number of steps: the same scorer

    # (b) outliers from iteration 0's analysis (same file name) are refused ...
    with pytest.raises(StaleAnalysisError) as err:
        extract_outlier_frames(project, [clip], criteria=["jump"], n=1)
    text = str(err.value)
    assert f"{clip.name} was analysed by iteration 0's network" in text
    assert out0.name in text and "not by the network of iteration 1" in text
    assert "--use-older-analysis" in text
    labels = project.path / "labeled-data" / clip.stem
    assert not list(labels.glob("machinelabels*"))
    # ... and taken when asked for
    result = extract_outlier_frames(
        project, [clip], criteria=["jump"], n=1, allow_older=True, dry_run=True
    )
    assert any("iteration 0's network" in w for w in result[0].warnings)

    # (a) analysing again analyses it (another network), the old file kept
    (out1,) = analyze_videos(project, [clip], progress=False)
    assert out1 == out0 and analysis_metadata(out1)["iteration (active-learning)"] == 1
    kept = clip.parent / PREVIOUS_ANALYSES_DIR / "iteration-0" / out0.name
    assert _md5(kept) == md5
    assert analysis_metadata(kept)["iteration (active-learning)"] == 0
    assert len(pd.read_hdf(out1)) == 12
    # now the analysis is the current network's: extracted without a word
    extract_outlier_frames(project, [clip], criteria=["jump"], n=1, dry_run=True)
    # and analysing once more skips it (this network's, as before)
    again = analyze_videos(project, [clip], progress=False)
    assert again.skipped == [out1]
