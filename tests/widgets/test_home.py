"""Home app, headless: the project's status from disk, opening and creating projects."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.project import create_project, load_project
from posekit.widgets.app import app_url
from posekit.widgets.home import HomeApp, address_script, project_status


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
    train.mkdir(parents=True, exist_ok=True)
    (train / "snapshot-10.json").write_text("{}")
    (p.path / "videos" / "session1DLC_mobnet_35_demoJan1shuffle1_10.h5").write_bytes(
        b""
    )
    st = project_status(p)
    assert (st.snapshots, st.predictions) == (1, 1)
    assert "trajectories" in st.next_step()

    empty = create_project("empty", "me", working_directory=tmp_path)
    assert project_status(empty).next_step().startswith("add videos to the project")


def test_a_labelled_video_is_not_counted_as_a_video(tmp_path, monkeypatch) -> None:
    """QA s17 #7: "2 video(s)" after the Trajectories app wrote a labelled video."""
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(tmp_path))
    p = make_demo_project(tmp_path, n_frames=30, n_labeled=6)
    name = "session1DLC_effnet_lite0_demoJan1shuffle1_192_filtered_p50_labeled.mp4"
    (p.path / "videos" / name).write_bytes(b"")
    st = project_status(p)
    assert (st.videos, st.labeled_videos) == (1, 1)
    app = HomeApp(p, notebook_dir=tmp_path)
    assert "1 video(s) (and 1 labelled video(s) made from them)" in app.summary.value


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
    assert "Project created in" in app.message.value  # said, not only the header
    created = app.project
    assert created.task == "mice" and created.bodyparts == ["nose", "tail"]
    assert [v.name for v in created.videos()] == ["session1.mp4"]
    assert "mice" in app.summary.value
    assert html.escape(app_url("train.ipynb", created)) in app.links.value

    assert not created.multianimal
    # several animals: named in the form (a non-programmer had no way to make one)
    app.task.value, app.individuals.value = "pair", "female, male"
    app.create_button.click()
    assert "Project created in" in app.message.value
    pair = app.project
    assert pair.multianimal and pair.individuals == ["female", "male"]
    assert pair.multianimal_bodyparts == ["nose", "tail"]

    app.path_box.value = str(demo.path)
    app.open_button.click()
    assert app.project.path == demo.path and "Opened the project" in app.message.value


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
    assert "Opened the project" in _open(app, other.path)
    assert app.project.path == other.path
    assert "Opened the project" in _open(app, other.path.relative_to(root))


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
        assert "DataRootError" not in message, path  # no class names for users
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
    # a folder inside the root whose video links out: refused as the Add box does
    linked = root / "linked"
    linked.mkdir()
    (linked / "clip.mp4").symlink_to(outside_video)
    app.video_paths.value = str(linked)
    app.create_button.click()
    assert "is outside the folders the apps may open" in app.message.value
    assert app.project.path == inside.path and not (root / "new").exists()
    app.video_paths.value = str(inside.videos()[0])
    app.create_button.click()
    assert "Project created in" in app.message.value
    assert app.project.task == "mice"
    assert app.project.path.is_relative_to(root / "new")


# --- QA s14: snapshots, the page address, adding videos, messages -------------------


def test_snapshot_count_ignores_tflite_side_files(tmp_path) -> None:
    p = make_demo_project(tmp_path, n_frames=30, n_labeled=4)
    train = p.model_dir(1) / "train"
    train.mkdir(parents=True)
    for name in (
        "snapshot-161.json",
        "snapshot-161.keras",
        "snapshot-32.json",
        "snapshot-32.keras",
        # written beside the snapshot by Analyze (TFLite export): not snapshots
        "snapshot-161-480x640-b1-int8.json",
        "snapshot-161-480x640-b1-int8.tflite",
    ):
        (train / name).write_text("{}")
    assert project_status(p).snapshots == 2
    # another iteration's model folder counts too
    later = p.path / "dlc-models" / "iteration-1" / train.parent.name / "train"
    later.mkdir(parents=True)
    (later / "snapshot-5.json").write_text("{}")
    (later / "snapshot-5-160x120-b1-fp32.json").write_text("{}")
    assert project_status(p).snapshots == 3
    assert "3 snapshot(s)" in HomeApp(p, notebook_dir=tmp_path).summary.value


