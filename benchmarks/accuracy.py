r"""Accuracy on several projects unlike each other, for a fixed CPU budget per run.

``openfield_accuracy.py`` generalised: each run trains one backbone on one project's
recorded split with posekit's defaults (the adaptive defaults of
:mod:`posekit.engine.training_defaults`, as ``posekit train`` uses them) for a fixed
budget of CPU time, and reports, on full frames:

- train and test mean error (mean Euclidean distance, DLC's "RMSE") and true RMSE;
- PCK@5px (share of test points within 5 px);
- the worst test point (error, frame, bodypart, likelihood, error / frame width);
- confident misses: the share of test points with likelihood >= the project's p-cutoff
  that are more than 10 px off;
- the test error per frame size (projects with frames of several sizes);
- the learning curve.

Projects (each with a recorded split; built in a temporary folder, never in the repo):

- ``openfield-every20`` / ``openfield-dlc95``: DeepLabCut's openfield project, test
  frames img0000, 0020, …, 0100, or DLC's own 95 % split;
- ``fly``: the SLEAP fly clip (``sleap-flies-clip``: 1024×1024, two flies) turned into a
  single-animal project: 125 frames (every 12th), a 192×192 crop around fly 0's thorax
  (jittered ±32 px; the other fly often enters the crop), its 13 keypoints; every 5th
  frame is a test frame;
- ``side``: the demo renderer's side view (``make_demo_project(view="side",
  frame_sizes=[(416, 374), (320, 235)])``, whose MPEG-4 video makes the second size
  320×234): a mouse reaching for a joystick, small and often hidden parts (hidden =
  NaN, as labelled), a look-alike paw, two frame sizes with the animal 1.3× smaller in
  the smaller frames; 64 labelled frames, every 5th a test frame.

Backbones: ``default`` (what a DeepLabCut user gets: ``choose_backbone("resnet_50")``),
``efficientnet_lite0|1|2`` with ImageNet weights, ``mobilenet_v2_0.35`` from random
initialisation (posekit's earlier default).

Usage::

    python benchmarks/accuracy.py --project side --backbone default --budget-s 900
    python benchmarks/accuracy.py --project all --quick   # a minute per run
    python benchmarks/accuracy.py --plot                  # curves from the JSON

Writes (merging runs) ``benchmarks/results/accuracy.json`` and ``accuracy_curves.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results" / "accuracy.json"
CURVES = REPO / "benchmarks" / "results" / "accuracy_curves.png"
PROJECTS = ("openfield-every20", "openfield-dlc95", "fly", "side")
BACKBONES = {
    "default": None,  # choose_backbone("resnet_50")
    "efficientnet_lite0": "imagenet",
    "efficientnet_lite1": "imagenet",
    "efficientnet_lite2": "imagenet",
    "mobilenet_v2_0.35": None,
}
MISS_PX = 10.0  # posekit.engine.evaluation.MISS_PX, the figure of issue 12


@dataclass
class BenchProject:
    """Frames, labels and the recorded split of one benchmark project."""

    name: str
    images: list
    keypoints: np.ndarray
    names: list[str]
    bodyparts: list[str]
    test_names: list[str]
    pcutoff: float
    note: str = ""

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Train and test positions."""
        test = set(self.test_names)
        te = np.array([i for i, n in enumerate(self.names) if n in test])
        tr = np.array([i for i, n in enumerate(self.names) if n not in test])
        return tr, te


