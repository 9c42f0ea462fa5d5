"""Duplicate peaks: two refined peaks of one bodypart on one animal (QA s16, finding 1).

A keypoint whose score is high on two cells more than the NMS window apart gives two
peaks that refine onto (almost) the same point; the assembly gave the duplicate to
the second animal, whose own (less confident) peak was left unused.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from posekit.engine.multianimal.assembly import Assembler, AssemblyConfig, paf_costs
from posekit.engine.multianimal.inference import MultiAnimalPredictor
from posekit.engine.multianimal.layout import MultiAnimalLayout
from posekit.engine.multianimal.outputs import (
    full_pickle_metadata,
    read_assemblies_pickle,
    read_full_pickle,
    save_full_pickle,
    tracks_frame,
    write_tracks,
)
from posekit.engine.multianimal.peaks import (
    FrameDetections,
    find_peaks,
    nms_distance,
    nms_radius_from_dlc,
    suppress_duplicates,
)
from posekit.engine.multianimal.targets import make_multianimal_targets, stack_channels

STRIDE, SIGMA, STDEV = 4.0, 3.0, 7.2801
A = [[18.0, 18.0], [18.0, 50.0]]  # head, thorax (on cell centres)
B = [[90.0, 18.0], [90.0, 50.0]]


def _maps_with_duplicate():
    """Perfect maps of A and B, B's thorax less confident, a duplicate of A's thorax.

    The duplicate cell lies 2 cells right of A's thorax (outside a 3 x 3 window, so
    it survives the cell NMS) and its location refinement points back at A's thorax.
    """
    kp = stack_channels(np.asarray([A, B], float)[None])
    t = make_multianimal_targets(
        kp,
        [(0, 1)],
        (32, 32),
        stride=STRIDE,
        sigma=SIGMA,
        pos_dist_thresh=8.0,
        paf_width=4.0,
    )
    scmap, locref, paf = t.scoremap.copy(), t.locref.copy(), t.paf
    # B's thorax region scores 0.8 (a less sure peak than A's)
    rb, cb = int((B[1][1] - 2) / STRIDE), int((B[1][0] - 2) / STRIDE)
    scmap[0, rb - 3 : rb + 4, cb - 3 : cb + 4, 1] *= 0.8
    ra, ca = int((A[1][1] - 2) / STRIDE), int((A[1][0] - 2) / STRIDE)
    scmap[0, ra, ca + 2, 1] = 0.95
    locref[0, ra, ca + 2, 2:4] = [-2 * STRIDE / STDEV, 0.0]  # → A's thorax
    return scmap, locref, paf


def _predictor(maps, **kwargs):
    cfg = SimpleNamespace(
        paf_edges=((0, 1),),
        num_keypoints=2,
        sigma=SIGMA,
        input_scale=1.0,
        head_stride=STRIDE,
        locref_stdev=STDEV,
    )
    model = SimpleNamespace(pose_config=cfg)
    p = MultiAnimalPredictor(
        model, 2, assembly=AssemblyConfig(max_individuals=2), **kwargs
    )
    p.maps = lambda batch: maps  # the network's outputs, made up
    return p


def _by_x(animals):
    a = np.asarray(animals)
    return a[np.argsort(np.nanmean(a[:, :, 0], axis=1))]


def test_the_duplicate_survives_cell_nms_but_not_the_refined_distance():
    scmap, locref, _ = _maps_with_duplicate()
    old = find_peaks(scmap, locref, stride=STRIDE, nms_radius=1, threshold=0.3)[0]
    thorax = old.coordinates[1]
    assert len(thorax) == 3  # A, its duplicate (same point), B
    assert np.linalg.norm(thorax[0] - thorax[1]) < 1.0
    new = find_peaks(
        scmap, locref, stride=STRIDE, nms_radius=1, threshold=0.3, min_distance=SIGMA
    )[0]
    np.testing.assert_allclose(new.coordinates[1], [A[1], B[1]], atol=0.5)
    assert new.confidence[1][1] == pytest.approx(0.8, abs=0.01)


def test_the_second_animal_keeps_its_own_peak_not_the_duplicate():
    out = _predictor(_maps_with_duplicate())(np.zeros((1, 128, 128, 3), np.float32))
    animals = _by_x(out[0].animals)
    assert animals.shape == (2, 2, 3)
    np.testing.assert_allclose(animals[..., :2], [A, B], atol=0.5)


def test_the_assembler_skips_duplicates_of_detections_read_from_a_file():
    # candidates as an older _full.pickle holds them: A's thorax twice, B's last
    scmap, locref, paf = _maps_with_duplicate()
    det = find_peaks(scmap, locref, stride=STRIDE, nms_radius=1, threshold=0.3)[0]
    paf_costs(det, paf[0], [(0, 1)], stride=STRIDE)
    config = AssemblyConfig(max_individuals=2)
    plain = Assembler(config, [(0, 1)], 2).assemble(det)  # as before: B loses
    assert not np.allclose(_by_x(plain.animals)[..., :2], [A, B], atol=0.5)
    fixed = Assembler(config, [(0, 1)], 2, peak_distance=SIGMA).assemble(det)
    np.testing.assert_allclose(_by_x(fixed.animals)[..., :2], [A, B], atol=0.5)


def test_duplicates_and_distances():
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [20.0, 0.0], [24.0, 0.0]])
    conf = np.array([0.5, 0.9, 0.7, 0.7])
    assert suppress_duplicates(xy, conf, 6.0).tolist() == [1, 2]
    assert suppress_duplicates(xy, conf, 0.0).tolist() == [1, 2, 3, 0]
    assert suppress_duplicates(np.zeros((0, 2)), np.zeros(0), 5.0).tolist() == []
    # DeepLabCut's nmsradius 5 is a 5 x 5 window: 2 cells each side
    assert nms_radius_from_dlc(5.0) == 2
    assert nms_distance(2, stride=8, sigma=10.9) == 16.0
    assert nms_distance(2, stride=8, input_scale=0.5, sigma=10.9) == 32.0
    p = _predictor(_maps_with_duplicate())
    assert p.nms_radius == 1 and p.nms_distance == pytest.approx(SIGMA + 1.0)


def _video_detections(n_frames=30, n_animals=3):
    """Return detections of ``n_animals`` two-part animals walking right."""
    dets = []
    for f in range(n_frames):
        heads = np.array([[10.0 + f + 60 * i, 20.0] for i in range(n_animals)])
        tails = heads + [0.0, 30.0]
        m1 = np.full((n_animals, n_animals), 0.0)
        np.fill_diagonal(m1, 0.9)
        dets.append(
            FrameDetections(
                [heads, tails],
                [np.full(n_animals, 0.9), np.full(n_animals, 0.8)],
                {0: {"m1": m1, "distance": np.full((n_animals, n_animals), 30.0)}},
            )
        )
    return dets


def test_restitch_from_the_full_pickle_into_another_number_of_animals(tmp_path):
    from posekit.engine.multianimal.api import _changed_animals, restitch_video

    layout = MultiAnimalLayout(("a", "b", "c"), ("head", "tail"))
    dets = _video_detections()
    scorer = "DLC_net_taskJan1shuffle1_5"
    stem = tmp_path / f"clip{scorer}"
    save_full_pickle(
        f"{stem}_full.pickle",
        dets,
        full_pickle_metadata(
            layout, [(0, 1)], len(dets), nms_radius=5, min_confidence=0.05, sigma=3.0
        ),
    )
    # a first analysis into 2 animals
    two = np.full((len(dets), 2, 2, 3), np.nan)
    write_tracks(tracks_frame(two, layout, scorer), f"{stem}_el.h5")
    video = tmp_path / "clip.mp4"
    assert _changed_animals({video: None}, scorer, "el", 2) == {}
    assert _changed_animals({video: None}, scorer, "el", 3) == {
        video: (tmp_path / f"clip{scorer}_el.h5", 2)
    }
    out = restitch_video(f"{stem}_el.h5", layout, 3, scorer=scorer, save_as_csv=True)
    df = pd.read_hdf(out, "tracks")
    assert list(dict.fromkeys(df.columns.get_level_values("individuals"))) == [
        "a",
        "b",
        "c",
    ]
    assert df.notna().all().all() and out.with_suffix(".csv").is_file()
    assert len(read_assemblies_pickle(f"{stem}_assemblies.pickle", 30, 2)) == 30
    assert read_full_pickle(f"{stem}_full.pickle")[0]["nms radius"] == 5.0
    # no detections to re-stitch from: refused, naming --animals and --overwrite
    (tmp_path / f"clip{scorer}_full.pickle").unlink()
    with pytest.raises(ValueError, match=r"--animals 2.*--overwrite"):
        _changed_animals({video: None}, scorer, "el", 2)


def test_a_video_analysed_into_one_animal_is_named_in_the_singular(tmp_path):
    """QA s22 (madlc), finding 6: "into 1 animals"."""
    from posekit.engine.multianimal.api import _changed_animals

    layout = MultiAnimalLayout(("a", "b"), ("head", "tail"))
    scorer = "DLC_net_taskJan1shuffle1_5"
    one = np.full((4, 1, 2, 3), np.nan)
    write_tracks(tracks_frame(one, layout, scorer), tmp_path / f"clip{scorer}_el.h5")
    with pytest.raises(ValueError, match=r"analysed before into 1 animal \(clip"):
        _changed_animals({tmp_path / "clip.mp4": None}, scorer, "el", 2)
