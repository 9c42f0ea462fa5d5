"""Labelled videos, as DeepLabCut's ``create_labeled_video``.

The predicted keypoints (and skeleton, and fading trails) are drawn on every frame.

The output is named as DeepLabCut names it (``utils/make_labeled_video.py``:
``filepath.replace(".h5", f"{s}_p{int(100 * pcutoff)}_labeled.mp4")``):
``<predictions stem>_p<pcutoff×100>_labeled.mp4`` beside the predictions file, which
for a DLC-named file is ``<video stem><scorer>_p60_labeled.mp4`` (``…filtered_p60…``
for filtered predictions; multi-animal: ``_bp_p60`` coloured by bodypart, ``_id_p60``
by individual). Codecs:

- ``"h264"`` (default when available): H.264 in ``.mp4`` through the ffmpeg binary
  that ``imageio-ffmpeg`` ships (``libx264``, ``yuv420p``, ``+faststart``). Browsers
  play it, so the apps can show it with ``ipywidgets.Video``.
- ``"mjpeg"``: Motion-JPEG in ``.avi`` through OpenCV (what DLC writes in its fast
  mode); every frame is an independent JPEG. Browsers do not play it.
- ``"mp4v"``: MPEG-4 part 2 in ``.mp4`` through OpenCV. Browsers do not play it.

The file is written atomically (a temporary file beside the target, renamed at the
end): an interrupted run leaves no half-written video.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import xarray as xr

from ._fileio import atomic_path
from .drawing import bodypart_colors, draw_poses
from .project import DisplaySettings
from .video import VideoReader, _ffmpeg_exe

__all__ = [
    "Codec",
    "CODECS",
    "h264_available",
    "labeled_video_path",
    "create_labeled_video",
]

logger = logging.getLogger("posekit.labeled_video")

Codec = Literal["auto", "h264", "mjpeg", "mp4v"]

#: Codec → file suffix.
CODECS: dict[str, str] = {"h264": ".mp4", "mjpeg": ".avi", "mp4v": ".mp4"}

ProgressFn = Callable[[int, int], None]

#: DeepLabCut's plotting defaults (a project's ``display`` when its config is empty).
_DEFAULT = DisplaySettings()


def h264_available() -> bool:
    """Whether H.264 ``.mp4`` can be written (``imageio-ffmpeg`` and its ffmpeg).

    Examples
    --------
    >>> isinstance(h264_available(), bool)
    True
    """
    return _ffmpeg_exe() is not None


def _resolve_codec(codec: str) -> str:
    if codec == "auto":
        if h264_available():
            return "h264"
        logger.warning(
            "imageio-ffmpeg is not installed: writing mp4v, which browsers cannot "
            "play (pip install imageio-ffmpeg for H.264)"
        )
        return "mp4v"
    if codec not in CODECS:
        raise ValueError(f"Unknown codec {codec!r}; choose one of {['auto', *CODECS]}")
    if codec == "h264" and not h264_available():
        raise ValueError(
            "codec='h264' needs imageio-ffmpeg (pip install imageio-ffmpeg); "
            "or use codec='mjpeg' (.avi) or 'mp4v'"
        )
    return codec


def labeled_video_path(
    predictions: str | os.PathLike,
    codec: Codec = "auto",
    *,
    pcutoff: float = _DEFAULT.pcutoff,
    color_by: Literal["bodypart", "individual"] | None = None,
) -> Path:
    """Return the default output path of :func:`create_labeled_video`, as DeepLabCut names it.

    That is ``<stem>[_bp|_id]_p<pcutoff×100>_labeled.mp4`` (``.avi`` for MJPEG)
    beside the predictions file; ``pcutoff×100`` is ``int(100 * pcutoff)`` exactly as
    DeepLabCut computes it.

    Parameters
    ----------
    predictions
        The predictions file.
    codec
        The codec (its container gives the suffix).
    pcutoff
        The likelihood cut-off the video is drawn with.
    color_by
        For a multi-animal video: ``"bodypart"`` (``_bp``) or ``"individual"``
        (``_id``); ``None`` for a single animal.

    Returns
    -------
    Path
        The path.

    Examples
    --------
    >>> labeled_video_path("/v/m1DLC_resnet50_tOct30shuffle1_500.h5", "h264").name
    'm1DLC_resnet50_tOct30shuffle1_500_p60_labeled.mp4'
    >>> labeled_video_path("/v/m1DLC_resnet50_tOct30shuffle1_500_filtered.h5",
    ...                    "mjpeg", pcutoff=0.4).name
    'm1DLC_resnet50_tOct30shuffle1_500_filtered_p40_labeled.avi'
    >>> labeled_video_path("/v/m1DLC_x.h5", "h264", color_by="individual").name
    'm1DLC_x_id_p60_labeled.mp4'
    """
    p = Path(predictions)
    suffix = CODECS.get(codec, ".mp4")
    s = {"bodypart": "_bp", "individual": "_id", None: ""}[color_by]
    return p.with_name(f"{p.stem}{s}_p{int(100 * pcutoff)}_labeled{suffix}")


# ---------------------------------------------------------------- writers


class _FFmpegWriter:
    """H.264 through imageio-ffmpeg's ffmpeg binary (frames piped as raw RGB)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, crf: int) -> None:
        import imageio_ffmpeg

        self._gen = imageio_ffmpeg.write_frames(
            str(path),
            size,
            fps=fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=[
                "-crf",
                str(int(crf)),
                "-preset",
                "veryfast",
                "-movflags",
                "+faststart",
                "-fps_mode",
                "passthrough",
            ],
        )
        self._gen.send(None)

    def write(self, frame: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        self._gen.close()


class _OpenCVWriter:
    """MJPEG ``.avi`` / mp4v ``.mp4`` through OpenCV."""

    def __init__(
        self, path: Path, size: tuple[int, int], fps: float, fourcc: str
    ) -> None:
        self._writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), size
        )
        if not self._writer.isOpened():
            raise OSError(f"OpenCV cannot write {fourcc} video to {path}")

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()


