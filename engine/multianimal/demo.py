"""The synthetic multi-animal demo: several mice with exact identities in an arena.

Each animal moves as the single-animal demo's mouse does (:mod:`posekit.engine.demo`:
rest, walk, run, turn and groom bouts), independently, with a soft repulsion that keeps
two animals from lying on top of each other for long but lets them brush past: their
paths cross, and one animal hides parts of another (animals are drawn in a fixed
order, the last on top). Each animal has its own fur colour, so a person can tell them
apart in the video; the network is not told.

Ground truth, for every frame (``ground-truth/``):

- ``<video>_keypoints.h5``: DeepLabCut's multi-animal predictions layout (four
  column levels, individuals ``mouse1 …``); the likelihood is 1 for a visible
  keypoint and 0 for a hidden one (its position is still exact);
- ``<video>_behavior.csv``: ``frame, time, individual, behavior``.

The labelled frames (``CollectedData_posekit.h5``) leave hidden keypoints NaN, as a
labeller would.

>>> kp, hidden, labels = simulate_social_session(50, 3, seed=1)
>>> kp.shape, hidden.shape, labels.shape
((50, 3, 6, 2), (50, 3, 6), (50, 3))
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import logger
from .._fileio import atomic_path
from ..demo import (
    _BODY,
    _SPEED,
    BEHAVIORS,
    BODYPARTS,
    SKELETON,
    _add_noise,
    _background,
    _open_or_create_demo,
    _write_video,
    render_frame,
)

__all__ = [
    "FUR_COLORS",
    "simulate_social_session",
    "hidden_keypoints",
    "render_social_frame",
    "render_social_video",
    "make_multianimal_demo",
    "load_multianimal_ground_truth",
]

#: Fur colours (RGB) of the animals, in order (then repeated).
FUR_COLORS = [(70, 58, 52), (112, 84, 54), (48, 52, 66), (96, 96, 88), (60, 70, 50)]


def simulate_social_session(
    n_frames: int,
    n_animals: int = 3,
    *,
    seed: int = 0,
    fps: float = 30.0,
    arena: tuple[int, int] = (320, 240),
    scale: float = 1.0,
    min_bout_s: float = 1.0,
    max_bout_s: float = 4.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate several animals' keypoints, which parts are hidden, and behaviours.

    Parameters
    ----------
    n_frames
        Number of frames.
    n_animals
        Number of animals.
    seed
        Random seed (same seed, same session).
    fps
        Frame rate (bout durations are in seconds).
    arena
        ``(width, height)`` in pixels.
    scale
        Animal size factor (1: 38 px from snout to tail base).
    min_bout_s, max_bout_s
        Range of bout durations.

    Returns
    -------
    keypoints : numpy.ndarray
        ``(n_frames, n_animals, 6, 2)`` pixels.
    hidden : numpy.ndarray
        ``(n_frames, n_animals, 6)`` bool: covered by an animal drawn above.
    labels : numpy.ndarray
        ``(n_frames, n_animals)`` behaviour names.
    """
    rng = np.random.default_rng(seed)
    w, h = arena
    n = int(n_animals)
    margin = 30.0 * scale
    pos = np.column_stack(
        [rng.uniform(margin, w - margin, n), rng.uniform(margin, h - margin, n)]
    )
    theta = rng.uniform(-np.pi, np.pi, n)
    speed, omega = np.zeros(n), np.zeros(n)
    behaviour = ["rest"] * n
    remaining = np.zeros(n, int)
    turn_dir = np.ones(n)
    groom_phase = np.zeros(n)
    kp = np.empty((n_frames, n, len(BODYPARTS), 2))
    labels = np.empty((n_frames, n), dtype=object)
    reach = 16.0 * scale  # centres closer than this push apart
    social = 0.06
    for t in range(n_frames):
        for a in range(n):
            if remaining[a] <= 0:
                choices = [b for b in BEHAVIORS if b != behaviour[a]]
                behaviour[a] = str(rng.choice(choices))
                remaining[a] = int(rng.uniform(min_bout_s, max_bout_s) * fps)
                turn_dir[a] = rng.choice([-1.0, 1.0])
            remaining[a] -= 1
            target_speed = _SPEED[behaviour[a]] * scale * (30.0 / fps)
            speed[a] += 0.35 * (target_speed - speed[a])
            target_omega = 0.0
            if behaviour[a] == "turn":
                target_omega = turn_dir[a] * 0.09 * (30.0 / fps)
            elif behaviour[a] in ("walk", "run"):
                # mice are social: a walking animal drifts towards the nearest other
                others = np.delete(pos, a, axis=0)
                near = others[np.argmin(np.linalg.norm(others - pos[a], axis=1))]
                to_other = np.arctan2(near[1] - pos[a, 1], near[0] - pos[a, 0])
                diff = (to_other - theta[a] + np.pi) % (2 * np.pi) - np.pi
                target_omega = rng.normal(0, 0.02) + social * np.clip(diff, -1, 1)
            ahead = pos[a] + np.array([np.cos(theta[a]), np.sin(theta[a])]) * (
                margin + 10 * speed[a]
            )
            if speed[a] > 0.3 * scale and not (
                margin < ahead[0] < w - margin and margin < ahead[1] < h - margin
            ):
                to_centre = np.arctan2(h / 2 - pos[a, 1], w / 2 - pos[a, 0])
                diff = (to_centre - theta[a] + np.pi) % (2 * np.pi) - np.pi
                target_omega = np.clip(diff, -0.15, 0.15)
            omega[a] += 0.4 * (target_omega - omega[a])
            theta[a] += omega[a]
            heading = np.array([np.cos(theta[a]), np.sin(theta[a])])
            pos[a] = np.clip(
                pos[a] + heading * speed[a], margin, [w - margin, h - margin]
            )
        # soft repulsion: animals brush past, they do not merge
        d = pos[:, None] - pos[None]
        dist = np.linalg.norm(d, axis=-1) + np.eye(n) * 1e9
        push = np.clip(reach - dist, 0, None)[..., None] * d / dist[..., None]
        pos = np.clip(pos + 0.25 * push.sum(axis=1), margin, [w - margin, h - margin])
        for a in range(n):
            heading = np.array([np.cos(theta[a]), np.sin(theta[a])])
            body = _BODY.copy() * scale
            if behaviour[a] == "groom":
                groom_phase[a] += 2 * np.pi * 4.0 / fps
                body[0, 0] -= 6.0 * scale
                body[0, 1] += 4.0 * scale * np.sin(groom_phase[a])
                body[1:3, 0] -= 2.0 * scale
            left = np.array([heading[1], -heading[0]])
            xy = pos[a] + body[:, :1] * heading + body[:, 1:] * left
            jitter = 0.25 if behaviour[a] in ("rest", "groom") else 0.4
            kp[t, a] = xy + rng.normal(0, jitter * scale, xy.shape)
            labels[t, a] = behaviour[a]
    hidden = np.stack(
        [hidden_keypoints(kp[t], (w, h), scale=scale) for t in range(n_frames)]
    )
    return kp, hidden, labels.astype(str)


