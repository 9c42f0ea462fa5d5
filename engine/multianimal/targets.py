"""Training targets of multi-animal models: score maps, location refinement, PAFs.

Pure, vectorised NumPy over the batch, the animals, the bodyparts and the edges. A cell
``(row, col)`` stands for the input pixel ``(col * stride + stride / 2, row * stride +
stride / 2)`` (:mod:`posekit.engine.targets`).

- **score map** of bodypart ``k``: the largest of the animals' Gaussians
  (``exp(-d² / 2σ²)``, or DeepLabCut's disk), so that close animals keep two peaks;
- **location refinement**: at cells within ``pos_dist_thresh`` of an animal's keypoint,
  the offset to the *nearest* animal's keypoint (÷ ``locref_stdev``);
- **part-affinity field** of edge ``(a, b)``: at cells within ``paf_width`` pixels of
  the segment from an animal's ``a`` to its ``b``, the unit vector from ``a`` to
  ``b``; where animals overlap, the average of their vectors (OpenPose, DeepLabCut's
  ``pafwidth``).

Keypoints come per animal, ``(N, I, K, 2)``: a unique bodypart is a channel that only
the first "animal" row has (see :func:`stack_channels`). A NaN keypoint has no target:
an animal's hidden part adds no peak to its bodypart's score map, which the animals
share. The weights follow DeepLabCut's ``weigh_only_present_joints`` (its
multi-animal dataset, ``pose_multianimal_imgaug``):

- **score maps** (``compute_scmap_weights``): ``False`` (its default, and posekit's):
  every channel has full weight, so a bodypart that no animal of the frame shows
  (hidden, left empty) is learnt as absent there; ``True``: a channel keeps full weight
  when some animal of the frame is known for it (``labelled``: placed, or marked "not
  visible" in the labeller, which DeepLabCut has not) and gets zero weight when none
  is. As for a single animal, a point marked not visible is thus trained as absent
  under either rule: an empty map (no peak of that animal) with weight 1.
- **location refinement**: under either rule, weight 1 at the cells within
  ``pos_dist_thresh`` of a present keypoint of the channel (where the offsets are
  defined) and 0 elsewhere, DeepLabCut's rule for ``True``. (With ``False``
  DeepLabCut's multi-animal dataset weighs every cell, training a zero offset away
  from the keypoints; posekit keeps the single-animal rule there too.)
- **part-affinity fields**: ``False``: every cell of every limb has weight 1 (a limb
  no animal shows is learnt as absent: a zero field), as in DeepLabCut; ``True``:
  only the cells of the limbs drawn in the frame (within ``paf_width`` of a limb whose
  both ends are present) have weight 1, every other cell, and every limb with an end
  missing on all animals, weighs 0, as DeepLabCut's ``partaffinityfield_mask``.

PAFs are drawn from the keypoints before cropping, so a limb that leaves the crop still
points the right way inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

__all__ = [
    "MultiAnimalTargets",
    "stack_channels",
    "make_paf",
    "make_multianimal_targets",
]


class MultiAnimalTargets(NamedTuple):
    """Targets for a batch of a multi-animal model.

    Attributes
    ----------
    scoremap
        ``(N, h, w, K)`` float32 in ``[0, 1]``.
    scoremap_weights
        ``(N, 1, 1, K)`` float32.
    locref
        ``(N, h, w, 2K)`` float32.
    locref_weights
        ``(N, h, w, 2K)`` float32 mask.
    paf
        ``(N, h, w, 2E)`` float32 unit vectors ``(dx, dy)`` per edge.
    paf_weights
        ``(N, 1, 1, 2E)`` float32 ones, or with ``weigh_only_present_joints``
        ``(N, h, w, 2E)``: 1 on the cells of the limbs drawn, 0 elsewhere.
    """

    scoremap: np.ndarray
    scoremap_weights: np.ndarray
    locref: np.ndarray
    locref_weights: np.ndarray
    paf: np.ndarray
    paf_weights: np.ndarray


def stack_channels(
    keypoints: np.ndarray, unique: np.ndarray | None = None
) -> np.ndarray:
    """Per-animal keypoints and unique ones → ``(N, max(I, 1), Km + Ku, 2)`` per channel.

    Parameters
    ----------
    keypoints
        ``(N, I, Km, 2)``.
    unique
        ``(N, Ku, 2)`` (put in the first animal row; the others are NaN).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> stack_channels(np.zeros((1, 2, 1, 2)), np.ones((1, 1, 2)))[0, :, :, 0].tolist()
    [[0.0, 1.0], [0.0, nan]]
    """
    kp = np.asarray(keypoints, np.float64)
    if unique is None or np.shape(unique)[1] == 0:
        return kp
    unique = np.asarray(unique, np.float64)
    n, i = kp.shape[:2]
    rows = max(i, 1)
    extra = np.full((n, rows, unique.shape[1], 2), np.nan)
    extra[:, 0] = unique
    if i == 0:
        kp = np.zeros((n, 1, 0, 2))
    return np.concatenate([kp, extra], axis=2)


def _cell_centres(map_shape: Sequence[int], stride: float) -> tuple[np.ndarray, ...]:
    if len(map_shape) != 2 or min(map_shape) < 1:
        raise ValueError(f"map_shape must be (height, width). Received: {map_shape!r}")
    if stride <= 0:
        raise ValueError(f"stride must be positive. Received: stride={stride!r}")
    h, w = (int(s) for s in map_shape)
    cx = np.arange(w) * stride + stride / 2.0
    cy = np.arange(h) * stride + stride / 2.0
    return cx, cy


def make_paf(
    keypoints: np.ndarray,
    edges: Sequence[tuple[int, int]],
    map_shape: Sequence[int],
    *,
    stride: float = 8.0,
    paf_width: float = 20.0,
) -> np.ndarray:
    """Part-affinity fields of a batch.

    Parameters
    ----------
    keypoints
        ``(N, I, K, 2)`` in input pixels; NaN for missing (an animal missing either end
        of an edge draws no field for it).
    edges
        ``E`` pairs of bodypart indices.
    map_shape
        ``(h, w)`` of the maps.
    stride
        Input pixels per cell.
    paf_width
        Cells whose centre lies within this many pixels of the segment's line, and
        between its ends (extended by half that width), get the unit vector.

    Returns
    -------
    numpy.ndarray
        ``(N, h, w, 2E)`` float32, channels ``dx0, dy0, dx1, …``.

    Examples
    --------
    >>> paf = make_paf(np.array([[[[4.0, 4.0], [20.0, 4.0]]]]), [(0, 1)], (1, 4),
    ...                stride=8, paf_width=1)
    >>> paf[0, 0, :, 0].tolist(), paf[0, 0, :, 1].tolist()
    ([1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    """
    return _paf_and_cover(
        keypoints, edges, map_shape, stride=stride, paf_width=paf_width
    )[0]


def _paf_and_cover(
    keypoints: np.ndarray,
    edges: Sequence[tuple[int, int]],
    map_shape: Sequence[int],
    *,
    stride: float,
    paf_width: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`make_paf` and ``(N, h, w, E)`` bool: the cells some limb is drawn on."""
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, I, K, 2). Received shape {kp.shape}")
    cx, cy = _cell_centres(map_shape, stride)
    n, h, w = kp.shape[0], len(cy), len(cx)
    e = len(edges)
    if e == 0:
        return np.zeros((n, h, w, 0), np.float32), np.zeros((n, h, w, 0), bool)
    idx = np.asarray(edges, int)
    a = kp[:, :, idx[:, 0]]  # (N, I, E, 2)
    b = kp[:, :, idx[:, 1]]
    vec = b - a
    length = np.linalg.norm(vec, axis=-1)  # (N, I, E)
    ok = np.isfinite(length) & (length > 1e-6)
    unit = np.where(ok[..., None], vec / np.where(ok, length, 1.0)[..., None], 0.0)
    ax = np.where(ok, a[..., 0], 0.0)[:, None, None]  # (N, 1, 1, I, E)
    ay = np.where(ok, a[..., 1], 0.0)[:, None, None]
    ux, uy = unit[..., 0][:, None, None], unit[..., 1][:, None, None]
    px = cx[None, None, :, None, None] - ax  # (N, 1, w, I, E)
    py = cy[None, :, None, None, None] - ay  # (N, h, 1, I, E)
    along = px * ux + py * uy  # (N, h, w, I, E)
    across = np.abs(px * uy - py * ux)
    inside = (
        (along >= -0.5 * paf_width)
        & (along <= np.where(ok, length, 0.0)[:, None, None] + 0.5 * paf_width)
        & (across <= paf_width)
        & ok[:, None, None]
    )
    count = inside.sum(axis=3)  # (N, h, w, E)
    fx = np.where(inside, ux, 0.0).sum(axis=3)
    fy = np.where(inside, uy, 0.0).sum(axis=3)
    denom = np.maximum(count, 1)
    out = np.empty((n, h, w, 2 * e), np.float32)
    out[..., 0::2] = fx / denom
    out[..., 1::2] = fy / denom
    return out, count > 0


def make_multianimal_targets(
    keypoints: np.ndarray,
    edges: Sequence[tuple[int, int]],
    map_shape: Sequence[int],
    *,
    stride: float = 8.0,
    kind: Literal["gaussian", "disk"] = "gaussian",
    sigma: float = 8.5,
    pos_dist_thresh: float = 17.0,
    locref_stdev: float = 7.2801,
    paf_width: float = 20.0,
    labelled: np.ndarray | None = None,
    paf_keypoints: np.ndarray | None = None,
    weigh_only_present_joints: bool = False,
) -> MultiAnimalTargets:
    """All targets of a multi-animal batch.

    Parameters
    ----------
    keypoints
        ``(N, I, K, 2)`` per animal and channel (:func:`stack_channels`), input
        pixels, NaN for missing or outside the crop.
    edges
        The part-affinity graph (index pairs of channels).
    map_shape
        ``(h, w)`` of the maps.
    stride, kind, sigma, pos_dist_thresh, locref_stdev
        As for :func:`posekit.engine.targets.make_targets`.
    paf_width
        Half-width of a limb's field, pixels.
    labelled
        ``(N, I, K)`` bool: known in the source frame, placed or marked not visible
        (default: finite). With ``weigh_only_present_joints``, a channel with no
        known animal in a frame gets weight 0.
    paf_keypoints
        Keypoints for the PAFs (default ``keypoints``): the same points before
        cropping, so that limbs crossing the crop border are drawn.
    weigh_only_present_joints
        DeepLabCut's ``pose_cfg.yaml`` key (see the module docstring). ``False``:
        every score-map channel and every cell of every part-affinity field has
        weight 1 (what no animal shows is learnt as absent), location refinement
        weighs the cells near present keypoints. ``True``: a score-map channel with
        no known animal weighs 0, and the part-affinity fields weigh only the cells
        of the limbs drawn (both ends present); location refinement as with
        ``False``.

    Returns
    -------
    MultiAnimalTargets

    Examples
    --------
    Two animals on cell centres, the second without part 0:

    >>> kp = np.array([[[[4.0, 4.0], [20.0, 4.0]], [[np.nan] * 2, [36.0, 4.0]]]])
    >>> t = make_multianimal_targets(kp, [(0, 1)], (2, 6), kind="disk",
    ...                              pos_dist_thresh=1.0)
    >>> t.scoremap[0, 0, :, 1].tolist()  # both animals' part 1
    [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    >>> t.scoremap[0, 0, :, 0].tolist(), t.scoremap_weights.ravel().tolist()
    ([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0])
    >>> t.paf.shape  # one edge: dx, dy
    (1, 2, 6, 2)

    Part 0 hidden on both animals: absent (weight 1), unless only present joints weigh:

    >>> kp[0, 0, 0] = np.nan
    >>> make_multianimal_targets(kp, [], (2, 6)).scoremap_weights.ravel().tolist()
    [1.0, 1.0]
    >>> t = make_multianimal_targets(kp, [], (2, 6), weigh_only_present_joints=True)
    >>> t.scoremap_weights.ravel().tolist()
    [0.0, 1.0]

    Marked not visible on an animal, it is known absent there: empty, weight 1:

    >>> known = np.isfinite(kp).all(axis=-1)
    >>> known[0, 1, 0] = True  # the second animal's part 0: not visible
    >>> t = make_multianimal_targets(kp, [], (2, 6), labelled=known,
    ...                              weigh_only_present_joints=True)
    >>> t.scoremap_weights.ravel().tolist(), float(t.scoremap[..., 0].max())
    ([1.0, 1.0], 0.0)
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, I, K, 2). Received shape {kp.shape}")
    if kind not in ("gaussian", "disk"):
        raise ValueError(f"kind must be 'gaussian' or 'disk'. Received: kind={kind!r}")
    cx, cy = _cell_centres(map_shape, stride)
    dx = kp[:, None, None, :, :, 0] - cx[None, None, :, None, None]  # (N,1,w,I,K)
    dy = kp[:, None, None, :, :, 1] - cy[None, :, None, None, None]  # (N,h,1,I,K)
    d2 = dx**2 + dy**2  # (N, h, w, I, K), NaN for missing
    with np.errstate(invalid="ignore"):
        if kind == "disk":
            per_animal = (d2 <= float(pos_dist_thresh) ** 2).astype(np.float64)
        else:
            per_animal = np.nan_to_num(np.exp(-d2 / (2.0 * float(sigma) ** 2)))
    scmap = per_animal.max(axis=3).astype(np.float32) if kp.shape[1] else None
    n, h, w = kp.shape[0], len(cy), len(cx)
    k = kp.shape[2]
    if scmap is None:
        scmap = np.zeros((n, h, w, k), np.float32)
    # location refinement towards the nearest animal's keypoint
    d2f = np.where(np.isfinite(d2), d2, np.inf)
    if kp.shape[1]:
        nearest = d2f.argmin(axis=3)[:, :, :, None]  # (N, h, w, 1, K)
        best = np.take_along_axis(d2f, nearest, axis=3)[:, :, :, 0]
        dxn = np.take_along_axis(np.broadcast_to(dx, d2.shape), nearest, 3)[:, :, :, 0]
        dyn = np.take_along_axis(np.broadcast_to(dy, d2.shape), nearest, 3)[:, :, :, 0]
    else:
        best = np.full((n, h, w, k), np.inf)
        dxn = dyn = np.zeros((n, h, w, k))
    inside = best <= float(pos_dist_thresh) ** 2
    scale = 1.0 / float(locref_stdev)
    loc = np.stack(
        [np.where(inside, dxn * scale, 0.0), np.where(inside, dyn * scale, 0.0)],
        axis=-1,
    ).reshape(n, h, w, 2 * k)
    mask = np.repeat(inside[..., None], 2, axis=-1).reshape(n, h, w, 2 * k)
    if labelled is None:
        labelled = np.isfinite(kp).all(axis=-1)
    labelled = np.asarray(labelled, bool)
    if labelled.shape != kp.shape[:3]:
        raise ValueError(
            f"labelled must be (N, I, K) = {kp.shape[:3]}. Received {labelled.shape}"
        )
    present = labelled.any(axis=1)
    if not weigh_only_present_joints:
        present = np.ones_like(present)
    weights = present[:, None, None, :].astype(np.float32)
    paf, cover = _paf_and_cover(
        kp if paf_keypoints is None else paf_keypoints,
        edges,
        (h, w),
        stride=stride,
        paf_width=paf_width,
    )
    if weigh_only_present_joints:  # DeepLabCut: the drawn limbs' cells only
        paf_weights = np.repeat(cover, 2, axis=-1).astype(np.float32)
    else:
        paf_weights = np.ones((n, 1, 1, paf.shape[-1]), np.float32)
    return MultiAnimalTargets(
        scmap,
        weights,
        loc.astype(np.float32),
        mask.astype(np.float32),
        paf,
        paf_weights,
    )
