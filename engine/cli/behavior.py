"""``posekit behavior``: behaviour from tracking files, without the app.

Four subcommands on :class:`~posekit.engine.behavior.session.BehaviorModel`, each
loading tracking files (files, folders or a sessions table, as the behaviour app
does), cleaning and calibrating them, and writing its tables atomically to ``--out``:

``features``
    The window features of every frame of every track (one row per frame and track).
``rois``
    Time inside, entries, latency, visits per ROI of a GeoJSON file; crossings of
    its lines.
``classify``
    Train a classifier on labelled tracks; the predicted behaviour of every frame.
``export``
    The results folder of the app: every table (CSV and Excel), figures, ROIs,
    settings.

Each prints the files it wrote. Files that cannot be loaded are skipped with a
message; the others are analysed and written, and the command exits with status 2
(``export`` also records them in ``sessions.csv`` and ``settings.json``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import EXIT_ERROR, EXIT_OK, load_project

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..behavior.classify import BehaviorCVResult
    from ..behavior.filters import FilterConfig
    from ..behavior.session import BehaviorModel

__all__ = ["NAME", "SUBCOMMANDS", "add_parser", "run"]

NAME = "behavior"

#: Subcommands, in the order of the help.
SUBCOMMANDS = ("features", "rois", "classify", "export")

_SMOOTHERS = ("none", "median", "savgol", "butterworth", "kalman")
_TABLE_SUFFIXES = (".csv", ".xlsx", ".h5", ".nc")
#: The features table's CSV cells: 7 significant digits, what float32 holds.
FEATURES_FLOAT_FORMAT = "%.7g"

EPILOG = """\
inputs: tracking files (DeepLabCut .h5/.csv, SLEAP .slp, netCDF .nc), folders (files
matching --pattern; of DeepLabCut's predictions one file per video: the newest
network's, filtered if filtered), or a sessions table (.csv with a `file` and
optionally a `group` column, paths relative to the table).

examples:
  posekit behavior features videos/ --fps 30 --out features.csv
  posekit behavior rois videos/ --rois rois.geojson --out rois.xlsx --px-per-cm 12
  posekit behavior classify sessions.csv --labels mouse1=mouse1_behavior.csv \\
      --out predicted.csv --scores scores.csv
  posekit behavior export sessions.csv --rois rois.geojson --find-labels --out results/
