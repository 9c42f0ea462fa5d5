"""LabelApp wiring and the check-labels gallery, headless."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.check_labels import CheckLabelsGallery
from posekit.widgets.label_app import CHECK, LABEL, PICK, LabelApp


@pytest.fixture
def project(tmp_path):
    return make_demo_project(tmp_path, n_frames=40, n_labeled=3, size=(160, 120))


def test_app_tabs_and_picker_to_labeller(tmp_path):
    project = make_demo_project(tmp_path, n_frames=40, n_labeled=0, size=(160, 120))
    app = LabelApp(project, threaded=False)
    assert app.tabs.selected_index == PICK  # nothing to label yet
    assert [app.tabs.get_title(i) for i in range(3)] == [
        "1 · Pick frames",
        "2 · Label",
        "3 · Check labels",
    ]
    app.picker.slider.value = 9
    app.picker.mark_button.click()
    assert app.labeler.frames == ["labeled-data/session1/img09.png"]  # refreshed
    app.picker.label_button.click()
    assert app.tabs.selected_index == LABEL
    assert app.labeler.frame == "labeled-data/session1/img09.png"


def test_gallery_renders_and_opens_frame_in_labeller(project):
    app = LabelApp(project, threaded=False)
    assert app.tabs.selected_index == LABEL
    gallery = app.gallery
    assert gallery.images == []
    paths = gallery.render()
    assert len(paths) == 3 and "3 labelled frames" in gallery.status.value
    assert all(p.parent.name == "session1_labeled" for p in paths)
    assert len(gallery.cards) == 3
    app.tabs.selected_index = CHECK
    focused = []
    app.labeler.focus = lambda: focused.append(app.labeler.frame)
    gallery.cards[2].children[1].click()  # the caption button of the 3rd frame
    assert app.tabs.selected_index == LABEL
    # QA s15 #10: the pressed button is hidden now; the focus goes to the labeller
    assert focused == [f"labeled-data/session1/{paths[2].name}"]
    assert app.labeler.frame == f"labeled-data/session1/{paths[2].name}"
    # a click on the thumbnail itself (ipyevents) does the same
    app.labeler.goto(0)
    events = gallery.cards[1]._posekit_events
    events._handle_mouse_msg(events, {"event": "click", "type": "click"}, [])
    assert app.labeler.frame == f"labeled-data/session1/{paths[1].name}"


def test_gallery_pages_and_reopen(project):
    CheckLabelsGallery(project).render()
    gallery = CheckLabelsGallery(project, per_page=2)  # finds the earlier images
    assert len(gallery.images) == 3 and gallery.n_pages == 2
    assert "earlier check" in gallery.status.value
    assert len(gallery.cards) == 2 and gallery.prev_button.disabled
    gallery.next_button.click()
    assert gallery.page == 1 and len(gallery.cards) == 1
    assert gallery.next_button.disabled


def test_open_another_project_and_bad_path(project, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(tmp_path))
    app = LabelApp(project, threaded=False)
    app.path_box.value = str(tmp_path / "nowhere")
    app.open_button.click()
    assert "No config.yaml" in app.project_info.value
    assert app.project is project  # still open
    other = make_demo_project(tmp_path / "b", n_frames=20, n_labeled=2, size=(96, 72))
    app.path_box.value = str(other.path)
    app.open_button.click()
    assert app.project.path == other.path
    assert app.labeler.image_size == (96, 72)


def test_project_box_refuses_a_project_outside_the_data_root(
    project, tmp_path, monkeypatch
):
    root = tmp_path / "root"
    other = make_demo_project(tmp_path / "b", n_frames=20, n_labeled=2, size=(96, 72))
    inside = make_demo_project(root, n_frames=20, n_labeled=2, size=(64, 48))
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(root))
    app = LabelApp(project, threaded=False)  # the Python API is not restricted
    for value in (other.path, root / ".." / "b" / other.path.name):
        app.path_box.value = str(value)
        app.open_button.click()
        assert "is outside the folders the apps may open" in app.project_info.value
        assert app.project is project
    app.path_box.value = str(inside.path)
    app.open_button.click()
    assert app.project.path == inside.path
    assert app.labeler.image_size == (64, 48)


def test_package_exports():
    import posekit.widgets as widgets

    assert {
        "Labeler",
        "LabelerModel",
        "LabelApp",
        "FramePicker",
        "CheckLabelsGallery",
        "TrainingModel",
        "TrajectoryModel",
    } <= set(widgets.__all__)
    assert all(hasattr(widgets, n) for n in widgets.__all__)


def test_opening_a_wrong_folder_names_the_home_app(project, tmp_path):
    """QA s14 #12: no Python or command-line advice in the label app's messages."""
    app = LabelApp(project, threaded=False)
    app.open(tmp_path / "nothing")
    info = app.project_info.value
    assert "No config.yaml" in info and "Home → Create a new project" in info
    assert "posekit create" not in info and "create_project" not in info
    assert app.project.path == project.path  # still the project it had


def test_gallery_names_the_colours_and_writes_names_on_thumbnails(project):
    """QA s15 #14: bodyparts are told apart by more than colour."""
    gallery = CheckLabelsGallery(project)
    for bp in project.bodyparts:
        assert bp in gallery.legend.value
    gallery.render()
    assert gallery.names_checkbox.value
    with_names = [c.children[0].value for c in gallery.cards]
    gallery.names_checkbox.value = False  # the same thumbnails without the names
    without = [c.children[0].value for c in gallery.cards]
    assert len(with_names) == 3
    for a, b in zip(with_names, without, strict=True):
        pa = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)
        pb = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
        changed = np.abs(pa.astype(int) - pb.astype(int)).max(axis=2) > 80
        assert changed.sum() > 100  # the names' pixels


def test_header_counts_the_videos_not_the_labelled_videos_made_from_them(project):
    """QA s20: the header said 4 video(s) where home says 1 (+3 labelled videos)."""
    import shutil

    video = project.videos()[0]
    for pcutoff in (40, 50, 60):
        shutil.copy(
            video, video.with_name(f"{video.stem}DLC_x_3_p{pcutoff}_labeled.mp4")
        )
    n = len(project.source_videos())
    assert len(project.videos()) == n + 3
    app = LabelApp(project, threaded=False)
    assert f" · {n} video(s) · labels saved to" in app.project_info.value
