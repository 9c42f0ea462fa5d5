r"""Why the fly crops keep a few large misses: peaks near the label, and novelty.

For a trained snapshot of the accuracy benchmark's fly project
(``benchmarks/accuracy.py --project fly``), on its 25 test crops:

- every test point more than 10 px off, with the local maxima of its score map (cells
  at least as high as their 8 neighbours, score above 0.05) and how far each is from
  the label. A miss with a maximum near the label could be recovered by choosing
  another peak (a skeleton constraint); one without cannot: the network does not see
  the part there;
- the ``novelty`` score of each test crop against the training crops
  (:mod:`posekit.engine.novelty`) and how well it ranks the crops with a miss (ROC
  AUC): whether outlier extraction would pick those frames for labelling.

Usage::

    python benchmarks/fly_misses.py SNAPSHOT.keras [--json PATH]

Writes ``benchmarks/results/fly_misses.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "fly_misses.json"
MISS_PX = 10.0
MIN_PEAK = 0.05


def peaks(scoremap: np.ndarray, locref: np.ndarray, k: int, cfg) -> list[tuple]:
    """Local maxima of bodypart ``k``'s map: ``(x, y, score)`` in frame pixels."""
    m = scoremap[..., k]
    padded = np.pad(m, 1, constant_values=-1.0)
    window = np.lib.stride_tricks.sliding_window_view(padded, (3, 3)).max(axis=(-1, -2))
    rows, cols = np.nonzero((m >= window) & (m > MIN_PEAK))
    stride, s = cfg.head_stride, cfg.input_scale
    out = []
    for r, c in zip(rows, cols, strict=True):
        u = c * stride + stride / 2 + locref[r, c, 2 * k] * cfg.locref_stdev
        v = r * stride + stride / 2 + locref[r, c, 2 * k + 1] * cfg.locref_stdev
        out.append(((u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5, float(m[r, c])))
    return sorted(out, key=lambda p: -p[2])


def main(argv: list[str] | None = None) -> int:
    """Report the misses and the novelty ranking; write the JSON.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (0).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from accuracy import load_fly
    from sklearn.metrics import roc_auc_score

    from posekit.engine._fileio import atomic_write_text
    from posekit.engine.models.pose_model import load_pose_model
    from posekit.engine.novelty import backbone_features, fit_to_model_frames

    proj = load_fly()
    train, test = proj.split()
    model = load_pose_model(args.snapshot)
    cfg = model.pose_config
    misses, miss_frames = [], np.zeros(len(test), bool)
    for row, i in enumerate(test):
        out = model(proj.images[i][None].astype("float32"), training=False)
        scoremap, locref = np.asarray(out["scoremap"])[0], np.asarray(out["locref"])[0]
        truth = proj.keypoints[i]
        for k, bodypart in enumerate(proj.bodyparts):
            found = peaks(scoremap, locref, k, cfg)
            if not np.isfinite(truth[k]).all() or not found:
                continue
            dist = [
                float(np.hypot(x - truth[k, 0], y - truth[k, 1])) for x, y, _ in found
            ]
            if dist[0] <= MISS_PX:
                continue
            miss_frames[row] = True
            misses.append(
                {
                    "frame": proj.names[i],
                    "bodypart": bodypart,
                    "error_px": round(dist[0], 1),
                    "score": round(found[0][2], 3),
                    "other_peaks": [
                        {"distance_px": round(d, 1), "score": round(p[2], 3)}
                        for d, p in zip(dist[1:], found[1:], strict=True)
                    ],
                    "peak_within_10px_of_label": bool(min(dist) <= MISS_PX),
                }
            )
    fitted = fit_to_model_frames(
        model, [proj.images[i] for i in train], batch_size=4, seed=0
    )
    novelty = fitted.score(
        backbone_features(model, [proj.images[i] for i in test], batch_size=4)
    )
    order = np.argsort(-novelty)
    doc = {
        "benchmark": "fly_misses",
        "snapshot": str(args.snapshot),
        "project": proj.note,
        "n_test_frames": len(test),
        "misses": misses,
        "n_misses": len(misses),
        "n_misses_with_a_peak_near_the_label": sum(
            m["peak_within_10px_of_label"] for m in misses
        ),
        "n_frames_with_a_miss": int(miss_frames.sum()),
        "novelty_roc_auc_frames_with_a_miss": float(
            roc_auc_score(miss_frames, novelty)
        ),
        "novelty_threshold": 1.5,
        "frames_with_a_miss_above_threshold": int((novelty[miss_frames] > 1.5).sum()),
        "frames_without_a_miss_above_threshold": int(
            (novelty[~miss_frames] > 1.5).sum()
        ),
        "novelty_ranking": [
            {
                "frame": proj.names[test[j]],
                "novelty": round(float(novelty[j]), 3),
                "has_miss": bool(miss_frames[j]),
            }
            for j in order
        ],
    }
    print(
        f"{len(misses)} misses > {MISS_PX:g} px, "
        f"{doc['n_misses_with_a_peak_near_the_label']} with a peak near the label; "
        f"novelty ROC AUC for the {doc['n_frames_with_a_miss']} frames with a miss: "
        f"{doc['novelty_roc_auc_frames_with_a_miss']:.2f}"
    )
    atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
