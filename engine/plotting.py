"""Static figures of predictions with matplotlib (PNG, SVG), no browser needed.

The figures DeepLabCut's ``plot_trajectories`` makes: x, y, speed and likelihood of
each bodypart over time (:func:`plot_time_series`), every bodypart's points in the
image plane (:func:`plot_keypoint_trajectories`) and the steps between frames
(:func:`plot_step_histogram`). :func:`save_pose_plots` writes the time series and one
keypoint's path coloured by time
(:func:`posekit.engine.behavior.export.plot_trajectory`). Figures are
``matplotlib.figure.Figure`` objects on the Agg canvas (no ``pyplot``, no global
state), so they work in threads, on clusters and in Voila kernels.
:func:`save_dlc_plots` writes DeepLabCut's four figures under its names
(``trajectory``, ``plot``, ``plot-likelihood``, ``hist``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .drawing import bodypart_colors
from .project import DisplaySettings

__all__ = [
    "DLC_PLOT_NAMES",
    "SERIES",
    "plot_keypoint_trajectories",
    "plot_step_histogram",
    "plot_time_series",
    "save_dlc_plots",
    "save_pose_plots",
]

SERIES = ("x", "y", "speed", "likelihood")

#: The figures of DeepLabCut's ``plot_trajectories``, by file name
#: (``utils/plotting.py``: ``"trajectory" + suffix``, ``"plot"``, ``"plot-likelihood"``,
#: ``"hist"``).
DLC_PLOT_NAMES = ("trajectory", "plot", "plot-likelihood", "hist")

#: DeepLabCut's plotting defaults (a project's ``display`` when its config is empty).
_DEFAULT = DisplaySettings()


def _pick(
    ds: xr.Dataset, keypoints: Sequence[str] | None, individual: str | None
) -> tuple[xr.Dataset, list[str], str]:
    names = [str(k) for k in ds["keypoint"].values]
    chosen = list(names) if keypoints is None else [str(k) for k in keypoints]
    unknown = [k for k in chosen if k not in names]
    if unknown:
        raise ValueError(f"keypoints {unknown} are not in the data (it has {names})")
    inds = [str(i) for i in ds["individual"].values]
    ind = inds[0] if individual is None else str(individual)
    if ind not in inds:
        raise ValueError(f"individual {ind!r} is not in the data (it has {inds})")
    return ds.sel(individual=ind), chosen, ind


def _speed(position: xr.DataArray, fps: float | None) -> xr.DataArray:
    from .behavior.kinematics import compute_speed

    return compute_speed(position, fps=fps, per="second" if fps else "frame")


def plot_time_series(
    ds: xr.Dataset,
    *,
    keypoints: Sequence[str] | None = None,
    individual: str | None = None,
    colormap: str = _DEFAULT.colormap,
    frame: int | None = None,
    series: Sequence[str] = SERIES,
    figsize: tuple[float, float] = (9.0, 7.0),
):
    """x, y, speed and likelihood of each keypoint against the frame index.

    Parameters
    ----------
    ds
        Poses dataset (movement schema). NaN positions leave gaps.
    keypoints
        Keypoints to plot (default: all), coloured from ``colormap`` in dataset
        order.
    individual
        Which individual (default: the first).
    colormap
        Colour map of the keypoints (the project's ``colormap``).
    frame
        Draw a vertical cursor line at this frame.
    series
        Which panels, from ``("x", "y", "speed", "likelihood")``.
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a keypoint, individual or series name is unknown.

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> fig = plot_time_series(from_numpy(np.zeros((10, 2, 2, 1)), np.ones((10, 2, 1))))
    >>> len(fig.axes)
    4
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bad = [s for s in series if s not in SERIES]
    if bad:
        raise ValueError(f"unknown series {bad}; choose from {list(SERIES)}")
    sub, chosen, ind = _pick(ds, keypoints, individual)
    names = [str(k) for k in ds["keypoint"].values]
    colors = bodypart_colors(len(names), colormap) / 255.0  # matplotlib: 0-1 RGB
    fps = ds.attrs.get("fps")
    frames = np.arange(sub.sizes["time"])
    speed = _speed(sub["position"], fps)
    unit = "px/s" if fps else "px/frame"
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, series, strict=True):
        for kp in chosen:
            if name in ("x", "y"):
                values = sub["position"].sel(space=name, keypoint=kp).values
            elif name == "speed":
                values = speed.sel(keypoint=kp).values
            else:
                values = sub["confidence"].sel(keypoint=kp).values
            ax.plot(frames, values, color=colors[names.index(kp)], lw=1.0, label=kp)
        ax.set_ylabel(
            {"x": "x (px)", "y": "y (px)", "speed": f"speed ({unit})"}.get(
                name, "likelihood"
            )
        )
        if name == "likelihood":
            ax.set_ylim(-0.05, 1.05)
        if frame is not None:
            ax.axvline(frame, color="black", lw=1.0, alpha=0.7)
    axes[-1].set_xlabel("frame")
    axes[0].legend(loc="upper right", fontsize="small", ncols=min(len(chosen), 6))
    axes[0].set_title(f"{ind}: {', '.join(chosen)}")
    return fig


