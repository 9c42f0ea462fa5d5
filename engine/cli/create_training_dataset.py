"""``posekit create-training-dataset``: merged labels and recorded train/test splits."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, add_project_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "create-training-dataset"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit create-training-dataset`` to the command line.

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
        help="merge labels and write a recorded train/test split per shuffle",
        description="Merge all labels into training-datasets/ and write the split "
        "(DeepLabCut's Documentation_data pickle). Existing splits are kept, "
        "mapped by image onto changed labels.",
    )
    add_project_arg(p)
    p.add_argument(
        "--shuffles", default="1", help="comma-separated shuffle numbers (1)"
    )
    p.add_argument("--train-fraction", type=float, help="(config TrainingFraction)")
    p.add_argument(
        "--test-frames", help="comma-separated image names for a fixed test split"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--net-type",
        type=_net_type,
        metavar="NAME",
        help="DeepLabCut's net_type: the network these shuffles train, recorded in "
        "each one's pose_cfg.yaml, e.g. resnet_50, mobilenet_v2_0.35, "
        "efficientnet_lite0 (default: config.yaml's default_net_type)",
    )
    return p


def _net_type(text: str) -> str:
    """Parse ``--net-type``: a network name, as ``create_training_dataset`` takes it."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "give a network name, e.g. resnet_50 or efficientnet_lite0, or leave "
            "--net-type out (config.yaml's default_net_type)"
        )
    return text.strip()


def run(args: argparse.Namespace) -> int:
    """Write the training set and print each shuffle's split sizes.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..dataset import create_training_dataset

    project = load_project(args.project)
    splits = create_training_dataset(
        project,
        shuffles=[int(s) for s in args.shuffles.split(",")],
        train_fraction=args.train_fraction,
        seed=args.seed,
        test_frames=args.test_frames.split(",") if args.test_frames else None,
        net_type=args.net_type,
    )
    several = len({s.train_fraction for s in splits}) > 1  # TrainingFraction: [..]
    net = f"; net_type {args.net_type}" if args.net_type else ""
    for s in splits:
        which = f" ({s.train_fraction:.0%} for training)" if several else ""
        print(
            f"shuffle {s.shuffle}{which}: {len(s.train_indices)} train, "
            f"{len(s.test_indices)} test frames{net}"
        )
    return EXIT_OK
