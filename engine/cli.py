"""The ``posekit`` command line: the same verbs as the Python API, for clusters and scripts.

Each subcommand takes the project folder (or its ``config.yaml``) first. Run
``posekit <command> --help`` for the options of one step.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main", "build_parser"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}

EPILOG = """\
a typical session:
  posekit demo ~/posekit-demo                      # or: posekit create TASK NAME VIDEO...
  posekit extract-frames PROJECT --mode kmeans -n 20
  (label the frames in the labelling app: make app)
  posekit create-training-dataset PROJECT
  posekit train PROJECT --minutes 10
  posekit evaluate PROJECT
  posekit analyze PROJECT VIDEO... --csv
  posekit filter PROJECT --method median --window 5
  posekit labeled-video PROJECT --trail 10
"""


def _command(name: str):
    def decorator(fn: Callable[[argparse.Namespace], int]):
        _COMMANDS[name] = fn
        return fn

    return decorator


def _project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "project",
        help="project folder (the one holding config.yaml) or its config.yaml",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="posekit",
        description="posekit: markerless animal pose estimation (DeepLabCut-compatible "
        "projects, Keras models, fast CPU analysis).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="build the synthetic demo project (animal in an arena, exact ground truth)",
        description="Render the synthetic demo project: a mouse-like animal moving "
        "through an arena, with video, extracted and labelled frames, and exact ground "
        "truth for every frame (ground-truth/). Opens the existing one if present.",
    )
    p.add_argument("folder", help="where to create the demo project folder")
    p.add_argument("--frames", type=int, default=900, help="frames per video (900)")
    p.add_argument("--labeled", type=int, default=60, help="labelled frames (60)")
    p.add_argument("--videos", type=int, default=1, help="number of videos (1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")

    p = sub.add_parser(
        "create",
        help="create a new DeepLabCut-compatible project",
        description="Create <folder>/<task>-<experimenter>-<date>/ with config.yaml and "
        "the DeepLabCut folder layout; the videos are linked (or copied) into videos/.",
    )
    p.add_argument("task", help="project name, e.g. openfield")
    p.add_argument("experimenter", help="your name; becomes the labels' scorer")
    p.add_argument("videos", nargs="*", help="video files to add")
    p.add_argument("--folder", default=".", help="parent folder (default: here)")
    p.add_argument(
        "--bodyparts",
        default="snout,leftear,rightear,tailbase",
        help="comma-separated keypoint names (default: snout,leftear,rightear,tailbase)",
    )
    p.add_argument("--copy", action="store_true", help="copy videos instead of linking")

    p = sub.add_parser(
        "extract-frames",
        help="pick frames to label (uniform or k-means) into labeled-data/",
        description="Extract frames for labelling into labeled-data/<video>/img<index>.png.",
    )
    _project_arg(p)
    p.add_argument("videos", nargs="*", help="videos (default: all of the project)")
    p.add_argument("--mode", choices=["uniform", "kmeans"], default="kmeans")
    p.add_argument(
        "-n", "--num", type=int, help="frames per video (config numframes2pick)"
    )
    p.add_argument(
        "--start", type=float, help="start fraction of the video (config start)"
    )
    p.add_argument(
        "--stop", type=float, help="stop fraction of the video (config stop)"
    )
    p.add_argument("--crop", help='crop "x1, x2, y1, y2" applied to saved frames')
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser(
        "check-labels",
        help="draw labels on the labelled frames into labeled-data/<video>_labeled/",
    )
    _project_arg(p)

    p = sub.add_parser(
        "create-training-dataset",
        help="merge labels and write a recorded train/test split per shuffle",
        description="Merge all labels into training-datasets/ and write the split "
        "(DeepLabCut's Documentation_data pickle). Existing splits are kept.",
    )
    _project_arg(p)
    p.add_argument(
        "--shuffles", default="1", help="comma-separated shuffle numbers (1)"
    )
    p.add_argument("--train-fraction", type=float, help="(config TrainingFraction)")
    p.add_argument(
        "--test-frames", help="comma-separated image names for a fixed test split"
    )
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser(
        "train",
        help="train (or resume) the pose network of a shuffle",
        description="Train the network for a shuffle. Stop with Ctrl-C at any time: a "
        "snapshot is saved first. Run the same command again to resume: the iteration "
        "counter and optimiser state continue where they stopped.",
    )
    _project_arg(p)
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument(
        "--backbone",
        help="network (config default_net_type), e.g. "
        "mobilenet_v2_0.35, efficientnet_lite0, resnet_50",
    )
    p.add_argument(
        "--weights",
        default=None,
        help="'imagenet', a weights file, or 'none' for random init",
    )
    p.add_argument("--iterations", type=int, help="maximum training iterations")
    p.add_argument("--minutes", type=float, help="time budget in minutes")
    p.add_argument("--batch-size", type=int, help="batch size (8)")
    p.add_argument(
        "--save-interval",
        type=int,
        metavar="N",
        help="save a snapshot every N iterations (5000; also at the end and on Ctrl-C)",
    )
    p.add_argument(
        "--fresh", action="store_true", help="start over instead of resuming"
    )

    p = sub.add_parser(
        "evaluate",
        help="train/test error (px), per bodypart, PCK; CombinedEvaluation-results.csv",
    )
    _project_arg(p)
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument(
        "--plot", action="store_true", help="save images of test predictions"
    )

    p = sub.add_parser(
        "analyze",
        help="predict keypoints in videos; writes DLC-named .h5 (and .csv)",
        description="Analyse videos with the trained network of a shuffle. Writes "
        "<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5 beside each video (or in "
        "--dest), DeepLabCut's layout, plus _meta.pickle.",
    )
    _project_arg(p)
    p.add_argument("videos", nargs="*", help="videos (default: all of the project)")
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument("--dest", help="output folder (default: beside each video)")
    p.add_argument("--csv", action="store_true", help="also write .csv")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="resize frames by this factor before inference (e.g. 0.5)",
    )
    p.add_argument(
        "--netcdf", action="store_true", help="also write a netCDF poses file"
    )
    p.add_argument(
        "--no-tflite",
        action="store_true",
        help="use TensorFlow instead of the (faster) TFLite runtime",
    )

    p = sub.add_parser(
        "filter",
        help="smooth predictions; writes DLC's <predictions>_filtered.h5 beside them",
        description="Filter predictions as DeepLabCut's filterpredictions: points below "
        "--pcutoff become NaN (optional), short gaps are interpolated (optional), then "
        "x and y are smoothed. Writes <predictions stem>_filtered.h5 beside each file, "
        "same columns and likelihoods.",
    )
    _project_arg(p)
    p.add_argument(
        "files",
        nargs="*",
        help="prediction .h5/.csv files or videos (default: all videos of the project)",
    )
    p.add_argument("--method", choices=["median", "savgol"], default="median")
    p.add_argument("--window", type=int, default=5, help="window, odd frames (5)")
    p.add_argument("--polyorder", type=int, default=2, help="Savitzky-Golay order (2)")
    p.add_argument(
        "--pcutoff",
        type=float,
        help="likelihood below which points become NaN first (default: keep all)",
    )
    p.add_argument(
        "--max-gap", type=int, help="interpolate gaps up to this many frames"
    )
    p.add_argument("--csv", action="store_true", help="also write _filtered.csv")

    p = sub.add_parser(
        "labeled-video",
        help="draw the predictions on the video; writes <predictions>_labeled.mp4",
        description="Create labelled videos as DeepLabCut's create_labeled_video: "
        "keypoints above the p-cutoff, the skeleton and optional fading trails, drawn "
        "on every frame. Writes <predictions stem>_labeled.mp4 (H.264, plays in "
        "browsers) beside the predictions.",
    )
    _project_arg(p)
    p.add_argument(
        "files",
        nargs="*",
        help="videos or prediction .h5 files (default: all videos of the project)",
    )
    p.add_argument("--pcutoff", type=float, help="(config pcutoff)")
    p.add_argument(
        "--trail", type=int, default=0, help="trail length in frames (0: none)"
    )
    p.add_argument(
        "--no-skeleton", action="store_true", help="do not draw the skeleton"
    )
    p.add_argument(
        "--filtered", action="store_true", help="use the _filtered.h5 predictions"
    )
    p.add_argument(
        "--codec",
        choices=["auto", "h264", "mjpeg", "mp4v"],
        default="auto",
        help="h264 .mp4 (auto, plays in browsers), mjpeg .avi, mp4v .mp4",
    )
    p.add_argument("--dotsize", type=int, help="dot radius in px (config dotsize)")

    return parser


def _load(path: str):
    from .project import load_project

    return load_project(path)


@_command("demo")
def _demo(args: argparse.Namespace) -> int:
    from .demo import make_demo_project

    project = make_demo_project(
        args.folder,
        n_frames=args.frames,
        n_labeled=args.labeled,
        n_videos=args.videos,
        seed=args.seed,
    )
    print(project.path)
    return 0


@_command("create")
def _create(args: argparse.Namespace) -> int:
    from .project import create_project

    project = create_project(
        args.task,
        args.experimenter,
        args.videos,
        working_directory=args.folder,
        bodyparts=[b.strip() for b in args.bodyparts.split(",") if b.strip()],
        copy_videos=args.copy,
    )
    print(project.path)
    return 0


@_command("extract-frames")
def _extract(args: argparse.Namespace) -> int:
    from .video import extract_frames

    project = _load(args.project)
    videos = [Path(v) for v in args.videos] or project.videos()
    if not videos:
        print(
            "posekit: the project has no videos; add some to videos/", file=sys.stderr
        )
        return 2
    for v in videos:
        paths = extract_frames(
            project,
            v,
            mode=args.mode,
            n=args.num,
            start=args.start,
            stop=args.stop,
            crop=args.crop,
            seed=args.seed,
        )
        print(f"{v.name}: {len(paths)} frames in {project.labeled_data_dir(v)}")
    project.save()
    return 0


@_command("check-labels")
def _check_labels(args: argparse.Namespace) -> int:
    from .check_labels import check_labels

    paths = check_labels(_load(args.project))
    print(f"{len(paths)} images written")
    return 0


@_command("create-training-dataset")
def _ctd(args: argparse.Namespace) -> int:
    from .dataset import create_training_dataset

    project = _load(args.project)
    splits = create_training_dataset(
        project,
        shuffles=[int(s) for s in args.shuffles.split(",")],
        train_fraction=args.train_fraction,
        seed=args.seed,
        test_frames=args.test_frames.split(",") if args.test_frames else None,
    )
    for s in splits:
        print(
            f"shuffle {s.shuffle}: {len(s.train_indices)} train, "
            f"{len(s.test_indices)} test frames"
        )
    return 0


@_command("train")
def _train(args: argparse.Namespace) -> int:
    from .api import train_network

    weights = None if (args.weights or "").lower() in ("", "none") else args.weights
    result = train_network(
        _load(args.project),
        shuffle=args.shuffle,
        backbone=args.backbone,
        weights=weights,
        max_iterations=args.iterations,
        time_budget_s=None if args.minutes is None else 60 * args.minutes,
        batch_size=args.batch_size,
        save_interval=args.save_interval,
        resume=not args.fresh,
    )
    print(result)
    return 0


@_command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    from .api import evaluate_network

    result = evaluate_network(_load(args.project), shuffle=args.shuffle, plot=args.plot)
    print(result.to_string() if hasattr(result, "to_string") else result)
    return 0


@_command("analyze")
def _analyze(args: argparse.Namespace) -> int:
    from .api import analyze_videos

    project = _load(args.project)
    videos = [Path(v) for v in args.videos] or project.videos()
    outputs = analyze_videos(
        project,
        videos,
        shuffle=args.shuffle,
        destfolder=args.dest,
        save_as_csv=args.csv,
        batch_size=args.batch_size,
        scale=args.scale,
        netcdf=args.netcdf,
        use_tflite=not args.no_tflite,
    )
    for out in outputs:
        print(out)
    return 0


def _prediction_files(project, items, *, filtered: bool = False) -> list[Path]:
    """Prediction files from a mix of videos and prediction files (default: every
    video of the project); videos without predictions are reported and skipped."""
    from .postprocessing import find_predictions

    out = []
    videos = project.source_videos()
    for item in [Path(i) for i in items] or videos:
        if item.suffix.lower() in (".h5", ".csv"):
            out.append(item)
            continue
        found = find_predictions(item, filtered=filtered)
        if found:
            out.append(found[0])
        else:
            kind = "filtered predictions" if filtered else "predictions"
            print(f"posekit: no {kind} for {item}", file=sys.stderr)
    return out


@_command("filter")
def _filter(args: argparse.Namespace) -> int:
    from .postprocessing import filter_predictions

    project = _load(args.project)
    files = _prediction_files(project, args.files)
    for path in files:
        out = filter_predictions(
            path,
            method=args.method,
            window=args.window,
            polyorder=args.polyorder,
            pcutoff=args.pcutoff,
            max_gap=args.max_gap,
            save_csv=args.csv,
        )
        print(out)
    return 0 if files else 2


@_command("labeled-video")
def _labeled_video(args: argparse.Namespace) -> int:
    from .labeled_video import create_labeled_video
    from .project import find_video

    project = _load(args.project)
    files = _prediction_files(project, args.files, filtered=args.filtered)
    for path in files:
        video = find_video(path, project)
        if video is None:
            print(f"posekit: no video found for {path}", file=sys.stderr)
            return 2
        out = create_labeled_video(
            video,
            path,
            pcutoff=project.pcutoff if args.pcutoff is None else args.pcutoff,
            skeleton=project.skeleton,
            draw_skeleton=not args.no_skeleton,
            trail_length=args.trail,
            dotsize=args.dotsize or project.display.dotsize,
            colormap=project.display.colormap,
            alpha=project.display.alphavalue,
            skeleton_color=project.display.skeleton_color,
            codec=args.codec,
        )
        print(out)
    return 0 if files else 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 0
    handler = _COMMANDS.get(args.command)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("posekit: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"posekit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
