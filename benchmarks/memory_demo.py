"""Peak memory of the demo workflow, as the apps run it, on one core (Binder: ~2 GB).

The demo workflow of the Voila apps, on a fresh demo project in a temporary folder:

1. ``setup``   — ``make_demo_project`` + ``create_training_dataset`` (what the home app
   and the first "Start training" do);
2. ``label``   — the label app: :class:`~posekit.widgets.label_app.LabelApp` steps
   through the labelled frames, places a point (then undoes it, so the labels stay the
   demo's) and renders the check-labels gallery;
3. ``train``   — the train app: a headless :class:`~posekit.widgets.training_dashboard.
   TrainingDashboard` with its default settings (the project's default network,
   default batch and crop), ``--iterations`` iterations, then its automatic evaluation
   (``evaluate_network`` + the worst test frames);
4. ``analyze`` — the analyze app: :class:`~posekit.widgets.analysis_panel.AnalysisPanel`
   analyses the demo video (TFLite conversion + LiteRT, as the app does);
5. ``view``    — the viewer app: :class:`~posekit.widgets.trajectory_viewer.TrajectoryApp`
   opens the predictions, scrubs frames, changes the filter, writes the labelled video
   and loads it into the video widget.

Every stage runs in a child process pinned to one CPU with one TensorFlow thread
(intra- and inter-op) and one LiteRT thread, like a Binder container. Two layouts:

- ``apps``: each stage in its own process, as Voila gives each app page its own kernel.
  The home app's links open the next app in the same tab, and the apps' server
  (``posekit.widgets.serve``, what ``make app`` and Binder's config run) shuts down
  the kernel of the page left (Voila's ``beforeunload`` beacon, which needs the
  ``_xsrf`` cookie the server sets), so walking home → label → train → analyze → view
  needs the largest single app kernel (``apps_same_tab_mb``); the browser test
  ``tests/browser/test_app_server.py::test_kernels_do_not_pile_up`` checks the kernel
  count and memory of that walk through the real server. (``--voila`` below starts a
  bare Voila only to measure a server's own memory.) With every app kept open in its own tab, the earlier kernels
  keep their memory: ``apps_all_open_mb`` (for each stage its peak plus what the
  earlier app kernels still hold) is reported beside it;
- ``one_kernel``: all stages in one process, as the tutorial notebook runs them.

``total_peak_mb`` (compared with the 2 GB target) is the larger of the two workflows
plus the resident memory of the server (``--voila``).

Memory is the kernel's peak resident set size (``VmHWM`` of ``/proc/<pid>/status``,
reset between stages through ``/proc/self/clear_refs``; ``ru_maxrss`` from
``os.wait4`` for the whole process), and the peak of the summed resident memory of the
kernel and every process it starts (ffmpeg for the labelled video), sampled every
0.1 s from ``/proc`` (``tree_peak_mb``). With ``--voila``, a Voila server renders the
train app and the resident memory of the server is added to the total (the Jupyter or
Voila server runs beside the kernels on Binder). Only the standard library is used
(``/proc``, ``os.wait4``). Linux only.

Usage::

    python benchmarks/memory_demo.py [--iterations 200] [--voila]
        [--out benchmarks/results/memory_demo.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 2048
STAGES = ("setup", "label", "train", "analyze", "view")

#: One thread everywhere (set before anything imports numpy or TensorFlow).
ONE_THREAD_ENV = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "",
}


# ---------------------------------------------------------------------- child side
def _status_kb(field: str, pid: str = "self") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def _rss_kb(pid: int) -> int:
    """Resident memory of a process; 0 if it is gone (or a zombie)."""
    try:
        return _status_kb("VmRSS", str(pid))
    except (OSError, AttributeError):
        return 0


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from ``/proc/<pid>/stat``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier}
        tree += sorted(frontier)
    return tree


class _TreeSampler(threading.Thread):
    """Peak of the summed resident memory of a process and its descendants."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.peak_kb = 0
        self.max_processes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            tree = _process_tree(self.pid)
            total = sum(_rss_kb(p) for p in tree)
            if total > self.peak_kb:
                self.peak_kb = total
            self.max_processes = max(self.max_processes, len(tree))
            self._done.wait(self.interval_s)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kb


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _one_cpu() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})


def _pin_one_core() -> None:
    for name, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    _one_cpu()


