"""Train a single-animal pose network on in-memory frames, resumably.

The recipe (``shared/docs/engine-notes.md``): random crops of the frames (half around the
animal, half anywhere; a labelled keypoint outside the crop is trained as absent, an
empty score map with full weight), Gaussian score maps, sigmoid cross-entropy on the score maps plus
``0.05 ×`` Huber loss on the location refinement, Adam with linear warm-up and cosine
decay, batch 8, a custom ``tf.function`` train step (no XLA: it is slower on CPU).

A bodypart left empty (NaN) in a labelled frame is trained as absent, as DeepLabCut
does (``weigh_only_present_joints: false`` in ``pose_cfg.yaml``, its default): the
network learns a low likelihood where a part is hidden. ``weigh_only_present_joints:
true`` gives such points zero weight instead, except those marked "not visible" in the
labeller (:attr:`TrainConfig.weigh_only_present_joints`; from a project,
``train_network(weigh_only_present_joints=True)`` or ``posekit train
--weigh-only-present-joints``).

Augmentation and target generation run in a background thread, overlapping the train
step. The network is built for any input size, so the same model is trained on crops
and evaluated on full frames (each shape is traced once).

A training folder (``train_dir``) holds:

- ``pose_cfg.yaml``: DeepLabCut-like keys (``all_joints_names``, ``net_type``, ``stride``,
  ``locref_stdev``, …) plus a ``posekit`` section with the full model and training
  configuration and a record of the DeepLabCut keys posekit wrote. With
  ``Trainer(dlc_settings=True)`` (``train_network``) the values a user set there
  (``rotation``, ``multi_step``, ``save_iters``, …) are taken; a rewrite keeps every
  key it does not write;
- ``snapshot-<iteration>.keras`` (the model), ``snapshot-<iteration>.optimizer.npz``
  (optimizer variables) and ``snapshot-<iteration>.json`` (iteration, elapsed time,
  optimizer configuration, checksums). The JSON is written last, each file atomically: a
  snapshot without its JSON, or whose files do not match their checksums, is skipped;
- ``learning_stats.csv``: iteration, losses, learning rate, test errors (mean Euclidean
  distance and RMSE, pixels) and elapsed time.

A run killed at any moment (even ``SIGKILL`` while it writes) leaves every file whole:
what it was writing is a hidden temporary file (``.snapshot-<it>.keras.<random>.keras``),
never taken for a snapshot and removed when training starts again in that folder.

Resuming continues the iteration counter and the optimizer state (DeepLabCut restarts at
0). Stopping: ``KeyboardInterrupt``, :meth:`Trainer.request_stop` from any thread, or
(from another process) the trainer's ``stop_file`` appearing; all measure the test
error (when there is a test set) and save a snapshot first.
Snapshots are also saved every ``save_interval`` iterations and every
``save_interval_s`` seconds (three minutes by default), so a crash loses little.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import queue
import re
import threading
import time
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _dlc_pose_cfg
from ._fileio import atomic_path, atomic_write_text
from ._image_cache import ImageList, frame_shapes
from .augment import AugmentConfig, Augmenter
from .evaluation import mean_error, rmse
from .inference import KerasPredictor
from .model_folder import (
    SNAPSHOT_FORMAT,
    ModelFolder,
    Snapshot,
    SnapshotError,
    file_sha256,
)
from .models.pose_model import (
    PoseModel,
    PoseModelConfig,
    build_pose_model,
    load_pose_model,
    save_pose_model,
)
from .targets import make_targets
from .training_defaults import AUTO_CROP_RANGE, ProjectDefaults, project_defaults

__all__ = [
    "dlc_net_type",
    "TrainConfig",
    "TrainState",
    "TrainingCallback",
    "Trainer",
    "learning_rate_at",
    "recalibrate_batchnorm",
    "read_pose_cfg",
    "default_crop_size",
    "LEARNING_STATS_COLUMNS",
    "ProjectDefaults",
    "pose_losses",
]

logger = logging.getLogger("posekit.engine.training")

#: Columns of ``learning_stats.csv``.
LEARNING_STATS_COLUMNS = (
    "iteration",
    "loss",
    "scoremap_loss",
    "locref_loss",
    "learning_rate",
    "test_mean_error_px",
    "test_rmse_px",
    "elapsed_wall_s",
    "elapsed_cpu_s",
)

_SNAPSHOT_DATA_RE = re.compile(r"^snapshot-(\d+)\.(?:keras|optimizer\.npz)$")
# temporary files of atomic writes (posekit.engine._fileio.atomic_path) in a train_dir
_TEMP_RE = re.compile(
    r"^\.(?:snapshot-\d+\.(?:keras|json|optimizer\.npz)|pose_cfg\.yaml"
    r"|learning_stats\.csv)\..+$"
)


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (frozen, validated).

    Attributes
    ----------
    batch_size
        Crops per step.
    crop_size
        ``(height, width)`` of the training crops (overrides ``augment.crop_size``);
        ``None`` (the default): chosen by :class:`Trainer` from the frame size with
        :func:`default_crop_size` (128×128 for 320×240 frames, 256×256 for 640×480),
        or, when resuming, the crop of the snapshot. The crop used is recorded in
        ``pose_cfg.yaml`` and in each snapshot.
    learning_rate
        Peak Adam learning rate.
    warmup_iterations
        Linear warm-up from 0 to ``learning_rate``; it ends earlier when
        ``warmup_fraction`` of the budget is used first (short runs).
    warmup_fraction
        The warm-up ends at this fraction of the budget at the latest.
    min_learning_rate_fraction
        The cosine decay ends at ``learning_rate * min_learning_rate_fraction``.
    weight_decay
        Decoupled weight decay (AdamW: each step shrinks every kernel by the
        fraction ``learning_rate × weight_decay``; biases and batch-norm parameters
        are left alone); 0 (the default): Adam. A regulariser; at 0.05 it did not
        lower the test error on openfield or the fly crops (the training guide).
    max_iterations
        Stop after this many iterations (total, counting resumed ones); ``None`` for
        no limit (then ``time_budget_s`` is needed).
    time_budget_s
        Stop after this many seconds of training (total, counting resumed runs). The
        budget counts the train steps only: not the start-up (loading, building the
        network, the first step of each run, which traces the graph), the test-set
        evaluations or writing snapshots, so that a job requeued again and again
        still trains for its budget (``elapsed_wall_s`` in ``learning_stats.csv``
        and the snapshots counts the same time).
    budget_clock
        ``"wall"``: wall-clock seconds; ``"cpu"``: process CPU seconds divided by the
        number of cores TensorFlow uses (fair on a shared machine).
    eval_interval
        Evaluate on the test set every this many iterations (0: only at the end).
    save_interval
        Save a snapshot every this many iterations (0: only at the end).
    save_interval_s
        Also save when this many seconds of wall-clock time passed since the last
        snapshot (default 180: a crash or a killed job loses at most about three
        minutes of training, however slow the iterations); ``None``: save by
        iterations only.
    log_interval
        Write a ``learning_stats.csv`` row every this many iterations.
    max_snapshots
        Keep this many most recent snapshots (older ones are deleted; DLC: 5).
    locref_loss_weight
        Weight of the location-refinement Huber loss (DLC: 0.05).
    huber_delta
        Huber loss threshold.
    eval_batch_size
        Frames per inference call during evaluation.
    bn_recalibration_batches
        Before each evaluation and snapshot, re-estimate the BatchNorm moving
        statistics as the average over this many augmented training batches (0:
        keep the running averages). From scratch the running averages lag the fast
        changing weights; inference then drifts from what training saw.
    prefetch_batches
        Batches prepared ahead by the background thread.
    seed
        Seeds model initialisation (``keras.utils.set_random_seed``) and batches.
    augment
        Augmentation settings.
    adaptive
        Choose the settings left at their defaults from the project
        (:mod:`posekit.engine.training_defaults`): the input scale, the crop
        (``crop_size=None``), the scale augmentation (``augment.scale_range`` at
        0.75–1.25) and the target radius (``sigma`` 8.5 and ``pos_dist_thresh`` 17
        of the model). What was chosen is recorded in ``pose_cfg.yaml`` and in the
        snapshots; a resumed run keeps it. ``False``: use the settings as given.
    weigh_only_present_joints
        DeepLabCut's ``pose_cfg.yaml`` key. ``False`` (DeepLabCut's default): a
        bodypart left empty (NaN) in a training frame is trained as absent, an empty
        score map with full weight, so the network learns that a hidden part is not
        there and its likelihood stays below pcutoff. ``True``: such points get zero
        weight (the network is told nothing about them), except the points marked
        "not visible" in the labeller (``Trainer.fit(absent=...)``), which are
        absent either way. ``None`` (the default): the value of the training
        folder's ``pose_cfg.yaml`` (DeepLabCut's, or one edited), else the one the
        resumed snapshot, or the snapshot a fresh run starts from (``init_weights``),
        was trained with, else ``False``. The value used is recorded in
        ``pose_cfg.yaml`` and in each snapshot. From a project:
        ``train_network(weigh_only_present_joints=...)``, ``posekit train
        --weigh-only-present-joints`` / ``--no-weigh-only-present-joints``.
    adaptive_augmentation
        With ``adaptive``, also choose the rotation (``augment.rotation_deg`` at 25)
        from how widely the labelled animals turn and mirror half the crops
        (``augment.flip_probability`` at 0) when the bodyparts have left/right
        pairs (``flip_pairs``). Off by default: on openfield (every-20 split, 900
        CPU-s) the wider augmentation (±180°, mirrored) converged more slowly, its
        test error 0.1–0.4 px above DeepLabCut's ±25° at every evaluation up to
        2,500 iterations. The suggestion is recorded either way
        (:class:`~posekit.engine.training_defaults.ProjectDefaults`).
    lr_schedule
        DeepLabCut's ``multi_step``: a piecewise-constant learning rate,
        ``((lr, until_iteration), ...)``: ``lr`` up to (not including) iteration
        ``until_iteration``, the last rate after the last step. ``None`` (the
        default): warm-up and cosine decay from ``learning_rate``.
    """

    batch_size: int = 8
    crop_size: tuple[int, int] | None = None
    learning_rate: float = 1e-3
    warmup_iterations: int = 200
    warmup_fraction: float = 0.05
    min_learning_rate_fraction: float = 0.02
    weight_decay: float = 0.0
    max_iterations: int | None = 30000
    time_budget_s: float | None = None
    budget_clock: Literal["wall", "cpu"] = "wall"
    eval_interval: int = 1000
    save_interval: int = 5000
    save_interval_s: float | None = 180.0
    log_interval: int = 50
    max_snapshots: int = 5
    locref_loss_weight: float = 0.05
    huber_delta: float = 1.0
    eval_batch_size: int = 1
    bn_recalibration_batches: int = 16
    prefetch_batches: int = 4
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    adaptive: bool = True
    adaptive_augmentation: bool = False
    weigh_only_present_joints: bool | None = None
    lr_schedule: tuple[tuple[float, int], ...] | None = None

    def __post_init__(self) -> None:
        self._check_counts()
        self._check_budget()
        self._check_rates()
        self._check_augment()
        self._check_presence_rule()
        self._check_schedule()

    def _set_int(self, name: str, minimum: int = 1) -> None:
        """Check that field ``name`` is an integer >= ``minimum``; store it as int."""
        value = getattr(self, name)
        if not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(
                f"{name} must be an integer >= {minimum}. Received: {name}={value!r}"
            )
        object.__setattr__(self, name, int(value))

    def _check_counts(self) -> None:
        """Check the batch sizes, intervals, snapshot count, seed and iterations."""
        self._set_int("batch_size")
        for name in (
            "warmup_iterations",
            "eval_interval",
            "save_interval",
            "log_interval",
        ):
            self._set_int(name, 0)
        self._set_int("max_snapshots")
        self._set_int("eval_batch_size")
        self._set_int("bn_recalibration_batches", 0)
        self._set_int("prefetch_batches")
        self._set_int("seed", 0)
        if self.log_interval < 1:
            raise ValueError(
                f"log_interval must be >= 1. Received: {self.log_interval}"
            )
        if self.max_iterations is not None:
            self._set_int("max_iterations")

    def _check_budget(self) -> None:
        """Check the time budget and its clock, and that training has a limit."""
        if self.time_budget_s is not None:
            if not self.time_budget_s > 0:
                raise ValueError(
                    f"time_budget_s must be positive. Received: {self.time_budget_s!r}"
                )
            object.__setattr__(self, "time_budget_s", float(self.time_budget_s))
        if self.max_iterations is None and self.time_budget_s is None:
            raise ValueError(
                "Set max_iterations, time_budget_s or both; with neither, training "
                "would never stop."
            )
        if self.budget_clock not in ("wall", "cpu"):
            raise ValueError(
                f"budget_clock must be 'wall' or 'cpu'. Received: {self.budget_clock!r}"
            )

    def _check_rates(self) -> None:
        """Check the learning rate, loss weights and snapshot period; store floats."""
        for name in ("learning_rate", "huber_delta"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"{name} must be positive. Received: {name}={value!r}")
            object.__setattr__(self, name, float(value))
        for name in (
            "min_learning_rate_fraction",
            "locref_loss_weight",
            "warmup_fraction",
            "weight_decay",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"{name} must be >= 0. Received: {name}={value!r}")
            object.__setattr__(self, name, float(value))
        if self.save_interval_s is not None and not self.save_interval_s > 0:
            raise ValueError(
                f"save_interval_s must be positive. Received: {self.save_interval_s!r}"
            )

    def _check_augment(self) -> None:
        """Read ``augment`` (a mapping becomes an AugmentConfig) and apply crop_size."""
        augment = self.augment
        if isinstance(augment, Mapping):
            augment = AugmentConfig.from_dict(augment)
        if not isinstance(augment, AugmentConfig):
            raise ValueError(
                f"augment must be an AugmentConfig. Received: {type(augment).__name__}"
            )
        if self.crop_size is not None:
            crop = tuple(int(v) for v in self.crop_size)
            augment = augment.replace(crop_size=crop)  # validates it
            object.__setattr__(self, "crop_size", augment.crop_size)
        object.__setattr__(self, "augment", augment)

    def _check_presence_rule(self) -> None:
        """Check ``weigh_only_present_joints``: ``None``, ``True`` or ``False``."""
        value = self.weigh_only_present_joints
        if value is None:
            return
        if not isinstance(value, bool | np.bool_):
            raise ValueError(
                "weigh_only_present_joints must be True, False or None. Received: "
                f"weigh_only_present_joints={value!r}"
            )
        object.__setattr__(self, "weigh_only_present_joints", bool(value))

    def _check_schedule(self) -> None:
        """Check ``lr_schedule``: rates > 0 with increasing end iterations."""
        steps = self.lr_schedule
        if steps is None:
            return
        bad = (
            "lr_schedule (DeepLabCut's multi_step) must be a list of [learning_rate, "
            "until_iteration] pairs, rates above 0 and iterations increasing. "
            f"Received: {steps!r}"
        )
        try:
            pairs = tuple((float(lr), until) for lr, until in steps)
        except (TypeError, ValueError):
            raise ValueError(bad) from None
        ends = [u for _, u in pairs]
        if (
            not pairs
            or any(not (lr > 0 and math.isfinite(lr)) for lr, _ in pairs)
            or any(
                isinstance(u, bool) or not isinstance(u, int | np.integer) or u < 1
                for u in ends
            )
            or any(b <= a for a, b in zip(ends, ends[1:], strict=False))
        ):
            raise ValueError(bad)
        object.__setattr__(self, "lr_schedule", tuple((lr, int(u)) for lr, u in pairs))

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["crop_size"] = None if self.crop_size is None else list(self.crop_size)
        d["augment"] = self.augment.to_dict()
        if self.lr_schedule is not None:
            d["lr_schedule"] = [[lr, until] for lr, until in self.lr_schedule]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(
                f"Unknown TrainConfig fields {sorted(unknown)}; known: {sorted(names)}"
            )
        data = dict(data)
        if data.get("crop_size") is not None:
            data["crop_size"] = tuple(data["crop_size"])
        if isinstance(data.get("augment"), Mapping):
            data["augment"] = AugmentConfig.from_dict(data["augment"])
        return cls(**data)


