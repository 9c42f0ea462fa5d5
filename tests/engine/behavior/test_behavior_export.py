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
    LineROI,
    PolygonROI,
    RectangleROI,
    compute_occupancy_heatmap,
)
from posekit.engine.poses import from_numpy

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


def test_tables_in_chunks_hdf5_and_netcdf(tmp_path, monkeypatch):
    """A compact CSV written in row chunks, and the fast binary formats (QA s15)."""
    import xarray as xr

    from posekit.engine.behavior import export

    monkeypatch.setattr(export, "CSV_CHUNK_ROWS", 3)  # 7 rows: 3 chunks
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {"track": [f"t,{i}" for i in range(7)], "frame": np.arange(7)}
    )  # a comma: quoted
    values = rng.normal(0, 1000, (7, 3)).astype(np.float32)
    values[2, 1] = np.nan
    for i, name in enumerate(("a", "b", "c")):
        table[name] = values[:, i]
    csv = save_table(table, tmp_path / "t.csv", float_format="%.7g")
    back = pd.read_csv(csv)
    expected = table.astype(dict.fromkeys("abc", "float64"))
    pd.testing.assert_frame_equal(back, expected, rtol=1e-6)
    assert "nan" not in csv.read_text() and back["b"].isna().sum() == 1
    assert (
        save_table(table, tmp_path / "plain.csv").read_text().splitlines()[0]
        == (csv.read_text().splitlines()[0])
    )
    h5 = save_table(table, tmp_path / "t.h5")
    pd.testing.assert_frame_equal(pd.read_hdf(h5, "table"), table)
    nc = save_table(table, tmp_path / "t.nc")
    with xr.open_dataset(nc, engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds["values"].values, values)
        assert list(ds["column"].values) == ["a", "b", "c"]
        assert list(ds["track"].values) == list(table["track"])
    mixed = table[["a", "track", "b"]]  # floats not last: pandas writes the rows
    back = pd.read_csv(save_table(mixed, tmp_path / "m.csv", float_format="%.7g"))
    assert list(back.columns) == ["a", "track", "b"]
    np.testing.assert_allclose(back["a"], values[:, 0], rtol=1e-6)


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


def _red_near(image: np.ndarray, ax, x: float, y: float, r: int = 2) -> bool:
    """Whether a ROI-red pixel lies within ``r`` pixels of data point ``(x, y)``."""
    px, py = ax.transData.transform((x, y))
    row, col = image.shape[0] - int(round(py)), int(round(px))
    patch = image[row - r : row + r + 1, col - r : col + r + 1].astype(int)
    red, green, blue = patch[..., 0], patch[..., 1], patch[..., 2]
    return bool(np.any((red > 150) & (green < 110) & (blue < 110)))


def test_lines_and_polygon_holes_are_drawn():
    # a short path in a corner, away from the ROIs
    xy = np.array([[5.0, 5.0], [6.0, 5.0], [7.0, 6.0]])
    ds = from_numpy(xy[:, :, None, None], keypoint_names=["snout"], fps=10.0)
    square = ((20, 20), (180, 20), (180, 140), (20, 140))
    hole = ((80, 60), (120, 60), (120, 100), (80, 100))
    rois = [
        PolygonROI("ring", square, holes=(hole,)),
        LineROI("wall", ((30, 150), (170, 150), (170, 110))),
    ]
    fig = plot_trajectory(ds, rois=rois, image_size=(200, 160))
    fig.set_dpi(100)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    ax = fig.axes[0]
    assert _red_near(image, ax, 20, 80)  # the outer ring (drawn before too)
    # the hole's outline, on each of its sides
    for x, y in ((80, 80), (120, 80), (100, 60), (100, 100)):
        assert _red_near(image, ax, x, y), (x, y)
    assert not _red_near(image, ax, 100, 80, r=4)  # not filled: only outlined
    # the line, on both segments
    for x, y in ((60, 150), (100, 150), (160, 150), (170, 130)):
        assert _red_near(image, ax, x, y), (x, y)
    # an open line is not closed back to its start; nothing elsewhere
    assert not _red_near(image, ax, 100, 130, r=4)
    assert not _red_near(image, ax, 60, 120, r=4)
