"""``posekit analyze``: predict keypoints in videos."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import EXIT_OK, add_project_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "analyze"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit analyze`` to the command line.

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
        help="predict keypoints in videos; writes DLC-named .h5 (and .csv)",
        description="Analyse videos with the trained network of a shuffle. Writes "
        "<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5 beside each video (or in "
        "--dest), DeepLabCut's layout, plus _meta.pickle.",
    )
    add_project_arg(p)
    p.add_argument("videos", nargs="*", help="videos (default: all of the project)")
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument("--dest", help="output folder (default: beside each video)")
    p.add_argument("--csv", action="store_true", help="also write .csv")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="resize frames by this factor before inference (e.g. 0.5)",
    )
    p.add_argument(
        "--netcdf", action="store_true", help="also write a netCDF poses file"
    )
    p.add_argument(
        "--no-tflite",
        action="store_true",
        help="use TensorFlow instead of the (faster) TFLite runtime",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Analyse the videos and print each file written.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..api import analyze_videos

    project = load_project(args.project)
    videos = [Path(v) for v in args.videos] or project.videos()
    outputs = analyze_videos(
        project,
        videos,
        shuffle=args.shuffle,
        destfolder=args.dest,
        save_as_csv=args.csv,
        batch_size=args.batch_size,
        scale=args.scale,
        netcdf=args.netcdf,
        use_tflite=not args.no_tflite,
    )
    for out in outputs:
        print(out)
    return EXIT_OK