def default_crop_size(frame_shapes: Iterable[Sequence[int]]) -> tuple[int, int]:
    """Choose the training crop for frames of these shapes (``crop_size=None``).

    Half the shorter side of the smallest frame, rounded up to a multiple of 32 and
    kept within :data:`AUTO_CROP_RANGE` (64–256 px), square, but never larger than
    the frame (a side longer than the frame becomes the frame's side rounded down to
    a multiple of 32, the largest backbone stride, so that the score-map grid of a
    crop lines up with the frame's; of 8 for frames below 32 px). A crop of half the
    frame still shows the animal with its surroundings, while the cost of a training
    step grows with the crop area: on the 320×240 demo frames a 256×256 crop would
    cover almost the whole frame at about four times the cost of 128×128.

    Parameters
    ----------
    frame_shapes
        ``(height, width, ...)`` of each training frame.

    Returns
    -------
    tuple[int, int]
        ``(height, width)``.

    Examples
    --------
    >>> default_crop_size([(240, 320, 3)])
    (128, 128)
    >>> default_crop_size([(480, 640, 3), (1080, 1920, 3)])
    (256, 256)
    >>> default_crop_size([(100, 60, 3)])
    (64, 32)
    """
    shapes = [(int(s[0]), int(s[1])) for s in frame_shapes]
    if not shapes:
        raise ValueError("default_crop_size needs at least one frame shape")
    h = min(s[0] for s in shapes)
    w = min(s[1] for s in shapes)
    if h < 1 or w < 1:
        raise ValueError(f"Empty frame shape {(h, w)} among the training frames")
    lo, hi = AUTO_CROP_RANGE
    side = min(hi, max(lo, 32 * math.ceil(min(h, w) / 2 / 32)))
    return (min(side, _crop_side_within(h)), min(side, _crop_side_within(w)))


def _crop_side_within(n: int) -> int:
    """Return the largest crop side that fits ``n``: a multiple of 32 (of 8 below 32)."""
    return n - n % 32 if n >= 32 else max(8, n - n % 8)


def learning_rate_at(config: TrainConfig, iteration: int, progress: float) -> float:
    """Learning rate: linear warm-up (by iteration), then cosine decay (by progress).

    Parameters
    ----------
    config
        Training settings.
    iteration
        Iterations done.
    progress
        Fraction of the budget used, in ``[0, 1]`` (the larger of the iteration and
        time fractions).

    Examples
    --------
    >>> cfg = TrainConfig(learning_rate=1e-3, warmup_iterations=100,
    ...                   min_learning_rate_fraction=0.0)
    >>> learning_rate_at(cfg, 49, 0.0), learning_rate_at(cfg, 500, 0.5)
    (0.0005, 0.0005)

    A 20-iteration run is warm after 5 % of it, not after 100 iterations:

    >>> round(learning_rate_at(cfg, 1, 0.05), 6)
    0.000994

    DeepLabCut's ``multi_step`` (:attr:`TrainConfig.lr_schedule`):

    >>> steps = TrainConfig(lr_schedule=[[0.005, 10], [0.0002, 20]])
    >>> [learning_rate_at(steps, i, 0.0) for i in (0, 9, 10, 19, 20, 500)]
    [0.005, 0.005, 0.0002, 0.0002, 0.0002, 0.0002]
    """
    if config.lr_schedule:
        for lr, until in config.lr_schedule:
            if iteration < until:
                return float(lr)
        return float(config.lr_schedule[-1][0])
    peak = config.learning_rate
    low = peak * config.min_learning_rate_fraction
    p = min(max(float(progress), 0.0), 1.0)
    lr = low + (peak - low) * 0.5 * (1.0 + math.cos(math.pi * p))
    if config.warmup_iterations and iteration < config.warmup_iterations:
        warm = (iteration + 1) / config.warmup_iterations
        if config.warmup_fraction > 0:
            warm = max(warm, p / config.warmup_fraction)
        lr *= min(1.0, warm)
    return float(lr)


