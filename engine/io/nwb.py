"""Neurodata Without Borders: poses as ``ndx-pose`` ``PoseEstimation``, labels as ``TrainingFrames``.

Needs ``pynwb`` and ``ndx-pose`` (``pip install "posekit[nwb]"``); the rest of posekit
works without them, and these functions say how to install them when they are missing.

**Predictions** (:func:`save_nwb`, :func:`load_nwb`). In the processing module
``behavior``: a ``Skeletons`` container holding one ``Skeleton`` (the keypoints and the
project's edges), and for each individual a ``PoseEstimation`` with one
``PoseEstimationSeries`` per keypoint (``data`` ``(frames, 2|3)`` in pixels,
``confidence``, and ``rate``/``starting_time`` or ``timestamps`` in seconds), the
model's ``scorer`` and a link to the source video (an external-file ``ImageSeries`` in
``acquisition``, named relative to the NWB file as NWB requires). The session metadata
given (``subject``, ``session_start_time``, ``experimenter``, ``lab``, ...:
:data:`NWBFILE_FIELDS`) is written; an unknown keyword is an error. ndx-pose keeps one
subject per file: a file with one individual names
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
the union of the series' times, NaN where a series has no sample; the frame rate that
numbers the frames is the series' rate, their video's, their timestamps' step (frames
may be missing) or ``fps=``. ``PoseEstimation`` objects of different cameras (videos,
devices) are views, not animals: :func:`load_nwb` reads one (``pose_estimation=``).

**Labels** (:func:`write_nwb_labels`, :func:`read_nwb_labels`). ndx-pose 0.4's
``PoseTraining`` in ``behavior``: ``training_frames`` (``TrainingFrames``) holds one
``TrainingFrame`` per labelled image with a ``SkeletonInstance`` per individual (named
after it; ``node_locations``, ``node_visibility``), ``source_video`` and
``source_video_frame_index``; ``source_videos`` (``SourceVideos``) holds, for each
``labeled-data/<video>`` folder, an ``ImageSeries`` whose external files are the
labelled images (relative to the NWB file), so a frame index names its image exactly.
SLEAP's NWB annotations (a video ``ImageSeries`` and frame numbers; identities in an
ndx-multisubjects ``SubjectsTable`` when it wrote one, else none) are read too.
:func:`import_nwb` turns training frames into a project.
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
from ..poses import from_numpy, mark_time_unit
from . import register_loader, register_saver
from ._source import image_root, image_row, skeleton_for, source_video, video_fps
from .dlc import index_to_paths, labels_to_array, make_labels_frame

__all__ = [
    "NWBError",
    "NWBFILE_FIELDS",
    "SUBJECT_FIELDS",
    "save_nwb",
    "save_nwb_individuals",
    "load_nwb",
    "write_nwb_labels",
    "read_nwb_labels",
    "import_nwb",
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


#: ``NWBFile`` fields :func:`save_nwb` and :func:`write_nwb_labels` pass through (with
#: ``subject``); anything else is refused, so that no metadata is dropped unsaid.
NWBFILE_FIELDS = (
    "session_description",
    "identifier",
    "session_start_time",
    "timestamps_reference_time",
    "experimenter",
    "experiment_description",
    "session_id",
    "institution",
    "lab",
    "keywords",
    "notes",
    "protocol",
    "related_publications",
    "pharmacology",
    "surgery",
    "virus",
    "stimulus_notes",
    "data_collection",
    "source_script",
    "source_script_file_name",
)
#: ``pynwb.file.Subject`` fields (``subject=`` as a dict or a ``Subject``).
SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "age__reference",
    "date_of_birth",
    "description",
    "genotype",
    "strain",
    "weight",
)


def _check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(metadata) - set(NWBFILE_FIELDS) - {"subject"})
    if unknown:
        raise TypeError(
            f"NWB metadata {unknown} is not an NWBFile field posekit writes; the "
            f"fields are {list(NWBFILE_FIELDS)} and subject= (a pynwb Subject or a "
            f"dict of {list(SUBJECT_FIELDS)})"
        )
    return {k: v for k, v in metadata.items() if v is not None}


def _subject_fields(subject: Any) -> dict[str, Any] | None:
    """Return a ``Subject``'s (or a dict's) fields as a dict; None: no subject."""
    if subject is None:
        return None
    if isinstance(subject, Mapping):
        fields = dict(subject)
    elif hasattr(subject, "fields"):
        fields = dict(subject.fields)
    else:
        raise TypeError(
            f"subject must be a pynwb Subject or a dict of its fields; got {subject!r}"
        )
    unknown = sorted(set(fields) - set(SUBJECT_FIELDS))
    if unknown:
        raise TypeError(
            f"subject fields {unknown} are not Subject fields {list(SUBJECT_FIELDS)}"
        )
    return {k: v for k, v in fields.items() if v is not None}


def _as_datetime(value: Any, what: str) -> _dt.datetime:
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{what} {value!r} is not an ISO 8601 date and time, e.g. "
                "2024-01-02T10:00:00+01:00"
            ) from None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"{what} must be a datetime or an ISO 8601 text; got {value!r}")
    return value if value.tzinfo is not None else value.astimezone()


def _session_start(value: Any, video: Path | None, target: Path) -> _dt.datetime:
    """Return the session start: given, the video's file time, or now (warned)."""
    if value is not None:
        return _as_datetime(value, "session_start_time")
    if video is not None and video.is_file():
        start = _dt.datetime.fromtimestamp(video.stat().st_mtime).astimezone()
        logger.warning(
            "%s: no session start given: the NWB file records %s, the modification "
            "time of the video %s; pass the real one: posekit convert --session-start "
            "2024-01-02T10:00:00+01:00 (session_start_time= in Python)",
            target.name,
            start.isoformat(timespec="seconds"),
            video.name,
        )
        return start
    start = _dt.datetime.now(_dt.timezone.utc)
    logger.warning(
        "%s: no session start given and no video to take it from: the NWB file "
        "records the time of this conversion (%s), not the recording's; pass it: "
        "posekit convert --session-start 2024-01-02T10:00:00+01:00 "
        "(session_start_time= in Python)",
        target.name,
        start.isoformat(timespec="seconds"),
    )
    return start


