"""DeepLabCut's other top-level functions, under its names and with its arguments.

With ``import posekit.engine as deeplabcut`` a DeepLabCut script calls
``deeplabcut.create_new_project(...)``, ``deeplabcut.add_new_videos(...)``,
``deeplabcut.plot_trajectories(...)`` and the label-file utilities of
``deeplabcut.utils`` that it exposes at top level. Each one here does what
DeepLabCut's does, on posekit's project and file layout (which is DeepLabCut's):

- project: :func:`create_new_project` (returns the ``config.yaml`` path, as
  DeepLabCut does), :func:`add_new_videos`, :func:`load_demo_data`;
- training set: :func:`create_multianimaltraining_dataset` (a multi-animal
  project's shuffles, with DeepLabCut's graph and crop arguments);
- labels: :func:`convertcsv2h5`, :func:`comparevideolistsanddatafolders`,
  :func:`dropannotationfileentriesduetodeletedimages`,
  :func:`dropimagesduetolackofannotation` (images are moved aside, not deleted),
  :func:`dropduplicatesinannotatinfiles`, :func:`dropunlabeledframes`;
- predictions: :func:`plot_trajectories`, :func:`analyzeskeleton`,
  :func:`analyze_videos_converth5_to_csv`, :func:`analyze_videos_converth5_to_nwb`
  (DLC2NWB's files: one per animal), :func:`analyze_time_lapse_frames` (a
  folder of images), and :func:`scorer_name`, the name DeepLabCut's
  ``analyze_videos`` returns (posekit's returns the files);
- :func:`label_frames`, :func:`refine_labels` and :func:`refine_tracklets` open
  DeepLabCut's desktop windows; posekit labels and corrects identities in the
  browser, so they say where (an error, not a window).

The workflow verbs themselves (``extract_frames``, ``train_network``,
``analyze_videos``, …) are in :mod:`posekit.engine.api` and the modules it names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from . import logger
from .dlc_names import dlc_keywords, ignored, renamed

if TYPE_CHECKING:
    from .project import Project

__all__ = [
    "create_new_project",
    "add_new_videos",
    "load_demo_data",
    "create_multianimaltraining_dataset",
    "label_frames",
    "refine_labels",
    "refine_tracklets",
    "convertcsv2h5",
    "comparevideolistsanddatafolders",
    "dropannotationfileentriesduetodeletedimages",
    "dropimagesduetolackofannotation",
    "dropduplicatesinannotatinfiles",
    "dropunlabeledframes",
    "plot_trajectories",
    "analyzeskeleton",
    "scorer_name",
    "analyze_videos_converth5_to_csv",
    "analyze_videos_converth5_to_nwb",
    "analyze_time_lapse_frames",
]

#: DeepLabCut's individuals of a new multi-animal project.
DLC_INDIVIDUALS = ("individual1", "individual2", "individual3")


# ---------------------------------------------------------------- project


def create_new_project(
    project: str,
    experimenter: str,
    videos: Sequence[str | os.PathLike],
    working_directory: str | os.PathLike | None = None,
    copy_videos: bool = False,
    videotype: str = "",
    multianimal: bool = False,
    individuals: Sequence[str] | None = None,
) -> str:
    """Create a project as DeepLabCut's ``create_new_project`` does.

    Parameters
    ----------
    project, experimenter
        The task and the labeller (``<project>-<experimenter>-<date>/``).
    videos
        Videos, or folders of videos (of ``videotype``).
    working_directory
        Where the project folder goes (default: the current folder).
    copy_videos
        Copy the videos (default: link them).
    videotype
        With folders: only the videos of this extension (``""``: every video).
    multianimal
        A multi-animal project, with ``individuals`` (DeepLabCut's default:
        ``individual1``, ``individual2``, ``individual3``).
    individuals
        The animals' names (a multi-animal project).

    Returns
    -------
    str
        The path of the new ``config.yaml``, as DeepLabCut returns it.

    See Also
    --------
    posekit.engine.project.create_project : posekit's, which returns the project.
    """
    from .project import create_project, list_videos

    extra: dict[str, Any] = {}
    if multianimal or individuals:
        extra["individuals"] = list(individuals or DLC_INDIVIDUALS)
        extra["bodyparts"] = ("bodypart1", "bodypart2", "bodypart3")
    created = create_project(
        project,
        experimenter,
        list_videos(videos, videotype or None),
        working_directory=working_directory,
        copy_videos=copy_videos,
        **extra,
    )
    return str(created.config_path)


def add_new_videos(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike],
    copy_videos: bool = False,
    coords: Sequence[Sequence[int]] | None = None,
    extract_frames: bool = False,
) -> list[Path]:
    """Add videos to a project as DeepLabCut's ``add_new_videos`` does.

    Several calls at once (students adding videos to a project on a shared drive)
    all end up listed: the videos are copied first, then ``video_sets`` is merged
    into ``config.yaml`` as it is then, under the project's lock
    (:meth:`~posekit.engine.project.Project.save`).

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    videos
        Videos, or folders of videos.
    copy_videos
        Copy the videos (default: link them).
    coords
        One crop ``[x1, x2, y1, y2]`` per video, written to ``video_sets``.
    extract_frames
        Also extract ``numframes2pick`` frames of each new video (k-means).

    Returns
    -------
    list of Path
        The videos as the project holds them (DeepLabCut returns nothing).

    Raises
    ------
    ValueError
        If ``coords`` does not give one crop per video.
    """
    from .project import as_project, list_videos
    from .video import Crop
    from .video import extract_frames as extract

    project = as_project(config)
    listed = list_videos(videos)
    if coords is not None and len(coords) != len(listed):
        raise ValueError(f"coords gives {len(coords)} crops for {len(listed)} videos")
    crops = [Crop.parse(c) for c in coords] if coords is not None else []
    added = project.add_videos(listed, copy=copy_videos)
    for video, crop in zip(added, crops, strict=False):
        project.cfg["video_sets"][str(video)]["crop"] = (
            f"{crop.x1}, {crop.x2}, {crop.y1}, {crop.y2}"
        )
    project.save()
    if extract_frames:
        for video in added:
            logger.info("%s", extract(project, video, mode="kmeans").summary())
    return added


def load_demo_data(
    config: str | os.PathLike | Project, createtrainingset: bool = True
) -> Project:
    """Make a project copied from elsewhere (DeepLabCut's demo) usable here.

    DeepLabCut's ``load_demo_data`` points the demo project's ``config.yaml`` at the
    folder it now lies in, replaces the ``video_sets`` placeholder
    (``WILL BE AUTOMATICALLY UPDATED BY DEMO CODE``) with the project's video and
    creates its training set. This does the same (posekit would find the video
    without it; DeepLabCut would not). posekit's own demo is
    :func:`~posekit.engine.demo.make_demo_project`.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    createtrainingset
        Create the training set (shuffle 1) when the project has none.

    Returns
    -------
    Project
        The project.
    """
    from .dataset import create_training_dataset
    from .project import as_project

    project = as_project(config)
    project.set("project_path", str(project.path))
    _replace_demo_placeholder(project)
    project.save()
    if createtrainingset and not any(
        project.training_set_dir().glob("Documentation_data-*.pickle")
    ):
        create_training_dataset(project)
    return project


def _shuffle_range(n: Any) -> tuple[int, ...]:
    """DeepLabCut's ``num_shuffles``: shuffles 1 to ``n``."""
    return tuple(range(1, int(n) + 1))


def _index_lists(value: Any) -> list[list[int]]:
    from .dataset import _index_lists as lists

    return lists(value)


@dlc_keywords(
    num_shuffles=renamed("shuffles", _shuffle_range),
    Shuffles=renamed("shuffles", tuple),
    trainIndices=renamed("train_indices", _index_lists),
    testIndices=renamed("test_indices", _index_lists),
    numdigits=ignored("posekit keeps the image names of labeled-data as they are"),
)
def create_multianimaltraining_dataset(
    config: str | os.PathLike | Project,
    *,
    shuffles: Sequence[int] = (1,),
    net_type: str | None = None,
    crop_size: Sequence[int] | None = None,
    crop_sampling: str | None = None,
    paf_graph: str | Sequence[Sequence[int]] | None = None,
    train_indices: Sequence[Sequence[int]] | None = None,
    test_indices: Sequence[Sequence[int]] | None = None,
    n_edges_threshold: int | None = None,
    paf_graph_degree: int | None = None,
    weight_init: Any = None,
) -> list:
    """DeepLabCut's ``create_multianimaltraining_dataset``: a multi-animal project's shuffles.

    :func:`posekit.engine.dataset.create_training_dataset` on a multi-animal project
    (it makes the same files), with DeepLabCut's arguments for the shuffle's
    ``train/pose_cfg.yaml``: the part-affinity graph and the training crop. The
    training reads them from there (``partaffinityfield_graph``, ``crop_size``), as
    DeepLabCut's does.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml`` (``multianimalproject:
        true``).
    shuffles, net_type, train_indices, test_indices
        As for :func:`~posekit.engine.dataset.create_training_dataset` (DeepLabCut's
        ``num_shuffles``/``Shuffles``, ``trainIndices``/``testIndices`` too).
    crop_size
        ``(width, height)`` of the training crops, written as ``crop_size`` (default:
        DeepLabCut's ``[400, 400]``, which leaves the choice to posekit).
    crop_sampling
        Written as ``crop_sampling`` (default DeepLabCut's ``"hybrid"``); posekit's
        augmentation places its crops itself, and its training says so when the
        value is another.
    paf_graph
        ``None`` (DeepLabCut's rule: every pair of multi-animal bodyparts, pruned
        from the labels above ``n_edges_threshold`` pairs to an average degree of
        ``paf_graph_degree``), ``"config"`` (``config.yaml``'s skeleton), or pairs
        of ``multianimalbodyparts`` indices.
    n_edges_threshold, paf_graph_degree
        DeepLabCut's pruning rule (default 105 and 6).
    weight_init
        DeepLabCut 3's SuperAnimal weights: only ``None`` (posekit starts from
        ImageNet weights or the network's own).

    Returns
    -------
    list of Split
        The splits, as :func:`~posekit.engine.dataset.create_training_dataset`.

    Raises
    ------
    ValueError
        A single-animal project, ``weight_init`` given, or a graph out of range.
    """
    from .dataset import _create_training_dataset
    from .project import as_project

    project = as_project(config)
    if not project.multianimal:
        raise ValueError(
            f"{project.config_path} is a single-animal project (multianimalproject is "
            "not true): create its training set with create_training_dataset(config) "
            "(posekit create-training-dataset)."
        )
    if weight_init is not None:
        raise ValueError(
            f"weight_init={weight_init!r}: DeepLabCut 3's SuperAnimal weights cannot "
            "be loaded by posekit; leave weight_init out (the network starts from "
            "ImageNet weights where they are available, see posekit train --help)."
        )
    multianimal: dict[str, Any] = {
        "paf_graph": paf_graph,
        "crop_size": crop_size,
        "crop_sampling": crop_sampling,
        "n_edges_threshold": n_edges_threshold,
        "paf_graph_degree": paf_graph_degree,
    }
    return _create_training_dataset(
        project,
        shuffles=shuffles,
        train_fraction=None,
        seed=None,
        test_frames=None,
        train_indices=train_indices,
        test_indices=test_indices,
        net_type=net_type,
        multianimal=multianimal,
    )


#: The ``video_sets`` key of DeepLabCut's demo projects, which its ``load_demo_data``
#: replaces with the project's video (``create_project/demo_data.py``).
DEMO_PLACEHOLDER = "WILL BE AUTOMATICALLY UPDATED BY DEMO CODE"


def _replace_demo_placeholder(project: Project) -> None:
    """Put the project's video in place of the demo's ``video_sets`` placeholder.

    The video is the one in ``videos/`` not yet listed, one with a
    ``labeled-data/`` folder first; the placeholder's crop is kept, and so is the
    order of the entries.
    """
    from ruamel.yaml.comments import CommentedMap

    from .project import ProjectError, list_videos

    sets = project.cfg.get("video_sets") or {}
    if DEMO_PLACEHOLDER not in sets:
        return
    folder = project.path / "videos"
    listed = {Path(str(k)).name for k in sets}
    try:
        spare = [v for v in list_videos([folder]) if v.name not in listed]
    except (OSError, ProjectError):  # no videos/ folder, or no video in it
        spare = []
    spare.sort(key=lambda v: v.stem not in project.labeled_videos())
    if not spare:
        logger.warning(
            "config.yaml's video_sets keeps DeepLabCut's placeholder %r: no video "
            "in %s to put in its place",
            DEMO_PLACEHOLDER,
            folder,
        )
        return
    video = str(spare[0].absolute())
    project.cfg["video_sets"] = CommentedMap(
        (video if str(k) == DEMO_PLACEHOLDER else k, v) for k, v in sets.items()
    )
    logger.info("config.yaml: video_sets: %s in place of the placeholder", video)


def _in_the_browser(verb: str) -> NoReturn:
    raise RuntimeError(
        f"DeepLabCut's {verb} opens its desktop labelling window. posekit labels in "
        "the browser: run `make app` in posekit's folder (or `python -m "
        "posekit.widgets.serve notebooks`) and open Label (Refine for machine "
        "labels), or in Jupyter: `from posekit.widgets.label_app import "
        "LabelApp; LabelApp(config)`."
    )


def label_frames(config: Any = None, *args: Any, **kwargs: Any) -> NoReturn:
    """Say where posekit labels frames (DeepLabCut's opens a desktop window).

    Raises
    ------
    RuntimeError
        Always, naming the labelling app.
    """
    _in_the_browser("label_frames")


def refine_labels(config: Any = None, *args: Any, **kwargs: Any) -> NoReturn:
    """Say where posekit refines machine labels (DeepLabCut's opens a window).

    Raises
    ------
    RuntimeError
        Always, naming the refine app.
    """
    _in_the_browser("refine_labels")


def refine_tracklets(
    config: Any = None,
    pickle_or_h5_file: Any = None,
    video: Any = None,
    *args: Any,
    **kwargs: Any,
) -> NoReturn:
    """Say where posekit corrects identities (DeepLabCut's opens a window).

    DeepLabCut's ``refine_tracklets`` opens a desktop window to fix identity swaps in
    a multi-animal video's tracks. posekit does this in the browser: the Viewer app
    (``viewer.ipynb``) on the tracks ``…_el.h5`` colours by animal, lists likely
    swaps and swaps identities from a frame on or over a range, and saves the file
    in DeepLabCut's layout.

    Raises
    ------
    RuntimeError
        Always, naming the app and the Python call for Jupyter.
    """
    tracks = f"{pickle_or_h5_file}" if pickle_or_h5_file is not None else "tracks.h5"
    if tracks.endswith(".pickle"):
        tracks = "the tracks …_el.h5 (posekit analyze writes it beside the pickle)"
    raise RuntimeError(
        "DeepLabCut's refine_tracklets opens a desktop window. posekit corrects "
        "identities in the browser: run `make app` in posekit's folder (or `python "
        "-m posekit.widgets.serve notebooks`), open Viewer and choose "
        f"{tracks}: 'likely swaps' lists the frames to check and 'Swap' exchanges two "
        "animals from a frame on; 'Save tracks' writes the file back in DeepLabCut's "
        "layout. "
        "In Jupyter: `from posekit.widgets.trajectory_viewer import "
        f"TrajectoryViewer; TrajectoryViewer({tracks!r}, config, video=video)`."
    )


# ---------------------------------------------------------------- label files


def _label_files(project: Project) -> list[Path]:
    """List the ``CollectedData_<scorer>.h5`` of every ``labeled-data/`` folder."""
    return [
        project.labels_path(stem)
        for stem in project.labeled_videos()
        if project.labels_path(stem).is_file()
    ]


def convertcsv2h5(
    config: str | os.PathLike | Project,
    userfeedback: bool = True,
    scorer: str | None = None,
) -> list[Path]:
    """Convert every ``CollectedData_<scorer>.csv`` of a project into its ``.h5``.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    userfeedback
        Ignored (DeepLabCut asks before each folder; posekit does not ask).
    scorer
        The labeller whose files to convert (default: the config's).

    Returns
    -------
    list of Path
        The ``.h5`` files written.
    """
    from .io.dlc import convert_csv_to_h5
    from .project import as_project

    project = as_project(config)
    name = f"CollectedData_{scorer or project.scorer}.csv"
    out = []
    for stem in project.labeled_videos():
        csv = project.labeled_data_dir(stem) / name
        if csv.is_file():
            out.append(convert_csv_to_h5(csv))
    if not out:
        logger.warning("no %s in %s", name, project.path / "labeled-data")
    return out


def comparevideolistsanddatafolders(
    config: str | os.PathLike | Project,
) -> dict[str, list[str]]:
    """Compare the videos of ``video_sets`` with the ``labeled-data/`` folders.

    Returns
    -------
    dict
        ``{"videos_without_folder": [...], "folders_without_video": [...]}`` (video
        stems); DeepLabCut prints them, and so does this.
    """
    from .project import as_project, entry_name

    project = as_project(config)
    listed = {Path(entry_name(v)).stem for v in project.video_sets}
    folders = set(project.labeled_videos())
    result = {
        "videos_without_folder": sorted(listed - folders),
        "folders_without_video": sorted(folders - listed),
    }
    print(f"{len(listed)} videos in config.yaml, {len(folders)} labeled-data folders")
    for key, names in result.items():
        if names:
            print(f"{key.replace('_', ' ')}: {', '.join(names)}")
    return result


def _rewrite_labels(project: Project, keep: Any, what: str) -> dict[str, int]:
    """Keep the rows ``keep(labels, frame paths)`` marks True in every label file.

    ``keep`` returns one boolean per row; the others are dropped and counted. Each
    file is read and rewritten (atomically, with its ``.csv`` twin) under its label
    folder's lock, as the labelling app saves: a point a labeller saves meanwhile
    is kept, not reverted.
    """
    from .io.dlc import index_to_paths, read_labels, write_labels
    from .labels import _folder_lock

    dropped = {}
    for h5 in _label_files(project):
        with _folder_lock(h5.parent):
            df = read_labels(h5)
            rows = np.asarray(keep(df, index_to_paths(df.index)), dtype=bool)
            if rows.all():
                continue
            write_labels(df[rows], h5)
        dropped[h5.parent.name] = int((~rows).sum())
        logger.info("%s: %d %s dropped", h5, int((~rows).sum()), what)
    return dropped


def dropannotationfileentriesduetodeletedimages(
    config: str | os.PathLike | Project,
) -> dict[str, int]:
    """Drop the labels of frames whose image was deleted (every label file).

    Returns
    -------
    dict
        Folder → rows dropped (folders with none left out).
    """
    from .project import as_project

    project = as_project(config)
    return _rewrite_labels(
        project,
        lambda df, paths: [(project.path / p).is_file() for p in paths],
        "rows of deleted images",
    )


def dropduplicatesinannotatinfiles(
    config: str | os.PathLike | Project,
) -> dict[str, int]:
    """Drop repeated rows (the same image twice) from every label file; keep the first.

    Returns
    -------
    dict
        Folder → rows dropped.
    """
    from .project import as_project

    project = as_project(config)
    return _rewrite_labels(
        project,
        lambda df, paths: ~df.index.duplicated(keep="first"),
        "repeated rows",
    )


def dropunlabeledframes(config: str | os.PathLike | Project) -> dict[str, int]:
    """Drop the rows without any labelled point from every label file.

    Returns
    -------
    dict
        Folder → rows dropped.
    """
    from .project import as_project

    project = as_project(config)
    return _rewrite_labels(
        project,
        lambda df, paths: np.isfinite(df.to_numpy(float)).any(axis=1),
        "rows without a point",
    )


def dropimagesduetolackofannotation(
    config: str | os.PathLike | Project,
) -> dict[str, list[Path]]:
    """Move the images that no label file row names out of ``labeled-data/``.

    DeepLabCut deletes them; posekit moves them to
    ``labeled-data/<video>/.posekit/removed/`` (put one back to label it after all).

    Returns
    -------
    dict
        Folder → the images moved (their new paths).
    """
    from .io.dlc import index_to_paths, read_labels
    from .labels import _folder_lock, list_frames
    from .project import as_project

    project = as_project(config)
    moved: dict[str, list[Path]] = {}
    for h5 in _label_files(project):
        stem = h5.parent.name
        # locked: an image a labeller labels meanwhile is labelled, not moved
        with _folder_lock(h5.parent):
            labelled = set(index_to_paths(read_labels(h5).index))
            spare = [f for f in list_frames(project, stem) if f not in labelled]
            if not spare:
                continue
            aside = h5.parent / ".posekit" / "removed"
            aside.mkdir(parents=True, exist_ok=True)
            moved[stem] = []
            for frame in spare:
                src = project.path / frame
                dst = aside / src.name
                os.replace(src, dst)
                moved[stem].append(dst)
        logger.info("%s: %d unlabelled image(s) moved to %s", stem, len(spare), aside)
    return moved


# ---------------------------------------------------------------- predictions


@dlc_keywords(
    modelprefix=ignored("posekit's models are in the project"),
    showfigures=ignored("the figures are written to files"),
    resolution=ignored("posekit's figures have their own resolution"),
    linewidth=ignored("posekit's figures have their own line width"),
)
def plot_trajectories(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike],
    videotype: str = "",
    shuffle: int = 1,
    filtered: bool = False,
    displayedbodyparts: str | Sequence[str] = "all",
    displayedindividuals: str | Sequence[str] = "all",
    destfolder: str | os.PathLike | None = None,
    imagetype: str = ".png",
    pcutoff: float | None = None,
    track_method: str | None = None,
) -> list[Path]:
    """Plot each video's trajectories into ``plot-poses/<video>/`` (DeepLabCut's).

    DeepLabCut's four figures under its names, for each individual
    (:func:`posekit.engine.plotting.save_dlc_plots`; points below ``pcutoff`` left
    out; each displayed bodypart a colour of the config's ``colormap``, in the
    config's order, dots with its ``alphavalue``): ``trajectory`` (every displayed
    bodypart in the image plane, y pointing down as in the video), ``plot`` (x and
    y over time), ``plot-likelihood`` and ``hist`` (the steps between frames).
    The names end as DeepLabCut's do: ``_filtered`` for filtered predictions (so
    the unfiltered figures are kept), then the animal's name when there are
    several (``trajectory_filteredmouse1.png``), then ``imagetype``.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    videos, videotype, shuffle, filtered, destfolder
        As for :func:`posekit.engine.api.video_predictions`.
    track_method
        Several animals: the tracks of this tracker (``"ellipse"``: ``…_el.h5``,
        ``"box"``: ``…_bx.h5``, ``"keypoints"``: ``…_sk.h5``; default: the config's
        ``default_track_method`` as in DeepLabCut, not the newest tracks file:
        :func:`~posekit.engine.postprocessing.track_method_of`). Prediction files
        given in ``videos`` are plotted as they are.
    displayedbodyparts, displayedindividuals
        ``"all"``, a list or one name (drawn in the predictions' order, as
        DeepLabCut does).
    imagetype
        ``".png"``, ``".svg"`` (or several, as a list).
    pcutoff
        Default: the config's.

    Returns
    -------
    list of Path
        The figures written.

    Raises
    ------
    ValueError
        If a displayed bodypart or individual is not in the predictions, or
        ``track_method`` (or the config's ``default_track_method``) is not one of
        posekit's trackers.
    """
    from .api import _prediction_pairs
    from .io import load_poses
    from .plotting import save_dlc_plots
    from .postprocessing import FILTERED_SUFFIX, track_method_of
    from .project import as_project

    project = as_project(config)
    cut = project.pcutoff if pcutoff is None else float(pcutoff)
    kinds = [imagetype] if isinstance(imagetype, str) else list(imagetype)
    formats = tuple(k.lower().lstrip(".") for k in kinds)
    out = []
    pairs = _prediction_pairs(
        project,
        videos,
        filtered,
        videotype or None,
        shuffle,
        destfolder,
        track_method_of(project, track_method),
        outcome="no plot is made",
    )
    for video, h5 in pairs:
        ds = load_poses(h5)
        ds = _displayed(ds, "keypoint", displayedbodyparts, "displayedbodyparts", h5)
        ds = _displayed(
            ds, "individual", displayedindividuals, "displayedindividuals", h5
        )
        ds["position"] = ds["position"].where(ds["confidence"] >= cut)
        stem = video.stem if video is not None else h5.name.split("DLC_")[0]
        folder = Path(destfolder or h5.parent) / "plot-poses" / stem
        several = ds.sizes["individual"] > 1 or project.multianimal
        for individual in ds["individual"].values:
            out += save_dlc_plots(
                ds,
                folder,
                suffix=FILTERED_SUFFIX if h5.stem.endswith(FILTERED_SUFFIX) else "",
                animal=str(individual) if several else "",
                formats=formats,
                individual=str(individual),
                colormap=project.display.colormap,
                alpha=project.display.alphavalue,
            )
    return out


