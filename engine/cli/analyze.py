"""``posekit analyze``: predict keypoints in videos."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    add_project_arg,
    add_shuffle_arg,
    add_training_set_arg,
    load_project,
    positive_int,
)

__all__ = ["NAME", "add_parser", "run", "report_outputs", "shard_arg"]

NAME = "analyze"

_H = TypeVar("_H", bound=logging.Handler)


def shard_arg(text: str) -> str:
    """Check ``--shard I/N`` as argparse parses it (an argparse type): before anything loads.

    Parameters
    ----------
    text
        The value as typed.

    Returns
    -------
    str
        ``"I/N"``, as :func:`posekit.engine.distributed.parse_shard` reads it.

    Raises
    ------
    argparse.ArgumentTypeError
        Not two whole numbers ``I/N`` with ``0 <= I < N``.

    Examples
    --------
    >>> shard_arg(" 2/8")
    '2/8'
    >>> shard_arg("8/8")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 8/8: task 8 is not one of the 8 tasks 0 to 7 (a job array of N tasks numbers them from 0, e.g. --shard ${SLURM_ARRAY_TASK_ID}/32 with --array=0-31)
    """
    from ..distributed import parse_shard

    try:
        i, n = parse_shard(text)
    except ValueError:
        said = text.strip()
        parts = said.split("/")
        if len(parts) == 2 and all(p.strip().lstrip("-").isdigit() for p in parts):
            i, n = (int(p) for p in parts)
            why = (
                "N, the number of tasks, is at least 1"
                if n < 1
                else f"task {i} is not one of the {n} tasks 0 to {n - 1}"
            )
            raise argparse.ArgumentTypeError(
                f"{said}: {why} (a job array of N tasks numbers them from 0, e.g. "
                "--shard ${SLURM_ARRAY_TASK_ID}/32 with --array=0-31)"
            ) from None
        raise argparse.ArgumentTypeError(
            f"{said!r} is not I/N: give this task's number I (from 0) and the "
            "number of tasks N, e.g. --shard 0/4"
        ) from None
    return f"{i}/{n}"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit analyze`` to the command line.

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
        help="predict keypoints in videos; writes DLC-named .h5 (and .csv)",
        description="Analyse videos with the trained network of a shuffle. Writes "
        "<video>DLC_<net>_<Task><date>shuffle<k>_<iters>.h5 beside each video (or in "
        "--dest), DeepLabCut's layout, plus _meta.pickle. Videos analysed before with "
        "the same network are skipped (--overwrite: again); a video that cannot be "
        "read or analysed, or that config.yaml lists but is not found, is left out, "
        "the others are analysed, and the exit status is 2 (as for a truncated "
        "video, analysed as far as it decodes). Each output is locked while it is "
        "written: other videos may be analysed at the same time, the same one is "
        "refused with exit status 75 (try again later). An interrupted analysis "
        "resumes where it stopped when run again. One line per network and frame "
        "size says which precision runs (int8 or float32) and why.",
    )
    add_project_arg(p)
    p.add_argument(
        "videos",
        nargs="*",
        help="videos or folders of videos (default: all of the project); a folder "
        "stands for its videos of the usual types (.mp4, .avi, .mov, .mkv, .webm, "
        ".mpg, .ts, .mts, .m2ts, ...; any case), and other files in it are named",
    )
    p.add_argument(
        "--videotype",
        metavar="EXT",
        action="append",
        help="in folders, only videos with this extension (e.g. mts; repeat for "
        "several; DeepLabCut's videotype)",
    )
    # None: not given (a project's analysis takes 1 and 0; --model refuses them)
    add_shuffle_arg(p, default=None)
    add_training_set_arg(p)
    p.set_defaults(trainingsetindex=None)
    p.add_argument("--dest", help="output folder (default: beside each video)")
    p.add_argument("--csv", action="store_true", help="also write .csv")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="analyse again the videos this network has analysed (default: skip them)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="frames per network call (default: by frame size, 1 from 640x480 up, "
        "else 8, the fastest measured; at most config.yaml's batch_size, "
        "DeepLabCut's memory limit)",
    )
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
        help="use TensorFlow instead of the (faster) TFLite runtime: the float32 "
        "model (--precision int8 is refused with it)",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "int8"),
        default="auto",
        help="TFLite precision: auto (default) runs int8 only when it agrees with "
        "float on the project's labelled frames of that size (median shift <= 0.75 "
        "px, few points moved > 2 px or across pcutoff; recorded in "
        "snapshot-*-int8.json), else float32; int8 needs TFLite (not with "
        "--no-tflite)",
    )
    p.add_argument(
        "--model",
        metavar="FILE",
        help="a shared .posekit.zip model (or the folder it unzips to): no project "
        "needed; then PROJECT is the "
        "first video (posekit analyze --model m.posekit.zip video.mp4); a project's "
        "--shuffle, --trainingsetindex, --animals and --track-method are refused",
    )
    animals = p.add_argument_group(
        "several animals", "multi-animal projects (see the guide 'Several animals')"
    )
    animals.add_argument(
        "--animals",
        type=int,
        default=None,
        help="animals to stitch the tracklets into (default: the project's "
        "individuals)",
    )
    animals.add_argument(
        "--track-method",
        choices=("ellipse", "box", "keypoints"),
        default=None,
        help="frame-to-frame similarity (default: the config's default_track_method)",
    )
    many = p.add_argument_group(
        "many videos", "spread the work (see the guide 'Analysing many videos')"
    )
    many.add_argument(
        "--cluster",
        metavar="WHERE",
        help="analyse chunks of frames on a Dask cluster: 'local' (this machine's "
        "cores), 'slurm' (dask-jobqueue, configured in ~/.config/dask/jobqueue.yaml) "
        "or a scheduler address tcp://HOST:8786 (needs posekit[dask])",
    )
    many.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="workers of --cluster local, or jobs of slurm; without --cluster, "
        "--workers N means --cluster local with N workers (not with --shard, nor "
        "with a scheduler address, whose workers run already)",
    )
    many.add_argument(
        "--shard",
        type=shard_arg,
        metavar="I/N",
        help="be task I of N of a job array (from 0; no Dask): analyse this task's "
        "share of the chunks (fixed by each video's name and chunk number, so tasks "
        "may run in any order); the task that completes a video writes its .h5, and "
        "a task prints the .h5 files it wrote and a line for each video it left "
        "incomplete",
    )
    many.add_argument(
        "--chunk-frames",
        type=positive_int,
        default=None,
        metavar="N",
        help="frames per chunk with --cluster or --shard (default 1024; refused "
        "without them)",
    )
    return p


def _print_stage(stage: object) -> None:
    """Say on stderr which step runs (loading, converting), before the frames' bar."""
    if getattr(stage, "name", None) != "analysing":
        print(f"posekit analyze: {stage}…", file=sys.stderr, flush=True)


