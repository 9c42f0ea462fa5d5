"""``posekit export-model``: one shareable ``.posekit.zip`` (and SavedModel, ONNX)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import EXIT_OK, add_project_arg, add_shuffle_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "export-model"


def _size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` into ``(height, width)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a frame size is WIDTHxHEIGHT, e.g. 640x480; received {text!r}"
        ) from None
    return h, w


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit export-model`` to the command line.

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
        help="write a trained network into one shareable .posekit.zip",
        description="Write a shuffle's network into one file that runs without the "
        "project: Keras weights, float32 and int8 TFLite, pose_cfg.yaml and a model "
        "card (bodyparts, skeleton, training frames and videos, test error, input "
        "size, licence). Run it with: posekit analyze --model FILE VIDEO. "
        "Optionally also a TensorFlow SavedModel and an ONNX file.",
    )
    add_project_arg(p)
    p.add_argument(
        "out_positional",
        nargs="?",
        metavar="OUT",
        help="the file to write (the older form of --out; give one of them)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="the file to write (NAME.posekit.zip; .posekit.zip is added when "
        "missing; default: exported-models/<scorer>.posekit.zip in the project)",
    )
    add_shuffle_arg(p)
    p.add_argument(
        "--input-size",
        type=_size,
        metavar="WxH",
        help="frame size of the TFLite files (default: the project's first video)",
    )
    p.add_argument("--name", help="the model's name (default: the project's task)")
    p.add_argument(
        "--licence",
        default="unspecified",
        help="the licence you share the model under, e.g. CC-BY-4.0 (recorded in the "
        "model card; default: unspecified)",
    )
    p.add_argument("--description", default="", help="free text for the model card")
    p.add_argument("--authors", default="", help="who made the model")
    p.add_argument(
        "--no-int8", action="store_true", help="do not add an int8 TFLite model"
    )
    p.add_argument("--savedmodel", metavar="DIR", help="also write a SavedModel")
    p.add_argument(
        "--onnx",
        metavar="FILE",
        help="also write an ONNX model (needs tf2onnx) and check it with ONNX Runtime",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Export the model; print the file and its card.

    The file is ``--out FILE`` or, as scripts written before ``--out`` give it, the
    second positional argument (not both); without either,
    ``exported-models/<scorer>.posekit.zip`` in the project.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.

    Raises
    ------
    ValueError
        The file is given both ways (``posekit export-model: error: …``, exit 2).
    """
    from ..export import (
        _check_savedmodel_target,
        check_onnx,
        export_model,
        export_onnx,
        export_savedmodel,
        load_model_file,
    )

    if args.out is not None and args.out_positional is not None:
        raise ValueError(
            f"the file to write is given twice, {args.out_positional!r} and --out "
            f"{args.out!r}: give it once, as --out FILE."
        )
    project = load_project(args.project)
    if args.savedmodel:  # before anything is written
        _check_savedmodel_target(Path(args.savedmodel).absolute())
    out = export_model(
        project,
        args.out if args.out is not None else args.out_positional,
        shuffle=args.shuffle,
        input_size=args.input_size,
        name=args.name,
        licence=args.licence,
        description=args.description,
        authors=args.authors,
        int8=not args.no_int8,
        on_stage=lambda name: print(
            f"posekit export-model: {name}…", file=sys.stderr, flush=True
        ),
    )
    model = load_model_file(out)  # the file reads back and passes its checks
    print(model.card.summary(), file=sys.stderr)
    print(out)
    if args.savedmodel:
        print(export_savedmodel(model, args.savedmodel))
    if args.onnx:
        onnx = export_onnx(model, args.onnx)
        frames = _check_frames(project, model, args.shuffle)
        diff = check_onnx(onnx, model, frames)
        print(
            f"ONNX Runtime vs posekit on {len(frames)} frames: keypoints differ by at "
            f"most {diff['max_abs_px']:.4f} px",
            file=sys.stderr,
        )
        print(onnx)
    return EXIT_OK


def _check_frames(project, model, shuffle: int) -> list:
    """Return a few labelled frames of the card's size (else a black frame)."""
    import numpy as np

    from ..model_folder import ModelFolder

    frames = ModelFolder.of(project, shuffle).labelled_frames()
    h, w = model.card.input_size
    if frames is not None:
        picked = [
            f
            for f in (np.asarray(i) for i in frames.images[:4])
            if f.shape[:2] == (h, w)
        ]
        if picked:
            return picked
    return [np.zeros((h, w, 3), np.uint8)]
