"""Analysis panel, headless: Open shows the viewer in sight; the results' file links.

QA s18 (a workshop student on Binder): the inline trajectory viewer opened below the
results list and the export, out of sight, and nothing seemed to happen. It now opens
at the top of the results, its title gets the focus (the browser scrolls it into
view) as soon as Open is pressed, and a second Open does not reload it. A labelled
video could not be downloaded from the browser: each result lists its files
(predictions, CSV, labelled videos) with links to the server's results handler
(:func:`posekit.widgets.serve.project_file_url`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.widgets.analysis_panel import AnalysisModel, AnalysisPanel
from posekit.widgets.serve import FILES_URL_ENV

SCORER = "DLC_resnet50_demoJan1shuffle1_100"
N = 40
PREFIX = "/user/me/posekit/files/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Make a demo project with two videos, predictions of both, session1's CSV."""
    root = tmp_path_factory.mktemp("analysis-open")
    project = make_demo_project(root, n_frames=N, n_labeled=0, n_videos=2)
    rng = np.random.default_rng(0)
    outputs = []
    for video in project.videos():
        truth, _ = load_ground_truth(project, video)
        xy = truth + rng.normal(0, 1.0, truth.shape)
        xyp = np.concatenate([xy, np.full(truth.shape[:2] + (1,), 0.9)], axis=-1)
        path = Path(video).parent / f"{Path(video).stem}{SCORER}.h5"
        frame = predictions_frame(xyp, SCORER, project.bodyparts)
        write_predictions(frame, path)
        outputs.append(path)
    frame.to_csv(outputs[0].with_suffix(".csv"))  # (session2's frame: bytes only)
    return project, outputs


@pytest.fixture
def served(demo, monkeypatch):
    """Set the kernel's environment as a server with the results' handler does."""
    project, _ = demo
    monkeypatch.setenv(FILES_URL_ENV, PREFIX)
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(project.path.parent))


def _results_order(view: AnalysisPanel) -> list[str]:
    names = {
        id(view.viewer_box): "viewer",
        id(view.outputs_box): "list",
        id(view.export.widget): "export",
    }
    out = []
    for child in view.widget.children:
        if getattr(child, "value", None) == "<h4>Results</h4>":
            out.append("heading")
        elif id(child) in names:
            out.append(names[id(child)])
    return out


def test_open_shows_the_viewer_at_the_top_of_the_results_and_scrolls_there(
    demo,
) -> None:
    project, outputs = demo
    view = AnalysisPanel(AnalysisModel(project))
    # the viewer's place is right under the heading, above the list and the export
    assert _results_order(view) == ["heading", "viewer", "list", "export"]
    assert view.viewer_box.children == (view.viewer_header,)
    assert (
        view.viewer_title.value == ""
        and "posekit-live" in view.viewer_title._dom_classes
    )

    focused: list[str] = []  # the title's text whenever it is focused
    view.viewer_title.send = lambda msg, buffers=None: focused.append(
        f"{msg['do']}: {view.viewer_title.value}"
    )
    rows = view.outputs_box.children
    assert [r.children[0].description for r in rows] == ["Open", "Open"]
    rows[1].children[0].click()  # session2
    assert view.model.error == ""
    # focused (scrolled to) at once, saying what loads, before the viewer is built;
    # again once it is there (the page grew), naming the file
    assert focused == [
        f"focus: <h4>Opening the trajectories of {outputs[1].name}…</h4>",
        f"focus: <h4>Trajectories of <code>{outputs[1].name}</code></h4>",
    ]
    viewer = view.viewer
    assert viewer is not None and view.viewer_path == outputs[1]
    assert view.viewer_box.children == (view.viewer_header, viewer.widget)
    assert outputs[1].name in view.viewer_title.value
    assert "Opening" not in view.viewer_title.value
    assert view.close_viewer_button.layout.display == ""
    assert viewer.model.raw.sizes["time"] == N
    # the page scrolls the title to the top of the window (the focus alone would
    # only bring it into view, maybe at the bottom): a script in the page
    (shown,) = view.scroller.outputs
    script = shown["data"]["application/javascript"]
    assert f'".{view.panel_class} .posekit-analysis-viewer-title"' in script
    assert 'scrollIntoView({block: "start"})' in script
    # a second click on the same file: scrolled there again, not reloaded
    rows[1].children[0].click()
    assert view.viewer is viewer and len(focused) == 3
    assert view.scroller.outputs[0]["data"]["application/javascript"] != script
    # another file replaces it, in the same place
    view.outputs_box.children[0].children[0].click()
    assert view.viewer is not viewer and view.viewer_path == outputs[0]
    assert view.viewer_box.children == (view.viewer_header, view.viewer.widget)
    assert outputs[0].name in focused[-1] and len(focused) == 5

    # Close: the list comes back up; the focus goes back to the file's Open
    button = view.outputs_box.children[0].children[0]
    back: list[str] = []
    button.send = lambda msg, buffers=None: back.append(msg["do"])
    view.close_viewer_button.click()
    assert view.viewer is None and view.viewer_box.children == (view.viewer_header,)
    assert view.viewer_title.value == ""
    assert view.close_viewer_button.layout.display == "none"
    assert back == ["focus"]


