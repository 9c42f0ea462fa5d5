"""Frame picker: model logic and the thin view, driven through widget traits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.labels import LabelStore
from posekit.engine.video import VideoReader
from posekit.widgets.frame_picker import (
    MANY_FRAMES,
    MAX_FRAMES,
    FramePicker,
    FramePickerModel,
    frame_index_of,
)


@pytest.fixture
def project(tmp_path):
    return make_demo_project(tmp_path, n_frames=40, n_labeled=0, size=(160, 120))


def _jpeg_size(data: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return img.shape[1], img.shape[0]


def test_model_video_info_and_frames(project):
    m = FramePickerModel(project)
    assert [v.name for v in m.videos] == ["session1.mp4"]
    assert m.stem == "session1" and m.n_frames == 40 and m.fps == pytest.approx(30)
    assert m.time_of(15) == pytest.approx(0.5)
    with VideoReader(m.video) as r:
        np.testing.assert_array_equal(m.frame(7), r[7])
    assert _jpeg_size(m.thumbnail(3, width=100)) == (100, 75)
    assert m.extracted() == [] and m.labelled() == []


def test_slider_shows_frame_and_time_and_play_is_linked(project):
    p = FramePicker(project, threaded=False)
    assert p.slider.max == 39 and p.play.max == 39
    link = p.play_link  # Play is jslinked: no kernel round trip per play step
    assert link.source == (p.play, "value") and link.target == (p.slider, "value")
    assert link._model_name == "LinkModel"
    assert p.play.step == 3  # 100 ms ticks at 30 fps: real time
    p.slider.value = 15  # as the browser (or the Play button) sets it
    assert p.model.index == 15
    assert "frame <b>15</b> of 40" in p.readout.value
    assert "0.50 s" in p.readout.value
    assert p.image.format == "jpeg" and _jpeg_size(p.image.value) == (160, 120)
    assert p.label_button.disabled  # not extracted yet


def test_mark_this_frame(project):
    p = FramePicker(project, threaded=False)
    seen = []
    p.model.listeners.append(seen.append)
    p.slider.value = 12
    p.mark_button.click()
    img = project.labeled_data_dir("session1") / "img12.png"
    assert img.is_file()
    with VideoReader(project.videos()[0]) as r:
        expect = r[12]
    got = cv2.cvtColor(cv2.imread(str(img)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(got, expect)  # lossless PNG of exactly frame 12
    assert seen == ["session1"]
    assert p.model.extracted() == [12]
    assert "extracted" in p.readout.value and not p.label_button.disabled
    assert [v for _, v in p.frame_list.options] == [12]
    asked = []
    p.label_requested.append(lambda stem, name: asked.append((stem, name)))
    p.label_button.click()
    assert asked == [("session1", "img12.png")]
    p.frame_list.value = 12  # choosing from the list moves the slider
    assert p.slider.value == 12


@pytest.mark.parametrize("mode", ["uniform", "kmeans"])
def test_extraction_with_progress(project, mode):
    p = FramePicker(project, threaded=False)
    steps = []
    p.progress.observe(lambda ch: steps.append(ch["new"]), "value")
    p.mode.value = mode
    p.n_frames.value = 4
    p.range.value = (0.0, 0.5)
    p.run_extraction(wait=True)
    idx = p.model.extracted()
    assert len(idx) == 4 and max(idx) < 20
    assert steps[-1] == 4 and p.progress.max == 4
    assert p.progress.layout.visibility == "hidden" and not p.extract_button.disabled
    assert p.strip.value.count("<rect") == 4
    assert "4 extracted" in p.strip.value
    assert "4 frames in labeled-data/session1/" in p.message.value


def test_threaded_extraction_and_labelled_markers(project):
    p = FramePicker(project)
    p.mode.value = "uniform"
    p.n_frames.value = 3
    p.extract_button.click()
    p.wait(60)
    assert p.model.extracted() == [0, 20, 39]
    store = LabelStore(project, "session1")
    store.set_point("img20.png", "snout", 5.0, 5.0)
    p.refresh_status()
    assert p.model.labelled() == [20]
    assert "1 labelled" in p.strip.value and "#2e7d32" in p.strip.value
    assert any("✓ labelled" in label and v == 20 for label, v in p.frame_list.options)
    p.slider.value = 20
    assert "labelled" in p.readout.value


def test_frame_index_of():
    assert frame_index_of("img0007.png") == 7
    assert frame_index_of("labeled-data/v/img12.jpg") == 12
    assert frame_index_of("frame_3.png") is None


def test_project_without_video(tmp_path):
    from posekit.engine.project import create_project

    project = create_project("t", "me", working_directory=tmp_path)
    p = FramePicker(project, threaded=False)
    assert p.model.video is None and p.extract_button.disabled
    assert "no videos" in p.message.value


# --- QA s14 #15: big counts ask first; a changed count is said --------------------


def test_frame_count_out_of_range_is_changed_and_said(project):
    p = FramePicker(project, threaded=False)
    p.n_frames.value = 0  # as the browser sends it
    assert p.n_frames.value == 1
    assert "0 was changed to 1" in p.message.value
    p.n_frames.value = 100000
    assert p.n_frames.value == MAX_FRAMES
    assert f"100000 was changed to {MAX_FRAMES}" in p.message.value


def test_many_frames_are_extracted_only_after_confirmation(project):
    p = FramePicker(project, threaded=False)
    p.mode.value = "uniform"
    p.n_frames.value = MANY_FRAMES + 1
    p.run_extraction(wait=True)  # the Extract button
    assert p.model.extracted() == []  # nothing written yet
    assert f"{MANY_FRAMES + 1} frames is many more" in p.message.value
    assert "has only 40 frames: all 40 of them would be extracted" in p.message.value
    assert "MB of images" in p.message.value
    assert p.confirm_button.layout.display != "none"
    assert p.confirm_button.description == "Extract 40 frames anyway"
    p.n_frames.value = MANY_FRAMES + 2  # changing the count asks again
    assert p.confirm_button.layout.display == "none"
    p.run_extraction(wait=True)
    p.confirm_button.click()
    p.wait(60)
    assert len(p.model.extracted()) == 40
    assert p.confirm_button.layout.display == "none"
    # up to MANY_FRAMES nothing is asked
    assert p.model.extraction_warning(MANY_FRAMES) is None


def test_no_video_message_names_the_home_app(tmp_path):
    from posekit.engine.project import create_project

    project = create_project("t", "me", working_directory=tmp_path)
    p = FramePicker(project, threaded=False)
    assert "Home" in p.message.value and "Add videos" in p.message.value
