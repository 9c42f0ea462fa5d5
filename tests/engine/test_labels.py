"""LabelStore: every edit saved at once, merge on open, undo/redo, two writers."""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import (
    LabelError,
    make_labels_frame,
    read_labels,
    write_labels,
)
from posekit.engine.labels import LabelStore, merge_labels
from posekit.engine.project import load_project

BPS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]


@pytest.fixture
def project(tmp_path):
    """Demo project: 4 extracted frames of session1, labelled from ground truth."""
    return make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))


@pytest.fixture
def blank(tmp_path):
    """Demo project with 3 extracted frames and no label file."""
    from posekit.engine.video import extract_frames

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    extract_frames(project, project.videos()[0], mode="uniform", n=3)
    return project


def _disk(store: LabelStore) -> pd.DataFrame:
    return pd.read_hdf(store.path, "df_with_missing")


def _value(df: pd.DataFrame, frame: str, bp: str) -> tuple[float, float]:
    key = tuple(frame.split("/")) if isinstance(df.index, pd.MultiIndex) else frame
    scorer = df.columns.get_level_values("scorer")[0]
    return (
        float(df.loc[key, (scorer, bp, "x")]),
        float(df.loc[key, (scorer, bp, "y")]),
    )


def test_each_edit_is_on_disk_at_once(blank):
    store = LabelStore(blank, "session1")
    assert not store.path.exists()
    assert len(store.frames) == 3
    f0, f1 = store.frames[:2]
    store.set_point(f0, "snout", 12.25, 30.5)
    assert _value(_disk(store), f0, "snout") == (12.25, 30.5)
    csv = read_labels(store.path.with_suffix(".csv"))
    assert list(csv.columns.get_level_values("bodyparts")[::2]) == BPS
    store.set_point(f1, "neck", 40.0, 41.0)
    store.set_point(f0, "snout", 13.0, 31.0)  # move
    df = _disk(store)
    assert _value(df, f0, "snout") == (13.0, 31.0)
    assert _value(df, f1, "neck") == (40.0, 41.0)
    assert np.isnan(_value(df, f1, "snout")).all()
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert df.columns.get_level_values("scorer")[0] == "posekit"
    assert isinstance(df.index, pd.MultiIndex)  # DLC >= 2.2 rows for new files
    store.clear_point(f0, "snout")
    assert np.isnan(_value(_disk(store), f0, "snout")).all()
    assert not store.dirty


def test_undo_redo_are_saved(blank):
    store = LabelStore(blank, "session1")
    f0 = store.frames[0]
    store.set_point(f0, "snout", 1.0, 2.0)
    store.set_point(f0, "snout", 3.0, 4.0)
    store.apply(f0, {"leftear": (5.0, 6.0), "rightear": (7.0, 8.0)})  # one step
    assert store.undo()[0].bodypart == "leftear"
    df = _disk(store)
    assert np.isnan(_value(df, f0, "leftear")).all()
    assert np.isnan(_value(df, f0, "rightear")).all()
    store.undo()
    assert _value(_disk(store), f0, "snout") == (1.0, 2.0)
    store.redo()
    assert _value(_disk(store), f0, "snout") == (3.0, 4.0)
    store.redo()
    assert _value(_disk(store), f0, "rightear") == (7.0, 8.0)
    assert not store.can_redo
    assert store.redo() == []
    store.undo()
    store.set_point(f0, "neck", 9.0, 9.0)  # a new edit clears the redo stack
    assert not store.can_redo
    # no-op edits are not undo steps and are not written
    n = len(store._undo)
    assert store.set_point(f0, "neck", 9.0, 9.0) == []
    assert len(store._undo) == n


def test_open_keeps_rows_without_images_and_reorders_bodyparts(project):
    store = LabelStore(project, "session1")
    frames = store.frames
    truth = {f: store.get(f) for f in frames}
    # Rewrite the file with bodyparts shuffled, one bodypart missing, and an extra
    # row whose image does not exist.
    order = ["tailbase", "snout", "neck", "leftear", "spine"]  # no rightear
    idx = [BPS.index(b) for b in order]
    ghost = "labeled-data/session1/img99.png"
    coords = np.stack([truth[f][idx] for f in frames] + [np.full((5, 2), 3.0)])
    write_labels(
        make_labels_frame("posekit", order, [*frames, ghost], coords), store.path
    )
    store = LabelStore(project, "session1")
    assert ghost in store.frames
    assert not store.image_path(ghost).exists()
    for f in frames:
        expect = truth[f].copy()
        expect[BPS.index("rightear")] = np.nan
        np.testing.assert_array_equal(store.get(f), expect)
    store.set_point(frames[0], "rightear", 50.0, 60.0)
    df = _disk(store)
    assert list(dict.fromkeys(df.columns.get_level_values("bodyparts"))) == BPS
    assert _value(df, ghost, "snout") == (3.0, 3.0)  # kept although never shown
    assert _value(df, frames[0], "rightear") == (50.0, 60.0)
    assert _value(df, frames[1], "tailbase") == tuple(truth[frames[1]][5])