def _new_file(
    pynwb: Any,
    metadata: Mapping[str, Any],
    *,
    description: str,
    video: Path | None,
    target: Path,
    named: str | None = None,
) -> Any:
    """Return a new ``NWBFile`` of ``metadata``.

    Its ``identifier``, unless given, is ``<named>_<uuid4>``: readable, as movement
    names a file's animal by it, and unique, as NWB asks (nwbinspector's
    ``check_unique_identifiers`` is critical for DANDI: two sessions of one
    animal in a dandiset).
    """
    kwargs = dict(metadata)
    kwargs.pop("subject", None)
    for key in ("timestamps_reference_time",):
        if key in kwargs:
            kwargs[key] = _as_datetime(kwargs[key], key)
    if isinstance(kwargs.get("experimenter"), str):
        kwargs["experimenter"] = [kwargs["experimenter"]]
    if isinstance(kwargs.get("keywords"), str):
        kwargs["keywords"] = [kwargs["keywords"]]
    kwargs["session_description"] = kwargs.get("session_description") or description
    unique = str(uuid.uuid4())
    kwargs["identifier"] = kwargs.get("identifier") or (
        f"{named}_{unique}" if named else unique
    )
    kwargs["session_start_time"] = _session_start(
        kwargs.get("session_start_time"), video, target
    )
    return pynwb.NWBFile(**kwargs)


def _make_subject(pynwb: Any, fields: Mapping[str, Any]) -> Any:
    fields = dict(fields)
    if "date_of_birth" in fields:
        fields["date_of_birth"] = _as_datetime(fields["date_of_birth"], "date_of_birth")
    return pynwb.file.Subject(**fields)


def _relative_to(file: str | os.PathLike, target: Path) -> str:
    """``file`` relative to the folder of ``target`` (NWB's rule for external files)."""
    try:
        rel = os.path.relpath(os.path.abspath(file), os.path.abspath(target.parent))
    except ValueError:  # another drive (Windows): no relative path exists
        return str(Path(file).absolute())
    return rel.replace(os.sep, "/")


def _resolve_external(name: str, nwb_path: Path) -> str:
    """Return an external file as named, or absolute when found beside the file."""
    path = Path(name)
    if not path.is_absolute():
        here = Path(os.path.normpath(nwb_path.absolute().parent / path))
        if here.is_file():
            return str(here)
    return name


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
        return {"rate": float(fps), "starting_time": float(seconds[0]), "fps": fps}
    return {"timestamps": seconds, "fps": fps}


def _video_series(
    pynwb: Any, video_path: str, timing: dict[str, Any], n_frames: int
) -> Any:
    """Return the source video as an external-file ``ImageSeries``.

    With a frame rate the video's frame ``k`` is at ``k / rate`` seconds (the poses'
    time 0 is the video's first frame, as their frame numbers say); without one its
    timestamps are the poses' frame numbers, as the poses'.
    """
    from pynwb.image import ImageSeries

    kwargs: dict[str, Any] = {
        "name": "video",
        "description": "the video the poses were estimated from",
        "unit": "NA",
        "format": "external",
        "external_file": [str(video_path)],
        "starting_frame": [0],
    }
    if timing.get("fps"):
        kwargs.update(rate=float(timing["fps"]), starting_time=0.0)
        if "num_samples" in {
            a["name"] for a in ImageSeries.__init__.__docval__["args"]
        }:
            kwargs["num_samples"] = int(n_frames)
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
    provenance: tuple[str, str | None],
    dimensions: tuple[int, int] | None = None,
    subject_id: str | None = None,
    device: Any = None,
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
                **{k: v for k, v in timing.items() if k != "fps"},
            )
        )
    with warnings.catch_warnings():
        # ndx-pose 0.2+ calls original_videos deprecated (source_video replaces
        # it); DLC2NWB and readers of older ndx-pose files look for it
        warnings.simplefilter("ignore", DeprecationWarning)
        software, version = provenance
        animal = individual
        if subject_id and subject_id != individual:
            animal = f"{individual} (subject {subject_id})"
        return ndx_pose.PoseEstimation(
            name=name,
            pose_estimation_series=series,
            description=f"Estimated positions of {', '.join(keypoints)} of "
            f"{animal}, by {' '.join(filter(None, provenance))}.",
            scorer=scorer,
            source_software=software,
            source_software_version=version,
            device=device,
            skeleton=skeleton,
            source_video=video,
            original_videos=[video_path] if video_path else None,
            dimensions=np.asarray([dimensions], np.uint16) if dimensions else None,
        )