def recalibrate_batchnorm(model: Any, batches: Sequence[np.ndarray] | Any) -> int:
    """Set BatchNorm moving statistics to their average over ``batches`` ("precise BN").

    Each batch runs forward in training mode (no gradient); the per-batch means and
    variances are averaged and assigned as the moving statistics. Weights are unchanged.

    Parameters
    ----------
    model
        A Keras model (for a :class:`PoseModel` only the backbone and head run).
    batches
        Iterable of ``(B, H, W, 3)`` image batches, all of one shape.

    Returns
    -------
    int
        Number of batches used.
    """
    from ._tf import keras
    from ._tf import tensorflow as tf

    layers = [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not layers:
        return 0
    saved = [layer.momentum for layer in layers]
    originals = [
        (np.asarray(layer.moving_mean), np.asarray(layer.moving_variance))
        for layer in layers
    ]
    sums = [
        [np.zeros(layer.moving_mean.shape), np.zeros(layer.moving_variance.shape)]
        for layer in layers
    ]
    n = 0
    ok = False
    try:
        for layer in layers:
            layer.momentum = 0.0  # moving statistics := this batch's statistics
        forward = _bn_forward(model)  # traced (and retraced) only with momentum 0
        for batch in batches:
            forward(tf.cast(tf.convert_to_tensor(batch), tf.float32))
            for acc, layer in zip(sums, layers, strict=True):
                acc[0] += np.asarray(layer.moving_mean)
                acc[1] += np.asarray(layer.moving_variance)
            n += 1
        ok = True
    finally:
        for i, layer in enumerate(layers):
            layer.momentum = saved[i]
            mean, var = (sums[i][0] / n, sums[i][1] / n) if ok and n else originals[i]
            layer.moving_mean.assign(np.asarray(mean, np.float32))
            layer.moving_variance.assign(np.asarray(var, np.float32))
    return n


_BN_FORWARD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bn_forward(model: Any):
    from ._tf import tensorflow as tf

    fn = _BN_FORWARD.get(model)
    if fn is None:
        ref = weakref.ref(model)

        @tf.autograph.experimental.do_not_convert
        def forward(x):
            m = ref()
            call = getattr(m, "call_logits", None) or m
            return call(x, training=True)

        fn = tf.function(forward, jit_compile=False, reduce_retracing=True)
        _BN_FORWARD[model] = fn
    return fn


# --------------------------------------------------------------------------------------
# State and callbacks
# --------------------------------------------------------------------------------------


@dataclass
class TrainState:
    """What a training run did (returned by :meth:`Trainer.fit`).

    Attributes
    ----------
    iteration
        Iterations done in total (including resumed ones).
    start_iteration
        Iteration this run started from (0 for a fresh run).
    elapsed_wall_s, elapsed_cpu_s
        Training time in total (wall; CPU divided by the cores used).
    stop_reason
        ``"max_iterations"``, ``"time_budget"``, ``"stop_requested"``,
        ``"interrupted"`` (KeyboardInterrupt), ``"diverged"`` or ``"running"``.
    last_snapshot
        The newest snapshot written (``.keras`` path).
    metrics
        The last test metrics (``mean_error_px``, ``rmse_px``, …).
    history
        Rows of ``learning_stats.csv`` as dicts.
    train_dir
        The training folder.
    """

    iteration: int = 0
    start_iteration: int = 0
    elapsed_wall_s: float = 0.0
    elapsed_cpu_s: float = 0.0
    stop_reason: str = "running"
    last_snapshot: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    train_dir: Path | None = None

    @property
    def steps_this_run(self) -> int:
        """Iterations done by this run."""
        return self.iteration - self.start_iteration


class TrainingCallback:
    """Hooks for a training dashboard; override what you need (all no-ops).

    Callbacks run in the training thread; keep them quick (hand data to a UI thread).
    """

    def on_train_begin(self, state: TrainState) -> None:
        """Run once, after resuming and before the first step."""

    def on_step(self, iteration: int, logs: Mapping[str, float]) -> None:
        """Run after every step.

        ``logs``: ``loss``, ``scoremap_loss``, ``locref_loss``, ``learning_rate``,
        ``elapsed_wall_s``, ``elapsed_cpu_s``.
        """

    def on_evaluate(self, iteration: int, metrics: Mapping[str, Any]) -> None:
        """Run after each test-set evaluation (``mean_error_px``, ``rmse_px``…)."""

    def on_snapshot(self, iteration: int, path: Path) -> None:
        """Run after a snapshot was written (``path`` is the ``.keras`` file)."""

    def on_train_end(self, state: TrainState) -> None:
        """Run once at the end, also after an interruption."""


# --------------------------------------------------------------------------------------
# Configuration on disk (snapshots: posekit.engine.model_folder)
# --------------------------------------------------------------------------------------


def read_pose_cfg(train_dir: str | os.PathLike) -> tuple[PoseModelConfig, TrainConfig]:
    """Model and training configuration from ``train_dir/pose_cfg.yaml``.

    Raises
    ------
    FileNotFoundError
        No ``pose_cfg.yaml``.
    ValueError
        It does not parse, or was not written by posekit.
    """
    path = Path(train_dir) / "pose_cfg.yaml"
    section = ModelFolder(train_dir).pose_cfg().get("posekit")
    if not section:
        raise ValueError(f"{path} has no posekit section (not written by posekit?)")
    return (
        PoseModelConfig.from_dict(section["model"]),
        TrainConfig.from_dict(section["train"]),
    )


# --------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------

_ARCHITECTURE_FIELDS = ("backbone", "output_stride", "head_stride", "head_filters")

#: The explicit setting (``Trainer(given=...)``) that wins over a ``pose_cfg.yaml`` key.
_GIVEN_AS = {
    "batch_size": "batch_size",
    "save_iters": "save_interval",
    "display_iters": "log_interval",
    "max_snapshots_to_keep": "max_snapshots",
    "init_weights": "init_from",
    "crop_size": "crop_size",
}


def _whole(value: Any) -> int:
    """Return ``value`` as an int if it is a whole number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError("not a whole number")
    if float(value) != int(value):
        raise ValueError("not a whole number")
    return int(value)


def _number(value: Any) -> float:
    """Return ``value`` as a float if it is a number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError("not a number")
    return float(value)


def _set_global_scale(tr, value, model, train, aug) -> None:
    model["input_scale"] = _number(value)


def _set_pos_dist_thresh(tr, value, model, train, aug) -> None:
    radius = _number(value)
    if not radius > 0:
        raise ValueError("must be above 0")
    model["pos_dist_thresh"] = radius
    model["sigma"] = radius / 2.0  # posekit's Gaussian: pos_dist_thresh = 2 sigma


def _set_scale_jitter(index: int):
    def setter(tr, value, model, train, aug) -> None:
        bounds = list(aug.get("scale_range", (None, None)))
        bounds[index] = _number(value)
        aug["scale_range"] = tuple(bounds)

    return setter


def _set_rotation(tr, value, model, train, aug) -> None:
    if isinstance(value, bool):  # DeepLabCut: false = none, true = ±10°
        aug["rotation_deg"] = 10.0 if value else 0.0
    else:
        aug["rotation_deg"] = abs(_number(value))


def _set_mirror(tr, value, model, train, aug) -> None:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    if value and not tr.flip_pairs:
        raise ValueError(
            "mirror: true needs left/right bodypart pairs to swap, and posekit found "
            f"none among {list(tr.model_config.bodyparts)} (pairs are named "
            "left…/right… or …_l/…_r); set mirror: false"
        )
    aug["flip_probability"] = 0.5 if value else 0.0


def _set_train_int(name: str, minimum: int):
    def setter(tr, value, model, train, aug) -> None:
        n = _whole(value)
        if n < minimum:
            raise ValueError(f"must be at least {minimum}")
        train[name] = n

    return setter


def _set_train_float(name: str):
    def setter(tr, value, model, train, aug) -> None:
        train[name] = _number(value)

    return setter


def _set_multi_step(tr, value, model, train, aug) -> None:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a list of [learning_rate, until_iteration] pairs")
    steps = []
    for step in value:
        if not isinstance(step, list | tuple) or len(step) != 2:
            raise ValueError("must be a list of [learning_rate, until_iteration] pairs")
        steps.append((_number(step[0]), _whole(step[1])))
    train["lr_schedule"] = tuple(steps)
    if "max_iterations" not in tr.given:  # DeepLabCut: the last step ends training
        train["max_iterations"] = steps[-1][1]


def _set_crop_size(tr, value, model, train, aug) -> None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("must be [width, height]")
    width, height = (_whole(v) for v in value)
    if width < 1 or height < 1:
        raise ValueError("must be [width, height] in pixels, above 0")
    train["crop_size"] = (height, width)  # DeepLabCut's order is width, height
    tr._auto_crop = False


#: How each honoured DeepLabCut key sets the trainer's configs:
#: ``setter(trainer, value, model_changes, train_changes, augment_changes)``.
_DLC_SETTERS = {
    "global_scale": _set_global_scale,
    "pos_dist_thresh": _set_pos_dist_thresh,
    "scale_jitter_lo": _set_scale_jitter(0),
    "scale_jitter_up": _set_scale_jitter(1),
    "rotation": _set_rotation,
    "mirror": _set_mirror,
    "batch_size": _set_train_int("batch_size", 1),
    "save_iters": _set_train_int("save_interval", 0),
    "display_iters": _set_train_int("log_interval", 1),
    "max_snapshots_to_keep": _set_train_int("max_snapshots", 1),
    "locref_loss_weight": _set_train_float("locref_loss_weight"),
    "weight_decay": _set_train_float("weight_decay"),
    "multi_step": _set_multi_step,
    "crop_size": _set_crop_size,
}


def _cores_used() -> int:
    """Return the cores TensorFlow trains on (:func:`posekit.engine._tf.cpu_threads`).

    TensorFlow's intra-op pool when it is smaller (sized before posekit's import).
    """
    from ._tf import cpu_threads

    try:
        from ._tf import tensorflow as tf

        intra = tf.config.threading.get_intra_op_parallelism_threads()
    except Exception:  # noqa: BLE001 - TF not importable here
        intra = 0
    avail = cpu_threads()
    return max(1, min(intra, avail) if intra > 0 else avail)


class _Clock:
    """Elapsed wall and CPU (÷ cores) seconds of training, from a resumed total.

    What the time budget counts: the time of the train steps. Time spent in a
    :meth:`paused` block (the first step of each run, which traces the graph; the
    test-set evaluations; writing snapshots) does not count, so that a job that is
    requeued again and again still trains for its budget.
    """

    def __init__(self, wall0: float = 0.0, cpu0: float = 0.0) -> None:
        self.cores = _cores_used()
        self._wall0, self._cpu0 = wall0, cpu0
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        self._held: tuple[float, float] | None = None  # (wall, cpu) while paused

    @property
    def wall(self) -> float:
        if self._held is not None:
            return self._held[0]
        return self._wall0 + time.perf_counter() - self._t0

    @property
    def cpu(self) -> float:
        if self._held is not None:
            return self._held[1]
        return self._cpu0 + (time.process_time() - self._c0) / self.cores

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock while the block runs (nested blocks: the outer one counts)."""
        if self._held is not None:
            yield
            return
        self._held = (self.wall, self.cpu)
        try:
            yield
        finally:
            self._wall0, self._cpu0 = self._held
            self._t0, self._c0 = time.perf_counter(), time.process_time()
            self._held = None


class _BatchProducer:
    """Background thread: augmentation + targets for iteration ``i`` seeded by ``i``."""

    def __init__(self, trainer: Trainer, images, keypoints, start: int, map_shape):
        self.trainer = trainer
        self.images = images
        self.keypoints = keypoints
        self.next_iteration = start
        self.map_shape = map_shape
        self.queue: queue.Queue = queue.Queue(
            maxsize=trainer.train_config.prefetch_batches
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name="posekit-batches", daemon=True
        )
        self.thread.start()

    def make(self, iteration: int):
        t = self.trainer
        cfg = t.train_config
        rng = np.random.default_rng([cfg.seed, iteration])
        n = len(self.images)
        idx = rng.choice(n, cfg.batch_size, replace=n < cfg.batch_size)
        return t._make_batch(self.images, self.keypoints, idx, rng, self.map_shape)

    def _run(self) -> None:
        it = self.next_iteration
        while not self.stop.is_set():
            try:
                item: Any = self.make(it)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                item = exc
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return
            it += 1

    def get(self):
        while True:
            try:
                item = self.queue.get(timeout=0.5)
            except queue.Empty:
                if not self.thread.is_alive():
                    raise RuntimeError("the batch thread died") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@dataclass
class _Run:
    """What the steps of one :meth:`Trainer.fit` share."""

    clock: _Clock
    test: tuple[list[np.ndarray], np.ndarray] | None
    saved_at: int  # iteration of the last snapshot (-1: none this run)
    evaluated_at: int = -1  # iteration of the last test-set evaluation
    acc: np.ndarray = field(default_factory=lambda: np.zeros(3))  # summed losses
    n_acc: int = 0  # steps summed in acc
    steps: int = 0  # steps done by this run


@contextlib.contextmanager
def _random_init_notice_dropped(drop: bool) -> Iterator[None]:
    """Drop the backbone's "random initialisation" warning when weights follow.

    A network built to receive a snapshot's weights (``init_from``, a new iteration)
    is built with ``weights=None``; the backbone's warning would say it trains from
    scratch, which it does not.
    """
    if not drop:
        yield
        return
    target = logging.getLogger("posekit.engine.models.backbones")

    def keep(record: logging.LogRecord) -> bool:
        return "random initialisation" not in record.getMessage()

    target.addFilter(keep)
    try:
        yield
    finally:
        target.removeFilter(keep)


class Trainer:
    """Train (and resume) a pose network on in-memory frames.

    Parameters
    ----------
    model_config
        The network.
    train_config
        Training settings.
    train_dir
        Folder for ``pose_cfg.yaml``, snapshots and ``learning_stats.csv``.
    flip_pairs
        Symmetric bodypart pairs, swapped by mirror augmentation.
    callbacks
        :class:`TrainingCallback` hooks (dashboards).
    progress
        Show a tqdm progress bar.
    pose_cfg_extra
        Extra keys merged into ``pose_cfg.yaml`` (``project_path``, ``dataset``…).
    init_weights
        A snapshot (``.keras`` or ``.json``) whose weights a fresh run starts from:
        fine-tuning a trained network on more labels (DeepLabCut's ``init_weights``,
        recorded in ``pose_cfg.yaml``). A resumed run keeps its own snapshot's
        weights. The snapshot must have the architecture of ``model_config``.
    stop_file
        A file checked before every step: when it exists, training stops as on
        :meth:`request_stop` (test error measured, snapshot saved). Another
        process, one without a handle on this trainer (a reopened app), stops the
        training by creating it (:func:`posekit.engine.locks.request_stop`). The
        caller removes it (:func:`posekit.engine.locks.job_lock` does).
    dlc_settings
        Also take the DeepLabCut training keys the user set in
        ``train_dir/pose_cfg.yaml`` (``rotation``, ``scale_jitter_lo``,
        ``multi_step``, ``batch_size``, …: the table in the guide "Coming from
        DeepLabCut"): they win over ``train_config``'s values and the project's
        defaults, except for the settings named in ``given``. Keys without a
        counterpart are named in a warning. ``False`` (the default): the configs
        as given. Either way the file's other keys are kept when it is rewritten.
    given
        The settings given explicitly for this run, which win over the file:
        ``batch_size``, ``save_interval``, ``log_interval``, ``max_snapshots``,
        ``max_iterations``, ``init_from``.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> trainer = Trainer(
    ...     PoseModelConfig(bodyparts=("dot",), weights=None),
    ...     TrainConfig(batch_size=2, crop_size=(64, 64), max_iterations=2),
    ...     tempfile.mkdtemp(), progress=False)
    >>> images = [np.zeros((64, 64, 3), np.uint8)] * 2
    >>> state = trainer.fit(images, np.full((2, 1, 2), 32.0))  # doctest: +SKIP
    """

    #: The :meth:`evaluate` results a test-set evaluation keeps (``state.metrics``,
    #: ``on_evaluate``) and its log line: the message and the results it shows.
    _TEST_METRICS: tuple[str, ...] = ("mean_error_px", "rmse_px")
    #: The values the train step returns, in order: ``learning_stats.csv``'s loss
    #: columns (each row the mean over the steps since the row before).
    _LOSSES: tuple[str, ...] = ("loss", "scoremap_loss", "locref_loss")
    _TEST_LOG: tuple[str, tuple[str, ...]] = (
        "iteration %d: test mean error %.2f px, RMSE %.2f px",
        ("mean_error_px", "rmse_px"),
    )

    def __init__(
        self,
        model_config: PoseModelConfig,
        train_config: TrainConfig | None = None,
        train_dir: str | os.PathLike = "train",
        *,
        flip_pairs: Sequence[tuple[str, str]] = (),
        callbacks: Sequence[TrainingCallback] = (),
        progress: bool = True,
        pose_cfg_extra: Mapping[str, Any] | None = None,
        init_weights: str | os.PathLike | None = None,
        stop_file: str | os.PathLike | None = None,
        dlc_settings: bool = False,
        given: Collection[str] = (),
    ) -> None:
        if not isinstance(model_config, PoseModelConfig):
            raise TypeError(
                "model_config must be a PoseModelConfig. Received: "
                f"{type(model_config).__name__}"
            )
        self.model_config = model_config
        self.train_config = train_config or TrainConfig()
        # crop_size=None: chosen in fit() from the frames (or the resumed snapshot)
        self._auto_crop = self.train_config.crop_size is None
        self.train_dir = Path(train_dir)
        self.model_folder = ModelFolder(self.train_dir)
        self.flip_pairs = [tuple(p) for p in flip_pairs]
        self.callbacks = list(callbacks)
        self.progress = progress
        self.pose_cfg_extra = dict(pose_cfg_extra or {})
        self.init_weights = Path(init_weights) if init_weights is not None else None
        #: A file whose appearance stops :meth:`fit` as :meth:`request_stop` does
        #: (checked before every step): how another process stops this training.
        self.stop_file = Path(stop_file) if stop_file is not None else None
        self.dlc_settings = bool(dlc_settings)
        self.given = frozenset(given)
        #: The DeepLabCut keys of ``pose_cfg.yaml`` the user set (kept as written)
        self._from_user: dict[str, Any] = {}
        if self.init_weights is not None:
            # DeepLabCut's way to say where a refined model started
            self.pose_cfg_extra.setdefault(
                "init_weights", str(self.init_weights.with_suffix(""))
            )
        #: What the adaptive defaults chose (``None`` before :meth:`fit`, or when
        #: ``train_config.adaptive`` is off).
        self.defaults: ProjectDefaults | None = None
        self.augmenter = self._make_augmenter()
        self.model: PoseModel | None = None
        self.optimizer = None
        self.state = TrainState(train_dir=self.train_dir)
        self._stop = threading.Event()
        self._train_step = None
        self._last_save_wall = 0.0
        self._recalibrated_at = -1
        self._train_data: tuple[list[np.ndarray], np.ndarray] | None = None
        #: ``(n_images, K)`` bool: training points marked "not visible" (``fit``)
        self._train_absent: np.ndarray | None = None
        self._predictor: KerasPredictor | None = None

    # ---------------------------------------------------------------- control
    def request_stop(self) -> None:
        """Ask a running :meth:`fit` to save a snapshot and return (thread-safe)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`request_stop` was called since the last :meth:`fit` began."""
        return self._stop.is_set()

    # ---------------------------------------------------------------- setup
    def _check_keypoints(self, keypoints: np.ndarray, what: str) -> None:
        """Raise ``ValueError`` unless ``keypoints`` are ``(n, K, 2)`` for the model."""
        k = self.model_config.num_keypoints
        if keypoints.ndim != 3 or keypoints.shape[1:] != (k, 2):
            raise ValueError(
                f"{what} keypoints must be (n_images, {k}, 2) for bodyparts "
                f"{list(self.model_config.bodyparts)}. Received shape {keypoints.shape}"
            )

    def _validate_data(
        self, images: Sequence[np.ndarray], keypoints: np.ndarray, what: str
    ) -> tuple[Sequence[np.ndarray], np.ndarray]:
        if not isinstance(images, Sequence):
            images = list(images)  # an iterator; a sequence (training images read
            # on demand, engine._image_cache) stays one: never all in memory
        keypoints = np.asarray(keypoints, dtype=np.float64)
        self._check_keypoints(keypoints, what)
        if len(images) != len(keypoints):
            raise ValueError(
                f"{len(images)} {what} images but {len(keypoints)} rows of keypoints"
            )
        if isinstance(images, ImageList):
            # every file whole (a truncated or corrupt one named, with what to do)
            # and its shape, from headers and file structure: no pixel decoded
            images.check()
        for i, shape in enumerate(frame_shapes(images)):
            if len(shape) != 3 or shape[2] != 3:
                raise ValueError(
                    f"{what} image {i} must be (H, W, 3) RGB. Received shape {shape}"
                )
        return images, keypoints

    def _write_pose_cfg(self) -> None:
        import yaml

        m, t = self.model_config, self.train_config
        cfg = self._pose_cfg_values()
        cfg.update(self.pose_cfg_extra)
        cfg.update(self._from_user)  # the user's values stay as they wrote them
        cfg.update(self._kept_keys(cfg))
        written = _dlc_pose_cfg.record_text(_dlc_pose_cfg.written_record(cfg))
        cfg["posekit"] = {
            "model": m.to_dict(),
            "train": t.to_dict(),
            # what posekit wrote (one JSON line, which an edit of a key's line with
            # sed does not change): a value that differs later is the user's
            "dlc_keys": written,
            "from_user": sorted(self._from_user),
        }
        if self.defaults is not None:
            cfg["posekit"]["defaults"] = self.defaults.to_dict()
        cfg["posekit"].update(self._posekit_section())
        atomic_write_text(
            self.train_dir / "pose_cfg.yaml", yaml.safe_dump(cfg, sort_keys=False)
        )

    def _posekit_section(self) -> dict[str, Any]:
        """Return what a subclass adds to ``pose_cfg.yaml``'s ``posekit`` section."""
        return {}

    def _pose_cfg_values(self) -> dict[str, Any]:
        """Return the DeepLabCut-like keys ``pose_cfg.yaml`` gets from the configs."""
        m, t = self.model_config, self.train_config
        cfg: dict[str, Any] = {
            "all_joints": [[i] for i in range(m.num_keypoints)],
            "all_joints_names": list(m.bodyparts),
            "num_joints": m.num_keypoints,
            "net_type": dlc_net_type(m.backbone),
            "dataset_type": "posekit",
            "init_weights": m.weights,
            "output_stride": m.output_stride,
            "stride": m.head_stride,
            "deconvolutionstride": m.output_stride // m.head_stride,
            "location_refinement": True,
            "locref_huber_loss": True,
            "locref_loss_weight": t.locref_loss_weight,
            "locref_stdev": m.locref_stdev,
            "pos_dist_thresh": m.pos_dist_thresh,
            "scoremap_type": m.scoremap,
            "sigma": m.sigma,
            # DeepLabCut's rule for points left empty (NaN): False = trained absent
            "weigh_only_present_joints": bool(t.weigh_only_present_joints),
            "batch_size": t.batch_size,
            "global_scale": m.input_scale,
            "intermediate_supervision": False,
            "optimizer": "adamw" if t.weight_decay > 0 else "adam",
            "weight_decay": t.weight_decay,
            "max_snapshots_to_keep": t.max_snapshots,
            "save_iters": t.save_interval,
            "display_iters": t.log_interval,
            "snapshot_prefix": str(self.train_dir / "snapshot"),
            "scale_jitter_lo": float(t.augment.scale_range[0]),
            "scale_jitter_up": float(t.augment.scale_range[1]),
            "rotation": float(t.augment.rotation_deg),
            "mirror": bool(t.augment.flip_probability > 0 and self.flip_pairs),
        }
        if t.lr_schedule is not None:
            cfg["multi_step"] = [[lr, until] for lr, until in t.lr_schedule]
        if t.crop_size is not None:
            cfg["crop_size"] = [int(t.crop_size[1]), int(t.crop_size[0])]
        return cfg

    def _kept_keys(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """Return the keys of the current ``pose_cfg.yaml`` that ``cfg`` must keep.

        Every key posekit does not write (the user's, DeepLabCut's), except those a
        posekit wrote earlier, unchanged since, that it no longer writes.
        """
        path = self.train_dir / "pose_cfg.yaml"
        if not path.is_file():
            return {}
        try:
            old = self.model_folder.pose_cfg()
        except ValueError:
            return {}  # damaged: rewritten whole
        section = old.get("posekit")
        earlier = _dlc_pose_cfg.read_record(section) or {}
        kept = {}
        for key, value in old.items():
            if key in cfg or key == "posekit":
                continue
            if (
                key in earlier
                and _dlc_pose_cfg.same_value(value, earlier[key])
                and not _dlc_pose_cfg.is_template_value(key, value)
            ):
                continue  # posekit's own, no longer written (DeepLabCut's stay)
            kept[key] = value
        return kept

    def _check_compatible(self, snap: Snapshot) -> None:
        if snap.bodyparts != self.model_config.bodyparts:
            raise SnapshotError(
                f"Snapshot {snap.model_path.name} was trained for bodyparts "
                f"{list(snap.bodyparts)}, but the configuration has "
                f"{list(self.model_config.bodyparts)}. Start a fresh training "
                "(resume=False or another train_dir) after changing bodyparts."
            )
        saved = snap.meta["model_config"]
        for name in _ARCHITECTURE_FIELDS:
            if saved.get(name) != getattr(self.model_config, name):
                raise SnapshotError(
                    f"Snapshot {snap.model_path.name} has {name}={saved.get(name)!r} "
                    f"but the configuration has {name}="
                    f"{getattr(self.model_config, name)!r}. Start a fresh training "
                    "(resume=False or another train_dir)."
                )

    def _automatic_crop(
        self, snap: Snapshot | None, images: Sequence[np.ndarray]
    ) -> tuple[int, int]:
        """Return the resumed snapshot's crop, else the project's default crop."""
        if snap is not None:
            saved = (snap.meta.get("train_config") or {}).get("crop_size")
            if saved:
                return (int(saved[0]), int(saved[1]))
        if self.defaults is not None:
            crop = self.defaults.crop_size
            logger.info("training crop %d×%d (from the frames and labels)", *crop)
            return crop
        crop = default_crop_size(frame_shapes(images))
        logger.info("training crop %d×%d (from the frame size)", *crop)
        return crop

    def _set_crop(self, crop: tuple[int, int]) -> None:
        self.train_config = self.train_config.replace(crop_size=tuple(crop))
        self.augmenter = self._make_augmenter()

    def _scaled_augment(self) -> AugmentConfig:
        """Return the augmentation settings with the zoom range times the input scale."""
        aug = self.train_config.augment
        s = self.model_config.input_scale
        if s != 1.0:
            lo, hi = aug.scale_range
            aug = aug.replace(scale_range=(lo * s, hi * s))
        return aug

    def _make_augmenter(self) -> Augmenter:
        """Return the augmenter: the zoom range times the model's input scale."""
        return Augmenter(
            self._scaled_augment(), self.model_config.bodyparts, self.flip_pairs
        )

    def _adapt_to_project(self) -> None:
        """Choose the settings left at their defaults from the frames, labels, budget.

        See :mod:`posekit.engine.training_defaults`; a fresh run only (a resumed run
        keeps what its snapshot recorded).
        """
        cfg, m = self.train_config, self.model_config
        if not cfg.adaptive or self._train_data is None:
            return
        shapes, keypoints = self._defaults_input()
        d = project_defaults(
            shapes,
            keypoints,
            max_iterations=cfg.max_iterations,
            time_budget_s=cfg.time_budget_s,
            flip_pairs=self.flip_pairs,
        )
        self.defaults = d
        base = PoseModelConfig(bodyparts=m.bodyparts)
        changes: dict[str, Any] = {}
        if m.input_scale == base.input_scale:
            changes["input_scale"] = d.input_scale
        if m.sigma == base.sigma and m.pos_dist_thresh == base.pos_dist_thresh:
            changes["sigma"] = d.sigma
            changes["pos_dist_thresh"] = d.pos_dist_thresh
        self.model_config = m.replace(**changes)
        base_aug, aug_changes = AugmentConfig(), {}
        if cfg.augment.scale_range == base_aug.scale_range:
            aug_changes["scale_range"] = d.scale_range
        if cfg.adaptive_augmentation:
            if cfg.augment.rotation_deg == base_aug.rotation_deg:
                aug_changes["rotation_deg"] = d.rotation_deg
            if cfg.augment.flip_probability == base_aug.flip_probability:
                aug_changes["flip_probability"] = d.flip_probability
        self.train_config = cfg.replace(augment=cfg.augment.replace(**aug_changes))
        self.augmenter = self._make_augmenter()
        aug = self.train_config.augment
        logger.info(
            "defaults from the project: animal %s px, frame sizes %s, input scale "
            "%g, scale augmentation %.2f–%.2f, rotation ±%g°, mirrored %g, sigma "
            "%.2f px (for ~%d iterations)",
            d.animal_size_px,
            list(d.frame_sizes),
            self.model_config.input_scale,
            *aug.scale_range,
            aug.rotation_deg,
            aug.flip_probability if self.flip_pairs else 0.0,
            self.model_config.sigma,
            d.iterations,
        )

    def _defaults_input(self) -> tuple[list[tuple[int, ...]], np.ndarray]:
        """Frame shapes and ``(n, K, 2)`` keypoints of one animal each, for the defaults."""
        images, keypoints = self._train_data
        return frame_shapes(images), keypoints

    def _keep_recorded(self, snap: Snapshot) -> None:
        """Keep the model settings and defaults the resumed snapshot recorded."""
        if not self.train_config.adaptive:
            return
        if self.model is not None:
            self.model_config = self.model.pose_config
        saved = (snap.meta.get("train_config") or {}).get("augment") or {}
        kept = {k: saved[k] for k in ("rotation_deg", "flip_probability") if k in saved}
        if saved.get("scale_range"):
            kept["scale_range"] = tuple(saved["scale_range"])
        if kept:
            augment = self.train_config.augment.replace(**kept)
            self.train_config = self.train_config.replace(augment=augment)
        if snap.meta.get("defaults"):
            self.defaults = ProjectDefaults.from_dict(snap.meta["defaults"])
        self.augmenter = self._make_augmenter()

    def _apply_pose_cfg(self, fresh: bool) -> None:
        """Take the DeepLabCut keys the user set in ``pose_cfg.yaml`` (``dlc_settings``).

        An explicit setting (``given``) wins over the file, the file over
        ``train_config`` and the project's defaults. Each value taken is logged;
        each key without a counterpart is named in a warning.
        """
        self._from_user = {}
        path = self.train_dir / "pose_cfg.yaml"
        if not self.dlc_settings or not path.is_file():
            return
        try:
            chosen = _dlc_pose_cfg.user_choices(self.model_folder.pose_cfg())
        except ValueError:
            return  # damaged: rewritten whole, as before
        self._from_user = dict(chosen)
        no_effect = {**_dlc_pose_cfg.NO_EFFECT, **_dlc_pose_cfg.NO_EFFECT_MULTI}
        for key, value in chosen.items():
            if key in no_effect:
                logger.warning(
                    "pose_cfg.yaml: %s %r has no effect in posekit (%s); kept in %s",
                    key,
                    value,
                    no_effect[key],
                    path,
                )
        model_changes: dict[str, Any] = {}
        train_changes: dict[str, Any] = {}
        aug_changes: dict[str, Any] = {}
        for key, value in chosen.items():
            if key in _dlc_pose_cfg.HONOURED_MULTI:
                self._take_multianimal_key(key, value, fresh, path)
                continue
            if key not in _dlc_pose_cfg.HONOURED:
                continue
            if self._given_wins(key, value, _GIVEN_AS.get(key)):
                continue
            if key == "init_weights":
                self._take_init_weights(value, fresh, path)
                continue
            if key in ("global_scale", "pos_dist_thresh") and not fresh:
                logger.warning(
                    "pose_cfg.yaml: %s %r applies to a fresh training (posekit train "
                    "--fresh, train_network(resume=False)); the resumed network keeps "
                    "its own",
                    key,
                    value,
                )
                continue
            try:
                _DLC_SETTERS[key](
                    self, value, model_changes, train_changes, aug_changes
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}: {key}: {value!r} cannot be used ({exc}). Correct the "
                    "value or delete the line (posekit then chooses it)."
                ) from None
            logger.info("pose_cfg.yaml: %s %s (your value)", key, value)
        self._set_from_pose_cfg(path, model_changes, train_changes, aug_changes)

    def _given_wins(self, key: str, value: Any, arg: str | None) -> bool:
        """Return whether ``arg``, given for this run, wins over the file's ``key`` (logged)."""
        if arg is None or arg not in self.given:
            return False
        logger.info(
            "pose_cfg.yaml: %s %r kept in the file; this run uses the %s given",
            key,
            value,
            arg,
        )
        return True

    def _take_multianimal_key(
        self, key: str, value: Any, fresh: bool, path: Path
    ) -> None:
        """Take a multi-animal key of ``pose_cfg.yaml`` (none: this is one animal)."""
        logger.warning(
            "pose_cfg.yaml: %s %r applies to a multi-animal shuffle (%s); this "
            "single-animal training does not use it; kept in %s",
            key,
            value,
            _dlc_pose_cfg.HONOURED_MULTI[key],
            path,
        )

    def _set_from_pose_cfg(
        self,
        path: Path,
        model_changes: dict[str, Any],
        train_changes: dict[str, Any],
        aug_changes: dict[str, Any],
    ) -> None:
        """Apply the changes :meth:`_apply_pose_cfg` collected (``ValueError``)."""
        if not (model_changes or train_changes or aug_changes):
            return
        if "scale_range" in aug_changes:
            lo, hi = aug_changes["scale_range"]
            old = self.train_config.augment.scale_range
            aug_changes["scale_range"] = (
                old[0] if lo is None else lo,
                old[1] if hi is None else hi,
            )
        try:
            self.model_config = self.model_config.replace(**model_changes)
            augment = self.train_config.augment.replace(**aug_changes)
            self.train_config = self.train_config.replace(
                augment=augment, **train_changes
            )
        except ValueError as exc:
            raise ValueError(
                f"{path}: {exc}. Correct the value or delete the line (posekit then "
                "chooses it)."
            ) from None
        self.augmenter = self._make_augmenter()

    def _take_init_weights(self, value: Any, fresh: bool, path: Path) -> None:
        """DeepLabCut's ``init_weights``: a fresh run starts from that snapshot."""
        if not fresh:
            logger.info(
                "pose_cfg.yaml: init_weights %s applies to a fresh training; this run "
                "resumes its own snapshot",
                value,
            )
            return
        snapshot = _dlc_pose_cfg.init_weights_path(value, path)
        if snapshot is None:
            return
        if self.init_weights is None:
            self.init_weights = snapshot
        logger.info("pose_cfg.yaml: init_weights %s (your value)", value)

    def _make_batch(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        indices: np.ndarray,
        rng: np.random.Generator,
        map_shape: tuple[int, int],
    ) -> tuple[np.ndarray, Any]:
        """Augmented crops of ``images[indices]`` and their targets (a tuple).

        The train step (:meth:`_make_train_step`) takes the crops, then the fields of
        the targets in order, then the learning rate.
        """
        mcfg = self.model_config
        absent = self._train_absent
        if absent is not None and len(absent) != len(keypoints):
            absent = None  # not the training set fit() was given
        crops, kps, labelled = self.augmenter.batch(
            images, keypoints, indices, rng, return_labelled=True, absent=absent
        )
        targets = make_targets(
            kps,
            map_shape,
            stride=mcfg.head_stride,
            kind=mcfg.scoremap,
            sigma=mcfg.sigma,
            pos_dist_thresh=mcfg.pos_dist_thresh,
            locref_stdev=mcfg.locref_stdev,
            # placed or not visible: with only present joints weighing, a known point
            # out of the crop or not visible is absent (full weight), others weigh 0
            labelled=labelled,
            weigh_only_present_joints=bool(self.train_config.weigh_only_present_joints),
        )
        return crops, targets

    def _make_optimizer(self, model: PoseModel):
        from ._tf import keras

        cfg = self.train_config
        if cfg.weight_decay > 0:
            opt = keras.optimizers.AdamW(
                learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay
            )
            # kernels only, as usual: not the biases and batch-norm scales/offsets
            opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        else:
            opt = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
        opt.build(model.trainable_variables)
        return opt

    def _restore(self, snap: Snapshot, model: PoseModel | None = None) -> None:
        self._check_compatible(snap)
        if model is None:
            model = load_pose_model(snap.model_path)
        opt = self._make_optimizer(model)
        with np.load(snap.optimizer_path) as data:
            arrays = [data[f"v{i}"] for i in range(len(data.files))]
        if len(arrays) != len(opt.variables) or any(
            tuple(a.shape) != tuple(v.shape)
            for a, v in zip(arrays, opt.variables, strict=True)
        ):
            raise SnapshotError(
                f"{snap.optimizer_path.name}: the optimizer state does not fit the model"
            )
        for var, value in zip(opt.variables, arrays, strict=True):
            var.assign(value)
        counted = int(opt.iterations.numpy())
        if counted == snap.iteration + 1:
            # saved by an older posekit after a Ctrl-C in the middle of a step
            logger.info(
                "%s: the optimizer counted one step more (%d) than the snapshot "
                "(%d), a step cut short by Ctrl-C; going on from %d",
                snap.meta_path.name,
                counted,
                snap.iteration,
                snap.iteration,
            )
            opt.iterations.assign(snap.iteration)
        elif counted != snap.iteration:
            raise SnapshotError(
                f"{snap.meta_path.name}: iteration {snap.iteration} but the optimizer "
                f"counted {counted}. Start over with --fresh (fresh=True), or move "
                f"{snap.model_path.stem}.* out of {snap.model_path.parent} to resume "
                "from the snapshot before it."
            )
        self.model, self.optimizer = model, opt
        meta = snap.meta
        self.state.iteration = self.state.start_iteration = snap.iteration
        self.state.elapsed_wall_s = float(meta.get("elapsed_wall_s", 0.0))
        self.state.elapsed_cpu_s = float(meta.get("elapsed_cpu_s", 0.0))
        self.state.last_snapshot = snap.model_path
        self.state.history = [
            row
            for row in _read_learning_stats(
                self.train_dir / "learning_stats.csv", self._stats_columns()
            )
            if row["iteration"] <= snap.iteration
        ]
        logger.info(
            "resumed from %s (iteration %d)", snap.model_path.name, snap.iteration
        )

    def _build_fresh(self) -> None:
        from ._tf import keras

        keras.utils.set_random_seed(self.train_config.seed)
        with _random_init_notice_dropped(self.init_weights is not None):
            self.model = build_pose_model(self.model_config, (None, None, 3))
        self.optimizer = self._make_optimizer(self.model)
        self.state.iteration = self.state.start_iteration = 0
        self.state.elapsed_wall_s = self.state.elapsed_cpu_s = 0.0
        self.state.history = []

    def _make_train_step(self):
        from ._tf import tensorflow as tf

        model, opt, cfg = self.model, self.optimizer, self.train_config
        variables = model.trainable_variables
        delta = cfg.huber_delta
        w_loc = cfg.locref_loss_weight

        def step(images, scmap, scmap_w, locref, locref_w, lr):
            opt.learning_rate.assign(lr)
            x = tf.cast(images, tf.float32)
            with tf.GradientTape() as tape:
                logits, loc = model.call_logits(x, training=True)
                loss_s, loss_l = pose_losses(
                    logits, loc, scmap, scmap_w, locref, locref_w, delta=delta
                )
                loss = loss_s + w_loc * loss_l
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables, strict=True))
            return loss, loss_s, loss_l

        return tf.function(step, jit_compile=False, reduce_retracing=True)

    def _map_shape(self) -> tuple[int, int]:
        from ._tf import keras

        h, w = self.train_config.crop_size
        # the training graph (call_logits): crops are already at the input scale
        x = keras.KerasTensor((self.train_config.batch_size, h, w, 3))
        logits = self.model.head.compute_output_spec(
            self.model.backbone.compute_output_spec(x)
        )[0]
        return tuple(int(s) for s in logits.shape[1:3])

    def _recalibrate(self) -> None:
        """Precise BatchNorm statistics for the current weights (once per iteration)."""
        n = self.train_config.bn_recalibration_batches
        it = self.state.iteration
        if not n or self._recalibrated_at == it or self._train_data is None:
            return
        images, keypoints = self._train_data
        cfg = self.train_config
        rng = np.random.default_rng([cfg.seed, it, 1])

        def batches():
            for _ in range(n):
                idx = rng.choice(
                    len(images), cfg.batch_size, replace=len(images) < cfg.batch_size
                )
                yield self.augmenter.batch(images, keypoints, idx, rng)[0]

        recalibrate_batchnorm(self.model, batches())
        self._recalibrated_at = it

    # ---------------------------------------------------------------- outputs
    def _save_snapshot(self, clock: _Clock) -> Path:
        with clock.paused():  # writing files is not counted in the time budget
            return self._write_snapshot(clock)

    def _write_snapshot(self, clock: _Clock) -> Path:
        it = self.state.iteration
        self._recalibrate()
        d = self.train_dir
        model_path = d / f"snapshot-{it}.keras"
        opt_path = d / f"snapshot-{it}.optimizer.npz"
        save_pose_model(self.model, model_path)
        arrays = {
            f"v{i}": np.asarray(v) for i, v in enumerate(self.optimizer.variables)
        }
        with atomic_path(opt_path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        opt_config = self.optimizer.get_config()
        meta = {
            "format": SNAPSHOT_FORMAT,
            "iteration": it,
            "elapsed_wall_s": clock.wall,
            "elapsed_cpu_s": clock.cpu,
            "learning_rate": float(np.asarray(self.optimizer.learning_rate)),
            "model_file": model_path.name,
            "model_sha256": file_sha256(model_path),
            "optimizer_file": opt_path.name,
            "optimizer_sha256": file_sha256(opt_path),
            "optimizer": {
                "class": type(self.optimizer).__name__,
                "config": json.loads(json.dumps(opt_config, default=str)),
                "variables": [v.path for v in self.optimizer.variables],
                "iterations": int(self.optimizer.iterations.numpy()),
            },
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "defaults": None if self.defaults is None else self.defaults.to_dict(),
            "metrics": self.state.metrics,
        }
        atomic_write_text(
            d / f"snapshot-{it}.json", json.dumps(meta, indent=1, default=float)
        )
        self.model_folder.write_dlc_marker(it)  # DeepLabCut finds snapshots by it
        self.state.last_snapshot = model_path
        self._last_save_wall = clock.wall
        self._prune_snapshots()
        logger.info("saved %s", model_path)
        for cb in self.callbacks:
            cb.on_snapshot(it, model_path)
        return model_path

    def _remove_old_snapshots(self) -> None:
        """Remove old snapshots on a fresh start (they would be resumed from later)."""
        old = self.model_folder.snapshots()
        if old:
            logger.warning(
                "resume=False: removing %d old snapshot(s) in %s (iterations %s)",
                len(old),
                self.train_dir,
                [it for it, _ in old],
            )
        for it, _ in old:
            self.model_folder.remove_snapshot(it)

    def _remove_leftovers(self) -> None:
        """Remove what a killed run left behind in ``train_dir``.

        Temporary files of interrupted writes, and the model and optimizer files of
        snapshots older than the newest one whose metadata is gone (a pruning that was
        interrupted: the metadata is deleted first). Newer files without metadata (a
        save that was interrupted) are left: the next save of that iteration replaces
        them. Two runs must not train in the same folder at once.
        """
        snapshots = self.model_folder.snapshots()
        newest = snapshots[-1][0] if snapshots else -1
        listed = {it for it, _ in snapshots}
        removed = []
        for p in self.train_dir.iterdir():
            m = _SNAPSHOT_DATA_RE.match(p.name)
            stale = m is not None and int(m.group(1)) < newest
            if (
                (_TEMP_RE.match(p.name) or stale)
                and p.is_file()
                and not (m and int(m.group(1)) in listed)
            ):
                p.unlink(missing_ok=True)
                removed.append(p.name)
        if removed:
            logger.info(
                "removed %d file(s) an interrupted run left in %s: %s",
                len(removed),
                self.train_dir,
                sorted(removed),
            )

    def _prune_snapshots(self) -> None:
        snapshots = self.model_folder.snapshots()
        for it, _ in snapshots[
            : max(len(snapshots) - self.train_config.max_snapshots, 0)
        ]:
            self.model_folder.remove_snapshot(it)  # metadata first

    def _stats_columns(self) -> tuple[str, ...]:
        """Return the columns of ``learning_stats.csv``: the losses this trainer has."""
        base = LEARNING_STATS_COLUMNS
        cut = base.index("learning_rate")
        return (base[0], *self._LOSSES, *base[cut:])

    def _write_learning_stats(self) -> None:
        buf = io.StringIO()
        columns = self._stats_columns()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.state.history:
            writer.writerow({k: _fmt(row.get(k)) for k in columns})
        atomic_write_text(self.train_dir / "learning_stats.csv", buf.getvalue())

    # ---------------------------------------------------------------- evaluation
    def evaluate(
        self, images: Sequence[np.ndarray], keypoints: np.ndarray
    ) -> dict[str, Any]:
        """Predict full frames with the current weights; mean error and RMSE (pixels).

        Returns
        -------
        dict
            ``mean_error_px`` (DLC's "RMSE"), ``rmse_px``, ``predictions`` ``(N, K, 3)``.
        """
        if self.model is None:
            raise RuntimeError("no model yet: call fit() first")
        images, keypoints = self._validate_data(images, keypoints, "evaluation")
        pred = self._eval_predictor()(images)
        return {
            "mean_error_px": mean_error(pred, keypoints),
            "rmse_px": rmse(pred, keypoints),
            "predictions": pred,
        }

    def _eval_predictor(self) -> KerasPredictor:
        """Return the predictor of the current model (one traced function per model)."""
        p = self._predictor
        if (
            p is None
            or p.model is not self.model
            or p.batch_size != self.train_config.eval_batch_size
        ):
            p = KerasPredictor(self.model, batch_size=self.train_config.eval_batch_size)
            self._predictor = p
        return p

    # ---------------------------------------------------------------- training
    def fit(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        test_images: Sequence[np.ndarray] | None = None,
        test_keypoints: np.ndarray | None = None,
        *,
        resume: bool | str | os.PathLike = True,
        absent: np.ndarray | None = None,
    ) -> TrainState:
        """Train until the iteration or time budget is used, or a stop is requested.

        Parameters
        ----------
        images
            Training frames, RGB ``uint8`` ``(H, W, 3)`` (sizes may differ).
        keypoints
            ``(n_images, K, 2)`` pixel coordinates, NaN where not labelled. A NaN
            point is trained as absent unless ``weigh_only_present_joints`` (see
            :class:`TrainConfig`).
        test_images, test_keypoints
            Optional test set, evaluated on full frames every ``eval_interval``.
        resume
            ``True``: continue from the newest intact snapshot in ``train_dir`` if
            any; ``False``: start fresh (existing snapshots in ``train_dir`` are
            deleted, with a logged warning); a path: continue from that snapshot
            (``.json`` or ``.keras``).
        absent
            ``(n_images, K)`` bool: training points marked "not visible" (the
            labeller's marks, :attr:`~posekit.engine.dataset.TrainingSet.not_visible`);
            they are trained as absent under either ``weigh_only_present_joints``.
            Multi-animal training: ``(n_images, n_slots)``, the slots of the flat
            keypoints (:class:`~posekit.engine.multianimal.training.MultiAnimalTrainer`).

        Returns
        -------
        TrainState

        Raises
        ------
        ValueError
            Bad arrays.
        SnapshotError
            The snapshot to resume from is corrupt, or its bodyparts or architecture
            differ from ``model_config``.
        """
        train, test = self._prepare_data(images, keypoints, test_images, test_keypoints)
        self._train_absent = self._check_absent(absent, train[1])
        self._stop.clear()
        snap = self._setup_model(resume, train[0])
        self._log_empty_points()
        run = _Run(
            clock=_Clock(self.state.elapsed_wall_s, self.state.elapsed_cpu_s),
            test=test,
            saved_at=self.state.iteration if snap is not None else -1,
            acc=np.zeros(len(self._LOSSES)),
        )
        self._last_save_wall = run.clock.wall
        self._run_loop(run)
        self._finish(run)
        return self.state

    # The steps of fit(), in order.
    def _prepare_data(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        test_images: Sequence[np.ndarray] | None,
        test_keypoints: np.ndarray | None,
    ) -> tuple[
        tuple[list[np.ndarray], np.ndarray], tuple[list[np.ndarray], np.ndarray] | None
    ]:
        """Validate the training and test sets; the test set is ``None`` if empty."""
        images, keypoints = self._validate_data(images, keypoints, "training")
        if len(images) == 0:
            raise ValueError(
                "no training images: the training set has no labelled frames. Label "
                "frames, then run `posekit create-training-dataset PROJECT` (it "
                "replaces an empty split) and train again."
            )
        if not np.isfinite(keypoints).all(axis=-1).any():
            raise ValueError("no labelled keypoint in the training set")
        test = None
        if test_images is not None and test_keypoints is not None:
            test = self._validate_data(test_images, test_keypoints, "test")
            if not len(test[0]):
                test = None
        self._train_data = (images, keypoints)
        return (images, keypoints), test

    def _setup_model(
        self, resume: bool | str | os.PathLike, images: Sequence[np.ndarray]
    ) -> Snapshot | None:
        """Set up model, optimizer, crop, ``pose_cfg.yaml`` and train step.

        Fresh, or resumed from a snapshot.

        Returns the snapshot resumed from (``None`` for a fresh start).
        """
        self._recalibrated_at = -1
        self.train_dir.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        self.state = TrainState(train_dir=self.train_dir)
        snap: Snapshot | None = None
        loaded: PoseModel | None = None
        if resume is True:
            found = self.model_folder.load_latest()
            if found is not None:
                snap, loaded = found
        elif resume not in (False, None):
            snap = Snapshot.read(resume)
        if snap is not None:
            self._restore(snap, loaded)
            self._keep_recorded(snap)
            self._apply_pose_cfg(fresh=False)
            self._log_rescaled_schedule(snap)
        else:
            if resume is False:
                self._remove_old_snapshots()
            self._adapt_to_project()
            self._apply_pose_cfg(fresh=True)
            self._build_fresh()
            if self.init_weights is not None:
                self._load_initial_weights(self.init_weights)
        if self._auto_crop:
            self._set_crop(self._automatic_crop(snap, images))
        self._choose_presence_rule(snap)
        self._write_pose_cfg()
        if (
            self._train_step is None
            or getattr(self, "_step_model", None) is not self.model
        ):
            self._train_step = self._make_train_step()
            self._step_model = self.model
        return snap

    def _check_absent(
        self, absent: np.ndarray | None, keypoints: np.ndarray
    ) -> np.ndarray | None:
        """Return ``fit``'s ``absent`` as ``(n_images, K)`` bool (``ValueError``)."""
        if absent is None:
            return None
        absent = np.asarray(absent)
        if absent.shape != keypoints.shape[:2]:
            raise ValueError(
                f"absent must be (n_images, K) = {keypoints.shape[:2]}, one flag per "
                f"training point. Received shape {absent.shape}"
            )
        return absent.astype(bool)

    def _recorded_presence_rule(self, snap: Snapshot | None) -> tuple[bool | None, str]:
        """``weigh_only_present_joints`` of ``pose_cfg.yaml``, else of a snapshot.

        Returns the value and where it came from; ``(None, "")`` when none says.

        Raises
        ------
        ValueError
            ``pose_cfg.yaml``'s value is not ``true`` or ``false``.
        """
        path = self.train_dir / "pose_cfg.yaml"
        if path.is_file():
            try:
                cfg = self.model_folder.pose_cfg()
            except ValueError:
                cfg = {}  # damaged: rewritten below, as before
            if "weigh_only_present_joints" in cfg:
                value = cfg["weigh_only_present_joints"]
                if not isinstance(value, bool):
                    raise ValueError(
                        f"{path}: weigh_only_present_joints must be true or false "
                        f"(DeepLabCut's key). Received: {value!r}. Correct it, or "
                        "remove the line for DeepLabCut's default, false."
                    )
                return value, str(path)
        sources = []
        if snap is not None:
            sources.append((snap.meta, snap.meta_path))
        elif self.init_weights is not None:
            with contextlib.suppress(OSError, ValueError, SnapshotError):
                init = Snapshot.read(
                    self.init_weights.with_suffix(".json"), verify=False
                )
                sources.append((init.meta, init.meta_path))
        for meta, where in sources:
            value = (meta.get("train_config") or {}).get("weigh_only_present_joints")
            if value is not None:
                return bool(value), str(where)
        return None, ""

    def _choose_presence_rule(self, snap: Snapshot | None) -> None:
        """Set ``weigh_only_present_joints`` (``None``: as recorded, else DLC's False).

        See :attr:`TrainConfig.weigh_only_present_joints`.
        """
        given = self.train_config.weigh_only_present_joints
        recorded, source = self._recorded_presence_rule(snap)
        if given is not None:
            value, where = given, "as asked"
            if recorded is not None and recorded != given:
                logger.warning(
                    "weigh_only_present_joints: %s as asked (%s said %s)",
                    str(given).lower(),
                    source,
                    str(recorded).lower(),
                )
        elif recorded is not None:
            value, where = recorded, source
        else:
            value, where = False, "DeepLabCut's default"
        trained = None
        if snap is not None:
            trained = (snap.meta.get("train_config") or {}).get(
                "weigh_only_present_joints"
            )
        if snap is not None and trained is None and not value:
            logger.info(
                "%s was trained by a posekit that gave points left empty zero "
                "weight; training goes on with DeepLabCut's rule "
                "(weigh_only_present_joints: false): they are trained as absent",
                snap.model_path.name,
            )
        elif snap is not None and trained is not None and bool(trained) != value:
            logger.warning(
                "%s was trained with weigh_only_present_joints: %s; this run goes "
                "on with %s (%s)",
                snap.model_path.name,
                str(bool(trained)).lower(),
                str(value).lower(),
                where,
            )
        self.train_config = self.train_config.replace(weigh_only_present_joints=value)

    def _log_empty_points(self) -> None:
        """Say how the training points left empty are trained (one log line)."""
        if self._train_data is None:
            return
        keypoints = self._train_data[1]
        empty = ~np.isfinite(keypoints).all(axis=-1)
        if not empty.any():
            return
        marked = empty & (
            self._train_absent if self._train_absent is not None else False
        )
        frames = int(empty.any(axis=1).sum())
        if self.train_config.weigh_only_present_joints:
            logger.info(
                "%d point(s) left empty in %d of %d training frames: the %d marked "
                "not visible are trained as absent, the others not at all "
                "(pose_cfg.yaml weigh_only_present_joints: true)",
                int(empty.sum()),
                frames,
                len(keypoints),
                int(marked.sum()),
            )
        else:
            logger.info(
                "%d point(s) left empty in %d of %d training frames (%d marked not "
                "visible) are trained as absent: hidden there (DeepLabCut's rule, "
                "pose_cfg.yaml weigh_only_present_joints: false)",
                int(empty.sum()),
                frames,
                len(keypoints),
                int(marked.sum()),
            )

    def _load_initial_weights(self, snapshot: Path) -> None:
        """Copy a trained snapshot's weights into the freshly built network."""
        from .models.pose_model import load_pose_model

        if snapshot.suffix == ".json":
            snapshot = snapshot.with_suffix(".keras")
        source = load_pose_model(snapshot).get_weights()
        target = self.model.get_weights()
        if len(source) != len(target) or any(
            a.shape != b.shape for a, b in zip(source, target, strict=True)
        ):
            raise SnapshotError(
                f"{snapshot.name} does not fit the network being trained (another "
                "backbone or other bodyparts): start from the backbone's weights "
                "instead (train_network(init_from=None), Trainer(init_weights=None))."
            )
        self.model.set_weights(source)
        logger.info("training starts from the weights of %s", snapshot)

    def _run_loop(self, run: _Run) -> None:
        """Train step after step until a stop reason; Ctrl-C stops too."""
        from ._progress import progress_bar

        cfg = self.train_config
        images, keypoints = self._train_data
        producer = _BatchProducer(
            self, images, keypoints, self.state.iteration, self._map_shape()
        )
        bar = None
        try:
            for cb in self.callbacks:  # before the bar: a line they print comes first
                cb.on_train_begin(self.state)
            elapsed = run.clock.cpu if cfg.budget_clock == "cpu" else run.clock.wall
            reason = self._stop_reason(elapsed)
            bar = progress_bar(
                cfg.max_iterations,
                initial=self.state.iteration,
                unit="it",
                desc="training",
                # nothing to train (a resume at its limit): no bar, whose first
                # and last lines in a log would be the same line twice
                disable=not self.progress or reason is not None,
                dynamic_ncols=True,
            )
            while True:
                if reason is not None:
                    self.state.stop_reason = reason
                    break
                done = self._step(run, producer, bar, elapsed)
                if done is None:
                    break
                self._maybe_evaluate(run, done[1])
                self._maybe_save(run)
                elapsed = run.clock.cpu if cfg.budget_clock == "cpu" else run.clock.wall
                reason = self._stop_reason(elapsed)
        except KeyboardInterrupt:
            self.state.stop_reason = "interrupted"
            # Ctrl-C can land after the optimizer applied a step and before the
            # step was counted: the weights hold that step, so count it
            counted = int(self.optimizer.iterations.numpy())
            if counted == self.state.iteration + 1:
                self.state.iteration = counted
            logger.warning(
                "training interrupted at iteration %d; saving a snapshot",
                self.state.iteration,
            )
        finally:
            producer.close()
            if bar is not None:
                bar.close()

    def _stop_reason(self, elapsed: float) -> str | None:
        """Return why training stops before the next step (``None``: it goes on)."""
        cfg = self.train_config
        if (
            cfg.max_iterations is not None
            and self.state.iteration >= cfg.max_iterations
        ):
            return "max_iterations"
        if cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s:
            return "time_budget"
        if self._stop.is_set():
            return "stop_requested"
        if self.stop_file is not None and self.stop_file.exists():
            logger.warning(
                "%s appeared: stopping at iteration %d (saving a snapshot)",
                self.stop_file,
                self.state.iteration,
            )
            self._stop.set()
            return "stop_requested"
        return None

    def _step(
        self, run: _Run, producer: _BatchProducer, bar: Any, elapsed: float
    ) -> tuple[np.ndarray, float] | None:
        """Do one train step; ``(losses, learning rate)``, or ``None`` if it diverged."""
        from ._tf import tensorflow as tf

        cfg, clock = self.train_config, run.clock
        it = self.state.iteration
        progress = max(
            it / cfg.max_iterations if cfg.max_iterations else 0.0,
            elapsed / cfg.time_budget_s if cfg.time_budget_s else 0.0,
        )
        lr = learning_rate_at(cfg, it, progress)
        # the first steps of a run trace the graph: not counted in the time budget
        warmup = (
            clock.paused() if run.steps < WARMUP_STEPS else contextlib.nullcontext()
        )
        with warmup:
            crops, t = producer.get()
            losses = self._train_step(crops, *t, tf.constant(lr, tf.float32))
            values = np.array([float(v) for v in losses])
        if not np.isfinite(values[0]):
            self.state.stop_reason = "diverged"
            logger.error(
                "training diverged at iteration %d (loss %s); the last snapshot "
                "is kept, lower the learning rate",
                it + 1,
                values[0],
            )
            return None
        self.state.iteration = it = it + 1
        run.acc += values
        run.n_acc += 1
        run.steps += 1
        self.state.elapsed_wall_s, self.state.elapsed_cpu_s = clock.wall, clock.cpu
        logs = {
            "loss": values[0],
            "scoremap_loss": values[1],
            "locref_loss": values[2],
            "learning_rate": lr,
            "elapsed_wall_s": self.state.elapsed_wall_s,
            "elapsed_cpu_s": self.state.elapsed_cpu_s,
        }
        _update_bar(bar, run.steps)
        if it % 10 == 0:
            bar.set_postfix(_bar_postfix(cfg, elapsed, values[0], lr))
        for cb in self.callbacks:
            cb.on_step(it, logs)
        return values, lr

    def _maybe_evaluate(self, run: _Run, lr: float) -> None:
        """Add a ``learning_stats.csv`` row and the test error when they are due.

        A row every ``log_interval`` iterations, and one with the test error every
        ``eval_interval``. Every row's losses, whatever added it (these two, a
        snapshot, the end), are the mean over the steps since the previous row, so
        that the loss column means one thing.
        """
        cfg, it = self.train_config, self.state.iteration
        test_due = bool(
            run.test is not None and cfg.eval_interval and it % cfg.eval_interval == 0
        )
        if not (test_due or it % cfg.log_interval == 0):
            return
        row = self._row(it, run.acc / run.n_acc, lr)
        run.acc[:] = 0
        run.n_acc = 0
        if test_due:
            with run.clock.paused():  # not counted in the time budget
                self._evaluate_test(it, *run.test, row)
            run.evaluated_at = it
        row["elapsed_wall_s"], row["elapsed_cpu_s"] = run.clock.wall, run.clock.cpu
        self.state.history.append(row)
        self._write_learning_stats()

    def _maybe_save(self, run: _Run) -> None:
        """Save a snapshot every ``save_interval`` iterations or ``save_interval_s``."""
        cfg, it = self.train_config, self.state.iteration
        due = cfg.save_interval and it % cfg.save_interval == 0
        due_s = (
            cfg.save_interval_s is not None
            and run.clock.wall - self._last_save_wall >= cfg.save_interval_s
        )
        if due or due_s:
            self._save_snapshot(run.clock)
            run.saved_at = it
            self._add_snapshot_row(run)

    def _finish(self, run: _Run) -> None:
        """Finish: final test error, snapshot, history, callbacks.

        The test error is measured for the last snapshot whether the budget was used
        or training was stopped (the Stop button, ``request_stop``, Ctrl-C), so that
        every run ends with a snapshot whose error is known; a second Ctrl-C during
        that evaluation skips it (the snapshot is still saved).
        """
        it, clock = self.state.iteration, run.clock
        reason = self.state.stop_reason
        due = reason in ("max_iterations", "time_budget") or (
            reason in ("stop_requested", "interrupted") and run.steps > 0
        )
        if due and run.test is not None and run.evaluated_at != it and it > 0:
            mean = (
                run.acc / run.n_acc if run.n_acc else np.full(len(self._LOSSES), np.nan)
            )
            last = self.state.history[-1] if self.state.history else None
            lr = float(np.asarray(self.optimizer.learning_rate))
            row = last if last and last["iteration"] == it else self._row(it, mean, lr)
            try:
                with clock.paused():
                    self._evaluate_test(it, *run.test, row)
            except KeyboardInterrupt:
                logger.warning(
                    "test-set evaluation of iteration %d skipped (interrupted); "
                    "saving the snapshot without it",
                    it,
                )
            else:
                row["elapsed_wall_s"], row["elapsed_cpu_s"] = clock.wall, clock.cpu
                if row is not last:
                    self.state.history.append(row)
        if run.saved_at != it and reason != "diverged":
            self._save_snapshot(clock)
            self._add_snapshot_row(run)
        self.state.elapsed_wall_s, self.state.elapsed_cpu_s = clock.wall, clock.cpu
        self._write_learning_stats()
        for cb in self.callbacks:
            cb.on_train_end(self.state)

    def _log_rescaled_schedule(self, snap: Snapshot) -> None:
        """Say so when a resume trains towards another total than the snapshot's."""
        cfg = self.train_config
        before = (snap.meta.get("train_config") or {}).get("max_iterations")
        if not before or not cfg.max_iterations or before == cfg.max_iterations:
            return
        if cfg.lr_schedule:  # multi_step: by iteration, whatever the total
            return
        it = snap.iteration
        lr = learning_rate_at(cfg, it, min(it / cfg.max_iterations, 1.0))
        logger.info(
            "%s was trained towards %d iterations, this run towards %d: the "
            "learning-rate schedule was rescaled to the new total (the learning rate "
            "goes from %.3g to %.3g)",
            snap.meta_path.name,
            before,
            cfg.max_iterations,
            float(snap.meta.get("learning_rate", float("nan"))),
            lr,
        )

    def _add_snapshot_row(self, run: _Run) -> None:
        """Add a ``learning_stats.csv`` row with each snapshot (a kill keeps it)."""
        it = self.state.iteration
        if run.n_acc and not (
            self.state.history and self.state.history[-1]["iteration"] == it
        ):
            lr = float(np.asarray(self.optimizer.learning_rate))
            row = self._row(it, run.acc / run.n_acc, lr)
            run.acc[:] = 0
            run.n_acc = 0
            row["elapsed_wall_s"], row["elapsed_cpu_s"] = run.clock.wall, run.clock.cpu
            self.state.history.append(row)
            self._write_learning_stats()

    def _row(self, it: int, values: np.ndarray, lr: float | None) -> dict[str, Any]:
        return {
            "iteration": it,
            **{name: float(v) for name, v in zip(self._LOSSES, values, strict=True)},
            "learning_rate": lr,
            "test_mean_error_px": None,
            "test_rmse_px": None,
        }

    def _evaluate_test(self, it: int, images, keypoints, row: dict[str, Any]) -> None:
        self._recalibrate()
        result = self.evaluate(images, keypoints)
        metrics = {"iteration": it, **{k: result[k] for k in self._TEST_METRICS}}
        row["test_mean_error_px"] = metrics["mean_error_px"]
        row["test_rmse_px"] = metrics["rmse_px"]
        self.state.metrics = metrics
        message, shown = self._TEST_LOG
        logger.info(message, it, *(metrics[k] for k in shown))
        for cb in self.callbacks:
            cb.on_evaluate(it, metrics)


def pose_losses(
    logits: Any,
    locref: Any,
    scmap: Any,
    scmap_weights: Any,
    locref_target: Any,
    locref_weights: Any,
    *,
    delta: float,
) -> tuple[Any, Any]:
    """Score-map and location-refinement losses of a batch (TensorFlow tensors).

    Parameters
    ----------
    logits, locref
        The network's score-map logits ``(B, h, w, K)`` and location refinement
        ``(B, h, w, 2K)``.
    scmap, scmap_weights
        Target score maps and their weights (broadcast to ``logits``).
    locref_target, locref_weights
        Target offsets and their weights (non-zero where a keypoint is near).
    delta
        Huber loss threshold (:class:`TrainConfig`'s ``huber_delta``).

    Returns
    -------
    scoremap_loss, locref_loss : tensorflow.Tensor
        The weighted mean sigmoid cross-entropy, and the Huber loss summed over the
        weighted offsets per weighted location.
    """
    from ._tf import tensorflow as tf

    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=scmap, logits=logits)
    w = tf.broadcast_to(scmap_weights, tf.shape(ce))
    loss_s = tf.reduce_sum(ce * w) / tf.maximum(tf.reduce_sum(w), 1.0)
    err = tf.abs(locref - locref_target)
    huber = tf.where(err <= delta, 0.5 * tf.square(err), delta * (err - 0.5 * delta))
    n_loc = tf.reduce_sum(tf.cast(locref_weights > 0, tf.float32))
    loss_l = tf.reduce_sum(huber * locref_weights) / tf.maximum(n_loc, 1.0)
    return loss_s, loss_l


