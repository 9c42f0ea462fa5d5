"""Memory and waiting time of a large project: many labelled frames, a long video.

The problems of QA s15 (``/work/qa/s15-scale.md``, F1, F3 and F4), on data this script
builds itself in a temporary folder (seeded):

- a single-animal project whose ``labeled-data`` holds ``N`` labelled 640×480 PNG
  frames (real frames of the openfield video, or of a demo video rendered at 640×480
  when the shared data is absent) with random labels, written with
  :func:`posekit.engine.io.dlc.write_labels`, and its training set
  (``create_training_dataset``);
- a long video (about ``--video-minutes`` minutes): the same clip joined to itself
  with the imageio-ffmpeg binary (``-f concat -c copy``).

Measured, each memory figure in its own child process (peak resident set size:
``/usr/bin/time``'s ``%M``, else the child's ``VmHWM``):

- ``load_training_set`` + reading every image once, with the default image cache
  (:data:`posekit.engine._image_cache.DEFAULT_CACHE_BYTES`) and with ``cache_bytes``
  large enough to hold every frame, which is what the code did before the cache (the
  baseline, measured in the same run), for each ``--frames`` N; a child that only
  imports the module gives the floor;
- ``posekit train --iterations 3 --backbone mobilenet_v2_0.35 --weights none`` at the
  largest N, with the default cache and with a cache that holds everything (the
  baseline: the module's default raised before the command runs, and the images
  decoded at the start as before, see below);
- the start of ``posekit train`` at the largest N (``--iterations 1``, default cache):
  seconds and images decoded from the command's start to each step before the first
  training step (the data check, the project defaults, the crop, the first step),
  as the code does it (``new``: shapes from the file headers, files checked without
  decoding) and as it did before (``old``, the baseline in the same run: every image
  decoded for the check and again for each list of shapes, restored in the child by
  ``ImageList.shapes`` that decodes and an ``ImageList.check`` that does nothing);
  ``--start-repeats`` runs of each;
- seconds, on the long video, of ``bool(VideoReader(v))``, ``reader.expected_frames``
  (the container's count), ``reader.n_frames`` (decodes every frame to count: the
  baseline, which ``bool`` and ``extract_frames`` paid before) and
  ``extract_frames(..., mode="uniform", n=5)``.

Usage::

    python benchmarks/large_project.py [--frames 300 1200] [--video-minutes 10]
        [--start-repeats 2] [--out benchmarks/results/large_project.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
OPENFIELD = DATA / "openfield-Pranav-2018-10-30" / "videos" / "m3v1mp4.mp4"
SIZE = (640, 480)  # width, height of the labelled frames and the video
N_BODYPARTS = 10
SEED = 0
TIME = Path("/usr/bin/time")
HUGE_CACHE = 64 * 2**30  # holds every frame: the behaviour before the cache

#: No GPU, quiet TensorFlow, in every child.
CHILD_ENV = {"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


# ---------------------------------------------------------------------- child side
def _report(result: dict) -> None:
    """Print the child's result with its peak resident memory (``VmHWM``)."""
    status = Path("/proc/self/status").read_text()
    kb = int(
        next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]
    )
    print("RESULT " + json.dumps({**result, "vmhwm_mb": kb / 1024}), flush=True)


def child_load(project_dir: str, cache_bytes: int | None) -> None:
    """Load the training set, read every image once; print a JSON line."""
    from posekit.engine import load_project
    from posekit.engine.dataset import load_training_set

    t0 = time.perf_counter()
    ts = load_training_set(load_project(project_dir), cache_bytes=cache_bytes)
    n = sum(1 for _ in ts.images)
    _report(
        {
            "n_images": n,
            "seconds": time.perf_counter() - t0,
            "cached_mb": ts.images.cached_bytes / 2**20,
            "reads": ts.images.reads,
        }
    )


def child_import() -> None:
    """Import what the load child imports, nothing more (the memory floor)."""
    import posekit.engine.dataset  # noqa: F401

    _report({})


def child_train(argv: list[str], cache_bytes: int | None) -> int:
    """Run ``posekit train`` in this process, optionally with a larger cache."""
    import posekit.engine._image_cache as image_cache

    if cache_bytes is not None:
        image_cache.DEFAULT_CACHE_BYTES = cache_bytes
        # and every frame decoded at the start, as before the cache (the data check
        # reads no pixels since: without this the baseline holds only what 3
        # iterations use)
        _emulate_old_start(image_cache)
    from posekit.engine.cli import main

    t0 = time.perf_counter()
    rc = main(["train", *argv])
    _report({"seconds": time.perf_counter() - t0})
    return rc


