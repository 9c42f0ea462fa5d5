"""The served apps let in only their user and serve only what the apps need.

The real servers are started: the command that ``make app`` runs (read with
``make -n app``), and Jupyter Server with the Binder/JupyterHub configuration of
``binder/``. Checked over HTTP: where the server listens, that a request without the
token gets no app (the login page, or 403 for the API) and one with it gets the home
app, that Voila's file handler refuses project files, configurations and hidden files,
that there is no directory listing and only the apps are rendered, and that the page
gets the ``_xsrf`` cookie its kernel-shutdown beacon needs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.serve import (
    APP_NOTEBOOKS,
    CULL_IDLE_TIMEOUT_S,
    CULL_INTERVAL_S,
    FILE_ALLOWLIST,
    FILE_DENYLIST,
    SHUTDOWN_WAIT_S,
    file_is_served,
)

pytest.importorskip("voila")

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
    b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02"
    b"\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_app_command(**variables: str) -> str:
    """Return the serving command of ``make app`` with these make variables (``make -n``)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    args = [f"{k}={v}" for k, v in variables.items()]
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "app", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in out.splitlines() if "posekit.widgets.serve" in line]
    assert len(lines) == 1, out
    return lines[0]


@contextlib.contextmanager
def run_server(
    command: list[str] | str, log: Path, env: dict[str, str], cwd: Path = REPO_ROOT
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start a server, wait until it prints where it runs; yield it and its log text."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", command] if isinstance(command, str) else command,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not re.search(r"running at|is running at", log.read_text()):
            assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no start:\n{log.read_text()}"
            time.sleep(0.1)
        time.sleep(0.5)  # the address lines follow "running at"
        yield proc, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _listening(pid: int) -> set[tuple[str, int]]:
    found = set()
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            for conn in p.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((conn.laddr.ip, conn.laddr.port))
    return found


