"""The results of a behaviour analysis on disk: tables, figures, ROIs and settings.

:func:`session_figures` draws one session (trajectory, occupancy heatmap, speed,
ethogram); :func:`write_results` writes everything into one folder: one CSV per table
(:data:`~posekit.engine.behavior.tables.TABLE_FILES`), all tables as the sheets of
``behavior_tables.xlsx``, ``<session>_<figure>.png|svg``, ``rois.geojson`` and
``settings.json``. Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .ethogram import MISSING
from .tables import TABLE_FILES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .roi import ROI

__all__ = ["FIGURE_FORMATS", "session_figures", "write_results"]

logger = logging.getLogger("posekit.engine.behavior.results")

#: Figure formats :func:`write_results` writes.
FIGURE_FORMATS = ("png", "svg")


def session_figures(
    pixels: xr.DataArray,
    point: xr.DataArray,
    *,
    rois: Sequence[ROI] = (),
    image_size: tuple[int, int] | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
    fps: float | None = None,
    background: str = "none",
) -> dict[str, Figure]:
    """Draw the figures of one session.

    Parameters
    ----------
    pixels
        Position of one point per individual in image pixels (dims ``time, space,
        individual``): the trajectory and the occupancy heatmap, with the ROIs.
    point
        The same point in calibrated units: the speed.
    rois
        Regions of interest drawn on the trajectory and the heatmap.
    image_size
        ``(width, height)`` of the video (axes and heatmap extent; default: the data's).
    labels
        Individual → per-frame behaviour labels: the ethogram (none if empty).
    fps
        Frames per second (speed per second and time axes; per frame without).
    background
        Label of frames without a behaviour (left blank on the ethogram).

    Returns
    -------
    dict
        ``trajectory``, ``heatmap`` (unless no position is valid), ``speed`` and
        ``ethogram`` (with labels): matplotlib Figures.
    """
    from .export import (
        plot_ethogram,
        plot_occupancy_heatmap,
        plot_speed,
        plot_trajectory,
    )
    from .kinematics import compute_speed
    from .roi import compute_occupancy_heatmap

    figs: dict[str, Figure] = {
        "trajectory": plot_trajectory(pixels, rois=rois, image_size=image_size),
    }
    try:
        size = image_size
        extent = (-0.5, size[0] - 0.5, -0.5, size[1] - 0.5) if size else None
        heat = compute_occupancy_heatmap(pixels, bins=40, extent=extent)
        figs["heatmap"] = plot_occupancy_heatmap(heat, rois=rois)
    except ValueError:  # no valid position
        pass
    figs["speed"] = plot_speed(compute_speed(point, per="second" if fps else "frame"))
    if labels:
        figs["ethogram"] = plot_ethogram(labels, fps=fps, ignore=[background, MISSING])
    return figs


def write_results(
    folder: str | os.PathLike,
    tables: Mapping[str, pd.DataFrame],
    *,
    figures: Mapping[str, Callable[[], Mapping[str, Figure]]] | None = None,
    rois: Sequence[ROI] = (),
    settings: Mapping[str, Any] | None = None,
    csv: bool = True,
    excel: bool = True,
    figure_formats: Sequence[str] = FIGURE_FORMATS,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Path]:
    """Write the results of an analysis into ``folder`` (created if needed).

    Parameters
    ----------
    folder
        Output folder.
    tables
        Table name (a key of :data:`~posekit.engine.behavior.tables.TABLE_FILES`) →
        table.
    figures
        Session name → a function that draws its figures (name → Figure), called
        once per session, only when ``figure_formats`` is not empty.
    rois
        Written as ``rois.geojson`` (if any).
    settings
        Written as ``settings.json`` (always; ``{}`` if ``None``).
    csv
        One CSV per table (``<table>.csv``).
    excel
        All tables as the sheets of ``behavior_tables.xlsx`` (if any).
    figure_formats
        ``"png"``, ``"svg"`` or both; figures are ``<session>_<figure>.<format>``.
    progress
        Called as ``progress(done, total, what)`` after each step.

    Returns
    -------
    list of Path
        The files written, in order.

    Raises
    ------
    ValueError
        If a figure format or a table name is unknown.
    """
    from .._fileio import atomic_write_text
    from .export import save_figure, save_table, save_tables
    from .roi import save_rois

    bad = sorted(set(figure_formats) - set(FIGURE_FORMATS))
    if bad:
        raise ValueError(f"figure formats must be 'png' or 'svg'; received {bad}")
    unknown = sorted(set(tables) - set(TABLE_FILES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; known: {sorted(TABLE_FILES)}")
    figures = figures if figure_formats else {}
    figures = figures or {}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    total = (
        (len(tables) if csv else 0)
        + (1 if excel and tables else 0)
        + len(figures) * len(figure_formats)
        + (1 if rois else 0)
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
    for session, draw in figures.items():
        figs = draw()
        for fmt in figure_formats:
            paths = [
                save_figure(fig, out / f"{session}_{fig_name}.{fmt}")
                for fig_name, fig in figs.items()
            ]
            step(paths, f"{session} figures ({fmt})")
    if rois:
        step([save_rois(rois, out / "rois.geojson")], "rois.geojson")
    text = json.dumps(dict(settings or {}), indent=2, default=str)
    step([atomic_write_text(out / "settings.json", text)], "settings.json")
    logger.info("behaviour results: %d files in %s", len(written), out)
    return written
