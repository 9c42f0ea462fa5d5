"""Build a DeepLabCut/posekit project from labels and images of another tool.

Used by the SLEAP, COCO and Lightning Pose importers. The empty points of the imported
frames (parts the other tool's labeller left hidden) are marked not visible, so those
frames count as labelled. The project is built in a temporary
folder beside the target and moved into place at the end, so that an error at any
step leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from .._fileio import atomic_write_text
from ..labels import mark_missing_not_visible
from ..project import Project, create_project, load_project
from .dlc import index_to_paths, write_labels

__all__ = ["build_project"]

logger = logging.getLogger("posekit.io")


def _check_target(project_dir: Path) -> None:
    if project_dir.exists() and (
        not project_dir.is_dir() or any(project_dir.iterdir())
    ):
        raise FileExistsError(
            f"{project_dir} exists and is not an empty folder; choose a new project "
            "folder"
        )


def _comment_keys(config: Path, notes: Mapping[str, str]) -> None:
    """Put each note as ``#`` lines right above its top-level key in ``config.yaml``.

    Comments above a key stay when posekit (:meth:`Project.save`) or DeepLabCut's
    round-trip YAML rewrite other keys.
    """
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    for key, note in notes.items():
        at = next(
            (i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None
        )
        if at is None:
            raise ValueError(f"config.yaml has no key {key!r} to comment")
        lines[at:at] = [f"# {line}\n" for line in textwrap.wrap(note, width=86)]
    atomic_write_text(config, "".join(lines))


def build_project(
    project_dir: str | os.PathLike,
    *,
    task: str,
    labels: pd.DataFrame,
    sources: Sequence[Path],
    bodyparts: Sequence[str],
    skeleton: Sequence[Sequence[str]] = (),
    individuals: Sequence[str] | None = None,
    copy_image: Callable[[Path, Path], None] | None = None,
    notes: Mapping[str, str] | None = None,
) -> Project:
    """Create a project holding ``labels`` and their images.

    Parameters
    ----------
    project_dir
        The new project folder (absent or empty).
    task
        The project's ``Task``.
    labels
        DLC labels; rows ``labeled-data/<video>/<image>``; the scorer becomes the
        project's ``scorer``.
    sources
        The image file of each row (same order).
    bodyparts, skeleton
        Keypoint names and edges (pairs of names).
    individuals
        For multi-animal labels: the individuals (then ``multianimalbodyparts``
        are ``bodyparts``).
    copy_image
        ``copy_image(src, dst)``; default a plain file copy.
    notes
        ``{config key: text}``: each text is written as comment lines above that
        key of ``config.yaml`` (e.g. why ``identity`` is what it is).

    Returns
    -------
    Project
        The opened project.

    Raises
    ------
    FileExistsError
        If ``project_dir`` holds files already.
    """
    project_dir = Path(project_dir).expanduser().resolve()
    _check_target(project_dir)
    rows = index_to_paths(labels.index)
    if len(rows) != len(sources):
        raise ValueError(f"{len(rows)} label rows for {len(sources)} images")
    scorer = str(labels.columns.get_level_values("scorer")[0])
    extra = {}
    if individuals is not None:
        extra = {
            "multianimalproject": True,
            "individuals": [str(i) for i in individuals],
            "multianimalbodyparts": [str(b) for b in bodyparts],
            "uniquebodyparts": [],
        }
    project_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".posekit-import-", dir=project_dir.parent))
    try:
        project = create_project(
            task,
            scorer,
            working_directory=tmp,
            bodyparts=bodyparts,
            skeleton=skeleton,
            **extra,
        )
        if individuals is not None:
            project.cfg["bodyparts"] = "MULTI!"
            project.save()
        for row, src in zip(rows, sources, strict=True):
            dst = project.path / row
            dst.parent.mkdir(parents=True, exist_ok=True)
            (copy_image or shutil.copy2)(Path(src), dst)
        videos = list(dict.fromkeys(r.split("/")[1] for r in rows))
        for video in videos:
            mine = [i for i, r in enumerate(rows) if r.split("/")[1] == video]
            write_labels(
                labels.iloc[mine],
                project.path / "labeled-data" / video / f"CollectedData_{scorer}.h5",
            )
            # the other tool's labeller left hidden parts empty: they are done
            mark_missing_not_visible(project, video)
        if notes:  # last: the saves above patch the file as they last wrote it
            _comment_keys(project.config_path, notes)
        if project_dir.exists():
            project_dir.rmdir()
        os.replace(project.path, project_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    project = load_project(project_dir)
    project.save()
    logger.info(
        "created project %s: %d labelled images in %d folder(s)",
        project_dir,
        len(rows),
        len(videos),
    )
    return project
