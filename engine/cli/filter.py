"""``posekit filter``: smooth predictions into DeepLabCut's ``_filtered.h5``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    add_training_set_arg,
    load_project,
)

__all__ = ["NAME", "add_parser", "read_line", "run"]

NAME = "filter"
#: posekit's trackers (``posekit analyze --track-method``).
TRACK_METHODS = ("ellipse", "box", "keypoints")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit filter`` to the command line.

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
        help="smooth predictions; writes DLC's <predictions>_filtered.h5 beside them",
        description="Filter predictions as DeepLabCut's filterpredictions: points below "
        "--pcutoff become NaN (optional), short gaps are interpolated (optional), then "
        "x and y are smoothed (a missing point stays missing, a present one keeps a "
        "value). Writes <predictions stem>_filtered.h5 beside each file, same "
        "columns and likelihoods. Several animals: the tracks of --track-method. "
        "Prints each file read and each file written.",
    )
    add_project_arg(p)
    p.add_argument(
        "files",
        nargs="*",
        help="prediction .h5/.csv files, videos or folders of videos (default: all "
        "videos of the project)",
    )
    p.add_argument("--method", choices=["median", "savgol"], default="median")
    p.add_argument("--window", type=int, default=5, help="window, odd frames (5)")
    p.add_argument("--polyorder", type=int, default=2, help="Savitzky-Golay order (2)")
    p.add_argument(
        "--pcutoff",
        type=float,
        help="likelihood below which points become NaN first (default: keep all)",
    )
    p.add_argument(
        "--max-gap", type=int, help="interpolate gaps up to this many frames"
    )
    p.add_argument("--csv", action="store_true", help="also write _filtered.csv")
    p.add_argument(
        "--track-method",
        choices=TRACK_METHODS,
        default=None,
        help="several animals: filter the tracks of this tracker (…_el.h5, …_bx.h5, "
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
    """Filter each predictions file; print the file read and the file written.

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
    from ..api import filter_predictions, video_predictions
    from ..postprocessing import track_method_of

    project = load_project(args.project).for_training_set(args.trainingsetindex)
    track_method = track_method_of(project, args.track_method)
    for predictions in video_predictions(
        project, args.files, shuffle=args.shuffle, track_method=track_method
    ):
        print(read_line(predictions, args.track_method, track_method), flush=True)
        (out,) = filter_predictions(
            project,
            [predictions],
            method=args.method,
            window=args.window,
            polyorder=args.polyorder,
            pcutoff=args.pcutoff,
            max_gap=args.max_gap,
            save_as_csv=args.csv,
        )
        print(f"wrote {out}", flush=True)
    return EXIT_OK


def read_line(predictions: Path, asked: str | None, taken: str | None) -> str:
    """``read  <file>``; for a tracks file its tracker, and why when not asked for.

    Parameters
    ----------
    predictions
        The predictions file read.
    asked
        ``--track-method`` as given.
    taken
        The tracker whose tracks were looked for (the config's without ``asked``).

    Returns
    -------
    str
        The line.

    Examples
    --------
    >>> print(read_line(Path("m1DLC_5_el.h5"), None, "ellipse"))
    read  m1DLC_5_el.h5 (tracks of 'ellipse', the config's default_track_method)
    >>> print(read_line(Path("m1DLC_5_bx.h5"), "box", "box"))
    read  m1DLC_5_bx.h5 (tracks of 'box')
    """
    from ..postprocessing import file_track_method

    method = file_track_method(predictions)
    if method is None:
        return f"read  {predictions}"
    why = ", the config's default_track_method" if not asked and method == taken else ""
    return f"read  {predictions} (tracks of {method!r}{why})"
