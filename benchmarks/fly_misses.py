r"""Why the fly crops keep a few large misses: peaks near the label, and novelty.

For a trained snapshot of the accuracy benchmark's fly project
(``benchmarks/accuracy.py --project fly``), on its 25 test crops:

- every test point more than 10 px off, with the local maxima of its score map (cells
  higher than their 8 neighbours, score at least 0.05) and how far each is from
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
    from posekit.engine.multianimal.peaks import find_peaks
    from posekit.engine.novelty import backbone_features, fit_to_model_frames

    proj = load_fly()
    train, test = proj.split()
    model = load_pose_model(args.snapshot)
    cfg = model.pose_config
    misses, miss_frames = [], np.zeros(len(test), bool)
    for row, i in enumerate(test):
        out = model(proj.images[i][None].astype("float32"), training=False)
        (found,) = find_peaks(  # 3×3 local maxima, highest first, in frame pixels
            np.asarray(out["scoremap"]),
            np.asarray(out["locref"]),
            stride=cfg.head_stride,
            locref_stdev=cfg.locref_stdev,
            input_scale=cfg.input_scale,
            threshold=MIN_PEAK,
            nms_radius=1,
        )
        truth = proj.keypoints[i]
        for k, bodypart in enumerate(proj.bodyparts):
            xy, score = found.coordinates[k], found.confidence[k]
            if not np.isfinite(truth[k]).all() or not len(xy):
                continue
            dist = np.hypot(*(xy - truth[k]).T)
            if dist[0] <= MISS_PX:
                continue
            miss_frames[row] = True
            misses.append(
                {
                    "frame": proj.names[i],
                    "bodypart": bodypart,
                    "error_px": round(float(dist[0]), 1),
                    "score": round(float(score[0]), 3),
                    "other_peaks": [
                        {"distance_px": round(float(d), 1), "score": round(float(c), 3)}
                        for d, c in zip(dist[1:], score[1:], strict=True)
                    ],
                    "peak_within_10px_of_label": bool(dist.min() <= MISS_PX),
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
