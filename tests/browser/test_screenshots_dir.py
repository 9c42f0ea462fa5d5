"""``make test`` never rewrites tracked files: screenshots go to a temporary folder.

Only ``make screenshots`` (which sets ``POSEKIT_SCREENSHOTS_DIR`` to
``docs/_static/screenshots``) updates the committed screenshots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import SCREENSHOTS_ENV, screenshots_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = sorted(Path(__file__).parent.glob("*.py"))


def test_screenshots_go_to_the_temporary_folder_unless_a_folder_is_named(
    tmp_path,
) -> None:
    temporary = tmp_path / "tmp-shots"
    assert screenshots_folder({}, temporary) == temporary
    assert temporary.is_dir()
    chosen = tmp_path / "docs-shots"
    assert screenshots_folder({SCREENSHOTS_ENV: str(chosen)}, temporary) == chosen
    assert chosen.is_dir()


def test_screenshots_dir_is_outside_the_repository(screenshots_dir) -> None:
    if os.environ.get(SCREENSHOTS_ENV):
        assert screenshots_dir == Path(os.environ[SCREENSHOTS_ENV]).expanduser()
    else:
        assert not screenshots_dir.resolve().is_relative_to(REPO_ROOT)


def test_no_browser_test_builds_a_path_into_the_docs() -> None:
    into_docs = re.compile(r"""REPO_ROOT\s*/\s*["']docs["']""")
    offenders = [p.name for p in BROWSER_TESTS if into_docs.search(p.read_text())]
    assert offenders == [], f"these tests write into docs/: {offenders}"
    using = [p.name for p in BROWSER_TESTS if ".screenshot(" in p.read_text()]
    assert len(using) >= 4
    for path in BROWSER_TESTS:
        text = path.read_text()
        if ".screenshot(" in text and path.name != "conftest.py":
            assert "screenshots_dir" in text or "tmp_path" in text, path.name
