"""How many CPU threads posekit uses (QA s15, finding 9): one function decides."""

from __future__ import annotations

import os

import pytest

from posekit.engine import _tf
from posekit.engine._tf import cpu_threads, set_threads

AFFINITY = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
)


@pytest.fixture(autouse=True)
def _no_limits(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setitem(_tf._THREADS, "limit", None)


def test_the_cpu_affinity_by_default() -> None:
    assert cpu_threads() == AFFINITY


def test_slurm_and_openmp_settings_are_honoured(monkeypatch) -> None:
    """A SLURM task of 1 CPU on a node without cpusets: 1 thread, not one per core."""
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert cpu_threads() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", str(AFFINITY + 8))  # never above
    assert cpu_threads() == AFFINITY
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")  # ignored
    assert cpu_threads() == AFFINITY


def test_the_threads_option_limits_too(monkeypatch) -> None:
    set_threads(1)
    assert cpu_threads() == 1
    set_threads(AFFINITY + 8)
    assert cpu_threads() == AFFINITY
    set_threads(None)
    assert cpu_threads() == AFFINITY


def test_training_counts_the_same_cores(monkeypatch) -> None:
    from posekit.engine.training import _cores_used

    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert _cores_used() == 1
