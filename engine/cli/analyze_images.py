"""``posekit analyze-images``: predict keypoints in a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_project_arg, add_shuffle_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "analyze-images"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit analyze-images`` to the command line.

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
        help="predict keypoints in a folder of images (time-lapse, stills); one .h5",
        description="Analyse the images of a folder with the trained network of a "
        "shuffle (DeepLabCut's analyze_time_lapse_frames). Writes "
        "<folder>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5 in the folder (or in "
        "--dest): one row per image, indexed by its file name, plus _meta.pickle. "
        "Images may differ in size. A folder analysed before with the same network "
        "is skipped (--overwrite: again); an image that cannot be read is left out, "
        "the others are analysed, and the exit status is 2.",
    )
    add_project_arg(p)
    p.add_argument("images", nargs="+", help="a folder of images, or image files")
    p.add_argument(
        "--frametype",
        metavar="EXT",
        help="only images with this extension in folders, e.g. .png (default: png, "
        "jpg, jpeg, bmp, tif, tiff, webp)",
    )
    add_shuffle_arg(p)
    p.add_argument("--dest", help="output folder (default: the images' folder)")
    p.add_argument("--csv", action="store_true", help="also write .csv")
    p.add_argument(
        "--plot",
        action="store_true",
        help="also write the images with the predictions drawn "
        "(<folder><scorer>_labeled/)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="analyse again a folder this network has analysed (default: skip it)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per network call (default: by image size)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="resize images by this factor before inference (e.g. 0.5)",
    )
    p.add_argument(
        "--no-tflite",
        action="store_true",
        help="use TensorFlow instead of the (faster) TFLite runtime",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Analyse the images and print the file written.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code: 2 when some images could not be read (named on stderr).
    """
    from ..image_analysis import analyze_images
    from .analyze import report_outputs

    outputs = analyze_images(
        load_project(args.project),
        [Path(p) for p in args.images],
        frametype=args.frametype,
        shuffle=args.shuffle,
        destfolder=args.dest,
        save_as_csv=args.csv,
        batch_size=args.batch_size,
        scale=args.scale,
        use_tflite=not args.no_tflite,
        overwrite=args.overwrite,
        plot=args.plot,
    )
    return report_outputs(outputs, "posekit analyze-images")
