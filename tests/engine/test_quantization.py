"""int8 inference: full-integer TFLite, quantized inputs, the float-vs-int8 choice.

A tiny "pose network" whose score map peaks at the brightest pixel has known answers:
the int8 model must find the same cells as float, also when its input is not the
frame itself (a lookup table then quantizes it), and the model folder must check
int8 against float once per snapshot and frame size and record it. The rule itself
(int8 only when it agrees with float) is tested in ``test_int8_agreement.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from dot_model import STRIDE, dot_model

from posekit.engine.inference import (
    TFLitePredictor,
    convert_to_tflite,
    default_batch_size,
)
from posekit.engine.models.decoder import make_decoder
from posekit.engine.quantization import (
    LabelledFrames,
    OutdatedReport,
    QuantizationReport,
    check_precision,
    decide,
    mean_error_px,
)


def _frames(n: int, lo: int, hi: int, seed: int = 0) -> tuple[list, np.ndarray]:
    """``n`` 48×64 frames of noise in ``[lo, hi]`` with a bright cell at a known place."""
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    for i in range(n):
        img = rng.integers(lo, lo + (hi - lo) // 3, (48, 64, 3)).astype(np.uint8)
        cx, cy = 8 * (i % 7) + 4, 8 * (i % 5) + 4
        img[cy - 4 : cy + 4, cx - 4 : cx + 4] = hi
        frames.append(img)
        truth.append([[cx, cy]])
    return frames, np.array(truth, float)


@pytest.mark.parametrize(("lo", "hi"), [(0, 255), (40, 200)])
def test_int8_model_finds_what_float_finds(tmp_path, lo: int, hi: int) -> None:
    frames, truth = _frames(12, lo, hi)
    model = dot_model()
    decoder = make_decoder(stride=STRIDE, locref_stdev=1.0)
    fp = convert_to_tflite(model, tmp_path / "f.tflite", input_shape=(4, 48, 64, 3))
    q8 = convert_to_tflite(
        model,
        tmp_path / "q.tflite",
        input_shape=(4, 48, 64, 3),
        representative_frames=frames,
    )
    float_pred = TFLitePredictor(fp, decoder, batch_size=4)
    int8_pred = TFLitePredictor(q8, decoder, batch_size=4)
    assert (float_pred.precision, int8_pred.precision) == ("float32", "int8")
    # frames spanning 0..255 calibrate an identity input; a narrower range does not,
    # and the predictor quantizes the frame through its lookup table
    assert (int8_pred._lut is None) == (lo == 0 and hi == 255)
    assert int8_pred._input_dtype == np.uint8
    a, b = float_pred(frames), int8_pred(frames)
    np.testing.assert_allclose(a[..., :2], truth)
    np.testing.assert_allclose(b[..., :2], truth)
    np.testing.assert_allclose(b[..., 2], a[..., 2], atol=0.02)  # the likelihoods


def test_representative_frames_must_fit_the_input(tmp_path) -> None:
    with pytest.raises(ValueError, match="representative_frames must be RGB frames"):
        convert_to_tflite(
            dot_model(),
            tmp_path / "q.tflite",
            input_shape=(1, 48, 64, 3),
            representative_frames=[np.zeros((32, 32, 3), np.uint8)],
        )


def test_the_record(tmp_path) -> None:
    from posekit.engine.quantization import Agreement, Thresholds

    agreement = Agreement(40, 40, 160, 150, 0.6, 0.3, 2.0, 0.0, 1.2, 1, 0, 0.1, 0.2)
    report = QuantizationReport(
        "int8", (), agreement, Thresholds(), (240, 320), 8, 32, 2.5, 2.55, 5,
        "test", "snapshot-9.keras",
    )  # fmt: skip
    path = report.write(tmp_path / "r.json")
    assert QuantizationReport.read(path) == report
    assert json.loads(path.read_text())["difference_px"] == pytest.approx(0.05)
    (tmp_path / "bad.json").write_text('{"rule": "agreement/1"}')
    with pytest.raises(ValueError, match="not a quantization report"):
        QuantizationReport.read(tmp_path / "bad.json")
    # a decision of the old rule (test error within 0.2 px) is made again
    (tmp_path / "old.json").write_text(
        json.dumps({"float_test_error_px": 4.76, "int8_test_error_px": 4.07,
                    "chosen": "int8", "tolerance_px": 0.2, "test_frames": 8})
    )  # fmt: skip
    with pytest.raises(OutdatedReport, match="older rule .*0.2 px.* 8 frames"):
        QuantizationReport.read(tmp_path / "old.json")
    assert check_precision("auto") == "auto"
    with pytest.raises(ValueError, match="precision must be one of"):
        check_precision("fp16")


def test_labelled_frames_are_resized_like_analysis() -> None:
    frames, truth = _frames(6, 0, 255)
    lf = LabelledFrames(frames, truth, (0, 1, 2, 3), (4, 5), "synthetic")
    assert lf.test_split == "test"
    small, kp, factors = lf.resized(lf.test, (24, 32))
    assert small[0].shape == (24, 32, 3) and kp.shape == (2, 1, 2)
    np.testing.assert_allclose(factors, 0.5)
    assert LabelledFrames(frames, truth, (0, 1), (0, 1)).test_split == "train"
    assert mean_error_px(truth + [3.0, 4.0], truth) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="No calibration frames"):
        LabelledFrames(frames, truth, (), (1,))


def test_default_batch_size_by_frame_size() -> None:
    assert default_batch_size((480, 640)) == 1
    assert default_batch_size((1080, 1920)) == 1
    assert default_batch_size((240, 320)) == 8
    assert default_batch_size(None) == 8


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    """Make a model folder with one snapshot of an untrained MobileNetV2-0.35."""
    from posekit.engine.model_folder import ModelFolder, file_sha256
    from posekit.engine.models.pose_model import (
        PoseModelConfig,
        build_pose_model,
        save_pose_model,
    )

    train = tmp_path_factory.mktemp("q") / "train"
    train.mkdir()
    config = PoseModelConfig(bodyparts=("a", "b"), backbone="mobilenet_v2_0.35")
    model = build_pose_model(config.replace(weights=None))
    keras_file = save_pose_model(model, train / "snapshot-10.keras")
    np.savez(train / "snapshot-10.optimizer.npz")
    meta = {
        "format": "posekit-snapshot/1",
        "iteration": 10,
        "model_file": keras_file.name,
        "model_sha256": file_sha256(keras_file),
        "optimizer_file": "snapshot-10.optimizer.npz",
        "optimizer_sha256": file_sha256(train / "snapshot-10.optimizer.npz"),
        "model_config": model.pose_config.to_dict(),
    }
    (train / "snapshot-10.json").write_text(json.dumps(meta))
    return ModelFolder(train)


def test_model_folder_chooses_once_and_records_it(small_folder) -> None:
    frames, truth = _frames(8, 0, 255)
    truth = np.repeat(truth, 2, axis=1)  # two bodyparts
    lf = LabelledFrames(frames, truth, (0, 1, 2, 3, 4, 5), (6, 7), "synthetic")
    stages = []
    model = small_folder.tflite_model(
        (48, 64), 2, precision="auto", labelled_frames=lf, on_stage=stages.append
    )
    assert stages == ["converting"]  # the Keras model loaded once, for both files
    report = model.report
    assert (report.chosen, list(report.reasons)) == decide(report.agreement)
    # 8 labelled frames are too few to trust int8 with
    assert report.chosen == "float32" and "only 8 labelled frames" in report.reasons[0]
    assert report.agreement.frames == 8 and report.calibration_frames == 6
    assert model.precision == report.chosen
    record = small_folder.quantization_report_path(-1, (48, 64), 2)
    assert record.name == "snapshot-10-48x64-b2-int8.json"
    assert QuantizationReport.read(record) == report
    assert small_folder.tflite_path(-1, (48, 64), 2, "int8").is_file()
    # the float test error is the float TFLite model's, measured here again
    float_model = small_folder.tflite_model((48, 64), 2, precision="float32")
    again = lf.test_error_px(float_model.predictor(), (48, 64))
    assert again == pytest.approx(report.float_test_error_px)
    # a second call converts nothing and keeps the choice
    stages.clear()
    same = small_folder.tflite_model(
        (48, 64), 2, precision="auto", on_stage=stages.append
    )
    assert stages == [] and same.path == model.path and same.report == report
    forced = small_folder.tflite_model((48, 64), 2, precision="int8")
    assert forced.precision == "int8" and forced.predictor().precision == "int8"


def test_int8_without_labelled_frames_is_a_clear_error(small_folder) -> None:
    # no project, no frames: auto falls back to float32, int8 says what to do
    model = small_folder.tflite_model((32, 32), 1, precision="auto")
    assert model.precision == "float32" and model.report is None
    with pytest.raises(ValueError, match="int8 needs labelled frames"):
        small_folder.tflite_model((32, 32), 1, precision="int8")


def test_int8_comparison_reads_a_bounded_sample() -> None:
    """However many frames, at most MAX_TEST_FRAMES / MAX_CHECK_FRAMES are read."""
    from posekit.engine.quantization import (
        MAX_CALIBRATION_FRAMES,
        MAX_CHECK_FRAMES,
        MAX_TEST_FRAMES,
    )

    class Counted(list):
        reads = 0

        def __getitem__(self, i):
            Counted.reads += 1
            return super().__getitem__(i)

    frames, truth = _frames(2, 0, 255)
    n = 3 * MAX_TEST_FRAMES
    images = Counted([frames[0]] * n)
    lf = LabelledFrames(
        images, np.repeat(truth[:1], n, 0), tuple(range(n)), tuple(range(n))
    )
    sample = lf.test_sample
    assert len(sample) == MAX_TEST_FRAMES and sample[0] == 0 and sample[-1] == n - 1
    assert len(lf.calibration_frames((24, 32))) == MAX_CALIBRATION_FRAMES
    assert Counted.reads == MAX_CALIBRATION_FRAMES

    def predictor(batch):
        return np.zeros((len(batch), 1, 3))

    Counted.reads = 0
    lf.test_error_px(predictor, (24, 32))
    assert Counted.reads == MAX_TEST_FRAMES
    check = lf.check_sample((24, 32))
    assert len(check) == MAX_CHECK_FRAMES and check[0] == 0 and check[-1] == n - 1


def test_a_report_made_at_another_pcutoff_is_made_again(
    small_folder, monkeypatch
) -> None:
    """QA s24 metrics 2: the report made at an old pcutoff was reused.

    After pcutoff changed in config.yaml, the int8 decision still rested on the
    points crossing the old pcutoff.
    """
    from posekit.engine.model_folder import ModelFolder

    frames, truth = _frames(8, 0, 255)
    truth = np.repeat(truth, 2, axis=1)
    lf = LabelledFrames(frames, truth, (0, 1, 2, 3, 4, 5), (6, 7), "synthetic")
    report = small_folder.tflite_model(
        (48, 64), 2, precision="auto", labelled_frames=lf
    ).report
    made_at = report.agreement.pcutoff
    monkeypatch.setattr(ModelFolder, "_project_pcutoff", lambda self: made_at)
    assert small_folder.quantization_report((48, 64), 2) == report
    monkeypatch.setattr(ModelFolder, "_project_pcutoff", lambda self: made_at / 10)
    assert small_folder.quantization_report((48, 64), 2) is None
