"""Importing a SLEAP project as SLEAP holds it (QA s23 sleapuser, findings 1, 2, 4, 5).

- every video of a ``.slp`` is imported, each its own ``labeled-data`` folder and
  ``video_sets`` entry (the first video's frames only were kept, the rest dropped
  without a word); ``video=`` / ``--video`` choose one; a video not found gives its
  frames from the images the ``.slp`` embeds, or stops the import naming it;
- user instances only by default, as SLEAP trains (predictions became labels);
- the track names of predictions are slots, not who is who (said at import and
  at analysis);
- ``convert --video`` writes the video absolute, and warns when it is not found.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.io.dlc import read_labels
from posekit.engine.io.sleap import import_sleap
from posekit.engine.multianimal.layout import frame_to_arrays
from posekit.engine.project import load_project
from posekit.engine.video import VideoReader

sio = pytest.importorskip("sleap_io")

NODES = ["head", "thorax", "abdomen"]
TRACKS = ["female", "male"]


def _write_video(path: Path, n_frames: int, base: int) -> Path:
    """Write a tiny grey video: frame i is uniformly ``base + 6 i`` (a known picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (48, 32))
    for i in range(n_frames):
        writer.write(np.full((32, 48, 3), base + 6 * i, np.uint8))
    writer.release()
    return path


def _xy(v: int, frame: int, k: int) -> np.ndarray:
    """Known coordinates of track ``k`` on frame ``frame`` of video ``v``."""
    nodes = np.arange(len(NODES), dtype=float)
    return np.stack(
        [100 * v + frame + 0.25 + nodes, 10 * k + 0.5 * frame + 2 * nodes + 0.75], 1
    )


def _labels(videos: dict[Path, list[int]], *, predicted=(), only_predicted=(), half=()):
    """SLEAP labels: on each video, user instances of both tracks on the frames.

    ``predicted``: frames (video index, frame) with a prediction of each track
    beside the user instances (shifted by 1000 px: must not be imported by
    default); ``only_predicted``: frames with predictions only; ``half``: frames
    with a user instance of the first track and a prediction of the second.
    """
    skel = sio.Skeleton(NODES, edges=[["head", "thorax"], ["thorax", "abdomen"]])
    tracks = [sio.Track(name=t) for t in TRACKS]
    vids = [sio.Video(filename=str(p), open_backend=False) for p in videos]
    frames = []
    for v, (video, numbers) in enumerate(zip(vids, videos.values(), strict=True)):
        for f in sorted({*numbers, *(n for w, n in only_predicted if w == v)}):
            instances = []
            if (v, f) in half:
                instances += [
                    sio.Instance.from_numpy(
                        _xy(v, f, 0), skeleton=skel, track=tracks[0]
                    ),
                    sio.PredictedInstance.from_numpy(
                        _xy(v, f, 1),
                        skeleton=skel,
                        point_scores=np.full(len(NODES), 0.8),
                        score=0.8,
                        track=tracks[1],
                    ),
                ]
            elif (v, f) not in only_predicted:
                instances += [
                    sio.Instance.from_numpy(_xy(v, f, k), skeleton=skel, track=t)
                    for k, t in enumerate(tracks)
                ]
            if (v, f) in predicted or (v, f) in only_predicted:
                instances += [
                    sio.PredictedInstance.from_numpy(
                        _xy(v, f, k) + 1000 * ((v, f) in predicted),
                        skeleton=skel,
                        point_scores=np.full(len(NODES), 0.9),
                        score=0.9,
                        track=t,
                    )
                    for k, t in enumerate(tracks)
                ]
            frames.append(
                sio.LabeledFrame(video=video, frame_idx=f, instances=instances)
            )
    return sio.Labels(frames, videos=vids, skeletons=[skel], tracks=tracks)


@pytest.fixture
def three_videos(tmp_path):
    """Write a .slp on three videos, two of them of one stem (a/clip.mp4, b/clip.mp4)."""
    videos = {
        _write_video(tmp_path / "a" / "clip.mp4", 12, 10): [0, 3, 11],
        _write_video(tmp_path / "b" / "clip.mp4", 9, 120): [2, 8],
        _write_video(tmp_path / "court.mp4", 15, 60): [1, 5, 7, 14],
    }
    slp = tmp_path / "proj.slp"
    sio.save_slp(_labels(videos), str(slp))
    return slp, list(videos.items())


def _imported(project, folder: str):
    """Frame numbers and (n, track, node, 2) labels of one labeled-data folder."""
    df = read_labels(project.labels_path(folder))
    kp, _, _ = frame_to_arrays(df)
    return [int(Path(p).stem[3:]) for *_, p in df.index], kp


