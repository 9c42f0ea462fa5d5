"""Cleaning and smoothing of keypoint trajectories.

Every ``filter_*`` function takes either a whole poses ``Dataset`` (its ``position`` is
filtered, everything else is kept) or a ``position`` ``DataArray``, and returns the same
kind of object, new (inputs are never modified). Each call appends one entry to
``attrs["log"]`` (a JSON string of a list of ``{"operation", "parameters",
"datetime"}`` dicts, so netCDF can store it; read it with :func:`get_log`).

Missing data is NaN, never 0. Smoothers do not invent data: where the input is NaN the
output is NaN (fill short gaps first with :func:`interpolate_gaps`).

:func:`filter_poses` chains the steps from one typed :class:`FilterConfig`; it is the
implementation behind the trajectory viewer and ``posekit filter``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from ._utils import (
    PoseLike,
    position_of,
    read_log,
    require_dims,
    resolve_fps,
    space_unit,
    time_first_2d,
    time_scale,
    with_log,
)

__all__ = [
    "get_log",
    "filter_by_confidence",
    "filter_jumps",
    "interpolate_gaps",
    "filter_median",
    "filter_savgol",
    "filter_butterworth",
    "smooth_kalman",
    "filter_kalman",
    "FilterConfig",
    "SMOOTHING_METHODS",
    "filter_poses",
]

SmoothingMethod = Literal["median", "savgol", "butterworth", "kalman", "none"]


def get_log(data: xr.Dataset | xr.DataArray) -> list[dict[str, Any]]:
    """Return the processing steps recorded in ``data.attrs["log"]``.

    Parameters
    ----------
    data
        A poses Dataset or DataArray.

    Returns
    -------
    list of dict
        One ``{"operation", "parameters", "datetime"}`` dict per step, oldest first.

    Raises
    ------
    ValueError
        If ``attrs["log"]`` is not valid JSON.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> ds = interpolate_gaps(from_numpy(np.zeros((4, 2, 1, 1))), max_gap=2)
    >>> [e["operation"] for e in get_log(ds)]
    ['interpolate_gaps']
    """
    return read_log(data)


# ---------------------------------------------------------------- plumbing


def _replace_position(data: PoseLike, new_position: xr.DataArray) -> PoseLike:
    """Return a new object like ``data`` whose position is ``new_position``."""
    if isinstance(data, xr.Dataset):
        out = data.copy(deep=False)
        new_position = new_position.copy(deep=False)
        new_position.attrs = dict(data["position"].attrs)
        out["position"] = new_position
        out.attrs = dict(data.attrs)
        return out
    out_da = new_position.copy(deep=False)
    out_da.attrs = dict(data.attrs)
    out_da.name = data.name
    return out_da


def _apply_block(
    data: PoseLike,
    kernel: Callable[[np.ndarray], np.ndarray],
    operation: str,
    parameters: Mapping[str, Any],
) -> PoseLike:
    """Run ``kernel`` on the position as a ``(time, n)`` block; log the step."""
    position = position_of(data)
    block, rebuild = time_first_2d(position)
    result = rebuild(kernel(block))
    return with_log(_replace_position(data, result), operation, **parameters)


def _check_window(window: int, name: str = "window", minimum: int = 1) -> int:
    if int(window) != window or window < minimum or window % 2 == 0:
        raise ValueError(
            f"{name} must be an odd integer >= {minimum} (frames); received "
            f"{name}={window!r}"
        )
    return int(window)


# ---------------------------------------------------------------- confidence and jumps


def filter_by_confidence(
    data: PoseLike,
    *,
    threshold: float = 0.6,
    confidence: xr.DataArray | None = None,
    unknown: Literal["keep", "drop"] = "keep",
) -> PoseLike:
    """Set positions whose confidence is below ``threshold`` to NaN.

    Parameters
    ----------
    data
        Poses Dataset (its ``confidence`` is used) or ``position`` DataArray (then
        pass ``confidence``).
    threshold
        Minimum likelihood to keep a point.
    confidence
        Confidence with dims ``(time, keypoint, individual)``; only for DataArray input.
    unknown
        What happens to points that have a position but no confidence at all (NaN):
        hand labels, user-labelled SLEAP instances, files without a likelihood.
        ``"keep"`` (default) keeps them, since nothing says they are unreliable;
        ``"drop"`` sets them to NaN too, as movement's ``filter_by_confidence``
        does (it keeps only ``confidence >= threshold``).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``, position NaN where the confidence was too low.

    Raises
    ------
    ValueError
        If no confidence is available or ``threshold`` is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.ones((3, 2, 1, 1)), np.array([0.9, 0.1, 0.8])[:, None, None])
    >>> filter_by_confidence(ds, threshold=0.5).position.values[:, 0, 0, 0]
    array([ 1., nan,  1.])
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; received {threshold!r}")
    if confidence is None:
        if isinstance(data, xr.Dataset) and "confidence" in data:
            confidence = data["confidence"]
        else:
            raise ValueError(
                "filter_by_confidence needs confidence values: pass a poses Dataset or "
                "confidence=ds.confidence"
            )
    if unknown not in ("keep", "drop"):
        raise ValueError(f"unknown must be 'keep' or 'drop'; received {unknown!r}")
    position = position_of(data)
    low = confidence < threshold  # NaN compares False: unknown confidence is kept
    if unknown == "drop":
        low = low | confidence.isnull()
    new = position.where(~low)
    new = new.transpose(*position.dims)
    n_removed = int(low.sum()) if low.size else 0
    return with_log(
        _replace_position(data, new),
        "filter_by_confidence",
        threshold=float(threshold),
        unknown=unknown,
        n_points_removed=n_removed,
    )


