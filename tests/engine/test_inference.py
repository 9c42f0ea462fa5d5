"""The prediction path.

Batching and padding frames of several sizes, video analysis (decode thread, scaling,
crop, DLC output), TFLite.
"""

from __future__ import annotations

import pickle

import cv2
import keras
import numpy as np
import pandas as pd
import pytest
from dot_model import STRIDE, decode_brightest, dot_model

from posekit.engine.inference import (
    KerasPredictor,
    TFLitePredictor,
    analyze_video,
    convert_to_tflite,
    predict_video,
)
from posekit.engine.model_folder import dlc_scorer_name
from posekit.engine.models.decoder import make_decoder
from posekit.engine.video import Crop


def _frames_of_two_sizes() -> tuple[list[np.ndarray], np.ndarray]:
    """Five 48×64 and two 40×40 frames, a bright square at a score-map cell centre."""
    truth, images = [], []
    for i, (h, w) in enumerate([(48, 64)] * 5 + [(40, 40)] * 2):
        img = np.zeros((h, w, 3), np.uint8)
        cx, cy = 8 * (1 + i % 3) + 4, 8 * (1 + i % 2) + 4  # a cell centre
        img[cy - 2 : cy + 2, cx - 2 : cx + 2] = 255
        images.append(img)
        truth.append([[cx, cy]])
    return images, np.array(truth, float)


def test_keras_predictor_batches_pads_and_mixes_shapes() -> None:
    inp = keras.Input((None, None, 3))
    scmap, locref = dot_model()(inp)
    model = keras.Model(inp, {"scoremap": scmap, "locref": locref})  # dict outputs
    images, truth = _frames_of_two_sizes()
    predictor = KerasPredictor(
        model, make_decoder(stride=STRIDE, locref_stdev=1.0), batch_size=4
    )
    out = predictor(images)
    assert out.shape == (7, 1, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, :2], truth)
    # frames in another order come back in that order
    order = [6, 0, 5, 1, 2, 4, 3]
    again = predictor([images[i] for i in order])
    np.testing.assert_allclose(again, out[order])
    # each frame shape traces once (the last batch of a shape is padded)
    traces = predictor._fn.experimental_get_tracing_count()
    assert traces <= 2
    predictor(images[:3])
    assert predictor._fn.experimental_get_tracing_count() == traces
    # one array of frames of one shape: the same answer
    np.testing.assert_allclose(predictor(np.stack(images[:5])), out[:5])
    with pytest.raises(ValueError, match="decoder"):
        KerasPredictor(model)  # not a PoseModel: no stride to decode with
    with pytest.raises(ValueError, match="batch_size"):
        KerasPredictor(model, decode_brightest, batch_size=0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        predictor([np.zeros((8, 8), np.uint8)])


def test_keras_predictor_on_a_pose_model_decodes_with_its_config() -> None:
    from posekit.engine.models.pose_model import PoseModelConfig, build_pose_model

    config = PoseModelConfig(
        bodyparts=("a", "b"), backbone="mobilenet_v2_0.35", weights=None
    )
    model = build_pose_model(config, (None, None, 3))
    predictor = KerasPredictor(model, batch_size=2)
    assert predictor.num_keypoints == 2
    assert predictor([]).shape == (0, 2, 3)
    images = [np.full((64, 96, 3), 100, np.uint8), np.full((32, 32, 3), 50, np.uint8)]
    out = predictor(images)
    raw = model(np.stack([images[0]]).astype("float32"), training=False)
    expected = make_decoder(
        stride=config.head_stride, locref_stdev=config.locref_stdev
    )(np.asarray(raw["scoremap"]), np.asarray(raw["locref"]))
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-4)


@pytest.fixture(scope="module")
def dot_video(tmp_path_factory):
    """Write a 160×120 video of a bright square moving right by 2 px per frame."""
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
    predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=8)
    xyp, info = predict_video(predictor, path)
    assert (
        info["n_frames"] == 37 == len(xyp)
    )  # one row per decoded frame (padded batch)
    assert np.abs(xyp[:, 0, :2] - truth).max() <= STRIDE / 2 + 1


