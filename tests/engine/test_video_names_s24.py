"""Video names and labelled-data folders (QA s24 paths #2, #3, #5).

DeepLabCut names a video's labelled-data folder ``Path(video).stem``, once:
``session1.cam1.mp4`` → ``labeled-data/session1.cam1/``. A folder name or a stem is
taken as it is, never stripped a second time.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.dataset import create_training_dataset, merge_labels
from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.labels import LabelStore, labelling_progress, list_frames
from posekit.engine.project import create_project, load_project, video_folder_name
from posekit.widgets.labeler_model import LabelerModel


def _rename_video(project, new_stem: str, key: str | None = None):
    """Rename the demo's video, its labelled-data folder and rows as DLC would."""
    p = project.path
    (p / "videos" / "session1.mp4").rename(p / "videos" / f"{new_stem}.mp4")
    (p / "labeled-data" / "session1").rename(p / "labeled-data" / new_stem)
    text = (p / "config.yaml").read_text(encoding="utf-8")
    old_key = next(iter(project.video_sets))
    new_key = key if key is not None else str(p / "videos" / f"{new_stem}.mp4")
    (p / "config.yaml").write_text(text.replace(old_key, new_key), encoding="utf-8")
    h5 = p / "labeled-data" / new_stem / f"CollectedData_{project.scorer}.h5"
    df = read_labels(h5)
    df.index = pd.MultiIndex.from_tuples([(a, new_stem, c) for a, _, c in df.index])
    write_labels(df, h5)
    return load_project(p), len(df)


@pytest.mark.parametrize(
    ("given", "folder"),
    [
        ("videos/m1.cam1.mp4", "m1.cam1"),
        ("m1.cam1", "m1.cam1"),
        ("2024.03.01_m1.AVI", "2024.03.01_m1"),
        ("2024.03.01_m1", "2024.03.01_m1"),
        ("session1", "session1"),
    ],
)
def test_video_folder_name_strips_a_video_suffix_once(given, folder):
    assert video_folder_name(given) == folder


def test_dlc_project_with_a_dotted_video_name(demo_project, capsys):
    project, n = _rename_video(demo_project, "session1.cam1")
    folder = project.path / "labeled-data" / "session1.cam1"
    h5 = folder / f"CollectedData_{project.scorer}.h5"
    assert project.labeled_data_dir("session1.cam1") == folder
    assert project.labeled_data_dir(project.videos()[0]) == folder
    assert project.has_labels("session1.cam1")
    n_images = len(list_frames(project, "session1.cam1"))
    assert n_images > 0
    assert labelling_progress(project, "session1.cam1") == (n, n_images)

    assert main(["label", str(project.path)]) == 0
    assert f"session1.cam1: {n} of {n_images} frames done" in capsys.readouterr().out

    store = LabelStore(project, "session1.cam1")
    assert store.path == h5
    assert len(store.labelled_frames()) == n
    frame = store.labelled_frames()[0]
    store.set_point(frame, project.bodyparts[0], 11.0, 22.0)
    store.save()
    assert sorted(p.name for p in (project.path / "labeled-data").iterdir()) == [
        "session1.cam1"
    ]
    assert read_labels(h5).loc[tuple(frame.split("/"))].iloc[:2].tolist() == [
        11.0,
        22.0,
    ]

    merged = merge_labels(project)
    assert len(merged) == n
    assert not merged.index.duplicated().any()
    create_training_dataset(project)


def test_new_project_with_a_dotted_video_name(demo_project, tmp_path):
    vids = tmp_path / "vids"
    vids.mkdir()
    shutil.copy(demo_project.path / "videos" / "session1.mp4", vids / "m1.cam1.mp4")
    project = create_project(
        "dots",
        "lab",
        [vids / "m1.cam1.mp4"],
        working_directory=tmp_path,
        bodyparts=("snout", "tail"),
    )
    from posekit.engine.video import extract_frames

    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    assert labelling_progress(project, "m1.cam1") == (0, 3)

    model = LabelerModel(project)
    assert model.known_videos == ["m1.cam1"]
    assert len(model.store.frames) == 3
    store = LabelStore(project, "m1.cam1")
    assert store.path == (
        project.path / "labeled-data" / "m1.cam1" / "CollectedData_lab.h5"
    )
    for frame in store.frames:
        store.apply(frame, {"snout": (1.0, 2.0), "tail": (3.0, 4.0)})
    store.save()
    assert sorted(p.name for p in (project.path / "labeled-data").iterdir()) == [
        "m1.cam1"
    ]
    assert labelling_progress(project, "m1.cam1") == (3, 3)
    merged = merge_labels(project)
    assert len(merged) == 3
    assert not merged.index.duplicated().any()
    np.testing.assert_array_equal(merged.to_numpy()[0], [1.0, 2.0, 3.0, 4.0])


