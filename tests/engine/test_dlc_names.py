"""A DeepLabCut script runs with ``import posekit.engine as deeplabcut``.

Its keyword names are renamed to posekit's (``maxiters``, ``plotting``, ``Shuffles``,
``batchsize``, ``filtertype``, ``windowlength``, ``trailpoints``, ``outlieralgorithm``,
``epsilon``, ``p_bound``, ``num_shuffles``), its hardware and interface ones
(``gputouse``, ``automatic``, ...) accepted and ignored; ``videotype`` chooses the
videos of a folder where a verb takes videos. DeepLabCut 3's ``epochs`` and
``save_epochs`` are converted into iterations, its ``engine=`` (``deeplabcut.Engine``)
is accepted, and ``trainingsetindex="all"`` runs ``evaluate_network`` over every
fraction.
"""

from __future__ import annotations

import logging
import math

import pytest

from posekit.engine import dlc_names
from posekit.engine.dataset import load_split
from posekit.engine.demo import make_demo_project
from posekit.engine.dlc_names import (
    Engine,
    dlc_keywords,
    one_shuffle,
    renamed,
    thresholds,
)


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


def test_augmenter_type_is_accepted_and_ignored(tmp_path) -> None:
    from posekit.engine import create_training_dataset

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    (split,) = create_training_dataset(project, augmenter_type="imgaug")  # ignored
    assert split.shuffle == 1


def test_outlier_algorithm_manual_says_what_to_do_instead(tmp_path) -> None:
    from posekit.engine import extract_outlier_frames

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=2, size=(160, 120))
    with pytest.raises(ValueError, match=r"outlieralgorithm='list', frames2use="):
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
    # DeepLabCut's save_as_csv=True default (QA s20: a DLC script got no .csv)
    assert filtered.with_suffix(".csv").is_file()
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
    # device (DeepLabCut 3's gputouse) and auto_track (True or False: posekit
    # tracks anyway, and DeepLabCut's next steps redo the tracking) are accepted:
    # the error is the missing network's, not an unknown keyword
    for auto_track in (True, False):
        with pytest.raises(FileNotFoundError, match="Train first"):
            deeplabcut.analyze_videos(
                config=config, videos=[video], device="cpu", auto_track=auto_track
            )
    with pytest.raises(TypeError, match=r"epochs=5 .*max_iterations= .*one of them"):
        deeplabcut.train_network(config, epochs=5, maxiters=100, device="cuda")
    with pytest.raises(TypeError, match=r"save_epochs=1 .*save_interval= .*=10"):
        deeplabcut.train_network(config, save_epochs=1, saveiters=10)
    with pytest.raises(TypeError, match="give one of them"):
        deeplabcut.filterpredictions(config, config=config)


class _FakeTrainer:
    """Stands in for ``Trainer``: keeps the config ``train_network`` built."""

    def __init__(self, model_config, train_config, out, **kwargs) -> None:
        self.train_config = train_config


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stop ``train_network`` before it trains; the list gets each run's config."""
    import posekit.engine.api as api
    import posekit.engine.training as training

    configs: list = []

    def run(trainer, ts, **kwargs):
        configs.append(trainer.train_config)
        return trainer.train_config

    monkeypatch.setattr(training, "Trainer", _FakeTrainer)
    monkeypatch.setattr(api, "_run_trainer", run)
    return configs


