"""Stopping a multi-animal analysis, and the run that resumes it.

A stopped (or killed) multi-animal analysis started its video again from frame 0:
its detections were not kept, and with a tqdm bar (or no progress at all) the stop
came only between videos. Now the detections of the whole batches so far are kept
(``.<stem><scorer>_full.partial.pickle``), the stop comes before the next batch,
and the next call resumes there and writes the files an uninterrupted run writes:
``_full.pickle``, ``_assemblies.pickle``, the tracklets ``_el.pickle`` and the
tracks ``_el.h5``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos, train_network
from posekit.engine.demo import make_demo_project
from posekit.engine.inference import AnalysisStopped
from posekit.engine.io.safe_pickle import read_pickle
from posekit.engine.multianimal.inference import MultiAnimalPredictor
from posekit.engine.project import Project

pytestmark = pytest.mark.slow

FRAMES = 24  # the demo video's frames
BATCH = 4  # frames per network call: whole batches are kept
#: The files a multi-animal analysis writes besides the tracks.
PICKLES = ("_full.pickle", "_assemblies.pickle", "_el.pickle")
#: The _meta.pickle keys that time the run (they differ between any two runs).
TIMINGS = {"start", "stop", "run_duration", "frames_per_second"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """Make a two-animal demo project and train a tiny network for 2 iterations."""
    folder = tmp_path_factory.mktemp("ma-stop")
    project = make_demo_project(folder, n_animals=2, n_frames=FRAMES, n_labeled=6)
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        save_interval_s=0,
    )
    return project


@pytest.fixture(scope="module")
def whole(project: Project, tmp_path_factory) -> Path:
    """Analyse the video uninterrupted: the tracks file the others must equal."""
    (tracks,) = _analyse(project, tmp_path_factory.mktemp("whole"))
    return tracks


def _analyse(project: Project, dest: Path, **kwargs):
    return analyze_videos(
        project,
        project.source_videos(),
        destfolder=dest,
        **{"progress": False, "batch_size": BATCH, **kwargs},
    )


def _same(a, b) -> None:
    """Assert that two unpickled structures are equal, arrays exactly (and dtypes)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, pd.Index):  # the tracklets' header
        assert isinstance(b, pd.Index) and a.equals(b) and a.names == b.names
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b or (a != a and b != b), (a, b)  # NaN == NaN here


def _assert_same_outputs(tracks: Path, whole: Path) -> None:
    """Assert that a resumed run wrote what the uninterrupted run wrote, exactly."""
    assert tracks.name == whole.name
    pd.testing.assert_frame_equal(
        pd.read_hdf(tracks, "tracks"), pd.read_hdf(whole, "tracks"), check_exact=True
    )
    stem, ref = str(tracks)[: -len("_el.h5")], str(whole)[: -len("_el.h5")]
    for suffix in PICKLES:
        _same(read_pickle(stem + suffix), read_pickle(ref + suffix))
    meta, ref_meta = (read_pickle(s + "_meta.pickle")["data"] for s in (stem, ref))
    for key in TIMINGS:
        meta.pop(key), ref_meta.pop(key)
    _same(meta, ref_meta)


def _partial(tracks: Path) -> Path:
    stem = tracks.name[: -len("_el.h5")]
    return tracks.with_name(f".{stem}_full.partial.pickle")


def test_a_stop_keeps_the_detections_and_the_same_call_resumes_there(
    project: Project, whole: Path, tmp_path: Path, caplog
) -> None:
    stop = threading.Event()
    seen: list[int] = []

    def press_stop_at_8(done: int, total: int) -> None:
        seen.append(done)
        if done == 2 * BATCH:
            stop.set()  # the Stop button, from another thread

    with pytest.raises(AnalysisStopped) as info:
        _analyse(project, tmp_path, progress=press_stop_at_8, stop_event=stop)
    stopped = info.value
    tracks = tmp_path / whole.name
    partial = _partial(tracks)
    assert (stopped.frame, stopped.total) == (2 * BATCH, FRAMES)
    assert stopped.partial == partial and partial.is_file()
    assert stopped.video == project.source_videos()[0] and stopped.outputs == []
    assert f"stopped at frame {2 * BATCH} of {FRAMES}" in str(stopped)
    assert seen == [BATCH, 2 * BATCH]  # no batch after the stop
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [partial.name]  # no tracks, no _full.pickle yet

    with caplog.at_level(logging.INFO, logger="posekit"):
        (resumed,) = _analyse(project, tmp_path)
    assert f"resuming at frame {2 * BATCH}" in caplog.text
    assert resumed == tracks and not partial.exists()
    _assert_same_outputs(resumed, whole)


def test_without_a_progress_callable_the_stop_comes_between_batches(
    project: Project, whole: Path, tmp_path: Path, monkeypatch
) -> None:
    """A tqdm bar (the CLI) or no progress: the stop came only between videos."""
    stop = threading.Event()
    calls: list[int] = []
    detect = MultiAnimalPredictor.detect

    def detect_and_stop_after_3(self, frames):
        calls.append(len(frames))
        if len(calls) == 3:
            stop.set()
        return detect(self, frames)

    monkeypatch.setattr(MultiAnimalPredictor, "detect", detect_and_stop_after_3)
    with pytest.raises(AnalysisStopped) as info:
        _analyse(project, tmp_path, stop_event=stop)
    assert info.value.frame == 3 * BATCH and len(calls) == 3
    monkeypatch.undo()
    (resumed,) = _analyse(project, tmp_path)
    _assert_same_outputs(resumed, whole)


def test_a_stop_after_the_last_batch_tracks_without_the_network_next_time(
    project: Project, whole: Path, tmp_path: Path, monkeypatch
) -> None:
    """The detections are complete: the next call only tracks them (no network)."""
    import posekit.engine.multianimal.api as ma

    stop = threading.Event()

    def press_stop_at_the_end(done: int, total: int) -> None:
        if done == FRAMES:
            stop.set()

    with pytest.raises(AnalysisStopped) as info:
        _analyse(project, tmp_path, progress=press_stop_at_the_end, stop_event=stop)
    tracks = tmp_path / whole.name
    full = tracks.with_name(tracks.name.replace("_el.h5", "_full.pickle"))
    assert (info.value.frame, info.value.partial) == (FRAMES, full)
    assert full.is_file() and not tracks.exists() and not _partial(tracks).exists()

    def no_network(*args, **kwargs):
        raise AssertionError("the network ran again")

    monkeypatch.setattr(ma, "multianimal_predictor", no_network)
    (resumed,) = _analyse(project, tmp_path)
    _assert_same_outputs(resumed, whole)


def test_other_options_start_over(
    project: Project, whole: Path, tmp_path: Path, caplog
) -> None:
    """Detections of another batch size are not resumed (they could differ)."""
    stop = threading.Event()

    def press_stop_at_8(done: int, total: int) -> None:
        if done == 2 * BATCH:
            stop.set()

    with pytest.raises(AnalysisStopped):
        _analyse(project, tmp_path, progress=press_stop_at_8, stop_event=stop)
    with caplog.at_level(logging.INFO, logger="posekit"):
        (tracks,) = _analyse(project, tmp_path, batch_size=2 * BATCH)
    assert "computed with other options; starting over" in caplog.text
    assert "resuming" not in caplog.text
    assert len(pd.read_hdf(tracks, "tracks")) == FRAMES
    assert not _partial(tracks).exists()
