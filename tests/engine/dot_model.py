"""A 'pose network' with a known answer, shared by the inference tests.

Its score map is the mean brightness of each ``STRIDE`` × ``STRIDE`` cell of the
image, scaled to [0, 1], and its location refinement is zero: the one keypoint is
the brightest cell's centre, with the cell's brightness / 255 as likelihood. Tests
import it by name (``tests/engine`` is on pytest's ``pythonpath``).
"""

from __future__ import annotations

import keras
import numpy as np

#: The network's output stride (pixels per score-map cell).
STRIDE = 8


def dot_model() -> keras.Model:
    """Build the network: score map = mean brightness / 255, zero location refinement."""
    inp = keras.Input((None, None, 3))
    gray = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=-1, keepdims=True))(inp)
    pooled = keras.layers.AveragePooling2D(STRIDE)(gray)
    scmap = keras.layers.Rescaling(1.0 / 255.0)(pooled)
    locref = keras.layers.Concatenate()([scmap * 0.0, scmap * 0.0])
    return keras.Model(inp, [scmap, locref])


def decode_brightest(scmap: np.ndarray, locref: np.ndarray) -> np.ndarray:
    """Return the brightest cell's centre and its score, ``(n, k, 3)``."""
    n, h, w, k = scmap.shape
    flat = scmap.reshape(n, h * w, k)
    idx = flat.argmax(axis=1)
    y, x = np.divmod(idx, w)
    p = np.take_along_axis(flat, idx[:, None, :], axis=1)[:, 0]
    return np.stack([x * STRIDE + STRIDE / 2, y * STRIDE + STRIDE / 2, p], axis=-1)
