"""Reusable browser-test fixtures: a Voila server per notebook and Debian chromium.

Usage in a test module::

    @pytest.fixture(scope="module")
    def app(voila_server):
        return voila_server(NOTEBOOKS / "label.ipynb", env={"POSEKIT_PROJECT": ...})

    @pytest.mark.browser
    def test_something(app, page):
        page.goto(app.url, wait_until="domcontentloaded")
        page.wait_for_selector(".labeler .bk-Canvas")

- ``voila_server(notebook, env=..., cwd=..., timeout=...)`` starts ``voila`` on a free
  port (127.0.0.1) with the test process's environment plus ``env`` (the kernel
  inherits it), waits for "running at" in its log and returns a :class:`VoilaServer`
  (``.url``, ``.pid``, ``.log()``, ``.kernel_pids()``). Every server is stopped by PID
  at the end of the module (SIGTERM, which shuts its kernels down; then SIGKILL for
  anything left). :func:`start_voila` is the same as a context manager.
- ``page``: a fresh Playwright page in a chromium started with the flags of
  ``shared/docs/frontend-notes.md``; ``page.posekit_errors`` collects uncaught page
  errors and console errors (known-harmless ones filtered: Voila's Font Awesome CDN
  when offline, JupyterLab version warnings).
- ``screenshots_dir``: where tests save their screenshots: a temporary folder, so
  that ``make test`` never rewrites tracked files, or ``$POSEKIT_SCREENSHOTS_DIR``
  (``make screenshots`` sets it to ``docs/_static/screenshots`` to update the committed
  ones).
- ``jupyterlab_server(root_dir, env=...)``: the same for real JupyterLab (``jupyter
  lab`` on a free port, a token, its settings, workspaces and runtime files in a
  temporary folder, ``window.jupyterapp`` exposed to the page); returns a
  :class:`JupyterLabServer` (``.url_for("lab/tree/x.ipynb")``). :func:`start_jupyterlab`
  is the same as a context manager. Both are :func:`start_server` (process, port,
  readiness wait, log, teardown by PID) with the kind of server as its argument.
- Tests are skipped when ``/usr/bin/chromium`` (or ``$POSEKIT_CHROMIUM``) or
  Playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
CHROMIUM = Path(os.environ.get("POSEKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Console messages that are expected and harmless (see frontend-notes.md).
HARMLESS_CONSOLE = (
    "ERR_NAME_NOT_RESOLVED",  # Voila's template asks cdn.jsdelivr.net for Font Awesome
    "ERR_INTERNET_DISCONNECTED",
    "Unsatisfied version",
    "No satisfying version",
    "cannot combine events",
    # the widget manager logs it when a message names a widget it has not made yet
    # or has closed already: seen while a page loads or replaces a plot on a busy
    # machine (the whole suite on 2 cores: the final CI of s25 in the viewer, an
    # earlier one in the labeller's drag test); a widget that really failed is
    # missing from the page, which the tests wait for
    "widget model not found",
)
#: Environment variable naming the folder for screenshots (``make screenshots``).
SCREENSHOTS_ENV = "POSEKIT_SCREENSHOTS_DIR"
#: Failing requests that are expected: on unload/reload the Voila 0.5 page asks the
#: server to shut its kernel down and gets 403 (the kernel stays until Voila stops).
HARMLESS_HTTP = ("/voila/api/shutdown/",)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." (comm may hold spaces/parentheses)
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def descendants(pid: int) -> list[int]:
    """PIDs of all processes below ``pid`` (Linux ``/proc``)."""
    todo, found = [pid], []
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _start_time(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class VoilaServer:
    """A running Voila server (see :func:`start_voila`)."""

    notebook: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def url(self) -> str:
        """Address of the app page."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        """PID of the Voila process."""
        return self.process.pid

    def log(self) -> str:
        """Everything Voila wrote so far."""
        return self.log_path.read_text(errors="replace")

    def kernel_pids(self) -> list[int]:
        """PIDs of this server's kernels, oldest first (one per page load)."""
        pids = [p for p in descendants(self.pid) if "ipykernel" in _cmdline(p)]
        return sorted(pids, key=_start_time)

    def wait_for_kernels(self, n: int, timeout: float = 30) -> list[int]:
        """Wait until at least ``n`` kernels run; return their PIDs (oldest first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.kernel_pids()
            if len(pids) >= n:
                return pids
            time.sleep(0.1)
        raise TimeoutError(f"{n} kernel(s) did not start; log:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM Voila (it shuts its kernels down), then SIGKILL what is left."""
        leftovers = descendants(self.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class JupyterLabServer(VoilaServer):
    """A running JupyterLab server (see :func:`start_jupyterlab`); ``notebook`` is its root."""

    token: str = ""

    @property
    def url(self) -> str:
        """Address of JupyterLab's page."""
        return self.url_for("lab")

    def url_for(self, path: str) -> str:
        """Address of ``path`` on the server (e.g. ``lab/tree/x.ipynb``), token included."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"


def _script(name: str, package: str) -> str:
    """Return the console script ``name`` of this Python, else on PATH (else skip)."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return str(script)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{package} is not installed")
    return found


