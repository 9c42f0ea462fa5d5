"""What runs on a project now, said in words for the Analyze and Train apps.

A training and an analysis of the same project together need more memory than a
2 GB server (mybinder.org) has: trainer 1.3 GB, the analysis' conversion for LiteRT
0.7 GB, the apps' kernels 0.2 GB each (QA s22: 2.6 GB at the peak). Each app
therefore says, before it starts its job, that the other one runs, and refuses on a
small machine (:func:`posekit.engine._memory.is_small_machine`) unless told to go
ahead anyway.

- A training holds the project's training lock
  (:func:`posekit.engine.locks.running_job`); when its pid is the one in the Train
  app's job file (:data:`posekit.widgets.training_model.JOB_FILE`) the Train app
  started it.
- An analysis of the Analyze app runs in its page's kernel, which writes
  :data:`APP_ANALYSIS_FILE` in the project folder while it analyses (its process,
  the videos, the one it is on). A record that says ``running`` whose process is
  gone is an analysis that stopped when its page was left or reloaded (the kernel
  ends with its page): :func:`interrupted_app_analysis`. A multi-animal analysis
  also holds the project's analysis lock, which any analysis holds that way.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.project import Project

logger = logging.getLogger("posekit.widgets.jobs")

#: The Analyze app's running analysis (JSON), in the project folder.
APP_ANALYSIS_FILE = ".posekit-analyze-app.json"

#: What the Train app's job file is called (``training_model.JOB_FILE``; not
#: imported from there: that module loads Bokeh).
_TRAIN_JOB_FILE = "posekit-app-job.json"


def clock(started_at: str) -> str:
    """Return when a job started as people read it: ``HH:MM``, the day if not today.

    The lock and job files write the local time in ISO format.

    Examples
    --------
    >>> clock("2026-12-07T12:21:12")[-5:]
    '12:21'
    >>> clock("?")
    'a moment ago'
    """
    try:
        when = _dt.datetime.fromisoformat(str(started_at))
    except ValueError:
        return "a moment ago"
    if when.date() == _dt.date.today():
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def _process_start(pid: int) -> float | None:
    """Return when process ``pid`` started (seconds since the epoch), or ``None``."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except (psutil.Error, OSError):
        return None


