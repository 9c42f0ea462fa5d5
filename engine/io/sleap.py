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
        ``video_path``, ``format_id``.

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
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"{path} is not an HDF5 file that opens, so not a readable SLEAP .slp "
            f"(is it cut short?): {err}"
        ) from err
    with f:
        for key in ("metadata", "frames", "instances", "points"):
            if key not in f:
                raise ValueError(
                    f"{path} is not a SLEAP labels file: it has no {key!r} (has {list(f)})"
                )
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
        The video the poses belong to (default: ``attrs["video_path"]``, written
        absolute when found on disk, as the source file names it; for labels with
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


def _labelled_frames(
    position: np.ndarray,
    frames: Sequence[int] | None,
    every: int,
    max_frames: int | None,
) -> np.ndarray:
    """Frame indices to import: labelled ones, every ``every``-th, at most ``max_frames``."""
    labelled = np.flatnonzero(np.isfinite(position).any(axis=(1, 2, 3)))
    if frames is not None:
        wanted = np.unique(np.asarray(list(frames), dtype=np.int64))
        missing = np.setdiff1d(wanted, labelled)
        if missing.size:
            raise ValueError(
                f"frames {missing[:5].tolist()} have no labelled instance in the file"
            )
        chosen = wanted
    else:
        if int(every) < 1:
            raise ValueError(f"every must be >= 1. Received: every={every!r}")
        chosen = labelled[:: int(every)]
    if max_frames is not None and len(chosen) > int(max_frames):
        pick = np.linspace(0, len(chosen) - 1, int(max_frames)).round().astype(int)
        chosen = chosen[np.unique(pick)]
    return chosen


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
    video: int = 0,
    skeleton: int = 0,
) -> Any:
    """Turn SLEAP ``.slp`` labels into a multi-animal DeepLabCut/posekit project.

    The tracks become the ``individuals`` (their names kept), the skeleton's nodes the
    ``multianimalbodyparts`` and its body edges the ``skeleton``. ``identity`` is
    ``false``: SLEAP tracks say whose points these are in the labelled frames, not
    that the animals look different (DeepLabCut's ``identity: true``, under which
    its network learns to tell them apart by looks); a comment above the key in
    ``config.yaml`` and a warning say so and how to turn it on. The labelled frames
    are extracted from the video to ``labeled-data/<video stem>/img<index>.png``
    (DeepLabCut's names, numbered by frame) with their labels in
    ``CollectedData_<scorer>.h5``/``.csv`` (four column levels), and the video is
    linked into ``videos/``. The project is built in a temporary folder moved into
    place at the end: on any error nothing is written.

    Parameters
    ----------
    slp_path
        The ``.slp`` file (user or predicted instances; a user instance wins; frames
        with predictions are named in a warning: they become training labels).
    project_dir
        The new project folder (must not exist, or be empty).
    video_path
        The labelled video (default: the file the ``.slp`` names, looked up beside
        the ``.slp`` when its path is relative or gone).
    scorer
        The labeller (the project's ``scorer``).
    task
        The project's ``Task`` (default: the ``.slp`` file's stem).
    frames
        Frame indices to import (each must have a labelled instance).
    every
        Import every ``every``-th labelled frame (labels over a whole clip are
        strongly correlated from frame to frame).
    max_frames
        At most this many frames, spread evenly over the chosen ones.
    video, skeleton
        Which video and skeleton of the file.

    Returns
    -------
    posekit.engine.project.Project
        The new multi-animal project.

    Raises
    ------
    FileNotFoundError
        The ``.slp`` or its video cannot be found.
    ValueError
        The file is not SLEAP labels, has no labelled frame, or ``frames`` names an
        unlabelled frame.
    FileExistsError
        ``project_dir`` holds files already.

    Examples
    --------
    >>> project = import_sleap("clip.slp", "flies", every=5)  # doctest: +SKIP
    >>> project.individuals  # doctest: +SKIP
    ['female', 'male']
    """
    import tempfile

    import cv2

    from ..project import load_project
    from ..video import VideoReader, frame_filename
    from ._project_import import build_project
    from .dlc import make_labels_frame

    slp_path = Path(slp_path)
    if not slp_path.is_file():
        raise FileNotFoundError(f"No SLEAP file at {slp_path}")
    arrays = read_slp_arrays(slp_path, video=video, skeleton=skeleton)
    video_file = _find_video(slp_path, video_path, arrays.get("video_path"))
    position = arrays["position"]  # (time, 2, node, track)
    chosen = _labelled_frames(position, frames, every, max_frames)
    if not len(chosen):
        raise ValueError(f"{slp_path} has no labelled frame to import")
    tracks = [str(t) for t in arrays["track_names"]]
    nodes = [str(n) for n in arrays["node_names"]]
    xy = np.transpose(position[chosen], (0, 3, 2, 1))  # (n, track, node, 2)
    stem = video_file.stem
    tracked = not arrays.get("untracked")
    notes = {"identity": _identity_note(tracks)} if tracked else None
    with VideoReader(video_file) as reader, tempfile.TemporaryDirectory() as tmp:
        total = reader.expected_frames  # the container's count: no decoding
        if chosen.max() >= total:
            raise ValueError(
                f"{slp_path} labels frame {int(chosen.max())} but {video_file.name} "
                f"has {total} frames: is it the labelled video?"
            )
        names = [frame_filename(int(i), total) for i in chosen]
        sources = []
        for i, name in zip(chosen, names, strict=True):
            out = Path(tmp) / name
            frame = reader.read(int(i))
            if not cv2.imwrite(str(out), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write frame {int(i)} to {out}")
            sources.append(out)
        rows = [f"labeled-data/{stem}/{n}" for n in names]
        labels = make_labels_frame(scorer, nodes, rows, xy, individuals=tracks)
        build_project(
            project_dir,
            task=task or slp_path.stem,
            labels=labels,
            sources=sources,
            bodyparts=nodes,
            skeleton=[list(e) for e in arrays.get("edges", [])],
            individuals=tracks,
            notes=notes,
        )
    project = load_project(project_dir)
    project.add_videos([video_file])
    project.save()
    predicted = np.isfinite(arrays["confidence"][chosen]).any(axis=(1, 2))
    if predicted.any():
        logger.warning(
            "%d of the %d frames imported hold SLEAP predictions, not labels a person "
            "placed (e.g. frame %d): they are training labels now. Check them before "
            "training (posekit check-labels, the labelling app).",
            int(predicted.sum()),
            len(chosen),
            int(chosen[np.flatnonzero(predicted)[0]]),
        )
    if tracked:
        logger.warning(
            "%s: the SLEAP tracks %s are the individuals, with identity: false in "
            "%s. Tracks only say whose points these are in the labelled frames. If "
            "the animals can be told apart by looks (sex, size, marks), set "
            "identity: true there before creating a training dataset: DeepLabCut "
            "then learns who is who (posekit's networks do not use this key; they "
            "follow each animal by tracking).",
            slp_path.name,
            ", ".join(tracks),
            project.config_path,
        )
    logger.info(
        "imported %d labelled frames (%d individuals, %d keypoints) from %s into %s",
        len(chosen),
        len(tracks),
        len(nodes),
        slp_path,
        project.path,
    )
    return project


def _identity_note(tracks: Sequence[str]) -> str:
    """Return the ``config.yaml`` comment on ``identity`` for labels with SLEAP tracks."""
    return (
        f"identity: the individuals are the SLEAP tracks ({', '.join(tracks)}). "
        "Tracks only say whose points these are in the labelled frames, not that the "
        "animals look different, so identity is false. If they can be told apart by "
        "looks (sex, size, marks), set identity: true before creating a training "
        "dataset: DeepLabCut then learns who is who. posekit's networks do not use "
        "this key; they follow each animal by tracking."
    )


def _find_video(
    slp_path: Path, given: str | os.PathLike | None, named: str | None
) -> Path:
    """Return the labelled video: the one given, else the one the file names."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f"No video at {path}")
        return path
    candidates = []
    if named:
        # a relative name is relative to the .slp (never to the current folder)
        named_path = Path(named)
        if named_path.is_absolute():
            candidates.append(named_path)
        else:
            candidates.append(slp_path.parent / named_path)
        candidates.append(slp_path.parent / named_path.name)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{slp_path} names the video {named!r}, which is not there nor beside the "
        ".slp (a relative name is relative to the .slp); name the video: "
        "posekit import SLP PROJECT --video VIDEO (video_path= in Python)"
    )
