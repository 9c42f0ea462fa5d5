"""SLEAP files: labels/predictions ``.slp`` and analysis ``.h5``, read with h5py.

``.slp`` is HDF5 (no sleap-io needed): ``frames``, ``instances``, ``points`` (user
instances), ``pred_points`` (predicted instances, with a per-point ``score``),
``tracks_json`` and a ``metadata`` group whose ``json`` attribute holds the skeletons
and the global node list. Each instance owns ``points[point_id_start:point_id_end]`` in
its skeleton's node order.

Mapping to the poses dataset:

- ``individual``: the track names; without tracks, ``individual_0..n`` in the order of
  the instances in each frame (``attrs["identities"] = False``: no identities, written
  back as untracked instances). Instances without a track in a tracked file are
  dropped.
- ``time``: frame indices ``0..max(frame_idx)`` of the chosen video; frames without an
  instance (and invisible points) are NaN.
- a user-labelled instance wins over a predicted one of the same track and frame.
- ``confidence``: point scores of predicted instances, of their invisible points too
  (SLEAP keeps a score for a point it did not place, as sleap-io reads it: a NaN
  position with a likelihood, like a DeepLabCut point below ``pcutoff`` masked out);
  a score of 0 is a prediction, never a gap. NaN for user labels.
- files with ``format_id < 1.1`` use SLEAP's old pixel convention (corner at 0); their
  coordinates are shifted by −0.5 like sleap-io does.

Analysis ``.h5`` files (``sleap-convert --format analysis``) hold dense ``tracks``
(MATLAB order ``(track, xy, node, frame)`` unless a ``dims`` attribute says otherwise),
``point_scores``, ``track_names`` and ``node_names``.

Both readers put the skeleton's body edges in ``attrs["skeleton"]`` (pairs of node
names) and the video in ``attrs["video_path"]``.

Writing goes through sleap-io (``pip install "posekit[sleap]"``): :func:`save_slp`
writes each individual as a track (its name kept), an instance per frame where it has
a point: a ``PredictedInstance`` with the confidences as point scores (a point
without a position keeps its score as an invisible point, so likelihood 0 and NaN
positions come back as they were), or a user ``Instance`` when it has no confidence
at all (hand labels). Frames without any point are not stored (SLEAP keeps labelled
frames only), so trailing empty frames are lost, and so are the likelihoods of an
animal that has no point in a frame (a warning counts them).
:func:`save_sleap_analysis` writes the analysis ``.h5``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from .._fileio import atomic_path
from ..poses import frame_numbers, from_numpy, mark_time_unit
from . import register_loader, register_saver
from ._source import skeleton_for

__all__ = [
    "import_sleap",
    "load_sleap",
    "read_slp_arrays",
    "read_analysis_h5_arrays",
    "poses_to_sleap_labels",
    "save_slp",
    "save_sleap_analysis",
]

logger = logging.getLogger("posekit.io.sleap")

_USER, _PREDICTED = 0, 1


def _decode(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _node_index(node: Any) -> int:
    """Index of a skeleton node in the global node list."""
    if isinstance(node, dict):
        node = node.get("id", node)
    if isinstance(node, dict):
        raise ValueError(
            f"cannot read the SLEAP node reference {node!r} (an old jsonpickle layout); "
            "open the file in SLEAP or sleap-io and save it again"
        )
    return int(node)


def _skeleton_nodes(metadata: dict[str, Any], skeleton: int) -> list[str]:
    names = [n["name"] if isinstance(n, dict) else str(n) for n in metadata["nodes"]]
    skeletons = metadata.get("skeletons") or []
    if skeleton >= len(skeletons):
        raise ValueError(
            f"the file has {len(skeletons)} skeleton(s); skeleton={skeleton} does not exist"
        )
    skel = skeletons[skeleton]
    if "nx_graph" in skel:
        skel = skel["nx_graph"]
    return [names[_node_index(n)] for n in skel["nodes"]]


def _edge_type(value: Any, seen: dict[int, int]) -> int | None:
    """Decode a jsonpickle ``EdgeType`` (1 body, 2 symmetry); ``seen`` maps py/ids."""
    if isinstance(value, dict) and "py/reduce" in value:
        kind = int(value["py/reduce"][1]["py/tuple"][0])
        seen[len(seen) + 1] = kind
        return kind
    if isinstance(value, dict) and "py/id" in value:
        return seen.get(int(value["py/id"]))
    return int(value) if isinstance(value, (int, float)) else None


def _skeleton_edges(metadata: dict[str, Any], skeleton: int) -> list[list[str]]:
    """Body edges of a skeleton as pairs of node names, in SLEAP's insertion order."""
    names = [n["name"] if isinstance(n, dict) else str(n) for n in metadata["nodes"]]
    skel = (metadata.get("skeletons") or [{}])[skeleton]
    if "nx_graph" in skel:
        skel = skel["nx_graph"]
    links = skel.get("links") or skel.get("edges") or []
    seen: dict[int, int] = {}
    kinds = [_edge_type(link.get("type"), seen) for link in links]
    body = [link for link, kind in zip(links, kinds, strict=True) if kind in (None, 1)]
    body.sort(key=lambda link: link.get("edge_insert_idx", 0))
    return [
        [names[_node_index(link["source"])], names[_node_index(link["target"])]]
        for link in body
    ]