def _process_alive(pid: Any, started: Any) -> bool:
    """Whether process ``pid``, started at ``started`` (a reused pid is not it), runs."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        import psutil  # noqa: F401 - the start time tells a reused pid
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    now = _process_start(pid)
    if now is None:
        return False
    return not isinstance(started, int | float) or abs(now - float(started)) < 1.0


# ---------------------------------------------------------------- training
def training_origin(project: Project) -> str | None:
    """Return who started the training that runs on ``project`` and when, or ``None``.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    str or None
        ``"started from the Train app at 12:21"`` (or ``"… outside the Train app
        (the command line or a notebook) …"``); ``None`` when no training runs.
    """
    from ..engine.locks import running_job

    try:
        job = running_job(project.path, "training")
    except OSError:
        return None
    if job is None:
        return None
    when = clock(job.started_at)
    for path in Path(project.path).glob(
        f"dlc-models*/iteration-*/*/train/{_TRAIN_JOB_FILE}"
    ):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(status, dict) and status.get("pid") == job.pid:
            return f"started from the Train app at {clock(status.get('started_at', job.started_at))}"
    if job.verb == "?":
        return "just starting"
    return f"started at {when} outside the Train app (the command line or a notebook)"


def memory_advice(extra_gb: str) -> tuple[str, bool]:
    """Return the sentence about memory for a second job, and whether to refuse it.

    Parameters
    ----------
    extra_gb
        How much more memory the second job needs, in words (``"about 1 GB"``).

    Returns
    -------
    tuple
        ``(sentence, small)``: ``small`` when this machine's memory (or its
        container's limit) is under :data:`posekit.engine._memory.SMALL_MEMORY_BYTES`.
    """
    from ..engine._memory import format_gb, is_small_machine, memory_limit_bytes

    limit = memory_limit_bytes()
    small = is_small_machine(limit)
    sentence = f"{extra_gb} more memory: on a 2 GB machine (Binder) wait until it ends."
    if small:
        sentence += (
            f" This server has {format_gb(limit)}, so it would run out of memory"
            " and end the training or this page."
        )
    return sentence, small


def training_line(project: Project | None) -> str:
    """Return the line the Analyze app shows while a training runs on ``project``.

    ``""`` when none runs (or there is no project).

    Parameters
    ----------
    project
        The project, or ``None`` (a shared model file).

    Returns
    -------
    str
    """
    if project is None:
        return ""
    origin = training_origin(project)
    if origin is None:
        return ""
    sentence, _ = memory_advice("Analysing now needs about 1 GB")
    return f"A training is running on this project ({origin}). {sentence}"


# ---------------------------------------------------------------- analysis
def app_analysis_path(project: Project) -> Path:
    """Return the Analyze app's record of its running analysis for ``project``."""
    return Path(project.path) / APP_ANALYSIS_FILE


def read_app_analysis(project: Project) -> dict[str, Any] | None:
    """Return the Analyze app's last analysis record of ``project``, or ``None``."""
    try:
        data = json.loads(app_analysis_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start_app_analysis(
    project: Project, videos: Sequence[str], destfolder: str | None
) -> str | None:
    """Record that this process analyses ``videos`` of ``project`` now.

    Returns
    -------
    str or None
        The record's id (for :func:`update_app_analysis`), or ``None`` when the
        project folder cannot be written (a read-only project: nothing recorded).
    """
    record = {
        "id": uuid.uuid4().hex,
        "state": "running",
        "pid": os.getpid(),
        "process_started": _process_start(os.getpid()),
        "host": socket.gethostname(),
        "started_at": _dt.datetime.now().isoformat(timespec="seconds"),
        "videos": [str(v) for v in videos],
        "current": str(videos[0]) if videos else "",
        "destfolder": destfolder or "",
    }
    if _write(project, record):
        return record["id"]
    return None


def update_app_analysis(project: Project, record_id: str | None, **fields: Any) -> None:
    """Change this process's record (its ``current`` video, its end ``state``).

    A record replaced meanwhile by another page's analysis is left alone.
    """
    if record_id is None:
        return
    record = read_app_analysis(project)
    if record is None or record.get("id") != record_id:
        return
    record.update(fields)
    _write(project, record)


def _write(project: Project, record: Mapping[str, Any]) -> bool:
    from ..engine._fileio import atomic_write_text

    try:
        atomic_write_text(app_analysis_path(project), json.dumps(record) + "\n")
    except OSError as err:
        logger.info("the analysis is not recorded in %s: %s", project.path, err)
        return False
    return True


def _record_alive(record: Mapping[str, Any]) -> bool | None:
    """Whether the record's process runs (``None``: on another host, unknown)."""
    if record.get("host") not in (None, socket.gethostname()):
        return None
    return _process_alive(record.get("pid"), record.get("process_started"))


def running_app_analysis(project: Project) -> dict[str, Any] | None:
    """Return the Analyze app's analysis of ``project`` that runs now, or ``None``."""
    record = read_app_analysis(project)
    if record is None or record.get("state") != "running":
        return None
    if record.get("pid") == os.getpid():
        return None  # this kernel's own (the caller knows it)
    return record if _record_alive(record) is not False else None


def interrupted_app_analysis(project: Project) -> dict[str, Any] | None:
    """Return the record of an app analysis whose page was left while it ran.

    Its state is ``running`` but its process (the page's kernel) is gone.
    """
    record = read_app_analysis(project)
    if record is None or record.get("state") != "running":
        return None
    if _record_alive(record) is not False or _finished_since(record):
        return None
    return record


def _finished_since(record: Mapping[str, Any]) -> bool:
    """Whether the record's video has an ``.h5`` written after the record started.

    (Analysed to the end since, by another page or ``posekit analyze``.)
    """
    video = Path(str(record.get("current") or ""))
    try:
        since = _dt.datetime.fromisoformat(str(record.get("started_at"))).timestamp()
    except ValueError:
        return False
    if not video.name:
        return False
    folder = Path(record.get("destfolder") or video.parent)
    return any(p.stat().st_mtime > since for p in folder.glob(f"{video.stem}DLC*.h5"))


def analysis_origin(project: Project) -> str | None:
    """Return who runs an analysis of ``project`` now and since when, or ``None``.

    The Analyze app's (another page's), or one holding the project's analysis
    lock (a multi-animal analysis, from anywhere).
    """
    from ..engine.locks import running_job

    record = running_app_analysis(project)
    if record is not None:
        return f"started from the Analyze app at {clock(record.get('started_at', '?'))}"
    try:
        job = running_job(project.path, "analysis")
    except OSError:
        return None
    if job is None:
        return None
    return f"started at {clock(job.started_at)} from the command line or a notebook"


def analysis_line(project: Project) -> str:
    """Return the line the Train app shows while an analysis runs on ``project``."""
    origin = analysis_origin(project)
    if origin is None:
        return ""
    sentence, _ = memory_advice("Training now needs about 1.3 GB")
    return f"An analysis is running on this project ({origin}). {sentence}"


def partial_frames(record: Mapping[str, Any]) -> tuple[Path | None, int | None]:
    """Return the file an interrupted analysis kept, and its frames (if it says).

    The single-animal engine keeps ``.<video><scorer>.partial.npz`` (whole batches,
    saved every minute) beside the output, a multi-animal one
    ``.<video><scorer>_full.partial.pickle``; the newest of the current video's.

    Returns
    -------
    tuple
        ``(path, frames)``: ``(None, None)`` when nothing was kept; ``frames`` is
        ``None`` for a multi-animal file (the detections so far).
    """
    import numpy as np

    video = Path(str(record.get("current") or ""))
    if not video.name:
        return None, None
    folder = Path(record.get("destfolder") or video.parent)
    found = [
        p
        for pattern in (
            f".{video.stem}DLC*.partial.npz",
            f".{video.stem}DLC*_full.partial.pickle",
        )
        for p in folder.glob(pattern)
    ]
    if not found:
        return None, None
    newest = max(found, key=lambda p: p.stat().st_mtime)
    if newest.suffix != ".npz":
        return newest, None
    with (
        contextlib.suppress(OSError, ValueError, KeyError),
        np.load(newest, allow_pickle=False) as data,
    ):
        return newest, int(len(data["xyp"]))
    return None, None


def interrupted_message(record: Mapping[str, Any]) -> str:
    """Say that the analysis of ``record`` stopped with its page, and what Analyze does.

    Examples
    --------
    >>> print(interrupted_message({"current": "/nonexistent/m1.mp4",
    ...                            "started_at": "2026-01-01T12:30:00"}))
    The last analysis of m1.mp4 (started at 2026-01-01 12:30) was stopped when its
    page was left or reloaded (an analysis runs only while its page is open). Press
    Analyze videos: it starts it again (nothing of it was saved: the frames analysed
    are kept every minute).
    """
    video = Path(str(record.get("current") or "?"))
    path, frames = partial_frames(record)
    if path is None:
        then = (
            "starts it again (nothing of it was saved: the frames analysed are kept "
            "every minute)"
        )
    elif frames is None:
        then = "continues it from the detections saved before the page was left"
    else:
        then = f"continues it from frame {frames} (saved before the page was left)"
    return (
        f"The last analysis of {video.name} (started at "
        f"{clock(record.get('started_at', '?'))}) "
        "was stopped when its page was left or reloaded (an analysis runs only while "
        f"its page is open). Press Analyze videos: it {then}."
    )
