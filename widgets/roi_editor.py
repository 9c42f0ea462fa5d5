"""Region-of-interest editor: draw rectangles, circles and polygons on a video frame.

The ROIs are the engine's :class:`~posekit.engine.behavior.roi.RectangleROI`,
:class:`~posekit.engine.behavior.roi.CircleROI` and
:class:`~posekit.engine.behavior.roi.PolygonROI` (image pixel coordinates, ``y`` down,
pixel centres at integers), saved and loaded as GeoJSON through
:func:`~posekit.engine.behavior.roi.save_rois` / :func:`~posekit.engine.behavior.roi.load_rois`.

:class:`ROIEditor` keeps the list of ROIs in Python (:attr:`ROIEditor.rois`) and shows
it in one Bokeh figure inside a ``jupyter_bokeh.BokehModel``:

- **rectangles**: Bokeh's ``BoxEditTool`` (shift + drag draws a box; drag moves it;
  tap + Backspace deletes it). With *new box → circle* selected, a drawn box becomes
  the circle inscribed in it;
- **circles**: drawn as a box (above) or typed as centre + radius; drag a circle's
  centre to move it;
- **polygons**: ``PolyDrawTool`` (tap each vertex, double-tap or Esc to finish) and
  ``PolyEditTool`` (double-tap a polygon, then drag its vertices).

How browser edits reach Python: each drawing tool edits a ``ColumnDataSource`` (one
per shape kind) in the browser and the whole ``data`` comes back to Python (twice, and
echoes of Python's own writes come back too; see ``shared/docs/frontend-notes.md``).
Every incoming ``data`` is reconciled with the current ROIs so that applying it again
changes nothing: a row keeps the name in its ``name`` column when that ROI exists,
else the name of the ROI with the same geometry, else the name of the row at the same
position, else it gets a new name (``roi1``, ``roi2``, …). Rectangle and circle rows
are written back with their names (labels show them); polygon rows are never written
back while the browser edits them, so a polygon being drawn is not disturbed.

Every change calls the callbacks registered with :meth:`ROIEditor.on_change`.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..engine.behavior.roi import (
    ROI,
    CircleROI,
    PolygonROI,
    RectangleROI,
    load_rois,
    save_rois,
)
from ._bokeh import BokehComponent, display_scale

__all__ = ["ROIEditor", "roi_description"]

logger = logging.getLogger("posekit.widgets.roi_editor")

Kind = Literal["rectangle", "circle", "polygon"]
_KINDS: dict[type[ROI], Kind] = {
    RectangleROI: "rectangle",
    CircleROI: "circle",
    PolygonROI: "polygon",
}
_COLORS = {"rectangle": "#ff7f0e", "circle": "#1f77b4", "polygon": "#2ca02c"}
_TOL = 1e-6


def roi_description(roi: ROI) -> str:
    """One line describing an ROI's shape in pixels.

    Examples
    --------
    >>> roi_description(RectangleROI("box", 0, 0, 10, 5))
    'box: rectangle x 0.0–10.0, y 0.0–5.0'
    >>> roi_description(CircleROI("well", 3, 4, 2))
    'well: circle centre (3.0, 4.0), radius 2.0'
    """
    if isinstance(roi, RectangleROI):
        return (
            f"{roi.name}: rectangle x {roi.x_min:.1f}–{roi.x_max:.1f}, "
            f"y {roi.y_min:.1f}–{roi.y_max:.1f}"
        )
    if isinstance(roi, CircleROI):
        return (
            f"{roi.name}: circle centre ({roi.cx:.1f}, {roi.cy:.1f}), "
            f"radius {roi.radius:.1f}"
        )
    if isinstance(roi, PolygonROI):
        return f"{roi.name}: polygon with {len(roi.vertices)} vertices"
    return f"{roi.name}: {type(roi).__name__}"  # pragma: no cover - future types


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _same_geometry(a: ROI, b: ROI) -> bool:
    """Equal shapes (names ignored)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, PolygonROI):
        va, vb = np.asarray(a.vertices), np.asarray(b.vertices)  # type: ignore[attr-defined]
        return va.shape == vb.shape and bool(np.allclose(va, vb, atol=_TOL))
    fields = {
        RectangleROI: ("x_min", "y_min", "x_max", "y_max"),
        CircleROI: ("cx", "cy", "radius"),
    }[type(a)]
    return all(abs(getattr(a, f) - getattr(b, f)) <= _TOL for f in fields)


