"""Temporary files a killed writer left are removed by the next write of the file."""

from __future__ import annotations

import os
from pathlib import Path

from posekit.engine._fileio import atomic_write_text
from posekit.engine.io.dlc import read_labels, write_labels

HOUR = 3600.0  # a temporary file untouched this long is a killed writer's


def _left(folder: Path, name: str, age: float, rand: str = "k2j8d0_x") -> Path:
    """Leave a temporary file named as ``atomic_path`` names it, ``age`` s old."""
    suffix = Path(name).suffix
    tmp = folder / f".{name}.{rand}{suffix}"
    tmp.write_bytes(b"half a file")
    stamp = tmp.stat().st_mtime - age
    os.utime(tmp, (stamp, stamp))
    return tmp


def test_next_write_removes_its_stale_temps_only(tmp_path: Path) -> None:
    stale = _left(tmp_path, "labels.csv", HOUR)
    in_progress = _left(tmp_path, "labels.csv", 5, "a7b_c9de")  # another writer at work
    other = _left(tmp_path, "video_labeled.mp4", HOUR)
    atomic_write_text(tmp_path / "labels.csv", "new")
    assert not stale.exists()
    assert in_progress.exists()
    assert other.exists()  # not this target's: its own next write removes it
    assert (tmp_path / "labels.csv").read_text() == "new"


def test_label_save_removes_temps_of_both_twins(demo_project) -> None:
    path = demo_project.labels_path("session1")
    old = HOUR
    left = [
        _left(path.parent, path.name, old),
        _left(path.parent, f"{path.stem}.csv", old),
    ]
    write_labels(read_labels(path), path)
    assert [p for p in left if p.exists()] == []
