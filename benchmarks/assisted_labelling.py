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

How a drag is made: Bokeh starts a drag only once the pointer has moved more than
5 screen px from where it was pressed (its gesture ``move_threshold``), and only if
that happens within 300 ms of the press (``press_threshold``; later it is a press and
moves nothing). A shorter press-move-release is a tap, which selects the point under
it and moves nothing (or, off the point, places the selected bodypart there). So the
first move after the press goes at least 9 px at once, and a correction shorter than
the threshold on screen (a 2-3 px guess error at the demo's 1.5 screen px per image
px) is dragged as a hand does it: past the truth and back, still one drag (counted in
``short_drags`` too). After each drag the labeller waits for the kernel's answer (a
new points table in the page, the bodypart now a label; ``ack_seconds``) before the
next action: a kernel table that lands during a drag replaces the points under the
pointer, and the rest of the drag then moves the guess from where it was, i.e. to the
wrong place. A drag the page did not take (the guess still where it was, e.g. the
press outlived 300 ms on a loaded machine) or that left the label farther than the
tolerance from the truth is made again, from where the point is, and counted in
``drags_redone`` (``not_taken`` and ``misplaced``), not in ``drags``. Every drag
must label its own bodypart (the label file is watched), and at the end every frame
must be complete with every label within ``--tolerance`` px of the truth, or the run
fails and writes nothing. ``load_average_before`` and ``load_average`` (after) say
how busy the machine was: jobs running beside it inflate the seconds, not the clicks.

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

#: Bokeh's gesture ``move_threshold`` (screen px): a shorter press-move is a tap.
BOKEH_MOVE_THRESHOLD_PX = 5.0
#: The first move of a drag (and how far past the truth a short one goes), screen px.
OVERSHOOT_PX = BOKEH_MOVE_THRESHOLD_PX + 4.0
#: Tries of one drag before the run gives up.
DRAG_TRIES = 3

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


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> bool:
    """Drag from ``start`` to ``end`` (page px); return whether it was a short one.

    The first move after the press goes :data:`OVERSHOOT_PX` at once (Bokeh's
    move threshold, well within its press time); a drag shorter than the threshold
    goes that far past ``end`` and comes back, so that Bokeh sees a drag, not a tap.
    """
    import numpy as np

    d = np.subtract(end, start)
    dist = float(np.hypot(*d))
    u = d / dist
    short = dist <= BOKEH_MOVE_THRESHOLD_PX + 1.0
    first = np.add(end, u * OVERSHOOT_PX) if short else np.add(start, u * OVERSHOOT_PX)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*first)
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    return short


def _still_at(page, bodypart: str, xy: tuple[float, float]) -> bool:
    """Whether the page still shows a point of ``bodypart`` exactly at ``xy``."""
    pts = page.evaluate(JS_POINTS)
    return any(
        b == bodypart and (x, y) == tuple(xy)
        for x, y, b in zip(pts["x"], pts["y"], pts["bodypart"], strict=True)
    )


def _shown(page, bodypart: str) -> dict:
    """Return the page's points-table version and ``bodypart``'s rows (x, y, fill)."""
    from posekit.widgets.labeler_model import ANCHOR  # the row carrying the version

    pts = page.evaluate(JS_POINTS)
    version = next(
        int(b[len(ANCHOR) :]) for b in pts["bodypart"] if b.startswith(ANCHOR)
    )
    rows = [
        (x, y, fill)
        for x, y, b, fill in zip(
            pts["x"], pts["y"], pts["bodypart"], pts["fill"], strict=True
        )
        if b == bodypart
    ]
    return {"version": version, "rows": rows}


def _correct(page, canvas, bodypart, guess, truth, tolerance) -> dict:
    """Drag ``bodypart``'s guess to ``truth`` until the kernel shows it there.

    Returns the drags redone (``not_taken``: nothing moved; ``misplaced``: the label
    landed farther than ``tolerance`` from ``truth``), whether the one that counted
    was short, and the seconds from each taken drag's release to the kernel's answer.
    """
    import numpy as np

    pos, acks = tuple(guess), []
    redone = {"not_taken": 0, "misplaced": 0}
    for _ in range(DRAG_TRIES):
        before = _shown(page, bodypart)
        short = _drag(page, canvas.to_page(*pos), canvas.to_page(*truth))
        t_up = time.perf_counter()
        if _still_at(page, bodypart, pos):  # a press or a tap: nothing moved
            redone["not_taken"] += 1
            continue
        t_end = t_up + 60.0
        while True:  # the kernel's table: a newer version, the bodypart a label
            now = _shown(page, bodypart)
            labels = [(x, y) for x, y, fill in now["rows"] if fill == bodypart]
            if now["version"] != before["version"] and labels:
                break
            if time.perf_counter() > t_end:
                raise TimeoutError(f"no answer from the kernel after {bodypart}'s drag")
            time.sleep(0.02)
        acks.append(time.perf_counter() - t_up)
        pos = labels[0]
        if np.hypot(*np.subtract(pos, truth)) <= tolerance:
            return {"redone": redone, "short": short, "acks": acks}
        redone["misplaced"] += 1  # it landed elsewhere: drag it again from there
    raise RuntimeError(f"{bodypart}: {DRAG_TRIES} drags did not bring it to the truth")


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
    clicks = drags = short_drags = keys = 0
    redone = {"not_taken": 0, "misplaced": 0}
    acks: list[float] = []
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
                if start is None:  # no guess for it: its button, then a click
                    page.locator(".labeler-bodypart").nth(j).click()
                    page.mouse.click(*end)
                    clicks += 2
                else:
                    done = _correct(page, canvas, bp, guess, truth[f, j], tolerance)
                    short_drags += done["short"]
                    redone = {k: v + done["redone"][k] for k, v in redone.items()}
                    acks += done["acks"]
                    drags += 1
                _wait_labelled(project, f, bp)
            page.keyboard.press("a")
            keys += 1
            _wait_status(page, f"{len(bps)} of {len(bps)} bodyparts")
        page.keyboard.press("u")
        keys += 1
    seconds = time.perf_counter() - t0
    return {
        "clicks": clicks,
        "drags": drags,
        "short_drags": short_drags,
        "drags_redone": redone,
        "ack_seconds_median": float(np.median(acks)) if acks else None,
        "ack_seconds_max": float(np.max(acks)) if acks else None,
        "keys": keys,
        "seconds": seconds,
    }


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


def _require_exact(result: dict, arm: str, n: int, tolerance: float) -> None:
    """Fail unless every frame is complete and every label is within tolerance."""
    if result["frames_complete"] != n or not result["label_error_max_px"] <= tolerance:
        raise RuntimeError(
            f"{arm}: {result['frames_complete']} of {n} frames complete, largest "
            f"label error {result['label_error_max_px']:.3f} px (tolerance "
            f"{tolerance} px): the simulated labeller did not finish its work"
        )


def run(args) -> dict:
    """Prepare both copies, label them in the browser, check the files."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from conftest import CHROMIUM, CHROMIUM_FLAGS, start_voila
    from playwright.sync_api import sync_playwright

    load_before = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="posekit-assisted-"))
    copies, truth, frames = _prepare(args, work)
    out = {
        "frames": frames,
        "tolerance_px": args.tolerance,
        "load_average_before": load_before,
        "arms": {},
    }
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
                    _require_exact(result, arm, len(frames), args.tolerance)
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
        "drags_redone_assisted": sum(a["drags_redone"].values()),
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
            "load_note": "load averages (1, 5, 15 min) before and after; other "
            "CPU-heavy jobs may run beside it, which inflates the seconds, "
            "not the clicks",
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
