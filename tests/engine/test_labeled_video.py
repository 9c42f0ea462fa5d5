"""Labelled videos.

Frame count, markers at known pixels, p-cutoff, skeleton, trails, atomic writes, and
the ``posekit labeled-video`` command.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.drawing import bodypart_colors
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.labeled_video import (
    create_labeled_video,
    h264_available,
    labeled_video_path,
)
from posekit.engine.video import VideoReader

GREY = 128
W, H, N = 160, 120, 24
BODYPARTS = ["snout", "ear", "tail"]
SCORER = "DLC_resnet50_testJan1shuffle1_100"
# snout fixed and confident, ear fixed and confident, tail fixed but unlikely
SNOUT, EAR, TAIL = (40.0, 30.0), (100.0, 30.0), (120.0, 90.0)


@pytest.fixture(scope="module")
def grey_video(tmp_path_factory) -> Path:
    """Write a uniform grey video (MJPEG .avi decodes almost exactly)."""
    path = tmp_path_factory.mktemp("lv") / "grey.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    for _ in range(N):
        writer.write(np.full((H, W, 3), GREY, np.uint8))
    writer.release()
    return path


def _predictions(folder: Path, tail_likelihood: float = 0.1) -> Path:
    xyp = np.zeros((N, len(BODYPARTS), 3))
    xyp[:, 0] = (*SNOUT, 0.95)
    xyp[:, 1] = (*EAR, 0.9)
    xyp[:, 2] = (*TAIL, tail_likelihood)
    path = folder / f"grey{SCORER}.h5"
    return write_predictions(predictions_frame(xyp, SCORER, BODYPARTS), path)


@pytest.fixture(scope="module")
def predictions(grey_video) -> Path:
    return _predictions(grey_video.parent)


def _close(pixel: np.ndarray, color, tol: float) -> bool:
    return bool(np.abs(pixel.astype(float) - np.asarray(color, float)).max() <= tol)


@pytest.mark.parametrize(
    "codec", ["h264", "mjpeg"] if h264_available() else ["mjpeg", "mp4v"]
)
def test_markers_frame_count_and_pcutoff(grey_video, predictions, codec) -> None:
    out = create_labeled_video(
        grey_video,
        predictions,
        pcutoff=0.6,
        dotsize=6,
        alpha=1.0,
        skeleton=[["snout", "ear"]],
        skeleton_color="white",
        codec=codec,
        progress=False,
    )
    assert out == labeled_video_path(predictions, codec)
    # DeepLabCut's name: <predictions stem>_p<int(100 * pcutoff)>_labeled
    assert out.name == (
        f"grey{SCORER}_p60_labeled{'.avi' if codec == 'mjpeg' else '.mp4'}"
    )
    colors = bodypart_colors(3, "rainbow")
    with VideoReader(out) as reader, VideoReader(grey_video) as src:
        assert reader.n_frames == src.n_frames == N
        assert (reader.width, reader.height) == (W, H)
        for index in (0, N // 2, N - 1):
            frame = reader[index]
            assert _close(frame[30, 40], colors[0], 40), frame[30, 40]
            assert _close(frame[30, 100], colors[1], 40), frame[30, 100]
            assert _close(frame[90, 120], (GREY,) * 3, 12), frame[90, 120]  # hidden
            assert _close(frame[30, 70], (255, 255, 255), 40)  # skeleton
            assert _close(frame[100, 20], (GREY,) * 3, 12)  # background untouched


def test_low_pcutoff_draws_unlikely_points(grey_video, predictions, tmp_path) -> None:
    out = create_labeled_video(
        grey_video,
        predictions,
        tmp_path / "low.avi",
        pcutoff=0.05,
        alpha=1.0,
        codec="mjpeg",
        progress=False,
    )
    color = bodypart_colors(3, "rainbow")[2]
    with VideoReader(out) as reader:
        assert _close(reader[3][90, 120], color, 40)


def test_trail_fades_behind_a_moving_point(grey_video, tmp_path) -> None:
    xyp = np.zeros((N, 1, 3))
    xyp[:, 0, 0] = 20 + 4 * np.arange(N)  # moves right 4 px per frame
    xyp[:, 0, 1] = 60
    xyp[:, 0, 2] = 1.0
    pred = write_predictions(
        predictions_frame(xyp, SCORER, ["snout"]), tmp_path / f"grey{SCORER}.h5"
    )
    plain = create_labeled_video(
        grey_video, pred, tmp_path / "plain.avi", dotsize=2, alpha=1.0,
        codec="mjpeg", progress=False,
    )  # fmt: skip
    trail = create_labeled_video(
        grey_video, pred, tmp_path / "trail.avi", dotsize=2, alpha=1.0,
        trail_length=5, codec="mjpeg", progress=False,
    )  # fmt: skip
    with VideoReader(plain) as a, VideoReader(trail) as b:
        # frame 10: the point is at x=60; 3 frames earlier it was at x=48
        behind_plain = a[10][60, 48].astype(float)
        behind_trail = b[10][60, 48].astype(float)
    assert np.abs(behind_plain - GREY).max() < 12
    assert np.abs(behind_trail - GREY).max() > 20


def test_written_atomically(grey_video, predictions, tmp_path) -> None:
    out = tmp_path / "video_labeled.avi"
    out.write_bytes(b"previous version")

    def interrupt(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_labeled_video(
            grey_video, predictions, out, codec="mjpeg", progress=interrupt
        )
    assert out.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video_labeled.avi"]
    calls = []
    create_labeled_video(
        grey_video,
        predictions,
        out,
        codec="mjpeg",
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (N, N) and len(calls) == N
    with VideoReader(out) as reader:
        assert reader.n_frames == N


def test_bad_input_is_explained(grey_video, predictions, tmp_path) -> None:
    with pytest.raises(ValueError, match="not in the predictions"):
        create_labeled_video(
            grey_video, predictions, skeleton=[["snout", "nose"]], progress=False
        )
    with pytest.raises(ValueError, match="Unknown codec"):
        create_labeled_video(grey_video, predictions, codec="xvid", progress=False)
    with pytest.raises(FileNotFoundError):
        create_labeled_video(tmp_path / "none.mp4", predictions, progress=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    project = make_demo_project(
        tmp_path_factory.mktemp("lv-demo"), n_frames=30, n_labeled=0
    )
    kp, _ = load_ground_truth(project)
    xyp = np.concatenate([kp, np.full(kp.shape[:2] + (1,), 0.9)], axis=-1)
    scorer = "DLC_resnet50_demoJan1shuffle1_100"
    write_predictions(
        predictions_frame(xyp, scorer, project.bodyparts),
        project.path / "videos" / f"session1{scorer}.h5",
    )
    return project


def test_cli_labeled_video(demo, capsys) -> None:
    rc = main(["labeled-video", str(demo.path), "--trail", "3", "--no-skeleton"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    predictions = demo.path / "videos" / "session1DLC_resnet50_demoJan1shuffle1_100.h5"
    assert lines[0] == f"read  {predictions}"
    assert lines[-1].startswith("wrote ")
    out = Path(lines[-1].removeprefix("wrote "))
    # the demo project's pcutoff is 0.5
    assert out.name == "session1DLC_resnet50_demoJan1shuffle1_100_p50_labeled.mp4"
    assert out.parent == demo.path / "videos"
    with VideoReader(out) as reader:
        assert reader.n_frames == 30
    # run again: the labelled video in videos/ is not mistaken for a video to label
    assert main(["labeled-video", str(demo.path), "--pcutoff", "0.95"]) == 0
    captured = capsys.readouterr()
    # another pcutoff, another file (DeepLabCut's name carries it)
    out95 = out.with_name("session1DLC_resnet50_demoJan1shuffle1_100_p95_labeled.mp4")
    assert captured.out.strip().splitlines() == [
        f"read  {predictions}",
        f"wrote {out95}",
    ]
    assert "no predictions" not in captured.err
    video = demo.path / "videos" / "session1.mp4"
    with VideoReader(out95) as reader, VideoReader(video) as src:
        diff = np.abs(reader[5].astype(float) - src[5].astype(float))  # no markers
    assert diff.mean() < 3
    assert main(["labeled-video", str(demo.path), "--filtered"]) == 2
    # DeepLabCut's color_by and displayedbodyparts
    capsys.readouterr()
    args = ["labeled-video", str(demo.path), "--color-by", "individual"]
    assert main([*args, "--bodyparts", "snout, tailbase"]) == 0
    assert capsys.readouterr().out.strip().endswith("_100_p50_labeled.mp4")
    assert main([*args, "--bodyparts", "nose"]) == 2
    assert "not in the predictions" in capsys.readouterr().err


def test_deeplabcut_style_calls_take_the_config_and_videos(demo, tmp_path) -> None:
    """``create_labeled_video(config, [video])`` and ``filter_predictions(...)``.

    As a DeepLabCut script calls them from ``posekit.engine`` (they failed: the
    config was taken for the video, or "takes 1 positional argument").
    """
    import posekit.engine as dlc

    config = str(demo.path / "config.yaml")
    video = str(demo.path / "videos" / "session1.mp4")
    (filtered,) = dlc.filter_predictions(config, [video], window=3)
    assert filtered.name == "session1DLC_resnet50_demoJan1shuffle1_100_filtered.h5"
    (out,) = dlc.create_labeled_video(
        config, [video], filtered=True, progress=False, displayedbodyparts="all"
    )
    assert out.name.endswith("_filtered_p50_labeled.mp4")
    with pytest.raises(ValueError, match="nose.*not in the predictions"):
        dlc.create_labeled_video(config, [video], displayedbodyparts=["nose"])
    with VideoReader(out) as reader:
        assert reader.n_frames == 30
    # a video without predictions: said, with what to do
    other = tmp_path / "other.mp4"
    shutil.copy(video, other)
    with pytest.raises(FileNotFoundError, match="No predictions for .*analyse them"):
        dlc.create_labeled_video(config, [other])
    with pytest.raises(FileNotFoundError, match="No predictions") as err:
        dlc.filter_predictions(config, [other])
    # analysed with --dest: the message names the way out (QA s20 docslit)
    assert "--dest OUT" in str(err.value) and "destfolder=OUT" in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        dlc.filter_predictions(config, [other], destfolder=str(tmp_path))
    assert "--dest OUT" not in str(err.value)  # a destfolder was given


def test_deeplabcut_style_calls_to_extract_and_split(tmp_path) -> None:
    """``extract_frames(config, video)`` and ``create_training_dataset(config)``."""
    import posekit.engine as dlc

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=4, size=(160, 120))
    config = str(project.config_path)
    images = dlc.extract_frames(config, project.videos()[0], mode="uniform", n=2)
    assert len(images) == 2 and all(p.is_file() for p in images)
    (split,) = dlc.create_training_dataset(config)
    assert len(split.train_indices) + len(split.test_indices) == 4


def test_deeplabcut_extract_frames_call(tmp_path, caplog) -> None:
    """DLC's ``extract_frames(config, "automatic", algo, ...)`` over every video."""
    import logging

    import posekit.engine as dlc
    from posekit.engine.labels import list_frames

    project = make_demo_project(tmp_path, n_frames=30, n_labeled=0, size=(160, 120))
    project.set("numframes2pick", 5)
    first = project.videos()[0]
    second = tmp_path / "second.mp4"
    shutil.copy(first, second)
    project.add_videos([second])
    project.save()
    config = str(project.config_path)
    with caplog.at_level(logging.INFO, logger="posekit"):
        done = dlc.extract_frames(config, "automatic", "uniform", userfeedback=False)
    assert [len(f) for f in done] == [5, 5]
    assert [f.video.name for f in done] == [first.name, "second.mp4"]
    assert len(list_frames(project, "second")) == 5
    assert "userfeedback=False does not apply" in caplog.text
    # DLC's keywords; only the listed videos; crop=True takes video_sets' crop
    entry = next(k for k in project.video_sets if k.endswith("second.mp4"))
    project.cfg["video_sets"][entry]["crop"] = "10, 90, 20, 80"
    project.save()
    (again,) = dlc.extract_frames(
        config, mode="automatic", algo="kmeans", crop=True, videos_list=[str(second)]
    )
    assert again.video.name == "second.mp4" and len(again) == 5
    assert again.new and cv2.imread(str(again.new[0])).shape == (60, 80, 3)
    # a project made on Windows names its videos C:\...\second.mp4: the crop
    # is still found (Path(key).name was the whole string on Linux)
    crop = project.cfg["video_sets"].pop(entry)
    project.cfg["video_sets"][r"C:\lab\videos\second.mp4"] = crop
    project.save()
    shutil.rmtree(project.path / "labeled-data" / "second")
    (windows,) = dlc.extract_frames(
        config, "automatic", "uniform", crop=True, videos_list=[str(second)]
    )
    assert cv2.imread(str(windows.new[0])).shape == (60, 80, 3)
    with pytest.raises(ValueError, match="Label app's frame picker"):
        dlc.extract_frames(config, "manual")
    with pytest.raises(ValueError, match="names no video"):
        dlc.extract_frames(config, mode="kmeans")
    with pytest.raises(ValueError, match="crop window"):
        dlc.extract_frames(config, "automatic", "kmeans", "GUI")