def test_unknown_bodypart_is_a_clear_error_and_the_file_is_untouched(project):
    store = LabelStore(project, "session1")
    df = read_labels(store.path)
    extra = df.copy()
    extra[("posekit", "whisker", "x")] = 1.0
    extra[("posekit", "whisker", "y")] = 2.0
    write_labels(extra, store.path)
    before = store.path.read_bytes()
    with pytest.raises(LabelError, match=r"whisker.*config\.yaml does not list"):
        LabelStore(project, "session1")
    assert store.path.read_bytes() == before


def test_second_writer_is_merged_and_reported(blank):
    a = LabelStore(blank, "session1")
    b = LabelStore(blank, "session1")
    f0, f1, f2 = a.frames
    reports = []
    b.listeners.append(reports.append)
    a.set_point(f0, "snout", 10.0, 11.0)
    b.set_point(f1, "neck", 20.0, 21.0)  # b has not seen a's click
    assert b.last_report.external and b.last_report.saved
    assert b.last_report.merged == ((f0, "snout"),)
    assert "another labeller" in reports[-1].message
    df = _disk(a)
    assert _value(df, f0, "snout") == (10.0, 11.0)
    assert _value(df, f1, "neck") == (20.0, 21.0)
    assert b.point(f0, "snout") == (10.0, 11.0)  # b's memory has a's click
    a.set_point(f2, "spine", 30.0, 31.0)  # a merges b's click back
    assert a.last_report.merged == ((f1, "neck"),)
    assert a.point(f1, "neck") == (20.0, 21.0)
    df = _disk(a)
    assert _value(df, f0, "snout") == (10.0, 11.0)
    assert _value(df, f1, "neck") == (20.0, 21.0)
    assert _value(df, f2, "spine") == (30.0, 31.0)
    # an undo in b only takes back b's own click
    b.undo()
    df = _disk(b)
    assert np.isnan(_value(df, f1, "neck")).all()
    assert _value(df, f2, "spine") == (30.0, 31.0)
    assert _value(df, f0, "snout") == (10.0, 11.0)


def test_conflict_keeps_ours_and_backs_up_theirs(blank):
    a = LabelStore(blank, "session1")
    f0 = a.frames[0]
    a.set_point(f0, "snout", 1.0, 1.0)
    b = LabelStore(blank, "session1")
    a.set_point(f0, "snout", 2.0, 2.0)
    b.set_point(f0, "snout", 3.0, 3.0)
    rep = b.last_report
    assert len(rep.conflicts) == 1
    assert rep.conflicts[0].theirs == (2.0, 2.0)
    assert rep.conflicts[0].ours == (3.0, 3.0)
    assert _value(_disk(b), f0, "snout") == (3.0, 3.0)
    assert rep.backup is not None and rep.backup.is_file()
    assert ".posekit" in rep.backup.parts
    assert _value(pd.read_hdf(rep.backup), f0, "snout") == (2.0, 2.0)
    assert "yours were kept" in rep.message


def test_sync_pulls_an_external_edit_without_writing(project):
    store = LabelStore(project, "session1")
    f0 = store.frames[0]
    df = read_labels(store.path)
    df.loc[tuple(f0.split("/")), ("posekit", "snout", "x")] = 77.0
    write_labels(df, store.path)  # e.g. DLC's GUI
    assert store.has_external_changes()
    rep = store.sync()
    assert rep.external and not rep.saved
    assert store.point(f0, "snout")[0] == 77.0
    assert not store.has_external_changes()


def test_failed_save_keeps_the_edit_and_retries(blank, monkeypatch):
    import posekit.engine.labels as labels_mod

    store = LabelStore(blank, "session1")
    f0 = store.frames[0]
    real = labels_mod.write_labels

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(labels_mod, "write_labels", broken)
    store.set_point(f0, "snout", 5.0, 6.0)
    assert store.dirty and "disk full" in store.last_report.error
    assert store.point(f0, "snout") == (5.0, 6.0)
    monkeypatch.setattr(labels_mod, "write_labels", real)
    store.set_point(f0, "neck", 7.0, 8.0)
    df = _disk(store)
    assert _value(df, f0, "snout") == (5.0, 6.0)
    assert _value(df, f0, "neck") == (7.0, 8.0)


def test_unreadable_h5_falls_back_to_csv(project):
    store = LabelStore(project, "session1")
    expect = store.get(store.frames[1])
    store.path.write_bytes(b"not an hdf5 file")
    store = LabelStore(project, "session1")
    np.testing.assert_array_equal(store.get(store.frames[1]), expect)


