"""Analysis panel, headless.

Choose videos, analyse them in a thread with progress, list the prediction files and
open one in the trajectory viewer.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.widgets.analysis_panel import AnalysisModel, AnalysisPanel


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Make a demo project with two 40-frame videos, 12 labelled frames."""
    p = make_demo_project(
        tmp_path_factory.mktemp("analysis"), n_frames=40, n_labeled=12, n_videos=2
    )
    create_training_dataset(p)
    return p


class ScriptedAnalysis:
    """Writes a stand-in prediction file per video, reporting progress per frame."""

    def __init__(self, n_frames: int = 40, fail_on: str | None = None) -> None:
        self.n_frames = n_frames
        self.fail_on = fail_on
        self.calls: list[tuple[list[str], dict]] = []
        self.seen_progress: list[tuple[int, int]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, project, videos, *, progress, **kwargs):
        self.calls.append(([str(v) for v in videos], kwargs))
        out = []
        for v in videos:
            v = Path(v)
            if v.stem == self.fail_on:
                raise RuntimeError(f"cannot decode {v.name}")
            for done in range(8, self.n_frames + 1, 8):
                self.release.wait()
                progress(done, self.n_frames)
                self.seen_progress.append((done, self.n_frames))
            path = v.parent / f"{v.stem}DLC_mobnet_35_demoJan1shuffle1_7.h5"
            path.write_bytes(b"stand-in")
            out.append(path)
        return out


def test_lists_the_project_videos_and_selects_all(project) -> None:
    m = AnalysisModel(project, analyze_fn=ScriptedAnalysis())
    names = [Path(v).name for v in m.videos]
    assert names == ["session1.mp4", "session2.mp4"]
    assert m.selected == m.videos
    view = AnalysisPanel(m)
    assert [label for label, _ in view.video_select.options] == names
    view.video_select.value = (m.videos[1],)
    assert m.selected == [m.videos[1]]
    # a video added later appears after a refresh; labelled videos are no input
    extra = project.path / "videos" / "session3.mp4"
    labelled = project.path / "videos" / "session1_labeled.mp4"
    for path in (extra, labelled):
        path.write_bytes(Path(m.videos[0]).read_bytes())
    try:
        view.refresh_button.click()
        assert [label for label, _ in view.video_select.options] == [
            *names,
            "session3.mp4",
        ]
        assert m.selected == [m.videos[1]]
    finally:
        extra.unlink()
        labelled.unlink()


def test_scripted_analysis_progress_outputs_and_settings(project, tmp_path) -> None:
    engine = ScriptedAnalysis()
    m = AnalysisModel(project, analyze_fn=engine, flush_interval_s=0.0)
    m.destfolder = ""
    view = AnalysisPanel(m, on_open=lambda p: opened.append(p))
    opened: list[Path] = []
    view.scale.value = 0.5
    view.csv.value = True
    progress: list[float] = []
    m.observe(lambda ch: progress.append(ch["new"]), "progress")
    engine.release.clear()
    view.analyze_button.click()
    assert m.state == "running" and view.analyze_button.disabled
    engine.release.set()
    assert m.join(30)
    assert m.state == "done", m.error
    # one call per video, with the panel's settings
    assert [c[0] for c in engine.calls] == [[v] for v in m.videos]
    assert all(c[1]["scale"] == 0.5 and c[1]["save_as_csv"] for c in engine.calls)
    # overall progress rose through both videos to 1
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0.4 < p <= 0.5 for p in progress) and any(0.5 < p < 1 for p in progress)
    assert not view.analyze_button.disabled
    # the outputs are listed, newest first per video, each with an Open button
    assert [p.name.split("DLC")[0] for p in m.outputs] == ["session1", "session2"]
    rows = view.outputs_box.children
    assert len(rows) == 2
    rows[1].children[0].click()
    assert opened == [m.outputs[1]]
    for p in m.outputs:
        p.unlink()


