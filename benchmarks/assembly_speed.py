r"""Assembly and tracking time per frame for 2, 3 and 10 animals (target: < 2 ms for 3).

What runs after the network on every frame of a multi-animal video, timed on maps a
perfect network would give: the synthetic demo's animals (6 bodyparts, every pair of
them a part-affinity edge: 15 edges) moving in an arena, their score maps, location
refinement and part-affinity fields made by the training targets at stride 8. Per
frame:

- ``peaks``: local maxima of the score maps (:func:`~posekit.engine.multianimal.peaks.find_peaks`);
- ``affinities``: the part-affinity line integrals of every candidate pair
  (:func:`~posekit.engine.multianimal.assembly.paf_costs`);
- ``assembly``: links and animals (:meth:`~posekit.engine.multianimal.assembly.Assembler.assemble`);
- ``tracking``: frame-to-frame tracklets (:func:`~posekit.engine.multianimal.tracking.track_animals`);
- ``stitching``: the min-cost flow over the whole video's tracklets, divided by the
  frames.

The assembly is checked too: the fraction of animals assembled with every keypoint
within 1 px of the truth. Times are CPU time of this process (mean per frame; the
tracking and the stitching of the whole video divided by its frames) and the median
wall-clock time of a frame.

Usage::

    python benchmarks/assembly_speed.py            # 300 frames per setting
    python benchmarks/assembly_speed.py --frames 100

Writes ``benchmarks/results/assembly_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "assembly_speed.json"

SETTINGS = [  # animals, frame (width, height)
    (2, (320, 240)),
    (3, (320, 240)),
    (10, (640, 480)),
]
STRIDE = 8.0


def _maps(kp: np.ndarray, edges, size: tuple[int, int]):
    """Perfect network outputs for each frame's animals ``kp (T, I, K, 2)``."""
    from posekit.engine.multianimal.targets import make_multianimal_targets

    h, w = int(np.ceil(size[1] / STRIDE)), int(np.ceil(size[0] / STRIDE))
    t = make_multianimal_targets(
        kp, edges, (h, w), stride=STRIDE, sigma=6.0, pos_dist_thresh=12.0, paf_width=6.0
    )
    return t.scoremap, t.locref, t.paf


def run(n_animals: int, size: tuple[int, int], n_frames: int, seed: int = 0) -> dict:
    """Time the pipeline for one setting."""
    from posekit.engine.multianimal.assembly import Assembler, AssemblyConfig, paf_costs
    from posekit.engine.multianimal.demo import simulate_social_session
    from posekit.engine.multianimal.graph import all_pairs
    from posekit.engine.multianimal.peaks import find_peaks
    from posekit.engine.multianimal.stitching import StitchConfig, stitch_tracklets
    from posekit.engine.multianimal.tracking import TrackingConfig, track_animals

    kp, _, _ = simulate_social_session(n_frames, n_animals, seed=seed, arena=size)
    edges = all_pairs(kp.shape[2])
    scmap, locref, paf = _maps(kp, edges, size)
    assembler = Assembler(AssemblyConfig(max_individuals=n_animals), edges, kp.shape[2])
    stages = ("peaks", "affinities", "assembly")
    cpu = {k: [] for k in stages}
    wall = {k: [] for k in stages}
    animals = []
    clock = (time.process_time, time.perf_counter)
    for f in range(n_frames):
        marks = [tuple(c() for c in clock)]
        (det,) = find_peaks(
            scmap[f : f + 1],
            locref[f : f + 1],
            stride=STRIDE,
            threshold=0.05,
            nms_radius=1,
            max_peaks=3 * n_animals,
        )
        marks.append(tuple(c() for c in clock))
        paf_costs(det, paf[f], edges, stride=STRIDE)
        marks.append(tuple(c() for c in clock))
        out = assembler.assemble(det)
        marks.append(tuple(c() for c in clock))
        for k, name in enumerate(stages):
            cpu[name].append(marks[k + 1][0] - marks[k][0])
            wall[name].append(marks[k + 1][1] - marks[k][1])
        animals.append(out.animals)
    c0, w0 = (c() for c in clock)
    tracklets = track_animals(animals, TrackingConfig())
    c1, w1 = (c() for c in clock)
    stitch_tracklets(tracklets, n_frames, StitchConfig(n_tracks=n_animals))
    c2, w2 = (c() for c in clock)
    cpu_ms = {k: 1000.0 * float(np.mean(v)) for k, v in cpu.items()}
    wall_ms = {k: 1000.0 * float(np.median(v)) for k, v in wall.items()}
    cpu_ms["tracking"] = 1000.0 * (c1 - c0) / n_frames
    cpu_ms["stitching"] = 1000.0 * (c2 - c1) / n_frames
    wall_ms["tracking"] = 1000.0 * (w1 - w0) / n_frames
    wall_ms["stitching"] = 1000.0 * (w2 - w1) / n_frames
    # correctness: animals whose every keypoint is within 1 px of a true animal's
    exact = found = 0
    for f, got in enumerate(animals):
        for a in got:
            d = np.linalg.norm(kp[f][:, :, :] - a[None, :, :2], axis=-1).max(axis=1)
            exact += bool(d.min() <= 1.0)
            found += 1
    cpu_ms["total"] = sum(cpu_ms.values())
    wall_ms["total"] = sum(wall_ms.values())
    return {
        "animals": n_animals,
        "frame_size": list(size),
        "bodyparts": int(kp.shape[2]),
        "edges": len(edges),
        "frames": n_frames,
        "map_shape": list(scmap.shape[1:3]),
        "per_frame_cpu_ms": cpu_ms,
        "per_frame_wall_ms_median": wall_ms,
        "animals_found_per_frame": found / n_frames,
        "exact_animal_fraction": exact / max(found, 1),
        "tracklets": len(tracklets),
    }


def main(argv: list[str] | None = None) -> int:
    """Run every setting, print a summary and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args(argv)
    rows = []
    for n, size in SETTINGS:
        row = run(n, size, args.frames)
        rows.append(row)
        ms = row["per_frame_cpu_ms"]
        print(
            f"{n:2d} animals {size[0]}x{size[1]}: {ms['total']:.3f} CPU ms/frame "
            f"(peaks {ms['peaks']:.3f}, affinities {ms['affinities']:.3f}, assembly "
            f"{ms['assembly']:.3f}, tracking {ms['tracking']:.3f}, stitching "
            f"{ms['stitching']:.3f}); exact animals {row['exact_animal_fraction']:.3f}"
        )
    out = {
        "benchmark": "assembly_speed",
        "note": (
            "time after the network, per frame, on the maps a perfect network gives "
            "(demo animals, 6 bodyparts, 15 edges, stride 8); target < 2 ms/frame "
            "for 3 animals. per_frame_cpu_ms: process CPU time (one thread; not "
            "slowed by other programs on a shared machine), the mean per frame; "
            "per_frame_wall_ms_median: the median wall-clock time of a frame"
        ),
        "target_ms_3_animals": 2.0,
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "load_average_1min": os.getloadavg()[0],
        },
        "settings": rows,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
