"""keras.applications backbones: registry names, cut strides, BatchNorm momentum, weights."""

from __future__ import annotations

import logging

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from posekit.engine.models import backbones  # noqa: E402
from posekit.engine.models.backbones import ImagePreprocessing  # noqa: E402
from posekit.engine.models.pretrained import (  # noqa: E402
    ImageNetWeightsUnavailableError,
)
from posekit.engine.models.registry import get_backbone, list_backbones  # noqa: E402

# name -> (DLC netname, channels at stride 16)
EXPECTED = {
    "mobilenet_v2_0.35": ("mobnet_35", 32),
    "mobilenet_v2_0.5": ("mobnet_50", 48),
    "mobilenet_v2_0.75": ("mobnet_75", 72),
    "mobilenet_v2_1.0": ("mobnet_100", 96),
    "resnet_50": ("resnet50", 1024),
    "resnet50": ("resnet50", 1024),
    "efficientnet-b0": ("effnet_b0", 112),
    "effnet_b0": ("effnet_b0", 112),
}


def _bn_momenta(model) -> set[float]:
    return {
        layer.momentum
        for layer in model._flatten_layers(recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_all_names_registered_with_dlc_netnames() -> None:
    names = set(list_backbones())
    assert set(EXPECTED) <= names
    assert "efficientnet_lite0" in names  # registered through the module list
    for name, (netname, _) in EXPECTED.items():
        assert get_backbone(name).dlc_netname == netname


@pytest.mark.parametrize("name", ["mobilenet_v2_0.35", "resnet_50", "efficientnet-b0"])
def test_backbone_cut_at_stride_16_with_momentum_099(name, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="posekit"):
        model = get_backbone(name).builder((64, 96, 3), weights=None)
    assert "random initialisation" in caplog.text
    assert model.output_shape == (None, 4, 6, EXPECTED[name][1])
    assert _bn_momenta(model) == {0.99}
    assert any(isinstance(layer, ImagePreprocessing) for layer in model.layers)


@pytest.mark.parametrize(("stride", "shape"), [(8, (8, 8, 16)), (32, (2, 2, 112))])
def test_mobilenet_other_strides(stride, shape) -> None:
    model = get_backbone("mobilenet_v2_0.35").builder(
        (64, 64, 3), weights=None, output_stride=stride
    )
    assert model.output_shape == (None, *shape)
    with pytest.raises(ValueError, match="output_stride"):
        get_backbone("mobilenet_v2_0.35").builder(
            (64, 64, 3), weights=None, output_stride=4
        )


def test_imagenet_download_failure_is_explained(monkeypatch) -> None:
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "get_file", no_network)
    with pytest.raises(ImageNetWeightsUnavailableError) as info:
        get_backbone("mobilenet_v2_0.35").builder((64, 64, 3), weights="imagenet")
    message = str(info.value)
    assert "mobilenet_v2_0.35" in message
    assert "weights=None" in message and "efficientnet_lite0" in message
    assert "URL fetch failure" in message


def test_local_weights_files(tmp_path) -> None:
    builder = get_backbone("mobilenet_v2_0.35").builder
    # (1) keras.applications no_top weights (the full network)
    full = keras.applications.MobileNetV2(
        input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None
    )
    rng = np.random.default_rng(0)
    full.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in full.get_weights()]
    )
    full.save_weights(tmp_path / "full.weights.h5")
    cut = builder((64, 64, 3), weights=tmp_path / "full.weights.h5")
    conv1 = full.get_layer("Conv1").get_weights()[0]
    np.testing.assert_array_equal(cut.get_layer("Conv1").get_weights()[0], conv1)
    # (2) weights saved from the cut backbone itself
    cut.save_weights(tmp_path / "cut.weights.h5")
    again = builder((64, 64, 3), weights=str(tmp_path / "cut.weights.h5"))
    for a, b in zip(cut.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # (3) a missing file or a file of another network
    with pytest.raises(ValueError, match="does not exist"):
        builder((64, 64, 3), weights=tmp_path / "missing.weights.h5")
    other = get_backbone("mobilenet_v2_1.0").builder((64, 64, 3), weights=None)
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ValueError, match="does not fit"):
        builder((64, 64, 3), weights=tmp_path / "other.weights.h5")


def test_set_batchnorm_momentum_counts_layers() -> None:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.5)]
    )
    assert backbones.set_batchnorm_momentum(model, 0.9) == 1
    assert _bn_momenta(model) == {0.9}
    with pytest.raises(ValueError, match="momentum"):
        backbones.set_batchnorm_momentum(model, 1.5)
