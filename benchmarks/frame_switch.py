"""Frame-switch speed of the labeller and page-ready time of the label app.

On a temporary copy of the openfield project (640×480):

1. **Server-side frame switch** of :class:`posekit.widgets.labeler.Labeler`
   (``goto``: label-file check, image decode, JPEG/PNG encode, base64, Bokeh
   document update and the serialised patch jupyter_bokeh sends) for frames extracted
   from the openfield *video* and for the 116 labelled frames of ``m4s1``, with the
   three image formats. Target: < 100 ms per switch.
2. **Frame picker scrub** (video decode at a seek + resize + JPEG): sequential (as
   when playing) and random.
3. **Voila page ready** (Playwright + Debian chromium): from ``page.goto`` to the
   labeller canvas visible (each load starts a new kernel), and the **frame switch in
   the browser**: from the key press (the event's own time stamp) until the new
   frame's image is decoded and painted and its points are in the canvas, measured in
   the page with ``requestAnimationFrame``; targets median < 60 ms, 95th percentile
   < 150 ms at 640×480. The labeller prefetches the frames around the current one, so
   the page switches without waiting for the kernel; the kernel's confirmation (the
   status line naming the new frame) is timed too. Between presses the benchmark
   waits ``--dwell`` seconds, as a labeller looks at a frame before going on.

Usage::

    python benchmarks/frame_switch.py [--no-browser] [--out benchmarks/results/frame_switch.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_TEST_DATA", REPO.parent / "shared" / "data"))
OPENFIELD = DATA / "openfield-Pranav-2018-10-30"


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        "max_ms": round(ms[-1], 2),
    }


class _PatchMeter:
    """Counts the bytes jupyter_bokeh would send (patches are built, then sent)."""

    def __init__(self, model) -> None:
        self.bytes = 0
        self.messages = 0
        orig = model.send

        def send(content, buffers=None):
            self.messages += 1
            self.bytes += len(json.dumps(content)) + sum(len(b) for b in buffers or [])
            return orig(content, buffers)

        model.send = send


def bench_labeler(project, video: str, image_format: str, rounds: int) -> dict:
    """Time the labeller's server-side frame switch (``Labeler.goto``).

    Parameters
    ----------
    project
        The project (a temporary copy of openfield).
    video
        Name of the ``labeled-data`` folder whose frames are stepped through.
    image_format
        ``"jpeg"``, ``"png"`` or ``"original"``: how the frame is sent to Bokeh.
    rounds
        Passes over all the frames (each ends back on the first).

    Returns
    -------
    dict
        Switch times (see ``_stats``), the frame count, the image format, the bytes
        jupyter_bokeh sends per switch and the length of one image data URL.
    """
    from posekit.widgets.labeler import Labeler

    lab = Labeler(project, video, image_format=image_format, load_bokehjs=False)
    meter = _PatchMeter(lab.bokeh_model)
    n = len(lab.frames)
    lab.goto(0)
    times = []
    meter.bytes = meter.messages = 0
    for _ in range(rounds):
        for i in list(range(1, n)) + [0]:
            t0 = time.perf_counter()
            lab.goto(i)
            times.append(1000 * (time.perf_counter() - t0))
    out = _stats(times)
    out["frames"] = n
    out["image_format"] = image_format
    out["bytes_per_switch"] = round(meter.bytes / max(len(times), 1))
    out["url_bytes"] = len(lab.image_source.data["url"][0])
    lab.bokeh_model.close()
    return out


def bench_picker(project, n: int = 60) -> dict:
    """Time the frame picker's scrub: ``n`` sequential and ``n`` random seeks.

    Each step sets the slider, which decodes the frame at the seek, resizes it and
    encodes a JPEG.

    Returns
    -------
    dict
        The video's frame count, the sequential and random-seek times (see
        ``_stats``) and the size of the last JPEG.
    """
    import numpy as np

    from posekit.widgets.frame_picker import FramePicker

    picker = FramePicker(project, threaded=False)
    total = picker.model.n_frames
    seq, rnd = [], []
    for i in range(100, 100 + n):
        t0 = time.perf_counter()
        picker.slider.value = i
        seq.append(1000 * (time.perf_counter() - t0))
    rng = np.random.default_rng(0)
    for i in rng.integers(0, total - 1, n):
        t0 = time.perf_counter()
        picker.slider.value = int(i)
        rnd.append(1000 * (time.perf_counter() - t0))
    return {
        "video_frames": total,
        "sequential": _stats(seq),
        "random_seek": _stats(rnd),
        "jpeg_bytes": len(picker.image.value),
    }


#: In the page: wait until the labeller shows ``frame`` (image decoded and painted,
#: points replaced); return the milliseconds since the key event's time stamp.
JS_WAIT_SHOWN = """
async ([frame, oldAnchor]) => {
  const t0 = window.__posekitKeyTime;
  const fig = () => Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const glyphView = () => {
    const v = fig();
    for (const rv of v.renderer_views.values()) {
      const g = rv.glyph;
      if (g && g.model && g.model.type === 'ImageURL') { return [rv, g]; }
    }
    return [null, null];
  };
  const shown = () => {
    const v = fig();
    const [rv, g] = glyphView();
    if (!rv) { return false; }
    const src = rv.model.data_source.data;
    if (!src.frame || src.frame[0] !== frame) { return false; }
    const img = g.image && g.image[0];
    if (!img || !img.complete || img.src !== src.url[0]) { return false; }
    const pts = v.model.renderers.find(
        r => r.data_source && r.data_source.data.bodypart !== undefined).data_source.data;
    const names = Array.from(pts.bodypart);
    return names[names.length - 1] !== oldAnchor;
  };
  while (!shown()) { await new Promise(r => requestAnimationFrame(r)); }
  await new Promise(r => requestAnimationFrame(r));  // painted
  return performance.now() - t0;
}
"""
JS_ANCHOR = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const pts = v.model.renderers.find(
      r => r.data_source && r.data_source.data.bodypart !== undefined).data_source.data;
  const names = Array.from(pts.bodypart);
  return names[names.length - 1];
}"""
JS_KEY_TIME = """() => {
  if (!window.__posekitKeyListener) {
    window.__posekitKeyListener = true;
    window.addEventListener('keydown', (ev) => { window.__posekitKeyTime = ev.timeStamp; },
                            true);
  }
}"""


