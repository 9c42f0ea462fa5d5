"""DeepLabCut 3.0.2 itself on a posekit project and its outputs (not run in CI).

A new user moving between the tools runs DeepLabCut's own functions on what posekit
wrote. This script does that:

1. installs DeepLabCut 3.0.2 in its own virtual environment (``--venv``, default under
   the system's temporary folder; reused when it already imports ``deeplabcut``);
2. builds the posekit demo project, trains a tiny model (a few iterations), analyses
   the video (``.h5`` + ``.csv`` + ``_meta.pickle``) and filters the predictions with
   posekit (``_filtered.h5``);
3. runs, in DeepLabCut's environment (pandas 2): ``check_labels``,
   ``create_training_dataset``, ``filterpredictions``, ``create_labeled_video``
   (plain and filtered) and ``analyze_videos_converth5_to_csv``, and reads every HDF5
   file posekit wrote with DeepLabCut's pandas;
4. checks the results from posekit's side (names as posekit predicts them, values equal
   to posekit's, DeepLabCut's files open in posekit).

Each check is a row of ``benchmarks/results/dlc_compat.json`` with ``passed`` and a
``detail``. When DeepLabCut cannot be installed, the report says exactly why (the
installer's last lines) and the DeepLabCut rows are marked not run.

Usage::

    python benchmarks/dlc_compat.py [--venv DIR] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "dlc_compat.json"
DLC_VERSION = "3.0.2"
ITERATIONS = 6

# Runs inside DeepLabCut's environment; prints one JSON object on its last line.
DLC_SCRIPT = r"""
import json, os, pickle, sys, traceback
from pathlib import Path
os.environ.setdefault("DLClight", "True")
args = json.loads(sys.argv[1])
rows = {}

def step(name, fn):
    try:
        rows[name] = {"passed": True, "detail": fn()}
    except BaseException as err:  # report every failure, go on with the next step
        rows[name] = {
            "passed": False,
            "detail": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc()[-3000:],
        }

import pandas as pd
rows["versions"] = {"passed": True, "detail": {"pandas": pd.__version__}}

def read_posekit_h5():
    out = {}
    for f in args["h5_files"]:
        df = pd.read_hdf(f)
        out[Path(f).name] = list(df.shape)
    return out
step("pandas2_reads_posekit_h5", read_posekit_h5)

import deeplabcut
from deeplabcut.utils import auxiliaryfunctions
rows["versions"]["detail"]["deeplabcut"] = deeplabcut.__version__
config, video = args["config"], args["video"]

def meta():
    m = auxiliaryfunctions.load_video_metadata(
        str(Path(video).parent), Path(video).stem, args["scorer"]
    )
    data = m["data"]
    x1, x2, y1, y2 = data["cropping_parameters"]  # as create_labeled_video does
    return {"keys": sorted(data), "frame_dimensions": list(data["frame_dimensions"]),
            "cropping_parameters": [x1, x2, y1, y2]}
step("load_video_metadata", meta)

def scorer():
    cfg = auxiliaryfunctions.read_config(config)
    name, _ = auxiliaryfunctions.get_scorer_name(cfg, 1, cfg["TrainingFraction"][0])
    return name
step("get_scorer_name", scorer)

def check_labels():
    deeplabcut.check_labels(config, visualizeindividuals=False)
    folder = Path(args["labeled_dir"] + "_labeled")
    n = len(list(folder.glob("*.png")))
    assert n == args["n_labeled"], f"{n} images drawn, expected {args['n_labeled']}"
    return f"{n} labelled frames drawn into {folder.name}/"
step("check_labels", check_labels)

