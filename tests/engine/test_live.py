"""Real time: one frame in, one pose out; the latest-frame policy; smoothing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from posekit.engine.live import LivePose, LivePredictor, frame_source


class _Brightest:
    """A stand-in predictor: the brightest pixel of channel 0, after ``delay_s``."""

    batch_size = 1

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, frames):
        self.gate.wait()
        time.sleep(self.delay_s)
        f = np.asarray(frames)[0, ..., 0]
        self.seen.append(int(np.asarray(frames)[0, 0, 0, 1]))  # the frame's tag
        y, x = np.unravel_index(f.argmax(), f.shape)
        return np.array([[[x, y, f.max() / 255.0]]], float)


def _frame(x: int, y: int, tag: int = 0, value: int = 255) -> np.ndarray:
    img = np.zeros((16, 16, 3), np.uint8)
    img[y, x, 0] = value
    img[0, 0, 1] = tag
    return img


def test_one_frame_in_one_pose_out() -> None:
    live = LivePredictor(_Brightest(), ["dot"])
    pose = live(_frame(5, 3))
    assert isinstance(pose, LivePose) and pose.index == 0
    np.testing.assert_allclose(pose.xyp, [[5, 3, 1.0]])
    assert pose.latency_s >= 0
    assert live(_frame(1, 1)).index == 1  # counted
    assert pose.as_dict(["dot"])["bodyparts"] == {"dot": [5.0, 3.0, 1.0]}


def test_latest_frame_policy_drops_frames_not_time() -> None:
    predictor = _Brightest()
    predictor.gate.clear()  # inference stalls on the first frame
    poses: list[LivePose] = []
    live = LivePredictor(predictor, ["dot"]).start(on_pose=poses.append)
    live.submit(_frame(1, 1, tag=0), index=0)
    time.sleep(0.2)  # frame 0 is being predicted
    for i in range(1, 10):  # nine frames arrive meanwhile
        live.submit(_frame(i, i, tag=i), index=i)
    predictor.gate.set()
    assert live.wait(timeout=10)
    live.stop()
    # frame 0, then only the newest of the nine: eight were dropped
    assert predictor.seen == [0, 9]
    assert [p.index for p in poses] == [0, 9]
    assert live.stats.dropped == 8 and live.stats.predicted == 2
    np.testing.assert_allclose(live.latest().xyp[:, :2], [[9, 9]])


def test_smoothing_blends_confident_positions_only() -> None:
    live = LivePredictor(_Brightest(), ["dot"], smoothing=0.5, pcutoff=0.5)
    np.testing.assert_allclose(live(_frame(4, 4)).xyp[:, :2], [[4, 4]])
    np.testing.assert_allclose(live(_frame(8, 8)).xyp[:, :2], [[6, 6]])
    # a low-likelihood detection is reported as is and does not move the average
    np.testing.assert_allclose(live(_frame(0, 12, value=50)).xyp[:, :2], [[0, 12]])
    np.testing.assert_allclose(live(_frame(10, 10)).xyp[:, :2], [[8, 8]])
    with pytest.raises(ValueError, match="smoothing must be in"):
        LivePredictor(_Brightest(), smoothing=1.0)


def test_submit_before_start_and_after_a_failure() -> None:
    live = LivePredictor(_Brightest())
    with pytest.raises(RuntimeError, match="Call start"):
        live.submit(_frame(1, 1))

    def broken(frames):
        raise ValueError("bad frame")

    failing = LivePredictor(broken).start()
    failing.submit(_frame(1, 1))
    # the last frame failed: wait() says so (it returned True, as if it was done)
    with pytest.raises(RuntimeError, match="live inference stopped: bad frame"):
        failing.wait(timeout=5)
    with pytest.raises(RuntimeError, match="live inference stopped: bad frame"):
        failing.wait(timeout=5)  # (and again: the stream stays stopped)
    with pytest.raises(RuntimeError, match="live inference stopped"):
        failing.submit(_frame(1, 1))
    failing.stop()


def test_a_failing_pose_callback_stops_the_stream_and_says_why() -> None:
    """A callback writing to a closed pipe killed the thread; wait() then hung."""

    def closed_pipe(pose):
        raise BrokenPipeError(32, "Broken pipe")

    live = LivePredictor(_Brightest(), ["dot"]).start(on_pose=closed_pipe)
    live.submit(_frame(1, 1), index=0)
    with pytest.raises(RuntimeError, match="live inference stopped") as info:
        for i in range(1, 50):  # frames keep coming, as a camera's would
            time.sleep(0.01)
            live.submit(_frame(1, 1), index=i)
        live.wait(timeout=10)
    assert isinstance(info.value.__cause__, BrokenPipeError)
    live.stop()


def test_frame_source_reads_a_video_at_its_rate(tmp_path) -> None:
    import cv2

    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50, (32, 24))
    for i in range(10):
        writer.write(np.full((24, 32, 3), 20 * i, np.uint8))
    writer.release()
    frames, info = frame_source(str(path))
    assert (info["width"], info["height"], info["fps"]) == (32, 24, 50)
    assert [i for i, _, _ in frames] == list(range(10))
    frames, _ = frame_source(str(path), realtime=True)
    t0 = time.perf_counter()
    assert len(list(frames)) == 10
    assert time.perf_counter() - t0 >= 9 / 50 * 0.9  # released at 50 frames/s
    with pytest.raises(OSError, match="Cannot open video"):
        frame_source(str(tmp_path / "none.avi"))


def test_a_model_that_is_not_there_is_named(tmp_path, capsys) -> None:
    from posekit.engine.cli import main
    from posekit.engine.live import open_live

    with pytest.raises(FileNotFoundError, match=r"No model at .*typo\.zip: give a"):
        open_live(tmp_path / "typo.zip", (48, 64))
    video = tmp_path / "v.avi"
    import cv2

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    assert main(["live", "--model", str(tmp_path / "typo.zip"), str(video)]) == 2
    assert "No model at" in capsys.readouterr().err
