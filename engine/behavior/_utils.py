"""Private helpers shared by the behaviour modules (not public API).

- the processing log kept in ``attrs["log"]`` as a JSON string (netCDF-safe);
- time-step discovery (``fps``) for DataArrays;
- moving between labelled arrays and ``(time, n)`` numpy blocks without per-frame loops.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

PoseLike = TypeVar("PoseLike", xr.Dataset, xr.DataArray)

LOG_KEY = "log"


# ---------------------------------------------------------------- processing log


#: Name of the individual holding a multi-animal DeepLabCut file's unique bodyparts
#: (a landmark, a feeder): not an animal.
UNIQUE_BODYPARTS = "single"


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def read_log(obj: xr.Dataset | xr.DataArray) -> list[dict[str, Any]]:
    """Return the processing log of ``obj`` as a list of dicts (empty if none)."""
    raw = obj.attrs.get(LOG_KEY)
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"attrs['log'] is not valid JSON ({err}); it should be a JSON list "
                "written by posekit"
            ) from err
    else:  # a list already (e.g. built by hand)
        entries = list(raw)
    if not isinstance(entries, list):
        entries = [entries]
    return [dict(e) for e in entries]


def with_log(obj: PoseLike, operation: str, **parameters: Any) -> PoseLike:
    """Return ``obj`` with one log entry appended to ``attrs['log']`` (a JSON string).

    ``obj`` must already be a new object (the caller's copy); only its ``attrs`` dict
    is replaced, never mutated in place, so inputs stay untouched.
    """
    entries = read_log(obj)
    entries.append(
        {
            "operation": operation,
            "parameters": _jsonable(parameters),
            "datetime": _dt.datetime.now(_dt.timezone.utc).isoformat(
                timespec="seconds"
            ),
        }
    )
    attrs = dict(obj.attrs)
    attrs[LOG_KEY] = json.dumps(entries)
    obj.attrs = attrs
    return obj


# ---------------------------------------------------------------- time and units


def resolve_fps(data: xr.DataArray | xr.Dataset, fps: float | None) -> float | None:
    """Frames per second from the argument, the attrs, or the time coordinate.

    Order: ``fps`` argument; ``attrs['fps']``; the ``time`` coordinate when its own
    ``time_unit`` (:func:`~posekit.engine.poses.mark_time_unit`: it travels with
    ``ds.position``) or ``units``, else ``attrs['time_unit']``, says seconds (then
    1 frame per second, a step of 1, is told from frame numbers), or, with no unit,
    when its spacing is constant and not 1. ``None`` means "frames".
    """
    if fps is not None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number; received fps={fps!r}")
        return float(fps)
    attr = data.attrs.get("fps")
    if attr is not None and np.isfinite(attr) and float(attr) > 0:
        return float(attr)
    if "time" not in data.coords or data.sizes.get("time", 0) < 2:
        return None
    time = data["time"]
    unit = (
        time.attrs.get("time_unit")
        or time.attrs.get("units")
        or data.attrs.get("time_unit")
    )
    values = np.asarray(time.values, dtype=float)
    step = np.diff(values)
    if not np.all(np.isfinite(step)) or step.size == 0:
        return None
    dt = float(np.median(step))
    if unit in ("frames", "frame"):
        return None
    if unit in ("seconds", "s", "second"):
        return float(np.round(1.0 / dt, 9)) if dt > 0 else None
    if dt > 0 and not np.isclose(dt, 1.0) and np.allclose(step, dt, rtol=1e-6):
        return float(np.round(1.0 / dt, 9))  # 1 / (1 / 30) is not exactly 30
    return None


def image_rows(data: xr.DataArray | xr.Dataset) -> bool:
    """Whether the rows of ``data`` are images (a label file), not video frames.

    True when the ``time`` coordinate says so (``time.attrs["rows"] == "images"``,
    :func:`~posekit.engine.poses.mark_time_unit`) or a Dataset names one image per
    row in ``attrs["frames"]`` (as every label file and ``analyze-images`` loads).
    """
    if "time" in data.coords and data["time"].attrs.get("rows") == "images":
        return True
    frames = data.attrs.get("frames") if isinstance(data, xr.Dataset) else None
    return frames is not None and len(frames) == data.sizes.get("time", -1)


def refuse_image_rows(data: xr.DataArray | xr.Dataset, what: str) -> None:
    """Raise ``ValueError`` when ``data``'s rows are images (:func:`image_rows`).

    ``what`` names the measure (``"a speed"``) in the message.
    """
    if image_rows(data):
        raise ValueError(
            f"these poses are labelled images (a label file such as "
            "CollectedData_<scorer>.h5, or predictions of images), not consecutive "
            f"frames of a video: {what} between them means nothing. Analyse the "
            "video (posekit analyze) and use its predictions file instead"
        )


def space_unit(data: xr.DataArray) -> str:
    """Spatial unit of a position array (``attrs['space_unit']``, default ``px``)."""
    return str(data.attrs.get("space_unit", "px"))


def time_scale(
    data: xr.DataArray,
    fps: float | None,
    per: Literal["frame", "second"] | None,
) -> tuple[float, str, float | None]:
    """Return ``(frames_per_unit, unit_label, fps)`` for a derivative.

    ``frames_per_unit`` converts "per frame" into "per ``unit_label``".
    """
    refuse_image_rows(data, "a rate of change (speed, acceleration)")
    fps = resolve_fps(data, fps)
    if per is None:
        per = "second" if fps is not None else "frame"
    if per == "second":
        if fps is None:
            raise ValueError(
                "per='second' needs the frame rate: pass fps=..., or build the poses "
                "with posekit.engine.poses.from_numpy(..., fps=...)"
            )
        return fps, "s", fps
    if per == "frame":
        return 1.0, "frame", fps
    raise ValueError(f"per must be 'frame' or 'second'; received per={per!r}")


#: The coordinate (on ``time``) that holds each frame's presentation time in
#: seconds, for poses of a variable-frame-rate video (``posekit analyze`` records
#: it: ``frame_times`` in the ``_meta.pickle``, ``frame_time`` in the netCDF).
FRAME_TIME = "frame_time"


def frame_seconds(data: xr.DataArray | xr.Dataset) -> np.ndarray | None:
    """Each row's real time in seconds (variable frame rate), or ``None``.

    The ``frame_time`` coordinate (:data:`FRAME_TIME`) when ``data`` has one along
    ``time`` with an increasing time for every row; a frame without its time (one
    that did not decode) gets one interpolated between its neighbours'. ``None``
    for poses without it (a constant frame rate: rates use ``fps``).

    Parameters
    ----------
    data
        Poses Dataset or DataArray with a ``time`` dim.

    Returns
    -------
    numpy.ndarray or None
        ``float64`` seconds, one per ``time`` step.
    """
    if FRAME_TIME not in data.coords or data[FRAME_TIME].dims != ("time",):
        return None
    t = np.asarray(data[FRAME_TIME].values, dtype=np.float64)
    known = np.isfinite(t)
    if known.sum() < 2:
        return None
    if not known.all():
        idx = np.arange(len(t))
        t = np.interp(idx, idx[known], t[known])
    if not (np.diff(t) > 0).all():
        return None
    return t


def file_frames(data: xr.DataArray | xr.Dataset) -> np.ndarray:
    """Frame numbers of the file the data came from, one per ``time`` step.

    They come from the ``time`` coordinate: frame numbers (``time_unit`` frames), or
    seconds times ``attrs["fps"]``. A trimmed analysis that starts at frame 1000
    gives 1000, 1001, …. When the times are not whole frame numbers (or there is no
    time coordinate) the frames are counted from 0.

    Parameters
    ----------
    data
        Poses Dataset or DataArray with a ``time`` dim.

    Returns
    -------
    numpy.ndarray
        ``int64`` frame numbers, one per time step.
    """
    n = int(data.sizes.get("time", 0))
    fallback = np.arange(n, dtype=np.int64)
    if n == 0 or "time" not in data.coords:
        return fallback
    t = np.asarray(data["time"].values, dtype=float)
    unit = data.attrs.get("time_unit") or data["time"].attrs.get("units")
    if unit in ("seconds", "s", "second"):
        fps = data.attrs.get("fps")
        if not fps:
            return fallback
        t = t * float(fps)
    if not np.all(np.isfinite(t)):
        return fallback
    frames = np.round(t).astype(np.int64)
    if not np.allclose(frames, t, atol=1e-6) or (frames < 0).any():
        return fallback
    return frames


# ---------------------------------------------------------------- array plumbing


def position_of(data: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Return the position DataArray of a poses Dataset (or the DataArray itself)."""
    if isinstance(data, xr.Dataset):
        if "position" not in data:
            raise ValueError(
                f"the Dataset has no 'position' variable (has {list(data)}); pass a "
                "poses dataset from posekit.engine.io.load_poses or from_numpy"
            )
        pos = data["position"]
        if "fps" not in pos.attrs and data.attrs.get("fps") is not None:
            pos = pos.copy(deep=False)
            pos.attrs = {**pos.attrs, "fps": data.attrs["fps"]}
        return pos
    if isinstance(data, xr.DataArray):
        return data
    raise TypeError(
        f"expected an xarray Dataset or DataArray; received {type(data).__name__}"
    )


def require_dims(data: xr.DataArray, dims: Sequence[str], what: str) -> None:
    """Raise a helpful error when ``data`` lacks one of ``dims``."""
    missing = [d for d in dims if d not in data.dims]
    if missing:
        raise ValueError(
            f"{what} needs dims {list(dims)}; the array has {list(data.dims)} "
            f"(missing {missing})"
        )


def time_first_2d(
    data: xr.DataArray,
) -> tuple[np.ndarray, Callable[[np.ndarray], xr.DataArray]]:
    """Flatten ``data`` to a float ``(time, n)`` block, with a function to rebuild it.

    The rebuild keeps dims, coords and attrs, so array kernels work on plain numpy
    (no xarray in the hot path) and return labelled arrays.
    """
    require_dims(data, ["time"], "this operation")
    other = [d for d in data.dims if d != "time"]
    arr = data.transpose("time", *other)
    values = np.asarray(arr.values, dtype=float)
    shape = values.shape
    # Fortran order: each column (one coordinate's time series) is contiguous, which
    # makes the along-time kernels (cumulative ops, convolutions) several times faster
    block = np.asfortranarray(values.reshape(shape[0], -1))

    def rebuild(new: np.ndarray) -> xr.DataArray:
        out = arr.copy(data=np.asarray(new, dtype=float).reshape(shape))
        return out.transpose(*data.dims)

    return block, rebuild


def select_keypoint(data: xr.DataArray, keypoint: str | None) -> xr.DataArray:
    """One keypoint of ``data`` (or the centroid of all keypoints when ``None``).

    The centroid is :func:`~posekit.engine.behavior.kinematics.compute_centroid`'s:
    a keypoint missing in a frame is placed from those seen there, so the centroid
    neither jumps nor disappears when one drops out (missing only where no keypoint
    is seen).
    """
    if "keypoint" not in data.dims:
        return data
    if keypoint is None:
        from .kinematics import compute_centroid

        centroid = compute_centroid(data)
        centroid.attrs = dict(data.attrs)
        centroid.name = data.name
        return centroid
    names = [str(k) for k in data["keypoint"].values]
    if keypoint not in names:
        raise ValueError(f"unknown keypoint {keypoint!r}; the data has {names}")
    return data.sel(keypoint=keypoint, drop=True)


def run_lengths(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the runs of equal consecutive values in a 1-D array.

    Returns
    -------
    starts, ends, run_values
        ``starts`` (inclusive) and ``ends`` (exclusive) frame indices and the value of
        each run.
    """
    values = np.asarray(values)
    n = values.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=int)
        return empty, empty, values[:0]
    change = np.empty(n, dtype=bool)
    change[0] = True
    if values.dtype.kind == "f":
        a, b = values[1:], values[:-1]
        change[1:] = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    else:
        change[1:] = values[1:] != values[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n)
    return starts, ends, values[starts]


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of the True runs of a 1-D mask."""
    m = np.asarray(mask, dtype=bool)
    padded = np.concatenate(([False], m, [False])).astype(np.int8)
    d = np.diff(padded)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def as_table(X: Any) -> Any:
    """Turn a ``(time, feature)`` DataArray into a DataFrame (keeps feature names)."""
    if isinstance(X, xr.DataArray):
        if X.ndim != 2:
            raise ValueError(
                "X must be 2-D (frames × features); select one individual first, e.g. "
                f"features.sel(individual=...); received dims {X.dims}"
            )
        fdim = "feature" if "feature" in X.dims else X.dims[1]
        X = X.transpose(..., fdim)
        return pd.DataFrame(X.values, columns=[str(f) for f in X[fdim].values])
    return X


@contextlib.contextmanager
def explain_feature_names(estimator: Any, X: Any, kind: str) -> Iterator[None]:
    """Add what to do to scikit-learn's error when ``X``'s columns are not the fit's.

    scikit-learn's message (kept first, as its estimator checks expect) lists
    the names; the line added says which features ``X`` lacks, or how to take
    the estimator's columns in its order when ``X`` has others or another order.
    """
    try:
        yield
    except ValueError as err:
        fitted = getattr(estimator, "feature_names_in_", None)
        if fitted is None or not isinstance(X, pd.DataFrame):
            raise
        if "feature names should match" not in str(err):
            raise
        have = {str(c) for c in X.columns}
        missing = [str(n) for n in fitted if str(n) not in have]
        if missing:
            from .classify import describe_features  # loaded: it calls this

            shown = describe_features(missing)
            hint = (
                f"X lacks {len(missing)} of the {len(fitted)} features the {kind} "
                f"was fitted on: {shown}. Compute X from poses with the same "
                "bodyparts, animals (social features need two or more) and windows, "
                f"or fit the {kind} on the features X has (BehaviorModel.predict "
                "names the sessions that lack them; BehaviorModel.cluster uses the "
                "features every session has)."
            )
        else:
            hint = (
                f"Take the {kind}'s columns, in its order: "
                f"X[{kind}.feature_names_in_] (the other columns are left out; "
                "BehaviorModel.predict and cluster do so)."
            )
        raise ValueError(f"{err}\n{hint}") from err