def test_epochs_are_converted_into_iterations(tmp_path, no_training, caplog) -> None:
    """DeepLabCut 3's ``epochs``/``save_epochs`` used to be refused."""
    import posekit.engine as deeplabcut

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=11, size=(160, 120))
    config = str(project.config_path)
    tiny = {"backbone": "mobilenet_v2_0.35", "weights": None, "progress": False}
    with caplog.at_level(logging.INFO, logger="posekit"):
        cfg = deeplabcut.train_network(
            config, epochs=7, save_epochs=2, batch_size=3, **tiny
        )
    n_train = len(load_split(project).train_indices)
    per_epoch = math.ceil(n_train / 3)
    assert (cfg.max_iterations, cfg.save_interval) == (7 * per_epoch, 2 * per_epoch)
    [line] = [r.getMessage() for r in caplog.records if "epochs=7" in r.getMessage()]
    assert line == (
        f"epochs=7 → {7 * per_epoch} iterations, save_epochs=2 → a snapshot every "
        f"{2 * per_epoch} ({per_epoch} batches of 3 per epoch: {n_train} training "
        "images)"
    )
    # without batch_size: the batch size the run uses, TrainConfig's 8
    cfg = deeplabcut.train_network(config, epochs=2, **tiny)
    assert cfg.max_iterations == 2 * math.ceil(n_train / 8)
    assert cfg.batch_size == 8 and cfg.save_interval == 5000  # posekit's default
    for wrong in (0, 2.5, "10"):
        with pytest.raises(TypeError, match=f"epochs={wrong!r}"):
            deeplabcut.train_network(config, epochs=wrong, **tiny)
    with pytest.raises(TypeError, match=r"epochs=3 .*max_iterations= \(maxiters=\)"):
        deeplabcut.train_network(config, epochs=3, max_iterations=10, **tiny)
    assert len(no_training) == 2


def test_epochs_of_a_multi_animal_project(tmp_path, monkeypatch) -> None:
    import posekit.engine.multianimal.api as multi
    from posekit.engine.api import train_network

    project = make_demo_project(
        tmp_path, n_frames=30, n_labeled=9, size=(160, 120), n_animals=2
    )
    assert project.multianimal
    got: dict = {}
    monkeypatch.setattr(multi, "train_multianimal", lambda p, **kw: got.update(kw))
    train_network(project, epochs=4, save_epochs=1, batch_size=2)
    per_epoch = math.ceil(len(load_split(project).train_indices) / 2)
    assert (got["max_iterations"], got["save_interval"]) == (4 * per_epoch, per_epoch)


def test_deeplabcut_engine_is_accepted(tmp_path, caplog, monkeypatch) -> None:
    """DeepLabCut 3's ``engine=`` and ``deeplabcut.Engine`` (a TypeError before)."""
    import posekit.engine as deeplabcut
    from posekit.engine import create_training_dataset, evaluate_network

    assert deeplabcut.Engine is Engine
    assert (Engine("torch"), Engine("PyTorch"), Engine("tf")) == (
        Engine.PYTORCH,
        Engine.PYTORCH,
        Engine.TF,
    )
    assert repr(Engine.TF) == "Engine.TF" and Engine.TF.value == "tensorflow"

    @dlc_keywords()
    def verb(config, *, shuffle=1):
        return shuffle

    monkeypatch.setattr(dlc_names, "_pytorch_noted", False)
    with caplog.at_level(logging.INFO, logger="posekit"):
        assert verb("c", engine=Engine.TF, shuffle=2) == 2
        assert verb("c", engine="tensorflow") == 1
        assert verb("c", engine=None) == 1
        assert not caplog.records  # TensorFlow: what posekit is, nothing to say
        assert verb("c", engine=Engine.PYTORCH) == 1
        assert verb("c", engine="pytorch") == 1
    [said] = caplog.records  # once per process
    assert said.levelno == logging.WARNING
    assert "own Keras network" in said.getMessage()
    assert "dlc-models-pytorch" in said.getMessage()
    with pytest.raises(TypeError, match=r"engine='jax'.*Engine.TF or Engine.PYTORCH"):
        verb("c", engine="jax")

    @dlc_keywords()
    def own(config, *, engine="x"):
        return engine

    assert own("c", engine="pytorch") == "pytorch"  # a verb's own engine= is its own
    # the real verbs, with a DeepLabCut 3 script's engine
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    config = str(project.config_path)
    (split,) = create_training_dataset(config, engine=deeplabcut.Engine.PYTORCH)
    assert split.shuffle == 1
    with pytest.raises(FileNotFoundError, match="Train first"):
        evaluate_network(config, Shuffles=[1], engine=deeplabcut.Engine.PYTORCH)


