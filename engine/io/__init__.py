"""File formats: one module per format, each registering its loader and saver.

:func:`load` reads any supported tracking file into the movement-schema poses dataset,
recognising the format by the file's *content* (each format has a sniffer that looks
at the first bytes or the HDF5 layout), not by its extension; :func:`save` writes one
in a format chosen by name or by the target's extension; :func:`convert` does both
(``posekit convert IN OUT [--to FORMAT]``).

Adding a format
---------------
Write ``engine/io/<format>.py`` with a loader decorated by
``@register_loader("Name", sniff=..., suffixes=(...))`` and/or a saver decorated by
``@register_saver("Name", suffixes=(...))``, then append its module to
:data:`FORMAT_MODULES`. The order of that tuple is the order in which sniffers are
asked (put a specific format before a general one that would also claim its files),
and, for :func:`save`, which format a shared extension (``.h5``, ``.csv``) means.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = [
    "FORMAT_MODULES",
    "register_loader",
    "register_saver",
    "detect_format",
    "load",
    "save",
    "convert",
    "load_poses",
    "save_poses",
    "list_formats",
    "export_formats",
]

logger = logging.getLogger("posekit.io")

#: Modules that register formats when imported, in the order their sniffers are asked.
#: To add a format, append its module here (see the module docstring).
FORMAT_MODULES: tuple[str, ...] = (
    "posekit.engine.io.dlc",
    "posekit.engine.io.sleap",
    "posekit.engine.io.lightning_pose",
    "posekit.engine.io.netcdf",
    "posekit.engine.io.nwb",
    "posekit.engine.io.coco",
)
_FORMAT_MODULES = FORMAT_MODULES  # the name older code and tests use


@dataclass(frozen=True)
class _Loader:
    name: str
    fn: Callable[..., xr.Dataset]
    sniff: Callable[[Path], bool]
    suffixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Saver:
    name: str
    fn: Callable[..., Path]
    suffixes: tuple[str, ...] = ()


_LOADERS: dict[str, _Loader] = {}
_SAVERS: dict[str, _Saver] = {}


def _suffixes(suffixes: Sequence[str]) -> tuple[str, ...]:
    return tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in suffixes)


def register_loader(
    name: str, *, sniff: Callable[[Path], bool], suffixes: Sequence[str] = ()
) -> Callable[[Callable[..., xr.Dataset]], Callable[..., xr.Dataset]]:
    """Register ``fn(path, *, fps=None, **kw) -> Dataset`` as the loader for ``name``.

    Parameters
    ----------
    name
        Format name (``"DeepLabCut"``, ``"SLEAP"``…), as :func:`load` takes it.
    sniff
        ``sniff(path) -> bool``: whether the file is of this format, judged from its
        content (magic bytes, header, HDF5 layout) and cheaply. It must not raise; an
        exception counts as "no" (and is logged).
    suffixes
        The extensions files of this format usually have (for documentation and file
        pickers; sniffing does not depend on them).

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """

    def decorator(fn: Callable[..., xr.Dataset]) -> Callable[..., xr.Dataset]:
        _LOADERS[name] = _Loader(name, fn, sniff, _suffixes(suffixes))
        return fn

    return decorator


def register_saver(
    name: str, *, suffixes: Sequence[str] = ()
) -> Callable[[Callable[..., Path]], Callable[..., Path]]:
    """Register ``fn(ds, path, **kw) -> Path`` as the saver for format ``name``.

    Parameters
    ----------
    name
        Format name, as :func:`save` takes it.
    suffixes
        Extensions this saver writes, the usual one first: :func:`save` without a
        format picks the first registered saver listing the target's extension, and
        :func:`export_formats` offers the first as the default.

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """

    def decorator(fn: Callable[..., Path]) -> Callable[..., Path]:
        _SAVERS[name] = _Saver(name, fn, _suffixes(suffixes))
        return fn

    return decorator


def _ensure_registered() -> None:
    for module in FORMAT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # a format module not (yet) present
            if err.name != module:
                raise
    # FORMAT_MODULES order, whichever module was imported first (``import
    # posekit.engine.io.sleap`` registers SLEAP-analysis before DeepLabCut, which
    # must keep ``.h5``)
    for registry in (_LOADERS, _SAVERS):
        ordered = sorted(registry.items(), key=lambda item: _rank(item[1].fn))
        registry.clear()
        registry.update(ordered)


def _rank(fn: Callable) -> int:
    module = getattr(fn, "__module__", "")
    return (
        FORMAT_MODULES.index(module)
        if module in FORMAT_MODULES
        else len(FORMAT_MODULES)
    )


def list_formats() -> dict[str, list[str]]:
    """Return the names of the formats that can be loaded and saved.

    Returns
    -------
    dict
        ``{"load": [...], "save": [...]}`` in sniffing / registration order.
    """
    _ensure_registered()
    return {"load": list(_LOADERS), "save": list(_SAVERS)}


def export_formats() -> dict[str, tuple[str, ...]]:
    """Return the formats :func:`save` writes and their extensions (usual one first).

    The apps' export menus list these.

    Returns
    -------
    dict
        Format name → extensions, e.g. ``{"DeepLabCut": (".h5", ".csv"), ...}``.
    """
    _ensure_registered()
    return {name: saver.suffixes for name, saver in _SAVERS.items()}


def _sniffs(loader: _Loader, path: Path) -> bool:
    try:
        return bool(loader.sniff(path))
    except Exception as err:  # a sniffer must not decide for another format
        logger.debug("the %s sniffer failed on %s: %s", loader.name, path, err)
        return False


#: The first bytes of every HDF5 file (``.h5``, NWB, SLEAP's ``.slp``).
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _refuse_broken_hdf5(path: Path) -> None:
    """Say that an HDF5 file no reader could open is truncated or corrupt."""
    with open(path, "rb") as fh:
        signature = fh.read(len(_HDF5_SIGNATURE))
    if signature != _HDF5_SIGNATURE:
        return
    try:
        import h5py

        with h5py.File(path, "r"):
            return  # a readable HDF5 file of no format we know
    except OSError as err:
        raise ValueError(
            f"{path} looks like an HDF5 file but cannot be read: it is truncated or "
            f"corrupt ({err}). Copy it again from where it came from (a copy or "
            "download cut short, a disk that filled up), or use its .csv twin if "
            "there is one."
        ) from None


def detect_format(path: str | os.PathLike) -> str:
    """Name the format of a tracking file from its content.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        The first format (in :data:`FORMAT_MODULES` order) whose sniffer claims it.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If no format recognises it.
    """
    _ensure_registered()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No tracking file at {path}")
    for loader in _LOADERS.values():
        if _sniffs(loader, path):
            return loader.name
    _refuse_broken_hdf5(path)
    raise ValueError(
        f"Could not recognise the format of {path}. Name it: load(path, format=...), "
        "load_poses(path, source_software=...), or convert it with `posekit convert "
        f"--from FORMAT` (e.g. to .nc); the formats are {sorted(_LOADERS)}."
    )


def load(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    fps: float | None = None,
    **kwargs,
) -> xr.Dataset:
    """Load any supported tracking file into the poses dataset.

    Parameters
    ----------
    path
        A DeepLabCut/posekit ``.h5``/``.csv``, SLEAP ``.slp``/analysis ``.h5``,
        Lightning Pose ``.csv``, movement/posekit netCDF, or any format a module in
        :data:`FORMAT_MODULES` registers. A list of NWB files (one per individual,
        as DLC2NWB, movement and ``save_nwb_individuals`` write them) loads as one
        dataset of their individuals
        (:func:`~posekit.engine.io.nwb.load_nwb`); a list of files of another
        format is refused.
    format
        Force a format (see :func:`list_formats`); by default it is recognised from
        the file's content (:func:`detect_format`).
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
        If no loader recognises the file, ``format`` is unknown, or ``path`` is a
        list of files that are not all NWB.
    """
    _ensure_registered()
    if isinstance(path, (list, tuple)):
        return _load_nwb_files(path, format=format, fps=fps, **kwargs)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No tracking file at {path}")
    if format is None:
        format = detect_format(path)
    else:
        format = _known_name(format, _LOADERS)
    if format not in _LOADERS:
        raise ValueError(
            f"Unknown source_software {format!r}; known formats: {sorted(_LOADERS)}"
        )
    from ..poses import mark_time_unit

    # every loader's poses say what their times are, even one registered elsewhere
    return mark_time_unit(_LOADERS[format].fn(path, fps=fps, **kwargs))


def _load_nwb_files(
    paths: Sequence[str | os.PathLike],
    *,
    format: str | None,
    fps: float | None,
    **kwargs,
) -> xr.Dataset:
    """:func:`load` of a list of files: NWB files, one per individual, as one dataset."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("load() received an empty list; give a file or NWB files")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"No tracking file at {p}")
    for p in paths:
        found = _known_name(format, _LOADERS) if format else detect_format(p)
        if found != "NWB":
            raise ValueError(
                f"load() takes a list only of NWB files (one per individual, read "
                f"together by posekit.engine.io.nwb.load_nwb); {p} is {found}. Load "
                "other files one at a time (join animals with xarray.concat(..., "
                "'individual'))."
            )
    from ..poses import mark_time_unit

    return mark_time_unit(_LOADERS["NWB"].fn(paths, fps=fps, **kwargs))


