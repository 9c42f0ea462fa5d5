"""Progress bars in a terminal and in a batch job's log file (QA s15, finding 5)."""

from __future__ import annotations

import io

import pytest

from posekit.engine import _progress
from posekit.engine._progress import progress_bar, set_quiet


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_file_gets_plain_lines_at_a_low_rate(monkeypatch) -> None:
    """Not a carriage return and a new bar ten times a second into one log line."""
    log = io.StringIO()
    with progress_bar(900, desc="v1.mp4", unit="frames", file=log) as bar:
        for _ in range(90):
            bar.update(10)
            bar.set_postfix(loss="0.1")  # must not force a line either
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 2, lines  # started, finished: < LOG_INTERVAL_S apart
    assert lines[-1].startswith("v1.mp4: 100%") and "900/900" in lines[-1]
    assert "frames/s" in lines[-1]  # the rate


def test_a_log_line_every_interval_with_the_eta(monkeypatch) -> None:
    monkeypatch.setattr(_progress, "LOG_INTERVAL_S", 0.0)
    log = io.StringIO()
    bar = progress_bar(100, desc="training", unit="it", file=log)
    bar.update(40)
    bar.close()
    lines = log.getvalue().splitlines()
    assert any("40/100" in line and "<" in line for line in lines), lines  # ETA
    assert "\r" not in log.getvalue()


def test_a_bar_with_nothing_to_count_is_one_line() -> None:
    """Drawn at its start and again when it closes: the same line once in the log."""
    log = io.StringIO()
    with progress_bar(5, desc="chunks", unit="frames", file=log, initial=5):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chunks: 100%"), lines


def test_a_terminal_keeps_the_redrawn_bar() -> None:
    term = _Terminal()
    with progress_bar(10, desc="x", file=term) as bar:
        bar.update(10)
    assert "\r" in term.getvalue()


@pytest.mark.parametrize("stream", [io.StringIO, _Terminal])
def test_quiet_shows_no_bar(stream, monkeypatch) -> None:
    monkeypatch.setitem(_progress._SETTINGS, "quiet", False)
    set_quiet(True)
    out = stream()
    with progress_bar(10, desc="x", file=out) as bar:
        bar.update(10)
    set_quiet(False)
    assert out.getvalue() == ""
