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

A Lightning Pose **data folder** (``CollectedData.csv``, images in ``labeled-data/``,
often grayscale, videos in ``videos/``, and its ``config.yaml`` if it has one) becomes a
posekit/DeepLabCut project with :func:`import_lightning_pose`.
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
    from .dlc import _frame_from_csv_rows, _read_csv_rows

    # DeepLabCut's reader checks the rest (repeated columns, an x without its y,
    # cells that are not numbers), so `convert` and `import` refuse the same files
    cells = _read_csv_rows(path)
    set_at = [j for j, c in enumerate(cells[0]) if j > 0 and c == "set"]
    set_values = (
        [r[set_at[0]] if set_at[0] < len(r) else "" for r in cells[3:]]
        if set_at
        else None
    )
    cells = [[c for j, c in enumerate(r) if j not in set_at] for r in cells]
    df = _frame_from_csv_rows(path, cells)
    sets = None if set_values is None else pd.Series(set_values, index=df.index)
    out = df[[c for c in df.columns if c[2] in keep]]
    coords = set(out.columns.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise ValueError(f"{path} has no x/y columns (coords found: {sorted(coords)})")
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
            f"{ds.sizes['individual']} individuals ({_names(ds)}): save one with "
            "posekit convert IN OUT --individual NAME (ds.sel(individual=[name]) in "
            "Python)"
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
            f"{ds.sizes['individual']} individuals ({_names(ds)}): save one with "
            "posekit convert IN OUT --individual NAME (ds.sel(individual=[name]) in "
            "Python)"
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
            f"{[f.name for f in found]}; name the labels file with --csv-file "
            "(csv_file= in Python)"
        )
    return found[0]


#: Lightning Pose ``config.yaml`` settings posekit has no counterpart for, and what
#: posekit does instead (one log line each when a config sets them).
_LP_NOT_USED = {
    ("data", "image_orig_dims"): "posekit reads each image's size from the image",
    ("data", "image_resize_dims"): "posekit trains on the images at their own size, "
    "scaled by pose_cfg.yaml's global_scale (as DeepLabCut)",
    ("data", "downsample_factor"): "posekit's heatmaps have the network's stride "
    "(pose_cfg.yaml's stride, as DeepLabCut)",
    ("data", "mirrored_column_matches"): "posekit has no multi-view PCA loss",
    ("data", "columns_for_singleview_pca"): "posekit has no PCA loss",
    ("training", "val_prob"): "posekit has no validation set: the images not "
    "trained on (1 - TrainingFraction) are the test set",
    ("training", "train_frames"): "posekit trains on all the training images",
    ("training", "max_epochs"): "set the training's length with posekit train "
    "--iterations, --epochs or --minutes",
    ("training", "min_epochs"): "set the training's length with posekit train "
    "--iterations, --epochs or --minutes",
    ("training", "imgaug"): "posekit augments as pose_cfg.yaml says (DeepLabCut's "
    "settings)",
    ("model", "backbone"): "choose the network with posekit create-training-dataset "
    "--net-type",
    ("model", "model_type"): "posekit trains a heatmap network with location "
    "refinement, as DeepLabCut",
    ("model", "losses_to_use"): "posekit has no unsupervised losses",
}

#: The settings :func:`import_lightning_pose` reads from a ``config.yaml``.
_LP_USED = {
    ("data", "data_dir"),
    ("data", "csv_file"),
    ("data", "video_dir"),
    ("data", "keypoint_names"),
    ("data", "num_keypoints"),
    ("training", "train_prob"),
    ("eval", "confidence_thresh_for_vid"),
}


def _read_lp_config(folder: Path) -> dict | None:
    """``<folder>/config.yaml`` as Lightning Pose writes it, or None when absent."""
    import yaml

    path = folder / "config.yaml"
    if not path.is_file():
        return None
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not readable YAML ({err}); fix it or move it out of the folder"
        ) from err
    if not isinstance(cfg, dict) or not isinstance(cfg.get("data"), dict):
        raise ValueError(
            f"{path} is not a Lightning Pose config (it has no 'data:' section); "
            "move it out of the folder to import the labels without it"
        )
    return cfg


