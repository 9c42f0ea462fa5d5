"""Per-frame latency of real-time pose estimation (``LivePredictor``), float vs int8.

One frame in, one pose out (batch 1, TFLite on LiteRT), as ``posekit live`` runs it:
frames of the openfield video are decoded first (so decoding is not in the latency),
resized to 640×480 (native) and 320×240, and each is given to
:meth:`posekit.engine.live.LivePredictor.predict`; the latency is from the call to the
pose (inference + decoding of the score maps). Reported: median and 99th percentile
(ms), and the frames/s one core pair sustains (1 / mean latency), for float32 and for
the int8 model calibrated on the split's training frames; with all cores and with one
inference thread. Decode-only time per frame of the same video, measured in the same
run, is reported beside them (a live pipeline also decodes each frame).

The anchor (issue 16): DLC-Live's published CPU figure, a MobileNetV2-0.35 at 459×349
on a desktop CPU, ~15 frames/s.

Usage::

    python benchmarks/latency.py --model benchmarks/results/openfield_model/every20

Writes ``benchmarks/results/latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_fps import VIDEO, decode_only  # noqa: E402


def _frames(video: Path, n: int, shape: tuple[int, int]) -> list[np.ndarray]:
    """Decode ``n`` frames spread over the video, resized to ``shape``."""
    import cv2

    from posekit.engine.video import VideoReader

    out = []
    with VideoReader(video) as reader:
        for _, frame in reader.iter_frames(0, n, backend="opencv"):
            if frame.shape[:2] != shape:
                frame = cv2.resize(
                    frame, (shape[1], shape[0]), interpolation=cv2.INTER_AREA
                )
            out.append(frame)
    return out


def measure(live, frames: list[np.ndarray], warmup: int = 20) -> dict:
    """Latency statistics of ``live`` over ``frames`` (after ``warmup`` frames)."""
    for frame in frames[:warmup]:
        live.predict(frame)
    latencies = np.array([live.predict(f).latency_s for f in frames[warmup:]])
    ms = 1000 * latencies
    return {
        "frames": len(ms),
        "median_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "frames_per_s": float(1000 / ms.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and write the JSON.

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
    parser.add_argument("--model", required=True, help="a train/ folder")
    parser.add_argument("--split", default="every20")
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "latency.json")
    )
    args = parser.parse_args(argv)

    from openfield_int8 import copy_model, labelled_frames

    from posekit.engine.live import LivePredictor
    from posekit.engine.model_folder import ModelFolder

    tmp = tempfile.TemporaryDirectory(prefix="posekit-latency-")
    model_dir = Path(args.model)
    folder = ModelFolder(copy_model(model_dir, Path(tmp.name) / model_dir.name))
    bodyparts = folder.model_config().bodyparts
    calibration = labelled_frames(args.split)
    video = Path(args.video)
    doc = {
        "benchmark": "latency",
        "video": video.name,
        "model": str(args.model),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": list(os.getloadavg()),
        "note": "latency of LivePredictor.predict (inference + score-map decoding), "
        "batch 1, TFLite; frames decoded beforehand; decode_only_ms: OpenCV decode "
        "(+ resize) per frame of the same video in this run",
        "anchor": "DLC-Live (Kane et al. 2020), MobileNetV2-0.35 at 459x349 on a "
        "desktop CPU: ~15 frames/s",
        "rows": [],
    }
    for shape in ((480, 640), (240, 320)):
        scale = shape[1] / 640
        decode_fps, _ = decode_only(video, scale, "opencv")
        frames = _frames(video, args.frames + 20, shape)
        for precision in ("float32", "int8"):
            model = folder.tflite_model(
                shape, 1, precision=precision, labelled_frames=calibration
            )
            for threads in (None, 1):
                live = LivePredictor(model.predictor(threads), bodyparts)
                time.sleep(0.5)
                row = {
                    "frame_size": [shape[1], shape[0]],
                    "precision": precision,
                    "threads": live.predictor.num_threads,
                    "decode_only_ms": 1000 / decode_fps,
                    **measure(live, frames),
                }
                row["latency_over_decode"] = row["median_ms"] / row["decode_only_ms"]
                doc["rows"].append(row)
                print(
                    f"{shape[1]}x{shape[0]} {precision:7s} threads {row['threads']}: "
                    f"median {row['median_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                    f"{row['frames_per_s']:.0f} frames/s (decode alone "
                    f"{row['decode_only_ms']:.2f} ms/frame)",
                    flush=True,
                )
    doc["load_average_at_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
