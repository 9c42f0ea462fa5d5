"""One project, several students at once (QA s25 sharedlab #2 and #4).

- DeepLabCut's clean-up verbs (``dropannotationfileentriesduetodeletedimages``, …)
  read and rewrote a label file without the label folder's lock: a point a labeller
  saved in between was reverted.
- ``Project.save()`` wrote the keys changed in memory onto the text read at load
  time: a ``video_sets`` entry or a ``dotsize`` written meanwhile by another process
  was lost (three ``add_new_videos`` at once listed one video of three).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import posekit.engine as deeplabcut
import posekit.engine.io.dlc as dlc_io
import posekit.engine.project as project_module
from posekit.engine.labels import LabelStore
from posekit.engine.project import Project, load_project


def _wait_for(path: Path, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    """Wait until ``path`` exists (or ``proc`` ended); whether it exists."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists():
            return True
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.01)
    return path.exists()


def _listed(project_dir: Path) -> list[str]:
    cfg = yaml.safe_load((project_dir / "config.yaml").read_text())
    return sorted(Path(k).name for k in cfg["video_sets"] or {})


# ---------------------------------------------------------------- finding 2

_STUDENT = """
import sys, time
from pathlib import Path
from posekit.engine.project import load_project
from posekit.engine.labels import LabelStore

project_dir, frame, flags = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = LabelStore(load_project(project_dir), "session1")
(flags / "ready").touch()
while not (flags / "go").exists():
    time.sleep(0.01)
store.set_point(frame, "snout", 1.5, 2.5)
assert store.last_report.saved, store.last_report
(flags / "done").touch()
"""


# dropduplicatesinannotatinfiles rewrites as they do (_rewrite_labels); a labeller
# cannot open a file with repeated rows, so it is not raced here
@pytest.mark.parametrize(
    "verb", ["dropannotationfileentriesduetodeletedimages", "dropunlabeledframes"]
)
def test_a_clean_up_verb_keeps_a_point_saved_while_it_runs(
    demo_project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    verb: str,
) -> None:
    """A labeller (another process) saves between the verb's read and its write."""
    project = demo_project
    h5 = project.labels_path("session1")
    df = dlc_io.read_labels(h5)
    frames = dlc_io.index_to_paths(df.index)
    # one row for the verb to drop: its image deleted, or without a point
    if verb == "dropannotationfileentriesduetodeletedimages":
        (project.path / frames[-1]).unlink()
    else:
        df.iloc[-1] = float("nan")
        dlc_io.write_labels(df, h5)
    frame = Path(frames[1]).name
    old = df.loc[df.index[1], (project.scorer, "snout", "x")]
    assert old != 1.5
    flags = tmp_path / "flags"
    flags.mkdir()
    student = subprocess.Popen(
        [sys.executable, "-c", _STUDENT, str(project.path), frame, str(flags)]
    )
    try:
        assert _wait_for(flags / "ready", 120, student), (
            "the student's process did not start"
        )
        read = dlc_io.read_labels

        def read_then_student_saves(path):
            out = read(path)
            (flags / "go").touch()
            # the student's save: at once without the lock, after the verb with it
            _wait_for(flags / "done", 3)
            return out

        monkeypatch.setattr(dlc_io, "read_labels", read_then_student_saves)
        dropped = getattr(deeplabcut, verb)(project.path)
        monkeypatch.undo()
        assert student.wait(60) == 0
    finally:
        if student.poll() is None:
            student.kill()
    assert dropped == {"session1": 1}
    on_disk = dlc_io.read_labels(h5)
    row = dlc_io.index_to_paths(on_disk.index).index(frames[1])
    point = [on_disk[(project.scorer, "snout", c)].iloc[row] for c in "xy"]
    assert point == [1.5, 2.5]
    store = LabelStore(load_project(project.path), "session1")
    assert store.point(frame, "snout") == (1.5, 2.5)


