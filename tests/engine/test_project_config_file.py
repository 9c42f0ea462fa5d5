"""A config.yaml that is a folder, or empty, is named as such."""

from __future__ import annotations

import pytest

from posekit.engine.project import ProjectError, load_project


def test_config_yaml_that_is_a_folder(tmp_path):
    (tmp_path / "config.yaml").mkdir()
    with pytest.raises(ProjectError, match="config.yaml is a folder, not a file"):
        load_project(tmp_path)


def test_empty_config_yaml(demo_project):
    (demo_project.path / "config.yaml").write_text("")
    with pytest.raises(ProjectError, match="config.yaml is empty"):
        load_project(demo_project.path)
