"""The single-animal pose network: registered backbone + DLC deconvolution head.

:class:`PoseModel` is a functional ``keras.Model`` (keras-hub "task" style) built from a
typed :class:`PoseModelConfig`. It maps RGB float32 images in ``[0, 255]``
``(batch, H, W, 3)`` to a dict::

    {"scoremap": (batch, h, w, K) probabilities (sigmoid of the head's logits),
     "locref":   (batch, h, w, 2K) location refinement (dx, dy per bodypart)}

with ``h = H / head_stride`` (rounded up through the backbone's "same" padding). The
model carries its configuration (``model.pose_config``), so a saved ``.keras`` file
reloads, decodes (:meth:`PoseModel.decode`) and predicts identically on its own.

Convolutional weights do not depend on the input size: :func:`rebuild_for_input_shape`
builds the same network for another size (train on 256×256 crops, evaluate on 640×480
frames) and copies the weights.

Frames pass :class:`InputScale` before the backbone: padded at the bottom and right to a
multiple of the backbone stride (a frame of another height shifted every prediction by up
to 10 px) and, with an ``input_scale`` other than 1, resized; training crops are cut
from frames at that scale by the augmentation, and the decoder maps coordinates back
to the frame, so every prediction path (Keras, TFLite) takes frames at their own size.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._fileio import atomic_path
from .._tf import keras
from .backbones import fuse_batchnorm
from .decoder import (
    decode_pose,
    decode_pose_tensor,
)
from .heads import DeconvPoseHead
from .pose_config import INPUT_SCALE_STEP, PoseModelConfig
from .registry import get_backbone

__all__ = [
    "INPUT_SCALE_STEP",
    "InputScale",
    "PoseModelConfig",
    "PoseModel",
    "build_pose_model",
    "rebuild_for_input_shape",
    "save_pose_model",
    "load_pose_model",
]

logger = logging.getLogger("posekit.engine.models.pose_model")


@contextlib.contextmanager
def _quiet(logger_name: str = "posekit.engine.models") -> Iterator[None]:
    """Silence the backbone's warnings (``weights=None``) while rebuilding a model."""
    log = logging.getLogger(logger_name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@keras.saving.register_keras_serializable(package="posekit")
class InputScale(keras.layers.Layer):
    """Pad frames to a multiple of the backbone stride, and resize them by a factor.

    Padding: at the bottom and right, with zeros (the grey level of training crops
    outside the frame), to a multiple of ``multiple`` pixels. Without it, a frame whose
    height is not a multiple of the backbone's stride shifts the score-map grid: with
    TensorFlow's "same" padding every stride-2 layer that gets an odd size centres its
    cells one input pixel earlier, so a 747-pixel-high frame (odd at strides 1 and 8)
    puts every prediction 9 px too low, and a 374-pixel one 10 px (measured). Training
    crops are multiples of 32, so only full frames were affected.

    Resizing (``scale`` not 1): the frame is first padded to a multiple of 8 pixels, so
    that it resizes to exactly ``scale`` times its size (a multiple of 1/8); bilinear,
    half-pixel centres: a position ``u`` in the output is ``(u + 0.5) / scale - 0.5``
    in the input (:func:`~posekit.engine.models.decoder.decode_pose` with
    ``input_scale``). Then the result is padded to ``multiple``.

    Parameters
    ----------
    scale
        The factor (a multiple of 1/8).
    multiple
        Pad the network input to a multiple of this (the backbone's output stride).
    **kwargs
        Standard layer arguments.

    Examples
    --------
    >>> InputScale(0.5, multiple=8)(np.zeros((1, 30, 20, 3), "float32")).shape
    TensorShape([1, 16, 16, 3])
    >>> InputScale(1.0, multiple=16)(np.zeros((1, 374, 416, 3), "float32")).shape
    TensorShape([1, 384, 416, 3])
    """

    def __init__(self, scale: float = 1.0, multiple: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.multiple = int(multiple)

    @staticmethod
    def _pad_to(x, multiple: int):
        from .._tf import tensorflow as tf

        shape = tf.shape(x)
        h, w = shape[1], shape[2]
        hp = (h + multiple - 1) // multiple * multiple
        wp = (w + multiple - 1) // multiple * multiple
        return tf.pad(x, [[0, 0], [0, hp - h], [0, wp - w], [0, 0]])

    def call(self, images):  # noqa: D102
        from .._tf import tensorflow as tf

        x = images
        if self.scale != 1.0:
            x = self._pad_to(x, 8)
            shape = tf.shape(x)
            k = int(round(self.scale / INPUT_SCALE_STEP))
            size = tf.stack([shape[1] // 8 * k, shape[2] // 8 * k])
            x = tf.image.resize(x, size, method="bilinear", antialias=False)
        return self._pad_to(x, self.multiple)

    def compute_output_shape(self, input_shape):  # noqa: D102
        def out(n):
            if n is None:
                return None
            if self.scale != 1.0:
                n = int(math.ceil(n / 8) * 8 * self.scale)
            return int(math.ceil(n / self.multiple) * self.multiple)

        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), 3)

    def get_config(self) -> dict:  # noqa: D102
        return {**super().get_config(), "scale": self.scale, "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="posekit")
class PoseModel(keras.Model):
    """Backbone + :class:`~posekit.engine.models.heads.DeconvPoseHead`, sigmoid score maps.

    Parameters
    ----------
    config
        A :class:`PoseModelConfig` (or its dict).
    input_shape
        ``(height, width, 3)``; ``None`` entries accept any size (each new size
        retraces a ``tf.function``).
    backbone_weights
        Initial backbone weights: ``"imagenet"``, a file, or ``None``. Use
        :func:`build_pose_model` to take them from the config.
    **kwargs
        ``name``, ``trainable``.

    Attributes
    ----------
    pose_config : PoseModelConfig
    backbone : keras.Model
    head : DeconvPoseHead
    """

    def __init__(
        self,
        config: PoseModelConfig | Mapping[str, Any],
        input_shape: Sequence[int | None] = (None, None, 3),
        backbone_weights: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(config, PoseModelConfig):
            config = PoseModelConfig.from_dict(config)
        shape = tuple(None if s is None else int(s) for s in input_shape)
        if len(shape) != 3 or shape[-1] != 3:
            raise ValueError(
                f"input_shape must be (height, width, 3). Received: input_shape={shape!r}"
            )
        # === Layers ===
        spec = get_backbone(config.backbone)
        if config.output_stride not in spec.strides:
            raise ValueError(
                f"Backbone {config.backbone!r} supports output_stride {spec.strides}. "
                f"Received: output_stride={config.output_stride}"
            )
        # the backbone sees the frame after InputScale (resized, padded to the stride)
        scaled = InputScale(
            config.input_scale, multiple=config.output_stride
        ).compute_output_shape((None, *shape))[1:]
        backbone = spec.builder(
            scaled,
            weights=backbone_weights,
            output_stride=config.output_stride,
            bn_momentum=config.bn_momentum,
            name="backbone",
        )
        fuse_batchnorm(backbone)  # faster training on CPU, same predictions
        head = DeconvPoseHead(
            num_keypoints=config.num_keypoints,
            upsample_factor=config.output_stride // config.head_stride,
            intermediate_filters=config.head_filters,
            num_pafs=len(config.paf_edges),
            name="pose_head",
        )
        scoremap_act = keras.layers.Activation("sigmoid", name="scoremap")
        locref_id = keras.layers.Identity(name="locref")

        # === Functional Model ===
        inputs = keras.Input(shape=shape, dtype="float32", name="image")
        x = InputScale(
            config.input_scale, multiple=config.output_stride, name="input_scale"
        )(inputs)
        maps = head(backbone(x))
        outputs = {"scoremap": scoremap_act(maps[0]), "locref": locref_id(maps[1])}
        if config.paf_edges:  # multi-animal: part-affinity fields
            outputs["paf"] = keras.layers.Identity(name="paf")(maps[2])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.pose_config = config
        self.pose_input_shape = shape
        self.backbone = backbone
        self.head = head

    @property
    def stride(self) -> int:
        """Input pixels per score-map cell."""
        return self.pose_config.head_stride

    @property
    def bodyparts(self) -> tuple[str, ...]:
        """Bodypart names in channel order."""
        return self.pose_config.bodyparts

    def call_logits(self, images, training: bool | None = None):
        """``(logits, locref)`` of the head: the training graph (no sigmoid).

        ``images`` are already at the input scale (training crops), unlike the
        model's input (frames, resized inside by ``input_scale``).
        """
        return self.head(self.backbone(images, training=training), training=training)

    def decode(self, outputs: Mapping[str, Any], *, in_graph: bool = False):
        """Model outputs → ``(batch, K, 3)`` ``x, y, likelihood`` in input pixels.

        ``in_graph=True`` uses :func:`~posekit.engine.models.decoder.decode_pose_tensor`
        (for use inside a ``tf.function``); otherwise numpy.
        """
        fn = decode_pose_tensor if in_graph else decode_pose
        if not in_graph:
            outputs = {k: np.asarray(v) for k, v in outputs.items()}
        return fn(
            outputs["scoremap"],
            outputs["locref"],
            stride=self.stride,
            locref_stdev=self.pose_config.locref_stdev,
            input_scale=self.pose_config.input_scale,
        )

    def get_config(self) -> dict:  # noqa: D102
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.pose_config.to_dict(),
            "input_shape": list(self.pose_input_shape),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> PoseModel:  # noqa: D102
        config = dict(config)
        with _quiet():  # weights come from the file being loaded
            return cls(
                config.pop("config"),
                input_shape=tuple(config.pop("input_shape")),
                backbone_weights=None,
                **config,
            )


def build_pose_model(
    config: PoseModelConfig,
    input_shape: Sequence[int | None] = (None, None, 3),
    *,
    name: str = "pose_model",
) -> PoseModel:
    """Build a pose network, initialising the backbone from ``config.weights``.

    Parameters
    ----------
    config
        The model configuration.
    input_shape
        ``(height, width, 3)``; ``(None, None, 3)`` accepts any size.
    name
        Model name.

    Returns
    -------
    PoseModel
        Outputs ``{"scoremap": (b, h, w, K), "locref": (b, h, w, 2K)}``.

    Raises
    ------
    ValueError
        Unknown backbone, unsupported stride, bad weights file.
    posekit.engine.models.pretrained.ImageNetWeightsUnavailableError
        ``weights="imagenet"`` cannot be downloaded.

    Examples
    --------
    >>> cfg = PoseModelConfig(bodyparts=("a", "b"), weights=None)
    >>> model = build_pose_model(cfg, (64, 64, 3))
    >>> model.output_shape  # locref, scoremap (sorted by name)
    [(None, 8, 8, 4), (None, 8, 8, 2)]
    """
    return PoseModel(
        config, input_shape=input_shape, backbone_weights=config.weights, name=name
    )


def rebuild_for_input_shape(
    model: PoseModel, input_shape: Sequence[int | None]
) -> PoseModel:
    """Rebuild the same network for another input size, with ``model``'s weights.

    Parameters
    ----------
    model
        A :class:`PoseModel` (e.g. trained on crops).
    input_shape
        ``(height, width, 3)`` of the new model (e.g. full frames).

    Returns
    -------
    PoseModel
        A new model; later changes to ``model``'s weights are not reflected (copy
        again with ``new.set_weights(model.get_weights())``).
    """
    if not isinstance(model, PoseModel):
        raise TypeError(
            f"rebuild_for_input_shape needs a PoseModel. Received: {type(model).__name__}"
        )
    with _quiet():
        new = PoseModel(
            model.pose_config,
            input_shape=input_shape,
            backbone_weights=None,
            name=model.name,
        )
    new.set_weights(model.get_weights())
    return new


def save_pose_model(model: PoseModel, path: str | os.PathLike) -> Path:
    """Save ``model`` to a ``.keras`` file atomically (a kill leaves the old file).

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"A model file must end in .keras. Received: {str(path)!r}")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # Keras 3 (3.15.1 here) with NumPy 2: ``Model.save`` turns each variable
        # into an array with ``np.array(variable)``
        # (keras.src.backend.tensorflow.core.convert_to_numpy), and Keras'
        # ``KerasVariable.__array__(self, dtype=None)`` takes no ``copy`` keyword,
        # so NumPy warns once per variable. Keras' own code, harmless: hidden here.
        warnings.filterwarnings(
            "ignore",
            message=_NO_COPY_KEYWORD,
            category=DeprecationWarning,
        )
        model.save(tmp)
    return path


#: NumPy 2's warning for an ``__array__`` without a ``copy`` keyword (Keras' variables).
_NO_COPY_KEYWORD = r"__array__ implementation doesn't accept a copy keyword"


def load_pose_model(path: str | os.PathLike) -> PoseModel:
    """Load a :class:`PoseModel` saved with :func:`save_pose_model` (or ``model.save``).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a readable Keras model or not a pose model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file {str(path)!r}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ValueError(
            f"Cannot load pose model {str(path)!r} ({type(exc).__name__}: {exc}); the "
            "file may be truncated or corrupt."
        ) from exc
    if not isinstance(model, PoseModel):
        raise ValueError(
            f"{str(path)!r} holds a {type(model).__name__}, not a posekit PoseModel"
        )
    return model
