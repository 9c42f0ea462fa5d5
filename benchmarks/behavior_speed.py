"""Behaviour pipeline speed: one hour at 30 fps, two animals, eight keypoints.

Synthetic tracking (108,000 frames × 2 animals × 8 keypoints, with low-likelihood bursts)
goes through the stages a behaviour analysis runs, timed separately:

1. cleaning: likelihood threshold → gap interpolation (≤ 10 frames) → Savitzky–Golay;
2. kinematics: speed of every keypoint, body heading, a joint angle, inter-animal
   distance;
3. ROI events: occupancy of a rectangle and a polygon, per-animal summary and bouts;
4. windowed features: base features and rolling mean/std over 3 windows.

Each stage runs ``--repeats`` times; the median is reported (the machine is shared).
The target is under 2 s in total on 2 cores. The median filter (another smoother) is
timed too, for reference, outside the total.

Usage::

    python benchmarks/behavior_speed.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
KEYPOINTS = [
    "snout",
    "leftear",
    "rightear",
    "neck",
    "spine1",
    "spine2",
    "tailbase",
    "tailtip",
]
# body-frame offsets (forward, left) in px of each keypoint
BODY = np.array(
    [[30, 0], [20, 7], [20, -7], [15, 0], [5, 0], [-5, 0], [-15, 0], [-40, 0]],
    dtype=float,
)


def synthetic_session(n_frames: int, n_animals: int = 2, seed: int = 0):
    """Smooth random walks in a 640×480 arena with realistic tracking defects."""
    from posekit.engine.poses import from_numpy

    rng = np.random.default_rng(seed)
    pos = np.empty((n_frames, 2, len(KEYPOINTS), n_animals))
    conf = np.empty((n_frames, len(KEYPOINTS), n_animals))
    for a in range(n_animals):
        # heading: integrated smoothed noise; speed: positive smoothed noise
        turn = np.convolve(rng.normal(0, 0.05, n_frames), np.ones(15) / 15, "same")
        theta = np.cumsum(turn) + rng.uniform(-np.pi, np.pi)
        speed = (
            np.abs(np.convolve(rng.normal(0, 3, n_frames), np.ones(30) / 30, "same"))
            * 4
        )
        step = np.c_[np.cos(theta), np.sin(theta)] * speed[:, None]
        centre = np.cumsum(step, axis=0) + [320, 240]
        # reflect into the arena (vectorised triangle wave)
        for d, size in enumerate((560.0, 400.0)):
            c = np.mod(centre[:, d] - 40, 2 * size)
            centre[:, d] = 40 + np.where(c > size, 2 * size - c, c)
        fwd = np.c_[np.cos(theta), np.sin(theta)]
        left = np.c_[fwd[:, 1], -fwd[:, 0]]
        xy = (
            centre[:, None, :]
            + BODY[None, :, :1] * fwd[:, None]
            + BODY[None, :, 1:] * left[:, None]
        )
        pos[:, :, :, a] = (xy + rng.normal(0, 0.7, xy.shape)).transpose(0, 2, 1)
        c = rng.beta(8, 1.2, size=(n_frames, len(KEYPOINTS)))
        # occlusion bursts: 300 bursts of 2-40 frames with low likelihood
        starts = rng.integers(0, n_frames - 40, 300)
        lengths = rng.integers(2, 40, 300)
        kps = rng.integers(0, len(KEYPOINTS), 300)
        for s, n, k in zip(starts, lengths, kps, strict=True):
            c[s : s + n, k] = rng.uniform(0, 0.3, n)
        conf[:, :, a] = c
    return from_numpy(
        pos,
        conf,
        keypoint_names=KEYPOINTS,
        individual_names=[f"mouse{i + 1}" for i in range(n_animals)],
        fps=FPS,
        source_software="synthetic",
    )


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[float], list[float]]:
    """Wall-clock and CPU seconds of ``repeats`` calls (the last result is returned)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        out = None  # free the previous result first, as a pipeline would
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return out, wall, cpu


