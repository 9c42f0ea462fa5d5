"""DeepLabCut-style prediction head: deconvolution to score maps and location refinement.

DeepLabCut (DeeperCut) ends the backbone at stride 16 and upsamples once with a 3×3,
stride-2 transposed convolution per output: ``K`` score-map logits and ``2K`` location
refinement channels (``dx, dy`` per bodypart, in units of ``locref_stdev`` pixels) at
stride 8. For a finer stride (4) or a coarser backbone (stride 32), shared intermediate
transposed convolutions (+ BatchNorm + ReLU) upsample first.

Multi-animal models (DeepLabCut's ``partaffinityfield_predict``) add a third output of
the same kind: ``2E`` part-affinity-field channels, a unit vector ``(dx, dy)`` along each
of the ``E`` edges of the part-affinity graph (:mod:`posekit.engine.multianimal`).
"""

from __future__ import annotations

import math
from typing import Any

from .._tf import keras
from .backbones import FusedBatchNormalization

__all__ = ["DeconvPoseHead"]


@keras.saving.register_keras_serializable(package="posekit")
class DeconvPoseHead(keras.layers.Layer):
    """Features at the backbone stride → ``(scoremap_logits, locref)`` at the head stride.

    Parameters
    ----------
    num_keypoints
        ``K``, the number of bodyparts.
    upsample_factor
        Backbone stride divided by head stride: 1, 2, 4 or 8. ``2`` is DeepLabCut's head
        (one transposed convolution per output).
    intermediate_filters
        Channels of the shared intermediate transposed convolutions (used when
        ``upsample_factor > 2``).
    kernel_size
        Kernel size of the transposed convolutions (DLC: 3).
    num_pafs
        ``E``, the edges of a multi-animal model's part-affinity graph (0: none).
    **kwargs
        Standard layer arguments.

    Returns
    -------
    tuple
        ``logits (batch, h, w, K)`` (apply a sigmoid for score maps) and
        ``locref (batch, h, w, 2K)`` ordered ``dx0, dy0, dx1, dy1, …``; with
        ``num_pafs`` also ``paf (batch, h, w, 2E)`` ordered the same way.

    Examples
    --------
    >>> import numpy as np
    >>> head = DeconvPoseHead(num_keypoints=4)
    >>> logits, locref = head(np.zeros((1, 4, 5, 32), "float32"))
    >>> tuple(logits.shape), tuple(locref.shape)
    ((1, 8, 10, 4), (1, 8, 10, 8))
    """

    def __init__(
        self,
        num_keypoints: int,
        upsample_factor: int = 2,
        intermediate_filters: int = 128,
        kernel_size: int = 3,
        num_pafs: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_pafs, int) or num_pafs < 0:
            raise ValueError(
                f"num_pafs must be an int >= 0. Received: num_pafs={num_pafs!r}"
            )
        if not isinstance(num_keypoints, int) or num_keypoints < 1:
            raise ValueError(
                f"num_keypoints must be a positive int. Received: "
                f"num_keypoints={num_keypoints!r}"
            )
        if upsample_factor not in (1, 2, 4, 8):
            raise ValueError(
                "upsample_factor must be 1, 2, 4 or 8. Received: "
                f"upsample_factor={upsample_factor!r}"
            )
        # === Config ===
        self.num_keypoints = num_keypoints
        self.upsample_factor = upsample_factor
        self.intermediate_filters = intermediate_filters
        self.kernel_size = kernel_size
        self.num_pafs = num_pafs

        # === Layers ===
        n_steps = int(round(math.log2(upsample_factor)))
        self.intermediate: list[keras.layers.Layer] = []
        for i in range(max(n_steps - 1, 0)):
            self.intermediate += [
                keras.layers.Conv2DTranspose(
                    intermediate_filters,
                    kernel_size,
                    strides=2,
                    padding="same",
                    use_bias=False,
                    dtype=self.dtype_policy,
                    name=f"upsample_{i}",
                ),
                FusedBatchNormalization(
                    momentum=0.99, dtype=self.dtype_policy, name=f"upsample_{i}_bn"
                ),
                keras.layers.ReLU(dtype=self.dtype_policy, name=f"upsample_{i}_relu"),
            ]
        if upsample_factor == 1:

            def final(filters: int, name: str) -> keras.layers.Layer:
                return keras.layers.Conv2D(
                    filters,
                    kernel_size,
                    padding="same",
                    dtype=self.dtype_policy,
                    name=name,
                )
        else:

            def final(filters: int, name: str) -> keras.layers.Layer:
                return keras.layers.Conv2DTranspose(
                    filters,
                    kernel_size,
                    strides=2,
                    padding="same",
                    dtype=self.dtype_policy,
                    name=name,
                )

        self.scoremap_conv = final(num_keypoints, "scoremap_logits")
        self.locref_conv = final(2 * num_keypoints, "locref")
        self.paf_conv = final(2 * num_pafs, "paf") if num_pafs else None

    def build(self, input_shape):  # noqa: D102
        shape = tuple(input_shape)
        for layer in self.intermediate:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.scoremap_conv.build(shape)
        self.locref_conv.build(shape)
        if self.paf_conv is not None:
            self.paf_conv.build(shape)
        self.built = True

    def call(self, features, training=None):  # noqa: D102
        x = features
        for layer in self.intermediate:
            if isinstance(layer, keras.layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        if self.paf_conv is not None:
            return self.scoremap_conv(x), self.locref_conv(x), self.paf_conv(x)
        return self.scoremap_conv(x), self.locref_conv(x)

    def compute_output_shape(self, input_shape):  # noqa: D102
        batch, h, w = input_shape[0], input_shape[1], input_shape[2]
        f = self.upsample_factor
        h = None if h is None else h * f
        w = None if w is None else w * f
        k = self.num_keypoints
        if self.num_pafs:
            return (
                (batch, h, w, k),
                (batch, h, w, 2 * k),
                (batch, h, w, 2 * self.num_pafs),
            )
        return (batch, h, w, k), (batch, h, w, 2 * k)

    def get_config(self) -> dict:  # noqa: D102
        config = super().get_config()
        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "upsample_factor": self.upsample_factor,
                "intermediate_filters": self.intermediate_filters,
                "kernel_size": self.kernel_size,
            }
        )
        if self.num_pafs:  # single-animal heads keep their saved configuration
            config["num_pafs"] = self.num_pafs
        return config