#: The steps of ``Trainer.fit`` before the first training step, timed in order.
START_STEPS = (
    "_prepare_data",  # the data check of the training and test sets
    "_adapt_to_project",  # the project defaults (frame shapes, labels)
    "_automatic_crop",  # the crop (from the defaults, else the frame shapes)
    "_setup_model",  # model, optimizer, crop, train step
)


def _emulate_old_start(image_cache) -> None:
    """Make ``ImageList`` list shapes by decoding every image, as before headers.

    The old data check was a loop over ``np.shape(img)``: the check is now
    ``check()`` then the shapes, so ``check`` does nothing here and the shapes
    decode (one pass for the check, one for each list of shapes, as before).
    """
    image_cache.ImageList.check = lambda self: None
    image_cache.ImageList.shapes = property(lambda self: [img.shape for img in self])
    image_cache.ImageList.shape = lambda self, index: self[index].shape


def child_start(argv: list[str], mode: str) -> int:
    """Run ``posekit train``; seconds and decodes up to each step before training.

    ``mode``: ``new`` (the code as it is) or ``old`` (:func:`_emulate_old_start`).
    Decodes are the cache misses of every ``ImageList`` the command makes.
    """
    import posekit.engine._image_cache as image_cache
    from posekit.engine import training

    caches: list = []
    init = image_cache._Cache.__init__

    def register(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        caches.append(self)

    image_cache._Cache.__init__ = register
    if mode == "old":
        _emulate_old_start(image_cache)
    marks: dict[str, dict] = {}
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        if name not in marks:
            reads = sum(c.reads for c in caches)
            marks[name] = {"s": time.perf_counter() - t0, "decodes": reads}

    def timed(name: str, at_start: bool = False):
        method = getattr(training.Trainer, name)

        def wrapper(self, *args, **kwargs):
            if at_start:
                mark(name)
            out = method(self, *args, **kwargs)
            if not at_start:
                mark(name)
            return out

        setattr(training.Trainer, name, wrapper)

    for name in START_STEPS:
        timed(name)
    timed("_run_loop", at_start=True)  # all set: the first step comes next
    timed("_step")  # the first step done (trace included; the batch thread reads on)
    from posekit.engine.cli import main

    rc = main(["train", *argv])
    n = sum(len(c.shapes) if hasattr(c, "shapes") else 0 for c in caches)
    _report(
        {
            "mode": mode,
            "steps": marks,
            "seconds": time.perf_counter() - t0,
            "decodes_total": sum(c.reads for c in caches),
            "shapes_known": n,
        }
    )
    return rc


# ---------------------------------------------------------------------- parent side
def _wait_child(args: list[str]) -> dict:
    """Run this script as a child; its peak RSS (MB), seconds and result.

    The peak is ``/usr/bin/time``'s maximum resident set size (``%M``) where that
    program exists, else the child's own ``VmHWM``. Not ``ru_maxrss`` of this
    process's children: Linux keeps it across ``exec``, so a child forked from this
    (large) process would start at this process's RSS.
    """
    env = {**os.environ, **CHILD_ENV}
    cmd = [sys.executable, __file__, *args]
    if TIME.is_file():
        cmd = [str(TIME), "-f", "MAXRSS_KB %M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    maxrss = [ln for ln in proc.stderr.splitlines() if ln.startswith("MAXRSS_KB ")]
    if maxrss:
        result["time_maxrss_mb"] = int(maxrss[-1].split()[1]) / 1024
    result["peak_rss_mb"] = result.get("time_maxrss_mb", result["vmhwm_mb"])
    result["wall_s"] = seconds
    return result


def source_clip(work: Path) -> tuple[Path, str]:
    """Return the openfield video, or a demo one rendered at 640×480 without it."""
    if OPENFIELD.is_file():
        return OPENFIELD, "openfield m3v1mp4.mp4 (2330 frames, 640x480)"
    from posekit.engine.demo import render_video, simulate_session

    n = 900
    keypoints = simulate_session(n, arena=SIZE, seed=SEED)
    path = render_video(work / "demo640.mp4", keypoints, size=SIZE, seed=SEED)
    return path, f"demo video rendered at 640x480 ({n} frames)"


def long_video(clip: Path, minutes: float, work: Path) -> Path:
    """Join ``clip`` to itself until it lasts ``minutes``, without re-encoding."""
    import imageio_ffmpeg

    from posekit.engine.video import VideoReader

    with VideoReader(clip) as reader:
        clip_s = reader.metadata_frames / reader.fps
    copies = max(1, round(minutes * 60 / clip_s))
    listing = work / "concat.txt"
    listing.write_text("".join(f"file '{clip}'\n" for _ in range(copies)))
    out = work / "long.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-y",
            str(out),
        ],
        check=True,
    )
    return out


