"""One training per project, one analysis per output file (``posekit.engine.locks``).

The lock file names the running job; a second start is refused with that name; a lock
left by a process killed with SIGKILL is stale and taken over. The workflow verbs
(``train_network``; ``analyze_videos`` per output) and so the command line take the
locks.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from posekit.engine.api import train_network
from posekit.engine.locks import (
    JobLockError,
    file_mutex,
    job_lock,
    lock_path,
    output_lock,
    output_lock_path,
    request_stop,
    running_job,
    stop_path,
    stop_requested,
)

needs_sigkill = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL"
)


def _wait_for_job(folder: Path, kind: str, pid: int, proc, log: Path, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        job = running_job(folder, kind)
        if job is not None and job.pid == pid:
            return job
        assert proc.poll() is None, f"the job ended early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no lock yet:\n{log.read_text()}"
        time.sleep(0.05)


def _kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def test_lock_file_names_the_job_and_goes_away(tmp_path) -> None:
    with job_lock(tmp_path, "training", "train_network") as job:
        data = json.loads(lock_path(tmp_path, "training").read_text())
        assert data == {
            "kind": "training",
            "verb": "train_network",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": job.started_at,
        }
        assert running_job(tmp_path, "training") == job
        assert running_job(tmp_path, "analysis") is None
    assert not lock_path(tmp_path, "training").exists()
    assert running_job(tmp_path, "training") is None


def test_second_job_of_a_kind_is_refused_with_the_running_jobs_name(tmp_path) -> None:
    with job_lock(tmp_path, "training", "train_network") as first:
        with (
            pytest.raises(JobLockError) as info,
            job_lock(tmp_path, "training", "train_network"),
        ):
            pass
        message = str(info.value)
        assert "A training already runs on this project" in message
        assert f"train_network (pid {os.getpid()} on {socket.gethostname()}" in message
        assert f"started {first.started_at}" in message
        assert info.value.record == first
        # another kind, or another project, is not blocked
        with job_lock(tmp_path, "analysis", "analyze_videos"):
            pass
        (tmp_path / "other").mkdir()
        with job_lock(tmp_path / "other", "training", "train_network"):
            pass
    # free again
    with job_lock(tmp_path, "training", "train_network"):
        pass


def test_unknown_kind_is_refused(tmp_path) -> None:
    with (
        pytest.raises(ValueError, match="kind must be one of"),
        job_lock(tmp_path, "labelling", "x"),
    ):
        pass


@needs_sigkill
def test_lock_of_a_killed_process_is_stale_and_taken_over(tmp_path, caplog) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from posekit.engine.locks import job_lock
        with job_lock({str(tmp_path)!r}, "analysis", "analyze_videos"):
            time.sleep(600)
        """
    )
    log = tmp_path / "holder.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        job = _wait_for_job(tmp_path, "analysis", proc.pid, proc, log, timeout=60)
        with (
            pytest.raises(JobLockError, match=f"analyze_videos \\(pid {proc.pid} "),
            job_lock(tmp_path, "analysis", "analyze_videos"),
        ):
            pass
    finally:
        _kill(proc)
    # the file is still there (SIGKILL left no chance to remove it), but stale
    assert lock_path(tmp_path, "analysis").exists()
    assert running_job(tmp_path, "analysis") is None
    with (
        caplog.at_level(logging.INFO, logger="posekit.engine.locks"),
        job_lock(tmp_path, "analysis", "analyze_videos") as mine,
    ):
        assert mine.pid == os.getpid()
    assert f"took over the stale lock of {job.describe()}" in caplog.text


def test_output_locks_refuse_the_same_output_and_allow_others(tmp_path) -> None:
    """QA s15: a job array with one video per task failed on a per-project lock."""
    a, b = tmp_path / "v1DLC_x.h5", tmp_path / "v2DLC_x.h5"
    with output_lock(a, "analyze_videos"):
        assert output_lock_path(a).is_file()
        with output_lock(b, "analyze_videos"):  # another video: runs together
            pass
        with (
            pytest.raises(
                JobLockError,
                match=r"^An analysis already runs that writes v1DLC_x\.h5: "
                r"analyze_videos \(pid",
            ),
            output_lock([b, a], "analyze_videos"),
        ):
            pass
        assert not output_lock_path(b).exists()  # all or none: b was released
    assert not output_lock_path(a).exists()


def test_file_mutex_makes_a_second_process_wait_then_go(tmp_path) -> None:
    """Tasks of a job array that start together convert the model once."""
    import threading

    path = tmp_path / ".snapshot-3-24x32-b8-u8.lock"
    order: list[str] = []

    def second() -> None:
        with file_mutex(path) as locked:
            order.append(f"second {locked}")

    with file_mutex(path) as locked:
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append(f"first {locked}")
    thread.join(10)
    assert order == ["first True", "second True"]
    assert not path.exists()


