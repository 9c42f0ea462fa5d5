"""Seconds to convert a trained model to TFLite: the wait before a new model's first analysis.

Converts the committed openfield model (EfficientNet-Lite0, the default backbone) at the
openfield video's 480×640 with batch 1, in float32 and in full-integer int8 (calibrated on
16 openfield frames), two ways measured in the same run:

- ``savedmodel`` (the baseline, posekit up to session 25): ``keras.export.ExportArchive``
  writes a SavedModel, then ``TFLiteConverter.from_saved_model``;
- ``frozen`` (:func:`posekit.engine.inference.convert_to_tflite` now): the traced concrete
  function with its variables frozen into constants, ``from_concrete_functions``.

It reports seconds (median of ``--repeats``), the ratio, and the largest difference
between the two files' outputs on real frames (they must be the same model).

Usage::

    python benchmarks/tflite_conversion.py --model benchmarks/results/openfield_model/every20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def convert_through_savedmodel(model, path: Path, input_shape, frames=None) -> None:
    """Convert as posekit did before: write a SavedModel, then convert it."""
    from posekit.engine._tf import keras
    from posekit.engine._tf import tensorflow as tf
    from posekit.engine.inference import _full_integer

    with tempfile.TemporaryDirectory(prefix="posekit-export-") as tmp:
        export = keras.export.ExportArchive()
        export.track(model)
        if frames:
            fn, dtype = (lambda x: model(x, training=False)), tf.float32
        else:
            fn = lambda x: model(tf.cast(x, tf.float32), training=False)  # noqa: E731
            dtype = tf.uint8
        export.add_endpoint(
            name="serve", fn=fn, input_signature=[tf.TensorSpec(input_shape, dtype)]
        )
        export.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if frames:
            _full_integer(converter, frames, int(input_shape[0]))
        path.write_bytes(converter.convert())


def outputs(path: Path, frames) -> list:
    """Score maps and locref of each frame through a converted file."""
    from posekit.engine.inference import TFLitePredictor

    predictor = TFLitePredictor(path, lambda s, loc: None, batch_size=1)
    return [predictor._run(frame[None]) for frame in frames]


def main() -> None:
    """Time both conversions and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=REPO / "benchmarks/results/openfield_model/every20",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/tflite_conversion.json"
    )
    args = parser.parse_args()

    import numpy as np
    from openfield_int8 import video_frames

    from posekit.engine.inference import convert_to_tflite
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.models.pose_model import (
        load_pose_model,
        rebuild_for_input_shape,
    )

    _, snapshot = ModelFolder.at(args.model).snapshot(-1)
    frames = video_frames(step=150)[:16]
    h, w = frames[0].shape[:2]
    model = rebuild_for_input_shape(load_pose_model(snapshot), (h, w, 3))
    shape = [1, h, w, 3]
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("float32", "int8"):
            calib = frames if precision == "int8" else None
            times: dict[str, list[float]] = {"savedmodel": [], "frozen": []}
            for _ in range(args.repeats):
                for way in ("savedmodel", "frozen"):  # alternating
                    path = Path(tmp) / f"{way}-{precision}.tflite"
                    t0 = time.perf_counter()
                    if way == "frozen":
                        convert_to_tflite(
                            model, path, input_shape=shape, representative_frames=calib
                        )
                    else:
                        convert_through_savedmodel(model, path, shape, calib)
                    times[way].append(time.perf_counter() - t0)
            a = outputs(Path(tmp) / f"savedmodel-{precision}.tflite", frames[:4])
            b = outputs(Path(tmp) / f"frozen-{precision}.tflite", frames[:4])
            diff = max(
                float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
                for fa, fb in zip(a, b, strict=True)
                for x, y in zip(fa, fb, strict=True)
            )
            row = {
                "precision": precision,
                "savedmodel_s": statistics.median(times["savedmodel"]),
                "frozen_s": statistics.median(times["frozen"]),
                "all_s": times,
                "max_output_difference": diff,
            }
            row["speedup"] = row["savedmodel_s"] / row["frozen_s"]
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "all_s"}))
    result = {
        "benchmark": "tflite_conversion",
        "model": str(
            args.model.relative_to(REPO) if args.model.is_absolute() else args.model
        ),
        "snapshot": Path(snapshot).name,
        "input_shape": shape,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_at_start": load0,
        "repeats": args.repeats,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
