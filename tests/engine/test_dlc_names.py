"""A DeepLabCut script runs with ``import posekit.engine as deeplabcut``.

Its keyword names are renamed to posekit's (``maxiters``, ``plotting``, ``Shuffles``,
``batchsize``, ``filtertype``, ``windowlength``, ``trailpoints``, ``outlieralgorithm``,
``epsilon``, ``p_bound``, ``num_shuffles``), its hardware and interface ones
(``gputouse``, ``automatic``, ...) accepted and ignored; ``videotype`` chooses the
videos of a folder where a verb takes videos.
"""

from __future__ import annotations

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.dlc_names import dlc_keywords, one_shuffle, renamed, thresholds


def test_a_deeplabcut_script_runs_unchanged(tmp_path) -> None:
    import posekit.engine as deeplabcut

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=6, size=(160, 120))
    config = str(project.config_path)
    video = str(project.videos()[0])
    (split,) = deeplabcut.create_training_dataset(config, num_shuffles=1)
    assert split.shuffle == 1
    result = deeplabcut.train_network(
        config,
        shuffle=1,
        trainingsetindex=0,
        maxiters=2,
        saveiters=1,
        displayiters=1,
        gputouse=None,
        allow_growth=True,
        # posekit's own, to keep the test short
        backbone="mobilenet_v2_0.35",
        weights=None,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
    )
    assert result.iteration == 2
    # saveiters=1: a snapshot per iteration
    assert sorted(p.name for p in result.train_dir.glob("snapshot-*.keras")) == [
        "snapshot-1.keras",
        "snapshot-2.keras",
    ]
    table = deeplabcut.evaluate_network(config, Shuffles=[1], plotting=False)
    assert int(table["Training iterations:"].iloc[0]) == 2
    (h5,) = deeplabcut.analyze_videos(
        config, [video], videotype=".mp4", save_as_csv=True, batchsize=4, gputouse=None
    )
    assert h5.with_suffix(".csv").is_file()
    (filtered,) = deeplabcut.filter_predictions(
        config, [video], filtertype="median", windowlength=3, videotype="mp4"
    )
    assert filtered.name.endswith("_filtered.h5")
    (labeled,) = deeplabcut.create_labeled_video(
        config, [video], trailpoints=2, draw_skeleton=True, fastmode=True
    )
    assert labeled.is_file()
    (outliers,) = deeplabcut.extract_outlier_frames(
        config, [video], outlieralgorithm="jump", epsilon=1e6, automatic=True
    )
    assert list(outliers.scores.scores) == ["jump"]
    assert outliers.scores.thresholds["jump"] == 1e6 and len(outliers.picked) == 0


def test_names_are_converted_and_conflicts_are_errors() -> None:
    @dlc_keywords(
        Shuffles=renamed("shuffle", one_shuffle),
        epsilon=thresholds(jump=float, fitting=float),
        p_bound=thresholds(uncertain=lambda p: 1.0 - p),
    )
    def verb(config, *, shuffle=1, thresholds=None):
        return shuffle, thresholds

    assert verb("c", Shuffles=[3]) == (3, None)
    assert verb("c", epsilon=12, p_bound=0.25, videotype="avi") == (
        1,
        {"jump": 12.0, "fitting": 12.0, "uncertain": 0.75},
    )
    with pytest.raises(TypeError, match="give one of them"):
        verb("c", Shuffles=[1], shuffle=2)
    with pytest.raises(TypeError, match="one shuffle per call"):
        verb("c", Shuffles=[1, 2])
    with pytest.raises(TypeError, match="needs a project .* as the first argument"):
        verb("c", trainingsetindex=1)  # "c" is no project: nothing to choose in
    with pytest.raises(TypeError, match="once for each fraction"):
        verb("c", trainingsetindex="all")
    with pytest.raises(TypeError, match="unexpected keyword argument 'pcutoff'"):
        verb("c", pcutoff=0.9)  # not a DeepLabCut name here: Python's own error


def test_a_setting_posekit_takes_elsewhere_says_where(tmp_path) -> None:
    from posekit.engine import create_training_dataset

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    with pytest.raises(TypeError, match=r"train_network\(config, backbone='resnet_50'"):
        create_training_dataset(project, net_type="resnet_50")
    assert not project.training_set_dir().exists()
    (split,) = create_training_dataset(project, augmenter_type="imgaug")  # ignored
    assert split.shuffle == 1


def test_outlier_algorithm_manual_says_what_to_do_instead(tmp_path) -> None:
    from posekit.engine import extract_outlier_frames

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=2, size=(160, 120))
    with pytest.raises(ValueError, match="extract_frames.*indices"):
        extract_outlier_frames(project, outlieralgorithm="manual")


