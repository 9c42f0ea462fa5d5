"""check_labels: labelled frames drawn to labeled-data/<video>_labeled/."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine import check_labels
from posekit.engine.demo import make_demo_project
from posekit.engine.drawing import bodypart_colors
from posekit.engine.labels import LabelStore
from posekit.engine.project import ProjectError
from posekit.engine.video import extract_frames


@pytest.fixture
def project(tmp_path):
    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


def _rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(int)


def test_labelled_frames_are_drawn_with_colours_and_skeleton(project):
    store = LabelStore(project, "session1")
    f0, f1, f2 = store.frames
    # snout - neck is a skeleton edge in the demo; 'spine' has no image row here
    store.apply(f0, {"snout": (40.0, 60.0), "neck": (100.0, 60.0)})
    store.set_point(f2, "tailbase", 20.0, 20.0)
    out = check_labels(project)
    assert [p.name for p in out] == [f0.rsplit("/", 1)[1], f2.rsplit("/", 1)[1]]
    assert all(p.parent.name == "session1_labeled" for p in out)
    src = _rgb(store.image_path(f0))
    img = _rgb(out[0])
    assert img.shape == src.shape
    colors = bodypart_colors(6, project.display.colormap)
    alpha = project.display.alphavalue
    # tailbase marker centre on frame 2 (its edge partner 'spine' is unlabelled)
    src2, img2 = _rgb(store.image_path(f2)), _rgb(out[1])
    expect = alpha * colors[5] + (1 - alpha) * src2[20, 20]
    np.testing.assert_allclose(img2[20, 20], expect, atol=6)
    assert np.abs(img2[20, 40] - src2[20, 40]).max() <= 1  # no line drawn from it
    assert img[60, 70].sum() < src[60, 70].sum() - 150  # black skeleton line
    assert np.abs(img[5, 150] - src[5, 150]).max() <= 1  # far from labels: untouched
    # frame 1 has no labels: not written
    assert not (out[0].parent / f1.rsplit("/", 1)[1]).exists()


def test_missing_image_is_skipped(project):
    store = LabelStore(project, "session1")
    f0, f1 = store.frames[:2]
    store.set_point(f0, "snout", 10.0, 10.0)
    store.set_point(f1, "snout", 12.0, 10.0)
    store.image_path(f1).unlink()
    out = check_labels(project, ["session1"])
    assert [p.name for p in out] == [f0.rsplit("/", 1)[1]]


def test_progress_and_openfield(openfield_dir, tmp_path):
    import shutil

    from posekit.engine.project import load_project

    dst = tmp_path / "of"
    shutil.copytree(openfield_dir, dst, ignore=shutil.ignore_patterns("*.mp4"))
    project = load_project(dst)
    calls = []
    out = check_labels(project, progress=lambda d, t: calls.append((d, t)))
    assert len(out) == 116 and calls[-1] == (116, 116)
    assert out[0] == dst / "labeled-data" / "m4s1_labeled" / "img0000.png"
    # the snout of img0000 (21.5, 265.4) now has the first colour of 'jet'
    img = _rgb(out[0])
    src = _rgb(dst / "labeled-data" / "m4s1" / "img0000.png")
    assert np.abs(img[265, 21] - src[265, 21]).sum() > 60


def test_drawn_with_the_display_settings(project):
    store = LabelStore(project, "session1")
    f0 = store.frames[0]
    store.set_point(f0, "snout", 40.0, 60.0)
    project.set("alphavalue", 1.0)
    for dotsize, inside in ((4, False), (16, True)):  # 6 px from the centre
        project.set("dotsize", dotsize)
        img = _rgb(check_labels(project)[0])
        drawn = np.abs(img[60, 46] - bodypart_colors(6, "rainbow")[0]).max() <= 30
        assert drawn == inside, dotsize
    project.set("skeleton_color", "blak")
    with pytest.raises(ProjectError, match="skeleton_color.*'blak'"):
        check_labels(project)


def test_labels_that_cannot_be_checked_are_an_error(project):
    """No label file, another scorer's, no point, no image: said, never "0 images"."""
    from posekit.engine.io.dlc import LabelError, read_labels, write_labels

    with pytest.raises(LabelError, match="No labels to check") as info:
        check_labels(project)
    assert "CollectedData_posekit.h5 (or .csv)" in str(info.value)
    store = LabelStore(project, "session1")
    f0 = store.frames[0]
    store.set_point(f0, "snout", 10.0, 10.0)
    # labels of another labeller (config scorer 'posekit'): named in the error
    theirs = store.path.with_name("CollectedData_ann.h5")
    store.path.rename(theirs)
    store.path.with_suffix(".csv").unlink()
    with pytest.raises(LabelError, match="another scorer") as info:
        check_labels(project)
    assert "labeled-data/session1/CollectedData_ann.h5" in str(info.value)
    # only the .csv twin: it is the label file (it used to be skipped)
    theirs.rename(store.path)
    read_labels(store.path).to_csv(store.path.with_suffix(".csv"))
    store.path.unlink()
    assert [p.name for p in check_labels(project)] == [f0.rsplit("/", 1)[1]]
    # invalid labels: the validation error
    df = read_labels(store.path.with_suffix(".csv"))
    write_labels(pd.concat([df, df]), store.path)
    with pytest.raises(LabelError, match="duplicated frames"):
        check_labels(project)
    # labels without a single point
    write_labels(df * float("nan"), store.path)
    with pytest.raises(LabelError, match="hold no labelled point"):
        check_labels(project)
    # no image of any labelled frame
    write_labels(df, store.path)
    store.image_path(f0).unlink()
    with pytest.raises(LabelError, match="None of the 1 labelled frames of"):
        check_labels(project)