def test_openfield_string_rows_and_values_kept(openfield_dir, tmp_path):
    dst = tmp_path / "openfield"
    shutil.copytree(openfield_dir, dst, ignore=shutil.ignore_patterns("*.mp4"))
    project = load_project(dst)
    store = LabelStore(project, "m4s1")
    assert len(store.frames) == 116
    original = read_labels(store.path)
    f = "labeled-data/m4s1/img0003.png"
    store.set_point(f, "snout", 100.0, 200.0)
    df = _disk(store)
    assert not isinstance(df.index, pd.MultiIndex)  # legacy string rows kept
    assert df.columns.get_level_values("scorer")[0] == "Pranav"
    assert _value(df, f, "snout") == (100.0, 200.0)
    other = df.drop(index=f)
    pd.testing.assert_frame_equal(
        other, original.drop(index=f).astype(float), check_index_type=False
    )


def test_merge_labels_keeps_frames_only_one_side_has():
    nan = np.nan
    base = {"a": np.array([[1.0, 1.0]])}
    ours = {"a": np.array([[1.0, 1.0]]), "b": np.array([[2.0, 2.0]])}
    theirs = {"c": np.array([[3.0, 3.0]])}  # 'a' missing: they deleted it (s25 #3)
    merged, taken, conflicts = merge_labels(base, ours, theirs, ["p"])
    assert sorted(merged) == ["b", "c"]
    assert taken == [("c", "p")] and not conflicts
    merged, _, _ = merge_labels(base, {"a": np.array([[5.0, 5.0]])}, theirs, ["p"])
    assert merged["a"].tolist() == [[5.0, 5.0]]  # changed by us since: kept
    merged, _, conflicts = merge_labels(
        {"a": np.array([[nan, nan]])},
        {"a": np.array([[4.0, 4.0]])},
        {"a": np.array([[4.0, 4.0]])},
        ["p"],
    )
    assert not conflicts and merged["a"].tolist() == [[4.0, 4.0]]


def _worker(path: str, offset: int, n: int) -> None:
    project = load_project(path)
    store = LabelStore(project, "session1")
    frames = store.frames
    for i in range(n):
        store.set_point(frames[i % len(frames)], BPS[offset], float(i), float(offset))


def test_two_processes_clicking_at_once_lose_nothing(blank):
    ctx = mp.get_context("fork")
    n = 12
    procs = [ctx.Process(target=_worker, args=(str(blank.path), k, n)) for k in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = LabelStore(load_project(blank.path), "session1")
    frames = store.frames
    # the last write of each writer to each frame survives
    for k in (0, 1):
        for i in range(n - len(frames), n):
            assert store.point(frames[i % len(frames)], BPS[k]) == (float(i), float(k))


def test_multianimal_project_without_individuals_is_refused(tmp_path):
    # a multi-animal project gets the four-level store (tests/engine/multianimal),
    # which needs the config's individuals
    from posekit.engine.project import create_project

    project = create_project("ma", "me", working_directory=tmp_path)
    project.set("multianimalproject", True)
    with pytest.raises(LabelError, match="needs at least one individual"):
        LabelStore(project, "v")


def test_frame_name_accepts_positions_and_image_names(blank):
    store = LabelStore(blank, "session1")
    first = store.frames[0]
    assert store.frame_name(0) == first
    assert store.frame_name(Path(first).name) == first
    with pytest.raises(LabelError, match="not a bodypart"):
        store.set_point(first, "wing", 1, 1)


def test_csv_twin_that_disagrees_is_warned_about(project, caplog):
    """The .h5 is used (as DeepLabCut does), and a warning says so and how they differ.

    It used to win silently, so labels corrected in the .csv were ignored unseen.
    """
    import logging

    from posekit.engine.dataset import merge_labels as merge_project_labels
    from posekit.engine.labels import read_label_file

    h5 = project.labels_path("session1")
    csv = h5.with_suffix(".csv")
    same = read_label_file(h5)
    assert same.path == h5 and same.note == ""
    df = read_labels(csv)
    first = df.index[0]
    df.loc[first, ("posekit", "snout", "x")] += 7.0
    df = df.drop(index=df.index[-1])
    df.to_csv(csv)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        got = read_label_file(csv)  # either twin names the pair
    assert got.path == h5
    pd.testing.assert_frame_equal(got.frame, read_labels(h5))
    assert f"{csv} disagrees with {h5.name}" in got.note
    assert "1 frame(s) only in the .h5" in got.note
    assert "1 frame(s) with other points" in got.note
    assert f"The labels of {h5.name} are used, as DeepLabCut does" in got.note
    assert "convert_csv_to_h5" in got.note and got.note in caplog.text
    # the training set is built from the .h5; the warning was said in this
    # process already (once per file and state), and is said by the next command
    import posekit.engine.labels as labels_module

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        merged = merge_project_labels(project)
    assert len(merged) == 4 and "disagrees with" not in caplog.text
    labels_module._WARNED_DISAGREEMENTS.clear()  # a new command
    with caplog.at_level(logging.WARNING, logger="posekit"):
        merge_project_labels(project)
    assert "disagrees with" in caplog.text
    assert LabelStore(project, "session1").note == got.note
    # only a .csv: it is the label file
    h5.unlink()
    alone = read_label_file(h5)
    assert alone.path == csv and alone.note == ""
