"""``posekit.engine.show_log``: posekit's log lines in a script or notebook.

DeepLabCut prints what each step does; posekit logs it, and Python shows only the
warnings of a logger nobody configured, so a script or notebook saw none of posekit's
INFO lines (which ``posekit -v`` shows on the command line).
"""

from __future__ import annotations

import logging

import pytest

import posekit.engine as pk


@pytest.fixture
def undo():
    yield
    pk.show_log(None)


def test_info_lines_show_on_stderr_and_go_away(undo, monkeypatch, capsys) -> None:
    # Python as a plain script has it: no handler on the root logger (pytest adds
    # its own when the test starts: taken away here, in the test)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    log = logging.getLogger("posekit.engine.training")
    log.info("training crop 256×256")
    assert capsys.readouterr().err == ""  # Python's default: warnings only
    pk.show_log()
    log.info("training crop 256×256")
    pk.show_log()  # again: still one handler, one line
    log.info("again")
    assert capsys.readouterr().err.splitlines() == [
        "INFO posekit.engine.training: training crop 256×256",
        "INFO posekit.engine.training: again",
    ]
    pk.show_log("WARNING")
    log.info("hidden")
    log.warning("shown")
    assert capsys.readouterr().err.splitlines() == [
        "WARNING posekit.engine.training: shown"
    ]
    pk.show_log(None)
    log.info("hidden")
    assert capsys.readouterr().err == ""
    assert logging.getLogger("posekit").level == logging.NOTSET


def test_configured_logging_keeps_its_handlers(monkeypatch) -> None:
    root = logging.getLogger()
    shown: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    monkeypatch.setattr(root, "handlers", [Collect()])
    try:
        pk.show_log()
        logging.getLogger("posekit.engine.api").info("via the root's handler")
        assert shown == ["via the root's handler"]
        assert logging.getLogger("posekit").handlers == []  # none of posekit's
    finally:
        pk.show_log(None)
