"""Sessions with different features: predict and cluster as a researcher expects.

A session's feature columns follow its bodyparts (their names and order: the
centroid, the body axis from the last to the first, the pairs of the distances)
and its animals (the social features ``nearest_distance*`` need two or more).
Before, a classifier trained on one animal failed on a session of two (scikit-learn:
"Feature names unseen at fit time"), one trained on two animals or five bodyparts
failed on a session of one or four with the same bare message, and clustering
sessions of one and two animals, or of other bodyparts, failed ("Feature names seen
at fit time, yet now missing"). Now:

- predicting takes the classifier's own features, in its order, from each track:
  the social features of a pair are left out for a classifier of one animal, extra
  bodyparts too (the features are computed from the classifier's bodyparts, in its
  order, so the centroid and the body axis are the ones it was trained on);
- a track that lacks some of the classifier's features stops the prediction with an
  error that names them, says why and what to do;
- training on marked tracks of sessions with different features, and clustering
  such sessions, uses the features they all share, and logs what is left out.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.classify import BehaviorClassifier
from posekit.engine.behavior.cluster import BehaviorClusterer
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.poses import from_numpy

N_FRAMES = 600
KEYPOINTS = ["snout", "ear", "neck", "spine", "tailbase"]
REGIMES = {"rest": 0.05, "walk": 4.0, "groom": 0.6}
WINDOWS = (5, 15)
LOGGER = "posekit.engine.behavior.session"


def _pair(seed: int = 0):
    """Two animals switching between resting, walking and grooming.

    Returns the poses and each frame's behaviour, per animal.
    """
    rng = np.random.default_rng(seed)
    pos = np.empty((N_FRAMES, 2, len(KEYPOINTS), 2))
    truth = np.empty((N_FRAMES, 2), dtype=object)
    names = list(REGIMES)
    for a in range(2):
        bouts = rng.integers(30, 90, N_FRAMES // 30)
        labels = np.repeat(np.array(names)[rng.integers(0, 3, bouts.size)], bouts)
        labels = labels[:N_FRAMES]
        truth[:, a] = labels
        step = np.array([REGIMES[k] for k in labels])
        theta = np.cumsum(rng.normal(0, 0.05, N_FRAMES) + (labels == "groom") * 0.3)
        axis = np.c_[np.cos(theta), np.sin(theta)]
        centre = np.cumsum(axis * step[:, None], axis=0) + [200 + 100 * a, 200]
        for k in range(len(KEYPOINTS)):
            jitter = (labels == "groom")[:, None] * rng.normal(0, 2, (N_FRAMES, 2))
            pos[:, :, k, a] = centre + (20 - 10 * k) * axis + (k == 0) * jitter
    pos += rng.normal(0, 0.3, pos.shape)
    pos[100:120, :, 1, 0] = np.nan  # a keypoint lost
    poses = from_numpy(
        pos, keypoint_names=KEYPOINTS, individual_names=["a", "b"], fps=30.0
    )
    return poses, truth


POSES, TRUTH = _pair()
SOLO = POSES.isel(individual=[0])  # animal a alone: its features, no social ones


def _model(**sessions) -> BehaviorModel:
    m = BehaviorModel(windows=WINDOWS)
    for name, poses in sessions.items():
        m.add_dataset(poses, name=name)
    return m


def _mark(m: BehaviorModel, key: str, animal: int = 0, span=(0, 400)) -> None:
    labels = np.full(N_FRAMES, m.background, dtype=object)
    labels[span[0] : span[1]] = TRUTH[span[0] : span[1], animal]
    m.set_annotation(key, labels.astype(str))


def _train(m: BehaviorModel) -> None:
    m.train(n_estimators=10, n_splits=2, random_state=0)


@pytest.fixture(autouse=True)
def _no_fold_warnings(caplog):
    """Quiet the folds' notes on behaviours missing from a fold (not the point)."""
    logging.getLogger("posekit.engine.behavior.classify").setLevel(logging.ERROR)
    yield
    logging.getLogger("posekit.engine.behavior.classify").setLevel(logging.NOTSET)


# ---------------------------------------------------------------- predict


