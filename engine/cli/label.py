"""``posekit label``: labelling progress, and frames pre-filled by the network."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK, add_project_arg, add_shuffle_arg, load_project

__all__ = ["NAME", "add_parser", "machine_label_frames", "run"]

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
        "so those frames count as done; frames with machine labels are left as they "
        "are (accept or correct their guesses in the refine app).",
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
        help="mark the empty points of frames that have labels as not visible "
        "(not of frames with machine labels: their empty points are unchecked guesses)",
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

    from ..label_check import other_scorer_advice, other_scorer_labels
    from ..labels import (
        empty_points,
        labelling_progress,
        never_labelled,
        update_visibility,
    )
    from ..project import video_folder_name

    project = load_project(args.project)
    stems = [video_folder_name(v) for v in args.videos] or project.labeled_videos()
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
    # QA s17: a bodypart placed in no labelled frame (added to config.yaml after
    # labelling) is not labelled yet, not hidden: never marked, never in the hint
    new_parts = set(never_labelled(project, project.labeled_videos() or stems))
    if args.missing_not_visible:
        for stem in stems:
            # QA s16 #4: the empty points of a frame with machine labels (an
            # extracted outlier frame, a pre-filled one) are guesses nobody checked
            # yet, not hidden parts: left as they are
            machine = machine_label_frames(project, stem)
            empty = empty_points(project, stem)
            mark = [
                (f, p)
                for f, p in empty
                if Path(f).name not in machine and p not in new_parts
            ]
            kept = {f for f, _ in empty if Path(f).name in machine}
            if mark:
                update_visibility(project, stem, not_visible_add=mark)
            print(
                f"{stem}: {len(mark)} empty point(s) of labelled frames marked not "
                "visible"
            )
            if kept:
                print(
                    f"{stem}: {len(kept)} frame(s) with machine labels left as they "
                    "are: accept or correct their guesses in the refine app"
                )
    done_all = total_all = started = 0
    for stem in stems:
        done, total = labelling_progress(project, stem)
        done_all += done
        total_all += total
        machine = machine_label_frames(project, stem)
        started += len(
            {
                f
                for f, p in empty_points(project, stem)
                if Path(f).name not in machine and p not in new_parts
            }
        )
        print(f"{stem}: {done} of {total} frames done")
    print(f"project: {done_all} of {total_all} frames done")
    # QA s25 #7: labels of another scorer are not counted: name them
    others = other_scorer_labels(project, stems)
    if others:
        print(other_scorer_advice(project, others))
    if new_parts:
        why = (
            "labelled in another scorer's file? see above"
            if others
            else "added to config.yaml after labelling?"
        )
        print(
            f"{', '.join(sorted(new_parts))}: no label in any frame yet ({why}): "
            "label it in the Label app; --missing-not-visible leaves it alone."
        )
    if started and not args.missing_not_visible:
        print(
            f"{started} frame(s) have some points but not all. If they were labelled "
            "in DeepLabCut or SLEAP, which leave a hidden part empty, "
            "`posekit label --missing-not-visible` marks those points not visible."
        )
    if done_all < total_all:
        print(
            "label them in the Label app: start the apps with `python -m "
            "posekit.widgets.serve NOTEBOOKS` (NOTEBOOKS: posekit's notebooks/ "
            "folder; `make app` in a source checkout) and open Label"
        )
    return EXIT_OK


def machine_label_frames(project, stem: str) -> set[str]:
    """Image names of a video's frames in any ``machinelabels-iter*.h5`` of its folder.

    Their empty points are the network's guesses not yet accepted or corrected
    (refined outlier frames, frames pre-filled by ``--from-predictions``), not
    hidden parts. An unreadable file counts as none (a warning is logged).
    """
    from pathlib import Path

    from .. import logger
    from ..io.dlc import index_to_paths, read_predictions

    names: set[str] = set()
    for path in sorted(project.labeled_data_dir(stem).glob("machinelabels-iter*.h5")):
        try:
            names |= {
                Path(p).name for p in index_to_paths(read_predictions(path).index)
            }
        except Exception as err:  # noqa: BLE001 - any unreadable file: no frames
            logger.warning("could not read the machine labels %s: %s", path, err)
    return names
