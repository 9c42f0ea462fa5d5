"""Unsupervised motifs: recover well-separated groups and most of the demo behaviours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from posekit.engine.behavior.cluster import BehaviorClusterer, motif_examples


def test_separated_groups_are_found_exactly(rng):
    centres = rng.normal(0, 10, size=(3, 6))
    y = np.repeat([0, 1, 2], 40)
    X = centres[y] + rng.normal(0, 0.3, size=(120, 6))
    X[5, 2] = np.nan  # missing values are imputed
    for method in ("gmm", "kmeans"):
        model = BehaviorClusterer(
            n_motifs=3, method=method, n_components=3, random_state=0
        )
        labels = model.fit_predict(X)
        assert adjusted_rand_score(y, labels) == 1.0, method
        assert model.transform(X).shape == (120, 3)
    proba = BehaviorClusterer(n_motifs=3, random_state=0).fit(X).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    with pytest.raises(AttributeError, match="gmm"):
        BehaviorClusterer(n_motifs=3, method="kmeans").fit(X).predict_proba(X)


def test_demo_motifs_follow_the_behaviours(demo_session):
    _, X, labels = demo_session
    model = BehaviorClusterer(
        n_motifs=5, method="kmeans", n_components=5, n_init=3, random_state=0
    )
    motifs = model.fit_predict(X)
    ari = adjusted_rand_score(labels, motifs)
    print(f"\ndemo motifs vs true behaviours: ARI {ari:.2f}")
    assert ari > 0.4  # unsupervised: most, not all, of the structure
    ex = motif_examples(motifs, n_examples=2, min_frames=10, fps=30.0)
    assert set(ex["motif"]) <= set(range(5)) and (ex["duration"] >= 10).all()
    for motif, clips in ex.groupby("motif"):
        assert clips["duration"].is_monotonic_decreasing
        for start, end in clips[["start", "end"]].values:
            assert (motifs[start : end + 1] == motif).all()


@parametrize_with_checks(
    [
        BehaviorClusterer(
            n_motifs=3,
            n_components=2,
            covariance_type="diag",
            max_iter=50,
            random_state=0,
        )
    ]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_fit_leaves_its_input_as_it_was(rng):
    """The fit imputes and scales a copy of its own, never the caller's array."""
    X = np.r_[rng.normal(0, 0.1, (40, 5)), rng.normal(5, 0.1, (40, 5))]
    X[::7, 2] = np.nan
    before = X.copy()
    clusterer = BehaviorClusterer(n_motifs=2, n_components=3, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)
    # transform copies too (the fitted steps are back to copying)
    clusterer.predict(X)
    np.testing.assert_array_equal(X, before)
    assert clusterer.imputer_.copy and clusterer.scaler_.copy
    assert clusterer.predict(X).tolist() == clusterer.labels_.tolist()
