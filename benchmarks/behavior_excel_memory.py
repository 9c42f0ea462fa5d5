"""Peak memory of a feature table written as an Excel workbook, whole or streamed.

A synthetic session (``behavior_memory.synthetic_session``: one animal, a random
walk with NaN gaps, its first ``--bodyparts`` bodyparts; 108,000 frames at 30 fps
by default: an hour) is saved as a poses file; its feature table (windows 5, 15,
45) is written as ``.xlsx``, each in a fresh child process:

- ``whole``: what ``posekit behavior features … --out f.xlsx`` did before: the
  table built whole (``BehaviorModel.features_table(dtype=float32)``), then
  pandas' ``to_excel`` into an openpyxl workbook (a Python object per cell, the
  whole workbook in memory until it is saved);
- ``streamed``: the command now: the table computed chunk by chunk of frames and
  each chunk's rows appended to the sheet in openpyxl's write-only mode
  (``BehaviorModel.write_features_table``; the sheet is spooled to a temporary
  file and zipped at the end).

Beside them ``load_only``: a child that only imports, loads and cleans the session
(what every way of writing needs). Memory is the child's peak resident set size
(``ru_maxrss`` from ``os.wait4``). The two workbooks are checked to hold the same
cells. Linux only.

An hour of 30 bodyparts (400 M cells) is not measured whole: the workbook would
take about 100 GB, and streamed it takes about an hour to write (openpyxl writes
about 0.1 M cells a second on one core); the default of 3 bodyparts (102
columns, 11 M cells) shows the difference in a few minutes.

Usage::

    python benchmarks/behavior_excel_memory.py [--frames 108000] [--bodyparts 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import behavior_memory as bm  # noqa: E402

_LOAD = """
import sys
import numpy as np
from posekit.engine.behavior.session import BehaviorModel
model = BehaviorModel(windows=(5, 15, 45))
model.load([sys.argv[1]])
model.set_calibration(30.0)
model.calibrated(model.sessions[0].name)
"""

SCRIPTS = {
    "load_only": _LOAD,
    # the code before: save_tables -> pandas' ExcelWriter (openpyxl, not write-only)
    "whole": _LOAD
    + """
import pandas as pd
table = model.features_table(dtype=np.float32)
with pd.ExcelWriter(sys.argv[2], engine="openpyxl") as writer:
    table.to_excel(writer, sheet_name="features", index=False)
""",
    "streamed": _LOAD
    + """
model.write_features_table(sys.argv[2], dtype=np.float32, sheet_name="features")
""",
}

_SAME = """
import sys
from openpyxl import load_workbook

def rows(path):
    book = load_workbook(path, read_only=True)
    for row in book["features"].iter_rows(values_only=True):
        row = list(row)
        while row and row[-1] is None:
            row.pop()
        yield row
    book.close()

n = 0
for a, b in zip(rows(sys.argv[1]), rows(sys.argv[2]), strict=True):
    assert a == b, (n, a[:6], b[:6])
    n += 1
print(n)
"""


def main() -> None:
    """Measure each way of writing the workbook; print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=108_000)
    parser.add_argument("--bodyparts", type=int, default=3)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks/results/behavior_excel_memory.json")
    )
    args = parser.parse_args()

    from posekit.engine.io import save

    python = sys.executable
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="behavior-excel-") as tmp:
        poses = bm.synthetic_session(args.frames).isel(
            keypoint=slice(0, args.bodyparts)
        )
        path = save(poses, Path(tmp) / "session.nc")
        outputs = {}
        for name in ("load_only", "streamed", "whole"):
            argv = [python, "-c", SCRIPTS[name], str(path)]
            if name != "load_only":
                outputs[name] = Path(tmp) / f"{name}.xlsx"
                argv.append(str(outputs[name]))
            results[name] = bm.run_child(argv)
            if name in outputs:
                results[name]["file_mb"] = round(
                    outputs[name].stat().st_size / 2**20, 1
                )
            print(name, results[name], flush=True)
        import subprocess

        same = subprocess.run(
            [python, "-c", _SAME, str(outputs["whole"]), str(outputs["streamed"])],
            check=True,
            capture_output=True,
            text=True,
        )
        n_rows = int(same.stdout.split()[-1])

    k = args.bodyparts
    n_columns = 4 + 7 * (k + 1 + k * (k - 1) // 2 + 1 + 2 * k)
    report = {
        "frames": args.frames,
        "fps": bm.FPS,
        "bodyparts": k,
        "windows": bm.WINDOWS,
        "columns": n_columns,
        "cells": args.frames * n_columns,
        "rows_compared_equal": n_rows,
        "runs": results,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
