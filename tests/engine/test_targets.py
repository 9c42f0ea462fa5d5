"""Score-map and location-refinement targets at known positions, and DLC agreement."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.targets import make_locref, make_scoremaps, make_targets


def dlc_compute_target_part_scoremap(joints, size, stride, dist_thresh, locref_stdev):
    """DeeperCut/DeepLabCut ``compute_target_part_scoremap`` (pose_dataset.py), a loop.

    ``joints``: ``(K, 2)``; the full map is scanned (DLC scans a window around the joint
    with the same result).
    """
    half_stride = stride / 2
    k = len(joints)
    scmap = np.zeros((*size, k))
    locref_map = np.zeros((*size, 2 * k))
    locref_mask = np.zeros((*size, 2 * k))
    for j_id, (j_x, j_y) in enumerate(joints):
        for j in range(size[0]):
            pt_y = j * stride + half_stride
            for i in range(size[1]):
                pt_x = i * stride + half_stride
                dx, dy = j_x - pt_x, j_y - pt_y
                if dx**2 + dy**2 <= dist_thresh**2:
                    scmap[j, i, j_id] = 1
                    locref_mask[j, i, 2 * j_id : 2 * j_id + 2] = 1
                    locref_map[j, i, 2 * j_id] = dx / locref_stdev
                    locref_map[j, i, 2 * j_id + 1] = dy / locref_stdev
    return scmap, locref_map, locref_mask


def test_disk_and_locref_match_deeplabcut() -> None:
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 96, size=(3, 4, 2))
    size, stride = (12, 13), 8
    scmap, weights = make_scoremaps(
        kp, size, stride=stride, kind="disk", pos_dist_thresh=17
    )
    loc, mask = make_locref(
        kp, size, stride=stride, pos_dist_thresh=17, locref_stdev=7.2801
    )
    assert scmap.dtype == loc.dtype == np.float32
    np.testing.assert_array_equal(weights, np.ones((3, 1, 1, 4)))
    for n in range(3):
        ref_s, ref_l, ref_m = dlc_compute_target_part_scoremap(
            kp[n], size, stride, 17, 7.2801
        )
        np.testing.assert_array_equal(scmap[n], ref_s)
        np.testing.assert_array_equal(mask[n], ref_m)
        np.testing.assert_allclose(loc[n], ref_l, atol=1e-6)


def test_gaussian_peak_at_the_keypoint_cell() -> None:
    # keypoint exactly at the centre of cell (row 2, col 3) with stride 8: (28, 20)
    kp = np.array([[[28.0, 20.0]]])
    scmap, _ = make_scoremaps(kp, (6, 6), stride=8, kind="gaussian", sigma=8.5)
    assert scmap[0, 2, 3, 0] == pytest.approx(1.0)
    assert np.unravel_index(scmap[0, ..., 0].argmax(), (6, 6)) == (2, 3)
    # one cell (8 px) away: exp(-64 / (2 * 8.5²))
    assert scmap[0, 2, 4, 0] == pytest.approx(np.exp(-64 / (2 * 8.5**2)), rel=1e-6)
    assert scmap[0, 3, 3, 0] == pytest.approx(scmap[0, 2, 4, 0], rel=1e-6)


def test_locref_offsets_point_to_the_keypoint() -> None:
    kp = np.array([[[30.0, 17.0]]])  # cell (row 1, col 3) centre is (28, 12)
    loc, mask = make_locref(kp, (4, 5), stride=8, pos_dist_thresh=17, locref_stdev=2.0)
    np.testing.assert_allclose(loc[0, 1, 3], [1.0, 2.5])  # (30-28)/2, (17-12)/2
    assert mask[0, 1, 3].tolist() == [1.0, 1.0]
    # every trained cell's offset leads back to the keypoint
    rows, cols = np.nonzero(mask[0, ..., 0])
    x = cols * 8 + 4 + loc[0, rows, cols, 0] * 2.0
    y = rows * 8 + 4 + loc[0, rows, cols, 1] * 2.0
    np.testing.assert_allclose(x, 30.0, atol=1e-5)
    np.testing.assert_allclose(y, 17.0, atol=1e-5)


def test_missing_keypoints_are_absent_or_zero_weight() -> None:
    kp = np.array([[[10.0, 10.0], [np.nan, np.nan]]])
    # DeepLabCut's default (weigh_only_present_joints: false): absent, full weight
    t = make_targets(kp, (4, 4), stride=8)
    assert t.scoremap_weights[0, 0, 0].tolist() == [1.0, 1.0]
    assert not t.scoremap[..., 1].any() and not t.locref_weights[..., 2:].any()
    assert np.isfinite(t.scoremap).all() and np.isfinite(t.locref).all()
    assert t.locref.shape == t.locref_weights.shape == (1, 4, 4, 4)
    t = make_targets(kp, (4, 4), stride=8, weigh_only_present_joints=True)
    assert t.scoremap_weights[0, 0, 0].tolist() == [1.0, 0.0]
    assert not t.scoremap[..., 1].any() and not t.locref_weights[..., 2:].any()


def test_labelled_keypoint_outside_the_crop_is_a_negative() -> None:
    # keypoint 0 left the crop (labelled, NaN), keypoint 1 was never labelled
    kp = np.full((1, 2, 2), np.nan)
    t = make_targets(
        kp, (4, 4), labelled=np.array([[True, False]]), weigh_only_present_joints=True
    )
    assert t.scoremap_weights[0, 0, 0].tolist() == [1.0, 0.0]
    assert not t.scoremap.any()  # "not in this crop": an empty map, trained
    with pytest.raises(ValueError, match="labelled must be"):
        make_targets(kp, (4, 4), labelled=np.array([True, False]))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        make_targets(np.zeros((3, 2)), (4, 4))
    with pytest.raises(ValueError, match="kind"):
        make_scoremaps(np.zeros((1, 1, 2)), (4, 4), kind="box")