def load_openfield(split: str) -> BenchProject:
    """DeepLabCut's openfield project with one of its two recorded splits."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from openfield_accuracy import PROJECT, SPLITS
    from openfield_accuracy import load_openfield as load

    images, xy, names, bodyparts = load(DATA)
    return BenchProject(
        f"openfield-{split}",
        images,
        xy,
        names,
        bodyparts,
        list(SPLITS[split]),
        pcutoff=0.6,
        note=f"{PROJECT}, 116 frames 640×480",
    )


def fly_crops(
    frame_indices, *, crop: int = 192, seed: int = 0, jitter: float = 32.0
) -> tuple[list[np.ndarray], np.ndarray, list[str], list[str]]:
    """Crop ``crop``×``crop`` around fly 0's thorax (jittered) in clip frames.

    Parameters
    ----------
    frame_indices
        Frames of the SLEAP fly clip, in the order the jitter is drawn.
    crop
        Side of the square crop in pixels.
    seed
        Seed of the jitter.
    jitter
        The crop's centre is the thorax moved by up to this many pixels along each
        axis (uniform).

    Returns
    -------
    images : list of numpy.ndarray
        RGB crops (frames where fly 0 has no instance are left out).
    keypoints : numpy.ndarray
        ``(n, 13, 2)`` crop coordinates (NaN: not visible, or outside the crop).
    names : list of str
        ``frame<index>``.
    bodyparts : list of str
        The clip's 13 nodes.
    """
    import cv2
    import sleap_io as sio

    labels = sio.load_slp(str(DATA / "sleap-flies-clip" / "clip.slp"))
    video = labels.videos[0]
    track = labels.tracks[0]
    rng = np.random.default_rng(seed)
    by_index = {lf.frame_idx: lf for lf in labels.labeled_frames}
    images, kps, names = [], [], []
    thorax = labels.skeletons[0].node_names.index("thorax")
    for index in frame_indices:
        inst = [i for i in by_index[int(index)].instances if i.track is track]
        if not inst:
            continue
        pts = inst[0].numpy().astype(float)
        centre = pts[thorax] if np.isfinite(pts[thorax]).all() else np.nanmean(pts, 0)
        centre = centre + rng.uniform(-jitter, jitter, 2)
        x0 = int(np.clip(round(centre[0] - crop / 2), 0, video.shape[2] - crop))
        y0 = int(np.clip(round(centre[1] - crop / 2), 0, video.shape[1] - crop))
        frame = np.asarray(video[int(index)])
        frame = frame[..., 0] if frame.ndim == 3 else frame
        img = cv2.cvtColor(
            np.ascontiguousarray(frame[y0 : y0 + crop, x0 : x0 + crop]),
            cv2.COLOR_GRAY2RGB,
        )
        local = pts - [x0, y0]
        outside = ~((local >= 0) & (local < crop)).all(axis=1)
        local[outside] = np.nan
        images.append(img)
        kps.append(local)
        names.append(f"frame{int(index):05d}")
    return images, np.stack(kps), names, list(labels.skeletons[0].node_names)


FLY_FRAMES = 1500  # labelled frames in the clip (0-1499, every one labelled)


def load_fly(every: int = 12, crop: int = 192, seed: int = 0) -> BenchProject:
    """Build the SLEAP fly clip as a single-animal project of crops around fly 0."""
    images, kps, names, bodyparts = fly_crops(
        range(0, FLY_FRAMES, every), crop=crop, seed=seed
    )
    return BenchProject(
        "fly",
        images,
        kps,
        names,
        bodyparts,
        names[::5],
        pcutoff=0.6,
        note=f"sleap-flies-clip, every {every}th frame, {crop}×{crop} crops around "
        "fly 0 (jitter ±32 px)",
    )


def load_side(folder: Path) -> BenchProject:
    """Build the demo renderer's side view with frames of two sizes."""
    import cv2
    import pandas as pd

    from posekit.engine.demo import make_demo_project

    project = make_demo_project(
        folder,
        view="side",
        frame_sizes=[(416, 374), (320, 235)],
        n_frames=900,
        n_labeled=64,
        n_videos=2,
    )
    images, kps, names = [], [], []
    for video in ("session1", "session2"):
        df = pd.read_hdf(project.labels_path(video))
        xy = df.to_numpy(float).reshape(len(df), -1, 2)
        paths = [p if isinstance(p, str) else "/".join(p) for p in df.index]
        for p, k in zip(paths, xy, strict=True):
            img = cv2.imread(str(project.path / p))
            images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            kps.append(k)
            names.append(p)
    test = [n for v in ("session1", "session2") for n in names if v in n][::5]
    return BenchProject(
        "side",
        images,
        np.stack(kps),
        names,
        list(project.bodyparts),
        test,
        pcutoff=0.6,
        note="demo side view: 32 frames 416×374 + 32 frames 320×234 (animal 1.3× "
        "smaller), hidden parts NaN",
    )


def load_project(name: str, workdir: Path) -> BenchProject:
    """Build or read the project ``name``."""
    if name.startswith("openfield-"):
        return load_openfield(name.split("-", 1)[1])
    if name == "fly":
        return load_fly()
    if name == "side":
        return load_side(workdir / "side")
    raise ValueError(f"unknown project {name!r}; known: {PROJECTS}")


