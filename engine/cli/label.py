"""``posekit label``: labelling progress, and frames pre-filled by the network."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, add_project_arg, add_shuffle_arg, load_project

__all__ = ["NAME", "add_parser", "run"]

NAME = "label"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit label`` to the command line.

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
        help="labelling progress per video; --from-predictions pre-fills the frames",
        description="Print how many extracted frames of each video are done (every "
        "bodypart placed or marked not visible). With --from-predictions, the latest "
        "snapshot first predicts every frame that is not fully labelled and has no "
        "machine labels yet and writes its guesses as machinelabels-iter<N>.h5: the "
        "labelling app then opens those frames pre-filled (correct, then accept). "
        "With --missing-not-visible, the empty points of frames labelled in another "
        "tool (DeepLabCut and SLEAP leave a hidden part empty) are marked not visible, "
        "so those frames count as done.",
    )
    add_project_arg(p)
    p.add_argument("videos", nargs="*", help="video stems (default: all)")
    p.add_argument(
        "--from-predictions",
        action="store_true",
        help="pre-fill the frames with the latest snapshot's predictions",
    )
    add_shuffle_arg(p)
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot index (-1)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="predict frames that have machine labels already, too",
    )
    p.add_argument(
        "--missing-not-visible",
        action="store_true",
        help="mark the empty points of frames that have labels as not visible",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Pre-fill (optionally) and print the progress of each video.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from pathlib import Path

    from ..labels import empty_points, labelling_progress, mark_missing_not_visible

    project = load_project(args.project)
    stems = [Path(v).stem for v in args.videos] or project.labeled_videos()
    if args.from_predictions:
        from ..refinement import predict_machine_labels

        filled = predict_machine_labels(
            project,
            stems,
            shuffle=args.shuffle,
            snapshot=args.snapshot,
            overwrite=args.overwrite,
        )
        for stem, n in filled.items():
            print(f"{stem}: {n} frame(s) pre-filled with the network's guesses")
    if args.missing_not_visible:
        for stem in stems:
            n = mark_missing_not_visible(project, stem)
            print(f"{stem}: {n} empty point(s) of labelled frames marked not visible")
    done_all = total_all = started = 0
    for stem in stems:
        done, total = labelling_progress(project, stem)
        done_all += done
        total_all += total
        started += len({frame for frame, _ in empty_points(project, stem)})
        print(f"{stem}: {done} of {total} frames done")
    print(f"project: {done_all} of {total_all} frames done")
    if started and not args.missing_not_visible:
        print(
            f"{started} frame(s) have some points but not all. If they were labelled "
            "in DeepLabCut or SLEAP, which leave a hidden part empty, "
            "`posekit label --missing-not-visible` marks those points not visible."
        )
    if done_all < total_all:
        print("label them in the labelling app (make app, then Label)")
    return EXIT_OK
