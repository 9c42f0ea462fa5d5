"""Machine labels of two networks in one file (QA s19 refineloop, finding 5).

Rows DeepLabCut wrote keep DeepLabCut's scorer when posekit adds rows, as
DeepLabCut's own ``pd.concat`` keeps them (one column group per scorer); the
readers take each row from the group that has it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from posekit.engine.refinement import (
    MACHINE_LABELS_CSV,
    machine_labels_path,
    read_machine_labels,
    write_machine_labels,
)
from posekit.widgets.labeler_model import LabelerModel

DLC = "DLC_resnet50_demoJan1shuffle1_1030000"
OURS = "DLC_mobnet_35_demoJan1shuffle1_30"


def _dlc_machine_labels(project, images: list[str], xyp: np.ndarray):
    """Write machinelabels-iter<N>.h5 as DeepLabCut 2.3 does, with pandas."""
    columns = pd.MultiIndex.from_product(
        [[DLC], project.bodyparts, ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    rows = pd.MultiIndex.from_tuples([("labeled-data", "session1", i) for i in images])
    df = pd.DataFrame(xyp.reshape(len(images), -1), index=rows, columns=columns)
    path = machine_labels_path(project, "session1")
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_hdf(path, key="df_with_missing", mode="w")
    return path


def test_rows_deeplabcut_wrote_keep_its_scorer(demo_project):
    k = len(demo_project.bodyparts)
    theirs = np.arange(2 * k * 3, dtype=float).reshape(2, k, 3) + 10.0
    theirs[1, 0] = np.nan  # DLC's NaN: no prediction for that point
    path = _dlc_machine_labels(demo_project, ["img016.png", "img020.png"], theirs)
    ours = np.full((2, k, 3), 0.5)
    ours[:, :, :2] = [[[100.0, 50.0]], [[120.0, 60.0]]]
    frames = ["labeled-data/session1/img020.png", "labeled-data/session1/img030.png"]
    write_machine_labels(
        demo_project, "session1", frames, ours, OURS, demo_project.bodyparts
    )

    df = pd.read_hdf(path, "df_with_missing")
    assert list(dict.fromkeys(df.columns.get_level_values("scorer"))) == [DLC, OURS]
    images = [i[-1] for i in df.index]
    assert images == ["img016.png", "img020.png", "img030.png"]
    # DeepLabCut's row: its values under its scorer, nothing under ours
    np.testing.assert_array_equal(df[DLC].iloc[0].to_numpy(), theirs[0].ravel())
    assert df[OURS].iloc[0].isna().all()
    # ours (img020 replaced, img030 added): under our scorer only
    np.testing.assert_array_equal(df[OURS].iloc[1:].to_numpy(), ours.reshape(2, -1))
    assert df[DLC].iloc[1:].isna().all().all()
    csv = pd.read_csv(
        path.with_name(MACHINE_LABELS_CSV), header=[0, 1, 2], index_col=[0, 1, 2]
    )
    np.testing.assert_allclose(csv.to_numpy(float), df.to_numpy(float))

    # the reader and the labeller take each row from its scorer's columns
    machine = read_machine_labels(demo_project, "session1")
    np.testing.assert_array_equal(
        machine["labeled-data/session1/img016.png"], theirs[0]
    )
    np.testing.assert_array_equal(machine["labeled-data/session1/img030.png"], ours[1])
    model = LabelerModel(demo_project, "session1")
    guesses = model.machine_points("labeled-data/session1/img016.png")
    bp = demo_project.bodyparts[0]
    assert tuple(guesses[bp][:2]) == tuple(theirs[0, 0, :2])
    guesses = model.machine_points("labeled-data/session1/img020.png")
    assert tuple(guesses[bp][:2]) == (100.0, 50.0)


def test_a_scorer_whose_rows_are_all_replaced_loses_its_columns(demo_project):
    k = len(demo_project.bodyparts)
    path = _dlc_machine_labels(demo_project, ["img016.png"], np.ones((1, k, 3)))
    ours = np.full((1, k, 3), 2.0)
    frames = ["labeled-data/session1/img016.png"]
    write_machine_labels(
        demo_project, "session1", frames, ours, OURS, demo_project.bodyparts
    )
    df = pd.read_hdf(path, "df_with_missing")
    assert set(df.columns.get_level_values("scorer")) == {OURS}
    np.testing.assert_array_equal(df.to_numpy(), ours.reshape(1, -1))