def test_videotype_chooses_the_videos_of_a_folder(tmp_path, fake_analysis) -> None:
    """``analyze_videos(config, [folder], videotype=".avi")`` as in DeepLabCut.

    It used to be ignored: every video of the folder was taken.
    """
    import shutil

    import posekit.engine as deeplabcut
    from posekit.engine.api import video_predictions
    from posekit.engine.project import list_videos

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    video = project.videos()[0]
    folder = tmp_path / "session"
    folder.mkdir()
    shutil.copy(video, folder / "a.mp4")
    shutil.copy(video, folder / "b.avi")  # the name says avi; only the suffix counts
    assert list_videos([folder], ".avi") == [folder / "b.avi"]
    assert list_videos([folder], ["mp4", "AVI"]) == [folder / "a.mp4", folder / "b.avi"]
    assert list_videos([folder]) == [folder / "a.mp4", folder / "b.avi"]
    assert list_videos([folder / "a.mp4"], "avi") == []  # named, but not an .avi
    with pytest.raises(ValueError, match=r"No video in the folder .*\.mov"):
        list_videos([folder], ".mov")
    # through the verbs: the predictions of the .mp4 only
    fake_analysis(project, {})
    shutil.copy(
        next(video.parent.glob("session1DLC_*.h5")),
        folder / "aDLC_effnet_lite0_demoJan1shuffle1_500.h5",
    )
    (found,) = video_predictions(project, [folder], videotype="mp4")
    assert found.name.startswith("aDLC_")
    (filtered,) = deeplabcut.filter_predictions(
        str(project.config_path), [folder], videotype=".mp4", windowlength=3
    )
    assert filtered.name.startswith("aDLC_") and filtered.name.endswith("_filtered.h5")


def test_more_deeplabcut_keywords_run_or_say_what_instead(
    tmp_path, fake_analysis
) -> None:
    """DeepLabCut's everyday keywords (QA s15, finding 3).

    ``config=``/``video=`` by keyword, DeepLabCut 3's ``device``, ``auto_track``,
    ``save_frames``, ``displaycropped``, ``outputframerate``, ``track_method``, the
    ARIMA settings, ``epochs``: each was a bare ``TypeError``/``ValueError``.
    """
    import cv2

    import posekit.engine as deeplabcut

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    config = str(project.config_path)
    video = str(project.videos()[0])
    fake_analysis(project, {})
    (filtered,) = deeplabcut.filterpredictions(
        config=config, video=[video], p_bound=0.01, ARdegree=3, MAdegree=1, alpha=0.01
    )
    assert filtered.name.endswith("_filtered.h5")
    with pytest.raises(ValueError, match=r"filtertype='arima'.*'kalman'.*pcutoff"):
        deeplabcut.filterpredictions(config, [video], filtertype="arima")
    with pytest.raises(FileNotFoundError, match=r"tracked by 'box' \(…_bx"):
        deeplabcut.filterpredictions(config, [video], track_method="box")
    with pytest.raises(ValueError, match="track_method='skeleton'"):
        deeplabcut.create_labeled_video(config, [video], track_method="skeleton")
    (labeled,) = deeplabcut.create_labeled_video(
        config=config,
        videos=[video],
        save_frames=False,
        displaycropped=True,
        outputframerate=7,
        keypoints_only=False,
        Frames2plot=None,
        displayedindividuals="all",
        progress=False,
    )
    reader = cv2.VideoCapture(str(labeled))
    assert reader.get(cv2.CAP_PROP_FPS) == pytest.approx(7)
    reader.release()
    with pytest.raises(TypeError, match=r"save_frames=True.*VideoReader"):
        deeplabcut.create_labeled_video(config, [video], save_frames=True)
    for name, value, hint in (
        ("keypoints_only", True, "blank background"),
        ("Frames2plot", [1, 2], "every frame"),
        ("displayedindividuals", ["mus1"], "color_by='individual'"),
    ):
        with pytest.raises(TypeError, match=f"{name}=.*{hint}"):
            deeplabcut.create_labeled_video(config, [video], **{name: value})
    with pytest.raises(TypeError, match="auto_track=False.*_assemblies.pickle"):
        deeplabcut.analyze_videos(config, [video], auto_track=False)
    # device (DeepLabCut 3's gputouse) and auto_track=True are accepted: the error
    # is the missing network's, not an unknown keyword
    with pytest.raises(FileNotFoundError, match="Train first"):
        deeplabcut.analyze_videos(
            config=config, videos=[video], device="cpu", auto_track=True
        )
    with pytest.raises(TypeError, match=r"epochs=5 .*max_iterations="):
        deeplabcut.train_network(config, epochs=5, device="cuda")
    with pytest.raises(TypeError, match=r"save_epochs=1 .*save_interval="):
        deeplabcut.train_network(config, save_epochs=1)
    with pytest.raises(TypeError, match="give one of them"):
        deeplabcut.filterpredictions(config, config=config)
