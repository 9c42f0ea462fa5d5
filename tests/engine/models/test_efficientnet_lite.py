"""Tests for the Keras EfficientNet-Lite0 and its offline ImageNet weights.

Known answers come from the PyTorch reference (``efficientnet_lite_pytorch`` with the same
state dict), computed by ``benchmarks/lite0_port_check.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from posekit.engine.models import registry  # noqa: E402
from posekit.engine.models.efficientnet_lite import (  # noqa: E402
    build_efficientnet_lite0,
    efficientnet_lite0_backbone,
    efficientnet_lite0_classifier,
    lite0_tensor_specs,
    load_lite0_torch_weights,
)
from posekit.engine.models.pretrained import lite0_imagenet_weights_path  # noqa: E402
from posekit.engine.models.torch_weights import (  # noqa: E402
    StateDictMismatchError,
    load_torch_state_dict,
)

# PyTorch reference on synthetic_image(): top-5 classes and their logits.
REFERENCE_TOP5 = [906, 556, 680, 885, 419]
REFERENCE_TOP5_LOGITS = [7.81933, 5.31902, 5.30418, 5.09605, 5.09073]
# PyTorch reference features on synthetic_image(): (mean, max |x|) per stride.
REFERENCE_FEATURE_STATS = {
    8: (-0.114144, 35.21909),
    16: (-0.068921, 24.24183),
    32: (-0.078922, 9.53384),
}


def synthetic_image(size: int = 224) -> np.ndarray:
    """Deterministic RGB test pattern in [0, 255] (as in the port check)."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    pattern = 127.5 * (1 + np.sin(12 * np.pi * xx) * np.cos(8 * np.pi * yy))
    return np.stack([255 * xx, 255 * yy, pattern], -1).astype(np.float32)


@pytest.fixture(scope="module")
def imagenet_state():
    return load_torch_state_dict(lite0_imagenet_weights_path())


@pytest.fixture(scope="module")
def imagenet_classifier():
    return efficientnet_lite0_classifier(weights="imagenet")