def _open_slp(path: Path) -> h5py.File:
    """Open a ``.slp`` for reading; a file that is not one is a ``ValueError``.

    Raises
    ------
    ValueError
        The file does not open as HDF5 (cut short?), or lacks SLEAP's ``metadata``,
        ``frames``, ``instances`` or ``points``.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"{path} is not an HDF5 file that opens, so not a readable SLEAP .slp "
            f"(is it cut short?): {err}"
        ) from err
    missing = [k for k in ("metadata", "frames", "instances", "points") if k not in f]
    if missing:
        keys = list(f)
        f.close()
        raise ValueError(
            f"{path} is not a SLEAP labels file: it has no {missing[0]!r} (has {keys})"
        )
    return f


def read_slp_arrays(
    path: str | os.PathLike, *, video: int = 0, skeleton: int = 0
) -> dict[str, Any]:
    """Dense arrays from a SLEAP ``.slp`` file.

    Parameters
    ----------
    path
        ``.slp`` file.
    video
        Index of the video whose frames to read.
    skeleton
        Index of the skeleton (instances of other skeletons are ignored).

    Returns
    -------
    dict
        ``position`` ``(time, 2, node, track)``, ``confidence`` ``(time, node, track)``,
        ``node_names``, ``track_names``, ``edges`` (pairs of node names),
        ``video_path``, ``format_id``, ``user`` ``(time, track)`` (where a user
        instance, a label a person placed, gave the points).

    Raises
    ------
    ValueError
        If the file is not a SLEAP labels file or ``video``/``skeleton`` is out of range.

    Examples
    --------
    >>> arrays = read_slp_arrays("clip.slp")  # doctest: +SKIP
    >>> arrays["position"].shape  # doctest: +SKIP
    (1500, 2, 13, 2)
    """
    path = Path(path)
    with _open_slp(path) as f:
        attrs = f["metadata"].attrs
        metadata = json.loads(_decode(attrs["json"]))
        format_id = float(attrs.get("format_id", 1.0))
        nodes = _skeleton_nodes(metadata, skeleton)
        edges = _skeleton_edges(metadata, skeleton)
        frames = f["frames"][:]
        instances = f["instances"][:]
        points = f["points"][:]
        pred_points = f["pred_points"][:] if "pred_points" in f else points[:0]
        tracks_json = f["tracks_json"][:] if "tracks_json" in f else []
        videos_json = f["videos_json"][:] if "videos_json" in f else []
    track_names = [str(json.loads(_decode(t))[1]) for t in tracks_json]
    video_path = None
    images = None
    if len(videos_json) > video:
        vinfo = json.loads(_decode(videos_json[video]))
        named = vinfo.get("filename") or (vinfo.get("backend") or {}).get("filename")
        if isinstance(named, list):  # an image-list video: one image per frame
            images = [str(f) for f in named]
            named = images[0] if images else None
        video_path = named
        if (vinfo.get("backend") or {}).get("filenames"):
            images = [str(f) for f in vinfo["backend"]["filenames"]]
    n_videos = max(
        len(videos_json), int(frames["video"].max()) + 1 if frames.size else 0
    )
    if video >= max(n_videos, 1):
        raise ValueError(
            f"{path} has {n_videos} video(s); video={video} does not exist"
        )

    frames = frames[frames["video"] == video]
    if frames.size == 0:
        pos = np.full((0, 2, len(nodes), max(len(track_names), 1)), np.nan)
        return {
            "position": pos,
            "confidence": pos[:, 0].copy(),
            "node_names": nodes,
            "track_names": track_names or ["individual_0"],
            "edges": edges,
            "video_path": video_path,
            "format_id": format_id,
            "user": np.zeros(pos[:, 0, 0].shape, dtype=bool),
        }
    n_time = int(frames["frame_idx"].max()) + 1
    # instance -> frame index (via frame_id)
    frame_of = dict(
        zip(frames["frame_id"].tolist(), frames["frame_idx"].tolist(), strict=True)
    )
    keep = np.isin(instances["frame_id"], frames["frame_id"]) & (
        instances["skeleton"] == skeleton
    )
    inst = instances[keep]
    inst_frame = np.array([frame_of[int(i)] for i in inst["frame_id"]], dtype=np.int64)
    tracked = len(track_names) > 0
    if tracked:
        slot = inst["track"].astype(np.int64)
        dropped = int((slot < 0).sum())
        if dropped:
            logger.warning(
                "%s: %d instance(s) without a track were skipped", path, dropped
            )
        n_ind = len(track_names)
    else:
        # rank of each instance within its frame, user instances first
        order = np.lexsort((inst["instance_type"], inst_frame))
        slot = np.empty(len(inst), dtype=np.int64)
        sorted_frames = inst_frame[order]
        first = np.r_[0, np.flatnonzero(np.diff(sorted_frames)) + 1]
        starts = np.repeat(first, np.diff(np.r_[first, len(order)]))
        slot[order] = np.arange(len(order)) - starts
        n_ind = int(slot.max()) + 1 if len(slot) else 1
        track_names = [f"individual_{i}" for i in range(n_ind)]
    n_nodes = len(nodes)
    position = np.full((n_time, 2, n_nodes, n_ind), np.nan)
    confidence = np.full((n_time, n_nodes, n_ind), np.nan)
    user = np.zeros((n_time, n_ind), dtype=bool)
    shift = -0.5 if format_id < 1.1 else 0.0
    # predicted instances first, user instances second, so user labels win
    for kind in (_PREDICTED, _USER):
        sel = np.flatnonzero((inst["instance_type"] == kind) & (slot >= 0))
        if sel.size == 0:
            continue
        src = pred_points if kind == _PREDICTED else points
        start = inst["point_id_start"][sel].astype(np.int64)
        count = inst["point_id_end"][sel].astype(np.int64) - start
        bad = np.flatnonzero(count != n_nodes)
        if bad.size:
            i = sel[bad[0]]
            raise ValueError(
                f"{path}: instance {int(inst['instance_id'][i])} has {int(count[bad[0]])} "
                f"points but its skeleton has {n_nodes} nodes"
            )
        pts = src[
            start[:, None] + np.arange(n_nodes)[None, :]
        ]  # (n_instances, n_nodes)
        visible = pts["visible"].astype(bool)
        t, k = inst_frame[sel], slot[sel]
        position[t, 0, :, k] = np.where(visible, pts["x"] + shift, np.nan)
        position[t, 1, :, k] = np.where(visible, pts["y"] + shift, np.nan)
        if kind == _PREDICTED and "score" in (pts.dtype.names or ()):
            # a predicted point keeps its score, visible or not (as SLEAP and
            # sleap-io read it): a score of 0 is a prediction, not a gap
            confidence[t, :, k] = pts["score"]
        else:
            confidence[t, :, k] = np.nan
            user[t, k] = True
    return {
        "position": position,
        "confidence": confidence,
        "node_names": nodes,
        "track_names": track_names,
        "edges": edges,
        "video_path": video_path,
        "format_id": format_id,
        "untracked": not tracked,
        "images": images,
        "user": user,
    }


def read_analysis_h5_arrays(path: str | os.PathLike) -> dict[str, Any]:
    """Dense arrays from a SLEAP analysis ``.h5`` file.

    Parameters
    ----------
    path
        Analysis file (``tracks``, ``track_names``, ``node_names``, ``point_scores``).

    Returns
    -------
    dict
        ``position`` ``(time, 2, node, track)``, ``confidence`` ``(time, node, track)``,
        ``node_names``, ``track_names``, ``edges``, ``video_path``.

    Raises
    ------
    ValueError
        If the file lacks the analysis datasets.
    """
    path = Path(path)
    with h5py.File(path, "r") as f:
        if "tracks" not in f or "node_names" not in f:
            raise ValueError(
                f"{path} is not a SLEAP analysis file: it needs 'tracks' and 'node_names' "
                f"(has {list(f)})"
            )
        tracks = f["tracks"][:]
        dims_attr = f["tracks"].attrs.get("dims")
        node_names = [_decode(n) for n in f["node_names"][:]]
        track_names = (
            [_decode(n) for n in f["track_names"][:]] if "track_names" in f else []
        )
        scores = f["point_scores"][:] if "point_scores" in f else None
        score_dims = f["point_scores"].attrs.get("dims") if scores is not None else None
        transposed = f.attrs.get("transpose", True)
        video_path = _decode(f["video_path"][()]) if "video_path" in f else None
        edges = (
            [[_decode(a), _decode(b)] for a, b in f["edge_names"][:]]
            if "edge_names" in f and f["edge_names"].ndim == 2
            else []
        )
    if dims_attr is not None:
        dims = list(json.loads(_decode(dims_attr)))
    elif transposed:
        dims = ["track", "xy", "node", "frame"]  # SLEAP's MATLAB order
    else:
        dims = ["frame", "node", "xy", "track"]
    position = np.transpose(
        tracks, [dims.index(d) for d in ("frame", "xy", "node", "track")]
    )
    position = position.astype(float)
    if scores is not None:
        if score_dims is not None:
            sdims = list(json.loads(_decode(score_dims)))
        else:
            sdims = [d for d in dims if d != "xy"]
        confidence = np.transpose(
            scores, [sdims.index(d) for d in ("frame", "node", "track")]
        )
        confidence = confidence.astype(float)
    else:
        confidence = np.full(position[:, 0].shape, np.nan)
    n_ind = position.shape[-1]
    if len(track_names) != n_ind:
        track_names = [f"individual_{i}" for i in range(n_ind)]
    return {
        "position": position,
        "confidence": confidence,
        "node_names": node_names,
        "track_names": track_names,
        "edges": edges,
        "video_path": video_path,
    }


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _hdf5_keys(path: Path) -> set[str] | None:
    """Top-level names of an HDF5 file; None if it is not HDF5 or does not open."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_MAGIC:
                return None
        with h5py.File(path, "r") as f:
            return set(f)
    except OSError:
        return None


