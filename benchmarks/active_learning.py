r"""Active learning: 20 frames picked by outlier selection against 20 picked at random.

Two datasets, the whole refinement loop of posekit (``extract_outlier_frames`` or its
building blocks, labels revealed from the ground truth as if a labeller had corrected
the machine labels exactly, ``merge_datasets``, ``train_network`` starting from the
previous iteration's snapshot):

- **demo**: the synthetic demo project (900 frames of 320×240, exact ground truth for
  every frame), in its side view by default (``--demo-view``): a mouse reaching for a
  joystick, with small parts, parts that hide (NaN in the truth, left out of the
  errors), a look-alike paw and, with ``--demo-rare`` (default 0.12), short grooming
  bouts (the paw at the face, 35 of the 900 frames of the default video
  ``--demo-seed 9``), a posture no other bout shows. Start: the 10 frames that DLC's
  uniform extraction picks (none of them grooming, and none with the tongue out: the
  tongue is out in 84 frames) and a model trained on them. Each arm adds 20 frames,
  picked by ``extract_outlier_frames`` (criteria jump, uncertain, fitting, tta;
  k-means on the frames) or uniformly at random among the frames not labelled yet, and
  fine-tunes the base model for the same CPU budget. Errors are measured on every
  frame of the video against the ground truth, and on the grooming frames alone.
  (With ``--demo-rare 0 --demo-seed 0`` the 10 start frames cover every posture: the
  base model then has 1 frame in 900 off by more than 10 px, which leaves outlier
  selection nothing to find. The top view is solved from the 10 start frames.)
  ``--demo-incidents 1`` adds one short bout of each lab incident (glare, the
  experimenter's shadow, the camera out of focus; ``posekit.engine.demo.INCIDENTS``)
  and reports the picks and errors per rare look (``modes``: grooming, tongue out and
  each incident); its pre-registered protocol is in ``docs/guides/refinement.md``.
- **openfield**: the real DeepLabCut project (116 labelled 640×480 frames of m4s1).
  The every-20 frames (img0000, img0020, …, img0100) are held out as the test set; the
  other 110 are the pool, whose labels are revealed only when a frame is picked. Start:
  10 pool frames (seeded) and a model trained on them. Outlier selection scores the
  remaining pool frames with the per-frame criteria (uncertain, tta: the frames are not
  a sequence, so jump and fitting do not apply) and picks 20 with k-means on the
  frames; the random arm picks 20 uniformly. Errors are measured on the held-out test
  frames (and, for information, on the pool frames neither arm trained on).

The committed results (``benchmarks/results/active_learning.json``, ``run_note``):
demo and openfield with the default budgets (300 CPU-s per core for the base, 150 for
each arm), seeds 0-2; ``active_learning_incidents.json``: the demo with incidents;
``active_learning_rounds.json``: the same in two rounds (``--rounds 2``).

Each seed changes the random frames and the k-means seed; both arms of a seed start
from the same base snapshot and train with the same budget (process CPU seconds per
core, ``budget_clock="cpu"``, so that other work on a shared machine does not change
the result). Reported per run: mean error, 95th percentile of the keypoint errors, and
the fraction of frames with a keypoint off by more than 10 px.

Usage (steps write into ``--workdir`` and are skipped when done; at most ``--jobs``
trainings run at once, each in its own process, logs in ``<workdir>/logs``)::

    python benchmarks/active_learning.py all --workdir /tmp/posekit-al
    python benchmarks/active_learning.py report --workdir /tmp/posekit-al

Writes ``benchmarks/results/active_learning.json`` and ``active_learning.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
OPENFIELD = DATA / "openfield-Pranav-2018-10-30"
RESULTS = REPO / "benchmarks" / "results" / "active_learning.json"
DATASETS = ("demo", "openfield")
ARMS = ("outlier", "random")
N_START, N_ADD = 10, 20
TEST_NAMES = [f"img{i:04d}.png" for i in range(0, 101, 20)]  # openfield every-20
OFF_PX = 10.0


# ----------------------------------------------------------------------------- metrics


def frames_off(pred, truth, px: float = OFF_PX):
    """Say which frames have a labelled keypoint more than ``px`` off.

    Parameters
    ----------
    pred
        ``(N, K, >=2)`` predictions.
    truth
        ``(N, K, 2)`` ground truth (NaN: not labelled, left out).
    px
        The distance that makes a miss.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` bool (``False`` for a frame with no labelled keypoint).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((3, 2, 2)); truth[2] = np.nan
    >>> pred = np.zeros((3, 2, 2)); pred[1, 0, 0] = 20
    >>> frames_off(pred, truth).tolist()
    [False, True, False]
    """
    import numpy as np

    err = np.linalg.norm(np.asarray(pred)[..., :2] - np.asarray(truth), axis=-1)
    return np.where(np.isnan(err), -np.inf, err).max(axis=1) > px


def error_metrics(pred, truth) -> dict:
    """Mean and 95th-percentile keypoint error, fraction of frames off by > 10 px.

    Parameters
    ----------
    pred
        ``(N, K, >=2)`` predictions.
    truth
        ``(N, K, 2)`` ground truth (NaN: not labelled, left out).

    Returns
    -------
    dict
        ``mean_px``, ``p95_px``, ``frac_frames_over_10px`` (a frame counts when any
        labelled keypoint is off by more than 10 px), ``frac_keypoints_over_10px``,
        ``n_frames``, ``n_keypoints``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((4, 2, 2)); pred = truth.copy(); pred[3, 1, 0] = 20
    >>> m = error_metrics(pred, truth)
    >>> m["frac_frames_over_10px"], m["mean_px"]
    (0.25, 2.5)
    """
    import numpy as np

    err = np.linalg.norm(np.asarray(pred)[..., :2] - np.asarray(truth), axis=-1)
    ok = ~np.isnan(err)
    has = ok.any(axis=1)
    return {
        "mean_px": float(err[ok].mean()),
        "p95_px": float(np.percentile(err[ok], 95)),
        "frac_frames_over_10px": float(frames_off(pred, truth)[has].mean()),
        "frac_keypoints_over_10px": float((err[ok] > OFF_PX).mean()),
        "n_frames": int(has.sum()),
        "n_keypoints": int(ok.sum()),
    }


# ------------------------------------------------------------------------- helpers


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _write_json(path: Path, doc: dict) -> None:
    from posekit.engine._fileio import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def _train(project, budget: float) -> dict:
    from posekit.engine.api import train_network

    t0, c0 = time.perf_counter(), time.process_time()
    res = train_network(
        project,
        time_budget_s=budget,
        budget_clock="cpu",
        max_iterations=None,
        progress=False,
        save_interval_s=0,
    )
    return {
        "iterations": res.iteration,
        "stop_reason": res.stop_reason,
        "snapshot": str(res.snapshot),
        "initialised_from": str(res.initialised_from) if res.initialised_from else None,
        "budget_cpu_s_per_core": budget,
        "wall_s": round(time.perf_counter() - t0, 1),
        "process_cpu_s": round(time.process_time() - c0, 1),
    }


def _reveal(project, video: str, frames: list[str], truth_of) -> None:
    """Label frames with their true keypoints (a labeller correcting machine labels)."""
    from posekit.engine.labels import LabelStore

    store = LabelStore(project, video, autosave=False)
    for f in frames:
        xy = truth_of(f)
        store.apply(f, {bp: (float(x), float(y)) for bp, (x, y) in zip(project.bodyparts, xy, strict=True)})  # fmt: skip
    store.save()


def _copy_project(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)


# ---------------------------------------------------------------------------- demo


def _demo_truth(project):
    """Ground-truth keypoints and behaviour labels of the demo's video."""
    from posekit.engine.demo import load_ground_truth

    return load_ground_truth(project, "session1")


def _frame_index(frame: str) -> int:
    return int(Path(frame).stem[3:])


def _demo_modes(project) -> dict:
    """Frames of each rare look of a side-view demo with incidents (else empty).

    ``groom`` (the rare behaviour), ``tongue_out`` (the tongue is labelled in none of
    the start frames) and each lab incident (:data:`posekit.engine.demo.INCIDENTS`).
    """
    import numpy as np

    from posekit.engine.demo import INCIDENTS, SIDE_RARE_BEHAVIOR, load_incidents

    incidents = load_incidents(project, "session1")
    if not incidents.any():
        return {}
    truth, behaviour = _demo_truth(project)
    modes = {
        "groom": behaviour == SIDE_RARE_BEHAVIOR,
        "tongue_out": np.isfinite(truth[:, 2, 0]),
    }
    modes.update({k: incidents == k for k in INCIDENTS})
    return modes


def _demo_evaluate(project, modes: dict | None = None) -> dict:
    """Errors over every frame, over the rare-behaviour frames alone and per rare look.

    Returns ``metrics``, ``metrics_rare`` (None without grooming bouts) and, for a
    demo with incidents, ``metrics_modes`` (``modes``: :func:`_demo_modes`, found
    here when not given).
    """
    from posekit.engine.api import analyze_videos
    from posekit.engine.demo import SIDE_RARE_BEHAVIOR
    from posekit.engine.refinement import predictions_for_frames

    (out,) = analyze_videos(
        project, project.videos(), use_tflite=False, progress=False, batch_size=8
    )
    xyp, _, _ = predictions_for_frames(out)
    truth, behaviour = _demo_truth(project)
    rare = behaviour == SIDE_RARE_BEHAVIOR
    res = {
        "metrics": error_metrics(xyp, truth),
        "metrics_rare": error_metrics(xyp[rare], truth[rare]) if rare.any() else None,
    }
    modes = _demo_modes(project) if modes is None else modes
    if modes:
        res["metrics_modes"] = {
            k: error_metrics(xyp[m], truth[m]) for k, m in modes.items() if m.any()
        }
    return res


def prepare_demo(
    work: Path,
    budget: float,
    view: str = "side",
    rare: float = 0.0,
    seed: int = 0,
    incidents: int = 0,
) -> dict:
    """Build the demo project with 10 labelled frames, train and analyse the base."""
    import numpy as np

    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.demo import SIDE_RARE_BEHAVIOR, make_demo_project

    base = work / "demo" / "base"
    if base.exists():
        shutil.rmtree(base)
    project = make_demo_project(
        base,
        n_frames=900,
        n_labeled=N_START,
        view=view,
        rare=rare,
        seed=seed,
        incidents=incidents,
    )
    project.set("TrainingFraction", [1.0])  # every labelled frame trains
    project.save(keys=["TrainingFraction"])
    create_training_dataset(project)
    train = _train(project, budget)
    modes = _demo_modes(project)
    evaluation = _demo_evaluate(project, modes)
    _, behaviour = _demo_truth(project)
    out = {
        "project": str(project.path),
        "view": view,
        "rare": rare,
        "video_seed": seed,
        "rare_frames": np.flatnonzero(behaviour == SIDE_RARE_BEHAVIOR).tolist(),
        "start_frames": sorted(_frame_index(f) for f in _labelled(project, "session1")),
        "train": train,
        **evaluation,
    }
    if modes:
        out["incidents"] = incidents
        out["mode_frames"] = {k: np.flatnonzero(m).tolist() for k, m in modes.items()}
    return out


def run_demo_arm(
    work: Path, arm: str, seed: int, budget: float, rounds: int = 1
) -> dict:
    """Copy the base, add 20 frames (outlier or random), merge, fine-tune, evaluate.

    With ``rounds`` > 1 the 20 frames come in that many rounds (the refinement loop
    run again): each round picks its share of the frames with the model the previous
    round trained, merges and fine-tunes for ``budget / rounds``. The random arm
    draws the same 20 frames as in one round, in the order drawn.
    """
    import numpy as np

    from posekit.engine.project import load_project
    from posekit.engine.refinement import extract_outlier_frames, merge_datasets
    from posekit.engine.video import extract_frames

    base = json.loads((work / "demo" / "base.json").read_text())
    src = Path(base["project"])
    dst = work / "demo" / f"{arm}-{seed}" / src.name
    _copy_project(src, dst)
    project = load_project(dst)
    video = project.videos()[0]
    truth, _ = _demo_truth(project)
    labelled = {_frame_index(f) for f in _labelled(project, video.stem)}
    free = [i for i in range(len(truth)) if i not in labelled]
    drawn = np.random.default_rng(seed).choice(free, N_ADD, False).tolist()
    shares = np.diff(np.linspace(0, N_ADD, rounds + 1).round().astype(int))
    modes = _demo_modes(project)  # the rare looks, read once for every round
    picked, steps, info = [], [], {}
    for n in shares:
        t0 = time.perf_counter()
        if arm == "outlier":
            (res,) = extract_outlier_frames(
                project,
                [video],
                criteria=("jump", "uncertain", "fitting", "tta", "novelty"),
                n=int(n),
                fill=True,
                seed=seed,
                tta_max_frames=450,
            )
            new = res.picked.tolist()
            info = {
                "candidates": len(res.candidates),
                "per_criterion": {
                    c: len(res.scores.outliers(c)) for c in res.scores.scores
                },
            }
        else:
            new = sorted(int(i) for i in drawn[len(picked) : len(picked) + n])
            extract_frames(project, video, indices=new)
        select_s = time.perf_counter() - t0
        frames = [f"labeled-data/{video.stem}/{_name(project, i)}" for i in new]
        _reveal(project, video.stem, frames, lambda f: truth[_frame_index(f)])
        merge = merge_datasets(project)
        train = _train(project, budget / rounds)
        evaluation = _demo_evaluate(project, modes)  # analyses for the next round too
        picked += new
        steps.append(
            {
                "picked": new,
                "selection_s": round(select_s, 1),
                "merge": merge.summary(),
                "train": train,
                **evaluation,
                **info,
            }
        )
    rare_frames = set(base.get("rare_frames", []))
    out = {"arm": arm, "seed": seed, **steps[-1]}
    out["picked"] = sorted(picked)
    out["picked_rare"] = sum(i in rare_frames for i in picked)
    out["selection_s"] = round(sum(s["selection_s"] for s in steps), 1)
    if rounds > 1:
        out["rounds"] = steps
    if "mode_frames" in base:
        out["picked_modes"] = {
            k: len(set(frames) & set(picked))
            for k, frames in base["mode_frames"].items()
        }
    return out


def _labelled(project, stem: str) -> list[str]:
    from posekit.engine.labels import LabelStore

    return LabelStore(project, stem).labelled_frames()


def _name(project, index: int) -> str:
    from posekit.engine.video import VideoReader, frame_filename

    with VideoReader(project.videos()[0]) as r:
        return frame_filename(index, r.n_frames)


# ----------------------------------------------------------------------- openfield


def _openfield_truth():
    import pandas as pd

    from posekit.engine.io.dlc import index_to_paths, labels_to_array

    df = pd.read_hdf(OPENFIELD / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5")
    paths = index_to_paths(df.index)
    xy = labels_to_array(df)
    return dict(zip(paths, xy, strict=True))


def _openfield_pool(base: dict, truth: dict) -> list[str]:
    """List the labelled frames an arm may pick: neither test nor start frames."""
    held = set(base["test_frames"]) | set(base["start_frames"])
    return sorted(f for f in truth if f not in held)


def _openfield_evaluate(project, truth: dict, frames: list[str]) -> dict:
    import cv2
    import numpy as np

    from posekit.engine.api import predict_frames

    images = [
        cv2.cvtColor(cv2.imread(str(project.path / f)), cv2.COLOR_BGR2RGB)
        for f in frames
    ]
    pred = predict_frames(project, images, batch_size=1)
    return error_metrics(pred, np.stack([truth[f] for f in frames]))


def prepare_openfield(work: Path, budget: float) -> dict:
    """Copy openfield with only 10 pool frames and the 6 test frames labelled; train."""
    import numpy as np

    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.io.dlc import make_labels_frame, write_labels
    from posekit.engine.project import load_project

    truth = _openfield_truth()
    base = work / "openfield" / "base" / OPENFIELD.name
    if base.parent.exists():
        shutil.rmtree(base.parent)
    shutil.copytree(OPENFIELD, base, ignore=shutil.ignore_patterns("videos"))
    (base / "videos").mkdir()
    for v in (OPENFIELD / "videos").iterdir():
        (base / "videos" / v.name).symlink_to(v)
    for p in [base, *base.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o200)
    project = load_project(base)
    test = [f for f in truth if Path(f).name in TEST_NAMES]
    pool = sorted(f for f in truth if f not in test)
    start = sorted(np.random.default_rng(0).choice(pool, N_START, False).tolist())
    rows = sorted(test + start)
    df = make_labels_frame(
        project.scorer, project.bodyparts, rows, np.stack([truth[f] for f in rows])
    )
    write_labels(df, project.labels_path("m4s1"))
    create_training_dataset(project, test_frames=test)
    train = _train(project, budget)
    rest = [f for f in pool if f not in start]
    return {
        "project": str(project.path),
        "test_frames": test,
        "start_frames": start,
        "train": train,
        "metrics": _openfield_evaluate(project, truth, test),
        "metrics_pool_rest": _openfield_evaluate(project, truth, rest),
    }


def pool_outlier_scores(folder, images, trained_on, bodyparts, pcutoff, seed):
    """Score a pool of frames that is not a sequence with the per-frame criteria.

    The criteria of :func:`~posekit.engine.refinement.extract_outlier_frames` that need
    no video: ``uncertain``, ``tta`` and ``novelty`` (jumps and trajectory fits need
    neighbouring frames).

    Parameters
    ----------
    folder
        :class:`~posekit.engine.model_folder.ModelFolder` of the model to improve.
    images
        The pool's RGB frames.
    trained_on
        The RGB frames the model was trained on (the novelty reference).
    bodyparts
        The model's bodyparts (mirror pairs for test-time augmentation).
    pcutoff
        Likelihood below which a point is uncertain.
    seed
        Seed of the novelty reference sample.

    Returns
    -------
    scores : posekit.engine.refinement.OutlierScores
    xyp : numpy.ndarray
        ``(len(images), K, 3)`` the model's predictions (the machine labels).
    """
    from posekit.engine.inference import KerasPredictor
    from posekit.engine.novelty import backbone_features, fit_to_model_frames
    from posekit.engine.refinement import (
        outlier_scores,
        predict_augmented,
        snapshot_tta_augmentations,
    )

    model = folder.load()  # once, for the predictions and the novelty features
    predictor = KerasPredictor(model, batch_size=1)
    xyp = predictor(images)
    augmented = predict_augmented(  # as the network trained: no unseen mirror
        predictor, images, bodyparts, snapshot_tta_augmentations(folder)
    )
    novelty = fit_to_model_frames(model, trained_on, seed=seed).score(
        backbone_features(model, images)
    )
    scores = outlier_scores(
        xyp,
        ["uncertain", "tta", "novelty"],
        pcutoff=pcutoff,
        augmented=augmented,
        novelty=novelty,
    )
    return scores, xyp


def pick_outliers(
    folder, images, trained_on, bodyparts, pcutoff, n, seed, features=None
):
    """Pick ``n`` frames of a pool that is not a sequence, as outlier extraction would.

    :func:`pool_outlier_scores`, then k-means among the candidates (the frames over
    a threshold; with the next highest scores when fewer than ``n`` are candidates,
    as ``extract_outlier_frames(fill=True)`` does), the highest priority per cluster.

    Parameters
    ----------
    folder, images, trained_on, bodyparts, pcutoff
        As for :func:`pool_outlier_scores`.
    n
        Frames to pick.
    seed
        Seed of the novelty reference sample and of k-means.
    features
        What k-means clusters, one row per frame (default: the frames' thumbnails,
        :func:`~posekit.engine.refinement.frame_features`).

    Returns
    -------
    chosen : numpy.ndarray
        Indices into ``images``.
    xyp : numpy.ndarray
        ``(len(images), K, 3)`` the model's predictions (the machine labels).
    info : dict
        ``candidates`` and ``per_criterion`` (frames over each criterion's threshold).
    """
    import numpy as np

    from posekit.engine.refinement import frame_features, select_diverse

    scores, xyp = pool_outlier_scores(
        folder, images, trained_on, bodyparts, pcutoff, seed
    )
    combined, priority = scores.combined, scores.priority
    cands = np.flatnonzero(combined > 1.0)
    if len(cands) < n:  # fill with the next highest scores, as fill=True does
        rest = [i for i in np.argsort(-combined) if combined[i] <= 1.0]
        cands = np.sort(np.concatenate([cands, rest[: n - len(cands)]]).astype(int))
    if features is None:
        features = frame_features(images)
    chosen = cands[select_diverse(priority[cands], features[cands], n, seed=seed)]
    info = {
        "candidates": int((combined > 1.0).sum()),
        "per_criterion": {c: len(scores.outliers(c)) for c in scores.scores},
    }
    return chosen, xyp, info


def run_openfield_arm(work: Path, arm: str, seed: int, budget: float) -> dict:
    """Pick 20 pool frames (outlier scores + k-means, or random), reveal, merge, train."""
    import cv2
    import numpy as np

    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.project import load_project
    from posekit.engine.refinement import merge_datasets, write_machine_labels

    base = json.loads((work / "openfield" / "base.json").read_text())
    src = Path(base["project"])
    dst = work / "openfield" / f"{arm}-{seed}" / src.name
    _copy_project(src, dst)
    project = load_project(dst)
    truth = _openfield_truth()
    test = base["test_frames"]
    pool = _openfield_pool(base, truth)
    t0 = time.perf_counter()
    info: dict = {}
    if arm == "outlier":
        images = [
            cv2.cvtColor(cv2.imread(str(project.path / f)), cv2.COLOR_BGR2RGB)
            for f in pool
        ]
        trained_on = [
            cv2.cvtColor(cv2.imread(str(project.path / f)), cv2.COLOR_BGR2RGB)
            for f in base["start_frames"]
        ]
        folder = ModelFolder.of(project, 1)
        chosen, xyp, info = pick_outliers(
            folder, images, trained_on, project.bodyparts, project.pcutoff, N_ADD, seed
        )
        picked = [pool[i] for i in chosen]
        write_machine_labels(
            project, "m4s1", picked, xyp[chosen], folder.scorer(), project.bodyparts
        )
    else:
        picked = sorted(np.random.default_rng(seed).choice(pool, N_ADD, False).tolist())
    select_s = time.perf_counter() - t0
    _reveal(project, "m4s1", picked, lambda f: truth[f])
    merge = merge_datasets(project)
    train = _train(project, budget)
    unpicked = [f for f in pool if f not in picked]
    return {
        "arm": arm,
        "seed": seed,
        "picked": picked,
        "selection_s": round(select_s, 1),
        "merge": merge.summary(),
        "test_frames_kept": list(merge.test_frames),
        "train": train,
        "metrics": _openfield_evaluate(project, truth, test),
        "metrics_pool_unpicked": _openfield_evaluate(project, truth, unpicked),
        **info,
    }


# ------------------------------------------------------------------------- driver


def _step_path(work: Path, dataset: str, name: str) -> Path:
    return work / dataset / f"{name}.json"


def run_step(args) -> int:
    """Run one step in this process and write its JSON (the driver's unit of work)."""
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    work = Path(args.workdir)
    budget = args.base_budget if args.arm == "base" else args.budget
    if args.arm == "base":
        if args.dataset == "demo":
            out = prepare_demo(
                work,
                budget,
                args.demo_view,
                args.demo_rare,
                args.demo_seed,
                args.demo_incidents,
            )
        else:
            out = prepare_openfield(work, budget)
        name = "base"
    else:
        if args.dataset == "demo":
            out = run_demo_arm(work, args.arm, args.seed, budget, args.rounds)
        else:
            out = run_openfield_arm(work, args.arm, args.seed, budget)
        name = f"{args.arm}-{args.seed}"
    out["dataset"] = args.dataset
    _write_json(_step_path(work, args.dataset, name), out)
    _log(f"{args.dataset} {name}: {json.dumps(out.get('metrics'))}")
    return 0


def run_all(args) -> int:
    """Run every missing step, at most ``--jobs`` at once, bases before their arms."""
    work = Path(args.workdir)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    datasets = args.datasets
    todo = []
    for d in datasets:
        todo.append((d, "base", 0))
        for seed in args.seeds:
            for arm in ARMS:
                todo.append((d, arm, seed))
    running: dict[tuple, subprocess.Popen] = {}

    def done(step) -> bool:
        d, arm, seed = step
        name = "base" if arm == "base" else f"{arm}-{seed}"
        return _step_path(work, d, name).is_file()

    failed = []
    while True:
        for step, proc in list(running.items()):
            if proc.poll() is not None:
                del running[step]
                if proc.returncode != 0:
                    failed.append(step)
                    _log(f"FAILED {step} (see logs)")
        pending = [s for s in todo if not done(s) and s not in running]
        pending = [s for s in pending if s not in failed]
        if not pending and not running:
            break
        for step in pending:
            if len(running) >= args.jobs:
                break
            d, arm, seed = step
            if arm != "base" and not done((d, "base", 0)):
                continue
            log = work / "logs" / f"{d}-{arm}-{seed}.log"
            cmd = [
                sys.executable, __file__, "step", "--workdir", str(work),
                "--dataset", d, "--arm", arm, "--seed", str(seed),
                "--budget", str(args.budget), "--base-budget", str(args.base_budget),
                "--demo-view", args.demo_view, "--demo-rare", str(args.demo_rare),
                "--demo-seed", str(args.demo_seed),
                "--demo-incidents", str(args.demo_incidents),
                "--rounds", str(args.rounds),
            ]  # fmt: skip
            with open(log, "w") as fh:
                running[step] = subprocess.Popen(
                    cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO
                )
            _log(f"started {step} (log {log})")
        time.sleep(10)
    report(args)
    return 1 if failed else 0


def _pct_better(random: float, outlier: float) -> float:
    return 100.0 * (random - outlier) / random if random else 0.0


def _rare_comparison(o: dict, r: dict) -> dict:
    """Rare-behaviour frames picked by each arm and their errors after fine-tuning."""
    if not (o.get("metrics_rare") and r.get("metrics_rare")):
        return {}
    keys = ("mean_px", "p95_px", "frac_frames_over_10px")
    return {
        "rare_frames_picked": {"outlier": o["picked_rare"], "random": r["picked_rare"]},
        "rare_frames_metrics": {
            "outlier": {k: o["metrics_rare"][k] for k in keys},
            "random": {k: r["metrics_rare"][k] for k in keys},
        },
    }


def _modes_comparison(o: dict, r: dict) -> dict:
    """Per rare look (demo with incidents): frames picked and > 10 px shares after."""
    if not (o.get("metrics_modes") and r.get("metrics_modes")):
        return {}
    return {
        "modes": {
            k: {
                "picked": {
                    "outlier": o["picked_modes"][k],
                    "random": r["picked_modes"][k],
                },
                "frac_frames_over_10px": {
                    "outlier": o["metrics_modes"][k]["frac_frames_over_10px"],
                    "random": r["metrics_modes"][k]["frac_frames_over_10px"],
                },
                "p95_px": {
                    "outlier": o["metrics_modes"][k]["p95_px"],
                    "random": r["metrics_modes"][k]["p95_px"],
                },
            }
            for k in o["metrics_modes"]
        }
    }


def _openfield_common_unpicked(work: Path, seed: int, o: dict, r: dict) -> dict:
    """Both arms' errors on the pool frames neither arm trained on (same frames).

    A larger set than the 6 test frames (about 70 frames), the same for both arms.
    Outlier selection took the frames the base got most wrong out of it, so it is,
    if anything, the harder set for random picks to lose on.
    """
    from posekit.engine.project import load_project

    base = json.loads(_step_path(work, "openfield", "base").read_text())
    truth = _openfield_truth()
    common = sorted(
        set(_openfield_pool(base, truth)) - set(o["picked"]) - set(r["picked"])
    )
    name = Path(base["project"]).name
    out = {"n_frames": len(common)}
    for arm in ARMS:
        project = load_project(work / "openfield" / f"{arm}-{seed}" / name)
        out[arm] = _openfield_evaluate(project, truth, common)
    return out


def report(args) -> int:
    """Gather the step results into the JSON and the figure; print the comparison."""
    work = Path(args.workdir)
    doc = {
        "benchmark": "active_learning",
        "n_start": N_START,
        "n_added": N_ADD,
        "off_px": OFF_PX,
        "budget_clock": "cpu (process CPU seconds per core)",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "run_note": args.note,
        "rounds": args.rounds,
        "datasets": {},
    }
    for d in DATASETS:
        base_path = _step_path(work, d, "base")
        if not base_path.is_file():
            continue
        base = json.loads(base_path.read_text())
        runs = {}
        for p in sorted((work / d).glob("*-*.json")):
            r = json.loads(p.read_text())
            runs[p.stem] = r
        seeds = sorted({r["seed"] for r in runs.values()})
        comparison = []
        for s in seeds:
            o, r = runs.get(f"outlier-{s}"), runs.get(f"random-{s}")
            if not (o and r):
                continue
            mo, mr = o["metrics"], r["metrics"]
            comparison.append(
                {
                    "seed": s,
                    "outlier": {
                        k: mo[k] for k in ("mean_px", "p95_px", "frac_frames_over_10px")
                    },  # fmt: skip
                    "random": {
                        k: mr[k] for k in ("mean_px", "p95_px", "frac_frames_over_10px")
                    },  # fmt: skip
                    "p95_better_pct": round(_pct_better(mr["p95_px"], mo["p95_px"]), 1),
                    "over10_better_pct": round(
                        _pct_better(
                            mr["frac_frames_over_10px"], mo["frac_frames_over_10px"]
                        ),
                        1,
                    ),
                    "mean_better_pct": round(
                        _pct_better(mr["mean_px"], mo["mean_px"]), 1
                    ),  # fmt: skip
                    "outlier_wins_p95": mo["p95_px"] < mr["p95_px"],
                    "outlier_wins_over10": mo["frac_frames_over_10px"]
                    < mr["frac_frames_over_10px"],
                    **_rare_comparison(o, r),
                    **_modes_comparison(o, r),
                }
            )
            if d == "openfield":
                comparison[-1]["pool_frames_neither_picked"] = (
                    _openfield_common_unpicked(work, s, o, r)
                )
        doc["datasets"][d] = {
            "base": base,
            "runs": runs,
            "comparison": comparison,
            "outlier_wins_every_seed": bool(comparison)
            and all(
                c["outlier_wins_p95"] and c["outlier_wins_over10"] for c in comparison
            ),
        }
        for c in comparison:
            print(
                f"{d} seed {c['seed']}: p95 {c['outlier']['p95_px']:.2f} vs "
                f"{c['random']['p95_px']:.2f} px ({c['p95_better_pct']:+.1f} %), >10 px "
                f"{c['outlier']['frac_frames_over_10px']:.4f} vs "
                f"{c['random']['frac_frames_over_10px']:.4f} "
                f"({c['over10_better_pct']:+.1f} %), mean {c['outlier']['mean_px']:.2f} vs "
                f"{c['random']['mean_px']:.2f} px"
            )
            for k, m in c.get("modes", {}).items():
                print(
                    f"  {k}: picked {m['picked']['outlier']} vs {m['picked']['random']}"
                    f", > 10 px {m['frac_frames_over_10px']['outlier']:.2f} vs "
                    f"{m['frac_frames_over_10px']['random']:.2f}"
                )
            common = c.get("pool_frames_neither_picked")
            if common:
                mo, mr = common["outlier"], common["random"]
                print(
                    f"  pool frames neither arm picked ({common['n_frames']}): p95 "
                    f"{mo['p95_px']:.2f} vs {mr['p95_px']:.2f} px, >10 px "
                    f"{mo['frac_frames_over_10px']:.4f} vs "
                    f"{mr['frac_frames_over_10px']:.4f}, mean {mo['mean_px']:.2f} vs "
                    f"{mr['mean_px']:.2f} px"
                )
    out = Path(args.json)
    _write_json(out, doc)
    _plot(doc, out.with_suffix(".png"))
    print(f"wrote {out}")
    return 0


def _plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in DATASETS if doc["datasets"].get(d, {}).get("comparison")]
    if not datasets:
        return
    metrics = [("p95_px", "95th percentile error (px)"),
               ("frac_frames_over_10px", "frames off by > 10 px"),
               ("mean_px", "mean error (px)")]  # fmt: skip
    fig, axes = plt.subplots(
        len(datasets), 3, figsize=(11, 3.2 * len(datasets)), squeeze=False
    )
    for row, d in zip(axes, datasets, strict=True):
        comp = doc["datasets"][d]["comparison"]
        for ax, (key, title) in zip(row, metrics, strict=True):
            seeds = [c["seed"] for c in comp]
            x = range(len(seeds))
            ax.bar([i - 0.2 for i in x], [c["outlier"][key] for c in comp], 0.4,
                   label="outlier selection")  # fmt: skip
            ax.bar([i + 0.2 for i in x], [c["random"][key] for c in comp], 0.4,
                   label="random")  # fmt: skip
            ax.set_xticks(list(x), [f"seed {s}" for s in seeds])
            ax.set_title(f"{d}: {title}", fontsize=10)
        row[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``all``, ``step`` (one step, used by ``all``) and ``report``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["all", "step", "report"])
    parser.add_argument("--workdir", default="/tmp/posekit-al")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--dataset", choices=DATASETS)
    parser.add_argument("--arm", choices=["base", *ARMS])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=150.0, help="CPU-s per core")
    parser.add_argument("--base-budget", type=float, default=300.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--demo-view", choices=["side", "top"], default="side")
    parser.add_argument(
        "--demo-rare",
        type=float,
        default=0.12,
        help="side view: probability that a bout is grooming (a rare posture)",
    )
    parser.add_argument("--demo-seed", type=int, default=9, help="demo video seed")
    parser.add_argument(
        "--demo-incidents",
        type=int,
        default=0,
        help="side view: bouts of each lab incident (glare, shadow, blur)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="demo: add the 20 frames in this many rounds of pick, merge, fine-tune "
        "(the budget is shared between them)",
    )
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--note", default="", help="how the run was made (report)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= N_ADD:
        parser.error(f"--rounds must be between 1 and {N_ADD}")
    used = [args.dataset] if args.command == "step" else args.datasets
    if args.rounds > 1 and "openfield" in used:
        parser.error("--rounds applies to the demo only (--datasets demo)")
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.command == "step":
        return run_step(args)
    if args.command == "report":
        return report(args)
    return run_all(args)


if __name__ == "__main__":
    raise SystemExit(main())
