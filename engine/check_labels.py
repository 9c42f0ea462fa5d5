"""Draw the human labels on their frames, as DeepLabCut's ``check_labels`` does.

For every ``labeled-data/<video>/`` with a ``CollectedData_<scorer>.h5``, each labelled
frame is written with its points (bodypart colours from the config's ``colormap``,
``dotsize``, ``alphavalue``) and the skeleton (``skeleton``, ``skeleton_color``) to
``labeled-data/<video>_labeled/<image name>``, drawn by
:func:`posekit.engine.drawing.draw_labels` with the project's ``display`` settings.
Look through them to catch swapped or misplaced labels before training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2

from . import logger
from ._fileio import atomic_path
from .drawing import bodypart_colors, draw_labels

__all__ = [
    "labeled_dir",
    "check_labels",
]


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
    posekit.engine.project.ProjectError
        If the config's plotting settings (:attr:`Project.display`) are invalid.

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
    display = project.display
    colors = bodypart_colors(len(bodyparts), display.colormap)
    edges = []
    if draw_skeleton:
        for a, b in display.skeleton:
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
                dotsize=display.dotsize,
                alpha=display.alphavalue,
                skeleton=edges,
                skeleton_color=display.skeleton_color,
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
