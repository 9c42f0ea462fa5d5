"""EfficientNet-Lite1 and Lite2: architecture against the shipped state dicts, weights."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.models.efficientnet_lite import (
    LITE_VARIANTS,
    build_efficientnet_lite,
    efficientnet_lite_classifier,
    lite_tensor_specs,
)
from posekit.engine.models.pretrained import (
    LITE_IMAGENET_FILES,
    lite_imagenet_weights_path,
)
from posekit.engine.models.registry import get_backbone, list_backbones
from posekit.engine.models.torch_weights import load_torch_state_dict


@pytest.mark.parametrize("variant", [1, 2])
def test_every_tensor_of_the_shipped_file_is_mapped_with_its_shape(variant: int):
    state = load_torch_state_dict(lite_imagenet_weights_path(variant))
    specs = lite_tensor_specs(variant=variant)
    weights = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert set(weights) == set(specs)
    for name, spec in specs.items():
        assert tuple(weights[name].shape) == tuple(spec.shape), name


def test_variant_scaling_matches_the_original_rules():
    # depth: ceil(1.1 * repeats) / ceil(1.2 * repeats), first and last stage fixed
    assert [s.repeats for s in LITE_VARIANTS[1].stages] == [1, 3, 3, 4, 4, 5, 1]
    assert [s.channels for s in LITE_VARIANTS[1].stages] == [
        16, 24, 40, 80, 112, 192, 320,
    ]  # fmt: skip
    assert [s.channels for s in LITE_VARIANTS[2].stages] == [
        16, 24, 48, 88, 120, 208, 352,
    ]  # fmt: skip
    assert (LITE_VARIANTS[1].resolution, LITE_VARIANTS[2].resolution) == (240, 260)


@pytest.mark.parametrize(
    ("variant", "channels"), [(1, (40, 112, 320)), (2, (48, 120, 352))]
)
def test_output_shapes_at_each_stride(variant, channels):
    for stride, c in zip((8, 16, 32), channels, strict=True):
        m = build_efficientnet_lite(
            variant, (64, 96, 3), weights=None, output_stride=stride
        )
        assert m.output_shape == (None, 64 // stride, 96 // stride, c)


@pytest.mark.parametrize("variant", [1, 2])
def test_imagenet_weights_load_and_classify_consistently(variant: int):
    state = load_torch_state_dict(lite_imagenet_weights_path(variant))
    model = efficientnet_lite_classifier(variant)
    fc = model.get_layer("predictions").get_weights()[0]
    np.testing.assert_array_equal(fc, state["_fc.weight"].T)
    last = len([k for k in state if k.endswith("_project_conv.weight")]) - 1
    var = model.get_layer(f"block{last}_project_bn").get_weights()[3]
    np.testing.assert_array_equal(var, state[f"_blocks.{last}._bn2.running_var"])
    # a flat grey image: finite logits, the same from a freshly built model
    x = np.full((1, *model.input_shape[1:]), 127.0, np.float32)
    logits = np.asarray(model(x, training=False))[0]
    assert logits.shape == (1000,) and np.isfinite(logits).all()
    fresh = efficientnet_lite_classifier(variant)
    np.testing.assert_allclose(
        np.asarray(fresh(x, training=False))[0], logits, atol=1e-4
    )


def test_registered_with_dlc_names():
    assert {"efficientnet_lite1", "efficientnet_lite2"} <= set(list_backbones())
    assert get_backbone("efficientnet_lite1").dlc_netname == "effnet_lite1"
    assert get_backbone("efficientnet_lite2").dlc_netname == "effnet_lite2"
    b = get_backbone("efficientnet_lite2").builder(
        (None, None, 3), weights=None, output_stride=16
    )
    assert b.output_shape[-1] == 120


def test_files_are_pinned_by_sha256():
    for variant, (_, filename, digest) in LITE_IMAGENET_FILES.items():
        path = lite_imagenet_weights_path(variant)
        assert path.name == filename and filename.split("-")[-1][:8] == digest[:8]
    with pytest.raises(ValueError, match="variant"):
        lite_imagenet_weights_path(3)
