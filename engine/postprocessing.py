"""Files derived from predictions: DeepLabCut's ``…_filtered.h5`` and finding outputs.

:func:`filter_predictions` is posekit's ``deeplabcut.filterpredictions``: it reads a
predictions file, cleans and smooths the trajectories with the one filter
implementation, :func:`posekit.engine.behavior.filters.filter_poses`, and writes
``<predictions stem>_filtered.h5`` beside it in exactly the input's layout (same
scorer, columns, index and likelihoods; only ``x`` and ``y`` change). Tools that read
DLC's filtered files (DLC's own ``create_labeled_video(filtered=True)``, movement,
DLC2Kinematics) read it unchanged.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .multianimal.tracking import TRACK_METHODS

if TYPE_CHECKING:
    from .project import Project

__all__ = [
    "FILTERED_SUFFIX",
    "TRACKS_SUFFIXES",
    "filtered_path",
    "filter_predictions",
    "find_predictions",
    "model_order",
    "network_predictions",
    "network_scorer",
    "prediction_files",
    "prediction_model",
]

logger = logging.getLogger("posekit.postprocessing")

#: Suffix DeepLabCut's ``filterpredictions`` adds to the predictions' stem.
FILTERED_SUFFIX = "_filtered"


def filtered_path(predictions: str | os.PathLike) -> Path:
    """Where :func:`filter_predictions` writes: ``<stem>_filtered.h5`` beside the input.

    Examples
    --------
    >>> filtered_path("/v/m1DLC_resnet50_tOct30shuffle1_500.h5").name
    'm1DLC_resnet50_tOct30shuffle1_500_filtered.h5'
    """
    p = Path(predictions)
    return p.with_name(f"{p.stem}{FILTERED_SUFFIX}.h5")


#: Stem endings of the files beside predictions that are not predictions: the
#: analysis' metadata, DeepLabCut's multi-animal pickles' tables, bone tables.
NOT_PREDICTIONS = ("_meta", "_full", "_assemblies", "_skeleton")


def find_predictions(
    video: str | os.PathLike,
    destfolder: str | os.PathLike | None = None,
    *,
    filtered: bool = False,
) -> list[Path]:
    """Prediction files of ``video``, the newest network's first.

    Looks for ``<video stem>DLC_*.h5`` (and legacy ``DeepCut_*``) beside the video or
    in ``destfolder``; ``_meta`` companions and intermediate files are skipped, and so
    are the predictions of the video's labelled-video outputs
    (``<stem>DLC_…_labeledDLC_….h5``: a labelled video analysed in turn).

    "Newest" is the model's (:func:`model_order`): its iteration, then its
    training iterations; the file time decides only between files of the same
    model (e.g. two shuffles trained as long), then the name. A copy or ``rsync``
    gives every file the same time, which would make the choice arbitrary.

    Parameters
    ----------
    video
        The analysed video.
    destfolder
        Folder the analysis wrote to (default: the video's folder).
    filtered
        Return the ``…_filtered.h5`` files instead of the unfiltered ones.

    Returns
    -------
    list of Path
        Possibly empty.

    Examples
    --------
    >>> find_predictions("/nonexistent/session1.mp4")
    []
    """
    video = Path(video)
    folder = Path(destfolder) if destfolder else video.parent
    if not folder.is_dir():
        return []
    found = []
    stem = glob.escape(video.stem)  # a name like m[1].mp4 is not a pattern
    for pattern in (f"{stem}DLC_*.h5", f"{stem}DeepCut_*.h5"):
        for p in folder.glob(pattern):
            if p.stem.endswith(NOT_PREDICTIONS):
                continue
            if "_labeled" in p.stem[len(video.stem) :]:  # a labelled video's own
                continue
            if p.stem.endswith(FILTERED_SUFFIX) != filtered:
                continue
            found.append(p)
    return sorted(set(found), key=_newest_model_last, reverse=True)


def _newest_model_last(path: Path) -> tuple[int, int, float, str]:
    """Sort key: :func:`model_order`, the file time only between files of one model."""
    iteration, iters, name = model_order(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:  # gone meanwhile: last among its model's
        mtime = float("-inf")
    return iteration, iters, mtime, name


#: DeepLabCut's multi-animal tracks files: ``<video><scorer>_<suffix>.h5`` for each
#: ``track_method`` (``_el``, ``_bx``, ``_sk``).
TRACKS_SUFFIXES = {method: f"_{sfx}" for method, sfx in TRACK_METHODS.items()}


def _track_suffixes(project: Project, track_method: str | None) -> list[str]:
    """Suffixes of a network's files, most wanted first (``""``: one animal's file).

    ``track_method`` given: only its tracks file. Otherwise a multi-animal project
    takes its ``default_track_method``'s first, then the others; a single-animal
    project its ``<video><scorer>.h5``.

    Raises
    ------
    ValueError
        If ``track_method`` is not one of DeepLabCut's.
    """
    if track_method is not None:
        if track_method not in TRACKS_SUFFIXES:
            raise ValueError(
                f"track_method={track_method!r}: use one of "
                f"{sorted(TRACKS_SUFFIXES)} (the tracks file …_el.h5, …_bx.h5, "
                "…_sk.h5), or leave it out to take the file the analysis wrote."
            )
        return [TRACKS_SUFFIXES[track_method]]
    if not project.multianimal:
        return ["", *TRACKS_SUFFIXES.values()]
    preferred = TRACKS_SUFFIXES.get(
        str(project.get("default_track_method") or "ellipse"), "_el"
    )
    return list(dict.fromkeys([preferred, *TRACKS_SUFFIXES.values(), ""]))


def network_predictions(
    project: Project,
    video: str | os.PathLike,
    shuffle: int = 1,
    *,
    snapshot: int = -1,
    destfolder: str | os.PathLike | None = None,
    filtered: bool = False,
    track_method: str | None = None,
    warn: bool = True,
) -> list[Path]:
    """:func:`find_predictions`, the file of one network first (DeepLabCut's choice).

    The network is a shuffle's snapshot (``snapshot`` indexes its snapshots, -1 the
    newest); its file is ``<video stem><scorer>.h5``, or for several animals the
    tracks ``<video stem><scorer>_el.h5`` (``_bx``, ``_sk``: the other
    ``track_method`` s; the config's ``default_track_method`` first). When that file
    is missing, the file of the newest other network comes first and a warning names
    it (``warn=False``: silently). A shuffle without a snapshot here (predictions
    made elsewhere) leaves them in the same order, silently. "Newest" is the model's:
    :func:`model_order` (its iteration, then its training iterations), as
    :func:`find_predictions` orders them; the file time, which a copy or ``rsync``
    changes, decides only between files of one model.

    Parameters
    ----------
    project
        The project.
    video
        The analysed video.
    shuffle, snapshot
        The network.
    destfolder, filtered
        As for :func:`find_predictions`.
    track_method
        DeepLabCut's ``track_method`` (``"ellipse"``, ``"box"``, ``"keypoints"``):
        only the tracks file of that method (``_el``, ``_bx``, ``_sk``).
    warn
        Log the warning when another network's file comes first.

    Returns
    -------
    list of Path
        Possibly empty.

    Raises
    ------
    ValueError
        If ``track_method`` is not one of DeepLabCut's.
    """
    video = Path(video)
    suffixes = _track_suffixes(project, track_method)
    files = find_predictions(video, destfolder, filtered=filtered)  # newest model first
    if track_method is not None:
        end = suffixes[0] + (FILTERED_SUFFIX if filtered else "")
        files = [f for f in files if f.stem.endswith(end)]
    scorer = network_scorer(project, shuffle, snapshot)
    if scorer is None:
        return files  # no snapshot here
    filt = FILTERED_SUFFIX if filtered else ""
    base = Path(destfolder or video.parent)
    candidates = [base / f"{video.stem}{scorer}{sfx}{filt}.h5" for sfx in suffixes]
    for exact in candidates:
        if exact in files:
            return [exact, *(f for f in files if f != exact)]
    if files and warn:
        which = "the newest snapshot" if snapshot == -1 else f"snapshot {snapshot}"
        logger.warning(
            "%s: no predictions of %s of shuffle %d (%s); using %s, made by another "
            "network. Analyse the video again for that one.",
            video.name,
            which,
            shuffle,
            candidates[0].name,
            files[0].name,
        )
    return files


_TRAINING_ITERATIONS = re.compile(r"shuffle\d+_(\d+)$")


def prediction_model(path: str | os.PathLike) -> tuple[int | None, int | None]:
    """Return the network that made a predictions file: its iteration and training.

    ``(iteration, training iterations)``.

    The iteration is the ``iteration (active-learning)`` of the analysis'
    ``_meta.pickle`` (or the ``iteration-<N>`` of its model's folder; ``None``
    without one); the training iterations end the
    scorer in the file name (``…shuffle1_905.h5``: 905; ``None`` if it does not).

    Examples
    --------
    >>> prediction_model("/nonexistent/m1DLC_resnet50_tOct30shuffle1_500_filtered.h5")
    (None, 500)
    """
    from .io.dlc import analysis_metadata

    path = Path(path)
    stem = path.stem.removesuffix(FILTERED_SUFFIX)
    for sfx in TRACKS_SUFFIXES.values():
        stem = stem.removesuffix(sfx)
    m = _TRAINING_ITERATIONS.search(stem)
    iters = int(m.group(1)) if m else None
    meta = analysis_metadata(path) if path.is_file() else None
    iteration = None
    if meta is not None:
        try:
            iteration = int(meta.get("iteration (active-learning)"))
        except (TypeError, ValueError):  # else the model's folder, iteration-<N>
            m = re.search(r"iteration-(\d+)", str(meta.get("DLC-model-config file")))
            iteration = int(m.group(1)) if m else None
    return iteration, iters


def model_order(path: str | os.PathLike) -> tuple[int, int, str]:
    """Sort key of predictions files by the network that made them, oldest first.

    The model's iteration (unknown: first), then its training iterations
    (:func:`prediction_model`), then the name, so that the order does not depend
    on file times.
    """
    iteration, iters = prediction_model(path)
    return (
        -1 if iteration is None else iteration,
        -1 if iters is None else iters,
        Path(path).name,
    )


def network_scorer(
    project: Project, shuffle: int = 1, snapshot: int = -1
) -> str | None:
    """DeepLabCut's scorer of a shuffle's snapshot in the current iteration.

    ``None`` when the shuffle has no snapshot in this iteration.
    """
    from .model_folder import ModelFolder

    folder = ModelFolder.of(project, shuffle)
    try:
        _, snap = folder.snapshot(snapshot)
        return folder.scorer(snap)
    except (FileNotFoundError, IndexError, OSError, ValueError):
        return None


def prediction_files(project: Project) -> list[Path]:
    """List the prediction files of a project.

    These are each source video's predictions (newest first, then the ``_filtered``
    ones) and the demo's ground truth (``ground-truth/*_keypoints.h5``).

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    list of Path
        Without duplicates, possibly empty.
    """
    files: list[Path] = []
    for video in project.source_videos():
        files += find_predictions(video)
        files += find_predictions(video, filtered=True)
    truth = project.path / "ground-truth"
    if truth.is_dir():
        files += sorted(truth.glob("*_keypoints.h5"))
    return list(dict.fromkeys(files))


def _write_back(df: pd.DataFrame, filtered: xr.Dataset) -> pd.DataFrame:
    """Copy of ``df`` with its ``x``/``y`` columns replaced by ``filtered``'s positions."""
    out = df.copy()
    scorer = df.columns.get_level_values("scorer")[0]
    multi = "individuals" in df.columns.names
    position = filtered["position"].transpose("time", "space", "keypoint", "individual")
    values = position.values
    keypoints = [str(k) for k in filtered["keypoint"].values]
    individuals = [str(i) for i in filtered["individual"].values]
    for i, ind in enumerate(individuals):
        for k, bp in enumerate(keypoints):
            base = (scorer, ind, bp) if multi else (scorer, bp)
            for s, coord in enumerate(("x", "y")):
                col = (*base, coord)
                if col in out.columns:
                    out[col] = values[:, s, k, i]
    return out


