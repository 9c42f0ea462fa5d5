"""The ethogram annotator's view, headless.

Bouts marked through the controls (and the timeline's tap and range-select events)
give the exact per-frame labels and bout table; labels files load and save. The model
alone: test_ethogram_annotator_model.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bokeh.events import SelectionGeometry, Tap

from posekit.engine.behavior.ethogram import labels_to_bouts
from posekit.engine.demo import make_demo_project
from posekit.widgets.ethogram_annotator import PREDICTED_SUFFIX, EthogramAnnotator

N = 40
FPS = 20.0


@pytest.fixture
def annot() -> EthogramAnnotator:
    return EthogramAnnotator(N, ["rest", "walk"], fps=FPS, load_bokehjs=False)


def _expected(*bouts: tuple[str, int, int]) -> list[str]:
    out = ["none"] * N
    for name, s, e in bouts:
        out[s : e + 1] = [name] * (e - s + 1)
    return out


def test_start_and_end_buttons_mark_a_bout(annot) -> None:
    changes: list[np.ndarray] = []
    annot.on_change(changes.append)
    annot.behavior_buttons.value = "walk"
    annot.frame_slider.value = 5
    annot.start_button.click()
    assert annot.pending_start == 5 and "bout started at frame 5" in annot.info.value
    annot.frame_slider.value = 12
    annot.end_button.click()
    assert annot.pending_start is None
    assert annot.labels().tolist() == _expected(("walk", 5, 12))
    assert len(changes) == 1 and changes[0].tolist() == annot.labels().tolist()
    bouts = annot.bouts()
    assert bouts[["behavior", "start", "end", "duration"]].values.tolist() == [
        ["walk", 5, 12, 8]
    ]
    assert bouts["start_s"].tolist() == [0.25] and bouts["duration_s"].tolist() == [0.4]
    # the timeline bar covers frames 5..12 (edges at ±0.5) in the walk row
    assert dict(annot.bout_source.data)["left"] == [4.5]
    assert dict(annot.bout_source.data)["right"] == [12.5]
    assert list(annot.bout_source.data["row"]) == ["walk"]
    assert list(annot.figure.y_range.factors) == ["walk", "rest"]  # top to bottom
    assert "<td>walk</td>" in annot.table.value


def test_end_before_start_and_overwrite(annot) -> None:
    annot.behavior = "rest"
    annot.start_bout(30)
    annot.end_bout(20)  # either order
    annot.add_bout("walk", 25, 27)  # overwrites the middle of the rest bout
    assert annot.labels().tolist() == _expected(
        ("rest", 20, 24), ("walk", 25, 27), ("rest", 28, 30)
    )
    assert annot.bouts()["behavior"].tolist() == ["rest", "walk", "rest"]
    assert annot.annotated().sum() == 11


def test_range_select_and_mark_range(annot) -> None:
    # a drag with the range-select tool from x = 2.4 to x = 9.6: frames 3..9
    annot.figure._trigger_event(
        SelectionGeometry(
            annot.figure, geometry={"type": "rect", "x0": 2.4, "x1": 9.6}, final=True
        )
    )
    assert annot.range_slider.value == (3, 9)
    annot.behavior_buttons.value = "rest"
    annot.mark_button.click()
    assert annot.labels().tolist() == _expected(("rest", 3, 9))


def test_tap_moves_cursor_and_delete_bout(annot) -> None:
    annot.add_bout("walk", 10, 14)
    annot.figure._trigger_event(Tap(annot.figure, x=12.3, y=0.0))
    assert annot.frame == 12 and annot.frame_slider.value == 12
    assert annot.cursor.location == 12
    assert "marked: <b>walk</b>" in annot.info.value
    assert annot.bout_at(12) == {"behavior": "walk", "start": 10, "end": 14}
    annot.delete_button.click()
    assert annot.labels().tolist() == ["none"] * N
    assert annot.bout_at(12) is None


def test_errors_show_in_the_widget(annot) -> None:
    annot.end_button.click()  # no start
    assert "Start bout" in annot.message.value
    annot.new_behavior.value = "none"  # the background label
    annot.add_behavior_button.click()
    # Add says what happened beside the button
    assert "unmarked frames" in annot.add_message.value
    assert annot.message.value == ""
    annot.new_behavior.value = "groom"
    annot.add_behavior_button.click()
    assert annot.behaviors == ["rest", "walk", "groom"]
    assert annot.behavior_buttons.options == ("rest", "walk", "groom")
    assert "added" in annot.add_message.value and "color" not in annot.add_message.value
    with pytest.raises(ValueError, match="outside"):
        annot.add_bout("walk", 35, N)


@pytest.mark.parametrize("typed", ["", "   "])
def test_add_with_an_empty_name_says_why(annot, typed) -> None:
    annot.new_behavior.value = typed
    annot.add_behavior_button.click()
    assert annot.behaviors == ["rest", "walk"]
    assert "Type a name for the behaviour" in annot.add_message.value
    assert "#cf222e" in annot.add_message.value  # shown as an error
    # a name then adds it, chooses it for the next bout and empties the box
    annot.new_behavior.value = " groom "
    annot.add_behavior_button.click()
    assert annot.behaviors == ["rest", "walk", "groom"]
    assert annot.behavior == "groom" and annot.behavior_buttons.value == "groom"
    assert annot.new_behavior.value == ""
    assert "&#x27;groom&#x27; added" in annot.add_message.value
    annot.range_slider.value = (3, 5)
    annot.mark_button.click()
    assert annot.bouts()[["behavior", "start", "end"]].values.tolist() == [
        ["groom", 3, 5]
    ]
    annot.new_behavior.value = "walk"
    annot.add_behavior_button.click()
    assert annot.behavior == "walk" and "already in the list" in annot.add_message.value


def test_predictions_get_their_own_rows(annot) -> None:
    annot.add_bout("walk", 0, 9)
    predicted = np.array(["rest"] * 20 + ["walk"] * 20)
    annot.set_predictions(predicted)
    assert annot.rows() == [
        "rest",
        "walk",
        "rest" + PREDICTED_SUFFIX,
        "walk" + PREDICTED_SUFFIX,
    ]
    data = dict(annot.predicted_source.data)
    assert list(data["row"]) == ["rest" + PREDICTED_SUFFIX, "walk" + PREDICTED_SUFFIX]
    assert list(data["start"]) == [0, 20] and list(data["end"]) == [19, 39]
    assert annot.predictions.tolist() == predicted.tolist()
    annot.set_predictions(None)
    assert annot.rows() == ["rest", "walk"]
    with pytest.raises(ValueError, match="predicted labels"):
        annot.set_predictions(["rest"] * 3)


def test_save_and_load_per_frame_and_bout_csv(annot, tmp_path) -> None:
    annot.add_bout("walk", 4, 9)
    annot.add_bout("rest", 20, 25)
    frames = annot.save(tmp_path / "marks.csv")
    table = pd.read_csv(frames)
    assert table.columns.tolist() == ["frame", "time", "behavior"]
    assert table["behavior"].tolist() == annot.labels().tolist()
    assert table["time"].iloc[4] == pytest.approx(0.2)
    bouts = annot.save(tmp_path / "marks_bouts.csv")
    assert pd.read_csv(bouts)[["behavior", "start", "end"]].values.tolist() == [
        ["walk", 4, 9],
        ["rest", 20, 25],
    ]
    for path in (frames, bouts):
        other = EthogramAnnotator(N, load_bokehjs=False)
        assert other.load(path).tolist() == annot.labels().tolist()
        assert other.behaviors == ["walk", "rest"]
    with pytest.raises(ValueError, match="columns"):
        pd.DataFrame({"a": [1]}).to_csv(tmp_path / "bad.csv", index=False)
        annot.load(tmp_path / "bad.csv")


def test_loads_the_demo_ground_truth(tmp_path) -> None:
    project = make_demo_project(tmp_path, n_frames=120, n_labeled=0)
    path = project.path / "ground-truth" / "session1_behavior.csv"
    truth = pd.read_csv(path)["behavior"].astype(str).to_numpy()
    annot = EthogramAnnotator(120, fps=30.0, load_bokehjs=False)
    labels = annot.load(path)
    assert labels.tolist() == truth.tolist()
    expected = labels_to_bouts(truth, fps=30.0, ignore=["none"])
    pd.testing.assert_frame_equal(annot.bouts(), expected)
    assert set(annot.behaviors) == set(truth)


def test_labels_validation_and_close() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        EthogramAnnotator(0, load_bokehjs=False)
    annot = EthogramAnnotator(5, ["a"], labels=["a", "a", "none", "b", "b"],
                              load_bokehjs=False)  # fmt: skip
    assert annot.behaviors == ["a", "b"]
    assert annot.bouts()[["behavior", "start", "end"]].values.tolist() == [
        ["a", 0, 1],
        ["b", 3, 4],
    ]
    with pytest.raises(ValueError, match="expected 5 labels"):
        annot.set_labels(["a"] * 4)
    annot.close()
    assert annot.widget.comm is None and annot.bokeh_model.comm is None
    assert annot.frame_slider.comm is None


def test_ethogram_scrolls_and_its_messages_are_announced(annot) -> None:
    """QA s15 #11 (cut at 200 % zoom) and #8 (silent messages)."""
    assert annot.bokeh_model.layout.overflow == "auto"
    assert annot.bokeh_model.layout.max_width == "100%"
    assert "posekit-scroll" in annot.bokeh_model._dom_classes
    assert annot.figure.toolbar.logo is None
    for box in (annot.message, annot.add_message):
        assert "posekit-live" in box._dom_classes
