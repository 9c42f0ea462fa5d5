"""Regions of interest (ROIs): shapes, GeoJSON files, occupancy and zone events.

Shapes live in image coordinates (x to the right, y down, pixels unless the poses are
calibrated). Point-in-shape tests are vectorised numpy (a polygon costs one pass per
edge over all points), so an hour of tracking is classified in tens of milliseconds.

Occupancy is a float DataArray: 1 inside, 0 outside, NaN where the position is
missing, so ``occupancy.mean("time")`` is the fraction of *observed* time spent inside.
For events (visits, entries, exits) a missing frame is *unknown*, not outside: a point
seen inside before and after a short gap in the tracking (at most ``max_gap`` frames,
default :data:`ROI_MAX_GAP`) stays in the same visit, and the frames of that gap count
as inside (the visit's ``frames_missing``). A longer gap ends the visit: the point may
have left, and its frames count neither inside nor outside; the visit after it is a
new visit (bout) but not an entry, since the point was not seen outside. So a
session's frames inside are exactly the frames of its visits
(``frames_inside = n_bouts × mean_bout``). A visit is an entry when the point was seen
outside before it (the last known position before the visit is outside, with or
without missing frames between: the animal went in, somewhere in the gap), and an exit
when it is seen outside after it, as line crossings are counted at the first frame
seen on the other side. A visit already running when the point is first seen (at frame
0, or after frames missing from the start, or after a long gap) is not an entry, and
one still running when it is last seen (or before a long gap) is not an exit. Visit
frame ranges are inclusive: ``start`` is the first frame seen inside, ``end`` the
last.

ROI files are movement's GeoJSON (``movement.roi.save_rois``/``load_rois``): a
``FeatureCollection`` whose features have a ``Polygon``, ``LineString`` or
``LinearRing`` geometry and properties ``name`` and ``roi_type``
(``"PolygonOfInterest"`` or ``"LineOfInterest"``). Polygons keep their holes and
lines are :class:`LineROI`, so movement's files load exactly and posekit's open in
movement. posekit's own shapes are written so that movement's schema accepts them: a
rectangle is a polygon, a circle a 128-sided polygon; a ``posekit_shape`` property
(with ``cx``, ``cy``, ``radius`` for a circle) lets posekit read back the exact shape.
Files written by earlier posekit versions (``roi_type`` ``rectangle``/``circle``/
``polygon``, a circle as a ``Point``) still load.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from .._fileio import atomic_write_text
from ._utils import (
    position_of,
    require_dims,
    resolve_fps,
    select_keypoint,
    true_runs,
)

__all__ = [
    "ROI",
    "RectangleROI",
    "CircleROI",
    "PolygonROI",
    "LineROI",
    "save_rois",
    "load_rois",
    "compute_roi_occupancy",
    "roi_bouts",
    "roi_summary",
    "compute_line_crossings",
    "line_crossing_summary",
    "compute_zone_sequence",
    "zone_transitions",
    "compute_occupancy_heatmap",
    "ROI_MAX_GAP",
]

#: A visit to an ROI goes on across a gap in the tracking of at most this many frames
#: (counted inside); a longer gap ends it (:func:`roi_bouts`). As the contacts of
#: :func:`~posekit.engine.behavior.social.contact_bouts` (``merge_gap``).
ROI_MAX_GAP = 5


# ---------------------------------------------------------------- shapes


class ROI(ABC):
    """A named region in image coordinates."""

    name: str
    #: posekit's name of the shape (``posekit_shape`` in GeoJSON properties).
    roi_type: ClassVar[str]
    #: movement's ``roi_type`` for this shape.
    movement_type: ClassVar[str] = "PolygonOfInterest"

    @abstractmethod
    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points ``(x, y)`` that lie inside (boundary included).

        NaN coordinates are outside.
        """

    @property
    @abstractmethod
    def area(self) -> float:
        """Area in squared position units."""

    @abstractmethod
    def _geometry(self) -> dict[str, Any]: ...

    @abstractmethod
    def _extra_properties(self) -> dict[str, Any]: ...

    def to_feature(self) -> dict[str, Any]:
        """Return the ROI as a GeoJSON ``Feature`` movement's schema accepts.

        Properties: ``name``, ``roi_type`` (movement's: ``"PolygonOfInterest"`` or
        ``"LineOfInterest"``), ``posekit_shape`` and the shape's own values.
        """
        return {
            "type": "Feature",
            "geometry": self._geometry(),
            "properties": {
                "name": self.name,
                "roi_type": self.movement_type,
                "posekit_shape": self.roi_type,
                **self._extra_properties(),
            },
        }

    @staticmethod
    def from_feature(feature: Mapping[str, Any]) -> ROI:
        """Build an ROI from a GeoJSON ``Feature`` (posekit's, movement's, or others').

        A ``Polygon`` becomes a :class:`PolygonROI` with its holes (or the
        :class:`RectangleROI` / :class:`CircleROI` posekit wrote it for), a
        ``LineString`` or ``LinearRing`` a :class:`LineROI`, and a ``Point`` with a
        ``radius`` property a :class:`CircleROI`.

        Raises
        ------
        ValueError
            If the geometry is none of these.
        """
        props = dict(feature.get("properties") or {})
        geom = feature.get("geometry") or {}
        gtype = geom.get("type")
        name = str(props.get("name") or props.get("id") or "roi")
        shape = props.get("posekit_shape", props.get("roi_type"))
        if shape == "circle" and {"cx", "cy", "radius"} <= set(props):
            return CircleROI(
                name, float(props["cx"]), float(props["cy"]), float(props["radius"])
            )
        if gtype == "Point" and "radius" in props:
            cx, cy = map(float, geom["coordinates"][:2])
            return CircleROI(name, cx, cy, float(props["radius"]))
        if gtype == "Polygon":
            rings = [_ring(r) for r in geom["coordinates"]]
            if shape == "rectangle" and len(rings) == 1:
                ring = np.asarray(rings[0], dtype=float)
                return RectangleROI(
                    name,
                    float(ring[:, 0].min()),
                    float(ring[:, 1].min()),
                    float(ring[:, 0].max()),
                    float(ring[:, 1].max()),
                )
            return PolygonROI(name, rings[0], holes=tuple(rings[1:]))
        if gtype in ("LineString", "LinearRing"):
            points = [tuple(map(float, p[:2])) for p in geom["coordinates"]]
            # movement writes a loop as a closed LineString (shapely's GeoJSON of a
            # LinearRing); a LinearRing geometry is a loop too
            closed = len(points) > 3 and points[0] == points[-1]
            loop = gtype == "LinearRing" or closed
            if loop and len(points) > 1 and points[0] == points[-1]:
                points = points[:-1]
            return LineROI(name, tuple(points), loop=loop)  # type: ignore[arg-type]
        raise ValueError(
            f"Cannot read ROI {name!r}: geometry {gtype!r} with properties "
            f"{sorted(props)}. Supported: Polygon (with holes), LineString, "
            "LinearRing, or Point with a 'radius' property."
        )


