"""Score maps + location refinement → ``(x, y, likelihood)`` in input-image pixels.

DeepLabCut's single-animal decoding (``argmax_pose_predict`` in
``deeplabcut/pose_estimation_tensorflow/core/predict.py``): for each bodypart take the
cell ``(row, col)`` with the highest score; its location-refinement vector
``(dx, dy) = locref[row, col, 2k : 2k + 2] * locref_stdev`` is added to the cell centre::

    x = col * stride + stride / 2 + dx
    y = row * stride + stride / 2 + dy
    likelihood = scoremap[row, col, k]

With an input scale ``s`` (the network saw the frame resized by ``s``, see
:class:`posekit.engine.models.pose_model.InputScale`), the position ``u`` found in the
resized image maps back to the frame as ``x = (u + 0.5) / s - 0.5`` (pixel centres
aligned, as the resize samples them).

Ties go to the first cell in row-major order (``numpy.argmax``), as in DLC. Two
implementations: :func:`decode_pose` (vectorised numpy, any batch) and
:func:`decode_pose_tensor` (``keras.ops``, runs inside a ``tf.function``).

Likelihood. DeepLabCut reports the score at the maximum (``likelihood="peak"``). A
score map can also have a second, separate peak elsewhere (another leg, the other
animal's leg, a look-alike): the network then does not know which is the bodypart,
and the maximum can be the wrong one with a high score (on the SLEAP fly crops a hind
leg tip was placed 55 px off, on a wing tip, with score 0.72). With
``likelihood="unambiguous"`` (posekit's predictors, :func:`make_decoder`) the
likelihood is the score at the maximum times one minus the highest score of any other
local maximum of that bodypart's map (a cell at least as high as its 8 neighbours,
more than :data:`SAME_PEAK_CELLS` cells from the maximum)::

    likelihood = scoremap[row, col, k] * (1 - second_peak)

A map with one peak keeps its score; two peaks of 0.8 give 0.16, below any usual
p-cutoff, so such a point is dropped like an occluded one instead of being a
confident miss. The position is the maximum's either way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

import numpy as np

__all__ = [
    "decode_pose",
    "decode_pose_tensor",
    "make_decoder",
    "second_peak",
    "DEFAULT_LOCREF_STDEV",
    "LIKELIHOODS",
    "SAME_PEAK_CELLS",
]

#: DeepLabCut's default ``locref_stdev`` (``pose_cfg.yaml``).
DEFAULT_LOCREF_STDEV = 7.2801
#: Local maxima within this many cells of the maximum belong to its peak (a plateau).
SAME_PEAK_CELLS = 1.5
#: The likelihoods the decoders report (see the module docstring).
LIKELIHOODS = ("peak", "unambiguous")

Likelihood = Literal["peak", "unambiguous"]


def _check_likelihood(likelihood: str) -> None:
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"likelihood must be one of {LIKELIHOODS}. Received: {likelihood!r}"
        )


def _check_maps(scoremap_shape: tuple, locref_shape: tuple) -> None:
    if len(scoremap_shape) != 4:
        raise ValueError(
            "scoremap must be (batch, height, width, keypoints). Received shape "
            f"{tuple(scoremap_shape)}"
        )
    expected = (*scoremap_shape[:3], 2 * scoremap_shape[3])
    if tuple(locref_shape) != tuple(expected):
        raise ValueError(
            f"locref must have shape {expected} (2 channels per keypoint) for a "
            f"scoremap of shape {tuple(scoremap_shape)}. Received {tuple(locref_shape)}"
        )


def second_peak(scoremap: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Score of the highest local maximum apart from the maximum, per bodypart.

    A local maximum is a cell at least as high as its 8 neighbours; those within
    :data:`SAME_PEAK_CELLS` cells of the maximum (a plateau) are part of its peak.

    Parameters
    ----------
    scoremap
        ``(batch, h, w, K)`` score maps.
    idx
        ``(batch, K)`` flat index (``row * w + col``) of each map's maximum; default:
        the first maximum in row-major order.

    Returns
    -------
    numpy.ndarray
        ``(batch, K)``; 0 where the map has no other local maximum.

    Examples
    --------
    >>> s = np.zeros((1, 5, 6, 1), "float32")
    >>> s[0, 1, 1, 0], s[0, 3, 4, 0] = 0.9, 0.4
    >>> second_peak(s).tolist()
    [[0.4000000059604645]]
    """
    s = np.asarray(scoremap, dtype=np.float32)
    n, h, w, k = s.shape
    if idx is None:
        idx = s.reshape(n, h * w, k).argmax(axis=1)
    padded = np.pad(s, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    is_max = s >= windows.max(axis=(-2, -1))  # (n, h, w, k)
    row, col = np.divmod(np.asarray(idx), w)  # (n, k)
    rows = np.arange(h, dtype=np.float32)[None, :, None, None]
    cols = np.arange(w, dtype=np.float32)[None, None, :, None]
    d2 = (rows - row[:, None, None, :]) ** 2 + (cols - col[:, None, None, :]) ** 2
    other = is_max & (d2 > SAME_PEAK_CELLS**2)
    return np.where(other, s, 0.0).max(axis=(1, 2), initial=0.0)


def decode_pose(
    scoremap: np.ndarray,
    locref: np.ndarray | None,
    *,
    stride: float = 8.0,
    locref_stdev: float = DEFAULT_LOCREF_STDEV,
    input_scale: float = 1.0,
    likelihood: Likelihood = "peak",
) -> np.ndarray:
    """Decode a batch of score maps (and location refinement) to keypoints.

    Parameters
    ----------
    scoremap
        ``(batch, h, w, K)`` score maps (probabilities, i.e. after the sigmoid).
    locref
        ``(batch, h, w, 2K)`` location refinement, channels ``dx0, dy0, dx1, …`` in
        units of ``locref_stdev`` pixels; ``None`` for no refinement.
    stride
        Input pixels per score-map cell.
    locref_stdev
        Scale of the location refinement (DLC default 7.2801).
    input_scale
        The factor the network resized its input by (1: none); coordinates are
        returned in the pixels of the frame before that resize.
    likelihood
        ``"peak"``: the score at the maximum (DeepLabCut's); ``"unambiguous"``: that
        score times one minus the score of the highest separate peak
        (:func:`second_peak`; see the module docstring).

    Returns
    -------
    numpy.ndarray
        ``(batch, K, 3)`` float32: ``x, y`` in input-image pixels and the likelihood.

    Raises
    ------
    ValueError
        Arrays of the wrong rank or mismatched shapes; an unknown ``likelihood``.

    Examples
    --------
    >>> s = np.zeros((1, 4, 5, 1), "float32"); s[0, 2, 3, 0] = 0.5
    >>> l = np.zeros((1, 4, 5, 2), "float32"); l[0, 2, 3] = [1.0, -0.5]
    >>> decode_pose(s, l, stride=8, locref_stdev=2.0).round(2).tolist()
    [[[30.0, 19.0, 0.5]]]

    A second peak of 0.4 two cells away makes the maximum less certain:

    >>> s[0, 0, 1, 0] = 0.4
    >>> decode_pose(s, l, stride=8, locref_stdev=2.0, likelihood="unambiguous").round(2)
    array([[[30. , 19. ,  0.3]]], dtype=float32)
    """
    _check_likelihood(likelihood)
    scoremap = np.asarray(scoremap)
    n, h, w, k = scoremap.shape if scoremap.ndim == 4 else (0, 0, 0, 0)
    if locref is not None:
        locref = np.asarray(locref)
        _check_maps(scoremap.shape, locref.shape)
    elif scoremap.ndim != 4:
        _check_maps(scoremap.shape, ())
    flat = scoremap.reshape(n, h * w, k)
    idx = flat.argmax(axis=1)  # (n, k): first maximum in row-major order
    row, col = np.divmod(idx, w)
    prob = np.take_along_axis(flat, idx[:, None, :], axis=1)[:, 0]
    if likelihood == "unambiguous" and n:
        prob = prob * (1.0 - second_peak(scoremap, idx))
    x = col * float(stride) + 0.5 * float(stride)
    y = row * float(stride) + 0.5 * float(stride)
    if locref is not None:
        off = locref.reshape(n, h * w, k, 2)
        sel = off[np.arange(n)[:, None], idx, np.arange(k)[None, :]]  # (n, k, 2)
        x = x + sel[..., 0] * float(locref_stdev)
        y = y + sel[..., 1] * float(locref_stdev)
    if input_scale != 1.0:
        x = (x + 0.5) / float(input_scale) - 0.5
        y = (y + 0.5) / float(input_scale) - 0.5
    return np.stack([x, y, prob], axis=-1).astype(np.float32)


def decode_pose_tensor(
    scoremap,
    locref,
    *,
    stride: float = 8.0,
    locref_stdev: float = DEFAULT_LOCREF_STDEV,
    input_scale: float = 1.0,
    likelihood: Likelihood = "peak",
):
    """In-graph version of :func:`decode_pose` (``keras.ops``; usable in a tf.function).

    Parameters
    ----------
    scoremap
        ``(batch, h, w, K)`` tensor of probabilities.
    locref
        ``(batch, h, w, 2K)`` tensor, or ``None``.
    stride, locref_stdev, input_scale, likelihood
        As for :func:`decode_pose`.

    Returns
    -------
    tensor
        ``(batch, K, 3)`` float32.

    Examples
    --------
    >>> s = np.zeros((1, 4, 5, 1), "float32"); s[0, 2, 3, 0] = 0.5
    >>> l = np.zeros((1, 4, 5, 2), "float32"); l[0, 2, 3] = [1.0, -0.5]
    >>> np.asarray(decode_pose_tensor(s, l, stride=8, locref_stdev=2.0)).round(2).tolist()
    [[[30.0, 19.0, 0.5]]]
    """
    from .._tf import import_keras

    _check_likelihood(likelihood)
    ops = import_keras().ops

    scoremap = ops.convert_to_tensor(scoremap, dtype="float32")
    shape = ops.shape(scoremap)
    n, h, w, k = shape[0], shape[1], shape[2], shape[3]
    flat = ops.reshape(scoremap, (n, h * w, k))
    idx = ops.cast(ops.argmax(flat, axis=1), "int32")  # (n, k)
    prob = ops.squeeze(ops.take_along_axis(flat, idx[:, None, :], axis=1), axis=1)
    w_int = ops.cast(w, "int32")
    row = ops.cast(idx // w_int, "float32")
    col = ops.cast(idx % w_int, "float32")
    if likelihood == "unambiguous":
        # local maxima: at least as high as the 3×3 neighbourhood ("same" pads -inf)
        pooled = ops.max_pool(scoremap, pool_size=3, strides=1, padding="same")
        rows = ops.cast(ops.arange(h), "float32")[None, :, None, None]
        cols = ops.cast(ops.arange(w), "float32")[None, None, :, None]
        d2 = ops.square(rows - row[:, None, None, :]) + ops.square(
            cols - col[:, None, None, :]
        )
        other = ops.logical_and(
            ops.greater_equal(scoremap, pooled), ops.greater(d2, SAME_PEAK_CELLS**2)
        )
        second = ops.max(ops.where(other, scoremap, 0.0), axis=(1, 2))
        prob = prob * (1.0 - second)
    x = col * float(stride) + 0.5 * float(stride)
    y = row * float(stride) + 0.5 * float(stride)
    if locref is not None:
        locref = ops.convert_to_tensor(locref, dtype="float32")
        off = ops.reshape(locref, (n, h * w, k * 2))
        # channel of dx for keypoint j is 2j, dy is 2j + 1
        off_x = off[:, :, 0::2]
        off_y = off[:, :, 1::2]
        dx = ops.squeeze(ops.take_along_axis(off_x, idx[:, None, :], axis=1), axis=1)
        dy = ops.squeeze(ops.take_along_axis(off_y, idx[:, None, :], axis=1), axis=1)
        x = x + dx * float(locref_stdev)
        y = y + dy * float(locref_stdev)
    if input_scale != 1.0:
        x = (x + 0.5) / float(input_scale) - 0.5
        y = (y + 0.5) / float(input_scale) - 0.5
    return ops.stack([x, y, prob], axis=-1)


def make_decoder(
    stride: float = 8.0,
    locref_stdev: float = DEFAULT_LOCREF_STDEV,
    input_scale: float = 1.0,
    likelihood: Likelihood = "unambiguous",
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Build a ``decode(scoremap, locref) -> (N, K, 3)`` function with fixed parameters.

    This is the ``MapDecoder`` that :class:`posekit.engine.inference.Predictor` takes,
    and so how every posekit predictor (Keras, TFLite, analysis, evaluation) decodes:
    with ``likelihood="unambiguous"`` by default. Parameters as for
    :func:`decode_pose`.

    Examples
    --------
    >>> decode = make_decoder(stride=8)
    >>> decode(np.ones((2, 3, 3, 4), "float32"), np.zeros((2, 3, 3, 8), "float32")).shape
    (2, 4, 3)
    """
    _check_likelihood(likelihood)
    return partial(
        decode_pose,
        stride=float(stride),
        locref_stdev=float(locref_stdev),
        input_scale=float(input_scale),
        likelihood=likelihood,
    )
