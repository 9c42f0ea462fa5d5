"""Keypoint-aware augmentation: the image and the keypoints move together."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.engine.augment import (
    AugmentConfig,
    Augmenter,
    augment,
    flip_permutation,
    warp_affine,
)


def dot_image(points, shape=(120, 160), colors=None) -> np.ndarray:
    """Dark frame with a bright 3×3 dot at each (x, y) (integer) point."""
    img = np.full((*shape, 3), 20, np.uint8)
    for i, (x, y) in enumerate(points):
        color = colors[i] if colors is not None else (255, 255, 255)
        img[y - 1 : y + 2, x - 1 : x + 2] = color
    return img


def test_bright_dot_stays_under_its_keypoint() -> None:
    cfg = AugmentConfig(
        crop_size=(64, 64),
        blur_probability=0.5,
        rotation_deg=40,
        scale_range=(0.7, 1.4),
    )
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(60):
        x, y = rng.integers(10, 150), rng.integers(10, 110)
        img = dot_image([(x, y)])
        crop, kp = augment(img, np.array([[x, y]], float), cfg, rng)
        assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
        if not np.isfinite(kp).all():
            continue
        kx, ky = kp[0]
        if not (2 <= kx <= 61 and 2 <= ky <= 61):
            continue
        gray = crop.astype(float).mean(axis=-1)
        weight = np.clip(gray - (gray.max() + np.median(gray)) / 2, 0, None)
        ys, xs = np.indices(gray.shape)
        bx, by = (xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()
        # a half-pixel convention error would show as >= 0.5 px
        assert np.hypot(bx - kx, by - ky) <= 0.45, (bx, by, kx, ky)
        checked += 1
    assert checked >= 20  # about half the crops are centred on the animal


def test_keypoints_outside_the_crop_become_nan() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    m = np.array([[1.0, 0.0, -50.0], [0.0, 1.0, -50.0]])  # crop [50, 82) × [50, 82)
    kp = np.array([[60.0, 60.0], [10.0, 60.0], [np.nan, np.nan], [81.9, 50.0]])
    _, out = warp_affine(img, kp, m, (32, 32))
    np.testing.assert_allclose(out[0], [10.0, 10.0])
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()
    np.testing.assert_allclose(out[3], [31.9, 0.0], atol=1e-5)


def test_flip_swaps_named_pairs() -> None:
    bodyparts = ["snout", "leftear", "rightear", "tail"]
    assert flip_permutation(bodyparts, [("leftear", "rightear")]).tolist() == [
        0,
        2,
        1,
        3,
    ]
    # left ear red, right ear green. In the mirrored image the animal's left ear is the
    # mirror image of its right ear: the keypoint named leftear must sit on the green dot.
    pts = [(80, 40), (60, 60), (100, 60), (80, 100)]
    colors = [(255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    img = dot_image(pts, colors=colors)
    kp = np.array(pts, float)
    cfg = AugmentConfig.none((160, 160)).replace(
        flip_probability=1.0, animal_crop_fraction=1.0, animal_jitter=0.0
    )
    aug = Augmenter(cfg, bodyparts, [("leftear", "rightear")])
    crop, out = aug(img, kp, np.random.default_rng(0))
    # mirrored: the left ear (channel 1) is now right of the right ear (channel 2)
    assert out[1, 0] < out[2, 0]
    # the leftear keypoint sits on the green dot (the original right ear, mirrored)
    x, y = np.round(out[1]).astype(int)
    assert crop[y, x, 1] > 200 and crop[y, x, 0] < 50
    x, y = np.round(out[2]).astype(int)
    assert crop[y, x, 0] > 200 and crop[y, x, 1] < 50
    # snout and tail keep their names and colours
    x, y = np.round(out[3]).astype(int)
    assert crop[y, x, 2] > 200


def test_labelled_mask_follows_the_mirror() -> None:
    bodyparts = ["leftear", "rightear", "tail"]
    kp = np.array([[40.0, 40.0], [np.nan, np.nan], [100.0, 10.0]])  # tail off-frame
    cfg = AugmentConfig.none((64, 64)).replace(
        flip_probability=1.0, animal_crop_fraction=0.0
    )  # the crop is the whole 64×64 frame, mirrored
    aug = Augmenter(cfg, bodyparts, [("leftear", "rightear")])
    img = np.zeros((64, 64, 3), np.uint8)
    crops, out, labelled = aug.batch(
        [img], kp[None], [0], np.random.default_rng(0), return_labelled=True
    )
    # rightear (channel 1) now holds the labelled ear; leftear the unlabelled one
    assert labelled[0].tolist() == [False, True, True]
    assert np.isnan(out[0, 0]).all()
    np.testing.assert_allclose(out[0, 1], [63 - 40, 40], atol=1e-4)
    assert np.isnan(out[0, 2]).all()  # labelled, but outside the crop


def test_no_flip_without_pairs_and_bad_pairs() -> None:
    cfg = AugmentConfig.none((32, 32)).replace(flip_probability=1.0)
    assert Augmenter(cfg, ["a", "b"]).flip_perm is None
    with pytest.raises(ValueError, match="not a bodypart"):
        flip_permutation(["a", "b"], [("a", "c")])
    with pytest.raises(ValueError, match="more than one"):
        flip_permutation(["a", "b", "c"], [("a", "b"), ("b", "c")])


def test_seeded_and_deterministic() -> None:
    img = np.random.default_rng(1).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    kp = np.array([[40.0, 30.0], [50.0, 45.0]])
    aug = Augmenter(AugmentConfig(crop_size=(48, 48)))
    a = aug.batch([img] * 3, np.stack([kp] * 3), [0, 1, 2], np.random.default_rng(5))
    b = aug.batch([img] * 3, np.stack([kp] * 3), [0, 1, 2], np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == (3, 48, 48, 3) and a[1].shape == (3, 2, 2)


def test_config_validation_and_round_trip() -> None:
    cfg = AugmentConfig(crop_size=[128, 96], scale_range=[0.5, 2])
    assert cfg.crop_size == (128, 96) and cfg.scale_range == (0.5, 2.0)
    assert AugmentConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="flip_probability"):
        AugmentConfig(flip_probability=2)
    with pytest.raises(ValueError, match="scale_range"):
        AugmentConfig(scale_range=(2, 1))
    with pytest.raises(ValueError, match="Unknown AugmentConfig"):
        AugmentConfig.from_dict({"crop": 3})
