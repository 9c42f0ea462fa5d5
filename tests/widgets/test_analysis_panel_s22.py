"""QA s22 workshop findings in the Analyze and Train apps, headless.

#1: analysing while a training of the same project runs (and training while an
analysis runs) is said, with the memory it needs, and refused on a small machine
unless asked for anyway. #3: an analysis whose page was left (its kernel ended) is
said on the page opened again, with where Analyze videos continues it. #6: the Train
app's line for a training it follows is plain words. #7: no trained network: said
once, before clicking, with Analyze disabled. #8: a result reused from an earlier
analysis says so, with its snapshot.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.inference import AnalysisOutputs, PartialAnalysis
from posekit.engine.locks import job_lock
from posekit.engine.model_folder import ModelFolder
from posekit.widgets._running_jobs import APP_ANALYSIS_FILE
from posekit.widgets.analysis_panel import (
    AnalysisModel,
    AnalysisPanel,
    TrainingRunsError,
)
from posekit.widgets.training_dashboard import TrainingDashboard
from posekit.widgets.training_model import (
    JOB_FILE,
    AnalysisRunsError,
    TrainingModel,
)

BACKBONES = ["mobilenet_v2_0.35"]
SCORER = "DLC_mobnet_35_demoJan1shuffle1_239"
TWO_GB = str(2 * 2**30)  # mybinder.org's limit, as $MEM_LIMIT says it there


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def project(tmp_path):
    """Make a demo project with one 40-frame video."""
    p = make_demo_project(tmp_path, n_frames=40, n_labeled=8)
    create_training_dataset(p)
    return p


@pytest.fixture
def big_machine(monkeypatch):
    """Give this machine 16 GiB (whatever the test machine has)."""
    import posekit.engine._memory as memory

    monkeypatch.delenv("MEM_LIMIT", raising=False)
    monkeypatch.setattr(memory, "memory_limit_bytes", lambda **_: 16 * 2**30)


class Recorder:
    """A stand-in analysis: writes each video's output, or reports it analysed before."""

    def __init__(self, reused: bool = False) -> None:
        self.reused = reused
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, project, videos, *, progress, **kwargs):
        self.calls.append([str(v) for v in videos])
        self.release.wait()
        out = AnalysisOutputs()
        for v in map(Path, videos):
            path = v.parent / f"{v.stem}{SCORER}.h5"
            if self.reused:
                out.append(path)
                out.skipped.append(path)
            else:
                path.write_bytes(b"stand-in")
                out.written(path, v)
            progress(40, 40)
        return out


def _training_from_the_train_app(project, started: str) -> None:
    """Write the Train app's job file naming this process (which holds the lock)."""
    folder = ModelFolder.of(project, 1).path
    folder.mkdir(parents=True, exist_ok=True)
    job = {"job_id": "t", "action": "train", "phase": "training", "pid": os.getpid(),
           "host": os.uname().nodename, "started_at": started, "iteration": 40}  # fmt: skip
    (folder / JOB_FILE).write_text(json.dumps(job))


def _today_at(hour: int, minute: int) -> str:
    now = _dt.datetime.now().replace(hour=hour, minute=minute, second=12)
    return now.isoformat(timespec="seconds")


