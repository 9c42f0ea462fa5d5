"""The package ``posekit.engine``: lazy exports; TensorFlow's options set at its import."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import posekit.engine as engine

REPO = Path(__file__).resolve().parents[2]

# In a fresh interpreter: run {first}, then import TensorFlow, and report the variable
# and whether TensorFlow really runs with oneDNN.
PROBE = """
import os, sys
{first}
import tensorflow
from tensorflow.python.util import _pywrap_util_port
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"), _pywrap_util_port.IsMklEnabled())
"""


def _fresh(code: str, value: str | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, ``TF_ENABLE_ONEDNN_OPTS`` set to ``value``."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = value
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # as CI and the README set it
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _run(code: str, value: str | None = None) -> str:
    """Return what ``code`` prints in a fresh interpreter (it must succeed)."""
    proc = _fresh(code, value)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _probe(first: str, value: str | None) -> tuple[str, bool]:
    var, enabled = _run(PROBE.format(first=first), value).split()[-2:]
    return var, enabled == "True"


def test_lazy_exports() -> None:
    assert "train_network" in dir(engine)
    assert engine.make_demo_project.__module__ == "posekit.engine.demo"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        engine.nope  # noqa: B018
    # DeepLabCut's workflow verbs, one import away as in ``deeplabcut.<verb>``; in a
    # fresh interpreter (tests that patch a verb leave their stand-in cached here)
    code = (
        "import posekit.engine as e\n"
        "for n, m in e._LAZY.items():\n"
        "    print(n, getattr(e, n).__module__ == 'posekit.engine' + m)\n"
    )
    resolved = dict(line.split() for line in _run(code).splitlines())
    assert set(resolved) == set(engine._LAZY)
    assert all(v == "True" for v in resolved.values()), resolved
    assert {"extract_outlier_frames", "merge_datasets", "create_labeled_video"} <= set(
        dir(engine)
    )
    # a verb named as its own module would turn into the module once that is imported
    assert not any(f".{name}" == module for name, module in engine._LAZY.items())


@pytest.mark.parametrize(
    "module",
    [
        "posekit.engine",
        "posekit.engine._fileio",
        "posekit.engine.cli",  # the `posekit` entry point
        "posekit.engine._tf",
    ],
)
def test_importing_posekit_changes_no_setting(module: str) -> None:
    code = (
        f"import os, sys, {module}; "
        "assert 'tensorflow' not in sys.modules; "
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    )
    assert _run(code).strip() == "None"


@pytest.mark.parametrize(
    "first",
    [
        "from posekit.engine._tf import import_tensorflow; import_tensorflow()",
        "import posekit.engine; posekit.engine.set_tensorflow_options()",
        "from posekit.engine._tf import keras",
        "import posekit.engine.models.pose_model",  # Keras at module level
    ],
)
def test_onednn_is_turned_on_before_tensorflow_loads(first: str) -> None:
    assert _probe(first, None) == ("1", True)


def test_explicit_onednn_setting_is_respected() -> None:
    first = "from posekit.engine._tf import import_tensorflow; import_tensorflow()"
    assert _probe(first, "0") == ("0", False)


def test_nothing_is_set_once_tensorflow_was_imported() -> None:
    code = (
        "import os, tensorflow\n"
        "from posekit.engine import set_tensorflow_options\n"
        "print(set_tensorflow_options(), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    )
    assert _run(code).split()[-2:] == ["False", "None"]


def _direct_tensorflow_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name.split(".")[0] in ("tensorflow", "keras"):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    return found


def test_tensorflow_is_imported_only_through_the_tf_module() -> None:
    """Every import of TensorFlow or Keras in the package goes through ``_tf``."""
    files = sorted((REPO / "engine").rglob("*.py")) + sorted(
        (REPO / "widgets").rglob("*.py")
    )
    assert files
    direct = [
        hit
        for path in files
        if path != REPO / "engine" / "_tf.py"
        for hit in _direct_tensorflow_imports(path)
    ]
    assert direct == [], "import these through posekit.engine._tf:\n" + "\n".join(
        direct
    )


def _stderr_of(code: str) -> str:
    return _fresh(code).stderr


def test_the_command_line_hides_tensorflow_start_up_lines() -> None:
    """TensorFlow's oneDNN and CUDA probing lines: not on every command."""
    load = (
        "from posekit.engine._tf import import_tensorflow, quiet_startup\n"
        "{quiet}import_tensorflow().config.list_physical_devices()\n"
    )
    loud = _stderr_of(load.format(quiet=""))
    assert "oneDNN custom operations are on" in loud  # what TensorFlow prints here
    assert _stderr_of(load.format(quiet="quiet_startup(); ")).strip() == ""
    # LiteRT's "Created TensorFlow Lite XNNPACK delegate" when a predictor is built
    held = (
        "import os\n"
        "from posekit.engine._tf import quiet_startup, startup_lines_held\n"
        "with startup_lines_held():\n"
        "    os.write(2, b'INFO: before\\n')\n"
        "quiet_startup()\n"
        "with startup_lines_held():\n"
        "    os.write(2, b'INFO: after\\n')\n"
    )
    err = _stderr_of(held)
    assert "INFO: before" in err and "INFO: after" not in err


def test_what_a_failed_load_printed_is_shown() -> None:
    code = (
        "import os\n"
        "from posekit.engine._tf import _stderr_held\n"
        "try:\n"
        "    with _stderr_held():\n"
        "        os.write(2, b'libcuda: broken install\\n')\n"
        "        raise ImportError('no')\n"
        "except ImportError:\n"
        "    pass\n"
        "with _stderr_held():\n"
        "    os.write(2, b'start-up noise\\n')\n"
    )
    err = _stderr_of(code)
    assert "libcuda: broken install" in err and "start-up noise" not in err
