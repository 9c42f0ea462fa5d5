"""Metrics with known answers, DLC's CombinedEvaluation file; no TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine import evaluation as ev
from posekit.engine.evaluation import (
    COMBINED_EVALUATION_COLUMNS,
    evaluation_summary,
    keypoint_distances,
    mean_error,
    pck,
    per_bodypart_error,
    rmse,
    write_combined_evaluation,
)

# two frames, two bodyparts: distances 5, 1 / 0, missing
PRED = np.array(
    [[[3.0, 4.0, 0.9], [0.0, 1.0, 0.2]], [[7.0, 7.0, 0.8], [9.0, 9.0, 0.9]]]
)
TRUTH = np.array([[[0.0, 0.0], [0.0, 0.0]], [[7.0, 7.0], [np.nan, np.nan]]])


def test_distances_and_means() -> None:
    d = keypoint_distances(PRED, TRUTH)
    np.testing.assert_allclose(d, [[5.0, 1.0], [0.0, np.nan]])
    assert mean_error(PRED, TRUTH) == pytest.approx(2.0)  # (5 + 1 + 0) / 3
    assert rmse(PRED, TRUTH) == pytest.approx(np.sqrt(26 / 3))
    assert rmse(PRED, TRUTH) >= mean_error(PRED, TRUTH)
    # p-cutoff 0.6 drops the 0.2-likelihood prediction
    assert mean_error(PRED, TRUTH, pcutoff=0.6) == pytest.approx(2.5)
    assert per_bodypart_error(PRED, TRUTH, ["a", "b"]) == {"a": 2.5, "b": 1.0}
    assert pck(PRED, TRUTH, radius=1.0) == pytest.approx(2 / 3)
    s = evaluation_summary(PRED, TRUTH, ["a", "b"], pcutoff=0.6, pck_radius=1.0)
    assert s["mean_error_px"] == pytest.approx(2.0) and s["n_labelled"] == 3
    with pytest.raises(ValueError, match="labels must be"):
        mean_error(PRED, TRUTH[:, :1])


def test_combined_evaluation_file(tmp_path) -> None:
    path = tmp_path / "CombinedEvaluation-results.csv"
    kwargs = {
        "train_fraction": 0.95,
        "shuffle": 1,
        "train_error": 1.234,
        "test_error": 2.716,
        "pcutoff": 0.6,
        "train_error_pcutoff": 1.1,
        "test_error_pcutoff": 2.5,
    }
    write_combined_evaluation(path, iterations=1000, **kwargs)
    write_combined_evaluation(path, iterations=2000, **kwargs)
    lines = path.read_text().splitlines()
    # DeepLabCut's layout: the pandas index first (QA s20: DLC reads the file with
    # index_col=0 when it appends, and took the iterations for the index)
    assert lines[0] == (
        ",Training iterations:,%Training dataset,Shuffle number,Train error(px),"
        "Test error(px),p-cutoff used,Train error with p-cutoff,Test error with p-cutoff"
    )
    df = pd.read_csv(path, index_col=0)
    assert tuple(df.columns) == COMBINED_EVALUATION_COLUMNS
    assert df.index.tolist() == [0, 1]
    assert df["Training iterations:"].tolist() == [1000, 2000]
    assert df["%Training dataset"].tolist() == [95, 95]
    assert df["Test error(px)"].tolist() == [2.72, 2.72]
    # DeepLabCut 2.3's make_results_file appends so: read, concat, write
    dlc = pd.concat((df, df.iloc[:1])).reset_index(drop=True)
    dlc.to_csv(path)
    write_combined_evaluation(path, iterations=3000, **kwargs)
    again = pd.read_csv(path, index_col=0)
    assert again["Training iterations:"].tolist() == [1000, 2000, 1000, 3000]
    assert again.index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "index", [True, False], ids=["deeplabcut-file", "older-posekit-file"]
)
def test_combined_evaluation_appends_in_deeplabcut_s_layout(tmp_path, index) -> None:
    """Appending keeps DeepLabCut's layout, or gives an older posekit file it.

    DeepLabCut writes the pandas index as a first, unnamed column (``index``); an
    older posekit wrote none, and its file is given one when appended to.
    """
    path = tmp_path / "CombinedEvaluation-results.csv"
    pd.DataFrame(
        [[500, 95, 1, 3.0, 4.0, 0.6, 3.0, 4.0]], columns=COMBINED_EVALUATION_COLUMNS
    ).to_csv(path, index=index)
    write_combined_evaluation(
        path,
        iterations=900,
        train_fraction=0.95,
        shuffle=1,
        train_error=1,
        test_error=2,
        pcutoff=0.6,
        train_error_pcutoff=1,
        test_error_pcutoff=2,
    )
    df = pd.read_csv(path, index_col=0)
    assert tuple(df.columns) == COMBINED_EVALUATION_COLUMNS
    assert df["Training iterations:"].tolist() == [500, 900]
    assert df.index.tolist() == [0, 1]


def test_combined_evaluation_refuses_another_csv(tmp_path) -> None:
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a CombinedEvaluation"):
        write_combined_evaluation(
            bad,
            iterations=1,
            train_fraction=0.95,
            shuffle=1,
            train_error=1,
            test_error=1,
            pcutoff=0.6,
            train_error_pcutoff=1,
            test_error_pcutoff=1,
        )


def test_importing_evaluation_loads_no_tensorflow() -> None:
    """Metrics and writers only: the module imports no TensorFlow, not even lazily."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from posekit.engine import evaluation as ev\n"
        "p = np.array([[[3.0, 4.0, 0.9]]]); t = np.zeros((1, 1, 2))\n"
        "ev.evaluation_summary(p, t, ['a'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    # nor lazily, inside a function
    imported = set()
    for node in ast.walk(ast.parse(Path(ev.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
            imported.update(a.name for a in node.names)
    assert "numpy" in imported  # the walk sees the imports
    assert not imported & {"tensorflow", "keras", "_tf", "inference", "models"}