#: Steps at the start of each run left out of the progress bar's rate and ETA: the
#: first traces the train step (seconds, where a step then takes a fraction of one).
WARMUP_STEPS = 1


def _bar_postfix(
    cfg: TrainConfig, elapsed: float, loss: float, lr: float
) -> dict[str, str]:
    """Loss and learning rate, and with a time budget what is left of it (the ETA).

    Examples
    --------
    >>> cfg = TrainConfig(max_iterations=None, time_budget_s=600)
    >>> _bar_postfix(cfg, 75.0, 0.01234, 1e-3)
    {'loss': '0.0123', 'lr': '1.0e-03', 'budget left': '08:45'}
    """
    from tqdm.std import tqdm

    postfix = {"loss": f"{loss:.4f}", "lr": f"{lr:.1e}"}
    if cfg.time_budget_s is not None:
        left = max(cfg.time_budget_s - elapsed, 0.0)
        postfix["budget left"] = tqdm.format_interval(left)
    return postfix


def _update_bar(bar: Any, steps: int) -> None:
    """Count one step on the tqdm bar; warm-up steps count but are not timed.

    During the first :data:`WARMUP_STEPS` steps of a run the bar's clock is restarted
    (``unpause``) and the step is counted without a refresh, so the first rate and ETA
    it shows are measured on trained steps only (a resumed run once showed
    ``[00:06<1:02:28, 6.26s/it]`` after its first step, for a run of a few minutes).
    """
    if steps > WARMUP_STEPS:
        bar.update(1)
        return
    bar.unpause()  # the clock starts now: the time until here is not counted
    bar.update(1)  # less than ``mininterval`` since the restart: no refresh
    bar.last_print_n = bar.n  # the rate counts the steps from here on
    bar.unpause()


