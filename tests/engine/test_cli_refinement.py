"""``posekit extract-outliers``, ``posekit merge`` and ``posekit label``.

The demo video is "analysed" by writing its ground truth, with errors at known frames,
as analyze_videos would name it; ``label --from-predictions`` uses a tiny trained
network.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.cli.extract_outliers import CRITERIA as CLI_CRITERIA
from posekit.engine.dataset import create_training_dataset
from posekit.engine.labels import LabelStore, read_visibility, update_visibility
from posekit.engine.project import load_project
from posekit.engine.refinement import CRITERIA, read_machine_labels


def test_cli_criteria_are_the_engines():
    assert {n: c.description for n, c in CRITERIA.items()} == CLI_CRITERIA


def test_extract_outliers_then_merge(demo_project, fake_analysis, capsys):
    path = str(demo_project.path)
    assert main(["merge", path]) == 2  # no training set yet
    assert "no training set yet" in capsys.readouterr().err
    create_training_dataset(demo_project)
    truth = fake_analysis(demo_project, {17: 45.0, 58: -50.0})
    assert main(["extract-outliers", path, "--criteria", "jump", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 outlier frame(s) of 120; 2 chosen, nothing extracted" in out
    assert "frames: 17, 58" in out
    # the counts by criterion say what they count (they looked wrong beside the total)
    assert "by criterion (frames extracted before included" in out
    assert not (demo_project.path / "labeled-data/session1/img017.png").exists()
    assert main(["extract-outliers", path, "--criteria", "jump", "--threshold",
                 "jump=60"]) == 0  # fmt: skip
    assert "0 outlier frame(s)" in capsys.readouterr().out
    assert main(["extract-outliers", path, "--criteria", "jump", "fitting"]) == 0
    out = capsys.readouterr().out
    assert "machinelabels-iter0.h5" in out and "posekit merge" in out
    machine = read_machine_labels(demo_project, "session1")
    assert sorted(machine) == [
        "labeled-data/session1/img017.png",
        "labeled-data/session1/img058.png",
    ]
    assert main(["merge", path]) == 2  # nothing corrected yet
    assert "Nothing to merge" in capsys.readouterr().err
    store = LabelStore(demo_project, "session1")
    frame = "labeled-data/session1/img017.png"
    store.apply(frame, {bp: tuple(truth[17, j]) for j, bp in enumerate(BPS)})
    assert main(["merge", path]) == 0
    out = capsys.readouterr().out
    assert "iteration 0 → 1: 1 new labelled frame(s) (1 refined" in out
    assert load_project(demo_project.path).iteration == 1
    assert main(["extract-outliers", path, "--threshold", "jump"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


def test_label_progress(demo_project, capsys):
    path = str(demo_project.path)
    assert main(["label", path]) == 0
    assert "session1: 12 of 12 frames done" in capsys.readouterr().out
    store = LabelStore(demo_project, "session1")
    frame = store.frames[0]
    store.clear_point(frame, "tailbase")
    assert main(["label", path]) == 0
    assert "session1: 11 of 12 frames done" in capsys.readouterr().out
    update_visibility(demo_project, "session1", not_visible_add=[(frame, "tailbase")])
    assert main(["label", path, "session1"]) == 0
    assert "project: 12 of 12 frames done" in capsys.readouterr().out


def test_label_marks_the_empty_points_of_labels_made_elsewhere(demo_project, capsys):
    """A frame labelled in DLC with a hidden part left empty counts as done once marked.

    A frame with no point at all stays work to do.
    """
    path = str(demo_project.path)
    store = LabelStore(demo_project, "session1")
    partly, empty = store.frames[0], store.frames[1]
    store.clear_point(partly, "tailbase")
    store.apply(empty, dict.fromkeys(demo_project.bodyparts, (np.nan, np.nan)))
    assert main(["label", path]) == 0
    out = capsys.readouterr().out
    assert "session1: 10 of 12 frames done" in out
    assert "1 frame(s) have some points but not all" in out
    assert main(["label", path, "--missing-not-visible"]) == 0
    out = capsys.readouterr().out
    assert "session1: 1 empty point(s) of labelled frames marked not visible" in out
    assert "session1: 11 of 12 frames done" in out
    marks = read_visibility(demo_project, "session1")["not_visible"]
    assert marks == {(partly, "tailbase")}
    assert main(["label", path, "--missing-not-visible"]) == 0  # nothing new
    assert "session1: 0 empty point(s)" in capsys.readouterr().out
    # the label file keeps NaN, as DeepLabCut writes it
    assert np.isnan(LabelStore(demo_project, "session1").get(partly)).sum() == 2


def test_label_progress_names_a_label_file_it_cannot_count(openfield_copy, capsys):
    """A renamed bodypart is an error that names the file, not "0 of 116 done".

    An added bodypart leaves every frame with work to do.
    """
    config = openfield_copy / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("- snout", "- nose"))
    assert main(["label", str(openfield_copy)]) == 2
    err = capsys.readouterr().err
    assert "CollectedData_Pranav.h5 has labels for bodyparts ['snout']" in err
    config.write_text(text.replace("- tailbase", "- tailbase\n- tailtip"))
    assert main(["label", str(openfield_copy)]) == 0
    assert "m4s1: 0 of 116 frames done" in capsys.readouterr().out
    config.write_text(text)
    assert main(["label", str(openfield_copy)]) == 0
    assert "m4s1: 116 of 116 frames done" in capsys.readouterr().out


@pytest.mark.slow
def test_label_from_predictions_prefills_frames(demo_project, capsys):
    from posekit.engine.api import train_network
    from posekit.engine.video import extract_frames

    path = str(demo_project.path)
    assert main(["label", path, "--from-predictions"]) == 2
    assert "Train first" in capsys.readouterr().err
    train_network(
        demo_project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    new = extract_frames(demo_project, demo_project.videos()[0], indices=[5, 6, 7])
    assert main(["label", path, "--from-predictions"]) == 0
    out = capsys.readouterr().out
    assert "session1: 3 frame(s) pre-filled" in out
    assert "session1: 12 of 15 frames done" in out
    machine = read_machine_labels(demo_project, "session1")
    assert sorted(machine) == [f"labeled-data/session1/{p.name}" for p in new]
    df = pd.read_hdf(
        demo_project.labeled_data_dir("session1") / "machinelabels-iter0.h5",
        "df_with_missing",
    )
    assert df.columns.get_level_values("scorer")[0].startswith("DLC_mobnet_35_demo")
    assert np.isfinite(df.to_numpy()).all()
    assert main(["label", path, "--from-predictions"]) == 0  # nothing new to predict
    assert "session1: 0 frame(s) pre-filled" in capsys.readouterr().out
