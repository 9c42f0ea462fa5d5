"""netCDF: the native file of the poses dataset (movement and posekit).

Read and written with xarray's ``h5netcdf`` engine. Files from movement load as they
are; the old plural dimension names ``individuals`` / ``keypoints`` are renamed to
``individual`` / ``keypoint``.

:func:`save_netcdf` writes movement's current dimension names (``keypoint``,
``individual``: movement 0.17 and later) unless ``movement_dims="plural"``, which
writes ``keypoints`` / ``individuals`` for movement 0.16 and earlier (whose
writers and kinematics need them). The choice is explicit rather than guessed from
an installed movement: the file is usually read in another environment than the one
that writes it, and the same command should write the same file everywhere.

netCDF attributes can only be strings and numbers, so :func:`save_netcdf` stores
booleans, lists and dicts as JSON and lists their names in ``posekit_json_attrs``. An
attribute that is ``None`` (``fps`` of poses without a frame rate) is left out of the
file, as movement does, and its name listed in ``posekit_none_attrs``, so movement reads
no ``fps`` rather than the string ``"null"``. :func:`load_netcdf` decodes both, so a
save/load round trip gives back the same attributes. The processing log
(``attrs["log"]``) is already a JSON string and is stored as is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from .._fileio import atomic_path
from ..poses import mark_time_unit, validate
from . import register_loader, register_saver

__all__ = ["load_netcdf", "save_netcdf"]

#: ``save_netcdf(movement_dims=...)``: the names of the keypoint and individual
#: dimensions on disk, by the movement versions that read them.
_MOVEMENT_DIMS: dict[str, dict[str, str]] = {
    "singular": {},  # keypoint, individual: movement >= 0.17 (and posekit)
    "plural": {"keypoint": "keypoints", "individual": "individuals"},  # <= 0.16
}

_JSON_KEY = "posekit_json_attrs"
_NONE_KEY = "posekit_none_attrs"
_ENGINE = "h5netcdf"
_NC_MAGIC = (b"CDF\x01", b"CDF\x02", b"\x89HDF\r\n\x1a\n")


def _encode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    encoded, none = [], []
    for key, value in attrs.items():
        if isinstance(value, np.generic):
            value = value.item()
        if value is None:
            none.append(key)
        elif isinstance(value, (bool, list, tuple, dict)):
            out[key] = json.dumps(
                value.tolist() if isinstance(value, np.ndarray) else value
            )
            encoded.append(key)
        elif isinstance(value, (str, int, float, np.ndarray)):
            out[key] = value
        else:
            out[key] = json.dumps(repr(value))
            encoded.append(key)
    if encoded:
        out[_JSON_KEY] = json.dumps(encoded)
    if none:
        out[_NONE_KEY] = json.dumps(none)
    return out


def _decode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = dict(attrs)
    encoded = json.loads(out.pop(_JSON_KEY, "[]"))
    for key in encoded:
        if key in out:
            out[key] = json.loads(out[key])
    for key in json.loads(out.pop(_NONE_KEY, "[]")):
        out.setdefault(key, None)
    for key, value in out.items():
        if isinstance(value, np.generic):
            out[key] = value.item()
    return out


def _sniff_netcdf(path: Path) -> bool:
    """Recognise netCDF by content: netCDF-3, or netCDF-4 (HDF5 with ``_NCProperties``).

    An HDF5 file with a ``position`` variable counts too (written without the netCDF
    library's marker). The loader then refuses netCDF files that hold no poses.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    if head.startswith(_NC_MAGIC[:2]):
        return True
    if not head.startswith(_NC_MAGIC[2]):
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "_NCProperties" in f.attrs or isinstance(
                f.get("position"), h5py.Dataset
            )
    except OSError:
        return False


@register_loader("netCDF", sniff=_sniff_netcdf, suffixes=(".nc",))
def load_netcdf(path: str | os.PathLike, *, fps: float | None = None) -> xr.Dataset:
    """Load a movement/posekit netCDF file as a poses dataset.

    Parameters
    ----------
    path
        ``.nc`` file holding ``position`` and ``confidence``.
    fps
        Frames per second: overrides the file's and puts the time coordinate in
        seconds.

    Returns
    -------
    xarray.Dataset
        Poses dataset (in memory; the file is closed).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file holds no poses (``position``/``confidence``).

    Examples
    --------
    >>> ds = load_netcdf("session1.nc")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No netCDF file at {path}")
    with open(path, "rb") as fh:
        netcdf3 = fh.read(3) == b"CDF"
    try:
        with xr.open_dataset(path, engine="scipy" if netcdf3 else _ENGINE) as raw:
            ds = raw.load()
    except (OSError, ValueError) as err:
        raise ValueError(f"Could not read {path} as netCDF: {err}") from err
    ds.attrs = _decode_attrs(dict(ds.attrs))
    for name in ds.variables:
        ds[name].attrs = _decode_attrs(dict(ds[name].attrs))
    if "ds_type" in ds.attrs and ds.attrs["ds_type"] != "poses":
        raise ValueError(f"{path} holds a {ds.attrs['ds_type']!r} dataset, not poses")
    ds = validate(ds)
    if "frame_time" in ds.data_vars and ds["frame_time"].dims == ("time",):
        # each frame's time (variable frame rate): a coordinate, which the
        # behaviour rates use (posekit analyze --netcdf wrote it as a variable)
        ds = ds.set_coords("frame_time")
    for key in ("fps", "time_unit", "source_software", "source_file"):
        ds.attrs.setdefault(key, None)
    ds.attrs.setdefault("ds_type", "poses")
    if fps is not None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number; received fps={fps!r}")
        old_fps = ds.attrs.get("fps")
        time = np.asarray(ds["time"].values, dtype=float)
        frames = (
            np.round(time * old_fps)
            if ds.attrs.get("time_unit") == "seconds" and old_fps
            else time
        )
        ds = ds.assign_coords(time=frames / float(fps))
        ds.attrs["fps"] = float(fps)
        ds.attrs["time_unit"] = "seconds"
    return mark_time_unit(ds)


@register_saver("netCDF", suffixes=(".nc",))
def save_netcdf(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    skeleton: Sequence[Sequence[str]] | None = None,
    movement_dims: Literal["singular", "plural"] = "singular",
) -> Path:
    """Save a poses dataset as netCDF (h5netcdf), atomically.

    Parameters
    ----------
    ds
        Poses dataset (any extra variables, e.g. ``velocity``, are kept). A
        relative ``video_path`` (a ``.slp`` names its video relative to itself) is
        written absolute when the video is found, so the link holds wherever the
        ``.nc`` goes.
    path
        Target ``.nc`` file.
    skeleton
        Edges ``[[a, b], ...]`` written as the ``skeleton`` attribute in place of
        ``ds``'s (``posekit convert --skeleton``).
    movement_dims
        Names of the keypoint and individual dimensions in the file:
        ``"singular"`` (``keypoint``, ``individual``; movement 0.17 and later,
        the default) or ``"plural"`` (``keypoints``, ``individuals``; movement
        0.16 and earlier, whose writers and kinematics refuse the singular names;
        ``posekit convert --movement-dims plural``). posekit reads both.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If ``ds`` is not a poses dataset, or ``movement_dims`` is neither
        ``"singular"`` nor ``"plural"``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from posekit.engine.poses import from_numpy
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "poses.nc"
    >>> _ = save_netcdf(from_numpy(np.zeros((3, 2, 1, 1)), fps=30), p)
    >>> load_netcdf(p).attrs["fps"]
    30.0
    """
    path = Path(path)
    if movement_dims not in _MOVEMENT_DIMS:
        raise ValueError(
            f"movement_dims must be 'singular' (keypoint, individual: movement >= "
            f"0.17) or 'plural' (keypoints, individuals: movement <= 0.16); "
            f"received {movement_dims!r}"
        )
    ds = validate(ds)
    out = ds.copy(deep=False)
    attrs = dict(ds.attrs)
    if skeleton is not None:
        attrs["skeleton"] = [[str(a), str(b)] for a, b in skeleton]
    named = attrs.get("video_path")
    if named and not Path(str(named)).is_absolute():
        from ._source import source_video

        found = source_video(ds)  # relative to the source file, not to this one
        if found is not None:
            attrs["video_path"] = str(found)
    out.attrs = _encode_attrs(attrs)
    for name in out.variables:
        out[name].attrs = _encode_attrs(dict(ds[name].attrs))
    rename = {
        old: new
        for old, new in _MOVEMENT_DIMS[movement_dims].items()
        if old in out.dims
    }
    if rename:
        out = out.rename(rename)
    with atomic_path(path, suffix=".nc") as tmp:
        out.to_netcdf(tmp, engine=_ENGINE)
    return path
