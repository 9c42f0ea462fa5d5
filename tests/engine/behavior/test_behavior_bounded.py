"""Train, predict and cluster in bounded memory give the whole-session path's results.

:meth:`BehaviorModel.train`, :meth:`~BehaviorModel.predict` and
:meth:`~BehaviorModel.cluster` gather the features chunk by chunk of frames
(:func:`~posekit.engine.behavior.features.iter_window_features`): the marked rows
for training, the evenly spaced sample for fitting the motifs, and every frame for
predicting, one chunk at a time. ``data/behavior_bounded_expected.npz`` holds what
the code before (commit 336dce9, which computed and cached each session's whole
feature array) gave on the recordings of :func:`_model`: the cross-validated scores,
the classifier's probabilities and labels of every frame, and the motifs of both
clustering methods (written by running this file as a script on that commit, and
again when the features' centroid became the session's, a missing keypoint placed
from those seen (QA s18): the features of the frames with a keypoint lost changed;
and when the speeds took movement's first-order differences at a session's first
and last frame (QA s18 #7): a few probabilities changed, no label).
"""

from __future__ import annotations

import hashlib
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior import features as features_module
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.poses import from_numpy

EXPECTED = Path(__file__).parent / "data" / "behavior_bounded_expected.npz"
N_FRAMES = 1200
KEYPOINTS = ["snout", "ear", "neck", "spine", "tailbase"]
REGIMES = {"rest": 0.05, "walk": 4.0, "groom": 0.6}