def plot_keypoint_trajectories(
    ds: xr.Dataset,
    *,
    keypoints: Sequence[str] | None = None,
    individual: str | None = None,
    colormap: str = _DEFAULT.colormap,
    alpha: float = _DEFAULT.alphavalue,
    pcutoff: float | None = None,
    image_size: tuple[int, int] | None = None,
    figsize: tuple[float, float] = (8.0, 6.0),
):
    """Every keypoint's positions in the image plane, a colour each.

    DeepLabCut's ``trajectory`` figure: a dot per frame and keypoint, coloured from
    ``colormap`` as in the other figures (keypoint ``i`` of the dataset's ``n`` gets
    :func:`~posekit.engine.drawing.bodypart_colors` ``(n)[i]``), with ``alpha``; the
    y axis points down, as in the video; a colour bar names the keypoints.

    Parameters
    ----------
    ds
        Poses dataset (movement schema). NaN positions are left out.
    keypoints
        Keypoints to draw (default: all), in dataset order of colours.
    individual
        Which individual (default: the first).
    colormap
        Colour map of the keypoints (the project's ``colormap``).
    alpha
        Opacity of the dots (the project's ``alphavalue``).
    pcutoff
        Leave out the points whose likelihood is below it (default: draw all).
    image_size
        ``(width, height)`` of the video, to fix the axes to the frame.
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Its first axes hold one line of dots per keypoint (``label`` the keypoint).

    Raises
    ------
    ValueError
        If a keypoint or the individual is unknown.

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.random.default_rng(0).random((10, 2, 3, 1)) * 100)
    >>> fig = plot_keypoint_trajectories(ds)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['keypoint_0', 'keypoint_1', 'keypoint_2']
    >>> bool(fig.axes[0].yaxis_inverted())  # as in the video
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure

    sub, chosen, ind = _pick(ds, keypoints, individual)
    names = [str(k) for k in ds["keypoint"].values]
    colors = bodypart_colors(len(names), colormap) / 255.0  # matplotlib: 0-1 RGB
    position = sub["position"]
    if pcutoff is not None:
        position = position.where(sub["confidence"] >= float(pcutoff))
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for kp in chosen:
        xy = position.sel(keypoint=kp)
        ax.plot(
            xy.sel(space="x").values,
            xy.sel(space="y").values,
            ".",
            color=colors[names.index(kp)],
            alpha=alpha,
            label=kp,
        )
    if image_size is not None:
        ax.set_xlim(0, image_size[0])
        ax.set_ylim(image_size[1], 0)
    else:
        ax.invert_yaxis()
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.set_title(f"{ind}: trajectories")
    if chosen:  # DeepLabCut's colour bar, a tick per keypoint
        shown = ListedColormap([colors[names.index(kp)] for kp in chosen])
        norm = BoundaryNorm(np.arange(len(chosen) + 1) - 0.5, len(chosen))
        bar = fig.colorbar(
            ScalarMappable(norm=norm, cmap=shown), ax=ax, ticks=range(len(chosen))
        )
        bar.set_ticklabels(chosen)
    return fig


def save_pose_plots(
    ds: xr.Dataset,
    folder: str | os.PathLike,
    *,
    formats: Sequence[str] = ("png", "svg"),
    keypoint: str | None = None,
    individual: str | None = None,
    colormap: str = _DEFAULT.colormap,
    image_size: tuple[int, int] | None = None,
    prefix: str = "",
    frame: int | None = None,
) -> list[Path]:
    """Write the trajectory and time-series figures into ``folder``.

    Files: ``<prefix>trajectory.<fmt>`` (:func:`posekit.engine.behavior.export.
    plot_trajectory` of ``keypoint``) and ``<prefix>timeseries.<fmt>``
    (:func:`plot_time_series` of every keypoint) for each format, as DeepLabCut's
    ``plot_trajectories`` writes plots to ``plot-poses/<video>/``.

    Parameters
    ----------
    ds
        Poses dataset.
    folder
        Output folder (created).
    formats
        ``"png"`` and/or ``"svg"``.
    keypoint
        Keypoint of the trajectory figure (default: the first).
    individual
        Which individual (default: the first).
    colormap
        Colour map of the keypoints in the time series.
    image_size
        ``(width, height)`` of the video, to fix the trajectory axes to the frame.
    prefix
        Prepended to the file names.
    frame
        Draw a cursor at this frame in the time series.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        If a format, keypoint or individual is unknown.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.random.default_rng(0).random((20, 2, 2, 1)) * 100)
    >>> [p.name for p in save_pose_plots(ds, tempfile.mkdtemp(), formats=["svg"])]
    ['trajectory.svg', 'timeseries.svg']
    """
    from .behavior.export import plot_trajectory, save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "trajectory": plot_trajectory(
            ds,
            keypoint=keypoint or str(ds["keypoint"].values[0]),
            individual=individual or str(ds["individual"].values[0]),
            image_size=image_size,
        ),
        "timeseries": plot_time_series(
            ds, individual=individual, colormap=colormap, frame=frame
        ),
    }
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            paths.append(save_figure(fig, folder / f"{prefix}{name}.{fmt.lstrip('.')}"))
    return paths


def plot_step_histogram(
    ds: xr.Dataset,
    *,
    individual: str | None = None,
    colormap: str = _DEFAULT.colormap,
    bins: int = 50,
    figsize: tuple[float, float] = (7.0, 5.0),
):
    """Histogram of the frame-to-frame steps in x and in y of each keypoint.

    DeepLabCut's ``hist`` figure: large steps are jumps (mislabelled frames).

    Parameters
    ----------
    ds
        Poses dataset (movement schema); NaN steps are left out.
    individual
        Which individual (default: the first).
    colormap
        Colour map of the keypoints.
    bins
        Number of bins.
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from posekit.engine.poses import from_numpy
    >>> fig = plot_step_histogram(from_numpy(np.random.default_rng(0).random((9, 2, 2, 1))))
    >>> fig.axes[0].get_xlabel()
    'step between frames in x and y (px)'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sub, chosen, ind = _pick(ds, None, individual)
    names = [str(k) for k in ds["keypoint"].values]
    colors = bodypart_colors(len(names), colormap) / 255.0
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for kp in chosen:
        for axis in ("x", "y"):
            steps = np.diff(sub["position"].sel(space=axis, keypoint=kp).values)
            steps = steps[np.isfinite(steps)]
            if steps.size:
                ax.hist(
                    steps, bins=bins, histtype="step", color=colors[names.index(kp)]
                )
    ax.set_xlabel("step between frames in x and y (px)")
    ax.set_ylabel("count")
    ax.set_title(f"{ind}: {', '.join(chosen)}")
    return fig


