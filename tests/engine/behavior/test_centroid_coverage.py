"""The default centroid with keypoints below the p-cutoff, and the few-frames warning.

QA s17 (workshop) finding 2: after a short training 65 % of the points were below
p-cutoff 0.5 though the tracking was 4 px accurate; the centroid (the mean of all 6
keypoints, missing where any is) was known in 0.3 % of the frames, so the behaviour
app reported a distance of 136 px (truth 1266 px) and 1.4 s in an ROI (truth 17.8 s),
with the warning only in the log. A body whose keypoints keep their offsets (it
translates) gives exact answers here: the placed centroid is the true one.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from posekit.engine.behavior.kinematics import (
    compute_centroid,
    compute_interindividual_distances,
    compute_path_length,
)
from posekit.engine.behavior.roi import RectangleROI
from posekit.engine.behavior.session import FEW_FRAMES_FRACTION, BehaviorModel
from posekit.engine.poses import from_numpy

N = 300
OFFSETS = np.array([[12.0, 0.0], [6.0, -4.0], [6.0, 4.0], [3.0, 0.0], [-6.0, 0.0],
                    [-21.0, 0.0]])  # fmt: skip
NAMES = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


def _walker(seen_fraction: float, rng: np.random.Generator):
    """Return a rigid body walking right along y = 100 at 2 px a frame, hidden.

    Each keypoint is missing at random in ``1 - seen_fraction`` of the frames, as
    points below the p-cutoff are. Returns the poses and the true centroid path.
    """
    t = np.arange(N, dtype=float)
    centre = np.stack([20.0 + 2.0 * t, np.full(N, 100.0)], axis=1)  # (time, space)
    pos = centre[:, :, None] + (OFFSETS - OFFSETS.mean(0)).T[None]  # (t, space, kp)
    hidden = rng.random((N, len(NAMES))) > seen_fraction
    pos = np.where(hidden[:, None, :], np.nan, pos)
    ds = from_numpy(pos[..., None], keypoint_names=NAMES, fps=30.0)
    return ds, centre


def test_placed_centroid_is_exact_for_a_translating_body(rng) -> None:
    ds, centre = _walker(0.35, rng)  # 65 % of the points missing, as in the QA
    seen_any = ds.position.notnull().all("space").any("keypoint").values.ravel()
    every = ds.position.notnull().all("space").all("keypoint").values.ravel()
    assert every.mean() < 0.01 < seen_any.mean()
    placed = compute_centroid(ds.position).isel(individual=0)
    known = np.isfinite(placed.values).all(axis=-1)
    assert np.array_equal(known, seen_any)  # missing only where no keypoint is seen
    np.testing.assert_allclose(placed.values[known], centre[known], atol=1e-9)
    # the distance is the true one (the path is straight: gaps are exact too)
    length = float(compute_path_length(placed, nan_warn_threshold=1))
    assert length == pytest.approx(2.0 * (N - 1))
    # the old default: known where every keypoint is (here < 1 % of the frames)
    dropped = compute_centroid(ds.position, missing="drop").isel(individual=0)
    assert np.isfinite(dropped.values).all(axis=-1).sum() == every.sum()
    assert np.array_equal(
        np.isnan(compute_centroid(ds.position, skipna=False).values[..., 0]),
        np.isnan(dropped.values),
    )
    # the mean of the keypoints seen jumps when the set changes: a longer path
    mean = compute_centroid(ds.position, missing="mean").isel(individual=0)
    assert float(compute_path_length(mean, nan_warn_threshold=1)) > 2 * length
    assert np.array_equal(
        compute_centroid(ds.position, skipna=True).values[..., 0],
        mean.values,
        equal_nan=True,
    )


def test_still_animal_whose_nose_flickers_does_not_move() -> None:
    pos = np.zeros((6, 2, 2, 1))
    pos[:, 0, 0, 0], pos[:, 0, 1, 0] = 120.0, 100.0
    pos[1::2, :, 0, 0] = np.nan  # the nose drops out on odd frames
    position = from_numpy(pos, keypoint_names=["nose", "tail"]).position
    centroid = compute_centroid(position)
    assert centroid.sel(space="x").values.ravel().tolist() == [110.0] * 6
    assert float(compute_path_length(centroid).squeeze()) == 0.0


def test_centroid_edge_cases() -> None:
    pos = np.ones((4, 2, 3, 2))
    pos[:, :, 2, 0] = np.nan  # never seen: left out of animal 0's centroid
    pos[1, :, :, 1] = np.nan  # nothing seen of animal 1 in frame 1
    pos[:, 0, 1, :] = 3.0
    position = from_numpy(pos, keypoint_names=["a", "b", "c"]).position
    c = compute_centroid(position)
    assert c.dims == ("time", "space", "individual")
    assert c.sel(space="x", individual="individual_0").values.tolist() == [2.0] * 4
    x1 = c.sel(space="x", individual="individual_1").values
    assert np.isnan(x1[1]) and x1[[0, 2, 3]].tolist() == pytest.approx([5 / 3] * 3)
    with pytest.raises(ValueError, match="missing must be one of"):
        compute_centroid(position, missing="skip")
    # one frame, no time to interpolate over: a missing keypoint drops it
    assert np.isnan(compute_centroid(position.isel(time=0)).values).any()
    # the distance between two animals uses the same centroid
    d = compute_interindividual_distances(position)
    assert np.isfinite(d.values).sum() == 3


# ------------------------------------------------------------------ the model


def _model(ds) -> BehaviorModel:
    m = BehaviorModel(output_dir=None)
    m.add_dataset(ds, "walk")
    return m


def test_model_measures_from_the_placed_centroid(rng) -> None:
    ds, centre = _walker(0.35, rng)
    m = _model(ds)
    m.set_rois([RectangleROI("left", 0, 0, 300, 200)])
    k = m.kinematics_table().iloc[0]
    seen = ds.position.notnull().all("space").any("keypoint").values.ravel()
    assert k["frames_used"] == seen.sum()
    assert k["observed_fraction"] == pytest.approx(seen.mean())
    assert k["distance"] == pytest.approx(2.0 * (N - 1))
    truth = (centre[:, 0] <= 300) & seen
    roi = m.roi_table().iloc[0]
    assert roi["frames_observed"] == seen.sum()
    assert roi["frames_inside"] - roi["frames_bridged"] == truth.sum()
    assert roi["frames_inside"] == 141  # x = 20 + 2 t <= 300: frames 0..140
    assert m.coverage_warning() == ""  # known in > 90 % of the frames


def test_few_frames_warning_names_the_frames_and_the_fixes(rng, caplog) -> None:
    ds, _ = _walker(0.35, rng)
    ds.position[100:200] = np.nan  # the animal lost for 100 frames
    m = _model(ds)
    m.set_cleaning(method="none", confidence_threshold=0.5)
    m.set_keypoint("spine")  # seen in about 35 % of the frames
    with caplog.at_level(logging.WARNING, "posekit.engine.behavior.session"):
        k = m.kinematics_table().iloc[0]
    assert "known in" in caplog.text  # logged once for scripts
    spine = int(ds.position.sel(keypoint="spine").notnull().all("space").sum())
    assert k["frames_used"] == spine
    cov = m.coverage_table().iloc[0]
    assert (cov["point"], cov["frames"], cov["frames_used"]) == ("spine", N, spine)
    assert cov["few_frames"] and cov["fraction"] < FEW_FRAMES_FRACTION
    seen = ds.position.notnull().all("space").any("keypoint").values.ravel()
    assert cov["better_point"] == "centroid"
    assert cov["better_fraction"] == pytest.approx(seen.mean())
    text = m.coverage_warning()
    first = text.splitlines()[0]
    assert first.startswith(
        f"walk: the distance, speeds and ROI times come from {spine} "
    )
    assert f"of {N} frames" in first and "spine is missing" in first
    assert "--max-gap 10" in text and "leave out --keypoint" in text
    assert "--pcutoff" in text
    assert m.coverage_warning(fixes=False) == first
    # the centroid: known wherever a keypoint is, still missing in the lost frames
    caplog.clear()
    m.set_keypoint(None)
    text = m.coverage_warning()
    assert f"come from {seen.sum()} of {N} frames" in text
    assert "no keypoint is seen" in text and "--keypoint" not in text
    with caplog.at_level(logging.WARNING, "posekit.engine.behavior.session"):
        m.kinematics_table()
    assert "known in" not in caplog.text  # the caller was told: not logged again
    # filling the gaps gives the frames back: no warning
    m.set_cleaning(method="none", confidence_threshold=0.5, max_gap=150)
    assert m.coverage_warning() == ""
    assert m.coverage_table().iloc[0]["frames_used"] == N
