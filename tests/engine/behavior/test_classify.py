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


def test_frames_with_no_pose_get_no_behaviour(demo_session):
    """QA S14 F3: 40 frames with every keypoint NaN were all called 'groom'."""
    from posekit.engine.behavior.ethogram import (
        MISSING,
        compute_ethogram,
        labels_to_bouts,
        transition_matrix,
    )
    from posekit.engine.behavior.features import compute_window_features

    ds, X, y = demo_session
    gappy = ds.copy(deep=True)
    gappy["position"][2400:2440] = np.nan
    gappy["position"][1000:1003] = np.nan  # a short gap: windows see around it
    Xg = compute_window_features(
        gappy, windows=WINDOWS, heading=("tailbase", "neck")
    ).isel(individual=0)
    assert np.isnan(Xg.values[2400:2440]).all()
    assert not np.isnan(Xg.values[1000:1003]).all(axis=1).any()  # window stats left
    clf = BehaviorClassifier(n_estimators=10, min_bout=5, random_state=0)
    clf.fit(Xg, y)  # the gaps' labels are left out of training
    pred = clf.predict(Xg)
    assert (pred[2400:2440] == MISSING).all() and (pred[1000:1003] == MISSING).all()
    posed = np.ones(len(pred), dtype=bool)
    posed[2400:2440] = posed[1000:1003] = False
    assert (pred[posed] != MISSING).all()
    assert np.isnan(clf.predict_proba(Xg)[2400:2440]).all()
    assert np.isfinite(clf.predict_proba(Xg)[posed]).all()
    # bouts neither include nor bridge the gap; the ethogram has no row for it
    bouts = labels_to_bouts(pred, ignore=["none"])
    covered = np.zeros(len(pred), dtype=bool)
    for s, e in zip(bouts["start"], bouts["end"], strict=True):
        covered[s : e + 1] = True
    assert (covered == posed).all()
    assert bouts["duration"].sum() == len(pred) - 43
    etho = compute_ethogram(pred)
    assert MISSING not in etho["behavior"].values.tolist()
    assert not etho.values[:, 2400:2440].any()
    # no transition across the gap: a → (no pose) → a is no a → a, a → b none
    assert transition_matrix(["a", "", "b"]).values.sum() == 0
    # plain arrays: a frame whose every feature is NaN has no pose either
    rng = np.random.default_rng(0)
    Xa = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(4, 1, (50, 2))]
    ya = np.repeat(["rest", "run"], 50)
    Xa[10] = np.nan
    assert (
        BehaviorClassifier(n_estimators=5, random_state=0).fit(Xa, ya).predict(Xa)[10]
        == MISSING
    )


def test_cv_holds_out_whole_tracks_and_purges_blocks(rng, caplog):
    """QA S14 F7: blocks crossed track boundaries and used no purge gap."""
    # two tracks whose feature → behaviour mapping is opposite (x2 names the track):
    # held out by track the classifier can only be wrong; blocks within a track
    # let it see the same track in training and look perfect
    n = 200
    y = np.tile(np.repeat(["a", "b"] * 5, n // 10), 2)
    track = np.repeat(["t1", "t2"], n)
    sign = np.where(track == "t1", 1.0, -1.0)
    X = np.c_[np.where(y == "a", 1.0, -1.0) * sign + rng.normal(0, 0.1, 2 * n),
              (track == "t2").astype(float)]  # fmt: skip
    clf = BehaviorClassifier(n_estimators=5, random_state=0)
    by_track = cross_validate_behavior(clf, X, y, groups=track, group_name="track")
    assert by_track.scheme == "leave one track out (2 tracks)"
    assert by_track.accuracy == 0.0
    assert (by_track.scores["cv_scheme"] == by_track.scheme).all()
    blocks = cross_validate_behavior(clf, X, y, n_splits=4, gap=10)
    assert blocks.scheme == "4 contiguous blocks, gap 10 frames"
    assert blocks.accuracy > 0.9
    # more tracks than folds: folds of whole tracks
    many = np.repeat([f"t{i}" for i in range(8)], n // 4)
    res = cross_validate_behavior(
        clf, X, y, n_splits=4, groups=many, group_name="track"
    )
    assert res.scheme == "4 folds of whole tracks (8 tracks)"
    # the gap defaults to the largest feature window of the names
    import pandas as pd

    named = pd.DataFrame(X, columns=["speed_mean31", "speed_std5"])
    assert cross_validate_behavior(clf, named, y).scheme.endswith("gap 31 frames")
    # a behaviour absent from a fold's training frames is warned about
    y3 = y.astype(object)
    y3[:20] = "walk"  # only in the first block
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.classify"):
        res = cross_validate_behavior(clf, X, y3, n_splits=4, gap=0)
    assert len(res.warnings) == 1 and "['walk']" in res.warnings[0]
    assert "fold 1 of 4" in caplog.text


def test_model_cross_validates_leaving_one_marked_track_out(demo_session):
    from posekit.engine.behavior.session import BehaviorModel

    ds, _, y = demo_session
    m = BehaviorModel(windows=WINDOWS)
    for name in ("first", "second"):
        m.add_dataset(ds.isel(time=slice(0, 600)), name=name)
        m.set_annotation(name, y[:600])
    one = BehaviorModel(windows=WINDOWS)
    one.add_dataset(ds.isel(time=slice(0, 600)), name="only")
    one.set_annotation("only", y[:600])
    res = m.train(n_estimators=5)
    assert res.scheme == "leave one track out (2 tracks)"
    assert (m.tables()["classifier_scores"]["cv_scheme"] == res.scheme).all()
    assert (
        one.train(n_estimators=5).scheme
        == "5 contiguous blocks of one track, gap 31 frames"
    )


def test_a_fold_whose_training_frames_hold_one_behaviour_is_skipped(caplog):
    y = np.repeat(["a", "b", "a"], [40, 20, 40])
    X = (y == "b")[:, None] * 3.0 + np.zeros((100, 1))
    clf = BehaviorClassifier(n_estimators=3, random_state=0)
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.classify"):
        res = cross_validate_behavior(clf, X, y, n_splits=5, gap=25)
    # blocks 2..4 (frames 20..79) lose every 'b' of their training frames to the
    # purge: skipped, and their 60 frames are not scored
    assert sum("is skipped" in w for w in res.warnings) == 3
    assert np.isnan(res.fold_f1[1:4]).all() and res.scores["support"].sum() == 40
    with pytest.raises(ValueError, match="no fold"):
        cross_validate_behavior(clf, X, y, n_splits=2, gap=60)
