"""Labels stay on their image in LabelerModel (QA s19 #2).

A network's guess can lie outside the image (the QA saw neck at (482.8, 386.8) on a
480×360 frame). Accepting the frame turned it into a label without a word, and
``posekit merge`` then refused every refined frame. Now accepting leaves such a
bodypart unlabelled and says which and why; a guess on the image as drawn (within
half a pixel of the edge pixels' centres) is put on the edge. A click, drag, nudge,
keyboard placement or copy never puts a label outside the image either.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import pytest

from posekit.engine.dataset import merge_labels
from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import LabelError, make_labels_frame, write_labels
from posekit.engine.refinement import write_machine_labels
from posekit.engine.video import extract_frames
from posekit.widgets.labeler import Labeler
from posekit.widgets.labeler_model import ANCHOR, LabelerModel

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]
W, H = 160, 120


@pytest.fixture
def project(tmp_path):
    """Make the demo project (160×120 frames) with 3 extracted frames, no labels."""
    project = make_demo_project(
        tmp_path, n_frames=30, n_labeled=0, size=(W, H), n_videos=1
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


def on_disk(project, frame: str, bp: str) -> tuple[float, float]:
    path = project.path / "labeled-data" / "session1" / "CollectedData_posekit.h5"
    df = pd.read_hdf(path, "df_with_missing")
    row = df.loc[tuple(frame.split("/"))]
    return float(row[("posekit", bp, "x")]), float(row[("posekit", bp, "y")])


def write_guesses(project, frame: str, guesses: dict[str, tuple[float, float]]):
    """Machine labels (DLC's layout) for one frame; bodyparts not given: NaN."""
    xyp = np.full((1, len(BPS), 3), np.nan)
    for j, bp in enumerate(BPS):
        if bp in guesses:
            xyp[0, j] = (*guesses[bp], 0.9)
    write_machine_labels(project, "session1", [frame], xyp, "DLC_test_net", BPS)


def drag(model, bodypart: str, x: float, y: float) -> None:
    """Send back the points table with one row moved, as Bokeh's drag tool does."""
    table = {k: list(v) for k, v in model.points_table.items()}
    i = table["bodypart"].index(bodypart)
    table["x"][i], table["y"][i] = x, y
    model.receive_points(table)


def test_accept_leaves_guesses_outside_the_image_unlabelled_and_says_so(project):
    f0 = LabelerModel(project).frames[0]
    write_guesses(
        project,
        f0,
        {
            "snout": (50.0, 25.0),  # inside
            "leftear": (-0.3, 30.0),  # on the image as drawn: put on the edge
            "rightear": (W - 0.5, H - 0.6),  # the last pixel's outer border: edge
            "neck": (W + 2.8, H + 6.8),  # off the image (the QA's neck)
            "spine": (80.0, 40.0),
            "tailbase": (W - 0.4, 50.0),  # 0.6 px beyond the last pixel centre
        },
    )
    model = LabelerModel(project)
    assert model.frame == f0
    accepted = model.accept_frame()
    assert accepted == ["snout", "leftear", "rightear", "spine"]
    assert model.frame_size() == (W, H)
    assert on_disk(project, f0, "snout") == (50.0, 25.0)
    assert on_disk(project, f0, "leftear") == (0.0, 30.0)
    assert on_disk(project, f0, "rightear") == (W - 1.0, H - 1.0)
    assert on_disk(project, f0, "spine") == (80.0, 40.0)
    for bp in ("neck", "tailbase"):
        assert all(math.isnan(v) for v in on_disk(project, f0, bp))
    # the status line says which bodyparts were left, where the guess was, and why
    assert model.message_level == "warning"
    assert model.message == (
        "Accepted 4 guesses; left unlabelled, because the network's guess lies "
        "outside the 160×120 image: neck (162.8, 126.8), tailbase (159.6, 50.0). "
        "Place them (click, or k and the arrow keys) or mark them not visible (v)."
    )
    # the first one left is selected: the next click places it
    assert model.selected == "neck"
    assert set(model.machine_points()) == {"neck", "tailbase"}
    # what was accepted merges: no label lies outside its image
    merged = merge_labels(project)
    assert len(merged) == 1
    # the user places one and marks the other not visible: the frame is done
    model.place(150.0, 110.0)
    model.mark_not_visible("tailbase")
    assert model.frame_done()
    assert on_disk(project, f0, "neck") == (150.0, 110.0)
    merge_labels(project)
    # undo brings back the state before each step, the accept as one step
    model.undo()
    model.undo()
    model.undo()
    assert all(math.isnan(v) for v in on_disk(project, f0, "snout"))
    assert set(model.machine_points()) == set(BPS)


def test_accept_with_every_guess_off_the_image_accepts_nothing(project):
    f0 = LabelerModel(project).frames[0]
    write_guesses(project, f0, {"snout": (-5.0, 10.0), "neck": (20.0, H + 27.0)})
    model = LabelerModel(project)
    assert model.accept_frame() == []
    assert model.message.startswith(
        "No guess accepted; left unlabelled, because the network's guess lies "
        "outside the 160×120 image: snout (-5.0, 10.0), neck (20.0, 147.0). "
        "Place them"
    )
    assert not model.store.labelled_frames()
    assert not model.can_undo


def test_clicks_drags_nudges_and_copies_never_leave_the_image(project):
    model = LabelerModel(project)
    f0, f1, _ = model.frames
    model.goto(f0)
    # a click beyond the image: on the edge, and the user is told
    model.place(W + 40.0, -5.0, "snout")
    assert on_disk(project, f0, "snout") == (W - 1.0, 0.0)
    assert model.message == (
        "snout: put on the edge of the 160×120 image (a label cannot lie outside "
        "its image)."
    )
    assert model.message_level == "warning"
    # a click on the image's outer half pixel: moved onto the edge, no message
    model.show_message("")
    model.place(-0.4, H - 0.6, "leftear")
    assert on_disk(project, f0, "leftear") == (0.0, H - 1.0)
    assert model.message == ""
    # a point on the image is kept where it was put
    model.place(12.25, 34.75, "rightear")
    assert on_disk(project, f0, "rightear") == (12.25, 34.75)
    # a drag beyond the image (the browser's table comes back)
    drag(model, "rightear", 500.0, 60.0)
    assert on_disk(project, f0, "rightear") == (W - 1.0, 60.0)
    row = model.points_table["bodypart"].index("rightear")
    assert model.points_table["x"][row] == W - 1.0  # the view is told
    # the arrow keys cannot push the active point out
    assert model.active == "rightear"
    assert model.handle_key({"type": "keydown", "key": "ArrowRight", "shiftKey": True})
    assert on_disk(project, f0, "rightear") == (W - 1.0, 60.0)
    model.handle_key({"type": "keydown", "key": "ArrowLeft"})
    assert on_disk(project, f0, "rightear") == (W - 2.0, 60.0)
    # a label stored outside the image (written by another tool) is not copied out
    df = make_labels_frame("posekit", BPS, [f0, f1], np.full((2, len(BPS), 2), np.nan))
    df.loc[:, ("posekit", "spine", "x")] = [W + 9.0, np.nan]
    df.loc[:, ("posekit", "spine", "y")] = [-3.0, np.nan]
    write_labels(df, project.labels_path("session1"))
    with pytest.raises(LabelError, match=r"spine \(169\.0, -3\.0\)"):
        merge_labels(project)
    model = LabelerModel(project)
    model.goto(f1)
    assert model.copy_previous() == ["spine"]
    assert on_disk(project, f1, "spine") == (W - 1.0, 0.0)
    # a machine point dragged out, or placed by keyboard from a guess off the image
    write_guesses(project, f1, {"neck": (30.0, 30.0), "tailbase": (W + 10.0, 50.0)})
    model = LabelerModel(project)
    model.goto(f1)
    drag(model, "neck", -30.0, H + 80.0)
    assert on_disk(project, f1, "neck") == (0.0, H - 1.0)
    model.select("tailbase")
    assert model.handle_key({"type": "keydown", "key": "k"}) == "place point"
    assert on_disk(project, f1, "tailbase") == (W - 1.0, 50.0)
    names = [n for n in model.points_table["bodypart"] if not n.startswith(ANCHOR)]
    assert "tailbase" in names
    # f0 still has its spine outside (nobody edited it); fixed there, all merge
    model.goto(f0)
    drag(model, "spine", 100.0, 10.0)
    assert on_disk(project, f0, "spine") == (100.0, 10.0)
    merge_labels(project)


def test_the_labeller_shows_which_guesses_were_left(project):
    f0 = LabelerModel(project).frames[0]
    write_guesses(project, f0, {"snout": (50.0, 25.0), "neck": (W + 2.8, H + 6.8)})
    lab = Labeler(project, load_bokehjs=False)
    lab.accept_button.click()
    text = html.unescape(lab.message.value)
    assert "labeler-warning" in text
    assert "Accepted 1 guess; left unlabelled" in text
    assert "outside the 160×120 image: neck (162.8, 126.8)" in text
    assert on_disk(project, f0, "snout") == (50.0, 25.0)
    assert all(math.isnan(v) for v in on_disk(project, f0, "neck"))


def test_buttons_say_a_guess_is_off_the_image_instead_of_its_likelihood(project):
    """The bodypart buttons said 'neck · guess 0.90' for a guess accept would skip."""
    f0 = LabelerModel(project).frames[0]
    write_guesses(project, f0, {"snout": (50.0, 25.0), "neck": (W + 2.8, H + 6.8)})
    labeler = Labeler(project)
    assert labeler.model.frame == f0
    buttons = dict(zip(labeler.bodyparts, labeler.bodypart_buttons, strict=True))
    assert buttons["snout"].description.endswith("snout · guess 0.90")
    assert buttons["neck"].description.endswith("neck · guess off the image")
    assert "(163, 127) lies off the image" in buttons["neck"].tooltip
    assert "accepting leaves it unlabelled" in buttons["neck"].tooltip
    assert buttons["spine"].description.endswith("spine")  # no guess: nothing said
