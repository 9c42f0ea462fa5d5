"""One training at a time per project, one analysis per output: job lock files.

Two browser tabs, two users or a tab and a terminal could otherwise start two trainings
that write into the same model folder, or two analyses that write the same prediction
files. :func:`job_lock` takes a lock for a *kind* of job (``"training"``,
``"analysis"``) on a project for as long as the job runs:

- the lock file is ``<project>/.posekit-<kind>.lock``; it holds who runs the job (the
  verb, the process id, the host, when it started) as JSON;
- the lock itself is the operating system's lock on that file (``flock`` on POSIX,
  ``msvcrt.locking`` on Windows), which the system releases when the process ends in
  any way, SIGKILL included. A lock file left behind by a process that is gone is
  therefore *stale*: the next job takes it over (and logs that it did);
- a second job of the same kind gets :class:`JobLockError`, whose message names the
  running job (``train_network``, pid, host, start time) and what to do.

The workflow verb :func:`posekit.engine.api.train_network` takes the training lock,
so the command line, the Python API and the apps are all protected. The lock is per
project, not per shuffle.

A video analysis locks what it writes instead (:func:`output_lock`): one lock file per
output, ``.<output name>.lock`` beside the ``.h5``, so that the tasks of a job array
that each analyse their own video (``posekit analyze PROJECT video_$ID.mp4``) run
together, while a second analysis of the same video into the same file is refused.
The lock lies in the output folder, so a read-only project analysed into another
folder (``--dest``) needs no write access to the project.

Stopping a job from another process: :func:`request_stop` creates
``<project>/.posekit-<kind>.stop``. A training checks for it before every step and
stops as on Ctrl-C (test error measured, snapshot saved);
:func:`posekit.engine.api.train_network` points its trainer at it. The holder of the
lock removes the file when it takes the lock (one left by an earlier request is
stale) and when it releases it. This is how a reopened Train app stops a training
that a closed browser tab started (:func:`running_job` says who runs it), and it
works from a shell too: ``touch <project>/.posekit-training.stop``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "JOB_KINDS",
    "JobLockError",
    "JobRecord",
    "job_lock",
    "lock_path",
    "file_mutex",
    "output_lock",
    "output_lock_path",
    "request_stop",
    "running_job",
    "stop_path",
    "stop_requested",
]

logger = logging.getLogger("posekit.engine.locks")

#: The kinds of jobs that run one at a time per project.
JOB_KINDS = ("training", "analysis")

# Windows locks a byte range (mandatorily): lock one far beyond the JSON record, so
# that other processes can still read the record.
_WINDOWS_LOCK_OFFSET = 1 << 30


@dataclass(frozen=True)
class JobRecord:
    """Who holds a job lock: what is written in the lock file."""

    kind: str
    verb: str
    pid: int
    host: str
    started_at: str

    def describe(self) -> str:
        """Say which job this is, in words.

        Examples
        --------
        >>> JobRecord("training", "train_network", 4242, "lab1",
        ...           "2026-01-01T10:00:00").describe()
        'train_network (pid 4242 on lab1, started 2026-01-01T10:00:00)'
        """
        return f"{self.verb} (pid {self.pid} on {self.host}, started {self.started_at})"


class JobLockError(OSError):
    """Another job of the same kind runs on the project.

    Attributes
    ----------
    record : JobRecord or None
        The running job, when its lock file could be read.
    path : pathlib.Path
        The lock file.
    """

    def __init__(self, message: str, record: JobRecord | None, path: Path) -> None:
        super().__init__(message)
        self.record = record
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


def _check_kind(kind: str) -> None:
    if kind not in JOB_KINDS:
        raise ValueError(f"kind must be one of {JOB_KINDS}. Received: kind={kind!r}")


def lock_path(project_dir: str | os.PathLike, kind: str) -> Path:
    """Return the lock file of a kind of job on a project.

    Parameters
    ----------
    project_dir
        The project folder (the one holding ``config.yaml``).
    kind
        ``"training"`` or ``"analysis"``.

    Returns
    -------
    pathlib.Path
        ``<project>/.posekit-<kind>.lock``.

    Raises
    ------
    ValueError
        If ``kind`` is not one of :data:`JOB_KINDS`.
    """
    _check_kind(kind)
    return Path(project_dir) / f".posekit-{kind}.lock"


def stop_path(project_dir: str | os.PathLike, kind: str) -> Path:
    """Return the file that asks the running job of a kind to stop.

    Parameters
    ----------
    project_dir
        The project folder.
    kind
        ``"training"`` or ``"analysis"``.

    Returns
    -------
    pathlib.Path
        ``<project>/.posekit-<kind>.stop``.

    Raises
    ------
    ValueError
        If ``kind`` is not one of :data:`JOB_KINDS`.
    """
    _check_kind(kind)
    return Path(project_dir) / f".posekit-{kind}.stop"


def request_stop(project_dir: str | os.PathLike, kind: str = "training") -> Path:
    """Ask the job of a kind that runs on a project to stop, from any process.

    Creates :func:`stop_path` (it says who asked, as JSON). A training sees it
    before its next step, measures the test error, saves a snapshot and returns
    with ``stop_reason == "stop_requested"``; the file is removed when the job
    releases its lock. Without a running job the file is stale and removed when
    the next job starts.

    Parameters
    ----------
    project_dir
        The project folder.
    kind
        ``"training"`` (the only kind that checks for it so far).

    Returns
    -------
    pathlib.Path
        The file created.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> request_stop(folder).name, stop_requested(folder, "training")
    ('.posekit-training.stop', True)
    """
    path = stop_path(project_dir, kind)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "requested_at": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def stop_requested(project_dir: str | os.PathLike, kind: str) -> bool:
    """Return whether a stop of the job of ``kind`` was asked (:func:`request_stop`)."""
    return stop_path(project_dir, kind).exists()


def _clear_stop(project_dir: str | os.PathLike, kind: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        stop_path(project_dir, kind).unlink()


def _try_lock(fd: int) -> bool:
    """Take the system lock on ``fd`` without waiting; whether it was free."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise
    return True