# ---------------------------------------------------------------- #1 training runs
def test_a_running_training_is_said_and_refused_on_a_2_gb_machine(
    project, monkeypatch
) -> None:
    monkeypatch.setenv("MEM_LIMIT", TWO_GB)
    engine = Recorder()
    _training_from_the_train_app(project, _today_at(12, 21))
    with job_lock(project.path, "training", "train_network"):
        m = AnalysisModel(project, analyze_fn=engine)
        view = AnalysisPanel(m)
        line = (
            "A training is running on this project (started from the Train app at "
            "12:21). Analysing now needs about 1 GB more memory: on a 2 GB machine "
            "(Binder) wait until it ends."
        )
        # said before analysing, on opening the page
        assert m.training_note.startswith(line)
        assert "This server has 2.0 GB" in m.training_note
        assert line in view.training_line.value
        assert view.anyway.layout.display == ""  # the choice to go ahead
        view.analyze_button.click()
        assert m.state == "idle" and engine.calls == []  # refused
        assert m.message.startswith(line) and "Wait until the training ends" in (
            m.message
        )
        assert m.error == "" and view.error_box.value == ""  # a caution, once
        with pytest.raises(TrainingRunsError, match="analyse while it trains"):
            m.analyze()
        view.anyway.value = True  # "analyse while it trains"
        view.analyze_button.click()
        assert m.join(30) and m.state == "done", m.error
        assert len(engine.calls) == 1
    # the training ended: nothing to say any more
    view.refresh_button.click()
    assert m.training_note == "" and view.training_line.value == ""
    assert view.anyway.layout.display == "none"


def test_a_training_on_a_big_machine_is_said_and_the_analysis_runs(
    project, big_machine
) -> None:
    engine = Recorder()
    with job_lock(project.path, "training", "train_network"):  # the command line
        m = AnalysisModel(project, analyze_fn=engine)
        view = AnalysisPanel(m)
        assert m.training_note.startswith(
            "A training is running on this project (started at "
        )
        assert "outside the Train app (the command line or a notebook)" in (
            m.training_note
        )
        assert "This server has" not in m.training_note
        assert view.anyway.layout.display == "none"
        view.analyze_button.click()
        assert m.join(30) and m.state == "done", m.error
        assert len(engine.calls) == 1


def test_the_train_app_says_an_analysis_runs_and_refuses_on_2_gb(
    project, monkeypatch, tmp_path
) -> None:
    """The Analyze app's analysis in another page's kernel (a process that runs)."""
    monkeypatch.setenv("MEM_LIMIT", TWO_GB)
    kernel = _analysis_kernel(project, tmp_path, frames=0)
    try:
        trained: list[dict] = []

        def train(project, **kwargs):
            trained.append(kwargs)
            return SimpleNamespace(iteration=0, stop_reason="max_iterations")

        m = TrainingModel(project, train_fn=train, flush_interval_s=0.0)
        m.auto_evaluate = False
        view = TrainingDashboard(m, backbones=BACKBONES)
        assert m.analysis_note.startswith(
            "An analysis is running on this project (started from the Analyze app "
            f"at {_dt.datetime.now():%H}:"
        )
        assert "Training now needs about 1.3 GB more memory" in m.analysis_note
        assert "posekit-train-analysis" in view.analysis_line._dom_classes
        assert "An analysis is running" in view.analysis_line.value
        assert view.anyway.layout.display == ""
        view.start_button.click()
        assert m.state == "idle" and trained == []
        assert "Wait until the analysis ends" in m.message and m.error == ""
        with pytest.raises(AnalysisRunsError):
            m.start()
        view.anyway.value = True
        view.start_button.click()
        assert m.join(30) and len(trained) == 1
    finally:
        _end(kernel)
    assert m.check_analysis() == ""  # its page was left: it runs no more


# ---------------------------------------------------------------- #3 page left
KERNEL = """
import sys, time
import numpy as np
from pathlib import Path
from posekit.engine.inference import PartialAnalysis
from posekit.widgets.analysis_panel import AnalysisModel

frames = int(sys.argv[2])

def analysis(project, videos, *, progress, **kwargs):
    video = Path(videos[0])
    if frames:  # what the engine keeps every minute
        partial = PartialAnalysis(video.parent / f".{video.stem}{sys.argv[3]}.partial.npz",
                                  {"format": "posekit-partial/1"})
        partial.save([np.zeros((frames, 5, 3), np.float32)])
    progress(frames, 40)
    print("ANALYSING", flush=True)
    time.sleep(600)

m = AnalysisModel(sys.argv[1], analyze_fn=analysis)
m.analyze()
time.sleep(600)
"""


