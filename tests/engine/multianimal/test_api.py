"""The project verbs on a multi-animal project: train, evaluate, analyse, score tracks."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from posekit.engine.api import analyze_videos, evaluate_network, train_network
from posekit.engine.demo import make_demo_project
from posekit.engine.multianimal.api import evaluate_tracks
from posekit.engine.multianimal.outputs import read_full_pickle, read_tracklets_pickle

pytestmark = pytest.mark.slow


def test_train_evaluate_analyse_a_two_animal_demo(tmp_path):
    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    result = train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        save_interval_s=0,
    )
    assert result.iteration == 2
    cfg = result.train_dir / "pose_cfg.yaml"
    assert "partaffinityfield_graph" in cfg.read_text()
    table = evaluate_network(project)
    assert {"Test mAP", "Test mAR", "Test error(px)", "Train mAP"} <= set(table.columns)
    assert 0.0 <= float(table["Test mAP"].iloc[0]) <= 1.0
    combined = pd.read_csv(
        project.path
        / "evaluation-results"
        / "iteration-0"
        / "CombinedEvaluation-results.csv"
    )
    assert len(combined) == 1
    (tracks,) = analyze_videos(project, destfolder=tmp_path / "out", progress=False)
    assert tracks.name.endswith("_el.h5")
    stem = str(tracks)[: -len("_el.h5")]
    meta, dets = read_full_pickle(stem + "_full.pickle")
    assert len(dets) == 24 and meta["PAFgraph"] and meta["nframes"] == 24
    read_tracklets_pickle(stem + "_el.pickle")
    with open(stem + "_meta.pickle", "rb") as fh:
        assert pickle.load(fh)["data"]["individuals"] == ["mouse1", "mouse2"]
    df = pd.read_hdf(tracks, "tracks")
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    scores = evaluate_tracks(
        tracks, project.path / "ground-truth" / "session1_keypoints.h5"
    )
    assert {"id_switches", "idf1", "frames_map"} <= set(scores)
    # one animal per frame: live prediction and the model file refuse, saying why
    from posekit.engine.export import export_model
    from posekit.engine.live import open_live

    with pytest.raises(ValueError, match="multi-animal model.*posekit analyze"):
        open_live(project.path, (240, 320))
    with pytest.raises(ValueError, match="multi-animal model.*posekit analyze"):
        export_model(project, tmp_path / "ma.posekit.zip")
    assert not list(tmp_path.glob("ma*.zip"))
    # the training app's worst test frames: each labelled animal beside its match
    from posekit.widgets.worst_frames import find_worst_frames

    worst = find_worst_frames(project, 1, 1, predict=None)
    assert len(worst) == 1 and worst[0].png.startswith(b"\x89PNG")
