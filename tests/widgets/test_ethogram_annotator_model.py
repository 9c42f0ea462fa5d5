"""The ethogram annotator's model without Bokeh.

Bouts marked through the model give the exact per-frame labels, bout table and
timeline bars; labels files load and save; views hear of each change.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.widgets import ethogram_annotator_model
from posekit.widgets.ethogram_annotator_model import (
    NO_BEHAVIOR_ROW,
    PREDICTED_SUFFIX,
    EthogramAnnotatorModel,
)

N = 40
FPS = 20.0


@pytest.fixture
def model() -> EthogramAnnotatorModel:
    return EthogramAnnotatorModel(N, ["rest", "walk"], fps=FPS)


def _expected(*bouts: tuple[str, int, int]) -> list[str]:
    out = ["none"] * N
    for name, s, e in bouts:
        out[s : e + 1] = [name] * (e - s + 1)
    return out


def test_the_model_imports_neither_bokeh_nor_ipywidgets() -> None:
    tree = ast.parse(Path(ethogram_annotator_model.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("bokeh", "ipywidgets")}
    assert not {m for m in imported if m.startswith("_bokeh")}
    assert "engine.behavior.annotations" in imported


def test_start_end_bout_and_callbacks(model) -> None:
    changes: list[list[str]] = []
    aspects: list[frozenset] = []
    model.on_change(lambda labels: changes.append(labels.tolist()))
    model.observe(aspects.append)
    assert model.behavior == "rest"  # the first behaviour is chosen
    model.behavior = "walk"
    model.frame = 5
    assert model.start_bout() == 5 and model.pending_start == 5
    model.frame = 12
    bout = model.end_bout()
    assert bout == {"behavior": "walk", "start": 5, "end": 12}
    assert model.pending_start is None
    assert model.labels().tolist() == _expected(("walk", 5, 12))
    assert changes == [model.labels().tolist()]
    assert aspects == [
        frozenset({"behavior"}),
        frozenset({"frame"}),
        frozenset({"pending"}),
        frozenset({"frame"}),
        frozenset({"labels"}),
        frozenset({"pending"}),
    ]
    bouts = model.bouts()
    assert bouts[["behavior", "start", "end", "duration"]].values.tolist() == [
        ["walk", 5, 12, 8]
    ]
    assert bouts["start_s"].tolist() == [0.25] and bouts["duration_s"].tolist() == [0.4]
    bars = model.bars()
    assert (bars["row"], bars["left"], bars["right"]) == (["walk"], [4.5], [12.5])
    assert bars["color"] == [model.colors()["walk"]]
    model.frame = 100  # clipped
    assert model.frame == N - 1


def test_overwrite_delete_clear_and_errors(model) -> None:
    model.behavior = "rest"
    model.start_bout(30)
    model.end_bout(20)  # either order
    model.add_bout("walk", 25, 27)
    assert model.labels().tolist() == _expected(
        ("rest", 20, 24), ("walk", 25, 27), ("rest", 28, 30)
    )
    assert model.annotated().sum() == 11
    assert model.bout_at(26) == {"behavior": "walk", "start": 25, "end": 27}
    assert model.bout_at(0) is None and model.bout_at(N) is None
    assert model.delete_bout(26) == {"behavior": "walk", "start": 25, "end": 27}
    assert model.labels().tolist() == _expected(("rest", 20, 24), ("rest", 28, 30))
    model.add_bout("groom", 0, 1)  # a new behaviour is offered
    assert model.behaviors == ["rest", "walk", "groom"]
    model.clear()
    assert model.labels().tolist() == ["none"] * N
    with pytest.raises(ValueError, match="Start bout"):
        model.end_bout()
    with pytest.raises(ValueError, match="unmarked frames"):
        model.add_behavior("none")
    with pytest.raises(ValueError, match="non-empty"):
        model.add_behavior(" ")
    with pytest.raises(ValueError, match="unknown behaviour"):
        model.behavior = "sleep"
    with pytest.raises(ValueError, match="outside"):
        model.add_bout("walk", 35, N)
    with pytest.raises(ValueError, match="not 'none'"):
        model.add_bout("none", 1, 2)
    with pytest.raises(ValueError, match="outside"):
        model.start_bout(-1)
    with pytest.raises(ValueError, match="positive integer"):
        EthogramAnnotatorModel(0)


def test_predictions_rows_and_bars(model) -> None:
    model.add_bout("walk", 0, 9)
    predicted = np.array(["rest"] * 20 + ["sniff"] * 20)
    model.set_predictions(predicted)
    assert model.rows() == [
        "rest",
        "walk",
        "rest" + PREDICTED_SUFFIX,
        "sniff" + PREDICTED_SUFFIX,
    ]
    bars = model.bars(predicted=True)
    assert bars["row"] == ["rest" + PREDICTED_SUFFIX, "sniff" + PREDICTED_SUFFIX]
    assert (bars["start"], bars["end"]) == ([0, 20], [19, 39])
    assert list(model.colors()) == ["rest", "walk", "sniff"]
    assert model.predictions.tolist() == predicted.tolist()
    model.set_predictions(None)
    assert model.rows() == ["rest", "walk"] and model.bars(predicted=True)["row"] == []
    assert EthogramAnnotatorModel(3).rows() == [NO_BEHAVIOR_ROW]
    with pytest.raises(ValueError, match="predicted labels"):
        model.set_predictions(["rest"] * 3)


def test_frames_between_a_drawn_range(model) -> None:
    assert model.frames_between(2.4, 9.6) == (3, 9)
    assert model.frames_between(9.6, 2.4) == (3, 9)
    assert model.frames_between(4.2, 4.4) == (4, 4)  # no centre inside: the nearest
    assert model.frames_between(-5.0, 100.0) == (0, N - 1)
    assert model.frames_between(None, 3.0) is None
    assert model.frames_between(float("nan"), 3.0) is None


def test_save_and_load_per_frame_and_bouts(model, tmp_path) -> None:
    model.add_bout("walk", 4, 9)
    model.add_bout("rest", 20, 25)
    frames = model.save(tmp_path / "marks.csv")
    table = pd.read_csv(frames)
    assert table.columns.tolist() == ["frame", "time", "behavior"]
    assert table["behavior"].tolist() == model.labels().tolist()
    bouts = model.save(tmp_path / "marks_bouts.csv")
    assert pd.read_csv(bouts)[["behavior", "start", "end"]].values.tolist() == [
        ["walk", 4, 9],
        ["rest", 20, 25],
    ]
    for path in (frames, bouts):
        other = EthogramAnnotatorModel(N)
        seen: list[np.ndarray] = []
        other.on_change(seen.append)
        assert other.load(path).tolist() == model.labels().tolist()
        assert other.behaviors == ["walk", "rest"] and other.behavior == "walk"
        assert len(seen) == 1
    # initial labels: no callback, behaviours taken from them
    m = EthogramAnnotatorModel(5, ["a"], labels=["a", "a", "none", "b", "b"])
    assert m.behaviors == ["a", "b"]
    with pytest.raises(ValueError, match="expected 5 labels"):
        m.set_labels(["a"] * 4)