@dataclass
class _Launch:
    """How to start one server: its command, environment and when it is ready."""

    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    #: Text in the log that says the server answers.
    ready: str
    #: Extra fields of the server object (``token``).
    fields: dict[str, str] = field(default_factory=dict)


def _voila_launch(notebook: Path, port: int, log_dir: Path) -> _Launch:
    """``voila <notebook>``: one app, served at ``/``."""
    return _Launch(
        cmd=[
            _script("voila", "voila"),
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        env={},
        cwd=notebook.parent,
        log_path=log_dir / f"voila-{notebook.stem}-{port}.log",
        ready="running at",
    )


def _jupyterlab_launch(root_dir: Path, port: int, log_dir: Path) -> _Launch:
    """``jupyter lab`` on ``root_dir``, its files in a temporary folder, a token."""
    script = _script("jupyter-lab", "jupyterlab")
    home = Path(tempfile.mkdtemp(prefix="jupyterlab-home-", dir=log_dir))
    token = f"posekit-test-{port}"
    return _Launch(
        cmd=[
            script,
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root_dir}",
            f"--IdentityProvider.token={token}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",  # CI runs as root
        ],
        env={
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        },
        cwd=root_dir,
        log_path=log_dir / f"jupyterlab-{port}.log",
        ready=f"127.0.0.1:{port}/lab",
        fields={"token": token},
    )


@dataclass(frozen=True)
class _ServerKind:
    """A kind of server the tests start (see :data:`SERVER_KINDS`)."""

    #: Its name in messages.
    label: str
    launch: Callable[[Path, int, Path], _Launch]
    server_class: type[VoilaServer]
    #: Seconds to wait for it to be ready, by default.
    timeout: float


#: The servers :func:`start_server` starts, by kind.
SERVER_KINDS = {
    "voila": _ServerKind("voila", _voila_launch, VoilaServer, 90),
    "jupyterlab": _ServerKind("jupyter lab", _jupyterlab_launch, JupyterLabServer, 120),
}


