"""Keypoint-aware augmentation of frames with several animals.

The single-animal recipe (:mod:`posekit.engine.augment`: one affine transform for the
image and every keypoint, photometric changes after) with two differences:

- an animal-centred crop centres on *one* animal, drawn at random among those labelled
  in the frame (the mean of all animals would often fall between them, on the floor);
- a left/right mirror swaps the symmetric bodyparts of every animal (and of the unique
  bodyparts), never the animals themselves.

Keypoints are flat, ``(n_slots, 2)`` in :class:`~.layout.MultiAnimalLayout` column
order. Besides the keypoints inside the crop (NaN outside), the augmenter returns them
transformed but not clipped, for the part-affinity fields of limbs that leave the crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..augment import AugmentConfig, _photometric, sample_affine, warp_affine
from .layout import MultiAnimalLayout

__all__ = ["MultiAnimalAugmenter"]


class MultiAnimalAugmenter:
    """Augment multi-animal frames into fixed-size crops.

    Parameters
    ----------
    config
        Augmentation settings (crop size, zoom, rotation, photometric, mirror).
    layout
        Individuals and bodyparts (the order of the flat keypoints).
    flip_pairs
        Symmetric ``(left, right)`` bodypart pairs; without pairs there is no mirror.

    Examples
    --------
    >>> layout = MultiAnimalLayout(("a", "b"), ("nose", "tail"))
    >>> aug = MultiAnimalAugmenter(AugmentConfig(crop_size=(32, 32)), layout)
    >>> kp = np.array([[10.0, 10], [20, 10], [40, 40], [50, 40]])
    >>> crop, inside, labelled, moved = aug(np.zeros((64, 64, 3), np.uint8), kp,
    ...                                     np.random.default_rng(0))
    >>> crop.shape, inside.shape, labelled.tolist()
    ((32, 32, 3), (4, 2), [True, True, True, True])
    """

    def __init__(
        self,
        config: AugmentConfig,
        layout: MultiAnimalLayout,
        flip_pairs: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.config = config
        self.layout = layout
        self.flip_perm = layout.flip_slots(flip_pairs) if flip_pairs else None

    def _centre_keypoints(
        self, keypoints: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Pick the keypoints of one labelled animal (or the unique parts) to centre on."""
        multi, unique = self.layout.unflatten(keypoints)
        groups = [m for m in multi if np.isfinite(m).all(axis=-1).any()]
        if len(unique) and np.isfinite(unique).all(axis=-1).any():
            groups.append(unique)
        if not groups:
            return keypoints
        return groups[int(rng.integers(len(groups)))]

    def __call__(
        self,
        image: np.ndarray,
        keypoints: np.ndarray,
        rng: np.random.Generator,
        absent: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Augment one frame.

        Parameters
        ----------
        image
            ``(H, W, 3)`` uint8 RGB.
        keypoints
            ``(n_slots, 2)`` frame pixels, NaN for unlabelled.
        rng
            Random generator.
        absent
            ``(n_slots,)`` bool: points marked "not visible" in the labeller, known
            to be absent (they count as labelled).

        Returns
        -------
        crop : numpy.ndarray
            ``(crop_h, crop_w, 3)`` uint8.
        inside : numpy.ndarray
            ``(n_slots, 2)`` float32 crop pixels, NaN outside the crop or unlabelled.
        labelled : numpy.ndarray
            ``(n_slots,)`` bool: known in the frame, placed or marked not visible
            (after the mirror's relabelling).
        moved : numpy.ndarray
            ``(n_slots, 2)`` float32 crop pixels, not clipped to the crop.
        """
        kp = np.asarray(keypoints, np.float64)
        if kp.ndim != 2 or kp.shape != (self.layout.n_slots, 2):
            raise ValueError(
                f"keypoints must be ({self.layout.n_slots}, 2). Received {kp.shape}"
            )
        cfg = self.config
        flip = self.flip_perm is not None and rng.uniform() < cfg.flip_probability
        matrix = sample_affine(
            image.shape, self._centre_keypoints(kp, rng), cfg, rng, flip=flip
        )
        crop, inside = warp_affine(
            image, kp, matrix, cfg.crop_size, border_value=cfg.border_value
        )
        moved = (kp @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
        labelled = np.isfinite(kp).all(axis=-1)
        if absent is not None:
            absent = np.asarray(absent, dtype=bool)
            if absent.shape != labelled.shape:
                raise ValueError(
                    f"absent must be ({self.layout.n_slots},). Received {absent.shape}"
                )
            labelled = labelled | absent
        if flip:
            inside, moved, labelled = (
                inside[self.flip_perm],
                moved[self.flip_perm],
                labelled[self.flip_perm],
            )
        return _photometric(crop, cfg, rng), inside, labelled, moved

    def batch(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        indices: Sequence[int],
        rng: np.random.Generator,
        *,
        return_labelled: bool = False,
        return_moved: bool = False,
        absent: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Augment ``images[i]`` for each ``i`` in ``indices``.

        ``absent`` (``(n_images, n_slots)`` bool, rows as ``keypoints``): the points
        marked not visible, which ``labelled`` counts as known.

        Returns
        -------
        tuple of numpy.ndarray
            ``crops (B, h, w, 3)``, ``inside (B, n_slots, 2)``; with
            ``return_labelled`` also ``labelled (B, n_slots)``; with
            ``return_moved`` also ``moved (B, n_slots, 2)``.
        """
        out = [
            self(images[i], keypoints[i], rng, None if absent is None else absent[i])
            for i in indices
        ]
        result = [np.stack([o[0] for o in out]), np.stack([o[1] for o in out])]
        if return_labelled:
            result.append(np.stack([o[2] for o in out]))
        if return_moved:
            result.append(np.stack([o[3] for o in out]))
        return tuple(result)
