"""Click-to-label canvas: Bokeh in ``jupyter_bokeh.BokehModel`` + ipywidgets controls.

:class:`Labeler` is the view of a :class:`~posekit.widgets.labeler_model.LabelerModel`,
which holds the labelling state and logic (and saves every change to DeepLabCut's
``CollectedData_<scorer>.h5``/``.csv``). This module only turns browser events into
model calls and model state into the Bokeh document and the controls:

- the frame is sent as a JPEG (or PNG) data URL to a Bokeh ``ImageURL`` glyph, never
  as raw pixels;
- the points ``ColumnDataSource`` mirrors the model's
  :attr:`~posekit.widgets.labeler_model.LabelerModel.points_table`; what Bokeh's
  ``PointDrawTool`` sends back (twice per change, plus echoes of Python's own writes)
  goes to :meth:`~posekit.widgets.labeler_model.LabelerModel.receive_points`, which
  applies each user edit once, to the frame it was made on;
- keys come from ``ipyevents`` on the ``BokehModel`` (Bokeh has no key events in
  Python). Two clicks within ~0.5 s are one Bokeh DoubleTap and place one point
  (the browser tests wait 0.75 s between clicks).

Coordinates are image pixels with pixel centres at integers: the image spans
``-0.5 .. W - 0.5``, ``y`` points down (flipped y range).
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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

from ..engine.project import Project
from ._bokeh import (
    BokehComponent,
    LiveBokehModel,
    LiveVBox,
    display_scale,
    ensure_bokehjs,
    hex_colors,
    text_color,
)
from .frame_image import IMAGE_FORMATS, image_file_data_url, placeholder_data_url
from .labeler_model import ANCHOR, SHORTCUTS, LabelerModel, key_action

__all__ = ["ANCHOR", "SHORTCUTS", "Labeler"]

_KEY_LABELS = {
    "ArrowRight": "→",
    "ArrowLeft": "←",
    "ArrowDown": "↓",
    "ArrowUp": "↑",
    "Delete": "Del",
}

_MISSING = "is missing or unreadable"


def _from_model(name: str, doc: str | None = None) -> property:
    """Make a read-only property giving the model's attribute ``name``."""
    if doc is None:
        doc = getattr(LabelerModel, name).__doc__
    return property(lambda self: getattr(self.model, name), doc=doc)


def _forward(name: str) -> Callable[..., Any]:
    """Make a method calling the model's method ``name`` (same signature, docs)."""

    @functools.wraps(getattr(LabelerModel, name))
    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.model, name)(*args, **kwargs)

    return method