def test_classifier_of_one_animal_predicts_a_pair(caplog) -> None:
    """The pair's social features are left out: animal a as when it was alone."""
    m = _model(solo=SOLO, pair=POSES)
    _mark(m, "solo")
    _train(m)
    assert not any(n.startswith("nearest") for n in m.classifier.feature_names_in_)
    with caplog.at_level(logging.WARNING, LOGGER):
        m.predict()
    assert caplog.records == []  # nothing is left out of what it was trained on
    assert set(m.predictions) == {"solo", "pair/a", "pair/b"}
    assert m.predictions["pair/a"].tolist() == m.predictions["solo"].tolist()
    np.testing.assert_array_equal(m.probabilities["pair/a"], m.probabilities["solo"])
    assert np.mean(m.predictions["pair/b"] == TRUTH[:, 1]) > 0.6


def test_classifier_from_another_analysis() -> None:
    """A classifier trained on one animal, set on an analysis of pairs."""
    trained = _model(solo=SOLO)
    _mark(trained, "solo")
    _train(trained)
    trained.predict()
    pairs = _model(pair=POSES)
    pairs.classifier = trained.classifier
    pairs.predict()
    assert pairs.predictions["pair/a"].tolist() == trained.predictions["solo"].tolist()


def test_bodyparts_in_another_order_are_put_in_the_classifiers() -> None:
    """Same bodyparts, another order: the classifier's order, the same answer."""
    shuffled = SOLO.isel(keypoint=[4, 2, 0, 3, 1])
    m = _model(solo=SOLO, shuffled=shuffled)
    _mark(m, "solo")
    _train(m)
    assert m.feature_columns("shuffled") != m.feature_columns("solo")
    m.predict()
    assert m.predictions["shuffled"].tolist() == m.predictions["solo"].tolist()
    np.testing.assert_allclose(
        m.probabilities["shuffled"], m.probabilities["solo"], rtol=1e-12
    )


def test_extra_bodyparts_are_left_out() -> None:
    """Trained on four bodyparts: a session of five is seen through those four."""
    four = SOLO.isel(keypoint=[0, 1, 2, 3])
    m = _model(four=four, five=SOLO, four_again=four)
    _mark(m, "four")
    _train(m)
    m.predict()
    # the centroid and body axis of the four (snout to spine), not of the five
    assert m.predictions["five"].tolist() == m.predictions["four_again"].tolist()
    np.testing.assert_array_equal(m.probabilities["five"], m.probabilities["four"])


def test_a_session_of_one_animal_lacks_the_social_features() -> None:
    """Trained on a pair: a session of one animal is refused, saying why and what to do."""
    m = _model(pair=POSES, solo=SOLO)
    _mark(m, "pair/a")
    _train(m)
    assert "nearest_distance" in m.classifier.feature_names_in_
    with pytest.raises(ValueError) as err:
        m.predict()
    text = str(err.value)
    assert "cannot predict 1 of 3 tracks" in text
    assert "solo: nearest_distance, nearest_distance_rate (10 columns" in text
    assert "two or more animals" in text
    assert "Mark some frames of these tracks too and train again" in text
    assert m.predictions == {}  # nothing predicted, not some of the tracks


def test_a_session_lacking_bodyparts_is_refused() -> None:
    m = _model(five=SOLO)
    _mark(m, "five")
    _train(m)
    later = _model(five=SOLO, four=SOLO.isel(keypoint=[0, 1, 2, 3]))
    later.classifier = m.classifier
    with pytest.raises(ValueError, match="four: speed_tailbase, dist_snout_tailbase"):
        later.predict()
    with pytest.raises(ValueError, match="Bodyparts these sessions lack: tailbase"):
        later.predict()


def test_other_windows_are_named() -> None:
    m = _model(solo=SOLO)
    _mark(m, "solo")
    _train(m)
    m.windows = (5, 31)
    with pytest.raises(ValueError, match=r"Feature windows \[15\] are not among"):
        m.predict()


# ---------------------------------------------------------------- train


def test_training_on_sessions_of_one_and_two_animals(caplog) -> None:
    """The marked tracks' shared features; the left-out ones are named."""
    m = _model(pair=POSES, solo=SOLO)
    _mark(m, "pair/b", animal=1)
    _mark(m, "solo", span=(200, 600))
    with caplog.at_level(logging.WARNING, LOGGER):
        _train(m)
    names = list(m.classifier.feature_names_in_)
    assert names == m.feature_columns("solo")
    assert m.train_dropped_features == [
        c for c in m.feature_columns("pair/a") if c.startswith("nearest_distance")
    ]
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "training the classifier: the sessions' features differ, so it uses the "
        f"{len(names)} they share; left out the features not in solo: "
        "nearest_distance, nearest_distance_rate (10 columns"
    )
    m.predict()  # every track has them
    assert set(m.predictions) == {"pair/a", "pair/b", "solo"}


