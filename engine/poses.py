"""The in-memory tracking data model: an ``xarray.Dataset`` in the movement schema.

``position`` has dims ``(time, space, keypoint, individual)`` and ``confidence`` has dims
``(time, keypoint, individual)``. Attributes: ``fps``, ``time_unit``, ``source_software``,
``source_file`` (and ``log``, a list of processing steps, as JSON-able dicts).
Missing data is NaN, never 0.

The ``time`` coordinate carries the unit too (``time.attrs["time_unit"]``, and
``time.attrs["rows"] = "images"`` when the rows are labelled images, not video
frames: :func:`mark_time_unit`), so an array taken out of the Dataset
(``ds.position``) still says whether its times are seconds: at 1 frame per second
they step by 1, as frame numbers do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = [
    "from_numpy",
    "validate",
    "frame_numbers",
    "mark_time_unit",
    "LEGACY_DIMS",
    "normalise_dims",
]

#: Old plural dimension names used by movement < 0.0.21, renamed on load.
LEGACY_DIMS = {"individuals": "individual", "keypoints": "keypoint"}


def from_numpy(
    position: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    keypoint_names: Sequence[str] | None = None,
    individual_names: Sequence[str] | None = None,
    fps: float | None = None,
    source_software: str | None = None,
    source_file: str | None = None,
) -> xr.Dataset:
    """Build a validated poses dataset from arrays.

    Parameters
    ----------
    position
        Array of shape ``(time, space, keypoint, individual)`` in pixels (or mm).
        ``space`` is 2 (x, y) or 3 (x, y, z).
    confidence
        Array of shape ``(time, keypoint, individual)``; NaN where unknown. Defaults to
        all-NaN.
    keypoint_names, individual_names
        Labels of the keypoint and individual axes. Defaults ``keypoint_0…`` and
        ``individual_0…``.
    fps
        Frames per second. With ``fps`` the ``time`` coordinate is in seconds,
        otherwise in frames.
    source_software, source_file
        Provenance recorded in ``attrs``.

    Returns
    -------
    xarray.Dataset
        Dataset with ``position`` and ``confidence`` variables.

    Raises
    ------
    ValueError
        If shapes are inconsistent or names have the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> ds = from_numpy(np.zeros((5, 2, 3, 1)), keypoint_names=["a", "b", "c"])
    >>> ds.position.dims
    ('time', 'space', 'keypoint', 'individual')
    """
    position = np.asarray(position, dtype=float)
    if position.ndim != 4:
        raise ValueError(
            "position must have 4 dims (time, space, keypoint, individual); "
            f"received shape {position.shape}"
        )
    n_time, n_space, n_kp, n_ind = position.shape
    if n_space not in (2, 3):
        raise ValueError(f"space must have 2 or 3 entries; received {n_space}")
    if confidence is None:
        confidence = np.full((n_time, n_kp, n_ind), np.nan)
    confidence = np.asarray(confidence, dtype=float)
    if confidence.shape != (n_time, n_kp, n_ind):
        raise ValueError(
            f"confidence must have shape {(n_time, n_kp, n_ind)}; "
            f"received {confidence.shape}"
        )
    keypoint_names = (
        [f"keypoint_{i}" for i in range(n_kp)]
        if keypoint_names is None
        else [str(k) for k in keypoint_names]
    )
    individual_names = (
        [f"individual_{i}" for i in range(n_ind)]
        if individual_names is None
        else [str(i) for i in individual_names]
    )
    if len(keypoint_names) != n_kp:
        raise ValueError(
            f"{len(keypoint_names)} keypoint names for {n_kp} keypoints: {keypoint_names}"
        )
    if len(individual_names) != n_ind:
        raise ValueError(
            f"{len(individual_names)} individual names for {n_ind} individuals: "
            f"{individual_names}"
        )
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number; received fps={fps!r}")
    time = np.arange(n_time, dtype=float)
    time_unit = "frames"
    if fps is not None:
        time = time / float(fps)
        time_unit = "seconds"
    ds = xr.Dataset(
        data_vars={
            "position": (("time", "space", "keypoint", "individual"), position),
            "confidence": (("time", "keypoint", "individual"), confidence),
        },
        coords={
            "time": ("time", time, {"time_unit": time_unit}),
            "space": ["x", "y", "z"][:n_space],
            "keypoint": keypoint_names,
            "individual": individual_names,
        },
        attrs={
            "fps": float(fps) if fps is not None else None,
            "time_unit": time_unit,
            "source_software": source_software,
            "source_file": source_file,
            "ds_type": "poses",
        },
    )
    return validate(ds)


def normalise_dims(ds: xr.Dataset) -> xr.Dataset:
    """Rename legacy plural dimension names (``individuals``, ``keypoints``)."""
    rename = {old: new for old, new in LEGACY_DIMS.items() if old in ds.dims}
    return ds.rename(rename) if rename else ds


def mark_time_unit(ds: xr.Dataset) -> xr.Dataset:
    """Return ``ds`` with its ``time`` coordinate saying what its values are.

    ``time.attrs["time_unit"]`` becomes ``attrs["time_unit"]`` (``"seconds"`` or
    ``"frames"``), and ``time.attrs["rows"]`` is ``"images"`` when the rows are
    images (``attrs["frames"]`` holds their paths: label files, predictions of
    images), not consecutive video frames. The coordinate travels with every array
    taken out of the Dataset, so ``ds.position`` alone still tells seconds at 1 fps
    (a step of 1) from frame numbers, and the behaviour tools can refuse speeds
    between labelled images. A coordinate that already says so is left as it is;
    ``ds`` itself is not modified.

    Parameters
    ----------
    ds
        A poses dataset.

    Returns
    -------
    xarray.Dataset
        ``ds``, or a shallow copy with the new coordinate attributes.

    Examples
    --------
    >>> ds = from_numpy(np.zeros((3, 2, 1, 1)), fps=1)
    >>> ds.position["time"].attrs["time_unit"]
    'seconds'
    """
    if "time" not in ds.coords:
        return ds
    attrs = dict(ds["time"].attrs)
    unit = ds.attrs.get("time_unit")
    if unit in ("seconds", "frames"):
        attrs["time_unit"] = unit
    frames = ds.attrs.get("frames")
    if frames is not None and len(frames) == ds.sizes.get("time"):
        attrs["rows"] = "images"
    if attrs == ds["time"].attrs:
        return ds
    time = ds["time"].variable.copy(deep=False)
    time.attrs = attrs
    return ds.assign_coords(time=time)


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` follows the poses schema and return it (legacy dims renamed).

    The ``time`` coordinate is marked with the unit of its values
    (:func:`mark_time_unit`).

    Raises
    ------
    ValueError
        If a required variable or dimension is missing.
    """
    ds = mark_time_unit(normalise_dims(ds))
    for var, dims in {
        "position": ("time", "space", "keypoint", "individual"),
        "confidence": ("time", "keypoint", "individual"),
    }.items():
        if var not in ds:
            raise ValueError(f"poses dataset has no {var!r} variable; has {list(ds)}")
        if set(ds[var].dims) != set(dims):
            raise ValueError(f"{var} must have dims {dims}; has {ds[var].dims}")
        if ds[var].dims != dims:
            ds[var] = ds[var].transpose(*dims)
    return ds


