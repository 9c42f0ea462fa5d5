"""Supervised behaviour classification on the demo animal, with block cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from posekit.engine.behavior.classify import (
    BehaviorClassifier,
    BlockKFold,
    behavior_permutation_importance,
    cross_validate_behavior,
)
from posekit.engine.demo import BEHAVIORS

WINDOWS = (5, 15, 31)  # as in conftest.demo_session


def test_demo_behaviours_are_recovered_with_block_cv(demo_session):
    _, X, y = demo_session
    assert set(y) == set(BEHAVIORS)
    clf = BehaviorClassifier(
        n_estimators=15, min_samples_leaf=3, min_bout=5, random_state=0
    )
    res = cross_validate_behavior(clf, X, y, n_splits=5, gap=max(WINDOWS) // 2)
    print("\nblock-CV scores (demo, 3000 frames):\n", res.scores.round(3))
    print("macro F1", round(res.macro_f1, 3), "folds", np.round(res.fold_f1, 3))
    assert res.macro_f1 >= 0.9
    assert (res.scores["f1"] >= 0.85).all()
    assert res.confusion.values.sum() == len(y)
    assert np.trace(res.confusion.values) == pytest.approx(res.accuracy * len(y))
    assert res.scores.loc["run", "support"] == (y == "run").sum()


def test_block_folds_are_contiguous_and_purged():
    folds = list(BlockKFold(4, gap=2).split(np.zeros((20, 1))))
    tests = [t.tolist() for _, t in folds]
    assert tests == [
        list(range(0, 5)),
        list(range(5, 10)),
        list(range(10, 15)),
        list(range(15, 20)),
    ]
    train, test = folds[1]
    assert set(train) == set(range(0, 3)) | set(range(12, 20))
    assert not set(train) & set(test)
    with pytest.raises(ValueError, match="n_splits"):
        BlockKFold(1)


def _two_blobs(rng, n=120):
    y = np.repeat(["rest", "run"], n // 2)
    X = np.c_[(y == "run") * 3.0 + rng.normal(0, 0.6, n), rng.normal(size=n)]
    return X, y


def test_threshold_background_and_min_bout(rng):
    X, y = _two_blobs(rng)
    clf = BehaviorClassifier(n_estimators=10, random_state=0).fit(X, y)
    proba = clf.behavior_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    strict = BehaviorClassifier(n_estimators=10, random_state=0, threshold=1.01 - 1e-9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        strict.fit(X, y)
    picky = BehaviorClassifier(
        n_estimators=10, random_state=0, threshold={"run": 0.999}, background="none"
    ).fit(X, y)
    pred = picky.predict(X)
    unsure_run = (proba[:, 1] >= proba[:, 0]) & (proba[:, 1] < 0.999)
    assert set(pred[unsure_run]) <= {"none", "rest"}
    # min_bout: isolated single-frame predictions disappear
    noisy = X.copy()
    noisy[50] = [3.0, 0.0]  # one 'run'-looking frame inside the rest block
    smooth = BehaviorClassifier(n_estimators=10, random_state=0, min_bout=3).fit(X, y)
    assert smooth.predict(noisy)[50] == "rest"
    with pytest.raises(ValueError, match="one class"):
        BehaviorClassifier().fit(X, np.full(len(y), "rest"))


def test_gradient_boosting_and_multiclass_strategies(rng):
    X, y = _two_blobs(rng)
    for kw in ({"model": "gradient_boosting"}, {"strategy": "multiclass"}):
        res = cross_validate_behavior(
            BehaviorClassifier(n_estimators=5, random_state=0, **kw), X, y, n_splits=3
        )
        assert res.macro_f1 > 0.9, kw


def test_permutation_importance_finds_the_informative_feature(rng):
    X, y = _two_blobs(rng)
    clf = BehaviorClassifier(n_estimators=10, random_state=0).fit(X, y)
    imp = behavior_permutation_importance(
        clf, X, y, feature_names=["speed", "noise"], random_state=0
    )
    assert imp.index.tolist() == ["speed", "noise"]
    assert imp.loc["speed", "importance_mean"] > 0.3


@parametrize_with_checks(
    [BehaviorClassifier(n_estimators=5, random_state=0)],
)
def test_sklearn_contract(estimator, check):
    check(estimator)
