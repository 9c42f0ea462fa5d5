"""DeepLabCut's multi-animal video outputs, read and written.

For a video analysed with scorer ``<scorer>`` (``<stem><scorer>`` is the prefix):

- ``_full.pickle``: ``{"metadata": {...}, "frame0000": {...}, …}``, each frame's
  candidates and affinities (:meth:`~.peaks.FrameDetections.to_dlc`); the metadata
  holds ``nms radius``, ``minimal confidence``, ``sigma``, ``PAFgraph``, ``PAFinds``,
  ``all_joints``, ``all_joints_names``, ``nframes`` (``predict_multianimal.py``);
- ``_assemblies.pickle``: ``{frame index: [ (n_multi, 4) x, y, likelihood, identity ],
  …, "single": {frame index: (n_unique, 3)}}`` (``Assembler.to_pickle``);
- ``_<el|bx|sk>.pickle``: the tracklets, ``{"header": columns, tracklet id:
  {"frame0000": (n_multi, 3), …}, "single": {…}}`` (``convert_detections2tracklets``);
- ``_<el|bx|sk>.h5``: the stitched tracks, HDF key ``tracks``, columns
  ``scorer/individuals/bodyparts/coords`` with ``x, y, likelihood``, unique bodyparts
  under ``single`` (``stitch_tracklets``); :func:`~posekit.engine.io.load_poses` reads
  it as the movement-schema Dataset with an ``individual`` dimension.

Pickles are written atomically with the highest protocol; the reader only unpickles
NumPy arrays, pandas indexes and built-in containers.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._fileio import atomic_path
from ..io.dlc import write_predictions
from ..io.safe_pickle import read_pickle
from .assembly import Assemblies
from .layout import MultiAnimalLayout, multianimal_frame
from .peaks import FrameDetections
from .tracking import Tracklet

__all__ = [
    "frame_key",
    "full_pickle_metadata",
    "save_full_pickle",
    "read_full_pickle",
    "save_assemblies_pickle",
    "read_assemblies_pickle",
    "save_tracklets_pickle",
    "read_tracklets_pickle",
    "tracks_frame",
    "write_tracks",
    "read_pickle",
]


def frame_key(index: int, n_frames: int) -> str:
    """Return DeepLabCut's key of a frame in the pickles: ``frame`` + zero-padded index.

    Examples
    --------
    >>> frame_key(7, 1500)
    'frame0007'
    """
    width = max(1, int(np.ceil(np.log10(max(n_frames, 2)))))
    return f"frame{int(index):0{width}d}"


def _dump(obj: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(obj, fh, pickle.HIGHEST_PROTOCOL)
    return path


def full_pickle_metadata(
    layout: MultiAnimalLayout,
    paf_edges: Sequence[tuple[int, int]],
    n_frames: int,
    *,
    nms_radius: float,
    min_confidence: float,
    sigma: float,
    nms_distance: float | None = None,
) -> dict[str, Any]:
    """Build the ``metadata`` entry of a ``_full.pickle`` (DeepLabCut's keys).

    ``nms_radius`` is DeepLabCut's ``nmsradius`` (the max-pool window, score-map
    cells); ``nms_distance`` (frame pixels, posekit's key ``nms distance``) the
    distance within which refined peaks of one bodypart were merged.
    """
    names = list(layout.bodyparts)
    extra = {} if nms_distance is None else {"nms distance": float(nms_distance)}
    return {
        **extra,
        "nms radius": float(nms_radius),
        "minimal confidence": float(min_confidence),
        "sigma": float(sigma),
        "PAFgraph": [list(map(int, e)) for e in paf_edges],
        "PAFinds": list(range(len(paf_edges))),
        "all_joints": [[i] for i in range(len(names))],
        "all_joints_names": names,
        "nframes": int(n_frames),
    }


def save_full_pickle(
    path: str | os.PathLike,
    detections: Sequence[FrameDetections],
    metadata: Mapping[str, Any],
) -> Path:
    """Write a video's candidates and affinities as DeepLabCut's ``_full.pickle``."""
    n = len(detections)
    data: dict[str, Any] = {"metadata": dict(metadata)}
    for i, det in enumerate(detections):
        data[frame_key(i, n)] = det.to_dlc()
    return _dump(data, path)


def read_full_pickle(
    path: str | os.PathLike,
) -> tuple[dict[str, Any], list[FrameDetections]]:
    """Read a ``_full.pickle`` (ours or DeepLabCut's).

    Returns
    -------
    metadata : dict
    detections : list of FrameDetections
        In frame order (frames missing from the file are empty).
    """
    data = read_pickle(path)
    meta = dict(data.get("metadata") or {})
    keys = sorted((k for k in data if k != "metadata"), key=lambda k: int(k[5:]))
    n_channels = len(meta.get("all_joints_names") or [])
    n = max(int(meta.get("nframes") or 0), (int(keys[-1][5:]) + 1) if keys else 0)
    empty = FrameDetections.empty(n_channels)
    out = [empty] * n
    for k in keys:
        out[int(k[5:])] = FrameDetections.from_dlc(data[k])
    return meta, out


def save_assemblies_pickle(
    path: str | os.PathLike, assemblies: Sequence[Assemblies]
) -> Path:
    """Write each frame's animals as DeepLabCut's ``_assemblies.pickle``."""
    data: dict[Any, Any] = {}
    single: dict[int, np.ndarray] = {}
    for i, a in enumerate(assemblies):
        if len(a.animals):
            ident = np.full(a.animals.shape[:2] + (1,), -1.0)
            data[i] = [
                np.concatenate([x, y], axis=1)
                for x, y in zip(a.animals, ident, strict=True)
            ]
        if a.unique.size and np.isfinite(a.unique).any():
            single[i] = a.unique
    if single:
        data["single"] = single
    return _dump(data, path)


def read_assemblies_pickle(
    path: str | os.PathLike, n_frames: int, n_multi: int, n_unique: int = 0
) -> list[Assemblies]:
    """Read an ``_assemblies.pickle`` back into one :class:`Assemblies` per frame."""
    data = read_pickle(path)
    single = data.pop("single", {})
    out = []
    for i in range(n_frames):
        rows = data.get(i, [])
        animals = (
            np.stack([np.asarray(r, float)[:, :3] for r in rows])
            if rows
            else np.zeros((0, n_multi, 3))
        )
        scores = np.nansum(animals[..., 2], axis=1) / max(n_multi, 1)
        unique = np.asarray(single.get(i, np.full((n_unique, 3), np.nan)), float)
        out.append(Assemblies(animals, scores, unique))
    return out


def save_tracklets_pickle(
    path: str | os.PathLike,
    tracklets: Sequence[Tracklet],
    layout: MultiAnimalLayout,
    scorer: str,
    n_frames: int,
    unique: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write tracklets as DeepLabCut's ``_el.pickle`` (``_bx``/``_sk``)."""
    header = pd.MultiIndex.from_product(
        [[scorer], list(layout.multi_bodyparts), ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    data: dict[Any, Any] = {"header": header}
    for t in tracklets:
        data[int(t.id)] = {
            frame_key(f, n_frames): np.asarray(kp, float)
            for f, kp in zip(t.frames, t.keypoints, strict=True)
        }
    if unique is not None and layout.n_unique:
        data["single"] = {
            frame_key(i, n_frames): np.asarray(u, float)
            for i, u in enumerate(unique)
            if np.isfinite(u).any()
        }
    return _dump(data, path)


def read_tracklets_pickle(path: str | os.PathLike) -> list[Tracklet]:
    """Read the tracklets of an ``_el.pickle`` (``single`` and ``header`` left out)."""
    data = read_pickle(path)
    out = []
    for key, frames in data.items():
        if key in ("header", "single") or not isinstance(frames, dict) or not frames:
            continue
        order = sorted(frames, key=lambda k: int(k[5:]))
        out.append(
            Tracklet(
                int(key),
                np.array([int(k[5:]) for k in order], int),
                np.stack([np.asarray(frames[k], float)[:, :3] for k in order]),
            )
        )
    return sorted(out, key=lambda t: t.id)


def read_tracklets_unique(
    path: str | os.PathLike, n_frames: int, n_unique: int
) -> np.ndarray | None:
    """Return the unique bodyparts an ``_el.pickle`` holds (``single``), else ``None``.

    ``(n_frames, n_unique, 3)``, NaN in frames without them.
    """
    if not n_unique:
        return None
    single = read_pickle(path).get("single") or {}
    out = np.full((int(n_frames), int(n_unique), 3), np.nan)
    for key, value in single.items():
        index = int(str(key)[5:])
        if 0 <= index < n_frames:
            out[index] = np.asarray(value, float)[:, :3]
    return out


def video_frame_count(stem: str | os.PathLike, tracklets: Sequence[Tracklet]) -> int:
    """Return how many frames a video analysed into ``<stem>…`` files has.

    ``nframes`` of ``<stem>_meta.pickle`` (DeepLabCut's ``data``), else of the
    ``_full.pickle`` metadata, else one past the last frame of the tracklets.
    """
    meta = Path(f"{stem}_meta.pickle")
    if meta.is_file():
        n = (read_pickle(meta).get("data") or {}).get("nframes")
        if n:
            return int(n)
    full = Path(f"{stem}_full.pickle")
    if full.is_file():
        n = (read_pickle(full).get("metadata") or {}).get("nframes")
        if n:
            return int(n)
    return max((int(t.frames[-1]) + 1 for t in tracklets if len(t.frames)), default=0)


def tracks_frame(
    tracks: np.ndarray,
    layout: MultiAnimalLayout,
    scorer: str,
    unique: np.ndarray | None = None,
) -> pd.DataFrame:
    """Stitched tracks → DeepLabCut's ``_el.h5`` table (individuals from the layout).

    Parameters
    ----------
    tracks
        ``(n_frames, n_tracks, n_multi, 3)``; track ``k`` is individual ``k``
        (``ind<k+1>`` beyond the layout's individuals, as DeepLabCut names them).
    layout
        The project's layout.
    scorer
        The ``scorer`` level.
    unique
        ``(n_frames, n_unique, 3)`` unique bodyparts.

    Returns
    -------
    pandas.DataFrame
        Integer frame index, columns ``scorer/individuals/bodyparts/coords``.
    """
    n_tracks = tracks.shape[1]
    names = list(layout.individuals[:n_tracks])
    names += [f"ind{k + 1}" for k in range(len(names), n_tracks)]
    out_layout = MultiAnimalLayout(
        tuple(names), layout.multi_bodyparts, layout.unique_bodyparts
    )
    return multianimal_frame(
        out_layout,
        scorer,
        pd.RangeIndex(len(tracks)),
        tracks,
        unique,
        coords=("x", "y", "likelihood"),
    )


def write_tracks(
    df: pd.DataFrame, path: str | os.PathLike, *, save_csv: bool = False
) -> Path:
    """Write stitched tracks as DeepLabCut does: table format, HDF key ``tracks``."""
    return write_predictions(df, path, save_csv=save_csv, key="tracks")