def test_multi_animal_labels_are_drawn_one_colour_per_animal(tmp_path):
    """A maDLC project (it crashed: one colour per bodyparts for 2× as many points)."""
    from posekit.engine.multianimal.labels import slot_name

    project = make_demo_project(
        tmp_path, n_animals=2, n_frames=24, n_labeled=0, size=(200, 150)
    )
    extract_frames(project, project.videos()[0], mode="uniform", n=2)
    project.set("alphavalue", 1.0)
    project.set("skeleton_color", "white")
    animals = project.individuals
    store = LabelStore(project, "session1")
    f0 = store.frames[0]
    # same bodypart on both animals, and a skeleton edge (snout-neck) on the second
    store.apply(
        f0,
        {
            slot_name(animals[0], "snout"): (30.0, 30.0),
            slot_name(animals[1], "snout"): (150.0, 30.0),
            slot_name(animals[1], "neck"): (150.0, 110.0),
        },
    )
    out = check_labels(project)
    assert [p.name for p in out] == [f0.rsplit("/", 1)[1]]
    img = _rgb(out[0])
    first, second = bodypart_colors(2, project.display.colormap)
    np.testing.assert_allclose(img[30, 30], first, atol=30)
    np.testing.assert_allclose(img[30, 150], second, atol=30)
    assert img[70, 150].min() > 200  # the second animal's snout-neck edge, white
    src = _rgb(store.image_path(f0))
    assert np.abs(img[30, 90] - src[30, 90]).max() <= 1  # no edge between animals


def test_many_frames_show_a_progress_bar(project, monkeypatch, capsys):
    """From PROGRESS_FROM_FRAMES frames on, a bar (plain lines in a log) says how far."""
    import posekit.engine.label_check as label_check

    store = LabelStore(project, "session1")
    for frame in store.frames:
        store.set_point(frame, "snout", 40.0, 60.0)
    check_labels(project)
    assert "check_labels" not in capsys.readouterr().err  # a few frames: quiet
    monkeypatch.setattr(label_check, "PROGRESS_FROM_FRAMES", 1)
    paths = check_labels(project)
    err = capsys.readouterr().err
    assert "check_labels" in err and f"{len(paths)}/{len(paths)}" in err
    check_labels(project, progress=False)
    assert capsys.readouterr().err == ""


def test_the_summary_of_many_folders_is_one_short_line(tmp_path):
    """31 folders used to be listed in full: a 3 KB line."""
    from posekit.engine.label_check import written_summary

    root = tmp_path / "a-long-project-path-2026-01-01" / "labeled-data"
    paths = [root / f"sess{k:02d}_labeled" / "img0001.png" for k in range(31)]
    text = written_summary(paths)
    assert text.startswith(f"31 images written to 31 folders in {root}: ")
    assert text.endswith("sess00_labeled, sess01_labeled, sess02_labeled and 28 more")
    assert len(text) < len(str(root)) + 100 and "\n" not in text
    one = written_summary(paths[:2] * 2)
    assert one.startswith("4 images written to 2 folders")
