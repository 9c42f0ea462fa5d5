"""``posekit export-model``: the file to write as ``--out FILE`` (as other commands).

The file used to be positional only; it stays so for existing scripts, and giving
both is refused before anything is read or written.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import posekit.engine.export as export
from posekit.engine.cli import main
from posekit.engine.demo import make_demo_project


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """Record the file each ``export_model`` call is asked to write (no network)."""
    calls: list = []

    def fake_export(project, out=None, **kwargs):
        calls.append(out)
        return tmp_path / "written.posekit.zip"

    card = SimpleNamespace(summary=lambda: "card")
    monkeypatch.setattr(export, "export_model", fake_export)
    monkeypatch.setattr(
        export, "load_model_file", lambda out: SimpleNamespace(card=card)
    )
    return calls


def test_out_option_positional_or_neither(tmp_path, exported, capsys) -> None:
    project = make_demo_project(tmp_path, n_frames=10, n_labeled=0, size=(160, 120))
    path = str(project.path)
    assert main(["export-model", path, "--out", "mouse", "--no-int8"]) == 0
    assert main(["export-model", path, "old-style.posekit.zip"]) == 0
    assert main(["export-model", path]) == 0  # exported-models/<scorer>.posekit.zip
    assert exported == ["mouse", "old-style.posekit.zip", None]
    assert capsys.readouterr().out.splitlines()[-1].endswith("written.posekit.zip")


def test_the_file_given_twice_is_refused(tmp_path, exported, capsys) -> None:
    argv = ["export-model", str(tmp_path / "no-project"), "a.posekit.zip"]
    assert main([*argv, "--out", "b.posekit.zip"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posekit export-model: error: the file to write is given")
    assert "'a.posekit.zip' and --out 'b.posekit.zip'" in err and "--out FILE" in err
    assert exported == []