def test_trainingsetindex_all_runs_every_fraction_where_deeplabcut_does(
    tmp_path,
) -> None:
    """``trainingsetindex="all"`` (DeepLabCut's evaluate_network) was always refused."""
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    project.set("TrainingFraction", [0.5, 0.8, 0.95])
    project.save()
    config = str(project.config_path)

    @dlc_keywords(Shuffles=renamed("shuffle", one_shuffle), all_training_sets=tuple)
    def each(project, *, shuffle=1):
        return project.training_fractions[0], shuffle

    @dlc_keywords()
    def one(project, *, shuffle=1):
        return project.training_fractions[0]

    assert each(config, trainingsetindex="all", Shuffles=[2]) == (
        (0.5, 2),
        (0.8, 2),
        (0.95, 2),
    )
    assert each(config=config, trainingsetindex=1) == (0.8, 1)
    assert one(config, trainingsetindex=2) == 0.95
    with pytest.raises(TypeError, match="evaluate_network only.*once for each"):
        one(config, trainingsetindex="all")
    with pytest.raises(TypeError, match="needs a project"):
        each("no-such-folder", trainingsetindex="all")


def test_ignored_keywords_are_named_in_the_log(caplog) -> None:
    """The log line says which keyword it ignores (QA s18: "option (False)")."""
    from posekit.engine.dlc_names import ignored, refused

    @dlc_keywords(
        save_frames=refused("save_frames={value!r}: no", unless=lambda v: not v),
        showfigures=ignored("the figures are written to files"),
    )
    def create_labeled_video(config, *, trail_length=0):
        return trail_length

    with caplog.at_level(logging.INFO, logger="posekit"):
        create_labeled_video("config.yaml", save_frames=False, showfigures=True)
    said = [r.getMessage() for r in caplog.records]
    assert (
        "create_labeled_video: DeepLabCut's save_frames=False changes nothing here; "
        "ignored" in said
    )
    assert (
        "create_labeled_video: DeepLabCut's showfigures=True does not apply here: "
        "the figures are written to files" in said
    )
    with pytest.raises(TypeError, match="save_frames=True: no"):
        create_labeled_video("config.yaml", save_frames=True)


def test_a_videotype_that_leaves_out_every_video_given_does_nothing(
    tmp_path, fake_analysis, caplog, capsys
) -> None:
    """QA s22 (madlc), finding 1: no fallback to the project's videos.

    ``analyze_videos(config, [video], videotype=".avi")`` with an ``.mp4`` said the
    video was left out and then analysed every video of the project. As in
    DeepLabCut ("No video(s) were found"), nothing is done, and a warning says why;
    so for filtering, labelled videos, outlier frames, ``posekit analyze`` (exit
    status 2, the video named) and a multi-animal project. (Here the networks are
    not trained: the old fallback ended in "Train first" / "No predictions".)
    """
    from pathlib import Path

    import posekit.engine as deeplabcut
    from posekit.engine.cli import main

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    config = str(project.config_path)
    video = str(project.videos()[0])
    fake_analysis(project, {5: 40.0})
    files = sorted(p.name for p in Path(video).parent.iterdir())

    def said_no_video(outcome: str) -> bool:
        return any(
            r.levelno == logging.WARNING
            and r.getMessage().startswith("No video(s) were found: videotype='.avi'")
            and video in r.getMessage()
            and r.getMessage().endswith(
                f"{outcome}. Check the paths and the videotype (leave videotype out "
                "to take the videos as given); the project's videos are taken only "
                "when no video is given."
            )
            for r in caplog.records
        )

    with caplog.at_level(logging.WARNING, logger="posekit"):
        out = deeplabcut.analyze_videos(config, [video], videotype=".avi")
        assert list(out) == [] and list(out.failed) == [Path(video)]
        assert "videotype='.avi'" in out.failed[Path(video)]
        assert said_no_video("nothing is analysed")
        caplog.clear()  # one path, not in a list, as DeepLabCut takes it too
        assert list(deeplabcut.analyze_videos(config, video, videotype="avi")) == []
        caplog.clear()
        assert deeplabcut.filterpredictions(config, [video], videotype=".avi") == []
        assert said_no_video("nothing is filtered")
        assert deeplabcut.create_labeled_video(config, [video], videotype=".avi") == []
        assert said_no_video("no labelled video is made")
        assert (
            deeplabcut.extract_outlier_frames(
                config, [video], videotype=".avi", outlieralgorithm="jump"
            )
            == []
        )
        assert said_no_video("no frame is extracted")
    assert sorted(p.name for p in Path(video).parent.iterdir()) == files
    assert not (project.path / "labeled-data" / "session1" / "img005.png").exists()
    # the command line: the video named, exit status 2 (not a silent success)
    capsys.readouterr()
    assert main(["analyze", config, video, "--videotype", ".avi"]) == 2
    err = capsys.readouterr().err
    assert f"posekit analyze: not analysed: {video}: left out by videotype" in err
    # a multi-animal project: the same (its analysis has a path of its own)
    ma = make_demo_project(
        tmp_path / "ma", n_animals=2, n_frames=20, n_labeled=4, size=(160, 120)
    )
    ma_video = str(ma.videos()[0])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        out = deeplabcut.analyze_videos(ma, [ma_video], videotype=".avi")
    assert list(out) == [] and list(out.failed) == [Path(ma_video)]
    assert any("No video(s) were found" in r.getMessage() for r in caplog.records)


