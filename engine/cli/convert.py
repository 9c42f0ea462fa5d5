"""``posekit convert``: one tracking file into another format."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, fail

__all__ = ["NAME", "add_parser", "run"]

NAME = "convert"

#: Formats written under their own name but read by another format's loader.
READ_AS = {"SLEAP-analysis": "SLEAP"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit convert`` to the command line.

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
        help="convert a tracking file between formats (DLC, SLEAP, netCDF, ...)",
        description="Read a tracking file (the format is recognised from its "
        "content) and write it in another format, chosen by --to or by OUT's "
        "extension (.h5/.csv: DeepLabCut, .nc: netCDF). DeepLabCut to DeepLabCut "
        "(.csv to .h5 and back) keeps the table as it is: a label file stays a label "
        "file, with its image paths and labeller (DeepLabCut's convertcsv2h5). The "
        "input is read completely before anything is written; a malformed input "
        "writes nothing. --list shows the formats.",
    )
    p.add_argument("input", nargs="?", metavar="IN", help="the file to convert")
    p.add_argument("output", nargs="?", metavar="OUT", help="the file to write")
    p.add_argument("--to", metavar="FORMAT", help="output format (default: from OUT)")
    p.add_argument(
        "--from",
        dest="source_format",
        metavar="FORMAT",
        help="input format (default: recognised from the content)",
    )
    p.add_argument(
        "--fps",
        type=float,
        help="frames per second of the input (default: the rate the input records, "
        "else that of the video it names or is named after; without any, NWB "
        "timestamps are frame numbers, with a warning)",
    )
    p.add_argument("--list", action="store_true", help="list the formats and exit")
    return p


def run(args: argparse.Namespace) -> int:
    """Convert ``IN`` to ``OUT`` and print the file written (or list the formats).

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..io import convert, export_formats, list_formats

    if args.list:
        saves = export_formats()
        for name in list_formats()["load"]:
            out = ", ".join(saves[name]) if name in saves else "-"
            print(f"{name:16s} read: yes   write: {out}")
        for name in saves:
            if name not in list_formats()["load"]:
                read = f"yes (as {READ_AS[name]})" if name in READ_AS else "-"
                print(f"{name:16s} read: {read:5s} write: {', '.join(saves[name])}")
        return EXIT_OK
    if not args.input or not args.output:
        return fail("convert needs IN and OUT (or --list)")
    out = convert(
        args.input,
        args.output,
        to=args.to,
        source_format=args.source_format,
        fps=args.fps,
    )
    print(out)
    return EXIT_OK