def _ring(coords: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """Return a GeoJSON ring without its closing point."""
    ring = [(float(p[0]), float(p[1])) for p in coords]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    return tuple(ring)


def _closed(ring: Sequence[tuple[float, float]]) -> list[list[float]]:
    points = [list(p) for p in ring]
    return points + [points[0]]


def _ring_area(ring: Sequence[tuple[float, float]]) -> float:
    """Area of a simple ring (shoelace formula)."""
    v = np.asarray(ring, dtype=float)
    x, y = v[:, 0], v[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _on_segments(
    v: np.ndarray, x: np.ndarray, y: np.ndarray, *, closed: bool
) -> np.ndarray:
    """Mask of the points on the polyline ``v`` (closed: back to the first vertex)."""
    on = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    ends = np.roll(v, -1, axis=0) if closed else v[1:]
    for (x1, y1), (x2, y2) in zip(v[: len(ends)], ends, strict=True):
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        on |= (
            (np.abs(cross) <= 1e-9 * max(1.0, abs(x2 - x1) + abs(y2 - y1)))
            & (np.minimum(x1, x2) <= x)
            & (x <= np.maximum(x1, x2))
            & (np.minimum(y1, y2) <= y)
            & (y <= np.maximum(y1, y2))
        )
    return on


def _inside_ring(v: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even–odd rule: mask of the points strictly inside ring ``v`` (edges undecided)."""
    inside = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    x2s, y2s = np.roll(v[:, 0], -1), np.roll(v[:, 1], -1)
    for x1, y1, x2, y2 in zip(v[:, 0], v[:, 1], x2s, y2s, strict=True):
        if y1 != y2:
            crosses = (y1 > y) != (y2 > y)
            x_cross = x1 + (y - y1) * ((x2 - x1) / (y2 - y1))
            inside ^= crosses & (x < x_cross)
    return inside


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"an ROI needs a non-empty name; received {name!r}")


@dataclass(frozen=True)
class RectangleROI(ROI):
    """Axis-aligned rectangle ``x_min <= x <= x_max``, ``y_min <= y <= y_max``.

    Examples
    --------
    >>> import numpy as np
    >>> RectangleROI("box", 0, 0, 10, 5).contains(np.array([5.0, 11.0]), np.array([2.0, 2.0]))
    array([ True, False])
    """

    name: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    roi_type: ClassVar[str] = "rectangle"

    def __post_init__(self) -> None:  # noqa: D105
        _check_name(self.name)
        if not (self.x_max > self.x_min and self.y_max > self.y_min):
            raise ValueError(
                f"RectangleROI {self.name!r} needs x_max > x_min and y_max > y_min; "
                f"received ({self.x_min}, {self.y_min}, {self.x_max}, {self.y_max})"
            )

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside (boundary included; NaN is outside)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return (
            (x >= self.x_min)
            & (x <= self.x_max)
            & (y >= self.y_min)
            & (y <= self.y_max)
        )

    @property
    def area(self) -> float:
        """Area in squared position units."""
        return float((self.x_max - self.x_min) * (self.y_max - self.y_min))

    def _geometry(self) -> dict[str, Any]:
        a, b, c, d = self.x_min, self.y_min, self.x_max, self.y_max
        return {
            "type": "Polygon",
            "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]],
        }

    def _extra_properties(self) -> dict[str, Any]:
        return {}


_CIRCLE_SIDES = 128


@dataclass(frozen=True)
class CircleROI(ROI):
    """Disc of ``radius`` around ``(cx, cy)`` (boundary included).

    Examples
    --------
    >>> import numpy as np
    >>> CircleROI("well", 0, 0, 2).contains(np.array([1.0, 3.0]), np.array([1.0, 0.0]))
    array([ True, False])
    """

    name: str
    cx: float
    cy: float
    radius: float
    roi_type: ClassVar[str] = "circle"

    def __post_init__(self) -> None:  # noqa: D105
        _check_name(self.name)
        if not (np.isfinite(self.radius) and self.radius > 0):
            raise ValueError(
                f"CircleROI {self.name!r} needs a positive radius; received "
                f"{self.radius!r}"
            )

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside (boundary included; NaN is outside)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return (x - self.cx) ** 2 + (y - self.cy) ** 2 <= self.radius**2

    @property
    def area(self) -> float:
        """Area in squared position units."""
        return float(np.pi * self.radius**2)

    def _geometry(self) -> dict[str, Any]:
        # movement has no circles: a 128-sided polygon (area within 0.04 %); the
        # properties keep the exact circle for posekit
        angles = np.linspace(0.0, 2 * np.pi, _CIRCLE_SIDES, endpoint=False)
        ring = [
            (self.cx + self.radius * np.cos(a), self.cy + self.radius * np.sin(a))
            for a in angles
        ]
        return {"type": "Polygon", "coordinates": [_closed(ring)]}

    def _extra_properties(self) -> dict[str, Any]:
        return {"cx": self.cx, "cy": self.cy, "radius": self.radius}


@dataclass(frozen=True)
class PolygonROI(ROI):
    """Simple polygon given by its vertices, optionally with holes (even–odd rule).

    Rings are not closed explicitly. A point inside a hole is outside the region;
    points on any boundary (outer ring or hole) count as inside, like the rectangle
    and circle.

    Examples
    --------
    >>> import numpy as np
    >>> tri = PolygonROI("tri", ((0, 0), (10, 0), (0, 10)))
    >>> tri.contains(np.array([1.0, 9.0]), np.array([1.0, 9.0]))
    array([ True, False])
    >>> square = ((0, 0), (100, 0), (100, 100), (0, 100))
    >>> hole = ((40, 40), (60, 40), (60, 60), (40, 60))
    >>> PolygonROI("ring", square, holes=(hole,)).area
    9600.0
    """

    name: str
    vertices: tuple[tuple[float, float], ...]
    holes: tuple[tuple[tuple[float, float], ...], ...] = ()
    roi_type: ClassVar[str] = "polygon"

    def __post_init__(self) -> None:  # noqa: D105
        _check_name(self.name)
        verts = _ring(self.vertices)
        if len(verts) < 3:
            raise ValueError(
                f"PolygonROI {self.name!r} needs at least 3 vertices; received {verts}"
            )
        object.__setattr__(self, "vertices", verts)
        holes = tuple(_ring(h) for h in self.holes)
        for hole in holes:
            if len(hole) < 3 or _ring_area(hole) == 0:
                raise ValueError(
                    f"PolygonROI {self.name!r}: a hole needs at least 3 vertices and "
                    f"an area; received {hole}"
                )
        object.__setattr__(self, "holes", holes)
        if _ring_area(verts) == 0:
            raise ValueError(f"PolygonROI {self.name!r} has zero area: {verts}")

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside (boundaries included; NaN is outside)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        v = np.asarray(self.vertices)
        inside = _inside_ring(v, x, y) | _on_segments(v, x, y, closed=True)
        for hole in self.holes:
            h = np.asarray(hole)
            inside &= ~(_inside_ring(h, x, y) & ~_on_segments(h, x, y, closed=True))
        return inside

    @property
    def area(self) -> float:
        """Area in squared position units: the outer ring's less the holes'."""
        return _ring_area(self.vertices) - sum(_ring_area(h) for h in self.holes)

    def _geometry(self) -> dict[str, Any]:
        rings = [self.vertices, *self.holes]
        return {"type": "Polygon", "coordinates": [_closed(r) for r in rings]}

    def _extra_properties(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class LineROI(ROI):
    """A polyline (movement's ``LineOfInterest``); ``loop`` joins the last point to the first.

    In GeoJSON a loop is a closed ``LineString`` (first point repeated at the end), as
    movement writes it; such a line reads back as a loop.

    A line has no inside: :meth:`contains` is true only for points on it, and its
    area is 0, so in occupancy it counts the frames a point sits exactly on the line.
    What a line measures is crossings (:func:`compute_line_crossings`).

    Examples
    --------
    >>> import numpy as np
    >>> wall = LineROI("wall", ((0, 0), (10, 0)))
    >>> wall.contains(np.array([5.0, 5.0]), np.array([0.0, 1.0]))
    array([ True, False])
    >>> wall.length
    10.0
    """

    name: str
    points: tuple[tuple[float, float], ...]
    loop: bool = False
    roi_type: ClassVar[str] = "line"
    movement_type: ClassVar[str] = "LineOfInterest"

    def __post_init__(self) -> None:  # noqa: D105
        _check_name(self.name)
        points = tuple((float(x), float(y)) for x, y in self.points)
        if self.loop and len(points) > 1 and points[0] == points[-1]:
            points = points[:-1]
        if len(points) < (3 if self.loop else 2):
            raise ValueError(
                f"LineROI {self.name!r} needs at least {3 if self.loop else 2} points; "
                f"received {points}"
            )
        object.__setattr__(self, "points", points)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points that lie on the line (NaN is not)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return _on_segments(np.asarray(self.points), x, y, closed=self.loop)

    @property
    def area(self) -> float:
        """Area: 0 (a line)."""
        return 0.0

    @property
    def length(self) -> float:
        """Length of the line (the closing segment included for a loop)."""
        v = np.asarray(self.points + ((self.points[0],) if self.loop else ()))
        return float(np.linalg.norm(np.diff(v, axis=0), axis=1).sum())

    def _geometry(self) -> dict[str, Any]:
        # a loop is a closed LineString, as movement writes it
        points = _closed(self.points) if self.loop else [list(p) for p in self.points]
        return {"type": "LineString", "coordinates": points}

    def _extra_properties(self) -> dict[str, Any]:
        return {}


# ---------------------------------------------------------------- files


def save_rois(rois: Sequence[ROI], path: str | os.PathLike) -> Path:
    """Write ROIs as a GeoJSON ``FeatureCollection`` (atomically).

    Parameters
    ----------
    rois
        The ROIs; names must be unique.
    path
        Target ``.geojson`` (or ``.json``) file.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If two ROIs share a name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rois.geojson"
    >>> _ = save_rois([CircleROI("well", 5, 5, 2)], p)
    >>> load_rois(p)[0]
    CircleROI(name='well', cx=5.0, cy=5.0, radius=2.0)
    """
    _check_unique(rois)
    collection = {
        "type": "FeatureCollection",
        "features": [r.to_feature() for r in rois],
    }
    return atomic_write_text(path, json.dumps(collection, indent=2))


def load_rois(path: str | os.PathLike) -> list[ROI]:
    """Read ROIs from a GeoJSON ``FeatureCollection`` (or a single ``Feature``).

    Parameters
    ----------
    path
        A file written by :func:`save_rois` (or another GeoJSON tool).

    Returns
    -------
    list of ROI
        The ROIs in file order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not GeoJSON or holds an unsupported geometry.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No ROI file at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON/GeoJSON: {err}") from err
    if data.get("type") == "Feature":
        features = [data]
    elif data.get("type") == "FeatureCollection":
        features = list(data.get("features", []))
    else:
        raise ValueError(
            f"{path} is not a GeoJSON FeatureCollection (type={data.get('type')!r})"
        )
    rois = [ROI.from_feature(f) for f in features]
    _check_unique(rois)
    return rois


def _check_unique(rois: Sequence[ROI]) -> None:
    names = [r.name for r in rois]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"ROI names must be unique; repeated: {dup}")


# ---------------------------------------------------------------- occupancy


def compute_roi_occupancy(
    position: xr.DataArray | xr.Dataset,
    rois: Sequence[ROI],
    *,
    keypoint: str | None = None,
) -> xr.DataArray:
    """Whether each individual is inside each ROI in each frame.

    Parameters
    ----------
    position
        Poses Dataset or position with dims ``time, space`` (and ``keypoint``,
        ``individual`` if present).
    rois
        The ROIs (unique names).
    keypoint
        Keypoint that must be inside; ``None`` uses the centroid of all keypoints.

    Returns
    -------
    xarray.DataArray
        ``roi_occupancy`` with dims ``(time, individual, roi)`` (or ``(time, roi)``):
        1.0 inside, 0.0 outside, NaN where the position is missing.

    Raises
    ------
    ValueError
        If ``rois`` is empty, names repeat, or the keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([0.0, 5.0, np.nan])
    >>> pos = from_numpy(np.stack([x, x], 1)[:, :, None, None]).position
    >>> occ = compute_roi_occupancy(pos, [RectangleROI("box", 4, 4, 6, 6)])
    >>> occ.values.ravel()
    array([ 0.,  1., nan])
    """
    if not rois:
        raise ValueError("compute_roi_occupancy needs at least one ROI")
    _check_unique(rois)
    point, xy = _point_xy(position, keypoint, "compute_roi_occupancy")
    x, y = xy[..., 0], xy[..., 1]
    missing = np.isnan(x) | np.isnan(y)
    occ = np.empty(x.shape + (len(rois),), dtype=float)
    for i, roi in enumerate(rois):
        occ[..., i] = roi.contains(x, y)
    occ[missing] = np.nan
    return _per_roi(occ, point, rois, "roi_occupancy", position)


def _point_xy(
    position: xr.DataArray | xr.Dataset, keypoint: str | None, caller: str
) -> tuple[xr.DataArray, np.ndarray]:
    """Return the tracked point ``(time, …, space)`` and its ``(…, 2)`` x, y values."""
    point = select_keypoint(position_of(position), keypoint)
    require_dims(point, ["time", "space"], caller)
    other = [d for d in point.dims if d not in ("time", "space")]
    point = point.transpose("time", *other, "space")
    space = list(point["space"].values)
    values = np.asarray(point.values, dtype=float)
    return point, values[..., [space.index("x"), space.index("y")]]


def _per_roi(
    values: np.ndarray,
    point: xr.DataArray,
    rois: Sequence[ROI],
    name: str,
    position: xr.DataArray | xr.Dataset,
) -> xr.DataArray:
    """``values`` ``(time, …, roi)`` as a DataArray on the point's coordinates."""
    other = [d for d in point.dims if d not in ("time", "space")]
    coords = {d: point[d].values for d in ("time", *other) if d in point.coords}
    coords["roi"] = [r.name for r in rois]
    out = xr.DataArray(values, dims=("time", *other, "roi"), coords=coords)
    out.name = name
    fps = resolve_fps(position_of(position), None)
    out.attrs = {"units": "1", **({"fps": fps} if fps is not None else {})}
    return out


def _series(occupancy: xr.DataArray) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Columns of an occupancy array as (labels, (time, n) values)."""
    require_dims(occupancy, ["time", "roi"], "ROI events")
    other = [d for d in occupancy.dims if d != "time"]
    arr = occupancy.transpose("time", *other)
    values = np.asarray(arr.values, dtype=float).reshape(arr.sizes["time"], -1)
    index = pd.MultiIndex.from_product(
        [[str(v) for v in arr[d].values] for d in other], names=other
    )
    labels = [dict(zip(other, key, strict=True)) for key in index]
    return labels, values


def _check_max_gap(max_gap: int | None) -> None:
    if max_gap is not None and (int(max_gap) != max_gap or max_gap < 0):
        raise ValueError(
            f"max_gap must be a non-negative number of frames or None; received "
            f"{max_gap!r}"
        )


def _visits(
    values: np.ndarray, max_gap: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Visits in one occupancy series (1 inside, 0 outside, NaN unknown).

    A visit is a run of frames seen inside, continued across gaps of at most
    ``max_gap`` missing frames (``None``: any gap) when the point is inside on both
    sides.

    Returns
    -------
    tuple of numpy.ndarray
        ``start``, ``end`` (inclusive frames), ``frames_seen`` (frames seen inside),
        ``entered`` and ``exited`` (the point is seen outside before / after the
        visit, missing frames between or not).
    """
    seen = np.flatnonzero(~np.isnan(values))
    inside = values[seen] == 1.0
    first, last = true_runs(inside)  # runs of the frames seen, [first, last)
    if max_gap is not None and seen.size > 1:
        # a gap longer than max_gap between two frames seen inside ends the visit
        long_gap = (np.diff(seen) - 1 > max_gap) & inside[:-1] & inside[1:]
        cuts = np.flatnonzero(long_gap) + 1
        first, last = np.sort(np.r_[first, cuts]), np.sort(np.r_[last, cuts])
    start, end = seen[first], seen[last - 1]
    entered = (first > 0) & ~inside[np.maximum(first - 1, 0)]
    exited = (last < seen.size) & ~inside[np.minimum(last, seen.size - 1)]
    return start, end, last - first, entered, exited


def roi_bouts(
    occupancy: xr.DataArray,
    *,
    fps: float | None = None,
    max_gap: int | None = ROI_MAX_GAP,
) -> pd.DataFrame:
    """Every visit (bout) of each individual to each ROI.

    Missing frames are unknown, not outside: a visit goes on across a gap in the
    tracking of at most ``max_gap`` frames when the point is inside before and after
    it, and a longer gap ends it (see the module).

    Parameters
    ----------
    occupancy
        Output of :func:`compute_roi_occupancy`.
    fps
        Frames per second (default: from the data); adds the ``*_s`` columns.
    max_gap
        Longest gap (frames) a visit goes on across (default :data:`ROI_MAX_GAP`;
        ``None``: any gap).

    Returns
    -------
    pandas.DataFrame
        One row per visit: ``individual`` (if present), ``roi``, ``start``, ``end``
        (inclusive frames: the first and last frames seen inside), ``duration``
        (frames from ``start`` to ``end``, all counted inside), ``frames_missing``
        (frames of that span with an unknown position: the gaps it goes on across),
        ``entered`` (the point was seen outside before the visit: False for a visit
        running when it is first seen, or after a long gap), ``exited`` (seen
        outside after it: False for one running when it is last seen, or before a
        long gap), and with a frame rate ``start_s`` (when the visit starts: the
        time of its first frame), ``end_s`` (when it stops: the end of its last
        frame, ``(end + 1) / fps``, as the bouts of
        :func:`~posekit.engine.behavior.ethogram.labels_to_bouts`) and
        ``duration_s`` (``end_s - start_s``).

    Raises
    ------
    ValueError
        If ``occupancy`` lacks the ``time`` or ``roi`` dim, or ``max_gap`` is not a
        non-negative integer or None.

    Examples
    --------
    >>> import xarray as xr
    >>> occ = xr.DataArray([[0.0], [1.0], [1.0], [0.0]], dims=("time", "roi"),
    ...                    coords={"roi": ["box"]})
    >>> roi_bouts(occ)[["roi", "start", "end", "duration"]].to_dict("records")
    [{'roi': 'box', 'start': 1, 'end': 2, 'duration': 2}]
    >>> gap = xr.DataArray([[0.0], [1.0], [np.nan], [1.0], [0.0]], dims=("time", "roi"),
    ...                    coords={"roi": ["box"]})
    >>> roi_bouts(gap)[["start", "end", "frames_missing", "entered"]].to_dict("records")
    [{'start': 1, 'end': 3, 'frames_missing': 1, 'entered': True}]
    >>> roi_bouts(gap, max_gap=0)[["start", "end", "entered", "exited"]].values.tolist()
    [[1, 1, True, False], [3, 3, False, True]]
    """
    _check_max_gap(max_gap)
    fps = resolve_fps(occupancy, fps)
    labels, values = _series(occupancy)
    rows = []
    for j, label in enumerate(labels):
        start, end, inside, entered, exited = _visits(values[:, j], max_gap)
        for k in range(start.size):
            duration = int(end[k] - start[k] + 1)
            rows.append(
                {
                    **label,
                    "start": int(start[k]),
                    "end": int(end[k]),
                    "duration": duration,
                    "frames_missing": duration - int(inside[k]),
                    "entered": bool(entered[k]),
                    "exited": bool(exited[k]),
                }
            )
    columns = [*(labels[0].keys() if labels else ["roi"])]
    columns += ["start", "end", "duration", "frames_missing", "entered", "exited"]
    df = pd.DataFrame(rows, columns=columns)
    if fps is not None:
        df["start_s"] = df["start"] / fps
        df["end_s"] = (df["end"] + 1) / fps
        df["duration_s"] = df["duration"] / fps
    return df


def roi_summary(
    occupancy: xr.DataArray,
    *,
    fps: float | None = None,
    max_gap: int | None = ROI_MAX_GAP,
) -> pd.DataFrame:
    """Occupancy time and fraction, entries, exits, latency and bouts per ROI.

    Visits, entries and exits are those of :func:`roi_bouts`: a gap in the tracking
    of at most ``max_gap`` frames inside an ROI neither ends the visit nor adds an
    entry, and its frames count inside; a longer gap ends the visit and counts
    neither inside nor outside. The frames inside are the frames of the visits:
    ``frames_inside = n_bouts × mean_bout``.

    Parameters
    ----------
    occupancy
        Output of :func:`compute_roi_occupancy`.
    fps
        Frames per second (default: from the data); adds the ``*_s`` columns.
    max_gap
        Longest gap (frames) a visit goes on across (default :data:`ROI_MAX_GAP`;
        ``None``: any gap).

    Returns
    -------
    pandas.DataFrame
        One row per (individual, ROI): ``frames_inside`` (the frames of the visits:
        seen inside, and ``frames_bridged``, those of the gaps the visits go on
        across), ``frames_observed`` (frames with a known position), ``fraction``
        (``frames_inside`` of the frames known or bridged,
        ``frames_observed + frames_bridged``), ``entries``, ``exits`` (seen, see
        :func:`roi_bouts`), ``latency`` (frames to the first frame inside; NaN if
        never inside), ``n_bouts`` (visits), ``mean_bout`` (mean visit
        ``duration``, frames); and ``time_inside_s``, ``latency_s``,
        ``mean_bout_s`` with a frame rate.

    Raises
    ------
    ValueError
        If ``occupancy`` lacks the ``time`` or ``roi`` dim, or ``max_gap`` is not a
        non-negative integer or None.

    Examples
    --------
    >>> import xarray as xr
    >>> occ = xr.DataArray([[0.0], [1.0], [1.0], [0.0]], dims=("time", "roi"),
    ...                    coords={"roi": ["box"]})
    >>> row = roi_summary(occ, fps=2.0).iloc[0]
    >>> int(row.entries), float(row.time_inside_s), float(row.latency_s)
    (1, 1.0, 0.5)
    """
    _check_max_gap(max_gap)
    fps = resolve_fps(occupancy, fps)
    labels, values = _series(occupancy)
    inside = values == 1.0
    n_obs = (~np.isnan(values)).sum(0)
    has_any = inside.any(0)
    latency = np.where(has_any, inside.argmax(0), np.nan)
    n = len(labels)
    entries, exits, n_bouts = np.zeros(n, int), np.zeros(n, int), np.zeros(n, int)
    frames_inside, bridged = np.zeros(n, int), np.zeros(n, int)
    mean_bout = np.full(n, np.nan)
    for j in range(n):
        start, end, seen_inside, entered, exited = _visits(values[:, j], max_gap)
        entries[j], exits[j], n_bouts[j] = entered.sum(), exited.sum(), start.size
        duration = end - start + 1
        frames_inside[j] = duration.sum()
        bridged[j] = frames_inside[j] - seen_inside.sum()
        if start.size:
            mean_bout[j] = float(np.mean(duration))
    known = n_obs + bridged
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(known > 0, frames_inside / np.maximum(known, 1), np.nan)
    df = pd.DataFrame(labels)
    df["frames_inside"] = frames_inside
    df["frames_bridged"] = bridged
    df["frames_observed"] = n_obs.astype(int)
    df["fraction"] = fraction
    df["entries"] = entries
    df["exits"] = exits
    df["latency"] = latency
    df["n_bouts"] = n_bouts
    df["mean_bout"] = mean_bout
    if fps is not None:
        df["time_inside_s"] = df["frames_inside"] / fps
        df["latency_s"] = df["latency"] / fps
        df["mean_bout_s"] = df["mean_bout"] / fps
    return df


# ---------------------------------------------------------------- line crossings


def _line_segments(line: LineROI) -> np.ndarray:
    """``(S, 2, 2)`` segments ``[A, B]`` of a line (a loop's closing one included)."""
    v = np.asarray(line.points + ((line.points[0],) if line.loop else ()), float)
    return np.stack([v[:-1], v[1:]], axis=1)


def _cross(ax, ay, bx, by):
    return ax * by - ay * bx


def _signed_crossings(points: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Signed number of segments crossed on arriving at each point (``(N, 2)`` → ``(N,)``).

    ``points`` are the positions seen, in time order. A point is on the + side of a
    segment ``A → B`` where ``cross(B - A, p - A) > 0`` (in image coordinates, y
    down: the right-hand side walking from A to B) and on the - side where it is
    < 0. A point *on* the segment has no side: it is skipped, and a crossing counts
    at the first point seen strictly on the other side of the last point that had
    one, so touching the line and going back is no crossing, and stepping onto the
    line and on across it is one. A point on the segment's line but beyond its ends
    belongs to the + side (no path through it crosses the segment). +1 for a
    crossing onto the + side, -1 the other way; a step through a vertex counts once
    (segments include their first end, not their last).
    """
    total = np.zeros(len(points))
    px, py = points[:, 0], points[:, 1]
    for (ax, ay), (bx, by) in segments:
        dx, dy = bx - ax, by - ay
        c = _cross(dx, dy, px - ax, py - ay)
        along = ((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-300)
        on_segment = (c == 0) & (along >= 0) & (along <= 1)
        side = np.where(c < 0, -1, 1)
        strict = np.flatnonzero(~on_segment)
        if strict.size < 2:
            continue
        k0, k1 = strict[:-1], strict[1:]
        p0, p1 = points[k0], points[k1]
        sx, sy = p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1]
        oa = _cross(sx, sy, ax - p0[:, 0], ay - p0[:, 1])
        ob = _cross(sx, sy, bx - p0[:, 0], by - p0[:, 1])
        within = (oa * ob < 0) | ((oa == 0) & (ob != 0))
        hit = (side[k0] != side[k1]) & within
        total[k1[hit]] += side[k1[hit]]
    return total


def compute_line_crossings(
    position: xr.DataArray | xr.Dataset,
    rois: Sequence[ROI],
    *,
    keypoint: str | None = None,
) -> xr.DataArray | None:
    """When each individual crosses each line ROI, and in which direction.

    A crossing is counted at the frame where the point is first seen on the other
    side of the line, from its last known position: a point lost for a few frames
    that reappears across the line still counts. A point exactly on the line is on
    neither side: touching the line and going back is no crossing, and a path such
    as 290, 300, 290, 300, 310 with the line at 300 crosses once (at 310).

    Parameters
    ----------
    position
        Poses Dataset or position with dims ``time, space`` (and ``keypoint``,
        ``individual`` if present).
    rois
        ROIs (unique names); only the :class:`LineROI` among them are used.
    keypoint
        Keypoint that crosses; ``None`` uses the centroid of all keypoints.

    Returns
    -------
    xarray.DataArray or None
        ``line_crossings`` with dims ``(time, individual, roi)`` (or ``(time, roi)``):
        +1 at a frame where the point crossed onto the line's right-hand side (in
        image coordinates, walking from its first point to its last), -1 onto its
        left-hand side, 0 otherwise, NaN where the position is missing. ``None``
        when there is no line among ``rois``.

    Raises
    ------
    ValueError
        If names repeat or the keypoint is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([0.0, 4.0, 6.0, np.nan, 3.0])
    >>> pos = from_numpy(np.stack([x, np.full(5, 1.0)], 1)[:, :, None, None]).position
    >>> wall = LineROI("wall", ((5, 0), (5, 10)))  # drawn downwards in the image
    >>> compute_line_crossings(pos, [wall]).values.ravel()
    array([ 0.,  0., -1., nan,  1.])
    """
    _check_unique(rois)
    lines = [r for r in rois if isinstance(r, LineROI)]
    if not lines:
        return None
    point, xy = _point_xy(position, keypoint, "compute_line_crossings")
    n_time = xy.shape[0]
    series = xy.reshape(n_time, -1, 2)
    segments = [_line_segments(line) for line in lines]
    out = np.full((n_time, series.shape[1], len(lines)), np.nan)
    for j in range(series.shape[1]):
        seen = np.flatnonzero(np.isfinite(series[:, j]).all(axis=1))
        if not len(seen):
            continue
        out[seen, j, :] = 0.0
        for i, seg in enumerate(segments):
            out[seen, j, i] = _signed_crossings(series[seen, j], seg)
    out = out.reshape(xy.shape[:-1] + (len(lines),))
    return _per_roi(out, point, lines, "line_crossings", position)


def line_crossing_summary(
    crossings: xr.DataArray, *, fps: float | None = None
) -> pd.DataFrame:
    """Crossings per individual and line: how many, in which direction, when first.

    Parameters
    ----------
    crossings
        Output of :func:`compute_line_crossings`.
    fps
        Frames per second (default: from the data); adds ``first_crossing_s`` and
        ``crossings_per_min`` (per minute with a known position).

    Returns
    -------
    pandas.DataFrame
        One row per (individual, line): ``crossings``, ``to_right``, ``to_left``
        (onto the line's right- and left-hand side, see
        :func:`compute_line_crossings`), ``first_crossing`` (frame; NaN if never),
        ``frames_observed``.

    Raises
    ------
    ValueError
        If ``crossings`` lacks the ``time`` or ``roi`` dim.

    Examples
    --------
    >>> import xarray as xr
    >>> c = xr.DataArray([[0.0], [1.0], [0.0], [-1.0], [1.0]], dims=("time", "roi"),
    ...                  coords={"roi": ["wall"]})
    >>> row = line_crossing_summary(c, fps=1.0).iloc[0]
    >>> int(row.crossings), int(row.to_right), int(row.to_left), float(row.first_crossing_s)
    (3, 2, 1, 1.0)
    """
    fps = resolve_fps(crossings, fps)
    labels, values = _series(crossings)
    v = np.nan_to_num(values, nan=0.0)
    to_right = np.where(v > 0, v, 0).sum(0)
    to_left = np.where(v < 0, -v, 0).sum(0)
    crossed = v != 0
    first = np.where(crossed.any(0), crossed.argmax(0), np.nan)
    observed = (~np.isnan(values)).sum(0)
    df = pd.DataFrame(labels)
    df["crossings"] = (to_right + to_left).astype(int)
    df["to_right"] = to_right.astype(int)
    df["to_left"] = to_left.astype(int)
    df["first_crossing"] = first
    df["frames_observed"] = observed.astype(int)
    if fps is not None:
        df["first_crossing_s"] = df["first_crossing"] / fps
        with np.errstate(invalid="ignore", divide="ignore"):
            minutes = observed / fps / 60.0
            df["crossings_per_min"] = np.where(
                minutes > 0, df["crossings"] / np.maximum(minutes, 1e-12), np.nan
            )
    return df


def compute_zone_sequence(
    occupancy: xr.DataArray, *, outside: str = "outside", missing: str = "missing"
) -> xr.DataArray:
    """Name of the zone each individual is in, frame by frame.

    Where ROIs overlap, the first ROI (in ``roi`` order) wins.

    Parameters
    ----------
    occupancy
        Output of :func:`compute_roi_occupancy`.
    outside, missing
        Labels for "in no ROI" and "position unknown".

    Returns
    -------
    xarray.DataArray
        ``zone`` (strings) with the ``roi`` dim removed.

    Raises
    ------
    ValueError
        If ``occupancy`` has no ``roi`` dim.

    Examples
    --------
    >>> import xarray as xr
    >>> occ = xr.DataArray([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], dims=("time", "roi"),
    ...                    coords={"roi": ["a", "b"]})
    >>> compute_zone_sequence(occ).values.tolist()
    ['a', 'outside', 'b']
    """
    require_dims(occupancy, ["roi"], "compute_zone_sequence")
    names = np.array([str(r) for r in occupancy["roi"].values] + [outside, missing])
    arr = occupancy.transpose(..., "roi")
    vals = np.asarray(arr.values, dtype=float)
    inside = vals == 1.0
    idx = np.where(inside.any(-1), inside.argmax(-1), len(names) - 2)
    idx = np.where(np.isnan(vals).all(-1), len(names) - 1, idx)
    out = xr.DataArray(
        names[idx].astype(object),
        dims=arr.dims[:-1],
        coords={d: arr[d] for d in arr.dims[:-1] if d in arr.coords},
        name="zone",
    )
    return out


def zone_transitions(
    zones: xr.DataArray,
    *,
    include_outside: bool = False,
    outside: str = "outside",
    missing: str = "missing",
) -> pd.DataFrame:
    """Count transitions between zones (rows: from, columns: to).

    Consecutive visits are compared, so by default passing through the area outside
    every ROI (and frames with unknown position) is ignored: ``a → outside → b``
    counts as one ``a → b`` transition. Individuals are pooled.

    Parameters
    ----------
    zones
        Output of :func:`compute_zone_sequence` (dims ``time`` and optionally
        ``individual``).
    include_outside
        Count ``outside`` as a zone of its own.
    outside, missing
        The labels used in ``zones``.

    Returns
    -------
    pandas.DataFrame
        Square table of counts.

    Raises
    ------
    ValueError
        If ``zones`` has no ``time`` dim.

    Examples
    --------
    >>> import xarray as xr
    >>> z = xr.DataArray(["a", "a", "outside", "b", "a"], dims="time")
    >>> zone_transitions(z).loc["a", "b"]
    np.int64(1)
    """
    require_dims(zones, ["time"], "zone_transitions")
    other = [d for d in zones.dims if d != "time"]
    arr = np.asarray(zones.transpose("time", *other).values).reshape(
        zones.sizes["time"], -1
    )
    drop = {missing} if include_outside else {missing, outside}
    names = sorted({str(v) for v in np.unique(arr)} - drop)
    counts = pd.DataFrame(0, index=names, columns=names, dtype=np.int64)
    for j in range(arr.shape[1]):
        col = arr[:, j]
        keep = ~np.isin(col, list(drop))
        seq = col[keep]
        if seq.size < 2:
            continue
        change = seq[1:] != seq[:-1]
        src, dst = seq[:-1][change], seq[1:][change]
        if src.size:
            pairs = pd.crosstab(pd.Series(src, name="from"), pd.Series(dst, name="to"))
            counts = counts.add(pairs, fill_value=0).astype(np.int64)
    counts.index.name = "from"
    counts.columns.name = "to"
    return counts.loc[names, names]


def compute_occupancy_heatmap(
    position: xr.DataArray | xr.Dataset,
    *,
    bins: int | tuple[int, int] = 50,
    extent: tuple[float, float, float, float] | None = None,
    keypoint: str | None = None,
    individual: str | None = None,
    fps: float | None = None,
) -> xr.DataArray:
    """Time spent in each spatial bin (a 2-D histogram of positions).

    Parameters
    ----------
    position
        Poses Dataset or position with dims ``time, space``.
    bins
        Number of bins (or ``(nx, ny)``).
    extent
        ``(x_min, x_max, y_min, y_max)``; default: the data's range.
    keypoint
        Keypoint to count; ``None``: the centroid.
    individual
        One individual; ``None``: all pooled.
    fps
        Frames per second (default: from the data); the map is then in seconds.

    Returns
    -------
    xarray.DataArray
        ``occupancy`` with dims ``(y, x)`` (bin centres as coords), units ``s`` or
        ``frames``.

    Raises
    ------
    ValueError
        If there are no valid positions.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = from_numpy(np.ones((10, 2, 1, 1)), fps=10).position
    >>> round(float(compute_occupancy_heatmap(pos, bins=4, extent=(0, 4, 0, 4)).sum()), 9)
    1.0
    """
    pos = position_of(position)
    fps = resolve_fps(pos, fps)
    point = select_keypoint(pos, keypoint)
    if individual is not None:
        require_dims(point, ["individual"], "compute_occupancy_heatmap(individual=...)")
        point = point.sel(individual=individual)
    x = np.asarray(point.sel(space="x").values, dtype=float).ravel()
    y = np.asarray(point.sel(space="y").values, dtype=float).ravel()
    ok = ~(np.isnan(x) | np.isnan(y))
    if not ok.any():
        raise ValueError("compute_occupancy_heatmap: no valid positions to count")
    if extent is None:
        extent = (x[ok].min(), x[ok].max(), y[ok].min(), y[ok].max())
    nx, ny = (bins, bins) if isinstance(bins, int) else bins
    hist, xe, ye = np.histogram2d(
        x[ok], y[ok], bins=(nx, ny), range=[extent[:2], extent[2:]]
    )
    values = hist.T / fps if fps is not None else hist.T
    out = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": 0.5 * (ye[1:] + ye[:-1]), "x": 0.5 * (xe[1:] + xe[:-1])},
        name="occupancy",
        attrs={"units": "s" if fps is not None else "frames", "extent": list(extent)},
    )
    return out
