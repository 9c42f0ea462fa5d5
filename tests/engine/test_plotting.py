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


def test_keypoint_trajectories_draw_every_keypoint_in_its_colour(ds) -> None:
    """DeepLabCut's ``trajectory`` figure: a colour per keypoint, y pointing down."""
    from posekit.engine.drawing import bodypart_colors
    from posekit.engine.plotting import plot_keypoint_trajectories

    fig = plot_keypoint_trajectories(ds, colormap="jet", alpha=0.5, pcutoff=0.5)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["nose", "tail"]
    expected = bodypart_colors(2, "jet") / 255.0
    for k, line in enumerate(ax.lines):
        np.testing.assert_allclose(line.get_color(), expected[k])
        assert line.get_linestyle() == "None" and line.get_marker() == "."
        assert line.get_alpha() == 0.5
        keep = ds.confidence.values[:, k, 0] >= 0.5
        x = ds.position.values[:, 0, k, 0]
        np.testing.assert_allclose(line.get_xdata(), np.where(keep, x, np.nan))
    assert ax.yaxis_inverted()
    bar = fig.axes[1]  # the colour bar names the keypoints
    assert [t.get_text() for t in bar.get_yticklabels()] == ["nose", "tail"]
    one = plot_keypoint_trajectories(ds, keypoints=["tail"], image_size=(320, 240))
    (line,) = one.axes[0].lines
    np.testing.assert_allclose(line.get_color(), bodypart_colors(2, "rainbow")[1] / 255)
    assert one.axes[0].get_ylim() == (240, 0) and one.axes[0].get_xlim() == (0, 320)
