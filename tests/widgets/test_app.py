"""App plumbing: which project an app opens (argument, query string, env, demo)."""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.project import ProjectError, create_project, load_project
from posekit.widgets.app import (
    APPS,
    BUTTON_COLORS,
    app_header,
    app_links,
    app_url,
    build_app,
    demo_dir,
    error_message,
    live_region,
    plain_text,
    query_params,
    query_path,
    resolve_project,
    show_app,
    style_button,
)
from posekit.widgets.app import (
    contrast_ratio as contrast,
)
from posekit.widgets.data_root import DataRootError, data_roots


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("projects")
    a = create_project("alpha", "me", working_directory=root / "a", bodyparts=["x"])
    b = create_project("beta", "me", working_directory=root / "b", bodyparts=["y"])
    return a.path, b.path


def test_query_params_decodes_and_strips_question_mark() -> None:
    assert query_params("?project=%2Fdata%2Fmy%20proj&shuffle=2") == {
        "project": "/data/my proj",
        "shuffle": "2",
    }
    assert query_params("") == {}


def test_query_params_reads_voilas_env(monkeypatch) -> None:
    monkeypatch.setenv("QUERY_STRING", "project=/x/y")
    assert query_params() == {"project": "/x/y"}


def test_resolve_project_from_env(two_projects, monkeypatch) -> None:
    a, _ = two_projects
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.setenv("POSEKIT_PROJECT", str(a))
    project = resolve_project()
    assert project.path == a
    assert project.task == "alpha"


def test_resolve_project_from_query_string_wins_over_env(
    two_projects, monkeypatch
) -> None:
    a, b = two_projects
    monkeypatch.setenv("POSEKIT_DATA_ROOT", str(a.parent.parent))
    monkeypatch.setenv("POSEKIT_PROJECT", str(a))
    # what Voila puts in the kernel's environment for train.ipynb?project=<b>
    monkeypatch.setenv("QUERY_STRING", app_url("train.ipynb", b).split("?", 1)[1])
    assert resolve_project().path == b
    # an explicit query string, and an explicit path, win too
    assert resolve_project(query_string=f"project={a}").path == a
    assert resolve_project(b / "config.yaml", query_string=f"project={a}").path == b


def test_resolve_project_query_string_with_spaces(tmp_path) -> None:
    p = create_project("gamma", "me", working_directory=tmp_path / "with space")
    qs = urlsplit(app_url("label.ipynb", p)).query
    env = {"POSEKIT_DATA_ROOT": str(tmp_path)}
    assert resolve_project(query_string=qs, environ=env).path == p.path


def test_resolve_project_bad_path_says_where_it_came_from(tmp_path) -> None:
    env = {"POSEKIT_DATA_ROOT": str(tmp_path)}
    with pytest.raises(ProjectError, match="page address"):
        resolve_project(query_string=f"project={tmp_path / 'nothing'}", environ=env)
    with pytest.raises(ProjectError, match="POSEKIT_PROJECT"):
        resolve_project(environ={"POSEKIT_PROJECT": str(tmp_path / "nothing")})


def test_resolve_project_builds_the_demo_once(tmp_path) -> None:
    env = {"POSEKIT_DEMO_DIR": str(tmp_path / "demo")}
    assert demo_dir(env) == (tmp_path / "demo").resolve()
    # a small demo built beforehand is opened, not rebuilt (make_demo_project is
    # idempotent); resolve_project finds it in POSEKIT_DEMO_DIR
    made = make_demo_project(tmp_path / "demo", n_frames=30, n_labeled=4)
    mtime = made.config_path.stat().st_mtime_ns
    project = resolve_project(environ=env, query_string="")
    assert project.path == made.path
    assert project.config_path.stat().st_mtime_ns == mtime
    assert project.bodyparts == made.bodyparts


def test_default_demo_dir_is_in_home(monkeypatch) -> None:
    assert demo_dir({}) == (Path.home() / "posekit-demo").resolve()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def test_app_links_are_relative_and_work_in_tree_mode_and_on_binder(
    two_projects, tmp_path
) -> None:
    a, _ = two_projects
    for app in APPS[:3]:
        (tmp_path / app.notebook).write_text("{}")
    text = app_links(a, notebook_dir=tmp_path)
    parser = _Links()
    parser.feed(text)
    assert len(parser.hrefs) == 3  # only the apps whose notebook exists are links
    assert "not installed" in text
    for base in (
        "http://localhost:8866/voila/render/home.ipynb",  # voila notebooks/
        "https://hub.mybinder.org/user/x-1/voila/render/notebooks/home.ipynb",
    ):
        folder = base.rsplit("/", 1)[0]
        for href in parser.hrefs:
            url = urlsplit(urljoin(base, href))
            assert url.path.startswith(urlsplit(folder).path + "/")
            assert re.fullmatch(r".*/(label|train|analyze)\.ipynb", url.path)
            assert parse_qs(url.query)["project"] == [str(a)]