def bench_browser(
    project, loads: int, switches: int, dwell: float = 0.3, notebook: str = "label"
) -> dict:
    """Time the label app in Voila with chromium (Playwright).

    Parameters
    ----------
    project
        The project the app opens (``POSEKIT_PROJECT``).
    loads
        Page loads, each with a new kernel: ``page.goto`` until the labeller canvas
        is visible.
    switches
        Key ``n`` presses, each timed in the page until the new frame's image and
        points are shown, and until the status line (written by the kernel) names it.
    dwell
        Seconds between the end of a switch and the next key press.
    notebook
        The app notebook (``label``).

    Returns
    -------
    dict
        Page-ready and DOM-loaded times in seconds, the in-browser frame switch and
        the kernel round trips (see ``_stats``); ``{"skipped": ...}`` if chromium is
        missing.
    """
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from conftest import CHROMIUM, CHROMIUM_FLAGS, start_voila
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        return {"skipped": f"{CHROMIUM} not found"}
    ready, dom = [], []
    switch_ms, shown_ms, frames_seen = [], [], []
    with (
        start_voila(
            REPO / "notebooks" / f"{notebook}.ipynb",
            env={"POSEKIT_PROJECT": str(project.path)},
        ) as server,
        sync_playwright() as pw,
    ):
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-"),
            executable_path=str(CHROMIUM),
            headless=False,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = ctx.pages[0]
            for _ in range(loads):
                t0 = time.perf_counter()
                page.goto(server.url, wait_until="domcontentloaded", timeout=120_000)
                dom.append(time.perf_counter() - t0)
                page.wait_for_selector(
                    ".labeler .bk-Canvas", state="visible", timeout=120_000
                )
                ready.append(time.perf_counter() - t0)
                page.wait_for_selector(
                    ".labeler-status >> text=frames done", timeout=120_000
                )
            time.sleep(2.0)
            page.evaluate(JS_KEY_TIME)
            status = page.locator(".labeler-status").first
            first = int(status.inner_text().split("· frame ")[1].split(" of")[0])
            frames = _frames_of_current_video(page)
            for k in range(switches):
                index = first + k  # 1-based position now; the next is index + 1
                if index >= len(frames):
                    break
                anchor = page.evaluate(JS_ANCHOR)
                t0 = time.perf_counter()
                page.keyboard.press("n")
                shown_ms.append(page.evaluate(JS_WAIT_SHOWN, [frames[index], anchor]))
                page.wait_for_selector(
                    f".labeler-status >> text=frame {index + 1} of", timeout=30_000
                )
                switch_ms.append(1000 * (time.perf_counter() - t0))
                frames_seen.append(frames[index])
                time.sleep(dwell)
        finally:
            ctx.close()
    return {
        "page_ready_s": [round(t, 2) for t in ready],
        "page_ready_median_s": round(statistics.median(ready), 2),
        "dom_content_loaded_s": [round(t, 2) for t in dom],
        "frame_switch_in_browser": _stats(shown_ms),
        "key_switch_round_trip": _stats(switch_ms),
        "frames": frames_seen,
        "dwell_s": dwell,
        "note": "page ready = goto until the labeller canvas is visible (new kernel "
        "per load); frame switch in the browser = key event time stamp until the new "
        "frame's image is decoded and painted and its points replaced (measured in "
        "the page); key switch round trip = press 'n' until the status line, written "
        "by the kernel, names the new frame",
    }


