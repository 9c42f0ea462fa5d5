"""How unlike its training frames a frame looks to the network (patch novelty).

A network trained on a few labelled frames fails where a frame shows something those
frames never showed: a part it was never taught (a tongue that was always in), a
posture, an object. Its likelihoods do not say so: a part it never learned is unsure
in *every* frame. What does say so is the network's own view of the frame. Each cell
of the backbone's feature map describes one patch of the frame; a patch whose nearest
patch among the training frames is far away shows something new (the nearest-patch
distance of PatchCore, Roth et al. 2022, with the pose network's backbone as the
feature extractor).

:class:`PatchNovelty` is fitted on the training frames' patches and scores frames by
their most novel patch, in units of how novel a training frame is to the other
training frames (leave one out): 1 is as new as a typical training frame is to the
rest; much above 1 is something the training set does not cover.

>>> rng = np.random.default_rng(0)
>>> train = [rng.normal(0, 1, (50, 8)) for _ in range(6)]  # 6 frames, 50 patches each
>>> new = [rng.normal(0, 1, (50, 8)) for _ in range(3)]
>>> new[1][7] += 25.0  # one patch unlike anything seen
>>> scores = PatchNovelty().fit(train).score(new)
>>> (scores > 1.5).tolist()
[False, True, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .models.pose_model import PoseModel

__all__ = ["PatchNovelty", "backbone_features", "fit_to_model_frames"]


def backbone_features(
    model: PoseModel,
    frames: Iterable[np.ndarray],
    *,
    batch_size: int = 8,
    neighbourhood: int = 3,
) -> Iterator[np.ndarray]:
    """Yield each frame's backbone feature map as patch rows ``(h * w, C)``.

    Parameters
    ----------
    model
        A pose model (:meth:`posekit.engine.model_folder.ModelFolder.load`): the frames
        go through its input scaling and backbone, as in prediction.
    frames
        RGB ``uint8`` frames; consecutive frames of one size are batched.
    batch_size
        Frames per backbone call.
    neighbourhood
        Each cell is averaged with its ``neighbourhood × neighbourhood`` neighbours
        (PatchCore's locally aware features: pixel noise averages out, an object
        that covers a few cells does not). 1: the cells as they are.

    Yields
    ------
    numpy.ndarray
        ``(h * w, C)`` float32 per frame, in order.
    """
    from ._tf import tensorflow as tf

    scale = model.get_layer("input_scale")
    backbone = model.backbone
    k = int(neighbourhood)
    if k < 1:
        raise ValueError(f"neighbourhood must be at least 1; got {neighbourhood}")

    def features(x):
        maps = backbone(scale(x), training=False)
        if k > 1:  # 'SAME' averages over the cells inside the map only
            maps = tf.nn.avg_pool2d(maps, k, 1, "SAME")
        return maps

    fn = tf.function(features, reduce_retracing=True)
    batch: list[np.ndarray] = []

    def flush() -> Iterator[np.ndarray]:
        maps = np.asarray(fn(np.stack(batch).astype(np.float32)))
        batch.clear()
        for m in maps:
            yield m.reshape(-1, m.shape[-1])

    for frame in frames:
        frame = np.asarray(frame)
        if batch and (frame.shape != batch[0].shape or len(batch) >= batch_size):
            yield from flush()
        batch.append(frame)
    if batch:
        yield from flush()


def _nearest(query: np.ndarray, bank: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance of each query row to its nearest bank row."""
    bank_sq = np.einsum("ij,ij->i", bank, bank)
    out = np.empty(len(query), np.float32)
    for i in range(0, len(query), chunk):
        q = query[i : i + chunk]
        d = np.einsum("ij,ij->i", q, q)[:, None] + bank_sq[None] - 2.0 * (q @ bank.T)
        out[i : i + chunk] = np.sqrt(np.maximum(d.min(axis=1), 0.0))
    return out