def build_project(work: Path, clip: Path, n: int, name: str, pool: Path | None):
    """Build a project whose labelled folder holds ``n`` 640×480 labelled PNGs.

    Frames are spread evenly over the clip. With ``pool`` (the labelled folder of a
    larger project built the same way), the PNGs are hard links to its files.
    """
    import cv2
    import numpy as np
    import pandas as pd

    from posekit.engine.dataset import create_training_dataset
    from posekit.engine.io.dlc import write_labels
    from posekit.engine.project import create_project
    from posekit.engine.video import VideoReader, frame_filename

    bodyparts = [f"bp{i:02d}" for i in range(N_BODYPARTS)]
    project = create_project(
        name,
        "bench",
        [clip],
        working_directory=work,
        bodyparts=bodyparts,
        date=dt.date(2026, 1, 1),
    )
    folder = project.labeled_data_dir(clip)
    folder.mkdir(parents=True, exist_ok=True)
    with VideoReader(clip) as reader:
        total = reader.expected_frames
        # n distinct frame numbers; when n exceeds the clip, names go past its end
        # (the labelled folder is all that load_training_set reads)
        names_total = max(total, n)
        wanted = np.unique(np.linspace(0, names_total - 1, n).round().astype(int))
        by_source: dict[int, list[int]] = {}
        for i in wanted:
            by_source.setdefault(int(i) % total, []).append(int(i))
        if pool is None:
            last = max(by_source) + 1
            for k, frame in reader.iter_frames(0, last):
                for i in by_source.get(k, ()):
                    path = folder / frame_filename(i, names_total)
                    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                    if bgr.shape[:2] != SIZE[::-1]:
                        bgr = cv2.resize(bgr, SIZE)
                    cv2.imwrite(str(path), bgr)
        else:
            pool_files = sorted(pool.glob("*.png"))
            step = len(pool_files) / n
            for j, i in enumerate(wanted):
                src = pool_files[int(j * step)]
                os.link(src, folder / frame_filename(int(i), names_total))
    files = sorted(folder.glob("*.png"))
    rng = np.random.default_rng(SEED)
    centre = rng.uniform([100, 100], [SIZE[0] - 100, SIZE[1] - 100], (len(files), 1, 2))
    points = centre + rng.normal(0, 20, (len(files), N_BODYPARTS, 2))
    points[rng.random((len(files), N_BODYPARTS)) < 0.05] = np.nan
    columns = pd.MultiIndex.from_product(
        [[project.scorer], bodyparts, ["x", "y"]],
        names=["scorer", "bodyparts", "coords"],
    )
    index = [f"labeled-data/{folder.name}/{f.name}" for f in files]
    labels = pd.DataFrame(points.reshape(len(files), -1), index=index, columns=columns)
    write_labels(labels, folder / f"CollectedData_{project.scorer}.h5")
    create_training_dataset(project)
    return project, folder


