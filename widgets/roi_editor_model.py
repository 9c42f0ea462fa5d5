"""The ROI editor's model: the ROIs, and how shapes drawn in the browser become ROIs.

Plain Python (no widget, no Bokeh): tests and scripts drive it directly, and
:class:`~posekit.widgets.roi_editor.ROIEditor` shows it.

The ROIs are the engine's :class:`~posekit.engine.behavior.roi.RectangleROI`,
:class:`~posekit.engine.behavior.roi.CircleROI`,
:class:`~posekit.engine.behavior.roi.PolygonROI` and
:class:`~posekit.engine.behavior.roi.LineROI` (movement's ``LineOfInterest``; image
pixel coordinates, ``y`` down, pixel centres at integers), saved and loaded as GeoJSON
through
:func:`~posekit.engine.behavior.roi.save_rois` / :func:`~posekit.engine.behavior.roi.load_rois`.

How drawn shapes reach the model: each drawing tool edits the columns of one shape
kind (:meth:`ROIEditorModel.source_data` gives them) and the whole table comes back
(twice, and echoes of the model's own writes come back too; see
``shared/docs/frontend-notes.md``). :meth:`ROIEditorModel.apply_drawn` reconciles every
incoming table with the current ROIs so that applying it again changes nothing: a row
keeps the name in its ``name`` column when that ROI exists, else the name of the ROI
with the same geometry, else the name of the row at the same position, else it gets a
new name (``roi1``, ``roi2``, …). A box drawn while :attr:`ROIEditorModel.new_box_shape`
is ``"circle"`` becomes the circle inscribed in it. A line's table holds its points
only: a redrawn line keeps its ``loop`` flag, and a new one is open.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..engine.behavior.roi import (
    ROI,
    CircleROI,
    LineROI,
    PolygonROI,
    RectangleROI,
    load_rois,
    save_rois,
)

__all__ = ["ROIEditorModel", "roi_description", "Kind", "KINDS"]

logger = logging.getLogger("posekit.widgets.roi_editor_model")

Kind = Literal["rectangle", "circle", "polygon", "line"]
#: The shape kinds, in the order their tables are written.
KINDS: tuple[Kind, ...] = ("rectangle", "circle", "polygon", "line")
_KIND_OF: dict[type[ROI], Kind] = {
    RectangleROI: "rectangle",
    CircleROI: "circle",
    PolygonROI: "polygon",
    LineROI: "line",
}
#: The kinds drawn as point lists (``xs, ys, name`` tables, named by row position).
_PATH_KINDS: tuple[Kind, ...] = ("polygon", "line")
_TOL = 1e-6


def roi_description(roi: ROI) -> str:
    """One line describing an ROI's shape in pixels.

    Examples
    --------
    >>> roi_description(RectangleROI("box", 0, 0, 10, 5))
    'box: rectangle x 0.0–10.0, y 0.0–5.0'
    >>> roi_description(CircleROI("well", 3, 4, 2))
    'well: circle centre (3.0, 4.0), radius 2.0'
    >>> roi_description(LineROI("wall", ((0, 0), (10, 0))))
    'wall: line with 2 points'
    >>> roi_description(LineROI("rim", ((0, 0), (10, 0), (5, 5)), loop=True))
    'rim: closed line with 3 points'
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
    if isinstance(roi, LineROI):
        closed = "closed " if roi.loop else ""
        return f"{roi.name}: {closed}line with {len(roi.points)} points"
    return f"{roi.name}: {type(roi).__name__}"  # pragma: no cover - future types


def to_float(value: Any) -> float:
    """``float(value)``, or NaN when it is not a number (empty cells of a table)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _kind(roi: ROI) -> Kind:
    return _KIND_OF[type(roi)]


def _path(roi: ROI) -> tuple[tuple[float, float], ...]:
    """Return the drawn points of a polygon (outer ring) or a line."""
    if isinstance(roi, PolygonROI):
        return roi.vertices
    assert isinstance(roi, LineROI)
    return roi.points


def _same_geometry(a: ROI, b: ROI) -> bool:
    """Equal shapes as the drawing tools show them (names ignored).

    A polygon's holes and a line's ``loop`` flag are not drawn: they are not compared.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, (PolygonROI, LineROI)):
        va, vb = np.asarray(_path(a)), np.asarray(_path(b))
        return va.shape == vb.shape and bool(np.allclose(va, vb, atol=_TOL))
    fields = {
        RectangleROI: ("x_min", "y_min", "x_max", "y_max"),
        CircleROI: ("cx", "cy", "radius"),
    }[type(a)]
    return all(abs(getattr(a, f) - getattr(b, f)) <= _TOL for f in fields)


def _renamed(roi: ROI, name: str) -> ROI:
    """Return the same ROI (every field: a polygon's holes too) under another name."""
    return dataclasses.replace(roi, name=name)


