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

Model-assisted labelling: frames with predictions (``machinelabels-iter<N>.h5`` written
by :func:`posekit.engine.refinement.extract_outlier_frames` or ``posekit label
--from-predictions``, or a predictor run on the fly, :meth:`LabelerModel.use_predictor`)
open pre-filled with *machine points*, drawn apart (hollow, coloured by likelihood)
until the user accepts them (:meth:`LabelerModel.accept_frame`), moves one (it becomes a
label where it was dropped) or deletes one (dismissed; remembered beside the labels).

Labelling at scale: "not visible" marks are saved in
``labeled-data/<video>/.posekit/visibility.json`` (DeepLabCut's files keep NaN) and a
frame is *done* when every bodypart is placed or marked not visible
(:meth:`LabelerModel.frame_done`, :meth:`LabelerModel.project_progress`); the model
opens on the first frame with work left, jumps to the next unlabelled frame or video,
nudges the point just placed, dragged or tapped with the arrow keys (1 px, Shift 10
px), copies the previous frame's points and remembers the marker size and opacity in
``config.yaml``.

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
A label always lies on its image: a click, drag, nudge or copy that would put a point
beyond the centres of the edge pixels (``0 .. W - 1``) puts it on the edge, and
accepting a frame leaves unlabelled the bodyparts whose guess lies off the image
(:meth:`LabelerModel.accept_frame`), so that merging never meets a point outside its
image.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.io.dlc import LabelError
from ..engine.label_check import other_scorer_advice, other_scorer_labels
from ..engine.labels import (
    LabelStore,
    PointChange,
    SyncReport,
    labelling_progress,
    list_frames,
    read_visibility,
    update_visibility,
)
from ..engine.project import Project, as_project
from ..engine.refinement import read_machine_labels
from .labeler_multianimal import MULTIANIMAL_SHORTCUTS, MultiAnimalLabelling

__all__ = [
    "ANCHOR",
    "EVENTS",
    "GUESS_EDGE_TOLERANCE",
    "LIKELIHOOD_CLASSES",
    "MULTIANIMAL_ACTIONS",
    "NUDGE_KEYS",
    "SHORTCUTS",
    "LabelerModel",
    "key_action",
    "names_that_fit",
]

logger = logging.getLogger("posekit.widgets.labeler")

#: Font size (screen px) of the names beside the points (the view's ``LabelSet``).
NAME_FONT_PX = 11


def names_that_fit(
    xs: Sequence[float],
    ys: Sequence[float],
    names: Sequence[str],
    scale: float = 1.0,
    *,
    font_px: float = NAME_FONT_PX,
) -> list[str]:
    """Choose the names to write beside the points: those overlapping none before.

    A name is drawn right of its point, in a box about ``0.6 × font_px`` per
    letter wide and ``font_px + 4`` high (screen pixels); on a small animal the
    six names of the demo overlapped into an unreadable clump (QA s17 #7). The
    points are taken in order (labels before the network's guesses), and a name
    whose box overlaps one already kept is left out (``""``); the colours of the
    points are those of the bodypart buttons, and a tapped point is named in the
    status line.

    Parameters
    ----------
    xs, ys
        The points, in image pixels (NaN: no point, no name).
    names
        Their names.
    scale
        Screen pixels per image pixel.
    font_px
        Font size of the names.

    Returns
    -------
    list of str
        The name of each point, or ``""``.

    Examples
    --------
    >>> names_that_fit([10, 12, 10], [10, 11, 40], ["snout", "leftear", "tail"])
    ['snout', '', 'tail']
    """
    height = font_px + 4.0
    kept: list[tuple[float, float, float]] = []  # left, top, width (screen px)
    out = []
    for x, y, name in zip(xs, ys, names, strict=True):
        x, y, name = float(x), float(y), str(name)
        if not (math.isfinite(x) and math.isfinite(y)) or not name:
            out.append("")
            continue
        left, top = x * scale, y * scale
        width = 0.6 * font_px * len(name) + 6.0
        if any(
            left < kl + kw and kl < left + width and abs(top - kt) < height
            for kl, kt, kw in kept
        ):
            out.append("")
            continue
        kept.append((left, top, width))
        out.append(name)
    return out


#: Prefix of the bodypart name of the invisible version row in the points table.
ANCHOR = "__posekit_state_"

#: Keyboard shortcuts: action -> keys (``KeyboardEvent.key`` names; ``Ctrl+`` also
#: accepts the Mac ``Cmd`` key).
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "next frame": ("ArrowRight", "n"),
    "previous frame": ("ArrowLeft", "p"),
    "next bodypart": ("ArrowDown", "."),
    "previous bodypart": ("ArrowUp", ","),
    "next unlabelled frame": ("u",),
    "next video": ("]",),
    "previous video": ("[",),
    "place point": ("k", "Enter"),
    "delete point": ("Delete", "x", "Backspace"),
    "not visible": ("v",),
    "accept frame": ("a",),
    "copy previous frame": ("c",),
    "low-likelihood filter": ("l",),
    "release point": ("Escape",),
    "undo": ("Ctrl+z", "z"),
    "redo": ("Ctrl+y", "Ctrl+Shift+z", "y"),
    "zoom in": ("+", "="),
    "zoom out": ("-",),
    "reset zoom": ("r",),
    "label / pan mode": ("m",),
    **MULTIANIMAL_SHORTCUTS,  # several animals (labeler_multianimal.py)
}

#: Actions of :data:`SHORTCUTS` that only multi-animal projects have (a single-animal
#: labeller neither lists nor catches their keys).
MULTIANIMAL_ACTIONS = frozenset(MULTIANIMAL_SHORTCUTS)

