r"""A config.yaml DeepLabCut wrote on Windows in cp1252 (QA s24 paths #4).

DeepLabCut's ``write_config`` opens the file without ``encoding=``, so on a
Western-European Windows machine ``C:\Users\Müller\…`` is written in cp1252. posekit
reads it (one warning says so), leaves it as it is, and writes UTF-8 when it saves.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from posekit.engine.cli import main
from posekit.engine.project import ProjectError, load_project

KEY = "C:\\Users\\Müller\\videos\\session1.mp4"


def _cp1252_config(project) -> tuple[Path, bytes]:
    config = project.path / "config.yaml"
    text = config.read_text(encoding="utf-8")
    old_key = next(iter(project.video_sets))
    text = text.replace(old_key, KEY).replace(
        "project_path: ", "project_path: C:\\Users\\Müller\\Desktop\\demo #", 1
    )
    data = text.encode("cp1252")
    config.write_bytes(data)
    return config, data


def _encoding_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "cp1252" in r.getMessage()
    ]


def test_cp1252_config_is_read_and_left_alone(demo_project, caplog, capsys):
    config, data = _cp1252_config(demo_project)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = load_project(config.parent)
    assert list(project.video_sets) == [KEY]
    assert project.videos() == [project.path / "videos" / "session1.mp4"]
    assert project.path == config.parent.resolve()
    (warning,) = _encoding_warnings(caplog)
    assert str(config) in warning
    assert "not UTF-8 (byte 0xfc on line" in warning
    assert "read as Windows cp1252" in warning
    assert config.read_bytes() == data

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["label", str(config.parent)]) == 0
    assert "session1: 12 of " in capsys.readouterr().out
    assert len(_encoding_warnings(caplog)) == 1
    assert config.read_bytes() == data

    # posekit writes it: UTF-8 from then on, the key kept
    project.cfg["pcutoff"] = 0.42
    project.save()
    text = config.read_bytes().decode("utf-8")
    assert KEY in text
    assert "pcutoff: 0.42" in text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        again = load_project(config.parent)
    assert _encoding_warnings(caplog) == []
    assert list(again.video_sets) == [KEY]
    assert again.cfg["pcutoff"] == 0.42


def test_cp1252_config_saves_single_keys(demo_project):
    config, _ = _cp1252_config(demo_project)
    project = load_project(config.parent)
    project.cfg["iteration"] = 3
    project.save(["iteration"])
    text = config.read_bytes().decode("utf-8")
    assert "iteration: 3" in text
    assert KEY in text


@pytest.mark.parametrize(
    "data",
    [
        b"Task: x\n\xff\xfe\x00garbage",  # a NUL byte
        b"Task: x\nscorer: \x81\x8d\n",  # bytes cp1252 does not define
        b"Task: \xe9\x01\x02\x03\x1b\n",  # control characters
    ],
)
def test_binary_config_is_still_refused(tmp_path, data):
    config = tmp_path / "config.yaml"
    config.write_bytes(data)
    with pytest.raises(ProjectError, match="not a text"):
        load_project(tmp_path)
    assert config.read_bytes() == data
