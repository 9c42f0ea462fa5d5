"""Project-level workflow verbs: train, evaluate, analyse (DeepLabCut's names).

Each verb reads and writes the project's files in DeepLabCut's layout, so every step can
be resumed, scripted, or done in another tool:

- ``train_network``: ``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train/``
  (``pose_cfg.yaml``, ``snapshot-<iter>.keras`` + ``.json`` + optimizer state,
  ``learning_stats.csv``). Running it again resumes where it stopped.
- ``evaluate_network``: ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv``
  and per-shuffle results and images.
- ``analyze_videos``: ``<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5`` (+ ``.csv``,
  ``_meta.pickle``).

The model folder's ``pose_cfg.yaml`` records what names a model (``Task``, ``date``,
``shuffle``, ``train_fraction``, ``trainingsetindex``), so a model folder alone gives its
DeepLabCut scorer name (:func:`scorer_name`); folders written before those keys existed
fall back to the project's ``config.yaml``.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import logger
from .project import Project, load_project

__all__ = [
    "TrainResult",
    "train_dir",
    "train_network",
    "list_snapshots",
    "latest_snapshot",
    "evaluate_network",
    "predict_frames",
    "load_predictor",
    "analyze_videos",
    "model_info",
    "scorer_name",
]


@dataclass(frozen=True)
class TrainResult:
    """Summary of a :func:`train_network` run."""

    iteration: int
    start_iteration: int
    stop_reason: str
    snapshot: Path | None
    test_error_px: float | None
    train_dir: Path

    def __str__(self) -> str:
        err = "n/a" if self.test_error_px is None else f"{self.test_error_px:.2f} px"
        return (
            f"trained to iteration {self.iteration} (from {self.start_iteration}; "
            f"{self.stop_reason}); test error {err}; snapshot {self.snapshot}"
        )


def _project(project: Project | str | os.PathLike) -> Project:
    return project if isinstance(project, Project) else load_project(project)


def train_dir(project: Project, shuffle: int = 1) -> Path:
    """The ``train/`` folder of a shuffle."""
    return project.model_dir(shuffle) / "train"


def _ensure_training_set(project: Project, shuffle: int):
    from .dataset import create_training_dataset, load_training_set

    try:
        return load_training_set(project, shuffle=shuffle)
    except FileNotFoundError:
        logger.info("no training set for shuffle %d yet: creating it", shuffle)
        create_training_dataset(project, shuffles=[shuffle])
        return load_training_set(project, shuffle=shuffle)


class _StopEventCallback:
    """Bridges a ``threading.Event`` (set by a widget) to ``Trainer.request_stop``."""

    def __init__(self, trainer, event: threading.Event) -> None:
        self.trainer = trainer
        self.event = event

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("on_"):
            return self._check
        raise AttributeError(name)

    def _check(self, *args: Any, **kwargs: Any) -> None:
        if self.event.is_set():
            self.trainer.request_stop()


def train_network(
    project: Project | str | os.PathLike,
    *,
    shuffle: int = 1,
    backbone: str | None = None,
    weights: str | os.PathLike | None = None,
    max_iterations: int | None = None,
    time_budget_s: float | None = None,
    batch_size: int | None = None,
    crop_size: tuple[int, int] | None = None,
    resume: bool = True,
    callbacks: Sequence[Any] = (),
    stop_event: threading.Event | None = None,
    progress: bool = True,
    eval_interval: int | None = None,
    save_interval: int | None = None,
    trainer_hook: Callable[[Any], None] | None = None,
) -> TrainResult:
    """Train (or resume) the network of a shuffle.

    Parameters
    ----------
    project
        The project (or its folder).
    shuffle
        Shuffle number (its split is created if absent).
    backbone
        Backbone name (default: the config's ``default_net_type`` when posekit knows
        it, else ``mobilenet_v2_0.35``).
    weights
        ``"imagenet"``, a weights file, or ``None`` for random initialisation.
    max_iterations, time_budget_s
        Stop after this many iterations (total, resumed ones included) or seconds.
        Defaults: 30000 iterations.
    batch_size, crop_size
        Training batch size (default 8) and crop ``(height, width)`` (default: chosen
        from the frame size, see :func:`posekit.engine.training.default_crop_size`;
        when resuming, the crop the snapshot was trained with).
    resume
        Continue from the newest snapshot (iteration counter and optimizer state
        continue); ``False`` starts over.
    callbacks
        :class:`posekit.engine.training.TrainingCallback` hooks (dashboards).
    stop_event
        A ``threading.Event``; setting it stops training after saving a snapshot.
    progress
        Show a progress bar.
    eval_interval
        Test-set evaluation interval in iterations.
    save_interval
        Save a snapshot every this many iterations (default 5000; DLC's
        ``save_iters``). A snapshot is also saved at the end and on a stop.
    trainer_hook
        Called with the :class:`~posekit.engine.training.Trainer` before training
        (a dashboard keeps it to call ``request_stop``).

    Returns
    -------
    TrainResult
    """
    from .models.pose_model import PoseModelConfig
    from .models.registry import list_backbones
    from .training import TrainConfig, Trainer

    project = _project(project)
    ts = _ensure_training_set(project, shuffle)
    if backbone is None:
        backbone = (
            project.net_type
            if project.net_type in list_backbones()
            else ("mobilenet_v2_0.35")
        )
    train_images, train_kp = ts.subset("train")
    test_images, test_kp = ts.subset("test")
    changes: dict[str, Any] = {
        "crop_size": None if crop_size is None else tuple(crop_size)
    }
    if batch_size:
        changes["batch_size"] = int(batch_size)
    if max_iterations is not None or time_budget_s is not None:
        changes["max_iterations"] = max_iterations
        changes["time_budget_s"] = time_budget_s
    if save_interval is not None:
        changes["save_interval"] = int(save_interval)
    if eval_interval is not None:
        changes["eval_interval"] = int(eval_interval)
    elif max_iterations is not None:
        changes["eval_interval"] = max(50, min(1000, int(max_iterations) // 5))
    train_config = TrainConfig().replace(**changes)
    model_config = PoseModelConfig(
        bodyparts=tuple(project.bodyparts),
        backbone=backbone,
        weights=None if weights is None else str(weights),
    )
    out = train_dir(project, shuffle)
    fractions = project.training_fractions
    trainingsetindex = next(
        (i for i, f in enumerate(fractions) if math.isclose(f, ts.train_fraction)),
        None,
    )
    trainer = Trainer(
        model_config,
        train_config,
        out,
        flip_pairs=ts.flip_pairs,
        callbacks=list(callbacks),
        progress=progress,
        pose_cfg_extra={
            "project_path": str(project.path),
            "dataset": str(project.training_set_dir()),
            # what names the model (the DLC scorer name) without the project config
            "Task": project.task,
            "date": project.date,
            "shuffle": shuffle,
            "train_fraction": ts.train_fraction,
            "trainingsetindex": trainingsetindex,
            "iteration (active-learning)": project.iteration,
        },
    )
    if stop_event is not None:
        trainer.callbacks.append(_StopEventCallback(trainer, stop_event))
    if trainer_hook is not None:
        trainer_hook(trainer)
    state = trainer.fit(
        train_images,
        train_kp,
        test_images if len(test_images) else None,
        test_kp if len(test_images) else None,
        resume=resume,
    )
    err = state.metrics.get("mean_error_px") if state.metrics else None
    return TrainResult(
        iteration=state.iteration,
        start_iteration=state.start_iteration,
        stop_reason=state.stop_reason,
        snapshot=state.last_snapshot,
        test_error_px=None if err is None else float(err),
        train_dir=out,
    )


def list_snapshots(
    project: Project | str | os.PathLike, shuffle: int = 1
) -> list[tuple[int, Path]]:
    """``(iteration, snapshot .keras path)`` of a shuffle, oldest first."""
    from .training import list_snapshots as _list

    d = train_dir(_project(project), shuffle)
    return _list(d) if d.is_dir() else []


def latest_snapshot(
    project: Project, shuffle: int = 1, index: int = -1
) -> tuple[int, Path]:
    """The snapshot to use (``index`` into :func:`list_snapshots`, DLC ``snapshotindex``).

    Raises
    ------
    FileNotFoundError
        If the shuffle has no snapshot yet (train it first).
    """
    snaps = list_snapshots(project, shuffle)
    if not snaps:
        raise FileNotFoundError(
            f"No trained snapshot for shuffle {shuffle} in {train_dir(project, shuffle)}. "
            "Train first: posekit.engine.train_network(project) or `posekit train PROJECT`."
        )
    return snaps[index]


def _load_model(path: Path):
    from .training import load_snapshot

    return load_snapshot(path)


def predict_frames(
    project: Project | str | os.PathLike,
    images: Sequence[np.ndarray],
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    batch_size: int = 8,
) -> np.ndarray:
    """Predict ``(N, K, 3)`` (x, y, likelihood) on RGB frames with a trained shuffle."""
    from .evaluation import predict_images

    project = _project(project)
    _, path = latest_snapshot(project, shuffle, snapshot)
    # snapshots are saved with a free input size: no rebuild needed
    return predict_images(_load_model(path), images, batch_size=batch_size)


def evaluate_network(
    project: Project | str | os.PathLike,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    plot: bool = False,
    pck_radius: float = 5.0,
) -> pd.DataFrame:
    """Train and test error of a trained shuffle, as DeepLabCut reports them, and more.

    Writes ``evaluation-results/iteration-<N>/CombinedEvaluation-results.csv`` (DLC's
    columns; errors are mean Euclidean distances, which DLC calls RMSE), a per-shuffle
    ``<DLCscorer>-results.csv`` with true RMSE, PCK and per-bodypart errors, the
    predictions on the labelled frames, and with ``plot=True`` images of predictions
    on the test frames.

    Returns
    -------
    pandas.DataFrame
        One row with the train/test metrics.
    """
    from ._fileio import atomic_path
    from .drawing import plot_predictions
    from .evaluation import (
        evaluation_summary,
        predict_images,
        write_combined_evaluation,
    )
    from .io.dlc import paths_to_index, predictions_frame

    project = _project(project)
    ts = _ensure_training_set(project, shuffle)
    iteration, path = latest_snapshot(project, shuffle, snapshot)
    model = _load_model(path)  # saved with a free input size: takes full frames
    preds = predict_images(model, ts.images, batch_size=1)
    pcut = project.pcutoff
    summaries = {}
    for which, idx in (("train", ts.train_indices), ("test", ts.test_indices)):
        if len(idx):
            summaries[which] = evaluation_summary(
                preds[idx],
                ts.keypoints[idx],
                ts.bodyparts,
                pcutoff=pcut,
                pck_radius=pck_radius,
            )
    nan = float("nan")
    train = summaries.get("train", {})
    test = summaries.get("test", {})
    out_root = project.path / "evaluation-results" / f"iteration-{project.iteration}"
    write_combined_evaluation(
        out_root / "CombinedEvaluation-results.csv",
        iterations=iteration,
        train_fraction=ts.train_fraction,
        shuffle=shuffle,
        train_error=train.get("mean_error_px", nan),
        test_error=test.get("mean_error_px", nan),
        pcutoff=pcut,
        train_error_pcutoff=train.get("mean_error_pcutoff_px", nan),
        test_error_pcutoff=test.get("mean_error_pcutoff_px", nan),
    )
    scorer = scorer_name(path, netname=model.pose_config.dlc_netname, project=project)
    row = {
        "Training iterations:": iteration,
        "%Training dataset": int(round(100 * ts.train_fraction)),
        "Shuffle number": shuffle,
        "Train error(px)": train.get("mean_error_px", nan),
        "Test error(px)": test.get("mean_error_px", nan),
        "Train RMSE(px)": train.get("rmse_px", nan),
        "Test RMSE(px)": test.get("rmse_px", nan),
        "p-cutoff used": pcut,
        "Train error with p-cutoff": train.get("mean_error_pcutoff_px", nan),
        "Test error with p-cutoff": test.get("mean_error_pcutoff_px", nan),
        f"Test PCK@{pck_radius:g}px": test.get("pck", nan),
    }
    for bp, err in (test.get("per_bodypart_px") or {}).items():
        row[f"Test error {bp}(px)"] = err
    table = pd.DataFrame([row])
    shuffle_dir = project.evaluation_dir(shuffle)
    shuffle_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(shuffle_dir / f"{scorer}-results.csv") as tmp:
        table.to_csv(tmp, index=False)
    df = predictions_frame(preds, scorer, ts.bodyparts)
    df.index = paths_to_index(ts.paths)
    with atomic_path(shuffle_dir / f"{scorer}-snapshot-{iteration}.h5") as tmp:
        df.to_hdf(tmp, key="df_with_missing", mode="w")
    if plot and len(ts.test_indices):
        idx = ts.test_indices
        plot_predictions(
            [ts.images[i] for i in idx],
            preds[idx],
            ts.keypoints[idx],
            shuffle_dir / f"LabeledImages_{scorer}",
            names=[ts.paths[i].replace("/", "_") for i in idx],
            bodyparts=ts.bodyparts,
            pcutoff=pcut,
        )
    return table


def load_predictor(
    model: str | os.PathLike,
    *,
    frame_shape: tuple[int, int],
    batch_size: int = 8,
    use_tflite: bool = True,
):
    """A :class:`~posekit.engine.inference.Predictor` for frames of ``frame_shape``.

    Parameters
    ----------
    model
        A ``train/`` folder (newest snapshot) or a snapshot ``.keras`` file.
    frame_shape
        ``(height, width)`` of the frames given to the predictor.
    batch_size
        Frames per inference call.
    use_tflite
        Convert to TFLite (cached beside the snapshot) and run on LiteRT: about 2×
        faster on CPU than TensorFlow.

    Returns
    -------
    predictor : Predictor
    info : dict
        ``scorer`` (DLC scorer name), ``bodyparts``, ``iteration``, ``snapshot``,
        ``model_config``.
    """
    from .inference import (
        KerasPredictor,
        TFLitePredictor,
        convert_to_tflite,
    )
    from .models.decoder import make_decoder
    from .models.pose_model import rebuild_for_input_shape
    from .training import list_snapshots as _list

    path = Path(model)
    if path.is_dir():
        snaps = _list(path)
        if not snaps:
            raise FileNotFoundError(f"No snapshot in {path}: train the network first.")
        iteration, path = snaps[-1]
    else:
        iteration = _snapshot_iteration(path)
    net = _load_model(path)
    cfg = net.pose_config
    h, w = int(frame_shape[0]), int(frame_shape[1])
    decoder = make_decoder(stride=net.stride, locref_stdev=cfg.locref_stdev)
    if use_tflite:
        tfl = path.with_name(f"{path.stem}-{h}x{w}-b{batch_size}-u8.tflite")
        if not tfl.exists() or tfl.stat().st_mtime < path.stat().st_mtime:
            full = rebuild_for_input_shape(net, (h, w, 3))
            convert_to_tflite(full, tfl, input_shape=(batch_size, h, w, 3))
        predictor = TFLitePredictor(tfl, decoder, batch_size=batch_size)
    else:
        full = rebuild_for_input_shape(net, (h, w, 3))
        predictor = KerasPredictor(full, decoder, batch_size=batch_size)
    info = {
        "scorer": scorer_name(path, netname=cfg.dlc_netname),
        "bodyparts": list(cfg.bodyparts),
        "iteration": iteration,
        "snapshot": path,
        "model_config": cfg.to_dict(),
        "pose_cfg": model_info(path),
    }
    return predictor, info


def analyze_videos(
    project: Project | str | os.PathLike,
    videos: Sequence[str | os.PathLike] | None = None,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    batch_size: int = 8,
    scale: float = 1.0,
    netcdf: bool = False,
    use_tflite: bool = True,
    progress: bool | Callable[[int, int], None] = True,
) -> list[Path]:
    """Analyse videos with a trained shuffle; DLC-named ``.h5`` beside each video.

    Parameters
    ----------
    project
        The project.
    videos
        Video files (default: the project's videos, labelled-video outputs excluded).
    shuffle, snapshot
        Which network (``snapshot`` indexes the snapshots, -1 newest).
    destfolder
        Output folder (default: beside each video).
    save_as_csv
        Also write the ``.csv``.
    batch_size, scale
        Batching and resize factor (0.5 analyses at half resolution, ~3× faster).
    netcdf
        Also write the movement-schema netCDF.
    use_tflite
        Use the TFLite (LiteRT) runtime (default; faster on CPU).
    progress
        tqdm bar, or a callable ``progress(done, total)``.

    Returns
    -------
    list of Path
        The ``.h5`` files.
    """
    from .inference import analyze_video
    from .video import VideoReader

    project = _project(project)
    if videos is None or len(videos) == 0:
        videos = project.source_videos()
    _, path = latest_snapshot(project, shuffle, snapshot)
    outputs = []
    predictors: dict[tuple[int, int], Any] = {}
    for video in videos:
        video = Path(video)
        with VideoReader(video) as r:
            shape = (int(r.height * scale), int(r.width * scale))
        if shape not in predictors:
            predictors[shape] = load_predictor(
                path, frame_shape=shape, batch_size=batch_size, use_tflite=use_tflite
            )
        predictor, info = predictors[shape]
        meta = dict(info["pose_cfg"])
        meta["iteration"] = meta["iteration (active-learning)"]
        out = analyze_video(
            predictor,
            video,
            scorer=info["scorer"],
            bodyparts=info["bodyparts"],
            destfolder=destfolder,
            save_as_csv=save_as_csv,
            scale=scale,
            meta=meta,
            progress=progress,
            netcdf=netcdf,
        )
        outputs.append(out)
    return outputs


# --------------------------------------------------------------------------------------
# What names a model
# --------------------------------------------------------------------------------------

_MODEL_DIR_RE = re.compile(
    r"^(?P<name>.+)-trainset(?P<pct>\d+)shuffle(?P<shuffle>\d+)$"
)
_SNAPSHOT_ITERATION_RE = re.compile(r"snapshot-(\d+)")

#: Keys :func:`model_info` always fills in.
MODEL_KEYS = (
    "Task",
    "date",
    "shuffle",
    "train_fraction",
    "trainingsetindex",
    "iteration (active-learning)",
)


def _snapshot_iteration(path: Path) -> int:
    m = _SNAPSHOT_ITERATION_RE.search(path.name)
    return int(m.group(1)) if m else 0


def _model_folder(model: Path) -> Path:
    return model if model.is_dir() else model.parent


def _project_of(folder: Path, pose_cfg: dict[str, Any]) -> Project | None:
    """The project a ``train/`` folder belongs to: by DLC's layout, else ``project_path``."""
    from .project import ProjectError

    candidates = []
    # <project>/dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train
    if len(folder.parents) > 3 and folder.parents[2].name == "dlc-models":
        candidates.append(folder.parents[3])
    if pose_cfg.get("project_path"):
        candidates.append(Path(str(pose_cfg["project_path"])))
    for candidate in candidates:
        if (candidate / "config.yaml").is_file():
            try:
                return load_project(candidate)
            except ProjectError as exc:
                logger.warning("cannot read %s: %s", candidate / "config.yaml", exc)
    return None


def model_info(
    model: str | os.PathLike, *, project: Project | None = None
) -> dict[str, Any]:
    """The ``pose_cfg.yaml`` of a model folder, with what names the model filled in.

    ``Task``, ``date``, ``shuffle``, ``train_fraction``, ``trainingsetindex`` and
    ``iteration (active-learning)`` are always set. :func:`train_network` writes them;
    for a folder trained before they were written they come from the project (``project``,
    else the project the folder sits in by DeepLabCut's layout, else the one
    ``pose_cfg.yaml``'s ``project_path`` names) and the folder names
    (``iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train``).

    Parameters
    ----------
    model
        A ``train/`` folder or a snapshot file in it.
    project
        The project, for keys the folder lacks.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        ``pose_cfg.yaml`` exists but does not parse.
    """
    import yaml

    folder = _model_folder(Path(model))
    path = folder / "pose_cfg.yaml"
    info: dict[str, Any] = {}
    if path.is_file():
        try:
            info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{path} is not valid YAML ({exc}). It is rewritten when training "
                "resumes; posekit did not change it."
            ) from exc
        if not isinstance(info, dict):
            raise ValueError(f"{path} does not hold a mapping of keys; it is damaged.")
    if all(info.get(k) is not None for k in MODEL_KEYS if k != "trainingsetindex"):
        info.setdefault("trainingsetindex", None)
        return info
    project = project or _project_of(folder, info)
    names = _MODEL_DIR_RE.match(folder.parent.name) if folder.name == "train" else None
    found: dict[str, Any] = {}
    if names:
        found["shuffle"] = int(names["shuffle"])
        found["train_fraction"] = int(names["pct"]) / 100
    iteration_dir = folder.parent.parent.name if names else ""
    if iteration_dir.startswith("iteration-") and iteration_dir[10:].isdigit():
        found["iteration (active-learning)"] = int(iteration_dir[10:])
    if project is not None:
        found.setdefault("iteration (active-learning)", project.iteration)
        found.setdefault("train_fraction", project.training_fractions[0])
        found.update(Task=project.task, date=project.date)
    elif names:
        # <Task><date> is all the scorer name needs
        found.update(Task=names["name"], date="")
        logger.warning(
            "%s: no Task/date in pose_cfg.yaml and no project config found; using "
            "the folder name %r",
            folder,
            names["name"],
        )
    fallback = {
        "Task": "posekit",
        "date": "",
        "shuffle": 1,
        "train_fraction": None,
        "iteration (active-learning)": 0,
    }
    for key in MODEL_KEYS:
        if info.get(key) is None:
            info[key] = found.get(key, fallback.get(key))
    if info["trainingsetindex"] is None and project and info["train_fraction"]:
        info["trainingsetindex"] = next(
            (
                i
                for i, f in enumerate(project.training_fractions)
                if math.isclose(f, float(info["train_fraction"]))
            ),
            None,
        )
    return info


