"""Every HDF5 file posekit writes opens in pandas 2 (DeepLabCut 3.0's pandas) too.

pandas 3 stopped writing the ``pandas_version`` attribute; pandas 2 then reads a table
as a pre-0.10.1 file and fails (``'NoneType' object has no attribute 'startswith'``).
These tests write predictions, filtered predictions, tracklets, labels and evaluation
results with posekit and read them back in a second environment with ``pandas<3``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tables

from posekit.engine.io.dlc import (
    PANDAS_HDF_VERSION,
    make_labels_frame,
    paths_to_index,
    predictions_frame,
    write_hdf,
    write_labels,
    write_predictions,
)
from posekit.engine.postprocessing import filter_predictions

from .conftest import run_script

READ_IN_PANDAS2 = r"""
import json, sys
import numpy as np, pandas as pd
out = {"pandas": pd.__version__, "files": {}}
for path in json.loads(sys.argv[1]):
    df = pd.read_hdf(path)
    out["files"][path] = {
        "columns": [list(map(str, c)) for c in df.columns],
        "index": [list(map(str, i)) if isinstance(i, tuple) else str(i) for i in df.index],
        "values": np.where(np.isnan(df.to_numpy(float)), None, df.to_numpy(float)).tolist(),
    }
print(json.dumps(out))
"""


@pytest.fixture
def posekit_h5_files(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """One file of each kind posekit writes (with NaN), by name."""
    xyp = rng.uniform(0, 100, (12, 3, 3))
    xyp[4, 1] = np.nan
    bps = ["snout", "ear", "tail"]
    scorer = "DLC_mobnet_35_demoJan1shuffle1_700"
    pred = write_predictions(
        predictions_frame(xyp, scorer, bps), tmp_path / f"v1{scorer}.h5"
    )
    filtered = filter_predictions(pred)
    tracks = write_predictions(
        predictions_frame(
            rng.uniform(0, 1, (5, 2, 3, 3)), scorer, bps, individuals=["m1", "m2"]
        ),
        tmp_path / f"v1{scorer}_el.h5",
        key="tracks",
    )
    coords = rng.uniform(0, 50, (4, 3, 2))
    coords[1, 2] = np.nan
    paths = [f"labeled-data/v1/img{i:03d}.png" for i in range(4)]
    labels = write_labels(
        make_labels_frame("Pranav", bps, paths, coords),
        tmp_path / "CollectedData_Pranav.h5",
    )
    evaluation = predictions_frame(xyp[:4], scorer, bps)
    evaluation.index = paths_to_index(paths)
    evaluation_h5 = write_hdf(
        evaluation, tmp_path / f"{scorer}-snapshot-700.h5", format="fixed"
    )
    return {
        "predictions": pred,
        "filtered": filtered,
        "tracks": tracks,
        "labels": labels,
        "evaluation": evaluation_h5,
    }


def test_every_pandas_object_carries_pandas_version(posekit_h5_files) -> None:
    for path in posekit_h5_files.values():
        with tables.open_file(path) as h5:
            pandas_groups = [
                g for g in h5.walk_groups() if "pandas_type" in g._v_attrs._v_attrnames
            ]
            assert pandas_groups, path
            for group in pandas_groups:
                assert group._v_attrs.pandas_version == PANDAS_HDF_VERSION


@pytest.mark.slow
def test_pandas2_reads_every_h5_posekit_writes(posekit_h5_files, pandas2_python):
    files = {k: str(v) for k, v in posekit_h5_files.items()}
    result = run_script(
        pandas2_python, READ_IN_PANDAS2, json.dumps(list(files.values()))
    )
    assert result["pandas"].startswith("2.")
    for name, path in files.items():
        ours = pd.read_hdf(path)
        theirs = result["files"][path]
        assert theirs["columns"] == [list(map(str, c)) for c in ours.columns], name
        expected_index = [
            list(map(str, i)) if isinstance(i, tuple) else str(i) for i in ours.index
        ]
        assert theirs["index"] == expected_index, name
        values = np.array(theirs["values"], dtype=float)
        np.testing.assert_array_equal(values, ours.to_numpy(float), err_msg=name)
