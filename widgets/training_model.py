r"""State and logic of the training dashboard, without any widget.

:class:`TrainingModel` holds the settings, the training thread, the state machine,
the loss / test-error curves (as Bokeh ``ColumnDataSource``\s, so that a view plots
them as they stream), snapshots, evaluation and the worst test frames. Tests drive it
without a browser; :class:`posekit.widgets.training_dashboard.TrainingDashboard` is
its view.

Training runs in a background thread, so the kernel stays responsive (the Stop button,
other cells, other widgets). States::

    idle ──start──▶ running ──stop──▶ stopping ──▶ stopped ──start (resume)──▶ running
                       │
                       └──(iteration or time limit reached)──▶ finished ──start──▶ running
    any exception in the thread ──▶ error (``error`` holds its message; the traceback
                                    goes to the server's log)

A training that this model did not start (one started by a browser tab that was
closed since, by another app or by ``posekit train``) holds the project's training
lock (:func:`posekit.engine.locks.running_job`). The model then *attaches* to it:
state ``running`` with :attr:`TrainingModel.external` naming the job, the curves and
snapshots re-read from disk every ``poll_interval_s`` (``learning_stats.csv`` gets a
row every few dozen iterations), and "Stop" creates the project's stop-request file
(:func:`posekit.engine.locks.request_stop`), which the trainer checks before every
step: it saves a snapshot and stops, as on Ctrl-C. When the lock goes, the state
becomes ``stopped`` or ``finished``.

Bokeh document changes made from the training thread are serialised with
:attr:`TrainingModel.doc_lock`: a ``BokehModel`` sends one document patch as several
comm messages, and two patches must not interleave.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets
from bokeh.models import ColumnDataSource

from ..engine.project import as_project
from .app import error_message
from .worst_frames import WorstFrame, find_worst_frames

if TYPE_CHECKING:
    import pandas as pd

    from ..engine.project import Project

__all__ = ["TrainingModel", "TrainingState", "format_eta"]

logger = logging.getLogger("posekit.widgets.training")


class TrainingState(str, Enum):
    """Where a training session is."""

    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FINISHED = "finished"
    ERROR = "error"


_BUSY = (TrainingState.RUNNING.value, TrainingState.STOPPING.value)


def format_eta(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss``) for a duration; ``"–"`` when unknown.

    Examples
    --------
    >>> format_eta(75), format_eta(3725), format_eta(float("nan"))
    ('1:15', '1:02:05', '–')
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _make_callback(model: TrainingModel) -> Any:
    """Make a :class:`posekit.engine.training.TrainingCallback` forwarding to ``model``.

    Built on first use so that importing this module does not load TensorFlow.
    """
    from ..engine.training import TrainingCallback

    class _DashboardCallback(TrainingCallback):
        def on_train_begin(self, state: Any) -> None:
            model._on_train_begin(state)

        def on_step(self, iteration: int, logs: Mapping[str, float]) -> None:
            model._on_step(int(iteration), logs)

        def on_evaluate(self, iteration: int, metrics: Mapping[str, Any]) -> None:
            model._on_evaluate(int(iteration), metrics)

        def on_snapshot(self, iteration: int, path: Any) -> None:
            model._on_snapshot(int(iteration), path)

        def on_train_end(self, state: Any) -> None:
            model._on_train_end(state)

    return _DashboardCallback()


@dataclass
class _Session:
    """One press of "Start": where it began and where it should end.

    Totals, as the engine counts them. A stopped session resumes towards the same
    target.
    """

    limit: str
    start_iteration: int
    target_iteration: int | None
    start_elapsed_s: float
    target_elapsed_s: float | None
    settings: tuple


class TrainingModel(traitlets.HasTraits):
    """State and logic of the training dashboard (no widgets).

    "Start" trains until the iteration counter reaches ``iterations`` (a total, as
    ``posekit train --iterations`` and the engine's ``max_iterations`` count it), or
    for ``time_budget_s`` more seconds; "Stop" measures the test error and saves a
    snapshot; "Resume" continues the stopped session towards the same target. After
    a session ends, ``iterations`` moves on by the session's length, so "Train more"
    trains that much more. The engine's iteration counter continues across all of
    them.

    Parameters
    ----------
    project
        The project to train (the training set is created on the first start if the
        shuffle has none).
    shuffle, backbone, iterations, time_budget_s, batch_size
        Initial settings (traits of the same names; ``backbone=""`` and
        ``batch_size=0`` mean the engine's default). ``iterations`` is the iteration
        to train to (raised by 1000 steps at a time when the shuffle's network is
        already there). ``time_budget_s`` selects the time limit instead of the
        iteration limit. More settings are traits: ``save_interval_s`` (a snapshot
        every so many seconds of training as well, 0: by iterations only),
        ``crop_size`` (square training crops in pixels, 0: chosen from the frame size),
        ``imagenet`` (start a fresh network from ImageNet weights where they load
        offline, the default; off: random initialisation) and
        ``eval_interval`` (test-set evaluation every so many iterations, 0: about
        ten per session).
    train_fn, evaluate_fn, snapshots_fn, predict_fn
        The engine functions (default :mod:`posekit.engine.api`); tests may pass others.
    flush_interval_s
        How often the curves and the progress are pushed to the browser.
    poll_interval_s
        How often a training started elsewhere (see :attr:`external`) is re-read
        from disk.
    n_worst
        How many test frames the worst-frames panel shows.

    Attributes
    ----------
    loss_source, error_source
        Bokeh ``ColumnDataSource`` of the loss (``iteration, loss, lr``) and of the
        periodic test error (``iteration, test_error``), in pixels.
    snapshots
        ``[(iteration, path), ...]``, oldest first.
    test_errors
        Test error (px) per iteration (periodic and full evaluations).
    evaluation
        The last ``evaluate_network`` table.
    worst_frames
        Test frames, worst first (:class:`WorstFrame`).
    external
        The training this model attached to (a
        :class:`~posekit.engine.locks.JobRecord`: started elsewhere, shown from disk,
        stopped through the stop-request file), or ``None``.
    test_set_note
        ``""``, or why test errors are missing (the shuffle's training set has no
        test frame: too few labelled frames for its training fraction).
    """

    state = traitlets.Unicode(TrainingState.IDLE.value)
    shuffle = traitlets.Int(1)
    backbone = traitlets.Unicode("")
    limit = traitlets.Enum(["iterations", "time"], default_value="iterations")
    iterations = traitlets.Int(1000)
    time_budget_s = traitlets.Float(300.0)
    batch_size = traitlets.Int(0)
    crop_size = traitlets.Int(0)
    imagenet = traitlets.Bool(True)
    eval_interval = traitlets.Int(0)
    save_interval_s = traitlets.Float(180.0)
    iteration = traitlets.Int(0)
    progress = traitlets.Float(0.0)
    eta_s = traitlets.Float(float("nan"))
    rate = traitlets.Float(float("nan"))
    message = traitlets.Unicode("")
    error = traitlets.Unicode("")
    evaluating = traitlets.Bool(False)
    auto_evaluate = traitlets.Bool(True)

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        shuffle: int = 1,
        backbone: str = "",
        iterations: int = 1000,
        time_budget_s: float | None = None,
        batch_size: int = 0,
        train_fn: Callable[..., Any] | None = None,
        evaluate_fn: Callable[..., Any] | None = None,
        snapshots_fn: Callable[..., Any] | None = None,
        predict_fn: Callable[..., Any] | None = None,
        flush_interval_s: float = 0.5,
        n_worst: int = 6,
        poll_interval_s: float = 2.0,
    ) -> None:
        super().__init__(
            shuffle=shuffle,
            backbone=backbone,
            iterations=iterations,
            batch_size=batch_size,
            limit="time" if time_budget_s else "iterations",
            time_budget_s=float(time_budget_s or 300.0),
        )
        self.project = as_project(project)
        self._train_fn = train_fn
        self._evaluate_fn = evaluate_fn
        self._snapshots_fn = snapshots_fn
        self._predict_fn = predict_fn
        self.flush_interval_s = float(flush_interval_s)
        self.poll_interval_s = float(poll_interval_s)
        self.n_worst = int(n_worst)
        self.external: Any = None
        self.test_set_note = ""
        self._watch_thread: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._stop_sent = False

        #: Lock held for every change of the Bokeh document (see the module docstring).
        self.doc_lock = threading.RLock()
        self.loss_source = ColumnDataSource(
            {"iteration": [], "loss": [], "lr": []}, name="posekit_loss"
        )
        self.error_source = ColumnDataSource(
            {"iteration": [], "test_error": []}, name="posekit_test_error"
        )
        self.snapshots: list[tuple[int, Path]] = []
        self.test_errors: dict[int, float] = {}
        self.evaluation: pd.DataFrame | None = None
        self.worst_frames: list[WorstFrame] = []
        #: What ``train_network`` returned last.
        self.result: Any = None
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._thread: threading.Thread | None = None
        self._eval_thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._session: _Session | None = None
        self._pending: list[tuple[int, float, float]] = []
        self._last_iteration = 0
        self._elapsed_s = 0.0
        self._last_flush = 0.0
        self._rate_window: list[tuple[float, int]] = []
        self.refresh_snapshots()
        self._load_history()
        self.load_saved_evaluation()
        self._advance_target()
        self.observe(lambda _: self._switch_shuffle(), "shuffle")
        self.attach()

    def _switch_shuffle(self) -> None:
        """Show another shuffle: its snapshots and curves, no session."""
        if self.busy:  # the view disables the control; a script may not
            raise RuntimeError("Stop the training before switching the shuffle.")
        self.reload(f"shuffle {self.shuffle}")

    def reload(self, message: str | None = None) -> None:
        """Show the shuffle as it is on disk now: after a merge, the new iteration.

        The session, curves, snapshots and evaluation are those of the project's
        current iteration (its ``config.yaml`` may have changed: a merge raises
        ``iteration``, and the new iteration's model folder is empty until it is
        trained).

        Parameters
        ----------
        message
            What to say (default: the iteration, and its snapshot count).

        Raises
        ------
        RuntimeError
            If a training or an evaluation runs.
        """
        if self.busy:
            raise RuntimeError("Wait for the training to end before reloading.")
        self._session = None
        self._last_iteration = 0
        self._elapsed_s = 0.0
        self.iteration = 0
        self.progress = 0.0
        self.test_errors = {}
        self.evaluation = None
        self.worst_frames = []
        with self.doc_lock:
            self.loss_source.data = {"iteration": [], "loss": [], "lr": []}
            self.error_source.data = {"iteration": [], "test_error": []}
        self._last_flush = 0.0
        self.progress = 0.0
        self.eta_s = float("nan")
        self.rate = float("nan")
        self.error = ""
        self.state = TrainingState.IDLE.value
        self.refresh_snapshots()
        self._load_history()
        self.load_saved_evaluation()
        self._advance_target()
        if message is None:
            where = f"iteration {self.project.iteration} of the project"
            message = (
                f"{where}: {len(self.snapshots)} snapshot(s)"
                if self.snapshots
                else f"{where}: not trained yet"
                + (
                    " (training starts from the previous iteration's model)"
                    if self.project.iteration > 0
                    else ""
                )
            )
        self.message = message
        self._emit("evaluation")
        self._emit("worst")

    # ------------------------------------------------------------------ backbone
    def _choice(self, backbone: str | None):
        from ..engine.models.pretrained import choose_backbone

        configured = self.project.get("default_net_type") or None
        return choose_backbone(configured, backbone, "auto" if self.imagenet else None)

    @property
    def default_backbone(self) -> str:
        """Return the backbone trained when none is picked (the engine's choice).

        The project's ``default_net_type`` when its ImageNet weights load here, else
        ``efficientnet_lite0`` (see :attr:`backbone_notice`).
        """
        return self._choice(None).backbone

    @property
    def backbone_notice(self) -> str:
        """Return what to say beside the backbone choice before training starts.

        Why the configured backbone (DeepLabCut's ``resnet_50``) is not what trains,
        or that the picked one trains from random initialisation; ``""`` when the
        configured backbone trains with ImageNet weights.
        """
        picked = self._choice(self.backbone or None)
        if picked.notice:
            return picked.notice
        default = self._choice(None)
        if picked.backbone == default.backbone:
            return default.notice
        return ""

    # ------------------------------------------------------------------ plumbing
    def _api(self, name: str) -> Callable[..., Any]:
        import importlib

        return getattr(importlib.import_module("posekit.engine.api"), name)

    @property
    def busy(self) -> bool:
        """Whether a training or an evaluation thread is running."""
        return self.state in _BUSY or self.evaluating

    def on(self, event: str, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after ``event``: ``"snapshots"``, ``"evaluation"``, ``"worst"``."""
        self._listeners.setdefault(event, []).append(fn)

    def off(self, event: str, fn: Callable[[], None]) -> None:
        """Stop calling ``fn`` after ``event``."""
        with contextlib.suppress(ValueError):
            self._listeners.get(event, []).remove(fn)

    def _emit(self, event: str) -> None:
        for fn in self._listeners.get(event, []):
            try:
                fn()
            except Exception:  # a broken view must not kill the training thread
                logger.exception("listener of %s failed", event)

    def _settings(self) -> tuple:
        return (
            self.shuffle, self.backbone, self.batch_size, self.limit,
            self.iterations, self.time_budget_s, self.crop_size, self.imagenet,
            self.eval_interval, self.save_interval_s,
        )  # fmt: skip

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start, or resume, training in a background thread; returns at once.

        Raises
        ------
        RuntimeError
            If a training or evaluation is already running.
        ValueError
            If a setting is invalid (the message names it).
        """
        if self.busy:
            raise RuntimeError(
                f"Training is {self.state}; wait for it to end before starting again."
            )
        if self.attach():  # started elsewhere (another tab, the command line)
            return
        self._validate()
        s = self._session
        resuming = (
            s is not None
            and self.state in (TrainingState.STOPPED.value, TrainingState.ERROR.value)
            and s.settings == self._settings()
        )
        if not resuming:
            by_time = self.limit == "time"
            self._session = s = _Session(
                limit=self.limit,
                start_iteration=self.iteration,
                target_iteration=None if by_time else self.iterations,
                start_elapsed_s=self._elapsed_s,
                target_elapsed_s=(
                    self._elapsed_s + self.time_budget_s if by_time else None
                ),
                settings=self._settings(),
            )
        kwargs = {
            "shuffle": int(self.shuffle),
            "backbone": self.backbone or None,
            "weights": "auto" if self.imagenet else None,
            "max_iterations": s.target_iteration,
            "time_budget_s": s.target_elapsed_s,
            "batch_size": int(self.batch_size) or None,
            "crop_size": (self.crop_size, self.crop_size) if self.crop_size else None,
            "eval_interval": self._eval_interval(),
            "save_interval_s": float(self.save_interval_s),
            "resume": True,
            "progress": False,
        }
        self._stop_event = threading.Event()
        self.error = ""
        self._pending.clear()
        self._rate_window.clear()
        self.eta_s = float("nan")
        self.rate = float("nan")
        self.message = (
            "resuming (loading the snapshot)…"
            if resuming
            else "starting (building the network; the first step is slow)…"
        )
        self.state = TrainingState.RUNNING.value
        self._thread = threading.Thread(
            target=self._run, args=(kwargs,), name="posekit-training", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the training to stop; it saves a snapshot first (state ``stopping``).

        A training started elsewhere (:attr:`external`) is asked through the
        project's stop-request file (:func:`posekit.engine.locks.request_stop`).
        """
        if self.state != TrainingState.RUNNING.value:
            return
        self.state = TrainingState.STOPPING.value
        self.eta_s = float("nan")
        self.rate = float("nan")
        if self.external is not None:
            from ..engine.locks import request_stop

            request_stop(self.project.path, "training")
            self._stop_sent = True
            self.message = (
                f"stopping the training {self.external.describe()}: it measures the "
                "test error and saves a snapshot…"
            )
            return
        self.message = "stopping: measuring the test error and saving a snapshot…"
        self._stop_event.set()

    # ------------------------------------------------------------------ attached
    def attach(self) -> bool:
        """Follow a training of this project that this model did not start.

        Looks at the project's training lock
        (:func:`posekit.engine.locks.running_job`). If another training holds it
        (a closed tab's, another app's, ``posekit train``), the state becomes
        ``running``, :attr:`external` names it, and a background thread re-reads
        its curves and snapshots every ``poll_interval_s`` until it ends.

        Returns
        -------
        bool
            Whether such a training runs (and is now followed).
        """
        from ..engine.locks import running_job

        if self.external is not None:
            return True
        own = self._thread is not None and self._thread.is_alive()
        if own or self.evaluating:
            return False
        try:
            job = running_job(self.project.path, "training")
        except OSError:
            return False
        if job is None:
            return False
        self.external = job
        self._stop_sent = False
        self._session = None
        self.error = ""
        self.progress = 0.0
        self.eta_s = float("nan")
        self.rate = float("nan")
        self.message = (
            f"a training runs on this project: {job.describe()}, started outside "
            "this page (another tab, or the command line). Its progress is read "
            "from disk; Stop asks it to save a snapshot and stop."
        )
        self.state = TrainingState.RUNNING.value
        self._poll_disk()
        self._watch_stop.clear()
        self._watch_thread = threading.Thread(
            target=self._watch, name="posekit-training-watch", daemon=True
        )
        self._watch_thread.start()
        return True

    def _watch(self) -> None:
        """Poll the attached training until its lock goes (the thread's body)."""
        from ..engine.locks import running_job

        while not self._watch_stop.wait(self.poll_interval_s):
            try:
                self._poll_disk()
                job = running_job(self.project.path, "training")
            except Exception:  # a half-written file: read it next time
                logger.debug("polling the training failed", exc_info=True)
                continue
            if job is None or job != self.external:
                self._detach()
                return

    def _train_dir(self) -> Path | None:
        from ..engine.model_folder import ModelFolder

        try:
            return ModelFolder.of(self.project, self.shuffle).path
        except Exception:  # noqa: BLE001 - no model folder (yet)
            return None

    def _poll_disk(self) -> None:
        """Re-read the followed training's curves, progress and snapshots from disk."""
        import pandas as pd

        folder = self._train_dir()
        path = folder / "learning_stats.csv" if folder is not None else None
        self.refresh_snapshots()
        if path is None or not path.is_file():
            return
        try:
            stats = pd.read_csv(path)
        except (ValueError, OSError):
            return
        if stats.empty:
            return
        self._set_curves(stats)
        last = stats.iloc[-1]
        self._last_iteration = max(int(last["iteration"]), self._last_iteration)
        self.iteration = self._last_iteration
        elapsed = last.get("elapsed_wall_s")
        if elapsed is not None and math.isfinite(float(elapsed)):
            self._elapsed_s = float(elapsed)
        self._progress_from_config(folder)

    def _progress_from_config(self, folder: Path) -> None:
        """Progress of the followed training: its limits are in ``pose_cfg.yaml``."""
        from ..engine.training import read_pose_cfg

        try:
            _, cfg = read_pose_cfg(folder)
        except Exception:  # noqa: BLE001 - not written yet, or not posekit's
            return
        if cfg.max_iterations:
            self.progress = min(1.0, self.iteration / cfg.max_iterations)
        elif cfg.time_budget_s:
            self.progress = min(1.0, self._elapsed_s / cfg.time_budget_s)

    def _detach(self) -> None:
        """Show the result of the followed training, which ended (stopped/finished)."""
        job, self.external = self.external, None
        self._poll_disk()
        self.load_saved_evaluation()
        self._emit("evaluation")
        self.eta_s = float("nan")
        self.rate = float("nan")
        who = job.describe() if job is not None else "the training"
        if self._stop_sent:
            self.message = (
                f"stopped {who} at iteration {self.iteration}; resume any time, or "
                "press Evaluate"
            )
            self.state = TrainingState.STOPPED.value
        else:
            self.message = f"{who} ended at iteration {self.iteration}"
            self.state = TrainingState.FINISHED.value
        self._stop_sent = False
        self._advance_target()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the training thread (and the evaluation started after it).

        Returns
        -------
        bool
            ``True`` if nothing runs any more.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for attr in ("_thread", "_eval_thread", "_watch_thread"):
            thread = getattr(self, attr)
            if thread is not None:
                left = None if deadline is None else deadline - time.monotonic()
                thread.join(None if left is None else max(0.0, left))
        return not self.busy

    def _eval_interval(self) -> int:
        """Test-set evaluation interval: the setting, or about ten per session."""
        if self.eval_interval > 0:
            return int(self.eval_interval)
        if self.limit == "iterations":
            todo = self.iterations - (
                self._session.start_iteration if self._session else self.iteration
            )
            return max(10, min(1000, todo // 10))
        return 250

    def _advance_target(self, step: int = 1000) -> None:
        """Move ``iterations`` past the current iteration (by ``step``) if not already.

        ``iterations`` is the iteration to train to; once the network is there, the
        next "Train more" would have nothing to do.
        """
        if self.iteration > 0 and 0 < self.iterations <= self.iteration:
            self.iterations = self.iteration + max(int(step), 1)

    def _validate(self) -> None:
        if self.shuffle < 1:
            raise ValueError(f"shuffle must be >= 1. Received: shuffle={self.shuffle}")
        if self.limit == "iterations" and self.iterations < 1:
            raise ValueError(
                f"iterations must be >= 1. Received: iterations={self.iterations}"
            )
        resuming = (
            self._session is not None
            and self.state in (TrainingState.STOPPED.value, TrainingState.ERROR.value)
            and self._session.settings == self._settings()
        )
        reached = self.limit == "iterations" and self.iterations <= self.iteration
        if reached and not resuming:
            raise ValueError(
                f"The network is at iteration {self.iteration} already: set "
                f"'train to iteration' above {self.iteration} (it is a total, "
                f"not a number of iterations to add). Received: {self.iterations}"
            )
        if self.save_interval_s < 0:
            raise ValueError(
                "the snapshot interval must be >= 0 (0: by iterations only). "
                f"Received: {self.save_interval_s} s"
            )
        if self.limit == "time" and not self.time_budget_s > 0:
            raise ValueError(
                f"the time budget must be > 0 s. Received: {self.time_budget_s}"
            )
        if self.crop_size < 0 or self.crop_size % 8:
            raise ValueError(
                "crop_size must be a multiple of 8 (0: the default). Received: "
                f"crop_size={self.crop_size}"
            )
        if self.eval_interval < 0:
            raise ValueError(
                f"eval_interval must be >= 0. Received: {self.eval_interval}"
            )
        if self.batch_size < 0:
            raise ValueError(
                f"batch_size must be >= 1 (0: the default). Received: {self.batch_size}"
            )

    # ------------------------------------------------------------------ the thread
    def _run(self, kwargs: dict[str, Any]) -> None:
        try:
            train = self._train_fn or self._api("train_network")
            self.result = train(
                self.project,
                callbacks=[_make_callback(self)],
                stop_event=self._stop_event,
                **kwargs,
            )
        except BaseException as err:  # noqa: BLE001 - shown in the widget, logged
            from ..engine.locks import JobLockError

            self._flush(force=True)
            self.refresh_snapshots()
            if isinstance(err, JobLockError):  # started elsewhere meanwhile
                self.state = TrainingState.IDLE.value
                self._thread = None
                if self.attach():
                    return
            self._fail(err)
            return
        self._flush(force=True)
        self.refresh_snapshots()
        reason = _get(self.result, "stop_reason")
        if reason == "diverged":
            self.error = (
                f"Training diverged at iteration {self.iteration} (the loss became "
                "NaN); the last good snapshot is kept. Lower the learning rate."
            )
            self.message = "diverged"
            self.state = TrainingState.ERROR.value
        elif reason in ("stop_requested", "interrupted") or (
            reason is None and self._stop_event.is_set()
        ):
            err = self.test_errors.get(self.iteration)
            measured = (
                f"test error {err:.2f} px"
                if err is not None and math.isfinite(err)
                else f"its test error was not measured: {self.test_set_note}"
                if self.test_set_note
                else "its test error was not measured"
            )
            self.eta_s = float("nan")
            self.rate = float("nan")
            self.message = (
                f"stopped at iteration {self.iteration} ({measured}); resume any "
                "time, or press Evaluate for the full evaluation"
            )
            self.state = TrainingState.STOPPED.value
        else:
            self.progress = 1.0
            self.eta_s = float("nan")
            self.rate = float("nan")
            self.message = f"finished at iteration {self.iteration}"
            s = self._session
            if s is not None and s.target_iteration is not None:
                self._advance_target(s.target_iteration - s.start_iteration)
            self.state = TrainingState.FINISHED.value
            if self.auto_evaluate and self.snapshots:
                self.evaluate()

    def _fail(self, err: BaseException) -> None:
        logger.exception("training dashboard: %s", err, exc_info=err)
        self.error = error_message(err)
        self.message = f"error: {self.error}"
        self.state = TrainingState.ERROR.value

    # ------------------------------------------------------------------ callbacks
    def _on_train_begin(self, state: Any) -> None:
        it = _get(state, "iteration")
        if it is not None:
            self._last_iteration = int(it)
            self.iteration = int(it)
        elapsed = _get(state, "elapsed_wall_s")
        if elapsed is not None:
            self._elapsed_s = float(elapsed)
        self.message = "training…"

    def _on_step(self, iteration: int, logs: Mapping[str, Any]) -> None:
        loss = float(logs.get("loss", float("nan")))
        lr = float(logs.get("learning_rate", float("nan")))
        self._pending.append((iteration, loss, lr))
        self._last_iteration = iteration
        if "elapsed_wall_s" in logs:
            self._elapsed_s = float(logs["elapsed_wall_s"])
        self._flush()

    def _on_evaluate(self, iteration: int, metrics: Mapping[str, Any]) -> None:
        self._flush(force=True)
        test = metrics.get("mean_error_px")
        if test is None:
            return
        self.test_errors[iteration] = float(test)
        with self.doc_lock:
            self.error_source.stream(
                {"iteration": [iteration], "test_error": [float(test)]}
            )

    def _on_snapshot(self, iteration: int, path: Any) -> None:
        self.refresh_snapshots()

    def _on_train_end(self, state: Any) -> None:
        self._flush(force=True)

    def _flush(self, *, force: bool = False) -> None:
        """Push pending loss points and the progress to the traits and the document.

        At most every ``flush_interval_s``, unless forced.
        """
        now = time.monotonic()
        if not force and now - self._last_flush < self.flush_interval_s:
            return
        self._last_flush = now
        pending, self._pending = self._pending, []
        if pending:
            it, loss, lr = (list(c) for c in zip(*pending, strict=True))
            with self.doc_lock:
                self.loss_source.stream({"iteration": it, "loss": loss, "lr": lr})
        self.iteration = self._last_iteration
        self._update_progress(now)

    def _update_progress(self, now: float) -> None:
        s, it = self._session, self.iteration
        if s is None:
            return
        self._rate_window.append((now, it))
        while len(self._rate_window) > 2 and now - self._rate_window[0][0] > 30:
            self._rate_window.pop(0)
        (t0, i0), (t1, i1) = self._rate_window[0], self._rate_window[-1]
        if i1 > i0 and t1 > t0:
            self.rate = (i1 - i0) / (t1 - t0)
        if s.target_elapsed_s is not None:
            budget = max(s.target_elapsed_s - s.start_elapsed_s, 1e-9)
            done = self._elapsed_s - s.start_elapsed_s
            self.progress = min(1.0, max(0.0, done / budget))
            self.eta_s = max(0.0, s.target_elapsed_s - self._elapsed_s)
        elif s.target_iteration is not None:
            todo = max(s.target_iteration - s.start_iteration, 1)
            self.progress = min(1.0, max(0.0, (it - s.start_iteration) / todo))
            if math.isfinite(self.rate) and self.rate > 0:
                self.eta_s = max(0.0, (s.target_iteration - it) / self.rate)

    # ------------------------------------------------------------------ results
    def refresh_snapshots(self) -> list[tuple[int, Path]]:
        """Re-read the shuffle's snapshots from disk (``ModelFolder.snapshots``)."""
        from ..engine.model_folder import ModelFolder

        fn = self._snapshots_fn or (
            lambda project, shuffle: ModelFolder.of(project, shuffle).snapshots()
        )
        try:
            snaps = [
                (int(i), Path(p)) for i, p in fn(self.project, shuffle=self.shuffle)
            ]
        except FileNotFoundError:
            snaps = []
        self.snapshots = sorted(snaps)
        self.test_set_note = self._read_test_set_note()
        if snaps and self.state == TrainingState.IDLE.value:
            self._last_iteration = max(self._last_iteration, self.snapshots[-1][0])
            self.iteration = self._last_iteration
        self._emit("snapshots")
        return self.snapshots

    def _load_history(self) -> None:
        """Fill the curves from ``learning_stats.csv`` of an earlier training."""
        import pandas as pd

        if not self.snapshots:
            return
        path = self.snapshots[-1][1].parent / "learning_stats.csv"
        meta = self.snapshots[-1][1].with_suffix(".json")
        if meta.is_file():
            with contextlib.suppress(ValueError, OSError):
                self._elapsed_s = float(
                    json.loads(meta.read_text()).get("elapsed_wall_s", 0.0)
                )
        if not path.is_file():
            return
        try:
            stats = pd.read_csv(path)
        except (ValueError, OSError) as err:
            logger.warning("could not read %s: %s", path, err)
            return
        self._set_curves(stats[stats["iteration"] <= self.iteration])
        self._emit("snapshots")

    def _set_curves(self, stats: pd.DataFrame) -> None:
        """Show ``learning_stats.csv`` rows as the loss and test-error curves."""
        loss = stats.dropna(subset=["loss"])
        test = stats.dropna(subset=["test_mean_error_px"])
        self.test_errors.update(
            zip(test["iteration"].astype(int), test["test_mean_error_px"], strict=True)
        )
        with self.doc_lock:
            self.loss_source.data = {
                "iteration": loss["iteration"].astype(int).tolist(),
                "loss": loss["loss"].tolist(),
                "lr": loss.get("learning_rate", loss["loss"] * np.nan).tolist(),
            }
            self.error_source.data = {
                "iteration": test["iteration"].astype(int).tolist(),
                "test_error": test["test_mean_error_px"].tolist(),
            }

    def _read_test_set_note(self) -> str:
        """Say why test errors are missing: the training set has no test frame."""
        from ..engine.dataset import load_split

        try:
            split = load_split(self.project, shuffle=self.shuffle)
        except Exception:  # noqa: BLE001 - no training set yet, or not readable
            return ""
        if len(split.test_indices):
            return ""
        n = len(split.train_indices)
        return (
            f"no test frames: label more frames ({n} labelled, training fraction "
            f"{split.train_fraction:g})"
        )

    def load_saved_evaluation(self) -> pd.DataFrame | None:
        """Read the newest snapshot's evaluation back from disk, if it was evaluated.

        ``evaluate_network`` writes the whole table as ``<scorer>-results.csv`` in
        the shuffle's evaluation folder (:meth:`Project.evaluation_dir
        <posekit.engine.project.Project.evaluation_dir>`) and a row of DeepLabCut's
        ``CombinedEvaluation-results.csv``; the first is read, else the row. Sets
        :attr:`evaluation` (a page opened later shows the evaluation done before).

        Returns
        -------
        pandas.DataFrame or None
            The table (one row), or ``None`` when the newest snapshot has none.
        """
        import pandas as pd

        if not self.snapshots:
            return None
        newest, path = self.snapshots[-1]
        table = None
        for candidate in self._evaluation_files(path):
            try:
                found = pd.read_csv(candidate)
            except (ValueError, OSError):
                continue
            cols = {str(c).strip(): c for c in found.columns}
            it_col, sh_col = (
                cols.get("Training iterations:"),
                cols.get("Shuffle number"),
            )
            if it_col is None:
                continue
            if sh_col is not None:
                found = found[found[sh_col].astype(int) == self.shuffle]
            self._record_evaluation(found)  # the older snapshots' test errors too
            keep = found[it_col].astype(int) == newest
            if keep.any():
                table = found[keep].tail(1).reset_index(drop=True)
                break
        if table is not None:
            self.evaluation = table
            self._record_evaluation(table)
        return table

    def _evaluation_files(self, snapshot: Path) -> list[Path]:
        """Where an evaluation of ``snapshot`` would be: the full table, the DLC row."""
        from ..engine.model_folder import ModelFolder

        files = []
        with contextlib.suppress(Exception):
            scorer = ModelFolder.of(self.project, self.shuffle).scorer(snapshot)
            files.append(
                self.project.evaluation_dir(self.shuffle) / f"{scorer}-results.csv"
            )
        files.append(
            self.project.path
            / "evaluation-results"
            / f"iteration-{self.project.iteration}"
            / "CombinedEvaluation-results.csv"
        )
        return files

    def snapshot_table(self) -> pd.DataFrame:
        """Snapshots with their test error (px) where one was measured."""
        import pandas as pd

        rows = [
            {
                "iteration": it,
                "snapshot": path.stem,
                "test error (px)": self.test_errors.get(it, float("nan")),
            }
            for it, path in self.snapshots
        ]
        return pd.DataFrame(rows, columns=["iteration", "snapshot", "test error (px)"])

    def evaluate(self, *, wait: bool = False) -> None:
        """Evaluate the latest snapshot in a background thread, then the worst frames.

        ``evaluation`` and ``worst_frames`` fill; errors go to ``error``.

        Raises
        ------
        RuntimeError
            If a training or evaluation runs, or there is no snapshot yet.
        """
        if self.state in _BUSY or self.evaluating:
            raise RuntimeError("Wait for the training to end before evaluating.")
        if not self.snapshots:
            raise RuntimeError("No snapshot to evaluate yet: train first.")
        self.error = ""
        self.evaluating = True
        self._eval_thread = threading.Thread(
            target=self._run_evaluation, name="posekit-evaluation", daemon=True
        )
        self._eval_thread.start()
        if wait:
            self._eval_thread.join()

    def _run_evaluation(self) -> None:
        try:
            self.message = "evaluating…"
            fn = self._evaluate_fn or self._api("evaluate_network")
            self.evaluation = fn(self.project, shuffle=self.shuffle)
            self._record_evaluation(self.evaluation)
            self._emit("evaluation")
            self._emit("snapshots")
            self.message = "predicting the test frames…"
            self.worst_frames = self.find_worst_frames()
            self._emit("worst")
            self.message = "evaluation done"
        except BaseException as err:  # noqa: BLE001 - shown in the widget
            self._fail(err)
        finally:
            self.evaluating = False

    @property
    def evaluated_iteration(self) -> int | None:
        """The snapshot iteration :attr:`evaluation` is of (``None``: no evaluation)."""
        table = self.evaluation
        if table is None or table.empty:
            return None
        cols = {str(c).strip(): c for c in table.columns}
        col = cols.get("Training iterations:")
        return None if col is None else int(table[col].iloc[-1])

    def _record_evaluation(self, table: pd.DataFrame) -> None:
        cols = {str(c).strip(): c for c in table.columns}
        it_col, err_col = cols.get("Training iterations:"), cols.get("Test error(px)")
        if it_col is None or err_col is None:
            return
        for it, err in zip(table[it_col], table[err_col], strict=True):
            self.test_errors[int(it)] = float(err)

    def find_worst_frames(self, n: int | None = None) -> list[WorstFrame]:
        """Predict the test frames with the latest snapshot and draw the worst.

        Parameters
        ----------
        n
            How many (default :attr:`n_worst`).

        Returns
        -------
        list of WorstFrame
            Largest mean error first; labels drawn as crosses, predictions as circles.
        """
        return find_worst_frames(
            self.project,
            self.shuffle,
            self.n_worst if n is None else n,
            predict=self._predict_fn or self._api("predict_frames"),
        )


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)
