r"""Which keypoints should the ``tta`` criterion compare? All, or the confident ones.

The ``tta`` outlier criterion scores a frame by the largest distance between a
keypoint's prediction on the frame and on copies augmented as the network trained
(:func:`posekit.engine.refinement.tta_augmentations`). A part the network was never
taught has a low likelihood everywhere and an argmax that wanders between copies, so
it can flag every frame; leaving out the points below the p-cutoff (the ``uncertain``
criterion's job) would stop that. This measures, on three base models of the
active-learning benchmarks, how well each variant ranks the frames the model gets
wrong (a point more than 10 px off), as ROC AUC, and which share of frames it flags
(over 10 px):

- ``all``: every keypoint (posekit's rule);
- ``both_confident``: keypoints at or above the p-cutoff in both predictions;
- ``base_confident``: keypoints at or above the p-cutoff on the frame as it is.

Datasets: the fly pool of ``fly_active_learning.py`` (1081 crops) with its base, the
demo base of ``active_learning.py`` (every 2nd frame of its video, 450) and the
openfield base with its pool (100 frames).

Usage::

    python benchmarks/tta_variants.py --fly-workdir /tmp/posekit-fly-al \
        --al-workdir /tmp/posekit-al

Writes ``benchmarks/results/tta_variants.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
RESULTS = REPO / "benchmarks" / "results" / "tta_variants.json"
VARIANTS = ("all", "both_confident", "base_confident")


def rank_variants(xyp, augmented, truth, pcutoff: float) -> dict:
    """Flag share and ROC AUC of each variant for the frames with a point > 10 px off.

    Parameters
    ----------
    xyp
        ``(N, K, 3)`` predictions on the frames.
    augmented
        ``(N, K, 3)`` predictions on each augmented copy, in the frames' pixels.
    truth
        ``(N, K, 2)`` labels (NaN: not labelled).
    pcutoff
        The p-cutoff of the confident variants.

    Returns
    -------
    dict
        ``miss_share`` and, per variant, ``flagged`` and ``roc_auc``.
    """
    from active_learning import frames_off
    from sklearn.metrics import roc_auc_score

    miss = frames_off(xyp, truth)
    out: dict = {"n_frames": len(miss), "miss_share": round(float(miss.mean()), 3)}
    for name in VARIANTS:
        worst = np.zeros(len(xyp))
        for aug in augmented:
            d = np.linalg.norm(xyp[..., :2] - aug[..., :2], axis=-1)
            if name == "both_confident":
                d = np.where((xyp[..., 2] >= pcutoff) & (aug[..., 2] >= pcutoff), d, 0)
            elif name == "base_confident":
                d = np.where(xyp[..., 2] >= pcutoff, d, 0)
            worst = np.maximum(worst, np.nan_to_num(d).max(axis=1))
        out[name] = {
            "flagged": round(float((worst > 10.0).mean()), 3),
            "roc_auc": round(float(roc_auc_score(miss, worst)), 3),
        }
    return out


def _measure(folder, images, truth, bodyparts, pcutoff: float) -> dict:
    from posekit.engine.refinement import predict_augmented, snapshot_tta_augmentations

    predictor = folder.predictor(batch_size=4)
    xyp = predictor(images)
    flip, scales = snapshot_tta_augmentations(folder)
    augmented = predict_augmented(predictor, images, bodyparts, (flip, scales))
    return {"flip": flip, "scales": list(scales)} | rank_variants(
        xyp, augmented, truth, pcutoff
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the variants on the three bases; write the JSON.

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
    parser.add_argument("--fly-workdir", type=Path, required=True)
    parser.add_argument("--al-workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import cv2
    from accuracy import load_fly
    from active_learning import _openfield_pool, _openfield_truth
    from fly_active_learning import _pool

    from posekit.engine._fileio import atomic_write_text
    from posekit.engine.demo import load_ground_truth
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.project import load_project
    from posekit.engine.video import VideoReader

    doc: dict = {"benchmark": "tta_variants", "variants": list(VARIANTS)}
    images, keypoints, _, _ = _pool(args.fly_workdir)
    (base,) = sorted((args.fly_workdir / "base").glob("snapshot-*.keras"))
    doc["fly"] = _measure(
        ModelFolder.at(base), images, keypoints, load_fly().bodyparts, 0.6
    )
    demo = json.loads((args.al_workdir / "demo" / "base.json").read_text())
    project = load_project(demo["project"])
    truth, _ = load_ground_truth(project, "session1")
    with VideoReader(project.videos()[0]) as reader:
        frames = [reader.read(i) for i in range(0, len(truth), 2)]
    doc["demo"] = _measure(
        ModelFolder.of(project, 1), frames, truth[::2], project.bodyparts,
        project.pcutoff,
    )  # fmt: skip
    base = json.loads((args.al_workdir / "openfield" / "base.json").read_text())
    truth_of = _openfield_truth()
    pool = _openfield_pool(base, truth_of)
    project = load_project(base["project"])
    images = [
        cv2.cvtColor(cv2.imread(str(project.path / f)), cv2.COLOR_BGR2RGB) for f in pool
    ]
    doc["openfield"] = _measure(
        ModelFolder.of(project, 1),
        images,
        np.stack([truth_of[f] for f in pool]),
        project.bodyparts,
        project.pcutoff,
    )
    atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    for name in ("fly", "demo", "openfield"):
        print(
            f"{name}: "
            + ", ".join(
                f"{v} AUC {doc[name][v]['roc_auc']:.2f} "
                f"(flags {doc[name][v]['flagged']:.0%})"
                for v in VARIANTS
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
