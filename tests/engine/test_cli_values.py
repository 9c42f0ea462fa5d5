"""Values a user can get wrong on the command line: said, and nothing written.

Found by running the command line as a cluster user would: each of these used to run
and write a file that was empty of points, or to go on with the wrong data.
"""

from __future__ import annotations

import logging

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset, load_training_set
from posekit.engine.io.dlc import LabelError


def test_filter_refuses_values_that_remove_every_point(
    demo_project, fake_analysis, capsys
):
    fake_analysis(demo_project, {})
    h5 = demo_project.videos()[0].with_name(
        "session1DLC_effnet_lite0_demoJan1shuffle1_500.h5"
    )
    path = str(demo_project.path)
    assert main(["filter", path, str(h5), "--window", "5001"]) == 2
    assert "longer than the recording (120 frames" in capsys.readouterr().err
    assert main(["filter", path, str(h5), "--pcutoff", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert not list(h5.parent.glob("*_filtered.h5"))
    assert main(["filter", path, str(h5), "--window", "101"]) == 0  # fits 120 frames


def test_labeled_video_checks_its_values_and_files(demo_project, fake_analysis, capsys):
    fake_analysis(demo_project, {})
    path = str(demo_project.path)
    video = demo_project.videos()[0]
    missing = video.with_name("nonexist.mp4")
    assert main(["labeled-video", path, str(missing)]) == 2
    assert f"No video or predictions file at {missing}" in capsys.readouterr().err
    assert main(["labeled-video", path, str(video), "--pcutoff", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["labeled-video", path, str(video), "--dotsize", "-5"]) == 2
    assert "dotsize is a radius" in capsys.readouterr().err
    assert not list(video.parent.glob("*_labeled.mp4"))


def test_a_misspelt_bodypart_in_config_stops_training_and_evaluation(
    tiny_trained_copy, capsys
):
    """A label file's bodypart the config no longer names is not silently dropped.

    Trained first: evaluate refuses a shuffle without a network before it reads
    the labels.
    """
    trained = tiny_trained_copy("misspelt")
    config = trained.config_path
    config.write_text(config.read_text().replace("- leftear", "- lefteer"))
    from posekit.engine.project import load_project

    project = load_project(trained.path)
    try:
        load_training_set(project)
    except LabelError as err:
        assert "['leftear'] are in the training set" in str(err)
    else:
        raise AssertionError("the misspelt bodypart was not noticed")
    assert main(["evaluate", str(project.path)]) == 2
    assert "['leftear'] are in the training set" in capsys.readouterr().err


def test_a_new_shuffle_next_to_others_is_said_out_loud(demo_project, caplog):
    """``--shuffle 2`` where only shuffle 1 exists makes a new split, with a warning."""
    from posekit.engine.api import _ensure_training_set

    create_training_dataset(demo_project)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        _ensure_training_set(demo_project, 2)
    assert "shuffle 2 has no training set" in caplog.text
    assert "Shuffle(s) 1 exist" in caplog.text


def test_extract_outliers_takes_the_bodyparts_to_score(
    demo_project, fake_analysis, capsys
):
    """DeepLabCut's comparisonbodyparts, which its advice names, as --bodyparts."""
    create_training_dataset(demo_project)
    fake_analysis(demo_project, {17: 45.0})  # the error is on the ear (index 2)
    path = str(demo_project.path)
    args = ["extract-outliers", path, "--criteria", "jump", "--dry-run"]
    assert main([*args, "--bodyparts", "snout,tailbase"]) == 0
    assert "0 outlier frame(s) of 120" in capsys.readouterr().out
    assert main([*args, "--bodyparts", "rightear"]) == 0
    assert "frames: 17" in capsys.readouterr().out
