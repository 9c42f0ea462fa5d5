"""int8 vs float32 on the committed openfield models (no training): is int8 kept.

Evaluates the models that ``benchmarks/openfield_accuracy.py`` trained and that are
committed in ``benchmarks/results/openfield_model/<split>/`` at full size (640×480):
the Keras model (TensorFlow), the float32 TFLite model, and the full-integer int8
TFLite model calibrated on the split's 110 training frames, as ``posekit analyze``
makes and chooses it (:meth:`posekit.engine.model_folder.ModelFolder.tflite_model`):
int8 is compared with float on all 116 labelled frames
(:func:`posekit.engine.quantization.compare`, the project's pcutoff 0.4), and the
record says what was measured and which precision ``auto`` runs. The same agreement
is measured on every 5th frame of the openfield video (2330 frames), to show that
the labelled frames speak for the video. Errors are mean Euclidean distances
(DeepLabCut's "RMSE") on each split's 6 test frames.

The conversions are made in a temporary copy of each model folder, so the committed
folders are not changed.

Usage::

    python benchmarks/openfield_int8.py

Writes ``benchmarks/results/openfield_int8.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openfield_accuracy import DATA, PROJECT, SPLITS, load_openfield  # noqa: E402

MODELS = REPO / "benchmarks" / "results" / "openfield_model"
RESULTS = REPO / "benchmarks" / "results" / "openfield_int8.json"


def labelled_frames(split: str, images=None, xy=None, names=None):
    """Return the openfield frames of a split as ``LabelledFrames`` (train calibrates).

    Parameters
    ----------
    split
        A key of ``SPLITS``.
    images, xy, names
        The openfield labels (default: read them).

    Returns
    -------
    posekit.engine.quantization.LabelledFrames
    """
    import yaml

    from posekit.engine.quantization import LabelledFrames

    if images is None:
        images, xy, names, _ = load_openfield(DATA)
    test = tuple(i for i, n in enumerate(names) if n in SPLITS[split])
    train = tuple(i for i in range(len(names)) if i not in test)
    config = yaml.safe_load((DATA / PROJECT / "config.yaml").read_text())
    return LabelledFrames(
        images, xy, train, test, f"openfield {split}", pcutoff=config["pcutoff"]
    )


def video_frames(step: int = 5) -> list:
    """Every ``step``-th frame of the openfield video, RGB."""
    import cv2

    [video] = (DATA / PROJECT / "videos").glob("*.mp4")
    cap = cv2.VideoCapture(str(video))
    frames, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return frames


def copy_model(folder: Path, dest: Path) -> Path:
    """Copy a model folder's snapshot files (not its cached conversions) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.suffix != ".tflite" and not path.name.endswith("-int8.json"):
            shutil.copy2(path, dest / path.name)
    return dest


def evaluate(split: str, images, xy, names, video=None) -> dict:
    """Test error of the Keras, float32 and int8 TFLite models; auto's check."""
    from posekit.engine.inference import KerasPredictor
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.quantization import Agreement, mean_error_px

    frames = labelled_frames(split, images, xy, names)
    with tempfile.TemporaryDirectory() as tmp:
        folder = ModelFolder(copy_model(MODELS / split, Path(tmp) / split))
        t0 = time.perf_counter()
        model = folder.tflite_model(
            (480, 640), 1, precision="auto", labelled_frames=frames
        )
        convert_s = time.perf_counter() - t0
        report = model.report
        keras_pred = KerasPredictor(folder.load(), batch_size=1)(
            [images[i] for i in frames.test]
        )
        keras_error = mean_error_px(keras_pred, xy[list(frames.test)])
        video_agreement = None
        if video:
            run = {
                p: folder.tflite_model((480, 640), 1, precision=p).predictor()(video)
                for p in ("float32", "int8")
            }
            video_agreement = Agreement.measure(
                run["float32"], run["int8"], pcutoff=frames.pcutoff
            ).to_dict()
    return {
        "split": split,
        "snapshot": report.snapshot,
        "test_frames": [names[i] for i in frames.test],
        "calibration_frames": report.calibration_frames,
        "frame_shape": list(report.frame_shape),
        "keras_test_error_px": keras_error,
        "float32_tflite_test_error_px": report.float_test_error_px,
        "int8_tflite_test_error_px": report.int8_test_error_px,
        "int8_minus_float_px": report.difference_px,
        "chosen_by_auto": report.chosen,
        "reasons": list(report.reasons),
        "agreement_labelled_frames": report.agreement.to_dict(),
        "agreement_video_every_5th_frame": video_agreement,
        "thresholds": report.thresholds.to_dict(),
        "conversion_and_comparison_s": convert_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Evaluate both splits' models and write the JSON.

    Parameters
    ----------
    argv
        Command-line arguments.

    Returns
    -------
    int
        0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=[*SPLITS, "both"], default="both")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--no-video", action="store_true", help="skip the agreement on the video"
    )
    args = parser.parse_args(argv)
    images, xy, names, bodyparts = load_openfield(DATA)
    video = None if args.no_video else video_frames()
    splits = list(SPLITS) if args.split == "both" else [args.split]
    rows = []
    for split in splits:
        row = evaluate(split, images, xy, names, video)
        rows.append(row)
        a = row["agreement_labelled_frames"]
        print(
            f"{split}: Keras {row['keras_test_error_px']:.3f} px, float32 TFLite "
            f"{row['float32_tflite_test_error_px']:.3f} px, int8 TFLite "
            f"{row['int8_tflite_test_error_px']:.3f} px ({row['int8_minus_float_px']:+.3f}"
            f" px); int8 vs float on {a['frames']} labelled frames: median shift "
            f"{a['median_shift_px']:.2f} px, {100 * a['tail_share']:.1f}% > 2 px, "
            f"{a['clear_crossings']} of {a['points']} points cross pcutoff "
            f"{a['pcutoff']:g} -> auto chooses {row['chosen_by_auto']}",
            flush=True,
        )
    doc = {
        "benchmark": "openfield_int8",
        "note": "test errors: mean Euclidean distance (DLC's 'RMSE') on each split's 6 "
        "test frames at 640x480; int8 = full-integer TFLite calibrated on the 110 "
        "training frames; auto's check: int8 vs float on the 116 labelled frames "
        "(posekit.engine.quantization.compare), and the same measure on every 5th "
        "frame of the video",
        "bodyparts": bodyparts,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "splits": {row["split"]: row for row in rows},
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
