"""How much memory this process may use: the machine's, or its container's limit.

The apps warn before two memory-hungry jobs run together (an analysis while a training
runs) and refuse on a small machine such as mybinder.org's 2 GB, whose limit is a
cgroup's, not the machine's: :func:`memory_limit_bytes` reads both, and
:func:`is_small_machine` compares it with :data:`SMALL_MEMORY_BYTES`.

Examples
--------
>>> memory_limit_bytes() > 0
True
>>> format_gb(2 * 2**30)
'2.0 GB'
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = [
    "SMALL_MEMORY_BYTES",
    "format_gb",
    "is_small_machine",
    "memory_limit_bytes",
]

#: Below this much memory (the machine's or its cgroup's limit) a training and an
#: analysis together (about 2.6 GB at their peak, QA s22) do not fit.
SMALL_MEMORY_BYTES = 3 * 2**30


def _physical_bytes() -> int | None:
    """Return the machine's memory, or ``None`` when it cannot be read."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        pages = os.sysconf("SC_PHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages) * int(size)
    try:  # (Windows: no sysconf)
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return None
    return int(psutil.virtual_memory().total)


def _read_limit(path: Path) -> int | None:
    """Return the limit in a cgroup file (``max``: none), or ``None``."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit():  # "max": no limit
        return None
    return int(text)


def _cgroup_files(proc_cgroup: Path, root: Path) -> list[Path]:
    """Return the memory limit files of this process's cgroups, inner first.

    cgroup v2 (``0::/path``: ``memory.max``) and v1 (``N:memory:/path``:
    ``memory/…/memory.limit_in_bytes``), the cgroup itself and its ancestors; in a
    container the cgroup's own folder is the mounted root.
    """
    try:
        lines = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    files = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, where = parts
        if controllers == "":
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = Path(where.strip() or "/")
        for level in [folder, *folder.parents]:
            files.append(base / str(level).lstrip("/") / name)
    files += [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    return list(dict.fromkeys(files))


def memory_limit_bytes(
    *,
    cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
    proc_cgroup: str | os.PathLike = "/proc/self/cgroup",
) -> int:
    """Return how much memory this process may use, in bytes.

    The smallest of the machine's memory, the memory limits of its cgroups (v1 and
    v2, the process's own and their ancestors': a Docker or Kubernetes container,
    mybinder.org) and ``$MEM_LIMIT`` (bytes; set by mybinder.org and JupyterHub's
    spawners). A cgroup value of ``max`` or above the machine's memory is no limit.

    Parameters
    ----------
    cgroup_root
        Where the cgroup file system is mounted.
    proc_cgroup
        The file that names this process's cgroups.

    Returns
    -------
    int
        Bytes; the machine's memory when nothing else is known (0 when even that
        cannot be read).
    """
    physical = _physical_bytes()
    limits = [physical] if physical else []
    for path in _cgroup_files(Path(proc_cgroup), Path(cgroup_root)):
        value = _read_limit(path)
        if value and (physical is None or value < physical):
            limits.append(value)
    env = os.environ.get("MEM_LIMIT", "").strip()
    if env.isdigit() and int(env) > 0:
        limits.append(int(env))
    return min(limits) if limits else 0


def is_small_machine(limit_bytes: int | None = None) -> bool:
    """Return whether a training and an analysis together would not fit in memory.

    Parameters
    ----------
    limit_bytes
        The memory to judge (default: :func:`memory_limit_bytes`).

    Returns
    -------
    bool
        ``True`` under :data:`SMALL_MEMORY_BYTES` (unknown memory is not small).

    Examples
    --------
    >>> is_small_machine(2 * 10**9), is_small_machine(16 * 2**30)
    (True, False)
    """
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    return 0 < limit < SMALL_MEMORY_BYTES


def format_gb(n_bytes: int) -> str:
    """Return a memory size in GB as a machine's is sold: 2³⁰ bytes, one decimal.

    mybinder.org's "2 GB" is a cgroup limit of 2 GiB; it reads ``2.0 GB``.

    Examples
    --------
    >>> format_gb(3 * 2**29)
    '1.5 GB'
    """
    return f"{n_bytes / 2**30:.1f} GB"
