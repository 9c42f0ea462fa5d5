"""What the Voila apps in ``notebooks/`` share: their project, page, errors and links.

Every app notebook is one call, ``show_app("Train", TrainingDashboard)`` (the
trajectory viewer's :func:`~posekit.widgets.trajectory_viewer.show_trajectory_app`
ends in it too): it finds the project (:func:`resolve_project`), builds the app on it
under a title bar with links to the other apps (:func:`app_header`), and puts the
page script into the page (:func:`page_setup`). The project comes from, in this
order:

1. an explicit path passed to :func:`resolve_project`;
2. the ``project`` parameter of the page's query string (Voila hands the query string
   of ``/voila/render/train.ipynb?project=/data/myproj`` to the kernel as the
   ``QUERY_STRING`` environment variable); it must lie inside the data root
   (:mod:`posekit.widgets.data_root`);
3. the ``POSEKIT_PROJECT`` environment variable;
4. the demo project in ``POSEKIT_DEMO_DIR`` (default ``~/posekit-demo``), built the
   first time (two kernels started together build it once: a file lock).

Links between apps are relative (``train.ipynb?project=...``), so they work in Voila's
tree mode (``/voila/render/home.ipynb``), on Binder
(``/voila/render/notebooks/home.ipynb``) and behind JupyterHub prefixes alike.

**Errors.** When the project cannot be found or the app cannot be built, the page
shows the error's message (:func:`app_error`) instead of Voila's "There was an error
when executing cell". Every app shows errors through :func:`error_message`: bad input
(``ValueError``, ``OSError``) as its own message, with the Python and command-line
advice of the engine's messages replaced by the app and button to use
(:func:`plain_text`); anything else as a fault of posekit, its traceback in the
server's log, never in the page.

**The page.** :func:`page_setup` runs :data:`PAGE_JS`: the page's title
(``posekit · Train``), focus rings and :data:`PAGE_CSS`, keyboard-usable Accordion
headers, names for unlabelled controls, and ARIA live regions for the widgets marked
with :func:`live_region`. :func:`style_button` colours the main buttons
(:data:`BUTTON_COLORS`, white text at 4.5:1 or more, :func:`contrast_ratio`).

**TensorFlow stays out of most kernels** (~650 MB that a process never gives back).
The Train app trains in a process of its own (:mod:`posekit.widgets.training_model`),
the Analyze app converts the network for LiteRT in a short-lived process
(:mod:`posekit.engine.tflite_convert`) and analyses on LiteRT: neither kernel imports
TensorFlow. Where a kernel needs it (the Refine app; Analyze with a shared model
file or a multi-animal project; a training in a thread), :func:`preload_tensorflow`
imports it with its C++ start-up lines kept out of the page.

**Result files.** This module serves nothing. Under posekit's own server (``make
app``: :mod:`posekit.widgets.serve`; on JupyterHub and Binder, its server extension)
the analysis results and labelled videos are served read-only under
``/posekit/files/`` and the kernels learn the address from ``POSEKIT_FILES_URL``:
the Analyze app links them and the trajectory viewer plays labelled videos from
there (:func:`posekit.widgets.serve.project_file_url`). In plain JupyterLab or
Voila, without that handler, the files are named instead of linked and the viewer
sends the video to its player through the kernel.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from .data_root import DataRootError, check_in_data_root

if TYPE_CHECKING:
    from ..engine.project import Project

__all__ = [
    "AppLink",
    "APPS",
    "BUTTON_COLORS",
    "DEFAULT_DEMO_DIR",
    "PAGE_CSS",
    "PAGE_JS",
    "app_error",
    "app_header",
    "app_links",
    "app_url",
    "build_app",
    "contrast_ratio",
    "demo_dir",
    "error_message",
    "live_region",
    "page_script",
    "page_setup",
    "plain_text",
    "preload_tensorflow",
    "query_params",
    "query_path",
    "resolve_project",
    "show_app",
    "style_button",
]

logger = logging.getLogger("posekit.widgets")

#: Where the demo project is built when neither a project nor ``POSEKIT_DEMO_DIR`` is given.
DEFAULT_DEMO_DIR = "~/posekit-demo"


@dataclass(frozen=True)
class AppLink:
    """One workflow step's app: its notebook name and what it is for."""

    notebook: str
    title: str
    description: str


