"""The ``posekit`` command line (in-process through ``main``, plus the real entry point)."""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from posekit.engine.cli import build_parser, main
from posekit.engine.project import Project


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return list(sub.choices)


SUBCOMMANDS = _subcommands()


def test_every_subcommand_has_a_handler() -> None:
    from posekit.engine.cli import _COMMANDS

    assert sorted(_COMMANDS) == sorted(SUBCOMMANDS)
    for command in (
        "demo",
        "create",
        "extract-frames",
        "create-training-dataset",
        "train",
        "evaluate",
        "analyze",
    ):
        assert command in SUBCOMMANDS


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: posekit {command}")


def test_main_help_and_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "a typical session" in out
    for command in SUBCOMMANDS:
        assert command in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
    assert main([]) == 2  # no command: help, and a failure (QA s15)
    assert "usage: posekit" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_entry_point_help() -> None:
    exe = Path(sys.executable).with_name("posekit")
    assert exe.is_file(), "the posekit console script is not installed in this venv"
    result = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: posekit")
    assert "create-training-dataset" in result.stdout


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(
        ["demo", str(tmp_path), "--frames", "40", "--labeled", "5", "--seed", "3"]
    )
    assert rc == 0
    root = tmp_path / "demo-posekit-2026-01-01"
    assert capsys.readouterr().out.strip() == str(root)
    assert (root / "config.yaml").is_file()
    assert (root / "videos" / "session1.mp4").is_file()
    assert (root / "ground-truth" / "session1_keypoints.h5").is_file()
    labels = pd.read_hdf(
        root / "labeled-data" / "session1" / "CollectedData_posekit.h5"
    )
    assert labels.shape == (5, 12)
    assert len(list((root / "labeled-data" / "session1").glob("img*.png"))) == 5
    assert len(pd.read_hdf(root / "ground-truth" / "session1_keypoints.h5")) == 40