def _frames_of_current_video(page) -> list[str]:
    """``labeled-data/<video>/<image>`` of the video the labeller shows, in order."""
    js = """() => {
      const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
      const img = v.model.renderers.find(r => r.data_source.data.url !== undefined);
      return img.data_source.data.frame[0];
    }"""
    frame = page.evaluate(js)
    video = frame.split("/")[1]
    folder = Path(os.environ["POSEKIT_BENCH_PROJECT"]) / "labeled-data" / video
    return sorted(
        f"labeled-data/{video}/{p.name}"
        for p in folder.iterdir()
        if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )


def main() -> None:
    """Run the benchmarks on a copy of openfield and write the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--video-frames", type=int, default=30)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--switches", type=int, default=40)
    parser.add_argument("--dwell", type=float, default=0.3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--browser-only", action="store_true", help="only the Voila measurements"
    )
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "frame_switch.json")
    )
    args = parser.parse_args()

    import logging

    logging.getLogger("posekit").setLevel(logging.ERROR)
    from posekit.engine.project import load_project
    from posekit.engine.video import extract_frames

    tmp = Path(tempfile.mkdtemp(prefix="posekit-bench-"))
    try:
        dst = tmp / OPENFIELD.name
        shutil.copytree(OPENFIELD, dst)
        project = load_project(dst)
        video = project.videos()[0]
        t0 = time.perf_counter()
        extract_frames(project, video, mode="uniform", n=args.video_frames)
        extract_s = time.perf_counter() - t0
        results: dict = {
            "benchmark": "frame_switch",
            "project": OPENFIELD.name,
            "frame_size": [640, 480],
            "cpu_count": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "target_ms": 100,
            "extract_uniform_s": round(extract_s, 2),
            "labeler": {},
        }
        for fmt in () if args.browser_only else ("jpeg", "png", "original"):
            key = f"{video.stem}_{fmt}"
            results["labeler"][key] = bench_labeler(
                project, video.stem, fmt, args.rounds
            )
            print(f"labeler {key:22s} {results['labeler'][key]}")
        if not args.browser_only:
            results["labeler"]["m4s1_jpeg"] = bench_labeler(project, "m4s1", "jpeg", 1)
            print(f"labeler {'m4s1_jpeg':22s} {results['labeler']['m4s1_jpeg']}")
            results["frame_picker"] = bench_picker(project)
            print(f"frame picker {results['frame_picker']}")
        if not args.no_browser:
            os.environ["POSEKIT_BENCH_PROJECT"] = str(project.path)
            results["voila"] = bench_browser(
                project, args.loads, args.switches, args.dwell
            )
            print(f"voila {results['voila']}")
        default = results["labeler"].get(f"{video.stem}_jpeg")
        results["summary"] = {}
        if default:
            results["summary"] = {
                "labeler_switch_median_ms": default["median_ms"],
                "labeler_switch_p95_ms": default["p95_ms"],
                "meets_target": default["p95_ms"] < 100,
            }
        browser = results.get("voila", {}).get("frame_switch_in_browser")
        if browser:
            results["summary"].update(
                {
                    "browser_switch_median_ms": browser["median_ms"],
                    "browser_switch_p95_ms": browser["p95_ms"],
                    "browser_target": "median < 60 ms, p95 < 150 ms",
                    "meets_browser_target": browser["median_ms"] < 60
                    and browser["p95_ms"] < 150,
                }
            )
        print("summary", results["summary"])
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
