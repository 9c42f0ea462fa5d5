"""The viewer app opened on a predictions file takes that file's project.

QA s18 (multianimal #2): ``viewer.ipynb?predictions=<…_el.h5 of project P>`` showed
"project demo (~/posekit-demo/…)" and built the one-animal demo in the home folder
while the page loaded: the app found its project as every app does (``?project=``,
``POSEKIT_PROJECT``, else the demo) before it looked at the predictions file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_predictions, write_predictions
from posekit.widgets.trajectory_viewer import TrajectoryApp, show_trajectory_app

SCORER = "DLC_mobnet_35_social2Jan1shuffle1_1404"


@pytest.fixture(scope="module")
def social(tmp_path_factory):
    """Make a tiny two-mouse project under a data root, with ``_el`` tracks."""
    root = tmp_path_factory.mktemp("data")
    project = make_demo_project(
        root, n_frames=12, n_labeled=0, n_animals=2, size=(160, 120)
    )
    truth = read_predictions(project.path / "ground-truth" / "session1_keypoints.h5")
    truth = truth.rename(columns={"GroundTruth": SCORER}, level="scorer")
    el = write_predictions(
        truth, project.path / "videos" / f"session1{SCORER}_el.h5", key="tracks"
    )
    return root, project, el


@pytest.fixture
def page(social, tmp_path, monkeypatch):
    """``show(query)`` displays the app as ``viewer.ipynb`` does; HOME is empty."""
    root, _, _ = social
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("POSEKIT_DEMO_DIR", "POSEKIT_PROJECT", "QUERY_STRING"):
        monkeypatch.delenv(name, raising=False)
    shown: list = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    env = {"POSEKIT_DATA_ROOT": str(root), "HOME": str(home)}

    def show(query: str, **more: str) -> list:
        shown.clear()
        show_trajectory_app(
            query_string=query, environ={**env, **more}, notebook_dir=tmp_path
        )
        return list(shown)

    show.home = home
    return show


def _no_project_in(home: Path) -> bool:
    """Whether ``home`` holds no project (IPython's and matplotlib's settings may be)."""
    return not (home / "posekit-demo").exists() and not any(home.rglob("config.yaml"))


def test_the_page_opens_the_project_the_predictions_lie_in(social, page) -> None:
    _, project, el = social
    header, app, setup = page(f"predictions={el}")
    assert f"project <code>social2</code> ({project.path})" in header.value
    assert "demo" not in header.value
    assert app.project.path == project.path
    assert app.viewer.model.source == el and app.viewer.model.project is not None
    assert app.viewer.model.individuals == ["mouse1", "mouse2"]
    assert app.dropdown.value == str(el)
    assert "posekit-page-setup" in setup._dom_classes
    assert _no_project_in(page.home)  # no demo built in the home folder


def test_the_files_project_wins_over_posekit_project_the_address_over_both(
    social, page, tmp_path
) -> None:
    _, project, el = social
    other = make_demo_project(tmp_path / "other", n_frames=12, n_labeled=0)
    header, app, _ = page(f"predictions={el}", POSEKIT_PROJECT=str(other.path))
    assert str(project.path) in header.value and app.project.path == project.path
    # ?project= in the address is the user's choice: kept, the file opened in it
    header, app, _ = page(
        f"project={project.path}&predictions={el}", POSEKIT_PROJECT=str(other.path)
    )
    assert str(project.path) in header.value and app.viewer.model.source == el
    assert _no_project_in(page.home)


def test_a_file_outside_any_project_opens_alone(social, page) -> None:
    root, _, el = social
    loose = root / "loose" / el.name
    loose.parent.mkdir(exist_ok=True)
    shutil.copy(el, loose)
    header, app, _ = page(f"predictions={loose}")
    assert "no project" in header.value and loose.name in header.value
    assert app.project is None and app.files == [loose]
    assert app.viewer.model.source == loose and app.viewer.model.project is None
    assert _no_project_in(page.home)


def test_a_file_outside_the_data_root_is_refused_without_a_demo(
    social, page, tmp_path
) -> None:
    _, _, el = social
    outside = tmp_path / "elsewhere" / el.name
    outside.parent.mkdir()
    shutil.copy(el, outside)
    error, setup = page(f"predictions={outside}")
    assert "posekit-app-error" in error._dom_classes
    assert "outside the folders the apps may open" in error.value
    assert "posekit-page-setup" in setup._dom_classes
    assert _no_project_in(page.home)


def test_the_app_finds_the_project_of_its_file(social) -> None:
    _, project, el = social
    app = TrajectoryApp(predictions=el, load_bokehjs=False)
    assert app.project.path == project.path
    assert app.viewer.model.source == el
    with pytest.raises(ValueError, match="needs a project or a predictions file"):
        TrajectoryApp()


def test_without_a_predictions_file_the_page_is_as_before(page, tmp_path) -> None:
    """No file named: the demo is the last resort, as in every app."""
    demo = tmp_path / "demo-dir"
    header, app, _ = page("", POSEKIT_DEMO_DIR=str(demo))
    assert "demo" in header.value and str(demo) in header.value
    assert app.project.path.parent == demo.resolve()
    assert _no_project_in(page.home)


def test_the_notebook_calls_the_page_function() -> None:
    import json

    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "viewer.ipynb"
    (cell,) = json.loads(notebook.read_text())["cells"]
    assert "".join(cell["source"]).rstrip().endswith("show_trajectory_app()")