def _session(seed: int):
    """Two animals switching between resting, walking and grooming, with gaps.

    Returns the poses and the true behaviour of each frame and animal.
    """
    rng = np.random.default_rng(seed)
    pos = np.empty((N_FRAMES, 2, len(KEYPOINTS), 2))
    truth = np.empty((N_FRAMES, 2), dtype=object)
    names = list(REGIMES)
    for a in range(2):
        bouts = rng.integers(30, 120, N_FRAMES // 30)
        kinds = rng.integers(0, 3, bouts.size)
        labels = np.repeat(np.array(names)[kinds], bouts)[:N_FRAMES]
        truth[:, a] = labels
        step = np.array([REGIMES[k] for k in labels])
        theta = np.cumsum(rng.normal(0, 0.05, N_FRAMES) + (labels == "groom") * 0.3)
        axis = np.c_[np.cos(theta), np.sin(theta)]
        centre = np.cumsum(axis * step[:, None], axis=0) + [200 + 100 * a, 200]
        for k in range(len(KEYPOINTS)):
            jitter = (labels == "groom")[:, None] * rng.normal(0, 2, (N_FRAMES, 2))
            pos[:, :, k, a] = centre + (20 - 10 * k) * axis + (k == 0) * jitter
    pos += rng.normal(0, 0.3, pos.shape)
    pos[100:140, :, 1, 0] = np.nan  # a keypoint lost
    pos[500:530, :, :, 1] = np.nan  # an animal lost: frames with no pose
    pos[-3:, :, 4, 0] = np.nan  # to the last frame
    poses = from_numpy(
        pos, keypoint_names=KEYPOINTS, individual_names=["a", "b"], fps=30.0
    )
    return poses, truth


def _model() -> BehaviorModel:
    """Two sessions of two animals; bouts of three behaviours marked on three tracks."""
    m = BehaviorModel(windows=(5, 15, 45))
    marked = {"s1/a": [(0, 600)], "s1/b": [(200, 900)], "s2/a": [(300, 1000)]}
    for seed, name in enumerate(["s1", "s2"]):
        poses, truth = _session(seed)
        m.add_dataset(poses, name=name)
        for i, ind in enumerate(["a", "b"]):
            key = f"{name}/{ind}"
            labels = np.full(N_FRAMES, m.background, dtype=object)
            for s, e in marked.get(key, []):
                labels[s:e] = truth[s:e, i]
            m.set_annotation(key, labels.astype(str))
    return m


def _results(m: BehaviorModel) -> dict[str, np.ndarray]:
    """Everything compared: scores, probabilities, labels, motifs."""
    out: dict[str, np.ndarray] = {}
    X, y = m.training_data()
    # the rows' bytes, bit for bit (float32, frames in order)
    values = np.ascontiguousarray(X.to_numpy())
    out["train_X_shape"] = np.array(values.shape)
    out["train_X_sha256"] = np.array(hashlib.sha256(values.tobytes()).hexdigest())
    out["train_y"] = y.astype(str)
    out["train_columns"] = np.array(X.columns, dtype=str)
    cv = m.train(n_estimators=15, min_bout=3, random_state=0)
    out["cv_scores"] = cv.scores[["precision", "recall", "f1"]].to_numpy(float)
    preds = m.predict()
    for key in m.track_keys():
        # the code before kept no probabilities: the classifier's on the features
        kept = getattr(m, "probabilities", {})
        out[f"proba/{key}"] = (
            kept[key] if kept else m.classifier.behavior_proba(m.features(key))
        )
        out[f"pred/{key}"] = preds[key].astype(str)
    for method, n in [("gmm", 4), ("kmeans", 3)]:
        motifs = m.cluster(n, method=method, n_components=5, max_frames=1000)
        for key in m.track_keys():
            out[f"{method}/{key}"] = motifs[key].astype(str)
        out[f"{method}/examples"] = m.motif_table[["start", "end"]].to_numpy()
    return out


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(EXPECTED, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _check(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(expected)
    for k, want in expected.items():
        if want.dtype.kind in "fc":
            np.testing.assert_allclose(got[k], want, rtol=1e-9, atol=1e-12, err_msg=k)
        else:
            np.testing.assert_array_equal(got[k], want, err_msg=k)


@pytest.mark.parametrize("chunk_frames", [None, 97])
def test_train_predict_cluster_equal_the_whole_session_path(
    expected, chunk_frames
) -> None:
    """The same rows, probabilities and motifs as before, at any chunk size."""
    m = _model()
    m.chunk_frames = chunk_frames
    _check(_results(m), expected)


def test_train_predict_cluster_never_compute_a_whole_session(monkeypatch) -> None:
    """Only chunks are computed, and nothing whole-session is cached."""
    m = _model()
    m.chunk_frames = 100
    seen: list[int] = []
    real = features_module.iter_window_features

    def chunks(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            seen.append(chunk.sizes["time"])
            yield chunk

    def whole(*args, **kwargs):
        raise AssertionError("the whole session's features were computed")

    monkeypatch.setattr(features_module, "iter_window_features", chunks)
    monkeypatch.setattr(features_module, "compute_window_features", whole)
    m.train(n_estimators=5)
    m.predict()
    m.cluster(3, n_components=3, max_frames=500)
    assert seen and max(seen) <= 100
    assert not [k for k in m._cache if k[0] == "features"]


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_and_cluster_take_a_fraction_of_the_features_memory() -> None:
    """Peak (tracemalloc) far under one session's feature array (and the old path's).

    12 keypoints: 728 features a frame against 24 coordinates, as with the many
    bodyparts of a long recording, where the features are what takes the memory.
    """
    n, n_kp = 12_000, 12
    rng = np.random.default_rng(3)
    centre = np.cumsum(rng.normal(0, 2, (n, 2, 1, 1)), axis=0)
    pos = (
        centre + rng.normal(0, 5, (1, 2, n_kp, 1)) + rng.normal(0, 0.5, (n, 2, n_kp, 1))
    )
    m = BehaviorModel(windows=(5, 15, 45))
    m.add_dataset(from_numpy(pos, fps=30.0), name="long")
    labels = np.full(n, m.background, dtype=object)
    labels[:300], labels[300:600] = "rest", "walk"
    m.set_annotation("long", labels.astype(str))
    m.calibrated("long")  # cached either way
    m.chunk_frames = 500
    m.train(n_estimators=5)
    n_features = 7 * (n_kp + 1 + n_kp * (n_kp - 1) // 2 + 1 + 2 * n_kp)
    features_bytes = n * n_features * 4  # float32: 35 MB
    predicted = _peak(m.predict)
    clustered = _peak(lambda: m.cluster(3, n_components=3, max_frames=500))
    assert predicted < features_bytes / 2, (predicted, features_bytes)
    assert clustered < features_bytes / 2, (clustered, features_bytes)
    assert m.cluster_sample_frames == 500


if __name__ == "__main__":  # write the expected values (from the code before)
    results = _results(_model())
    EXPECTED.parent.mkdir(exist_ok=True)
    np.savez_compressed(sys.argv[1] if len(sys.argv) > 1 else EXPECTED, **results)
    print({k: v.shape for k, v in results.items()})


def test_the_sample_is_bounded_in_values_and_gives_the_same_motifs() -> None:
    """max_values picks every n-th frame; the motifs are those of that sample, whole."""
    from posekit.engine.behavior.cluster import BehaviorClusterer

    m = _model()
    m.chunk_frames = 150
    n_features = 203
    motifs = m.cluster(3, n_components=4, max_values=n_features * 250)
    step = -(-4 * N_FRAMES // 250)  # 20: 240 frames of 4800
    assert m.cluster_sample_frames == 4 * N_FRAMES // step == 240
    whole = pd.concat([m.features(k) for k in m.track_keys()], ignore_index=True)
    clusterer = BehaviorClusterer(n_motifs=3, n_components=4, random_state=0)
    clusterer.fit(whole.iloc[::step])
    for key in m.track_keys():
        want = [f"motif{v}" for v in clusterer.predict(m.features(key))]
        assert motifs[key].tolist() == want


def test_labels_from_proba_wants_a_column_per_behaviour() -> None:
    m = _model()
    m.train(n_estimators=3)
    with pytest.raises(ValueError, match=r"proba must be \(n_frames, 3\)"):
        m.classifier.labels_from_proba(np.zeros((5, 2)))
    assert m.probabilities == {}
    m.predict()
    shapes = {k: v.shape for k, v in m.probabilities.items()}
    assert shapes == dict.fromkeys(m.track_keys(), (N_FRAMES, 3))
