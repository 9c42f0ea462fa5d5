"""Execute every shipped notebook top to bottom (as Voila and JupyterLab would)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# the tutorial first: it trains and analyses the shared demo project, so the apps
# after it open a project as a user has it (a model, predictions), not only a new one
NOTEBOOKS = sorted(
    (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"),
    key=lambda p: (p.stem != "tutorial", p.stem),
)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """One demo project shared by the notebooks (built by the first that needs it)."""
    return tmp_path_factory.mktemp("notebook-demo")


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, demo_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("POSEKIT_DEMO_DIR", str(demo_dir))
    monkeypatch.setenv("POSEKIT_FAST", "1")  # tutorials shorten trainings under test
    monkeypatch.delenv("POSEKIT_PROJECT", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors
    # TensorFlow's C++ start-up lines (CUDA probing, oneDNN) are red text in an app
    chatter = [
        out["text"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("name") == "stderr"
        and any(w in out["text"] for w in ("cuda", "oneDNN", "cuInit"))
    ]
    assert not chatter, chatter
    # an app that cannot open shows its error in the page (show_app), not as an error
    # output: look for it in the widgets' state
    widgets = json.dumps(nb.metadata.get("widgets", {}))
    assert "The app could not open" not in widgets, widgets[:3000]
    assert os.environ["POSEKIT_DEMO_DIR"] == str(demo_dir)