def save_dlc_plots(
    ds: xr.Dataset,
    folder: str | os.PathLike,
    *,
    suffix: str = "",
    animal: str = "",
    formats: Sequence[str] = ("png",),
    individual: str | None = None,
    colormap: str = _DEFAULT.colormap,
    image_size: tuple[int, int] | None = None,
    alpha: float = _DEFAULT.alphavalue,
) -> list[Path]:
    """Write DeepLabCut's four ``plot_trajectories`` figures under its file names.

    Files ``<name><suffix><animal>.<fmt>`` for each name of :data:`DLC_PLOT_NAMES`:
    ``trajectory`` (every keypoint in the image plane, a colour each:
    :func:`plot_keypoint_trajectories`), ``plot`` (x and y over time),
    ``plot-likelihood`` and ``hist`` (:func:`plot_step_histogram`).
    DeepLabCut's ``suffix`` is ``"_filtered"`` for filtered predictions, so the
    figures of the filtered and the unfiltered data lie side by side.

    Parameters
    ----------
    ds
        Poses dataset.
    folder
        Output folder (created).
    suffix
        ``""`` or ``"_filtered"``.
    animal
        DeepLabCut's animal part of the name: ``""`` for one animal, else the
        individual's name.
    formats
        ``"png"`` and/or ``"svg"``.
    individual
        Which individual (default: the first).
    colormap
        Colour map of the keypoints.
    image_size
        ``(width, height)`` of the video, to fix the trajectory axes to the frame.
    alpha
        Opacity of the trajectory's dots (the project's ``alphavalue``).

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.random.default_rng(0).random((20, 2, 2, 1)) * 100)
    >>> out = save_dlc_plots(ds, tempfile.mkdtemp(), suffix="_filtered", formats=["svg"])
    >>> [p.name for p in out]  # doctest: +NORMALIZE_WHITESPACE
    ['trajectory_filtered.svg', 'plot_filtered.svg', 'plot-likelihood_filtered.svg',
     'hist_filtered.svg']
    """
    from .behavior.export import save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = dict(
        zip(
            DLC_PLOT_NAMES,
            (
                plot_keypoint_trajectories(
                    ds,
                    individual=individual,
                    colormap=colormap,
                    alpha=alpha,
                    image_size=image_size,
                ),
                plot_time_series(
                    ds, individual=individual, colormap=colormap, series=("x", "y")
                ),
                plot_time_series(
                    ds,
                    individual=individual,
                    colormap=colormap,
                    series=("likelihood",),
                    figsize=(9.0, 3.5),
                ),
                plot_step_histogram(ds, individual=individual, colormap=colormap),
            ),
            strict=True,
        )
    )
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            target = folder / f"{name}{suffix}{animal}.{fmt.lstrip('.')}"
            paths.append(save_figure(fig, target))
    return paths
