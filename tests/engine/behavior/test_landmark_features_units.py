"""Unique bodyparts as landmarks, and the unit of the features' rates (QA s23 #7, #8).

A multi-animal DeepLabCut file keeps its unique bodyparts (a lamp, a feeder) under
an individual ``single``. The animals' features give the distance of each of their
keypoints to them, from ``single``'s positions, and have no landmark column of
other kinds (before: ~63 all-NaN ``lamp`` columns an animal, and a body axis from
the lamp, so every angle and egocentric feature was NaN). Without a frame rate the
features' speeds are per frame: the table says so (``speed_unit``), and a warning
says what to pass.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from posekit.engine.behavior.features import (
    compute_base_features,
    compute_window_features,
    feature_names,
    iter_window_features,
)
from posekit.engine.behavior.session import BehaviorModel
from posekit.engine.cli import main
from posekit.engine.io import load, save
from posekit.engine.poses import from_numpy

T = 40
LAMP = np.array([200.0, 100.0])


def _two_mice_and_a_lamp(fps: float | None = None) -> object:
    """mouse1 and mouse2 walk along x at 1 and 2 px/frame; ``single`` holds a lamp.

    Keypoints ``snout, tail, lamp``: the animals have no lamp, ``single`` has only
    the lamp, which sits 3 px from mouse1's snout at frame 0 and moves 0.5 px a
    frame along y (the distances use its position in each frame).
    """
    t = np.arange(T, dtype=float)
    pos = np.full((T, 2, 3, 3), np.nan)
    # mouse1: snout (10 + t, 100), tail 20 px behind; mouse2: 200 px lower, 2 px/frame
    pos[:, 0, 0, 0], pos[:, 1, 0, 0] = 10 + t, 100.0
    pos[:, 0, 1, 0], pos[:, 1, 1, 0] = -10 + t, 100.0
    pos[:, 0, 0, 1], pos[:, 1, 0, 1] = 10 + 2 * t, 300.0
    pos[:, 0, 1, 1], pos[:, 1, 1, 1] = -10 + 2 * t, 300.0
    pos[:, 0, 2, 2], pos[:, 1, 2, 2] = 13.0, 100.0 + 0.5 * t  # the lamp
    return from_numpy(
        pos,
        np.where(np.isnan(pos[:, 0]), np.nan, 0.9),
        keypoint_names=["snout", "tail", "lamp"],
        individual_names=["mouse1", "mouse2", "single"],
        fps=fps,
        source_software="DeepLabCut",
    )


def _lamp_distance(ds, animal: int, keypoint: int) -> np.ndarray:
    p = ds.position.values
    return np.hypot(
        p[:, 0, keypoint, animal] - p[:, 0, 2, 2],
        p[:, 1, keypoint, animal] - p[:, 1, 2, 2],
    )


@pytest.mark.parametrize("listed", [True, False], ids=["attrs", "seen-only-by-single"])
def test_animals_get_their_distance_to_the_landmark(listed: bool) -> None:
    ds = _two_mice_and_a_lamp()
    if listed:
        ds.attrs["unique_bodyparts"] = ["lamp"]
    base = compute_base_features(ds)
    assert base["individual"].values.tolist() == ["mouse1", "mouse2"]
    names = [str(f) for f in base["feature"].values]
    assert [n for n in names if "lamp" in n] == ["dist_snout_lamp", "dist_tail_lamp"]
    assert "speed_lamp" not in names and "ego_x_lamp" not in names
    for i in range(2):
        for k, kp in enumerate(("snout", "tail")):
            np.testing.assert_allclose(
                base.sel(individual=base.individual[i], feature=f"dist_{kp}_lamp"),
                _lamp_distance(ds, i, k),
            )
    assert base.sel(feature="dist_snout_lamp").values[0, 0] == pytest.approx(3.0)
    # no all-NaN column; the body axis is tail -> snout, not the lamp
    assert not base.isnull().all("time").any()
    np.testing.assert_allclose(base.sel(feature="heading_angular_velocity"), 0.0)
    np.testing.assert_allclose(base.sel(feature="ego_x_snout"), 10.0)
    # the nearest other animal is the other mouse (200 px), not the lamp (3 px)
    np.testing.assert_allclose(base.sel(feature="nearest_distance").values[0], 200.0)
    # the window features, chunk by chunk or whole, and their names agree
    whole = compute_window_features(ds, windows=(3,))
    parts = list(iter_window_features(ds, windows=(3,), chunk_frames=7))
    xr.testing.assert_identical(xr.concat(parts, "time"), whole)
    assert feature_names(ds, windows=(3,)) == [str(f) for f in whole.feature.values]
    assert whole.feature.values[: len(names)].tolist() == names


def test_behavior_features_of_a_madlc_file_with_a_unique_bodypart(
    tmp_path: Path,
) -> None:
    """The file ``posekit behavior features`` reads: a DeepLabCut ``_el.h5``."""
    path = save(_two_mice_and_a_lamp(fps=30.0), tmp_path / "sessDLC_x_el.h5")
    assert load(path).attrs["unique_bodyparts"] == ["lamp"]
    out = tmp_path / "features.csv"
    assert main(["behavior", "features", str(path), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["individual"].unique().tolist() == ["mouse1", "mouse2"]
    lamp = [c for c in table.columns if "lamp" in c]
    assert lamp == [
        f"dist_{k}_lamp{s}"
        for s in ("", *(f"_{st}{w}" for w in (5, 15, 45) for st in ("mean", "std")))
        for k in ("snout", "tail")
    ]
    features = table.columns[6:]
    assert not table[features].isna().all().any()
    ds = _two_mice_and_a_lamp()
    mouse2 = table[table["individual"] == "mouse2"]
    np.testing.assert_allclose(
        mouse2["dist_tail_lamp"], _lamp_distance(ds, 1, 1), rtol=1e-6
    )


def test_features_without_a_frame_rate_say_per_frame_and_warn_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ds = _two_mice_and_a_lamp().sel(individual=["mouse1"], keypoint=["snout", "tail"])
    model = BehaviorModel(windows=(3,))
    model.add_dataset(ds, "mouse")
    with caplog.at_level(logging.WARNING, logger="posekit"):
        table = model.features_table()
        chunks = pd.concat(model.iter_features_table(chunk_frames=7))
    warned = [r.getMessage() for r in caplog.records if "per frame" in r.getMessage()]
    assert len(warned) == 1
    assert "mouse" in warned[0] and "--fps" in warned[0]
    assert "_meta.pickle" in warned[0]
    assert table.columns[:6].tolist() == [
        "track", "session", "individual", "frame", "distance_unit", "speed_unit"
    ]  # fmt: skip
    assert (table["distance_unit"] == "px").all()
    assert (table["speed_unit"] == "px/frame").all()
    pd.testing.assert_frame_equal(chunks, table.astype(chunks.dtypes.to_dict()))
    np.testing.assert_allclose(table["speed_snout"], 1.0)  # 1 px a frame

    caplog.clear()
    model.set_calibration(fps=30.0, mm_per_px=0.5)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        table = model.features_table()
    assert not [r for r in caplog.records if "per frame" in r.getMessage()]
    assert (table["distance_unit"] == "mm").all()
    assert (table["speed_unit"] == "mm/s").all()
    np.testing.assert_allclose(table["speed_snout"], 15.0)  # 1 px/frame x 0.5 x 30


def test_cli_features_without_fps_writes_px_per_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = save(
        _two_mice_and_a_lamp().sel(individual=["mouse1"], keypoint=["snout", "tail"]),
        tmp_path / "mDLC_x.h5",
    )
    out = tmp_path / "features.csv"
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["behavior", "features", str(path), "--out", str(out)]) == 0
    assert sum("per frame" in r.getMessage() for r in caplog.records) == 1
    table = pd.read_csv(out)
    assert table["speed_unit"].unique().tolist() == ["px/frame"]
    with_fps = tmp_path / "features30.csv"
    argv = ["behavior", "features", str(path), "--fps", "30", "--out", str(with_fps)]
    assert main(argv) == 0
    faster = pd.read_csv(with_fps)
    assert faster["speed_unit"].unique().tolist() == ["px/s"]
    np.testing.assert_allclose(faster["speed_snout"], 30 * table["speed_snout"])
