"""The behaviour app with sessions whose features differ (one animal, two animals).

Train on a recording of one animal, load recordings of pairs, predict: the pairs
are predicted (their social features left out). The other way round, the page
says which features the recording lacks and what to do. Finding motifs over both
uses the features they share and says which were left out. Before, both buttons
showed scikit-learn's "The feature names should match those that were passed
during fit". The model's own cases are in
tests/engine/behavior/test_feature_mismatch.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.io import save
from posekit.engine.poses import from_numpy
from posekit.widgets.behavior_app import BehaviorApp

N_FRAMES = 300


def _pair():
    """Two animals resting and walking in turns; each frame's behaviour."""
    rng = np.random.default_rng(0)
    pos = np.empty((N_FRAMES, 2, 4, 2))
    truth = np.empty((N_FRAMES, 2), dtype=object)
    for a in range(2):
        walking = (np.arange(N_FRAMES) // (50 + 10 * a)) % 2 == 1
        truth[:, a] = np.where(walking, "walk", "rest")
        theta = np.cumsum(rng.normal(0, 0.05, N_FRAMES))
        axis = np.c_[np.cos(theta), np.sin(theta)]
        centre = np.cumsum(axis * np.where(walking, 4.0, 0.05)[:, None], axis=0)
        centre += [200 + 100 * a, 200]
        for k in range(4):
            pos[:, :, k, a] = centre + (15 - 10 * k) * axis
    pos += rng.normal(0, 0.3, pos.shape)
    poses = from_numpy(
        pos,
        keypoint_names=["snout", "neck", "spine", "tailbase"],
        individual_names=["a", "b"],
        fps=30.0,
    )
    return poses, truth


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features-differ")
    poses, truth = _pair()
    solo = save(poses.isel(individual=[0]), folder / "solo.nc")
    pair = save(poses, folder / "pair.nc")
    return solo, pair, truth


def _app(tmp_path) -> BehaviorApp:
    app = BehaviorApp(
        output_dir=tmp_path / "out", autoload=False, autosave=False, load_bokehjs=False
    )
    app.n_estimators.value = 10
    app.min_bout.value = 1
    return app


def _mark(app: BehaviorApp, key: str, truth: np.ndarray) -> None:
    labels = np.full(N_FRAMES, app.model.background, dtype=object)
    labels[:200] = truth[:200]
    app.model.set_annotation(key, labels.astype(str))


def test_trained_on_one_animal_predicts_pairs(files, tmp_path) -> None:
    solo, pair, truth = files
    app = _app(tmp_path)
    app.load(solo)
    _mark(app, "solo", truth[:, 0])
    app.train_button.click()
    assert app.model.cv_result is not None and app.classify_message.value == ""
    alone = app.model.classifier.predict(app.model.features("solo"))
    app.load(pair)  # the classifier stays
    app.predict_button.click()
    assert app.classify_message.value == ""
    assert set(app.model.predictions) == {"pair/a", "pair/b"}
    assert app.model.predictions["pair/a"].tolist() == alone.tolist()
    assert np.mean(app.model.predictions["pair/b"] == truth[:, 1]) > 0.8


def test_trained_on_pairs_says_what_one_animal_lacks(files, tmp_path) -> None:
    solo, pair, truth = files
    app = _app(tmp_path)
    app.load(pair)
    _mark(app, "pair/a", truth[:, 0])
    app.train_button.click()
    app.load(solo)
    app.predict_button.click()
    message = app.classify_message.value
    assert "cannot predict 1 of 1 tracks" in message
    assert "solo: nearest_distance, nearest_distance_rate" in message
    assert "two or more animals" in message
    assert "Mark some frames of these tracks too and train again" in message
    assert "feature names should match" not in message
    assert app.model.predictions == {}


def test_motifs_and_training_over_one_and_two_animals(files, tmp_path) -> None:
    solo, pair, truth = files
    app = _app(tmp_path)
    app.pattern_box.value = "*.nc"
    app.load(solo.parent)  # both files
    assert app.model.track_keys() == ["pair/a", "pair/b", "solo"]
    app.n_motifs.value = 3
    app.cluster_button.click()
    message = app.classify_message.value
    assert "motifs fitted on" in message
    assert "posekit-dropped-features" in message
    assert "left out (not in every session): nearest_distance" in message
    assert set(app.model.predictions) == {"pair/a", "pair/b", "solo"}
    # marked in both: trained on the features both have, and said so
    _mark(app, "pair/b", truth[:, 1])
    _mark(app, "solo", truth[:, 0])
    app.train_button.click()
    assert app.classify_message.value == ""
    assert "left out (not in every marked session): nearest_distance" in (
        app.scores_html.value
    )
    app.predict_button.click()
    assert set(app.model.predictions) == {"pair/a", "pair/b", "solo"}
