"""DeepLabCut-compatible projects: config.yaml round trips and the folder layout."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
import yaml

from posekit.engine.project import (
    DisplaySettings,
    Project,
    ProjectError,
    create_project,
    find_project,
    find_video,
    index_length,
    is_labeled_video,
    load_project,
)

#: Every key DeepLabCut 2.x's ``create_new_project`` writes (single animal).
DLC2_KEYS = [
    "Task",
    "scorer",
    "date",
    "multianimalproject",
    "identity",
    "project_path",
    "video_sets",
    "bodyparts",
    "start",
    "stop",
    "numframes2pick",
    "skeleton",
    "skeleton_color",
    "pcutoff",
    "dotsize",
    "alphavalue",
    "colormap",
    "TrainingFraction",
    "iteration",
    "default_net_type",
    "default_augmenter",
    "snapshotindex",
    "batch_size",
    "cropping",
    "x1",
    "x2",
    "y1",
    "y2",
    "corner2move2",
    "move2corner",
]

DATE = dt.date(2024, 3, 7)


# ---------------------------------------------------------------- the real project


def test_openfield_opens_unchanged(openfield_dir: Path) -> None:
    config = openfield_dir / "config.yaml"
    before = config.read_bytes()
    project = load_project(openfield_dir)
    assert config.read_bytes() == before  # loading never writes
    assert project.path == openfield_dir.resolve()
    assert project.task == "openfield"
    assert project.scorer == "Pranav"
    assert project.date == "Oct30"
    assert project.multianimal is False  # `multianimalproject:` is empty
    assert project.bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    assert project.skeleton == []
    assert project.pcutoff == 0.4
    assert project.training_fractions == [0.95]
    assert project.iteration == 0
    assert project.net_type == "resnet_50"
    # DLC's demo placeholder is replaced in memory by the real folder
    assert project.get("project_path") == str(openfield_dir.resolve())
    assert list(project.video_sets) == ["WILL BE AUTOMATICALLY UPDATED BY DEMO CODE"]
    assert project.video_sets["WILL BE AUTOMATICALLY UPDATED BY DEMO CODE"] == {
        "crop": "0, 640, 0, 480"
    }
    assert [v.relative_to(project.path).as_posix() for v in project.videos()] == [
        "videos/m3v1mp4.mp4"
    ]
    assert project.labeled_videos() == ["m4s1"]
    assert project.labels_path("m4s1") == (
        project.path / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    )
    assert project.labels_path("/somewhere/else/m4s1.avi") == project.labels_path(
        "m4s1"
    )


def test_openfield_from_config_path(openfield_dir: Path) -> None:
    project = load_project(openfield_dir / "config.yaml")
    assert project.path == openfield_dir.resolve()
    assert project.config_path == openfield_dir.resolve() / "config.yaml"


def test_openfield_layout_names(openfield_dir: Path) -> None:
    project = load_project(openfield_dir)
    root = project.path
    assert project.training_set_dir() == (
        root / "training-datasets" / "iteration-0" / "UnaugmentedDataSet_openfieldOct30"
    )
    assert project.model_dir() == (
        root / "dlc-models" / "iteration-0" / "openfieldOct30-trainset95shuffle1"
    )
    assert project.model_dir(shuffle=3, train_fraction=0.8) == (
        root / "dlc-models" / "iteration-0" / "openfieldOct30-trainset80shuffle3"
    )
    assert project.evaluation_dir(2) == (
        root
        / "evaluation-results"
        / "iteration-0"
        / "openfieldOct30-trainset95shuffle2"
    )
    project.set("iteration", 2)
    assert project.training_set_dir().parent.name == "iteration-2"


def test_config_round_trip_keeps_unknown_keys_and_comments(
    openfield_copy: Path,
) -> None:
    original = (openfield_copy / "config.yaml").read_text()
    project = load_project(openfield_copy)
    project.save()
    saved = (openfield_copy / "config.yaml").read_text()
    # only the placeholder project_path line changes
    old_lines, new_lines = original.splitlines(), saved.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [
        (
            "project_path: WILL BE AUTOMATICALLY UPDATED BY DEMO CODE",
            f"project_path: {openfield_copy.resolve()}",
        )
    ]
    for comment in (
        "# Project definitions (do not edit)",
        "#if cropping is true for analysis, then set the values here:",
        "# Conversion tables to fine-tune SuperAnimal weights",
    ):
        assert comment in saved
    again = load_project(openfield_copy)
    assert again.get("engine") == "pytorch"
    assert again.get("SuperAnimalConversionTables") == {
        "superanimal_topviewmouse": {
            "snout": "nose",
            "leftear": "left_ear",
            "rightear": "right_ear",
            "tailbase": "tail_base",
        }
    }
    assert again.get("detector_batch_size") == 1


def test_set_and_save_new_key(openfield_copy: Path) -> None:
    project = load_project(openfield_copy)
    project.set("numframes2pick", 33)
    project.set("posekit_note", "added by a test")
    project.save()
    plain = yaml.safe_load((openfield_copy / "config.yaml").read_text())
    assert plain["numframes2pick"] == 33
    assert plain["posekit_note"] == "added by a test"
    assert plain["SuperAnimalConversionTables"]["superanimal_topviewmouse"][
        "snout"
    ] == ("nose")
    assert [p.name for p in openfield_copy.iterdir() if p.name.startswith(".")] == []


def test_failed_save_keeps_the_old_config(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_project.config_path
    before = config.read_bytes()
    names = sorted(p.name for p in demo_project.path.iterdir())
    assert "config.yaml" in names
    project = load_project(demo_project.path)
    project.set("pcutoff", 0.9)

    def no_replace(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr("os.replace", no_replace)
    with pytest.raises(OSError, match="simulated crash"):
        project.save()
    monkeypatch.undo()
    assert config.read_bytes() == before
    assert sorted(p.name for p in demo_project.path.iterdir()) == names  # no temp file


def test_moved_project_gets_project_path_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = create_project(
        "mouse", "ann", working_directory=tmp_path / "old", date=DATE
    )
    old = project.path
    new = tmp_path / "new" / old.name
    new.parent.mkdir()
    shutil.move(old, new)
    with caplog.at_level(logging.INFO, logger="posekit"):
        moved = load_project(new)
    assert moved.path == new.resolve()
    assert moved.get("project_path") == str(new.resolve())
    assert "project moved" in caplog.text
    # nothing written until save()
    assert yaml.safe_load((new / "config.yaml").read_text())["project_path"] == str(old)
    moved.save()
    assert yaml.safe_load((new / "config.yaml").read_text())["project_path"] == str(
        new.resolve()
    )


def test_multianimal_dlc_config(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "sleap-dlc-format-fixtures" / "madlc_230_config.yaml"
    shutil.copyfile(src, tmp_path / "config.yaml")
    project = load_project(tmp_path)
    assert project.multianimal is True
    assert project.bodyparts == ["A", "B", "C", "D", "E"]
    assert project.skeleton == [("A", "B"), ("B", "C"), ("A", "C")]
    assert project.scorer == "LM"
    assert project.get("project_path") == str(tmp_path.resolve())  # Windows path fixed
    assert project.get("individuals") == ["individual1", "individual2", "individual3"]
    assert project.videos() == []  # the Windows video is not on this machine


# ---------------------------------------------------------------- creating


def test_create_project_writes_every_dlc_key(tmp_path: Path) -> None:
    project = create_project(
        "openfield",
        "Pranav",
        working_directory=tmp_path,
        bodyparts=["snout", "leftear", "rightear", "tailbase"],
        skeleton=[["snout", "leftear"], ["snout", "rightear"]],
        date=dt.date(2018, 10, 30),
    )
    folder = tmp_path / "openfield-Pranav-2018-10-30"
    assert project.path == folder
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        assert (folder / sub).is_dir(), sub
    text = (folder / "config.yaml").read_text()
    cfg = yaml.safe_load(text)
    missing = [k for k in DLC2_KEYS if k not in cfg]
    assert missing == []
    # DLC 2.x template order for the keys DLC writes
    order = [k for k in cfg if k in DLC2_KEYS]
    assert order == DLC2_KEYS
    assert cfg["Task"] == "openfield"
    assert cfg["scorer"] == "Pranav"
    assert cfg["date"] == "Oct30"
    assert cfg["multianimalproject"] is False
    assert cfg["identity"] is None
    assert cfg["project_path"] == str(folder)
    assert cfg["video_sets"] == {}
    assert cfg["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    assert cfg["skeleton"] == [["snout", "leftear"], ["snout", "rightear"]]
    assert (cfg["start"], cfg["stop"], cfg["numframes2pick"]) == (0, 1, 20)
    assert cfg["TrainingFraction"] == [0.95]
    assert cfg["iteration"] == 0
    assert cfg["snapshotindex"] == -1
    assert cfg["cropping"] is False
    assert (cfg["x1"], cfg["x2"], cfg["y1"], cfg["y2"]) == (0, 640, 277, 624)
    assert cfg["corner2move2"] == [50, 50]
    assert cfg["move2corner"] is True
    assert isinstance(cfg["pcutoff"], float)
    # comments of DLC's template
    assert text.startswith("# Project definitions (do not edit)\n")
    assert "# Project path (change when moving around)" in text
    # it opens again with the same values
    again = load_project(folder)
    assert again.bodyparts == project.bodyparts
    assert again.skeleton == [("snout", "leftear"), ("snout", "rightear")]


def test_create_project_overrides(tmp_path: Path) -> None:
    project = create_project(
        "t",
        "me",
        working_directory=tmp_path,
        date=DATE,
        net_type="efficientnet_lite0",
        pcutoff=0.4,
        numframes2pick=7,
        TrainingFraction=[0.8, 0.9],
    )
    cfg = yaml.safe_load(project.config_path.read_text())
    assert cfg["pcutoff"] == 0.4
    assert cfg["numframes2pick"] == 7
    assert cfg["TrainingFraction"] == [0.8, 0.9]
    assert cfg["default_net_type"] == "efficientnet_lite0"
    assert cfg["date"] == "Mar7"
    assert load_project(project.path).training_fractions == [0.8, 0.9]


def test_create_project_with_videos(tmp_path: Path, demo_project_ro: Project) -> None:
    video = demo_project_ro.path / "videos" / "session1.mp4"
    linked = create_project(
        "link", "me", [video], working_directory=tmp_path, date=DATE
    )
    dst = linked.path / "videos" / "session1.mp4"
    assert dst.is_symlink() and dst.resolve() == video.resolve()
    cfg = yaml.safe_load(linked.config_path.read_text())
    assert cfg["video_sets"] == {str(dst): {"crop": "0, 320, 0, 240"}}
    assert [v.name for v in load_project(linked.path).videos()] == ["session1.mp4"]

    copied = create_project(
        "copy", "me", [video], working_directory=tmp_path, date=DATE, copy_videos=True
    )
    dst = copied.path / "videos" / "session1.mp4"
    assert dst.is_file() and not dst.is_symlink()
    assert dst.read_bytes() == video.read_bytes()


def test_add_videos_drops_dlc_placeholder(
    openfield_copy: Path, demo_project_ro: Project
) -> None:
    project = load_project(openfield_copy)
    project.add_videos([demo_project_ro.path / "videos" / "session1.mp4"])
    assert list(project.video_sets) == [str(project.path / "videos" / "session1.mp4")]
    names = sorted(v.name for v in project.videos())
    assert names == ["m3v1mp4.mp4", "session1.mp4"]
    with pytest.raises(ProjectError, match="Video not found"):
        project.add_videos([openfield_copy / "nope.mp4"])


def test_unreadable_video_is_refused_and_changes_nothing(
    tmp_path: Path, demo_project_ro: Project
) -> None:
    """An unreadable video is named with what to do, and nothing changes.

    A truncated recording (no index) or an empty file leaves no project folder behind,
    and a list with one bad video adds none of them.
    """
    video = demo_project_ro.path / "videos" / "session1.mp4"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in (cut, empty):
        with pytest.raises(ProjectError, match=rf"{bad.name}.*re-encode"):
            create_project("t", "me", [bad], working_directory=tmp_path, date=DATE)
        assert not (tmp_path / f"t-me-{DATE.isoformat()}").exists()

    project = create_project("t", "me", [video], working_directory=tmp_path, date=DATE)
    before = project.config_path.read_text()
    with pytest.raises(ProjectError, match="cut.mp4"):
        project.add_videos([video, cut])
    project.save()
    assert project.config_path.read_text() == before
    assert [v.name for v in (project.path / "videos").iterdir()] == ["session1.mp4"]


def test_create_project_refuses_existing(tmp_path: Path) -> None:
    create_project("t", "me", working_directory=tmp_path, date=DATE)
    with pytest.raises(ProjectError, match="already exists.*load_project"):
        create_project("t", "me", working_directory=tmp_path, date=DATE)
    with pytest.raises(ProjectError, match="non-empty"):
        create_project("", "me", working_directory=tmp_path)


@pytest.mark.parametrize(
    ("task", "experimenter", "why"),
    [
        ("../../escape", "me", "holds '/'"),  # QA S14: made /escape-me-<date>
        ("t", "../../../tmp/x", "holds '/'"),
        ("mouse/openfield", "me", "holds '/'"),
        ("t", "a\\b", "holds '\\\\\\\\'"),
        ("..", "me", "starts or ends"),
        ("t ", "me", "starts or ends"),
        ("t", "who?", "holds '\\?'"),
    ],
)
def test_create_project_refuses_names_that_are_not_plain(
    tmp_path: Path, task: str, experimenter: str, why: str
) -> None:
    """Task and experimenter name a folder: no path may escape the chosen one."""
    inside = tmp_path / "root"
    inside.mkdir()
    with pytest.raises(ProjectError, match=f"cannot name a project folder: it {why}"):
        create_project(task, experimenter, working_directory=inside, date=DATE)
    assert list(tmp_path.rglob("config.yaml")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def test_create_project_refuses_bodyparts_without_their_own_name(tmp_path) -> None:
    """``a, a, b`` made a project whose labeller could not save a click (QA S14)."""
    for parts, why in [
        (["a", "a", "b"], "'a' more than once"),
        (["a", " ", "b"], "an empty name"),
        (["a", "left/ear"], "'/' in 'left/ear'"),
    ]:
        with pytest.raises(ProjectError, match=why):
            create_project("t", "me", working_directory=tmp_path, bodyparts=parts)
    with pytest.raises(ProjectError, match="'a' more than once"):
        create_project(
            "t",
            "me",
            working_directory=tmp_path,
            bodyparts=["a", "b"],
            individuals=["m1", "m2"],
            uniquebodyparts=["a"],
        )
    assert not list(tmp_path.iterdir())
    # spaces inside names are fine, as in DeepLabCut
    project = create_project(
        "open field", "Jane Doe", working_directory=tmp_path, bodyparts=["tail base"]
    )
    assert project.path.name == f"open field-Jane Doe-{project.path.name[-10:]}"


def test_labeled_videos_skips_check_folders(tmp_path: Path) -> None:
    project = create_project("t", "me", working_directory=tmp_path, date=DATE)
    for name in ("b", "a", "a_labeled"):
        (project.path / "labeled-data" / name).mkdir()
    (project.path / "labeled-data" / "file.txt").write_text("x")
    assert project.labeled_videos() == ["a", "b"]


# ---------------------------------------------------------------- bad configs


def _broken_config(tmp_path: Path, openfield_dir: Path, old: str, new: str) -> Path:
    text = (openfield_dir / "config.yaml").read_text()
    assert old in text
    (tmp_path / "config.yaml").write_text(text.replace(old, new, 1))
    return tmp_path / "config.yaml"


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("- leftear", "- [leftear", "line 22"),  # unclosed flow sequence on line 22
        ("colormap: jet", "colormap: jet\n\tdotsize: 3", "line 40"),  # a tab
        ("pcutoff: 0.4", "pcutoff: 0.4\n  bad: : x", "line 37"),
        ("Task: openfield", "Task: openfield\nTask: again", "line 3"),  # duplicate
    ],
)
def test_unparsable_config_names_the_line_and_is_left_alone(
    tmp_path: Path, openfield_dir: Path, old: str, new: str, line: str
) -> None:
    config = _broken_config(tmp_path, openfield_dir, old, new)
    before = config.read_bytes()
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path)
    message = str(info.value)
    assert "not valid YAML" in message
    assert line in message
    assert str(config) in message
    assert "posekit did not change it" in message
    assert config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_config_that_is_not_text(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(b"Task: x\n\xff\xfe\x00garbage")
    with pytest.raises(ProjectError, match="not a text"):
        load_project(tmp_path)
    assert config.read_bytes() == b"Task: x\n\xff\xfe\x00garbage"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "does not hold a mapping"),
        ("Task: t\nscorer: s\n", r"lacks the required keys \['date'\]"),
        ("Task: t\nscorer: s\ndate: Jan1\nbodyparts: []\n", "lists no bodyparts"),
    ],
)
def test_config_with_missing_settings(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ProjectError, match=message):
        load_project(tmp_path)


def test_missing_project_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="No config.yaml") as info:
        load_project(tmp_path / "nowhere")
    assert "create_project" in str(info.value)
    assert "posekit create" in str(info.value)


@pytest.mark.parametrize(
    ("n_frames", "digits"),
    [(1, 1), (2, 1), (10, 1), (11, 2), (100, 2), (101, 3), (120, 3), (2330, 4)],
)
def test_index_length_matches_dlc(n_frames: int, digits: int) -> None:
    # DLC: int(np.ceil(np.log10(nframes))) (at least one digit)
    assert index_length(n_frames) == digits


# ---------------------------------------------------------------- display settings


def test_display_defaults_are_deeplabcuts() -> None:
    d = DisplaySettings()
    assert (d.dotsize, d.alphavalue, d.colormap) == (12, 0.7, "rainbow")
    assert (d.skeleton, d.skeleton_color, d.pcutoff) == ((), "black", 0.6)
    # a new project writes the same values, and empty keys read as the defaults
    project = Project(Path("/x"), yaml.safe_load("dotsize:\nalphavalue:\ncolormap: ''"))
    assert project.display == d
    assert project.pcutoff == 0.6


def test_display_of_a_new_project_matches_the_template(tmp_path: Path) -> None:
    project = create_project("t", "me", working_directory=tmp_path, date=DATE)
    assert project.display == DisplaySettings()
    assert load_project(project.path).display == DisplaySettings()


def test_display_reads_the_config(openfield_dir: Path) -> None:
    project = load_project(openfield_dir)
    assert project.display == DisplaySettings(
        dotsize=8, alphavalue=0.7, colormap="jet", skeleton_color="black", pcutoff=0.4
    )
    project.set("skeleton", [["snout", "tailbase"], ["leftear", "rightear"]])
    project.set("skeleton_color", [1.0, 0.5, 0.0])
    project.set("dotsize", 5.5)
    d = project.display  # read afresh after set()
    assert d.skeleton == (("snout", "tailbase"), ("leftear", "rightear"))
    assert d.skeleton_color == "#ff8000"
    assert d.dotsize == 5.5
    project.set("skeleton_color", " darkgreen ")  # any matplotlib colour, as given
    assert project.display.skeleton_color == "darkgreen"
    assert DisplaySettings.from_dict(d.to_dict()) == d
    assert d.to_dict()["skeleton"] == [["snout", "tailbase"], ["leftear", "rightear"]]
    with pytest.raises(AttributeError):
        d.dotsize = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value", "quoted"),
    [
        ("dotsize", 0, "got 0"),
        ("dotsize", "big", "got 'big'"),
        ("dotsize", float("inf"), "got inf"),
        ("alphavalue", 1.5, "got 1.5"),
        ("alphavalue", -0.1, "got -0.1"),
        ("pcutoff", True, "got True"),
        ("pcutoff", "high", "got 'high'"),
        ("colormap", 3, "got 3"),
        ("skeleton_color", 5, "got 5"),
        ("skeleton_color", "blak", "got 'blak'"),
        ("skeleton_color", [300, 0, 0], "got [300, 0, 0]"),
        ("skeleton", [["snout"]], "got [['snout']]"),
        ("skeleton", "snout-tailbase", "got 'snout-tailbase'"),
    ],
)
def test_bad_display_values_name_the_key_and_value(
    openfield_dir: Path, key: str, value: object, quoted: str
) -> None:
    project = load_project(openfield_dir)
    project.set(key, value)
    with pytest.raises(ProjectError) as info:
        _ = project.display
    message = str(info.value)
    assert f"config.yaml: {key} must" in message
    assert quoted in message
    with pytest.raises(ProjectError, match=key):
        DisplaySettings(**{key: value})


def test_bad_pcutoff_is_a_project_error(openfield_dir: Path) -> None:
    project = load_project(openfield_dir)
    project.set("pcutoff", 2)
    with pytest.raises(
        ProjectError, match=r"pcutoff must be a number in \[0, 1\], got 2"
    ):
        _ = project.pcutoff


# ---------------------------------------------------------------- videos and outputs


def test_source_videos_skip_labelled_outputs(tmp_path: Path) -> None:
    project = create_project("t", "me", working_directory=tmp_path, date=DATE)
    names = (
        "m1.mp4",
        "m1DLC_resnet50_tJan1shuffle1_100_labeled.mp4",
        "m1DLC_resnet50_tJan1shuffle1_100_filtered_labeled.mp4",
        "m1_superanimal_labeled_after_adapt.mp4",
        "m2.avi",
        "notes.txt",
    )
    for name in names:
        (project.path / "videos" / name).write_bytes(b"")
    assert [v.name for v in project.videos()] == sorted(names[:-1])
    assert [v.name for v in project.source_videos()] == ["m1.mp4", "m2.avi"]
    assert is_labeled_video(Path("x_labeled.mp4"))
    assert not is_labeled_video("unlabeled.mp4")


def test_find_project_of_a_file(tmp_path: Path) -> None:
    project = create_project("t", "me", working_directory=tmp_path, date=DATE)
    inner = project.path / "videos" / "m1DLC_x.h5"
    assert find_project(inner).path == project.path
    assert find_project(project.path / "a" / "b" / "c" / "f.h5").path == project.path
    assert (
        find_project(project.path / "a" / "b" / "c" / "d" / "f.h5") is None
    )  # 4 levels
    assert find_project(tmp_path / "elsewhere.h5") is None
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("model: 3\n")  # not a DLC config
    assert find_project(foreign / "f.h5") is None


def test_find_video_of_predictions(tmp_path: Path) -> None:
    scorer = "DLC_resnet50_testJan1shuffle1_100"
    for name in ("m1.mp4", "m10.mp4", f"m1{scorer}_labeled.mp4"):
        (tmp_path / name).write_bytes(b"")
    assert find_video(tmp_path / f"m1{scorer}.h5") == tmp_path / "m1.mp4"
    assert find_video(tmp_path / f"m10{scorer}.h5") == tmp_path / "m10.mp4"
    assert find_video(tmp_path / "m1_keypoints.h5") == tmp_path / "m1.mp4"
    assert find_video(tmp_path / f"m1{scorer}_filtered.h5") == tmp_path / "m1.mp4"
    assert find_video(tmp_path / f"m100{scorer}.h5") is None
    # the project's videos are searched too
    project = create_project("t", "me", working_directory=tmp_path, date=DATE)
    (project.path / "videos" / "s1.avi").write_bytes(b"")
    elsewhere = tmp_path / "out"
    elsewhere.mkdir()
    assert find_video(elsewhere / f"s1{scorer}.h5") is None
    assert find_video(elsewhere / f"s1{scorer}.h5", project) == (
        project.path / "videos" / "s1.avi"
    )
    # of two videos of one name, the one beside the predictions (a colleague's copy
    # analysed with a shared model); the project's used to win
    (elsewhere / "s1.avi").write_bytes(b"")
    assert find_video(elsewhere / f"s1{scorer}.h5", project) == elsewhere / "s1.avi"


def test_save_writes_only_the_changed_keys(demo_project: Project) -> None:
    """The user's formatting survives a save; what changed is returned and only that.

    A round trip through ruamel reformatted the whole file (indentation of lists,
    e.g. the skeleton), and saved an unchanged config anyway.
    """
    config = demo_project.config_path
    text = config.read_text()
    skeleton = text[text.index("skeleton:\n") : text.index("skeleton_color:")]
    custom = text.replace(
        skeleton, "skeleton:\n    - [snout, neck]\n    -   - neck\n        - spine\n"
    ).replace("pcutoff: 0.5\n", "pcutoff: 0.5   # chosen by eye\n")
    stated = next(x for x in custom.splitlines() if x.startswith("project_path:"))
    config.write_text(custom)  # a copy: its project_path names the original
    project = load_project(demo_project.path)
    assert project.changes() == {
        "project_path": (stated.split(": ", 1)[1], str(demo_project.path))
    }
    custom = custom.replace(stated, f"project_path: {demo_project.path}")
    config.write_text(custom)
    project = load_project(demo_project.path)
    assert project.changes() == {}
    assert project.save() == {}  # nothing changed: nothing written
    assert config.read_text() == custom
    project.set("pcutoff", 0.7)
    project.set("posekit_note", "new")
    assert project.save() == {"pcutoff": (0.5, 0.7), "posekit_note": (None, "new")}
    saved = config.read_text()
    assert (
        saved
        == custom.replace(
            "pcutoff: 0.5   # chosen by eye\n", "pcutoff: 0.7   # chosen by eye\n"
        )
        + "posekit_note: new\n"
    )
    assert load_project(demo_project.path).skeleton == [
        ("snout", "neck"),
        ("neck", "spine"),
    ]
    # a changed list is written in DeepLabCut's style; its neighbours keep theirs
    project.set("bodyparts", ["snout", "neck", "spine"])
    del project.cfg["posekit_note"]
    project.save()
    lines = config.read_text().splitlines()
    start = lines.index("bodyparts:")
    assert lines[start : start + 4] == ["bodyparts:", "- snout", "- neck", "- spine"]
    assert "    - [snout, neck]" in lines and "posekit_note: new" not in lines


def test_a_folder_adds_the_videos_in_it(
    tmp_path: Path, demo_project_ro: Project
) -> None:
    video = demo_project_ro.path / "videos" / "session1.mp4"
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("day1.mp4", "day2.avi"):
        shutil.copy(video, folder / name)
    (folder / "notes.txt").write_text("x")
    project = create_project("t", "me", [folder], working_directory=tmp_path, date=DATE)
    assert [v.name for v in project.videos()] == ["day1.mp4", "day2.avi"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="No video in the folder"):
        project.add_videos([tmp_path / "empty"])


def test_a_project_made_on_windows_lists_its_videos(tmp_path: Path) -> None:
    r"""``video_sets`` keys such as ``C:\Users\lab\...\videos\m1.mp4``.

    The video in the project's ``videos/`` is the one meant, and it counts as listed
    (extract_frames said it was not, and DeepLabCut's create_training_dataset would
    then skip its frames).
    """
    from posekit.engine.demo import make_demo_project
    from posekit.engine.video import extract_frames

    project = make_demo_project(tmp_path, n_frames=20, n_labeled=0, size=(160, 120))
    video = project.videos()[0]
    project.cfg["video_sets"] = {
        rf"C:\Users\lab\demo-posekit\videos\{video.name}": {"crop": "0, 160, 0, 120"}
    }
    key = next(iter(project.video_sets))
    assert project.resolve_video(key) == video
    assert project.lists_video(video) and project.lists_video("session1")
    assert not project.lists_video("session2")
    extracted = extract_frames(project, video, mode="uniform", n=2)
    assert not [n for n in extracted.notes if "not listed" in n]


def test_linked_videos_keep_the_names_they_were_given(
    tmp_path: Path, demo_project_ro: Project
) -> None:
    """Differently named links to one file are different videos, named as given.

    ``check_videos`` used to resolve links: sess01..sess03 -> base.mp4 became one
    video named ``base`` (as DeepLabCut does, the path as given names the video).
    """
    video = demo_project_ro.path / "videos" / "session1.mp4"
    vids = tmp_path / "vids"
    vids.mkdir()
    links = []
    for k in (1, 2, 3):
        link = vids / f"sess0{k}.mp4"
        link.symlink_to(video)
        links.append(link)
    project = create_project("t", "me", links, working_directory=tmp_path, date=DATE)
    assert [v.name for v in project.videos()] == [p.name for p in links]
    for link in links:
        dst = project.path / "videos" / link.name
        assert dst.is_symlink() and dst.readlink() == link
    # added again (or through another link with the same name): nothing changes
    assert project.add_videos([links[0]]) == [project.path / "videos" / "sess01.mp4"]
    assert len(project.videos()) == 3


def test_two_videos_with_one_name_are_refused(
    tmp_path: Path, demo_project_ro: Project
) -> None:
    """day1/cam0.mp4 and day2/cam0.mp4 would both be videos/cam0.mp4: refused."""
    video = demo_project_ro.path / "videos" / "session1.mp4"
    other = demo_project_ro.path / "videos" / "session2.mp4"
    if not other.exists():
        other = tmp_path / "other.avi"
        shutil.copy(video, other)
    for day, target in (("day1", video), ("day2", other)):
        (tmp_path / day).mkdir()
        (tmp_path / day / "cam0.mp4").symlink_to(target)
    both = [tmp_path / "day1" / "cam0.mp4", tmp_path / "day2" / "cam0.mp4"]
    with pytest.raises(ProjectError, match=r"Two videos would both be videos/cam0"):
        create_project("t", "me", both, working_directory=tmp_path, date=DATE)
    assert not (tmp_path / f"t-me-{DATE.isoformat()}").exists()
    project = create_project("t", "me", both[:1], working_directory=tmp_path, date=DATE)
    before = project.config_path.read_text()
    with pytest.raises(ProjectError, match=r"day2.*already in the project"):
        project.add_videos([both[1]])
    assert project.config_path.read_text() == before
    assert (project.path / "videos" / "cam0.mp4").readlink() == both[0]
