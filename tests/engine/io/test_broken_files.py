"""A cut-short ``.h5`` and a CSV header with missing entries are named as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.engine.io import detect_format
from posekit.engine.io.dlc import LabelError, read_dlc_csv, read_labels


def test_truncated_h5_is_called_truncated_not_unknown(demo_project, tmp_path):
    whole = demo_project.labels_path("session1").read_bytes()
    cut = tmp_path / "trunc.h5"
    cut.write_bytes(whole[:5000])
    with pytest.raises(ValueError, match="looks like an HDF5 file but cannot be read"):
        detect_format(cut)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        detect_format(cut)


def test_not_hdf5_keeps_the_unknown_format_advice(tmp_path):
    odd = tmp_path / "odd.h5"
    odd.write_bytes(b"neither HDF5 nor a table")
    with pytest.raises(ValueError, match="Could not recognise the format"):
        detect_format(odd)


@pytest.mark.parametrize("name", ["single", "multi_v2"])
def test_csv_header_row_with_missing_entries(dlc_csv_variants, tmp_path, name):
    lines = Path(dlc_csv_variants[name]).read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("bodyparts"))
    cells = lines[row].split(",")
    lines[row] = ",".join(cells[: len(cells) - 3])  # the row cut short
    broken = tmp_path / "CollectedData_x.csv"
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelError, match="'bodyparts' has missing entries"):
        read_dlc_csv(broken)


def test_complete_csv_headers_still_read(dlc_csv_variants):
    for path in dlc_csv_variants.values():
        assert len(read_labels(path)) > 0
