r"""How noisy are the labels? Bounds on the human labelling error of the benchmark projects.

A network can reproduce its training labels more closely than the labeller could place
them (it learns the labeller's slips), but on new frames it is measured against labels
with the same slips: its test error cannot fall below the labelling error, while its
train error can. This script bounds that error from the labels themselves:

- **openfield** (``openfield-Pranav-2018-10-30``, 116 frames, one labeller): the
  distance between the two ears of a mouse seen from above hardly changes (a rigid
  skull; the ears move a little), so its spread over the labelled frames is at most the
  labelling noise along the ear–ear axis: with independent isotropic noise of ``σ`` px
  per axis on each point, ``var(d) = var_true(d) + 2σ²``, hence ``σ ≤ std(d) / √2``.
  With ``--model`` (a trained snapshot), the ears predicted on the project's video give
  ``std_pred(d)² = var_true(d) + 2σ_pred²``, hence a *lower* bound
  ``σ ≥ sqrt((std(d)² − std_pred(d)²) / 2)`` (if the animal's true ear distance varies
  as much in the video as in the labelled frames; the video is another session).
- **fly** (``sleap-flies-clip``: every frame of 1,500 labelled): distances between
  rigid parts (head–thorax, the eyes) change little between consecutive frames
  (1/150 s), so the spread of their frame-to-frame change bounds the noise:
  ``var(Δd) = var_true(Δd) + 4σ²``, hence ``σ ≤ std(Δd) / 2``.

The mean Euclidean distance between a label with isotropic Gaussian noise ``σ`` per
axis and the true point is ``σ √(π/2) ≈ 1.25 σ``: the error a perfect network would
show against those labels (DeepLabCut's "RMSE").

Usage::

    python benchmarks/labelling_noise.py [--model SNAPSHOT.keras]

Writes ``benchmarks/results/labelling_noise.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results" / "labelling_noise.json"
#: Mean Euclidean norm of a 2-D isotropic Gaussian with unit σ per axis.
MEAN_NORM_PER_SIGMA = math.sqrt(math.pi / 2)


def openfield_ears(data: Path) -> dict:
    """Ear–ear distance spread of the openfield labels: an upper bound on the noise."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from openfield_accuracy import load_openfield

    _, xy, _, bodyparts = load_openfield(data)
    left, right = bodyparts.index("leftear"), bodyparts.index("rightear")
    d = np.linalg.norm(xy[:, left] - xy[:, right], axis=-1)
    d = d[np.isfinite(d)]
    std = float(np.std(d, ddof=1))
    sigma_max = std / math.sqrt(2)
    return {
        "frames": len(d),
        "ear_distance_mean_px": float(d.mean()),
        "ear_distance_std_px": std,
        "sigma_per_axis_at_most_px": sigma_max,
        "label_error_at_most_px": sigma_max * MEAN_NORM_PER_SIGMA,
    }


def openfield_video_ears(data: Path, model: Path, every: int, pcutoff: float) -> dict:
    """Ear–ear distance spread predicted on the video: with the labels, a lower bound."""
    from posekit.engine.inference import KerasPredictor
    from posekit.engine.models.pose_model import load_pose_model
    from posekit.engine.video import VideoReader

    net = load_pose_model(model)
    names = list(net.bodyparts)
    left, right = names.index("leftear"), names.index("rightear")
    predict = KerasPredictor(net, batch_size=8)
    videos = sorted((data / "openfield-Pranav-2018-10-30" / "videos").glob("*.mp4"))
    frames = []
    with VideoReader(videos[0]) as reader:
        for i in range(0, len(reader), every):
            frames.append(reader[i])
    pred = predict(frames)
    ok = (pred[:, left, 2] >= pcutoff) & (pred[:, right, 2] >= pcutoff)
    d = np.linalg.norm(pred[ok, left, :2] - pred[ok, right, :2], axis=-1)
    return {
        "video": videos[0].name,
        "frames": len(frames),
        "confident_frames": int(ok.sum()),
        "ear_distance_mean_px": float(d.mean()),
        "ear_distance_std_px": float(np.std(d, ddof=1)),
    }


def fly_rigid_parts(data: Path) -> dict:
    """Frame-to-frame change of rigid distances in the fly labels: an upper bound."""
    import sleap_io as sio

    labels = sio.load_slp(str(data / "sleap-flies-clip" / "clip.slp"))
    names = list(labels.skeletons[0].node_names)
    out = {}
    for track in labels.tracks:
        pts = {}
        for lf in labels.labeled_frames:
            inst = [i for i in lf.instances if i.track is track]
            if inst:
                pts[lf.frame_idx] = inst[0].numpy()
        idx = np.array(sorted(pts))
        xy = np.stack([pts[i] for i in idx])
        consecutive = np.diff(idx) == 1
        pairs = {}
        for a, b in (("head", "thorax"), ("eyeL", "eyeR"), ("head", "eyeL")):
            d = np.linalg.norm(xy[:, names.index(a)] - xy[:, names.index(b)], axis=-1)
            step = np.diff(d)[consecutive]
            step = step[np.isfinite(step)]
            pairs[f"{a}-{b}"] = float(np.std(step, ddof=1)) / 2
        sigma_max = min(pairs.values())
        out[track.name or f"track{len(out)}"] = {
            "frames": len(idx),
            "sigma_per_axis_at_most_px_by_pair": pairs,
            "sigma_per_axis_at_most_px": sigma_max,
            "label_error_at_most_px": sigma_max * MEAN_NORM_PER_SIGMA,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Compute the bounds and write the JSON.

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
    parser.add_argument("--model", type=Path, help="openfield snapshot (.keras)")
    parser.add_argument("--every", type=int, default=5, help="video frame step")
    parser.add_argument("--pcutoff", type=float, default=0.6)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from posekit.engine._fileio import atomic_write_text

    doc = json.loads(args.json.read_text()) if args.json.exists() else {}
    doc["note"] = (
        "sigma: labelling noise per axis (px); label_error: its mean Euclidean "
        "size, sigma*sqrt(pi/2), the mean error a perfect network would show "
        "against these labels"
    )
    of = openfield_ears(DATA)
    if args.model is not None:
        video = openfield_video_ears(DATA, args.model, args.every, args.pcutoff)
        of["video_prediction"] = {"model": args.model.name, **video}
        gap = of["ear_distance_std_px"] ** 2 - video["ear_distance_std_px"] ** 2
        sigma_min = math.sqrt(max(gap, 0.0) / 2)
        of["sigma_per_axis_at_least_px"] = sigma_min
        of["label_error_at_least_px"] = sigma_min * MEAN_NORM_PER_SIGMA
    elif isinstance(doc.get("openfield"), dict):  # keep an earlier model's bound
        for key in ("video_prediction", "sigma_per_axis_at_least_px"):
            if key in doc["openfield"]:
                of[key] = doc["openfield"][key]
        if "sigma_per_axis_at_least_px" in of:
            of["label_error_at_least_px"] = (
                of["sigma_per_axis_at_least_px"] * MEAN_NORM_PER_SIGMA
            )
    doc["openfield"] = of
    doc["fly"] = fly_rigid_parts(DATA)
    atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
