"""Region-of-interest editor: draw rectangles, circles, polygons and lines on a frame.

:class:`ROIEditor` shows a :class:`~posekit.widgets.roi_editor_model.ROIEditorModel`
(the ROIs and all the logic; see that module for how drawn shapes are named) in one
Bokeh figure inside a ``jupyter_bokeh.BokehModel``:

- **rectangles**: Bokeh's ``BoxEditTool`` (shift + drag draws a box; drag moves it;
  tap + Backspace deletes it). With *new box → circle* selected, a drawn box becomes
  the circle inscribed in it;
- **circles**: drawn as a box (above) or typed as centre + radius; drag a circle's
  centre to move it;
- **polygons**: ``PolyDrawTool`` (press and hold to place the first vertex, tap each
  next one, press and hold on the last one or press Esc to finish) and
  ``PolyEditTool`` (double-tap a polygon, then drag its vertices);
- **lines** (:class:`~posekit.engine.behavior.roi.LineROI`, movement's
  ``LineOfInterest``): a second ``PolyDrawTool`` on a ``MultiLine``, drawn like a
  polygon (2 points at least); the same ``PolyEditTool`` moves their points. A loop
  (loaded from a file or :meth:`ROIEditor.add_line` with ``loop=True``) shows its
  closing segment dashed and stays a loop when its points are moved.

Each drawing tool edits a ``ColumnDataSource`` (one per shape kind) in the browser;
every ``data`` that comes back goes to :meth:`ROIEditorModel.apply_drawn
<posekit.widgets.roi_editor_model.ROIEditorModel.apply_drawn>`. Rectangle and circle
rows are written back with their names (labels show them); polygon and line rows are
never written back while the browser edits them, so a shape being drawn is not
disturbed.

Every change calls the callbacks registered with :meth:`ROIEditor.on_change`.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.behavior.roi import ROI, CircleROI, LineROI, PolygonROI, RectangleROI
from ._bokeh import BokehComponent, display_scale
from .app import live_region
from .data_root import check_in_data_root
from .roi_editor_model import KINDS, Kind, ROIEditorModel, roi_description, to_float

__all__ = ["ROIEditor", "roi_description"]

logger = logging.getLogger("posekit.widgets.roi_editor")

_COLORS = {
    "rectangle": "#ff7f0e",
    "circle": "#1f77b4",
    "polygon": "#2ca02c",
    "line": "#d62728",
}
#: Tables written back after a drawn table of each kind was applied (``None``: a
#: change made in Python). Polygon and line tables are never written back while drawn.
_PUSHED: dict[Kind | None, tuple[Kind, ...]] = {
    None: KINDS,
    "rectangle": ("rectangle", "circle"),
    "circle": ("circle",),
    "polygon": (),
    "line": (),
}


class ROIEditor(BokehComponent):
    """Draw and name ROIs on a video frame (or a blank arena); GeoJSON in and out.

    Parameters
    ----------
    image
        ``(H, W, 3)`` RGB ``uint8`` frame shown under the ROIs.
    size
        ``(width, height)`` of a blank arena (when there is no image; default
        ``(640, 480)``).
    rois
        ROIs to start with.
    display_width
        Width of the drawing area in screen pixels (default: the image size scaled
        into 480–900 px).
    name_prefix
        Prefix of automatic names (``roi1``, ``roi2``, …).
    load_bokehjs
        Load BokehJS into the page first (turn off in tests).

    Attributes
    ----------
    model : ROIEditorModel
        The ROIs and the editing logic (the methods below forward to it).
    figure
        The Bokeh figure (name ``posekit-roi-editor``).
    rect_source, circle_source, poly_source, line_source
        The ``ColumnDataSource`` of each shape kind (what the drawing tools edit).
    loop_source
        The closing segments of loops (``x0, y0, x1, y1``; drawn dashed, not edited).
    label_source
        Names drawn beside the shapes.
    box_tool, poly_draw_tool, line_draw_tool, poly_edit_tool, circle_drag_tool
        The Bokeh drawing tools.
    bokeh_model
        The ``BokehModel`` (CSS class ``posekit-roi-editor``).
    allowed_folders : tuple of pathlib.Path
        Folders the GeoJSON box accepts besides the data root
        (:mod:`posekit.widgets.data_root`; a relative path is taken in its first
        folder); the behaviour app puts its own there. :meth:`save` and
        :meth:`load` (the Python API) are not restricted.
    widget
        The whole editor (display this).

    Examples
    --------
    >>> editor = ROIEditor(size=(100, 80), load_bokehjs=False)
    >>> _ = editor.add_rectangle("box", 10, 10, 40, 30)
    >>> _ = editor.add_circle("well", 70, 40, 5)
    >>> [r.name for r in editor.rois]
    ['box', 'well']
    >>> list(editor.rect_source.data["name"])
    ['box']
    >>> _ = editor.add_line("wall", [(0, 50), (99, 50)])
    >>> list(editor.line_source.data["xs"])
    [[0.0, 99.0]]
    """

    def __init__(
        self,
        image: np.ndarray | None = None,
        *,
        size: tuple[int, int] | None = None,
        rois: Iterable[ROI] = (),
        display_width: int | None = None,
        name_prefix: str = "roi",
        load_bokehjs: bool = True,
    ) -> None:
        if load_bokehjs:
            from ._bokeh import ensure_bokehjs

            ensure_bokehjs()
        if image is not None:
            img = np.asarray(image)
            self.width, self.height = int(img.shape[1]), int(img.shape[0])
        else:
            self.width, self.height = (int(v) for v in (size or (640, 480)))
        if self.width < 1 or self.height < 1:
            raise ValueError(
                f"the arena needs a positive size; received {self.width}x{self.height}"
            )
        self.display_width = display_width
        self.allowed_folders: tuple[Path, ...] = ()
        self.model = ROIEditorModel(rois, name_prefix=name_prefix)
        self._callbacks = self.model.callbacks  # cleared by close()
        self._syncing = False
        self._build_figure()
        self._build_controls()
        if image is not None:
            self.set_image(image)
        self.model.observe(self._on_model)
        self._push(KINDS)
        self._refresh_list()
        self.bokeh_model.refresh()  # views made later start from the current document

    # ================================================================ the model
    @property
    def rois(self) -> list[ROI]:
        """The ROIs, in the order they were made (a copy)."""
        return self.model.rois

    @property
    def names(self) -> list[str]:
        """Names of the ROIs."""
        return self.model.names

    @property
    def name_prefix(self) -> str:
        """Prefix of automatic names."""
        return self.model.name_prefix

    @property
    def new_box_shape(self) -> Kind:
        """What a newly drawn box becomes: ``"rectangle"`` or ``"circle"``."""
        return self.model.new_box_shape

    @new_box_shape.setter
    def new_box_shape(self, value: Kind) -> None:
        self.model.new_box_shape = value

    def __len__(self) -> int:
        return len(self.model)

    def get(self, name: str) -> ROI:
        """Return the ROI called ``name`` (:meth:`ROIEditorModel.get`)."""
        return self.model.get(name)

    def on_change(self, callback: Callable[[list[ROI]], None]) -> None:
        """Call ``callback(rois)`` after every change of the ROIs."""
        self.model.on_change(callback)

    def next_name(self) -> str:
        """Return the first free automatic name (``roi1``, ``roi2``, …)."""
        return self.model.next_name()

    def add(self, roi: ROI, *, notify: bool = True) -> ROI:
        """Add an engine ROI (:meth:`ROIEditorModel.add`)."""
        return self.model.add(roi, notify=notify)

    def add_rectangle(
        self, name: str | None, x_min: float, y_min: float, x_max: float, y_max: float
    ) -> RectangleROI:
        """Add a rectangle (``name=None``: the next automatic name)."""
        return self.model.add_rectangle(name, x_min, y_min, x_max, y_max)

    def add_circle(
        self, name: str | None, cx: float, cy: float, radius: float
    ) -> CircleROI:
        """Add a circle (``name=None``: the next automatic name)."""
        return self.model.add_circle(name, cx, cy, radius)

    def add_polygon(
        self, name: str | None, vertices: Sequence[Sequence[float]]
    ) -> PolygonROI:
        """Add a polygon from its vertices (``name=None``: the next automatic name)."""
        return self.model.add_polygon(name, vertices)

    def add_line(
        self,
        name: str | None,
        points: Sequence[Sequence[float]],
        loop: bool = False,
    ) -> LineROI:
        """Add a line through ``points`` (:meth:`ROIEditorModel.add_line`)."""
        return self.model.add_line(name, points, loop)

    def remove(self, name: str) -> ROI:
        """Delete the ROI called ``name`` and return it (:meth:`ROIEditorModel.remove`)."""
        return self.model.remove(name)

    def rename(self, old: str, new: str) -> ROI:
        """Give the ROI ``old`` the name ``new`` (:meth:`ROIEditorModel.rename`)."""
        return self.model.rename(old, new)

    def clear(self) -> None:
        """Delete every ROI."""
        self.model.clear()

    def set_rois(self, rois: Iterable[ROI]) -> None:
        """Replace every ROI (:meth:`ROIEditorModel.set_rois`)."""
        self.model.set_rois(rois)

    def to_geojson(self) -> dict[str, Any]:
        """Return the ROIs as a GeoJSON ``FeatureCollection``."""
        return self.model.to_geojson()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ROIs as GeoJSON and return the file (:meth:`ROIEditorModel.save`)."""
        return self.model.save(path)

    def load(self, path: str | os.PathLike) -> list[ROI]:
        """Replace the ROIs by those of a GeoJSON file (:meth:`ROIEditorModel.load`)."""
        return self.model.load(path)

    # ================================================================ background
    def set_image(self, image: np.ndarray) -> None:
        """Show ``image`` (``(H, W, 3)`` RGB ``uint8``) under the ROIs."""
        from ._bokeh import image_to_data_url

        img = np.asarray(image)
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 RGB image; received {img.shape} {img.dtype}"
            )
        self._resize(img.shape[1], img.shape[0])
        self.image_source.data = {
            "url": [image_to_data_url(img, "jpeg", quality=85)],
            "x": [-0.5], "y": [-0.5], "w": [self.width], "h": [self.height],
        }  # fmt: skip

    def set_arena(self, width: int, height: int) -> None:
        """Show a blank arena of ``width`` x ``height`` pixels (no image)."""
        self._resize(int(width), int(height))
        self.image_source.data = {"url": [], "x": [], "y": [], "w": [], "h": []}

    def _resize(self, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError(
                f"the arena needs a positive size; received {width}x{height}"
            )
        self.width, self.height = int(width), int(height)
        s = display_scale(
            self.width, self.height, self.display_width, max_size=(900, 700)
        )
        self.scale = s
        w, h = self.width, self.height
        self.x_range.update(start=-0.5, end=w - 0.5, bounds=(-0.5, w - 0.5))
        self.y_range.update(start=h - 0.5, end=-0.5, bounds=(-0.5, h - 0.5))
        self.figure.frame_width = round(w * s)
        self.figure.frame_height = round(h * s)
        self.frame_box.data = {
            "x": [(w - 1) / 2],
            "y": [(h - 1) / 2],
            "w": [w],
            "h": [h],
        }

    # ================================================================ model ↔ sources
    def _on_model(self, source: Kind | None, changed: bool) -> None:
        """Write the tables back after the model changed (see :data:`_PUSHED`)."""
        if changed:
            self._refresh_list()
        self._push(_PUSHED[source])

    def _source(self, kind: Kind) -> Any:
        return {
            "rectangle": self.rect_source,
            "circle": self.circle_source,
            "polygon": self.poly_source,
            "line": self.line_source,
        }[kind]

    def _push(self, kinds: Iterable[Kind]) -> None:
        """Write the sources of ``kinds`` (only where they differ) and the labels."""
        self._syncing = True
        try:
            for kind in kinds:
                data = self.model.source_data(kind)
                source = self._source(kind)
                if not _data_equal(dict(source.data), data):
                    source.data = data
            labels = self.model.label_data()
            if not _data_equal(dict(self.label_source.data), labels):
                self.label_source.data = labels
            loops = _loop_closures(self.model.rois)
            if not _data_equal(dict(self.loop_source.data), loops):
                self.loop_source.data = loops
        finally:
            self._syncing = False

    def _on_drawn(self, kind: Kind) -> Callable[[str, Any, Any], None]:
        def handler(attr: str, old: Any, new: Any) -> None:
            if not self._syncing:
                self.model.apply_drawn(kind, dict(self._source(kind).data))

        return handler

    # ================================================================ building
    def _build_figure(self) -> None:
        from bokeh.models import (
            BoxEditTool,
            ColumnDataSource,
            LabelSet,
            PanTool,
            PointDrawTool,
            PolyDrawTool,
            PolyEditTool,
            Range1d,
            ResetTool,
            WheelZoomTool,
        )
        from bokeh.plotting import figure

        from ._bokeh import LiveBokehModel

        w, h = self.width, self.height
        s = display_scale(w, h, self.display_width, max_size=(900, 700))
        self.scale = s
        self.x_range = Range1d(-0.5, w - 0.5, bounds=(-0.5, w - 0.5))
        self.y_range = Range1d(h - 0.5, -0.5, bounds=(-0.5, h - 0.5))
        p = figure(
            x_range=self.x_range,
            y_range=self.y_range,
            frame_width=round(w * s),
            frame_height=round(h * s),
            min_border=0,
            tools=[],
            toolbar_location="right",
            name="posekit-roi-editor",
        )
        p.axis.visible = False
        p.grid.visible = False
        p.outline_line_color = None
        p.background_fill_color = "#ffffff"
        p.toolbar.logo = None
        self.frame_box = ColumnDataSource(
            {"x": [(w - 1) / 2], "y": [(h - 1) / 2], "w": [w], "h": [h]}
        )
        p.rect("x", "y", "w", "h", source=self.frame_box, fill_color="#3a3a3a",
               line_color=None)  # fmt: skip
        self.image_source = ColumnDataSource(
            {"url": [], "x": [], "y": [], "w": [], "h": []}
        )
        p.image_url(
            url="url", x="x", y="y", w="w", h="h", anchor="top_left",
            source=self.image_source,
        )  # fmt: skip
        self.rect_source = ColumnDataSource(
            {"x": [], "y": [], "width": [], "height": [], "name": []}
        )
        rect = p.rect(
            "x", "y", "width", "height", source=self.rect_source,
            fill_color=_COLORS["rectangle"], fill_alpha=0.2,
            line_color=_COLORS["rectangle"], line_width=2,
        )  # fmt: skip
        self.circle_source = ColumnDataSource(
            {"x": [], "y": [], "radius": [], "name": []}
        )
        circle = p.circle(
            "x", "y", radius="radius", source=self.circle_source,
            fill_color=_COLORS["circle"], fill_alpha=0.2,
            line_color=_COLORS["circle"], line_width=2,
        )  # fmt: skip
        self.poly_source = ColumnDataSource({"xs": [], "ys": [], "name": []})
        poly = p.patches(
            "xs", "ys", source=self.poly_source,
            fill_color=_COLORS["polygon"], fill_alpha=0.2,
            line_color=_COLORS["polygon"], line_width=2,
        )  # fmt: skip
        self.vertex_source = ColumnDataSource({"x": [], "y": []})
        vertices = p.scatter(
            "x", "y", source=self.vertex_source, size=8, fill_color="white",
            line_color=_COLORS["polygon"],
        )  # fmt: skip
        self.line_source = ColumnDataSource({"xs": [], "ys": [], "name": []})
        line = p.multi_line(
            "xs", "ys", source=self.line_source, line_color=_COLORS["line"],
            line_width=3,
        )  # fmt: skip
        self.loop_source = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        p.segment(
            "x0", "y0", "x1", "y1", source=self.loop_source,
            line_color=_COLORS["line"], line_width=3, line_dash="dashed",
        )  # fmt: skip
        self.line_vertex_source = ColumnDataSource({"x": [], "y": []})
        line_vertices = p.scatter(
            "x", "y", source=self.line_vertex_source, size=8, fill_color="white",
            line_color=_COLORS["line"],
        )  # fmt: skip
        self.label_source = ColumnDataSource({"x": [], "y": [], "text": []})
        p.add_layout(
            LabelSet(
                x="x", y="y", text="text", source=self.label_source,
                x_offset=3, y_offset=-16, text_font_size="12px",
                text_color="white", background_fill_color="black",
                background_fill_alpha=0.5,
            )
        )  # fmt: skip
        self.box_tool = BoxEditTool(renderers=[rect], empty_value="")
        self.poly_draw_tool = PolyDrawTool(
            renderers=[poly], empty_value="", vertex_renderer=vertices
        )
        self.line_draw_tool = PolyDrawTool(
            renderers=[line], empty_value="", vertex_renderer=line_vertices
        )
        self.poly_edit_tool = PolyEditTool(
            renderers=[poly, line], vertex_renderer=vertices
        )
        self.circle_drag_tool = PointDrawTool(
            renderers=[circle], add=False, drag=True, empty_value=""
        )
        self.box_tool.description = "Rectangle / circle (shift + drag draws a box)"
        self.poly_draw_tool.description = (
            "Polygon (press and hold to start, tap the vertices, press and hold ends)"
        )
        self.line_draw_tool.description = (
            "Line (press and hold to start, tap the points, press and hold ends)"
        )
        self.poly_edit_tool.description = (
            "Edit the vertices of a polygon or line (double-tap it)"
        )
        self.circle_drag_tool.description = "Move circles"
        wheel = WheelZoomTool(zoom_on_axis=False)
        p.add_tools(
            self.box_tool,
            self.poly_draw_tool,
            self.line_draw_tool,
            self.poly_edit_tool,
            self.circle_drag_tool,
            PanTool(),
            wheel,
            ResetTool(),
        )
        p.toolbar.active_drag = self.box_tool
        p.toolbar.active_scroll = wheel
        for kind in KINDS:
            self._source(kind).on_change("data", self._on_drawn(kind))
        self.figure = p
        self.bokeh_model = LiveBokehModel(p, combine_events=True)
        self.bokeh_model.add_class("posekit-roi-editor")

    def _build_controls(self) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox

        style = {"description_width": "initial"}
        self.help = w.HTML(
            "<small><b>Rectangle</b>: shift + drag (box tool). <b>Circle</b>: choose "
            "<i>new box → circle</i> and draw a box, or type centre and radius. "
            "<b>Polygon</b> / <b>line</b>: polygon or line tool, press and hold for "
            "the first point, tap each next one, press and hold on the last one (or "
            "Esc) to finish. Lines have no inside: the behaviour app counts their "
            "crossings instead. Tap a shape and press Backspace to delete "
            "it.</small>"
        )
        self.shape_toggle = w.ToggleButtons(
            options=[("rectangle", "rectangle"), ("circle", "circle")],
            value="rectangle", description="new box →", style=style,
        )  # fmt: skip
        self.shape_toggle.observe(self._on_shape_toggle, "value")
        self.roi_list = w.Select(
            options=[], rows=5, description="ROIs", layout=w.Layout(width="420px")
        )
        self.roi_list.add_class("posekit-roi-list")
        self.name_box = w.Text(
            description="name", placeholder="new name", layout=w.Layout(width="220px")
        )
        self.rename_button = w.Button(description="Rename", icon="pencil")
        self.delete_button = w.Button(description="Delete", icon="trash")
        self.rename_button.on_click(lambda _: self._guard(self._rename_selected))
        self.delete_button.on_click(lambda _: self._guard(self._delete_selected))
        self.roi_list.observe(self._on_select, "value")
        num = {"layout": w.Layout(width="150px"), "style": style}
        self.cx = w.FloatText(description="centre x", **num)
        self.cy = w.FloatText(description="centre y", **num)
        self.radius = w.FloatText(value=20.0, description="radius", **num)
        self.add_circle_button = w.Button(description="Add circle", icon="circle")
        self.add_circle_button.on_click(
            lambda _: self._guard(
                self.add_circle,
                self.name_box.value.strip() or None,
                self.cx.value,
                self.cy.value,
                self.radius.value,
            )
        )
        self.path_box = w.Text(
            description="GeoJSON file", style=style, value="rois.geojson",
            layout=w.Layout(width="420px"),
        )  # fmt: skip
        self.save_button = w.Button(description="Save ROIs", icon="save")
        self.load_button = w.Button(description="Load ROIs", icon="folder-open")
        self.save_button.on_click(lambda _: self._guard(self._save_clicked))
        self.load_button.on_click(lambda _: self._guard(self._load_clicked))
        self.status = live_region(w.HTML())  # announced (QA s15 #8)
        self._message = self.status
        self.status.add_class("posekit-roi-status")
        row = {"layout": w.Layout(flex_flow="row wrap", align_items="center")}
        self.widget = LiveVBox(
            [
                self.help,
                self.shape_toggle,
                self.bokeh_model,
                w.HBox(
                    [
                        self.roi_list,
                        w.VBox(
                            [
                                self.name_box,
                                w.HBox([self.rename_button, self.delete_button]),
                            ]
                        ),
                    ],
                    **row,
                ),
                w.HBox([self.cx, self.cy, self.radius, self.add_circle_button], **row),
                w.HBox([self.path_box, self.save_button, self.load_button], **row),
                self.status,
            ]
        )
        self.widget.add_class("posekit-roi-editor-box")

    def _on_shape_toggle(self, change: dict[str, Any]) -> None:
        self.new_box_shape = change["new"]

    def _on_select(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.name_box.value = change["new"]

    def _rename_selected(self) -> None:
        if not self.roi_list.value:
            raise ValueError("select an ROI in the list first")
        self.rename(self.roi_list.value, self.name_box.value)
        self.roi_list.value = self.name_box.value.strip()

    def _delete_selected(self) -> None:
        if not self.roi_list.value:
            raise ValueError("select an ROI in the list first")
        self.remove(self.roi_list.value)

    def _typed_path(self) -> Path:
        value = self.path_box.value.strip()
        if not value:
            raise ValueError("Type the path of the GeoJSON file first.")
        return check_in_data_root(
            value, what="the GeoJSON file", also=self.allowed_folders
        )

    def _save_clicked(self) -> None:
        path = self.save(self._typed_path())
        self.status.value = (
            f"<small>saved {len(self)} ROI(s) to {html.escape(str(path))}</small>"
        )

    def _load_clicked(self) -> None:
        rois = self.load(self._typed_path())
        self.status.value = f"<small>loaded {len(rois)} ROI(s)</small>"

    def _refresh_list(self) -> None:
        if not hasattr(self, "roi_list"):
            return
        keep = self.roi_list.value
        self.roi_list.options = [(roi_description(r), r.name) for r in self.model.rois]
        if keep in self.names:
            self.roi_list.value = keep


def _loop_closures(rois: Iterable[ROI]) -> dict[str, list[float]]:
    """Return the closing segment (last point → first) of every loop among ``rois``."""
    loops = [r for r in rois if isinstance(r, LineROI) and r.loop]
    return {
        "x0": [r.points[-1][0] for r in loops],
        "y0": [r.points[-1][1] for r in loops],
        "x1": [r.points[0][0] for r in loops],
        "y1": [r.points[0][1] for r in loops],
    }


def _data_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two ColumnDataSource ``data`` dicts hold the same values."""
    if set(a) != set(b):
        return False
    for key in a:
        va, vb = list(a[key]), list(b[key])
        if len(va) != len(vb):
            return False
        for x, y in zip(va, vb, strict=True):
            if isinstance(x, (list, tuple, np.ndarray)) or isinstance(
                y, (list, tuple, np.ndarray)
            ):
                xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
                if xa.shape != ya.shape or not np.allclose(xa, ya, equal_nan=True):
                    return False
            elif isinstance(x, str) or isinstance(y, str):
                if x != y:
                    return False
            else:
                fx, fy = to_float(x), to_float(y)
                if not (fx == fy or (math.isnan(fx) and math.isnan(fy))):
                    return False
    return True
