"""Labelling several animals in the labeller (headless): choose, colour, copy, swap."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_labels
from posekit.engine.multianimal.layout import frame_to_arrays
from posekit.widgets.labeler import Labeler
from posekit.widgets.labeler_model import LabelerModel, key_action


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return make_demo_project(
        tmp_path_factory.mktemp("ma-label"), n_animals=2, n_frames=30, n_labeled=3
    )


@pytest.fixture
def model(pair, tmp_path):
    import shutil

    from posekit.engine.project import load_project

    copy = tmp_path / "p"
    shutil.copytree(pair.path, copy, symlinks=True)
    return LabelerModel(load_project(copy))


def test_points_are_per_animal_and_keys_choose_the_animal(model):
    assert model.individuals == ["mouse1", "mouse2"]
    assert len(model.bodyparts) == 12 and model.bodyparts[6] == "mouse2/snout"
    model.select("mouse1/neck")
    assert key_action({"type": "keydown", "key": "i"}) == "next animal"
    model.handle_key({"type": "keydown", "key": "i"})
    assert model.selected == "mouse2/neck"  # the bodypart is kept
    model.handle_key({"type": "keydown", "key": "j"})
    assert model.selected_individual == "mouse1"
    model.select_next(1)  # the bodypart keys step through the points
    assert model.selected == "mouse1/spine"


def test_clicks_of_two_animals_land_in_the_four_level_h5(model):
    model.goto(0)
    model.select("mouse1/snout")
    model.place(10.0, 20.0)
    model.select_individual("mouse2")
    model.place(110.0, 120.0, "mouse2/snout")
    df = read_labels(model.store.path)
    kp, _, _ = frame_to_arrays(df)
    row = list(df.index).index(tuple(model.frame.split("/")))
    assert kp[row, 0, 0].tolist() == [10.0, 20.0]
    assert kp[row, 1, 0].tolist() == [110.0, 120.0]


def test_skeleton_within_each_animal_and_colours_by_individual(model):
    model.goto(0)
    model.render()
    n_edges = len(model.project.skeleton)
    drawn = len(model.skeleton_table["x0"])
    assert drawn == 2 * n_edges  # the demo labels every visible part of both animals
    colours = model.point_colors("rainbow")
    assert len(set(colours[:6])) == 1 and len(set(colours[6:])) == 1
    assert colours[0] != colours[6]


def test_copy_an_animal_from_the_previous_frame_and_swap_two(model):
    model.goto(1)
    before = model.store.get(model.frame).copy()
    model.goto(0)
    first = model.store.get(model.frame).copy()
    model.goto(1)
    model.select_individual("mouse2")
    changed = model.copy_previous_individual()
    assert changed and all(c.startswith("mouse2/") for c in changed)
    now = model.store.get(model.frame)
    np.testing.assert_array_equal(now[6:], first[6:])  # mouse2 as on frame 0
    np.testing.assert_array_equal(now[:6], before[:6])  # mouse1 untouched
    model.swap_individuals()
    swapped = model.store.get(model.frame)
    np.testing.assert_array_equal(swapped[:6], first[6:])
    model.undo()
    np.testing.assert_array_equal(model.store.get(model.frame)[6:], first[6:])


def test_every_animal_key_says_what_it_did(model):
    """QA s16 #10: after ``g`` the message of the ``w`` before it stayed on screen."""
    g = {"type": "keydown", "key": "g"}
    model.goto(0)
    model.select_individual("mouse2")
    model.handle_key(g)
    assert model.message.startswith("This is the first frame: there is no previous")
    model.goto(1)
    model.handle_key({"type": "keydown", "key": "w"})
    assert model.message == "Swapped mouse2 and mouse1 on this frame."
    model.select("mouse2/snout")
    model.delete()
    model.handle_key(g)
    n = int(np.isfinite(model.store.get(model.frames[0])[6:, 0]).sum())
    assert n > 1  # mouse2's points of frame 0 replace the swapped ones
    assert model.message == f"Copied mouse2's {n} points from the previous frame."
    assert model.message_level == "info"
    model.handle_key(g)  # once more: nothing changes
    assert model.message == "mouse2's points are already those of the previous frame."
    for slot in model.slots_of("mouse2"):  # frame 1 without mouse2
        model.delete(slot)
    model.goto(2)
    model.handle_key(g)
    assert model.message == "mouse2 has no points on the previous frame to copy."
    assert model.swap_individuals("single") == []  # no such animal: say so
    assert model.message == (
        "Select one of the animals (mouse1, mouse2) to swap it with the next one."
    )


def test_the_view_offers_the_animals(pair):
    lab = Labeler(pair, load_bokehjs=False)
    try:
        assert [b.description for b in lab.individual_buttons] == ["mouse1", "mouse2"]
        shown = [b.layout.display != "none" for b in lab.bodypart_buttons]
        assert shown == [True] * 6 + [False] * 6
        lab.individual_buttons[1].click()
        assert lab.model.selected_individual == "mouse2"
        shown = [b.layout.display != "none" for b in lab.bodypart_buttons]
        assert shown == [False] * 6 + [True] * 6
    finally:
        lab.close()


def test_single_animal_labeller_is_unchanged(tmp_path):
    project = make_demo_project(tmp_path, n_frames=20, n_labeled=2)
    model = LabelerModel(project)
    assert not model.multianimal and model.individuals == []
    assert model.bodyparts == project.bodyparts
    assert model._skeleton_pairs() == project.skeleton
    assert model.swap_individuals() == [] and model.copy_previous_individual() == []
    lab = Labeler(model, load_bokehjs=False)
    assert lab.individual_buttons == []
    lab.close()
