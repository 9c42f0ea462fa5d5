"""Spatial and temporal calibration: pixels → millimetres, frames → seconds.

A :class:`Calibration` is a small typed config (``mm_per_px``, ``fps``) that can be
measured from a known distance in the image (:meth:`Calibration.from_points`) or the
arena size, stored as a dict, and applied to a poses Dataset. After
:meth:`Calibration.apply` the position is in mm (``position.attrs["space_unit"] ==
"mm"``), the time coordinate in seconds, and every kinematic quantity carries the right
units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import xarray as xr

from ._utils import file_frames, space_unit, with_log

__all__ = ["Calibration", "pixels_to_mm"]


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number; received {name}={value!r}")


@dataclass(frozen=True)
class Calibration:
    """Pixel size and frame rate of a recording.

    Parameters
    ----------
    mm_per_px
        Millimetres per pixel (``None``: stay in pixels).
    fps
        Frames per second (``None``: keep the Dataset's).

    Examples
    --------
    >>> cal = Calibration.from_points((0, 0), (300, 400), distance_mm=250.0, fps=30)
    >>> cal.mm_per_px
    0.5
    >>> Calibration.from_dict(cal.to_dict()) == cal
    True
    """

    mm_per_px: float | None = None
    fps: float | None = None

    def __post_init__(self) -> None:  # noqa: D105
        _check_positive("mm_per_px", self.mm_per_px)
        _check_positive("fps", self.fps)

    @classmethod
    def from_points(
        cls,
        p1: Sequence[float],
        p2: Sequence[float],
        *,
        distance_mm: float,
        fps: float | None = None,
    ) -> Calibration:
        """Calibrate from two image points a known real distance apart.

        Parameters
        ----------
        p1, p2
            Pixel coordinates ``(x, y)`` of the two points.
        distance_mm
            Their real distance in mm.
        fps
            Frames per second.

        Returns
        -------
        Calibration
            The calibration.

        Raises
        ------
        ValueError
            If the points coincide or the distance is not positive.
        """
        _check_positive("distance_mm", distance_mm)
        d_px = float(np.hypot(p2[0] - p1[0], p2[1] - p1[1]))
        if not d_px > 0:
            raise ValueError(
                f"the two points coincide ({p1}, {p2}); pick distinct points"
            )
        return cls(mm_per_px=float(distance_mm) / d_px, fps=fps)

    @classmethod
    def from_arena(
        cls, width_px: float, width_mm: float, *, fps: float | None = None
    ) -> Calibration:
        """Calibrate from the arena's width in pixels and in mm.

        Parameters
        ----------
        width_px, width_mm
            The same length measured in the image and in reality.
        fps
            Frames per second.

        Returns
        -------
        Calibration
            The calibration.

        Raises
        ------
        ValueError
            If a width is not positive.
        """
        _check_positive("width_px", width_px)
        _check_positive("width_mm", width_mm)
        return cls(mm_per_px=float(width_mm) / float(width_px), fps=fps)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Calibration:
        """Build from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown Calibration keys {unknown}; valid: {sorted(known)}"
            )
        return cls(**dict(values))

    def apply(self, ds: xr.Dataset) -> xr.Dataset:
        """Return a calibrated copy of a poses Dataset.

        Parameters
        ----------
        ds
            Poses Dataset in pixels (``position.attrs["space_unit"]`` absent or
            ``"px"``).

        Returns
        -------
        xarray.Dataset
            Position in mm (if ``mm_per_px``), time in seconds and ``attrs["fps"]``
            set (if ``fps``); the step is logged. The times keep the file's frame
            numbers (:func:`~posekit.engine.behavior._utils.file_frames`): frame
            1000 at 25 fps is at 40 s.

        Raises
        ------
        ValueError
            If the position is already in mm.
        """
        out = ds.copy(deep=False)
        out.attrs = dict(ds.attrs)
        if self.mm_per_px is not None:
            if space_unit(ds["position"]) != "px":
                raise ValueError(
                    f"position is already in {space_unit(ds['position'])!r}; apply a "
                    "calibration to pixel data only"
                )
            pos = ds["position"] * self.mm_per_px
            pos.attrs = {**ds["position"].attrs, "space_unit": "mm"}
            out["position"] = pos
        if self.fps is not None:
            frames = file_frames(ds)
            # the coordinate keeps its attrs (rows of images) and says "seconds":
            # ds.position alone then tells 1 fps (a step of 1) from frame numbers
            time_attrs = {**ds["time"].attrs, "time_unit": "seconds"}
            out = out.assign_coords(
                time=("time", frames.astype(float) / self.fps, time_attrs)
            )
            out.attrs["fps"] = float(self.fps)
            out.attrs["time_unit"] = "seconds"
        return with_log(out, "calibrate", mm_per_px=self.mm_per_px, fps=self.fps)


def pixels_to_mm(values: np.ndarray | float, mm_per_px: float) -> np.ndarray | float:
    """Scale pixel lengths to millimetres.

    Parameters
    ----------
    values
        Lengths in pixels.
    mm_per_px
        Millimetres per pixel.

    Returns
    -------
    numpy.ndarray or float
        Lengths in mm.

    Raises
    ------
    ValueError
        If ``mm_per_px`` is not positive.

    Examples
    --------
    >>> pixels_to_mm(10.0, 0.5)
    5.0
    """
    _check_positive("mm_per_px", mm_per_px)
    return values * mm_per_px
