"""Lightning Pose prediction ``.csv`` files (single animal).

Lightning Pose writes DeepLabCut-style CSVs: three header rows ``scorer``,
``bodyparts``, ``coords`` with ``x, y, likelihood`` per keypoint, then one row per
frame (index: frame number for videos, image path for labelled frames). Two details
tell it apart from a DeepLabCut predictions CSV, and the sniffer uses them:

1. the scorer is ``<model_type>_tracker`` (``heatmap_tracker``,
   ``heatmap_mhcrnn_tracker``, ``regression_tracker``; the Ensemble Kalman Smoother
   writes ``ensemble-kalman_tracker``), whereas DeepLabCut's is ``DLC_<net>_<task>...``;
2. predictions on labelled frames have an extra ``set`` column
   (``train/validation/test/unused``).

A file that shows neither (for example after renaming the scorer) is not recognised
automatically: load it with ``load_poses(path, source_software="LightningPose")``.
Ensemble Kalman Smoother outputs with extra coords (``x_ens_median``,
``x_posterior_var``, ...) load too; only ``x, y, likelihood`` are kept.

Note for the registry: a DeepLabCut sniffer that accepts every CSV starting with
``scorer,`` would also accept these files; :func:`is_lightning_pose_csv` is the test
to exclude them there.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..poses import from_numpy
from . import register_loader

__all__ = ["is_lightning_pose_csv", "read_lightning_pose_csv", "load_lightning_pose"]

_COORDS = ("x", "y", "likelihood")


def _header(path: Path, n: int = 3) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        rows = []
        for _ in range(n):
            try:
                rows.append(next(reader))
            except StopIteration:
                break
    return rows


def is_lightning_pose_csv(path: str | os.PathLike) -> bool:
    r"""Whether ``path`` looks like a Lightning Pose predictions CSV.

    True for a ``.csv`` with the three DLC-style header rows whose scorer ends in
    ``_tracker`` (and does not start with ``DLC``), or that has a ``set`` column.

    Parameters
    ----------
    path
        File to check (only the first three lines are read).

    Returns
    -------
    bool
        The verdict.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pred.csv"
    >>> _ = p.write_text("scorer,heatmap_tracker,heatmap_tracker,heatmap_tracker\n"
    ...                  "bodyparts,nose,nose,nose\ncoords,x,y,likelihood\n0,1,2,0.9\n")
    >>> is_lightning_pose_csv(p)
    True
    """
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    rows = _header(path)
    if len(rows) < 3 or [r[0] if r else "" for r in rows] != [
        "scorer",
        "bodyparts",
        "coords",
    ]:
        return False
    scorers = {c for c in rows[0][1:] if c and c != "set"}
    coords = {c for c in rows[2][1:] if c}
    if not {"x", "y"} <= coords:
        return False
    has_set = "set" in rows[0][1:]
    lp_scorer = bool(scorers) and all(
        s.endswith("_tracker") and not s.startswith("DLC") for s in scorers
    )
    return lp_scorer or has_set


def read_lightning_pose_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Lightning Pose CSV into a DLC-style DataFrame (``x, y, likelihood`` only).

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        Columns ``(scorer, bodyparts, coords)``; the ``set`` column and extra EKS
        coords are dropped.

    Raises
    ------
    ValueError
        If the header is not ``scorer/bodyparts/coords`` or ``x``/``y`` are missing.
    """
    path = Path(path)
    rows = _header(path)
    names = [r[0] if r else "" for r in rows]
    if names != ["scorer", "bodyparts", "coords"]:
        if len(rows) >= 3 and rows[1][:1] == ["individuals"]:
            raise ValueError(
                f"{path} has an 'individuals' header row: it is a multi-animal "
                "DeepLabCut file, not Lightning Pose (single animal); load it with "
                "source_software='DeepLabCut'"
            )
        raise ValueError(
            f"{path} is not a Lightning Pose CSV: its header rows start with {names}, "
            "expected ['scorer', 'bodyparts', 'coords']"
        )
    df = pd.read_csv(path, header=[0, 1, 2], index_col=0, low_memory=False)
    df.columns = df.columns.set_names(["scorer", "bodyparts", "coords"])
    keep = [c for c in df.columns if c[2] in _COORDS and c[0] != "set"]
    df = df[keep]
    coords = set(df.columns.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise ValueError(f"{path} has no x/y columns (coords found: {sorted(coords)})")
    return df.apply(pd.to_numeric, errors="coerce")


def _sniff(path: Path) -> bool:
    return is_lightning_pose_csv(path)


@register_loader("LightningPose", sniff=_sniff)
def load_lightning_pose(
    path: str | os.PathLike, *, fps: float | None = None
) -> xr.Dataset:
    """Load Lightning Pose predictions as a poses dataset (one individual).

    Parameters
    ----------
    path
        Predictions ``.csv``.
    fps
        Frames per second (the time coordinate is then in seconds).

    Returns
    -------
    xarray.Dataset
        Poses dataset with ``individual = ["individual_0"]``; the likelihood is the
        confidence. Rows indexed by image paths keep them in ``attrs["frames"]``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a Lightning Pose CSV.

    Examples
    --------
    >>> ds = load_lightning_pose("video_preds.csv", fps=30)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No Lightning Pose file at {path}")
    df = read_lightning_pose_csv(path)
    bodyparts = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    scorer = df.columns.get_level_values("scorer")[0]
    n = len(df)
    pos = np.full((n, 2, len(bodyparts), 1), np.nan)
    conf = np.full((n, len(bodyparts), 1), np.nan)
    for j, bp in enumerate(bodyparts):
        pos[:, 0, j, 0] = df[(scorer, bp, "x")].to_numpy(float)
        pos[:, 1, j, 0] = df[(scorer, bp, "y")].to_numpy(float)
        if (scorer, bp, "likelihood") in df.columns:
            conf[:, j, 0] = df[(scorer, bp, "likelihood")].to_numpy(float)
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=bodyparts,
        individual_names=["individual_0"],
        fps=fps,
        source_software="LightningPose",
        source_file=str(path),
    )
    if not pd.api.types.is_integer_dtype(df.index):
        ds.attrs["frames"] = [str(i).replace("\\", "/") for i in df.index]
    return ds
