"""Trajectory and kinematics viewer: the video with its predicted keypoints, time series
of x, y, speed and likelihood with a linked cursor, the trajectory coloured by time,
a live p-cutoff and filter, and exports.

:class:`TrajectoryModel` holds all state and logic (no widgets): the raw poses, the
filtered poses (recomputed through :func:`posekit.engine.behavior.filters.filter_poses`
whenever the p-cutoff or the filter changes), the frame cursor, the data each plot
shows, and the exports (figures through :mod:`posekit.engine.plotting`, the filtered
poses as DeepLabCut CSV, labelled videos through
:func:`posekit.engine.labeled_video.create_labeled_video`).

:class:`TrajectoryViewer` is the thin view: one Bokeh document in a
``jupyter_bokeh.BokehModel`` (video frame sent as a JPEG data URL, time series with a
cursor line, trajectory plot) plus ipywidgets controls. Tapping a time-series plot
moves the cursor (and the video) to that frame; the frame slider moves the cursor.
"""

from __future__ import annotations

import html
import logging
import math
import os
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets
import xarray as xr

from ..engine.postprocessing import prediction_files
from ..engine.project import Project, find_project, find_video, load_project

if TYPE_CHECKING:
    from ..engine.video import VideoReader

__all__ = [
    "FILTERS",
    "TrajectoryApp",
    "TrajectoryModel",
    "TrajectoryViewer",
    "find_project",
    "prediction_files",
]

logger = logging.getLogger("posekit.widgets.viewer")

#: Filter choices of the viewer: label → ``filter_poses`` method.
FILTERS: dict[str, str] = {
    "none": "none",
    "median": "median",
    "Savitzky–Golay": "savgol",
}

SERIES = ("x", "y", "speed", "likelihood")


# ---------------------------------------------------------------- model


