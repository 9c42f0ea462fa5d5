"""Score map + locref decoding: exact answers and agreement with DeepLabCut's loop."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.models.decoder import (
    decode_pose,
    decode_pose_tensor,
    make_decoder,
    second_peak,
)


def dlc_argmax_pose_predict(scmap, offmat, stride):
    """DeepLabCut's ``argmax_pose_predict`` (predict.py), one frame, as a loop."""
    num_joints = scmap.shape[2]
    pose = []
    for joint_idx in range(num_joints):
        maxloc = np.unravel_index(
            np.argmax(scmap[:, :, joint_idx]), scmap[:, :, joint_idx].shape
        )
        offset = np.array(offmat[maxloc][joint_idx])[::-1]
        pos_f8 = np.array(maxloc).astype("float") * stride + 0.5 * stride + offset
        pose.append(np.hstack((pos_f8[::-1], [scmap[maxloc][joint_idx]])))
    return np.array(pose)


def test_known_peak_and_offset() -> None:
    scmap = np.zeros((1, 6, 9, 2), np.float32)
    locref = np.zeros((1, 6, 9, 4), np.float32)
    scmap[0, 4, 7, 0] = 0.8  # keypoint 0 at row 4, col 7
    locref[0, 4, 7, 0:2] = [0.5, -0.25]  # dx, dy in locref_stdev units
    scmap[0, 1, 2, 1] = 0.3  # keypoint 1 at row 1, col 2, no offset
    expected = np.array(
        [
            [
                [7 * 8 + 4 + 0.5 * 4.0, 4 * 8 + 4 - 0.25 * 4.0, 0.8],
                [2 * 8 + 4, 12, 0.3],
            ],
        ],
        np.float32,
    )
    out = decode_pose(scmap, locref, stride=8, locref_stdev=4.0)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    out_tf = np.asarray(decode_pose_tensor(scmap, locref, stride=8, locref_stdev=4.0))
    np.testing.assert_allclose(out_tf, expected, rtol=0, atol=1e-6)


def test_without_locref_and_ties_take_the_first_cell() -> None:
    scmap = np.zeros((1, 3, 3, 1), np.float32)
    scmap[0, 1, 2, 0] = scmap[0, 2, 0, 0] = 1.0  # tie: row-major first is (1, 2)
    out = decode_pose(scmap, None, stride=4)
    np.testing.assert_allclose(out[0, 0], [2 * 4 + 2, 1 * 4 + 2, 1.0])


def test_matches_deeplabcut_on_random_maps() -> None:
    rng = np.random.default_rng(0)
    scmap = rng.uniform(size=(5, 7, 11, 4)).astype(np.float32)
    locref = rng.normal(size=(5, 7, 11, 8)).astype(np.float32)
    stdev = 7.2801
    ours = decode_pose(scmap, locref, stride=8, locref_stdev=stdev)
    ours_tf = np.asarray(
        decode_pose_tensor(scmap, locref, stride=8, locref_stdev=stdev)
    )
    for n in range(5):
        offmat = locref[n].reshape(7, 11, 4, 2) * stdev
        ref = dlc_argmax_pose_predict(scmap[n], offmat, 8)
        np.testing.assert_allclose(ours[n], ref, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(ours_tf[n], ref, rtol=1e-5, atol=1e-4)


def test_make_decoder_and_shape_errors() -> None:
    decode = make_decoder(stride=4, locref_stdev=1.0)
    out = decode(np.ones((2, 3, 3, 2), "float32"), np.zeros((2, 3, 3, 4), "float32"))
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="locref must have shape"):
        decode(np.ones((2, 3, 3, 2)), np.zeros((2, 3, 3, 2)))
    with pytest.raises(ValueError, match="scoremap must be"):
        decode_pose(np.ones((3, 3, 2)), None)


def _blob(h: int, w: int, row: float, col: float, peak: float, sigma: float = 1.0):
    """Return a Gaussian peak of height ``peak`` at ``(row, col)`` on an ``h × w`` map."""
    r, c = np.mgrid[0:h, 0:w]
    return peak * np.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * sigma**2))


def test_a_second_separate_peak_lowers_the_likelihood_not_the_position() -> None:
    scmap = np.zeros((1, 12, 16, 2), np.float32)
    # bodypart 0: a leg tip at (3, 4) and an equally strong look-alike at (8, 13)
    scmap[0, ..., 0] = np.maximum(_blob(12, 16, 3, 4, 0.8), _blob(12, 16, 8, 13, 0.8))
    # bodypart 1: the same peak with a weak echo
    scmap[0, ..., 1] = np.maximum(_blob(12, 16, 3, 4, 0.9), _blob(12, 16, 9, 2, 0.1))
    peak = decode_pose(scmap, None, stride=8)
    sure = decode_pose(scmap, None, stride=8, likelihood="unambiguous")
    np.testing.assert_allclose(sure[..., :2], peak[..., :2])  # same cells
    np.testing.assert_allclose(peak[0, :, 2], [0.8, 0.9], atol=1e-6)
    np.testing.assert_allclose(sure[0, :, 2], [0.8 * 0.2, 0.9 * 0.9], atol=1e-6)
    assert sure[0, 0, 2] < 0.6 <= sure[0, 1, 2]  # the ambiguous one falls below
    np.testing.assert_allclose(second_peak(scmap)[0], [0.8, 0.1], atol=1e-6)
    tf_sure = decode_pose_tensor(scmap, None, stride=8, likelihood="unambiguous")
    np.testing.assert_allclose(np.asarray(tf_sure), sure, atol=1e-6)


def test_one_peak_keeps_its_score_and_a_plateau_is_one_peak() -> None:
    scmap = np.zeros((2, 10, 10, 1), np.float32)
    scmap[0, ..., 0] = _blob(10, 10, 4.3, 5.6, 0.95, sigma=1.5)  # shoulders only
    scmap[1, 5, 5:7, 0] = 0.7  # two neighbouring cells of one peak
    scmap[1, 4, 5, 0] = 0.3
    peak = decode_pose(scmap, None)
    sure = decode_pose(scmap, None, likelihood="unambiguous")
    np.testing.assert_allclose(sure, peak, atol=1e-7)
    np.testing.assert_allclose(second_peak(scmap), 0.0)


def test_unambiguous_numpy_and_graph_agree_and_the_predictors_default() -> None:
    rng = np.random.default_rng(3)
    for scmap in (
        rng.uniform(size=(3, 7, 11, 4)).astype(np.float32),
        np.stack([_blob(9, 13, *rng.uniform(0, 9, 2), 0.9) for _ in range(8)])
        .reshape(2, 4, 9, 13)
        .transpose(0, 2, 3, 1)
        .astype(np.float32),
    ):
        locref = rng.normal(size=(*scmap.shape[:3], 2 * scmap.shape[3]))
        locref = locref.astype(np.float32)
        ours = decode_pose(scmap, locref, likelihood="unambiguous")
        graph = decode_pose_tensor(scmap, locref, likelihood="unambiguous")
        np.testing.assert_allclose(ours, np.asarray(graph), atol=1e-5)
        np.testing.assert_allclose(make_decoder()(scmap, locref), ours)
        peak = decode_pose(scmap, locref)
        assert (ours[..., 2] <= peak[..., 2] + 1e-7).all()
    with pytest.raises(ValueError, match="likelihood must be one of"):
        make_decoder(likelihood="max")