def _is_slp(path: Path) -> bool:
    keys = _hdf5_keys(path)
    return keys is not None and {"metadata", "instances", "frames"} <= keys


def _is_analysis_h5(path: Path) -> bool:
    keys = _hdf5_keys(path)
    return keys is not None and {"tracks", "node_names", "track_occupancy"} <= keys


def _sniff_sleap(path: Path) -> bool:
    """Recognise SLEAP files by their HDF5 layout, whatever their extension.

    A ``.slp`` that starts like HDF5 but does not open (cut short) is claimed too,
    so that loading it says what is wrong with it.
    """
    if _is_slp(path) or _is_analysis_h5(path):
        return True
    if path.suffix.lower() != ".slp":
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == _HDF5_MAGIC and _hdf5_keys(path) is None
    except OSError:
        return False


@register_loader("SLEAP", sniff=_sniff_sleap, suffixes=(".slp", ".h5"))
def load_sleap(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    video: int = 0,
    skeleton: int = 0,
) -> xr.Dataset:
    """Load a SLEAP ``.slp`` (labels or predictions) or analysis ``.h5`` as poses.

    Parameters
    ----------
    path
        The file.
    fps
        Frames per second (the time coordinate is then in seconds).
    video
        For ``.slp`` with several videos: which one.
    skeleton
        For ``.slp`` with several skeletons: which one.

    Returns
    -------
    xarray.Dataset
        Poses dataset, ``individual`` = track names, ``keypoint`` = skeleton nodes.
        A ``.slp`` without tracks gives ``individual_<k>``, the k-th instance of each
        frame, and (with several) ``attrs["identities"] = False``: written back to
        SLEAP they stay untracked.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a SLEAP file.

    Examples
    --------
    >>> ds = load_sleap("clip.slp", fps=25)  # doctest: +SKIP
    >>> ds.individual.values.tolist()  # doctest: +SKIP
    ['female', 'male']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No SLEAP file at {path}")
    if _is_analysis_h5(path):
        arrays = read_analysis_h5_arrays(path)
    elif _is_slp(path) or path.suffix.lower() == ".slp":
        arrays = read_slp_arrays(path, video=video, skeleton=skeleton)
    elif path.suffix.lower() in (".h5", ".hdf5"):
        arrays = read_analysis_h5_arrays(path)
    else:
        raise ValueError(
            f"{path} is not a SLEAP file: it is neither a .slp labels file nor an "
            "analysis .h5 (no 'metadata'/'instances' or 'tracks'/'node_names')"
        )
    ds = from_numpy(
        arrays["position"],
        arrays["confidence"],
        keypoint_names=arrays["node_names"],
        individual_names=arrays["track_names"],
        fps=fps,
        source_software="SLEAP",
        source_file=str(path),
    )
    if arrays.get("video_path"):
        ds.attrs["video_path"] = str(arrays["video_path"])
    ds.attrs["skeleton"] = [list(e) for e in arrays.get("edges", [])]
    if arrays.get("untracked") and ds.sizes["individual"] > 1:
        ds.attrs["identities"] = False  # individual_k: the k-th instance of a frame
    images = arrays.get("images")
    if images and ds.sizes["time"] <= len(images):
        _label_rows(ds, images[: ds.sizes["time"]], path)
    return mark_time_unit(ds)


def _label_rows(ds: xr.Dataset, images: list[str], path: Path) -> None:
    """Give poses on an image-list video their images (``attrs["frames"]``).

    The rows are DeepLabCut's (``labeled-data/<video>/<image>``); a relative image
    is relative to the ``.slp``. Images with a folder shared by all become
    ``attrs["image_root"]`` (the project they lie in).
    """
    from ._source import image_root, image_row

    found = []
    for name in images:
        image = Path(name)
        if not image.is_absolute() and (path.parent / image).is_file():
            image = path.parent / image
        found.append(str(image.absolute()) if image.is_file() else name)
    rows = [image_row(f, path.stem) for f in found]
    if len(set(rows)) != len(rows):
        return  # images that map to one row: leave them as frames of a video
    ds.attrs["frames"] = rows
    root = image_root(found, rows)
    if root is not None:
        ds.attrs["image_root"] = root


# ---------------------------------------------------------------- writing (sleap-io)


def _sleap_io() -> Any:
    try:
        import sleap_io
    except ImportError as err:
        raise ImportError(
            'writing SLEAP files needs sleap-io: pip install "posekit[sleap]"'
        ) from err
    return sleap_io


def poses_to_sleap_labels(
    ds: xr.Dataset,
    *,
    skeleton: Sequence[Sequence[str]] | None = None,
    video_path: str | None = None,
) -> Any:
    """Poses → a sleap-io ``Labels`` (one track per individual).

    Parameters
    ----------
    ds
        Poses dataset (2-D positions).
    skeleton
        Edges as pairs of keypoint names (default ``attrs["skeleton"]``).
    video_path
        The video the poses belong to, written absolute when found (a path
        relative to the current folder would not be relative to the ``.slp``);
        one not found is written as given, with a warning (SLEAP asks for it).
        Default: ``attrs["video_path"]``, written absolute when found on disk,
        as the source file names it; for labels with
        image paths (``attrs["frames"]``, a DLC label file) the images, as SLEAP's
        image-list video; else the video a DeepLabCut file is named after,
        ``<video>.mp4`` for ``<video>DLC_<scorer>.h5``, else
        ``<source file stem>.mp4``). Labels on images written onto a video
        (``video_path`` given) go onto the frames their images are named after
        (``labeled-data/<video>/img0010.png`` is frame 10, as ``posekit import``,
        ``extract-frames`` and DeepLabCut name them), not their row numbers.

    Returns
    -------
    sleap_io.Labels
        Tracks named after the individuals; per frame and individual with a point,
        a ``PredictedInstance`` (point scores = confidence, instance score = their
        mean) or, without any confidence, a user ``Instance``. Poses without
        identities (``attrs["identities"] = False``: the k-th animal of each frame)
        get untracked instances.

    Raises
    ------
    ImportError
        Without sleap-io.
    ValueError
        If the poses are 3-D, times are not frame numbers, or an edge names an
        unknown keypoint; for labels on images written onto a video, if an image
        is not named after a frame (``img<frame>.png``), the images come from
        several videos or name a frame twice, or the video is shorter.
    """
    sio = _sleap_io()
    if ds.sizes["space"] != 2:
        raise ValueError("SLEAP files hold 2-D poses; these have 3-D positions")
    keypoints = [str(k) for k in ds["keypoint"].values]
    edges = skeleton if skeleton is not None else ds.attrs.get("skeleton") or []
    for a, b in edges:
        if a not in keypoints or b not in keypoints:
            raise ValueError(f"skeleton edge ({a!r}, {b!r}) names an unknown keypoint")
    skel = sio.Skeleton(keypoints, edges=[[a, b] for a, b in edges], name="skeleton")
    images = _label_images(ds) if video_path is None else None
    if images:  # labelled images (a DLC label file): SLEAP's image-list video
        found = Path(images[0]).is_file()
        meta = {"type": "ImageVideo", "filename": images[0], "filenames": images}
        video = sio.Video(
            filename=images,
            backend_metadata={} if found else meta,
            open_backend=found,
        )
    else:
        if video_path is None:
            video_path = _video_name(ds)
        else:
            video_path = _given_video(video_path)
        video = sio.Video(filename=str(video_path), open_backend=False)
    tracked = ds.attrs.get("identities") is not False
    tracks = [sio.Track(name=str(i)) for i in ds["individual"].values]
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["confidence"].transpose("time", "individual", "keypoint").values
    if video_path is not None and ds.attrs.get("frames") is not None:
        numbers = _video_frames_of_images(ds, video_path)
    else:
        numbers = frame_numbers(ds, fmt="SLEAP")
    frames = []
    unplaced = []  # (frame, individual): likelihoods of an animal with no point
    for t, frame_idx in enumerate(numbers):
        instances = []
        for k, track in enumerate(tracks):
            xy = pos[t, k]
            if not np.isfinite(xy).all(axis=1).any():
                if np.isfinite(conf[t, k]).any():
                    unplaced.append((int(frame_idx), str(track.name)))
                continue
            c = conf[t, k]
            if np.isfinite(c).any():
                instances.append(
                    sio.PredictedInstance.from_numpy(
                        xy,
                        skeleton=skel,
                        point_scores=c,
                        score=float(np.nanmean(c)),
                        track=track if tracked else None,
                    )
                )
            else:
                instances.append(
                    sio.Instance.from_numpy(
                        xy, skeleton=skel, track=track if tracked else None
                    )
                )
        if instances:
            frames.append(
                sio.LabeledFrame(
                    video=video, frame_idx=int(frame_idx), instances=instances
                )
            )
    if unplaced:
        logger.warning(
            "%d animal(s) x frame(s) have likelihoods but no point with a position "
            "(e.g. %s in frame %d): SLEAP stores no instance without a visible point, "
            "so these likelihoods are not written and read back as NaN",
            len(unplaced),
            unplaced[0][1],
            unplaced[0][0],
        )
    return sio.Labels(
        frames, videos=[video], skeletons=[skel], tracks=tracks if tracked else []
    )


def _given_video(video_path: str | os.PathLike) -> str:
    """Return the video given for a SLEAP file: absolute when found, else as given.

    A relative path is relative to the current folder, and a ``.slp`` names its
    video relative to itself, so a found video is written absolute; one not found
    is written as given, with a warning (SLEAP asks for it on opening the file).
    """
    path = Path(video_path)
    if path.is_file():
        return str(path.absolute())
    where = "" if path.is_absolute() else f" (looked up in {Path.cwd()})"
    logger.warning(
        "the video %s is not found%s: the SLEAP file names it as given, and SLEAP "
        "will ask for the video when it opens the file. Give the video's path on "
        "this machine (posekit convert --video VIDEO, video_path= in Python) for a "
        "file that links it",
        video_path,
        where,
    )
    return str(video_path)


def _video_frames_of_images(
    ds: xr.Dataset, video_path: str | os.PathLike
) -> np.ndarray:
    """Return the video frame of each labelled image, for labels written on a video.

    A labelled image is named after the frame it was extracted from
    (``labeled-data/<video>/img0010.png`` is frame 10, as ``posekit import``,
    ``extract-frames`` and DeepLabCut name them); its row number says nothing
    about the frame.

    Raises
    ------
    ValueError
        If an image is not named after a frame, the images come from several video
        folders or name a frame twice, or the video (when found) is shorter.
    """
    from ..video import frame_index_of

    rows = [str(f) for f in np.atleast_1d(ds.attrs["frames"])]
    video = Path(str(video_path))
    if len(rows) != ds.sizes["time"]:
        raise ValueError(
            f"these labels name {len(rows)} images for {ds.sizes['time']} rows: "
            "cannot tell which video frame each row is"
        )
    numbers = [frame_index_of(r) for r in rows]
    unnamed = [r for r, n in zip(rows, numbers, strict=True) if n is None]
    if unnamed:
        raise ValueError(
            f"these labels are on images, and {len(unnamed)} of them are not named "
            f"after a video frame (imgNNNN.png is frame NNNN), e.g. {unnamed[:3]}: "
            f"their frames in {video.name} are unknown. Write them without a video "
            "(posekit convert without --video; video_path=None in Python): SLEAP "
            "then gets the images themselves as its video"
        )
    folders = sorted({r.replace("\\", "/").rsplit("/", 1)[0] for r in rows if "/" in r})
    if len(folders) > 1:
        raise ValueError(
            f"these labels are images of {len(folders)} videos ({folders[:3]}) and "
            f"can go onto one video ({video.name}) only: convert the label file of "
            "that video's folder (labeled-data/<video>/CollectedData_<scorer>.h5), "
            "or in Python select its rows first"
        )
    out = np.asarray(numbers, dtype=np.int64)
    values, counts = np.unique(out, return_counts=True)
    twice = values[counts > 1]
    if twice.size:
        raise ValueError(
            f"these labels name video frame(s) {twice[:5].tolist()} more than once "
            f"(e.g. {[r for r, n in zip(rows, out, strict=True) if n == twice[0]]}): "
            f"which of them goes onto {video.name} is unclear"
        )
    if video.is_file():
        from ..video import VideoReader

        with VideoReader(video) as reader:
            total = reader.expected_frames
        if total and int(out.max()) >= total:
            raise ValueError(
                f"these labels are on frame {int(out.max())} "
                f"({rows[int(out.argmax())]}) but {video.name} has {total} frames: "
                "is it the video they were extracted from?"
            )
    return out


def _video_name(ds: xr.Dataset) -> str:
    """Return the video a SLEAP file should name for poses that name no images.

    The video found on disk (absolute: a relative name is relative to the source
    file's folder, not the new file's), else the name the poses give, else the
    video a DeepLabCut predictions file is named after (``<video>DLC_<scorer>``),
    else ``<source file stem>.mp4``.
    """
    from ._source import source_video

    found = source_video(ds)
    if found is not None:
        return str(found)
    if ds.attrs.get("video_path"):
        return str(ds.attrs["video_path"])
    source = ds.attrs.get("source_file")
    if not source or not isinstance(source, str):
        return "video.mp4"
    stem = Path(source).stem
    if ds.attrs.get("source_software") == "DeepLabCut" and "DLC_" in stem:
        stem = stem[: stem.index("DLC_")].removesuffix("_filtered") or stem
    return f"{stem}.mp4"


def _label_images(ds: xr.Dataset) -> list[str] | None:
    """Return the image files of labelled frames (``attrs["frames"]``), absolute.

    A DLC label file's rows are ``labeled-data/<video>/<image>`` relative to the
    project, three folders above ``labeled-data/<video>/CollectedData_<scorer>.h5``.
    """
    frames = ds.attrs.get("frames")
    if frames is None or not len(frames):
        return None
    frames = [str(f) for f in np.atleast_1d(frames)]
    source = ds.attrs.get("source_file")
    root = Path(source).absolute().parents[2] if source else None
    if ds.attrs.get("image_root"):  # images found by the reader (NWB, SLEAP)
        root = Path(str(ds.attrs["image_root"]))
    if root is None or not (root / frames[0]).is_file():
        logger.warning(
            "the labelled images (e.g. %s) are not found beside %s: the SLEAP file "
            "names them as given",
            frames[0],
            source or "the poses",
        )
        return frames
    return [str(root / f) for f in frames]


@register_saver("SLEAP", suffixes=(".slp",))
def save_slp(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    skeleton: Sequence[Sequence[str]] | None = None,
    video_path: str | None = None,
) -> Path:
    """Write poses as a SLEAP ``.slp`` through sleap-io (atomically).

    Parameters
    ----------
    ds
        Poses dataset.
    path
        Target ``.slp``.
    skeleton
        Edges as pairs of keypoint names; default ``attrs["skeleton"]``, else (poses
        of a DeepLabCut file, which holds none) the skeleton in the ``config.yaml``
        of the project the source file lies in; without one a warning says the file
        gets no edges.
    video_path
        See :func:`poses_to_sleap_labels`.

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ImportError
        Without sleap-io.
    ValueError
        See :func:`poses_to_sleap_labels`.
    """
    sio = _sleap_io()
    skeleton = skeleton_for(ds, skeleton, path)
    labels = poses_to_sleap_labels(ds, skeleton=skeleton, video_path=video_path)
    path = Path(path)
    with atomic_path(path) as tmp:
        sio.save_slp(labels, str(tmp), verbose=False)
    return path


@register_saver("SLEAP-analysis", suffixes=(".h5",))
def save_sleap_analysis(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    preset: str = "matlab",
    skeleton: Sequence[Sequence[str]] | None = None,
    video_path: str | None = None,
) -> Path:
    """Write poses as a SLEAP analysis ``.h5`` through sleap-io (atomically).

    Parameters
    ----------
    ds
        Poses dataset.
    path
        Target ``.h5``.
    preset
        sleap-io's axis order: ``"matlab"`` (SLEAP's) or ``"standard"``.
    skeleton
        Edges as pairs of keypoint names; default ``attrs["skeleton"]``, else (poses
        of a DeepLabCut file, which holds none) the skeleton in the ``config.yaml``
        of the project the source file lies in; without one a warning says the file
        gets no edges.
    video_path
        See :func:`poses_to_sleap_labels`.

    Returns
    -------
    Path
        The file. Frames run from 0 to the last frame with a point; an individual
        without any point is left out (as SLEAP does).

    Raises
    ------
    ImportError
        Without sleap-io.
    ValueError
        See :func:`poses_to_sleap_labels`, or if there is no point at all.
    """
    sio = _sleap_io()
    skeleton = skeleton_for(ds, skeleton, path)
    labels = poses_to_sleap_labels(ds, skeleton=skeleton, video_path=video_path)
    if not labels.labeled_frames:
        raise ValueError("these poses hold no point: a SLEAP analysis file needs one")
    path = Path(path)
    with atomic_path(path) as tmp:
        sio.save_analysis_h5(labels, str(tmp), preset=preset)
    return path


# ---------------------------------------------------------------- project import


def _base_name(name: str) -> str:
    """Return a file's name from a path written on any system (Windows too)."""
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _slp_videos(path: Path) -> list[dict[str, Any]]:
    """Return each video of a ``.slp``, in the file's order.

    Each is a dict: ``index``; ``name``, the video file the ``.slp`` names (of
    embedded frames, the video they were taken from; of an image-list video, its
    images' folder), or None; ``embedded``, the dataset of the images the ``.slp``
    embeds (``video0/video``), or None; ``images``, the images of an image-list
    video, or None; ``n_frames``, the number of its labelled frames.
    """
    with _open_slp(path) as f:
        videos_json = f["videos_json"][:] if "videos_json" in f else []
        of_frames = f["frames"]["video"][:].astype(np.int64)
        counts = np.bincount(of_frames) if of_frames.size else np.zeros(0, int)
        records = []
        for i in range(max(len(videos_json), len(counts))):
            info = json.loads(_decode(videos_json[i])) if i < len(videos_json) else {}
            backend = info.get("backend") or {}
            named = info.get("filename") or backend.get("filename")
            dataset = backend.get("dataset")
            embedded = dataset if isinstance(dataset, str) and dataset in f else None
            images = None
            if isinstance(named, list):
                images = [str(x) for x in named]
            elif backend.get("filenames"):
                images = [str(x) for x in backend["filenames"]]
            if embedded:  # the video the frames were taken from
                source = info.get("source_video") or {}
                named = source.get("filename") or (source.get("backend") or {}).get(
                    "filename"
                )
            elif images:
                named = images[0].replace("\\", "/").rsplit("/", 1)[0]
            records.append(
                {
                    "index": i,
                    "name": str(named) if isinstance(named, str) and named else None,
                    "embedded": embedded,
                    "images": images,
                    "n_frames": int(counts[i]) if i < len(counts) else 0,
                }
            )
    return records


