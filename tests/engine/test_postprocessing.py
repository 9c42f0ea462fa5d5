"""Filtered prediction files and finding the files that belong together."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from posekit.engine.io.dlc import predictions_frame, read_labels, write_predictions
from posekit.engine.postprocessing import (
    filter_predictions,
    filtered_path,
    find_predictions,
    prediction_files,
)
from posekit.engine.project import create_project

SCORER = "DLC_resnet50_testJan1shuffle1_100"


def test_multianimal_layout_is_kept(tmp_path, rng) -> None:
    n, inds, bps = 40, ["mouse1", "mouse2"], ["nose", "tail"]
    xyp = np.zeros((n, 2, 2, 3))
    xyp[..., :2] = rng.normal(100, 5, (n, 2, 2, 2))
    xyp[..., 2] = 0.9
    df = predictions_frame(xyp, SCORER, bps, individuals=inds)
    path = write_predictions(df, tmp_path / f"v{SCORER}_el.h5", key="tracks")
    out = filter_predictions(path, method="median", window=3)
    assert out == tmp_path / f"v{SCORER}_el_filtered.h5"
    got = read_labels(out)
    assert got.columns.equals(df.columns)
    for ind in inds:
        for bp in bps:
            x = df[(SCORER, ind, bp, "x")].to_numpy()
            np.testing.assert_allclose(
                got[(SCORER, ind, bp, "x")].to_numpy()[1:-1], signal.medfilt(x, 3)[1:-1]
            )
    np.testing.assert_array_equal(
        got.xs("likelihood", axis=1, level="coords").to_numpy(), 0.9
    )


def test_labels_are_refused(tmp_path) -> None:
    df = predictions_frame(np.ones((2, 1, 3)), "me", ["nose"])
    df.index = pd.Index(["labeled-data/v/img0.png", "labeled-data/v/img1.png"])
    path = tmp_path / "CollectedData_me.h5"
    df.to_hdf(path, key="df_with_missing")
    with pytest.raises(ValueError, match="labels"):
        filter_predictions(path)


def test_find_predictions(tmp_path) -> None:
    for name in ("m1.mp4", "m10.mp4"):
        (tmp_path / name).write_bytes(b"")
    older = tmp_path / f"m1{SCORER}.h5"
    newer = tmp_path / "m1DLC_mobnet_35_testJan1shuffle1_200.h5"
    for p in (older, newer, filtered_path(older), tmp_path / f"m1{SCORER}_meta.h5"):
        p.write_bytes(b"")
    os.utime(older, (time.time() - 100, time.time() - 100))
    assert find_predictions(tmp_path / "m1.mp4") == [newer, older]
    assert find_predictions(tmp_path / "m1.mp4", filtered=True) == [
        filtered_path(older)
    ]
    assert find_predictions(tmp_path / "m2.mp4") == []
    # brackets in a name are characters, not a pattern (m[1] used to find nothing)
    odd = tmp_path / f"m[1]{SCORER}.h5"
    odd.write_bytes(b"")
    assert find_predictions(tmp_path / "m[1].mp4") == [odd]
    # the predictions of m1's labelled video (analysed in turn) are not m1's (QA S14)
    labelled = tmp_path / f"m1{SCORER}_p60_labeled{SCORER}.h5"
    labelled.write_bytes(b"")
    assert find_predictions(tmp_path / "m1.mp4") == [newer, older]


def test_prediction_files_of_a_project(tmp_path) -> None:
    project = create_project("t", "me", working_directory=tmp_path)
    videos = project.path / "videos"
    for name in ("m1.mp4", "m2.mp4", f"m1{SCORER}_labeled.mp4"):
        (videos / name).write_bytes(b"")
    older = videos / f"m1{SCORER}.h5"
    newer = videos / "m1DLC_mobnet_35_testJan1shuffle1_200.h5"
    for path in (older, newer, filtered_path(older)):
        path.write_bytes(b"")
    os.utime(older, (time.time() - 100, time.time() - 100))
    truth = project.path / "ground-truth"
    truth.mkdir()
    (truth / "m2_keypoints.h5").write_bytes(b"")
    assert prediction_files(project) == [
        newer,
        older,
        filtered_path(older),
        truth / "m2_keypoints.h5",
    ]


def test_a_shuffles_own_tracks_file_is_taken(tmp_path, monkeypatch, caplog) -> None:
    """Several animals: the network's own ``<stem><scorer>_el.h5`` (QA s15, finding 1).

    The picker looked for ``<stem><scorer>.h5`` only, so it took the newest file of
    any network (a DeepLabCut-made ``_el.h5``) and warned "made by another network"
    even when the shuffle's own tracks were there.
    """
    from posekit.engine.api import video_predictions
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.postprocessing import network_predictions

    project = create_project(
        "t",
        "me",
        working_directory=tmp_path,
        individuals=["mus1", "mus2"],
        bodyparts=("snout", "tail"),
    )
    own = "DLC_effnet_lite0_tJan1shuffle1_29"
    monkeypatch.setattr(
        ModelFolder, "snapshot", lambda self, index=-1: (29, self.path / "s.keras")
    )
    monkeypatch.setattr(ModelFolder, "scorer", lambda self, snapshot=-1: own)
    video = project.path / "videos" / "m4s1.mp4"
    video.parent.mkdir(exist_ok=True)
    video.write_bytes(b"")
    mine, mine_bx = (video.with_name(f"m4s1{own}_{s}.h5") for s in ("el", "bx"))
    theirs = video.with_name("m4s1DLC_dlcrnetms5_tJan1shuffle1_50000_el.h5")
    for age, p in enumerate((theirs, mine_bx, mine)):  # DeepLabCut's is the newest
        p.write_bytes(b"")
        os.utime(p, (time.time() - 100 * age,) * 2)
    for p in (mine, theirs):
        filtered_path(p).write_bytes(b"")
    os.utime(filtered_path(mine), (time.time() - 100,) * 2)
    with caplog.at_level("WARNING", logger="posekit"):
        assert network_predictions(project, video, 1)[0] == mine
        assert video_predictions(project, [video], shuffle=1) == [mine]
        assert video_predictions(project, [video], shuffle=1, filtered=True) == [
            filtered_path(mine)
        ]
        assert network_predictions(project, video, 1, track_method="box") == [mine_bx]
    assert "another network" not in caplog.text
    with pytest.raises(ValueError, match="track_method='skeleton'"):
        network_predictions(project, video, 1, track_method="skeleton")
