r"""Progress bars that suit both a terminal and a batch job's log file.

Every progress bar of posekit comes from :func:`progress_bar`. On a terminal it is
tqdm's bar, redrawn in place. When stderr is not a terminal (a SLURM job's
``slurm-*.out``, ``posekit ... 2> log``), redrawing in place writes a ``\r`` and a
new bar ten times a second into one endless line of the log; there the bar prints a
plain line instead, at most every :data:`LOG_INTERVAL_S` seconds, plus one when it
starts and one when it ends: done/total, elapsed, remaining (ETA) and rate, e.g.
``session1.mp4:  45%| 405/900 frames [00:30<00:37, 13.5frames/s]``.

``posekit --quiet`` turns every bar off (:func:`set_quiet`); the library's own
``progress=False`` arguments still do so for one call.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm.std import tqdm

__all__ = ["LOG_INTERVAL_S", "progress_bar", "set_quiet"]

#: Seconds between two progress lines when stderr is not a terminal.
LOG_INTERVAL_S = 30.0

_SETTINGS: dict[str, Any] = {"quiet": False}


def set_quiet(on: bool = True) -> None:
    """Show no progress bars in this process (``posekit --quiet``).

    Parameters
    ----------
    on
        ``True``: no bars; ``False``: bars as usual.
    """
    _SETTINGS["quiet"] = bool(on)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class _Lines:
    r"""A file for tqdm that turns each ``\r``-redraw into one line of its own.

    A line the same as the one before is left out: a bar with nothing to count
    (a rerun whose work is all on disk) is drawn at its start and again when it
    closes.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        # tqdm also writes bare "\r", "\n" and blanks to clear a bar
        if line and line != self._last:
            self.stream.write(line + "\n")
            self._last = line

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(
    total: int | None = None,
    *,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    file: IO[str] | None = None,
    **kwargs: Any,
) -> Any:
    r"""Return a tqdm bar: redrawn on a terminal, plain lines in a log file.

    Parameters
    ----------
    total
        The number of units to do (``None``: unknown, no percentage or ETA).
    desc, unit
        The bar's label and unit.
    disable
        No bar (it still counts); also when :func:`set_quiet` was called.
    file
        Where it writes (default ``sys.stderr``).
    **kwargs
        More tqdm arguments (``initial``, ``dynamic_ncols``, ...).

    Returns
    -------
    tqdm.tqdm
        The bar (``update``, ``set_postfix``, ``close``, a context manager).

    Examples
    --------
    >>> import io
    >>> log = io.StringIO()
    >>> with progress_bar(3, desc="frames", unit="f", file=log) as bar:
    ...     bar.update(3)
    >>> "\r" in log.getvalue(), log.getvalue().splitlines()[-1].startswith("frames")
    (False, True)
    """
    from tqdm.auto import tqdm as auto_tqdm

    stream = sys.stderr if file is None else file
    disable = disable or _SETTINGS["quiet"]
    if disable or _is_terminal(stream):
        return auto_tqdm(
            total=total, desc=desc, unit=unit, disable=disable, file=file, **kwargs
        )
    kwargs.pop("dynamic_ncols", None)
    kwargs.pop("mininterval", None)
    return _LogBar(
        total=total,
        desc=desc,
        unit=unit,
        file=_Lines(stream),
        mininterval=LOG_INTERVAL_S,
        maxinterval=float("inf"),
        miniters=1,
        ncols=80,
        ascii=True,
        **kwargs,
    )


class _LogBar(tqdm):
    """A bar for a log file: postfix and description changes wait for the next line."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):  # noqa: ARG002
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc=None, refresh=True):  # noqa: ARG002
        super().set_description(desc, refresh=False)
