"""Read DeepLabCut's pickles without running what a pickle may name.

DeepLabCut keeps metadata and multi-animal detections in pickles
(``<video><scorer>_meta.pickle``, ``_full.pickle``, ``_assemblies.pickle``,
``_el.pickle``). A pickle can name any function to call while it loads, so these are
read with an unpickler that resolves only NumPy/pandas data types and built-in
containers.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["read_pickle"]

_FUNCTIONS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
    ("_codecs", "encode"),
    ("copyreg", "_reconstructor"),
}
_BUILTINS = {"tuple", "list", "dict", "set", "frozenset", "slice", "complex", "object"}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickle NumPy arrays, pandas indexes and built-in containers only."""

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in _FUNCTIONS or (module == "builtins" and name in _BUILTINS):
            return super().find_class(module, name)
        if module.split(".")[0] in ("numpy", "pandas"):
            obj = super().find_class(module, name)
            if isinstance(obj, type) and _data_type(obj):
                return obj
        raise pickle.UnpicklingError(
            f"refusing {module}.{name} in a DeepLabCut pickle (not array data)"
        )


def _data_type(cls: type) -> bool:
    """Whether a NumPy/pandas class only holds data (arrays, dtypes, indexes)."""
    from pandas.api.extensions import ExtensionArray, ExtensionDtype

    return issubclass(
        cls,
        (np.ndarray, np.dtype, np.generic, pd.Index, ExtensionArray, ExtensionDtype),
    )


def read_pickle(path: str | os.PathLike) -> Any:
    """Read one of DeepLabCut's pickles (arrays and containers only).

    Raises
    ------
    pickle.UnpicklingError
        If the file holds other objects (it is not what it claims to be).
    """
    data = Path(path).read_bytes()
    return _SafeUnpickler(io.BytesIO(data)).load()
