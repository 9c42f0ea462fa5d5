"""Several labellers on one project at once (QA s25 sharedlab #1, #3, #5, #6, #8, #9).

The races are made deterministic: a read is wrapped so that another writer saves in
the window, or a second process is started while this one holds the label lock.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import multiprocessing as mp
import os
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import posekit.engine.labels as labels
from posekit.engine.demo import make_demo_project
from posekit.engine.io.dlc import read_labels, write_labels
from posekit.engine.labels import (
    LabelStore,
    mark_missing_not_visible,
    read_label_file,
    read_visibility,
    update_visibility,
)
from posekit.engine.project import load_project


@pytest.fixture
def project(tmp_path):
    """Demo project: 4 extracted frames of session1, labelled from ground truth."""
    return make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))


def _frame(project, i: int) -> str:
    return LabelStore(project, "session1").frames[i]


# --------------------------------------------------------------------------- #1 lock
def _try_lock_in_child(lock_file: str, out) -> None:
    """Report whether this process can take a POSIX record lock on ``lock_file``."""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out.put("locked")
    except OSError as err:
        out.put("busy" if err.errno in (errno.EACCES, errno.EAGAIN) else repr(err))
    finally:
        os.close(fd)


def _wait_for_folder_lock(folder: str, out) -> None:
    with labels._folder_lock(Path(folder)):
        out.put(time.monotonic())


@pytest.mark.timeout(120)
def test_label_lock_is_a_record_lock_on_a_regular_file_that_excludes_processes(
    project,
):
    folder = project.labeled_data_dir("session1")
    lock_file = folder / ".posekit" / "labels.lock"
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    with labels._folder_lock(folder) as held:
        assert held is True
        assert stat.S_ISREG(lock_file.stat().st_mode)  # not the folder: NFS passes it
        probe = ctx.Process(target=_try_lock_in_child, args=(str(lock_file), out))
        probe.start()
        probe.join(30)
        assert out.get(timeout=5) == "busy"  # lockf (fcntl record lock) is held
        waiter = ctx.Process(target=_wait_for_folder_lock, args=(str(folder), out))
        waiter.start()
        time.sleep(0.5)
        released = time.monotonic()
    waiter.join(30)
    assert out.get(timeout=5) >= released  # the other process waited for us
    probe = ctx.Process(target=_try_lock_in_child, args=(str(lock_file), out))
    probe.start()
    probe.join(30)
    assert out.get(timeout=5) == "locked"


@pytest.mark.timeout(60)  # flock on the folder deadlocked here
def test_label_lock_is_reentrant_and_shared_by_reads_inside_a_save(project):
    folder = project.labeled_data_dir("session1")
    with labels._folder_lock(folder), labels._folder_lock(folder) as inner:
        # a read inside a save, as dlc_verbs' rewrite does
        assert inner is True
        assert read_label_file(project.labels_path("session1")).note == ""


def test_label_lock_of_a_read_only_folder_is_skipped(tmp_path):
    missing = tmp_path / "labeled-data" / "nope"
    with labels._folder_lock(missing, create=False) as held:
        assert held is False
    assert not missing.exists()


def test_readers_make_no_lock_file_and_read_only_folders_get_none(project):
    """Opening labels writes nothing; a folder without write bits is left alone.

    (CI runs as root, for whom a read-only folder is writable: the shared openfield
    project must not get a lock file from the tests that read it.)
    """
    folder = project.labeled_data_dir("session1")
    lock = folder / labels.LABELS_LOCK_FILE
    LabelStore(project, "session1")  # a reader
    assert not lock.exists()
    mode = stat.S_IMODE(folder.stat().st_mode)
    os.chmod(folder, 0o555)
    try:
        with labels._folder_lock(folder) as held:  # a writer in a read-only folder
            assert held is False
        assert not lock.exists()
    finally:
        os.chmod(folder, mode)
    store = LabelStore(project, "session1")
    store.clear_point(store.frames[0], "snout")
    store.save()  # a writer makes it
    assert lock.is_file()


# ---------------------------------------------------------------- #6 open under lock
def test_a_save_while_a_store_opens_is_not_missed(project, monkeypatch):
    alice = LabelStore(project, "session1")
    frame0, frame1 = alice.frames[0], alice.frames[1]
    original = labels.read_label_file

    def read_while_alice_saves(path):
        got = original(path)
        monkeypatch.setattr(labels, "read_label_file", original)
        alice.set_point(frame0, "snout", 1.0, 2.0)  # saved in the window
        return got

    monkeypatch.setattr(labels, "read_label_file", read_while_alice_saves)
    bob = LabelStore(project, "session1")
    assert alice.last_report.saved
    assert bob.point(frame0, "snout") == (1.0, 2.0)
    bob.set_point(frame1, "snout", 7.0, 8.0)
    alice.set_point(frame1, "neck", 3.0, 4.0)
    assert alice.point(frame0, "snout") == (1.0, 2.0)
    df = read_labels(project.labels_path("session1"))
    row = df.loc[tuple(frame0.split("/"))]
    assert (
        row[(project.scorer, "snout", "x")],
        row[(project.scorer, "snout", "y")],
    ) == (
        1.0,
        2.0,
    )


# ------------------------------------------------------------- #3 rows they deleted
def _drop_row(project, frame: str) -> None:
    path = project.labels_path("session1")
    df = read_labels(path)
    write_labels(df.drop(index=tuple(frame.split("/"))), path)


def test_a_row_the_other_writer_deleted_stays_deleted(project):
    store = LabelStore(project, "session1")
    gone, other = store.frames[3], store.frames[0]
    _drop_row(project, gone)  # dropunlabeledframes, DLC's GUI
    store.set_point(other, "snout", 1.5, 2.5)
    report = store.last_report
    assert report.saved and report.deleted == (gone,) and report.kept_deleted == ()
    assert "It removed 1 frame(s) from the file (img" in report.message
    assert "they stay removed" in report.message
    paths = ["/".join(i) for i in read_labels(project.labels_path("session1")).index]
    assert gone not in paths and len(paths) == 3
    assert not store.is_labelled(gone)


def test_a_deleted_row_we_changed_since_is_kept_and_said(project):
    store = LabelStore(project, "session1", autosave=False)
    gone = store.frames[3]
    store.set_point(gone, "snout", 9.0, 9.5)  # not saved yet
    _drop_row(project, gone)
    report = store.save()
    assert report.kept_deleted == (gone,) and report.deleted == ()
    assert "your labels of them were kept" in report.message
    df = read_labels(project.labels_path("session1"))
    row = df.loc[tuple(gone.split("/"))]
    assert row[(project.scorer, "snout", "x")] == 9.0 and len(df) == 4


# ------------------------------------------------- #5 our points changed back by DLC
def test_a_whole_table_save_that_reverts_our_points_is_said_with_a_backup(project):
    path = project.labels_path("session1")
    dlc_table = pd.read_hdf(path)  # DeepLabCut's GUI opens the folder
    store = LabelStore(project, "session1")
    f0, f1, f2 = store.frames[:3]
    old0, old1 = store.point(f0, "snout"), store.point(f1, "neck")
    store.set_point(f0, "snout", 1.0, 2.0)
    store.set_point(f1, "neck", 3.0, 4.0)
    dlc_table.loc[tuple(f2.split("/")), (project.scorer, "tailbase", "x")] = 99.0
    write_labels(dlc_table, path)  # DLC saves its whole table
    report = store.sync()
    assert sorted(report.reverted) == sorted([(f0, "snout"), (f1, "neck")])
    assert store.point(f0, "snout") == old0 and store.point(f1, "neck") == old1
    assert "2 of your point(s) were changed back by the other program" in (
        report.message
    )
    assert f"merged 1 of its point(s) on {f2.rsplit('/', 1)[-1]}" in report.message
    backup = report.reverted_backup
    assert backup is not None and backup.parent == store.folder / ".posekit/conflicts"
    assert str(backup) in report.message
    ours = read_labels(backup)
    row0 = ours.loc[tuple(f0.split("/"))]
    assert row0[(project.scorer, "snout", "x")] == 1.0
    assert row0[(project.scorer, "snout", "y")] == 2.0


def test_another_labellers_move_of_our_point_is_a_merge_not_a_revert(project):
    store = LabelStore(project, "session1")
    f0, f1 = store.frames[:2]
    store.set_point(f0, "snout", 1.0, 2.0)  # ours
    other = LabelStore(project, "session1")
    other.set_point(f0, "snout", 5.0, 6.0)  # another labeller moves it on purpose
    other.set_point(f1, "neck", 7.0, 8.0)
    report = store.sync()
    assert report.reverted == () and report.reverted_backup is None
    assert sorted(report.merged) == sorted([(f0, "snout"), (f1, "neck")])
    assert "of your point(s)" not in report.message
    assert "merged 2 of its point(s)" in report.message


# ------------------------------------------------------------ #9 the .csv twin read
def test_a_save_between_the_twin_reads_gives_no_csv_warning(
    project, monkeypatch, caplog
):
    path = project.labels_path("session1")
    writer = LabelStore(project, "session1")
    frame = writer.frames[0]
    original = labels.read_labels
    calls = []

    def read_then_someone_saves(p):
        got = original(p)
        calls.append(p)
        if len(calls) == 1:  # between the .h5 and the .csv
            writer.set_point(frame, "snout", 11.0, 12.0)
        return got

    monkeypatch.setattr(labels, "read_labels", read_then_someone_saves)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        got = read_label_file(path)
    assert writer.last_report.saved
    assert got.note == "" and "disagrees" not in caplog.text
    row = got.frame.loc[tuple(frame.split("/"))]
    assert row[(project.scorer, "snout", "x")] == 11.0  # the state after the save


def test_an_older_csv_that_disagrees_is_called_stale_not_to_convert(project):
    store = LabelStore(project, "session1")
    frame = store.frames[0]
    csv = project.labels_path("session1").with_suffix(".csv")
    old_csv = csv.read_bytes()
    store.set_point(frame, "snout", 1.0, 2.0)
    csv.write_bytes(old_csv)  # killed between the two os.replace calls
    h5 = project.labels_path("session1")
    t = h5.stat().st_mtime
    os.utime(csv, (t - 30, t - 30))
    note = read_label_file(h5).note
    assert f"{csv} disagrees with {h5.name}" in note
    assert "stale" in note and "rewrites the .csv" in note
    assert "convert it first" not in note
    assert LabelStore(project, "session1").point(frame, "snout") == (1.0, 2.0)


# -------------------------------------------------- #8 missing-not-visible, locked
def _place_and_unmark(project_path: str, frame: str, started) -> None:
    project = load_project(project_path)
    started.set()
    store = LabelStore(project, "session1")
    store.set_point(frame, "snout", 4.0, 5.0)
    update_visibility(project, "session1", not_visible_remove=[(frame, "snout")])


def test_missing_not_visible_does_not_mark_a_point_placed_meanwhile(
    project, monkeypatch
):
    store = LabelStore(project, "session1")
    frame = store.frames[0]
    store.clear_point(frame, "snout")
    original = labels.empty_points
    ctx = mp.get_context("fork")
    started = ctx.Event()
    procs = []

    def empty_points_while_someone_places(project_, video):
        got = original(project_, video)
        proc = ctx.Process(
            target=_place_and_unmark, args=(str(project.path), frame, started)
        )
        proc.start()
        procs.append(proc)
        started.wait(30)
        time.sleep(1.0)  # the labeller saves now, unless the lock keeps it out
        return got

    monkeypatch.setattr(labels, "empty_points", empty_points_while_someone_places)
    assert mark_missing_not_visible(project, "session1") == 1
    procs[0].join(60)
    assert procs[0].exitcode == 0
    placed = LabelStore(project, "session1").point(frame, "snout")
    assert placed == (4.0, 5.0)
    assert (frame, "snout") not in read_visibility(project, "session1")["not_visible"]
    assert np.isfinite(placed).all()


def test_label_lock_file_is_writable_by_who_may_write_the_folder(project):
    folder = project.labeled_data_dir("session1")
    folder.chmod(0o775)  # a lab group's shared folder
    old_umask = os.umask(0o022)
    try:
        with labels._folder_lock(folder) as held:
            assert held is True
    finally:
        os.umask(old_umask)
    lock_file = folder / ".posekit" / "labels.lock"
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o664


def test_a_save_removes_the_temp_files_of_killed_saves(project):
    """QA s25 #10: a kill during a save left ``.CollectedData_<scorer>.h5.<x>.h5``."""
    h5 = project.labels_path("session1")
    left = [
        h5.parent / f".{h5.name}.k2j8d0_x.h5",
        h5.parent / f".{h5.with_suffix('.csv').name}.q81mz0ab.csv",
    ]
    fresh = h5.parent / f".{h5.name}.a1b2c3d4.h5"  # a writer at work right now
    for path in [*left, fresh]:
        path.write_bytes(b"\x89HDF\r\n")
    old = time.time() - 60
    for path in left:
        os.utime(path, (old, old))
    store = LabelStore(project, "session1")
    store.set_point(store.frames[0], "snout", 3.0, 4.0)
    assert store.last_report.saved
    assert [p for p in left if p.exists()] == []
    assert fresh.exists()
    assert read_labels(h5).notna().to_numpy().any()
    marks = labels.visibility_path(project, "session1")
    marks.parent.mkdir(parents=True, exist_ok=True)
    left = marks.parent / f".{marks.name}.z9y8x7w6.json"
    left.write_text("{")
    os.utime(left, (old, old))
    update_visibility(project, "session1", not_visible_add=[(store.frames[1], "snout")])
    assert not left.exists()
