r"""Multi-animal accuracy: assembly (OKS mAP) and identity (switches, IDF1) on two sets.

- ``fly``: the SLEAP fly clip (``sleap-flies-clip``: 2 flies, 13 keypoints, 1500 frames
  of 1024×1024 with tracked identities) imported as a multi-animal project
  (:func:`posekit.engine.io.sleap.import_sleap`, every 5th frame: 300 frames). The
  recorded split keeps the last fifth of the clip (frames 1200–1499, 60 labelled
  frames) for testing: consecutive frames are nearly alike, so a random split would
  test on frames next to training ones. Training: posekit's defaults for a budget of
  CPU seconds (``TrainConfig(budget_clock="cpu", time_budget_s=1200)``: 20 minutes of
  CPU per core used). Reported: OKS mAP/mAR and matched errors on the 60 held-out
  frames; identity switches and IDF1 of the tracked whole clip (1500 frames) against
  the clip's own tracks.
- ``demo``: the synthetic 3-animal demo (``make_demo_project(n_animals=3)``, two
  videos of 2,000 frames: animals that cross and hide each other, exact identities in
  every frame). 100 frames of the first video are labelled (hidden parts left out),
  a fifth of them held out. Reported: the assembly mAP on the held-out frames, and on
  every frame of the second, never labelled, video tracked whole: the identity
  switches per 1,000 frames against the exact identities, and the per-frame mAP.

Usage::

    python benchmarks/multianimal_accuracy.py fly --phase train --out /tmp/ma-bench
    python benchmarks/multianimal_accuracy.py fly --phase evaluate --out /tmp/ma-bench
    python benchmarks/multianimal_accuracy.py demo --out /tmp/ma-bench  # both phases

Training resumes where it stopped (the time budget counts the resumed runs). Writes
(merging sets) ``benchmarks/results/multianimal_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "multianimal_accuracy.json"
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))

FLY_EVERY = 5
FLY_TEST_FROM = 1200


def fly_project(out: Path):
    """Import the fly clip (once) and record its split."""
    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.io.sleap import import_sleap
    from posekit.engine.project import load_project

    folder = out / "flies"
    if (folder / "config.yaml").is_file():
        return load_project(folder)
    clip = DATA / "sleap-flies-clip" / "clip.slp"
    project = import_sleap(clip, folder, every=FLY_EVERY, task="flies")
    test = [f"img{i:04d}.png" for i in range(FLY_TEST_FROM, 1500, FLY_EVERY)]
    create_training_dataset(project, test_frames=test)
    return project


DEMO_FRAMES = 2000
DEMO_LABELED = 100


def demo_project(out: Path):
    """Render the 3-animal demo (once): session1 labelled, session2 for tracking."""
    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.demo import make_demo_project

    project = make_demo_project(
        out / "demo3",
        n_animals=3,
        n_frames=DEMO_FRAMES,
        n_labeled=DEMO_LABELED,
        n_videos=2,
    )
    create_training_dataset(project)
    return project


def train(project, budget_s: float, clock: str) -> dict:
    """Train (or resume) shuffle 1 for the budget; return what it did."""
    from posekit.engine.api import train_network

    t0 = time.perf_counter()
    result = train_network(
        project,
        time_budget_s=budget_s,
        max_iterations=None,
        budget_clock=clock,
        progress=False,
        eval_interval=10**9,  # the test frames once, at the end (outside the budget)
    )
    return {
        "iterations": result.iteration,
        "stop_reason": result.stop_reason,
        "budget_s": budget_s,
        "budget_clock": clock,
        "wall_s_this_run": time.perf_counter() - t0,
        "snapshot": str(result.snapshot),
    }


def evaluate(project, name: str, out: Path) -> dict:
    """Held-out assembly accuracy, then a tracked video against its true tracks."""
    from posekit.engine.api import analyze_videos, evaluate_network
    from posekit.engine.multianimal.api import evaluate_tracks

    t0 = time.perf_counter()
    table = evaluate_network(project).iloc[0].to_dict()
    held_out = {
        "map": table["Test mAP"],
        "mar": table["Test mAR"],
        "mean_error_px": table["Test error(px)"],
        "rmse_px": table["Test RMSE(px)"],
        "train_map": table["Train mAP"],
        "train_mean_error_px": table["Train error(px)"],
        "iterations": int(table["Training iterations:"]),
        "seconds": time.perf_counter() - t0,
    }
    if name == "fly":
        video = project.path / "videos" / "clip.mp4"
        truth = DATA / "sleap-flies-clip" / "clip.slp"
    else:
        video = project.path / "videos" / "session2.mp4"  # never labelled
        truth = project.path / "ground-truth" / "session2_keypoints.h5"
    t0 = time.perf_counter()
    (tracks,) = analyze_videos(
        project, [video], destfolder=out / f"{name}-analysis", progress=False
    )
    analysis_s = time.perf_counter() - t0
    ident = evaluate_tracks(tracks, truth)
    ident.pop("assignment", None)
    ident["analysis_seconds"] = analysis_s
    ident["video"] = video.name
    ident["truth"] = truth.name
    ident["tracks_file"] = tracks.name
    return {"held_out": held_out, "tracked_video": ident}


def _merge(path: Path, name: str, entry: dict) -> dict:
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.setdefault("benchmark", "multianimal_accuracy")
    data["metric_note"] = (
        "map/mar: COCO OKS mAP/mAR (sigma 0.1, DeepLabCut's); mean_error_px: mean "
        "Euclidean distance after matching animals (DLC's 'RMSE'); rmse_px: root mean "
        "square; id_switches: CLEAR MOT IDSW at OKS >= 0.5; idf1: Ristani et al."
    )
    data["machine"] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    data.setdefault("sets", {})
    data["sets"].setdefault(name, {}).update(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set", choices=["fly", "demo"])
    parser.add_argument("--phase", choices=["train", "evaluate", "all"], default="all")
    parser.add_argument("--out", default="/tmp/posekit-multianimal-bench")
    parser.add_argument("--budget-s", type=float, default=1200.0)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    project = fly_project(out) if args.set == "fly" else demo_project(out)
    if args.phase in ("train", "all"):
        entry = {"training": train(project, args.budget_s, args.clock)}
        _merge(Path(args.json), args.set, entry)
        print(json.dumps(entry, indent=1, default=float))
    if args.phase in ("evaluate", "all"):
        entry = evaluate(project, args.set, out)
        _merge(Path(args.json), args.set, entry)
        print(json.dumps(entry, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
