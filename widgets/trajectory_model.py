"""State and logic of the trajectory and kinematics viewer, without any widget.

:class:`TrajectoryModel` holds the raw poses, the filtered poses (recomputed through
:func:`posekit.engine.postprocessing.smooth_predictions`, what ``posekit filter`` runs,
whenever the p-cutoff or the filter changes), the frame cursor, the data each plot shows, and the exports (figures
through :mod:`posekit.engine.plotting`, the filtered poses as DeepLabCut CSV, labelled
videos through :func:`posekit.engine.labeled_video.create_labeled_video`).
:class:`posekit.widgets.trajectory_viewer.TrajectoryViewer` draws it; tests drive it
directly.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets
import xarray as xr

from ..engine.project import (
    DisplaySettings,
    Project,
    find_project,
    find_video,
    load_project,
)
from .trajectory_identity import IdentityCorrection

if TYPE_CHECKING:
    from ..engine.video import VideoReader

__all__ = ["FILTERS", "SERIES", "SMOOTHING_MAX_GAP", "TrajectoryModel"]

logger = logging.getLogger("posekit.widgets.viewer")

#: Filter choices of the viewer: label → ``smooth_predictions`` method.
FILTERS: dict[str, str] = {
    "none": "none",
    "median": "median",
    "Savitzky–Golay": "savgol",
}

SERIES = ("x", "y", "speed", "likelihood")

#: Gaps (frames) filled when a smoothing filter is chosen while *interpolate gaps*
#: is still off (the tutorial's cleaning): the smoother keeps every point and fills
#: none, so that without it the smoothed trajectory of a network still unsure of
#: many points stays broken into short pieces.
SMOOTHING_MAX_GAP = 10

_FILTER_NAMES = {"median": "median", "savgol": "Savitzky–Golay"}


def _pct(part: int, whole: int) -> str:
    """``"35 %"`` (``"0 %"`` of nothing)."""
    return f"{100 * part / whole:.0f} %" if whole else "0 %"


def _extent(pos: np.ndarray) -> int:
    """Image size (square) that holds every finite position, 640 without any."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN
        top = np.nanmax(pos) if pos.size else np.nan
    if not np.isfinite(top):  # no position at all, or an infinite one: look closer
        finite = pos[np.isfinite(pos)]
        if not finite.size:
            return 640
        top = finite.max()
    return int(math.ceil(top)) + 1


# ---------------------------------------------------------------- model