def _video_list(records: Sequence[dict[str, Any]]) -> str:
    """Return the videos of a ``.slp`` for a message: index, name, labelled frames."""
    return "; ".join(
        f"{r['index']}: {r['name'] or '(no file name)'} ({r['n_frames']} labelled "
        "frames)"
        for r in records
    )


def _choose_videos(
    slp_path: Path,
    records: list[dict[str, Any]],
    video: int | str | None,
    video_path: str | os.PathLike | None,
) -> list[dict[str, Any]]:
    """Return the videos to import: ``video`` (index or file name), else all.

    Without ``video``, a video file given (``video_path``) for a ``.slp`` of
    several labelled videos chooses the video of its file name.
    """
    labelled = [r for r in records if r["n_frames"]]
    by_file = False
    several = len(labelled) > 1
    if (
        video is None
        and video_path is not None
        and several
        and Path(video_path).is_file()
    ):
        video, by_file = Path(video_path).name, True
    if video is None:
        return labelled
    if isinstance(video, (int, np.integer)) and not isinstance(video, bool):
        if not 0 <= int(video) < len(records):
            raise ValueError(
                f"{slp_path} has {len(records)} video(s) ({_video_list(records)}); "
                f"video={video} does not exist"
            )
        return [records[int(video)]]
    wanted = str(video)
    hits = [
        r
        for r in records
        if r["name"] is not None
        and (r["name"] == wanted or _base_name(r["name"]) == _base_name(wanted))
    ]
    if len(hits) == 1:
        return hits
    if not hits:
        given = (
            f"the video file {video_path} is named after none of its videos: "
            "choose the one it is with video=INDEX (posekit import: --video FOLDER "
            "with the file in FOLDER under the name the .slp gives)"
            if by_file
            else "choose one by its index or file name (posekit import --video 1)"
        )
        raise ValueError(
            f"{slp_path} has no video named {wanted!r}; its videos: "
            f"{_video_list(records)}. {given}"
        )
    raise ValueError(
        f"{slp_path} has {len(hits)} videos named {wanted!r} "
        f"({_video_list(hits)}): choose one by its index (posekit import --video "
        f"{hits[0]['index']})"
    )