#: The workflow apps, in workflow order (the home app links each one that exists).
APPS: tuple[AppLink, ...] = (
    AppLink("label.ipynb", "Label", "pick frames and click the bodyparts"),
    AppLink("train.ipynb", "Train", "train a network and watch it learn"),
    AppLink("analyze.ipynb", "Analyze", "run the network on videos"),
    AppLink(
        "refine.ipynb",
        "Refine",
        "fix the network's mistakes: outlier frames, corrections, retraining",
    ),
    AppLink("viewer.ipynb", "Trajectories", "inspect, filter and plot the tracks"),
    AppLink("behavior.ipynb", "Behaviour", "from keypoints to behaviour"),
)


def query_params(query_string: str | None = None) -> dict[str, str]:
    """Parameters of the page's query string (last value wins).

    Parameters
    ----------
    query_string
        ``"project=/data/p&shuffle=2"``, with or without a leading ``?``; default the
        ``QUERY_STRING`` environment variable that Voila sets for the app's kernel
        (empty in JupyterLab).

    Returns
    -------
    dict
        Decoded parameters.

    Examples
    --------
    >>> query_params("?project=%2Fdata%2Fmy%20project&shuffle=2")
    {'project': '/data/my project', 'shuffle': '2'}
    """
    if query_string is None:
        query_string = os.environ.get("QUERY_STRING", "")
    parsed = parse_qs(query_string.lstrip("?"), keep_blank_values=False)
    return {key: values[-1] for key, values in parsed.items()}


