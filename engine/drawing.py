"""Colours and keypoint drawing: every picture posekit makes goes through here.

- Colours: :func:`parse_color` (a name, ``#rrggbb`` or RGB triple → RGB ints),
  :func:`to_hex`, and :func:`bodypart_colors` (the colours of a project's ``colormap``,
  the same in check-labels images, labelled videos, evaluation images, matplotlib
  figures and the Bokeh widgets).
- Primitives on ``(H, W, 3)`` ``uint8`` RGB arrays with OpenCV, sub-pixel accurate
  (pixel centres at integer coordinates): :func:`draw_points` and
  :func:`draw_skeleton`.
- The pictures built from them: :func:`draw_labels` (human labels, DeepLabCut's
  ``check_labels``), :func:`draw_poses` (one frame of a labelled video, with fading
  trails), :func:`draw_predictions` and :func:`plot_predictions` (evaluation images:
  predictions against labels).

The settings these take (dot size, opacity, colour map, skeleton and its colour,
p-cutoff) are a project's :attr:`posekit.engine.project.Project.display`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ._fileio import atomic_write_bytes
from .project import DisplaySettings

__all__ = [
    "parse_color",
    "to_hex",
    "bodypart_colors",
    "draw_points",
    "draw_skeleton",
    "draw_labels",
    "draw_poses",
    "draw_predictions",
    "plot_predictions",
]

logger = logging.getLogger("posekit.drawing")

#: DeepLabCut's defaults (``dotsize``, ``alphavalue``, ``colormap``, ...): the class's
#: field defaults (an instance cannot be made while this module loads: validating its
#: colour imports this module).
_DEFAULT = DisplaySettings

#: Fractional bits of OpenCV's ``shift``: coordinates are drawn to 1/16 pixel.
_SHIFT = 4
_ONE = 1 << _SHIFT

Color = str | Sequence[float] | np.ndarray

_NO_DEFAULT = object()


# ---------------------------------------------------------------- colours


def parse_color(color: Color, default: object = _NO_DEFAULT) -> tuple[int, int, int]:
    """Read a colour as RGB ints (0–255).

    Parameters
    ----------
    color
        A matplotlib colour name (``"black"``, ``"darkgreen"``, ``"k"``,
        ``"tab:blue"``), ``#rrggbb``, or an RGB triple: floats in [0, 1] are scaled
        to 0–255 (matplotlib's convention), anything else is read as 0–255 (values
        outside 0–255 are not a colour).
    default
        Returned (with a log message) for a colour that cannot be read, so a typo
        does not stop drawing; without it such a colour raises.

    Returns
    -------
    tuple of int
        ``(r, g, b)``.

    Raises
    ------
    ValueError
        If ``color`` cannot be read and no ``default`` is given.

    Examples
    --------
    >>> parse_color("black"), parse_color("#ff8000"), parse_color((1.0, 0.5, 0.0))
    ((0, 0, 0), (255, 128, 0), (255, 128, 0))
    >>> parse_color((0, 0, 1)), parse_color("nonsense", default=(1, 2, 3))
    ((0, 0, 1), (1, 2, 3))
    """
    rgb = _read_color(color)
    if rgb is not None:
        return rgb
    if default is _NO_DEFAULT:
        raise ValueError(
            f"Unknown colour {color!r}; use a colour name such as 'black', "
            "'#rrggbb' or an RGB triple."
        )
    logger.info("unknown colour %r; using %r", color, default)
    return tuple(int(c) for c in default)  # type: ignore[attr-defined,return-value]


def _read_color(color: Color) -> tuple[int, int, int] | None:
    if isinstance(color, str):
        name = color.strip().lower()
        if name.startswith("#") and len(name) == 7:
            try:
                return tuple(int(name[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
            except ValueError:
                return None
        from matplotlib.colors import to_rgb

        try:
            return tuple(int(round(255 * c)) for c in to_rgb(name))  # type: ignore[return-value]
        except ValueError:
            return None
    values = np.asarray(color)
    if values.shape != (3,) or values.dtype.kind not in "iuf":
        return None
    vals = values.astype(float)
    if not ((vals >= 0) & (vals <= 255)).all():  # NaN fails too
        return None
    if values.dtype.kind == "f" and (vals <= 1).all():
        vals = vals * 255
    return tuple(int(round(v)) for v in vals)  # type: ignore[return-value]


def to_hex(color: Color) -> str:
    """Write a colour as ``#rrggbb`` (for Bokeh, HTML and matplotlib).

    Raises
    ------
    ValueError
        If ``color`` cannot be read (see :func:`parse_color`).

    Examples
    --------
    >>> to_hex((255, 128, 0)), to_hex("white")
    ('#ff8000', '#ffffff')
    """
    return "#{:02x}{:02x}{:02x}".format(*parse_color(color))


def bodypart_colors(n: int, colormap: str = _DEFAULT.colormap) -> np.ndarray:
    """``n`` distinct colours sampled evenly from a colour map.

    Parameters
    ----------
    n
        Number of bodyparts.
    colormap
        The config's ``colormap`` (matplotlib names DeepLabCut uses, e.g.
        ``rainbow``, ``jet``, ``viridis``, ``plasma``, with ``_r`` reversing them;
        drawn with OpenCV's maps of the same name). Unknown names fall back to an
        HSV wheel.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` ``uint8`` RGB.

    Examples
    --------
    >>> bodypart_colors(2, "jet").tolist()
    [[0, 0, 128], [128, 0, 0]]
    """
    if n <= 0:
        return np.zeros((0, 3), np.uint8)
    name = str(colormap or _DEFAULT.colormap).strip().lower()
    reverse = name.endswith("_r")
    name = name.removesuffix("_r")
    levels = np.linspace(0, 255, n).round().astype(np.uint8).reshape(-1, 1)
    code = getattr(cv2, f"COLORMAP_{name.upper()}", None)
    if code is None:
        hues = (np.arange(n) * 180 // max(n, 1)).astype(np.uint8).reshape(-1, 1)
        hsv = np.concatenate(
            [hues, np.full_like(hues, 220), np.full_like(hues, 235)], axis=1
        )
        rgb = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]
    else:
        bgr = cv2.applyColorMap(levels, code)[:, 0]
        rgb = bgr[:, ::-1]
    if (
        name == "rainbow"
    ):  # matplotlib's rainbow runs purple → red; OpenCV's the reverse
        rgb = rgb[::-1]
    if reverse:
        rgb = rgb[::-1]
    return np.ascontiguousarray(rgb, dtype=np.uint8)


# ---------------------------------------------------------------- primitives


def _pt(xy: np.ndarray) -> tuple[int, int]:
    """Fixed-point pixel coordinates for OpenCV's ``shift``."""
    return int(round(float(xy[0]) * _ONE)), int(round(float(xy[1]) * _ONE))


def _rgb3(image: np.ndarray) -> np.ndarray:
    """Return a contiguous ``uint8`` RGB copy (grayscale converted, alpha dropped)."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(img[..., :3], dtype=np.uint8).copy()


def _visible(xy: np.ndarray, visible: np.ndarray | None) -> np.ndarray:
    ok = np.isfinite(xy).all(axis=-1)
    return ok if visible is None else ok & np.asarray(visible, bool)


def draw_points(
    image: np.ndarray,
    xy: np.ndarray,
    colors: np.ndarray | Sequence[Sequence[int]],
    *,
    radius: float,
    alpha: float = 1.0,
    visible: np.ndarray | None = None,
    outline: Sequence[int] | None = None,
) -> np.ndarray:
    """Draw filled, anti-aliased dots in place.

    Parameters
    ----------
    image
        ``(H, W, 3)`` ``uint8`` RGB, modified in place.
    xy
        ``(n, 2)`` pixel coordinates (pixel centres at integers); NaN rows are skipped.
    colors
        ``(n, 3)`` RGB, one per point.
    radius
        Dot radius in pixels (sub-pixel values allowed).
    alpha
        Opacity of the dots (1: opaque).
    visible
        ``(n,)`` mask of the points to draw (default: every finite point).
    outline
        RGB of a 1-pixel outline drawn opaque over the blended dots (keeps light
        dots visible on light images), or ``None``.

    Returns
    -------
    numpy.ndarray
        ``image``.

    Examples
    --------
    >>> img = np.zeros((9, 9, 3), np.uint8)
    >>> draw_points(img, np.array([[4.0, 2.0]]), [(255, 0, 0)], radius=1)[2, 4].tolist()
    [255, 0, 0]
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    ok = _visible(xy, visible)
    cols = [tuple(int(c) for c in col) for col in np.asarray(colors).reshape(-1, 3)]
    r = int(round(float(radius) * _ONE))
    target = image if alpha >= 1 else image.copy()
    for j in np.flatnonzero(ok):
        cv2.circle(target, _pt(xy[j]), r, cols[j], -1, cv2.LINE_AA, _SHIFT)
    if alpha < 1:
        cv2.addWeighted(target, float(alpha), image, 1 - float(alpha), 0, dst=image)
    if outline is not None:
        line = tuple(int(c) for c in outline)
        for j in np.flatnonzero(ok):
            cv2.circle(image, _pt(xy[j]), r, line, 1, cv2.LINE_AA, _SHIFT)
    return image


def draw_skeleton(
    image: np.ndarray,
    xy: np.ndarray,
    edges: Sequence[tuple[int, int]],
    color: Color,
    *,
    thickness: int = 1,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """Draw skeleton lines in place; an edge is drawn when both ends are visible.

    Parameters
    ----------
    image
        ``(H, W, 3)`` ``uint8`` RGB, modified in place.
    xy
        ``(n, 2)`` pixel coordinates; NaN where missing.
    edges
        Pairs of point indices.
    color
        Line colour (anything :func:`parse_color` reads).
    thickness
        Line width in pixels.
    visible
        ``(n,)`` mask of the points shown (default: every finite point).

    Returns
    -------
    numpy.ndarray
        ``image``.

    Raises
    ------
    ValueError
        If ``color`` cannot be read.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    ok = _visible(xy, visible)
    rgb = parse_color(color)
    for a, b in edges:
        if ok[a] and ok[b]:
            cv2.line(
                image,
                _pt(xy[a]),
                _pt(xy[b]),
                rgb,
                max(1, int(thickness)),
                cv2.LINE_AA,
                _SHIFT,
            )
    return image


# ---------------------------------------------------------------- pictures


def draw_labels(
    image: np.ndarray,
    coords: np.ndarray,
    colors: np.ndarray,
    *,
    dotsize: float = _DEFAULT.dotsize,
    alpha: float = _DEFAULT.alphavalue,
    skeleton: Sequence[tuple[int, int]] = (),
    skeleton_color: Color = _DEFAULT.skeleton_color,
) -> np.ndarray:
    """Human labels on a copy of an image, as DeepLabCut's ``check_labels`` shows them.

    Parameters
    ----------
    image
        ``(H, W, 3)`` ``uint8`` RGB (a grayscale ``(H, W)`` image is converted).
    coords
        ``(n_bodyparts, 2)`` pixel coordinates, NaN where not labelled.
    colors
        ``(n_bodyparts, 3)`` RGB.
    dotsize
        Marker diameter in pixels (the config's ``dotsize``).
    alpha
        Marker opacity (``alphavalue``).
    skeleton
        Edges as pairs of bodypart indices; drawn when both ends are labelled, with
        a width of 1 pixel per 300 pixels of the image's shorter side.
    skeleton_color
        Colour of the skeleton lines.

    Returns
    -------
    numpy.ndarray
        The drawn image, same height and width as ``image`` (3 channels).
    """
    img = _rgb3(image)
    coords = np.asarray(coords, float)
    thick = max(1, int(round(min(img.shape[:2]) / 300)))
    draw_skeleton(img, coords, skeleton, skeleton_color, thickness=thick)
    return draw_points(
        img,
        coords,
        colors,
        radius=max(1.0, float(dotsize) / 2),
        alpha=alpha,
        outline=(0, 0, 0),
    )


def _valid(xy: np.ndarray, p: np.ndarray, pcutoff: float) -> np.ndarray:
    """Finite points whose likelihood is not below ``pcutoff`` (NaN likelihood: kept)."""
    ok = np.isfinite(xy).all(axis=-1)
    with np.errstate(invalid="ignore"):
        ok &= ~(p < pcutoff)
    return ok


def draw_poses(
    frame: np.ndarray,
    xy: np.ndarray,
    likelihood: np.ndarray | None = None,
    *,
    pcutoff: float = _DEFAULT.pcutoff,
    colors: np.ndarray | Sequence[Sequence[int]],
    dotsize: float = _DEFAULT.dotsize,
    alpha: float = _DEFAULT.alphavalue,
    edges: Sequence[tuple[int, int]] = (),
    skeleton_color: Color = _DEFAULT.skeleton_color,
    trail: np.ndarray | None = None,
    trail_likelihood: np.ndarray | None = None,
    color_by: Literal["bodypart", "individual"] = "bodypart",
) -> np.ndarray:
    """Draw one frame's keypoints in place (a frame of a labelled video).

    Parameters
    ----------
    frame
        ``(H, W, 3)`` ``uint8`` RGB image, modified in place.
    xy
        ``(keypoint, individual, 2)`` pixel coordinates (pixel centres at integers);
        NaN where missing.
    likelihood
        ``(keypoint, individual)``; points below ``pcutoff`` are not drawn (NaN
        likelihood counts as present).
    pcutoff
        Likelihood threshold.
    colors
        RGB colours, one per keypoint (``color_by="bodypart"``) or per individual.
    dotsize
        Radius of the dots in pixels (DLC's ``dotsize``, which its labelled videos
        use as the radius; at least 1, fractions dropped).
    alpha
        Opacity of the dots (DLC's ``alphavalue``).
    edges
        Skeleton edges as pairs of keypoint indices; drawn when both ends are shown,
        ``dotsize / 4`` pixels wide.
    skeleton_color
        Colour of the skeleton lines.
    trail, trail_likelihood
        Earlier positions ``(age, keypoint, individual, 2)``, newest first (age 0 is
        the previous frame), drawn as lines that fade with age.
    color_by
        Colour the points by bodypart or by individual.

    Returns
    -------
    numpy.ndarray
        ``frame``.

    Raises
    ------
    ValueError
        If ``skeleton_color`` cannot be read.
    """
    xy = np.asarray(xy, dtype=float)
    n_kp, n_ind = xy.shape[:2]
    p = np.full((n_kp, n_ind), np.nan) if likelihood is None else np.asarray(likelihood)
    ok = _valid(xy, p, pcutoff)
    cols = np.asarray(colors).reshape(-1, 3)
    which = np.arange(n_kp)[:, None] if color_by == "bodypart" else np.arange(n_ind)
    point_colors = cols[np.broadcast_to(which, (n_kp, n_ind)) % len(cols)]

    if trail is not None and len(trail):
        _draw_trails(
            frame, xy, ok, trail, trail_likelihood, point_colors, pcutoff, dotsize
        )
    if edges:
        width = max(1, int(round(dotsize / 4)))
        for i in range(n_ind):
            draw_skeleton(
                frame,
                xy[:, i],
                edges,
                skeleton_color,
                thickness=width,
                visible=ok[:, i],
            )
    return draw_points(
        frame,
        xy.reshape(-1, 2),
        point_colors.reshape(-1, 3),
        radius=max(1, int(dotsize)),
        alpha=alpha,
        visible=ok.ravel(),
    )


def _draw_trails(
    frame: np.ndarray,
    xy: np.ndarray,
    ok: np.ndarray,
    trail: np.ndarray,
    trail_likelihood: np.ndarray | None,
    point_colors: np.ndarray,
    pcutoff: float,
    dotsize: float,
) -> None:
    """Lines from each point back through its earlier positions, fading with age."""
    tp = (
        np.full(trail.shape[:3], np.nan)
        if trail_likelihood is None
        else np.asarray(trail_likelihood)
    )
    thickness = max(1, int(round(dotsize / 3)))
    n_age = len(trail)
    newer_xy, newer_ok = xy, ok
    segments: list[list[tuple]] = []
    for age in range(n_age):
        older_ok = _valid(trail[age], tp[age], pcutoff)
        both = newer_ok & older_ok
        segments.append(
            [
                (
                    _pt(newer_xy[k, i]),
                    _pt(trail[age, k, i]),
                    tuple(int(c) for c in point_colors[k, i]),
                )
                for k, i in zip(*np.nonzero(both), strict=True)
            ]
        )
        newer_xy, newer_ok = trail[age], older_ok
    for age in reversed(range(n_age)):  # oldest first, newest on top
        if not segments[age]:
            continue
        weight = (n_age - age) / (n_age + 1)
        overlay = frame.copy()
        for a, b, c in segments[age]:
            cv2.line(overlay, a, b, c, thickness, cv2.LINE_AA, _SHIFT)
        cv2.addWeighted(overlay, weight, frame, 1 - weight, 0, dst=frame)


def draw_predictions(
    image: np.ndarray,
    predictions: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    colors: np.ndarray | Sequence[Sequence[int]],
    bodyparts: Sequence[str] | None = None,
    pcutoff: float = _DEFAULT.pcutoff,
    radius: int = 4,
) -> np.ndarray:
    """Predictions against labels on a copy of an image (an evaluation image).

    A prediction with likelihood ≥ ``pcutoff`` is a filled circle, below it a hollow
    one; a label is a cross, and a line joins each prediction to its label. With
    ``bodyparts``, a legend of their names in their colours is written in the
    top-left corner.

    Parameters
    ----------
    image
        ``(H, W, 3)`` ``uint8`` RGB (grayscale is converted).
    predictions
        ``(K, 3)``: x, y, likelihood per bodypart.
    labels
        ``(K, 2)`` or ``None``; NaN where not labelled.
    colors
        ``(K, 3)`` RGB.
    bodyparts
        Names for the legend.
    pcutoff
        Likelihood threshold for filled circles.
    radius
        Marker radius in pixels.

    Returns
    -------
    numpy.ndarray
        The drawn image.
    """
    canvas = _rgb3(image)
    predictions = np.asarray(predictions, np.float64)
    labels = None if labels is None else np.asarray(labels, np.float64)
    cols = [tuple(int(c) for c in col) for col in np.asarray(colors).reshape(-1, 3)]
    for j in range(predictions.shape[0]):
        x, y, p = predictions[j]
        color = cols[j]
        have_label = labels is not None and bool(np.isfinite(labels[j]).all())
        if have_label:
            lx, ly = (int(round(v)) for v in labels[j])  # type: ignore[index]
            cv2.drawMarker(canvas, (lx, ly), color, cv2.MARKER_CROSS, 2 * radius + 2, 1)
        if np.isfinite([x, y]).all():
            c = (int(round(x)), int(round(y)))
            cv2.circle(canvas, c, radius, color, -1 if p >= pcutoff else 1)
            if have_label:
                cv2.line(canvas, c, (lx, ly), color, 1)
    for j, name in enumerate(bodyparts or ()):
        cv2.putText(
            canvas,
            str(name),
            (5, 14 + 14 * j),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            cols[j],
            1,
            cv2.LINE_AA,
        )
    return canvas


def plot_predictions(
    images: Sequence[np.ndarray],
    predictions: np.ndarray,
    labels: np.ndarray | None,
    out_dir: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    bodyparts: Sequence[str] | None = None,
    pcutoff: float = _DEFAULT.pcutoff,
    radius: int = 4,
    colormap: str = "jet",
) -> list[Path]:
    """Draw predictions and labels on frames (:func:`draw_predictions`), save PNGs.

    Parameters
    ----------
    images
        RGB ``uint8`` frames.
    predictions
        ``(N, K, 3)``.
    labels
        ``(N, K, 2)`` or ``None``.
    out_dir
        Folder for the PNG files (created).
    names
        File names (default ``frame_00000.png`` …); path separators are replaced.
    bodyparts
        Names for the legend.
    pcutoff
        Likelihood threshold for filled circles.
    radius
        Marker radius in pixels.
    colormap
        Colour map of the bodyparts (:func:`bodypart_colors`; pass the project's
        ``display.colormap`` to match its other pictures).

    Returns
    -------
    list of pathlib.Path
        The written files.

    Raises
    ------
    ValueError
        If there are not as many images as predictions.
    """
    predictions = np.asarray(predictions, np.float64)
    if len(images) != len(predictions):
        raise ValueError(f"{len(images)} images for {len(predictions)} predictions")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    colors = bodypart_colors(predictions.shape[1], colormap)
    paths = []
    for i, image in enumerate(images):
        canvas = draw_predictions(
            image,
            predictions[i],
            None if labels is None else labels[i],
            colors=colors,
            bodyparts=bodyparts,
            pcutoff=pcutoff,
            radius=radius,
        )
        name = names[i] if names is not None else f"frame_{i:05d}.png"
        name = str(name).replace("/", "_").replace("\\", "_")
        if not name.lower().endswith(".png"):
            name = f"{Path(name).stem}.png"
        ok, data = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover - cv2 failure
            raise RuntimeError(f"could not encode {name}")
        paths.append(atomic_write_bytes(out_dir / name, data.tobytes()))
    return paths