def request(port: int, path: str, method: str = "GET", headers=None):
    """One HTTP request to 127.0.0.1 (no redirect followed): status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _header(headers, name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """Copy the app notebooks into ``notebooks/``, with a project and an image."""
    root = tmp_path_factory.mktemp("served") / "notebooks"
    root.mkdir()
    for name in APP_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / name, root / name)
    make_demo_project(root / "proj", n_frames=30, n_labeled=4)
    (root / "logo.png").write_bytes(PNG)
    (root / ".env").write_text("SECRET=1\n")
    return root


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """Build a small demo project where the home app looks (not at page load)."""
    folder = tmp_path_factory.mktemp("demo")
    make_demo_project(folder, n_frames=30, n_labeled=4)
    return folder


def _project_files(served: Path) -> list[str]:
    proj = next(served.glob("proj/*/config.yaml")).parent
    labels = next(proj.glob("labeled-data/*/CollectedData_*.h5"))
    frame = next(proj.glob("labeled-data/*/img*.png"))
    rel = [proj / "config.yaml", labels, labels.with_suffix(".csv"), frame]
    return [str(p.relative_to(served)) for p in rel if p.exists()]


def test_file_patterns_refuse_project_files_and_allow_notebook_images() -> None:
    for path in (
        "logo.png",
        "figure.SVG",
        "notebooks/figure.jpg",
        "posekit/notebooks/x.gif",
    ):
        assert file_is_served(path), path
    for path in (
        "proj/config.yaml",
        "config.yaml",
        "proj/labeled-data/v/CollectedData_me.h5",
        "proj/labeled-data/v/CollectedData_me.csv",
        "proj/labeled-data/v/img001.png",
        "proj/videos/thumb.png",
        "proj/dlc-models/iteration-0/x/train/snapshot-10.keras",
        "home.ipynb",
        "serve.py",
        ".ssh/id_rsa",
        ".ssh/id_ed25519.pub",
        ".env",
        "proj/.posekit-training.lock",
        ".hidden/logo.png",
        "keys/server.pem",
        "a/b/deep.png",
    ):
        assert not file_is_served(path), path


def test_binder_config_is_the_apps_server_config() -> None:
    config = json.loads((REPO_ROOT / "binder" / "jupyter_config.json").read_text())
    voila = config["VoilaConfiguration"]
    assert voila["show_tracebacks"] is False
    assert voila["file_allowlist"] == list(FILE_ALLOWLIST)
    assert voila["file_denylist"] == list(FILE_DENYLIST)
    assert config["MappingKernelManager"] == {
        "cull_idle_timeout": CULL_IDLE_TIMEOUT_S,
        "cull_interval": CULL_INTERVAL_S,
        "cull_connected": False,
        "cull_busy": False,
    }
    assert config["KernelManager"] == {"shutdown_wait_time": SHUTDOWN_WAIT_S}
    post_build = (REPO_ROOT / "binder" / "postBuild").read_text()
    assert "binder/jupyter_config.json" in post_build
    assert "binder/jupyter_server_config.py" in post_build


def test_make_app_listens_on_localhost_only_with_a_token(tmp_path, demo_dir) -> None:
    port = _free_port()
    command = make_app_command(
        PORT=str(port), DEMO_DIR=str(demo_dir), BIN=str(Path(sys.executable).parent)
    )
    assert '--host="127.0.0.1"' in command
    with run_server(command, tmp_path / "app.log", {"POSEKIT_TOKEN": ""}) as (
        proc,
        log,
    ):
        url = re.search(
            rf"http://127\.0\.0\.1:{port}/voila/render/home\.ipynb\?token=(\w+)", log
        )
        assert url, log
        token = url.group(1)
        assert len(token) >= 32  # generated: 24 random bytes
        assert _listening(proc.pid) == {("127.0.0.1", port)}
        # even on localhost, no token: no app
        status, headers, _ = request(port, "/voila/render/home.ipynb")
        assert status == 302
        assert _header(headers, "Location")[0].startswith("/login")
        status, _, body = request(port, f"/voila/render/home.ipynb?token={token}")
        assert status == 200 and "posekit" in body


def test_make_app_with_host_requires_the_token(tmp_path, served, demo_dir) -> None:
    port = _free_port()
    command = make_app_command(
        HOST="0.0.0.0",
        PORT=str(port),
        DEMO_DIR=str(demo_dir),
        NOTEBOOKS=str(served),
        BIN=str(Path(sys.executable).parent),
    )
    token = "t0k3n-for-the-test"
    with run_server(command, tmp_path / "app.log", {"POSEKIT_TOKEN": token}) as (
        proc,
        log,
    ):
        assert _listening(proc.pid) == {("0.0.0.0", port)}
        assert f"/voila/render/home.ipynb?token={token}" in log
        assert f"http://127.0.0.1:{port}/voila/render/home.ipynb?token={token}" in log

        # without the token: the login page for the app, 403 for the API
        status, headers, body = request(port, "/voila/render/home.ipynb")
        assert status == 302, body
        assert _header(headers, "Location")[0].startswith("/login")
        assert "posekit" not in body
        fake = "00000000-0000-0000-0000-000000000000"
        assert request(port, f"/api/kernels/{fake}")[0] == 403
        assert request(port, f"/voila/api/shutdown/{fake}", "POST")[0] == 403
        assert request(port, "/voila/render/home.ipynb?token=wrong")[0] == 302

        # with it: the home app, and the _xsrf cookie that the page's kernel-shutdown
        # beacon sends back
        status, headers, body = request(port, f"/voila/render/home.ipynb?token={token}")
        assert status == 200
        assert "posekit" in body
        cookies = _header(headers, "Set-Cookie")
        assert any(c.startswith("_xsrf=") for c in cookies), cookies
        auth = {"Authorization": f"token {token}"}

        # Voila's file handler: notebook images yes; project files, configs, hidden
        # files and the notebooks themselves never, with or without the token
        assert request(port, "/voila/files/logo.png")[0] == 200
        for rel in _project_files(served):
            for headers_ in ({}, auth):
                got = request(port, "/voila/files/" + quote(rel), headers=headers_)[0]
                assert got in (403, 404), (rel, got)
        for rel in (".env", "home.ipynb", "proj", "%2e%2e/%2e%2e/etc/passwd"):
            got = request(port, "/voila/files/" + rel, headers=auth)[0]
            assert got in (403, 404), (rel, got)

        # no directory listing; only the apps are rendered
        for path in ("/voila/tree", "/voila/tree/proj", "/voila/api/contents"):
            assert request(port, path, headers=auth)[0] == 404, path
        status, headers, _ = request(port, "/", headers=auth)
        assert status == 302
        assert _header(headers, "Location")[0].endswith("/voila/render/home.ipynb")
        for name in ("tutorial.ipynb", "proj/config.yaml"):
            assert request(port, f"/voila/render/{name}", headers=auth)[0] == 404


def test_binder_config_under_jupyter_server(tmp_path, served, demo_dir) -> None:
    """The Binder/JupyterHub settings, loaded by a real Jupyter Server with Voila."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    for name in ("jupyter_config.json", "jupyter_server_config.py"):
        shutil.copy(REPO_ROOT / "binder" / name, config_dir / name)
    port = _free_port()
    token = "binder-test-token"
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={served.parent}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",
    ]
    env = {
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_TOKEN": token,
        "POSEKIT_DEMO_DIR": str(demo_dir),
    }
    with run_server(command, tmp_path / "server.log", env) as (proc, _):
        auth = {"Authorization": f"token {token}"}
        base = f"/voila/files/{served.name}/"
        for rel in _project_files(served):
            got = request(port, base + quote(rel), headers=auth)[0]
            assert got in (403, 404), (rel, got)
        assert request(port, base + "logo.png", headers=auth)[0] == 200
        page = f"/voila/render/{served.name}/home.ipynb?token={token}"
        status, headers, body = request(port, page)
        assert status == 200 and "posekit" in body
        assert any(c.startswith("_xsrf=") for c in _header(headers, "Set-Cookie"))
        deadline = time.monotonic() + 10
        log = tmp_path / "server.log"
        while f"idle durations > {CULL_IDLE_TIMEOUT_S} seconds" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
