"""Training: a tiny network learns a bright blob; resume, stop, corrupt snapshots.

A tiny 4-convolution backbone (registered here) keeps each training to seconds; the
training code is the same for every backbone.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time

import cv2
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from posekit.engine.augment import AugmentConfig  # noqa: E402
from posekit.engine.inference import KerasPredictor  # noqa: E402
from posekit.engine.model_folder import ModelFolder, SnapshotError  # noqa: E402
from posekit.engine.models.pose_model import PoseModelConfig, load_pose_model  # noqa: E402
from posekit.engine.models.registry import register_backbone  # noqa: E402
from posekit.engine.training import (  # noqa: E402
    LEARNING_STATS_COLUMNS,
    TrainConfig,
    Trainer,
    TrainingCallback,
    default_crop_size,
    learning_rate_at,
    read_pose_cfg,
)


@register_backbone("tiny_test_cnn", dlc_netname="tiny", strides=(16,))
def tiny_test_cnn(
    input_shape, *, weights=None, output_stride=16, bn_momentum=0.99, name=None
):
    """4 stride-2 convolutions with BatchNorm (inputs in [0, 255])."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (16, 24, 32, 32):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(
            x
        )
        x = keras.layers.BatchNormalization(momentum=bn_momentum)(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name=name)


BODYPARTS = ("left", "right")
MODEL = PoseModelConfig(bodyparts=BODYPARTS, backbone="tiny_test_cnn", weights=None)