def _tqdm_progress(total: int, desc: str) -> tuple[ProgressFn, Callable[[], None]]:
    from ._progress import progress_bar

    bar = progress_bar(total, desc=desc, unit="frame")
    state = {"done": 0}

    def update(done: int, total: int) -> None:
        if total != bar.total:  # the real count, known at the end of the pass
            bar.total = total
        bar.update(done - state["done"])
        state["done"] = done

    return update, bar.close


# ---------------------------------------------------------------- main entry


def _load(predictions: str | os.PathLike | xr.Dataset) -> xr.Dataset:
    if isinstance(predictions, xr.Dataset):
        from .poses import validate

        return validate(predictions)
    from .io import load_poses

    return load_poses(predictions)


def _check_inputs(
    video: Path,
    predictions: str | os.PathLike | xr.Dataset,
    trail_length: int,
    pcutoff: float,
    dotsize: float,
) -> None:
    """Raise if a file is missing or a drawing option is out of range."""
    if not video.is_file():
        raise FileNotFoundError(f"No video at {video}")
    if not isinstance(predictions, xr.Dataset) and not Path(predictions).is_file():
        raise FileNotFoundError(f"No predictions file at {predictions}")
    if trail_length < 0:
        raise ValueError(f"trail_length must be >= 0; received {trail_length}")
    if not 0 <= pcutoff <= 1:
        raise ValueError(
            f"pcutoff is a likelihood, between 0 and 1; received {pcutoff!r} "
            "(no point would be drawn)"
        )
    if not dotsize > 0:
        raise ValueError(f"dotsize is a radius in pixels, > 0; received {dotsize!r}")


def _shown_bodyparts(names: list[str], bodyparts: Sequence[str] | None) -> list[str]:
    """Return the bodyparts to draw (default all), checking they are predicted."""
    shown = list(names) if bodyparts is None else [str(b) for b in bodyparts]
    unknown = [b for b in shown if b not in names]
    if unknown:
        raise ValueError(
            f"bodyparts {unknown} are not in the predictions (they have {names})"
        )
    return shown


def _skeleton_edges(
    skeleton: Sequence[Sequence[str]] | None, names: list[str], shown: list[str]
) -> list[tuple[int, int]]:
    """Turn named skeleton edges into index pairs into ``shown``.

    Edges with an end that is not shown are left out; an end that is not predicted
    at all is an error.
    """
    edges: list[tuple[int, int]] = []
    for edge in skeleton or ():
        a, b = (str(e) for e in edge)
        missing = [e for e in (a, b) if e not in names]
        if missing:
            raise ValueError(
                f"skeleton edge {[a, b]}: {missing} not in the predictions "
                f"(they have {names})"
            )
        if a in shown and b in shown:
            edges.append((shown.index(a), shown.index(b)))
    return edges


def _point_colors(
    names: list[str],
    shown: list[str],
    n_individuals: int,
    *,
    color_by: str,
    subset: bool,
    colormap: str,
) -> np.ndarray:
    """Return one colour per shown bodypart or per individual.

    A bodypart keeps its colour of the full list when only some are shown.
    """
    if color_by == "bodypart" and subset:
        palette = bodypart_colors(len(names), colormap)
        return palette[[names.index(b) for b in shown]]
    n_colors = len(shown) if color_by == "bodypart" else n_individuals
    return bodypart_colors(n_colors, colormap)