def test_demo_side_view_with_incidents(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from posekit.engine.demo import INCIDENTS, load_incidents
    from posekit.engine.project import load_project

    args = ["demo", str(tmp_path), "--frames", "240", "--labeled", "4", "--view",
            "side", "--rare", "0.2", "--incidents", "1", "--seed", "9"]  # fmt: skip
    assert main(args) == 0
    root = tmp_path / "side-posekit-2026-01-01"
    assert capsys.readouterr().out.strip() == str(root)
    project = load_project(root)
    assert project.bodyparts[:3] == ["hand", "finger", "tongue"]
    assert set(load_incidents(project)) == {"", *INCIDENTS}
    # incidents in the top view: a clear message and no project
    rc = main(["demo", str(tmp_path / "top"), "--incidents", "1"])
    assert rc == 2
    assert "side view only" in capsys.readouterr().err
    assert not (tmp_path / "top").exists() or not any((tmp_path / "top").iterdir())


def test_create(
    tmp_path: Path, demo_project_ro: Project, capsys: pytest.CaptureFixture
) -> None:
    video = demo_project_ro.path / "videos" / "session1.mp4"
    rc = main(
        [
            "create",
            "maze",
            "ann",
            str(video),
            "--folder",
            str(tmp_path),
            "--bodyparts",
            "nose, tail ,",
            "--copy",
        ]
    )
    assert rc == 0
    root = tmp_path / f"maze-ann-{dt.date.today().isoformat()}"
    assert capsys.readouterr().out.strip() == str(root)
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    assert cfg["Task"] == "maze" and cfg["scorer"] == "ann"
    assert cfg["bodyparts"] == ["nose", "tail"]
    copied = root / "videos" / "session1.mp4"
    assert copied.is_file() and not copied.is_symlink()
    assert cfg["video_sets"] == {str(copied): {"crop": "0, 320, 0, 240"}}
    for sub in ("labeled-data", "training-datasets", "dlc-models"):
        assert (root / sub).is_dir()
    # a second time: the project exists, exit code 2 and a hint
    rc = main(["create", "maze", "ann", "--folder", str(tmp_path)])
    assert rc == 2
    assert "already exists" in capsys.readouterr().err


def test_create_a_multi_animal_project(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """DeepLabCut's ``multianimal=True`` from the command line (it was Python only)."""
    from posekit.engine.project import load_project

    args = ["create", "social", "ann", "--folder", str(tmp_path)]
    rc = main([*args, "--unique-bodyparts", "lever"])  # no animals named
    assert rc == 2 and "--individuals" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    rc = main(
        [*args, "--bodyparts", "snout,tail", "--individuals", "m1, m2,",
         "--unique-bodyparts", "lever"]
    )  # fmt: skip
    assert rc == 0
    project = load_project(capsys.readouterr().out.strip())
    assert project.multianimal and project.individuals == ["m1", "m2"]
    assert project.multianimal_bodyparts == ["snout", "tail"]
    assert project.unique_bodyparts == ["lever"]


def test_extract_frames(demo_project: Project, capsys: pytest.CaptureFixture) -> None:
    video = demo_project.path / "videos" / "session1.mp4"
    labelled = video.with_name("session1DLC_x_p60_labeled.mp4")
    labelled.write_bytes(video.read_bytes())
    folder = demo_project.path / "labeled-data" / "session1"
    before = {p.name for p in folder.glob("*.png")}
    rc = main(
        [
            "extract-frames",
            str(demo_project.path),
            "--mode",
            "uniform",
            "-n",
            "3",
            "--start",
            "0.5",
            "--stop",
            "1",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "session1.mp4: 3 frames in" in out
    # a labelled-video output in videos/ is not a video to label (QA S14)
    assert "_labeled" not in out
    new = {p.name for p in folder.glob("*.png")} - before
    assert new == {"img060.png", "img090.png"}  # img119.png was extracted already
    rc = main(
        [
            "extract-frames",
            str(demo_project.config_path),
            str(demo_project.path / "videos" / "session1.mp4"),
            "--mode",
            "kmeans",
            "-n",
            "4",
            "--seed",
            "2",
        ]
    )
    assert rc == 0
    assert "4 frames" in capsys.readouterr().out


def test_extract_frames_bad_options(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    rc = main(
        ["extract-frames", str(demo_project.path), "--start", "0.9", "--stop", "0.1"]
    )
    assert rc == 2
    assert "0 <= start < stop <= 1" in capsys.readouterr().err
    rc = main(
        ["extract-frames", str(demo_project.path), str(demo_project.path / "none.mp4")]
    )
    assert rc == 2
    assert "Video not found" in capsys.readouterr().err


def test_create_training_dataset(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    rc = main(["create-training-dataset", str(demo_project.path), "--shuffles", "1,2"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "shuffle 1: 10 train, 2 test frames" in out
    assert "shuffle 2: 10 train, 2 test frames" in out
    ts_dir = demo_project.training_set_dir()
    for name in (
        "CollectedData_posekit.h5",
        "CollectedData_posekit.csv",
        "Documentation_data-demo_80shuffle1.pickle",
        "Documentation_data-demo_80shuffle2.pickle",
        "demo_posekit80shuffle1.mat",
    ):
        assert (ts_dir / name).is_file(), name
    rc = main(
        [
            "create-training-dataset",
            str(demo_project.path),
            "--shuffles",
            "3",
            "--train-fraction",
            "0.5",
            "--test-frames",
            "img000.png,img119.png",
        ]
    )
    assert rc == 0
    with open(ts_dir / "Documentation_data-demo_50shuffle3.pickle", "rb") as fh:
        _, train, test, fraction = pickle.load(fh)
    assert list(test) == [0, 11] and len(train) == 10
    assert "shuffle 3: 10 train, 2 test frames" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", ["extract-frames", "create-training-dataset", "check-labels"]
)
def test_wrong_project_path(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "no-such-project"
    rc = main([command, str(missing)])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith(f"posekit {command}: error: No config.yaml at {missing}")
    assert "posekit create" in err  # says what to do
    assert "Traceback" not in err


def test_broken_config_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "config.yaml").write_text("Task: [unclosed\n")
    rc = main(["create-training-dataset", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "line" in err


def test_train_options_reach_train_network(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--save-minutes`` (snapshots by time) and ``--iterations`` (a total) pass on."""
    from types import SimpleNamespace

    import posekit.engine.api as api

    calls: list[dict] = []
    stopped = ["max_iterations"]

    def train(project, **kw):
        calls.append(kw)
        if stopped[0] == "interrupted":  # train_network saved, then raises
            raise api.TrainingInterrupted(_interrupted_result())
        return SimpleNamespace(stop_reason=stopped[0])

    monkeypatch.setattr(api, "train_network", train)
    path = str(demo_project.path)
    assert main(["train", path, "--iterations", "500", "--save-minutes", "2"]) == 0
    assert calls[-1]["max_iterations"] == 500  # the iteration to reach, not 500 more
    assert calls[-1]["save_interval_s"] == 120.0
    assert main(["train", path]) == 0
    assert calls[-1]["save_interval_s"] is None  # TrainConfig's default: 3 minutes
    stopped[0] = "interrupted"  # Ctrl-C: snapshot saved, and `&& analyze` must stop
    assert main(["train", path]) == 130
    train = next(a for a in build_parser()._actions if a.dest == "command").choices[
        "train"
    ]
    helps = {a.dest: a.help for a in train._actions}
    assert "a total" in helps["iterations"] and "not add N more" in helps["iterations"]
    assert "a total" in helps["minutes"]
    assert "minutes" in helps["save_minutes"] and "(3)" in helps["save_minutes"]


def test_extract_frames_never_rewrites_the_config_and_says_why(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    """A moved project with its own formatting: config.yaml stays byte for byte.

    extract-frames used to save the config (filled project_path, reformatted the
    skeleton) without a word, and gave fewer frames than asked without a reason.
    """
    config = demo_project.config_path
    text = config.read_text()
    skeleton = text[text.index("skeleton:\n") : text.index("skeleton_color:")]
    custom = text.replace(
        skeleton, "skeleton:\n    - [snout, neck]\n    - [neck, spine]\n"
    ).replace(f"project_path: {demo_project.path}", "project_path: /elsewhere/demo")
    custom += "\n# my own notes\n"
    config.write_text(custom)
    rc = main(
        ["extract-frames", str(demo_project.path), "--mode", "uniform", "-n", "500"]
    )
    assert rc == 0
    assert config.read_text() == custom
    out = capsys.readouterr().out
    assert "session1.mp4: 120 frames in" in out
    assert "note: session1.mp4 has only 120 frames between start=0 and stop=1" in out
    assert "note: 12 of the chosen frames were extracted before" in out


def test_check_labels_that_cannot_be_checked_exits_with_the_reason(
    demo_project: Project, capsys: pytest.CaptureFixture
) -> None:
    """Labels of another scorer: exit code 2 and why (not "0 images written", 0)."""
    folder = demo_project.path / "labeled-data" / "session1"
    assert main(["check-labels", str(demo_project.path)]) == 0
    assert "12 images written to" in capsys.readouterr().out
    for suffix in (".h5", ".csv"):
        (folder / f"CollectedData_posekit{suffix}").rename(
            folder / f"CollectedData_ann{suffix}"
        )
    rc = main(["check-labels", str(demo_project.path)])
    captured = capsys.readouterr()
    assert rc == 2 and "images written" not in captured.out
    assert captured.err.startswith("posekit check-labels: error: No labels to check")
    assert "the scorer in config.yaml is 'posekit'" in captured.err
    assert "labeled-data/session1/CollectedData_ann.h5" in captured.err


def test_sigterm_stops_a_command_as_ctrl_c_does(capsys: pytest.CaptureFixture) -> None:
    """A scheduler's SIGTERM at the time limit reaches the command as Ctrl-C.

    Training then saves a snapshot before SLURM's SIGKILL; before, SIGTERM killed
    the process at once. The exit code is the shell's for SIGTERM, 143 (QA s15: it
    was Ctrl-C's 130).
    """
    import os
    import signal

    from posekit.engine.cli._common import run_command

    seen = []

    def handler(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            seen.append("interrupt")  # what the trainer catches to save a snapshot
            raise
        return 0

    before = signal.getsignal(signal.SIGTERM)
    assert run_command("posekit train", handler, None) == 143  # 128 + SIGTERM
    assert seen == ["interrupt"]
    assert "posekit: interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # put back afterwards


def test_a_training_stopped_by_sigterm_exits_143_and_by_ctrl_c_130(
    demo_project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """The trainer catches the interrupt and saves: the code still tells which."""
    import os
    import signal

    import posekit.engine.api as api

    how = [signal.SIGTERM]

    def train(project, **kw):
        try:
            if how[0] == signal.SIGTERM:
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt
            time.sleep(5)
        except KeyboardInterrupt:  # saved a snapshot, then raised again
            raise api.TrainingInterrupted(_interrupted_result()) from None

    monkeypatch.setattr(api, "train_network", train)
    assert main(["train", str(demo_project.path)]) == 143
    how[0] = signal.SIGINT
    assert main(["train", str(demo_project.path)]) == 130
    out, err = capsys.readouterr()
    # the result is printed, without a traceback
    assert "trained to iteration 7 (from 0; interrupted)" in out
    assert "Traceback" not in err


def _interrupted_result():
    """Return the ``TrainResult`` of a run interrupted at iteration 7."""
    from posekit.engine.api import TrainResult

    return TrainResult(
        iteration=7,
        start_iteration=0,
        stop_reason="interrupted",
        snapshot=Path("train/snapshot-7.keras"),
        test_error_px=None,
        train_dir=Path("train"),
    )


def test_bare_posekit_prints_the_help_and_fails(capsys: pytest.CaptureFixture) -> None:
    """A batch script that lost its command must not "succeed" (QA s15: exit 0)."""
    assert main([]) == 2
    assert "usage: posekit" in capsys.readouterr().err


def test_main_help_documents_the_exit_codes(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    section = out[out.index("exit status:") :]
    for code in ("0 ", "2 ", "75 ", "130 ", "143 "):
        assert f"\n  {code}" in section, code
    assert "--quiet" in out and "--threads N" in out


def test_an_unknown_option_shows_the_usage_of_its_command(
    capsys: pytest.CaptureFixture,
) -> None:
    """Not the top-level usage (QA s15: ``posekit train P --bogus``)."""
    for argv, prog in (
        (["train", "P", "--bogus"], "posekit train"),
        (
            ["behavior", "features", "x.h5", "--out", "y.csv", "--bogus"],
            "posekit behavior features",
        ),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"usage: {prog} ")
        assert f"{prog}: error: unrecognized arguments: --bogus" in err


def test_a_missing_optional_package_is_a_one_line_error(
    capsys: pytest.CaptureFixture,
) -> None:
    """``--cluster slurm`` without dask-jobqueue: no traceback, exit 2 (QA s15)."""
    from posekit.engine.cli._common import run_command

    def needs_dask(args):
        raise ImportError(
            "--cluster slurm needs dask-jobqueue: pip install dask-jobqueue"
        )

    assert run_command("posekit analyze", needs_dask, None) == 2
    err = capsys.readouterr().err
    assert err == (
        "posekit analyze: error: --cluster slurm needs dask-jobqueue: "
        "pip install dask-jobqueue\n"
    )

    def bug(args):
        raise ImportError("cannot import name 'x' from 'posekit.engine'")

    with pytest.raises(ImportError):  # not an install hint: a bug, shown in full
        run_command("posekit analyze", bug, None)


def test_quiet_and_threads_reach_the_engine(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import posekit.engine.api as api
    from posekit.engine import _progress, _tf

    monkeypatch.setitem(_progress._SETTINGS, "quiet", False)
    monkeypatch.setitem(_tf._THREADS, "limit", None)
    seen = []

    def train(project, **kw):
        seen.append((_progress._SETTINGS["quiet"], _tf.cpu_threads()))
        return SimpleNamespace(stop_reason="max_iterations")

    monkeypatch.setattr(api, "train_network", train)
    path = str(demo_project.path)
    assert main(["--quiet", "--threads", "1", "train", path]) == 0
    assert main(["train", path]) == 0
    assert seen[0] == (True, 1)
    assert seen[1] == (False, _tf.cpu_threads())
    with pytest.raises(SystemExit):
        main(["--threads", "0", "train", path])


def _trained_shuffle(project: Project, backbone: str) -> None:
    """Leave a snapshot of ``backbone`` in shuffle 1, as a stopped training does."""
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.models.pose_model import PoseModelConfig
    from posekit.engine.training import TrainConfig

    folder = ModelFolder.of(project, 1).path
    folder.mkdir(parents=True)
    model = PoseModelConfig(bodyparts=tuple(project.bodyparts), backbone=backbone)
    cfg = {"posekit": {"model": model.to_dict(), "train": TrainConfig().to_dict()}}
    (folder / "pose_cfg.yaml").write_text(yaml.safe_dump(cfg))
    (folder / "snapshot-26.json").write_text("{}")


def test_resuming_keeps_the_backbone_of_the_snapshots(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A requeued ``posekit train P --minutes 5`` need not repeat ``--backbone``."""
    from types import SimpleNamespace

    import posekit.engine.api as api

    calls: list[dict] = []

    def train(project, **kw):
        calls.append(kw)
        return SimpleNamespace(stop_reason="time_budget")

    monkeypatch.setattr(api, "train_network", train)
    path = str(demo_project.path)
    assert main(["train", path]) == 0
    assert calls[-1]["backbone"] is None  # nothing trained yet: the config's
    _trained_shuffle(demo_project, "mobilenet_v2_0.35")
    assert main(["train", path, "--minutes", "1"]) == 0
    assert calls[-1]["backbone"] == "mobilenet_v2_0.35"
    assert calls[-1]["weights"] is None  # resumed: no "no ImageNet weights" notice
    assert "ImageNet" not in capsys.readouterr().out
    assert main(["train", path, "--backbone", "efficientnet_lite0"]) == 0
    assert calls[-1]["backbone"] == "efficientnet_lite0"  # said: the clear error
    assert main(["train", path, "--fresh"]) == 0
    assert calls[-1]["backbone"] is None and calls[-1]["resume"] is False


def test_training_errors_name_the_command_line_options(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``--fresh``/``--minutes``, not ``resume=False``/``time_budget_s`` (QA s15)."""
    import posekit.engine.api as api
    from posekit.engine.model_folder import SnapshotError

    def train(project, **kw):
        raise SnapshotError(
            "Snapshot snapshot-26.keras has backbone='mobilenet_v2_0.35' but the "
            "configuration has backbone='efficientnet_lite0'. Start a fresh training "
            "(resume=False or another train_dir)."
        )

    monkeypatch.setattr(api, "train_network", train)
    path = str(demo_project.path)
    assert main(["train", path, "--backbone", "efficientnet_lite0"]) == 2
    err = capsys.readouterr().err
    assert "resume=False" not in err and "train_dir" not in err
    assert "(--fresh)" in err and "--backbone NAME" in err
    for bad in (["--minutes", "-1"], ["--iterations", "0"], ["--batch-size", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["train", path, *bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {bad[0]}" in err and "time_budget_s" not in err