def _analysis_kernel(project, tmp_path: Path, frames: int) -> subprocess.Popen:
    """Run an Analyze app's analysis in a process of its own, as a page's kernel."""
    out = tmp_path / "kernel.out"
    with open(out, "w") as fh:
        kernel = subprocess.Popen(
            [sys.executable, "-c", KERNEL, str(project.path), str(frames), SCORER],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as Jupyter starts a kernel
        )
    try:
        wait_for(lambda: "ANALYSING" in out.read_text(), 120, "the kernel's analysis")
    except BaseException:
        _end(kernel)
        print(out.read_text())
        raise
    return kernel


def _end(kernel: subprocess.Popen) -> None:
    """Leave the page: Jupyter ends the kernel's whole process group."""
    if kernel.poll() is None:
        os.killpg(kernel.pid, signal.SIGKILL)
    kernel.wait(30)


def test_a_page_left_mid_analysis_is_said_with_where_analyze_continues(
    project, tmp_path
) -> None:
    kernel = _analysis_kernel(project, tmp_path, frames=24)
    try:
        # another page opened meanwhile: it runs there
        m = AnalysisModel(project, analyze_fn=Recorder())
        assert m.state == "idle"
        assert m.message.startswith("An analysis of session1.mp4 started at ")
        assert "runs in another page of the Analyze app" in m.message
    finally:
        _end(kernel)
    started = json.loads((project.path / APP_ANALYSIS_FILE).read_text())["started_at"]
    hhmm = started[11:16]
    m = AnalysisModel(project, analyze_fn=Recorder())
    view = AnalysisPanel(m)
    assert m.state == "stopped"
    assert m.message == (
        f"The last analysis of session1.mp4 (started at {hhmm}) was stopped when its "
        "page was left or reloaded (an analysis runs only while its page is open). "
        "Press Analyze videos: it continues it from frame 24 (saved before the page "
        "was left)."
    )
    assert "was stopped when its page was left" in view.status.value
    assert not view.analyze_button.disabled
    # the refresh button says it again; Analyze videos runs, and then it is gone
    view.refresh_button.click()
    assert m.state == "stopped" and "from frame 24" in m.message
    view.analyze_button.click()
    assert m.join(30) and m.state == "done", m.error
    assert AnalysisModel(project, analyze_fn=Recorder()).message == ""


def test_a_page_left_before_anything_was_saved_says_analyze_starts_again(
    project, tmp_path
) -> None:
    kernel = _analysis_kernel(project, tmp_path, frames=0)
    _end(kernel)
    m = AnalysisModel(project, analyze_fn=Recorder())
    assert m.state == "stopped"
    assert "was stopped when its page was left or reloaded" in m.message
    assert m.message.endswith(
        "Press Analyze videos: it starts it again (nothing of it was saved: the "
        "frames analysed are kept every minute)."
    )
    # analysed to the end since (posekit analyze, another page): nothing to say
    video = Path(m.videos[0])
    (video.parent / f"{video.stem}{SCORER}.h5").write_bytes(b"stand-in")
    m = AnalysisModel(project, analyze_fn=Recorder())
    assert m.state == "idle" and m.message == ""


def test_while_it_runs_the_page_says_leaving_it_stops_the_analysis(project) -> None:
    engine = Recorder()
    engine.release.clear()
    m = AnalysisModel(project, analyze_fn=engine)
    view = AnalysisPanel(m)
    assert view.leave_line.layout.display == "none"  # nothing runs
    view.analyze_button.click()
    assert m.state == "running"
    assert view.leave_line.layout.display == ""
    assert "leaving or reloading the page stops it" in view.leave_line.value
    assert "unlike a training, which goes on" in view.leave_line.value
    # the record another page reads: this process, the video it is on
    record = json.loads((project.path / APP_ANALYSIS_FILE).read_text())
    assert record["state"] == "running" and record["pid"] == os.getpid()
    assert Path(record["current"]).name == "session1.mp4"
    engine.release.set()
    assert m.join(30) and m.state == "done"
    assert view.leave_line.layout.display == "none"
    assert json.loads((project.path / APP_ANALYSIS_FILE).read_text())["state"] == "done"


