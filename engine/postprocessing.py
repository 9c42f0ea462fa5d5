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
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from .multianimal.tracking import TRACK_METHODS

if TYPE_CHECKING:
    from .project import Project

__all__ = [
    "FILTERED_SUFFIX",
    "TRACKS_SUFFIXES",
    "file_track_method",
    "filtered_path",
    "filter_predictions",
    "find_predictions",
    "model_order",
    "network_predictions",
    "network_scorer",
    "prediction_files",
    "prediction_folders",
    "prediction_model",
    "smooth_predictions",
    "track_method_of",
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
    project: Project | None = None,
) -> list[Path]:
    """Prediction files of ``video``, the newest network's first.

    Looks for ``<video stem>DLC_*.h5`` (and legacy ``DeepCut_*``) beside the video or
    in ``destfolder``; ``_meta`` companions and intermediate files are skipped, and so
    are the predictions of the video's labelled-video outputs
    (``<stem>DLC_…_labeledDLC_….h5``: a labelled video analysed in turn).

    With ``project`` and no ``destfolder``, a video outside the project is looked
    up where ``posekit analyze PROJECT`` writes its predictions, the project's
    ``videos/`` (:func:`prediction_folders`); only when that folder has none are
    the files beside the video taken, with a warning that they lie outside the
    project (a copy of a project whose ``video_sets`` still name the original's
    videos would otherwise read, and write beside, the original's analysis).

    "Newest" is the model's (:func:`model_order`): its iteration, then its
    training iterations; the file time decides only between files of the same
    model (e.g. two shuffles trained as long), then the name. A copy or ``rsync``
    gives every file the same time, which would make the choice arbitrary.

    Parameters
    ----------
    video
        The analysed video.
    destfolder
        Folder the analysis wrote to (default: the video's folder, or for a video
        outside ``project`` the project's ``videos/`` first).
    filtered
        Return the ``…_filtered.h5`` files instead of the unfiltered ones.
    project
        The project whose analysis is wanted (default: none, beside the video).

    Returns
    -------
    list of Path
        Possibly empty; all from one folder.

    Examples
    --------
    >>> find_predictions("/nonexistent/session1.mp4")
    []
    """
    video = Path(video)
    folders = (
        [Path(destfolder)]
        if destfolder
        else prediction_folders(project, video)
        if project is not None
        else [video.parent]
    )
    for i, folder in enumerate(folders):
        found = _predictions_in(folder, video, filtered)
        if found:
            if i and project is not None:
                _warn_outside(project, video, found[0])
            return found
    return []


def prediction_folders(project: Project, video: str | os.PathLike) -> list[Path]:
    """Where a project's analysis of ``video`` lies, in the order looked at.

    ``posekit analyze PROJECT`` (no video list) writes the predictions of a video
    outside the project into the project's ``videos/``
    (:func:`posekit.engine.api.analyze_videos`), so that folder comes first for such
    a video, then the video's own folder (an analysis made there, as DeepLabCut
    makes it). A video inside the project: its folder only.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(path=Path("/lab/B"))
    >>> [str(f) for f in prediction_folders(p, "/lab/A/videos/m1.mp4")]
    ['/lab/B/videos', '/lab/A/videos']
    >>> [str(f) for f in prediction_folders(p, "/lab/B/videos/m1.mp4")]
    ['/lab/B/videos']
    """
    video = Path(video)
    inside = Path(os.path.abspath(video)).is_relative_to(os.path.abspath(project.path))
    own = Path(project.path) / "videos"
    return [video.parent] if inside else [own, video.parent]


#: (project, predictions file) pairs already warned about as lying outside.
_WARNED_OUTSIDE: set[tuple[str, str]] = set()


def _warn_outside(project: Project, video: Path, path: Path) -> None:
    """Say (once per file) that a project's analysis is taken from outside it."""
    key = (os.path.abspath(project.path), os.path.abspath(path))
    if key in _WARNED_OUTSIDE:
        return
    _WARNED_OUTSIDE.add(key)
    logger.warning(
        "%s: no analysis of it in %s; using %s beside the video, OUTSIDE the "
        "project %s (perhaps another project's, or another network's), and its "
        "outputs (…_filtered.h5, labelled videos) go beside it. To keep them in "
        "this project, analyse the video here first: %s",
        video.name,
        Path(project.path) / "videos",
        path,
        project.path,
        f"posekit analyze {shlex.quote(str(project.path))}",
    )


def _predictions_in(folder: Path, video: Path, filtered: bool) -> list[Path]:
    """:func:`find_predictions` in one folder."""
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


