"""State and steps of the refinement app, without any widget.

:class:`RefineModel` holds what ``notebooks/refine.ipynb`` does with a project: the
analysed videos (those with a predictions file), the outlier criteria and how many
frames to take, the per-frame scores of the chosen video (for the timeline), the
frames extracted, and the merge into the next iteration. Each step calls the engine
(:mod:`posekit.engine.refinement`); :class:`posekit.widgets.refine_app.RefineApp` draws
it and adds the labeller and the training dashboard.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..engine.multianimal.labels import SLOT_SEPARATOR
from ..engine.project import Project, as_project, video_folder_name
from ..engine.refinement import (
    CRITERIA,
    DEFAULT_CRITERIA,
    MergeResult,
    OutlierAdvice,
    OutlierFrames,
    extract_outlier_frames,
    find_prediction_file,
    merge_datasets,
)

__all__ = ["RefineModel"]

logger = logging.getLogger("posekit.widgets.refine")


class RefineModel:
    """Find outlier frames of an analysed video, extract them, merge the refined labels.

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    shuffle
        The shuffle whose predictions and model are used.

    Attributes
    ----------
    project : Project
        The project.
    videos : list of Path
        The project's videos that have predictions (analysed).
    video : Path or None
        The chosen one.
    criteria : list of str
        The criteria to combine (names of :data:`posekit.engine.refinement.CRITERIA`).
    bodyparts : list of str
        The bodyparts the criteria look at (default: all of the project's; the
        engine's ``comparisonbodyparts``).
    n : int
        Frames to extract (default: the config's ``numframes2pick``).
    algorithm : str
        ``"kmeans"``, ``"uniform"`` or ``"top"``.
    result : OutlierFrames or None
        The last scoring (``picked`` are the frames that would be, or were,
        extracted).
    extracted : bool
        Whether :attr:`result`'s frames were extracted.
    merged : MergeResult or None
        The last merge.
    message : str
        What the last step said.
    listeners : list of callable
        Called with no argument after every change.
    """

    def __init__(
        self, project: Project | str | os.PathLike, *, shuffle: int = 1
    ) -> None:
        self.project = as_project(project)
        self.shuffle = int(shuffle)
        self.criteria: list[str] = list(DEFAULT_CRITERIA)
        self.bodyparts: list[str] = list(self.project.bodyparts)
        self.n = int(self.project.get("numframes2pick", 20) or 20)
        self.algorithm = "kmeans"
        self.result: OutlierFrames | None = None
        self.extracted = False
        self.merged: MergeResult | None = None
        self.message = ""
        self.listeners: list[Callable[[], None]] = []
        self.videos: list[Path] = []
        self.video: Path | None = None
        self.refresh_videos()

    # ------------------------------------------------------------------ state
    def _changed(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        for fn in list(self.listeners):
            fn()

    def refresh_videos(self) -> list[Path]:
        """Find the analysed videos again (after an analysis); keep the choice."""
        found = []
        for video in self.project.source_videos():
            try:
                find_prediction_file(self.project, video, shuffle=self.shuffle)
            except FileNotFoundError:
                continue
            found.append(video)
        self.videos = found
        if self.video not in found:
            self.video = found[0] if found else None
        if not found:
            self.message = (
                "No analysed video yet: analyse one first (the Analyze app, or "
                "`posekit analyze PROJECT`), then come back."
            )
        self._changed()
        return found

    def predictions(self) -> Path | None:
        """Return the predictions file of the chosen video."""
        if self.video is None:
            return None
        return find_prediction_file(self.project, self.video, shuffle=self.shuffle)

    def choose(self, video: str | os.PathLike) -> None:
        """Choose the video to refine (a path or stem of one of :attr:`videos`).

        Raises
        ------
        ValueError
            If it is not an analysed video of the project.
        """
        stem = video_folder_name(video)
        match = [v for v in self.videos if v.stem == stem]
        if not match:
            raise ValueError(
                f"{video} is not an analysed video of this project; analysed: "
                f"{[v.name for v in self.videos]}"
            )
        self.video = match[0]
        self.result = None
        self.extracted = False
        self._changed("")

    def set_criteria(self, criteria: Sequence[str]) -> None:
        """Choose the criteria (names of :data:`~posekit.engine.refinement.CRITERIA`).

        Raises
        ------
        ValueError
            Unknown names, or none.
        """
        unknown = [c for c in criteria if c not in CRITERIA]
        if unknown or not criteria:
            raise ValueError(
                f"choose one or more criteria of {sorted(CRITERIA)}; received "
                f"{list(criteria)}"
            )
        self.criteria = list(criteria)

    def set_bodyparts(self, bodyparts: Sequence[str]) -> None:
        """Choose the bodyparts the criteria look at (of the project's).

        Raises
        ------
        ValueError
            Unknown names, or none.
        """
        unknown = [b for b in bodyparts if b not in self.project.bodyparts]
        if unknown or not bodyparts:
            raise ValueError(
                "Tick one or more bodyparts for the outlier criteria to look at; "
                f"the project's are {', '.join(self.project.bodyparts)}"
                + (f" (not {', '.join(unknown)})" if unknown else "")
                + "."
            )
        self.bodyparts = [b for b in self.project.bodyparts if b in bodyparts]

    # ------------------------------------------------------------------ steps
    def _run(self, dry_run: bool) -> OutlierFrames:
        if self.video is None:
            raise FileNotFoundError(self.message or "No analysed video.")
        every = set(self.bodyparts) >= set(self.project.bodyparts)
        (result,) = extract_outlier_frames(
            self.project,
            [self.video],
            shuffle=self.shuffle,
            criteria=self.criteria,
            comparisonbodyparts="all" if every else list(self.bodyparts),
            n=self.n,
            extractionalgorithm=self.algorithm,
            dry_run=dry_run,
        )
        return result

    def score(self) -> OutlierFrames:
        """Score every frame and choose the frames to extract (nothing written)."""
        self.result = self._run(dry_run=True)
        self.extracted = False
        r = self.result
        self._changed(
            f"{len(r.candidates)} of {len(r.scores.frames)} frames of "
            f"{self.video.name} are outliers ("
            + ", ".join(f"{c}: {len(r.scores.outliers(c))}" for c in r.scores.scores)
            + f"); {len(r.picked)} chosen."
            + "".join(f" {a}" for a in self.advice(r))
        )
        return r

    def advice(self, result: OutlierFrames | None = None) -> list[str]:
        """Say what to do when a criterion flags most frames, in the app's words.

        The engine's advice (:attr:`OutlierFrames.advice`) is written for Python and
        the command line (``comparisonbodyparts``); this names the app's controls:
        the *bodyparts* boxes, the criteria, the Train app.
        """
        r = result if result is not None else self.result
        if r is None:
            return []
        return [_in_app_words(a) for a in r.explained]

    def extract(self) -> OutlierFrames:
        """Extract the chosen frames and write their machine labels."""
        self.result = self._run(dry_run=False)
        self.extracted = True
        r = self.result
        where = f"labeled-data/{self.video.stem}/" if r.images else ""
        self._changed(
            f"Extracted {len(r.images)} frame(s) into {where} with the network's "
            "guesses (machinelabels): correct them in the labeller."
            if r.images
            else "No new outlier frame to extract (frames extracted before are left "
            "out)."
        )
        return r

    def extracted_frames(self) -> list[str]:
        """``labeled-data/<video>/<image>`` of the frames extracted by :meth:`extract`."""
        if not self.extracted or self.result is None:
            return []
        return [f"labeled-data/{self.video.stem}/{p.name}" for p in self.result.images]

    def merge(self) -> MergeResult:
        """Merge the refined frames and start the next iteration (:func:`merge_datasets`)."""
        self.merged = merge_datasets(self.project, shuffles=[self.shuffle])
        self._changed(
            self.merged.summary().replace("\n", "; ")
            + ". Train now: the network starts from the previous iteration's model."
        )
        return self.merged

    def timeline(self) -> dict[str, np.ndarray]:
        """Per-frame scores for a plot: ``frame``, ``combined`` and each criterion.

        Scores are divided by their thresholds (1 = the line above which a frame is
        an outlier).
        """
        if self.result is None:
            return {"frame": np.zeros(0, int), "combined": np.zeros(0)}
        s = self.result.scores
        out = {"frame": s.frames, "combined": s.combined}
        out.update(s.normalized)
        return out


def _part_name(name: str) -> str:
    """``mouse1/snout`` → ``snout`` (the name the bodypart boxes show)."""
    return str(name).rpartition(SLOT_SEPARATOR)[2]


def _in_app_words(a: OutlierAdvice) -> str:
    """One :class:`~posekit.engine.refinement.OutlierAdvice` in the app's words."""
    parts = ", ".join(f"{b} ({100 * r:.0f} %)" for b, r in a.rare.items())
    boxes = ", ".join(dict.fromkeys(_part_name(b) for b in a.rare))
    share = f"{100 * a.flagged:.0f} %"
    if a.criterion == "tta":
        return (
            f"'tta' flags {share} of the frames it compared, because of bodyparts "
            f"below the p-cutoff ({a.pcutoff:g}) in most frames: {parts}. Without "
            f"them it would flag {100 * (a.without or 0.0):.0f} %: untick {boxes} "
            "under bodyparts and press Find outliers again."
        )
    if not a.keep:
        return (
            f"'uncertain' flags {share} of the frames: every bodypart is below the "
            f"p-cutoff ({a.pcutoff:g}) in most frames ({parts}). The network has not "
            "learned this video yet: train it longer in the Train app (or on more "
            "labelled frames), analyse the video again in the Analyze app, then come "
            "back; meanwhile untick uncertain to look for the other outliers."
        )
    text = (
        f"'uncertain' flags {share} of the frames: some bodyparts are below the "
        f"p-cutoff ({a.pcutoff:g}) in most frames: {parts}."
    )
    if a.unsure_everywhere:
        text += (
            " The network is still unsure almost everywhere: train it longer in "
            "the Train app, analyse the video again, then come back (or untick "
            "uncertain)."
        )
    novelty = " (tick novelty to find frames unlike the training frames)"
    return text + (
        f" If those parts are often out of sight, untick {boxes} under bodyparts "
        "and press Find outliers again; if the network has not learned them yet, "
        f"label a few frames that show them{novelty if a.novelty else ''}."
    )
