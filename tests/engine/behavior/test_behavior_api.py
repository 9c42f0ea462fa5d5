"""The public API of posekit.engine.behavior: every name in __all__ resolves lazily."""

from __future__ import annotations

import subprocess
import sys

import posekit.engine.behavior as behavior


def test_every_public_name_resolves():
    assert len(behavior.__all__) == len(set(behavior.__all__))
    for name in behavior.__all__:
        assert getattr(behavior, name) is not None, name
    assert sorted(dir(behavior)) == sorted(behavior.__all__)


def test_filters_do_not_import_sklearn_or_matplotlib():
    code = (
        "import sys; import posekit.engine.behavior.filters, posekit.engine.behavior.roi; "
        "print(any(m.split('.')[0] in ('sklearn', 'matplotlib') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