def _output_path(
    video: Path,
    predictions: str | os.PathLike | xr.Dataset,
    codec: str,
    *,
    pcutoff: float,
    color_by: Literal["bodypart", "individual"] | None,
) -> Path:
    """Return the default output: beside the predictions file, or the video."""
    source = video if isinstance(predictions, xr.Dataset) else Path(predictions)
    return labeled_video_path(source, codec, pcutoff=pcutoff, color_by=color_by)  # type: ignore[arg-type]


def _progress_callbacks(
    progress: bool | ProgressFn, total: int, desc: str
) -> tuple[ProgressFn, Callable[[], None]]:
    """Return ``(report, finish)`` for a tqdm bar, a user callback, or nothing."""
    if progress is True:
        return _tqdm_progress(total, desc)
    if callable(progress):
        return progress, (lambda: None)
    return (lambda done, total: None), (lambda: None)


def _draw_predictions(
    frame: np.ndarray,
    index: int,
    xy: np.ndarray,
    lik: np.ndarray,
    trail_length: int,
    draw: Callable[..., np.ndarray],
) -> None:
    """Draw frame ``index``'s predictions (and trail) on ``frame``, if it has any."""
    if index >= len(xy):
        return
    trail = trail_p = None
    if trail_length:
        ages = np.arange(index - 1, index - 1 - trail_length, -1)
        ages = ages[ages >= 0]
        trail, trail_p = xy[ages], lik[ages]
    draw(frame, xy[index], lik[index], trail=trail, trail_likelihood=trail_p)


def _write_frames(
    reader: VideoReader,
    path: Path,
    *,
    codec: str,
    crf: int,
    fps: float | None,
    progress: tuple[ProgressFn, Callable[[], None]],
    draw: Callable[[int, np.ndarray], None],
) -> int:
    """Write every frame of ``reader``, after ``draw(index, frame)``, to ``path``.

    H.264 frames are padded to even sizes (``yuv420p`` needs them). Returns the
    number of frames written. Progress counts against the container's frame count
    (the video is not decoded once more to count it); a video that ends earlier
    ends the progress there.
    """
    n_frames = reader.expected_frames
    rate = float(fps or reader.fps or 30.0)
    pad_w, pad_h = (reader.width % 2, reader.height % 2) if codec == "h264" else (0, 0)
    size = (reader.width + pad_w, reader.height + pad_h)
    report, finish = progress
    if codec == "h264":
        writer: _FFmpegWriter | _OpenCVWriter = _FFmpegWriter(path, size, rate, crf)
    else:
        writer = _OpenCVWriter(path, size, rate, "MJPG" if codec == "mjpeg" else "mp4v")
    done = 0
    try:
        for index, frame in reader.iter_frames():
            draw(index, frame)
            if pad_w or pad_h:
                frame = cv2.copyMakeBorder(
                    frame, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE
                )
            writer.write(frame)
            done += 1
            report(done, max(n_frames, done))
        if done != n_frames:
            report(done, done)  # the real count, learned at the end of the pass
    finally:
        writer.close()
        finish()
    return done