def _labelled_frames(
    position: np.ndarray,
    frames: Sequence[int] | None,
    every: int,
    predicted_only: np.ndarray | None = None,
) -> np.ndarray:
    """Frame indices to import: labelled ones (or ``frames``), every ``every``-th."""
    labelled = np.flatnonzero(np.isfinite(position).any(axis=(1, 2, 3)))
    if frames is not None:
        wanted = np.unique(np.asarray(list(frames), dtype=np.int64))
        missing = np.setdiff1d(wanted, labelled)
        if missing.size:
            predicted = [
                int(m)
                for m in missing
                if predicted_only is not None
                and 0 <= m < len(predicted_only)
                and predicted_only[m]
            ]
            hint = (
                f" (frames {predicted[:5]} hold SLEAP predictions only: "
                "include_predictions=True, posekit import --include-predictions, "
                "takes them as training labels)"
                if predicted
                else ""
            )
            raise ValueError(
                f"frames {missing[:5].tolist()} have no labelled instance in the "
                f"file{hint}"
            )
        return wanted
    if int(every) < 1:
        raise ValueError(f"every must be >= 1. Received: every={every!r}")
    return labelled[:: int(every)]


def _spread(parts: list[dict[str, Any]], max_frames: int | None) -> None:
    """Keep at most ``max_frames`` of the chosen frames, spread evenly over them all."""
    total = sum(len(p["chosen"]) for p in parts)
    if max_frames is None or total <= int(max_frames):
        return
    pick = np.unique(np.linspace(0, total - 1, int(max_frames)).round().astype(int))
    start = 0
    for part in parts:
        n = len(part["chosen"])
        mine = pick[(pick >= start) & (pick < start + n)] - start
        part["chosen"] = part["chosen"][mine]
        start += n


