"""Time-series figures of poses (matplotlib) and the figure files."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.plotting import plot_time_series, save_pose_plots
from posekit.engine.poses import from_numpy


@pytest.fixture
def ds(rng):
    pos = rng.normal(100, 10, (30, 2, 2, 1))
    pos[5:8, :, 1, 0] = np.nan
    conf = rng.random((30, 2, 1))
    return from_numpy(pos, conf, keypoint_names=["nose", "tail"], fps=10)


def test_time_series_panels_hold_the_data(ds) -> None:
    fig = plot_time_series(ds, frame=12)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == [
        "x (px)", "y (px)", "speed (px/s)", "likelihood",
    ]  # fmt: skip
    x_nose = axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(x_nose, ds.position.values[:, 0, 0, 0])
    y_tail = axes[1].lines[1].get_ydata()
    assert np.isnan(y_tail[5:8]).all()
    lik = axes[3].lines[0].get_ydata()
    np.testing.assert_allclose(lik, ds.confidence.values[:, 0, 0])
    cursor = axes[0].lines[-1]
    assert list(cursor.get_xdata()) == [12, 12]
    with pytest.raises(ValueError, match="keypoints"):
        plot_time_series(ds, keypoints=["ear"])


def test_save_pose_plots(ds, tmp_path) -> None:
    paths = save_pose_plots(ds, tmp_path / "out", formats=("png", "svg"), prefix="a_")
    assert sorted(p.name for p in paths) == [
        "a_timeseries.png", "a_timeseries.svg", "a_trajectory.png", "a_trajectory.svg",
    ]  # fmt: skip
    for p in paths:
        head = p.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in head
