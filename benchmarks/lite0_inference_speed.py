"""Inference speed of EfficientNet-Lite0 vs MobileNetV2-0.35 in a DLC-style network.

Both networks are a backbone cut at stride 16 plus one ``Conv2DTranspose`` (3×3, stride 2)
to stride 8 with K=4 score maps and 2K=8 location-refinement channels, as DeepLabCut's
single-deconvolution heads. EfficientNet-Lite0 has its offline ImageNet weights;
MobileNetV2 α=0.35 is built with ``weights=None`` (cut at ``block_12_add``; its [-1, 1]
preprocessing is a ``Rescaling`` layer, as Lite0's is).

Timed at 640×480 and 320×240, batch 1 and 8, with

- TensorFlow: ``tf.function(lambda x: model(x, training=False))``, no XLA;
- TFLite fp32: ``model.export(dir)`` → ``tf.lite.TFLiteConverter.from_saved_model`` (not
  ``from_concrete_functions``, which silently drops the weights), run by LiteRT's
  interpreter (``ai-edge-litert``; TensorFlow's if absent) with 2 threads; the output is
  checked against Keras.

Other people use this machine's CPU too, so each configuration is timed in several
repeats (~1 s each), the two backbones alternating, and the median is reported.
Writes ``benchmarks/results/lite0_inference_speed.json``.

Run: ``.venv/bin/python benchmarks/lite0_inference_speed.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "lite0_inference_speed.json"
SIZES = {"640x480": (480, 640), "320x240": (240, 320)}
BATCHES = (1, 8)
NUM_KEYPOINTS = 4


def dlc_head(features, name: str):
    """Add DLC's single-deconvolution head: K score maps + 2K locref, stride 16 → 8."""
    import keras

    # K score maps + 2K locref channels from one transposed convolution to stride 8.
    return keras.layers.Conv2DTranspose(
        3 * NUM_KEYPOINTS, 3, strides=2, padding="same", name=f"{name}_deconv"
    )(features)


def build_lite0(height: int, width: int):
    """Build EfficientNet-Lite0 (ImageNet weights, output stride 16) with the head."""
    import keras

    from posekit.engine.models.efficientnet_lite import efficientnet_lite0_backbone

    backbone = efficientnet_lite0_backbone(
        (height, width, 3), weights="imagenet", output_stride=16
    )
    return keras.Model(
        backbone.input, dlc_head(backbone.output, "lite0"), name="lite0_os16_deconv"
    )


def build_mobilenet(height: int, width: int):
    """Build MobileNetV2-0.35 (random weights, cut at stride 16) with the head."""
    import keras

    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(inputs)
    full = keras.applications.MobileNetV2(
        input_tensor=x, alpha=0.35, include_top=False, weights=None
    )
    features = full.get_layer("block_12_add").output  # last block at stride 16
    return keras.Model(
        inputs, dlc_head(features, "mnv2"), name="mobilenetv2_035_os16_deconv"
    )


BUILDERS = {
    "efficientnet_lite0": build_lite0,
    "mobilenet_v2_0.35": build_mobilenet,
}


def to_tflite(model, workdir: Path, height: int, width: int):
    """Keras model → SavedModel (``export``) → TFLite flatbuffer; dynamic batch."""
    import keras
    import tensorflow as tf

    # Re-wrap with a batch-free signature so one flatbuffer serves every batch size.
    flexible = keras.Model(model.inputs, model.outputs)
    export_dir = workdir / f"{model.name}_{width}x{height}"
    flexible.export(str(export_dir), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(export_dir))
    return converter.convert()


def interpreter_class():
    """LiteRT's interpreter (``ai-edge-litert``), else TensorFlow's deprecated one."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TFLiteRunner:
    """A TFLite flatbuffer in an interpreter (2 threads) sized for one batch shape."""

    def __init__(self, flatbuffer: bytes, batch_shape: tuple[int, ...]) -> None:
        self.interpreter = interpreter_class()(model_content=flatbuffer, num_threads=2)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.interpreter.resize_tensor_input(self.input_index, list(batch_shape))
        self.interpreter.allocate_tensors()
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run the network on the batch ``x`` and return its output."""
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)


