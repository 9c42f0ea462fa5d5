"""The ``.h5`` and ``.csv`` label twins change together or not at all."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pandas as pd
import pytest

from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.labels import LabelStore


def _disk_full_in_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pd.DataFrame.to_csv

    def full(self, path, *args, **kwargs):
        real(self.iloc[:2], path, *args, **kwargs)  # part of the file, then no space
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)


def test_failed_csv_write_keeps_both_old_files(demo_project, monkeypatch):
    path = demo_project.labels_path("session1")
    old = {p: p.read_bytes() for p in (path, path.with_suffix(".csv"))}
    _disk_full_in_csv(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        write_labels(read_labels(path) * 2, path)
    assert {p: p.read_bytes() for p in old} == old  # the .h5 too, not only the csv
    hidden = [p.name for p in Path(path.parent).iterdir() if p.name.startswith(".")]
    assert not [n for n in hidden if n.startswith(f".{path.stem}")]


def test_store_does_not_take_its_failed_save_for_another_writer(
    demo_project, monkeypatch, caplog
):
    store = LabelStore(demo_project, "session1")
    f0 = store.frames[0]
    with monkeypatch.context() as m:
        _disk_full_in_csv(m)
        store.set_point(f0, "snout", 5.0, 6.0)  # autosave fails
    assert store.dirty and "No space" in store.last_report.error
    with caplog.at_level(logging.WARNING, logger="posekit"):
        report = store.save()
    assert report.saved and not report.external
    assert "changed on disk behind" not in caplog.text
    h5 = read_labels(store.path)
    csv = read_labels(store.path.with_suffix(".csv"))
    pd.testing.assert_frame_equal(h5, csv, check_exact=False)
    assert h5.loc[tuple(f0.split("/")), ("posekit", "snout", "x")] == 5.0
