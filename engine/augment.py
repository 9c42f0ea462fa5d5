"""Keypoint-aware, seeded data augmentation for training on fixed-size crops.

One affine transform (scale, rotation, optional left/right mirror, translation to a crop)
is applied to the image with ``cv2.warpAffine`` and to the keypoints with the same matrix,
so they cannot disagree. Keypoints that leave the crop become NaN. Photometric changes
(contrast, brightness, Gaussian blur) follow.

Where the crop goes matters when training from scratch: about half of the crops are
centred on the animal (jittered) and the rest are drawn anywhere in the frame, so the
network also sees the parts of the arena where no labelled animal ever sits (on the
openfield data every labelled mouse is at x ≤ 236 px; animal-centred crops alone left the
test error near 300 px).

Mirroring swaps the channels of symmetric bodyparts (``("leftear", "rightear")``), so a
left ear stays a left ear in the animal's own frame.

Besides the crop and its keypoints, :func:`augment` can return which keypoints are
*known* in the frame (``return_labelled``): placed, or marked not visible (``absent``),
relabelled by the mirror as the keypoints are. A known keypoint that is NaN in the crop
(it left the crop, or is not visible) is absent there, which training needs to tell
from a keypoint nobody placed (``weigh_only_present_joints``,
:mod:`posekit.engine.targets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = [
    "AugmentConfig",
    "Augmenter",
    "flip_permutation",
    "sample_affine",
    "warp_affine",
    "augment",
]


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a (low, high) pair. Received: {name}={value!r}"
        ) from None
    if lo > hi:
        raise ValueError(f"{name} must have low <= high. Received: {name}={value!r}")
    return lo, hi


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (frozen, validated).

    Attributes
    ----------
    crop_size
        ``(height, width)`` of the training crops.
    scale_range
        Uniform zoom factor range (output pixels per input pixel).
    rotation_deg
        Rotation drawn uniformly in ``±rotation_deg`` degrees.
    animal_crop_fraction
        Probability that a crop is centred on the animal (the mean of its labelled
        keypoints, jittered); otherwise the crop is drawn anywhere in the frame.
    animal_jitter
        Jitter of animal-centred crops, as a fraction of the crop size (uniform in
        ``±animal_jitter * crop / 2``).
    contrast_range
        Contrast factor range (about the crop mean).
    brightness_delta
        Brightness offset drawn uniformly in ``±brightness_delta`` (0–255 scale).
    blur_probability
        Probability of a Gaussian blur.
    blur_sigma
        Range of the blur σ in pixels.
    flip_probability
        Probability of a left/right mirror (needs the symmetric pairs to be correct).
    border_value
        Grey level outside the frame.

    Examples
    --------
    >>> AugmentConfig(crop_size=(128, 128)).crop_size
    (128, 128)
    >>> AugmentConfig.from_dict(AugmentConfig().to_dict()) == AugmentConfig()
    True
    """

    crop_size: tuple[int, int] = (256, 256)
    scale_range: tuple[float, float] = (0.75, 1.25)
    rotation_deg: float = 25.0
    animal_crop_fraction: float = 0.5
    animal_jitter: float = 0.5
    contrast_range: tuple[float, float] = (0.75, 1.25)
    brightness_delta: float = 25.0
    blur_probability: float = 0.1
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    flip_probability: float = 0.0
    border_value: int = 0

    def __post_init__(self) -> None:
        try:
            h, w = (int(v) for v in self.crop_size)
        except (TypeError, ValueError):
            raise ValueError(
                f"crop_size must be (height, width). Received: crop_size={self.crop_size!r}"
            ) from None
        if h < 8 or w < 8:
            raise ValueError(f"crop_size must be at least 8×8. Received: {(h, w)!r}")
        object.__setattr__(self, "crop_size", (h, w))
        for name in ("scale_range", "contrast_range", "blur_sigma"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if self.scale_range[0] <= 0:
            raise ValueError(
                f"scale_range must be positive. Received: {self.scale_range}"
            )
        for name in ("animal_crop_fraction", "blur_probability", "flip_probability"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"{name} must be in [0, 1]. Received: {name}={value!r}"
                )
            object.__setattr__(self, name, value)
        for name in ("rotation_deg", "brightness_delta", "animal_jitter"):
            value = float(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={value!r}")
            object.__setattr__(self, name, value)

    @classmethod
    def none(cls, crop_size: Sequence[int] = (256, 256)) -> AugmentConfig:
        """Crops only: no scale, rotation, photometric change or mirror."""
        return cls(
            crop_size=tuple(crop_size),
            scale_range=(1.0, 1.0),
            rotation_deg=0.0,
            contrast_range=(1.0, 1.0),
            brightness_delta=0.0,
            blur_probability=0.0,
            flip_probability=0.0,
        )

    def replace(self, **changes: Any) -> AugmentConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AugmentConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(
                f"Unknown AugmentConfig fields {sorted(unknown)}; known: {sorted(names)}"
            )
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        )


def flip_permutation(
    bodyparts: Sequence[str], pairs: Sequence[tuple[str, str]]
) -> np.ndarray:
    """Channel permutation that swaps each symmetric pair.

    Parameters
    ----------
    bodyparts
        Names in channel order.
    pairs
        ``(left, right)`` name pairs.

    Returns
    -------
    numpy.ndarray
        ``perm`` such that ``keypoints[:, perm]`` relabels a mirrored animal.

    Raises
    ------
    ValueError
        A name that is not a bodypart, or a bodypart in two pairs.

    Examples
    --------
    >>> flip_permutation(["snout", "leftear", "rightear"], [("leftear", "rightear")])
    array([0, 2, 1])
    """
    names = list(bodyparts)
    perm = np.arange(len(names))
    used: set[str] = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"flip pairs must be (left, right). Received: {pair!r}")
        a, b = pair
        for n in (a, b):
            if n not in names:
                raise ValueError(
                    f"flip pair {pair!r}: {n!r} is not a bodypart; bodyparts: {names}"
                )
            if n in used:
                raise ValueError(f"bodypart {n!r} appears in more than one flip pair")
            used.add(n)
        i, j = names.index(a), names.index(b)
        perm[i], perm[j] = j, i
    return perm


