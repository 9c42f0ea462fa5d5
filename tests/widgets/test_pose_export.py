"""The export menu of the analysis and behaviour apps (model driven without a browser)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.io import detect_format, export_formats, load, save
from posekit.engine.poses import from_numpy
from posekit.widgets.pose_export import PoseExport, PoseExportModel

SCORER = "DLC_mobnet_35_demoJan1shuffle1_700"


@pytest.fixture
def poses(rng):
    pos = rng.uniform(0, 100, (10, 2, 2, 1))
    pos[2, :, 0, 0] = np.nan
    return from_numpy(pos, rng.uniform(0, 1, (10, 2, 1)), keypoint_names=["a", "b"])


def test_formats_offered_are_those_posekit_writes() -> None:
    model = PoseExportModel(dict)
    assert model.formats == list(export_formats())
    assert {"DeepLabCut", "netCDF"} <= set(model.formats)
    view = PoseExport(model)
    assert list(view.format.options) == model.formats
    view.format.value = "netCDF"
    assert model.fmt == "netCDF"


def test_result_files_are_exported_beside_themselves(tmp_path, poses) -> None:
    h5 = save(poses, tmp_path / f"m1{SCORER}.h5")
    model = PoseExportModel(lambda: {h5.stem: h5})
    model.fmt = "netCDF"
    [out] = model.export()
    assert out == tmp_path / f"m1{SCORER}.nc" and detect_format(out) == "netCDF"
    np.testing.assert_array_equal(load(out).position.values, poses.position.values)
    model.fmt = "DeepLabCut"  # the same format: a new name, the source untouched
    [again] = model.export()
    assert again.name == f"m1{SCORER}_export.h5"
    assert model.files == [again] and "1 DeepLabCut" in model.message


def test_datasets_are_exported_into_the_folder(tmp_path, poses) -> None:
    model = PoseExportModel(lambda: {"s1": poses, "s2": poses}, folder=lambda: tmp_path)
    model.fmt = "netCDF"
    assert model.export() == [tmp_path / "s1.nc", tmp_path / "s2.nc"]
    empty = PoseExport(PoseExportModel(dict))
    empty.button.click()
    assert "nothing to export" in empty.status.value


def test_status_is_announced() -> None:
    """QA s15 #8."""
    assert "posekit-live" in PoseExport(PoseExportModel(dict)).status._dom_classes