# --------------------------------------------------------------------------------------
# Architecture
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "channels", "head"),
    [(8, 40, False), (16, 112, False), (32, 320, False), (32, 1280, True)],
)
def test_output_shapes(stride, channels, head):
    model = build_efficientnet_lite0(
        (72, 99, 3), weights=None, output_stride=stride, include_head_conv=head
    )
    # "same" padding: ceil(size / stride)
    assert model.output_shape == (None, -(-72 // stride), -(-99 // stride), channels)
    out = model(np.zeros((2, 72, 99, 3), np.float32), training=False)
    assert tuple(out.shape) == (2, -(-72 // stride), -(-99 // stride), channels)


def test_flexible_input_size():
    model = build_efficientnet_lite0((None, None, 3), weights=None, output_stride=16)
    assert tuple(model(np.zeros((1, 64, 48, 3), np.float32)).shape) == (1, 4, 3, 112)


def test_parameter_count_matches_the_state_dict(imagenet_state):
    model = efficientnet_lite0_classifier(weights=None)
    n_torch = sum(
        v.size
        for k, v in imagenet_state.items()
        if not k.endswith("num_batches_tracked")
    )
    assert model.count_params() == n_torch == 4_694_024


def test_batchnorm_settings():
    model = build_efficientnet_lite0((32, 32, 3), weights=None, output_stride=32)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(bns) == 1 + 2 + 15 * 3  # stem, block 0 (no expansion), blocks 1-15
    assert all(bn.momentum == 0.99 and bn.epsilon == 1e-3 for bn in bns)
    relus = [la for la in model.layers if isinstance(la, keras.layers.ReLU)]
    assert relus and all(r.max_value == 6.0 for r in relus)


def test_preprocessing_is_inside_the_model():
    model = build_efficientnet_lite0((32, 32, 3), weights=None, output_stride=8)
    pre = model.get_layer("preprocess")
    out = np.asarray(pre(np.array([[0.0, 127.0, 255.0]], np.float32)))
    np.testing.assert_allclose(out, [[-127 / 128, 0.0, 1.0]], atol=1e-7)


def test_config_round_trip():
    model = build_efficientnet_lite0((32, 40, 3), weights=None, output_stride=16)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 40, 3)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(clone(x, training=False)), np.asarray(model(x, training=False)), 1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output_stride": 4}, "output_stride=4"),
        ({"output_stride": 16, "include_head_conv": True}, "include_head_conv"),
        ({"weights": "imagenet21k"}, "does not exist"),
        ({"weights": 3}, "weights=3"),
        ({"drop_connect_rate": 1.0}, "drop_connect_rate"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_efficientnet_lite0((32, 32, 3), **kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        build_efficientnet_lite0((32, 32, 1), weights=None)


def test_registered_backbone():
    spec = registry._REGISTRY["efficientnet_lite0"]
    assert spec.builder is efficientnet_lite0_backbone
    assert spec.dlc_netname == "effnet_lite0"
    assert spec.strides == (8, 16, 32)
    model = spec.builder((32, 32, 3), weights=None, output_stride=8)
    assert model.output_shape == (None, 4, 4, 40)
    with pytest.raises(TypeError, match="unexpected keyword"):
        spec.builder((32, 32, 3), weights=None, output_stride=8, alpha=0.5)


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------


def test_every_tensor_of_the_shipped_file_is_mapped(imagenet_state):
    specs = lite0_tensor_specs()
    counters = {k for k in imagenet_state if k.endswith("num_batches_tracked")}
    assert set(specs) == set(imagenet_state) - counters  # none missing, none left over
    assert all(
        tuple(imagenet_state[name].shape) == spec.shape for name, spec in specs.items()
    )


def test_imagenet_weights_fill_every_variable(imagenet_state, imagenet_classifier):
    model = imagenet_classifier
    specs = lite0_tensor_specs(model)
    assert all(spec.layer is not None for spec in specs.values())
    # Every variable of the model is covered by exactly one tensor.
    covered = {(s.layer, s.variable) for s in specs.values()}
    variables = {
        (layer.name, i) for layer in model.layers for i in range(len(layer.weights))
    }
    assert covered == variables
    # Spot checks of the layout conversions.
    dw = model.get_layer("block3_dwconv").get_weights()[0]
    np.testing.assert_array_equal(
        dw, imagenet_state["_blocks.3._depthwise_conv.weight"].transpose(2, 3, 0, 1)
    )
    head = model.get_layer("head_conv").get_weights()[0]
    np.testing.assert_array_equal(
        head, imagenet_state["_conv_head.weight"].transpose(2, 3, 1, 0)
    )
    var = model.get_layer("block15_project_bn").get_weights()[3]
    np.testing.assert_array_equal(var, imagenet_state["_blocks.15._bn2.running_var"])
    fc = model.get_layer("predictions").get_weights()[0]
    np.testing.assert_array_equal(fc, imagenet_state["_fc.weight"].T)


def test_imagenet_classification_matches_pytorch(imagenet_classifier):
    x = synthetic_image()[None]
    logits = np.asarray(imagenet_classifier(x, training=False))[0]
    top5 = np.argsort(-logits)[:5]
    assert top5.tolist() == REFERENCE_TOP5
    np.testing.assert_allclose(logits[top5], REFERENCE_TOP5_LOGITS, atol=1e-3)
    # Deterministic: same answer again, and from a freshly built model.
    again = np.asarray(imagenet_classifier(x, training=False))[0]
    np.testing.assert_array_equal(again, logits)
    fresh = efficientnet_lite0_classifier(weights="imagenet")
    np.testing.assert_allclose(
        np.asarray(fresh(x, training=False))[0], logits, atol=1e-5
    )


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_truncated_backbones_match_pytorch(stride):
    model = efficientnet_lite0_backbone((224, 224, 3), output_stride=stride)
    features = np.asarray(model(synthetic_image()[None], training=False))
    mean, max_abs = REFERENCE_FEATURE_STATS[stride]
    assert features.shape == (1, 224 // stride, 224 // stride, model.output_shape[-1])
    np.testing.assert_allclose(features.mean(), mean, atol=1e-4)
    np.testing.assert_allclose(np.abs(features).max(), max_abs, rtol=1e-4)


def test_other_class_count_keeps_the_features():
    model = efficientnet_lite0_classifier(
        (64, 64, 3), weights="imagenet", num_classes=3
    )
    assert model.output_shape == (None, 3)
    reference = efficientnet_lite0_classifier((64, 64, 3), weights="imagenet")
    np.testing.assert_array_equal(
        model.get_layer("head_bn").get_weights()[2],
        reference.get_layer("head_bn").get_weights()[2],
    )


def test_keras_weights_file_round_trip(tmp_path):
    model = build_efficientnet_lite0((32, 32, 3), weights=None, output_stride=16)
    path = tmp_path / "lite0.weights.h5"
    model.save_weights(path)
    loaded = build_efficientnet_lite0((32, 32, 3), weights=path, output_stride=16)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_pth_path_is_accepted(tmp_path, imagenet_state, legacy_pth):
    path = legacy_pth(tmp_path / "copy.pth", imagenet_state)
    model = build_efficientnet_lite0((32, 32, 3), weights=path, output_stride=8)
    np.testing.assert_array_equal(
        model.get_layer("stem_conv").get_weights()[0],
        imagenet_state["_conv_stem.weight"].transpose(2, 3, 1, 0),
    )


@pytest.mark.parametrize("change", ["missing", "extra", "misshaped"])
def test_mismatched_state_dict_fails_with_the_names(
    tmp_path, imagenet_state, legacy_pth, change
):
    state = dict(imagenet_state)
    if change == "missing":
        del state["_blocks.7._bn1.running_var"]  # beyond a stride-8 cut: still required
        names = ["_blocks.7._bn1.running_var"]
    elif change == "extra":
        state["_blocks.16._project_conv.weight"] = np.zeros((8, 8, 1, 1), np.float32)
        names = ["_blocks.16._project_conv.weight"]
    else:
        state["_blocks.2._depthwise_conv.weight"] = np.zeros((144, 1, 5, 5), np.float32)
        names = ["_blocks.2._depthwise_conv.weight", "(144, 1, 5, 5)", "(144, 1, 3, 3)"]
    path = legacy_pth(tmp_path / f"{change}.pth", state)
    with pytest.raises(StateDictMismatchError) as info:
        build_efficientnet_lite0((32, 32, 3), weights=path, output_stride=8)
    for name in names:
        assert name in str(info.value)


def test_classifier_tensors_required_only_with_a_classifier(
    imagenet_state, tmp_path, legacy_pth
):
    state = {k: v for k, v in imagenet_state.items() if not k.startswith("_fc.")}
    path = legacy_pth(tmp_path / "no_fc.pth", state)
    backbone = build_efficientnet_lite0((32, 32, 3), weights=None, output_stride=32)
    # 247 weight tensors, less the head (conv + 4 BatchNorm) and the classifier (2).
    assert len(load_lite0_torch_weights(backbone, path)) == 247 - 5 - 2
    classifier = efficientnet_lite0_classifier((32, 32, 3), weights=None)
    with pytest.raises(StateDictMismatchError, match="_fc.weight, _fc.bias"):
        load_lite0_torch_weights(classifier, path)