@contextlib.contextmanager
def start_server(
    kind: str,
    path: str | os.PathLike,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    log_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[VoilaServer]:
    """Run a server of ``kind`` on a free port (127.0.0.1) until the block ends.

    Parameters
    ----------
    kind
        ``"voila"`` (``path``: the app notebook) or ``"jupyterlab"`` (``path``: the
        folder served).
    path
        The notebook or the folder.
    env
        Extra environment variables (the kernels inherit them), e.g.
        ``{"POSEKIT_PROJECT": str(project.path)}``.
    cwd
        Working directory of the server (default: the notebook's folder; the
        folder served).
    log_dir
        Where the server log goes (default: a temporary folder).
    timeout
        Seconds to wait for the server to be ready (default: 90 for Voila, 120 for
        JupyterLab).
    extra_args
        More command-line arguments.

    Yields
    ------
    VoilaServer
        A :class:`VoilaServer`, or a :class:`JupyterLabServer`; stopped by PID when
        the block ends.
    """
    if kind not in SERVER_KINDS:
        raise ValueError(
            f"kind must be one of {sorted(SERVER_KINDS)}. Received: {kind!r}"
        )
    spec = SERVER_KINDS[kind]
    path = Path(path).resolve()
    port = free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix=f"{kind}-log-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    launch = spec.launch(path, port, log_dir)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **launch.env, **(env or {})}
    with open(launch.log_path, "wb") as log:
        proc = subprocess.Popen(
            [*launch.cmd, *extra_args],
            cwd=str(cwd or launch.cwd),
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = spec.server_class(
        path, port, proc, launch.log_path, dict(env or {}), **launch.fields
    )
    timeout = spec.timeout if timeout is None else timeout
    try:
        deadline = time.monotonic() + timeout
        while launch.ready not in server.log():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{spec.label} exited ({proc.returncode}):\n{server.log()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{spec.label} did not start in {timeout} s:\n{server.log()}"
                )
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def start_voila(
    notebook: str | os.PathLike, **kwargs
) -> contextlib.AbstractContextManager[VoilaServer]:
    """Run ``voila <notebook>`` on a free port until the block ends.

    :func:`start_server` with ``kind="voila"`` (same keyword arguments).
    """
    return start_server("voila", notebook, **kwargs)


def start_jupyterlab(
    root_dir: str | os.PathLike, **kwargs
) -> contextlib.AbstractContextManager[JupyterLabServer]:
    """Run ``jupyter lab`` serving ``root_dir`` on a free port until the block ends.

    :func:`start_server` with ``kind="jupyterlab"`` (same keyword arguments). Its
    configuration, settings, workspaces and runtime files go to a temporary folder
    (never the user's ``~/.jupyter``), and ``window.jupyterapp`` is exposed so that
    tests can run JupyterLab commands and read the notebook's model.
    """
    return start_server("jupyterlab", root_dir, **kwargs)


def _servers(kind: str, tmp_path_factory) -> Iterator[Callable[..., VoilaServer]]:
    """Yield ``start(path, **kwargs)`` for a fixture; its servers stop at the end."""
    stack = contextlib.ExitStack()
    log_dir = tmp_path_factory.mktemp(f"{kind}-logs")

    def start(path: str | os.PathLike, **kwargs) -> VoilaServer:
        kwargs.setdefault("log_dir", log_dir)
        return stack.enter_context(start_server(kind, path, **kwargs))

    with stack:
        yield start


@pytest.fixture(scope="module")
def voila_server(tmp_path_factory) -> Iterator[Callable[..., VoilaServer]]:
    """Provide ``voila_server(notebook, env=...)``, which starts a :class:`VoilaServer`.

    Servers live until the end of the test module, then are stopped by PID.
    """
    yield from _servers("voila", tmp_path_factory)


@pytest.fixture(scope="module")
def jupyterlab_server(tmp_path_factory) -> Iterator[Callable[..., JupyterLabServer]]:
    """Provide ``jupyterlab_server(root_dir, env=...)``: a :class:`JupyterLabServer`.

    Servers live until the end of the test module, then are stopped by PID.
    """
    yield from _servers("jupyterlab", tmp_path_factory)


def screenshots_folder(environ: Mapping[str, str], temporary: Path) -> Path:
    """Return where screenshots go: ``$POSEKIT_SCREENSHOTS_DIR``, else ``temporary``."""
    chosen = environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen).expanduser() if chosen else temporary
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    """Folder for screenshots (temporary unless ``$POSEKIT_SCREENSHOTS_DIR`` is set)."""
    return screenshots_folder(os.environ, tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Path of Debian's chromium (skips the test when it is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser_context(chromium, tmp_path_factory):
    """Open a Playwright chromium context (fresh profile) shared by a module's tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(chromium),
            headless=False,  # --headless is in the flags; Playwright adds none of its own
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1100},
        )
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def page(browser_context):
    """Open a new page; ``page.posekit_errors`` lists page and console errors."""
    page = browser_context.new_page()
    errors: list[str] = []

    def on_console(msg) -> None:
        if (
            msg.type == "error"
            and not any(h in msg.text for h in HARMLESS_CONSOLE)
            and "Failed to load resource: the server responded" not in msg.text
        ):  # failed responses are logged with their address by on_response
            errors.append(f"console: {msg.text}")

    def on_response(resp) -> None:
        if resp.status >= 400 and not any(h in resp.url for h in HARMLESS_HTTP):
            errors.append(f"http {resp.status}: {resp.request.method} {resp.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
    page.posekit_errors = errors
    try:
        yield page
    finally:
        page.close()
