"""The configuration of a pose network, :class:`PoseModelConfig` (no TensorFlow).

Kept apart from :mod:`posekit.engine.models.pose_model` (which builds the Keras
network) so that reading a snapshot's configuration, its scorer name or its TFLite
model's settings does not import TensorFlow: the Analyze app's kernel runs on LiteRT
only. :mod:`posekit.engine.models.pose_model` re-exports both names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .decoder import DEFAULT_LOCREF_STDEV
from .registry import dlc_netname

__all__ = ["INPUT_SCALE_STEP", "PoseModelConfig"]


#: Input scales are multiples of this (1/8), so that a frame padded to a multiple of
#: 8 pixels resizes to a whole number of pixels at exactly that scale.
INPUT_SCALE_STEP = 0.125


@dataclass(frozen=True)
class PoseModelConfig:
    """Configuration of a single-animal pose network (frozen, validated).

    Attributes
    ----------
    bodyparts
        Keypoint names, in output-channel order.
    backbone
        Registered backbone name (:func:`posekit.engine.models.registry.list_backbones`).
    output_stride
        Stride at which the backbone is cut (8, 16 or 32).
    head_stride
        Stride of the score maps (DLC ``stride``: 8; 4 for finer maps).
    locref_stdev
        Scale of the location-refinement targets in pixels (DLC: 7.2801).
    pos_dist_thresh
        Radius in pixels of the positive disk around a keypoint (DLC: 17); also the
        radius within which location refinement is trained.
    scoremap
        ``"gaussian"`` (σ = ``sigma`` pixels; what trains best from scratch) or
        ``"disk"`` (DLC's binary disk of radius ``pos_dist_thresh``).
    sigma
        Gaussian score-map σ in input pixels.
    weights
        Backbone initialisation used when the model is first built: ``"imagenet"``, a
        path to a local weights file, or ``None`` (random).
    bn_momentum
        Momentum of every BatchNorm layer (0.99; see ``backbones``).
    head_filters
        Channels of intermediate upsampling layers (when ``output_stride / head_stride
        > 2``).
    input_scale
        Frames are resized by this factor before the network (a multiple of 1/8, from
        1/8 to 4; DLC's ``global_scale``); predictions come back in frame pixels.
    paf_edges
        Multi-animal models: the part-affinity graph, pairs of bodypart indices
        (DeepLabCut's ``partaffinityfield_graph``); the model then also outputs
        ``"paf"``, ``(batch, h, w, 2E)``. Empty (the default) for single-animal models.

    Examples
    --------
    >>> cfg = PoseModelConfig(bodyparts=("snout", "tail"), weights=None)
    >>> PoseModelConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    bodyparts: tuple[str, ...]
    backbone: str = "mobilenet_v2_0.35"
    output_stride: int = 16
    head_stride: int = 8
    locref_stdev: float = DEFAULT_LOCREF_STDEV
    pos_dist_thresh: float = 17.0
    scoremap: Literal["gaussian", "disk"] = "gaussian"
    sigma: float = 8.5
    weights: str | None = "imagenet"
    bn_momentum: float = 0.99
    head_filters: int = 128
    input_scale: float = 1.0
    paf_edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.bodyparts, str) or not isinstance(self.bodyparts, Sequence):
            raise ValueError(
                "bodyparts must be a sequence of names. Received: "
                f"bodyparts={self.bodyparts!r}"
            )
        parts = tuple(str(b) for b in self.bodyparts)
        if not parts or len(set(parts)) != len(parts):
            raise ValueError(
                f"bodyparts must be non-empty and unique. Received: bodyparts={parts!r}"
            )
        object.__setattr__(self, "bodyparts", parts)
        if self.output_stride not in (8, 16, 32):
            raise ValueError(
                "output_stride must be 8, 16 or 32. Received: "
                f"output_stride={self.output_stride!r}"
            )
        if self.head_stride not in (2, 4, 8, 16, 32) or (
            self.head_stride > self.output_stride
        ):
            raise ValueError(
                "head_stride must be a power of two no larger than output_stride "
                f"({self.output_stride}). Received: head_stride={self.head_stride!r}"
            )
        if self.output_stride // self.head_stride > 8:
            raise ValueError(
                "output_stride / head_stride must be at most 8. Received: "
                f"output_stride={self.output_stride}, head_stride={self.head_stride}"
            )
        for field in ("locref_stdev", "pos_dist_thresh", "sigma"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(
                    f"{field} must be positive. Received: {field}={value!r}"
                )
            object.__setattr__(self, field, float(value))
        if self.scoremap not in ("gaussian", "disk"):
            raise ValueError(
                "scoremap must be 'gaussian' or 'disk'. Received: "
                f"scoremap={self.scoremap!r}"
            )
        if self.weights is not None and not isinstance(self.weights, str):
            object.__setattr__(self, "weights", os.fspath(self.weights))
        if not 0.0 < self.bn_momentum < 1.0:
            raise ValueError(
                f"bn_momentum must be in (0, 1). Received: bn_momentum={self.bn_momentum!r}"
            )
        steps = float(self.input_scale) / INPUT_SCALE_STEP
        if not (1 <= round(steps) <= 32 and abs(steps - round(steps)) < 1e-9):
            raise ValueError(
                "input_scale must be a multiple of 1/8 between 0.125 and 4. Received: "
                f"input_scale={self.input_scale!r}"
            )
        object.__setattr__(self, "input_scale", round(steps) * INPUT_SCALE_STEP)
        self._check_paf_edges()

    def _check_paf_edges(self) -> None:
        """Check the part-affinity edges: distinct pairs of distinct bodypart indices."""
        edges = []
        for edge in self.paf_edges or ():
            try:
                a, b = (int(v) for v in edge)
            except (TypeError, ValueError):
                raise ValueError(
                    f"paf_edges must be pairs of bodypart indices. Received: {edge!r}"
                ) from None
            if not (0 <= a < len(self.bodyparts) and 0 <= b < len(self.bodyparts)):
                raise ValueError(
                    f"paf_edges: ({a}, {b}) is not a pair of the {len(self.bodyparts)} "
                    "bodyparts' indices"
                )
            if a == b:
                raise ValueError(f"paf_edges: ({a}, {b}) joins a bodypart to itself")
            edges.append((a, b))
        if len(set(edges)) != len(edges):
            raise ValueError(f"paf_edges lists an edge twice: {edges}")
        object.__setattr__(self, "paf_edges", tuple(edges))

    @property
    def num_keypoints(self) -> int:
        """Number of bodyparts ``K``."""
        return len(self.bodyparts)

    @property
    def dlc_netname(self) -> str:
        """Short backbone name for DeepLabCut file names (``mobnet_35``)."""
        return dlc_netname(self.backbone)

    def replace(self, **changes: Any) -> PoseModelConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict."""
        d = dataclasses.asdict(self)
        d["bodyparts"] = list(self.bodyparts)
        if self.paf_edges:
            d["paf_edges"] = [list(e) for e in self.paf_edges]
        else:  # single-animal models write what they always wrote
            del d["paf_edges"]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoseModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(
                f"Unknown PoseModelConfig fields {sorted(unknown)}; known: {sorted(names)}"
            )
        data = dict(data)
        if "bodyparts" in data:
            data["bodyparts"] = tuple(data["bodyparts"])
        if "paf_edges" in data:
            data["paf_edges"] = tuple(tuple(e) for e in data["paf_edges"] or ())
        return cls(**data)
