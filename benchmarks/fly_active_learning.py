r"""Active learning on real data: the fly crops' misses, 20 frames by outlier selection.

The accuracy benchmark's fly project (``benchmarks/accuracy.py --project fly``: 100
training and 25 test crops of the SLEAP fly clip, every 12th frame) keeps 11 test points
more than 10 px off with the default network, all leg tips, the worst 54.9 px
(``fly_misses.py``: the network does not see those legs). The clip has every one of its
1500 frames labelled, so labelling more frames can be simulated exactly, as in
``active_learning.py``: a picked frame's labels are revealed.

Protocol (fixed before the first run; ``--n``, ``--budget`` and ``--seeds`` are its
defaults):

- **Base**: a snapshot of the accuracy benchmark's default fly run (Lite0, 900 CPU-s
  per core), passed as ``--base``.
- **Pool**: the clip's frames that are not in the benchmark project and are more than
  ``GAP`` = 6 frames from each of its test frames (no near-copy of a test crop can be
  picked), cropped as the project is (jitter seed 1).
- **Arms**, for seeds 0, 1 and 2: ``outlier`` picks 20 pool crops with the per-frame
  criteria of outlier extraction (``uncertain``, ``tta``, ``novelty`` against the
  training crops) and k-means (``active_learning.pick_outliers``) on thumbnails of
  crops centred on the fly (the crops' own jitter would make k-means sort by offset);
  ``random`` picks 20 uniformly. One ``control`` arm adds no frame. Each arm fine-tunes
  the base's weights with the base's recipe (``continuation_configs``, as
  ``merge_datasets`` + ``train_network`` do) for 300 CPU-s per core on the 100
  training crops plus its picks.
- **Amended before any arm's result was read**: the ``tta`` criterion compares the
  crops with mirrored copies, but the base never trained on mirrored crops, and on the
  pool this flagged every crop and ranked the base's misses worse than chance
  (``criteria_on_pool`` in the JSON). ``tta`` now uses only the augmentations the
  network trained with (``refinement.tta_augmentations``: here the 0.8× and 1.25×
  copies). The first outlier arm (seed 0), selected with mirrored copies, was run
  again; the run with mirrored copies is kept as ``outlier_mirror-0``.
- **Measured**: the 25 test crops with the accuracy benchmark's metrics (mean error,
  the worst point against 10 % of the 192 px crop, points more than 10 px off,
  confident misses); and the held-out pool: the pool crops more than ``GAP`` frames
  from every frame either arm of the seed picked (mean, 95th percentile, share of
  crops with a point more than 10 px off).
- **Expected before running**: outlier selection leaves fewer test points more than
  10 px off and a lower held-out 95th percentile than random in every seed, and both
  beat the control (extra training alone).

Usage (steps write into ``--workdir`` and are skipped when done)::

    python benchmarks/accuracy.py --project fly --out /tmp/acc   # the base
    python benchmarks/fly_active_learning.py all --base /tmp/acc/fly/default/snapshot-N.keras \
        --workdir /tmp/posekit-fly-al
    python benchmarks/fly_active_learning.py report --workdir /tmp/posekit-fly-al

Writes ``benchmarks/results/fly_active_learning.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
RESULTS = REPO / "benchmarks" / "results" / "fly_active_learning.json"
EVERY, GAP, N_ADD = 12, 6, 20
ARMS = ("outlier", "random", "control")


def pool_frames() -> list[int]:
    """List the clip frames an arm may pick: not in the project, not near a test crop.

    Returns
    -------
    list of int
        Frame indices.

    Examples
    --------
    >>> frames = pool_frames()
    >>> 0 in frames, 6 in frames, 7 in frames, 12 in frames  # 0: a test crop
    (False, False, True, False)
    """
    from accuracy import FLY_FRAMES

    project = set(range(0, FLY_FRAMES, EVERY))
    test = range(0, FLY_FRAMES, EVERY * 5)
    return [
        f
        for f in range(FLY_FRAMES)
        if f not in project and all(abs(f - t) > GAP for t in test)
    ]


def _pool(work: Path):
    """Pool crops, and the thumbnails of crops centred on the fly (for k-means)."""
    from accuracy import fly_crops

    from posekit.engine.refinement import frame_features

    cache = work / "pool.npz"
    if not cache.exists():
        images, kps, names, _ = fly_crops(pool_frames(), seed=1)
        centred, _, _, _ = fly_crops(pool_frames(), jitter=0.0)
        tmp = work / "pool.tmp.npz"
        np.savez(
            tmp,
            images=np.stack(images),
            keypoints=kps,
            names=np.array(names),
            features=frame_features(centred),
        )
        os.replace(tmp, cache)
    z = np.load(cache)
    return (
        list(z["images"]),
        z["keypoints"],
        [str(n) for n in z["names"]],
        z["features"],
    )


def _predict(snapshot: Path, images) -> np.ndarray:
    from posekit.engine.model_folder import ModelFolder

    return ModelFolder.at(snapshot).predictor(batch_size=8, snapshot=snapshot)(images)


def run_arm(work: Path, base: Path, arm: str, seed: int, budget: float) -> dict:
    """Pick (or not) 20 pool crops, fine-tune the base on them, evaluate."""
    from accuracy import BenchProject, evaluate, load_fly
    from active_learning import pick_outliers

    from posekit.engine.api import continuation_configs
    from posekit.engine.dataset import symmetric_pairs
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.models.pose_model import load_pose_model
    from posekit.engine.training import Trainer

    proj = load_fly()
    tr, _ = proj.split()
    images, kps, names, features = _pool(work)
    t0 = time.perf_counter()
    info: dict = {}
    if arm == "outlier":
        chosen, _, info = pick_outliers(
            ModelFolder.at(base),
            images,
            [proj.images[i] for i in tr],
            proj.bodyparts,
            proj.pcutoff,
            N_ADD,
            seed,
            features=features,
        )
        chosen = sorted(int(i) for i in chosen)
    elif arm == "random":
        chosen = sorted(
            int(i) for i in np.random.default_rng(seed).choice(len(names), N_ADD, False)
        )
    else:
        chosen = []
    select_s = time.perf_counter() - t0
    grown = BenchProject(
        proj.name,
        proj.images + [images[i] for i in chosen],
        np.concatenate([proj.keypoints, kps[chosen].reshape(-1, *kps.shape[1:])]),
        proj.names + [names[i] for i in chosen],
        proj.bodyparts,
        proj.test_names,
        proj.pcutoff,
        proj.note + f" + {len(chosen)} pool crops ({arm})",
    )
    model_config, train_config = continuation_configs(base)
    train_config = dataclasses.replace(
        train_config,
        max_iterations=None,
        time_budget_s=budget,
        budget_clock="cpu",
        save_interval=0,
        save_interval_s=None,
        seed=seed,
    )
    trainer = Trainer(
        model_config,
        train_config,
        work / f"{arm}-{seed}",
        flip_pairs=symmetric_pairs(proj.bodyparts),
        progress=False,
        init_weights=base,
    )
    tr2, _ = grown.split()
    state = trainer.fit(
        [grown.images[i] for i in tr2], grown.keypoints[tr2], resume=False
    )
    model = load_pose_model(state.last_snapshot)
    return {
        "arm": arm,
        "seed": seed,
        "base": str(base),
        "picked": [names[i] for i in chosen],
        "selection_s": round(select_s, 1),
        "snapshot": str(state.last_snapshot),
        "iterations": state.iteration,
        "training_cpu_s_per_core": state.elapsed_cpu_s,
        **info,
        **{k: v for k, v in evaluate(model, grown).items() if k != "test_predictions"},
    }


def _held_out(names: list[str], picked: set[str]) -> np.ndarray:
    """Pool positions more than GAP frames from every picked frame."""
    idx = np.array([int(n[5:]) for n in names])
    near = np.array([int(p[5:]) for p in picked])
    if not len(near):
        return np.arange(len(names))
    return np.flatnonzero(np.abs(idx[:, None] - near[None]).min(axis=1) > GAP)


def criteria_on_pool(work: Path, base: Path, images, keypoints) -> dict:
    """How well each outlier criterion finds the base model's misses in the pool.

    A pool crop is a miss when some point of the base model is more than 10 px off.
    For each criterion (and the priority vote that ranks the candidates): the share of
    the pool it flags, the share of misses among the flagged, and its ROC AUC; also
    ``tta_mirrored``, ``tta`` with mirrored copies only (the network never trained on
    mirrored crops).
    """
    from accuracy import load_fly
    from active_learning import frames_off, pool_outlier_scores
    from sklearn.metrics import roc_auc_score

    from posekit.engine.model_folder import ModelFolder

    cache = work / "base_scores.npz"
    if not cache.exists():
        proj = load_fly()
        tr, _ = proj.split()
        scores, xyp = pool_outlier_scores(
            ModelFolder.at(base),
            images,
            [proj.images[i] for i in tr],
            proj.bodyparts,
            proj.pcutoff,
            0,
        )
        from posekit.engine.refinement import CRITERIA, predict_augmented, tta_scores

        (mirrored,) = (
            predict_augmented(  # what tta compared before it followed training
                ModelFolder.at(base).predictor(batch_size=1),
                images,
                proj.bodyparts,
                (True, ()),
            )
        )
        np.savez(
            cache,
            xyp=xyp,
            priority=scores.priority,
            n_tta_mirrored=tta_scores(xyp, [mirrored]) / CRITERIA["tta"].threshold,
            **{f"n_{k}": v for k, v in scores.normalized.items()},
        )
    z = np.load(cache)
    miss = frames_off(z["xyp"], keypoints)
    out = {"n_pool": len(miss), "miss_share": float(miss.mean())}
    for key in [k for k in z.files if k.startswith("n_")] + ["priority"]:
        score = z[key]
        flagged = score > (1.0 if key != "priority" else 0.0)
        out[key.removeprefix("n_")] = {
            "flagged_share": round(float(flagged.mean()), 3),
            "miss_share_among_flagged": round(float(miss[flagged].mean()), 3)
            if flagged.any()
            else None,
            "roc_auc": round(float(roc_auc_score(miss, score)), 3),
        }
    return out


def report(args) -> int:
    """Compare the arms; write the JSON."""
    from active_learning import error_metrics

    from posekit.engine._fileio import atomic_write_text

    work = Path(args.workdir)
    images, kps, names, _ = _pool(work)
    runs = {
        p.stem: json.loads(p.read_text())
        for p in sorted(work.glob("*.json"))
        if p.stem.split("-")[0] in ARMS
    }
    pool_pred: dict[str, np.ndarray] = {}
    for key, run in runs.items():
        cache = work / f"{key}.pool.npy"
        if not cache.exists():
            np.save(cache, _predict(Path(run["snapshot"]), images))
        pool_pred[key] = np.load(cache)

    def summary(run: dict) -> dict:
        test = run["test"]
        return {
            "test_mean_px": round(test["mean_error_px"], 3),
            "train_mean_px": round(run["train"]["mean_error_px"], 3),
            "test_worst_px": round(test["worst"]["error_px"], 1),
            "test_worst_fraction_of_width": round(
                test["worst"]["fraction_of_frame_width"], 3
            ),
            "test_over_10px": test["misses_over_10px"],
            "test_confident_misses": test["confident_misses"],
            "iterations": run["iterations"],
        }

    mirror = work / "outlier_mirror-0.json"  # seed 0 picked before the tta fix
    comparison = []
    for seed in args.seeds:
        o, r = runs.get(f"outlier-{seed}"), runs.get(f"random-{seed}")
        if o is None or r is None:
            continue
        held = _held_out(names, set(o["picked"]) | set(r["picked"]))
        row = {"seed": seed, "n_held_out": len(held)}
        for key in (f"outlier-{seed}", f"random-{seed}", "control-0"):
            if key in runs:
                row[key.split("-")[0]] = {
                    **summary(runs[key]),
                    "held_out": error_metrics(pool_pred[key][held], kps[held]),
                }
        ro, rr = row["outlier"], row["random"]
        row["outlier_fewer_test_misses"] = ro["test_over_10px"] < rr["test_over_10px"]
        row["outlier_lower_held_out_p95"] = (
            ro["held_out"]["p95_px"] < rr["held_out"]["p95_px"]
        )
        row["outlier_lower_held_out_over_10px"] = (
            ro["held_out"]["frac_frames_over_10px"]
            < rr["held_out"]["frac_frames_over_10px"]
        )
        row["picked_near_flies_touching"] = {  # frames 900-1440: the misses' stretch
            arm: sum(900 <= int(n[5:]) <= 1440 for n in runs[f"{arm}-{seed}"]["picked"])
            for arm in ("outlier", "random")
        }
        comparison.append(row)
    doc = {
        "benchmark": "fly_active_learning",
        "base": next((r["base"] for r in runs.values()), None),
        "n_pool": len(names),
        "n_added": N_ADD,
        "gap_frames": GAP,
        "budget_cpu_s_per_core": args.budget,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "run_note": args.note,
        "control": summary(runs["control-0"]) if "control-0" in runs else None,
        "outlier_mirror_seed0": summary(json.loads(mirror.read_text()))
        if mirror.exists()
        else None,
        "criteria_on_pool": criteria_on_pool(
            work, Path(next(iter(runs.values()))["base"]), images, kps
        )
        if runs
        else None,
        "comparison": comparison,
        "runs": runs,
    }
    atomic_write_text(Path(args.json), json.dumps(doc, indent=1) + "\n")
    for row in comparison:
        print(
            f"seed {row['seed']}: "
            + "; ".join(
                f"{arm} test mean {row[arm]['test_mean_px']:.2f} px, "
                f"worst {row[arm]['test_worst_px']:.1f} px, "
                f"> 10 px {row[arm]['test_over_10px']}, held-out p95 "
                f"{row[arm]['held_out']['p95_px']:.2f} px, > 10 px frames "
                f"{row[arm]['held_out']['frac_frames_over_10px']:.3f}"
                for arm in ("outlier", "random", "control")
                if arm in row
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the steps (each in its own process) or the report.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["all", "step", "report"])
    parser.add_argument("--workdir", default="/tmp/posekit-fly-al")
    parser.add_argument("--base", help="the accuracy benchmark's fly snapshot")
    parser.add_argument("--arm", choices=ARMS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=300.0, help="CPU-s per core")
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--note", default="", help="how the run was made (report)")
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.command == "report":
        return report(args)
    base = work / "base" / Path(args.base).name
    if not base.exists():  # a private copy: nothing else writes into its folder
        shutil.copytree(Path(args.base).parent, base.parent, dirs_exist_ok=True)
    if args.command == "step":
        out = work / f"{args.arm}-{args.seed}.json"
        doc = run_arm(work, base, args.arm, args.seed, args.budget)
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{out.name}: test mean {doc['test_mean_error_px']:.2f} px", flush=True)
        return 0
    _pool(work)
    steps = [(a, s) for s in args.seeds for a in ARMS[:2]] + [("control", 0)]
    for arm, seed in steps:
        if (work / f"{arm}-{seed}.json").exists():
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {arm} seed {seed}", flush=True)
        cmd = [sys.executable, __file__, "step", "--workdir", str(work)]
        cmd += ["--base", str(base), "--arm", arm, "--seed", str(seed)]
        subprocess.run(cmd + ["--budget", str(args.budget)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
