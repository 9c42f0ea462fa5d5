"""The labeller's "not visible" marks reach multi-animal training (QA s18).

A single-animal training set reads the marks (``.posekit/visibility.json``) and the
trainer trains a marked point as absent: an empty score map with weight 1, under either
``weigh_only_present_joints``. Multi-animal training did not read them. It now does the
equivalent with DeepLabCut's multi-animal rule (``compute_scmap_weights``: the animals
share a bodypart's score map; ``weigh_only_present_joints: false``, its default, weighs
every channel, ``true`` only the channels some animal of the frame has): an animal's
marked part adds no peak to the shared map, and counts as known for the channel's
weight, so a channel no animal shows is trained as absent when one is marked.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from posekit.engine.augment import AugmentConfig
from posekit.engine.dataset import create_training_dataset, load_training_set
from posekit.engine.demo import make_demo_project
from posekit.engine.labels import update_visibility
from posekit.engine.models.pose_model import PoseModelConfig
from posekit.engine.multianimal.augment import MultiAnimalAugmenter
from posekit.engine.multianimal.labels import MultiAnimalLabelStore
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.training import MultiAnimalConfig, MultiAnimalTrainer
from posekit.engine.training import TrainConfig

SIZE = (320, 240)  # the demo's frames, (width, height)


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """Make a two-mouse demo whose snouts are hidden in three frames, some marked.

    - frame 0: mouse2's snout left empty and marked not visible (mouse1's placed);
    - frame 1: both snouts left empty, mouse2's marked;
    - frame 2: both snouts left empty, none marked.

    Returns the project, the training set (every frame in training) and mouse2's
    snout where it was in frame 0 before it was cleared.
    """
    project = make_demo_project(
        tmp_path_factory.mktemp("ma-marks"), n_animals=2, n_frames=24, n_labeled=4
    )
    store = MultiAnimalLabelStore(project, "session1")
    frames = store.frames
    hidden_at = store.point(frames[0], "mouse2/snout")
    store.clear_point(frames[0], "mouse2/snout")
    for frame in frames[1:3]:
        store.clear_point(frame, "mouse1/snout")
        store.clear_point(frame, "mouse2/snout")
    store.save()
    update_visibility(
        project,
        "session1",
        not_visible_add=[(frames[0], "mouse2/snout"), (frames[1], "mouse2/snout")],
    )
    create_training_dataset(project, train_fraction=1.0)
    ts = load_training_set(project, train_fraction=1.0)
    return SimpleNamespace(
        project=project, ts=ts, frames=frames, hidden_at=np.array(hidden_at)
    )


def _slot(ts, individual: str, bodypart: str) -> int:
    return ts.layout.slot_index(individual, bodypart)


def test_training_set_reads_the_marks_of_individuals(marked):
    ts = marked.ts
    rows = [ts.paths.index(f) for f in marked.frames[:2]]
    snout2 = _slot(ts, "mouse2", "snout")
    assert np.argwhere(ts.not_visible).tolist() == [[r, snout2] for r in sorted(rows)]
    absent = ts.absent("train")
    assert absent.shape == (len(ts.train_indices), ts.layout.n_slots)
    assert absent.sum() == 2
    assert ts.absent("test").shape == (0, ts.layout.n_slots)
    # what the trainer gets: the marked points are empty in the keypoints
    _, keypoints = ts.subset("train")
    assert np.isnan(keypoints[absent]).all()


def test_run_trainer_hands_the_marks_to_the_multianimal_trainer(marked):
    from posekit.engine.api import _run_trainer

    seen = {}

    def fit(images, keypoints, test_images, test_keypoints, *, resume, absent=None):
        seen["absent"] = absent
        return SimpleNamespace(
            metrics={},
            iteration=0,
            start_iteration=0,
            stop_reason="",
            last_snapshot=None,
        )

    trainer = SimpleNamespace(fit=fit, callbacks=[], train_dir=None)
    _run_trainer(trainer, marked.ts, resume=True, stop_event=None, trainer_hook=None)
    np.testing.assert_array_equal(seen["absent"], marked.ts.absent("train"))


def _targets(ts, rule):
    """Return the targets the train step gets for the training frames (whole)."""
    layout = ts.layout
    multi = MultiAnimalConfig(layout, ((0, 1),))
    width, height = SIZE
    trainer = MultiAnimalTrainer(
        PoseModelConfig(
            bodyparts=layout.bodyparts, weights=None, paf_edges=multi.paf_edges
        ),
        multi,
        TrainConfig(
            batch_size=1,
            crop_size=(height, width),
            max_iterations=1,
            augment=AugmentConfig.none((height, width)).replace(
                animal_crop_fraction=0.0
            ),
            weigh_only_present_joints=rule,
        ),
        "unused",
        progress=False,
    )
    images, keypoints = ts.subset("train")
    # as fit() sets it from absent=
    trainer._train_absent = trainer._check_absent(ts.absent("train"), keypoints)
    stride = trainer.model_config.head_stride
    _, targets = trainer._make_batch(
        images,
        keypoints,
        np.arange(len(keypoints)),
        np.random.default_rng(0),
        (height // stride, width // stride),
    )
    return targets, stride


@pytest.mark.parametrize(
    ("rule", "weights"),
    # snout's weight in frames 0, 1, 2 (see the fixture)
    [(None, [1.0, 1.0, 1.0]), (False, [1.0, 1.0, 1.0]), (True, [1.0, 1.0, 0.0])],
)
def test_hidden_part_of_an_individual_is_trained_as_absent(marked, rule, weights):
    ts = marked.ts
    targets, stride = _targets(ts, rule)
    snout = ts.bodyparts.index("snout")
    rows = [
        int(np.flatnonzero(ts.train_indices == ts.paths.index(f))[0])
        for f in marked.frames[:3]
    ]
    assert targets.scoremap_weights[rows, 0, 0, snout].tolist() == weights
    # frame 0: one peak, mouse1's; nothing where mouse2's hidden snout is
    x, y = (marked.hidden_at // stride).astype(int)
    snout_map = targets.scoremap[rows[0], ..., snout]
    assert snout_map.max() > 0.9
    assert snout_map[y, x] < 0.05
    # frames 1 and 2: no snout at all, an empty map
    assert not targets.scoremap[rows[1:], ..., snout].any()
    # the other bodyparts are placed: full weight, a peak per mouse
    others = [k for k in range(len(ts.bodyparts)) if k != snout]
    assert (targets.scoremap_weights[rows][..., others] == 1).all()


def test_a_mark_follows_the_mirror():
    layout = MultiAnimalLayout(("m1", "m2"), ("leftear", "rightear", "head"), ())
    augment = AugmentConfig.none((64, 64)).replace(
        animal_crop_fraction=0.0, flip_probability=1.0
    )
    aug = MultiAnimalAugmenter(augment, layout, [("leftear", "rightear")])
    nan = [np.nan, np.nan]
    kp = np.array([nan, nan, [30.0, 30], nan, nan, [40.0, 30]])
    absent = np.zeros(layout.n_slots, bool)
    absent[layout.slot_index("m2", "leftear")] = True
    _, _, labelled, _ = aug(
        np.zeros((64, 64, 3), np.uint8), kp, np.random.default_rng(0), absent
    )
    # mirrored: m2's marked left ear is its right ear now
    assert np.flatnonzero(labelled).tolist() == [
        layout.slot_index("m1", "head"),
        layout.slot_index("m2", "rightear"),
        layout.slot_index("m2", "head"),
    ]
    with pytest.raises(ValueError, match="absent must be"):
        aug(np.zeros((64, 64, 3), np.uint8), kp, np.random.default_rng(0), absent[:2])