# --- the data root: the page address opens only projects inside it ----------------


@pytest.fixture
def rooted(tmp_path) -> tuple[Path, Path, dict[str, str]]:
    """Make a data root with a project inside, one outside, and the environment."""
    root = tmp_path / "root"
    inside = create_project("inside", "me", working_directory=root, bodyparts=["x"])
    outside = create_project(
        "outside", "me", working_directory=tmp_path / "elsewhere", bodyparts=["x"]
    )
    env = {"POSEKIT_DATA_ROOT": str(root), "POSEKIT_DEMO_DIR": str(tmp_path / "demo")}
    return inside.path, outside.path, env


def test_page_address_opens_a_project_inside_the_data_root(rooted) -> None:
    inside, _, env = rooted
    project = resolve_project(query_string=f"project={inside}", environ=env)
    assert project.path == inside
    # relative to the data root
    rel = inside.relative_to(Path(env["POSEKIT_DATA_ROOT"]))
    assert resolve_project(query_string=f"project={rel}", environ=env).path == inside


def test_page_address_refuses_a_project_outside_the_data_root(rooted) -> None:
    _, outside, env = rooted
    with pytest.raises(DataRootError) as info:
        resolve_project(query_string=f"project={outside}", environ=env)
    message = str(info.value)
    assert f"The project {outside} is outside the folders the apps may open" in message
    assert env["POSEKIT_DATA_ROOT"] in message
    assert "POSEKIT_DATA_ROOT" in message and "make app DATA_ROOT=" in message
    assert "(the project came from the page address)" in message


def test_page_address_refuses_climbing_out_with_dotdot(rooted) -> None:
    inside, outside, env = rooted
    climbing = f"{env['POSEKIT_DATA_ROOT']}/../elsewhere/{outside.name}"
    with pytest.raises(DataRootError, match=f"it leads to {outside}"):
        resolve_project(query_string=f"project={climbing}", environ=env)
    with pytest.raises(DataRootError):
        resolve_project(query_string="project=../elsewhere", environ=env)
    # a .. that stays inside is fine
    detour = f"{inside.parent}/../{inside.parent.name}/{inside.name}"
    assert resolve_project(query_string=f"project={detour}", environ=env).path == inside


def test_page_address_refuses_a_symlink_pointing_out(rooted) -> None:
    inside, outside, env = rooted
    link = Path(env["POSEKIT_DATA_ROOT"]) / "link-to-elsewhere"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(DataRootError, match=f"it leads to {outside}"):
        resolve_project(query_string=f"project={link}", environ=env)
    # a link inside the root to a project inside is fine
    ok = Path(env["POSEKIT_DATA_ROOT"]) / "link-inside"
    ok.symlink_to(inside, target_is_directory=True)
    assert resolve_project(query_string=f"project={ok}", environ=env).path == inside


def test_python_api_and_posekit_project_are_not_restricted(rooted) -> None:
    _, outside, env = rooted
    assert resolve_project(outside, environ=env).path == outside
    env = {**env, "POSEKIT_PROJECT": str(outside)}
    assert resolve_project(environ=env, query_string="").path == outside
    # the server was started on that project: its links (?project=...) open it too
    assert resolve_project(query_string=f"project={outside}", environ=env).path == (
        outside
    )


def test_data_roots_default_home_plus_demo_and_started_project(tmp_path) -> None:
    env = {"POSEKIT_DEMO_DIR": str(tmp_path / "demo")}
    assert data_roots(env) == (Path.home().resolve(), (tmp_path / "demo").resolve())
    env["POSEKIT_DATA_ROOT"] = f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"
    env["POSEKIT_PROJECT"] = str(tmp_path / "p" / "config.yaml")
    assert data_roots(env) == tuple(
        (tmp_path / n).resolve() for n in ("a", "b", "demo", "p")
    )


