"""Neurodata Without Borders: poses as ``ndx-pose`` ``PoseEstimation``, labels as ``TrainingFrames``.

Needs ``pynwb`` and ``ndx-pose`` (``pip install "posekit[nwb]"``); the rest of posekit
works without them, and these functions say how to install them when they are missing.

**Predictions** (:func:`save_nwb`, :func:`load_nwb`). In the processing module
``behavior``: a ``Skeletons`` container holding one ``Skeleton`` (the keypoints and the
project's edges), and for each individual a ``PoseEstimation`` with one
``PoseEstimationSeries`` per keypoint (``data`` ``(frames, 2|3)`` in pixels,
``confidence``, and ``rate``/``starting_time`` or ``timestamps`` in seconds), the
model's ``scorer`` and a link to the source video (an external-file ``ImageSeries`` in
``acquisition``). ndx-pose keeps one subject per file: a file with one individual names
it in ``NWBFile.subject`` and its ``PoseEstimation`` is called ``PoseEstimation`` (what
DLC2NWB, movement and the ndx-pose examples read); :func:`save_nwb_individuals` writes
one such file per individual, as DLC2NWB and movement do. :func:`save_nwb` can also keep
several individuals in one file, one ``PoseEstimation_<individual>`` each (SLEAP writes
``track=<name>``). Poses without a frame rate are written with the frame numbers as
``timestamps`` and the series' ``comments`` say so; :func:`load_nwb` reads them back as
frames.

:func:`load_nwb` also reads files made by DLC2NWB (series ``<individual>_<bodypart>``,
described as "Keypoint <bodypart> from individual <individual>.", one file per animal:
pass the list of files), by movement (one file per individual) and by SLEAP/sleap-io
(one ``track=<name>`` ``PoseEstimation`` per track in a ``SLEAP_VIDEO_…`` module, each
series holding only its visible frames). Keypoint order is the skeleton's; ``time`` is
the union of the series' times, NaN where a series has no sample.

**Labels** (:func:`write_nwb_labels`, :func:`read_nwb_labels`). ndx-pose 0.4's
``PoseTraining`` in ``behavior``: ``training_frames`` (``TrainingFrames``) holds one
``TrainingFrame`` per labelled image with a ``SkeletonInstance`` per individual (named
after it; ``node_locations``, ``node_visibility``), ``source_video`` and
``source_video_frame_index``; ``source_videos`` (``SourceVideos``) holds, for each
``labeled-data/<video>`` folder, an ``ImageSeries`` whose external files are the
labelled images, so a frame index names its image exactly. SLEAP's NWB annotations (a
video ``ImageSeries`` and frame numbers; identities in an ndx-multisubjects
``SubjectsTable`` when it wrote one) are read too.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from .._fileio import atomic_path
from ..poses import from_numpy
from . import register_loader, register_saver
from ._source import skeleton_for, source_video, video_fps
from .dlc import index_to_paths, labels_to_array, make_labels_frame

__all__ = [
    "NWBError",
    "save_nwb",
    "save_nwb_individuals",
    "load_nwb",
    "write_nwb_labels",
    "read_nwb_labels",
]

logger = logging.getLogger("posekit.io.nwb")

#: ``comments`` of series whose timestamps are frame numbers (no frame rate known).
FRAMES_COMMENT = "posekit: the timestamps are frame numbers (the frame rate is unknown)"
_SINGLE = "PoseEstimation"
_PREFIX = "PoseEstimation_"
_DLC2NWB = re.compile(
    r"^Keypoint (?P<bodypart>.+) from individual (?P<individual>.+)\.$"
)
_ROUND = 9  # decimals of a second when matching the times of different series


class NWBError(ValueError):
    """An NWB file is unreadable or holds no poses in a layout posekit knows."""


def _modules() -> tuple[Any, Any]:
    try:
        import ndx_pose
        import pynwb
    except ImportError as err:
        raise ImportError(
            'NWB files need pynwb and ndx-pose: pip install "posekit[nwb]"'
        ) from err
    return pynwb, ndx_pose


def _check_name(name: str, what: str) -> str:
    if "/" in name or ":" in name:
        raise NWBError(
            f"{what} {name!r} cannot be written to NWB: NWB names may not contain '/' "
            "or ':'; rename it first"
        )
    return name


def _new_file(pynwb: Any, ds: xr.Dataset, **kwargs: Any) -> Any:
    return pynwb.NWBFile(
        session_description=kwargs.get("session_description")
        or f"poses from {ds.attrs.get('source_software') or 'posekit'}",
        identifier=kwargs.get("identifier") or str(uuid.uuid4()),
        session_start_time=kwargs.get("session_start_time")
        or _dt.datetime.now(_dt.timezone.utc),
    )


def _write(pynwb: Any, nwbfile: Any, path: Path) -> Path:
    with atomic_path(path) as tmp, pynwb.NWBHDF5IO(str(tmp), mode="w") as io:
        io.write(nwbfile)
    return path


# ---------------------------------------------------------------- predictions: write


def _timing(ds: xr.Dataset, fps: float | None) -> dict[str, Any]:
    """``rate``/``starting_time`` or ``timestamps`` (and ``comments``) of the series."""
    t = np.asarray(ds["time"].values, np.float64)
    fps = fps or ds.attrs.get("fps")
    if ds.attrs.get("time_unit") == "seconds":
        seconds = t
    elif fps:
        seconds = t / float(fps)
    else:
        return {"timestamps": t, "comments": FRAMES_COMMENT}
    if fps and len(t) and np.array_equal(seconds[0] + np.arange(len(t)) / fps, seconds):
        return {"rate": float(fps), "starting_time": float(seconds[0])}
    return {"timestamps": seconds}


def _video_series(pynwb: Any, video_path: str, timing: dict[str, Any], n: int) -> Any:
    from pynwb.image import ImageSeries

    kwargs: dict[str, Any] = {
        "name": "video",
        "description": "the video the poses were estimated from",
        "unit": "NA",
        "format": "external",
        "external_file": [str(video_path)],
        "starting_frame": [0],
    }
    if "rate" in timing:
        kwargs.update(rate=timing["rate"], starting_time=timing["starting_time"])
        if "num_samples" in {
            a["name"] for a in ImageSeries.__init__.__docval__["args"]
        }:
            kwargs["num_samples"] = n
    else:
        kwargs["timestamps"] = timing["timestamps"]
    return ImageSeries(**kwargs)


def _edges(skeleton: Sequence[Sequence[str]], keypoints: Sequence[str]) -> np.ndarray:
    edges = []
    for a, b in skeleton:
        if a not in keypoints or b not in keypoints:
            raise NWBError(
                f"skeleton edge ({a!r}, {b!r}) names a keypoint not among "
                f"{list(keypoints)}"
            )
        edges.append([keypoints.index(a), keypoints.index(b)])
    dtype = "uint8" if len(keypoints) <= 256 else "uint16"
    return np.asarray(edges, dtype=dtype).reshape(-1, 2)


def _pose_estimation(
    ndx_pose: Any,
    ds: xr.Dataset,
    individual: str,
    name: str,
    *,
    skeleton: Any,
    timing: dict[str, Any],
    scorer: str | None,
    video: Any,
    video_path: str | None,
    source_software: str,
) -> Any:
    keypoints = [str(k) for k in ds["keypoint"].values]
    pos = (
        ds["position"].sel(individual=individual).transpose("keypoint", "time", "space")
    )
    conf = ds["confidence"].sel(individual=individual).transpose("keypoint", "time")
    series = []
    for j, kp in enumerate(keypoints):
        c = conf.values[j]
        series.append(
            ndx_pose.PoseEstimationSeries(
                name=_check_name(kp, "keypoint"),
                description=f"Estimated position of {kp} of {individual}.",
                data=np.asarray(pos.values[j], np.float64),
                unit="pixels",
                reference_frame="(0,0) is the top-left corner of the video frame; "
                "x to the right, y down",
                confidence=np.asarray(c, np.float64) if np.isfinite(c).any() else None,
                confidence_definition="likelihood (score-map peak) of the network"
                if np.isfinite(c).any()
                else None,
                **timing,
            )
        )
    with warnings.catch_warnings():
        # ndx-pose 0.2+ calls original_videos deprecated (source_video replaces
        # it); DLC2NWB and readers of older ndx-pose files look for it
        warnings.simplefilter("ignore", DeprecationWarning)
        return ndx_pose.PoseEstimation(
            name=name,
            pose_estimation_series=series,
            description=f"Estimated positions of {', '.join(keypoints)} of "
            f"{individual}.",
            scorer=scorer,
            source_software=source_software,
            skeleton=skeleton,
            source_video=video,
            original_videos=[video_path] if video_path else None,
        )


def _build_file(
    ds: xr.Dataset,
    individuals: Sequence[str],
    *,
    fps: float | None,
    scorer: str | None,
    skeleton: Sequence[Sequence[str]] | None,
    video_path: str | None,
    source_software: str,
    nwbfile_kwargs: Mapping[str, Any],
) -> Any:
    pynwb, ndx_pose = _modules()
    keypoints = [str(k) for k in ds["keypoint"].values]
    nwbfile = _new_file(pynwb, ds, **nwbfile_kwargs)
    if len(individuals) == 1:
        nwbfile.subject = pynwb.file.Subject(subject_id=str(individuals[0]))
    timing = _timing(ds, fps)
    video = None
    if video_path:
        video = _video_series(pynwb, video_path, timing, ds.sizes["time"])
        nwbfile.add_acquisition(video)
    edges = skeleton if skeleton is not None else ds.attrs.get("skeleton") or []
    nwb_skeleton = ndx_pose.Skeleton(
        name="skeleton",
        nodes=keypoints,
        edges=_edges(edges, keypoints),
        subject=nwbfile.subject if len(individuals) == 1 else None,
    )
    behavior = nwbfile.create_processing_module(
        name="behavior", description="processed behavioral data"
    )
    behavior.add(ndx_pose.Skeletons(skeletons=[nwb_skeleton]))
    for ind in individuals:
        name = _SINGLE if len(individuals) == 1 else _PREFIX + str(ind)
        behavior.add(
            _pose_estimation(
                ndx_pose,
                ds,
                ind,
                _check_name(name, "individual"),
                skeleton=nwb_skeleton,
                timing=timing,
                scorer=scorer or ds.attrs.get("scorer"),
                video=video,
                video_path=video_path,
                source_software=source_software,
            )
        )
    return nwbfile


@register_saver("NWB", suffixes=(".nwb",))
def save_nwb(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    scorer: str | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    video_path: str | None = None,
    source_software: str = "posekit",
    **nwbfile_kwargs: Any,
) -> Path:
    """Write poses to one NWB file (``ndx-pose`` ``PoseEstimation`` per individual).

    Labelled frames (poses with ``attrs["frames"]`` and no confidence, as a label
    file loads) are written as ``TrainingFrames`` instead (:func:`write_nwb_labels`).

    Parameters
    ----------
    ds
        Poses dataset (2-D or 3-D positions).
    path
        Target ``.nwb`` (written atomically).
    fps
        Frame rate, if the dataset has none; else the rate its source video states
        (the video a ``.slp`` names, or a DeepLabCut file's video beside it or in its
        project). Without any, frame numbers are written as timestamps (read back as
        frames), the series' ``comments`` say so, and a warning asks for ``fps``.
    scorer
        The model's scorer name (default ``attrs["scorer"]``).
    skeleton
        Edges as pairs of keypoint names (default ``attrs["skeleton"]``; for poses
        of a DeepLabCut file, the skeleton in the ``config.yaml`` of the project it
        lies in; without one a warning says the file gets no edges).
    video_path
        The source video (default: ``attrs["video_path"]``, or the video of a
        DeepLabCut file; written as an absolute path when found on disk), linked as
        an external ``ImageSeries`` (``PoseEstimation.source_video``) and named in
        ``PoseEstimation.original_videos`` (ndx-pose's older field, which DLC2NWB
        writes).
    source_software
        ``PoseEstimation.source_software``.
    **nwbfile_kwargs
        ``session_description``, ``identifier``, ``session_start_time`` of the
        ``NWBFile``.

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    NWBError
        If a name cannot be an NWB name or an edge names an unknown keypoint.
    """
    if ds.attrs.get("frames") and not np.isfinite(ds["confidence"].values).any():
        return write_nwb_labels(
            _poses_to_labels(ds),
            path,
            skeleton=skeleton_for(ds, skeleton, path),
            **nwbfile_kwargs,
        )
    individuals = [str(i) for i in ds["individual"].values]
    path = Path(path)
    if video_path is None:
        found = source_video(ds)
        video_path = str(found) if found else ds.attrs.get("video_path")
    else:
        found = Path(video_path) if Path(video_path).is_file() else None
    fps = _frame_rate(ds, fps, found, path)
    nwbfile = _build_file(
        ds,
        individuals,
        fps=fps,
        scorer=scorer,
        skeleton=skeleton_for(ds, skeleton, path),
        video_path=str(video_path) if video_path else None,
        source_software=source_software,
        nwbfile_kwargs=nwbfile_kwargs,
    )
    return _write(_modules()[0], nwbfile, path)


def _frame_rate(
    ds: xr.Dataset, fps: float | None, video: Path | None, target: Path
) -> float | None:
    """Return the frame rate to write: given, the poses', else the video's (or warn)."""
    fps = fps or ds.attrs.get("fps")
    if fps or ds.attrs.get("time_unit") == "seconds":
        return fps
    fps = video_fps(video) if video is not None else None
    if fps:
        logger.info("%s: %g frames per second, from %s", target.name, fps, video)
        return fps
    named = ds.attrs.get("video_path")
    if video is not None:
        where = f"its video {video} states none"
    elif named:
        where = f"its video {named} is not found"
    elif ds.attrs.get("source_file"):
        where = "no video of it is found"
    else:
        where = "the poses have none"
    logger.warning(
        "%s: the frame rate is unknown (%s), so the NWB timestamps are frame "
        "numbers, not seconds (the series' comments say so); pass the frame rate: "
        "posekit convert --fps N (fps=N in Python)",
        target.name,
        where,
    )
    return None


def save_nwb_individuals(
    ds: xr.Dataset, path: str | os.PathLike, **kwargs: Any
) -> list[Path]:
    """Write one NWB file per individual: ``<stem>_<individual>.nwb``.

    ndx-pose's convention (one subject per NWB file), as DLC2NWB and movement write
    multi-animal poses; each file names its individual in ``NWBFile.subject``.
    :func:`load_nwb` given the list of files reads them back together.

    Parameters
    ----------
    ds
        Poses dataset.
    path
        Base path; the individual's name is added to its stem.
    **kwargs
        As for :func:`save_nwb`.

    Returns
    -------
    list of Path
        The files, in individual order.
    """
    path = Path(path)
    out = []
    for ind in ds["individual"].values:
        target = path.with_name(f"{path.stem}_{ind}{path.suffix or '.nwb'}")
        out.append(save_nwb(ds.sel(individual=[ind]), target, **kwargs))
    return out


# ---------------------------------------------------------------- predictions: read


def _holds_training_only(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            kinds = _neurodata_types(f)
    except OSError:
        return False
    return "PoseTraining" in kinds and "PoseEstimation" not in kinds


def _neurodata_types(f: h5py.File) -> set[str]:
    kinds = set()
    processing = f.get("processing")
    if not isinstance(processing, h5py.Group):
        return kinds
    for module in processing.values():
        if isinstance(module, h5py.Group):
            for obj in module.values():
                kind = obj.attrs.get("neurodata_type")
                if kind is not None:
                    kinds.add(kind.decode() if isinstance(kind, bytes) else str(kind))
    return kinds


def _sniff_nwb(path: Path) -> bool:
    """Recognise NWB by content: an HDF5 file with ``nwb_version`` and ndx-pose data.

    An ``.nwb`` file that starts like HDF5 but does not open (cut short) is claimed
    too, so that loading it says what is wrong with it.
    """
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
    except OSError:
        return False
    try:
        with h5py.File(path, "r") as f:
            if "nwb_version" not in f.attrs:
                return False
            return bool({"PoseEstimation", "PoseTraining"} & _neurodata_types(f))
    except OSError:
        return path.suffix.lower() == ".nwb"


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    pynwb, _ = _modules()
    if not path.is_file():
        raise FileNotFoundError(f"No NWB file at {path}")
    io = None
    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True)
        nwbfile = io.read()
    except Exception as err:  # h5py/hdmf raise many types for broken files
        if io is not None:
            io.close()
        raise NWBError(
            f"Could not read {path} as an NWB file ({type(err).__name__}: {err}); "
            "is it cut short, or not NWB?"
        ) from err
    try:
        yield nwbfile
    finally:
        io.close()


def _series_times(series: Any) -> np.ndarray:
    n = len(series.data)
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], np.float64)
    start = float(series.starting_time or 0.0)
    return start + np.arange(n) / float(series.rate)


def _series_values(series: Any) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(series.data[:], np.float64)
    conversion = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    if conversion != 1.0 or offset != 0.0:
        data = data * conversion + offset
    if series.confidence is None:
        conf = np.full(len(data), np.nan)
    else:
        conf = np.asarray(series.confidence[:], np.float64)
    return data, conf


def _pose_estimations(nwbfile: Any, module: str | None) -> list[tuple[str, Any]]:
    _, ndx_pose = _modules()
    found = []
    for mod_name, mod in nwbfile.processing.items():
        if module is not None and mod_name != module:
            continue
        for obj in mod.data_interfaces.values():
            if isinstance(obj, ndx_pose.PoseEstimation):
                found.append((mod_name, obj))
    modules = list(dict.fromkeys(m for m, _ in found))
    if len(modules) > 1:
        logger.warning(
            "poses in several processing modules %s; reading %r (pass module= for "
            "another)",
            modules,
            modules[0],
        )
        found = [f for f in found if f[0] == modules[0]]
    return found


def _keypoint_order(pe: Any, names: Sequence[str]) -> list[str]:
    nodes = []
    if pe.skeleton is not None:
        nodes = [str(n) for n in pe.skeleton.nodes[:]]
    if sorted(nodes) == sorted(names):
        return nodes
    return list(names)


def _read_pose_estimation(
    pe: Any, default_individual: str, renames: dict[str, str]
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{(individual, keypoint): (times, xy, confidence)}`` of one PoseEstimation.

    ``renames`` collects series names that are not keypoint names (DLC2NWB's
    ``<individual>_<bodypart>``).
    """
    series = dict(pe.pose_estimation_series.items())
    if pe.name.startswith("track="):
        individual = pe.name[len("track=") :]
    elif pe.name.startswith(_PREFIX):
        individual = pe.name[len(_PREFIX) :]
    else:
        individual = default_individual
    out = {}
    for name in _keypoint_order(pe, list(series)):
        s = series[name]
        ind, kp = individual, name
        match = _DLC2NWB.match(str(s.description or ""))
        if match and name == f"{match['individual']}_{match['bodypart']}":
            ind, kp = match["individual"], match["bodypart"]  # a DLC2NWB file
            renames[name] = kp
        data, conf = _series_values(s)
        out[(ind, kp)] = (_series_times(s), data, conf)
    return out


