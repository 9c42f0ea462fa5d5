"""Assembly on constructed score maps and part-affinity fields, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.multianimal.assembly import Assembler, AssemblyConfig, paf_costs
from posekit.engine.multianimal.peaks import FrameDetections, find_peaks
from posekit.engine.multianimal.targets import make_multianimal_targets, stack_channels

STRIDE = 4.0


def _maps(animals, edges, unique=None, size=(128, 128), paf_width=4.0):
    """Perfect network outputs for these animals: (scoremap, locref, paf) of 1 frame."""
    kp = stack_channels(np.asarray(animals, float)[None], unique)
    h, w = int(size[1] / STRIDE), int(size[0] / STRIDE)
    t = make_multianimal_targets(
        kp,
        edges,
        (h, w),
        stride=STRIDE,
        sigma=3.0,
        pos_dist_thresh=8.0,
        paf_width=paf_width,
    )
    return t.scoremap, t.locref, t.paf


def _assemble(animals, edges, config, unique=None, n_multi=None):
    scmap, locref, paf = _maps(animals, edges, unique)
    det = find_peaks(scmap, locref, stride=STRIDE, threshold=0.3, nms_radius=2)[0]
    paf_costs(det, paf[0], edges, stride=STRIDE)
    n_multi = n_multi or np.shape(animals)[1]
    n_unique = 0 if unique is None else np.shape(unique)[1]
    return Assembler(config, edges, n_multi, n_unique).assemble(det)


def _sorted(animals):
    a = np.asarray(animals)[..., :2]
    return a[np.lexsort((a[:, 0, 1], a[:, 0, 0]))]


def test_two_animals_crossing_are_assembled_by_their_fields_not_by_distance():
    # head -> tail segments cross at the middle of the frame; each animal's head is
    # nearer to the other's tail (60 px) than to its own (~90 px)
    a = [[20.0, 20.0], [84.0, 84.0]]
    b = [[84.0, 20.0], [20.0, 84.0]]
    out = _assemble([a, b], [(0, 1)], AssemblyConfig(max_individuals=2))
    assert out.animals.shape == (2, 2, 3)
    np.testing.assert_allclose(_sorted(out.animals), _sorted([a, b]), atol=1e-4)
    assert (out.animals[..., 2] > 0.6).all()  # keypoints between cells
    # the wrong pairs have (almost) no affinity
    det = find_peaks(*_maps([a, b], [(0, 1)])[:2], stride=STRIDE, threshold=0.3)[0]
    m1 = paf_costs(det, _maps([a, b], [(0, 1)])[2][0], [(0, 1)], stride=STRIDE)[0]["m1"]
    right = np.sort(m1.max(axis=1))
    wrong = np.sort(m1.min(axis=1))
    assert right.min() > 0.75 and wrong.max() < 0.3


def test_an_occluded_bodypart_leaves_a_hole_and_min_keypoints_drops_animals():
    edges = [(0, 1), (0, 2), (1, 2)]
    animals = np.array(
        [
            [[10.0, 10.0], [20.0, 12.0], [34.0, 14.0]],
            [[60.0, 60.0], [68.0, 70.0], [76.0, 84.0]],
            [[100.0, 20.0], [np.nan, np.nan], [110.0, 48.0]],  # neck hidden
        ]
    )
    out = _assemble(animals, edges, AssemblyConfig(max_individuals=3))
    got = _sorted(out.animals)
    np.testing.assert_allclose(got, _sorted(animals), atol=1e-4)
    occluded = got[np.isnan(got[:, 1, 0])]
    assert len(occluded) == 1 and occluded[0, 0].tolist() == pytest.approx([100, 20])
    # the animal with a hidden part ranks last: its score counts 2 of 3 bodyparts
    last = out.animals[np.argmin(out.scores)]
    assert np.isnan(last[1, 0])
    assert out.scores.min() == pytest.approx(np.nansum(last[:, 2]) / 3)
    strict = _assemble(
        animals, edges, AssemblyConfig(max_individuals=3, min_keypoints=3)
    )
    assert len(strict.animals) == 2 and not np.isnan(strict.animals).any()


def test_unique_bodypart_is_kept_apart_from_the_animals():
    animals = [[[10.0, 10.0], [30.0, 10.0]], [[60.0, 90.0], [60.0, 110.0]]]
    lever = np.array([[[100.0, 40.0]]])
    out = _assemble(
        animals, [(0, 1)], AssemblyConfig(max_individuals=2), unique=lever, n_multi=2
    )
    np.testing.assert_allclose(_sorted(out.animals), _sorted(animals), atol=1e-4)
    assert out.unique.shape == (1, 3)
    np.testing.assert_allclose(out.unique[0, :2], [100.0, 40.0], atol=1e-4)


def test_more_animals_than_allowed_keep_the_best():
    animals = [
        [[10.0, 10.0], [30.0, 10.0]],
        [[60.0, 90.0], [60.0, 110.0]],
        [[100.0, 20.0], [120.0, 20.0]],
    ]
    out = _assemble(animals, [(0, 1)], AssemblyConfig(max_individuals=2))
    assert len(out.animals) == 2
    assert (out.scores[:-1] >= out.scores[1:]).all()


def test_a_part_without_links_joins_the_nearest_animal_lacking_it():
    animals = [
        [[10.0, 10.0], [30.0, 10.0], [20.0, 24.0]],
        [[80.0, 80.0], [100.0, 80.0], [90.0, 94.0]],
    ]
    edges = [(0, 1), (0, 2), (1, 2)]
    scmap, locref, paf = _maps(animals, edges)
    paf[..., 2:] = 0.0  # no field for the edges of part 2
    det = find_peaks(scmap, locref, stride=STRIDE, threshold=0.3)[0]
    paf_costs(det, paf[0], edges, stride=STRIDE)
    cfg = AssemblyConfig(max_individuals=2)
    got = Assembler(cfg, edges, 3).assemble(det).animals
    np.testing.assert_allclose(_sorted(got), _sorted(animals), atol=1e-4)
    alone = Assembler(cfg.replace(add_discarded=False), edges, 3).assemble(det)
    assert np.isnan(alone.animals[:, 2]).all()
    # without any link, a candidate is an animal of its own only with min_keypoints=1
    det.costs = {}
    single = Assembler(cfg.replace(min_keypoints=1), edges, 3).assemble(det)
    assert len(single.animals) == 2
    assert (np.isfinite(single.animals[..., 0]).sum(axis=1) == 1).all()
    assert len(Assembler(cfg, edges, 3).assemble(det).animals) == 0


def test_detections_round_trip_dlc_layout():
    det = FrameDetections(
        [np.array([[1.0, 2.0]]), np.zeros((0, 2))], [np.array([0.5]), np.zeros(0)]
    )
    back = FrameDetections.from_dlc(det.to_dlc())
    assert back.coordinates[0].tolist() == [[1.0, 2.0]]
    assert back.confidence[1].shape == (0,)
    assert det.to_dlc()["confidence"][0].shape == (1, 1)


def test_assembly_config_is_validated():
    with pytest.raises(ValueError, match="max_individuals"):
        AssemblyConfig(max_individuals=0)
    cfg = AssemblyConfig(max_individuals=3, pcutoff=0.2)
    assert AssemblyConfig.from_dict(cfg.to_dict()) == cfg