def test_scripted_analysis_error_is_shown(project, caplog) -> None:
    engine = ScriptedAnalysis(fail_on="session2")
    m = AnalysisModel(project, analyze_fn=engine)
    view = AnalysisPanel(m)
    with caplog.at_level(logging.ERROR, logger="posekit.widgets.analysis"):
        m.analyze(wait=True)
    assert m.state == "error"
    # the page shows the message only; the traceback goes to the server's log
    assert m.error == (
        "Something went wrong inside posekit (RuntimeError: cannot decode "
        "session2.mp4); the details are in the server's log."
    )
    assert "cannot decode session2.mp4" in view.error_box.value
    assert "Traceback" not in view.error_box.value
    assert "Traceback" in caplog.text and "cannot decode session2.mp4" in caplog.text
    # the first video's result was written and is listed
    assert [p.name.split("DLC")[0] for p in m.outputs] == ["session1"]
    for p in m.outputs:
        p.unlink()


def test_refuses_no_video(project) -> None:
    m = AnalysisModel(project, analyze_fn=ScriptedAnalysis())
    view = AnalysisPanel(m)
    view.video_select.value = ()
    view.analyze_button.click()
    assert m.state == "idle"
    assert "Choose at least one video" in view.error_box.value


def test_refuses_a_video_or_destination_outside_the_data_root(
    project, tmp_path, monkeypatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    engine = ScriptedAnalysis()
    m = AnalysisModel(project, analyze_fn=engine)
    view = AnalysisPanel(m)
    stray = outside / "stray.mp4"
    stray.write_bytes(b"")
    with pytest.raises(PermissionError, match="The video .* is outside the folders"):
        m.analyze([stray, m.videos[0]])
    m.destfolder = str(root / ".." / "outside")
    view.analyze_button.click()
    assert m.state == "idle" and engine.calls == []
    assert "outside the folders the apps may open" in view.error_box.value
    assert "The destination folder" in view.error_box.value
    with pytest.raises(PermissionError, match="destination folder"):
        m.refresh_outputs()
    # inside the data root (relative: in its first folder), the project's videos
    m.destfolder = "results"
    (root / "results").mkdir()
    m.analyze([m.videos[0]], wait=True)
    assert m.state == "done", m.error
    ((videos, kwargs),) = engine.calls
    assert videos == [m.videos[0]] and kwargs["destfolder"] == str(root / "results")
    for p in project.path.glob("videos/*DLC_*.h5"):
        p.unlink()


@pytest.mark.slow
def test_real_analysis_writes_dlc_predictions_and_opens_the_viewer(project) -> None:
    from posekit.engine.api import train_network

    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=8,
        batch_size=2,
        weights=None,
    )
    m = AnalysisModel(project)
    view = AnalysisPanel(m)
    view.video_select.value = (m.videos[0],)
    t0 = time.monotonic()
    view.analyze_button.click()
    assert time.monotonic() - t0 < 1.0  # returns at once: the work is in a thread
    assert m.join(300)
    assert m.state == "done", m.error
    assert m.progress == 1.0
    (out,) = m.outputs
    assert out.parent == Path(m.videos[0]).parent
    assert out.name.startswith("session1DLC_") and out.suffix == ".h5"
    df = pd.read_hdf(out)
    assert len(df) == 40
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert set(df.columns.get_level_values("bodyparts")) == set(project.bodyparts)
    # Open shows the trajectory viewer on that file at the top of the results
    view.outputs_box.children[0].children[0].click()
    assert m.error == ""
    assert view.viewer is not None
    assert view.viewer_box.children == (view.viewer_header, view.viewer.widget)
    assert view.viewer.model.raw.sizes["time"] == 40
    assert sorted(map(str, view.viewer.model.raw.keypoint.values)) == sorted(
        project.bodyparts
    )


def test_settings_reach_the_engine(project) -> None:
    """Defaults are the engine's (batch by frame size, auto precision, this kernel)."""
    engine = ScriptedAnalysis()
    m = AnalysisModel(project, analyze_fn=engine)
    m.analyze([m.videos[0]], wait=True)
    kwargs = engine.calls[-1][1]
    assert (kwargs["batch_size"], kwargs["precision"], kwargs["client"]) == (
        None,
        "auto",
        None,
    )
    view = AnalysisPanel(m)
    assert [v for _, v in view.cluster.options] == ["", "local"]
    view.cluster.value = "local"  # a Dask cluster of this machine's cores
    m.batch_size, m.precision = 4, "int8"
    m.analyze([m.videos[0]], wait=True)
    kwargs = engine.calls[-1][1]
    assert (kwargs["batch_size"], kwargs["precision"], kwargs["client"]) == (
        4,
        "int8",
        "local",
    )
    with pytest.raises(ValueError, match="needs a project, or a model_file"):
        AnalysisModel(None)


