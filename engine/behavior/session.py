"""A behaviour study: sessions, cleaning, calibration, ROIs, behaviour, results.

It covers the tracking sessions, their cleaning and calibration, ROIs, marked and
predicted behaviour, and the result tables and figures.

:class:`BehaviorModel` holds the state of one analysis and does the work of the
behaviour app (``notebooks/behavior.ipynb``, :mod:`posekit.widgets.behavior_app`) and
of scripts, with file paths in and tables or files out::

    m = BehaviorModel(output_dir="results")
    m.load_path("videos/", "*.h5")            # a file, a folder or a sessions table
    m.set_cleaning(method="median", confidence_threshold=0.6, max_gap=5)
    m.set_calibration(fps=30, mm_per_px=0.2)
    m.load_rois("rois.geojson")
    m.kinematics_table(), m.roi_table()       # DataFrames
    m.load_labels("session1", "session1_behavior.csv")
    m.train(); m.predict()
    m.export()                                # CSV, Excel, PNG/SVG, ROIs, settings

ROIs are drawn in image pixels, so ROI events are computed on the cleaned poses in
pixels (with the frame rate); kinematics and features use the calibrated poses (mm
when a scale is set).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from . import tables as _tables
from ._utils import (
    UNIQUE_BODYPARTS,
    file_frames,
    frame_seconds,
    position_of,
    resolve_fps,
    space_unit,
)
from .calibration import Calibration
from .filters import FilterConfig
from .roi import ROI, ROI_MAX_GAP

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import DTypeLike

    from ..project import Project
    from .classify import BehaviorClassifier, BehaviorCVResult
    from .cluster import BehaviorClusterer

__all__ = [
    "BehaviorModel",
    "Session",
    "Track",
    "TRACKING_SUFFIXES",
    "default_input",
    "find_tracking_files",
    "read_sessions_table",
]

logger = logging.getLogger("posekit.engine.behavior.session")

#: Suffixes of the tracking files a folder is searched for.
TRACKING_SUFFIXES = (".h5", ".csv", ".slp", ".nc")

#: Feature values (frames × features) that :meth:`BehaviorModel.cluster` fits the
#: motifs on at most: 10 M, 80 MB as float64 (2,710 frames of the 3,689 features
#: of 30 bodyparts; up to 500 features, ``max_frames``' 20,000 frames bind first).
#: The fit holds a few copies of its sample: an hour of 30 bodyparts peaks at
#: 0.8 GB with 10 M, 1.2 GB with 20 M (``benchmarks/behavior_memory.py``).
CLUSTER_SAMPLE_VALUES = 10_000_000

#: The movement, ROI and social numbers of an animal rest on few frames when its point
#: (the centroid, or the chosen keypoint) is known in fewer than this share of its
#: frames: :meth:`BehaviorModel.coverage_warning` says so (the app above its tables
#: and on the rows, the command line on stderr).
FEW_FRAMES_FRACTION = 0.9

#: Gap filling the coverage warning offers (frames; the tutorial's).
SUGGESTED_MAX_GAP = 10

Progress = Callable[[int, int, str], None]


# ---------------------------------------------------------------- data classes


@dataclass(frozen=True)
class _FeaturePlan:
    """How a step takes a track's features (:meth:`BehaviorModel.iter_features`).

    ``keypoints``: computed from these bodyparts, in this order (``None``: the
    session's own); ``columns``: then these columns (``None``: all).
    """

    keypoints: list[str] | None = None
    columns: list[str] | None = None


@dataclass(frozen=True)
class Track:
    """One animal in one session: the unit that is annotated and classified."""

    key: str
    session: str
    individual: str


@dataclass
class Session:
    """One loaded tracking file.

    Attributes
    ----------
    name
        Unique name (the file's stem, numbered if repeated).
    path
        The file (``None`` for a Dataset added directly).
    group
        Experimental group (free text; used by the group summary).
    poses
        The poses as loaded (movement-schema Dataset, pixels).
    video
        The video it belongs to, if found.
    fps
        The session's own frame rate: its file's (``attrs["fps"]`` or a time
        coordinate in seconds), else its video's (``None``: unknown).
    fps_source
        Where ``fps`` comes from: ``"file"``, ``"video"`` or ``""`` (unknown).
    """

    name: str
    path: Path | None
    group: str
    poses: xr.Dataset = field(repr=False)
    video: Path | None = None
    fps: float | None = None
    fps_source: str = ""

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.poses.sizes["time"])

    @property
    def frames(self) -> np.ndarray:
        """The file's own frame numbers, one per time step (``int64``).

        From the poses' ``time`` coordinate
        (:func:`~posekit.engine.behavior._utils.file_frames`): a trimmed analysis
        starting at frame 1000 gives 1000, 1001, …; counted from 0 otherwise.
        """
        return file_frames(self.poses)

    @property
    def individuals(self) -> list[str]:
        """Individual names."""
        return [str(i) for i in self.poses["individual"].values]

    @property
    def animals(self) -> list[str]:
        """The individuals that are animals.

        A multi-animal DeepLabCut file keeps its unique bodyparts (objects such as
        food or a feeder) under an individual called ``single``: it is left out of
        the tracks and of the per-animal tables (kinematics, ROIs, social).
        """
        names = self.individuals
        animals = [i for i in names if i != UNIQUE_BODYPARTS]
        return animals if animals else names

    @property
    def keypoints(self) -> list[str]:
        """Keypoint names."""
        return [str(k) for k in self.poses["keypoint"].values]

    def tracks(self) -> list[Track]:
        """Return one track per individual.

        The key is the session name, plus ``/individual`` when the session has
        several animals. The ``single`` individual of unique bodyparts is not a
        track (:attr:`animals`).
        """
        animals = self.animals
        many = len(animals) > 1
        return [
            Track(f"{self.name}/{ind}" if many else self.name, self.name, ind)
            for ind in animals
        ]


# ---------------------------------------------------------------- discovery


def default_input(project: Project | None) -> Path | None:
    """Return the file to open first for a project.

    That is its newest predictions, else the demo's ground truth
    (``ground-truth/*_keypoints.h5``).

    Parameters
    ----------
    project
        The project (``None``: no default).

    Returns
    -------
    Path or None
        ``None`` if there is no such file.
    """
    if project is None:
        return None
    from ..postprocessing import prediction_files

    files = prediction_files(project)
    return files[0] if files else None


def find_tracking_files(folder: str | os.PathLike, pattern: str = "*.h5") -> list[Path]:
    """Tracking files (:data:`TRACKING_SUFFIXES`) in ``folder`` matching ``pattern``.

    Parameters
    ----------
    folder
        The folder (not searched recursively unless ``pattern`` says so).
    pattern
        Glob pattern (empty: every file).

    Returns
    -------
    list of Path
        Sorted. DeepLabCut prediction files count once per video
        (:func:`one_per_video`): a folder of analyses holds the raw and the filtered
        predictions of each video, often of several networks, and each would
        otherwise be an animal of its own.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}")
    return one_per_video(
        sorted(
            p
            for p in folder.glob(pattern or "*")
            if p.is_file() and p.suffix.lower() in TRACKING_SUFFIXES
        )  # fmt: skip
    )


def one_per_video(files: Sequence[Path]) -> list[Path]:
    """Keep one DeepLabCut predictions file per video; other files as they are.

    ``<video>DLC_<scorer>[_filtered].h5`` (and ``.csv``) files are grouped by video:
    the newest network's file is kept, its ``_filtered`` version when there is one.
    "Newest" is as :func:`posekit.engine.postprocessing.find_predictions` orders
    them (:func:`~posekit.engine.postprocessing.model_order`): the model's
    iteration, then its training iterations; then the ``.h5`` over the ``.csv``,
    and the file time only between files of one model (a copy gives every file the
    same time). A file's companions (``_meta``, ``_skeleton``, …) and the
    predictions of labelled-video outputs are left out. What is left out is logged.

    Parameters
    ----------
    files
        Tracking files.

    Returns
    -------
    list of Path
        In the order of ``files``.

    Examples
    --------
    >>> one_per_video([Path("m1DLC_x_100_skeleton.h5"), Path("m2.slp")])
    [PosixPath('m2.slp')]
    """
    from ..postprocessing import FILTERED_SUFFIX, NOT_PREDICTIONS, _newest_model_last

    by_video: dict[tuple[Path, str], list[Path]] = {}
    dropped: list[Path] = []
    for path in files:
        stem, dlc, rest = path.stem.partition("DLC_")
        if not dlc or not stem:
            continue
        if rest.endswith(NOT_PREDICTIONS) or "_labeled" in rest:
            dropped.append(path)
            continue
        by_video.setdefault((path.parent, stem), []).append(path)

    def rank(path: Path) -> tuple[Any, ...]:
        # the newest model (find_predictions' order), the .h5 over its .csv, then
        # the file time and the name
        iteration, iters, *rest = _newest_model_last(path)
        return iteration, iters, path.suffix.lower() == ".h5", *rest

    for group in by_video.values():
        raw = [p for p in group if not p.stem.endswith(FILTERED_SUFFIX)]
        newest = max(raw or group, key=rank)
        base = newest.stem.removesuffix(FILTERED_SUFFIX)
        filtered = [p for p in group if p.stem == base + FILTERED_SUFFIX]
        keep = max(filtered, key=rank) if filtered else newest
        dropped.extend(p for p in group if p != keep)
    if dropped:
        logger.info(
            "one predictions file per video (the newest network's, filtered if "
            "filtered); left out: %s",
            ", ".join(p.name for p in dropped),
        )
    gone = set(dropped)
    return [p for p in files if p not in gone]


def read_sessions_table(
    path: str | os.PathLike,
) -> tuple[list[Path], list[str] | None] | None:
    """Read the files and groups of a sessions table.

    A sessions table is a ``.csv`` with a ``file`` (or ``path``) column and optionally
    ``group``; relative paths are relative to the table.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    tuple or None
        ``(files, groups)`` (``groups`` is ``None`` without a ``group`` column), or
        ``None`` when the file is not a sessions table (e.g. a DLC ``.csv``).
    """
    path = Path(path)
    head = pd.read_csv(path, nrows=0)
    col = next((c for c in ("file", "path") if c in head.columns), None)
    if col is None:
        return None
    table = pd.read_csv(path, dtype=str).fillna("")
    files = [Path(p) if Path(p).is_absolute() else path.parent / p for p in table[col]]
    groups = table["group"].tolist() if "group" in table else None
    return files, groups


def _check_not_empty(poses: xr.Dataset, what: str) -> None:
    """Raise when ``poses`` (of file or session ``what``) has no frame."""
    if int(poses.sizes.get("time", 0)) == 0:
        raise ValueError(f"{what} has 0 frames: there is nothing to analyse")


def _own_fps(poses: xr.Dataset, video: Path | None) -> tuple[float | None, str]:
    """Return the frame rate of a tracking file and where it comes from.

    The file's (``attrs["fps"]`` or a time coordinate in seconds), else its video's;
    ``(None, "")`` when neither says.
    """
    fps = resolve_fps(poses, None)
    if fps:
        return float(fps), "file"
    if video is not None:
        try:
            from ..video import VideoReader

            with VideoReader(video) as reader:  # closed again: one per session
                rate = float(reader.fps)
        except Exception:  # noqa: BLE001 - unreadable video: no fps
            rate = 0.0
        if rate > 0 and math.isfinite(rate):
            return rate, "video"
    return None, ""


def _warn_variable_frame_rate(name: str, poses: xr.Dataset, fps: float | None) -> None:
    """Say once that a session's frame rate varies, and which numbers use it.

    Poses with each frame's time (``frame_time``, a variable-frame-rate video) get
    their speeds, accelerations and turning rates over those times; a frame's time
    in seconds, bout times and durations stay frame / fps, which is approximate.
    """
    seconds = frame_seconds(poses)
    if seconds is None:
        return
    span = seconds[-1] - seconds[0]
    mean = (len(seconds) - 1) / span if span > 0 else math.nan
    logger.warning(
        "%s has a variable frame rate (%.3f frames/s on average%s): speeds, "
        "accelerations and turning rates use each frame's recorded time "
        "(frame_time); times in seconds, bout and dwell durations are frame / fps "
        "and so approximate (the frame numbers are exact)",
        name,
        mean,
        f", {fps:g} fps used" if fps else "",
    )


def _unique_name(stem: str, taken: set[str]) -> str:
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name


# ---------------------------------------------------------------- model


class BehaviorModel:
    """State and computations of a behaviour analysis (no widgets).

    Parameters
    ----------
    project
        The project (gives the videos and the output folder).
    output_dir
        Where :meth:`export` writes (default ``<project>/behavior-results``, or
        ``./behavior-results`` without a project).
    windows
        Window lengths (frames) of the classification features
        (:func:`~posekit.engine.behavior.features.compute_window_features`).

    Attributes
    ----------
    sessions : list of Session
        The loaded files.
    filter_config : FilterConfig
        The cleaning pipeline.
    calibration : Calibration
        Pixel size, and a frame rate that overrides every session's own
        (``fps=None``: each session uses its own, :meth:`session_fps`).
    keypoint : str or None
        Keypoint used for ROIs, distance and speed (``None``: the centroid).
    rois : list of ROI
        The regions of interest.
    annotations : dict
        Track key → per-frame labels marked by the user (``background`` elsewhere).
    predictions : dict
        Track key → predicted per-frame labels (behaviours or motifs).
    probabilities : dict
        Track key → the classifier's ``(frames, behaviours)`` probabilities
        (:meth:`~posekit.engine.behavior.classify.BehaviorClassifier.behavior_proba`,
        columns in the order of ``classifier.classes_``) from :meth:`predict`.
    chunk_frames : int or None
        Frames per chunk of features in :meth:`train`, :meth:`predict`,
        :meth:`cluster` and :meth:`iter_features_table`'s default (``None``: about
        :data:`~posekit.engine.behavior.features.FEATURE_CHUNK_VALUES` values).
    background : str
        Label of frames without a behaviour.
    """

    def __init__(
        self,
        project: Project | str | os.PathLike | None = None,
        *,
        output_dir: str | os.PathLike | None = None,
        windows: Sequence[int] = (5, 15, 45),
    ) -> None:
        if project is not None:
            from ..project import as_project

            project = as_project(project)
        self.project = project
        if output_dir is None:
            base = Path(project.path) if project is not None else Path.cwd()
            output_dir = base / "behavior-results"
        self.output_dir = Path(output_dir)
        self.windows = tuple(int(w) for w in windows)
        self.sessions: list[Session] = []
        self.filter_config = FilterConfig(method="none")
        self.calibration = Calibration()
        self.keypoint: str | None = None
        #: Several animals: contact distance (``None``: their median body length, in
        #: calibrated units), its release and merged gaps, approach start and window,
        #: following (:mod:`.social`; :meth:`set_social`).
        self.social: dict[str, Any] = _social_settings()
        self.rois: list[ROI] = []
        #: Longest gap in the tracking (frames) an ROI visit goes on across
        #: (:func:`~posekit.engine.behavior.roi.roi_bouts`; ``None``: any gap).
        self.roi_max_gap: int | None = ROI_MAX_GAP
        self.background = "none"
        self.annotations: dict[str, np.ndarray] = {}
        self.predictions: dict[str, np.ndarray] = {}
        self.probabilities: dict[str, np.ndarray] = {}
        self.prediction_kind = ""
        self.chunk_frames: int | None = None
        #: Frames the last :meth:`cluster` fitted the motifs on.
        self.cluster_sample_frames = 0
        #: Features the last :meth:`train` left out: not in every marked track's
        #: session (e.g. the social ones, with sessions of one and of two animals).
        self.train_dropped_features: list[str] = []
        #: Features the last :meth:`cluster` left out: not in every session.
        self.cluster_dropped_features: list[str] = []
        self.classifier: BehaviorClassifier | None = None
        #: Sessions already named by the features' per-frame warning.
        self._warned_per_frame: set[str] = set()
        self.cv_result: BehaviorCVResult | None = None
        self.clusterer: BehaviorClusterer | None = None
        self.motif_table: pd.DataFrame | None = None
        self.load_errors: list[str] = []
        #: Files the last :meth:`load` could not load: ``file``, ``group``,
        #: ``reason`` (written to ``sessions.csv`` and ``settings.json``).
        self.load_failures: list[dict[str, str]] = []
        self._cache: dict[tuple[str, str], Any] = {}
        self._warned: set[str] = set()

    # ------------------------------------------------------------ loading
    def session(self, name: str) -> Session:
        """Return the session called ``name``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for s in self.sessions:
            if s.name == name:
                return s
        raise KeyError(
            f"no session {name!r}; loaded: {[s.name for s in self.sessions]}"
        )

    def load(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        groups: Sequence[str] | str | None = None,
        *,
        replace: bool = True,
        progress: Progress | None = None,
    ) -> list[Session]:
        """Load tracking files (anything :func:`posekit.engine.io.load_poses` reads).

        Parameters
        ----------
        paths
            One file or several.
        groups
            The group of each file (or one group for all; default ``""``).
        replace
            Drop the sessions loaded before.
        progress
            Called as ``progress(done, total, name)`` after each file.

        Returns
        -------
        list of Session
            The sessions loaded now, each with its own frame rate (its file's, else
            its video's; :attr:`Session.fps`). Files that fail (unreadable, or with
            no frame) are skipped, described in :attr:`load_errors` and recorded in
            :attr:`load_failures`.

        Raises
        ------
        ValueError
            If no file could be loaded (the message lists why).
        """
        from ..io import load_poses
        from ..project import find_video

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        paths = [Path(p) for p in paths]
        if not paths:
            raise ValueError("no tracking file to load: give a file or a folder")
        if groups is None or isinstance(groups, str):
            groups = [groups or ""] * len(paths)
        if len(groups) != len(paths):
            raise ValueError(f"{len(paths)} files but {len(groups)} groups")
        kept = [] if replace else list(self.sessions)
        taken = {s.name for s in kept}
        loaded: list[Session] = []
        self.load_errors = []
        self.load_failures = []
        for i, (path, group) in enumerate(zip(paths, groups, strict=True)):
            try:
                poses = load_poses(path)
                _check_not_empty(poses, path.name)
                video = find_video(path, self.project)
                fps, source = _own_fps(poses, video)
                name = _unique_name(path.stem, taken)
                taken.add(name)
                _warn_variable_frame_rate(name, poses, fps)
                loaded.append(
                    Session(name, path, str(group or ""), poses, video, fps, source)
                )
            except Exception as err:  # noqa: BLE001 - reported, the batch goes on
                reason = f"{type(err).__name__}: {err}"
                self.load_errors.append(f"{path.name}: {reason}")
                self.load_failures.append(
                    {"file": str(path), "group": str(group or ""), "reason": reason}
                )
                logger.warning("cannot load %s: %s", path, err)
            if progress is not None:
                progress(i + 1, len(paths), path.name)
        if not loaded:
            raise ValueError("no file could be loaded:\n" + "\n".join(self.load_errors))
        self.sessions = kept + loaded
        self._invalidate()
        self._warn_override()
        self.annotations = {
            k: v for k, v in self.annotations.items() if k in self.track_keys()
        }
        self.predictions = {}
        self.prediction_kind = ""
        return loaded

    def add_dataset(
        self, poses: xr.Dataset, name: str = "session", group: str = ""
    ) -> Session:
        """Add a poses Dataset directly (no file).

        Parameters
        ----------
        poses
            Movement-schema poses (pixels).
        name
            Session name (numbered if taken).
        group
            Experimental group.

        Returns
        -------
        Session
            The new session, with the poses' frame rate as its own.

        Raises
        ------
        ValueError
            If the poses have no frame.
        """
        from ..poses import validate

        poses = validate(poses)
        _check_not_empty(poses, name)
        name = _unique_name(name, {s.name for s in self.sessions})
        fps, source = _own_fps(poses, None)
        _warn_variable_frame_rate(name, poses, fps)
        session = Session(name, None, group, poses, None, fps, source)
        self.sessions.append(session)
        self._invalidate()
        self._warn_override()
        return session

    # ------------------------------------------------------------ frame rates
    def session_fps(self, name: str) -> float | None:
        """Return the frame rate used for session ``name``.

        The model's :attr:`calibration` ``fps`` when set (it overrides every
        session's), else the session's own (:attr:`Session.fps`).

        Raises
        ------
        KeyError
            If there is no such session.
        ValueError
            If some sessions have a frame rate and others do not, and no rate is set
            for all (:meth:`check_rates`).
        """
        session = self.session(name)
        if self.calibration.fps:
            return self.calibration.fps
        self.check_rates()
        return session.fps

    def check_rates(self) -> None:
        """Refuse to mix sessions with and without a frame rate.

        Their tables would mix units (per second and per frame).

        Raises
        ------
        ValueError
            If some sessions have a frame rate and others do not, and the
            calibration sets none for all.
        """
        if self.calibration.fps:
            return
        known = [s for s in self.sessions if s.fps]
        unknown = [s.name for s in self.sessions if not s.fps]
        if known and unknown:
            rates = ", ".join(f"{s.name} ({s.fps:g} fps)" for s in known[:5])
            raise ValueError(
                f"{len(unknown)} session(s) have no frame rate ({', '.join(unknown[:5])}"
                f"{' …' if len(unknown) > 5 else ''}) while others have one ({rates}"
                f"{' …' if len(known) > 5 else ''}): their tables would mix units "
                "(per frame and per second). Give one rate for all with --fps "
                "(set_calibration(fps=...)), or analyse them separately"
            )

    def _warn_override(self) -> None:
        """Log the sessions whose own frame rate the calibration's ``fps`` replaces."""
        fps = self.calibration.fps
        if not fps:
            return
        differ = [
            s for s in self.sessions if s.fps and not math.isclose(s.fps, fps)
        ]  # fmt: skip
        if differ:
            logger.warning(
                "fps=%g is used for every session; it overrides the frame rate of "
                "%d session(s): %s",
                fps,
                len(differ),
                ", ".join(f"{s.name} ({s.fps:g} fps, {s.fps_source})" for s in differ),
            )

    @staticmethod
    def find_files(folder: str | os.PathLike, pattern: str = "*.h5") -> list[Path]:
        """Return the tracking files in ``folder`` matching ``pattern`` (sorted).

        See :func:`find_tracking_files`.

        Raises
        ------
        FileNotFoundError
            If the folder does not exist.
        """
        return find_tracking_files(folder, pattern)

    def load_path(
        self,
        path: str | os.PathLike,
        pattern: str = "*.h5",
        *,
        progress: Progress | None = None,
    ) -> list[Session]:
        """Load a tracking file, every matching file of a folder, or a sessions table.

        A sessions table is read with :func:`read_sessions_table`.

        Parameters
        ----------
        path
            File, folder or sessions table.
        pattern
            Glob pattern of the files in a folder.
        progress
            As for :meth:`load`.

        Returns
        -------
        list of Session
            The sessions loaded now.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the folder has no matching file or nothing loads.
        """
        path = Path(str(path).strip()).expanduser()
        if path.is_dir():
            files = find_tracking_files(path, pattern)
            if not files:
                raise ValueError(f"no tracking file matching {pattern!r} in {path}")
            return self.load(files, progress=progress)
        if not path.is_file():
            raise FileNotFoundError(f"No file or folder at {path}")
        if path.suffix.lower() == ".csv":
            table = read_sessions_table(path)
            if table is not None:
                files, groups = table
                return self.load(files, groups, progress=progress)
        return self.load([path], progress=progress)

    def set_group(self, name: str, group: str) -> None:
        """Set the group of session ``name``."""
        self.session(name).group = str(group)

    def _fps_used(self, session: Session) -> tuple[float | None, str]:
        """Return the frame rate used for ``session`` and where it comes from.

        Never raises, unlike :meth:`session_fps`.
        """
        if self.calibration.fps:
            return self.calibration.fps, "set for all"
        return session.fps, session.fps_source

    def sessions_table(self) -> pd.DataFrame:
        """Return one row per session, then one per file that could not be loaded.

        Columns: session, group, file, frames, first_frame (the file's frame
        number of the first frame), fps (the frame rate used), fps_source
        (``file``, ``video``, ``set for all`` or empty when unknown), individuals,
        keypoints, video, error (why a file was not loaded; empty for sessions).
        """
        columns = [
            "session",
            "group",
            "file",
            "frames",
            "first_frame",
            "fps",
            "fps_source",
            "individuals",
            "keypoints",
            "video",
            "error",
        ]
        rows: list[dict[str, Any]] = []
        for s in self.sessions:
            fps, source = self._fps_used(s)
            rows.append(
                {
                    "session": s.name,
                    "group": s.group,
                    "file": str(s.path) if s.path else "",
                    "frames": s.n_frames,
                    "first_frame": int(s.frames[0]),
                    "fps": fps if fps else math.nan,
                    "fps_source": source,
                    "individuals": ", ".join(s.individuals),
                    "keypoints": len(s.keypoints),
                    "video": str(s.video) if s.video else "",
                    "error": "",
                }
            )
        for failure in self.load_failures:
            rows.append(
                {
                    **dict.fromkeys(columns, ""),
                    "frames": pd.NA,
                    "first_frame": pd.NA,
                    "fps": math.nan,
                    "group": failure["group"],
                    "file": failure["file"],
                    "error": failure["reason"],
                }
            )
        table = pd.DataFrame(rows, columns=columns)
        for col in ("frames", "first_frame", "keypoints"):
            table[col] = pd.to_numeric(table[col]).astype("Int64")
        return table

    # ------------------------------------------------------------ tracks
    def tracks(self) -> list[Track]:
        """Every (session, individual) (:meth:`Session.tracks`)."""
        return [t for s in self.sessions for t in s.tracks()]

    def track_keys(self) -> list[str]:
        """Keys of :meth:`tracks`."""
        return [t.key for t in self.tracks()]

    def track(self, key: str) -> Track:
        """Return the track with ``key``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for t in self.tracks():
            if t.key == key:
                return t
        raise KeyError(f"no track {key!r}; tracks: {self.track_keys()}")

    # ------------------------------------------------------------ settings
    def set_cleaning(
        self, config: FilterConfig | None = None, **params: Any
    ) -> FilterConfig:
        """Set the cleaning pipeline (a :class:`FilterConfig`, or its fields).

        Raises
        ------
        ValueError
            If a parameter is invalid.
        """
        if config is None:
            config = FilterConfig(**params)
        elif params:
            raise ValueError("pass either a FilterConfig or its fields, not both")
        self.filter_config = config
        self._invalidate()
        return config

    def set_calibration(
        self, fps: float | None = None, mm_per_px: float | None = None
    ) -> Calibration:
        """Set the frame rate and pixel size (``None`` or 0: own rates / stay in pixels).

        A frame rate given here overrides every session's own
        (:meth:`session_fps`); a warning names the sessions whose own rate differs.
        ``fps=None`` lets each session use its own.

        Raises
        ------
        ValueError
            If a value is negative or not a number.
        """
        self.calibration = Calibration(mm_per_px=mm_per_px or None, fps=fps or None)
        self._invalidate()
        self._warn_override()
        return self.calibration

    def set_keypoint(self, keypoint: str | None) -> None:
        """Keypoint for ROIs, distance and speed (``None`` or ``""``: the centroid)."""
        self.keypoint = keypoint or None
        self._invalidate()

    def set_social(
        self,
        contact_distance: float | None = None,
        approach_from: float | None = None,
        window: int = 30,
        *,
        release_distance: float | None = None,
        merge_gap: int | None = None,
        follow_distance: float | None = None,
        follow_min_speed: float | None = None,
        follow_max_angle: float | None = None,
        follow_min_frames: int | None = None,
        follow_merge_gap: int | None = None,
    ) -> None:
        """Set what contact, approach and following mean for several animals.

        Every setting not given takes its default (those of
        :func:`~posekit.engine.behavior.social.social_summary`).

        Parameters
        ----------
        contact_distance
            Animals closer than this are in contact (calibrated units: mm with a
            scale, else pixels); ``None``: their median body length.
        approach_from
            An approach starts this far (default: twice the contact distance).
        window
            An approach takes at most this many frames.
        release_distance, merge_gap
            A contact ends when the pair is farther than ``release_distance``
            (default 1.1 × the contact distance) or unseen for more than
            ``merge_gap`` frames (default 5).
        follow_distance, follow_min_speed, follow_max_angle, follow_min_frames, \
follow_merge_gap
            Following bouts (:func:`~posekit.engine.behavior.social.following_bouts`).
        """
        self.social = _social_settings(
            contact_distance=contact_distance,
            approach_from=approach_from,
            window=window,
            release_distance=release_distance,
            merge_gap=merge_gap,
            follow_distance=follow_distance,
            follow_min_speed=follow_min_speed,
            follow_max_angle=follow_max_angle,
            follow_min_frames=follow_min_frames,
            follow_merge_gap=follow_merge_gap,
        )

    def set_rois(self, rois: Iterable[ROI]) -> None:
        """Replace the ROIs."""
        self.rois = list(rois)
        for key in [k for k in self._cache if k[0] == "occupancy"]:
            del self._cache[key]

    def load_rois(self, path: str | os.PathLike) -> list[ROI]:
        """Replace the ROIs by those of a GeoJSON file.

        The file is read with :func:`~posekit.engine.behavior.roi.load_rois`.

        Returns
        -------
        list of ROI
            The loaded ROIs.
        """
        from .roi import load_rois

        self.set_rois(load_rois(path))
        return list(self.rois)

    def _invalidate(self) -> None:
        self._cache.clear()
        self._warned.clear()

    def _cached(self, kind: str, name: str, make: Callable[[], Any]) -> Any:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # ------------------------------------------------------------ processing
    def cleaned(self, name: str) -> xr.Dataset:
        """Session ``name`` after cleaning, in pixels, with its frame rate applied.

        The rate (:meth:`session_fps`) is applied first, so filters given in Hz use
        it; the times keep the file's frame numbers.
        """
        from .filters import filter_poses

        def make() -> xr.Dataset:
            ds = self.session(name).poses
            fps = self.session_fps(name)
            if fps:
                ds = Calibration(fps=fps).apply(ds)
            return filter_poses(ds, config=self.filter_config)

        return self._cached("cleaned", name, make)

    def calibrated(self, name: str) -> xr.Dataset:
        """:meth:`cleaned` in millimetres (when a pixel size is set)."""

        def make() -> xr.Dataset:
            ds = self.cleaned(name)
            if self.calibration.mm_per_px:
                ds = Calibration(mm_per_px=self.calibration.mm_per_px).apply(ds)
            return ds

        return self._cached("calibrated", name, make)

    def point(self, name: str, *, calibrated: bool = True) -> xr.DataArray:
        """Return the position of the chosen keypoint (or the centroid).

        Dims ``time, space, individual``. The centroid
        (:func:`~posekit.engine.behavior.kinematics.compute_centroid`) places the
        keypoints missing in a frame (after cleaning) from those seen there, so it
        neither jumps nor disappears when one drops out; it is missing only where
        no keypoint is seen. The frames where the point is missing are left out of
        every measure (:meth:`coverage_table`; a warning is logged when they are
        many, :meth:`coverage_warning`).

        Raises
        ------
        ValueError
            If the session lacks the chosen keypoint.
        """
        from .kinematics import compute_centroid

        def make() -> xr.DataArray:
            ds = self.calibrated(name) if calibrated else self.cleaned(name)
            pos = ds["position"]
            mm_per_px = self.calibration.mm_per_px
            if calibrated and mm_per_px:  # the point in pixels, scaled: once
                px = self.point(name, calibrated=False)
                scaled = px * mm_per_px
                scaled.attrs = {**px.attrs, **pos.attrs}
                if "units" in px.attrs:
                    scaled.attrs["units"] = pos.attrs.get("space_unit", "mm")
                return scaled
            if self.keypoint is None:
                out = compute_centroid(pos)
            else:
                if self.keypoint not in [str(k) for k in pos["keypoint"].values]:
                    raise ValueError(
                        f"session {name!r} has no keypoint {self.keypoint!r}"
                    )
                out = pos.sel(keypoint=self.keypoint, drop=True)
            out.attrs = {**pos.attrs, **out.attrs}
            return out

        out = self._cached("point" if calibrated else "point_px", name, make)
        self._log_coverage(name)
        return out

    def centroid_gaps(self, name: str) -> dict[str, int]:
        """Count the frames whose centroid places keypoints that are missing there.

        Per individual of session ``name``: the frames where some, but not all, of
        its keypoints are missing after cleaning (likelihood cut-off, gap filling,
        smoothing). The centroid places them from the keypoints seen in the frame
        (:func:`~posekit.engine.behavior.kinematics.compute_centroid`).

        Returns
        -------
        dict
            Individual → number of frames.
        """
        pos = self.cleaned(name)["position"]
        missing = pos.isnull().any("space")
        some = missing.any("keypoint") & ~missing.all("keypoint")
        counts = some.sum("time")
        return {str(i): int(counts.sel(individual=i)) for i in pos["individual"].values}

    def coverage_table(self) -> pd.DataFrame:
        """How many frames the measures of each animal come from.

        Distance, speeds, ROI times and social measures use only the frames where
        the point (the centroid, or the chosen keypoint) is known after cleaning.

        Returns
        -------
        pandas.DataFrame
            One row per session and animal: ``session``, ``individual``, ``point``
            (``"centroid"`` or the keypoint), ``frames``, ``frames_used`` (the
            point known), ``fraction``, ``few_frames`` (``fraction`` below
            :data:`FEW_FRAMES_FRACTION`), ``better_point`` and
            ``better_fraction``: the point known in the most frames, when it is
            not the one used (the centroid, known wherever a keypoint is, or the
            keypoint seen most), else empty and NaN.
        """
        rows = []
        for s in self.sessions:
            point = self.point(s.name, calibrated=False)
            keypoints = self.cleaned(s.name)["position"].notnull().all("space")
            for ind in s.animals:
                known = np.isfinite(point.sel(individual=ind).values).all(axis=-1)
                seen = keypoints.sel(individual=ind)
                n = int(known.size)
                fraction = float(known.mean()) if n else 0.0
                # the centroid is known wherever a keypoint is seen
                options = {"centroid": float(seen.any("keypoint").mean())} if n else {}
                per_keypoint = seen.mean("time") if n else None
                if per_keypoint is not None:
                    for k, v in zip(
                        seen["keypoint"].values, per_keypoint.values, strict=True
                    ):
                        options[str(k)] = float(v)
                used = self.keypoint or "centroid"
                best = max(options, key=lambda k: options[k], default=used)
                better = best != used and options[best] > fraction
                rows.append(
                    {
                        "session": s.name,
                        "individual": ind,
                        "point": used,
                        "frames": n,
                        "frames_used": int(known.sum()),
                        "fraction": fraction,
                        "few_frames": fraction < FEW_FRAMES_FRACTION,
                        "better_point": best if better else "",
                        "better_fraction": options[best] if better else math.nan,
                    }
                )
        columns = ["session", "individual", "point", "frames", "frames_used"]
        columns += ["fraction", "few_frames", "better_point", "better_fraction"]
        return pd.DataFrame(rows, columns=columns)

    def coverage_warning(self, *, fixes: bool = True) -> str:
        """Say which animals' measures come from few frames, and what to do.

        Empty when every animal's point is known in at least
        :data:`FEW_FRAMES_FRACTION` of its frames. Otherwise one line per such
        animal (how many frames the distance, speeds and ROI times come from) and
        the fixes: fill short gaps (:data:`SUGGESTED_MAX_GAP` frames), measure the
        point known in more frames (the centroid, or a keypoint), or lower the
        likelihood threshold. The behaviour app shows it above its tables (with
        buttons for the fixes), ``posekit behavior rois|export`` prints it. It
        stands for the warning :meth:`point` logs: that is not logged again until
        the settings change.

        Parameters
        ----------
        fixes
            Add the fixes, with their command-line options.

        Returns
        -------
        str
            The warning (plain text, one line per animal, then the fixes), or ``""``.
        """
        self._warned.update(s.name for s in self.sessions)
        table = self.coverage_table()
        few = table[table["few_frames"]] if not table.empty else table
        if few.empty:
            return ""
        lines = []
        animals = table["session"].value_counts()
        for _, r in few.iterrows():
            who = r["session"]
            if animals[who] > 1:
                who += f" ({r['individual']})"
            why = (
                "no keypoint is seen in the others (after cleaning)"
                if r["point"] == "centroid"
                else f"{r['point']} is missing in the others (after cleaning)"
            )
            lines.append(
                f"{who}: the distance, speeds and ROI times come from "
                f"{r['frames_used']} of {r['frames']} frames ({r['fraction']:.0%}); "
                f"{why}."
            )
        text = "\n".join(lines)
        if not fixes:
            return text
        options = []
        if self.filter_config.max_gap is None or (
            self.filter_config.max_gap < SUGGESTED_MAX_GAP
        ):
            options.append(
                f"fill short gaps (interpolate gaps of up to {SUGGESTED_MAX_GAP} "
                f"frames: --max-gap {SUGGESTED_MAX_GAP})"
            )
        better = few[few["better_point"] != ""]
        if not better.empty:
            best = better.sort_values("better_fraction").iloc[-1]
            name = best["better_point"]
            seen = f"known in {best['better_fraction']:.0%} of the frames"
            options.append(
                f"measure the centroid, {seen} (leave out --keypoint)"
                if name == "centroid"
                else f"measure {name}, {seen} (--keypoint {name})"
            )
        if self.filter_config.confidence_threshold:
            options.append(
                "lower the likelihood threshold "
                f"({self.filter_config.confidence_threshold:g}: --pcutoff) if the "
                "tracking is good but unsure"
            )
        if options:
            text += "\nTo use more frames: " + "; or ".join(options) + "."
        return text

    def _log_coverage(self, name: str) -> None:
        """Log the coverage warning once per cleaning when it concerns ``name``."""
        if name in self._warned:
            return
        self._warned.add(name)
        point = self.point(name, calibrated=False)
        n = max(self.session(name).n_frames, 1)
        animals = self.session(name).animals
        known = np.isfinite(point.sel(individual=animals).values).all(axis=1).sum(0)
        if (known / n < FEW_FRAMES_FRACTION).any():
            logger.warning(
                "session %s: %s; measures come from those frames only (see "
                "coverage_warning())",
                name,
                ", ".join(
                    f"{a} known in {int(k)} of {n} frames"
                    for a, k in zip(animals, known, strict=True)
                ),
            )

    def processing_log(self, name: str) -> list[dict[str, Any]]:
        """Return the steps applied to session ``name`` (``attrs["log"]``)."""
        from .filters import get_log

        return get_log(self.calibrated(name))

    # ------------------------------------------------------------ metrics
    def kinematics_table(self) -> pd.DataFrame:
        """Return the movement per session and individual.

        Duration, frames used and observed fraction (the frames where the point
        is known), distance, speed (mean, median, max), straightness, with their
        units (:func:`~posekit.engine.behavior.tables.kinematics_table`), each
        session at its own frame rate, and ``centroid_gap_frames``: the frames
        whose centroid places keypoints missing there from those seen
        (:meth:`centroid_gaps`; 0 with a chosen keypoint), and ``smoothing``: how
        the positions were smoothed (:meth:`FilterConfig.describe_smoothing
        <posekit.engine.behavior.filters.FilterConfig.describe_smoothing>`;
        ``"none"``: the distance and speeds add up the tracking's frame-to-frame
        jitter). :meth:`coverage_warning` says when the frames used are few.
        """
        points = {s.name: self.point(s.name) for s in self.sessions}
        table = _tables.kinematics_table(self.sessions, points, fps=self._rates())
        if not table.empty:
            gaps = {
                s.name: self.centroid_gaps(s.name) if self.keypoint is None else {}
                for s in self.sessions
            }
            table["centroid_gap_frames"] = [
                gaps[s].get(i, 0)
                for s, i in zip(table["session"], table["individual"], strict=True)
            ]
            # an exported distance says whether it adds up the tracking's jitter
            table["smoothing"] = self.filter_config.describe_smoothing()
        return table

    def _rates(self) -> dict[str, float | None]:
        """Session name → frame rate used (:meth:`session_fps`)."""
        return {s.name: self.session_fps(s.name) for s in self.sessions}

    def occupancy(self, name: str) -> xr.DataArray | None:
        """ROI occupancy of session ``name`` (``None`` without area ROIs).

        Lines have no inside: they are left out here and counted by
        :meth:`line_crossings`.
        """
        from .roi import LineROI, compute_roi_occupancy

        areas = [r for r in self.rois if not isinstance(r, LineROI)]
        if not areas:
            return None

        def make() -> xr.DataArray:
            return compute_roi_occupancy(self.point(name, calibrated=False), areas)

        return self._cached("occupancy", name, make)

    def _occupancies(self) -> dict[str, xr.DataArray | None]:
        return {s.name: self.occupancy(s.name) for s in self.sessions}

    def line_crossings(self, name: str) -> xr.DataArray | None:
        """Crossings of the line ROIs in session ``name`` (``None`` without lines).

        See :func:`~posekit.engine.behavior.roi.compute_line_crossings`.
        """
        from .roi import LineROI, compute_line_crossings

        if not any(isinstance(r, LineROI) for r in self.rois):
            return None
        return self._cached(
            "line_crossings",
            name,
            lambda: compute_line_crossings(
                self.point(name, calibrated=False), self.rois
            ),
        )

    def social_table(self) -> pd.DataFrame:
        """Return, per session of several animals and pair, the social summary.

        Distances between the animals (at the chosen keypoint, else centroids, in
        calibrated units), time in contact, contacts and approaches by each animal
        (:func:`~posekit.engine.behavior.social.social_summary`, settings
        :meth:`set_social`). Empty when no session has two animals.
        """
        from .social import social_summary

        parts = []
        for s in self.sessions:
            animals = s.animals
            if len(animals) < 2:
                continue
            ds = self.calibrated(s.name)
            table = social_summary(
                ds["position"],
                keypoint=self.keypoint,
                fps=self.session_fps(s.name),
                **self.social,
            )
            table.insert(0, "session", s.name)
            parts.append(table)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def social_events_table(self) -> pd.DataFrame:
        """Return every contact, approach and following bout of several animals.

        Columns ``session, event`` (``contact``, ``approach`` or ``following``: then
        ``approacher`` is the follower and ``target`` the leader), ``pair``,
        ``approacher``, ``target``, ``start_frame``, ``end_frame`` (the file's
        frame numbers), ``frames``.
        """
        from .kinematics import compute_interindividual_distances
        from .social import (
            approach_events,
            contact_bouts,
            default_contact_distance,
            following_bouts,
        )

        rows = []
        for s in self.sessions:
            animals = s.animals
            if len(animals) < 2:
                continue
            frames = s.frames
            pos = self.calibrated(s.name)["position"].sel(individual=animals)
            dist = self.social["contact_distance"] or default_contact_distance(pos)
            contact = {
                "release_distance": self.social["release_distance"],
                "merge_gap": self.social["merge_gap"],
            }
            bouts = contact_bouts(
                compute_interindividual_distances(pos, self.keypoint), dist, **contact
            )
            for _, b in bouts.iterrows():
                rows.append(
                    {
                        "session": s.name,
                        "event": "contact",
                        "pair": b["pair"],
                        "start_frame": int(frames[int(b["start_frame"])]),
                        "end_frame": int(frames[int(b["end_frame"])]),
                        "frames": int(b["frames"]),
                    }
                )
            approaches = approach_events(
                pos,
                dist,
                approach_from=self.social["approach_from"],
                window=self.social["window"],
                keypoint=self.keypoint,
                **contact,
            )
            for _, a in approaches.iterrows():
                rows.append(
                    {
                        "session": s.name,
                        "event": "approach",
                        "pair": a["pair"],
                        "approacher": a["approacher"],
                        "target": a["target"],
                        "start_frame": int(frames[int(a["start_frame"])]),
                        "end_frame": int(frames[int(a["contact_frame"])]),
                        "frames": int(a["contact_frame"] - a["start_frame"] + 1),
                    }
                )
            following = following_bouts(
                pos,
                dist,
                follow_distance=self.social["follow_distance"],
                min_speed=self.social["follow_min_speed"],
                max_angle=self.social["follow_max_angle"],
                min_frames=self.social["follow_min_frames"],
                merge_gap=self.social["follow_merge_gap"],
                keypoint=self.keypoint,
                fps=self.session_fps(s.name),
            )
            for _, f in following.iterrows():
                rows.append(
                    {
                        "session": s.name,
                        "event": "following",
                        "pair": f["pair"],
                        "approacher": f["follower"],
                        "target": f["leader"],
                        "start_frame": int(frames[int(f["start_frame"])]),
                        "end_frame": int(frames[int(f["end_frame"])]),
                        "frames": int(f["frames"]),
                    }
                )
        return pd.DataFrame(rows)

    def roi_table(self) -> pd.DataFrame:
        """Return the ROI summary per session, individual and ROI.

        Time and fraction inside, entries, exits, latency to the first entry (whole
        frames; empty if never inside), bouts
        (:func:`~posekit.engine.behavior.tables.roi_table`).
        """
        return _tables.roi_table(
            self.sessions,
            self._occupancies(),
            fps=self._rates(),
            max_gap=self.roi_max_gap,
        )

    def roi_bouts_table(self) -> pd.DataFrame:
        """Return every visit to every ROI (:func:`~posekit.engine.behavior.tables.roi_bouts_table`)."""
        return _tables.roi_bouts_table(
            self.sessions,
            self._occupancies(),
            fps=self._rates(),
            max_gap=self.roi_max_gap,
        )

    def zone_transitions_table(self) -> pd.DataFrame:
        """Transitions between ROIs per session (long format: ``from, to, count``)."""
        return _tables.zone_transitions_table(self.sessions, self._occupancies())

    def line_crossings_table(self) -> pd.DataFrame:
        """Crossings of each line ROI per session and individual, by direction.

        See :func:`~posekit.engine.behavior.tables.line_crossings_table`.
        """
        crossings = {s.name: self.line_crossings(s.name) for s in self.sessions}
        return _tables.line_crossings_table(self.sessions, crossings, fps=self._rates())

    # ------------------------------------------------------------ features
    def features(self, key: str) -> pd.DataFrame:
        """Window features of track ``key`` (rows: frames, columns: features).

        The whole session's, float32, computed at each call and not kept: an hour
        of 30 bodyparts is 1.5 GB. For notebooks; :meth:`train`, :meth:`predict`,
        :meth:`cluster` and :meth:`iter_features_table` go chunk by chunk of frames
        (:meth:`iter_features`).
        """
        track = self.track(key)
        n = self.session(track.session).n_frames
        ((_, part),) = self.iter_features(key, chunk_frames=max(n, 3))
        return part

    def feature_columns(
        self, key: str, *, keypoints: Sequence[str] | None = None
    ) -> list[str]:
        """Return the columns of :meth:`features` of track ``key``, computing none.

        They depend on the session: its bodyparts (and their order), whether it
        has several animals (the social features) and :attr:`windows`.

        Parameters
        ----------
        key
            The track.
        keypoints
            As in :meth:`iter_features`.

        Returns
        -------
        list of str
            The feature names, in :meth:`features`' order.

        Raises
        ------
        KeyError
            If there is no such track or keypoint.
        """
        return self._session_feature_names(self.track(key).session, keypoints)

    def _session_feature_names(
        self, name: str, keypoints: Sequence[str] | None = None
    ) -> list[str]:
        """Return the feature names of session ``name`` (each of its tracks has them)."""
        from .features import feature_names

        kind = f"feature_names:{self.windows}:{tuple(keypoints or ())}"
        return self._cached(
            kind,
            name,
            lambda: feature_names(
                self._feature_poses(name, keypoints), windows=self.windows
            ),
        )

    def _feature_poses(self, name: str, keypoints: Sequence[str] | None) -> xr.Dataset:
        """:meth:`calibrated`, with only ``keypoints`` (in that order) if given."""
        ds = self.calibrated(name)
        if keypoints is None:
            return ds
        have = self.session(name).keypoints
        missing = [k for k in keypoints if k not in have]
        if missing:
            raise KeyError(
                f"session {name!r} has no bodyparts {missing}; it has {have}"
            )
        return ds.sel(keypoint=list(keypoints))

    def _shared_plan(
        self, keys: Sequence[str], what: str
    ) -> tuple[dict[str, _FeaturePlan], list[str], list[str]]:
        """Return how each track of ``keys`` gives the features they all share.

        Sessions with other bodyparts have their features computed from the
        bodyparts every session has (in the first session's order: the same
        centroid, body axis and names everywhere); then the columns every
        session has are taken (one animal and several: not the social ones).
        Logs a warning naming what is left out (``what``: the step).

        Returns
        -------
        tuple
            Track key → :class:`_FeaturePlan`; the shared features (the columns
            each plan gives); the features left out: those of some session that
            are not used (in the order they first appear).

        Raises
        ------
        ValueError
            If the sessions share fewer than two bodyparts, or no feature.
        """
        from .classify import describe_features

        sessions = list(dict.fromkeys(self.track(k).session for k in keys))
        if not sessions:
            return {}, [], []
        kps = {s: self.session(s).keypoints for s in sessions}
        first = kps[sessions[0]]
        common = [k for k in first if all(k in kps[s] for s in sessions)]
        if len(common) < 2:
            raise ValueError(
                f"{what}: the sessions share {len(common)} bodypart(s) "
                f"({', '.join(common) or 'none'}); the features need two at least. "
                "Analyse sessions tracked with the same bodyparts together"
            )
        restrict = {
            s: None if kps[s] == common else common for s in sessions
        }  # the file's own features where it has just those bodyparts
        names = {s: self._session_feature_names(s, restrict[s]) for s in sessions}
        in_all = set.intersection(*(set(n) for n in names.values()))
        shared = [c for c in names[sessions[0]] if c in in_all]
        if not shared:
            raise ValueError(
                f"{what}: the sessions share no feature ("
                + "; ".join(f"{s}: {describe_features(names[s])}" for s in sessions)
                + "); analyse sessions with the same bodyparts together"
            )
        own = {
            s: names[s] if restrict[s] is None else self._session_feature_names(s)
            for s in sessions
        }
        used = set(shared)
        dropped = list(
            dict.fromkeys(c for s in sessions for c in own[s] if c not in used)
        )
        plans = {
            k: _FeaturePlan(
                restrict[self.track(k).session],
                None if names[self.track(k).session] == shared else shared,
            )
            for k in keys
        }
        if dropped:
            parts = []
            extra = list(dict.fromkeys(k for s in sessions for k in kps[s]))
            extra = [k for k in extra if k not in common]
            if extra:
                without = [s for s in sessions if not set(extra) <= set(kps[s])]
                parts.append(
                    f"the bodyparts not in {', '.join(without)}: {', '.join(extra)} "
                    f"(the features are computed from the {len(common)} bodyparts "
                    f"every session has: {', '.join(common)})"
                )
            seen = dict.fromkeys(c for n in names.values() for c in n)
            other = [c for c in seen if c not in used]
            if other:
                without = [s for s in sessions if not set(other) <= set(names[s])]
                parts.append(
                    f"the features not in {', '.join(without)}: "
                    + describe_features(other)
                )
            logger.warning(
                "%s: the sessions' features differ, so it uses the %d they share; "
                "left out %s",
                what,
                len(shared),
                "; ".join(parts),
            )
        return plans, shared, dropped

    def _plan_features(
        self, key: str, plan: _FeaturePlan
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """:meth:`iter_features` of track ``key`` as ``plan`` says."""
        for start, part in self.iter_features(key, keypoints=plan.keypoints):
            yield start, part if plan.columns is None else part[plan.columns]

    def iter_features(
        self,
        key: str,
        *,
        chunk_frames: int | None = None,
        keypoints: Sequence[str] | None = None,
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """Yield :meth:`features` of track ``key`` chunk by chunk of frames.

        Parameters
        ----------
        key
            The track.
        chunk_frames
            Frames per chunk (default: :attr:`chunk_frames`).
        keypoints
            Compute the features from these bodyparts only, in this order (the
            centroid, the body axis from the last to the first, the distances
            and names follow them), as for a session tracked with just those;
            default: every bodypart of the session, in its order.

        Yields
        ------
        tuple of int and pandas.DataFrame
            The chunk's first row (a position, from 0) and its rows of
            :meth:`features` (index from 0); joined, they are :meth:`features`,
            bit for bit
            (:func:`~posekit.engine.behavior.features.iter_window_features`).
        """
        from . import features as _features

        track = self.track(key)
        done = 0
        for chunk in _features.iter_window_features(
            self._feature_poses(track.session, keypoints),
            windows=self.windows,
            individuals=[track.individual],
            chunk_frames=self.chunk_frames if chunk_frames is None else chunk_frames,
        ):
            n = chunk.sizes["time"]
            part = pd.DataFrame(
                np.asarray(chunk.values[:, 0]),
                columns=[str(f) for f in chunk["feature"].values],
                copy=False,
            )
            yield done, part
            done += n

    def _feature_units(self, name: str) -> tuple[str, str]:
        """Return the distance and speed units of session ``name``'s features.

        ``("px", "px/s")``, ``("mm", "mm/s")`` with a pixel size, and
        ``"px/frame"`` without a frame rate: the rate the features use
        (:func:`~posekit.engine.behavior.features.iter_window_features` on
        :meth:`calibrated`), as ``kinematics.csv`` says it.
        """
        position = position_of(self.calibrated(name))
        unit = space_unit(position)
        per = "s" if resolve_fps(position, None) else "frame"
        return unit, f"{unit}/{per}"

    def _warn_features_per_frame(self, tracks: Sequence[Track]) -> None:
        """Log once which sessions' features are per frame, and what to pass."""
        sessions = list(dict.fromkeys(t.session for t in tracks))
        per_frame = [
            s
            for s in sessions
            if self._feature_units(s)[1].endswith("/frame")
            and s not in self._warned_per_frame
        ]
        if not per_frame:
            return
        self._warned_per_frame.update(per_frame)
        unit = self._feature_units(per_frame[0])[0]
        logger.warning(
            "%s: no frame rate, so the features' speeds and other rates are per "
            "frame (speed_unit %s/frame), not per second. Give the rate with --fps "
            "(set_calibration(fps=...)), or keep the video, or DeepLabCut's "
            "<video>..._meta.pickle, beside the tracking file",
            ", ".join(per_frame[:5]) + (" …" if len(per_frame) > 5 else ""),
            unit,
        )

    def features_table(self, dtype: DTypeLike | None = None) -> pd.DataFrame:
        """Return the window features of every track.

        Columns: ``track, session, individual, frame`` (the file's frame numbers,
        :attr:`Session.frames`), ``distance_unit, speed_unit`` (as in
        ``kinematics.csv``: ``px``, ``px/s``; ``mm`` with a pixel size;
        ``px/frame`` without a frame rate, with a warning; the other rates, the
        angular velocity in radians, are per the same time), then one per feature
        (:meth:`features`).

        Parameters
        ----------
        dtype
            The features' dtype (``None``: as computed, float64). ``np.float32``
            halves the table's memory, for writing a long recording's table
            (``posekit behavior features``).
        """
        tracks = self.tracks()
        self._warn_features_per_frame(tracks)
        parts = [
            self._features_part(
                t,
                self.features(t.key),
                dtype,
                self.session(t.session).frames,
                self._feature_units(t.session),
            )
            for t in tracks
        ]
        if len(parts) == 1:  # no copy of a long recording's table
            return parts[0]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def iter_features_table(
        self,
        dtype: DTypeLike | None = None,
        *,
        chunk_frames: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield :meth:`features_table` in chunks of rows, one chunk in memory at a time.

        Each track's frames are computed chunk by chunk
        (:func:`~posekit.engine.behavior.features.iter_window_features`), so an
        hour of tracking takes tens of MB where the whole table takes GB;
        ``pd.concat(chunks)`` is :meth:`features_table`, bit for bit, its index
        too. The features are not cached.

        Parameters
        ----------
        dtype
            As in :meth:`features_table`.
        chunk_frames
            Frames per chunk (default: :attr:`chunk_frames`, else about
            :data:`~posekit.engine.behavior.features.FEATURE_CHUNK_VALUES` values).

        Yields
        ------
        pandas.DataFrame
            Consecutive rows of the table.
        """
        from .features import feature_names

        tracks = self.tracks()
        if not tracks:
            return
        self._warn_features_per_frame(tracks)
        names = {
            s.name: feature_names(self.calibrated(s.name), windows=self.windows)
            for s in self.sessions
            if any(t.session == s.name for t in tracks)
        }
        # the whole table's columns and dtypes: its parts, one row each, joined as
        # features_table joins them (sessions of one animal lack the social ones)
        rows = [
            self._features_part(
                t,
                pd.DataFrame(
                    np.zeros((1, len(names[t.session])), np.float32),
                    columns=names[t.session],
                ),
                dtype,
                np.zeros(1, np.int64),
                self._feature_units(t.session),
            )
            for t in tracks
        ]
        schema = rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)
        if chunk_frames is None:
            chunk_frames = self.chunk_frames
        row = 0
        for t, first in zip(tracks, rows, strict=True):
            frames = self.session(t.session).frames
            same = list(first.columns) == list(schema.columns)
            for done, features in self.iter_features(t.key, chunk_frames=chunk_frames):
                n = len(features)
                features.index = pd.RangeIndex(row, row + n)
                part = self._features_part(
                    t,
                    features,
                    dtype,
                    frames[done : done + n],
                    self._feature_units(t.session),
                )
                if not same:
                    part = part.reindex(columns=schema.columns).astype(
                        schema.dtypes.to_dict()
                    )
                row += n
                yield part

    @staticmethod
    def _features_part(
        track: Track,
        part: pd.DataFrame,
        dtype: DTypeLike | None,
        frames: np.ndarray,
        units: tuple[str, str],
    ) -> pd.DataFrame:
        """Return a track's rows of :meth:`features_table` from its features."""
        if dtype is not None:
            part = part.astype(dtype)
        part.insert(0, "speed_unit", units[1])
        part.insert(0, "distance_unit", units[0])
        part.insert(0, "frame", frames)
        part.insert(0, "individual", track.individual)
        part.insert(0, "session", track.session)
        part.insert(0, "track", track.key)
        return part

    def write_features_table(
        self,
        path: str | os.PathLike,
        *,
        dtype: DTypeLike | None = np.float32,
        float_format: str | None = None,
        chunk_frames: int | None = None,
        sheet_name: str = "features",
    ) -> Path:
        """Write :meth:`features_table` chunk by chunk, in bounded memory.

        :meth:`iter_features_table` into
        :func:`~posekit.engine.behavior.export.save_table_chunks` (``.csv``,
        ``.h5``, ``.nc``, and ``.xlsx``: one sheet, its rows streamed). An Excel
        sheet holds 1,048,575 rows below its header and 16,384 columns: a longer
        or wider table raises before any feature is computed.

        Parameters
        ----------
        path
            Target file.
        dtype
            The features' dtype (float32: what the CSV's 7 digits hold).
        float_format
            CSV only: ``%``-format of the float cells.
        chunk_frames
            Frames per chunk.
        sheet_name
            ``.xlsx`` only: the sheet's name.

        Returns
        -------
        Path
            The written file.

        Raises
        ------
        ValueError
            If nothing is loaded, the suffix is not a table's, or (``.xlsx``) the
            table does not fit in an Excel sheet (the message says what to
            write instead).
        """
        from .export import check_excel_size, save_table_chunks

        tracks = self.tracks()
        if not tracks:
            raise ValueError("load tracking files before writing their features")
        if Path(path).suffix.lower() == ".xlsx":
            sessions = {t.session for t in tracks}
            names = {
                c for s in sessions for c in self._session_feature_names(s)
            }  # the table's columns: every session's features joined
            check_excel_size(
                sum(self.session(t.session).n_frames for t in tracks),
                6 + len(names),  # track, session, individual, frame, 2 units
                Path(path).name,
                "the feature table",
            )
        return save_table_chunks(
            self.iter_features_table(dtype, chunk_frames=chunk_frames),
            path,
            float_format=float_format,
            sheet_name=sheet_name,
        )

    # ------------------------------------------------------------ supervised
    def set_annotation(self, key: str, labels: Sequence[str] | np.ndarray) -> None:
        """Store the labels the user marked for track ``key``.

        Raises
        ------
        ValueError
            If the length differs from the session's frames.
        """
        track = self.track(key)
        n = self.session(track.session).n_frames
        arr = np.asarray(labels).astype(str)
        if arr.shape != (n,):
            raise ValueError(
                f"track {key!r} has {n} frames; received {arr.shape} labels"
            )
        self.annotations[key] = arr

    def load_labels(self, key: str, path: str | os.PathLike) -> np.ndarray:
        """Mark track ``key`` with a labels CSV (per frame or bouts).

        The file is read with :func:`~posekit.engine.behavior.annotations.read_labels`:
        of a file with an ``individual`` column (BORIS: ``Subject``), the rows of the
        track's animal.

        Returns
        -------
        numpy.ndarray
            The per-frame labels now marked.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ValueError
            If the file is not a labels table, or holds the rows of other animals
            only.
        """
        from .annotations import read_labels

        track = self.track(key)
        session = self.session(track.session)
        labels = read_labels(
            path,
            session.n_frames,
            background=self.background,
            fps=self.session_fps(track.session),
            individual=track.individual,
            single_animal=len(session.animals) == 1,
        )
        self.set_annotation(key, labels)
        return labels

    def save_labels(
        self, key: str, path: str | os.PathLike, *, predicted: bool = False
    ) -> Path:
        """Write the marks (or with ``predicted``, the predictions) of track ``key``.

        :func:`~posekit.engine.behavior.annotations.write_labels` writes one row per
        frame, or the bouts when the name ends in ``_bouts.csv``.

        Returns
        -------
        Path
            The written file.

        Raises
        ------
        KeyError
            If the track has no marks (predictions).
        """
        from .annotations import write_labels

        labels = self.predictions if predicted else self.annotations
        if key not in labels:
            what = "predictions" if predicted else "marked labels"
            raise KeyError(f"track {key!r} has no {what}; tracks with: {list(labels)}")
        fps = self.session_fps(self.track(key).session)
        return write_labels(labels[key], path, fps=fps, background=self.background)

    def training_data(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the features and labels of every marked frame.

        Tracks in order, frames in time order.

        Raises
        ------
        ValueError
            If fewer than two behaviours are marked.
        """
        features, labels, _ = self._marked_rows()
        return features, labels

    def _marked_rows(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Return :meth:`training_data` and the track of each row (its CV group).

        The features of the marked frames only, gathered chunk by chunk.
        """
        xs, ys, tracks = [], [], []
        keys = self.track_keys()
        marked_keys = [
            k
            for k, labels in self.annotations.items()
            if k in keys and (labels != self.background).any()
        ]
        # tracks of sessions with other bodyparts or animals: their shared features
        plans, _, self.train_dropped_features = self._shared_plan(
            marked_keys, "training the classifier"
        )
        for key in marked_keys:
            labels = self.annotations[key]
            mask = labels != self.background
            if mask.any():
                parts = []
                for start, part in self._plan_features(key, plans[key]):
                    marked = mask[start : start + len(part)]
                    if marked.any():
                        parts.append(part[marked])  # a copy of those rows
                xs.append(pd.concat(parts, ignore_index=True))
                ys.append(labels[mask])
                tracks.append(np.full(int(mask.sum()), key, dtype=object))
        y = np.concatenate(ys) if ys else np.array([], dtype=str)
        if len(set(y.tolist())) < 2:
            raise ValueError(
                "mark bouts of at least two behaviours (in the ethogram annotator, or "
                "load a labels file) before training"
            )
        return pd.concat(xs, ignore_index=True), y, np.concatenate(tracks)

    def train(
        self,
        *,
        model: str = "random_forest",
        n_estimators: int = 100,
        min_bout: int = 1,
        threshold: float | None = None,
        n_splits: int = 5,
        random_state: int = 0,
    ) -> BehaviorCVResult:
        """Cross-validate and fit a classifier on the marked frames.

        Only the marked frames' features are held (gathered chunk by chunk of
        frames, :meth:`iter_features`). When the marked tracks' sessions have
        different features (other bodyparts, or one animal and several: the
        social features), the classifier uses those they all have; the others
        are named in a warning and in :attr:`train_dropped_features`.

        A :class:`~posekit.engine.behavior.classify.BehaviorClassifier`,
        cross-validated leaving one marked track out when several are marked, else
        on contiguous blocks with a purge gap of the largest feature window
        (:func:`~posekit.engine.behavior.classify.cross_validate_behavior`). Its
        predictions for the marked frames (:meth:`predict`) are in-sample.

        Returns
        -------
        BehaviorCVResult
            Precision, recall, F1 per behaviour and the confusion matrix.

        Raises
        ------
        ValueError
            If fewer than two behaviours are marked, or the marked tracks share
            no feature.
        """
        from .classify import BehaviorClassifier, cross_validate_behavior

        X, y, groups = self._marked_rows()
        clf = BehaviorClassifier(
            model=model,  # type: ignore[arg-type]
            n_estimators=int(n_estimators),
            min_bout=int(min_bout),
            threshold=threshold,
            background=self.background,
            random_state=random_state,
        )
        splits = int(min(n_splits, max(2, len(y) // 20)))
        self.cv_result = cross_validate_behavior(
            clf,
            X,
            y,
            n_splits=splits,
            gap=max(self.windows, default=0),
            groups=groups,
            group_name="track",
        )
        self.classifier = clf.fit(X, y)
        return self.cv_result

    def predict(self) -> dict[str, np.ndarray]:
        """Classify every frame of every track with the trained classifier.

        Chunk by chunk of frames (:meth:`iter_features`): a chunk's probabilities
        are computed and its features dropped; the probabilities, joined, give
        the labels (:meth:`~posekit.engine.behavior.classify.BehaviorClassifier.labels_from_proba`,
        the minimum bout length across the chunks' ends) and are kept in
        :attr:`probabilities`. The same as the classifier's ``predict`` on
        :meth:`features`.

        The classifier (:attr:`classifier`: trained by :meth:`train`, or one
        trained on other sessions and set here) takes its own features, in its
        own order, from each track: features it was not trained on (the social
        ones of a session of several animals, bodyparts it did not see) are left
        out. A track that lacks some of its features (fewer bodyparts, one animal
        where it was trained with social features, other windows) stops the
        prediction before any track is predicted.

        Raises
        ------
        RuntimeError
            If no classifier was trained.
        ValueError
            If some tracks lack features the classifier was trained on; the
            message names them and what to do.
        """
        if self.classifier is None:
            raise RuntimeError("train the classifier first")
        clf = self.classifier
        keys = self.track_keys()
        trained = getattr(clf, "feature_names_in_", None)
        names = None if trained is None else [str(n) for n in trained]
        # the bodyparts it was trained on, in order: its speeds' names
        bodyparts = None if names is None else _feature_keypoints(names)
        plans: dict[str, _FeaturePlan] = {}
        lacking: dict[str, list[str]] = {}  # session → features it lacks
        for key in keys:
            session = self.track(key).session
            if names is None:  # fitted on an array: the track's own columns
                plans[key] = _FeaturePlan()
                continue
            own = self.session(session).keypoints
            restrict = None if bodyparts is None or own == bodyparts else bodyparts
            if restrict is not None and not set(restrict) <= set(own):
                columns = self.feature_columns(key)  # lacks some bodyparts
            else:
                columns = self.feature_columns(key, keypoints=restrict)
            have = set(columns)
            missing = [n for n in names if n not in have]
            if missing:
                lacking[session] = missing
            else:
                plans[key] = _FeaturePlan(restrict, None if columns == names else names)
        if lacking:
            raise ValueError(self._lacking_message(lacking, keys))
        predictions, probabilities = {}, {}
        for key in keys:
            proba = [
                clf.behavior_proba(part)
                for _, part in self._plan_features(key, plans[key])
            ]
            probabilities[key] = np.concatenate(proba)
            labels = clf.labels_from_proba(probabilities[key])
            predictions[key] = np.asarray(labels).astype(str)
        self.predictions, self.probabilities = predictions, probabilities
        self.prediction_kind = "classifier"
        self.motif_table = None
        return self.predictions

    def _lacking_message(self, lacking: dict[str, list[str]], keys: list[str]) -> str:
        """Return the error of :meth:`predict` when sessions lack the classifier's features."""
        from .classify import describe_features

        n_tracks = sum(self.track(k).session in lacking for k in keys)
        lines = [
            f"the classifier cannot predict {n_tracks} of {len(keys)} tracks: their "
            f"session{'s lack' if len(lacking) > 1 else ' lacks'} features it was "
            "trained on"
        ]
        lines += [
            f"  {session}: {describe_features(missing)}"
            for session, missing in list(lacking.items())[:5]
        ]
        if len(lacking) > 5:
            lines.append(f"  and {len(lacking) - 5} more sessions")
        missing_all = list(dict.fromkeys(n for m in lacking.values() for n in m))
        lines += _missing_features_hints(missing_all, self.windows)
        lines.append(
            "Mark some frames of these tracks too and train again (the classifier "
            "then uses the features every marked track has), or predict only "
            "sessions with the bodyparts and number of animals it was trained on."
        )
        return "\n".join(lines)

    # ------------------------------------------------------------ unsupervised
    def cluster(
        self,
        n_motifs: int = 6,
        *,
        method: str = "gmm",
        n_components: int | None = 10,
        max_frames: int = 20_000,
        max_values: int = CLUSTER_SAMPLE_VALUES,
        random_state: int = 0,
    ) -> dict[str, np.ndarray]:
        """Find motifs over every track; the predictions become ``motif0``, ….

        The motifs come from a
        :class:`~posekit.engine.behavior.cluster.BehaviorClusterer` fitted on a
        sample of frames: every ``step``-th frame of the tracks end to end
        (``step``: the fewest that keeps the sample within ``max_frames`` frames
        and ``max_values`` values), gathered chunk by chunk of frames; then every
        frame is labelled, a chunk at a time. The features of the whole are never
        held: the sample (at most 80 MB as float64) and one chunk.
        :attr:`cluster_sample_frames` is the sample's size.

        Sessions with different features (other bodyparts, or one animal and
        several: the social features) are clustered on the features they all
        have; the others are named in a warning and in
        :attr:`cluster_dropped_features`.

        Parameters
        ----------
        n_motifs, method, n_components, random_state
            As for ``BehaviorClusterer``.
        max_frames
            Fit on at most this many frames (evenly spaced); every frame is labelled.
        max_values
            Fit on at most this many feature values (frames × features;
            :data:`CLUSTER_SAMPLE_VALUES`: 2,710 frames of 30 bodyparts' 3,689
            features).

        Returns
        -------
        dict
            Track key → motif labels.

        Raises
        ------
        ValueError
            If nothing is loaded, or the sessions share no feature.
        """
        from .cluster import BehaviorClusterer, motif_examples

        keys = self.track_keys()
        if not keys:
            raise ValueError("load tracking files first")
        plans, shared, self.cluster_dropped_features = self._shared_plan(
            keys, "finding motifs"
        )
        lengths = [self.session(self.track(k).session).n_frames for k in keys]
        n_columns = len(shared)
        sample_frames = max(1, min(max_frames, max_values // max(n_columns, 1)))
        step = max(1, math.ceil(sum(lengths) / sample_frames))
        # every step-th row of the tracks' features end to end
        sample = []
        offset = 0
        for key, length in zip(keys, lengths, strict=True):
            for start, part in self._plan_features(key, plans[key]):
                first = -(offset + start) % step
                if first < len(part):
                    sample.append(part.iloc[first::step].copy())  # not a view
            offset += length
        X = pd.concat(sample, ignore_index=True)
        del sample
        self.cluster_sample_frames = len(X)
        self.clusterer = BehaviorClusterer(
            n_motifs=int(n_motifs),
            method=method,  # type: ignore[arg-type]
            n_components=n_components,
            random_state=random_state,
        ).fit(X)
        del X
        self.predictions = {
            k: np.array(
                [
                    f"motif{int(m)}"
                    for m in np.concatenate(
                        [
                            self.clusterer.predict(part)
                            for _, part in self._plan_features(k, plans[k])
                        ]
                    )
                ]
            )
            for k in keys
        }
        self.probabilities = {}
        self.prediction_kind = "motifs"
        parts = []
        for k, labels in self.predictions.items():
            session = self.session(self.track(k).session)
            fps = self.session_fps(session.name)
            part = motif_examples(labels, n_examples=3, fps=fps)
            part = _tables.to_file_frames(part, session.frames, fps)
            part.insert(0, "track", k)
            parts.append(part)
        self.motif_table = pd.concat(parts, ignore_index=True)
        return self.predictions

    # ------------------------------------------------------------ ethogram tables
    def _labels_args(self) -> dict[str, Any]:
        return {"fps": self._rates(), "background": self.background}

    def behavior_bouts_table(self) -> pd.DataFrame:
        """Return the bouts of the predicted labels.

        Columns: track, session, group, behaviour, start, end, duration (+ seconds).
        """
        return _tables.behavior_bouts_table(
            self.predictions, self.sessions, **self._labels_args()
        )

    def behavior_summary_table(self) -> pd.DataFrame:
        """Return bouts, total and mean duration, latency, fraction per track.

        One row per track and behaviour
        (:func:`~posekit.engine.behavior.ethogram.bout_summary`).
        """
        return _tables.behavior_summary_table(
            self.predictions, self.sessions, **self._labels_args()
        )

    def group_summary_table(self) -> pd.DataFrame:
        """Mean, SD, SEM and count per group and behaviour (when groups are set)."""
        return _tables.group_summary_table(
            self.predictions, self.sessions, **self._labels_args()
        )

    def behavior_transitions_table(self) -> pd.DataFrame:
        """Bout-to-bout transitions per track (long format: ``from, to, count``)."""
        return _tables.behavior_transitions_table(
            self.predictions, background=self.background
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every non-empty result table by name (see :data:`~posekit.engine.behavior.tables.TABLE_FILES`)."""
        out: dict[str, pd.DataFrame] = {}
        if not self.sessions:
            return out
        out["sessions"] = self.sessions_table()
        out["kinematics"] = self.kinematics_table()
        out["roi_summary"] = self.roi_table()
        out["roi_bouts"] = self.roi_bouts_table()
        out["zone_transitions"] = self.zone_transitions_table()
        out["line_crossings"] = self.line_crossings_table()
        out["behavior_bouts"] = self.behavior_bouts_table()
        out["behavior_summary"] = self.behavior_summary_table()
        out["group_summary"] = self.group_summary_table()
        out["behavior_transitions"] = self.behavior_transitions_table()
        out["social"] = self.social_table()
        out["social_events"] = self.social_events_table()
        if self.cv_result is not None:
            out["classifier_scores"] = self.cv_result.scores.reset_index()
            out["confusion_matrix"] = self.cv_result.confusion.reset_index()
        if self.motif_table is not None:
            out["motif_examples"] = self.motif_table
        return {k: v for k, v in out.items() if not v.empty}

    # ------------------------------------------------------------ figures
    def image_size(self, name: str) -> tuple[int, int] | None:
        """``(width, height)`` of the session's video (``None`` without one)."""
        s = self.session(name)
        if s.video is None:
            return None
        try:
            from ..video import VideoReader

            r = VideoReader(s.video)
            return int(r.width), int(r.height)
        except Exception:  # noqa: BLE001 - unreadable video: free axes
            return None

    def figures(self, name: str) -> dict[str, Any]:
        """Draw the figures of session ``name`` as matplotlib Figures.

        Trajectory and heatmap in pixels with the ROIs, speed in calibrated units,
        and the ethogram of the predictions (else the marks) when there are any
        (:func:`~posekit.engine.behavior.results.session_figures`).
        """
        from .results import session_figures

        labels = {
            t.individual: self.predictions.get(t.key, self.annotations.get(t.key))
            for t in self.session(name).tracks()
        }
        return session_figures(
            self.point(name, calibrated=False),
            self.point(name),
            rois=self.rois,
            image_size=self.image_size(name),
            labels={k: v for k, v in labels.items() if v is not None},
            fps=self.session_fps(name),
            background=self.background,
        )

    # ------------------------------------------------------------ export
    def settings(self) -> dict[str, Any]:
        """Return the settings used, for the record written beside the results.

        Cleaning, calibration (its ``fps`` is the rate set for all sessions, or
        ``None``; ``session_fps`` the rate each session used), keypoint, feature
        windows, sessions (with their frame rate), the files that could not be
        loaded (``skipped``: file, group, reason), ROIs.
        """
        used = {s.name: self._fps_used(s) for s in self.sessions}
        return {
            "filter": self.filter_config.to_dict(),
            "calibration": {
                **self.calibration.to_dict(),
                "session_fps": {name: fps for name, (fps, _) in used.items()},
            },
            "keypoint": self.keypoint,
            "roi_max_gap": self.roi_max_gap,
            "feature_windows": list(self.windows),
            "sessions": [
                {
                    "name": s.name,
                    "group": s.group,
                    "file": str(s.path) if s.path else None,
                    "fps": used[s.name][0],
                    "fps_source": used[s.name][1],
                }
                for s in self.sessions
            ],
            "skipped": [dict(f) for f in self.load_failures],
            "rois": [r.to_feature() for r in self.rois],
            "social": dict(self.social),
            "predictions": self.prediction_kind,
        }

    def export(
        self,
        folder: str | os.PathLike | None = None,
        *,
        csv: bool = True,
        excel: bool = True,
        figure_formats: Sequence[str] = ("png", "svg"),
        progress: Progress | None = None,
    ) -> list[Path]:
        """Write the tables, figures, ROIs and settings into ``folder``.

        See :func:`~posekit.engine.behavior.results.write_results` for the files.

        Parameters
        ----------
        folder
            Output folder (default :attr:`output_dir`; created if needed).
        csv
            One CSV per table (``<table>.csv``, see :data:`~posekit.engine.behavior.tables.TABLE_FILES`).
        excel
            All tables as the sheets of ``behavior_tables.xlsx``.
        figure_formats
            Figure formats (``"png"``, ``"svg"``); figures are
            ``<session>_<figure>.<format>``.
        progress
            Called as ``progress(done, total, file name)``.

        Returns
        -------
        list of Path
            The files written.

        Raises
        ------
        ValueError
            If nothing is loaded or a figure format is unknown.
        """
        from .results import write_results

        if not self.sessions:
            raise ValueError("load tracking files before exporting")
        return write_results(
            Path(folder) if folder is not None else self.output_dir,
            self.tables(),
            figures={s.name: partial(self.figures, s.name) for s in self.sessions},
            rois=self.rois,
            settings=self.settings(),
            csv=csv,
            excel=excel,
            figure_formats=figure_formats,
            progress=progress,
        )


def _social_settings(**given: Any) -> dict[str, Any]:
    """Several animals' settings: those given (not ``None``) over the defaults."""
    from .social import (
        CONTACT_MERGE_GAP,
        FOLLOW_MAX_ANGLE,
        FOLLOW_MERGE_GAP,
        FOLLOW_MIN_FRAMES,
    )

    out: dict[str, Any] = {
        "contact_distance": None,
        "approach_from": None,
        "window": 30,
        "release_distance": None,
        "merge_gap": CONTACT_MERGE_GAP,
        "follow_distance": None,
        "follow_min_speed": None,
        "follow_max_angle": FOLLOW_MAX_ANGLE,
        "follow_min_frames": FOLLOW_MIN_FRAMES,
        "follow_merge_gap": FOLLOW_MERGE_GAP,
    }
    integers = {"window", "merge_gap", "follow_min_frames", "follow_merge_gap"}
    for key, value in given.items():
        if key not in out:
            raise TypeError(f"unknown social setting {key!r}")
        if value is not None:
            out[key] = int(value) if key in integers else float(value)
    return out


def _feature_keypoints(names: Sequence[str]) -> list[str] | None:
    """Return the bodyparts, in order, that features were computed from.

    Their speeds' names give them (``speed_<bodypart>``, then ``speed_centroid``;
    :func:`~posekit.engine.behavior.features.compute_window_features`); ``None``
    when fewer than two are found.
    """
    from .classify import window_base_name

    found = [
        n.removeprefix("speed_")
        for n in names
        if n.startswith("speed_") and n != "speed_centroid" and window_base_name(n) == n
    ]
    return found if len(found) >= 2 else None


def _missing_features_hints(
    missing: Sequence[str], windows: Sequence[int]
) -> list[str]:
    """Return why features may be missing from a session: lines for an error message."""
    from .classify import feature_window, window_base_name

    bases = list(dict.fromkeys(window_base_name(n) for n in missing))
    hints = []
    if any(b.startswith("nearest_distance") for b in bases):
        hints.append(
            "The social features (nearest_distance...) exist only in sessions of "
            "two or more animals."
        )
    bodyparts = [
        b.removeprefix("speed_")
        for b in bases
        if b.startswith("speed_") and b != "speed_centroid"
    ]
    if bodyparts:
        hints.append(f"Bodyparts these sessions lack: {', '.join(bodyparts)}.")
    other = sorted(
        {feature_window([n]) for n in missing} - {0} - {int(w) for w in windows}
    )
    if other:
        hints.append(
            f"Feature windows {other} are not among the windows now "
            f"({', '.join(map(str, windows))} frames): use the classifier's windows."
        )
    return hints