# ---------------------------------------------------------------- cluster


def test_motifs_of_sessions_of_one_and_two_animals(caplog) -> None:
    m = _model(solo=SOLO, pair=POSES)
    with caplog.at_level(logging.WARNING, LOGGER):
        m.cluster(3, random_state=0)
    assert list(m.clusterer.feature_names_in_) == m.feature_columns("solo")
    assert m.cluster_dropped_features[0] == "nearest_distance"
    assert len(m.cluster_dropped_features) == 2 * (1 + 2 * len(WINDOWS))
    (record,) = caplog.records
    assert "finding motifs: the sessions' features differ" in record.getMessage()
    assert "the features not in solo: nearest_distance" in record.getMessage()
    # animal a, alone or in the pair: the same features, the same motifs
    assert m.predictions["pair/a"].tolist() == m.predictions["solo"].tolist()


def test_motifs_of_sessions_with_other_bodyparts(caplog) -> None:
    """Computed from the bodyparts every session has: as if tracked with those."""
    four = POSES.isel(keypoint=[0, 1, 2, 3])
    m = _model(five=SOLO, four=four)
    with caplog.at_level(logging.WARNING, LOGGER):
        m.cluster(3, random_state=0)
    message = caplog.records[0].getMessage()
    assert "the bodyparts not in four: tailbase (the features are computed" in message
    assert "from the 4 bodyparts every session has: snout, ear, neck, spine" in message
    assert "the features not in five: nearest_distance" in message
    assert not any("tailbase" in c for c in m.clusterer.feature_names_in_)
    assert "speed_tailbase" in m.cluster_dropped_features
    same = _model(five=SOLO.isel(keypoint=[0, 1, 2, 3]), four=four)
    same.cluster(3, random_state=0)
    for key in m.predictions:
        assert m.predictions[key].tolist() == same.predictions[key].tolist()


def test_motifs_of_sessions_sharing_no_bodyparts() -> None:
    other = SOLO.assign_coords(keypoint=[f"bp{i}" for i in range(len(KEYPOINTS))])
    m = _model(mouse=SOLO, other=other)
    with pytest.raises(ValueError, match=r"share 0 bodypart\(s\) \(none\)"):
        m.cluster(3)


def test_sessions_with_the_same_features_are_as_before(caplog) -> None:
    """Nothing is left out, logged, or computed differently."""
    m = _model(s1=POSES, s2=_pair(1)[0])
    with caplog.at_level(logging.WARNING, LOGGER):
        m.cluster(3, random_state=0)
    assert caplog.records == [] and m.cluster_dropped_features == []
    whole = pd.concat([m.features(k) for k in m.track_keys()], ignore_index=True)
    np.testing.assert_array_equal(
        np.concatenate([m.predictions[k] for k in m.track_keys()]),
        [f"motif{int(i)}" for i in m.clusterer.predict(whole)],
    )


# ---------------------------------------------------------------- estimators


def test_estimators_say_what_to_do_with_other_columns() -> None:
    """Called on their own, they keep scikit-learn's check and say what to do."""
    m = _model(pair=POSES)
    X = m.features("pair/a").iloc[:300]
    y = np.where(TRUTH[:300, 0] == "walk", "walk", "other")
    clf = BehaviorClassifier(n_estimators=5, random_state=0).fit(X, y)
    solo = X.drop(columns=[c for c in X if c.startswith("nearest")])
    with pytest.raises(ValueError) as err:
        clf.predict(solo)
    text = str(err.value)
    assert text.startswith("The feature names should match those that were passed")
    assert "X lacks 10 of the 145 features the classifier was fitted on" in text
    assert "fitted on: nearest_distance, nearest_distance_rate (10 columns" in text
    reordered = X[list(X.columns[::-1])]
    with pytest.raises(ValueError, match=r"X\[classifier.feature_names_in_\]"):
        clf.predict(reordered)
    assert (
        clf.predict(reordered[clf.feature_names_in_]).tolist()
        == clf.predict(X).tolist()
    )
    motifs = BehaviorClusterer(n_motifs=2, random_state=0).fit(solo)
    with pytest.raises(ValueError, match=r"X\[clusterer.feature_names_in_\]"):
        motifs.predict(X)
