"""Stopping a running analysis, and outputs that an older version cut short.

- ``analyze_videos(stop_event=...)``: a Stop button's event stops between two
  batches, keeps the frames so far as Ctrl-C does (``.<output>.partial.npz``),
  writes no ``.h5``, releases the output lock and says where it stopped
  (:class:`~posekit.engine.inference.AnalysisStopped`); the same call resumes there
  and gives the uninterrupted run's result.
- an ``.h5`` with fewer rows than the video has frames (or unreadable) is not
  taken as done: the next call analyses the video again and says so.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from posekit.engine.api import analyze_videos
from posekit.engine.inference import AnalysisStopped
from posekit.engine.io.dlc import write_predictions
from posekit.engine.locks import output_lock_path
from posekit.engine.project import Project

#: Frames of the clip analysed, and the batch size (whole batches are kept).
CLIP_FRAMES = 24
BATCH = 4


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Copy the demo project and train a tiny network on it."""
    return tiny_trained_copy("stop")


@pytest.fixture
def clip(trained: Project, video_clip, tmp_path: Path) -> Path:
    """Cut a 24-frame clip of the demo video into a folder of its own."""
    src = video_clip(trained.path / "videos" / "session1.mp4", CLIP_FRAMES)
    dst = tmp_path / "m1.avi"
    shutil.copy(src, dst)
    return dst


def _analyse(trained: Project, video: Path, **kwargs):
    return analyze_videos(
        trained,
        [video],
        use_tflite=False,
        batch_size=BATCH,
        **{"progress": False, **kwargs},
    )


def test_a_stop_keeps_the_frames_so_far_and_the_same_call_resumes_there(
    trained: Project, clip: Path, tmp_path: Path, caplog
) -> None:
    whole_dir = tmp_path / "whole"
    whole_dir.mkdir()
    reference = shutil.copy(clip, whole_dir / clip.name)
    (whole,) = _analyse(trained, Path(reference))
    expected = pd.read_hdf(whole)

    stop = threading.Event()
    seen: list[int] = []

    def press_stop_at_8(done: int, total: int) -> None:
        seen.append(done)
        if done == 2 * BATCH:
            stop.set()  # the Stop button, from another thread

    with pytest.raises(AnalysisStopped) as info:
        _analyse(trained, clip, progress=press_stop_at_8, stop_event=stop)
    stopped = info.value
    assert not isinstance(stopped, (RuntimeError, OSError, ValueError))
    output = clip.parent / whole.name
    partial = output.with_name(f".{output.stem}.partial.npz")
    assert stopped.video == clip
    assert (stopped.frame, stopped.total) == (2 * BATCH, CLIP_FRAMES)
    assert stopped.partial == partial and partial.is_file()
    assert stopped.outputs == []
    assert f"stopped at frame {2 * BATCH} of {CLIP_FRAMES}" in str(stopped)
    assert seen[-1] == 2 * BATCH  # stopped before the next batch was computed
    assert not output.exists()  # no incomplete .h5
    assert not output_lock_path(output).exists()  # the output lock is released

    with caplog.at_level(logging.INFO, logger="posekit"):
        (resumed,) = _analyse(trained, clip)
    assert f"resuming at frame {2 * BATCH}" in caplog.text
    assert resumed == output and not partial.exists()
    pd.testing.assert_frame_equal(pd.read_hdf(resumed), expected, check_exact=True)


def test_a_stop_before_the_video_starts_writes_nothing(
    trained: Project, clip: Path
) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(AnalysisStopped) as info:
        _analyse(trained, clip, stop_event=stop)
    assert info.value.frame == 0 and info.value.partial is None
    assert sorted(p.name for p in clip.parent.iterdir()) == [clip.name]


def test_a_truncated_or_unreadable_output_is_analysed_again(
    trained: Project, clip: Path, caplog
) -> None:
    """An older version wrote a cut-short .h5 when stopped; reruns skipped it."""
    (out,) = _analyse(trained, clip)
    full = pd.read_hdf(out)
    assert len(full) == CLIP_FRAMES
    write_predictions(full.iloc[:10], out)  # what the old bug left
    with caplog.at_level(logging.INFO, logger="posekit"):
        again = _analyse(trained, clip)
    assert f"{out.name} has 10 of {CLIP_FRAMES} frames: analysing again" in caplog.text
    assert list(again) == [out] and again.skipped == []
    pd.testing.assert_frame_equal(pd.read_hdf(out), full, check_exact=True)
    # complete: skipped, as before
    assert _analyse(trained, clip).skipped == [out]
    # not an HDF5 file at all (a copy that did not finish)
    out.write_bytes(b"\0" * 100)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        again = _analyse(trained, clip)
    assert f"{out.name} cannot be read" in caplog.text
    assert again.skipped == [] and len(pd.read_hdf(out)) == CLIP_FRAMES


def test_the_row_count_comes_from_the_index_alone(tmp_path: Path) -> None:
    """Tables (DeepLabCut's), fixed-format frames, and files that are no HDF5."""
    import numpy as np

    from posekit.engine.inference import _output_rows

    columns = pd.MultiIndex.from_product([["s"], ["nose"], ["x", "y", "likelihood"]])
    df = pd.DataFrame(np.zeros((17, 3)), columns=columns)
    write_predictions(df, tmp_path / "table.h5")
    df.to_hdf(tmp_path / "fixed.h5", key="df_with_missing", format="fixed")
    df.to_hdf(tmp_path / "tracks.h5", key="tracks", format="table")
    for name in ("table.h5", "fixed.h5", "tracks.h5"):
        assert _output_rows(tmp_path / name) == 17, name
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(Exception):  # noqa: B017 - whatever PyTables raises
        _output_rows(tmp_path / "empty.h5")
