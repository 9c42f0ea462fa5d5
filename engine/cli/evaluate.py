"""``posekit evaluate``: train and test error of a shuffle's network (or several)."""

from __future__ import annotations

import argparse

from ._common import (
    EXIT_OK,
    add_project_arg,
    add_training_set_arg,
    load_project,
    positive_float,
)

__all__ = ["NAME", "add_parser", "run"]

NAME = "evaluate"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit evaluate`` to the command line.

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
        help=(
            "train/test error (px), per bodypart and PCK (single-animal), mAP/mAR "
            "(multi-animal); CombinedEvaluation-results.csv"
        ),
    )
    add_project_arg(p)
    p.add_argument(
        "--shuffle",
        type=int,
        action="append",
        metavar="N",
        help="which shuffle's network (DeepLabCut's shuffle; default 1); repeated "
        "(--shuffle 1 --shuffle 2), the shuffles are evaluated one after the "
        "other, a row each, as DeepLabCut's Shuffles=[1, 2]",
    )
    add_training_set_arg(p)
    p.add_argument(
        "--plot",
        action="store_true",
        help="draw the predictions on every labelled frame, as DeepLabCut's "
        "plotting=True: LabeledImages_<scorer>_snapshot-<N>/Training-… and Test-…",
    )
    p.add_argument(
        "--tracks",
        metavar="FILE",
        help="several animals: tracked predictions (…_el.h5) to score against "
        "--truth (identity switches, IDF1, OKS mAP)",
    )
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="the true tracks of the same video (.slp, .h5, …) for --tracks",
    )
    gate = p.add_mutually_exclusive_group()
    gate.add_argument(
        "--min-oks",
        type=float,
        metavar="OKS",
        help="with --tracks: a predicted and a true animal match in a frame when "
        "their OKS is at least this (default 0.5); switches are counted on matched "
        "animals only. OKS scales with the animal's size: on small animals a few "
        "pixels off is already below 0.5",
    )
    gate.add_argument(
        "--max-distance",
        type=positive_float,
        metavar="PX",
        help="with --tracks: match animals by the mean distance of their keypoints "
        "instead, up to PX pixels (CLEAR MOT's distance threshold; the same for "
        "small and large animals)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the results table.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    if bool(args.tracks) != bool(args.truth):
        raise ValueError("--tracks and --truth go together: give both files")
    gate = "--min-oks" if args.min_oks is not None else "--max-distance"
    if not args.tracks and (args.min_oks is not None or args.max_distance):
        raise ValueError(
            f"{gate} sets how --tracks are matched to --truth: give both files, "
            "or leave it out to evaluate the network"
        )
    if args.tracks:
        return _evaluate_tracks(args)
    from ..api import _check_evaluable, evaluate_network

    project = load_project(args.project).for_training_set(args.trainingsetindex)
    shuffles = args.shuffle or [1]
    for shuffle in shuffles:  # every one before the first is evaluated
        _check_evaluable(project, shuffle)
    result = evaluate_network(
        project,
        shuffle=shuffles,  # several: one row each
        plot=args.plot,
    )
    print(result.to_string() if hasattr(result, "to_string") else result)
    return EXIT_OK


def _evaluate_tracks(args: argparse.Namespace) -> int:
    """Print the identity metrics of ``--tracks`` against ``--truth``."""
    from ..multianimal.api import evaluate_tracks

    load_project(args.project)  # the project must exist, as for the other verbs
    m = evaluate_tracks(
        args.tracks, args.truth, min_oks=args.min_oks, max_distance=args.max_distance
    )
    n, matched = m["n_labelled"], m["n_matched"]
    print(
        f"frames compared        {m['n_frames_compared']} "
        f"({m['frame_range_compared']}): the truth's labelled frames that the "
        "tracks have"
    )
    print(
        f"  tracks / truth       {m['n_frames_predictions']} frames "
        f"({m['frame_range_predictions']}) / {m['n_frames_truth']} labelled frames "
        f"({m['frame_range_truth']})"
    )
    print(f"animals match when     {m['gate']}")
    print(f"matched animals        {matched} of {n} labelled ({_share(matched, n)})")
    print(
        f"  not matched          {m['unmatched']} in {m['unmatched_frames']} of "
        f"{m['n_labelled_frames']} frames: {m['unmatched_beyond_gate']} beyond the "
        f"gate, {m['unmatched_no_prediction']} with no predicted animal"
    )
    print(
        f"identity switches      {m['id_switches']} (among the matched animals)"
        + _at_frames(m["switch_frames"])
    )
    print(f"switches / 1000 frames {m['switches_per_1000_frames']:.2f}")
    print(f"IDF1                   {m['idf1']:.4f}")
    print(f"IDP / IDR              {m['idp']:.4f} / {m['idr']:.4f}")
    print(f"MOTA                   {m['mota']:.4f}")
    print(
        f"OKS mAP / mAR (frames) {m['frames_map']:.4f} / {m['frames_mar']:.4f} "
        "(identities ignored; each frame's animals ranked by their mean likelihood)"
    )
    print(f"matched error (px)     {m['frames_mean_error_px']:.2f}")
    if m["n_frames_truth_unpredicted"]:
        print(
            f"note: {m['n_frames_truth_unpredicted']} of the truth's "
            f"{m['n_frames_truth']} labelled frames have no tracked frame "
            f"(the tracks cover {m['frame_range_predictions']}) and are not scored."
        )
    if m["unmatched_beyond_gate"]:
        looser = (
            "a larger --max-distance"
            if m["max_distance"] is not None
            else "--max-distance PX (pixels, the same for any animal size) or a "
            "lower --min-oks"
        )
        print(
            f"note: {m['unmatched_beyond_gate']} labelled animals had a predicted "
            f"animal beyond the gate ({m['gate']}); a swap there is not counted. "
            f"To judge them too, use {looser}."
        )
    return EXIT_OK


def _at_frames(frames: list[int], most: int = 10) -> str:
    """``", at frames 3, 9, …"`` naming each frame once (the first ``most``)."""
    unique = sorted(set(frames))
    if not unique:
        return ""
    more = f", … ({len(unique)} frames)" if len(unique) > most else ""
    return ", at frames " + ", ".join(str(f) for f in unique[:most]) + more


def _share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage (``-`` when ``whole`` is 0)."""
    return f"{100 * part / whole:.0f} %" if whole else "-"
