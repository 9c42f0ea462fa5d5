"""The ``posekit`` command line: the same verbs as the Python API, for clusters and scripts.

Each subcommand takes the project folder (or its ``config.yaml``) first. Run
``posekit <command> --help`` for the options of one step.

One module per command (``demo.py``, ``train.py``, ``behavior.py``, ...), each with
``NAME``, ``add_parser(subparsers)`` and ``run(args) -> int``, listed in
:data:`COMMAND_MODULES` in the order of the help. A new command is a new module here
and a line in that list. What the commands share (the project argument, project
loading, exit codes and error messages) is in ``_common.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from . import (
    analyze,
    analyze_images,
    behavior,
    check_labels,
    convert,
    create,
    create_training_dataset,
    demo,
    evaluate,
    export_model,
    extract_frames,
    extract_outliers,
    import_project,
    label,
    labeled_video,
    live,
    merge,
    train,
)
from . import filter as filter_predictions
from ._common import EXIT_ERROR, EXIT_OK, positive_int, run_command

__all__ = ["COMMAND_MODULES", "main", "build_parser"]

#: The command modules, in the order ``posekit --help`` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    demo,
    create,
    extract_frames,
    check_labels,
    create_training_dataset,
    train,
    evaluate,
    analyze,
    filter_predictions,
    labeled_video,
    behavior,
    convert,
    export_model,
    live,
    extract_outliers,
    label,
    merge,
    import_project,
    analyze_images,
)

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    module.NAME: module.run for module in COMMAND_MODULES
}

EPILOG = """\
a typical session:
  posekit demo ~/posekit-demo                      # or: posekit create TASK NAME VIDEO...
  posekit extract-frames PROJECT --mode kmeans -n 20
  (label the frames in the labelling app: make app)
  posekit create-training-dataset PROJECT
  posekit train PROJECT --minutes 10
  posekit evaluate PROJECT
  posekit analyze PROJECT VIDEO... --csv
  posekit filter PROJECT --method median --window 5
  posekit labeled-video PROJECT --trail 10

exit status:
  0    the command did its work
  2    bad input or a failure, said on stderr in one line (also a partial
       batch: some videos analysed, others not); usage errors too
  75   the project or video is busy (another job holds its lock); retry later
  130  interrupted by Ctrl-C (SIGINT); a training saves a snapshot first
  143  stopped by SIGTERM (a scheduler's time limit or scancel), as Ctrl-C

progress: on a terminal a bar; in a log file (stderr not a terminal) a plain
line every 30 s with done/total, rate and ETA; --quiet: none.
"""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The ``posekit`` parser.
    """
    parser = argparse.ArgumentParser(
        prog="posekit",
        description="posekit: markerless animal pose estimation (DeepLabCut-compatible "
        "projects, Keras models, fast CPU analysis).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="warnings and errors only, no progress bars",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        dest="cpu_threads",
        help="use at most N CPU threads (default: the CPUs this job may use: "
        "SLURM_CPUS_PER_TASK, OMP_NUM_THREADS and the CPU affinity, the smallest)",
    )
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code (the main help's "exit status"): 0 on success, 2 after bad
        input, 75 when a lock is held, 130 after Ctrl-C, 143 after SIGTERM.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not _intermixed(_innermost(parser, args), args, extra):
        # said by the (sub)command's parser, with its own usage line
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.verbose and args.quiet:
        parser.error("-v/--verbose and -q/--quiet exclude each other")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.version:
        from .. import __version__

        print(__version__)
        return EXIT_OK
    if not args.command:  # a script that forgot its command must not "succeed"
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    from .._progress import set_quiet
    from .._tf import quiet_startup, set_threads

    quiet_startup(not args.verbose)
    set_quiet(args.quiet)
    set_threads(args.cpu_threads)
    name = getattr(args, "_command_name", f"posekit {args.command}")
    return run_command(name, _COMMANDS[args.command], args)


def _intermixed(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> bool:
    """Take files given after an option into the command's list of files.

    argparse fills a ``nargs="*"`` positional (``files``, ``videos``) from the
    arguments before the first option only: ``posekit filter P --method median
    F.h5`` left ``F.h5`` unrecognized. When every argument left over is a value (no
    ``-``) and the command has one such list, they are added to it, in order.

    Returns
    -------
    bool
        Whether ``extra`` was taken.
    """
    if any(a.startswith("-") for a in extra):
        return False
    lists = [
        a
        for a in parser._actions
        if not a.option_strings and a.nargs in ("*", "+") and a.dest != "command"
    ]
    if len(lists) != 1:
        return False
    dest = lists[0].dest
    setattr(args, dest, [*(getattr(args, dest, None) or []), *extra])
    return True


def _innermost(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """Return the parser of the (sub)subcommand that ``args`` chose."""
    while True:
        sub = next(
            (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
            None,
        )
        chosen = getattr(args, sub.dest, None) if sub is not None else None
        if chosen not in getattr(sub, "choices", {}):
            return parser
        parser = sub.choices[chosen]