def _png(project, folder: str, frame: int) -> str:
    """Return the path of the imported image of a frame (DLC's name)."""
    folder = project.labeled_data_dir(folder)
    [png] = [p for p in folder.glob("img*.png") if int(p.stem[3:]) == frame]
    return str(png)


def _truth(v: int, frames: list[int]) -> np.ndarray:
    return np.stack([np.stack([_xy(v, f, k) for k in range(2)]) for f in frames])


def test_every_video_is_imported_with_exact_labels(three_videos, tmp_path):
    slp, videos = three_videos
    project = load_project(import_sleap(slp, tmp_path / "p").path)
    folders = sorted(p.name for p in (project.path / "labeled-data").iterdir())
    assert folders == ["clip", "clip_1", "court"]  # b/clip.mp4: its index added
    for v, folder in enumerate(["clip", "clip_1", "court"]):
        numbers, kp = _imported(project, folder)
        assert numbers == videos[v][1]
        np.testing.assert_array_equal(kp, _truth(v, numbers))  # exact
        with VideoReader(videos[v][0]) as reader:  # the frames of their own video
            for f in numbers:
                png = cv2.imread(_png(project, folder, f))
                want = cv2.cvtColor(reader.read(f), cv2.COLOR_RGB2BGR)
                np.testing.assert_array_equal(png, want)
        assert project.lists_video(folder)
    # each video is in video_sets and videos/ under its folder's name
    assert sorted(Path(k).name for k in project.video_sets) == [
        "clip.mp4",
        "clip_1.mp4",
        "court.mp4",
    ]
    linked = project.path / "videos" / "clip_1.mp4"
    assert linked.resolve() == videos[1][0].resolve()
    assert project.individuals == TRACKS


def test_video_option_chooses_one_by_index_or_name(three_videos, tmp_path, capsys):
    slp, videos = three_videos
    one = import_sleap(slp, tmp_path / "one", video=1)
    assert [p.name for p in (one.path / "labeled-data").iterdir()] == ["clip"]
    numbers, kp = _imported(one, "clip")
    assert numbers == [2, 8]
    np.testing.assert_array_equal(kp, _truth(1, numbers))
    assert (
        main(["import", str(slp), str(tmp_path / "cli"), "--video", "court.mp4"]) == 0
    )
    project = load_project(capsys.readouterr().out.splitlines()[0])
    assert _imported(project, "court")[0] == [1, 5, 7, 14]
    assert main(["import", str(slp), str(tmp_path / "idx"), "--video", "2"]) == 0
    assert _imported(load_project(tmp_path / "idx"), "court")[0] == [1, 5, 7, 14]
    capsys.readouterr()
    typo = str(tmp_path / "nowhere" / "court.mp4")  # a path, not a name: said missing
    assert main(["import", str(slp), str(tmp_path / "x"), "--video", typo]) == 2
    assert f"No video at {typo}" in capsys.readouterr().err
    with pytest.raises(ValueError, match="has 2 videos named 'clip.mp4'") as err:
        import_sleap(slp, tmp_path / "x", video="clip.mp4")
    assert "--video 0" in str(err.value)
    with pytest.raises(ValueError, match="no video named 'nope.mp4'") as err:
        import_sleap(slp, tmp_path / "x", video="nope.mp4")
    assert "2: " in str(err.value) and "court.mp4 (4 labelled frames)" in str(err.value)
    with pytest.raises(ValueError, match="choose the video with video="):
        import_sleap(slp, tmp_path / "x", frames=[2])
    # --max-frames counts all videos' frames together
    spread = import_sleap(slp, tmp_path / "spread", max_frames=3)
    n = sum(
        len(read_labels(spread.labels_path(f))) for f in ("clip", "clip_1", "court")
    )
    assert n == 3
    assert not (tmp_path / "x").exists()


def test_a_missing_video_stops_the_import_naming_it(three_videos, tmp_path, capsys):
    slp, videos = three_videos
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(videos[2][0], moved / "court.mp4")
    with pytest.raises(FileNotFoundError, match="court.mp4") as err:
        import_sleap(slp, tmp_path / "p")
    assert "video 2" in str(err.value) and "--video VIDEO" in str(err.value)
    assert "--video FOLDER" in str(err.value)
    assert not (tmp_path / "p").exists()
    # a folder that holds it: found there by name; the other videos as before
    argv = ["import", str(slp), str(tmp_path / "p"), "--video", str(moved)]
    assert main(argv) == 0
    project = load_project(tmp_path / "p")
    numbers, kp = _imported(project, "court")
    assert numbers == [1, 5, 7, 14]
    np.testing.assert_array_equal(kp, _truth(2, numbers))
    assert _imported(project, "clip_1")[0] == [2, 8]
    # the file itself: that video alone
    assert (
        import_sleap(slp, tmp_path / "q", video_path=moved / "court.mp4")
        .labels_path("court")
        .is_file()
    )
    assert not (tmp_path / "q" / "labeled-data" / "clip").exists()