def _rolling_nanmedian(
    block: np.ndarray, window: int, min_periods: int, chunk: int = 16384
) -> np.ndarray:
    """Centred rolling median of each column of ``block`` that skips NaN."""
    n_time, n = block.shape
    half = window // 2
    series = np.ascontiguousarray(block.T)  # (n, time): windows along contiguous memory
    padded = np.pad(series, ((0, 0), (half, half)), constant_values=np.nan)
    out = np.empty((n, n_time))
    for start in range(0, n_time, chunk):
        stop = min(start + chunk, n_time)
        win = sliding_window_view(padded[:, start : stop + 2 * half], window, axis=1)
        srt = np.sort(win, axis=-1)  # NaN sort last
        count = (~np.isnan(srt)).sum(axis=-1)
        lo = np.maximum((count - 1) // 2, 0)[..., None]
        hi = np.maximum(count // 2, 0)[..., None]
        med = (
            0.5
            * (
                np.take_along_axis(srt, lo, axis=-1)
                + np.take_along_axis(srt, hi, axis=-1)
            )[..., 0]
        )
        med[count < min_periods] = np.nan
        out[:, start:stop] = med
    return out.T


def filter_jumps(
    data: PoseLike,
    *,
    k: float = 1.0,
    body_length: float | tuple[str, str],
    window: int = 5,
) -> PoseLike:
    """Remove jumps: points more than ``k`` body lengths away from their local track.

    A point is a jump when its distance from the centred rolling median (over
    ``window`` frames, NaN skipped) of its own trajectory exceeds ``k × body_length``.
    This is the frame-to-frame displacement test made robust: a one-frame spike and
    an excursion shorter than ``window // 2`` frames are removed, while the frames
    before and after it (whose raw displacement is also large) are kept.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray with dims ``time`` and ``space``.
    k
        Threshold in body lengths.
    body_length
        Body length in the position's units, or two keypoint names (e.g.
        ``("snout", "tailbase")``) whose median distance (per individual, over time)
        is the body length.
    window
        Odd window length in frames for the reference track.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data`` with jump points set to NaN.

    Raises
    ------
    ValueError
        If ``k`` or ``body_length`` is not positive, a keypoint is unknown or the
        window is not an odd integer.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> pos = np.zeros((7, 2, 1, 1)); pos[3, 0] = 50.0
    >>> out = filter_jumps(from_numpy(pos), k=1.0, body_length=10.0)
    >>> np.isnan(out.position.values[:, 0, 0, 0]).tolist()
    [False, False, False, True, False, False, False]
    """
    window = _check_window(window, minimum=3)
    if not (np.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive number; received k={k!r}")
    position = position_of(data)
    require_dims(position, ["time", "space"], "filter_jumps")
    if isinstance(body_length, (tuple, list)):
        if len(body_length) != 2:
            raise ValueError(
                "body_length must be a number or two keypoint names; received "
                f"{body_length!r}"
            )
        require_dims(position, ["keypoint"], "filter_jumps with keypoint names")
        names = [str(x) for x in position["keypoint"].values]
        for kp in body_length:
            if kp not in names:
                raise ValueError(f"unknown keypoint {kp!r}; the data has {names}")
        seg = position.sel(keypoint=body_length[0]) - position.sel(
            keypoint=body_length[1]
        )
        length = np.sqrt((seg**2).sum("space", min_count=1)).median("time")
        length_param: Any = list(body_length)
        if bool((~np.isfinite(length) | (length <= 0)).any()):
            raise ValueError(
                f"cannot measure the body length from {tuple(body_length)}: the "
                "keypoints are missing or coincide; pass body_length as a number"
            )
    else:
        if not (np.isfinite(body_length) and body_length > 0):
            raise ValueError(
                f"body_length must be positive; received body_length={body_length!r}"
            )
        length = float(body_length)
        length_param = float(body_length)
    block, rebuild = time_first_2d(position)
    reference = rebuild(_rolling_nanmedian(block, window, min_periods=1))
    deviation = np.sqrt(((position - reference) ** 2).sum("space", min_count=1))
    jump = deviation > k * length
    new = position.where(~jump).transpose(*position.dims)
    return with_log(
        _replace_position(data, new),
        "filter_jumps",
        k=float(k),
        body_length=length_param,
        window=window,
        n_points_removed=int(jump.sum()),
    )


# ---------------------------------------------------------------- interpolation


def _interpolate_block(block: np.ndarray, max_gap: int | None) -> np.ndarray:
    """Linear interpolation inside each column over interior gaps <= ``max_gap``.

    Works on the column-major flattening of ``block`` with one ``searchsorted`` of the
    missing samples into the valid ones, so the cost grows with the number of missing
    values, not with a loop over frames or columns.
    """
    n_time, n = block.shape
    flat = np.ravel(block, order="F")
    missing = np.flatnonzero(np.isnan(flat))
    out = flat.copy()
    if missing.size == 0 or n_time == 0:
        return out.reshape((n_time, n), order="F")
    valid = np.flatnonzero(~np.isnan(flat))
    if valid.size:
        nxt_pos = np.searchsorted(valid, missing)
        prev = valid[np.maximum(nxt_pos - 1, 0)]
        nxt = valid[np.minimum(nxt_pos, valid.size - 1)]
        col = missing // n_time
        ok = (
            (nxt_pos > 0)
            & (nxt_pos < valid.size)
            & (prev // n_time == col)
            & (nxt // n_time == col)
        )
        if max_gap is not None:
            ok &= (nxt - prev - 1) <= max_gap
        m, p, q = missing[ok], prev[ok], nxt[ok]
        out[m] = flat[p] + (flat[q] - flat[p]) * ((m - p) / (q - p))
    return out.reshape((n_time, n), order="F")


def interpolate_gaps(data: PoseLike, *, max_gap: int | None = 5) -> PoseLike:
    """Fill gaps of at most ``max_gap`` consecutive missing frames by linear interpolation.

    Longer gaps, and missing frames before the first or after the last valid point,
    stay NaN. Frames are assumed equally spaced, so linear motion is filled exactly.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray with a ``time`` dim.
    max_gap
        Longest gap (in frames) to fill; ``None`` fills every interior gap.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If ``max_gap`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([0.0, np.nan, 2.0, np.nan, np.nan, np.nan, 6.0])
    >>> pos = np.stack([x, x], 1)[:, :, None, None]
    >>> interpolate_gaps(from_numpy(pos), max_gap=2).position.values[:, 0, 0, 0]
    array([ 0.,  1.,  2., nan, nan, nan,  6.])
    """
    if max_gap is not None and (int(max_gap) != max_gap or max_gap < 0):
        raise ValueError(
            f"max_gap must be a non-negative integer or None; received {max_gap!r}"
        )
    gap = None if max_gap is None else int(max_gap)
    return _apply_block(
        data,
        lambda b: _interpolate_block(b, gap),
        "interpolate_gaps",
        {"max_gap": gap},
    )


# ---------------------------------------------------------------- smoothers


def filter_median(
    data: PoseLike, *, window: int = 5, min_periods: int | None = None
) -> PoseLike:
    """Centred rolling median over ``window`` frames.

    As movement's median filter (``min_periods=None`` means the whole window), a
    frame gets a value only when its centred window holds at least ``min_periods``
    valid values. With the default (the full window) the first and last
    ``window // 2`` frames, and ``window // 2`` frames on each side of every gap,
    become NaN: a window cut by the start or end of the recording, or by a gap, is
    off-centre, and its median is biased (on a straight line at constant speed, a
    5-frame window cut to 3 values halves the speed of the first and last two frames).
    A smaller ``min_periods`` keeps those frames, with that bias; interpolate short
    gaps first (:func:`interpolate_gaps`) to keep the frames next to them.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    window
        Odd window length in frames.
    min_periods
        Fewest valid values in a window for a result (default: ``window``, every
        value; NaN in the window are skipped when it is smaller). Points that are
        NaN in the input stay NaN.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If ``window`` is not an odd positive integer, ``min_periods`` is not in
        ``1 .. window``, or the data has fewer than ``min_periods`` frames.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([0.0, 1.0, 9.0, 3.0, 4.0])
    >>> ds = from_numpy(np.stack([x, x], 1)[:, :, None, None])
    >>> filter_median(ds, window=3).position.values[:, 0, 0, 0]
    array([nan,  1.,  3.,  4., nan])
    >>> filter_median(ds, window=3, min_periods=2).position.values[:, 0, 0, 0]
    array([0.5, 1. , 3. , 4. , 3.5])
    """
    window = _check_window(window)
    mp = window if min_periods is None else int(min_periods)
    if not 1 <= mp <= window:
        raise ValueError(
            f"min_periods must be in 1..{window}; received {min_periods!r}"
        )

    def kernel(block: np.ndarray) -> np.ndarray:
        if block.shape[0] < mp:  # no window could hold min_periods values
            raise ValueError(
                f"filter_median with window={window} needs at least {mp} frames; "
                f"the data has {block.shape[0]} (every point would become NaN)"
            )
        med = _rolling_nanmedian(block, window, mp)
        med[np.isnan(block)] = np.nan
        return med

    return _apply_block(
        data, kernel, "filter_median", {"window": window, "min_periods": mp}
    )


def filter_savgol(data: PoseLike, *, window: int = 7, polyorder: int = 2) -> PoseLike:
    """Savitzky–Golay smoothing (local polynomial fit) over ``window`` frames.

    A NaN makes every window that contains it NaN: each gap widens by
    ``(window - 1) / 2`` frames on each side (a 3-frame gap becomes 9 missing frames
    with ``window=7``), which also removes those frames from ROI and speed
    measures. Interpolate short gaps first (:func:`interpolate_gaps`). The first and
    last frames are kept: they take the polynomial fitted to the first or last
    window.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    window
        Odd window length in frames, greater than ``polyorder``.
    polyorder
        Order of the fitted polynomial (2 keeps constant-acceleration motion exact).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If ``window`` is not odd or ``polyorder >= window``.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> x = np.arange(9.0) ** 2
    >>> ds = from_numpy(np.stack([x, x], 1)[:, :, None, None])
    >>> np.allclose(filter_savgol(ds, window=5).position.values[:, 0, 0, 0], x)
    True
    """
    window = _check_window(window, minimum=3)
    if int(polyorder) != polyorder or not 0 <= polyorder < window:
        raise ValueError(
            f"polyorder must be an integer in 0..window-1 ({window - 1}); received "
            f"polyorder={polyorder!r}"
        )

    def kernel(block: np.ndarray) -> np.ndarray:
        return _savgol_block(block, window, int(polyorder))

    return _apply_block(
        data, kernel, "filter_savgol", {"window": window, "polyorder": int(polyorder)}
    )


def _savgol_block(block: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    """Savitzky–Golay along axis 0; polynomial fits at the edges; NaN propagates."""
    n_time = block.shape[0]
    if n_time < window:
        raise ValueError(
            f"filter_savgol needs at least window={window} frames; the data has {n_time}"
        )
    half = window // 2
    coeffs = signal.savgol_coeffs(window, polyorder, use="dot")
    out = np.full_like(block, np.nan)
    # interior: a correlation, written as a sum of shifted slices (NaN propagates)
    acc = np.zeros((n_time - 2 * half,) + block.shape[1:])
    for k, ck in enumerate(coeffs):
        acc += ck * block[k : n_time - 2 * half + k]
    out[half : n_time - half] = acc
    # edges: evaluate the polynomial fitted to the first / last window
    head, tail = block[:window], block[n_time - window :]
    for i in range(half):
        out[i] = signal.savgol_coeffs(window, polyorder, pos=i, use="dot") @ head
        j = window - half + i
        out[n_time - half + i] = (
            signal.savgol_coeffs(window, polyorder, pos=j, use="dot") @ tail
        )
    out[np.isnan(block)] = np.nan
    return out


def filter_butterworth(
    data: PoseLike,
    *,
    cutoff: float,
    order: int = 4,
    fps: float | None = None,
) -> PoseLike:
    """Zero-phase low-pass Butterworth filter (forward-backward, ``sosfiltfilt``).

    Gaps are bridged linearly for the filter's sake only; NaN points stay NaN.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    cutoff
        Cut-off frequency in Hz when the frame rate is known (``fps`` argument or
        attrs), otherwise in cycles per frame (below 0.5).
    order
        Filter order.
    fps
        Frames per second (overrides what the data says).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If the cut-off is not below the Nyquist frequency.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.ones((50, 2, 1, 1)), fps=30)
    >>> np.allclose(filter_butterworth(ds, cutoff=5).position, 1.0)
    True
    """
    rate = resolve_fps(position_of(data), fps)
    nyquist = 0.5 * (rate if rate is not None else 1.0)
    if not (np.isfinite(cutoff) and 0 < cutoff < nyquist):
        unit = "Hz" if rate is not None else "cycles/frame"
        raise ValueError(
            f"cutoff must be between 0 and the Nyquist frequency {nyquist:g} {unit}; "
            f"received cutoff={cutoff!r}"
        )
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer; received order={order!r}")
    sos = signal.butter(int(order), cutoff / nyquist, output="sos")

    def kernel(block: np.ndarray) -> np.ndarray:
        missing = np.isnan(block)
        filled = _interpolate_block(block, None)
        # edges: hold the first / last valid value
        filled = _hold_edges(filled)
        out = np.full_like(block, np.nan)
        ok = ~np.isnan(filled).any(axis=0)
        if ok.any() and block.shape[0] > 1:
            padlen = min(3 * (2 * len(sos) + 1), block.shape[0] - 1)
            out[:, ok] = signal.sosfiltfilt(sos, filled[:, ok], axis=0, padlen=padlen)
        out[missing] = np.nan
        return out

    return _apply_block(
        data,
        kernel,
        "filter_butterworth",
        {"cutoff": float(cutoff), "order": int(order), "fps": rate},
    )


def _hold_edges(block: np.ndarray) -> np.ndarray:
    """Fill leading/trailing NaN of each column with its first/last valid value."""
    n_time = block.shape[0]
    valid = ~np.isnan(block)
    idx = np.arange(n_time)[:, None]
    first = np.where(valid.any(0), valid.argmax(0), 0)
    last = np.where(valid.any(0), n_time - 1 - valid[::-1].argmax(0), 0)
    cols = np.arange(block.shape[1])
    out = block.copy()
    lead = idx < first
    trail = idx > last
    out = np.where(lead, block[first, cols][None, :], out)
    out = np.where(trail, block[last, cols][None, :], out)
    return out


def _kalman_rts(
    block: np.ndarray, measurement_var: float, acceleration_var: float
) -> tuple[np.ndarray, np.ndarray]:
    """Constant-velocity Kalman filter + Rauch–Tung–Striebel smoother, per column.

    Time step is one frame. Returns smoothed position and velocity (per frame).
    Vectorised over columns; one loop over time forward and one backward.
    """
    n_time, n = block.shape
    q, r = float(acceleration_var), float(measurement_var)
    q00, q01, q11 = q / 3.0, q / 2.0, q
    # filtered and predicted states / covariances (p = [p00, p01, p11])
    xf = np.empty((n_time, 2, n))
    pf = np.empty((n_time, 3, n))
    xp = np.empty((n_time, 2, n))
    pp = np.empty((n_time, 3, n))
    x0 = np.zeros(n)
    x1 = np.zeros(n)
    big = 1e6 * (r + 1.0)
    p00, p01, p11 = np.full(n, big), np.zeros(n), np.full(n, big)
    for t in range(n_time):
        if t > 0:
            x0 = x0 + x1
            p00, p01, p11 = p00 + 2 * p01 + p11 + q00, p01 + p11 + q01, p11 + q11
        xp[t, 0], xp[t, 1] = x0, x1
        pp[t, 0], pp[t, 1], pp[t, 2] = p00, p01, p11
        z = block[t]
        seen = ~np.isnan(z)
        s = p00 + r
        k0 = np.where(seen, p00 / s, 0.0)
        k1 = np.where(seen, p01 / s, 0.0)
        innov = np.where(seen, z - x0, 0.0)
        x0 = x0 + k0 * innov
        x1 = x1 + k1 * innov
        p00, p01, p11 = (1 - k0) * p00, (1 - k0) * p01, p11 - k1 * p01
        xf[t, 0], xf[t, 1] = x0, x1
        pf[t, 0], pf[t, 1], pf[t, 2] = p00, p01, p11
    xs = xf.copy()
    ps = pf.copy()
    for t in range(n_time - 2, -1, -1):
        a, b, c = pf[t]
        # F P = [[a + b, b + c], [b, c]]; C = P F^T Pp^-1
        pa, pb, pc = pp[t + 1]
        det = pa * pc - pb * pb
        det = np.where(det == 0, np.finfo(float).tiny, det)
        ia, ib, ic = pc / det, -pb / det, pa / det
        m00, m01 = a + b, b  # (P F^T) row 0: [a + b, b]
        m10, m11 = b + c, c  # row 1
        c00, c01 = m00 * ia + m01 * ib, m00 * ib + m01 * ic
        c10, c11 = m10 * ia + m11 * ib, m10 * ib + m11 * ic
        d0 = xs[t + 1, 0] - xp[t + 1, 0]
        d1 = xs[t + 1, 1] - xp[t + 1, 1]
        xs[t, 0] = xf[t, 0] + c00 * d0 + c01 * d1
        xs[t, 1] = xf[t, 1] + c10 * d0 + c11 * d1
        e00 = ps[t + 1, 0] - pa
        e01 = ps[t + 1, 1] - pb
        e11 = ps[t + 1, 2] - pc
        ps[t, 0] = a + c00 * (c00 * e00 + c01 * e01) + c01 * (c00 * e01 + c01 * e11)
        ps[t, 1] = b + c10 * (c00 * e00 + c01 * e01) + c11 * (c00 * e01 + c01 * e11)
        ps[t, 2] = c + c10 * (c10 * e00 + c11 * e01) + c11 * (c10 * e01 + c11 * e11)
    return xs[:, 0], xs[:, 1]


def _keep_short_gaps(
    estimate: np.ndarray, block: np.ndarray, fill_gaps: int
) -> np.ndarray:
    """NaN where ``block`` is NaN, except inside interior gaps <= ``fill_gaps``."""
    missing = np.isnan(block)
    if fill_gaps > 0:
        bridged = ~np.isnan(_interpolate_block(block, fill_gaps))
        missing &= ~bridged
    out = estimate.copy()
    out[missing] = np.nan
    return out


def smooth_kalman(
    position: xr.DataArray,
    *,
    measurement_std: float = 1.0,
    acceleration_std: float = 1.0,
    fill_gaps: int = 0,
    fps: float | None = None,
    per: Literal["frame", "second"] | None = None,
) -> tuple[xr.DataArray, xr.DataArray]:
    """Kalman filter + RTS smoother with a constant-velocity model; also gives velocity.

    Each coordinate of each keypoint is an independent track ``[p, v]`` with white
    acceleration noise. Missing observations (NaN) are skipped by the update step.
    The recursion loops over frames (vectorised over every coordinate), so it is the
    slow smoother: about 10 s of CPU for an hour at 30 fps of 2 animals × 8 keypoints
    on a 2-core machine, against ~0.1 s for Savitzky–Golay.

    Parameters
    ----------
    position
        ``position`` DataArray with dims ``time`` and ``space``.
    measurement_std
        Standard deviation of the keypoint measurement error (position units).
    acceleration_std
        Standard deviation of the random acceleration (position units per frame²);
        larger follows fast changes more closely, smaller smooths more.
    fill_gaps
        Keep the smoother's estimates inside interior gaps of at most this many frames;
        elsewhere NaN input stays NaN (default 0: never fill).
    fps, per
        Velocity in units per ``"frame"`` or per ``"second"`` (default: per second when
        the frame rate is known).

    Returns
    -------
    position : xarray.DataArray
        Smoothed position, same dims as the input.
    velocity : xarray.DataArray
        Smoothed velocity, same dims, ``attrs["units"]`` e.g. ``"px/s"``.

    Raises
    ------
    ValueError
        If a standard deviation is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> t = np.arange(40.0)
    >>> pos = from_numpy(np.stack([2 * t, t], 1)[:, :, None, None]).position
    >>> p, v = smooth_kalman(pos, per="frame")
    >>> np.allclose(v.sel(space="x"), 2.0, atol=1e-3)
    True
    """
    for name, value in (
        ("measurement_std", measurement_std),
        ("acceleration_std", acceleration_std),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive; received {name}={value!r}")
    if int(fill_gaps) != fill_gaps or fill_gaps < 0:
        raise ValueError(
            f"fill_gaps must be a non-negative integer; received {fill_gaps!r}"
        )
    require_dims(position, ["time", "space"], "smooth_kalman")
    scale, tunit, rate = time_scale(position, fps, per)
    block, rebuild = time_first_2d(position)
    pos_est, vel_est = _kalman_rts(block, measurement_std**2, acceleration_std**2)
    pos_out = rebuild(_keep_short_gaps(pos_est, block, int(fill_gaps)))
    vel_out = rebuild(_keep_short_gaps(vel_est * scale, block, int(fill_gaps)))
    pos_out.attrs = dict(position.attrs)
    pos_out.name = position.name
    unit = space_unit(position)
    vel_out.attrs = {
        "units": f"{unit}/{tunit}",
        "space_unit": unit,
        "time_unit": tunit,
        **({"fps": rate} if rate is not None else {}),
    }
    vel_out.name = "velocity"
    params = {
        "measurement_std": float(measurement_std),
        "acceleration_std": float(acceleration_std),
        "fill_gaps": int(fill_gaps),
    }
    pos_out = with_log(pos_out, "smooth_kalman", **params)
    vel_out = with_log(vel_out, "smooth_kalman", **params)
    return pos_out, vel_out


def filter_kalman(
    data: PoseLike,
    *,
    measurement_std: float = 1.0,
    acceleration_std: float = 1.0,
    fill_gaps: int = 0,
    fps: float | None = None,
) -> PoseLike:
    """Kalman/RTS-smooth the position (see :func:`smooth_kalman`).

    For a Dataset the smoothed velocity is added as the ``velocity`` variable.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    measurement_std, acceleration_std, fill_gaps, fps
        As in :func:`smooth_kalman`.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If a parameter is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> ds = filter_kalman(from_numpy(np.ones((10, 2, 1, 1))))
    >>> "velocity" in ds
    True
    """
    pos, vel = smooth_kalman(
        position_of(data),
        measurement_std=measurement_std,
        acceleration_std=acceleration_std,
        fill_gaps=fill_gaps,
        fps=fps,
    )
    out = _replace_position(data, pos)
    if isinstance(out, xr.Dataset):
        vel.attrs.pop("log", None)
        out["velocity"] = vel
    params = {
        "measurement_std": float(measurement_std),
        "acceleration_std": float(acceleration_std),
        "fill_gaps": int(fill_gaps),
    }
    return with_log(out, "filter_kalman", **params)


# ---------------------------------------------------------------- pipeline


@dataclass(frozen=True)
class FilterConfig:
    """Settings of the cleaning pipeline run by :func:`filter_poses`.

    Steps, in order: confidence threshold → jump removal → gap interpolation →
    smoothing. A step whose parameter is ``None`` is skipped.

    Parameters
    ----------
    method
        Smoother: ``"median"``, ``"savgol"``, ``"butterworth"``, ``"kalman"`` or
        ``"none"``.
    confidence_threshold
        Likelihood below which points become NaN.
    jump_k, body_length
        Jump removal (:func:`filter_jumps`) when both are set.
    max_gap
        Interpolate gaps of at most this many frames (``None``: no interpolation).
    window
        Window (frames) of the median and Savitzky–Golay smoothers. Both leave NaN
        for ``(window - 1) / 2`` frames on each side of a gap, and the median also
        at the first and last ``(window - 1) / 2`` frames (:func:`filter_median`,
        :func:`filter_savgol`).
    min_periods
        The median's fewest valid values in a window (default: the whole window;
        :func:`filter_median`). A smaller number keeps the frames at the ends and
        next to gaps, with the bias of an off-centre window.
    polyorder
        Savitzky–Golay polynomial order.
    cutoff, order
        Butterworth cut-off (Hz with a frame rate, else cycles/frame) and order.
    measurement_std, acceleration_std
        Kalman noise levels.

    Examples
    --------
    >>> cfg = FilterConfig(method="savgol", window=7, max_gap=3)
    >>> FilterConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    method: SmoothingMethod = "median"
    confidence_threshold: float | None = None
    jump_k: float | None = None
    body_length: float | tuple[str, str] | None = None
    max_gap: int | None = None
    window: int = 5
    min_periods: int | None = None
    polyorder: int = 2
    cutoff: float | None = None
    order: int = 4
    measurement_std: float = 1.0
    acceleration_std: float = 1.0

    def __post_init__(self) -> None:  # noqa: D105
        if self.method not in SMOOTHING_METHODS:
            raise ValueError(
                f"Unknown smoothing method {self.method!r}; choose one of "
                f"{sorted(SMOOTHING_METHODS)}"
            )
        if self.confidence_threshold is not None and not np.isfinite(
            self.confidence_threshold
        ):
            raise ValueError(
                "confidence_threshold must be a number or None; received "
                f"{self.confidence_threshold!r}"
            )
        if (self.jump_k is None) != (self.body_length is None):
            raise ValueError(
                "jump removal needs both jump_k and body_length; received "
                f"jump_k={self.jump_k!r}, body_length={self.body_length!r}"
            )
        if isinstance(self.body_length, list):
            object.__setattr__(self, "body_length", tuple(self.body_length))
        if self.max_gap is not None and (
            int(self.max_gap) != self.max_gap or self.max_gap < 0
        ):
            raise ValueError(
                f"max_gap must be a non-negative integer or None; received {self.max_gap!r}"
            )
        if self.method in ("median", "savgol"):
            _check_window(self.window, minimum=3 if self.method == "savgol" else 1)
        if self.method == "savgol" and not 0 <= self.polyorder < self.window:
            raise ValueError(
                f"polyorder must be below window ({self.window}); received "
                f"polyorder={self.polyorder!r}"
            )
        if self.method == "butterworth" and self.cutoff is None:
            raise ValueError("method='butterworth' needs cutoff=... (Hz)")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (YAML/JSON friendly)."""
        out = asdict(self)
        if isinstance(out["body_length"], tuple):
            out["body_length"] = list(out["body_length"])
        return out

    def describe_smoothing(self) -> str:
        """Say in words how the positions are smoothed (and which gaps are filled).

        What the movement table's ``smoothing`` column holds, so that an exported
        distance says whether it adds up the tracking's frame-to-frame jitter.

        Returns
        -------
        str
            The smoother and its window or cut-off, then the gap interpolation if
            any; ``"none"`` for raw positions.

        Examples
        --------
        >>> FilterConfig(method="median", window=5, max_gap=10).describe_smoothing()
        'median of 5 frames, gaps of up to 10 frames interpolated first'
        >>> FilterConfig(method="savgol", window=7).describe_smoothing()
        'Savitzky-Golay of 7 frames (order 2)'
        >>> FilterConfig(method="none").describe_smoothing()
        'none'
        """
        if self.method == "median":
            text = f"median of {self.window} frames"
        elif self.method == "savgol":
            text = f"Savitzky-Golay of {self.window} frames (order {self.polyorder})"
        elif self.method == "butterworth":
            text = (
                f"Butterworth low-pass, cut-off {self.cutoff:g} Hz (order {self.order})"
            )
        elif self.method == "kalman":
            text = (
                f"Kalman (measurement std {self.measurement_std:g} px, "
                f"acceleration std {self.acceleration_std:g})"
            )
        else:
            text = "none"
        if self.max_gap:
            text = (
                f"{text}, gaps of up to {self.max_gap} frames interpolated first"
                if self.method != "none"
                else f"none (gaps of up to {self.max_gap} frames interpolated)"
            )
        return text

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FilterConfig:
        """Build from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown FilterConfig keys {unknown}; valid keys are {sorted(known)}"
            )
        return cls(**dict(values))


def _smooth_median(data: PoseLike, cfg: FilterConfig) -> PoseLike:
    return filter_median(data, window=cfg.window, min_periods=cfg.min_periods)


def _smooth_savgol(data: PoseLike, cfg: FilterConfig) -> PoseLike:
    return filter_savgol(data, window=cfg.window, polyorder=cfg.polyorder)


def _smooth_butterworth(data: PoseLike, cfg: FilterConfig) -> PoseLike:
    assert cfg.cutoff is not None
    return filter_butterworth(data, cutoff=cfg.cutoff, order=cfg.order)


def _smooth_kalman(data: PoseLike, cfg: FilterConfig) -> PoseLike:
    return filter_kalman(
        data,
        measurement_std=cfg.measurement_std,
        acceleration_std=cfg.acceleration_std,
    )


def _smooth_none(data: PoseLike, cfg: FilterConfig) -> PoseLike:
    return data


#: Smoothers by name (the registry :func:`filter_poses` dispatches on).
SMOOTHING_METHODS: dict[str, Callable[[Any, FilterConfig], Any]] = {
    "median": _smooth_median,
    "savgol": _smooth_savgol,
    "butterworth": _smooth_butterworth,
    "kalman": _smooth_kalman,
    "none": _smooth_none,
}


def filter_poses(
    data: PoseLike,
    method: SmoothingMethod = "median",
    *,
    config: FilterConfig | None = None,
    **params: Any,
) -> PoseLike:
    """Clean and smooth poses in one call: the pipeline of :class:`FilterConfig`.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    method
        Smoother (``"median"``, ``"savgol"``, ``"butterworth"``, ``"kalman"``,
        ``"none"``).
    config
        A ready :class:`FilterConfig` (then ``method`` and ``params`` are not used).
    **params
        Other :class:`FilterConfig` fields, e.g. ``confidence_threshold=0.6,
        max_gap=5, window=7``.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``, every step recorded in ``attrs["log"]``.

    Raises
    ------
    ValueError
        If a parameter is unknown or invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> ds = from_numpy(np.ones((20, 2, 3, 1)), np.full((20, 3, 1), 0.9))
    >>> out = filter_poses(ds, "savgol", confidence_threshold=0.5, max_gap=3)
    >>> [e["operation"] for e in get_log(out)]
    ['filter_by_confidence', 'interpolate_gaps', 'filter_savgol']
    """
    if config is None:
        if method not in SMOOTHING_METHODS:  # before its parameters (DLC's arima)
            raise ValueError(
                f"Unknown smoothing method {method!r}; choose one of "
                f"{sorted(SMOOTHING_METHODS)}"
            )
        known = {f.name for f in fields(FilterConfig)} - {"method"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"Unknown filter parameter(s) {unknown}; valid: {sorted(known)}"
            )
        config = FilterConfig(method=method, **params)
    elif params:
        raise ValueError(
            f"Pass either config= or keyword parameters, not both (got {sorted(params)})"
        )
    out = data
    if config.confidence_threshold is not None:
        out = filter_by_confidence(out, threshold=config.confidence_threshold)
    if config.jump_k is not None and config.body_length is not None:
        out = filter_jumps(out, k=config.jump_k, body_length=config.body_length)
    if config.max_gap is not None:
        out = interpolate_gaps(out, max_gap=config.max_gap)
    out = SMOOTHING_METHODS[config.method](out, config)
    if out is data:  # nothing ran: still return a new object
        out = data.copy(deep=False)
        out.attrs = dict(data.attrs)
    return out
