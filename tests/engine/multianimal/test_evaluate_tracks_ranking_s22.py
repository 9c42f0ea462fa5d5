"""``evaluate --tracks``: the per-frame OKS mAP ranks each frame's animals by likelihood.

QA s22 (metrics 4): every predicted animal had the same score, so the precision
curve, and the mAP, depended on which animal the file lists first.

The scene: one true animal per frame; the tracks hold a good animal (on the truth,
likelihood 0.9) and a false one far away (likelihood 0.1). Ranked by mean likelihood
the good animal comes first in every frame: every true positive precedes every false
positive, so the precision is 1 up to recall 1 and the mAP is 1 (COCO's precision
``tp / (tp + fp + eps)``), whatever the column order. The old code's tied scores
kept the file's order: with the false animal listed first the detections alternate
false, good, false, good… (precision 1/2 at every recall: mAP 0.5), with it listed
second the mAP was 0.61.
"""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.cli import main
from posekit.engine.io import save_poses
from posekit.engine.multianimal.api import evaluate_tracks
from posekit.engine.poses import from_numpy

BODY = np.array([[0, 0], [16, 0], [8, 4], [0, 12], [16, 12], [8, 8]], float)
KEYPOINTS = [f"k{i}" for i in range(len(BODY))]
N_FRAMES = 10


def _save(path, xy, confidence, individuals):
    """Save ``(T, I, K, 2)`` positions with a likelihood per animal ``(I,)``."""
    position = xy.transpose(0, 3, 2, 1)  # time, space, keypoint, individual
    conf = np.broadcast_to(
        np.asarray(confidence, float)[None, None, :], position[:, 0].shape
    ).copy()
    ds = from_numpy(
        position, conf, keypoint_names=KEYPOINTS, individual_names=individuals
    ).assign_coords(time=np.arange(len(xy), dtype=float))
    return save_poses(ds, path, fmt="DeepLabCut")


def _scene(tmp_path, false_first: bool):
    t = np.arange(N_FRAMES, dtype=float)[:, None, None]
    gt = (BODY + [40.0, 100.0] + t * [1.0, 0.0])[:, None]  # (T, 1, K, 2)
    good, false = gt[:, 0], gt[:, 0] + [150.0, 60.0]
    animals = [false, good] if false_first else [good, false]
    likelihood = [0.1, 0.9] if false_first else [0.9, 0.1]
    truth = _save(tmp_path / "truth.h5", gt, [1.0], ["mouse1"])
    tracks = _save(
        tmp_path / f"v1DLC_{int(false_first)}_el.h5",
        np.stack(animals, axis=1),
        likelihood,
        ["mouse1", "mouse2"],
    )
    return tracks, truth


@pytest.mark.parametrize("false_first", [True, False])
def test_the_likelier_animal_ranks_first_whatever_the_order(tmp_path, false_first):
    tracks, truth = _scene(tmp_path, false_first)
    m = evaluate_tracks(tracks, truth)
    assert m["frames_map"] == pytest.approx(1.0, abs=1e-6)
    assert m["frames_mar"] == pytest.approx(1.0)


def test_the_command_line_says_what_ranks_the_animals(
    tmp_path, demo_project_ro, capsys
):
    tracks, truth = _scene(tmp_path, True)
    args = ["evaluate", str(demo_project_ro.path), "--tracks", str(tracks)]
    assert main([*args, "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert (
        "OKS mAP / mAR (frames) 1.0000 / 1.0000 (identities ignored; each frame's "
        "animals ranked by their mean likelihood)"
    ) in out
