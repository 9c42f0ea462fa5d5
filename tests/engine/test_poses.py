"""The movement-schema poses dataset."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from posekit.engine.poses import LEGACY_DIMS, from_numpy, normalise_dims, validate


def test_from_numpy_layout_and_values(rng: np.random.Generator) -> None:
    pos = rng.uniform(0, 100, (7, 2, 3, 2))
    conf = rng.uniform(0, 1, (7, 3, 2))
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=["snout", "ear", "tail"],
        individual_names=["a", "b"],
        source_software="test",
        source_file="x.h5",
    )
    assert ds.position.dims == ("time", "space", "keypoint", "individual")
    assert ds.confidence.dims == ("time", "keypoint", "individual")
    np.testing.assert_array_equal(ds.position.values, pos)
    np.testing.assert_array_equal(ds.confidence.values, conf)
    assert list(ds.space.values) == ["x", "y"]
    assert list(ds.keypoint.values) == ["snout", "ear", "tail"]
    assert list(ds.individual.values) == ["a", "b"]
    np.testing.assert_array_equal(ds.time.values, np.arange(7))
    assert ds.attrs["time_unit"] == "frames"
    assert ds.attrs["fps"] is None
    assert ds.attrs["source_software"] == "test"
    assert ds.attrs["source_file"] == "x.h5"
    # the x of keypoint "tail" of individual "b" at time 3
    assert (
        ds.position.sel(space="x", keypoint="tail", individual="b")[3]
        == pos[3, 0, 2, 1]
    )


def test_from_numpy_defaults() -> None:
    ds = from_numpy(np.zeros((4, 3, 2, 1)))
    assert list(ds.space.values) == ["x", "y", "z"]
    assert list(ds.keypoint.values) == ["keypoint_0", "keypoint_1"]
    assert list(ds.individual.values) == ["individual_0"]
    assert ds.confidence.shape == (4, 2, 1)
    assert np.isnan(ds.confidence.values).all()  # unknown confidence is NaN, not 0


def test_from_numpy_fps_gives_seconds() -> None:
    ds = from_numpy(np.zeros((5, 2, 1, 1)), fps=25.0)
    np.testing.assert_allclose(ds.time.values, np.arange(5) / 25.0)
    assert ds.attrs["time_unit"] == "seconds"
    assert ds.attrs["fps"] == 25.0


def test_missing_values_stay_nan() -> None:
    pos = np.full((3, 2, 2, 1), np.nan)
    pos[1, :, 0, 0] = [5.0, 6.0]
    ds = from_numpy(pos)
    assert np.isnan(ds.position.values).sum() == pos.size - 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"position": np.zeros((5, 2, 3))}, "4 dims"),
        ({"position": np.zeros((5, 4, 3, 1))}, "space must have 2 or 3"),
        (
            {"position": np.zeros((5, 2, 3, 1)), "confidence": np.zeros((5, 3))},
            r"confidence must have shape \(5, 3, 1\)",
        ),
        (
            {"position": np.zeros((5, 2, 3, 1)), "keypoint_names": ["a", "b"]},
            "2 keypoint names for 3 keypoints",
        ),
        (
            {"position": np.zeros((5, 2, 3, 1)), "individual_names": ["a", "b"]},
            "2 individual names for 1 individuals",
        ),
        ({"position": np.zeros((5, 2, 3, 1)), "fps": 0}, "fps must be a positive"),
        ({"position": np.zeros((5, 2, 3, 1)), "fps": np.nan}, "fps must be a positive"),
    ],
)
def test_from_numpy_bad_input(kwargs: dict, message: str) -> None:
    position = kwargs.pop("position")
    with pytest.raises(ValueError, match=message):
        from_numpy(position, **kwargs)


def test_validate_renames_legacy_dims_and_transposes() -> None:
    ds = from_numpy(np.arange(24.0).reshape(2, 2, 3, 2))
    legacy = ds.rename({v: k for k, v in LEGACY_DIMS.items()})
    assert "keypoints" in legacy.dims and "individuals" in legacy.dims
    assert set(normalise_dims(legacy).dims) == set(ds.dims)
    shuffled = legacy.transpose("individuals", "keypoints", "space", "time")
    out = validate(shuffled)
    assert out.position.dims == ("time", "space", "keypoint", "individual")
    np.testing.assert_array_equal(out.position.values, ds.position.values)


def test_normalise_dims_is_a_noop_on_current_names() -> None:
    ds = from_numpy(np.zeros((2, 2, 1, 1)))
    assert normalise_dims(ds) is ds


def test_validate_rejects_incomplete_datasets() -> None:
    ds = from_numpy(np.zeros((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="no 'confidence' variable"):
        validate(ds.drop_vars("confidence"))
    bad = xr.Dataset(
        {
            "position": (("time", "space", "keypoint"), np.zeros((2, 2, 1))),
            "confidence": (("time", "keypoint", "individual"), np.zeros((2, 1, 1))),
        }
    )
    with pytest.raises(ValueError, match="position must have dims"):
        validate(bad)
