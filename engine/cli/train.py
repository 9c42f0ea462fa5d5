"""``posekit train``: train (or resume) the pose network of a shuffle."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    add_training_set_arg,
    load_project,
    positive_float,
    positive_int,
)

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["NAME", "add_parser", "run"]

NAME = "train"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit train`` to the command line.

    Parameters
    ----------
    subparsers
        The ``posekit`` parser's subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser.
    """
    p = subparsers.add_parser(
        NAME,
        help="train (or resume) the pose network of a shuffle",
        description="Train the network for a shuffle. Stop with Ctrl-C at any time: a "
        "snapshot is saved first. Run the same command again to resume: the iteration "
        "counter and optimiser state continue where they stopped.",
    )
    add_project_arg(p)
    add_shuffle_arg(p)
    add_training_set_arg(p)
    p.add_argument(
        "--backbone",
        help="network (config default_net_type), e.g. "
        "mobilenet_v2_0.35, efficientnet_lite0, resnet_50; a resumed training "
        "keeps the backbone of its snapshots, no need to repeat it",
    )
    p.add_argument(
        "--weights",
        default=None,
        help="'imagenet', a weights file, or 'none' for random init",
    )
    p.add_argument(
        "--iterations",
        "--maxiters",
        type=positive_int,
        metavar="N",
        help="train until the iteration counter reaches N, a total: a resumed run "
        "continues up to N, it does not add N more (DeepLabCut's maxiters)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        metavar="E",
        help="DeepLabCut 3's length in epochs (passes over the training images), "
        "converted into iterations: E x ceil(training images / batch size), a "
        "total as --iterations (not with it)",
    )
    p.add_argument(
        "--minutes",
        type=positive_float,
        help="time budget in minutes of training, a total that counts the resumed "
        "runs too; it counts the train steps, not start-up, evaluation or saving",
    )
    p.add_argument("--batch-size", type=positive_int, help="batch size (8)")
    p.add_argument(
        "--save-interval",
        type=int,
        metavar="N",
        help="save a snapshot every N iterations (5000; also at the end and on Ctrl-C)",
    )
    p.add_argument(
        "--save-epochs",
        type=positive_int,
        metavar="E",
        help="DeepLabCut 3's save_epochs: a snapshot every E epochs, converted into "
        "iterations as --epochs (not with --save-interval)",
    )
    p.add_argument(
        "--save-minutes",
        type=float,
        metavar="M",
        help="also save a snapshot every M minutes of wall-clock time (3), so that a "
        "crash loses at most that much training; 0: by iterations only",
    )
    p.add_argument(
        "--fresh", action="store_true", help="start over instead of resuming"
    )
    p.add_argument(
        "--weigh-only-present-joints",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="DeepLabCut's pose_cfg.yaml key: give a bodypart left empty in a "
        "labelled frame no loss weight (the network learns nothing about it there) "
        "instead of training it as absent (--no-weigh-only-present-joints, "
        "DeepLabCut's default); points marked not visible are absent either way. "
        "Neither: as the model's pose_cfg.yaml says, else its snapshots, else false",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Train and print the result (iterations reached, why it stopped).

    When the configured backbone has no ImageNet weights here (DeepLabCut's
    ``resnet_50``), the first line printed says so and names the backbone trained
    instead (:func:`posekit.engine.api.backbone_choice`); ``--backbone resnet_50
    --weights none`` insists on it. Without ``--weights``, a backbone gets ImageNet
    weights where they load offline.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..api import backbone_choice, train_network
    from ..model_folder import ModelFolder

    _check_epochs(args)
    weights = args.weights if args.weights is not None else "auto"
    if weights.lower() in ("", "none"):
        weights = None
    project = load_project(args.project).for_training_set(args.trainingsetindex)
    folder = ModelFolder.of(project, args.shuffle)
    folder.check_trainable()  # not DeepLabCut's
    backbone = args.backbone
    if backbone is None and not args.fresh:  # a requeued job resumes as it began
        backbone = _trained_backbone(folder)
        if backbone is not None and args.weights is None:
            weights = None  # the snapshot's weights are loaded: no ImageNet notice
    notice = backbone_choice(project, backbone, weights, shuffle=args.shuffle).notice
    start = _start_snapshot(project, folder, args)
    if notice and start is not None:  # the weights come from that snapshot
        notice = (
            f"Training starts from {start} (an earlier model of this shuffle: its "
            "network and weights), not from ImageNet weights."
        )
    if notice and _has_training_data(project):  # first, before training starts
        print(notice, flush=True)
    resumed = _ResumeLine(args.shuffle, _epochs_printer(args, project))
    with _said_once(notice), _interrupted_result() as interrupted:
        result = _train(
            train_network,
            project,
            shuffle=args.shuffle,
            backbone=backbone,
            weights=weights,
            max_iterations=args.iterations,
            time_budget_s=None if args.minutes is None else 60 * args.minutes,
            batch_size=args.batch_size,
            save_interval=args.save_interval,
            save_interval_s=(
                None if args.save_minutes is None else 60 * args.save_minutes
            ),
            resume=not args.fresh,
            epochs=args.epochs,
            save_epochs=args.save_epochs,
            trainer_hook=resumed.keep,
            callbacks=[resumed],
            weigh_only_present_joints=args.weigh_only_present_joints,
        )
    if interrupted:  # the snapshot is saved; stop a chain (exit status 130)
        print(interrupted[0])
        return EXIT_INTERRUPTED
    print(result)
    return EXIT_OK


@contextlib.contextmanager
def _interrupted_result() -> Iterator[list]:
    """Catch the training's ``TrainingInterrupted``, keeping its ``TrainResult``.

    ``train_network`` raises it after saving the snapshot of an interrupted run;
    the command prints the result and exits with :data:`EXIT_INTERRUPTED`, without
    a traceback. A Ctrl-C before training started (nothing saved) goes on up.
    """
    from ..api import TrainingInterrupted

    caught: list = []
    try:
        yield caught
    except TrainingInterrupted as err:
        caught.append(err.result)


#: The Python arguments of the engine's messages, as the command line spells them.
_CLI_SPELLING = (
    ("(resume=False or another train_dir)", "(--fresh)"),
    ("resume=False", "--fresh"),
    ("time_budget_s", "--minutes (x 60 s)"),
    ("max_iterations", "--iterations"),
    ("batch_size", "--batch-size"),
)


def _check_epochs(args: argparse.Namespace) -> None:
    """Refuse ``--epochs``/``--save-epochs`` with their iteration counterparts.

    They set the same thing, in epochs (DeepLabCut 3) and in iterations, as
    ``train_network(epochs=, max_iterations=)`` refuses (a ``ValueError``: exit
    status 2, the message without a traceback).
    """
    for epochs, value, iterations, given in (
        ("--epochs", args.epochs, "--iterations", args.iterations),
        ("--save-epochs", args.save_epochs, "--save-interval", args.save_interval),
    ):
        if value is not None and given is not None:
            raise ValueError(
                f"{epochs} {value} (DeepLabCut 3, in epochs) and {iterations} "
                f"{given} (in iterations) set the same thing; give one of them."
            )


def _epochs_printer(
    args: argparse.Namespace, project: Project
) -> Callable[[Any], None] | None:
    """Return a ``trainer_hook`` that prints what ``--epochs`` became (or ``None``).

    The engine logs the conversion (``epochs=200 → 2,400 iterations …``) at INFO,
    which the command line shows with ``-v`` only; the hook prints it, in the
    command line's spelling, before training starts.
    """
    if args.epochs is None and args.save_epochs is None:
        return None

    def say(trainer: Any) -> None:
        from ..api import _epochs_said as said
        from ..dataset import load_split

        if logging.getLogger("posekit").isEnabledFor(logging.INFO):
            return  # -v: the engine's log line says it
        n_train = len(load_split(project, shuffle=args.shuffle).train_indices)
        line = said(
            args.epochs,
            args.save_epochs,
            n_train=n_train,
            batch_size=trainer.train_config.batch_size,
        )
        line = line.replace("save_epochs=", "--save-epochs ")
        print(line.replace("epochs=", "--epochs "), flush=True)

    return say


class _ResumeLine:
    """Print which snapshot a resumed training continues from, before the first step.

    In a batch job's log (a requeued job, a rerun after ``kill``), the first line of
    the run says that it resumes: ``resuming shuffle 1 from snapshot-493 (iteration
    493 of 845)``. A fresh start (or one from an earlier iteration's model, which
    starts at iteration 0) prints nothing. :meth:`keep` is the ``trainer_hook``: it
    keeps the trainer, whose settings (the limits of this run) are final once the
    snapshot is read, and calls the command's other hook; the trainer calls
    :meth:`on_train_begin` after reading the snapshot, before the progress bar.
    """

    def __init__(self, shuffle: int, hook: Callable[[Any], None] | None) -> None:
        self.shuffle = shuffle
        self.hook = hook
        self.trainer: Any = None

    def keep(self, trainer: Any) -> None:
        """Keep the trainer (``trainer_hook``) and run the other hook."""
        self.trainer = trainer
        if self.hook is not None:
            self.hook(trainer)

    def on_train_begin(self, state: Any) -> None:
        """Print the line when the run continues from a snapshot."""
        if state.last_snapshot is None:  # fresh: no snapshot read
            return
        print(
            f"resuming shuffle {self.shuffle} from {state.last_snapshot.stem} "
            f"({_so_far(state, getattr(self.trainer, 'train_config', None))})",
            flush=True,
        )

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("on_"):  # the trainer's other hooks: nothing to do
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def _so_far(state: Any, config: Any) -> str:
    """Say where a resumed run stands against its limits (``iteration 493 of 845``).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> state = NS(iteration=493, elapsed_wall_s=95.0, elapsed_cpu_s=40.0)
    >>> _so_far(state, NS(max_iterations=845, time_budget_s=None, budget_clock="wall"))
    'iteration 493 of 845'
    >>> _so_far(state, NS(max_iterations=None, time_budget_s=180.0, budget_clock="wall"))
    'iteration 493; 01:35 of the 03:00 time budget used'
    >>> _so_far(state, NS(max_iterations=900, time_budget_s=180.0, budget_clock="cpu"))
    'iteration 493 of 900; 00:40 of the 03:00 time budget (CPU) used'
    """
    from tqdm.std import tqdm

    line = f"iteration {state.iteration}"
    if config is None:
        return line
    if config.max_iterations is not None:
        line += f" of {config.max_iterations}"
    if config.time_budget_s is not None:
        cpu = config.budget_clock == "cpu"
        used = state.elapsed_cpu_s if cpu else state.elapsed_wall_s
        line += (
            f"; {tqdm.format_interval(used)} of the "
            f"{tqdm.format_interval(config.time_budget_s)} time budget"
            f"{' (CPU)' if cpu else ''} used"
        )
    return line


def _train(train_network, project, **kwargs):
    """Call ``train_network``; its errors name the command line's options."""
    try:
        return train_network(project, **kwargs)
    except ValueError as err:  # SnapshotError too
        message = str(err)
        for python, cli in _CLI_SPELLING:
            message = message.replace(python, cli)
        if "backbone=" in message:
            message += " Or give the snapshot's backbone: --backbone NAME."
        raise type(err)(message) from err


def _trained_backbone(folder) -> str | None:
    """Return the backbone of the shuffle's snapshots (``None``: none, or unknown)."""
    from ..training import read_pose_cfg

    if not folder.snapshots():
        return None
    try:
        return read_pose_cfg(folder.path)[0].backbone
    except (OSError, ValueError, KeyError, TypeError):  # not posekit's, multi-animal
        return None


def _start_snapshot(project, folder, args) -> Any:
    """Return the snapshot a run that starts over takes its weights from, if any.

    What ``train_network(init_from="previous")`` starts from (``api._start_candidate``):
    the shuffle's ``pose_cfg.yaml`` ``init_weights`` set by the user, else the newest
    snapshot of an earlier iteration, when it fits the project and the backbone
    asked for.
    """
    from ..api import _init_from_pose_cfg, _start_candidate

    fresh = args.fresh or not folder.snapshots()
    try:
        init_from = _init_from_pose_cfg(project, args.shuffle, "previous", fresh)
        found = _start_candidate(project, args.shuffle, init_from, args.backbone, fresh)
    except (OSError, ValueError, KeyError, TypeError):  # train_network says
        return None
    return found[0] if found is not None and not found[3] else None


def _has_training_data(project) -> bool:
    """Whether there are labels (or a training set) to train on.

    Without them training stops at once with "No labels found": the notice about
    the backbone would only stand before that error.
    """
    if project.training_set_dir().is_dir():
        return True
    return any(project.has_labels(stem) for stem in project.labeled_videos())


@contextlib.contextmanager
def _said_once(message: str | None) -> Iterator[None]:
    """Keep the log from repeating ``message``, already printed.

    The filter sits on the handlers (the root logger's and posekit's), so that it
    also holds for records of posekit's child loggers.
    """

    def other(record: logging.LogRecord) -> bool:
        return record.getMessage() != message

    handlers = [*logging.getLogger().handlers, *logging.getLogger("posekit").handlers]
    if message:
        for handler in handlers:
            handler.addFilter(other)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(other)