def _file_poses(path: Path, module: str | None) -> tuple[dict, dict[str, Any]]:
    with _open(path) as nwbfile:
        found = _pose_estimations(nwbfile, module)
        if not found:
            raise NWBError(
                f"{path} holds no ndx-pose PoseEstimation (processing modules: "
                f"{list(nwbfile.processing)}); labelled frames are read with "
                "read_nwb_labels"
            )
        subject = nwbfile.subject.subject_id if nwbfile.subject is not None else None
        poses: dict = {}
        meta: dict[str, Any] = {}
        renames: dict[str, str] = {}
        for _, pe in found:
            default = (subject or "individual_0") if len(found) == 1 else pe.name
            poses.update(_read_pose_estimation(pe, default, renames))
            meta.setdefault("scorer", pe.scorer)
            video = pe.source_video
            if video is not None and video.external_file is not None:
                meta.setdefault("video_path", str(video.external_file[0]))
            elif pe.original_videos is not None and len(pe.original_videos):
                meta.setdefault("video_path", str(pe.original_videos[0]))
            if pe.skeleton is not None and pe.skeleton.edges is not None:
                nodes = [renames.get(str(n), str(n)) for n in pe.skeleton.nodes[:]]
                meta.setdefault(
                    "edges",
                    [
                        [nodes[a], nodes[b]]
                        for a, b in pe.skeleton.edges[:]
                        if max(a, b) < len(nodes)
                    ],
                )
            comments = {str(s.comments) for s in pe.pose_estimation_series.values()}
            meta["frames"] = meta.get("frames", True) and comments == {FRAMES_COMMENT}
            rates = {s.rate for s in pe.pose_estimation_series.values()}
            meta.setdefault("rates", set()).update(rates)
    return poses, meta


