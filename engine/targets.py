"""Training targets of the DeepLabCut head: score maps and location refinement.

Pure, vectorised numpy. A score-map cell ``(row, col)`` stands for the input pixel
``(col * stride + stride / 2, row * stride + stride / 2)`` (DeeperCut's
``compute_target_part_scoremap``). For every keypoint:

- score map, ``"disk"``: 1 where the cell centre is within ``pos_dist_thresh`` pixels of
  the keypoint (DLC); ``"gaussian"``: ``exp(-d² / (2 σ²))``;
- location refinement: at cells within ``pos_dist_thresh``, the offset from the cell
  centre to the keypoint divided by ``locref_stdev`` (channels ``dx0, dy0, dx1, …``), with
  a mask of ones there and zeros elsewhere.

A keypoint that is NaN gets all-zero targets (an empty score map, no location
refinement). Its score-map weight follows DeepLabCut's ``weigh_only_present_joints``
(``pose_cfg.yaml``):

- ``False`` (DeepLabCut's default, and posekit's): every score map has weight 1, so a
  NaN keypoint is trained as *absent*: the network learns to say "not here". A part left
  empty in a labelled frame because it is hidden is learnt as hidden, and pcutoff then
  removes it from the predictions.
- ``True``: only keypoints known in the source frame (``labelled``) have weight 1: the
  ones placed, a placed one that augmentation moved out of the crop (known to be absent
  there), and a point marked "not visible" in the labeller. A NaN keypoint that is not
  known gets zero weight (the network is told nothing about it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

__all__ = ["PoseTargets", "make_scoremaps", "make_locref", "make_targets"]


class PoseTargets(NamedTuple):
    """Targets for a batch.

    Attributes
    ----------
    scoremap
        ``(N, h, w, K)`` float32 in ``[0, 1]``.
    scoremap_weights
        ``(N, 1, 1, K)`` float32, broadcast over the map: 1 for a keypoint trained
        (present, or absent with an empty map), 0 for one not trained (only with
        ``weigh_only_present_joints``).
    locref
        ``(N, h, w, 2K)`` float32.
    locref_weights
        ``(N, h, w, 2K)`` float32 mask.
    """

    scoremap: np.ndarray
    scoremap_weights: np.ndarray
    locref: np.ndarray
    locref_weights: np.ndarray


def _offsets(
    keypoints: np.ndarray, map_shape: Sequence[int], stride: float
) -> tuple[np.ndarray, np.ndarray]:
    """``dx (N, 1, w, K)``, ``dy (N, h, 1, K)``: keypoint minus cell centre, pixels."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(
            "keypoints must be (N, K, 2) pixel coordinates. Received shape "
            f"{keypoints.shape}"
        )
    if len(map_shape) != 2 or min(map_shape) < 1:
        raise ValueError(f"map_shape must be (height, width). Received: {map_shape!r}")
    if stride <= 0:
        raise ValueError(f"stride must be positive. Received: stride={stride!r}")
    h, w = (int(s) for s in map_shape)
    cx = np.arange(w) * stride + stride / 2.0
    cy = np.arange(h) * stride + stride / 2.0
    dx = keypoints[:, None, None, :, 0] - cx[None, None, :, None]
    dy = keypoints[:, None, None, :, 1] - cy[None, :, None, None]
    return dx, dy


