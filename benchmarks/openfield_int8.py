"""int8 vs float32 test error of the committed openfield models (no training).

Evaluates the models that ``benchmarks/openfield_accuracy.py`` trained and that are
committed in ``benchmarks/results/openfield_model/<split>/`` on their own split's 6
test frames at full size (640×480): the Keras model (TensorFlow), the float32 TFLite
model, and the full-integer int8 TFLite model calibrated on the split's 110 training
frames, as ``posekit analyze`` makes and chooses it
(:meth:`posekit.engine.model_folder.ModelFolder.tflite_model`). Errors are mean
Euclidean distances (DeepLabCut's "RMSE").

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

from openfield_accuracy import DATA, SPLITS, load_openfield  # noqa: E402

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
    from posekit.engine.quantization import LabelledFrames

    if images is None:
        images, xy, names, _ = load_openfield(DATA)
    test = tuple(i for i, n in enumerate(names) if n in SPLITS[split])
    train = tuple(i for i in range(len(names)) if i not in test)
    return LabelledFrames(images, xy, train, test, f"openfield {split}")


def copy_model(folder: Path, dest: Path) -> Path:
    """Copy a model folder's snapshot files (not its cached conversions) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.suffix != ".tflite" and not path.name.endswith("-int8.json"):
            shutil.copy2(path, dest / path.name)
    return dest


def evaluate(split: str, images, xy, names) -> dict:
    """Test error of the Keras, float32 TFLite and int8 TFLite models of a split."""
    from posekit.engine.inference import KerasPredictor
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.quantization import mean_error_px

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
        "tolerance_px": report.tolerance_px,
        "chosen_by_auto": report.chosen,
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
    args = parser.parse_args(argv)
    images, xy, names, bodyparts = load_openfield(DATA)
    splits = list(SPLITS) if args.split == "both" else [args.split]
    rows = []
    for split in splits:
        row = evaluate(split, images, xy, names)
        rows.append(row)
        print(
            f"{split}: Keras {row['keras_test_error_px']:.3f} px, float32 TFLite "
            f"{row['float32_tflite_test_error_px']:.3f} px, int8 TFLite "
            f"{row['int8_tflite_test_error_px']:.3f} px ({row['int8_minus_float_px']:+.3f}"
            f" px) -> auto chooses {row['chosen_by_auto']}",
            flush=True,
        )
    doc = {
        "benchmark": "openfield_int8",
        "note": "mean Euclidean distance (DLC's 'RMSE') on each split's 6 test frames "
        "at 640x480; int8 = full-integer TFLite calibrated on the 110 training frames",
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
