"""App plumbing: which project an app opens (argument, query string, env, demo)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.project import ProjectError, create_project
from posekit.widgets.app import (
    APPS,
    app_links,
    app_url,
    demo_dir,
    query_params,
    resolve_project,
)


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
    assert resolve_project(query_string=qs, environ={}).path == p.path


def test_resolve_project_bad_path_says_where_it_came_from(tmp_path) -> None:
    with pytest.raises(ProjectError, match="page address"):
        resolve_project(query_string=f"project={tmp_path / 'nothing'}", environ={})
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
