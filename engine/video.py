"""Video reading (exact frame count, exact seek, background decode) and frame extraction."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import math
import os
import queue
import re
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np

from . import logger

if TYPE_CHECKING:
    from .project import Project

__all__ = [
    "VideoError",
    "VideoReader",
    "StreamEnd",
    "Crop",
    "scaled_size",
    "frame_timing",
    "extract_frames",
    "ExtractedFrames",
    "select_frames_uniform",
    "select_frames_kmeans",
    "frame_filename",
    "frame_index_of",
]


class VideoError(IOError):
    """A video cannot be opened or decoded."""


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Return the ``(width, height)`` of a ``width`` × ``height`` image resized by ``scale``.

    Each side is rounded to the nearest integer, halves to even, as OpenCV's
    ``resize(fx=scale, fy=scale)`` rounds it (and at least 1). The frames handed to
    the network and the network's input size both come from here.

    Examples
    --------
    >>> scaled_size(641, 479, 0.5), scaled_size(291, 221, 0.5)
    ((320, 240), (146, 110))
    """
    if scale == 1.0:
        return int(width), int(height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_timing(times: Sequence[float]) -> dict[str, float] | None:
    """Describe the irregular intervals of a video's frame times (``None``: regular).

    A frame interval more than 1.5 times the median interval, or less than half of
    it, is irregular: a variable frame rate (phones, webcams, screen recorders),
    dropped frames or repeated timestamps. Frame times computed as ``i / fps`` are
    then off by up to the accumulated difference.

    Parameters
    ----------
    times
        Each frame's presentation time in seconds (``nan``: unknown, skipped), as
        :meth:`VideoReader.iter_frames` gives them.

    Returns
    -------
    dict or None
        ``min_interval``, ``median_interval``, ``max_interval`` (seconds),
        ``irregular`` (number of irregular intervals) and ``mean_fps``
        (frames over the time they span).

    Examples
    --------
    >>> frame_timing([0.0, 0.04, 0.08, 0.12]) is None
    True
    >>> frame_timing([0.0, 0.04, 0.12, 0.16])["irregular"]
    1
    """
    t = np.asarray(times, dtype=float)
    if len(t) < 3:
        return None
    d = np.diff(t)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return None
    median = float(np.median(d))
    if not median > 0:
        return None
    odd = (d > 1.5 * median) | (d < 0.5 * median)
    if not odd.any():
        return None
    known = t[np.isfinite(t)]
    span = float(known[-1] - known[0]) if len(known) > 1 else 0.0
    return {
        "min_interval": float(d.min()),
        "median_interval": median,
        "max_interval": float(d.max()),
        "irregular": int(odd.sum()),
        "mean_fps": (len(known) - 1) / span if span > 0 else float("nan"),
    }


@dataclass(frozen=True)
class StreamEnd:
    """Where a pass over a video reached its end, and whether the file looks cut.

    Attributes
    ----------
    frames
        Frames that decode.
    announced
        The container's frame count (``0``: none given).
    truncated
        The file ends before its container says it does (a copy or a recording
        that did not finish, or a corrupt file), as far as posekit can tell: the
        last frame decoded lies well before the container's duration, or ffmpeg
        reported a decoding error. An edit list (a video cut with ``-c copy``) or a
        frame count the container only estimated (Matroska, variable frame rate)
        also announce more frames than decode, but end cleanly.
    detail
        How it is known (times, ffmpeg's last error), for the message.
    missing
        ``(first, end)`` of each stretch of frames in the middle of the file that
        did not decode (``end`` exclusive; ``iter_frames(gaps=True)``): ``frames``
        counts them too, as the frames after them keep their numbers.
    """

    frames: int
    announced: int
    truncated: bool
    detail: str = ""
    missing: tuple[tuple[int, int], ...] = ()

    @property
    def n_missing(self) -> int:
        """Frames of :attr:`missing`."""
        return sum(b - a for a, b in self.missing)

    @property
    def damaged(self) -> bool:
        """Whether frames are lost: the file is :attr:`truncated` or has :attr:`missing`."""
        return self.truncated or bool(self.missing)

    def _missing_text(self) -> str:
        spans = ", ".join(
            f"{a}" if b - a == 1 else f"{a} to {b - 1}" for a, b in self.missing
        )
        return (
            f"{self.n_missing} frame(s) in the middle do not decode (frames {spans}: "
            "a corrupt part of the file) and are left empty"
        )

    def describe(self, name: str | None = None) -> str:
        """Say what happened in one sentence (the warning or the info line).

        ``name`` (the video's), when given, begins the sentence.
        """
        name = f"{name}: " if name else ""
        used = self.frames - self.n_missing
        if self.truncated:
            return (
                f"{name}decoding stopped at frame {self.frames} but the container "
                f"says {self.announced} frames: the file is truncated or corrupt"
                f"{self.detail}"
                + (f"; {self._missing_text()}" if self.missing else "")
                + f"; the {used} frames that decode are used"
            )
        if self.missing:
            return (
                f"{name}{self._missing_text()}; the other {used} of its "
                f"{self.frames} frames are used"
            )
        return (
            f"{name}{self.frames} frames decode; the container announced "
            f"{self.announced} (an estimated count or an edit list: the file ends "
            f"cleanly{self.detail})"
        )


@dataclass(frozen=True)
class _Probe:
    """What ``ffmpeg -i`` says about a file: its container and duration."""

    format: str | None
    duration: float | None  # seconds


#: FFmpeg demuxers whose files OpenCV seeks exactly by frame (the index of an MP4 or
#: an AVI gives every frame's place); other containers (MPEG-PS/TS, Matroska with a
#: variable frame rate, ...) are sought by time and checked (:class:`VideoReader`).
_EXACT_SEEK_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "avi"})
_EXACT_SEEK_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".avi"})


@functools.lru_cache(maxsize=256)
def _probe_file(path: str, size: int, mtime_ns: int) -> _Probe:
    exe = _ffmpeg_exe()
    if exe is None:  # pragma: no cover - imageio-ffmpeg is a dependency
        return _Probe(None, None)
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-i", path],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        ).stderr.decode(errors="replace")
    except (OSError, subprocess.SubprocessError):
        return _Probe(None, None)
    fmt = re.search(r"Input #0, (.+?), from '", out)
    dur = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", out)
    seconds = None
    if dur:
        h, m, sec = dur.groups()
        seconds = int(h) * 3600 + int(m) * 60 + float(sec)
    return _Probe(fmt.group(1) if fmt else None, seconds)


#: Frame-time tables given to this process (:func:`remember_frame_times`), by file
#: (resolved path, size, modification time).
_KNOWN_TIMES: dict[tuple[str, int, int], np.ndarray] = {}


def remember_frame_times(path: str | os.PathLike, times_ms: np.ndarray) -> None:
    """Give the readers of ``path`` in this process its frame-time table.

    ``times_ms`` is what :meth:`VideoReader.frame_times_ms` returned (in another
    process, for the same file: its size and modification time must not have
    changed). A reader opened afterwards seeks by time, checked, from the first
    read on, instead of decoding from the start (containers other than MP4/AVI).
    """
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if len(_KNOWN_TIMES) > 64:  # a worker that saw many videos: keep it small
        _KNOWN_TIMES.clear()
    _KNOWN_TIMES[key] = np.asarray(times_ms, dtype=np.float64)


class _FrameTimes:
    """Presentation times of frames ``0, 1, ...`` as a sequential decode gives them.

    Times are OpenCV's ``CAP_PROP_POS_MSEC`` (milliseconds from the stream's
    start); ``nan`` where the frame has none (OpenCV then says 0). They identify
    the frame a seek landed on (:meth:`index_of`): a time two frames share
    identifies neither. Shared by a reader and its decoding threads (locked).
    """

    def __init__(self) -> None:
        self._t: list[float] = []
        self._where: dict[int, int] = {}
        self._built = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._t)

    @staticmethod
    def _key(ms: float) -> int:
        return round(ms * 1000.0)

    def see(self, index: int, ms: float, *, trusted: bool) -> bool:
        """Record frame ``index``'s time; ``False`` if it contradicts the record.

        ``trusted``: the position is certain (a decode from the start): a
        different time replaces the one recorded. Otherwise (after a seek) a
        known time must match.
        """
        if index > 0 and ms == 0.0:  # OpenCV's word for "no timestamp"
            ms = math.nan
        with self._lock:
            if index == len(self._t):
                self._t.append(ms)
                return True
            if index > len(self._t):  # a gap: nothing to record or compare
                return True
            old = self._t[index]
            if math.isnan(old) or math.isnan(ms) or self._key(old) == self._key(ms):
                return True
            if trusted:
                self._t[index] = ms
                self._where.clear()
                self._built = 0
                return True
            return False

    def load(self, times_ms: Sequence[float]) -> None:
        """Take the times of a whole decode (a table computed elsewhere)."""
        with self._lock:
            self._t = [float(v) for v in times_ms]
            self._where.clear()
            self._built = 0

    def array(self) -> np.ndarray:
        """Return the times recorded so far (milliseconds, ``nan``: unknown)."""
        with self._lock:
            return np.asarray(self._t, dtype=np.float64)

    def get(self, index: int) -> float:
        with self._lock:
            return self._t[index] if 0 <= index < len(self._t) else math.nan

    def all_known(self, start: int, stop: int) -> bool:
        """Whether frames ``start`` to ``stop - 1`` all have a recorded time."""
        with self._lock:
            if stop > len(self._t):
                return False
            return all(not math.isnan(v) for v in self._t[start:stop])

    def index_of(self, ms: float) -> int | None:
        """Return the frame with this time, if exactly one has it (else ``None``)."""
        if math.isnan(ms):
            return None
        with self._lock:
            for i in range(self._built, len(self._t)):
                v = self._t[i]
                if not math.isnan(v):
                    k = self._key(v)
                    self._where[k] = -1 if k in self._where else i
            self._built = len(self._t)
            found = self._where.get(self._key(ms), -1)
        return found if found >= 0 else None


