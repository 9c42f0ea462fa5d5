"""Lightning Pose CSV files (labels and predictions, single animal) and data folders.

Lightning Pose writes DeepLabCut-style CSVs: three header rows ``scorer``,
``bodyparts``, ``coords``, then one row per frame (index: frame number for videos,
image path for labelled frames).

- **Labels** (``CollectedData.csv``, any name): coords ``x, y``, or ``x, y, visible``
  with COCO's flags (0 unlabelled, 1 occluded: LP ignores the coordinates and trains
  towards a uniform heatmap, 2 labelled); rows are image paths relative to the data
  folder, often ``labeled-data/<image>`` without a video folder.
- **Predictions**: coords ``x, y, likelihood``; the scorer is ``<model_type>_tracker``
  (``heatmap_tracker``, ``heatmap_mhcrnn_tracker``, ``regression_tracker``; the
  Ensemble Kalman Smoother writes ``ensemble-kalman_tracker`` and extra coords such as
  ``x_ens_median``); predictions on labelled frames add a ``set`` column
  (``train/validation/test/unused``), whose other header cells are empty.

:func:`is_lightning_pose_csv` tells these files apart from DeepLabCut's (the DeepLabCut
sniffer asks it): a ``*_tracker`` scorer, a ``set`` column, a ``visible`` coord, or
label rows that are not DeepLabCut's ``labeled-data/<video>/<image>``. A Lightning Pose
labels file with DeepLabCut's row paths is a DeepLabCut file too (DeepLabCut's loader
reads it the same way), and a renamed scorer is not recognised automatically: load it
with ``load_poses(path, source_software="LightningPose")``.

A Lightning Pose **data folder** (no ``config.yaml``, ``CollectedData.csv``, images in
``labeled-data/``, often grayscale, videos in ``videos/``) becomes a posekit/DeepLabCut
project with :func:`import_lightning_pose`.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._fileio import atomic_path
from ..poses import from_numpy, mark_time_unit
from . import register_loader, register_saver

__all__ = [
    "is_lightning_pose_csv",
    "read_lightning_pose_csv",
    "load_lightning_pose",
    "read_lightning_pose_labels",
    "write_lightning_pose_labels",
    "predictions_to_lightning_pose",
    "save_lightning_pose",
    "import_lightning_pose",
]

logger = logging.getLogger("posekit.io.lightning_pose")

_COORDS = ("x", "y", "likelihood")
_LABEL_COORDS = ("x", "y", "visible")
_IMAGE = re.compile(r"\.(png|jpe?g|bmp|tiff?)$", re.IGNORECASE)
_DLC_ROW = re.compile(r"^labeled-data/[^/]+/[^/]+$")
_NAMES = ["scorer", "bodyparts", "coords"]


def _header(path: Path, n: int = 4) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        rows = []
        for _ in range(n):
            try:
                rows.append(next(reader))
            except StopIteration:
                break
    return rows


def is_lightning_pose_csv(path: str | os.PathLike) -> bool:
    r"""Whether ``path`` is a Lightning Pose CSV and not a DeepLabCut one.

    True for a ``.csv`` with the three DLC-style header rows (``x`` and ``y`` among
    the coords, one index column) and one of: a scorer ending in ``_tracker`` (not
    starting with ``DLC``), a ``set`` column, a ``visible`` coord, or a first row
    that is an image path other than DeepLabCut's ``labeled-data/<video>/<image>``.

    Parameters
    ----------
    path
        File to check (only the first four lines are read).

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
    if len(rows) < 3 or [r[0] if r else "" for r in rows[:3]] != _NAMES:
        return False
    coords_row = rows[2]
    if len(coords_row) < 2 or coords_row[1] == "":
        return False  # DLC >= 2.2 labels: 3 index columns, empty header cells
    scorers = {c for c in rows[0][1:] if c and c != "set"}
    coords = {c for c in coords_row[1:] if c}
    if not {"x", "y"} <= coords:
        return False
    if "set" in rows[0][1:] or "visible" in coords:
        return True
    if scorers and all(
        s.endswith("_tracker") and not s.startswith("DLC") for s in scorers
    ):
        return True
    first = rows[3][0].replace("\\", "/") if len(rows) > 3 and rows[3] else ""
    return bool(_IMAGE.search(first)) and not _DLC_ROW.match(first)


