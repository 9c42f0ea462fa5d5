"""Parallel training runs compared in one table (headless)."""

from __future__ import annotations

import threading

import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.run_comparison import RunComparison, comparison_table_html
from posekit.widgets.run_comparison_model import RunComparisonModel, next_free_shuffles


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Make a small demo project."""
    return make_demo_project(tmp_path_factory.mktemp("cmp"), n_frames=30, n_labeled=6)


class FakeTraining:
    """Stands in for train_in_parallel: one row per run, worst backbone first."""

    def __init__(self) -> None:
        self.calls = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, project, runs, *, client, same_split_as, on_result, **budget):
        self.calls.append((runs, client, same_split_as, budget))
        for k, run in enumerate(reversed(runs)):
            self.release.wait()
            on_result(
                {"backbone": run.backbone, "shuffle": run.shuffle, "iterations": 5,
                 "test_error_px": 10.0 - k, "wall_s": 3.0, "threads": 1}
            )  # fmt: skip


def test_runs_train_in_their_own_shuffles_and_fill_one_table(project) -> None:
    fake = FakeTraining()
    m = RunComparisonModel(project, reference_shuffle=1, train_fn=fake)
    view = RunComparison(m, backbones=["mobilenet_v2_0.35", "efficientnet_lite0"])
    view.backbones.value = ("mobilenet_v2_0.35", "efficientnet_lite0")
    m.iterations, m.minutes = 50, 2.0
    fake.release.clear()
    view.compare_button.click()
    assert view.compare_button.disabled  # running
    fake.release.set()
    assert m.join(10) and m.state == "done", m.error
    runs, client, split, budget = fake.calls[0]
    assert [(r.shuffle, r.backbone) for r in runs] == [
        (2, "mobilenet_v2_0.35"),
        (3, "efficientnet_lite0"),
    ]
    assert (client, split) == ("local", 1)
    assert budget == {"max_iterations": 50, "time_budget_s": 120.0}
    # best test error first
    assert [r["backbone"] for r in m.rows] == [
        "mobilenet_v2_0.35",
        "efficientnet_lite0",
    ]
    assert "<td>9.00</td>" in view.table.value and "2 run(s) compared" in m.message
    assert not view.compare_button.disabled


def test_errors_are_shown(project) -> None:
    def broken(*args, **kwargs):
        raise ValueError("no labelled frames")

    m = RunComparisonModel(project, train_fn=broken)
    m.compare(["mobilenet_v2_0.35"], wait=True)
    assert m.state == "error" and "no labelled frames" in m.message
    assert m.error == "no labelled frames"  # bad input: the message, no traceback
    with pytest.raises(ValueError, match="at least one backbone"):
        m.compare([])


def test_next_free_shuffles_skip_trained_ones(project) -> None:
    assert next_free_shuffles(project, 2) == [2, 3]
    assert comparison_table_html([]) == ""


def test_status_is_announced_and_the_button_readable(project) -> None:
    """QA s15 #8 (silent status), #13 (white on #388e3c is 4.1:1)."""
    from posekit.widgets.app import contrast_ratio

    view = RunComparison(RunComparisonModel(project), backbones=["mobilenet_v2_0.35"])
    assert "posekit-live" in view.status._dom_classes
    assert contrast_ratio(view.compare_button.style.button_color, "#ffffff") >= 4.5
