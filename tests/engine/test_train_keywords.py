"""DeepLabCut's ``train_network`` keywords and ``posekit train --epochs`` (QA s17).

``posekit train`` had no ``--epochs``/``--save-epochs`` (the Python API converted
DeepLabCut 3's epochs into iterations), and DeepLabCut's other ``train_network``
keywords (``display_iters``, ``detector_epochs``, ``pytorch_cfg_updates``,
``modelprefix``, ``superanimal_name``, ``snapshot_path``, ...) were a bare
``TypeError: unexpected keyword``. Each is now renamed, accepted and logged, or
refused with what to do instead (the table of docs/coming-from-deeplabcut.md).
"""

from __future__ import annotations

import logging
import math

import pytest
import yaml

from posekit.engine.api import TrainResult
from posekit.engine.cli import main
from posekit.engine.dataset import load_split
from posekit.engine.demo import make_demo_project


class _FakeTrainer:
    """Stands in for ``Trainer``: keeps the config ``train_network`` built."""

    def __init__(self, model_config, train_config, out, **kwargs) -> None:
        self.train_config = train_config
        self.train_dir = out


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stop ``train_network`` before it trains; the list gets each run's config.

    The ``trainer_hook`` is called as the real run calls it, before training.
    """
    import posekit.engine.api as api
    import posekit.engine.training as training

    configs: list = []

    def run(trainer, ts, *, trainer_hook=None, **kwargs):
        if trainer_hook is not None:
            trainer_hook(trainer)
        configs.append(trainer.train_config)
        return TrainResult(
            iteration=trainer.train_config.max_iterations,
            start_iteration=0,
            stop_reason="max_iterations",
            snapshot=None,
            test_error_px=None,
            train_dir=trainer.train_dir,
        )

    monkeypatch.setattr(training, "Trainer", _FakeTrainer)
    monkeypatch.setattr(api, "_run_trainer", run)
    return configs


@pytest.fixture
def small(tmp_path):
    """Give a single-animal demo project with a training set (11 labelled frames)."""
    from posekit.engine.dataset import create_training_dataset

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=11, size=(160, 120))
    create_training_dataset(project)
    return project


TINY = {"backbone": "mobilenet_v2_0.35", "weights": None, "progress": False}


def _config(configs: list, *args, **kwargs):
    """Call ``deeplabcut.train_network`` (with ``no_training``); its TrainConfig."""
    import posekit.engine as deeplabcut

    deeplabcut.train_network(*args, **kwargs)
    return configs[-1]


# ------------------------------------------------------------- posekit train --epochs


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            ["--epochs", "3", "--iterations", "10"],
            "--epochs 3 (DeepLabCut 3, in epochs) and --iterations 10 (in "
            "iterations) set the same thing; give one of them.",
        ),
        (
            ["--save-epochs", "1", "--save-interval", "10"],
            "--save-epochs 1 (DeepLabCut 3, in epochs) and --save-interval 10 (in "
            "iterations) set the same thing; give one of them.",
        ),
    ],
)
def test_cli_epochs_with_their_iterations_is_a_clear_error(
    small, no_training, capsys, options, said
) -> None:
    assert main(["train", str(small.path), *options]) == 2
    err = capsys.readouterr().err
    assert err == f"posekit train: error: {said}\n"  # no traceback
    assert no_training == []


def test_cli_epochs_below_one_are_refused_by_argparse(small, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(small.path), "--epochs", "0"])
    assert exit_.value.code == 2
    assert "--epochs: must be 1 or more" in capsys.readouterr().err


def test_cli_epochs_are_converted_as_the_python_api_converts_them(
    small, no_training, capsys
) -> None:
    path = str(small.path)
    code = main(
        ["train", path, "--batch-size", "3", "--epochs", "7", "--save-epochs", "2"]
        + ["--backbone", "mobilenet_v2_0.35", "--weights", "none"]
    )
    assert code == 0
    n_train = len(load_split(small).train_indices)
    per_epoch = math.ceil(n_train / 3)
    (cfg,) = no_training
    assert (cfg.max_iterations, cfg.save_interval) == (7 * per_epoch, 2 * per_epoch)
    out = capsys.readouterr().out.splitlines()
    assert (
        f"--epochs 7 → {7 * per_epoch} iterations, --save-epochs 2 → a snapshot "
        f"every {2 * per_epoch} ({per_epoch} batches of 3 per epoch: {n_train} "
        "training images)"
    ) in out


def test_cli_epochs_train_that_many_passes(small, capsys) -> None:
    """A real tiny training: ``--epochs 1`` stops after one pass over the images."""
    n_train = len(load_split(small).train_indices)
    code = main(
        ["train", str(small.path), "--batch-size", "4", "--epochs", "1"]
        + [
            "--save-minutes",
            "0",
            "--backbone",
            "mobilenet_v2_0.35",
            "--weights",
            "none",
        ]
    )
    assert code == 0
    per_epoch = math.ceil(n_train / 4)
    out = capsys.readouterr().out
    assert f"--epochs 1 → {per_epoch} iterations" in out
    assert f"trained to iteration {per_epoch} " in out


# ------------------------------------------------- DeepLabCut's train_network keywords


def test_deeplabcut_keywords_with_a_posekit_meaning_are_mapped(
    small, no_training, caplog
) -> None:
    import posekit.engine as deeplabcut

    config = str(small.config_path)
    with caplog.at_level(logging.INFO, logger="posekit"):
        cfg = _config(
            no_training,
            config,
            maxiters=20,
            displayiters=7,
            max_snapshots_to_keep=2,
            **TINY,
        )
    assert (cfg.max_iterations, cfg.log_interval, cfg.max_snapshots) == (20, 7, 2)
    cfg = _config(no_training, config, maxiters=20, display_iters=4, **TINY)
    assert cfg.log_interval == 4
    with caplog.at_level(logging.INFO, logger="posekit"):
        cfg = _config(
            no_training, config, maxiters=20, max_snapshots_to_keep=None, **TINY
        )
    assert cfg.max_snapshots == 5 and cfg.log_interval == 50  # posekit's defaults
    assert "max_snapshots_to_keep=None keeps posekit's default" in caplog.text
    # DeepLabCut 3's pytorch_cfg_updates: the keys that are train_network's
    cfg = _config(
        no_training,
        config,
        pytorch_cfg_updates={
            "train_settings.epochs": 2,
            "train_settings.batch_size": 3,
            "train_settings.display_iters": 5,
            "runner.snapshots.save_epochs": 1,
            "runner.snapshots.max_snapshots": 3,
            "runner.gpus": [0, 1],
        },
        **TINY,
    )
    per_epoch = math.ceil(len(load_split(small).train_indices) / 3)
    assert (cfg.max_iterations, cfg.save_interval) == (2 * per_epoch, per_epoch)
    assert (cfg.batch_size, cfg.log_interval, cfg.max_snapshots) == (3, 5, 3)
    with pytest.raises(TypeError, match="give one of them"):  # set twice
        deeplabcut.train_network(
            config,
            display_iters=5,
            pytorch_cfg_updates={"train_settings.display_iters": 9},
            **TINY,
        )


def test_a_deeplabcut_3_script_runs(small, no_training, caplog) -> None:
    """A DeepLabCut 3 script's call, top-down detector settings and all."""
    import posekit.engine as deeplabcut

    with caplog.at_level(logging.INFO, logger="posekit"):
        cfg = _config(
            no_training,
            str(small.config_path),
            shuffle=1,
            trainingsetindex=0,
            detector_epochs=400,
            detector_batch_size=8,
            detector_save_epochs=10,
            detector_path=None,
            epochs=4,
            save_epochs=2,
            batch_size=2,
            display_iters=10,
            max_snapshots_to_keep=5,
            device="cuda:0",
            gputouse=0,
            allow_growth=True,
            autotune=False,
            keepdeconvweights=True,
            load_head_weights=False,
            modelprefix="",
            superanimal_name="",
            superanimal_transfer_learning=False,
            snapshot_path=None,
            pose_threshold=0.1,
            pytorch_cfg_updates=None,
            engine=deeplabcut.Engine.PYTORCH,
            **TINY,
        )
    per_epoch = math.ceil(len(load_split(small).train_indices) / 2)
    assert (cfg.max_iterations, cfg.save_interval) == (4 * per_epoch, 2 * per_epoch)
    assert cfg.log_interval == 10
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    detector = [m for m in warned if "detector" in m]
    assert len(detector) == 3  # detector_path=None says nothing
    assert (
        "detector_epochs=400 ignored: posekit's networks are bottom-up" in (detector[0])
    )
    text = caplog.text
    for name in ("device", "gputouse", "allow_growth", "autotune"):
        assert f"DeepLabCut's {name}=" in text
    assert "keepdeconvweights=True is not used" in text
    assert "load_head_weights=False is not used" in text
    assert "pose_threshold=0.1 ignored" in text
    assert len(no_training) == 1


