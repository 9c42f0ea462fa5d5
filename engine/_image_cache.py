"""Labelled images read from disk on demand, decoded frames kept up to a byte budget.

A training set of 1850 labelled 640×480 frames is 1.6 GB decoded: more than a 2 GB
Binder or JupyterHub can hold beside TensorFlow. :class:`ImageList` is a sequence of
RGB images that decodes each one when it is first asked for and keeps the most
recently used ones while they fit in :data:`DEFAULT_CACHE_BYTES`; a typical project
(100–500 frames) stays entirely in memory after the first epoch, as before.

What training needs before its first step reads no pixels:
:meth:`ImageList.shape` (and :attr:`ImageList.shapes`) come from the file headers,
and :meth:`ImageList.check` finds truncated or corrupt files from their structure
(PNG chunks and checksums), some 20× cheaper than decoding them. A file that only
fails when decoded is reported, with the same advice, when it is first used.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import cv2
import numpy as np

__all__ = ["DEFAULT_CACHE_BYTES", "ImageList", "frame_shapes"]

#: Decoded images kept in memory at most (bytes): 512 MB, about 550 frames of
#: 640×480, so a project of a few hundred labelled frames is read from disk once.
DEFAULT_CACHE_BYTES = 512 * 2**20

#: What to do about a labelled image that cannot be read (as in
#: :func:`posekit.engine.io.dlc.check_labels`).
_ADVICE = (
    "put it back (extract_frames(project, video, indices=[...]) writes "
    "img<index>.png again from a video of the project), or remove its row from the "
    "label file and create the training set again (`posekit "
    "create-training-dataset PROJECT`)"
)

#: EXIF orientations that swap width and height (OpenCV applies them when decoding).
_TRANSPOSED = {5, 6, 7, 8}


def _decode(path: Path) -> np.ndarray | None:
    """Decode ``path`` to RGB ``uint8`` (``None``: OpenCV cannot)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _orientation(im) -> int:
    """Return the EXIF orientation of an opened (not loaded) PIL image; 1: none."""
    from PIL import Image

    raw = im.info.get("exif")
    try:
        if raw is not None:
            exif = Image.Exif()
            exif.load(raw)
        elif im.format == "PNG":
            return 1  # a late eXIf chunk: PIL would decode the pixels to reach it
        else:
            exif = im.getexif()
        return int(exif.get(0x0112, 1))
    except Exception:  # noqa: BLE001 - unreadable EXIF: OpenCV ignores it too
        return 1


