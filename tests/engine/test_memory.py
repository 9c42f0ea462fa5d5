"""posekit.engine._memory: the memory this process may use (machine, cgroups, Binder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.engine import _memory
from posekit.engine._memory import (
    SMALL_MEMORY_BYTES,
    is_small_machine,
    memory_limit_bytes,
)

GIB = 2**30


@pytest.fixture
def machine(monkeypatch):
    """Give the machine 16 GiB, and no $MEM_LIMIT."""
    monkeypatch.delenv("MEM_LIMIT", raising=False)
    monkeypatch.setattr(_memory, "_physical_bytes", lambda: 16 * GIB)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_cgroup_v2_limit_of_the_process_or_its_parent(machine, tmp_path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(proc, "0::/user.slice/binder/kernel\n")
    _write(root / "user.slice" / "binder" / "kernel" / "memory.max", "max\n")
    _write(root / "user.slice" / "binder" / "memory.max", f"{2 * GIB}\n")
    limit = memory_limit_bytes(cgroup_root=root, proc_cgroup=proc)
    assert limit == 2 * GIB
    assert is_small_machine(limit)


def test_a_container_s_own_cgroup_is_the_mounted_root(machine, tmp_path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(proc, "0::/\n")
    _write(root / "memory.max", f"{2 * GIB}\n")
    assert memory_limit_bytes(cgroup_root=root, proc_cgroup=proc) == 2 * GIB


def test_a_cgroup_v1_limit(machine, tmp_path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(proc, "5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n")
    _write(root / "memory" / "docker" / "abc" / "memory.limit_in_bytes", f"{GIB}\n")
    assert memory_limit_bytes(cgroup_root=root, proc_cgroup=proc) == GIB


def test_no_limit_is_the_machine_s_memory(machine, tmp_path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(proc, "4:memory:/\n0::/\n")
    _write(root / "memory.max", "max\n")
    # cgroup v1 writes "no limit" as a huge number
    _write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    limit = memory_limit_bytes(cgroup_root=root, proc_cgroup=proc)
    assert limit == 16 * GIB
    assert not is_small_machine(limit)
    # nothing readable at all: the machine's
    missing = tmp_path / "nowhere"
    assert memory_limit_bytes(cgroup_root=missing, proc_cgroup=missing) == 16 * GIB


def test_binder_s_mem_limit(machine, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MEM_LIMIT", str(2 * GIB))
    missing = tmp_path / "nowhere"
    assert memory_limit_bytes(cgroup_root=missing, proc_cgroup=missing) == 2 * GIB
    assert is_small_machine()  # (the default reads the same)


def test_the_threshold() -> None:
    assert is_small_machine(SMALL_MEMORY_BYTES - 1)
    assert not is_small_machine(SMALL_MEMORY_BYTES)
    assert not is_small_machine(0)  # unknown is not small
