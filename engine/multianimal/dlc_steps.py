"""DeepLabCut's step-by-step multi-animal tracking: tracklets, then stitched tracks.

A maDLC script analyses its videos with ``auto_track=False`` and then calls

- ``convert_detections2tracklets``: each frame's animals assembled from the
  detections (``<video><scorer>_full.pickle``) and linked from frame to frame into
  tracklets (``_assemblies.pickle``, ``_<el|bx|sk>.pickle``);
- ``stitch_tracklets``: the tracklets stitched into ``n_tracks`` animals (the tracks
  ``_<el|bx|sk>.h5``, HDF key ``tracks``).

posekit's analysis does the three steps at once (``auto_track=False`` is taken and
said so). These verbs redo a step from the files of the step before, without the
network, as DeepLabCut's do: another tracker (``track_method``), another number of
animals, a gap to bridge (``max_gap``), other assembly and tracking settings in the
shuffle's ``test/inference_cfg.yaml`` (or ``inferencecfg=``), as DeepLabCut reads
them. Their arguments are DeepLabCut's; the ones without a counterpart are refused
with what to use instead, except those that change nothing (``modelprefix``,
``videotype`` of a file, ``weight_func=None``).

``create_video_with_all_detections`` draws every detection of the ``_full.pickle``
(before assembly) on the video, to check the network's detections apart from the
assembly and the tracking.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..dlc_names import dlc_keywords
from ..model_folder import ModelFolder
from ..project import Project, as_project

__all__ = [
    "convert_detections2tracklets",
    "create_video_with_all_detections",
    "stitch_tracklets",
]

logger = logging.getLogger("posekit.engine.multianimal")


def _project(config: str | os.PathLike | Project, trainingsetindex: int) -> Project:
    """Return the project, with ``TrainingFraction[trainingsetindex]`` in use."""
    project = as_project(config)
    return (
        project.for_training_set(int(trainingsetindex)) if trainingsetindex else project
    )


def _method(project: Project, track_method: str | None) -> str:
    """Return the tracker asked for, else the config's ``default_track_method``."""
    from ..postprocessing import track_method_of

    return str(track_method_of(project, track_method or None))


def _stems(
    project: Project,
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    videotype: str | Sequence[str] | None,
    shuffle: int,
    destfolder: str | os.PathLike | None,
) -> tuple[ModelFolder, list[tuple[Path, str]], str]:
    """Return the model folder, each video's output stem ``<folder>/<video><scorer>``, the scorer."""
    from ..api import _given_videos, _one_snapshot

    folder = ModelFolder.of(project, shuffle)
    _, snapshot = folder.snapshot(_one_snapshot(project, None))
    scorer = folder.scorer(snapshot)
    given = _given_videos(videos, videotype, "nothing is tracked")
    stems = []
    for video in project.source_videos() if given is None else given:
        where = Path(destfolder) if destfolder is not None else video.parent
        stems.append((video, str(where / f"{video.stem}{scorer}")))
    return folder, stems, scorer


def _refuse(verb: str, **values: Any) -> None:
    """Refuse DeepLabCut arguments posekit has no counterpart for (given other than default)."""
    advice = {
        "ignore_bodyparts": "every bodypart is assembled",
        "greedy": "posekit assembles by its affinity-ordered rule",
        "calibrate": "posekit's assembly uses no calibration from the training data",
        "window_size": "posekit's assembly uses no temporal window",
        "identity_only": "posekit's networks have no identity head",
        "split_tracklets": "posekit's tracklets are cut where the tracker loses an "
        "animal",
        "prestitch_residuals": "posekit stitches every tracklet",
        "weight_func": "posekit's stitching costs are StitchConfig's",
        "transformer_checkpoint": "posekit has no re-identification transformer",
        "output_name": "the tracks file is named as DeepLabCut names it by default",
    }
    for name, value in values.items():
        if value:
            raise TypeError(
                f"{verb}: DeepLabCut's {name}={value!r} has no counterpart in posekit "
                f"({advice[name]}); leave it out."
            )


