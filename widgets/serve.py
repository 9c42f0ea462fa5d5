"""Serve the Voila apps to their user only: what ``make app`` runs.

``python -m posekit.widgets.serve [NOTEBOOKS] [--host H] [--port P] [--data-root DIR]``
starts Voila's own server on the app notebooks (default ``notebooks/``) with the
security model of ``docs/deploy.md``:

- **local, with a token.** It listens on 127.0.0.1 unless ``--host`` says otherwise,
  and every request needs a token, as Jupyter's servers do: ``POSEKIT_TOKEN`` (or
  ``JUPYTER_TOKEN``) if set, else a new random one. The address printed at the start
  carries it (``…/voila/render/home.ipynb?token=…``); a browser that opened it once
  keeps a login cookie. A request without the token gets the login page (API calls get
  403).
- **the apps only.** Only the app notebooks (``home.ipynb`` and
  :data:`posekit.widgets.app.APPS`) are rendered; Voila's directory listing (its tree
  page and contents API) is removed and ``/`` leads to the home app. Voila's file
  handler serves only images next to the notebooks (:data:`FILE_ALLOWLIST`), never
  project files, configurations or keys (:data:`FILE_DENYLIST`). Tracebacks stay out
  of the page (the apps show the error's message, :func:`posekit.widgets.app.show_app`).
- **the data root.** ``--data-root`` sets ``POSEKIT_DATA_ROOT`` for the apps' kernels
  (:mod:`posekit.widgets.data_root`).
- **results to download.** ``…/posekit/files/<absolute path>`` serves, read-only and
  to the logged-in user only, a project's analysis results and labelled videos
  (:func:`served_project_file`: inside the data root, in a project's ``videos/``
  folder, ``.h5``/``.csv`` or ``*_labeled.<video>``; nothing hidden), so that the
  Analyze app can link them (:func:`project_file_url`). The server tells the apps'
  kernels where through ``POSEKIT_FILES_URL``.
- **no pile of kernels.** Every page has its kernel; leaving the page (closing the tab,
  following a link) shuts it down at once through Voila's unload beacon, which needs
  the ``_xsrf`` cookie that :func:`set_xsrf_cookie` makes Voila send, and gives the
  kernel :data:`SHUTDOWN_WAIT_S` to exit before ending it. Kernels whose page
  went away without saying so (a browser quit, a crashed one, a lost network, a
  laptop asleep) are culled after :data:`CULL_IDLE_TIMEOUT_S` seconds (90) without a
  connection and without activity; a kernel whose page is connected is never culled.

JupyterHub and mybinder.org serve the apps through Voila's Jupyter server extension
instead; their settings are in ``binder/jupyter_config.json`` (the same file lists and
culling as here; a test checks that they agree) and ``binder/jupyter_server_config.py``
(which installs :func:`set_xsrf_cookie` and loads this module as a server extension,
for the results' handler).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .app import APPS
from .data_root import DATA_ROOT_ENV, check_in_data_root

__all__ = [
    "APP_NOTEBOOKS",
    "CULL_IDLE_TIMEOUT_S",
    "SHUTDOWN_WAIT_S",
    "CULL_INTERVAL_S",
    "FILE_ALLOWLIST",
    "FILE_DENYLIST",
    "FILES_URL_ENV",
    "LOCAL_HOST",
    "PROJECT_FILES_ROUTE",
    "app_address",
    "file_is_served",
    "main",
    "project_file_url",
    "served_project_file",
    "set_xsrf_cookie",
    "voila_arguments",
]

#: Where the apps listen unless ``--host`` asks for more.
LOCAL_HOST = "127.0.0.1"

#: The notebooks the server renders: the home app and the workflow apps.
APP_NOTEBOOKS: tuple[str, ...] = ("home.ipynb", *(app.notebook for app in APPS))

_IMAGE = r"[^/]+\.(png|jpe?g|gif|svg|webp)"

#: What Voila's file handler (``/voila/files/…``) may serve, as paths relative to the
#: served folder (Python regular expressions, whole path, any case): images next to the
#: notebooks, i.e. in the served folder itself or in a folder named ``notebooks``.
FILE_ALLOWLIST: tuple[str, ...] = (_IMAGE, rf"(.+/)?notebooks/{_IMAGE}")

#: What it never serves, even if allowed above: hidden files and folders (``.ssh``,
#: ``.env``, lock files), anything inside a project's folders, notebooks and code,
#: configurations, label and model files, keys and certificates.
FILE_DENYLIST: tuple[str, ...] = (
    r"(.*/)?\..*",
    r"(.*/)?(labeled-data|videos|dlc-models|training-datasets|evaluation-results)/.*",
    r".*\.(ipynb|py|ya?ml|json|toml|cfg|ini|env|h5|hdf5|csv|pickle|pkl|nc|npz|keras"
    r"|tflite|pem|key|crt|p12|pfx)",
    r"(.*/)?id_(rsa|dsa|ecdsa|ed25519)(\.pub)?",
)

#: A kernel without a connected page and without activity for this long is shut down
#: (a kernel with a page connected never is: ``cull_connected=False``). 90 s, not
#: Jupyter's usual 300 s: on a 2 GB Binder the kernels of browsers quit without
#: closing their tabs (170-200 MB each) added up for 5-6 minutes (QA s22 workshop #2).
CULL_IDLE_TIMEOUT_S = 90
#: How often the server looks for such kernels: one is gone 90-120 s after its page.
CULL_INTERVAL_S = 30
#: Seconds a closed page's kernel gets to exit after the shutdown request before it is
#: terminated (Jupyter's default, 5 s, lets a busy kernel of a page already left hold
#: its memory while the next page's kernel starts; an app kernel has nothing to save).
SHUTDOWN_WAIT_S = 1.0


def file_is_served(path: str) -> bool:
    """Whether Voila's file handler serves ``path`` under :data:`FILE_ALLOWLIST`/``DENYLIST``.

    The same test as Voila's ``AllowListFileHandler`` (whole-path, case-insensitive
    match).

    Parameters
    ----------
    path
        Path relative to the served folder, with ``/``.

    Returns
    -------
    bool

    Examples
    --------
    >>> file_is_served("logo.png"), file_is_served("notebooks/figure.svg")
    (True, True)
    >>> file_is_served("myproject/config.yaml")
    False
    >>> file_is_served("myproject/labeled-data/session1/img001.png")
    False
    """

    def matches(patterns: Sequence[str]) -> bool:
        return any(re.fullmatch(p, path, re.IGNORECASE) for p in patterns)

    return matches(FILE_ALLOWLIST) and not matches(FILE_DENYLIST)


#: Where the results' handler is mounted, below the server's base URL.
PROJECT_FILES_ROUTE = "posekit/files/"
#: Environment variable through which the server tells the apps' kernels the address
#: of the results' handler (its base URL included); unset: no handler, no links.
FILES_URL_ENV = "POSEKIT_FILES_URL"
#: Suffixes of the analysis results served (predictions, their CSV).
_RESULT_SUFFIXES = (".h5", ".csv")
#: A labelled video, as DeepLabCut and posekit name it (``…_labeled.mp4``).
_LABELED_VIDEO = re.compile(r".+_labeled\.(mp4|avi|mkv|mov|webm)", re.IGNORECASE)


def served_project_file(
    path: str | os.PathLike, *, environ: Mapping[str, str] | None = None
) -> Path:
    """Return ``path`` resolved if the results' handler serves it, else raise.

    Served are the files an analysis and a labelled video write beside a project's
    videos: a regular file in the ``videos/`` folder of a project (a folder with a
    ``config.yaml``) inside the data root, named ``*.h5``, ``*.csv`` or
    ``*_labeled.<mp4|avi|mkv|mov|webm>``, with no hidden part (``.partial.npz``,
    lock files). The path is resolved first: ``..`` and symbolic links that lead
    elsewhere are judged by where they lead.

    Parameters
    ----------
    path
        An absolute path.
    environ
        Environment for the data root (default ``os.environ``).

    Returns
    -------
    pathlib.Path
        The resolved path.

    Raises
    ------
    FileNotFoundError
        If it is not a file.
    PermissionError
        If it is not served (:class:`~posekit.widgets.data_root.DataRootError`
        outside the data root); the message says why.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()).resolve()
    >>> (root / "p" / "videos").mkdir(parents=True)
    >>> _ = (root / "p" / "config.yaml").write_text("Task: t")
    >>> _ = (root / "p" / "videos" / "m1DLC_x.h5").write_bytes(b"h5")
    >>> env = {"POSEKIT_DATA_ROOT": str(root)}
    >>> served_project_file(root / "p" / "videos" / "m1DLC_x.h5", environ=env).name
    'm1DLC_x.h5'
    >>> served_project_file(root / "p" / "config.yaml", environ=env)
    Traceback (most recent call last):
    ...
    PermissionError: ... is not in a project's videos/ folder...
    """
    given = Path(path)
    if not given.is_absolute():
        raise PermissionError(f"{path} is not an absolute path; give the whole path.")
    resolved = check_in_data_root(given, environ=environ, what="the file")
    if not resolved.is_file():
        raise FileNotFoundError(f"No file {path}.")
    videos = next(
        (
            folder
            for folder in resolved.parents
            if folder.name == "videos" and (folder.parent / "config.yaml").is_file()
        ),
        None,
    )
    if videos is None:
        raise PermissionError(
            f"{path} is not in a project's videos/ folder: only analysis results and "
            "labelled videos are served."
        )
    if any(part.startswith(".") for part in resolved.relative_to(videos).parts):
        raise PermissionError(f"{path} is hidden: it is not served.")
    name = resolved.name
    if not (name.lower().endswith(_RESULT_SUFFIXES) or _LABELED_VIDEO.fullmatch(name)):
        raise PermissionError(
            f"{path} is neither an analysis result (.h5, .csv) nor a labelled video "
            "(*_labeled.mp4): it is not served."
        )
    return resolved


def project_file_url(
    path: str | os.PathLike, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """Address of ``path`` on the results' handler, or ``None`` if it is not served.

    ``None`` also when the server has no such handler (``POSEKIT_FILES_URL`` unset:
    JupyterLab without this module's server extension, a plain ``voila``).

    Parameters
    ----------
    path
        The file.
    environ
        Environment to read ``POSEKIT_FILES_URL`` and the data root from (default
        ``os.environ``).

    Returns
    -------
    str or None
        An absolute path on the server (``/posekit/files/data/p/videos/m1.h5``,
        behind the server's base URL), percent-encoded.

    Examples
    --------
    >>> project_file_url("/data/p/videos/m1DLC_x.h5", environ={}) is None
    True
    """
    env = os.environ if environ is None else environ
    prefix = env.get(FILES_URL_ENV, "")
    if not prefix:
        return None
    try:
        resolved = served_project_file(path, environ=env)
    except OSError:
        return None
    return prefix.rstrip("/") + "/" + quote(resolved.as_posix().lstrip("/"))


def _project_file_handler() -> type:
    """Return the results' handler class: Jupyter's authenticated file handler on ``/``."""
    from jupyter_server.base.handlers import AuthenticatedFileHandler
    from tornado import web

    class ProjectFileHandler(AuthenticatedFileHandler):
        """Serve :func:`served_project_file`'s files (GET and HEAD only)."""

        def initialize(self, path: str = "/", default_filename: Any = None) -> None:
            super().initialize(path="/", default_filename=None)

        def validate_absolute_path(self, root: str, absolute_path: str) -> str:
            try:
                return str(served_project_file("/" + absolute_path.lstrip("/")))
            except FileNotFoundError as err:
                raise web.HTTPError(404) from err
            except PermissionError as err:  # DataRootError too
                self.log.info("posekit: refused %s: %s", absolute_path, err)
                raise web.HTTPError(403) from err

        def get(self, path: str, **kwargs: Any) -> Any:  # (a download, not a page)
            if not _LABELED_VIDEO.fullmatch(path.rsplit("/", 1)[-1]):
                self.set_attachment_header(path.rsplit("/", 1)[-1])
            return super().get(path, **kwargs)

    return ProjectFileHandler


def _project_file_handlers(server_url: str, base_url: str) -> list[tuple]:
    """Route the results' handler below ``server_url``; tell the kernels where it is.

    Sets ``POSEKIT_FILES_URL`` in this (the server's) process, whose environment
    the kernels it starts inherit.
    """
    from jupyter_server.utils import url_path_join

    os.environ[FILES_URL_ENV] = url_path_join(base_url, PROJECT_FILES_ROUTE)
    route = url_path_join(server_url, PROJECT_FILES_ROUTE, "(.*)")
    return [(route, _project_file_handler(), {"path": "/"})]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server extension: this module (enabled in ``binder/``'s config)."""
    return [{"module": "posekit.widgets.serve"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the results' handler to a Jupyter Server (mybinder.org, JupyterHub)."""
    base_url = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(".*$", _project_file_handlers(base_url, base_url))
    serverapp.log.info("posekit: results served at %s", os.environ[FILES_URL_ENV])


def set_xsrf_cookie(handler: Any, notebook: Any = None, cwd: Any = None) -> None:
    """Voila prelaunch hook: give the page the ``_xsrf`` cookie.

    When a Voila page is left, it asks the server to shut its kernel down with a POST
    that carries the ``_xsrf`` cookie's value; Voila 0.5 never sets that cookie, so the
    request is refused (403) and the kernel stays (voila-dashboards/voila#1458).
    Reading the handler's ``xsrf_token`` sets the cookie on the page's response.

    Parameters
    ----------
    handler
        The page's ``tornado.web.RequestHandler``.
    notebook, cwd
        The notebook and its folder (unused; the hook returns ``None``, so Voila keeps
        the notebook as it is).
    """
    handler.xsrf_token  # noqa: B018 - the property sets the cookie


def app_address(host: str, port: int, base_url: str = "/", token: str = "") -> str:
    """Address of the home app, with the token as JupyterLab prints it.

    Parameters
    ----------
    host, port
        Where the server listens (``0.0.0.0``: this machine's name is shown).
    base_url
        The server's base URL.
    token
        The token (none: no query).

    Returns
    -------
    str

    Examples
    --------
    >>> app_address("127.0.0.1", 8866, token="abc")
    'http://127.0.0.1:8866/voila/render/home.ipynb?token=abc'
    """
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    path = "/" + "/".join(
        p for p in (base_url.strip("/"), "voila/render/home.ipynb") if p
    )
    return f"http://{host}:{port}{path}" + (f"?token={token}" if token else "")


def voila_arguments(
    notebooks: str | os.PathLike,
    *,
    host: str = LOCAL_HOST,
    port: int = 8866,
    token: str,
    cull_idle_timeout_s: int = CULL_IDLE_TIMEOUT_S,
    cull_interval_s: int = CULL_INTERVAL_S,
    open_browser: bool = False,
) -> list[str]:
    """Build the ``voila`` command-line arguments of the apps' server.

    Parameters
    ----------
    notebooks
        The folder of the app notebooks.
    host, port
        Where to listen.
    token
        The token every request needs (not empty).
    cull_idle_timeout_s, cull_interval_s
        Kernel culling (see the module docstring).
    open_browser
        Open the home app in a browser.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If the token is empty.
    """
    if not token:
        raise ValueError("the apps' server needs a token; none was given")
    return [
        str(notebooks),
        f"--Voila.ip={host}",
        f"--port={port}",
        f"--Voila.token={token}",
        f"--Voila.open_browser={open_browser}",
        "--VoilaConfiguration.show_tracebacks=False",
        *(f"--VoilaConfiguration.file_allowlist={p}" for p in FILE_ALLOWLIST),
        *(f"--VoilaConfiguration.file_denylist={p}" for p in FILE_DENYLIST),
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_timeout_s)}",
        f"--MappingKernelManager.cull_interval={int(cull_interval_s)}",
        "--MappingKernelManager.cull_connected=False",
        "--MappingKernelManager.cull_busy=False",
        f"--KernelManager.shutdown_wait_time={SHUTDOWN_WAIT_S}",
    ]


def _server_class() -> type:
    """Voila's server: only the apps rendered, no directory listing, the results."""
    from jupyter_server.utils import url_path_join
    from tornado.web import RedirectHandler
    from voila.app import Voila
    from voila.tornado.contentshandler import VoilaContentsHandler
    from voila.tornado.handler import TornadoVoilaHandler
    from voila.tornado.treehandler import TornadoVoilaTreeHandler

    class PosekitApps(Voila):
        """Voila for the posekit apps (see :mod:`posekit.widgets.serve`)."""

        def init_handlers(self) -> list:
            apps = "|".join(re.escape(name) for name in APP_NOTEBOOKS)
            render = url_path_join(self.server_url, rf"/voila/render/({apps})")
            handlers = []
            for spec in super().init_handlers():
                cls = spec[1]
                if cls in (TornadoVoilaTreeHandler, VoilaContentsHandler):
                    continue  # the directory listing
                if cls is TornadoVoilaHandler:
                    spec = (render, cls, *spec[2:])
                handlers.append(spec)
            home = url_path_join(self.base_url, "voila/render/home.ipynb")
            handlers.append(
                (self.server_url, RedirectHandler, {"url": home, "permanent": False})
            )
            handlers.extend(_project_file_handlers(self.server_url, self.base_url))
            return handlers

        @property
        def display_url(self) -> str:
            token = self.token or ""
            url = app_address(self.ip, self.port, self.base_url, token)
            if self.ip in ("", "0.0.0.0", "::"):
                local = app_address(LOCAL_HOST, self.port, self.base_url, token)
                url += f"\n    or {local}"
            return url

    return PosekitApps


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m posekit.widgets.serve",
        description="Serve the posekit apps (Voila) to their user only: on 127.0.0.1 "
        "unless --host says otherwise, always with a token (POSEKIT_TOKEN, else a new "
        "one, printed in the address).",
    )
    p.add_argument(
        "notebooks", nargs="?", default="notebooks", help="folder of the app notebooks"
    )
    p.add_argument(
        "--host",
        default=LOCAL_HOST,
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: "
        "every network interface)",
    )
    p.add_argument("--port", type=int, default=8866)
    p.add_argument(
        "--data-root",
        default="",
        help=f"folders the apps may open and create projects in ({DATA_ROOT_ENV}; "
        f"several separated by '{os.pathsep}'; default: the home directory)",
    )
    p.add_argument("--cull-idle-timeout", type=int, default=CULL_IDLE_TIMEOUT_S)
    p.add_argument("--cull-interval", type=int, default=CULL_INTERVAL_S)
    p.add_argument("--open-browser", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Start the apps' server and serve until Ctrl-C.

    Parameters
    ----------
    argv
        Command-line arguments (default ``sys.argv[1:]``; see ``--help``).

    Returns
    -------
    int
        The exit code.
    """
    args = _parser().parse_args(argv)
    folder = Path(args.notebooks)
    if not (folder / "home.ipynb").is_file():
        print(f"posekit: no home.ipynb in {folder.resolve()}", file=sys.stderr)
        return 2
    if args.data_root:
        os.environ[DATA_ROOT_ENV] = args.data_root  # the kernels inherit it
    token = os.environ.get("POSEKIT_TOKEN") or os.environ.get("JUPYTER_TOKEN") or ""
    token = token or secrets.token_hex(24)
    server = _server_class().instance()
    server.initialize(
        voila_arguments(
            folder,
            host=args.host,
            port=args.port,
            token=token,
            cull_idle_timeout_s=args.cull_idle_timeout,
            cull_interval_s=args.cull_interval,
            open_browser=args.open_browser,
        )
    )
    server.voila_configuration.prelaunch_hook = set_xsrf_cookie
    server.start()
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m posekit.widgets.serve
    sys.exit(main())
