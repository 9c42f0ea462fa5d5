"""Multi-animal network: PAF output, training, resuming, evaluation on assemblies."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from posekit.engine.models.pose_model import (
    PoseModelConfig,
    build_pose_model,
    load_pose_model,
    save_pose_model,
)
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.training import MultiAnimalConfig, MultiAnimalTrainer
from posekit.engine.training import TrainConfig

LAYOUT = MultiAnimalLayout(("a", "b"), ("head", "tail"), ("lever",))


def test_model_outputs_pafs_and_round_trips(tmp_path):
    cfg = PoseModelConfig(bodyparts=LAYOUT.bodyparts, weights=None, paf_edges=((0, 1),))
    model = build_pose_model(cfg)
    out = model(np.zeros((1, 64, 96, 3), "float32"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "scoremap": (1, 8, 12, 3),
        "locref": (1, 8, 12, 6),
        "paf": (1, 8, 12, 2),
    }
    back = load_pose_model(save_pose_model(model, tmp_path / "m.keras"))
    assert back.pose_config.paf_edges == ((0, 1),)
    np.testing.assert_allclose(
        back(np.ones((1, 32, 32, 3), "float32"))["paf"],
        model(np.ones((1, 32, 32, 3), "float32"))["paf"],
        atol=1e-6,
    )
    # single-animal configurations keep their keys (files written before stay alike)
    assert "paf_edges" not in PoseModelConfig(bodyparts=("a",)).to_dict()
    assert PoseModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="joins a bodypart to itself"):
        PoseModelConfig(bodyparts=("a", "b"), paf_edges=((1, 1),))
    with pytest.raises(ValueError, match="indices"):
        PoseModelConfig(bodyparts=("a", "b"), paf_edges=((0, 2),))


def _frames(n, seed=0):
    """Two dark bars with a red head, and a lever dot, per 96×96 frame."""
    rng = np.random.default_rng(seed)
    images, keypoints = [], []
    for _ in range(n):
        img = np.full((96, 96, 3), 190, np.uint8)
        pts = []
        for _ in range(2):
            c = rng.uniform(25, 70, 2)
            ang = rng.uniform(0, 2 * np.pi)
            d = 10 * np.array([np.cos(ang), np.sin(ang)])
            head, tail = c + d, c - d
            cv2.line(img, tuple(map(int, head)), tuple(map(int, tail)), (30, 30, 30), 5)
            cv2.circle(img, tuple(map(int, head)), 4, (220, 30, 30), -1)
            pts += [head, tail]
        lever = rng.uniform(10, 86, 2)
        cv2.circle(img, tuple(map(int, lever)), 3, (30, 30, 220), -1)
        images.append(img)
        keypoints.append([*pts, lever])
    return images, np.array(keypoints)


def test_trainer_trains_resumes_and_records_dlc_multianimal_keys(tmp_path):
    images, kp = _frames(10)
    multi = MultiAnimalConfig(LAYOUT, ((0, 1),))
    model_cfg = PoseModelConfig(
        bodyparts=LAYOUT.bodyparts, weights=None, paf_edges=multi.paf_edges
    )
    train_cfg = TrainConfig(
        batch_size=2,
        crop_size=(64, 64),
        max_iterations=3,
        eval_interval=3,
        save_interval=0,
        log_interval=1,
        bn_recalibration_batches=1,
    )
    trainer = MultiAnimalTrainer(model_cfg, multi, train_cfg, tmp_path, progress=False)
    state = trainer.fit(images[:8], kp[:8], images[8:], kp[8:])
    assert state.iteration == 3 and state.stop_reason == "max_iterations"
    assert {"map", "mar", "mean_error_px"} <= set(state.metrics)
    assert 0.0 <= state.metrics["map"] <= 1.0
    # the fields' loss has its own column, as DeepLabCut's "limb loss" line
    stats = pd.read_csv(tmp_path / "learning_stats.csv")
    assert list(stats.columns[:5]) == [
        "iteration",
        "loss",
        "scoremap_loss",
        "locref_loss",
        "paf_loss",
    ]
    assert len(stats) >= 3 and np.isfinite(stats["paf_loss"]).all()
    assert (stats["paf_loss"] > 0).all()
    cfg = yaml.safe_load((tmp_path / "pose_cfg.yaml").read_text())
    assert cfg["partaffinityfield_graph"] == [[0, 1]]
    assert cfg["partaffinityfield_predict"] is True
    assert cfg["uniquebodyparts"] == ["lever"] and cfg["individuals"] == ["a", "b"]
    assert cfg["pafwidth"] == trainer.paf_width() == 8.0  # one map cell at least
    saved = MultiAnimalConfig.from_dict(cfg["posekit"]["multianimal"])
    assert saved.layout == LAYOUT and saved.paf_width == 8.0
    # resuming continues the counter
    more = MultiAnimalTrainer(
        model_cfg, multi, train_cfg.replace(max_iterations=4), tmp_path, progress=False
    )
    state = more.fit(images[:8], kp[:8])
    assert state.start_iteration == 3 and state.iteration == 4
    resumed = pd.read_csv(tmp_path / "learning_stats.csv")  # earlier rows kept whole
    pd.testing.assert_series_equal(resumed["paf_loss"][:3], stats["paf_loss"][:3])
    result = more.evaluate(images[8:], kp[8:])
    assert len(result["predictions"]) == 2
    assert result["predictions"][0].animals.shape[1:] == (2, 3)
    assert result["predictions"][0].unique.shape == (1, 3)


def test_trainer_refuses_mismatched_models(tmp_path):
    multi = MultiAnimalConfig(LAYOUT, ((0, 1),))
    with pytest.raises(ValueError, match="paf_edges"):
        MultiAnimalTrainer(
            PoseModelConfig(bodyparts=LAYOUT.bodyparts, weights=None), multi
        )
    images, kp = _frames(2)
    trainer = MultiAnimalTrainer(
        PoseModelConfig(bodyparts=LAYOUT.bodyparts, weights=None, paf_edges=((0, 1),)),
        multi,
        TrainConfig(max_iterations=1, crop_size=(64, 64)),
        tmp_path,
        progress=False,
    )
    with pytest.raises(ValueError, match=r"\(n_images, 5, 2\)"):
        trainer.fit(images, kp[:, :3])