class Labeler(BokehComponent):
    """Label the extracted frames of a project's videos by clicking.

    Click places the selected bodypart (and selects the next unlabelled one), drag
    moves a point, the wheel zooms, keys navigate (:data:`SHORTCUTS`, also listed
    under the canvas). Every change is saved at once to
    ``labeled-data/<video>/CollectedData_<scorer>.h5`` (+ ``.csv``).

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder, or a
        :class:`~posekit.widgets.labeler_model.LabelerModel` to show.
    video
        Video stem (a folder of ``labeled-data/``) to start with (default: the first;
        ignored when ``project`` is a model).
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
    model
        The :class:`~posekit.widgets.labeler_model.LabelerModel` (state and logic).
    figure, points_source, image_source, skeleton_source
        The Bokeh figure and its data sources.
    bokeh_model
        The ``jupyter_bokeh.BokehModel`` holding the figure (CSS class ``labeler``).
    events
        The ``ipyevents.Event`` on :attr:`bokeh_model` for keyboard shortcuts.
    widget
        The whole labeller (display this).

    Raises
    ------
    ValueError
        If ``image_format`` is not one of the three above.
    """

    def __init__(
        self,
        project: Project | LabelerModel | str | os.PathLike,
        video: str | None = None,
        *,
        display_width: int | None = None,
        image_format: str = "jpeg",
        jpeg_quality: int = 90,
        load_bokehjs: bool = True,
    ) -> None:
        if image_format not in IMAGE_FORMATS:
            raise ValueError(
                "image_format must be 'jpeg', 'png' or 'original'; received "
                f"{image_format!r}"
            )
        if load_bokehjs:
            ensure_bokehjs()
        self.model = (
            project
            if isinstance(project, LabelerModel)
            else LabelerModel(project, video)
        )
        self.colors = hex_colors(len(self.bodyparts), self.project.display.colormap)
        self.display_width = display_width
        self.image_format = image_format
        self.jpeg_quality = int(jpeg_quality)
        self._size: tuple[int, int] | None = None
        self._image_version = 0
        self._writing = False
        self._syncing = False
        self._pan_mode = False
        self._build_figure()
        self._build_controls()
        #: What this view registered on the model (undone by :meth:`close`).
        self._callbacks: list[tuple[str, Callable[[], None]]] = [
            ("videos", self._sync_videos),
            ("frames", self._set_slider_max),
            ("frame", self._show_frame),
            ("points", self._show_points),
            ("status", self._update_status),
            ("message", self._show_model_message),
        ]
        for event, fn in self._callbacks:
            self.model.on(event, fn)
        with self.model.lock:  # start from the model's present state
            self._sync_videos()
            self._show_model_message()
            self._show_frame()
            self._show_points()

    def close(self) -> None:
        """Stop following the model and close every widget of the labeller."""
        for event, fn in self._callbacks:
            self.model.off(event, fn)
        self.events.close()
        super().close()

    # ================================================================ the model
    # The model's state and actions, on the labeller too (scripts, the apps).
    project = _from_model("project", "The project.")
    bodyparts = _from_model("bodyparts", "The project's bodyparts, in config order.")
    store = _from_model("store", "The :class:`~posekit.engine.labels.LabelStore`.")
    selected = _from_model("selected", "The bodypart the next click places.")
    not_visible = _from_model("not_visible", "``(frame, bodypart)`` not visible.")
    frame_changed = _from_model("frame_changed", "Called after every frame switch.")
    frames = _from_model("frames")
    frame_index = _from_model("frame_index")
    frame = _from_model("frame")
    videos = _forward("videos")
    set_video = _forward("set_video")
    refresh_frames = _forward("refresh_frames")
    goto = _forward("goto")
    jump = _forward("jump")
    find_frame = _forward("find_frame")
    next_frame = _forward("next_frame")
    previous_frame = _forward("previous_frame")
    select = _forward("select")
    select_next = _forward("select_next")
    place = _forward("place")
    delete = _forward("delete")
    mark_not_visible = _forward("mark_not_visible")
    undo = _forward("undo")
    redo = _forward("redo")

    def handle_key(self, event: Mapping[str, Any]) -> str | None:
        """Run the shortcut for an ipyevents ``keydown`` event; return its action."""
        with self.model.lock:
            view_actions = {
                "reset zoom": self.reset_view,
                "label / pan mode": self.toggle_pan,
            }
            action = key_action(event)
            if action in view_actions:
                view_actions[action]()
                return action
            return self.model.handle_key(event)

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
            line_color=self.project.display.skeleton_color,
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
        display = self.project.display
        self.points_renderer = p.scatter(
            "x",
            "y",
            source=self.points_source,
            size=display.dotsize,
            fill_color={"field": "bodypart", "transform": mapper},
            fill_alpha=display.alphavalue,
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
        self.jump_box = W.Text(
            placeholder="go to: img0042.png or 42",
            description="Go to",
            continuous_update=False,  # on Enter (or leaving the box)
            layout=W.Layout(width="230px"),
            style={"description_width": "40px"},
            tooltip="a frame's file name or number, then Enter",
        )
        self.jump_box.add_class("labeler-jump")
        self.jump_box.observe(self._on_jump, "value")
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
        self._message = self.message
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
                self.jump_box,
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

    # ================================================================ model → view
    def _sync_videos(self) -> None:
        """Offer the model's videos and show the current one."""
        m = self.model
        self._syncing = True
        try:
            if list(self.video_dropdown.options) != m.known_videos:
                self.video_dropdown.options = m.known_videos
            if m.video in m.known_videos and self.video_dropdown.value != m.video:
                self.video_dropdown.value = m.video
        finally:
            self._syncing = False

    def _set_slider_max(self) -> None:
        self._syncing = True
        try:
            self.frame_slider.max = max(len(self.model.frames), 1)
        finally:
            self._syncing = False

    def _show_frame(self) -> None:
        """Show the model's current frame: image, slider (empty without frames)."""
        m = self.model
        if self.frame_slider.max != max(len(m.frames), 1):
            self._set_slider_max()
        if not m.frame:
            self.image_source.data = {
                "url": [],
                "x": [],
                "y": [],
                "w": [],
                "h": [],
                "v": [],
            }
            return
        self._show_image(m.frame)
        if self.frame_slider.value != m.frame_index + 1:
            self._syncing = True
            try:
                self.frame_slider.value = m.frame_index + 1
            finally:
                self._syncing = False

    def _show_points(self) -> None:
        """Write the model's points and skeleton into the Bokeh sources."""
        m = self.model
        self._writing = True  # Bokeh calls on_change for Python's own writes too
        try:
            self.points_source.data = dict(m.points_table)
            self.skeleton_source.data = dict(m.skeleton_table)
        finally:
            self._writing = False
        self._update_status()

    def _show_model_message(self) -> None:
        self.show_message(self.model.message, level=self.model.message_level)

    # ================================================================ view → model
    def _on_video(self, change: Mapping[str, Any]) -> None:
        if change["new"] is not None and not self._syncing:
            self.model.set_video(change["new"])

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:
            self.model.goto(int(change["new"]) - 1)  # the slider counts from 1

    def _on_jump(self, change: Mapping[str, Any]) -> None:
        """Go to the frame typed in the jump box, then empty the box."""
        text = str(change["new"]).strip()
        if not text:
            return
        self.model.jump(text)
        self.jump_box.value = ""

    def _on_points_change(self, attr: str, old: Any, new: Any) -> None:
        if not self._writing:
            self.model.receive_points(new)

    def _on_dotsize(self, change: Mapping[str, Any]) -> None:
        self.points_renderer.glyph.size = float(change["new"])

    def _on_alpha(self, change: Mapping[str, Any]) -> None:
        self.points_renderer.glyph.fill_alpha = float(change["new"])

    # ================================================================ image
    def frame_data_url(self, frame: str) -> tuple[str, tuple[int, int]] | None:
        """Encode the frame's image as a data URL; give it with its size ``(W, H)``.

        Returns
        -------
        tuple of (str, (int, int)) or None
            ``None`` when the image is missing or unreadable.
        """
        store = self.model.store
        if store is None:
            return None
        return image_file_data_url(
            store.image_path(frame), self.image_format, quality=self.jpeg_quality
        )

    def _show_image(self, frame: str) -> None:
        got = self.frame_data_url(frame)
        if got is None:
            size = self._size or (640, 480)
            url = placeholder_data_url(*size)
            store = self.model.store
            self.show_message(
                f"The image of {frame} {_MISSING} "
                f"({store.image_path(frame) if store else frame}). Its "
                "labels are kept; extract the frame again with the frame picker to "
                "see it.",
                level="warning",
            )
        else:
            url, size = got
            if self.message.value and _MISSING in self.message.value:
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

    # ================================================================ text
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

    def _update_status(self) -> None:
        m = self.model
        marks = {"labelled": " ✓", "not visible": " (not visible)"}
        for b, bp in zip(self.bodypart_buttons, self.bodyparts, strict=True):
            sel = bp == m.selected
            b.description = (
                ("▶ " if sel else "") + bp + marks.get(m.point_state(bp), "")
            )
            b.style.font_weight = "bold" if sel else "normal"
            b.layout.border = "3px solid #222" if sel else "1px solid #bbb"
        self.undo_button.disabled = not m.can_undo
        self.redo_button.disabled = not m.can_redo
        if m.store is None or not m.frame:
            self.status.value = ""
            return
        n_frames = len(m.frames)
        color = self.colors[self.bodyparts.index(m.selected)] if m.selected else ""
        mode = "pan (m: label)" if self._pan_mode else "label (m: pan)"
        self.status.value = (
            f"<span class='frame-name'><b>{Path(m.frame).name}</b></span> · frame "
            f"{m.frame_index + 1} of {n_frames} · "
            f"<span class='frame-progress'>{m.n_labelled_bodyparts()} of "
            f"{len(self.bodyparts)} bodyparts</span> on this frame · "
            f"<span class='labelled-count'>{m.n_labelled_frames()} of {n_frames} "
            "frames labelled</span> · click places "
            f"<span style='color:{color};font-size:16px'>●</span> "
            f"<b class='selected-bodypart'>{m.selected}</b> · mode: {mode}"
        )