class TrajectoryModel(traitlets.HasTraits):
    """State and logic of the trajectory viewer (no widgets; test it headless).

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
        skeleton, ``pcutoff``, ``colormap``, ``dotsize`` and ``alphavalue``.
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
    speed : xarray.DataArray
        Speed of ``filtered`` (px/s with a frame rate, else px/frame).
    error : str
        Why the last filter change was refused ('' when fine).
    """

    frame = traitlets.Int(0)
    pcutoff = traitlets.Float(0.6)
    method = traitlets.Enum(list(FILTERS.values()), default_value="none")
    window = traitlets.Int(5)
    polyorder = traitlets.Int(2)
    max_gap = traitlets.Int(0)
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
        from ..engine.poses import validate

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
            fps = raw.attrs.get("fps") or (self.reader.fps if self.reader else None)
        if fps and raw.attrs.get("fps") != fps:
            raw = raw.assign_coords(time=np.arange(raw.sizes["time"]) / float(fps))
            raw.attrs.update(fps=float(fps), time_unit="seconds")
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
            pos = raw["position"].values
            finite = pos[np.isfinite(pos)]
            extent = int(math.ceil(finite.max())) + 1 if finite.size else 640
            self.width, self.height = extent, extent
        cfg_skeleton = project.skeleton if project is not None else []
        edges = [tuple(map(str, e)) for e in (skeleton or cfg_skeleton)]
        self.skeleton = [
            (a, b) for a, b in edges if a in self.keypoints and b in self.keypoints
        ]
        self.colormap = str(
            colormap
            or (project.get("colormap", "rainbow") if project else "rainbow")
            or "rainbow"
        )
        self.dotsize = float((project.get("dotsize") if project else None) or 8)
        self.alpha = float((project.get("alphavalue") if project else None) or 0.8)
        if export_dir is None:
            base = self.source.parent if self.source else Path.cwd()
            export_dir = base / "plot-poses" / self.stem
        self.export_dir = Path(export_dir)
        self.max_points = max(int(max_points), 2)
        self._lock = threading.Lock()
        self.filtered = raw
        self.speed = self._compute_speed(raw)
        with self.hold_trait_notifications():
            self.pcutoff = float(
                pcutoff
                if pcutoff is not None
                else (project.pcutoff if project is not None else 0.6)
            )
            self.individual = self.individuals[0]
            self.keypoint = self.keypoints[0]
        self._refilter()
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
        """Keyword arguments of the current ``filter_poses`` call."""
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

    def _refilter(self) -> bool:
        from ..engine.behavior.filters import filter_poses

        try:
            filtered = filter_poses(self.raw, self.method, **self.filter_params())
        except ValueError as err:
            self.error = str(err)
            return False
        self.error = ""
        with self._lock:
            self.filtered = filtered
            self.speed = self._compute_speed(filtered)
        self.version += 1
        return True

    def _on_filter_change(self, change: dict[str, Any]) -> None:
        self._refilter()

    def _clamp_frame(self, change: dict[str, Any]) -> None:
        clamped = min(max(int(change["new"]), 0), self.n_frames - 1)
        if clamped != change["new"]:
            self.frame = clamped

    # ------------------------------------------------------------ cursor
    def set_frame_from_x(self, x: float) -> int:
        """Move the cursor to the frame nearest ``x`` (a time-series x coordinate, in
        frames) and return it; what a tap on a time-series plot does."""
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
        """The RGB video frame at ``frame`` (default: the cursor), or ``None``."""
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
            ``x``, ``y`` (NaN where hidden: below the p-cutoff or missing),
            ``likelihood``, ``keypoint``, ``individual``, ``color`` — one entry per
            (individual, keypoint).
        """
        from ._bokeh import hex_colors

        index = self.frame if frame is None else int(frame)
        colors = hex_colors(len(self.keypoints), self.colormap)
        with self._lock:
            pos = self.filtered["position"].isel(time=index)
            conf = self.filtered["confidence"].isel(time=index)
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
            "color": colors * n_ind,
        }

    def skeleton_segments(self, frame: int | None = None) -> dict[str, np.ndarray]:
        """Skeleton edges at ``frame`` as ``x0, y0, x1, y1`` (edges with a hidden end
        are left out)."""
        pts = self.points(frame)
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
        """One time series of the current individual: ``x``, ``y``, ``speed`` or
        ``likelihood`` of ``keypoint`` (default: the selected one), over all frames.

        ``x``/``y``/``speed`` come from :attr:`filtered` (NaN below the p-cutoff);
        ``likelihood`` is the network's, unfiltered.
        """
        kp = keypoint or self.keypoint
        with self._lock:
            if name in ("x", "y"):
                da = self.filtered["position"].sel(space=name)
            elif name == "speed":
                da = self.speed
            elif name == "likelihood":
                da = self.filtered["confidence"]
            else:
                raise ValueError(f"unknown series {name!r}; choose from {SERIES}")
            return np.asarray(
                da.sel(keypoint=kp, individual=self.individual).values, dtype=float
            )

    @property
    def stride(self) -> int:
        """Every how many frames the plots show a point (1 up to ``max_points``)."""
        return max(1, math.ceil(self.n_frames / self.max_points))

    def series_table(self) -> dict[str, np.ndarray]:
        """All time series of the current individual as columns ``frame`` and
        ``<series>_<keypoint index>`` (what the time-series plots show; every
        :attr:`stride`-th frame)."""
        step = self.stride
        table: dict[str, np.ndarray] = {
            "frame": np.arange(self.n_frames, dtype=float)[::step]
        }
        for j, kp in enumerate(self.keypoints):
            for name in SERIES:
                table[f"{name}_{j}"] = self.series(name, kp)[::step]
        return table

    def trajectory(self, keypoint: str | None = None) -> dict[str, np.ndarray]:
        """The trajectory of ``keypoint`` (default: the selected one) of the current
        individual: ``x``, ``y``, ``frame`` (visible points only, every
        :attr:`stride`-th frame)."""
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
        """The filtered poses in DeepLabCut's predictions layout (``x, y,
        likelihood`` per bodypart; with ``individuals`` for several animals)."""
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
        """Write the trajectory (selected keypoint) and time-series figures
        (matplotlib) of the current individual, filter and cursor.

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

        Unfiltered predictions give DeepLabCut's ``<stem>_labeled.mp4`` beside the
        predictions; filtered ones ``<stem>_filtered_labeled.mp4``.

        Raises
        ------
        ValueError
            If the viewer has no video.
        """
        from ..engine.labeled_video import CODECS, create_labeled_video

        if self.video_path is None:
            raise ValueError("this viewer has no video; pass video= to draw on")
        with self._lock:
            ds = self.filtered
        if out is None:
            base = self.source.parent if self.source else self.video_path.parent
            tag = "" if self.method == "none" else "_filtered"
            suffix = CODECS.get(codec, ".mp4")
            out = base / f"{self.stem}{tag}_labeled{suffix}"
        path = create_labeled_video(
            self.video_path,
            ds,
            out,
            pcutoff=float(self.pcutoff),
            skeleton=self.skeleton,
            dotsize=int(round(self.dotsize)),
            colormap=self.colormap,
            alpha=1.0,
            skeleton_color=str(
                (self.project.get("skeleton_color") if self.project else None)
                or "black"
            ),
            trail_length=trail_length,
            draw_skeleton=draw_skeleton,
            codec=codec,  # type: ignore[arg-type]
            progress=progress,
        )
        self.message = f"labelled video written: {path}"
        return path


# ---------------------------------------------------------------- view


class TrajectoryViewer:
    """The trajectory viewer's widgets on a :class:`TrajectoryModel` (display it, or
    its ``.widget``).

    Parameters
    ----------
    poses
        A :class:`TrajectoryModel`, a predictions file or a poses ``Dataset``.
    project, video
        Passed to :class:`TrajectoryModel` (ignored when ``poses`` is a model).
    display_width
        Width of the video view in screen pixels.
    load_bokehjs
        Load BokehJS into the page first.
    **kwargs
        More :class:`TrajectoryModel` arguments.

    Attributes
    ----------
    model
        The :class:`TrajectoryModel`.
    video_figure, trajectory_figure, series_figures
        The Bokeh figures (``series_figures``: ``{"x", "y", "speed", "likelihood"}``).
    cursors
        The cursor ``Span`` of each time-series figure.
    bokeh_model
        The ``BokehModel`` holding all figures (CSS class ``posekit-viewer``).
    widget
        The whole viewer.

    Examples
    --------
    >>> TrajectoryViewer("videos/m1DLC_resnet50_tOct30shuffle1_500.h5")  # doctest: +SKIP
    """

    def __init__(
        self,
        poses: TrajectoryModel | str | os.PathLike | xr.Dataset,
        project: Project | str | os.PathLike | None = None,
        *,
        video: str | os.PathLike | None = None,
        display_width: int = 480,
        load_bokehjs: bool = True,
        **kwargs: Any,
    ) -> None:
        from ._bokeh import ensure_bokehjs

        if load_bokehjs:
            ensure_bokehjs()
        if isinstance(poses, TrajectoryModel):
            self.model = poses
        else:
            self.model = TrajectoryModel(poses, video, project=project, **kwargs)
        self.display_width = int(display_width)
        self._video_thread: threading.Thread | None = None
        self._build_figures()
        self._build_controls()
        m = self.model
        m.observe(lambda _: self._update_frame(), ["frame"])
        m.observe(lambda _: self._update_data(), ["version", "individual"])
        m.observe(lambda _: self._update_trajectory(), ["keypoint"])
        m.observe(lambda _: self._update_pcutoff_line(), ["pcutoff"])
        m.observe(lambda _: self._update_status(), ["error", "message"])
        self._update_data()
        self._update_status()

    # ------------------------------------------------------------ figures
    def _build_figures(self) -> None:
        from bokeh.events import Tap
        from bokeh.layouts import column, row
        from bokeh.models import (
            ColorBar,
            ColumnDataSource,
            HoverTool,
            LinearColorMapper,
            PanTool,
            Range1d,
            ResetTool,
            SaveTool,
            Span,
            WheelZoomTool,
        )
        from bokeh.palettes import Viridis256
        from bokeh.plotting import figure

        from ._bokeh import LiveBokehModel, hex_colors

        m = self.model
        w, h = m.width, m.height
        scale = self.display_width / w
        colors = hex_colors(len(m.keypoints), m.colormap)
        self.colors = colors

        # --- the video frame with keypoints and skeleton
        v = figure(
            x_range=Range1d(-0.5, w - 0.5, bounds=(-0.5, w - 0.5)),
            y_range=Range1d(h - 0.5, -0.5, bounds=(-0.5, h - 0.5)),
            frame_width=round(w * scale),
            frame_height=round(h * scale),
            min_border=0,
            tools="pan,wheel_zoom,reset,save",
            toolbar_location="right",
            name="posekit-viewer-video",
            title=m.frame_label,
        )
        v.axis.visible = False
        v.grid.visible = False
        v.background_fill_color = "#303030"
        v.toolbar.logo = None
        self.image_source = ColumnDataSource(
            {"url": [""], "x": [-0.5], "y": [-0.5], "w": [w], "h": [h]}
        )
        v.image_url(
            url="url", x="x", y="y", w="w", h="h", anchor="top_left",
            source=self.image_source,
        )  # fmt: skip
        self.skeleton_source = ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": []}
        )
        skeleton_color = str(
            (m.project.get("skeleton_color") if m.project else None) or "black"
        )
        v.segment(
            "x0", "y0", "x1", "y1", source=self.skeleton_source,
            line_color=skeleton_color, line_width=2, line_alpha=0.8,
        )  # fmt: skip
        self.points_source = ColumnDataSource(
            {
                "x": [], "y": [], "likelihood": [], "keypoint": [],
                "individual": [], "color": [],
            }
        )  # fmt: skip
        points = v.scatter(
            "x", "y", source=self.points_source, size=max(4.0, m.dotsize * scale * 1.5),
            fill_color="color", fill_alpha=m.alpha, line_color="black",
        )  # fmt: skip
        v.add_tools(
            HoverTool(
                renderers=[points],
                tooltips=[
                    ("", "@keypoint (@individual)"),
                    ("x, y", "@x{0.0}, @y{0.0}"),
                    ("likelihood", "@likelihood{0.000}"),
                ],
            )
        )
        self.video_figure = v

        # --- time series with a shared x range and a cursor line each
        self.series_source = ColumnDataSource({"frame": []})
        self.series_figures: dict[str, Any] = {}
        self.cursors: dict[str, Span] = {}
        n = m.n_frames
        x_range = Range1d(-0.5, n - 0.5, bounds=(-0.5, n - 0.5))
        unit = "px/s" if m.fps else "px/frame"
        labels = {
            "x": "x (px)",
            "y": "y (px)",
            "speed": f"speed ({unit})",
            "likelihood": "likelihood",
        }
        for name in SERIES:
            wheel = WheelZoomTool(dimensions="width")
            f = figure(
                x_range=x_range,
                frame_width=560,
                frame_height=105,
                tools=[PanTool(dimensions="width"), wheel, ResetTool(), SaveTool()],
                toolbar_location="right",
                name=f"posekit-viewer-{name}",
                y_axis_label=labels[name],
            )
            f.toolbar.logo = None
            f.toolbar.active_scroll = wheel
            f.xaxis.visible = name == "likelihood"
            if name == "likelihood":
                f.xaxis.axis_label = "frame"
                f.y_range = Range1d(-0.05, 1.05)
            for j, kp in enumerate(m.keypoints):
                legend = {"legend_label": kp} if name == "x" else {}
                f.line(
                    "frame", f"{name}_{j}", source=self.series_source,
                    line_color=colors[j], line_width=1.3, **legend,
                )  # fmt: skip
            cursor = Span(
                location=0, dimension="height", line_color="black", line_width=1.5
            )
            f.add_layout(cursor)
            f.on_event(Tap, self._on_tap)
            self.cursors[name] = cursor
            self.series_figures[name] = f
        x_fig = self.series_figures["x"]
        x_fig.legend.orientation = "horizontal"
        x_fig.add_layout(x_fig.legend[0], "above")
        x_fig.legend.label_text_font_size = "9px"
        x_fig.legend.background_fill_alpha = 0.6
        x_fig.legend.click_policy = "hide"
        self.pcutoff_line = Span(
            location=m.pcutoff, dimension="width", line_color="#cf222e",
            line_dash="dashed", line_width=1.2,
        )  # fmt: skip
        self.series_figures["likelihood"].add_layout(self.pcutoff_line)

        # --- trajectory coloured by time
        t = figure(
            x_range=Range1d(-0.5, w - 0.5),
            y_range=Range1d(h - 0.5, -0.5),
            frame_width=round(w * scale * 0.75),
            frame_height=round(h * scale * 0.75),
            tools="pan,wheel_zoom,reset,save",
            toolbar_location="right",
            name="posekit-viewer-trajectory",
            title=f"trajectory: {m.keypoint}",
        )
        t.toolbar.logo = None
        self.trajectory_source = ColumnDataSource({"x": [], "y": [], "frame": []})
        self.time_mapper = LinearColorMapper(
            palette=Viridis256, low=0, high=max(n - 1, 1)
        )
        t.line("x", "y", source=self.trajectory_source, line_color="#999999",
               line_alpha=0.5)  # fmt: skip
        t.scatter(
            "x", "y", source=self.trajectory_source, size=4, line_color=None,
            fill_color={"field": "frame", "transform": self.time_mapper},
        )  # fmt: skip
        self.current_source = ColumnDataSource({"x": [], "y": []})
        t.scatter(
            "x", "y", source=self.current_source, size=12, marker="circle_cross",
            fill_color=None, line_color="#cf222e", line_width=2,
        )  # fmt: skip
        t.add_layout(
            ColorBar(color_mapper=self.time_mapper, title="frame", width=8), "right"
        )
        t.on_event(Tap, self._on_trajectory_tap)
        self.trajectory_figure = t

        layout = row(
            column(v, t),
            column(*self.series_figures.values()),
        )
        self.layout = layout
        self.bokeh_model = LiveBokehModel(layout, combine_events=True)
        self.bokeh_model.add_class("posekit-viewer")

    # ------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox

        m = self.model
        style = {"description_width": "initial"}
        self.play = w.Play(
            min=0, max=m.n_frames - 1, step=1, interval=100, description="play"
        )
        self.slider = w.IntSlider(
            min=0, max=m.n_frames - 1, description="frame", continuous_update=True,
            layout=w.Layout(width="520px"),
        )  # fmt: skip
        self.slider.add_class("posekit-viewer-slider")
        w.jslink((self.play, "value"), (self.slider, "value"))
        w.link((m, "frame"), (self.slider, "value"))
        self.frame_label = w.HTML()
        self.frame_label.add_class("posekit-viewer-frame")
        self.pcutoff = w.FloatSlider(
            min=0.0, max=1.0, step=0.01, description="p-cutoff", style=style,
            continuous_update=False, layout=w.Layout(width="300px"),
        )  # fmt: skip
        w.link((m, "pcutoff"), (self.pcutoff, "value"))
        self.filter = w.ToggleButtons(
            options=list(FILTERS.items()), description="filter", style=style
        )
        w.link((m, "method"), (self.filter, "value"))
        self.window = w.IntSlider(
            min=3, max=51, step=2, description="window (frames)", style=style,
            continuous_update=False, layout=w.Layout(width="300px"),
        )  # fmt: skip
        w.link((m, "window"), (self.window, "value"))
        self.max_gap = w.BoundedIntText(
            min=0, max=1000, description="interpolate gaps ≤ (frames, 0: off)",
            style=style, layout=w.Layout(width="300px"),
        )  # fmt: skip
        w.link((m, "max_gap"), (self.max_gap, "value"))
        self.keypoint = w.Dropdown(
            options=m.keypoints, description="trajectory of", style=style
        )
        w.link((m, "keypoint"), (self.keypoint, "value"))
        self.individual = w.Dropdown(
            options=m.individuals, description="individual", style=style,
            layout=w.Layout(display="" if len(m.individuals) > 1 else "none"),
        )  # fmt: skip
        w.link((m, "individual"), (self.individual, "value"))
        self.png_button = w.Button(description="Figures (PNG)", icon="image")
        self.svg_button = w.Button(description="Figures (SVG)", icon="image")
        self.csv_button = w.Button(description="Data (CSV)", icon="table")
        self.video_button = w.Button(
            description="Labelled video", icon="film", disabled=m.video_path is None
        )
        self.trail = w.BoundedIntText(
            min=0, max=200, value=0, description="trail", style=style,
            layout=w.Layout(width="110px"),
        )  # fmt: skip
        self.png_button.on_click(lambda _: self._safely(m.export_figures, ("png",)))
        self.svg_button.on_click(lambda _: self._safely(m.export_figures, ("svg",)))
        self.csv_button.on_click(lambda _: self._safely(m.export_csv))
        self.video_button.on_click(lambda _: self.start_labeled_video())
        self.video_progress = w.IntProgress(
            min=0, max=max(m.n_frames, 1), layout=w.Layout(width="200px",
                                                           display="none"),
        )  # fmt: skip
        self.status = w.HTML()
        self.status.add_class("posekit-viewer-status")
        self.video_box = w.VBox()
        self.widget = LiveVBox(
            [
                w.HBox(
                    [self.play, self.slider, self.frame_label],
                    layout=w.Layout(align_items="center"),
                ),  # fmt: skip
                w.HBox(
                    [self.pcutoff, self.filter, self.window],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                w.HBox(
                    [self.keypoint, self.individual, self.max_gap],
                    layout=w.Layout(flex_flow="row wrap"),
                ),
                self.bokeh_model,
                w.HBox(
                    [
                        self.png_button,
                        self.svg_button,
                        self.csv_button,
                        self.video_button,
                        self.trail,
                        self.video_progress,
                    ],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.status,
                self.video_box,
            ]
        )
        self.widget.add_class("posekit-trajectory-viewer")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ._bokeh import ensure_bokehjs

        ensure_bokehjs()
        display(self.widget)

    # ------------------------------------------------------------ events
    def _on_tap(self, event: Any) -> None:
        self.model.set_frame_from_x(event.x)

    def _on_trajectory_tap(self, event: Any) -> None:
        """Jump to the frame whose trajectory point is nearest the tap."""
        if event.x is None or event.y is None:
            return
        data = self.model.trajectory()
        if not len(data["x"]):
            return
        d2 = (data["x"] - event.x) ** 2 + (data["y"] - event.y) ** 2
        self.model.frame = int(data["frame"][int(np.argmin(d2))])

    def _safely(self, fn, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self.model.error = f"{type(err).__name__}: {err}"
            logger.exception("trajectory viewer action failed")
            return None

    # ------------------------------------------------------------ updates
    def _update_frame(self) -> None:
        from ._bokeh import image_to_data_url

        m = self.model
        image = m.image()
        url = image_to_data_url(image, "jpeg", quality=85) if image is not None else ""
        self.image_source.data = {
            "url": [url], "x": [-0.5], "y": [-0.5], "w": [m.width], "h": [m.height]
        }  # fmt: skip
        self.points_source.data = m.points()
        self.skeleton_source.data = m.skeleton_segments()
        for cursor in self.cursors.values():
            cursor.location = m.frame
        self.video_figure.title.text = m.frame_label
        self._update_current()
        self.frame_label.value = (
            f'<span class="posekit-viewer-frame-text" data-frame="{m.frame}">'
            f"{html.escape(m.frame_label)}</span>"
        )

    def _update_current(self) -> None:
        m = self.model
        x = m.series("x")[m.frame]
        y = m.series("y")[m.frame]
        self.current_source.data = (
            {"x": [x], "y": [y]} if np.isfinite([x, y]).all() else {"x": [], "y": []}
        )

    def _update_data(self) -> None:
        self.series_source.data = self.model.series_table()
        self._update_trajectory()
        self._update_frame()

    def _update_trajectory(self) -> None:
        m = self.model
        self.trajectory_source.data = m.trajectory()
        self.trajectory_figure.title.text = f"trajectory: {m.keypoint}" + (
            f" ({m.individual})" if len(m.individuals) > 1 else ""
        )
        self._update_current()

    def _update_pcutoff_line(self) -> None:
        self.pcutoff_line.location = float(self.model.pcutoff)

    def _update_status(self) -> None:
        m = self.model
        if m.error:
            self.status.value = (
                f'<span style="color:#cf222e">{html.escape(m.error)}</span>'
            )
        else:
            self.status.value = f"<small>{html.escape(m.message)}</small>"

    # ------------------------------------------------------------ labelled video
    def start_labeled_video(self, *, wait: bool = False) -> threading.Thread | None:
        """Write the labelled video in a background thread, then show it below.

        Returns
        -------
        threading.Thread or None
            The worker (``None`` if one is already running).
        """
        if self._video_thread is not None and self._video_thread.is_alive():
            return None
        self.video_button.disabled = True
        self.video_progress.layout.display = ""
        self.video_progress.value = 0

        def progress(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                self.video_progress.max = max(total, 1)
                self.video_progress.value = done

        def work() -> None:
            import ipywidgets as w

            try:
                path = self.model.make_labeled_video(
                    trail_length=int(self.trail.value), progress=progress
                )
                if path.suffix == ".mp4":
                    player = w.Video.from_file(str(path), autoplay=False, loop=False)
                    player.layout = w.Layout(width=f"{self.display_width}px")
                    player.add_class("posekit-viewer-labeled-video")
                    self.video_box.children = [player]
            except Exception as err:  # noqa: BLE001 - shown in the widget
                self.model.error = "".join(
                    traceback.format_exception_only(type(err), err)
                ).strip()
            finally:
                self.video_button.disabled = self.model.video_path is None
                self.video_progress.layout.display = "none"

        self._video_thread = threading.Thread(
            target=work, name="posekit-labeled-video", daemon=True
        )
        self._video_thread.start()
        if wait:
            self._video_thread.join()
        return self._video_thread


# ---------------------------------------------------------------- app


class TrajectoryApp:
    """Choose a prediction file of a project and inspect it in a
    :class:`TrajectoryViewer` (the ``viewer.ipynb`` app).

    Parameters
    ----------
    project
        The project.
    predictions
        File to open first (default: the ``predictions`` parameter of the page's
        address, else the first of :func:`prediction_files`).
    **viewer_kwargs
        Passed to :class:`TrajectoryViewer`.

    Attributes
    ----------
    files
        The files offered.
    viewer
        The open :class:`TrajectoryViewer` (``None`` before one is open).
    widget
        Dropdown + viewer.
    """

    def __init__(
        self,
        project: Project,
        predictions: str | os.PathLike | None = None,
        **viewer_kwargs: Any,
    ) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox
        from .app import query_params

        self.project = project
        self.viewer_kwargs = viewer_kwargs
        self.viewer: TrajectoryViewer | None = None
        self.files = prediction_files(project)
        chosen = predictions or query_params().get("predictions")
        if chosen:
            self.files = list(dict.fromkeys([Path(chosen), *self.files]))
        self.dropdown = w.Dropdown(
            options=[(self._label(p), str(p)) for p in self.files],
            description="predictions",
            layout=w.Layout(width="640px"),
        )
        self.box = w.VBox()
        self.message = w.HTML()
        self.widget = LiveVBox([self.dropdown, self.message, self.box])
        self.widget.add_class("posekit-trajectory-app")
        if not self.files:
            self.message.value = (
                "<i>No predictions yet: analyse the videos first (Analyze app or "
                "<code>posekit analyze</code>).</i>"
            )
        else:
            self.open(self.files[0])
        self.dropdown.observe(lambda ch: self.open(ch["new"]), "value")

    def _label(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.project.path))
        except ValueError:
            return str(path)

    def open(self, path: str | os.PathLike) -> TrajectoryViewer | None:
        """Show ``path`` in a new viewer (errors are shown in the app)."""
        path = Path(path)
        try:
            viewer = TrajectoryViewer(path, self.project, **self.viewer_kwargs)
        except Exception as err:  # noqa: BLE001 - shown in the app
            self.message.value = (
                f'<span style="color:#cf222e">Cannot open {html.escape(str(path))}: '
                f"{html.escape(f'{type(err).__name__}: {err}')}</span>"
            )
            return None
        if self.viewer is not None:
            # the whole tree: a closed model inside an open box hangs Voila's page load
            from ._bokeh import close_widget_tree

            close_widget_tree(self.viewer.widget)
        self.viewer = viewer
        self.message.value = ""
        self.box.children = [viewer.widget]
        if self.dropdown.value != str(path):
            self.dropdown.value = str(path)
        return viewer

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ._bokeh import ensure_bokehjs

        ensure_bokehjs()
        display(self.widget)
