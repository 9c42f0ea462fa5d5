"""``posekit convert``: one tracking file into another format."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import EXIT_OK, fail

__all__ = ["NAME", "add_parser", "run"]

NAME = "convert"

#: Formats written under their own name but read by another format's loader.
READ_AS = {"SLEAP-analysis": "SLEAP"}

#: NWB metadata options: option dest → ``save_nwb`` keyword (subject fields apart).
_NWB_FIELDS = {
    "session_start": "session_start_time",
    "session_description": "session_description",
    "experimenter": "experimenter",
    "lab": "lab",
    "institution": "institution",
}
_SUBJECT_FIELDS = {
    "subject_id": "subject_id",
    "species": "species",
    "sex": "sex",
    "age": "age",
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit convert`` to the command line.

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
        help="convert a tracking file between formats (DLC, SLEAP, netCDF, ...)",
        description="Read a tracking file (the format is recognised from its "
        "content) and write it in another format, chosen by --to or by OUT's "
        "extension (.h5/.csv: DeepLabCut, .nc: netCDF). DeepLabCut to DeepLabCut "
        "(.csv to .h5 and back) keeps the table as it is: a label file stays a label "
        "file, with its image paths and labeller (DeepLabCut's convertcsv2h5); "
        "labelled images of other formats (Lightning Pose, COCO, NWB training "
        "frames, a SLEAP .slp on images) become label files too (DeepLabCut's "
        "CollectedData, Lightning Pose's x, y). Labels on a video's frames (a SLEAP "
        ".slp on a video) name no images: they are written like predictions, one "
        "row per frame with an empty likelihood (posekit import makes a DeepLabCut "
        "project of them). The input is read completely before anything is "
        "written; a malformed input writes nothing. --list shows the formats.",
    )
    p.add_argument("input", nargs="?", metavar="IN", help="the file to convert")
    p.add_argument("output", nargs="?", metavar="OUT", help="the file to write")
    p.add_argument("--to", metavar="FORMAT", help="output format (default: from OUT)")
    p.add_argument(
        "--from",
        dest="source_format",
        metavar="FORMAT",
        help="input format (default: recognised from the content)",
    )
    p.add_argument(
        "--fps",
        type=float,
        help="frames per second of the input (default: the rate the input records, "
        "else that of the video it names or is named after, for every output; "
        "without any, times are frame numbers, and NWB timestamps say so with a "
        "warning). For an input timed in seconds (NWB) it numbers the frames: "
        "frame = time x fps",
    )
    p.add_argument(
        "--pose-estimation",
        metavar="NAME",
        help="NWB input: the PoseEstimation to read (its name, individual or "
        "camera); needed when the file holds several cameras",
    )
    p.add_argument(
        "--images",
        metavar="COCO_JSON",
        help="COCO results: the COCO dataset they belong to; predictions of "
        "images are matched to its images by file name (writing, they need it; "
        "reading, it names the keypoints and the images)",
    )
    p.add_argument(
        "--video",
        metavar="VIDEO",
        help="SLEAP output (.slp, analysis .h5): the video the poses are on, "
        "written absolute when found (a .slp names its video relative to itself); "
        "one not found is written as given, with a warning. Labelled images go "
        "onto the frames they are named after (labeled-data/<video>/img0010.png "
        "onto frame 10, as posekit import and extract-frames name them), so a "
        "project imported from a .slp goes back onto its video; without --video, "
        "labelled images become SLEAP's "
        "image-list video and predictions name the video they were made from",
    )
    p.add_argument(
        "--skeleton",
        metavar="FILE",
        help="SLEAP, NWB or netCDF output: take the edges from FILE, a DeepLabCut "
        "config.yaml (its skeleton) or a tracking file that keeps them (.slp, .nc, "
        ".nwb) (default: the input's edges, else those of the project the input "
        "lies in)",
    )
    p.add_argument(
        "--individual",
        action="append",
        metavar="NAME",
        help="write only this individual (repeat for several), e.g. one animal of "
        "multi-animal poses for a single-animal format (Lightning Pose)",
    )
    p.add_argument(
        "--movement-dims",
        choices=("singular", "plural"),
        help="netCDF output: dimension names keypoint, individual (singular, the "
        "default: movement >= 0.17) or keypoints, individuals (plural: movement "
        "0.15 and 0.16, whose writers and kinematics need them)",
    )
    nwb = p.add_argument_group(
        "NWB metadata (output .nwb; DANDI requires the subject's species, sex and age)"
    )
    nwb.add_argument(
        "--session-start",
        metavar="TIME",
        help="session start, ISO 8601 (2024-01-02T10:00:00+01:00; default: the "
        "input's, else the video's file time, with a warning)",
    )
    nwb.add_argument("--session-description", metavar="TEXT")
    nwb.add_argument(
        "--experimenter",
        action="append",
        metavar="NAME",
        help="'Last, First' (repeat for several)",
    )
    nwb.add_argument("--lab", metavar="NAME")
    nwb.add_argument("--institution", metavar="NAME")
    nwb.add_argument(
        "--subject-id",
        metavar="ID",
        help="the animal (default: the individual's name; needed for several "
        "individuals in one file)",
    )
    nwb.add_argument("--species", metavar="NAME", help="e.g. 'Mus musculus'")
    nwb.add_argument("--sex", metavar="M|F|U|O")
    nwb.add_argument("--age", metavar="ISO8601", help="e.g. P90D")
    nwb.add_argument(
        "--per-individual",
        action="store_true",
        help="one NWB file per animal, OUT's name + _<individual> (OUT_mouse1.nwb, "
        "...), each with its individual as subject_id, as DLC2NWB and movement "
        "write multi-animal poses",
    )
    p.add_argument("--list", action="store_true", help="list the formats and exit")
    return p


def _nwb_options(args: argparse.Namespace) -> dict:
    options = {
        key: getattr(args, dest)
        for dest, key in _NWB_FIELDS.items()
        if getattr(args, dest, None) is not None
    }
    subject = {
        key: getattr(args, dest)
        for dest, key in _SUBJECT_FIELDS.items()
        if getattr(args, dest, None) is not None
    }
    if subject:
        options["subject"] = subject
    return options


#: Output formats whose writer takes ``video_path`` / ``skeleton``.
_VIDEO_WRITERS = ("SLEAP", "SLEAP-analysis")
_SKELETON_WRITERS = ("SLEAP", "SLEAP-analysis", "NWB", "netCDF")


def _edges_from(path: Path) -> list[list[str]]:
    """Return the skeleton edges of a DeepLabCut ``config.yaml`` or a tracking file."""
    if not path.is_file():
        raise FileNotFoundError(f"--skeleton: no file at {path}")
    if path.suffix.lower() in (".yaml", ".yml"):
        from ..project import load_project

        edges = load_project(path).skeleton
    else:
        from ..io import load

        edges = load(path).attrs.get("skeleton")
    if not edges:
        raise ValueError(
            f"--skeleton: {path} holds no skeleton edges (a DeepLabCut config.yaml "
            "with a skeleton, or a .slp, .nc or .nwb file that has edges)"
        )
    return [[str(a), str(b)] for a, b in edges]


def _write_options(args: argparse.Namespace, writes: str) -> dict | int:
    """Return the saver's options from --video, --skeleton and the NWB metadata.

    An int is the exit code of an option that does not apply to the output.
    """
    options: dict = {}
    nwb = _nwb_options(args)
    if nwb:
        if writes != "NWB":
            return fail(
                "the NWB metadata options (--session-start, --subject-id, "
                f"--species, ...) apply to an NWB output; {args.output} is {writes}"
            )
        options.update(nwb)
    if args.video is not None:
        if writes not in _VIDEO_WRITERS:
            return fail(
                f"--video applies to a SLEAP output (.slp, SLEAP-analysis .h5); "
                f"{args.output} is {writes}"
            )
        options["video_path"] = args.video
    if args.skeleton is not None:
        if writes not in _SKELETON_WRITERS:
            return fail(
                f"--skeleton applies to a SLEAP, NWB or netCDF output; "
                f"{args.output} is {writes}, which keeps no edges"
            )
        options["skeleton"] = _edges_from(Path(args.skeleton))
    if args.movement_dims is not None:
        if writes != "netCDF":
            return fail(
                f"--movement-dims applies to a netCDF output (.nc); {args.output} "
                f"is {writes}"
            )
        options["movement_dims"] = args.movement_dims
    return options


def _per_individual(args: argparse.Namespace, read: dict, write: dict) -> int:
    """Write one NWB file per individual (``save_nwb_individuals``) and list them."""
    from ..io import load
    from ..io.nwb import save_nwb_individuals

    ds = load(args.input, format=args.source_format, fps=args.fps, **read)
    if args.individual:
        have = [str(i) for i in ds["individual"].values]
        unknown = [i for i in args.individual if i not in have]
        if unknown:
            return fail(
                f"{args.input} has no individual {unknown[0]!r}; its individuals "
                f"are {have}"
            )
        ds = ds.sel(individual=list(args.individual))
    for path in save_nwb_individuals(ds, args.output, **write):
        print(path)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Convert ``IN`` to ``OUT`` and print the file written (or list the formats).

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from ..io import _saver_for, convert, detect_format, export_formats, list_formats

    if args.list:
        saves = export_formats()
        for name in list_formats()["load"]:
            out = ", ".join(saves[name]) if name in saves else "-"
            print(f"{name:16s} read: yes   write: {out}")
        for name in saves:
            if name not in list_formats()["load"]:
                read = f"yes (as {READ_AS[name]})" if name in READ_AS else "-"
                print(f"{name:16s} read: {read:5s} write: {', '.join(saves[name])}")
        return EXIT_OK
    if not args.input or not args.output:
        return fail("convert needs IN and OUT (or --list)")
    writes = _saver_for(Path(args.output), args.to).name
    source = Path(args.input)
    reads = args.source_format or (detect_format(source) if source.is_file() else None)
    read_options: dict = {}
    write_options = _write_options(args, writes)
    if isinstance(write_options, int):
        return write_options
    if args.pose_estimation is not None:
        if reads != "NWB":
            return fail(f"--pose-estimation applies to NWB input; {source} is {reads}")
        read_options["pose_estimation"] = args.pose_estimation
    if args.images is not None:
        if "COCO" not in (reads, writes):
            return fail("--images applies to COCO results (.json) in or out")
        from ..io.coco import read_coco

        dataset = read_coco(args.images)
        if reads == "COCO":
            read_options["images"] = dataset
        if writes == "COCO":
            write_options["images"] = dataset
    if args.per_individual:
        if writes != "NWB":
            return fail(
                f"--per-individual applies to an NWB output; {args.output} is {writes}"
            )
        return _per_individual(args, read_options, write_options)
    out = convert(
        args.input,
        args.output,
        to=args.to,
        source_format=args.source_format,
        fps=args.fps,
        read_options=read_options,
        write_options=write_options,
        individuals=args.individual,
    )
    print(out)
    return EXIT_OK