def test_labeled_video_does_not_count_frames_first(
    grey_video, predictions, tmp_path, monkeypatch
) -> None:
    """Progress uses the container's count; no decode just to count (F4)."""

    def count(self):
        raise AssertionError("every frame decoded to count them")

    monkeypatch.setattr(VideoReader, "_count_frames", count)
    calls = []
    out = create_labeled_video(
        grey_video,
        predictions,
        tmp_path / "v.avi",
        codec="mjpeg",
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[0] == (1, N) and calls[-1] == (N, N)
    assert out.is_file()


def test_labeled_video_of_a_truncated_video(
    grey_video, predictions, tmp_path, caplog
) -> None:
    """The container says N frames, fewer decode: progress ends at the real count."""
    import logging

    data = grey_video.read_bytes()
    cut = tmp_path / "grey.avi"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        assert reader.metadata_frames == N
        n = len(reader)
    assert 0 < n < N
    calls = []
    with caplog.at_level(logging.WARNING, logger="posekit"):
        out = create_labeled_video(
            cut,
            predictions,
            tmp_path / "v.avi",
            codec="mjpeg",
            progress=lambda d, t: calls.append((d, t)),
        )
    assert calls[-1] == (n, n)
    assert f"has {n} frames but the predictions {N}" in caplog.text
    with VideoReader(out) as reader:
        assert len(reader) == n