def create_labeled_video(
    video: str | os.PathLike,
    predictions: str | os.PathLike | xr.Dataset,
    out: str | os.PathLike | None = None,
    *,
    pcutoff: float = _DEFAULT.pcutoff,
    skeleton: Sequence[Sequence[str]] | None = None,
    bodyparts: Sequence[str] | None = None,
    dotsize: float = _DEFAULT.dotsize,
    colormap: str = _DEFAULT.colormap,
    alpha: float = _DEFAULT.alphavalue,
    skeleton_color: str | Sequence[int] = _DEFAULT.skeleton_color,
    trail_length: int = 0,
    draw_skeleton: bool = True,
    color_by: Literal["bodypart", "individual"] = "bodypart",
    codec: Codec = "auto",
    crf: int = 18,
    fps: float | None = None,
    progress: bool | ProgressFn = True,
    overwrite: bool | None = None,
) -> Path:
    """Draw the predictions on every frame of ``video`` and write a new video.

    Parameters
    ----------
    video
        The analysed video.
    predictions
        Its predictions: a DLC ``.h5``/``.csv`` (or any file
        :func:`posekit.engine.io.load_poses` reads), or a poses ``Dataset``.
    out
        Output file (default :func:`labeled_video_path`, DeepLabCut's name:
        ``<predictions stem>_p<pcutoff×100>_labeled.mp4`` beside the predictions;
        with a ``Dataset``, beside the video as ``<video stem>_p<…>_labeled.mp4``).
    pcutoff
        Points with a likelihood below this are not drawn (DLC's ``pcutoff``).
    skeleton
        Edges as pairs of bodypart names (the project's ``skeleton``).
    bodyparts
        Bodyparts to draw (default: all; DLC's ``displayedbodyparts``).
    dotsize
        Dot radius in pixels (DLC's ``dotsize``).
    colormap
        Colour map of the bodyparts (the project's ``colormap``), the same colours
        the labelling tools use.
    alpha
        Dot opacity (DLC's ``alphavalue``).
    skeleton_color
        Skeleton line colour (a name, ``#rrggbb`` or RGB).

        The defaults of these five are DeepLabCut's, as in
        :class:`~posekit.engine.project.DisplaySettings`; pass a project's
        ``display`` values to draw as its config says.
    trail_length
        Draw the last ``trail_length`` positions of each point as a fading trail
        (0: none; DLC's ``trailpoints``).
    draw_skeleton
        Draw the skeleton edges.
    color_by
        ``"bodypart"`` or ``"individual"`` (multi-animal).
    codec
        ``"auto"`` (H.264 if available, else mp4v), ``"h264"``, ``"mjpeg"`` (``.avi``)
        or ``"mp4v"``.
    crf
        H.264 quality (0 lossless … 51 worst; 18 looks lossless).
    fps
        Frame rate of the output (default: the input's).
    progress
        Show a tqdm progress bar (``True``), nothing (``False``), or call
        ``progress(frames_done, n_frames)`` after each frame.
    overwrite
        When ``out`` exists: ``None`` (default) replaces it; ``True`` replaces it
        and logs ``overwriting <out>`` (``posekit labeled-video``); ``False`` keeps
        it and draws nothing, logging DeepLabCut's "Labeled video already created.
        Skipping..." (:func:`posekit.engine.api.create_labeled_video`).

    Returns
    -------
    Path
        The video written, with exactly as many frames as ``video`` (or the one
        kept with ``overwrite=False``).

    Raises
    ------
    FileNotFoundError
        If the video or predictions file is missing.
    ValueError
        If a bodypart named in ``skeleton``/``bodyparts`` is not in the predictions,
        the codec is unknown or unavailable, ``pcutoff`` is not within 0–1 or
        ``dotsize`` is not positive.

    Examples
    --------
    >>> create_labeled_video(  # doctest: +SKIP
    ...     "videos/m1.mp4", "videos/m1DLC_resnet50_tOct30shuffle1_500.h5", trail_length=10
    ... )
    PosixPath('videos/m1DLC_resnet50_tOct30shuffle1_500_p60_labeled.mp4')
    """
    video = Path(video)
    _check_inputs(video, predictions, trail_length, pcutoff, dotsize)
    codec_used = _resolve_codec(codec)
    ds = _load(predictions)
    names = [str(k) for k in ds["keypoint"].values]
    shown = _shown_bodyparts(names, bodyparts)
    edges = _skeleton_edges(skeleton, names, shown) if draw_skeleton else []
    sub = ds.sel(keypoint=shown)
    xy = sub["position"].transpose("time", "keypoint", "individual", "space").values
    xy = xy[..., :2]
    lik = sub["confidence"].transpose("time", "keypoint", "individual").values
    colors = _point_colors(
        names,
        shown,
        sub.sizes["individual"],
        color_by=color_by,
        subset=bodyparts is not None,
        colormap=colormap,
    )
    if out is None:
        multi = sub.sizes["individual"] > 1
        out = _output_path(
            video,
            predictions,
            codec_used,
            pcutoff=pcutoff,
            color_by=color_by if multi else None,
        )
    out = Path(out)
    if out.exists() and overwrite is not None:
        if not overwrite:
            logger.warning(
                "Labeled video already created. Skipping... (%s; overwrite=True "
                "draws it again)",
                out,
            )
            return out
        logger.warning("overwriting %s", out)
    draw = partial(
        draw_poses,
        pcutoff=pcutoff,
        colors=colors,
        dotsize=dotsize,
        alpha=alpha,
        edges=edges,
        skeleton_color=skeleton_color,
        color_by=color_by,
    )

    reader = VideoReader(video)
    try:
        planned = reader.expected_frames  # the container's count: no decoding
        with atomic_path(out) as tmp:
            done = _write_frames(
                reader,
                tmp,
                codec=codec_used,
                crf=crf,
                fps=fps,
                progress=_progress_callbacks(progress, planned, out.name),
                draw=lambda index, frame: _draw_predictions(
                    frame, index, xy, lik, trail_length, draw
                ),
            )
    finally:
        reader.close()
    if len(xy) != done:
        logger.warning(
            "%s has %d frames but the predictions %d; %s",
            video.name,
            done,
            len(xy),
            "frames without predictions were copied unlabelled"
            if len(xy) < done
            else "the predictions past its end were not drawn",
        )
    logger.info("labelled video: %s (%d frames, %s)", out, done, codec_used)
    return out