def _video_labels(
    slp_path: Path,
    record: dict[str, Any],
    *,
    skeleton: int,
    include_predictions: bool,
    frames: Sequence[int] | None,
    every: int,
) -> dict[str, Any]:
    """Read one video's labels; without ``include_predictions``, user instances only.

    SLEAP trains on user instances: a frame keeps only those, and a frame with
    predictions only is left out (counted in ``predicted_only``).
    """
    arrays = read_slp_arrays(slp_path, video=record["index"], skeleton=skeleton)
    position = arrays["position"]
    user = arrays["user"]
    placed = np.isfinite(position).any(axis=(1, 2))  # (time, track)
    predicted_only = placed.any(axis=1) & ~user.any(axis=1)
    dropped = int((placed & ~user & user.any(axis=1, keepdims=True)).sum())
    confidence = arrays["confidence"]
    if not include_predictions:
        position = np.where(user[:, None, None, :], position, np.nan)
        confidence = np.where(user[:, None, :], confidence, np.nan)
    chosen = _labelled_frames(position, frames, every, predicted_only)
    return {
        "record": record,
        "arrays": arrays,
        "position": position,
        "confidence": confidence,
        "chosen": chosen,
        "predicted_only": int(predicted_only.sum()) if not include_predictions else 0,
        "dropped": dropped if not include_predictions else 0,
    }


def _find_named(slp_path: Path, named: str | None) -> Path | None:
    """Return the video a ``.slp`` names, relative to the ``.slp``, else beside it."""
    if not named:
        return None
    named_path = Path(named)
    # a relative name is relative to the .slp (never to the current folder)
    candidates = [named_path if named_path.is_absolute() else slp_path.parent / named]
    candidates.append(slp_path.parent / _base_name(named))
    return next((path for path in candidates if path.is_file()), None)


def _video_file(
    slp_path: Path, record: dict[str, Any], given: str | os.PathLike | None
) -> Path | None:
    """Return the video file of a ``.slp`` video: given, in the folder given, else found."""
    if given is not None and not Path(given).is_dir():
        return Path(given)
    if given is not None and record["name"] and not record["images"]:
        path = Path(given) / _base_name(record["name"])
        if path.is_file():
            return path
    if record["images"]:
        return None  # an image-list video: its frames are the images
    return _find_named(slp_path, record["name"])


def _missing_video(slp_path: Path, record: dict[str, Any]) -> FileNotFoundError:
    """Return the error for a video that is not found and whose frames are not there."""
    return FileNotFoundError(
        f"{slp_path} names the video {record['name']!r} (video {record['index']}, "
        f"{record['n_frames']} labelled frames), which is not there nor beside the "
        ".slp (a relative name is relative to the .slp), and the .slp embeds no "
        "frames of it. Name it: posekit import SLP PROJECT --video VIDEO (its file: "
        "that video alone) or --video FOLDER (a folder holding the videos under "
        "the names the .slp gives); video_path= in Python, with video= to choose one"
    )


def _image_frames(slp_path: Path, record: dict[str, Any]) -> tuple[int, Any]:
    """Return the frame count and a reader of an image-list video's images (BGR)."""
    import cv2

    images = record["images"]

    def read(i: int) -> np.ndarray:
        name = images[i]
        for path in (
            Path(name),
            slp_path.parent / name,
            slp_path.parent / _base_name(name),
        ):
            if path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    return image
        raise FileNotFoundError(
            f"{slp_path}: the image of frame {i}, {name}, is not found (nor "
            "relative to the .slp): copy the images back, or import the other "
            "videos only (posekit import --video INDEX)"
        )

    return len(images), read


def _embedded_frames(
    slp_path: Path, record: dict[str, Any], stack: Any
) -> tuple[int, Any]:
    """Return the frame count and a reader of the images a ``.slp`` embeds (BGR)."""
    import cv2

    f = stack.enter_context(h5py.File(slp_path, "r"))
    data = f[record["embedded"]]
    group = record["embedded"].rsplit("/", 1)[0]
    numbers_key = f"{group}/frame_numbers" if group != record["embedded"] else "-"
    numbers = f[numbers_key][:] if numbers_key in f else np.arange(len(data))
    row_of = {int(n): r for r, n in enumerate(numbers)}
    total = int(data.attrs.get("frames", 0) or 0) or int(numbers.max()) + 1
    rgb = _decode(data.attrs.get("channel_order", "BGR")).upper() == "RGB"
    if data.ndim != 2:
        raise ValueError(
            f"{slp_path}: the frames of video {record['index']} are embedded as "
            f"raw arrays ({data.ndim}-D), which posekit does not read; save the "
            "file again in SLEAP with the frames embedded as PNG (the default), or "
            "name the video: posekit import --video VIDEO"
        )

    def read(i: int) -> np.ndarray:
        if i not in row_of:
            raise FileNotFoundError(
                f"{slp_path}: frame {i} of {record['name']!r} is not among the frames "
                "the .slp embeds, and the video is not found: name the video, "
                "posekit import --video VIDEO (video_path= in Python)"
            )
        image = cv2.imdecode(
            np.asarray(data[row_of[i]]).view(np.uint8), cv2.IMREAD_COLOR
        )
        if image is None:
            raise ValueError(
                f"{slp_path}: the embedded image of frame {i} does not decode"
            )
        return image[..., ::-1].copy() if rgb else image

    return total, read


def _frame_reader(
    slp_path: Path, record: dict[str, Any], video_file: Path | None, stack: Any
) -> tuple[int, Any]:
    """Return the frame count and a reader of one video's frames (BGR)."""
    import cv2

    from ..video import VideoReader

    if video_file is not None:
        reader = stack.enter_context(VideoReader(video_file))
        return reader.expected_frames, lambda i: cv2.cvtColor(
            reader.read(i), cv2.COLOR_RGB2BGR
        )
    if record["embedded"]:
        return _embedded_frames(slp_path, record, stack)
    return _image_frames(slp_path, record)


def _folder_name(
    record: dict[str, Any], video_file: Path | None, used: set[str]
) -> str:
    """Return the ``labeled-data`` folder of a video: its stem, made unique.

    Two videos of one stem (``a/clip.mp4``, ``b/clip.mp4``): the second gets
    ``<stem>_<index in the .slp>``.
    """
    if video_file is not None:
        stem = video_file.stem
    elif record["name"]:
        stem = Path(_base_name(record["name"])).stem
    else:
        stem = f"video{record['index']}"
    name = stem
    if name in used:
        name = f"{stem}_{record['index']}"
        while name in used:
            name += "_"
    used.add(name)
    return name