@dlc_keywords()
def convert_detections2tracklets(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    videotype: str | Sequence[str] | None = None,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    overwrite: bool = False,
    destfolder: str | os.PathLike | None = None,
    ignore_bodyparts: Sequence[str] | None = None,
    inferencecfg: Any = None,
    greedy: bool = False,
    calibrate: bool = False,
    window_size: int = 0,
    identity_only: bool = False,
    track_method: str | None = None,
) -> list[Path]:
    """Assemble each frame's animals and link them into tracklets (DeepLabCut's name).

    Reads ``<video><scorer>_full.pickle`` (the network's detections, written by
    :func:`~posekit.engine.api.analyze_videos`) and writes ``_assemblies.pickle`` and
    the tracklets ``_<el|bx|sk>.pickle``, as DeepLabCut's
    ``convert_detections2tracklets`` does; :func:`stitch_tracklets` then makes the
    tracks. Tracklets already there are kept unless ``overwrite``.

    Parameters
    ----------
    config
        The multi-animal project, its folder or its ``config.yaml``.
    videos, videotype
        Videos and folders of videos (DeepLabCut's ``videotype``: their extension).
    shuffle
        The shuffle whose network analysed the videos (its scorer names the files).
    trainingsetindex
        Which ``TrainingFraction`` (DeepLabCut's index into it).
    overwrite
        Make the tracklets again when their file is there.
    destfolder
        The folder the analysis wrote to (default: beside each video).
    inferencecfg
        DeepLabCut's assembly and tracking settings, a mapping of
        ``test/inference_cfg.yaml``'s keys, read instead of that file (by default
        the file is read; none there: posekit's settings). Values left at
        DeepLabCut's defaults change nothing; ``pafthreshold``, ``pcutoff``,
        ``minimalnumberofconnections``, ``topktoretain``, ``max_age`` and
        ``iou_threshold`` (``oks_threshold`` for the keypoints tracker) set
        posekit's counterparts; other keys set are named in a warning.
    ignore_bodyparts, greedy, calibrate, window_size, identity_only
        DeepLabCut's assembly options: refused unless left at their defaults.
    track_method
        ``"ellipse"``, ``"box"`` or ``"keypoints"`` (default ``config.yaml``'s
        ``default_track_method``, else ellipse).

    Returns
    -------
    list of Path
        The tracklet files, made or found.

    Raises
    ------
    FileNotFoundError
        A video has no detections of this network (analyse it first).
    TypeError
        A DeepLabCut option posekit has no counterpart for, or ``inferencecfg`` is
        not a mapping.
    ValueError
        ``inference_cfg.yaml`` (or ``inferencecfg``) cannot be read or holds a
        wrong value (the message names the file and the key).
    """
    from .api import (
        _assemble_detections,
        _save_tracklets,
        analysis_settings,
        multianimal_config,
    )
    from .outputs import save_assemblies_pickle
    from .tracking import TRACK_METHODS, track_animals

    project = _project(config, trainingsetindex)
    _refuse(
        "convert_detections2tracklets",
        ignore_bodyparts=ignore_bodyparts,
        greedy=greedy,
        calibrate=calibrate,
        window_size=window_size,
        identity_only=identity_only,
    )
    method = _method(project, track_method)
    folder, stems, scorer = _stems(project, videos, videotype, shuffle, destfolder)
    multi = multianimal_config(folder)
    n = len(project.individuals) or multi.layout.n_individuals
    assembly, tracking, most = analysis_settings(
        project, folder, multi.assembly, method, n, inferencecfg=inferencecfg
    )
    out = []
    for video, stem in stems:
        path = Path(f"{stem}_{TRACK_METHODS[method]}.pickle")
        if path.is_file() and not overwrite:
            logger.info(
                "%s: tracklets there already (%s); overwrite=True makes them again",
                video.name,
                path.name,
            )
            out.append(path)
            continue
        assemblies = _assemble_detections(stem, multi.layout, most, assembly, video)
        save_assemblies_pickle(f"{stem}_assemblies.pickle", assemblies)
        tracklets = track_animals([a.animals for a in assemblies], tracking)
        path, _ = _save_tracklets(
            stem, TRACK_METHODS[method], assemblies, tracklets, multi.layout, scorer
        )
        out.append(path)
        logger.info("%s: %d tracklets -> %s", video.name, len(tracklets), path)
    return out


