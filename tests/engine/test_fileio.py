"""Atomic writes: the old file survives any failure and no temporary file is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.engine._fileio import atomic_path, atomic_write_bytes, atomic_write_text


def _leftovers(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name != name]


def test_atomic_path_replaces_target_and_keeps_suffix(tmp_path: Path) -> None:
    target = tmp_path / "labels.h5"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.suffix == ".h5"  # writers that dispatch on the extension work
        assert tmp != target
        assert not tmp.exists()  # the writer creates it
        tmp.write_text("new")
        assert target.read_text() == "old"  # not replaced before success
    assert target.read_text() == "new"
    assert _leftovers(tmp_path, "labels.h5") == []


def test_atomic_path_custom_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "a.bin", suffix=".tmp") as tmp:
        assert tmp.name.endswith(".tmp")
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.bin").read_bytes() == b"x"


def test_atomic_path_failure_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_bytes(b"old contents\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of the new con")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old contents\n"
    assert _leftovers(tmp_path, "config.yaml") == []


def test_atomic_path_failure_without_old_file(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_creates_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.txt"
    atomic_write_text(target, "hi")
    assert target.read_text() == "hi"


def test_atomic_write_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode()
    atomic_write_text(target, "x", encoding="latin-1")
    assert target.read_bytes() == b"x"
    assert atomic_write_bytes(target, b"\x00\xff") == target
    assert target.read_bytes() == b"\x00\xff"
    assert _leftovers(tmp_path, "f.txt") == []


def test_atomic_write_keeps_default_permissions(tmp_path: Path) -> None:
    """The temp file must not leave the result private (mkstemp makes 0600 files)."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = atomic_write_text(tmp_path / "atomic.txt", "x")
    assert (target.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777)
