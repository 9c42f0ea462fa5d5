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

Then the behaviour app's classify step on the same session, each in a fresh child
process: train a classifier on 3,000 marked frames (30 bouts of 100 frames, 3
behaviours; 10 trees, cross-validated on 5 blocks), predict every frame, and find 6
motifs (Gaussian mixture on 10 PCA components):

- ``classify_whole``: what ``BehaviorModel`` did before: the session's whole
  feature array computed once and cached, each ``features(key)`` a DataFrame copy
  of it; train on its marked rows, predict it whole, fit the motifs on 20,000
  evenly spaced frames and label it whole;
- ``classify_chunked``: ``BehaviorModel.train``, ``predict`` and ``cluster`` now:
  the marked rows gathered chunk by chunk, predictions chunk by chunk, the motifs
  fitted on a sample of at most ``CLUSTER_SAMPLE_VALUES`` values (10 M: 2,700
  frames, every 40th, of 3,689 features) gathered chunk by chunk.

Memory is the child's peak resident set size (``ru_maxrss`` from ``os.wait4``),
beside that of a child that only imports, loads and cleans the session
(``load_only``: what every way of writing needs). The CSV of the whole table takes
minutes to format (400 M cells), so it is written only chunked and only with
``--csv``. Linux only (``os.wait4``).

Usage::

    python benchmarks/behavior_memory.py [--frames 108000] [--csv]
        [--only features|classify] [--no-classify-whole]

``--only`` measures one part and keeps the other's results in ``--out``.
``classify_whole`` peaks at 14 GB: ``--no-classify-whole`` leaves it out (and
keeps its result in ``--out``) on a machine with less memory free.
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
from typing import Any

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

_MARK = """
import time
import numpy as np
n = model.sessions[0].n_frames
key = model.track_keys()[0]
labels = np.full(n, model.background, dtype=object)
for k in range(30):  # 30 bouts of 100 frames, 3 behaviours
    start = k * (n // 30)
    labels[start : start + 100] = ("rest", "walk", "groom")[k % 3]
model.set_annotation(key, labels.astype(str))
TRAIN = dict(n_estimators=10, min_bout=3, n_splits=5, random_state=0)
CLUSTER = dict(n_motifs=6, method="gmm", n_components=10, random_state=0)
times, peaks, extra = {}, {}, {}
t0 = time.perf_counter()

def mark(step):
    import resource
    times[step] = round(time.perf_counter() - t0, 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    peaks[step] = round(rss / 1024, 1)
"""

_REPORT = """
import json
print(json.dumps({"steps_s": times, "steps_peak_rss_mb": peaks, **extra}))
"""

