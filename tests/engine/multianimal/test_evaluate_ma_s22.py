"""Multi-animal ``evaluate``: the p-cutoff errors, and the files that recompute the mAP.

QA s22 (metrics 2, 3, 5): the columns "Train/Test error with p-cutoff" repeated the
errors without the cut-off; the assembled animals and the scores that rank them for
the OKS mAP were written nowhere; labels edited after the training set was made were
scored as they were then, without a word.

The network is replaced by a predictor whose animals are known: each labelled animal
shifted by (3, 4) px (5 px off, likelihood 0.9), except its first bodypart, shifted
by (6, 8) px (10 px off) with likelihood 0.1, below the demo's p-cutoff (0.5). So
the errors with the cut-off are exactly 5 px; without it they are
``(5 (n - m) + 10 m) / n`` (``m`` first bodyparts labelled of ``n`` points).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import posekit.engine.multianimal.api as ma_api
from posekit.engine.api import evaluate_network, train_network
from posekit.engine.dataset import load_training_set
from posekit.engine.demo import make_demo_project
from posekit.engine.evaluation import oks_map
from posekit.engine.io.dlc import index_to_paths, read_labels, write_labels
from posekit.engine.multianimal.assembly import Assemblies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Return a 2-mouse demo with a network trained for 2 iterations."""
    project = make_demo_project(
        tmp_path_factory.mktemp("ma-eval"), n_animals=2, n_frames=24, n_labeled=6
    )
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


def _known_predictor(ts):
    """Return the predictor of the module docstring, over the training set."""
    n_unique = len(ts.layout.unique_bodyparts)

    def predict(images):
        out = []
        for i in range(len(images)):
            labels = np.asarray(ts.keypoints[i], float)  # (I, K, 2)
            animals = np.concatenate(
                [labels + [3.0, 4.0], np.full((*labels.shape[:2], 1), 0.9)], axis=-1
            )
            animals[:, 0, :2] = labels[:, 0] + [6.0, 8.0]
            animals[:, 0, 2] = 0.1
            animals[~np.isfinite(labels).all(-1)] = np.nan
            keep = np.isfinite(animals[..., 0]).any(-1)
            animals = animals[keep]
            # scores chosen against the order: the second animal ranks first
            scores = np.arange(1, len(animals) + 1, dtype=float) / 10
            out.append(Assemblies(animals, scores, np.full((n_unique, 3), np.nan)))
        return out

    return predict


def test_pcutoff_errors_and_the_written_assemblies(trained, monkeypatch):
    project = trained
    assert project.pcutoff == 0.5
    ts = load_training_set(project)
    monkeypatch.setattr(
        ma_api, "multianimal_predictor", lambda *a, **k: _known_predictor(ts)
    )
    table = evaluate_network(project)
    for split, idx in (("Train", ts.train_indices), ("Test", ts.test_indices)):
        labels = np.asarray(ts.keypoints, float)[idx]
        present = np.isfinite(labels).all(-1)
        n, m = int(present.sum()), int(present[..., 0].sum())
        assert 0 < m < n
        expected = (5.0 * (n - m) + 10.0 * m) / n
        assert table[f"{split} error(px)"].iloc[0] == pytest.approx(expected)
        assert table[f"{split} error with p-cutoff"].iloc[0] == pytest.approx(5.0)
    combined = pd.read_csv(
        project.path
        / "evaluation-results"
        / f"iteration-{project.iteration}"
        / "CombinedEvaluation-results.csv",
        index_col=0,
    )
    assert combined["Train error with p-cutoff"].tolist() == [5.0]
    assert combined["Test error with p-cutoff"].tolist() == [5.0]
    assert combined["Train error(px)"].iloc[0] > 5.0

    # the assembled animals and their scores, beside the results
    folder = project.evaluation_dir(1)
    (h5,) = folder.glob("DLC_*-snapshot-2.h5")
    scores = pd.read_csv(h5.with_name(h5.stem + "-scores.csv"))
    df = pd.read_hdf(h5)
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert index_to_paths(df.index) == list(ts.paths)
    individuals = list(dict.fromkeys(df.columns.get_level_values("individuals")))
    assert individuals == list(ts.layout.individuals)
    split_of = {ts.paths[i]: "train" for i in ts.train_indices}
    split_of.update({ts.paths[i]: "test" for i in ts.test_indices})
    assert scores["split"].tolist() == [split_of[p] for p in scores["image"]]
    assert scores["mean_likelihood"].tolist() == pytest.approx(
        [
            (0.1 + 0.9 * (len(ts.layout.multi_bodyparts) - 1))
            / len(ts.layout.multi_bodyparts)
        ]
        * len(scores)
    )
    # the mAP, recomputed from the two files alone, is the one reported
    xyl = df.to_numpy(float).reshape(len(df), len(individuals), -1, 3)
    for split, idx in (("Train", ts.train_indices), ("Test", ts.test_indices)):
        preds, ranks = [], []
        for i in idx:
            rows = scores[scores["image"] == ts.paths[i]]
            cols = [individuals.index(name) for name in rows["individuals"]]
            preds.append(xyl[i, cols])
            ranks.append(rows["score"].to_numpy())
        labels = [np.asarray(ts.keypoints[i], float) for i in idx]
        assert table[f"{split} mAP"].iloc[0] == pytest.approx(
            oks_map(labels, preds, ranks)
        )
    # each frame's animals in the columns highest score first (as the assembly
    # orders them); the predictor gave the second animal the higher score
    per_frame = scores.groupby("image", sort=False)["score"].apply(list)
    assert all(s == sorted(s, reverse=True) for s in per_frame)


def test_labels_edited_after_the_training_set_are_said(trained, monkeypatch, caplog):
    project = trained
    ts = load_training_set(project)
    monkeypatch.setattr(
        ma_api, "multianimal_predictor", lambda *a, **k: _known_predictor(ts)
    )
    with caplog.at_level(logging.WARNING, logger="posekit"):
        evaluate_network(project)
    assert "changed in labeled-data" not in caplog.text
    frame = ts.paths[ts.test_indices[0]]
    video = frame.split("/")[1]
    path = project.labels_path(video)
    labels = read_labels(path)
    row = index_to_paths(labels.index).index(frame)
    column = int(np.flatnonzero(np.isfinite(labels.iloc[row].to_numpy(float)))[0])
    labels.iloc[row, column] += 50.0
    write_labels(labels, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        evaluate_network(project)
    assert f"the labels of 1 of the {len(ts.paths)} frames" in caplog.text
    assert frame in caplog.text and "posekit create-training-dataset" in caplog.text


def test_a_subset_of_bodyparts_is_refused_not_ignored(trained):
    """The subset (comparisonbodyparts) was ignored: all bodyparts, silently."""
    evaluation = trained.path / "evaluation-results"
    before = sorted(evaluation.rglob("*")) if evaluation.exists() else []
    with pytest.raises(ValueError, match="multi-animal project is evaluated on all"):
        evaluate_network(trained, comparisonbodyparts=["snout"])
    assert (sorted(evaluation.rglob("*")) if evaluation.exists() else []) == before
