"""Converting a project's tracks: the writers take the video's frame rate and the skeleton.

A DeepLabCut predictions file holds neither its frame rate (when the analysis left no
``_meta.pickle``) nor a skeleton (DeepLabCut keeps it in ``config.yaml``); a SLEAP
``.slp`` names its video relative to itself. The NWB and SLEAP writers find the video
(beside the file or in its project), its frame rate and the project's skeleton, and
say so in a warning when they cannot (QA s16, findings 7 and 8).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.engine.demo import SKELETON, make_demo_project
from posekit.engine.io import convert, load
from posekit.engine.io.nwb import FRAMES_COMMENT

FPS = 20.0
SCORER = "DLC_resnet50_demoJan1shuffle1_100"


@pytest.fixture(scope="module", params=[1, 2], ids=["one-animal", "two-animals"])
def demo(request, tmp_path_factory):
    """Make a demo project with predictions in its ``videos/`` (no ``_meta.pickle``)."""
    project = make_demo_project(
        tmp_path_factory.mktemp("demo"),
        n_frames=20,
        n_labeled=0,
        size=(96, 72),
        fps=FPS,
        label=False,
        n_animals=request.param,
    )
    root = Path(project.path)
    suffix = "_el" if request.param > 1 else ""
    preds = root / "videos" / f"session1{SCORER}{suffix}.h5"
    shutil.copy(root / "ground-truth/session1_keypoints.h5", preds)
    assert not list(root.glob("videos/*_meta.pickle"))
    return root, preds


def _names(edges, nodes) -> list[list[str]]:
    return [[str(nodes[int(a)]), str(nodes[int(b)])] for a, b in edges]


def test_project_predictions_to_nwb_take_the_video_rate_and_skeleton(
    demo, tmp_path
) -> None:
    pynwb = pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    root, preds = demo
    video = (root / "videos/session1.mp4").absolute()
    out = convert(preds, tmp_path / "preds.nwb")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        behavior = io.read().processing["behavior"]
        poses = [
            obj
            for name, obj in behavior.data_interfaces.items()
            if name.startswith("PoseEstimation")
        ]
        for pe in poses:
            # NWB names external files relative to the NWB file (QA s17)
            relative = os.path.relpath(video, tmp_path)
            assert list(pe.original_videos[:]) == [relative]
            assert pe.source_video.external_file[0] == relative
            series = pe.pose_estimation_series["snout"]
            assert series.rate == FPS and series.timestamps is None
            assert series.comments != FRAMES_COMMENT
        skeleton = behavior["Skeletons"]["skeleton"]
        assert _names(skeleton.edges[:], skeleton.nodes[:]) == SKELETON
    back = load(out)
    assert back.attrs["fps"] == FPS
    np.testing.assert_allclose(back.time.values, np.arange(20) / FPS)
    assert back.attrs["skeleton"] == SKELETON
    # a frame rate given overrides the video's
    with pynwb.NWBHDF5IO(
        str(convert(preds, tmp_path / "p50.nwb", fps=50.0)), "r"
    ) as io:
        pe = next(
            obj
            for name, obj in io.read().processing["behavior"].data_interfaces.items()
            if name.startswith("PoseEstimation")
        )
        assert pe.pose_estimation_series["snout"].rate == 50.0


def test_project_predictions_to_sleap_keep_the_project_skeleton(
    demo, tmp_path, caplog
) -> None:
    sio = pytest.importorskip("sleap_io")
    _, preds = demo
    with caplog.at_level(logging.WARNING, logger="posekit"):
        slp = convert(preds, tmp_path / "preds.slp")
        analysis = convert(preds, tmp_path / "preds.h5", to="SLEAP-analysis")
    assert "skeleton" not in caplog.text
    labels = sio.load_slp(str(slp))
    edges = [[e.source.name, e.destination.name] for e in labels.skeleton.edges]
    assert edges == SKELETON
    assert load(analysis).attrs["skeleton"] == SKELETON


def test_outside_a_project_warnings_say_what_is_missing(demo, tmp_path, caplog) -> None:
    sio = pytest.importorskip("sleap_io")
    pynwb = pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    _, preds = demo
    alone = tmp_path / preds.name  # no video beside it, no config.yaml above it
    shutil.copy(preds, alone)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        slp = convert(alone, tmp_path / "alone.slp")
    assert "holds no skeleton and lies in no project" in caplog.text
    assert len(sio.load_slp(str(slp)).skeleton.edges) == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        nwb = convert(alone, tmp_path / "alone.nwb")
    assert "holds no skeleton" in caplog.text
    assert "timestamps are frame numbers" in caplog.text and "--fps" in caplog.text
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        pe = next(
            obj
            for name, obj in io.read().processing["behavior"].data_interfaces.items()
            if name.startswith("PoseEstimation")
        )
        assert pe.pose_estimation_series["snout"].comments == FRAMES_COMMENT
        assert pe.original_videos is None
