"""``posekit extract-outliers``: frames the network gets wrong, for refinement."""

from __future__ import annotations

import argparse
import shlex

from ._common import (
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    comma_names,
    load_project,
)
from .filter import TRACK_METHODS

__all__ = ["CRITERIA", "NAME", "add_parser", "run"]

NAME = "extract-outliers"

#: posekit.engine.refinement.CRITERIA's names and descriptions (the help imports no
#: engine module; a test keeps them equal).
CRITERIA = {
    "jump": "a keypoint jumps away from both neighbouring frames",
    "uncertain": "some keypoint's likelihood is below the p-cutoff",
    "fitting": "a keypoint is far from its smoothed trajectory (Savitzky–Golay/Kalman)",
    "tta": "predictions on copies of the frame augmented as in training disagree",
    "novelty": "the frame shows something the training frames never showed (network "
    "features)",
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit extract-outliers`` to the command line.

    Parameters
    ----------
    subparsers
        The ``posekit`` parser's subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser.
    """
    p = subparsers.add_parser(
        NAME,
        help="extract the frames the network gets wrong, with its guesses to correct",
        description="DeepLabCut's extract_outlier_frames: score every frame of analysed "
        "videos (criteria: "
        + "; ".join(f"{n}: {text}" for n, text in CRITERIA.items())
        + "), pick a diverse subset of the frames above a threshold (k-means on the "
        "frames) and extract them into labeled-data/<video>/img<index>.png with the "
        "network's predictions as machinelabels-iter<N>.h5. The videos must be "
        "analysed by the current iteration's network (else refused; "
        "--use-older-analysis takes the newest older network's analysis). Correct "
        "them in the refine app, then `posekit merge`.",
    )
    add_project_arg(p)
    p.add_argument("videos", nargs="*", help="analysed videos (default: all analysed)")
    p.add_argument(
        "--criteria",
        nargs="+",
        choices=sorted(CRITERIA),
        default=["jump", "uncertain", "fitting"],
        help="criteria to combine (a frame is an outlier for any of them)",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="threshold of a criterion, e.g. jump=30 (repeatable)",
    )
    p.add_argument("-n", "--num", type=int, help="frames per video (numframes2pick)")
    p.add_argument(
        "--algorithm",
        choices=["kmeans", "uniform", "top"],
        default="kmeans",
        help="how the frames are chosen among the outliers (kmeans: diverse)",
    )
    add_shuffle_arg(p)
    p.add_argument(
        "--fill",
        action="store_true",
        help="add the next highest scoring frames when too few are outliers",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--bodyparts",
        metavar="NAMES",
        help="comma-separated bodyparts to score (DeepLabCut's comparisonbodyparts; "
        "default: all)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="score and choose, extract nothing"
    )
    p.add_argument(
        "--frames",
        nargs="+",
        type=int,
        metavar="INDEX",
        help="extract exactly these frames (video frame indices, from 0) with the "
        "analysis' guesses as machine labels, instead of scoring (DeepLabCut's "
        "outlieralgorithm='list', frames2use)",
    )
    p.add_argument(
        "--use-older-analysis",
        action="store_true",
        help="extract from an older network's analysis when the current iteration's "
        "network has not analysed the video (refused by default: analyse it first)",
    )
    p.add_argument(
        "--track-method",
        choices=TRACK_METHODS,
        default=None,
        help="several animals: score the tracks of this tracker (…_el.h5, …_bx.h5, "
        "…_sk.h5; default: the config's default_track_method, as DeepLabCut)",
    )
    return p


def _thresholds(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(
                f"--threshold takes NAME=VALUE (e.g. jump=30); got {item!r}"
            )
        out[name.strip()] = float(value)
    return out


def run(args: argparse.Namespace) -> int:
    """Extract outlier frames and print, per video, how many and where.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..refinement import extract_outlier_frames

    project = load_project(args.project)
    results = extract_outlier_frames(
        project,
        args.videos or None,
        shuffle=args.shuffle,
        criteria=args.criteria,
        thresholds=_thresholds(args.threshold),
        n=args.num,
        extractionalgorithm=args.algorithm,
        fill=args.fill,
        seed=args.seed,
        dry_run=args.dry_run,
        comparisonbodyparts=comma_names(args.bodyparts) or "all",
        allow_older=args.use_older_analysis,
        frames=args.frames,
        track_method=args.track_method,
    )
    for r in results:
        per = ", ".join(f"{c}: {len(r.scores.outliers(c))}" for c in r.scores.scores)
        print(r.summary())
        if per:  # none with --frames: nothing is scored
            print(
                f"  outliers by criterion (frames extracted before included; a frame "
                f"may count for several): {per}"
            )
        if len(r.picked):
            print(f"  frames: {', '.join(str(int(i)) for i in r.picked)}")
        if r.machine_labels is not None:
            print(f"  machine labels: {r.machine_labels}")
    if not args.dry_run and any(len(r.images) for r in results):
        print(
            "next: correct them in the refine or labelling app, then "
            f"`posekit merge {shlex.quote(str(args.project))}`"
        )
    return EXIT_OK
