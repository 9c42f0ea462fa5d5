"""Chunked video analysis on a Dask LocalCluster: throughput, start-up cost, memory.

On this machine, in one run, on the openfield video (2330 frames, 640×480), with the
model ``posekit analyze`` would run by default (TFLite, int8 when within 0.2 px of
float, batch by frame size):

- decode-only frames/s (OpenCV) and the serial in-process analysis frames/s (the
  ceiling and the baseline);
- for 1 and 2 workers (one task thread each, the cores shared out among them) and
  chunks of 256 and 1024 frames: end-to-end frames/s from submitting the chunks to the
  ``.h5`` on disk (cluster start-up excluded; measured separately), and that the
  ``.h5`` equals the serial run's exactly;
- per worker: the time to start the worker process, to load the model in it (first
  chunk), its memory after the chunks, and what importing TensorFlow would add (a
  worker on the TFLite runtime never imports it; measured in a fresh interpreter).

Usage::

    python benchmarks/distributed.py --model benchmarks/results/openfield_model/every20

Writes ``benchmarks/results/distributed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# this script is named like the Dask package: import the package, not the script, and
# keep the benchmarks folder last on the path (the worker processes inherit it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import distributed  # noqa: E402

sys.path.append(str(HERE))
from video_fps import VIDEO, decode_only  # noqa: E402


def tensorflow_import_s() -> float:
    """Seconds to import TensorFlow (and Keras) in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); import tensorflow, keras; "
        "print(time.perf_counter() - t)"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _worker_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


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
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--chunks", default="256,1024")
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "distributed.json")
    )
    args = parser.parse_args(argv)

    import pandas as pd
    from openfield_int8 import copy_model, labelled_frames

    from posekit.engine.distributed import VideoJob, WorkerModel, analyze_chunked
    from posekit.engine.inference import analyze_video, default_batch_size
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.video import VideoReader

    video = Path(args.video)
    tmp = Path(tempfile.mkdtemp(prefix="posekit-distributed-"))
    folder = ModelFolder(copy_model(Path(args.model), tmp / "model"))
    with VideoReader(video) as reader:
        shape = (reader.height, reader.width)
    batch = default_batch_size(shape)
    model = folder.tflite_model(
        shape, batch, precision="auto", labelled_frames=labelled_frames(args.split)
    )
    scorer = folder.scorer()
    bodyparts = tuple(folder.model_config().bodyparts)
    doc = {
        "benchmark": "distributed",
        "video": video.name,
        "frame_size": [shape[1], shape[0]],
        "model": str(args.model),
        "precision": model.precision,
        "batch_size": batch,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": list(os.getloadavg()),
        "note": "frames/s from submitting the chunks to the .h5 written (cluster "
        "start-up excluded, reported per worker); one task thread per worker, the "
        "cores shared out among the workers of the machine",
    }
    decode_fps, _ = decode_only(video, 1.0, "opencv")
    doc["decode_only_fps"] = decode_fps
    doc["tensorflow_import_s"] = tensorflow_import_s()
    predictor = model.predictor()
    t0 = time.perf_counter()
    serial = analyze_video(
        predictor,
        video,
        scorer=scorer,
        bodyparts=bodyparts,
        destfolder=tmp / "serial",
        progress=False,
    )
    serial_s = time.perf_counter() - t0
    expected = pd.read_hdf(serial)
    doc["serial"] = {
        "frames": len(expected),
        "seconds": serial_s,
        "fps": len(expected) / serial_s,
        "fraction_of_decode": len(expected) / serial_s / decode_fps,
        "threads": predictor.num_threads,
    }
    print(
        f"decode only {decode_fps:.0f} frames/s; serial {doc['serial']['fps']:.0f} "
        f"frames/s ({model.precision}, batch {batch}); TensorFlow import "
        f"{doc['tensorflow_import_s']:.1f} s",
        flush=True,
    )
    doc["runs"] = []
    for n_workers in (int(v) for v in args.workers.split(",")):
        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.wait_for_workers(n_workers)
            start_s = time.perf_counter() - t0
            bare_rss = list(client.run(_worker_rss_mb).values())
            for chunk in (int(v) for v in args.chunks.split(",")):
                job = VideoJob(
                    video=video,
                    dest=tmp / f"w{n_workers}-c{chunk}",
                    model=WorkerModel(model, "", shape, batch),
                    scorer=scorer,
                    bodyparts=bodyparts,
                )
                results = []
                t0 = time.perf_counter()
                [out] = analyze_chunked(
                    [job],
                    client=client,
                    chunk_frames=chunk,
                    progress=False,
                    on_chunk=results.append,
                )
                seconds = time.perf_counter() - t0
                same = pd.read_hdf(out).equals(expected)
                loads = [r.load_s for r in results if r.load_s > 0]
                row = {
                    "workers": n_workers,
                    "chunk_frames": chunk,
                    "chunks": len(results),
                    "frames": sum(r.frames for r in results),
                    "seconds": seconds,
                    "fps": sum(r.frames for r in results) / seconds,
                    "fraction_of_decode": sum(r.frames for r in results)
                    / seconds
                    / decode_fps,
                    "vs_serial": seconds and serial_s / seconds,
                    "threads_per_worker": sorted({r.threads for r in results}),
                    "cluster_start_s": start_s,
                    "worker_start_s": start_s / n_workers,
                    "model_load_s": loads,
                    "bare_worker_rss_mb": bare_rss,
                    "worker_rss_mb_after": max(r.rss_mb for r in results),
                    "h5_equals_serial": bool(same),
                }
                doc["runs"].append(row)
                print(
                    f"{n_workers} worker(s), chunks of {chunk}: {row['fps']:.0f} "
                    f"frames/s ({100 * row['fraction_of_decode']:.0f}% of decode-only, "
                    f"{row['vs_serial']:.2f}x serial), cluster start {start_s:.1f} s, "
                    f"model load {max(loads, default=0):.2f} s, "
                    f"{row['worker_rss_mb_after']:.0f} MB per worker, identical: {same}",
                    flush=True,
                )
    doc["load_average_at_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
