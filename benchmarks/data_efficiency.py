"""Data efficiency on openfield: how many labelled frames, with and without ImageNet.

Trains the openfield accuracy recipe (``openfield_accuracy.train_and_evaluate``) on
10, 25, 50 and all 110 of the training frames of the ``every20`` split (test frames
img0000, img0020, …, img0100), each from random initialisation and from the ImageNet
EfficientNet-Lite0 weights that ship with posekit, at the same budget, and reports the
test mean error (DLC's "RMSE") and true RMSE of every run with its learning curve.

The subsets are nested (the 10 frames are among the 25, …) and drawn with a fixed seed,
so a row differs from the next only by the frames it adds. The budget is process CPU
time (``--budget-cpu-s``, all cores together; 900 s = 15 minutes of CPU), so that other
work on a shared machine does not shorten a run; each run's wall time is recorded too.

Usage::

    python benchmarks/data_efficiency.py                 # full table, 8 runs
    python benchmarks/data_efficiency.py --quick         # smoke run, under 5 minutes
    python benchmarks/data_efficiency.py --frames 25 --init imagenet   # one cell

Writes (merging cells run separately) ``benchmarks/results/data_efficiency.json`` and
the curves as ``data_efficiency.png`` beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openfield_accuracy import (  # noqa: E402
    DATA,
    PROJECT,
    SPLITS,
    configure_threads,
    load_openfield,
    train_and_evaluate,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "data_efficiency.json"
INITS = {
    "random": ("efficientnet_lite0", None),
    "imagenet": ("efficientnet_lite0", "imagenet"),
}
FRAMES = (10, 25, 50, 110)
SPLIT = "every20"


def nested_subsets(n_available: int, sizes, seed: int) -> dict[int, list[int]]:
    """Nested random subsets of ``range(n_available)``: the first ``k`` of a permutation.

    Examples
    --------
    >>> s = nested_subsets(20, (5, 10), seed=0)
    >>> set(s[5]) <= set(s[10]), len(s[10])
    (True, 10)
    """
    import numpy as np

    order = np.random.default_rng(seed).permutation(n_available)
    out = {}
    for k in sizes:
        if not 1 <= k <= n_available:
            raise ValueError(f"frames must be in 1..{n_available}. Received: {k}")
        out[int(k)] = sorted(int(i) for i in order[:k])
    return out


def plot_curves(doc: dict, path: Path) -> None:
    """Learning curves (test mean error against CPU seconds), one panel per frame count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = doc.get("runs", {})
    sizes = sorted({r["n_train"] for r in runs.values()})
    if not sizes:
        return
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.2 * len(sizes), 3), sharey=True)
    axes = [axes] if len(sizes) == 1 else list(axes)
    for ax, k in zip(axes, sizes, strict=True):
        for init, colour in (("random", "tab:grey"), ("imagenet", "tab:blue")):
            run = runs.get(f"{init}-{k}")
            if not run or not run["learning_curve"]:
                continue
            c = run["learning_curve"]
            ax.plot(
                [p["elapsed_cpu_s"] * run.get("threads", 1) for p in c],
                [p["test_mean_error_px"] for p in c],
                "-o",
                ms=3,
                color=colour,
                label=f"{init}: {run['test_mean_error_px']:.2f} px",
            )
        ax.set_yscale("log")
        ax.set_title(f"{k} labelled frames")
        ax.set_xlabel("CPU seconds")
        ax.axhline(2.7, color="k", lw=0.5, ls=":")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("test mean error (px)")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def table(doc: dict) -> str:
    """Format the mean-error table as Markdown (rows: frame counts, columns: inits)."""
    runs = doc.get("runs", {})
    sizes = sorted({r["n_train"] for r in runs.values()})
    lines = [
        "| labelled frames | random init (px) | ImageNet Lite0 (px) |",
        "|---|---|---|",
    ]
    for k in sizes:
        cells = []
        for init in ("random", "imagenet"):
            r = runs.get(f"{init}-{k}")
            cells.append(
                f"{r['test_mean_error_px']:.2f} (RMSE {r['test_rmse_px']:.2f})"
                if r
                else "–"
            )
        lines.append(f"| {k} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train the requested cells, merge them into the JSON and redraw the curves.

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
    parser.add_argument("--frames", type=int, nargs="+", default=list(FRAMES))
    parser.add_argument("--init", choices=[*INITS, "both"], default="both")
    parser.add_argument(
        "--budget-cpu-s",
        type=float,
        default=900.0,
        help="process CPU seconds per run, all cores together (default 900 = 15 min)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument(
        "--crop",
        type=int,
        default=160,
        help="side of the square training crops in pixels (160: a whole mouse with "
        "margin; evaluation is on full 640x480 frames)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 10 and 110 frames, 40 CPU-s each (under 5 minutes)",
    )
    parser.add_argument("--out", default=None, help="folder for the trained models")
    parser.add_argument("--json", default=None)
    parser.add_argument("--skip-done", action="store_true", help="keep finished cells")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.budget_cpu_s, args.eval_interval = [10, 110], 40.0, 0
    json_path = Path(
        args.json
        or (RESULTS.with_name("data_efficiency_quick.json") if args.quick else RESULTS)
    )
    args.out = args.out or tempfile.mkdtemp(prefix="posekit-data-efficiency-")

    import numpy as np

    configure_threads(args.threads)
    from posekit.engine._fileio import atomic_write_text

    images, xy, names, bodyparts = load_openfield(DATA)
    test_names = set(SPLITS[SPLIT])
    test = np.array([i for i, n in enumerate(names) if n in test_names])
    pool = np.array([i for i, n in enumerate(names) if n not in test_names])
    subsets = nested_subsets(len(pool), args.frames, args.seed)
    inits = list(INITS) if args.init == "both" else [args.init]

    doc = json.loads(json_path.read_text()) if json_path.exists() else {}
    for k in sorted(subsets):
        for init in inits:
            key = f"{init}-{k}"
            if args.skip_done and key in doc.get("runs", {}):
                continue
            backbone, weights = INITS[init]
            train = pool[subsets[k]]
            result = train_and_evaluate(
                train,
                test,
                images,
                xy,
                bodyparts,
                out=Path(args.out) / key,
                backbone=backbone,
                weights=weights,
                # the trainer's "cpu" clock is CPU seconds per TensorFlow core
                budget_s=args.budget_cpu_s / args.threads,
                clock="cpu",
                eval_interval=args.eval_interval,
                crop=args.crop,
                seed=args.seed,
                quiet=args.quiet,
            )
            result.update(
                init=init,
                backbone=backbone,
                weights=weights,
                threads=args.threads,
                budget_cpu_s=args.budget_cpu_s,
                crop=args.crop,
                train_frames=[names[i] for i in train],
            )
            print(
                f"{key}: test mean error {result['test_mean_error_px']:.2f} px, RMSE "
                f"{result['test_rmse_px']:.2f} px, train "
                f"{result['train_mean_error_px']:.2f} px; {result['steps']} steps in "
                f"{result['process_wall_s']:.0f} s wall, "
                f"{result['process_cpu_s']:.0f} s CPU",
                flush=True,
            )
            doc = json.loads(json_path.read_text()) if json_path.exists() else {}
            doc.update(
                {
                    "benchmark": "data_efficiency",
                    "project": PROJECT,
                    "split": SPLIT,
                    "test_frames": sorted(test_names),
                    "subset_seed": args.seed,
                    "quick": args.quick,
                    "cpu_count": os.cpu_count(),
                    "machine": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0],
                    "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                    "metric_note": "mean_error = mean Euclidean distance (DLC's "
                    "'RMSE'); rmse = root-mean-square distance",
                }
            )
            doc.setdefault("runs", {})[key] = result
            doc["table_markdown"] = table(doc)
            atomic_write_text(json_path, json.dumps(doc, indent=1) + "\n")
            plot_curves(doc, json_path.with_suffix(".png"))
    print(table(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
