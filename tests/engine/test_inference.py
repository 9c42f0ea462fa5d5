"""Video analysis pipeline: decode thread, batching, scaling, crop, DLC output, TFLite."""

from __future__ import annotations

import pickle

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from posekit.engine.inference import (
    KerasPredictor,
    TFLitePredictor,
    analyze_video,
    convert_to_tflite,
    dlc_scorer_name,
    predict_video,
)
from posekit.engine.video import Crop

STRIDE = 8


def _dot_model() -> keras.Model:
    """A 'pose network' whose score map peaks where the image is brightest."""
    inp = keras.Input((None, None, 3))
    gray = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=-1, keepdims=True))(inp)
    pooled = keras.layers.AveragePooling2D(STRIDE)(gray)
    scmap = keras.layers.Rescaling(1.0 / 255.0)(pooled)
    locref = keras.layers.Concatenate()([scmap * 0.0, scmap * 0.0])
    return keras.Model(inp, [scmap, locref])


def _decode(scmap: np.ndarray, locref: np.ndarray) -> np.ndarray:
    n, h, w, k = scmap.shape
    flat = scmap.reshape(n, h * w, k)
    idx = flat.argmax(axis=1)
    y, x = np.divmod(idx, w)
    p = np.take_along_axis(flat, idx[:, None, :], axis=1)[:, 0]
    return np.stack([x * STRIDE + STRIDE / 2, y * STRIDE + STRIDE / 2, p], axis=-1)


@pytest.fixture(scope="module")
def dot_video(tmp_path_factory):
    """A 160×120 video of a bright square moving right by 2 px per frame."""
    path = tmp_path_factory.mktemp("video") / "dot.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    truth = []
    for t in range(37):
        frame = np.zeros((120, 160, 3), np.uint8)
        x, y = 21 + 2 * t, 61  # odd: no ties between two cells
        frame[y - 4 : y + 4, x - 4 : x + 4] = 255
        writer.write(frame)
        truth.append((x, y))
    writer.release()
    return path, np.array(truth, float)


def test_predict_video_tracks_the_dot(dot_video) -> None:
    path, truth = dot_video
    predictor = KerasPredictor(_dot_model(), _decode, batch_size=8)
    xyp, info = predict_video(predictor, path)
    assert (
        info["n_frames"] == 37 == len(xyp)
    )  # one row per decoded frame (padded batch)
    assert np.abs(xyp[:, 0, :2] - truth).max() <= STRIDE / 2 + 1


def test_scale_and_crop_map_back_to_full_frame(dot_video) -> None:
    path, truth = dot_video
    predictor = KerasPredictor(_dot_model(), _decode, batch_size=4)
    half, _ = predict_video(predictor, path, scale=0.5)
    assert np.abs(half[:, 0, :2] - truth).max() <= STRIDE + 2
    crop = Crop(8, 152, 16, 112)
    cropped, _ = predict_video(predictor, path, crop=crop)
    assert np.abs(cropped[:, 0, :2] - truth).max() <= STRIDE / 2 + 1


def test_analyze_video_writes_dlc_layout(dot_video, tmp_path) -> None:
    path, _ = dot_video
    predictor = KerasPredictor(_dot_model(), _decode, batch_size=8)
    scorer = dlc_scorer_name("mobnet_35", "dot", "Nov25", 1, 100)
    out = analyze_video(
        predictor,
        path,
        scorer=scorer,
        bodyparts=["dot"],
        destfolder=tmp_path,
        save_as_csv=True,
        progress=False,
    )
    assert out.name == "dotDLC_mobnet_35_dotNov25shuffle1_100.h5"
    df = pd.read_hdf(out)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(df.columns.get_level_values("coords")) == ["x", "y", "likelihood"]
    assert list(df.index) == list(range(37))
    assert out.with_suffix(".csv").exists()
    with open(tmp_path / f"dot{scorer}_meta.pickle", "rb") as fh:
        meta = pickle.load(fh)["data"]
    assert meta["nframes"] == 37 and meta["frame_dimensions"] == (120, 160)


def test_tflite_matches_keras(dot_video, tmp_path) -> None:
    path, _ = dot_video
    model = _dot_model()
    tfl = convert_to_tflite(model, tmp_path / "m.tflite", input_shape=(4, 120, 160, 3))
    keras_xyp, _ = predict_video(KerasPredictor(model, _decode, batch_size=4), path)
    lite = TFLitePredictor(tfl, _decode, batch_size=4)
    # the decoded uint8 frames go in as they are (the cast is in the model)
    assert lite.interpreter.get_input_details()[0]["dtype"] == np.uint8
    lite_xyp, _ = predict_video(lite, path)
    np.testing.assert_allclose(lite_xyp, keras_xyp, atol=1e-4)
    # and the same through either video decoder
    opencv_xyp, _ = predict_video(lite, path, backend="opencv")
    np.testing.assert_allclose(opencv_xyp, lite_xyp, atol=1e-4)


def test_tflite_conversion_prints_nothing(tmp_path, capfd) -> None:
    """The converter's TensorFlow logging (C++, straight to file descriptor 2) must
    not reach the notebook or Voila app that converts a model."""
    model = _dot_model()
    capfd.readouterr()
    tfl = convert_to_tflite(model, tmp_path / "q.tflite", input_shape=(1, 16, 16, 3))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert tfl.stat().st_size > 0
    print("after")  # the descriptors are restored
    assert capfd.readouterr().out == "after\n"
