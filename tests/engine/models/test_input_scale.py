"""Frames of any size line up with the score-map grid; the input scale maps back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.models.decoder import decode_pose
from posekit.engine.models.pose_model import (
    InputScale,
    PoseModelConfig,
    build_pose_model,
)


def test_a_frame_of_odd_height_predicts_as_the_same_frame_padded():
    """The 747- and 374-pixel-high frames of issue 12 shifted predictions ~10 px."""
    model = build_pose_model(PoseModelConfig(bodyparts=("a", "b"), weights=None))
    rng = np.random.default_rng(0)
    frame = rng.uniform(0, 255, (1, 374, 416, 3)).astype(np.float32)
    padded = np.zeros((1, 384, 416, 3), np.float32)
    padded[:, :374] = frame
    a = model(frame, training=False)
    b = model(padded, training=False)
    for key in ("scoremap", "locref"):
        np.testing.assert_allclose(np.asarray(a[key]), np.asarray(b[key]), atol=1e-5)


def test_input_scale_layer_shapes():
    assert InputScale(1.0, multiple=16)(np.zeros((1, 747, 832, 3))).shape == (
        1,
        752,
        832,
        3,
    )
    assert InputScale(0.5, multiple=16)(np.zeros((1, 100, 60, 3))).shape == (
        1,
        64,
        32,
        3,
    )


@pytest.mark.parametrize("scale", [0.5, 1.5, 2.0])
def test_resize_and_decoder_agree_on_where_a_point_is(scale):
    """A smooth blob at (x, y) lands at the resized position the decoder inverts."""
    x, y = 21.3, 13.6
    rows, cols = np.mgrid[0:48, 0:40]
    blob = 255.0 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 3.0**2))
    img = np.repeat(blob[None, ..., None], 3, axis=-1).astype(np.float32)
    out = np.asarray(InputScale(scale, multiple=8)(img))[0, ..., 0]
    rows, cols = np.nonzero(out > 1.0)
    w = out[rows, cols]
    u, v = (cols * w).sum() / w.sum(), (rows * w).sum() / w.sum()
    # decode a score map whose peak cell centre is exactly (u, v) in resized pixels
    stride = 1.0
    scm = np.zeros((1, out.shape[0], out.shape[1], 1), np.float32)
    scm[0, int(round(v - 0.5)), int(round(u - 0.5)), 0] = 1.0
    loc = np.zeros((1, *scm.shape[1:3], 2), np.float32)
    loc[0, int(round(v - 0.5)), int(round(u - 0.5)), 0] = u - (round(u - 0.5) + 0.5)
    loc[0, int(round(v - 0.5)), int(round(u - 0.5)), 1] = v - (round(v - 0.5) + 0.5)
    xyp = decode_pose(scm, loc, stride=stride, locref_stdev=1.0, input_scale=scale)
    np.testing.assert_allclose(xyp[0, 0, :2], [x, y], atol=0.1)


def test_input_scale_is_validated_and_saved(tmp_path):
    with pytest.raises(ValueError, match="multiple of 1/8"):
        PoseModelConfig(bodyparts=("a",), input_scale=0.3)
    cfg = PoseModelConfig(bodyparts=("a",), weights=None, input_scale=0.5)
    model = build_pose_model(cfg)
    frame = np.zeros((1, 100, 120, 3), np.float32)
    assert model(frame)["scoremap"].shape[1:3] == (8, 8)  # 104×120 → 52×60 → 64×64
    from posekit.engine.models.pose_model import load_pose_model, save_pose_model

    path = save_pose_model(model, tmp_path / "m.keras")
    again = load_pose_model(path)
    assert again.pose_config.input_scale == 0.5
    np.testing.assert_allclose(
        np.asarray(again(frame)["scoremap"]), np.asarray(model(frame)["scoremap"])
    )