# ---------------------------------------------------------------- #6 Train app line
def test_the_train_app_names_the_training_it_follows_in_plain_words(project) -> None:
    """The line said "… at 2026-12-07T12:21:12 runs on this project (pid 24697)"."""
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "posekit"]
    )
    try:
        folder = ModelFolder.of(project, 1).path
        folder.mkdir(parents=True, exist_ok=True)
        job = {"job_id": "x", "action": "train", "phase": "training",
               "pid": helper.pid, "host": os.uname().nodename,
               "started_at": _today_at(12, 21), "iteration": 3}  # fmt: skip
        (folder / JOB_FILE).write_text(json.dumps(job))
        m = TrainingModel(project, poll_interval_s=0.05)
        assert m.state == "running", m.message
        assert m.message == (
            "A training started from the Train app at 12:21 is running on this "
            "project. It goes on when this page is left, and this page shows its "
            "progress. Stop asks it to save a snapshot and stop."
        )
        assert "pid" not in m.message and str(helper.pid) not in m.message
    finally:
        helper.kill()
        helper.wait(30)


# ---------------------------------------------------------------- #7 no network
def test_no_trained_network_is_said_once_before_clicking(project) -> None:
    m = AnalysisModel(project)
    view = AnalysisPanel(m)
    said = (
        "No trained network yet: train one in the Train app (home page → Train), "
        "then analyse here."
    )
    assert m.no_network == said
    assert said in view.network_line.value
    assert view.analyze_button.disabled  # before any click
    # a click that was on its way: the message once (the red box), not twice
    view._analyze()
    assert m.error == said and m.message == ""
    assert said in view.error_box.value and said not in view.status.value
    # shuffle 2 has none either: it says which
    view.shuffle.value = 2
    assert "No trained network yet for shuffle 2" in m.no_network


# ---------------------------------------------------------------- #8 reused
def test_a_reused_result_says_so_with_its_snapshot(project) -> None:
    m = AnalysisModel(project, analyze_fn=Recorder(reused=True))
    m.analyze(wait=True)
    assert m.state == "done", m.error
    assert m.message == (
        f"already analysed with snapshot 239 (reused): session1{SCORER}.h5"
    )
    assert "analysed 1 video" not in m.message
    m = AnalysisModel(project, analyze_fn=Recorder())
    m.analyze(wait=True)
    assert m.message == f"analysed 1 video(s): session1{SCORER}.h5"


def test_a_reused_result_while_a_training_runs_says_to_analyse_again_later(
    project, big_machine
) -> None:
    m = AnalysisModel(project, analyze_fn=Recorder(reused=True))
    with job_lock(project.path, "training", "train_network"):
        m.analyze(wait=True)
    assert m.message == (
        f"already analysed with snapshot 239 (reused): session1{SCORER}.h5. A "
        "training is running on this project: analyse again when it ends to use "
        "its newest snapshot"
    )


def test_the_partial_file_counts_whole_batches(tmp_path) -> None:
    """The frames said are those in the engine's own partial file."""
    from posekit.widgets._running_jobs import partial_frames

    video = tmp_path / "m1.mp4"
    video.write_bytes(b"")
    path = tmp_path / f".m1{SCORER}.partial.npz"
    PartialAnalysis(path, {"k": 1}).save([np.zeros((16, 3, 3)), np.zeros((8, 3, 3))])
    assert partial_frames({"current": str(video)}) == (path, 24)
    assert partial_frames({"current": str(tmp_path / "m2.mp4")}) == (None, None)