def _release(fd: int, path: Path, *, record: bool = False) -> None:
    """Remove a held lock file, unlock it and close it.

    The file is removed while still locked: a process that opened it meanwhile sees
    that it was removed (:func:`_same_file`) and opens the new one.
    """
    with contextlib.suppress(OSError):
        if _same_file(fd, path):
            path.unlink()
    with contextlib.suppress(OSError):
        if record:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        else:
            _unlock(fd)
    os.close(fd)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _read_record(fd: int) -> JobRecord | None:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8"))
        return JobRecord(**{k: data[k] for k in JobRecord.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None  # empty (being written) or not posekit's


def _write_record(fd: int, record: JobRecord) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(asdict(record), indent=1) + "\n").encode("utf-8"))
    with contextlib.suppress(OSError):
        os.fsync(fd)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not unlinked meanwhile)."""
    try:
        st = os.stat(path)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ESTALE):  # ESTALE: removed, on NFS
            return False
        raise
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _busy_message(
    kind: str, record: JobRecord | None, path: Path, where: str = "on this project"
) -> str:
    who = record.describe() if record else "another process (it is just starting)"
    same_host = record is not None and record.host == socket.gethostname()
    gone = (
        f"if that process is gone, delete {path}"
        if not same_host
        else "the lock goes away by itself when that process ends"
    )
    article = "An" if kind[:1].lower() in "aeiou" else "A"
    return (
        f"{article} {kind} already runs {where}: {who}. Wait until it finishes or "
        f"stop it, then start again ({gone})."
    )


def _lock_soon(fd: int, tries: int = 5) -> bool:
    """Take the lock, retrying briefly (a :func:`running_job` probe holds it shortly)."""
    for k in range(tries):
        if _try_lock(fd):
            return True
        if k + 1 < tries:
            time.sleep(0.02)
    return False


def _acquire(
    path: Path, kind: str, verb: str, where: str = "on this project"
) -> tuple[int, JobRecord]:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _lock_soon(fd):
                record = _read_record(fd)
                raise JobLockError(
                    _busy_message(kind, record, path, where), record, path
                )
            if not _same_file(fd, path):  # released and removed while we opened it
                _unlock(fd)
                os.close(fd)
                continue
            stale = _read_record(fd)
            if stale is not None:
                logger.info(
                    "%s: took over the stale lock of %s, which is gone",
                    path,
                    stale.describe(),
                )
            record = JobRecord(
                kind=kind,
                verb=verb,
                pid=os.getpid(),
                host=socket.gethostname(),
                started_at=_dt.datetime.now().isoformat(timespec="seconds"),
            )
            _write_record(fd, record)
            return fd, record
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


@contextlib.contextmanager
def job_lock(
    project_dir: str | os.PathLike, kind: str, verb: str
) -> Iterator[JobRecord]:
    """Hold the project's lock for a kind of job while the block runs.

    Parameters
    ----------
    project_dir
        The project folder.
    kind
        ``"training"`` or ``"analysis"``.
    verb
        What runs, as the message to a second job names it (``"train_network"``).

    Yields
    ------
    JobRecord
        This job, as written in the lock file.

    Raises
    ------
    JobLockError
        If a job of that kind runs on the project (its message names the job).
    ValueError
        If ``kind`` is unknown.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with job_lock(folder, "training", "train_network") as job:
    ...     running_job(folder, "training") == job
    True
    >>> running_job(folder, "training") is None
    True
    """
    path = lock_path(project_dir, kind)
    fd, record = _acquire(path, kind, verb)
    try:
        _clear_stop(project_dir, kind)  # asked of an earlier job: stale
        yield record
    finally:
        with contextlib.suppress(OSError):
            _clear_stop(project_dir, kind)
        _release(fd, path)


def output_lock_path(output: str | os.PathLike) -> Path:
    """Return the lock file of an analysis output: ``.<name>.lock`` beside it.

    Examples
    --------
    >>> output_lock_path("/data/v1DLC_net.h5").name
    '.v1DLC_net.h5.lock'
    """
    output = Path(output)
    return output.with_name(f".{output.name}.lock")


@contextlib.contextmanager
def output_lock(
    outputs: str | os.PathLike | Iterable[str | os.PathLike], verb: str
) -> Iterator[list[JobRecord]]:
    """Hold the analysis lock of each output file while the block runs.

    The locks are taken in sorted order (two runs on overlapping videos cannot
    wait on each other), all or none: when one is held by another process, those
    taken are released and :class:`JobLockError` names the job that writes it.

    Parameters
    ----------
    outputs
        The ``.h5`` file(s) the analysis writes (their folders must exist or be
        creatable).
    verb
        What runs, as the message to a second analysis names it.

    Yields
    ------
    list of JobRecord
        This job, once per output.

    Raises
    ------
    JobLockError
        If an analysis writes one of the outputs now.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "v1DLC_net.h5"
    >>> with output_lock(out, "analyze_videos"):
    ...     output_lock_path(out).exists()
    True
    >>> output_lock_path(out).exists()
    False
    """
    if isinstance(outputs, (str, os.PathLike)):
        outputs = [outputs]
    paths = sorted({output_lock_path(o) for o in outputs})
    held: list[tuple[int, Path]] = []
    records = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            name = path.name[1 : -len(".lock")]
            fd, record = _acquire(path, "analysis", verb, f"that writes {name}")
            held.append((fd, path))
            records.append(record)
        yield records
    finally:
        for fd, path in reversed(held):
            _release(fd, path)


@contextlib.contextmanager
def file_mutex(path: str | os.PathLike, *, record: bool = False) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` while the block runs, waiting for it.

    For work that several processes may start at once and only one should do (the
    first TFLite conversion of a model that the tasks of a job array all need): the
    others wait, then find the work done. The file is removed on release (while still
    locked: a waiter that opened it meanwhile sees that and opens the new one). Yields
    ``False`` (and locks nothing) where the lock file cannot be created (a read-only
    folder; Windows).

    Parameters
    ----------
    path
        The lock file.
    record
        Take a POSIX record lock (``fcntl.lockf``) instead of ``flock``: a network
        drive (NFS, SMB) passes it on to the server, so processes on several computers
        exclude each other. A record lock belongs to the process: threads of one
        process do not exclude each other with it (the caller keeps a thread lock).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / ".convert.lock"
    >>> with file_mutex(path) as locked:
    ...     locked, path.exists()
    (True, True)
    >>> path.exists()
    False
    """
    path = Path(path)
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    lock = fcntl.lockf if record else fcntl.flock
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            logger.debug("no lock %s: %s", path, err)
            yield False
            return
        try:
            lock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # removed by its holder meanwhile: take the new one
    try:
        yield True
    finally:
        _release(fd, path, record=record)


def running_job(project_dir: str | os.PathLike, kind: str) -> JobRecord | None:
    """Return the job of a kind that runs on a project now, if any.

    A lock file left by a process that is gone (a stale lock) is not a running job.

    Parameters
    ----------
    project_dir
        The project folder.
    kind
        ``"training"`` or ``"analysis"``.

    Returns
    -------
    JobRecord or None
        The running job, or ``None`` when no job of that kind runs. (A job that is
        just starting and has not written its record yet shows as verb ``"?"``.)
    """
    path = lock_path(project_dir, kind)
    try:
        fd = os.open(path, os.O_RDONLY if fcntl is not None else os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return _read_record(fd) or JobRecord(kind, "?", -1, "?", "?")
    finally:
        os.close(fd)
