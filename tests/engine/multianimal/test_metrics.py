"""Identity metrics against answers worked out by hand (Ristani et al. 2016, CLEAR MOT)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from posekit.engine.multianimal.metrics import identity_metrics

SHAPE = np.array([[0, 0], [10, 0], [5, 8], [0, 20], [10, 20], [5, 30]], float)


def _three_animals(n_frames: int) -> np.ndarray:
    """``(T, 3, 6, 2)``: three still animals 100 px apart."""
    one = np.stack([SHAPE + [100.0 * g, 0.0] for g in range(3)])
    return np.repeat(one[None], n_frames, axis=0)


def test_a_swap_never_undone_costs_idf1_the_rest_of_the_video():
    gt = _three_animals(1000)
    pred = gt.copy()
    pred[500:, [0, 1]] = pred[500:, [1, 0]]  # animals 0 and 1 swap at frame 500
    m = identity_metrics(pred, gt)
    # best one-to-one matching: animal 2 for 1000 frames, 0 and 1 for 500 each
    assert m["idtp"] == 2000
    assert m["idf1"] == pytest.approx(2 * 2000 / (3000 + 3000))  # 2/3
    assert m["idp"] == pytest.approx(2 / 3) and m["idr"] == pytest.approx(2 / 3)
    assert m["id_switches"] == 2  # each of the two animals once
    assert m["mota"] == pytest.approx(1 - 2 / 3000)
    assert m["assignment"][2] == 2


def test_idtp_is_the_best_bijection_when_animals_and_tracks_go_missing():
    gt = _three_animals(1000)
    pred = gt.copy()
    pred[500:, [0, 1]] = pred[500:, [1, 0]]
    pred[:250, 2] = np.nan  # track 2 starts late
    gt[800:, 0] = np.nan  # animal 0 leaves
    m = identity_metrics(pred, gt)

    def together(g: int, p: int) -> int:
        same = np.abs(pred[:, p] - gt[:, g]).max(axis=(1, 2)) < 1  # NaN: False
        return int(same.sum())

    best = max(
        sum(together(g, p) for g, p in enumerate(perm))
        for perm in itertools.permutations(range(3))
    )
    assert best == 1750  # 750 (2) + 500 (0: 0..499) + 500 (1: 0..499)
    assert m["idtp"] == best
    assert m["idf1"] == pytest.approx(2 * 1750 / (2800 + 2750))


def test_absent_animals_never_count_as_identity_matches_even_at_min_oks_zero():
    gt = _three_animals(1000)
    pred = gt.copy()
    pred[:500, 0] = np.nan  # track 0 absent half the video
    m = identity_metrics(pred, gt, min_oks=0.0)
    assert m["idtp"] == 2500
    assert m["idp"] == pytest.approx(1.0)
    assert m["idf1"] == pytest.approx(2 * 2500 / (3000 + 2500))