def _in_folder(value: Any, folder: Path, data_dir: Any) -> Path:
    """Find a config path: relative ones are in ``folder`` (the config's data_dir).

    An absolute path that does not exist but lies in the config's ``data_dir`` (the
    project was made on another machine) is looked for at the same place in
    ``folder``.
    """
    p = Path(str(value)).expanduser()
    if not p.is_absolute():
        return folder / p
    if not p.exists() and data_dir:
        try:
            return folder / p.relative_to(Path(str(data_dir)))
        except ValueError:
            pass
    return p


def _check_keypoints(cfg: dict, bodyparts: list[str], csv_path: Path) -> None:
    """Refuse a CSV whose bodyparts are not the config's keypoint_names."""
    data = cfg["data"]
    names = data.get("keypoint_names")
    if names is not None:
        names = [str(k) for k in names]
        missing = [k for k in names if k not in bodyparts]
        extra = [b for b in bodyparts if b not in names]
        if missing or extra:
            what = []
            if extra:
                what.append(f"the CSV has {extra}, which keypoint_names does not list")
            if missing:
                what.append(f"keypoint_names lists {missing}, which the CSV lacks")
            raise ValueError(
                f"{csv_path} does not match config.yaml's data.keypoint_names: "
                f"{'; '.join(what)}. Make them agree (Lightning Pose refuses this "
                "project too)."
            )
    n = data.get("num_keypoints")
    if n is not None and int(n) != len(bodyparts):
        raise ValueError(
            f"config.yaml's data.num_keypoints is {n} but {csv_path} has "
            f"{len(bodyparts)} bodyparts {bodyparts}; make them agree"
        )


