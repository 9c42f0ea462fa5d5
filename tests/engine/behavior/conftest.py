"""Shared fixtures for the behaviour tests: the simulated demo mouse."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.behavior.features import compute_window_features
from posekit.engine.demo import simulate_session
from posekit.engine.poses import from_numpy

DEMO_FPS = 30.0
DEMO_WINDOWS = (5, 15, 31)


@pytest.fixture(scope="session")
def demo_session() -> tuple[xr.Dataset, xr.DataArray, np.ndarray]:
    """100 s (3000 frames) of the simulated mouse: poses, windowed features, labels."""
    kp, labels, bodyparts = simulate_session(3000, seed=3, fps=DEMO_FPS)
    ds = from_numpy(
        kp.transpose(0, 2, 1)[..., None], keypoint_names=bodyparts, fps=DEMO_FPS
    )
    feats = compute_window_features(
        ds, windows=DEMO_WINDOWS, heading=("tailbase", "neck")
    ).isel(individual=0)
    return ds, feats, labels