def _header(path: Path, verify: bool) -> tuple[tuple[int, int, int] | None, str]:
    """``(H, W, 3)`` of the RGB image ``path`` decodes to, from its header.

    With ``verify``, also check the file's structure without decoding pixels
    (:meth:`PIL.Image.Image.verify`: every PNG chunk present, checksums right).
    Returns ``(None, reason)`` when PIL cannot read the header or the check fails.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            if _orientation(im) in _TRANSPOSED:
                w, h = h, w
            if verify:
                im.verify()
    except Exception as err:  # noqa: BLE001 - any failure: the reason is reported
        return None, f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return (int(h), int(w), 3), ""


class _Cache:
    """Decoded images by file, least recently used dropped beyond ``budget`` bytes.

    Also the shapes of the files (from their headers, or from a decode) and which
    files :meth:`ImageList.check` found whole; shared by the views of one list.
    """

    def __init__(self, budget: int, error: type[Exception]) -> None:
        self.budget = int(budget)
        self.error = error
        self.nbytes = 0
        self.reads = 0  # images decoded from disk (a counter for tests)
        self._items: OrderedDict[Path, np.ndarray] = OrderedDict()
        self.shapes: dict[Path, tuple[int, int, int]] = {}
        self.checked: set[Path] = set()
        self._lock = threading.Lock()

    def get(self, path: Path) -> np.ndarray:
        with self._lock:
            img = self._items.get(path)
            if img is not None:
                self._items.move_to_end(path)
                return img
        img = _decode(path)
        if img is None:
            raise self.error(
                f"labelled image {path} is missing or unreadable (it does not "
                f"decode: truncated or corrupt?): {_ADVICE}"
            )
        with self._lock:
            self.reads += 1
            self.shapes[path] = img.shape  # what a header may have said otherwise
            if img.nbytes <= self.budget and path not in self._items:
                self._items[path] = img
                self.nbytes += img.nbytes
                while self.nbytes > self.budget:
                    _, old = self._items.popitem(last=False)
                    self.nbytes -= old.nbytes
        return img

    def shape(self, path: Path, verify: bool = False) -> tuple[int, int, int]:
        """Return the decoded shape of ``path`` from its header (or from a decode).

        With ``verify``, the file's structure is checked once as well; a file that
        fails the check is decoded to confirm it (OpenCV reads some files PIL
        refuses), and reported when that fails too.
        """
        with self._lock:
            known = self.shapes.get(path)
            if known is not None and (not verify or path in self.checked):
                return known
        shape, reason = _header(path, verify)
        if shape is None:  # unknown to PIL, or failed the check: does it decode?
            try:
                shape = self.get(path).shape
            except self.error:
                why = f" ({reason})" if reason else ""
                raise self.error(
                    f"labelled image {path} is unreadable: truncated or corrupt"
                    f"{why}. {_ADVICE[0].upper()}{_ADVICE[1:]}"
                ) from None
        with self._lock:
            shape = self.shapes.setdefault(path, shape)
            if verify:
                self.checked.add(path)
        return shape


class ImageList(Sequence):
    """RGB ``uint8`` images of files, decoded when asked for, cached up to a budget.

    Parameters
    ----------
    paths
        The image files.
    cache_bytes
        Decoded images kept in memory at most (default
        :data:`DEFAULT_CACHE_BYTES`; 0: none, every access reads the file).
    error
        The exception raised for a file that is missing or does not decode.

    Raises
    ------
    error
        At construction, when a file does not exist.

    Examples
    --------
    >>> import tempfile, cv2, numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for k in range(3):
    ...     _ = cv2.imwrite(str(folder / f"img{k}.png"), np.full((4, 6, 3), k, np.uint8))
    >>> images = ImageList(sorted(folder.glob("*.png")))
    >>> images.check(); images.shapes, images.reads  # headers only: nothing decoded
    ([(4, 6, 3), (4, 6, 3), (4, 6, 3)], 0)
    >>> len(images), images[2].shape, int(images[2][0, 0, 0])
    (3, (4, 6, 3), 2)
    >>> len(images.take([0, 2])), images.reads
    (2, 1)
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        *,
        cache_bytes: int | None = None,
        error: type[Exception] = OSError,
    ) -> None:
        self._paths = [Path(p) for p in paths]
        missing = [p for p in self._paths if not p.is_file()]
        if missing:
            raise error(
                f"labelled image {missing[0]} is missing or unreadable"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        budget = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
        self._cache = _Cache(budget, error)

    @classmethod
    def _view(cls, paths: list[Path], cache: _Cache) -> ImageList:
        out = cls.__new__(cls)
        out._paths = paths
        out._cache = cache
        return out

    def take(self, indices: Sequence[int]) -> ImageList:
        """Return the images at ``indices``, sharing this list's cache."""
        return self._view([self._paths[int(i)] for i in indices], self._cache)

    def shape(self, index: int) -> tuple[int, int, int]:
        """``self[index].shape`` without decoding: ``(H, W, 3)`` from the file header.

        Cached (shared with the views of this list). A file PIL cannot read the
        header of is decoded instead.
        """
        return self._cache.shape(self._paths[index])

    @property
    def shapes(self) -> list[tuple[int, int, int]]:
        """``[img.shape for img in self]`` from the file headers: no pixel decoded."""
        return [self._cache.shape(p) for p in self._paths]

    def check(self) -> None:
        """Check that every file is whole, without decoding its pixels.

        Reads each header and the file's structure (:meth:`PIL.Image.Image.verify`:
        for a PNG every chunk and its checksum, which finds a truncated or corrupt
        file); a file that fails is decoded to confirm it. Records the shapes. Once
        per file (shared with the views of this list).

        Raises
        ------
        error
            Naming the unreadable files and what to do.
        """
        bad: list[tuple[Path, str]] = []
        for p in self._paths:
            try:
                self._cache.shape(p, verify=True)
            except self._cache.error as err:
                bad.append((p, str(err)))
        if bad:
            message = bad[0][1]
            if len(bad) > 1:
                others = ", ".join(str(p) for p, _ in bad[1:4])
                rest = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
                message += f". Also unreadable: {others}{rest}."
            raise self._cache.error(message)

    @property
    def reads(self) -> int:
        """How many images were decoded from disk so far (cache misses)."""
        return self._cache.reads

    @property
    def cached_bytes(self) -> int:
        """Bytes of decoded images held now."""
        return self._cache.nbytes

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> ImageList: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._view(self._paths[index], self._cache)
        return self._cache.get(self._paths[index])

    def __iter__(self) -> Iterator[np.ndarray]:
        for p in self._paths:
            yield self._cache.get(p)

    def __repr__(self) -> str:
        return (
            f"ImageList({len(self)} images, {self.cached_bytes / 2**20:.0f} of "
            f"{self._cache.budget / 2**20:.0f} MB cached)"
        )


def frame_shapes(images: Iterable[np.ndarray]) -> list[tuple[int, ...]]:
    """Return the shapes of ``images``: an :class:`ImageList`'s from file headers.

    Examples
    --------
    >>> frame_shapes([np.zeros((4, 6, 3), np.uint8)])
    [(4, 6, 3)]
    """
    if isinstance(images, ImageList):
        return images.shapes
    return [tuple(np.shape(img)) for img in images]