def test_a_file_that_cannot_be_opened_leaves_no_opening_title(demo, tmp_path) -> None:
    project, outputs = demo
    view = AnalysisPanel(AnalysisModel(project))
    broken = tmp_path / outputs[0].name
    broken.write_bytes(b"not an hdf5 file")
    view._open(broken)
    assert view.model.error  # shown in the error box
    assert view.viewer is None and view.viewer_title.value == ""


def _links(view: AnalysisPanel, row: int) -> str:
    return view.outputs_box.children[row].children[1].value


def test_each_result_links_its_files_when_the_server_serves_them(demo, served) -> None:
    project, outputs = demo
    labelled = outputs[0].with_name(outputs[0].stem + "_p60_labeled.mp4")
    shutil.copy(project.videos()[0], labelled)
    try:
        view = AnalysisPanel(AnalysisModel(project))
        first, second = _links(view, 0), _links(view, 1)
        for f in (outputs[0], outputs[0].with_suffix(".csv"), labelled):
            href = PREFIX + quote(str(f.resolve()).lstrip("/"))
            assert f'href="{href}" download="{f.name}"' in first, first
        play = PREFIX + quote(str(labelled.resolve()).lstrip("/"))
        assert f'href="{play}" target="_blank"' in first
        assert f"▶ play {labelled.name}" in first
        assert second.count("posekit-result-download") == 1  # its .h5 only
        assert "labeled" not in second
    finally:
        labelled.unlink()


def test_without_the_handler_the_files_are_named_not_linked(demo, monkeypatch) -> None:
    project, outputs = demo
    monkeypatch.delenv(FILES_URL_ENV, raising=False)
    view = AnalysisPanel(AnalysisModel(project))
    first = _links(view, 0)
    assert "href" not in first.split("</small>", 1)[1]  # no file link
    assert f"also <code>{outputs[0].with_suffix('.csv').name}</code>" in first


def test_a_labelled_video_made_in_the_viewer_gets_its_links(demo, served) -> None:
    """The viewer writes it beside the predictions; the list links it at once."""
    project, outputs = demo
    view = AnalysisPanel(AnalysisModel(project))
    assert "labeled" not in _links(view, 1)
    view.outputs_box.children[1].children[0].click()
    made = []
    try:
        view.viewer.start_labeled_video(wait=True)
        assert view.model.error == "" and view.viewer.model.error == ""
        made = list(outputs[1].parent.glob(f"{outputs[1].stem}*_labeled.*"))
        assert len(made) == 1
        assert f"▶ play {made[0].name}" in _links(view, 1)
        # a file written elsewhere (a terminal) appears on refresh
        extra = outputs[1].with_suffix(".csv")
        extra.write_text("x\n")
        made.append(extra)
        view.refresh_button.click()
        assert f"⬇ {extra.name}" in _links(view, 1)
    finally:
        for f in made:
            f.unlink()
