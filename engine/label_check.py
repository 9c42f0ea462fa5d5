"""Draw the human labels on their frames, as DeepLabCut's ``check_labels`` does.

For every ``labeled-data/<video>/`` with a ``CollectedData_<scorer>.h5``, each labelled
frame is written with its points (bodypart colours from the config's ``colormap``,
``dotsize``, ``alphavalue``) and the skeleton (``skeleton``, ``skeleton_color``) to
``labeled-data/<video>_labeled/<image name>``, drawn by
:func:`posekit.engine.drawing.draw_labels` with the project's ``display`` settings. In
a multi-animal project each animal has one colour and its own skeleton, as in
DeepLabCut's default (``visualizeindividuals=True``).
Look through them to catch swapped or misplaced labels before training.

Labels that cannot be checked are an error, not an empty result: no label file of the
config's scorer, a label file that does not validate
(:func:`posekit.engine.io.dlc.validate_labels`: bodyparts the config does not list,
duplicated frames), no labelled point at all, or no image of a labelled frame. A
missing image of some labelled frames is skipped with a warning (the labels are kept;
extract the frame again to see them). A ``.csv`` that disagrees with its ``.h5`` is
reported (:func:`posekit.engine.labels.read_label_file`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import logger
from ._fileio import atomic_path
from .drawing import bodypart_colors, draw_labels
from .io.dlc import LabelError, validate_labels
from .project import video_folder_name

__all__ = [
    "labeled_dir",
    "check_labels",
    "written_summary",
    "OtherScorerLabels",
    "other_scorer_labels",
    "other_scorer_advice",
]

#: With ``progress=None``, a progress bar is shown from this many frames on.
PROGRESS_FROM_FRAMES = 200


def labeled_dir(project, video: str | os.PathLike) -> Path:
    """``labeled-data/<video stem>_labeled/`` (DeepLabCut's check_labels folder)."""
    stem = video_folder_name(video)
    return project.path / "labeled-data" / f"{stem}_labeled"


def check_labels(
    project,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    draw_skeleton: bool = True,
    progress: bool | Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write every labelled frame with its labels drawn on it (DLC's ``check_labels``).

    Parameters
    ----------
    project
        A :class:`posekit.engine.project.Project`, its folder or its ``config.yaml``
        (DeepLabCut's ``check_labels(config)``); single- or multi-animal: each
        animal in one colour, as DeepLabCut draws them.
    videos
        Video paths or stems (default: every ``labeled-data/`` folder with labels).
    draw_skeleton
        Draw the config's ``skeleton`` edges.
    progress
        ``progress(done, total)`` after each frame, ``True`` for a progress bar,
        ``False`` for none; ``None`` (default): a bar from
        :data:`PROGRESS_FROM_FRAMES` frames on (1850 frames take a minute or two).

    Returns
    -------
    list of Path
        The written images, ``labeled-data/<video>_labeled/<image>``, sorted by video
        and frame. Frames whose image is missing are skipped with a log warning.

    Raises
    ------
    posekit.engine.io.dlc.LabelError
        If there is no label file of the config's scorer (the message names label
        files of other scorers it found), a label file cannot be read or does not
        validate (the message lists every problem), no frame has a labelled
        point, or no labelled frame has its image.
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
    from .project import as_project

    project = as_project(project)
    stems = (
        [video_folder_name(v) for v in videos]
        if videos is not None
        else [s for s in project.labeled_videos() if project.has_labels(s)]
    )
    if not stems:
        raise LabelError(_no_labels_message(project))
    for stem in stems:
        _validate(project, stem)
    display = project.display
    if draw_skeleton:
        for a, b in display.skeleton:
            if a not in project.bodyparts or b not in project.bodyparts:
                logger.warning("skeleton edge %s-%s names an unknown bodypart", a, b)
    jobs: list[tuple[LabelStore, str]] = []
    for stem in stems:
        store = LabelStore(project, stem, autosave=False)
        jobs.extend((store, f) for f in store.labelled_frames())
    if not jobs:
        raise LabelError(
            f"The label files of {stems} hold no labelled point: nothing to check. "
            "Label some frames first (the labelling app)."
        )
    stores = {id(store): store for store, _ in jobs}  # one style per video
    styles = {k: _style(store, display, draw_skeleton) for k, store in stores.items()}
    written: list[Path] = []
    report, finish = _progress(progress, len(jobs))
    try:
        for k, (store, frame) in enumerate(jobs):
            _check_one(project, store, frame, styles[id(store)], display, written)
            report(k + 1, len(jobs))
    finally:
        finish()
    if not written:
        raise LabelError(
            f"None of the {len(jobs)} labelled frames of {stems} has its image (e.g. "
            f"{jobs[0][0].image_path(jobs[0][1])}): extract the frames again (the frame "
            "picker, posekit extract-frames) or restore labeled-data/."
        )
    logger.info("check_labels: wrote %d images", len(written))
    return written


def _check_one(project, store, frame: str, style, display, written: list[Path]) -> None:
    """Draw one labelled frame into ``<video>_labeled/`` (or warn: no image)."""
    src = store.image_path(frame)
    image = cv2.imread(str(src), cv2.IMREAD_COLOR) if src.is_file() else None
    if image is None:
        logger.warning("check_labels: image %s is missing; skipped", src)
        return
    drawn = draw_labels(
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB),
        store.get(frame),
        style[0],
        dotsize=display.dotsize,
        alpha=display.alphavalue,
        skeleton=style[1],
        skeleton_color=display.skeleton_color,
    )
    out = labeled_dir(project, store.video) / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {out}")
    written.append(out)


def _progress(
    progress: bool | Callable[[int, int], None] | None, total: int
) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Return ``(report, finish)``: a user callback, a progress bar, or nothing."""
    if callable(progress):
        return progress, lambda: None
    if progress is False or (progress is None and total < PROGRESS_FROM_FRAMES):
        return (lambda done, total: None), lambda: None
    from ._progress import progress_bar

    bar = progress_bar(total, desc="check_labels", unit="frame")

    def report(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return report, bar.close


def written_summary(paths: Sequence[Path], *, shown: int = 3) -> str:
    """Say in one short line how many images were written, and where.

    Parameters
    ----------
    paths
        What :func:`check_labels` returned.
    shown
        Folders named at most (the rest are counted).

    Returns
    -------
    str
        E.g. ``"1850 images written to 31 folders in /p/labeled-data:
        long1h_labeled, sess01_labeled, sess02_labeled and 28 more"``.

    Examples
    --------
    >>> written_summary([Path("/p/labeled-data/a_labeled/img1.png")])
    '1 images written to /p/labeled-data/a_labeled'
    """
    folders = sorted({Path(p).parent for p in paths})
    if len(folders) <= 1:
        where = str(folders[0]) if folders else "no folder"
        return f"{len(paths)} images written to {where}"
    parents = {f.parent for f in folders}
    names = (
        [f.name for f in folders] if len(parents) == 1 else [str(f) for f in folders]
    )
    listed = ", ".join(names[:shown])
    if len(names) > shown:
        listed += f" and {len(names) - shown} more"
    root = f" in {next(iter(parents))}" if len(parents) == 1 else ""
    return f"{len(paths)} images written to {len(folders)} folders{root}: {listed}"


def _style(
    store, display, draw_skeleton: bool
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Colours and skeleton edges of a label store's points.

    A single-animal store's points are the bodyparts, coloured by bodypart. A
    multi-animal store's points are ``<individual>/<bodypart>``: each animal gets one
    colour, as DeepLabCut's ``check_labels`` draws them by default
    (``visualizeindividuals=True``), and the skeleton joins an animal's own points.
    """
    points = list(store.bodyparts)
    if hasattr(store, "individuals"):  # MultiAnimalLabelStore
        from .multianimal.labels import split_slot

        slots = [split_slot(name) for name in points]
        animals = list(dict.fromkeys(animal for animal, _ in slots))
        palette = bodypart_colors(len(animals), display.colormap)
        colors = np.array([palette[animals.index(animal)] for animal, _ in slots])
        index = {slot: j for j, slot in enumerate(slots)}
        edges = [
            (index[(animal, u)], index[(animal, v)])
            for animal in animals
            for u, v in display.skeleton
            if (animal, u) in index and (animal, v) in index
        ]
    else:
        colors = bodypart_colors(len(points), display.colormap)
        edges = [
            (points.index(u), points.index(v))
            for u, v in display.skeleton
            if u in points and v in points
        ]
    return colors, edges if draw_skeleton else []


def _validate(project, stem: str) -> None:
    """Read (the ``.h5``, else the ``.csv``) and validate one video's labels."""
    from .labels import read_label_file

    h5 = project.labels_path(stem)
    try:
        label_file = read_label_file(h5)
    except FileNotFoundError:
        raise LabelError(
            f"No label file {h5.name} (nor .csv) in {h5.parent}: label the frames of "
            f"{stem} first, or leave the video out."
        ) from None
    try:
        validate_labels(label_file.frame, project.bodyparts, check_images=False)
    except LabelError as err:
        raise LabelError(f"{label_file.path}: {err}") from err


def _no_labels_message(project) -> str:
    """Say that no label file was found, and name those of other scorers."""
    text = (
        f"No labels to check: no labeled-data/<video>/CollectedData_{project.scorer}"
        f".h5 (or .csv) in {project.path} (the scorer in config.yaml is "
        f"{project.scorer!r})."
    )
    others = other_scorer_labels(project, count_frames=False)
    if others:
        files = [str(o.path.relative_to(project.path)) for o in others]
        shown = ", ".join(files[:3]) + (" …" if len(files) > 3 else "")
        text += (
            f" Found label files of another scorer: {shown}; set scorer in "
            "config.yaml to theirs to use them."
        )
    else:
        text += " Label some frames first (the labelling app)."
    return text


@dataclass(frozen=True)
class OtherScorerLabels:
    """A video's label file of a scorer other than config.yaml's.

    DeepLabCut (and posekit) read only ``CollectedData_<scorer>`` of the config's
    ``scorer``; a label file of another scorer (labelled with another config, or
    by a student whose config names another scorer) is ignored.

    Attributes
    ----------
    video
        The video stem (``labeled-data/<video>/``).
    scorer
        The file's scorer (from its name ``CollectedData_<scorer>``).
    path
        The ``.h5`` (else its ``.csv``).
    frames
        Its labelled frames (``labeled-data/<video>/<image>``, a row with a point);
        ``None`` when they were not counted or the file cannot be read.
    """

    video: str
    scorer: str
    path: Path
    frames: tuple[str, ...] | None = None

    def describe(self, project) -> str:
        """``labeled-data/v/CollectedData_bob.h5 (scorer 'bob', 60 labelled frames)``."""
        where = self.path.relative_to(project.path).as_posix()
        if self.frames is None:
            return f"{where} (scorer {self.scorer!r})"
        return f"{where} (scorer {self.scorer!r}, {len(self.frames)} labelled frames)"


def other_scorer_labels(
    project, stems: Sequence[str] | None = None, *, count_frames: bool = True
) -> list[OtherScorerLabels]:
    """Find the label files of scorers other than config.yaml's ``scorer``.

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    stems
        Video stems whose ``labeled-data/<video>/`` to look in (default: all).
    count_frames
        Read each file for its labelled frames (:attr:`OtherScorerLabels.frames`).

    Returns
    -------
    list of OtherScorerLabels
        One per video and scorer (the ``.h5``, else the ``.csv``), sorted.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> other_scorer_labels(project)
    []
    """
    from .io.dlc import index_to_paths, read_labels

    root = project.path / "labeled-data"
    if stems is None:
        stems = project.labeled_videos()
    own = f"CollectedData_{project.scorer}"
    found = []
    for stem in stems:
        by_stem: dict[str, Path] = {}
        for p in sorted((root / stem).glob("CollectedData_*")):
            if p.suffix not in (".h5", ".csv") or p.stem == own or not p.is_file():
                continue
            if p.stem not in by_stem or p.suffix == ".h5":  # the .h5 first
                by_stem[p.stem] = p
        for name, path in sorted(by_stem.items()):
            frames = None
            if count_frames:
                try:
                    df = read_labels(path)
                    rows = df.notna().any(axis=1).to_numpy()
                    frames = tuple(
                        p
                        for p, r in zip(index_to_paths(df.index), rows, strict=True)
                        if r
                    )
                except Exception as err:  # noqa: BLE001 - unreadable: named only
                    logger.info("could not read %s: %s", path, err)
            scorer = name[len("CollectedData_") :]
            found.append(OtherScorerLabels(stem, scorer, path, frames))
    return found


def other_scorer_advice(project, found: Sequence[OtherScorerLabels]) -> str:
    """Name other scorers' label files and say how to use them (``""``: none).

    Parameters
    ----------
    project
        An open :class:`posekit.engine.project.Project`.
    found
        What :func:`other_scorer_labels` found.

    Returns
    -------
    str
        One sentence: the files, that only ``CollectedData_<scorer>`` of
        config.yaml's scorer is read, and to set ``scorer`` to theirs to use them.
    """
    if not found:
        return ""
    shown = ", ".join(o.describe(project) for o in found[:3])
    if len(found) > 3:
        shown += f" and {len(found) - 3} more"
    scorers = list(dict.fromkeys(o.scorer for o in found))
    theirs = " or ".join(repr(s) for s in scorers)
    return (
        f"Label files of another scorer are not used: {shown}. posekit, as "
        f"DeepLabCut, reads only CollectedData_{project.scorer} (scorer: "
        f"{project.scorer} in config.yaml); to use theirs, set scorer in config.yaml "
        f"to {theirs}."
    )
