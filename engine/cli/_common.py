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
    "EXIT_TERMINATED",
    "EXIT_BUSY",
    "add_project_arg",
    "add_shuffle_arg",
    "comma_names",
    "fail",
    "load_project",
    "positive_float",
    "positive_int",
    "run_command",
]

#: Exit code of a command that did its work.
EXIT_OK = 0
#: Exit code of a command stopped by bad input (argparse uses it for usage errors too).
EXIT_ERROR = 2
#: Exit code after Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130
#: Exit code after SIGTERM (128 + SIGTERM): a scheduler's time limit, ``scancel``.
EXIT_TERMINATED = 143
#: Exit code when the job is refused because another one runs (sysexits'
#: EX_TEMPFAIL): the same analysis or training already runs; try again later.
EXIT_BUSY = 75

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


def add_shuffle_arg(
    parser: argparse.ArgumentParser, *, default: int | None = 1, help: str | None = None
) -> None:
    """Add ``--shuffle``: which shuffle's network (DeepLabCut's shuffle number).

    Parameters
    ----------
    parser
        The command's parser.
    default, help
        The default shuffle and the help text (default: shuffle 1, said so).
    """
    parser.add_argument(
        "--shuffle",
        type=int,
        default=default,
        metavar="N",
        help=help or "which shuffle's network (DeepLabCut's shuffle; default 1)",
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


def positive_int(text: str) -> int:
    """Parse an option's value as a whole number of at least 1 (an argparse type).

    Parameters
    ----------
    text
        The value as typed.

    Returns
    -------
    int
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        It is not a whole number of at least 1.

    Examples
    --------
    >>> positive_int("4")
    4
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be 1 or more (a whole number); got {text!r}"
        )
    return value


def positive_float(text: str) -> float:
    """Parse an option's value as a number above 0 (an argparse type).

    Parameters
    ----------
    text
        The value as typed.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        It is not a number above 0.

    Examples
    --------
    >>> positive_float("0.5")
    0.5
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


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

    Bad input (a missing file, a wrong value) and a missing optional package
    (an ``ImportError`` whose message says what to ``pip install``) are reported on
    stderr as ``<name>: error: <message>`` without a traceback; Ctrl-C as
    ``posekit: interrupted``, and SIGTERM (a scheduler's time limit) as Ctrl-C,
    with its own exit code.

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
        The handler's exit code, :data:`EXIT_ERROR` after bad input,
        :data:`EXIT_BUSY` when another analysis or training holds the job's lock
        (:class:`~posekit.engine.locks.JobLockError`),
        :data:`EXIT_INTERRUPTED` after Ctrl-C or :data:`EXIT_TERMINATED` after
        SIGTERM.
    """
    terminated: list[int] = []
    try:
        with _terminate_as_interrupt(terminated):
            code = int(handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("posekit: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except ImportError as err:
        if "pip install" not in str(err):  # not posekit's message: a bug, show it
            raise
        print(f"{name}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"{name}: error: {err}{_not_writable_hint(err)}", file=sys.stderr)
        return EXIT_BUSY if _busy(err) else EXIT_ERROR
    if terminated and code == EXIT_INTERRUPTED:  # a training catches it and saves
        return EXIT_TERMINATED
    return code


def _not_writable_hint(err: BaseException) -> str:
    """Say what to do when a command cannot write into a folder (read-only project)."""
    import errno

    if not isinstance(err, OSError) or err.errno not in (errno.EROFS, errno.EACCES):
        return ""
    return (
        ". The command writes into that folder, which must be writable for this "
        "user: work on a writable copy of the project; to analyse videos of a "
        "read-only project write the outputs elsewhere (posekit analyze … --dest "
        "FOLDER), or share its model (posekit export-model PROJECT model.posekit.zip; "
        "posekit analyze --model model.posekit.zip VIDEO)"
    )


def _busy(err: BaseException) -> bool:
    """Whether ``err`` refused a job because another one runs (:data:`EXIT_BUSY`)."""
    from ..locks import JobLockError

    return isinstance(err, JobLockError)


@contextlib.contextmanager
def _terminate_as_interrupt(received: list[int]) -> Iterator[None]:
    """Raise KeyboardInterrupt on SIGTERM while the block runs (main thread only).

    Each SIGTERM received is appended to ``received``.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
