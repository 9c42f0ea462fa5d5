"""Home app, headless: the project's status from disk, opening and creating projects."""

from __future__ import annotations

import html

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


def test_home_app_opens_and_creates_projects(tmp_path) -> None:
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

    app.path_box.value = str(demo.path)
    app.open_button.click()
    assert app.project.path == demo.path and app.message.value == ""