@pytest.mark.slow
def test_a_model_file_runs_without_a_project(project, tmp_path) -> None:
    """A shared .posekit.zip analyses videos in the panel with no project at all."""
    import shutil

    from posekit.engine.api import analyze_videos, train_network
    from posekit.engine.export import export_model

    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=8,
        batch_size=2,
        weights=None,
    )
    zip_file = export_model(project, tmp_path / "mouse", int8=False)
    video = tmp_path / "alone" / "session2.mp4"
    video.parent.mkdir()
    shutil.copy(project.videos()[1], video)
    m = AnalysisModel(None, model_file=zip_file, videos=[video])
    m.precision = "float32"
    assert m.videos == [str(video)] and m.selected == [str(video)]
    m.analyze(wait=True)
    assert m.state == "done", m.error
    (out,) = m.outputs
    [expected] = analyze_videos(
        project,
        [video],
        destfolder=tmp_path / "project",
        progress=False,
        precision="float32",
        batch_size=1,
    )
    assert out.name == expected.name
    diff = np.abs(pd.read_hdf(out).to_numpy() - pd.read_hdf(expected).to_numpy())
    assert diff.max() <= 0.01


class StagedAnalysis(ScriptedAnalysis):
    """Reports the engine's stages with a slow set-up before the first frame."""

    def __init__(self, setup_s: float, step_s: float) -> None:
        super().__init__()
        self.setup_s, self.step_s = setup_s, step_s

    def __call__(self, project, videos, *, progress, on_stage, **kwargs):
        from posekit.engine.api import AnalysisStage

        out = []
        for v in videos:
            v = Path(v)
            for name in ("loading", "converting"):
                on_stage(AnalysisStage(name, v, 1, 1))
                time.sleep(self.setup_s / 2)
            on_stage(AnalysisStage("analysing", v, 1, 1))
            for done in range(8, self.n_frames + 1, 8):
                time.sleep(self.step_s)
                progress(done, self.n_frames)
            path = v.parent / f"{v.stem}DLC_mobnet_35_demoJan1shuffle1_7.h5"
            path.write_bytes(b"stand-in")
            out.append(path)
        return out


def test_stages_are_shown_and_the_eta_starts_with_the_frames(project) -> None:
    """Loading and conversion are named; the ETA leaves out the set-up time.

    The analysis app sat at 0 % for ~25 s (TensorFlow, TFLite conversion) with an
    ETA of 7:49 for a 42 s job: the set-up time was spread over the frames.
    """
    engine = StagedAnalysis(setup_s=1.0, step_s=0.05)
    m = AnalysisModel(project, analyze_fn=engine, flush_interval_s=0.0)
    view = AnalysisPanel(m)
    seen: list[tuple[str, float, float, str]] = []

    def record(_):
        seen.append((m.message, m.progress, m.eta_s, view.status.value))

    m.observe(record, ["message", "eta_s"])
    m.analyze(wait=True)
    assert m.state == "done", m.error
    messages = list(dict.fromkeys(s[0] for s in seen))
    assert "video 1 of 2: loading the model…" in messages
    assert any("video 1 of 2: preparing the fast runtime" in t for t in messages)
    assert "analysing video 1 of 2: session1.mp4" in messages
    assert "analysing video 2 of 2: session2.mp4" in messages
    # during the set-up: 0 %, no ETA shown; the stage is in the status line
    setup = [s for s in seen if "video 1 of 2: preparing the fast runtime" in s[0]]
    assert setup and all(p == 0 and not np.isfinite(e) for _, p, e, _ in setup)
    assert "ETA" not in setup[0][3] and "preparing the fast runtime" in setup[0][3]
    # the ETA comes from the frame rate: ~0.05 s a batch, 5 batches a video; the
    # set-up second (spread over the frames it was ~10 s after the first batch) is
    # not in it
    etas = [e for _, p, e, _ in seen if np.isfinite(e) and p < 0.5]
    assert etas and max(etas) < 1.5, etas
    for p in m.outputs:
        p.unlink()


