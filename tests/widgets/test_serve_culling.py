"""A page's kernel is culled 90-120 s after its page went away, never while connected.

QA s22 (workshop) finding 2: a browser quit with its tabs open (no unload beacon)
left each app's kernel, 170-200 MB, alive for 5-6 minutes (culled after 300 s): five
of them held 930 MB during a training on a 2 GB machine. Checked here: the kernel
manager settings the servers get, read by Jupyter Server's own kernel manager, for
``make app`` (``python -m posekit.widgets.serve`` with its defaults) and for
mybinder.org / JupyterHub (``binder/jupyter_config.json``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from traitlets.config import Config
from traitlets.config.loader import KVArgParseConfigLoader

from posekit.widgets import serve

kernelmanager = pytest.importorskip("jupyter_server.services.kernels.kernelmanager")

REPO_ROOT = Path(__file__).resolve().parents[2]


def _check_culling(config: Config) -> None:
    km = kernelmanager.AsyncMappingKernelManager(config=config)
    # a kernel with no page connected goes 90-120 s after its last activity ...
    assert km.cull_idle_timeout >= 90
    assert km.cull_idle_timeout + km.cull_interval <= 120
    # ... and only such a kernel: an open page keeps its kernel however idle, a
    # busy kernel (an analysis running) is not ended
    assert km.cull_connected is False
    assert km.cull_busy is False


def test_make_app_culls_a_kernel_without_its_page_within_two_minutes() -> None:
    recipe = re.search(
        r"^app:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M
    )
    assert recipe is not None and "posekit.widgets.serve" in recipe.group(1)
    assert "cull" not in recipe.group(1)  # `make app` uses the server's defaults
    args = serve._parser().parse_args([])
    argv = serve.voila_arguments(
        "notebooks",
        token="t",
        cull_idle_timeout_s=args.cull_idle_timeout,
        cull_interval_s=args.cull_interval,
    )
    _check_culling(KVArgParseConfigLoader(argv[1:]).load_config())


def test_binder_and_jupyterhub_cull_the_same() -> None:
    config = json.loads((REPO_ROOT / "binder" / "jupyter_config.json").read_text())
    _check_culling(Config(config))
    assert config["MappingKernelManager"]["cull_idle_timeout"] == (
        serve.CULL_IDLE_TIMEOUT_S
    )
