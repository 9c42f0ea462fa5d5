"""Identity switches of small animals: the matching gate and the unmatched animals.

QA s18: on small animals (320×240 frames), a weak model's 5–6 px errors give an OKS
below the default gate of 0.5, so ``posekit evaluate --tracks`` matched none of
those animals and counted none of their swaps ("2 switches" where 5 were visible),
without saying that many animals were never judged. The gate can now be set
(``min_oks``, or ``max_distance`` in pixels), and the unmatched animals are
reported beside the switches.
"""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.evaluation import oks
from posekit.engine.io import save_poses
from posekit.engine.multianimal.api import evaluate_tracks
from posekit.engine.multianimal.metrics import identity_metrics, match_instances
from posekit.engine.poses import from_numpy

# a small animal: 6 keypoints in a 16 × 12 px box
BODY = np.array([[0, 0], [16, 0], [8, 4], [0, 12], [16, 12], [8, 8]], float)
N_FRAMES = 120
SMALL_ERROR = slice(30, 60)  # 5–6 px errors: OKS ~0.1–0.2
SWAPPED = [range(30, 45), range(80, 100)]  # predicted identities swapped
MISSING = range(110, 115)  # predicted animal 1 absent


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 2, 6, 2)`` true tracks of two small animals and predictions of them.

    Predictions are off by 1 px, except frames 30–59 (5–6 px); their identities are
    swapped in frames 30–44 and 80–99; predicted animal 1 is missing in 110–114.
    Four swap events, two switches each (CLEAR MOT counts each true animal):
    30, 45, 80 and 100.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(N_FRAMES, dtype=float)[:, None, None]
    gt = np.stack(
        [BODY + [40.0, 100.0] + t * [0.5, 0.0], BODY + [90.0, 100.0] + t * [0.5, 0.2]],
        axis=1,
    )  # 50 px apart
    size = np.ones(gt.shape[:-1])
    size[SMALL_ERROR] = rng.uniform(5.0, 6.0, size[SMALL_ERROR].shape)
    angle = rng.uniform(0, 2 * np.pi, size.shape)
    pred = gt + size[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    for frames in SWAPPED:
        pred[frames] = pred[frames][:, ::-1]
    pred[MISSING, 1] = np.nan
    return pred, gt


def test_the_scene_is_what_the_tests_say() -> None:
    """OKS below 0.5 at 5–6 px, above at 1 px; the errors are 5–6 px."""
    pred, gt = _scene()
    err = np.linalg.norm(pred[50] - gt[50], axis=-1)
    assert err.min() >= 5.0 and err.max() <= 6.0
    assert oks(pred[50], gt[50]).max() < 0.25
    assert oks(pred[10], gt[10]).min() > 0.9


def test_the_default_gate_counts_only_the_swaps_of_matched_animals() -> None:
    """OKS >= 0.5, as documented: the swaps at 30 and 45 are not seen, and said so."""
    pred, gt = _scene()
    m = identity_metrics(pred, gt)
    assert m["gate"] == "OKS >= 0.5" and m["min_oks"] == 0.5
    assert m["max_distance"] is None
    assert m["switch_frames"] == [80, 80, 100, 100]
    assert m["id_switches"] == 4
    # frames 30–59 (2 animals each) beyond the gate; 110–114 animal 1 unpredicted
    assert m["n_labelled"] == 240 and m["n_labelled_frames"] == 120
    assert m["unmatched_beyond_gate"] == 60
    assert m["unmatched_no_prediction"] == 5
    assert m["unmatched"] == 65 and m["n_matched"] == 175
    assert m["unmatched_frames"] == 35


def test_a_distance_gate_counts_every_injected_swap() -> None:
    pred, gt = _scene()
    m = identity_metrics(pred, gt, max_distance=10)
    assert m["gate"] == "mean keypoint distance <= 10 px"
    assert m["min_oks"] is None and m["max_distance"] == 10.0
    assert m["switch_frames"] == [30, 30, 45, 45, 80, 80, 100, 100]
    assert m["id_switches"] == 8
    assert m["unmatched_beyond_gate"] == 0
    assert m["unmatched_no_prediction"] == 5
    assert m["unmatched"] == 5 and m["unmatched_frames"] == 5
    # a gate below the errors leaves frames 30–59 out again
    tight = identity_metrics(pred, gt, max_distance=4)
    assert tight["switch_frames"] == [80, 80, 100, 100]
    assert tight["unmatched_beyond_gate"] == 60


def test_a_lower_min_oks_counts_them_too() -> None:
    pred, gt = _scene()
    m = identity_metrics(pred, gt, min_oks=0.05)
    assert m["gate"] == "OKS >= 0.05"
    assert m["switch_frames"] == [30, 30, 45, 45, 80, 80, 100, 100]
    assert m["unmatched"] == 5


def test_the_gate_is_checked() -> None:
    pred, gt = _scene()
    with pytest.raises(ValueError, match="not both"):
        identity_metrics(pred, gt, min_oks=0.5, max_distance=10)
    with pytest.raises(ValueError, match="between 0 and 1"):
        identity_metrics(pred, gt, min_oks=5)
    with pytest.raises(ValueError, match="above 0"):
        identity_metrics(pred, gt, max_distance=0)


def test_within_the_gate_the_most_pairs_are_matched() -> None:
    """CLEAR MOT: the assignment is made among the pairs within the threshold.

    Prediction 0 is 1 px from label 0 and 9 px from label 1; prediction 1 is 9 px
    from label 0 and 12 px from label 1. The least total distance pairs 0–0 and 1–1
    (13 px), and dropping the pair beyond a 10 px gate would then keep one; among
    the pairs within the gate both animals are matched (0–1, 1–0: 18 px).
    """
    gt = np.array([[[0.0, 0.0]], [[1.0, 9.0]]])
    pred = np.array([[[1.0, 0.0]], [[9.0, 0.0]]])
    p, g, d = match_instances(pred, gt, max_distance=10)
    assert sorted(zip(p.tolist(), g.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert d.tolist() == [9.0, 9.0]


def _write(path, xy: np.ndarray, confidence: float):
    """Save ``(T, I, K, 2)`` as a DeepLabCut multi-animal ``.h5``."""
    position = xy.transpose(0, 3, 2, 1)  # time, space, keypoint, individual
    conf = np.where(np.isnan(position[:, 0]), np.nan, confidence)
    ds = from_numpy(
        position,
        conf,
        keypoint_names=[f"k{i}" for i in range(xy.shape[2])],
        individual_names=["mouse1", "mouse2"],
    )
    return save_poses(ds, path, fmt="DeepLabCut")


def test_evaluate_tracks_and_the_command_line(tmp_path, demo_project_ro, capsys):
    pred, gt = _scene()
    tracks = _write(tmp_path / "v1DLC_el.h5", pred, 0.9)
    truth = _write(tmp_path / "truth.h5", gt, 1.0)
    m = evaluate_tracks(tracks, truth)
    assert m["id_switches"] == 4 and m["unmatched_beyond_gate"] == 60
    m = evaluate_tracks(tracks, truth, max_distance=10)
    assert m["id_switches"] == 8 and m["unmatched"] == 5

    project = str(demo_project_ro.path)
    args = ["evaluate", project, "--tracks", str(tracks), "--truth", str(truth)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "animals match when     OKS >= 0.5" in out
    assert "matched animals        175 of 240 labelled (73 %)" in out
    assert (
        "not matched          65 in 35 of 120 frames: 60 beyond the gate, "
        "5 with no predicted animal"
    ) in out
    assert (
        "identity switches      4 (among the matched animals), at frames 80, 100"
        in (out)
    )
    assert "note: 60 labelled animals had a predicted animal beyond the gate" in out
    assert "--max-distance PX" in out

    assert main([*args, "--max-distance", "10"]) == 0
    out = capsys.readouterr().out
    assert "animals match when     mean keypoint distance <= 10 px" in out
    assert (
        "identity switches      8 (among the matched animals), at frames 30, 45, 80, 100"
        in out
    )
    assert "not matched          5 in 5 of 120 frames: 0 beyond the gate" in out
    assert "note:" not in out

    assert main([*args, "--min-oks", "0.05"]) == 0
    assert "identity switches      8" in capsys.readouterr().out

    assert main([*args, "--min-oks", "2"]) == 2
    assert "min_oks is an OKS, between 0 and 1; got 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one gate or the other
        main([*args, "--min-oks", "0.5", "--max-distance", "10"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["evaluate", project, "--max-distance", "10"]) == 2
    assert "--max-distance sets how --tracks are matched" in capsys.readouterr().err