def point_metrics(pred: np.ndarray, truth: np.ndarray, images, names, bodyparts, pc):
    """Errors, PCK, worst point, confident misses and errors per frame size."""
    from posekit.engine.evaluation import likelihood_table

    err = np.linalg.norm(pred[..., :2] - truth, axis=-1)
    ok = np.isfinite(err)
    e = err[ok]
    # what evaluate_network reports (<scorer>-results.csv), by the same definition
    (kept,) = likelihood_table(pred, truth, pcutoffs=(pc,), miss_px=MISS_PX)
    f, k = np.unravel_index(np.nanargmax(np.where(ok, err, -1)), err.shape)
    widths = np.array([img.shape[1] for img in images], float)
    by_size: dict[str, list[float]] = {}
    for i, img in enumerate(images):
        key = f"{img.shape[1]}x{img.shape[0]}"
        by_size.setdefault(key, []).extend(err[i][ok[i]].tolist())
    return {
        "mean_error_px": float(e.mean()),
        "rmse_px": float(np.sqrt((e**2).mean())),
        "median_error_px": float(np.median(e)),
        "pck_5px": float((e <= 5).mean()),
        "n_points": int(ok.sum()),
        "worst": {
            "error_px": float(err[f, k]),
            "frame": names[f],
            "bodypart": bodyparts[k],
            "likelihood": float(pred[f, k, 2]),
            "fraction_of_frame_width": float(err[f, k] / widths[f]),
        },
        "pcutoff": pc,
        "confident_share": float(kept["kept_share"]),
        "confident_misses": kept["misses_kept"],
        "confident_miss_share": kept["misses_kept"] / max(1, kept["kept"]),
        "misses_over_10px": int((e > MISS_PX).sum()),
        "mean_error_by_frame_size_px": {
            s: float(np.mean(v)) for s, v in by_size.items() if v
        },
    }


