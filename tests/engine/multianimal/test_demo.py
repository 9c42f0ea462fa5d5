"""The synthetic multi-animal demo: exact identities, crossings, occlusions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.demo import BODYPARTS, make_demo_project
from posekit.engine.multianimal.demo import (
    hidden_keypoints,
    load_multianimal_ground_truth,
    simulate_social_session,
)
from posekit.engine.multianimal.layout import frame_to_arrays
from posekit.engine.video import VideoReader


def test_animals_cross_and_hide_each_other_deterministically():
    kp, hidden, labels = simulate_social_session(600, 3, seed=0)
    again, hidden2, _ = simulate_social_session(600, 3, seed=0)
    np.testing.assert_array_equal(kp, again)
    np.testing.assert_array_equal(hidden, hidden2)
    centres = kp.mean(axis=2)
    gaps = np.linalg.norm(centres[:, :, None] - centres[:, None], axis=-1)
    close = gaps[:, [0, 0, 1], [1, 2, 2]] < 25  # bodies overlap
    assert close.any(axis=0).sum() >= 2  # at least two pairs meet
    assert 0.001 < hidden.mean() < 0.2
    assert not hidden[:, -1].any()  # the last animal is drawn on top
    assert set(np.unique(labels)) >= {"rest", "walk"}


def test_hidden_keypoints_under_an_animal_drawn_later():
    one = np.array([[22.0, 0.0], [13, 6], [13, -6], [10, 0], [0, 0], [-16, 0]])
    below = one + [100, 100]
    above = one + [100, 100]  # the same place: every part of `below` is covered
    far = one + [20, 20]
    hidden = hidden_keypoints(np.stack([below, above, far]), (200, 200))
    assert hidden[0].all() and not hidden[1:].any()


def test_demo_project_has_exact_identities_and_hidden_labels_left_out(tmp_path):
    project = make_demo_project(tmp_path, n_animals=3, n_frames=80, n_labeled=8)
    assert project.path.name == "social3-posekit-2026-01-01"
    assert project.multianimal
    assert project.individuals == ["mouse1", "mouse2", "mouse3"]
    assert project.multianimal_bodyparts == BODYPARTS
    kp, visible = load_multianimal_ground_truth(project)
    assert kp.shape == (80, 3, 6, 2) and visible.shape == (80, 3, 6)
    with pd.HDFStore(project.path / "ground-truth/session1_keypoints.h5", "r") as s:
        assert s.keys() == ["/tracks"]
    labels = pd.read_hdf(project.labels_path("session1"))
    got, _, _ = frame_to_arrays(labels)
    idx = [int(i[2][3:5]) for i in labels.index]
    expected = np.where(visible[idx][..., None], kp[idx], np.nan)
    np.testing.assert_allclose(got, expected)
    # each animal is drawn where its ground truth is, in its own colour
    with VideoReader(project.path / "videos/session1.mp4") as reader:
        frame = reader.read(40)
    for a in range(3):
        spine = np.rint(kp[40, a, 4]).astype(int)
        if visible[40, a, 4]:
            assert frame[spine[1], spine[0]].mean() < 140  # fur, not the floor
    beh = pd.read_csv(project.path / "ground-truth/session1_behavior.csv")
    assert list(beh.columns) == ["frame", "time", "individual", "behavior"]
    assert len(beh) == 80 * 3
    assert make_demo_project(tmp_path, n_animals=3).path == project.path  # reopened


def test_demo_command_line_animals(tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                str(tmp_path),
                "--animals",
                "2",
                "--frames",
                "20",
                "--labeled",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip()
    assert out.endswith("social2-posekit-2026-01-01")
    with pytest.raises(ValueError, match="at least 2"):
        from posekit.engine.multianimal.demo import make_multianimal_demo

        make_multianimal_demo(tmp_path, n_animals=1)
