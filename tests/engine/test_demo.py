"""The synthetic demo project: its ground truth must be exact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import (
    BEHAVIORS,
    BODYPARTS,
    SKELETON,
    load_ground_truth,
    make_demo_project,
    simulate_session,
)
from posekit.engine.io.dlc import index_to_paths, labels_to_array, read_labels
from posekit.engine.project import Project, load_project
from posekit.engine.video import VideoReader


def _patch_mean(img: np.ndarray, xy: np.ndarray, r: int = 1) -> float:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return float(img[y - r : y + r + 1, x - r : x + r + 1].mean())


def _far_from_animal(shape: tuple[int, int], kp: np.ndarray, dist: float) -> np.ndarray:
    """Mask of floor pixels ``dist`` px away from every keypoint and the walls."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (xx > 12) & (xx < w - 12) & (yy > 12) & (yy < h - 12)
    for x, y in kp:
        mask &= (xx - x) ** 2 + (yy - y) ** 2 > dist**2
    return mask


# ---------------------------------------------------------------- simulation


def test_simulate_session_shapes_and_determinism() -> None:
    kp, labels, bodyparts = simulate_session(200, seed=3)
    assert kp.shape == (200, 6, 2) and labels.shape == (200,)
    assert bodyparts == BODYPARTS
    assert np.isfinite(kp).all()
    kp2, labels2, _ = simulate_session(200, seed=3)
    np.testing.assert_array_equal(kp, kp2)
    np.testing.assert_array_equal(labels, labels2)
    kp3, _, _ = simulate_session(200, seed=4)
    assert not np.allclose(kp, kp3)


def test_every_behaviour_occurs_and_bouts_have_their_length() -> None:
    fps = 30.0
    kp, labels, _ = simulate_session(3000, seed=0, fps=fps)
    assert set(labels) == set(BEHAVIORS)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    bouts = np.diff(np.r_[0, change, len(labels)])
    assert bouts[1:-1].min() >= int(1.0 * fps)  # min_bout_s
    assert bouts.max() <= int(4.0 * fps)  # max_bout_s
    # running is faster than walking, and resting animals stay put
    speed = np.linalg.norm(np.diff(kp[:, 4], axis=0), axis=1)
    mean = {b: speed[labels[1:] == b].mean() for b in BEHAVIORS}
    assert mean["run"] > 2 * mean["walk"] > 4 * mean["rest"]


def test_animal_stays_in_the_arena_and_keeps_its_shape() -> None:
    kp, _, _ = simulate_session(1500, seed=2, arena=(320, 240))
    assert kp[..., 0].min() > 0 and kp[..., 0].max() < 320
    assert kp[..., 1].min() > 0 and kp[..., 1].max() < 240
    length = np.linalg.norm(kp[:, 0] - kp[:, 5], axis=1)  # snout to tail base
    assert length.min() > 25 and length.max() < 45  # about 38 px
    big, _, _ = simulate_session(300, seed=2, scale=2.0, arena=(640, 480))
    assert np.median(np.linalg.norm(big[:, 0] - big[:, 5], axis=1)) > 1.8 * np.median(
        length
    )
    bp = {b: i for i, b in enumerate(BODYPARTS)}
    assert all(a in bp and b in bp for a, b in SKELETON)


# ---------------------------------------------------------------- the project


def test_demo_project_layout(demo_project_ro: Project) -> None:
    root = demo_project_ro.path
    assert root.name == "demo-posekit-2026-01-01"
    assert demo_project_ro.bodyparts == BODYPARTS
    assert demo_project_ro.skeleton == [tuple(e) for e in SKELETON]
    assert demo_project_ro.training_fractions == [0.8]
    assert [v.name for v in demo_project_ro.videos()] == ["session1.mp4"]
    assert demo_project_ro.labeled_videos() == ["session1"]
    for f in (
        "config.yaml",
        "videos/session1.mp4",
        "ground-truth/session1_keypoints.h5",
        "ground-truth/session1_behavior.csv",
        "labeled-data/session1/CollectedData_posekit.h5",
        "labeled-data/session1/CollectedData_posekit.csv",
    ):
        assert (root / f).is_file(), f
    images = sorted(p.name for p in (root / "labeled-data" / "session1").glob("*.png"))
    assert len(images) == 12
    assert images[0] == "img000.png" and images[-1] == "img119.png"


def test_ground_truth_files(demo_project_ro: Project) -> None:
    kp, behaviour = load_ground_truth(demo_project_ro)
    assert kp.shape == (120, 6, 2) and behaviour.shape == (120,)
    expected_kp, expected_labels, _ = simulate_session(120, seed=0)
    np.testing.assert_array_equal(kp, expected_kp)
    np.testing.assert_array_equal(behaviour, expected_labels)
    # DLC predictions layout, likelihood 1
    df = pd.read_hdf(demo_project_ro.path / "ground-truth" / "session1_keypoints.h5")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert (df.xs("likelihood", axis=1, level="coords").to_numpy() == 1).all()
    csv = pd.read_csv(demo_project_ro.path / "ground-truth" / "session1_behavior.csv")
    assert list(csv.columns) == ["frame", "time", "behavior"]
    np.testing.assert_allclose(csv["time"], np.arange(120) / 30.0)


