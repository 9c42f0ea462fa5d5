"""DeepLabCut's ``evaluate_network(config, Shuffles=[1, 2])`` evaluates each shuffle.

DeepLabCut loops over the shuffles (and inside, over the training fractions of
``trainingsetindex``), appending each evaluation's row to the iteration's
``CombinedEvaluation-results.csv``. posekit refused a list of more than one shuffle
("posekit evaluates one shuffle per call").
"""

from __future__ import annotations

import pandas as pd
import pytest

import posekit.engine as deeplabcut
from posekit.engine.cli import main
from posekit.engine.demo import make_demo_project
from posekit.engine.dlc_names import (
    dlc_keywords,
    one_shuffle,
    renamed,
    shuffle_numbers,
)
from posekit.engine.evaluation import COMBINED_EVALUATION_COLUMNS
from posekit.engine.project import as_project

METRICS = ["Train error(px)", "Test error(px)", "Train RMSE(px)", "Test RMSE(px)"]


def test_shuffles_loop_outside_the_training_fractions(tmp_path) -> None:
    """The order of DeepLabCut's loops: every fraction of shuffle 2, then of 1."""
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    project.set("TrainingFraction", [0.5, 0.8])
    project.save()
    config = str(project.config_path)

    @dlc_keywords(
        Shuffles=renamed("shuffle", shuffle_numbers),
        all_training_sets=list,
        each_shuffle=tuple,
    )
    def each(project, *, shuffle=1):
        return as_project(project).training_fractions[0], shuffle

    assert each(config, trainingsetindex="all", Shuffles=[2, 1]) == (
        [(0.5, 2), (0.8, 2)],
        [(0.5, 1), (0.8, 1)],
    )
    assert each(config, Shuffles=[3, 1], trainingsetindex=1) == ((0.8, 3), (0.8, 1))
    assert each(config, shuffle=[1, 2]) == ((0.5, 1), (0.5, 2))  # posekit's name
    assert each(config, Shuffles=[3]) == (0.5, 3)  # one: as before, no tuple
    assert each(config, shuffle=[2]) == (0.5, 2)
    assert each(config, shuffle=4) == (0.5, 4)
    with pytest.raises(TypeError, match=r"Shuffles=\[\]: give at least one"):
        each(config, Shuffles=[])
    with pytest.raises(TypeError, match="shuffles are whole numbers"):
        each(config, Shuffles=[1, 1.5])
    with pytest.raises(TypeError, match="shuffles are whole numbers"):
        each(config, Shuffles="12")
    with pytest.raises(TypeError, match="give one of them"):
        each(config, Shuffles=[1, 2], shuffle=1)

    @dlc_keywords(Shuffles=renamed("shuffle", one_shuffle))
    def one(project, *, shuffle=1):
        return shuffle

    with pytest.raises(TypeError, match="one shuffle per call"):
        one(config, Shuffles=[1, 2])  # verbs that take one shuffle still say so


@pytest.fixture(scope="module")
def two_shuffles(tiny_trained_copy):
    """Train shuffle 2 (2 iterations) beside the demo's shuffle 1 (3 iterations)."""
    project = tiny_trained_copy("two-shuffles")
    deeplabcut.train_network(
        project,
        shuffle=2,
        backbone="mobilenet_v2_0.35",
        max_iterations=2,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    return project


@pytest.mark.slow
def test_evaluate_network_evaluates_each_shuffle_in_turn(two_shuffles, capsys) -> None:
    project = two_shuffles
    config = str(project.config_path)
    root = project.path / "evaluation-results" / f"iteration-{project.iteration}"
    combined = root / "CombinedEvaluation-results.csv"
    table = deeplabcut.evaluate_network(config, Shuffles=[1, 2], plotting=False)
    assert table["Shuffle number"].tolist() == [1, 2]
    assert table["Training iterations:"].tolist() == [3, 2]
    # each shuffle's row is what evaluating it alone gives
    for row, shuffle in enumerate((1, 2)):
        alone = deeplabcut.evaluate_network(config, shuffle=shuffle)
        assert len(alone) == 1 and alone["Shuffle number"].iloc[0] == shuffle
        pd.testing.assert_series_equal(
            table.loc[row, METRICS], alone.loc[0, METRICS], check_names=False
        )
    # DeepLabCut's files: a row each in the iteration's combined table, in order,
    # and each shuffle's own folder; evaluating a model again replaces its row
    rows = pd.read_csv(combined, index_col=0)  # DLC: the index first
    assert tuple(rows.columns) == COMBINED_EVALUATION_COLUMNS
    assert rows["Shuffle number"].tolist() == [1, 2]
    assert rows["Training iterations:"].tolist() == [3, 2]
    assert rows["Test error(px)"].tolist()[:2] == [
        round(v, 2) for v in table["Test error(px)"]
    ]
    for shuffle in (1, 2):
        folder = project.evaluation_dir(shuffle)
        assert folder.parent == root and folder.name.endswith(f"shuffle{shuffle}")
        (results,) = folder.glob("DLC_*-results.csv")
        assert f"shuffle{shuffle}_" in results.name
    # a list of one is that shuffle (a one-row table, as shuffle=2)
    assert deeplabcut.evaluate_network(config, shuffle=[2])[
        "Shuffle number"
    ].tolist() == [2]
    # the command line: --shuffle repeated, in the order given
    assert (
        main(["evaluate", str(project.path), "--shuffle", "2", "--shuffle", "1"]) == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3  # the header and a row per shuffle
    assert [int(line.split()[3]) for line in printed[1:]] == [2, 1]
    assert pd.read_csv(combined)["Shuffle number"].tolist() == [1, 2]
