"""posekit.engine: all computation for markerless pose estimation.

The engine never imports widget code (ipywidgets, bokeh); everything here can run
headless on a cluster node. The workflow verbs are importable from here; heavy modules
(TensorFlow) load only when a verb that needs them is first used.

Importing any ``posekit.engine`` module turns on TensorFlow's oneDNN kernels
(``TF_ENABLE_ONEDNN_OPTS=1``) unless the variable is already set: TensorFlow leaves them
off on AMD CPUs, where they almost double MobileNetV2 training speed. It has an effect
only when posekit is imported before TensorFlow; set ``TF_ENABLE_ONEDNN_OPTS=0`` to
keep them off.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

# Before anything can import TensorFlow (which reads it once, at import). Nothing above
# imports TensorFlow; any `import posekit.engine.<module>` runs this file first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

logger = logging.getLogger("posekit")

# name -> module that defines it (imported lazily on first attribute access)
_LAZY = {
    "Project": "posekit.engine.project",
    "create_project": "posekit.engine.project",
    "load_project": "posekit.engine.project",
    "VideoReader": "posekit.engine.video",
    "extract_frames": "posekit.engine.video",
    "read_labels": "posekit.engine.io.dlc",
    "write_labels": "posekit.engine.io.dlc",
    "load_poses": "posekit.engine.io",
    "save_poses": "posekit.engine.io",
    "from_numpy": "posekit.engine.poses",
    "create_training_dataset": "posekit.engine.dataset",
    "load_training_set": "posekit.engine.dataset",
    "train_network": "posekit.engine.api",
    "evaluate_network": "posekit.engine.api",
    "analyze_videos": "posekit.engine.api",
    "make_demo_project": "posekit.engine.demo",
}

__all__ = ["__version__", "logger", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'posekit.engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