class TrajectoryModel(IdentityCorrection):
    """State and logic of the trajectory viewer (no widgets; test it headless).

    Tracked poses of several animals can have their identities corrected (colour by
    individual, swap two from a frame on, likely swaps, save:
    :class:`~posekit.widgets.trajectory_identity.IdentityCorrection`).

    Parameters
    ----------
    poses
        A predictions file (anything :func:`posekit.engine.io.load_poses` reads, e.g.
        DLC's ``<video>DLC_….h5``) or a poses ``xarray.Dataset``.
    video
        The video (default: found from the predictions' name, see :func:`find_video`).
        Without a video the frame view stays empty.
    project
        The project (default: the one the predictions file lies in, if any); gives the
        skeleton, ``pcutoff`` and the display settings (``Project.display``).
    skeleton
        Edges as pairs of bodypart names (default: the project's).
    pcutoff
        Initial p-cutoff (default: the project's, else 0.6).
    colormap
        Bodypart colour map (default: the project's, else ``rainbow``).
    fps
        Frame rate (default: the dataset's, else the video's, else none: speed per
        frame).
    export_dir
        Where exports go (default: ``plot-poses/<stem>/`` beside the predictions
        file, DeepLabCut's folder for trajectory plots).
    max_points
        Longest series sent to the plots: longer recordings are plotted at every
        ``ceil(n_frames / max_points)``-th frame (the cursor, the frame view and the
        exports stay frame-exact).

    Attributes
    ----------
    raw : xarray.Dataset
        The poses as loaded.
    filtered : xarray.Dataset
        ``raw`` after the p-cutoff and the filter (what every plot shows).
        Filtering is lazy: a p-cutoff or filter change filters only the animal
        the plots show (the points of the frame view are filtered in a window
        around the frame); this attribute filters the other animals when read.
    speed : xarray.DataArray
        Speed of ``filtered`` (px/s with a frame rate, else px/frame).
    error : str
        Why the last filter change was refused ('' when fine).
    auto_gap : bool
        Fill gaps of up to :data:`SMOOTHING_MAX_GAP` frames when a smoothing filter
        is chosen while ``max_gap`` is 0 (``max_gap`` goes back to 0 with the filter
        ``none``, unless it was changed meanwhile).
    display : DisplaySettings
        How poses are drawn (the project's ``Project.display``; without a project,
        DeepLabCut's defaults). ``dotsize`` and ``alpha`` are taken from it.
    """

    frame = traitlets.Int(0)
    pcutoff = traitlets.Float(0.6)
    method = traitlets.Enum(list(FILTERS.values()), default_value="none")
    window = traitlets.Int(5)
    polyorder = traitlets.Int(2)
    max_gap = traitlets.Int(0)
    auto_gap = traitlets.Bool(True)
    individual = traitlets.Unicode("")
    keypoint = traitlets.Unicode("")
    version = traitlets.Int(0)
    error = traitlets.Unicode("")
    message = traitlets.Unicode("")

    def __init__(
        self,
        poses: str | os.PathLike | xr.Dataset,
        video: str | os.PathLike | None = None,
        *,
        project: Project | str | os.PathLike | None = None,
        skeleton: Sequence[Sequence[str]] | None = None,
        pcutoff: float | None = None,
        colormap: str | None = None,
        fps: float | None = None,
        export_dir: str | os.PathLike | None = None,
        max_points: int = 20_000,
    ) -> None:
        from ..engine.io import load_poses
        from ..engine.poses import mark_time_unit, validate

        super().__init__()
        if isinstance(poses, xr.Dataset):
            self.source: Path | None = None
            raw = validate(poses)
        else:
            self.source = Path(poses)
            if not self.source.is_file():
                raise FileNotFoundError(f"No predictions file at {self.source}")
            raw = load_poses(self.source, fps=fps)
        if project is not None and not isinstance(project, Project):
            project = load_project(project)
        if project is None and self.source is not None:
            project = find_project(self.source)
        self.project: Project | None = project
        if video is None and self.source is not None:
            video = find_video(self.source, project)
        self.video_path = Path(video) if video is not None else None
        self.reader: VideoReader | None = None
        if self.video_path is not None:
            from ..engine.video import VideoReader

            self.reader = VideoReader(self.video_path)
        if fps is None:
            from_video = self.reader.fps if self.reader is not None else None
            fps = raw.attrs.get("fps") or from_video
        if fps and raw.attrs.get("fps") != fps:
            raw = raw.assign_coords(time=np.arange(raw.sizes["time"]) / float(fps))
            raw.attrs.update(fps=float(fps), time_unit="seconds")
            raw = mark_time_unit(raw)  # the new coordinate says seconds too
        self.fps: float | None = float(fps) if fps else None
        self.raw = raw
        self.keypoints = [str(k) for k in raw["keypoint"].values]
        self.individuals = [str(i) for i in raw["individual"].values]
        self.n_frames = int(raw.sizes["time"])
        if self.n_frames < 1:
            raise ValueError("the poses have no frames")
        if self.reader is not None:
            self.width, self.height = self.reader.width, self.reader.height
        else:
            extent = _extent(raw["position"].values)
            self.width, self.height = extent, extent
        cfg_skeleton = project.skeleton if project is not None else []
        edges = [tuple(map(str, e)) for e in (skeleton or cfg_skeleton)]
        self.skeleton = [
            (a, b) for a, b in edges if a in self.keypoints and b in self.keypoints
        ]
        self.display = project.display if project is not None else DisplaySettings()
        self.colormap = str(colormap or self.display.colormap)
        self.dotsize = self.display.dotsize
        self.alpha = self.display.alphavalue
        if export_dir is None:
            base = self.source.parent if self.source else Path.cwd()
            export_dir = base / "plot-poses" / self.stem
        self.export_dir = Path(export_dir)
        self.max_points = max(int(max_points), 2)
        self._lock = threading.RLock()
        # filtered poses and speed per animal, for the current filter parameters
        self._parts: dict[str, tuple[xr.Dataset, xr.DataArray]] = {}
        with self.hold_trait_notifications():
            self.pcutoff = float(
                pcutoff
                if pcutoff is not None
                else (project.pcutoff if project is not None else 0.6)
            )
            self.individual = self.individuals[0]
            self.keypoint = self.keypoints[0]
        self._gap_filled_by_filter = False  # max_gap set by choosing a smoother
        self._setting_gap = False
        self._refilter()
        self._init_identities()
        # before the refilter: a smoother chosen brings its gap filling along
        self.observe(self._on_method, "method")
        self.observe(self._on_max_gap, "max_gap")
        self.observe(
            self._on_filter_change,
            ["pcutoff", "method", "window", "polyorder", "max_gap"],
        )
        self.observe(self._clamp_frame, "frame")

    # ------------------------------------------------------------ naming
    @property
    def stem(self) -> str:
        """Name used for exports: the predictions' stem (or the video's)."""
        if self.source is not None:
            return self.source.stem
        if self.video_path is not None:
            return self.video_path.stem
        return "poses"

    @property
    def scorer(self) -> str:
        """Scorer of the source file's columns (``posekit`` for a Dataset)."""
        if self.source is not None and self.source.suffix.lower() in (".h5", ".csv"):
            from ..engine.io.dlc import read_predictions

            try:
                df = read_predictions(self.source)
                return str(df.columns.get_level_values("scorer")[0])
            except Exception:  # noqa: BLE001 - not a DLC file: fall back
                pass
        return "posekit"

    # ------------------------------------------------------------ filtering
    def filter_params(self) -> dict[str, Any]:
        """Keyword arguments of the current ``smooth_predictions`` call.

        The viewer filters through
        :func:`~posekit.engine.postprocessing.smooth_predictions`, the function
        ``posekit filter --pcutoff P --max-gap G`` (and
        :func:`~posekit.engine.postprocessing.filter_predictions`) runs, with
        these arguments: points below the p-cutoff become NaN, gaps up to
        ``max_gap`` frames are interpolated, then the smoother runs, which keeps
        every point present and fills none (the median of the values present in
        the window; Savitzky–Golay, refitted where its window has a gap).
        DeepLabCut's ``filterpredictions`` (and ``posekit filter`` without
        ``--pcutoff``) smooths every point, those below the p-cutoff too.
        """
        params: dict[str, Any] = {"confidence_threshold": float(self.pcutoff)}
        if self.max_gap > 0:
            params["max_gap"] = int(self.max_gap)
        if self.method in ("median", "savgol"):
            params["window"] = int(self.window)
        if self.method == "savgol":
            params["polyorder"] = int(self.polyorder)
        return params

    def _compute_speed(self, ds: xr.Dataset) -> xr.DataArray:
        from ..engine.behavior.kinematics import compute_speed

        return compute_speed(
            ds["position"], fps=self.fps, per="second" if self.fps else "frame"
        )

    def _filter(
        self, ds: xr.Dataset, settings: tuple[str, dict[str, Any]] | None = None
    ) -> xr.Dataset:
        """Filter ``ds`` with ``settings`` (default: the last ones accepted)."""
        from ..engine.postprocessing import smooth_predictions

        method, params = settings or self._settings
        return smooth_predictions(ds, method, **params)

    def _part(
        self, individual: str, settings: tuple[str, dict[str, Any]] | None = None
    ) -> tuple[xr.Dataset, xr.DataArray]:
        """Return one animal's filtered poses and speed (filtered on first use)."""
        with self._lock:
            part = self._parts.get(individual)
            if part is None:
                ds = self._filter(self.raw.sel(individual=[individual]), settings)
                part = (ds, self._compute_speed(ds))
                self._parts[individual] = part
            return part

    def _refilter(self) -> bool:
        """Apply the p-cutoff and filter settings (to the animal shown; lazily).

        Only the selected animal is filtered now (the one the plots show); the
        others when something needs them (:attr:`filtered`, exports). A 1-hour
        recording of 4 animals took 3.5-4 s a slider move when every animal was
        filtered and its speed computed at once.
        """
        settings = (str(self.method), self.filter_params())
        with self._lock:
            old, self._parts = self._parts, {}
            try:
                self._part(self.individual or self.individuals[0], settings)
            except ValueError as err:
                self._parts = old  # the last accepted settings stay in force
                self.error = str(err)
                return False
            self._settings = settings
        self.error = ""
        self.version += 1
        return True

    @property
    def filtered(self) -> xr.Dataset:
        """``raw`` after the p-cutoff and the filter, every animal."""
        with self._lock:
            parts = [self._part(i)[0] for i in self.individuals]
        if len(parts) == 1:
            return parts[0]
        return xr.concat(parts, dim="individual", combine_attrs="override")

    @property
    def speed(self) -> xr.DataArray:
        """Speed of :attr:`filtered` (px/s with a frame rate, else px/frame)."""
        with self._lock:
            parts = [self._part(i)[1] for i in self.individuals]
        if len(parts) == 1:
            return parts[0]
        return xr.concat(parts, dim="individual", combine_attrs="override")

    def _filtered_at(self, index: int) -> xr.Dataset:
        """Every animal's filtered poses at frame ``index`` (one frame).

        Animals not filtered yet are filtered in a window around the frame: the
        viewer's filters (p-cutoff, gaps up to ``max_gap``, median and
        Savitzky–Golay over ``window`` frames) look no further than that.
        """
        with self._lock:
            if all(i in self._parts for i in self.individuals):
                # one frame of each animal, then joined (joining every animal's
                # whole hour first took 0.1 s a slider move)
                parts = [self._parts[i][0].isel(time=index) for i in self.individuals]
                if len(parts) == 1:
                    return parts[0]
                return xr.concat(parts, dim="individual", combine_attrs="override")
            margin = 2 * (int(self.window) + int(self.max_gap)) + 4
            lo = max(0, index - margin)
            hi = min(self.n_frames, index + margin + 1)
            local = self._filter(self.raw.isel(time=slice(lo, hi)))
            return local.isel(time=index - lo)

    def _on_filter_change(self, change: dict[str, Any]) -> None:
        settings = (str(self.method), self.filter_params())
        if not self.error and settings == getattr(self, "_settings", None):
            return  # e.g. the method's gap filling filtered already
        self._refilter()

    def _set_gap(self, value: int) -> None:
        self._setting_gap = True
        try:
            self.max_gap = value
        finally:
            self._setting_gap = False

    def _on_method(self, change: dict[str, Any]) -> None:
        """Fill short gaps along with a smoother (:attr:`auto_gap`); undo with none."""
        new, old = change["new"], change["old"]
        if new != "none" and old == "none":
            if self.auto_gap and self.max_gap == 0:
                self._gap_filled_by_filter = True
                self._set_gap(SMOOTHING_MAX_GAP)
        elif new == "none" and self._gap_filled_by_filter:
            self._gap_filled_by_filter = False
            self._set_gap(0)

    def _on_max_gap(self, change: dict[str, Any]) -> None:
        if not self._setting_gap:  # the user's value: kept from now on
            self._gap_filled_by_filter = False

    def _clamp_frame(self, change: dict[str, Any]) -> None:
        clamped = min(max(int(change["new"]), 0), self.n_frames - 1)
        if clamped != change["new"]:
            self.frame = clamped

    # ------------------------------------------------------------ cursor
    def set_frame_from_x(self, x: float) -> int:
        """Move the cursor to the frame nearest ``x`` and return it.

        ``x`` is a time-series x coordinate, in frames: what a tap on a time-series
        plot does.
        """
        if x is None or not math.isfinite(x):
            return self.frame
        self.frame = min(max(int(round(x)), 0), self.n_frames - 1)
        return self.frame

    @property
    def time_s(self) -> float | None:
        """Time of the cursor in seconds (``None`` without a frame rate)."""
        return self.frame / self.fps if self.fps else None

    @property
    def frame_label(self) -> str:
        """``"frame 12 / 899 · 0.40 s"``."""
        text = f"frame {self.frame} / {self.n_frames - 1}"
        if self.fps:
            text += f" · {self.frame / self.fps:.2f} s"
        return text

    def image(self, frame: int | None = None) -> np.ndarray | None:
        """Read the RGB video frame at ``frame`` (default: the cursor), or ``None``."""
        if self.reader is None:
            return None
        index = self.frame if frame is None else int(frame)
        try:
            return self.reader[index]
        except IndexError:
            return None

    def points(self, frame: int | None = None) -> dict[str, np.ndarray | list]:
        """Keypoints at ``frame`` (default: the cursor) for the frame view.

        Returns
        -------
        dict
            ``x``, ``y`` (NaN where hidden: below the p-cutoff and not filled, or
            missing; :meth:`hidden_points` gives those with a position),
            ``likelihood``, ``keypoint``, ``individual``, ``color`` — one entry
            per (individual, keypoint).
        """
        index = self.frame if frame is None else int(frame)
        at = self._filtered_at(index)
        pos, conf = at["position"], at["confidence"]
        x = pos.sel(space="x").transpose("individual", "keypoint").values.ravel()
        y = pos.sel(space="y").transpose("individual", "keypoint").values.ravel()
        lik = conf.transpose("individual", "keypoint").values.ravel()
        n_ind = len(self.individuals)
        return {
            "x": x.astype(float),
            "y": y.astype(float),
            "likelihood": lik.astype(float),
            "keypoint": self.keypoints * n_ind,
            "individual": [i for i in self.individuals for _ in self.keypoints],
            "color": self._colors(),
        }

    def _colors(self) -> list[str]:
        """Colour of each (individual, keypoint), as :meth:`points` draws it."""
        from ..engine.drawing import bodypart_colors, to_hex

        if self.color_by == "individual":
            per_individual = self.individual_colors()
            return [per_individual[i] for i in self.individuals for _ in self.keypoints]
        colors = [
            to_hex(c) for c in bodypart_colors(len(self.keypoints), self.colormap)
        ]
        return colors * len(self.individuals)

    def hidden_points(
        self, frame: int | None = None, points: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray | list]:
        """Give the network's points at ``frame`` that :meth:`points` hides.

        Points below the p-cutoff that no gap filling gave a value, at the
        network's own position, for the frame view to draw hollow and faded (a
        point without any position is left out). The smoother hides no point
        above the p-cutoff
        (:func:`~posekit.engine.postprocessing.smooth_predictions` keeps every
        point present). ``points``: what :meth:`points` gave for that frame.

        Returns
        -------
        dict
            ``x``, ``y``, ``likelihood``, ``keypoint``, ``individual``, ``color``:
            one entry per hidden point.
        """
        index = self.frame if frame is None else int(frame)
        shown = self.points(index) if points is None else points
        at = self.raw.isel(time=index)
        pos = at["position"].transpose("individual", "keypoint", "space")
        space = [str(v) for v in pos["space"].values]
        x = pos.values[..., space.index("x")].ravel().astype(float)
        y = pos.values[..., space.index("y")].ravel().astype(float)
        lik = at["confidence"].transpose("individual", "keypoint").values.ravel()
        lik = lik.astype(float)
        hidden = ~(np.isfinite(shown["x"]) & np.isfinite(shown["y"]))
        hidden &= np.isfinite(x) & np.isfinite(y)
        colors = self._colors()
        n_ind = len(self.individuals)
        keypoints = self.keypoints * n_ind
        individuals = [i for i in self.individuals for _ in self.keypoints]
        rows = np.flatnonzero(hidden)
        return {
            "x": x[rows],
            "y": y[rows],
            "likelihood": lik[rows],
            "keypoint": [keypoints[r] for r in rows],
            "individual": [individuals[r] for r in rows],
            "color": [colors[r] for r in rows],
        }

    def hidden_text(
        self, frame: int | None = None, hidden: dict[str, Any] | None = None
    ) -> str:
        """Say which points of ``frame`` are hidden, and why ('' when none is).

        ``"hidden: snout, leftear (likelihood < 0.50)"``; with several animals the
        names are ``<animal> <bodypart>``. ``hidden``: what :meth:`hidden_points`
        gave for that frame.
        """
        h = self.hidden_points(frame) if hidden is None else hidden
        several = len(self.individuals) > 1
        below = ", ".join(
            f"{i} {k}" if several else k
            for k, i in zip(h["keypoint"], h["individual"], strict=True)
        )
        if not below:
            return ""
        return f"hidden: {below} (likelihood < {float(self.pcutoff):.2f})"

    def coverage(self) -> dict[str, Any]:
        """Count the points of the current individual that the plots show.

        Returns
        -------
        dict
            ``points`` (frames × keypoints), ``above`` (points with a position at
            or above the p-cutoff), ``low`` (points with a position below it),
            ``missing`` (points without a position: not detected),
            ``missing_frames`` (frames without any of the animal's points: for
            tracks, frames where the tracker gave it no animal), ``shown`` (after
            the filter), ``filled`` (shown but not above: interpolated; the
            smoother keeps every point above, so ``shown`` is ``above`` plus
            ``filled``) and ``below`` (keypoint → fraction of the frames where it
            has a position below the p-cutoff).
        """
        raw = self.raw.sel(individual=self.individual)
        pos = raw["position"].transpose("time", "space", "keypoint")
        space = [str(v) for v in pos["space"].values]
        xy = pos.values[:, [space.index("x"), space.index("y")]]
        found = np.isfinite(xy).all(axis=1)
        lik = raw["confidence"].transpose("time", "keypoint").values.astype(float)
        with np.errstate(invalid="ignore"):
            low = found & (lik < float(self.pcutoff))  # NaN likelihood: kept
        above = found & ~low
        ds, _ = self._part(self.individual)
        fpos = ds["position"].isel(individual=0).transpose("time", "space", "keypoint")
        fspace = [str(v) for v in fpos["space"].values]
        shown = np.isfinite(fpos.values[:, [fspace.index("x"), fspace.index("y")]]).all(
            axis=1
        )
        return {
            "points": int(found.size),
            "above": int(above.sum()),
            "low": int(low.sum()),
            "missing": int((~found).sum()),
            "missing_frames": int((~found.any(axis=1)).sum()),
            "shown": int(shown.sum()),
            "filled": int((shown & ~above).sum()),
            "below": {
                k: float(low[:, j].mean()) if len(low) else 0.0
                for j, k in enumerate(self.keypoints)
            },
        }

    @property
    def coverage_text(self) -> str:
        """Say how many points the plots show, and why the others are hidden.

        ``"65 % of the points are below the p-cutoff (0.50) and hidden: snout
        64 %, …"`` without a filter; with one, how many it filled. Points
        without any position (not detected) are not below the p-cutoff: they are
        counted apart (:meth:`missing_text`).
        """
        c = self.coverage()
        n = c["points"]
        low = [f"{k} {100 * v:.0f} %" for k, v in c["below"].items() if v >= 0.005]
        who = f" of {self.individual}" if len(self.individuals) > 1 else ""
        missing = self.missing_text(c)
        if self.method == "none" and not self.max_gap:
            if not low:
                return missing
            text = (
                f"{_pct(c['low'], n)} of the points{who} are below the p-cutoff "
                f"({float(self.pcutoff):.2f}) and hidden (hollow circles on the "
                f"frame): {', '.join(low)}. The network is unsure of them (a longer "
                "training helps), or they are out of sight."
            )
            return f"{text} {missing}" if missing else text
        shown_of = f" ({self.individual})" if len(self.individuals) > 1 else ""
        text = (
            f"Points shown{shown_of}: {_pct(c['shown'], n)} ({_pct(c['above'], n)} above "
            f"the p-cutoff {float(self.pcutoff):.2f}"
        )
        if self.max_gap:
            text += f", {_pct(c['filled'], n)} filled in gaps ≤ {self.max_gap} frames"
        text += ")"
        if self.method != "none":
            what = _FILTER_NAMES.get(str(self.method), str(self.method))
            text += f"; the {what} smoothed them (it keeps every point, fills no gap)"
        text += "."
        return f"{text} {missing}" if missing else text

    def missing_text(self, coverage: dict[str, Any] | None = None) -> str:
        """Say in how many frames the current individual has no position ('' if none).

        Frames without any of its points (no detection; for several animals, the
        tracks give it no animal there: tracking and stitching decide that, not
        the p-cutoff), then points without a position in the other frames.
        ``coverage``: what :meth:`coverage` gave.
        """
        c = self.coverage() if coverage is None else coverage
        k = len(self.keypoints)
        frames = c["missing_frames"]
        others = c["missing"] - frames * k
        several = len(self.individuals) > 1
        name = self.individual if several else "The animal"
        parts = []
        if frames:
            text = (
                f"{name} is missing in {frames} of {self.n_frames} frames (no detection"
            )
            if several:
                text += (
                    ": the tracks give it no animal there). Tracking and stitching "
                    "decide that, not the network's confidence: check the number of "
                    "animals the tracks were stitched into (posekit analyze --animals "
                    "N) and try another tracker (--track-method)."
                )
            else:
                text += ": the file has no position for any bodypart there)."
            parts.append(text)
        if others:
            whose = f" of {self.individual}" if several else ""
            where = " in the frames where it is present" if frames else ""
            plural = ("s", "have") if others != 1 else ("", "has")
            parts.append(
                f"{others} point{plural[0]}{whose} {plural[1]} no position{where} "
                "(the bodypart was not detected)."
            )
        return " ".join(parts)

    def skeleton_segments(
        self, frame: int | None = None, points: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Give the skeleton edges at ``frame`` as ``x0, y0, x1, y1``.

        Edges with a hidden end are left out. ``points``: what :meth:`points` gave
        for that frame (not computed again).
        """
        pts = self.points(frame) if points is None else points
        x, y = pts["x"], pts["y"]
        k = len(self.keypoints)
        out: dict[str, list[float]] = {"x0": [], "y0": [], "x1": [], "y1": []}
        for i in range(len(self.individuals)):
            for a, b in self.skeleton:
                ia = i * k + self.keypoints.index(a)
                ib = i * k + self.keypoints.index(b)
                if np.isfinite([x[ia], y[ia], x[ib], y[ib]]).all():
                    out["x0"].append(float(x[ia]))
                    out["y0"].append(float(y[ia]))
                    out["x1"].append(float(x[ib]))
                    out["y1"].append(float(y[ib]))
        return {key: np.asarray(v, dtype=float) for key, v in out.items()}

    # ------------------------------------------------------------ plot data
    def series(self, name: str, keypoint: str | None = None) -> np.ndarray:
        """Give one time series of the current individual, over all frames.

        ``x``, ``y``, ``speed`` or ``likelihood`` of ``keypoint`` (default: the
        selected one).

        ``x``/``y``/``speed`` come from :attr:`filtered` (NaN below the p-cutoff);
        ``likelihood`` is the network's, unfiltered.
        """
        kp = keypoint or self.keypoint
        if name not in SERIES:
            raise ValueError(f"unknown series {name!r}; choose from {SERIES}")
        ds, speed = self._part(self.individual)
        if name in ("x", "y"):
            da = ds["position"].sel(space=name)
        elif name == "speed":
            da = speed
        else:
            da = ds["confidence"]
        return np.asarray(
            da.sel(keypoint=kp, individual=self.individual).values, dtype=float
        )

    @property
    def stride(self) -> int:
        """Every how many frames the plots show a point (1 up to ``max_points``)."""
        return max(1, math.ceil(self.n_frames / self.max_points))

    def series_table(self) -> dict[str, np.ndarray]:
        """Give all time series of the current individual as columns.

        Columns ``frame`` and ``<series>_<keypoint index>`` (what the time-series
        plots show; every :attr:`stride`-th frame).
        """
        step = self.stride
        table: dict[str, np.ndarray] = {
            "frame": np.arange(self.n_frames, dtype=float)[::step]
        }
        # every keypoint at once: what series(name, kp)[::step] gives, column by column
        ds, speed = self._part(self.individual)
        one = {"individual": 0}
        pos = ds["position"].isel(one).transpose("time", "space", "keypoint")
        space = [str(s) for s in pos["space"].values]
        columns = {
            "x": pos.values[::step, space.index("x")],
            "y": pos.values[::step, space.index("y")],
            "speed": speed.isel(one).transpose("time", "keypoint").values[::step],
            "likelihood": ds["confidence"]
            .isel(one)
            .transpose("time", "keypoint")
            .values[::step],
        }
        for j in range(len(self.keypoints)):
            for name in SERIES:
                table[f"{name}_{j}"] = np.ascontiguousarray(columns[name][:, j], float)
        return table

    def trajectory(self, keypoint: str | None = None) -> dict[str, np.ndarray]:
        """Give the trajectory of ``keypoint`` (default: the selected one).

        Of the current individual: ``x``, ``y``, ``frame`` (visible points only,
        every :attr:`stride`-th frame).
        """
        step = self.stride
        x = self.series("x", keypoint)[::step]
        y = self.series("y", keypoint)[::step]
        keep = np.isfinite(x) & np.isfinite(y)
        return {
            "x": x[keep],
            "y": y[keep],
            "frame": np.arange(self.n_frames, dtype=float)[::step][keep],
        }

    # ------------------------------------------------------------ exports
    def to_dataframe(self):
        """Give the filtered poses in DeepLabCut's predictions layout.

        ``x, y, likelihood`` per bodypart; with ``individuals`` for several animals.
        """
        from ..engine.io.dlc import predictions_frame

        with self._lock:
            ds = self.filtered
        pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
        conf = ds["confidence"].transpose("time", "individual", "keypoint").values
        xyp = np.concatenate([pos[..., :2], conf[..., None]], axis=-1)
        if len(self.individuals) == 1:
            return predictions_frame(xyp[:, 0], self.scorer, self.keypoints)
        return predictions_frame(
            xyp, self.scorer, self.keypoints, individuals=self.individuals
        )

    def export_csv(self, path: str | os.PathLike | None = None) -> Path:
        """Write the filtered poses as a DeepLabCut CSV (3 header rows).

        Parameters
        ----------
        path
            Target (default ``<export_dir>/<stem>_<method>.csv``).

        Returns
        -------
        Path
        """
        from ..engine._fileio import atomic_path

        path = (
            Path(path) if path else self.export_dir / f"{self.stem}_{self.method}.csv"
        )
        df = self.to_dataframe()
        with atomic_path(path) as tmp:
            df.to_csv(tmp)
        self.message = f"CSV written: {path}"
        return path

    def export_figures(
        self,
        formats: Sequence[str] = ("png", "svg"),
        folder: str | os.PathLike | None = None,
    ) -> list[Path]:
        """Write the trajectory and time-series figures (matplotlib).

        Of the selected keypoint and the current individual, filter and cursor.

        Parameters
        ----------
        formats
            ``"png"`` and/or ``"svg"``.
        folder
            Target folder (default :attr:`export_dir`).

        Returns
        -------
        list of Path
        """
        from ..engine.plotting import save_pose_plots

        with self._lock:
            ds = self.filtered
        paths = save_pose_plots(
            ds,
            folder or self.export_dir,
            formats=formats,
            keypoint=self.keypoint,
            individual=self.individual,
            colormap=self.colormap,
            image_size=(self.width, self.height),
            frame=self.frame,
            prefix=f"{self.stem}_{self.method}_",
        )
        self.message = f"{len(paths)} figure(s) written to {Path(paths[0]).parent}"
        return paths

    def make_labeled_video(
        self,
        out: str | os.PathLike | None = None,
        *,
        trail_length: int = 0,
        draw_skeleton: bool = True,
        codec: str = "auto",
        progress: Any = False,
    ) -> Path:
        """Labelled video of what the viewer shows (current p-cutoff and filter).

        Named as DeepLabCut names it (:func:`~posekit.engine.labeled_video.labeled_video_path`):
        ``<stem>_p<pcutoff×100>_labeled.mp4`` beside the predictions, filtered ones
        ``<stem>_filtered_p<pcutoff×100>_labeled.mp4``.

        Raises
        ------
        ValueError
            If the viewer has no video.
        """
        from ..engine.labeled_video import create_labeled_video, labeled_video_path

        if self.video_path is None:
            raise ValueError("this viewer has no video; pass video= to draw on")
        with self._lock:
            ds = self.filtered
        if out is None:
            base = self.source.parent if self.source else self.video_path.parent
            tag = "" if self.method == "none" else "_filtered"
            out = labeled_video_path(
                base / f"{self.stem}{tag}.h5", codec, pcutoff=float(self.pcutoff)
            )
        path = create_labeled_video(
            self.video_path,
            ds,
            out,
            pcutoff=float(self.pcutoff),
            skeleton=self.skeleton,
            dotsize=int(round(self.dotsize)),
            colormap=self.colormap,
            alpha=1.0,
            skeleton_color=self.display.skeleton_color,
            trail_length=trail_length,
            draw_skeleton=draw_skeleton,
            codec=codec,  # type: ignore[arg-type]
            progress=progress,
        )
        self.message = f"labelled video written: {path}"
        return path