def test_embedded_frames_are_imported_without_the_videos(three_videos, tmp_path):
    slp, videos = three_videos
    embedded = tmp_path / "embedded.pkg.slp"
    sio.save_slp(sio.load_slp(str(slp)), str(embedded), embed="user")
    truth = {}
    for v, (path, numbers) in enumerate(videos):
        with VideoReader(path) as reader:
            truth[v] = {f: reader.read(f) for f in numbers}
    for path, _ in videos:
        path.unlink()
    project = import_sleap(embedded, tmp_path / "p")
    for v, folder in enumerate(["clip", "clip_1", "court"]):
        numbers, kp = _imported(project, folder)
        assert numbers == videos[v][1]
        np.testing.assert_array_equal(kp, _truth(v, numbers))
        for f in numbers:
            png = cv2.imread(_png(project, folder, f))
            want = cv2.cvtColor(truth[v][f], cv2.COLOR_RGB2BGR)
            assert np.abs(png.astype(int) - want).max() <= 1  # grey, re-encoded
        assert project.lists_video(folder)  # DeepLabCut reads the folder


def _mixed(tmp_path: Path, *, only_predictions: bool = False) -> Path:
    """One video: user + predicted instances on 0-4, predictions only on 5-9.

    Frame 10: a user instance of female, a prediction of male.
    """
    video = _write_video(tmp_path / "m.mp4", 12, 10)
    user = [] if only_predictions else [0, 1, 2, 3, 4]
    labels = _labels(
        {video: user + ([] if only_predictions else [10])},
        half={(0, 10)},
        predicted={(0, f) for f in user},
        only_predicted={(0, f) for f in range(5, 10)}
        | ({(0, f) for f in range(5)} if only_predictions else set()),
    )
    slp = tmp_path / ("preds.slp" if only_predictions else "mixed.slp")
    sio.save_slp(labels, str(slp))
    return slp


def test_user_instances_only_by_default(tmp_path, caplog, capsys):
    slp = _mixed(tmp_path)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = import_sleap(slp, tmp_path / "user")
    numbers, kp = _imported(project, "m")
    assert numbers == [0, 1, 2, 3, 4, 10]
    # not the +1000 predictions; on frame 10 the user's female only
    np.testing.assert_array_equal(kp[:5], _truth(0, numbers[:5]))
    np.testing.assert_array_equal(kp[5, 0], _xy(0, 10, 0))
    assert np.isnan(kp[5, 1]).all()
    [said] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "5 frame(s) with SLEAP predictions only were left out" in said
    assert "and 1 predicted instance(s) beside user instances" in said
    assert "--include-predictions" in said and "include_predictions=True" in said
    assert "are training labels now" not in caplog.text
    with pytest.raises(ValueError, match="hold SLEAP predictions only"):
        import_sleap(slp, tmp_path / "x", frames=[7])
    # the old way, asked for: predictions are labels, with the warning
    caplog.clear()
    argv = ["import", str(slp), str(tmp_path / "all"), "--include-predictions"]
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(argv) == 0
    numbers, kp = _imported(load_project(tmp_path / "all"), "m")
    assert numbers == [*range(10), 10]
    np.testing.assert_array_equal(kp, _truth(0, numbers))  # the user wins where both
    assert "6 of the 11 frames imported hold SLEAP predictions" in caplog.text
    assert "left out" not in caplog.text


def test_a_file_of_predictions_only_is_refused_naming_the_option(tmp_path, capsys):
    slp = _mixed(tmp_path, only_predictions=True)
    with pytest.raises(ValueError, match="holds no user instance") as err:
        import_sleap(slp, tmp_path / "p")
    assert "--include-predictions" in str(err.value)
    assert "include_predictions=True" in str(err.value)
    assert not (tmp_path / "p").exists()
    project = import_sleap(slp, tmp_path / "p", include_predictions=True)
    assert _imported(project, "m")[0] == list(range(10))


