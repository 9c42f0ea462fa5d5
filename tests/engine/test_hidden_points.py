"""Points left empty in labelled frames are trained as absent, as in DeepLabCut (QA s17).

A bodypart left empty (NaN) in a labelled frame used to get zero loss weight, so a
hidden tongue was reported present above pcutoff in most frames of a side-view
project. DeepLabCut trains it as absent (``weigh_only_present_joints: false``, its
default): an empty score map with full weight. posekit now does the same, keeps the
old rule behind ``weigh_only_present_joints: true`` (``pose_cfg.yaml``), and trains the
labeller's "not visible" marks as absent under either rule.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import yaml

keras = pytest.importorskip("keras")

from posekit.engine.augment import AugmentConfig  # noqa: E402
from posekit.engine.dataset import (  # noqa: E402
    create_training_dataset,
    load_training_set,
)
from posekit.engine.inference import KerasPredictor  # noqa: E402
from posekit.engine.labels import LabelStore, update_visibility  # noqa: E402
from posekit.engine.models.pose_model import PoseModelConfig  # noqa: E402
from posekit.engine.models.registry import register_backbone  # noqa: E402
from posekit.engine.training import TrainConfig, Trainer, read_pose_cfg  # noqa: E402


@register_backbone("tiny_hidden_cnn", dlc_netname="tiny_hidden", strides=(16,))
def tiny_hidden_cnn(
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


NAN = np.nan


def _trainer(tmp_path, bodyparts, rule, flip_pairs=(), **augment) -> Trainer:
    """Build a trainer whose crops are the whole 64×64 frame (``augment``: changes)."""
    aug = AugmentConfig.none((64, 64)).replace(animal_crop_fraction=0.0, **augment)
    return Trainer(
        PoseModelConfig(bodyparts=bodyparts, backbone="tiny_hidden_cnn", weights=None),
        TrainConfig(
            batch_size=2,
            crop_size=(64, 64),
            max_iterations=1,
            augment=aug,
            weigh_only_present_joints=rule,
        ),
        tmp_path,
        flip_pairs=flip_pairs,
        progress=False,
    )


def _batch(trainer: Trainer, keypoints: np.ndarray, absent=None, images=None):
    """Return the targets the train step gets for each frame (the data pipeline)."""
    if images is None:
        images = [np.zeros((64, 64, 3), np.uint8)] * len(keypoints)
    trainer._train_absent = absent
    _, targets = trainer._make_batch(
        images,
        keypoints,
        np.arange(len(keypoints)),
        np.random.default_rng(0),
        (8, 8),  # 64 px at stride 8
    )
    return targets


@pytest.mark.parametrize(
    ("rule", "weights"),
    [(None, [1.0, 1.0, 1.0]), (False, [1.0, 1.0, 1.0]), (True, [1.0, 0.0, 1.0])],
)
def test_loss_weights_of_empty_and_not_visible_points(tmp_path, rule, weights):
    # "a" placed; "b" left empty; "c" left empty and marked not visible
    kp = np.array([[[30.0, 30.0], [NAN, NAN], [NAN, NAN]]] * 2)
    absent = np.array([[False, False, True]] * 2)
    t = _batch(_trainer(tmp_path, ("a", "b", "c"), rule), kp, absent)
    assert t.scoremap_weights[:, 0, 0].tolist() == [weights] * 2
    # absent: an empty score map and no location refinement
    assert not t.scoremap[..., 1:].any() and t.scoremap[..., 0].max() > 0.9
    assert not t.locref_weights[..., 2:].any() and t.locref_weights[..., :2].any()


def test_not_visible_mark_follows_the_mirror(tmp_path):
    # the left ear is marked not visible, the right ear is empty, unmarked
    kp = np.array([[[NAN, NAN], [NAN, NAN], [30.0, 30.0]]])
    pairs = [("leftear", "rightear")]
    bodyparts = ("leftear", "rightear", "snout")
    trainer = _trainer(tmp_path, bodyparts, True, pairs, flip_probability=1.0)
    t = _batch(trainer, kp, np.array([[True, False, False]]))
    # mirrored: the marked left ear is now the right ear's channel
    assert t.scoremap_weights[0, 0, 0].tolist() == [0.0, 1.0, 1.0]
    not_mirrored = _trainer(tmp_path, bodyparts, True, pairs)
    t = _batch(not_mirrored, kp, np.array([[True, False, False]]))
    assert t.scoremap_weights[0, 0, 0].tolist() == [1.0, 0.0, 1.0]


def test_point_leaving_the_crop_is_absent_under_both_rules(tmp_path):
    # a crop of 64×64 centred on the animal of a 128×128 frame: a and d leave it
    kp = np.array([[[2.0, 64.0], [64.0, 64.0], [NAN, NAN], [126.0, 64.0]]])
    images = [np.zeros((128, 128, 3), np.uint8)]
    for rule, weights in ((False, [1.0] * 4), (True, [1.0, 1.0, 0.0, 1.0])):
        trainer = _trainer(tmp_path, ("a", "b", "c", "d"), rule)
        trainer.augmenter.config = trainer.augmenter.config.replace(
            animal_crop_fraction=1.0, animal_jitter=0.0
        )
        t = _batch(trainer, kp, images=images)
        assert t.scoremap_weights[0, 0, 0].tolist() == weights
        assert not t.scoremap[..., [0, 2, 3]].any() and t.scoremap[..., 1].max() > 0.5


def test_bad_rule_and_bad_marks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="weigh_only_present_joints must be"):
        TrainConfig(weigh_only_present_joints="yes")
    trainer = _trainer(tmp_path, ("a", "b"), None)
    with pytest.raises(ValueError, match=r"absent must be \(n_images, K\)"):
        trainer.fit(
            [np.zeros((64, 64, 3), np.uint8)] * 2,
            np.full((2, 2, 2), 30.0),
            absent=np.zeros((2, 3), bool),
        )


# ------------------------------------------------------------ pose_cfg.yaml


def _fit(train_dir, iterations, rule=None, init_weights=None, resume=True):
    images = [np.full((64, 64, 3), 30, np.uint8)] * 4
    kp = np.array([[[20.0, 20.0], [NAN, NAN]], [[40.0, 40.0], [44.0, 30.0]]] * 2)
    trainer = Trainer(
        PoseModelConfig(bodyparts=("a", "b"), backbone="tiny_hidden_cnn", weights=None),
        TrainConfig(
            batch_size=2,
            crop_size=(64, 64),
            max_iterations=iterations,
            eval_interval=0,
            bn_recalibration_batches=0,
            weigh_only_present_joints=rule,
        ),
        train_dir,
        progress=False,
        init_weights=init_weights,
    )
    trainer.fit(images, kp, resume=resume)
    return trainer


def _pose_cfg(train_dir) -> dict:
    return yaml.safe_load((train_dir / "pose_cfg.yaml").read_text())


def test_pose_cfg_records_the_rule_and_runs_keep_it(tmp_path, caplog):
    first = tmp_path / "first"
    _fit(first, 2)
    cfg = _pose_cfg(first)
    assert cfg["weigh_only_present_joints"] is False  # DeepLabCut's key and default
    assert cfg["posekit"]["train"]["weigh_only_present_joints"] is False
    assert read_pose_cfg(first)[1].weigh_only_present_joints is False
    meta = json.loads((first / "snapshot-2.json").read_text())
    assert meta["train_config"]["weigh_only_present_joints"] is False

    # a DeepLabCut user edits pose_cfg.yaml and resumes: the edit wins, said
    cfg["weigh_only_present_joints"] = True
    (first / "pose_cfg.yaml").write_text(yaml.safe_dump(cfg))
    with caplog.at_level(logging.WARNING, logger="posekit"):
        trainer = _fit(first, 3)
    assert trainer.train_config.weigh_only_present_joints is True
    assert "snapshot-2.keras was trained with weigh_only_present_joints: false" in (
        caplog.text
    )
    assert _pose_cfg(first)["weigh_only_present_joints"] is True
    snap3 = first / "snapshot-3.json"
    assert json.loads(snap3.read_text())["train_config"]["weigh_only_present_joints"]

    # resuming again keeps it (nothing said)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert _fit(first, 4).train_config.weigh_only_present_joints is True
    assert "weigh_only_present_joints" not in caplog.text

    # the next iteration's training starts from that snapshot: its rule goes on
    refined = tmp_path / "refined"
    trainer = _fit(refined, 1, init_weights=first / "snapshot-4.keras")
    assert trainer.train_config.weigh_only_present_joints is True
    assert _pose_cfg(refined)["weigh_only_present_joints"] is True

    # an explicit value wins over the file, with a warning
    with caplog.at_level(logging.WARNING, logger="posekit"):
        trainer = _fit(first, 5, rule=False)
    assert trainer.train_config.weigh_only_present_joints is False
    assert "weigh_only_present_joints: false as asked" in caplog.text


def test_deeplabcut_pose_cfg_is_read(tmp_path):
    # the pose_cfg.yaml DeepLabCut's create_training_dataset wrote (no snapshots)
    dlc = {
        "all_joints": [[0], [1]],
        "all_joints_names": ["a", "b"],
        "net_type": "resnet_50",
        "dataset_type": "imgaug",
        "weigh_only_present_joints": True,
        "weigh_negatives": False,
    }
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "pose_cfg.yaml").write_text(yaml.safe_dump(dlc))
    assert _fit(folder, 1).train_config.weigh_only_present_joints is True
    assert _pose_cfg(folder)["weigh_only_present_joints"] is True
    # a file with only that line, before the first training
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "pose_cfg.yaml").write_text("weigh_only_present_joints: true\n")
    assert _fit(alone, 1).train_config.weigh_only_present_joints is True
    assert _pose_cfg(alone)["all_joints_names"] == ["a", "b"]  # posekit's file now
    # without the key: DeepLabCut's default
    plain = tmp_path / "plain"
    plain.mkdir()
    dlc.pop("weigh_only_present_joints")
    (plain / "pose_cfg.yaml").write_text(yaml.safe_dump(dlc))
    assert _fit(plain, 1).train_config.weigh_only_present_joints is False
    # a value DeepLabCut would not take either
    dlc["weigh_only_present_joints"] = "sometimes"
    (plain / "pose_cfg.yaml").write_text(yaml.safe_dump(dlc))
    with pytest.raises(ValueError, match="must be true or false"):
        _fit(plain, 2, resume=False)


def test_snapshot_of_an_older_posekit_goes_on_with_deeplabcuts_rule(tmp_path, caplog):
    old = tmp_path / "old"
    _fit(old, 1)
    # as an older posekit wrote them: no weigh_only_present_joints anywhere
    cfg = _pose_cfg(old)
    del (
        cfg["weigh_only_present_joints"],
        cfg["posekit"]["train"]["weigh_only_present_joints"],
    )
    (old / "pose_cfg.yaml").write_text(yaml.safe_dump(cfg))
    meta = json.loads((old / "snapshot-1.json").read_text())
    del meta["train_config"]["weigh_only_present_joints"]
    (old / "snapshot-1.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.INFO, logger="posekit"):
        trainer = _fit(old, 2)
    assert trainer.train_config.weigh_only_present_joints is False
    assert "trained by a posekit that gave points left empty zero weight" in (
        caplog.text
    )


# ------------------------------------------------------------ known answer


def _reaching(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """64×64 frames: a white "body" and, in every other frame, a red "tip" beside it.

    The tip is always 12 px right and 6 px below the body when it shows; in the
    other frames it is hidden (not drawn) and its label is left empty, as a
    labeller leaves a hidden tongue.
    """
    rng = np.random.default_rng(seed)
    images, keypoints = [], []
    for i in range(n):
        img = np.full((64, 64, 3), 30, np.uint8)
        body = rng.uniform(14, 40, 2).round()
        tip = body + [12.0, 6.0]
        cv2.circle(img, tuple(int(v) for v in body), 5, (255, 255, 255), -1)
        hidden = i % 2 == 1
        if not hidden:
            cv2.circle(img, tuple(int(v) for v in tip), 3, (200, 60, 60), -1)
        images.append(img)
        keypoints.append([body, [NAN, NAN] if hidden else tip])
    return images, np.array(keypoints, float)


def test_hidden_part_gets_a_low_likelihood_only_with_deeplabcuts_rule(tmp_path):
    train_x, train_y = _reaching(32, 0)
    test_x, test_y = _reaching(16, 1)
    hidden = np.isnan(test_y[:, 1, 0])
    likelihood = {}
    for rule in (False, True):
        trainer = Trainer(
            PoseModelConfig(
                bodyparts=("body", "tip"), backbone="tiny_hidden_cnn", weights=None
            ),
            TrainConfig(
                batch_size=8,
                crop_size=(64, 64),
                max_iterations=200,
                warmup_iterations=5,
                eval_interval=0,
                save_interval=0,
                save_interval_s=None,
                bn_recalibration_batches=2,
                learning_rate=3e-3,
                augment=AugmentConfig(rotation_deg=10, scale_range=(0.9, 1.1)),
                weigh_only_present_joints=rule,
            ),
            tmp_path / str(rule),
            progress=False,
        )
        keras.utils.set_random_seed(0)
        trainer.fit(train_x, train_y)
        pred = KerasPredictor(trainer.model)(test_x)
        likelihood[rule] = (pred[hidden, 1, 2].mean(), pred[~hidden, 1, 2].mean())
    absent, ignored = likelihood[False][0], likelihood[True][0]
    # measured 0.09 (absent) vs 0.38 (zero weight) at 250 iterations, seeds 0 and 1
    assert absent < 0.2 and ignored - absent > 0.12, likelihood
    # the visible tip is still found
    assert likelihood[False][1] > 2 * absent, likelihood


# ------------------------------------------------------------ project, marks


def test_training_set_reads_marks_and_warns_about_unfinished_frames(
    demo_project, caplog
):
    store = LabelStore(demo_project, "session1")
    frames = store.frames
    bodyparts = list(demo_project.bodyparts)
    hidden = (frames[0], bodyparts[1])  # marked not visible
    unfinished = (frames[1], bodyparts[2])  # left empty, not marked
    for frame, bp in (hidden, unfinished):
        store.clear_point(frame, bp)
    store.save()
    update_visibility(demo_project, "session1", not_visible_add=[hidden])
    with caplog.at_level(logging.WARNING, logger="posekit"):
        create_training_dataset(demo_project, train_fraction=1.0)
    warned = caplog.text
    assert "1 of 12 labelled frames have points left empty and not marked" in warned
    assert f"{unfinished[0]}: {unfinished[1]}" in warned
    assert f"{hidden[0]}: " not in warned  # marked: hidden, nothing to say
    assert "weigh_only_present_joints: false" in warned

    ts = load_training_set(demo_project, train_fraction=1.0)
    marks = np.argwhere(ts.not_visible)
    row = ts.paths.index(hidden[0])
    assert marks.tolist() == [[row, 1]]
    absent = ts.absent("train")
    assert absent.shape == (len(ts.train_indices), len(bodyparts))
    assert absent.sum() == 1 and ts.absent("test").shape == (0, len(bodyparts))

    # train_network hands the marks to the trainer (here a stand-in)
    from posekit.engine.api import _run_trainer

    seen = {}

    def fit(images, keypoints, test_images, test_keypoints, *, resume, absent=None):
        seen["absent"] = absent
        seen["keypoints"] = keypoints
        return SimpleNamespace(
            metrics={},
            iteration=0,
            start_iteration=0,
            stop_reason="",
            last_snapshot=None,
        )

    trainer = SimpleNamespace(fit=fit, callbacks=[], train_dir=None)
    _run_trainer(trainer, ts, resume=True, stop_event=None, trainer_hook=None)
    np.testing.assert_array_equal(seen["absent"], absent)
    assert np.isnan(seen["keypoints"][seen["absent"]]).all()


def test_bodypart_never_labelled_is_named(demo_project, caplog):
    # a bodypart added to config.yaml after labelling: no label in any frame
    cfg_path = demo_project.config_path
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["bodyparts"] = [*cfg["bodyparts"], "nose"]
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    from posekit.engine.project import load_project

    project = load_project(demo_project.path)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        create_training_dataset(project)
    assert "bodypart(s) ['nose'] have no label in any of the 12" in caplog.text
    # not also listed frame by frame
    assert "not marked not visible" not in caplog.text


def test_multianimal_channel_no_animal_shows_is_absent(tmp_path):
    from posekit.engine.multianimal.layout import MultiAnimalLayout
    from posekit.engine.multianimal.training import (
        MultiAnimalConfig,
        MultiAnimalTrainer,
    )

    layout = MultiAnimalLayout(("m1", "m2"), ("head", "tail"), ())
    multi = MultiAnimalConfig(layout, ((0, 1),))
    # both animals have a head; no animal shows its tail
    kp = np.array([[[20.0, 20.0], [NAN, NAN], [44.0, 40.0], [NAN, NAN]]])
    weights = {}
    for rule in (None, True):
        trainer = MultiAnimalTrainer(
            PoseModelConfig(
                bodyparts=layout.bodyparts, weights=None, paf_edges=multi.paf_edges
            ),
            multi,
            TrainConfig(
                batch_size=1,
                crop_size=(64, 64),
                max_iterations=1,
                augment=AugmentConfig.none((64, 64)).replace(animal_crop_fraction=0),
                weigh_only_present_joints=rule,
            ),
            tmp_path,
            progress=False,
        )
        _, t = trainer._make_batch(
            [np.zeros((64, 64, 3), np.uint8)], kp, [0], np.random.default_rng(0), (4, 4)
        )
        weights[rule] = t.scoremap_weights.ravel().tolist()
        assert not t.scoremap[..., 1].any()
    assert weights == {None: [1.0, 1.0], True: [1.0, 0.0]}


def test_train_network_trains_marked_points_as_absent(demo_project, caplog):
    from posekit.engine.api import train_network
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.project import load_project

    store = LabelStore(demo_project, "session1")
    bodyparts = list(demo_project.bodyparts)
    for frame in store.frames[:4]:
        store.clear_point(frame, bodyparts[0])
    store.save()
    marks = [(frame, bodyparts[0]) for frame in store.frames[:2]]
    update_visibility(demo_project, "session1", not_visible_add=marks)
    create_training_dataset(demo_project, test_frames=[store.frames[-1]])
    project = load_project(demo_project.path)  # the split's fraction comes first
    # the old rule, set as a DeepLabCut user sets it: one line in pose_cfg.yaml
    folder = ModelFolder.of(project, 1).path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pose_cfg.yaml").write_text("weigh_only_present_joints: true\n")
    with caplog.at_level(logging.INFO, logger="posekit"):
        train_network(
            project,
            backbone="mobilenet_v2_0.35",
            max_iterations=1,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
            eval_interval=0,
        )
    assert (
        "4 point(s) left empty in 4 of 11 training frames: the 2 marked not visible "
        "are trained as absent, the others not at all" in caplog.text
    )
    cfg = _pose_cfg(folder)
    assert cfg["weigh_only_present_joints"] is True
    assert cfg["posekit"]["train"]["weigh_only_present_joints"] is True
