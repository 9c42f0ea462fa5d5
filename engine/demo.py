"""A synthetic demo project with exact ground truth.

A mouse-like animal (dark body, pale ears, tail) moves through a square arena, switching
between five behaviours: ``rest``, ``walk``, ``run``, ``turn`` and ``groom``. Every frame
has exact keypoints and a behaviour label, so tutorials and tests can check what the
network and the behaviour tools recover.

>>> kp, labels, bodyparts = simulate_session(60, seed=1)
>>> kp.shape, labels.shape, bodyparts[0]
((60, 6, 2), (60,), 'snout')
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path

__all__ = [
    "BODYPARTS",
    "SKELETON",
    "BEHAVIORS",
    "simulate_session",
    "render_frame",
    "render_video",
    "make_demo_project",
    "load_ground_truth",
]

BODYPARTS = ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]
SKELETON = [
    ["snout", "neck"],
    ["leftear", "neck"],
    ["rightear", "neck"],
    ["neck", "spine"],
    ["spine", "tailbase"],
]
BEHAVIORS = ["rest", "walk", "run", "turn", "groom"]

# Body-frame offsets (forward, left) in units of body length / 38 px.
_BODY = np.array(
    [[22.0, 0.0], [13.0, 6.0], [13.0, -6.0], [10.0, 0.0], [0.0, 0.0], [-16.0, 0.0]]
)
_SPEED = {
    "rest": 0.0,
    "walk": 1.6,
    "run": 4.2,
    "turn": 0.15,
    "groom": 0.0,
}  # px/frame @ scale 1


def simulate_session(
    n_frames: int,
    *,
    seed: int = 0,
    fps: float = 30.0,
    arena: tuple[int, int] = (320, 240),
    scale: float = 1.0,
    min_bout_s: float = 1.0,
    max_bout_s: float = 4.0,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Simulate one animal's keypoints and behaviour labels.

    Parameters
    ----------
    n_frames
        Number of frames.
    seed
        Random seed (same seed, same session).
    fps
        Frame rate; bout durations and grooming frequency are in seconds.
    arena
        Arena size in pixels ``(width, height)``; the animal stays inside.
    scale
        Animal size factor (1.0: 38 px from snout to tail base).
    min_bout_s, max_bout_s
        Range of bout durations.

    Returns
    -------
    keypoints : numpy.ndarray
        ``(n_frames, 6, 2)`` pixel coordinates (x right, y down).
    labels : numpy.ndarray
        ``(n_frames,)`` behaviour names from :data:`BEHAVIORS`.
    bodyparts : list of str
        :data:`BODYPARTS`.
    """
    rng = np.random.default_rng(seed)
    w, h = arena
    margin = 30.0 * scale
    pos = np.array([w / 2, h / 2]) + rng.uniform(-0.2, 0.2, 2) * np.array([w, h])
    theta = rng.uniform(-np.pi, np.pi)
    speed = 0.0
    omega = 0.0
    kp = np.empty((n_frames, len(BODYPARTS), 2))
    labels = np.empty(n_frames, dtype=object)
    behaviour = "rest"
    remaining = 0
    turn_dir = 1.0
    groom_phase = 0.0
    for t in range(n_frames):
        if remaining <= 0:
            choices = [b for b in BEHAVIORS if b != behaviour]
            behaviour = str(rng.choice(choices))
            remaining = int(rng.uniform(min_bout_s, max_bout_s) * fps)
            turn_dir = rng.choice([-1.0, 1.0])
        remaining -= 1
        target_speed = _SPEED[behaviour] * scale * (30.0 / fps)
        speed += 0.35 * (target_speed - speed)
        target_omega = 0.0
        if behaviour == "turn":
            target_omega = turn_dir * 0.09 * (30.0 / fps)
        elif behaviour in ("walk", "run"):
            target_omega = rng.normal(0, 0.02)
        # steer away from walls when moving
        ahead = pos + np.array([np.cos(theta), np.sin(theta)]) * (margin + 10 * speed)
        if speed > 0.3 * scale and not (
            margin < ahead[0] < w - margin and margin < ahead[1] < h - margin
        ):
            to_centre = np.arctan2(h / 2 - pos[1], w / 2 - pos[0])
            diff = (to_centre - theta + np.pi) % (2 * np.pi) - np.pi
            target_omega = np.clip(diff, -0.15, 0.15)
        omega += 0.4 * (target_omega - omega)
        theta += omega
        heading = np.array([np.cos(theta), np.sin(theta)])
        pos = pos + heading * speed
        pos = np.clip(pos, margin, [w - margin, h - margin])
        body = _BODY.copy() * scale
        if behaviour == "groom":
            groom_phase += 2 * np.pi * 4.0 / fps
            body[0, 0] -= 6.0 * scale  # head tucked
            body[0, 1] += 4.0 * scale * np.sin(groom_phase)
            body[1:3, 0] -= 2.0 * scale
        left = np.array([heading[1], -heading[0]])
        xy = pos + body[:, :1] * heading + body[:, 1:] * left
        jitter = 0.25 if behaviour in ("rest", "groom") else 0.4
        kp[t] = xy + rng.normal(0, jitter * scale, xy.shape)
        labels[t] = behaviour
    return kp, labels.astype(str), list(BODYPARTS)