def run_one(proj: BenchProject, backbone: str, args) -> dict:
    """Train ``backbone`` on the project's train frames for the budget; evaluate."""
    from posekit.engine.dataset import symmetric_pairs
    from posekit.engine.models.pose_model import PoseModelConfig
    from posekit.engine.models.pretrained import choose_backbone
    from posekit.engine.training import TrainConfig, Trainer

    if backbone == "default":
        choice = choose_backbone("resnet_50")
        name, weights = choice.backbone, choice.weights
    else:
        name, weights = backbone, BACKBONES.get(backbone, args.weights)
    tr, te = proj.split()
    model_config = PoseModelConfig(
        bodyparts=tuple(proj.bodyparts), backbone=name, weights=weights
    )
    if args.input_scale is not None:
        model_config = model_config.replace(input_scale=args.input_scale)
    train_config = TrainConfig(
        max_iterations=None,
        time_budget_s=args.budget_s,
        budget_clock=args.clock,
        eval_interval=args.eval_interval,
        save_interval=0,
        save_interval_s=None,
        seed=args.seed,
        adaptive_augmentation=args.adaptive_augmentation,
        crop_size=None if args.crop is None else (args.crop, args.crop),
        weight_decay=args.weight_decay,
    )
    out = Path(args.out) / proj.name / run_key(backbone, args)
    trainer = Trainer(
        model_config,
        train_config,
        out,
        flip_pairs=symmetric_pairs(proj.bodyparts),  # as train_network passes them
        progress=not args.quiet,
    )
    images = proj.images
    wall0, cpu0 = time.perf_counter(), time.process_time()
    state = trainer.fit(
        [images[i] for i in tr],
        proj.keypoints[tr],
        [images[i] for i in te],
        proj.keypoints[te],
        resume=False,
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    curve = [
        {
            "iteration": r["iteration"],
            "test_mean_error_px": r["test_mean_error_px"],
            "elapsed_cpu_s": r["elapsed_cpu_s"],
        }
        for r in state.history
        if r.get("test_mean_error_px") is not None
    ]
    d = trainer.defaults
    return {
        "backbone": name,
        "weights": weights,
        "n_train": len(tr),
        "n_test": len(te),
        **evaluate(trainer.model, proj),
        "snapshot": str(state.last_snapshot),
        "iterations": state.iteration,
        "stop_reason": state.stop_reason,
        "budget_s": args.budget_s,
        "budget_clock": args.clock,
        "training_cpu_s_per_core": state.elapsed_cpu_s,
        "training_wall_s": state.elapsed_wall_s,
        "process_wall_s": wall,
        "process_cpu_s": cpu,
        "defaults": None if d is None else d.to_dict(),
        "crop_size": list(trainer.train_config.crop_size),
        "scale_range": list(trainer.train_config.augment.scale_range),
        "rotation_deg": trainer.train_config.augment.rotation_deg,
        "flip_probability": trainer.train_config.augment.flip_probability,
        "flip_pairs": [list(p) for p in trainer.flip_pairs],
        "sigma": trainer.model_config.sigma,
        "input_scale": trainer.model_config.input_scale,
        "learning_curve": curve,
    }


def run_key(backbone: str, args) -> str:
    """Name of a run in the JSON: the backbone and what was set by hand."""
    key = backbone + ("+adaptive-aug" if args.adaptive_augmentation else "")
    if args.input_scale is not None:
        key += f"+scale{args.input_scale:g}"
    if args.crop is not None:
        key += f"+crop{args.crop}"
    if args.weight_decay:
        key += f"+wd{args.weight_decay:g}"
    return key


def evaluate(model, proj: BenchProject) -> dict:
    """Metrics of a trained model on the project's test and train frames.

    Predictions as posekit makes them (:func:`~posekit.engine.models.decoder.make_decoder`:
    the likelihood lowered by a second peak); the confident misses also with
    DeepLabCut's likelihood (the score at the maximum), ``test.peak_likelihood``.
    """
    from posekit.engine.inference import KerasPredictor
    from posekit.engine.models.decoder import make_decoder

    cfg = model.pose_config
    tr, te = proj.split()
    out = {}
    for part, idx in (("test", te), ("train", tr)):
        images = [proj.images[i] for i in idx]
        names = [proj.names[i] for i in idx]
        pred = KerasPredictor(model, batch_size=1)(images)
        metrics = point_metrics(
            pred, proj.keypoints[idx], images, names, proj.bodyparts, proj.pcutoff
        )
        peak = KerasPredictor(
            model,
            make_decoder(
                stride=cfg.head_stride,
                locref_stdev=cfg.locref_stdev,
                input_scale=cfg.input_scale,
                likelihood="peak",
            ),
            batch_size=1,
        )(images)
        dlc = point_metrics(
            peak, proj.keypoints[idx], images, names, proj.bodyparts, proj.pcutoff
        )
        metrics["peak_likelihood"] = {
            k: dlc[k]
            for k in ("confident_share", "confident_misses", "confident_miss_share")
        }
        metrics["peak_likelihood"]["worst_likelihood"] = dlc["worst"]["likelihood"]
        out[part] = metrics
        if part == "test":
            out["test_predictions"] = pred.round(3).tolist()
    out["test_mean_error_px"] = out["test"]["mean_error_px"]
    out["train_mean_error_px"] = out["train"]["mean_error_px"]
    out["test_over_train"] = out["test_mean_error_px"] / out["train_mean_error_px"]
    return out


def reevaluate(path: Path, proj: BenchProject, backbone: str, snapshot: Path) -> dict:
    """Evaluate a saved run's snapshot again (a new decoder); keep its training record."""
    from posekit.engine.models.pose_model import load_pose_model

    doc = json.loads(path.read_text())
    run = doc["runs"][proj.name][backbone]
    run.update(evaluate(load_pose_model(snapshot), proj))
    run["snapshot"] = str(snapshot)
    return doc


def plot(path: Path, doc: dict) -> None:
    """Learning curves: test mean error against CPU time, one panel per project."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = doc.get("runs", {})
    projects = [p for p in PROJECTS if p in runs]
    if not projects:
        return
    fig, axes = plt.subplots(
        1, len(projects), figsize=(4.2 * len(projects), 3.6), squeeze=False
    )
    for ax, proj in zip(axes[0], projects, strict=True):
        for bb, r in sorted(runs[proj].items()):
            c = r["learning_curve"]
            if c:
                ax.plot(
                    [p["elapsed_cpu_s"] for p in c],
                    [p["test_mean_error_px"] for p in c],
                    marker=".",
                    label=f"{bb} ({r['test_mean_error_px']:.1f} px)",
                )
        ax.set_yscale("log")
        ax.set_title(proj)
        ax.set_xlabel("training CPU s (per core)")
        ax.set_ylabel("test mean error (px)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def merge(path: Path, parts: list[Path]) -> None:
    """Merge the runs of ``parts`` into ``path`` (later files win) and redraw."""
    from posekit.engine._fileio import atomic_write_text

    doc = json.loads(path.read_text()) if path.exists() else {}
    for part in parts:
        other = json.loads(part.read_text())
        runs = other.pop("runs", {})
        projects = other.pop("projects", {})
        doc.update(other)
        doc.setdefault("projects", {}).update(projects)
        for name, by_backbone in runs.items():
            doc.setdefault("runs", {}).setdefault(name, {}).update(by_backbone)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    plot(CURVES if path == RESULTS else path.with_suffix(".png"), doc)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen project × backbone pairs, merging each result into the JSON.

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
    parser.add_argument("--project", nargs="+", default=["all"])
    parser.add_argument("--backbone", nargs="+", default=["default"])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--budget-s", type=float, default=900.0)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--eval-interval", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="60 s runs (development)")
    parser.add_argument(
        "--input-scale",
        type=float,
        default=None,
        help="resize the frames by this inside the network instead of the adaptive "
        "choice; the run is stored as <backbone>+scale<s>",
    )
    parser.add_argument(
        "--crop",
        type=int,
        default=None,
        help="square training crop side in network pixels instead of the adaptive "
        "choice; the run is stored as <backbone>+crop<side>",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="AdamW weight decay (TrainConfig.weight_decay); the run is stored as "
        "<backbone>+wd<value>",
    )
    parser.add_argument(
        "--adaptive-augmentation",
        action="store_true",
        help="rotation from how widely the animals turn, left/right mirroring "
        "(TrainConfig.adaptive_augmentation); the run is stored as <backbone>+adaptive-aug",
    )
    parser.add_argument("--out", default=None, help="folder for models and projects")
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--plot", action="store_true", help="only redraw the curves")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="merge these result files (runs done in parallel) into --json, redraw",
    )
    parser.add_argument(
        "--reevaluate",
        metavar="SNAPSHOT",
        type=Path,
        help="evaluate this snapshot of the run --project/--backbone in --json again "
        "(after a change to the decoder), keeping its training record",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.json)
    if args.merge:
        merge(path, [Path(m) for m in args.merge])
        return 0
    if args.reevaluate:
        from posekit.engine._fileio import atomic_write_text

        (name,), (backbone,) = args.project, args.backbone
        out = Path(args.out or tempfile.mkdtemp(prefix="posekit-accuracy-"))
        doc = reevaluate(path, load_project(name, out), backbone, args.reevaluate)
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
        return 0
    if args.plot:
        plot(CURVES, json.loads(path.read_text()))
        return 0
    if args.quick:
        args.budget_s, args.eval_interval = 60.0, 100
        if args.json == str(RESULTS):
            path = Path(tempfile.gettempdir()) / "accuracy_quick.json"
    args.out = args.out or tempfile.mkdtemp(prefix="posekit-accuracy-")
    projects = list(PROJECTS) if "all" in args.project else args.project

    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cv2.setNumThreads(1)
    from posekit.engine._fileio import atomic_write_text

    for name in projects:
        proj = load_project(name, Path(args.out))
        for backbone in args.backbone:
            result = run_one(proj, backbone, args)
            t, r = result["test"], result
            print(
                f"{name} {run_key(backbone, args)}: test {t['mean_error_px']:.2f} px (RMSE "
                f"{t['rmse_px']:.2f}, PCK@5 {t['pck_5px']:.2f}, worst "
                f"{t['worst']['error_px']:.1f} px), train "
                f"{r['train_mean_error_px']:.2f} px, confident misses "
                f"{t['confident_miss_share']:.3f}; {r['iterations']} it",
                flush=True,
            )
            doc = json.loads(path.read_text()) if path.exists() else {}
            doc.update(
                {
                    "benchmark": "accuracy",
                    "metric_note": "mean_error = mean Euclidean distance (DLC's "
                    "'RMSE'); rmse = root-mean-square; confident_miss_share = test "
                    "points with likelihood >= pcutoff more than 10 px off / test "
                    "points with likelihood >= pcutoff",
                    "cpu_count": os.cpu_count(),
                    "threads": args.threads,
                    "machine": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0],
                    "versions": {"tensorflow": tf.__version__},
                }
            )
            doc.setdefault("projects", {})[name] = {
                "note": proj.note,
                "bodyparts": proj.bodyparts,
                "n_frames": len(proj.names),
                "frame_sizes": sorted(
                    {f"{img.shape[1]}x{img.shape[0]}" for img in proj.images}
                ),
                "test_frames": proj.test_names,
                "pcutoff": proj.pcutoff,
            }
            doc.setdefault("runs", {}).setdefault(name, {})[run_key(backbone, args)] = (
                result
            )
            atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
            if path == RESULTS:
                plot(CURVES, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
