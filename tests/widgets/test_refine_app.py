"""The refinement app headless: pick an analysed video, score, extract, refine, merge.

The demo video is "analysed" by writing its ground truth with errors at known frames
as the predictions file analyze_videos would write, so the outliers are known.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.project import load_project
from posekit.widgets.app import APPS
from posekit.widgets.refine_app import REFINE, RefineApp
from posekit.widgets.refine_model import RefineModel

SCORER = "DLC_effnet_lite0_demoJan1shuffle1_500"
ERRORS = {13: 60.0, 27: -50.0, 41: 70.0}


@pytest.fixture
def project(tmp_path):
    project = make_demo_project(tmp_path, n_frames=60, n_labeled=4, size=(160, 120))
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.95)], -1)
    for f, dx in ERRORS.items():
        xyp[f, 0, 0] += dx
    video = project.videos()[0]
    create_training_dataset(project)  # the round that trained the network
    write_predictions(
        predictions_frame(xyp, SCORER, project.bodyparts),
        video.with_name(video.stem + SCORER + ".h5"),
    )
    return project


def test_score_extract_refine_merge(project):
    app = RefineApp(project, dashboard=False, labeler_options={"display_width": 480})
    assert app.video_dropdown.options == (("session1.mp4", str(project.videos()[0])),)
    assert not app.score_button.disabled
    for name in ("fitting", "uncertain"):
        app.criteria_boxes[name].value = False
    app.score_button.click()
    data = app.score_source.data
    assert len(data["frame"]) == 60
    assert list(app.picked_source.data["frame"]) == sorted(ERRORS)
    assert np.all(np.asarray(app.picked_source.data["combined"]) > 1)
    assert "3 of 60 frames" in app.find_message.value
    assert not (project.path / "labeled-data/session1/img13.png").exists()
    focused = []
    app.labeler.focus = lambda: focused.append(app.labeler.selected)
    app.extract_button.click()
    assert app.tabs.selected_index == REFINE
    assert focused == ["snout"]  # QA s15 #9: keys go to the labeller, not nowhere
    lab = app.labeler
    assert lab.frame == "labeled-data/session1/img13.png"
    fills = list(lab.points_source.data["fill"])
    assert fills[:-1] == ["machine"] * 6  # pre-filled, hollow
    snout = lab.points_source.data["x"][0]
    truth, _ = load_ground_truth(project, "session1")
    assert snout == pytest.approx(truth[13, 0, 0] + 60.0)
    lab.model.place(float(truth[13, 0, 0]), float(truth[13, 0, 1]), "snout")
    lab.accept_button.click()
    df = pd.read_hdf(lab.store.path, "df_with_missing")
    row = df.loc[("labeled-data", "session1", "img13.png")]
    assert row[("posekit", "snout", "x")] == pytest.approx(truth[13, 0, 0])
    assert row[("posekit", "tailbase", "x")] == pytest.approx(truth[13, 5, 0])
    app.merge_button.click()
    app.merge_button.click()  # F6: a double click's second click: ignored
    assert load_project(project.path).iteration == 1
    assert "Nothing to merge" not in app.merge_message.value
    assert not app.merge_button.disabled
    assert "iteration 0 → 1" in app.merge_message.value
    assert "1 new labelled frame(s) (1 refined outlier frame" in app.merge_message.value
    assert "2 extracted outlier frame(s) not labelled yet" in app.merge_message.value


def test_without_an_analysed_video(tmp_path):
    project = make_demo_project(tmp_path, n_frames=20, n_labeled=2, size=(64, 48))
    app = RefineApp(project, dashboard=False)
    assert app.score_button.disabled and app.extract_button.disabled
    assert "No analysed video" in app.find_message.value
    app.merge_button.click()  # nothing labelled since the training set: said
    assert "Nothing to merge" in app.merge_message.value


def test_model_choices_are_checked(project):
    model = RefineModel(project)
    with pytest.raises(ValueError, match="not an analysed video"):
        model.choose("session9")
    with pytest.raises(ValueError, match="criteria"):
        model.set_criteria(["jmup"])
    model.set_criteria(["jump"])
    model.n = 2
    result = model.score()
    assert len(result.picked) == 2 and set(result.picked) <= set(ERRORS)
    assert set(model.timeline()) == {"frame", "combined", "jump"}


def test_home_links_the_refine_app():
    assert "refine.ipynb" in [a.notebook for a in APPS]


def test_merge_points_the_training_panel_at_the_new_iteration(project, tmp_path):
    """F17: after a merge the panel shows the new (untrained) iteration at once."""
    from pathlib import Path

    from posekit.widgets.training_dashboard import TrainingDashboard
    from posekit.widgets.training_model import TrainingModel

    def snapshots(project, shuffle=1):  # iteration 0 was trained (3 snapshots)
        folder = Path(f"/nowhere/iteration-{project.iteration}/train")
        its = (130, 187, 271) if project.iteration == 0 else ()
        return [(i, folder / f"snapshot-{i}.json") for i in its]

    app = RefineApp(project, dashboard=False)
    training = TrainingModel(app.project, snapshots_fn=snapshots)
    app.dashboard = TrainingDashboard(training, backbones=["mobilenet_v2_0.35"])
    assert training.iteration == 271
    assert app.dashboard.start_button.description == "Train more"
    truth, _ = load_ground_truth(project, "session1")
    app.criteria_boxes["fitting"].value = False
    app.score_button.click()
    app.extract_button.click()
    lab = app.labeler
    lab.model.place(float(truth[13, 0, 0]), float(truth[13, 0, 1]), "snout")
    lab.accept_button.click()
    app.merge_button.click()
    assert "iteration 0 → 1" in app.merge_message.value
    assert training.snapshots == [] and training.iteration == 0
    assert training.state == "idle"
    assert "iteration 1 of the project: not trained yet" in training.message
    assert "no snapshot yet" in app.dashboard.snapshot_html.value
    assert app.dashboard.start_button.description == "Start training"


@pytest.fixture
def unsure(tmp_path):
    """Make a project analysed by a network unsure of snout and leftear everywhere."""
    project = make_demo_project(tmp_path, n_frames=60, n_labeled=4, size=(160, 120))
    truth, _ = load_ground_truth(project, "session1")
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.95)], -1)
    xyp[:, :2, 2] = 0.1  # snout, leftear below the p-cutoff in every frame
    for f, dx in ERRORS.items():
        xyp[f, 3, 0] += dx  # the neck jumps
    video = project.videos()[0]
    create_training_dataset(project)
    write_predictions(
        predictions_frame(xyp, SCORER, project.bodyparts),
        video.with_name(video.stem + SCORER + ".h5"),
    )
    return project


def test_advice_names_the_apps_controls_and_a_longer_training(unsure):
    """QA s17 #5: app words (no comparisonbodyparts), a bodypart control, train longer."""
    app = RefineApp(unsure, dashboard=False, labeler_options={"display_width": 480})
    app.click_settle_s = 0.0  # clicks in a row, not a double click
    app.criteria_boxes["fitting"].value = False
    app.score_button.click()
    text = html.unescape(app.find_message.value)
    assert "'uncertain' flags 100 % of the frames" in text
    assert "snout (100 %), leftear (100 %)" in text
    assert "train it longer in the Train app" in text
    assert "untick snout, leftear under bodyparts" in text
    assert "comparisonbodyparts" not in text and "--bodyparts" not in text
    # the engine's words stay for Python and the command line
    (cli,) = app.model.result.advice
    assert "comparisonbodyparts=['rightear', 'neck', 'spine', 'tailbase']" in cli
    assert "longer training" in cli
    # the advice followed: the neck's jumps are what is left
    app.bodypart_boxes["snout"].value = False
    app.bodypart_boxes["leftear"].value = False
    app.score_button.click()
    assert app.model.bodyparts == ["rightear", "neck", "spine", "tailbase"]
    assert app.model.result.advice == [] and "uncertain: 0" in app.find_message.value
    assert set(app.model.result.picked) == set(ERRORS)
    for box in app.bodypart_boxes.values():
        box.value = False
    app.score_button.click()
    assert "Tick one or more bodyparts" in app.find_message.value


def test_the_legend_does_not_cover_the_last_frames(project):
    """QA s17 #5: the legend sat over frames ~800-900; now it is above the plot."""
    app = RefineApp(project, dashboard=False)
    legend = app.timeline.legend[0]
    assert legend in app.timeline.above and legend not in app.timeline.center
    assert legend.orientation == "horizontal"
