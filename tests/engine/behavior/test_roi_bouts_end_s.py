"""ROI visits carry ``end_s``, as every bout table (QA s21 finding 9).

``end_s`` is when the visit stops: the end of its last frame, ``(end + 1) / fps``, so
``duration_s = end_s - start_s``, as in the classifier's bouts
(:func:`~posekit.engine.behavior.ethogram.labels_to_bouts`).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.ethogram import labels_to_bouts
from posekit.engine.behavior.roi import RectangleROI, roi_bouts
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.poses import from_numpy

FPS = 10.0


def test_roi_bouts_end_s_is_when_the_visit_stops() -> None:
    inside = np.zeros(20)
    inside[3:7] = 1.0  # frames 3..6
    inside[12:15] = 1.0  # frames 12..14
    occ = xr.DataArray(inside[:, None], dims=("time", "roi"), coords={"roi": ["box"]})
    visits = roi_bouts(occ, fps=FPS)
    assert list(visits.columns[-3:]) == ["start_s", "end_s", "duration_s"]
    assert visits[["start", "end"]].values.tolist() == [[3, 6], [12, 14]]
    assert visits["start_s"].tolist() == pytest.approx([0.3, 1.2])
    assert visits["end_s"].tolist() == pytest.approx([0.7, 1.5])
    assert (visits["end_s"] - visits["start_s"]).tolist() == pytest.approx(
        visits["duration_s"].tolist()
    )
    # the same times as the bouts of the same frames labelled by a classifier
    labels = np.where(inside == 1, "box", "none")
    bouts = labels_to_bouts(labels, fps=FPS, ignore=["none"])
    assert visits["end_s"].tolist() == pytest.approx(bouts["end_s"].tolist())
    # no frame rate: no seconds columns
    assert "end_s" not in roi_bouts(occ).columns


def test_roi_bouts_table_has_end_s() -> None:
    """The table the CLI and the app write (``roi_bouts.csv``)."""
    n = 60
    t = np.arange(n, dtype=float)
    pos = np.zeros((n, 2, 1, 1))
    pos[:, 0, 0, 0] = 2 * t + 1  # inside 40..60 on frames 20..29
    pos[:, 1, 0, 0] = 50.0
    m = BehaviorModel()
    m.add_dataset(from_numpy(pos, keypoint_names=["nose"], fps=FPS), name="mouse")
    m.set_rois([RectangleROI("box", 40, 40, 60, 60)])
    visit = m.roi_bouts_table().iloc[0]
    assert (visit["start"], visit["end"]) == (20, 29)
    assert (visit["start_s"], visit["end_s"], visit["duration_s"]) == pytest.approx(
        (2.0, 3.0, 1.0)
    )