def dlc_net_type(backbone: str) -> str:
    """Return the ``net_type`` DeepLabCut expects in ``pose_cfg.yaml`` for a backbone.

    DeepLabCut names a model from ``net_type`` (``get_scorer_name``): ``resnet_50``
    → ``resnet50``, ``mobilenet_v2_0.35`` → ``mobnet_35``, and for EfficientNets the
    part after a hyphen (``efficientnet-b0`` → ``effnet_b0``). The ``net_type``
    written is the one DeepLabCut turns into the same short name posekit uses in
    file names (the backbone's ``dlc_netname``), whatever alias was chosen.

    Parameters
    ----------
    backbone
        A registered backbone name or alias.

    Returns
    -------
    str
        DeepLabCut's spelling of the network.

    Examples
    --------
    >>> dlc_net_type("efficientnet_lite0"), dlc_net_type("mobilenet_v2_0.35")
    ('efficientnet-lite0', 'mobilenet_v2_0.35')
    >>> dlc_net_type("resnet50")
    'resnet_50'
    """
    from .models.registry import get_backbone

    short = get_backbone(backbone).dlc_netname
    if short.startswith("effnet_"):
        return "efficientnet-" + short.removeprefix("effnet_")
    if short.startswith("mobnet_"):
        return f"mobilenet_v2_{int(short.removeprefix('mobnet_')) / 100:g}"
    if short.startswith("resnet") and short[6:].isdigit():
        return f"resnet_{short[6:]}"
    return backbone


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def _read_learning_stats(
    path: Path, columns: Sequence[str] = LEARNING_STATS_COLUMNS
) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            try:
                row: dict[str, Any] = {"iteration": int(raw["iteration"])}
            except (KeyError, ValueError):
                continue
            for k in columns[1:]:
                v = raw.get(k, "")
                row[k] = float(v) if v not in ("", None) else None
            rows.append(row)
    return rows