#: Arrow keys nudge the active point (the one just placed, dragged or tapped) by
#: ``(dx, dy)`` image pixels, ten times as far with Shift; without an active point
#: they are the :data:`SHORTCUTS` above.
NUDGE_KEYS: dict[str, tuple[int, int]] = {
    "ArrowLeft": (-1, 0),
    "ArrowRight": (1, 0),
    "ArrowUp": (0, -1),
    "ArrowDown": (0, 1),
}

#: How a machine point's outline is coloured: ``(class, lower likelihood bound)``;
#: ``"p-low"`` is below the project's p-cutoff.
LIKELIHOOD_CLASSES = (("p-high", 0.95), ("p-mid", None), ("p-low", None))

#: How far (image pixels) beyond the centres of the edge pixels a network's guess may
#: lie and still be accepted (moved onto the edge): half a pixel, the border of the
#: image as drawn (it spans ``-0.5 .. W - 0.5``). A guess farther out is not on the
#: image the user sees, so it is not accepted (QA s19 #2).
GUESS_EDGE_TOLERANCE = 0.5

#: What a view can listen to (:meth:`LabelerModel.on`):
#: ``videos`` (the video list or the current video), ``frames`` (the frame list),
#: ``frame`` (another frame is current), ``points`` (a new :attr:`points_table`),
#: ``status`` (selection or marks), ``message`` (a new :attr:`message`).
EVENTS = ("videos", "frames", "frame", "points", "status", "message")


def _iteration_number(name: str) -> int:
    """``iteration-3`` → 3 (``-1``: not an iteration folder)."""
    try:
        return int(name.rsplit("-", 1)[-1])
    except ValueError:
        return -1


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


@dataclass(frozen=True, eq=False)
class _Edit:
    """One undoable edit of the model: the store's point changes and the marks.

    ``changes`` is the list :meth:`LabelStore.apply` returned (the same object its
    undo stack holds; ``None``: the edit changed marks only); ``add`` and ``remove``
    are the ``(frame, bodypart)`` "not visible" marks it set and cleared.
    """

    changes: list[PointChange] | None
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[tuple[str, str], ...] = ()


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