def test_record_file_mutex_excludes_another_process_and_survives_estale(
    tmp_path, monkeypatch
) -> None:
    """A record lock (the project's config lock) makes another process wait.

    A lock file removed by its holder on NFS (stat raises ESTALE) is taken again.
    """
    import errno

    from posekit.engine import locks

    path = tmp_path / ".posekit-config.lock"
    script = textwrap.dedent(
        f"""
        import time
        from posekit.engine.locks import file_mutex
        t0 = time.monotonic()
        with file_mutex({str(path)!r}, record=True) as locked:
            print(locked, round(time.monotonic() - t0, 2))
        """
    )
    with file_mutex(path, record=True) as locked:
        assert locked and path.exists()
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        )
        time.sleep(2.0)
        assert child.poll() is None  # waits for us
    out, _ = child.communicate(timeout=60)
    held, waited = out.split()
    assert held == "True" and float(waited) > 0.5
    assert not path.exists()

    real_stat, calls = os.stat, []

    def stale_once(p, *args, **kwargs):
        if Path(p) == path and not calls:
            calls.append(p)
            raise OSError(errno.ESTALE, "Stale file handle")
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(locks.os, "stat", stale_once)
    with file_mutex(path, record=True) as locked:
        assert locked and calls  # the stale handle was left and the lock taken anew
    assert not path.exists()


@pytest.mark.slow
@needs_sigkill
def test_second_training_refused_while_first_runs_allowed_after_sigkill(
    demo_project, tmp_path
) -> None:
    """``posekit train`` runs; a second start (API and CLI) is refused; after SIGKILL not."""
    cli = [sys.executable, "-m", "posekit.engine.cli", "train", str(demo_project.path)]
    tiny = ["--batch-size", "2", "--weights", "none"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(
            [*cli, *tiny, "--iterations", "1000000"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        job = _wait_for_job(demo_project.path, "training", first.pid, first, log)
        assert job.verb == "train_network"
        with pytest.raises(JobLockError) as info:
            train_network(demo_project, max_iterations=2, batch_size=2)
        assert f"train_network (pid {first.pid} on " in str(info.value)
        second = subprocess.run(
            [*cli, *tiny, "--iterations", "2"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert second.returncode == 75, second.stderr  # EXIT_BUSY: try again later
        assert "posekit train: error: A training already runs" in second.stderr
        assert f"train_network (pid {first.pid} on " in second.stderr
        assert first.poll() is None  # the refused start did not disturb the first
    finally:
        _kill(first)
    result = train_network(
        demo_project, max_iterations=2, batch_size=2, crop_size=(64, 64), resume=False
    )
    assert result.iteration == 2
    assert running_job(demo_project.path, "training") is None


def test_a_stop_request_is_cleared_when_a_job_takes_and_releases_the_lock(
    tmp_path,
) -> None:
    request_stop(tmp_path)  # asked when nothing ran: stale
    assert stop_requested(tmp_path, "training")
    with job_lock(tmp_path, "training", "train_network"):
        assert not stop_requested(tmp_path, "training")  # the stale one is gone
        path = request_stop(tmp_path, "training")
        assert (
            path
            == stop_path(tmp_path, "training")
            == (tmp_path / ".posekit-training.stop")
        )
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not stop_requested(tmp_path, "training")


def test_train_network_stops_on_a_stop_request_and_saves_a_snapshot(
    demo_project,
) -> None:
    """Another process's Stop: the file appears, the training saves and returns."""
    import threading

    from posekit.engine.training import TrainingCallback

    stepped = threading.Event()

    class Steps(TrainingCallback):
        def on_step(self, iteration, logs):
            if iteration >= 2:
                stepped.set()

    box: list = []
    worker = threading.Thread(
        target=lambda: box.append(
            train_network(
                demo_project,
                backbone="mobilenet_v2_0.35",
                weights=None,
                max_iterations=100_000,
                batch_size=2,
                crop_size=(64, 64),
                save_interval_s=0,
                callbacks=[Steps()],
                progress=False,
            )
        )
    )
    worker.start()
    assert stepped.wait(300), "the training did not start"
    assert running_job(demo_project.path, "training") is not None
    request_stop(demo_project.path)
    worker.join(300)
    assert not worker.is_alive(), "the stop request did not stop the training"
    (result,) = box
    assert result.stop_reason == "stop_requested"
    assert 2 <= result.iteration < 1000
    assert result.snapshot is not None and result.snapshot.exists()
    assert not stop_requested(demo_project.path, "training")
    assert running_job(demo_project.path, "training") is None