def test_track_names_are_slots_at_import_and_analysis(tmp_path, caplog, monkeypatch):
    """Import and multi-animal analysis say the names are slots, not identities."""
    from posekit.engine.multianimal import api

    video = _write_video(tmp_path / "m.mp4", 4, 10)
    slp = tmp_path / "flies.slp"
    sio.save_slp(_labels({video: [0, 2]}), str(slp))
    with caplog.at_level(logging.WARNING, logger="posekit"):
        project = import_sleap(slp, tmp_path / "p")
    [said] = [
        r.getMessage() for r in caplog.records if "SLEAP tracks" in r.getMessage()
    ]
    assert "these names are slots, the animals in the order they are found" in said
    assert "not who is who" in said and "female may be another animal" in said

    class Stop(Exception):
        pass

    class Folder:  # the model: analysis stops right after the warnings
        @staticmethod
        def of(project, shuffle):
            return Folder()

        def snapshot(self, snapshot):
            return 0, tmp_path / "snapshot"

        def ensure_dlc_markers(self):
            raise Stop

    monkeypatch.setattr(api, "ModelFolder", Folder)

    def slot_lines() -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="posekit"), pytest.raises(Stop):
            api.analyze_multianimal_videos(load_project(project.path), [video])
        return [r.getMessage() for r in caplog.records if "as slots" in r.getMessage()]

    [line] = slot_lines()  # once per call
    assert "are the SLEAP tracks female, male, and identity is false" in line
    assert "not who is who" in line and "female may be another animal" in line
    config = project.config_path
    text = config.read_text(encoding="utf-8")
    # identity on: the identity warning speaks instead
    config.write_text(text.replace("\nidentity: false\n", "\nidentity: true\n"))
    assert slot_lines() == []
    # individuals renamed: no longer the SLEAP tracks
    config.write_text(text.replace("- female\n", "- fly1\n"))
    assert load_project(project.path).individuals == ["fly1", "male"]
    assert slot_lines() == []
    # a project not made from SLEAP tracks says nothing
    config.write_text(text.replace("# identity: the individuals are the SLEAP", "# x"))
    assert slot_lines() == []


def _hand_labels(tmp_path: Path) -> Path:
    """Write a DLC label file on images named after frames 0 and 2."""
    from posekit.engine.io import save_poses
    from posekit.engine.poses import from_numpy

    pos = np.arange(2 * 2 * 2 * 1, dtype=float).reshape(2, 2, 2, 1) + 1
    ds = from_numpy(pos, keypoint_names=["a", "b"], individual_names=["ind"])
    ds.attrs["frames"] = ["labeled-data/v/img0000.png", "labeled-data/v/img0002.png"]
    ds.attrs["scorer"] = "me"
    return save_poses(ds, tmp_path / "CollectedData_me.h5", fmt="DeepLabCut")


def test_convert_video_is_written_absolute_or_warned(tmp_path, monkeypatch, caplog):
    h5 = _hand_labels(tmp_path)
    _write_video(tmp_path / "vids" / "v.mp4", 3, 10)
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["convert", str(h5), "out/back.slp", "--video", "vids/v.mp4"]) == 0
    assert "not found" not in caplog.text
    written = sio.load_slp(str(tmp_path / "out" / "back.slp"))
    assert written.video.filename == str(tmp_path / "vids" / "v.mp4")  # not as typed
    monkeypatch.chdir(tmp_path / "out")  # from elsewhere, the link still holds
    assert sio.load_slp("back.slp").video.exists()
    # a video that is not there: written as given, and said
    monkeypatch.chdir(tmp_path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["convert", str(h5), "out/gone.slp", "--video", "clip.mp4"]) == 0
    assert sio.load_slp("out/gone.slp").video.filename == "clip.mp4"
    [said] = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert f"the video clip.mp4 is not found (looked up in {tmp_path})" in said
    assert "SLEAP will ask for the video" in said and "--video VIDEO" in said


def test_untracked_videos_share_numbered_individuals(tmp_path):
    """Without tracks: individual_k is the k-th user instance, over every video."""
    skel = sio.Skeleton(NODES)
    paths = [_write_video(tmp_path / f"u{v}.mp4", 4, 10 + 50 * v) for v in (0, 1)]
    vids = [sio.Video(filename=str(p), open_backend=False) for p in paths]

    def user(v, f, k):
        return sio.Instance.from_numpy(_xy(v, f, k), skeleton=skel)

    predicted = sio.PredictedInstance.from_numpy(
        _xy(1, 2, 2), skeleton=skel, point_scores=np.ones(3), score=1.0
    )
    frames = [
        sio.LabeledFrame(video=vids[0], frame_idx=1, instances=[user(0, 1, 0)]),
        sio.LabeledFrame(
            video=vids[1],
            frame_idx=2,
            instances=[user(1, 2, 0), user(1, 2, 1), predicted],
        ),
    ]
    slp = tmp_path / "untracked.slp"
    sio.save_slp(sio.Labels(frames, videos=vids, skeletons=[skel]), str(slp))
    project = import_sleap(slp, tmp_path / "p")
    assert project.individuals == ["individual_0", "individual_1"]  # not the prediction
    _, kp = _imported(project, "u0")
    np.testing.assert_array_equal(kp[0, 0], _xy(0, 1, 0))
    assert np.isnan(kp[0, 1]).all()
    _, kp = _imported(project, "u1")
    np.testing.assert_array_equal(kp[0], _truth(1, [2])[0])
