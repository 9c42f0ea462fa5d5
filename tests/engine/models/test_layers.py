"""Shared keras-hub-style layer harness, applied to every custom posekit layer.

``run_layer_test`` checks output shapes, the ``get_config``/``from_config`` and Keras
serialisation round trips, and that a model holding the layer saves to ``.keras`` and
reloads predicting identically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from posekit.engine.models.backbones import (  # noqa: E402
    FusedBatchNormalization,
    ImagePreprocessing,
    fuse_batchnorm,
)
from posekit.engine.models.heads import DeconvPoseHead  # noqa: E402


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


def run_layer_test(
    layer_cls: Callable[..., keras.layers.Layer],
    init_kwargs: dict[str, Any],
    input_data: np.ndarray,
    expected_output_shape: tuple | list[tuple],
    tmp_path: Path,
) -> None:
    """Shapes, config round trips and save/load of one layer on a tiny input."""
    layer = layer_cls(**init_kwargs)
    outputs = layer(input_data)
    shapes = [tuple(o.shape) for o in _as_list(outputs)]
    # a list means several outputs, a tuple one shape
    many = isinstance(expected_output_shape, list)
    expected = [
        tuple(s) for s in (expected_output_shape if many else [expected_output_shape])
    ]
    assert shapes == expected
    # symbolic shape inference agrees with the eager result
    symbolic = layer_cls(**init_kwargs)(
        keras.KerasTensor((None, *input_data.shape[1:]))
    )
    assert [tuple(s.shape[1:]) for s in _as_list(symbolic)] == [e[1:] for e in expected]

    # get_config / from_config round trip
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert config[key] == value
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    # Keras serialisation (registered as posekit>Name)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("posekit>")
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # save / load inside a model predicts identically
    inputs = keras.Input(input_data.shape[1:])
    model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs))
    before = [np.asarray(o) for o in _as_list(model(input_data))]
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = [np.asarray(o) for o in _as_list(loaded(input_data))]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["tf", "caffe", "none"])
def test_image_preprocessing_layer(mode, tmp_path) -> None:
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype("float32")
    run_layer_test(ImagePreprocessing, {"mode": mode}, x, (2, 5, 7, 3), tmp_path)


def test_image_preprocessing_values() -> None:
    x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
    np.testing.assert_allclose(
        np.asarray(ImagePreprocessing("tf")(x)), [[[[-1, 0, 1]]]]
    )
    caffe = np.asarray(ImagePreprocessing("caffe")(x))
    # RGB -> BGR, minus the ImageNet BGR means
    np.testing.assert_allclose(caffe, [[[[255 - 103.939, 127.5 - 116.779, -123.68]]]])
    with pytest.raises(ValueError, match="mode"):
        ImagePreprocessing("torch")


@pytest.mark.parametrize(
    ("factor", "out_hw"), [(1, (3, 4)), (2, (6, 8)), (4, (12, 16))]
)
def test_deconv_pose_head_layer(factor, out_hw, tmp_path) -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 8)).astype("float32")
    kwargs = {"num_keypoints": 3, "upsample_factor": factor, "intermediate_filters": 4}
    run_layer_test(
        DeconvPoseHead, kwargs, x, [(2, *out_hw, 3), (2, *out_hw, 6)], tmp_path
    )


def test_deconv_pose_head_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="upsample_factor"):
        DeconvPoseHead(num_keypoints=2, upsample_factor=3)
    with pytest.raises(ValueError, match="num_keypoints"):
        DeconvPoseHead(num_keypoints=0)


def test_fused_batchnorm_layer(tmp_path) -> None:
    x = np.random.default_rng(2).normal(3.0, 2.0, (4, 5, 6, 3)).astype("float32")
    run_layer_test(
        FusedBatchNormalization, {"momentum": 0.9}, x, (4, 5, 6, 3), tmp_path
    )


def test_fused_batchnorm_matches_keras_batchnorm() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(3.0, 2.0, (4, 5, 6, 3)).astype("float32")
    plain = keras.layers.BatchNormalization(momentum=0.5)
    fused = FusedBatchNormalization(momentum=0.5)
    plain.build(x.shape)
    fused.build(x.shape)
    weights = [rng.normal(size=w.shape).astype("float32") ** 2 for w in plain.weights]
    plain.set_weights(weights)
    fused.set_weights(weights)
    np.testing.assert_allclose(
        np.asarray(fused(x, training=True)),
        np.asarray(plain(x, training=True)),
        atol=1e-4,
    )
    np.testing.assert_allclose(
        fused.moving_mean.numpy(), plain.moving_mean.numpy(), atol=1e-5
    )
    n = 4 * 5 * 6  # fused: unbiased batch variance
    batch_var = x.reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(
        fused.moving_variance.numpy() - plain.moving_variance.numpy(),
        0.5 * batch_var * (n / (n - 1) - 1),
        atol=1e-4,
    )
    # inference runs the standard Keras code: identical outputs for identical weights
    fused.set_weights(plain.get_weights())
    np.testing.assert_array_equal(
        np.asarray(fused(x, training=False)), np.asarray(plain(x, training=False))
    )
    model = keras.Sequential(
        [keras.Input((5, 6, 3)), keras.layers.BatchNormalization()]
    )
    assert fuse_batchnorm(model) == 1
    assert type(model.layers[0]) is FusedBatchNormalization