def sample_affine(
    image_shape: Sequence[int],
    keypoints: np.ndarray,
    config: AugmentConfig,
    rng: np.random.Generator,
    *,
    flip: bool = False,
) -> np.ndarray:
    """Draw the 2×3 matrix that maps frame pixels to crop pixels.

    Parameters
    ----------
    image_shape
        ``(H, W, …)`` of the frame.
    keypoints
        ``(K, 2)`` of this frame (NaN for missing); sets animal-centred crops.
    config
        Augmentation settings.
    rng
        Random generator.
    flip
        Mirror left/right.

    Returns
    -------
    numpy.ndarray
        ``(2, 3)`` float64 affine matrix, ``crop_xy = M @ [x, y, 1]``.
    """
    frame_h, frame_w = int(image_shape[0]), int(image_shape[1])
    crop_h, crop_w = config.crop_size
    scale = rng.uniform(*config.scale_range)
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
    # source extent covered by the crop
    half_w, half_h = crop_w / (2 * scale), crop_h / (2 * scale)
    valid = np.isfinite(keypoints).all(axis=-1)
    if valid.any() and rng.uniform() < config.animal_crop_fraction:
        centre = keypoints[valid].mean(axis=0)
        jitter = config.animal_jitter * np.array([half_w, half_h])
        centre = centre + rng.uniform(-1.0, 1.0, 2) * jitter
    else:
        lo = np.array([half_w, half_h])
        hi = np.array([frame_w - 1 - half_w, frame_h - 1 - half_h])
        mid = np.array([(frame_w - 1) / 2, (frame_h - 1) / 2])
        lo, hi = np.where(lo <= hi, lo, mid), np.where(lo <= hi, hi, mid)
        centre = rng.uniform(lo, hi)
    cos, sin = np.cos(angle), np.sin(angle)
    a = scale * np.array([[cos, -sin], [sin, cos]])
    if flip:
        a = a @ np.diag([-1.0, 1.0])
    dst_centre = np.array([(crop_w - 1) / 2, (crop_h - 1) / 2])
    t = dst_centre - a @ centre
    return np.hstack([a, t[:, None]])


