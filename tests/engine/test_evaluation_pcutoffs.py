"""What a p-cutoff keeps and lets through, reported by the evaluation.

Issue 12 asks for likelihoods that mean something and for "how often a point with
likelihood ≥ p-cutoff is more than 10 px off"; the accuracy benchmark reported it,
but a user's own evaluation did not: ``evaluate_network`` now writes the share kept
and the confident misses at the project's p-cutoff in ``<scorer>-results.csv``, and
the same for p-cutoffs 0.1–0.9 in ``<scorer>-pcutoffs.csv``, to choose one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas import read_hdf

import posekit.engine as deeplabcut
from posekit.engine.dataset import load_training_set
from posekit.engine.demo import make_demo_project
from posekit.engine.evaluation import evaluation_summary, likelihood_table


def test_likelihood_table_counts_kept_points_and_misses():
    labels = np.zeros((2, 3, 2))
    labels[1, 2] = np.nan  # not labelled: never counted
    pred = np.array(
        [
            [[3, 4, 0.95], [30, 0, 0.85], [0, 11, 0.35]],  # 5 px, 30 px, 11 px
            [[0, 0, 0.65], [0, 10, 0.55], [500, 0, 0.99]],  # 0 px, 10 px (not over)
        ]
    )
    rows = likelihood_table(pred, labels, pcutoffs=(0.3, 0.6, 0.9, 0.99))
    assert [r["labelled"] for r in rows] == [5] * 4
    assert [r["kept"] for r in rows] == [5, 3, 1, 0]
    assert [r["misses_kept"] for r in rows] == [2, 1, 0, 0]
    assert rows[0]["kept_share"] == 1.0 and rows[1]["kept_share"] == 0.6
    assert rows[1]["miss_share_kept"] == pytest.approx(1 / 3)
    assert rows[1]["mean_error_kept_px"] == pytest.approx((5 + 30 + 0) / 3)
    assert np.isnan(rows[3]["mean_error_kept_px"]) and np.isnan(
        rows[3]["miss_share_kept"]
    )
    summary = evaluation_summary(pred, labels, pcutoff=0.6)
    assert summary["kept_share"] == 0.6
    assert summary["miss_share_kept"] == pytest.approx(1 / 3)
    assert np.isnan(evaluation_summary(pred[..., :2], labels)["kept_share"])
    with pytest.raises(ValueError, match="needs predictions with a likelihood"):
        likelihood_table(pred[..., :2], labels)


def test_evaluate_network_writes_what_each_pcutoff_keeps(tmp_path, caplog):
    project = make_demo_project(tmp_path, n_frames=40, n_labeled=10, size=(160, 120))
    deeplabcut.train_network(
        project, backbone="mobilenet_v2_0.35", weights=None, max_iterations=2,
        batch_size=2, crop_size=(64, 64), progress=False, eval_interval=0,
        save_interval_s=0,
    )  # fmt: skip
    project.set("pcutoff", 0.01)  # a 2-iteration network's likelihoods are low
    project.save()
    with caplog.at_level("INFO", logger="posekit"):
        row = deeplabcut.evaluate_network(str(project.config_path)).iloc[0]
    folder = project.evaluation_dir(1)
    (table_path,) = folder.glob("*-pcutoffs.csv")
    scorer = table_path.name[: -len("-pcutoffs.csv")]
    table = pd.read_csv(table_path)
    pcut = 0.01
    assert sorted(set(table["split"])) == ["test", "train"]
    assert pcut in set(table["pcutoff"]) and 0.1 in set(table["pcutoff"])
    # recomputed here from the predictions evaluate wrote and the recorded split
    ts = load_training_set(project)
    h5 = read_hdf(folder / f"{scorer}-snapshot-2.h5")
    pred = h5.to_numpy(float).reshape(len(h5), len(ts.bodyparts), 3)
    for split, idx in (("train", ts.train_indices), ("test", ts.test_indices)):
        d = np.linalg.norm(pred[idx, :, :2] - ts.keypoints[idx], axis=-1)
        labelled = np.isfinite(d)
        for _, r in table[table["split"] == split].iterrows():
            kept = labelled & (pred[idx, :, 2] >= r["pcutoff"])
            assert r["labelled"] == labelled.sum() and r["kept"] == kept.sum()
            assert r["misses_kept"] == (d[kept] > 10).sum()
    test = table[(table["split"] == "test") & (table["pcutoff"] == pcut)].iloc[0]
    assert test["kept"] > 0
    assert row["Test share kept at p-cutoff"] == pytest.approx(test["kept_share"])
    assert row["Test share kept >10px off"] == pytest.approx(test["miss_share_kept"])
    assert f"at p-cutoff {pcut:g}, {int(test['kept'])} of " in caplog.text
    on_disk = pd.read_csv(folder / f"{scorer}-results.csv").iloc[0]
    assert on_disk["Test share kept at p-cutoff"] == pytest.approx(test["kept_share"])