def test_scale_and_crop_map_back_to_full_frame(dot_video) -> None:
    path, truth = dot_video
    predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=4)
    half, _ = predict_video(predictor, path, scale=0.5)
    assert np.abs(half[:, 0, :2] - truth).max() <= STRIDE + 2
    crop = Crop(8, 152, 16, 112)
    cropped, _ = predict_video(predictor, path, crop=crop)
    assert np.abs(cropped[:, 0, :2] - truth).max() <= STRIDE / 2 + 1


def test_analyze_video_writes_dlc_layout(dot_video, tmp_path) -> None:
    path, _ = dot_video
    predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=8)
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
    # DeepLabCut 3's keys and order: (width, height); cropping_parameters a list
    assert meta["nframes"] == 37 and meta["frame_dimensions"] == (160, 120)
    assert meta["cropping"] is False and meta["cropping_parameters"] == [0, 160, 0, 120]
    assert meta["bodyparts"] == ["dot"] and meta["unique_bodyparts"] == []
    assert meta["individuals"] == ["individual_1"]
    dlc3_keys = {
        "start", "stop", "run_duration", "Scorer", "fps", "batch_size",
        "frame_dimensions", "nframes", "iteration (active-learning)",
        "training set fraction", "cropping", "cropping_parameters", "individuals",
        "bodyparts", "unique_bodyparts",
    }  # fmt: skip
    assert dlc3_keys <= set(meta) and "DLC-model-config file" in meta


def test_an_interrupted_serial_analysis_resumes_where_it_stopped(
    dot_video, tmp_path, monkeypatch, caplog
) -> None:
    """QA s15 F5/F8: a killed serial analysis of a long video restarted from frame 0."""
    import logging

    from posekit.engine import inference

    path, _ = dot_video
    predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=4)
    common = {"scorer": "DLC_dot", "bodyparts": ["dot"], "destfolder": tmp_path}
    whole = pd.read_hdf(
        analyze_video(predictor, path, **common, progress=False, resumable=False)
    )
    partial = tmp_path / ".dotDLC_dot.partial.npz"
    seen: list[int] = []

    def stop_at_16(done: int, total: int) -> None:
        seen.append(done)
        if done == 8:  # saved every batch here (every_s 0): a SIGKILL loses nothing
            with np.load(partial) as data:
                assert len(data["xyp"]) == 8
        if done == 16:
            raise KeyboardInterrupt  # Ctrl-C, or SIGTERM from the scheduler

    monkeypatch.setattr(inference, "CHECKPOINT_EVERY_S", 0.0)
    with pytest.raises(KeyboardInterrupt):
        analyze_video(predictor, path, **common, progress=stop_at_16)
    assert partial.is_file()
    computed: list[int] = []
    counting = KerasPredictor(dot_model(), decode_brightest, batch_size=4)
    run = counting._run
    counting._run = lambda batch: computed.append(len(batch)) or run(batch)
    with caplog.at_level(logging.INFO, logger="posekit"):
        out = analyze_video(counting, path, **common, progress=False)
    assert "resuming at frame 16" in caplog.text
    assert sum(computed) == 37 - 16 + 3  # 21 frames, the last batch padded to 4
    pd.testing.assert_frame_equal(pd.read_hdf(out), whole, check_exact=True)
    assert not partial.exists()  # removed once the .h5 is written
    # other options (another batch size) do not resume from it
    with pytest.raises(KeyboardInterrupt):
        analyze_video(predictor, path, **common, progress=stop_at_16)
    other = KerasPredictor(dot_model(), decode_brightest, batch_size=8)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="posekit"):
        analyze_video(other, path, **common, progress=False)
    assert "resuming" not in caplog.text and "starting over" in caplog.text


