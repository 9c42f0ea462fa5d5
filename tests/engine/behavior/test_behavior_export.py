"""CSV/Excel tables and PNG/SVG figures (files read back, not just written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior.ethogram import labels_to_bouts
from posekit.engine.behavior.export import (
    plot_ethogram,
    plot_occupancy_heatmap,
    plot_speed,
    plot_trajectory,
    save_figure,
    save_table,
    save_tables,
)
from posekit.engine.behavior.kinematics import compute_speed
from posekit.engine.behavior.roi import (
    CircleROI,
    RectangleROI,
    compute_occupancy_heatmap,
)

pytest.importorskip("matplotlib")


def test_csv_and_excel_round_trip(tmp_path):
    bouts = labels_to_bouts(["rest"] * 3 + ["walk"] * 2, fps=10.0, individual="m1")
    csv = save_table(bouts, tmp_path / "bouts.csv")
    pd.testing.assert_frame_equal(pd.read_csv(csv), bouts)
    xlsx = save_tables(
        {"bouts": bouts, "counts": bouts.groupby("behavior").size().to_frame("n")},
        tmp_path / "summary.xlsx",
    )
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert list(sheets) == ["bouts", "counts"]
    pd.testing.assert_frame_equal(sheets["bouts"], bouts)
    single = save_table(bouts, tmp_path / "one.xlsx")
    pd.testing.assert_frame_equal(pd.read_excel(single), bouts)
    with pytest.raises(ValueError, match=".csv"):
        save_table(bouts, tmp_path / "bouts.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bouts.csv",
        "one.xlsx",
        "summary.xlsx",
    ]


def test_figures_are_written_as_png_and_svg(tmp_path, demo_session):
    ds, _, labels = demo_session
    rois = [RectangleROI("left", 30, 30, 120, 210), CircleROI("right", 240, 120, 40)]
    figures = {
        "trajectory": plot_trajectory(
            ds, keypoint="spine", rois=rois, image_size=(320, 240)
        ),
        "heatmap": plot_occupancy_heatmap(
            compute_occupancy_heatmap(ds, bins=20), rois=rois
        ),
        "speed": plot_speed(
            compute_speed(ds.position.sel(keypoint=["snout", "spine"]))
        ),
        "ethogram": plot_ethogram({"m1": labels, "m2": labels[::-1]}, fps=30.0),
    }
    for name, fig in figures.items():
        png = save_figure(fig, tmp_path / f"{name}.png", dpi=60)
        assert (
            png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
        )
        svg = save_figure(fig, tmp_path / f"{name}.svg")
        assert "<svg" in svg.read_text()[:500]
    # the ethogram draws one bar per bout of each animal
    ax = figures["ethogram"].axes[0]
    n_bars = sum(len(c.get_paths()) for c in ax.collections)
    assert n_bars == 2 * len(labels_to_bouts(labels))
    with pytest.raises(ValueError, match=".png"):
        save_figure(figures["speed"], tmp_path / "speed.jpg")


def test_trajectory_axes_follow_the_video(demo_session):
    ds, _, _ = demo_session
    ax = plot_trajectory(ds, image_size=(320, 240)).axes[0]
    assert ax.get_ylim() == (240, 0)  # y points down like the image
    np.testing.assert_allclose(ax.get_xlim(), (0, 320))
