"""ROI visits across gaps in the tracking: the summary's columns agree.

QA s17 (workshop) finding 2: the ROI row read ``frames_inside 43 · n_bouts 2 ·
mean_bout 45`` (2 visits of 45 frames, but 43 frames inside) and, with another
model, ``frames_inside 7 · n_bouts 2 · mean_bout 181``: a visit went on across a gap
of any length (a visit 476-824 with 345 of its 349 frames unseen), and its missing
frames made its length but not the time inside. Now a visit goes on across gaps of
at most ``max_gap`` frames, which count inside, and a longer gap ends it: the frames
inside are the frames of the visits.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.roi import ROI_MAX_GAP, roi_bouts, roi_summary


def _occupancy(values) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(values, float)[:, None],
        dims=("time", "roi"),
        coords={"roi": ["box"]},
    )


def _series(*parts) -> np.ndarray:
    """Concatenate ``(value, frames)`` parts: 0 outside, 1 inside, NaN unknown."""
    return np.concatenate([np.full(n, v, dtype=float) for v, n in parts])


NAN = np.nan


def test_the_qa_row_is_consistent() -> None:
    # outside 0-39, inside 40-59, lost 60-99 (40 frames), inside 100-109 with a
    # 3-frame dropout at 103-105, outside from 110; 30 fps
    occ = _occupancy(
        _series((0, 40), (1, 20), (NAN, 40), (1, 3), (NAN, 3), (1, 4), (0, 30))
    )
    row = roi_summary(occ, fps=30.0).iloc[0]
    # the long gap ends the first visit; the short one is bridged and counts inside
    visits = roi_bouts(occ, fps=30.0)
    assert visits[["start", "end", "duration", "frames_missing"]].values.tolist() == [
        [40, 59, 20, 0],
        [100, 109, 10, 3],
    ]
    assert visits["entered"].tolist() == [True, False]  # not seen outside before
    assert visits["exited"].tolist() == [False, True]
    assert (row.n_bouts, row.entries, row.exits, row.latency) == (2, 1, 1, 40)
    assert (row.frames_inside, row.frames_bridged, row.frames_observed) == (30, 3, 97)
    assert row.n_bouts * row.mean_bout == row.frames_inside == visits["duration"].sum()
    assert row.time_inside_s == pytest.approx(1.0)
    assert row.mean_bout_s * row.n_bouts == pytest.approx(row.time_inside_s)
    assert row.fraction == pytest.approx(30 / (97 + 3))
    # the old rule, any gap bridged: one visit of 70 frames, 43 of them unseen,
    # counted inside as the visit's frames
    old = roi_summary(occ, max_gap=None).iloc[0]
    assert (old.n_bouts, old.frames_inside, old.mean_bout) == (1, 70, 70.0)
    assert old.frames_bridged == 43


@pytest.mark.parametrize("gap", [0, 1, ROI_MAX_GAP, ROI_MAX_GAP + 1, 50])
def test_a_gap_is_bridged_up_to_max_gap(gap) -> None:
    occ = _occupancy(_series((0, 10), (1, 10), (NAN, gap), (1, 10), (0, 10)))
    row = roi_summary(occ).iloc[0]
    visits = roi_bouts(occ)
    assert row.entries == 1 and row.exits == 1 and row.latency == 10
    if 0 < gap <= ROI_MAX_GAP:
        assert visits[["start", "end", "frames_missing"]].values.tolist() == [
            [10, 19 + gap + 10, gap]
        ]
        assert (row.n_bouts, row.frames_inside, row.frames_bridged) == (
            1,
            20 + gap,
            gap,
        )
    elif gap == 0:
        assert (row.n_bouts, row.frames_inside) == (1, 20)
    else:
        assert visits["duration"].tolist() == [10, 10]
        assert (row.n_bouts, row.frames_inside, row.frames_bridged) == (2, 20, 0)
    assert row.n_bouts * row.mean_bout == row.frames_inside


def test_max_gap_is_checked() -> None:
    occ = _occupancy([1.0, NAN, 1.0])
    with pytest.raises(ValueError, match="max_gap must be a non-negative"):
        roi_summary(occ, max_gap=-1)
    with pytest.raises(ValueError, match="max_gap must be a non-negative"):
        roi_bouts(occ, max_gap=1.5)
    assert roi_summary(occ, max_gap=0).iloc[0].n_bouts == 2
    assert roi_summary(occ, max_gap=1).iloc[0].n_bouts == 1


def test_sparse_tracking_rows_agree(rng) -> None:
    """A point seen in 10 % of the frames: every row still adds up."""
    inside = (np.arange(900) // 150) % 2 == 1
    values = np.where(rng.random(900) < 0.1, inside.astype(float), np.nan)
    row = roi_summary(_occupancy(values), fps=30.0).iloc[0]
    visits = roi_bouts(_occupancy(values))
    assert row.frames_inside == visits["duration"].sum()
    assert row.n_bouts == len(visits)
    assert row.n_bouts * row.mean_bout == pytest.approx(row.frames_inside)
    assert row.frames_bridged == visits["frames_missing"].sum()
    assert row.frames_inside - row.frames_bridged == int(np.sum(values == 1))
    assert (visits["frames_missing"] <= visits["duration"]).all()