def frame_numbers(ds: xr.Dataset, *, fmt: str = "this format") -> np.ndarray:
    """Return the frame number of each ``time`` step (seconds × ``fps``, or frames).

    Parameters
    ----------
    ds
        A poses dataset.
    fmt
        The file format that needs frame numbers (named in the error).

    Returns
    -------
    numpy.ndarray
        ``int64`` frame numbers.

    Raises
    ------
    ValueError
        If the times are in seconds without an ``fps`` attribute, or are not whole,
        non-negative frame numbers.

    Examples
    --------
    >>> ds = from_numpy(np.zeros((3, 2, 1, 1)), fps=10).assign_coords(time=[1.0, 1.1, 1.2])
    >>> frame_numbers(ds).tolist()
    [10, 11, 12]
    """
    t = np.asarray(ds["time"].values, np.float64)
    fps = ds.attrs.get("fps")
    if ds.attrs.get("time_unit") == "seconds":
        if not fps:
            raise ValueError(
                f"{fmt} stores frame numbers: these poses have times in seconds but "
                "no fps attribute to turn them into frames"
            )
        t = t * float(fps)
    frames = np.round(t).astype(np.int64)
    if not np.allclose(frames, t, atol=1e-6) or (frames < 0).any():
        raise ValueError(
            f"{fmt} stores whole, non-negative frame numbers; these poses' times are "
            f"not (first: {t[:3].tolist()})"
        )
    return frames
