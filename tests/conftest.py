"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from posekit.engine._tf import set_tensorflow_options

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    # Tests that import Keras themselves, before any posekit module does, run with
    # the TensorFlow options posekit uses (oneDNN on).
    set_tensorflow_options()


def _shared_data_dir() -> Path:
    return Path(
        os.environ.get("POSEKIT_TEST_DATA", REPO_ROOT.parent / "shared" / "data")
    ).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the folder of the shared real test data (openfield, SLEAP flies, DLC CSVs).

    Tests that need it skip when it is absent (a clone without ``../shared``); CI sets
    ``POSEKIT_TEST_DATA``.
    """
    path = _shared_data_dir()
    if not (path / "openfield-Pranav-2018-10-30").is_dir():
        pytest.skip(
            f"shared test data not found at {path}; set POSEKIT_TEST_DATA to the "
            "folder that holds openfield-Pranav-2018-10-30"
        )
    return path


@pytest.fixture(scope="session")
def openfield_dir(shared_data: Path) -> Path:
    """Return the real DeepLabCut openfield project (read-only)."""
    return shared_data / "openfield-Pranav-2018-10-30"


@pytest.fixture
def rng() -> np.random.Generator:
    """Return a seeded random generator."""
    return np.random.default_rng(42)
