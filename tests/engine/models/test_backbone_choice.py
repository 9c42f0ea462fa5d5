"""Which backbone trains when the configured one has no ImageNet weights here."""

from __future__ import annotations

import pytest

from posekit.engine.models.pretrained import (
    OFFLINE_IMAGENET_BACKBONE,
    choose_backbone,
    has_offline_imagenet_weights,
)


def test_dlc_resnet_50_is_replaced_with_a_notice():
    c = choose_backbone("resnet_50")
    assert (c.backbone, c.weights, c.configured) == (
        OFFLINE_IMAGENET_BACKBONE,
        "imagenet",
        "resnet_50",
    )
    assert c.notice.startswith("Backbone resnet_50 (config.yaml default_net_type)")
    assert "efficientnet_lite0" in c.notice and "--weights none" in c.notice


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("resnet_50", "resnet_50", None), ("resnet_50", None)),  # insisted
        (("resnet_50", None, None), ("resnet_50", None)),  # --weights none alone
        (("resnet_50", "efficientnet_lite2"), ("efficientnet_lite2", "imagenet")),
        (("efficientnet_lite1",), ("efficientnet_lite1", "imagenet")),
        (("mobilenet_v2_0.35", "mobilenet_v2_0.35"), ("mobilenet_v2_0.35", None)),
        (("not_a_net",), (OFFLINE_IMAGENET_BACKBONE, "imagenet")),
        ((None,), (OFFLINE_IMAGENET_BACKBONE, "imagenet")),
    ],
)
def test_choices(args, expected):
    c = choose_backbone(*args)
    assert (c.backbone, c.weights) == expected


def test_notices_say_what_happens():
    assert choose_backbone("efficientnet_lite0").notice == ""
    assert choose_backbone("resnet_50", "resnet_50", None).notice == ""
    random = choose_backbone("resnet_50", "resnet_50")  # weights auto, none offline
    assert "random initialisation" in random.notice
    assert "is not a posekit backbone" in choose_backbone("not_a_net").notice
    assert "names no backbone" in choose_backbone(None).notice


def test_offline_weights():
    assert has_offline_imagenet_weights("efficientnet_lite2")
    assert not has_offline_imagenet_weights("resnet_50")
    assert not has_offline_imagenet_weights("mobilenet_v2_0.35")


def test_a_name_posekit_has_no_backbone_of_is_not_offered_to_insist_on():
    """QA s22 (madlc), finding 6: ``dlcrnet_ms5`` (DeepLabCut's maDLC network).

    The notice said "To insist: --backbone dlcrnet_ms5 --weights none", and doing so
    ended in "Unknown backbone". It names the backbones there are instead.
    """
    from posekit.engine.models.registry import backbone_names

    c = choose_backbone("dlcrnet_ms5", source="net_type of shuffle 2")
    assert (c.backbone, c.weights) == (OFFLINE_IMAGENET_BACKBONE, "imagenet")
    assert c.notice.startswith(
        "Backbone dlcrnet_ms5 (net_type of shuffle 2) is not a posekit backbone, so "
        "it cannot be trained here: training efficientnet_lite0 with its ImageNet "
        "weights instead. posekit's backbones: "
    )
    assert "--weights none" not in c.notice and "--backbone dlcrnet_ms5" not in c.notice
    assert all(name in c.notice for name in backbone_names())
    assert "--backbone NAME" in c.notice
    # what it says to do works: a backbone it names trains
    assert choose_backbone("dlcrnet_ms5", "mobilenet_v2_0.35", None).backbone == (
        "mobilenet_v2_0.35"
    )