class LabelerModel(MultiAnimalLabelling):
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
        self,
        project: Project | str | os.PathLike,
        video: str | None = None,
        *,
        shuffle: int = 1,
    ) -> None:
        self.project = as_project(project)
        #: The shuffle whose test frames are marked (:meth:`test_frame_label`).
        self.shuffle = int(shuffle)
        self._test_cache: tuple[Any, frozenset[str]] | None = None
        self._test_warned: set[str] = set()
        self.bodyparts = self._initial_bodyparts()  # multi-animal: one per animal
        self.store: LabelStore | None = None
        self.not_visible: set[tuple[str, str]] = set()
        self.selected = self.bodyparts[0] if self.bodyparts else ""
        self.known_videos: list[str] = []
        self.points_table: dict[str, Any] = {}
        self.skeleton_table: dict[str, list[float]] = {}
        #: Screen pixels per image pixel of the view (which names fit:
        #: :func:`names_that_fit`).
        self.name_scale = 1.0
        self.message = ""
        self.message_level = "info"
        self.frame_changed: list[Callable[[str], None]] = []
        self.lock = threading.RLock()
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._index = 0
        self._version = 0
        self._shown_version = 0
        self._sent: dict[int, tuple[str, dict[str, tuple[float, float]], dict]] = {}
        self._assigned: dict[tuple[int, float, float], str] = {}
        self._last_sig: Any = None
        #: Undoable edits (oldest first) and undone ones: point changes and the "not
        #: visible" marks they set or cleared undo together (one step).
        self._history: list[_Edit] = []
        self._future: list[_Edit] = []
        #: ``(W, H)`` of the frame's image when a view knows it (keyboard placement
        #: starts at its centre); read from the image file otherwise.
        self.image_size: tuple[int, int] | None = None
        #: ``(W, H)`` of each frame's image, read once (:meth:`frame_size`).
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._init_assisted()
        self.known_videos = self.videos()
        start = video if video in self.known_videos else self._first_video_with_work()
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
        self._sizes.clear()
        self._assigned.clear()
        self._history.clear()
        self._future.clear()
        self.active = None
        try:
            store = LabelStore(self.project, video)
        except LabelError as err:
            self._show_empty("")
            self.show_message(str(err), level="error")
            return
        store.listeners.append(self._on_store_report)
        self.store = store
        self._multianimal_store_opened(store)
        self._load_video_extras()
        if store.video not in self.known_videos:
            self.known_videos = [*self.known_videos, store.video]
        self._emit("videos")
        # a .csv that disagrees with its .h5: say which file the labels come from;
        # label files of another scorer are not shown: say so (QA s25 #7)
        others = other_scorer_advice(
            self.project, other_scorer_labels(self.project, [store.video])
        )
        if others:
            others += " Then open the Label app again."
        note = " ".join(t for t in (store.note, others) if t)
        self.show_message(note, level="warning" if note else "info")
        if not store.frames:
            self._show_empty(
                f"No frames in labeled-data/{store.video}/ yet: pick frames first."
            )
            return
        self._emit("frames")
        self.goto(self.first_frame_with_work())

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
        self._sizes.clear()  # frames extracted again may have another size
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
        self._read_marks()  # and their "not visible" marks (QA s25 #8)
        if len(self.store.frames) != n_before:
            self._emit("frames")
        if name != self.frame:
            self.active = None
        self._index = self.store.frames.index(name)
        self._predict_if_needed(name)
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
            An image name (``img0042.png``, ``img0042``: as the project names them,
            :attr:`jump_hint`), the number in it (``42``, the video frame it was
            extracted from) or a path
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
            raise ValueError(f"Type a frame's file name or number ({self.jump_hint}).")
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

    @property
    def jump_hint(self) -> str:
        """An example of what the *Go to* box takes, from this video's frames.

        ``"img042.png or 42"``: a frame's name as the project has it (DeepLabCut
        pads the number to the digits of the video's frame count) and its number;
        ``"img0042.png or 42"`` without frames.

        Examples
        --------
        >>> import tempfile
        >>> from posekit.engine.demo import make_demo_project
        >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=300, n_labeled=3)
        >>> LabelerModel(project).jump_hint
        'img150.png or 150'
        """
        frames = self.frames
        if not frames:
            return "img0042.png or 42"
        name = frames[len(frames) // 2].rsplit("/", 1)[-1]
        digits = name.rsplit(".", 1)[0].lstrip("abcdefghijklmnopqrstuvwxyz_-")
        if not digits.isdigit():
            return name
        return f"{name} or {int(digits)}"

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
        return self.store is not None and (bool(self._history) or self.store.can_undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone change to redo."""
        return self.store is not None and (bool(self._future) or self.store.can_redo)

    # ================================================================ points
    def render(self) -> None:
        """Publish the current frame's points (a new version) and skeleton."""
        self.points_table, self.skeleton_table = self.tables_for(self.frame)
        self._shown_version = self._version
        self._emit("points")

    def tables_for(self, frame: str) -> tuple[dict[str, Any], dict[str, list]]:
        """Build the points and skeleton tables of a frame (a new version).

        The points table has columns ``x``, ``y``, ``bodypart``, ``fill`` (the
        bodypart for a label, ``"machine"`` for a hollow machine point), ``edge``
        (``"label"``, or the machine point's likelihood class of
        :data:`LIKELIHOOD_CLASSES`) and ``name`` (the name written beside the
        point, ``""`` where it would overlap another: :func:`names_that_fit` at
        :attr:`name_scale`), and ends with the anchor row. A view may send the
        tables of a neighbouring frame ahead (prefetch); an edit made on them is
        applied to that frame.
        """
        arr = (
            self.store.get(frame)
            if self.store is not None and frame
            else np.full((len(self.bodyparts), 2), np.nan)
        )
        xs, ys, names, fill, edge = [], [], [], [], []
        shown: dict[str, tuple[float, float]] = {}
        for j, bp in enumerate(self.bodyparts):
            x, y = float(arr[j, 0]), float(arr[j, 1])
            if math.isfinite(x) and math.isfinite(y):
                xs.append(x)
                ys.append(y)
                names.append(bp)
                fill.append(bp)
                edge.append("label")
                shown[bp] = (x, y)
        machine: dict[str, tuple[float, float]] = {}
        for bp, (x, y, p) in self.machine_points(frame).items():
            xs.append(x)
            ys.append(y)
            names.append(bp)
            fill.append("machine")
            edge.append(self.likelihood_class(p))
            machine[bp] = (x, y)
        self._version += 1
        xs.append(np.nan)
        ys.append(np.nan)
        names.append(f"{ANCHOR}{self._version}")
        fill.append("machine")
        edge.append("label")
        self._sent[self._version] = (frame, shown, machine)
        for old in [v for v in self._sent if v < self._version - 500]:
            del self._sent[old]
        points = {
            "x": np.asarray(xs, float),
            "y": np.asarray(ys, float),
            "bodypart": names,
            "fill": fill,
            "edge": edge,
            "name": names_that_fit(xs, ys, names, self.name_scale),
        }
        x0, y0, x1, y1 = [], [], [], []
        for a, b in self._skeleton_pairs():  # within each animal
            if a in shown and b in shown:
                x0.append(shown[a][0])
                y0.append(shown[a][1])
                x1.append(shown[b][0])
                y1.append(shown[b][1])
        return points, {"x0": x0, "y0": y0, "x1": x1, "y1": y1}

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
        frame, base, base_machine = self._sent.get(version, (self.frame, {}, {}))
        if not frame:
            return
        rows, machine_rows = self._split_machine_rows(base, base_machine, rows)
        changes, placed, n_added = self._edits(version, frame, base, rows)
        moved, dismissed = self._machine_edits(base_machine, machine_rows)
        if not changes and not n_added and not moved and not dismissed:
            return  # an echo of what Python sent
        changes.update(moved)
        set_points = [bp for bp, xy in changes.items() if math.isfinite(xy[0])]
        applied = (
            self._edit(frame, changes, remove=[(frame, bp) for bp in set_points])
            if changes
            else []
        )
        self._after_browser_edit(frame, changes, placed, moved, dismissed)
        if placed and frame == self.frame:
            after = self._first_unlabelled(frame, after=placed[-1])
            if after is not None:
                self.selected = after
        if frame == self.frame and (
            applied or dismissed or version == self._shown_version
        ):
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
            version = self._shown_version
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
        self._edit(self.frame, {bp: (x, y)}, remove=[(self.frame, bp)])
        self.active = bp
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self.render()

    @_locked
    def delete(self, bodypart: str | None = None) -> None:
        """Delete a point on the current frame.

        Default: the active point (just placed, dragged, nudged or tapped: "Delete
        right after a click removes that point"), else the selected bodypart's. A
        machine point is dismissed.
        """
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.active_point() or self.selected
        unlabelled = not math.isfinite(self.store.point(self.frame, bp)[0])
        if unlabelled and bp in self.machine_points(self.frame):
            self.dismiss(bp)
            return
        self._edit(self.frame, {bp: (math.nan, math.nan)})
        if bp == self.active:
            self.active = None
        self.render()

    @_locked
    def mark_not_visible(self, bodypart: str | None = None) -> None:
        """Mark a bodypart not visible on this frame (NaN) and select the next one.

        One undoable edit: undo brings the point and the unmarked state back. On a
        bodypart already marked (and without a point) it clears the mark instead.
        """
        if self.store is None or not self.frame:
            return
        bp = bodypart or self.selected
        mark = (self.frame, bp)
        if mark in self.not_visible and not math.isfinite(
            self.store.point(self.frame, bp)[0]
        ):
            self._edit(self.frame, {}, remove=[mark])
            self.selected = bp
            self.show_message(f"{bp} is no longer marked not visible on this frame.")
            self.render()
            return
        self._edit(self.frame, {bp: (math.nan, math.nan)}, add=[mark])
        if bp == self.active:
            self.active = None
        nxt = self._first_unlabelled(self.frame, after=bp)
        if nxt is not None:
            self.selected = nxt
        self.render()

    @_locked
    def undo(self) -> list[PointChange]:
        """Undo the last change (going to its frame); return what changed."""
        if self.store is None:
            return []
        self.active = None
        if not self._history:  # edits made on the store itself
            return self._show_changes(self.store.undo())
        edit = self._history.pop()
        changes = self.store.undo() if edit.changes else []
        self._set_marks(edit.remove, edit.add)
        self._future.append(edit)
        return self._show_changes(changes, edit)

    @_locked
    def redo(self) -> list[PointChange]:
        """Redo the last undone change (going to its frame); return what changed."""
        if self.store is None:
            return []
        self.active = None
        if not self._future:
            return self._show_changes(self.store.redo())
        edit = self._future.pop()
        changes = self.store.redo() if edit.changes else []
        self._set_marks(edit.add, edit.remove)
        self._history.append(edit)
        return self._show_changes(changes, edit)

    def _show_changes(
        self, changes: list[PointChange], edit: _Edit | None = None
    ) -> list[PointChange]:
        marks = [*edit.add, *edit.remove] if edit is not None else []
        if not changes and not marks:
            self.show_message("Nothing to undo or redo.", level="info")
            return changes
        if self.message == "Nothing to undo or redo.":
            self.show_message("")
        frame = changes[0].frame if changes else marks[0][0]
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
            "next unlabelled frame": self.next_unlabelled,
            "next video": lambda: self.next_video(1),
            "previous video": lambda: self.next_video(-1),
            "place point": self.place_by_keyboard,
            "delete point": self.delete,
            "not visible": self.mark_not_visible,
            "accept frame": self.accept_frame,
            "copy previous frame": self.copy_previous,
            "low-likelihood filter": lambda: self.set_low_likelihood_filter(
                not self.low_likelihood_only
            ),
            "release point": self.release,
            "undo": self.undo,
            "redo": self.redo,
            **self.multianimal_actions,
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
        nudged = self._nudge_key(event)
        if nudged is not None:
            return nudged
        action = key_action(event)
        run = self.actions.get(action) if action is not None else None
        if run is None:
            return None
        run()
        return action

    # ============================================================ model-assisted
    # Machine points (predictions) shown until accepted, moved or deleted.

    def _init_assisted(self) -> None:
        """State of model-assisted labelling and labelling at scale."""
        #: ``labeled-data/<video>/<image>`` → ``(n_bodyparts, 3)`` predictions of the
        #: current video's frames (machine labels, or the predictor's).
        self.machine: dict[str, np.ndarray] = {}
        #: ``(frame, bodypart)`` machine points the user deleted (not shown again).
        self.dismissed: set[tuple[str, str]] = set()
        #: Show only machine points below the p-cutoff.
        self.low_likelihood_only = False
        #: The point the arrow keys nudge and Delete removes: the one just placed,
        #: dragged, nudged or tapped on the current frame (``None``: arrows navigate).
        self.active: str | None = None
        #: Frames (RGB list) → ``(N, K, 3)``, for frames without machine labels.
        self.predictor: Callable[[list[np.ndarray]], np.ndarray] | None = None
        self._progress_cache: dict[str, tuple[Any, tuple[int, int]]] = {}

    def _load_video_extras(self) -> None:
        """Read the current video's machine labels and visibility marks."""
        self._read_marks()
        self.machine = read_machine_labels(
            self.project, self.store.video, self.bodyparts
        )

    def _read_marks(self) -> None:
        """Read the current video's "not visible" and dismissed marks from disk.

        Every edit saves its marks at once, so the file holds this app's marks and
        those of other labellers (another tab, another student).
        """
        marks = read_visibility(self.project, self.store.video)
        self.not_visible = marks["not_visible"]
        self.dismissed = marks["dismissed"]

    def likelihood_class(self, likelihood: float) -> str:
        """``"p-low"`` (below the p-cutoff), ``"p-mid"`` or ``"p-high"`` (>= 0.95)."""
        if not likelihood >= self.project.pcutoff:
            return "p-low"
        return "p-high" if likelihood >= 0.95 else "p-mid"

    def machine_points(self, frame: str | None = None) -> dict[str, tuple]:
        """Machine points shown on a frame: ``{bodypart: (x, y, likelihood)}``.

        A bodypart's prediction is shown while it has no label, is not marked not
        visible and was not dismissed; with :attr:`low_likelihood_only` only those
        below the p-cutoff.
        """
        frame = self.frame if frame is None else frame
        pred = self.machine.get(frame)
        if pred is None or self.store is None:
            return {}
        labels = self.store.get(frame)
        out = {}
        for j, bp in enumerate(self.bodyparts):
            x, y, p = (float(v) for v in pred[j])
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            if math.isfinite(labels[j, 0]) or (frame, bp) in self.not_visible:
                continue
            if (frame, bp) in self.dismissed:
                continue
            if self.low_likelihood_only and p >= self.project.pcutoff:
                continue
            out[bp] = (x, y, p if math.isfinite(p) else 0.0)
        return out

    def _split_machine_rows(
        self,
        base: dict[str, tuple[float, float]],
        base_machine: dict[str, tuple[float, float]],
        rows: list[tuple[float, float, str]],
    ) -> tuple[list, list]:
        """Split browser rows into label rows and machine-point rows."""
        labels, machine = [], []
        for row in rows:
            name = row[2]
            (machine if name in base_machine and name not in base else labels).append(
                row
            )
        return labels, machine

    def _machine_edits(
        self,
        base_machine: dict[str, tuple[float, float]],
        rows: list[tuple[float, float, str]],
    ) -> tuple[dict[str, tuple[float, float]], list[str]]:
        """Machine points moved in the browser (they become labels) and deleted ones."""
        named = {name: (x, y) for x, y, name in rows}
        moved = {
            bp: xy
            for bp, xy in named.items()
            if xy != base_machine.get(bp) and all(map(math.isfinite, xy))
        }
        dismissed = [bp for bp in base_machine if bp not in named]
        return moved, dismissed

    def _after_browser_edit(
        self,
        frame: str,
        changes: Mapping[str, tuple[float, float]],
        placed: list[str],
        moved: Mapping[str, tuple[float, float]],
        dismissed: list[str],
    ) -> None:
        """Update the dismissed marks and the active point after a browser edit."""
        set_points = [bp for bp, xy in changes.items() if math.isfinite(xy[0])]
        if dismissed:
            self.dismissed |= {(frame, bp) for bp in dismissed}
            self._save_marks(dismissed_add=[(frame, bp) for bp in dismissed])
        if frame != self.frame:
            return
        if placed:
            self.active = placed[-1]
        elif len(set_points) == 1:
            self.active = set_points[0]  # a drag (or a machine point moved)
        elif (
            self.active is not None
            and self.active not in set_points
            and not math.isfinite(self.store.point(frame, self.active)[0])
        ):
            self.active = None

    def _edit(
        self,
        frame: str,
        points: Mapping[str, tuple[float, float]],
        *,
        add: Sequence[tuple[str, str]] = (),
        remove: Sequence[tuple[str, str]] = (),
    ) -> list[PointChange]:
        """Change points and "not visible" marks of a frame as one undoable edit.

        A point beyond the image is put on its edge (:meth:`inside_image`); the user
        is told when that moved it more than :data:`GUESS_EDGE_TOLERANCE`.

        Returns
        -------
        list of PointChange
            The points that changed (empty also when only marks changed).
        """
        points, moved = self.inside_image(frame, points)
        if moved:
            w, h = self.frame_size(frame)
            self.show_message(
                f"{', '.join(moved)}: put on the edge of the {w}×{h} image (a label "
                "cannot lie outside its image).",
                level="warning",
            )
        changes = self.store.apply(frame, points) if points else []
        asked = list(dict.fromkeys(remove))
        unknown = [m for m in asked if m not in self.not_visible]
        if unknown:  # QA s25 #8: another labeller's marks, set since they were read
            on_disk = read_visibility(self.project, self.store.video)["not_visible"]
            self.not_visible |= {m for m in unknown if m in on_disk}  # undo: back
        add = [m for m in dict.fromkeys(add) if m not in self.not_visible]
        remove = [m for m in asked if m in self.not_visible]
        if changes or add or remove:
            self._record(changes, add, remove)
        if absent := [m for m in asked if m not in remove]:
            # a mark set by another labeller since the read above: removing an
            # absent mark changes nothing on disk
            self._save_marks(not_visible_remove=absent)
        return changes

    def _record(
        self,
        changes: list[PointChange],
        add: Sequence[tuple[str, str]] = (),
        remove: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Remember an edit the store made (``changes``) with its marks; set them."""
        if not changes and not add and not remove:
            return
        self._warn_test_frame(
            [c.frame for c in changes or ()] + [f for f, _ in (*add, *remove)]
        )
        self._history.append(_Edit(changes or None, tuple(add), tuple(remove)))
        del self._history[: -self.store.max_undo]
        self._future.clear()
        self._set_marks(add, remove)

    def _set_marks(
        self, add: Sequence[tuple[str, str]], remove: Sequence[tuple[str, str]]
    ) -> None:
        """Add and remove "not visible" marks, in memory and on disk."""
        if not add and not remove:
            return
        self.not_visible |= set(add)
        self.not_visible -= set(remove)
        self._save_marks(not_visible_add=list(add), not_visible_remove=list(remove))

    def _save_marks(self, **changes: Any) -> None:
        if self.store is None:
            return
        try:
            update_visibility(self.project, self.store.video, **changes)
        except OSError as err:
            self.show_message(f"Could not save the marks: {err}", level="error")

    @_locked
    def dismiss(self, bodypart: str) -> None:
        """Stop showing a machine point on the current frame (remembered)."""
        if not self.frame:
            return
        self.dismissed.add((self.frame, bodypart))
        self._save_marks(dismissed_add=[(self.frame, bodypart)])
        if self.active == bodypart:
            self.active = None
        self.render()

    @_locked
    def accept_frame(self) -> list[str]:
        """Turn the current frame's machine points into labels (one undoable edit).

        Every machine point of the frame is accepted, also those the
        low-likelihood filter hides, except a guess that lies off the image
        (beyond the edge pixels' centres by more than
        :data:`GUESS_EDGE_TOLERANCE`; one within it is put on the edge): that
        bodypart stays unlabelled, its bodypart is selected, and the message names
        it with its guess and the image size, so the user places it or marks it not
        visible (a label outside the image would stop ``merge_datasets``).

        Returns
        -------
        list of str
            The bodyparts accepted.
        """
        if self.store is None or not self.frame:
            return []
        keep = self.low_likelihood_only
        self.low_likelihood_only = False
        try:
            points = self.machine_points()
        finally:
            self.low_likelihood_only = keep
        if not points:
            self.show_message("No machine points to accept on this frame.")
            return []
        off = self.guesses_off_image(points)
        take = {bp: (x, y) for bp, (x, y, _) in points.items() if bp not in off}
        if take:
            self._edit(self.frame, take)
        self.active = None
        self.selected = self._first_unlabelled(self.frame) or self.selected
        if off:
            self._say_guesses_off_image(len(take), off)
        self.render()
        return list(take)

    def _say_guesses_off_image(
        self, n_taken: int, off: Mapping[str, tuple[float, float]]
    ) -> None:
        """Tell which guesses :meth:`accept_frame` left, and what to do."""
        w, h = self.frame_size()
        where = ", ".join(f"{bp} ({x:.1f}, {y:.1f})" for bp, (x, y) in off.items())
        them = "it" if len(off) == 1 else "them"
        done = (
            f"Accepted {n_taken} guess{'es' if n_taken != 1 else ''}; "
            if n_taken
            else "No guess accepted; "
        )
        self.show_message(
            f"{done}left unlabelled, because the network's guess lies outside the "
            f"{w}×{h} image: {where}. Place {them} (click, or k and the arrow keys) "
            f"or mark {them} not visible (v).",
            level="warning",
        )

    def frame_size(self, frame: str | None = None) -> tuple[int, int] | None:
        """``(W, H)`` of a frame's image (default: the current frame's).

        Read from the image file once per frame; ``None`` when it cannot be read.
        """
        frame = self.frame if frame is None else frame
        if self.store is None or not frame:
            return None
        if frame not in self._sizes:
            import cv2

            image = cv2.imread(str(self.store.image_path(frame)), cv2.IMREAD_UNCHANGED)
            self._sizes[frame] = (
                None if image is None else (int(image.shape[1]), int(image.shape[0]))
            )
        return self._sizes[frame]

    def inside_image(
        self, frame: str, points: Mapping[str, tuple[float, float]]
    ) -> tuple[dict[str, tuple[float, float]], list[str]]:
        """Put points beyond a frame's image on its edge.

        ``x`` is clamped to ``0 .. W - 1`` and ``y`` to ``0 .. H - 1`` (the centres
        of the edge pixels: inside both the image as drawn and the range
        :func:`~posekit.engine.io.dlc.validate_labels` accepts). A point on the
        image moves by at most half a pixel.

        Parameters
        ----------
        frame
            The frame (``labeled-data/<video>/<image>``).
        points
            ``{bodypart: (x, y)}``; NaN (a deletion) is kept.

        Returns
        -------
        points : dict
            The points, on the image (unchanged when the image cannot be read).
        moved : list of str
            The bodyparts moved by more than :data:`GUESS_EDGE_TOLERANCE`.
        """
        size = self.frame_size(frame)
        if size is None:
            return dict(points), []
        w, h = size
        out: dict[str, tuple[float, float]] = {}
        moved = []
        for bp, (x, y) in points.items():
            x, y = float(x), float(y)
            if math.isfinite(x) and math.isfinite(y):
                cx, cy = min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0)
                if max(abs(cx - x), abs(cy - y)) > GUESS_EDGE_TOLERANCE:
                    moved.append(bp)
                x, y = cx, cy
            out[bp] = (x, y)
        return out, moved

    def guesses_off_image(
        self, points: Mapping[str, tuple], frame: str | None = None
    ) -> dict[str, tuple[float, float]]:
        """Return the guesses of ``points`` that lie off the frame's image.

        Off the image: beyond the edge pixels' centres (``0 .. W - 1``,
        ``0 .. H - 1``) by more than :data:`GUESS_EDGE_TOLERANCE`.

        Parameters
        ----------
        points
            ``{bodypart: (x, y, ...)}``, e.g. :meth:`machine_points`.
        frame
            The frame (default: the current one).

        Returns
        -------
        dict
            ``{bodypart: (x, y)}`` of those off the image (empty when its size is
            unknown).
        """
        xy = {bp: (float(p[0]), float(p[1])) for bp, p in points.items()}
        # off the image: :meth:`inside_image` would move it beyond the tolerance
        _, moved = self.inside_image(self.frame if frame is None else frame, xy)
        return {bp: xy[bp] for bp in moved}

    @_locked
    def set_low_likelihood_filter(self, on: bool) -> None:
        """Show only the machine points below the p-cutoff (``on``) or all of them."""
        self.low_likelihood_only = bool(on)
        self.render()
        self._emit("status")

    @_locked
    def use_predictor(
        self, predictor: Callable[[list[np.ndarray]], np.ndarray] | None
    ) -> None:
        """Pre-fill frames without machine labels with a predictor's guesses.

        Parameters
        ----------
        predictor
            Frames (RGB) → ``(N, K, 3)`` in the project's bodyparts, e.g.
            ``ModelFolder.of(project).predictor()`` (the latest snapshot); ``None``
            stops. Frames are predicted when first shown, kept in memory only.
        """
        self.predictor = predictor
        if self.frame:
            self._predict_if_needed(self.frame)
            self.render()

    def _predict_if_needed(self, frame: str) -> None:
        if self.predictor is None or self.store is None or frame in self.machine:
            return
        if self.frame_done(frame):
            return
        import cv2

        image = cv2.imread(str(self.store.image_path(frame)), cv2.IMREAD_COLOR)
        if image is None:
            return
        try:
            pred = np.asarray(self.predictor([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)]))
        except Exception as err:  # noqa: BLE001 - a model failure must not stop labelling
            self.show_message(f"The model could not predict {frame}: {err}", "warning")
            self.predictor = None
            return
        if pred.shape[1:] == (len(self.bodyparts), 3):
            self.machine[frame] = pred[0]

    # ============================================================ at scale
    # Progress, navigation to work left, nudging, copying.

    # ================================================================ test frames
    def test_frames(self) -> frozenset[str]:
        """Images (``labeled-data/<video>/<image>``) in the test split of :attr:`shuffle`.

        Read from the training set's record of the split (the Documentation pickle of
        the current iteration, else of the latest iteration that has one: a merge
        keeps the test frames), mapped to images through the merged labels it indexes.
        Empty when the shuffle was never created or its record cannot be read.
        """
        from ..engine.dataset import _pct, _SafeDocUnpickler
        from ..engine.io.dlc import index_to_paths, read_labels

        project = self.project
        fraction = project.training_fractions[0]
        sets = sorted(
            (project.path / "training-datasets").glob(
                "iteration-*/UnaugmentedDataSet_*"
            ),
            key=lambda d: _iteration_number(d.parent.name),
            reverse=True,
        )
        name = f"Documentation_data-{project.task}_{_pct(fraction)}"
        for folder in sets:
            if _iteration_number(folder.parent.name) > project.iteration:
                continue
            doc = folder / f"{name}shuffle{self.shuffle}.pickle"
            merged = folder / f"CollectedData_{project.scorer}.h5"
            if not (doc.is_file() and merged.is_file()):
                continue
            try:
                key = (self.shuffle, str(doc), doc.stat().st_mtime_ns)
                key += (merged.stat().st_mtime_ns,)
            except OSError:
                continue
            if self._test_cache is not None and self._test_cache[0] == key:
                return self._test_cache[1]
            frames: frozenset[str] = frozenset()
            try:
                with open(doc, "rb") as fh:  # what load_split reads, any iteration
                    test = _SafeDocUnpickler(fh).load()[2]
                paths = index_to_paths(read_labels(merged).index)
                frames = frozenset(
                    paths[int(i)].replace("\\", "/")
                    for i in np.asarray(test, int).ravel()
                    if 0 <= int(i) < len(paths)
                )
            except Exception as err:  # noqa: BLE001 - no marks rather than no labeller
                logger.warning("could not read the test frames of %s: %s", doc, err)
            self._test_cache = (key, frames)
            return frames
        return frozenset()

    def is_test_frame(self, frame: str | None = None) -> bool:
        """Whether ``frame`` (default: the current one) is a test frame of the shuffle."""
        frame = self.frame if frame is None else frame
        return bool(frame) and str(frame).replace("\\", "/") in self.test_frames()

    def test_frame_label(self, frame: str | None = None) -> str:
        """``"test frame (shuffle 1)"`` for a test frame, else ``""`` (the status line)."""
        return (
            f"test frame (shuffle {self.shuffle})" if self.is_test_frame(frame) else ""
        )

    def _warn_test_frame(self, frames: Sequence[str]) -> None:
        """Say once per frame that changing a test frame changes the test set (QA s16 #5)."""
        for frame in dict.fromkeys(frames):
            if frame in self._test_warned or not self.is_test_frame(frame):
                continue
            self._test_warned.add(frame)
            self.show_message(
                f"{frame.rsplit('/', 1)[-1]} is a test frame of shuffle "
                f"{self.shuffle}: changing its labels changes the test set, so the "
                "test errors of the iterations before and after the change no longer "
                "compare.",
                level="warning",
            )

    def frame_done(self, frame: str | None = None) -> bool:
        """Whether every bodypart of a frame is placed or marked not visible."""
        frame = self.frame if frame is None else frame
        if self.store is None or not frame:
            return False
        arr = self.store.get(frame)
        return all(
            math.isfinite(arr[j, 0]) or (frame, bp) in self.not_visible
            for j, bp in enumerate(self.bodyparts)
        )

    def video_progress(self) -> tuple[int, int]:
        """``(frames done, frames)`` of the current video."""
        return (sum(self.frame_done(f) for f in self.frames), len(self.frames))

    def project_progress(self) -> dict[str, tuple[int, int]]:
        """``{video: (frames done, frames)}`` for every video offered.

        The current video is counted from memory, the others from their label
        files and marks (re-read when they change on disk).
        """
        out = {}
        for video in self.known_videos:
            if self.store is not None and video == self.store.video:
                out[video] = self.video_progress()
            else:
                out[video] = self._other_video_progress(video)
        return out

    def _other_video_progress(self, video: str) -> tuple[int, int]:
        folder = self.project.labeled_data_dir(video)
        h5 = self.project.labels_path(video)
        files = [h5, h5.with_suffix(".csv"), folder / ".posekit" / "visibility.json"]
        stamp = (
            tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files),
            folder.stat().st_mtime_ns if folder.exists() else 0,
        )
        cached = self._progress_cache.get(video)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            result = labelling_progress(self.project, video)
        except LabelError:  # shown when that video is opened; nothing counted done
            result = (0, len(list_frames(self.project, video)))
        self._progress_cache[video] = (stamp, result)
        return result

    def first_frame_with_work(self) -> int:
        """Position of the first frame not done (0 when every frame is done)."""
        for i, f in enumerate(self.frames):
            if not self.frame_done(f):
                return i
        return 0

    def _first_video_with_work(self) -> str | None:
        for video in self.known_videos:
            done, total = self._other_video_progress(video)
            if total and done < total:
                return video
        return self.known_videos[0] if self.known_videos else None

    @_locked
    def next_unlabelled(self) -> str | None:
        """Go to the next frame with work left (after the current one, wrapping).

        Returns
        -------
        str or None
            The frame shown, or ``None`` when every frame of the video is done (the
            message says so and names the next video with work left).
        """
        frames = self.frames
        n = len(frames)
        for step in range(1, n + 1):
            i = (self._index + step) % n
            if not self.frame_done(frames[i]):
                self.goto(i)
                return frames[i]
        others = [
            v
            for v, (d, t) in self.project_progress().items()
            if d < t and v != self.video
        ]
        tail = f" Next video with work left: {others[0]} (])." if others else ""
        self.show_message(f"Every frame of {self.video} is done.{tail}")
        return None

    @_locked
    def next_video(self, step: int = 1) -> str | None:
        """Open the next (``step=-1``: previous) video, on its first frame with work."""
        videos = self.known_videos
        if not videos:
            return None
        if videos == [self.video]:  # ] and Next video did nothing, and said nothing
            self.show_message(
                "No other video has frames to label: pick frames from another video "
                "first (1 · Pick frames).",
                level="warning",
            )
            return None
        i = videos.index(self.video) if self.video in videos else -1
        video = videos[(i + step) % len(videos)]
        self.set_video(video)
        self._emit("status")
        return video

    def active_point(self) -> str | None:
        """Return the active bodypart if it still has a point (label or machine) here."""
        bp = self.active
        if bp is None or self.store is None or not self.frame:
            return None
        if math.isfinite(self.store.point(self.frame, bp)[0]):
            return bp
        return bp if bp in self.machine_points() else None

    def activate(self, bodypart: str | None) -> None:
        """Make a point of the current frame the one arrows nudge (a tap on it)."""
        self.active = bodypart if bodypart in self.bodyparts else None
        self._emit("status")

    def release(self) -> None:
        """No active point: the arrow keys navigate again (Escape)."""
        self.active = None
        self._emit("status")

    @_locked
    def nudge(self, dx: float, dy: float) -> bool:
        """Move the active point by ``(dx, dy)`` pixels (a machine point is accepted).

        Returns
        -------
        bool
            Whether a point moved.
        """
        bp = self.active_point()
        if bp is None:
            return False
        x, y = self.store.point(self.frame, bp)
        if not math.isfinite(x):
            x, y, _ = self.machine_points()[bp]
        self._edit(self.frame, {bp: (x + dx, y + dy)})
        self.render()
        return True

    def _nudge_key(self, event: Mapping[str, Any]) -> str | None:
        """Nudge with an arrow key when a point is active; the action name or None."""
        if (
            event.get("type") != "keydown"
            or event.get("ctrlKey")
            or event.get("metaKey")
        ):
            return None
        step = NUDGE_KEYS.get(str(event.get("key", "")))
        if step is None or self.active_point() is None:
            return None
        k = 10 if event.get("shiftKey") else 1
        self.nudge(step[0] * k, step[1] * k)
        return "nudge point"

    @_locked
    def place_by_keyboard(self) -> str | None:
        """Place the selected bodypart without a mouse and make it the active point.

        It goes where the same bodypart was on the previous frame, else to the
        network's guess shown here, else to the image centre; the arrow keys then
        move it (Shift: 10 px) and Escape releases it. A bodypart already placed
        here is only made active.

        Returns
        -------
        str or None
            The bodypart placed or made active (``None``: no frame).
        """
        if self.store is None or not self.frame or not self.selected:
            return None
        bp = self.selected
        if math.isfinite(self.store.point(self.frame, bp)[0]):
            self.activate(bp)
            return bp
        x, y = self.keyboard_start(bp)
        self.place(x, y, bp)
        return bp

    def keyboard_start(self, bodypart: str) -> tuple[float, float]:
        """Where :meth:`place_by_keyboard` puts ``bodypart`` on the current frame."""
        if self._index > 0:
            px, py = self.store.point(self.frames[self._index - 1], bodypart)
            if math.isfinite(px) and math.isfinite(py):
                return px, py
        guess = self.machine_points().get(bodypart)
        if guess is not None:
            return guess[0], guess[1]
        w, h = self.image_size or self._read_image_size()
        return float(w // 2), float(h // 2)

    def _read_image_size(self) -> tuple[int, int]:
        import cv2

        image = cv2.imread(str(self.store.image_path(self.frame)), cv2.IMREAD_COLOR)
        if image is None:
            return 640, 480
        return image.shape[1], image.shape[0]

    @property
    def arrows_nudge(self) -> bool:
        """Whether the arrow keys nudge a point now (else they navigate)."""
        return self.active_point() is not None

    @_locked
    def copy_previous(self) -> list[str]:
        """Copy the previous frame's points to the bodyparts not placed here.

        Returns
        -------
        list of str
            The bodyparts copied (one undoable edit).
        """
        if self.store is None:
            return []
        if self._index == 0:
            self.show_message("This is the first frame: there is no previous frame.")
            return []
        prev = self.store.get(self.frames[self._index - 1])
        here = self.store.get(self.frame)
        points = {
            bp: (float(prev[j, 0]), float(prev[j, 1]))
            for j, bp in enumerate(self.bodyparts)
            if math.isfinite(prev[j, 0])
            and not math.isfinite(here[j, 0])
            and (self.frame, bp) not in self.not_visible
        }
        if not points:
            self.show_message("Nothing to copy from the previous frame.")
            return []
        self._edit(self.frame, points, remove=[(self.frame, bp) for bp in points])
        self.selected = self._first_unlabelled(self.frame) or self.selected
        n = len(points)
        self.show_message(
            f"Copied {n} point{'s' if n != 1 else ''} from the previous frame "
            f"({', '.join(points)})."
        )
        self.render()
        return list(points)

    def remember_display(
        self, *, dotsize: float | None = None, alphavalue: float | None = None
    ) -> None:
        """Save the marker size and opacity in ``config.yaml`` (only those keys)."""
        keys = []
        if dotsize is not None:
            self.project.set("dotsize", int(round(dotsize)))
            keys.append("dotsize")
        if alphavalue is not None:
            self.project.set("alphavalue", round(float(alphavalue), 2))
            keys.append("alphavalue")
        if keys:
            try:
                self.project.save(keys=keys)
            except OSError as err:
                self.show_message(f"Could not save {keys}: {err}", level="warning")
