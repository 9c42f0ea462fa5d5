"""DeepLabCut's step-by-step tracking verbs: convert_detections2tracklets, stitch_tracklets.

A maDLC script analyses with ``auto_track=False``, then calls
``convert_detections2tracklets`` and ``stitch_tracklets``; posekit had neither (the
script stopped with an AttributeError) and refused ``auto_track=False``. The known
answer: the two steps, run on the detections the analysis wrote, give exactly the
tracklets and tracks the one-shot analysis gave.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import posekit.engine as deeplabcut
from posekit.engine.demo import make_demo_project


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Return a 2-animal demo project, trained briefly, its video analysed."""
    pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("steps")
    project = make_demo_project(root, n_animals=2, n_frames=24, n_labeled=6)
    deeplabcut.train_network(
        project.config_path,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        progress=False,
        eval_interval=0,
        save_interval_s=0,
    )
    video = project.source_videos()[0]
    outputs = deeplabcut.analyze_videos(
        str(project.config_path), [str(video)], auto_track=False, progress=False
    )
    h5 = Path(outputs[0])
    return project, video, h5


def _stem(h5: Path) -> str:
    return str(h5)[: -len("_el.h5")]


def _read(path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def test_the_steps_remake_what_the_analysis_made(analysed, caplog):
    project, video, h5 = analysed
    stem = _stem(h5)
    tracklets = Path(f"{stem}_el.pickle")
    before = _read(tracklets)
    tracks = pd.read_hdf(h5, "tracks")
    # there already: kept, as DeepLabCut's "tracklets already computed"
    with caplog.at_level(logging.INFO, logger="posekit"):
        found = deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], videotype=".mp4", shuffle=1
        )
    assert found == [tracklets] and "tracklets there already" in caplog.text
    tracklets.unlink()
    h5.unlink()
    made = deeplabcut.convert_detections2tracklets(
        str(project.config_path), [str(video)], shuffle=1, track_method="ellipse"
    )
    assert made == [tracklets]
    again = _read(tracklets)
    assert set(again) == set(before)
    for key, frames in before.items():
        if key == "header":
            assert list(again[key]) == list(frames)
            continue
        assert set(again[key]) == set(frames)
        for frame, value in frames.items():
            np.testing.assert_array_equal(again[key][frame], value)  # NaN = NaN
    out = deeplabcut.stitch_tracklets(
        project.config_path, [str(video)], shuffle=1, min_length=0
    )
    assert out == [h5]
    pd.testing.assert_frame_equal(pd.read_hdf(h5, "tracks"), tracks)


def test_another_tracker_and_number_of_animals(analysed):
    project, video, h5 = analysed
    stem = _stem(h5)
    made = deeplabcut.convert_detections2tracklets(
        project.config_path, [str(video)], track_method="box"
    )
    assert made == [Path(f"{stem}_bx.pickle")]
    out = deeplabcut.stitch_tracklets(
        project.config_path, [str(video)], track_method="box", n_tracks=1, min_length=1
    )
    assert out == [Path(f"{stem}_bx.h5")]
    df = pd.read_hdf(out[0], "tracks")
    assert list(df.columns.get_level_values("individuals").unique()) == ["mouse1"]
    assert len(df) == 24


def test_refusals_say_what_to_do(analysed, tmp_path):
    project, video, h5 = analysed
    with pytest.raises(TypeError, match="inferencecfg=.*leave it out"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], inferencecfg={"topktoretain": 2}
        )
    with pytest.raises(TypeError, match="transformer_checkpoint=.*re-identification"):
        deeplabcut.stitch_tracklets(
            project.config_path, [str(video)], transformer_checkpoint="reid.pt"
        )
    # a videotype that leaves out the video given tracks nothing (never every video)
    assert (
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], videotype=".avi", overwrite=True
        )
        == []
    )
    with pytest.raises(FileNotFoundError, match="Analyse the video first"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], destfolder=str(tmp_path)
        )
    with pytest.raises(FileNotFoundError, match="convert_detections2tracklets"):
        deeplabcut.stitch_tracklets(
            project.config_path, [str(video)], destfolder=str(tmp_path)
        )