"""


# ---------------------------------------------------------------- arguments


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="tracking files, folders or sessions tables (.csv with a file column)",
    )
    p.add_argument(
        "--pattern",
        default="*.h5",
        metavar="GLOB",
        help="files to take from a folder (*.h5)",
    )
    p.add_argument(
        "--project",
        help="project folder: finds the videos (frame rate) and ground-truth/ labels",
    )


def _add_cleaning(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cleaning (applied in this order)")
    g.add_argument(
        "--pcutoff",
        type=float,
        help="likelihood below which points become NaN (default: keep all)",
    )
    g.add_argument(
        "--max-gap", type=int, help="interpolate gaps up to this many frames"
    )
    g.add_argument(
        "--filter",
        choices=_SMOOTHERS,
        default="none",
        help="smoother of the positions (none)",
    )
    g.add_argument(
        "--window",
        type=int,
        default=5,
        help="median/Savitzky-Golay window (5); both leave (window-1)/2 frames NaN "
        "on each side of a gap (interpolate with --max-gap first), and the median "
        "also at the first and last (window-1)/2 frames, where its window is cut",
    )
    g.add_argument("--polyorder", type=int, default=2, help="Savitzky-Golay order (2)")
    g.add_argument("--cutoff", type=float, help="Butterworth cut-off (Hz)")


def _add_calibration(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("calibration")
    g.add_argument(
        "--fps",
        type=float,
        help="frames per second of every session, overriding their own with a "
        "warning (default: each session's own, from its file or its video; "
        "required when only some sessions have one)",
    )
    scale = g.add_mutually_exclusive_group()
    scale.add_argument("--mm-per-px", type=float, help="millimetres per pixel")
    scale.add_argument("--px-per-cm", type=float, help="pixels per centimetre")
    scale.add_argument(
        "--known-length",
        type=float,
        nargs=2,
        metavar=("PX", "MM"),
        help="a length of PX pixels in the image is MM millimetres (e.g. the arena)",
    )
    g.add_argument(
        "--keypoint",
        help="keypoint for ROIs, distance and speed (default: the centroid of all "
        "keypoints; a keypoint missing in a frame is placed from those seen there)",
    )


def _add_labels(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("labels (per-frame or bout CSV files)")
    g.add_argument(
        "--labels",
        action="append",
        default=[],
        metavar="TRACK=CSV",
        help="behaviour labels of a track (its session name, or a unique start of "
        "it; of a session with several animals, SESSION/ANIMAL, e.g. "
        "session1/mouse1); repeat for several tracks. A file with an 'individual' "
        "column (BORIS: 'Subject') gives the track the rows of its animal: give it "
        "once per animal (--labels session1/mouse1=F --labels session1/mouse2=F)",
    )
    g.add_argument(
        "--find-labels",
        action="store_true",
        help="use <video>_behavior.csv beside each tracking file (or in the "
        "project's ground-truth/) as its labels (of several animals: the rows of "
        "each, by the file's 'individual' column)",
    )


def _add_classifier(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("classifier")
    g.add_argument(
        "--model",
        choices=["random_forest", "gradient_boosting"],
        default="random_forest",
        help="tree ensemble (random_forest)",
    )
    g.add_argument(
        "--n-estimators", type=int, default=100, help="trees or boosting rounds (100)"
    )
    g.add_argument(
        "--min-bout",
        type=int,
        default=1,
        help="shortest predicted bout in frames; shorter ones are merged (1)",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed (0)")


def _add_windows(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--windows",
        default="5,15,45",
        help="comma-separated window lengths (frames) of the features (5,15,45)",
    )


def _out_table(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=f"{what} (.csv, .xlsx, .h5 or .nc; .h5/.nc are the fast ones for "
        "long recordings)",
    )


def _subparser(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    **kwargs: str,
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, **kwargs)
    p.set_defaults(_behavior_run=handler, _command_name=p.prog)
    _add_inputs(p)
    return p


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``posekit behavior`` and its subcommands to the command line.

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
        help="behaviour from tracking files: features, ROI visits, classification",
        description="Quantify behaviour from tracking files, as the behaviour app "
        "does: clean and calibrate the poses, then write window features, ROI visits, "
        "predicted behaviours or a whole results folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    s = _subparser(
        sub,
        "features",
        _features,
        help="window features of every frame; one row per frame and track",
        description="Write the classifier's window features (speeds, distances, "
        "angles and their rolling statistics) of every frame of every track.",
    )
    _add_cleaning(s)
    _add_calibration(s)
    _add_windows(s)
    _out_table(s, "features table")

    s = _subparser(
        sub,
        "rois",
        _rois,
        help="time inside, entries, latency and visits per ROI",
        description="Measure the use of regions of interest (GeoJSON, drawn in image "
        "pixels, e.g. with the ROI editor) by the chosen keypoint: frames and time "
        "inside, entries, exits, latency to the first entry, visits.",
    )
    s.add_argument(
        "--rois", required=True, metavar="GEOJSON", help="ROIs file (.geojson)"
    )
    _add_cleaning(s)
    _add_calibration(s)
    _out_table(s, "ROI summary: one row per session, individual and ROI")
    s.add_argument(
        "--bouts", metavar="FILE", help="also write every visit to this table"
    )
    s.add_argument(
        "--crossings",
        metavar="FILE",
        help="also write the crossings of the line ROIs (by direction) to this table",
    )

    s = _subparser(
        sub,
        "classify",
        _classify,
        help="train on labelled tracks, predict the behaviour of every frame",
        description="Train a behaviour classifier on the frames of the labelled "
        "tracks (cross-validated leaving one labelled track out, else on contiguous "
        "blocks with the largest feature window purged), then predict the behaviour "
        "of every frame of every track.",
    )
    _add_labels(s)
    _add_classifier(s)
    _add_cleaning(s)
    _add_calibration(s)
    _add_windows(s)
    _out_table(s, "predictions: one row per frame and track")
    s.add_argument(
        "--bouts", metavar="FILE", help="also write the predicted bouts to this table"
    )
    s.add_argument(
        "--scores",
        metavar="FILE",
        help="also write the cross-validated precision, recall and F1 per behaviour",
    )

    s = _subparser(
        sub,
        "export",
        _export,
        help="results folder: every table (CSV, Excel), figures, ROIs, settings",
        description="Write the behaviour app's results folder: sessions, kinematics, "
        "ROI and behaviour tables (one CSV each and one Excel workbook), figures per "
        "session, the ROIs and the settings used.",
    )
    s.add_argument(
        "--out",
        required=True,
        metavar="FOLDER",
        help="results folder (created if needed)",
    )
    s.add_argument("--rois", metavar="GEOJSON", help="ROIs file (.geojson)")
    _add_labels(s)
    _add_classifier(s)
    _add_cleaning(s)
    _add_calibration(s)
    _add_windows(s)
    s.add_argument(
        "--figures",
        default="png,svg",
        help="comma-separated figure formats, empty for none (png,svg)",
    )
    s.add_argument("--no-csv", action="store_true", help="no CSV tables")
    s.add_argument("--no-excel", action="store_true", help="no Excel workbook")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``posekit behavior`` subcommand.

    Parameters
    ----------
    args
        The parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    return int(args._behavior_run(args))


# ---------------------------------------------------------------- the model


def _windows(text: str) -> tuple[int, ...]:
    try:
        windows = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        windows = ()
    if not windows or min(windows) < 1:
        raise ValueError(
            f"--windows takes positive frame counts separated by commas, e.g. "
            f"5,15,45; received {text!r}"
        )
    return windows


def _expand_inputs(items: list[str], pattern: str) -> tuple[list[Path], list[str]]:
    """Return the tracking files and groups of files, folders and sessions tables."""
    from ..behavior.session import find_tracking_files, read_sessions_table

    files: list[Path] = []
    groups: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = find_tracking_files(path, pattern)
            if not found:
                raise ValueError(f"no tracking file matching {pattern!r} in {path}")
            files += found
            groups += [""] * len(found)
            continue
        if not path.is_file():
            raise FileNotFoundError(f"No file or folder at {path}")
        table = read_sessions_table(path) if path.suffix.lower() == ".csv" else None
        if table is None:
            files.append(path)
            groups.append("")
        else:
            files += table[0]
            groups += table[1] if table[1] is not None else [""] * len(table[0])
    return files, groups


def _filter_config(args: argparse.Namespace) -> FilterConfig:
    from ..behavior.filters import FilterConfig

    params: dict[str, Any] = {"method": args.filter, "window": args.window}
    if args.pcutoff is not None:
        params["confidence_threshold"] = args.pcutoff
    if args.max_gap is not None:
        params["max_gap"] = args.max_gap
    if args.filter == "savgol":
        params["polyorder"] = args.polyorder
    if args.cutoff is not None:
        params["cutoff"] = args.cutoff
    return FilterConfig(**params)


def _mm_per_px(args: argparse.Namespace) -> float | None:
    from ..behavior.calibration import Calibration

    if args.known_length is not None:
        px, mm = args.known_length
        return Calibration.from_arena(px, mm).mm_per_px
    if args.px_per_cm is not None:
        if not args.px_per_cm > 0:
            raise ValueError(
                f"--px-per-cm must be positive; received {args.px_per_cm!r}"
            )
        return 10.0 / args.px_per_cm
    return args.mm_per_px


def _refuse_label_files(model: BehaviorModel) -> None:
    """Refuse label files: their rows are labelled images, not consecutive frames."""
    from ..behavior._utils import image_rows

    images = [s for s in model.sessions if image_rows(s.poses)]
    if images:
        named = ", ".join(
            f"{s.path or s.name} ({s.n_frames} images)" for s in images[:5]
        )
        first = list(images[0].poses.attrs.get("frames") or [])[:1]
        example = f", e.g. {first[0]}" if first else ""
        raise ValueError(
            f"{named}: label files (their rows are labelled images{example}, not "
            "consecutive frames of a video), so speeds, distances and times between "
            "their rows mean nothing. Analyse the videos (posekit analyze) and pass "
            "their predictions files"
        )


def _note_pcutoff(model: BehaviorModel, pcutoff: float | None) -> None:
    """Say where ``--pcutoff`` does nothing: points without a likelihood."""
    import numpy as np

    if pcutoff is None:
        return
    for s in model.sessions:
        conf = s.poses["confidence"].transpose("time", "keypoint", "individual")
        pos = s.poses["position"].transpose("time", "keypoint", "individual", ...)
        n = conf.sizes["time"]
        seen = np.isfinite(conf.values).reshape(n, -1).any(axis=0)
        # points with a position somewhere (a multi-animal file's animals have no
        # columns for its unique bodyparts: nothing to cut there)
        placed = np.isfinite(pos.values).any(axis=-1).reshape(n, -1).any(axis=0)
        if (seen | ~placed).all():
            continue
        if not seen.any():
            print(
                f"posekit: warning: --pcutoff {pcutoff:g} not applied to {s.name}: "
                "its file has no likelihood (a 'likelihood' column per bodypart), so "
                "every point is kept",
                file=sys.stderr,
            )
            continue
        cols = [
            f"{k}" if conf.sizes["individual"] == 1 else f"{i}/{k}"
            for k in conf["keypoint"].values
            for i in conf["individual"].values
        ]
        missing = [c for c, ok in zip(cols, seen | ~placed, strict=True) if not ok]
        print(
            f"posekit: warning: --pcutoff {pcutoff:g} not applied to {s.name}'s "
            f"{', '.join(missing)}: its file has no likelihood for them, so their "
            "points are all kept",
            file=sys.stderr,
        )


def _model(args: argparse.Namespace) -> BehaviorModel:
    """Load, clean and calibrate the inputs as the options say."""
    from ..behavior.session import BehaviorModel

    project = load_project(args.project) if args.project else None
    options = {"windows": _windows(args.windows)} if "windows" in args else {}
    model = BehaviorModel(project, **options)
    files, groups = _expand_inputs(args.inputs, args.pattern)
    model.load(files, groups)
    for error in model.load_errors:
        print(f"posekit: skipped {error}", file=sys.stderr)
    _refuse_label_files(model)
    _note_pcutoff(model, args.pcutoff)
    model.set_cleaning(_filter_config(args))
    # --fps overrides every session's own rate (with a warning where they differ)
    model.set_calibration(args.fps, _mm_per_px(args))
    model.check_rates()
    if args.keypoint:
        known = {k for s in model.sessions for k in s.keypoints}
        if args.keypoint not in known:
            raise ValueError(
                f"no keypoint {args.keypoint!r} in the tracking files; they have "
                f"{sorted(known)}"
            )
    model.set_keypoint(args.keypoint)
    return model


def _track_for(model: BehaviorModel, name: str) -> str:
    keys = model.track_keys()
    if name in keys:
        return name
    matches = [k for k in keys if k.startswith(name)]
    if len(matches) != 1:
        found = "no track" if not matches else f"{len(matches)} tracks ({matches})"
        raise ValueError(
            f"--labels {name}=...: {found} start with {name!r}; tracks: {keys}"
        )
    return matches[0]


def _load_labels(model: BehaviorModel, args: argparse.Namespace) -> list[str]:
    """Mark tracks with the labels files of ``--labels`` and ``--find-labels``.

    A file with an ``individual`` column (BORIS: ``Subject``) gives each track the
    rows of its animal; ``--find-labels`` uses it for every animal it names.
    """
    from ..behavior.annotations import label_individuals, labels_file_for

    marked: dict[str, Path] = {}
    if args.find_labels:
        for session in model.sessions:
            path = labels_file_for(session.path, model.project)
            tracks = session.tracks()
            if path is None:
                continue
            if len(tracks) == 1:
                marked[tracks[0].key] = path
                continue
            named = label_individuals(path)
            if named is None:
                print(
                    f"posekit: {path.name} not used: session {session.name} has "
                    f"{len(tracks)} animals and the file no 'individual' column "
                    "naming each row's animal; add one, or give --labels TRACK=CSV "
                    "for each animal",
                    file=sys.stderr,
                )
                continue
            for track in tracks:
                if track.individual in named:
                    marked[track.key] = path
                else:
                    print(
                        f"posekit: {path.name} has no rows of {track.individual} "
                        f"(it names {', '.join(named) or 'no animal'}): track "
                        f"{track.key} not labelled; give --labels {track.key}=CSV",
                        file=sys.stderr,
                    )
    for item in args.labels:
        name, sep, file = item.partition("=")
        if not (sep and name and file):
            raise ValueError(
                f"--labels takes TRACK=CSV; received {item!r} (tracks: "
                f"{model.track_keys()})"
            )
        marked[_track_for(model, name)] = Path(file)
    for key, path in marked.items():
        model.load_labels(key, path)
        print(f"labels of {key}: {path}")
    return list(marked)


def _train(model: BehaviorModel, args: argparse.Namespace) -> BehaviorCVResult:
    marked = _load_labels(model, args)
    if not marked:
        raise ValueError(
            "no labels: give --labels TRACK=CSV (tracks: "
            f"{model.track_keys()}) or --find-labels"
        )
    cv = model.train(
        model=args.model,
        n_estimators=args.n_estimators,
        min_bout=args.min_bout,
        random_state=args.seed,
    )
    model.predict()
    print(
        f"classifier trained on {len(marked)} track(s); cross-validated macro F1 "
        f"{cv.macro_f1:.3f}, accuracy {cv.accuracy:.3f}"
    )
    return cv


# ---------------------------------------------------------------- outputs


def _table_path(path: str) -> Path:
    """Return ``path``, or raise ValueError unless it names a table file."""
    out = Path(path)
    if out.suffix.lower() not in _TABLE_SUFFIXES:
        raise ValueError(
            f"cannot write a table to {out.name!r}: name a .csv, .xlsx, .h5 or .nc file"
        )
    return out


def _write(
    path: str, table: pd.DataFrame, sheet: str, float_format: str | None = None
) -> Path:
    """Write ``table`` (CSV, HDF5, netCDF, or the sheet ``sheet`` of a workbook).

    ``float_format``: the CSV's float cells (:func:`~posekit.engine.behavior.export.save_table`).
    """
    from ..behavior.export import save_table, save_tables

    out = _table_path(path)
    if out.suffix.lower() == ".xlsx":
        save_tables({sheet: table}, out)
    else:
        save_table(table, out, float_format=float_format)
    print(out)
    return out


def _predictions_table(model: BehaviorModel) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    parts = []
    for track in model.tracks():
        labels = model.predictions[track.key]
        frames = model.session(track.session).frames
        part = pd.DataFrame(
            {
                "track": track.key,
                "session": track.session,
                "individual": track.individual,
                "frame": frames
                if frames.size == len(labels)
                else np.arange(len(labels)),
            }
        )
        fps = model.session_fps(track.session)
        if fps:
            part["time"] = part["frame"] / fps
        part["behavior"] = labels
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- subcommands


def _warn_few_frames(model: BehaviorModel) -> None:
    """Print which animals' measures come from few frames, and what to do."""
    text = model.coverage_warning()
    if text:
        print(
            "posekit: warning: these numbers come from few frames:\n  "
            + text.replace("\n", "\n  "),
            file=sys.stderr,
        )