def _known_name(format: str, registry: Mapping[str, object]) -> str:
    """Return the registered spelling of ``format``, matched without case.

    Examples
    --------
    >>> _known_name("lightningpose", {"LightningPose": 1}), _known_name("x", {})
    ('LightningPose', 'x')
    """
    if format in registry:
        return format
    same = [name for name in registry if name.lower() == str(format).lower()]
    return same[0] if len(same) == 1 else format


def _saver_for(path: Path, format: str | None) -> _Saver:
    _ensure_registered()  # convert() asks before anything else has loaded the formats
    if format is not None:
        format = _known_name(format, _SAVERS)
        if format not in _SAVERS:
            raise ValueError(f"Unknown format {format!r}; can save: {sorted(_SAVERS)}")
        return _SAVERS[format]
    suffix = path.suffix.lower()
    for saver in _SAVERS.values():
        if suffix in saver.suffixes:
            return saver
    known = {n: list(s.suffixes) for n, s in _SAVERS.items()}
    raise ValueError(
        f"Cannot tell the format to write from the extension of {path.name!r}; "
        f"pass format= (--to on the command line), one of {known}."
    )


def save(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    **kwargs,
) -> Path:
    """Save a poses dataset in a format chosen by name or by the target's extension.

    Parameters
    ----------
    ds
        The poses dataset.
    path
        Target file.
    format
        Format name (see :func:`export_formats`); by default the first registered
        format that writes ``path``'s extension (``.h5``/``.csv``: DeepLabCut,
        ``.nc``: netCDF).
    **kwargs
        Passed to the format's saver.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If the format is unknown or cannot be told from the extension.
    """
    _ensure_registered()
    path = Path(path)
    return _SAVERS[_saver_for(path, format).name].fn(ds, path, **kwargs)


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    to: str | None = None,
    source_format: str | None = None,
    fps: float | None = None,
    read_options: Mapping[str, Any] | None = None,
    write_options: Mapping[str, Any] | None = None,
    individuals: Sequence[str] | None = None,
) -> Path:
    """Convert a tracking file into another format (``posekit convert``).

    The input is read completely before anything is written, and savers write
    atomically, so a bad input leaves no output file. DeepLabCut to DeepLabCut
    (``.csv`` to ``.h5`` and back) copies the table as it is
    (:func:`~posekit.engine.io.dlc.convert_dlc_file`): label files stay label files,
    with their image paths and labeller.

    Parameters
    ----------
    src
        Input file (format recognised from its content unless ``source_format``).
    dst
        Output file.
    to
        Output format (default: from ``dst``'s extension, see :func:`save`).
    source_format
        Force the input format.
    fps
        Frames per second of the input (the time coordinate is then in seconds;
        for an input timed in seconds, the rate that numbers its frames). By
        default the rate the input records, else that of the video it names or is
        named after, for every output format; without any, the times stay frame
        numbers.
    read_options
        Passed to the input format's loader (e.g. ``pose_estimation=`` for NWB,
        ``images=`` for COCO results).
    write_options
        Passed to the output format's saver (e.g. ``subject=``,
        ``session_start_time=`` for NWB, ``images=`` for COCO results).
    individuals
        Write only these individuals (``posekit convert --individual``), e.g. one
        animal of multi-animal poses for a single-animal format.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    FileNotFoundError
        If ``src`` does not exist.
    ValueError
        If a format is unknown or not recognised, the input is malformed (the
        message names the file), or ``individuals`` names one it lacks.
    """
    src, dst = Path(src), Path(dst)
    saver = _saver_for(dst, to)  # fail before reading when the output is unclear
    if src.resolve() == dst.resolve():
        raise ValueError(f"Input and output are the same file: {src}")
    if (
        saver.name == "DeepLabCut"
        and not write_options
        and not individuals
        and (source_format or detect_format(src)) == "DeepLabCut"
    ):
        from .dlc import convert_dlc_file

        # table to table: labels keep image paths and labeller, predictions scorer
        return convert_dlc_file(src, dst)
    ds = load(src, format=source_format, fps=fps, **dict(read_options or {}))
    if individuals:
        have = [str(i) for i in ds["individual"].values]
        unknown = [i for i in individuals if i not in have]
        if unknown:
            raise ValueError(
                f"{src} has no individual {unknown[0]!r}; its individuals are {have}"
            )
        ds = ds.sel(individual=list(individuals))
    if fps is None:
        ds = _rate_of_video(ds, dst)
    return save(ds, dst, format=saver.name, **dict(write_options or {}))


