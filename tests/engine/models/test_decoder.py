"""Score map + locref decoding: exact answers and agreement with DeepLabCut's loop."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.models.decoder import decode_pose, decode_pose_tensor, make_decoder


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