def test_convert_csv_to_h5_takes_the_label_folder_lock(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``convertcsv2h5`` rewrote the ``.h5`` from a ``.csv`` read outside the lock."""
    import posekit.engine.labels as labels

    held: list[Path] = []
    real = labels._folder_lock

    def spy(folder):
        held.append(Path(folder))
        return real(folder)

    monkeypatch.setattr(labels, "_folder_lock", spy)
    out = deeplabcut.convertcsv2h5(demo_project.path)
    assert out == [demo_project.labels_path("session1")]
    assert held == [demo_project.labeled_data_dir("session1")]


# ---------------------------------------------------------------- finding 4


def _video(demo_project: Project, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / "vids" / name
    dst.parent.mkdir(exist_ok=True)
    shutil.copy(demo_project.videos()[0], dst)
    return dst


def test_add_new_videos_keeps_what_another_student_saved_meanwhile(
    demo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another student adds a video and the Label app saves dotsize meanwhile."""
    mine = _video(demo_project, tmp_path, "studentA.mp4")
    theirs = _video(demo_project, tmp_path, "studentB.mp4")
    check = project_module.check_videos
    calls = []

    def check_then_another_saves(videos):
        out = check(videos)
        if not calls:  # while this student's video is copied: another process
            calls.append(videos)
            other = load_project(demo_project.path)
            other.add_videos([theirs], copy=True)
            other.save()
            app = load_project(demo_project.path)
            app.set("dotsize", 17)
            app.save(keys=["dotsize"])
        return out

    monkeypatch.setattr(project_module, "check_videos", check_then_another_saves)
    added = deeplabcut.add_new_videos(demo_project.path, [mine], copy_videos=True)
    assert [p.name for p in added] == ["studentA.mp4"]
    assert _listed(demo_project.path) == [
        "session1.mp4",
        "studentA.mp4",
        "studentB.mp4",
    ]
    assert load_project(demo_project.path).get("dotsize") == 17


def test_a_full_save_merges_into_the_file_as_it_is_now(demo_project: Project) -> None:
    """Only the keys changed here are written; video_sets entry by entry."""
    config = demo_project.config_path
    demo_project.save()  # a copy: its project_path named the original
    first = load_project(demo_project.path)
    second = load_project(demo_project.path)
    (entry,) = first.video_sets
    # the second one removes the video and adds two, changes pcutoff, adds a key
    del second.cfg["video_sets"][entry]
    second.cfg["video_sets"]["/data/b.mp4"] = {"crop": "0, 10, 0, 10"}
    second.cfg["video_sets"]["/data/c.mp4"] = {"crop": "0, 20, 0, 20"}
    second.set("pcutoff", 0.25)
    second.set("lab_note", "second")
    assert set(second.save()) == {"video_sets", "pcutoff", "lab_note"}
    # the first one, loaded before, adds a video, changes c's crop and the dotsize
    first.cfg["video_sets"]["/data/a.mp4"] = {"crop": "0, 1, 0, 1"}
    first.set("dotsize", 3)
    first.save()
    cfg = yaml.safe_load(config.read_text())
    assert sorted(cfg["video_sets"]) == ["/data/a.mp4", "/data/b.mp4", "/data/c.mp4"]
    assert cfg["video_sets"]["/data/c.mp4"] == {"crop": "0, 20, 0, 20"}
    assert (cfg["pcutoff"], cfg["lab_note"], cfg["dotsize"]) == (0.25, "second", 3)
    # the first one now holds what the file holds, and a later save keeps it so
    assert first.get("pcutoff") == 0.25 and first.get("lab_note") == "second"
    assert first.changes() == {}
    first.set("dotsize", 4)
    assert first.save() == {"dotsize": (3, 4)}
    assert yaml.safe_load(config.read_text())["pcutoff"] == 0.25


def test_saving_given_keys_keeps_the_videos_added_meanwhile(
    demo_project: Project,
) -> None:
    """The Label app remembers the marker size with ``save(keys=[...])``."""
    app = load_project(demo_project.path)
    student = load_project(demo_project.path)
    student.cfg["video_sets"]["/data/new.mp4"] = {"crop": "0, 1, 0, 1"}
    student.save()
    app.set("dotsize", 21)
    app.set("alphavalue", 0.4)
    app.set("pcutoff", 0.9)  # changed in memory, not saved with keys
    assert app.save(keys=["dotsize", "alphavalue"]) == {
        "dotsize": (demo_project.get("dotsize"), 21),
        "alphavalue": (demo_project.get("alphavalue"), 0.4),
    }
    cfg = yaml.safe_load(demo_project.config_path.read_text())
    assert (cfg["dotsize"], cfg["alphavalue"]) == (21, 0.4)
    assert cfg["pcutoff"] == demo_project.get("pcutoff")
    assert "/data/new.mp4" in cfg["video_sets"]
    assert app.changes() == {"pcutoff": (demo_project.get("pcutoff"), 0.9)}
    app.save()
    cfg = yaml.safe_load(demo_project.config_path.read_text())
    assert cfg["pcutoff"] == 0.9 and "/data/new.mp4" in cfg["video_sets"]


_SAVER = """
import sys
from pathlib import Path
from posekit.engine.project import load_project

project = load_project(sys.argv[1])
project.set("pcutoff", 0.33)
Path(sys.argv[2]).touch()
project.save()
"""


def test_config_lock_holds_off_another_process(
    demo_project: Project, tmp_path: Path
) -> None:
    """A save in another process waits for the lock (a record lock on a file)."""
    from posekit.engine.project import CONFIG_LOCK_FILE, config_lock

    lock = demo_project.path / CONFIG_LOCK_FILE
    ready = tmp_path / "ready"
    with config_lock(demo_project.path):
        assert lock.is_file()
        with config_lock(demo_project.path):  # the same thread may take it again
            pass
        saver = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(demo_project.path), str(ready)]
        )
        try:
            assert _wait_for(ready, 120, saver)
            with pytest.raises(subprocess.TimeoutExpired):
                saver.wait(2)  # waits on the lock
        except BaseException:
            saver.kill()
            raise
        assert load_project(demo_project.path).get("pcutoff") == 0.5
    assert saver.wait(60) == 0
    assert load_project(demo_project.path).get("pcutoff") == 0.33
    assert not lock.exists()


_ADDER = """
import sys, time
from pathlib import Path
import posekit.engine as deeplabcut
import posekit.engine.project as project_module

config, video, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
Path(video + ".ready").touch()
check = project_module.check_videos

def slow_check(videos):  # a network drive: copying takes a while
    out = check(videos)
    time.sleep(1.0)
    return out

project_module.check_videos = slow_check
while not go.exists():
    time.sleep(0.005)
deeplabcut.add_new_videos(config, [video], copy_videos=True)
"""


def test_three_students_add_videos_at_once(
    demo_project: Project, tmp_path: Path
) -> None:
    """Three processes call add_new_videos at the same moment: all three listed."""
    go = tmp_path / "go"
    names = ["studentA.mp4", "studentB.mp4", "studentC.mp4"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(_ADDER),
                str(demo_project.config_path),
                str(_video(demo_project, tmp_path, name)),
                str(go),
            ]
        )
        for name in names
    ]
    try:
        for name in names:
            assert _wait_for(tmp_path / "vids" / f"{name}.ready", 120, procs[0])
        go.touch()
        assert [p.wait(180) for p in procs] == [0, 0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sorted(p.name for p in (demo_project.path / "videos").iterdir()) == [
        "session1.mp4",
        *names,
    ]
    assert _listed(demo_project.path) == ["session1.mp4", *names]