def track_method_of(project: Project, track_method: str | None = None) -> str | None:
    """Return the tracker whose tracks a verb reads (DeepLabCut's ``track_method``).

    DeepLabCut's ``filterpredictions``, ``create_labeled_video`` and their siblings
    read the tracks of the config's ``default_track_method`` when ``track_method``
    is left out (``""``), not the newest tracks file: after trying another tracker
    (``posekit analyze --track-method box``), the ``_el.h5`` tracks (the ones whose
    identities were corrected) are still the ones filtered and drawn.

    Parameters
    ----------
    project
        The project.
    track_method
        The method asked for (``None`` or ``""``: the config's).

    Returns
    -------
    str or None
        ``track_method`` when given; for a multi-animal project the config's
        ``default_track_method`` (``"ellipse"`` when it has none); ``None`` for a
        single-animal project (its predictions have no tracks suffix).

    Raises
    ------
    ValueError
        If the method, given or the config's, is not one of posekit's trackers.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ma = SimpleNamespace(multianimal=True, get=lambda key: "box")
    >>> track_method_of(ma), track_method_of(ma, "ellipse")
    ('box', 'ellipse')
    """
    if track_method:
        if track_method not in TRACKS_SUFFIXES:
            raise ValueError(
                f"track_method={track_method!r}: use one of "
                f"{sorted(TRACKS_SUFFIXES)} (the tracks file …_el.h5, …_bx.h5, "
                "…_sk.h5), or leave it out to take the config's default_track_method."
            )
        return track_method
    if not project.multianimal:
        return None
    method = project.get("default_track_method") or "ellipse"
    if method not in TRACKS_SUFFIXES:
        raise ValueError(
            f"config.yaml's default_track_method is {method!r}, not one of posekit's "
            f"trackers {sorted(TRACKS_SUFFIXES)}: set it to one of them in "
            "config.yaml, or pass track_method (posekit … --track-method)."
        )
    return str(method)


def file_track_method(path: str | os.PathLike) -> str | None:
    """Return the tracker whose tracks file ``path`` is (``…_el.h5``: ``"ellipse"``).

    Filtered tracks (``…_el_filtered.h5``) too; ``None`` for other files.

    Examples
    --------
    >>> file_track_method("m1DLC_resnet50_tJan1shuffle1_5_bx_filtered.h5")
    'box'
    >>> file_track_method("m1DLC_resnet50_tJan1shuffle1_5.h5") is None
    True
    """
    stem = Path(path).stem.removesuffix(FILTERED_SUFFIX)
    return next((m for m, s in TRACKS_SUFFIXES.items() if stem.endswith(s)), None)


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
    is missing, the newest file whose scorer names the shuffle (an older snapshot's,
    or DeepLabCut's own network's: ``…shuffle1_snapshot_200``) comes first, else the
    newest other network's, and a warning names it (``warn=False``: silently). A
    shuffle without a posekit snapshot here (predictions made elsewhere, DeepLabCut's
    own network) takes the newest file that names it, silently, else the newest
    file, with that warning. "Newest" is the model's:
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
    # newest model first; a video outside the project: the project's analysis first
    files = find_predictions(video, destfolder, filtered=filtered, project=project)
    if track_method is not None:
        end = suffixes[0] + (FILTERED_SUFFIX if filtered else "")
        files = [f for f in files if f.stem.endswith(end)]
    # another network's file: one of this shuffle (DeepLabCut's own, an older
    # snapshot) before those of other shuffles
    files = sorted(files, key=lambda f: not names_shuffle(f, shuffle))  # stable
    scorer = network_scorer(project, shuffle, snapshot)
    if scorer is None:  # no posekit snapshot of this shuffle here
        if files and warn and not names_shuffle(files[0], shuffle):
            logger.warning(
                "%s: no predictions of shuffle %d (no file names it); using %s, "
                "made by another network. Pass that file, or the shuffle that made "
                "it.",
                video.name,
                shuffle,
                files[0].name,
            )
        return files
    filt = FILTERED_SUFFIX if filtered else ""
    base = files[0].parent if files else Path(destfolder or video.parent)
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


def names_shuffle(path: str | os.PathLike, shuffle: int) -> bool:
    """Whether a predictions file's scorer names ``shuffle`` (``…shuffle<N>_…``).

    DeepLabCut 2 (``…shuffle1_200000``), DeepLabCut 3 (``…shuffle1_snapshot_200``)
    and posekit (``…shuffle1_905``) scorers all name the shuffle so.

    Examples
    --------
    >>> names_shuffle("m1DLC_Resnet50_tOct30shuffle1_snapshot_200.h5", 1)
    True
    >>> names_shuffle("m1DLC_effnet_lite0_tOct30shuffle12_50.h5", 1)
    False
    """
    stem = Path(path).stem
    scorer = stem[stem.find("DLC_") :] if "DLC_" in stem else stem
    return re.search(rf"shuffle{int(shuffle)}(?:_|$)", scorer) is not None


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
        files += find_predictions(video, project=project)
        files += find_predictions(video, filtered=True, project=project)
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


