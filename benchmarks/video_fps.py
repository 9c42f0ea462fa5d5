"""End-to-end video analysis speed on the openfield video (2330 frames, 640×480).

Measures, in one run on this machine: decode-only frames/s of the same video (the
physical ceiling) with each decoder (OpenCV in a thread; an ffmpeg process, posekit's
default for resized whole videos), then end-to-end analysis frames/s (decode thread +
inference + decoding of the score maps + writing the DLC ``.h5``) at full and half
resolution, with the TFLite (LiteRT) runtime in float32 and full-integer int8 (calibrated
on the openfield training frames of the model's split, as ``posekit analyze`` does it),
and with TensorFlow. Ratios to decode-only with the same decoder, measured in the same
run, are reported next to each.

Rows named ``default`` are what ``posekit analyze`` (and the analysis app) runs with
no options: the batch size of :func:`posekit.engine.inference.default_batch_size`, the
precision that ``precision="auto"`` chooses (int8 when its test error is within 0.2 px
of float's), the decoder of ``backend="auto"``.

Usage::

    python benchmarks/video_fps.py --model benchmarks/results/openfield_model/every20
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

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
VIDEO = DATA / "openfield-Pranav-2018-10-30" / "videos" / "m3v1mp4.mp4"
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


def _run(scale, runtime, precision, decoder, batch, threads=None, default=False):
    """Describe one analysis run (``batch=None``: the default batch size)."""
    return {
        "scale": scale,
        "runtime": runtime,
        "precision": precision,
        "decoder": decoder,
        "batch": batch,
        "threads": threads,
        "default": default,
    }


def _configs(args) -> list[dict]:
    """List the analysis runs: scale, runtime, precision, decoder, batch, threads."""
    runs = []
    for scale, batches in ((1.0, (1, 8)), (0.5, (1, 4, 8))):
        usual = 1 if scale == 1.0 else 8
        for batch in batches:
            decoders = ("ffmpeg", "opencv") if batch == usual else ("auto",)
            for precision in ("float32", "int8"):
                for decoder in decoders:
                    runs.append(_run(scale, "tflite", precision, decoder, batch))
        runs.append(_run(scale, "tflite", "int8", "auto", usual, threads=1))
        if not args.no_tensorflow:
            runs.append(_run(scale, "tensorflow", "float32", "ffmpeg", usual))
        runs.append(_run(scale, "tflite", "auto", "auto", None, default=True))
    return runs


def _predictor(folder, snapshot, shape, run, frames):
    """Build the run's predictor; returns it and what the precision choice said."""
    from posekit.engine.inference import default_batch_size

    batch = run["batch"] or default_batch_size(shape)
    if run["runtime"] == "tensorflow":
        return folder.predictor(shape, batch, use_tflite=False, snapshot=snapshot), None
    model = folder.tflite_model(
        shape,
        batch,
        precision=run["precision"],
        snapshot=snapshot,
        labelled_frames=frames,
    )
    return model.predictor(run["threads"]), model


def main() -> None:
    """Time decoding and end-to-end analysis of the video; print and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", required=True, help="train folder or snapshot .keras"
    )
    parser.add_argument(
        "--split",
        default="every20",
        help="openfield split whose training frames calibrate int8 (the model's)",
    )
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--no-tensorflow", action="store_true", help="skip the (slow) TensorFlow runs"
    )
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/video_fps.json")
    )
    args = parser.parse_args()

    import pandas as pd
    from openfield_int8 import copy_model, labelled_frames

    from posekit.engine.inference import analyze_video
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.video import VideoReader

    video = Path(args.video)
    # conversions go into a copy: the committed model folder stays as it is
    tmp_models = tempfile.TemporaryDirectory(prefix="posekit-video-fps-")
    model_dir = (
        Path(args.model) if Path(args.model).is_dir() else Path(args.model).parent
    )
    folder = ModelFolder(copy_model(model_dir, Path(tmp_models.name) / model_dir.name))
    snapshot = -1 if Path(args.model).is_dir() else Path(args.model).name
    scorer = folder.scorer(snapshot)
    bodyparts = list(folder.model_config(snapshot).bodyparts)
    frames = labelled_frames(args.split)
    with VideoReader(video) as r:
        h, w = r.height, r.width
    results = {
        "benchmark": "video_fps",
        "video": video.name,
        "frame_size": [w, h],
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "model": str(args.model),
        "load_average_at_start": list(os.getloadavg()),
        "note": "best of --repeats; cpu_ms_per_frame counts this process and the "
        "ffmpeg decoder process; fraction_of_decode: end-to-end frames/s over "
        "decode-only frames/s with the same decoder, measured in this run",
        "decode_only": [],
        "runs": [],
        "quantization": {},
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
    results["decode_only_fps"] = decode[1.0, "opencv"]
    for run in _configs(args):
        scale = run["scale"]
        shape = (int(h * scale), int(w * scale))
        predictor, model = _predictor(folder, snapshot, shape, run, frames)
        if model is not None and model.report is not None:
            results["quantization"][f"{shape[1]}x{shape[0]}"] = model.report.to_dict()
        decoder = run["decoder"]
        if decoder == "auto":
            decoder = "ffmpeg" if scale != 1.0 else "opencv"
        best, best_cpu = 0.0, float("inf")
        repeats = args.repeats if run["runtime"] == "tflite" else 1
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
                    backend=decoder,
                )
                seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
                n = len(pd.read_hdf(out))
            best = max(best, n / seconds)
            best_cpu = min(best_cpu, 1000 * cpu / n)
        base = decode[scale, decoder]
        precision = getattr(predictor, "precision", "float32")
        row = {
            "scale": scale,
            "runtime": run["runtime"],
            "precision": precision,
            "asked_precision": run["precision"],
            "decoder": decoder,
            "batch_size": predictor.batch_size,
            "threads": getattr(predictor, "num_threads", None),
            "default": bool(run.get("default")),
            "frames": n,
            "end_to_end_fps": best,
            "cpu_ms_per_frame": best_cpu,
            "decode_only_fps_same_decoder": base,
            "fraction_of_decode": best / base,
        }
        results["runs"].append(row)
        label = "default" if row["default"] else f"{run['runtime']:10s}"
        print(
            f"scale {scale:.1f} {label} {precision:7s} {decoder:6s} batch "
            f"{row['batch_size']} threads {row['threads']}: {best:6.1f} frames/s, "
            f"{best_cpu:.2f} ms CPU/frame ({100 * best / base:.0f}% of decode-only)",
            flush=True,
        )
    for key, report in results["quantization"].items():
        print(
            f"{key}: float32 {report['float_test_error_px']:.2f} px, int8 "
            f"{report['int8_test_error_px']:.2f} px -> {report['chosen']}"
        )
    results["load_average_at_end"] = list(os.getloadavg())
    results["auto_decoder"] = "opencv at full size, ffmpeg when resized"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    tmp_models.cleanup()


if __name__ == "__main__":
    main()
