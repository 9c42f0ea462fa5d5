"""The results' handler: a project's analysis files and labelled videos, nothing else.

QA s18: ``make app`` (``posekit.widgets.serve``) served nothing of a project, so a
labelled video made in the app could not be downloaded or played from the browser.
``…/posekit/files/<absolute path>`` now serves, read-only and to the logged-in user,
the ``.h5``/``.csv`` results and ``*_labeled.<video>`` files in a project's
``videos/`` folder inside the data root (:func:`served_project_file`). Checked on the
rules, then over HTTP against the real servers: the command ``make app`` runs, and
Jupyter Server with ``binder/``'s configuration (mybinder.org, JupyterHub): the
file's bytes come back (200, the same length; a range for a video player), and
paths outside a project, hidden files, ``..``, symbolic links out of the data root,
other methods and requests without the token are refused.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from posekit.widgets.data_root import DataRootError
from posekit.widgets.serve import (
    FILES_URL_ENV,
    PROJECT_FILES_ROUTE,
    project_file_url,
    served_project_file,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
TOKEN = "results-handler-token"
RESULT = "session1DLC_resnet50_demoJan1shuffle1_100"
#: More than one read buffer of tornado's static file handler (64 KiB).
VIDEO_BYTES = bytes(range(256)) * 1200


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Build a data root: a project with results, and files that must not be served.

    Layout (``root`` resolved)::

        root/proj/config.yaml
        root/proj/videos/session1.mp4, <RESULT>.h5/.csv, <RESULT>_p60_labeled.mp4,
            .<RESULT>.partial.npz, link_labeled.mp4 -> outside/secret_labeled.mp4,
            inner_labeled.mp4 -> root/other/videos/x_labeled.mp4
        root/proj/labeled-data/session1/CollectedData_me.h5
        root/loose/videos/y.h5                (no config.yaml: not a project)
        root/other/config.yaml, root/other/videos/x_labeled.mp4
        outside/config.yaml, outside/videos/z.h5, outside/secret_labeled.mp4
    """
    base = tmp_path_factory.mktemp("served-results").resolve()
    root, outside = base / "root", base / "outside"
    for project in (root / "proj", root / "other", outside):
        (project / "videos").mkdir(parents=True)
        (project / "config.yaml").write_text("Task: t\n")
    videos = root / "proj" / "videos"
    (videos / "session1.mp4").write_bytes(VIDEO_BYTES)
    (videos / f"{RESULT}.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(5000))
    (videos / f"{RESULT}.csv").write_text("scorer,a\n1,2\n")
    (videos / f"{RESULT}_p60_labeled.mp4").write_bytes(VIDEO_BYTES[::-1])
    (videos / f".{RESULT}.partial.npz").write_bytes(b"partial")
    (outside / "secret_labeled.mp4").write_bytes(b"secret")
    (outside / "videos" / "z.h5").write_bytes(b"outside")
    (videos / "link_labeled.mp4").symlink_to(outside / "secret_labeled.mp4")
    (root / "other" / "videos" / "x_labeled.mp4").write_bytes(b"other project")
    (videos / "inner_labeled.mp4").symlink_to(root / "other/videos/x_labeled.mp4")
    labels = root / "proj" / "labeled-data" / "session1"
    labels.mkdir(parents=True)
    (labels / "CollectedData_me.h5").write_bytes(b"labels")
    (root / "loose" / "videos").mkdir(parents=True)
    (root / "loose" / "videos" / "y.h5").write_bytes(b"loose")
    return root


def _env(root: Path) -> dict[str, str]:
    return {"POSEKIT_DATA_ROOT": str(root), "POSEKIT_DEMO_DIR": str(root / "proj")}


def test_what_is_served(root: Path) -> None:
    env = _env(root)
    videos = root / "proj" / "videos"
    for name in (f"{RESULT}.h5", f"{RESULT}.csv", f"{RESULT}_p60_labeled.mp4"):
        assert served_project_file(videos / name, environ=env) == videos / name
    # a link inside the data root is judged by where it leads: another project
    inner = served_project_file(videos / "inner_labeled.mp4", environ=env)
    assert inner == root / "other" / "videos" / "x_labeled.mp4"
    refused = {
        videos / "session1.mp4": "neither an analysis result",  # a source video
        videos / f".{RESULT}.partial.npz": "hidden",
        root / "proj" / "config.yaml": "not in a project's videos/",
        root / "proj/labeled-data/session1/CollectedData_me.h5": "not in a project",
        root / "loose" / "videos" / "y.h5": "not in a project's videos/",
        root.parent / "outside" / "videos" / "z.h5": "outside the folders",
        videos / "link_labeled.mp4": "outside the folders",  # links out of the root
        videos / ".." / ".." / ".." / "outside" / "videos" / "z.h5": "outside",
        Path("proj/videos") / f"{RESULT}.h5": "not an absolute path",
    }
    for path, why in refused.items():
        with pytest.raises(PermissionError, match=why):
            served_project_file(path, environ=env)
    with pytest.raises(DataRootError):
        served_project_file("/etc/passwd", environ=env)
    for missing in (videos / "nope.h5", videos):
        with pytest.raises(FileNotFoundError):
            served_project_file(missing, environ=env)


def test_project_file_url(root: Path) -> None:
    env = {**_env(root), FILES_URL_ENV: "/user/me/posekit/files/"}
    path = root / "proj" / "videos" / f"{RESULT}_p60_labeled.mp4"
    assert project_file_url(path, environ=env) == (
        "/user/me/posekit/files/" + quote(str(path).lstrip("/"))
    )
    assert project_file_url(root / "proj" / "config.yaml", environ=env) is None
    assert project_file_url(path, environ=_env(root)) is None  # no handler


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(command: list[str], log: Path, env: dict[str, str]) -> Iterator[None]:
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "running at" not in log.read_text():
            assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no start:\n{log.read_text()}"
            time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _get(port: int, path: str, *, method: str = "GET", token: bool = True, **headers):
    """One request: status, headers (lower-case names), body."""
    if token:
        headers["Authorization"] = f"token {TOKEN}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            method, path, body=b"x" if method != "GET" else None, headers=headers
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _check_served(port: int, root: Path, prefix: str) -> None:
    """Check that the files come back whole (and in ranges), and nothing else."""
    videos = root / "proj" / "videos"
    env = {**_env(root), FILES_URL_ENV: prefix + PROJECT_FILES_ROUTE}
    labelled = videos / f"{RESULT}_p60_labeled.mp4"
    for path in (labelled, videos / f"{RESULT}.h5", videos / f"{RESULT}.csv"):
        url = project_file_url(path, environ=env)  # the address the app links
        assert url is not None
        status, headers, body = _get(port, url)
        assert status == 200, (url, status, body[:300])
        assert body == path.read_bytes()
        assert int(headers["content-length"]) == path.stat().st_size
        if path == labelled:  # plays in the page's tab
            assert headers["content-type"] == "video/mp4"
            assert "content-disposition" not in headers
        else:  # a download
            assert headers["content-disposition"].startswith("attachment")
    # a video player asks for ranges
    url = project_file_url(labelled, environ=env)
    status, headers, body = _get(port, url, Range="bytes=1000-1999")
    assert status == 206 and body == labelled.read_bytes()[1000:2000]

    # refused: no token (the login page, no bytes), outside a project or the data
    # root, hidden, traversal, links out, other methods
    status, _, body = _get(port, url, token=False)
    assert status in (302, 403) and labelled.read_bytes() not in body
    base = prefix + PROJECT_FILES_ROUTE
    in_videos = base + quote(str(videos).lstrip("/"))
    for path in (
        base + "etc/passwd",
        base + quote(str(root / "proj" / "config.yaml").lstrip("/")),
        base + quote(str(root.parent / "outside" / "videos" / "z.h5").lstrip("/")),
        in_videos + "/" + quote(f".{RESULT}.partial.npz"),
        in_videos + "/link_labeled.mp4",
        in_videos + "/session1.mp4",
        in_videos + "/../../../../../../../../etc/passwd",
        in_videos + "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        base + quote(str(root.parent / "outside" / "secret_labeled.mp4").lstrip("/")),
    ):
        status, _, body = _get(port, path)
        assert status in (403, 404), (path, status)
        assert b"secret" not in body and b"root:" not in body
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        status, _, _ = _get(port, url, method=method)
        assert status in (403, 405), (method, status)
    assert labelled.read_bytes() == VIDEO_BYTES[::-1]  # read-only


def test_make_app_serves_the_results(root: Path, tmp_path: Path) -> None:
    """The server ``make app`` starts (``python -m posekit.widgets.serve``)."""
    pytest.importorskip("voila")
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "posekit.widgets.serve",
        str(NOTEBOOKS),
        f"--port={port}",
        f"--data-root={root}",
    ]
    env = {"POSEKIT_TOKEN": TOKEN, "POSEKIT_DEMO_DIR": str(root / "proj")}
    with _server(command, tmp_path / "serve.log", env):
        _check_served(port, root, "/")


def test_binder_config_serves_the_results(root: Path, tmp_path: Path) -> None:
    """Jupyter Server with ``binder/``'s configuration (a base URL, as on a hub)."""
    pytest.importorskip("voila")
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    for name in ("jupyter_config.json", "jupyter_server_config.py"):
        shutil.copy(REPO_ROOT / "binder" / name, config_dir / name)
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.base_url=/user/me/",
        f"--ServerApp.root_dir={tmp_path}",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.allow_root=True",
    ]
    env = {"JUPYTER_CONFIG_DIR": str(config_dir), **_env(root)}
    with _server(command, tmp_path / "server.log", env):
        _check_served(port, root, "/user/me/")
