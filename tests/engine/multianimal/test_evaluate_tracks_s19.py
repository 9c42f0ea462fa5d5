"""``evaluate_tracks`` aligns the two files by frame number and says what it scored.

QA s19: it cut both arrays to the shorter one and compared them row by row, without a
word. Predictions of 500 frames against a truth of 3000 were scored on 500 frames; a
truth that labels scattered frames (a DeepLabCut tracks file of every 5th frame, a
label file of extracted ``img<N>.png`` frames) was compared with the first rows of the
predictions, whatever frames they were; and a SLEAP ``.slp``'s unlabelled frames
(loaded as empty frames) counted every predicted animal there as a false positive.
"""

from __future__ import annotations

import logging

import numpy as np

from posekit.engine.cli import main
from posekit.engine.io import save_poses
from posekit.engine.io.dlc import make_labels_frame, write_labels
from posekit.engine.multianimal.api import evaluate_tracks
from posekit.engine.poses import from_numpy

BODY = np.array([[0, 0], [16, 0], [8, 4], [0, 12], [16, 12], [8, 8]], float)
KEYPOINTS = [f"k{i}" for i in range(len(BODY))]
ANIMALS = ["mouse1", "mouse2"]
N_FRAMES = 120
SWAPPED = range(80, 100)  # predicted identities swapped: switches at 80 and 100
MISSING = range(110, 115)  # predicted animal 1 absent


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """``(T, 2, 6, 2)`` predictions (1 px off) and true tracks of two animals."""
    rng = np.random.default_rng(0)
    t = np.arange(N_FRAMES, dtype=float)[:, None, None]
    gt = np.stack(
        [BODY + [40.0, 100.0] + t * [0.5, 0.0], BODY + [90.0, 100.0] + t * [0.5, 0.2]],
        axis=1,
    )
    angle = rng.uniform(0, 2 * np.pi, gt.shape[:-1])
    pred = gt + np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    pred[SWAPPED] = pred[SWAPPED][:, ::-1]
    pred[MISSING, 1] = np.nan
    return pred, gt


def _save(path, xy, frames, confidence, fmt="DeepLabCut"):
    """Save ``(T, I, K, 2)`` of the given video frames (the time coordinate)."""
    position = xy.transpose(0, 3, 2, 1)  # time, space, keypoint, individual
    conf = np.where(np.isnan(position[:, 0]), np.nan, confidence)
    ds = from_numpy(
        position, conf, keypoint_names=KEYPOINTS, individual_names=ANIMALS
    ).assign_coords(time=np.asarray(frames, float))
    return save_poses(ds, path, fmt=fmt)


def test_shorter_predictions_are_scored_on_their_frames_and_said_so(tmp_path, caplog):
    pred, gt = _scene()
    truth = _save(tmp_path / "truth.h5", gt, range(N_FRAMES), 1.0)
    tracks = _save(tmp_path / "v1DLC_el.h5", pred[:50], range(50), 0.9)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        m = evaluate_tracks(tracks, truth)
    assert m["n_frames_predictions"] == 50 and m["n_frames_truth"] == 120
    assert m["n_frames_compared"] == m["n_frames"] == 50
    assert m["n_frames_truth_unpredicted"] == 70
    assert m["frame_range_compared"] == "0–49" and m["frame_range_truth"] == "0–119"
    assert m["id_switches"] == 0 and m["n_labelled"] == 100
    (record,) = [r for r in caplog.records if "scoring the 50 frames" in r.message]
    assert "the predictions cover 50 frames (0–49), the truth labels 120 (0–119)" in (
        record.message
    )
    assert "70 labelled frames have no prediction" in record.message


