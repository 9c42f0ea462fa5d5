"""Writing a results folder: the files, their order, progress and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.results import session_figures, write_results
from posekit.engine.behavior.roi import RectangleROI, load_rois
from posekit.engine.poses import from_numpy


def _point() -> object:
    t = np.arange(20, dtype=float)
    pos = np.zeros((20, 2, 1, 1))
    pos[:, 0, 0, 0], pos[:, 1, 0, 0] = 2 * t + 1, 50.0
    return from_numpy(pos, fps=10.0)["position"].isel(keypoint=0, drop=True)


def test_write_results_files_order_and_progress(tmp_path) -> None:
    drawn: list[str] = []

    def draw() -> dict:
        drawn.append("m1")
        labels = {"individual_0": np.array(["walk"] * 10 + ["none"] * 10)}
        return session_figures(_point(), _point(), labels=labels, fps=10.0)

    steps: list[tuple[int, int, str]] = []
    files = write_results(
        tmp_path / "out",
        {"sessions": pd.DataFrame({"session": ["m1"]})},
        figures={"m1": draw},
        rois=[RectangleROI("box", 0, 0, 5, 5)],
        settings={"keypoint": None},
        excel=False,
        figure_formats=("png",),
        progress=lambda *a: steps.append(a),
    )
    assert [p.name for p in files] == [
        "sessions.csv",
        "m1_trajectory.png",
        "m1_heatmap.png",
        "m1_speed.png",
        "m1_ethogram.png",
        "rois.geojson",
        "settings.json",
    ]
    assert drawn == ["m1"]
    assert steps == [
        (1, 4, "sessions.csv"),
        (2, 4, "m1 figures (png)"),
        (3, 4, "rois.geojson"),
        (4, 4, "settings.json"),
    ]
    assert load_rois(tmp_path / "out" / "rois.geojson")[0].name == "box"
    assert json.loads((tmp_path / "out" / "settings.json").read_text()) == {
        "keypoint": None
    }
    # no figure format: nothing is drawn
    write_results(tmp_path / "o2", {}, figures={"m1": draw}, figure_formats=())
    assert drawn == ["m1"]


def test_write_results_rejects_unknown_formats_and_tables(tmp_path) -> None:
    with pytest.raises(ValueError, match="'png' or 'svg'"):
        write_results(tmp_path, {}, figure_formats=("jpg",))
    with pytest.raises(ValueError, match="unknown tables"):
        write_results(tmp_path, {"mine": pd.DataFrame({"a": [1]})})