def main() -> None:
    """Time each stage on a synthetic session, print the medians and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=108_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/behavior_speed.json")
    )
    args = parser.parse_args()

    from posekit.engine.behavior import (
        PolygonROI,
        RectangleROI,
        compute_heading,
        compute_interindividual_distances,
        compute_joint_angle,
        compute_roi_occupancy,
        compute_speed,
        compute_window_features,
        filter_by_confidence,
        filter_median,
        filter_savgol,
        interpolate_gaps,
        roi_bouts,
        roi_summary,
    )

    ds = synthetic_session(args.frames)
    rois = [
        RectangleROI("left_box", 40, 40, 240, 440),
        PolygonROI(
            "corner", ((420, 40), (600, 40), (600, 200), (500, 260), (420, 160))
        ),
    ]
    windows = (5, 15, 45)

    def cleaning():
        out = filter_by_confidence(ds, threshold=0.6)
        out = interpolate_gaps(out, max_gap=10)
        return filter_savgol(out, window=7, polyorder=2)

    load_before = [round(x, 2) for x in os.getloadavg()]
    clean, *t_clean = timed(cleaning, args.repeats)
    pos = clean.position

    def kinematics():
        return (
            compute_speed(pos),
            compute_heading(pos, "tailbase", "neck"),
            compute_joint_angle(pos, "snout", "neck", "tailbase"),
            compute_interindividual_distances(pos),
        )

    def roi_events():
        occ = compute_roi_occupancy(clean, rois)
        return roi_summary(occ), roi_bouts(occ)

    def features():
        return compute_window_features(
            clean,
            windows=windows,
            heading=("tailbase", "neck"),
            joint_angles=[("snout", "neck", "tailbase")],
        )

    kin, *t_kin = timed(kinematics, args.repeats)
    (summary, bouts), *t_roi = timed(roi_events, args.repeats)
    feats, *t_feat = timed(features, args.repeats)
    _, t_median, _ = timed(
        lambda: filter_median(filter_by_confidence(ds, threshold=0.6)), 3
    )

    stages = {
        "cleaning": t_clean,
        "kinematics": t_kin,
        "roi_events": t_roi,
        "window_features": t_feat,
    }
    med = {k: statistics.median(v[0]) for k, v in stages.items()}
    best = {k: min(v[0]) for k, v in stages.items()}
    cpu = {k: statistics.median(v[1]) for k, v in stages.items()}
    total = sum(med.values())
    missing_before = float(
        np.isnan(filter_by_confidence(ds, threshold=0.6).position).mean()
    )
    missing_after = float(np.isnan(pos).mean())
    results = {
        "benchmark": "behavior_speed",
        "frames": args.frames,
        "fps": FPS,
        "animals": ds.sizes["individual"],
        "keypoints": ds.sizes["keypoint"],
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "repeats": args.repeats,
        "stage_median_s": {k: round(v, 4) for k, v in med.items()},
        "stage_best_s": {k: round(v, 4) for k, v in best.items()},
        "total_median_s": round(total, 4),
        "total_best_s": round(sum(best.values()), 4),
        "stage_median_cpu_s": {k: round(v, 4) for k, v in cpu.items()},
        "total_median_cpu_s": round(sum(cpu.values()), 4),
        "target_s": 2.0,
        "meets_target": total < 2.0,
        "reference_median_filter_s": round(statistics.median(t_median), 4),
        "details": {
            "cleaning": "confidence < 0.6 -> NaN; interpolate gaps <= 10 frames; "
            "Savitzky-Golay window 7, order 2",
            "missing_after_threshold": round(missing_before, 4),
            "missing_after_interpolation": round(missing_after, 4),
            "kinematics": "speed (8 keypoints x 2), heading tailbase->neck, angle "
            "snout-neck-tailbase, centroid distance between animals",
            "roi": [r.name for r in rois],
            "roi_bouts": len(bouts),
            "window_features": {
                "windows": list(windows),
                "families": feats.attrs["families"],
                "n_features": feats.sizes["feature"],
                "dtype": str(feats.dtype),
                "shape": list(feats.shape),
            },
        },
    }
    print(f"load average before: {load_before}")
    for k in stages:
        print(
            f"{k:16s} wall median {med[k]:6.3f} s  best {best[k]:6.3f} s  cpu {cpu[k]:6.3f} s"
        )
    print(
        f"{'total':16s} wall median {total:6.3f} s  best {sum(best.values()):6.3f} s  "
        f"cpu {sum(cpu.values()):6.3f} s  (target < 2 s: {'met' if total < 2.0 else 'NOT met'})"
    )
    print(
        f"median filter (reference): {results['reference_median_filter_s']:.3f} s; "
        f"features {feats.shape} {feats.dtype}; load average after "
        f"{results['load_average_after']}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    del kin, summary


if __name__ == "__main__":
    main()
