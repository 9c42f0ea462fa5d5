"""``weigh_only_present_joints`` on multi-animal targets: DeepLabCut's weights.

QA s19: with the option on, the part-affinity fields kept weight 1 on every cell of
every limb, also for a limb that no animal of the frame has (an end left empty), so
the network was taught a zero field where the labels say nothing. DeepLabCut's
multi-animal dataset (``pose_multianimal_imgaug``) weighs only the cells of the limbs
drawn (both ends present), and the location refinement only near present keypoints.
"""

from __future__ import annotations

import numpy as np

from posekit.engine.multianimal.targets import make_multianimal_targets

NAN = np.nan
# a 4 × 6 grid of stride 8: cell centres x = 4, 12, …, 44 and y = 4, 12, 20, 28
MAP = (4, 6)
EDGES = [(0, 1), (1, 2), (0, 2)]


def _two_animals() -> np.ndarray:
    """``(1, 2, 3, 2)``: animal 0 has parts 0 and 1, animal 1 parts 1 and 2.

    Limb (0, 1) is drawn by animal 0 along row 0, limb (1, 2) by animal 1 along
    row 3; limb (0, 2) has an end missing on both animals.
    """
    a0 = [[4.0, 4.0], [36.0, 4.0], [NAN, NAN]]
    a1 = [[NAN, NAN], [4.0, 28.0], [36.0, 28.0]]
    return np.array([[a0, a1]])


def _targets(only: bool):
    return make_multianimal_targets(
        _two_animals(),
        EDGES,
        MAP,
        stride=8,
        kind="disk",
        pos_dist_thresh=9.0,
        paf_width=2.0,
        weigh_only_present_joints=only,
    )


def test_only_present_joints_weigh_the_drawn_limbs_cells_only():
    t = _targets(True)
    assert t.paf_weights.shape == (1, 4, 6, 6)
    w = t.paf_weights[0]
    drawn = np.zeros(MAP, bool)
    # within 2 px of the limb's line and between its ends (± 1 px): x = 4 … 36
    drawn[0, :5] = True
    np.testing.assert_array_equal(w[..., 0], drawn)  # limb (0, 1), dx
    np.testing.assert_array_equal(w[..., 1], drawn)  # and dy
    np.testing.assert_array_equal(w[..., 2], drawn[::-1])  # limb (1, 2): row 3
    np.testing.assert_array_equal(w[..., 3], drawn[::-1])
    assert not w[..., 4:].any()  # limb (0, 2): no animal has both ends
    # the weights cover the field exactly where it is drawn
    np.testing.assert_array_equal(w[..., 0] > 0, t.paf[0, ..., 0] != 0)


def test_without_the_option_every_cell_of_every_limb_weighs():
    t = _targets(False)
    assert t.paf_weights.shape == (1, 1, 1, 6)
    assert t.paf_weights.ravel().tolist() == [1.0] * 6
    assert not t.paf[..., 4:].any()  # limb (0, 2) is learnt as absent


def test_location_refinement_weighs_the_cells_near_present_keypoints_only():
    near = np.zeros((4, 6, 3), bool)
    near[0, 0, 0] = near[0, 1, 0] = near[1, 0, 0] = True  # part 0 at (4, 4)
    # part 1: animal 0 at (36, 4), animal 1 at (4, 28)
    near[0, 3:6, 1] = near[1, 4, 1] = True
    near[3, 0:2, 1] = near[2, 0, 1] = True
    near[3, 3:6, 2] = near[2, 4, 2] = True  # part 2: animal 1 at (36, 28)
    for only in (True, False):  # DeepLabCut's rule for True; posekit's for both
        w = _targets(only).locref_weights[0]
        np.testing.assert_array_equal(w[..., 0::2] > 0, near)
        np.testing.assert_array_equal(w[..., 1::2] > 0, near)
        assert set(np.unique(w)) == {0.0, 1.0}


def test_score_map_weights_are_per_channel_as_before():
    # every part has an animal: full weight under both rules
    assert _targets(True).scoremap_weights.ravel().tolist() == [1.0, 1.0, 1.0]
    kp = _two_animals()
    kp[0, 1, 2] = NAN  # part 2 on no animal
    t = make_multianimal_targets(kp, EDGES, MAP, weigh_only_present_joints=True)
    assert t.scoremap_weights.ravel().tolist() == [1.0, 1.0, 0.0]
    assert not t.paf_weights[..., 2:].any()  # limbs (1, 2) and (0, 2): not drawn