def _extract(
    slp_path: Path,
    parts: list[dict[str, Any]],
    video_path: str | os.PathLike | None,
    tmp: Path,
) -> tuple[list[str], list[Path], list[dict[str, Any]]]:
    """Write each part's chosen frames as PNGs in ``tmp``; their rows and videos.

    Every video is found (or its frames are) before any frame is read.
    """
    import contextlib

    import cv2

    from ..video import frame_filename

    used: set[str] = set()
    for part in parts:
        record = part["record"]
        part["video_file"] = _video_file(slp_path, record, video_path)
        if part["video_file"] is None and not (record["embedded"] or record["images"]):
            raise _missing_video(slp_path, record)
        part["folder"] = _folder_name(record, part["video_file"], used)
    rows: list[str] = []
    sources: list[Path] = []
    with contextlib.ExitStack() as stack:
        for part in parts:
            total, read = _frame_reader(
                slp_path, part["record"], part["video_file"], stack
            )
            chosen = part["chosen"]
            if chosen.max() >= total:
                name = part["video_file"].name if part["video_file"] else part["folder"]
                raise ValueError(
                    f"{slp_path} labels frame {int(chosen.max())} but {name} "
                    f"has {total} frames: is it the labelled video?"
                )
            folder = tmp / part["folder"]
            folder.mkdir()
            for i in chosen:
                name = frame_filename(int(i), total)
                frame = read(int(i))
                part["shape"] = frame.shape[:2]
                if not cv2.imwrite(str(folder / name), frame):
                    raise OSError(f"could not write frame {int(i)} to {folder / name}")
                sources.append(folder / name)
                rows.append(f"labeled-data/{part['folder']}/{name}")
    return rows, sources, parts


def _list_videos(project: Any, slp_path: Path, parts: list[dict[str, Any]]) -> None:
    """Link each imported video into ``videos/`` and list it in ``video_sets``.

    A video renamed for a unique folder is linked under that name; a video that is
    not found (its frames embedded in the ``.slp`` or images) is listed as the
    ``.slp`` names it, so that DeepLabCut reads its ``labeled-data`` folder.
    """
    from ruamel.yaml.comments import CommentedMap

    for part in parts:
        video = part["video_file"]
        folder = part["folder"]
        if video is not None:
            if video.stem != folder:
                link = project.path / "videos" / f"{folder}{video.suffix}"
                link.parent.mkdir(exist_ok=True)
                try:
                    link.symlink_to(video.absolute())
                except OSError:
                    import shutil

                    shutil.copy2(video, link)
                video = link
            project.add_videos([video])
            continue
        record = part["record"]
        named = Path(record["name"] or folder)
        if not named.is_absolute():
            named = slp_path.parent.absolute() / named
        if Path(_base_name(str(named))).stem != folder and not record["images"]:
            named = named.parent / f"{folder}{named.suffix}"
        h, w = part["shape"]
        sets = project.cfg.get("video_sets") or CommentedMap()
        sets[str(named)] = CommentedMap(crop=f"0, {w}, 0, {h}")
        project.cfg["video_sets"] = sets


def import_sleap(
    slp_path: str | os.PathLike,
    project_dir: str | os.PathLike,
    *,
    video_path: str | os.PathLike | None = None,
    scorer: str = "sleap",
    task: str | None = None,
    frames: Sequence[int] | None = None,
    every: int = 1,
    max_frames: int | None = None,
    video: int | str | None = None,
    skeleton: int = 0,
    include_predictions: bool = False,
) -> Any:
    """Turn SLEAP ``.slp`` labels into a multi-animal DeepLabCut/posekit project.

    The tracks become the ``individuals`` (their names kept), the skeleton's nodes the
    ``multianimalbodyparts`` and its body edges the ``skeleton``. ``identity`` is
    ``false``: SLEAP tracks say whose points these are in the labelled frames, not
    that the animals look different (DeepLabCut's ``identity: true``, under which
    its network learns to tell them apart by looks); a comment above the key in
    ``config.yaml`` and a warning say so and how to turn it on. In predictions
    (``analyze``) the individuals' names are slots, the animals in the order they
    are found, not who is who. The labelled frames of every video of the file (or
    of ``video``) are extracted to ``labeled-data/<video stem>/img<index>.png``
    (DeepLabCut's names, numbered by frame; a second video of the same stem gets
    ``<stem>_<its index in the .slp>``) with their labels in
    ``CollectedData_<scorer>.h5``/``.csv`` (four column levels), and each video is
    linked into ``videos/`` and listed in ``video_sets``. A video that is not
    found still gives its frames when the ``.slp`` embeds them or is an image-list
    video; otherwise the import stops and names it. The project is built in a
    temporary folder moved into place at the end: on any error nothing is written.

    As SLEAP trains on user instances only (labels a person placed), those are
    imported: a frame keeps its user instances, and frames with predictions only
    are left out (a warning counts them); ``include_predictions=True`` takes the
    predictions too.

    Parameters
    ----------
    slp_path
        The ``.slp`` file.
    project_dir
        The new project folder (must not exist, or be empty).
    video_path
        Where the labelled video is, when the file's path to it is gone: a video
        file (of the one video imported; for a file of several videos without
        ``video``, it imports the video of its file name) or a folder holding the
        videos under the file names the ``.slp`` gives. Default: the file the
        ``.slp`` names, looked up beside the ``.slp`` when its path is relative or
        gone.
    scorer
        The labeller (the project's ``scorer``).
    task
        The project's ``Task`` (default: the ``.slp`` file's stem).
    frames
        Frame indices to import (each must have a labelled instance; of one video:
        choose it with ``video`` when the file has several).
    every
        Import every ``every``-th labelled frame of each video (labels over a whole
        clip are strongly correlated from frame to frame).
    max_frames
        At most this many frames in all, spread evenly over the chosen ones.
    video
        The one video to import: its index in the file or its file name (as the
        ``.slp`` names it, or its base name). Default: every video with a labelled
        frame.
    skeleton
        Which skeleton of the file.
    include_predictions
        Also import SLEAP's predicted instances as training labels (a user instance
        wins over a prediction of the same track; a warning counts the frames).

    Returns
    -------
    posekit.engine.project.Project
        The new multi-animal project.

    Raises
    ------
    FileNotFoundError
        The ``.slp`` or a video cannot be found (and the ``.slp`` embeds no frames
        of it).
    ValueError
        The file is not SLEAP labels, has no labelled frame (no user instance,
        without ``include_predictions``), ``video`` names no video of the file,
        or ``frames`` names an unlabelled frame.
    FileExistsError
        ``project_dir`` holds files already.

    Examples
    --------
    >>> project = import_sleap("clip.slp", "flies", every=5)  # doctest: +SKIP
    >>> project.individuals  # doctest: +SKIP
    ['female', 'male']
    """
    import tempfile

    from ..project import load_project
    from ._project_import import build_project
    from .dlc import make_labels_frame

    slp_path = Path(slp_path)
    if not slp_path.is_file():
        raise FileNotFoundError(f"No SLEAP file at {slp_path}")
    if video_path is not None and not Path(video_path).exists():
        raise FileNotFoundError(f"No video at {video_path}")
    records = _slp_videos(slp_path)
    chosen = _choose_videos(slp_path, records, video, video_path)
    if frames is not None and len(chosen) > 1:
        raise ValueError(
            f"frames= names frames of one video, and {slp_path} has labelled frames "
            f"in {len(chosen)} videos ({_video_list(chosen)}): choose the video with "
            "video="
        )
    parts = [
        _video_labels(
            slp_path,
            record,
            skeleton=skeleton,
            include_predictions=include_predictions,
            frames=frames,
            every=every,
        )
        for record in chosen
    ]
    _spread(parts, max_frames)
    left_out = sum(p["predicted_only"] for p in parts)
    dropped = sum(p["dropped"] for p in parts)
    parts = [p for p in parts if len(p["chosen"])]
    if not parts:
        if left_out:
            raise ValueError(
                f"{slp_path} holds no user instance (a label a person placed), only "
                f"SLEAP predictions ({left_out} frames), and SLEAP trains on user "
                "instances only. To import the predictions as training labels "
                "(check them first): posekit import --include-predictions "
                "(include_predictions=True in Python)"
            )
        raise ValueError(f"{slp_path} has no labelled frame to import")
    tracked = not parts[0]["arrays"].get("untracked")
    if tracked:
        tracks = [str(t) for t in parts[0]["arrays"]["track_names"]]
    else:  # individual_k: the k-th instance of a frame, as many as imported
        used = [
            np.flatnonzero(np.isfinite(p["position"][p["chosen"]]).any(axis=(0, 1, 2)))
            for p in parts
        ]
        n_ind = max((int(u.max()) + 1 for u in used if u.size), default=1)
        tracks = [f"individual_{k}" for k in range(n_ind)]
    nodes = [str(n) for n in parts[0]["arrays"]["node_names"]]
    xy = []
    for part in parts:
        pos = part["position"][part["chosen"]][
            ..., : len(tracks)
        ]  # (n, 2, node, track)
        pad = len(tracks) - pos.shape[-1]
        if pad:
            pos = np.concatenate([pos, np.full((*pos.shape[:3], pad), np.nan)], -1)
        xy.append(np.transpose(pos, (0, 3, 2, 1)))  # (n, track, node, 2)
    notes = {"identity": _identity_note(tracks)} if tracked else None
    with tempfile.TemporaryDirectory() as tmp:
        rows, sources, parts = _extract(slp_path, parts, video_path, Path(tmp))
        labels = make_labels_frame(
            scorer, nodes, rows, np.concatenate(xy), individuals=tracks
        )
        build_project(
            project_dir,
            task=task or slp_path.stem,
            labels=labels,
            sources=sources,
            bodyparts=nodes,
            skeleton=[list(e) for e in parts[0]["arrays"].get("edges", [])],
            individuals=tracks,
            notes=notes,
        )
    project = load_project(project_dir)
    _list_videos(project, slp_path, parts)
    project.save()
    _log_import(slp_path, project, parts, tracks, nodes, left_out, dropped)
    return project