def _renamed(roi: ROI, name: str) -> ROI:
    if isinstance(roi, RectangleROI):
        return RectangleROI(name, roi.x_min, roi.y_min, roi.x_max, roi.y_max)
    if isinstance(roi, CircleROI):
        return CircleROI(name, roi.cx, roi.cy, roi.radius)
    if isinstance(roi, PolygonROI):
        return PolygonROI(name, roi.vertices)
    raise TypeError(f"unsupported ROI type {type(roi).__name__}")  # pragma: no cover


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
    figure
        The Bokeh figure (name ``posekit-roi-editor``).
    rect_source, circle_source, poly_source
        The ``ColumnDataSource`` of each shape kind (what the drawing tools edit).
    label_source
        Names drawn beside the shapes.
    box_tool, poly_draw_tool, poly_edit_tool, circle_drag_tool
        The Bokeh drawing tools.
    bokeh_model
        The ``BokehModel`` (CSS class ``posekit-roi-editor``).
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
        self.name_prefix = str(name_prefix)
        self.new_box_shape: Kind = "rectangle"
        self._rois: list[ROI] = []
        self._poly_rows: list[str | None] = []
        self._callbacks: list[Callable[[list[ROI]], None]] = []
        self._syncing = False
        self._build_figure()
        self._build_controls()
        if image is not None:
            self.set_image(image)
        for roi in rois:
            self.add(roi, notify=False)
        self._refresh_list()
        self.bokeh_model.refresh()  # views made later start from the current document

    # ================================================================ public model
    @property
    def rois(self) -> list[ROI]:
        """The ROIs, in the order they were made (a copy)."""
        return list(self._rois)

    @property
    def names(self) -> list[str]:
        """Names of the ROIs."""
        return [r.name for r in self._rois]

    def __len__(self) -> int:
        return len(self._rois)

    def get(self, name: str) -> ROI:
        """The ROI called ``name``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for roi in self._rois:
            if roi.name == name:
                return roi
        raise KeyError(f"no ROI called {name!r}; the ROIs are {self.names}")

    def on_change(self, callback: Callable[[list[ROI]], None]) -> None:
        """Call ``callback(rois)`` after every change of the ROIs."""
        self._callbacks.append(callback)

    def next_name(self) -> str:
        """The first free automatic name (``roi1``, ``roi2``, …)."""
        used = set(self.names)
        k = 1
        while f"{self.name_prefix}{k}" in used:
            k += 1
        return f"{self.name_prefix}{k}"

    def add(self, roi: ROI, *, notify: bool = True) -> ROI:
        """Add an engine ROI.

        Raises
        ------
        ValueError
            If its name is taken.
        TypeError
            If it is not a rectangle, circle or polygon.
        """
        if type(roi) not in _KINDS:
            raise TypeError(
                f"the editor handles RectangleROI, CircleROI and PolygonROI; "
                f"received {type(roi).__name__}"
            )
        if roi.name in self.names:
            raise ValueError(
                f"an ROI called {roi.name!r} exists already; choose another name"
            )
        self._set(self._rois + [roi], notify=notify)
        return roi

    def add_rectangle(
        self,
        name: str | None,
        x_min: float,
        y_min: float,
        x_max: float,
        y_max: float,
    ) -> RectangleROI:
        """Add a rectangle (``name=None``: the next automatic name)."""
        roi = RectangleROI(name or self.next_name(), x_min, y_min, x_max, y_max)
        self.add(roi)
        return roi

    def add_circle(
        self, name: str | None, cx: float, cy: float, radius: float
    ) -> CircleROI:
        """Add a circle (``name=None``: the next automatic name)."""
        roi = CircleROI(name or self.next_name(), cx, cy, radius)
        self.add(roi)
        return roi

    def add_polygon(
        self, name: str | None, vertices: Sequence[Sequence[float]]
    ) -> PolygonROI:
        """Add a polygon from its vertices (``name=None``: the next automatic name)."""
        verts = tuple((float(x), float(y)) for x, y in vertices)
        roi = PolygonROI(name or self.next_name(), verts)
        self.add(roi)
        return roi

    def remove(self, name: str) -> ROI:
        """Delete the ROI called ``name`` and return it.

        Raises
        ------
        KeyError
            If there is none.
        """
        roi = self.get(name)
        self._set([r for r in self._rois if r.name != name])
        return roi

    def rename(self, old: str, new: str) -> ROI:
        """Give the ROI ``old`` the name ``new``.

        Raises
        ------
        KeyError
            If there is no ROI ``old``.
        ValueError
            If ``new`` is empty or taken by another ROI.
        """
        new = str(new).strip()
        roi = self.get(old)
        if not new:
            raise ValueError("an ROI needs a non-empty name")
        if new != old and new in self.names:
            raise ValueError(f"an ROI called {new!r} exists already")
        renamed = _renamed(roi, new)
        self._set([renamed if r.name == old else r for r in self._rois])
        return renamed

    def clear(self) -> None:
        """Delete every ROI."""
        self._set([])

    def set_rois(self, rois: Iterable[ROI]) -> None:
        """Replace every ROI.

        Raises
        ------
        ValueError
            If names repeat.
        """
        rois = list(rois)
        names = [r.name for r in rois]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"ROI names must be unique; repeated: {dup}")
        for roi in rois:
            if type(roi) not in _KINDS:
                raise TypeError(f"unsupported ROI type {type(roi).__name__}")
        self._set(rois)

    def to_geojson(self) -> dict[str, Any]:
        """The ROIs as a GeoJSON ``FeatureCollection`` (what :meth:`save` writes)."""
        return {
            "type": "FeatureCollection",
            "features": [r.to_feature() for r in self._rois],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ROIs as GeoJSON (:func:`~posekit.engine.behavior.roi.save_rois`).

        Returns
        -------
        Path
            The written file.
        """
        return save_rois(self._rois, path)

    def load(self, path: str | os.PathLike) -> list[ROI]:
        """Replace the ROIs by those of a GeoJSON file
        (:func:`~posekit.engine.behavior.roi.load_rois`).

        Returns
        -------
        list of ROI
            The loaded ROIs.
        """
        rois = load_rois(path)
        self.set_rois(rois)
        return rois

    # ------------------------------------------------------------ background
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

    # ================================================================ state → views
    def _set(self, rois: list[ROI], *, notify: bool = True) -> None:
        changed = rois != self._rois
        self._rois = list(rois)
        self._poly_rows = [r.name for r in self._rois if isinstance(r, PolygonROI)]
        self._push(("rectangle", "circle", "polygon"))
        if changed:
            self._refresh_list()
            if notify:
                self._notify()

    def _notify(self) -> None:
        rois = self.rois
        for callback in list(self._callbacks):
            try:
                callback(rois)
            except Exception:  # noqa: BLE001 - one bad callback must not stop editing
                logger.exception("ROI change callback failed")

    def _source_data(self, kind: Kind) -> dict[str, list]:
        of_kind = [r for r in self._rois if _KINDS[type(r)] == kind]
        if kind == "rectangle":
            return {
                "x": [(r.x_min + r.x_max) / 2 for r in of_kind],
                "y": [(r.y_min + r.y_max) / 2 for r in of_kind],
                "width": [r.x_max - r.x_min for r in of_kind],
                "height": [r.y_max - r.y_min for r in of_kind],
                "name": [r.name for r in of_kind],
            }
        if kind == "circle":
            return {
                "x": [r.cx for r in of_kind],
                "y": [r.cy for r in of_kind],
                "radius": [r.radius for r in of_kind],
                "name": [r.name for r in of_kind],
            }
        return {
            "xs": [[float(v[0]) for v in r.vertices] for r in of_kind],
            "ys": [[float(v[1]) for v in r.vertices] for r in of_kind],
            "name": [r.name for r in of_kind],
        }

    def _source(self, kind: Kind):
        return {
            "rectangle": self.rect_source,
            "circle": self.circle_source,
            "polygon": self.poly_source,
        }[kind]

    def _push(self, kinds: Iterable[Kind]) -> None:
        """Write the sources of ``kinds`` (only where they differ) and the labels."""
        self._syncing = True
        try:
            for kind in kinds:
                data = self._source_data(kind)
                source = self._source(kind)
                if not _data_equal(dict(source.data), data):
                    source.data = data
            labels = self._label_data()
            if not _data_equal(dict(self.label_source.data), labels):
                self.label_source.data = labels
        finally:
            self._syncing = False

    def _label_data(self) -> dict[str, list]:
        xs, ys, text = [], [], []
        for r in self._rois:
            if isinstance(r, RectangleROI):
                x, y = r.x_min, r.y_min
            elif isinstance(r, CircleROI):
                x, y = r.cx - r.radius, r.cy - r.radius
            else:
                v = np.asarray(r.vertices)  # type: ignore[attr-defined]
                x, y = float(v[:, 0].min()), float(v[:, 1].min())
            xs.append(float(x))
            ys.append(float(y))
            text.append(r.name)
        return {"x": xs, "y": ys, "text": text}

    # ================================================================ browser → state
    def _rows(self, kind: Kind, data: dict[str, Any]) -> list[tuple[str, ROI | None]]:
        """Rows of a source as (name column value, shape with a placeholder name or
        ``None`` when the row is not a valid shape)."""
        names = [
            "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in list(data.get("name", []))
        ]
        out: list[tuple[str, ROI | None]] = []
        if kind == "polygon":
            xs, ys = list(data.get("xs", [])), list(data.get("ys", []))
            n = min(len(xs), len(ys))
            names += [""] * (n - len(names))
            for i in range(n):
                try:
                    verts = tuple(
                        (_float(x), _float(y))
                        for x, y in zip(list(xs[i]), list(ys[i]), strict=False)
                    )
                    finite = tuple(v for v in verts if np.isfinite(v).all())
                    # drop consecutive duplicates (the vertex under the cursor)
                    dedup = tuple(
                        v
                        for j, v in enumerate(finite)
                        if j == 0 or np.hypot(*np.subtract(v, finite[j - 1])) > _TOL
                    )
                    shape: ROI | None = PolygonROI("_", dedup)
                except (ValueError, TypeError):
                    shape = None
                out.append((names[i], shape))
            return out
        x, y = list(data.get("x", [])), list(data.get("y", []))
        n = min(len(x), len(y))
        names += [""] * (n - len(names))
        for i in range(n):
            cx, cy = _float(x[i]), _float(y[i])
            try:
                if kind == "rectangle":
                    w = abs(_float(list(data.get("width", []))[i]))
                    h = abs(_float(list(data.get("height", []))[i]))
                    shape = RectangleROI(
                        "_", cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
                    )
                    if not np.isfinite([cx, cy, w, h]).all():
                        shape = None
                else:
                    r = abs(_float(list(data.get("radius", []))[i]))
                    shape = CircleROI("_", cx, cy, r)
                    if not np.isfinite([cx, cy]).all():
                        shape = None
            except (ValueError, TypeError, IndexError):
                shape = None
            out.append((names[i], shape))
        return out

    def _reconcile(
        self, kind: Kind, rows: list[tuple[str, ROI | None]], previous: list[str | None]
    ) -> list[str | None]:
        """Name of each row (``None`` for invalid rows); see the module docstring."""
        current = {r.name: r for r in self._rois if _KINDS[type(r)] == kind}
        others = {r.name for r in self._rois if _KINDS[type(r)] != kind}
        used: set[str] = set()
        names: list[str | None] = [None] * len(rows)
        # 1. the name column, when it names an ROI of this kind
        for i, (col, shape) in enumerate(rows):
            if shape is not None and col in current and col not in used:
                names[i] = col
                used.add(col)
        # 2. an ROI of this kind with the same geometry
        for i, (_, shape) in enumerate(rows):
            if shape is None or names[i] is not None:
                continue
            for name, roi in current.items():
                if name not in used and _same_geometry(roi, shape):
                    names[i] = name
                    used.add(name)
                    break
        # 3. the row at the same position (a moved shape)
        for i, (_, shape) in enumerate(rows):
            if shape is None or names[i] is not None:
                continue
            if i < len(previous):
                name = previous[i]
                if name is not None and name in current and name not in used:
                    names[i] = name
                    used.add(name)
        # 4. a new name
        taken = used | others
        for i, (_, shape) in enumerate(rows):
            if shape is None or names[i] is not None:
                continue
            k = 1
            while f"{self.name_prefix}{k}" in taken:
                k += 1
            names[i] = f"{self.name_prefix}{k}"
            taken.add(names[i])  # type: ignore[arg-type]
        return names

    def _apply(self, kind: Kind, shapes: dict[str, ROI], order: list[str]) -> None:
        """Replace the ROIs of ``kind`` by ``shapes`` (kept in ``self._rois`` order,
        new ones appended in ``order``)."""
        new: list[ROI] = []
        for roi in self._rois:
            if _KINDS[type(roi)] != kind:
                new.append(roi)
            elif roi.name in shapes:
                new.append(shapes[roi.name])
        present = {r.name for r in new}
        new += [shapes[n] for n in order if n not in present]
        changed = new != self._rois
        self._rois = new
        if changed:
            self._refresh_list()
            self._notify()

    def _on_rect_change(self, attr: str, old: Any, new: Any) -> None:
        if self._syncing:
            return
        rows = self._rows("rectangle", dict(self.rect_source.data))
        previous = self._source_data("rectangle")["name"]
        # boxes drawn in circle mode become circles (unless they match one already)
        circles = [r for r in self._rois if isinstance(r, CircleROI)]
        circles_before = list(circles)
        kept_rows: list[tuple[str, ROI | None]] = []
        current_rects = {r.name for r in self._rois if isinstance(r, RectangleROI)}
        for col, shape in rows:
            if shape is None:
                continue
            if self.new_box_shape == "circle" and col not in current_rects:
                assert isinstance(shape, RectangleROI)
                circle = CircleROI(
                    "_",
                    (shape.x_min + shape.x_max) / 2,
                    (shape.y_min + shape.y_max) / 2,
                    min(shape.x_max - shape.x_min, shape.y_max - shape.y_min) / 2,
                )
                if any(_same_geometry(c, circle) for c in circles_before):
                    continue  # a duplicate of an event already applied
                if not any(
                    _same_geometry(r, shape)
                    for r in self._rois
                    if isinstance(r, RectangleROI)
                ):
                    circles.append(circle)
                    continue
            kept_rows.append((col, shape))
        names = self._reconcile("rectangle", kept_rows, previous)
        shapes = {
            n: _renamed(s, n)
            for n, (_, s) in zip(names, kept_rows, strict=True)
            if n is not None and s is not None
        }
        order = [n for n in names if n is not None]
        self._apply("rectangle", shapes, order)
        added = circles[len(circles_before) :]
        if added:
            for c in added:
                taken = set(self.names)
                k = 1
                while f"{self.name_prefix}{k}" in taken:
                    k += 1
                self._rois.append(_renamed(c, f"{self.name_prefix}{k}"))
            self._refresh_list()
            self._notify()
        self._push(("rectangle", "circle"))

    def _on_circle_change(self, attr: str, old: Any, new: Any) -> None:
        if self._syncing:
            return
        rows = [(c, s) for c, s in self._rows("circle", dict(self.circle_source.data))]
        previous = self._source_data("circle")["name"]
        # rows added in the browser without a radius are not circles
        rows = [(c, s) for c, s in rows if s is not None]
        names = self._reconcile("circle", rows, previous)
        shapes = {
            n: _renamed(s, n)
            for n, (_, s) in zip(names, rows, strict=True)
            if n is not None and s is not None
        }
        self._apply("circle", shapes, [n for n in names if n is not None])
        self._push(("circle",))

    def _on_poly_change(self, attr: str, old: Any, new: Any) -> None:
        if self._syncing:
            return
        rows = self._rows("polygon", dict(self.poly_source.data))
        names = self._reconcile("polygon", rows, self._poly_rows)
        self._poly_rows = list(names)
        shapes = {
            n: _renamed(s, n)
            for n, (_, s) in zip(names, rows, strict=True)
            if n is not None and s is not None
        }
        self._apply("polygon", shapes, [n for n in names if n is not None])
        # never write the polygon source back here (a polygon may be being drawn)
        self._syncing = True
        try:
            self.label_source.data = self._label_data()
        finally:
            self._syncing = False

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
        self.poly_edit_tool = PolyEditTool(renderers=[poly], vertex_renderer=vertices)
        self.circle_drag_tool = PointDrawTool(
            renderers=[circle], add=False, drag=True, empty_value=""
        )
        self.box_tool.description = "Rectangle / circle (shift + drag draws a box)"
        self.poly_draw_tool.description = "Polygon (tap the vertices, double-tap ends)"
        self.poly_edit_tool.description = "Edit a polygon's vertices (double-tap it)"
        self.circle_drag_tool.description = "Move circles"
        wheel = WheelZoomTool(zoom_on_axis=False)
        p.add_tools(
            self.box_tool,
            self.poly_draw_tool,
            self.poly_edit_tool,
            self.circle_drag_tool,
            PanTool(),
            wheel,
            ResetTool(),
        )
        p.toolbar.active_drag = self.box_tool
        p.toolbar.active_scroll = wheel
        self.rect_source.on_change("data", self._on_rect_change)
        self.circle_source.on_change("data", self._on_circle_change)
        self.poly_source.on_change("data", self._on_poly_change)
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
            "<b>Polygon</b>: polygon tool, tap each vertex, double-tap to finish. "
            "Tap a shape and press Backspace to delete it.</small>"
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
        self.status = w.HTML()
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

    def _save_clicked(self) -> None:
        path = self.save(self.path_box.value.strip())
        self.status.value = (
            f"<small>saved {len(self)} ROI(s) to {html.escape(str(path))}</small>"
        )

    def _load_clicked(self) -> None:
        rois = self.load(self.path_box.value.strip())
        self.status.value = f"<small>loaded {len(rois)} ROI(s)</small>"

    def _refresh_list(self) -> None:
        if not hasattr(self, "roi_list"):
            return
        keep = self.roi_list.value
        self.roi_list.options = [(roi_description(r), r.name) for r in self._rois]
        if keep in self.names:
            self.roi_list.value = keep


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
                fx, fy = _float(x), _float(y)
                if not (fx == fy or (math.isnan(fx) and math.isnan(fy))):
                    return False
    return True