@dlc_keywords()
def stitch_tracklets(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    videotype: str | Sequence[str] | None = None,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    n_tracks: int | None = None,
    min_length: int = 10,
    split_tracklets: bool = False,
    prestitch_residuals: bool = False,
    max_gap: int | None = None,
    weight_func: Any = None,
    destfolder: str | os.PathLike | None = None,
    track_method: str | None = None,
    output_name: str = "",
    transformer_checkpoint: str = "",
    save_as_csv: bool = False,
) -> list[Path]:
    """Stitch a video's tracklets into ``n_tracks`` animals (DeepLabCut's name).

    Reads the tracklets ``<video><scorer>_<el|bx|sk>.pickle``
    (:func:`convert_detections2tracklets`, or the analysis) and writes the tracks
    ``_<el|bx|sk>.h5`` (key ``tracks``; ``.csv`` too with ``save_as_csv``), as
    DeepLabCut's ``stitch_tracklets`` does.

    Parameters
    ----------
    config, videos, videotype, shuffle, trainingsetindex, destfolder, track_method
        As for :func:`convert_detections2tracklets`.
    n_tracks
        Animals to stitch into (default: the project's individuals).
    min_length
        Tracklets shorter than this many frames are left out, as DeepLabCut does
        (its default 10; ``0`` or ``1`` keeps every one).
    max_gap
        The longest gap, in frames, one animal's tracklets are joined across
        (default: any).
    save_as_csv
        Also write the tracks as ``.csv``.
    split_tracklets, prestitch_residuals, weight_func, output_name, transformer_checkpoint
        DeepLabCut's stitching options: refused unless left at posekit's defaults.

    Returns
    -------
    list of Path
        The tracks files.

    Raises
    ------
    FileNotFoundError
        A video has no tracklets of this network.
    TypeError
        A DeepLabCut option posekit has no counterpart for.
    """
    from .api import multianimal_config
    from .outputs import (
        read_tracklets_pickle,
        read_tracklets_unique,
        tracks_frame,
        video_frame_count,
        write_tracks,
    )
    from .stitching import StitchConfig
    from .stitching import stitch_tracklets as stitch
    from .tracking import TRACK_METHODS

    project = _project(config, trainingsetindex)
    _refuse(
        "stitch_tracklets",
        split_tracklets=split_tracklets,
        prestitch_residuals=prestitch_residuals,
        weight_func=weight_func,
        output_name=output_name,
        transformer_checkpoint=transformer_checkpoint,
    )
    method = _method(project, track_method)
    folder, stems, scorer = _stems(project, videos, videotype, shuffle, destfolder)
    layout = multianimal_config(folder).layout
    n = int(n_tracks or len(project.individuals) or layout.n_individuals)
    out = []
    for video, stem in stems:
        path = Path(f"{stem}_{TRACK_METHODS[method]}.pickle")
        if not path.is_file():
            raise FileNotFoundError(
                f"{video.name}: no tracklets of this network ({path}). Make them with "
                "convert_detections2tracklets(config, videos, "
                f"track_method={method!r}) after analyze_videos."
            )
        tracklets = read_tracklets_pickle(path)
        n_frames = video_frame_count(stem, tracklets)
        kept = [t for t in tracklets if len(t.frames) >= max(int(min_length), 1)]
        if len(kept) < len(tracklets):
            logger.info(
                "%s: %d tracklets shorter than %d frames left out (min_length)",
                video.name,
                len(tracklets) - len(kept),
                min_length,
            )
        tracks, _ = stitch(kept, n_frames, StitchConfig(n_tracks=n, max_gap=max_gap))
        h5 = write_tracks(
            tracks_frame(
                tracks,
                layout,
                scorer,
                read_tracklets_unique(path, n_frames, layout.n_unique),
            ),
            f"{stem}_{TRACK_METHODS[method]}.h5",
            save_csv=save_as_csv,
        )
        logger.info(
            "%s: %d tracklets stitched into %d animals -> %s",
            video.name,
            len(kept),
            n,
            h5,
        )
        out.append(h5)
    return out


def _displayed(names: list[str], displayedbodyparts: str | Sequence[str]) -> list[int]:
    """Return the channels to draw: every one (``"all"``) or those named, in file order."""
    if isinstance(displayedbodyparts, str) and displayedbodyparts == "all":
        return list(range(len(names)))
    wanted = (
        [displayedbodyparts]
        if isinstance(displayedbodyparts, str)
        else [str(b) for b in displayedbodyparts]
    )
    unknown = [b for b in wanted if b not in names]
    if unknown:
        raise ValueError(
            f"displayedbodyparts {unknown} are not bodyparts of the detections (they "
            f"have {names}); give some of those, or 'all'."
        )
    return [i for i, name in enumerate(names) if name in wanted]


def _draw_detections(
    index: int,
    frame: np.ndarray,
    *,
    detections: Sequence[Any],
    channels: Sequence[int],
    colors: np.ndarray,
    pcutoff: float,
    dotsize: float,
) -> None:
    """Draw frame ``index``'s candidates scoring ``pcutoff`` or more, one colour per channel."""
    from ..drawing import draw_points

    if index >= len(detections):
        return
    det = detections[index]
    for color, k in zip(colors, channels, strict=True):
        keep = det.confidence[k] >= pcutoff
        if keep.any():
            draw_points(
                frame,
                det.coordinates[k][keep],
                np.repeat(color[None], int(keep.sum()), axis=0),
                radius=dotsize,
            )


