"""Multi-animal targets, augmentation and the part-affinity graph: known answers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.augment import AugmentConfig
from posekit.engine.multianimal.augment import MultiAnimalAugmenter
from posekit.engine.multianimal.graph import (
    data_driven_edges,
    edge_costs,
    paf_graph,
    skeleton_edges,
)
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.targets import (
    make_multianimal_targets,
    make_paf,
    stack_channels,
)

NAN = np.nan


def test_paf_is_the_unit_vector_inside_the_limb_only():
    # a vertical limb from (20, 4) to (20, 36) on a stride-8 grid
    kp = np.array([[[[20.0, 4.0], [20.0, 36.0]]]])
    paf = make_paf(kp, [(0, 1)], (6, 6), stride=8, paf_width=4.0)[0]
    # cells whose centre is within 4 px of x = 20: columns 2 (x = 20) only
    inside = (paf[..., 0] != 0) | (paf[..., 1] != 0)
    assert inside[:, 2].tolist() == [True, True, True, True, True, False]
    assert not inside[:, [0, 1, 3, 4, 5]].any()
    np.testing.assert_allclose(paf[inside], [[0.0, 1.0]] * inside.sum())


def test_overlapping_limbs_average_and_missing_ends_draw_nothing():
    a = [[4.0, 20.0], [44.0, 20.0]]  # left to right
    b = [[44.0, 20.0], [4.0, 20.0]]  # the same segment, right to left
    c = [[4.0, 4.0], [NAN, NAN]]  # tail hidden: no field
    paf = make_paf(np.array([[a, b, c]]), [(0, 1)], (6, 6), stride=8, paf_width=2)[0]
    assert np.abs(paf).max() == 0.0  # opposite vectors cancel; c draws nothing
    paf = make_paf(np.array([[a, a]]), [(0, 1)], (6, 6), stride=8, paf_width=2)[0]
    assert paf[2, 2].tolist() == [1.0, 0.0]  # the average of two equal vectors


def test_scoremap_keeps_both_animals_and_locref_points_to_the_nearest():
    kp = np.array([[[[4.0, 4.0]], [[28.0, 4.0]]]])  # two animals, one part
    t = make_multianimal_targets(
        kp, [], (1, 4), stride=8, kind="gaussian", sigma=4.0, pos_dist_thresh=9.0
    )
    e = np.exp(-64 / 32)
    np.testing.assert_allclose(t.scoremap[0, 0, :, 0], [1.0, e, e, 1.0], rtol=1e-6)
    # the cell at x = 12 refines towards x = 4, the one at x = 20 towards x = 28
    dx = t.locref[0, 0, :, 0] * 7.2801
    np.testing.assert_allclose(dx, [0.0, -8.0, 8.0, 0.0], atol=1e-5)
    assert t.paf.shape == (1, 1, 4, 0)


def test_weights_zero_only_for_channels_no_animal_has():
    kp = np.array([[[[4.0, 4.0], [NAN, NAN]], [[NAN, NAN], [NAN, NAN]]]])
    # DeepLabCut's default: part 1, which no animal shows, is learnt as absent
    t = make_multianimal_targets(kp, [(0, 1)], (2, 2), stride=8)
    assert t.scoremap_weights.ravel().tolist() == [1.0, 1.0]
    assert not t.scoremap[..., 1].any()
    only = {"weigh_only_present_joints": True}
    t = make_multianimal_targets(kp, [(0, 1)], (2, 2), stride=8, **only)
    assert t.scoremap_weights.ravel().tolist() == [1.0, 0.0]
    # labelled but outside the crop (NaN after cropping): known absent, full weight
    labelled = np.array([[[True, True], [False, False]]])
    t = make_multianimal_targets(
        kp, [(0, 1)], (2, 2), stride=8, labelled=labelled, **only
    )
    assert t.scoremap_weights.ravel().tolist() == [1.0, 1.0]


def test_paf_of_a_limb_leaving_the_crop_is_drawn_from_the_uncropped_points():
    inside = np.array([[[[4.0, 4.0], [NAN, NAN]]]])
    moved = np.array([[[[4.0, 4.0], [100.0, 4.0]]]])
    t = make_multianimal_targets(
        inside, [(0, 1)], (1, 4), stride=8, paf_width=2, paf_keypoints=moved
    )
    assert t.paf[0, 0, :, 0].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_stack_channels_puts_unique_parts_in_the_first_row():
    out = stack_channels(np.zeros((2, 3, 1, 2)), np.ones((2, 1, 2)))
    assert out.shape == (2, 3, 2, 2)
    assert out[:, 0, 1].tolist() == [[1.0, 1.0]] * 2
    assert np.isnan(out[:, 1:, 1]).all()


def test_mirror_swaps_parts_within_animals_not_animals():
    layout = MultiAnimalLayout(("a", "b"), ("lear", "rear"))
    cfg = AugmentConfig.none((64, 64)).replace(
        flip_probability=1.0, animal_crop_fraction=0.0
    )  # the crop is the frame, mirrored
    aug = MultiAnimalAugmenter(cfg, layout, [("lear", "rear")])
    kp = np.array([[10.0, 20.0], [20.0, 20.0], [40.0, 30.0], [50.0, 30.0]])
    img = np.zeros((64, 64, 3), np.uint8)
    _, inside, labelled, moved = aug(img, kp, np.random.default_rng(0))
    # animals keep their slots: animal a, on the left, is on the right when mirrored
    assert moved[0, 0] > moved[2, 0]
    # the left ear of each animal is left of its right ear again (mirror relabelled)
    assert moved[0, 0] == pytest.approx(63 - 20.0)
    assert moved[1, 0] == pytest.approx(63 - 10.0)
    assert labelled.all()
    np.testing.assert_allclose(inside, moved)


def test_crop_centres_on_one_animal():
    layout = MultiAnimalLayout(("a", "b"), ("x",))
    cfg = AugmentConfig.none((32, 32)).replace(
        animal_crop_fraction=1.0, animal_jitter=0.0
    )
    aug = MultiAnimalAugmenter(cfg, layout)
    kp = np.array([[20.0, 20.0], [200.0, 200.0]])
    rng = np.random.default_rng(1)
    centred = set()
    for _ in range(20):
        _, inside, _, moved = aug(np.zeros((240, 240, 3), np.uint8), kp, rng)
        centred |= {int(np.flatnonzero(np.isfinite(inside[:, 0]))[0])}
        assert np.isfinite(inside[:, 0]).sum() == 1  # never the middle of both
        np.testing.assert_allclose(np.nanmean(inside, axis=0), [15.5, 15.5])
    assert centred == {0, 1}


def test_graph_all_pairs_pruned_above_105_and_from_the_skeleton():
    assert len(paf_graph(14)) == 91  # 91 pairs: kept whole
    rng = np.random.default_rng(0)
    animals = rng.normal(0, 10, (40, 16, 2)) + np.arange(16)[:, None] * 5
    pruned = paf_graph(16, animals)  # 120 pairs > 105: degree 6
    assert len(pruned) == 16 * 6 // 2
    assert len({b for e in pruned for b in e}) == 16  # every part linked
    with pytest.raises(ValueError, match="needs the labels"):
        paf_graph(16)
    assert skeleton_edges(["a", "b"], [["b", "a"], ["a", "b"]]) == [(0, 1)]


def test_data_driven_edges_prefer_rigid_links():
    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [10.0, 30.0]])
    kp = base + rng.normal(0, 0.1, (60, 4, 2))
    kp[:, 3] += rng.normal(0, 6.0, (60, 2))  # part 3 wobbles
    cost = edge_costs(kp)
    assert cost[0, 1] < cost[0, 3] and np.isinf(cost[2, 2])
    assert data_driven_edges(kp, 3) == [(0, 1), (0, 2), (1, 3)] or data_driven_edges(
        kp, 3
    ) == [(0, 1), (1, 2), (1, 3)]
    assert len(data_driven_edges(kp, 5)) == 5
