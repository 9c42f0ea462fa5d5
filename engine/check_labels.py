"""Draw the human labels on their frames, as DeepLabCut's ``check_labels`` does.

For every ``labeled-data/<video>/`` with a ``CollectedData_<scorer>.h5``, each labelled
frame is written with its points (bodypart colours from the config's ``colormap``,
``dotsize``, ``alphavalue``) and the skeleton (``skeleton``, ``skeleton_color``) to
``labeled-data/<video>_labeled/<image name>``. Look through them to catch swapped or
misplaced labels before training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from . import logger
from ._fileio import atomic_path

__all__ = [
    "bodypart_colors",
    "parse_color",
    "draw_labels",
    "labeled_dir",
    "check_labels",
]

_NAMED = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "lime": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "orange": (255, 165, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "purple": (128, 0, 128),
    "pink": (255, 192, 203),
    "brown": (165, 42, 42),
}


def parse_color(
    color: str | Sequence[float], default=(0, 0, 0)
) -> tuple[int, int, int]:
    """A colour name, ``#rrggbb`` or RGB triple (0–255, or 0–1 floats) → RGB ints.

    Unknown values give ``default`` (with a log message), so a typo in
    ``config.yaml`` does not stop plotting.

    Examples
    --------
    >>> parse_color("black"), parse_color("#ff8000"), parse_color((1.0, 0.5, 0.0))
    ((0, 0, 0), (255, 128, 0), (255, 128, 0))
    """
    if isinstance(color, str):
        c = color.strip().lower()
        if c in _NAMED:
            return _NAMED[c]
        if c.startswith("#") and len(c) == 7:
            try:
                return tuple(int(c[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
            except ValueError:
                pass
    elif len(color) == 3:
        vals = [float(v) for v in color]
        if all(0 <= v <= 1 for v in vals):
            vals = [v * 255 for v in vals]
        return tuple(int(round(min(max(v, 0), 255))) for v in vals)  # type: ignore[return-value]
    logger.info("unknown colour %r; using %r", color, default)
    return tuple(default)  # type: ignore[return-value]


def bodypart_colors(n: int, colormap: str = "rainbow") -> np.ndarray:
    """``n`` distinct colours sampled evenly from a colour map.

    Parameters
    ----------
    n
        Number of bodyparts.
    colormap
        The config's ``colormap`` (matplotlib names DeepLabCut uses, e.g.
        ``rainbow``, ``jet``, ``viridis``, ``plasma``; drawn with OpenCV's maps of
        the same name). Unknown names fall back to an HSV wheel.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` ``uint8`` RGB.

    Examples
    --------
    >>> bodypart_colors(3, "jet").shape
    (3, 3)
    """
    if n <= 0:
        return np.zeros((0, 3), np.uint8)
    name = str(colormap or "rainbow").strip().lower()
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


def draw_labels(
    image: np.ndarray,
    coords: np.ndarray,
    colors: np.ndarray,
    *,
    dotsize: float = 8,
    alpha: float = 0.7,
    skeleton: Sequence[tuple[int, int]] = (),
    skeleton_color: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Draw points and skeleton on a copy of an RGB image.

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
        Edges as pairs of bodypart indices; drawn when both ends are labelled.
    skeleton_color
        RGB of the skeleton lines.

    Returns
    -------
    numpy.ndarray
        The drawn image, same shape as ``image`` (3 channels).
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    img = np.ascontiguousarray(img[..., :3], dtype=np.uint8)
    coords = np.asarray(coords, float)
    shift = 4
    f = 1 << shift

    def pt(p: np.ndarray) -> tuple[int, int]:
        return int(round(p[0] * f)), int(round(p[1] * f))

    thick = max(1, int(round(min(img.shape[:2]) / 300)))
    lines = img.copy()
    for a, b in skeleton:
        if np.all(np.isfinite(coords[[a, b]])):
            cv2.line(
                lines,
                pt(coords[a]),
                pt(coords[b]),
                tuple(int(c) for c in skeleton_color),
                thick,
                cv2.LINE_AA,
                shift,
            )
    img = lines
    dots = img.copy()
    r = max(1.0, float(dotsize) / 2)
    for j, p in enumerate(coords):
        if not np.all(np.isfinite(p)):
            continue
        cv2.circle(
            dots,
            pt(p),
            int(round(r * f)),
            tuple(int(c) for c in colors[j]),
            -1,
            cv2.LINE_AA,
            shift,
        )
    out = cv2.addWeighted(dots, float(alpha), img, 1 - float(alpha), 0)
    for _j, p in enumerate(coords):  # crisp outline so light markers stay visible
        if np.all(np.isfinite(p)):
            cv2.circle(out, pt(p), int(round(r * f)), (0, 0, 0), 1, cv2.LINE_AA, shift)
    return out


def labeled_dir(project, video: str | os.PathLike) -> Path:
    """``labeled-data/<video stem>_labeled/`` (DeepLabCut's check_labels folder)."""
    stem = Path(video).stem
    return project.path / "labeled-data" / f"{stem}_labeled"


def check_labels(
    project,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    draw_skeleton: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write every labelled frame with its labels drawn on it (DLC's ``check_labels``).

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project` (single-animal).
    videos
        Video paths or stems (default: every ``labeled-data/`` folder with labels).
    draw_skeleton
        Draw the config's ``skeleton`` edges.
    progress
        Optional ``progress(done, total)``.

    Returns
    -------
    list of Path
        The written images, ``labeled-data/<video>_labeled/<image>``, sorted by video
        and frame. Frames whose image is missing are skipped with a log warning.

    Raises
    ------
    posekit.engine.io.dlc.LabelError
        If a label file cannot be read or labels bodyparts the config does not list.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> [p.parent.name for p in check_labels(project)]
    ['session1_labeled', 'session1_labeled']
    """
    from .labels import LabelStore

    stems = (
        [Path(v).stem for v in videos]
        if videos is not None
        else [s for s in project.labeled_videos() if project.labels_path(s).exists()]
    )
    bodyparts = project.bodyparts
    colors = bodypart_colors(len(bodyparts), str(project.get("colormap", "rainbow")))
    dotsize = float(project.get("dotsize", 12) or 12)
    alpha = float(project.get("alphavalue", 0.7) or 0.7)
    skel_color = parse_color(project.get("skeleton_color", "black") or "black")
    edges = []
    if draw_skeleton:
        for a, b in project.skeleton:
            if a in bodyparts and b in bodyparts:
                edges.append((bodyparts.index(a), bodyparts.index(b)))
            else:
                logger.warning("skeleton edge %s-%s names an unknown bodypart", a, b)
    jobs: list[tuple[LabelStore, str]] = []
    for stem in stems:
        store = LabelStore(project, stem, autosave=False)
        jobs.extend((store, f) for f in store.labelled_frames())
    written: list[Path] = []
    for k, (store, frame) in enumerate(jobs):
        src = store.image_path(frame)
        image = cv2.imread(str(src), cv2.IMREAD_COLOR) if src.is_file() else None
        if image is None:
            logger.warning("check_labels: image %s is missing; skipped", src)
        else:
            drawn = draw_labels(
                cv2.cvtColor(image, cv2.COLOR_BGR2RGB),
                store.get(frame),
                colors,
                dotsize=dotsize,
                alpha=alpha,
                skeleton=edges,
                skeleton_color=skel_color,
            )
            out = labeled_dir(project, store.video) / src.name
            out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(out) as tmp:
                if not cv2.imwrite(str(tmp), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"could not write {out}")
            written.append(out)
        if progress is not None:
            progress(k + 1, len(jobs))
    logger.info("check_labels: wrote %d images", len(written))
    return written