def _build_file(
    ds: xr.Dataset,
    individuals: Sequence[str],
    *,
    fps: float | None,
    scorer: str | None,
    skeleton: Sequence[Sequence[str]] | None,
    video_path: str | None,
    video_file: Path | None,
    provenance: tuple[str, str | None],
    metadata: Mapping[str, Any],
    target: Path,
) -> Any:
    pynwb, ndx_pose = _modules()
    keypoints = [str(k) for k in ds["keypoint"].values]
    subject = _subject_fields(metadata.get("subject"))
    if subject is None and len(individuals) == 1:
        subject = {"subject_id": str(individuals[0])}
    if subject is not None and len(individuals) == 1:
        subject.setdefault("subject_id", str(individuals[0]))
    subject_id = str(subject["subject_id"]) if subject else None
    nwbfile = _new_file(
        pynwb,
        metadata,
        description=f"poses from {' '.join(filter(None, provenance))}",
        video=video_file,
        target=target,
        # movement names the animal of a file by its identifier (its writer
        # sets the individual's name): it starts with the subject, else the animals
        named=subject_id or "+".join(str(i) for i in individuals),
    )
    if subject is not None:
        nwbfile.subject = _make_subject(pynwb, subject)
    timing = _timing(ds, fps)
    video = camera = None
    if video_path:
        n_frames = _video_frames(video_file) if video_file is not None else None
        if not n_frames:  # at least up to the last frame with poses
            t = np.asarray(ds["time"].values, np.float64)
            if ds.attrs.get("time_unit") == "seconds" and fps:
                t = t * float(fps)
            n_frames = int(np.round(t.max())) + 1 if len(t) else 0
        video = _video_series(pynwb, video_path, timing, n_frames)
        nwbfile.add_acquisition(video)
        camera = nwbfile.create_device(
            name="camera",
            description=f"the camera that recorded {Path(video_path).name}",
        )
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
    dimensions = _video_size(video_file) if video_file is not None else None
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
                provenance=provenance,
                dimensions=dimensions,
                subject_id=subject_id if len(individuals) == 1 else None,
                device=camera,
            )
        )
    return nwbfile


def _video_frames(path: Path) -> int | None:
    """Return a video's frame count as its container states it, or None."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    return n if n > 0 else None


def _video_size(path: Path) -> tuple[int, int] | None:
    """Return a video's ``(width, height)`` as its container states it, or None."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    return (w, h) if w > 0 and h > 0 else None


def _metadata_of(ds: xr.Dataset, given: Mapping[str, Any]) -> dict[str, Any]:
    """Return the NWB metadata to write: ``given`` over what an NWB source had."""
    given = _check_metadata(given)
    kept = ds.attrs.get("nwb_metadata")
    out: dict[str, Any] = {}
    if isinstance(kept, Mapping):
        # a new file gets a new identifier; the rest describes the same session
        out = {
            k: v for k, v in kept.items() if k in NWBFILE_FIELDS and k != "identifier"
        }
        subject = kept.get("subject")
        individuals = [str(i) for i in ds["individual"].values]
        if (
            isinstance(subject, Mapping)
            and len(individuals) == 1
            and subject.get("subject_id") in (None, individuals[0])
        ):
            out["subject"] = dict(subject)  # the file's animal, still the only one
    out.update(given)
    return out


#: ``source_software`` values that name a file format, not the program that
#: estimated the poses: such poses are written as posekit's.
_FORMAT_NAMES = frozenset({"NWB", "COCO", "netCDF"})


def _made_by_posekit(ds: xr.Dataset) -> bool:
    """Whether DeepLabCut-format predictions are posekit's own analysis.

    posekit's ``_meta.pickle`` has keys DeepLabCut's has not (``precision``,
    ``frames_per_second``); a collaborator's DeepLabCut file has DeepLabCut's only,
    or no ``_meta.pickle``.
    """
    from .dlc import analysis_metadata

    source = ds.attrs.get("source_file")
    if not isinstance(source, str) or not Path(source).is_file():
        return False
    meta = analysis_metadata(source) or {}
    return "precision" in meta or "frames_per_second" in meta


def _provenance(
    ds: xr.Dataset, software: str | None, version: str | None
) -> tuple[str, str | None]:
    """Return ``(source_software, version)``: given, the poses' own, or posekit's.

    The poses' ``attrs["source_software"]`` (``DeepLabCut`` for a DeepLabCut file,
    ``SLEAP``, what an NWB file recorded, ...) with ``attrs["source_software_version"]``
    when known; posekit with its version for posekit's own analyses (DeepLabCut's
    format with posekit's ``_meta.pickle``), poses made in posekit and files whose
    format names no program (COCO, netCDF without the attribute).
    """
    from .. import __version__

    if software:
        if version is None and software == "posekit":
            version = __version__
        return str(software), version
    named = ds.attrs.get("source_software")
    recorded = ds.attrs.get("source_software_version")
    if (
        not named
        or str(named) in _FORMAT_NAMES
        or (named == "DeepLabCut" and _made_by_posekit(ds))
    ):
        return "posekit", version or __version__
    version = version or (str(recorded) if recorded else None)
    if named == "posekit" and version is None:
        version = __version__
    return str(named), version


def _refuse_unnamed_subject(
    subject: Mapping[str, Any] | None,
    individuals: Sequence[str],
    target: Path,
    *,
    one_named: bool = True,
) -> None:
    """Refuse subject fields without a ``subject_id`` it cannot take (DANDI).

    One individual lends its name (``one_named``); several, or the one unnamed
    animal of a single-animal label file, do not.
    """
    if not subject or subject.get("subject_id"):
        return
    if len(individuals) == 1 and one_named:
        return
    animals = ", ".join(individuals) if one_named else "an unnamed animal"
    raise NWBError(
        f"{target.name}: the subject fields {sorted(subject)} name no subject_id "
        f"(the file holds {animals}), and DANDI rejects a Subject without "
        "subject_id (nwbinspector: "
        "'subject_id is missing', CRITICAL). Write one file per animal, each "
        "with its individual as subject_id: posekit convert --per-individual "
        "(save_nwb_individuals in Python); or keep one animal: --individual NAME; "
        "or name the file's subject: --subject-id ID (subject={'subject_id': ...})."
    )


