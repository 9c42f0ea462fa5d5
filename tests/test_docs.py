"""The documentation.

The Sphinx build passes with warnings as errors, and the API reference lists every
public module.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"


def _public_modules() -> set[str]:
    found = set()
    for package, folder in (
        ("posekit.engine", "engine"),
        ("posekit.widgets", "widgets"),
    ):
        root = REPO_ROOT / folder
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if any(p.startswith("_") and p != "__init__" for p in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
                if not parts:
                    continue  # the top-level packages: re-exports only
            found.add(".".join([package, *parts]))
    return found


def test_api_reference_lists_every_public_module() -> None:
    listed = set(
        re.findall(r"^\s+(posekit\.[\w.]+)\s*$", (DOCS / "api.md").read_text(), re.M)
    )
    missing = sorted(_public_modules() - listed)
    assert not missing, f"add these modules to docs/api.md: {missing}"
    stale = sorted(m for m in listed - _public_modules() if m != "posekit.widgets")
    assert not stale, f"docs/api.md lists modules that do not exist: {stale}"


@pytest.mark.slow
def test_sphinx_build_without_warnings(tmp_path) -> None:
    out = tmp_path / "html"
    proc = subprocess.run(
        [
            sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
            "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert (out / "index.html").is_file()
    api = out / "api" / "generated" / "posekit.engine.labeled_video.html"
    assert "create_labeled_video" in api.read_text()
    assert (out / "_images" / "viewer_app.png").is_file() or not (
        DOCS / "_static" / "screenshots" / "viewer_app.png"
    ).is_file()
