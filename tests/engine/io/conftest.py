"""Second Python environments for cross-reader tests (pandas < 3, movement).

Each is a small virtual environment made once per test run under pytest's temporary
folder and filled from the package registry by pip; the pytest-xdist workers share it
(the first builds it under a file lock, the others wait and reuse it). When it cannot be
made (no suitable Python, no network, pip fails) the tests that need it skip and say why.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from posekit.engine.locks import file_mutex

PIP_TIMEOUT_S = 900


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _version(python: str) -> tuple[int, int] | None:
    try:
        proc = _run(
            [python, "-c", "import sys, venv; print(*sys.version_info[:2])"], 60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    major, minor = proc.stdout.split()
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> str | None:
    """Return a Python interpreter of at least ``minimum`` with ``venv``, or None.

    Looks at the running interpreter, ``python3.X`` on the PATH, pyenv's versions
    and uv's managed Pythons.
    """
    if sys.version_info[:2] >= minimum:
        return sys.executable
    candidates: list[str] = []
    for minor in range(minimum[1], minimum[1] + 4):
        name = f"python{minimum[0]}.{minor}"
        found = shutil.which(name)
        if found:
            candidates.append(found)
        root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
        candidates += sorted(
            glob.glob(f"{root}/versions/{minimum[0]}.{minor}*/bin/{name}")
        )
    uv = shutil.which("uv")
    if uv:
        proc = _run([uv, "python", "find", f">={minimum[0]}.{minimum[1]}"], 60)
        if proc.returncode == 0 and proc.stdout.strip():
            candidates.append(proc.stdout.strip())
    for python in candidates:
        version = _version(python)
        if version is not None and version >= minimum:
            return python
    return None


def shared_venv(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    python: str,
    packages: list[str],
) -> Path:
    """:func:`make_venv` once per run, shared by the xdist workers (a file lock)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' basetemps are siblings in one run's folder
    folder = root / f"venv-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    with file_mutex(folder / ".lock") as locked:
        if not locked:  # no lock (Windows): each worker builds its own
            return make_venv(tmp_path_factory.mktemp(f"venv-{name}"), python, packages)
        done = folder / ".done"
        if not done.exists():
            make_venv(folder, python, packages)
            done.touch()
        return folder / "venv" / "bin" / "python"


def make_venv(root: Path, python: str, packages: list[str]) -> Path:
    """Create a venv under ``root`` with ``packages``; skip the test if pip fails."""
    venv = root / "venv"
    exe = venv / "bin" / "python"
    if not exe.exists():
        proc = _run([python, "-m", "venv", str(venv)], 300)
        if proc.returncode != 0:
            pytest.skip(f"cannot create a venv with {python}: {proc.stderr[-500:]}")
    try:
        proc = _run(
            [str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            + packages,
            PIP_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {' '.join(packages)} took over {PIP_TIMEOUT_S} s")
    if proc.returncode != 0:
        pytest.skip(
            f"pip could not install {' '.join(packages)} (no package registry?): "
            f"{(proc.stdout + proc.stderr)[-800:]}"
        )
    return exe


def run_script(python: Path, script: str, *args: object) -> dict:
    """Run ``script`` with ``python``; it prints one JSON object on its last line."""
    proc = _run([str(python), "-c", script, *map(str, args)], 600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def pandas2_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the Python of a venv with pandas 2 (as DeepLabCut 3.0 has), tables, numpy."""
    python = find_python((3, 10))
    if python is None:
        pytest.skip("no Python >= 3.10 with venv found for the pandas 2 environment")
    return shared_venv(
        tmp_path_factory, "pandas2", python, ["pandas>=2.2,<3", "tables", "numpy"]
    )


@pytest.fixture(scope="session")
def movement_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the Python of a venv with movement 0.17 (it needs Python >= 3.12)."""
    python = find_python((3, 12))
    if python is None:
        pytest.skip(
            "movement 0.17 needs Python >= 3.12 and none was found (PATH, pyenv, uv)"
        )
    return shared_venv(tmp_path_factory, "movement", python, ["movement==0.17.0"])
