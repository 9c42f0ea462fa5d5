"""Project-level workflow verbs: train, evaluate, analyse (DeepLabCut's names).

Each verb reads and writes the project's files in DeepLabCut's layout, so every step can
be resumed, scripted, or done in another tool:

- ``train_network``: ``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train/``
  (``pose_cfg.yaml``, ``snapshot-<iter>.keras`` + ``.json`` + optimizer state,
  ``learning_stats.csv``). Running it again resumes where it stopped.
- ``evaluate_network``: ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv``
  and per-shuffle results and images.
- ``analyze_videos``: ``<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5`` (+ ``.csv``,
  ``_meta.pickle``).

Each verb is thin: it finds the shuffle's model folder
(:meth:`ModelFolder.of(project, shuffle) <posekit.engine.model_folder.ModelFolder.of>`),
which lists the snapshots, names the model (DeepLabCut's scorer name) and gives the
predictor (:mod:`posekit.engine.inference`) every verb predicts with.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import re
import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from . import logger
from .dlc_names import (
    dlc_keywords,
    ignored,
    note_config_engine,
    refused,
    renamed,
    shuffle_numbers,
)
from .locks import job_lock, stop_path
from .model_folder import ModelFolder, model_naming
from .project import Project, as_project, entry_name, list_videos

if TYPE_CHECKING:
    from .dataset import TrainingSet
    from .inference import AnalysisOutputs
    from .models.pose_model import PoseModelConfig
    from .multianimal.dataset import MultiAnimalTrainingSet
    from .training import TrainConfig

__all__ = [
    "AnalysisStage",
    "TrainResult",
    "TrainingInterrupted",
    "backbone_choice",
    "continuation_configs",
    "previous_snapshot",
    "train_network",
    "evaluate_network",
    "predict_frames",
    "analyze_videos",
    "check_runtime_precision",
    "config_batch_size",
    "extract_frames",
    "video_predictions",
    "filter_predictions",
    "create_labeled_video",
]


@dataclass(frozen=True)
class TrainResult:
    """Summary of a :func:`train_network` run."""

    iteration: int
    start_iteration: int
    stop_reason: str
    snapshot: Path | None
    test_error_px: float | None
    train_dir: Path
    initialised_from: Path | None = None

    def __str__(self) -> str:
        err = "n/a" if self.test_error_px is None else f"{self.test_error_px:.2f} px"
        start = (
            f"; started from {self.initialised_from}" if self.initialised_from else ""
        )
        limit = {
            "max_iterations": "the iteration limit (--iterations or --epochs, a total)",
            "time_budget": "the time budget (--minutes, a total)",
        }.get(self.stop_reason)
        if limit and self.iteration == self.start_iteration > 0:
            return (
                f"nothing to train: the snapshot is already at iteration "
                f"{self.iteration}, {limit}. Raise it to train on, or start over "
                f"(--fresh); test error {err}; snapshot {self.snapshot}"
            )
        return (
            f"trained to iteration {self.iteration} (from {self.start_iteration}; "
            f"{self.stop_reason}); test error {err}; snapshot {self.snapshot}{start}"
        )


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`train_network` after Ctrl-C (Jupyter's *Interrupt*, SIGTERM).

    The snapshot of the iteration reached is saved before it is raised, so that
    running :func:`train_network` again resumes from it. It is a
    ``KeyboardInterrupt``: Jupyter stops the cells queued after the training (*Run
    All*), as it does for any interrupted cell, and a script stops unless it
    catches it.

    Attributes
    ----------
    result
        The :class:`TrainResult` of the interrupted run (``stop_reason`` is
        ``"interrupted"``).
    """

    def __init__(self, result: TrainResult) -> None:
        super().__init__(
            f"training interrupted at iteration {result.iteration}, snapshot saved "
            f"at {result.snapshot}; run train_network again to resume from it"
        )
        self.result = result


_Verb = TypeVar("_Verb", bound=Callable[..., Any])


@dataclass(frozen=True)
class AnalysisStage:
    """A step of :func:`analyze_videos`, reported to its ``on_stage`` callback.

    Before the first frame is analysed, TensorFlow starts, the model is read and, the
    first time a snapshot meets a frame size, converted for the TFLite runtime; that
    takes seconds to minutes, during which no frame moves. A progress display says
    which step runs (``str(stage)``) and starts its ETA with the frames.

    Attributes
    ----------
    name
        ``"loading"`` (reading the model), ``"converting"`` (preparing the fast
        runtime, once per snapshot and frame size) or ``"analysing"`` (frames go
        through the network; ``progress`` reports them).
    video
        The video the step is for.
    index, total
        The video's number (from 1) and how many videos this call analyses.

    Examples
    --------
    >>> str(AnalysisStage("converting", Path("m1.mp4"), 1, 2))
    'preparing the fast runtime (TFLite, once per snapshot and frame size)'
    >>> str(AnalysisStage("analysing", Path("m1.mp4"), 2, 3))
    'analysing video 2 of 3: m1.mp4'
    """

    name: str
    video: Path
    index: int
    total: int

    def __str__(self) -> str:
        if self.name == "loading":
            return "loading the model"
        if self.name == "converting":
            return (
                "preparing the fast runtime (TFLite, once per snapshot and frame size)"
            )
        return f"analysing video {self.index} of {self.total}: {self.video.name}"


def _ensure_training_set(
    project: Project, shuffle: int, *, warn_empty: bool = False
) -> TrainingSet | MultiAnimalTrainingSet:
    """Load the shuffle's training set, creating it when there is none.

    Parameters
    ----------
    project
        The project.
    shuffle
        The shuffle number.
    warn_empty
        Training: a training set that already exists repeats the warning creating
        it gave about points left empty and not marked not visible (a user who
        never ran ``create-training-dataset``, or ran it long ago, sees it too); a
        set created here gave it already. Single-animal projects only, as
        :func:`~posekit.engine.dataset.create_training_dataset`.

    Returns
    -------
    TrainingSet or MultiAnimalTrainingSet
    """
    from .dataset import _warn_empty_points, create_training_dataset, load_training_set

    try:
        ts = load_training_set(project, shuffle=shuffle)
    except FileNotFoundError:
        _refuse_split_of_interrupted_merge(project, shuffle)
        others = sorted(
            int(m.group(1))
            for f in project.training_set_dir().glob("Documentation_data-*.pickle")
            if (m := re.search(r"shuffle(\d+)\.pickle$", f.name))
        )
        if others:  # perhaps a typo: a new split, with other test frames
            logger.warning(
                "shuffle %d has no training set: creating one, a new split of the "
                "labelled frames into train and test. Shuffle(s) %s exist: pass "
                "--shuffle/shuffle= to use one.",
                shuffle,
                ", ".join(map(str, others)),
            )
        else:
            logger.info("no training set for shuffle %d yet: creating it", shuffle)
        create_training_dataset(project, shuffles=[shuffle])  # warns itself
        return load_training_set(project, shuffle=shuffle)
    if warn_empty and not project.multianimal:  # the marks it read: no rereading
        _warn_empty_points(project, ts.keypoints, ts.paths, ts.not_visible)
    return ts


def _refuse_split_of_interrupted_merge(project: Project, shuffle: int) -> None:
    """Refuse a new random split where the previous iteration has a split.

    Iteration N without a split of the shuffle while N-1 has one: a merge was
    interrupted (or run with ``--no-training-set``). A new random split would move
    the old test frames into training. DeepLabCut's ``train_network`` does not make
    a training set either: it refuses until one is created.
    """
    from .refinement import _doc_split

    now = project.iteration
    if now < 1 or not any(_doc_split(project, now - 1, shuffle)):
        return
    raise FileNotFoundError(
        f"Iteration {now} has no training set of shuffle {shuffle}, but iteration "
        f"{now - 1} has one: the merge to iteration {now} did not finish (or ran "
        "without the training set). A new random split would move iteration "
        f"{now - 1}'s test frames into training. Run "
        f"`posekit merge {shlex.quote(str(project.path))}` "
        "again: it finishes the merge, keeping the previous test frames "
        "(posekit.engine.merge_datasets). Nothing was trained."
    )


def _shuffles_here(project: Project) -> tuple[list[int], list[int]]:
    """Return the shuffles of the project's iteration and training fraction.

    Returns
    -------
    trained, with_split
        The shuffles with a posekit snapshot, and those with a training set (a
        ``Documentation_data-…shuffle<k>.pickle``), each sorted.
    """
    from .dataset import _doc_path

    def numbers(folder: Path, first: str, suffix: str) -> list[int]:
        prefix = first.removesuffix(f"1{suffix}")
        pattern = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix) + "$")
        if not folder.is_dir():
            return []
        return sorted(
            int(m.group(1)) for f in folder.iterdir() if (m := pattern.match(f.name))
        )

    models = project.model_dir(1)
    trained = [
        k
        for k in numbers(models.parent, models.name, "")
        if ModelFolder.of(project, k).snapshots()
    ]
    doc = _doc_path(project, project.training_fractions[0], 1)
    return trained, numbers(doc.parent, doc.name, ".pickle")


def _check_evaluable(project: Project, shuffle: int) -> None:
    """Refuse to evaluate a shuffle without a trained network or without its split.

    Evaluating creates nothing, as DeepLabCut's ``evaluate_network``: a shuffle
    number given by mistake (``--shuffle 7`` where only shuffle 1 exists) must not
    leave a new split behind, which a later training would use without a word. A
    trained shuffle whose split is gone is refused too: a new random split would
    count frames the network trained on as test frames.

    Raises
    ------
    FileNotFoundError
        No posekit snapshot in the shuffle's model folder (the message names the
        trained shuffles and how to create and train this one), or no training
        set for a trained shuffle.
    """
    from .dataset import _doc_path

    folder = ModelFolder.of(project, shuffle)
    where = (
        f"iteration {project.iteration}, TrainingFraction "
        f"{project.training_fractions[0]:g}"
    )
    if not folder.snapshots():
        if folder.deeplabcut_snapshots():
            folder.snapshot()  # its message names DeepLabCut's own network
        trained, with_split = _shuffles_here(project)
        said = (
            f"No trained snapshot in {folder.path}: shuffle {shuffle} is not trained."
        )
        if trained:
            said += (
                f" Trained shuffle(s) ({where}): {', '.join(map(str, trained))}; "
                f"evaluate one with --shuffle {trained[0]} (Python: "
                f"shuffle={trained[0]})."
            )
        if shuffle in with_split:  # its split is made: train it
            which = "" if shuffle == 1 else f" (--shuffle {shuffle}, shuffle={shuffle})"
            said += (
                " Train first: posekit.engine.train_network(project) or "
                f"`posekit train PROJECT`{which}."
            )
        else:
            said += (
                f" To evaluate a new shuffle {shuffle}, create its training set and "
                "train it first: `posekit create-training-dataset PROJECT --shuffles "
                f"{shuffle}`, then `posekit train PROJECT --shuffle {shuffle}` "
                f"(Python: create_training_dataset(project, shuffles=[{shuffle}]), "
                f"then train_network(project, shuffle={shuffle}))."
            )
        raise FileNotFoundError(said + " Nothing was written.")
    doc = _doc_path(project, project.training_fractions[0], shuffle)
    if not doc.is_file():
        raise FileNotFoundError(
            f"Shuffle {shuffle} has a trained network ({folder.path}) but no "
            f"training set: {doc.name} is missing in {doc.parent}. The frames it "
            "was tested on are unknown, and a new random split would count frames "
            "it trained on as test frames. Put the file back (from a backup, or the "
            "machine it was trained on) to evaluate this network, or create a new "
            "training set and train again (posekit create-training-dataset, posekit "
            "train --fresh). Nothing was written."
        )


def _one_at_a_time(kind: str, verb: str) -> Callable[[_Verb], _Verb]:
    """Run the decorated verb under the project's ``kind`` job lock (:mod:`.locks`)."""

    def decorate(fn: _Verb) -> _Verb:
        @functools.wraps(fn)
        def locked(project: Project | str | os.PathLike, *args: Any, **kwargs: Any):
            project = as_project(project)
            if kwargs.get("shard") is not None:
                # the tasks of a job array run together by design; each writes
                # its own chunks (engine/distributed.py), nothing they share
                return fn(project, *args, **kwargs)
            with job_lock(project.path, kind, verb):
                return fn(project, *args, **kwargs)

        return locked  # type: ignore[return-value]

    return decorate


class _StopEventCallback:
    """Bridges a ``threading.Event`` (set by a widget) to ``Trainer.request_stop``."""

    def __init__(self, trainer, event: threading.Event) -> None:
        self.trainer = trainer
        self.event = event

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("on_"):
            return self._check
        raise AttributeError(name)

    def _check(self, *args: Any, **kwargs: Any) -> None:
        if self.event.is_set():
            self.trainer.request_stop()