def test_predictions_of_later_frames_are_compared_with_the_same_frames(tmp_path):
    """Tracks of frames 60–119 only: row 0 is frame 60, not the truth's frame 0."""
    pred, gt = _scene()
    truth = _save(tmp_path / "truth.h5", gt, range(N_FRAMES), 1.0)
    tracks = _save(tmp_path / "v1DLC_el.h5", pred[60:], range(60, N_FRAMES), 0.9)
    m = evaluate_tracks(tracks, truth)
    assert m["n_frames_compared"] == 60 and m["frame_range_compared"] == "60–119"
    assert m["switch_frames"] == [80, 80, 100, 100]  # video frames
    assert m["unmatched"] == 5 and m["unmatched_no_prediction"] == 5  # 110–114
    assert m["frames_mean_error_px"] < 1.01  # every match is 1 px off


def test_a_truth_of_every_fifth_frame_is_aligned_by_frame_number(tmp_path):
    pred, gt = _scene()
    every5 = np.arange(0, N_FRAMES, 5)
    truth = _save(tmp_path / "truth.h5", gt[every5], every5, 1.0)
    tracks = _save(tmp_path / "v1DLC_el.h5", pred, range(N_FRAMES), 0.9)
    m = evaluate_tracks(tracks, truth)
    assert m["n_frames_truth"] == m["n_frames_compared"] == 24
    assert m["n_frames_predictions"] == 120 and m["n_frames_truth_unpredicted"] == 0
    assert m["switch_frames"] == [80, 80, 100, 100]
    assert m["n_labelled"] == 48 and m["unmatched"] == 1  # frame 110: no mouse2


def test_a_sleap_file_labelling_scattered_frames(tmp_path):
    """A ``.slp`` loads as frames 0–111, labelled at 8 of them: only those count."""
    pred, gt = _scene()
    labelled = np.array([3, 17, 40, 81, 85, 99, 100, 111])
    truth = _save(tmp_path / "truth.slp", gt[labelled], labelled, np.nan, "SLEAP")
    tracks = _save(tmp_path / "v1DLC_el.h5", pred, range(N_FRAMES), 0.9)
    m = evaluate_tracks(tracks, truth)
    assert m["n_frames_truth"] == m["n_frames_compared"] == 8
    assert m["frame_range_truth"] == "3–111"
    assert m["switch_frames"] == [81, 81, 100, 100]
    # 16 labelled animals, 1 missed (frame 111), 4 switches, no false positive: the
    # predicted animals of the 104 unlabelled frames are not counted against MOTA
    assert m["n_labelled"] == 16 and m["unmatched"] == 1
    assert m["mota"] == 1.0 - 5 / 16


def test_a_label_file_of_extracted_frames(tmp_path):
    """DeepLabCut's ``CollectedData``: the frame is the number in ``img<N>.png``."""
    pred, gt = _scene()
    frames = [10, 20, 85, 90]
    images = [f"labeled-data/v1/img{f:04d}.png" for f in frames]
    df = make_labels_frame("me", KEYPOINTS, images, gt[frames], individuals=ANIMALS)
    truth = write_labels(df, tmp_path / "CollectedData_me.h5", csv=False)
    tracks = _save(tmp_path / "v1DLC_el.h5", pred, range(N_FRAMES), 0.9)
    m = evaluate_tracks(tracks, truth)
    assert m["n_frames_compared"] == 4 and m["frame_range_compared"] == "10–90"
    assert m["switch_frames"] == [85, 85]


def test_the_command_line_prints_the_frames(tmp_path, demo_project_ro, capsys, caplog):
    pred, gt = _scene()
    truth = _save(tmp_path / "truth.h5", gt, range(N_FRAMES), 1.0)
    tracks = _save(tmp_path / "v1DLC_el.h5", pred[:50], range(50), 0.9)
    args = ["evaluate", str(demo_project_ro.path), "--tracks", str(tracks)]
    assert main([*args, "--truth", str(truth)]) == 0
    out = capsys.readouterr()
    assert (
        "frames compared        50 (0–49): the truth's labelled frames that the "
        "tracks have"
    ) in out.out
    assert (
        "  tracks / truth       50 frames (0–49) / 120 labelled frames (0–119)"
        in out.out
    )
    assert (
        "note: 70 of the truth's 120 labelled frames have no tracked frame (the "
        "tracks cover 0–49) and are not scored."
    ) in out.out
    assert "scoring the 50 frames both files have" in caplog.text  # the warning
