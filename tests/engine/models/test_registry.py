"""The backbone registry: an explicit module list, and no import circle in models/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import posekit.engine.models as models_package
from posekit.engine.models import registry

MODELS_DIR = Path(models_package.__file__).parent


def _local_imports(path: Path) -> set[str]:
    """Modules of the models package that ``path`` imports.

    Imports anywhere in the file count, lazy ones inside functions too.
    """
    names = {p.stem for p in MODELS_DIR.glob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            else:  # from . import x
                found.update(a.name for a in node.names)
    return found & names


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_models_package_has_no_import_circle() -> None:
    graph = {p.stem: _local_imports(p) for p in MODELS_DIR.glob("*.py")}
    assert "registry" in graph["backbones"]  # the graph is really read
    assert graph["registry"] == set()  # the registry imports no backbone module
    assert _cycle(graph) is None, _cycle(graph)
    # the cycle finder finds one when there is one
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_listed_module_exists_and_registers() -> None:
    for module in registry.BACKBONE_MODULES:
        assert (MODELS_DIR / f"{module}.py").is_file(), module
    names = registry.list_backbones()
    assert "mobilenet_v2_0.35" in names  # from backbones
    assert "efficientnet_lite0" in names  # from efficientnet_lite


def test_importing_the_registry_alone_loads_no_backbone() -> None:
    code = (
        "import sys\n"
        "from posekit.engine.models import registry\n"
        "loaded = [m for m in sys.modules if m.startswith('posekit.engine.models.')]\n"
        "assert loaded == ['posekit.engine.models.registry'], loaded\n"
        "assert 'keras' not in sys.modules\n"
        "print(registry.get_backbone('efficientnet_lite0').dlc_netname)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "effnet_lite0"


def test_backbone_names_need_no_tensorflow_and_agree_with_the_registry() -> None:
    """The Train app lists the backbones and chooses one without loading TensorFlow."""
    code = (
        "import sys\n"
        "from posekit.engine.models import registry\n"
        "from posekit.engine.models.pretrained import choose_backbone\n"
        "assert choose_backbone('resnet_50').backbone == 'efficientnet_lite0'\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print(','.join(registry.backbone_names(aliases=True)))\n"
        # the registry itself (loads the modules), in a process that registered
        # nothing else (the test session registers tiny test backbones)
        "print(','.join(registry.list_backbones()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    fixed, registered = (line.split(",") for line in out.stdout.split()[-2:])
    assert fixed == registered
    one_each = registry.backbone_names()
    assert "resnet50" not in one_each and "effnet_b0" not in one_each
    assert set(registry.BACKBONE_NAMES) | set(registry.BACKBONE_ALIASES) == set(
        registered
    )
