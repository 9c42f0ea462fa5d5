"""The behaviour app (``notebooks/behavior.ipynb``): from tracking files to behaviour
tables and figures, without code.

Steps, top to bottom: **load** one file, a folder of sessions or a sessions table
(``file, group`` CSV) with a progress bar; **clean** (likelihood threshold, jump
removal, gap interpolation, smoothing: :func:`~posekit.engine.behavior.filters.filter_poses`);
**calibrate** (frame rate, millimetres per pixel:
:class:`~posekit.engine.behavior.calibration.Calibration`); draw **ROIs**
(:class:`~posekit.widgets.roi_editor.ROIEditor`); **metrics** (kinematics summary, ROI
occupancy / entries / latency, ROI visits); **classify** (supervised: mark bouts in the
:class:`~posekit.widgets.ethogram_annotator.EthogramAnnotator`, train a
:class:`~posekit.engine.behavior.classify.BehaviorClassifier` with blocked
cross-validation, predict every session; unsupervised: motifs with
:class:`~posekit.engine.behavior.cluster.BehaviorClusterer`); **export** tables (CSV,
Excel) and figures (PNG, SVG) into an output folder.

:class:`BehaviorModel` holds the state and does the work (no widgets: test it
headless); :class:`BehaviorApp` is the page on top of it.

ROIs are drawn in image pixels, so ROI events are computed on the cleaned poses in
pixels (with the frame rate); kinematics and features use the calibrated poses (mm
when a scale is set).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..engine.behavior.calibration import Calibration
from ..engine.behavior.filters import SMOOTHING_METHODS, FilterConfig
from ..engine.behavior.roi import ROI

if TYPE_CHECKING:
    from ..engine.behavior.classify import BehaviorClassifier, BehaviorCVResult
    from ..engine.behavior.cluster import BehaviorClusterer
    from ..engine.project import Project
    from .ethogram_annotator import EthogramAnnotator
    from .roi_editor import ROIEditor

__all__ = [
    "BehaviorApp",
    "BehaviorModel",
    "Session",
    "Track",
    "default_input",
    "labels_file_for",
    "TABLE_FILES",
]

logger = logging.getLogger("posekit.widgets.behavior_app")

#: Table name → file stem used by :meth:`BehaviorModel.export`.
TABLE_FILES: dict[str, str] = {
    "sessions": "sessions",
    "kinematics": "kinematics",
    "roi_summary": "roi_summary",
    "roi_bouts": "roi_bouts",
    "zone_transitions": "zone_transitions",
    "behavior_bouts": "behavior_bouts",
    "behavior_summary": "behavior_summary",
    "group_summary": "group_summary",
    "behavior_transitions": "behavior_transitions",
    "classifier_scores": "classifier_scores",
    "confusion_matrix": "confusion_matrix",
    "motif_examples": "motif_examples",
}

TRACKING_SUFFIXES = (".h5", ".csv", ".slp", ".nc")


# ---------------------------------------------------------------- data classes


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
    """

    name: str
    path: Path | None
    group: str
    poses: xr.Dataset = field(repr=False)
    video: Path | None = None

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.poses.sizes["time"])

    @property
    def individuals(self) -> list[str]:
        """Individual names."""
        return [str(i) for i in self.poses["individual"].values]

    @property
    def keypoints(self) -> list[str]:
        """Keypoint names."""
        return [str(k) for k in self.poses["keypoint"].values]


@dataclass(frozen=True)
class Track:
    """One animal in one session: the unit that is annotated and classified."""

    key: str
    session: str
    individual: str


# ---------------------------------------------------------------- discovery


def default_input(project: Project | None) -> Path | None:
    """The file the app opens first: the project's newest predictions, else the demo's
    ground truth (``ground-truth/*_keypoints.h5``); ``None`` if there is none.

    Parameters
    ----------
    project
        The project (``None``: no default).

    Returns
    -------
    Path or None
    """
    if project is None:
        return None
    from .trajectory_viewer import prediction_files

    files = prediction_files(project)
    return files[0] if files else None


def labels_file_for(
    path: str | os.PathLike | None, project: Project | None = None
) -> Path | None:
    """Behaviour labels that belong to a tracking file, if any: the demo's
    ``<video>_behavior.csv`` beside ``<video>_keypoints.h5`` (or in the project's
    ``ground-truth/``).

    Examples
    --------
    >>> labels_file_for("/nonexistent/session1_keypoints.h5") is None
    True
    """
    if path is None:
        return None
    path = Path(path)
    stem = path.stem.removesuffix("_keypoints")
    folders = [path.parent]
    if project is not None:
        folders.append(Path(project.path) / "ground-truth")
    for video_stem in dict.fromkeys([stem, stem.split("DLC")[0]]):
        for folder in folders:
            candidate = folder / f"{video_stem}_behavior.csv"
            if candidate.is_file():
                return candidate
    return None


def _html_table(
    df: pd.DataFrame | None, css: str, empty: str, max_rows: int = 200
) -> str:
    if df is None or df.empty:
        return f"<div class='{css}-empty'><i>{html.escape(empty)}</i></div>"
    shown = df.head(max_rows).copy()
    for col in shown.columns:  # nullable integers (ROI latency): "–" where missing
        if isinstance(shown[col].dtype, pd.api.extensions.ExtensionDtype) and (
            pd.api.types.is_integer_dtype(shown[col].dtype)
        ):
            shown[col] = shown[col].astype(object).where(shown[col].notna(), "–")
    table = shown.to_html(
        index=False, classes=css, float_format=lambda v: f"{v:.3f}", na_rep="–",
        border=0,
    )  # fmt: skip
    more = (
        f"<small>(first {max_rows} of {len(df)} rows; all rows are exported)</small>"
        if len(df) > max_rows
        else ""
    )
    style = (
        f"<style>table.{css} th, table.{css} td "
        "{padding: 2px 8px; text-align: right; white-space: nowrap}</style>"
    )
    return f"{style}<div style='max-height:320px;overflow:auto'>{table}</div>{more}"


# ---------------------------------------------------------------- model