def _tensorflow_one_thread() -> None:
    from posekit.widgets.app import preload_tensorflow

    preload_tensorflow()  # what the apps do
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _stage_setup(work: Path, args: argparse.Namespace) -> dict:
    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.demo import make_demo_project

    project = make_demo_project(work)
    (split,) = create_training_dataset(project)
    return {
        "project": str(project.path),
        "train_frames": len(split.train_indices),
        "test_frames": len(split.test_indices),
    }


def _project(work: Path):
    from posekit.engine.demo import make_demo_project

    return make_demo_project(work)  # opens the existing one


def _stage_label(work: Path, args: argparse.Namespace) -> dict:
    from posekit.widgets.label_app import LabelApp

    app = LabelApp(_project(work), threaded=False)
    lab = app.labeler
    n = len(lab.frames)
    visited = 0
    for i in range(0, n, max(1, n // 20)):
        lab.goto(i)  # decodes the frame, sends it to the Bokeh canvas
        visited += 1
    lab.goto(0)
    w, h = lab.image_size
    lab.place(w / 2, h / 2)  # saved at once to CollectedData_*.h5/.csv
    undone = lab.undo()
    if len(undone) != 1:
        raise RuntimeError(f"undo changed {len(undone)} points, expected 1")
    paths = app.gallery.render()
    return {"frames": n, "frames_visited": visited, "gallery_images": len(paths)}


def _stage_train(work: Path, args: argparse.Namespace) -> dict:
    from posekit.widgets.training_dashboard import TrainingDashboard

    # no TensorFlow here: the app trains in a process of its own (this one's child,
    # pinned to the same CPU, with ONE_THREAD_ENV), counted in tree_peak_mb
    dash = TrainingDashboard(_project(work))  # the train app's defaults
    m = dash.model
    m.limit = "iterations"  # the app's default is a time budget
    m.iterations = args.iterations
    t0 = time.perf_counter()
    m.start()
    m.join()
    seconds = time.perf_counter() - t0
    if m.state != "finished":
        raise RuntimeError(f"training ended in state {m.state}: {m.error}")
    result = m.result
    stats = result.train_dir / "learning_stats.csv"
    return {
        "backbone": m.backbone,
        "iterations": int(result.iteration),
        "crop_size": _crop_of(result.train_dir),
        "train_and_evaluate_s": round(seconds, 1),
        "test_error_px": None
        if result.test_error_px is None
        else round(result.test_error_px, 2),
        "evaluation_rows": 0 if m.evaluation is None else len(m.evaluation),
        "worst_frames": len(m.worst_frames),
        "learning_stats_rows": sum(1 for _ in open(stats)) - 1,
    }


def _crop_of(train_dir: Path) -> list[int]:
    # pose_cfg.yaml read as YAML: posekit.engine.training would import TensorFlow
    # into this process, which stands for the app's kernel (it never imports it)
    import yaml

    cfg = yaml.safe_load((train_dir / "pose_cfg.yaml").read_text())
    return [int(v) for v in cfg["posekit"]["train"]["crop_size"]]


def _stage_analyze(work: Path, args: argparse.Namespace) -> dict:
    from posekit.widgets.analysis_panel import AnalysisPanel

    # no TensorFlow here: the app's kernel runs on LiteRT (one thread, ONE_THREAD_ENV)
    # and converts in a process of its own, which inherits the core and the env
    panel = AnalysisPanel(_project(work))
    m = panel.model
    t0 = time.perf_counter()
    m.analyze(wait=True)
    seconds = time.perf_counter() - t0
    if m.state != "done":
        raise RuntimeError(f"analysis ended in state {m.state}: {m.error}")
    return {
        "videos": len(m.videos),
        "outputs": [Path(p).name for p in m.outputs],
        "analyze_s": round(seconds, 1),
        "frames_per_s": round(m.frames_per_s, 1),
    }


def _stage_view(work: Path, args: argparse.Namespace) -> dict:
    from posekit.widgets.trajectory_viewer import TrajectoryApp

    app = TrajectoryApp(_project(work))
    viewer = app.viewer
    if viewer is None:
        raise RuntimeError(f"the viewer opened nothing: {app.message.value}")
    m = viewer.model
    for frame in range(0, m.n_frames, max(1, m.n_frames // 30)):
        m.frame = frame  # decodes the frame, updates the Bokeh document
    m.method = "median"
    m.method = "savgol"
    viewer.start_labeled_video(wait=True)
    if m.error:
        raise RuntimeError(f"viewer error: {m.error}")
    return {
        "predictions": m.source.name if m.source else None,
        "frames": m.n_frames,
        "labeled_video_widgets": len(viewer.video_box.children),
    }


def _run_child(args: argparse.Namespace) -> None:
    """Run ``args.stages`` in this process; print one JSON line per stage."""
    _pin_one_core()
    work = Path(args.workdir)
    funcs = {
        "setup": _stage_setup,
        "label": _stage_label,
        "train": _stage_train,
        "analyze": _stage_analyze,
        "view": _stage_view,
    }
    for stage in args.stages.split(","):
        resettable = _reset_peak()
        start_kb = _status_kb("VmRSS")
        t0 = time.perf_counter()
        info = funcs[stage](work, args)
        record = {
            "stage": stage,
            "seconds": round(time.perf_counter() - t0, 1),
            "start_rss_mb": round(start_kb / 1024, 1),
            "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
            "end_rss_mb": round(_status_kb("VmRSS") / 1024, 1),
            "peak_is_per_stage": resettable,
            "threads_at_end": _status_kb_threads(),
            **info,
        }
        print("@@STAGE " + json.dumps(record), flush=True)


def _status_kb_threads() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))


# ---------------------------------------------------------------------- parent side
def _spawn(stages: list[str], work: Path, args: argparse.Namespace) -> dict:
    """Run stages in one child process and return what it used.

    That is its stage records, its whole-process ``ru_maxrss`` (the child is reaped
    with ``os.wait4``, which reports its own usage) and the sampled peak of the child
    and its own children together.
    """
    cmd = [
        sys.executable, __file__, "--child", "--workdir", str(work),
        "--stages", ",".join(stages), "--iterations", str(args.iterations),
    ]  # fmt: skip
    env = {**os.environ, **ONE_THREAD_ENV, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        tree_peak_kb = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        sys.stderr.write(stderr[-5000:])
        raise SystemExit(f"stage(s) {stages} failed (exit {proc.returncode})")
    records = [
        json.loads(line.removeprefix("@@STAGE "))
        for line in stdout.splitlines()
        if line.startswith("@@STAGE ")
    ]
    return {
        "records": records,
        "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
        "tree_peak_mb": round(tree_peak_kb / 1024, 1),
        "max_processes": sampler.max_processes,
    }


def _voila_train_app(work: Path, project: Path, port: int = 8877) -> dict | None:
    """Resident memory of a Voila server and the kernel of a rendered train app."""
    import urllib.request

    voila = shutil.which("voila", path=str(Path(sys.executable).parent))
    if voila is None:
        return None
    env = {
        **os.environ,
        **ONE_THREAD_ENV,
        "POSEKIT_PROJECT": str(project),
        "POSEKIT_DEMO_DIR": str(work),
    }
    with open(work / "voila.log", "w+") as log:
        server = subprocess.Popen(
            [voila, str(REPO / "notebooks" / "train.ipynb"), "--no-browser",
             f"--port={port}", "--Voila.ip=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_one_cpu,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                log.seek(0)
                if "running at" in log.read():
                    break
                time.sleep(0.5)
            else:
                return None
            server_idle = _rss_kb(server.pid) / 1024
            sampler = _TreeSampler(server.pid)
            sampler.start()
            t0 = time.perf_counter()
            url = f"http://127.0.0.1:{port}/"
            with urllib.request.urlopen(url, timeout=300) as r:
                page = r.read()
            seconds = time.perf_counter() - t0
            time.sleep(2)
            tree_peak_kb = sampler.stop()
            kernels = _process_tree(server.pid)[1:]
            kernel_mb = sum(_rss_kb(p) for p in kernels) / 1024
            kernel_peak = max((_status_kb("VmHWM", str(p)) for p in kernels), default=0)
            return {
                "server_idle_rss_mb": round(server_idle, 1),
                "server_rss_mb": round(_rss_kb(server.pid) / 1024, 1),
                "kernels": len(kernels),
                "train_app_kernel_rss_mb": round(kernel_mb, 1),
                "train_app_kernel_peak_mb": round(kernel_peak / 1024, 1),
                "server_and_kernel_peak_mb": round(tree_peak_kb / 1024, 1),
                "page_bytes": len(page),
                "page_seconds": round(seconds, 1),
            }
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main() -> None:
    """Measure each app in its own kernel and the whole workflow in one; write JSON.

    With ``--child`` (used internally) run the given stages in this process instead.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--voila", action="store_true", help="also measure Voila")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/memory_demo.json"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--stages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_child(args)
        return

    result: dict = {
        "benchmark": "memory_demo",
        "target_mb": TARGET_MB,
        "iterations": args.iterations,
        "cpu_count": os.cpu_count(),
        "pinned": "1 CPU, 1 TensorFlow intra-op and inter-op thread, 1 LiteRT thread",
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="posekit-memory-") as tmp:
        # --- each app in its own kernel (Voila)
        apps_dir = Path(tmp) / "apps"
        apps = {}
        for stage in STAGES:
            run = _spawn([stage], apps_dir, args)
            (record,) = run["records"]
            record["ru_maxrss_mb"] = run["ru_maxrss_mb"]
            record["tree_peak_mb"] = run["tree_peak_mb"]
            record["max_processes"] = run["max_processes"]
            # the kernel's exact peak, or kernel + children if they sum to more
            record["process_peak_mb"] = max(run["ru_maxrss_mb"], run["tree_peak_mb"])
            apps[stage] = record
            print(
                f"apps/{stage:8s} peak {record['process_peak_mb']:7.1f} MB "
                f"(end {record['end_rss_mb']:7.1f} MB, {record['seconds']} s)",
                flush=True,
            )
        held = 0.0
        all_open = 0.0
        for stage in STAGES:
            all_open = max(all_open, held + apps[stage]["process_peak_mb"])
            held += apps[stage]["end_rss_mb"]
        result["apps"] = apps
        result["apps_max_single_kernel_mb"] = max(
            r["process_peak_mb"] for r in apps.values()
        )
        result["apps_all_open_mb"] = round(all_open, 1)

        # --- the tutorial notebook: one kernel
        one_dir = Path(tmp) / "one"
        run = _spawn(list(STAGES), one_dir, args)
        result["one_kernel"] = {r["stage"]: r for r in run["records"]}
        result["one_kernel_ru_maxrss_mb"] = run["ru_maxrss_mb"]
        result["one_kernel_tree_peak_mb"] = run["tree_peak_mb"]
        result["one_kernel_peak_mb"] = max(run["ru_maxrss_mb"], run["tree_peak_mb"])
        for r in run["records"]:
            print(
                f"one/{r['stage']:9s} peak {r['peak_rss_mb']:7.1f} MB "
                f"(end {r['end_rss_mb']:7.1f} MB, {r['seconds']} s)",
                flush=True,
            )

        if args.voila:
            project = Path(apps[STAGES[0]]["project"])
            result["voila"] = _voila_train_app(apps_dir, project)
            print("voila:", result["voila"], flush=True)

    peak_stage = {s: apps[s]["process_peak_mb"] for s in STAGES}
    voila = result.get("voila")
    server_mb = voila["server_rss_mb"] if voila else 0.0
    result["server_mb"] = server_mb if voila else None
    result["peak_mb_per_stage"] = peak_stage
    result["apps_same_tab_mb"] = round(max(peak_stage.values()) + server_mb, 1)
    result["one_kernel_total_mb"] = round(result["one_kernel_peak_mb"] + server_mb, 1)
    result["apps_all_open_total_mb"] = round(result["apps_all_open_mb"] + server_mb, 1)
    total = max(result["apps_same_tab_mb"], result["one_kernel_total_mb"])
    result["total_peak_mb"] = total
    result["pass"] = total <= TARGET_MB
    result["all_open_fits"] = result["apps_all_open_total_mb"] <= TARGET_MB
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"peak per stage (own kernel): {peak_stage}\n"
        f"server: {result['server_mb']} MB; apps in one tab: "
        f"{result['apps_same_tab_mb']} MB; tutorial in one kernel: "
        f"{result['one_kernel_total_mb']} MB; every app open in its own tab: "
        f"{result['apps_all_open_total_mb']} MB\n"
        f"total {total} MB of {TARGET_MB} MB -> "
        f"{'PASS' if result['pass'] else 'FAIL'}\nwrote {args.out}"
    )


if __name__ == "__main__":
    main()