@register_saver("NWB", suffixes=(".nwb",))
def save_nwb(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    scorer: str | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    video_path: str | None = None,
    source_software: str | None = None,
    source_software_version: str | None = None,
    subject: Any = None,
    session_start_time: _dt.datetime | str | None = None,
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
        DeepLabCut file), linked as an external ``ImageSeries``
        (``PoseEstimation.source_video``) and named in
        ``PoseEstimation.original_videos`` (ndx-pose's older field, which DLC2NWB
        writes). Found on disk, it is written relative to the NWB file's folder
        (NWB's rule for external files, which DANDI checks).
    source_software, source_software_version
        ``PoseEstimation.source_software`` and its version (the ``session_description``
        says the same). Default: the poses' ``attrs["source_software"]`` and
        ``attrs["source_software_version"]`` (a collaborator's DeepLabCut file:
        ``DeepLabCut``; an NWB file: what it recorded), or ``posekit`` and
        posekit's version for posekit's own analyses and poses made in posekit.
    subject
        ``NWBFile.subject``: a ``pynwb.file.Subject`` or a dict of its fields
        (``subject_id``, ``species``, ``sex``, ``age``, ... see
        :data:`SUBJECT_FIELDS`). Default: for one individual, a subject named after
        it; for several, none (ndx-pose keeps one subject per file: see
        :func:`save_nwb_individuals`). With one individual a ``subject_id`` left out
        is the individual's name; with several it must be given (DANDI rejects a
        subject without one), else :class:`NWBError`. ``NWBFile.identifier``
        (unless given) is ``<subject id>_<uuid4>``: readable (movement names the
        file's animal by it) and unique (nwbinspector's DANDI check).
    session_start_time
        A timezone-aware ``datetime`` or ISO 8601 text (a time without zone is taken
        as local time). Default: the one recorded by the NWB file the poses were
        read from, else the modification time of the source video, else the time
        of the conversion; both guesses are named in a warning.
    **nwbfile_kwargs
        Other ``NWBFile`` fields (:data:`NWBFILE_FIELDS`: ``session_description``,
        ``identifier``, ``experimenter``, ``lab``, ``institution``, ...). Metadata
        read from an NWB file (``attrs["nwb_metadata"]``) is written again unless
        replaced here (with a new ``identifier``).

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    TypeError
        If a keyword is not an ``NWBFile`` or ``Subject`` field.
    NWBError
        If a name cannot be an NWB name, an edge names an unknown keypoint, or
        subject fields without a ``subject_id`` would describe several animals.
    """
    path = Path(path)
    metadata = _metadata_of(
        ds,
        {
            **nwbfile_kwargs,
            "subject": subject,
            "session_start_time": session_start_time,
        },
    )
    if ds.attrs.get("frames") and not np.isfinite(ds["confidence"].values).any():
        return write_nwb_labels(
            _poses_to_labels(ds),
            path,
            skeleton=skeleton_for(ds, skeleton, path),
            image_root=_label_root(ds),
            **metadata,
        )
    individuals = [str(i) for i in ds["individual"].values]
    _refuse_unnamed_subject(_subject_fields(metadata.get("subject")), individuals, path)
    if video_path is None:
        found = source_video(ds)
        named = ds.attrs.get("video_path")
    else:
        found = Path(video_path) if Path(video_path).is_file() else None
        named = video_path
    fps = _frame_rate(ds, fps, found, path)
    written = _relative_to(found, path) if found is not None else named
    nwbfile = _build_file(
        ds,
        individuals,
        fps=fps,
        scorer=scorer,
        skeleton=skeleton_for(ds, skeleton, path),
        video_path=str(written) if written else None,
        video_file=found,
        provenance=_provenance(ds, source_software, source_software_version),
        metadata=metadata,
        target=path,
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
    multi-animal poses; each file names its individual in ``NWBFile.subject`` and
    starts its ``NWBFile.identifier`` with it (``<individual>_<uuid4>``: movement
    names a file's animal by the identifier, NWB wants it unique).
    :func:`load_nwb` given the list of files reads them back together.

    Parameters
    ----------
    ds
        Poses dataset.
    path
        Base path; the individual's name is added to its stem.
    **kwargs
        As for :func:`save_nwb`; a ``subject`` (its species, sex, ...) is written in
        every file with the individual's name as ``subject_id``. A ``subject_id``
        given names the animal of poses of one individual; for several it is
        refused (each file is one animal).

    Returns
    -------
    list of Path
        The files, in individual order.

    Raises
    ------
    NWBError
        If a ``subject_id`` is given for several individuals.
    """
    path = Path(path)
    out = []
    subject = _subject_fields(kwargs.pop("subject", None))
    individuals = [str(i) for i in ds["individual"].values]
    if subject and subject.get("subject_id") and len(individuals) > 1:
        raise NWBError(
            f"subject_id {subject['subject_id']!r} names one animal, but one file "
            f"per individual is written for {', '.join(individuals)}, each with "
            "its individual's name as subject_id. Leave out the subject id, or "
            "convert one animal: posekit convert --individual NAME --subject-id ID."
        )
    for ind in individuals:
        target = path.with_name(f"{path.stem}_{ind}{path.suffix or '.nwb'}")
        mine = None if subject is None else {"subject_id": ind, **subject}
        out.append(save_nwb(ds.sel(individual=[ind]), target, subject=mine, **kwargs))
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


def _individual_of(name: str) -> str | None:
    """Return the individual a ``PoseEstimation`` is named after, if any."""
    for prefix in ("track=", _PREFIX):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return None