def _silhouette(
    keypoints: np.ndarray, size: tuple[int, int], scale: float
) -> np.ndarray:
    """Pixels an animal covers (its body drawn on black)."""
    w, h = size
    blank = np.zeros((h, w, 3), np.uint8)
    img = render_frame(keypoints, blank, scale=scale, body_color=(255, 255, 255))
    return img.max(axis=-1) > 0


def hidden_keypoints(
    keypoints: np.ndarray, size: tuple[int, int], *, scale: float = 1.0
) -> np.ndarray:
    """Which keypoints of each animal lie under an animal drawn after it.

    Parameters
    ----------
    keypoints
        ``(n_animals, 6, 2)`` of one frame (drawn in this order).
    size
        ``(width, height)`` of the frame.
    scale
        Animal size factor.

    Returns
    -------
    numpy.ndarray
        ``(n_animals, 6)`` bool.
    """
    w, h = size
    n = len(keypoints)
    hidden = np.zeros(keypoints.shape[:2], bool)
    centres = keypoints.mean(axis=1)
    gap = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    if (gap + np.eye(n) * 1e9).min() > 70.0 * scale:  # too far apart to touch
        return hidden
    above = np.zeros((h, w), bool)
    for a in range(n - 1, -1, -1):
        xy = np.rint(keypoints[a]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        hit = np.zeros(len(xy), bool)
        hit[inside] = above[xy[inside, 1], xy[inside, 0]]
        hidden[a] = hit
        if a:
            above |= _silhouette(keypoints[a], size, scale)
    return hidden


def render_social_frame(
    keypoints: np.ndarray,
    background: np.ndarray,
    *,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw the animals ``(n_animals, 6, 2)`` in order (the last on top), RGB."""
    img = background
    for a, kp in enumerate(keypoints):
        img = render_frame(
            kp, img, scale=scale, body_color=FUR_COLORS[a % len(FUR_COLORS)]
        )
    return _add_noise(img, rng)


def render_social_video(
    path: str | os.PathLike,
    keypoints: np.ndarray,
    *,
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    seed: int = 0,
    scale: float = 1.0,
) -> Path:
    """Render a multi-animal session to an ``.mp4`` (MPEG-4 Part 2), atomically."""
    bg = _background(size, seed)
    rng = np.random.default_rng(seed + 7)
    frames = (render_social_frame(kp, bg, scale=scale, rng=rng) for kp in keypoints)
    return _write_video(path, frames, size=size, fps=fps)


def make_multianimal_demo(
    working_directory: str | os.PathLike,
    *,
    n_animals: int = 3,
    n_frames: int = 900,
    n_labeled: int = 60,
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    seed: int = 0,
    n_videos: int = 1,
    scale: float = 1.0,
    label: bool = True,
    date: _dt.date | None = None,
):
    """Create the multi-animal demo project (see the module docstring).

    The folder is ``social<n_animals>-posekit-<date>``; an existing one is opened and
    returned unchanged. Parameters are those of
    :func:`posekit.engine.demo.make_demo_project`; ``n_animals`` names the
    individuals ``mouse1 …``. The first video's frames are extracted uniformly and
    labelled (hidden parts NaN).

    Returns
    -------
    posekit.engine.project.Project
        A multi-animal project.
    """
    from ..video import extract_frames, frame_index_of
    from .layout import MultiAnimalLayout, multianimal_frame
    from .outputs import tracks_frame, write_tracks

    n_animals = int(n_animals)
    if n_animals < 2:
        raise ValueError(f"n_animals must be at least 2. Received: {n_animals!r}")
    individuals = [f"mouse{i + 1}" for i in range(n_animals)]
    project, created = _open_or_create_demo(
        working_directory,
        f"social{n_animals}",
        date,
        n_labeled=n_labeled,
        bodyparts=BODYPARTS,
        skeleton=SKELETON,
        individuals=individuals,
    )
    if not created:
        return project
    folder = Path(project.path)
    layout = MultiAnimalLayout.from_config(project)
    gt_dir = folder / "ground-truth"
    gt_dir.mkdir(exist_ok=True)
    videos = []
    for v in range(n_videos):
        name = f"session{v + 1}"
        kp, hidden, labels = simulate_social_session(
            n_frames, n_animals, seed=seed + v, fps=fps, arena=size, scale=scale
        )
        video = render_social_video(
            folder / "videos" / f"{name}.mp4",
            kp,
            size=size,
            fps=fps,
            seed=seed + v,
            scale=scale,
        )
        videos.append(video)
        xyp = np.concatenate([kp, (~hidden)[..., None].astype(float)], axis=-1)
        write_tracks(
            tracks_frame(xyp, layout, "GroundTruth"), gt_dir / f"{name}_keypoints.h5"
        )
        beh = pd.DataFrame(
            {
                "frame": np.repeat(np.arange(n_frames), n_animals),
                "time": np.repeat(np.arange(n_frames) / fps, n_animals),
                "individual": np.tile(individuals, n_frames),
                "behavior": labels.reshape(-1),
            }
        )
        with atomic_path(gt_dir / f"{name}_behavior.csv") as tmp:
            beh.to_csv(tmp, index=False)
        if v == 0 and n_labeled and label:
            project.add_videos([video])
            paths = extract_frames(project, video, mode="uniform", n=n_labeled)
            idx = [frame_index_of(p) for p in paths]
            rows = pd.MultiIndex.from_tuples(
                [("labeled-data", video.stem, p.name) for p in paths]
            )
            seen = np.where(hidden[idx][..., None], np.nan, kp[idx])
            from ..io.dlc import write_labels

            write_labels(
                multianimal_frame(layout, project.scorer, rows, seen),
                project.labels_path(video),
            )
    project.add_videos(videos)
    project.save()
    logger.info("multi-animal demo project written to %s", folder)
    return project


def load_multianimal_ground_truth(
    project, video: str = "session1"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact keypoints ``(T, I, K, 2)`` and visibility ``(T, I, K)`` of a demo video.

    Raises
    ------
    FileNotFoundError
        If the project has no ground truth for that video.
    """
    from ..io.dlc import read_predictions
    from .layout import frame_to_arrays

    path = Path(project.path) / "ground-truth" / f"{Path(video).stem}_keypoints.h5"
    if not path.is_file():
        raise FileNotFoundError(f"No ground truth at {path}")
    kp, _, _ = frame_to_arrays(read_predictions(path), coords=("x", "y", "likelihood"))
    return kp[..., :2], kp[..., 2] > 0.5
