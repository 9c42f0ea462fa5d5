"""A synthetic demo project with exact ground truth.

A mouse-like animal (dark body, pale ears, tail) moves through a square arena, switching
between five behaviours: ``rest``, ``walk``, ``run``, ``turn`` and ``groom``. Every frame
has exact keypoints and a behaviour label, so tutorials and tests can check what the
network and the behaviour tools recover.

A second view, ``view="side"``, shows a mouse reaching for a joystick from the side
(:func:`simulate_side_session`): small parts (hand, finger, tongue), parts that are often
hidden (the tongue is out only while licking, the joystick hides the hand when the hand
is behind it; hidden parts are NaN, as a labeller leaves them), a look-alike (the other
paw) and, with ``frame_sizes``, videos of several sizes in one project in which the
animal is smaller in the smaller frames (the same field of view at a lower resolution).
With ``incidents``, short lab incidents that real recordings have (:data:`INCIDENTS`:
glare, the experimenter's shadow, the camera out of focus) interrupt the side view:
rare looks that a network trained on a few uniformly picked frames has not seen.

>>> kp, labels, bodyparts = simulate_session(60, seed=1)
>>> kp.shape, labels.shape, bodyparts[0]
((60, 6, 2), (60,), 'snout')
>>> kp, labels, bodyparts, hidden = simulate_side_session(60, seed=1)
>>> kp.shape, bodyparts[:3]
((60, 5, 2), ['hand', 'finger', 'tongue'])
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path

__all__ = [
    "BODYPARTS",
    "SKELETON",
    "BEHAVIORS",
    "SIDE_BODYPARTS",
    "SIDE_SKELETON",
    "SIDE_BEHAVIORS",
    "INCIDENTS",
    "simulate_session",
    "simulate_side_session",
    "simulate_incidents",
    "side_view_transform",
    "render_frame",
    "render_side_frame",
    "render_video",
    "make_demo_project",
    "load_ground_truth",
    "load_incidents",
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


def _add_noise(img: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Add the demo's sensor noise (uniform, ±6 levels) to an RGB frame.

    Parameters
    ----------
    img
        ``(H, W, 3)`` uint8 frame.
    rng
        The noise's random generator; ``None`` returns ``img`` unchanged.

    Returns
    -------
    numpy.ndarray
        A new uint8 frame (or ``img`` itself without ``rng``).
    """
    if rng is None:
        return img
    noisy = img.astype(np.int16) + rng.integers(-6, 7, img.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    *,
    size: tuple[int, int],
    fps: float,
) -> Path:
    """Write RGB frames to an ``.mp4`` (MPEG-4 Part 2) video, atomically.

    Parameters
    ----------
    path
        The video file.
    frames
        ``(H, W, 3)`` uint8 RGB frames of ``size``.
    size
        ``(width, height)``.
    fps
        Frame rate.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        If OpenCV cannot write the video.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write video {path}")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return path


def _open_or_create_demo(
    working_directory: str | os.PathLike,
    task: str,
    date: _dt.date | None,
    *,
    n_labeled: int,
    **config: Any,
) -> tuple[Any, bool]:
    """Open the demo project of a task, or create it with the demos' settings.

    Parameters
    ----------
    working_directory
        Where the folder ``<task>-posekit-<date>`` is.
    task
        The project's task (``demo``, ``side``, ``social3`` …).
    date
        Project date (default: 2026-01-01, so the folder name is stable).
    n_labeled
        Frames to label (``numframes2pick``; 20 when 0).
    **config
        More :func:`~posekit.engine.project.create_project` arguments (bodyparts,
        skeleton, individuals).

    Returns
    -------
    project : posekit.engine.project.Project
    created : bool
        False when the project already existed (then it is returned unchanged).
    """
    from .project import create_project, load_project

    date = date or _dt.date(2026, 1, 1)
    wd = Path(working_directory).expanduser().resolve()
    folder = wd / f"{task}-posekit-{date.isoformat()}"
    if (folder / "config.yaml").exists():
        return load_project(folder), False
    project = create_project(
        task,
        "posekit",
        working_directory=wd,
        date=date,
        numframes2pick=n_labeled or 20,
        TrainingFraction=[0.8],
        pcutoff=0.5,
        dotsize=6,
        **config,
    )
    return project, True


def render_frame(
    keypoints: np.ndarray,
    background: np.ndarray,
    *,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
    body_color: tuple[int, int, int] = (70, 58, 52),
) -> np.ndarray:
    """Draw the animal at ``keypoints`` (6, 2) on a copy of ``background`` (RGB).

    ``body_color`` is the fur (RGB); the multi-animal demo gives each animal its own.
    """
    img = background.copy()
    snout, lear, rear, neck, spine, tail = keypoints.astype(float)
    s = 16  # fixed-point shift for sub-pixel drawing
    f = float(1 << 4)

    def P(p: np.ndarray) -> tuple[int, int]:
        return (int(round(p[0] * f)), int(round(p[1] * f)))

    body_col = tuple(int(c) for c in body_color)
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
    return _add_noise(img, rng)


# --------------------------------------------------------------------------------------
# Side view: a mouse reaching for a joystick
# --------------------------------------------------------------------------------------

SIDE_BODYPARTS = ["hand", "finger", "tongue", "joystick_top", "joystick_base"]
SIDE_SKELETON = [["hand", "finger"], ["joystick_top", "joystick_base"]]
SIDE_BEHAVIORS = ["rest", "reach", "lick"]
SIDE_RARE_BEHAVIOR = (
    "groom"  # the paw at the face: a posture the other bouts never show
)

# Scene coordinates (pixels at scale 1, origin near the middle of the action).
_SIDE_SHOULDER = np.array([-95.0, 10.0])
_SIDE_REST = np.array([-70.0, 45.0])  # where the reaching paw rests
_SIDE_OTHER_PAW = np.array([-112.0, 62.0])  # the other paw: a look-alike of the hand
_SIDE_MOUTH = np.array([-58.0, -32.0])
_SIDE_FACE = np.array([-57.0, -24.0])  # where the paw grooms
_SIDE_JOYSTICK = np.array([95.0, 75.0])  # base of the joystick


def side_view_transform(
    size: tuple[int, int], reference_width: int, scale: float = 1.0
) -> tuple[float, np.ndarray]:
    """Scene → frame mapping of a side-view video of ``size`` ``(width, height)``.

    A video narrower than ``reference_width`` shows the same field of view at a lower
    resolution: the scene is scaled by ``width / reference_width`` (the animal is
    smaller), and centred.

    Parameters
    ----------
    size
        ``(width, height)`` of the video.
    reference_width
        Width of the video in which the scene has ``scale``.
    scale
        Animal size factor at ``reference_width``.

    Returns
    -------
    factor : float
        Frame pixels per scene unit.
    offset : numpy.ndarray
        ``frame_xy = factor * scene_xy + offset``.

    Examples
    --------
    >>> side_view_transform((208, 187), 416)[0]
    0.5
    """
    w, h = size
    factor = float(scale) * w / float(reference_width)
    return factor, np.array([w / 2.0, h / 2.0 + 10.0 * factor])


INCIDENTS = ("glare", "shadow", "blur")
"""Lab incidents of the side view: the camera's exposure overshoots (the pink paw turns
white on a pale background), the experimenter leans over the rig (a soft shadow, a
fifth of the light, over the mouse and the joystick), the camera goes out of focus
(Gaussian blur, σ = 5 px at scale 1). The paw stays visible to a labeller in each."""


def simulate_incidents(
    n_frames: int,
    bouts: int = 1,
    *,
    seed: int = 0,
    fps: float = 30.0,
    duration_s: tuple[float, float] = (0.35, 0.6),
    kinds: Sequence[str] = INCIDENTS,
) -> np.ndarray:
    """Place ``bouts`` short bouts of each lab incident at random times in a session.

    The bouts never overlap and leave a second free at both ends of the session.

    Parameters
    ----------
    n_frames
        Frames in the session.
    bouts
        Bouts of each kind (0: none).
    seed
        Random seed (independent of the animal's behaviour).
    fps
        Frame rate.
    duration_s
        Range of a bout's duration in seconds (uniform).
    kinds
        Incident kinds, from :data:`INCIDENTS`.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` incident of each frame (``""``: none).

    Raises
    ------
    ValueError
        If a kind is unknown or the bouts do not fit in the session.

    Examples
    --------
    >>> inc = simulate_incidents(900, bouts=1, seed=3)
    >>> sorted(str(k) for k in set(inc) - {""})
    ['blur', 'glare', 'shadow']
    """
    unknown = [k for k in kinds if k not in INCIDENTS]
    if unknown:
        raise ValueError(
            f"unknown incident kinds {unknown}: choose from {list(INCIDENTS)}"
        )
    out = np.full(n_frames, "", dtype=object)
    if bouts <= 0 or not kinds:
        return out.astype(str)
    rng = np.random.default_rng(seed + 3000)
    margin = int(round(fps))
    lo, hi = (max(2, int(round(d * fps))) for d in duration_s)
    wanted = [k for k in kinds for _ in range(int(bouts))]
    if len(wanted) * (hi + margin) > n_frames - 2 * margin:
        raise ValueError(
            f"{len(wanted)} incident bouts of up to {hi} frames do not fit in "
            f"{n_frames} frames: pass fewer bouts or a longer session"
        )
    for kind in wanted:
        n = int(rng.integers(lo, hi + 1))
        for _ in range(10_000):
            start = int(rng.integers(margin, n_frames - margin - n))
            window = out[max(0, start - margin) : start + n + margin]
            if not any(window):
                out[start : start + n] = kind
                break
        else:  # pragma: no cover - the fit check above leaves room
            raise ValueError(f"no room left for a {kind!r} incident bout")
    return out.astype(str)


def simulate_side_session(
    n_frames: int, *, seed: int = 0, fps: float = 30.0, rare: float = 0.0
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Simulate a side view of a mouse reaching for a joystick and licking.

    Reaches (the paw goes to the joystick knob, pushes it and comes back), licks (the
    tongue is out) and rests alternate. With ``rare > 0`` some bouts are grooming
    (:data:`SIDE_RARE_BEHAVIOR`: the paw strokes the face), a posture that a few
    uniformly picked frames usually miss: the case active learning is for.
    Coordinates are in scene units (see :func:`side_view_transform`). The tongue is NaN while it is in; the hand and
    finger keep their coordinates while they are behind the joystick, and ``hidden``
    says so (a labeller leaves them NaN: ``np.where(hidden[..., None], np.nan, kp)``).

    Parameters
    ----------
    n_frames
        Number of frames.
    seed
        Random seed.
    fps
        Frame rate (bout durations are in seconds).
    rare
        Probability that a bout is grooming (0: never, and the session is the same as
        without the argument).

    Returns
    -------
    keypoints : numpy.ndarray
        ``(n_frames, 5, 2)`` in scene units (NaN: the tongue is in).
    labels : numpy.ndarray
        ``(n_frames,)`` behaviour names from :data:`SIDE_BEHAVIORS` (and
        :data:`SIDE_RARE_BEHAVIOR` when ``rare > 0``).
    bodyparts : list of str
        :data:`SIDE_BODYPARTS`.
    hidden : numpy.ndarray
        ``(n_frames, 5)`` bool: there but hidden behind the joystick.
    """
    rng = np.random.default_rng(seed)
    kp = np.full((n_frames, len(SIDE_BODYPARTS), 2), np.nan)
    hidden = np.zeros((n_frames, len(SIDE_BODYPARTS)), bool)
    labels = np.empty(n_frames, dtype=object)
    hand = _SIDE_REST.copy()
    tilt = 0.0
    t = 0
    while t < n_frames:
        behaviour = str(rng.choice(SIDE_BEHAVIORS, p=[0.3, 0.45, 0.25]))
        n = max(4, int(rng.uniform(0.6, 1.6) * fps))
        if rare > 0 and rng.uniform() < rare:
            behaviour = SIDE_RARE_BEHAVIOR  # short bouts, the face at a new place each
            n = max(4, n // 3)
            face = _SIDE_FACE + rng.normal(0, 3.0, 2)
        behind = behaviour == "reach" and rng.uniform() < 0.35
        base = _SIDE_JOYSTICK + np.array([rng.normal(0, 4.0), 0.0])
        start = hand.copy()
        for i in range(n):
            if t >= n_frames:
                break
            phase = (i + 1) / n
            tilt += 0.3 * (
                (18.0 * np.sin(np.pi * phase) if behaviour == "reach" else 0) - tilt
            )
            top = base + np.array([tilt, -95.0])
            if behaviour == "reach":
                target = top + np.array([-9.0, 6.0])
                reach = np.sin(np.pi * min(1.0, 1.2 * phase)) if phase < 0.95 else 0.0
                hand = (
                    start + (target - start) * reach
                    if phase < 0.5
                    else (_SIDE_REST + (target - _SIDE_REST) * reach)
                )
            elif behaviour == SIDE_RARE_BEHAVIOR:
                stroke = np.array([2.0, 6.0]) * np.sin(2 * np.pi * 3.0 * i / fps)
                hand = hand + 0.35 * (face + stroke - hand)
            else:
                hand = hand + 0.3 * (_SIDE_REST - hand)
            hand = hand + rng.normal(0, 0.6, 2)
            direction = hand - _SIDE_SHOULDER
            direction /= np.linalg.norm(direction) + 1e-9
            finger = hand + 11.0 * direction + np.array([0.0, 3.0])
            kp[t, 0], kp[t, 1] = hand, finger
            kp[t, 3], kp[t, 4] = top, base
            if behaviour == "lick" and 0.15 < phase < 0.9:
                out = 8.0 + 6.0 * np.sin(np.pi * (phase - 0.15) / 0.75)
                kp[t, 2] = (
                    _SIDE_MOUTH + np.array([0.8, 0.6]) * out + rng.normal(0, 0.5, 2)
                )
            if behind:
                for j in (0, 1):  # hidden behind the joystick bar
                    bar_x = base[0] + tilt * (base[1] - kp[t, j, 1]) / 95.0
                    hidden[t, j] = abs(kp[t, j, 0] - bar_x) < 9.0
            labels[t] = behaviour
            t += 1
    return kp, labels.astype(str), list(SIDE_BODYPARTS), hidden


def _side_background(size: tuple[int, int], seed: int, factor: float, offset):
    w, h = size
    rng = np.random.default_rng(seed + 2000)
    noise = rng.normal(0, 1, (h // 6 + 1, w // 6 + 1)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    grey = np.clip(70 + 50 * yy + 6 * noise, 0, 255)
    img = np.repeat(grey[..., None], 3, axis=2).astype(np.uint8)
    ledge = int(round(factor * 85.0 + offset[1]))
    img[max(0, ledge) :, :] = (105, 95, 80)  # the ledge the mouse stands on
    return img


def render_side_frame(
    keypoints: np.ndarray,
    background: np.ndarray,
    *,
    factor: float = 1.0,
    offset: Sequence[float] = (208.0, 197.0),
    behind: bool = False,
    rng: np.random.Generator | None = None,
    incident: str = "",
) -> np.ndarray:
    """Draw the side view for scene ``keypoints`` (5, 2) on a copy of ``background``.

    Parameters
    ----------
    keypoints
        Scene coordinates of :data:`SIDE_BODYPARTS` (NaN: hidden; the tongue is drawn
        only when it is out).
    background
        The RGB frame without the animal.
    factor, offset
        Scene → frame mapping (:func:`side_view_transform`).
    behind
        Draw the hand behind the joystick.
    rng
        Pixel noise.
    incident
        A lab incident from :data:`INCIDENTS` (``""``: none).

    Returns
    -------
    numpy.ndarray
        RGB ``uint8`` frame.
    """
    if incident and incident not in INCIDENTS:
        raise ValueError(f"unknown incident {incident!r}: choose from {INCIDENTS}")
    img = background.copy()
    f = 16.0
    offset = np.asarray(offset, float)

    def P(p) -> tuple[int, int]:
        q = factor * np.asarray(p, float) + offset
        return (int(round(q[0] * f)), int(round(q[1] * f)))

    def R(r: float) -> int:
        return max(1, int(round(r * factor * f)))

    def T(r: float) -> int:
        return max(1, int(round(r * factor)))

    hand, finger, tongue, top, base = (np.asarray(k, float) for k in keypoints)
    fur, pink = (88, 72, 60), (225, 160, 165)
    # body, head, eye, ear
    cv2.ellipse(
        img, P((-150, 30)), (R(68), R(46)), -10, 0, 360, fur, -1, cv2.LINE_AA, 4
    )
    cv2.ellipse(img, P((-85, -25)), (R(34), R(24)), 25, 0, 360, fur, -1, cv2.LINE_AA, 4)
    cv2.circle(img, P((-80, -38)), R(3.5), (20, 20, 20), -1, cv2.LINE_AA, 4)
    cv2.ellipse(
        img,
        P((-105, -45)),
        (R(9), R(13)),
        -30,
        0,
        360,
        (200, 150, 150),
        -1,
        cv2.LINE_AA,
        4,
    )
    # the other paw (a look-alike of the hand) and the reaching arm
    cv2.ellipse(
        img, P(_SIDE_OTHER_PAW), (R(6.5), R(4.5)), 0, 0, 360, pink, -1, cv2.LINE_AA, 4
    )
    arm_end = hand if np.isfinite(hand).all() else _SIDE_REST

    def draw_hand() -> None:
        cv2.line(img, P(_SIDE_SHOULDER), P(arm_end), fur, T(9), cv2.LINE_AA, 4)
        cv2.ellipse(img, P(arm_end), (R(7), R(5)), 0, 0, 360, pink, -1, cv2.LINE_AA, 4)
        if np.isfinite(finger).all():
            cv2.line(img, P(arm_end), P(finger), pink, T(2.5), cv2.LINE_AA, 4)
            cv2.circle(img, P(finger), R(1.8), (240, 190, 190), -1, cv2.LINE_AA, 4)

    if behind:
        draw_hand()
    # joystick: plate, bar, knob
    cv2.rectangle(
        img, P(base + (-22, 0)), P(base + (22, 8)), (60, 60, 70), -1, cv2.LINE_AA, 4
    )
    cv2.line(img, P(base), P(top), (185, 185, 195), T(7), cv2.LINE_AA, 4)
    cv2.circle(img, P(top), R(7), (60, 120, 200), -1, cv2.LINE_AA, 4)
    if not behind:
        draw_hand()
    if np.isfinite(tongue).all():
        cv2.line(img, P(_SIDE_MOUTH), P(tongue), (235, 110, 130), T(4), cv2.LINE_AA, 4)
    if incident == "glare":  # the camera's exposure overshoots
        img = np.clip(img.astype(np.float32) * 1.6 + 40.0, 0, 255).astype(np.uint8)
    elif incident == "shadow":  # the experimenter leans over the rig
        mask = np.zeros(img.shape[:2], np.float32)
        centre = tuple(int(round(v)) for v in factor * np.array([-30.0, 0.0]) + offset)
        axes = (int(round(150 * factor)), int(round(95 * factor)))
        cv2.ellipse(mask, centre, axes, -15, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 14.0 * factor))
        img = (img * (1.0 - 0.82 * mask[..., None])).astype(np.uint8)
    elif incident == "blur":  # the camera goes out of focus
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=max(1.0, 5.0 * factor))
    return _add_noise(img, rng)


def _render_side_video(
    path: Path,
    keypoints: np.ndarray,
    hidden: np.ndarray,
    *,
    size: tuple[int, int],
    factor: float,
    offset: np.ndarray,
    fps: float,
    seed: int,
    incidents: np.ndarray | None = None,
) -> Path:
    bg = _side_background(size, seed, factor, offset)
    rng = np.random.default_rng(seed + 7)
    if incidents is None:
        incidents = np.full(len(keypoints), "")
    frames = (
        render_side_frame(
            kp,
            bg,
            factor=factor,
            offset=offset,
            behind=bool(hid.any()),
            rng=rng,
            incident=str(inc),
        )
        for kp, hid, inc in zip(keypoints, hidden, incidents, strict=True)
    )
    return _write_video(path, frames, size=size, fps=fps)


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
    bg = _background(size, seed)
    rng = np.random.default_rng(seed + 7)
    frames = (render_frame(kp, bg, scale=scale, rng=rng) for kp in keypoints)
    return _write_video(path, frames, size=size, fps=fps)


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
    view: Literal["top", "side"] = "top",
    frame_sizes: Sequence[tuple[int, int]] | None = None,
    n_animals: int = 1,
    rare: float = 0.0,
    incidents: int = 0,
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
        Video size ``(width, height)`` (an odd side loses a row or column: see
        ``frame_sizes``), frame rate, random seed and animal size.
    n_videos
        Number of videos (each a different session, seeds ``seed``, ``seed+1``, …).
    label
        Write ``CollectedData_posekit.h5``/``.csv`` for the extracted frames.
    date
        Project date (default: a fixed date so the folder name is stable).
    view
        ``"top"``: the mouse in an arena from above (:func:`simulate_session`);
        ``"side"``: a mouse reaching for a joystick, seen from the side
        (:func:`simulate_side_session`: small parts, hidden parts left NaN in the
        labels, a look-alike paw). The project folder is ``side-posekit-<date>``.
    frame_sizes
        ``(width, height)`` of each video in turn (video ``v`` gets
        ``frame_sizes[v % len(frame_sizes)]``; ``n_videos`` is raised to at least
        their number). The first size is the reference: a smaller video shows the same
        field of view at a lower resolution, so the animal is smaller in it. Labelled
        frames then come from every video (``n_labeled`` split evenly). Default:
        every video has ``size`` and only the first is labelled. The videos are
        MPEG-4, whose sides are even: an odd width or height loses its last
        column or row (``(320, 235)`` gives 320×234 frames; nothing is rescaled,
        so the labels and ground truth stay exact).
    n_animals
        More than 1: a multi-animal project (top view) of that many mice with exact
        identities, whose paths cross and which hide each other's parts
        (:func:`posekit.engine.multianimal.demo.make_multianimal_demo`; folder
        ``social<n>-posekit-<date>``).
    rare
        Side view only: probability that a bout is grooming, a posture the other bouts
        never show (:func:`simulate_side_session`). The active-learning benchmark
        uses it.
    incidents
        Side view only: bouts of each lab incident (:data:`INCIDENTS`: glare, the
        experimenter's shadow, the camera out of focus) in each video
        (:func:`simulate_incidents`, seeded like the video). The frames they cover
        are in ``ground-truth/<video>_incidents.csv`` (:func:`load_incidents`).
        Labels and keypoints are unchanged.

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
    from .video import extract_frames, frame_index_of

    if view not in ("top", "side"):
        raise ValueError(f"view must be 'top' or 'side'. Received: view={view!r}")
    if int(n_animals) > 1:
        if view != "top" or frame_sizes is not None:
            raise ValueError(
                "the multi-animal demo is a top view of one frame size: leave view "
                "and frame_sizes at their defaults with n_animals > 1"
            )
        from .multianimal.demo import make_multianimal_demo

        return make_multianimal_demo(
            working_directory,
            n_animals=int(n_animals),
            n_frames=n_frames,
            n_labeled=n_labeled,
            size=size,
            fps=fps,
            seed=seed,
            n_videos=n_videos,
            scale=scale,
            label=label,
            date=date,
        )
    if (rare or incidents) and view != "side":
        raise ValueError(
            "rare bouts and incidents exist in the side view only: pass view='side'. "
            f"Received: view={view!r}, rare={rare!r}, incidents={incidents!r}"
        )
    if int(n_animals) < 1:
        raise ValueError(f"n_animals must be >= 1. Received: n_animals={n_animals!r}")
    sizes = [tuple(int(v) for v in s) for s in (frame_sizes or [size])]
    if not sizes or any(len(s) != 2 or min(s) < 16 for s in sizes):
        raise ValueError(
            "frame_sizes must be (width, height) pairs of at least 16 px. Received: "
            f"frame_sizes={frame_sizes!r}"
        )
    if frame_sizes is not None:
        n_videos = max(n_videos, len(sizes))
    project, created = _open_or_create_demo(
        working_directory,
        "demo" if view == "top" else "side",
        date,
        n_labeled=n_labeled,
        bodyparts=BODYPARTS if view == "top" else SIDE_BODYPARTS,
        skeleton=SKELETON if view == "top" else SIDE_SKELETON,
    )
    if not created:
        return project
    folder = Path(project.path)
    gt_dir = folder / "ground-truth"
    gt_dir.mkdir(exist_ok=True)
    videos = []
    labelled_videos = range(n_videos) if frame_sizes is not None else range(1)
    for v in range(n_videos):
        name = f"session{v + 1}"
        vsize = sizes[v % len(sizes)] if frame_sizes is not None else size
        if view == "top":
            kp, labels, bps = simulate_session(
                n_frames, seed=seed + v, fps=fps, arena=vsize, scale=scale
            )
            video = render_video(
                folder / "videos" / f"{name}.mp4",
                kp,
                size=vsize,
                fps=fps,
                seed=seed + v,
                scale=scale,
            )
        else:
            scene, labels, bps, hidden = simulate_side_session(
                n_frames, seed=seed + v, fps=fps, rare=rare
            )
            factor, offset = side_view_transform(vsize, sizes[0][0], scale)
            events = simulate_incidents(
                n_frames, int(incidents), seed=seed + v, fps=fps
            )
            if incidents:
                with atomic_path(gt_dir / f"{name}_incidents.csv") as tmp:
                    pd.DataFrame(
                        {"frame": np.arange(n_frames), "incident": events}
                    ).to_csv(tmp, index=False)
            video = _render_side_video(
                folder / "videos" / f"{name}.mp4",
                scene,
                hidden,
                size=vsize,
                factor=factor,
                offset=offset,
                fps=fps,
                seed=seed + v,
                incidents=events,
            )
            kp = np.where(hidden[..., None], np.nan, factor * scene + offset)
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
        if v in labelled_videos and n_labeled and label:
            n = n_labeled // len(labelled_videos) + (
                v < n_labeled % len(labelled_videos)
            )
            project.add_videos([video])
            paths = extract_frames(project, video, mode="uniform", n=n)
            idx = [frame_index_of(p) for p in paths]
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


def load_incidents(project, video: str = "session1") -> np.ndarray:
    """Lab incident of each frame of a side-view demo video (``""``: none).

    Parameters
    ----------
    project
        A demo project made with ``incidents > 0`` (:func:`make_demo_project`).
    video
        Video name or path.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` incident kinds from :data:`INCIDENTS` or ``""``; all ``""``
        if the project was made without incidents.
    """
    gt_dir = Path(project.path) / "ground-truth"
    path = gt_dir / f"{Path(video).stem}_incidents.csv"
    if not path.exists():
        kp, _ = load_ground_truth(project, video)
        return np.full(len(kp), "")
    df = pd.read_csv(path, keep_default_na=False)
    return df["incident"].astype(str).to_numpy()