def test_windows_video_sets_key_names_the_videos_folder(demo_project):
    """A DeepLabCut script loops over ``video_sets``: Windows keys name the folder."""
    key = r"C:\Users\lab\videos\session1.mp4"
    text = (demo_project.path / "config.yaml").read_text(encoding="utf-8")
    old_key = next(iter(demo_project.video_sets))
    (demo_project.path / "config.yaml").write_text(
        text.replace(old_key, key), encoding="utf-8"
    )
    project = load_project(demo_project.path)
    assert list(project.video_sets) == [key]
    folder = project.path / "labeled-data" / "session1"
    n_labelled = len(read_labels(project.labels_path("session1")))
    for video in (key, "/other/machine/videos/session1.mp4"):
        assert project.labeled_data_dir(video) == folder
        assert project.labels_path(video) == folder / "CollectedData_posekit.h5"
        assert project.has_labels(video)
        done, total = labelling_progress(project, video)
        assert (done, total) == labelling_progress(project, "session1")
        assert done == n_labelled
        store = LabelStore(project, video)
        assert store.video == "session1"
        assert len(store.labelled_frames()) == n_labelled
    store.set_point(store.labelled_frames()[0], project.bodyparts[0], 5.0, 6.0)
    store.save()
    assert [p.name for p in (project.path / "labeled-data").iterdir()] == ["session1"]


@pytest.mark.parametrize(("folder_form", "row_form"), [("NFD", "NFC"), ("NFC", "NFD")])
def test_unicode_normal_forms_of_folder_and_rows_match(
    demo_project, capsys, folder_form, row_form
):
    """A folder named on a Mac (NFD) and rows/config in NFC are the same video."""
    import unicodedata

    on_disk = unicodedata.normalize(folder_form, "Maus_ü")
    in_rows = unicodedata.normalize(row_form, "Maus_ü")
    assert on_disk != in_rows
    project, n = _rename_video(demo_project, on_disk)
    h5 = project.path / "labeled-data" / on_disk / "CollectedData_posekit.h5"
    df = read_labels(h5)
    df.index = pd.MultiIndex.from_tuples([(a, in_rows, c) for a, _, c in df.index])
    write_labels(df, h5)
    text = (project.path / "config.yaml").read_text(encoding="utf-8")
    (project.path / "config.yaml").write_text(
        text.replace(on_disk, in_rows), encoding="utf-8"
    )
    project = load_project(project.path)
    n_images = len(list((project.path / "labeled-data" / on_disk).glob("*.png")))

    for name in (on_disk, in_rows):
        assert project.labeled_data_dir(name).name == on_disk
        assert labelling_progress(project, name) == (n, n_images)
    assert main(["label", str(project.path)]) == 0
    assert f"{on_disk}: {n} of {n_images} frames done" in capsys.readouterr().out

    store = LabelStore(project, in_rows)
    assert store.path == h5
    assert len(store.labelled_frames()) == n
    assert set(store.labelled_frames()) <= set(store.frames)
    assert len(store.frames) == n_images
    assert all(store.image_path(f).is_file() for f in store.frames)

    merged = merge_labels(project)
    assert len(merged) == n
    assert {row[1] for row in merged.index} == {on_disk}
    create_training_dataset(project)
    assert [p.name for p in (project.path / "labeled-data").iterdir()] == [on_disk]


def test_unicode_normal_forms_in_a_multi_animal_project(tmp_path):
    """The multi-animal label store and merge named rows as written (s25)."""
    import unicodedata

    from posekit.engine.demo import make_demo_project
    from posekit.engine.multianimal.labels import MultiAnimalLabelStore

    project = make_demo_project(tmp_path, n_animals=2, n_frames=12, n_labeled=4)
    on_disk = unicodedata.normalize("NFD", "Maus_ü")
    in_rows = unicodedata.normalize("NFC", "Maus_ü")
    project, n = _rename_video(project, on_disk)
    h5 = project.path / "labeled-data" / on_disk / f"CollectedData_{project.scorer}.h5"
    df = read_labels(h5)
    df.index = pd.MultiIndex.from_tuples([(a, in_rows, c) for a, _, c in df.index])
    write_labels(df, h5)
    project = load_project(project.path)

    store = MultiAnimalLabelStore(project, in_rows)
    assert len(store.labelled_frames()) == n
    assert set(store.labelled_frames()) <= set(store.frames)  # not twice
    merged = merge_labels(project)
    assert len(merged) == n and {row[1] for row in merged.index} == {on_disk}
    create_training_dataset(project)  # (the images were 'missing')