@pytest.mark.parametrize(
    ("keyword", "value", "advice"),
    [
        ("modelprefix", "resnet_run", r"another shuffle: create_training_dataset"),
        ("superanimal_name", "superanimal_quadruped", r"init_from=PATH"),
        ("superanimal_transfer_learning", True, r"leave it out"),
        ("snapshot_path", "train/snapshot-050.pt", r"init_from=PATH"),
        (
            "pytorch_cfg_updates",
            {"runner.optimizer.params.lr": 1e-4, "runner.gpus": [0]},
            r"\['runner.optimizer.params.lr'\].*train_settings.epochs \(= epochs=\)",
        ),
        ("pytorch_cfg_updates", [("train_settings.epochs", 3)], r"give a dict"),
    ],
)
def test_deeplabcut_keywords_that_would_change_the_result_are_refused(
    small, no_training, keyword, value, advice
) -> None:
    import posekit.engine as deeplabcut

    with pytest.raises(TypeError, match=advice) as err:
        deeplabcut.train_network(
            str(small.config_path), maxiters=10, **{keyword: value}, **TINY
        )
    assert f"{keyword}" in str(err.value)
    assert no_training == []  # nothing trained


def test_deeplabcut_keywords_take_effect_in_a_tiny_training(small) -> None:
    """``displayiters`` sets the stats rows and ``max_snapshots_to_keep`` the kept."""
    import posekit.engine as deeplabcut

    result = deeplabcut.train_network(
        str(small.config_path),
        maxiters=4,
        saveiters=1,
        displayiters=2,
        max_snapshots_to_keep=2,
        gputouse=None,
        allow_growth=True,
        keepdeconvweights=True,
        batch_size=2,
        crop_size=(64, 64),
        save_interval_s=0,
        **TINY,
    )
    assert result.iteration == 4
    kept = sorted(p.name for p in result.train_dir.glob("snapshot-*.keras"))
    assert kept == ["snapshot-3.keras", "snapshot-4.keras"]
    cfg = yaml.safe_load((result.train_dir / "pose_cfg.yaml").read_text())
    assert (cfg["display_iters"], cfg["max_snapshots_to_keep"]) == (2, 2)