def _most_novel(frame: np.ndarray, bank: np.ndarray) -> float:
    """Distance of a frame's most novel patch ``(P, C)`` to its nearest bank row."""
    return float(_nearest(frame, bank).max())


class PatchNovelty:
    """Score frames by their most novel patch relative to the training frames' patches.

    Parameters
    ----------
    max_patches
        At most this many training patches are kept (a seeded random subset): memory
        and time grow with it.
    seed
        Seed of the subset.

    Attributes
    ----------
    bank_ : numpy.ndarray
        ``(M, C)`` the training patches kept.
    scale_ : float
        Median, over the training frames, of a training frame's most novel patch
        measured against the *other* training frames: the unit of :meth:`score`.
    n_frames_ : int
        Training frames fitted.

    Examples
    --------
    See the module docstring.
    """

    def __init__(self, max_patches: int = 8192, seed: int = 0) -> None:
        self.max_patches = int(max_patches)
        self.seed = int(seed)

    def fit(self, features: Iterable[np.ndarray]) -> PatchNovelty:
        """Keep the training frames' patches and measure their own novelty.

        Parameters
        ----------
        features
            One ``(P, C)`` array of patch features per training frame
            (:func:`backbone_features`).

        Returns
        -------
        PatchNovelty
            ``self``.

        Raises
        ------
        ValueError
            Fewer than two frames (novelty is measured against the other frames), or
            frames with different numbers of channels.
        """
        frames = [
            np.asarray(f, np.float32).reshape(-1, np.shape(f)[-1]) for f in features
        ]
        if len(frames) < 2:
            raise ValueError(
                f"novelty needs at least 2 training frames; got {len(frames)}: "
                "label more frames and train first"
            )
        if len({f.shape[1] for f in frames}) != 1:
            raise ValueError("training frames have feature maps of different depths")
        patches = np.concatenate(frames)
        owner = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
        if len(patches) > self.max_patches:
            keep = np.sort(
                np.random.default_rng(self.seed).choice(
                    len(patches), self.max_patches, replace=False
                )
            )
            patches, owner = patches[keep], owner[keep]
        own = []
        for i, f in enumerate(frames):
            others = patches[owner != i]
            if len(others):
                own.append(_most_novel(f, others))
        self.bank_ = np.ascontiguousarray(patches)
        self.scale_ = max(float(np.median(own)), 1e-6) if own else 1.0
        self.n_frames_ = len(frames)
        return self

    def distances(self, features: Iterable[np.ndarray]) -> np.ndarray:
        """Distance of each frame's most novel patch to its nearest training patch.

        Parameters
        ----------
        features
            One ``(P, C)`` array per frame.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` in feature units.
        """
        if not hasattr(self, "bank_"):
            raise RuntimeError("PatchNovelty is not fitted: call fit() first")
        depth = self.bank_.shape[1]
        return np.asarray(
            [
                _most_novel(np.asarray(f, np.float32).reshape(-1, depth), self.bank_)
                for f in features
            ],
            float,
        )

    def score(self, features: Iterable[np.ndarray]) -> np.ndarray:
        """Novelty of each frame in units of :attr:`scale_` (1: as new as a training frame).

        Parameters
        ----------
        features
            One ``(P, C)`` array per frame.

        Returns
        -------
        numpy.ndarray
            ``(N,)``.
        """
        return self.distances(features) / self.scale_


def fit_to_model_frames(
    model: PoseModel,
    frames: Sequence[np.ndarray],
    *,
    batch_size: int = 8,
    max_patches: int = 8192,
    seed: int = 0,
) -> PatchNovelty:
    """Fit :class:`PatchNovelty` on frames as ``model``'s backbone sees them.

    Parameters
    ----------
    model
        The pose model.
    frames
        The model's training frames (RGB).
    batch_size, max_patches, seed
        As in :func:`backbone_features` and :class:`PatchNovelty`.

    Returns
    -------
    PatchNovelty
    """
    return PatchNovelty(max_patches=max_patches, seed=seed).fit(
        backbone_features(model, frames, batch_size=batch_size)
    )