class _StageLines:
    """:func:`_print_stage`, with "loading the model" said once in a chunked run.

    A chunked analysis (--cluster, --shard) prepares the model for each video (the
    workers load it), which said "loading the model…" once per video.
    """

    def __init__(self, chunked: bool) -> None:
        self.chunked = chunked
        self.loaded = False

    def __call__(self, stage: object) -> None:
        if self.chunked and getattr(stage, "name", None) == "loading":
            if self.loaded:
                return
            self.loaded = True
        _print_stage(stage)


class _PendingLines(logging.Handler):
    """Print on stdout each video a job array's task left incomplete (one line)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        print(f"posekit analyze: {record.getMessage()}", flush=True)


@contextlib.contextmanager
def _routed(name: str, handler: _H) -> Iterator[_H]:
    """Send logger ``name``'s INFO lines to ``handler`` only, whatever the log level.

    The logger's level and propagation are put back afterwards.
    """
    log = logging.getLogger(name)
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def _print_pending_lines() -> contextlib.AbstractContextManager[logging.Handler]:
    """Print the lines of :data:`posekit.engine.distributed.PENDING_LOGGER` on stdout."""
    from ..distributed import PENDING_LOGGER

    return _routed(PENDING_LOGGER, _PendingLines())


class _PrecisionLines(logging.Handler):
    """Print each precision line (:func:`~posekit.engine.quantization.announce`) once."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if line not in self.seen:  # chunked analyses prepare the model per video
            self.seen.add(line)
            print(f"posekit analyze: {line}", file=sys.stderr, flush=True)


