"""Time to open the trajectory viewer on hour-long recordings (1 and 4 animals).

A synthetic DeepLabCut predictions file is written for each case (30 fps, one hour:
108,000 frames, 12 bodyparts): animals walk about a 640x480 arena, bodyparts have
low-likelihood dropouts, tracks have short and long gaps (tracklet ends) and, with
several animals, identities swap now and then (the ``_el.h5`` layout, key
``tracks``). Each repeat runs in a fresh Python process and measures:

- ``imports_s``: importing the viewer (and the filters, the readers);
- ``model_s``: :class:`~posekit.widgets.trajectory_model.TrajectoryModel` on the file
  (read, first animal filtered);
- ``viewer_s``: :class:`~posekit.widgets.trajectory_viewer.TrajectoryViewer` on that
  model (figures, controls, first frame and plots): ``open_s`` is the sum, what a
  researcher waits for before the viewer shows;
- ``swaps_listed_s``: from the start of the open until the likely identity swaps
  are listed (several animals);
- ``likely_swaps_s``: median of 3 calls of
  :func:`~posekit.engine.multianimal.identity.likely_swaps` on the tracks shown (the
  code measured's; several animals), what the viewer's worker waits for after
  opening and after every swap or undo;
- ``switch_animal_s``: median time to show another animal (first visit: it is
  filtered then), ``frame_s``: median time of a slider move (20 frames);
- ``reopen_s``: opening the same file again in the same process (imports warm).

Medians over the repeats are written to the JSON under ``--label`` (``after`` by
default); the other labels already in the file are kept. With ``--before-tree`` (a
posekit source tree of the code before a change, e.g.
``git archive <commit> | tar -x -C /tmp/before``) the repeats alternate between that
code (label ``before``) and this one (``after``), so both see the same machine load.

Usage::

    python benchmarks/viewer_open.py [--repeats 5] [--label after]
        [--before-tree DIR] [--before-label before] [--animals 1 4]
        [--label-note TEXT] [--out benchmarks/results/viewer_open.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FPS = 30
N_FRAMES = 108_000  # one hour at 30 fps
N_BODYPARTS = 12
SCORER = "DLC_resnet50_benchJan1shuffle1_1000"


def make_predictions(
    path: Path,
    n_animals: int,
    n_frames: int = N_FRAMES,
    n_bodyparts: int = N_BODYPARTS,
    seed: int = 0,
) -> Path:
    """Write a realistic synthetic DeepLabCut predictions file (see the docstring)."""
    from posekit.engine.io.dlc import predictions_frame, write_predictions

    rng = np.random.default_rng(seed)
    t, a, k = n_frames, n_animals, n_bodyparts
    # centres: a random walk reflected at the arena walls
    walk = np.cumsum(rng.normal(0.0, 2.0, (t, a, 2)), axis=0)
    walk += rng.uniform(100, 500, (1, a, 2))
    size = np.array([600.0, 420.0])
    walk = np.abs((walk - 20) % (2 * size))
    centre = np.where(walk > size, 2 * size - walk, walk) + 20
    body = rng.normal(0.0, 15.0, (1, a, k, 2))  # each animal's bodyparts
    xy = centre[:, :, None, :] + body + rng.normal(0.0, 1.0, (t, a, k, 2))
    lik = rng.beta(8.0, 1.5, (t, a, k))
    xy[lik < 0.1] = np.nan  # bodyparts not detected
    for i in range(a):  # tracklet ends: many short gaps, a few long ones
        for _ in range(t // 600):
            s = int(rng.integers(0, t))
            e = min(t, s + int(rng.integers(1, 30)))
            xy[s:e, i], lik[s:e, i] = np.nan, np.nan
        for _ in range(max(1, t // 20_000)):
            s = int(rng.integers(0, t))
            e = min(t, s + int(rng.integers(100, 1000)))
            xy[s:e, i], lik[s:e, i] = np.nan, np.nan
    if a > 1:  # identity swaps
        for _ in range(max(1, t // 5000)):
            f = int(rng.integers(0, t))
            i, j = rng.choice(a, 2, replace=False)
            xy[f:, [i, j]] = xy[f:, [j, i]]
            lik[f:, [i, j]] = lik[f:, [j, i]]
    xyp = np.concatenate([xy, lik[..., None]], axis=-1)
    bodyparts = [f"bodypart{j}" for j in range(k)]
    if a == 1:
        df = predictions_frame(xyp[:, 0], SCORER, bodyparts)
        return write_predictions(df, path)
    names = [f"mouse{i + 1}" for i in range(a)]
    df = predictions_frame(xyp, SCORER, bodyparts, individuals=names)
    return write_predictions(df, path, key="tracks")


def _child(path: str) -> dict:
    """One fresh-process measurement (run with ``--child``)."""
    t0 = time.perf_counter()
    import posekit.engine.behavior.filters  # noqa: F401
    import posekit.engine.io.dlc  # noqa: F401
    from posekit.widgets.trajectory_model import TrajectoryModel
    from posekit.widgets.trajectory_viewer import TrajectoryViewer

    out: dict = {"imports_s": time.perf_counter() - t0}
    code = str(Path(sys.modules[TrajectoryViewer.__module__].__file__).parents[1])

    def open_once() -> tuple:
        t = time.perf_counter()
        model = TrajectoryModel(path, fps=FPS)
        t_model = time.perf_counter()
        viewer = TrajectoryViewer(model, load_bokehjs=False)
        t_viewer = time.perf_counter()
        wait = getattr(viewer, "wait_likely_swaps", None)
        if wait is not None:
            wait(timeout=120)
        t_swaps = time.perf_counter()
        return viewer, t_model - t, t_viewer - t_model, t_swaps - t

    viewer, model_s, viewer_s, swaps_s = open_once()
    m = viewer.model
    out.update(model_s=model_s, viewer_s=viewer_s, open_s=model_s + viewer_s)
    if len(m.animals) > 1:
        out["swaps_listed_s"] = swaps_s
        switches = []
        for name in m.individuals[1:]:
            t = time.perf_counter()
            m.individual = name
            switches.append(time.perf_counter() - t)
        out["switch_animal_s"] = statistics.median(switches)
        m.individual = m.individuals[0]
        from posekit.engine.multianimal.identity import likely_swaps

        calls = []
        for _ in range(3):
            t = time.perf_counter()
            likely_swaps(m.raw)
            calls.append(time.perf_counter() - t)
        out["likely_swaps_s"] = statistics.median(calls)
    rng = np.random.default_rng(1)
    frames = []
    for f in rng.integers(0, m.n_frames, 20):
        t = time.perf_counter()
        m.frame = int(f)
        frames.append(time.perf_counter() - t)
    out["frame_s"] = statistics.median(frames)
    viewer.close()
    del viewer, m
    _, model_s, viewer_s, _ = open_once()
    out["reopen_s"] = model_s + viewer_s
    return {"code": code, **out}


def _child_run(path: Path, pythonpath: str | None) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if pythonpath:  # the sys.path entry comes before the editable install's finder
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if k != "code"]
    summary: dict = {"code": runs[0]["code"]}
    summary.update({k: round(statistics.median(r[k] for r in runs), 3) for k in keys})
    summary["runs"] = [{k: round(r[k], 3) for k in keys} for r in runs]
    return summary


def _run(path: Path, repeats: int, before: str | None) -> dict[str, dict]:
    """Median of ``repeats`` fresh processes, alternating with ``before`` if given."""
    runs: dict[str, list[dict]] = {}
    for _ in range(repeats):
        if before:
            runs.setdefault("before", []).append(_child_run(path, before))
        runs.setdefault("current", []).append(_child_run(path, None))
    return {label: _summary(r) for label, r in runs.items()}


def main(argv: list[str] | None = None) -> int:
    """Measure every case and write the JSON (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--label", default="after")
    parser.add_argument("--animals", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--before-tree", type=Path, help="posekit tree to compare")
    parser.add_argument("--before-label", default="before")
    parser.add_argument("--note", help="what was compared (kept in the JSON)")
    parser.add_argument(
        "--label-note", help="what the labels of this run measured (kept with them)"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/viewer_open.json"
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child)))
        return 0
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    measured: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="posekit-viewer-open-") as tmp:
        before = None
        if args.before_tree:
            before = str(Path(tmp) / "before")
            os.mkdir(before)
            os.symlink(args.before_tree.resolve(), Path(before) / "posekit")
        for n in args.animals:
            name = f"{n}x1h"
            suffix = "_el.h5" if n > 1 else ".h5"
            path = Path(tmp) / f"session{n}{SCORER}{suffix}"
            make_predictions(path, n)
            for label, summary in _run(path, args.repeats, before).items():
                label = args.label if label == "current" else args.before_label
                measured.setdefault(label, {})[name] = summary
                row = {k: v for k, v in summary.items() if k not in ("runs", "code")}
                print(f"{label} {name}: {row}", flush=True)
    if args.note:
        results["note"] = args.note
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (shared)"
    for label, cases in measured.items():
        entry = results.setdefault(label, {})
        for case in cases.values():  # cases measured in other runs are kept
            case.update(repeats=args.repeats, when=when, machine=machine)
        entry.setdefault("cases", {}).update(cases)
        entry.update(frames=N_FRAMES, bodyparts=N_BODYPARTS)
        if args.label_note:
            entry["note"] = args.label_note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
