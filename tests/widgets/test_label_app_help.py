"""The Label app's help leaves JupyterLab's keys out when Voila serves it.

QA s22 (workshop) finding 6: the help under the labeller told the Voila app's users
that "x does not cut the cell", a JupyterLab notebook's concern. Voila sets
``SERVER_SOFTWARE=voila/<version>`` (and ``VOILA_*`` variables) for the kernel of a
page it renders; a notebook's kernel has none of them.
"""

from __future__ import annotations

import pytest

from posekit.engine.demo import make_demo_project
from posekit.widgets.label_app import LabelApp
from posekit.widgets.labeler import NOTEBOOK_KEYS_RULE, OWN_KEYS_RULE

VOILA_VARIABLES = ("SERVER_SOFTWARE", "VOILA_KERNEL_ID", "VOILA_BASE_URL",
                   "VOILA_SERVER_URL")  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_demo_project(
        tmp_path_factory.mktemp("label"), n_frames=40, n_labeled=3, size=(160, 120)
    )


@pytest.fixture
def notebook_kernel(monkeypatch):
    for name in VOILA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def help_text(project) -> str:
    return LabelApp(project, threaded=False).labeler.help.value


def test_in_jupyterlab_the_help_says_where_the_keys_work(project, notebook_kernel):
    text = help_text(project)
    assert "x does not cut the cell" in text
    assert "JupyterLab notebook" in text


@pytest.mark.parametrize(
    "variables",
    [
        {"SERVER_SOFTWARE": "voila/0.5.13", "QUERY_STRING": "project=/data/demo"},
        {"VOILA_KERNEL_ID": "5f0c", "VOILA_BASE_URL": "/"},  # a pre-heated kernel
    ],
)
def test_in_voila_the_help_leaves_jupyterlab_out(
    project, notebook_kernel, monkeypatch, variables
):
    notebook = help_text(project)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    text = help_text(project)
    assert "cut the cell" not in text and "JupyterLab" not in text
    assert "tab bar, slider" in text  # the rest of the help is there
    assert "Every change is saved at once" in text
    assert len(text) < len(notebook) - len(NOTEBOOK_KEYS_RULE) + 10
    assert OWN_KEYS_RULE in text
