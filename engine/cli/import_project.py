"""``posekit import``: a project from the labels of SLEAP, COCO, Lightning Pose or NWB."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ._common import EXIT_OK, fail

__all__ = ["NAME", "SOURCES", "add_parser", "guess_source", "run"]

NAME = "import"

#: What ``--from`` accepts (importers: ``posekit.engine.io.sleap.import_sleap``,
#: ``…io.coco.import_coco``, ``…io.lightning_pose.import_lightning_pose``,
#: ``…io.nwb.import_nwb``).
SOURCES = ("coco", "lightning-pose", "nwb", "sleap")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit import`` to the command line.

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
        help="a project from SLEAP (.slp), COCO (.json), Lightning Pose or NWB labels",
        description="Build a DeepLabCut-compatible project (config.yaml, "
        "labeled-data/<video>/ with the labelled frames, CollectedData_<scorer>.h5 "
        "and .csv) from the labels of another tool: a SLEAP .slp file (its frames are "
        "read from the labelled video), a COCO keypoint .json (its images are "
        "copied; crowd annotations are skipped), a Lightning Pose data folder or an "
        "NWB file's training frames (ndx-pose PoseTraining, e.g. from DANDI: its "
        "images are copied, frames of a video read from it). A Lightning Pose "
        "folder's config.yaml is read (csv_file, video_dir, keypoint_names, "
        "train_prob, confidence_thresh_for_vid); its other settings are named in "
        "warnings. Everything is checked "
        "before anything is written; the project is built beside OUT and moved into "
        "place at the end, so an error leaves nothing behind.",
    )
    p.add_argument("source", metavar="SOURCE", help=".slp, .json, .nwb or a folder")
    p.add_argument(
        "out", metavar="OUT", help="the new project folder (absent or empty)"
    )
    p.add_argument(
        "--from",
        dest="source_format",
        choices=sorted(SOURCES),
        help="the tool the labels come from (default: told from SOURCE)",
    )
    p.add_argument("--task", help="the project's Task (default: from SOURCE's name)")
    p.add_argument("--scorer", help="the labeller (default: from the labels)")
    p.add_argument(
        "--video",
        help="SLEAP: the one video to import, by its index in the .slp (0 for the "
        "first) or its file name (default: every video with a labelled frame), or "
        "where the videos are when the .slp's paths to them are gone: a video file "
        "(imports the video of that name; any name when the .slp has one video) or "
        "a folder holding them under the names the .slp gives. NWB: the labelled "
        "video, when the file's path to it is gone. COCO and Lightning Pose: the "
        "labeled-data folder for images that have none",
    )
    p.add_argument(
        "--csv-file",
        metavar="CSV",
        help="Lightning Pose: the labels CSV, a path as given (relative to the "
        "current folder) (default: config.yaml's data.csv_file, else "
        "CollectedData.csv, else the folder's one labels CSV)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=1,
        help="SLEAP: import every N-th labelled frame (default: all)",
    )
    p.add_argument(
        "--max-frames",
        type=int,
        help="SLEAP: import at most this many frames in all, spread evenly",
    )
    p.add_argument(
        "--include-predictions",
        action="store_true",
        help="SLEAP: also import predicted instances as training labels (default: "
        "user instances only, as SLEAP trains; frames with predictions only are "
        "left out)",
    )
    return p


def _sleap_video(value: str | None) -> dict:
    """Return ``import_sleap``'s ``video``/``video_path`` for ``--video VALUE``.

    An index chooses a video; a file or folder is where the videos are (a file of
    a .slp of several videos imports the video of its name); a bare file name that
    is not here is the name of one of the .slp's videos. A path that is not there
    is a video path (the import says it is missing).
    """
    if value is None:
        return {}
    if value.isdigit():
        return {"video": int(value)}
    if Path(value).exists() or Path(value).name != value:
        return {"video_path": value}
    return {"video": value}


def guess_source(path: Path) -> str | None:
    """Tell which tool's labels ``path`` holds from its name and content.

    Parameters
    ----------
    path
        A ``.slp`` file, a COCO ``.json``, an ``.nwb`` file or a Lightning Pose data
        folder.

    Returns
    -------
    str or None
        One of :data:`SOURCES`, or None when it cannot be told.
    """
    if path.is_dir():
        lp = (path / "CollectedData.csv").is_file() or _is_lp_config(
            path / "config.yaml"
        )
        return "lightning-pose" if lp else None
    suffix = path.suffix.lower()
    if suffix == ".slp":
        return "sleap"
    if suffix == ".json":
        return "coco"
    if suffix == ".nwb":
        return "nwb"
    return None


def _is_lp_config(path: Path) -> bool:
    """Whether ``path`` is a Lightning Pose ``config.yaml`` (it has ``data.csv_file``)."""
    if not path.is_file():
        return False
    import yaml

    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return (
        isinstance(cfg, dict)
        and isinstance(cfg.get("data"), dict)
        and ("csv_file" in cfg["data"])
    )


def run(args: argparse.Namespace) -> int:
    """Import the labels and print the new project's folder.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    source = Path(args.source)
    if not source.exists():
        return fail(f"No file or folder at {source}")
    kind = args.source_format or guess_source(source)
    if kind is None and args.csv_file and source.is_dir():
        kind = "lightning-pose"
    if kind is None:
        return fail(
            f"Cannot tell which tool {source} comes from; pass --from, one of "
            f"{sorted(SOURCES)} (a Lightning Pose folder holds CollectedData.csv or "
            "a config.yaml naming its csv_file; --csv-file names another)."
        )
    if kind != "lightning-pose" and args.csv_file:
        return fail("--csv-file applies to Lightning Pose folders only")
    sleap_only = [
        flag
        for flag, given in (
            ("--every", args.every != 1),
            ("--max-frames", args.max_frames),
            ("--include-predictions", args.include_predictions),
        )
        if given
    ]
    if kind != "sleap" and sleap_only:
        return fail(f"{', '.join(sleap_only)} apply to SLEAP labels only")
    if kind == "sleap":
        from ..io.sleap import import_sleap

        project = import_sleap(
            source,
            args.out,
            scorer=args.scorer or "sleap",
            task=args.task,
            every=args.every,
            max_frames=args.max_frames,
            include_predictions=args.include_predictions,
            **_sleap_video(args.video),
        )
    elif kind == "nwb":
        from ..io.nwb import import_nwb

        project = import_nwb(
            source, args.out, scorer=args.scorer, task=args.task, video_path=args.video
        )
    elif kind == "coco":
        from ..io.coco import import_coco

        project = import_coco(
            source, args.out, scorer=args.scorer, task=args.task, video=args.video
        )
    else:
        from ..io.lightning_pose import import_lightning_pose

        project = import_lightning_pose(
            source,
            args.out,
            csv_file=args.csv_file,
            scorer=args.scorer,
            task=args.task,
            video=args.video,
        )
    print(project.path)
    print(f"next: posekit check-labels {shlex.quote(str(project.path))}")
    return EXIT_OK