def test_labels_equal_ground_truth_exactly(demo_project_ro: Project) -> None:
    gt, _ = load_ground_truth(demo_project_ro)
    for path in (
        demo_project_ro.labels_path("session1"),
        demo_project_ro.labels_path("session1").with_suffix(".csv"),
    ):
        df = read_labels(path)
        paths = index_to_paths(df.index)
        assert all(p.startswith("labeled-data/session1/img") for p in paths)
        idx = [int(Path(p).stem[3:]) for p in paths]
        assert len(idx) == 12
        labels = labels_to_array(df, BODYPARTS)
        if path.suffix == ".h5":
            np.testing.assert_array_equal(labels, gt[idx])
        else:  # decimal text, written with full precision
            np.testing.assert_allclose(labels, gt[idx], rtol=0, atol=1e-12)


def test_rendered_animal_is_where_the_ground_truth_says(
    demo_project_ro: Project,
) -> None:
    gt, _ = load_ground_truth(demo_project_ro)
    with VideoReader(demo_project_ro.path / "videos" / "session1.mp4") as reader:
        frames = {i: reader[i] for i in (0, 30, 61, 119)}
    for i, frame in frames.items():
        gray = frame.mean(axis=2)
        kp = gt[i]
        spine, neck = kp[BODYPARTS.index("spine")], kp[BODYPARTS.index("neck")]
        assert _patch_mean(gray, spine) < 85, f"frame {i}: no dark body at the spine"
        assert _patch_mean(gray, (spine + neck) / 2) < 85
        floor = gray[_far_from_animal(gray.shape, kp, 40)]
        assert np.median(floor) > 160, f"frame {i}: floor not light"
        # and it is not somewhere else: the dark body (not the paler tail) lies near
        # the keypoints
        dark = gray < 85
        dark[:10] = dark[-10:] = False
        dark[:, :10] = dark[:, -10:] = False  # the arena wall is grey
        ys, xs = np.nonzero(dark)
        d = np.min(
            np.hypot(xs[:, None] - kp[None, :, 0], ys[:, None] - kp[None, :, 1]), axis=1
        )
        assert np.quantile(d, 0.99) < 15, f"frame {i}: dark pixels far from the animal"


def test_extracted_images_show_the_labelled_animal(demo_project_ro: Project) -> None:
    df = read_labels(demo_project_ro.labels_path("session1"))
    labels = labels_to_array(df, BODYPARTS)
    for p, kp in zip(index_to_paths(df.index), labels, strict=True):
        img = cv2.imread(str(demo_project_ro.path / p), cv2.IMREAD_GRAYSCALE)
        assert img.shape == (240, 320)
        assert _patch_mean(img, kp[BODYPARTS.index("spine")]) < 85, p


def test_existing_demo_is_reopened_unchanged(demo_project_ro: Project) -> None:
    config = demo_project_ro.config_path
    before = config.read_bytes()
    again = make_demo_project(demo_project_ro.path.parent, n_frames=10, n_labeled=2)
    assert again.path == demo_project_ro.path
    assert config.read_bytes() == before
    assert len(load_ground_truth(again)[0]) == 120  # not re-rendered with 10 frames


def test_small_demo_variants(tmp_path: Path) -> None:
    project = make_demo_project(
        tmp_path,
        n_frames=20,
        n_labeled=0,
        size=(160, 120),
        n_videos=2,
        seed=7,
        date=dt.date(2025, 5, 4),
    )
    assert project.path.name == "demo-posekit-2025-05-04"
    assert sorted(v.name for v in project.videos()) == ["session1.mp4", "session2.mp4"]
    assert project.labeled_videos() == []  # labelling left to the user
    kp1, _ = load_ground_truth(project, "session1")
    kp2, _ = load_ground_truth(project, "videos/session2.mp4")
    np.testing.assert_array_equal(
        kp1, simulate_session(20, seed=7, arena=(160, 120))[0]
    )
    np.testing.assert_array_equal(
        kp2, simulate_session(20, seed=8, arena=(160, 120))[0]
    )
    with VideoReader(project.path / "videos" / "session2.mp4") as reader:
        assert len(reader) == 20 and reader.shape == (120, 160, 3)
    assert load_project(project.path).get("numframes2pick") == 20


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_video(tmp_path: Path, seed: int) -> None:
    a = make_demo_project(
        tmp_path / "a", n_frames=8, n_labeled=0, size=(96, 96), seed=seed
    )
    b = make_demo_project(
        tmp_path / "b", n_frames=8, n_labeled=0, size=(96, 96), seed=seed
    )
    with (
        VideoReader(a.path / "videos" / "session1.mp4") as ra,
        VideoReader(b.path / "videos" / "session1.mp4") as rb,
    ):
        for i in range(8):
            np.testing.assert_array_equal(ra[i], rb[i])