# ---------------------------------------------------------------- QA s14 findings
def test_a_double_click_on_analyze_shows_no_error(project) -> None:
    """F6: the second click arrives while the first analysis runs: ignored."""
    engine = ScriptedAnalysis()
    engine.release.clear()
    m = AnalysisModel(project, analyze_fn=engine)
    view = AnalysisPanel(m)
    view.analyze_button.click()
    view.analyze_button.click()
    engine.release.set()
    assert m.join(30) and m.state == "done", m.error
    assert m.error == "" and view.error_box.value == ""
    assert len(engine.calls) == len(m.selected)


def test_nothing_to_export_goes_away_when_results_exist(tmp_path) -> None:
    """F18: "nothing to export yet" is not left in red beside the results."""
    p = make_demo_project(tmp_path, n_frames=20, n_labeled=4)
    m = AnalysisModel(p, analyze_fn=ScriptedAnalysis(n_frames=16))
    view = AnalysisPanel(m)
    view.export.button.click()
    assert "nothing to export yet" in view.export.status.value
    m.analyze(wait=True)
    assert m.outputs
    assert "nothing to export yet" not in view.export.status.value


def test_untrained_iteration_points_to_the_train_app(tmp_path) -> None:
    """F9: no network at all: the message names the Train app, not Python or CLI."""
    p = make_demo_project(tmp_path, n_frames=20, n_labeled=4)
    m = AnalysisModel(p)
    view = AnalysisPanel(m)
    assert view.analyze_button.disabled  # said before clicking (QA s22 #7)
    with pytest.raises(FileNotFoundError) as err:
        m.analyze()
    assert m.state == "idle"
    assert "Train app" in str(err.value) and str(err.value) == m.no_network
    assert "train_network" not in m.no_network and "posekit train" not in m.no_network


def test_after_a_merge_the_newest_trained_iteration_analyses(
    tmp_path, monkeypatch
) -> None:
    """F9: iteration 1 is not trained: iteration 0's model is used, with a note."""
    import posekit.engine.api as api

    p = make_demo_project(tmp_path, n_frames=20, n_labeled=4)
    p.set("iteration", 1)
    p.save()
    text = (p.path / "config.yaml").read_text()
    name = p.model_dir(1).name
    old = p.path / "dlc-models" / "iteration-0" / name / "train" / "snapshot-337.keras"
    monkeypatch.setattr(api, "previous_snapshot", lambda project, shuffle=1: old)
    m = AnalysisModel(p)
    used, note = m.model_project()
    assert used.iteration == 0 and p.iteration == 1
    assert used.path == p.path
    assert "Iteration 1 is not trained yet" in note
    assert "model of iteration 0 (snapshot-337)" in note and "Train app" in note
    assert (p.path / "config.yaml").read_text() == text  # nothing written


# ---------------------------------------------------------------- QA s15 (keyboard)
def test_analyze_hands_the_focus_to_the_announced_status(project) -> None:
    """QA s15 #8, #10: the status is a live region that gets the focus on Analyze.

    It says what runs (step, video, result), not the percentage, which changes many
    times a second and would be read out again and again.
    """
    from posekit.widgets.app import contrast_ratio

    engine = ScriptedAnalysis()
    engine.release.clear()
    m = AnalysisModel(project, analyze_fn=engine, flush_interval_s=0.0)
    view = AnalysisPanel(m)
    assert "posekit-live" in view.status._dom_classes
    assert contrast_ratio(view.analyze_button.style.button_color, "#ffffff") >= 4.5
    focused: list[str] = []
    view.status.send = lambda msg, buffers=None: focused.append(msg["do"])
    statuses: list[str] = []
    view.status.observe(lambda ch: statuses.append(ch["new"]), "value")
    stop_focused: list[str] = []
    view.stop_button.send = lambda msg, buffers=None: stop_focused.append(msg["do"])
    view.analyze_button.click()
    # Analyze disabled itself: the focus goes to Stop, as in the Train app
    assert view.analyze_button.disabled and stop_focused == ["focus"]
    view.stop_button.click()
    assert view.stop_button.disabled and focused == ["focus"]  # then the status
    engine.release.set()
    assert m.join(30) and m.state == "stopped", m.error
    assert statuses and not any("%" in s for s in statuses)
    # (this stand-in ignores stop_event: the panel stops before the next video)
    assert "stopped before session2.mp4 was analysed" in view.status.value
    assert len(statuses) == len(set(statuses))  # set only when it changes
    m.error = "boom"
    assert 'role="alert"' in view.error_box.value
    for p in m.outputs:
        p.unlink()