def _seconds(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def time_video(project, video: Path) -> dict:
    """Seconds of the frame-count paths on the long video (fresh reader each)."""
    from posekit.engine.video import VideoReader, extract_frames

    out: dict = {}
    out["open_s"], reader = _seconds(lambda: VideoReader(video))
    reader.close()
    out["bool_s"], truth = _seconds(lambda: bool(VideoReader(video)))
    assert truth is True
    with VideoReader(video) as reader:
        out["expected_frames_s"], out["expected_frames"] = _seconds(
            lambda: reader.expected_frames
        )
    with VideoReader(video) as reader:
        out["n_frames_s"], out["n_frames"] = _seconds(lambda: reader.n_frames)
    out["extract_uniform_5_s"], extracted = _seconds(
        lambda: extract_frames(project, video, mode="uniform", n=5)
    )
    out["extracted"] = len(extracted)
    return out


def check_cost(project) -> dict:
    """Seconds over the project's images: headers, ``ImageList.check``, decoding.

    Each on a fresh ``load_training_set`` (files in the page cache: built just now).
    """
    from posekit.engine._image_cache import _header
    from posekit.engine.dataset import load_training_set

    ts = load_training_set(project)
    images = ts.images
    out: dict = {"n_images": len(images)}
    out["header_s"], _ = _seconds(
        lambda: [_header(project.path / p, False) for p in ts.paths]
    )
    out["check_s"], _ = _seconds(images.check)
    out["check_reads"] = images.reads
    images = load_training_set(project).images
    out["decode_all_s"], _ = _seconds(lambda: sum(1 for _ in images))
    out["decode_reads"] = images.reads
    out["check_over_decode"] = out["check_s"] / out["decode_all_s"]
    return out


def measure_start(project, args) -> dict:
    """Seconds and decodes from ``posekit train`` to its first step, new and old."""
    from posekit.engine.dataset import load_training_set

    ts = load_training_set(project)
    train_args = [
        str(project.path),
        "--iterations",
        "1",
        "--backbone",
        "mobilenet_v2_0.35",
        "--weights",
        "none",
        "--fresh",
    ]
    out: dict = {
        "what": "posekit train (1 it): start to the first step",
        "n_frames": len(ts.images),
        "n_train": len(ts.train_indices),
        "n_test": len(ts.test_indices),
        "note": "steps: seconds from the command's start and images decoded until "
        "the end of each step of Trainer.fit (_run_loop: its start, all set for the "
        "first step; _step: the first step done, its batch and the batch thread's "
        "prefetch included). new: the code as it is; old (baseline, same run): "
        "ImageList.shapes replaced by decoding every image and ImageList.check by "
        "nothing, the code before (its data check was a decoding loop over "
        "np.shape). Runs alternate new, old. check_cost: seconds over every "
        "image of the project (in the page cache) of reading the headers, of "
        "ImageList.check (headers + PIL verify), and of decoding them all.",
        "new": [],
        "old": [],
    }
    out["check_cost"] = check_cost(project)
    for _ in range(args.start_repeats):
        for mode in ("new", "old"):
            r = _wait_child(["--child", "start", mode, *train_args])
            out[mode].append(r)
            steps = r["steps"]
            print(
                f"start {mode}: {steps['_run_loop']['s']:.1f} s, "
                f"{steps['_run_loop']['decodes']} decodes before the first step",
                flush=True,
            )
    return out


def _mb(x: float) -> str:
    return f"{x:7.0f} MB"


def print_table(results: dict) -> None:
    """Print the measurements as a table."""
    print("\npeak RSS (child process); decoded images held at the end")
    print(
        f"{'what':34s} {'default':>10s} {'baseline':>10s} {'ratio':>6s} "
        f"{'held':>10s} {'held base':>10s} {'s':>6s} {'s base':>6s}"
    )
    print(f"{'import posekit.engine.dataset':34s} {_mb(results['import_mb'])}")
    for row in results["memory"]:
        d, b = row["default"], row["baseline"]
        what = f"{row['what']} N={row['n_frames']}"
        held = (
            f"{_mb(d['cached_mb'])} {_mb(b['cached_mb'])}"
            if "cached_mb" in d
            else f"{'':10s} {'':10s}"
        )
        print(
            f"{what:34s} {_mb(d['peak_rss_mb'])} {_mb(b['peak_rss_mb'])} "
            f"{row['ratio']:6.2f} {held} {d['wall_s']:6.1f} {b['wall_s']:6.1f}"
        )
    start = results.get("train_start")
    if start:
        print(
            f"\nposekit train start, N={start['n_frames']} (train {start['n_train']}"
            f" + test {start['n_test']} images): seconds / images decoded, best of "
            f"{len(start['new'])}"
        )
        c = start["check_cost"]
        print(
            f"  {c['n_images']} images: headers {c['header_s']:.2f} s, "
            f"ImageList.check {c['check_s']:.2f} s ({c['check_reads']} decoded), "
            f"decoding all {c['decode_all_s']:.2f} s"
        )
        names = [*START_STEPS, "_run_loop", "_step"]
        print(f"  {'until the end of':20s} {'new':>16s} {'old (baseline)':>16s}")
        for name in names:
            cells = []
            for mode in ("new", "old"):
                runs = [r["steps"][name] for r in start[mode] if name in r["steps"]]
                best = min(runs, key=lambda r: r["s"]) if runs else None
                cells.append(
                    f"{best['s']:7.2f} s {best['decodes']:5d}" if best else "-"
                )
            label = "_run_loop (start)" if name == "_run_loop" else name
            print(f"  {label:20s} {cells[0]:>16s} {cells[1]:>16s}")
    v = results["video"]
    print(f"\nlong video: {v['frames']} frames, {v['minutes']:.1f} min, {v['source']}")
    base = v["n_frames_s"]
    for key in ("open_s", "bool_s", "expected_frames_s", "n_frames_s"):
        print(f"  {key:24s} {v[key]:8.3f} s   ({v[key] / base:.4f} of n_frames)")
    print(f"  {'extract_uniform_5_s':24s} {v['extract_uniform_5_s']:8.3f} s")


def _child(kind: str, *rest: str) -> None:
    """Dispatch ``large_project.py --child KIND ...`` (the measured processes)."""
    if kind == "load":
        child_load(rest[0], None if rest[1] == "default" else int(rest[1]))
    elif kind == "import":
        child_import()
    elif kind == "train":
        cache = None if rest[0] == "default" else int(rest[0])
        sys.exit(child_train(list(rest[1:]), cache))
    elif kind == "start":
        sys.exit(child_start(list(rest[1:]), rest[0]))


def main() -> None:
    """Build the data, measure, print a table and write the JSON."""
    if sys.argv[1:2] == ["--child"]:
        _child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[300, 1200])
    parser.add_argument("--video-minutes", type=float, default=10.0)
    parser.add_argument("--no-train", action="store_true", help="skip posekit train")
    parser.add_argument(
        "--start-repeats",
        type=int,
        default=2,
        help="runs of the train-start measurement per mode (0: skip it)",
    )
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/large_project.json")
    )
    args = parser.parse_args()

    t_start = time.perf_counter()
    results: dict = {
        "benchmark": "large_project",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
        "frame_size": list(SIZE),
        "bodyparts": N_BODYPARTS,
        "note": "peak_rss_mb: max RSS of a child process (/usr/bin/time %M; vmhwm_mb: "
        "the child's VmHWM); default: the "
        "default image cache (512 MB); baseline: a cache that holds every frame, as "
        "the code behaved before the cache, measured in the same run; ratio: default "
        "over baseline. train_start: see its note. Video seconds: a fresh VideoReader each; n_frames decodes every "
        "frame (what bool(reader) and extract_frames paid before).",
        "memory": [],
    }
    with tempfile.TemporaryDirectory(prefix="posekit-large-") as tmp:
        work = Path(tmp)
        clip, source = source_clip(work)
        results["frames_from"] = source
        sizes = sorted(set(args.frames), reverse=True)
        projects, pool = {}, None
        for n in sizes:
            t0 = time.perf_counter()
            project, folder = build_project(work, clip, n, f"large{n}", pool)
            pool = pool or folder
            projects[n] = project
            print(f"built N={n} in {time.perf_counter() - t0:.0f} s", flush=True)
        results["import_mb"] = _wait_child(["--child", "import"])["peak_rss_mb"]
        for n in sorted(sizes):
            rows = {
                name: _wait_child(
                    ["--child", "load", str(projects[n].path), str(cache)]
                )
                for name, cache in (("default", "default"), ("baseline", HUGE_CACHE))
            }
            row = {"what": "load_training_set+read all", "n_frames": n, **rows}
            row["ratio"] = (
                rows["default"]["peak_rss_mb"] / rows["baseline"]["peak_rss_mb"]
            )
            results["memory"].append(row)
            print(
                f"N={n}: {rows['default']['peak_rss_mb']:.0f} MB vs "
                f"{rows['baseline']['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        if not args.no_train:
            n = sizes[0]
            train_args = [
                str(projects[n].path),
                "--iterations",
                "3",
                "--backbone",
                "mobilenet_v2_0.35",
                "--weights",
                "none",
                "--fresh",
            ]
            rows = {
                name: _wait_child(["--child", "train", cache, *train_args])
                for name, cache in (
                    ("default", "default"),
                    ("baseline", str(HUGE_CACHE)),
                )
            }
            row = {"what": "posekit train (3 it)", "n_frames": n, **rows}
            row["ratio"] = (
                rows["default"]["peak_rss_mb"] / rows["baseline"]["peak_rss_mb"]
            )
            results["memory"].append(row)
        if args.start_repeats > 0:
            results["train_start"] = measure_start(projects[sizes[0]], args)
        t0 = time.perf_counter()
        video = long_video(clip, args.video_minutes, work)
        from posekit.engine.video import VideoReader

        with VideoReader(video) as reader:
            frames, fps = reader.metadata_frames, reader.fps
        results["video"] = {
            "source": source,
            "frames": frames,
            "minutes": frames / fps / 60,
            "build_s": time.perf_counter() - t0,
            **time_video(projects[sizes[0]], video),
        }
        v = results["video"]
        v["bool_speedup"] = v["n_frames_s"] / v["bool_s"]
        v["expected_frames_speedup"] = v["n_frames_s"] / max(
            v["expected_frames_s"], 1e-9
        )
    results["total_s"] = time.perf_counter() - t_start
    print_table(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out} ({results['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