def test_rare_grooming_bouts_in_the_side_view(tmp_path: Path) -> None:
    """``rare`` adds short grooming bouts (paw at the face) and nothing else changes."""
    from posekit.engine.demo import (
        SIDE_BEHAVIORS,
        SIDE_RARE_BEHAVIOR,
        simulate_side_session,
    )

    kp0, lab0, _, hid0 = simulate_side_session(900, seed=9)
    again = simulate_side_session(900, seed=9, rare=0.0)
    np.testing.assert_array_equal(again[0], kp0)  # rare=0: the session of old
    assert set(lab0) <= set(SIDE_BEHAVIORS)

    kp, lab, _, _ = simulate_side_session(900, seed=9, rare=0.12)
    groom = lab == SIDE_RARE_BEHAVIOR
    assert 0.01 < groom.mean() < 0.1  # rare, but there
    starts = np.flatnonzero(np.diff(np.r_[0, groom.astype(int)]) == 1)
    assert len(starts) >= 2
    # the paw is at the face (within 15 scene px of it) only while grooming
    at_face = np.linalg.norm(kp[:, 0] - np.array([-57.0, -24.0]), axis=1) < 15
    assert at_face[groom].mean() > 0.4
    assert not at_face[~groom].any()

    with pytest.raises(ValueError, match="side view"):
        make_demo_project(tmp_path, n_frames=10, n_labeled=0, rare=0.1)


def test_incidents_are_placed_rendered_and_recorded(tmp_path: Path) -> None:
    """Each incident kind gets its bouts; frames change only where an incident is."""
    import cv2

    from posekit.engine.demo import (
        INCIDENTS,
        load_ground_truth,
        load_incidents,
        render_side_frame,
        simulate_incidents,
    )

    inc = simulate_incidents(900, bouts=2, seed=4)
    assert inc.shape == (900,)
    for kind in INCIDENTS:
        on = (inc == kind).astype(int)
        assert np.sum(np.diff(np.r_[0, on]) == 1) == 2  # two separate bouts
        assert 2 * 10 <= on.sum() <= 2 * 18  # 0.35-0.6 s at 30 fps
    assert not inc[:30].any() and not inc[-30:].any()  # a second free at both ends
    assert not simulate_incidents(900, bouts=0).any()
    with pytest.raises(ValueError, match="unknown incident"):
        simulate_incidents(900, kinds=["flood"])
    with pytest.raises(ValueError, match="do not fit"):
        simulate_incidents(100, bouts=5)

    project = make_demo_project(
        tmp_path, n_frames=240, n_labeled=0, view="side", seed=2, incidents=1
    )
    inc = load_incidents(project)
    assert set(inc) == {"", *INCIDENTS}
    truth, _ = load_ground_truth(project)
    plain = make_demo_project(
        tmp_path / "plain", n_frames=240, n_labeled=0, view="side", seed=2
    )
    np.testing.assert_array_equal(load_ground_truth(plain)[0], truth)  # same animal
    assert not load_incidents(plain).any()

    def frames(p) -> np.ndarray:
        cap = cv2.VideoCapture(str(p.videos()[0]))
        out = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            out.append(f.astype(float))
        cap.release()
        return np.stack(out)

    a, b = frames(project), frames(plain)
    diff = np.abs(a - b).mean(axis=(1, 2, 3))
    first = np.flatnonzero(inc != "")[0]
    assert diff[:first].max() == 0  # the same video until the first incident
    assert a[inc == "glare"].mean() > 1.4 * b[inc == "glare"].mean()

    def sharpness(img: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())  # fmt: skip

    # glare: brighter; shadow: darker over the mouse, hardly at the far right
    kp = np.array([[-70, 45], [-60, 48], [np.nan, np.nan], [95, -20], [95, 75]], float)
    bg = np.full((240, 320, 3), 100, np.uint8)
    plain_f = render_side_frame(kp, bg, offset=(160, 130))
    glare = render_side_frame(kp, bg, offset=(160, 130), incident="glare")
    assert glare.mean() > 1.4 * plain_f.mean()
    shadow = render_side_frame(kp, bg, offset=(160, 130), incident="shadow")
    assert shadow[100:160, 40:140].mean() < 0.3 * plain_f[100:160, 40:140].mean()
    assert shadow[:, -4:].mean() > 0.8 * plain_f[:, -4:].mean()  # a soft edge
    blurred = render_side_frame(kp, bg, offset=(160, 130), incident="blur")
    assert sharpness(blurred) < 0.2 * sharpness(plain_f)
    with pytest.raises(ValueError, match="unknown incident"):
        render_side_frame(kp, bg, incident="flood")
    with pytest.raises(ValueError, match="side view"):
        make_demo_project(tmp_path / "top", n_frames=10, n_labeled=0, incidents=1)
