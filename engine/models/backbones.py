"""Backbones from ``keras.applications``, cut at an output stride, in the registry.

Registered names (DeepLabCut ``net_type`` → short name used in DLC file names):

===================  ============  ===========================  ==========
name                 DLC netname   cut at stride 8 / 16 / 32    channels
===================  ============  ===========================  ==========
mobilenet_v2_0.35    mobnet_35     block_5 / block_12 / 16      16/32/112
mobilenet_v2_0.5     mobnet_50     "                            16/48/160
mobilenet_v2_0.75    mobnet_75     "                            24/72/240
mobilenet_v2_1.0     mobnet_100    "                            32/96/320
resnet_50            resnet50      conv3 / conv4 / conv5 out    512/1024/2048
efficientnet-b0      effnet_b0     block3b / block5c / 7a       40/112/320
===================  ============  ===========================  ==========

``resnet50`` and ``effnet_b0`` are accepted as aliases. Every builder returns a
``keras.Model`` taking RGB float32 images in ``[0, 255]`` (NHWC); the preprocessing the
ImageNet weights expect is a layer inside the model (:class:`ImagePreprocessing`).

Training from scratch: ``keras.applications`` MobileNetV2 uses BatchNorm momentum 0.999,
whose moving statistics lag the weights for thousands of steps (the test error stayed near
300 px in the prototype). Every BatchNorm layer is set to momentum 0.99
(``bn_momentum`` option).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from .._tf import keras
from .pretrained import imagenet_unavailable_error
from .registry import register_backbone

__all__ = [
    "ImagePreprocessing",
    "set_batchnorm_momentum",
    "FusedBatchNormalization",
    "fuse_batchnorm",
    "build_keras_application_backbone",
    "APPLICATION_CUTS",
]

logger = logging.getLogger("posekit.engine.models.backbones")

#: Default BatchNorm momentum for every backbone (see the module docstring).
BN_MOMENTUM = 0.99

# ImageNet "caffe" preprocessing of ResNet-50: BGR, per-channel mean subtracted.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="posekit")
class ImagePreprocessing(keras.layers.Layer):
    """Map RGB float images in ``[0, 255]`` to what ImageNet weights expect.

    Parameters
    ----------
    mode
        ``"tf"``: scale to ``[-1, 1]`` (MobileNetV2); ``"caffe"``: RGB → BGR and
        subtract the ImageNet channel means (ResNet-50); ``"none"``: identity
        (EfficientNet, whose keras.applications model normalises internally).
    **kwargs
        Standard layer arguments (``name``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> layer = ImagePreprocessing("tf")
    >>> np.asarray(layer(np.array([[[[0.0, 127.5, 255.0]]]]))).round(3).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    MODES = ("tf", "caffe", "none")

    def __init__(
        self, mode: Literal["tf", "caffe", "none"] = "tf", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(
                f"ImagePreprocessing mode must be one of {self.MODES}. Received: "
                f"mode={mode!r}"
            )
        self.mode = mode

    def call(self, inputs):  # noqa: D102
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            x = keras.ops.flip(x, axis=-1)
            mean = keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)
            return x - mean
        return x

    def compute_output_shape(self, input_shape):  # noqa: D102
        return input_shape

    def get_config(self) -> dict:  # noqa: D102
        config = super().get_config()
        config.update({"mode": self.mode})
        return config


@keras.saving.register_keras_serializable(package="posekit")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization that trains with TensorFlow's fused kernel.

    Keras 3 computes batch statistics with separate ops (``moments`` then
    ``batch_normalization``); on CPU the fused kernel (``FusedBatchNormV3``) makes a
    MobileNetV2 training step about 20 % faster (40-90 % with oneDNN on). Inference
    (``training=False``), masks, renormalisation, other backends and non-NHWC inputs use
    the standard Keras code, so predictions are unchanged. Same configuration and
    weights as :class:`keras.layers.BatchNormalization`. The moving variance is updated
    with the unbiased batch variance (as TensorFlow's fused kernel returns it).
    """

    def _can_fuse(self, inputs, training, mask) -> bool:
        return (
            bool(training)
            and self.trainable
            and mask is None
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and not self.renorm
            and not self.synchronized
            and keras.backend.standardize_dtype(inputs.dtype) == "float32"
        )

    def call(self, inputs, training=None, mask=None):  # noqa: D102
        if not self._can_fuse(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        from .._tf import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma.value if self.scale else tf.ones((channels,), inputs.dtype)
        beta = self.beta.value if self.center else tf.zeros((channels,), inputs.dtype)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            gamma,
            beta,
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        return outputs


def fuse_batchnorm(model: keras.Model) -> int:
    """Make every plain BatchNormalization layer of ``model`` a fused one (in place).

    The layers keep their configuration and weights; only their class changes to
    :class:`FusedBatchNormalization` (which saves and reloads as such).

    Returns
    -------
    int
        Number of layers changed.

    Examples
    --------
    >>> m = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.BatchNormalization()])
    >>> fuse_batchnorm(m), type(m.layers[0]).__name__
    (1, 'FusedBatchNormalization')
    """
    n = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if type(layer) is keras.layers.BatchNormalization:
            layer.__class__ = FusedBatchNormalization
            n += 1
    return n


def set_batchnorm_momentum(model: keras.Model, momentum: float = BN_MOMENTUM) -> int:
    """Set the momentum of every BatchNormalization layer of ``model`` (recursively).

    Parameters
    ----------
    model
        A Keras model or layer.
    momentum
        New momentum, in ``(0, 1)``.

    Returns
    -------
    int
        Number of layers changed.

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    >>> set_batchnorm_momentum(m, 0.9)
    1
    """
    if not 0.0 < momentum < 1.0:
        raise ValueError(f"momentum must be in (0, 1). Received: momentum={momentum!r}")
    n = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            n += 1
    return n


#: keras.applications constructor, preprocessing mode and cut layer per output stride.
APPLICATION_CUTS: dict[str, dict[int, str]] = {
    "mobilenet_v2": {8: "block_5_add", 16: "block_12_add", 32: "block_16_project_BN"},
    "resnet50": {
        8: "conv3_block4_out",
        16: "conv4_block6_out",
        32: "conv5_block3_out",
    },
    "efficientnet_b0": {8: "block3b_add", 16: "block5c_add", 32: "block7a_project_bn"},
}

_PREPROCESSING = {"mobilenet_v2": "tf", "resnet50": "caffe", "efficientnet_b0": "none"}


def _application(family: str) -> Callable[..., keras.Model]:
    apps = keras.applications
    return {
        "mobilenet_v2": apps.MobileNetV2,
        "resnet50": apps.ResNet50,
        "efficientnet_b0": apps.EfficientNetB0,
    }[family]


def build_keras_application_backbone(
    family: Literal["mobilenet_v2", "resnet50", "efficientnet_b0"],
    input_shape: Sequence[int | None],
    *,
    weights: str | os.PathLike | None = "imagenet",
    output_stride: int = 16,
    alpha: float = 1.0,
    bn_momentum: float = BN_MOMENTUM,
    name: str | None = None,
    registry_name: str | None = None,
) -> keras.Model:
    """Build a ``keras.applications`` network cut at ``output_stride``.

    Parameters
    ----------
    family
        ``"mobilenet_v2"``, ``"resnet50"`` or ``"efficientnet_b0"``.
    input_shape
        ``(height, width, 3)``; ``None`` for sizes fixed only when called.
    weights
        ``"imagenet"`` (downloaded by keras.applications on first use), a path to a
        local ``.h5`` / ``.weights.h5`` file (keras.applications ``no_top`` weights, or
        weights saved from this backbone), or ``None`` (random initialisation; logs a
        warning).
    output_stride
        8, 16 or 32.
    alpha
        MobileNetV2 width multiplier (0.35, 0.5, 0.75, 1.0).
    bn_momentum
        Momentum set on every BatchNorm layer.
    name
        Model name (default ``"<family>_os<stride>"``).
    registry_name
        Name used in messages (the registered backbone name).

    Returns
    -------
    keras.Model
        ``(batch, H, W, 3)`` RGB in ``[0, 255]`` → features at ``output_stride``.

    Raises
    ------
    ValueError
        Unsupported ``output_stride``, a missing weights file or one that does not fit.
    posekit.engine.models.pretrained.ImageNetWeightsUnavailableError
        ``weights="imagenet"`` and the download failed (no internet).

    Examples
    --------
    >>> m = build_keras_application_backbone(
    ...     "mobilenet_v2", (64, 64, 3), weights=None, alpha=0.35
    ... )
    >>> m.output_shape
    (None, 4, 4, 32)
    """
    label = registry_name or family
    cuts = APPLICATION_CUTS[family]
    if output_stride not in cuts:
        raise ValueError(
            f"Backbone {label!r} supports output_stride {sorted(cuts)}. Received: "
            f"output_stride={output_stride!r}"
        )
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(
            f"input_shape must be (height, width, 3). Received: input_shape={shape!r}"
        )
    path: Path | None = None
    if weights is None:
        logger.warning(
            "backbone %r: weights=None, random initialisation (training from scratch "
            "needs more iterations; backbone='efficientnet_lite0' has ImageNet weights "
            "that load offline)",
            label,
        )
    elif isinstance(weights, str) and weights == "imagenet":
        pass
    elif isinstance(weights, str | os.PathLike):
        path = Path(weights)
        if not path.is_file():
            raise ValueError(
                f"weights must be 'imagenet', None or an existing weights file; "
                f"{str(path)!r} does not exist."
            )
        if not path.name.endswith((".h5", ".keras")):
            raise ValueError(
                f"Backbone weights file {str(path)!r} must be a Keras .h5 or "
                ".weights.h5 file."
            )
    else:
        raise ValueError(
            "weights must be 'imagenet', a path to a .h5/.weights.h5 file, or None. "
            f"Received: weights={weights!r}"
        )

    # === Layers / Functional Model ===
    inputs = keras.Input(shape=shape, dtype="float32", name="image")
    x = ImagePreprocessing(_PREPROCESSING[family], name="preprocess")(inputs)
    kwargs: dict[str, Any] = {"include_top": False, "input_tensor": x}
    if family == "mobilenet_v2":
        kwargs["alpha"] = alpha
    app = _application(family)
    app_weights = "imagenet" if weights == "imagenet" else None
    try:
        with warnings.catch_warnings():
            # "weights for input shape (224, 224) will be loaded": irrelevant for a
            # fully convolutional feature extractor
            warnings.filterwarnings(
                "ignore", message=".*input_shape.*", category=UserWarning
            )
            base = app(weights=app_weights, **kwargs)
    except ValueError:
        raise
    except Exception as exc:  # download failure: URL fetch, DNS, proxy, corrupt cache
        if app_weights == "imagenet":
            raise imagenet_unavailable_error(label, exc) from exc
        raise
    cut_output = base.get_layer(cuts[output_stride]).output
    model = keras.Model(inputs, cut_output, name=name or f"{family}_os{output_stride}")
    if path is not None:
        _load_local_weights(base, model, path, label)
    set_batchnorm_momentum(model, bn_momentum)
    return model


def _load_local_weights(
    full: keras.Model, cut: keras.Model, path: Path, label: str
) -> None:
    """Load a local file into the full application model, else into the cut model."""
    errors = []
    for target in (cut, full):
        try:
            with warnings.catch_warnings():
                # Keras skips parts of a file that do not match, with a warning: here
                # a partial load is a failure
                warnings.simplefilter("error", UserWarning)
                target.load_weights(path)
            return
        except Exception as exc:  # noqa: BLE001 - report both attempts below
            errors.append(f"{type(exc).__name__}: {exc}")
    raise ValueError(
        f"Weights file {str(path)!r} does not fit backbone {label!r} (tried the cut "
        f"backbone and the keras.applications no_top model): {errors[-1]}"
    )


def _register_mobilenet(alpha: float, netname: str) -> None:
    name = f"mobilenet_v2_{alpha}"

    @register_backbone(name, dlc_netname=netname, strides=(8, 16, 32))
    def builder(
        input_shape: Sequence[int | None],
        *,
        weights: str | os.PathLike | None = "imagenet",
        output_stride: int = 16,
        **options: Any,
    ) -> keras.Model:
        return build_keras_application_backbone(
            "mobilenet_v2",
            input_shape,
            weights=weights,
            output_stride=output_stride,
            alpha=alpha,
            registry_name=name,
            **options,
        )

    builder.__name__ = f"mobilenet_v2_{str(alpha).replace('.', '')}_backbone"
    builder.__doc__ = f"MobileNetV2 (alpha={alpha}) backbone; see the module docstring."


for _alpha, _netname in (
    (0.35, "mobnet_35"),
    (0.5, "mobnet_50"),
    (0.75, "mobnet_75"),
    (1.0, "mobnet_100"),
):
    _register_mobilenet(_alpha, _netname)


def _register_family(
    family: Literal["resnet50", "efficientnet_b0"], names: Sequence[str], netname: str
) -> None:
    for name in names:

        def builder(
            input_shape: Sequence[int | None],
            *,
            weights: str | os.PathLike | None = "imagenet",
            output_stride: int = 16,
            _name: str = name,
            **options: Any,
        ) -> keras.Model:
            return build_keras_application_backbone(
                family,
                input_shape,
                weights=weights,
                output_stride=output_stride,
                registry_name=_name,
                **options,
            )

        register_backbone(name, dlc_netname=netname, strides=(8, 16, 32))(builder)


_register_family("resnet50", ("resnet_50", "resnet50"), "resnet50")
_register_family("efficientnet_b0", ("efficientnet-b0", "effnet_b0"), "effnet_b0")
