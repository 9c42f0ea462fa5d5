r"""The behaviour app, headless, on the 2-animal demo (QA s21 findings 1 and 9).

**Load labels** gives the animal shown its own rows of the demo's ground truth
(``frame, time, individual, behavior``: it used to load the last animal's rows for
every animal, and save them as the shown animal's marks), and the confusion matrix
is drawn with one header row, ``true \ predicted`` and the predicted behaviours.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.behavior_app import BehaviorApp

N = 300
SESSION = "session1_keypoints"
MOUSE1, MOUSE2 = f"{SESSION}/mouse1", f"{SESSION}/mouse2"


@pytest.fixture
def pair(tmp_path):
    """Return a fresh 2-animal demo per test (the app saves marks into it)."""
    return make_demo_project(tmp_path / "pair", n_animals=2, n_frames=N, n_labeled=0)


def _rows_of(path, animal: str) -> list[str]:
    table = pd.read_csv(path)
    return (
        table[table["individual"] == animal].sort_values("frame")["behavior"].tolist()
    )


def test_load_labels_gives_the_shown_animal_its_rows(pair) -> None:
    truth = pair.path / "ground-truth" / "session1_behavior.csv"
    app = BehaviorApp(pair, load_bokehjs=False)
    assert app.track_dropdown.options == (MOUSE1, MOUSE2)
    # the demo's ground truth is offered for the animal shown (mouse1)
    assert app.labels_path.value == str(truth)
    app.labels_load.click()
    assert app.classify_message.value.startswith("<small>loaded labels for")
    mouse1 = _rows_of(truth, "mouse1")
    assert mouse1 != _rows_of(truth, "mouse2")
    assert app.annotator.labels().tolist() == mouse1
    assert app.model.annotations[MOUSE1].tolist() == mouse1
    # saved at once as mouse1's marks, and mouse1's they are
    saved = app.autosave_path(MOUSE1)
    assert pd.read_csv(saved)["behavior"].tolist() == mouse1

    app.track_dropdown.value = MOUSE2
    assert app.annotator.labels().tolist() == ["none"] * N  # nothing marked yet
    app.labels_path.value = str(truth)
    app.labels_load.click()
    assert app.annotator.labels().tolist() == _rows_of(truth, "mouse2")
    assert app.model.annotations[MOUSE1].tolist() == mouse1  # unchanged

    # a reload brings each animal's own marks back
    again = BehaviorApp(pair, load_bokehjs=False)
    assert again.model.annotations[MOUSE1].tolist() == mouse1
    assert again.model.annotations[MOUSE2].tolist() == _rows_of(truth, "mouse2")


def test_a_file_without_the_shown_animal_is_refused(pair) -> None:
    truth = pair.path / "ground-truth" / "session1_behavior.csv"
    other = pair.path / "behavior-results" / "others.csv"
    other.parent.mkdir(exist_ok=True)
    table = pd.read_csv(truth)
    table[table["individual"] == "mouse2"].to_csv(other, index=False)
    app = BehaviorApp(pair, load_bokehjs=False)
    app.labels_path.value = str(other)
    app.labels_load.click()
    assert "no rows of &#x27;mouse1&#x27;" in app.classify_message.value
    assert app.annotator.labels().tolist() == ["none"] * N
    assert MOUSE1 not in app.model.annotations
    assert not app.autosave_path(MOUSE1).exists()


class _Table(HTMLParser):
    """The rows of the table of class ``css``: (tag, text) per cell."""

    def __init__(self, css: str) -> None:
        super().__init__()
        self.css, self.inside, self.rows = css, False, []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "table":
            self.inside = self.css in (dict(attrs).get("class") or "").split()
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("th", "td"):
            self._cell = [tag, ""]

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag) -> None:
        if tag == "table":
            self.inside = False
        elif self._cell is not None and tag in ("th", "td"):
            self.rows[-1].append((self._cell[0], self._cell[1].strip()))
            self._cell = None


def test_confusion_matrix_reads_true_down_predicted_across(pair) -> None:
    truth = pair.path / "ground-truth" / "session1_behavior.csv"
    app = BehaviorApp(pair, load_bokehjs=False)
    app.labels_load.click()
    app.track_dropdown.value = MOUSE2
    app.labels_path.value = str(truth)
    app.labels_load.click()
    app.n_estimators.value = 20
    app.train_button.click()
    result = app.model.cv_result
    assert result is not None, app.classify_message.value
    parser = _Table("posekit-confusion")
    parser.feed(app.scores_html.value)
    header, *body = parser.rows
    predicted = [str(c) for c in result.confusion.columns]
    # one header row: the corner, then the predicted behaviours
    assert header == [("th", "true \\ predicted"), *(("th", b) for b in predicted)]
    # a row per true behaviour: its name, then its counts
    assert [row[0][1] for row in body] == [str(i) for i in result.confusion.index]
    counts = [[int(text) for _, text in row[1:]] for row in body]
    assert counts == result.confusion.to_numpy().tolist()
    assert all(len(row) == len(header) for row in body)
