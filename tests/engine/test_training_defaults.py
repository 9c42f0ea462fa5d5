"""Defaults that adapt to the project: scale, crop, scale range, target radius, resume."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from posekit.engine.augment import AugmentConfig
from posekit.engine.models.pose_model import PoseModelConfig
from posekit.engine.training import (
    TrainConfig,
    Trainer,
    TrainingCallback,
    learning_rate_at,
)
from posekit.engine.training_defaults import (
    animal_sizes,
    default_rotation,
    default_sigma,
    orientation_spread_deg,
    project_defaults,
)


def _animals(n: int, size: float, offset: float = 20.0) -> np.ndarray:
    """``n`` frames of a 3-keypoint animal ``size`` px across."""
    base = np.array([[0.0, 0.0], [size, 0.3 * size], [0.5 * size, size]])
    return np.stack([base + offset + i for i in range(n)])


def test_one_size_openfield_like_keeps_the_openfield_defaults():
    d = project_defaults([(480, 640, 3)] * 4, _animals(4, 110), max_iterations=5000)
    assert d.input_scale == 1.0
    assert d.crop_size == (256, 256)
    assert d.scale_range == (0.75, 1.25)
    assert (d.sigma, d.pos_dist_thresh) == (8.5, 17.0)
    assert d.size_ratio == 1.0 and d.frame_sizes == ((480, 640),)


def test_two_frame_sizes_widen_the_scale_augmentation_to_cover_both():
    shapes = [(374, 416, 3)] * 4 + [(235, 320, 3)] * 4
    kp = np.concatenate([_animals(4, 130), _animals(4, 100)])
    d = project_defaults(shapes, kp, max_iterations=5000)
    assert d.size_ratio == pytest.approx(1.3)
    lo, hi = d.scale_range
    # each size's animal is also shown at the other size's scale
    assert lo <= 1 / 1.3 and hi >= 1.3
    assert d.crop_size[0] % 32 == 0 and d.crop_size[0] <= 235


def test_a_small_animal_is_enlarged_and_a_huge_one_shrunk():
    small = project_defaults([(240, 320, 3)] * 2, _animals(2, 20), max_iterations=5000)
    assert small.input_scale == 2.0  # at most 2×
    big = project_defaults([(1080, 1920, 3)] * 2, _animals(2, 700), max_iterations=5000)
    assert big.input_scale == 0.375  # 700 px × 0.375 = 262 px, within 40–320
    assert big.input_scale * 8 == int(big.input_scale * 8)


def test_target_radius_and_warmup_scale_with_the_budget():
    assert default_sigma(30) == 12.0 and default_sigma(30000) == 8.5
    short = project_defaults([(64, 64, 3)], _animals(1, 30), max_iterations=30)
    assert (short.sigma, short.pos_dist_thresh) == (12.0, 24.0)
    cfg = TrainConfig(max_iterations=30)
    # warm after 5 % of a 30-iteration run, not after 200 iterations
    assert learning_rate_at(cfg, 2, 2 / 30) == pytest.approx(cfg.learning_rate, 0.02)


def _turned(n: int, degrees: float, size: float = 60.0) -> np.ndarray:
    """``n`` frames of a 3-keypoint animal, frame i turned by ``i * degrees``."""
    base = np.array([[0.0, 0.0], [size, 0.0], [0.4 * size, 0.2 * size]])
    out = []
    for i in range(n):
        a = np.deg2rad(i * degrees)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(base @ rot.T + 200.0)
    return np.stack(out)


def test_rotation_follows_how_widely_the_labelled_animals_turn():
    shapes = [(480, 640, 3)] * 12
    side_view = project_defaults(shapes, _turned(12, 0.5), max_iterations=5000)
    assert side_view.rotation_deg == 25.0  # the old default: the animal keeps its way
    assert side_view.orientation_spread_deg < 5
    # facing every direction (a top view): every turn is shown
    top_view = project_defaults(shapes, _turned(12, 30.0), max_iterations=5000)
    assert top_view.rotation_deg == 180.0
    # in between: twice the circular standard deviation, rounded to 5 degrees
    spread = orientation_spread_deg(_turned(12, 6.0))
    assert 15 < spread < 25
    assert default_rotation(spread) == 5 * round(2 * spread / 5)
    assert orientation_spread_deg(np.full((3, 2, 2), np.nan)) is None


def test_mirroring_only_with_left_right_pairs():
    kp, shapes = _animals(4, 110), [(480, 640, 3)] * 4
    assert project_defaults(shapes, kp, max_iterations=50).flip_probability == 0.0
    paired = project_defaults(
        shapes, kp, max_iterations=50, flip_pairs=[("leftear", "rightear")]
    )
    assert paired.flip_probability == 0.5


def test_animal_sizes_ignore_frames_with_one_point():
    kp = np.array([[[0, 0], [40, 10]], [[5, 5], [np.nan, np.nan]]], float)
    np.testing.assert_array_equal(animal_sizes(kp), [40.0, np.nan])


class _StopAfter(TrainingCallback):
    def __init__(self, n: int) -> None:
        self.n, self.trainer = n, None

    def on_step(self, iteration, logs) -> None:
        if iteration >= self.n:
            self.trainer.request_stop()


def _fit(train_dir, max_iterations: int, stop_after: int | None = None, **model):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    kp = np.array([[[20.0, 20.0], [40.0, 30.0]]] * 2)
    stop = _StopAfter(stop_after or max_iterations)
    trainer = Trainer(
        PoseModelConfig(bodyparts=("a", "b"), weights=None, **model),
        TrainConfig(batch_size=2, max_iterations=max_iterations, eval_interval=0),
        train_dir,
        progress=False,
        callbacks=[stop],
    )
    stop.trainer = trainer
    trainer.fit(images, kp)
    return trainer


def test_chosen_values_are_recorded_and_kept_on_resume(tmp_path):
    # a run planned for 5000 iterations (sigma 8.5), stopped after 2
    first = _fit(tmp_path, 5000, stop_after=2)
    assert first.state.iteration == 2
    assert first.model_config.sigma == 8.5
    cfg = yaml.safe_load((tmp_path / "pose_cfg.yaml").read_text())
    assert cfg["sigma"] == 8.5 and cfg["pos_dist_thresh"] == 17.0
    assert cfg["posekit"]["defaults"]["iterations"] == 5000
    assert cfg["posekit"]["defaults"]["crop_size"] == [64, 64]
    # resumed with a 4-iteration budget, for which a fresh run takes sigma 12
    resumed = _fit(tmp_path, 4)
    assert resumed.state.start_iteration == 2 and resumed.state.iteration == 4
    assert resumed.model_config.sigma == 8.5
    assert resumed.train_config.crop_size == (64, 64)
    cfg = yaml.safe_load((tmp_path / "pose_cfg.yaml").read_text())
    assert cfg["sigma"] == 8.5 and cfg["posekit"]["defaults"]["iterations"] == 5000
    fresh = _fit(tmp_path / "fresh", 4)
    assert fresh.model_config.sigma == 12.0


def test_explicit_settings_are_not_adapted(tmp_path):
    t = _fit(tmp_path, 1, sigma=5.0, pos_dist_thresh=9.0)
    assert (t.model_config.sigma, t.model_config.pos_dist_thresh) == (5.0, 9.0)


def test_rotation_and_mirroring_are_recorded_and_kept_on_resume(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(6)]
    kp = _turned(6, 60.0, size=30.0) - 200.0 + 48.0  # turning every way, in frame

    def fit(max_iterations: int, folder=tmp_path, opt_in=True, **augment) -> Trainer:
        stop = _StopAfter(max_iterations)
        trainer = Trainer(
            PoseModelConfig(bodyparts=("a", "b", "c"), weights=None),
            TrainConfig(
                batch_size=2,
                max_iterations=max_iterations,
                eval_interval=0,
                augment=AugmentConfig(**augment),
                adaptive_augmentation=opt_in,
            ),
            folder,
            flip_pairs=[("b", "c")],
            progress=False,
            callbacks=[stop],
        )
        stop.trainer = trainer
        trainer.fit(images, kp)
        return trainer

    # by default DeepLabCut's augmentation is kept; the suggestion is recorded
    plain = fit(1, tmp_path / "plain", opt_in=False)
    aug = plain.train_config.augment
    assert (aug.rotation_deg, aug.flip_probability) == (25.0, 0.0)
    assert (plain.defaults.rotation_deg, plain.defaults.flip_probability) == (180, 0.5)
    # opted in: the suggestion is used
    first = fit(1)
    aug = first.train_config.augment
    assert (aug.rotation_deg, aug.flip_probability) == (180.0, 0.5)
    cfg = yaml.safe_load((tmp_path / "pose_cfg.yaml").read_text())
    assert cfg["posekit"]["defaults"]["rotation_deg"] == 180.0
    assert cfg["posekit"]["defaults"]["flip_probability"] == 0.5
    resumed = fit(2)  # the recorded augmentation continues
    assert resumed.state.start_iteration == 1
    assert resumed.train_config.augment.rotation_deg == 180.0
    assert resumed.train_config.augment.flip_probability == 0.5
    # settings given explicitly are kept
    mine = fit(1, tmp_path / "mine", rotation_deg=10.0, flip_probability=0.2)
    assert mine.train_config.augment.rotation_deg == 10.0
    assert mine.train_config.augment.flip_probability == 0.2