def _redrawn(roi: ROI, drawn: ROI) -> ROI:
    """Return ``roi`` with the geometry ``drawn`` in the browser.

    The drawing tools show a polygon's outer ring only: its holes are kept. A line's
    table holds its points only: its ``loop`` flag is kept (while it has the 3 points
    a loop needs).
    """
    if _same_geometry(roi, drawn):
        return roi
    if isinstance(roi, PolygonROI) and isinstance(drawn, PolygonROI):
        return dataclasses.replace(drawn, holes=roi.holes)
    if isinstance(roi, LineROI) and isinstance(drawn, LineROI):
        return dataclasses.replace(drawn, loop=roi.loop and len(drawn.points) >= 3)
    return drawn


def _inscribed_circle(box: RectangleROI) -> CircleROI:
    return CircleROI(
        "_",
        (box.x_min + box.x_max) / 2,
        (box.y_min + box.y_max) / 2,
        min(box.x_max - box.x_min, box.y_max - box.y_min) / 2,
    )


class ROIEditorModel:
    """The ROIs of an editor and the reconciliation of drawn shapes.

    Parameters
    ----------
    rois
        ROIs to start with.
    name_prefix
        Prefix of automatic names (``roi1``, ``roi2``, …).

    Attributes
    ----------
    new_box_shape : {"rectangle", "circle"}
        What a newly drawn box becomes.

    Examples
    --------
    >>> m = ROIEditorModel()
    >>> _ = m.add_rectangle(None, 10, 10, 40, 30)
    >>> m.apply_drawn("circle", {"x": [70.0], "y": [40.0], "radius": [5.0], "name": [""]})
    True
    >>> [roi_description(r) for r in m.rois]
    ['roi1: rectangle x 10.0–40.0, y 10.0–30.0', 'roi2: circle centre (70.0, 40.0), radius 5.0']
    """

    def __init__(self, rois: Iterable[ROI] = (), *, name_prefix: str = "roi") -> None:
        self.name_prefix = str(name_prefix)
        self.new_box_shape: Kind = "rectangle"
        self._rois: list[ROI] = []
        # name of each row of the polygon and line tables, as last drawn (a row's
        # position names it while the browser edits it)
        self._path_rows: dict[Kind, list[str | None]] = {k: [] for k in _PATH_KINDS}
        self._callbacks: list[Callable[[list[ROI]], None]] = []
        self._listeners: list[Callable[[Kind | None, bool], None]] = []
        for roi in rois:
            self.add(roi, notify=False)

    # ================================================================ reading
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
        """Return the ROI called ``name``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for roi in self._rois:
            if roi.name == name:
                return roi
        raise KeyError(f"no ROI called {name!r}; the ROIs are {self.names}")

    def next_name(self) -> str:
        """Return the first free automatic name (``roi1``, ``roi2``, …)."""
        return self._free_name(set(self.names))

    def _free_name(self, taken: set[str]) -> str:
        k = 1
        while f"{self.name_prefix}{k}" in taken:
            k += 1
        return f"{self.name_prefix}{k}"

    def to_geojson(self) -> dict[str, Any]:
        """Return the ROIs as a GeoJSON ``FeatureCollection`` (what :meth:`save` writes)."""
        return {
            "type": "FeatureCollection",
            "features": [r.to_feature() for r in self._rois],
        }

    # ================================================================ callbacks
    @property
    def callbacks(self) -> list[Callable[[list[ROI]], None]]:
        """The change callbacks of :meth:`on_change` (the list itself: a view clears it)."""
        return self._callbacks

    def on_change(self, callback: Callable[[list[ROI]], None]) -> None:
        """Call ``callback(rois)`` after every change of the ROIs."""
        self._callbacks.append(callback)

    def observe(self, listener: Callable[[Kind | None, bool], None]) -> None:
        """Call ``listener(kind, changed)`` after every write of the ROIs (for views).

        It is called before the change callbacks, even when nothing changed. ``kind`` is the shape kind whose drawn table was applied
        (:meth:`apply_drawn`), ``None`` for a change made in Python.
        """
        self._listeners.append(listener)

    def _notify(self) -> None:
        rois = self.rois
        for callback in list(self._callbacks):
            try:
                callback(rois)
            except Exception:  # noqa: BLE001 - one bad callback must not stop editing
                logger.exception("ROI change callback failed")

    def _write(self, rois: list[ROI], source: Kind | None, *, notify: bool) -> bool:
        changed = rois != self._rois
        self._rois = list(rois)
        if source is None:
            self._path_rows = {k: self._names_of(k) for k in _PATH_KINDS}
        for listener in list(self._listeners):
            listener(source, changed)
        if changed and notify:
            self._notify()
        return changed

    # ================================================================ editing
    def add(self, roi: ROI, *, notify: bool = True) -> ROI:
        """Add an engine ROI.

        Raises
        ------
        ValueError
            If its name is taken.
        TypeError
            If it is not a rectangle, circle, polygon or line.
        """
        if type(roi) not in _KIND_OF:
            raise TypeError(
                f"the editor handles RectangleROI, CircleROI, PolygonROI and LineROI; "
                f"received {type(roi).__name__}"
            )
        if roi.name in self.names:
            raise ValueError(
                f"an ROI called {roi.name!r} exists already; choose another name"
            )
        self._write(self._rois + [roi], None, notify=notify)
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

    def add_line(
        self,
        name: str | None,
        points: Sequence[Sequence[float]],
        loop: bool = False,
    ) -> LineROI:
        """Add a line through ``points`` (``loop``: back to the first point).

        ``name=None`` gives the next automatic name.

        Raises
        ------
        ValueError
            If it has fewer than 2 points (3 for a loop) or its name is taken.
        """
        pts = tuple((float(x), float(y)) for x, y in points)
        roi = LineROI(name or self.next_name(), pts, loop=bool(loop))
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
        self._write([r for r in self._rois if r.name != name], None, notify=True)
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
        self._write(
            [renamed if r.name == old else r for r in self._rois], None, notify=True
        )
        return renamed

    def clear(self) -> None:
        """Delete every ROI."""
        self._write([], None, notify=True)

    def set_rois(self, rois: Iterable[ROI]) -> None:
        """Replace every ROI.

        Raises
        ------
        ValueError
            If names repeat.
        TypeError
            If one is not a rectangle, circle, polygon or line.
        """
        rois = list(rois)
        names = [r.name for r in rois]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"ROI names must be unique; repeated: {dup}")
        for roi in rois:
            if type(roi) not in _KIND_OF:
                raise TypeError(f"unsupported ROI type {type(roi).__name__}")
        self._write(rois, None, notify=True)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ROIs as GeoJSON (:func:`~posekit.engine.behavior.roi.save_rois`).

        Returns
        -------
        Path
            The written file.
        """
        return save_rois(self._rois, path)

    def load(self, path: str | os.PathLike) -> list[ROI]:
        """Replace the ROIs by those of a GeoJSON file (:func:`~posekit.engine.behavior.roi.load_rois`).

        Returns
        -------
        list of ROI
            The loaded ROIs.
        """
        rois = load_rois(path)
        self.set_rois(rois)
        return rois

    # ================================================================ state → tables
    def source_data(self, kind: Kind) -> dict[str, list]:
        """Return the columns that draw the ROIs of ``kind``.

        They are ``x, y, width, height, name`` for rectangles (centre and size),
        ``x, y, radius, name`` for circles and ``xs, ys, name`` for polygons (outer
        ring) and lines (points; a loop's closing segment is not a row point).
        """
        of_kind = [r for r in self._rois if _kind(r) == kind]
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
        if kind not in _PATH_KINDS:
            raise ValueError(f"kind must be one of {KINDS}; received {kind!r}")
        return {
            "xs": [[float(v[0]) for v in _path(r)] for r in of_kind],
            "ys": [[float(v[1]) for v in _path(r)] for r in of_kind],
            "name": [r.name for r in of_kind],
        }

    def label_data(self) -> dict[str, list]:
        """Return where each ROI's name is written: ``x, y`` (top-left), ``text``."""
        xs, ys, text = [], [], []
        for r in self._rois:
            if isinstance(r, RectangleROI):
                x, y = r.x_min, r.y_min
            elif isinstance(r, CircleROI):
                x, y = r.cx - r.radius, r.cy - r.radius
            else:
                v = np.asarray(_path(r))
                x, y = float(v[:, 0].min()), float(v[:, 1].min())
            xs.append(float(x))
            ys.append(float(y))
            text.append(r.name)
        return {"x": xs, "y": ys, "text": text}

    # ================================================================ tables → state
    def apply_drawn(self, kind: Kind, data: Mapping[str, Any]) -> bool:
        """Make the ROIs of ``kind`` what a drawing tool's table says.

        See the module docstring for the names; rows that are not valid shapes are
        ignored.

        Parameters
        ----------
        kind
            The shape kind of the table.
        data
            Its columns, as :meth:`source_data` gives them.

        Returns
        -------
        bool
            Whether the ROIs changed.
        """
        if kind == "rectangle":
            rois = self._drawn_rectangles(data)
        elif kind == "circle":
            rows = [(c, s) for c, s in self._rows("circle", data) if s is not None]
            rois = self._replaced("circle", rows, self._names_of("circle"))
        elif kind in _PATH_KINDS:
            rows = self._rows(kind, data)
            names = self._reconcile(kind, rows, self._path_rows[kind])
            self._path_rows[kind] = list(names)
            rois = self._with_kind(kind, rows, names)
        else:
            raise ValueError(f"kind must be one of {KINDS}; received {kind!r}")
        return self._write(rois, kind, notify=True)

    def _names_of(self, kind: Kind) -> list[str | None]:
        return [r.name for r in self._rois if _kind(r) == kind]

    def _drawn_rectangles(self, data: Mapping[str, Any]) -> list[ROI]:
        rows = self._rows("rectangle", data)
        previous = self._names_of("rectangle")
        # boxes drawn in circle mode become circles (unless they match one already)
        circles_before = [r for r in self._rois if isinstance(r, CircleROI)]
        rects = [r for r in self._rois if isinstance(r, RectangleROI)]
        current_rects = {r.name for r in rects}
        new_circles: list[CircleROI] = []
        kept: list[tuple[str, ROI | None]] = []
        for col, shape in rows:
            if shape is None:
                continue
            if self.new_box_shape == "circle" and col not in current_rects:
                assert isinstance(shape, RectangleROI)
                circle = _inscribed_circle(shape)
                if any(_same_geometry(c, circle) for c in circles_before):
                    continue  # a duplicate of an event already applied
                if not any(_same_geometry(r, shape) for r in rects):
                    new_circles.append(circle)
                    continue
            kept.append((col, shape))
        rois = self._replaced("rectangle", kept, previous)
        for circle in new_circles:
            name = self._free_name({r.name for r in rois})
            rois.append(_renamed(circle, name))
        return rois

    def _replaced(
        self, kind: Kind, rows: list[tuple[str, ROI | None]], previous: list[str | None]
    ) -> list[ROI]:
        return self._with_kind(kind, rows, self._reconcile(kind, rows, previous))

    def _with_kind(
        self, kind: Kind, rows: list[tuple[str, ROI | None]], names: list[str | None]
    ) -> list[ROI]:
        """Return the ROIs with those of ``kind`` replaced by the named rows.

        Kept ROIs keep their place; new ones are appended in row order.
        """
        shapes = {
            n: _renamed(s, n)
            for n, (_, s) in zip(names, rows, strict=True)
            if n is not None and s is not None
        }
        order = [n for n in names if n is not None]
        new: list[ROI] = []
        for roi in self._rois:
            if _kind(roi) != kind:
                new.append(roi)
            elif roi.name in shapes:
                new.append(_redrawn(roi, shapes[roi.name]))
        present = {r.name for r in new}
        new += [shapes[n] for n in order if n not in present]
        return new

    def _rows(
        self, kind: Kind, data: Mapping[str, Any]
    ) -> list[tuple[str, ROI | None]]:
        """Return the rows of a table as ``(name column value, shape)``.

        The shape has a placeholder name, or is ``None`` when the row is not valid.
        """
        names = [
            "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in list(data.get("name", []))
        ]
        out: list[tuple[str, ROI | None]] = []
        if kind in _PATH_KINDS:
            xs, ys = list(data.get("xs", [])), list(data.get("ys", []))
            n = min(len(xs), len(ys))
            names += [""] * (n - len(names))
            for i in range(n):
                try:
                    verts = tuple(
                        (to_float(x), to_float(y))
                        for x, y in zip(list(xs[i]), list(ys[i]), strict=False)
                    )
                    finite = tuple(v for v in verts if np.isfinite(v).all())
                    # drop consecutive duplicates (the vertex under the cursor)
                    dedup = tuple(
                        v
                        for j, v in enumerate(finite)
                        if j == 0 or np.hypot(*np.subtract(v, finite[j - 1])) > _TOL
                    )
                    shape: ROI | None = (
                        PolygonROI("_", dedup)
                        if kind == "polygon"
                        else LineROI("_", dedup)
                    )
                except (ValueError, TypeError):
                    shape = None
                out.append((names[i], shape))
            return out
        x, y = list(data.get("x", [])), list(data.get("y", []))
        n = min(len(x), len(y))
        names += [""] * (n - len(names))
        for i in range(n):
            cx, cy = to_float(x[i]), to_float(y[i])
            try:
                if kind == "rectangle":
                    w = abs(to_float(list(data.get("width", []))[i]))
                    h = abs(to_float(list(data.get("height", []))[i]))
                    shape = RectangleROI(
                        "_", cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
                    )
                    if not np.isfinite([cx, cy, w, h]).all():
                        shape = None
                else:
                    r = abs(to_float(list(data.get("radius", []))[i]))
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
        current = {r.name: r for r in self._rois if _kind(r) == kind}
        others = {r.name for r in self._rois if _kind(r) != kind}
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
            names[i] = self._free_name(taken)
            taken.add(names[i])  # type: ignore[arg-type]
        return names