def _config_settings(cfg: dict) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn the config's train_prob and confidence_thresh_for_vid into settings.

    Returns ``({config.yaml key: value}, {key: comment})``; logs one line for each
    setting posekit has no counterpart for.
    """
    settings: dict[str, Any] = {}
    notes: dict[str, str] = {}
    prob = (cfg.get("training") or {}).get("train_prob")
    if prob is not None:
        pct = int(round(100 * float(prob)))  # as DeepLabCut's trainset<pct> names
        if not 0 < pct <= 100:
            raise ValueError(
                f"config.yaml's training.train_prob is {prob}; it must be in (0, 1]"
            )
        settings["TrainingFraction"] = [pct / 100]
        notes["TrainingFraction"] = (
            f"From Lightning Pose's training.train_prob {prob} (rounded to the "
            "percent, as DeepLabCut names training sets)."
        )
    thresh = (cfg.get("eval") or {}).get("confidence_thresh_for_vid")
    if thresh is not None:
        if not 0 <= float(thresh) <= 1:
            raise ValueError(
                "config.yaml's eval.confidence_thresh_for_vid is "
                f"{thresh}; it must be in [0, 1]"
            )
        settings["pcutoff"] = float(thresh)
        notes["pcutoff"] = (
            f"From Lightning Pose's eval.confidence_thresh_for_vid {thresh}."
        )
    for key, value in settings.items():
        logger.info("Lightning Pose config.yaml: %s set to %s", key, value)
    others = []
    for section, values in cfg.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if (section, name) in _LP_USED or value in (None, [], {}):
                continue
            if (section, name) in _LP_NOT_USED:
                logger.warning(
                    "Lightning Pose config.yaml: %s.%s (%s) not used: %s",
                    section,
                    name,
                    value,
                    _LP_NOT_USED[(section, name)],
                )
            else:
                others.append(f"{section}.{name}")
    if others:
        logger.warning(
            "Lightning Pose config.yaml: not read (posekit's own settings are in "
            "config.yaml, pose_cfg.yaml and the train command's options): %s",
            ", ".join(others),
        )
    return settings, notes


def _locate(
    folder: Path, data: dict, csv_file: str | os.PathLike | None
) -> tuple[Path, Path]:
    """Find the labels CSV and the video folder (``csv_file``, the config, defaults)."""
    if csv_file is not None:
        csv_path = Path(csv_file)
    elif data.get("csv_file"):
        csv_path = _in_folder(data["csv_file"], folder, data.get("data_dir"))
        if not csv_path.is_file():
            raise FileNotFoundError(
                f"{folder / 'config.yaml'}: data.csv_file {data['csv_file']!r} is not "
                f"in {folder} ({csv_path}); name the labels file with --csv-file "
                "(csv_file= in Python)"
            )
    else:
        csv_path = _find_labels_csv(folder)
    if not csv_path.is_file():
        raise FileNotFoundError(f"No labels CSV at {csv_path}")
    video_dir = folder / "videos"
    if data.get("video_dir"):
        video_dir = _in_folder(data["video_dir"], folder, data.get("data_dir"))
        if not video_dir.is_dir():
            logger.warning(
                "Lightning Pose config.yaml: data.video_dir %s is not a folder: no "
                "videos linked (add them later with Project.add_videos)",
                video_dir,
            )
    return csv_path, video_dir


def _project_row(row: str, video: str) -> str:
    """Map an LP image path to DeepLabCut's ``labeled-data/<video>/<image>``.

    The image's folder names the video (``sessA/img0.png`` →
    ``labeled-data/sessA/img0.png``); images directly in ``labeled-data/`` (or in no
    folder) go to ``video``.
    """
    row = row.replace("\\", "/")
    if _DLC_ROW.match(row):
        return row
    parts = PurePosixPath(row).parts
    in_folder = len(parts) >= 3 or (len(parts) == 2 and parts[0] != "labeled-data")
    folder = parts[-2] if in_folder else video
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

    The labels CSV is read and every image checked before anything is written; the
    project is built in a temporary folder and moved to ``out`` at the end. Images
    are copied to ``labeled-data/<video>/``: an image's folder names the video
    (``labeled-data/sessA/img0.png`` and ``sessA/img0.png`` both go to
    ``labeled-data/sessA/``), images in no folder or directly in ``labeled-data/``
    go to the folder ``video``. Grayscale images are written with three equal
    channels as PNG, the format DeepLabCut expects; points whose ``visible`` flag is
    not 2 become unlabelled. The videos of the video folder are linked (or copied)
    into the project (``videos/<video>.mp4`` goes with ``labeled-data/<video>/``).

    A Lightning Pose ``config.yaml`` in ``folder`` is read: ``data.csv_file`` and
    ``data.video_dir`` find the files (relative to ``folder``, the config's
    ``data_dir``), ``data.keypoint_names`` and ``data.num_keypoints`` must match the
    CSV's bodyparts, ``training.train_prob`` becomes ``TrainingFraction`` (rounded
    to the percent) and ``eval.confidence_thresh_for_vid`` the ``pcutoff``. The
    settings posekit has no counterpart for (``data.image_resize_dims``,
    ``model.backbone``…) get a warning each, with what posekit does instead; the
    other settings it gives (batch sizes, seeds, …) are named in one warning as not
    read. Only ``<folder>/config.yaml`` is read.

    Parameters
    ----------
    folder
        The Lightning Pose data folder.
    out
        The new project folder (absent or empty).
    csv_file
        The labels CSV, as given (a relative path is relative to the current
        folder, not to ``folder``); default the config's ``data.csv_file``, else
        ``<folder>/CollectedData.csv``, else the folder's one labels CSV.
    task
        Project task; default the folder's name.
    scorer
        Labeller; default the CSV's scorer.
    video
        Video folder for images that have none; default the task.
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
        If the CSV is not Lightning Pose labels (or is malformed: a repeated column,
        an ``x`` without its ``y``, a cell that is not a number), does not match the
        config's keypoints, or two images map to one row.
    FileExistsError
        If ``out`` holds files.
    """
    from ._project_import import build_project
    from .dlc import make_labels_frame

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No Lightning Pose data folder at {folder}")
    cfg = _read_lp_config(folder)
    data = cfg["data"] if cfg else {}
    csv_path, video_dir = _locate(folder, data, csv_file)
    raw = read_lightning_pose_labels(csv_path)
    task = task or _safe_name(folder.resolve().name)
    lp_scorer = str(raw.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(raw.columns.get_level_values("bodyparts")))
    settings: dict[str, Any] = {}
    notes: dict[str, str] = {}
    if cfg:
        _check_keypoints(cfg, bodyparts, csv_path)
        settings, notes = _config_settings(cfg)
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
        notes=notes,
    )
    if settings:
        project.cfg.update(settings)
        project.save()
    videos = sorted(
        v
        for v in (video_dir.glob("*") if video_dir.is_dir() else ())
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


def _names(ds: Any) -> str:
    """Return the individuals of ``ds`` as one string, for a message."""
    return ", ".join(map(str, ds["individual"].values))
