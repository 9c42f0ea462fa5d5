"""``posekit live``: poses of a camera or a video in real time (shown or streamed)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from ._common import EXIT_INTERRUPTED, EXIT_OK, add_shuffle_arg, positive_int

__all__ = ["NAME", "add_parser", "run"]

NAME = "live"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit live`` to the command line.

    Parameters
    ----------
    subparsers
        The ``posekit`` parser's subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser.
    """
    p = subparsers.add_parser(
        NAME,
        help="poses of a camera or video in real time (window, JSON lines or CSV)",
        description="Predict poses frame by frame from a camera (its index, e.g. 0) "
        "or a video file with a batch-1 TFLite model (int8 when it is as accurate). "
        "When frames come faster than inference, the newest frame is taken and the "
        "others dropped (the delay never grows). Shows the poses in an OpenCV "
        "window when a display exists (--show), else streams them on stdout.",
    )
    p.add_argument("source", help="camera index (0, 1...) or a video file")
    p.add_argument(
        "--model",
        required=True,
        help="a .posekit.zip, a project folder (its --shuffle) or a train/ folder",
    )
    add_shuffle_arg(p)
    p.add_argument("--precision", choices=("auto", "float32", "int8"), default="auto")
    p.add_argument(
        "--format",
        choices=("json", "csv"),
        default="json",
        help="stdout: one JSON object per frame (default) or CSV rows; their time "
        "is the video time (frame / fps) for a video file, the clock "
        "(time.perf_counter, s) for a camera",
    )
    p.add_argument(
        "--show", action="store_true", help="draw the poses in an OpenCV window"
    )
    p.add_argument(
        "--smooth",
        type=float,
        default=0.0,
        help="0 (off) to <1: weight of the previous position (less jitter, more "
        "lag); points below --pcutoff are not blended",
    )
    p.add_argument(
        "--pcutoff",
        type=float,
        help="likelihood below which --smooth leaves a point as predicted and --show "
        "does not draw it (default: the project's; a model file's card records it)",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="video files: release frames at the video's frame rate, as a camera "
        "would (slow inference then drops frames)",
    )
    p.add_argument(
        "--max-frames", type=positive_int, help="stop after this many frames"
    )
    p.add_argument(
        "--threads",
        type=int,
        help="inference threads (default: posekit --threads, else the CPUs this job "
        "may use)",
    )
    return p


def _header(bodyparts) -> str:
    cols = ["frame", "time", "latency_ms"]
    for bp in bodyparts:
        cols += [f"{bp}_x", f"{bp}_y", f"{bp}_likelihood"]
    return ",".join(cols)


def _row(pose) -> str:
    values = [str(pose.index), f"{pose.timestamp:.6f}", f"{1000 * pose.latency_s:.3f}"]
    values += [f"{v:.3f}" for v in pose.xyp.ravel()]
    return ",".join(values)


class _Output:
    """Write each pose to stdout (JSON lines or CSV) and, with ``show``, a window."""

    def __init__(self, live, fmt: str, show: bool, fps: float | None = None) -> None:
        self.live = live
        self.fmt = fmt
        self.show = show
        self.fps = fps  # a video file's: its poses are timed by the video
        self.latencies: list[float] = []
        if fmt == "csv":
            print(_header(live.bodyparts), flush=True)

    def pose(self, pose) -> None:
        self.latencies.append(float(pose.latency_s))
        if self.fps:
            pose = dataclasses.replace(pose, timestamp=pose.index / self.fps)
        if self.fmt == "csv":
            print(_row(pose), flush=True)
        else:
            print(json.dumps(pose.as_dict(self.live.bodyparts)), flush=True)

    def frame(self, frame, pose) -> bool:
        """Draw ``pose`` on ``frame``; False when the window is closed (q or Esc)."""
        import cv2

        from ..drawing import bodypart_colors, draw_points

        image = frame.copy()
        if pose is not None:
            seen = pose.xyp[:, 2] >= self.live.pcutoff
            draw_points(
                image,
                pose.xyp[:, :2],
                bodypart_colors(len(pose.xyp)),
                radius=max(3.0, image.shape[1] / 160),
                visible=seen,
            )
        cv2.imshow("posekit live", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)


def _can_show() -> bool:
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and sys.platform.startswith("linux"):
        return False
    import cv2
    import numpy as np

    try:
        cv2.imshow("posekit live", np.zeros((2, 2, 3), np.uint8))
        cv2.waitKey(1)
    except cv2.error:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    """Stream (or show) the poses until the source ends or ``--max-frames``.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from .._tf import cpu_threads
    from ..live import frame_source, open_live

    frames, info = frame_source(args.source, realtime=args.realtime)
    shape = (int(info["height"]), int(info["width"]))
    live = open_live(
        args.model,
        shape,
        precision=args.precision,
        shuffle=args.shuffle,
        smoothing=args.smooth,
        pcutoff=args.pcutoff,
        num_threads=args.threads or cpu_threads(),
        on_stage=lambda line: print(
            f"posekit live: {line}…", file=sys.stderr, flush=True
        ),
    )
    show = args.show and _can_show()
    if args.show and not show:
        print(
            "posekit live: no display (or OpenCV without GUI support: "
            "opencv-python-headless); streaming the poses on stdout instead",
            file=sys.stderr,
        )
    camera = str(args.source).strip().isdigit()
    out = _Output(live, args.format, show, None if camera else info["fps"])
    started = time.perf_counter()
    code = EXIT_OK
    try:
        if camera or args.realtime:
            _run_latest_frame(live, frames, out, args.max_frames)
        else:  # a file read as fast as inference goes: every frame, in order
            for index, t, frame in frames:
                if args.max_frames is not None and index >= args.max_frames:
                    break
                pose = live.predict(frame, index, t)
                out.pose(pose)
                if show and not out.frame(frame, pose):
                    break
    except KeyboardInterrupt:  # Ctrl-C ends a stream: say what it did
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader stopped (| head): stop, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error at exit
    print(
        _summary(live.stats, out.latencies, time.perf_counter() - started),
        file=sys.stderr,
    )
    return code


def _summary(stats, latencies: list[float], seconds: float) -> str:
    """One line: frames predicted and dropped, latency median and 95th percentile."""
    import numpy as np

    line = f"posekit live: {stats.predicted} frames predicted, {stats.dropped} dropped"
    if latencies:
        ms = 1000 * np.asarray(latencies)
        line += (
            f"; latency median {np.median(ms):.1f} ms, 95th percentile "
            f"{np.percentile(ms, 95):.1f} ms; {stats.predicted / max(seconds, 1e-9):.1f} "
            "frames/s"
        )
    return line


def _run_latest_frame(live, frames, out: _Output, max_frames: int | None) -> None:
    """Frames at their own pace, inference in a thread: the newest frame wins."""
    live.start(on_pose=out.pose)
    try:
        for index, t, frame in frames:
            if max_frames is not None and index >= max_frames:
                break
            live.submit(frame, index, t)
            if out.show and not out.frame(frame, live.latest()):
                break
        live.wait()
    except RuntimeError as err:  # the inference thread stopped: say why
        if isinstance(err.__cause__, BrokenPipeError):
            raise err.__cause__ from None  # the reader went away (| head)
        raise
    finally:
        live.stop()
