"""State and logic of the click-to-label canvas, without any widget.

:class:`LabelerModel` holds everything the labeller knows: the video and frame shown,
the selected bodypart, the points (through a
:class:`posekit.engine.labels.LabelStore`, saved to DeepLabCut's
``CollectedData_<scorer>.h5``/``.csv`` after every change), "not visible" marks,
undo/redo, merge warnings, keyboard actions, and the protocol that turns the points
data a browser sends back into label edits. It imports neither Bokeh nor ipywidgets;
:class:`posekit.widgets.labeler.Labeler` draws it, and tests drive it directly.

A view learns of changes through :meth:`LabelerModel.on` (events ``"videos"``,
``"frames"``, ``"frame"``, ``"points"``, ``"status"``, ``"message"``).

How browser edits come back (see ``shared/docs/frontend-notes.md``): Bokeh's
``PointDrawTool`` edits the points in the browser and the whole points table comes
back, twice per change, and every table Python sends is echoed back too. To make that
safe, each table the model publishes (:attr:`LabelerModel.points_table`) carries an
invisible anchor row (``x = y = NaN``, bodypart ``ANCHOR + version``); the model
remembers which frame and points each version showed. An incoming table
(:meth:`LabelerModel.receive_points`) is compared with the version it was derived
from, so only the user's own edit is applied, to the frame it was made on: new rows
(bodypart ``"?"``, a click) get the selected bodypart, changed rows are drags, missing
rows are deletions. Duplicates and echoes change nothing.

Coordinates are image pixels with pixel centres at integers (as DeepLabCut's
matplotlib GUI and napari): the image spans ``-0.5 .. W - 0.5``, ``y`` points down.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..engine.io.dlc import LabelError
from ..engine.labels import LabelStore, PointChange, SyncReport, list_frames
from ..engine.project import Project, load_project

__all__ = ["ANCHOR", "EVENTS", "SHORTCUTS", "LabelerModel", "key_action"]

logger = logging.getLogger("posekit.widgets.labeler")

#: Prefix of the bodypart name of the invisible version row in the points table.
ANCHOR = "__posekit_state_"

#: Keyboard shortcuts: action -> keys (``KeyboardEvent.key`` names; ``Ctrl+`` also
#: accepts the Mac ``Cmd`` key).
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "next frame": ("ArrowRight", "n"),
    "previous frame": ("ArrowLeft", "p"),
    "next bodypart": ("ArrowDown", "."),
    "previous bodypart": ("ArrowUp", ","),
    "delete point": ("Delete", "x"),
    "not visible": ("v",),
    "undo": ("Ctrl+z", "z"),
    "redo": ("Ctrl+y", "Ctrl+Shift+z", "y"),
    "reset zoom": ("r",),
    "label / pan mode": ("m",),
}

#: What a view can listen to (:meth:`LabelerModel.on`):
#: ``videos`` (the video list or the current video), ``frames`` (the frame list),
#: ``frame`` (another frame is current), ``points`` (a new :attr:`points_table`),
#: ``status`` (selection or marks), ``message`` (a new :attr:`message`).
EVENTS = ("videos", "frames", "frame", "points", "status", "message")


def key_action(event: Mapping[str, Any]) -> str | None:
    """Find the :data:`SHORTCUTS` action of a browser ``keydown`` event.

    Letters are case-insensitive; ``metaKey`` (Mac ``Cmd``) counts as ``Ctrl``.

    Examples
    --------
    >>> key_action({"type": "keydown", "key": "N"})
    'next frame'
    >>> key_action({"type": "keydown", "key": "z", "metaKey": True, "shiftKey": True})
    'redo'
    >>> key_action({"type": "keyup", "key": "n"}) is None
    True
    """
    if event.get("type") != "keydown":
        return None
    key = str(event.get("key", ""))
    ctrl = bool(event.get("ctrlKey") or event.get("metaKey"))
    shift = bool(event.get("shiftKey"))
    name = key if len(key) != 1 else key.lower()
    if ctrl:
        name = "Ctrl+" + ("Shift+" if shift else "") + name
    return next((a for a, ks in SHORTCUTS.items() if name in ks), None)


def _locked(method):
    """Serialise a model method under the model's lock.

    Browser events arrive on the kernel's main thread, while a frame-extraction thread
    may call :meth:`LabelerModel.refresh_frames`.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class LabelerModel:
    """Labelling state and logic of a project's extracted frames (no widgets).

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    video
        Video stem (a folder of ``labeled-data/``) to start with (default: the first).

    Attributes
    ----------
    project : Project
        The project.
    bodyparts : list of str
        Its bodyparts, in config order.
    store : LabelStore or None
        The labels of the current video (``None`` when the video has no frames or its
        labels cannot be opened).
    selected : str
        The bodypart the next click places.
    not_visible : set of (str, str)
        ``(frame, bodypart)`` marked "not visible" this session (saved as NaN, as
        DeepLabCut does; skipped when choosing the next bodypart).
    known_videos : list of str
        The videos offered (from the last scan, plus any opened since).
    points_table : dict
        The points of the current frame as published to the view: columns ``x``,
        ``y``, ``bodypart``, ending with the invisible anchor row.
    skeleton_table : dict
        The skeleton edges with both ends labelled: ``x0, y0, x1, y1``.
    message, message_level : str
        The last message for the user (``""``: none) and its level (``info``,
        ``warning`` or ``error``).
    frame_changed : list of callable
        Called with the frame path after every frame switch.
    lock : threading.RLock
        Held by every method that changes the state.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=2)
    >>> model = LabelerModel(project)
    >>> model.select("neck"); model.place(12.0, 34.0)
    >>> model.store.point(model.frame, "neck")
    (12.0, 34.0)
    """

    def __init__(
        self, project: Project | str | os.PathLike, video: str | None = None
    ) -> None:
        self.project = (
            project if isinstance(project, Project) else load_project(project)
        )
        self.bodyparts = list(self.project.bodyparts)
        self.store: LabelStore | None = None
        self.not_visible: set[tuple[str, str]] = set()
        self.selected = self.bodyparts[0] if self.bodyparts else ""
        self.known_videos: list[str] = []
        self.points_table: dict[str, Any] = {}
        self.skeleton_table: dict[str, list[float]] = {}
        self.message = ""
        self.message_level = "info"
        self.frame_changed: list[Callable[[str], None]] = []
        self.lock = threading.RLock()
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._index = 0
        self._version = 0
        self._sent: dict[int, tuple[str, dict[str, tuple[float, float]]]] = {}
        self._assigned: dict[tuple[int, float, float], str] = {}
        self._last_sig: Any = None
        self.known_videos = self.videos()
        start = (
            video
            if video in self.known_videos
            else (self.known_videos[0] if self.known_videos else None)
        )
        if start is not None:
            self.set_video(start)
        else:
            self._show_empty(
                "No extracted frames yet: pick frames for labelling first."
            )

    # ================================================================ events
    def on(self, event: str, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after ``event`` (one of :data:`EVENTS`)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; choose from {EVENTS}")
        self._listeners.setdefault(event, []).append(fn)

    def off(self, event: str, fn: Callable[[], None]) -> None:
        """Stop calling ``fn`` after ``event``."""
        with contextlib.suppress(ValueError):
            self._listeners.get(event, []).remove(fn)

    def _emit(self, event: str) -> None:
        for fn in list(self._listeners.get(event, [])):
            fn()

    def show_message(self, text: str, *, level: str = "info") -> None:
        """Set the message for the user (``info``, ``warning`` or ``error``)."""
        self.message, self.message_level = text, level
        self._emit("message")

    # ================================================================ videos
    def videos(self) -> list[str]:
        """Video stems whose ``labeled-data/`` folder has frames or labels.

        The folder of one of the project's videos is offered even when empty (pick
        frames for it); an empty folder of no known video (a leftover) is not.
        """
        known = {v.stem for v in self.project.videos()}
        out = []
        for stem in self.project.labeled_videos():
            folder = self.project.labeled_data_dir(stem)
            if (
                stem in known
                or list_frames(self.project, stem)
                or any(folder.glob("CollectedData_*"))
            ):
                out.append(stem)
        return out

    @property
    def video(self) -> str | None:
        """The current video (``None`` when none could be opened)."""
        return self.store.video if self.store is not None else None

    @_locked
    def set_video(self, video: str) -> None:
        """Switch to the frames of another video (``labeled-data/<video>/``)."""
        if self.store is not None:
            self.store.listeners.clear()
        self.store = None
        self.not_visible.clear()
        self._assigned.clear()
        try:
            store = LabelStore(self.project, video)
        except LabelError as err:
            self._show_empty("")
            self.show_message(str(err), level="error")
            return
        store.listeners.append(self._on_store_report)
        self.store = store
        if store.video not in self.known_videos:
            self.known_videos = [*self.known_videos, store.video]
        self._emit("videos")
        # a .csv that disagrees with its .h5: say which file the labels come from
        self.show_message(store.note, level="warning" if store.note else "info")
        if not store.frames:
            self._show_empty(
                f"No frames in labeled-data/{store.video}/ yet: pick frames first."
            )
            return
        self._emit("frames")
        self.goto(0)

    @_locked
    def refresh_frames(self) -> None:
        """Re-scan videos and frames (after frames were extracted elsewhere)."""
        self.known_videos = self.videos()
        self._emit("videos")
        if self.store is None:
            if self.known_videos:
                self.set_video(self.known_videos[0])
            return
        current = self.frame if self.store.frames else None
        self.store.refresh_frames()
        self._emit("frames")
        if not self.store.frames:
            return
        frames = self.store.frames
        self.goto(frames.index(current) if current in frames else 0)

    def _on_store_report(self, report: SyncReport) -> None:
        self.show_message(report.message, level="error" if report.error else "warning")

    def _show_empty(self, text: str) -> None:
        self._index = 0
        self._emit("frames")
        self._emit("frame")
        self.render()
        if text:
            self.show_message(text, level="info")

    # ================================================================ frames
    @property
    def frames(self) -> list[str]:
        """Frames of the current video (``labeled-data/<video>/<image>``)."""
        return self.store.frames if self.store is not None else []

    @property
    def frame_index(self) -> int:
        """Position of the current frame in :attr:`frames`."""
        return self._index

    @property
    def frame(self) -> str:
        """The current frame (``labeled-data/<video>/<image>``; ``""`` when none)."""
        return self.frames[self._index] if self.frames else ""

    @_locked
    def goto(self, frame: int | str) -> None:
        """Show a frame, by position in :attr:`frames`, path or image name.

        Raises
        ------
        ValueError
            If ``frame`` names an image that is not a frame of the current video.
        """
        if self.store is None or not self.store.frames:
            return
        if isinstance(frame, str):
            name = self.store.frame_name(frame)
            if name not in self.store.frames:
                self.store.refresh_frames()
                self._emit("frames")
            if name not in self.store.frames:
                raise ValueError(f"{frame!r} is not a frame of {self.store.video}")
            index = self.store.frames.index(name)
        else:
            index = int(frame)
        index = min(max(index, 0), len(self.store.frames) - 1)
        name = self.store.frames[index]
        n_before = len(self.store.frames)
        self.store.sync()  # pull another labeller's changes (may add frames)
        if len(self.store.frames) != n_before:
            self._emit("frames")
        self._index = self.store.frames.index(name)
        self.selected = self._first_unlabelled(self.frame) or self.selected
        self._emit("frame")
        self.render()
        for cb in list(self.frame_changed):
            cb(self.frame)

    def find_frame(self, text: str) -> str:
        """Find a frame of the current video by its file name or number.

        Parameters
        ----------
        text
            An image name (``img0042.png``, ``img0042``), the number in it (``42``,
            the video frame it was extracted from) or a path
            (``labeled-data/<video>/img0042.png``). Case and spaces do not matter.

        Returns
        -------
        str
            The frame (``labeled-data/<video>/<image>``).

        Raises
        ------
        ValueError
            No frame of the current video has that name or number (the message
            names the first and last frames).

        Examples
        --------
        >>> import tempfile
        >>> from posekit.engine.demo import make_demo_project
        >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=30, n_labeled=3)
        >>> model = LabelerModel(project)
        >>> [f.rsplit("/", 1)[1] for f in model.frames]
        ['img00.png', 'img14.png', 'img29.png']
        >>> model.find_frame("14"), model.find_frame("IMG29")
        ('labeled-data/session1/img14.png', 'labeled-data/session1/img29.png')
        """
        frames = self.frames
        want = str(text).strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
        if not frames or not want:
            raise ValueError("Type a frame's file name (img0042.png) or number (42).")
        names = {f.rsplit("/", 1)[-1].lower(): f for f in frames}
        stems = {n.rsplit(".", 1)[0]: f for n, f in names.items()}
        found = names.get(want) or stems.get(want)
        if found is None and want.isdigit():
            numbers = {
                int(digits): f
                for stem, f in stems.items()
                if (digits := stem.lstrip("abcdefghijklmnopqrstuvwxyz_-")).isdigit()
            }
            found = numbers.get(int(want))
        if found is None:
            first, last = frames[0].rsplit("/", 1)[-1], frames[-1].rsplit("/", 1)[-1]
            raise ValueError(
                f"No frame {text!r} in {self.video}: its {len(frames)} frames go from "
                f"{first} to {last}."
            )
        return found

    @_locked
    def jump(self, text: str) -> str | None:
        """Go to the frame :meth:`find_frame` finds; say so when there is none.

        Returns
        -------
        str or None
            The frame shown, or ``None`` (the message says why).
        """
        try:
            frame = self.find_frame(text)
        except ValueError as err:
            self.show_message(str(err), level="warning")
            return None
        if self.message_level == "warning" and self.message.startswith("No frame "):
            self.show_message("")  # the last jump's complaint
        self.goto(frame)
        return frame

    def next_frame(self) -> None:
        """Go to the next frame."""
        if self.frames:
            self.goto(min(self._index + 1, len(self.frames) - 1))

    def previous_frame(self) -> None:
        """Go to the previous frame."""
        if self.frames:
            self.goto(max(self._index - 1, 0))

    # ================================================================ progress
    def point_state(self, bodypart: str) -> str:
        """``"labelled"``, ``"not visible"`` or ``""`` for a bodypart on this frame."""
        if self.store is None or not self.frame:
            return ""
        x, _ = self.store.point(self.frame, bodypart)
        if math.isfinite(x):
            return "labelled"
        return "not visible" if (self.frame, bodypart) in self.not_visible else ""

    def n_labelled_bodyparts(self) -> int:
        """How many bodyparts have a point on the current frame."""
        if self.store is None or not self.frame:
            return 0
        return int(np.sum(~np.isnan(self.store.get(self.frame)[:, 0])))

    def n_labelled_frames(self) -> int:
        """How many frames of the current video have at least one point."""
        return len(self.store.labelled_frames()) if self.store is not None else 0

    @property
    def can_undo(self) -> bool:
        """Whether there is a change to undo."""
        return self.store is not None and self.store.can_undo

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone change to redo."""
        return self.store is not None and self.store.can_redo

    # ================================================================ points
    def render(self) -> None:
        """Publish the current frame's points (a new version) and skeleton."""
        frame = self.frame
        arr = (
            self.store.get(frame)
            if self.store is not None and frame
            else np.full((len(self.bodyparts), 2), np.nan)
        )
        xs, ys, names = [], [], []
        shown: dict[str, tuple[float, float]] = {}
        for j, bp in enumerate(self.bodyparts):
            x, y = float(arr[j, 0]), float(arr[j, 1])
            if math.isfinite(x) and math.isfinite(y):
                xs.append(x)
                ys.append(y)
                names.append(bp)
                shown[bp] = (x, y)
        self._version += 1
        xs.append(np.nan)
        ys.append(np.nan)
        names.append(f"{ANCHOR}{self._version}")
        self._sent[self._version] = (frame, shown)
        for old in [v for v in self._sent if v < self._version - 500]:
            del self._sent[old]
        self.points_table = {
            "x": np.asarray(xs, float),
            "y": np.asarray(ys, float),
            "bodypart": names,
        }
        x0, y0, x1, y1 = [], [], [], []
        for a, b in self.project.skeleton:
            if a in shown and b in shown:
                x0.append(shown[a][0])
                y0.append(shown[a][1])
                x1.append(shown[b][0])
                y1.append(shown[b][1])
        self.skeleton_table = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
        self._emit("points")

    @_locked
    def receive_points(self, data: Mapping[str, Any]) -> None:
        """Apply a points table the browser sent back (columns ``x, y, bodypart``).

        Duplicates and echoes of a published table change nothing; see the module
        docstring for how an edit is told apart.
        """
        try:
            xs = [float(v) for v in data["x"]]
            ys = [float(v) for v in data["y"]]
            names = [str(v) for v in data["bodypart"]]
        except (KeyError, TypeError, ValueError) as err:
            logger.warning("labeller: unexpected points data (%s)", err)
            return
        sig = (tuple(map(repr, xs)), tuple(map(repr, ys)), tuple(names))
        if sig == self._last_sig:  # jupyter_bokeh delivers each change twice
            return
        self._last_sig = sig
        try:
            self._apply_browser_points(xs, ys, names)
        except LabelError as err:
            self.show_message(str(err), level="error")

    def _apply_browser_points(
        self, xs: list[float], ys: list[float], names: list[str]
    ) -> None:
        if self.store is None:
            return
        version, rows = self._split_anchor(xs, ys, names)
        frame, base = self._sent.get(version, (self.frame, {}))
        if not frame:
            return
        changes, placed, n_added = self._edits(version, frame, base, rows)
        if not changes and not n_added:
            return  # an echo of what Python sent
        applied = self.store.apply(frame, changes) if changes else []
        for bp in placed:
            self.not_visible.discard((frame, bp))
        if placed and frame == self.frame:
            after = self._first_unlabelled(frame, after=placed[-1])
            if after is not None:
                self.selected = after
        if frame == self.frame and (applied or version == self._version):
            self.render()
        elif applied:
            self._emit("status")

    def _split_anchor(
        self, xs: list[float], ys: list[float], names: list[str]
    ) -> tuple[int, list[tuple[float, float, str]]]:
        """Split a browser table into the version it was derived from and its rows."""
        version = None
        rows = []
        for x, y, name in zip(xs, ys, names, strict=False):
            if name.startswith(ANCHOR):
                with contextlib.suppress(ValueError):
                    version = int(name[len(ANCHOR) :])
            else:
                rows.append((x, y, name))
        if version not in self._sent:
            version = self._version
        return version, rows

    def _edits(
        self,
        version: int,
        frame: str,
        base: dict[str, tuple[float, float]],
        rows: list[tuple[float, float, str]],
    ) -> tuple[dict[str, tuple[float, float]], list[str], int]:
        """Tell the user's edits from what version ``version`` showed on ``frame``.

        Returns
        -------
        changes : dict
            Bodypart -> new ``(x, y)`` (NaN: deleted in the browser).
        placed : list of str
            Bodyparts given to new clicks now (earlier duplicates reuse theirs).
        n_added : int
            How many new (``"?"``) rows the table had.
        """
        named: dict[str, tuple[float, float]] = {}
        added: list[tuple[float, float]] = []
        for x, y, name in rows:
            if name in self.bodyparts:
                named[name] = (x, y)
            elif math.isfinite(x) and math.isfinite(y):
                added.append((x, y))
        changes: dict[str, tuple[float, float]] = {
            bp: (math.nan, math.nan) for bp in base if bp not in named
        }
        changes.update({bp: xy for bp, xy in named.items() if base.get(bp) != xy})
        placed: list[str] = []
        for x, y in added:
            key = (version, round(x, 6), round(y, 6))
            bp = self._assigned.get(key)
            if bp is None:
                bp = self._target(frame, exclude=placed)
                if bp is None:
                    continue
                self._assigned[key] = bp
                placed.append(bp)
                if len(self._assigned) > 2000:
                    for k in list(self._assigned)[:1000]:
                        del self._assigned[k]
            changes[bp] = (x, y)
        return changes, placed, len(added)

    def _target(self, frame: str, exclude: list[str]) -> str | None:
        """Bodypart a click on ``frame`` places."""
        if frame == self.frame and not exclude:
            return self.selected or None
        after = exclude[-1] if exclude else None
        if frame == self.frame and after is not None:
            return self._first_unlabelled(frame, after=after, skip=exclude)
        return self._first_unlabelled(frame, skip=exclude)

    def _first_unlabelled(
        self, frame: str, *, after: str | None = None, skip: list[str] | None = None
    ) -> str | None:
        """Next bodypart without a point on ``frame`` (cyclic, from ``after``)."""
        if self.store is None or not self.bodyparts:
            return None
        arr = self.store.get(frame)
        k = len(self.bodyparts)
        start = self.bodyparts.index(after) + 1 if after in self.bodyparts else 0
        for n in range(k):
            j = (start + n) % k
            bp = self.bodyparts[j]
            if skip and bp in skip:
                continue
            if np.isnan(arr[j]).any() and (frame, bp) not in self.not_visible:
                return bp
        return None

    # ================================================================ editing
    def select(self, bodypart: str) -> None:
        """Select the bodypart the next click places.

        Raises
        ------
        ValueError
            If ``bodypart`` is not one of the project's bodyparts.
        """
        if bodypart not in self.bodyparts:
            raise ValueError(f"{bodypart!r} is not one of {self.bodyparts}")
        self.selected = bodypart
        self._emit("status")

    def select_next(self, step: int = 1) -> None:
        """Select the next (``step=-1``: previous) bodypart in config order."""
        if not self.bodyparts:
            return
        j = (
            self.bodyparts.index(self.selected)
            if self.selected in self.bodyparts
            else 0
        )
        self.select(self.bodyparts[(j + step) % len(self.bodyparts)])

    @_locked
    def place(self, x: float, y: float, bodypart: str | None = None) -> None:
        """Place ``bodypart`` (default: the selected one) at image pixel ``(x, y)``."""
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.selected
        self.store.set_point(self.frame, bp, x, y)
        self.not_visible.discard((self.frame, bp))
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self.render()

    @_locked
    def delete(self, bodypart: str | None = None) -> None:
        """Delete a point (default: the selected bodypart's) on the current frame."""
        if self.store is None or not self.frame:
            return
        self.store.clear_point(self.frame, bodypart or self.selected)
        self.render()

    @_locked
    def mark_not_visible(self, bodypart: str | None = None) -> None:
        """Mark a bodypart not visible on this frame (NaN) and select the next one."""
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.selected
        self.store.clear_point(self.frame, bp)
        self.not_visible.add((self.frame, bp))
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self.render()

    @_locked
    def undo(self) -> list[PointChange]:
        """Undo the last change (going to its frame); return what changed."""
        if self.store is None:
            return []
        return self._show_changes(self.store.undo())

    @_locked
    def redo(self) -> list[PointChange]:
        """Redo the last undone change (going to its frame); return what changed."""
        if self.store is None:
            return []
        return self._show_changes(self.store.redo())

    def _show_changes(self, changes: list[PointChange]) -> list[PointChange]:
        if not changes:
            self.show_message("Nothing to undo or redo.", level="info")
            return changes
        frame = changes[0].frame
        if frame != self.frame and frame in self.frames:
            self.goto(frame)
        else:
            self.render()
        return changes

    # ================================================================ keyboard
    @property
    def actions(self) -> dict[str, Callable[[], Any]]:
        """The model's :data:`SHORTCUTS` actions (the view adds zoom and pan)."""
        return {
            "next frame": self.next_frame,
            "previous frame": self.previous_frame,
            "next bodypart": lambda: self.select_next(1),
            "previous bodypart": lambda: self.select_next(-1),
            "delete point": self.delete,
            "not visible": self.mark_not_visible,
            "undo": self.undo,
            "redo": self.redo,
        }

    @_locked
    def handle_key(self, event: Mapping[str, Any]) -> str | None:
        """Run the model's action for a ``keydown`` event.

        Returns
        -------
        str or None
            The action's name (``None`` for other keys and for the view's own
            actions, zoom and pan).
        """
        action = key_action(event)
        run = self.actions.get(action) if action is not None else None
        if run is None:
            return None
        run()
        return action
