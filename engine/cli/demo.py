"""``posekit demo``: build the synthetic demo project."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK

__all__ = ["NAME", "add_parser", "run"]

NAME = "demo"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit demo`` to the command line.

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
        help="build the synthetic demo project (animal in an arena, exact ground truth)",
        description="Render the synthetic demo project: a mouse-like animal moving "
        "through an arena, with video, extracted and labelled frames, and exact ground "
        "truth for every frame (ground-truth/). Opens the existing one if present. "
        "--view side renders a mouse reaching for a joystick instead (small parts, "
        "hidden parts, a look-alike paw), to which --rare and --incidents add rare "
        "looks for refinement exercises.",
    )
    p.add_argument("folder", help="where to create the demo project folder")
    p.add_argument("--frames", type=int, default=900, help="frames per video (900)")
    p.add_argument("--labeled", type=int, default=60, help="labelled frames (60)")
    p.add_argument("--videos", type=int, default=1, help="number of videos (1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--animals",
        type=int,
        default=1,
        help="animals (1); more: a multi-animal project whose mice cross and hide "
        "each other, with exact identities",
    )
    p.add_argument(
        "--view",
        choices=["top", "side"],
        default="top",
        help="top: a mouse in an arena (default); side: a mouse reaching for a "
        "joystick (folder side-posekit-<date>)",
    )
    p.add_argument(
        "--rare",
        type=float,
        default=0.0,
        help="side view: probability that a bout is grooming, a rare posture (0)",
    )
    p.add_argument(
        "--incidents",
        type=int,
        default=0,
        help="side view: bouts of each lab incident per video (glare, the "
        "experimenter's shadow, the camera out of focus; frames listed in "
        "ground-truth/<video>_incidents.csv) (0)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Build (or open) the demo project and print its folder.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..demo import make_demo_project

    project = make_demo_project(
        args.folder,
        n_frames=args.frames,
        n_labeled=args.labeled,
        n_videos=args.videos,
        seed=args.seed,
        n_animals=args.animals,
        view=args.view,
        rare=args.rare,
        incidents=args.incidents,
    )
    print(project.path)
    return EXIT_OK