# ---------------------------------------------------------------- Stop
class StoppableAnalysis(ScriptedAnalysis):
    """Stops as the engine does: between batches, once ``stop_event`` is set."""

    def __call__(self, project, videos, *, progress, stop_event, **kwargs):
        from posekit.engine.inference import AnalysisStopped

        self.calls.append(([str(v) for v in videos], kwargs))
        for v in map(Path, videos):
            for done in range(8, self.n_frames + 1, 8):
                self.release.wait()
                progress(done, self.n_frames)
                if stop_event.is_set():
                    raise AnalysisStopped(v, done, self.n_frames, v.with_suffix(".p"))
        return []


def test_stop_ends_the_analysis_and_says_where_analyze_resumes(project) -> None:
    """Stop is enabled only while an analysis runs; the status says the frame."""
    engine = StoppableAnalysis()
    engine.release.clear()
    m = AnalysisModel(project, analyze_fn=engine, flush_interval_s=0.0)
    view = AnalysisPanel(m)
    assert view.stop_button.disabled  # nothing runs
    assert view.stop_button.description == "Stop"
    assert m.stop() is False
    view.analyze_button.click()
    assert m.state == "running" and not view.stop_button.disabled
    view.stop_button.click()
    assert m.stopping and view.stop_button.disabled  # one click is enough
    assert "stopping after the running batch" in view.status.value
    engine.release.set()
    assert m.join(30)
    assert m.state == "stopped" and m.error == "" and view.error_box.value == ""
    assert m.message == (
        "stopped at frame 8 of 40 (session1.mp4); Analyze videos resumes there"
    )
    assert 'data-state="stopped"' in view.status.value
    assert len(engine.calls) == 1  # the second video was not started
    assert not view.analyze_button.disabled and view.stop_button.disabled
    # Analyze again runs to the end (the engine resumes from its checkpoint)
    view.analyze_button.click()
    assert m.join(30) and m.state == "done", m.error
    assert not m.stopping and view.stop_button.disabled


@pytest.mark.slow
def test_stop_through_the_model_keeps_a_checkpoint_and_analyze_resumes(
    tmp_path,
) -> None:
    """The real engine: Stop mid-video leaves the partial file and no .h5."""
    from posekit.engine.api import train_network

    p = make_demo_project(tmp_path, n_frames=40, n_labeled=12)
    create_training_dataset(p)
    train_network(
        p, backbone="mobilenet_v2_0.35", max_iterations=3, batch_size=2, weights=None
    )
    m = AnalysisModel(p, flush_interval_s=0.0)
    m.batch_size = 4
    view = AnalysisPanel(m)

    def stop_after_the_first_batches(change) -> None:
        if change["new"] > 0 and not m.stopping:
            view.stop_button.click()  # from the analysis thread: as a user would

    m.observe(stop_after_the_first_batches, "progress")
    view.analyze_button.click()
    assert m.join(300)
    assert m.state == "stopped", m.error
    m.unobserve(stop_after_the_first_batches, "progress")
    video = Path(m.videos[0])
    partial = list(video.parent.glob(f".{video.stem}DLC_*.partial.npz"))
    assert len(partial) == 1
    assert not list(video.parent.glob(f"{video.stem}DLC_*.h5"))  # no incomplete one
    assert m.message.startswith("stopped at frame ")
    frame = int(m.message.split()[3])
    assert 4 <= frame < 40 and frame % 4 == 0
    assert m.message.endswith(" of 40 (session1.mp4); Analyze videos resumes there")
    view.analyze_button.click()
    assert m.join(300)
    assert m.state == "done", m.error
    (out,) = (o for o in m.outputs if o.name.startswith("session1DLC_"))
    assert len(pd.read_hdf(out)) == 40 and not partial[0].exists()