def filter_predictions(
    predictions: str | os.PathLike,
    *,
    method: str = "median",
    window: int = 5,
    polyorder: int = 2,
    pcutoff: float | None = None,
    max_gap: int | None = None,
    out: str | os.PathLike | None = None,
    save_csv: bool = False,
    **params: Any,
) -> Path:
    """Filter a predictions file as DeepLabCut's ``filterpredictions`` does.

    Parameters
    ----------
    predictions
        DLC predictions ``.h5`` (single- or multi-animal, any key) or ``.csv``.
    method
        Smoother of :func:`~posekit.engine.behavior.filters.filter_poses`:
        ``"median"`` (DLC's default), ``"savgol"``, ``"butterworth"``, ``"kalman"``
        or ``"none"``.
    window
        Window in frames (odd) of the median and Savitzky–Golay filters (DLC's
        ``windowlength``).
    polyorder
        Savitzky–Golay polynomial order.
    pcutoff
        Points whose likelihood is below this become NaN before smoothing
        (``None``: keep every point, as DLC's median filter does).
    max_gap
        Interpolate gaps of at most this many frames before smoothing.
    out
        Output path (default :func:`filtered_path`: ``<stem>_filtered.h5`` beside the
        input).
    save_csv
        Also write the ``.csv`` twin.
    **params
        Other :class:`~posekit.engine.behavior.filters.FilterConfig` fields. The
        median's ``min_periods`` is half its window plus one here, so that the
        first and last frames of the recording keep a position (the behaviour
        pipeline's median leaves them NaN, as movement's does).

    Returns
    -------
    Path
        The filtered ``.h5`` (key ``df_with_missing``, table format, the input's
        columns and index; likelihoods unchanged), written atomically.

    Raises
    ------
    FileNotFoundError
        If ``predictions`` does not exist.
    ValueError
        If the file holds labels rather than predictions, or a filter parameter is
        invalid.

    Examples
    --------
    >>> filter_predictions("m1DLC_resnet50_tOct30shuffle1_500.h5", window=7)  # doctest: +SKIP
    PosixPath('m1DLC_resnet50_tOct30shuffle1_500_filtered.h5')
    """
    from .behavior.filters import filter_poses
    from .io.dlc import load_dlc, read_predictions, write_predictions

    path = Path(predictions)
    if not path.is_file():
        raise FileNotFoundError(f"No predictions file at {path}")
    if pcutoff is not None and not 0 <= pcutoff <= 1:
        raise ValueError(
            f"pcutoff is a likelihood, between 0 and 1; received {pcutoff!r} "
            "(it would remove every point)"
        )
    df = read_predictions(path)
    if not pd.api.types.is_integer_dtype(df.index):
        raise ValueError(
            f"{path} holds labels (rows are image paths), not video predictions; "
            "filter the output of `posekit analyze` instead"
        )
    ds = load_dlc(path)
    if method == "median":
        # a predictions file keeps its first and last frames (DeepLabCut's median
        # keeps them too, zero-padded): a window of at least half its length there
        params.setdefault("min_periods", int(window) // 2 + 1)
    filtered = filter_poses(
        ds,
        method,  # type: ignore[arg-type]
        confidence_threshold=pcutoff,
        max_gap=max_gap,
        window=window,
        polyorder=polyorder,
        **params,
    )
    target = Path(out) if out is not None else filtered_path(path)
    result = write_predictions(_write_back(df, filtered), target, save_csv=save_csv)
    n_nan = int(np.isnan(filtered["position"].values).sum())
    logger.info("%s: %s filter → %s (%d NaN values)", path.name, method, target, n_nan)
    return result
