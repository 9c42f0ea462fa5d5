r"""Model-assisted labelling: clicks and seconds to label 20 new frames, in the browser.

A simulated labeller labels the same 20 new frames of the demo video (exact ground
truth for every frame) twice, in the label app served by Voila and driven by
chromium (Playwright):

- **from scratch**: one click per bodypart at its true position, then ``u`` (next
  frame with work left);
- **from predictions**: the frames were pre-filled by ``posekit label
  --from-predictions`` (the network's guesses as machine labels); every guess farther
  than ``--tolerance`` px from the truth is dragged to it, then ``a`` (accept the
  frame) and ``u``.

The simulated labeller waits for the app to acknowledge each action (the status line)
before the next, so the seconds measure the app's round trips, not a human's aiming;
the clicks (and drags) measure the human work. At the end every label on disk is
compared with the truth.

The network: ``--project`` names a demo project with a trained model (the active
learning benchmark's base: 10 labelled frames), otherwise one is built and trained for
``--budget`` CPU seconds per core.

Usage::

    python benchmarks/assisted_labelling.py --project /tmp/posekit-al-demo-top/base/demo-posekit-2026-01-01

Writes ``benchmarks/results/assisted_labelling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "assisted_labelling.json"

JS_VIEW = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const m = v.model;
  return {x0: m.x_range.start, x1: m.x_range.end, y0: m.y_range.start,
          y1: m.y_range.end, fw: m.frame_width, fh: m.frame_height};
}"""
JS_POINTS = """() => {
  const v = Bokeh.index.roots.find(r => r.model.name === 'posekit-labeler');
  const r = v.model.renderers.find(
      r => r.data_source && r.data_source.data.bodypart !== undefined);
  const d = r.data_source.data;
  return {x: Array.from(d.x), y: Array.from(d.y), bodypart: Array.from(d.bodypart),
          fill: Array.from(d.fill)};
}"""


def _prepare(args, work: Path):
    """Two copies of the project with the same 20 new frames; one pre-filled."""
    import numpy as np

    from posekit.engine.demo import load_ground_truth, make_demo_project
    from posekit.engine.labels import list_frames
    from posekit.engine.project import load_project
    from posekit.engine.refinement import predict_machine_labels
    from posekit.engine.video import extract_frames

    if args.project:
        src = Path(args.project)
    else:
        from posekit.engine.api import train_network

        base = make_demo_project(work / "base", n_frames=900, n_labeled=10)
        train_network(
            base,
            time_budget_s=args.budget,
            budget_clock="cpu",
            max_iterations=None,
            progress=False,
        )
        src = base.path
    base = load_project(src)
    truth, _ = load_ground_truth(base, "session1")
    taken = {int(Path(f).stem[3:]) for f in list_frames(base, "session1")}
    rng = np.random.default_rng(args.seed)
    free = [i for i in range(len(truth)) if i not in taken]
    frames = sorted(int(i) for i in rng.choice(free, args.frames, replace=False))
    copies = {}
    for arm in ("scratch", "assisted"):
        dst = work / arm / src.name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*_labeled*"))
        project = load_project(dst)
        extract_frames(project, project.videos()[0], indices=frames)
        if arm == "assisted":
            predict_machine_labels(project, ["session1"])
        copies[arm] = project
    return copies, truth, frames


class _Canvas:
    def __init__(self, page) -> None:
        self.page = page

    def to_page(self, x: float, y: float) -> tuple[float, float]:
        v = self.page.evaluate(JS_VIEW)
        b = self.page.locator(".labeler .bk-Canvas").first.bounding_box()
        sx = (x - v["x0"]) * v["fw"] / (v["x1"] - v["x0"])
        sy = (y - v["y1"]) * v["fh"] / (v["y0"] - v["y1"])
        return b["x"] + sx, b["y"] + sy


def _status(page) -> str:
    return page.locator(".labeler-status").first.inner_text()


def _wait_status(page, text: str, timeout: float = 60.0) -> None:
    page.wait_for_selector(f".labeler-status >> text={text}", timeout=timeout * 1000)


