"""``posekit labeled-video``: draw the predictions on the video."""

from __future__ import annotations

import argparse

from ._common import (
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    add_training_set_arg,
    comma_names,
    load_project,
)
from .filter import TRACK_METHODS, read_line

__all__ = ["NAME", "add_parser", "run"]

NAME = "labeled-video"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit labeled-video`` to the command line.

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
        help="draw the predictions on the video; writes "
        "<predictions>_p<pcutoff*100>_labeled.mp4",
        description="Create labelled videos as DeepLabCut's create_labeled_video: "
        "keypoints above the p-cutoff, the skeleton and optional fading trails, drawn "
        "on every frame. Writes <predictions stem>_p<pcutoff*100>_labeled.mp4 "
        "(_p60_ for a p-cutoff of 0.6, as DeepLabCut names it; H.264, plays in "
        "browsers) beside the predictions. Several animals: the tracks of "
        "--track-method. Prints each file read and each file written.",
    )
    add_project_arg(p)
    p.add_argument(
        "files",
        nargs="*",
        help="videos, folders of videos or prediction .h5 files (default: all "
        "videos of the project)",
    )
    p.add_argument("--pcutoff", type=float, help="(config pcutoff)")
    p.add_argument(
        "--trail", type=int, default=0, help="trail length in frames (0: none)"
    )
    p.add_argument(
        "--no-skeleton", action="store_true", help="do not draw the skeleton"
    )
    p.add_argument(
        "--filtered", action="store_true", help="use the _filtered.h5 predictions"
    )
    p.add_argument(
        "--codec",
        choices=["auto", "h264", "mjpeg", "mp4v"],
        default="auto",
        help="h264 .mp4 (auto, plays in browsers), mjpeg .avi, mp4v .mp4",
    )
    p.add_argument("--dotsize", type=int, help="dot radius in px (config dotsize)")
    p.add_argument(
        "--color-by",
        choices=("bodypart", "individual"),
        default="bodypart",
        help="one colour per bodypart, or per animal (several animals)",
    )
    p.add_argument(
        "--bodyparts",
        metavar="NAMES",
        help="comma-separated bodyparts to draw (default: all)",
    )
    p.add_argument(
        "--track-method",
        choices=TRACK_METHODS,
        default=None,
        help="several animals: draw the tracks of this tracker (…_el.h5, …_bx.h5, "
        "…_sk.h5; default: the config's default_track_method, as DeepLabCut)",
    )
    add_shuffle_arg(
        p,
        default=None,
        help="take the predictions of this shuffle's network (as analyze, with "
        "DeepLabCut's choice of snapshot; default: each video's newest)",
    )
    add_training_set_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Write a labelled video per predictions file; print the file read and written.

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
    from ..api import create_labeled_video, video_predictions
    from ..postprocessing import track_method_of

    project = load_project(args.project).for_training_set(args.trainingsetindex)
    track_method = track_method_of(project, args.track_method)
    for predictions in video_predictions(
        project,
        args.files,
        filtered=args.filtered,
        shuffle=args.shuffle,
        track_method=track_method,
    ):
        print(read_line(predictions, args.track_method, track_method), flush=True)
        (out,) = create_labeled_video(
            project,
            [predictions],
            pcutoff=args.pcutoff,
            draw_skeleton=not args.no_skeleton,
            trail_length=args.trail,
            dotsize=args.dotsize,
            codec=args.codec,
            color_by=args.color_by,
            bodyparts=comma_names(args.bodyparts) if args.bodyparts else None,
            overwrite=True,  # new settings apply (logged: "overwriting <path>")
        )
        print(f"wrote {out}", flush=True)
    return EXIT_OK
