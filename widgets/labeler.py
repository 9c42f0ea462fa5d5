"""Click-to-label canvas: Bokeh in ``jupyter_bokeh.BokehModel`` + ipywidgets controls.

The labels themselves live in a :class:`posekit.engine.labels.LabelStore` (saved to
DeepLabCut's ``CollectedData_<scorer>.h5``/``.csv`` after every change); this module
only turns browser events into store edits and store state into the Bokeh document.

How browser edits reach Python (see ``shared/docs/frontend-notes.md``): Bokeh's
``PointDrawTool`` edits the points ``ColumnDataSource`` in the browser and the whole
``data`` comes back to Python, twice per change (jupyter_bokeh calls the callbacks
twice), and every change Python makes is echoed back too. To make that safe, each
``data`` Python sends carries an invisible anchor row (``x = y = NaN``) naming a
version; Python remembers which frame and points each version showed. An incoming
``data`` is compared with the version it was derived from, so only the user's own
edit is applied (to the frame it was made on): new rows (bodypart ``"?"``, a click)
get the selected bodypart, changed rows are drags, missing rows are deletions
(Backspace on a selected point). Duplicates and echoes change nothing.

Coordinates are image pixels with pixel centres at integers (as DeepLabCut's
matplotlib GUI and napari): the image spans ``-0.5 .. W - 0.5``, ``y`` points down.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import math
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import ipywidgets as W
import numpy as np
from bokeh.models import (
    CategoricalColorMapper,
    ColumnDataSource,
    LabelSet,
    PanTool,
    PointDrawTool,
    Range1d,
    ResetTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from ..engine import logger
from ..engine.io.dlc import LabelError
from ..engine.labels import LabelStore, PointChange, SyncReport
from ..engine.project import Project, load_project
from ._bokeh import (
    LiveBokehModel,
    LiveVBox,
    display_scale,
    encode_image,
    ensure_bokehjs,
    file_to_data_url,
    hex_colors,
    text_color,
)

__all__ = ["Labeler", "SHORTCUTS", "ANCHOR"]

#: Prefix of the bodypart name of the invisible version row in the points source.
ANCHOR = "__posekit_state_"

#: Keyboard shortcuts: action -> keys (``KeyboardEvent.key`` names; ``Ctrl+`` also
#: accepts the Mac ``Cmd`` key).
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "next frame": ("ArrowRight", "n"),
    "previous frame": ("ArrowLeft", "p"),
    "next bodypart": ("ArrowDown", "."),
    "previous bodypart": ("ArrowUp", ","),
    "delete point": ("Delete", "x"),
    "not visible": ("v",),
    "undo": ("Ctrl+z", "z"),
    "redo": ("Ctrl+y", "Ctrl+Shift+z", "y"),
    "reset zoom": ("r",),
    "label / pan mode": ("m",),
}

_KEY_LABELS = {
    "ArrowRight": "→",
    "ArrowLeft": "←",
    "ArrowDown": "↓",
    "ArrowUp": "↑",
    "Delete": "Del",
}


def _png_size(path: Path) -> tuple[int, int] | None:
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def _locked(method):
    """Serialise a Labeler method: browser events arrive on the kernel's main thread,
    while a frame-extraction thread may call :meth:`Labeler.refresh_frames`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Labeler:
    """Label the extracted frames of a project's videos by clicking.

    Click places the selected bodypart (and selects the next unlabelled one), drag
    moves a point, the wheel zooms, keys navigate (:data:`SHORTCUTS`, also listed
    under the canvas). Every change is saved at once to
    ``labeled-data/<video>/CollectedData_<scorer>.h5`` (+ ``.csv``).

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    video
        Video stem (a folder of ``labeled-data/``) to start with (default: the first).
    display_width
        Canvas width in screen pixels (default: the image width, scaled into
        480–960 px). Coordinates stay in image pixels at any size or zoom.
    image_format
        How frames are sent: ``"jpeg"`` (default; small), ``"png"`` (lossless
        re-encode) or ``"original"`` (the file's bytes as they are).
    jpeg_quality
        JPEG quality.
    load_bokehjs
        Load BokehJS into the page first (needed once per page before any Bokeh
        widget is shown).

    Attributes
    ----------
    store
        The :class:`~posekit.engine.labels.LabelStore` of the current video (``None``
        when the video has no frames or its labels cannot be opened).
    figure, points_source, image_source, skeleton_source
        The Bokeh figure and its data sources.
    bokeh_model
        The ``jupyter_bokeh.BokehModel`` holding the figure (CSS class ``labeler``).
    events
        The ``ipyevents.Event`` on :attr:`bokeh_model` for keyboard shortcuts.
    widget
        The whole labeller (display this).
    not_visible
        ``(frame, bodypart)`` marked "not visible" this session (saved as NaN, as
        DeepLabCut does; skipped when choosing the next bodypart).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        video: str | None = None,
        *,
        display_width: int | None = None,
        image_format: str = "jpeg",
        jpeg_quality: int = 90,
        load_bokehjs: bool = True,
    ) -> None:
        if image_format not in ("jpeg", "png", "original"):
            raise ValueError(
                "image_format must be 'jpeg', 'png' or 'original'; received "
                f"{image_format!r}"
            )
        if load_bokehjs:
            ensure_bokehjs()
        self.project = (
            project if isinstance(project, Project) else load_project(project)
        )
        self.bodyparts = list(self.project.bodyparts)
        self.colors = hex_colors(
            len(self.bodyparts), str(self.project.get("colormap", "rainbow"))
        )
        self.display_width = display_width
        self.image_format = image_format
        self.jpeg_quality = int(jpeg_quality)
        self.store: LabelStore | None = None
        self.not_visible: set[tuple[str, str]] = set()
        self.selected = self.bodyparts[0] if self.bodyparts else ""
        self.frame_changed: list[Callable[[str], None]] = []
        self._lock = threading.RLock()
        self._index = 0
        self._size: tuple[int, int] | None = None
        self._version = 0
        self._image_version = 0
        self._sent: dict[int, tuple[str, dict[str, tuple[float, float]]]] = {}
        self._assigned: dict[tuple[int, float, float], str] = {}
        self._last_sig: Any = None
        self._writing = False
        self._guard = False
        self._pan_mode = False
        self._build_figure()
        self._build_controls()
        videos = self.videos()
        self._guard = True
        try:
            self.video_dropdown.options = videos
        finally:
            self._guard = False
        start = video if video in videos else (videos[0] if videos else None)
        if start is not None:
            self.set_video(start)
        else:
            self._show_empty(
                "No extracted frames yet: pick frames for labelling first."
            )

    # ================================================================ building
    def _build_figure(self) -> None:
        w, h = 640, 480
        s = display_scale(w, h, self.display_width)
        self.x_range = Range1d(-0.5, w - 0.5, bounds=(-0.5, w - 0.5))
        self.y_range = Range1d(h - 0.5, -0.5, bounds=(-0.5, h - 0.5))
        self.draw_tool = PointDrawTool(add=True, drag=True, empty_value="?")
        self.pan_tool = PanTool()
        self.wheel_tool = WheelZoomTool(zoom_on_axis=False, maintain_focus=True)
        p = figure(
            x_range=self.x_range,
            y_range=self.y_range,
            frame_width=round(w * s),
            frame_height=round(h * s),
            min_border=0,
            tools=[self.draw_tool, self.pan_tool, self.wheel_tool, ResetTool()],
            toolbar_location="right",
            output_backend="canvas",
            name="posekit-labeler",
        )
        p.axis.visible = False
        p.grid.visible = False
        p.outline_line_color = None
        p.background_fill_color = "#303030"
        p.toolbar.logo = None
        p.toolbar.active_drag = self.draw_tool
        p.toolbar.active_tap = self.draw_tool
        p.toolbar.active_scroll = self.wheel_tool
        self.image_source = ColumnDataSource(
            {"url": [], "x": [], "y": [], "w": [], "h": [], "v": []}
        )
        p.image_url(
            url="url",
            x="x",
            y="y",
            w="w",
            h="h",
            anchor="top_left",
            source=self.image_source,
        )
        self.skeleton_source = ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": []}
        )
        p.segment(
            x0="x0",
            y0="y0",
            x1="x1",
            y1="y1",
            source=self.skeleton_source,
            line_color=str(self.project.get("skeleton_color", "black") or "black"),
            line_width=2,
            line_alpha=0.8,
        )
        self.points_source = ColumnDataSource(
            {"x": np.zeros(0), "y": np.zeros(0), "bodypart": []}
        )
        mapper = CategoricalColorMapper(
            factors=self.bodyparts or ["?"],
            palette=self.colors or ["#ffffff"],
            nan_color="#ffffff",
        )
        dotsize = float(self.project.get("dotsize", 12) or 12)
        alpha = float(self.project.get("alphavalue", 0.7) or 0.7)
        self.points_renderer = p.scatter(
            "x",
            "y",
            source=self.points_source,
            size=dotsize,
            fill_color={"field": "bodypart", "transform": mapper},
            fill_alpha=alpha,
            line_color="black",
            line_width=1.5,
        )
        self.names = LabelSet(
            x="x",
            y="y",
            text="bodypart",
            source=self.points_source,
            x_offset=7,
            y_offset=-4,
            text_font_size="11px",
            text_color="white",
            background_fill_color="black",
            background_fill_alpha=0.45,
        )
        p.add_layout(self.names)
        self.draw_tool.renderers = [self.points_renderer]
        self.points_source.on_change("data", self._on_points_change)
        self.figure = p

        self.bokeh_model = LiveBokehModel(p, combine_events=True)
        self.bokeh_model.add_class("labeler")

        import ipyevents

        self.events = ipyevents.Event(
            source=self.bokeh_model,
            watched_events=["keydown"],
            prevent_default_action=True,
            ignore_modifier_key_events=True,
        )
        self.events.on_dom_event(self.handle_key)

    def _build_controls(self) -> None:
        self.video_dropdown = W.Dropdown(
            description="Video", layout=W.Layout(width="260px")
        )
        self.video_dropdown.observe(self._on_video, "value")
        self.prev_button = W.Button(
            description="◀",
            tooltip="previous frame (←, p)",
            layout=W.Layout(width="40px"),
        )
        self.next_button = W.Button(
            description="▶", tooltip="next frame (→, n)", layout=W.Layout(width="40px")
        )
        self.prev_button.on_click(lambda _: self.previous_frame())
        self.next_button.on_click(lambda _: self.next_frame())
        self.frame_slider = W.IntSlider(
            value=1,
            min=1,
            max=1,
            description="Frame",
            continuous_update=False,
            layout=W.Layout(width="420px"),
        )
        self.frame_slider.observe(self._on_slider, "value")
        self.status = W.HTML(layout=W.Layout(margin="0 0 0 8px"))
        self.status.add_class("labeler-status")
        self.bodypart_buttons: list[W.Button] = []
        for bp, color in zip(self.bodyparts, self.colors, strict=True):
            b = W.Button(description=bp, tooltip=f"select {bp}")
            b.style.button_color = color
            b.style.text_color = text_color(color)
            b.layout = W.Layout(width="180px", height="30px", margin="1px 0")
            b.on_click(lambda _, bp=bp: self.select(bp))
            b.add_class("labeler-bodypart")
            self.bodypart_buttons.append(b)
        self.undo_button = W.Button(description="Undo", icon="undo", tooltip="Ctrl+Z")
        self.redo_button = W.Button(description="Redo", icon="redo", tooltip="Ctrl+Y")
        self.delete_button = W.Button(
            description="Delete", icon="trash", tooltip="delete the point (Del, x)"
        )
        self.hide_button = W.Button(
            description="Not visible", tooltip="mark not visible and go on (v)"
        )
        for b in (
            self.undo_button,
            self.redo_button,
            self.delete_button,
            self.hide_button,
        ):
            b.layout = W.Layout(width="88px", margin="1px", padding="0 4px")
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.delete_button.on_click(lambda _: self.delete())
        self.hide_button.on_click(lambda _: self.mark_not_visible())
        self.dotsize_slider = W.IntSlider(
            value=int(round(self.points_renderer.glyph.size)),
            min=2,
            max=40,
            description="Marker",
            layout=W.Layout(width="200px"),
            style={"description_width": "50px"},
        )
        self.alpha_slider = W.FloatSlider(
            value=float(self.points_renderer.glyph.fill_alpha),
            min=0.05,
            max=1.0,
            step=0.05,
            description="Opacity",
            layout=W.Layout(width="200px"),
            style={"description_width": "50px"},
        )
        self.names_checkbox = W.Checkbox(
            value=True, description="Show names", indent=False
        )
        self.dotsize_slider.observe(self._on_dotsize, "value")
        self.alpha_slider.observe(self._on_alpha, "value")
        self.names_checkbox.observe(
            lambda ch: setattr(self.names, "visible", bool(ch["new"])), "value"
        )
        self.message = W.HTML()
        self.message.add_class("labeler-message")
        keys = " · ".join(
            f"<b>{' / '.join(_KEY_LABELS.get(k, k) for k in ks)}</b> {action}"
            for action, ks in SHORTCUTS.items()
        )
        self.help = W.HTML(
            "<div style='font-size:12px;color:#444;max-width:1100px'>"
            "Click the image to place the selected bodypart; drag a point to move it; "
            "click a point and press <b>Backspace</b> to delete it; mouse wheel zooms "
            "(pan: <b>m</b> or the toolbar). Keys (mouse over the image): "
            f"{keys}. Every change is saved at once.</div>"
        )
        side = W.VBox(
            [
                W.HTML("<b>Bodyparts</b>"),
                *self.bodypart_buttons,
                W.HBox([self.undo_button, self.redo_button]),
                W.HBox([self.delete_button, self.hide_button]),
                self.dotsize_slider,
                self.alpha_slider,
                self.names_checkbox,
            ],
            layout=W.Layout(margin="0 0 0 10px"),
        )
        nav = W.HBox(
            [
                self.video_dropdown,
                self.prev_button,
                self.frame_slider,
                self.next_button,
            ],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.widget = LiveVBox(
            [
                nav,
                self.status,
                W.HBox([self.bokeh_model, side]),
                self.message,
                self.help,
            ]
        )
        self.widget.add_class("posekit-labeler")

    # ================================================================ videos
    def videos(self) -> list[str]:
        """Video stems with a ``labeled-data/`` folder (frames or labels)."""
        return self.project.labeled_videos()

    def _on_video(self, change: Mapping[str, Any]) -> None:
        if change["new"] is not None and not self._guard:
            self.set_video(change["new"])

    @_locked
    def set_video(self, video: str) -> None:
        """Switch to the frames of another video (``labeled-data/<video>/``)."""
        if self.store is not None:
            self.store.listeners.clear()
        self.store = None
        self.not_visible.clear()
        self._assigned.clear()
        try:
            store = LabelStore(self.project, video)
        except LabelError as err:
            self._show_empty("")
            self.show_message(str(err), level="error")
            return
        store.listeners.append(self._on_store_report)
        self.store = store
        if self.video_dropdown.value != store.video:
            self._guard = True
            try:
                if store.video not in self.video_dropdown.options:
                    self.video_dropdown.options = [
                        *self.video_dropdown.options,
                        store.video,
                    ]
                self.video_dropdown.value = store.video
            finally:
                self._guard = False
        self.show_message("")
        if not store.frames:
            self._show_empty(
                f"No frames in labeled-data/{store.video}/ yet: pick frames first."
            )
            return
        self._set_slider_max()
        self.goto(0)

    @_locked
    def refresh_frames(self) -> None:
        """Re-scan videos and frames (after frames were extracted elsewhere)."""
        videos = self.videos()
        self._guard = True
        try:
            self.video_dropdown.options = videos
            if self.store is not None and self.store.video in videos:
                self.video_dropdown.value = self.store.video
        finally:
            self._guard = False
        if self.store is None:
            if videos:
                self.set_video(videos[0])
            return
        current = self.frame if self.store.frames else None
        self.store.refresh_frames()
        self._set_slider_max()
        if not self.store.frames:
            return
        frames = self.store.frames
        self.goto(frames.index(current) if current in frames else 0)

    def _set_slider_max(self) -> None:
        n = len(self.store.frames) if self.store is not None else 0
        self._guard = True
        try:
            self.frame_slider.max = max(n, 1)
        finally:
            self._guard = False

    # ================================================================ frames
    @property
    def frames(self) -> list[str]:
        """Frames of the current video (``labeled-data/<video>/<image>``)."""
        return self.store.frames if self.store is not None else []

    @property
    def frame_index(self) -> int:
        """Position of the current frame in :attr:`frames`."""
        return self._index

    @property
    def frame(self) -> str:
        """The current frame (``labeled-data/<video>/<image>``)."""
        return self.frames[self._index] if self.frames else ""

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if not self._guard:
            self.goto(int(change["new"]) - 1)  # the slider counts from 1

    @_locked
    def goto(self, frame: int | str) -> None:
        """Show a frame, by position in :attr:`frames`, path or image name."""
        if self.store is None or not self.store.frames:
            return
        if isinstance(frame, str):
            name = self.store.frame_name(frame)
            if name not in self.store.frames:
                self.store.refresh_frames()
                self._set_slider_max()
            if name not in self.store.frames:
                raise ValueError(f"{frame!r} is not a frame of {self.store.video}")
            index = self.store.frames.index(name)
        else:
            index = int(frame)
        index = min(max(index, 0), len(self.store.frames) - 1)
        name = self.store.frames[index]
        self.store.sync()  # pull another labeller's changes (may add frames)
        index = self.store.frames.index(name)
        if self.frame_slider.max != len(self.store.frames):
            self._set_slider_max()
        self._index = index
        self._show_image(self.frame)
        self.selected = self._first_unlabelled(self.frame) or self.selected
        self._render()
        if self.frame_slider.value != index + 1:
            self._guard = True
            try:
                self.frame_slider.value = index + 1
            finally:
                self._guard = False
        for cb in list(self.frame_changed):
            cb(self.frame)

    def next_frame(self) -> None:
        """Go to the next frame."""
        if self.frames:
            self.goto(min(self._index + 1, len(self.frames) - 1))

    def previous_frame(self) -> None:
        """Go to the previous frame."""
        if self.frames:
            self.goto(max(self._index - 1, 0))

    # ================================================================ image
    def frame_data_url(self, frame: str) -> tuple[str, tuple[int, int]] | None:
        """The frame's image as a data URL and its size ``(W, H)``; None if missing."""
        assert self.store is not None
        path = self.store.image_path(frame)
        if not path.is_file():
            return None
        if self.image_format == "original":
            size = _png_size(path)
            if size is not None:
                return file_to_data_url(path), size
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            return None
        h, w = bgr.shape[:2]
        fmt = "png" if self.image_format == "png" else "jpeg"
        data = encode_image(bgr, fmt, quality=self.jpeg_quality, bgr=True)
        return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}", (w, h)

    def _show_image(self, frame: str) -> None:
        got = self.frame_data_url(frame)
        if got is None:
            w, h = self._size or (640, 480)
            placeholder = np.full((h, w, 3), 60, np.uint8)
            cv2.putText(
                placeholder,
                "image missing",
                (10, h // 2),
                cv2.FONT_HERSHEY_SIMPLEX,
                max(0.5, w / 640),
                (220, 220, 220),
                1,
                cv2.LINE_AA,
            )
            url = "data:image/jpeg;base64," + base64.b64encode(
                encode_image(placeholder, "jpeg")
            ).decode("ascii")
            self.show_message(
                f"The image of {frame} is missing or unreadable "
                f"({self.store.image_path(frame) if self.store else frame}). Its "
                "labels are kept; extract the frame again with the frame picker to "
                "see it.",
                level="warning",
            )
            size = (w, h)
        else:
            url, size = got
            if self.message.value and "is missing or unreadable" in self.message.value:
                self.show_message("")
        self._set_size(*size)
        self._image_version += 1
        w, h = size
        self.image_source.data = {
            "url": [url],
            "x": [-0.5],
            "y": [-0.5],
            "w": [w],
            "h": [h],
            "v": [self._image_version],
        }

    def _set_size(self, w: int, h: int) -> None:
        if self._size == (w, h):
            return
        self._size = (w, h)
        s = display_scale(w, h, self.display_width)
        self.scale = s
        self.figure.frame_width = round(w * s)
        self.figure.frame_height = round(h * s)
        self.x_range.update(
            start=-0.5,
            end=w - 0.5,
            bounds=(-0.5, w - 0.5),
            reset_start=-0.5,
            reset_end=w - 0.5,
        )
        self.y_range.update(
            start=h - 0.5,
            end=-0.5,
            bounds=(-0.5, h - 0.5),
            reset_start=h - 0.5,
            reset_end=-0.5,
        )

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(W, H)`` of the current frame's image."""
        return self._size

    def reset_view(self) -> None:
        """Show the whole image (undo wheel zoom and pan)."""
        if self._size is None:
            return
        w, h = self._size
        self.x_range.update(start=-0.5, end=w - 0.5)
        self.y_range.update(start=h - 0.5, end=-0.5)

    def toggle_pan(self) -> None:
        """Switch dragging between moving points (label mode) and panning."""
        self._pan_mode = not self._pan_mode
        tool = self.pan_tool if self._pan_mode else self.draw_tool
        self.figure.toolbar.active_drag = tool
        self.figure.toolbar.active_tap = None if self._pan_mode else self.draw_tool
        self._update_status()

    # ================================================================ points
    def _render(self) -> None:
        """Send the current frame's points (a new version) and skeleton to the browser."""
        frame = self.frame
        arr = (
            self.store.get(frame)
            if self.store is not None and frame
            else np.full((len(self.bodyparts), 2), np.nan)
        )
        xs, ys, names = [], [], []
        shown: dict[str, tuple[float, float]] = {}
        for j, bp in enumerate(self.bodyparts):
            x, y = float(arr[j, 0]), float(arr[j, 1])
            if math.isfinite(x) and math.isfinite(y):
                xs.append(x)
                ys.append(y)
                names.append(bp)
                shown[bp] = (x, y)
        self._version += 1
        xs.append(np.nan)
        ys.append(np.nan)
        names.append(f"{ANCHOR}{self._version}")
        self._sent[self._version] = (frame, shown)
        for old in [v for v in self._sent if v < self._version - 500]:
            del self._sent[old]
        self._writing = True
        try:
            self.points_source.data = {
                "x": np.asarray(xs, float),
                "y": np.asarray(ys, float),
                "bodypart": names,
            }
            x0, y0, x1, y1 = [], [], [], []
            for a, b in self.project.skeleton:
                if a in shown and b in shown:
                    x0.append(shown[a][0])
                    y0.append(shown[a][1])
                    x1.append(shown[b][0])
                    y1.append(shown[b][1])
            self.skeleton_source.data = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
        finally:
            self._writing = False
        self._update_status()

    @_locked
    def _on_points_change(self, attr: str, old: Any, new: Any) -> None:
        if self._writing:
            return
        try:
            xs = [float(v) for v in new["x"]]
            ys = [float(v) for v in new["y"]]
            names = [str(v) for v in new["bodypart"]]
        except (KeyError, TypeError, ValueError) as err:
            logger.warning("labeller: unexpected points data (%s)", err)
            return
        sig = (tuple(map(repr, xs)), tuple(map(repr, ys)), tuple(names))
        if sig == self._last_sig:  # jupyter_bokeh delivers each change twice
            return
        self._last_sig = sig
        try:
            self._apply_browser_points(xs, ys, names)
        except LabelError as err:
            self.show_message(str(err), level="error")

    def _apply_browser_points(
        self, xs: list[float], ys: list[float], names: list[str]
    ) -> None:
        if self.store is None:
            return
        version = None
        rows = []
        for x, y, name in zip(xs, ys, names, strict=False):
            if name.startswith(ANCHOR):
                with contextlib.suppress(ValueError):
                    version = int(name[len(ANCHOR) :])
            else:
                rows.append((x, y, name))
        if version not in self._sent:
            version = self._version
        frame, base = self._sent.get(version, (self.frame, {}))
        if not frame:
            return
        named: dict[str, tuple[float, float]] = {}
        added: list[tuple[float, float]] = []
        for x, y, name in rows:
            if name in self.bodyparts:
                named[name] = (x, y)
            elif math.isfinite(x) and math.isfinite(y):
                added.append((x, y))
        changes: dict[str, tuple[float, float]] = {}
        for bp in base:
            if bp not in named:
                changes[bp] = (math.nan, math.nan)  # deleted in the browser
        for bp, xy in named.items():
            if base.get(bp) != xy:
                changes[bp] = xy  # dragged
        placed: list[str] = []
        for x, y in added:
            key = (version, round(x, 6), round(y, 6))
            bp = self._assigned.get(key)
            if bp is None:
                bp = self._target(frame, exclude=placed)
                if bp is None:
                    continue
                self._assigned[key] = bp
                placed.append(bp)
                if len(self._assigned) > 2000:
                    for k in list(self._assigned)[:1000]:
                        del self._assigned[k]
            changes[bp] = (x, y)
        if not changes and not added:
            return  # an echo of what Python sent
        applied = self.store.apply(frame, changes) if changes else []
        for bp in placed:
            self.not_visible.discard((frame, bp))
        if placed and frame == self.frame:
            after = self._first_unlabelled(frame, after=placed[-1])
            if after is not None:
                self.selected = after
        if frame == self.frame and (applied or version == self._version):
            self._render()
        elif applied:
            self._update_status()

    def _target(self, frame: str, exclude: list[str]) -> str | None:
        """Bodypart a click on ``frame`` places."""
        if frame == self.frame and not exclude:
            return self.selected or None
        after = exclude[-1] if exclude else None
        if frame == self.frame and after is not None:
            return self._first_unlabelled(frame, after=after, skip=exclude)
        return self._first_unlabelled(frame, skip=exclude)

    def _first_unlabelled(
        self, frame: str, *, after: str | None = None, skip: list[str] | None = None
    ) -> str | None:
        """Next bodypart without a point on ``frame`` (cyclic, from ``after``)."""
        if self.store is None or not self.bodyparts:
            return None
        arr = self.store.get(frame)
        k = len(self.bodyparts)
        start = self.bodyparts.index(after) + 1 if after in self.bodyparts else 0
        for n in range(k):
            j = (start + n) % k
            bp = self.bodyparts[j]
            if skip and bp in skip:
                continue
            if np.isnan(arr[j]).any() and (frame, bp) not in self.not_visible:
                return bp
        return None

    # ================================================================ editing
    def select(self, bodypart: str) -> None:
        """Select the bodypart the next click places."""
        if bodypart not in self.bodyparts:
            raise ValueError(f"{bodypart!r} is not one of {self.bodyparts}")
        self.selected = bodypart
        self._update_status()

    def select_next(self, step: int = 1) -> None:
        """Select the next (``step=-1``: previous) bodypart in config order."""
        if not self.bodyparts:
            return
        j = (
            self.bodyparts.index(self.selected)
            if self.selected in self.bodyparts
            else 0
        )
        self.select(self.bodyparts[(j + step) % len(self.bodyparts)])

    @_locked
    def place(self, x: float, y: float, bodypart: str | None = None) -> None:
        """Place ``bodypart`` (default: the selected one) at image pixel ``(x, y)``."""
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.selected
        self.store.set_point(self.frame, bp, x, y)
        self.not_visible.discard((self.frame, bp))
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self._render()

    @_locked
    def delete(self, bodypart: str | None = None) -> None:
        """Delete a point (default: the selected bodypart's) on the current frame."""
        if self.store is None or not self.frame:
            return
        self.store.clear_point(self.frame, bodypart or self.selected)
        self._render()

    @_locked
    def mark_not_visible(self, bodypart: str | None = None) -> None:
        """Mark a bodypart not visible on this frame (NaN) and select the next one."""
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.selected
        self.store.clear_point(self.frame, bp)
        self.not_visible.add((self.frame, bp))
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self._render()

    @_locked
    def undo(self) -> list[PointChange]:
        """Undo the last change (going to its frame); return what changed."""
        if self.store is None:
            return []
        return self._show_changes(self.store.undo())

    @_locked
    def redo(self) -> list[PointChange]:
        """Redo the last undone change (going to its frame); return what changed."""
        if self.store is None:
            return []
        return self._show_changes(self.store.redo())

    def _show_changes(self, changes: list[PointChange]) -> list[PointChange]:
        if not changes:
            self.show_message("Nothing to undo or redo.", level="info")
            return changes
        frame = changes[0].frame
        if frame != self.frame and frame in self.frames:
            self.goto(frame)
        else:
            self._render()
        return changes

    # ================================================================ keyboard
    @_locked
    def handle_key(self, event: Mapping[str, Any]) -> str | None:
        """Run the shortcut for an ipyevents ``keydown`` event; return its action."""
        if event.get("type") != "keydown":
            return None
        key = str(event.get("key", ""))
        ctrl = bool(event.get("ctrlKey") or event.get("metaKey"))
        shift = bool(event.get("shiftKey"))
        name = key if len(key) != 1 else key.lower()
        if ctrl:
            name = "Ctrl+" + ("Shift+" if shift else "") + name
        action = next((a for a, ks in SHORTCUTS.items() if name in ks), None)
        if action is None:
            return None
        {
            "next frame": self.next_frame,
            "previous frame": self.previous_frame,
            "next bodypart": lambda: self.select_next(1),
            "previous bodypart": lambda: self.select_next(-1),
            "delete point": self.delete,
            "not visible": self.mark_not_visible,
            "undo": self.undo,
            "redo": self.redo,
            "reset zoom": self.reset_view,
            "label / pan mode": self.toggle_pan,
        }[action]()
        return action

    # ================================================================ display
    def _on_dotsize(self, change: Mapping[str, Any]) -> None:
        self.points_renderer.glyph.size = float(change["new"])

    def _on_alpha(self, change: Mapping[str, Any]) -> None:
        self.points_renderer.glyph.fill_alpha = float(change["new"])

    def _on_store_report(self, report: SyncReport) -> None:
        level = "error" if report.error else "warning"
        self.show_message(report.message, level=level)

    def show_message(self, text: str, *, level: str = "info") -> None:
        """Show a message under the canvas (``info``, ``warning`` or ``error``)."""
        if not text:
            self.message.value = ""
            return
        color = {"error": "#b00020", "warning": "#8a5300"}.get(level, "#1d4f91")
        bg = {"error": "#fde7ea", "warning": "#fff4e0"}.get(level, "#e8f0fb")
        self.message.value = (
            f"<div class='labeler-{level}' style='color:{color};background:{bg};"
            f"padding:6px 10px;border-radius:4px;max-width:1000px'>"
            f"{html.escape(text)}</div>"
        )

    def _show_empty(self, text: str) -> None:
        self._index = 0
        self._set_slider_max()
        self.image_source.data = {
            "url": [],
            "x": [],
            "y": [],
            "w": [],
            "h": [],
            "v": [],
        }
        self._render()
        if text:
            self.show_message(text, level="info")

    def _update_status(self) -> None:
        frame = self.frame
        store = self.store
        for b, bp in zip(self.bodypart_buttons, self.bodyparts, strict=True):
            mark = ""
            if store is not None and frame:
                x, _ = store.point(frame, bp)
                if math.isfinite(x):
                    mark = " ✓"
                elif (frame, bp) in self.not_visible:
                    mark = " (not visible)"
            sel = bp == self.selected
            b.description = ("▶ " if sel else "") + bp + mark
            b.style.font_weight = "bold" if sel else "normal"
            b.layout.border = "3px solid #222" if sel else "1px solid #bbb"
        self.undo_button.disabled = store is None or not store.can_undo
        self.redo_button.disabled = store is None or not store.can_redo
        if store is None or not frame:
            self.status.value = ""
            return
        arr = store.get(frame)
        done = int(np.sum(~np.isnan(arr[:, 0])))
        n_lab = len(store.labelled_frames())
        color = (
            self.colors[self.bodyparts.index(self.selected)] if self.selected else ""
        )
        mode = "pan (m: label)" if self._pan_mode else "label (m: pan)"
        self.status.value = (
            f"<span class='frame-name'><b>{Path(frame).name}</b></span> · frame "
            f"{self._index + 1} of {len(store.frames)} · "
            f"<span class='frame-progress'>{done} of {len(self.bodyparts)} bodyparts"
            "</span> on this frame · "
            f"<span class='labelled-count'>{n_lab} of {len(store.frames)} frames "
            "labelled</span> · click places "
            f"<span style='color:{color};font-size:16px'>●</span> "
            f"<b class='selected-bodypart'>{self.selected}</b> · mode: {mode}"
        )

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
