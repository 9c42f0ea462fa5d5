"""Labelled images read from disk on demand, decoded frames kept up to a byte budget.

A training set of 1850 labelled 640×480 frames is 1.6 GB decoded: more than a 2 GB
Binder or JupyterHub can hold beside TensorFlow. :class:`ImageList` is a sequence of
RGB images that decodes each one when it is first asked for and keeps the most
recently used ones while they fit in :data:`DEFAULT_CACHE_BYTES`; a typical project
(100–500 frames) stays entirely in memory after the first epoch, as before.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import cv2
import numpy as np

__all__ = ["DEFAULT_CACHE_BYTES", "ImageList"]

#: Decoded images kept in memory at most (bytes): 512 MB, about 550 frames of
#: 640×480, so a project of a few hundred labelled frames is read from disk once.
DEFAULT_CACHE_BYTES = 512 * 2**20


class _Cache:
    """Decoded images by file, least recently used dropped beyond ``budget`` bytes."""

    def __init__(self, budget: int, error: type[Exception]) -> None:
        self.budget = int(budget)
        self.error = error
        self.nbytes = 0
        self.reads = 0  # images decoded from disk (a counter for tests)
        self._items: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> np.ndarray:
        with self._lock:
            img = self._items.get(path)
            if img is not None:
                self._items.move_to_end(path)
                return img
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise self.error(f"labelled image {path} is missing or unreadable")
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with self._lock:
            self.reads += 1
            if img.nbytes <= self.budget and path not in self._items:
                self._items[path] = img
                self.nbytes += img.nbytes
                while self.nbytes > self.budget:
                    _, old = self._items.popitem(last=False)
                    self.nbytes -= old.nbytes
        return img


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
