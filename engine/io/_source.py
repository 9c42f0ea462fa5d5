"""What a tracking file's surroundings tell the writers: its video, frame rate, skeleton.

A SLEAP ``.slp`` names its video relative to itself (``clip.mp4``); a DeepLabCut
predictions file is named after its video and lies beside it or in a project's
``videos/``, whose ``config.yaml`` holds the skeleton DeepLabCut files do not. The NWB
and SLEAP writers use these to write the frame rate, the source video and the skeleton
of poses converted from such a file.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = [
    "source_video",
    "video_fps",
    "project_skeleton",
    "skeleton_for",
    "image_row",
    "image_root",
]

logger = logging.getLogger("posekit.io")


def _source_file(ds: xr.Dataset) -> Path | None:
    source = ds.attrs.get("source_file")
    if not source or not isinstance(source, (str, os.PathLike)):
        return None  # a list of files (NWB read from several) names no one folder
    path = Path(source)
    return path if path.is_file() else None


def _project(source: Path) -> Any:
    from ..project import find_project

    try:
        return find_project(source)
    except Exception as err:  # an unreadable config.yaml: no project to use
        logger.info("no project found for %s: %s", source, err)
        return None


def source_video(ds: xr.Dataset) -> Path | None:
    """Return the video the poses were made from, when it is on disk.

    ``attrs["video_path"]``: an absolute one as it is, a relative one relative to the
    source file's folder (SLEAP names its video relative to the ``.slp``; never the
    current folder), else its name beside the source file; without a
    ``video_path``, the video a DeepLabCut predictions file is named after, beside it
    or in the project it lies in (:func:`posekit.engine.project.find_video`).

    Parameters
    ----------
    ds
        Poses dataset (``attrs["video_path"]``, ``attrs["source_file"]``).

    Returns
    -------
    Path or None
        The video (absolute), or ``None`` when none is found.
    """
    named = ds.attrs.get("video_path")
    source = _source_file(ds)
    candidates: list[Path] = []
    if named:
        named_path = Path(str(named))
        if source is not None and not named_path.is_absolute():
            # relative to the source file, never to the current folder
            candidates.append(source.parent / named_path)
        else:
            candidates.append(named_path)
        if source is not None:
            candidates.append(source.parent / named_path.name)
    for path in candidates:
        if path.is_file():
            return path.absolute()
    if named or source is None or ds.attrs.get("source_software") == "SLEAP":
        return None
    from ..project import find_video

    video = find_video(source, _project(source))
    return video.absolute() if video is not None else None


def video_fps(path: str | os.PathLike) -> float | None:
    """Return a video's frame rate as its container states it, or ``None``.

    Parameters
    ----------
    path
        The video.

    Returns
    -------
    float or None
        Frames per second; ``None`` when the video does not open or states none.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    return fps if math.isfinite(fps) and fps > 0 else None


def project_skeleton(ds: xr.Dataset) -> list[list[str]] | None:
    """Return the skeleton of the project the source file lies in.

    Parameters
    ----------
    ds
        Poses dataset (``attrs["source_file"]``).

    Returns
    -------
    list or None
        The ``config.yaml`` skeleton's edges between keypoints of ``ds``; ``None``
        when the file lies in no project.
    """
    source = _source_file(ds)
    project = _project(source) if source is not None else None
    if project is None:
        return None
    keypoints = {str(k) for k in ds["keypoint"].values}
    return [[a, b] for a, b in project.skeleton if a in keypoints and b in keypoints]


def skeleton_for(
    ds: xr.Dataset, skeleton: Any, target: str | os.PathLike
) -> list[list[str]]:
    """Return the edges a writer writes: given, the poses', or their project's.

    Poses from a DeepLabCut file have no skeleton (DeepLabCut keeps it in
    ``config.yaml``): the project the file lies in is found as the viewer finds it;
    without one, a warning says the file is written without edges.

    Parameters
    ----------
    ds
        Poses dataset.
    skeleton
        Edges passed to the writer, or ``None``.
    target
        The file being written (for the warning).

    Returns
    -------
    list
        Pairs of keypoint names.
    """
    if skeleton is not None:
        return [[str(a), str(b)] for a, b in skeleton]
    if "skeleton" in ds.attrs:
        return [[str(a), str(b)] for a, b in ds.attrs.get("skeleton") or []]
    edges = project_skeleton(ds)
    if edges is not None:
        return edges
    source = ds.attrs.get("source_file")
    logger.warning(
        "%s: %s holds no skeleton and lies in no project (no config.yaml above it), "
        "so it is written without edges; give the edges (posekit convert ... "
        "--skeleton FILE, from a config.yaml or a .slp/.nc/.nwb that has them; "
        "skeleton=[[a, b], ...] in Python) or convert the file inside its project",
        Path(target).name,
        Path(str(source)).name if source else "the poses",
    )
    return []


def image_row(file: str | os.PathLike, folder: str) -> str:
    """Return the DeepLabCut row of a labelled image, from ``labeled-data/`` on.

    Parameters
    ----------
    file
        The image as another format names it (absolute, or relative to a file).
    folder
        The video folder for an image outside any ``labeled-data/<video>/``.

    Returns
    -------
    str
        ``labeled-data/<video>/<image>``.

    Examples
    --------
    >>> image_row("/data/proj/labeled-data/m4s1/img0003.png", "x")
    'labeled-data/m4s1/img0003.png'
    >>> image_row("frames/a.png", "cam")
    'labeled-data/cam/a.png'
    """
    parts = str(file).replace("\\", "/").split("/")
    if "labeled-data" in parts[:-1]:
        i = len(parts) - 1 - parts[::-1].index("labeled-data")
        if len(parts) - i == 3:
            return "/".join(parts[i:])
    return f"labeled-data/{folder}/{parts[-1]}"


def image_root(files: list[str], rows: list[str]) -> str | None:
    """Return the folder every image lies in as ``<folder>/<row>``, if one does.

    Parameters
    ----------
    files
        The images (absolute paths, found on disk).
    rows
        Their DeepLabCut rows.

    Returns
    -------
    str or None
        The common folder (a project), or ``None``.
    """
    roots = set()
    for file, row in zip(files, rows, strict=True):
        path = Path(file).as_posix()
        if not Path(file).is_file() or not path.endswith("/" + row):
            return None
        roots.add(path[: -len(row) - 1])
    return roots.pop() if len(roots) == 1 else None