def _script(app: HomeApp) -> str:
    (out,) = app.address.outputs
    return out["data"]["application/javascript"]


def test_open_and_create_put_the_project_into_the_page_address(home) -> None:
    app, inside, outside, root = home
    assert app.address_project is None and app.address.outputs == ()  # as loaded
    other = create_project("other", "me", working_directory=root / "lab")
    _open(app, other.path)
    assert app.address_project == str(other.path)
    script = _script(app)
    assert "history.replaceState" in script
    assert f"searchParams.set('project', {json.dumps(str(other.path))})" in script
    # a refused folder leaves the address as it was
    _open(app, outside.path)
    assert app.address_project == str(other.path)
    app.task.value, app.experimenter.value = "mice", "ann"
    app.bodyparts.value, app.video_paths.value = "nose, tail", ""
    app.create_button.click()
    assert app.address_project == str(app.project.path) != str(other.path)
    assert json.dumps(str(app.project.path)) in _script(app)


def test_address_script_cannot_close_the_script_tag() -> None:
    script = address_script("/data/a'b</script><img src=x>&")
    assert "</script>" not in script and "<img" not in script
    assert "\\u003c/script\\u003e" in script


def test_add_videos_box(home) -> None:
    app, inside, outside, root = home
    app.task.value, app.experimenter.value = "novid", "ann"
    app.bodyparts.value = "nose, tail"
    app.create_button.click()
    empty = app.project
    assert empty.videos() == []
    assert app.sections.selected_index == app.ADD  # the next step, opened
    assert "Add videos" in app.summary.value  # "Next: add videos … (Add videos …)"

    app.add_button.click()  # nothing typed
    assert "Type the path of a video" in app.message.value
    outside_video = outside.path / "clip.mp4"
    outside_video.write_bytes(inside.videos()[0].read_bytes())
    app.add_paths.value = f"{inside.videos()[0]}\n{outside_video}"
    app.add_button.click()
    assert "is outside the folders the apps may open" in app.message.value
    assert empty.videos() == []  # nothing added when one is refused
    notes = root / "notes.txt"
    notes.write_text("not a video")
    app.add_paths.value = str(notes)
    app.add_button.click()
    assert "posekit-home-error" in app.message.value
    assert "ProjectError" not in app.message.value and empty.videos() == []

    app.add_paths.value = str(inside.videos()[0])
    app.add_button.click()
    assert "Added 1 video(s) to the project: session1.mp4" in app.message.value
    assert "Label" in app.message.value and app.add_paths.value == ""
    assert "1 video(s)" in app.summary.value
    reread = load_project(empty.path)  # written to config.yaml
    assert [v.name for v in reread.videos()] == ["session1.mp4"]
    assert any("session1.mp4" in str(k) for k in reread.video_sets)
    app.add_paths.value = str(inside.videos()[0])
    app.add_button.click()
    assert "Already in the project" in app.message.value


def test_messages_name_the_app_not_python(home) -> None:
    app, inside, outside, root = home
    message = _open(app, root / "nothing")
    assert "No config.yaml" in message and "Home → Create a new project" in message
    assert "ProjectError" not in message and "posekit create" not in message
    app.task.value, app.experimenter.value = "mice", "ann"
    app.bodyparts.value = ""
    app.create_button.click()
    assert "List the bodyparts" in app.message.value
    assert "ValueError" not in app.message.value
    app.bodyparts.value = "nose, tail"
    app.create_button.click()
    app.create_button.click()  # the same project again (a double click)
    assert "already exists" in app.message.value
    assert "Open another project" in app.message.value
    assert "load_project" not in app.message.value


def test_create_form_labels_are_not_cut(home) -> None:
    app = home[0]
    for box in (app.task, app.experimenter, app.folder, app.bodyparts):
        assert box.style.description_width == "100px"


def test_messages_are_announced(home) -> None:
    """QA s15 #8: the message area is a live region; an error is an alert."""
    app, inside, outside, root = home
    assert "posekit-live" in app.message._dom_classes
    assert 'role="alert"' in _open(app, outside.path)
    assert 'role="alert"' not in _open(app, inside.path)
