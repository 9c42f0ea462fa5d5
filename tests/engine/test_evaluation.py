"""Metrics with known answers, DLC's CombinedEvaluation file, batched prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.evaluation import (
    COMBINED_EVALUATION_COLUMNS,
    evaluation_summary,
    keypoint_distances,
    mean_error,
    pck,
    per_bodypart_error,
    predict_images,
    rmse,
    write_combined_evaluation,
)

# two frames, two bodyparts: distances 5, 1 / 0, missing
PRED = np.array(
    [[[3.0, 4.0, 0.9], [0.0, 1.0, 0.2]], [[7.0, 7.0, 0.8], [9.0, 9.0, 0.9]]]
)
TRUTH = np.array([[[0.0, 0.0], [0.0, 0.0]], [[7.0, 7.0], [np.nan, np.nan]]])


def test_distances_and_means() -> None:
    d = keypoint_distances(PRED, TRUTH)
    np.testing.assert_allclose(d, [[5.0, 1.0], [0.0, np.nan]])
    assert mean_error(PRED, TRUTH) == pytest.approx(2.0)  # (5 + 1 + 0) / 3
    assert rmse(PRED, TRUTH) == pytest.approx(np.sqrt(26 / 3))
    assert rmse(PRED, TRUTH) >= mean_error(PRED, TRUTH)
    # p-cutoff 0.6 drops the 0.2-likelihood prediction
    assert mean_error(PRED, TRUTH, pcutoff=0.6) == pytest.approx(2.5)
    assert per_bodypart_error(PRED, TRUTH, ["a", "b"]) == {"a": 2.5, "b": 1.0}
    assert pck(PRED, TRUTH, radius=1.0) == pytest.approx(2 / 3)
    s = evaluation_summary(PRED, TRUTH, ["a", "b"], pcutoff=0.6, pck_radius=1.0)
    assert s["mean_error_px"] == pytest.approx(2.0) and s["n_labelled"] == 3
    with pytest.raises(ValueError, match="labels must be"):
        mean_error(PRED, TRUTH[:, :1])


def test_combined_evaluation_file(tmp_path) -> None:
    path = tmp_path / "CombinedEvaluation-results.csv"
    kwargs = {
        "train_fraction": 0.95,
        "shuffle": 1,
        "train_error": 1.234,
        "test_error": 2.716,
        "pcutoff": 0.6,
        "train_error_pcutoff": 1.1,
        "test_error_pcutoff": 2.5,
    }
    write_combined_evaluation(path, iterations=1000, **kwargs)
    write_combined_evaluation(path, iterations=2000, **kwargs)
    lines = path.read_text().splitlines()
    assert lines[0] == (
        "Training iterations:,%Training dataset,Shuffle number,Train error(px),"
        "Test error(px),p-cutoff used,Train error with p-cutoff,Test error with p-cutoff"
    )
    df = pd.read_csv(path)
    assert tuple(df.columns) == COMBINED_EVALUATION_COLUMNS
    assert df["Training iterations:"].tolist() == [1000, 2000]
    assert df["%Training dataset"].tolist() == [95, 95]
    assert df["Test error(px)"].tolist() == [2.72, 2.72]


def test_combined_evaluation_appends_to_a_deeplabcut_file(tmp_path) -> None:
    # DeepLabCut writes the pandas index as a first, unnamed column
    path = tmp_path / "CombinedEvaluation-results.csv"
    pd.DataFrame(
        [[500, 95, 1, 3.0, 4.0, 0.6, 3.0, 4.0]], columns=COMBINED_EVALUATION_COLUMNS
    ).to_csv(path)
    write_combined_evaluation(
        path,
        iterations=900,
        train_fraction=0.95,
        shuffle=1,
        train_error=1,
        test_error=2,
        pcutoff=0.6,
        train_error_pcutoff=1,
        test_error_pcutoff=2,
    )
    df = pd.read_csv(path, index_col=0)
    assert df["Training iterations:"].tolist() == [500, 900]
    assert df.index.tolist() == [0, 1]
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a CombinedEvaluation"):
        write_combined_evaluation(
            bad,
            iterations=1,
            train_fraction=0.95,
            shuffle=1,
            train_error=1,
            test_error=1,
            pcutoff=0.6,
            train_error_pcutoff=1,
            test_error_pcutoff=1,
        )


def _dot_model(stride: int = 8):
    """Score map peaks where the image is brightest; locref 0."""
    keras = pytest.importorskip("keras")
    inp = keras.Input((None, None, 3))
    gray = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=-1, keepdims=True))(inp)
    scmap = keras.layers.Rescaling(1 / 255)(keras.layers.AveragePooling2D(stride)(gray))
    locref = keras.layers.Concatenate()([scmap * 0.0, scmap * 0.0])
    return keras.Model(inp, {"scoremap": scmap, "locref": locref})


def test_predict_images_batches_pads_and_mixes_shapes() -> None:
    model = _dot_model()
    truth, images = [], []
    for i, (h, w) in enumerate([(48, 64)] * 5 + [(40, 40)] * 2):
        img = np.zeros((h, w, 3), np.uint8)
        cx, cy = 8 * (1 + i % 3) + 4, 8 * (1 + i % 2) + 4  # a cell centre
        img[cy - 2 : cy + 2, cx - 2 : cx + 2] = 255
        images.append(img)
        truth.append([[cx, cy]])
    out = predict_images(model, images, batch_size=4, stride=8, locref_stdev=1.0)
    assert out.shape == (7, 1, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, :2], np.array(truth, float))
    with pytest.raises(ValueError, match="stride"):
        predict_images(model, images, batch_size=4)
