"""Likelihood 0 is a prediction, NaN is a gap: through SLEAP and COCO and back (QA s18).

DeepLabCut writes every prediction with x, y and a likelihood, 0 included; a point
masked out below ``pcutoff`` keeps its likelihood with a NaN position. SLEAP carries
all of it (a predicted point has ``visible`` and ``score``, an invisible one keeps its
score), so DLC -> SLEAP -> DLC gives the same table. COCO results (``x, y, score``,
``0, 0, 0`` for a missing keypoint) cannot carry some points: those are named in one
warning.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from posekit.engine.cli import main
from posekit.engine.io import load_poses
from posekit.engine.io.coco import predictions_to_coco_results
from posekit.engine.io.dlc import save_dlc
from posekit.engine.poses import from_numpy

SCORER = "DLC_resnet50_fliesDec6shuffle1_1000"
#: x, y, likelihood of each keypoint, as a DeepLabCut table row holds them
ROW = {
    "zero": (10.0, 11.0, 0.0),  # a prediction with likelihood 0
    "low": (20.0, 21.0, 0.3),
    "gap": (np.nan, np.nan, np.nan),  # no prediction
}
#: what COCO results cannot hold
LOSSY = {
    "masked": (np.nan, np.nan, 0.05),  # below pcutoff, masked: likelihood kept
    "origin": (0.0, 0.0, 0.0),  # at (0, 0) with likelihood 0
    "placed": (50.0, 51.0, np.nan),  # a position without a likelihood
}


def _poses(rows: dict, individuals=("individual_0",), n_frames: int = 3):
    names = list(rows)
    xyl = np.array([rows[k] for k in names], float)  # (keypoint, 3)
    pos = np.broadcast_to(
        xyl[:, :2].T[None, :, :, None], (n_frames, 2, len(names), len(individuals))
    ).copy()
    conf = np.broadcast_to(
        xyl[:, 2][None, :, None], (n_frames, len(names), len(individuals))
    ).copy()
    if len(individuals) > 1:  # the second animal's points elsewhere
        pos[..., 1] += 100
    return from_numpy(
        pos,
        conf,
        keypoint_names=names,
        individual_names=list(individuals),
        source_software="DeepLabCut",
    )


def _dlc_h5(tmp_path, rows, individuals=("individual_0",)):
    return save_dlc(
        _poses(rows, individuals), tmp_path / f"flyDLC{SCORER[3:]}.h5", scorer=SCORER
    )


def _same_table(a, b) -> None:
    """Check two DLC files hold the same columns and values (not the scorer)."""
    a, b = pd.read_hdf(a), pd.read_hdf(b)
    assert a.columns.droplevel("scorer").equals(b.columns.droplevel("scorer"))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert len(a) == len(b)


# ---------------------------------------------------------------- SLEAP


@pytest.mark.parametrize("individuals", [("individual_0",), ("female", "male")])
@pytest.mark.parametrize("to", ["SLEAP", "SLEAP-analysis"])
def test_dlc_to_sleap_and_back_is_the_same_table(tmp_path, individuals, to, caplog):
    pytest.importorskip("sleap_io")
    h5 = _dlc_h5(tmp_path, {**ROW, "masked": LOSSY["masked"]}, individuals)
    mid = tmp_path / ("fly.slp" if to == "SLEAP" else "fly.analysis.h5")
    back = tmp_path / "back" / "flyDLC_back.h5"
    back.parent.mkdir()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["convert", str(h5), str(mid), "--to", to]) == 0
        assert main(["convert", str(mid), str(back), "--to", "DeepLabCut"]) == 0
    assert "likelihood" not in caplog.text  # nothing lost, nothing to say
    _same_table(h5, back)
    got = {col[1:]: value for col, value in pd.read_hdf(back).iloc[0].items()}
    ind = () if len(individuals) == 1 else (individuals[0],)
    for part, xyl in {**ROW, "masked": LOSSY["masked"]}.items():
        cell = [got[(*ind, part, c)] for c in ("x", "y", "likelihood")]
        np.testing.assert_array_equal(cell, xyl)


def test_the_slp_holds_a_visible_point_with_score_0(tmp_path):
    """Check the .slp in SLEAP's own terms.

    Score 0 is a visible point, the gap an invisible one, the masked point an
    invisible one with its score.
    """
    sio = pytest.importorskip("sleap_io")
    h5 = _dlc_h5(tmp_path, {**ROW, "masked": LOSSY["masked"]})
    out = tmp_path / "fly.slp"
    assert main(["convert", str(h5), str(out)]) == 0
    labels = sio.load_slp(str(out))
    [inst] = labels.labeled_frames[0].instances
    assert type(inst) is sio.PredictedInstance
    assert inst.points["visible"].tolist() == [True, True, False, False]
    np.testing.assert_array_equal(inst.points["score"], [0.0, 0.3, np.nan, 0.05])


def test_a_sleap_prediction_file_reads_as_sleap_io_reads_it(tmp_path):
    """A predicted point with score 0 is a point; an invisible one keeps its score."""
    sio = pytest.importorskip("sleap_io")
    from posekit.engine.io.sleap import load_sleap

    skel = sio.Skeleton(["a", "b", "c"])
    video = sio.Video(filename="fly.mp4", open_backend=False)
    pts = np.array([[5.0, 6.0], [7.0, 8.0], [np.nan, np.nan]])
    inst = sio.PredictedInstance.from_numpy(
        pts, skeleton=skel, point_scores=np.array([0.0, 0.4, 0.02]), score=0.2
    )
    frame = sio.LabeledFrame(video=video, frame_idx=0, instances=[inst])
    path = tmp_path / "preds.slp"
    sio.save_slp(sio.Labels([frame], videos=[video], skeletons=[skel]), str(path))
    ds = load_sleap(path)
    np.testing.assert_array_equal(
        ds.position.isel(time=0, individual=0).transpose("keypoint", "space"),
        pts,
    )
    np.testing.assert_array_equal(
        ds.confidence.isel(time=0, individual=0), [0.0, 0.4, 0.02]
    )
    ref = sio.load_slp(str(path)).numpy(return_confidence=True)[0, 0]
    np.testing.assert_allclose(  # sleap-io gives float32
        ds.confidence.isel(time=0, individual=0), ref[:, 2], rtol=1e-6
    )


def test_likelihoods_of_an_animal_without_a_point_are_said(tmp_path, caplog):
    """SLEAP stores no instance without a visible point: those likelihoods go."""
    pytest.importorskip("sleap_io")
    from posekit.engine.io.sleap import save_slp

    ds = _poses(ROW, ("female", "male"))
    ds["position"][1, :, :, 1] = np.nan  # the male masked out in frame 1
    ds["confidence"][1, :, 1] = 0.01
    ds.attrs["video_path"] = "fly.mp4"
    with caplog.at_level(logging.WARNING, logger="posekit"):
        back = load_poses(save_slp(ds, tmp_path / "fly.slp"))
    [said] = [r.getMessage() for r in caplog.records if "likelihoods" in r.message]
    assert "1 animal(s) x frame(s)" in said and "male in frame 1" in said
    assert np.isnan(back.confidence.sel(individual="male").isel(time=1)).all()
    np.testing.assert_array_equal(
        back.confidence.sel(individual="female"), ds.confidence.sel(individual="female")
    )


# ---------------------------------------------------------------- COCO


def test_dlc_to_coco_results_and_back_keeps_likelihood_0(tmp_path, caplog):
    h5 = _dlc_h5(tmp_path, ROW)
    out = tmp_path / "fly.json"
    back = tmp_path / "back" / "flyDLC_back.h5"
    back.parent.mkdir()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert main(["convert", str(h5), str(out)]) == 0
        assert main(["convert", str(out), str(back), "--to", "DeepLabCut"]) == 0
    assert "COCO results" not in caplog.text
    results = json.loads(out.read_text())
    assert results[0]["keypoints"] == [10.0, 11.0, 0.0, 20.0, 21.0, 0.3, 0, 0, 0]
    assert results[0]["score"] == pytest.approx(0.15)  # mean of the two predictions
    # COCO results hold no keypoint names: the values come back, the names do not
    np.testing.assert_array_equal(
        pd.read_hdf(back).to_numpy(), pd.read_hdf(h5).to_numpy()
    )


def test_what_coco_results_cannot_hold_is_said_once(caplog):
    ds = _poses({**ROW, **LOSSY}, n_frames=2)
    with caplog.at_level(logging.WARNING, logger="posekit"):
        results = predictions_to_coco_results(ds)
    said = [r.getMessage() for r in caplog.records if "COCO results" in r.message]
    assert len(said) == 1
    assert "2 point(s) without a likelihood get score 1" in said[0]
    assert "2 point(s) predicted at (0, 0) with likelihood 0" in said[0]
    assert "2 likelihood(s) of points without a position are dropped" in said[0]
    kp = np.reshape(results[0]["keypoints"], (-1, 3))
    np.testing.assert_array_equal(
        kp,
        [[10, 11, 0.0], [20, 21, 0.3], [0, 0, 0], [0, 0, 0], [0, 0, 0], [50, 51, 1]],
    )


def test_coco_results_of_other_tools_keep_score_0(tmp_path):
    """A keypoint ``x, y, 0`` away from (0, 0) is a prediction; ``0, 0, 0`` a gap."""
    path = tmp_path / "results.json"
    kps = [3.5, 4.5, 0, 0, 0, 0, 6.0, 7.0, 0.25]
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "keypoints": kps}]))
    ds = load_poses(path)
    np.testing.assert_array_equal(
        ds.position.isel(time=0, individual=0).transpose("keypoint", "space"),
        [[3.5, 4.5], [np.nan, np.nan], [6.0, 7.0]],
    )
    np.testing.assert_array_equal(
        ds.confidence.isel(time=0, individual=0), [0.0, np.nan, 0.25]
    )
