"""What the ``posekit`` commands share: arguments, project loading, errors, exit codes.

A command module imports only this module and the standard library at its top; the
engine modules it needs are imported inside its ``run``, so that ``posekit --help``
and the commands that need no network never import TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..project import Project

__all__ = [
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "add_project_arg",
    "comma_names",
    "fail",
    "load_project",
    "run_command",
]

#: Exit code of a command that did its work.
EXIT_OK = 0
#: Exit code of a command stopped by bad input (argparse uses it for usage errors too).
EXIT_ERROR = 2
#: Exit code after Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def add_project_arg(parser: argparse.ArgumentParser) -> None:
    """Add the ``project`` positional argument that most commands take first.

    Parameters
    ----------
    parser
        The command's parser.
    """
    parser.add_argument(
        "project",
        help="project folder (the one holding config.yaml) or its config.yaml",
    )


def add_training_set_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--trainingsetindex``: which of the config's ``TrainingFraction`` to use.

    Parameters
    ----------
    parser
        The command's parser.
    """
    parser.add_argument(
        "--trainingsetindex",
        type=int,
        default=0,
        metavar="I",
        help="which of config.yaml's TrainingFraction (DeepLabCut's "
        "trainingsetindex; default 0, the first)",
    )


def load_project(path: str) -> Project:
    """Open the project at ``path`` (its folder or its ``config.yaml``).

    Parameters
    ----------
    path
        Folder or ``config.yaml``.

    Returns
    -------
    Project
        The project.

    Raises
    ------
    FileNotFoundError
        If there is no ``config.yaml`` (the message says how to create a project).
    ValueError
        If the configuration cannot be read.
    """
    from ..project import load_project as _load_project

    return _load_project(path)


def comma_names(text: str | None) -> list[str]:
    """Split ``"a, b ,c,"`` into ``["a", "b", "c"]`` (``None`` or ``""``: ``[]``)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def fail(message: str) -> int:
    """Print ``posekit: <message>`` to stderr and return :data:`EXIT_ERROR`.

    Parameters
    ----------
    message
        What went wrong and what to do.

    Returns
    -------
    int
        :data:`EXIT_ERROR`.
    """
    print(f"posekit: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_command(name: str, handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's handler and turn its failures into exit codes.

    Bad input (a missing file, a wrong value) is reported on stderr
    as ``<name>: error: <message>`` without a traceback; Ctrl-C as
    ``posekit: interrupted``.

    Parameters
    ----------
    name
        The command as typed, e.g. ``"posekit filter"``.
    handler
        The command's ``run``.
    args
        The parsed arguments.

    Returns
    -------
    int
        The handler's exit code, :data:`EXIT_ERROR` after bad input or
        :data:`EXIT_INTERRUPTED` after Ctrl-C.
    """
    try:
        with _terminate_as_interrupt():
            return int(handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("posekit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return EXIT_ERROR


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Raise KeyboardInterrupt on SIGTERM while the block runs (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
