"""End-to-end video analysis speed on the openfield video (2330 frames, 640×480).

Measures, in one run on this machine: decode-only frames/s of the same video (the
physical ceiling) with each decoder (OpenCV in a thread; an ffmpeg process, posekit's
default for resized whole videos), then end-to-end analysis frames/s (decode thread + inference + decoding
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


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the ffmpeg decoder)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def decode_only(video: Path, scale: float, backend: str) -> tuple[float, float]:
    """Frames/s and CPU ms per frame of decoding alone (resize and RGB included)."""
    from posekit.engine.video import VideoReader

    with VideoReader(video) as reader:
        c0, t0 = _cpu_s(), time.perf_counter()
        n = sum(1 for _ in reader.iter_frames(scale=scale, backend=backend))
        return n / (time.perf_counter() - t0), 1000 * (_cpu_s() - c0) / n


def main() -> None:
    """Time decoding and end-to-end analysis of the video; print and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", required=True, help="train folder or snapshot .keras"
    )
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--batch-full", type=int, default=1)
    parser.add_argument("--batch-half", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--no-tensorflow", action="store_true", help="skip the (slow) TensorFlow runs"
    )
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/video_fps.json")
    )
    args = parser.parse_args()

    import pandas as pd

    from posekit.engine.inference import analyze_video
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.video import VideoReader

    video = Path(args.video)
    folder = ModelFolder.at(args.model)
    snapshot = -1 if Path(args.model).is_dir() else args.model
    scorer = folder.scorer(snapshot)
    bodyparts = list(folder.model_config(snapshot).bodyparts)
    with VideoReader(video) as r:
        h, w = r.height, r.width
    results = {
        "benchmark": "video_fps",
        "video": video.name,
        "frame_size": [w, h],
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "model": str(args.model),
        "note": "best of --repeats; cpu_ms_per_frame counts this process and the "
        "ffmpeg decoder process",
        "decode_only": [],
        "runs": [],
    }
    decode = {}
    for scale in (1.0, 0.5):
        for backend in ("opencv", "ffmpeg"):
            fps, cpu = max(
                decode_only(video, scale, backend) for _ in range(args.repeats)
            )
            decode[scale, backend] = fps
            results["decode_only"].append(
                {
                    "scale": scale,
                    "backend": backend,
                    "fps": fps,
                    "cpu_ms_per_frame": cpu,
                }
            )
            print(
                f"decode only, scale {scale:.1f}, {backend:6s}: {fps:6.0f} frames/s, "
                f"{cpu:.2f} ms CPU/frame",
                flush=True,
            )
    # decode-only of the same video at full size, as analysis decodes it (OpenCV)
    results["decode_only_fps"] = decode[1.0, "opencv"]
    configs = [("tflite", "ffmpeg"), ("tflite", "opencv")]
    if not args.no_tensorflow:
        configs.append(("tensorflow", "ffmpeg"))
    for scale, bs in ((1.0, args.batch_full), (0.5, args.batch_half)):
        for runtime, backend in configs:
            predictor = folder.predictor(
                (int(h * scale), int(w * scale)),
                bs,
                use_tflite=runtime == "tflite",
                snapshot=snapshot,
            )
            best, best_cpu = 0.0, float("inf")
            repeats = args.repeats if runtime == "tflite" else 1
            for _ in range(repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    c0, t0 = _cpu_s(), time.perf_counter()
                    out = analyze_video(
                        predictor,
                        video,
                        scorer=scorer,
                        bodyparts=bodyparts,
                        destfolder=tmp,
                        scale=scale,
                        progress=False,
                        backend=backend,
                    )
                    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
                    n = len(pd.read_hdf(out))
                best = max(best, n / seconds)
                best_cpu = min(best_cpu, 1000 * cpu / n)
            base = decode[scale, backend]
            row = {
                "scale": scale,
                "runtime": runtime,
                "decoder": backend,
                "batch_size": bs,
                "frames": n,
                "end_to_end_fps": best,
                "cpu_ms_per_frame": best_cpu,
                "decode_only_fps_same_decoder": base,
                "fraction_of_decode": best / base,
            }
            results["runs"].append(row)
            print(
                f"scale {scale:.1f} {runtime:10s} {backend:6s} batch {bs}: "
                f"{best:6.1f} frames/s, {best_cpu:.2f} ms CPU/frame "
                f"({100 * best / base:.0f}% of decode-only)",
                flush=True,
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