def _read_frame(
    path: Path, keep: Sequence[str]
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Read the CSV's ``keep`` coords as floats, and its ``set`` column (if any)."""
    rows = _header(path)
    names = [r[0] if r else "" for r in rows[:3]]
    if names != _NAMES:
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
    df.columns = df.columns.set_names(_NAMES)
    sets = None
    set_cols = [c for c in df.columns if c[0] == "set"]
    if set_cols:
        sets = df[set_cols[0]].astype(str)
    cols = [c for c in df.columns if c[2] in keep and c[0] != "set"]
    out = df[cols].apply(pd.to_numeric, errors="coerce")
    coords = set(out.columns.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise ValueError(f"{path} has no x/y columns (coords found: {sorted(coords)})")
    dup = out.columns[out.columns.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{path} repeats the columns {dup[:3]}; remove the copies")
    if not pd.api.types.is_integer_dtype(out.index):
        out.index = pd.Index([str(i).replace("\\", "/") for i in out.index])
    return out, sets


def read_lightning_pose_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Lightning Pose CSV into a DLC-style DataFrame (``x, y, likelihood`` only).

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        Columns ``(scorer, bodyparts, coords)``; the ``set`` column, ``visible``
        flags and extra EKS coords are dropped.

    Raises
    ------
    ValueError
        If the header is not ``scorer/bodyparts/coords`` or ``x``/``y`` are missing.
    """
    return _read_frame(Path(path), _COORDS)[0]


def read_lightning_pose_labels(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Lightning Pose labels CSV as it is (``x, y`` and ``visible`` if present).

    Parameters
    ----------
    path
        ``CollectedData.csv`` (or any labels file).

    Returns
    -------
    pandas.DataFrame
        Columns ``(scorer, bodyparts, coords)``; rows the image paths (with ``/``).

    Raises
    ------
    ValueError
        If the file is not a Lightning Pose CSV.
    """
    return _read_frame(Path(path), _LABEL_COORDS)[0]


def write_lightning_pose_labels(
    labels: pd.DataFrame,
    path: str | os.PathLike,
    *,
    visible: bool | None = None,
) -> Path:
    """Write single-animal labels as a Lightning Pose labels CSV (atomically).

    Parameters
    ----------
    labels
        DLC labels (3-level or string rows) or :func:`read_lightning_pose_labels`
        output; a ``visible`` coord present in ``labels`` is written as it is.
    path
        Target ``.csv``.
    visible
        Add a ``visible`` coord (2 labelled, 0 unlabelled) when ``labels`` has none;
        default: only if ``labels`` has one.

    Returns
    -------
    Path
        The file; rows are ``labeled-data/<video>/<image>`` strings.

    Raises
    ------
    ValueError
        If the labels are multi-animal (Lightning Pose is single-animal).
    """
    from .dlc import index_to_paths

    if "individuals" in labels.columns.names:
        raise ValueError(
            "Lightning Pose labels are single-animal; these labels have an "
            "'individuals' level (write one individual with .xs(name, level=...))"
        )
    scorer = str(labels.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    has_visible = "visible" in set(labels.columns.get_level_values("coords"))
    coords = ["x", "y"] + (["visible"] if has_visible or visible else [])
    data = {}
    for bp in bodyparts:
        x = labels[(scorer, bp, "x")].to_numpy(float)
        y = labels[(scorer, bp, "y")].to_numpy(float)
        data[(scorer, bp, "x")], data[(scorer, bp, "y")] = x, y
        if has_visible:
            data[(scorer, bp, "visible")] = labels[(scorer, bp, "visible")].to_numpy()
        elif visible:
            seen = np.isfinite(x) & np.isfinite(y)
            data[(scorer, bp, "visible")] = np.where(seen, 2, 0)
    columns = pd.MultiIndex.from_product([[scorer], bodyparts, coords], names=_NAMES)
    out = pd.DataFrame(
        {c: data[c] for c in columns}, index=index_to_paths(labels.index)
    )
    out.columns = columns
    path = Path(path)
    with atomic_path(path) as tmp:
        out.to_csv(tmp)
    return path


def _sniff(path: Path) -> bool:
    return is_lightning_pose_csv(path)


@register_loader("LightningPose", sniff=_sniff, suffixes=(".csv",))
def load_lightning_pose(
    path: str | os.PathLike, *, fps: float | None = None
) -> xr.Dataset:
    """Load Lightning Pose predictions or labels as a poses dataset (one individual).

    Parameters
    ----------
    path
        Predictions or labels ``.csv``.
    fps
        Frames per second (the time coordinate is then in seconds).

    Returns
    -------
    xarray.Dataset
        Poses dataset with ``individual = ["individual_0"]``; the likelihood is the
        confidence (NaN for labels). Rows indexed by frame numbers give ``time``
        (their numbers, in seconds with ``fps``); rows indexed by image paths keep
        them in ``attrs["frames"]``; a ``set`` column is kept in ``attrs["set"]``, the
        scorer in ``attrs["scorer"]``. Label points whose ``visible`` flag is not 2
        are NaN (Lightning Pose does not train on their coordinates).

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
    df, sets = _read_frame(path, _COORDS + ("visible",))
    bodyparts = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    scorer = str(df.columns.get_level_values("scorer")[0])
    n = len(df)
    pos = np.full((n, 2, len(bodyparts), 1), np.nan)
    conf = np.full((n, len(bodyparts), 1), np.nan)
    for j, bp in enumerate(bodyparts):
        x = df[(scorer, bp, "x")].to_numpy(float)
        y = df[(scorer, bp, "y")].to_numpy(float)
        if (scorer, bp, "visible") in df.columns:
            labelled = df[(scorer, bp, "visible")].to_numpy(float) == 2
            x, y = np.where(labelled, x, np.nan), np.where(labelled, y, np.nan)
        pos[:, 0, j, 0], pos[:, 1, j, 0] = x, y
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
    ds.attrs["scorer"] = scorer
    if not pd.api.types.is_integer_dtype(df.index):
        ds.attrs["frames"] = [str(i) for i in df.index]
    else:  # rows are frame numbers (a trimmed clip, dropped frames): keep them
        frames = df.index.to_numpy(np.float64)
        ds = ds.assign_coords(time=frames / fps if fps else frames)
    if sets is not None:
        ds.attrs["set"] = sets.tolist()
    return mark_time_unit(ds)


# ---------------------------------------------------------------- writing predictions


def _frame_numbers(ds: xr.Dataset) -> np.ndarray:
    t = np.asarray(ds["time"].values, np.float64)
    if ds.attrs.get("time_unit") == "seconds":
        t = t * float(ds.attrs.get("fps") or 1.0)
    frames = np.round(t).astype(np.int64)
    if not np.allclose(frames, t, atol=1e-6):
        raise ValueError(
            "Lightning Pose numbers video frames: these poses' times are not frame "
            f"numbers (first: {t[:3].tolist()}); give them an fps"
        )
    return frames


def predictions_to_lightning_pose(
    ds: xr.Dataset, *, scorer: str | None = None
) -> pd.DataFrame:
    """Poses → the DataFrame Lightning Pose writes for predictions.

    Parameters
    ----------
    ds
        Single-individual poses dataset (2-D).
    scorer
        ``<model_type>_tracker``; default ``attrs["scorer"]`` when it ends in
        ``_tracker``, else ``heatmap_tracker``.

    Returns
    -------
    pandas.DataFrame
        Columns ``(scorer, bodyparts, coords)`` with ``x, y, likelihood``; rows the
        frame numbers, or the image paths of ``attrs["frames"]``; a ``set`` column
        from ``attrs["set"]``.

    Raises
    ------
    ValueError
        If the poses have several individuals or 3-D positions.
    """
    if ds.sizes["individual"] != 1:
        raise ValueError(
            "Lightning Pose files hold one animal; these poses have "
            f"{ds.sizes['individual']} individuals: save one with "
            "ds.sel(individual=[name])"
        )
    if ds.sizes["space"] != 2:
        raise ValueError("Lightning Pose files hold 2-D poses; these are 3-D")
    if scorer is None:
        attr = str(ds.attrs.get("scorer") or "")
        scorer = attr if attr.endswith("_tracker") else "heatmap_tracker"
    bodyparts = [str(k) for k in ds["keypoint"].values]
    pos = ds["position"].isel(individual=0).transpose("time", "keypoint", "space")
    conf = ds["confidence"].isel(individual=0).transpose("time", "keypoint").values
    data = np.stack([pos.values[..., 0], pos.values[..., 1], conf], axis=-1)
    columns = pd.MultiIndex.from_product(
        [[scorer], bodyparts, list(_COORDS)], names=_NAMES
    )
    frames = ds.attrs.get("frames")
    index = list(frames) if frames else _frame_numbers(ds)
    df = pd.DataFrame(data.reshape(len(data), -1), index=index, columns=columns)
    sets = ds.attrs.get("set")
    if sets is not None:
        if len(sets) != len(df):
            raise ValueError(f"attrs['set'] has {len(sets)} entries for {len(df)} rows")
        df[("set", "", "")] = list(sets)
    return df


@register_saver("LightningPose", suffixes=(".csv",))
def save_lightning_pose(
    ds: xr.Dataset, path: str | os.PathLike, *, scorer: str | None = None
) -> Path:
    """Write poses as a Lightning Pose predictions or labels CSV (atomically).

    Labelled images (``attrs["frames"]`` and no confidence, as a label file loads)
    are written as Lightning Pose labels (:func:`write_lightning_pose_labels`):
    coords ``x, y``, rows the image paths, the labeller as the scorer. Anything else
    is written as predictions (``x, y, likelihood``, rows the frame numbers).

    Parameters
    ----------
    ds
        Single-individual poses dataset.
    path
        Target ``.csv``.
    scorer
        See :func:`predictions_to_lightning_pose`; for labels, the labeller
        (default ``attrs["scorer"]``, the ``<scorer>`` of a ``CollectedData_<scorer>``
        source file, else ``posekit``).

    Returns
    -------
    Path
        The file.

    Raises
    ------
    ValueError
        See :func:`predictions_to_lightning_pose`.
    """
    from .dlc import are_labels

    if are_labels(ds):
        return write_lightning_pose_labels(_labels_of(ds, scorer), path)
    df = predictions_to_lightning_pose(ds, scorer=scorer)
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp)
    return path


def _labels_of(ds: xr.Dataset, scorer: str | None) -> pd.DataFrame:
    """Single-animal labelled images as a DLC-style labels frame (x, y)."""
    from .dlc import labeller_of, make_labels_frame

    if ds.sizes["individual"] != 1:
        raise ValueError(
            "Lightning Pose labels are single-animal; these labels have "
            f"{ds.sizes['individual']} individuals: save one with "
            "ds.sel(individual=[name])"
        )
    xy = ds["position"].isel(individual=0).transpose("time", "keypoint", "space")
    return make_labels_frame(
        scorer or labeller_of(ds),
        [str(k) for k in ds["keypoint"].values],
        [str(f) for f in ds.attrs["frames"]],
        xy.values[..., :2],
        multiindex_rows=False,
    )


# ---------------------------------------------------------------- data folder → project


def _find_labels_csv(folder: Path) -> Path:
    if (folder / "CollectedData.csv").is_file():
        return folder / "CollectedData.csv"
    found = []
    for f in sorted(folder.glob("*.csv")):
        rows = _header(f, 3)
        if [r[0] if r else "" for r in rows] == _NAMES:
            found.append(f)
    if len(found) != 1:
        raise ValueError(
            f"{folder}: expected one labels CSV (CollectedData.csv), found "
            f"{[f.name for f in found]}; pass csv_file="
        )
    return found[0]


def _project_row(row: str, video: str) -> str:
    """Map an LP image path to DeepLabCut's ``labeled-data/<video>/<image>``."""
    row = row.replace("\\", "/")
    if _DLC_ROW.match(row):
        return row
    parts = PurePosixPath(row).parts
    folder = parts[-2] if len(parts) >= 3 else video
    return f"labeled-data/{folder}/{parts[-1]}"


def _copy_as_color(src: Path, dst: Path) -> None:
    """Copy an image; a grayscale one becomes 3 equal channels (DLC expects colour)."""
    import shutil

    import cv2

    img = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{src} is not an image OpenCV can read")
    if img.ndim == 3 and img.shape[2] in (3, 4):
        shutil.copy2(src, dst)
        return
    color = cv2.cvtColor(img if img.ndim == 2 else img[..., 0], cv2.COLOR_GRAY2BGR)
    if not cv2.imwrite(str(dst), color):
        raise OSError(f"could not write {dst}")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "lightning_pose"


def import_lightning_pose(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    csv_file: str | os.PathLike | None = None,
    task: str | None = None,
    scorer: str | None = None,
    video: str | None = None,
    copy_videos: bool = False,
) -> Any:
    """Turn a Lightning Pose data folder into a posekit/DeepLabCut project.

    The labels CSV (``CollectedData.csv`` unless ``csv_file``) is read and every
    image checked before anything is written; the project is built in a temporary
    folder and moved to ``out`` at the end. Images are copied to
    ``labeled-data/<video>/`` (images directly in ``labeled-data/`` go to the folder
    ``video``); grayscale images are written with three equal channels as PNG, the
    format DeepLabCut expects; points whose ``visible`` flag is not 2 become
    unlabelled. Videos in ``<folder>/videos`` are linked (or copied) into the
    project.

    Parameters
    ----------
    folder
        The Lightning Pose data folder.
    out
        The new project folder (absent or empty).
    csv_file
        The labels CSV, if not ``<folder>/CollectedData.csv``.
    task
        Project task; default the folder's name.
    scorer
        Labeller; default the CSV's scorer.
    video
        Video folder for images that sit directly in ``labeled-data/``; default the
        task.
    copy_videos
        Copy the videos instead of linking them.

    Returns
    -------
    posekit.engine.project.Project
        The new project.

    Raises
    ------
    FileNotFoundError
        If the folder, the CSV or an image is missing.
    ValueError
        If the CSV is not Lightning Pose labels or two images map to one row.
    FileExistsError
        If ``out`` holds files.
    """
    from ._project_import import build_project
    from .dlc import make_labels_frame

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No Lightning Pose data folder at {folder}")
    csv_path = Path(csv_file) if csv_file is not None else _find_labels_csv(folder)
    raw = read_lightning_pose_labels(csv_path)
    task = task or _safe_name(folder.resolve().name)
    lp_scorer = str(raw.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(raw.columns.get_level_values("bodyparts")))
    xy = np.full((len(raw), len(bodyparts), 2), np.nan)
    occluded = 0
    for j, bp in enumerate(bodyparts):
        x = raw[(lp_scorer, bp, "x")].to_numpy(float)
        y = raw[(lp_scorer, bp, "y")].to_numpy(float)
        if (lp_scorer, bp, "visible") in raw.columns:
            flag = raw[(lp_scorer, bp, "visible")].to_numpy(float)
            occluded += int(np.sum(flag == 1))
            x, y = np.where(flag == 2, x, np.nan), np.where(flag == 2, y, np.nan)
        xy[:, j, 0], xy[:, j, 1] = x, y
    sources = [folder / str(r) for r in raw.index]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{csv_path}: {len(missing)} labelled image(s) not found in {folder}, "
            f"e.g. {missing[:3]}"
        )
    rows = []
    for r, src in zip(raw.index, sources, strict=True):
        row = _project_row(str(r), video or task)
        if not row.lower().endswith(".png") and _is_gray(src):
            row = str(PurePosixPath(row).with_suffix(".png"))
        rows.append(row)
    dup = sorted({r for r in rows if rows.count(r) > 1})
    if dup:
        raise ValueError(f"{csv_path}: several images map to the rows {dup[:3]}")
    labels = make_labels_frame(scorer or lp_scorer, bodyparts, rows, xy)
    if occluded:
        logger.info(
            "%d occluded point(s) (visible = 1) imported as unlabelled", occluded
        )
    project = build_project(
        out,
        task=task,
        labels=labels,
        sources=sources,
        bodyparts=bodyparts,
        copy_image=_copy_as_color,
    )
    videos = sorted(
        v
        for v in (folder / "videos").glob("*")
        if v.suffix.lower() in (".mp4", ".avi", ".mov")
    )
    if videos:
        project.add_videos(videos, copy=copy_videos)
        project.save()
    return project


def _is_gray(path: Path) -> bool:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return img is not None and (img.ndim == 2 or img.shape[2] == 1)
