r"""State and logic of the training dashboard, without any widget.

:class:`TrainingModel` holds the settings, the training, the state machine, the loss /
test-error curves (as Bokeh ``ColumnDataSource``\s, so that a view plots them as they
stream), snapshots, evaluation and the worst test frames. Tests drive it without a
browser; :class:`posekit.widgets.training_dashboard.TrainingDashboard` is its view.

**The training runs in its own process** (``python -m
posekit.widgets.training_model``), started in a new session, so that it outlives the
page: a Voila app's kernel is shut down as soon as its page is left (a followed link,
a closed tab), and everything in the kernel's process group with it. The process
trains (:func:`posekit.engine.api.train_network`), evaluates when it finished and draws
the worst test frames, then exits, which frees TensorFlow and the network: the page's
kernel never imports TensorFlow. It writes, in the shuffle's model folder
(``dlc-models/…/train/``):

- :data:`JOB_FILE`, its state as JSON (phase, iteration, stop reason, error, its pid),
  replaced atomically about twice a second;
- :data:`STEPS_FILE`, the loss of every step of this run (a CSV that grows);
- :data:`LOG_FILE`, its output (the engine's log, and a traceback on a failure).

The model follows the process from these files, as it follows a training started
elsewhere (below); the curves' test errors come from ``learning_stats.csv``. "Stop"
creates the project's stop-request file (:func:`posekit.engine.locks.request_stop`),
which the trainer checks before every step. A model made later on the same project (the
page opened again) finds the running process and follows it the same way. With engine
functions passed in (tests), or ``process=False``, the training runs in a thread of
this process instead (the curves then get every step as it happens).

States::

    idle ──start──▶ running ──stop──▶ stopping ──▶ stopped ──start (resume)──▶ running
                       │
                       └──(iteration or time limit reached)──▶ finished ──start──▶ running
    an error in the training ──▶ error (``error`` holds its message; the traceback goes
                                 to the process's log, or to the server's log)

A training that this model did not start and that is not the app's process (``posekit
train`` in a terminal, a job on a cluster) holds the project's training lock
(:func:`posekit.engine.locks.running_job`). The model then *attaches* to it: state
``running`` with :attr:`TrainingModel.external` naming the job, the curves and
snapshots re-read from disk every ``poll_interval_s`` (``learning_stats.csv`` gets a
row every few dozen iterations), and "Stop" creates the stop-request file. When the
lock goes, the state becomes ``stopped`` or ``finished``.

Bokeh document changes made from background threads are serialised with
:attr:`TrainingModel.doc_lock`: a ``BokehModel`` sends one document patch as several
comm messages, and two patches must not interleave.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
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

__all__ = [
    "APP_TIME_BUDGET_S",
    "AnalysisRunsError",
    "JOB_FILE",
    "LOG_FILE",
    "STEPS_FILE",
    "TrainingModel",
    "TrainingState",
    "format_eta",
]

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


class AnalysisRunsError(RuntimeError):
    """Start refused: an analysis runs on the project and this machine is small.

    A training and an analysis together need more memory than a 2 GB server
    (mybinder.org) has. Not an error of the user's: the dashboard shows the message
    as its status line, with the choice to train anyway
    (:attr:`TrainingModel.train_anyway`).
    """


#: The training process's state (JSON), in the shuffle's model folder.
JOB_FILE = "posekit-app-job.json"
#: The training process's output (the engine's log; a traceback on a failure).
LOG_FILE = "posekit-app.log"
#: The loss of every step of the process's run: ``iteration,loss,learning_rate``.
STEPS_FILE = "posekit-app-steps.csv"
#: The worst test frames drawn by the last evaluation (JSON, the PNGs inline), in
#: the shuffle's ``evaluation-results/…/worst-test-frames/``.
WORST_FILE = "worst-test-frames.json"
#: How long the app trains by default: a workshop's few minutes, as the tutorial.
APP_TIME_BUDGET_S = 150.0

#: Phases of the process after which it does nothing more.
_FINAL = ("done", "error")
#: A log larger than this is moved to ``posekit-app.log.1`` before the next run.
_LOG_MAX_BYTES = 2_000_000


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

    Totals, as the engine counts them. A stopped session by iterations resumes
    towards the same target; by time, "Train more" trains the minutes asked for more.
    """

    limit: str
    start_iteration: int
    target_iteration: int | None
    start_elapsed_s: float
    target_elapsed_s: float | None
    #: The settings it trains with (``()``: unknown, a session read from disk).
    settings: tuple

    def to_dict(self) -> dict[str, Any]:
        """Return the session without its settings (for the process's state file)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "settings"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Session:
        """Read a session back from a state file (settings unknown: ``()``)."""
        return cls(
            limit=str(data.get("limit", "iterations")),
            start_iteration=int(data.get("start_iteration") or 0),
            target_iteration=data.get("target_iteration"),
            start_elapsed_s=float(data.get("start_elapsed_s") or 0.0),
            target_elapsed_s=data.get("target_elapsed_s"),
            settings=(),
        )


class TrainingModel(traitlets.HasTraits):
    """State and logic of the training dashboard (no widgets).

    "Start" trains until the iteration counter reaches ``iterations`` (a total, as
    ``posekit train --iterations`` and the engine's ``max_iterations`` count it), or
    for ``time_budget_s`` more seconds; "Stop" measures the test error and saves a
    snapshot; "Train more" after a Stop continues the stopped session by iterations
    towards the same target, and one by time for ``time_budget_s`` more seconds (the
    button has that one name whether the page saw the Stop or was opened after
    it, :meth:`start` goes on from the newest snapshot either way). After a session
    ends, ``iterations`` moves on by the session's length, so "Train more" trains
    that much more. The engine's iteration counter continues across all of them.

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
        offline, the default; off: random initialisation),
        ``eval_interval`` (test-set evaluation every so many iterations, 0: about
        ten per session) and ``weigh_only_present_joints`` (DeepLabCut's
        ``pose_cfg.yaml`` key, :attr:`~posekit.engine.training.TrainConfig.weigh_only_present_joints`:
        ``True`` gives a bodypart left empty in a labelled frame no weight instead
        of training it as absent; points marked not visible are absent either
        way; it starts as the shuffle's recorded value, see
        :meth:`recorded_presence_rule`, and each start passes it to
        ``train_network``, which records it in ``pose_cfg.yaml``).
    train_fn, evaluate_fn, snapshots_fn, predict_fn
        The engine functions (default :mod:`posekit.engine.api`); tests may pass others.
    flush_interval_s
        How often the curves and the progress are pushed to the browser (and the
        training process's files are read).
    poll_interval_s
        How often a training started elsewhere (see :attr:`external`) is re-read
        from disk.
    n_worst
        How many test frames the worst-frames panel shows.
    process
        Train and evaluate in a separate process that outlives this one (see the
        module docstring). Default: yes, unless ``train_fn``, ``evaluate_fn`` or
        ``predict_fn`` is given (they run in a thread of this process).

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
    job
        The state of the training or evaluation process this model follows (the
        :data:`JOB_FILE` it writes, as a dict), or ``None``.
    test_set_note
        ``""``, or why test errors are missing (the shuffle's training set has no
        test frame: too few labelled frames for its training fraction).
    analysis_note
        ``""``, or the line that says that an analysis of the project runs (in the
        Analyze app, or one holding the project's analysis lock) and how much
        memory training needs then (:meth:`check_analysis`).
    small_memory
        This machine (or its container) has too little memory for a training and an
        analysis together: :meth:`start` refuses while an analysis runs, unless
        :attr:`train_anyway`.
    train_anyway
        Train even while an analysis runs on a small machine.
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
    weigh_only_present_joints = traitlets.Bool(False)
    save_interval_s = traitlets.Float(180.0)
    iteration = traitlets.Int(0)
    progress = traitlets.Float(0.0)
    eta_s = traitlets.Float(float("nan"))
    rate = traitlets.Float(float("nan"))
    message = traitlets.Unicode("")
    error = traitlets.Unicode("")
    evaluating = traitlets.Bool(False)
    auto_evaluate = traitlets.Bool(True)
    analysis_note = traitlets.Unicode("")
    small_memory = traitlets.Bool(False)
    train_anyway = traitlets.Bool(False)

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
        process: bool | None = None,
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
        injected = (train_fn, evaluate_fn, predict_fn)
        self.process = (
            all(fn is None for fn in injected) if process is None else bool(process)
        )
        self.external: Any = None
        self.job: dict[str, Any] | None = None
        self._proc: subprocess.Popen | None = None
        self._steps_offset = 0
        self._streamed_to = 0
        self._errors_to = 0
        self._stats_mtime: float | None = None
        self._seen_snapshot: str | None = None
        self._train_shown = False
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
        self.weigh_only_present_joints = self.recorded_presence_rule()
        self.observe(lambda _: self._switch_shuffle(), "shuffle")
        if not self.attach():
            self._report_last_job()
            self.check_analysis()

    def check_analysis(self) -> str:
        """Say, in :attr:`analysis_note`, whether an analysis of the project runs.

        The Analyze app's (its record: :mod:`posekit.widgets._running_jobs`) or one
        that holds the project's analysis lock; also sets :attr:`small_memory`.

        Returns
        -------
        str
            The line (``""``: no analysis runs).
        """
        from ._running_jobs import analysis_line, memory_advice

        try:
            line = analysis_line(self.project)
        except OSError:
            line = ""
        self.small_memory = bool(line) and memory_advice("")[1]
        self.analysis_note = line
        return line

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
        self.weigh_only_present_joints = self.recorded_presence_rule()
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
        from ..engine.api import backbone_choice

        # the engine's rule: the shuffle's recorded network (its pose_cfg.yaml),
        # else config.yaml's default_net_type
        return backbone_choice(
            self.project,
            backbone,
            "auto" if self.imagenet else None,
            shuffle=self.shuffle,
        )

    @property
    def default_backbone(self) -> str:
        """Return the backbone trained when none is picked (the engine's choice).

        The shuffle's recorded network (its ``pose_cfg.yaml``: ``net_type`` before the
        first training), else the project's ``default_net_type``, when its ImageNet
        weights load here; else
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
            self.eval_interval, self.save_interval_s, self.weigh_only_present_joints,
        )  # fmt: skip

    def recorded_presence_rule(self) -> bool:
        """Return the shuffle's recorded ``weigh_only_present_joints``.

        What ``train_network(weigh_only_present_joints=None)`` would train with, so
        that the app's control starts there: the key in the shuffle's
        ``pose_cfg.yaml`` (DeepLabCut's, or one edited), else the value the
        newest snapshot of the shuffle was trained with, else that of the snapshot
        a fresh training starts from (the previous iteration's, after a merge),
        else DeepLabCut's ``False``. A value that is not ``true`` or ``false`` is
        passed over here (the training refuses it, saying so).

        Returns
        -------
        bool
            The value.
        """
        from ..engine.model_folder import ModelFolder

        folder = self._train_dir()
        if folder is None:
            return False
        with contextlib.suppress(OSError, ValueError):
            value = ModelFolder(folder).pose_cfg().get("weigh_only_present_joints")
            if isinstance(value, bool):
                return value
        snaps = [path for _, path in ModelFolder(folder).snapshots()]
        if not snaps:
            with contextlib.suppress(Exception):  # no earlier iteration: none
                previous = self._api("previous_snapshot")(self.project, self.shuffle)
                snaps = [Path(previous)] if previous is not None else []
        for path in reversed(snaps):
            try:
                meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # damaged: the engine resumes from an older one too
            if not isinstance(meta, dict):
                continue
            value = (meta.get("train_config") or {}).get("weigh_only_present_joints")
            if value is not None:
                return bool(value)
            break  # the newest readable snapshot says nothing: the engine's default
        return False

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start, or resume, training in the background; returns at once.

        In a separate process (:attr:`process`, the default) or in a thread.

        Raises
        ------
        RuntimeError
            If a training or evaluation is already running.
        AnalysisRunsError
            If an analysis of the project runs and this machine has too little
            memory for both (:attr:`small_memory`), unless :attr:`train_anyway`.
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
        if self.check_analysis() and self.small_memory and not self.train_anyway:
            raise AnalysisRunsError(
                f"{self.analysis_note} Wait until the analysis ends (or stop it in "
                "the Analyze app), then start the training; or tick “train "
                "while it analyses” to train anyway."
            )
        s = self._session
        resuming = (
            s is not None
            and self.state in (TrainingState.STOPPED.value, TrainingState.ERROR.value)
            and s.settings in ((), self._settings())
        )
        # by time, each press trains the minutes asked for more ("minutes more"),
        # a resumed session too; by iterations, it trains to the session's total
        if not resuming or self.limit == "time":
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
            "weigh_only_present_joints": bool(self.weigh_only_present_joints),
            "resume": True,
            "progress": False,
        }
        self._stop_event = threading.Event()
        self._stop_sent = False
        self.error = ""
        self._pending.clear()
        self._rate_window.clear()
        self.eta_s = float("nan")
        self.rate = float("nan")
        message = (
            "resuming (loading the snapshot)…"
            if resuming
            else "starting (building the network; the first step is slow)…"
        )
        if self.process:
            self._start_process(
                "train",
                kwargs,
                message=message,
                evaluate=bool(self.auto_evaluate),
            )
            return
        if self._train_fn is None:  # TensorFlow's start-up lines out of the page
            from .app import preload_tensorflow

            preload_tensorflow()
        self.message = message
        self.state = TrainingState.RUNNING.value
        self._thread = threading.Thread(
            target=self._run, args=(kwargs,), name="posekit-training", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the training to stop; it saves a snapshot first (state ``stopping``).

        A training in another process (the app's process, or one started elsewhere:
        :attr:`external`) is asked through the project's stop-request file
        (:func:`posekit.engine.locks.request_stop`).
        """
        if self.state != TrainingState.RUNNING.value:
            return
        self.state = TrainingState.STOPPING.value
        self.eta_s = float("nan")
        self.rate = float("nan")
        if self.external is not None or self.job is not None:
            from ..engine.locks import request_stop

            request_stop(self.project.path, "training")
            self._stop_sent = True
            self.message = (
                f"stopping the training {self.external.describe()}: it measures the "
                "test error and saves a snapshot…"
                if self.external is not None
                else "stopping: measuring the test error and saving a snapshot…"
            )
            return
        self.message = "stopping: measuring the test error and saving a snapshot…"
        self._stop_event.set()

    # ------------------------------------------------------------------ the process
    def _start_process(
        self,
        action: str,
        kwargs: Mapping[str, Any],
        *,
        message: str,
        evaluate: bool = False,
    ) -> None:
        """Start the training (or evaluation) process and follow it.

        It runs in a new session: the kernel's shutdown (which signals the kernel's
        process group) leaves it alone.
        """
        from ..engine.model_folder import ModelFolder

        folder = ModelFolder.of(self.project, self.shuffle).path
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / LOG_FILE
        with contextlib.suppress(OSError):
            if log.stat().st_size > _LOG_MAX_BYTES:
                os.replace(log, log.with_name(LOG_FILE + ".1"))
        if action == "train":
            with contextlib.suppress(OSError):
                (folder / STEPS_FILE).unlink()
        started = _dt.datetime.now().isoformat(timespec="seconds")
        with open(log, "ab") as out:
            out.write(
                f"\n=== posekit Train app: {action}, shuffle {self.shuffle}, "
                f"{started} ===\n".encode()
            )
            offset = out.tell()
        session = self._session.to_dict() if action == "train" and self._session else {}
        status = {
            "job_id": uuid.uuid4().hex,
            "action": action,
            "phase": "starting",
            "message": message,
            "pid": None,
            "host": socket.gethostname(),
            "started_at": started,
            "shuffle": int(self.shuffle),
            "train_dir": str(folder),
            "log": str(log),
            "log_offset": offset,
            "session": session,
            "iteration": int(self.iteration),
            "elapsed_wall_s": float(self._elapsed_s),
            "evaluate": bool(evaluate),
        }
        spec = {
            "status": status,
            "project": str(self.project.path),
            "training_set_index": int(getattr(self.project, "training_set_index", 0)),
            "kwargs": dict(kwargs),
            "n_worst": int(self.n_worst),
        }
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",  # not the kernel's inline backend
        }
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, "-m", __spec__.name if __spec__ else __name__]
        with open(log, "ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - our own module
                [*command, json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(self.project.path),
                env=env,
                close_fds=True,
                # not killed with the page's kernel (its process group)
                **(
                    {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
                    if os.name == "nt"
                    else {"start_new_session": True}
                ),
            )
        status["pid"] = self._proc.pid
        _write_json(folder / JOB_FILE, status)
        self._follow(status, own=True)

    def _follow(self, status: dict[str, Any], *, own: bool = False) -> None:
        """Follow the training or evaluation process of ``status`` (its job file)."""
        self.job = dict(status)
        self.external = None
        self._train_shown = False
        self._steps_offset = 0
        self._streamed_to = max(
            [0, *(int(i) for i in self.loss_source.data["iteration"])]
        )
        self._errors_to = max(
            [0, *(int(i) for i in self.error_source.data["iteration"])]
        )
        self._stats_mtime = None
        self._seen_snapshot = None
        self._rate_window.clear()
        self.error = ""
        self.eta_s = float("nan")
        self.rate = float("nan")
        from ._running_jobs import clock

        phase = status.get("phase")
        if status.get("action") == "train" and status.get("session") and not own:
            # what the process trains to
            self._session = _Session.from_dict(status["session"])
            # "Train more" after a stop continues it (its settings: ``()``, unknown)
            self._show_session_settings(self._session)
            self.weigh_only_present_joints = self.recorded_presence_rule()
        if status.get("action") == "evaluate":
            self.evaluating = True
            self.message = "evaluating…"
        elif phase in ("evaluating", "predicting"):
            self._train_shown = True
            self.state = TrainingState.FINISHED.value
            self.evaluating = True
        else:
            self.message = (
                (status.get("message") or "training…")
                if own
                else (
                    "A training started from the Train app at "
                    f"{clock(status.get('started_at', '?'))} is running on this "
                    "project. It goes on when this page is left, and this page "
                    "shows its progress. Stop asks it to save a snapshot and stop."
                )
            )
            self.progress = 0.0
            self.state = TrainingState.RUNNING.value
        if not own:
            self._poll_job()
        self._watch_stop.clear()
        self._watch_thread = threading.Thread(
            target=self._watch, name="posekit-training-watch", daemon=True
        )
        self._watch_thread.start()

    def _show_session_settings(self, session: _Session) -> None:
        """Show what the followed process trains to in the limit controls."""
        if session.limit == "time" and session.target_elapsed_s is not None:
            self.limit = "time"
            budget = session.target_elapsed_s - session.start_elapsed_s
            if budget > 0:
                self.time_budget_s = float(budget)
        elif session.target_iteration:
            self.limit = "iterations"
            self.iterations = int(session.target_iteration)

    def _read_job(self) -> dict[str, Any] | None:
        """Read the shuffle's job file (the app's last process); ``None``: none."""
        folder = self._train_dir()
        if folder is None:
            return None
        try:
            data = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _job_alive(self, status: Mapping[str, Any]) -> bool | None:
        """Whether the process of ``status`` runs (``None``: on another host)."""
        pid = status.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return False
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        if status.get("host") not in (None, socket.gethostname()):
            return None
        return _pid_alive(pid)

    def _poll_job(self) -> bool:
        """Show the followed process's state; ``True`` once it has ended (and shown).

        Liveness is checked before the job file is read: the process writes its
        last state before it exits.
        """
        job = self.job
        if job is None:
            return True
        alive = self._job_alive(job)
        status = self._read_job()
        if status is not None and status.get("job_id") == job.get("job_id"):
            self.job = job = status
        self._read_steps()
        self._read_test_errors()
        if job.get("snapshot") != self._seen_snapshot:
            self._seen_snapshot = job.get("snapshot")
            self.refresh_snapshots()
        phase = job.get("phase")
        action = job.get("action")
        now = time.monotonic()
        if phase == "training":
            self._last_iteration = max(self._last_iteration, int(job["iteration"]))
            self.iteration = self._last_iteration
            self._elapsed_s = float(job.get("elapsed_wall_s") or self._elapsed_s)
            if self.state == TrainingState.RUNNING.value and self.message.startswith(
                ("starting", "resuming")
            ):
                self.message = "training…"
            self._update_progress(now)
            self._resend_stop()
        elif phase in ("evaluating", "predicting"):
            if action == "train" and not self._train_shown:
                self._show_training_end(job)
            self.evaluating = True
            self.message = (
                "evaluating…"
                if phase == "evaluating"
                else "predicting the test frames…"
            )
        elif phase == "done":
            self._end_job()  # first: a Start at once is not taken for this job
            if action == "train" and not self._train_shown:
                self._show_training_end(job)
            if job.get("evaluated"):
                self._show_evaluation_end()
            self.evaluating = False
            return True
        elif phase == "error":
            self._show_job_error(job)
            return True
        if alive is False:  # gone without saying so: killed (out of memory?)
            status = self._read_job()
            if (
                status is not None
                and status.get("job_id") == job.get("job_id")
                and status.get("phase") in _FINAL
            ):
                self.job = status
                return self._poll_job()
            self._show_job_lost(job)
            return True
        return False

    def _resend_stop(self) -> None:
        """Ask again for a stop asked before the process took the training lock.

        Taking the lock removes a stop-request file (it would be stale otherwise).
        """
        from ..engine.locks import request_stop, running_job, stop_requested

        if not self._stop_sent or stop_requested(self.project.path, "training"):
            return
        with contextlib.suppress(OSError):
            job = running_job(self.project.path, "training")
            if job is not None and self.job and job.pid == self.job.get("pid"):
                request_stop(self.project.path, "training")

    def _read_steps(self) -> None:
        """Stream the steps the process wrote since the last read into the curve."""
        folder = self._train_dir()
        if folder is None or (self.job or {}).get("action") != "train":
            return
        path = folder / STEPS_FILE
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self._steps_offset:  # a new run's file
                    self._steps_offset = 0
                fh.seek(self._steps_offset)
                data = fh.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only
        self._steps_offset += end
        points = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            parts = line.split(",")
            try:
                it, loss, lr = int(parts[0]), float(parts[1]), float(parts[2])
            except (ValueError, IndexError):
                continue  # the header
            if it > self._streamed_to:
                points.append((it, loss, lr))
                self._streamed_to = it
        if points:
            its, losses, lrs = (list(c) for c in zip(*points, strict=True))
            with self.doc_lock:
                self.loss_source.stream({"iteration": its, "loss": losses, "lr": lrs})

    def _read_test_errors(self) -> None:
        """Stream the test errors ``learning_stats.csv`` got since the last read."""
        import pandas as pd

        folder = self._train_dir()
        path = folder / "learning_stats.csv" if folder is not None else None
        try:
            mtime = path.stat().st_mtime if path is not None else None
        except OSError:
            return
        if mtime is None or mtime == self._stats_mtime:
            return
        self._stats_mtime = mtime
        try:
            stats = pd.read_csv(path)
            test = stats.dropna(subset=["test_mean_error_px"])
        except (ValueError, OSError, KeyError):
            return
        its = test["iteration"].astype(int).tolist()
        errs = test["test_mean_error_px"].astype(float).tolist()
        self.test_errors.update(zip(its, errs, strict=True))
        new = [(i, e) for i, e in zip(its, errs, strict=True) if i > self._errors_to]
        if new:
            self._errors_to = new[-1][0]
            with self.doc_lock:
                self.error_source.stream(
                    {
                        "iteration": [i for i, _ in new],
                        "test_error": [e for _, e in new],
                    }
                )
        self._emit("snapshots")  # the snapshot table's test errors

    def _show_training_end(self, job: Mapping[str, Any]) -> None:
        """Show how the process's training ended (stopped, finished, diverged)."""
        from ..engine.api import TrainResult

        self._train_shown = True
        self._read_test_errors()
        if job.get("iteration") is not None:
            self._last_iteration = int(job["iteration"])
        if job.get("elapsed_wall_s") is not None:
            self._elapsed_s = float(job["elapsed_wall_s"])
        if job.get("stop_reason") is not None:
            snapshot = job.get("snapshot")
            self.result = TrainResult(
                iteration=int(job["iteration"]),
                start_iteration=int(job.get("start_iteration") or 0),
                stop_reason=str(job["stop_reason"]),
                snapshot=Path(snapshot) if snapshot else None,
                test_error_px=job.get("test_error_px"),
                train_dir=Path(job.get("train_dir") or "."),
            )
        self._show_end(job.get("stop_reason"), evaluate=False)

    def _show_evaluation_end(self) -> None:
        """Show the evaluation and the worst frames the process wrote."""
        self.load_saved_evaluation()
        self._emit("evaluation")
        self._emit("snapshots")
        self._emit("worst")
        self.evaluating = False
        if self.state != TrainingState.ERROR.value:
            self.message = "evaluation done"

    def _end_job(self) -> None:
        """Stop following the process; wait for it to exit if it is this one's child.

        Reaping it leaves no zombie, and :meth:`join` returns once the memory it
        held is free.
        """
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(60)  # it has written its last state: exiting
        elif self.job is not None and self._job_alive(self.job):
            deadline = time.monotonic() + 60  # started by an earlier page
            while self._job_alive(self.job) and time.monotonic() < deadline:
                time.sleep(0.1)
        self.job = None
        self._proc = None
        self.refresh_snapshots()

    def _rewind_to_snapshot(self) -> None:
        """Show the network as its newest snapshot has it, after a failed process.

        What was trained after that snapshot is lost; the next start resumes from
        it (the iteration counter too), so the curves end there.
        """
        it = self.snapshots[-1][0] if self.snapshots else 0
        self._last_iteration = it
        self.iteration = it
        self._elapsed_s = 0.0
        if self.snapshots:
            with contextlib.suppress(ValueError, OSError, TypeError):
                meta = json.loads(
                    self.snapshots[-1][1].with_suffix(".json").read_text()
                )
                self._elapsed_s = float(meta.get("elapsed_wall_s", 0.0))
        with self.doc_lock:
            for source, names in (
                (self.loss_source, ("iteration", "loss", "lr")),
                (self.error_source, ("iteration", "test_error")),
            ):
                data = source.data
                keep = [i for i, x in enumerate(data["iteration"]) if x <= it]
                if len(keep) < len(data["iteration"]):
                    source.data = {n: [data[n][i] for i in keep] for n in names}
        self.test_errors = {k: v for k, v in self.test_errors.items() if k <= it}

    def _show_job_error(self, job: Mapping[str, Any]) -> None:
        """Show the error the process reported (its message, not a traceback)."""
        self._read_steps()
        self._end_job()
        self.evaluating = False
        if job.get("action") == "train" and not self._train_shown:
            self._rewind_to_snapshot()
        if job.get("error_type") == "JobLockError":  # started elsewhere meanwhile
            self.state = TrainingState.IDLE.value
            if self.attach():
                return
        message = str(job.get("error") or "the process failed")
        if not job.get("bad_input"):
            message = (
                f"Something went wrong inside posekit ({message}); the details are "
                f"in {job.get('log', LOG_FILE)}."
            )
        self.error = message
        self.message = f"error: {message}"
        self.state = TrainingState.ERROR.value

    def _show_job_lost(self, job: Mapping[str, Any]) -> None:
        """Say that the process is gone without finishing, and why if known."""
        code = self._proc.returncode if self._proc is not None else None
        self._end_job()
        self.evaluating = False
        if job.get("action") == "train" and not self._train_shown:
            self._rewind_to_snapshot()
        self.error = _lost_message(job, code, self.snapshots)
        self.message = f"error: {self.error}"
        self.state = TrainingState.ERROR.value

    def _report_last_job(self) -> None:
        """At opening: say so if the app's last training died without finishing."""
        job = self._read_job()
        if job is None or job.get("phase") in _FINAL:
            return
        if self._job_alive(job) is not False:
            return
        from ._running_jobs import clock

        self.error = _lost_message(job, None, self.snapshots)
        self.message = (
            f"the last training (started {clock(job.get('started_at', '?'))}) did not "
            "finish"
        )

    # ------------------------------------------------------------------ attached
    def attach(self) -> bool:
        """Follow a training of this project that this model did not start.

        The app's training process of this shuffle (its job file names a process that
        runs), or whatever holds the project's training lock
        (:func:`posekit.engine.locks.running_job`): a closed tab's, another app's,
        ``posekit train``. The state becomes ``running`` (or the evaluation is shown
        as running), and a background thread re-reads the curves and snapshots from
        disk until it ends; a training started elsewhere is named by
        :attr:`external`.

        Returns
        -------
        bool
            Whether such a training (or the app's evaluation) runs, and is now
            followed.
        """
        from ..engine.locks import running_job

        if self.external is not None or self.job is not None:
            return True
        own = self._thread is not None and self._thread.is_alive()
        if own or self.evaluating:
            return False
        try:
            job = running_job(self.project.path, "training")
        except OSError:
            job = None
        status = self._read_job()
        if status is not None and status.get("phase") not in _FINAL:
            alive = self._job_alive(status)
            ours = job is not None and job.pid == status.get("pid")
            if (alive or (alive is None and ours)) and (job is None or ours):
                self._follow(status)
                return True
        if job is None:
            return False
        self.external = job
        self._stop_sent = False
        self._session = None
        self.error = ""
        self.progress = 0.0
        self.eta_s = float("nan")
        self.rate = float("nan")
        from ._running_jobs import clock

        self.message = (
            f"A training started at {clock(job.started_at)} outside this page (another "
            "tab, or the command line) is running on this project. This page shows "
            "its progress; Stop asks it to save a snapshot and stop."
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
        """Follow the process (or the training started elsewhere) until it ends."""
        from ..engine.locks import running_job

        following_job = self.job is not None
        interval = (
            min(self.poll_interval_s, max(self.flush_interval_s, 0.05))
            if following_job
            else self.poll_interval_s
        )
        while not self._watch_stop.wait(interval):
            if following_job:
                try:
                    if self._poll_job():
                        return
                except Exception as err:  # noqa: BLE001 - shown in the widget
                    if self.job is None:  # failed while showing the end
                        self._fail(err)
                        return
                    logger.debug("reading the process's files failed", exc_info=True)
                continue
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
                f"stopped {who} at iteration {self.iteration}; Train more goes on "
                "from there any time, or press Evaluate"
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
        # by time: about ten in the budget at the speed of the earlier training, or
        # every 50 iterations when nothing was trained yet (the test-error curve of a
        # short first run in the app was empty at 250)
        if self.iteration > 0 and self._elapsed_s > 0:
            expected = self.iteration / self._elapsed_s * self.time_budget_s
            return max(10, min(1000, int(expected) // 10))
        return 50

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
            and self._session.settings in ((), self._settings())
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
        self._show_end(_get(self.result, "stop_reason"), evaluate=True)

    def _show_end(self, reason: str | None, *, evaluate: bool) -> None:
        """Show how a training ended: diverged, stopped or finished.

        ``evaluate``: start the evaluation when it finished (:attr:`auto_evaluate`);
        the training process evaluates by itself.
        """
        self._flush(force=True)
        self.refresh_snapshots()
        if reason == "diverged":
            self.error = (
                f"Training diverged at iteration {self.iteration} (the loss became "
                "NaN); the last good snapshot is kept. Lower the learning rate."
            )
            self.message = "diverged"
            self.state = TrainingState.ERROR.value
        elif reason in ("stop_requested", "interrupted") or (
            reason is None and (self._stop_event.is_set() or self._stop_sent)
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
                f"stopped at iteration {self.iteration} ({measured}); Train more "
                "goes on from there any time, or press Evaluate for the full evaluation"
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
            if evaluate and self.auto_evaluate and self.snapshots:
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
        :attr:`evaluation` (a page opened later shows the evaluation done before),
        and :attr:`worst_frames` when they were drawn for that snapshot.

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
            # DeepLabCut's tables start with pandas' index (an unnamed column)
            found = found.loc[:, ~found.columns.str.startswith("Unnamed:")]
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
            worst = _load_worst_frames(self.project, self.shuffle, newest)
            if worst is not None:
                self.worst_frames = worst
        return table

    def _evaluation_files(self, snapshot: Path) -> list[Path]:
        """Where an evaluation of ``snapshot`` would be: the full tables, the DLC row.

        The shuffle's ``<scorer>-results.csv`` files, newest first (the scorer is not
        worked out: that would load TensorFlow), then DeepLabCut's combined table.
        """
        folder = self.project.evaluation_dir(self.shuffle)
        try:
            tables = sorted(
                folder.glob("*-results.csv"),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
        except OSError:
            tables = []
        combined = (
            self.project.path
            / "evaluation-results"
            / f"iteration-{self.project.iteration}"
            / "CombinedEvaluation-results.csv"
        )
        return [*(p for p in tables if p != combined), combined]

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
        """Evaluate the latest snapshot in the background, then the worst frames.

        In a separate process (:attr:`process`: TensorFlow stays out of this one) or
        in a thread. ``evaluation`` and ``worst_frames`` fill; errors go to ``error``.

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
        if self.process:
            try:
                self._start_process("evaluate", {}, message="evaluating…")
            except BaseException:
                self.evaluating = False
                raise
            if wait:
                self.join()
            return
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
            _save_worst_frames(
                self.project, self.shuffle, self.evaluated_iteration, self.worst_frames
            )
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


# ---------------------------------------------------------------------- files
def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON atomically (a temporary file, then ``os.replace``).

    Not synced to disk: the state file is rewritten twice a second, and a reader
    only needs to see a whole file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs here and is a posekit process (not a zombie)."""
    if os.name == "nt":  # pragma: no cover - os.kill would end the process there
        try:
            import psutil
        except ImportError:
            return True
        return bool(psutil.pid_exists(pid))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal test is all there is
    # a zombie has exited; a pid reused by another program is not ours
    return state not in ("Z", "X") and b"posekit" in cmdline


#: Lines of a process's log that say nothing to an app user: TensorFlow's and absl's
#: start-up chatter, traceback headers, the app's separators.
_LOG_NOISE = re.compile(
    r"^(?:[IWEF]\d{4} |\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+: [IWEF] |WARNING: All "
    r"log messages before absl|Traceback \(most recent call last\)|=== posekit )"
    r"|tensorflow/|cuda|cuInit|oneDNN|rebuild TensorFlow|XLA"
)
_LOG_PREFIX = re.compile(r"^\d\d:\d\d:\d\d (?:[A-Z]+) [\w.]+: ")


def _log_tail(path: str | os.PathLike, offset: int = 0, n: int = 3) -> str:
    """Return the last ``n`` meaningful lines of a log from ``offset``, in one line.

    Tracebacks (their indented lines), TensorFlow's chatter and the log's time and
    logger prefix are left out; the result is cut to about 600 characters.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, int(offset)))
            data = fh.read()[-65536:]
    except OSError:
        return ""
    kept: list[str] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        if not raw.strip() or raw[:1].isspace() or _LOG_NOISE.search(raw):
            continue
        line = _LOG_PREFIX.sub("", raw.strip())
        if line not in kept[-2:]:
            kept.append(line)
    text = " / ".join(kept[-n:])
    return text if len(text) <= 600 else "…" + text[-600:]


def _lost_message(
    job: Mapping[str, Any], returncode: int | None, snapshots: list
) -> str:
    """Say that a process died without finishing, why if known, and what is left."""
    what = "training" if job.get("action") == "train" else "evaluation"
    why = ""
    if returncode is not None and returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = f" (it was killed, {name}"
        why += (
            ": most often the machine ran out of memory. On a 2 GB server (Binder) "
            "use one app tab at a time, or lower the batch size or the crop)"
            if sig == getattr(signal, "SIGKILL", 9)
            else ")"
        )
    elif returncode:
        why = f" (exit status {returncode})"
    from ._running_jobs import clock

    at = job.get("iteration")
    lines = [
        f"The {what} (started {clock(job.get('started_at', '?'))}) ended without "
        f"finishing{why}"
        + (f", near iteration {at}." if what == "training" and at else ".")
    ]
    if what == "training":
        lines.append(
            f"The newest snapshot is iteration {snapshots[-1][0]}: Start resumes "
            "from it."
            if snapshots
            else "No snapshot was saved."
        )
    log = job.get("log")
    if log:
        tail = _log_tail(log, int(job.get("log_offset") or 0))
        lines.append(
            f"The end of its log ({log}): {tail}" if tail else f"Its log: {log}."
        )
    return " ".join(lines)


def _worst_file(project: Project, shuffle: int) -> Path:
    return project.evaluation_dir(shuffle) / "worst-test-frames" / WORST_FILE


def _save_worst_frames(
    project: Project, shuffle: int, iteration: int | None, frames: list[WorstFrame]
) -> None:
    """Keep the worst frames of snapshot ``iteration`` for a page opened later."""
    if iteration is None:
        return
    data = {
        "iteration": int(iteration),
        "shuffle": int(shuffle),
        "frames": [
            {
                "path": f.path,
                "error_px": float(f.error_px),
                "png": base64.b64encode(f.png).decode("ascii"),
            }
            for f in frames
        ],
    }
    path = _worst_file(project, shuffle)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(path, data)
    except OSError as err:  # a read-only project: the page shows them anyway
        logger.warning("could not save the worst test frames in %s: %s", path, err)


def _load_worst_frames(
    project: Project, shuffle: int, iteration: int
) -> list[WorstFrame] | None:
    """Return the worst frames saved for snapshot ``iteration`` (``None``: none)."""
    try:
        data = json.loads(_worst_file(project, shuffle).read_text(encoding="utf-8"))
        if int(data["iteration"]) != int(iteration):
            return None
        return [
            WorstFrame(str(f["path"]), float(f["error_px"]), base64.b64decode(f["png"]))
            for f in data["frames"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------------- the process
class _JobWriter:
    """The training process's side of :data:`JOB_FILE`: its state, kept current."""

    def __init__(self, path: Path, status: Mapping[str, Any]) -> None:
        self.path = path
        self.status = dict(status)

    def update(self, **fields: Any) -> None:
        self.status.update(fields)
        try:
            _write_json(self.path, self.status)
        except OSError:  # the next update writes it
            logger.debug("could not write %s", self.path, exc_info=True)


def _job_callback(job: _JobWriter, steps: Path) -> Any:
    """Make a training callback that writes the steps and the state to follow."""
    from ..engine.training import TrainingCallback

    class _JobCallback(TrainingCallback):
        def __init__(self) -> None:
            self.fh = open(steps, "w", encoding="utf-8")  # noqa: SIM115 - kept open
            self.fh.write("iteration,loss,learning_rate\n")
            self.written = 0.0

        def on_train_begin(self, state: Any) -> None:
            it = int(_get(state, "iteration") or 0)
            job.update(
                phase="training",
                iteration=it,
                start_iteration=it,
                elapsed_wall_s=float(_get(state, "elapsed_wall_s") or 0.0),
            )

        def on_step(self, iteration: int, logs: Mapping[str, Any]) -> None:
            loss = float(logs.get("loss", float("nan")))
            lr = float(logs.get("learning_rate", float("nan")))
            self.fh.write(f"{int(iteration)},{loss!r},{lr!r}\n")
            now = time.monotonic()
            if now - self.written >= 0.5:
                self.written = now
                self.fh.flush()
                job.update(
                    iteration=int(iteration),
                    elapsed_wall_s=float(logs.get("elapsed_wall_s", 0.0)),
                )

        def on_evaluate(self, iteration: int, metrics: Mapping[str, Any]) -> None:
            self.fh.flush()
            job.update(iteration=int(iteration))

        def on_snapshot(self, iteration: int, path: Any) -> None:
            self.fh.flush()
            job.update(snapshot=str(path), snapshot_iteration=int(iteration))

        def on_train_end(self, state: Any) -> None:
            self.fh.close()
            elapsed = _get(state, "elapsed_wall_s")
            job.update(
                iteration=int(_get(state, "iteration") or 0),
                **({} if elapsed is None else {"elapsed_wall_s": float(elapsed)}),
            )

    return _JobCallback()


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM (a container or server shut down): stop as on Ctrl-C, with a snapshot."""
    raise KeyboardInterrupt


def _job_main(argv: list[str]) -> int:
    """Body of the training process: train and evaluate, or evaluate.

    ``argv``: one JSON argument (the project, the settings, the state to write; see
    :meth:`TrainingModel._start_process`). Writes :data:`JOB_FILE` as it goes and its
    log to the standard streams (the page's model points them at :data:`LOG_FILE`).

    Returns
    -------
    int
        The exit status: 0, or 1 after an error (written in the state file).
    """
    from ..engine.project import load_project
    from .app import _BAD_INPUT

    spec = json.loads(argv[0])
    status = dict(spec["status"], pid=os.getpid(), host=socket.gethostname())
    job = _JobWriter(Path(status["train_dir"]) / JOB_FILE, status)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    job.update(phase="starting")
    shuffle = int(status["shuffle"])
    try:
        project = load_project(spec["project"]).for_training_set(
            int(spec.get("training_set_index") or 0)
        )
        if status["action"] == "train":
            from ..engine.api import TrainingInterrupted, train_network

            kwargs = dict(spec["kwargs"])
            if kwargs.get("crop_size"):
                kwargs["crop_size"] = tuple(kwargs["crop_size"])
            steps = Path(status["train_dir"]) / STEPS_FILE
            try:
                result = train_network(
                    project, callbacks=[_job_callback(job, steps)], **kwargs
                )
            except TrainingInterrupted as err:  # the snapshot is saved: report it
                result = err.result
            except KeyboardInterrupt:  # before the first step: nothing to save
                job.update(stop_reason="interrupted")
                job.update(phase="done")
                return 0
            job.update(
                iteration=int(result.iteration),
                start_iteration=int(result.start_iteration),
                stop_reason=result.stop_reason,
                snapshot=None if result.snapshot is None else str(result.snapshot),
                test_error_px=result.test_error_px,
                train_dir=str(result.train_dir),
            )
            logger.info("%s", result)
            finished = result.stop_reason in ("max_iterations", "time_budget")
            if status.get("evaluate") and finished and result.snapshot is not None:
                _evaluate_in_process(job, project, shuffle, int(spec["n_worst"]))
        else:
            _evaluate_in_process(job, project, shuffle, int(spec["n_worst"]))
        job.update(phase="done")
        return 0
    except BaseException as err:  # noqa: BLE001 - reported in the state file
        logger.exception("the app's %s failed: %s", status["action"], err)
        job.update(
            phase="error",
            error=error_message(err)
            if isinstance(err, _BAD_INPUT)
            else f"{type(err).__name__}: {err}",
            error_type=type(err).__name__,
            bad_input=isinstance(err, _BAD_INPUT),  # a JobLockError too
        )
        return 1


def _evaluate_in_process(
    job: _JobWriter, project: Project, shuffle: int, n_worst: int
) -> None:
    """Evaluate the newest snapshot and draw the worst test frames (in the process)."""
    from ..engine.api import evaluate_network, predict_frames

    job.update(phase="evaluating")
    table = evaluate_network(project, shuffle=shuffle)
    cols = {str(c).strip(): c for c in table.columns}
    col = cols.get("Training iterations:")
    iteration = None if col is None or table.empty else int(table[col].iloc[-1])
    job.update(phase="predicting")
    frames = find_worst_frames(project, shuffle, n_worst, predict=predict_frames)
    _save_worst_frames(project, shuffle, iteration, frames)
    job.update(evaluated=True, evaluated_iteration=iteration)


if __name__ == "__main__":
    sys.exit(_job_main(sys.argv[1:]))