def _note_pcutoff(ds: xr.Dataset, name: str, pcutoff: float) -> None:
    """Log a warning where ``pcutoff`` cuts nothing: points without any likelihood.

    Such points are kept whatever the cut-off (their confidence is NaN). A point
    never placed (a multi-animal file's animals have no columns for its unique
    bodyparts) has nothing to cut and is not named.
    """
    conf = ds["confidence"].transpose("time", "keypoint", "individual")
    pos = ds["position"].transpose("time", "keypoint", "individual", "space")
    n = conf.sizes["time"]
    seen = np.isfinite(conf.values).reshape(n, -1).any(axis=0)
    placed = np.isfinite(pos.values).any(axis=-1).reshape(n, -1).any(axis=0)
    unseen = placed & ~seen
    if not unseen.any():
        return
    if not seen.any():
        logger.warning(
            "%s has no likelihood (a 'likelihood' value per bodypart), so pcutoff "
            "%g (--pcutoff) was not applied: every point is kept",
            name,
            pcutoff,
        )
        return
    several = conf.sizes["individual"] > 1
    cols = [
        f"{i}/{k}" if several else str(k)
        for k in conf["keypoint"].values
        for i in conf["individual"].values
    ]
    logger.warning(
        "%s has no likelihood for %s, so pcutoff %g (--pcutoff) was not applied to "
        "them: their points are all kept",
        name,
        ", ".join(c for c, no in zip(cols, unseen, strict=True) if no),
        pcutoff,
    )


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
        (``None``: keep every point, as DLC's median filter does). Points without
        a likelihood are kept, with a warning that names them.
    max_gap
        Interpolate gaps of at most this many frames before smoothing.
    out
        Output path (default :func:`filtered_path`: ``<stem>_filtered.h5`` beside the
        input).
    save_csv
        Also write the ``.csv`` twin.
    **params
        Other :class:`~posekit.engine.behavior.filters.FilterConfig` fields.

    Returns
    -------
    Path
        The filtered ``.h5`` (key ``df_with_missing``, as DeepLabCut writes it, also
        for a tracks file read under ``tracks``; table format, the input's columns
        and index; likelihoods unchanged), written atomically.

    Notes
    -----
    The smoother neither removes nor invents points (:func:`smooth_predictions`):
    a point present in the input (after ``pcutoff`` and ``max_gap``) is smoothed
    with the values present in its window, a missing one stays missing, so the
    filtered file has no more NaN than the input. Where a window is complete the
    values are :func:`scipy.signal.medfilt`'s (``"median"``) and
    :func:`scipy.signal.savgol_filter`'s (``"savgol"``). DeepLabCut runs ``medfilt``
    on each column, which does not handle NaN: next to a gap it makes present
    points NaN, or fills missing ones with a neighbour's value. At the first and
    last ``window // 2`` frames the median is of the values there, where
    ``medfilt`` pads with zeros (pulling the first and last points towards 0).

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
    if method == "median" and int(window) > ds.sizes["time"]:
        raise ValueError(
            f"window={window} is longer than the recording ({ds.sizes['time']} frames "
            f"in {path.name}): every point would become the median of the whole "
            "recording. Use a window of a few frames (DeepLabCut's default is 5)."
        )
    if pcutoff is not None:
        _note_pcutoff(ds, path.name, pcutoff)
    filtered = smooth_predictions(
        ds,
        method,
        confidence_threshold=pcutoff,
        max_gap=max_gap,
        window=window,
        polyorder=polyorder,
        **params,
    )
    target = Path(out) if out is not None else filtered_path(path)
    result = write_predictions(_write_back(df, filtered), target, save_csv=save_csv)
    logger.info(
        "%s: %s filter → %s (NaN values: %d before, %d after)",
        path.name,
        method,
        target,
        int(np.isnan(ds["position"].values).sum()),
        int(np.isnan(filtered["position"].values).sum()),
    )
    return result


#: :class:`~posekit.engine.behavior.filters.FilterConfig` fields of the steps before
#: the smoother (they decide which points are missing).
_CLEANING = ("confidence_threshold", "jump_k", "body_length", "max_gap")

PoseLike = TypeVar("PoseLike", xr.Dataset, xr.DataArray)


def smooth_predictions(
    data: PoseLike, method: str = "median", **params: Any
) -> PoseLike:
    """Clean and smooth poses as ``posekit filter`` does; the smoother keeps every point.

    The steps of :func:`~posekit.engine.behavior.filters.filter_poses` (points
    below ``confidence_threshold`` become NaN, jumps are removed, gaps up to
    ``max_gap`` frames are interpolated, then the smoother runs), except that the
    smoother neither removes a point nor fills one: a point present after the
    cleaning steps keeps a value, one missing stays missing, so the smoother never
    adds NaN (only ``confidence_threshold`` and the jump removal do, as asked).

    - ``"median"``: the median of the values present in the point's window
      (``min_periods=1``: a NaN-aware median), equal to
      :func:`scipy.signal.medfilt`'s wherever the window is complete;
    - ``"savgol"``: a point whose window is complete gets
      :func:`scipy.signal.savgol_filter`'s value (the recording's first and last
      ``window // 2`` frames: the polynomial fitted to the first or last window,
      as ``mode="interp"``); a point whose window has a gap gets the
      ``polyorder`` polynomial fitted by least squares to the values present in that
      window, or keeps its value when fewer than ``polyorder + 2`` are present (the
      polynomial would pass through every one of them);
    - ``"butterworth"`` and ``"kalman"`` keep the points as they are.

    The behaviour pipeline (:func:`~posekit.engine.behavior.filters.filter_poses`
    alone) lets the median and Savitzky–Golay windows with a gap, and the first and
    last frames of the median, become NaN, as movement's filters do.

    Parameters
    ----------
    data
        Poses Dataset or ``position`` DataArray.
    method
        ``"median"``, ``"savgol"``, ``"butterworth"``, ``"kalman"`` or ``"none"``.
    **params
        :class:`~posekit.engine.behavior.filters.FilterConfig` fields
        (``confidence_threshold``, ``max_gap``, ``window``, ``polyorder``, …). A
        ``min_periods`` given for the median is kept (windows with fewer values
        then become NaN).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``.

    Raises
    ------
    ValueError
        If the method or a parameter is not valid.

    Examples
    --------
    A gap of two frames: the median keeps the frames beside it and leaves it open.

    >>> from posekit.engine.poses import from_numpy
    >>> x = np.array([1.0, 2.0, 3.0, np.nan, np.nan, 6.0, 7.0, 8.0])
    >>> ds = from_numpy(np.stack([x, x], 1)[:, :, None, None])
    >>> smooth_predictions(ds, "median", window=3).position.values[:, 0, 0, 0]
    array([1.5, 2. , 2.5, nan, nan, 6.5, 7. , 7.5])
    """
    from .behavior.filters import FilterConfig, filter_poses

    clean = {k: params.pop(k) for k in _CLEANING if k in params}
    if method == "median":
        params.setdefault("min_periods", 1)
    cleaned = filter_poses(data, "none", **clean)
    smoothed = filter_poses(cleaned, method, **params)  # type: ignore[arg-type]
    if method == "savgol":
        cfg = FilterConfig(method="savgol", **params)
        smoothed = _refit_savgol(cleaned, smoothed, cfg.window, cfg.polyorder)
    return smoothed


def _refit_savgol(
    cleaned: PoseLike, smoothed: PoseLike, window: int, polyorder: int
) -> PoseLike:
    """Give the points Savitzky–Golay made NaN (a gap in their window) a value.

    The ``polyorder`` polynomial fitted by least squares to the values present in the
    point's window (the one the filter uses: centred, the first or last window at the
    recording's ends), evaluated at the point; with fewer than ``polyorder + 2``
    values present it would pass through them all, so the point keeps its value.
    """
    from .behavior._utils import position_of, time_first_2d

    before, _ = time_first_2d(position_of(cleaned))
    after, rebuild = time_first_2d(position_of(smoothed))
    todo = ~np.isnan(before) & np.isnan(after)
    if not todo.any():
        return smoothed
    half = window // 2
    t, col = np.nonzero(todo)
    # the filter's window of each point (it ran: the recording has >= window frames)
    start = np.clip(t - half, 0, before.shape[0] - window)
    rows = start[:, None] + np.arange(window)  # (points, window)
    y = before[rows, col[:, None]]
    present = ~np.isnan(y)
    x = (rows - t[:, None]) / half  # scaled to [-2, 2]: a well-conditioned fit
    design = x[..., None] ** np.arange(polyorder + 1)  # (k, window, polyorder + 1)
    weighted = design * present[..., None]
    value = before[t, col].copy()
    fit = present.sum(axis=1) >= polyorder + 2
    if fit.any():
        lhs = np.einsum("kwi,kwj->kij", weighted[fit], design[fit])
        rhs = np.einsum("kwi,kw->ki", weighted[fit], np.where(present, y, 0.0)[fit])
        value[fit] = np.linalg.solve(lhs, rhs[..., None])[:, 0, 0]  # p(0)
    out = after.copy()
    out[t, col] = value
    position = rebuild(out)
    if isinstance(smoothed, xr.Dataset):
        result = smoothed.copy()
        result["position"] = position
        return result
    return position
