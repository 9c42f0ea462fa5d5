"""The behaviour app with several animals: the social table (distances, contacts)."""

from __future__ import annotations

import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.behavior_app import BehaviorApp


@pytest.fixture(scope="module")
def social(tmp_path_factory):
    return make_demo_project(
        tmp_path_factory.mktemp("social-app"), n_animals=3, n_frames=120, n_labeled=0
    )


def test_app_shows_distances_and_contacts_between_animals(social, tmp_path):
    app = BehaviorApp(social, output_dir=tmp_path / "out", load_bokehjs=False)
    sessions = app.model.sessions
    assert [s.individuals for s in sessions] == [["mouse1", "mouse2", "mouse3"]]
    table = app.social_html.value
    assert "mouse1-mouse2" in table and "mouse2-mouse3" in table
    assert "contact_fraction" in table
    app.social_distance.value = 1e6  # everyone in contact all the time
    app.social_button.click()
    assert app.model.social["contact_distance"] == 1e6
    assert app.model.social_table()["contact_fraction"].eq(1.0).all()
    written = {p.name for p in app.model.export()}
    assert {"social.csv", "social_events.csv"} <= written


def test_one_animal_says_why_there_is_no_social_table(tmp_path):
    project = make_demo_project(tmp_path, n_frames=60, n_labeled=0)
    app = BehaviorApp(project, output_dir=tmp_path / "out", load_bokehjs=False)
    assert "One animal per session" in app.social_html.value