def test_query_path_checks_the_data_root(rooted) -> None:
    inside, outside, env = rooted
    qs = f"predictions={inside / 'videos' / 'x.h5'}&other=1"
    assert query_path("predictions", query_string=qs, environ=env) == (
        inside / "videos" / "x.h5"
    )
    assert query_path("poses", query_string=qs, environ=env) is None
    with pytest.raises(DataRootError, match="The predictions file"):
        query_path(
            "predictions", query_string=f"predictions={outside}/a.h5", environ=env
        )


# --- errors in the page -------------------------------------------------------------


def test_build_app_shows_a_broken_config_in_the_clis_words(rooted) -> None:
    inside, _, env = rooted
    with open(inside / "config.yaml", "a") as fh:
        fh.write("bodyparts: [unclosed\n")
    with pytest.raises(ProjectError) as cli_error:  # what the CLI prints
        load_project(inside)
    built = []
    parts = build_app(
        "Train", built.append, query_string=f"project={inside}", environ=env
    )
    assert built == []
    (page,) = parts
    assert "posekit-app-error" in page._dom_classes
    assert "The app could not open." in page.value
    assert html.escape(str(cli_error.value)) in page.value
    assert "is not valid YAML" in page.value
    assert "Traceback" not in page.value and "ProjectError" not in page.value


def test_build_app_builds_the_header_and_the_app(rooted, tmp_path) -> None:
    inside, _, env = rooted
    (tmp_path / "home.ipynb").write_text("{}")
    header, app = build_app(
        "Train",
        lambda p: ("app on", p.path),
        query_string=f"project={inside}",
        environ=env,
        notebook_dir=tmp_path,
    )
    assert app == ("app on", inside)
    assert "posekit · Train" in header.value and 'data-app="home.ipynb"' in header.value
    (only,) = build_app(
        "Home", lambda p: p.task, header=False, path=inside, environ=env
    )
    assert only == "inside"


def test_unexpected_errors_are_shown_then_raised_for_the_log(rooted, monkeypatch):
    inside, _, env = rooted

    def broken_app(project):
        raise KeyError("bodypart")

    (page,) = build_app("Label", broken_app, path=inside, environ=env)
    assert "KeyError: &#x27;bodypart&#x27;" in page.value
    assert "the details are in the server&#x27;s log" in page.value
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    with pytest.raises(KeyError):
        show_app("Label", broken_app, path=inside, environ=env)
    assert len(shown) == 2 and "posekit-app-error" in shown[0]._dom_classes
    assert "posekit-page-setup" in shown[1]._dom_classes  # the page script last
    # bad input is shown and not raised
    shown.clear()
    show_app("Label", broken_app, path=inside / "nothing", environ=env)
    assert "No config.yaml" in shown[0].value


@pytest.mark.parametrize(
    "module, name",
    [
        ("home", "HomeApp"),
        ("label_app", "LabelApp"),
        ("training_dashboard", "TrainingDashboard"),
        ("analysis_panel", "AnalysisPanel"),
        ("trajectory_viewer", "TrajectoryApp"),
        ("refine_app", "RefineApp"),
        ("behavior_app", "BehaviorApp"),
    ],
)
def test_every_app_opens_a_project_folder_given_in_jupyterlab(
    two_projects, module, name
) -> None:
    """``App("~/myproject")`` in a notebook (five apps raised AttributeError: 'str')."""
    import importlib

    cls = getattr(importlib.import_module(f"posekit.widgets.{module}"), name)
    path = two_projects[0]
    app = cls(str(path))
    project = app.model.project if hasattr(app, "model") else app.project
    assert project.path == path and project.task == "alpha"


# --- QA s14 #12: the words an app user reads -----------------------------------------


@pytest.mark.parametrize(
    "engine_text, app_words, python",
    [
        (
            "A project already exists at /d/p; open it with load_project().",
            "A project already exists at /d/p: open it with Home → Open another project.",
            "load_project",
        ),
        (
            "No config.yaml at /d/config.yaml. Pass a project folder (one that holds "
            "config.yaml) or create one with posekit.engine.create_project / "
            "`posekit create`.",
            "or create one with Home → Create a new project.",
            "posekit",
        ),
        (
            "No trained snapshot in /d/train. Train first: "
            "posekit.engine.train_network(project) or `posekit train PROJECT`.",
            "Train first: Train app → Start training.",
            "posekit",
        ),
        (
            "Nothing to merge: no frame was labelled since the training set of "
            "iteration 1. Extract outlier frames (extract_outlier_frames / "
            "`posekit extract-outliers`), correct them in the labeller, then merge.",
            "Extract outlier frames (Refine app → Find outliers, then Extract frames),",
            "extract_outlier_frames",
        ),
    ],
)
def test_plain_text_names_the_app_instead_of_python(engine_text, app_words, python):
    text = plain_text(engine_text)
    assert app_words in text and python not in text


