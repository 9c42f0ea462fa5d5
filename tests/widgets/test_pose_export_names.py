"""The Export menu names each format's file apart and never replaces a file (QA s23 #1).

An analysis writes ``<video><scorer>.h5`` and, with ``--csv``, its ``.csv`` twin; a
Lightning Pose export named ``<stem>.csv`` replaced that twin (its scorer lost), and
the SLEAP-analysis and DeepLabCut exports both wrote ``<stem>_export.h5``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from posekit.engine.io import detect_format, export_formats, load, save
from posekit.engine.poses import from_numpy
from posekit.widgets.pose_export import PoseExport, PoseExportModel

SCORER = "DLC_mobnet_35_openfieldOct30shuffle1_397"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def analysis(tmp_path, rng):
    """Write an analysis' outputs: the ``.h5`` and its ``.csv`` twin (``--csv``)."""
    pos = rng.uniform(0, 100, (12, 2, 3, 1))
    pos[3, :, 1, 0] = np.nan
    ds = from_numpy(
        pos, rng.uniform(0, 1, (12, 3, 1)), keypoint_names=["snout", "ear", "tail"]
    )
    h5 = save(ds, tmp_path / f"m3v1mp4{SCORER}.h5", scorer=SCORER, save_csv=True)
    return h5, h5.with_suffix(".csv")


def test_every_format_gets_its_own_name_and_the_csv_twin_is_untouched(analysis):
    h5, csv = analysis
    before = {p: _digest(p) for p in (h5, csv)}
    model = PoseExportModel(lambda: {h5.stem: h5})
    written = {}
    for fmt in export_formats():
        model.fmt = fmt
        [out] = model.export()
        written[fmt] = out
        assert out.parent == h5.parent and out.name.startswith(h5.stem)
    # no two formats share a file, and none is an analysis output
    assert len(set(written.values())) == len(written)
    assert {h5, csv}.isdisjoint(written.values())
    assert written["DeepLabCut"].name == f"{h5.stem}_export.h5"
    assert written["LightningPose"].name == f"{h5.stem}_lp.csv"
    if "SLEAP-analysis" in written:
        assert written["SLEAP-analysis"].name == f"{h5.stem}.analysis.h5"
    # the DeepLabCut twin is byte for byte what the analysis wrote, scorer kept
    assert {p: _digest(p) for p in (h5, csv)} == before
    assert csv.read_text().splitlines()[0].split(",")[1] == SCORER
    # and every export still reads as its format, with the same points
    assert detect_format(written["LightningPose"]) == "LightningPose"
    np.testing.assert_array_equal(
        load(written["LightningPose"]).position.values, load(h5).position.values
    )


def test_an_existing_file_is_never_replaced(analysis):
    h5, _ = analysis
    model = PoseExportModel(lambda: {h5.stem: h5})
    model.fmt = "netCDF"
    [nc] = model.export()
    stamp = _digest(nc)
    view = PoseExport(model)
    view.button.click()  # the same export again: refused, named, nothing written
    assert "exists already" in view.status.value and nc.name in view.status.value
    assert _digest(nc) == stamp and model.files == []
    with pytest.raises(FileExistsError, match="never replaces"):
        model.export()
    assert "never replaced" in view.note.value  # the menu says so beforehand
