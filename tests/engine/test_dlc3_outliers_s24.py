"""extract-outliers takes DeepLabCut 3's own analysis of a shuffle DeepLabCut trained.

A lab that trained shuffle 1 with DeepLabCut 3 (PyTorch, ``dlc-models-pytorch/``) and
analysed with it (``<video>DLC_Resnet50_<task><date>shuffle1_snapshot_200.h5``) was
refused by ``posekit extract-outliers`` as "an older network's analysis" ("iteration 0
has no trained network of shuffle 1 yet"): the stale check knew posekit's scorers only.
The analysis of the shuffle's current DeepLabCut network is now taken as it is, and an
analysis by another epoch, iteration or shuffle is still refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.demo import load_ground_truth
from posekit.engine.io.dlc import (
    predictions_frame,
    write_analysis_metadata,
    write_predictions,
)
from posekit.engine.refinement import (
    StaleAnalysisError,
    extract_outlier_frames,
    older_analysis,
)


def dlc3_network(project, epochs=(100, 200), shuffle: int = 1) -> None:
    """Lay out DeepLabCut 3's PyTorch snapshots of ``shuffle`` (never loaded here)."""
    name = project.model_dir(shuffle).name
    train = (
        (project.path / "dlc-models-pytorch" / f"iteration-{project.iteration}")
        / name
        / "train"
    )
    train.mkdir(parents=True)
    for epoch in epochs:
        (train / f"snapshot-{epoch:03d}.pt").write_bytes(b"")
    (train / f"snapshot-best-{max(epochs):03d}.pt").write_bytes(b"")


def dlc3_analysis(project, epoch: int, shuffle: int = 1, iteration: int | None = 0):
    """DeepLabCut 3's analysis of session1 (ground truth, one jump at frame 30)."""
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.97)], -1)
    xyp[30, 0, 0] += 60.0
    video = project.videos()[0]
    scorer = (
        f"DLC_Resnet50_{project.task}{project.date}shuffle{shuffle}_snapshot_{epoch}"
    )
    path = video.with_name(video.stem + scorer + ".h5")
    write_predictions(predictions_frame(xyp, scorer, project.bodyparts), path)
    if iteration is not None:
        write_analysis_metadata(
            path.with_name(path.stem + "_meta.pickle"),
            {"iteration (active-learning)": iteration, "Scorer": scorer},
        )
    return video, path, scorer


def test_the_current_deeplabcut_3_network_s_analysis_is_not_stale(demo_project):
    dlc3_network(demo_project)
    video, path, scorer = dlc3_analysis(demo_project, 200)
    assert older_analysis(demo_project, video, path) is None
    (result,) = extract_outlier_frames(demo_project, criteria=["jump"])
    assert 30 in result.picked.tolist() and not result.warnings
    machine = demo_project.path / "labeled-data/session1/machinelabels-iter0.h5"
    df = pd.read_hdf(machine, "df_with_missing")
    assert set(df.columns.get_level_values("scorer")) == {scorer}
    # an earlier epoch DeepLabCut kept is one of the shuffle's snapshots too
    video, path, _ = dlc3_analysis(demo_project, 100, iteration=None)
    assert older_analysis(demo_project, video, path) is None


def test_another_epoch_iteration_or_shuffle_is_still_refused(demo_project, capsys):
    dlc3_network(demo_project)
    video, unknown_epoch, _ = dlc3_analysis(demo_project, 150)
    why = older_analysis(demo_project, video, unknown_epoch) or ""
    assert "not by the network of iteration 0 (shuffle 1: DeepLabCut 3" in why
    assert "snapshots 100, 200" in why
    _, old_iteration, _ = dlc3_analysis(demo_project, 200, iteration=-1)
    assert "iteration -1's network" in (
        older_analysis(demo_project, video, old_iteration) or ""
    )
    for path in (unknown_epoch, old_iteration):
        path.unlink()
    _, shuffle2, _ = dlc3_analysis(demo_project, 200, shuffle=2)
    assert older_analysis(demo_project, video, shuffle2)  # shuffle 1 asked for
    with pytest.raises(StaleAnalysisError, match="use-older-analysis|allow_older"):
        extract_outlier_frames(demo_project, criteria=["jump"])
    shuffle2.unlink()
    dlc3_analysis(demo_project, 200)
    assert main(["extract-outliers", str(demo_project.path), "--criteria", "jump"]) == 0
    assert "outlier frame(s)" in capsys.readouterr().out


def test_deeplabcut_2_s_own_network_s_analysis_is_not_stale(demo_project):
    train = demo_project.model_dir(1) / "train"
    train.mkdir(parents=True)
    for part in ("meta", "index", "data-00000-of-00001"):
        (train / f"snapshot-200000.{part}").write_bytes(b"")
    video = demo_project.videos()[0]
    scorer = f"DLC_resnet50_{demo_project.task}{demo_project.date}shuffle1_200000"
    path = video.with_name(video.stem + scorer + ".h5")
    truth, _ = load_ground_truth(demo_project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.97)], -1)
    write_predictions(predictions_frame(xyp, scorer, demo_project.bodyparts), path)
    assert older_analysis(demo_project, video, path) is None
    other = path.with_name(path.name.replace("_200000", "_100000"))
    path.rename(other)
    assert "DeepLabCut 2, snapshots 200000" in (
        older_analysis(demo_project, video, other) or ""
    )
