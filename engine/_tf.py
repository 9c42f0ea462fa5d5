"""TensorFlow and Keras, imported with posekit's TensorFlow options set first.

TensorFlow reads some options from environment variables once, when it is first
imported. posekit sets them here, right before that first import, and never when
``posekit.engine`` itself is imported:

``TF_ENABLE_ONEDNN_OPTS=1``
    oneDNN kernels on. TensorFlow leaves them off on AMD CPUs, where they almost
    double MobileNetV2 training speed. A value already in the environment wins:
    ``TF_ENABLE_ONEDNN_OPTS=0`` keeps them off.

Every engine module that needs TensorFlow or Keras imports it from here, at module
level or inside a function::

    from ._tf import keras
    from ._tf import tensorflow as tf

If TensorFlow was imported before (by a script or another library), the options are
not set: TensorFlow has already read its environment and they would have no effect.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what ``from ._tf import keras`` gives, for type checkers
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

__all__ = [
    "TENSORFLOW_OPTIONS",
    "import_keras",
    "import_tensorflow",
    "set_tensorflow_options",
]

#: Environment defaults that TensorFlow reads once, at its first import.
TENSORFLOW_OPTIONS: dict[str, str] = {"TF_ENABLE_ONEDNN_OPTS": "1"}


def set_tensorflow_options() -> bool:
    """Put :data:`TENSORFLOW_OPTIONS` into ``os.environ`` unless TensorFlow is loaded.

    Values the user has set are kept. Called by :func:`import_tensorflow` and
    :func:`import_keras`; a script that imports TensorFlow itself, before any posekit
    module does, can call it first to get the same settings.

    Returns
    -------
    bool
        False when TensorFlow was already imported (nothing was set), else True.
    """
    if "tensorflow" in sys.modules:
        return False
    for name, value in TENSORFLOW_OPTIONS.items():
        os.environ.setdefault(name, value)
    return True


def import_tensorflow() -> ModuleType:
    """Import and return ``tensorflow``, with posekit's options set before it loads.

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    set_tensorflow_options()
    import tensorflow

    return tensorflow


def import_keras() -> ModuleType:
    """Import and return ``keras`` (which loads TensorFlow), options set first.

    Returns
    -------
    module
        The ``keras`` module.
    """
    set_tensorflow_options()
    import keras

    return keras


def __getattr__(name: str) -> ModuleType:
    # ``from ._tf import tensorflow`` / ``from ._tf import keras`` (PEP 562)
    if name == "tensorflow":
        return import_tensorflow()
    if name == "keras":
        return import_keras()
    raise AttributeError(f"module 'posekit.engine._tf' has no attribute {name!r}")
