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
from ._common import EXIT_OK, run_command

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
        The exit code: 0 on success, 2 after bad input, 130 after Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.version:
        from .. import __version__

        print(__version__)
        return EXIT_OK
    if not args.command:
        parser.print_help()
        return EXIT_OK
    from .._tf import quiet_startup

    quiet_startup(not args.verbose)
    name = getattr(args, "_command_name", f"posekit {args.command}")
    return run_command(name, _COMMANDS[args.command], args)
