"""``posekit evaluate``: train and test error of a shuffle's network."""

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

NAME = "evaluate"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit evaluate`` to the command line.

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
        help="train/test error (px), per bodypart, PCK; CombinedEvaluation-results.csv",
    )
    add_project_arg(p)
    add_shuffle_arg(p)
    add_training_set_arg(p)
    p.add_argument(
        "--plot", action="store_true", help="save images of test predictions"
    )
    p.add_argument(
        "--tracks",
        metavar="FILE",
        help="several animals: tracked predictions (…_el.h5) to score against "
        "--truth (identity switches, IDF1, OKS mAP)",
    )
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="the true tracks of the same video (.slp, .h5, …) for --tracks",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the results table.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    if bool(args.tracks) != bool(args.truth):
        raise ValueError("--tracks and --truth go together: give both files")
    if args.tracks:
        return _evaluate_tracks(args)
    from ..api import evaluate_network

    result = evaluate_network(
        load_project(args.project).for_training_set(args.trainingsetindex),
        shuffle=args.shuffle,
        plot=args.plot,
    )
    print(result.to_string() if hasattr(result, "to_string") else result)
    return EXIT_OK


def _evaluate_tracks(args: argparse.Namespace) -> int:
    """Print the identity metrics of ``--tracks`` against ``--truth``."""
    from ..multianimal.api import evaluate_tracks

    load_project(args.project)  # the project must exist, as for the other verbs
    m = evaluate_tracks(args.tracks, args.truth)
    print(f"frames                 {m['n_frames']}")
    print(f"identity switches      {m['id_switches']}")
    print(f"switches / 1000 frames {m['switches_per_1000_frames']:.2f}")
    print(f"IDF1                   {m['idf1']:.4f}")
    print(f"IDP / IDR              {m['idp']:.4f} / {m['idr']:.4f}")
    print(f"MOTA                   {m['mota']:.4f}")
    print(f"OKS mAP / mAR (frames) {m['frames_map']:.4f} / {m['frames_mar']:.4f}")
    print(f"matched error (px)     {m['frames_mean_error_px']:.2f}")
    return EXIT_OK
