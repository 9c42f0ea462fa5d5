"""The project verbs for multi-animal projects (train, evaluate, analyse videos).

:func:`posekit.engine.api.train_network`, :func:`~posekit.engine.api.evaluate_network`
and :func:`~posekit.engine.api.analyze_videos` come here when the project's
``multianimalproject`` is true, so the same calls (and ``posekit train``, ``evaluate``,
``analyze``) serve both kinds of project. The files are DeepLabCut's:

- training: the shuffle's model folder, with DeepLabCut's multi-animal keys in
  ``pose_cfg.yaml`` (``partaffinityfield_graph``, ``paf_best``, ``pafwidth``, …);
- evaluation: ``CombinedEvaluation-results.csv`` (errors after matching each labelled
  animal to a prediction) and a per-shuffle table with OKS mAP/mAR;
- analysis: ``<video><scorer>_full.pickle`` (candidates and affinities of every frame),
  ``_meta.pickle``, ``_assemblies.pickle``, the tracklets ``_el.pickle`` and the
  stitched tracks ``_el.h5`` (HDF key ``tracks``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..model_folder import ModelFolder, model_naming
from ..project import Project
from .assembly import AssemblyConfig

if TYPE_CHECKING:
    from ..inference import AnalysisOutputs, StopSignal
    from .tracking import TrackingConfig

__all__ = [
    "multianimal_config",
    "multianimal_predictor",
    "analysis_settings",
    "shuffle_assembly",
    "train_multianimal",
    "evaluate_multianimal",
    "track_video_detections",
    "analyze_multianimal_videos",
    "restitch_video",
    "evaluate_tracks",
    "matched_predictions",
]

logger = logging.getLogger("posekit.engine.multianimal")


def train_multianimal(
    project: Project,
    *,
    shuffle: int = 1,
    backbone: str | None = None,
    weights: str | os.PathLike | None = "auto",
    max_iterations: int | None = None,
    time_budget_s: float | None = None,
    budget_clock: Literal["wall", "cpu"] = "wall",
    batch_size: int | None = None,
    crop_size: tuple[int, int] | None = None,
    resume: bool = True,
    callbacks: Sequence[Any] = (),
    stop_event: threading.Event | None = None,
    progress: bool = True,
    eval_interval: int | None = None,
    save_interval: int | None = None,
    save_interval_s: float | None = None,
    trainer_hook: Callable[[Any], None] | None = None,
    paf_graph: Literal["auto", "all"] | Sequence[Sequence[int]] | None = None,
    paf_width: float | None = None,
    init_from: str | os.PathLike | None = "previous",
    log_interval: int | None = None,
    max_snapshots: int | None = None,
    weigh_only_present_joints: bool | None = None,
):
    """Train (or resume) the multi-animal network of a shuffle.

    A training that continues a model trains the recipe that model was trained
    with, as :func:`posekit.engine.api.train_network` does for one animal: resumed
    (``resume=True`` and snapshots in the model folder), the newest snapshot gives
    the network (its backbone when ``backbone`` is not given, the part-affinity
    graph, input scale and target radius), the crop and the augmentation, and the
    folder's ``pose_cfg.yaml`` the fields' width, their loss weight and the
    assembly settings; started from an
    earlier model (``init_from``), that model's network, graph, field width, batch
    size, crop, augmentation and learning rate are kept. A resumed run keeps the
    snapshot's batch size and learning rate too. An option given
    explicitly wins over the recorded value (``crop_size``, ``batch_size``,
    ``paf_width``…), except the graph, which is the network's: a ``paf_graph``
    other than the continued model's is refused when resuming, and makes
    ``init_from="previous"`` start from the backbone's weights instead.

    Parameters
    ----------
    project
        A multi-animal project.
    shuffle, backbone, weights, max_iterations, time_budget_s, batch_size, crop_size, resume, callbacks, stop_event, progress, eval_interval, save_interval, save_interval_s, trainer_hook, log_interval, max_snapshots, weigh_only_present_joints
        As for :func:`posekit.engine.api.train_network`.
    budget_clock
        ``"wall"`` or ``"cpu"`` seconds for ``time_budget_s`` (CPU seconds per core
        used: fair on a shared machine).
    paf_graph
        The part-affinity graph (:func:`~.graph.paf_graph`): ``"auto"``
        (DeepLabCut's rule: every pair of bodyparts, pruned from the labels above 105
        pairs), ``"all"``, or index pairs of ``multianimalbodyparts``. ``None``
        (default): the continued model's graph, else ``"auto"``.
    paf_width
        Half-width of a limb's field, network pixels (default: the continued
        model's, else from the animals' size).
    init_from
        A fresh run's starting weights, as for
        :func:`posekit.engine.api.train_network`: ``"previous"`` (after
        :func:`~posekit.engine.refinement.merge_datasets`, the newest snapshot of an
        earlier iteration, whose network and training recipe are kept), a snapshot
        file, or ``None`` (the backbone's weights).

    Returns
    -------
    posekit.engine.api.TrainResult
        ``test_error_px`` is the mean distance after matching animals.

    Raises
    ------
    ValueError
        If ``paf_graph`` is not the graph of the network resumed, or of the
        snapshot ``init_from`` names.
    """
    from ..api import (
        _ensure_training_set,
        _given_settings,
        _init_from_pose_cfg,
        _kept_net_type,
        _resumed_train_config,
        _run_trainer,
        _train_config_changes,
        _warm_start,
        backbone_choice,
    )
    from ..models.pose_model import PoseModelConfig
    from .training import MultiAnimalTrainer

    _warn_identity(project, "trains")
    out = ModelFolder.of(project, shuffle).path
    fresh = resume is False or not ModelFolder(out).snapshots()
    resumed = None if fresh else ModelFolder(out)
    given = _given_settings(
        batch_size=batch_size,
        save_interval=save_interval,
        log_interval=log_interval,
        max_snapshots=max_snapshots,
        max_iterations=(max_iterations, time_budget_s),
        init_from=init_from,
        crop_size=crop_size,
        paf_width=paf_width,
    )
    init_from = _init_from_pose_cfg(project, shuffle, init_from, fresh)
    warm = _warm_start(project, shuffle, init_from, backbone, fresh)
    ts = _ensure_training_set(project, shuffle)
    layout = ts.layout
    animals = ts.keypoints[ts.train_indices].reshape(-1, layout.n_multi, 2)
    if warm is not None:
        warm = _warm_graph(warm, paf_graph, layout, animals, init_from)
    elif fresh and paf_graph is None:
        paf_graph = _pose_cfg_graph(ModelFolder(out), layout, animals)
    if resumed is not None and backbone is None:  # the network resumed
        backbone = resumed.model_config(-1).backbone
    choice = backbone_choice(project, backbone, weights, shuffle=shuffle)
    if choice.notice and warm is None and resumed is None:
        logger.warning("%s", choice.notice)
    changes = _train_config_changes(
        crop_size=crop_size,
        batch_size=batch_size,
        max_iterations=max_iterations,
        time_budget_s=time_budget_s,
        budget_clock=budget_clock,
        save_interval=save_interval,
        save_interval_s=save_interval_s,
        eval_interval=eval_interval,
        log_interval=log_interval,
        max_snapshots=max_snapshots,
        weigh_only_present_joints=weigh_only_present_joints,
    )
    init_path = None
    if warm is not None:  # the previous model's network and recipe
        init_path, model_config, base_config = warm
        if crop_size is None:
            changes.pop("crop_size")
        train_config = base_config.replace(**changes)
        recorded = _recorded_multi(
            ModelFolder.at(init_path), model_config.paf_edges, layout
        )
        multi = _continued(recorded, layout, paf_width)
    else:
        train_config = _resumed_train_config(resumed).replace(**changes)
        multi = _new_or_resumed(resumed, layout, animals, paf_graph, paf_width)
        model_config = PoseModelConfig(
            bodyparts=tuple(layout.bodyparts),
            backbone=choice.backbone,
            weights=choice.weights,
            paf_edges=multi.paf_edges,
        )
    trainer = MultiAnimalTrainer(
        model_config,
        multi,
        train_config,
        out,
        flip_pairs=ts.flip_pairs,
        callbacks=list(callbacks),
        progress=progress,
        pose_cfg_extra={
            "project_path": str(project.path),
            "dataset": str(project.training_set_dir()),
            **model_naming(project, shuffle=shuffle, train_fraction=ts.train_fraction),
            "configured_net_type": choice.configured,
            "backbone_notice": "" if init_path else choice.notice,
            **_kept_net_type(project, shuffle),
        },
        init_weights=init_path,
        dlc_settings=True,  # the DeepLabCut keys the user set in its pose_cfg.yaml
        given=given,
    )
    return _run_trainer(
        trainer,
        ts,
        resume=resume,
        stop_event=stop_event,
        trainer_hook=trainer_hook,
        init_path=init_path,
    )


def _warn_identity(project: Project, verb: str) -> bool:
    """Log that ``identity: true`` in ``config.yaml`` is not used (one warning).

    DeepLabCut trains an identity head with ``identity: true`` (who is who, by
    looks) and tracks with it; posekit's networks have none, so the animals are
    tracked by motion only. The key stays in ``config.yaml`` as the user wrote it.

    Parameters
    ----------
    project
        A multi-animal project.
    verb
        What posekit is doing, for the message (``"trains"``, ``"tracks"``).

    Returns
    -------
    bool
        Whether the config has ``identity: true`` (and the warning was logged).
    """
    from .dataset import identity_enabled
    from .tracking import TRACK_METHODS

    if not identity_enabled(project):
        return False

    logger.warning(
        "config.yaml has identity: true: DeepLabCut would train an identity head "
        "(who is who, by the animals' looks) and track with it; posekit's networks "
        "have no identity head, so it %s without one: the animals are told apart by "
        "their motion only (the tracker: %s; track_method= or posekit analyze "
        "--track-method, default the config's default_track_method). identity is "
        "left as it is in %s.",
        verb,
        ", ".join(repr(m) for m in TRACK_METHODS),
        project.config_path,
    )
    return True


def _graph_of(
    paf_graph: Literal["auto", "all"] | Sequence[Sequence[int]],
    layout: Any,
    animals: np.ndarray,
) -> tuple[tuple[int, int], ...]:
    """Return the part-affinity graph ``paf_graph`` asks for, as index pairs."""
    from .graph import paf_graph as make_graph

    edges = make_graph(layout.n_multi, animals, edges=paf_graph)
    return tuple((int(a), int(b)) for a, b in edges)


def _pose_cfg_graph(
    folder: ModelFolder, layout: Any, animals: np.ndarray
) -> list[tuple[int, int]] | None:
    """Return the ``partaffinityfield_graph`` the user set in ``pose_cfg.yaml``.

    A graph other than the one DeepLabCut's rule gives (``"auto"``): one the user
    edited, or one DeepLabCut wrote (from ``config.yaml``'s skeleton, or from its
    data-driven pruning). ``None``: none set, or the rule's own.

    Raises
    ------
    ValueError
        The value is not a list of index pairs of ``multianimalbodyparts``.
    """
    from .. import _dlc_pose_cfg

    path = folder.path / "pose_cfg.yaml"
    if not path.is_file():
        return None
    try:
        value = _dlc_pose_cfg.user_choices(folder.pose_cfg()).get(
            "partaffinityfield_graph"
        )
    except ValueError:
        return None  # damaged: rewritten whole by the training
    if value is None:
        return None
    try:
        edges = _graph_of(value, layout, animals)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: partaffinityfield_graph: {value!r} cannot be used ({err}). Give "
            "pairs of indices of multianimalbodyparts "
            f"{list(layout.multi_bodyparts)} (0 to {layout.n_multi - 1}), or delete "
            "the line (posekit then chooses the graph)."
        ) from None
    if edges == _graph_of("auto", layout, animals):
        return None
    logger.info("pose_cfg.yaml: partaffinityfield_graph %s (your value)", value)
    return [tuple(e) for e in edges]


def _warm_graph(
    warm: tuple[Path, Any, Any],
    paf_graph: Literal["auto", "all"] | Sequence[Sequence[int]] | None,
    layout: Any,
    animals: np.ndarray,
    init_from: str | os.PathLike | None,
) -> tuple[Path, Any, Any] | None:
    """Keep a warm start whose network has the graph asked for (``None``: any).

    A snapshot named by ``init_from`` with another graph is refused; the previous
    iteration's model is passed over with a warning (the run starts from the
    backbone's weights), as :func:`posekit.engine.api.train_network` does for a
    backbone.
    """
    path, model_config, _ = warm
    if paf_graph is None:
        return warm
    recorded = tuple(tuple(e) for e in model_config.paf_edges)
    wanted = _graph_of(paf_graph, layout, animals)
    if wanted == recorded:
        return warm
    reason = (
        f"its part-affinity graph is {[list(e) for e in recorded]}, not the "
        f"paf_graph asked for ({[list(e) for e in wanted]})"
    )
    if not (isinstance(init_from, str) and init_from == "previous"):
        raise ValueError(
            f"Cannot start from {path}: {reason}. Leave paf_graph out to train its "
            "graph, or start from the backbone's weights (init_from=None)."
        )
    logger.warning("not starting from %s: %s", path, reason)
    return None


def _recorded_multi(folder: ModelFolder, edges: Sequence[Sequence[int]], layout: Any):
    """Return the multi-animal settings recorded in ``folder`` for a network's graph.

    The graph is the network's (``edges``); the field width, loss weight and assembly
    come from the folder's ``pose_cfg.yaml`` when it records that graph, else they
    are the defaults.
    """
    from .training import MultiAnimalConfig

    edges = tuple((int(a), int(b)) for a, b in edges)
    try:
        recorded = multianimal_config(folder)
    except (FileNotFoundError, ValueError):
        recorded = None
    if recorded is None or recorded.paf_edges != edges:
        return MultiAnimalConfig(layout, edges)  # not this network's settings
    return recorded


def _continued(recorded: Any, layout: Any, paf_width: float | None) -> Any:
    """Return the recorded multi-animal settings of a continued model, on ``layout``.

    ``paf_width`` given wins; the assembly settings are kept while the number of
    individuals is the same.
    """
    from .training import MultiAnimalConfig

    same = recorded.layout.n_individuals == layout.n_individuals
    return MultiAnimalConfig(
        layout,
        recorded.paf_edges,
        paf_width=recorded.paf_width if paf_width is None else paf_width,
        paf_loss_weight=recorded.paf_loss_weight,
        assembly=recorded.assembly if same else None,
    )


def _new_or_resumed(
    folder: ModelFolder | None,
    layout: Any,
    animals: np.ndarray,
    paf_graph: Literal["auto", "all"] | Sequence[Sequence[int]] | None,
    paf_width: float | None,
) -> Any:
    """Return the multi-animal settings of a new run, or of the run ``folder`` resumes.

    Resumed: the newest snapshot's graph, and the field width, loss weight and
    assembly settings of the folder's ``pose_cfg.yaml``.

    Raises
    ------
    ValueError
        If ``paf_graph`` is not the resumed network's graph.
    """
    from .training import MultiAnimalConfig

    if folder is None:
        edges = _graph_of(paf_graph or "auto", layout, animals)
        return MultiAnimalConfig(layout, edges, paf_width=paf_width)
    recorded = _recorded_multi(folder, folder.model_config(-1).paf_edges, layout)
    if paf_graph is not None:
        wanted = _graph_of(paf_graph, layout, animals)
        if wanted != recorded.paf_edges:
            raise ValueError(
                f"{folder.path} holds a training of the part-affinity graph "
                f"{[list(e) for e in recorded.paf_edges]}, not the paf_graph asked "
                f"for ({[list(e) for e in wanted]}); resuming trains the network's "
                "graph. Leave paf_graph out to resume, or start over (resume=False) "
                "to train the new graph."
            )
    return _continued(recorded, layout, paf_width)


def multianimal_config(folder: ModelFolder):
    """Read the :class:`~.training.MultiAnimalConfig` a model folder was trained with.

    Raises
    ------
    ValueError
        If the folder holds a single-animal model.
    """
    from .training import MultiAnimalConfig

    section = (folder.pose_cfg().get("posekit") or {}).get("multianimal")
    if not section:
        raise ValueError(
            f"{folder.path} holds a single-animal model (no multianimal section in "
            "pose_cfg.yaml)"
        )
    return MultiAnimalConfig.from_dict(section)


def analysis_settings(
    project: Project,
    folder: ModelFolder,
    assembly: AssemblyConfig,
    track_method: str,
    n_tracks: int,
    *,
    n_given: int | None = None,
    inferencecfg: Any = None,
) -> tuple[AssemblyConfig, TrackingConfig, int]:
    """Return the assembly, the tracker and the animals per frame of a shuffle's analysis.

    posekit's settings (``assembly``, the training's; the tracker's defaults; at most
    ``n_tracks`` animals per frame), with the values the user set in the shuffle's
    ``test/inference_cfg.yaml`` (DeepLabCut's assembly and tracking settings, written
    by :func:`~posekit.engine.dataset.create_training_dataset`), or in
    ``inferencecfg`` instead: see :mod:`._inference_cfg`. Values left at
    DeepLabCut's defaults change nothing; ``n_given`` (``n_tracks``, ``posekit
    analyze --animals``, given by the user) wins over ``topktoretain``.

    Parameters
    ----------
    project
        The multi-animal project.
    folder
        The shuffle's model folder (``…/train``).
    assembly
        posekit's assembly settings (the training's).
    track_method
        The tracker (``"ellipse"``, ``"box"``, ``"keypoints"``).
    n_tracks
        The animals the analysis stitches.
    n_given
        The animals given by the user (``None``: not given).
    inferencecfg
        DeepLabCut's ``inferencecfg=``: a mapping read instead of the file.

    Returns
    -------
    assembly : AssemblyConfig
    tracking : TrackingConfig
    max_individuals : int

    Raises
    ------
    ValueError
        The file cannot be read, or a value in it is wrong (the message names the
        file and the key).
    """
    from ._inference_cfg import shuffle_choices
    from .tracking import TrackingConfig

    choices = shuffle_choices(
        project, folder.path.parent, track_method=track_method, given=inferencecfg
    )
    most = int(n_tracks)
    if choices.max_individuals is not None and not n_given:
        most = int(choices.max_individuals)
    return (
        assembly.replace(**choices.assembly, max_individuals=most),
        TrackingConfig(method=track_method, **choices.tracking),  # type: ignore[arg-type]
        most,
    )


def shuffle_assembly(project: Project, folder: ModelFolder) -> AssemblyConfig:
    """Return the assembly settings of a shuffle's predictions outside video analysis.

    The training's settings with the values the user set in the shuffle's
    ``test/inference_cfg.yaml`` (``pafthreshold``, ``pcutoff``,
    ``minimalnumberofconnections``, ``topktoretain``: :func:`analysis_settings`), as
    DeepLabCut's evaluation assembles the labelled frames with that file's values:
    for ``evaluate_network``, ``analyze_images`` and the training app's worst frames.
    """
    individuals = (
        len(project.individuals) or multianimal_config(folder).layout.n_individuals
    )
    method = str(project.get("default_track_method") or "ellipse")
    assembly, _, _ = analysis_settings(
        project, folder, multianimal_config(folder).assembly, method, individuals
    )
    return assembly


def multianimal_predictor(
    folder: ModelFolder,
    snapshot: Any = -1,
    *,
    batch_size: int = 1,
    assembly: AssemblyConfig | None = None,
    max_individuals: int | None = None,
):
    """Build the :class:`~.inference.MultiAnimalPredictor` of a trained snapshot.

    Parameters
    ----------
    folder
        The model folder.
    snapshot
        Which snapshot (index or file).
    batch_size
        Frames per network call.
    assembly
        Assembly settings (default: those recorded at training).
    max_individuals
        Override the number of animals per frame.

    Returns
    -------
    MultiAnimalPredictor
    """
    from .inference import MultiAnimalPredictor
    from .peaks import nms_radius_from_dlc

    multi = multianimal_config(folder)
    assembly = assembly or multi.assembly
    if max_individuals is not None:
        assembly = assembly.replace(max_individuals=int(max_individuals))
    path = snapshot if isinstance(snapshot, Path) else folder.snapshot(snapshot)[1]
    model = folder.load(path)
    nmsradius = folder.pose_cfg().get("nmsradius")
    return MultiAnimalPredictor(
        model,
        multi.layout.n_multi,
        multi.layout.n_unique,
        assembly=assembly,
        batch_size=batch_size,
        nms_radius=nms_radius_from_dlc(nmsradius) if nmsradius else None,
    )


def evaluate_multianimal(
    project: Project,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    plot: bool = False,
) -> pd.DataFrame:
    """Train and test accuracy of a multi-animal shuffle, as DeepLabCut reports it.

    Writes ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv`` (DLC's
    columns; the errors are mean distances after matching each labelled animal to a
    prediction) and ``<DLCscorer>-results.csv`` in the shuffle's folder with OKS
    mAP/mAR, RMSE and the errors with p-cutoff (no per-bodypart errors or PCK: those
    are the single-animal evaluation's). With ``plot``, an image of every
    labelled frame in ``LabeledImages_<DLCscorer>_snapshot-<N>/`` (DeepLabCut's
    ``Training-<video>-<image>.png`` / ``Test-…``): each labelled animal (crosses)
    joined to the predicted animal matched to it, and the predicted animals left
    unmatched.

    The errors "with p-cutoff" count only the matched keypoints whose predicted
    likelihood is at least the config's ``pcutoff`` (as DeepLabCut). The OKS mAP
    ranks each frame's assembled animals by the assembly's score: the sum of the
    animal's keypoint likelihoods divided by the number of multi-animal bodyparts
    (a bodypart not found counts 0). The assembled animals of the labelled frames
    are written beside the results so that the mAP can be recomputed:
    ``<DLCscorer>-snapshot-<N>.h5`` (DeepLabCut's name; multi-animal columns, each
    frame's animals highest score first in the individuals' columns, which are
    slots, not identities) and ``<DLCscorer>-snapshot-<N>-scores.csv`` (one row per
    animal: ``image``, ``split``, ``individuals``, ``score``, ``mean_likelihood``).

    Returns
    -------
    pandas.DataFrame
        One row with the train/test metrics.

    Raises
    ------
    FileNotFoundError
        The shuffle has no trained network, or a trained one lost its split
        (nothing is written: :func:`posekit.engine.api.evaluate_network`).
    """
    from ..api import (
        _check_evaluable,
        _ensure_training_set,
        _split_summaries,
        _warn_changed_labels,
        _write_evaluation,
    )
    from .metrics import assembly_metrics

    _check_evaluable(project, shuffle)  # creates nothing, as DeepLabCut's
    ts = _ensure_training_set(project, shuffle)
    _warn_changed_labels(project, shuffle, ts)
    folder = ModelFolder.of(project, shuffle)
    iteration, path = folder.snapshot(snapshot)
    predictor = multianimal_predictor(
        folder, path, assembly=shuffle_assembly(project, folder)
    )
    result = predictor(ts.images)
    train, test = _split_summaries(
        ts,
        lambda idx: assembly_metrics(
            [result[i].animals for i in idx],
            [ts.keypoints[i] for i in idx],
            [result[i].scores for i in idx],
            pcutoff=project.pcutoff,
        ),
    )
    nan = float("nan")
    table = _write_evaluation(
        project,
        shuffle,
        folder.scorer(path),
        iteration,
        ts.train_fraction,
        train,
        test,
        pcutoff_error="mean_error_pcutoff_px",
        columns={
            "Train mAP": train.get("map", nan),
            "Test mAP": test.get("map", nan),
            "Train mAR": train.get("mar", nan),
            "Test mAR": test.get("mar", nan),
            "p-cutoff used": project.pcutoff,
            "Train error with p-cutoff": train.get("mean_error_pcutoff_px", nan),
            "Test error with p-cutoff": test.get("mean_error_pcutoff_px", nan),
        },
    )
    _write_evaluated_assemblies(
        project.evaluation_dir(shuffle), folder.scorer(path), iteration, ts, result
    )
    if plot:
        from ..evaluation import evaluation_image_names, write_evaluation_images

        scorer = folder.scorer(path)
        write_evaluation_images(
            project.evaluation_dir(shuffle)
            / f"LabeledImages_{scorer}_snapshot-{iteration}",
            evaluation_image_names(ts.paths, ts.train_indices, ts.test_indices),
            lambda i: _draw_evaluation_frame(ts, i, result[i], project),
        )
    return table


def _write_evaluated_assemblies(
    folder: Path, scorer: str, iteration: int, ts: Any, result: Sequence[Any]
) -> tuple[Path, Path]:
    """Write the assembled animals of the evaluated frames and their ranking scores.

    ``<stem>.h5`` (DeepLabCut's ``<DLCscorer>-snapshot-<N>.h5`` of the labelled
    frames, multi-animal columns ``scorer/individuals/bodyparts/coords``): frame
    ``f``'s animals in the order of their scores, highest first, in the columns of
    the project's individuals (``ind<k>`` beyond them); the individuals are slots,
    not identities. ``<stem>-scores.csv``: one row per assembled animal (``image``,
    ``split``, ``individuals``, ``score`` that ranks it for the OKS mAP,
    ``mean_likelihood`` of its keypoints found).
    """
    from .._fileio import atomic_path
    from ..io.dlc import paths_to_index, write_hdf
    from .layout import SINGLE
    from .outputs import tracks_frame

    stem = f"{scorer}-snapshot-{iteration}"
    n_multi = len(ts.layout.multi_bodyparts)
    n_unique = len(ts.layout.unique_bodyparts)
    n_slots = max([len(ts.layout.individuals), *(len(r.animals) for r in result)])
    animals = np.full((len(result), n_slots, n_multi, 3), np.nan)
    unique = np.full((len(result), n_unique, 3), np.nan)
    split = np.full(len(result), "", dtype=object)
    split[np.asarray(ts.train_indices, int)] = "train"
    split[np.asarray(ts.test_indices, int)] = "test"
    rows = []
    for f, found in enumerate(result):
        ranks = np.asarray(found.scores, float).reshape(-1)
        order = np.argsort(-ranks, kind="stable")  # highest score first
        a = np.asarray(found.animals, float).reshape(-1, n_multi, 3)[order]
        animals[f, : len(a)] = a
        u = np.asarray(found.unique, float).reshape(-1, 3)[:n_unique]
        unique[f, : len(u)] = u
        for k, score in enumerate(ranks[order]):
            found_here = np.isfinite(a[k, :, 0]) & np.isfinite(a[k, :, 2])
            like = float(a[k, found_here, 2].mean()) if found_here.any() else 0.0
            rows.append((ts.paths[f], split[f], k, float(score), like))
    df = tracks_frame(animals, ts.layout, scorer, unique if n_unique else None)
    names = list(df.columns.get_level_values("individuals").unique())
    names = [n for n in names if n != SINGLE]
    df.index = paths_to_index(ts.paths)
    folder.mkdir(parents=True, exist_ok=True)
    h5 = write_hdf(df, folder / f"{stem}.h5", format="fixed")
    scores = pd.DataFrame(
        [(img, sp, names[k], sc, lk) for img, sp, k, sc, lk in rows],
        columns=["image", "split", "individuals", "score", "mean_likelihood"],
    )
    csv = folder / f"{stem}-scores.csv"
    with atomic_path(csv) as tmp:
        scores.to_csv(tmp, index=False)
    return Path(h5), csv


def _draw_evaluation_frame(ts: Any, i: int, found: Any, project: Project) -> np.ndarray:
    """One evaluation image: labelled animals beside their matches, unique parts first.

    Each predicted animal matched to a labelled one (:func:`~.metrics.match_instances`)
    is drawn in that animal's slot, joined to its labels; the unmatched predicted
    animals follow, without labels. Colours are per bodypart, as DeepLabCut's
    default ``bodypart`` mode.
    """
    from ..drawing import bodypart_colors, draw_predictions
    from .metrics import match_instances

    labels = np.asarray(ts.keypoints[i], float)  # (I, Km, 2)
    n_multi = labels.shape[1]
    animals = np.asarray(found.animals, float).reshape(-1, n_multi, 3)
    p, g, _ = match_instances(animals, labels)
    slots = np.full((*labels.shape[:2], 3), np.nan)
    slots[g] = animals[p]
    extra = np.delete(animals, p, axis=0)
    unique_pred = np.asarray(found.unique, float).reshape(-1, 3)
    unique_gt = np.asarray(ts.unique[i], float).reshape(-1, 2)[: len(unique_pred)]
    unique_pred = unique_pred[: len(unique_gt)]
    colors = bodypart_colors(n_multi + len(unique_gt), project.display.colormap)
    rows = len(labels) + len(extra)
    return draw_predictions(
        ts.images[i],
        np.concatenate([unique_pred, slots.reshape(-1, 3), extra.reshape(-1, 3)]),
        np.concatenate(
            [unique_gt, labels.reshape(-1, 2), np.full((extra.size // 3, 2), np.nan)]
        ),
        colors=np.concatenate([colors[n_multi:], np.tile(colors[:n_multi], (rows, 1))]),
        bodyparts=[
            *ts.layout.unique_bodyparts[: len(unique_gt)],
            *ts.layout.multi_bodyparts,
        ],
        pcutoff=project.pcutoff,
    )


def track_video_detections(
    assemblies: Sequence[Any],
    n_tracks: int,
    *,
    tracking: Any = None,
    stitching: Any = None,
):
    """Track a video's assembled animals and stitch them into ``n_tracks`` animals.

    Parameters
    ----------
    assemblies
        One :class:`~.assembly.Assemblies` per frame.
    n_tracks
        Animals wanted (the project's individuals).
    tracking
        :class:`~.tracking.TrackingConfig` (default: ellipse similarity).
    stitching
        :class:`~.stitching.StitchConfig` (default: ``n_tracks`` tracks).

    Returns
    -------
    tracklets : list of Tracklet
    tracks : numpy.ndarray
        ``(n_frames, n_tracks, n_multi, 3)``.
    """
    from .stitching import StitchConfig, stitch_tracklets
    from .tracking import TrackingConfig, track_animals

    tracklets = track_animals(
        [a.animals for a in assemblies], tracking or TrackingConfig()
    )
    config = stitching or StitchConfig(n_tracks=int(n_tracks))
    tracks, _ = stitch_tracklets(tracklets, len(assemblies), config)
    return tracklets, tracks


def analyze_multianimal_videos(
    project: Project,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    batch_size: int | None = None,
    n_tracks: int | None = None,
    track_method: str | None = None,
    netcdf: bool = False,
    progress: bool | Callable[[int, int], None] = True,
    overwrite: bool = False,
    stop_event: StopSignal | None = None,
) -> AnalysisOutputs:
    """Analyse videos with a multi-animal shuffle: detect, assemble, track, stitch.

    Writes DeepLabCut's files beside each video (or in ``destfolder``):
    ``<stem><scorer>_full.pickle``, ``_meta.pickle``, ``_assemblies.pickle``, the
    tracklets ``_<el|bx|sk>.pickle`` and the tracks ``_<el|bx|sk>.h5`` (key
    ``tracks``; ``.csv`` with ``save_as_csv``; ``.nc`` with ``netcdf``).

    The detections so far are saved beside the outputs every minute and when the
    analysis is interrupted (Ctrl-C, ``stop_event``):
    ``.<stem><scorer>_full.partial.pickle``
    (:class:`~.inference.PartialDetections`). The next run with the same model
    and options resumes there ("resuming at frame k" in the log) and writes the
    files an uninterrupted run writes; the partial file is removed once the
    ``_full.pickle`` is written.

    Parameters
    ----------
    project
        A multi-animal project.
    videos
        Videos (default: the project's).
    shuffle, snapshot, destfolder, save_as_csv
        As for :func:`posekit.engine.api.analyze_videos`.
    batch_size
        Frames per network call (default: by frame size, at most ``config.yaml``'s
        ``batch_size``: :func:`~posekit.engine.api.config_batch_size`).
    n_tracks
        Animals to stitch (default: the project's individuals).
    track_method
        ``"ellipse"``, ``"box"`` or ``"keypoints"`` (default: the config's
        ``default_track_method``, else ellipse).
    netcdf
        Also write the movement-schema netCDF of the tracks.
    progress
        tqdm bar, or ``progress(done, total)``.
    overwrite
        Analyse again the videos whose tracks file for this network and tracker is
        there already (by default they are skipped, as in DeepLabCut).
    stop_event
        A ``threading.Event`` another thread (a Stop button) sets to stop: it is
        checked before each video, before each batch goes through the network and
        before a video's detections are tracked. The detections so far are kept
        (above), no tracks file is written for the video, and
        :class:`~posekit.engine.inference.AnalysisStopped` is raised (its
        ``outputs``: the tracks files done before); the same call resumes there
        (a video stopped after its detections is tracked from its
        ``_full.pickle``, without the network).

    Returns
    -------
    AnalysisOutputs
        The tracks files (``…_el.h5``), those analysed before included, with
        ``skipped`` (analysed before) and ``failed`` (unreadable videos and why),
        checked before the first video as for single-animal projects
        (:func:`~posekit.engine.inference.plan_analysis`).

    Raises
    ------
    ValueError
        If two videos would write the same tracks file.
    posekit.engine.video.VideoError
        If no video can be read.
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set (not an error).
    """
    from ..api import _destinations, config_batch_size
    from ..inference import (
        AnalysisOutputs,
        AnalysisStopped,
        check_stop,
        default_batch_size,
        plan_analysis,
        set_aside_analysis,
        stop_asked,
        video_metadata,
    )
    from ..io.dlc import write_analysis_metadata
    from ..io.sleap import _warn_track_slots
    from .inference import PartialDetections, predict_video_detections
    from .outputs import (
        full_pickle_metadata,
        save_full_pickle,
    )
    from .tracking import TRACK_METHODS

    folder = ModelFolder.of(project, shuffle)
    _, path = folder.snapshot(snapshot)
    _warn_identity(project, "tracks")
    _warn_track_slots(project)  # individuals named after SLEAP tracks: slots
    folder.ensure_dlc_markers()
    scorer = folder.scorer(path)
    multi = multianimal_config(folder)
    layout = multi.layout
    method = track_method or str(project.get("default_track_method") or "ellipse")
    if method not in TRACK_METHODS:
        raise ValueError(
            f"track_method must be one of {sorted(TRACK_METHODS)}; got {method!r}"
        )
    suffix = TRACK_METHODS[method]
    given_tracks = n_tracks
    n_tracks = int(n_tracks or len(project.individuals) or layout.n_individuals)
    assembly, tracking, max_animals = analysis_settings(
        project, folder, multi.assembly, method, n_tracks, n_given=given_tracks
    )
    meta = dict(folder.info)
    meta["iteration"] = meta["iteration (active-learning)"]
    own_videos = not videos
    videos = project.source_videos() if own_videos else list(map(Path, videos))
    dests = _destinations(project, videos, destfolder, own_videos)
    for video, dest in dests.items():  # another network's files of the same name
        set_aside_analysis(
            Path(dest or video.parent) / f"{video.stem}{scorer}", meta, video
        )
    restitched: list[Path] = []
    if not overwrite:  # other animals or tracker: from the detections, no network
        redo = _changed_animals(dests, scorer, suffix, n_tracks)
        for video, (h5, had) in redo.items():
            check_stop(stop_event, video, restitched)
            restitched.append(
                restitch_video(
                    h5,
                    layout,
                    n_tracks,
                    assembly=assembly,
                    track_method=method,
                    tracking=tracking,
                    max_individuals=max_animals,
                    scorer=scorer,
                    save_as_csv=save_as_csv,
                    netcdf=netcdf,
                )
            )
            full = f"{h5.name[: -len(f'_{suffix}.h5')]}_full.pickle"
            if had is None:
                logger.warning(
                    "%s: detected before with this network; tracked its detections "
                    "(%s) with the %s tracker without running the network again "
                    "(--overwrite analyses it again)",
                    video.name,
                    full,
                    method,
                )
            else:
                logger.warning(
                    "%s: analysed before with this network into %s; re-stitched its "
                    "detections (%s) into %s without running the network again "
                    "(--overwrite analyses it again)",
                    video.name,
                    _counted(had, "animal"),
                    full,
                    _counted(n_tracks, "animal"),
                )
        dests = {v: d for v, d in dests.items() if v not in redo}
    if not dests:
        return AnalysisOutputs(restitched)
    plan = plan_analysis(dests, scorer, overwrite=overwrite, suffix=f"_{suffix}")
    outputs = plan.outputs()
    outputs.extend(restitched)
    predictors: dict[int, Any] = {}
    most = config_batch_size(project) if batch_size is None else None
    for video in plan.todo:
        check_stop(stop_event, video, outputs)  # loading the model takes seconds
        shape = plan.sizes[video]
        bs = int(batch_size or default_batch_size(shape, most))
        if bs not in predictors:
            predictors[bs] = multianimal_predictor(
                folder,
                path,
                batch_size=bs,
                assembly=assembly,
                max_individuals=max_animals,
            )
        predictor = predictors[bs]
        dest = Path(dests[video] or video.parent)
        dest.mkdir(parents=True, exist_ok=True)
        stem = dest / f"{video.stem}{scorer}"
        partial = PartialDetections.for_video(
            f"{stem}_full.pickle", predictor, video, model=path
        )
        try:
            dets, info = predict_video_detections(
                predictor,
                video,
                progress=progress,
                checkpoint=partial,
                stop_event=stop_event,
            )
        except AnalysisStopped as stop:
            raise stop.with_outputs(outputs) from None
        cfg = predictor.config
        save_full_pickle(
            f"{stem}_full.pickle",
            dets,
            full_pickle_metadata(
                layout,
                cfg.paf_edges,
                len(dets),
                nms_radius=2 * predictor.nms_radius + 1,
                min_confidence=predictor.peak_threshold,
                sigma=cfg.sigma,
                nms_distance=predictor.nms_distance,
            ),
        )
        data = video_metadata(
            info,
            scorer=scorer,
            bodyparts=list(layout.multi_bodyparts),
            batch_size=bs,
            model_config=meta,
            individuals=list(project.individuals) or list(layout.individuals),
            unique_bodyparts=list(layout.unique_bodyparts),
        )
        write_analysis_metadata(f"{stem}_meta.pickle", data)
        partial.remove()
        if stop_asked(stop_event):  # tracked from the _full.pickle by the next run
            raise AnalysisStopped(
                video, len(dets), len(dets), Path(f"{stem}_full.pickle")
            ).with_outputs(outputs)
        h5, tracklets = _track_and_write(
            predictor.assemble(dets),
            str(stem),
            n_tracks,
            layout,
            scorer,
            track_method=method,
            tracking=tracking,
            save_as_csv=save_as_csv,
            netcdf_fps=info["fps"] if netcdf else None,
        )
        logger.info(
            "analysed %s: %s, %s stitched into %s -> %s",
            video.name,
            _counted(len(dets), "frame"),
            _counted(len(tracklets), "tracklet"),
            _counted(n_tracks, "track"),
            h5,
        )
        outputs.written(h5, video)  # a truncated or damaged video: in part
    return outputs


def _tracks_count(h5: Path) -> int:
    """Return the number of animals (``single`` left out) of a tracks ``.h5``."""
    from .layout import SINGLE

    df = pd.read_hdf(h5, "tracks", stop=1)
    names = df.columns.get_level_values("individuals").unique()
    return len([n for n in names if str(n) != SINGLE])


def _counted(n: int, thing: str) -> str:
    """``"1 animal"``, ``"2 animals"``: a count and its noun, singular for one.

    Examples
    --------
    >>> _counted(1, "animal"), _counted(2, "track")
    ('1 animal', '2 tracks')
    """
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _changed_animals(
    dests: dict[Path, Any], scorer: str, suffix: str, n_tracks: int
) -> dict[Path, tuple[Path, int | None]]:
    """Videos to track again from their detections → (tracks file, animals it has).

    Those analysed before into another number of animals, and those whose detections
    (``_full.pickle``, ``_meta.pickle``) are there but not their tracks with this
    tracker (``None``: another ``--track-method`` was used).

    Raises
    ------
    ValueError
        If such a video has no ``_full.pickle`` to re-stitch from (nothing is done).
    """
    out: dict[Path, tuple[Path, int | None]] = {}
    for video, dest in dests.items():
        stem = Path(dest or video.parent) / f"{video.stem}{scorer}"
        h5 = Path(f"{stem}_{suffix}.h5")
        full = Path(f"{stem}_full.pickle")
        if not h5.is_file():
            # detected before, tracked with another method: track again from them
            if full.is_file() and Path(f"{stem}_meta.pickle").is_file():
                out[video] = (h5, None)
            continue
        try:
            had = _tracks_count(h5)
        except (OSError, KeyError, ValueError):
            continue  # not a tracks file of ours: plan_analysis decides
        if had == n_tracks:
            continue
        if not full.is_file():
            raise ValueError(
                f"{video.name} was analysed before into {_counted(had, 'animal')} ({h5.name}) and "
                f"its detections ({full.name}) are not there to re-stitch them into "
                f"{n_tracks} (--animals {n_tracks}): add --overwrite to analyse it "
                "again. Nothing was analysed."
            )
        out[video] = (h5, had)
    return out


def restitch_video(
    tracks: str | os.PathLike,
    layout: Any,
    n_tracks: int,
    *,
    assembly: AssemblyConfig | None = None,
    track_method: str = "ellipse",
    scorer: str | None = None,
    save_as_csv: bool = False,
    netcdf: bool = False,
    tracking: Any = None,
    max_individuals: int | None = None,
) -> Path:
    """Assemble, track and stitch a video again from its ``_full.pickle`` (no network).

    What a changed number of animals (``--animals``) needs: the candidates and
    affinities of every frame are in ``<stem>_full.pickle``; the assemblies, the
    tracklets and the tracks (``_assemblies.pickle``, ``_<el|bx|sk>.pickle``,
    ``.h5``, and the ``.csv``/``.nc`` asked for) are written again.

    Parameters
    ----------
    tracks
        The tracks file to write (``<stem>_el.h5``; its ``_full.pickle`` is read).
    layout
        The project's :class:`~.layout.MultiAnimalLayout`.
    n_tracks
        Animals to stitch (also the most animals assembled per frame).
    assembly
        Assembly settings (default: :class:`~.assembly.AssemblyConfig` defaults).
    scorer
        The network's scorer (default: the file name from ``DLC_`` on).
    track_method, save_as_csv, netcdf
        As for :func:`analyze_multianimal_videos`.
    tracking
        :class:`~.tracking.TrackingConfig` (default: ``track_method``'s defaults).
    max_individuals
        Animals assembled per frame at most (default ``n_tracks``; DeepLabCut's
        ``topktoretain``).

    Returns
    -------
    Path
        The tracks file.
    """
    from .tracking import TRACK_METHODS

    h5 = Path(tracks)
    suffix = TRACK_METHODS[track_method]
    stem = str(h5)[: -len(f"_{suffix}.h5")]
    if scorer is None:
        name = Path(stem).name
        scorer = name[name.index("DLC_") :] if "DLC_" in name else name
    assemblies = _assemble_detections(
        stem, layout, int(max_individuals or n_tracks), assembly
    )
    fps = None
    if netcdf and Path(f"{stem}_meta.pickle").is_file():
        from .outputs import read_pickle

        fps = (read_pickle(f"{stem}_meta.pickle").get("data") or {}).get("fps")
    out, _ = _track_and_write(
        assemblies,
        stem,
        n_tracks,
        layout,
        scorer,
        track_method=track_method,
        tracking=tracking,
        save_as_csv=save_as_csv,
        netcdf_fps=(fps or 0.0) if netcdf else None,
    )
    return out


def _assemble_detections(
    stem: str,
    layout: Any,
    n_tracks: int,
    assembly: AssemblyConfig | None,
    video: Path | None = None,
) -> list[Any]:
    """Assemble every frame of ``<stem>_full.pickle`` into at most ``n_tracks`` animals.

    Raises
    ------
    FileNotFoundError
        No ``_full.pickle`` there (the video was not analysed by this network).
    """
    from .assembly import Assembler
    from .outputs import read_full_pickle
    from .peaks import nms_distance

    full = Path(f"{stem}_full.pickle")
    if not full.is_file():
        name = video.name if video is not None else Path(stem).name
        raise FileNotFoundError(
            f"{name}: no detections of this network ({full}). Analyse the video first "
            "(analyze_videos, posekit analyze), with the same shuffle and destfolder."
        )
    meta, dets = read_full_pickle(full)
    if "nms distance" in meta:
        distance = float(meta["nms distance"])
    else:  # older files: the label sigma
        distance = nms_distance(0, stride=1, sigma=float(meta.get("sigma") or 0.0))
    assembly = (assembly or AssemblyConfig(max_individuals=n_tracks)).replace(
        max_individuals=int(n_tracks)
    )
    edges = [tuple(map(int, e)) for e in meta.get("PAFgraph") or []]
    assembler = Assembler(
        assembly, edges, layout.n_multi, layout.n_unique, peak_distance=distance
    )
    return [assembler.assemble(d) for d in dets]


def _save_tracklets(
    stem: str,
    suffix: str,
    assemblies: Sequence[Any],
    tracklets: Sequence[Any],
    layout: Any,
    scorer: str,
) -> tuple[Path, np.ndarray | None]:
    """Write the tracklets ``<stem>_<suffix>.pickle`` of a video's assemblies.

    Returns the file and the unique bodyparts of every frame (``None``: the layout
    has none), which the tracks table takes too.
    """
    from .outputs import save_tracklets_pickle

    unique = np.stack([a.unique for a in assemblies]) if layout.n_unique else None
    path = save_tracklets_pickle(
        f"{stem}_{suffix}.pickle", tracklets, layout, scorer, len(assemblies), unique
    )
    return path, unique


def _track_and_write(
    assemblies: list[Any],
    stem: str,
    n_tracks: int,
    layout: Any,
    scorer: str,
    *,
    track_method: str,
    save_as_csv: bool,
    netcdf_fps: float | None,
    tracking: Any = None,
) -> tuple[Path, list[Any]]:
    """Track and stitch a video's assemblies; write every file from them on.

    ``<stem>_assemblies.pickle``, the tracklets (``<stem>_<el|bx|sk>.pickle``), the
    tracks ``.h5`` (and ``.csv`` with ``save_as_csv``) and, unless ``netcdf_fps`` is
    ``None``, the ``.nc`` (``0``: the frame rate is unknown). Returns the ``.h5``
    and the tracklets. ``tracking``: the tracker's settings (default:
    ``track_method``'s defaults).
    """
    from .outputs import save_assemblies_pickle, tracks_frame, write_tracks
    from .tracking import TRACK_METHODS, TrackingConfig

    suffix = TRACK_METHODS[track_method]
    save_assemblies_pickle(f"{stem}_assemblies.pickle", assemblies)
    tracklets, tracks = track_video_detections(
        assemblies, n_tracks, tracking=tracking or TrackingConfig(method=track_method)
    )
    _, unique = _save_tracklets(stem, suffix, assemblies, tracklets, layout, scorer)
    h5 = write_tracks(
        tracks_frame(tracks, layout, scorer, unique),
        f"{stem}_{suffix}.h5",
        save_csv=save_as_csv,
    )
    if netcdf_fps is not None:
        from ..io import load_poses, save_poses

        ds = load_poses(h5, fps=netcdf_fps) if netcdf_fps else load_poses(h5)
        save_poses(ds, h5.with_suffix(".nc"), fmt="netCDF")
    return h5, tracklets


def _tracked_arrays(
    ds, keypoints: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """``(T, I, K, 2)`` positions of a poses dataset's animals (``single`` left out).

    Keypoints whose confidence is exactly 0 (hidden in the demo's ground truth) are
    NaN.
    """
    from .layout import SINGLE

    inds = [str(i) for i in ds["individual"].values if str(i) != SINGLE]
    names = [str(k) for k in ds["keypoint"].values]
    keep = [k for k in (keypoints or names) if k in names]
    pos = (
        ds["position"]
        .sel(individual=inds, keypoint=keep)
        .transpose("time", "individual", "keypoint", "space")
        .values[..., :2]
        .astype(float)
    )
    conf = (
        ds["confidence"]
        .sel(individual=inds, keypoint=keep)
        .transpose("time", "individual", "keypoint")
        .values
    )
    pos = np.where((conf == 0)[..., None], np.nan, pos)
    return pos, keep


def _mean_likelihoods(
    ds, keypoints: Sequence[str], positions: np.ndarray
) -> np.ndarray:
    """``(T, I)`` each animal's mean likelihood over its keypoints found.

    The score that ranks the predicted animals of a frame for the per-frame OKS
    mAP of :func:`evaluate_tracks` (0 for an animal without a likelihood).
    ``positions`` are :func:`_tracked_arrays`'s, of the same ``ds`` and keypoints.
    """
    import warnings

    from .layout import SINGLE

    inds = [str(i) for i in ds["individual"].values if str(i) != SINGLE]
    conf = (
        ds["confidence"]
        .sel(individual=inds, keypoint=list(keypoints))
        .transpose("time", "individual", "keypoint")
        .values.astype(float)
    )
    conf = np.where(np.isfinite(positions).all(axis=-1), conf, np.nan)
    with warnings.catch_warnings():  # an animal with no keypoint: NaN, then 0
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(conf, axis=-1)
    return np.where(np.isfinite(mean), mean, 0.0)


def _frame_index(ds, path: str | os.PathLike) -> np.ndarray:
    """Return the video frame number of each ``time`` step of a poses file.

    Tracks and SLEAP files give frame numbers (or seconds with a frame rate); label
    files (DeepLabCut's ``CollectedData``) give image paths
    ``labeled-data/<video>/img<N>.png``, whose ``N`` is the frame.

    Raises
    ------
    ValueError
        If the frames cannot be told (images of several videos or without a frame
        number in their names, times in seconds without a frame rate) or a frame
        comes twice.
    """
    from pathlib import PurePosixPath

    from ..poses import frame_numbers
    from ..video import frame_index_of

    images = ds.attrs.get("frames")
    if images is not None and len(images) == ds.sizes["time"]:
        names = [PurePosixPath(str(p)) for p in images]
        found = [frame_index_of(p) for p in names]
        videos = sorted({p.parent.name for p in names})
        if None in found or len(videos) > 1:
            raise ValueError(
                f"{path} holds labelled images ({images[0]}, …) of "
                f"{len(videos)} video(s); tracks are scored against the frames of one "
                "video: give labels whose images are named img<frame>.png from one "
                "video, or the true tracks of the whole video"
            )
        frames = np.array(found, np.int64)
    else:
        try:
            frames = frame_numbers(ds, fmt="scoring tracks")
        except ValueError as err:
            raise ValueError(
                f"{path}: cannot tell which video frame each time step is ({err}); "
                "save it with its frame numbers (or its frame rate)"
            ) from None
    if len(np.unique(frames)) != len(frames):
        raise ValueError(
            f"{path} has some frames twice; tracks are scored against the frames of "
            "one video"
        )
    return frames


def _span(frames: np.ndarray) -> str:
    """``"0–499"`` (or ``"none"``)."""
    return f"{frames.min()}–{frames.max()}" if len(frames) else "none"


def evaluate_tracks(
    predictions: str | os.PathLike,
    truth: str | os.PathLike,
    *,
    min_oks: float | None = None,
    max_distance: float | None = None,
) -> dict[str, Any]:
    """Identity switches, IDF1 and per-frame OKS mAP of tracks against true tracks.

    Switches are counted on the animals matched in each frame (within the gate:
    ``min_oks``, or ``max_distance`` in pixels); the result says how many labelled
    animals were left unmatched (:func:`~.metrics.identity_metrics`).

    The two files are aligned by video frame number, not by position: the frames
    scored are the truth's labelled frames (those with at least one labelled animal:
    a SLEAP ``.slp``'s labelled frames, scattered or not, or every frame of dense
    true tracks) that the predictions also have. Predictions of frames the truth
    does not label, and labelled frames without a prediction, are not scored; a
    warning names the counts when the two files cover different frames, and the
    result holds them (``n_frames_predictions``, ``n_frames_truth``,
    ``n_frames_compared``).

    Parameters
    ----------
    predictions
        Tracked predictions (``…_el.h5``, or any format
        :func:`~posekit.engine.io.load_poses` reads).
    truth
        The true identities of the same video (a SLEAP ``.slp`` with tracks, the
        demo's ``ground-truth/<video>_keypoints.h5``, DeepLabCut tracks, a
        DeepLabCut label file of that video's ``img<frame>.png`` images…).
        Keypoints with confidence 0 are taken as hidden.
    min_oks
        Animals match in a frame when their OKS is at least this (default 0.5).
    max_distance
        Instead: animals match when their mean keypoint distance is at most this
        many pixels. Not together with ``min_oks``.

    Returns
    -------
    dict
        :func:`~.metrics.identity_metrics` (``id_switches``, ``switch_frames`` as
        video frame numbers, ``switches_per_1000_frames``, ``idf1``, the gate,
        ``unmatched``…) plus ``map``/``mar`` over every frame scored (identities
        ignored; the predicted animals of a frame ranked by their mean likelihood
        over their keypoints found, as COCO ranks detections by score), the
        keypoints compared, and the frames: ``n_frames_predictions``
        (frames in the predictions file), ``n_frames_truth`` (labelled frames in the
        truth), ``n_frames_compared`` (labelled frames the predictions have: the
        frames scored, also ``n_frames``), ``n_frames_truth_unpredicted`` (labelled
        frames without a prediction), and ``frame_range_predictions``,
        ``frame_range_truth``, ``frame_range_compared``: each set's first and last
        frame (``"0–499"``).

    Raises
    ------
    ValueError
        If the two share no keypoint or no frame, both gates are given, or a file's
        frame numbers cannot be told.
    """
    from ..io import load_poses
    from .metrics import assembly_metrics, identity_metrics

    gt_ds = load_poses(truth)
    pred_ds = load_poses(predictions)
    gt, names = _tracked_arrays(gt_ds)
    pred, common = _tracked_arrays(pred_ds, names)
    if not common:
        raise ValueError(
            f"{predictions} and {truth} share no keypoint "
            f"({list(pred_ds.keypoint.values)} vs {names})"
        )
    gt = gt[:, :, [names.index(k) for k in common]]
    gt_frames = _frame_index(gt_ds, truth)
    pred_frames = _frame_index(pred_ds, predictions)
    labelled = np.flatnonzero(np.isfinite(gt).all(axis=-1).any(axis=(1, 2)))
    truth_frames = gt_frames[labelled]
    shared, gi, pi = np.intersect1d(truth_frames, pred_frames, return_indices=True)
    counts = {
        "n_frames_predictions": len(pred_frames),
        "n_frames_truth": len(truth_frames),
        "n_frames_compared": len(shared),
        "n_frames_truth_unpredicted": len(truth_frames) - len(shared),
        "frame_range_predictions": _span(pred_frames),
        "frame_range_truth": _span(truth_frames),
        "frame_range_compared": _span(shared),
    }
    if not len(shared):
        raise ValueError(
            f"{predictions} (frames {counts['frame_range_predictions']}) and {truth} "
            f"(labelled frames {counts['frame_range_truth']}) share no frame: give the "
            "tracks and the truth of the same video"
        )
    if len(shared) != len(pred_frames) or len(shared) != len(truth_frames):
        logger.warning(
            "scoring the %d frames both files have (%s): the predictions cover %d "
            "frames (%s), the truth labels %d (%s)%s",
            len(shared),
            counts["frame_range_compared"],
            len(pred_frames),
            counts["frame_range_predictions"],
            len(truth_frames),
            counts["frame_range_truth"],
            f"; {counts['n_frames_truth_unpredicted']} labelled frames have no "
            "prediction and are not scored"
            if counts["n_frames_truth_unpredicted"]
            else "",
        )
    ranking = _mean_likelihoods(pred_ds, common, pred)[pi]
    gt, pred = gt[labelled[gi]], pred[pi]
    out = identity_metrics(pred, gt, min_oks=min_oks, max_distance=max_distance)
    out["switch_frames"] = [int(shared[t]) for t in out["switch_frames"]]
    out.update(
        {
            f"frames_{k}": v
            for k, v in assembly_metrics(list(pred), list(gt), list(ranking)).items()
            if k in ("map", "mar", "mean_error_px", "rmse_px")
        }
    )
    out.update(counts)
    out["keypoints"] = common
    return out


def matched_predictions(
    project: Project,
    images: Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
) -> np.ndarray:
    """Predict frames and put each assembled animal in the slot of its labelled match.

    What a per-frame comparison with the labels needs (the worst test frames of the
    training app): each labelled animal's keypoints next to those of the predicted
    animal matched to it (:func:`~.metrics.match_instances`).

    Parameters
    ----------
    project
        A multi-animal project with a trained shuffle.
    images
        RGB frames.
    labels
        ``(N, I, Km, 2)`` the frames' labelled animals.
    shuffle, snapshot
        Which network.

    Returns
    -------
    numpy.ndarray
        ``(N, I * Km, 3)``: x, y, likelihood in the labels' animal order (NaN where
        no prediction was matched).
    """
    from .metrics import match_instances

    folder = ModelFolder.of(project, shuffle)
    predictor = multianimal_predictor(
        folder, folder.snapshot(snapshot)[1], assembly=shuffle_assembly(project, folder)
    )
    labels = np.asarray(labels, float)
    out = np.full((*labels.shape[:3], 3), np.nan)
    for f, result in enumerate(predictor(images)):
        p, g, _ = match_instances(result.animals, labels[f])
        out[f, g] = result.animals[p]
    return out.reshape(len(labels), -1, 3)
