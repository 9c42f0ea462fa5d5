"""The data root: the folders in which the apps may open and create projects.

A Voila app is a web page: whoever can reach it types paths into it (the page address
``?project=…``, the home app's boxes). The apps therefore accept only paths inside the
*data root*, and refuse the others with :class:`DataRootError`, whose message the app
shows in the page. The Python API and the command line are not restricted: their user
runs them with their own rights.

The data root is made of

1. the folders in ``POSEKIT_DATA_ROOT`` (several separated by ``os.pathsep``, ``:`` on
   Linux and macOS), or, when it is not set, the home directory (a single-user machine,
   a JupyterHub user's server);
2. always the demo folder (``POSEKIT_DEMO_DIR``, default ``~/posekit-demo``) and the
   project in ``POSEKIT_PROJECT``: the server was started with them.

A path is compared after resolving it: ``..`` is collapsed and symbolic links are
followed, so ``<root>/../elsewhere`` and a link inside the root that points out of it
are refused. A relative path is taken relative to the first folder of the data root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DATA_ROOT_ENV",
    "DataRootError",
    "check_in_data_root",
    "data_roots",
]

#: Environment variable that names the data root's folders.
DATA_ROOT_ENV = "POSEKIT_DATA_ROOT"


class DataRootError(PermissionError):
    """A path given to an app lies outside the data root."""


def data_roots(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """Return the folders the apps may open and create projects in (resolved).

    Parameters
    ----------
    environ
        Environment to read ``POSEKIT_DATA_ROOT``, ``POSEKIT_DEMO_DIR`` and
        ``POSEKIT_PROJECT`` from (default ``os.environ``).

    Returns
    -------
    tuple of pathlib.Path
        The configured folders (or the home directory) first, then the demo folder
        and the ``POSEKIT_PROJECT`` project; no duplicates.

    Examples
    --------
    >>> env = {"POSEKIT_DATA_ROOT": "/data/lab", "POSEKIT_DEMO_DIR": "/srv/demo"}
    >>> [str(p) for p in data_roots(env)]
    ['/data/lab', '/srv/demo']
    """
    from .app import demo_dir

    env = os.environ if environ is None else environ
    configured = [p for p in (env.get(DATA_ROOT_ENV) or "").split(os.pathsep) if p]
    folders = [Path(p).expanduser() for p in configured] or [Path.home()]
    folders.append(demo_dir(env))
    if env.get("POSEKIT_PROJECT"):
        project = Path(env["POSEKIT_PROJECT"]).expanduser()
        folders.append(project.parent if project.suffix == ".yaml" else project)
    return tuple(dict.fromkeys(p.resolve() for p in folders))


def check_in_data_root(
    path: str | os.PathLike,
    *,
    roots: Sequence[str | os.PathLike] | None = None,
    environ: Mapping[str, str] | None = None,
    what: str = "the project",
    also: Sequence[str | os.PathLike] = (),
) -> Path:
    """Resolve ``path`` and check that it lies inside the data root.

    Parameters
    ----------
    path
        The path typed into an app (absolute, or relative to the first root).
    roots
        The data root's folders (default :func:`data_roots` of ``environ``).
    environ
        Environment for :func:`data_roots`.
    what
        What the path is, for the message (``"the project"``, ``"the video"``).
    also
        Folders allowed besides the data root: those an app was given through the
        Python API (its project's folder, an output folder), which is not
        restricted. A relative ``path`` is still taken relative to the first root.

    Returns
    -------
    pathlib.Path
        The resolved path (``..`` collapsed, symbolic links followed).

    Raises
    ------
    DataRootError
        If the resolved path is outside every folder of the data root; the message
        names the path, the folders, and how to allow another folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()).resolve()
    >>> check_in_data_root(root / "a" / "project", roots=[root]) == root / "a" / "project"
    True
    >>> check_in_data_root(root / ".." / "elsewhere", roots=[root])
    Traceback (most recent call last):
    ...
    posekit.widgets.data_root.DataRootError: ...
    """
    folders = (
        tuple(Path(r).expanduser().resolve() for r in roots)
        if roots is not None
        else data_roots(environ)
    ) + tuple(Path(a).expanduser().resolve() for a in also)
    given = Path(path).expanduser()
    if not given.is_absolute():
        given = folders[0] / given
    resolved = given.resolve()
    if any(resolved.is_relative_to(folder) for folder in folders):
        return resolved
    via = "" if str(resolved) == str(given) else f" (it leads to {resolved})"
    listed = ", ".join(str(f) for f in folders)
    raise DataRootError(
        f"{what.capitalize()} {path} is outside the folders the apps may open{via}. "
        f"The apps open and create projects only in: {listed}. Use a folder in "
        f"there, or start the apps with {DATA_ROOT_ENV} set to the folder that holds "
        f"your projects (make app DATA_ROOT=/path/to/projects)."
    )
