"""drawing: colours, points and skeletons at known pixels, video frames, evaluation images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.engine.drawing import (
    bodypart_colors,
    draw_labels,
    draw_points,
    draw_poses,
    draw_predictions,
    draw_skeleton,
    parse_color,
    plot_predictions,
    to_hex,
)

GREY = 128
W, H = 160, 120
SNOUT, EAR, TAIL = (40.0, 30.0), (100.0, 30.0), (120.0, 90.0)


# ---------------------------------------------------------------- colours


def test_parse_color_reads_names_hex_and_triples() -> None:
    assert parse_color("black") == (0, 0, 0)
    assert parse_color(" White ") == (255, 255, 255)
    assert parse_color("green") == (0, 128, 0)  # matplotlib's (CSS) green
    assert parse_color("darkgreen") == (0, 100, 0)
    assert parse_color("k") == (0, 0, 0)
    assert parse_color("#FF8000") == (255, 128, 0)
    assert parse_color((1.0, 0.5, 0.0)) == (255, 128, 0)  # 0-1 floats
    assert parse_color((0, 0, 1)) == (0, 0, 1)  # ints are 0-255
    assert parse_color(np.array([10, 20, 30], np.uint8)) == (10, 20, 30)
    assert parse_color([200.0, 100.0, 0.0]) == (200, 100, 0)


@pytest.mark.parametrize("bad", ["nonsense", "#12345", "#gg0000", (300, 0, 0), (1, 2)])
def test_parse_color_refuses_or_falls_back(bad) -> None:
    with pytest.raises(ValueError, match="Unknown colour"):
        parse_color(bad)
    assert parse_color(bad, default=(1, 2, 3)) == (1, 2, 3)


def test_to_hex_and_bodypart_colors() -> None:
    assert to_hex((255, 128, 0)) == "#ff8000"
    assert to_hex("black") == "#000000"
    assert bodypart_colors(0).shape == (0, 3)
    assert bodypart_colors(2, "jet").tolist() == [[0, 0, 128], [128, 0, 0]]
    assert len({tuple(c) for c in bodypart_colors(5, "viridis")}) == 5
    assert len({tuple(c) for c in bodypart_colors(5, "no-such-map")}) == 5
    rainbow = bodypart_colors(5, "rainbow")
    assert rainbow[0, 2] > rainbow[0, 0]  # matplotlib's rainbow starts purple-blue
    assert rainbow[-1, 0] == 255 and rainbow[-1, 2] < 50  # and ends red
    np.testing.assert_array_equal(bodypart_colors(5, "rainbow_r"), rainbow[::-1])


def test_evaluation_colours_are_the_jet_ramp() -> None:
    # plot_predictions' default: the JET ramp evaluation images always had
    ramp = np.linspace(0, 255, 6).astype(np.uint8)[:, None]
    jet = cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[:, 0, ::-1]
    np.testing.assert_array_equal(bodypart_colors(6, "jet"), jet)


# ---------------------------------------------------------------- primitives


def test_a_point_has_its_bodypart_colour_at_its_pixel() -> None:
    img = np.full((H, W, 3), GREY, np.uint8)
    colors = bodypart_colors(3, "rainbow")
    xy = np.array([SNOUT, EAR, (np.nan, np.nan)])
    draw_points(img, xy, colors, radius=3)
    assert tuple(img[30, 40]) == tuple(colors[0])  # row y, column x
    assert tuple(img[30, 100]) == tuple(colors[1])
    for y, x in ((30, 45), (30, 35), (25, 40), (35, 40)):  # beyond the anti-aliasing
        assert tuple(img[y, x]) == (GREY,) * 3, (y, x)
    assert tuple(img[33, 40]) != (GREY,) * 3  # at the radius
    assert 2 * 30 < (img != GREY).any(axis=-1).sum() < 2 * 60  # two dots, nothing else


def test_points_blend_mask_and_outline() -> None:
    img = np.full((H, W, 3), GREY, np.uint8)
    color = np.array([[255, 0, 0], [0, 0, 255]])
    draw_points(
        img, np.array([SNOUT, EAR]), color, radius=4, alpha=0.5, visible=[True, False]
    )
    np.testing.assert_allclose(img[30, 40], [192, 64, 64], atol=1)  # half red on grey
    assert tuple(img[30, 100]) == (GREY,) * 3  # masked out
    ring = np.full((H, W, 3), 255, np.uint8)
    draw_points(ring, np.array([SNOUT]), [(255, 255, 255)], radius=4, outline=(0, 0, 0))
    assert ring[30, 44].max() < 160  # the outline on the circle
    assert tuple(ring[30, 40]) == (255, 255, 255)  # the white dot inside


def test_skeleton_line_between_two_points() -> None:
    img = np.full((H, W, 3), GREY, np.uint8)
    xy = np.array([SNOUT, EAR, (np.nan, np.nan)])
    draw_skeleton(img, xy, [(0, 1), (1, 2)], "white", thickness=2)
    for x in (45, 70, 95):
        assert img[30, x].min() > 230, x  # on the line snout–ear
    assert tuple(img[20, 70]) == (GREY,) * 3  # off the line
    assert tuple(img[60, 110]) == (GREY,) * 3  # the edge to a missing point: not drawn
    hidden = np.full((H, W, 3), GREY, np.uint8)
    draw_skeleton(hidden, xy, [(0, 1)], "white", visible=[True, False, False])
    assert (hidden == GREY).all()
    with pytest.raises(ValueError, match="Unknown colour 'blak'"):
        draw_skeleton(img, xy, [(0, 1)], "blak")


# ---------------------------------------------------------------- pictures


def test_draw_labels_ignores_nan_and_leaves_the_input() -> None:
    img = np.full((20, 20, 3), 200, np.uint8)
    out = draw_labels(img, np.array([[np.nan, np.nan]]), np.array([[255, 0, 0]]))
    np.testing.assert_array_equal(out, img)
    gray = np.full((40, 40), 200, np.uint8)
    out = draw_labels(
        gray,
        np.array([[10.0, 10.0], [30.0, 10.0]]),
        np.array([[255, 0, 0], [0, 0, 255]]),
        dotsize=6,
        alpha=1.0,
        skeleton=[(0, 1)],
        skeleton_color=(0, 255, 0),
    )
    assert out.shape == (40, 40, 3) and (gray == 200).all()  # a drawn copy
    assert tuple(out[10, 10]) == (255, 0, 0) and tuple(out[10, 30]) == (0, 0, 255)
    assert out[10, 20, 1] > 200 and out[10, 20, 0] < 50  # green skeleton between
    assert out[10, 13].max() < 100  # the black outline at radius 3 (dotsize / 2)


def test_draw_poses_exact_pixels() -> None:
    frame = np.full((H, W, 3), GREY, np.uint8)
    colors = bodypart_colors(3, "rainbow")
    xy = np.array([[SNOUT], [EAR], [TAIL]], float)  # (keypoint, individual, 2)
    lik = np.array([[0.95], [0.9], [0.1]])
    draw_poses(
        frame,
        xy,
        lik,
        pcutoff=0.6,
        colors=colors,
        dotsize=4,
        alpha=1.0,
        edges=[(0, 1), (1, 2)],
        skeleton_color="white",
    )
    assert tuple(frame[30, 40]) == tuple(colors[0])  # snout: row y, column x
    assert tuple(frame[30, 100]) == tuple(colors[1])
    assert tuple(frame[90, 120]) == (GREY,) * 3  # below the p-cutoff: not drawn
    assert frame[30, 70].min() > 230  # skeleton snout–ear (anti-aliased line)
    assert tuple(frame[60, 110]) == (GREY,) * 3  # ear–tail edge hidden with the tail


def test_draw_poses_colours_individuals_and_uses_dlc_defaults() -> None:
    frame = np.full((H, W, 3), GREY, np.uint8)
    xy = np.array([[SNOUT, EAR]], float)  # one keypoint, two individuals
    colors = np.array([[255, 0, 0], [0, 0, 255]])
    draw_poses(frame, xy, colors=colors, color_by="individual")
    # DLC defaults: radius 12, opacity 0.7
    expect_red = 0.7 * np.array([255, 0, 0]) + 0.3 * GREY
    np.testing.assert_allclose(frame[30, 40], expect_red, atol=1)
    np.testing.assert_allclose(frame[30, 51], expect_red, atol=1)  # 11 px away
    np.testing.assert_allclose(
        frame[30, 100], 0.7 * np.array([0, 0, 255]) + 0.3 * GREY, atol=1
    )


def test_draw_predictions_and_plot_predictions(tmp_path) -> None:
    images = [np.zeros((60, 80, 3), np.uint8), np.zeros((60, 80, 3), np.uint8)]
    pred = np.array([[[20.0, 30.0, 0.9]], [[50.0, 10.0, 0.1]]])
    truth = np.array([[[20.0, 50.0]], [[np.nan, np.nan]]])
    paths = plot_predictions(
        images,
        pred,
        truth,
        tmp_path / "plots",
        names=["a/img1.png", "img2"],
        bodyparts=["snout"],
    )
    assert [p.name for p in paths] == ["a_img1.png", "img2.png"]
    first = cv2.imread(str(paths[0]))
    assert first.shape == (60, 80, 3)
    assert first[30, 20].sum() > 0  # filled circle at the confident prediction
    second = cv2.imread(str(paths[1]))
    assert second[10, 50].sum() == 0  # hollow circle below p-cutoff: centre empty
    assert second[10, 54].sum() > 0
    assert first[50, 24].sum() > 0  # an arm of the label's cross (the line is at x=20)
    assert first[40, 20].sum() > 0  # the line from prediction to label
    # one bodypart: the first colour of the colour map, exactly at the prediction
    jet = bodypart_colors(1, "jet")[0]
    assert tuple(cv2.cvtColor(first, cv2.COLOR_BGR2RGB)[30, 20]) == tuple(jet)
    drawn = draw_predictions(
        images[0], pred[0], truth[0], colors=[(0, 255, 0)], pcutoff=0.6
    )
    assert tuple(drawn[30, 20]) == (0, 255, 0)
    assert (images[0] == 0).all()  # the input is left alone
    with pytest.raises(ValueError, match="1 images for 2 predictions"):
        plot_predictions(images[:1], pred, None, tmp_path / "x")