def test_error_message_has_no_class_name(rooted) -> None:
    from posekit.engine.io.dlc import LabelError

    inside, _, env = rooted
    with pytest.raises(ProjectError) as info:
        load_project(inside / "nothing")
    text = error_message(info.value)
    assert text.startswith("No config.yaml") and "ProjectError" not in text
    assert "Home → Create a new project" in text
    assert error_message(LabelError("Nothing to merge")) == "Nothing to merge"
    assert "DataRootError" not in error_message(DataRootError("outside"))
    unexpected = error_message(KeyError("bodypart"))
    assert unexpected.startswith("Something went wrong inside posekit")
    assert "the details are in the server's log" in unexpected
    # the page an app shows when it cannot open says what to do in the apps
    (page,) = build_app("Train", print, path=inside / "nothing", environ=env)
    assert "Home → Create a new project" in page.value
    assert "posekit.engine" not in page.value


# ---------------------------------------------------------------- QA s15 (keyboard)
def test_contrast_ratio_knows_the_failing_colours() -> None:
    # QA s15 #13 measured these in the browser (contrast.js)
    assert round(contrast("#388e3c", "#ffffff"), 2) == 4.12
    assert round(contrast("#0097a7", "#ffffff"), 2) == 3.51
    assert round(contrast("#ff0000", "#ffffff"), 1) == 4.0
    assert contrast("#f57c00", "#ffffff") < 3


def test_every_app_page_gets_its_title_and_the_accessibility_script(
    rooted, monkeypatch
) -> None:
    """QA s15 #5, #8, #13: one script per page; the title names the app."""
    inside, _, env = rooted
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    show_app("Train", lambda p: "the app", path=inside, environ=env)
    setup = shown[-1]
    assert "posekit-page-setup" in setup._dom_classes
    (out,) = setup.outputs
    script = out["data"]["application/javascript"]
    assert 'document.title = "posekit \\u00b7 Train"' in script
    for needed in (
        "jupyter-widget-Collapse-header",  # accordion headers become buttons
        '"aria-expanded"',
        '"tabindex", "0"',
        '"aria-pressed"',  # toggle buttons
        '"aria-live", "polite"',  # .posekit-live
        '"role", "alert"',  # .posekit-alert
        '"fa-play": "Play"',  # icon-only buttons get a name
        "[role=slider]",  # sliders get their label's name
        "outline: 2px solid #1a4fa0",  # focus ring, 7.9:1 on white
        "MutationObserver",
        "lastFocused.disabled",  # a button that disables itself hands the focus on
    ):
        assert needed in script, needed
    assert contrast("#1a4fa0", "#ffffff") >= 3 and contrast("#1a4fa0", "#eeeeee") >= 3
    assert "</" not in script  # nothing in it can close a tag


def test_header_links_look_like_links(tmp_path) -> None:
    """QA s15 #13: underlined, in a link colour, and not smaller than the text."""
    project = create_project("nav", "me", working_directory=tmp_path, bodyparts=["x"])
    for name in ("home.ipynb", "train.ipynb"):
        (tmp_path / name).write_text("{}")
    value = app_header(project, "Label", notebook_dir=tmp_path).value
    links = re.findall(r"<a [^>]*>", value)
    assert len(links) == 2
    for link in links:
        assert "text-decoration:underline" in link
    assert "<nav aria-label='posekit apps'" in value and "font-size:14px" in value
    assert "<small><a" not in value


@pytest.mark.parametrize("kind", sorted(BUTTON_COLORS))
def test_button_colours_keep_white_text_readable(kind) -> None:
    import ipywidgets as w

    button = style_button(w.Button(description="x", button_style="success"), kind)
    assert button.style.text_color == "white"
    assert contrast(button.style.button_color, "#ffffff") >= 4.5


def test_live_regions_and_the_error_page_are_announced(rooted) -> None:
    import ipywidgets as w

    assert "posekit-live" in live_region(w.HTML())._dom_classes
    assert "posekit-alert" in live_region(w.HTML(), alert=True)._dom_classes
    inside, _, env = rooted
    (page,) = build_app("Train", print, path=inside / "nothing", environ=env)
    assert "role='alert'" in page.value
