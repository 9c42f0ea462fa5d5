"""learning_stats.csv survives a kill up to the last snapshot; resumes say what changed."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from posekit.engine.augment import AugmentConfig  # noqa: E402
from posekit.engine.models.pose_model import PoseModelConfig  # noqa: E402
from posekit.engine.models.registry import register_backbone  # noqa: E402
from posekit.engine.training import TrainConfig, Trainer, TrainingCallback  # noqa: E402


@register_backbone("tiny_stats_cnn", dlc_netname="tiny_stats", strides=(16,))
def tiny_stats_cnn(
    input_shape, *, weights=None, output_stride=16, bn_momentum=0.99, name=None
):
    """4 stride-2 convolutions (inputs in [0, 255])."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (8, 8, 16, 16):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name=name)


MODEL = PoseModelConfig(bodyparts=("a", "b"), backbone="tiny_stats_cnn", weights=None)


def _data(n: int = 8) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    images, points = [], []
    for _ in range(n):
        img = np.full((64, 64, 3), 30, np.uint8)
        pts = rng.uniform(10, 54, (2, 2)).round()
        for p, grey in zip(pts, (255, 140), strict=True):
            cv2.circle(img, tuple(int(v) for v in p), 4, (grey,) * 3, -1)
        images.append(img)
        points.append(pts)
    return images, np.array(points, float)


def _config(max_iterations: int) -> TrainConfig:
    return TrainConfig(
        batch_size=4,
        crop_size=(64, 64),
        max_iterations=max_iterations,
        warmup_iterations=2,
        eval_interval=0,
        save_interval=2,
        log_interval=1000,  # no row at the display interval: only with snapshots
        bn_recalibration_batches=0,
        learning_rate=3e-3,
        augment=AugmentConfig(rotation_deg=0, scale_range=(1.0, 1.0)),
    )


class _Killed(Exception):
    pass


class _KillAt(TrainingCallback):
    """Die in the middle of training, as ``kill -9`` would (no ``finally`` work)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_step(self, iteration, logs) -> None:  # noqa: D102
        if iteration == self.iteration:
            raise _Killed


def test_stats_rows_are_kept_with_each_snapshot_and_resume_logs_rescale(
    tmp_path, caplog
):
    images, points = _data()
    trainer = Trainer(
        MODEL, _config(20), tmp_path, progress=False, callbacks=[_KillAt(5)]
    )
    with pytest.raises(_Killed):
        trainer.fit(images, points)
    stats = pd.read_csv(tmp_path / "learning_stats.csv")
    assert stats["iteration"].tolist() == [2, 4]  # the snapshots before the kill
    assert stats["learning_rate"].notna().all() and (stats["learning_rate"] > 0).all()

    with caplog.at_level(logging.INFO, logger="posekit"):
        Trainer(MODEL, _config(8), tmp_path, progress=False).fit(
            images, points, images[:2], points[:2]
        )
    assert "learning-rate schedule was rescaled" in caplog.text
    assert "towards 20 iterations, this run towards 8" in caplog.text
    stats = pd.read_csv(tmp_path / "learning_stats.csv")
    assert stats["iteration"].tolist() == [2, 4, 6, 8]  # one row each
    assert stats["learning_rate"].notna().all()
    assert stats["test_mean_error_px"].notna().tolist() == [False, False, False, True]


def test_empty_training_set_says_what_to_do(tmp_path):
    trainer = Trainer(MODEL, _config(2), tmp_path, progress=False)
    with pytest.raises(ValueError, match="no labelled frames.*create-training-dataset"):
        trainer.fit([], np.zeros((0, 2, 2)))


class _Losses(TrainingCallback):
    """Keep every step's loss."""

    def __init__(self) -> None:
        self.loss: dict[int, float] = {}

    def on_step(self, iteration, logs) -> None:  # noqa: D102
        self.loss[iteration] = float(logs["loss"])


def test_every_stats_row_has_the_mean_loss_since_the_previous_row(tmp_path):
    """Display rows, test-error rows, snapshot rows: one loss definition (QA s18 #3).

    The test-error rows carried one step's loss and the display rows the mean since
    the previous display row, so the curve zigzagged.
    """
    images, points = _data()
    losses = _Losses()
    config = _config(12).replace(eval_interval=3, log_interval=5, save_interval=8)
    Trainer(MODEL, config, tmp_path, progress=False, callbacks=[losses]).fit(
        images, points, images[:2], points[:2]
    )
    stats = pd.read_csv(tmp_path / "learning_stats.csv")
    # rows: test error (3, 6, 9, 12), display (5, 10), snapshot (8)
    assert stats["iteration"].tolist() == [3, 5, 6, 8, 9, 10, 12]
    assert stats["test_mean_error_px"].notna().tolist() == [
        True, False, True, False, True, False, True
    ]  # fmt: skip
    previous = 0
    for it, loss in zip(stats["iteration"], stats["loss"], strict=True):
        steps = [losses.loss[i] for i in range(previous + 1, it + 1)]
        assert loss == pytest.approx(np.mean(steps), rel=1e-4), it
        previous = it


def test_the_automatic_test_interval_follows_displayiters() -> None:
    """``displayiters=100`` with ``maxiters=300``: test errors at 100, 200, 300."""
    from posekit.engine.api import _train_config_changes

    changes = _train_config_changes(max_iterations=300, log_interval=100)
    assert changes["eval_interval"] == 100  # was "auto", 60: rows the user never set
    assert _train_config_changes(max_iterations=300)["eval_interval"] == 60
    assert (
        _train_config_changes(max_iterations=5000, log_interval=50)["eval_interval"]
        == 1000
    )