def _read_pose_estimation(
    pe: Any, default_individual: str, renames: dict[str, str], *, named: bool = True
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{(individual, keypoint): (times, xy, confidence)}`` of one PoseEstimation.

    ``renames`` collects series names that are not keypoint names (DLC2NWB's
    ``<individual>_<bodypart>``). ``named``: the individual is the one the
    ``PoseEstimation``'s name gives (``PoseEstimation_<name>``, ``track=<name>``);
    otherwise ``default_individual``.
    """
    series = dict(pe.pose_estimation_series.items())
    individual = (_individual_of(pe.name) if named else None) or default_individual
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


def _pe_video(pe: Any) -> str | None:
    video = pe.source_video
    if (
        video is not None
        and video.external_file is not None
        and len(video.external_file)
    ):
        return str(video.external_file[0])
    if pe.original_videos is not None and len(pe.original_videos):
        return str(pe.original_videos[0])
    return None


def _pe_devices(pe: Any) -> tuple[str, ...]:
    """Return the names of a ``PoseEstimation``'s cameras (``device[s]``)."""
    fields = pe.fields  # not the properties: ndx-pose warns on reading ``devices``
    found = []
    device = fields.get("device")
    if device is not None:
        found.append(device)
    devices = fields.get("devices")
    if devices is not None:
        found += list(devices.values() if isinstance(devices, Mapping) else devices)
    return tuple(sorted({str(getattr(d, "name", d)) for d in found}))


def _pe_rate(pe: Any) -> float | None:
    rates = {s.rate for s in pe.pose_estimation_series.values()} - {None}
    return float(rates.pop()) if len(rates) == 1 else None


def _camera(pe: Any) -> tuple[Any, ...]:
    """Return what tells a ``PoseEstimation``'s camera: video, devices, rate."""
    video = _pe_video(pe)
    return (Path(video).name if video else None, _pe_devices(pe), _pe_rate(pe))


def _other_camera(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two ``_camera`` keys are different cameras.

    Different videos or devices (both named); for ``PoseEstimation`` that name
    neither, different frame rates (SLEAP writes a rate only for a track seen in
    every frame, so a rate alone says nothing when a video or device is named).
    """
    (video_a, dev_a, rate_a), (video_b, dev_b, rate_b) = a, b
    if video_a and video_b and video_a != video_b:
        return True
    if dev_a and dev_b and dev_a != dev_b:
        return True
    named = video_a or video_b or dev_a or dev_b
    return not named and bool(rate_a and rate_b and rate_a != rate_b)


def _describe(pe: Any) -> str:
    video, devices, rate = _camera(pe)
    parts = [f"video {video}" if video else "no video"]
    if devices:
        parts.append(f"camera {', '.join(devices)}")
    if rate:
        parts.append(f"{rate:g} fps")
    n = max((len(s.data) for s in pe.pose_estimation_series.values()), default=0)
    parts.append(f"{n} frames")
    return f"{pe.name} ({'; '.join(parts)})"


def _choose(found: list[tuple[str, Any]], wanted: str, path: Path) -> list:
    """Return the ``PoseEstimation`` ``wanted`` names (name, individual, camera)."""
    hits = [
        (m, pe)
        for m, pe in found
        if wanted in (pe.name, _individual_of(pe.name), *_pe_devices(pe))
    ]
    if len(hits) != 1:
        listed = "; ".join(_describe(pe) for _, pe in found)
        raise NWBError(
            f"{path}: {'no' if not hits else 'several'} PoseEstimation match "
            f"{wanted!r}; it holds {listed}"
        )
    return hits


def _file_poses(
    path: Path, module: str | None, pose_estimation: str | None = None
) -> tuple[dict, dict[str, Any]]:
    with _open(path) as nwbfile:
        found = _pose_estimations(nwbfile, module)
        if not found:
            raise NWBError(
                f"{path} holds no ndx-pose PoseEstimation (processing modules: "
                f"{list(nwbfile.processing)}); labelled frames are read with "
                "read_nwb_labels"
            )
        # several PoseEstimation of one video are animals (posekit's, SLEAP's
        # tracks); of different videos, cameras or frame rates they are views of
        # one session, never merged as animals
        cameras = [_camera(pe) for _, pe in found]
        views = any(_other_camera(a, b) for a in cameras for b in cameras)
        if pose_estimation is not None:
            found = _choose(found, pose_estimation, path)
        elif views:
            raise NWBError(
                f"{path} holds {len(found)} PoseEstimation of different cameras "
                f"(their videos, devices or frame rates differ): "
                f"{'; '.join(_describe(pe) for _, pe in found)}. A camera is not an "
                "animal, so they are not read together: choose one with "
                "pose_estimation='NAME' (posekit convert --pose-estimation NAME)."
            )
        subject = nwbfile.subject.subject_id if nwbfile.subject is not None else None
        poses: dict = {}
        meta: dict[str, Any] = {"nwb_metadata": _file_metadata(nwbfile)}
        renames: dict[str, str] = {}
        for _, pe in found:
            alone = len(found) == 1
            default = (subject or "individual_0") if alone or views else pe.name
            poses.update(_read_pose_estimation(pe, default, renames, named=not views))
            meta.setdefault("scorer", pe.scorer)
            if pe.source_software and "source_software" not in meta:
                meta["source_software"] = str(pe.source_software)
                # ndx-pose 0.4 keeps it as ``source_software__version``
                version = pe.fields.get("source_software__version") or pe.fields.get(
                    "source_software_version"
                )
                if version:
                    meta["source_software_version"] = str(version)
            video = _pe_video(pe)
            if video:
                meta.setdefault("video_path", _resolve_external(video, path))
            source = pe.source_video
            if source is not None and source.rate:
                meta.setdefault("video_rate", float(source.rate))
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "__len__"):
        try:
            return [_jsonable(v) for v in value]
        except TypeError:
            pass
    return str(value)


def _file_metadata(nwbfile: Any) -> dict[str, Any]:
    """Return the session metadata of an NWB file, as JSON-able values."""
    out: dict[str, Any] = {}
    for key in NWBFILE_FIELDS:
        if key in ("identifier", "timestamps_reference_time"):
            continue
        value = getattr(nwbfile, key, None)
        if value is not None:
            out[key] = _jsonable(value)
    if nwbfile.subject is not None:
        out["subject"] = {
            k: _jsonable(v)
            for k, v in nwbfile.subject.fields.items()
            if k in SUBJECT_FIELDS and v is not None
        }
    return out


def _fps_from(meta: dict[str, Any], times: np.ndarray) -> float | None:
    """Return the frame rate: the series' rate, their video's, or their step.

    Timestamps may skip frames (dropped frames, a trimmed clip): every step is then
    a whole number of frame intervals, and the interval is the rate's inverse.
    """
    rates = meta["rates"] - {None}
    if len(rates) == 1 and None not in meta["rates"]:
        return float(rates.pop())
    if meta.get("video_rate"):
        return float(meta["video_rate"])
    steps = np.diff(np.unique(times))
    if not len(steps) or steps.min() <= 0:
        return None
    ratio = steps / steps.min()
    whole = np.round(ratio)
    if not np.all(np.abs(ratio - whole) <= 1e-6 * whole):
        return None  # irregular timestamps: no frame rate
    return float(whole.sum() / (times.max() - times.min()))


def _with_times(
    ds: xr.Dataset,
    times: np.ndarray,
    meta: dict[str, Any],
    fps: float | None,
    path: Path,
) -> xr.Dataset:
    """Return ``ds`` with the file's times: seconds and their frame rate, or frames."""
    if meta["frames"]:
        if fps:
            ds = ds.assign_coords(time=times / fps)
            ds.attrs.update(fps=float(fps), time_unit="seconds")
        else:
            ds = ds.assign_coords(time=times)
    else:
        ds = ds.assign_coords(time=times)
        stated = _fps_from(meta, times)
        if fps and stated and not np.isclose(stated, fps, rtol=1e-6):
            logger.warning(
                "%s: the file's frame rate is %g fps; frames are numbered at the "
                "%g fps given",
                path.name,
                stated,
                fps,
            )
        ds.attrs.update(fps=float(fps) if fps else stated, time_unit="seconds")
        if fps:
            ds = _on_frame_grid(ds, float(fps), path)
    return ds


@register_loader("NWB", sniff=_sniff_nwb, suffixes=(".nwb",))
def load_nwb(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    fps: float | None = None,
    module: str | None = None,
    pose_estimation: str | None = None,
) -> xr.Dataset:
    """Load poses from NWB (``ndx-pose`` ``PoseEstimation``) as a poses dataset.

    Parameters
    ----------
    path
        An ``.nwb`` file, or a list of them (one per individual, as DLC2NWB and
        movement write them).
    fps
        Frame rate. For a file whose times are frame numbers (posekit without a
        frame rate) it turns them into seconds. For times in seconds it is the rate
        that numbers the frames (``time × fps``, for DeepLabCut, SLEAP and Lightning
        Pose files); by default the series' rate, their video's, or the step of
        their timestamps (timestamps may skip dropped frames).
    module
        The processing module to read (default: the first that holds poses).
    pose_estimation
        The ``PoseEstimation`` to read, by its name, the individual it is named
        after, or its camera (device). Needed for a file with several cameras:
        ``PoseEstimation`` objects of different videos, devices or frame rates are
        views of one session, not animals, and are not read together.

    Returns
    -------
    xarray.Dataset
        ``time`` in seconds (the series' times; ``attrs["fps"]`` as above), or
        frames for a file posekit wrote without a frame rate; ``individual`` from
        the ``PoseEstimation`` names, the subject or DLC2NWB's series names; attrs
        ``scorer``, ``video_path`` (absolute when found beside the file) and
        ``skeleton`` when the file has them, ``source_software`` (and
        ``source_software_version``) as its ``PoseEstimation`` records them (``"NWB"``
        when it names none), and ``nwb_metadata`` (subject,
        session start, experimenter, lab, ...) that :func:`save_nwb` writes again.
        A file of labelled frames (no ``PoseEstimation``) loads with
        ``attrs["frames"]`` (see :func:`read_nwb_labels`).

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    FileNotFoundError
        If a file does not exist.
    NWBError
        If a file is not readable NWB, holds no poses, or holds several cameras
        and ``pose_estimation`` names none of them.
    """
    paths = (
        [Path(path)] if isinstance(path, (str, os.PathLike)) else list(map(Path, path))
    )
    if len(paths) == 1 and _holds_training_only(paths[0]):
        return _labels_as_poses(paths[0], fps=fps)
    poses: dict = {}
    meta: dict[str, Any] = {"rates": set(), "frames": True}
    for p in paths:
        file_poses, file_meta = _file_poses(p, module, pose_estimation)
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
        # the program that estimated the poses, as the file records it
        source_software=meta.get("source_software") or "NWB",
        source_file=str(paths[0]) if len(paths) == 1 else str([str(p) for p in paths]),
    )
    ds = _with_times(ds, times, meta, fps, paths[0])
    for key in ("scorer", "video_path", "source_software_version"):
        if meta.get(key):
            ds.attrs[key] = str(meta[key])
    if meta.get("edges") is not None:
        ds.attrs["skeleton"] = [
            e for e in meta["edges"] if e[0] in keypoints and e[1] in keypoints
        ]
    if meta.get("nwb_metadata"):
        ds.attrs["nwb_metadata"] = meta["nwb_metadata"]
    return mark_time_unit(ds)


def _on_frame_grid(ds: xr.Dataset, fps: float, path: Path) -> xr.Dataset:
    """Put times of a clock (a camera's timestamps) on the grid of ``fps`` frames.

    With a frame rate given, frame ``round(time × fps)`` is meant: times within a
    quarter frame of it become exactly ``frame / fps`` (logged); farther is an error.
    """
    t = np.asarray(ds["time"].values, np.float64)
    frames = np.round(t * fps)
    if np.allclose(frames, t * fps, rtol=0, atol=1e-6):
        return ds
    off = np.abs(frames - t * fps)
    if off.max() > 0.25 or len(np.unique(frames)) != len(frames):
        raise NWBError(
            f"{path}: its timestamps are not frames at {fps:g} fps (up to "
            f"{off.max():.2f} frame from the nearest one): is the frame rate right?"
        )
    logger.info(
        "%s: timestamps put on the %g fps frame grid (moved by up to %.3f frame)",
        path.name,
        fps,
        off.max(),
    )
    return ds.assign_coords(time=frames / fps)


# ---------------------------------------------------------------- labels

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: sleap-io's names of instances in a frame (``instance_<k>``: the k-th of the frame)
_FRAME_LOCAL = re.compile(r"^instance_\d+$")


def _label_root(ds: xr.Dataset) -> Path | None:
    """Return the folder the label rows are relative to (a label file's project)."""
    root = ds.attrs.get("image_root")
    if root and Path(str(root)).is_dir():
        return Path(str(root))
    source = ds.attrs.get("source_file")
    if not source or not isinstance(source, str):
        return None
    parents = Path(source).absolute().parents
    if len(parents) > 2 and parents[1].name == "labeled-data":
        return parents[2]
    return None


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
    image_root: str | os.PathLike | None = None,
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
    image_root
        The folder the rows are relative to (the project). The images are then
        named relative to the NWB file's folder, as NWB requires of external files;
        without it they are named as the rows are, which holds only for an NWB file
        in the project folder (a warning says so when they are not found there).
    **nwbfile_kwargs
        ``NWBFile`` fields and ``subject`` (see :func:`save_nwb`); without
        ``session_start_time`` a warning says that the time of writing is recorded.

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    TypeError
        If a keyword is not an ``NWBFile`` or ``Subject`` field.
    NWBError
        If a name cannot be an NWB name.
    """
    pynwb, ndx_pose = _modules()
    from pynwb.image import ImageSeries

    path = Path(path)
    metadata = _check_metadata(nwbfile_kwargs)
    scorer = str(labels.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    sub = labels[scorer]
    if "individuals" in labels.columns.names:
        individuals = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
    else:
        individuals = [""]
        sub = pd.concat({"": sub}, axis=1)
    rows = index_to_paths(labels.index)
    subject = _subject_fields(metadata.get("subject"))
    # the animal of a single-animal label file has no name to take: asked for too
    _refuse_unnamed_subject(subject, individuals, path, one_named=individuals != [""])
    nwbfile = _new_file(
        pynwb,
        metadata,
        description="labelled frames (DeepLabCut labels)",
        video=None,
        target=path,
        named=str(subject["subject_id"]) if subject else None,
    )
    if subject:
        nwbfile.subject = _make_subject(pynwb, subject)
    if image_root is not None:
        files_of = {r: _relative_to(Path(image_root) / r, path) for r in rows}
    else:
        files_of = {r: r for r in rows}
        if rows and not (path.absolute().parent / rows[0]).is_file():
            logger.warning(
                "%s: the labelled images are named as the label rows (%s, ...), "
                "relative to the project folder: NWB readers find them only if the "
                "file is moved into the project folder (convert the label file "
                "inside its project, or pass image_root=)",
                path.name,
                rows[0],
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
            "external_file": [files_of[f] for f in files],
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
    return _write(pynwb, nwbfile, path)


def _frame_source(frame: Any) -> tuple[str, str | None, int | None]:
    """``(row, file, video frame index)`` of a training frame.

    ``file`` is the image (index ``None``) or the video the frame is taken from, as
    the NWB file names it (``None`` when it names none).
    """
    video = frame.source_video
    index = frame.source_video_frame_index
    if video is None or index is None:
        return f"labeled-data/images/{frame.name}.png", None, None
    files = (
        [str(f) for f in video.external_file[:]]
        if video.external_file is not None
        else []
    )
    index = int(index)
    images = bool(files) and all(f.lower().endswith(_IMAGE_SUFFIXES) for f in files[:2])
    if images and index < len(files):
        return image_row(files[index], video.name), files[index], None
    from ..project import index_length

    n = int(getattr(video, "num_samples", 0) or 0)
    stem = Path(files[0]).stem if files else video.name
    name = f"img{str(index).zfill(index_length(max(n, index + 1)))}.png"
    return f"labeled-data/{stem}/{name}", files[0] if files else None, index


def _natural(name: str) -> list[Any]:
    """Sort key: ``frame_2`` before ``frame_10`` (HDF5 lists names alphabetically)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _subject_names(nwbfile: Any) -> list[str] | None:
    table = getattr(nwbfile, "subjects_table", None)
    if table is None:
        return None
    return [str(s) for s in table["subject_id"][:]]


def _read_training(
    path: Path, scorer: str | None = None
) -> tuple[pd.DataFrame, list[tuple[str | None, int | None]], dict[str, Any]]:
    """Labels, each row's source ``(file, video frame index)``, and facts of the file.

    The facts: ``identities`` (False when the instances have no identity: sleap-io's
    frame-local ``instance_<k>`` without a subjects table), ``skeleton`` (edges).
    """
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
        sources: list[tuple[str | None, int | None]] = []
        records = []
        annotator = None
        edges: list[list[str]] | None = None
        frames = trainings[0].training_frames.training_frames
        for _, frame in sorted(frames.items(), key=lambda item: _natural(item[0])):
            annotator = annotator or frame.annotator
            row, file, index = _frame_source(frame)
            rows.append(row)
            sources.append((file, index))
            for inst in frame.skeleton_instances.skeleton_instances.values():
                nodes = [str(n) for n in inst.skeleton.nodes[:]]
                bodyparts += [n for n in nodes if n not in bodyparts]
                if edges is None and inst.skeleton.edges is not None:
                    edges = [
                        [nodes[a], nodes[b]]
                        for a, b in inst.skeleton.edges[:]
                        if max(a, b) < len(nodes)
                    ]
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
    identities = True
    if multi and not subjects and all(_FRAME_LOCAL.match(n) for n in individuals):
        identities = False
        logger.warning(
            "%s holds no identities (no subjects table; its instances are named "
            "instance_<k>, the k-th instance of each frame): %s are not the same "
            "animal from frame to frame. They are read as unnamed animals: SLEAP "
            "files get untracked instances; as DeepLabCut labels they are fine "
            "(identity: false), as tracks they are not.",
            path.name,
            ", ".join(individuals),
        )
    xy = np.full((len(rows), len(individuals), len(bodyparts), 2), np.nan)
    for i, name, points in records:
        for bp, p in points.items():
            xy[i, individuals.index(name), bodyparts.index(bp)] = p
    scorer = scorer or annotator or "nwb"
    if not multi:
        labels = make_labels_frame(scorer, bodyparts, rows, xy[:, 0])
    else:
        labels = make_labels_frame(scorer, bodyparts, rows, xy, individuals=individuals)
    return labels, sources, {"identities": identities, "skeleton": edges or []}


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
        DLC labels (3-level rows). Rows are ``labeled-data/<video>/<image>``: the
        images named by each frame's source ``ImageSeries`` from their
        ``labeled-data`` folder on (posekit's files; else
        ``labeled-data/<series>/<image name>``), or
        ``labeled-data/<video stem>/img<index>.png`` for a frame of a video
        (SLEAP's). Multi-animal when a frame has several instances: individuals are
        the instance names, or the subjects of an ndx-multisubjects
        ``SubjectsTable``; sleap-io's frame-local ``instance_<k>`` without one are no
        identities (a warning says so). Invisible nodes are NaN.

    Raises
    ------
    ImportError
        Without pynwb/ndx-pose.
    NWBError
        If the file is unreadable or holds no training frames.
    """
    return _read_training(Path(path), scorer)[0]


def _labels_as_poses(path: Path, *, fps: float | None) -> xr.Dataset:
    labels, sources, facts = _read_training(path)
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
    rows = index_to_paths(labels.index)
    ds.attrs["frames"] = rows
    ds.attrs["scorer"] = scorer
    ds.attrs["skeleton"] = facts["skeleton"]
    if not facts["identities"]:
        ds.attrs["identities"] = False
    root = None
    if all(file is not None and index is None for file, index in sources):
        files = [_resolve_external(str(file), path) for file, _ in sources]
        root = image_root(files, rows)
    if root is not None:
        ds.attrs["image_root"] = root
    return ds


def import_nwb(
    nwb_path: str | os.PathLike,
    project_dir: str | os.PathLike,
    *,
    scorer: str | None = None,
    task: str | None = None,
    video_path: str | os.PathLike | None = None,
) -> Any:
    """Turn the labelled frames of an NWB file (``PoseTraining``) into a project.

    The project gets ``config.yaml`` (bodyparts and skeleton from the file's
    ``Skeleton``; a multi-animal project when a frame has several instances), the
    labelled images in ``labeled-data/<video>/`` (copied from the external image
    files the NWB file names, relative to it; frames of a video are read from the
    video and written as DeepLabCut names them, ``img<index>.png``) and
    ``CollectedData_<scorer>.h5``/``.csv``. Everything is checked first and the
    project is built in a temporary folder moved into place at the end.

    Parameters
    ----------
    nwb_path
        The ``.nwb`` file (posekit's, DANDI's, sleap-io's annotations).
    project_dir
        The new project folder (absent or empty).
    scorer
        The labeller; default the frames' ``annotator``, else ``"nwb"``.
    task
        The project's ``Task``; default the file's stem.
    video_path
        The video of frames taken from a video, when the file's path to it is gone.

    Returns
    -------
    posekit.engine.project.Project
        The new project.

    Raises
    ------
    NWBError
        If the file holds no training frames.
    FileNotFoundError
        If an image or the video is not found.
    FileExistsError
        If ``project_dir`` holds files.
    """
    import shutil
    import tempfile

    import cv2

    from ..video import VideoReader
    from ._project_import import build_project

    nwb_path = Path(nwb_path)
    labels, sources, facts = _read_training(nwb_path, scorer)
    rows = index_to_paths(labels.index)
    dup = sorted({r for r in rows if rows.count(r) > 1})
    if dup:
        raise NWBError(f"{nwb_path}: several frames map to the same image {dup[:3]}")
    images: list[Path | None] = []
    from_video: dict[str, list[int]] = {}
    missing = []
    for i, (file, index) in enumerate(sources):
        if index is None:
            found = Path(_resolve_external(file, nwb_path)) if file else None
            if found is None or not found.is_file():
                missing.append(file or rows[i])
            images.append(found)
        else:
            from_video.setdefault(str(video_path or file), []).append(i)
            images.append(None)
    if missing:
        raise FileNotFoundError(
            f"{nwb_path}: {len(missing)} labelled image(s) not found (names are "
            f"relative to the NWB file's folder), e.g. {missing[:3]}"
        )
    videos = {}
    for name in from_video:
        found = Path(_resolve_external(name, nwb_path)) if name != "None" else None
        if found is None or not found.is_file():
            raise FileNotFoundError(
                f"{nwb_path} takes labelled frames from the video {name!r}, which is "
                "not found (relative to the NWB file's folder); pass video_path= "
                "(posekit import --video)"
            )
        videos[name] = found
    individuals = (
        list(dict.fromkeys(labels.columns.get_level_values("individuals")))
        if "individuals" in labels.columns.names
        else None
    )
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    with tempfile.TemporaryDirectory() as tmp:
        for name, indices in from_video.items():
            with VideoReader(videos[name]) as reader:
                for i in indices:
                    out = Path(tmp) / f"{i}.png"
                    frame = reader.read(int(sources[i][1]))
                    if not cv2.imwrite(
                        str(out), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                    ):
                        raise OSError(f"could not write a frame to {out}")
                    images[i] = out
        project = build_project(
            project_dir,
            task=task or re.sub(r"[^A-Za-z0-9_]+", "_", nwb_path.stem) or "nwb",
            labels=labels,
            sources=[Path(p) for p in images],
            bodyparts=bodyparts,
            skeleton=facts["skeleton"],
            individuals=individuals,
            copy_image=shutil.copy2,
        )
    for video in videos.values():
        project.add_videos([video])
    if videos:
        project.save()
    return project