def blob_data(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """64×64 frames, a bright blob ("left") and a grey one ("right")."""
    rng = np.random.default_rng(seed)
    images, keypoints = [], []
    for _ in range(n):
        img = np.full((64, 64, 3), 30, np.uint8)
        pts = rng.uniform(10, 54, (2, 2)).round()
        cv2.circle(img, tuple(int(v) for v in pts[0]), 4, (255, 255, 255), -1)
        cv2.circle(img, tuple(int(v) for v in pts[1]), 4, (140, 140, 140), -1)
        images.append(img)
        keypoints.append(pts)
    return images, np.array(keypoints, float)


def config(**changes) -> TrainConfig:
    base = {
        "batch_size": 8,
        "crop_size": (64, 64),
        "max_iterations": 20,
        "warmup_iterations": 5,
        "eval_interval": 0,
        "save_interval": 10,
        "log_interval": 5,
        "bn_recalibration_batches": 4,
        "learning_rate": 3e-3,
        "augment": AugmentConfig(rotation_deg=10, scale_range=(0.9, 1.1)),
    }
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def data():
    return blob_data(48, 0), blob_data(8, 1)


@pytest.fixture(scope="module")
def run20(tmp_path_factory, data):
    """Train 20 iterations with snapshots at 10 and 20 (shared, copied before edits)."""
    (train_x, train_y), _ = data
    train_dir = tmp_path_factory.mktemp("run20")
    trainer = Trainer(MODEL, config(), train_dir, progress=False)
    state = trainer.fit(train_x, train_y)
    return trainer, state, train_dir


def test_tiny_model_learns(tmp_path, data) -> None:
    (train_x, train_y), (test_x, test_y) = data
    trainer = Trainer(
        MODEL,
        config(max_iterations=250, eval_interval=125, save_interval=0, log_interval=25),
        tmp_path,
        progress=False,
    )
    keras.utils.set_random_seed(0)
    state = trainer.fit(train_x, train_y, test_x, test_y)
    assert state.stop_reason == "max_iterations" and state.iteration == 250
    losses = [r["loss"] for r in state.history if r["loss"] is not None]
    assert losses[-1] < 0.5 * losses[0]
    curve = [r["test_mean_error_px"] for r in state.history if r["test_mean_error_px"]]
    assert len(curve) == 2
    # random guessing on a 64×64 frame is ~25 px off
    assert state.metrics["mean_error_px"] < 4.0, curve
    assert state.metrics["rmse_px"] >= state.metrics["mean_error_px"]
    # the saved snapshot predicts the same as the trainer's model
    model = load_pose_model(state.last_snapshot)
    again = trainer.evaluate(test_x, test_y)["predictions"]
    np.testing.assert_allclose(KerasPredictor(model)(test_x), again, atol=1e-4)


def test_outputs_of_a_run(run20) -> None:
    trainer, state, train_dir = run20
    assert state.stop_reason == "max_iterations" and state.iteration == 20
    names = sorted(p.name for p in train_dir.iterdir())
    for it in (10, 20):
        for suffix in (".keras", ".json", ".optimizer.npz"):
            assert f"snapshot-{it}{suffix}" in names
    assert not [n for n in names if n.startswith(".")]  # no temporary files left
    assert ModelFolder(
        train_dir
    ).snapshots() == [  # oldest first, like DLC's snapshotindex
        (10, train_dir / "snapshot-10.keras"),
        (20, train_dir / "snapshot-20.keras"),
    ]
    stats = pd.read_csv(train_dir / "learning_stats.csv")
    assert tuple(stats.columns) == LEARNING_STATS_COLUMNS
    assert stats["iteration"].tolist() == [5, 10, 15, 20]
    model_cfg, train_cfg = read_pose_cfg(train_dir)
    assert model_cfg == trainer.model_config and train_cfg == trainer.train_config
    # adaptive defaults: only the input scale and the target radius were chosen
    assert model_cfg.replace(input_scale=1.0, sigma=8.5, pos_dist_thresh=17.0) == MODEL
    meta = json.loads((train_dir / "snapshot-20.json").read_text())
    assert meta["iteration"] == 20 and meta["optimizer"]["iterations"] == 20
    assert meta["model_config"]["bodyparts"] == list(BODYPARTS)


def test_resume_continues_iterations_and_optimizer(run20, tmp_path, data) -> None:
    first, _, src = run20
    (train_x, train_y), _ = data
    shutil.copytree(src, tmp_path, dirs_exist_ok=True)
    # resuming at the limit restores the optimizer exactly and does no step
    same = Trainer(MODEL, config(), tmp_path, progress=False)
    state = same.fit(train_x, train_y)
    assert state.start_iteration == state.iteration == 20
    for a, b in zip(same.optimizer.variables, first.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # continuing to 30: the counter goes on, the history is kept
    more = Trainer(
        MODEL, config(max_iterations=30, max_snapshots=2), tmp_path, progress=False
    )
    state = more.fit(train_x, train_y)
    assert state.start_iteration == 20 and state.iteration == 30
    assert int(more.optimizer.iterations.numpy()) == 30
    assert [it for it, _ in ModelFolder(tmp_path).snapshots()] == [20, 30]  # 10 pruned
    assert not (tmp_path / "snapshot-10.keras").exists()
    stats = pd.read_csv(tmp_path / "learning_stats.csv")
    assert stats["iteration"].tolist() == [5, 10, 15, 20, 25, 30]
    assert stats["elapsed_wall_s"].is_monotonic_increasing


def test_corrupt_snapshot_is_skipped(run20, tmp_path, data, caplog) -> None:
    _, _, src = run20
    (train_x, train_y), _ = data
    shutil.copytree(src, tmp_path, dirs_exist_ok=True)
    latest = tmp_path / "snapshot-20.keras"
    latest.write_bytes(latest.read_bytes()[:2000])  # truncated
    # a model written without its metadata (killed while saving)
    shutil.copy(tmp_path / "snapshot-10.keras", tmp_path / "snapshot-25.keras")
    with caplog.at_level(logging.WARNING, logger="posekit"):
        snap = ModelFolder(tmp_path).latest()
    assert snap is not None and snap.iteration == 10
    assert "skipping snapshot snapshot-20.json" in caplog.text
    assert "checksum" in caplog.text
    assert "skipping snapshot-25.keras: no metadata" in caplog.text
    state = Trainer(MODEL, config(max_iterations=12), tmp_path, progress=False).fit(
        train_x, train_y
    )
    assert state.start_iteration == 10 and state.iteration == 12


def test_leftovers_of_a_killed_run_are_removed_on_restart(
    run20, tmp_path, data, caplog
) -> None:
    _, _, src = run20
    (train_x, train_y), _ = data
    shutil.copytree(src, tmp_path, dirs_exist_ok=True)
    # what a SIGKILL can leave: half-written temporary files of atomic writes ...
    temps = [
        ".snapshot-25.keras.k2j4h1.keras",
        ".snapshot-25.optimizer.npz.x8a.npz",
        ".snapshot-25.json.q1w2.json",
        ".learning_stats.csv.a1b2.csv",
        ".pose_cfg.yaml.zz9.yaml",
    ]
    for name in temps:
        (tmp_path / name).write_bytes(b"half")
    # ... files of an older snapshot whose pruning was cut short (metadata deleted
    # first), and a newer model whose metadata was never written
    shutil.copy(tmp_path / "snapshot-10.keras", tmp_path / "snapshot-5.keras")
    shutil.copy(
        tmp_path / "snapshot-10.optimizer.npz", tmp_path / "snapshot-5.optimizer.npz"
    )
    shutil.copy(tmp_path / "snapshot-10.keras", tmp_path / "snapshot-25.keras")
    (tmp_path / ".notes.txt").write_text("not ours")
    with caplog.at_level(logging.INFO, logger="posekit"):
        state = Trainer(MODEL, config(max_iterations=20), tmp_path, progress=False).fit(
            train_x, train_y
        )
    assert state.start_iteration == 20
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & {*temps, "snapshot-5.keras", "snapshot-5.optimizer.npz"}
    assert {"snapshot-25.keras", ".notes.txt"} <= names  # left alone
    assert [it for it, _ in ModelFolder(tmp_path).snapshots()] == [10, 20]
    assert "removed 7 file(s) an interrupted run left" in caplog.text


def test_resume_with_other_bodyparts_is_a_clear_error(run20, tmp_path, data) -> None:
    _, _, src = run20
    shutil.copytree(src, tmp_path, dirs_exist_ok=True)
    (train_x, train_y), _ = data
    other = MODEL.replace(bodyparts=("left", "nose"))
    with pytest.raises(SnapshotError, match="bodyparts") as info:
        Trainer(other, config(), tmp_path, progress=False).fit(train_x, train_y)
    assert "resume=False" in str(info.value)


class _WeightsAtStart(TrainingCallback):
    """Keep the network's weights as they are before the first step."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.weights: list[np.ndarray] = []

    def on_train_begin(self, state) -> None:
        self.weights = [np.array(w) for w in self.trainer.model.get_weights()]


def _start(trainer: Trainer, train_x, train_y, cb: _WeightsAtStart):
    cb.trainer = trainer
    trainer.callbacks.append(cb)
    return trainer.fit(train_x, train_y)


def test_init_weights_starts_a_fresh_run_from_a_snapshot(run20, tmp_path, data):
    _, _, src = run20
    (train_x, train_y), _ = data
    snap = src / "snapshot-20.keras"
    trained = load_pose_model(snap).get_weights()
    cb = _WeightsAtStart()
    trainer = Trainer(
        MODEL, config(max_iterations=3), tmp_path / "a", progress=False,
        init_weights=snap.with_suffix(".json"),
    )  # fmt: skip
    state = _start(trainer, train_x, train_y, cb)
    assert state.start_iteration == 0 and state.iteration == 3  # a new run
    for a, b in zip(cb.weights, trained, strict=True):
        np.testing.assert_array_equal(a, b)
    pose_cfg = (tmp_path / "a" / "pose_cfg.yaml").read_text()
    assert f"init_weights: {snap.with_suffix('')}" in pose_cfg
    # without init_weights: the backbone's (here random) weights, far from the snapshot
    cold = _WeightsAtStart()
    _start(
        Trainer(MODEL, config(max_iterations=1), tmp_path / "b", progress=False),
        train_x, train_y, cold,
    )  # fmt: skip
    assert max(np.abs(a - b).max() for a, b in zip(cold.weights, trained, strict=True)) > 0.05  # fmt: skip
    # resuming keeps the run's own weights, not the snapshot it started from
    own = load_pose_model(tmp_path / "a" / "snapshot-3.keras").get_weights()
    again = _WeightsAtStart()
    state = _start(
        Trainer(
            MODEL, config(max_iterations=5), tmp_path / "a", progress=False,
            init_weights=snap,
        ),
        train_x, train_y, again,
    )  # fmt: skip
    assert state.start_iteration == 3
    for a, b in zip(again.weights, own, strict=True):
        np.testing.assert_array_equal(a, b)
    # a snapshot of another network is a clear error before any step
    other = MODEL.replace(bodyparts=("left", "right", "nose"))
    with pytest.raises(SnapshotError, match="does not fit the network"):
        Trainer(other, config(), tmp_path / "c", progress=False, init_weights=snap).fit(
            train_x, np.concatenate([train_y, train_y[:, :1]], axis=1)
        )


def test_request_stop_from_another_thread_saves(tmp_path, data) -> None:
    (train_x, train_y), _ = data
    started = threading.Event()

    class Signal(TrainingCallback):
        events: list[str] = []

        def on_train_begin(self, state):
            self.events.append("begin")

        def on_step(self, iteration, logs):
            if iteration == 3:
                started.set()

        def on_snapshot(self, iteration, path):
            self.events.append(f"snapshot-{iteration}")

        def on_train_end(self, state):
            self.events.append("end")

    signal = Signal()
    trainer = Trainer(
        MODEL,
        config(max_iterations=100_000, save_interval=0),
        tmp_path,
        callbacks=[signal],
        progress=False,
    )
    stopper = threading.Thread(
        target=lambda: (started.wait(60), trainer.request_stop())
    )
    stopper.start()
    state = trainer.fit(train_x, train_y)
    stopper.join()
    assert state.stop_reason == "stop_requested"
    assert 3 <= state.iteration < 1000
    assert state.last_snapshot == tmp_path / f"snapshot-{state.iteration}.keras"
    load_pose_model(state.last_snapshot)
    assert signal.events == ["begin", f"snapshot-{state.iteration}", "end"]


def test_stop_file_stops_a_training_in_another_thread_and_saves(tmp_path, data) -> None:
    """The stop-request file (another process's Stop) stops as Ctrl-C does."""
    (train_x, train_y), _ = data
    started = threading.Event()

    class Signal(TrainingCallback):
        def on_step(self, iteration, logs):
            if iteration == 3:
                started.set()

    stop_file = tmp_path / "stop-please"
    trainer = Trainer(
        MODEL,
        config(max_iterations=100_000, save_interval=0),
        tmp_path / "train",
        callbacks=[Signal()],
        progress=False,
        stop_file=stop_file,
    )
    box: list = []
    worker = threading.Thread(target=lambda: box.append(trainer.fit(train_x, train_y)))
    worker.start()
    assert started.wait(120), "training did not start"
    stop_file.write_text("stop")
    worker.join(120)
    assert not worker.is_alive(), "the stop file did not stop the training"
    (state,) = box
    assert state.stop_reason == "stop_requested"
    assert 3 <= state.iteration < 1000
    assert (
        state.last_snapshot == tmp_path / "train" / f"snapshot-{state.iteration}.keras"
    )
    load_pose_model(state.last_snapshot)


def test_keyboard_interrupt_saves_and_returns(run20, tmp_path, data) -> None:
    (train_x, train_y), _ = data
    shutil.copytree(run20[2], tmp_path, dirs_exist_ok=True)  # old snapshots 10, 20

    class Interrupt(TrainingCallback):
        def on_step(self, iteration, logs):
            if iteration == 4:
                raise KeyboardInterrupt

    trainer = Trainer(
        MODEL,
        config(max_iterations=1000, save_interval=0),
        tmp_path,
        callbacks=[Interrupt()],
        progress=False,
    )
    state = trainer.fit(train_x, train_y, resume=False)  # fresh: old ones removed
    assert state.stop_reason == "interrupted" and state.iteration == 4
    assert ModelFolder(tmp_path).latest().iteration == 4
    assert sorted(p.name for p in tmp_path.glob("snapshot-*.keras")) == [
        "snapshot-4.keras"
    ]


def test_ctrl_c_inside_a_step_leaves_a_snapshot_that_resumes(tmp_path, data) -> None:
    """Ctrl-C after the optimizer applied a step, before it was counted.

    The snapshot used to record iteration N with an optimizer that counted N + 1, and
    every later run refused it ("iteration 394 but the optimizer counted 395").
    """
    (train_x, train_y), _ = data
    trainer = Trainer(
        MODEL, config(max_iterations=1000, save_interval=0), tmp_path, progress=False
    )
    make_step = trainer._make_train_step

    def make_cut_short():
        step = make_step()

        def cut_short(*args):
            out = step(*args)  # the weights and the optimizer's count moved on
            if int(trainer.optimizer.iterations.numpy()) == 5:
                raise KeyboardInterrupt
            return out

        return cut_short

    trainer._make_train_step = make_cut_short
    state = trainer.fit(train_x, train_y)
    assert state.stop_reason == "interrupted" and state.iteration == 5
    meta = json.loads((tmp_path / "snapshot-5.json").read_text())
    assert meta["iteration"] == 5
    again = Trainer(MODEL, config(max_iterations=8), tmp_path, progress=False)
    state = again.fit(train_x, train_y)
    assert state.start_iteration == 5 and state.iteration == 8


def test_resume_accepts_the_snapshot_an_older_ctrl_c_saved(run20, tmp_path, data):
    """A snapshot whose optimizer counted one step more still resumes; more is refused."""
    import hashlib

    (train_x, train_y), _ = data
    shutil.copytree(run20[2], tmp_path, dirs_exist_ok=True)
    meta_path = tmp_path / "snapshot-20.json"
    meta = json.loads(meta_path.read_text())
    opt_file = tmp_path / meta["optimizer_file"]

    def count_as(n):
        with np.load(opt_file) as npz:
            arrays = {k: npz[k] for k in npz.files}
        key = next(k for k, v in arrays.items() if v.shape == () and int(v) in (20, 21))
        arrays[key] = np.asarray(n, arrays[key].dtype)
        with open(opt_file, "wb") as fh:
            np.savez(fh, **arrays)
        meta["optimizer_sha256"] = hashlib.sha256(opt_file.read_bytes()).hexdigest()
        meta_path.write_text(json.dumps(meta))

    count_as(21)
    state = Trainer(MODEL, config(max_iterations=22), tmp_path, progress=False).fit(
        train_x, train_y
    )
    assert state.start_iteration == 20 and state.iteration == 22
    shutil.copytree(run20[2], tmp_path, dirs_exist_ok=True)
    for extra in tmp_path.glob("snapshot-22.*"):
        extra.unlink()
    count_as(25)
    with pytest.raises(SnapshotError, match="--fresh.*snapshot-20"):
        Trainer(MODEL, config(max_iterations=22), tmp_path, progress=False).fit(
            train_x, train_y
        )


def test_time_budget_stops(tmp_path, data) -> None:
    (train_x, train_y), _ = data
    cfg = config(max_iterations=None, time_budget_s=0.5, budget_clock="cpu")
    state = Trainer(MODEL, cfg, tmp_path, progress=False).fit(train_x, train_y)
    assert state.stop_reason == "time_budget"
    assert state.iteration >= 1 and state.elapsed_cpu_s >= 0.5


def test_config_validation_and_schedule() -> None:
    cfg = TrainConfig()
    assert cfg.batch_size == 8 and cfg.crop_size is None  # chosen by the Trainer
    assert cfg.learning_rate == 1e-3 and cfg.locref_loss_weight == 0.05
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert config(crop_size=(96, 64)).augment.crop_size == (96, 64)
    with pytest.raises(ValueError, match="never stop"):
        TrainConfig(max_iterations=None)
    with pytest.raises(ValueError, match="budget_clock"):
        TrainConfig(budget_clock="gpu")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    s = TrainConfig(warmup_iterations=10, min_learning_rate_fraction=0.1)
    assert learning_rate_at(s, 0, 0.0) == pytest.approx(1e-4)  # warm-up
    assert learning_rate_at(s, 9, 0.0) == pytest.approx(1e-3)
    assert learning_rate_at(s, 500, 0.5) == pytest.approx(0.55e-3)  # cosine midpoint
    assert learning_rate_at(s, 900, 1.0) == pytest.approx(1e-4)


def test_weight_decay_shrinks_the_kernels_and_is_recorded(tmp_path, data) -> None:
    (train_x, train_y), _ = data
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(weight_decay=-0.1)
    norms = {}
    for wd in (0.0, 30.0):  # 3e-3 × 30: each step shrinks the kernels by 9 %
        keras.utils.set_random_seed(0)
        trainer = Trainer(
            MODEL,
            config(max_iterations=10, save_interval=0, weight_decay=wd),
            tmp_path / f"wd{wd:g}",
            progress=False,
        )
        trainer.fit(train_x, train_y)
        kernels = [v for v in trainer.model.trainable_variables if "kernel" in v.path]
        norms[wd] = sum(float(np.sum(np.square(np.asarray(v)))) for v in kernels)
        assert type(trainer.optimizer).__name__ == ("AdamW" if wd else "Adam")
    assert norms[30.0] < 0.6 * norms[0.0], norms
    pose_cfg = (tmp_path / "wd30" / "pose_cfg.yaml").read_text()
    assert "optimizer: adamw" in pose_cfg and "weight_decay: 30.0" in pose_cfg
    # a resumed run rebuilds AdamW and restores its state without a step
    again = Trainer(
        MODEL,
        config(max_iterations=10, save_interval=0, weight_decay=30.0),
        tmp_path / "wd30",
        progress=False,
    )
    state = again.fit(train_x, train_y)
    assert state.start_iteration == state.iteration == 10
    assert type(again.optimizer).__name__ == "AdamW"


def test_default_crop_size_suits_the_frames() -> None:
    assert default_crop_size([(240, 320, 3)]) == (128, 128)  # the demo frames
    assert default_crop_size([(480, 640, 3)]) == (256, 256)  # openfield
    assert default_crop_size([(1080, 1920, 3), (480, 640, 3)]) == (256, 256)
    assert default_crop_size([(64, 64, 3)]) == (64, 64)
    # never beyond the frame; sides multiples of 32 (the largest backbone stride)
    assert default_crop_size([(100, 60, 3)]) == (64, 32)
    assert default_crop_size([(300, 400, 3), (120, 160, 3)]) == (64, 64)  # smallest
    for h in range(8, 1200, 37):
        for w in (h // 2 + 8, h, 2 * h):
            ch, cw = default_crop_size([(h, w)])
            assert 8 <= ch <= max(8, h) and 8 <= cw <= max(8, w)
            assert ch % 8 == 0 and cw % 8 == 0 and max(ch, cw) <= 256
            assert (ch % 32 == 0 or ch < 32) and (cw % 32 == 0 or cw < 32)
    with pytest.raises(ValueError, match="at least one"):
        default_crop_size([])


def test_automatic_crop_is_recorded_and_kept_on_resume(tmp_path, data) -> None:
    """crop_size=None: the Trainer picks the crop from the frames and records it.

    The crop goes into pose_cfg.yaml and the snapshot; a resume on other frames keeps
    it. (``adaptive=False``: the crop from the frame size alone; the adaptive crop,
    from the frames and the labels, is tested in test_training_defaults.py.)
    """
    (train_x, train_y), _ = data
    big = [cv2.resize(img, (160, 120)) for img in train_x]  # 120×160 frames
    big_y = train_y * np.array([160 / 64, 120 / 64])
    cfg = config(adaptive=False, crop_size=None, max_iterations=2, save_interval=0)
    assert cfg.crop_size is None
    trainer = Trainer(MODEL, cfg, tmp_path, progress=False)
    trainer.fit(big, big_y)
    assert trainer.train_config.crop_size == default_crop_size([(120, 160)])
    assert trainer.train_config.crop_size == (64, 64)
    assert trainer.augmenter.config.crop_size == (64, 64)
    _, saved = read_pose_cfg(tmp_path)
    assert saved.crop_size == (64, 64) and saved.augment.crop_size == (64, 64)
    meta = json.loads(ModelFolder(tmp_path).latest().meta_path.read_text())
    assert meta["train_config"]["crop_size"] == [64, 64]

    # resume on larger frames (their own default would be 128×128): same crop
    larger = [cv2.resize(img, (320, 240)) for img in train_x]
    assert default_crop_size(np.shape(img) for img in larger) == (128, 128)
    resumed = Trainer(MODEL, config(adaptive=False, crop_size=None, max_iterations=3), tmp_path,
                      progress=False)  # fmt: skip
    state = resumed.fit(larger, train_y * np.array([5.0, 3.75]))
    assert state.start_iteration == 2 and state.iteration == 3
    assert resumed.train_config.crop_size == (64, 64)
    assert read_pose_cfg(tmp_path)[1].crop_size == (64, 64)

    # a fresh start chooses from the frames again; a given crop is used as is
    fresh = Trainer(MODEL, config(adaptive=False, crop_size=None, max_iterations=1), tmp_path,
                    progress=False)  # fmt: skip
    fresh.fit(larger, train_y * np.array([5.0, 3.75]), resume=False)
    assert fresh.train_config.crop_size == (128, 128)
    given = Trainer(MODEL, config(adaptive=False, crop_size=(96, 96), max_iterations=2), tmp_path,
                    progress=False)  # fmt: skip
    given.fit(larger, train_y * np.array([5.0, 3.75]))
    assert given.train_config.crop_size == (96, 96)
    assert read_pose_cfg(tmp_path)[1].crop_size == (96, 96)


def test_snapshots_are_saved_by_time_as_well_by_default(tmp_path, data) -> None:
    """A crash loses at most a few minutes: snapshots by wall time, not only by count.

    The default is three minutes; a short interval shows the mechanism on slow steps
    that never reach an iteration interval.
    """
    assert TrainConfig().save_interval_s == 180.0
    assert TrainConfig(save_interval_s=None).save_interval_s is None
    with pytest.raises(ValueError, match="save_interval_s"):
        TrainConfig(save_interval_s=0)
    (train_x, train_y), _ = data

    class Slow(TrainingCallback):
        saved: list[int] = []

        def on_step(self, iteration, logs):
            time.sleep(0.1)

        def on_snapshot(self, iteration, path):
            self.saved.append(iteration)

    slow = Slow()
    cfg = config(max_iterations=14, save_interval=1000, save_interval_s=0.45)
    Trainer(MODEL, cfg, tmp_path, callbacks=[slow], progress=False).fit(
        train_x, train_y
    )
    # every ~5 steps of 0.1 s (the first step traces too), then at the end
    assert len(slow.saved) >= 3 and slow.saved[-1] == 14, slow.saved
    assert all(it % 1000 for it in slow.saved[:-1])


def test_stop_measures_the_test_error_of_the_saved_snapshot(tmp_path, data) -> None:
    """Stop (the app's button) and Ctrl-C end with a snapshot whose error is known."""
    (train_x, train_y), (test_x, test_y) = data

    class StopAt(TrainingCallback):
        def __init__(self, trainer_box, at, how):
            self.box, self.at, self.how = trainer_box, at, how
            self.evaluated: list[int] = []

        def on_step(self, iteration, logs):
            if iteration == self.at:
                if self.how == "interrupt":
                    raise KeyboardInterrupt
                self.box[0].request_stop()

        def on_evaluate(self, iteration, metrics):
            self.evaluated.append(iteration)

    for how, stop_reason in (("stop", "stop_requested"), ("interrupt", "interrupted")):
        box: list[Trainer] = []
        cb = StopAt(box, 7, how)
        trainer = Trainer(
            MODEL,
            config(max_iterations=1000, eval_interval=500, save_interval=0),
            tmp_path / how,
            callbacks=[cb],
            progress=False,
        )
        box.append(trainer)
        state = trainer.fit(train_x, train_y, test_x, test_y)
        assert state.stop_reason == stop_reason and state.iteration == 7
        assert cb.evaluated == [7]
        assert state.metrics["iteration"] == 7
        assert np.isfinite(state.metrics["mean_error_px"])
        meta = json.loads((tmp_path / how / "snapshot-7.json").read_text())
        assert meta["metrics"]["iteration"] == 7
        stats = pd.read_csv(tmp_path / how / "learning_stats.csv")
        last = stats.iloc[-1]
        assert last["iteration"] == 7 and np.isfinite(last["test_mean_error_px"])


def _bar_lines(text: str) -> list[tuple[int, float, float]]:
    """Return ``(iteration, elapsed s, ETA s)`` of each tqdm line showing an ETA."""

    def seconds(stamp: str) -> float:
        parts = [float(p) for p in stamp.split(":")]
        return sum(p * 60**i for i, p in enumerate(reversed(parts)))

    found = re.findall(r"(\d+)/\d+ \[([\d:]+)<([\d:]+)", text)
    return [(int(n), seconds(a), seconds(b)) for n, a, b in found]


def test_progress_bar_eta_leaves_out_the_warm_up_step(run20, tmp_path, data, capsys):
    """After a resume the first ETA is about the real rest, not 40 × the trace time.

    The first step of a run traces the train step (seconds); a resumed run once
    showed ``[00:06<1:02:28, 6.26s/it]`` after it, for a run of minutes.
    """
    (train_x, train_y), _ = data
    shutil.copytree(run20[2], tmp_path, dirs_exist_ok=True)  # resumes at 20
    trainer = Trainer(MODEL, config(max_iterations=80, save_interval=0), tmp_path)
    t0 = time.perf_counter()
    trainer.fit(train_x, train_y)
    wall = time.perf_counter() - t0
    lines = _bar_lines(capsys.readouterr().err)
    assert lines, "no progress line with an ETA"
    first_it, _, first_eta = lines[0]
    assert first_it > 20
    # generous: the whole fit (loading, tracing, saving) took `wall` seconds
    assert first_eta <= wall + 1, (lines[:3], wall)
    assert max(eta for _, _, eta in lines) <= 2 * wall + 1, (lines, wall)


def _deeplabcut_netname(net_type: str) -> str:
    """DeepLabCut 2.x/3.x ``get_scorer_name`` for the TensorFlow engine."""
    if "resnet" in net_type:
        return "resnet" + net_type.split("_")[-1]
    if "mobilenet" in net_type:
        return "mobnet_" + str(int(float(net_type.split("_")[-1]) * 100))
    if "efficientnet" in net_type:
        return "effnet_" + net_type.split("-")[1]
    raise ValueError(net_type)


def test_pose_cfg_net_type_gives_deeplabcut_our_scorer_name():
    from posekit.engine.models.registry import get_backbone, list_backbones
    from posekit.engine.training import dlc_net_type

    for name in list_backbones():
        if not get_backbone(name).dlc_netname.startswith(
            ("effnet", "mobnet", "resnet")
        ):
            continue  # a test backbone DeepLabCut has no family for
        net_type = dlc_net_type(name)
        assert _deeplabcut_netname(net_type) == get_backbone(name).dlc_netname, name


def test_time_budget_counts_train_steps_not_evaluations(tmp_path, data, capsys):
    """A requeued job must not spend its budget on start-up and evaluations (QA s15).

    Each test-set evaluation here takes 0.5 s, half the whole budget of
    1 s: when evaluations (or tracing the first step) counted, training stopped
    after the first evaluation. In a log file (stderr is not a terminal) the bar
    prints plain lines, with what is left of the budget.
    """
    (train_x, train_y), (test_x, test_y) = data
    cfg = config(max_iterations=None, time_budget_s=1.0, eval_interval=10)
    trainer = Trainer(MODEL, cfg, tmp_path, progress=True)
    evaluate = trainer.evaluate

    def slow_evaluate(*args, **kwargs):
        time.sleep(0.5)
        return evaluate(*args, **kwargs)

    trainer.evaluate = slow_evaluate
    state = trainer.fit(train_x, train_y, test_x, test_y)
    assert state.stop_reason == "time_budget"
    evaluated = [r for r in state.history if r["test_mean_error_px"] is not None]
    assert state.iteration > 10 and len(evaluated) >= 2, state.iteration
    assert 1.0 <= state.elapsed_wall_s < 1.5  # the steps' time only
    meta = json.loads((tmp_path / f"snapshot-{state.iteration}.json").read_text())
    assert meta["elapsed_wall_s"] == pytest.approx(state.elapsed_wall_s, abs=0.2)
    err = capsys.readouterr().err
    assert "\r" not in err and "budget left" in err


def test_training_images_read_on_demand_are_not_listed(tmp_path) -> None:
    """A lazy image list (engine._image_cache) reaches training as it is.

    ``_validate_data`` made it a list, which decoded and held every labelled frame:
    the bounded cache of ``load_training_set`` did not bound training (QA s15).
    """
    import cv2

    from posekit.engine._image_cache import ImageList

    images, keypoints = blob_data(6, seed=0)
    paths = []
    for k, img in enumerate(images):
        paths.append(tmp_path / f"img{k}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    lazy = ImageList(paths, cache_bytes=2 * images[0].nbytes)
    trainer = Trainer(MODEL, config(), tmp_path / "train", progress=False)
    kept, kp = trainer._validate_data(lazy, keypoints, "training")
    assert kept is lazy and kp.shape == keypoints.shape
    assert lazy.cached_bytes <= 2 * images[0].nbytes


def _png_files(folder, images) -> list:
    """Write RGB ``images`` as ``img<k>.png`` in ``folder``; their paths."""
    paths = []
    for k, img in enumerate(images):
        paths.append(folder / f"img{k}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return paths


class _FirstStep(Exception):
    """Raised where training would take its first step."""


@pytest.mark.parametrize("adaptive", [True, False])
def test_training_start_decodes_each_image_at_most_once(
    tmp_path, monkeypatch, adaptive
) -> None:
    """Beyond the cache, the start of training decodes each image at most once.

    The data check, the project defaults (adaptive) and the crop (not adaptive)
    each decoded every training image before the first step: 2 passes of a project
    larger than the image cache. Shapes now come from the file headers.
    """
    from collections import Counter

    from posekit.engine import _image_cache
    from posekit.engine._image_cache import ImageList

    images, keypoints = blob_data(24, seed=0)
    lazy = ImageList(_png_files(tmp_path, images), cache_bytes=2 * images[0].nbytes)
    counts: Counter = Counter()
    decode = _image_cache._decode

    def counted(path):
        counts[path.name] += 1
        return decode(path)

    monkeypatch.setattr(_image_cache, "_decode", counted)
    at_first_step: Counter = Counter()

    def first_step(self, run) -> None:
        at_first_step.update(counts)
        raise _FirstStep

    monkeypatch.setattr(Trainer, "_run_loop", first_step)
    trainer = Trainer(
        MODEL,
        config(crop_size=None, adaptive=adaptive),
        tmp_path / "train",
        progress=False,
    )
    train, test = lazy.take(range(20)), lazy.take(range(20, 24))
    with pytest.raises(_FirstStep):
        trainer.fit(train, keypoints[:20], test, keypoints[20:])
    assert max(at_first_step.values(), default=0) <= 1, at_first_step
    assert trainer.train_config.crop_size == default_crop_size([(64, 64, 3)])
    if adaptive:
        assert trainer.defaults is not None
        assert list(trainer.defaults.frame_sizes) == [(64, 64)]


def test_truncated_training_image_is_named_before_training(
    tmp_path, monkeypatch
) -> None:
    """A truncated PNG stops training before it starts, named, with what to do."""
    from posekit.engine._image_cache import ImageList
    from posekit.engine.io.dlc import LabelError

    images, keypoints = blob_data(8, seed=0)
    paths = _png_files(tmp_path, images)
    paths[5].write_bytes(paths[5].read_bytes()[: paths[5].stat().st_size // 2])
    lazy = ImageList(paths, cache_bytes=2 * images[0].nbytes, error=LabelError)

    def no_model(self, *args, **kwargs):
        raise AssertionError("the model was set up: the check came too late")

    monkeypatch.setattr(Trainer, "_setup_model", no_model)
    trainer = Trainer(MODEL, config(), tmp_path / "train", progress=False)
    with pytest.raises(LabelError) as info:
        trainer.fit(lazy, keypoints)
    message = str(info.value)
    assert str(paths[5]) in message and "truncated or corrupt" in message
    assert "extract_frames" in message and "create-training-dataset" in message