def _label(page, project, truth, frames, arm: str, tolerance: float) -> dict:
    """Label every new frame as the arm does; count the actions; time it all."""
    import numpy as np

    canvas = _Canvas(page)
    names = {f: f"img{f:03d}.png" for f in frames}
    bps = project.bodyparts
    clicks = drags = keys = 0
    t0 = time.perf_counter()
    for f in frames:
        _wait_status(page, names[f])
        time.sleep(0.2)  # the image decodes
        if arm == "scratch":
            for k, xy in enumerate(truth[f]):
                page.mouse.click(*canvas.to_page(*xy))
                clicks += 1
                _wait_status(page, f"{k + 1} of {len(bps)} bodyparts")
        else:
            pts = page.evaluate(JS_POINTS)
            guesses = {
                b: (x, y)
                for x, y, b, fill in zip(
                    pts["x"], pts["y"], pts["bodypart"], pts["fill"], strict=True
                )
                if fill == "machine"
            }
            for j, bp in enumerate(bps):
                guess = guesses.get(bp)
                if (
                    guess is not None
                    and np.hypot(*(np.subtract(guess, truth[f, j]))) <= tolerance
                ):
                    continue  # fmt: skip
                start = canvas.to_page(*guess) if guess else None
                end = canvas.to_page(*truth[f, j])
                if start is None:  # no guess for it: a click
                    page.locator(".labeler-bodypart").nth(j).click()
                    page.mouse.click(*end)
                    clicks += 1
                else:
                    page.mouse.move(*start)
                    page.mouse.down()
                    page.mouse.move(*end, steps=8)
                    page.mouse.up()
                    drags += 1
                _wait_labelled(project, f, bp)
            page.keyboard.press("a")
            keys += 1
            _wait_status(page, f"{len(bps)} of {len(bps)} bodyparts")
        page.keyboard.press("u")
        keys += 1
    seconds = time.perf_counter() - t0
    return {"clicks": clicks, "drags": drags, "keys": keys, "seconds": seconds}


def _wait_labelled(project, frame: int, bp: str, timeout: float = 60.0) -> None:
    import pandas as pd

    path = project.labels_path("session1")
    key = ("labeled-data", "session1", f"img{frame:03d}.png")
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists():
            df = pd.read_hdf(path, "df_with_missing")
            if key in df.index and df.loc[key, ("posekit", bp, "x")] == df.loc[key, ("posekit", bp, "x")]:  # fmt: skip
                return
        time.sleep(0.05)
    raise TimeoutError(f"{bp} of frame {frame} never reached the label file")


def _check(project, truth, frames) -> dict:
    import numpy as np
    import pandas as pd

    df = pd.read_hdf(project.labels_path("session1"), "df_with_missing")
    errs = []
    for f in frames:
        row = df.loc[("labeled-data", "session1", f"img{f:03d}.png")]
        for j, bp in enumerate(project.bodyparts):
            xy = (row[("posekit", bp, "x")], row[("posekit", bp, "y")])
            errs.append(float(np.hypot(*(np.subtract(xy, truth[f, j])))))
    errs = np.asarray(errs)
    return {
        "frames_complete": int(np.isfinite(errs).reshape(len(frames), -1).all(1).sum()),
        "label_error_mean_px": float(np.nanmean(errs)),
        "label_error_max_px": float(np.nanmax(errs)),
    }


def run(args) -> dict:
    """Prepare both copies, label them in the browser, check the files."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from conftest import CHROMIUM, CHROMIUM_FLAGS, start_voila
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="posekit-assisted-"))
    copies, truth, frames = _prepare(args, work)
    out = {"frames": frames, "tolerance_px": args.tolerance, "arms": {}}
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-"),
            executable_path=str(CHROMIUM),
            headless=False,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1100},
        )
        try:
            for arm, project in copies.items():
                with start_voila(
                    REPO / "notebooks" / "label.ipynb",
                    env={"POSEKIT_PROJECT": str(project.path)},
                    timeout=180,
                ) as server:
                    page = ctx.new_page()
                    page.goto(
                        server.url, wait_until="domcontentloaded", timeout=300_000
                    )
                    page.wait_for_selector(
                        ".labeler .bk-Canvas", state="visible", timeout=300_000
                    )
                    page.wait_for_selector(
                        ".labeler-status >> text=frames done", timeout=120_000
                    )
                    time.sleep(1.0)
                    result = _label(page, project, truth, frames, arm, args.tolerance)
                    result.update(_check(project, truth, frames))
                    n = len(frames)
                    result["actions_per_frame"] = (
                        result["clicks"] + result["drags"]
                    ) / n
                    result["seconds_per_frame"] = result["seconds"] / n
                    out["arms"][arm] = result
                    print(arm, json.dumps(result))
                    page.close()
        finally:
            ctx.close()
    shutil.rmtree(work, ignore_errors=True)
    s, a = out["arms"]["scratch"], out["arms"]["assisted"]
    out["summary"] = {
        "clicks_scratch": s["clicks"],
        "clicks_and_drags_assisted": a["clicks"] + a["drags"],
        "fewer_actions_pct": round(
            100 * (1 - (a["clicks"] + a["drags"]) / max(s["clicks"], 1)), 1
        ),
        "seconds_scratch": round(s["seconds"], 1),
        "seconds_assisted": round(a["seconds"], 1),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", help="demo project with a trained model")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--tolerance", type=float, default=2.0, help="px")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    doc = run(args)
    doc.update(
        {
            "benchmark": "assisted_labelling",
            "project": args.project or "demo trained here",
            "cpu_count": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "note": "simulated labeller: waits for each action's acknowledgement; "
            "clicks/drags = human actions; seconds = the app's round trips here",
        }
    )
    from posekit.engine._fileio import atomic_write_text

    atomic_write_text(Path(args.out), json.dumps(doc, indent=1) + "\n")
    print("summary", doc["summary"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