def _done(model: BehaviorModel) -> int:
    """Return the exit code: an error when some files could not be loaded."""
    if not model.load_failures:
        return EXIT_OK
    print(
        f"posekit: {len(model.load_failures)} file(s) could not be loaded and are "
        "not in the results (see the messages above; export records them in "
        "sessions.csv and settings.json)",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _features(args: argparse.Namespace) -> int:
    import numpy as np

    out = _table_path(args.out)
    model = _model(args)
    if model.tracks():
        # computed and written chunk by chunk of frames: bounded memory (an hour of
        # 30 keypoints is a 1.6 GB table); float32, 7 digits, rows formatted in
        # chunks: 5x faster (QA s15); .xlsx: the sheet "features", rows streamed
        model.write_features_table(
            out,
            dtype=np.float32,
            float_format=FEATURES_FLOAT_FORMAT,
            sheet_name="features",
        )
        print(out)
    else:
        table = model.features_table(dtype=np.float32)
        _write(args.out, table, "features", float_format=FEATURES_FLOAT_FORMAT)
    return _done(model)


def _rois(args: argparse.Namespace) -> int:
    model = _model(args)
    rois = model.load_rois(args.rois)
    if not rois:
        raise ValueError(f"{args.rois} holds no ROI; draw some in the ROI editor")
    lines_only = all(r.roi_type == "line" for r in rois)
    if lines_only and not args.crossings:
        raise ValueError(
            f"{args.rois} holds only lines, which have no inside: write their "
            "crossings with --crossings FILE"
        )
    _warn_few_frames(model)
    if not lines_only:
        _write(args.out, model.roi_table(), "roi_summary")
        if args.bouts:
            _write(args.bouts, model.roi_bouts_table(), "roi_bouts")
    if args.crossings:
        _write(args.crossings, model.line_crossings_table(), "line_crossings")
    return _done(model)


def _classify(args: argparse.Namespace) -> int:
    model = _model(args)
    cv = _train(model, args)
    _write(args.out, _predictions_table(model), "predictions")
    if args.bouts:
        _write(args.bouts, model.behavior_bouts_table(), "behavior_bouts")
    if args.scores:
        _write(args.scores, cv.scores.reset_index(), "classifier_scores")
    return _done(model)


def _export(args: argparse.Namespace) -> int:
    formats = [f.strip().lower() for f in args.figures.split(",") if f.strip()]
    model = _model(args)
    if args.rois:
        model.load_rois(args.rois)
    if args.labels or args.find_labels:
        _train(model, args)
    _warn_few_frames(model)
    for path in model.export(
        args.out,
        csv=not args.no_csv,
        excel=not args.no_excel,
        figure_formats=formats,
    ):
        print(path)
    return _done(model)