def _background(size: tuple[int, int], seed: int) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(seed + 1000)
    noise = rng.normal(0, 1, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    floor = np.clip(196 + 8 * noise, 0, 255)
    img = np.repeat(floor[..., None], 3, axis=2).astype(np.uint8)
    img[..., 2] = np.clip(img[..., 2].astype(int) - 10, 0, 255)  # slightly warm floor
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), (90, 90, 100), thickness=8)
    return img


def render_frame(
    keypoints: np.ndarray,
    background: np.ndarray,
    *,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw the animal at ``keypoints`` (6, 2) on a copy of ``background`` (RGB)."""
    img = background.copy()
    snout, lear, rear, neck, spine, tail = keypoints.astype(float)
    s = 16  # fixed-point shift for sub-pixel drawing
    f = float(1 << 4)

    def P(p: np.ndarray) -> tuple[int, int]:
        return (int(round(p[0] * f)), int(round(p[1] * f)))

    body_col = (70, 58, 52)
    heading = neck - tail
    ang = np.degrees(np.arctan2(heading[1], heading[0]))
    # tail
    back = tail - heading / (np.linalg.norm(heading) + 1e-9) * 24 * scale
    cv2.line(
        img, P(tail), P(back), (120, 100, 100), max(1, int(2 * scale)), cv2.LINE_AA, 4
    )
    # body and head
    centre = (neck + tail) / 2
    length = np.linalg.norm(neck - tail) / 2 + 3 * scale
    cv2.ellipse(
        img,
        P(centre),
        (int(length * f), int(8.5 * scale * f)),
        ang,
        0,
        360,
        body_col,
        -1,
        cv2.LINE_AA,
        4,
    )
    hvec = snout - neck
    hang = np.degrees(np.arctan2(hvec[1], hvec[0]))
    hc = (snout + neck) / 2
    hl = np.linalg.norm(hvec) / 2 + 1.5 * scale
    cv2.ellipse(
        img,
        P(hc),
        (int(hl * f), int(5.5 * scale * f)),
        hang,
        0,
        360,
        body_col,
        -1,
        cv2.LINE_AA,
        4,
    )
    # ears (pale pink) and nose
    for ear in (lear, rear):
        cv2.circle(
            img, P(ear), int(3.6 * scale * f), (225, 170, 175), -1, cv2.LINE_AA, 4
        )
    cv2.circle(img, P(snout), int(1.8 * scale * f), (240, 150, 160), -1, cv2.LINE_AA, 4)
    del s
    if rng is not None:
        img = np.clip(
            img.astype(np.int16) + rng.integers(-6, 7, img.shape), 0, 255
        ).astype(np.uint8)
    return img


def render_video(
    path: str | os.PathLike,
    keypoints: np.ndarray,
    *,
    size: tuple[int, int] = (320, 240),
    fps: float = 30.0,
    seed: int = 0,
    scale: float = 1.0,
) -> Path:
    """Render a session to an ``.mp4`` (MPEG-4 Part 2) video, written atomically."""
    path = Path(path)
    bg = _background(size, seed)
    rng = np.random.default_rng(seed + 7)
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write video {path}")
        try:
            for kp in keypoints:
                frame = render_frame(kp, bg, scale=scale, rng=rng)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return path


def make_demo_project(
    working_directory: str | os.PathLike,
    *,
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
    """Create the demo project: videos, extracted frames, labels and ground truth.

    Parameters
    ----------
    working_directory
        Where the project folder ``demo-posekit-<date>`` is created. If a demo
        project already exists there it is opened and returned unchanged.
    n_frames
        Frames per video.
    n_labeled
        Frames extracted (uniformly) and labelled from the ground truth in the first
        video; ``0`` leaves labelling to the user.
    size, fps, seed, scale
        Video size ``(width, height)``, frame rate, random seed and animal size.
    n_videos
        Number of videos (each a different session, seeds ``seed``, ``seed+1``, …).
    label
        Write ``CollectedData_posekit.h5``/``.csv`` for the extracted frames.
    date
        Project date (default: a fixed date so the folder name is stable).

    Returns
    -------
    posekit.engine.project.Project
        The project. Ground truth for every frame is in ``ground-truth/``:
        ``<video>_keypoints.h5`` (DLC predictions layout, likelihood 1) and
        ``<video>_behavior.csv`` (``frame, time, behavior``).
    """
    from .io.dlc import (
        make_labels_frame,
        predictions_frame,
        write_labels,
        write_predictions,
    )
    from .project import create_project, load_project
    from .video import extract_frames

    date = date or _dt.date(2026, 1, 1)
    wd = Path(working_directory).expanduser().resolve()
    folder = wd / f"demo-posekit-{date.isoformat()}"
    if (folder / "config.yaml").exists():
        return load_project(folder)
    project = create_project(
        "demo",
        "posekit",
        working_directory=wd,
        bodyparts=BODYPARTS,
        skeleton=SKELETON,
        date=date,
        numframes2pick=n_labeled or 20,
        TrainingFraction=[0.8],
        pcutoff=0.5,
        dotsize=6,
    )
    gt_dir = folder / "ground-truth"
    gt_dir.mkdir(exist_ok=True)
    videos = []
    for v in range(n_videos):
        name = f"session{v + 1}"
        kp, labels, bps = simulate_session(
            n_frames, seed=seed + v, fps=fps, arena=size, scale=scale
        )
        video = render_video(
            folder / "videos" / f"{name}.mp4",
            kp,
            size=size,
            fps=fps,
            seed=seed + v,
            scale=scale,
        )
        videos.append(video)
        xyp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], axis=-1)
        write_predictions(
            predictions_frame(xyp, "GroundTruth", bps), gt_dir / f"{name}_keypoints.h5"
        )
        beh = pd.DataFrame(
            {
                "frame": np.arange(n_frames),
                "time": np.arange(n_frames) / fps,
                "behavior": labels,
            }
        )
        with atomic_path(gt_dir / f"{name}_behavior.csv") as tmp:
            beh.to_csv(tmp, index=False)
        if v == 0 and n_labeled and label:
            project.add_videos([video])
            paths = extract_frames(project, video, mode="uniform", n=n_labeled)
            idx = [int(p.stem[3:]) for p in paths]
            rel = [f"labeled-data/{video.stem}/{p.name}" for p in paths]
            df = make_labels_frame(project.scorer, bps, rel, kp[idx])
            write_labels(df, project.labels_path(video))
    project.add_videos(videos)
    project.save()
    logger.info("demo project written to %s", folder)
    return project


def load_ground_truth(
    project, video: str = "session1"
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth keypoints ``(T, K, 2)`` and behaviour labels ``(T,)`` of a demo video."""
    from .io.dlc import labels_to_array, read_predictions

    gt_dir = Path(project.path) / "ground-truth"
    df = read_predictions(gt_dir / f"{Path(video).stem}_keypoints.h5")
    kp = labels_to_array(df.drop(columns="likelihood", level="coords"))
    beh = pd.read_csv(gt_dir / f"{Path(video).stem}_behavior.csv")
    return kp, beh["behavior"].to_numpy(str)
