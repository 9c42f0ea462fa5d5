"""``posekit merge``: refined frames join the labels; the next iteration starts."""

from __future__ import annotations

import argparse
import shlex

from ._common import EXIT_OK, add_project_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "merge"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit merge`` to the command line.

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
        help="merge refined frames: iteration + 1, next training set, same test frames",
        description="DeepLabCut's merge_datasets: after correcting extracted outlier "
        "frames, create the next iteration's training set with every labelled frame, "
        "the previous test frames kept as the test set, then raise `iteration` in "
        "config.yaml (only that key is rewritten, last: a merge killed before leaves "
        "the project as it was; run it again). Run again after a merge that raised "
        "the iteration without a training set, it finishes it. `posekit train` then "
        "starts from the previous iteration's model.",
    )
    add_project_arg(p)
    p.add_argument(
        "--shuffle",
        type=int,
        action="append",
        help="shuffle whose split is carried over (repeatable; default 1)",
    )
    p.add_argument(
        "--no-training-set",
        action="store_true",
        help="only raise the iteration; `posekit merge` without it creates the "
        "training set later, with the previous test frames",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="merge even when nothing was labelled since the last training set",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Merge and print what changed.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..refinement import merge_datasets

    project = load_project(args.project)
    result = merge_datasets(
        project,
        shuffles=args.shuffle or [1],
        create_training_set=not args.no_training_set,
        force=args.force,
    )
    print(result.summary())
    print(
        f"next: `posekit train {shlex.quote(str(args.project))}` (starts from "
        f"iteration {result.previous_iteration}'s model)"
    )
    return EXIT_OK