SCRIPTS = {
    "load_only": _LOAD,
    # the code before (commit 336dce9): BehaviorModel.features cached the
    # session's whole feature array and gave a DataFrame copy of it at each call
    "classify_whole": _LOAD
    + _MARK
    + """
import math
import pandas as pd
from posekit.engine.behavior.classify import (
    BehaviorClassifier, cross_validate_behavior,
)
from posekit.engine.behavior.cluster import BehaviorClusterer
from posekit.engine.behavior.features import compute_window_features
cache = compute_window_features(
    model.calibrated(model.sessions[0].name), windows=model.windows
)
def features():
    one = cache.isel(individual=0)
    return pd.DataFrame(
        np.asarray(one.values), columns=[str(f) for f in one["feature"].values]
    )
mark("features")
mask = model.annotations[key] != model.background
X, y = features()[mask], model.annotations[key][mask]
clf = BehaviorClassifier(
    n_estimators=TRAIN["n_estimators"], min_bout=TRAIN["min_bout"],
    background=model.background, random_state=0,
)
cross_validate_behavior(clf, X, y, n_splits=5, gap=max(model.windows))
clf.fit(X, y)
del X
mark("train")
pred = clf.predict(features())
mark("predict")
X = pd.concat([features()], ignore_index=True)
step = max(1, math.ceil(len(X) / 20_000))
clusterer = BehaviorClusterer(
    n_motifs=6, method="gmm", n_components=10, random_state=0
).fit(X.iloc[::step])
motifs = clusterer.predict(features())
mark("cluster")
"""
    + _REPORT,
    "classify_chunked": _LOAD
    + _MARK
    + """
model.train(**TRAIN)
mark("train")
model.predict()
mark("predict")
model.cluster(**CLUSTER)
mark("cluster")
extra["cluster_sample_frames"] = model.cluster_sample_frames
"""
    + _REPORT,
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


def run_child(argv: list[str], capture: bool = False) -> dict[str, Any]:
    """Run ``argv``; return its wall time (s) and peak resident set size (MB).

    With ``capture``, the child's last line of output (JSON: the seconds and the
    peak resident set size at the end of each step, ``steps_s`` and
    ``steps_peak_rss_mb``, and any other result) is added.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    result: dict[str, Any] = {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if capture and out.strip():
        result.update(json.loads(out.strip().splitlines()[-1]))
    return result


def main() -> None:
    """Measure each way of writing the table; print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=108_000)
    parser.add_argument("--csv", action="store_true", help="also write the CSV")
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/behavior_memory.json")
    )
    parser.add_argument("--only", choices=["features", "classify"])
    parser.add_argument(
        "--no-classify-whole",
        action="store_true",
        help="leave out classify_whole (14 GB at an hour)",
    )
    args = parser.parse_args()
    parts = {"features", "classify"} if args.only is None else {args.only}

    from posekit.engine.io import save

    python = sys.executable
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="behavior-memory-") as tmp:
        poses = save(synthetic_session(args.frames), Path(tmp) / "session.nc")
        runs: list[tuple[str, list[str], Path | None]] = [
            ("load_only", [python, "-c", SCRIPTS["load_only"], str(poses)], None)
        ]
        formats = [".h5", ".nc"] + ([".csv"] if args.csv else [])
        if "features" not in parts:
            formats = []
        for suffix in formats:
            out = Path(tmp) / f"chunked{suffix}"
            cli = [python, "-m", "posekit.engine.cli", "behavior", "features"]
            cli += [str(poses), "--windows", WINDOWS, "--out", str(out)]
            runs.append((f"chunked{suffix}", cli, out))
        for suffix in [".h5", ".nc"] if "features" in parts else []:
            out = Path(tmp) / f"whole{suffix}"
            runs.append(
                (
                    f"whole{suffix}",
                    [python, "-c", SCRIPTS["whole"], str(poses), str(out)],
                    out,
                )
            )
        if "classify" in parts:
            names = ["classify_chunked", "classify_whole"]
            for name in names[:1] if args.no_classify_whole else names:
                runs.append((name, [python, "-c", SCRIPTS[name], str(poses)], None))
        for name, argv, out in runs:
            results[name] = run_child(argv, capture=name.startswith("classify"))
            if out is not None:
                results[name]["file_mb"] = round(out.stat().st_size / 2**20, 1)
                out.unlink()
            print(name, results[name], flush=True)

    n_columns = 4 + 7 * (
        N_KEYPOINTS + 1 + N_KEYPOINTS * (N_KEYPOINTS - 1) // 2 + 1 + 2 * N_KEYPOINTS
    )
    previous = Path(args.out)
    keep = args.only is not None or args.no_classify_whole
    if keep and previous.exists():  # keep the runs not made now
        results = {**json.loads(previous.read_text())["runs"], **results}
    report = {
        "frames": args.frames,
        "fps": FPS,
        "bodyparts": N_KEYPOINTS,
        "windows": WINDOWS,
        "columns": n_columns,
        "table_float32_mb": round(args.frames * (n_columns - 4) * 4 / 2**20, 1),
        "runs": results,
        "classify": {
            "marked_frames": 3000,
            "behaviours": 3,
            "trees": 10,
            "motifs": 6,
            "cluster_sample_frames_whole": 20_000,
        },
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
