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
        description="Draw the labels on every labelled frame. Labels that cannot be "
        "checked (no label file of the config's scorer, invalid labels, no labelled "
        "point, no image) are an error with exit code 2 and a message that says what "
        "is wrong.",
    )
    add_project_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw the labels and print how many images were written, and where.

    Invalid labels raise ``LabelError`` (exit code 2 with its message, through
    ``run_command``); a ``.csv`` that disagrees with its ``.h5`` is logged as a
    warning naming the file used.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..label_check import check_labels, written_summary

    paths = check_labels(load_project(args.project))
    print(written_summary(paths))
    return EXIT_OK