def test_deeplabcut_2_3_analysis_and_outlier_keywords(
    tmp_path, fake_analysis, caplog
) -> None:
    """QA s22 (madlc), finding 4: DLC 2.3's names ended in a bare ``TypeError``.

    ``analyze_videos``' ``robust_nframes`` (posekit counts the frames it decodes),
    ``calibrate`` and ``identity_only`` (``False`` accepted, ``True`` refused with
    what posekit does), and ``extract_outlier_frames``' ``copy_videos``.
    """
    import posekit.engine as deeplabcut

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    config = str(project.config_path)
    video = str(project.videos()[0])
    # accepted: the error is the missing network's, not an unknown keyword
    with (
        caplog.at_level(logging.INFO, logger="posekit"),
        pytest.raises(FileNotFoundError, match="Train first"),
    ):
        deeplabcut.analyze_videos(
            config, [video], robust_nframes=True, calibrate=False, identity_only=False
        )
    said = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith(
            "analyze_videos: DeepLabCut's robust_nframes=True does not apply here: "
            "posekit counts the frames it decodes"
        )
        for m in said
    )
    for name in ("calibrate", "identity_only"):
        assert (
            f"analyze_videos: DeepLabCut's {name}=False changes nothing here; ignored"
            in said
        )
    with pytest.raises(TypeError, match=r"calibrate=True: .*no calibration.*False"):
        deeplabcut.analyze_videos(config, [video], calibrate=True)
    with pytest.raises(TypeError, match=r"identity_only=True: .*no identity head"):
        deeplabcut.analyze_videos(config, [video], identity_only=True)
    fake_analysis(project, {})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        (outliers,) = deeplabcut.extract_outlier_frames(
            config, [video], outlieralgorithm="jump", epsilon=1e6, copy_videos=False
        )
    assert len(outliers.picked) == 0
    assert any(
        r.getMessage().startswith(
            "extract_outlier_frames: DeepLabCut's copy_videos=False does not apply "
            "here: a video whose frames are extracted"
        )
        for r in caplog.records
    )
    # track_method: a single-animal project's predictions are no tracks (ignored,
    # as DeepLabCut ignores it there)
    (outliers,) = deeplabcut.extract_outlier_frames(
        config, [video], outlieralgorithm="jump", track_method="ellipse"
    )
    assert outliers.predictions.name.endswith("shuffle1_500.h5")