def _log_import(
    slp_path: Path,
    project: Any,
    parts: list[dict[str, Any]],
    tracks: list[str],
    nodes: list[str],
    left_out: int,
    dropped: int,
) -> None:
    """Say what was imported, left out, and what the track names mean."""
    n = sum(len(p["chosen"]) for p in parts)
    if left_out or dropped:
        logger.warning(
            "%s: %d frame(s) with SLEAP predictions only were left out%s: SLEAP "
            "trains on user instances (labels a person placed) only. To take the "
            "predictions as training labels: posekit import --include-predictions "
            "(include_predictions=True in Python).",
            slp_path.name,
            left_out,
            f", and {dropped} predicted instance(s) beside user instances"
            if dropped
            else "",
        )
    predicted = [
        int(p["chosen"][j])
        for p in parts
        for j in np.flatnonzero(
            np.isfinite(p["confidence"][p["chosen"]]).any(axis=(1, 2))
        )
    ]
    if predicted:
        logger.warning(
            "%d of the %d frames imported hold SLEAP predictions, not labels a person "
            "placed (e.g. frame %d): they are training labels now. Check them before "
            "training (posekit check-labels, the labelling app).",
            len(predicted),
            n,
            predicted[0],
        )
    if not parts[0]["arrays"].get("untracked"):
        logger.warning(
            "%s: the SLEAP tracks %s are the individuals, with identity: false in "
            "%s. Tracks only say whose points these are in the labelled frames. In "
            "predictions (posekit analyze) these names are slots, the animals in "
            "the order they are found, not who is who: the track named %s may be "
            "another animal. If the animals can be told apart by looks (sex, size, "
            "marks), set identity: true there before creating a training dataset: "
            "DeepLabCut then learns who is who (posekit's networks do not use this "
            "key; they follow each animal by tracking).",
            slp_path.name,
            ", ".join(tracks),
            project.config_path,
            tracks[0],
        )
    logger.info(
        "imported %d labelled frames of %d video(s) (%s; %d individuals, %d "
        "keypoints) from %s into %s",
        n,
        len(parts),
        ", ".join(p["folder"] for p in parts),
        len(tracks),
        len(nodes),
        slp_path,
        project.path,
    )


_NOTE_START = "identity: the individuals are the SLEAP tracks ("


def _identity_note(tracks: Sequence[str]) -> str:
    """Return the ``config.yaml`` comment on ``identity`` for labels with SLEAP tracks.

    It starts with :data:`_NOTE_START` and the tracks: :func:`_warn_track_slots`
    reads it there.
    """
    return (
        f"{_NOTE_START}{', '.join(tracks)}). "
        "Tracks only say whose points these are in the labelled frames, not that the "
        "animals look different, so identity is false. If they can be told apart by "
        "looks (sex, size, marks), set identity: true before creating a training "
        "dataset: DeepLabCut then learns who is who. posekit's networks do not use "
        "this key; they follow each animal by tracking. In their predictions these "
        "names are slots, the animals in the order they are found, not who is who."
    )


def _tracks_in_note(config_path: Path) -> str | None:
    """Return the SLEAP tracks the import's note above ``identity:`` names, or None."""
    try:
        lines = config_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    at = next((i for i, line in enumerate(lines) if line.startswith("identity:")), None)
    if at is None:
        return None
    above: list[str] = []
    while at > 0 and lines[at - 1].startswith("#"):
        at -= 1
        above.insert(0, lines[at][1:].strip())
    note = " ".join(above)
    start = note.find(_NOTE_START)
    end = note.find("). ", start)
    if start < 0 or end < 0:
        return None
    return note[start + len(_NOTE_START) : end]


def _warn_track_slots(project: Any) -> bool:
    """Warn that predicted tracks named after SLEAP tracks are slots, not identities.

    A project imported from SLEAP (:func:`import_sleap`) has the SLEAP tracks as
    its individuals (the note above ``identity`` in ``config.yaml`` names them);
    with ``identity`` off its multi-animal predictions name their tracks after
    them in the order the animals are found, as DeepLabCut does, so ``female``
    may be the male.

    Parameters
    ----------
    project : posekit.engine.project.Project
        A multi-animal project.

    Returns
    -------
    bool
        Whether the warning was logged (``identity`` off and the individuals are
        the SLEAP tracks the import named).
    """
    from ..multianimal.dataset import identity_enabled

    individuals = [str(i) for i in project.individuals or []]
    if identity_enabled(project) or not individuals:
        return False
    if _tracks_in_note(Path(project.config_path)) != ", ".join(individuals):
        return False
    logger.warning(
        "the individuals of %s are the SLEAP tracks %s, and identity is false: the "
        "tracks of these predictions take those names as slots, the animals in the "
        "order they are found, not who is who (the track named %s may be another "
        "animal; posekit does not learn identities). Tell the animals apart "
        "yourself (e.g. by size) before using the names.",
        project.config_path,
        ", ".join(individuals),
        individuals[0],
    )
    return True
