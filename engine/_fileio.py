"""Atomic file writing: a kill at any moment leaves the previous file intact."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "atomic_path",
    "atomic_paths",
    "atomic_write_text",
    "atomic_write_bytes",
    "remove_stale_temps",
]


#: A temporary file untouched this long is a leftover of a killed writer: a writer
#: still at work (a long video) keeps touching its temporary file.
STALE_TEMP_SECONDS = 600.0


def remove_stale_temps(
    path: str | os.PathLike, older_than: float = STALE_TEMP_SECONDS
) -> list[Path]:
    """Remove ``path``'s temporary files (``.<name>.<random><suffix>``) a kill left.

    Only files not modified for ``older_than`` seconds go: a writer still at work
    keeps its temporary file's modification time fresh.

    Examples
    --------
    >>> import tempfile, pathlib, os
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> left = d / ".a.txt.k2j8d0_x.txt"
    >>> _ = left.write_text("half")
    >>> os.utime(left, (0, 0))
    >>> [p.name for p in remove_stale_temps(d / "a.txt")]
    ['.a.txt.k2j8d0_x.txt']
    """
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}(\..+)?$")
    removed = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*"))
    except OSError:
        return removed
    now = time.time()
    for tmp in candidates:
        try:
            if pattern.match(tmp.name) and now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def _temp_beside(path: Path, suffix: str | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # let the writer create it (PyTables refuses an empty file)
    return tmp_path


def _fsync(path: Path) -> None:
    if path.exists():
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it over ``path`` on success.

    The temporary file lives in the same folder (so ``os.replace`` is atomic) and keeps
    the file's suffix (so libraries that dispatch on the extension still work). On an
    exception the temporary file is removed and ``path`` is left untouched. Temporary
    files of ``path`` that a killed writer left (:func:`remove_stale_temps`) are
    removed first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    with atomic_paths(path, suffixes=[suffix]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(
    *paths: str | os.PathLike, suffixes: Sequence[str | None] | None = None
) -> Iterator[list[Path]]:
    """Like :func:`atomic_path` for files that go together (``.h5`` and ``.csv``).

    Every temporary file is written and synced before the first is moved into
    place, and then all are moved back to back: a failure while writing leaves
    every old file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_paths(d / "a.h5", d / "a.csv") as (h5, csv):
    ...     _ = h5.write_text("1")
    ...     _ = csv.write_text("1")
    >>> sorted(p.name for p in d.iterdir())
    ['a.csv', 'a.h5']
    """
    targets = [Path(p) for p in paths]
    suffixes = list(suffixes) if suffixes is not None else [None] * len(targets)
    tmps: list[Path] = []
    try:
        for target, suffix in zip(targets, suffixes, strict=True):
            tmps.append(_temp_beside(target, suffix))
        yield tmps
        for tmp in tmps:
            _fsync(tmp)
        for tmp, target in zip(tmps, targets, strict=True):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike, text: str, encoding: str = "utf-8"
) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding))