def _fps_from(meta: dict[str, Any], times: np.ndarray) -> float | None:
    rates = meta["rates"] - {None}
    if len(rates) == 1 and None not in meta["rates"]:
        return float(rates.pop())
    steps = np.diff(times)
    if len(steps) and steps.min() > 0 and np.allclose(steps, steps[0], rtol=1e-6):
        return float(1.0 / steps[0])
    return None


@register_loader("NWB", sniff=_sniff_nwb, suffixes=(".nwb",))
def load_nwb(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    fps: float | None = None,
    module: str | None = None,
) -> xr.Dataset:
    """Load poses from NWB (``ndx-pose`` ``PoseEstimation``) as a poses dataset.

    Parameters
    ----------
    path
        An ``.nwb`` file, or a list of them (one per individual, as DLC2NWB and
        movement write them).
    fps
        Frame rate for a file whose times are frame numbers (posekit without a
        frame rate); otherwise the file's rate (or the spacing of its timestamps)
        is used.
    module
        The processing module to read (default: the first that holds poses).

    Returns
    -------
    xarray.Dataset
        ``time`` in seconds (the series' times; ``attrs["fps"]`` from their rate),
        or frames for a file posekit wrote without a frame rate; ``individual``
        from the ``PoseEstimation`` names, the subject or DLC2NWB's series names;
        attrs ``scorer``, ``video_path`` and ``skeleton`` when the file has them.
        A file of labelled frames (no ``PoseEstimation``) loads with
        ``attrs["frames"]`` (see :func:`read_nwb_labels`).

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    FileNotFoundError
        If a file does not exist.
    NWBError
        If a file is not readable NWB or holds no poses.
    """
    paths = (
        [Path(path)] if isinstance(path, (str, os.PathLike)) else list(map(Path, path))
    )
    if len(paths) == 1 and _holds_training_only(paths[0]):
        return _labels_as_poses(paths[0], fps=fps)
    poses: dict = {}
    meta: dict[str, Any] = {"rates": set(), "frames": True}
    for p in paths:
        file_poses, file_meta = _file_poses(p, module)
        clash = set(file_poses) & set(poses)
        if clash:
            raise NWBError(f"{p} repeats individuals/keypoints {sorted(clash)[:3]}")
        poses.update(file_poses)
        for key, value in file_meta.items():
            if key == "rates":
                meta["rates"] |= value
            elif key == "frames":
                meta["frames"] = meta["frames"] and value
            else:
                meta.setdefault(key, value)
    individuals = list(dict.fromkeys(i for i, _ in poses))
    keypoints = list(dict.fromkeys(k for _, k in poses))
    all_times = np.concatenate([v[0] for v in poses.values()])
    keys, first = np.unique(np.round(all_times, _ROUND), return_index=True)
    times = all_times[first]  # the times as stored (rounding only matches them)
    n_space = max(v[1].shape[1] for v in poses.values())
    pos = np.full((len(times), n_space, len(keypoints), len(individuals)), np.nan)
    conf = np.full((len(times), len(keypoints), len(individuals)), np.nan)
    for (ind, kp), (t, data, c) in poses.items():
        rows = np.searchsorted(keys, np.round(t, _ROUND))
        j, k = keypoints.index(kp), individuals.index(ind)
        pos[rows, : data.shape[1], j, k] = data
        conf[rows, j, k] = c
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=keypoints,
        individual_names=individuals,
        source_software="NWB",
        source_file=str(paths[0]) if len(paths) == 1 else str([str(p) for p in paths]),
    )
    if meta["frames"]:
        if fps:
            ds = ds.assign_coords(time=times / fps)
            ds.attrs.update(fps=float(fps), time_unit="seconds")
        else:
            ds = ds.assign_coords(time=times)
    else:
        ds = ds.assign_coords(time=times)
        ds.attrs.update(fps=_fps_from(meta, times), time_unit="seconds")
    for key in ("scorer", "video_path"):
        if meta.get(key):
            ds.attrs[key] = str(meta[key])
    if meta.get("edges") is not None:
        ds.attrs["skeleton"] = [
            e for e in meta["edges"] if e[0] in keypoints and e[1] in keypoints
        ]
    return ds