def warp_affine(
    image: np.ndarray,
    keypoints: np.ndarray,
    matrix: np.ndarray,
    out_size: Sequence[int],
    *,
    border_value: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one affine matrix to an image and its keypoints.

    Parameters
    ----------
    image
        ``(H, W, C)`` frame.
    keypoints
        ``(K, 2)`` pixel coordinates (NaN for missing).
    matrix
        ``(2, 3)`` frame → output.
    out_size
        ``(height, width)`` of the output.
    border_value
        Fill value outside the frame.

    Returns
    -------
    image : numpy.ndarray
        ``(height, width, C)`` same dtype.
    keypoints : numpy.ndarray
        ``(K, 2)`` float32; NaN where missing or outside ``[0, width) × [0, height)``.

    Examples
    --------
    >>> img = np.zeros((10, 10, 3), np.uint8)
    >>> m = np.array([[1.0, 0, -2], [0, 1.0, -3]])
    >>> warp_affine(img, np.array([[5.0, 5.0], [1.0, 1.0]]), m, (6, 6))[1].tolist()
    [[3.0, 2.0], [nan, nan]]
    """
    out_h, out_w = int(out_size[0]), int(out_size[1])
    warped = cv2.warpAffine(
        image,
        np.asarray(matrix, np.float64),
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border_value,) * 4,
    )
    if warped.ndim == 2 and image.ndim == 3:
        warped = warped[..., None]
    kp = np.asarray(keypoints, np.float64)
    moved = kp @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]
    with np.errstate(invalid="ignore"):
        inside = (
            (moved[:, 0] >= 0)
            & (moved[:, 0] < out_w)
            & (moved[:, 1] >= 0)
            & (moved[:, 1] < out_h)
        )
    moved[~inside] = np.nan
    return warped, moved.astype(np.float32)


def _photometric(
    image: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    contrast = rng.uniform(*config.contrast_range)
    brightness = rng.uniform(-config.brightness_delta, config.brightness_delta)
    blur = rng.uniform() < config.blur_probability
    sigma = rng.uniform(*config.blur_sigma)
    if contrast == 1.0 and brightness == 0.0 and not blur:
        return image
    out = image.astype(np.float32)
    if contrast != 1.0 or brightness != 0.0:
        mean = float(out.mean())
        out = (out - mean) * contrast + mean + brightness
    if blur:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return np.clip(out, 0, 255).astype(image.dtype)


def augment(
    image: np.ndarray,
    keypoints: np.ndarray,
    config: AugmentConfig,
    rng: np.random.Generator,
    *,
    flip_perm: np.ndarray | None = None,
    return_labelled: bool = False,
    absent: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Augment one frame into a crop of ``config.crop_size``.

    Parameters
    ----------
    image
        ``(H, W, 3)`` uint8 RGB frame.
    keypoints
        ``(K, 2)`` pixel coordinates, NaN for missing.
    config
        Augmentation settings.
    rng
        Random generator (seeded by the caller).
    flip_perm
        Channel permutation of symmetric bodyparts (:func:`flip_permutation`); with
        ``None`` no mirror is drawn.
    return_labelled
        Also return which keypoints are known in the frame: placed, or in
        ``absent`` (after the mirror's relabelling). A known keypoint that is NaN in
        the crop (it left the crop, or is not visible) is *known to be absent*: an
        empty score map with full weight even when only present joints weigh
        (:mod:`posekit.engine.targets`), unlike a keypoint nobody placed.
    absent
        ``(K,)`` bool: keypoints marked not visible in the frame (the labeller's
        marks); ``None``: none. The random draws do not depend on it.

    Returns
    -------
    crop : numpy.ndarray
        ``(crop_h, crop_w, 3)`` uint8.
    keypoints : numpy.ndarray
        ``(K, 2)`` float32 in crop pixels, NaN outside the crop.
    labelled : numpy.ndarray
        ``(K,)`` bool, only with ``return_labelled``.

    Raises
    ------
    ValueError
        ``keypoints`` not ``(K, 2)``, or ``absent`` not ``(K,)``.

    Examples
    --------
    A left ear marked not visible is a known right ear once mirrored:

    >>> cfg = AugmentConfig.none((32, 32)).replace(flip_probability=1.0)
    >>> kp = np.array([[np.nan, np.nan], [10.0, 10.0], [np.nan, np.nan]])
    >>> _, _, known = augment(np.zeros((32, 32, 3), np.uint8), kp, cfg,
    ...                       np.random.default_rng(0), flip_perm=np.array([1, 0, 2]),
    ...                       return_labelled=True, absent=np.array([True, False, False]))
    >>> known.tolist()
    [True, True, False]
    """
    keypoints = np.asarray(keypoints, np.float64)
    if keypoints.ndim != 2 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (K, 2). Received shape {keypoints.shape}")
    flip = flip_perm is not None and rng.uniform() < config.flip_probability
    matrix = sample_affine(image.shape, keypoints, config, rng, flip=flip)
    crop, kp = warp_affine(
        image, keypoints, matrix, config.crop_size, border_value=config.border_value
    )
    labelled = np.isfinite(keypoints).all(axis=-1)
    if absent is not None:
        absent = np.asarray(absent, dtype=bool)
        if absent.shape != labelled.shape:
            raise ValueError(
                f"absent must be (K,) = {labelled.shape}. Received shape {absent.shape}"
            )
        labelled = labelled | absent
    if flip:
        kp = kp[flip_perm]
        labelled = labelled[flip_perm]
    crop = _photometric(crop, config, rng)
    return (crop, kp, labelled) if return_labelled else (crop, kp)


class Augmenter:
    """Callable ``(image, keypoints, rng) -> (crop, keypoints)`` with fixed settings.

    Parameters
    ----------
    config
        Augmentation settings.
    bodyparts
        Names in channel order (needed for ``flip_pairs``).
    flip_pairs
        Symmetric ``(left, right)`` pairs swapped by a mirror. Without pairs, mirroring
        is disabled (``flip_probability`` is ignored) unless ``allow_unpaired_flip``.
    allow_unpaired_flip
        Mirror even with no pairs (for animals without left/right bodyparts).

    Examples
    --------
    >>> aug = Augmenter(AugmentConfig(crop_size=(32, 32)))
    >>> crop, kp = aug(np.zeros((64, 64, 3), np.uint8), np.array([[30.0, 30.0]]),
    ...                np.random.default_rng(0))
    >>> crop.shape, kp.shape
    ((32, 32, 3), (1, 2))
    """

    def __init__(
        self,
        config: AugmentConfig,
        bodyparts: Sequence[str] | None = None,
        flip_pairs: Sequence[tuple[str, str]] = (),
        *,
        allow_unpaired_flip: bool = False,
    ) -> None:
        self.config = config
        self.flip_perm: np.ndarray | None = None
        if flip_pairs:
            if bodyparts is None:
                raise ValueError("flip_pairs need the bodypart names (bodyparts=...)")
            self.flip_perm = flip_permutation(bodyparts, flip_pairs)
        elif allow_unpaired_flip and bodyparts is not None:
            self.flip_perm = np.arange(len(bodyparts))

    def __call__(
        self,
        image: np.ndarray,
        keypoints: np.ndarray,
        rng: np.random.Generator,
        *,
        return_labelled: bool = False,
        absent: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Augment one frame (see :func:`augment`)."""
        return augment(
            image,
            keypoints,
            self.config,
            rng,
            flip_perm=self.flip_perm,
            return_labelled=return_labelled,
            absent=absent,
        )

    def batch(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        indices: Sequence[int],
        rng: np.random.Generator,
        *,
        return_labelled: bool = False,
        absent: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Augment ``images[i]`` for each ``i`` in ``indices``.

        ``absent`` (``(n_images, K)`` bool, rows as ``keypoints``): the points marked
        not visible (see :func:`augment`).

        Returns
        -------
        crops : numpy.ndarray
            ``(B, crop_h, crop_w, 3)`` uint8.
        keypoints : numpy.ndarray
            ``(B, K, 2)`` float32, NaN outside the crop or not labelled.
        labelled : numpy.ndarray
            ``(B, K)`` bool, only with ``return_labelled``: placed or marked not
            visible (see :func:`augment`).
        """
        out = [
            self(
                images[i],
                keypoints[i],
                rng,
                return_labelled=True,
                absent=None if absent is None else absent[i],
            )
            for i in indices
        ]
        crops = np.stack([o[0] for o in out])
        kps = np.stack([o[1] for o in out])
        if return_labelled:
            return crops, kps, np.stack([o[2] for o in out])
        return crops, kps
