"""``posekit filter``: smooth predictions into DeepLabCut's ``_filtered.h5``."""

from __future__ import annotations

import argparse

from ._common import (
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    add_training_set_arg,
    load_project,
)

__all__ = ["NAME", "add_parser", "run"]

NAME = "filter"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit filter`` to the command line.

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
        help="smooth predictions; writes DLC's <predictions>_filtered.h5 beside them",
        description="Filter predictions as DeepLabCut's filterpredictions: points below "
        "--pcutoff become NaN (optional), short gaps are interpolated (optional), then "
        "x and y are smoothed. Writes <predictions stem>_filtered.h5 beside each file, "
        "same columns and likelihoods.",
    )
    add_project_arg(p)
    p.add_argument(
        "files",
        nargs="*",
        help="prediction .h5/.csv files, videos or folders of videos (default: all "
        "videos of the project)",
    )
    p.add_argument("--method", choices=["median", "savgol"], default="median")
    p.add_argument("--window", type=int, default=5, help="window, odd frames (5)")
    p.add_argument("--polyorder", type=int, default=2, help="Savitzky-Golay order (2)")
    p.add_argument(
        "--pcutoff",
        type=float,
        help="likelihood below which points become NaN first (default: keep all)",
    )
    p.add_argument(
        "--max-gap", type=int, help="interpolate gaps up to this many frames"
    )
    p.add_argument("--csv", action="store_true", help="also write _filtered.csv")
    add_shuffle_arg(
        p,
        default=None,
        help="take the predictions of this shuffle's network (as analyze, with "
        "DeepLabCut's choice of snapshot; default: each video's newest)",
    )
    add_training_set_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Filter each predictions file and print the file written.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code (a video without predictions is named in a warning; none
        with predictions is an error).
    """
    from ..api import filter_predictions

    for out in filter_predictions(
        load_project(args.project).for_training_set(args.trainingsetindex),
        args.files,
        method=args.method,
        window=args.window,
        polyorder=args.polyorder,
        pcutoff=args.pcutoff,
        max_gap=args.max_gap,
        save_as_csv=args.csv,
        shuffle=args.shuffle,
    ):
        print(out)
    return EXIT_OK
