"""The active-learning loop's failure modes (QA s16, findings 2–7).

Stale analyses in ``extract-outliers`` (chosen by the model, refused unless asked),
a merge killed at each step (the old state or the complete new one, and a rerun
completes it), training that would re-split after an interrupted merge, and what
merge and extract-outliers say.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset, load_split
from posekit.engine.demo import load_ground_truth
from posekit.engine.io.dlc import (
    predictions_frame,
    write_analysis_metadata,
    write_predictions,
)
from posekit.engine.labels import LabelError, LabelStore
from posekit.engine.postprocessing import network_predictions
from posekit.engine.project import load_project
from posekit.engine.refinement import (
    OutlierFrames,
    OutlierScores,
    StaleAnalysisError,
    extract_outlier_frames,
    merge_datasets,
)

SCORER = "DLC_effnet_lite0_demoJan1shuffle1_{}"


def analyse(project, iters: int, iteration: int | None, errors=None):
    """Write ground truth (+ errors) as a predictions file of a network, with meta."""
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.97)], -1)
    for f, dx in (errors or {}).items():
        xyp[f, 0, 0] += dx
    video = project.videos()[0]
    scorer = SCORER.format(iters)
    path = video.with_name(video.stem + scorer + ".h5")
    write_predictions(predictions_frame(xyp, scorer, project.bodyparts), path)
    if iteration is not None:
        write_analysis_metadata(
            path.with_name(path.stem + "_meta.pickle"),
            {"iteration (active-learning)": iteration, "Scorer": scorer},
        )
    return video, path


def label(project, frames, points=None):
    """Label frames with the ground truth (only ``points`` of them if given)."""
    truth, _ = load_ground_truth(project, "session1")
    store = LabelStore(project, "session1")
    for f in frames:
        idx = int(f.rsplit("img", 1)[1].split(".")[0])
        store.apply(
            f,
            {
                bp: tuple(truth[idx, j])
                for j, bp in enumerate(project.bodyparts)
                if points is None or bp in points
            },
        )


def older_network_only(project) -> None:
    """Go to iteration 1, whose network is not trained yet (iteration 0 had one)."""
    train = project.path / "dlc-models/iteration-0/demoJan1-trainset80shuffle1/train"
    train.mkdir(parents=True, exist_ok=True)
    (train / "snapshot-905.keras").touch()  # its network (never loaded here)
    project.set("iteration", 1)
    project.save(keys=["iteration"])


# ------------------------------------------------------------------ finding 2


def test_older_analyses_are_ordered_by_model_not_file_time(demo_project):
    _, it0 = analyse(demo_project, 905, 0)
    video, it1 = analyse(demo_project, 228, 1)
    # a copy (cp -r, rsync) makes the older network's file the newest by time
    os.utime(it1, (1_000_000, 1_000_000))
    os.utime(it0, (2_000_000, 2_000_000))
    assert network_predictions(demo_project, video)[:2] == [it1, it0]


def test_extract_outliers_refuses_an_older_networks_analysis(demo_project, capsys):
    create_training_dataset(demo_project)
    _, it0 = analyse(demo_project, 905, 0, {30: 60.0})
    os.utime(it0, (2_000_000, 2_000_000))
    older_network_only(demo_project)
    project = load_project(demo_project.path)
    with pytest.raises(StaleAnalysisError) as err:
        extract_outlier_frames(project, criteria=["jump"])
    text = str(err.value)
    assert it0.name in text and "iteration 0's network" in text
    assert "iteration 1 has no trained network" in text
    assert f"posekit analyze {project.path}" in text and "allow_older" in text
    assert not (project.path / "labeled-data/session1/img030.png").exists()
    path = str(project.path)
    assert main(["extract-outliers", path, "--criteria", "jump"]) == 2
    assert "--use-older-analysis" in capsys.readouterr().err
    # asked for: extracted, the source network named in the scorer and the summary
    assert (
        main(["extract-outliers", path, "--criteria", "jump", "--use-older-analysis"])
        == 0
    )
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "1 outlier frame(s) of 120" in first
    assert "WARNING: session1.mp4 was analysed by iteration 0's network" in first
    machine = project.path / "labeled-data/session1/machinelabels-iter1.h5"
    df = pd.read_hdf(machine, "df_with_missing")
    assert set(df.columns.get_level_values("scorer")) == {SCORER.format(905)}


# ------------------------------------------------------------------ finding 7


def test_summary_says_what_flagged_the_outliers_and_how_strongly():
    n = 20
    unc = np.zeros(n)
    unc[[3, 8]] = [1 - 0.45, 1 - 0.55]  # lowest likelihood 0.45 and 0.55
    scores = OutlierScores(
        {"jump": np.zeros(n), "uncertain": unc, "fitting": np.zeros(n)},
        {"jump": 20.0, "uncertain": 0.4, "fitting": 15.0},
        np.arange(n),
    )
    res = OutlierFrames(
        video=Path("v.mp4"),
        predictions=Path("p.h5"),
        scores=scores,
        candidates=np.array([3, 8]),
        picked=np.array([3, 8]),
        pcutoff=0.6,
    )
    line = res.summary()
    assert line.startswith("v.mp4: 2 outlier frame(s) of 20; 2 chosen")
    assert (
        "flagged by uncertain only (lowest likelihood 0.45–0.55 against p-cutoff "
        "0.6); jump 0, fitting 0 — the network may already be good: check "
        "`posekit evaluate`" in line
    )
    jump = np.zeros(n)
    jump[5] = 80.0
    scores.scores["jump"] = jump
    res.candidates = np.array([3, 5, 8])
    line = res.summary()
    assert "flagged by jump 1 (80–80 px against 20)" in line
    assert "uncertain 2 (lowest likelihood" in line and "fitting 0" in line
    assert "may already be good" not in line


# -------------------------------------------------------------- findings 3–6


@pytest.fixture
def ready_to_merge(demo_project):
    """Give iteration 0 with a split, 3 outlier frames extracted, 2 corrected."""
    create_training_dataset(demo_project)
    video, _ = analyse(demo_project, 500, None, {30: 60.0, 70: -60.0, 100: 50.0})
    (res,) = extract_outlier_frames(demo_project, [video], criteria=["jump"])
    rel = [f"labeled-data/session1/{p.name}" for p in res.images]
    label(demo_project, rel[:2])
    return demo_project, rel


def _test_frames(project, iteration):
    from posekit.engine.refinement import _doc_split

    return sorted(_doc_split(project, iteration, 1)[1])


@pytest.mark.parametrize(
    "step",
    [
        "posekit.engine.dataset._write_merged",
        "posekit.engine.dataset._write_documentation",
        "posekit.engine.project.Project.save",
    ],
)
def test_a_merge_killed_at_any_step_leaves_the_old_state_and_reruns(
    ready_to_merge, monkeypatch, step
):
    project, rel = ready_to_merge
    test0 = _test_frames(project, 0)
    assert test0

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as m:
        m.setattr(step, killed)
        with pytest.raises(KeyboardInterrupt):
            merge_datasets(project)
    # the old state: iteration 0 in config.yaml (and in memory)
    assert load_project(project.path).iteration == 0
    assert project.iteration == 0
    # a rerun completes it, with the old test frames
    result = merge_datasets(load_project(project.path))
    assert (result.previous_iteration, result.iteration) == (0, 1)
    after = load_project(project.path)
    assert after.iteration == 1
    assert _test_frames(after, 1) == test0
    assert set(rel[:2]) <= set(result.new_frames)


def test_an_interrupted_merge_is_finished_and_training_does_not_resplit(
    ready_to_merge,
):
    """The state an old merge left (iteration raised, no split): QA s16 finding 3."""
    from posekit.engine.api import _ensure_training_set

    project, rel = ready_to_merge
    test0 = _test_frames(project, 0)
    merge_datasets(project)
    for f in project.training_set_dir().glob("Documentation_data-*.pickle"):
        f.unlink()
    for f in project.training_set_dir().glob("*.mat"):
        f.unlink()
    project = load_project(project.path)
    assert project.iteration == 1
    with pytest.raises(FileNotFoundError, match=r"posekit merge .* again"):
        _ensure_training_set(project, 1)
    assert not list(project.training_set_dir().glob("Documentation_data-*"))
    result = merge_datasets(project)
    assert result.resumed and (result.previous_iteration, result.iteration) == (0, 1)
    assert "finished the interrupted merge" in result.summary()
    assert load_project(project.path).iteration == 1  # not raised again
    assert _test_frames(project, 1) == test0
    assert sorted(load_split(project).test_indices)  # training now finds it
    assert len(_ensure_training_set(project, 1).train_indices)


def test_merge_names_partial_frames_and_changed_test_frames(ready_to_merge):
    project, rel = ready_to_merge
    label(project, rel[2:], points=["leftear"])  # 1 of 6 points
    test0 = _test_frames(project, 0)
    store = LabelStore(project, "session1")
    truth, _ = load_ground_truth(project, "session1")
    frame = test0[0]
    idx = int(frame.rsplit("img", 1)[1].split(".")[0])
    store.apply(frame, {"snout": (truth[idx, 0, 0] + 8, truth[idx, 0, 1])})
    result = merge_datasets(project)
    name = rel[2].rsplit("/", 1)[-1]
    assert rel[2] in result.refined_frames  # merged as it is
    text = result.summary()
    assert f"{name}: 1 of 6 points labelled; its 5 other guess(es) were not" in text
    short = frame.rsplit("/", 1)[-1]
    assert (
        f"1 test frame's labels changed since iteration 0 ({short}): test errors "
        "of the two iterations are not directly comparable" in text
    )
    assert result.changed_test_frames == (frame,)


def test_merge_with_nothing_new_after_a_merge_says_so(ready_to_merge):
    project, rel = ready_to_merge
    merge_datasets(project)
    with pytest.raises(LabelError) as err:
        merge_datasets(load_project(project.path))
    text = str(err.value)
    assert "Nothing new to merge since iteration 1's training set" in text
    assert "1 extracted outlier frame(s)" in text and "still uncorrected" in text
    assert "none is corrected" not in text and "Refine page" not in text
    assert "refine.ipynb" in text and "2 · Refine" in text
    assert "--from-predictions" in text and "saved at once" in text


def test_summary_names_p_bound_when_it_is_not_the_p_cutoff():
    """QA s20: DLC's ``p_bound=0.2`` was called the p-cutoff (the config's is 0.6)."""
    n = 10
    unc = np.zeros(n)
    unc[[2, 7]] = [1 - 0.07, 1 - 0.15]
    res = OutlierFrames(
        video=Path("v.mp4"),
        predictions=Path("p.h5"),
        scores=OutlierScores({"uncertain": unc}, {"uncertain": 0.8}, np.arange(n)),
        candidates=np.array([2, 7]),
        picked=np.array([2, 7]),
        pcutoff=0.6,
    )
    line = res.summary()
    assert "(lowest likelihood 0.07–0.15 against p_bound 0.2)" in line
    assert "p-cutoff" not in line
