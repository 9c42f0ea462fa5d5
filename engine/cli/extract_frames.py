"""``posekit extract-frames``: pick frames to label."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_ERROR, EXIT_OK, add_project_arg, fail, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "extract-frames"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit extract-frames`` to the command line.

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
        help="pick frames to label (uniform or k-means) into labeled-data/",
        description="Extract frames for labelling into labeled-data/<video>/img<index>."
        "png (image i is frame i of the video, whatever its container). Frames "
        "extracted before are kept (one that does not show its frame is extracted "
        "again unless it is labelled); config.yaml is not changed. Says why fewer "
        "frames than asked came out, and when a video is not in video_sets. A video "
        "that cannot be read is named; the others are extracted (exit status 2).",
    )
    add_project_arg(p)
    p.add_argument("videos", nargs="*", help="videos (default: all of the project)")
    p.add_argument("--mode", choices=["uniform", "kmeans"], default="kmeans")
    p.add_argument(
        "-n", "--num", type=int, help="frames per video (config numframes2pick)"
    )
    p.add_argument(
        "--start", type=float, help="start fraction of the video (config start)"
    )
    p.add_argument(
        "--stop", type=float, help="stop fraction of the video (config stop)"
    )
    p.add_argument("--crop", help='crop "x1, x2, y1, y2" applied to saved frames')
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args: argparse.Namespace) -> int:
    """Extract frames from each video and print how many went where, and why.

    One line per video (frames, folder, how many new), then its notes: why fewer
    frames than asked came out, a folder made for a video ``video_sets`` does not
    list. The configuration is read, never written.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..video import VideoError, extract_frames

    project = load_project(args.project)
    # the project's own videos, not the labelled videos drawn from them
    videos = [Path(v) for v in args.videos] or project.source_videos()
    if not videos:
        return fail("the project has no videos; add some to videos/")
    code = EXIT_OK
    for v in videos:
        try:
            paths = extract_frames(
                project,
                v,
                mode=args.mode,
                n=args.num,
                start=args.start,
                stop=args.stop,
                crop=args.crop,
                seed=args.seed,
            )
        except VideoError as err:  # the other videos go on; exit status 2
            print(f"posekit extract-frames: {v}: {err}", file=sys.stderr)
            code = EXIT_ERROR
            continue
        new = f"{len(paths.new)} new"
        if paths.existing:
            new += f", {len(paths.existing)} extracted before"
        print(f"{v.name}: {len(paths)} frames in {paths.folder} ({new})")
        for note in paths.notes:
            print(f"  note: {note}")
    return code