# ---------------------------------------------------------------- labels


def _poses_to_labels(ds: xr.Dataset) -> pd.DataFrame:
    """Turn the labelled frames held in a poses dataset into DLC labels."""
    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    xy = ds["position"].transpose("time", "individual", "keypoint", "space").values
    match = re.match(
        r"CollectedData_(.+)\.(h5|csv)$", Path(ds.attrs.get("source_file") or "").name
    )
    scorer = str(ds.attrs.get("scorer") or (match and match.group(1)) or "posekit")
    rows = list(ds.attrs["frames"])
    if individuals == ["individual_0"]:
        return make_labels_frame(scorer, keypoints, rows, xy[:, 0, :, :2])
    return make_labels_frame(
        scorer, keypoints, rows, xy[..., :2], individuals=individuals
    )


def _video_of(row: str) -> str:
    parts = row.split("/")
    return parts[1] if len(parts) == 3 else "images"


def write_nwb_labels(
    labels: pd.DataFrame,
    path: str | os.PathLike,
    *,
    skeleton: Sequence[Sequence[str]] = (),
    **nwbfile_kwargs: Any,
) -> Path:
    """Write DeepLabCut labels as ndx-pose 0.4 ``PoseTraining`` (``TrainingFrames``).

    Parameters
    ----------
    labels
        DLC labels (single- or multi-animal), rows ``labeled-data/<video>/<image>``.
    path
        Target ``.nwb`` (written atomically).
    skeleton
        Edges as pairs of bodypart names.
    **nwbfile_kwargs
        ``session_description``, ``identifier``, ``session_start_time``.

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    NWBError
        If a name cannot be an NWB name.
    """
    pynwb, ndx_pose = _modules()
    from pynwb.image import ImageSeries

    scorer = str(labels.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    sub = labels[scorer]
    if "individuals" in labels.columns.names:
        individuals = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
    else:
        individuals = [""]
        sub = pd.concat({"": sub}, axis=1)
    rows = index_to_paths(labels.index)
    nwbfile = _new_file(
        pynwb,
        xr.Dataset(attrs={"source_software": "DeepLabCut labels"}),
        **nwbfile_kwargs,
    )
    nwb_skeleton = ndx_pose.Skeleton(
        name="skeleton",
        nodes=[_check_name(b, "bodypart") for b in bodyparts],
        edges=_edges(skeleton, bodyparts),
    )
    videos: dict[str, list[str]] = {}
    for row in rows:
        videos.setdefault(_video_of(row), []).append(row)
    sources = {}
    for video, files in videos.items():
        kwargs: dict[str, Any] = {
            "name": _check_name(video, "video folder"),
            "description": f"the labelled images of {video}",
            "unit": "NA",
            "format": "external",
            "external_file": files,
            "starting_frame": list(range(len(files))),
            "rate": 1.0,
        }
        if "num_samples" in {
            a["name"] for a in ImageSeries.__init__.__docval__["args"]
        }:
            kwargs["num_samples"] = len(files)
        sources[video] = ImageSeries(**kwargs)
    frames = []
    for i, row in enumerate(rows):
        instances = []
        for k, ind in enumerate(individuals):
            xy = np.full((len(bodyparts), 2), np.nan)
            for j, bp in enumerate(bodyparts):
                if (ind, bp, "x") in sub.columns:
                    xy[j] = sub[(ind, bp, "x")].iloc[i], sub[(ind, bp, "y")].iloc[i]
            seen = np.isfinite(xy).all(axis=1)
            instances.append(
                ndx_pose.SkeletonInstance(
                    name=_check_name(ind or "individual_0", "individual"),
                    id=np.uint8(k) if k < 256 else np.uint16(k),
                    node_locations=xy,
                    node_visibility=seen,
                    skeleton=nwb_skeleton,
                )
            )
        video = _video_of(row)
        frames.append(
            ndx_pose.TrainingFrame(
                name=f"frame_{i}",
                annotator=scorer,
                skeleton_instances=ndx_pose.SkeletonInstances(
                    skeleton_instances=instances
                ),
                source_video=sources[video],
                source_video_frame_index=np.uint32(videos[video].index(row)),
            )
        )
    behavior = nwbfile.create_processing_module(
        name="behavior", description="processed behavioral data"
    )
    behavior.add(ndx_pose.Skeletons(skeletons=[nwb_skeleton]))
    behavior.add(
        ndx_pose.PoseTraining(
            training_frames=ndx_pose.TrainingFrames(training_frames=frames),
            source_videos=ndx_pose.SourceVideos(image_series=list(sources.values())),
        )
    )
    return _write(pynwb, nwbfile, Path(path))


def _frame_row(frame: Any) -> str:
    video = frame.source_video
    index = frame.source_video_frame_index
    if video is None or index is None:
        return f"labeled-data/images/{frame.name}.png"
    files = (
        [str(f) for f in video.external_file[:]]
        if video.external_file is not None
        else []
    )
    index = int(index)
    if len(files) > 1 and index < len(files):
        return files[index].replace("\\", "/")
    from ..project import index_length

    n = int(getattr(video, "num_samples", 0) or 0)
    stem = Path(files[0]).stem if files else video.name
    return f"labeled-data/{stem}/img{str(index).zfill(index_length(max(n, index + 1)))}.png"


def _natural(name: str) -> list[Any]:
    """Sort key: ``frame_2`` before ``frame_10`` (HDF5 lists names alphabetically)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _subject_names(nwbfile: Any) -> list[str] | None:
    table = getattr(nwbfile, "subjects_table", None)
    if table is None:
        return None
    return [str(s) for s in table["subject_id"][:]]


def read_nwb_labels(
    path: str | os.PathLike, *, scorer: str | None = None
) -> pd.DataFrame:
    """Read labelled frames (ndx-pose ``PoseTraining``/``TrainingFrames``) as DLC labels.

    Parameters
    ----------
    path
        The ``.nwb`` file.
    scorer
        DLC scorer; default the frames' ``annotator``, else ``"nwb"``.

    Returns
    -------
    pandas.DataFrame
        DLC labels (3-level rows). Rows are the images named by each frame's source
        ``ImageSeries`` (posekit's files), or ``labeled-data/<video stem>/img<index>.png``
        for a frame of a video (SLEAP's). Multi-animal when a frame has several
        instances: individuals are the instance names, or the subjects of an
        ndx-multisubjects ``SubjectsTable``. Invisible nodes are NaN.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    NWBError
        If the file is unreadable or holds no training frames.
    """
    path = Path(path)
    _, ndx_pose = _modules()
    with _open(path) as nwbfile:
        trainings = [
            obj
            for mod in nwbfile.processing.values()
            for obj in mod.data_interfaces.values()
            if isinstance(obj, ndx_pose.PoseTraining)
        ]
        if not trainings or trainings[0].training_frames is None:
            raise NWBError(f"{path} holds no ndx-pose PoseTraining training frames")
        subjects = _subject_names(nwbfile)
        bodyparts: list[str] = []
        rows: list[str] = []
        records = []
        annotator = None
        frames = trainings[0].training_frames.training_frames
        for _, frame in sorted(frames.items(), key=lambda item: _natural(item[0])):
            annotator = annotator or frame.annotator
            row = _frame_row(frame)
            rows.append(row)
            for inst in frame.skeleton_instances.skeleton_instances.values():
                nodes = [str(n) for n in inst.skeleton.nodes[:]]
                bodyparts += [n for n in nodes if n not in bodyparts]
                xy = np.asarray(inst.node_locations[:], np.float64)[:, :2]
                if inst.node_visibility is not None:
                    xy[~np.asarray(inst.node_visibility[:], bool)] = np.nan
                name = str(inst.name)
                if subjects and inst.id is not None and int(inst.id) < len(subjects):
                    name = subjects[int(inst.id)]
                records.append((len(rows) - 1, name, dict(zip(nodes, xy, strict=True))))
    if not records:
        raise NWBError(f"{path}: its training frames hold no skeleton instance")
    individuals = list(dict.fromkeys(n for _, n, _ in records))
    if subjects:
        individuals = [n for n in subjects if n in individuals] + [
            n for n in individuals if n not in subjects
        ]
    counts = pd.Series([i for i, _, _ in records]).value_counts()
    multi = len(individuals) > 1 or int(counts.max()) > 1
    xy = np.full((len(rows), len(individuals), len(bodyparts), 2), np.nan)
    for i, name, points in records:
        for bp, p in points.items():
            xy[i, individuals.index(name), bodyparts.index(bp)] = p
    scorer = scorer or annotator or "nwb"
    if not multi:
        return make_labels_frame(scorer, bodyparts, rows, xy[:, 0])
    return make_labels_frame(scorer, bodyparts, rows, xy, individuals=individuals)


def _labels_as_poses(path: Path, *, fps: float | None) -> xr.Dataset:
    labels = read_nwb_labels(path)
    scorer = str(labels.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    xy = labels_to_array(labels, bodyparts)
    if "individuals" in labels.columns.names:
        individuals = list(
            dict.fromkeys(labels.columns.get_level_values("individuals"))
        )
    else:
        individuals, xy = ["individual_0"], xy[:, None]
    ds = from_numpy(
        xy.transpose(0, 3, 2, 1),
        keypoint_names=bodyparts,
        individual_names=individuals,
        fps=fps,
        source_software="NWB",
        source_file=str(path),
    )
    ds.attrs["frames"] = index_to_paths(labels.index)
    ds.attrs["scorer"] = scorer
    return ds
