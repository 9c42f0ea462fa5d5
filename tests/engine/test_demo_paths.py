"""The demo's folder name is fixed on purpose, and the docs say which it is (QA s16 #11).

``posekit demo DIR`` makes ``DIR/<task>-posekit-2026-01-01`` whatever the day, so the
paths of the README, the quickstart and the guides work anywhere; the multi-animal
guide named only ``DIR``. Each documented folder name must be the one the demo makes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from posekit.engine.demo import make_demo_project

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b(demo|social\d|side)-posekit-(\d{4}-\d\d-\d\d)\b")


@pytest.mark.parametrize(
    ("doc", "animals"),
    [
        ("README.md", 1),
        ("docs/quickstart.md", 1),
        ("docs/guides/project.md", 1),
        ("docs/guides/multi_animal.md", 3),
    ],
)
def test_documented_demo_folder_is_the_one_made(doc, animals, tmp_path) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    task = "demo" if animals == 1 else f"social{animals}"
    named = {m.group(0) for m in NAME.finditer(text) if m.group(1) == task}
    assert named, f"{doc} does not name the demo's folder ({task}-posekit-<date>)"
    project = make_demo_project(
        tmp_path,
        n_frames=4,
        n_labeled=0,
        size=(160, 120),
        label=False,
        n_animals=animals,
    )
    assert named == {Path(project.path).name}


def test_the_multi_animal_guide_says_why_the_date_is_fixed() -> None:
    text = (ROOT / "docs/guides/multi_animal.md").read_text(encoding="utf-8")
    assert "date is fixed on purpose" in text
