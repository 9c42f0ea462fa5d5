"""The examples in the docstrings of ``posekit.engine`` and ``posekit.widgets`` run.

Modules are imported by their installed names (``posekit.engine.poses``), so relative
imports and the lazy package attributes behave as for a user. Each module whose source
holds an example is one test; the examples run in a temporary working folder.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import pkgutil
from pathlib import Path

import pytest

import posekit.engine
import posekit.widgets

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    names = []
    for package in (posekit.engine, posekit.widgets):
        names.append(package.__name__)
        names += [
            info.name
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        ]
    found = []
    for name in sorted(names):
        origin = importlib.util.find_spec(name).origin
        if origin and ">>> " in Path(origin).read_text(encoding="utf-8"):
            found.append(name)
    return found


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert "posekit.engine.poses" in MODULES
    assert any(name.startswith("posekit.widgets.") for name in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    tests = [test for test in tests if test.examples]
    assert tests, f"{name} has '>>> ' in its source but no example was found"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, report.getvalue()
