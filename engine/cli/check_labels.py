"""``posekit check-labels``: draw the labels on the labelled frames."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, add_project_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "check-labels"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit check-labels`` to the command line.

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
        help="draw labels on the labelled frames into labeled-data/<video>_labeled/",
    )
    add_project_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw the labels and print how many images were written.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..check_labels import check_labels

    paths = check_labels(load_project(args.project))
    print(f"{len(paths)} images written")
    return EXIT_OK