def scorer_name(
    snapshot: str | os.PathLike,
    *,
    netname: str | None = None,
    project: Project | None = None,
) -> str:
    """DeepLabCut's scorer name of a snapshot: ``DLC_<net>_<Task><date>shuffle<k>_<iters>``.

    The one place posekit builds it (evaluation and video analysis use it), from the
    model folder's ``pose_cfg.yaml`` (:func:`model_info`).

    Parameters
    ----------
    snapshot
        A snapshot (``snapshot-<iters>.keras`` or ``.json``) or a ``train/`` folder
        (its newest snapshot).
    netname
        DLC's network name (``mobnet_35``, ``resnet_50``…); default: from the
        snapshot's configuration.
    project
        The project, for model folders trained before ``pose_cfg.yaml`` named it.

    Examples
    --------
    The demo's model after 700 iterations of MobileNetV2 α=0.35, shuffle 1:
    ``DLC_mobnet_35_demoJan1shuffle1_700``.
    """
    from .inference import dlc_scorer_name
    from .models.pose_model import PoseModelConfig
    from .training import list_snapshots as _list
    from .training import read_pose_cfg

    path = Path(snapshot)
    if path.is_dir():
        snaps = _list(path)
        if not snaps:
            raise FileNotFoundError(f"No snapshot in {path}: train the network first.")
        path = snaps[-1][1]
    iteration = _snapshot_iteration(path)
    if netname is None:
        meta = path.with_name(f"snapshot-{iteration}.json")
        if meta.is_file():
            import json

            config = json.loads(meta.read_text())["model_config"]
            netname = PoseModelConfig.from_dict(config).dlc_netname
        else:
            netname = read_pose_cfg(path.parent)[0].dlc_netname
    info = model_info(path, project=project)
    return dlc_scorer_name(
        netname, str(info["Task"]), str(info["date"]), int(info["shuffle"]), iteration
    )
