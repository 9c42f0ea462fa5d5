"""``posekit train`` says at the start when it resumes, and a run at its limit shows no bar.

QA s21 (cluster): a requeued ``posekit train`` printed no line saying it resumed (only
the bar starting at the snapshot's iteration and the final line), although the first
line of a job's log is where a user checks that. A resumed run with nothing left to
do (already at ``--iterations``) wrote the progress bar twice into a log: its first
and last lines, the same line.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from posekit.engine.cli import main
from posekit.engine.project import Project


@pytest.fixture
def trained(tiny_trained_writable: Project) -> Project:
    """Return a writable copy of the demo with the tiny network trained."""
    return tiny_trained_writable


def _train(*args: str) -> tuple[int, str, list[str]]:
    """Run ``posekit train`` as a batch job: stdout and stderr into one log.

    Returns the exit code, stdout, and the log's lines in the order written.
    """
    out, log = io.StringIO(), io.StringIO()

    class Both(io.StringIO):
        def write(self, text: str) -> int:
            out.write(text)
            return log.write(text)

    with contextlib.redirect_stdout(Both()), contextlib.redirect_stderr(log):
        rc = main(["train", *args])
    return rc, out.getvalue(), log.getvalue().splitlines()


def test_a_resumed_training_says_so_first(trained: Project) -> None:
    path = str(trained.path)
    rc, out, log = _train(path, "--iterations", "5")
    assert rc == 0
    line = "resuming shuffle 1 from snapshot-3 (iteration 3 of 5)"
    assert out.splitlines()[0] == line  # on stdout, first
    bars = [i for i, text in enumerate(log) if text.startswith("training:")]
    assert bars and log.index(line) < bars[0]  # before the progress bar
    assert "trained to iteration 5 (from 3; max_iterations)" in out

    # nothing left to do: the line, no progress bar (it was written twice)
    rc, out, log = _train(path, "--iterations", "5")
    assert rc == 0
    assert (
        out.splitlines()[0] == "resuming shuffle 1 from snapshot-5 (iteration 5 of 5)"
    )
    assert "nothing to train: the snapshot is already at iteration 5" in out
    assert not [text for text in log if text.startswith("training:")]


def test_a_fresh_training_prints_no_resume_line(trained: Project) -> None:
    rc, out, log = _train(
        str(trained.path),
        "--fresh",
        "--iterations",
        "2",
        "--backbone",
        "mobilenet_v2_0.35",
        "--weights",
        "none",
    )
    assert rc == 0
    assert "resuming" not in out
    assert "trained to iteration 2 (from 0; max_iterations)" in out
    assert [text for text in log if text.startswith("training:")]  # the bar shows