def print_precision_lines() -> contextlib.AbstractContextManager[_PrecisionLines]:
    """Print on stderr which precision each network and frame size runs, and why.

    The lines are logged by :func:`posekit.engine.quantization.announce` (int8 as a
    warning, float32 as info); here they are printed whatever the log level, once
    each, and not passed on to the log handlers as well.

    Yields
    ------
    logging.Handler
        The handler (its ``seen`` holds the lines printed).
    """
    from ..quantization import PRECISION_LOGGER

    return _routed(PRECISION_LOGGER, _PrecisionLines())


def run(args: argparse.Namespace) -> int:
    """Analyse the videos and print each file written.

    The set-up steps (loading the model, preparing the fast runtime) are said on
    stderr as they begin, with one line per network and frame size that says
    which precision runs and why; a progress bar per video follows. ``--workers N``
    without ``--cluster`` starts a local cluster of N workers (a line says so);
    ``--no-tflite`` with ``--precision int8`` is refused before anything starts.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    _resolve_workers(args)
    if args.model:  # refused before a cluster starts or the model is unpacked
        from ..export import _check_runtime

        _refuse_project_options(args)
        _check_runtime(not args.no_tflite, args.precision, args.cluster, args.shard)
    else:
        from ..api import check_runtime_precision

        check_runtime_precision(not args.no_tflite, args.precision)
    with contextlib.ExitStack() as stack:
        stack.enter_context(print_precision_lines())
        if args.shard:
            stack.enter_context(_print_pending_lines())
        client = _client(args, stack)
        if args.model:
            return _run_model_file(args, client)
        return _run_project(args, client)


def _run_project(args: argparse.Namespace, client: object) -> int:
    """Analyse videos with a project's trained shuffle."""
    from ..api import analyze_videos

    index = 0 if args.trainingsetindex is None else args.trainingsetindex
    project = load_project(args.project).for_training_set(index)
    outputs = analyze_videos(
        project,
        [Path(v) for v in args.videos] or None,  # none: the project's videos
        shuffle=1 if args.shuffle is None else args.shuffle,
        destfolder=args.dest,
        save_as_csv=args.csv,
        batch_size=args.batch_size,
        scale=args.scale,
        netcdf=args.netcdf,
        use_tflite=not args.no_tflite,
        on_stage=_StageLines(bool(client is not None or args.shard)),
        precision=args.precision,
        client=client,
        shard=args.shard,
        chunk_frames=args.chunk_frames,
        n_tracks=args.animals,
        track_method=args.track_method,
        overwrite=args.overwrite,
        videotype=args.videotype,
    )
    return report_outputs(outputs, shard=bool(args.shard))


def report_outputs(
    outputs: list[Path], command: str = "posekit analyze", *, shard: bool = False
) -> int:
    """Print the outputs, then the inputs left out or cut short; exit 2 if any.

    A job array's task (``shard``) prints only the ``.h5`` files it wrote, not
    those of videos analysed before it started (``outputs.skipped``).
    """
    done_before = set(getattr(outputs, "skipped", ())) if shard else set()
    for out in outputs:
        if out not in done_before:
            print(out)
    failed = getattr(outputs, "failed", {})
    for item, why in failed.items():
        print(f"{command}: not analysed: {item}: {why}", file=sys.stderr)
    incomplete = getattr(outputs, "incomplete", {})
    for item, why in incomplete.items():
        print(f"{command}: analysed in part: {item}: {why}", file=sys.stderr)
    return EXIT_ERROR if failed or incomplete else EXIT_OK


#: ``--cluster`` values that start workers (``--workers`` says how many).
_STARTED_CLUSTERS = ("local", "slurm", "pbs", "sge", "lsf")


