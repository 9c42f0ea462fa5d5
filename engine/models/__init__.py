"""Keras pose networks: backbones (registry), DLC deconvolution head, decoder, model.

Names are imported lazily (on first attribute access), so importing a light submodule
such as :mod:`posekit.engine.models.pretrained` does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BackboneSpec": "posekit.engine.models.registry",
    "register_backbone": "posekit.engine.models.registry",
    "get_backbone": "posekit.engine.models.registry",
    "list_backbones": "posekit.engine.models.registry",
    "ImagePreprocessing": "posekit.engine.models.backbones",
    "set_batchnorm_momentum": "posekit.engine.models.backbones",
    "FusedBatchNormalization": "posekit.engine.models.backbones",
    "fuse_batchnorm": "posekit.engine.models.backbones",
    "build_keras_application_backbone": "posekit.engine.models.backbones",
    "DeconvPoseHead": "posekit.engine.models.heads",
    "decode_pose": "posekit.engine.models.decoder",
    "decode_pose_tensor": "posekit.engine.models.decoder",
    "make_decoder": "posekit.engine.models.decoder",
    "PoseModelConfig": "posekit.engine.models.pose_config",
    "PoseModel": "posekit.engine.models.pose_model",
    "build_pose_model": "posekit.engine.models.pose_model",
    "rebuild_for_input_shape": "posekit.engine.models.pose_model",
    "save_pose_model": "posekit.engine.models.pose_model",
    "load_pose_model": "posekit.engine.models.pose_model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'posekit.engine.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
