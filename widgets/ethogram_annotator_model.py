"""The ethogram annotator's model: one behaviour label per frame, and bouts marked on it.

Plain Python (no widget, no Bokeh): tests and scripts drive it directly, and
:class:`~posekit.widgets.ethogram_annotator.EthogramAnnotator` shows it as a timeline.

Every frame has one label, ``background`` (``"none"`` by default) where no bout was
marked; a new bout overwrites what was marked on its frames (one behaviour per frame,
what :class:`~posekit.engine.behavior.classify.BehaviorClassifier` learns from).
Predicted labels (a classifier's or motifs from clustering) are kept beside the marks
and get timeline rows of their own. Marks are saved to and loaded from CSV through
:mod:`posekit.engine.behavior.annotations`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine.behavior.annotations import read_labels, write_labels
from ..engine.behavior.ethogram import MISSING, labels_to_bouts

__all__ = ["EthogramAnnotatorModel", "PREDICTED_SUFFIX", "NO_BEHAVIOR_ROW", "ASPECTS"]

logger = logging.getLogger("posekit.widgets.ethogram_annotator_model")

#: Appended to a behaviour's name for its row of predictions on the timeline.
PREDICTED_SUFFIX = " (predicted)"
#: The only timeline row while no behaviour is known.
NO_BEHAVIOR_ROW = "(no behaviour)"

_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

#: What a change touched, as told to the listeners of :meth:`observe`.
ASPECTS = ("labels", "predictions", "behaviors", "behavior", "frame", "pending")


class EthogramAnnotatorModel:
    """Per-frame behaviour labels of one recording, marked bout by bout.

    Parameters
    ----------
    n_frames
        Length of the recording in frames.
    behaviors
        Behaviours offered (more can be added; labels loaded later add theirs).
    labels
        Initial per-frame labels (``background`` where unmarked).
    fps
        Frames per second (adds seconds to the bout table).
    background
        Label of unmarked frames.

    Raises
    ------
    ValueError
        If ``n_frames`` is not a positive integer or ``labels`` has another length.

    Examples
    --------
    >>> m = EthogramAnnotatorModel(10, ["rest", "walk"])
    >>> m.start_bout(2)
    2
    >>> m.end_bout(4, "walk")
    {'behavior': 'walk', 'start': 2, 'end': 4}
    >>> m.labels().tolist()[:6]
    ['none', 'none', 'walk', 'walk', 'walk', 'none']
    """

    def __init__(
        self,
        n_frames: int,
        behaviors: Sequence[str] = (),
        *,
        labels: Sequence[str] | np.ndarray | None = None,
        fps: float | None = None,
        background: str = "none",
    ) -> None:
        if int(n_frames) != n_frames or n_frames < 1:
            raise ValueError(
                f"n_frames must be a positive integer; received {n_frames!r}"
            )
        self.n_frames = int(n_frames)
        self.fps = float(fps) if fps else None
        self.background = str(background)
        self._behaviors: list[str] = []
        self._selected = ""
        for b in behaviors:
            self._add_behavior_name(str(b))
        self._labels = np.full(self.n_frames, self.background, dtype=object)
        self._predicted: np.ndarray | None = None
        self._pending: int | None = None
        self._frame = 0
        self._callbacks: list[Callable[[np.ndarray], None]] = []
        self._listeners: list[Callable[[frozenset[str]], None]] = []
        if labels is not None:
            self.set_labels(labels, notify=False)

    # ================================================================ callbacks
    @property
    def callbacks(self) -> list[Callable[[np.ndarray], None]]:
        """The change callbacks of :meth:`on_change` (the list itself: a view clears it)."""
        return self._callbacks

    def on_change(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call ``callback(labels)`` after every change of the marked labels."""
        self._callbacks.append(callback)

    def observe(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener(aspects)`` after every change of the state (for views).

        ``aspects`` names what changed (see :data:`ASPECTS`); listeners run before the
        change callbacks.
        """
        self._listeners.append(listener)

    def _emit(self, *aspects: str) -> None:
        changed = frozenset(aspects)
        for listener in list(self._listeners):
            listener(changed)

    def _labels_changed(self, *aspects: str, notify: bool = True) -> None:
        self._emit("labels", *aspects)
        if notify:
            labels = self.labels()
            for cb in list(self._callbacks):
                try:
                    cb(labels)
                except Exception:  # noqa: BLE001 - one bad callback must not stop marking
                    logger.exception("ethogram change callback failed")

    # ================================================================ cursor, choice
    @property
    def behaviors(self) -> list[str]:
        """Behaviours that can be marked (a copy)."""
        return list(self._behaviors)

    @property
    def frame(self) -> int:
        """The cursor frame (set: clipped to the recording)."""
        return self._frame

    @frame.setter
    def frame(self, value: int) -> None:
        value = min(max(int(value), 0), self.n_frames - 1)
        if value != self._frame:
            self._frame = value
            self._emit("frame")

    @property
    def behavior(self) -> str:
        """The behaviour the next bout gets (``""`` while none is known)."""
        return self._selected

    @behavior.setter
    def behavior(self, name: str) -> None:
        name = str(name)
        if name not in self._behaviors:
            raise ValueError(
                f"unknown behaviour {name!r}; add it first (known: {self._behaviors})"
            )
        self._selected = name
        self._emit("behavior")

    @property
    def pending_start(self) -> int | None:
        """Start frame of the bout being marked (after :meth:`start_bout`), else ``None``."""
        return self._pending

    def add_behavior(self, name: str) -> None:
        """Offer another behaviour.

        Raises
        ------
        ValueError
            If ``name`` is empty or the background label.
        """
        name = str(name).strip()
        if not name:
            raise ValueError("a behaviour needs a non-empty name")
        if name == self.background:
            raise ValueError(
                f"{name!r} is the label of unmarked frames; choose another name"
            )
        if name not in self._behaviors:
            self._add_behavior_name(name)
            self._emit("behaviors")

    def _add_behavior_name(self, name: str) -> bool:
        """Add ``name`` (not the background); the first one becomes the chosen one."""
        if not name or name == self.background or name in self._behaviors:
            return False
        self._behaviors.append(name)
        if not self._selected:
            self._selected = name
        return True

    # ================================================================ marks
    def labels(self) -> np.ndarray:
        """Return the per-frame labels (``background`` where nothing is marked), a copy."""
        return self._labels.astype(str)

    def annotated(self) -> np.ndarray:
        """Return the boolean mask of the frames inside a marked bout."""
        return self._labels != self.background

    def set_labels(
        self, labels: Sequence[str] | np.ndarray, *, notify: bool = True
    ) -> None:
        """Replace every mark by per-frame ``labels``.

        Raises
        ------
        ValueError
            If the length is not ``n_frames``.
        """
        arr = np.asarray(labels).astype(str).astype(object)
        if arr.shape != (self.n_frames,):
            raise ValueError(
                f"expected {self.n_frames} labels (one per frame); received shape "
                f"{arr.shape}"
            )
        for b in pd.unique(arr):
            self._add_behavior_name(str(b))
        self._labels = arr
        self._pending = None
        self._labels_changed("behaviors", "pending", notify=notify)

    def add_bout(self, behavior: str, start: int, end: int) -> dict[str, Any]:
        """Mark frames ``start..end`` (inclusive; either order) as ``behavior``.

        Returns
        -------
        dict
            The bout: ``behavior``, ``start``, ``end``.

        Raises
        ------
        ValueError
            If the frames are outside the recording or the behaviour is the
            background label.
        """
        behavior = str(behavior).strip()
        if not behavior or behavior == self.background:
            raise ValueError(
                f"choose a behaviour for the bout (not {self.background!r})"
            )
        s, e = sorted((int(start), int(end)))
        if s < 0 or e >= self.n_frames:
            raise ValueError(
                f"bout [{s}, {e}] lies outside frames 0..{self.n_frames - 1}"
            )
        added = self._add_behavior_name(behavior)
        self._labels[s : e + 1] = behavior
        self._labels_changed(*(("behaviors",) if added else ()))
        return {"behavior": behavior, "start": s, "end": e}

    def start_bout(self, frame: int | None = None) -> int:
        """Remember ``frame`` (default: the cursor) as the start of the next bout.

        Raises
        ------
        ValueError
            If the frame is outside the recording.
        """
        frame = self._frame if frame is None else int(frame)
        if not 0 <= frame < self.n_frames:
            raise ValueError(f"frame {frame} lies outside 0..{self.n_frames - 1}")
        self._pending = frame
        self._emit("pending")
        return frame

    def end_bout(
        self, frame: int | None = None, behavior: str | None = None
    ) -> dict[str, Any]:
        """Mark from the remembered start to ``frame`` (default: the cursor).

        The bout gets ``behavior`` (default: the chosen one, :attr:`behavior`).

        Raises
        ------
        ValueError
            If no bout was started or no behaviour is chosen.
        """
        if self._pending is None:
            raise ValueError("press 'Start bout' first (at the bout's first frame)")
        frame = self._frame if frame is None else int(frame)
        bout = self.add_bout(behavior or self._selected, self._pending, frame)
        self._pending = None
        self._emit("pending")
        return bout

    def bout_at(self, frame: int) -> dict[str, Any] | None:
        """Return the marked bout that contains ``frame`` (``None`` if unmarked)."""
        if not 0 <= int(frame) < self.n_frames:
            return None
        frame = int(frame)
        label = self._labels[frame]
        if label == self.background:
            return None
        s = frame
        while s > 0 and self._labels[s - 1] == label:
            s -= 1
        e = frame
        while e < self.n_frames - 1 and self._labels[e + 1] == label:
            e += 1
        return {"behavior": str(label), "start": s, "end": e}

    def delete_bout(self, frame: int | None = None) -> dict[str, Any] | None:
        """Clear the bout under ``frame`` (default: the cursor); return it."""
        bout = self.bout_at(self._frame if frame is None else int(frame))
        if bout is not None:
            self._labels[bout["start"] : bout["end"] + 1] = self.background
            self._labels_changed()
        return bout

    def clear(self) -> None:
        """Clear every mark."""
        self._labels[:] = self.background
        self._pending = None
        self._labels_changed("pending")

    def bouts(self) -> pd.DataFrame:
        """Return the marked bouts: ``behavior, start, end, duration`` (+ seconds)."""
        return labels_to_bouts(self.labels(), fps=self.fps, ignore=[self.background])

    # ================================================================ predictions
    def set_predictions(self, labels: Sequence[str] | np.ndarray | None) -> None:
        """Keep predicted per-frame labels beside the marks (``None`` drops them).

        Raises
        ------
        ValueError
            If the length is not ``n_frames``.
        """
        if labels is None:
            self._predicted = None
        else:
            arr = np.asarray(labels).astype(str)
            if arr.shape != (self.n_frames,):
                raise ValueError(
                    f"expected {self.n_frames} predicted labels; received {arr.shape}"
                )
            self._predicted = arr
        self._emit("predictions")

    @property
    def predictions(self) -> np.ndarray | None:
        """The predicted labels (``None`` if none), a copy."""
        return None if self._predicted is None else self._predicted.copy()

    # ================================================================ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the marks: ``frame, behavior`` per frame, or bouts for ``*_bouts.csv``.

        See :func:`~posekit.engine.behavior.annotations.write_labels`.

        Returns
        -------
        Path
            The written file.
        """
        return write_labels(
            self.labels(), path, fps=self.fps, background=self.background
        )

    def load(
        self, path: str | os.PathLike, *, individual: str | None = None
    ) -> np.ndarray:
        """Replace the marks by those of a labels CSV (per frame or bouts).

        See :func:`~posekit.engine.behavior.annotations.read_labels`.

        Parameters
        ----------
        path
            The CSV file.
        individual
            The animal whose rows to read, in a file with an ``individual`` column
            (BORIS: ``Subject``) naming several; ``None``: a file of one animal,
            whatever its name there.

        Returns
        -------
        numpy.ndarray
            The per-frame labels now marked.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ValueError
            If the columns are not recognised, the lengths do not match, the file
            holds several animals and ``individual`` is ``None`` (the message names
            them), or it has no rows of ``individual``.
        """
        self.set_labels(
            read_labels(
                path,
                self.n_frames,
                background=self.background,
                fps=self.fps,
                individual=individual,
            )
        )
        return self.labels()

    # ================================================================ timeline
    def rows(self) -> list[str]:
        """Return the timeline rows, top to bottom: behaviours, then predicted labels."""
        rows = list(self._behaviors)
        if self._predicted is not None:
            predicted = sorted(
                {str(b) for b in self._predicted} - {self.background, MISSING},
                key=lambda b: (b not in self._behaviors, self._behaviors.index(b)
                               if b in self._behaviors else 0, b),
            )  # fmt: skip
            rows += [b + PREDICTED_SUFFIX for b in predicted]
        return rows or [NO_BEHAVIOR_ROW]

    def colors(self) -> dict[str, str]:
        """Return a colour per behaviour (marked first, then only predicted ones)."""
        names = list(self._behaviors)
        if self._predicted is not None:
            names += [
                str(b)
                for b in pd.unique(self._predicted)
                if b not in (self.background, MISSING) and b not in names
            ]
        return {b: _PALETTE[i % len(_PALETTE)] for i, b in enumerate(names)}

    def bars(self, *, predicted: bool = False) -> dict[str, list]:
        """Return the timeline bars of the marks (or the predictions), one per bout.

        Columns: ``row, left, right`` (frame edges, ±0.5), ``start, end, behavior,
        color``.
        """
        if predicted:
            labels = (
                np.full(0, self.background)
                if self._predicted is None
                else self._predicted
            )
            suffix = PREDICTED_SUFFIX
        else:
            labels, suffix = self.labels(), ""
        bouts = labels_to_bouts(labels, ignore=[self.background])
        colors = self.colors()
        return {
            "row": [b + suffix for b in bouts["behavior"]],
            "left": (bouts["start"] - 0.5).astype(float).tolist(),
            "right": (bouts["end"] + 0.5).astype(float).tolist(),
            "start": bouts["start"].astype(int).tolist(),
            "end": bouts["end"].astype(int).tolist(),
            "behavior": bouts["behavior"].tolist(),
            "color": [colors.get(b, "#999999") for b in bouts["behavior"]],
        }

    def frames_between(
        self, x0: float | None, x1: float | None
    ) -> tuple[int, int] | None:
        """Return the frames whose centre lies between ``x0`` and ``x1`` (timeline units).

        At least the nearest frame; clipped to the recording; ``None`` if an end is
        not a finite number.
        """
        if x0 is None or x1 is None or not math.isfinite(x0) or not math.isfinite(x1):
            return None
        lo, hi = sorted((x0, x1))
        start, end = int(math.ceil(lo)), int(math.floor(hi))
        if end < start:
            start = end = int(round((lo + hi) / 2))
        last = self.n_frames - 1
        return min(max(start, 0), last), min(max(end, 0), last)
