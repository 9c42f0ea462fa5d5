"""The package ``posekit.engine``: lazy exports and the TensorFlow environment it sets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import posekit.engine as engine

# In a fresh interpreter: import posekit (some way) first, then TensorFlow, and report
# the variable and whether TensorFlow really runs with oneDNN.
PROBE = """
import os, sys
{first}
import tensorflow
from tensorflow.python.util import _pywrap_util_port
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"), _pywrap_util_port.IsMklEnabled())
"""


def _probe(first: str, value: str | None) -> tuple[str, bool]:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = value
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(first=first)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    var, enabled = proc.stdout.split()[-2:]
    return var, enabled == "True"


def test_lazy_exports() -> None:
    assert "train_network" in dir(engine)
    assert engine.make_demo_project.__module__ == "posekit.engine.demo"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        engine.nope  # noqa: B018


def test_onednn_is_turned_on_before_tensorflow_loads() -> None:
    assert _probe("import posekit.engine", None) == ("1", True)


def test_explicit_onednn_setting_is_respected() -> None:
    assert _probe("import posekit.engine", "0") == ("0", False)


@pytest.mark.parametrize(
    "module",
    [
        "posekit.engine._fileio",  # any submodule runs the package __init__ first
        "posekit.engine.cli",  # the `posekit` entry point
    ],
)
def test_every_import_path_sets_the_variable(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    code = (
        f"import sys, os, {module}; "
        "assert 'tensorflow' not in sys.modules; "  # set before TF could read it
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "1"
