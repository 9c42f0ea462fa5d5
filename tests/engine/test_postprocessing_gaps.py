"""``posekit filter`` next to gaps: the smoother neither removes nor invents points.

QA s18 (finding 4): filtering a multi-animal track added NaN (3516 → 3566 cells): the
median made a frame NaN when fewer than half its window was there, and the
Savitzky–Golay filter made every window with a gap NaN. Known answers: the median
and least-squares polynomial of the values present in each window, brute force, and
scipy's filters where the window is complete.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from posekit.engine.io import load_poses
from posekit.engine.io.dlc import predictions_frame, read_predictions, write_predictions
from posekit.engine.poses import from_numpy
from posekit.engine.postprocessing import filter_predictions, smooth_predictions

SCORER = "DLC_resnet50_testJan1shuffle1_100"
N = 80
INDIVIDUALS, BODYPARTS = ["mouse1", "mouse2"], ["snout", "tail"]
#: Missing frames of every column: one frame, two frames, a long gap, isolated
#: points between gaps (frames 40 and 43), the first frames and the last one.
GAPS = np.r_[0, 1, 10, 20, 21, 30:40, 41, 42, 44:50, N - 1]


def _frame(xyp: np.ndarray) -> pd.DataFrame:
    return predictions_frame(xyp, SCORER, BODYPARTS, individuals=INDIVIDUALS)


def _track(seed: int = 0) -> np.ndarray:
    """``(time, individual, bodypart, 3)`` noisy random walks, without gaps."""
    rng = np.random.default_rng(seed)
    xyp = np.empty((N, 2, 2, 3))
    xyp[..., :2] = 100 + np.cumsum(rng.normal(0, 3, (N, 2, 2, 2)), axis=0)
    xyp[..., 2] = 0.9
    return xyp


@pytest.fixture
def tracks(tmp_path):
    """Write a tracks file with the gaps, as ``posekit analyze`` does (key ``tracks``).

    And the same tracks without the gaps, for scipy's filters: ``medfilt`` does not
    handle NaN (SciPy 1.17: wrong medians even in complete windows near a gap).
    """
    full = _track()
    xyp = full.copy()
    xyp[GAPS, ..., :2] = np.nan
    df = _frame(xyp)
    path = write_predictions(df, tmp_path / f"v{SCORER}_el.h5", key="tracks")
    return path, df, _frame(full)


def _columns(df: pd.DataFrame) -> list[tuple]:
    return [c for c in df.columns if c[-1] in ("x", "y")]


def _windows(x: np.ndarray, window: int):
    """Each frame's window in the recording: ``(t, frames)``."""
    half = window // 2
    for t in range(len(x)):
        yield t, np.arange(max(t - half, 0), min(t + half + 1, len(x)))


def test_the_median_keeps_every_point_and_every_gap(tracks) -> None:
    path, raw, full = tracks
    out = read_predictions(filter_predictions(path, method="median", window=5))
    for col in _columns(raw):
        x, got = raw[col].to_numpy(), out[col].to_numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(x))  # no new NaN
        medfilt = signal.medfilt(full[col].to_numpy(), 5)
        complete = 0
        for t, frames in _windows(x, 5):
            if np.isnan(x[t]):
                continue
            # the median of the values present in the window
            assert got[t] == np.median(x[frames][~np.isnan(x[frames])])
            if len(frames) == 5 and not np.isnan(x[frames]).any():
                assert got[t] == medfilt[t]  # scipy's, exactly, away from gaps
                complete += 1
        assert complete > 30
    # an isolated point between gaps (frame 40) keeps its own value
    col = (SCORER, "mouse1", "snout", "x")
    assert out[col].iloc[40] == raw[col].iloc[40]
    n_in = int(raw[_columns(raw)].isna().sum().sum())
    assert int(out[_columns(raw)].isna().sum().sum()) == n_in


def test_savgol_fits_the_values_present_and_keeps_every_gap(tracks) -> None:
    path, raw, full = tracks
    window, order = 7, 2
    out = read_predictions(
        filter_predictions(path, method="savgol", window=window, polyorder=order)
    )
    half = window // 2
    for col in _columns(raw):
        x, got = raw[col].to_numpy(), out[col].to_numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(x))
        ref = signal.savgol_filter(full[col].to_numpy(), window, order)
        fitted = 0
        for t in range(N):
            if np.isnan(x[t]):
                continue
            start = min(max(t - half, 0), N - window)  # the filter's own window
            frames = np.arange(start, start + window)
            present = frames[~np.isnan(x[frames])]
            if len(present) == window:
                assert got[t] == pytest.approx(ref[t], abs=1e-9)  # scipy's
            elif len(present) >= order + 2:
                coef = np.polyfit(present - t, x[present], order)
                assert got[t] == pytest.approx(np.polyval(coef, 0.0), abs=1e-9)
                fitted += 1
            else:  # the polynomial would pass through every value: kept
                assert got[t] == x[t]
        assert fitted > 5


@pytest.mark.parametrize(
    ("method", "params"),
    [("butterworth", {"cutoff": 0.2}), ("kalman", {}), ("median", {"window": 9})],
)
def test_no_smoother_adds_or_fills_gaps(tracks, method, params) -> None:
    path, raw, _ = tracks
    out = read_predictions(filter_predictions(path, method=method, **params))
    cols = _columns(raw)
    np.testing.assert_array_equal(out[cols].isna().to_numpy(), raw[cols].isna())


def test_a_min_periods_asked_for_is_kept() -> None:
    """The user's ``min_periods`` is theirs: windows with fewer values are NaN."""
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, np.nan, 7.0, 8.0, 9.0, 10.0])
    ds = from_numpy(np.stack([x, x], 1)[:, :, None, None])
    got = smooth_predictions(ds, "median", window=5, min_periods=5)
    assert np.isnan(got.position.values[:, 0, 0, 0]).sum() > np.isnan(x).sum()


def test_posekit_reads_a_filtered_tracks_file_under_either_key(tracks) -> None:
    """``_el.h5`` has key ``tracks``, its ``_filtered.h5`` DeepLabCut's key."""
    path, raw, _ = tracks
    filtered = filter_predictions(path, method="median", window=3)
    with pd.HDFStore(path, "r") as src, pd.HDFStore(filtered, "r") as out:
        assert (src.keys(), out.keys()) == (["/tracks"], ["/df_with_missing"])
    a, b = load_poses(path), load_poses(filtered)
    assert list(b.individual.values) == INDIVIDUALS
    assert list(b.keypoint.values) == BODYPARTS
    np.testing.assert_array_equal(np.isnan(a.position), np.isnan(b.position))
    assert read_predictions(filtered).columns.equals(raw.columns)
