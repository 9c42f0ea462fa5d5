"""``CombinedEvaluation-results.csv``: evaluating a model again replaces its row.

QA s22 (metrics 6): every evaluation appended a row, so evaluating the same shuffle
and snapshot twice gave two identical rows, and a table built from the file counted
the model twice.
"""

from __future__ import annotations

import pandas as pd

from posekit.engine.evaluation import (
    COMBINED_EVALUATION_COLUMNS,
    write_combined_evaluation,
)


def _write(path, iterations, shuffle, error, fraction=0.8):
    return write_combined_evaluation(
        path,
        iterations=iterations,
        train_fraction=fraction,
        shuffle=shuffle,
        train_error=error,
        test_error=error + 1,
        pcutoff=0.6,
        train_error_pcutoff=error,
        test_error_pcutoff=error + 1,
    )


def _rows(path):
    df = pd.read_csv(path, index_col=0)
    assert tuple(df.columns) == COMBINED_EVALUATION_COLUMNS
    return df


def test_the_same_model_replaces_its_row_in_place(tmp_path):
    path = tmp_path / "CombinedEvaluation-results.csv"
    _write(path, 300, 1, 5.0)
    _write(path, 300, 2, 6.0)
    _write(path, 600, 1, 4.0)
    _write(path, 300, 1, 3.0)  # shuffle 1 at 300 iterations again
    df = _rows(path)
    assert df.index.tolist() == [0, 1, 2]
    assert df["Shuffle number"].tolist() == [1, 2, 1]
    assert df["Training iterations:"].tolist() == [300, 300, 600]
    assert df["Train error(px)"].tolist() == [3.0, 6.0, 4.0]
    # another training fraction is another model
    _write(path, 300, 1, 7.0, fraction=0.95)
    df = _rows(path)
    assert df["%Training dataset"].tolist() == [80, 80, 80, 95]
    assert df["Train error(px)"].tolist() == [3.0, 6.0, 4.0, 7.0]


def test_duplicates_an_older_posekit_wrote_are_collapsed(tmp_path):
    path = tmp_path / "CombinedEvaluation-results.csv"
    header = ",".join(["", *COMBINED_EVALUATION_COLUMNS])
    path.write_text(
        f"{header}\n"
        "0,300,80,1,5.27,5.79,0.4,4.9,5.82\n"
        "1,300,80,2,5.0,5.0,0.4,5.0,5.0\n"
        "2,300,80,1,5.27,5.79,0.4,4.9,5.82\n"
    )
    _write(path, 300, 1, 2.0)
    df = _rows(path)
    assert df.index.tolist() == [0, 1]
    assert df["Shuffle number"].tolist() == [1, 2]
    assert df["Train error(px)"].tolist() == [2.0, 5.0]