def time_repeat(fn: Callable[[], object], calls: int) -> float:
    """Return the wall-clock seconds that ``calls`` calls of ``fn`` take."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def main() -> int:
    """Time both networks in TensorFlow and TFLite at each size and batch; write JSON.

    Returns
    -------
    int
        The exit status (0).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per repeat")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from posekit.engine._fileio import atomic_write_text

    rng = np.random.default_rng(0)
    interpreter = interpreter_class()
    rows: list[dict] = []
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for size_name, (height, width) in SIZES.items():
            models = {n: b(height, width) for n, b in BUILDERS.items()}
            params = {n: int(m.count_params()) for n, m in models.items()}
            flatbuffers = {
                n: to_tflite(m, Path(tmp), height, width) for n, m in models.items()
            }
            for batch in BATCHES:
                x_np = rng.uniform(0, 255, (batch, height, width, 3)).astype(np.float32)
                x_tf = tf.constant(x_np)
                runners: dict[tuple[str, str], Callable[[], object]] = {}
                check: dict[tuple[str, str], float] = {}
                for name, model in models.items():
                    fn = tf.function(lambda x, m=model: m(x, training=False))
                    reference = fn(x_tf).numpy()  # trace + first run
                    runners[(name, "tf.function")] = lambda f=fn, x=x_tf: f(x).numpy()
                    lite = TFLiteRunner(flatbuffers[name], x_np.shape)
                    out = lite(x_np)
                    check[(name, "tflite_fp32")] = float(
                        np.abs(out - reference).max() / np.abs(reference).max()
                    )
                    runners[(name, "tflite_fp32")] = lambda r=lite, x=x_np: r(x)
                # Calls per repeat so that a repeat lasts about args.seconds.
                calls = {}
                for key, fn in runners.items():
                    fn()
                    one = time_repeat(fn, 2) / 2
                    calls[key] = max(1, math.ceil(args.seconds / one))
                timings: dict[tuple[str, str], list[float]] = {k: [] for k in runners}
                for _ in range(args.repeats):
                    for key, fn in runners.items():  # alternate the backbones
                        elapsed = time_repeat(fn, calls[key])
                        timings[key].append(calls[key] * batch / elapsed)
                for (name, runtime), fps in timings.items():
                    row = {
                        "backbone": name,
                        "runtime": runtime,
                        "size": size_name,
                        "batch": batch,
                        "frames_per_s_median": round(statistics.median(fps), 1),
                        "frames_per_s_min": round(min(fps), 1),
                        "frames_per_s_max": round(max(fps), 1),
                        "ms_per_batch_median": round(
                            1000 * batch / statistics.median(fps), 2
                        ),
                        "repeats": len(fps),
                        "calls_per_repeat": calls[(name, runtime)],
                        "parameters": params[name],
                    }
                    if (name, runtime) in check:
                        row["tflite_vs_keras_relative_max_diff"] = check[
                            (name, runtime)
                        ]
                    rows.append(row)
                    print(
                        f"{name:20s} {runtime:12s} {size_name} batch {batch}: "
                        f"{row['frames_per_s_median']:7.1f} frames/s "
                        f"(min {row['frames_per_s_min']}, max {row['frames_per_s_max']})"
                    )

    report = {
        "benchmark": "lite0_inference_speed",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "network": "backbone cut at stride 16 + Conv2DTranspose(12, 3, strides=2) "
        "to stride 8 (K=4 score maps + 8 locref)",
        "method": f"median frames/s of {args.repeats} repeats of ~{args.seconds} s, "
        "backbones alternating; tf.function without XLA; TFLite fp32 via "
        "model.export + from_saved_model, num_threads=2; random inputs in [0, 255]",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "tflite_interpreter": f"{interpreter.__module__}.{interpreter.__name__}",
        "wall_time_s": round(time.perf_counter() - t_start, 1),
        "results": rows,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out} ({report['wall_time_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