def _resolve_workers(args: argparse.Namespace) -> None:
    """Make ``--workers N`` alone mean ``--cluster local``; refuse it where it cannot act.

    Raises
    ------
    ValueError
        ``--workers`` with ``--shard`` (a job array, no Dask) or with a scheduler
        address (its workers are started elsewhere).
    """
    if args.workers is None:
        return
    if args.cluster is None and args.shard:
        raise ValueError(
            f"--workers {args.workers} spreads the work over a Dask cluster, and "
            "--shard I/N makes this process one task of a job array (no Dask): "
            "choose one (drop --workers: the array's N tasks are its workers; or "
            "drop --shard for a local cluster of that many workers)."
        )
    if args.cluster is None:
        args.cluster = "local"
        print(
            f"posekit analyze: --workers {args.workers} without --cluster: a local "
            f"Dask cluster of {args.workers} workers (--cluster local)",
            file=sys.stderr,
            flush=True,
        )
    elif str(args.cluster) not in _STARTED_CLUSTERS:
        raise ValueError(
            f"--workers {args.workers} starts workers, and --cluster {args.cluster} "
            "connects to a scheduler whose workers are started elsewhere: drop "
            "--workers (start more workers there: dask worker ADDRESS), or use "
            "--cluster local or slurm."
        )


def _client(args: argparse.Namespace, stack: contextlib.ExitStack) -> object:
    """Return what ``--cluster`` asks for; a cluster started here closes with ``stack``."""
    if not args.cluster:
        return None
    if args.shard:
        raise ValueError("--cluster and --shard exclude each other: choose one.")
    from ..distributed import dask_client

    return stack.enter_context(dask_client(args.cluster, n_workers=args.workers))


#: A project's options that do not apply to ``--model FILE``: why, and what to do.
_PROJECT_ONLY = {
    "shuffle": (
        "--shuffle",
        "it chooses one of a project's networks, and a model file holds one network "
        "(the shuffle it was exported from). Drop --shuffle, or export the shuffle "
        "you want: posekit export-model PROJECT --shuffle N",
    ),
    "trainingsetindex": (
        "--trainingsetindex",
        "it chooses one of a project's training fractions, and a model file holds "
        "one network, trained on the split it was exported from (its card says "
        "which). Drop --trainingsetindex",
    ),
    "animals": (
        "--animals",
        "it stitches a multi-animal project's tracklets into its individuals, and "
        "a model file finds one animal per video (one set of keypoints per frame). "
        "Drop --animals, or analyse within the multi-animal project: posekit "
        "analyze PROJECT VIDEO --animals N",
    ),
    "track_method": (
        "--track-method",
        "it links a multi-animal project's detections into tracklets, and a model "
        "file finds one animal per video (one set of keypoints per frame). Drop "
        "--track-method, or analyse within the multi-animal project: posekit "
        "analyze PROJECT VIDEO --track-method METHOD",
    ),
}


def _refuse_project_options(args: argparse.Namespace) -> None:
    """Refuse a project's options given with ``--model`` (never ignore them)."""
    for dest, (option, why) in _PROJECT_ONLY.items():
        if getattr(args, dest) is not None:
            raise ValueError(f"{option} does not apply to --model: {why}.")


def _run_model_file(args: argparse.Namespace, client: object) -> int:
    """Analyse videos with a shared ``.posekit.zip``: no project.

    Folders are listed as the project's analysis lists them
    (:func:`~posekit.engine.project.list_videos` with ``--videotype``), before the
    model is unpacked, so a folder without a video of that type fails at once, and
    videos named that ``--videotype`` all leave out are an error (exit status 2).
    The options of a project's network are refused (:func:`_refuse_project_options`);
    the others are passed on, ``--no-tflite`` and ``--precision`` included.
    """
    from ..api import _no_videos_found
    from ..export import analyze_with_model, load_model_file
    from ..project import list_videos

    given = [args.project, *args.videos]
    videos = list_videos(given, args.videotype)
    if not videos:  # --videotype left out every video named (DeepLabCut's message)
        said = _no_videos_found(given, args.videotype, "nothing is analysed")
        print(f"posekit analyze: {said}", file=sys.stderr)
        return EXIT_ERROR
    model = load_model_file(args.model)
    print(model.card.summary(), file=sys.stderr)
    outputs = analyze_with_model(
        model,
        videos,
        destfolder=args.dest,
        save_as_csv=args.csv,
        batch_size=args.batch_size,
        scale=args.scale,
        precision=args.precision,
        netcdf=args.netcdf,
        client=client,
        shard=args.shard,
        chunk_frames=args.chunk_frames,
        on_stage=lambda name: _print_stage(f"{name} the model"),
        overwrite=args.overwrite,
        use_tflite=not args.no_tflite,
        videotype=args.videotype,
    )
    return report_outputs(outputs, shard=bool(args.shard))
