"""``posekit create``: a new DeepLabCut-compatible project."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, comma_names, fail

__all__ = ["NAME", "add_parser", "run"]

NAME = "create"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit create`` to the command line.

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
        help="create a new DeepLabCut-compatible project",
        description="Create <folder>/<task>-<experimenter>-<date>/ with config.yaml and "
        "the DeepLabCut folder layout; the videos are linked (or copied) into videos/.",
    )
    p.add_argument("task", help="project name, e.g. openfield")
    p.add_argument("experimenter", help="your name; becomes the labels' scorer")
    p.add_argument("videos", nargs="*", help="video files or folders of videos to add")
    p.add_argument("--folder", default=".", help="parent folder (default: here)")
    p.add_argument(
        "--bodyparts",
        default="snout,leftear,rightear,tailbase",
        help="comma-separated keypoint names (default: snout,leftear,rightear,tailbase)",
    )
    p.add_argument(
        "--individuals",
        metavar="NAMES",
        help="comma-separated animal names: a multi-animal project (DeepLabCut's "
        "multianimal=True), e.g. mouse1,mouse2,mouse3",
    )
    p.add_argument(
        "--unique-bodyparts",
        metavar="NAMES",
        default="",
        help="multi-animal: comma-separated points that are not part of an animal "
        "(a lever, a port)",
    )
    p.add_argument("--copy", action="store_true", help="copy videos instead of linking")
    return p


def run(args: argparse.Namespace) -> int:
    """Create the project and print its folder.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..project import create_project

    individuals = comma_names(args.individuals) or None
    unique = comma_names(args.unique_bodyparts)
    if unique and individuals is None:
        return fail(
            "--unique-bodyparts belong to a multi-animal project: name the animals "
            "with --individuals too"
        )
    project = create_project(
        args.task,
        args.experimenter,
        args.videos,
        working_directory=args.folder,
        bodyparts=comma_names(args.bodyparts),
        copy_videos=args.copy,
        individuals=individuals,
        uniquebodyparts=unique,
    )
    print(project.path)
    return EXIT_OK
