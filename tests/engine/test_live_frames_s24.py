"""Frames a closed-loop rig gives: their dtype, size and channels (QA s24 deploy 1, 4).

A ``uint16`` frame (12- or 16-bit camera) was cast to ``uint8`` (wrapping around
256), a float frame in ``[0, 1]`` went black and fractional floats were truncated:
garbage poses with normal likelihoods and no error. A frame of another size or channel
count got LiteRT's raw "Cannot set tensor" message.
"""

from __future__ import annotations

import numpy as np
import pytest
from dot_model import decode_brightest, dot_model

from posekit.engine.inference import KerasPredictor, TFLitePredictor, convert_to_tflite


@pytest.fixture(scope="module")
def lite(tmp_path_factory) -> TFLitePredictor:
    """Convert the dot model for 24×16 (width×height) frames, batch 1, uint8 in."""
    path = tmp_path_factory.mktemp("lite") / "dot.tflite"
    convert_to_tflite(dot_model(), path, input_shape=(1, 16, 24, 3))
    return TFLitePredictor(path, decode_brightest, batch_size=1)


def _frame() -> np.ndarray:
    frame = np.full((16, 24, 3), 100, np.uint8)
    frame[:8, 8:16] = 200  # the brightest cell: x 12, y 4, score 200 / 255
    return frame


def test_float_frames_are_rounded_not_truncated(lite: TFLitePredictor) -> None:
    expected = lite(_frame()[None])
    np.testing.assert_allclose(expected[0, 0], [12, 4, 200 / 255], atol=1e-6)
    # a float frame in [0, 255] (a float resize gives fractions): 199.6 is 200
    np.testing.assert_array_equal(lite(_frame()[None] - np.float32(0.4)), expected)
    np.testing.assert_array_equal(lite(_frame()[None] + 0.4), expected)
    # whole values up to 1: a very dark 0-255 frame, not a normalised one
    black = np.zeros((1, 16, 24, 3), np.float32)
    black[0, 0, 0] = 1.0
    np.testing.assert_array_equal(lite(black), lite(black.astype(np.uint8)))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            _frame().astype(np.uint16) * 16,
            r"uint16 frames \(largest value 3200\).*12-bit",
        ),
        (_frame() / 255.0, r"normalised to \[0, 1\]\?.*\(frame \* 255\)\.round\(\)"),
        (_frame() / 127.5 - 1.0, r"from -0\.2.*\(\(frame \+ 1\) \* 127\.5\)"),
        (_frame() * 2.0, r"values from 200 to 400"),
        (_frame().astype(np.int64), r"int64 frames.*frame\.astype\(np\.uint8\)"),
    ],
    ids=["uint16-12bit", "float-0-1", "float-minus1-1", "float-over-255", "int64"],
)
def test_frames_that_are_not_8_bit_are_refused(
    lite: TFLitePredictor, frame: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        lite(frame[None])
    keras_predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=1)
    with pytest.raises(ValueError, match=message):  # TensorFlow's path too
        keras_predictor(frame[None])


def test_a_frame_of_another_size_or_channel_count_says_what_is_expected(
    lite: TFLitePredictor,
) -> None:
    with pytest.raises(
        ValueError,
        match=r"takes 24×16 \(width×height\).*frame_shape="
        r"\(16, 24\).*Received a 64×48 frame.*open_live\(model, "
        r"\(48, 64\)\)",
    ):
        lite(np.zeros((1, 48, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"height and width are swapped"):
        lite(np.zeros((1, 24, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"1 channel.*cv2\.COLOR_GRAY2RGB"):
        lite(np.zeros((1, 16, 24, 1), np.uint8))
    with pytest.raises(ValueError, match=r"4 channel.*frame\[\.\.\., :3\]"):
        lite([np.zeros((16, 24, 4), np.uint8)])
