"""Importing SLEAP labels as a multi-animal project (the fly clip)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.engine.io.dlc import read_labels
from posekit.engine.io.sleap import import_sleap, read_slp_arrays
from posekit.engine.multianimal.layout import frame_to_arrays
from posekit.engine.project import load_project


@pytest.fixture(scope="module")
def clip(shared_data):
    return shared_data / "sleap-flies-clip" / "clip.slp"


def test_fly_clip_becomes_a_multianimal_project(clip, tmp_path):
    project = import_sleap(clip, tmp_path / "flies", every=150)
    project = load_project(project.path)
    assert project.multianimal
    assert project.individuals == ["female", "male"]
    assert project.multianimal_bodyparts[:3] == ["head", "thorax", "abdomen"]
    assert len(project.multianimal_bodyparts) == 13
    assert project.cfg["bodyparts"] == "MULTI!"
    assert ("thorax", "head") in project.skeleton and len(project.skeleton) == 12
    assert [v.name for v in project.videos()] == ["clip.mp4"]
    df = read_labels(project.labels_path("clip"))
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    frames = [int(p[3:7]) for _, _, p in df.index]
    assert frames == list(range(0, 1500, 150))
    kp, _, _ = frame_to_arrays(df)
    truth = read_slp_arrays(clip)["position"][frames]  # (n, 2, node, track)
    np.testing.assert_array_equal(kp, np.transpose(truth, (0, 3, 2, 1)))
    img = cv2.imread(str(project.path / "labeled-data/clip/img0150.png"))
    assert img.shape == (1024, 1024, 3)


def test_chosen_frames_and_unlabelled_ones(clip, tmp_path):
    project = import_sleap(clip, tmp_path / "a", frames=[5, 700], task="flies")
    assert project.task == "flies"
    assert len(read_labels(project.labels_path("clip"))) == 2
    with pytest.raises(ValueError, match="no labelled instance"):
        import_sleap(clip, tmp_path / "b", frames=[1500])
    assert not (tmp_path / "b").exists()
    with pytest.raises(FileExistsError):
        import_sleap(clip, tmp_path / "a", frames=[5])


def test_importing_predictions_warns_that_they_become_labels(clip, tmp_path, caplog):
    """A SLEAP predictions file (sleap-track's output) imports when asked, with a warning.

    By default only user instances are imported, as SLEAP trains (QA s23 finding 5).
    """
    import logging

    from posekit.engine.io.sleap import load_sleap, save_slp

    ds = load_sleap(clip)
    ds["confidence"] = ds["confidence"].fillna(0.9)  # predicted instances
    ds.attrs["fps"] = 25.0
    preds = save_slp(
        ds, tmp_path / "preds.slp", video_path=str(clip.with_suffix(".mp4"))
    )
    with caplog.at_level(logging.WARNING, logger="posekit"):
        import_sleap(clip, tmp_path / "from-labels", every=500)
    assert "SLEAP predictions" not in caplog.text
    with pytest.raises(ValueError, match="--include-predictions"):
        import_sleap(preds, tmp_path / "from-predictions", every=500)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = import_sleap(
            preds, tmp_path / "from-predictions", every=500, include_predictions=True
        )
    assert "3 of the 3 frames imported hold SLEAP predictions" in caplog.text
    assert project.individuals == ["female", "male"]


def test_imported_frames_with_hidden_parts_count_as_labelled(clip, tmp_path):
    """SLEAP leaves a hidden node empty: the frame is done, the point marked hidden."""
    from posekit.engine.labels import labelling_progress, read_visibility

    project = import_sleap(clip, tmp_path / "flies", every=15)
    kp, _, _ = frame_to_arrays(read_labels(project.labels_path("clip")))
    empty = np.isnan(kp[..., 0])
    assert empty.any(axis=(1, 2)).sum() == 28  # 28 of 100 frames hide a leg tip or more
    assert labelling_progress(project, "clip") == (100, 100)
    hidden = read_visibility(project, "clip")["not_visible"]
    assert len(hidden) == int(empty.sum())
    f, ind, bp = np.argwhere(empty)[0]
    frame = f"labeled-data/clip/img{int(range(0, 1500, 15)[f]):04d}.png"
    names = project.individuals, project.multianimal_bodyparts
    assert (frame, f"{names[0][ind]}/{names[1][bp]}") in hidden


def _comment_above(lines: list[str], key_line: str) -> str:
    """Return the ``#`` lines right above ``key_line``, joined."""
    at = lines.index(key_line)
    above = []
    while at > 0 and lines[at - 1].startswith("#"):
        at -= 1
        above.insert(0, lines[at].lstrip("# "))
    return " ".join(above)


def test_tracks_are_not_taken_for_identity(clip, tmp_path, caplog):
    """Keep identity false for SLEAP tracks, and say how to turn it on (QA s18).

    Tracks say who is who in the labels, not that the animals look different: a
    comment in the config and a warning say when to set identity: true.
    """
    import logging

    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = import_sleap(clip, tmp_path / "flies", every=500)
    assert project.cfg["identity"] is False
    lines = project.config_path.read_text(encoding="utf-8").splitlines()
    note = _comment_above(lines, "identity: false")
    assert "the individuals are the SLEAP tracks (female, male)" in note
    assert "set identity: true before creating a training dataset" in note
    assert "posekit's networks do not use this key" in note
    [said] = [r.getMessage() for r in caplog.records if "identity" in r.getMessage()]
    assert "the SLEAP tracks female, male are the individuals" in said
    assert "identity: false" in said and "set identity: true" in said
    assert str(project.config_path) in said
    # the comment stays when the config is written again, identity changed or not
    project.cfg["pcutoff"] = 0.3
    project.save()
    project.cfg["identity"] = True
    project.save()
    lines = project.config_path.read_text(encoding="utf-8").splitlines()
    assert _comment_above(lines, "identity: true") == note
    assert load_project(project.path).cfg["identity"] is True


def test_untracked_labels_get_no_identity_note(clip, tmp_path, caplog):
    """Without tracks the individuals are the k-th instance of each frame: no note."""
    import logging

    sio = pytest.importorskip("sleap_io")
    labels = sio.load_slp(str(clip))
    for frame in labels.labeled_frames:
        for inst in frame.instances:
            inst.track = None
    labels.tracks.clear()
    untracked = tmp_path / "untracked.slp"
    sio.save_slp(labels, str(untracked))
    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = import_sleap(
            untracked,
            tmp_path / "flies",
            frames=[0, 700],
            video_path=clip.with_suffix(".mp4"),
        )
    assert project.individuals == ["individual_0", "individual_1"]
    assert project.cfg["identity"] is False
    text = project.config_path.read_text(encoding="utf-8")
    assert "# identity" not in text and "SLEAP tracks" not in caplog.text