@dataclass(frozen=True)
class Crop:
    """A crop in DLC order ``x1, x2, y1, y2`` (pixels, end exclusive)."""

    x1: int
    x2: int
    y1: int
    y2: int

    def __post_init__(self) -> None:
        if not (0 <= self.x1 < self.x2 and 0 <= self.y1 < self.y2):
            raise ValueError(
                f"Invalid crop x1={self.x1}, x2={self.x2}, y1={self.y1}, y2={self.y2}: "
                "need 0 <= x1 < x2 and 0 <= y1 < y2"
            )

    @classmethod
    def parse(cls, value: str | Sequence[int]) -> Crop:
        """Parse DLC's ``"x1, x2, y1, y2"`` string (or a 4-sequence)."""
        if isinstance(value, str):
            parts = [int(float(v)) for v in value.split(",")]
        else:
            parts = [int(v) for v in value]
        if len(parts) != 4:
            raise ValueError(
                f"A crop needs 4 numbers x1, x2, y1, y2; received {value!r}"
            )
        return cls(*parts)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Crop an image (H, W, C)."""
        return frame[self.y1 : self.y2, self.x1 : self.x2]


class VideoReader:
    """Read frames of a video by index, exactly, as RGB ``uint8`` arrays.

    Parameters
    ----------
    path
        Video file (anything OpenCV's FFmpeg backend decodes).

    Attributes
    ----------
    fps, width, height
        From the container.
    stream_end
        The :class:`StreamEnd` of the last pass that reached the end of the video
        (``None`` before one has).

    Raises
    ------
    VideoError
        If the file does not exist or cannot be decoded.

    Notes
    -----
    ``len(reader)`` is the number of frames that really decode (counted once, by
    grabbing every frame; the container's metadata can be wrong for truncated or
    variable-frame-rate files). ``reader[i]`` is frame ``i`` of a sequential decode,
    whatever the container: it decodes forward from the current position when that
    is close or ahead. To go back (or far ahead), MP4/MOV and AVI files are sought
    by frame (their index makes that exact). Other containers (MPEG-PS ``.mpg``,
    MPEG-TS ``.ts``/``.mts``/``.m2ts``, Matroska/WebM, ...) are sought by time to a
    frame before ``i`` whose timestamp, recorded when a decode passed it, names it
    (timestamps two frames share name neither), and every frame from there to
    ``i`` must have its recorded time; otherwise the video is decoded from its
    start. OpenCV's own seek lands elsewhere in those files (12 or 250 frames off,
    or ahead by the drift of a variable frame rate) while reporting the position
    asked for.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            link = broken_link(self.path)
            raise VideoError(
                f"{self.path} is {link}" if link else f"Video not found: {self.path}"
            )
        if self.path.stat().st_size == 0:
            raise VideoError(
                f"{self.path} is empty (0 bytes): the copy or the recording did not "
                "finish; copy it again."
            )
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise VideoError(
                f"Could not open {self.path} as a video (unknown format or corrupt file)."
            )
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.metadata_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._pos = 0  # index of the next frame read() returns
        self._n_frames: int | None = None
        self._lock = threading.Lock()
        self._times = _FrameTimes()
        known = _KNOWN_TIMES.get(self._file_key())
        if known is not None:  # a table of this file given to this process
            self._times.load(known)
        self._anchored = False  # read()'s position comes from a checked seek
        self._seek_misses = 0  # checked seeks in a row that found no known frame
        self._missing: list[tuple[int, int]] = []  # gaps of the last stream
        self.stream_end: StreamEnd | None = None
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise VideoError(
                f"{self.path} opened but no frame decodes: the file is empty, truncated "
                "before the first frame, or uses a codec OpenCV cannot decode."
            )
        self._times.see(0, self._cap.get(cv2.CAP_PROP_POS_MSEC), trusted=True)
        self._pos = 1
        self._last = (0, first)

    # ------------------------------------------------------------ basic info
    def __repr__(self) -> str:
        return (
            f"VideoReader({str(self.path)!r}, {self.width}x{self.height}, "
            f"fps={self.fps:.3f}, frames={self._n_frames or self.metadata_frames})"
        )

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()

    @property
    def shape(self) -> tuple[int, int, int]:
        """Frame shape ``(height, width, 3)``."""
        return (self.height, self.width, 3)

    @property
    def n_frames(self) -> int:
        """Number of frames that decode (counted on first use)."""
        if self._n_frames is None:
            n = self._count_frames()
            if self._n_frames is None:  # (a pass may have recorded it meanwhile)
                self._n_frames = n
        return self._n_frames

    def _file_key(self) -> tuple[str, int, int]:
        stat = self.path.stat()
        return (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)

    @functools.cached_property
    def _probe(self) -> _Probe:
        stat = self.path.stat()
        return _probe_file(str(self.path), stat.st_size, stat.st_mtime_ns)

    def frame_times_ms(self) -> np.ndarray:
        """Return every frame's time (OpenCV's ms; ``nan``: none), decoding them all.

        The table that checked seeks in containers other than MP4/AVI rely on
        (class notes): :func:`remember_frame_times` gives it to the readers of
        another process (the workers of a chunked analysis), which can then seek
        instead of decoding from the start. Counts the frames too (:attr:`n_frames`).
        """
        if self._n_frames is None or len(self._times) < self._n_frames:
            self._n_frames = None
            self.n_frames  # noqa: B018 - a whole decode records every time
        return self._times.array()[: self._n_frames]

    @property
    def container(self) -> str | None:
        """The container, as FFmpeg names its demuxer (``"mpegts"``, ``"avi"``...)."""
        return self._probe.format

    @property
    def duration(self) -> float | None:
        """The container's duration in seconds (``None`` if it gives none)."""
        return self._probe.duration

    @property
    def missing_frames(self) -> tuple[tuple[int, int], ...]:
        """``(first, end)`` of each stretch the last stream found not decoding.

        The frames of a corrupt part of the file that :meth:`iter_frames` with
        ``gaps=True`` yielded empty (``end`` exclusive), also where that stream
        covered a range and did not reach the end of the file (then it has no
        :attr:`stream_end`).
        """
        return tuple(self._missing)

    @functools.cached_property
    def seeks_exactly(self) -> bool:
        """Whether OpenCV's seek by frame is exact in this file (MP4/MOV, AVI).

        Other containers are sought by time and checked (class notes).
        """
        if self.container is not None:
            return self.container in _EXACT_SEEK_FORMATS
        return self.path.suffix.lower() in _EXACT_SEEK_SUFFIXES

    @property
    def expected_frames(self) -> int:
        """Frame count for planning and progress, without decoding the video.

        The count already made (:attr:`n_frames`) when there is one, else the
        container's (:attr:`metadata_frames`); a container that gives none is
        counted. A pass over the whole video learns the real count at its end
        (:meth:`iter_frames` records it and warns when the container was wrong).
        """
        if self._n_frames is not None:
            return self._n_frames
        if self.metadata_frames > 0:
            return self.metadata_frames
        return self.n_frames

    def __len__(self) -> int:
        return self.n_frames

    def __bool__(self) -> bool:
        """Return ``True``: an open reader is truthy without counting its frames.

        Without this, ``if reader:`` would call ``__len__`` and decode the whole
        video to count it (100 s for an hour).
        """
        return True

    def _count_frames(self) -> int:
        """Grab every frame (recording their times); report a count that disagrees."""
        n, last = self._grab_all()
        self._end_of_stream(n, last_ms=last)
        return n

    # ------------------------------------------------------------ random access
    def __getitem__(self, index: int) -> np.ndarray:
        return self.read(index)

    def read(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (0-based) as RGB ``(H, W, 3) uint8``.

        Raises
        ------
        IndexError
            If ``index`` is outside the decodable frames.
        """
        index = int(index)
        if index < 0:
            index += self.n_frames
        if index < 0:
            raise IndexError(f"frame index {index} out of range")
        with self._lock:
            if self._last is not None and self._last[0] == index:
                return cv2.cvtColor(self._last[1], cv2.COLOR_BGR2RGB)
            if self.seeks_exactly:
                frame = self._read_exact(index)
            else:
                frame = self._read_checked(index)
            self._last = (index, frame)
            return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _read_exact(self, index: int) -> np.ndarray:
        """Frame ``index`` (BGR) of a file OpenCV seeks exactly (MP4, AVI)."""
        if not (self._pos <= index < self._pos + 64):
            self._seek(index)
        while self._pos < index:
            if not self._cap.grab():
                raise IndexError(self._out_of_range(index))
            self._pos += 1
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise IndexError(self._out_of_range(index))
        self._pos += 1
        return frame

    def _read_checked(self, index: int) -> np.ndarray:
        """Frame ``index`` (BGR) of any file: checked seeks, else a decode from the start.

        Forward from the current position it decodes through; backwards (or far
        ahead, over frames whose times are known) it seeks by time
        (:meth:`_seek_near`). Every frame grabbed records its time, or after a seek
        must match the time recorded: a mismatch starts again from the first frame.
        """
        back = index < self._pos
        if back or (
            index - self._pos >= 64 and self._times.all_known(index - 4, index + 1)
        ):
            found = self._seek_near(index)
            if found is not None or back:
                self._cap.release()
                self._cap, self._pos = found or (cv2.VideoCapture(str(self.path)), 0)
                self._anchored = found is not None
        while True:
            while self._pos <= index:
                if not self._cap.grab():
                    raise IndexError(self._out_of_range(index))
                ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
                if not self._times.see(self._pos, ms, trusted=not self._anchored):
                    break  # the seek went wrong after all: start from the first frame
                self._pos += 1
            else:
                ok, frame = self._cap.retrieve()
                if not ok or frame is None:
                    raise IndexError(self._out_of_range(index))
                return frame
            logger.debug("%s: frame %d is not where its time says", self.path, index)
            self._cap.release()
            self._cap = cv2.VideoCapture(str(self.path))
            self._pos, self._anchored = 0, False

    def _seek_near(self, index: int) -> tuple[cv2.VideoCapture, int] | None:
        """Open a capture placed before frame ``index``, on a frame its time names.

        Returns ``(cap, position)``: the next frame ``cap`` grabs is frame
        ``position`` (at most ``index``), after a frame recognised by its time; or
        ``None`` when no seek can be checked (the caller decodes from where it is,
        or from the start). A seek is only taken when every frame from the one
        landed on to ``index`` has a recorded time, so that each is checked on the
        way.
        """
        times = self._times
        # near the start, or in a file where seeks keep missing, decoding from the
        # first frame is the faster way (a missed seek on a .ts costs 0.4 s)
        tries = (4, 32, 256) if index >= SEEK_STEP and self._seek_misses < 3 else ()
        cap = None
        try:
            for back in tries:
                target = index - back
                if target < 1 or not times.all_known(target, index + 1):
                    break
                if cap is None:
                    cap = cv2.VideoCapture(str(self.path))
                cap.set(cv2.CAP_PROP_POS_MSEC, times.get(target))
                if not cap.grab():
                    continue
                ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                landed = times.index_of(ms) if ms != 0.0 else None
                if landed is not None and 0 < landed < index:
                    self._seek_misses = 0
                    found, cap = (cap, landed + 1), None
                    return found
            if tries:
                self._seek_misses += 1
            return None
        finally:
            if cap is not None:
                cap.release()

    def _decodes(self, indices: np.ndarray) -> bool:
        """Whether the last of ``indices`` (sorted) decodes (``True`` if empty)."""
        if not len(indices):
            return True
        try:
            self.read(int(indices[-1]))
        except IndexError:
            return False
        return True

    def _out_of_range(self, index: int) -> str:
        if self._n_frames is None:  # do not decode the whole video for a message
            return (
                f"frame {index} cannot be decoded from {self.path.name} (the "
                f"container says {self.metadata_frames} frames; the file may be "
                "truncated)"
            )
        return (
            f"frame {index} cannot be decoded from {self.path.name} "
            f"({self.n_frames} frames decode)"
        )

    def _seek(self, index: int) -> None:
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        pos = int(self._cap.get(cv2.CAP_PROP_POS_FRAMES))
        if pos != index:  # backend could not seek exactly: decode from the start
            self._cap.release()
            self._cap = cv2.VideoCapture(str(self.path))
            pos = 0
        self._pos = pos

    def _open_at(
        self, start: int, *, gaps: bool = False
    ) -> tuple[cv2.VideoCapture, int, bool, int | None]:
        """Open a capture whose next frame is ``start``.

        Returns ``(cap, position, anchored, lost_to)``. ``position`` is less than
        ``start`` only where the video ends before it. ``anchored``: the frames
        that follow are to be checked against their recorded times (a checked
        seek), not recorded as certain. ``gaps``: reads that fail on the way are
        a corrupt part of the file, counted past (:meth:`_past_gap`); where that
        part reaches ``start``, ``lost_to`` is the first frame after it, already
        grabbed (``position == lost_to``; frames ``start`` to ``lost_to - 1``, if
        any, do not decode), else ``None``.
        """
        if start > 0 and not self.seeks_exactly:
            found = self._seek_near(start)
            if found is not None:
                return self._grab_to(*found, start, anchored=True, gaps=gaps)
        cap = cv2.VideoCapture(str(self.path))
        if start > 0 and self.seeks_exactly:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
                return cap, start, False, None
            # (OpenCV's seek fails past a corrupt part of the file)
            cap.release()
            cap = cv2.VideoCapture(str(self.path))
        return self._grab_to(cap, 0, start, anchored=False, gaps=gaps)

    def _grab_to(
        self,
        cap: cv2.VideoCapture,
        pos: int,
        start: int,
        *,
        anchored: bool,
        gaps: bool = False,
    ) -> tuple[cv2.VideoCapture, int, bool, int | None]:
        """Grab from frame ``pos`` up to ``start`` (checking or recording times).

        Returns :meth:`_open_at`'s tuple. With ``gaps``, a read that fails is
        counted past as in the stream (a chunk of a video, or a resumed analysis,
        that begins after or inside a corrupt part keeps its frame numbers); the
        times of the frames after such a part are recorded as not certain.
        """
        counted = False  # frame numbers counted past failed reads
        while pos < start:
            if not cap.grab():
                skipped = self._past_gap(cap, pos) if gaps and pos > 0 else 0
                if not skipped:
                    break
                pos, counted = pos + skipped, True
                if pos >= start:  # the corrupt part reaches start: pos is grabbed
                    self._times.see(pos, cap.get(cv2.CAP_PROP_POS_MSEC), trusted=False)
                    return cap, pos, anchored, pos
            ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            if counted:
                self._times.see(pos, ms, trusted=False)
            elif not self._times.see(pos, ms, trusted=not anchored):
                cap.release()  # the seek went wrong after all
                cap, pos, anchored = cv2.VideoCapture(str(self.path)), 0, False
                continue
            pos += 1
        return cap, pos, anchored, None

    # ------------------------------------------------------------ streaming
    def iter_frames(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        step: int = 1,
        prefetch: int = 64,
        crop: Crop | None = None,
        scale: float = 1.0,
        backend: Literal["auto", "opencv", "ffmpeg"] = "auto",
        times: list[float] | None = None,
        gaps: bool = False,
    ) -> Iterator[tuple[int, np.ndarray | None]]:
        """Yield ``(index, rgb_frame)`` decoded by a background thread.

        Decoding runs ahead of the consumer by up to ``prefetch`` frames, so decode
        overlaps with whatever the caller does (e.g. inference). A decode error in the
        middle of a file ends the stream at the last good frame with a warning when
        the file looks truncated (:class:`StreamEnd`; an info line when it ends
        cleanly, as an edit list or an estimated frame count do). Either backend
        gives the same frames: where ffmpeg decodes a truncated file further than
        OpenCV, the stream ends where OpenCV's does (:attr:`n_frames`).

        Parameters
        ----------
        start, stop, step
            Frame range (``stop`` exclusive; ``None``: to the end).
        prefetch
            Frames decoded ahead at most.
        crop
            Region to keep (applied before ``scale``).
        scale
            Resize factor (area interpolation); the output is :func:`scaled_size`
            of the cropped frame.
        backend
            ``"ffmpeg"`` streams the frames out of an ``ffmpeg`` process (the binary
            of ``imageio-ffmpeg``) that decodes, crops, resizes and converts to RGB
            in one pass on its own core, outside Python's GIL. ``"opencv"`` decodes in
            a thread with ``cv2.VideoCapture``. ``"auto"`` (default) uses ffmpeg for
            whole-video streams that are resized (``start == 0``, ``step == 1``,
            ``scale != 1``: video analysis at reduced size, where it measured 1.7×
            the decode-only speed and 14 % more analysis frames/s on the openfield
            video) and OpenCV otherwise (as fast at full size, and it can seek).
        times
            A list that receives the presentation time (seconds from the start of
            the stream, ``nan`` where a frame has none) of each frame yielded, in
            order, once the stream has ended (``[]`` when the ffmpeg binary cannot
            report them: FFmpeg before 6.1).
        gaps
            ``False`` (default): the stream ends at the first frame that does not
            decode. ``True``: a stretch of frames that do not decode in the middle
            of the file (a corrupt part of a recording) is yielded as ``(index,
            None)`` for each of its frames, and the frames after it keep their
            indices, placed by counting the failed reads (as DeepLabCut's analysis
            does); the stretches are listed in :attr:`StreamEnd.missing`. The
            stream ends where no frame up to the container's count decodes.
        """
        if backend not in ("auto", "opencv", "ffmpeg"):
            raise ValueError(
                f"backend must be 'auto', 'opencv' or 'ffmpeg'. Received: {backend!r}"
            )
        if backend == "auto":
            whole = start == 0 and step == 1
            backend = "ffmpeg" if whole and scale != 1.0 and _ffmpeg_exe() else "opencv"
        self._missing = []
        if backend == "ffmpeg":
            yield from self._iter_ffmpeg(  # (gaps: whole streams only)
                start, stop, step, prefetch, crop, scale, times, gaps and step == 1
            )
            return
        seen: list[float] = []

        def produce(put: Callable[[Any], None], stopped: threading.Event) -> None:
            self._stream_opencv(
                put, stopped, (start, stop, step), crop, scale, seen, gaps=gaps
            )

        yield from self._background(produce, "posekit-decode", prefetch)
        if times is not None:
            times.extend(seen)

    def _stream_opencv(
        self,
        put: Callable[[Any], None],
        stopped: threading.Event,
        frames: tuple[int, int | None, int],
        crop: Crop | None,
        scale: float,
        seen: list[float],
        *,
        gaps: bool = False,
        size: tuple[int, int] | None = None,
        ends: bool = True,
        after: bool = False,
    ) -> None:
        """Put frames ``start:stop:step`` decoded by OpenCV (``iter_frames``' stream).

        ``size``: resize to this ``(width, height)`` instead of by ``scale``.
        ``ends``: record where the stream ends (:meth:`_end_of_stream`; not for the
        frames OpenCV decodes after an ffmpeg stream that ended cleanly).
        ``after``: frame ``start - 1`` was decoded (by ffmpeg), so a frame that does
        not decode at ``start`` may begin a gap.

        With ``gaps``, the frames after a gap are held back until ``_HOLD_BACK``
        of them decode: where the file ends that soon after (a truncated file, whose
        last packets can decode out of order), the stream ends at the gap instead.
        """
        start, stop, step = frames
        cap, pos, anchored, lost_to = self._open_at(start, gaps=gaps)
        last: float | None = math.nan if after else None
        held: list[tuple[tuple[int, np.ndarray], float]] = []
        grabbed = lost_to is not None  # frame pos was grabbed by _open_at
        gap, pos = _gap_from_start(cap, (start, stop), pos, lost_to)
        try:
            if pos < start:  # the video ends before start (a count from 0)
                last_ms = self._times.get(pos - 1)
                self._end_of_stream(pos, last_ms=last_ms, quiet=True)
                return
            while not stopped.is_set() and (stop is None or pos < stop):
                if grabbed:
                    grabbed = False
                elif not cap.grab():
                    found = (
                        self._gap_after(cap, pos, stop, last)
                        if gaps and last is not None and gap is None
                        else None
                    )
                    if found is None:
                        if ends:
                            self._stream_ended(pos, last, gap)
                        break
                    gap, pos = found  # the frame grabbed after the gap is frame pos
                    if pos == stop:  # (the part reaches the end of the range)
                        continue
                last = cap.get(cv2.CAP_PROP_POS_MSEC)
                self._times.see(pos, last, trusted=not anchored and gap is None)
                if (pos - start) % step:
                    pos += 1
                    continue
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    if gap is not None:
                        pos, last = gap[0], gap[2]
                    if ends:
                        self._end_of_stream(pos, last_ms=last)
                    break
                frame = _to_rgb(frame, crop, scale, size)
                t = last / 1000.0 if pos == 0 or last else math.nan
                if gap is None:
                    seen.append(t)
                    put((pos, frame))
                else:
                    held.append(((pos, frame), t))
                    if len(held) >= _HOLD_BACK:
                        self._put_gap(put, seen, gap, held, start, step)
                        gap, held = None, []
                pos += 1
            else:  # stop reached (or the consumer stopped): the frames held are good
                if gap is not None and not stopped.is_set():
                    self._put_gap(put, seen, gap, held, start, step)
        finally:
            cap.release()

    def _stream_ended(
        self,
        pos: int,
        last: float | None,
        gap: _Gap | None,
    ) -> None:
        """Record the end of an OpenCV stream: no frame ``pos`` (``last``: ms before).

        A ``gap`` still held back (the file ends right after it) ends the stream
        where the gap begins.
        """
        if gap is not None:
            pos, last = gap[0], gap[2]
        if last is not None and not math.isfinite(last):
            last = self._times.get(pos - 1)  # (decoded by ffmpeg)
        if last is not None or pos == 0:
            self._end_of_stream(pos, last_ms=last)
        # else: nothing after a seek past the end (OpenCV took the position on
        # trust): where the video ends is not known

    def _gap_after(
        self, cap: cv2.VideoCapture, pos: int, stop: int | None, last: float | None
    ) -> tuple[_Gap, int] | None:
        """Return the gap that begins at frame ``pos`` and the frame grabbed after it.

        Called after the read of frame ``pos`` failed (``last``: the time of the
        frame before). ``None``: no later frame decodes (the end of the file). A
        corrupt part that reaches the end of the range (``stop``: a chunk of the
        video) ends there, the position being ``stop`` (nothing grabbed).
        """
        skipped = self._past_gap(cap, pos)
        if not skipped:
            return None
        if stop is not None and pos + skipped >= stop:
            return (pos, stop, last, math.nan), stop
        return (pos, pos + skipped, last, cap.get(cv2.CAP_PROP_POS_MSEC)), pos + skipped

    def _past_gap(self, cap: cv2.VideoCapture, pos: int) -> int:
        """Read past frames that do not decode from ``pos`` on: how many there were.

        Called after the read of frame ``pos`` failed. Reads go on while the
        container announces more frames (past the end of a range too: a corrupt
        part across two chunks of a video is not the end of the file); each failed
        read is one lost frame, as in DeepLabCut's analysis loop. Returns ``0``
        when no later frame decodes (the end of the file), else the lost frames,
        the last read having grabbed frame ``pos + count``.
        """
        count = 1
        while pos + count < self.metadata_frames:
            if cap.grab():
                return count
            count += 1
        return 0

    def _put_gap(
        self,
        put: Callable[[Any], None],
        seen: list[float],
        gap: _Gap,
        held: list[tuple[tuple[int, np.ndarray], float]],
        start: int,
        step: int,
    ) -> None:
        """Put a gap's lost frames (``None``) and the frames held after it; say so.

        The gap is recorded in :attr:`StreamEnd.missing`; the warning compares the
        frame number counted with the one the next frame's time gives.
        """
        first, found, _, ms = gap
        for lost in range(first, found):
            if not (lost - start) % step:
                seen.append(math.nan)
                put((lost, None))
        for item, t in held:
            seen.append(t)
            put(item)
        self._missing.append((first, found))
        by_time = round(ms / 1000.0 * self.fps) if self.fps > 0 and ms > 0 else None
        logger.warning(
            "%s: frames %d to %d (%.2f s to %.2f s) do not decode (a corrupt part of "
            "the file); they are left empty and the frames from %d on keep their "
            "numbers%s",
            self.path.name,
            first,
            found - 1,
            first / self.fps if self.fps > 0 else math.nan,
            found / self.fps if self.fps > 0 else math.nan,
            found,
            ""
            if by_time is None or abs(by_time - found) <= 1
            else f" (counted as DeepLabCut does; the next frame's time, "
            f"{ms / 1000.0:.2f} s, would make it frame {by_time})",
        )

    def _end_of_stream(
        self,
        pos: int,
        *,
        last_ms: float | None = None,
        errors: str = "",
        quiet: bool = False,
    ) -> StreamEnd:
        """Record that exactly ``pos`` frames decode; say so if the container disagrees.

        ``last_ms`` is the time of the last frame decoded (OpenCV's milliseconds),
        ``errors`` what ffmpeg reported: they tell a truncated file from a count that
        was only estimated (:class:`StreamEnd`). ``quiet``: a truncation is logged as
        info (a pass that began past the end: the one that reached it warned).
        """
        if self._n_frames is None and not self._missing:
            self._n_frames = pos
        end = self._classify_end(pos, last_ms, errors)
        if self._missing:
            end = dataclasses.replace(end, missing=tuple(self._missing))
        self.stream_end = end
        if end.truncated and not quiet:
            logger.warning("%s", end.describe(self.path.name))
        elif pos != self.metadata_frames and self.metadata_frames > 0:
            logger.info("%s", end.describe(self.path.name))
        return end

    def _classify_end(self, pos: int, last_ms: float | None, errors: str) -> StreamEnd:
        announced = max(self.metadata_frames, 0)
        detail = f"; ffmpeg: {errors}" if errors else ""
        if pos >= announced:
            return StreamEnd(pos, announced, False)
        if errors:
            return StreamEnd(pos, announced, True, detail)
        if (self.container or self.path.suffix.lower().lstrip(".")) == "avi":
            # an AVI's header counts its frames (ffmpeg measures the duration of a
            # cut one from what is left); an MP4's count includes frames an edit
            # list leaves out, and other containers estimate it from the duration
            return StreamEnd(pos, announced, True)
        duration = self.duration
        if duration is None or last_ms is None or not math.isfinite(last_ms):
            return StreamEnd(pos, announced, True)  # nothing to tell them apart
        frame_s = 1.0 / self.fps if self.fps > 0 else 1 / 30
        ends = last_ms / 1000.0 + frame_s
        if duration - ends > max(3 * frame_s, 0.5):
            return StreamEnd(
                pos,
                announced,
                True,
                f" (it ends at {ends:.2f} s of the {duration:.2f} s it announces)",
            )
        return StreamEnd(pos, announced, False, f" at {ends:.2f} s of {duration:.2f} s")

    def _warn_cut_short(self, pos: int, detail: str = "") -> None:
        if pos < self.metadata_frames:
            logger.warning(
                "%s: decoding stopped at frame %d but the container says %d "
                "frames (the file may be truncated or corrupt)%s",
                self.path.name,
                pos,
                self.metadata_frames,
                detail,
            )

    def _background(
        self,
        produce: Callable[[Callable[[Any], None], threading.Event], None],
        name: str,
        prefetch: int,
        on_close: Callable[[], None] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield what ``produce(put, stopped)`` puts, run in a thread ``prefetch`` ahead.

        When the consumer stops early, ``stopped`` is set, ``on_close`` runs (e.g. to
        kill a decoder process the thread reads from) and the thread is drained.
        """
        q: queue.Queue = queue.Queue(maxsize=prefetch)
        stopped = threading.Event()
        sentinel = object()

        def worker() -> None:
            try:
                produce(q.put, stopped)
            except Exception as err:  # pragma: no cover - defensive
                q.put(err)
            finally:
                q.put(sentinel)

        thread = threading.Thread(target=worker, name=name, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is sentinel:
                    break
                if isinstance(item, Exception):
                    raise VideoError(f"decoding {self.path} failed: {item}") from item
                yield item
        finally:
            stopped.set()
            if on_close is not None:
                on_close()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)

    def _output_size(self, crop: Crop | None, scale: float) -> tuple[Crop, int, int]:
        """Clip the crop to the frame and compute the output ``(width, height)``.

        The size is :func:`scaled_size` (as OpenCV's ``resize`` rounds it).
        """
        c = crop or Crop(0, self.width, 0, self.height)
        c = Crop(c.x1, min(c.x2, self.width), c.y1, min(c.y2, self.height))
        w, h = scaled_size(c.x2 - c.x1, c.y2 - c.y1, scale)
        return c, w, h

    def _ffmpeg_command(
        self,
        exe: str,
        start: int,
        step: int,
        c: Crop,
        size: tuple[int, int],
        stats: Path,
    ) -> list[str]:
        """Return the ffmpeg command that streams frames ``start::step``, cropped, resized.

        ffmpeg stops at the first frame that does not decode (``-xerror``) instead
        of leaving it out, which would move the frames after it to earlier numbers
        (the rest is OpenCV's: :meth:`_ffmpeg_end`).
        """
        filters = []
        if start or step != 1:
            filters.append(f"select=gte(n\\,{start})*not(mod(n-{start}\\,{step}))")
        if (c.x1, c.y1, c.x2, c.y2) != (0, 0, self.width, self.height):
            # in RGB: a 4:2:0 crop at odd offsets would resample the chroma
            filters.append("format=rgb24")
            filters.append(f"crop={c.x2 - c.x1}:{c.y2 - c.y1}:{c.x1}:{c.y1}")
        if size != (c.x2 - c.x1, c.y2 - c.y1):
            filters.append(f"scale={size[0]}:{size[1]}:flags=area")
        # one decoder thread: the other core is left to whatever consumes the frames
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
        cmd += [
            "-xerror",
            "-i",
            str(self.path),
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
        ]
        if filters:
            cmd += ["-vf", ",".join(filters), "-filter_threads", "1"]
        if _ffmpeg_reports_times():  # each frame's timestamp, in the file's time base
            cmd += ["-enc_time_base:v", "demux", "-stats_enc_pre:v", str(stats)]
            cmd += ["-stats_enc_pre_fmt:v", "{n} {ptsi} {tb}"]
        return [*cmd, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]

    def _iter_ffmpeg(
        self,
        start: int,
        stop: int | None,
        step: int,
        prefetch: int,
        crop: Crop | None,
        scale: float,
        times: list[float] | None = None,
        gaps: bool = False,
    ) -> Iterator[tuple[int, np.ndarray | None]]:
        exe = _ffmpeg_exe()
        if exe is None:
            raise VideoError(
                "backend='ffmpeg' needs the ffmpeg binary of imageio-ffmpeg "
                "(pip install imageio-ffmpeg); use backend='opencv'."
            )
        c, w, h = self._output_size(crop, scale)
        folder = tempfile.mkdtemp(prefix="posekit-ffmpeg-")
        stats = Path(folder) / "times.txt"
        cmd = self._ffmpeg_command(exe, start, step, c, (w, h), stats)
        seen: list[float] = []

        def tail(put: Callable[[Any], None], first: int, stop_at: int) -> None:
            """Decode frames ``first`` to ``stop_at - 1`` with OpenCV, as ffmpeg would.

            With ``gaps``, on past the frames that do not decode, to the end.
            """
            self._stream_opencv(
                put, threading.Event(), (first, stop if gaps else stop_at, 1), c,
                scale, seen, gaps=gaps, size=(w, h), ends=gaps, after=first > 0,
            )  # fmt: skip

        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            ) as proc,
        ):

            def produce(put: Callable[[Any], None], stopped: threading.Event) -> None:
                # the last frames wait here until the stream goes on: where ffmpeg
                # decodes a truncated file further than OpenCV, they are dropped
                held: collections.deque = collections.deque()
                hold = _HOLD_BACK if step == 1 else 0
                pos = start
                while not stopped.is_set() and (stop is None or pos < stop):
                    frame = np.empty((h, w, 3), np.uint8)
                    if not _read_whole(proc.stdout, frame):  # ended (or killed)
                        if stopped.is_set():
                            return
                        proc.wait()
                        errors.seek(0)
                        said = errors.read().decode(errors="replace").strip()
                        # the last line, without its "[h264 @ 0x5564...]" prefixes
                        said = (
                            re.sub(r"^(\[[^]]*\] *)+", "", said.splitlines()[-1])
                            if said
                            else ""
                        )
                        self._ffmpeg_end(
                            put, held, (start, pos, step), said, stats, seen, tail,
                            gaps=gaps,
                        )  # fmt: skip
                        return
                    held.append((pos, frame))
                    if len(held) > hold:
                        put(held.popleft())
                    pos += step
                if not stopped.is_set():
                    _put_all(put, held)
                    proc.kill()  # (stop reached: ffmpeg may still be decoding)
                    proc.wait()
                    seen.extend(
                        _read_frame_times(stats)[: len(range(start, pos, step))]
                    )

            def kill() -> None:
                if proc.poll() is None:
                    proc.kill()

            try:
                yield from self._background(produce, "posekit-ffmpeg", prefetch, kill)
            finally:
                with contextlib.suppress(OSError):
                    stats.unlink(missing_ok=True)
                    os.rmdir(folder)
        if times is not None:
            times.extend(seen)

    def _ffmpeg_end(
        self,
        put: Callable[[Any], None],
        held: collections.deque,
        frames: tuple[int, int, int],
        said: str,
        stats: Path,
        seen: list[float],
        tail: Callable[[Callable[[Any], None], int, int], None],
        *,
        gaps: bool = False,
    ) -> None:
        """Hand on the frames held back when ffmpeg's stream ended early.

        ``frames`` is ``(start, pos, step)``: the stream gave frames ``start`` to
        ``pos - 1``. A file that ends cleanly passes them all on. A truncated one
        ends where OpenCV's decode ends (:attr:`n_frames`): ffmpeg decodes two
        frames more than OpenCV out of a cut H.264 MP4 (it flushes the decoder),
        and the frames that decode must not depend on the backend (``--scale``
        streams through ffmpeg): the held frames beyond OpenCV's count are
        dropped, frames OpenCV decodes further are decoded by it (``tail``). With
        ``gaps`` (ffmpeg stopped at its first error), ``tail`` decodes the rest of
        the file past the frames that do not decode.
        """
        start, pos, step = frames
        stamps = _read_frame_times(stats)
        if step != 1:
            _put_all(put, held)
            seen.extend(stamps)
            self._warn_cut_short(pos, f"; ffmpeg: {said}" if said else "")
            return
        done = pos - start  # frames ffmpeg gave
        last_ms = stamps[done - 1] * 1000 if 0 < done <= len(stamps) else None
        end = self._classify_end(pos, last_ms, said)
        if not end.truncated:
            _put_all(put, held)
            seen.extend(stamps)
            self._end_of_stream(pos, last_ms=last_ms, errors=said)
            return
        n = self._n_frames
        if n is None:
            n = self._grab_all()[0]
        if held and held[0][0] > n:  # pragma: no cover - not seen
            logger.warning(
                "%s: ffmpeg decoded %d frames, OpenCV %d: frames %d to %d are kept",
                self.path.name,
                pos,
                n,
                n,
                held[0][0] - 1,
            )
        _put_all(put, held, below=n)
        seen.extend(stamps[: max(min(pos, n) - start, 0)])
        if gaps:  # ffmpeg stopped at the first error: OpenCV goes on past it
            tail(put, min(pos, n), n)
            return
        if n > pos:  # OpenCV decodes further: the rest from it
            tail(put, pos, n)
        self._n_frames = n
        self.stream_end = StreamEnd(n, max(self.metadata_frames, 0), True, end.detail)
        logger.warning("%s", self.stream_end.describe(self.path.name))

    def _grab_all(self) -> tuple[int, float | None]:
        """Grab every frame with OpenCV, recording their times: ``(count, last time)``."""
        cap = cv2.VideoCapture(str(self.path))
        n, last = 0, None
        try:
            while cap.grab():
                last = cap.get(cv2.CAP_PROP_POS_MSEC)
                self._times.see(n, last, trusted=True)
                n += 1
        finally:
            cap.release()
        return n, last


def broken_link(path: str | os.PathLike) -> str | None:
    """Say where ``path``, a broken symbolic link, points (``None``: it is not one).

    A link to a disk or share that is not mounted (a Mac's ``/Volumes/…``) is listed
    by ``ls`` but cannot be opened: "not found" at the path shown would mislead.
    """
    path = Path(path)
    if not path.is_symlink() or path.exists():
        return None
    target = os.readlink(path)
    where = Path(os.path.normpath(path.parent / target))
    shown = target if str(where) == target else f"{target} ({where})"
    return (
        f"a broken link to {shown}: nothing is there (a disk or share not mounted, "
        "or a video moved); mount it, or link the video again "
        f"(ln -sfn NEW_PATH {shlex.quote(str(path))})"
    )


def _to_rgb(
    bgr: np.ndarray,
    crop: Crop | None,
    scale: float,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Crop, resize (by ``scale``, or to ``size``: ``(width, height)``), make RGB."""
    if crop is not None:
        bgr = crop.apply(bgr)
    if size is None and scale != 1.0:
        size = scaled_size(bgr.shape[1], bgr.shape[0], scale)
    if size is not None and bgr.shape[:2] != (size[1], size[0]):
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


def _read_whole(stream: Any, frame: np.ndarray) -> bool:
    """Fill ``frame`` from ``stream``; ``False`` if the stream ends first."""
    view = memoryview(frame).cast("B")
    got = 0
    while got < len(view) and (k := stream.readinto(view[got:])):
        got += k
    return got == len(view)


def _put_all(
    put: Callable[[Any], None], held: collections.deque, below: int | None = None
) -> None:
    """Put the frames ``held`` back (those with an index below ``below``), in order."""
    while held:
        item = held.popleft()
        if below is None or item[0] < below:
            put(item)


#: Frames the ffmpeg stream holds back (see :meth:`VideoReader._iter_ffmpeg`): more
#: than the 2 frames ffmpeg decodes beyond OpenCV in a cut H.264 MP4 (the frames in
#: the decoder's reorder buffer, which OpenCV does not flush on a read error).
_HOLD_BACK = 16


#: A stretch of frames that did not decode, as a stream holds it: ``(first, end,
#: ms of the frame before, ms of the frame after)``.
_Gap = tuple[int, int, float | None, float]


def _gap_from_start(
    cap: cv2.VideoCapture,
    frames: tuple[int, int | None],
    pos: int,
    lost_to: int | None,
) -> tuple[_Gap | None, int]:
    """Return the gap a stream of ``frames`` begins in (if any) and the position.

    ``pos`` and ``lost_to`` come from :meth:`VideoReader._open_at`: where a corrupt
    part covers ``start``, frame ``lost_to`` (after it) was grabbed, and a range
    that ends before it lost all its frames.
    """
    start, stop = frames
    if lost_to is None or lost_to <= start:
        return None, pos
    end = lost_to if stop is None else min(lost_to, stop)
    ms = cap.get(cv2.CAP_PROP_POS_MSEC) if end == lost_to else math.nan
    return (start, end, math.nan, ms), end


@functools.cache
def _ffmpeg_reports_times() -> bool:
    """Whether the ffmpeg binary writes each frame's timestamp (FFmpeg 6.1 and later)."""
    exe = _ffmpeg_exe()
    if exe is None:  # pragma: no cover - a declared dependency
        return False
    with tempfile.TemporaryDirectory(prefix="posekit-ffmpeg-") as folder:
        stats = Path(folder) / "t.txt"
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error"]
        cmd += ["-f", "lavfi", "-i", "color=size=16x16:rate=5:duration=0.4"]
        cmd += ["-map", "0:v:0", "-fps_mode", "passthrough"]
        cmd += ["-enc_time_base:v", "demux", "-stats_enc_pre:v", str(stats)]
        cmd += ["-stats_enc_pre_fmt:v", "{n} {ptsi} {tb}"]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", os.devnull]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):  # pragma: no cover
            return False
        return done.returncode == 0 and len(_read_frame_times(stats)) == 2


#: FFmpeg's AV_NOPTS_VALUE: a frame without a timestamp.
_NO_PTS = -(2**63)


def _read_frame_times(path: Path) -> list[float]:
    """Read ``-stats_enc_pre`` lines ``n ptsi tb`` into seconds (``nan``: none)."""
    out: list[float] = []
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        pts = _NO_PTS
        try:
            pts = int(parts[1])
            num, _, den = parts[2].partition("/")
            seconds = pts * int(num) / int(den or 1)
        except (ValueError, ZeroDivisionError):
            seconds = math.nan
        out.append(math.nan if pts == _NO_PTS else seconds)
    return out


@functools.cache
def _ffmpeg_exe() -> str | None:
    """Return the ffmpeg binary that ships with ``imageio-ffmpeg`` (or ``None``)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):  # pragma: no cover - a declared dependency
        return None


# ---------------------------------------------------------------- extraction


def frame_filename(index: int, n_frames: int) -> str:
    """Return DLC's name for an extracted frame.

    That is ``img`` + the index zero-padded to ``ceil(log10(n_frames))`` digits +
    ``.png``.

    Examples
    --------
    >>> frame_filename(7, 2330)
    'img0007.png'
    """
    from .project import index_length

    return f"img{str(int(index)).zfill(index_length(n_frames))}.png"


_FRAME_STEM = re.compile(r"img(\d+)")


def frame_index_of(name: str | os.PathLike) -> int | None:
    """Return the video frame index of an extracted image, else None.

    The inverse of :func:`frame_filename`: ``img0042.png`` (any extension, any
    folder) → 42; a name that is not ``img`` + digits → None.

    Examples
    --------
    >>> frame_index_of("labeled-data/m3v1mp4/img0042.png"), frame_index_of("x.png")
    (42, None)
    """
    m = _FRAME_STEM.fullmatch(Path(name).stem)
    return int(m.group(1)) if m else None


def select_frames_uniform(
    n_frames: int, n: int, *, start: float = 0.0, stop: float = 1.0
) -> np.ndarray:
    """``n`` evenly spaced frame indices within the ``[start, stop]`` fractions."""
    lo, hi = _range(n_frames, start, stop)
    n = min(n, hi - lo)
    return np.unique(np.linspace(lo, hi - 1, n).round().astype(int))


def _range(n_frames: int, start: float, stop: float) -> tuple[int, int]:
    if not (0 <= start < stop <= 1):
        raise ValueError(
            f"start and stop are fractions of the video with 0 <= start < stop <= 1; "
            f"received start={start}, stop={stop}"
        )
    return int(np.floor(start * n_frames)), max(int(np.ceil(stop * n_frames)), 1)


def select_frames_kmeans(
    reader: VideoReader,
    n: int,
    *,
    start: float = 0.0,
    stop: float = 1.0,
    crop: Crop | None = None,
    max_samples: int = 1000,
    resize_width: int = 30,
    seed: int = 0,
) -> np.ndarray:
    """Pick ``n`` visually diverse frames with k-means, as DeepLabCut does.

    Frames are sampled evenly (at most ``max_samples``) within ``[start, stop]``,
    downsampled to ``resize_width`` pixels wide in grayscale, clustered with
    ``MiniBatchKMeans(n)``, and one frame is drawn from each cluster (seeded).
    """
    from sklearn.cluster import MiniBatchKMeans

    lo, hi = _range(reader.expected_frames, start, stop)
    step = max(1, (hi - lo) // max_samples)
    feats, idx = [], []
    for i, frame in _sample_frames(reader, lo, hi, step, crop):
        h, w = frame.shape[:2]
        small = cv2.resize(
            cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY),
            (resize_width, max(1, round(h * resize_width / w))),
            interpolation=cv2.INTER_AREA,
        )
        feats.append(small.ravel().astype(np.float32) / 255.0)
        idx.append(i)
    idx_arr = np.asarray(idx)
    n = min(n, len(idx_arr))
    if n == 0:
        return idx_arr
    x = np.stack(feats)
    km = MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=256)
    labels = km.fit_predict(x)
    rng = np.random.default_rng(seed)
    picked = [
        int(rng.choice(np.flatnonzero(labels == c)))
        for c in range(n)
        if np.any(labels == c)
    ]
    if len(picked) < n:
        # DeepLabCut returns fewer frames when clusters stay empty (MiniBatchKMeans
        # leaves some on near-identical frames); add the frames most unlike the
        # chosen ones instead, so that n frames come out whenever n were sampled
        logger.info(
            "k-means left %d of %d clusters empty; adding the %d sampled frames "
            "most unlike those chosen",
            n - len(picked),
            n,
            n - len(picked),
        )
        picked = _farthest_first(x, picked, n)
    return np.sort(idx_arr[picked])


#: Sample by seeking when frames are at least this far apart, else decode through.
#: Measured on the 1-hour openfield H.264 video (keyframes every 180-250 frames),
#: 2 loaded cores: a seek costs 120-220 ms whatever the step, grabbing 1.5-2.3 ms a
#: frame, so seeking wins beyond ~100 frames (step 109: 160 vs 158 ms a sample;
#: step 512: 145 vs 1188 ms; step 2048: 160 vs 4229 ms).
SEEK_STEP = 128

#: A pass over at least this many frames shows a progress bar (a few seconds).
LONG_PASS = 5000


def _sample_frames(
    reader: VideoReader, lo: int, hi: int, step: int, crop: Crop | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield frames ``lo, lo + step, ...`` below ``hi``, with a progress bar.

    Far-apart frames are read by seeking (:data:`SEEK_STEP`), close ones in one
    decoding pass. Either way the samples end where the video really ends (a
    truncated file whose container promises more frames).
    """
    from ._progress import progress_bar

    wanted = range(lo, hi, step)
    with progress_bar(
        len(wanted),
        desc=f"sampling {reader.path.name}",
        unit="frame",
        disable=hi - lo < LONG_PASS,
    ) as bar:
        if step < SEEK_STEP:
            for i, frame in reader.iter_frames(lo, hi, step=step, crop=crop):
                bar.update()
                yield i, frame
            return
        for i in wanted:
            try:
                frame = reader.read(i)
            except IndexError:  # the container promised more frames than decode
                reader._warn_cut_short(i)
                return
            bar.update()
            yield i, (crop.apply(frame) if crop is not None else frame)


def _farthest_first(x: np.ndarray, picked: list[int], n: int) -> list[int]:
    """Extend ``picked`` (rows of ``x``) to ``n`` rows, each the farthest from the rest."""
    picked = list(dict.fromkeys(picked))
    dist = np.full(len(x), np.inf)
    for i in picked:
        dist = np.minimum(dist, ((x - x[i]) ** 2).sum(axis=1))
    while len(picked) < n:
        dist[picked] = -1.0
        i = int(np.argmax(dist))
        picked.append(i)
        dist = np.minimum(dist, ((x - x[i]) ** 2).sum(axis=1))
    return picked


class ExtractedFrames(list):
    """The images :func:`extract_frames` chose (a list of ``Path``) and what it did.

    Attributes
    ----------
    video
        The video.
    folder
        ``labeled-data/<video stem>/``.
    requested
        How many frames were asked for (``None`` with explicit ``indices``).
    new
        The images written now.
    existing
        The chosen images that were there already (kept as they were, labels valid).
    notes
        Sentences for the user: why fewer frames than asked came out, and a folder
        made for a video that ``config.yaml`` does not list.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        video: Path,
        folder: Path,
        requested: int | None,
        new: Sequence[Path],
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__(paths)
        self.video = video
        self.folder = folder
        self.requested = requested
        self.new = list(new)
        fresh = set(self.new)
        self.existing = [p for p in paths if p not in fresh]
        self.notes = tuple(notes)

    def summary(self) -> str:
        """Say how many frames, where, how many new, and the notes (one line each).

        Returns
        -------
        str
            E.g. ``"20 frames in labeled-data/m1 (16 new, 4 extracted before)"``.
        """
        where = f"labeled-data/{self.folder.name}"
        text = f"{len(self)} frames in {where} ({len(self.new)} new"
        text += f", {len(self.existing)} extracted before)" if self.existing else ")"
        return "\n".join([text, *self.notes])


def _choose_frames(
    reader: VideoReader,
    mode: str,
    n: int,
    start: float,
    stop: float,
    crop: Crop | None,
    seed: int,
    notes: list[str],
) -> np.ndarray:
    """Choose ``n`` frames (uniform or k-means); say in ``notes`` when fewer exist."""
    if mode not in ("uniform", "kmeans"):
        raise ValueError(f"mode must be 'uniform' or 'kmeans'; received {mode!r}")
    total = reader.expected_frames
    if mode == "uniform" and not reader._decodes(
        select_frames_uniform(total, n, start=start, stop=stop)
    ):
        total = reader.n_frames  # the container promised more: count them
    lo, hi = _range(total, start, stop)
    if hi - lo < n:
        notes.append(
            f"{reader.path.name} has only {hi - lo} frames between start={start:g} "
            f"and stop={stop:g} of its {total}, fewer than the {n} asked for."
        )
    if mode == "uniform":
        return select_frames_uniform(total, n, start=start, stop=stop)
    return select_frames_kmeans(reader, n, start=start, stop=stop, crop=crop, seed=seed)


def _same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two images of one shape show the same frame (decoders may differ a bit).

    Frames 1 apart differ by more than 24 levels in 0.5 % of their pixels (a mouse
    that moves, the QA's burned-in frame number); the same frame written as PNG
    by another build of the decoder in none.
    """
    diff = cv2.absdiff(a, b)
    if diff.ndim == 3:
        diff = diff.max(axis=2)
    return float(np.mean(diff > 24)) <= 0.001


class _WrongImages:
    """Images of ``labeled-data/<video>/`` that do not show the frame they are named after.

    posekit before 0.x read the frames of MPEG-PS/TS videos (``.mpg``, ``.ts``,
    ``.mts``) at wrong positions (12 or 250 frames off) and wrote them under the
    names of the frames asked for; frames extracted before were then kept. Such an
    image is written again when no label is placed on it; a labelled one is kept
    (its labels belong to the picture) and named in a note.
    """

    def __init__(self, project: Project, video: Path) -> None:
        self.project, self.video = project, video
        self.replaced: list[str] = []
        self.kept: list[str] = []
        self._labelled: set[str] | None = None

    def replaces(self, path: Path, frame: np.ndarray) -> bool:
        """Whether ``path`` exists but shows another picture than ``frame`` (BGR).

        ``True``: write ``frame`` over it (no label is placed on it).
        """
        if not path.exists():
            return False
        old = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if old is None or old.shape != frame.shape:  # another crop: cannot tell
            return False
        if _same_picture(old, frame):
            return False
        if path.name in self.labelled():
            self.kept.append(path.name)
            return False
        self.replaced.append(path.name)
        return True

    def check_others(
        self,
        reader: VideoReader,
        folder: Path,
        chosen: set[str],
        crop: Crop | None,
    ) -> None:
        """Check the folder's other ``img<index>.png`` against their frames too."""
        for path in sorted(folder.glob("img*.png")):
            index = frame_index_of(path)
            if path.name in chosen or index is None:
                continue
            try:
                frame = reader.read(index)
            except IndexError:
                continue
            if crop is not None:
                frame = crop.apply(frame)
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            if self.replaces(path, bgr):
                _write_png(path, bgr)

    def labelled(self) -> set[str]:
        """Names of the images the video's label file has rows for."""
        if self._labelled is None:
            self._labelled = set()
            if self.project.has_labels(self.video):
                try:
                    from .io.dlc import index_to_paths
                    from .labels import read_label_file

                    frame = read_label_file(self.project.labels_path(self.video)).frame
                    self._labelled = {Path(p).name for p in index_to_paths(frame.index)}
                except Exception:  # noqa: BLE001 - unreadable: keep every image
                    self._labelled = {"*"}
        if "*" in self._labelled:
            return _Everything()
        return self._labelled

    def notes(self) -> list[str]:
        """Sentences for the user about the images replaced or kept."""
        out = []
        if self.replaced:
            out.append(
                f"{len(self.replaced)} image(s) extracted before did not show the "
                f"frame they are named after ({_some(self.replaced)}; an older "
                f"posekit read frames of {self.video.suffix} videos at wrong "
                "positions) and were extracted again."
            )
        if self.kept:
            out.append(
                f"{len(self.kept)} labelled image(s) do not show the frame of "
                f"{self.video.name} they are named after ({_some(self.kept)}): "
                "kept with their labels, which belong to the image, but tools that "
                "map an image name to a video frame (refinement, comparing labels "
                "with an analysis) will be off. Delete those images and their "
                "labels (the Label app) and extract again."
            )
        return out


class _Everything(set):
    """A set that contains every name (a label file that cannot be read)."""

    def __contains__(self, item: object) -> bool:
        return True


def _some(names: Sequence[str]) -> str:
    return ", ".join(names[:4]) + (
        f" and {len(names) - 4} more" if len(names) > 4 else ""
    )


def _write_png(path: Path, bgr: np.ndarray) -> None:
    """Write an image atomically (a temporary file, then ``os.replace``)."""
    from ._fileio import atomic_path

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), bgr):
            raise OSError(f"could not write {path}")


