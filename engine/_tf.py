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

The command line (without ``-v``) also calls :func:`quiet_startup`: TensorFlow's
start-up lines (CUDA probing on a machine without a GPU, "oneDNN custom operations
are on", ...) are written by its C++ logging before ``TF_CPP_MIN_LOG_LEVEL`` applies,
so they are caught at the file-descriptor level while TensorFlow loads and looks for
devices, and shown only if loading fails.

How many CPU threads posekit uses is decided in one place, :func:`cpu_threads`
(CPU affinity, ``SLURM_CPUS_PER_TASK``, ``OMP_NUM_THREADS``, ``posekit --threads``);
TensorFlow's thread pools are sized to it when it is first imported here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what ``from ._tf import keras`` gives, for type checkers
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

__all__ = [
    "TENSORFLOW_OPTIONS",
    "cpu_threads",
    "freeze_variables",
    "import_keras",
    "import_tensorflow",
    "quiet_startup",
    "set_tensorflow_options",
    "set_threads",
    "startup_lines_held",
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


_QUIET = {"startup": False}
_THREADS: dict[str, int | None] = {"limit": None}


def set_threads(n: int | None) -> None:
    """Use at most ``n`` CPU threads in this process (``posekit --threads N``).

    Parameters
    ----------
    n
        The limit (``None``: no limit beyond :func:`cpu_threads`' own).
    """
    _THREADS["limit"] = None if n is None else max(1, int(n))


def cpu_threads() -> int:
    """Return how many CPU threads posekit's computations use in this process.

    The one place that decides it: the smallest of the CPUs this process may run on
    (its CPU affinity, which cgroup cpusets and ``taskset`` set),
    ``SLURM_CPUS_PER_TASK`` and ``OMP_NUM_THREADS`` when they are set (a SLURM job
    on a node without cpusets may run on every core, but asked for these), and the
    limit of :func:`set_threads` (``posekit --threads N``).

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> cpu_threads() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        found = [len(os.sched_getaffinity(0))]
    else:  # pragma: no cover - macOS, Windows
        found = [os.cpu_count() or 1]
    for name in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        try:
            value = int(os.environ.get(name, "").strip())
        except ValueError:  # unset, empty, or SLURM's "2(x3)" style
            continue
        if value > 0:
            found.append(value)
    if _THREADS["limit"] is not None:
        found.append(_THREADS["limit"])
    return max(1, min(found))


def _size_thread_pools(tf: ModuleType) -> None:
    """Size TensorFlow's thread pools to :func:`cpu_threads` when that is a limit.

    Without a limit below the CPU affinity, TensorFlow's own defaults stay.
    """
    n = cpu_threads()
    if hasattr(os, "sched_getaffinity") and n >= len(os.sched_getaffinity(0)):
        return
    with contextlib.suppress(RuntimeError):  # already initialised: stays
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


def quiet_startup(on: bool = True) -> None:
    """Hide TensorFlow's start-up lines when it loads (the command line's default).

    Parameters
    ----------
    on
        Hide them (``False``: show them, as ``posekit -v`` does).
    """
    _QUIET["startup"] = bool(on)


@contextlib.contextmanager
def _stderr_held() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; replay it if the block fails."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def startup_lines_held() -> contextlib.AbstractContextManager[None]:
    """Hold the native start-up lines of a block when :func:`quiet_startup` is on.

    For runtimes that announce themselves on file descriptor 2 (LiteRT's "Created
    TensorFlow Lite XNNPACK delegate for CPU").
    """
    return _stderr_held() if _QUIET["startup"] else contextlib.nullcontext()


def import_tensorflow() -> ModuleType:
    """Import and return ``tensorflow``, with posekit's options set before it loads.

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    first = "tensorflow" not in sys.modules
    set_tensorflow_options()
    if not _QUIET["startup"] or not first:
        import tensorflow
    else:
        with _stderr_held():
            import tensorflow

            tensorflow.config.list_physical_devices()  # the CUDA probing lines, now
    if first:
        _size_thread_pools(tensorflow)
    return tensorflow


def import_keras() -> ModuleType:
    """Import and return ``keras`` (which loads TensorFlow), options set first.

    Returns
    -------
    module
        The ``keras`` module.
    """
    import_tensorflow()
    import keras

    return keras


def freeze_variables(concrete_function):
    """Return ``concrete_function`` with its variables turned into constants.

    What ``TFLiteConverter.from_concrete_functions`` needs to keep the weights
    (TensorFlow's ``convert_variables_to_constants_v2``).

    Parameters
    ----------
    concrete_function
        A traced ``tf.function``'s concrete function.

    Returns
    -------
    ConcreteFunction
        The same computation with the weights as constants.
    """
    import_tensorflow()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(concrete_function)


def __getattr__(name: str) -> ModuleType:
    # ``from ._tf import tensorflow`` / ``from ._tf import keras`` (PEP 562)
    if name == "tensorflow":
        return import_tensorflow()
    if name == "keras":
        return import_keras()
    raise AttributeError(f"module 'posekit.engine._tf' has no attribute {name!r}")
