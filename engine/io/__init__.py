"""File formats: one module per format, each registering its loader and saver.

``load_poses(path)`` finds the right loader (by name, or by asking each loader whether it
recognises the file) and returns the movement-schema poses dataset.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

__all__ = [
    "register_loader",
    "register_saver",
    "load_poses",
    "save_poses",
    "list_formats",
]

# Modules that register formats when imported (kept in one place, in priority order).
_FORMAT_MODULES = (
    "posekit.engine.io.dlc",
    "posekit.engine.io.sleap",
    "posekit.engine.io.lightning_pose",
    "posekit.engine.io.netcdf",
)


@dataclass(frozen=True)
class _Loader:
    name: str
    fn: Callable[..., xr.Dataset]
    sniff: Callable[[Path], bool]


_LOADERS: dict[str, _Loader] = {}
_SAVERS: dict[str, Callable[..., Path]] = {}


def register_loader(
    name: str, *, sniff: Callable[[Path], bool]
) -> Callable[[Callable[..., xr.Dataset]], Callable[..., xr.Dataset]]:
    """Register ``fn(path, *, fps=None, **kw) -> Dataset`` as the loader for ``name``.

    ``sniff(path)`` must return True when the file is of this format (cheaply: by
    suffix and, if needed, a look at the header).
    """

    def decorator(fn: Callable[..., xr.Dataset]) -> Callable[..., xr.Dataset]:
        _LOADERS[name] = _Loader(name, fn, sniff)
        return fn

    return decorator


def register_saver(name: str) -> Callable[[Callable[..., Path]], Callable[..., Path]]:
    """Register ``fn(ds, path, **kw) -> Path`` as the saver for format ``name``."""

    def decorator(fn: Callable[..., Path]) -> Callable[..., Path]:
        _SAVERS[name] = fn
        return fn

    return decorator


def _ensure_registered() -> None:
    for module in _FORMAT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # a format module not (yet) present
            if err.name != module:
                raise


def list_formats() -> dict[str, list[str]]:
    """Names of the formats that can be loaded and saved."""
    _ensure_registered()
    return {"load": list(_LOADERS), "save": list(_SAVERS)}


def load_poses(
    path: str | os.PathLike,
    *,
    source_software: str | None = None,
    fps: float | None = None,
    **kwargs,
) -> xr.Dataset:
    """Load any supported tracking file into the poses dataset.

    Parameters
    ----------
    path
        DeepLabCut/posekit ``.h5``/``.csv``, SLEAP ``.slp``/analysis ``.h5``, Lightning
        Pose ``.csv`` or movement/posekit netCDF ``.nc``.
    source_software
        Force a format (``"DeepLabCut"``, ``"SLEAP"``, ``"LightningPose"``,
        ``"netCDF"``); by default the format is recognised from the file.
    fps
        Frames per second; the time coordinate is then in seconds.
    **kwargs
        Passed to the format's loader.

    Returns
    -------
    xarray.Dataset
        The poses dataset (movement schema).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If no loader recognises the file, or ``source_software`` is unknown.
    """
    _ensure_registered()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No tracking file at {path}")
    if source_software is not None:
        if source_software not in _LOADERS:
            raise ValueError(
                f"Unknown source_software {source_software!r}; "
                f"known formats: {sorted(_LOADERS)}"
            )
        return _LOADERS[source_software].fn(path, fps=fps, **kwargs)
    for loader in _LOADERS.values():
        if loader.sniff(path):
            return loader.fn(path, fps=fps, **kwargs)
    raise ValueError(
        f"Could not recognise the format of {path}. Pass source_software= one of "
        f"{sorted(_LOADERS)}."
    )


def save_poses(ds: xr.Dataset, path: str | os.PathLike, *, fmt: str, **kwargs) -> Path:
    """Save a poses dataset in format ``fmt`` (see :func:`list_formats`)."""
    _ensure_registered()
    if fmt not in _SAVERS:
        raise ValueError(f"Unknown format {fmt!r}; can save: {sorted(_SAVERS)}")
    return _SAVERS[fmt](ds, Path(path), **kwargs)