class BehaviorModel:
    """State and computations of the behaviour app (no widgets).

    Parameters
    ----------
    project
        The project (gives the default input, the videos and the output folder).
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
        Frame rate and pixel size.
    keypoint : str or None
        Keypoint used for ROIs, distance and speed (``None``: the centroid).
    rois : list of ROI
        The regions of interest.
    annotations : dict
        Track key → per-frame labels marked by the user (``background`` elsewhere).
    predictions : dict
        Track key → predicted per-frame labels (behaviours or motifs).
    background : str
        Label of frames without a behaviour.
    """

    def __init__(
        self,
        project: Project | None = None,
        *,
        output_dir: str | os.PathLike | None = None,
        windows: Sequence[int] = (5, 15, 45),
    ) -> None:
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
        self.rois: list[ROI] = []
        self.background = "none"
        self.annotations: dict[str, np.ndarray] = {}
        self.predictions: dict[str, np.ndarray] = {}
        self.prediction_kind = ""
        self.classifier: BehaviorClassifier | None = None
        self.cv_result: BehaviorCVResult | None = None
        self.clusterer: BehaviorClusterer | None = None
        self.motif_table: pd.DataFrame | None = None
        self.load_errors: list[str] = []
        self._cache: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------ loading
    def session(self, name: str) -> Session:
        """The session called ``name``.

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

    def _unique_name(self, stem: str, taken: set[str]) -> str:
        name, k = stem, 2
        while name in taken:
            name, k = f"{stem}_{k}", k + 1
        return name

    def load(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        groups: Sequence[str] | str | None = None,
        *,
        replace: bool = True,
        progress: Callable[[int, int, str], None] | None = None,
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
            The sessions loaded now. Files that fail are skipped and described in
            :attr:`load_errors`.

        Raises
        ------
        ValueError
            If no file could be loaded (the message lists why).
        """
        from ..engine.io import load_poses
        from ..engine.project import find_video

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
        for i, (path, group) in enumerate(zip(paths, groups, strict=True)):
            try:
                poses = load_poses(path)
                video = find_video(path, self.project)
                name = self._unique_name(path.stem, taken)
                taken.add(name)
                loaded.append(Session(name, path, str(group or ""), poses, video))
            except Exception as err:  # noqa: BLE001 - reported, the batch goes on
                self.load_errors.append(f"{path.name}: {type(err).__name__}: {err}")
                logger.warning("cannot load %s: %s", path, err)
            if progress is not None:
                progress(i + 1, len(paths), path.name)
        if not loaded:
            raise ValueError("no file could be loaded:\n" + "\n".join(self.load_errors))
        self.sessions = kept + loaded
        if self.calibration.fps is None:
            fps = self._guess_fps(loaded[0])
            if fps:
                self.calibration = Calibration(self.calibration.mm_per_px, fps)
        self._invalidate()
        self.annotations = {
            k: v for k, v in self.annotations.items() if k in self.track_keys()
        }
        self.predictions = {}
        self.prediction_kind = ""
        return loaded

    def add_dataset(
        self, poses: xr.Dataset, name: str = "session", group: str = ""
    ) -> Session:
        """Add a poses Dataset directly (no file)."""
        from ..engine.poses import validate

        name = self._unique_name(name, {s.name for s in self.sessions})
        session = Session(name, None, group, validate(poses), None)
        self.sessions.append(session)
        if self.calibration.fps is None and poses.attrs.get("fps"):
            self.calibration = Calibration(
                self.calibration.mm_per_px, float(poses.attrs["fps"])
            )
        self._invalidate()
        return session

    def _guess_fps(self, session: Session) -> float | None:
        fps = session.poses.attrs.get("fps")
        if fps:
            return float(fps)
        if session.video is not None:
            try:
                from ..engine.video import VideoReader

                return float(VideoReader(session.video).fps) or None
            except Exception:  # noqa: BLE001 - unreadable video: no fps
                return None
        return None

    @staticmethod
    def find_files(folder: str | os.PathLike, pattern: str = "*.h5") -> list[Path]:
        """Tracking files in ``folder`` matching ``pattern`` (sorted).

        Raises
        ------
        FileNotFoundError
            If the folder does not exist.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"No folder at {folder}")
        return sorted(
            p for p in folder.glob(pattern or "*")
            if p.is_file() and p.suffix.lower() in TRACKING_SUFFIXES
        )  # fmt: skip

    def load_path(
        self,
        path: str | os.PathLike,
        pattern: str = "*.h5",
        *,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> list[Session]:
        """Load a tracking file, every matching file of a folder, or a sessions table.

        A sessions table is a ``.csv`` with a ``file`` (or ``path``) column and
        optionally ``group`` (relative paths are relative to the table).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the folder has no matching file or nothing loads.
        """
        path = Path(str(path).strip()).expanduser()
        if path.is_dir():
            files = self.find_files(path, pattern)
            if not files:
                raise ValueError(f"no tracking file matching {pattern!r} in {path}")
            return self.load(files, progress=progress)
        if not path.is_file():
            raise FileNotFoundError(f"No file or folder at {path}")
        if path.suffix.lower() == ".csv":
            head = pd.read_csv(path, nrows=0)
            col = next((c for c in ("file", "path") if c in head.columns), None)
            if col is not None:
                table = pd.read_csv(path, dtype=str).fillna("")
                files = [
                    p if Path(p).is_absolute() else path.parent / p for p in table[col]
                ]
                groups = table["group"].tolist() if "group" in table else None
                return self.load(files, groups, progress=progress)
        return self.load([path], progress=progress)

    def set_group(self, name: str, group: str) -> None:
        """Set the group of session ``name``."""
        self.session(name).group = str(group)

    def sessions_table(self) -> pd.DataFrame:
        """One row per session: name, group, file, frames, individuals, keypoints."""
        return pd.DataFrame(
            [
                {
                    "session": s.name,
                    "group": s.group,
                    "file": str(s.path) if s.path else "",
                    "frames": s.n_frames,
                    "individuals": ", ".join(s.individuals),
                    "keypoints": len(s.keypoints),
                    "video": str(s.video) if s.video else "",
                }
                for s in self.sessions
            ],
            columns=[
                "session",
                "group",
                "file",
                "frames",
                "individuals",
                "keypoints",
                "video",
            ],
        )

    # ------------------------------------------------------------ tracks
    def tracks(self) -> list[Track]:
        """Every (session, individual); the key is the session name, plus
        ``/individual`` when a session has several animals."""
        out = []
        for s in self.sessions:
            many = len(s.individuals) > 1
            for ind in s.individuals:
                key = f"{s.name}/{ind}" if many else s.name
                out.append(Track(key, s.name, ind))
        return out

    def track_keys(self) -> list[str]:
        """Keys of :meth:`tracks`."""
        return [t.key for t in self.tracks()]

    def track(self, key: str) -> Track:
        """The track with ``key``.

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
        """Set the frame rate and pixel size (``None`` or 0: unknown / stay in pixels).

        Raises
        ------
        ValueError
            If a value is negative or not a number.
        """
        self.calibration = Calibration(mm_per_px=mm_per_px or None, fps=fps or None)
        self._invalidate()
        return self.calibration

    def set_keypoint(self, keypoint: str | None) -> None:
        """Keypoint for ROIs, distance and speed (``None`` or ``""``: the centroid)."""
        self.keypoint = keypoint or None
        self._cache.clear()

    def set_rois(self, rois: Iterable[ROI]) -> None:
        """Replace the ROIs."""
        self.rois = list(rois)
        for key in [k for k in self._cache if k[0] == "occupancy"]:
            del self._cache[key]

    def _invalidate(self) -> None:
        self._cache.clear()

    def _cached(self, kind: str, name: str, make: Callable[[], Any]) -> Any:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # ------------------------------------------------------------ processing
    def cleaned(self, name: str) -> xr.Dataset:
        """Session ``name`` after cleaning, in pixels, with the frame rate applied."""
        from ..engine.behavior.filters import filter_poses

        def make() -> xr.Dataset:
            ds = filter_poses(self.session(name).poses, config=self.filter_config)
            if self.calibration.fps:
                ds = Calibration(fps=self.calibration.fps).apply(ds)
            return ds

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
        """Position of the chosen keypoint (or the centroid): dims ``time, space,
        individual``."""
        from ..engine.behavior.kinematics import compute_centroid

        ds = self.calibrated(name) if calibrated else self.cleaned(name)
        pos = ds["position"]
        if self.keypoint is None:
            out = compute_centroid(pos)
        else:
            if self.keypoint not in [str(k) for k in pos["keypoint"].values]:
                raise ValueError(f"session {name!r} has no keypoint {self.keypoint!r}")
            out = pos.sel(keypoint=self.keypoint, drop=True)
        out.attrs = {**pos.attrs, **out.attrs}
        return out

    def processing_log(self, name: str) -> list[dict[str, Any]]:
        """The steps applied to session ``name`` (``attrs["log"]``)."""
        from ..engine.behavior.filters import get_log

        return get_log(self.calibrated(name))

    # ------------------------------------------------------------ metrics
    def kinematics_table(self) -> pd.DataFrame:
        """Per session and individual: duration, observed fraction, distance, speed
        (mean, median, max), straightness, with their units."""
        from ..engine.behavior.kinematics import (
            compute_path_length,
            compute_speed,
            compute_straightness,
        )

        rows = []
        fps = self.calibration.fps
        for s in self.sessions:
            point = self.point(s.name)
            unit = point.attrs.get("space_unit", "px")
            speed = compute_speed(point, per="second" if fps else "frame")
            length = compute_path_length(point)
            straight = compute_straightness(point)
            for ind in s.individuals:
                p = point.sel(individual=ind)
                sp = np.asarray(speed.sel(individual=ind).values, float)
                observed = float(np.mean(np.isfinite(p.values).all(axis=-1)))
                finite = sp[np.isfinite(sp)]
                rows.append(
                    {
                        "session": s.name,
                        "group": s.group,
                        "individual": ind,
                        "frames": s.n_frames,
                        "duration_s": s.n_frames / fps if fps else math.nan,
                        "observed_fraction": observed,
                        "distance": float(length.sel(individual=ind)),
                        "mean_speed": float(finite.mean()) if finite.size else math.nan,
                        "median_speed": float(np.median(finite))
                        if finite.size
                        else math.nan,
                        "max_speed": float(finite.max()) if finite.size else math.nan,
                        "straightness": float(straight.sel(individual=ind)),
                        "distance_unit": unit,
                        "speed_unit": speed.attrs.get("units", ""),
                    }
                )
        return pd.DataFrame(rows)

    def occupancy(self, name: str) -> xr.DataArray | None:
        """ROI occupancy of session ``name`` (``None`` without ROIs)."""
        from ..engine.behavior.roi import compute_roi_occupancy

        if not self.rois:
            return None

        def make() -> xr.DataArray:
            return compute_roi_occupancy(
                self.cleaned(name), self.rois, keypoint=self.keypoint
            )

        return self._cached("occupancy", name, make)

    def _per_session(
        self, fn: Callable[[Session, xr.DataArray], pd.DataFrame]
    ) -> pd.DataFrame:
        parts = []
        for s in self.sessions:
            occ = self.occupancy(s.name)
            if occ is None:
                continue
            part = fn(s, occ)
            part.insert(0, "group", s.group)
            part.insert(0, "session", s.name)
            parts.append(part)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def roi_table(self) -> pd.DataFrame:
        """Per session, individual and ROI: time and fraction inside, entries, exits,
        latency to the first entry (whole frames; empty if never inside), bouts
        (:func:`~posekit.engine.behavior.roi.roi_summary`)."""
        from ..engine.behavior.roi import roi_summary

        table = self._per_session(
            lambda s, occ: roi_summary(occ, fps=self.calibration.fps)
        )
        if "latency" in table:
            table["latency"] = table["latency"].astype("Int64")
        return table

    def roi_bouts_table(self) -> pd.DataFrame:
        """Every visit to every ROI (:func:`~posekit.engine.behavior.roi.roi_bouts`)."""
        from ..engine.behavior.roi import roi_bouts

        return self._per_session(
            lambda s, occ: roi_bouts(occ, fps=self.calibration.fps)
        )

    def zone_transitions_table(self) -> pd.DataFrame:
        """Transitions between ROIs per session (long format: ``from, to, count``)."""
        from ..engine.behavior.roi import compute_zone_sequence, zone_transitions

        def one(s: Session, occ: xr.DataArray) -> pd.DataFrame:
            counts = zone_transitions(compute_zone_sequence(occ))
            long = counts.stack().rename("count").reset_index()
            long.columns = ["from", "to", "count"]
            return long[long["from"] != long["to"]].reset_index(drop=True)

        return self._per_session(one)

    # ------------------------------------------------------------ features
    def features(self, key: str) -> pd.DataFrame:
        """Window features of track ``key`` (rows: frames, columns: features)."""
        from ..engine.behavior.features import compute_window_features

        track = self.track(key)
        feats = self._cached(
            "features",
            track.session,
            lambda: compute_window_features(
                self.calibrated(track.session), windows=self.windows
            ),
        )
        one = feats.sel(individual=track.individual)
        return pd.DataFrame(
            np.asarray(one.values), columns=[str(f) for f in one["feature"].values]
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

    def training_data(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and labels of every marked frame (tracks in order, frames in
        time order).

        Raises
        ------
        ValueError
            If fewer than two behaviours are marked.
        """
        xs, ys = [], []
        for key, labels in self.annotations.items():
            if key not in self.track_keys():
                continue
            mask = labels != self.background
            if mask.any():
                xs.append(self.features(key)[mask])
                ys.append(labels[mask])
        y = np.concatenate(ys) if ys else np.array([], dtype=str)
        if len(set(y.tolist())) < 2:
            raise ValueError(
                "mark bouts of at least two behaviours (in the ethogram annotator, or "
                "load a labels file) before training"
            )
        return pd.concat(xs, ignore_index=True), y

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
        """Cross-validate (contiguous blocks) and fit a
        :class:`~posekit.engine.behavior.classify.BehaviorClassifier` on the marked
        frames.

        Returns
        -------
        BehaviorCVResult
            Precision, recall, F1 per behaviour and the confusion matrix.

        Raises
        ------
        ValueError
            If fewer than two behaviours are marked.
        """
        from ..engine.behavior.classify import (
            BehaviorClassifier,
            cross_validate_behavior,
        )

        X, y = self.training_data()
        clf = BehaviorClassifier(
            model=model,  # type: ignore[arg-type]
            n_estimators=int(n_estimators),
            min_bout=int(min_bout),
            threshold=threshold,
            background=self.background,
            random_state=random_state,
        )
        splits = int(min(n_splits, max(2, len(y) // 20)))
        self.cv_result = cross_validate_behavior(clf, X, y, n_splits=splits)
        self.classifier = clf.fit(X, y)
        return self.cv_result

    def predict(self) -> dict[str, np.ndarray]:
        """Classify every frame of every track with the trained classifier.

        Raises
        ------
        RuntimeError
            If no classifier was trained.
        """
        if self.classifier is None:
            raise RuntimeError("train the classifier first")
        self.predictions = {
            key: np.asarray(self.classifier.predict(self.features(key))).astype(str)
            for key in self.track_keys()
        }
        self.prediction_kind = "classifier"
        self.motif_table = None
        return self.predictions

    # ------------------------------------------------------------ unsupervised
    def cluster(
        self,
        n_motifs: int = 6,
        *,
        method: str = "gmm",
        n_components: int | None = 10,
        max_frames: int = 20_000,
        random_state: int = 0,
    ) -> dict[str, np.ndarray]:
        """Find motifs over every track (:class:`~posekit.engine.behavior.cluster.BehaviorClusterer`);
        the predictions become ``motif0``, ``motif1``, ….

        Parameters
        ----------
        n_motifs, method, n_components, random_state
            As for ``BehaviorClusterer``.
        max_frames
            Fit on at most this many frames (evenly spaced); every frame is labelled.

        Returns
        -------
        dict
            Track key → motif labels.

        Raises
        ------
        ValueError
            If nothing is loaded.
        """
        from ..engine.behavior.cluster import BehaviorClusterer, motif_examples

        keys = self.track_keys()
        if not keys:
            raise ValueError("load tracking files first")
        feats = {k: self.features(k) for k in keys}
        X = pd.concat(feats.values(), ignore_index=True)
        step = max(1, math.ceil(len(X) / max_frames))
        self.clusterer = BehaviorClusterer(
            n_motifs=int(n_motifs),
            method=method,  # type: ignore[arg-type]
            n_components=n_components,
            random_state=random_state,
        ).fit(X.iloc[::step])
        self.predictions = {
            k: np.array([f"motif{int(m)}" for m in self.clusterer.predict(f)])
            for k, f in feats.items()
        }
        self.prediction_kind = "motifs"
        parts = []
        for k, labels in self.predictions.items():
            part = motif_examples(labels, n_examples=3, fps=self.calibration.fps)
            part.insert(0, "track", k)
            parts.append(part)
        self.motif_table = pd.concat(parts, ignore_index=True)
        return self.predictions

    # ------------------------------------------------------------ ethogram tables
    def _group_of(self, key: str) -> str:
        return self.session(self.track(key).session).group

    def behavior_bouts_table(self) -> pd.DataFrame:
        """Bouts of the predicted labels: track, session, group, behaviour, start,
        end, duration (+ seconds)."""
        from ..engine.behavior.ethogram import labels_to_bouts

        parts = []
        for key, labels in self.predictions.items():
            t = self.track(key)
            b = labels_to_bouts(
                labels, fps=self.calibration.fps, ignore=[self.background]
            )
            b.insert(0, "individual", t.individual)
            b.insert(0, "group", self._group_of(key))
            b.insert(0, "session", t.session)
            b.insert(0, "track", key)
            parts.append(b)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def behavior_summary_table(self) -> pd.DataFrame:
        """Per track and behaviour: bouts, total and mean duration, latency, fraction
        (:func:`~posekit.engine.behavior.ethogram.bout_summary`)."""
        from ..engine.behavior.ethogram import bout_summary

        bouts = self.behavior_bouts_table()
        if bouts.empty:
            return pd.DataFrame()
        n_frames = {
            k: self.session(self.track(k).session).n_frames for k in self.predictions
        }
        table = bouts.drop(columns=["individual"]).rename(
            columns={"track": "individual"}
        )
        out = bout_summary(table, n_frames=n_frames, fps=self.calibration.fps)
        out = out.rename(columns={"individual": "track"})
        out.insert(1, "group", out["track"].map(self._group_of))
        return out

    def group_summary_table(self) -> pd.DataFrame:
        """Mean, SD, SEM and count per group and behaviour (when groups are set)."""
        from ..engine.behavior.ethogram import group_summary

        summary = self.behavior_summary_table()
        if summary.empty or not any(s.group for s in self.sessions):
            return pd.DataFrame()
        table = summary.rename(columns={"track": "individual"}).drop(columns=["group"])
        groups = {k: (self._group_of(k) or "(none)") for k in table["individual"]}
        out = group_summary(table, groups)
        out.columns = [f"{a}_{b}" for a, b in out.columns]
        return out.reset_index()

    def behavior_transitions_table(self) -> pd.DataFrame:
        """Bout-to-bout transitions per track (long format: ``from, to, count``)."""
        from ..engine.behavior.ethogram import transition_matrix

        parts = []
        for key, labels in self.predictions.items():
            m = transition_matrix(labels, ignore=[self.background])
            long = m.stack().rename("count").reset_index()
            long.columns = ["from", "to", "count"]
            long = long[long["from"] != long["to"]]
            long.insert(0, "track", key)
            parts.append(long)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every non-empty result table by name (see :data:`TABLE_FILES`)."""
        out: dict[str, pd.DataFrame] = {}
        if not self.sessions:
            return out
        out["sessions"] = self.sessions_table()
        out["kinematics"] = self.kinematics_table()
        out["roi_summary"] = self.roi_table()
        out["roi_bouts"] = self.roi_bouts_table()
        out["zone_transitions"] = self.zone_transitions_table()
        out["behavior_bouts"] = self.behavior_bouts_table()
        out["behavior_summary"] = self.behavior_summary_table()
        out["group_summary"] = self.group_summary_table()
        out["behavior_transitions"] = self.behavior_transitions_table()
        if self.cv_result is not None:
            out["classifier_scores"] = self.cv_result.scores.reset_index()
            out["confusion_matrix"] = self.cv_result.confusion.reset_index()
        if self.motif_table is not None:
            out["motif_examples"] = self.motif_table
        return {k: v for k, v in out.items() if not v.empty}

    # ------------------------------------------------------------ export
    def image_size(self, name: str) -> tuple[int, int] | None:
        """``(width, height)`` of the session's video (``None`` without one)."""
        s = self.session(name)
        if s.video is None:
            return None
        try:
            from ..engine.video import VideoReader

            r = VideoReader(s.video)
            return int(r.width), int(r.height)
        except Exception:  # noqa: BLE001 - unreadable video: free axes
            return None

    def figures(self, name: str) -> dict[str, Any]:
        """The figures of session ``name``: trajectory, heatmap, speed and (with
        predictions or marks) ethogram, as matplotlib Figures."""
        from ..engine.behavior.export import (
            plot_ethogram,
            plot_occupancy_heatmap,
            plot_speed,
            plot_trajectory,
        )
        from ..engine.behavior.kinematics import compute_speed
        from ..engine.behavior.roi import compute_occupancy_heatmap

        pixels = self.point(name, calibrated=False)
        size = self.image_size(name)
        figs: dict[str, Any] = {
            "trajectory": plot_trajectory(pixels, rois=self.rois, image_size=size),
        }
        try:
            extent = (-0.5, size[0] - 0.5, -0.5, size[1] - 0.5) if size else None
            heat = compute_occupancy_heatmap(pixels, bins=40, extent=extent)
            figs["heatmap"] = plot_occupancy_heatmap(heat, rois=self.rois)
        except ValueError:  # no valid position
            pass
        point = self.point(name)
        figs["speed"] = plot_speed(
            compute_speed(point, per="second" if self.calibration.fps else "frame")
        )
        tracks = [t for t in self.tracks() if t.session == name]
        labels = {
            t.individual: self.predictions.get(t.key, self.annotations.get(t.key))
            for t in tracks
        }
        labels = {k: v for k, v in labels.items() if v is not None}
        if labels:
            figs["ethogram"] = plot_ethogram(
                labels, fps=self.calibration.fps, ignore=[self.background]
            )
        return figs

    def settings(self) -> dict[str, Any]:
        """The settings used (cleaning, calibration, keypoint, sessions), for the
        record written beside the results."""
        return {
            "filter": self.filter_config.to_dict(),
            "calibration": self.calibration.to_dict(),
            "keypoint": self.keypoint,
            "feature_windows": list(self.windows),
            "sessions": [
                {
                    "name": s.name,
                    "group": s.group,
                    "file": str(s.path) if s.path else None,
                }
                for s in self.sessions
            ],
            "rois": [r.to_feature() for r in self.rois],
            "predictions": self.prediction_kind,
        }

    def export(
        self,
        folder: str | os.PathLike | None = None,
        *,
        csv: bool = True,
        excel: bool = True,
        figure_formats: Sequence[str] = ("png", "svg"),
        progress: Callable[[int, int, str], None] | None = None,
    ) -> list[Path]:
        """Write the tables, figures, ROIs and settings into ``folder``.

        Parameters
        ----------
        folder
            Output folder (default :attr:`output_dir`; created if needed).
        csv
            One CSV per table (``<table>.csv``, see :data:`TABLE_FILES`).
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
        from ..engine._fileio import atomic_write_text
        from ..engine.behavior.export import save_figure, save_table, save_tables
        from ..engine.behavior.roi import save_rois

        if not self.sessions:
            raise ValueError("load tracking files before exporting")
        bad = sorted(set(figure_formats) - {"png", "svg"})
        if bad:
            raise ValueError(f"figure formats must be 'png' or 'svg'; received {bad}")
        out = Path(folder) if folder is not None else self.output_dir
        out.mkdir(parents=True, exist_ok=True)
        tables = self.tables()
        total = (
            (len(tables) if csv else 0)
            + (1 if excel and tables else 0)
            + len(self.sessions) * len(figure_formats)
            + (1 if self.rois else 0)
            + 1
        )
        written: list[Path] = []
        steps = 0

        def step(paths: Sequence[Path], label: str) -> None:
            nonlocal steps
            written.extend(paths)
            steps += 1
            if progress is not None:
                progress(steps, total, label)

        if csv:
            for name, table in tables.items():
                path = save_table(table, out / f"{TABLE_FILES[name]}.csv")
                step([path], path.name)
        if excel and tables:
            step([save_tables(tables, out / "behavior_tables.xlsx")], "Excel workbook")
        for s in self.sessions if figure_formats else ():
            figs = self.figures(s.name)
            for fmt in figure_formats:
                paths = [
                    save_figure(fig, out / f"{s.name}_{fig_name}.{fmt}")
                    for fig_name, fig in figs.items()
                ]
                step(paths, f"{s.name} figures ({fmt})")
        if self.rois:
            step([save_rois(self.rois, out / "rois.geojson")], "rois.geojson")
        settings = json.dumps(self.settings(), indent=2, default=str)
        step([atomic_write_text(out / "settings.json", settings)], "settings.json")
        logger.info("behaviour results: %d files in %s", len(written), out)
        return written


# ---------------------------------------------------------------- app


_SMOOTHERS = {
    "none": "none",
    "median": "median",
    "Savitzky–Golay": "savgol",
    "Butterworth": "butterworth",
    "Kalman": "kalman",
}


class BehaviorApp:
    """The behaviour app's page on a :class:`BehaviorModel` (display it, or
    ``.widget``).

    Parameters
    ----------
    project
        The project (default input, videos, output folder).
    path
        File, folder or sessions table to load first (default: the ``poses``
        parameter of the page's address, else :func:`default_input`).
    output_dir
        Where the export goes (default ``<project>/behavior-results``).
    autoload
        Load ``path`` at once.
    load_bokehjs
        Load BokehJS into the page first (turn off in tests).

    Attributes
    ----------
    model : BehaviorModel
        State and computations.
    roi_editor : ROIEditor
        The ROI editor.
    annotator : EthogramAnnotator or None
        The annotator of the chosen track.
    widget
        The page.
    """

    def __init__(
        self,
        project: Project | None = None,
        *,
        path: str | os.PathLike | None = None,
        output_dir: str | os.PathLike | None = None,
        autoload: bool = True,
        load_bokehjs: bool = True,
    ) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox, ensure_bokehjs
        from .app import query_params
        from .roi_editor import ROIEditor

        if load_bokehjs:
            ensure_bokehjs()
        self.load_bokehjs = load_bokehjs
        self.project = project
        self.model = BehaviorModel(project, output_dir=output_dir)
        self.annotator: EthogramAnnotator | None = None
        self._group_boxes: dict[str, Any] = {}
        self._quiet = False
        chosen = path or query_params().get("poses") or default_input(project)
        style = {"description_width": "initial"}

        def header(text: str) -> Any:
            return w.HTML(f"<h3 style='margin:14px 0 4px 0'>{html.escape(text)}</h3>")

        def message() -> Any:
            m = w.HTML()
            m.add_class("posekit-behavior-message")
            return m

        # --- 1. load
        self.path_box = w.Text(
            value=str(chosen or ""), description="file, folder or sessions table",
            placeholder="tracking file (.h5/.csv/.slp/.nc), a folder, or a file,group CSV",
            style=style, layout=w.Layout(width="720px"),
        )  # fmt: skip
        self.path_box.add_class("posekit-behavior-path")
        self.pattern_box = w.Text(value="*.h5", description="files in a folder",
                                  style=style, layout=w.Layout(width="220px"))  # fmt: skip
        self.load_button = w.Button(description="Load", icon="folder-open",
                                    button_style="primary")  # fmt: skip
        self.load_button.add_class("posekit-behavior-load")
        self.load_button.on_click(lambda _: self._guard(self.load_message, self.load))
        self.load_progress = w.IntProgress(
            min=0, max=1, value=0, description="files",
            layout=w.Layout(width="320px", visibility="hidden"),
        )  # fmt: skip
        self.load_message = message()
        self.sessions_box = w.VBox()
        self.sessions_box.add_class("posekit-sessions")

        # --- 2. clean
        self.threshold = w.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.01, description="likelihood threshold",
            style=style, continuous_update=False, layout=w.Layout(width="380px"),
        )  # fmt: skip
        self.jump_k = w.BoundedFloatText(
            value=0.0, min=0.0, max=100.0, step=0.1,
            description="remove jumps > (body lengths, 0: off)", style=style,
            layout=w.Layout(width="330px"),
        )  # fmt: skip
        self.body_from = w.Dropdown(description="body from", options=[], style=style,
                                    layout=w.Layout(width="220px"))  # fmt: skip
        self.body_to = w.Dropdown(description="to", options=[], style=style,
                                  layout=w.Layout(width="180px"))  # fmt: skip
        self.max_gap = w.BoundedIntText(
            value=0, min=0, max=10_000, description="interpolate gaps ≤ (frames, 0: off)",
            style=style, layout=w.Layout(width="330px"),
        )  # fmt: skip
        self.smoother = w.Dropdown(options=list(_SMOOTHERS.items()), value="none",
                                   description="smoothing", style=style)  # fmt: skip
        self.window = w.BoundedIntText(value=5, min=1, max=501, step=2,
                                       description="window (frames)", style=style,
                                       layout=w.Layout(width="200px"))  # fmt: skip
        self.cutoff = w.BoundedFloatText(value=5.0, min=0.01, max=1000.0,
                                         description="cut-off (Hz)", style=style,
                                         layout=w.Layout(width="200px"))  # fmt: skip
        self.clean_button = w.Button(description="Apply cleaning", icon="filter")
        self.clean_button.on_click(
            lambda _: self._guard(self.clean_message, self.apply_cleaning)
        )
        self.clean_message = message()
        self.log_box = w.HTML()

        # --- 3. calibrate
        self.fps = w.BoundedFloatText(value=0.0, min=0.0, max=10_000.0,
                                      description="frames per second (0: unknown)",
                                      style=style, layout=w.Layout(width="300px"))  # fmt: skip
        self.mm_per_px = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.001,
                                            description="mm per pixel (0: pixels)",
                                            style=style, layout=w.Layout(width="300px"))  # fmt: skip
        self.arena_px = w.BoundedFloatText(value=0.0, min=0.0, max=1e6,
                                           description="arena width: px", style=style,
                                           layout=w.Layout(width="200px"))  # fmt: skip
        self.arena_mm = w.BoundedFloatText(value=0.0, min=0.0, max=1e6,
                                           description="mm", style=style,
                                           layout=w.Layout(width="150px"))  # fmt: skip
        self.arena_button = w.Button(description="Scale from arena", icon="arrows-h")
        self.arena_button.on_click(
            lambda _: self._guard(self.calib_message, self.scale_from_arena)
        )
        self.keypoint = w.Dropdown(description="keypoint for ROIs, distance, speed",
                                   options=[("centroid", "")], style=style,
                                   layout=w.Layout(width="420px"))  # fmt: skip
        self.calib_button = w.Button(description="Apply calibration", icon="check")
        self.calib_button.on_click(
            lambda _: self._guard(self.calib_message, self.apply_calibration)
        )
        self.calib_message = message()

        # --- 4. ROIs
        self.roi_editor: ROIEditor = ROIEditor(size=(640, 480), load_bokehjs=False)
        self.roi_editor.path_box.value = str(self.model.output_dir / "rois.geojson")
        self.roi_editor.on_change(self._on_rois)

        # --- 5. metrics
        self.kinematics_html = w.HTML()
        self.kinematics_html.add_class("posekit-kinematics-table")
        self.roi_html = w.HTML()
        self.roi_html.add_class("posekit-roi-table")
        self.roi_bouts_html = w.HTML()
        self.roi_bouts_html.add_class("posekit-roi-bouts-table")

        # --- 6. classify
        self.track_dropdown = w.Dropdown(description="animal", options=[], style=style,
                                         layout=w.Layout(width="420px"))  # fmt: skip
        self.track_dropdown.observe(self._on_track, "value")
        self.labels_path = w.Text(description="labels file", style=style,
                                  placeholder="frame,behavior CSV or behavior,start,end CSV",
                                  layout=w.Layout(width="560px"))  # fmt: skip
        self.labels_load = w.Button(description="Load labels", icon="folder-open")
        self.labels_load.on_click(
            lambda _: self._guard(self.classify_message, self.load_labels)
        )
        self.labels_save = w.Button(description="Save labels", icon="save")
        self.labels_save.on_click(
            lambda _: self._guard(self.classify_message, self.save_labels)
        )
        self.annotator_box = LiveVBox()
        self.clf_model = w.Dropdown(options=[("random forest", "random_forest"),
                                             ("gradient boosting", "gradient_boosting")],
                                    description="model", style=style)  # fmt: skip
        self.n_estimators = w.BoundedIntText(value=100, min=1, max=2000,
                                             description="trees", style=style,
                                             layout=w.Layout(width="160px"))  # fmt: skip
        self.min_bout = w.BoundedIntText(value=5, min=1, max=10_000,
                                         description="min bout (frames)", style=style,
                                         layout=w.Layout(width="200px"))  # fmt: skip
        self.train_button = w.Button(
            description="Train + cross-validate", icon="graduation-cap"
        )
        self.train_button.on_click(
            lambda _: self._guard(self.classify_message, self.train)
        )
        self.predict_button = w.Button(description="Predict all", icon="magic")
        self.predict_button.on_click(
            lambda _: self._guard(self.classify_message, self.predict)
        )
        self.n_motifs = w.BoundedIntText(value=6, min=1, max=100, description="motifs",
                                         style=style, layout=w.Layout(width="160px"))  # fmt: skip
        self.cluster_method = w.Dropdown(options=[("Gaussian mixture", "gmm"),
                                                  ("k-means", "kmeans")],
                                         description="method", style=style)  # fmt: skip
        self.cluster_button = w.Button(description="Find motifs", icon="th")
        self.cluster_button.on_click(
            lambda _: self._guard(self.classify_message, self.cluster)
        )
        self.classify_message = message()
        self.scores_html = w.HTML()
        self.scores_html.add_class("posekit-classifier-scores")
        self.behavior_html = w.HTML()
        self.behavior_html.add_class("posekit-behavior-table")

        # --- 7. export
        self.output_box = w.Text(value=str(self.model.output_dir), description="output folder",
                                 style=style, layout=w.Layout(width="640px"))  # fmt: skip
        self.output_box.add_class("posekit-output-dir")
        self.export_csv = w.Checkbox(value=True, description="CSV", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_excel = w.Checkbox(value=True, description="Excel", indent=False,
                                       layout=w.Layout(width="80px"))  # fmt: skip
        self.export_png = w.Checkbox(value=True, description="PNG", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_svg = w.Checkbox(value=False, description="SVG", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_button = w.Button(description="Export", icon="download",
                                      button_style="success")  # fmt: skip
        self.export_button.add_class("posekit-behavior-export")
        self.export_button.on_click(
            lambda _: self._guard(self.export_message, self.export)
        )
        self.export_progress = w.IntProgress(min=0, max=1, value=0,
                                             layout=w.Layout(width="320px", visibility="hidden"))  # fmt: skip
        self.export_message = message()
        self.files_html = w.HTML()
        self.files_html.add_class("posekit-written-files")

        row = {"layout": w.Layout(flex_flow="row wrap", align_items="center")}
        self.widget = LiveVBox(
            [
                header("1. Load tracking files"),
                w.HBox([self.path_box], **row),
                w.HBox([self.pattern_box, self.load_button, self.load_progress], **row),
                self.load_message,
                self.sessions_box,
                header("2. Clean"),
                w.HBox([self.threshold, self.max_gap], **row),
                w.HBox([self.jump_k, self.body_from, self.body_to], **row),
                w.HBox([self.smoother, self.window, self.cutoff, self.clean_button], **row),
                self.clean_message,
                self.log_box,
                header("3. Calibrate"),
                w.HBox([self.fps, self.mm_per_px], **row),
                w.HBox([self.arena_px, self.arena_mm, self.arena_button], **row),
                w.HBox([self.keypoint, self.calib_button], **row),
                self.calib_message,
                header("4. Regions of interest"),
                self.roi_editor.widget,
                header("5. Metrics"),
                w.HTML("<b>Movement</b>"),
                self.kinematics_html,
                w.HTML("<b>Regions of interest</b> (latency: frames to the first frame inside)"),
                self.roi_html,
                w.HTML("<b>Visits</b>"),
                self.roi_bouts_html,
                header("6. Classify behaviour"),
                w.HTML("<small><b>Supervised</b>: mark bouts of each behaviour on the "
                       "timeline (or load a labels file), train, then predict every "
                       "session. <b>Unsupervised</b>: find motifs without labels. "
                       "Predictions show as extra rows on the timeline.</small>"),
                w.HBox([self.track_dropdown], **row),
                w.HBox([self.labels_path, self.labels_load, self.labels_save], **row),
                self.annotator_box,
                w.HBox([self.clf_model, self.n_estimators, self.min_bout,
                        self.train_button, self.predict_button], **row),
                w.HBox([self.n_motifs, self.cluster_method, self.cluster_button], **row),
                self.classify_message,
                self.scores_html,
                self.behavior_html,
                header("7. Export"),
                w.HBox([self.output_box], **row),
                w.HBox([self.export_csv, self.export_excel, self.export_png,
                        self.export_svg, self.export_button, self.export_progress], **row),
                self.export_message,
                self.files_html,
            ]
        )  # fmt: skip
        self.widget.add_class("posekit-behavior-app")
        self._refresh_all()
        if autoload and chosen:
            self._guard(self.load_message, self.load)

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        from ._bokeh import ensure_bokehjs

        ensure_bokehjs()
        display(self.widget)

    # ------------------------------------------------------------ plumbing
    def _guard(self, target: Any, fn: Callable[..., Any], *args: Any) -> Any:
        target.value = ""
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 - shown in the app
            logger.exception("behaviour app action failed")
            target.value = (
                f'<div style="color:#cf222e;white-space:pre-wrap"><b>'
                f"{html.escape(type(err).__name__)}</b>: {html.escape(str(err))}</div>"
            )
            return None

    def _progress(self, bar: Any) -> Callable[[int, int, str], None]:
        def update(done: int, total: int, name: str) -> None:
            bar.max = max(int(total), 1)
            bar.value = min(int(done), bar.max)
            bar.description = f"{done}/{total}"

        return update

    # ------------------------------------------------------------ 1. load
    def load(self, path: str | os.PathLike | None = None) -> list[Session]:
        """Load the file, folder or sessions table in the path box (or ``path``)."""
        if path is not None:
            self.path_box.value = str(path)
        if not self.path_box.value.strip():
            raise ValueError("type the path of a tracking file or a folder first")
        self.load_progress.layout.visibility = "visible"
        self.load_progress.value = 0
        loaded = self.model.load_path(
            self.path_box.value, self.pattern_box.value.strip() or "*",
            progress=self._progress(self.load_progress),
        )  # fmt: skip
        n = len(self.model.sessions)
        text = f"Loaded {len(loaded)} session(s); {n} in total."
        if self.model.load_errors:
            text += " Skipped: " + "; ".join(self.model.load_errors)
        self.load_message.value = (
            f"<span class='posekit-loaded'>{html.escape(text)}</span>"
        )
        self._after_load()
        return loaded

    def _after_load(self) -> None:
        m = self.model
        keypoints = m.sessions[0].keypoints if m.sessions else []
        self.keypoint.options = [("centroid", ""), *((k, k) for k in keypoints)]
        if m.keypoint in keypoints:
            self.keypoint.value = m.keypoint
        self.body_from.options = keypoints
        self.body_to.options = keypoints
        if keypoints:
            self.body_from.value = keypoints[-1]
            self.body_to.value = keypoints[0]
        self.fps.value = float(m.calibration.fps or 0.0)
        self._update_sessions()
        self._update_background()
        keys = m.track_keys()
        self._quiet = True  # one show_track below, not one per dropdown change
        try:
            self.track_dropdown.options = keys
            self.track_dropdown.value = keys[0] if keys else None
        finally:
            self._quiet = False
        self.annotator_box.children = []
        if self.annotator is not None:
            self.annotator.close()
            self.annotator = None
        if keys:
            self.show_track(keys[0])
        self._refresh_all()

    def _update_sessions(self) -> None:
        import ipywidgets as w

        from ._bokeh import close_widget_tree

        rows = [
            w.HTML(
                "<table class='posekit-sessions-head'><tr><th style='width:260px'>session"
                "</th><th style='width:80px'>frames</th><th style='width:160px'>"
                "individuals</th><th>group</th></tr></table>"
            )
        ]
        self._group_boxes = {}
        for s in self.model.sessions:
            box = w.Text(
                value=s.group, placeholder="group", layout=w.Layout(width="160px")
            )
            box.observe(
                lambda ch, name=s.name: self._set_group(name, ch["new"]), "value"
            )
            self._group_boxes[s.name] = box
            rows.append(
                w.HBox(
                    [
                        w.HTML(f"<code class='posekit-session-name'>{html.escape(s.name)}</code>",
                               layout=w.Layout(width="260px")),
                        w.HTML(str(s.n_frames), layout=w.Layout(width="80px")),
                        w.HTML(html.escape(", ".join(s.individuals)),
                               layout=w.Layout(width="160px")),
                        box,
                    ]
                )
            )  # fmt: skip
        previous = self.sessions_box.children
        self.sessions_box.children = rows
        for row in previous:
            close_widget_tree(row)

    def _set_group(self, name: str, group: str) -> None:
        self.model.set_group(name, group)

    def _update_background(self) -> None:
        """Show the first session's video frame (else a blank arena) under the ROIs."""
        m = self.model
        if not m.sessions:
            return
        s = m.sessions[0]
        if s.video is not None:
            try:
                from ..engine.video import VideoReader

                self.roi_editor.set_image(VideoReader(s.video)[0])
                return
            except Exception:  # noqa: BLE001 - unreadable video: blank arena
                logger.warning("cannot read a frame of %s", s.video)
        pos = s.poses["position"].values
        finite = pos[np.isfinite(pos)]
        extent = int(math.ceil(finite.max())) + 10 if finite.size else 640
        self.roi_editor.set_arena(extent, extent)

    # ------------------------------------------------------------ 2. clean
    def filter_config(self) -> FilterConfig:
        """The :class:`FilterConfig` the cleaning controls describe."""
        method = self.smoother.value
        if method not in SMOOTHING_METHODS:
            raise ValueError(f"unknown smoothing {method!r}")
        params: dict[str, Any] = {"method": method}
        if self.threshold.value > 0:
            params["confidence_threshold"] = float(self.threshold.value)
        if self.jump_k.value > 0:
            if not self.body_from.value or self.body_from.value == self.body_to.value:
                raise ValueError("jump removal needs two different body keypoints")
            params["jump_k"] = float(self.jump_k.value)
            params["body_length"] = (self.body_from.value, self.body_to.value)
        if self.max_gap.value > 0:
            params["max_gap"] = int(self.max_gap.value)
        window = int(self.window.value)
        if method in ("median", "savgol") and window % 2 == 0:
            window += 1
        params["window"] = window
        if method == "savgol":
            params["polyorder"] = min(2, window - 1)
        if method == "butterworth":
            params["cutoff"] = float(self.cutoff.value)
        return FilterConfig(**params)

    def apply_cleaning(self) -> FilterConfig:
        """Clean every session with the controls' settings and refresh the results."""
        config = self.model.set_cleaning(self.filter_config())
        self.clean_message.value = "<small>cleaning applied</small>"
        self._refresh_all()
        return config

    # ------------------------------------------------------------ 3. calibrate
    def scale_from_arena(self) -> float:
        """Set mm/pixel from the arena's width in pixels and in mm."""
        cal = Calibration.from_arena(self.arena_px.value, self.arena_mm.value)
        assert cal.mm_per_px is not None
        self.mm_per_px.value = round(cal.mm_per_px, 6)
        return cal.mm_per_px

    def apply_calibration(self) -> Calibration:
        """Apply the frame rate, pixel size and keypoint; refresh the results."""
        cal = self.model.set_calibration(
            self.fps.value or None, self.mm_per_px.value or None
        )
        self.model.set_keypoint(self.keypoint.value or None)
        self.calib_message.value = "<small>calibration applied</small>"
        if self.track_dropdown.value:
            self.show_track(self.track_dropdown.value)
        self._refresh_all()
        return cal

    # ------------------------------------------------------------ 4. ROIs
    def _on_rois(self, rois: list[ROI]) -> None:
        self.model.set_rois(rois)
        self._refresh_rois()

    # ------------------------------------------------------------ 5. metrics
    def _refresh_all(self) -> None:
        m = self.model
        if m.sessions:
            self.log_box.value = self._log_html()
            self.kinematics_html.value = _html_table(
                m.kinematics_table(), "posekit-kinematics", "nothing loaded"
            )
        else:
            self.log_box.value = ""
            self.kinematics_html.value = _html_table(
                None, "posekit-kinematics", "Load a tracking file first."
            )
        self._refresh_rois()
        self._refresh_behavior()

    def _log_html(self) -> str:
        m = self.model
        steps = m.processing_log(m.sessions[0].name)
        if not steps:
            return "<small>No processing yet (raw positions).</small>"
        items = []
        for step in steps:
            params = {
                k: v for k, v in step.items() if k not in ("operation", "timestamp")
            }
            items.append(
                f"<li><code>{html.escape(str(step.get('operation')))}</code> "
                f"{html.escape(json.dumps(params, default=str))}</li>"
            )
        return (
            "<small>Processing log:</small><ol style='font-size:small'>"
            + "".join(items)
            + "</ol>"
        )

    def _refresh_rois(self) -> None:
        m = self.model
        if not m.sessions:
            self.roi_html.value = _html_table(
                None, "posekit-roi", "Load a tracking file first."
            )
            self.roi_bouts_html.value = ""
            return
        if not m.rois:
            self.roi_html.value = _html_table(
                None,
                "posekit-roi",
                "Draw a region of interest (shift + drag on the frame).",
            )
            self.roi_bouts_html.value = ""
            return
        self.roi_html.value = _html_table(m.roi_table(), "posekit-roi", "no ROI")
        self.roi_bouts_html.value = _html_table(
            m.roi_bouts_table(), "posekit-roi-bouts", "No visit to any ROI."
        )

    # ------------------------------------------------------------ 6. classify
    def _on_track(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._guard(self.classify_message, self.show_track, change["new"])

    def show_track(self, key: str | None) -> EthogramAnnotator | None:
        """Show the annotator of track ``key`` (its marks and predictions)."""
        from .ethogram_annotator import EthogramAnnotator

        if not key:
            return None
        m = self.model
        track = m.track(key)
        session = m.session(track.session)
        labels = m.annotations.get(key)
        found = labels_file_for(session.path, m.project)
        behaviors: list[str] = []
        if self.annotator is not None:
            behaviors = self.annotator.behaviors
        elif found is not None:  # offer the behaviours of the labels file
            with contextlib.suppress(Exception):
                names = pd.read_csv(found, usecols=["behavior"])["behavior"]
                behaviors = [str(b) for b in pd.unique(names.astype(str))]
        annot = EthogramAnnotator(
            session.n_frames, behaviors, labels=labels, fps=m.calibration.fps,
            background=m.background, title=f"ethogram · {key}",
            load_bokehjs=False,
        )  # fmt: skip
        if key in m.predictions:
            annot.set_predictions(m.predictions[key])
        annot.on_change(lambda labels, k=key: m.set_annotation(k, labels))
        annot.bokeh_model.refresh()  # its view is made after this (see LiveBokehModel)
        previous, self.annotator = self.annotator, annot
        self.annotator_box.children = [annot.widget]
        if previous is not None:  # after it left the page (see close_widget_tree)
            previous.close()
        self.labels_path.value = (
            str(found) if found else str(m.output_dir / f"{session.name}_labels.csv")
        )
        return annot

    def load_labels(self, path: str | os.PathLike | None = None) -> np.ndarray:
        """Load marks for the shown track from a labels CSV (the path box or ``path``)."""
        if self.annotator is None:
            raise ValueError("load a tracking file first")
        path = Path(path or self.labels_path.value.strip())
        labels = self.annotator.load(path)
        n_marked = int((labels != self.model.background).sum())
        self.classify_message.value = f"<small>loaded labels for {n_marked} frames from {html.escape(str(path))}</small>"
        return labels

    def save_labels(self) -> Path:
        """Save the shown track's marks to the labels path."""
        if self.annotator is None:
            raise ValueError("load a tracking file first")
        path = Path(self.labels_path.value.strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        out = self.annotator.save(path)
        self.classify_message.value = f"<small>saved {html.escape(str(out))}</small>"
        return out

    def train(self) -> BehaviorCVResult:
        """Train and cross-validate the classifier on the marked frames."""
        result = self.model.train(
            model=self.clf_model.value,
            n_estimators=int(self.n_estimators.value),
            min_bout=int(self.min_bout.value),
        )
        scores = result.scores.reset_index()
        self.scores_html.value = (
            f"<b>Cross-validated</b> (contiguous blocks): macro F1 "
            f"<b class='posekit-macro-f1'>{result.macro_f1:.3f}</b>, accuracy "
            f"{result.accuracy:.3f}"
            + _html_table(scores, "posekit-scores", "")
            + "<small>Confusion matrix (rows: marked, columns: predicted)</small>"
            + _html_table(result.confusion.reset_index(), "posekit-confusion", "")
        )
        return result

    def predict(self) -> dict[str, np.ndarray]:
        """Predict every track with the trained classifier."""
        preds = self.model.predict()
        self._show_predictions()
        return preds

    def cluster(self) -> dict[str, np.ndarray]:
        """Find motifs over every track."""
        preds = self.model.cluster(
            int(self.n_motifs.value), method=self.cluster_method.value
        )
        self._show_predictions()
        return preds

    def _show_predictions(self) -> None:
        key = self.track_dropdown.value
        if self.annotator is not None and key in self.model.predictions:
            self.annotator.set_predictions(self.model.predictions[key])
        self._refresh_behavior()

    def _refresh_behavior(self) -> None:
        m = self.model
        if not m.predictions:
            self.behavior_html.value = ""
            return
        what = "motifs" if m.prediction_kind == "motifs" else "predicted behaviour"
        parts = [f"<b>Summary of the {what}</b>"]
        parts.append(
            _html_table(
                m.behavior_summary_table(), "posekit-behavior-summary", "no bouts"
            )
        )
        if m.motif_table is not None:
            parts.append("<b>Example clips per motif</b> (longest bouts)")
            parts.append(_html_table(m.motif_table, "posekit-motifs", "no motif"))
        self.behavior_html.value = "".join(parts)

    # ------------------------------------------------------------ 7. export
    def export(self) -> list[Path]:
        """Export the checked formats into the output folder; list the files."""
        folder = Path(self.output_box.value.strip() or self.model.output_dir)
        formats = [
            f
            for f, box in (("png", self.export_png), ("svg", self.export_svg))
            if box.value
        ]
        self.export_progress.layout.visibility = "visible"
        self.export_progress.value = 0
        files = self.model.export(
            folder, csv=self.export_csv.value, excel=self.export_excel.value,
            figure_formats=formats, progress=self._progress(self.export_progress),
        )  # fmt: skip
        self.export_progress.value = self.export_progress.max
        items = "".join(
            f"<li><code class='posekit-written-file'>{html.escape(p.name)}</code></li>"
            for p in files
        )
        self.files_html.value = (
            f"<div>Wrote {len(files)} file(s) to <code>{html.escape(str(folder))}</code>:"
            f"<ul>{items}</ul></div>"
        )
        return files
