"""DeepLabCut's ``extract_outlier_frames`` by its own names (QA s19, findings 3, 4, 6).

``outlieralgorithm="list"`` with ``frames2use`` extracts exactly those frames with the
analysis' rows as machine labels; ``jump``/``uncertain``/``fitting`` given as
``outlieralgorithm`` are DeepLabCut's definitions and defaults (posekit's own
criteria keep theirs); SARIMAX options are a warning; and merge's summary tells a
guess not accepted from a bodypart that had no guess.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import posekit.engine as deeplabcut
from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import load_ground_truth
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.labels import LabelStore
from posekit.engine.refinement import (
    extract_outlier_frames,
    jump_scores,
    merge_datasets,
    read_machine_labels,
)

SCORER = "DLC_effnet_lite0_demoJan1shuffle1_500"
# the demo's 12 labelled frames (never outlier candidates): 0 11 22 32 43 54 65 ...


def analyse(project, edit=None):
    """Write the ground truth (likelihood 0.97), edited by ``edit(xyp)``, as analysis."""
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.97)], -1)
    if edit is not None:
        edit(xyp)
    video = project.videos()[0]
    write_predictions(
        predictions_frame(xyp, SCORER, project.bodyparts),
        video.with_name(video.stem + SCORER + ".h5"),
    )
    return video, xyp


def config(project) -> str:
    return str(project.path / "config.yaml")


# ----------------------------------------------------------------- list (finding 3)


def test_list_extracts_exactly_those_frames_with_the_analysis_rows(demo_project):
    def edit(xyp):
        xyp[10, 1, :2] = np.nan  # no guess for leftear in frame 10
        xyp[24, :, 2] = np.linspace(0.1, 0.6, 6)

    video, xyp = analyse(demo_project, edit)
    (res,) = deeplabcut.extract_outlier_frames(
        config(demo_project),
        [str(video)],
        outlieralgorithm="list",
        frames2use=[24, 5, 10],
        automatic=True,
    )
    assert res.picked.tolist() == [5, 10, 24]
    # DeepLabCut's names: img + the index padded to the digits of the frame count
    assert [p.name for p in res.images] == ["img005.png", "img010.png", "img024.png"]
    assert all(p.is_file() for p in res.images)
    machine = read_machine_labels(demo_project, "session1")
    rel = [f"labeled-data/session1/img{i:03d}.png" for i in (5, 10, 24)]
    assert sorted(machine) == rel
    for name, i in zip(rel, (5, 10, 24), strict=True):
        np.testing.assert_allclose(machine[name], xyp[i], equal_nan=True)
    assert np.isnan(machine[rel[1]][1, :2]).all()
    # listed, not flagged: the summary does not call them outliers
    assert "3 listed frame(s) of 120; 3 extracted" in res.summary()


def test_list_on_the_command_line(demo_project, capsys):
    video, xyp = analyse(demo_project)
    code = main(
        ["extract-outliers", str(demo_project.path), str(video), "--frames", "7", "3"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "frames: 3, 7" in out
    assert "2 listed frame(s) of 120; 2 extracted" in out
    machine = read_machine_labels(demo_project, "session1")
    assert sorted(machine) == [
        "labeled-data/session1/img003.png",
        "labeled-data/session1/img007.png",
    ]
    np.testing.assert_allclose(machine["labeled-data/session1/img007.png"], xyp[7])


def test_list_refuses_what_it_cannot_extract(demo_project):
    video, _ = analyse(demo_project)
    with pytest.raises(ValueError, match=r"frames2use=\[\.\.\.\]"):
        deeplabcut.extract_outlier_frames(
            config(demo_project), [str(video)], outlieralgorithm="list"
        )
    with pytest.raises(ValueError, match=r"frames \[120, 500\] are not frames"):
        deeplabcut.extract_outlier_frames(
            config(demo_project),
            [str(video)],
            outlieralgorithm="list",
            frames2use=[3, 500, 120],
        )
    with pytest.raises(TypeError, match="whole numbers"):
        deeplabcut.extract_outlier_frames(
            config(demo_project),
            [str(video)],
            outlieralgorithm="list",
            frames2use=[2.5],
        )
    with pytest.raises(ValueError, match=r"outlieralgorithm='list', frames2use="):
        deeplabcut.extract_outlier_frames(
            config(demo_project), [str(video)], outlieralgorithm="manual"
        )
    assert not read_machine_labels(demo_project, "session1")  # nothing extracted


# --------------------------------------------------- DeepLabCut's criteria (finding 4)


def test_jump_previous_only_is_deeplabcuts_definition():
    xyp = np.zeros((6, 2, 3))
    xyp[:, 0, 0] = [0, 0, 0, 50, 50, 50]  # a step: DeepLabCut flags frame 3
    xyp[:, 1, 1] = [0, 0, 30, 0, 0, 0]  # away and back: frames 2 and 3
    assert jump_scores(xyp, previous_only=True).tolist() == [0, 0, 30, 50, 0, 0]
    assert jump_scores(xyp).tolist() == [0, 0, 30, 0, 0, 0]  # posekit's own


def _step_and_spike(xyp):
    xyp[40:, 0, 0] += 50.0  # snout steps 50 px at frame 40 and stays there
    xyp[70, 2, 1] += 60.0  # rightear is wrong in frame 70 only


def test_dlc_jump_flags_the_frame_after_a_step(demo_project):
    video, xyp = analyse(demo_project, _step_and_spike)
    # DeepLabCut's definition, computed independently
    step = np.sqrt((np.diff(xyp[..., :2], axis=0) ** 2).sum(-1))
    expected = (np.flatnonzero((step > 20).any(axis=1)) + 1).tolist()
    assert expected == [40, 70, 71]
    (dlc,) = deeplabcut.extract_outlier_frames(
        config(demo_project), [str(video)], outlieralgorithm="jump", dry_run=True
    )
    assert dlc.candidates.tolist() == expected
    (own,) = extract_outlier_frames(
        demo_project, [video], criteria=["jump"], dry_run=True
    )
    assert own.candidates.tolist() == [70]  # away from both neighbours only
    (eps,) = deeplabcut.extract_outlier_frames(
        config(demo_project),
        [str(video)],
        outlieralgorithm="jump",
        epsilon=55,
        dry_run=True,
    )
    assert eps.candidates.tolist() == [70, 71]  # 60 px > 55; the 50 px step is not


def test_dlc_uncertain_uses_p_bound_001(demo_project):
    def edit(xyp):
        xyp[20, 3, 2] = 0.005
        xyp[30, 1, 2] = 0.3  # below the demo's pcutoff 0.5, above 0.01

    video, _ = analyse(demo_project, edit)
    (dlc,) = deeplabcut.extract_outlier_frames(
        config(demo_project), [str(video)], outlieralgorithm="uncertain", dry_run=True
    )
    assert dlc.candidates.tolist() == [20]
    (bound,) = deeplabcut.extract_outlier_frames(
        config(demo_project),
        [str(video)],
        outlieralgorithm="uncertain",
        p_bound=0.4,
        dry_run=True,
    )
    assert bound.candidates.tolist() == [20, 30]
    (own,) = extract_outlier_frames(
        demo_project, [video], criteria=["uncertain"], dry_run=True
    )
    assert own.candidates.tolist() == [20, 30]  # posekit's own: the p-cutoff


def test_dlc_fitting_falls_back_to_twice_numframes2pick(demo_project):
    def edit(xyp):
        xyp[50, 4, 0] += 60.0

    video, _ = analyse(demo_project, edit)
    (own,) = extract_outlier_frames(
        demo_project, [video], criteria=["fitting"], n=3, dry_run=True
    )
    assert own.candidates.tolist() == [50]
    assert own.picked.tolist() == [50]  # posekit's own: no fallback
    (dlc,) = deeplabcut.extract_outlier_frames(
        config(demo_project),
        [str(video)],
        outlieralgorithm="fitting",
        n=3,
        extractionalgorithm="uniform",
        dry_run=True,
    )
    assert dlc.candidates.tolist() == [50]
    assert "the 6 most deviant frame(s) are the candidates" in dlc.summary()
    assert len(dlc.picked) == 3
    # the 6 most deviant free frames, by posekit's fitting score
    scores = dlc.scores.scores["fitting"]
    free = ~np.isin(
        dlc.scores.frames, [0, 11, 22, 32, 43, 54, 65, 76, 87, 97, 108, 119]
    )
    top6 = dlc.scores.frames[free][np.argsort(-scores[free])[:6]]
    assert set(dlc.picked.tolist()) <= set(top6.tolist())
    assert 50 in top6


def test_sarimax_options_warn_when_set(demo_project, caplog):
    video, _ = analyse(demo_project)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        deeplabcut.extract_outlier_frames(
            config(demo_project),
            [str(video)],
            outlieralgorithm="fitting",
            ARdegree=3,
            MAdegree=1,
            alpha=0.01,
            dry_run=True,
        )
    assert "SARIMAX" not in caplog.text  # DeepLabCut's defaults: nothing to say
    with caplog.at_level(logging.WARNING, logger="posekit"):
        deeplabcut.extract_outlier_frames(
            config(demo_project),
            [str(video)],
            outlieralgorithm="fitting",
            ARdegree=5,
            dry_run=True,
        )
    warned = [r for r in caplog.records if "ARdegree=5" in r.getMessage()]
    assert warned and warned[0].levelno == logging.WARNING
    assert "Savitzky" in warned[0].getMessage()


# ------------------------------------------------------------ merge (finding 6)


def test_merge_tells_no_guess_from_a_guess_not_accepted(demo_project):
    create_training_dataset(demo_project)

    def edit(xyp):
        xyp[30, 1, :2] = np.nan  # the network did not predict leftear in frame 30

    video, _ = analyse(demo_project, edit)
    deeplabcut.extract_outlier_frames(
        config(demo_project),
        [str(video)],
        outlieralgorithm="list",
        frames2use=[30, 70],
        allow_older=True,  # the demo's analysis: no network of iteration 0's split
    )
    truth, _ = load_ground_truth(demo_project, "session1")
    store = LabelStore(demo_project, "session1")
    bps = demo_project.bodyparts
    store.apply(  # accepted without leftear, which had no guess
        "labeled-data/session1/img030.png",
        {bp: tuple(truth[30, j]) for j, bp in enumerate(bps) if bp != "leftear"},
    )
    store.apply(  # one point corrected, the 5 other guesses not accepted
        "labeled-data/session1/img070.png", {"snout": tuple(truth[70, 0])}
    )
    text = merge_datasets(demo_project).summary()
    lines = {line.split(":")[0]: line for line in text.splitlines()}
    assert lines["img030.png"] == (
        "img030.png: 5 of 6 points labelled; 1 bodypart(s) have neither a label nor "
        "a guess (label them or mark them not visible in the refine app and merge "
        "again, if the animal shows them)"
    )
    assert "guess(es) were not accepted" not in lines["img030.png"]
    assert lines["img070.png"].startswith(
        "img070.png: 1 of 6 points labelled; its 5 other guess(es) were not accepted"
    )
    assert "neither" not in lines["img070.png"]