def _write_frames(
    reader: VideoReader,
    chosen: np.ndarray,
    out_dir: Path,
    total: int,
    crop: Crop | None,
    overwrite: bool,
    wrong: _WrongImages,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[Path], list[Path], list[int]]:
    """Write the chosen frames: ``(paths, written now, frames that do not decode)``.

    An image there already is kept unless ``overwrite``, or unless it shows
    another picture than its frame and carries no label (:class:`_WrongImages`).
    """
    paths, new, missing = [], [], []
    for k, i in enumerate(chosen):
        path = out_dir / frame_filename(int(i), total)
        try:
            frame = reader.read(int(i))
        except IndexError:  # the container promised more frames than decode
            missing.append(int(i))
            continue
        if crop is not None:
            frame = crop.apply(frame)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if overwrite or not path.exists() or wrong.replaces(path, bgr):
            _write_png(path, bgr)
            new.append(path)
        paths.append(path)
        if progress is not None:
            progress(k + 1, len(chosen))
    return paths, new, missing


def extract_frames(
    project: Project | str | os.PathLike,
    video: str | os.PathLike,
    *,
    mode: Literal["uniform", "kmeans"] = "kmeans",
    n: int | None = None,
    start: float | None = None,
    stop: float | None = None,
    crop: Crop | str | None = None,
    indices: Sequence[int] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    progress=None,
) -> ExtractedFrames:
    """Extract frames for labelling into ``labeled-data/<video stem>/img<index>.png``.

    ``img<i>.png`` is frame ``i`` of a sequential decode of the video, whatever its
    container (:class:`VideoReader`). Nothing is written to ``config.yaml``. A
    video that ``video_sets`` does not list still gets its folder, and the result's
    notes say so (DeepLabCut's ``create_training_dataset`` reads only the folders
    of listed videos). Chosen frames that do not decode (the container announced
    more) are left out with a note.

    Parameters
    ----------
    project
        A :class:`posekit.engine.project.Project` (or its folder or ``config.yaml``).
    video
        A video of the project.
    mode
        ``"uniform"`` (evenly spaced) or ``"kmeans"`` (visually diverse, like DLC).
    n
        Number of frames (default: the config's ``numframes2pick``).
    start, stop
        Fractions of the video to pick from (default: the config's ``start``/``stop``).
    crop
        Optional crop (``Crop`` or ``"x1, x2, y1, y2"``); the saved image is cropped.
    indices
        Explicit frame indices (overrides ``mode``): "mark this frame for labelling".
    seed
        Random seed for k-means.
    overwrite
        Re-write frames that already exist (default: keep them, so labels stay
        valid). An image that exists but shows another picture than its frame
        (older versions read MPEG-PS/TS frames at wrong positions; for those
        containers every ``img*.png`` of the folder is checked) is written again
        when no label is placed on it; a labelled one is kept, and a note names it.
    progress
        Optional callable ``progress(done, total)`` (e.g. a widget's progress bar).

    Returns
    -------
    ExtractedFrames
        The image files chosen (existing ones included), a list of ``Path``, with
        the new and the existing ones apart and notes that say why fewer than ``n``
        came out (:meth:`ExtractedFrames.summary`).

    Raises
    ------
    ValueError
        Bad ``mode``, ``start``/``stop`` or ``indices``.
    VideoError
        The video cannot be read.
    """
    from .project import as_project

    project = as_project(project)
    video = Path(video)
    n = int(n if n is not None else project.get("numframes2pick", 20))
    start = float(start if start is not None else project.get("start", 0) or 0)
    stop = float(stop if stop is not None else project.get("stop", 1) or 1)
    if isinstance(crop, str):
        crop = Crop.parse(crop)
    out_dir = project.labeled_data_dir(video)
    folder_existed = out_dir.is_dir()
    notes: list[str] = []
    with VideoReader(video) as reader:
        # the container's count names the files, as DeepLabCut does; the chosen
        # frames are checked to decode
        total = reader.expected_frames
        if indices is not None:
            chosen = np.asarray(sorted({int(i) for i in indices}), dtype=int)
            if len(chosen) and (chosen.min() < 0 or chosen.max() >= total):
                raise ValueError(
                    f"frame indices must be within 0..{total - 1} for {video.name}"
                )
        else:
            chosen = _choose_frames(reader, mode, n, start, stop, crop, seed, notes)
        if len(chosen):
            out_dir.mkdir(parents=True, exist_ok=True)
        wrong = _WrongImages(project, video)
        paths, new, missing = _write_frames(
            reader, chosen, out_dir, total, crop, overwrite, wrong, progress
        )
        if not reader.seeks_exactly:  # where older versions read wrong frames
            wrong.check_others(reader, out_dir, {p.name for p in paths}, crop)
    if missing:
        notes.append(
            f"{len(missing)} of the chosen frames do not decode (frame "
            f"{', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''}"
            f"): {video.name} ends before the {total} frames its container "
            "announces; they were left out."
        )
    notes.extend(wrong.notes())
    if len(paths) > len(new):
        notes.append(
            f"{len(paths) - len(new)} of the chosen frames were extracted before and "
            "are kept as they are (their labels stay valid)."
        )
    if paths and not project.lists_video(video):
        notes.append(
            f"{video.name} is not listed in config.yaml's video_sets"
            + ("" if folder_existed else f"; its frames are in a new folder {out_dir}")
            + ". The labelling app lists that folder; DeepLabCut's "
            "create_training_dataset reads only the folders of listed videos "
            "(add the video with Project.add_videos)."
        )
    for note in notes:
        logger.info("extract_frames: %s", note)
    logger.info("extracted %d frames from %s to %s", len(paths), video.name, out_dir)
    return ExtractedFrames(
        paths,
        video=video,
        folder=out_dir,
        requested=None if indices is not None else n,
        new=new,
        notes=notes,
    )
