"""Suggested commands quote the project's path (QA s24 paths #6).

``next: … `posekit merge /x/moved dir/demo.proj (copy)``` was a syntax error in bash
(``(``) and passed two arguments (the space).
"""

from __future__ import annotations

import re
import shlex
import shutil

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset
from posekit.engine.project import load_project


def _commands(text: str, verb: str) -> list[list[str]]:
    """Split the ``posekit <verb> …`` commands in backticks or brackets as bash does."""
    found = re.findall(rf"[`(](posekit {verb} [^`]*?)(?:`|\)(?:,|\s|$))", text)
    return [shlex.split(c) for c in found]


def test_suggested_commands_quote_a_path_with_spaces(
    demo_project, fake_analysis, tmp_path, capsys
) -> None:
    odd = tmp_path / "moved dir" / "Maus (v1.2)" / "demo.proj (copy)"
    shutil.copytree(demo_project.path, odd)
    project = load_project(odd)
    create_training_dataset(project)
    fake_analysis(project, {17: 45.0, 58: -50.0})
    path = str(project.path)
    assert main(["extract-outliers", path, "--criteria", "jump"]) == 0
    out = capsys.readouterr().out
    assert _commands(out, "merge") == [["posekit", "merge", path]]
    assert main(["merge", path]) == 2  # nothing corrected yet
    err = capsys.readouterr().err
    assert _commands(err, "label") == [["posekit", "label", path, "--from-predictions"]]