def training_dataset():
    from deeplabcut.core.engine import Engine

    # DeepLabCut 3's default engine. (With engine TensorFlow this step downloads
    # ImageNet weights from the internet, which this machine cannot reach.)
    deeplabcut.create_training_dataset(
        config, Shuffles=[args["dlc_shuffle"]], engine=Engine.PYTORCH,
        net_type="resnet_50",
    )
    cfg = auxiliaryfunctions.read_config(config)
    folder = Path(cfg["project_path"]) / auxiliaryfunctions.get_training_set_folder(cfg)
    merged = pd.read_hdf(folder / f"CollectedData_{cfg['scorer']}.h5")
    posekit = pd.read_hdf(args["labels_h5"])
    a = merged.to_numpy(float)
    b = posekit.reindex(columns=merged.columns).to_numpy(float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert ((a == b) | (pd.isna(a) & pd.isna(b))).all(), "merged labels differ"
    return (
        f"shuffle {args['dlc_shuffle']} (engine pytorch, resnet_50): "
        f"{len(merged)} labelled frames, equal to posekit's"
    )
step("create_training_dataset", training_dataset)

def filterpredictions():
    deeplabcut.filterpredictions(config, [video], shuffle=1, save_as_csv=True)
    out = Path(video).parent / (Path(video).stem + args["scorer"] + "_filtered.h5")
    assert out.is_file(), f"no {out.name}"
    df = pd.read_hdf(out)
    return {"file": out.name, "shape": list(df.shape)}
step("filterpredictions", filterpredictions)

def labeled_video(filtered):
    def run():
        deeplabcut.create_labeled_video(
            config, [video], shuffle=1, filtered=filtered, save_frames=False
        )
        key = "labeled_video_filtered" if filtered else "labeled_video"
        out = Path(args[key])
        assert out.is_file(), f"no {out.name}; found " + str(
            sorted(p.name for p in out.parent.glob("*labeled*"))
        )
        return out.name
    return run
step("create_labeled_video", labeled_video(False))
step("create_labeled_video_filtered", labeled_video(True))

def converth5():
    folder = Path(args["csv_folder"])
    deeplabcut.analyze_videos_converth5_to_csv(str(folder), videotype=Path(video).suffix)
    csv = folder / (Path(video).stem + args["scorer"] + ".csv")
    assert csv.is_file(), f"no {csv.name}"
    df = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    return {"file": csv.name, "shape": list(df.shape)}
step("analyze_videos_converth5_to_csv", converth5)

print(json.dumps(rows, default=str))
"""


def _run(cmd: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw
    )


def _python_for_venv() -> str:
    """Return a Python 3.10–3.12 interpreter (DeepLabCut 3.0 supports those)."""
    if (3, 10) <= sys.version_info[:2] <= (3, 12):
        return getattr(sys, "_base_executable", sys.executable)
    for name in ("python3.11", "python3.12", "python3.10"):
        exe = shutil.which(name)
        if exe and _run([exe, "-c", "pass"], 60).returncode == 0:
            return exe
    raise RuntimeError("no Python 3.10-3.12 interpreter found for DeepLabCut 3.0")


def ensure_dlc_venv(venv: Path) -> dict[str, Any]:
    """Create ``venv`` with DeepLabCut installed; return what happened."""
    python = venv / "bin" / "python"
    if (
        python.exists()
        and _run([str(python), "-c", "import deeplabcut"], 600).returncode == 0
    ):
        du = _run(["du", "-sm", str(venv)], 300).stdout.split()
        return {
            "installed": True,
            "reused": True,
            "venv_mb": int(du[0]) if du else None,
        }
    t0 = time.perf_counter()
    steps = [
        [_python_for_venv(), "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "-U", "pip"],
        # the CPU machine's local torch wheels when present; else PyPI's
        [str(python), "-m", "pip", "install", "-q", "torch<=2.14.1", "torchvision"],
        [str(python), "-m", "pip", "install", "-q", f"deeplabcut=={DLC_VERSION}"],
    ]
    for cmd in steps:
        proc = _run(cmd, 3600)
        if proc.returncode != 0:
            return {
                "installed": False,
                "failed_command": " ".join(cmd),
                "returncode": proc.returncode,
                "output_tail": (proc.stdout + proc.stderr)[-4000:],
            }
    check = _run(
        [str(python), "-c", "import deeplabcut; print(deeplabcut.__version__)"], 600
    )
    if check.returncode != 0:
        return {
            "installed": False,
            "failed_command": "import deeplabcut",
            "output_tail": (check.stdout + check.stderr)[-4000:],
        }
    du = _run(["du", "-sm", str(venv)], 300).stdout.split()
    return {
        "installed": True,
        "reused": False,
        "seconds": round(time.perf_counter() - t0, 1),
        "venv_mb": int(du[0]) if du else None,
    }


def build_posekit_side(workdir: Path) -> dict[str, Any]:
    """Demo project, tiny model, analysed and filtered video; what DLC should find."""
    from posekit.engine.api import analyze_videos, evaluate_network, train_network
    from posekit.engine.demo import make_demo_project
    from posekit.engine.labeled_video import labeled_video_path
    from posekit.engine.model_folder import ModelFolder
    from posekit.engine.postprocessing import filter_predictions

    project = make_demo_project(workdir, n_frames=60, n_labeled=12)
    train_network(
        project,
        backbone="mobilenet_v2_0.35",
        max_iterations=ITERATIONS,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    evaluate_network(project, plot=False)
    [pred] = analyze_videos(project, save_as_csv=False, progress=False)
    filtered = filter_predictions(pred)
    video = project.source_videos()[0]
    folder = ModelFolder.of(project, 1)
    scorer = folder.scorer()
    labels = sorted(project.path.glob("labeled-data/*/CollectedData_*.h5"))
    evaluation = sorted(project.path.glob("evaluation-results/**/*.h5"))
    pcutoff = project.pcutoff
    return {
        "project": project,
        "config": str(project.config_path),
        "video": str(video),
        "scorer": scorer,
        "predictions": pred,
        "posekit_filtered": filtered,
        "labels_h5": str(labels[0]),
        "labeled_dir": str(labels[0].parent),
        "n_labeled": 12,
        "h5_files": [str(p) for p in [pred, filtered, *labels, *evaluation]],
        "labeled_video": str(labeled_video_path(pred, "mp4v", pcutoff=pcutoff)),
        "labeled_video_filtered": str(
            labeled_video_path(
                pred.with_name(pred.stem + "_filtered.h5"), "mp4v", pcutoff=pcutoff
            )
        ),
        "csv_folder": str(Path(video).parent),
        "dlc_shuffle": 99,
        "markers": sorted(p.name for p in folder.path.glob("*.index")),
    }


def posekit_checks(side: dict[str, Any], dlc_rows: dict[str, Any]) -> dict[str, Any]:
    """Check DeepLabCut's outputs from posekit's side."""
    import pandas as pd

    from posekit.engine.io import load

    rows: dict[str, Any] = {}
    pred = Path(side["predictions"])
    ours = load(pred)

    def row(name: str, fn) -> None:
        try:
            rows[name] = {"passed": True, "detail": fn()}
        except Exception as err:  # report, go on
            rows[name] = {"passed": False, "detail": f"{type(err).__name__}: {err}"}

    def scorer_matches() -> str:
        found = dlc_rows.get("get_scorer_name", {}).get("detail")
        assert found == side["scorer"], f"DLC: {found!r}, posekit: {side['scorer']!r}"
        return f"{found} ({', '.join(side['markers'])} beside the snapshots)"

    def dlc_filtered_opens_in_posekit() -> str:
        path = pred.with_name(pred.stem + "_filtered.h5")
        ds = load(path)
        assert ds.sizes == ours.sizes, (dict(ds.sizes), dict(ours.sizes))
        # DLC's median filter and posekit's (default: median, window 5) agree
        # where both kept the point
        a = ds.position.values
        b = load(side["posekit_filtered"]).position.values
        both = np.isfinite(a) & np.isfinite(b)
        diff = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
        return (
            f"{path.name}: {dict(ds.sizes)}; max |DLC - posekit| median = {diff:.3g} px"
        )

    def csv_equals_h5() -> str:
        csv = pred.with_suffix(".csv")
        ds = load(csv)
        np.testing.assert_allclose(ds.position.values, ours.position.values, rtol=1e-6)
        np.testing.assert_allclose(
            ds.confidence.values, ours.confidence.values, rtol=1e-6
        )
        return f"{csv.name}: values equal to the .h5"

    def meta_as_dlc3() -> str:
        m = dlc_rows.get("load_video_metadata", {}).get("detail") or {}
        dlc3 = {
            "start", "stop", "run_duration", "Scorer", "fps", "batch_size",
            "frame_dimensions", "nframes", "iteration (active-learning)",
            "training set fraction", "cropping", "cropping_parameters",
            "individuals", "bodyparts", "unique_bodyparts",
        }  # fmt: skip
        missing = dlc3 - set(m.get("keys", []))
        assert not missing, f"missing keys {sorted(missing)}"
        from posekit.engine.video import VideoReader

        with VideoReader(side["video"]) as r:
            wh = [r.width, r.height]
        assert m["frame_dimensions"] == wh, (m["frame_dimensions"], wh)
        return f"all DeepLabCut 3 keys; frame_dimensions {wh} (width, height)"

    def labeled_video_frames() -> str:
        from posekit.engine.video import VideoReader

        out = []
        for key in ("labeled_video", "labeled_video_filtered"):
            with VideoReader(side[key]) as r:
                out.append(f"{Path(side[key]).name}: {r.n_frames} frames")
        return "; ".join(out)

    row("scorer_name_matches", scorer_matches)
    row("dlc_filtered_opens_in_posekit", dlc_filtered_opens_in_posekit)
    row("dlc_csv_equals_posekit_h5", csv_equals_h5)
    row("meta_pickle_has_dlc3_keys", meta_as_dlc3)
    row("labeled_video_names_match_posekit", labeled_video_frames)
    del pd
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write ``benchmarks/results/dlc_compat.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--venv", type=Path, default=Path(tempfile.gettempdir()) / "posekit-dlc302-venv"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "benchmark": "dlc_compat",
        "deeplabcut": DLC_VERSION,
        "notes": (
            "create_training_dataset runs with DeepLabCut 3's default engine "
            "(pytorch): with engine tensorflow DeepLabCut downloads ImageNet weights "
            "at that step, and this machine reaches only package registries. "
            "filterpredictions and create_labeled_video find the posekit model's "
            "scorer through the snapshot-<N>.index markers beside its snapshots."
        ),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    t0 = time.perf_counter()
    install = ensure_dlc_venv(args.venv)
    report["install"] = install
    print("install:", {k: v for k, v in install.items() if k != "output_tail"})

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="posekit-dlc-compat-"))
    side = build_posekit_side(workdir)
    print("posekit side built:", side["scorer"], side["markers"])
    rows: dict[str, Any] = {}
    if install.get("installed"):
        payload = {k: v for k, v in side.items() if k != "project"}
        payload["predictions"] = str(payload["predictions"])
        payload["posekit_filtered"] = str(payload["posekit_filtered"])
        env = {**os.environ, "DLClight": "True", "MPLBACKEND": "Agg"}
        proc = _run(
            [str(args.venv / "bin" / "python"), "-c", DLC_SCRIPT, json.dumps(payload)],
            3600,
            env=env,
            cwd=str(workdir),
        )
        try:
            rows = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            rows = {
                "deeplabcut_script": {
                    "passed": False,
                    "detail": f"exit {proc.returncode}",
                    "output_tail": (proc.stdout + proc.stderr)[-4000:],
                }
            }
        rows.update(posekit_checks(side, rows))
    else:
        rows["deeplabcut_install"] = {
            "passed": False,
            "detail": "DeepLabCut could not be installed; see install.output_tail",
        }
    report["rows"] = rows
    report["all_passed"] = all(r.get("passed") for r in rows.values())
    report["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for name, r in rows.items():
        mark = "ok  " if r.get("passed") else "FAIL"
        print(f"{mark} {name}: {r.get('detail')}")
    print(f"all passed: {report['all_passed']}  ->  {args.out}")
    return 0 if report["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
