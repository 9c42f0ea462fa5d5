"""Packaging: the engine needs no Jupyter; pyproject, binder and the folders agree.

The install of ``pip install .`` without extras in a fresh environment is checked by
``.ci/check_engine_install`` (run by ``.ci/run``), not here: it takes minutes.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import posekit.engine

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

#: Top-level modules of the ``apps`` extra that the engine must never import.
JUPYTER_MODULES = {"ipywidgets", "ipyevents", "bokeh", "jupyter_bokeh", "voila"}


def _engine_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(
            posekit.engine.__path__, posekit.engine.__name__ + "."
        )
    )


def test_engine_imports_no_widget_library() -> None:
    """Every engine module, the CLI included, loads without a Jupyter widget library."""
    modules = _engine_modules()
    assert "posekit.engine.cli" in modules or any(
        name.startswith("posekit.engine.cli.") for name in modules
    )
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.splitlines()[-1])
    assert "tensorflow" in loaded  # the modules really ran
    widgets = sorted(
        name
        for name in loaded
        if name.split(".")[0] in JUPYTER_MODULES or name.startswith("posekit.widgets")
    )
    assert widgets == []


def _requirements(names: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, names)}


def test_the_engine_dependencies_hold_no_jupyter_package() -> None:
    project = PYPROJECT["project"]
    engine = _requirements(project["dependencies"])
    apps = _requirements(project["optional-dependencies"]["apps"])
    assert {"tensorflow", "numpy", "pandas"} <= set(engine)
    assert {"ipywidgets", "bokeh", "voila", "jupyterlab"} <= set(apps)
    assert not set(engine) & set(apps)
    jupyter = {n for n in engine if n.startswith(("jupyter", "ipy", "bokeh", "voila"))}
    assert jupyter == set()
    assert set(PYPROJECT["dependency-groups"]) == {"test", "docs"}


def test_binder_pins_every_runtime_dependency() -> None:
    """binder/requirements.txt pins each engine and apps requirement, and only those."""
    project = PYPROJECT["project"]
    wanted = _requirements(
        project["dependencies"] + project["optional-dependencies"]["apps"]
    )
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    pins = _requirements([ln for ln in lines if ln.strip() and not ln.startswith("#")])
    assert sorted(pins) == sorted(wanted)
    for name, pin in pins.items():
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{pin}: pin an exact version"
        assert wanted[name].specifier.contains(spec.version), (
            f"binder pins {pin}, pyproject.toml asks for {wanted[name]}"
        )


def test_every_package_folder_is_listed() -> None:
    """Only the packages listed in pyproject.toml are installed by setuptools."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    roots = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = set()
    for package, folder in roots.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            found.add(".".join([package, *parts]))
    assert "posekit.engine.io" in found
    assert sorted(found - listed) == [], "add these to [tool.setuptools] packages"
    assert sorted(listed - found) == []
