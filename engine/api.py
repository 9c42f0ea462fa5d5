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
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.engine import logger
from posekit.engine.project import Project, load_project

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
    from posekit.engine.dataset import create_training_dataset, load_training_set

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
        Training batch and crop size (defaults 8 and 256×256, capped to the frame).
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
    trainer_hook
        Called with the :class:`~posekit.engine.training.Trainer` before training
        (a dashboard keeps it to call ``request_stop``).

    Returns
    -------
    TrainResult
    """
    from posekit.engine.models.pose_model import PoseModelConfig
    from posekit.engine.models.registry import list_backbones
    from posekit.engine.training import TrainConfig, Trainer

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
    h = min(img.shape[0] for img in ts.images)
    w = min(img.shape[1] for img in ts.images)
    if crop_size is None:
        crop_size = (min(256, h - h % 8), min(256, w - w % 8))
    changes: dict[str, Any] = {"crop_size": tuple(crop_size)}
    if batch_size:
        changes["batch_size"] = int(batch_size)
    if max_iterations is not None or time_budget_s is not None:
        changes["max_iterations"] = max_iterations
        changes["time_budget_s"] = time_budget_s
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
            "shuffle": shuffle,
            "train_fraction": ts.train_fraction,
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
    from posekit.engine.training import list_snapshots as _list

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
    from posekit.engine.training import load_snapshot

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
    from posekit.engine.evaluation import predict_images

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
    from posekit.engine._fileio import atomic_path
    from posekit.engine.evaluation import (
        evaluation_summary,
        plot_predictions,
        predict_images,
        write_combined_evaluation,
    )
    from posekit.engine.inference import dlc_scorer_name
    from posekit.engine.io.dlc import paths_to_index, predictions_frame

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
    scorer = dlc_scorer_name(
        model.pose_config.dlc_netname, project.task, project.date, shuffle, iteration
    )
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
    from posekit.engine.inference import (
        KerasPredictor,
        TFLitePredictor,
        convert_to_tflite,
    )
    from posekit.engine.models.decoder import make_decoder
    from posekit.engine.models.pose_model import rebuild_for_input_shape
    from posekit.engine.training import list_snapshots as _list

    path = Path(model)
    if path.is_dir():
        snaps = _list(path)
        if not snaps:
            raise FileNotFoundError(f"No snapshot in {path}: train the network first.")
        iteration, path = snaps[-1]
    else:
        iteration = int(path.stem.split("-")[-1]) if "-" in path.stem else 0
    net = _load_model(path)
    cfg = net.pose_config
    h, w = int(frame_shape[0]), int(frame_shape[1])
    decoder = make_decoder(stride=net.stride, locref_stdev=cfg.locref_stdev)
    if use_tflite:
        tfl = path.with_name(f"{path.stem}-{h}x{w}-b{batch_size}.tflite")
        if not tfl.exists() or tfl.stat().st_mtime < path.stat().st_mtime:
            full = rebuild_for_input_shape(net, (h, w, 3))
            convert_to_tflite(full, tfl, input_shape=(batch_size, h, w, 3))
        predictor = TFLitePredictor(tfl, decoder, batch_size=batch_size)
    else:
        full = rebuild_for_input_shape(net, (h, w, 3))
        predictor = KerasPredictor(full, decoder, batch_size=batch_size)
    pose_cfg = path.parent / "pose_cfg.yaml"
    meta: dict[str, Any] = {}
    if pose_cfg.exists():
        import yaml

        meta = yaml.safe_load(pose_cfg.read_text()) or {}
    task = str(meta.get("Task") or meta.get("task") or "posekit")
    date = str(meta.get("date") or "")
    shuffle = int(meta.get("shuffle") or 1)
    info = {
        "scorer": f"DLC_{cfg.dlc_netname}_{task}{date}shuffle{shuffle}_{iteration}",
        "bodyparts": list(cfg.bodyparts),
        "iteration": iteration,
        "snapshot": path,
        "model_config": cfg.to_dict(),
        "pose_cfg": meta,
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
    from posekit.engine.inference import analyze_video, dlc_scorer_name
    from posekit.engine.models.pose_model import PoseModelConfig
    from posekit.engine.video import VideoReader

    project = _project(project)
    if videos is None or len(videos) == 0:
        videos = [v for v in project.videos() if not v.stem.endswith("_labeled")]
    iteration, path = latest_snapshot(project, shuffle, snapshot)
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
        cfg = PoseModelConfig.from_dict(info["model_config"])
        scorer = dlc_scorer_name(
            cfg.dlc_netname, project.task, project.date, shuffle, iteration
        )
        meta = dict(info["pose_cfg"])
        meta.update(
            iteration=project.iteration, train_fraction=project.training_fractions[0]
        )
        out = analyze_video(
            predictor,
            video,
            scorer=scorer,
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
