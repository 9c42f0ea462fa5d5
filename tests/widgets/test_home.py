"""Home app, headless: the project's status from disk, opening and creating projects."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.project import create_project
from posekit.widgets.app import app_url
from posekit.widgets.home import HomeApp, project_status


def test_project_status_follows_the_workflow(tmp_path) -> None:
    p = make_demo_project(tmp_path, n_frames=30, n_labeled=6)
    st = project_status(p)
    assert (st.videos, st.labelled_frames, st.training_set) == (1, 6, False)
    assert (st.snapshots, st.predictions) == (0, 0)
    assert "train" in st.next_step()
    create_training_dataset(p)
    assert project_status(p).training_set
    # a snapshot and a prediction file, as train_network / analyze_videos name them
    train = p.model_dir(1) / "train"
    train.mkdir(parents=True)
    (train / "snapshot-10.json").write_text("{}")
    (p.path / "videos" / "session1DLC_mobnet_35_demoJan1shuffle1_10.h5").write_bytes(
        b""
    )
    st = project_status(p)
    assert (st.snapshots, st.predictions) == (1, 1)
    assert "trajectories" in st.next_step()

    empty = create_project("empty", "me", working_directory=tmp_path)
    assert project_status(empty).next_step() == "add videos to the project"


def test_home_app_opens_and_creates_projects(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(tmp_path))
    demo = make_demo_project(tmp_path / "demo", n_frames=30, n_labeled=6)
    (tmp_path / "train.ipynb").write_text("{}")
    app = HomeApp(demo, notebook_dir=tmp_path)
    assert str(demo.path) in app.summary.value
    assert "6 labelled frame(s)" in app.summary.value
    assert html.escape(app_url("train.ipynb", demo)) in app.links.value

    app.path_box.value = str(tmp_path / "nothing")
    app.open_button.click()
    assert "No config.yaml" in app.message.value
    assert app.project.path == demo.path  # unchanged

    app.task.value, app.experimenter.value = "mice", "ann"
    app.folder.value = str(tmp_path / "new")
    app.video_paths.value = str(demo.videos()[0])
    app.bodyparts.value = "nose, tail"
    app.create_button.click()
    assert app.message.value == ""
    created = app.project
    assert created.task == "mice" and created.bodyparts == ["nose", "tail"]
    assert [v.name for v in created.videos()] == ["session1.mp4"]
    assert "mice" in app.summary.value
    assert html.escape(app_url("train.ipynb", created)) in app.links.value

    assert not created.multianimal
    # several animals: named in the form (a non-programmer had no way to make one)
    app.task.value, app.individuals.value = "pair", "female, male"
    app.create_button.click()
    assert app.message.value == ""
    pair = app.project
    assert pair.multianimal and pair.individuals == ["female", "male"]
    assert pair.multianimal_bodyparts == ["nose", "tail"]

    app.path_box.value = str(demo.path)
    app.open_button.click()
    assert app.project.path == demo.path and app.message.value == ""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Make a home app whose data root is ``tmp_path/root``; a project in, one out."""
    root = tmp_path / "root"
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    monkeypatch.setenv("POSEKIT_DEMO_DIR", str(tmp_path / "demo"))
    inside = make_demo_project(root, n_frames=30, n_labeled=4)
    outside = create_project("out", "me", working_directory=tmp_path / "elsewhere")
    app = HomeApp(inside, notebook_dir=tmp_path)
    return app, inside, outside, root


def _open(app: HomeApp, path) -> str:
    app.path_box.value = str(path)
    app.open_button.click()
    return app.message.value


def test_project_box_accepts_a_project_inside_the_data_root(home) -> None:
    app, inside, outside, root = home
    assert f"open and create projects in: {root}" in app.root_note.value
    assert app.folder.value == str(root)  # new projects go into the root by default
    other = create_project("other", "me", working_directory=root / "lab")
    assert _open(app, other.path) == ""
    assert app.project.path == other.path
    assert _open(app, other.path.relative_to(root)) == ""  # relative to the root


def test_project_box_refuses_outside_climbing_and_outward_symlinks(home) -> None:
    app, inside, outside, root = home
    link = root / "shortcut"
    link.symlink_to(outside.path, target_is_directory=True)
    for path in (
        outside.path,  # outside
        f"{root}/../elsewhere/{outside.path.name}",  # climbing out with ..
        "../elsewhere",  # climbing out of the root, relative
        link,  # a symlink inside the root that points out
        "/etc",
    ):
        message = _open(app, path)
        assert "DataRootError" in message, path
        assert "is outside the folders the apps may open" in message, path
        assert app.project.path == inside.path  # unchanged
    assert "Traceback" not in app.message.value


def test_create_refuses_a_folder_or_a_video_outside_the_data_root(home) -> None:
    app, inside, outside, root = home
    app.task.value, app.experimenter.value = "mice", "ann"
    app.bodyparts.value = "nose, tail"
    app.video_paths.value = str(inside.videos()[0])
    app.folder.value = str(outside.path.parent)
    app.create_button.click()
    assert "The folder" in app.message.value
    assert "is outside the folders the apps may open" in app.message.value
    outside_video = Path(outside.path) / "clip.mp4"
    outside_video.write_bytes(inside.videos()[0].read_bytes())
    app.folder.value = str(root / "new")
    app.video_paths.value = str(outside_video)
    app.create_button.click()
    assert "The video" in app.message.value
    assert app.project.path == inside.path
    assert not (root / "new").exists()
    app.video_paths.value = str(inside.videos()[0])
    app.create_button.click()
    assert app.message.value == ""
    assert app.project.task == "mice"
    assert app.project.path.is_relative_to(root / "new")