def test_a_stop_event_stops_between_batches_and_the_next_run_resumes(
    dot_video, tmp_path
) -> None:
    """A Stop button's event: the frames so far kept as on Ctrl-C, no .h5 written."""
    import threading

    from posekit.engine.inference import AnalysisStopped

    path, _ = dot_video
    predictor = KerasPredictor(dot_model(), decode_brightest, batch_size=4)
    common = {"scorer": "DLC_dot", "bodyparts": ["dot"], "destfolder": tmp_path}
    whole = pd.read_hdf(
        analyze_video(predictor, path, **common, progress=False, resumable=False)
    )
    (tmp_path / "dotDLC_dot.h5").unlink()
    stop = threading.Event()
    computed: list[int] = []

    def press_stop(done: int, total: int) -> None:
        computed.append(done)
        if done == 12:
            stop.set()

    with pytest.raises(AnalysisStopped) as info:
        analyze_video(predictor, path, **common, progress=press_stop, stop_event=stop)
    partial = tmp_path / ".dotDLC_dot.partial.npz"
    assert (info.value.frame, info.value.total, info.value.partial) == (12, 37, partial)
    assert computed == [4, 8, 12]  # no batch after the stop
    assert not (tmp_path / "dotDLC_dot.h5").exists()
    with np.load(partial) as data:
        assert len(data["xyp"]) == 12
    out = analyze_video(predictor, path, **common, progress=False)
    pd.testing.assert_frame_equal(pd.read_hdf(out), whole, check_exact=True)
    assert not partial.exists()
    # without a checkpoint nothing is kept: the next run starts at frame 0
    out.unlink()
    stop.clear()
    with pytest.raises(AnalysisStopped) as info:
        analyze_video(
            predictor,
            path,
            **common,
            progress=press_stop,
            stop_event=stop,
            resumable=False,
        )
    assert (info.value.frame, info.value.partial) == (0, None)
    assert "starts it from its first frame" in str(info.value)
    assert not out.exists() and not partial.exists()


def test_tflite_matches_keras(dot_video, tmp_path) -> None:
    path, _ = dot_video
    model = dot_model()
    tfl = convert_to_tflite(model, tmp_path / "m.tflite", input_shape=(4, 120, 160, 3))
    keras_xyp, _ = predict_video(
        KerasPredictor(model, decode_brightest, batch_size=4), path
    )
    lite = TFLitePredictor(tfl, decode_brightest, batch_size=4)
    # the decoded uint8 frames go in as they are (the cast is in the model)
    assert lite.interpreter.get_input_details()[0]["dtype"] == np.uint8
    lite_xyp, _ = predict_video(lite, path)
    np.testing.assert_allclose(lite_xyp, keras_xyp, atol=1e-4)
    # and the same through either video decoder
    opencv_xyp, _ = predict_video(lite, path, backend="opencv")
    np.testing.assert_allclose(opencv_xyp, lite_xyp, atol=1e-4)


def test_tflite_conversion_prints_nothing(tmp_path, capfd) -> None:
    """The converter's TensorFlow logging stays out of the notebook.

    It is C++ logging, straight to file descriptor 2; it must not reach the notebook
    or Voila app that converts a model.
    """
    model = dot_model()
    capfd.readouterr()
    tfl = convert_to_tflite(model, tmp_path / "q.tflite", input_shape=(1, 16, 16, 3))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert tfl.stat().st_size > 0
    print("after")  # the descriptors are restored
    assert capfd.readouterr().out == "after\n"


def test_a_sequence_of_frames_is_read_a_batch_at_a_time() -> None:
    """Frames given as a sequence (training images read on demand) are not listed.

    ``list(frames)`` held every labelled image in memory before the first batch
    (evaluation of a 1850-frame project: 1.6 GB, QA s15); now at most about a batch
    of them is alive at a time.
    """
    import gc
    import weakref
    from collections.abc import Sequence

    from posekit.engine.inference import Predictor

    alive = {"now": 0, "most": 0}

    def gone() -> None:
        alive["now"] -= 1

    class Frames(Sequence):
        def __len__(self) -> int:
            return 12

        def __getitem__(self, i):
            if not 0 <= i < 12:
                raise IndexError(i)
            frame = np.full((8, 6, 3), i, np.uint8)
            alive["now"] += 1
            alive["most"] = max(alive["most"], alive["now"])
            weakref.finalize(frame, gone)
            return frame

    class Mean(Predictor):
        def _run(self, batch):
            gc.collect()
            means = batch.reshape(len(batch), -1).mean(axis=1)
            return means[:, None, None, None], means[:, None, None, None]

    def decode(scmap, _):
        return np.repeat(scmap[:, :, :, 0].reshape(-1, 1, 1), 3, axis=2)

    out = Mean(decode, batch_size=2, num_keypoints=1)(Frames())
    assert out[:, 0, 0].tolist() == list(range(12))
    assert alive["most"] <= 4, alive
