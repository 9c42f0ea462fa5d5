"""End-to-end video analysis speed on the openfield video (2330 frames, 640×480).

Measures, in one run on this machine: decode-only frames/s of the same video (the
physical ceiling), then end-to-end analysis frames/s (decode thread + inference + decoding
of the score maps + writing the DLC ``.h5``) at full and half resolution, with the TFLite
(LiteRT) runtime and with TensorFlow. Ratios to decode-only are reported next to each.

Usage::

    python benchmarks/video_fps.py --model benchmarks/results/openfield_model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
VIDEO = DATA / "openfield-Pranav-2018-10-30" / "videos" / "m3v1mp4.mp4"


def decode_only(video: Path) -> float:
    from posekit.engine.video import VideoReader

    with VideoReader(video) as reader:
        t0 = time.perf_counter()
        n = sum(1 for _ in reader.iter_frames())
        return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="train folder or snapshot .keras")
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--batch-full", type=int, default=1)
    parser.add_argument("--batch-half", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/video_fps.json"))
    args = parser.parse_args()

    from posekit.engine.api import load_predictor
    from posekit.engine.inference import analyze_video
    from posekit.engine.video import VideoReader

    video = Path(args.video)
    with VideoReader(video) as r:
        h, w = r.height, r.width
    results = {
        "benchmark": "video_fps",
        "video": video.name,
        "frame_size": [w, h],
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "model": str(args.model),
        "runs": [],
    }
    decode = max(decode_only(video) for _ in range(args.repeats))
    results["decode_only_fps"] = decode
    print(f"decode only: {decode:.0f} frames/s")
    for scale, bs in ((1.0, args.batch_full), (0.5, args.batch_half)):
        for runtime in ("tflite", "tensorflow"):
            predictor, info = load_predictor(
                args.model,
                frame_shape=(int(h * scale), int(w * scale)),
                batch_size=bs,
                use_tflite=runtime == "tflite",
            )
            best = 0.0
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    out = analyze_video(
                        predictor, video, scorer=info["scorer"],
                        bodyparts=info["bodyparts"], destfolder=tmp, scale=scale,
                        progress=False,
                    )
                    seconds = time.perf_counter() - t0
                    import pandas as pd

                    n = len(pd.read_hdf(out))
                best = max(best, n / seconds)
            row = {
                "scale": scale,
                "runtime": runtime,
                "batch_size": bs,
                "frames": n,
                "end_to_end_fps": best,
                "fraction_of_decode": best / decode,
            }
            results["runs"].append(row)
            print(
                f"scale {scale:.1f} {runtime:10s} batch {bs}: {best:6.1f} frames/s "
                f"({100 * best / decode:.0f}% of decode-only)"
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