def _train_config_changes(
    *,
    crop_size: tuple[int, int] | None = None,
    batch_size: int | None = None,
    max_iterations: int | None = None,
    time_budget_s: float | None = None,
    budget_clock: str | None = None,
    save_interval: int | None = None,
    save_interval_s: float | None = None,
    eval_interval: int | None = None,
    log_interval: int | None = None,
    max_snapshots: int | None = None,
    weigh_only_present_joints: bool | None = None,
) -> dict[str, Any]:
    """Turn a training verb's options into ``TrainConfig.replace`` changes.

    The options of :func:`train_network` (and of the multi-animal training) as
    changes of :class:`~posekit.engine.training.TrainConfig` fields: what is not
    given keeps the config's value.

    Parameters
    ----------
    crop_size, batch_size, max_iterations, time_budget_s, budget_clock, save_interval, save_interval_s, eval_interval, log_interval, max_snapshots, weigh_only_present_joints
        As for :func:`train_network`. ``crop_size`` is always set (``None``: chosen
        from the frame size); a ``batch_size`` of 0 keeps the default;
        ``save_interval_s=0`` saves by iterations only; without ``eval_interval``,
        a run with ``max_iterations`` evaluates five times (every 50 to 1000
        iterations, rounded to a multiple of ``log_interval`` when it is given, so
        that the test error comes with the rows asked for);
        ``weigh_only_present_joints=None`` leaves the rule to the
        trainer (``pose_cfg.yaml``, else the snapshot's, else ``False``).

    Returns
    -------
    dict
        Field name to value.

    Examples
    --------
    >>> changes = _train_config_changes(max_iterations=400, save_interval_s=0)
    >>> changes["eval_interval"], changes["save_interval_s"], "batch_size" in changes
    (80, None, False)
    >>> _train_config_changes(max_iterations=300, log_interval=100)["eval_interval"]
    100
    """
    changes: dict[str, Any] = {
        "crop_size": None if crop_size is None else tuple(crop_size)
    }
    if batch_size:
        changes["batch_size"] = int(batch_size)
    if max_iterations is not None or time_budget_s is not None:
        changes["max_iterations"] = max_iterations
        changes["time_budget_s"] = time_budget_s
    if budget_clock is not None:
        changes["budget_clock"] = budget_clock
    if save_interval is not None:
        changes["save_interval"] = int(save_interval)
    if save_interval_s is not None:
        changes["save_interval_s"] = float(save_interval_s) or None
    if eval_interval is not None:
        changes["eval_interval"] = int(eval_interval)
    elif max_iterations is not None:
        every = max(50, min(1000, int(max_iterations) // 5))
        if log_interval:  # on the rows asked for (DeepLabCut's displayiters)
            every = max(1, round(every / int(log_interval))) * int(log_interval)
        changes["eval_interval"] = every
    if log_interval is not None:
        changes["log_interval"] = log_interval
    if max_snapshots is not None:
        changes["max_snapshots"] = max_snapshots
    if weigh_only_present_joints is not None:
        changes["weigh_only_present_joints"] = weigh_only_present_joints
    return changes


def _run_trainer(
    trainer: Any,
    ts: TrainingSet | MultiAnimalTrainingSet,
    *,
    resume: bool,
    stop_event: threading.Event | None,
    trainer_hook: Callable[[Any], None] | None,
    init_path: Path | None = None,
) -> TrainResult:
    """Fit a trainer on a training set's split and summarise the run.

    Parameters
    ----------
    trainer
        A :class:`~posekit.engine.training.Trainer` (or the multi-animal one).
    ts
        The training set: ``subset("train")``/``subset("test")`` give frames and
        keypoints, ``absent("train")`` the labeller's "not visible" marks of the
        training frames (both kinds of training set have them).
    resume, stop_event, trainer_hook
        As for :func:`train_network`.
    init_path
        The snapshot a fresh run started from (reported when the run started at 0).

    Returns
    -------
    TrainResult
    """
    if stop_event is not None:
        trainer.callbacks.append(_StopEventCallback(trainer, stop_event))
    project_path = getattr(trainer, "pose_cfg_extra", {}).get("project_path")
    if project_path and getattr(trainer, "stop_file", None) is None:
        # another process (a reopened app) stops this training by creating it
        trainer.stop_file = stop_path(project_path, "training")
    if trainer_hook is not None:
        trainer_hook(trainer)
    train_images, train_kp = ts.subset("train")
    test_images, test_kp = ts.subset("test")
    state = trainer.fit(
        train_images,
        train_kp,
        test_images if len(test_images) else None,
        test_kp if len(test_images) else None,
        resume=resume,
        absent=ts.absent("train"),  # the labeller's "not visible" marks
    )
    err = state.metrics.get("mean_error_px") if state.metrics else None
    result = TrainResult(
        iteration=state.iteration,
        start_iteration=state.start_iteration,
        stop_reason=state.stop_reason,
        snapshot=state.last_snapshot,
        test_error_px=None if err is None else float(err),
        train_dir=trainer.train_dir,
        initialised_from=init_path if state.start_iteration == 0 else None,
    )
    if result.stop_reason == "interrupted":  # saved: now stop the caller (Run All)
        raise TrainingInterrupted(result)
    return result


def previous_snapshot(
    project: Project | str | os.PathLike, shuffle: int = 1
) -> Path | None:
    """Newest snapshot of ``shuffle`` in the latest earlier iteration that has one.

    After :func:`posekit.engine.refinement.merge_datasets` raised the iteration, this
    is the model the next training starts from (DeepLabCut points ``init_weights``
    at it).

    Parameters
    ----------
    project
        The project.
    shuffle
        Shuffle number.

    Returns
    -------
    pathlib.Path or None
        The snapshot's ``.keras`` file; ``None`` in iteration 0 or when no earlier
        iteration trained this shuffle.
    """
    project = as_project(project)
    name = project.model_dir(shuffle).name
    for it in range(project.iteration - 1, -1, -1):
        folder = ModelFolder(
            project.path / "dlc-models" / f"iteration-{it}" / name / "train",
            project=project,
        )
        snaps = folder.snapshots()
        if snaps:
            return snaps[-1][1]
    return None


def _warm_start(
    project: Project,
    shuffle: int,
    init_from: str | os.PathLike | None,
    backbone: str | None,
    fresh: bool,
):
    """Return ``(snapshot, model config, train config)`` to start from, or ``None``.

    A snapshot that does not fit (:func:`_start_candidate`) is refused when named,
    passed over with a warning when it is the previous iteration's.
    """
    found = _start_candidate(project, shuffle, init_from, backbone, fresh)
    if found is None:
        return None
    path, model_config, train_config, reason = found
    if reason:
        if not (isinstance(init_from, str) and init_from == "previous"):
            raise ValueError(f"Cannot start from {path}: {reason}.")
        logger.warning("not starting from %s: %s", path, reason)
        return None
    return path, model_config, train_config


def _start_candidate(
    project: Project,
    shuffle: int,
    init_from: str | os.PathLike | None,
    backbone: str | None,
    fresh: bool,
) -> tuple[Path, PoseModelConfig, TrainConfig, str] | None:
    """Return the snapshot a run would start from, its configs and why it cannot.

    ``None`` when the run resumes or has nothing to start from; the reason is
    ``""`` when the snapshot fits (the project's bodyparts, the backbone asked
    for). Nothing is logged or raised here: :func:`_warm_start` does, and
    ``posekit train`` asks before training to word its first line.
    """
    if init_from is None or not fresh:
        return None
    explicit = not (isinstance(init_from, str) and init_from == "previous")
    path = Path(init_from) if explicit else previous_snapshot(project, shuffle)
    if path is None:
        return None
    if path.suffix != ".keras":
        path = path.with_suffix(".keras")
    model_config, train_config = continuation_configs(path)
    reason = ""
    if tuple(model_config.bodyparts) != tuple(project.bodyparts):
        reason = (
            f"it was trained for bodyparts {list(model_config.bodyparts)}, the project "
            f"has {project.bodyparts}"
        )
    elif backbone is not None and backbone != model_config.backbone:
        reason = f"it is a {model_config.backbone}, not a {backbone}"
    return path, model_config, train_config, reason


def _init_from_pose_cfg(
    project: Project, shuffle: int, init_from: str | os.PathLike | None, fresh: bool
) -> str | os.PathLike | None:
    """``init_from``, with the shuffle's ``pose_cfg.yaml`` ``init_weights`` for it.

    A fresh single-animal run asked to start from ``"previous"`` starts from the
    posekit snapshot the user named as ``init_weights`` there, when there is one.
    """
    if not fresh or project.multianimal:
        return init_from
    if not (isinstance(init_from, str) and init_from == "previous"):
        return init_from
    return _pose_cfg_init_weights(ModelFolder.of(project, shuffle).path) or init_from


def continuation_configs(
    snapshot: str | os.PathLike,
) -> tuple[PoseModelConfig, TrainConfig]:
    """Return the configs of a fresh run that starts from a snapshot's weights.

    The run trains the snapshot's network (no backbone weights to load: they come from
    the snapshot, e.g. through ``train_network(init_from=...)``) with the recipe it was
    trained with: its batch size, crop, augmentation and learning rate, and no
    adaptive defaults.

    Parameters
    ----------
    snapshot
        A ``snapshot-<N>.keras`` (or its ``.json``).

    Returns
    -------
    model_config : posekit.engine.models.pose_model.PoseModelConfig
    train_config : posekit.engine.training.TrainConfig
    """
    from .model_folder import Snapshot
    from .training import TrainConfig

    path = Path(snapshot).with_suffix(".keras")
    snap = Snapshot.read(path.with_suffix(".json"))
    saved = TrainConfig.from_dict(snap.meta.get("train_config") or {})
    train_config = TrainConfig(
        batch_size=saved.batch_size,
        crop_size=saved.crop_size,
        augment=saved.augment,
        learning_rate=saved.learning_rate,
        adaptive=False,  # the recipe of the model it continues
    )
    model_config = ModelFolder.at(path).model_config(path)
    return model_config.replace(weights=None), train_config


def _note_config_augmenter(project: Project) -> None:
    """Log one line when ``config.yaml`` names an augmenter posekit does not have.

    DeepLabCut's ``default_augmenter`` chooses its augmentation library; posekit has
    one pipeline (the ``augmenter_type=`` keyword is ignored the same way). The
    values posekit's own config template writes (``default``, and
    ``multi-animal-imgaug`` in a multi-animal project) say nothing.
    """
    value = project.get("default_augmenter")
    own = {"default", "multi-animal-imgaug"} if project.multianimal else {"default"}
    if value is None or str(value).strip() in own | {""}:
        return
    logger.info(
        "train_network: config.yaml's default_augmenter=%r does not apply in "
        "posekit (one augmentation pipeline: TrainConfig's augment); ignored",
        value,
    )


def _check_epochs(
    epochs: int | None,
    save_epochs: int | None,
    max_iterations: int | None,
    save_interval: int | None,
) -> None:
    """Refuse DeepLabCut 3's epochs given with their iteration counterparts.

    Raises
    ------
    TypeError
        ``epochs`` with ``max_iterations``, ``save_epochs`` with ``save_interval``,
        or either not a whole number above 0.
    """
    for name, value, ours, dlc2 in (
        ("epochs", epochs, max_iterations, "max_iterations= (maxiters=)"),
        ("save_epochs", save_epochs, save_interval, "save_interval= (saveiters=)"),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(
                f"train_network() got {name}={value!r}: give a whole number of "
                "epochs (passes over the training images), e.g. 200."
            )
        if value < 1:
            raise TypeError(f"train_network() got {name}={value}: give 1 or more.")
        if ours is not None:
            raise TypeError(
                f"train_network() got {name}={value} (DeepLabCut 3, in epochs) and "
                f"{dlc2}={ours} (in iterations): they set the same thing; give one "
                "of them."
            )


def _epochs_as_iterations(
    epochs: int | None,
    save_epochs: int | None,
    *,
    n_train: int,
    batch_size: int,
    max_iterations: int | None,
    save_interval: int | None,
) -> tuple[int | None, int | None]:
    """Convert DeepLabCut 3's ``epochs``/``save_epochs`` into iterations.

    posekit counts iterations (batches of ``batch_size`` crops); an epoch is one
    pass over the ``n_train`` training images, ``ceil(n_train / batch_size)``
    iterations. One log line says the conversion.

    Parameters
    ----------
    epochs, save_epochs
        DeepLabCut 3's values (``None``: not given).
    n_train
        Training images of the split.
    batch_size
        The batch size the run uses.
    max_iterations, save_interval
        posekit's values, kept where the epochs counterpart is not given.

    Returns
    -------
    max_iterations, save_interval : int or None

    Examples
    --------
    >>> _epochs_as_iterations(200, 50, n_train=95, batch_size=8,
    ...                       max_iterations=None, save_interval=None)
    (2400, 600)
    """
    per_epoch = max(1, -(-int(n_train) // int(batch_size)))
    if epochs is not None:
        max_iterations = int(epochs) * per_epoch
    if save_epochs is not None:
        save_interval = int(save_epochs) * per_epoch
    logger.info(
        "%s",
        _epochs_said(epochs, save_epochs, n_train=n_train, batch_size=batch_size),
    )
    return max_iterations, save_interval


def _epochs_said(
    epochs: int | None, save_epochs: int | None, *, n_train: int, batch_size: int
) -> str:
    """Say what :func:`_epochs_as_iterations` converts epochs into (one line).

    Examples
    --------
    >>> _epochs_said(200, None, n_train=95, batch_size=8)
    'epochs=200 → 2,400 iterations (12 batches of 8 per epoch: 95 training images)'
    """
    per_epoch = max(1, -(-int(n_train) // int(batch_size)))
    said = []
    if epochs is not None:
        said.append(f"epochs={epochs} → {int(epochs) * per_epoch:,} iterations")
    if save_epochs is not None:
        every = int(save_epochs) * per_epoch
        said.append(f"save_epochs={save_epochs} → a snapshot every {every:,}")
    return (
        f"{', '.join(said)} ({per_epoch} batch{'' if per_epoch == 1 else 'es'} of "
        f"{batch_size} per epoch: {n_train} training "
        f"image{'' if n_train == 1 else 's'})"
    )


def backbone_choice(
    project: Project | str | os.PathLike,
    backbone: str | None = None,
    weights: str | os.PathLike | None = "auto",
    *,
    shuffle: int | None = None,
):
    """Say which backbone :func:`train_network` trains for these arguments, and why.

    Parameters
    ----------
    project
        The project (its ``config.yaml`` ``default_net_type`` is the configured
        backbone).
    backbone, weights
        As for :func:`train_network`.
    shuffle
        The shuffle trained: the network ``create_training_dataset(net_type=...)``
        recorded for it (its ``pose_cfg.yaml``) is the configured backbone there.

    Returns
    -------
    posekit.engine.models.pretrained.BackboneChoice
        ``backbone``, ``weights`` and ``notice`` (one line to show before training
        starts; ``""`` when the configured backbone trains with ImageNet weights).
    """
    from .models.pretrained import choose_backbone

    project = as_project(project)
    recorded = None if shuffle is None else _shuffle_net_type(project, shuffle)
    if recorded is not None:
        where = ModelFolder.of(project, shuffle).path / "pose_cfg.yaml"
        return choose_backbone(
            recorded,
            backbone,
            weights,
            source=f"net_type of shuffle {shuffle}, {where}",
        )
    configured = project.get("default_net_type") or None
    return choose_backbone(configured, backbone, weights)


def _kept_net_type(project: Project, shuffle: int) -> dict[str, str]:
    """Keep the shuffle's recorded network in the ``pose_cfg.yaml`` training writes."""
    from .dataset import _SHUFFLE_NET_TYPE

    recorded = _shuffle_net_type(project, shuffle)
    return {} if recorded is None else {_SHUFFLE_NET_TYPE: recorded}


def _shuffle_net_type(project: Project, shuffle: int) -> str | None:
    """Return the network recorded for a shuffle in its ``pose_cfg.yaml``, or ``None``.

    ``create_training_dataset(net_type=...)``'s record (``shuffle_net_type``); else,
    before the first training, the ``net_type`` of a file DeepLabCut's or posekit's
    ``create_training_dataset`` wrote (no ``posekit`` section) when it is not
    ``config.yaml``'s ``default_net_type``: DeepLabCut trains the file's network, so
    a DeepLabCut shuffle made with ``net_type=`` or an edited file trains it here too.
    """
    from .dataset import _SHUFFLE_NET_TYPE

    folder = ModelFolder.of(project, shuffle)
    path = folder.path / "pose_cfg.yaml"
    if not path.is_file():
        return None
    try:
        cfg = folder.pose_cfg()
    except ValueError:  # damaged: the trainer rewrites it
        return None
    value = cfg.get(_SHUFFLE_NET_TYPE)
    if value:
        return str(value)
    written = cfg.get("net_type")
    if (
        isinstance(written, str)
        and written.strip()
        and "posekit" not in cfg
        and written != project.get("default_net_type")
        and not folder.snapshots()
    ):
        return written
    return None


# ------------------------------------------- DeepLabCut's train_network keywords


def _max_snapshots_to_keep(value: Any) -> dict[str, Any]:
    """DeepLabCut's ``max_snapshots_to_keep`` → ``max_snapshots``.

    ``None`` keeps posekit's default (5), as DeepLabCut 3 does (DeepLabCut 2 kept
    every snapshot); a number is the number kept.
    """
    if value is None:
        logger.info(
            "train_network: max_snapshots_to_keep=None keeps posekit's default, the "
            "5 newest snapshots (as DeepLabCut 3); give a number to keep more"
        )
        return {}
    return {"max_snapshots": value}


def _head_weights(name: str) -> Callable[[Any], dict[str, Any]]:
    """DeepLabCut's ``keepdeconvweights`` (3: ``load_head_weights``): logged only."""

    def apply(value: Any) -> dict[str, Any]:
        logger.info(
            "train_network: DeepLabCut's %s=%r is not used: a new iteration's "
            "training starts from the previous model, head included, when its "
            "bodyparts are the project's, and from the backbone's weights when they "
            "changed (init_from=None: always from the backbone's weights)",
            name,
            value,
        )
        return {}

    return apply


def _no_detector(name: str) -> Callable[[Any], dict[str, Any]]:
    """DeepLabCut 3's ``detector_*`` keywords: posekit's networks have no detector."""

    def apply(value: Any) -> dict[str, Any]:
        if value is not None:
            logger.warning(
                "train_network: DeepLabCut 3's %s=%r ignored: posekit's networks "
                "are bottom-up, with no detector to train (DeepLabCut ignores it too "
                "for its bottom-up models); the pose network trains as asked",
                name,
                value,
            )
        return {}

    return apply


def _not_here(name: str, why: str) -> Callable[[Any], dict[str, Any]]:
    """Accept a DeepLabCut keyword that does not apply to training: one log line."""

    def apply(value: Any) -> dict[str, Any]:
        logger.info("train_network: DeepLabCut's %s=%r ignored: %s", name, value, why)
        return {}

    return apply


#: DeepLabCut 3's ``pytorch_cfg_updates`` keys that have a ``train_network``
#: argument here.
_PYTORCH_CFG_KEYS = {
    "train_settings.epochs": "epochs",
    "train_settings.batch_size": "batch_size",
    "train_settings.display_iters": "log_interval",
    "runner.snapshots.save_epochs": "save_epochs",
    "runner.snapshots.max_snapshots": "max_snapshots",
}

#: ``pytorch_cfg_updates`` keys about the hardware or data loading: ignored.
_PYTORCH_CFG_IGNORED = (
    "device",
    "runner.gpus",
    "train_settings.dataloader_workers",
    "train_settings.dataloader_pin_memory",
)


def _pytorch_cfg_updates(value: Any) -> dict[str, Any]:
    """DeepLabCut 3's ``pytorch_cfg_updates``: the keys posekit has, else refused.

    Raises
    ------
    TypeError
        A key that changes DeepLabCut's PyTorch model or recipe (the learning
        rate, the head, the augmentation, ...), which posekit does not train.
    """
    from collections.abc import Mapping

    if value is None or (isinstance(value, Mapping) and not value):
        return {}
    taken = ", ".join(f"{k} (= {v}=)" for k, v in _PYTORCH_CFG_KEYS.items())
    if not isinstance(value, Mapping):
        raise TypeError(
            f"train_network() got pytorch_cfg_updates={value!r}: give a dict of "
            f"DeepLabCut's dotted keys; posekit takes {taken}."
        )
    other = [k for k in value if k not in {*_PYTORCH_CFG_KEYS, *_PYTORCH_CFG_IGNORED}]
    if other:
        raise TypeError(
            f"train_network() got pytorch_cfg_updates with {other}: they change "
            "DeepLabCut's PyTorch model configuration (pytorch_config.yaml), and "
            "posekit trains its own network, not that one. posekit takes "
            f"{taken}, and ignores {', '.join(_PYTORCH_CFG_IGNORED)} (it runs on "
            "what TensorFlow finds). Leave the other keys out, or give posekit's "
            "arguments of train_network (backbone=, crop_size=, "
            "time_budget_s=, ...). Nothing was trained."
        )
    dropped = [k for k in value if k in _PYTORCH_CFG_IGNORED]
    if dropped:
        logger.info(
            "train_network: pytorch_cfg_updates %s ignored (posekit runs on what "
            "TensorFlow finds)",
            dropped,
        )
    return {_PYTORCH_CFG_KEYS[k]: v for k, v in value.items() if k in _PYTORCH_CFG_KEYS}


#: DeepLabCut's ``train_network`` keywords (DeepLabCut 2's and 3's
#: ``deeplabcut.train_network``, and DeepLabCut 3's PyTorch API names), besides
#: ``trainingsetindex``, ``engine``, ``config`` and the hardware names that every
#: verb takes (:mod:`posekit.engine.dlc_names`: ``gputouse``, ``device``,
#: ``allow_growth``, ``autotune``); ``epochs``, ``save_epochs`` and ``batch_size``
#: are :func:`train_network`'s own. The table is in docs/coming-from-deeplabcut.md.
_DLC_TRAIN_KEYWORDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "maxiters": renamed("max_iterations"),
    "saveiters": renamed("save_interval"),
    "displayiters": renamed("log_interval"),
    "display_iters": renamed("log_interval"),
    "max_snapshots_to_keep": _max_snapshots_to_keep,
    "keepdeconvweights": _head_weights("keepdeconvweights"),
    "load_head_weights": _head_weights("load_head_weights"),
    "detector_epochs": _no_detector("detector_epochs"),
    "detector_batch_size": _no_detector("detector_batch_size"),
    "detector_save_epochs": _no_detector("detector_save_epochs"),
    "detector_path": _no_detector("detector_path"),
    "pose_threshold": _not_here(
        "pose_threshold", "it filters the pseudo-labels of SuperAnimal memory replay"
    ),
    "pytorch_cfg_updates": _pytorch_cfg_updates,
    "modelprefix": refused(
        "train_network() got modelprefix={value!r}: posekit keeps a shuffle's model "
        "in the project's dlc-models/ (no prefix folder), so it would train or "
        "resume that model instead of a separate one. To train another model "
        "beside it, use another shuffle: create_training_dataset(config, "
        "shuffles=[2]) (test_frames= keeps the test frames of shuffle 1), then "
        "train_network(config, shuffle=2). Nothing was trained.",
        unless=lambda v: not v,
    ),
    "superanimal_name": refused(
        "train_network() got superanimal_name={value!r}: posekit has no SuperAnimal "
        "models to fine-tune. It trains from ImageNet weights (weights='imagenet', "
        "the default where they load) or from a posekit snapshot (init_from=PATH); "
        "leave superanimal_name out. Nothing was trained.",
        unless=lambda v: not v,
    ),
    "superanimal_transfer_learning": refused(
        "train_network() got superanimal_transfer_learning={value!r}: posekit has "
        "no SuperAnimal models to start from; leave it out (ImageNet weights or "
        "init_from=PATH). Nothing was trained.",
        unless=lambda v: not v,
    ),
    "snapshot_path": refused(
        "train_network() got snapshot_path={value!r}: posekit resumes a shuffle's "
        "training from its newest snapshot by itself (resume=True, the default). "
        "To start from another posekit snapshot's weights, give init_from=PATH "
        "(a snapshot-<N>.keras; with resume=False if the shuffle has snapshots "
        "already); DeepLabCut's own snapshots (.pt, TensorFlow) do not load here. "
        "Nothing was trained.",
        unless=lambda v: v is None,
    ),
}


@dlc_keywords(**_DLC_TRAIN_KEYWORDS)
@_one_at_a_time("training", "train_network")
def train_network(
    project: Project | str | os.PathLike,
    *,
    shuffle: int = 1,
    backbone: str | None = None,
    weights: str | os.PathLike | None = "auto",
    max_iterations: int | None = None,
    time_budget_s: float | None = None,
    budget_clock: str | None = None,
    batch_size: int | None = None,
    crop_size: tuple[int, int] | None = None,
    resume: bool = True,
    init_from: str | os.PathLike | None = "previous",
    callbacks: Sequence[Any] = (),
    stop_event: threading.Event | None = None,
    progress: bool = True,
    eval_interval: int | None = None,
    save_interval: int | None = None,
    save_interval_s: float | None = None,
    trainer_hook: Callable[[Any], None] | None = None,
    epochs: int | None = None,
    save_epochs: int | None = None,
    log_interval: int | None = None,
    max_snapshots: int | None = None,
    weigh_only_present_joints: bool | None = None,
) -> TrainResult:
    """Train (or resume) the network of a shuffle.

    Parameters
    ----------
    project
        The project (or its folder).
    shuffle
        Shuffle number (its split is created if absent).
    backbone
        Backbone name. Default: the config's ``default_net_type`` if its ImageNet
        weights load here, else ``efficientnet_lite0`` with its ImageNet weights
        (DeepLabCut's ``resnet_50`` cannot get them offline), with a notice logged
        before training starts (:func:`backbone_choice`).
    weights
        ``"auto"`` (ImageNet weights where they load here, else random
        initialisation), ``"imagenet"``, a weights file, or ``None`` for random
        initialisation. Given without ``backbone``, it applies to the configured
        backbone (``weights=None`` trains the configured ``resnet_50`` from scratch).
    max_iterations, time_budget_s
        Stop when the iteration counter reaches ``max_iterations`` or after
        ``time_budget_s`` seconds of training, both totals that count the resumed
        runs (DeepLabCut's ``maxiters``): resuming a run that reached them does
        nothing. Default: :class:`~posekit.engine.training.TrainConfig`'s
        ``max_iterations``.
    budget_clock
        ``"wall"`` (default) or ``"cpu"``: ``time_budget_s`` counts process CPU
        seconds per core, so that a busy machine does not shorten the run.
    batch_size, crop_size
        Training batch size (default 8; when resuming, the snapshot's) and crop
        ``(height, width)`` (default: chosen from the frame size, see
        :func:`posekit.engine.training.default_crop_size`; when resuming, the crop the
        snapshot was trained with). A single-animal training also takes the
        DeepLabCut keys set in the shuffle's ``pose_cfg.yaml`` (``batch_size``,
        ``rotation``, ``multi_step``, ``init_weights``, …); an argument given here
        wins over the file (the guide "Coming from DeepLabCut").
    resume
        Continue from the newest snapshot (iteration counter and optimizer state
        continue); ``False`` starts over.
    init_from
        What a run that starts over (no snapshot yet in this iteration's model
        folder, or ``resume=False``) starts from: ``"previous"`` (default) the
        newest snapshot of this shuffle in an earlier iteration
        (:func:`previous_snapshot`: after :func:`~posekit.engine.refinement.merge_datasets`
        the model of the last round, its network and training recipe; the iteration
        counter starts at 0, as DeepLabCut's ``init_weights``), a snapshot file, or
        ``None`` (the backbone's ``weights``). Nothing earlier: ``weights``. A
        posekit snapshot named by ``init_weights`` in the shuffle's ``pose_cfg.yaml``
        (set by the user) comes before ``"previous"``.
    callbacks
        :class:`posekit.engine.training.TrainingCallback` hooks (dashboards).
    stop_event
        A ``threading.Event``; setting it stops training after saving a snapshot.
        From another process: :func:`posekit.engine.locks.request_stop` (the
        project's ``.posekit-training.stop`` file, checked before every step).
    progress
        Show a progress bar.
    eval_interval
        Test-set evaluation interval in iterations.
    save_interval
        Save a snapshot every this many iterations (default 5000; DLC's
        ``save_iters``). A snapshot is also saved at the end and on a stop.
    save_interval_s
        Also save a snapshot after this many seconds of wall-clock time since the
        last one (default: :class:`~posekit.engine.training.TrainConfig`'s
        ``save_interval_s``, three minutes; ``0``: by iterations only).
    trainer_hook
        Called with the :class:`~posekit.engine.training.Trainer` before training
        (a dashboard keeps it to call ``request_stop``).
    epochs, save_epochs
        DeepLabCut 3's training length and snapshot interval in epochs (passes over
        the training images), converted to posekit's iterations (batches): one
        epoch is ``ceil(training images / batch size)`` iterations at the batch
        size this run uses, so ``epochs`` sets ``max_iterations`` (a total, as
        DeepLabCut 3's ``epochs`` counts a resumed run's epochs) and
        ``save_epochs`` sets ``save_interval``; a log line says the conversion.
        Giving one with its iteration counterpart (``max_iterations``/``maxiters``,
        ``save_interval``/``saveiters``) is an error.
    log_interval
        Write a ``learning_stats.csv`` row (the mean losses) every this many
        iterations (default 50; DeepLabCut's ``displayiters``, the ``display_iters``
        of its ``pose_cfg.yaml``). Rows with a test error or a snapshot come in
        between; every row's losses are the mean since the previous row. Without
        ``eval_interval``, the test error comes every few of these rows.
    max_snapshots
        Keep this many newest snapshots, deleting older ones (default 5;
        DeepLabCut's ``max_snapshots_to_keep``).
    weigh_only_present_joints
        DeepLabCut's ``pose_cfg.yaml`` key: how a bodypart left empty in a labelled
        frame is trained. ``False`` (DeepLabCut's default): as absent, so the
        network learns that a hidden part is not there. ``True``: not at all (zero
        loss weight), for labels whose empty points are parts not placed rather
        than hidden ones; points marked "not visible" in the labeller are absent
        either way. ``None`` (default): what the model folder's ``pose_cfg.yaml``
        says, else the snapshot the run resumes or starts from, else ``False``.
        The value used is written to ``pose_cfg.yaml`` and recorded in each
        snapshot (:attr:`~posekit.engine.training.TrainConfig.weigh_only_present_joints`).
        In a multi-animal project a bodypart's score map is shared by the animals:
        ``True`` trains it only in frames where some animal has it placed or marked
        not visible.

    Notes
    -----
    A multi-animal project trains score maps, location refinement and part-affinity
    fields (:func:`posekit.engine.multianimal.api.train_multianimal`).

    DeepLabCut's other keywords of ``train_network`` are renamed (``maxiters``,
    ``saveiters``, ``displayiters``/``display_iters``, ``max_snapshots_to_keep``),
    logged and ignored where they change nothing here (``gputouse``, ``device``,
    ``allow_growth``, ``autotune``, ``keepdeconvweights``, the ``detector_*`` of
    DeepLabCut 3's top-down models: posekit's networks have no detector), or
    refused with what to do instead where they would change the result
    (``modelprefix``, ``superanimal_name``, ``snapshot_path``, the
    ``pytorch_cfg_updates`` keys that are not these arguments). The table is in
    the guide "Coming from DeepLabCut".

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingInterrupted
        A ``KeyboardInterrupt`` (Ctrl-C, Jupyter's *Interrupt*, SIGTERM where a
        handler turns it into one), raised after the snapshot of the iteration
        reached is saved: the notebook's next cells do not run on the half-trained
        network, and calling :func:`train_network` again resumes. Its ``result`` is
        the run's :class:`TrainResult`.
    posekit.engine.locks.JobLockError
        If a training already runs on the project (the message names it: verb, pid,
        host, start time). One training at a time per project.
    FileExistsError
        If the shuffle's folder holds DeepLabCut's own trained network
        (:meth:`~posekit.engine.model_folder.ModelFolder.check_trainable`).
    TypeError
        If ``epochs`` comes with ``max_iterations`` (or ``save_epochs`` with
        ``save_interval``), or is not a whole number above 0; or a DeepLabCut
        keyword that would change the result here (above).
    ValueError
        If ``weigh_only_present_joints`` is not ``True``, ``False`` or ``None``.
    """
    from .models.pose_model import PoseModelConfig
    from .training import TrainConfig, Trainer

    project = as_project(project)
    _check_epochs(epochs, save_epochs, max_iterations, save_interval)
    ModelFolder.of(project, shuffle).check_trainable()  # not DeepLabCut's network
    note_config_engine(project)  # DeepLabCut 3's engine: pytorch
    _note_config_augmenter(project)
    if project.multianimal and (epochs is not None or save_epochs is not None):
        # the multi-animal training uses batch_size, else TrainConfig's default
        max_iterations, save_interval = _epochs_as_iterations(
            epochs,
            save_epochs,
            n_train=len(_ensure_training_set(project, shuffle).train_indices),
            batch_size=int(batch_size or TrainConfig().batch_size),
            max_iterations=max_iterations,
            save_interval=save_interval,
        )
    if project.multianimal:  # part-affinity fields (posekit.engine.multianimal)
        from .multianimal.api import train_multianimal

        return train_multianimal(
            project,
            shuffle=shuffle,
            backbone=backbone,
            weights=weights,
            max_iterations=max_iterations,
            time_budget_s=time_budget_s,
            budget_clock=budget_clock or "wall",
            batch_size=batch_size,
            crop_size=crop_size,
            resume=resume,
            callbacks=callbacks,
            stop_event=stop_event,
            progress=progress,
            eval_interval=eval_interval,
            save_interval=save_interval,
            save_interval_s=save_interval_s,
            trainer_hook=trainer_hook,
            init_from=init_from,
            log_interval=log_interval,
            max_snapshots=max_snapshots,
            weigh_only_present_joints=weigh_only_present_joints,
        )
    out = ModelFolder.of(project, shuffle).path
    fresh = resume is False or not ModelFolder(out).snapshots()
    resumed = None if fresh else ModelFolder(out)
    given = _given_settings(
        batch_size=batch_size,
        save_interval=save_interval if save_epochs is None else save_epochs,
        log_interval=log_interval,
        max_snapshots=max_snapshots,
        max_iterations=(max_iterations, time_budget_s, epochs),
        init_from=init_from,
        crop_size=crop_size,
    )
    init_from = _init_from_pose_cfg(project, shuffle, init_from, fresh)
    warm = _warm_start(project, shuffle, init_from, backbone, fresh)
    if resumed is not None and backbone is None:  # the network resumed
        backbone = resumed.model_config(-1).backbone
    choice = backbone_choice(project, backbone, weights, shuffle=shuffle)
    if choice.notice and warm is None and resumed is None:
        logger.warning("%s", choice.notice)
    # a set made before (by create-training-dataset, or an earlier run) says again
    # which points left empty are trained as absent
    ts = _ensure_training_set(project, shuffle, warn_empty=True)
    if epochs is not None or save_epochs is not None:
        # the batch size this run uses: given, else the recipe it starts from
        base_batch = (
            warm[2].batch_size
            if warm is not None
            else _resumed_train_config(resumed).batch_size
        )
        max_iterations, save_interval = _epochs_as_iterations(
            epochs,
            save_epochs,
            n_train=len(ts.train_indices),
            batch_size=int(batch_size or base_batch),
            max_iterations=max_iterations,
            save_interval=save_interval,
        )
    changes = _train_config_changes(
        crop_size=crop_size,
        batch_size=batch_size,
        max_iterations=max_iterations,
        time_budget_s=time_budget_s,
        budget_clock=budget_clock,
        save_interval=save_interval,
        save_interval_s=save_interval_s,
        eval_interval=eval_interval,
        log_interval=log_interval,
        max_snapshots=max_snapshots,
        weigh_only_present_joints=weigh_only_present_joints,
    )
    if warm is not None:
        init_path, model_config, base_config = warm
        if crop_size is None:
            changes.pop("crop_size")
        train_config = base_config.replace(**changes)
    else:
        init_path = None
        train_config = _resumed_train_config(resumed).replace(**changes)
        model_config = PoseModelConfig(
            bodyparts=tuple(project.bodyparts),
            backbone=choice.backbone,
            weights=choice.weights,
        )
    trainer = Trainer(
        model_config,
        train_config,
        out,
        flip_pairs=ts.flip_pairs,
        callbacks=list(callbacks),
        progress=progress,
        pose_cfg_extra={
            "project_path": str(project.path),
            "dataset": str(project.training_set_dir()),
            # what names the model (the DLC scorer name) without the project config
            **model_naming(project, shuffle=shuffle, train_fraction=ts.train_fraction),
            # the backbone trained, and why (DLC's key is net_type)
            "configured_net_type": choice.configured,
            "backbone_notice": "" if init_path else choice.notice,
            **_kept_net_type(project, shuffle),
        },
        init_weights=init_path,
        dlc_settings=True,  # the DeepLabCut keys the user set in its pose_cfg.yaml
        given=given,
    )
    return _run_trainer(
        trainer,
        ts,
        resume=resume,
        stop_event=stop_event,
        trainer_hook=trainer_hook,
        init_path=init_path,
    )


def _given_settings(**values: Any) -> frozenset[str]:
    """Return the training settings given explicitly (they win over pose_cfg.yaml).

    ``max_iterations`` comes as a tuple of the arguments that set the length;
    ``init_from`` counts when it is not ``"previous"``.

    Examples
    --------
    >>> sorted(_given_settings(batch_size=4, log_interval=None,
    ...                        max_iterations=(None, 60.0), init_from="previous"))
    ['batch_size', 'max_iterations']
    """
    given = set()
    for name, value in values.items():
        if name == "max_iterations":
            value = next((v for v in value if v is not None), None)
        elif name == "init_from":
            value = None if isinstance(value, str) and value == "previous" else True
        if value is not None and value is not False and value != 0:
            given.add(name)
    return frozenset(given)


def _pose_cfg_init_weights(train_dir: Path) -> Path | None:
    """Return the snapshot the user's ``init_weights`` in ``pose_cfg.yaml`` names."""
    from . import _dlc_pose_cfg

    path = Path(train_dir) / "pose_cfg.yaml"
    if not path.is_file():
        return None
    try:
        chosen = _dlc_pose_cfg.user_choices(ModelFolder.at(train_dir).pose_cfg())
    except ValueError:
        return None  # damaged: the trainer rewrites it
    if "init_weights" not in chosen:
        return None
    return _dlc_pose_cfg.init_weights_path(chosen["init_weights"], path)


def _resumed_train_config(folder: ModelFolder | None) -> Any:
    """Return the training settings of a new run, or of the run ``folder`` resumes.

    Resumed: the batch size and learning rate of the newest snapshot (the trainer
    takes its crop and augmentation from the snapshot too; a single-animal one its
    schedule from ``pose_cfg.yaml``); new: the defaults. Single- and multi-animal
    training (:func:`~posekit.engine.multianimal.api.train_multianimal`) both use it.
    """
    from .model_folder import Snapshot, SnapshotError
    from .training import TrainConfig

    if folder is None:
        return TrainConfig()
    try:
        path = folder.snapshot(-1)[1]
        saved = TrainConfig.from_dict(
            Snapshot.read(path.with_suffix(".json")).meta.get("train_config") or {}
        )
    except (FileNotFoundError, ValueError, KeyError, SnapshotError):
        return TrainConfig()  # unreadable: the trainer says
    return TrainConfig(batch_size=saved.batch_size, learning_rate=saved.learning_rate)


def predict_frames(
    project: Project | str | os.PathLike,
    images: Sequence[np.ndarray],
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    batch_size: int = 8,
) -> np.ndarray:
    """Predict ``(N, K, 3)`` (x, y, likelihood) on RGB frames with a trained shuffle.

    Parameters
    ----------
    project
        The project (or its folder).
    images
        RGB frames ``(H, W, 3)``; their sizes may differ.
    shuffle, snapshot
        Which network (``snapshot`` indexes the snapshots, -1 newest).
    batch_size
        Frames per inference call.

    Returns
    -------
    numpy.ndarray
        ``(N, K, 3)`` in the frames' pixels.
    """
    folder = ModelFolder.of(project, shuffle)
    # snapshots are saved with a free input size: frames of any size, no rebuild
    predictor = folder.predictor(batch_size=batch_size, snapshot=snapshot)
    return predictor(images)


def _concat_tables(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One table of the evaluation tables of several training fractions or shuffles."""
    return pd.concat(tables, ignore_index=True)


#: DeepLabCut 3's options of its top-down (detector + pose) models and of PyTorch:
#: posekit's networks are bottom-up Keras ones (the analysis and the evaluation).
_DLC3_DETECTOR = ignored(
    "DeepLabCut 3's detector of top-down models: posekit's networks find the "
    "keypoints in the whole frame (bottom-up), with no detector"
)
_DLC3_TORCH = ignored("PyTorch options: posekit runs its Keras network (TensorFlow)")


def _snapshots_to_evaluate(value: Any) -> dict[str, Any]:
    """DeepLabCut 3's ``snapshots_to_evaluate``: refused, naming posekit's ``snapshot``."""
    if value is None:
        return {}
    raise ValueError(
        f"snapshots_to_evaluate={value!r} (DeepLabCut 3): posekit chooses the "
        "snapshot by its index among the shuffle's snapshots: snapshot=-1 (the "
        "newest), snapshot=0 (the oldest) or snapshot='all' (DeepLabCut's "
        "snapshotindex; posekit evaluate --snapshot). The snapshots are listed by "
        "posekit.engine.model_folder.ModelFolder(...).snapshots()."
    )


@dlc_keywords(
    plotting=renamed("plot"),
    Shuffles=renamed("shuffle", shuffle_numbers),
    rescale=ignored("posekit evaluates at the frames' own size"),
    snapshotindex=renamed("snapshot"),
    snapshot_index=renamed("snapshot"),
    detector_snapshot_index=_DLC3_DETECTOR,
    snapshots_to_evaluate=_snapshots_to_evaluate,
    per_keypoint_evaluation=ignored(
        "posekit always writes the per-bodypart test errors (Test error <bodypart> "
        "in <scorer>-results.csv)"
    ),
    all_training_sets=_concat_tables,
    each_shuffle=_concat_tables,
)
def evaluate_network(
    project: Project | str | os.PathLike,
    *,
    shuffle: int | Sequence[int] = 1,
    snapshot: int | str | None = None,
    plot: bool = False,
    pck_radius: float = 5.0,
    comparisonbodyparts: str | Sequence[str] = "all",
) -> pd.DataFrame:
    """Train and test error of a trained shuffle, as DeepLabCut reports them, and more.

    ``snapshot`` indexes the shuffle's snapshots (-1 the newest, ``"all"`` every one,
    a row each); default: the config's ``snapshotindex``, as in DeepLabCut.
    ``comparisonbodyparts`` (DeepLabCut's): the errors over these bodyparts only
    (default ``"all"``). Such an evaluation writes its row, with a ``Compared
    bodyparts`` column, and its p-cutoff table to ``<DLCscorer>-results-<bodyparts>.csv``
    and ``<DLCscorer>-pcutoffs-<bodyparts>.csv`` (``<bodyparts>``: the names
    joined by ``+``), and leaves ``CombinedEvaluation-results.csv`` and
    ``<DLCscorer>-results.csv`` with the errors over all bodyparts (DeepLabCut
    appends its row to the combined file, where nothing tells it from the
    model's). A multi-animal project is evaluated over all bodyparts only.

    Writes ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv`` (DLC's
    columns; errors are mean Euclidean distances, which DLC calls RMSE), a per-shuffle
    ``<DLCscorer>-results.csv`` with true RMSE, PCK, per-bodypart errors and what the
    p-cutoff keeps (the share of the test points with likelihood ≥ p-cutoff, and the
    share of those more than 10 px off), ``<DLCscorer>-pcutoffs.csv`` with the same
    for p-cutoffs 0.1–0.9 on the train and test frames (to choose a p-cutoff:
    :func:`~posekit.engine.evaluation.likelihood_table`), the
    predictions on the labelled frames, and with ``plot=True`` (DeepLabCut's
    ``plotting``) an image of the predictions and labels of every labelled frame in
    ``LabeledImages_<DLCscorer>_snapshot-<N>/``, named as DeepLabCut names them:
    ``Training-<video>-<image>.png`` for the frames trained on, ``Test-…`` for the
    held-out ones.

    A multi-animal project is evaluated on assembled animals
    (:func:`posekit.engine.multianimal.api.evaluate_multianimal`: OKS mAP and mAR, and
    the errors after matching each labelled animal to a prediction).

    DeepLabCut's ``trainingsetindex`` chooses the ``TrainingFraction``;
    ``trainingsetindex="all"`` evaluates the shuffle of every fraction, as
    DeepLabCut does (each must be trained: a fraction without a network is the
    error ``FileNotFoundError`` that names its folder, ``…-trainset<pct>shuffle<k>``).

    Several shuffles (``shuffle=[1, 2]``, or DeepLabCut's ``Shuffles=[1, 2]``) are
    evaluated one after the other, in the order given, as DeepLabCut does: each
    writes its files as above (a row each in the iteration's
    ``CombinedEvaluation-results.csv``, in that order; with
    ``trainingsetindex="all"`` every fraction of the first shuffle, then of the
    next). ``Shuffles=[1]`` is ``shuffle=1``.

    Evaluating reads the shuffle's recorded split and creates none, as DeepLabCut:
    a shuffle without a trained network, or whose training set is gone, is refused
    before anything of it is written. With several shuffles (``Shuffles=[1, 7]``)
    they are evaluated in turn, so the ones before a refused shuffle have written
    their rows, as in DeepLabCut (``posekit evaluate`` checks every ``--shuffle``
    first).

    Returns
    -------
    pandas.DataFrame
        One row with the train/test metrics (one per snapshot with ``"all"``; the
        fractions' rows one after the other with ``trainingsetindex="all"``; with
        several shuffles, the shuffles' rows one after the other, told apart by
        ``"Shuffle number"``).

    Raises
    ------
    FileNotFoundError
        The shuffle has no posekit snapshot (the message names the trained
        shuffles, and how to create and train this one), or it has one but no
        training set (``Documentation_data-…shuffle<k>.pickle``).
    """
    from .dataset import load_training_set
    from .drawing import bodypart_colors, draw_predictions
    from .evaluation import (
        MISS_PX,
        evaluation_image_names,
        evaluation_summary,
        write_evaluation_images,
    )
    from .io.dlc import paths_to_index, predictions_frame, write_hdf

    project = as_project(project)
    all_parts = isinstance(comparisonbodyparts, str) and comparisonbodyparts == "all"
    if project.multianimal and not all_parts:
        raise ValueError(
            f"comparisonbodyparts={comparisonbodyparts!r}: a multi-animal project is "
            "evaluated on all its bodyparts (OKS and the errors after matching "
            "animals); pass comparisonbodyparts='all' (the default)."
        )
    _check_evaluable(project, shuffle)  # creates nothing, as DeepLabCut's
    if snapshot is None:
        snapshot = project.snapshot_index
    if snapshot == "all":
        count = len(ModelFolder.of(project, shuffle).snapshots())
        return pd.concat(
            [
                evaluate_network(
                    project,
                    shuffle=shuffle,
                    snapshot=i,
                    plot=plot,
                    pck_radius=pck_radius,
                    comparisonbodyparts=comparisonbodyparts,
                )
                for i in range(count)
            ],
            ignore_index=True,
        )
    snapshot = int(snapshot)
    if project.multianimal:  # OKS mAP/mAR, errors after matching animals
        from .multianimal.api import evaluate_multianimal

        return evaluate_multianimal(
            project, shuffle=shuffle, snapshot=snapshot, plot=plot
        )
    ts = load_training_set(project, shuffle=shuffle)  # recorded: never a new split
    _warn_changed_labels(project, shuffle, ts)
    folder = ModelFolder.of(project, shuffle)
    iteration, path = folder.snapshot(snapshot)
    # saved with a free input size: takes the full frames, whatever their sizes
    preds = folder.predictor(batch_size=1, snapshot=path)(ts.images)
    pcut = project.pcutoff
    compared = _compared_bodyparts(ts.bodyparts, comparisonbodyparts)
    cols = [ts.bodyparts.index(b) for b in compared]
    subset = compared if sorted(compared) != sorted(ts.bodyparts) else None
    train, test = _split_summaries(
        ts,
        lambda idx: evaluation_summary(
            preds[idx][:, cols],
            ts.keypoints[idx][:, cols],
            compared,
            pcutoff=pcut,
            pck_radius=pck_radius,
        ),
    )
    nan = float("nan")
    scorer = folder.scorer(path)
    columns = {
        "p-cutoff used": pcut,
        "Train error with p-cutoff": train.get("mean_error_pcutoff_px", nan),
        "Test error with p-cutoff": test.get("mean_error_pcutoff_px", nan),
        f"Test PCK@{pck_radius:g}px": test.get("pck", nan),
        "Test share kept at p-cutoff": test.get("kept_share", nan),
        f"Test share kept >{MISS_PX:g}px off": test.get("miss_share_kept", nan),
    }
    for bp, err in (test.get("per_bodypart_px") or {}).items():
        columns[f"Test error {bp}(px)"] = err
    table = _write_evaluation(
        project,
        shuffle,
        scorer,
        iteration,
        ts.train_fraction,
        train,
        test,
        pcutoff_error="mean_error_pcutoff_px",
        columns=columns,
        compared=subset,
    )
    shuffle_dir = project.evaluation_dir(shuffle)
    _write_pcutoff_table(
        shuffle_dir / f"{scorer}-pcutoffs{_subset_suffix(subset)}.csv",
        {
            name: (preds[idx][:, cols], ts.keypoints[idx][:, cols])
            for name, idx in (("train", ts.train_indices), ("test", ts.test_indices))
        },
        pcut,
    )
    df = predictions_frame(preds, scorer, ts.bodyparts)
    df.index = paths_to_index(ts.paths)
    write_hdf(  # opens in pandas 2 (DeepLabCut) and 3 alike
        df, shuffle_dir / f"{scorer}-snapshot-{iteration}.h5", format="fixed"
    )
    if plot:  # every labelled frame, as DeepLabCut: Training-… and Test-… images
        colors = bodypart_colors(len(ts.bodyparts), project.display.colormap)
        write_evaluation_images(
            shuffle_dir / f"LabeledImages_{scorer}_snapshot-{iteration}",
            evaluation_image_names(ts.paths, ts.train_indices, ts.test_indices),
            lambda i: draw_predictions(
                ts.images[i],
                preds[i],
                ts.keypoints[i],
                colors=colors,
                bodyparts=ts.bodyparts,
                pcutoff=pcut,
            ),
        )
    return table


def _write_pcutoff_table(
    path: Path,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    pcutoff: float,
) -> pd.DataFrame:
    """Write what each p-cutoff keeps and lets through, per split; say the test's.

    :func:`~posekit.engine.evaluation.likelihood_table` of each split (``"train"``,
    ``"test"``: predictions and labels), at p-cutoffs 0.1–0.9 and the project's,
    one row each, to ``path`` (``<scorer>-pcutoffs.csv``).
    """
    from ._fileio import atomic_path
    from .evaluation import MISS_PX, likelihood_table

    cutoffs = sorted({round(0.1 * i, 1) for i in range(1, 10)} | {float(pcutoff)})
    rows = [
        {"split": name, **row}
        for name, (pred, labels) in splits.items()
        if len(pred)
        for row in likelihood_table(pred, labels, pcutoffs=cutoffs)
    ]
    table = pd.DataFrame(rows)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    test = [r for r in rows if r["split"] == "test" and r["pcutoff"] == pcutoff]
    if test and test[0]["kept"]:
        r = test[0]
        logger.info(
            "test frames: at p-cutoff %g, %d of %d labelled points (%.0f %%) are kept; "
            "%d of them (%.1f %%) are more than %g px off. What the other p-cutoffs "
            "keep and let through: %s",
            pcutoff, r["kept"], r["labelled"], 100 * r["kept_share"],
            r["misses_kept"], 100 * r["miss_share_kept"], MISS_PX, path,
        )  # fmt: skip
    return table


def _warn_changed_labels(project: Project, shuffle: int, ts: Any) -> list[str]:
    """Warn when labeled-data's labels of the split's frames differ from the copy.

    Evaluation scores the labels copied into ``training-datasets`` when the training
    set was created (as DeepLabCut). The split's frames are compared, value by value
    (NaN equal to NaN), with the project's current
    ``labeled-data/*/CollectedData_<scorer>.h5``; a frame no longer labelled counts
    as changed.

    Returns
    -------
    list of str
        The frames whose labels differ (``labeled-data/<video>/<image>``).
    """
    from .dataset import merge_labels
    from .io.dlc import index_to_paths, read_labels

    copy_path = project.training_set_dir() / f"CollectedData_{project.scorer}.h5"
    try:
        copy = read_labels(copy_path)
        current = merge_labels(project)
    except (OSError, ValueError, KeyError) as err:  # LabelError is a ValueError
        logger.debug("labels not compared with the training set's copy: %s", err)
        return []
    copy.index = pd.Index(index_to_paths(copy.index))
    current.index = pd.Index(index_to_paths(current.index))
    current = current[~current.index.duplicated()].reindex(columns=copy.columns)
    frames = [ts.paths[i] for i in (*ts.train_indices, *ts.test_indices)]
    old = copy.reindex(frames).to_numpy(float)
    new = current.reindex(frames).to_numpy(float)
    same = np.isclose(old, new, rtol=0, atol=1e-6, equal_nan=True).all(axis=1)
    changed = [f for f, ok in zip(frames, same, strict=True) if not ok]
    if changed:
        logger.warning(
            "the labels of %d of the %d frames of shuffle %d's split (%s) have "
            "changed in labeled-data since its training set was created: evaluate "
            "scores the labels copied then (%s). To score the current labels, run "
            "`%s` (it keeps the split) and evaluate again; the network itself was "
            "trained on the old labels",
            len(changed),
            len(frames),
            shuffle,
            ", ".join(changed[:3]) + (", …" if len(changed) > 3 else ""),
            copy_path.relative_to(project.path).as_posix(),
            f"posekit create-training-dataset {shlex.quote(str(project.path))}"
            + (f" --shuffles {shuffle}" if shuffle != 1 else ""),
        )
    return changed


def _compared_bodyparts(
    bodyparts: Sequence[str], wanted: str | Sequence[str]
) -> list[str]:
    """DeepLabCut's ``comparisonbodyparts``: ``"all"`` or names among ``bodyparts``."""
    if isinstance(wanted, str) and wanted == "all":
        return list(bodyparts)
    names = [wanted] if isinstance(wanted, str) else [str(b) for b in wanted]
    unknown = [b for b in names if b not in bodyparts]
    if unknown or not names:
        raise ValueError(
            f"comparisonbodyparts {names} must be among the bodyparts {list(bodyparts)}"
        )
    return names


def _split_summaries(
    ts: Any, summarise: Callable[[np.ndarray], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Summaries of a training set's train and test frames (``{}`` for an empty split).

    Parameters
    ----------
    ts
        The training set (``train_indices``, ``test_indices``).
    summarise
        Called with a split's frame indices; returns its metrics.

    Returns
    -------
    train, test : dict
    """
    summaries = {}
    for which, idx in (("train", ts.train_indices), ("test", ts.test_indices)):
        if len(idx):
            summaries[which] = summarise(idx)
    return summaries.get("train", {}), summaries.get("test", {})


def _write_evaluation(
    project: Project,
    shuffle: int,
    scorer: str,
    iteration: int,
    train_fraction: float,
    train: dict[str, Any],
    test: dict[str, Any],
    *,
    pcutoff_error: str,
    columns: dict[str, Any],
    compared: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Write a shuffle's evaluation where DeepLabCut writes it.

    Writes the model's row of
    ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv`` (appended, or
    replacing the row of the same iterations, training fraction and shuffle) and
    ``<scorer>-results.csv`` in the shuffle's evaluation folder.

    Errors over some bodyparts only (``compared``, DeepLabCut's
    ``comparisonbodyparts``) leave both files as they are (DeepLabCut appends such
    a row to the combined file, where nothing tells it from the model's row over
    all bodyparts; posekit replaced that row): the row, with a ``Compared
    bodyparts`` column, goes to ``<scorer>-results-<bodyparts>.csv``.

    Parameters
    ----------
    project
        The project.
    shuffle, scorer, iteration, train_fraction
        The evaluated shuffle, its snapshot's scorer name and iteration, and the
        training set's train fraction.
    train, test
        The splits' metrics (``mean_error_px``, ``rmse_px`` and ``pcutoff_error``;
        a missing one is NaN).
    pcutoff_error
        The metric written as the combined file's errors with p-cutoff.
    columns
        The results table's columns after the errors and RMSE.

    Returns
    -------
    pandas.DataFrame
        The results table (one row).
    """
    from ._fileio import atomic_path
    from .evaluation import write_combined_evaluation

    nan = float("nan")
    out_root = project.path / "evaluation-results" / f"iteration-{project.iteration}"
    if compared is None:
        write_combined_evaluation(
            out_root / "CombinedEvaluation-results.csv",
            iterations=iteration,
            train_fraction=train_fraction,
            shuffle=shuffle,
            train_error=train.get("mean_error_px", nan),
            test_error=test.get("mean_error_px", nan),
            pcutoff=project.pcutoff,
            train_error_pcutoff=train.get(pcutoff_error, nan),
            test_error_pcutoff=test.get(pcutoff_error, nan),
        )
    row = {
        "Training iterations:": iteration,
        "%Training dataset": int(round(100 * train_fraction)),
        "Shuffle number": shuffle,
        "Train error(px)": train.get("mean_error_px", nan),
        "Test error(px)": test.get("mean_error_px", nan),
        "Train RMSE(px)": train.get("rmse_px", nan),
        "Test RMSE(px)": test.get("rmse_px", nan),
        **columns,
    }
    if compared is not None:
        row["Compared bodyparts"] = ",".join(compared)
    table = pd.DataFrame([row])
    shuffle_dir = project.evaluation_dir(shuffle)
    shuffle_dir.mkdir(parents=True, exist_ok=True)
    out = shuffle_dir / f"{scorer}-results{_subset_suffix(compared)}.csv"
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    if compared is not None:
        logger.info(
            "errors over %s only: written to %s (CombinedEvaluation-results.csv and "
            "%s-results.csv keep the errors over all bodyparts)",
            ", ".join(compared),
            out,
            scorer,
        )
    return table


def _subset_suffix(compared: Sequence[str] | None) -> str:
    """Return the file-name suffix of an evaluation over some bodyparts (``""``: all)."""
    if compared is None:
        return ""
    return "-" + "+".join(re.sub(r"[^\w.-]+", "_", b) for b in compared)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder`` (symbolic links not followed)."""
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


def _dynamic(value: Any) -> dict[str, Any]:
    """DeepLabCut's ``dynamic=(on, pcutoff, margin)``: posekit has no such cropping."""
    if value and bool(value[0]):
        raise ValueError(
            f"dynamic={value!r}: posekit does not crop around the animal frame by "
            "frame; it analyses every frame whole (or the box of cropping=). Pass "
            "dynamic=(False, 0.5, 10) or leave it out."
        )
    return {}


def _auto_track(value: Any) -> dict[str, Any]:
    """DeepLabCut's ``auto_track``: posekit always tracks (``False`` is said so)."""
    if not value:
        logger.info(
            "auto_track=%r: posekit tracks a multi-animal analysis through to the "
            "stitched tracks (…_el.h5) anyway; DeepLabCut's next steps, "
            "convert_detections2tracklets and stitch_tracklets, find the detections "
            "(…_full.pickle) and tracklets (…_el.pickle) and make them again with "
            "their own options",
            value,
        )
        return {}
    logger.info("auto_track=True: posekit always tracks; ignored")
    return {}


def check_runtime_precision(use_tflite: bool, precision: str) -> None:
    """Refuse a precision the runtime asked for cannot run.

    TensorFlow (``use_tflite=False``, ``posekit analyze --no-tflite``) runs the
    float32 Keras model; only the LiteRT runtime runs int8.

    Parameters
    ----------
    use_tflite
        Whether the LiteRT runtime runs the network.
    precision
        ``"auto"``, ``"float32"`` or ``"int8"``.

    Raises
    ------
    ValueError
        ``precision="int8"`` with ``use_tflite=False``.

    Examples
    --------
    >>> check_runtime_precision(False, "float32")
    >>> check_runtime_precision(False, "int8")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: precision='int8' runs the int8 TFLite model, and use_tflite=False ...
    """
    if not use_tflite and precision == "int8":
        raise ValueError(
            "precision='int8' runs the int8 TFLite model, and use_tflite=False "
            "(--no-tflite) runs the float32 Keras model with TensorFlow: choose one "
            "(drop --no-tflite, or drop --precision int8 / use --precision float32)."
        )


def config_batch_size(project: Project) -> int | None:
    """Return ``config.yaml``'s ``batch_size``: the most frames per call of analysis.

    DeepLabCut's ``analyze_videos`` analyses ``batch_size`` frames per network call
    when it is given none (its template writes 8); users lower it when a GPU runs
    out of memory. posekit takes it as the most frames per call: on the CPU,
    batches only help small frames (:func:`~posekit.engine.inference.default_batch_size`
    chooses 1 from 640×480 up, else 8), so analysis uses the smaller of the two.
    ``batch_size=`` (``posekit analyze --batch-size N``) is used as given.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    int or None
        The value, or ``None`` when the key is absent or empty (then analysis
        chooses by frame size alone).

    Raises
    ------
    posekit.engine.project.ProjectError
        If the value is not a whole number of at least 1.
    """
    from .project import ProjectError

    value = project.get("batch_size")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = None
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            as_float = float(value)
            if as_float.is_integer():
                number = int(as_float)
    if number is None or number < 1:
        raise ProjectError(
            f"config.yaml: batch_size must be a whole number of at least 1 (the "
            f"most frames per network call of video analysis, as in DeepLabCut), "
            f"got {value!r}. Fix batch_size in {project.config_path}, delete the "
            "value to let posekit choose by frame size, or give one (batch_size=, "
            "posekit analyze --batch-size N)."
        )
    logger.info(
        "analysis: at most %d frames per network call (config.yaml's batch_size, "
        "as DeepLabCut); fewer where they are faster on the CPU (1 from 640×480 "
        "up); batch_size= (posekit analyze --batch-size N) sets it exactly",
        number,
    )
    return number


def _given_videos(
    videos: Sequence[str | os.PathLike] | str | os.PathLike | None,
    videotype: str | Sequence[str] | None,
    outcome: str,
) -> list[Path] | None:
    """Return the videos a verb was given, folders expanded and ``videotype`` applied.

    DeepLabCut's video argument (:func:`~posekit.engine.project.list_videos`; one
    path may be given as it is, as in DeepLabCut). ``None`` when no video was given:
    the verb then takes the project's videos. When videos were given and
    ``videotype`` leaves none of them, the result is ``[]`` with a warning, as
    DeepLabCut's "No video(s) were found": the verb does nothing, never the
    project's videos instead. (A folder without such a video is an error of
    :func:`~posekit.engine.project.list_videos`.)

    Parameters
    ----------
    videos
        Video files, folders of videos (and, for the verbs that read predictions,
        prediction files).
    videotype
        DeepLabCut's ``videotype`` (``".avi"``; ``None``: every video).
    outcome
        What the verb then does, for the warning (``"nothing is analysed"``).

    Returns
    -------
    list of Path or None
        The videos; ``None``: none was given.

    Examples
    --------
    >>> _given_videos(None, ".avi", "nothing is analysed") is None
    True
    >>> _given_videos("a.avi", ".avi", "nothing is analysed")
    [PosixPath('a.avi')]
    """
    if isinstance(videos, str | os.PathLike):
        videos = [videos]
    if videos is None or not len(videos):
        return None
    found = list_videos(videos, videotype)
    if not found:
        logger.warning("%s", _no_videos_found(videos, videotype, outcome))
    return found


def _one_videotype(
    videotype: str | Sequence[str] | None,
) -> str | Sequence[str] | None:
    """``videotype`` as given, a list of one (``--videotype avi``) as that one."""
    if not isinstance(videotype, str) and videotype is not None:
        kinds = list(videotype)
        return kinds[0] if len(kinds) == 1 else kinds
    return videotype


def _left_out_by_videotype(
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    videotype: str | Sequence[str] | None,
) -> dict[Path, str]:
    """Return the videos given, each → why not (``AnalysisOutputs.failed``)."""
    if isinstance(videos, str | os.PathLike):
        videos = [videos]
    videotype = _one_videotype(videotype)
    return {
        Path(v): f"left out by videotype={videotype!r}; nothing was analysed"
        for v in videos
    }


def _no_videos_found(
    videos: Sequence[str | os.PathLike],
    videotype: str | Sequence[str] | None,
    outcome: str,
) -> str:
    """Say that ``videotype`` left out every video given (DeepLabCut's words first).

    Examples
    --------
    >>> _no_videos_found(["v/a.mp4"], ".avi", "nothing is analysed")[:49]
    "No video(s) were found: videotype='.avi' leaves o"
    """
    videotype = _one_videotype(videotype)
    given = [str(v) for v in videos]
    shown = ", ".join(given[:3]) + (
        f" and {len(given) - 3} more" if len(given) > 3 else ""
    )
    return (
        f"No video(s) were found: videotype={videotype!r} leaves out every video "
        f"given ({shown}); {outcome}. Check the paths and the videotype (leave "
        "videotype out to take the videos as given); the project's videos are "
        "taken only when no video is given."
    )


@dlc_keywords(
    batchsize=renamed("batch_size"),
    dynamic=_dynamic,
    auto_track=_auto_track,
    snapshot_index=renamed("snapshot"),
    detector_snapshot_index=_DLC3_DETECTOR,
    detector_batch_size=_DLC3_DETECTOR,
    ctd_conditions=_DLC3_DETECTOR,
    ctd_tracking=_DLC3_DETECTOR,
    torch_kwargs=_DLC3_TORCH,
    robust_nframes=ignored(
        "posekit counts the frames it decodes, as robust_nframes=True does: a "
        "video's analysis has one row per frame that decodes, whatever the "
        "container says (its frame count only sizes the progress bar), and a video "
        "that ends early is named in the result's incomplete"
    ),
    calibrate=refused(
        "calibrate={value!r}: posekit's assembly uses no calibration from the "
        "training data: it links each frame's bodyparts by their part-affinity "
        "fields alone (as DeepLabCut does with calibrate=False). Leave calibrate "
        "out (or pass False).",
        unless=lambda v: not v,
    ),
    identity_only=refused(
        "identity_only={value!r}: posekit's networks have no identity head (with "
        "identity: true in config.yaml, DeepLabCut learns who is who by the "
        "animals' looks), so it cannot assemble and track by identity; it tracks "
        "the animals by their motion (track_method 'ellipse', 'box' or "
        "'keypoints'). Leave identity_only out (or pass False).",
        unless=lambda v: not v,
    ),
)
def analyze_videos(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    shuffle: int = 1,
    snapshot: int | str | None = None,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    batch_size: int | None = None,
    scale: float = 1.0,
    netcdf: bool = False,
    use_tflite: bool = True,
    progress: bool | Callable[[int, int], None] = True,
    on_stage: Callable[[AnalysisStage], None] | None = None,
    precision: str = "auto",
    client: Any = None,
    shard: tuple[int, int] | str | None = None,
    chunk_frames: int | None = None,
    n_tracks: int | None = None,
    track_method: str | None = None,
    overwrite: bool = False,
    videotype: str | Sequence[str] | None = None,
    cropping: Sequence[int] | None = None,
    stop_event: threading.Event | None = None,
    prepare_tflite: Callable[[ModelFolder, Path, tuple[int, int], int, str], None]
    | None = None,
) -> AnalysisOutputs:
    """Analyse videos with a trained shuffle; DLC-named ``.h5`` beside each video.

    As in DeepLabCut, a video whose ``.h5`` for this network exists already is not
    analysed again (``overwrite=True`` does); an ``.h5`` with fewer or more rows
    than the video has frames (cut short by an older version) or that cannot be
    read is not taken as done: it is analysed again, with a log line that says
    so. The videos are checked before the
    first one is analysed: two videos that would write the same file (same name,
    one ``destfolder``) are an error, and a video that cannot be read is left out
    with a warning while the others are analysed (the result's ``failed`` names
    them; ``posekit analyze`` then exits with an error after the others).

    Parameters
    ----------
    project
        The project.
    videos
        Video files or folders of videos (a folder gives the videos in it:
        :func:`~posekit.engine.project.list_videos`; default: the project's videos,
        labelled-video outputs excluded,
        found in the project's own ``videos/`` first: :meth:`Project.resolve_video
        <posekit.engine.project.Project.resolve_video>`). Outputs go beside each
        video, except that without a video list nothing is written outside the
        project: the outputs of a listed video that lies elsewhere go into the
        project's ``videos/`` (a log message says so).
    shuffle, snapshot
        Which network (``snapshot`` indexes the snapshots, -1 newest; default: the
        config's ``snapshotindex``, whose ``"all"`` means the newest here).
    destfolder
        Output folder (default: beside each video). With ``cropping: true`` in the
        config, only the box ``x1, x2, y1, y2`` of each frame is analysed, as in
        DeepLabCut (the coordinates stay those of the full frame).
    save_as_csv
        Also write the ``.csv`` (for a video analysed before, and so not again,
        from its ``.h5`` when it has no ``.csv``).
    batch_size, scale
        Frames per network call (default: by frame size, 1 for frames of 640×480
        and more, else 8: :func:`~posekit.engine.inference.default_batch_size`,
        and at most ``config.yaml``'s ``batch_size``: :func:`config_batch_size`)
        and resize factor
        (0.5 analyses at half resolution, ~3× faster).
    netcdf
        Also write the movement-schema netCDF.
    use_tflite
        Use the TFLite (LiteRT) runtime (default; faster on CPU). ``False`` runs
        the float32 Keras model with TensorFlow: ``precision`` ``"auto"`` or
        ``"float32"`` (``"int8"`` is refused: only LiteRT runs int8).
    progress
        tqdm bar, or a callable ``progress(done, total)``.
    on_stage
        Called with an :class:`AnalysisStage` when a step begins: loading the
        model, preparing the fast runtime (only when a conversion is needed),
        analysing video ``k`` of ``n``.
    precision
        TFLite: ``"auto"`` (default) runs the int8 model when it agrees with float
        on the project's labelled frames (points within a fraction of a pixel, few
        p-cutoff crossings: :mod:`posekit.engine.quantization`; checked once per
        snapshot and frame size, recorded beside the model:
        :meth:`ModelFolder.tflite_model
        <posekit.engine.model_folder.ModelFolder.tflite_model>`), ``"float32"`` or
        ``"int8"``.
    client
        Spread the frames over a Dask cluster (:mod:`posekit.engine.distributed`):
        ``"local"`` (a cluster of this machine's cores), ``"slurm"`` (and other
        ``dask-jobqueue`` systems), a scheduler address, or a ``Client``. Each
        video is cut into chunks of ``chunk_frames``; the ``.h5`` is identical to
        a serial run's. Needs ``posekit[dask]``.
    shard
        ``"i/n"`` or ``(i, n)``: be task ``i`` of a job array of ``n`` (no Dask):
        analyse its share of the chunks (the share depends only on the video's
        file name and the chunk: :func:`~posekit.engine.distributed.chunk_shard`,
        so tasks may run in any order, at any time); the task that completes a
        video writes its ``.h5``. Shards take no lock (they run together by design; a task whose
        options differ from those of a task running on the same video is refused:
        :class:`~posekit.engine.distributed.ChunkPlanError`).
    chunk_frames
        Frames per chunk with ``client`` or ``shard`` (default
        :data:`~posekit.engine.distributed.DEFAULT_CHUNK_FRAMES`); refused without
        them.
    n_tracks, track_method
        Multi-animal projects: the animals to stitch the tracklets into (default:
        the individuals) and the frame-to-frame similarity (``"ellipse"``,
        ``"box"``, ``"keypoints"``; default: ``default_track_method``).
    overwrite
        Analyse again the videos that have this network's ``.h5`` already.
    cropping
        DeepLabCut's ``cropping=[x1, x2, y1, y2]``: analyse this box of every frame
        (default: the config's, when ``cropping: true``).
    videotype
        DeepLabCut's ``videotype``: only the videos of this extension in the folders
        given (``".avi"``; default: every video); files given by name with another
        extension are left out with a warning. When it leaves out every video given,
        nothing is analysed, as in DeepLabCut ("No video(s) were found", a
        warning; the result's ``failed`` names them), never the project's videos
        instead.
    stop_event
        A ``threading.Event`` another thread (an app's Stop button) sets to stop
        the analysis. It is checked before each video and after every batch: the
        batches analysed so far are saved as on Ctrl-C
        (:class:`~posekit.engine.inference.PartialAnalysis`, ``.<output>.partial.npz``),
        no ``.h5`` is written for the stopped video, the output locks are released
        and :class:`~posekit.engine.inference.AnalysisStopped` is raised; the same
        call resumes there. A multi-animal video keeps its detections so far
        (``.<stem><scorer>_full.partial.pickle``,
        :class:`~posekit.engine.multianimal.inference.PartialDetections`); with
        ``shard`` the running chunk keeps its batches
        (``.chunk-<index>.partial.npz``) beside the finished chunks; with a
        Dask ``client`` the chunks not started are cancelled within a second and
        the finished ones kept.
    prepare_tflite
        Called before each video's LiteRT model is loaded, with the model folder,
        the snapshot file, the frame shape, the batch size and ``precision``: the
        Analyze app converts there, in a process of its own
        (:func:`posekit.engine.tflite_convert.convert_in_child`), so that this one
        finds the converted files and never imports TensorFlow. What it raises
        ends the analysis (not only that video's).

    Notes
    -----
    A multi-animal project's videos are detected, assembled, tracked and stitched
    into its individuals (:func:`posekit.engine.multianimal.api.analyze_multianimal_videos`:
    DeepLabCut's ``_full.pickle``, ``_assemblies.pickle``, ``_el.pickle`` and
    ``_el.h5``), with the batch checks above (done videos skipped, clashing
    outputs refused, unreadable ones left out). TFLite does not apply; int8, a
    Dask ``client``, ``shard``, ``scale`` and ``cropping`` are refused with a
    ``ValueError`` (single-animal only).

    Returns
    -------
    AnalysisOutputs
        The ``.h5`` files, those analysed before included (with ``shard``: those
        done before the task started and those it wrote; multi-animal: the tracks, ``…_el.h5``), with ``skipped``
        (analysed before), ``failed`` (videos that could not be read or analysed,
        and why: one video's failure does not stop the others; without a video
        list also the ``video_sets`` entries found nowhere, each with a warning)
        and ``incomplete`` (truncated videos, analysed as far as they decode).

    Raises
    ------
    posekit.engine.locks.JobLockError
        If an analysis already writes one of the outputs (the message names it):
        one analysis at a time per output file
        (:func:`posekit.engine.locks.output_lock`), so different videos are analysed together (multi-animal projects: one
        analysis at a time per project). ``posekit analyze`` exits with 75.
    PermissionError
        If an output folder cannot be written (a read-only project without
        ``destfolder``).
    ValueError
        If two videos would write the same output file, ``precision="int8"`` is
        given with ``use_tflite=False``, ``chunk_frames`` without ``client`` or
        ``shard``, or (multi-animal) an option above that only single-animal
        analyses have is given.
    posekit.engine.project.ProjectError
        If ``config.yaml``'s ``batch_size`` (used when ``batch_size`` is not
        given) is not a whole number of at least 1.
    posekit.engine.video.VideoError
        If no video can be read.
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set (not an error): its ``outputs`` lists the ``.h5``
        written or found done before the stop.
    """
    from .inference import (
        AnalysisStopped,
        Predictor,
        analyze_video,
        check_stop,
        default_batch_size,
        hint_large_frames,
        plan_analysis,
    )
    from .quantization import check_precision
    from .video import Crop

    check_precision(precision)
    check_runtime_precision(use_tflite, precision)
    chunked = client is not None or shard is not None
    _check_chunk_frames(chunk_frames, chunked)
    project = as_project(project)
    most = config_batch_size(project) if batch_size is None else None
    snapshot = _one_snapshot(project, snapshot)
    crop = Crop.parse(cropping) if cropping is not None else project.analysis_crop()
    given = videos
    videos = _given_videos(videos, videotype, "nothing is analysed")  # folders too
    if videos is not None and not videos:  # DeepLabCut: "No video(s) were found"
        from .inference import AnalysisOutputs

        return AnalysisOutputs(failed=_left_out_by_videotype(given, videotype))
    if project.multianimal:  # detect, assemble, track, stitch (DLC's _el.h5)
        from .multianimal.api import analyze_multianimal_videos

        _check_multianimal_options(
            precision=precision,
            client=client,
            shard=shard,
            scale=scale,
            cropping=cropping,
            config_crop=crop,
        )
        missing = _missing_listed_videos(project) if not videos else {}
        check_stop(
            stop_event, Path(videos[0]) if len(videos or ()) == 1 else project.path
        )
        with job_lock(project.path, "analysis", "analyze_videos"):
            result = analyze_multianimal_videos(
                project,
                videos,
                shuffle=shuffle,
                snapshot=snapshot,
                destfolder=destfolder,
                save_as_csv=save_as_csv,
                batch_size=batch_size,
                n_tracks=n_tracks,
                track_method=track_method,
                netcdf=netcdf,
                progress=progress,
                overwrite=overwrite,
                stop_event=stop_event,
            )
        result.failed.update(missing)
        return result
    own_videos = videos is None or len(videos) == 0
    if own_videos:
        videos = project.source_videos()
    broken = _broken_links(project, videos, own_videos)
    videos = [v for v in videos if Path(v) not in broken]
    folder = ModelFolder.of(project, shuffle)
    _, path = folder.snapshot(snapshot)
    try:
        folder.ensure_dlc_markers()  # models trained before posekit wrote them
    except OSError as err:  # a read-only project analysed into destfolder
        logger.info("DeepLabCut's snapshot markers not written: %s", err)
    scorer = folder.scorer(path)
    bodyparts = list(folder.model_config(path).bodyparts)
    meta = dict(folder.info)
    meta["iteration"] = meta["iteration (active-learning)"]
    individuals = list(project.get("individuals") or []) if project.multianimal else []
    unique_bodyparts = list(project.get("uniquebodyparts") or [])
    dests = _destinations(project, videos, destfolder, own_videos)
    missing = _missing_listed_videos(project) if own_videos else {}
    plan = plan_analysis(
        dests, scorer, overwrite=overwrite, precision=precision, model=meta
    )
    outputs = plan.outputs()
    outputs.failed.update(missing)
    outputs.failed.update({v: why for v, why in broken.items() if why})
    done = {Path(dests[v] or v.parent) / f"{v.stem}{scorer}.h5": v for v in dests}
    outputs.found_before({out: done[out] for out in plan.skipped if out in done})
    _csv_of_skipped(plan.skipped, save_as_csv)
    videos = plan.todo
    with contextlib.ExitStack() as held:
        if shard is None:  # array tasks run together by design (own chunks, no lock)
            _lock_outputs(held, plan, dests, scorer)
        predictors: dict[tuple[tuple[int, int], int], Predictor] = {}
        jobs: list[Any] = []  # distributed.VideoJob, with client or shard
        for index, video in enumerate(videos, 1):

            def stage(name: str, video: Path = video, index: int = index) -> None:
                if on_stage is not None:
                    on_stage(AnalysisStage(name, video, index, len(videos)))

            video_dest = dests[video]
            shape = _analysed_shape(video, plan.sizes[video], crop, scale)
            key = (shape, int(batch_size or default_batch_size(shape, most)))
            check_stop(stop_event, video, outputs)  # a conversion takes minutes
            hint_large_frames(video, plan.sizes[video], scale)
            _prepare_tflite(prepare_tflite, use_tflite, folder, path, key, precision)
            try:  # a video that fails is named at the end; the others are analysed
                if chunked:
                    jobs.append(
                        _video_job(
                            folder,
                            path,
                            key,
                            use_tflite,
                            precision,
                            stage,
                            video,
                            video_dest,
                        )
                    )
                    continue
                if key not in predictors:
                    predictors[key] = folder.predictor(
                        shape,
                        key[1],
                        use_tflite=use_tflite,
                        snapshot=path,
                        on_stage=stage,
                        precision=precision,
                    )
                stage("analysing")
                out = analyze_video(
                    predictors[key],
                    video,
                    scorer=scorer,
                    bodyparts=bodyparts,
                    destfolder=video_dest,
                    save_as_csv=save_as_csv,
                    scale=scale,
                    crop=crop,
                    meta=meta,
                    progress=progress,
                    netcdf=netcdf,
                    individuals=individuals or None,
                    unique_bodyparts=unique_bodyparts,
                    stop_event=stop_event,
                )
            except AnalysisStopped as stop:
                raise stop.with_outputs(outputs) from None
            except Exception as err:  # noqa: BLE001 - named at the end (exit 2)
                outputs.video_failed(video, err)
                continue
            outputs.written(out, video)
        if chunked and jobs:
            jobs = [
                dataclasses.replace(
                    job,
                    scorer=scorer,
                    bodyparts=tuple(bodyparts),
                    scale=scale,
                    crop=crop,
                    save_as_csv=save_as_csv,
                    netcdf=netcdf,
                    meta=meta,
                    individuals=tuple(individuals) or None,
                    unique_bodyparts=tuple(unique_bodyparts),
                )
                for job in jobs
            ]
            if on_stage is not None:
                on_stage(AnalysisStage("analysing", jobs[0].video, 1, len(jobs)))
            _analyze_chunks(
                jobs,
                outputs,
                client=client,
                shard=shard,
                chunk_frames=chunk_frames,
                progress=progress,
                stop_event=stop_event,
            )
        return outputs


def _csv_of_skipped(skipped: Sequence[Path], save_as_csv: bool) -> None:
    """Write the ``.csv`` twin of outputs analysed before, when asked and missing.

    ``save_as_csv=True`` (``--csv``) on a video analysed before without it: the
    analysis is not run again, but the ``.csv`` asked for is written from its
    ``.h5`` (DeepLabCut writes none and says nothing).
    """
    from .io.dlc import convert_h5_to_csv

    for out in skipped if save_as_csv else ():
        csv = out.with_suffix(".csv")
        if out.suffix == ".h5" and not csv.exists():
            convert_h5_to_csv(out)
            logger.warning(
                "%s: analysed before, not again; the .csv asked for is written "
                "from it (%s)",
                out.name,
                csv.name,
            )


def _check_chunk_frames(chunk_frames: int | None, chunked: bool) -> None:
    """Refuse a ``chunk_frames`` that cannot act: below 1, or without a cluster or shard.

    Examples
    --------
    >>> _check_chunk_frames(None, False), _check_chunk_frames(512, True)
    (None, None)
    >>> _check_chunk_frames(512, False)
    Traceback (most recent call last):
    ...
    ValueError: chunk_frames=512 (--chunk-frames) sets the frames per chunk of a Dask cluster or a job array's shard; without client= (--cluster) or shard= (--shard) each video is analysed in one pass: add --cluster local (this machine's cores) or drop --chunk-frames.
    """
    if chunk_frames is None:
        return
    if int(chunk_frames) < 1:
        raise ValueError(
            f"chunk_frames={chunk_frames} (--chunk-frames): a chunk holds at least 1 "
            "frame (default 1024)."
        )
    if not chunked:
        raise ValueError(
            f"chunk_frames={chunk_frames} (--chunk-frames) sets the frames per chunk "
            "of a Dask cluster or a job array's shard; without client= (--cluster) "
            "or shard= (--shard) each video is analysed in one pass: add --cluster "
            "local (this machine's cores) or drop --chunk-frames."
        )


def _prepare_tflite(
    prepare: Callable[[ModelFolder, Path, tuple[int, int], int, str], None] | None,
    use_tflite: bool,
    folder: ModelFolder,
    snapshot: Path,
    key: tuple[tuple[int, int], int],
    precision: str,
) -> None:
    """Call ``analyze_videos``' ``prepare_tflite`` (when given and on LiteRT)."""
    if prepare is not None and use_tflite:
        prepare(folder, snapshot, key[0], key[1], precision)


def _analyze_chunks(
    jobs: list[Any],
    outputs: list[Path],
    *,
    client: Any,
    shard: tuple[int, int] | str | None,
    chunk_frames: int | None,
    progress: bool | Callable[[int, int], None],
    stop_event: threading.Event | None,
) -> None:
    """Analyse ``jobs`` in chunks (:func:`.distributed.analyze_chunked`) into ``outputs``.

    Raises
    ------
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set (the finished chunks are kept); its ``outputs``
        are those done before.
    """
    from .distributed import DEFAULT_CHUNK_FRAMES, analyze_chunked
    from .inference import AnalysisStopped

    try:
        done = analyze_chunked(
            jobs,
            client=client,
            shard=shard,
            chunk_frames=chunk_frames or DEFAULT_CHUNK_FRAMES,
            progress=progress,
            stop_event=stop_event,
        )
    except AnalysisStopped as stop:
        raise stop.with_outputs(outputs) from None
    videos = {job.output: job.video for job in jobs}
    for out in done:
        outputs.written(out, videos.get(out, out))
    outputs.failed.update(getattr(done, "failed", {}))


def _broken_links(
    project: Project, videos: Sequence[str | os.PathLike], own_videos: bool
) -> dict[Path, str | None]:
    """Find the videos that are broken symbolic links, and say why in a warning.

    The reason is ``None`` for a project's own video that
    :func:`_missing_listed_videos` names already (its ``video_sets`` entry found
    nowhere, the link in ``videos/`` included).

    Raises
    ------
    posekit.engine.video.VideoError
        If every video is such a link.
    """
    from .video import VideoError, broken_link

    listed = {entry_name(k) for k in project.video_sets} if own_videos else set()
    broken: dict[Path, str | None] = {}
    said = []
    for video in map(Path, videos):
        why = broken_link(video)
        if why is None:
            continue
        said.append(f"{video} is {why}")
        named = (
            own_videos
            and video.parent == project.path / "videos"
            and video.name in listed
        )
        broken[video] = None if named else said[-1]
        if not named:
            logger.warning("%s is not analysed: %s", video, said[-1])
    if broken and len(broken) == len(videos):
        raise VideoError("No video can be read. " + "; ".join(said))
    return broken


def _missing_listed_videos(project: Project) -> dict[Path, str]:
    """Return the ``video_sets`` entries found nowhere on disk, and where we looked.

    A warning names each: a batch job that analyses "the project's videos" must not
    report success having skipped a video whose storage moved.
    """
    from .video import broken_link

    missing: dict[Path, str] = {}
    for key in project.video_sets:
        if "WILL BE AUTOMATICALLY UPDATED" in str(key):  # DeepLabCut's placeholder
            continue
        if project.resolve_video(key) is None:
            own = project.path / "videos" / entry_name(key)
            links = [
                f"{p} is {why}"
                for p in dict.fromkeys([Path(str(key)), own])
                if (why := broken_link(p))
            ]
            why = (
                f"listed in {project.config_path.name} (video_sets) but not found: "
                f"looked at {key} and {own}" + "".join(f"; {b}" for b in links)
            )
            logger.warning("%s is not analysed: %s", key, why)
            missing[Path(str(key))] = why
    return missing


def _lock_outputs(
    held: contextlib.ExitStack, plan: Any, dests: dict, scorer: str
) -> None:
    """Hold the analysis lock of each output to be written (:func:`.locks.output_lock`).

    Different videos are analysed together (a job array with a video per task); a
    second analysis of a video into the same file is refused. The locks lie beside
    the outputs, so a read-only project analysed into ``destfolder`` is not written.
    """
    import errno

    from .locks import JobLockError, output_lock

    outputs = [Path(dests[v] or v.parent) / f"{v.stem}{scorer}.h5" for v in plan.todo]
    try:
        held.enter_context(output_lock(outputs, "analyze_videos"))
    except JobLockError:
        raise
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise
        where = Path(err.filename).parent if err.filename else "the output folder"
        raise PermissionError(
            f"Cannot write into {where} ({err.strerror}): the outputs (and their lock "
            "files) go beside the videos unless destfolder (--dest) names a folder "
            "this user can write. A read-only project is analysed into such a "
            "folder (its TFLite conversions go into $POSEKIT_CACHE); or share its "
            "model: posekit export-model PROJECT model.posekit.zip, then posekit "
            "analyze --model model.posekit.zip VIDEO."
        ) from err


def _check_multianimal_options(
    *,
    precision: str,
    client: Any,
    shard: Any,
    scale: float,
    cropping: Sequence[int] | None,
    config_crop: Any,
) -> None:
    """Refuse the analysis options a multi-animal project's analysis does not have.

    They were ignored without a word: ``shard`` made every task of a job array
    analyse every video into the same files.
    """
    refused = []
    if precision == "int8":
        refused.append("int8 precision (--precision int8)")
    if client is not None:
        refused.append("a Dask cluster (--cluster)")
    if shard is not None:
        refused.append("shards (--shard)")
    if float(scale) != 1.0:
        refused.append(f"scale {scale} (--scale)")
    if cropping is not None:
        refused.append("cropping")
    if refused:
        raise ValueError(
            "A multi-animal project's videos are analysed whole, at float32, on this "
            f"machine; {', '.join(refused)} works for single-animal projects only. "
            "To spread many videos over a job array, give each task its own videos "
            "(posekit analyze PROJECT VIDEO …). Nothing was analysed."
        )
    if config_crop is not None:
        logger.warning(
            "config.yaml asks to crop the videos (cropping: true); a multi-animal "
            "analysis reads whole frames (the predictions are in the frame's "
            "coordinates either way)"
        )


def _one_snapshot(project: Project, snapshot: int | str | None) -> int:
    """Return the snapshot index to analyse with: ``snapshot``, else the config's.

    ``"all"`` (DeepLabCut's ``snapshotindex: all``) means the newest here, and
    says so (DeepLabCut prints that it changes the index to -1).
    """
    if snapshot is None:
        snapshot = project.snapshot_index
    if snapshot != "all":
        return int(snapshot)
    logger.warning(
        "snapshotindex is 'all' (%s): one network analyses a video, so the newest "
        "snapshot (index -1) is used, as DeepLabCut does. evaluate_network "
        "evaluates every snapshot: to use another, set snapshotindex to its index.",
        project.config_path,
    )
    return -1


def _analysed_shape(
    video: Path, size: tuple[int, int], crop: Any, scale: float
) -> tuple[int, int]:
    """``(height, width)`` the network sees of a video's ``size`` frames (cropped, scaled)."""
    height, width = size
    if crop is not None:
        if crop.x2 > width or crop.y2 > height:
            raise ValueError(
                f"config.yaml's crop x1, x2, y1, y2 = {crop.x1}, {crop.x2}, "
                f"{crop.y1}, {crop.y2} reaches outside {video.name} "
                f"({width}×{height}): fix the box or set cropping: false."
            )
        height, width = crop.y2 - crop.y1, crop.x2 - crop.x1
    from .video import scaled_size

    width, height = scaled_size(width, height, scale)  # as the frames are resized
    return height, width


def _destinations(
    project: Project,
    videos: Sequence[str | os.PathLike],
    destfolder: str | os.PathLike | None,
    own_videos: bool,
) -> dict[Path, str | os.PathLike | None]:
    """Each video's output folder (``None``: beside it).

    Without a video list nothing is written outside the project: the outputs of a
    listed video that lies elsewhere go into the project's ``videos/``.
    """
    dests: dict[Path, str | os.PathLike | None] = {}
    for video in map(Path, videos):
        dests[video] = destfolder
        if own_videos and destfolder is None and not _inside(video, project.path):
            dests[video] = project.path / "videos"
            logger.warning(
                "%s lies outside the project %s: its predictions go into %s",
                video,
                project.path,
                dests[video],
            )
    return dests


def _video_job(
    folder: ModelFolder,
    snapshot: Path,
    key: tuple[tuple[int, int], int],
    use_tflite: bool,
    precision: str,
    stage: Callable[[str], None],
    video: Path,
    dest: str | os.PathLike | None,
):
    """Prepare the model of a chunked analysis here (converted once) and its job."""
    from .distributed import VideoJob, WorkerModel

    shape, batch = key
    stage("loading")
    tflite = None
    if use_tflite:
        tflite = folder.tflite_model(
            shape, batch, precision=precision, snapshot=snapshot, on_stage=stage
        )
    model = WorkerModel(tflite, str(snapshot), shape, batch)
    return VideoJob(
        video=video,
        dest=Path(dest) if dest else video.parent,
        model=model,
        scorer="",
        bodyparts=(),
    )


# ------------------------------------------------------------- frames to label

#: DeepLabCut's ``extract_frames`` modes (its second positional argument).
DLC_EXTRACT_MODES = ("automatic", "manual")

#: DeepLabCut's ``extract_frames`` options that change nothing here (its frame
#: picker's window and its own k-means feature settings; posekit's k-means reads
#: every ``cluster_step``-th frame at a fixed small size).
_EXTRACT_IGNORED = (
    "userfeedback",
    "cluster_step",
    "cluster_resizewidth",
    "cluster_color",
    "opencv",
    "slider_width",
    "extracted_cam",
)


def extract_frames(
    project: Project | str | os.PathLike, *args: Any, **kwargs: Any
) -> Any:
    """Extract frames to label: posekit's call for one video, or DeepLabCut's.

    ``extract_frames(project, video, mode="kmeans", n=20)`` is
    :func:`posekit.engine.video.extract_frames` (one video; see it for every
    option). DeepLabCut's call, ``extract_frames(config, "automatic", "kmeans",
    crop=False, userfeedback=False, videos_list=None)``, extracts
    ``numframes2pick`` frames from each video of ``video_sets`` (or of
    ``videos_list``) with ``algo`` (``"kmeans"`` or ``"uniform"``), between the
    config's ``start`` and ``stop``; ``crop=True`` crops each frame to its video's
    ``video_sets`` crop. Frames extracted before are kept (their labels stay
    valid). The options about DeepLabCut's windows and its k-means features
    (``userfeedback``, ``cluster_step``, …) change nothing and are logged.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    *args, **kwargs
        posekit's ``(video, *, mode, n, start, stop, crop, indices, seed, overwrite,
        progress)`` or DeepLabCut's ``(mode="automatic", algo="kmeans", crop=False,
        userfeedback=True, cluster_step=1, cluster_resizewidth=30,
        cluster_color=False, opencv=True, slider_width=25, config3d=None,
        extracted_cam=0, videos_list=None)``.

    Returns
    -------
    ExtractedFrames or list of ExtractedFrames
        posekit's call: the frames of the video. DeepLabCut's call: one
        :class:`~posekit.engine.video.ExtractedFrames` per video (DeepLabCut returns
        nothing).

    Raises
    ------
    ValueError
        DeepLabCut's ``mode="manual"`` (its frame-picking window; pick frames in the
        Label app here) or ``crop="GUI"``, an unknown ``algo``, or a 3D project
        (``config3d``).

    Examples
    --------
    >>> import tempfile
    >>> import posekit.engine as deeplabcut
    >>> project = deeplabcut.make_demo_project(tempfile.mkdtemp(), n_labeled=0)
    >>> config = str(project.config_path)
    >>> done = deeplabcut.extract_frames(config, "automatic", "uniform", userfeedback=False)
    >>> [len(frames) for frames in done]
    [20]
    """
    from .video import extract_frames as extract_video

    mode = args[0] if args else kwargs.get("mode")
    dlc_call = (isinstance(mode, str) and mode in DLC_EXTRACT_MODES) or (
        not args and "video" not in kwargs
    )
    if not dlc_call:
        return extract_video(project, *args, **kwargs)
    return _extract_frames_dlc(project, *args, **kwargs)


def _extract_frames_dlc(
    config: Project | str | os.PathLike,
    mode: str = "automatic",
    algo: str = "kmeans",
    crop: bool | str = False,
    userfeedback: bool = True,
    cluster_step: int = 1,
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    opencv: bool = True,
    slider_width: int = 25,
    config3d: str | None = None,
    extracted_cam: int = 0,
    videos_list: Sequence[str | os.PathLike] | None = None,
) -> list[Any]:
    """DeepLabCut's ``extract_frames`` (see :func:`extract_frames`)."""
    from .video import Crop
    from .video import extract_frames as extract_video

    if mode == "manual":
        raise ValueError(
            "extract_frames(mode='manual') opens DeepLabCut's frame-picking window. "
            "In posekit, pick frames in the Label app's frame picker, or name them: "
            "extract_frames(project, video, indices=[...])."
        )
    if mode != "automatic":
        raise ValueError(
            f"extract_frames(project, mode={mode!r}) names no video. posekit's call "
            f"is extract_frames(project, video, mode={mode!r}); DeepLabCut's, for "
            "every video of the project, extract_frames(config, 'automatic', "
            "'kmeans')."
        )
    if algo not in ("kmeans", "uniform"):
        raise ValueError(f"algo must be 'kmeans' or 'uniform'; received {algo!r}")
    if config3d is not None:
        raise ValueError(
            "config3d: posekit has no 3D projects; extract the frames of each "
            "camera's project instead."
        )
    if isinstance(crop, str):
        raise ValueError(
            f"crop={crop!r}: DeepLabCut's crop window is not available here. Pass "
            "crop=True to use each video's crop from video_sets, or call "
            "extract_frames(project, video, crop='x1, x2, y1, y2')."
        )
    project = as_project(config)
    options = locals()
    defaults = inspect.signature(_extract_frames_dlc).parameters
    for name in _EXTRACT_IGNORED:
        if options[name] != defaults[name].default:
            logger.info(
                "extract_frames: DeepLabCut's %s=%r does not apply in posekit; ignored",
                name,
                options[name],
            )
    videos = list_videos([Path(v) for v in videos_list]) if videos_list else None
    if videos is None:
        videos = project.source_videos()
    if not videos:
        raise FileNotFoundError(
            f"{project.config_path} lists no video to extract frames from: add "
            "videos first (Project.add_videos, posekit create)."
        )
    crops = {entry_name(k): v.get("crop") for k, v in project.video_sets.items()}
    done = []
    for video in videos:
        box = crops.get(Path(video).name) if crop else None
        frames = extract_video(
            project, video, mode=algo, crop=Crop.parse(box) if box else None
        )
        logger.info("%s", frames.summary())
        done.append(frames)
    return done


# ------------------------------------------------------------- after the analysis


def video_predictions(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    filtered: bool = False,
    videotype: str | Sequence[str] | None = None,
    shuffle: int | None = None,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
) -> list[Path]:
    """Find the predictions of videos: DeepLabCut's ``(config, videos)`` argument.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    videos
        Videos (their newest ``<video>DLC_*.h5``), folders of videos and prediction
        files (``.h5``/``.csv``, kept as given unless ``filtered``); default: every
        video of the project.
    filtered
        Take each video's ``_filtered`` predictions, and for a predictions file its
        ``<stem>_filtered`` sibling (a file whose stem ends in ``_filtered`` is
        kept).
    videotype
        DeepLabCut's ``videotype``: only the videos of this extension in the folders
        given (``".avi"``; default: every video).
    shuffle
        Take the predictions of this shuffle's network (at the config's
        ``snapshotindex``), as DeepLabCut does; default: the newest predictions of
        any network. When they are missing, the newest are taken with a warning.
    destfolder
        Where the analysis wrote them (DeepLabCut's ``destfolder``; default: beside
        each video).
    track_method
        Several animals: the tracks file of this method only (DeepLabCut's
        ``track_method``: ``"ellipse"`` → ``…_el.h5``, ``"box"`` → ``…_bx.h5``,
        ``"keypoints"`` → ``…_sk.h5``; default: the network's own, the config's
        ``default_track_method`` first).

    Returns
    -------
    list of Path
        One file per video that has predictions; the others are named in a warning.
        Empty when ``videotype`` leaves out every video given (a warning says so,
        as DeepLabCut's "No video(s) were found"; the project's videos are not
        taken instead).

    Raises
    ------
    FileNotFoundError
        No video has predictions (the message says to analyse them first).
    ValueError
        If ``track_method`` is not one of DeepLabCut's.
    """
    pairs = _prediction_pairs(
        project,
        videos,
        filtered,
        videotype,
        shuffle,
        destfolder,
        track_method,
        outcome="no predictions are taken",
    )
    return [predictions for _, predictions in pairs]


def _prediction_pairs(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None,
    filtered: bool,
    videotype: str | Sequence[str] | None,
    shuffle: int | None,
    destfolder: str | os.PathLike | None,
    track_method: str | None = None,
    *,
    outcome: str = "nothing is done",
) -> list[tuple[Path | None, Path]]:
    """Return ``(video, its predictions)`` for :func:`video_predictions`.

    The video is ``None`` for a file given as predictions. None when videos were
    given and ``videotype`` leaves none of them (a warning ends in ``outcome``).
    """
    from .postprocessing import (
        FILTERED_SUFFIX,
        TRACKS_SUFFIXES,
        find_predictions,
        network_predictions,
    )

    project = as_project(project)
    if track_method is not None and track_method not in TRACKS_SUFFIXES:
        raise ValueError(
            f"track_method={track_method!r}: use one of {sorted(TRACKS_SUFFIXES)} "
            "(the tracks file …_el.h5, …_bx.h5, …_sk.h5), or leave it out."
        )
    ending = (
        TRACKS_SUFFIXES[track_method] + (FILTERED_SUFFIX if filtered else "")
        if track_method is not None
        else ""
    )
    listed = _given_videos(videos, videotype, outcome)
    if listed is not None and not listed:  # DeepLabCut: "No video(s) were found"
        return []
    found, missing = [], []
    for item in project.source_videos() if listed is None else listed:
        if not item.exists():
            raise FileNotFoundError(f"No video or predictions file at {item}")
        if item.suffix.lower() in (".h5", ".csv"):
            if filtered and not item.stem.endswith(FILTERED_SUFFIX):
                # a predictions file with filtered=True (--filtered): its filtered
                # sibling, as for a video (it was taken as given, unfiltered)
                sibling = item.with_name(item.stem + FILTERED_SUFFIX + item.suffix)
                if sibling.is_file():
                    found.append((None, sibling))
                else:
                    missing.append(item)
                continue
            found.append((None, item))
            continue
        files = (
            [
                f
                for f in find_predictions(
                    item, destfolder, filtered=filtered, project=project
                )
                if f.stem.endswith(ending)
            ]
            if shuffle is None
            else network_predictions(
                project,
                item,
                shuffle,
                snapshot=_one_snapshot(project, None),
                destfolder=destfolder,
                filtered=filtered,
                track_method=track_method,
            )
        )
        if files:
            found.append((item, files[0]))
        else:
            missing.append(item)
    kind = "filtered predictions" if filtered else "predictions"
    if track_method is not None:
        kind = f"{kind} tracked by {track_method!r} (…{ending}.h5)"
    if missing and found:
        logger.warning("no %s for %s", kind, ", ".join(str(m) for m in missing))
    if not found:
        how = (
            "filter them first (posekit filter)"
            if filtered
            else "analyse them first (analyze_videos, posekit analyze)"
        )
        shown = ", ".join(str(m) for m in missing) or f"the videos of {project.path}"
        elsewhere = (
            " If they were analysed into another folder (posekit analyze --dest "
            "OUT, destfolder=OUT), name the files (posekit filter PROJECT "
            "OUT/<video><scorer>.h5, as for labeled-video) or pass destfolder=OUT."
            if destfolder is None
            else ""
        )
        raise FileNotFoundError(
            f"No {kind} for {shown}: {how}."
            + _other_tracks(
                missing, destfolder, filtered, track_method, project=project
            )
            + elsewhere
        )
    return found


def _other_tracks(
    videos: Sequence[Path],
    destfolder: str | os.PathLike | None,
    filtered: bool,
    track_method: str | None,
    option: str = "posekit filter/labeled-video --track-method",
    *,
    project: Project | None = None,
) -> str:
    """Name the tracks files of other trackers there are, and how to take them."""
    from .postprocessing import FILTERED_SUFFIX, TRACKS_SUFFIXES, find_predictions

    if track_method is None:
        return ""
    others = {}
    for video in videos:
        for f in find_predictions(
            video, destfolder, filtered=filtered, project=project
        ):
            stem = f.stem.removesuffix(FILTERED_SUFFIX)
            for method, sfx in TRACKS_SUFFIXES.items():
                if method != track_method and stem.endswith(sfx):
                    others.setdefault(method, f.name)
    if not others:
        return ""
    found = "; ".join(f"{name} (track_method={m!r})" for m, name in others.items())
    return (
        f" There are tracks of another tracker: {found}. Pass that track_method "
        f"({option}), or set default_track_method "
        "in config.yaml."
    )


def _filtertype(value: Any) -> dict[str, Any]:
    """DeepLabCut's ``filtertype``: posekit's ``method``; ``"arima"`` says what instead."""
    if value == "arima":
        raise ValueError(
            "filtertype='arima': posekit has no ARIMA filter (DeepLabCut's "
            "p_bound, ARdegree, MAdegree and alpha are its settings). Use "
            "filtertype='kalman' (a state-space model of the motion, as ARIMA is a "
            "time-series model) or 'median' (DeepLabCut's default), with "
            "pcutoff=<your p_bound> "
            "to treat the points below that likelihood as missing, as ARIMA's "
            "p_bound does."
        )
    return {"method": value}


#: DeepLabCut's settings of its ARIMA filter, which only ``filtertype="arima"`` reads.
_ARIMA_ONLY = ignored("it only concerns DeepLabCut's 'arima' filter")


@dlc_keywords(
    filtertype=_filtertype,
    windowlength=renamed("window"),
    video=renamed("videos"),
    p_bound=_ARIMA_ONLY,
    ARdegree=_ARIMA_ONLY,
    MAdegree=_ARIMA_ONLY,
    alpha=_ARIMA_ONLY,
)
def filter_predictions(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    method: str = "median",
    window: int = 5,
    polyorder: int = 2,
    pcutoff: float | None = None,
    max_gap: int | None = None,
    save_as_csv: bool = True,
    videotype: str | Sequence[str] | None = None,
    shuffle: int | None = None,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
    **params: Any,
) -> list[Path]:
    """Filter the predictions of a project's videos (DeepLabCut's ``filterpredictions``).

    ``filter_predictions(config, [video])`` as in DeepLabCut: each video's newest
    predictions are smoothed by
    :func:`posekit.engine.postprocessing.filter_predictions` (one file) into
    ``<predictions>_filtered.h5``. Several animals: the tracks of the config's
    ``default_track_method`` (``…_el.h5`` for ``ellipse``), as DeepLabCut, not the
    newest tracks file.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    videos, videotype, shuffle, destfolder
        As for :func:`video_predictions` (default: every video of the project, its
        newest predictions, beside it). ``videos`` is DeepLabCut's ``video``.
        When ``videotype`` leaves out every video given, nothing is filtered (a
        warning, as DeepLabCut's "No video(s) were found"; ``[]`` is returned).
    track_method
        Several animals: the tracks of this tracker (``"ellipse"``: ``…_el.h5``,
        ``"box"``: ``…_bx.h5``, ``"keypoints"``: ``…_sk.h5``; default: the config's
        ``default_track_method``, :func:`~posekit.engine.postprocessing.track_method_of`).
        Prediction files given in ``videos`` are filtered as they are.
    method, window, polyorder, pcutoff, max_gap, **params
        The filter (:func:`posekit.engine.postprocessing.filter_predictions`);
        ``method`` is DeepLabCut's ``filtertype`` (its ``"arima"`` is an error
        that says what to use instead; its ``p_bound``, ``ARdegree``,
        ``MAdegree`` and ``alpha``, settings of ``"arima"`` only, are ignored) and
        ``window`` its ``windowlength``.
    save_as_csv
        Also write the ``.csv`` twins (default, as DeepLabCut's
        ``filterpredictions``; ``posekit filter`` writes them with ``--csv``).

    Returns
    -------
    list of Path
        The filtered ``.h5`` files.

    Raises
    ------
    FileNotFoundError
        No video has predictions.
    ValueError
        A filter parameter or ``track_method`` is not valid.
    """
    from .postprocessing import filter_predictions as filter_file
    from .postprocessing import track_method_of

    project = as_project(project)
    track_method = track_method_of(project, track_method)
    return [
        filter_file(
            path,
            method=method,
            window=window,
            polyorder=polyorder,
            pcutoff=pcutoff,
            max_gap=max_gap,
            save_csv=save_as_csv,
            **params,
        )
        for _, path in _prediction_pairs(
            project,
            videos,
            False,
            videotype,
            shuffle,
            destfolder,
            track_method,
            outcome="nothing is filtered",
        )
    ]


#: DeepLabCut's name of :func:`filter_predictions`.
filterpredictions = filter_predictions


@dlc_keywords(
    trailpoints=renamed("trail_length"),
    displayedbodyparts=renamed("bodyparts", lambda b: None if b == "all" else list(b)),
    outputframerate=renamed("fps"),
    save_frames=refused(
        "save_frames={value!r}: posekit writes the labelled video only, not an image "
        "of every frame. Leave save_frames out (or False); to get a frame as an "
        "image, read it from the labelled video: posekit.engine.VideoReader(path).",
        unless=lambda v: not v,
    ),
    displaycropped=ignored(
        "posekit draws the predictions on the whole frame (they are full-frame "
        "coordinates, cropped analysis or not)"
    ),
    keypoints_only=refused(
        "keypoints_only={value!r}: posekit draws the keypoints on the video's "
        "frames, not on a blank background. Leave keypoints_only out (or False).",
        unless=lambda v: not v,
    ),
    Frames2plot=refused(
        "Frames2plot={value!r}: posekit's labelled video has every frame. Leave "
        "Frames2plot out; to look at some frames, open the labelled video in the "
        "viewer app or read them with posekit.engine.VideoReader(path).",
        unless=lambda v: v is None,
    ),
    displayedindividuals=refused(
        "displayedindividuals={value!r}: posekit draws every animal of the tracks "
        "file. Leave displayedindividuals out (or 'all'); color_by='individual' "
        "tells the animals apart.",
        unless=lambda v: v is None or v == "all",
    ),
)
def create_labeled_video(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    filtered: bool = False,
    pcutoff: float | None = None,
    bodyparts: Sequence[str] | None = None,
    color_by: str = "bodypart",
    draw_skeleton: bool = False,
    trail_length: int = 0,
    dotsize: float | None = None,
    codec: str = "auto",
    progress: bool = True,
    videotype: str | Sequence[str] | None = None,
    shuffle: int | None = None,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
    fps: float | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Labelled videos of a project's analysed videos (DLC's ``create_labeled_video``).

    ``create_labeled_video(config, [video])`` as in DeepLabCut: each video with its
    newest predictions drawn by :func:`posekit.engine.labeled_video.create_labeled_video`
    with the project's plotting settings (``dotsize``, ``colormap``, ``alphavalue``,
    ``skeleton``, ``skeleton_color``, ``pcutoff``), written beside the predictions as
    ``…_p<pcutoff×100>_labeled.mp4``. Several animals: the tracks of the config's
    ``default_track_method`` (``…_el.h5`` for ``ellipse``), as DeepLabCut, not the
    newest tracks file.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    videos, videotype, shuffle, destfolder
        As for :func:`video_predictions` (default: every video of the project, its
        newest predictions, beside it). When ``videotype`` leaves out every video
        given, no labelled video is made (a warning, as DeepLabCut's "No video(s)
        were found"; ``[]`` is returned).
    track_method
        Several animals: the tracks of this tracker (``"ellipse"``: ``…_el.h5``,
        ``"box"``: ``…_bx.h5``, ``"keypoints"``: ``…_sk.h5``; default: the config's
        ``default_track_method``, :func:`~posekit.engine.postprocessing.track_method_of`).
        Prediction files given in ``videos`` are drawn as they are.
    filtered
        Draw the ``_filtered`` predictions.
    fps
        Frame rate of the labelled video (DeepLabCut's ``outputframerate``;
        default: the video's). Every frame is drawn; only the playback rate
        changes.
    pcutoff, dotsize
        Override the config's.
    bodyparts, color_by, trail_length, codec, progress
        As for :func:`posekit.engine.labeled_video.create_labeled_video`
        (``bodyparts`` is DeepLabCut's ``displayedbodyparts``, ``trail_length`` its
        ``trailpoints``; ``color_by="individual"`` gives each animal one colour).
    draw_skeleton
        Draw the config's ``skeleton`` (default ``False``, as in DeepLabCut;
        ``posekit labeled-video`` draws it unless ``--no-skeleton``).
    overwrite
        Draw again a labelled video that exists. By default it is kept, with
        DeepLabCut's "Labeled video already created. Skipping..." in the log
        (``posekit labeled-video`` overwrites, saying so).

    Returns
    -------
    list of Path
        The labelled videos (those kept included).

    Raises
    ------
    FileNotFoundError
        No video has predictions, or the video of a predictions file is not found.
    ValueError
        If ``track_method`` (or the config's ``default_track_method``) is not one of
        posekit's trackers.
    """
    from .labeled_video import create_labeled_video as draw_video
    from .postprocessing import track_method_of
    from .project import find_video

    project = as_project(project)
    display = project.display
    out = []
    pairs = _prediction_pairs(
        project,
        videos,
        filtered,
        videotype,
        shuffle,
        destfolder,
        track_method_of(project, track_method),
        outcome="no labelled video is made",
    )
    for source, path in pairs:
        video = source or find_video(path, project)
        if video is None:
            raise FileNotFoundError(
                f"No video found for {path}: put the video beside it (or in the "
                "project's videos/) under the name the predictions start with."
            )
        out.append(
            draw_video(
                video,
                path,
                pcutoff=project.pcutoff if pcutoff is None else pcutoff,
                skeleton=project.skeleton,
                bodyparts=bodyparts,
                color_by=color_by,
                draw_skeleton=draw_skeleton,
                trail_length=trail_length,
                dotsize=dotsize or display.dotsize,
                colormap=display.colormap,
                alpha=display.alphavalue,
                skeleton_color=display.skeleton_color,
                codec=codec,
                progress=progress,
                fps=fps,
                overwrite=overwrite,
            )
        )
    return out