def query_path(
    name: str,
    *,
    query_string: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """Return a file named in the page address, checked against the data root.

    Parameters
    ----------
    name
        The query parameter (``"predictions"`` in ``viewer.ipynb?predictions=…``).
    query_string
        Query string of the page (default: the ``QUERY_STRING`` variable).
    environ
        Environment for the data root (default ``os.environ``).

    Returns
    -------
    pathlib.Path or None
        The resolved path, or ``None`` when the page address does not name one.

    Raises
    ------
    posekit.widgets.data_root.DataRootError
        If the path lies outside the data root.
    """
    value = query_params(query_string).get(name)
    if not value:
        return None
    return check_in_data_root(value, environ=environ, what=f"the {name} file")


def demo_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the folder that holds (or will hold) the demo project.

    That is ``POSEKIT_DEMO_DIR`` if set, else ``~/posekit-demo``.
    """
    env = os.environ if environ is None else environ
    return Path(env.get("POSEKIT_DEMO_DIR") or DEFAULT_DEMO_DIR).expanduser().resolve()


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.posekit-demo.lock`` (POSIX).

    Two app kernels started together then do not both render the demo.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no lock; make_demo_project is still idempotent
        yield
        return
    with open(folder / ".posekit-demo.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def resolve_project(
    path: str | os.PathLike | None = None,
    *,
    query_string: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Find the project an app works on (see the module docstring for the order).

    Parameters
    ----------
    path
        Project folder or ``config.yaml``; wins over everything else.
    query_string
        Query string of the page (default: the ``QUERY_STRING`` variable Voila sets).
    environ
        Environment to read ``QUERY_STRING``, ``POSEKIT_PROJECT`` and
        ``POSEKIT_DEMO_DIR`` from (default ``os.environ``).

    Returns
    -------
    posekit.engine.project.Project

    Raises
    ------
    posekit.engine.project.ProjectError
        If the chosen folder holds no ``config.yaml`` (the message names the folder and
        where the choice came from).
    posekit.widgets.data_root.DataRootError
        If the page address names a folder outside the data root (the explicit path
        and ``POSEKIT_PROJECT`` are the user's own choices and are not checked).

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> root = tempfile.mkdtemp()
    >>> made = make_demo_project(root, n_frames=30, n_labeled=4)
    >>> env = {"POSEKIT_DATA_ROOT": root}
    >>> resolve_project(query_string=f"project={made.path}", environ=env).path == made.path
    True
    >>> resolve_project(query_string="project=/etc", environ=env)
    Traceback (most recent call last):
    ...
    posekit.widgets.data_root.DataRootError: The project /etc is outside the folders ...
    """
    from ..engine.project import ProjectError, load_project

    env = os.environ if environ is None else environ
    if query_string is None:
        query_string = env.get("QUERY_STRING", "")
    chosen, source = None, ""
    if path is not None:
        chosen, source = str(path), "the path given"
    elif query_params(query_string).get("project"):
        chosen, source = query_params(query_string)["project"], "the page address"
        try:
            chosen = str(check_in_data_root(chosen, environ=env))
        except DataRootError as err:
            raise DataRootError(f"{err} (the project came from {source})") from err
    elif env.get("POSEKIT_PROJECT"):
        chosen, source = env["POSEKIT_PROJECT"], "POSEKIT_PROJECT"
    if chosen is not None:
        try:
            return load_project(chosen)
        except ProjectError as err:
            raise ProjectError(f"{err} (the project came from {source})") from err

    from ..engine.demo import make_demo_project

    folder = demo_dir(env)
    with _exclusive(folder):
        project = make_demo_project(folder)
    logger.info("using the demo project %s", project.path)
    return project


def app_url(notebook: str, project: Project | str | os.PathLike, **params: str) -> str:
    """Relative address of another app on the same project.

    Examples
    --------
    >>> app_url("train.ipynb", "/data/my project")
    'train.ipynb?project=%2Fdata%2Fmy+project'
    """
    path = getattr(project, "path", project)
    return f"{notebook}?{urlencode({'project': str(path), **params})}"


def app_links(
    project: Project | str | os.PathLike,
    *,
    apps: Sequence[AppLink] = APPS,
    notebook_dir: str | os.PathLike | None = None,
) -> str:
    """HTML list of links to the workflow apps, each opening ``project``.

    Parameters
    ----------
    project
        The project (or its folder) the apps open.
    apps
        Which apps (default :data:`APPS`).
    notebook_dir
        Folder of the app notebooks (default: the working directory, which is the
        notebook's folder in Voila and Jupyter). Apps whose notebook is missing are
        listed without a link.

    Returns
    -------
    str
        ``<ol class="posekit-apps">…</ol>``; each link has ``target="_self"``.
    """
    folder = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
    items = []
    for app in apps:
        desc = html.escape(app.description)
        if (folder / app.notebook).is_file():
            href = html.escape(app_url(app.notebook, project), quote=True)
            items.append(
                f'<li><a href="{href}" target="_self" '
                f'class="posekit-app-link" data-app="{app.notebook}" '
                f'style="color:#0969da">'
                f"<b>{html.escape(app.title)}</b></a> — {desc}</li>"
            )
        else:
            items.append(
                f'<li class="posekit-app-missing"><b>{html.escape(app.title)}</b> '
                f"— {desc} <i>(not installed)</i></li>"
            )
    return '<ol class="posekit-apps">' + "".join(items) + "</ol>"


def app_header(
    project: Project,
    title: str,
    *,
    apps: Sequence[AppLink] = APPS,
    notebook_dir: str | os.PathLike | None = None,
):
    """Title bar of an app: its name, the project, and links to home and the other apps.

    Parameters
    ----------
    project
        The project the app works on.
    title
        The app's name (``"Train"``).
    apps, notebook_dir
        As for :func:`app_links`.

    Returns
    -------
    ipywidgets.HTML
    """
    import ipywidgets as w

    folder = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
    links = [
        (AppLink("home.ipynb", "Home", ""), "home"),
        *((app, app.title) for app in apps if app.title != title),
    ]
    # links look like links (underlined, in a link colour, 7.6:1 on white) and are
    # as large as the text around them (QA s15 #13)
    nav = " · ".join(
        f'<a href="{html.escape(app_url(app.notebook, project), quote=True)}" '
        f'target="_self" data-app="{app.notebook}" class="posekit-nav-link" '
        f'style="color:{LINK_COLOR};text-decoration:underline">{html.escape(text)}</a>'
        for app, text in links
        if (folder / app.notebook).is_file()
    )
    return w.HTML(
        f"<div class='posekit-app-header'><h3 style='margin:4px 0'>posekit · "
        f"{html.escape(title)}</h3><small>project <code>{html.escape(project.task)}"
        f"</code> ({html.escape(str(project.path))})</small><br>"
        f"<nav aria-label='posekit apps' class='posekit-nav' "
        f"style='font-size:14px;line-height:1.6'>{nav}</nav></div>"
    )


#: Colour of links (7.6:1 on white).
LINK_COLOR = "#0550ae"

#: Colours of the apps' main buttons, with white text at least 4.5:1 on each (WCAG
#: AA): ``"go"`` (Start training, Analyze videos; Jupyter's green #388e3c is 4.1:1)
#: and ``"stop"`` (Stop training; Jupyter's orange #f57c00 is 2.7:1).
BUTTON_COLORS = {"go": "#2e7d32", "stop": "#b3261e"}


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21).

    Examples
    --------
    >>> round(contrast_ratio("#388e3c", "#ffffff"), 2)
    4.12
    >>> round(contrast_ratio("#000000", "#ffffff"), 1)
    21.0
    """

    def luminance(color: str) -> float:
        c = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def style_button(button: Any, kind: str) -> Any:
    """Colour ``button`` as a :data:`BUTTON_COLORS` kind, with white text.

    Parameters
    ----------
    button
        An ``ipywidgets.Button``.
    kind
        ``"go"`` or ``"stop"``.

    Returns
    -------
    ipywidgets.Button
        The same button.
    """
    button.style.button_color = BUTTON_COLORS[kind]
    button.style.text_color = "white"
    return button


def live_region(widget: Any, *, alert: bool = False) -> Any:
    """Mark ``widget`` as a region a screen reader announces when it changes.

    The page script (:data:`PAGE_JS`, put into every app by :func:`show_app`) gives
    it ``role="status" aria-live="polite"`` (``alert``: ``role="alert"``) and makes
    its content focusable from Python (``widget.focus()``). ipywidgets has no trait
    for ARIA attributes, hence the class.

    Parameters
    ----------
    widget
        An ipywidgets widget whose element stays while its content changes
        (``ipywidgets.HTML``).
    alert
        Announce at once (errors).

    Returns
    -------
    The same widget, with the class ``posekit-live`` (or ``posekit-alert``).
    """
    widget.add_class("posekit-alert" if alert else "posekit-live")
    return widget


#: Style sheet the page script adds once (QA s15 #8, #13): focus rings of 3:1 or
#: more on every control, selected toggle buttons that differ by more than a grey
#: shade, scrollable plots.
PAGE_CSS = """
.jupyter-widgets :focus-visible, .posekit-app-header a:focus-visible,
.jupyter-widget-Collapse-header:focus-visible, .posekit-scroll:focus-visible,
.jupyter-widgets .noUi-handle:focus, .jupyter-widgets select:focus {
  outline: 2px solid #1a4fa0 !important; outline-offset: 1px !important;
}
.jupyter-widgets button.widget-toggle-button.mod-active {
  background-color: #1a4fa0; color: #fff; box-shadow: none; font-weight: bold;
}
.jupyter-widgets button.widget-toggle-button.mod-active:disabled { opacity: 0.6; }
.posekit-scroll { overflow: auto !important; max-width: 100%; }
"""

#: Script put into every app's page (:func:`page_setup`). It sets the page title
#: and, whenever the page changes, gives the widgets what ipywidgets leaves out for
#: a keyboard or screen-reader user (QA s15 #5, #8): accordion headers become
#: buttons (``tabindex=0``, ``aria-expanded``, Enter and Space toggle them),
#: ``posekit-live``/``posekit-alert`` widgets live regions, toggle buttons get
#: ``aria-pressed``, icon-only buttons (Play, Stop, Repeat, refresh) a name, and
#: sliders the name of their label.
PAGE_JS = """
(function () {
  document.title = __TITLE__;
  if (window.posekitA11y) { window.posekitA11y(); return; }
  const style = document.createElement("style");
  style.id = "posekit-a11y-style";
  style.textContent = __CSS__;
  document.head.appendChild(style);
  const ICONS = {"fa-play": "Play", "fa-pause": "Pause", "fa-stop": "Stop",
                 "fa-retweet": "Repeat", "fa-repeat": "Repeat"};
  const SCROLLERS = {"posekit-train-curves": "training curves",
                     "posekit-viewer": "trajectory plots",
                     "posekit-ethogram": "ethogram",
                     "posekit-sessions": "sessions table"};
  const set = (el, name, value) => {
    if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
  };
  const labelOf = (widget) => {
    const label = widget.querySelector(":scope > .widget-label");
    const text = label && label.style.display !== "none" ? label.textContent.trim() : "";
    return text || widget.getAttribute("title") || "";
  };
  const toggle = (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault(); ev.stopPropagation(); ev.currentTarget.click();
    }
  };
  const fix = () => {
    const all = (sel) => document.querySelectorAll(sel);
    all(".posekit-live").forEach((el) => {
      set(el, "role", "status"); set(el, "aria-live", "polite");
    });
    all(".posekit-alert").forEach((el) => {
      set(el, "role", "alert"); set(el, "aria-live", "assertive");
    });
    all(".posekit-live > .widget-html-content, .posekit-alert > .widget-html-content")
      .forEach((el) => set(el, "tabindex", "-1"));
    all(".jupyter-widget-Collapse-header").forEach((el) => {
      set(el, "role", "button"); set(el, "tabindex", "0");
      const open = el.parentElement &&
        el.parentElement.classList.contains("jupyter-widget-Collapse-open");
      set(el, "aria-expanded", open ? "true" : "false");
      if (!el.__posekitKeys) { el.addEventListener("keydown", toggle); el.__posekitKeys = true; }
    });
    all("button.widget-toggle-button").forEach((b) => {
      set(b, "aria-pressed", b.classList.contains("mod-active") ? "true" : "false");
    });
    all("button.jupyter-button").forEach((b) => {
      if (b.textContent.trim()) { return; }
      let name = b.getAttribute("title") || "";
      const icon = b.querySelector("i");
      if (!name && icon) {
        for (const k in ICONS) { if (icon.classList.contains(k)) { name = ICONS[k]; } }
      }
      if (name) { set(b, "aria-label", name); set(b, "title", name); }
    });
    all(".widget-slider").forEach((s) => {
      const name = labelOf(s);
      if (!name) { return; }
      const handles = s.querySelectorAll("[role=slider]");
      handles.forEach((h, i) => set(h, "aria-label", handles.length > 1 ?
        name + (i === 0 ? " (from)" : " (to)") : name));
      s.querySelectorAll(".widget-readout").forEach((r) => {
        set(r, "aria-label", name + " value");
        if (r.isContentEditable) { set(r, "role", "textbox"); }
      });
    });
    all(".widget-text, .widget-textarea").forEach((box) => {
      // a box without a visible label is named by its tooltip
      const field = box.querySelector("input, textarea");
      const label = box.querySelector(":scope > .widget-label");
      if (!field || (label && label.style.display !== "none" &&
                     label.textContent.trim())) { return; }
      const name = box.getAttribute("title") || field.getAttribute("title") ||
        (label && label.getAttribute("title")) || "";
      if (name) { set(field, "aria-label", name); }
    });
    for (const cls in SCROLLERS) {
      all("." + cls + ".posekit-scroll").forEach((el) => {
        set(el, "tabindex", "0"); set(el, "role", "region");
        set(el, "aria-label", SCROLLERS[cls] + " (scrolls sideways)");
      });
    }
    refocus();
  };
  let lastFocused = null;
  document.addEventListener("focusin", (ev) => {
    lastFocused = ev.composedPath ? ev.composedPath()[0] : ev.target;
  }, true);
  const refocus = () => {
    // a focused button that disables itself (Stop training when the run ends) drops
    // the focus to the page's top: it goes to the nearest status line instead,
    // unless Python focused something else (QA s15 #10)
    // (Chromium may keep a disabled button as activeElement until its next
    // rendering update: that counts as lost too, or a busy page kept it there)
    const active = document.activeElement;
    const lost = !active || active === document.body || active.disabled === true;
    if (!lastFocused || !lastFocused.disabled || !lost) { return; }
    for (let a = lastFocused.parentElement; a; a = a.parentElement) {
      const live = a.querySelector(".posekit-live > .widget-html-content");
      if (live) { live.focus(); break; }
    }
    lastFocused = null;
  };
  let pending = false;
  const schedule = () => {
    if (!pending) { pending = true; setTimeout(() => { pending = false; fix(); }, 50); }
  };
  window.posekitA11y = fix;
  new MutationObserver(schedule).observe(document.body, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ["class", "title", "disabled"],
  });
  fix();
})();
"""


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that no markup can close."""
    return (
        json.dumps(text)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def page_script(title: str) -> str:
    """Return :data:`PAGE_JS` for the app ``title`` (page title ``posekit · title``).

    Examples
    --------
    >>> "document.title = " in page_script("Train")
    True
    >>> "</script>" in page_script("</script>")
    False
    """
    return PAGE_JS.replace("__TITLE__", _js_string(f"posekit · {title}")).replace(
        "__CSS__", _js_string(PAGE_CSS)
    )


def page_setup(title: str):
    """Output that runs :func:`page_script` in the page (takes no room).

    Parameters
    ----------
    title
        The app's name (``"Train"``).

    Returns
    -------
    ipywidgets.Output
        With the class ``posekit-page-setup``.
    """
    import ipywidgets as w

    out = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
    out.add_class("posekit-page-setup")
    out.outputs = (
        {
            "output_type": "display_data",
            "data": {"application/javascript": page_script(title), "text/plain": ""},
            "metadata": {},
        },
    )
    return out


def preload_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter silenced.

    TensorFlow writes "Could not find cuda drivers…" and absl warnings straight to
    file descriptor 2, which Jupyter and Voila show as red output in the app. This sets
    ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set) and imports TensorFlow while file
    descriptor 2 points to ``/dev/null``. Idempotent and cheap once imported.
    """
    import sys

    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters)
        from ..engine._tf import tensorflow  # noqa: F401

        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            from ..engine._tf import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: Errors that are bad input (a missing file, a broken config.yaml, a path outside the
#: data root): the command line reports them in one line without a traceback, and so
#: does :func:`app_error`.
_BAD_INPUT = (ValueError, OSError)


#: Advice written for the Python API or the command line, and what an app user does
#: instead (the engine's messages stay as they are; the apps translate them).
_APP_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r";? ?open it with load_project\(\)\.?"),
        ": open it with Home → Open another project.",
    ),
    (
        re.compile(
            r"or create one with posekit\.engine\.create_project / `posekit create`\.?"
        ),
        "or create one with Home → Create a new project.",
    ),
    (
        re.compile(
            r"Train first: posekit\.engine\.train_network\(project\) or "
            r"`posekit train PROJECT`\.?"
        ),
        "Train first: Train app → Start training.",
    ),
    (
        re.compile(
            r"Create it with posekit\.engine\.create_training_dataset\(project\) or "
            r"`posekit create-training-dataset PROJECT`\.?"
        ),
        "The Train app creates it when you start training.",
    ),
    (
        re.compile(r" ?\(extract_outlier_frames / `posekit extract-outliers`\)"),
        " (Refine app → Find outliers, then Extract frames)",
    ),
    (re.compile(r" ?\(posekit extract-outliers\)"), " (Refine app)"),
    (
        re.compile(r"add videos first \(Project\.add_videos, posekit create\)\.?"),
        "add videos first (Home → Add videos).",
    ),
    (re.compile(r"\(add the video with Project\.add_videos\)"), "(Home → Add videos)"),
)


def plain_text(text: str) -> str:
    """Replace advice meant for Python or the command line by what to do in the apps.

    Parameters
    ----------
    text
        A message, usually an engine error's.

    Returns
    -------
    str
        The same message, its Python and command-line advice (``load_project()``,
        ``posekit train PROJECT``) replaced by the app and button to use.

    Examples
    --------
    >>> plain_text("A project already exists at /d/p; open it with load_project().")
    'A project already exists at /d/p: open it with Home → Open another project.'
    """
    for pattern, words in _APP_WORDS:
        text = pattern.sub(words, text)
    return text


def error_message(err: BaseException) -> str:
    """Return what an app shows of an error: its message, never a traceback.

    Bad input (``ValueError``, ``OSError``: a missing or broken file, a path outside
    the data root, a refused setting) is its own message, without the exception's
    class name, which says what was wrong and what to do (advice for Python or the
    command line replaced by the app to use, :func:`plain_text`). Any other error is
    a fault of posekit: it says so, with the error, and points to the server's log,
    where the caller logs the traceback (``logger.exception(...)``).

    Parameters
    ----------
    err
        What went wrong.

    Returns
    -------
    str
        One message for the page.

    Examples
    --------
    >>> error_message(FileNotFoundError("No config.yaml in /data/p: create it first"))
    'No config.yaml in /data/p: create it first'
    >>> from posekit.widgets.data_root import DataRootError
    >>> error_message(DataRootError("The video /etc/x.mp4 is outside the folders"))
    'The video /etc/x.mp4 is outside the folders'
    >>> error_message(KeyError("bodypart"))
    "Something went wrong inside posekit (KeyError: 'bodypart'); the details are in the server's log."
    """  # noqa: E501
    if isinstance(err, _BAD_INPUT):
        return plain_text(str(err))
    return (
        f"Something went wrong inside posekit ({type(err).__name__}: {err}); "
        "the details are in the server's log."
    )


def app_error(err: BaseException, title: str = ""):
    """Build the page an app shows instead of itself when it cannot open.

    The message is the error's own, as the command line prints it
    (``posekit train: error: <message>``), in the words of :func:`error_message`: bad
    input (``ValueError``, ``OSError``: a missing or broken ``config.yaml``, a path
    outside the data root) is shown as its message alone, with the apps named where
    it gives Python or command-line advice; any other error says that it is
    posekit's fault and points to the log. No traceback goes into the page.

    Parameters
    ----------
    err
        What went wrong.
    title
        The app's name (``"Train"``).

    Returns
    -------
    ipywidgets.HTML
        With the class ``posekit-app-error``.
    """
    import ipywidgets as w

    text = error_message(err)
    name = f"posekit · {html.escape(title)}" if title else "posekit"
    box = w.HTML(
        f"<div style='max-width:900px'><h3 style='margin:4px 0'>{name}</h3>"
        "<div role='alert' style='color:#cf222e;border:1px solid #cf222e;"
        "border-radius:4px;"
        "padding:8px 12px;margin:8px 0'><b>The app could not open.</b>"
        f"<pre class='posekit-error-message' style='white-space:pre-wrap;"
        f"margin:6px 0 0 0'>{html.escape(text)}</pre></div>"
        "<small><a href='home.ipynb' target='_self' data-app='home.ipynb'>home</a>"
        "</small></div>"
    )
    box.add_class("posekit-app-error")
    return box


def _build(
    title: str,
    factory: Callable[[Project], Any],
    *,
    header: bool,
    path: str | os.PathLike | None,
    query_string: str | None,
    environ: Mapping[str, str] | None,
    notebook_dir: str | os.PathLike | None,
) -> tuple[list[Any], Exception | None]:
    try:
        project = resolve_project(path, query_string=query_string, environ=environ)
        app = factory(project)
        top = app_header(project, title, notebook_dir=notebook_dir) if header else None
    except Exception as err:  # noqa: BLE001 - shown in the page
        logger.info("the %s app could not open: %s", title or "posekit", err)
        return [app_error(err, title)], err
    return ([top, app] if top is not None else [app]), None


def build_app(
    title: str,
    factory: Callable[[Project], Any],
    *,
    header: bool = True,
    path: str | os.PathLike | None = None,
    query_string: str | None = None,
    environ: Mapping[str, str] | None = None,
    notebook_dir: str | os.PathLike | None = None,
) -> list[Any]:
    """Build an app: its project, its title bar and the app; or the error page.

    Parameters
    ----------
    title
        The app's name (``"Train"``).
    factory
        Builds the app on the project (``TrainingDashboard``).
    header
        Put :func:`app_header` above the app.
    path, query_string, environ
        As for :func:`resolve_project`.
    notebook_dir
        As for :func:`app_header`.

    Returns
    -------
    list
        What to display, in order: the title bar and the app, or only
        :func:`app_error` when finding the project or building the app failed.

    Examples
    --------
    >>> import tempfile
    >>> env = {"POSEKIT_DATA_ROOT": tempfile.gettempdir()}
    >>> (page,) = build_app("Train", print, environ=env,
    ...                     query_string=f"project={tempfile.mkdtemp()}")
    >>> "No config.yaml" in page.value
    True
    """
    parts, _ = _build(
        title,
        factory,
        header=header,
        path=path,
        query_string=query_string,
        environ=environ,
        notebook_dir=notebook_dir,
    )
    return parts


def show_app(
    title: str,
    factory: Callable[[Project], Any],
    *,
    header: bool = True,
    path: str | os.PathLike | None = None,
    query_string: str | None = None,
    environ: Mapping[str, str] | None = None,
    notebook_dir: str | os.PathLike | None = None,
) -> None:
    """Display an app (see :func:`build_app`): what an app notebook calls.

    Bad input (a broken ``config.yaml``, a path outside the data root) is shown in
    the page and nothing else happens. Any other error is shown in the page too and
    then raised, so that its traceback reaches the server's log (Voila logs it and
    adds its own one-line note under the message).

    Parameters
    ----------
    title
        The app's name.
    factory
        Builds the app on the project.
    header
        Put the title bar with the links above the app.
    path, query_string, environ, notebook_dir
        As for :func:`build_app`.

    Raises
    ------
    Exception
        An error that is not bad input, after it was shown.
    """
    from IPython.display import display

    parts, err = _build(
        title,
        factory,
        header=header,
        path=path,
        query_string=query_string,
        environ=environ,
        notebook_dir=notebook_dir,
    )
    for part in parts:
        display(part)
    display(page_setup(title or "Home"))  # page title, ARIA fixes, focus rings
    if err is not None and not isinstance(err, _BAD_INPUT):
        raise err
