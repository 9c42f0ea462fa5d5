"""Peak memory of ``posekit behavior features``: one hour, 30 bodyparts (Binder: 2 GB).

A synthetic session (108,000 frames at 30 fps, one animal, 30 bodyparts, NaN gaps)
is saved as a poses file; its feature table (30 speeds + the centroid's, 435
distances, the heading's angular velocity, 60 egocentric coordinates: 527 base
features, and their rolling mean and std over 5, 15 and 45 frames: 3,689 float32
columns, 1.6 GB) is written by, each in a fresh child process:

- ``whole``: the table built whole in memory, then written
  (``BehaviorModel.features_table`` + ``save_table``: what the command did before
  it wrote in chunks, and what notebooks get);
- ``chunked``: the command itself (``posekit behavior features … --out``), which
  computes and writes chunk by chunk of frames
  (``BehaviorModel.write_features_table``).

Memory is the child's peak resident set size (``ru_maxrss`` from ``os.wait4``),
beside that of a child that only imports, loads and cleans the session
(``load_only``: what every way of writing needs). The CSV of the whole table takes
minutes to format (400 M cells), so it is written only chunked and only with
``--csv``. Linux only (``os.wait4``).

Usage::

    python benchmarks/behavior_memory.py [--frames 108000] [--csv]
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
N_KEYPOINTS = 30
WINDOWS = "5,15,45"

_LOAD = """
import sys
import numpy as np
from posekit.engine.behavior.session import BehaviorModel
model = BehaviorModel(windows=(5, 15, 45))
model.load([sys.argv[1]])
model.set_calibration(30.0)
model.calibrated(model.sessions[0].name)
"""

SCRIPTS = {
    "load_only": _LOAD,
    "whole": _LOAD
    + """
from posekit.engine.behavior.export import save_table
from posekit.engine.cli.behavior import FEATURES_FLOAT_FORMAT
table = model.features_table(dtype=np.float32)
save_table(table, sys.argv[2], float_format=FEATURES_FLOAT_FORMAT)
""",
}


def synthetic_session(n_frames: int, seed: int = 0):
    """One animal, 30 bodyparts along a wavy body, random walk, NaN gaps."""
    from posekit.engine.poses import from_numpy

    rng = np.random.default_rng(seed)
    theta = np.cumsum(rng.normal(0, 0.05, n_frames))
    centre = np.cumsum(rng.normal(0, 1.5, (n_frames, 2)), axis=0)
    centre = 300 + 250 * np.sin(centre / 500)  # stays in the arena
    axis = np.c_[np.cos(theta), np.sin(theta)]
    normal = np.c_[-axis[:, 1], axis[:, 0]]
    along = np.linspace(30, -40, N_KEYPOINTS)
    side = 5 * np.sin(np.arange(N_KEYPOINTS))
    pos = (
        centre[:, None, :]
        + along[None, :, None] * axis[:, None]
        + side[None, :, None] * normal[:, None]
    )
    pos = pos + rng.normal(0, 0.7, pos.shape)
    for s, n, k in zip(
        rng.integers(0, n_frames - 40, 300),
        rng.integers(2, 40, 300),
        rng.integers(0, N_KEYPOINTS, 300),
        strict=True,
    ):
        pos[s : s + n, k] = np.nan
    conf = np.where(np.isnan(pos[..., 0]), 0.0, 0.95)[..., None]
    return from_numpy(
        pos.transpose(0, 2, 1)[..., None],
        conf,
        keypoint_names=[f"bp{i:02d}" for i in range(N_KEYPOINTS)],
        individual_names=["mouse"],
        fps=FPS,
        source_software="synthetic",
    )


def run_child(argv: list[str]) -> dict[str, float]:
    """Run ``argv``; return its wall time (s) and peak resident set size (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    """Measure each way of writing the table; print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=108_000)
    parser.add_argument("--csv", action="store_true", help="also write the CSV")
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/behavior_memory.json")
    )
    args = parser.parse_args()

    from posekit.engine.io import save

    python = sys.executable
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="behavior-memory-") as tmp:
        poses = save(synthetic_session(args.frames), Path(tmp) / "session.nc")
        runs: list[tuple[str, list[str], Path | None]] = [
            ("load_only", [python, "-c", SCRIPTS["load_only"], str(poses)], None)
        ]
        formats = [".h5", ".nc"] + ([".csv"] if args.csv else [])
        for suffix in formats:
            out = Path(tmp) / f"chunked{suffix}"
            cli = [python, "-m", "posekit.engine.cli", "behavior", "features"]
            cli += [str(poses), "--windows", WINDOWS, "--out", str(out)]
            runs.append((f"chunked{suffix}", cli, out))
        for suffix in [".h5", ".nc"]:
            out = Path(tmp) / f"whole{suffix}"
            runs.append(
                (
                    f"whole{suffix}",
                    [python, "-c", SCRIPTS["whole"], str(poses), str(out)],
                    out,
                )
            )
        for name, argv, out in runs:
            results[name] = run_child(argv)
            if out is not None:
                results[name]["file_mb"] = round(out.stat().st_size / 2**20, 1)
                out.unlink()
            print(name, results[name], flush=True)

    n_columns = 4 + 7 * (
        N_KEYPOINTS + 1 + N_KEYPOINTS * (N_KEYPOINTS - 1) // 2 + 1 + 2 * N_KEYPOINTS
    )
    report = {
        "frames": args.frames,
        "fps": FPS,
        "bodyparts": N_KEYPOINTS,
        "windows": WINDOWS,
        "columns": n_columns,
        "table_float32_mb": round(args.frames * (n_columns - 4) * 4 / 2**20, 1),
        "runs": results,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
