"""Matched errors with DeepLabCut's p-cutoff (QA s22 metrics 2).

The multi-animal "error with p-cutoff" was the error of every matched point. It
counts only the matched points whose likelihood is at least the cut-off; the matching
itself is unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.multianimal.metrics import assembly_metrics, matched_errors

GT = [
    np.array(
        [
            [[0.0, 0.0], [20.0, 0.0], [10.0, 20.0]],
            [[100.0, 100.0], [120.0, 100.0], [110.0, 120.0]],
        ]
    ),
    np.array([[[50.0, 50.0], [70.0, 70.0], [np.nan, np.nan]]]),
]


def _pred():
    """Animals listed in the other order; offsets (3, 4) = 5 px, one 10 px point."""
    a = np.concatenate([GT[0][::-1] + [3.0, 4.0], np.full((2, 3, 1), 0.9)], axis=-1)
    a[0, 2] = [110.0 + 6.0, 120.0 + 8.0, 0.2]  # 10 px off, likelihood 0.2
    b = np.array([[[53.0, 54.0, 0.5], [70.0, 77.0, 0.49], [60.0, 60.0, 0.99]]])
    return [a, b]


def test_matched_errors_keep_the_points_at_or_above_the_cutoff():
    # all: 5 x 5 px, one 10 px (frame 1); 5 px and 7 px (frame 2; 3rd not labelled)
    assert sorted(matched_errors(_pred(), GT).tolist()) == [5.0] * 6 + [7.0, 10.0]
    # p >= 0.5: the 0.2 and 0.49 points are left out, the 0.5 one is kept
    assert matched_errors(_pred(), GT, pcutoff=0.5).tolist() == [5.0] * 6


def test_assembly_metrics_report_both():
    m = assembly_metrics(_pred(), GT, pcutoff=0.5)
    assert m["mean_error_px"] == pytest.approx((6 * 5.0 + 7.0 + 10.0) / 8)
    assert m["mean_error_pcutoff_px"] == pytest.approx(5.0)
    assert m["rmse_pcutoff_px"] == pytest.approx(5.0)
    assert m["n_keypoints"] == 8 and m["n_keypoints_pcutoff"] == 6
    assert m["pcutoff"] == 0.5
    assert "mean_error_pcutoff_px" not in assembly_metrics(_pred(), GT)


def test_a_cutoff_needs_likelihoods():
    with pytest.raises(ValueError, match="likelihood"):
        matched_errors([p[..., :2] for p in _pred()], GT, pcutoff=0.5)
    m = assembly_metrics([p[..., :2] for p in _pred()], GT, pcutoff=0.5)
    assert np.isnan(m["mean_error_pcutoff_px"])