@dlc_keywords()
def create_video_with_all_detections(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    videotype: str | Sequence[str] | None = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    displayedbodyparts: str | Sequence[str] = "all",
    destfolder: str | os.PathLike | None = None,
    modelprefix: str = "",
    *,
    codec: Literal["auto", "h264", "mp4v"] = "auto",
    progress: bool | Callable[[int, int], None] = True,
) -> list[Path]:
    """Draw every detection of the ``_full.pickle`` on the video (DeepLabCut's name).

    Each candidate keypoint the network found (``<video><scorer>_full.pickle``,
    before assembly into animals) with a score of at least ``config.yaml``'s
    ``pcutoff`` is drawn as a dot of radius ``dotsize``, coloured by bodypart from the
    config's ``colormap`` (as DeepLabCut colours them: evenly over the bodyparts
    drawn). The video is written as DeepLabCut names it,
    ``<video stem><scorer>_full.mp4``, beside the ``_full.pickle``; one there already
    is kept ("Detections already plotted"), as DeepLabCut does.

    Parameters
    ----------
    config
        The multi-animal project, its folder or its ``config.yaml``.
    videos, videotype
        Videos and folders of videos (``videotype``: their extension; ``""``: every
        video).
    shuffle
        The shuffle whose network analysed the videos (its scorer names the files).
    trainingsetindex
        Which ``TrainingFraction`` (DeepLabCut's index into it).
    displayedbodyparts
        ``"all"``, or the bodyparts to draw.
    destfolder
        The folder the analysis wrote to (default: beside each video); the video
        is written there.
    modelprefix
        DeepLabCut's model-folder prefix (posekit's folders have none).
    codec
        ``"auto"`` (H.264 when available, else mp4v), ``"h264"`` or ``"mp4v"``
        (what DeepLabCut writes); every one is an ``.mp4``.
    progress
        A tqdm bar (``True``), nothing (``False``), or ``progress(done, total)``.

    Returns
    -------
    list of Path
        The videos, made or found.

    Raises
    ------
    FileNotFoundError
        A video has no ``_full.pickle`` of this network (the message says to run
        ``analyze_videos`` first).
    ValueError
        A bodyparts of ``displayedbodyparts`` is not in the detections.
    """
    from .. import labeled_video as lv
    from .._fileio import atomic_path
    from ..drawing import bodypart_colors
    from ..video import VideoReader
    from .outputs import read_full_pickle

    del modelprefix  # posekit's model folders have no prefix
    project = _project(config, trainingsetindex)
    _, stems, _ = _stems(project, videos, videotype or None, shuffle, destfolder)
    display = project.display
    codec_used = lv._resolve_codec(codec)
    if codec_used not in ("h264", "mp4v"):
        raise ValueError(f"codec must be 'auto', 'h264' or 'mp4v'; got {codec!r}")
    out: list[Path] = []
    for video, stem in stems:
        full, path = Path(f"{stem}_full.pickle"), Path(f"{stem}_full.mp4")
        if path.is_file():
            logger.info("Detections already plotted, %s", path)
            out.append(path)
            continue
        if not full.is_file():
            raise FileNotFoundError(
                f"{video.name}: no detections of this network ({full}). Run "
                f"analyze_videos(config, [{str(video)!r}], shuffle={shuffle}"
                + (f", destfolder={str(destfolder)!r}" if destfolder else "")
                + ") first (posekit analyze): it writes the _full.pickle this video "
                "is drawn from."
            )
        meta, dets = read_full_pickle(full)
        names = [str(n) for n in meta.get("all_joints_names") or []]
        shown = _displayed(names, displayedbodyparts)
        draw = partial(
            _draw_detections,
            detections=dets,
            channels=shown,
            colors=bodypart_colors(len(shown), display.colormap),
            pcutoff=display.pcutoff,
            dotsize=display.dotsize,
        )
        reader = VideoReader(video)
        try:
            with atomic_path(path) as tmp:
                done = lv._write_frames(
                    reader,
                    tmp,
                    codec=codec_used,
                    crf=18,
                    fps=None,
                    progress=lv._progress_callbacks(
                        progress, reader.expected_frames, path.name
                    ),
                    draw=draw,
                )
        finally:
            reader.close()
        logger.info(
            "%s: every detection of %s drawn (%d frames) -> %s",
            video.name,
            full.name,
            done,
            path,
        )
        out.append(path)
    return out