def make_scoremaps(
    keypoints: np.ndarray,
    map_shape: Sequence[int],
    *,
    stride: float = 8.0,
    kind: Literal["gaussian", "disk"] = "gaussian",
    sigma: float = 8.5,
    pos_dist_thresh: float = 17.0,
    labelled: np.ndarray | None = None,
    weigh_only_present_joints: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Score-map targets and weights.

    Parameters
    ----------
    keypoints
        ``(N, K, 2)`` ``x, y`` in input pixels; NaN for missing.
    map_shape
        ``(h, w)`` of the score map.
    stride
        Input pixels per cell.
    kind
        ``"gaussian"`` or ``"disk"`` (DLC).
    sigma
        Gaussian σ in input pixels.
    pos_dist_thresh
        Disk radius in input pixels (DLC: 17).
    labelled
        ``(N, K)`` bool: keypoints known in the source frame, placed or marked not
        visible (default: the finite ones). Used with ``weigh_only_present_joints``
        only: a known but NaN keypoint (moved out of the crop, or not visible) gets
        weight 1, an unknown one 0.
    weigh_only_present_joints
        DeepLabCut's ``pose_cfg.yaml`` key. ``False`` (its default): every keypoint
        has weight 1, a NaN one is trained as absent. ``True``: the weight is
        ``labelled``.

    Returns
    -------
    scoremap : numpy.ndarray
        ``(N, h, w, K)`` float32.
    weights : numpy.ndarray
        ``(N, 1, 1, K)`` float32.

    Raises
    ------
    ValueError
        Bad shapes or ``kind``.

    Examples
    --------
    >>> s, wt = make_scoremaps(np.array([[[12.0, 4.0]]]), (2, 3), stride=8, kind="disk",
    ...                        pos_dist_thresh=1.0)
    >>> s[0, :, :, 0].tolist(), wt.ravel().tolist()
    ([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], [1.0])

    A hidden (NaN) keypoint: trained as absent, unless only present joints weigh:

    >>> kp = np.array([[[12.0, 4.0], [np.nan, np.nan]]])
    >>> make_scoremaps(kp, (2, 3))[1].ravel().tolist()
    [1.0, 1.0]
    >>> make_scoremaps(kp, (2, 3), weigh_only_present_joints=True)[1].ravel().tolist()
    [1.0, 0.0]
    """
    if kind not in ("gaussian", "disk"):
        raise ValueError(f"kind must be 'gaussian' or 'disk'. Received: kind={kind!r}")
    dx, dy = _offsets(keypoints, map_shape, stride)
    d2 = dx**2 + dy**2  # (N, h, w, K); NaN for missing keypoints
    with np.errstate(invalid="ignore"):
        if kind == "disk":
            scmap = (d2 <= float(pos_dist_thresh) ** 2).astype(np.float32)
        else:
            scmap = np.exp(-d2 / (2.0 * float(sigma) ** 2))
            scmap = np.nan_to_num(scmap, nan=0.0).astype(np.float32)
    if labelled is None:
        labelled = np.isfinite(np.asarray(keypoints, dtype=np.float64)).all(axis=-1)
    labelled = np.asarray(labelled, dtype=bool)
    if labelled.shape != scmap.shape[:1] + scmap.shape[3:]:
        raise ValueError(
            f"labelled must be (N, K) = {scmap.shape[:1] + scmap.shape[3:]}. Received "
            f"shape {labelled.shape}"
        )
    if not weigh_only_present_joints:
        labelled = np.ones_like(labelled)
    weights = labelled[:, None, None, :].astype(np.float32)
    return scmap, weights


def make_locref(
    keypoints: np.ndarray,
    map_shape: Sequence[int],
    *,
    stride: float = 8.0,
    pos_dist_thresh: float = 17.0,
    locref_stdev: float = 7.2801,
) -> tuple[np.ndarray, np.ndarray]:
    """Location-refinement targets and mask (DLC).

    Parameters
    ----------
    keypoints
        ``(N, K, 2)`` in input pixels; NaN for missing.
    map_shape
        ``(h, w)``.
    stride
        Input pixels per cell.
    pos_dist_thresh
        Cells within this distance (pixels) of the keypoint are trained.
    locref_stdev
        Offsets are divided by this (DLC: 7.2801).

    Returns
    -------
    locref : numpy.ndarray
        ``(N, h, w, 2K)`` float32, channels ``dx0, dy0, dx1, dy1, …``.
    mask : numpy.ndarray
        ``(N, h, w, 2K)`` float32.

    Examples
    --------
    >>> loc, mask = make_locref(np.array([[[14.0, 4.0]]]), (1, 2), stride=8,
    ...                         pos_dist_thresh=3.0, locref_stdev=2.0)
    >>> loc[0, 0].tolist(), mask[0, 0].tolist()
    ([[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]])
    """
    dx, dy = _offsets(keypoints, map_shape, stride)
    dx, dy = np.broadcast_arrays(dx, dy)
    with np.errstate(invalid="ignore"):
        inside = (dx**2 + dy**2) <= float(pos_dist_thresh) ** 2  # False where NaN
    scale = 1.0 / float(locref_stdev)
    loc = np.stack(
        [np.where(inside, dx * scale, 0.0), np.where(inside, dy * scale, 0.0)], axis=-1
    )
    mask = np.repeat(inside[..., None], 2, axis=-1)
    n, h, w, k = inside.shape
    return (
        loc.reshape(n, h, w, 2 * k).astype(np.float32),
        mask.reshape(n, h, w, 2 * k).astype(np.float32),
    )


def make_targets(
    keypoints: np.ndarray,
    map_shape: Sequence[int],
    *,
    stride: float = 8.0,
    kind: Literal["gaussian", "disk"] = "gaussian",
    sigma: float = 8.5,
    pos_dist_thresh: float = 17.0,
    locref_stdev: float = 7.2801,
    labelled: np.ndarray | None = None,
    weigh_only_present_joints: bool = False,
) -> PoseTargets:
    """All targets for a batch (:func:`make_scoremaps` + :func:`make_locref`).

    Parameters are those of :func:`make_scoremaps` and :func:`make_locref`;
    ``labelled`` marks keypoints known in the source frame, which weigh with
    ``weigh_only_present_joints`` (see the module docstring).

    Returns
    -------
    PoseTargets

    Examples
    --------
    >>> t = make_targets(np.zeros((2, 3, 2)), (4, 4))
    >>> t.scoremap.shape, t.scoremap_weights.shape, t.locref.shape
    ((2, 4, 4, 3), (2, 1, 1, 3), (2, 4, 4, 6))
    """
    scmap, weights = make_scoremaps(
        keypoints,
        map_shape,
        stride=stride,
        kind=kind,
        sigma=sigma,
        pos_dist_thresh=pos_dist_thresh,
        labelled=labelled,
        weigh_only_present_joints=weigh_only_present_joints,
    )
    loc, mask = make_locref(
        keypoints,
        map_shape,
        stride=stride,
        pos_dist_thresh=pos_dist_thresh,
        locref_stdev=locref_stdev,
    )
    return PoseTargets(scmap, weights, loc, mask)
