"""``posekit evaluate``: train and test error of a shuffle's network."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, add_project_arg, load_project

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
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument(
        "--plot", action="store_true", help="save images of test predictions"
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
    from ..api import evaluate_network

    result = evaluate_network(
        load_project(args.project), shuffle=args.shuffle, plot=args.plot
    )
    print(result.to_string() if hasattr(result, "to_string") else result)
    return EXIT_OK
