"""Pixel → mm and frame → second calibration."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.behavior.calibration import Calibration, pixels_to_mm
from posekit.engine.behavior.filters import get_log
from posekit.engine.behavior.kinematics import compute_speed
from posekit.engine.poses import from_numpy


def test_from_points_and_arena():
    cal = Calibration.from_points((10, 20), (310, 420), distance_mm=100.0, fps=25)
    assert cal.mm_per_px == pytest.approx(0.2) and cal.fps == 25
    assert Calibration.from_arena(400, 200).mm_per_px == 0.5
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert pixels_to_mm(np.array([10.0]), 0.2).tolist() == [2.0]
    with pytest.raises(ValueError, match="coincide"):
        Calibration.from_points((1, 1), (1, 1), distance_mm=5)
    with pytest.raises(ValueError, match="mm_per_px"):
        Calibration(mm_per_px=-1)
    with pytest.raises(ValueError, match="Unknown Calibration keys"):
        Calibration.from_dict({"mm_per_pixel": 1})


def test_apply_gives_mm_per_second_speeds():
    t = np.arange(20.0)
    ds = from_numpy(np.stack([3 * t, 4 * t], 1)[:, :, None, None])  # 5 px/frame
    assert compute_speed(ds.position).attrs["units"] == "px/frame"
    cal = Calibration(mm_per_px=0.5, fps=40.0)
    out = cal.apply(ds)
    speed = compute_speed(out.position)
    assert speed.attrs["units"] == "mm/s"
    np.testing.assert_allclose(speed.values, 5 * 0.5 * 40)
    np.testing.assert_allclose(out.time.values, t / 40.0)
    assert out.attrs["fps"] == 40.0 and out.attrs["time_unit"] == "seconds"
    assert get_log(out)[-1] == {**get_log(out)[-1], "operation": "calibrate"}
    assert ds.position.attrs.get("space_unit") is None  # input untouched
    with pytest.raises(ValueError, match="already in 'mm'"):
        cal.apply(out)
