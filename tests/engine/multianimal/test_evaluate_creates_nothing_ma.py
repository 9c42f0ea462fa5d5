"""A multi-animal evaluation of an untrained shuffle writes nothing (QA s21 cluster 2).

``evaluate_multianimal`` made the shuffle's split before it looked for a network, so a
mistyped shuffle left a new split behind, which a later training would use without a
word; DeepLabCut's ``evaluate_network`` creates nothing.
"""

from __future__ import annotations

import hashlib

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.multianimal.api import evaluate_multianimal


def _tree(root) -> dict:
    return {
        p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_an_untrained_shuffle_is_refused_and_nothing_is_written(tmp_path) -> None:
    project = make_demo_project(
        tmp_path, n_frames=8, n_labeled=4, size=(160, 120), n_animals=2
    )
    before = _tree(project.path)
    with pytest.raises(FileNotFoundError, match="shuffle 7 is not trained") as err:
        evaluate_multianimal(project, shuffle=7)
    assert "create-training-dataset PROJECT --shuffles 7" in str(err.value)
    assert _tree(project.path) == before
