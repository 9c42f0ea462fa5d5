"""``identity: true`` in a multi-animal config.yaml: said at train and analyse (QA s19).

DeepLabCut trains an identity head with ``identity: true``; posekit's networks have
none. The key was ignored without a word, so a user of look-different animals got
motion-only tracks believing they were appearance-based.
"""

from __future__ import annotations

import logging

import pytest

from posekit.engine.api import analyze_videos, train_network
from posekit.engine.demo import make_demo_project

pytestmark = pytest.mark.slow


def _identity_lines(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if "identity: true" in r.getMessage()
    ]


def test_identity_true_is_said_at_train_and_analyse_and_kept(tmp_path, caplog):
    project = make_demo_project(tmp_path, n_animals=2, n_frames=12, n_labeled=4)
    config = project.config_path
    text = config.read_text()
    assert "\nidentity: false\n" in text
    config.write_text(text.replace("\nidentity: false\n", "\nidentity: true\n"))
    with caplog.at_level(logging.WARNING, logger="posekit"):
        train_network(
            str(config),
            backbone="mobilenet_v2_0.35",
            weights=None,
            max_iterations=1,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
            save_interval_s=0,
        )
    (line,) = _identity_lines(caplog)
    assert "identity head" in line and "trains without one" in line
    assert "'ellipse', 'box', 'keypoints'" in line and "--track-method" in line
    assert "left as it is" in line
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        analyze_videos(str(config), destfolder=tmp_path / "out", progress=False)
    (line,) = _identity_lines(caplog)
    assert "tracks without one" in line and "motion only" in line
    assert "\nidentity: true\n" in config.read_text()  # the user's key, as written

    config.write_text(config.read_text().replace("identity: true", "identity: false"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        analyze_videos(str(config), destfolder=tmp_path / "out2", progress=False)
    assert _identity_lines(caplog) == []