def _displayed(
    ds: Any, dim: str, wanted: str | Sequence[str], name: str, h5: Path
) -> Any:
    """``ds`` with the ``wanted`` names of ``dim`` (``"all"``: as is), in its order."""
    if isinstance(wanted, str) and wanted == "all":
        return ds
    chosen = {wanted} if isinstance(wanted, str) else {str(w) for w in wanted}
    have = [str(v) for v in ds[dim].values]
    unknown = sorted(chosen - set(have))
    if unknown or not chosen:
        what = f"{unknown} not in {h5.name}" if unknown else "names nothing"
        raise ValueError(
            f"{name}={wanted!r}: {what}; give some of {have} (those of "
            f"{h5.name}) or 'all'."
        )
    return ds.sel({dim: [v for v in have if v in chosen]})


def _bone(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Return length, orientation (degrees from +x towards +y, 0–360), likelihood."""
    dx = b["x"].to_numpy(float) - a["x"].to_numpy(float)
    dy = b["y"].to_numpy(float) - a["y"].to_numpy(float)
    likelihood = np.fmin(
        a["likelihood"].to_numpy(float), b["likelihood"].to_numpy(float)
    )
    return pd.DataFrame(
        {
            "length": np.hypot(dx, dy),
            "orientation": np.degrees(np.arctan2(dy, dx)) % 360.0,
            "likelihood": likelihood,
        },
        index=a.index,
    )


@dlc_keywords(modelprefix=ignored("posekit's models are in the project"))
def analyzeskeleton(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike],
    videotype: str = "",
    shuffle: int = 1,
    filtered: bool = False,
    save_as_csv: bool = False,
    destfolder: str | os.PathLike | None = None,
    return_data: bool = False,
    track_method: str | None = None,
) -> list[Path] | dict[Path, pd.DataFrame]:
    """Length and orientation of every skeleton edge ("bone") in every frame.

    DeepLabCut's ``analyzeskeleton``: for each analysed video, a
    ``<predictions>_skeleton.h5`` (key ``df_with_missing``) with columns
    ``(bone, length|orientation|likelihood)``, bones named ``<bp1>_<bp2>`` (several
    animals: ``<animal>_<bp1>_<bp2>``, unique bodyparts left out), orientation the
    angle of ``bp1 → bp2`` in degrees from the image's x axis towards its y axis
    (0–360, as DeepLabCut computes it; image y points down), likelihood the smaller
    of the two points' (DeepLabCut takes the second point's twice). A video whose
    file exists already is skipped, as in DeepLabCut.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    videos, videotype, shuffle, filtered, destfolder
        As for :func:`posekit.engine.api.video_predictions`.
    save_as_csv
        Also write the ``.csv``.
    return_data
        Return ``{predictions file: table}`` instead of the files.
    track_method
        Several animals: the tracks of this tracker (``"ellipse"``: ``…_el.h5``,
        ``"box"``: ``…_bx.h5``, ``"keypoints"``: ``…_sk.h5``; default: the config's
        ``default_track_method`` as in DeepLabCut, not the newest tracks file:
        :func:`~posekit.engine.postprocessing.track_method_of`). Prediction files
        given in ``videos`` are read as they are.

    Returns
    -------
    list of Path or dict
        The ``_skeleton.h5`` files, or the tables.

    Raises
    ------
    ValueError
        If the config has no ``skeleton``, or ``track_method`` (or the config's
        ``default_track_method``) is not one of posekit's trackers.
    """
    from .api import video_predictions
    from .io.dlc import read_predictions, write_predictions
    from .postprocessing import track_method_of
    from .project import as_project

    project = as_project(config)
    edges = project.skeleton
    if not edges:
        raise ValueError(f"No skeleton in {project.config_path}: list its edges first.")
    files = video_predictions(
        project,
        videos,
        filtered=filtered,
        videotype=videotype or None,
        shuffle=shuffle,
        destfolder=destfolder,
        track_method=track_method_of(project, track_method),
    )
    tables: dict[Path, pd.DataFrame] = {}
    written = []
    for h5 in files:
        target = h5.with_name(h5.stem + "_skeleton.h5")
        if target.is_file():
            logger.info("%s: skeleton analysed before; skipped", h5.name)
            tables[h5] = pd.read_hdf(target, "df_with_missing")
            written.append(target)
            continue
        df = read_predictions(h5)
        scorer = df.columns.get_level_values("scorer")[0]
        sub = df[scorer]
        bones = {}
        if "individuals" in df.columns.names:
            for animal in dict.fromkeys(sub.columns.get_level_values("individuals")):
                if animal == "single":
                    continue
                for a, b in edges:
                    bones[f"{animal}_{a}_{b}"] = _bone(sub[animal][a], sub[animal][b])
        else:
            for a, b in edges:
                bones[f"{a}_{b}"] = _bone(sub[a], sub[b])
        table = pd.concat(bones, axis=1)  # columns (bone, quantity), as DLC's
        write_predictions(table, target, save_csv=save_as_csv)
        tables[h5] = table
        written.append(target)
    return tables if return_data else written


@dlc_keywords(modelprefix=ignored("posekit's models are in the project"))
def scorer_name(
    config: str | os.PathLike | Project,
    shuffle: int = 1,
    snapshot: int | str | None = None,
) -> str:
    """Return the scorer name of analysis: what DeepLabCut's ``analyze_videos`` returns.

    DeepLabCut's ``analyze_videos`` returns this name (its ``DLCscorer``, e.g.
    ``DLC_resnet50_openfieldOct30shuffle1_50000``); posekit's returns the files it
    wrote or found instead (``<video stem><scorer>.h5``). A script that used
    DeepLabCut's return value gets the name here: the same for the same shuffle,
    ``trainingsetindex`` (DeepLabCut's keyword, accepted) and snapshot.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    shuffle
        Which shuffle's network.
    snapshot
        An index into the shuffle's snapshots (-1 the newest); default: the
        config's ``snapshotindex`` (``"all"``: the newest), as analysis takes it.

    Returns
    -------
    str
        ``DLC_<net>_<Task><date>shuffle<k>_<iterations>``.

    Raises
    ------
    FileNotFoundError
        If the shuffle has no trained snapshot (the message says how to train).
    IndexError
        If ``snapshot`` is past the shuffle's snapshots.

    Examples
    --------
    >>> import posekit.engine as deeplabcut  # doctest: +SKIP
    >>> outputs = deeplabcut.analyze_videos(config, [video])  # doctest: +SKIP
    >>> scorer = scorer_name(config, shuffle=1)  # doctest: +SKIP
    >>> outputs[0].name == Path(video).stem + scorer + ".h5"  # doctest: +SKIP
    True
    """
    from .api import _one_snapshot
    from .model_folder import ModelFolder
    from .project import as_project

    project = as_project(config)
    folder = ModelFolder.of(project, shuffle)
    _, path = folder.snapshot(_one_snapshot(project, snapshot))
    return folder.scorer(path)


def analyze_videos_converth5_to_csv(
    video_folder: str | os.PathLike,
    videotype: str = ".mp4",
    listofvideos: bool = False,
) -> list[Path]:
    """Write the ``.csv`` of every predictions ``.h5`` in a folder (DeepLabCut's).

    Parameters
    ----------
    video_folder
        The folder (or, with ``listofvideos``, a list of videos whose folders).
    videotype
        Ignored: every ``<video>DLC_*.h5`` of the folder is converted.
    listofvideos
        ``video_folder`` is a list of videos.

    Returns
    -------
    list of Path
        The ``.csv`` files written.
    """
    from .io.dlc import convert_h5_to_csv
    from .postprocessing import NOT_PREDICTIONS

    folders = (
        sorted({Path(v).parent for v in video_folder})  # type: ignore[union-attr]
        if listofvideos
        else [Path(video_folder)]
    )
    out = []
    for folder in folders:
        for h5 in sorted(folder.glob("*DLC_*.h5")):
            if h5.stem.endswith(NOT_PREDICTIONS):
                continue
            out.append(convert_h5_to_csv(h5))
    return out


def analyze_videos_converth5_to_nwb(
    config: str | os.PathLike | Project,
    video_folder: str | os.PathLike | Sequence[str | os.PathLike],
    videotype: str = ".mp4",
    listofvideos: bool = False,
    **nwb_metadata: Any,
) -> list[Path]:
    """Write the NWB files of a project's predictions in a folder (DeepLabCut's).

    DeepLabCut's ``analyze_videos_converth5_to_nwb`` (DLC2NWB's
    ``convert_h5_to_nwb``): every predictions ``.h5`` of a video of ``videotype``
    in the folder (``<video>DLC_<scorer>.h5``, filtered and multi-animal tracks
    ``_el.h5`` too) made by one of this project's networks (its scorer names the
    project's task and date; others are skipped and logged) becomes ndx-pose
    ``PoseEstimation`` (:func:`posekit.engine.io.nwb.save_nwb`): the frame rate of
    the analysis, the video linked, the project's skeleton, its scorer as
    ``experimenter`` and its task and date in ``experiment_description``. One
    animal: ``<predictions stem>.nwb``; several: one file per animal,
    ``<predictions stem>_<individual>.nwb`` with the individual as ``subject_id``
    and ``identifier``, as DLC2NWB writes them
    (:func:`~posekit.engine.io.nwb.save_nwb_individuals`). Existing NWB files are
    replaced, as DeepLabCut does.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    video_folder
        The folder of the videos and their predictions (with ``listofvideos``, a
        list of videos).
    videotype
        The videos' extension (``".mp4"`` or ``"mp4"``).
    listofvideos
        ``video_folder`` is a list of videos.
    **nwb_metadata
        ``NWBFile`` metadata for every file (``subject`` as a dict of species, sex,
        age, ..., ``session_start_time``, ``lab``, ...; see
        :func:`~posekit.engine.io.nwb.save_nwb`).

    Returns
    -------
    list of Path
        The NWB files written.

    Raises
    ------
    ImportError
        Without pynwb and ndx-pose (``pip install "posekit[nwb]"``).

    Examples
    --------
    >>> import posekit.engine as deeplabcut  # doctest: +SKIP
    >>> deeplabcut.analyze_videos_converth5_to_nwb(config, "videos/")  # doctest: +SKIP
    [PosixPath('videos/m3v1mp4DLC_resnet50_openfieldOct30shuffle1_1000.nwb')]
    """
    from .io import load
    from .io.nwb import save_nwb, save_nwb_individuals
    from .postprocessing import find_predictions
    from .project import as_project

    project = as_project(config)
    if listofvideos:
        videos = [Path(v) for v in video_folder]  # type: ignore[union-attr]
    else:
        ext = videotype if videotype.startswith(".") else f".{videotype}"
        folder = Path(video_folder)  # type: ignore[arg-type]
        videos = sorted(v for v in folder.iterdir() if v.suffix.lower() == ext.lower())
    mine = f"_{project.task}{project.date}shuffle"
    metadata = {
        "experimenter": project.scorer,
        "experiment_description": f"DeepLabCut project {project.task} "
        f"({project.scorer}, {project.date})",
        "skeleton": [list(edge) for edge in project.skeleton],
        **nwb_metadata,
    }
    out: list[Path] = []
    for video in videos:
        if "_labeled" in video.stem:  # a labelled video, not a recording
            continue
        for h5 in find_predictions(video) + find_predictions(video, filtered=True):
            if mine not in h5.stem[len(video.stem) :]:
                logger.info("%s: not made by a network of %s, skipped", h5, project)
                continue
            ds = load(h5, format="DeepLabCut")
            target = h5.with_suffix(".nwb")
            if ds.sizes["individual"] > 1:
                out += save_nwb_individuals(ds, target, **metadata)
            else:
                out.append(save_nwb(ds, target, **metadata))
            logger.info("%s: converted to NWB", h5.name)
    return out


@dlc_keywords(
    rgb=ignored("images are read as RGB (grey ones too)"),
    modelprefix=ignored("posekit's models are in the project"),
)
def analyze_time_lapse_frames(
    config: str | os.PathLike | Project,
    directory: str | os.PathLike,
    frametype: str = ".png",
    shuffle: int = 1,
    save_as_csv: bool = False,
) -> list[Path]:
    """Analyse every image of a folder into ``<folder><scorer>.h5`` (DeepLabCut's).

    :func:`posekit.engine.image_analysis.analyze_images` with DeepLabCut 2's
    arguments: the images of ``directory`` with extension ``frametype``, the output
    in ``directory``.

    Parameters
    ----------
    config
        The project, its folder or its ``config.yaml``.
    directory
        The folder of images.
    frametype
        Their extension.
    shuffle
        The shuffle whose network analyses them.
    save_as_csv
        Also write the ``.csv``.

    Returns
    -------
    list of Path
        ``[the .h5]`` (an :class:`~posekit.engine.inference.AnalysisOutputs`).
    """
    from .image_analysis import analyze_images

    return analyze_images(
        config,
        directory,
        frametype=frametype,
        shuffle=shuffle,
        save_as_csv=save_as_csv,
    )