def _rate_of_video(ds: xr.Dataset, target: Path) -> xr.Dataset:
    """Give poses timed in frames the frame rate of their video, when it is found.

    What the NWB writer does for its own timestamps, done for every output format:
    a SLEAP ``.slp`` converted to ``.nc`` gets the ``fps`` (and times in seconds) of
    the video it names, as its ``.nwb`` does. Poses with a frame rate or times in
    seconds, and labelled images (``attrs["frames"]``), are returned as they are,
    and so are poses whose video is not found or states no rate.
    """
    if (
        ds.attrs.get("fps")
        or ds.attrs.get("time_unit") == "seconds"
        or ds.attrs.get("frames") is not None
    ):
        return ds
    from ..poses import frame_numbers, mark_time_unit
    from ._source import source_video, video_fps

    video = source_video(ds)
    rate = video_fps(video) if video is not None else None
    if not rate:
        return ds
    try:
        frames = frame_numbers(ds)
    except ValueError:  # times that are not frame numbers: leave them
        return ds
    logger.info("%s: %g frames per second, from %s", target.name, rate, video)
    out = ds.assign_coords(time=frames / rate)
    out.attrs = {**ds.attrs, "fps": float(rate), "time_unit": "seconds"}
    return mark_time_unit(out)


def load_poses(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    source_software: str | None = None,
    fps: float | None = None,
    **kwargs,
) -> xr.Dataset:
    """Load any supported tracking file into the poses dataset (see :func:`load`).

    Parameters
    ----------
    path
        The tracking file (or NWB files, one per individual: see :func:`load`).
    source_software
        Force a format (``"DeepLabCut"``, ``"SLEAP"``, ``"LightningPose"``,
        ``"netCDF"``…); by default the format is recognised from the file.
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
    return load(path, format=source_software, fps=fps, **kwargs)


def save_poses(ds: xr.Dataset, path: str | os.PathLike, *, fmt: str, **kwargs) -> Path:
    """Save a poses dataset in format ``fmt`` (see :func:`save`, :func:`list_formats`).

    Parameters
    ----------
    ds
        The poses dataset.
    path
        Target file.
    fmt
        Format name.
    **kwargs
        Passed to the format's saver.

    Returns
    -------
    Path
        The written file.
    """
    return save(ds, path, format=fmt, **kwargs)
