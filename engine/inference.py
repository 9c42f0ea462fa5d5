"""Batched, pipelined prediction on frames and videos: posekit's one prediction path.

:class:`Predictor` (:class:`KerasPredictor` or :class:`TFLitePredictor`) maps frames to
``(x, y, likelihood)`` per keypoint; evaluation, training's periodic test error,
``predict_frames``, video analysis and the apps all go through it. A trained model on
disk gives one with :meth:`posekit.engine.model_folder.ModelFolder.predictor`.

For videos, a background thread decodes (and resizes) frames while the network runs on the previous
batch; the score maps are decoded to ``(x, y, likelihood)`` in full-frame pixels and
written in DeepLabCut's prediction layout. Two runtimes: TensorFlow (a traced
``tf.function`` per input shape) and TFLite (a frozen concrete function converted by
``TFLiteConverter.from_concrete_functions``; ~2× faster on CPU).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from . import logger
from ._fileio import atomic_path
from ._tf import startup_lines_held
from .io.dlc import predictions_frame, write_analysis_metadata, write_predictions
from .video import Crop, StreamEnd, VideoError, VideoReader

__all__ = [
    "MapDecoder",
    "Predictor",
    "KerasPredictor",
    "TFLitePredictor",
    "convert_to_tflite",
    "default_batch_size",
    "predict_video",
    "analyze_video",
    "save_video_analysis",
    "video_metadata",
    "AnalysisOutputs",
    "AnalysisStopped",
    "PartialAnalysis",
    "AnalysisPlan",
    "plan_analysis",
    "analysed_by_other_network",
    "set_aside_analysis",
]

#: ``decode(scoremaps, locref) -> (N, K, 3)`` in input-image pixels.
MapDecoder = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _threads() -> int:
    from ._tf import cpu_threads  # affinity, SLURM_CPUS_PER_TASK, --threads

    return cpu_threads()


#: Frames of at least this many pixels are analysed one at a time by default.
LARGE_FRAME_PIXELS = 200_000


def default_batch_size(
    frame_shape: Sequence[int] | None, most: int | None = None
) -> int:
    """Return the batch size video analysis uses by default for a frame size.

    Measured on 2 cores (``benchmarks/video_fps.py``): at 640×480, batch 1 gave more
    frames/s than batch 8 (the network is compute-bound and batching only adds
    memory traffic); at 320×240 batch 8 was faster than batch 1 (per-call overhead
    dominates small frames). Frames of :data:`LARGE_FRAME_PIXELS` pixels or more
    get 1, smaller ones 8.

    Parameters
    ----------
    frame_shape
        ``(height, width)`` of the frames the network sees (after scaling), or
        ``None`` when unknown (frames of several sizes).
    most
        At most this many (``config.yaml``'s ``batch_size``, DeepLabCut's memory
        limit of analysis: :func:`posekit.engine.api.config_batch_size`).

    Returns
    -------
    int

    Examples
    --------
    >>> default_batch_size((480, 640)), default_batch_size((240, 320))
    (1, 8)
    >>> default_batch_size((240, 320), most=4), default_batch_size((480, 640), most=4)
    (4, 1)
    """
    if frame_shape is None:
        chosen = 8
    else:
        h, w = int(frame_shape[0]), int(frame_shape[1])
        chosen = 1 if h * w >= LARGE_FRAME_PIXELS else 8
    return chosen if most is None else max(1, min(chosen, int(most)))


class Predictor:
    """Maps RGB frames to ``(N, K, 3)``: x, y (in the frames' pixels) and likelihood.

    Subclasses implement :meth:`_run` (a batch of frames → score maps, locref maps);
    the decoder turns maps into coordinates. This is posekit's one prediction path:
    evaluation, training's test error, :func:`predict_video` and the apps use it.

    Parameters
    ----------
    decoder
        ``decode(scoremaps, locref) -> (N, K, 3)``
        (:func:`posekit.engine.models.decoder.make_decoder`).
    batch_size
        Frames per network call; a shorter last batch is padded to it.
    num_keypoints
        ``K``, for the shape of an empty result.

    Raises
    ------
    ValueError
        ``batch_size`` below 1.
    """

    def __init__(
        self, decoder: MapDecoder, batch_size: int = 8, *, num_keypoints: int = 0
    ) -> None:
        if int(batch_size) < 1:
            raise ValueError(
                f"batch_size must be >= 1. Received: batch_size={batch_size!r}"
            )
        self.decoder = decoder
        self.batch_size = int(batch_size)
        self.num_keypoints = int(num_keypoints)

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __call__(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(N, K, 3)`` for ``N`` frames.

        Parameters
        ----------
        frames
            An array ``(N, H, W, 3)``, or a sequence of ``(H, W, 3)`` frames whose
            shapes may differ. Frames of one shape are batched together and the last
            batch of each shape is padded to :attr:`batch_size`, so a traced model
            sees one input shape per frame shape (a TFLite model takes only its own).
            ``uint8``, or float in ``[0, 255]`` (rounded to the nearest integer
            for a model that takes ``uint8``). Other integer types (a 12- or 16-bit
            camera's ``uint16``), floats outside ``[0, 255]`` and floats normalised
            to ``[0, 1]`` (all at most 1, some fractional) are refused: scale them
            to 8 bits first.

        Returns
        -------
        numpy.ndarray
            ``(N, K, 3)``, in the order of ``frames``.

        Raises
        ------
        ValueError
            A frame that is not ``(H, W, 3)``, not ``uint8`` nor float in
            ``[0, 255]``, or (TFLite) of another size than the model's.
        """
        if isinstance(frames, np.ndarray) and frames.ndim == 4:
            groups = [(list(range(len(frames))), frames)]  # one shape: no copy
        else:
            if not isinstance(frames, Sequence):
                frames = list(frames)  # an iterator; a sequence (a lazy list of
                # training images) is read a batch at a time, never all at once
            by_shape: dict[tuple[int, ...], list[int]] = {}
            for i, frame in enumerate(frames):
                by_shape.setdefault(tuple(np.shape(frame)), []).append(i)
            groups = []
            for shape, idx in by_shape.items():
                if len(shape) != 3:
                    raise ValueError(
                        f"frames must be (H, W, 3) images. Received shape {shape}"
                    )
                groups.append((idx, None))
        n = sum(len(idx) for idx, _ in groups)
        out: np.ndarray | None = None
        bs = self.batch_size
        for idx, stacked in groups:
            for start in range(0, len(idx), bs):
                chunk = idx[start : start + bs]
                if stacked is not None:
                    batch = stacked[start : start + bs]
                else:
                    batch = np.stack([np.asarray(frames[i]) for i in chunk])
                _check_pixels(batch)
                m = len(chunk)
                if m < bs:  # pad: one traced shape / one TFLite shape
                    pad = np.zeros((bs - m, *batch.shape[1:]), batch.dtype)
                    batch = np.concatenate([batch, pad])
                scmap, locref = self._run(batch)
                xyp = self.decoder(scmap[:m], locref[:m])
                if out is None:
                    out = np.empty((n, *xyp.shape[1:]), xyp.dtype)
                out[chunk] = xyp
        if out is None:
            return np.zeros((0, self.num_keypoints, 3), np.float32)
        return out


def _check_pixels(batch: np.ndarray) -> None:
    """Refuse frames that are not RGB ``uint8`` (or float in ``[0, 255]``).

    A cast to ``uint8`` wrapped ``uint16`` values around 256 and turned ``[0, 1]``
    floats black: the poses were garbage, with normal likelihoods (QA s24).
    """
    if batch.shape[-1] != 3:
        n = batch.shape[-1]
        fix = {
            1: "convert grayscale with cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) or "
            "np.repeat(frame, 3, axis=-1)",
            4: "drop the alpha channel: frame[..., :3] (or cv2.cvtColor(frame, "
            "cv2.COLOR_BGRA2RGB) for OpenCV's BGRA)",
        }.get(n, "give RGB frames")
        raise ValueError(
            f"frames must be (H, W, 3) RGB images. Received {n} channel(s) "
            f"(shape {batch.shape[1:]}): {fix}."
        )
    dtype = batch.dtype
    if dtype == np.uint8:
        return
    if dtype.kind in "biu":
        top = int(batch.max()) if batch.size else 0
        raise ValueError(
            f"frames must be uint8 (0-255), or float in [0, 255]. Received {dtype} "
            f"frames (largest value {top}): posekit does not guess the bit depth. "
            "Scale them to 8 bits first: (frame >> 4).astype(np.uint8) for a 12-bit "
            "camera, (frame >> 8).astype(np.uint8) for 16-bit, frame.astype(np.uint8) "
            "for values already in 0-255."
        )
    if dtype.kind != "f":
        raise ValueError(
            f"frames must be uint8 (0-255), or float in [0, 255]. Received {dtype}."
        )
    lo, hi = float(np.min(batch)), float(np.max(batch))
    # [0, 1] with fractions: normalised (a 0-255 frame that dark has whole values)
    normalised = hi <= 1.0 and bool(np.any(batch != np.rint(batch)))
    if not (lo >= 0.0 and hi <= 255.0) or normalised:  # NaN fails too
        raise ValueError(
            f"float frames must hold values in [0, 255], as uint8 frames do. Received "
            f"values from {lo:g} to {hi:g}"
            + (" (normalised to [0, 1]?)" if normalised else "")
            + ": for frames normalised to [0, 1] give "
            "(frame * 255).round().astype(np.uint8); for [-1, 1], ((frame + 1) * "
            "127.5).round().astype(np.uint8); clip others into [0, 255] first."
        )


class KerasPredictor(Predictor):
    """Run a Keras pose model through ``tf.function``.

    No XLA: on CPU it is up to 20× slower for depthwise convolutions. A model built with a free input size (``(None, None, 3)``, as snapshots are saved)
    takes frames of any size, several sizes in one call; each input shape is traced
    once.

    Parameters
    ----------
    model
        A :class:`~posekit.engine.models.PoseModel`, or any Keras model returning
        ``{"scoremap", "locref"}`` or ``(scoremap, locref)``.
    decoder
        Default, for a ``PoseModel``: :func:`~posekit.engine.models.decoder.make_decoder`
        with its ``head_stride`` and ``locref_stdev``. Needed for other models.
    batch_size
        Frames per call.

    Raises
    ------
    ValueError
        No ``decoder`` for a model that is not a ``PoseModel``.
    """

    def __init__(
        self, model, decoder: MapDecoder | None = None, batch_size: int = 8
    ) -> None:
        from ._tf import tensorflow as tf

        cfg = getattr(model, "pose_config", None)
        if decoder is None:
            if cfg is None:
                raise ValueError(
                    "A decoder is needed for a model that is not a PoseModel: pass "
                    "decoder=make_decoder(stride=..., locref_stdev=...)."
                )
            from .models.decoder import make_decoder

            decoder = make_decoder(
                stride=cfg.head_stride,
                locref_stdev=cfg.locref_stdev,
                input_scale=cfg.input_scale,
            )
        super().__init__(
            decoder, batch_size, num_keypoints=cfg.num_keypoints if cfg else 0
        )
        self.model = model
        self._fn = tf.function(
            lambda x: model(x, training=False), reduce_retracing=True
        )

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = self._fn(batch.astype(np.float32, copy=False))
        scmap, locref = _split_outputs(outputs)
        return np.asarray(scmap), np.asarray(locref)


def _split_outputs(outputs) -> tuple:
    if isinstance(outputs, Mapping):
        return outputs["scoremap"], outputs["locref"]
    return outputs[0], outputs[1]


@contextlib.contextmanager
def _captured_output() -> Iterator[Callable[[], str]]:
    """Send everything written to stdout and stderr to a temporary file meanwhile.

    TensorFlow's converter logs through C++ (absl) straight to file descriptor 2, which
    Jupyter forwards into the notebook or Voila app; ``sys.stdout``/``sys.stderr``
    redirection alone would not catch it. Both descriptors 1 and 2 and the Python
    streams are redirected for the duration of the ``with`` block (process-wide: other
    threads' output in that window is captured too). Yields a function returning what
    was captured so far.
    """
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    text = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        saved: list[tuple[int, int]] = []

        def captured() -> str:
            for stream in (sys.__stdout__, sys.__stderr__):
                with contextlib.suppress(Exception):
                    stream.flush()
            sink.seek(0)
            return sink.read().decode("utf-8", "replace") + text.getvalue()

        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                except OSError:  # descriptor closed: nothing to silence
                    continue
                os.dup2(sink.fileno(), fd)
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield captured
        finally:
            for stream in (sys.__stdout__, sys.__stderr__):
                with contextlib.suppress(Exception):
                    stream.flush()
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)


def convert_to_tflite(
    model,
    path: str | os.PathLike,
    *,
    input_shape: Sequence[int],
    representative_frames: Sequence[np.ndarray] | None = None,
) -> Path:
    """Convert a Keras pose model to a TFLite file for a fixed input shape.

    The model is traced to a concrete function whose variables are frozen into
    constants, then converted (``TFLiteConverter.from_concrete_functions``): 5x faster
    than writing a SavedModel (``model.export`` + ``from_saved_model``) and the same
    model; unfrozen, ``from_concrete_functions`` silently gave one with no weights
    (NaN output). Written atomically. The converter's
    console output (dozens of TensorFlow log lines on file descriptor 2) is captured
    and sent to the ``posekit`` logger at DEBUG level instead of the notebook; if the
    conversion fails, it is attached to the exception as a note.

    Parameters
    ----------
    model
        Keras model mapping ``(N, H, W, 3)`` float32 images to score maps and locref.
        The TFLite model takes the ``uint8`` frames themselves (the cast to float32 is
        its first operation).
    path
        Output ``.tflite`` file.
    input_shape
        ``(N, H, W, 3)``.
    representative_frames
        ``None``: a float32 model. Otherwise, RGB ``uint8`` frames of shape
        ``(H, W, 3)`` that calibrate a post-training *full-integer* quantization:
        every operation runs in int8, the input is the ``uint8`` frame (its
        quantization parameters come from the frames' range, usually scale 1 and
        zero point 0) and the outputs are dequantized to float32. Dynamic-range
        quantization (int8 weights, float activations) is never used: it measured 5×
        slower than float32 on CPU.

    Raises
    ------
    ValueError
        ``representative_frames`` empty or of another size than ``input_shape``.
    """
    path = Path(path)
    if representative_frames is not None:
        frames = [np.asarray(f) for f in representative_frames]
        want = tuple(int(s) for s in input_shape[1:])
        if not frames or any(f.shape != want for f in frames):
            raise ValueError(
                f"representative_frames must be RGB frames of shape {want} (at least "
                "one); resize the labelled frames to the analysis size first."
            )
    else:
        frames = []
    with _captured_output() as captured:
        try:
            from ._tf import freeze_variables
            from ._tf import tensorflow as tf

            if frames:
                # float input for the quantizer, which turns it into a uint8 input
                # with the calibrated range (the frame goes in as decoded)
                serve = tf.function(
                    lambda x: model(x, training=False),
                    input_signature=[tf.TensorSpec(list(input_shape), tf.float32)],
                )
            else:
                # uint8 frames in, cast inside the graph: the frame goes to the
                # interpreter as it was decoded (4x fewer bytes than float32; no
                # astype per frame)
                serve = tf.function(
                    lambda x: model(tf.cast(x, tf.float32), training=False),
                    input_signature=[tf.TensorSpec(list(input_shape), tf.uint8)],
                )
            frozen = freeze_variables(serve.get_concrete_function())
            converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
            if frames:
                _full_integer(converter, frames, int(input_shape[0]))
            data = converter.convert()
        except Exception as exc:
            output = captured().strip()
            if output and hasattr(exc, "add_note"):
                exc.add_note("TFLite converter output:\n" + output[-5000:])
            raise
        output = captured().strip()
    if output:
        logger.debug("TFLite converter output:\n%s", output)
    with atomic_path(path) as out:
        out.write_bytes(data)
    return path


def _full_integer(converter, frames: list[np.ndarray], batch_size: int) -> None:
    """Set a TFLite converter to full-integer quantization calibrated on ``frames``."""
    from ._tf import tensorflow as tf

    def representative():
        # every frame once, in batches of the model's batch size (the last one
        # completed with the first frames)
        n = max(len(frames), batch_size)
        for start in range(0, n, batch_size):
            idx = [(start + i) % len(frames) for i in range(batch_size)]
            yield [np.stack([frames[i] for i in idx]).astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.float32


def _interpreter_class():
    """LiteRT's interpreter (``ai-edge-litert``), or TensorFlow's deprecated one."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - LiteRT is a dependency
        from ._tf import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TFLitePredictor(Predictor):
    """Run a converted TFLite pose model on CPU (LiteRT).

    The model is float32 (:func:`convert_to_tflite`) or full-integer int8
    (``representative_frames``); :attr:`precision` says which. A quantized input
    takes the ``uint8`` frame itself when its quantization is the identity (scale 1,
    zero point 0, as the calibration on real frames gives); otherwise the frame is
    mapped through a 256-entry lookup table (OpenCV, a fraction of a millisecond per
    frame). Quantized outputs are dequantized.

    Parameters
    ----------
    tflite_path
        The ``.tflite`` file.
    decoder
        ``decode(scoremaps, locref) -> (N, K, 3)``.
    batch_size
        The model's batch size (its input shape's first dimension).
    num_threads
        LiteRT threads (default: every core this process may use). A worker that
        shares a machine with others passes its share.
    """

    def __init__(
        self,
        tflite_path: str | os.PathLike,
        decoder: MapDecoder,
        *,
        batch_size: int,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(decoder, batch_size)
        self.path = Path(tflite_path)
        self.num_threads = int(num_threads or _threads())
        with startup_lines_held():  # LiteRT's "Created ... XNNPACK delegate"
            self.interpreter = _interpreter_class()(
                model_path=str(tflite_path), num_threads=self.num_threads
            )
            self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        outs = self.interpreter.get_output_details()
        # the score map has K channels, locref 2K: order the outputs by channel count
        outs = sorted(outs, key=lambda d: d["shape"][-1])
        self._scmap, self._locref = outs[0], outs[1]
        self.num_keypoints = int(outs[0]["shape"][-1])
        self.input_shape = tuple(int(s) for s in self._input["shape"])
        # uint8 for models converted by this version, float32 for older cached files
        self._input_dtype = np.dtype(self._input["dtype"])
        self._lut = _input_lut(self._input)
        quantized = any(
            d["quantization"][0] != 0.0
            for d in self.interpreter.get_tensor_details()
            if np.dtype(d["dtype"]) in (np.dtype(np.int8), np.dtype(np.uint8))
        )
        #: ``"int8"`` (full-integer quantized) or ``"float32"``.
        self.precision = "int8" if quantized else "float32"

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if batch.shape[1:] != self.input_shape[1:]:
            raise ValueError(self._size_problem(batch.shape[1:]))
        if batch.dtype != np.uint8 and self._input_dtype != np.float32:
            # float in [0, 255] (Predictor.__call__ checked): rounded, not truncated
            batch = np.rint(batch).astype(np.uint8)
        if self._lut is not None:
            batch = _apply_lut(batch, self._lut)
        self.interpreter.set_tensor(
            self._input["index"], batch.astype(self._input_dtype, copy=False)
        )
        self.interpreter.invoke()
        return _output(self.interpreter, self._scmap), _output(
            self.interpreter, self._locref
        )

    def _size_problem(self, got: tuple[int, ...]) -> str:
        """Say which frame size this model takes, and how to give it another."""
        h, w = self.input_shape[1:3]
        gh, gw = got[:2]
        text = (
            f"This predictor's TFLite model takes {w}×{h} (width×height) RGB frames, "
            f"made for frame_shape=({h}, {w}) (height first). Received a {gw}×{gh} "
            f"frame (shape {tuple(got)})"
        )
        if (gh, gw) == (w, h):
            text += (
                f": its height and width are swapped: frame_shape is (height, "
                f"width), ({gh}, {gw}) for these frames"
            )
        return (
            text + f". Resize the frames (cv2.resize(frame, ({w}, {h}))) or make a "
            f"predictor for their size: open_live(model, ({gh}, {gw})) or "
            f"model.predictor(({gh}, {gw}))."
        )


def _input_lut(detail: dict) -> np.ndarray | None:
    """Return the uint8 → input lookup table of a quantized input, ``None`` if identity."""
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail["quantization"]
    if dtype not in (np.dtype(np.uint8), np.dtype(np.int8)) or scale == 0.0:
        return None
    if dtype == np.uint8 and scale == 1.0 and zero == 0:
        return None
    info = np.iinfo(dtype)
    values = np.rint(np.arange(256) / scale) + zero
    return np.clip(values, info.min, info.max).astype(dtype)


def _apply_lut(batch: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map a ``uint8`` batch through a 256-entry table (OpenCV: one pass, no floats)."""
    import cv2

    frames = np.ascontiguousarray(batch, dtype=np.uint8)
    flat = frames.reshape(-1, frames.shape[-2], frames.shape[-1])
    return cv2.LUT(flat, lut).reshape(frames.shape)


def _output(interpreter, detail: dict) -> np.ndarray:
    """Read an output tensor as float32 (dequantized when it is quantized)."""
    value = interpreter.get_tensor(detail["index"])
    if value.dtype in (np.int8, np.uint8):
        scale, zero = detail["quantization"]
        return (value.astype(np.float32) - zero) * np.float32(scale)
    return value


#: Seconds between two saves of a serial analysis' predictions so far (a killed
#: run loses at most this much work).
CHECKPOINT_EVERY_S = 60.0


class StopSignal(Protocol):
    """What asks an analysis to stop: a ``threading.Event`` (anything with ``is_set``)."""

    def is_set(self) -> bool:  # pragma: no cover - a protocol
        """Return whether the stop was asked."""
        ...


class AnalysisStopped(Exception):
    """An analysis stopped because its ``stop_event`` was set: not an error.

    Raised by :func:`predict_video` (and so :func:`analyze_video`,
    :func:`posekit.engine.api.analyze_videos`,
    :func:`posekit.engine.export.analyze_with_model`, and a chunk of
    :func:`posekit.engine.distributed.analyze_chunked`) and by
    :func:`posekit.engine.multianimal.inference.predict_video_detections`
    between two batches once the event is set. The whole batches analysed so far
    are saved in the video's :class:`PartialAnalysis` (``.<output>.partial.npz``;
    a chunk's ``.chunk-<index>.partial.npz``; a multi-animal video's detections
    in ``.<stem><scorer>_full.partial.pickle``), exactly as on Ctrl-C; no ``.h5``
    is written for the stopped video, the output locks are released, and the
    same call resumes at :attr:`frame`.

    Parameters
    ----------
    video
        The video that was being analysed (or was next).
    frame
        Frames analysed and kept: where the next run resumes (0: from the start).
    total
        The video's frame count (the container's), or the frames of all the
        chunks (chunked analyses).
    partial
        The saved predictions, or ``None`` when nothing is kept (a frame range,
        ``resumable=False``, or no frame analysed yet).

    Attributes
    ----------
    outputs
        The ``.h5`` files written (or found done) before the stop, when the caller
        analyses a batch (:func:`~posekit.engine.api.analyze_videos` sets it); an
        empty list otherwise.

    Examples
    --------
    >>> str(AnalysisStopped(Path("m1.mp4"), 256, 900, Path(".m1DLC.partial.npz")))
    'm1.mp4: stopped at frame 256 of 900; the same analysis resumes there'
    >>> str(AnalysisStopped(Path("m1.mp4"), 0, 900, None))
    'm1.mp4: stopped; the same analysis starts it from its first frame'
    """

    def __init__(
        self, video: Path, frame: int, total: int, partial: Path | None
    ) -> None:
        self.video = Path(video)
        self.frame = int(frame)
        self.total = int(total)
        self.partial = partial
        self.outputs: list[Path] = []
        super().__init__(self.describe())

    def with_outputs(self, outputs: Sequence[Path]) -> AnalysisStopped:
        """Set :attr:`outputs` (those done before the stop) and return ``self``."""
        self.outputs = list(outputs)
        return self

    def describe(self) -> str:
        """Say where the analysis stopped and where the next run starts."""
        if self.frame <= 0:
            return (
                f"{self.video.name}: stopped; the same analysis starts it from its "
                "first frame"
            )
        return (
            f"{self.video.name}: stopped at frame {self.frame} of {self.total}; the "
            "same analysis resumes there"
        )


def stop_asked(stop_event: StopSignal | None) -> bool:
    """Return whether ``stop_event`` (a ``threading.Event`` or ``None``) is set.

    Examples
    --------
    >>> import threading
    >>> event = threading.Event()
    >>> stop_asked(None), stop_asked(event)
    (False, False)
    >>> event.set(); stop_asked(event)
    True
    """
    return stop_event is not None and bool(stop_event.is_set())


class PartialAnalysis:
    """The predictions of a serial analysis so far: a hidden file beside the output.

    ``.<video stem><scorer>.partial.npz`` holds the network's raw predictions for
    the frames analysed (whole batches) and a key: the video (path, size, time),
    the model (scorer, runtime file, precision), batch size, crop and scale (and
    the frame range of a chunk). A rerun with the same key resumes after them; any
    other key starts over. Written atomically (a temporary file, then
    ``os.replace``), removed when the ``.h5`` (or the chunk) is written.

    Parameters
    ----------
    path
        The file.
    key
        What the predictions were computed with (JSON-serialisable).
    every_s
        Seconds between saves (default :data:`CHECKPOINT_EVERY_S`).
    """

    def __init__(
        self, path: str | os.PathLike, key: dict, every_s: float | None = None
    ) -> None:
        import json

        self.path = Path(path)
        self.key = json.dumps(key, sort_keys=True, default=str)
        self.every_s = CHECKPOINT_EVERY_S if every_s is None else float(every_s)
        self.saved_frames = 0

    @classmethod
    def for_output(
        cls,
        output: Path,
        predictor: Predictor,
        video: Path,
        *,
        scale: float,
        crop: Crop | None,
        frames: tuple[int, int | None] = (0, None),
    ) -> PartialAnalysis:
        """Return the partial analysis of ``video`` into ``output`` by ``predictor``.

        ``frames`` is the ``(start, stop)`` range analysed into ``output`` (a chunk
        of a chunked analysis); the whole video by default.
        """
        stat = video.stat()
        model = getattr(predictor, "path", None)
        model_id = None
        if model is not None and Path(model).is_file():
            mstat = Path(model).stat()
            model_id = [str(model), mstat.st_size, mstat.st_mtime_ns]
        key = {
            "format": "posekit-partial/1",
            "output": output.name,
            "video": str(video.resolve()),
            "video_size": stat.st_size,
            "video_mtime_ns": stat.st_mtime_ns,
            "model": model_id,
            "runtime": type(predictor).__name__,
            "precision": getattr(predictor, "precision", "float32"),
            "batch_size": predictor.batch_size,
            "scale": float(scale),
            "crop": None if crop is None else [crop.x1, crop.x2, crop.y1, crop.y2],
        }
        if tuple(frames) != (0, None):  # (whole videos: the keys saved before)
            key["frames"] = [int(frames[0]), frames[1]]
        return cls(output.with_name(f".{output.stem}.partial.npz"), key)

    def load(self, batch_size: int) -> np.ndarray | None:
        """Return the saved raw predictions if their key is this one, else ``None``."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["key"]) != self.key:
                    logger.info(
                        "%s: computed with other options; starting over", self.path.name
                    )
                    return None
                xyp = np.array(data["xyp"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as err:
            logger.warning("%s is unreadable; starting over: %s", self.path, err)
            return None
        if len(xyp) % int(batch_size):
            return None  # not whole batches: never written so
        self.saved_frames = len(xyp)
        return xyp

    def save(self, results: list[np.ndarray]) -> None:
        """Save the raw predictions so far (``results`` is joined into one array)."""
        if len(results) > 1:
            results[:] = [np.concatenate(results)]
        xyp = results[0] if results else np.zeros((0, 0, 3), np.float32)
        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, xyp=xyp, key=np.str_(self.key))
        self.saved_frames = len(xyp)

    def remove(self) -> None:
        """Remove the file (the analysis is complete)."""
        self.path.unlink(missing_ok=True)


def check_stop(
    stop_event: StopSignal | None, video: Path, outputs: Sequence[Path] = ()
) -> None:
    """Raise :class:`AnalysisStopped` before ``video`` starts if a stop was asked.

    Parameters
    ----------
    stop_event
        The stop request, or ``None``.
    video
        The video (or folder) that was about to be analysed.
    outputs
        The outputs done before it.

    Raises
    ------
    AnalysisStopped
        If ``stop_event`` is set (frame 0: nothing of ``video`` was analysed).
    """
    if stop_asked(stop_event):
        raise AnalysisStopped(Path(video), 0, 0, None).with_outputs(outputs)


def _resumed(
    checkpoint: PartialAnalysis | None,
    batch_size: int,
    video: str | os.PathLike,
    start: int = 0,
) -> list[np.ndarray]:
    """Return ``[raw predictions]`` saved by an interrupted run, or ``[]``.

    ``start`` is the first frame of the range analysed (a chunk's): the log line
    names the video's frame where the analysis resumes.
    """
    found = checkpoint.load(batch_size) if checkpoint is not None else None
    if found is None:
        return []
    logger.warning(  # shown without -v: the bar starts part-way, say why
        "%s: resuming at frame %d (saved by an interrupted analysis)",
        Path(video).name,
        start + len(found),
    )
    return [found]


def _save_stopped(
    checkpoint: PartialAnalysis,
    results: list,
    video: str | os.PathLike,
    start: int = 0,
) -> None:
    """Save the whole batches analysed before an interruption; a rerun resumes there.

    ``start`` is the first frame of the range analysed (a chunk's), for the log.
    """
    with contextlib.suppress(Exception):
        checkpoint.save(results)
        logger.warning(
            "%s: analysis stopped at frame %d; the same command resumes there",
            Path(video).name,
            start + checkpoint.saved_frames,
        )


class _StopAsked(Exception):
    """Raised inside :func:`predict_video` when its ``stop_event`` is set."""


def _stopped(
    video: str | os.PathLike, checkpoint: PartialAnalysis | None, total: int
) -> AnalysisStopped:
    """Say where a stopped analysis is kept (after :func:`_save_stopped`)."""
    if checkpoint is not None and checkpoint.path.is_file():
        return AnalysisStopped(
            Path(video), checkpoint.saved_frames, total, checkpoint.path
        )
    return AnalysisStopped(Path(video), 0, total, None)


def _video_bar(
    progress: bool | Callable[[int, int], None],
    total: int,
    resumed: int,
    video: str | os.PathLike,
):
    """Return a tqdm bar for a video when ``progress`` is ``True``, else ``None``."""
    if progress is not True:
        return None
    from ._progress import progress_bar

    return progress_bar(
        max(total, 0), initial=resumed, unit="frames", desc=Path(video).name
    )


def _report(
    bar, progress: bool | Callable[[int, int], None], n: int, done: int, total: int
) -> None:
    """Move the bar by ``n`` frames, or tell ``progress(done, total)``."""
    if bar is not None:
        bar.update(n)
    elif callable(progress):
        progress(done, total)


def _end_at(bar, progress: bool | Callable[[int, int], None], done: int) -> None:
    """End the bar (or the callable's count) at ``done`` frames: 100 %."""
    if bar is not None:
        bar.total = done
        bar.refresh()
    elif callable(progress):
        progress(done, done)


def predict_video(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    scale: float = 1.0,
    crop: Crop | None = None,
    start: int = 0,
    stop: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
    backend: Literal["auto", "opencv", "ffmpeg"] = "auto",
    checkpoint: PartialAnalysis | None = None,
    stop_event: StopSignal | None = None,
) -> tuple[np.ndarray, dict]:
    """Predict keypoints for every decoded frame of a video.

    Parameters
    ----------
    predictor
        A :class:`Predictor`; its batch size sets the batching.
    video
        Video file.
    scale
        Resize factor applied to frames before inference (coordinates are mapped back
        to full-frame pixels).
    crop
        Analyse only this region (coordinates are reported in full-frame pixels).
    start, stop
        Frame range.
    progress
        ``True`` for a tqdm bar, or a callable ``progress(done, total)``.
    backend
        Video decoding (:meth:`~posekit.engine.video.VideoReader.iter_frames`):
        ``"auto"`` streams resized whole videos out of an ffmpeg process and uses
        OpenCV otherwise.
    checkpoint
        Save the predictions so far into this :class:`PartialAnalysis` every
        :attr:`~PartialAnalysis.every_s` seconds and when interrupted (Ctrl-C,
        SIGTERM, an error), and resume from the one saved by an interrupted run.
        Its key must name the frame range (:meth:`PartialAnalysis.for_output`'s
        ``frames``) when it is not the whole video. The frames after the resumed
        ones are decoded with OpenCV, which seeks exactly.
    stop_event
        A ``threading.Event`` another thread sets to stop the analysis: it is
        checked before each batch goes through the network. Once set, the whole
        batches so far are saved into ``checkpoint`` (as on Ctrl-C) and
        :class:`AnalysisStopped` is raised.

    Returns
    -------
    xyp : numpy.ndarray
        ``(n_frames, K, 3)``: x, y in full-frame pixels and likelihood.
    info : dict
        ``fps``, ``n_frames``, ``frame_dimensions``, ``seconds``, ``frames_per_second``,
        ``precision``; ``container_nframes`` (the container's frame count),
        ``frame_times`` (each frame's presentation time in seconds, ``None`` when
        not known for every frame: a resumed run) and ``truncated`` (a sentence when
        the video ends before its container says, else ``None``:
        :class:`~posekit.engine.video.StreamEnd`).

    Raises
    ------
    AnalysisStopped
        When ``stop_event`` was set (the partial batch being gathered is dropped;
        the next run decodes it again).
    """
    t0 = time.perf_counter()
    bs = predictor.batch_size
    results = _resumed(checkpoint, bs, video, start)
    resumed = len(results[0]) if results else 0
    first, start = start, start + resumed  # (resumed: 0 unless a run was cut)
    times: list[float] = []
    with VideoReader(video) as reader:
        total = (stop if stop is not None else reader.metadata_frames) - start + resumed
        bar = _video_bar(progress, total, resumed, video)
        batch: list[np.ndarray] = []
        done = resumed
        saved = time.monotonic()

        def flush() -> None:
            nonlocal done, saved
            if stop_asked(stop_event):  # whole batches only: this one is dropped
                raise _StopAsked
            results.append(_predict_batch(predictor, batch, results))
            done += len(batch)
            if (
                checkpoint is not None
                and time.monotonic() - saved >= checkpoint.every_s
            ):
                checkpoint.save(results)
                saved = time.monotonic()
            _report(bar, progress, len(batch), done, total)
            batch.clear()

        try:
            for _, frame in reader.iter_frames(
                start,
                stop,
                crop=crop,
                scale=scale,
                backend=backend,
                times=times,
                gaps=True,  # a corrupt part: empty rows, the later frames in place
            ):
                batch.append(frame)
                if len(batch) == bs:
                    flush()
            if batch:
                flush()
            if done != total:  # the container's count was an estimate
                _end_at(bar, progress, done)
        except BaseException as err:
            if bar is not None:
                bar.close()  # the bar's line ends before the log line
            if checkpoint is not None and done > resumed:
                _save_stopped(checkpoint, results, video, first)
            if isinstance(err, _StopAsked):
                raise _stopped(video, checkpoint, max(total, done)) from None
            raise
        finally:
            if bar is not None:
                bar.close()
        xyp = np.concatenate(results) if results else np.zeros((0, 0, 3))
        if len(xyp):
            to_frame_pixels(xyp, scale, crop)
        info = {
            **stream_info(reader, len(xyp), time.perf_counter() - t0),
            "precision": getattr(predictor, "precision", "float32"),
            # the frames analysed now (not those resumed): each one's time
            "frame_times": times if not resumed and len(times) == len(xyp) else None,
        }
    return xyp, info


def stream_info(reader: VideoReader, n_frames: int, seconds: float) -> dict:
    """Return what an analysis records of the video it read (its ``info``).

    ``fps``, ``n_frames``, ``frame_dimensions``, ``seconds``, ``frames_per_second``,
    ``container_nframes``, ``truncated`` (the sentence of a truncated or damaged
    video, else ``None``), ``missing_frames`` (``[first, end)`` of the frames
    lost in the middle: :attr:`~posekit.engine.video.VideoReader.missing_frames`,
    also in a range of the video that ends before the file does) and
    ``stream_end`` (the :class:`~posekit.engine.video.StreamEnd`, or ``None``
    where the frames read ended before the file).
    """
    end = reader.stream_end
    missing = reader.missing_frames
    if end is None and missing:  # a range (a chunk of the video): it did not end
        end = StreamEnd(n_frames, max(reader.metadata_frames, 0), False, "", missing)
    return {
        "fps": reader.fps,
        "n_frames": n_frames,
        "frame_dimensions": (reader.height, reader.width),
        "seconds": seconds,
        "frames_per_second": n_frames / seconds if seconds else float("nan"),
        "container_nframes": reader.metadata_frames,
        "truncated": end.describe() if end is not None and end.damaged else None,
        "missing_frames": [list(m) for m in missing],
        "stream_end": end,
    }


def _predict_batch(
    predictor: Predictor,
    batch: Sequence[np.ndarray | None],
    results: Sequence[np.ndarray],
) -> np.ndarray:
    """Predict a batch of frames; a frame that did not decode (``None``) gets NaN.

    ``results``: the batches before (a batch of lost frames takes their shape; the
    first of a stream that begins in a corrupt part of the video takes the
    predictor's ``num_keypoints``).
    """
    decoded = [f for f in batch if f is not None]
    xyp = predictor(np.stack(decoded)) if decoded else None
    if len(decoded) == len(batch):
        return xyp
    if xyp is not None or results:
        shape = (xyp if xyp is not None else results[-1]).shape[1:]
    else:
        shape = (predictor.num_keypoints, 3)
    rows = np.full((len(batch), *shape), np.nan, np.float32)
    if xyp is not None:
        rows[[i for i, f in enumerate(batch) if f is not None]] = xyp
    return rows


def to_frame_pixels(xyp: np.ndarray, scale: float, crop: Crop | None) -> np.ndarray:
    """Map keypoints of resized, cropped inputs back to the whole frame, in place.

    Parameters
    ----------
    xyp
        ``(..., 3)``: x, y in the network input's pixels, likelihood.
    scale
        The resize factor applied after the crop.
    crop
        The crop applied first, or ``None``.

    Returns
    -------
    numpy.ndarray
        ``xyp`` itself.
    """
    xyp[..., :2] /= scale
    if crop is not None:
        xyp[..., 0] += crop.x1
        xyp[..., 1] += crop.y1
    return xyp


#: Frames of at least this many pixels (1920×1080) analysed at full size get a hint
#: to use ``scale``: 3.6 frames/s at 1920×1080, 45 frames of 3840×2160 in 19 min
#: and 5.7 GB of memory (EfficientNet-Lite0, 2 busy cores).
SCALE_HINT_PIXELS = 1920 * 1080


def hint_large_frames(
    video: str | os.PathLike, size: tuple[int, int], scale: float
) -> None:
    """Suggest ``scale`` for a video of large frames analysed at full size.

    Parameters
    ----------
    video
        The video (named in the message).
    size
        Its frames' ``(height, width)``.
    scale
        The resize factor asked for (no hint unless 1).
    """
    height, width = size
    if scale != 1.0 or height * width < SCALE_HINT_PIXELS:
        return
    logger.warning(
        "%s has %d×%d frames: at full size the network needs up to seconds a "
        "frame on a CPU and gigabytes of memory. --scale 0.5 (scale=0.5) analyses "
        "a quarter of the pixels, about 4× faster; the animals then look half as "
        "large, which suits a network trained on frames where they look that size.",
        Path(video).name,
        width,
        height,
    )


class AnalysisOutputs(list):
    """The ``.h5`` files :func:`analyze_videos` wrote or found (a list of ``Path``).

    Attributes
    ----------
    skipped
        Outputs that were there already (analysed before with this network; not
        analysed again without ``overwrite``).
    failed
        Videos that could not be read or analysed → why (they were left out; the
        others were analysed).
    incomplete
        Videos that end before their container says (truncated or corrupt files)
        → where decoding stopped: their frames that decode were analysed, and the
        ``_meta.pickle`` says so (``truncated``). Those analysed now, and those
        analysed before (in ``skipped``, see :meth:`found_before`): a rerun of
        the batch says the same as its first run.
    """

    def __init__(
        self,
        paths: Sequence[Path] = (),
        *,
        skipped: Sequence[Path] = (),
        failed: dict[Path, str] | None = None,
        incomplete: dict[Path, str] | None = None,
    ) -> None:
        super().__init__(paths)
        self.skipped = list(skipped)
        self.failed = dict(failed or {})
        self.incomplete = dict(incomplete or {})

    def written(self, output: Path, video: str | os.PathLike) -> None:
        """Add an output written now; a truncated video goes into ``incomplete`` too."""
        from .io.dlc import analysis_metadata

        self.append(output)
        truncated = (analysis_metadata(output) or {}).get("truncated")
        if truncated:
            self.incomplete[Path(video)] = str(truncated)

    def found_before(self, outputs: Mapping[Path, str | os.PathLike]) -> None:
        """Put the outputs analysed before of truncated videos into ``incomplete``.

        Parameters
        ----------
        outputs
            Each output in ``skipped`` → its video. An output whose
            ``_meta.pickle`` says ``truncated`` (the video ends before its
            container says) adds its video to ``incomplete``, with that sentence.
        """
        from .io.dlc import analysis_metadata

        for output, video in outputs.items():
            truncated = (analysis_metadata(output) or {}).get("truncated")
            if truncated:
                self.incomplete[Path(video)] = str(truncated)

    def video_failed(self, video: str | os.PathLike, err: BaseException) -> None:
        """Record a video whose analysis failed (a warning says why); the batch goes on."""
        why = (
            f"{type(err).__name__}: {err}"
            if not isinstance(err, VideoError)
            else str(err)
        )
        logger.warning("%s is not analysed: %s (the other videos are)", video, why)
        self.failed[Path(video)] = why


@dataclass(frozen=True)
class AnalysisPlan:
    """What :func:`plan_analysis` found: the videos to analyse, done and unreadable.

    ``sizes`` holds the ``(height, width)`` of each video to analyse, read when it
    was checked (so that nobody opens it again for that).
    """

    todo: list[Path]
    skipped: list[Path]
    failed: dict[Path, str]
    sizes: dict[Path, tuple[int, int]]

    def outputs(self) -> AnalysisOutputs:
        """Start the batch's outputs: those analysed before, and the failures."""
        return AnalysisOutputs(self.skipped, skipped=self.skipped, failed=self.failed)


def plan_analysis(
    dests: Mapping[Path, str | os.PathLike | None],
    scorer: str,
    *,
    overwrite: bool = False,
    precision: str = "auto",
    suffix: str = "",
    model: Mapping[str, object] | None = None,
) -> AnalysisPlan:
    """Check a batch before analysing: clashing outputs, done and unreadable videos.

    Parameters
    ----------
    dests
        Each video → its output folder (``None``: beside it).
    scorer
        The network's scorer name (names the outputs).
    overwrite
        Analyse the videos that have an output already too.
    precision
        The precision asked for: a video analysed before at another precision
        (``"float32"`` or ``"int8"``, recorded in its ``_meta.pickle``) is analysed
        again; ``"auto"`` takes any.
    suffix
        What follows the scorer in the output's name: ``""`` for
        ``<video><scorer>.h5``, ``"_el"`` for a multi-animal analysis' tracks
        ``<video><scorer>_el.h5``.
    model
        The model that analyses now (``pose_cfg.yaml`` with ``iteration``, as
        given to :func:`analyze_video` as ``meta``). Two networks can have the same
        scorer name (two iterations trained to the same number of steps): an
        output whose ``_meta.pickle`` names another network
        (:func:`analysed_by_other_network`) is not skipped; it and its companions
        are moved into a subfolder first (:func:`set_aside_analysis`), and a
        warning says so. ``None``, or an output without a ``_meta.pickle`` (one
        DeepLabCut wrote), keeps the name as the test (DeepLabCut's).

    Returns
    -------
    AnalysisPlan

    Raises
    ------
    ValueError
        If two videos would write the same ``.h5``.
    VideoError
        If no video is left to analyse or found done, because none can be read.
    """
    by_output: dict[Path, list[Path]] = {}
    for video, dest in dests.items():
        out = Path(dest or video.parent) / f"{video.stem}{scorer}{suffix}.h5"
        by_output.setdefault(out, []).append(video)
    clashes = {out: vids for out, vids in by_output.items() if len(vids) > 1}
    if clashes:
        said = [
            f"{' and '.join(str(v) for v in vids)} would all be written to {out}"
            for out, vids in list(clashes.items())[:10]
        ]
        if len(clashes) > 10:
            said.append(f"and {len(clashes) - 10} more such clashes")
        raise ValueError(
            "; ".join(said) + ": analyse them into different folders (destfolder, "
            "--dest) or rename the videos. Nothing was analysed."
        )
    todo, skipped, failed, sizes = [], [], {}, {}
    for out, (video,) in by_output.items():
        if model is not None and out.is_file():
            set_aside_analysis(out.with_name(f"{video.stem}{scorer}"), model, video)
        if (
            out.is_file()
            and not overwrite
            and _same_precision(out, precision)
            and _complete(out, video)
        ):
            logger.info(
                "%s: analysed before with this network (%s); overwrite=True "
                "(--overwrite) analyses it again",
                video.name,
                out.name,
            )
            skipped.append(out)
            continue
        try:
            with VideoReader(video) as reader:
                sizes[video] = (reader.height, reader.width)
        except VideoError as err:
            failed[video] = str(err)
            continue
        todo.append(video)
    if failed:
        said = "; ".join(f"{v}: {why}" for v, why in failed.items())
        if not todo and not skipped:
            raise VideoError(f"No video can be read. {said}")
        logger.warning(
            "%d video(s) cannot be read and are left out (the others are analysed): %s",
            len(failed),
            said,
        )
    if skipped:
        logger.warning(
            "%d of %d video(s) were analysed before with this network and are not "
            "analysed again; to analyse them again, give --overwrite (posekit "
            "analyze) or overwrite=True (Python)",
            len(skipped),
            len(dests),
        )
    return AnalysisPlan(todo, skipped, failed, sizes)


#: Subfolder of an analysis' folder where :func:`set_aside_analysis` keeps the
#: outputs another network made under the same name.
PREVIOUS_ANALYSES_DIR = "previous-analyses"


def _network_of(config: Mapping[str, object]) -> tuple[int | None, str | None]:
    """Return a model's active-learning iteration and folder (``iteration-N/…/train``).

    ``config`` is a model's ``pose_cfg.yaml`` (with ``iteration (active-learning)``
    or ``iteration``, and ``snapshot_prefix``); ``None`` for what it lacks. The
    folder is compared by its last three parts, so that a project moved elsewhere
    keeps its networks.
    """
    iteration = config.get("iteration (active-learning)", config.get("iteration"))
    try:
        iteration = int(iteration) if iteration is not None else None
    except (TypeError, ValueError):
        iteration = None
    prefix = config.get("snapshot_prefix")
    folder = None
    if isinstance(prefix, str | os.PathLike) and str(prefix):
        parts = Path(str(prefix).replace("\\", "/")).parent.parts[-3:]
        folder = "/".join(parts) or None
    return iteration, folder


def analysed_by_other_network(
    output: str | os.PathLike, model: Mapping[str, object]
) -> str | None:
    """Which other network made an analysis, from its ``_meta.pickle``, or ``None``.

    Two networks of a project can have the same scorer name (DeepLabCut's
    ``DLC_<net>_<Task><date>shuffle<k>_<steps>`` names no iteration nor training
    fraction), so the output's name does not tell who made it. Its
    ``_meta.pickle`` does: ``iteration (active-learning)`` and the model's
    ``snapshot_prefix`` (in ``DLC-model-config file``).

    Parameters
    ----------
    output
        An analysis (``<video><scorer>.h5``, ``…_filtered.h5``, ``…_el.h5``, or the
        ``<video><scorer>`` it starts with).
    model
        The model's ``pose_cfg.yaml`` with its ``iteration`` (what
        :func:`analyze_video` gets as ``meta``).

    Returns
    -------
    str or None
        ``"iteration 0's network (iteration-0/demoJan1-trainset80shuffle1/train)"``
        when the ``_meta.pickle`` names another iteration or model folder; ``None``
        when it names this one, has neither, or is missing (an analysis DeepLabCut
        made: its name is all there is to compare).

    Examples
    --------
    >>> analysed_by_other_network("/nonexistent/vDLC_x_30.h5", {"iteration": 1}) is None
    True
    """
    other = _other_network(output, model)
    return None if other is None else other[0]


def _other_network(
    output: str | os.PathLike, model: Mapping[str, object]
) -> tuple[str, object] | None:
    """:func:`analysed_by_other_network`'s answer and the ``_meta.pickle``'s iteration.

    The ``_meta.pickle`` is read once for both.
    """
    from .io.dlc import analysis_metadata

    output = Path(output)
    if output.suffix != ".h5":
        output = output.with_name(f"{output.name}.h5")
    meta = analysis_metadata(output)
    if meta is None:
        return None
    made = meta.get("DLC-model-config file")
    made = dict(made) if isinstance(made, Mapping) else {}
    if "iteration (active-learning)" in meta:
        made["iteration (active-learning)"] = meta["iteration (active-learning)"]
    was, now = _network_of(made), _network_of(model)
    if all(a is None or b is None or a == b for a, b in zip(was, now, strict=True)):
        return None
    iteration, folder = was
    who = f"iteration {iteration}'s network" if iteration is not None else "a network"
    return who + (f" ({folder})" if folder else ""), meta.get(
        "iteration (active-learning)"
    )


def set_aside_analysis(
    base: str | os.PathLike,
    model: Mapping[str, object],
    video: str | os.PathLike | None = None,
) -> Path | None:
    """Move another network's same-named analysis out of the way, into a subfolder.

    When the ``_meta.pickle`` of ``<base>`` (``<folder>/<video stem><scorer>``)
    names another network than ``model`` (:func:`analysed_by_other_network`), every
    file of that analysis — those named ``<base>.…`` or ``<base>_…``: the ``.h5``,
    ``.csv``, ``.nc``, ``_meta.pickle``, ``_filtered`` files, labelled videos,
    multi-animal ``_full.pickle``/``_assemblies.pickle``/tracks — moves, names
    unchanged, into ``<folder>/previous-analyses/iteration-<N>/`` (``-2``, ``-3``…
    when that holds such a file already), so nothing is lost and the video is
    analysed again. A warning says what moved where.

    Parameters
    ----------
    base
        ``<folder>/<video stem><scorer>``.
    model
        The model that analyses now (as for :func:`analysed_by_other_network`).
    video
        The video (named in the warning).

    Returns
    -------
    Path or None
        The subfolder the files went to; ``None`` when nothing moved (the same
        network, or no ``_meta.pickle`` to tell).
    """
    base = Path(base)
    other = _other_network(base, model)
    if other is None:
        return None
    who, iteration = other
    name = base.name
    files = sorted(
        p
        for p in base.parent.iterdir()
        if p.is_file()
        and p.name.startswith(name)
        and p.name[len(name) : len(name) + 1] in (".", "_")
    )
    label = f"iteration-{iteration}" if iteration is not None else "another-network"
    root = base.parent / PREVIOUS_ANALYSES_DIR
    target, n = root / label, 1
    while any((target / p.name).exists() for p in files):
        n += 1
        target = root / f"{label}-{n}"
    target.mkdir(parents=True, exist_ok=True)
    for p in files:
        os.replace(p, target / p.name)
    logger.warning(
        "%s: %s.h5 was made by %s, not by the network analysing now (the same "
        "scorer name): analysing again; its %d file(s) were moved to %s",
        Path(video).name if video is not None else name,
        name,
        who,
        len(files),
        target,
    )
    return target


def _output_rows(path: str | os.PathLike) -> int:
    """Return the number of rows (frames) of a predictions ``.h5`` without reading it.

    Only the table's index is looked at (``nrows`` of a table, the shape of a
    fixed-format frame), so this is instant for any video length.

    Parameters
    ----------
    path
        A DeepLabCut ``.h5`` (any key: ``df_with_missing``, ``tracks``).

    Returns
    -------
    int

    Raises
    ------
    OSError, ValueError, KeyError
        The file is not an HDF5 file pandas wrote, or holds no table.
    """
    import pandas as pd

    with pd.HDFStore(path, mode="r") as store:
        keys = store.keys()
        if not keys:
            raise KeyError("it holds no table")
        key = "/df_with_missing" if "/df_with_missing" in keys else keys[0]
        storer = store.get_storer(key)
        rows = getattr(storer, "nrows", None)  # a table (DeepLabCut's format)
        if rows is None:  # a fixed-format frame: its index is "axis1"
            index = getattr(storer.group, "axis1", None)
            rows = len(index) if index is not None else len(store.get(key))
        return int(rows)


def _complete(output: Path, video: Path) -> bool:
    """Whether ``output`` holds a row for every frame of ``video`` (analysis done).

    An output cut short (an older posekit wrote a partial ``.h5`` when it was
    stopped) or unreadable is analysed again, with a log line that says why. The
    container's frame count is compared first (no decoding); only when it differs
    are the frames counted (the container can be wrong, and the analysis then
    wrote the frames that decode). A video that cannot be opened keeps its output.
    """
    try:
        rows = _output_rows(output)
    except Exception as err:  # noqa: BLE001 - any unreadable file is redone
        why = (
            "0 bytes" if output.stat().st_size == 0 else f"{type(err).__name__}: {err}"
        )
        logger.warning("%s cannot be read (%s): analysing again", output.name, why)
        return False
    from .io.dlc import analysis_metadata

    meta = analysis_metadata(output) or {}
    if meta.get("missing_frames") and rows == meta.get("nframes"):
        return True  # frames lost in the middle: their empty rows counted too
    try:
        with VideoReader(video) as reader:
            if rows == reader.expected_frames:
                return True
            frames = reader.n_frames  # the container disagrees: count them
    except VideoError:
        return True  # nothing to compare with: kept (the video is reported)
    if rows == frames:
        return True
    logger.warning("%s has %d of %d frames: analysing again", output.name, rows, frames)
    return False


def _same_precision(output: Path, precision: str) -> bool:
    """Whether an output was made at ``precision`` (``"auto"``: any)."""
    if precision == "auto":
        return True
    from .io.dlc import analysis_metadata

    meta = analysis_metadata(output)
    if meta is None:
        return False
    made = meta.get("precision", "float32")
    if made != precision:
        logger.info(
            "%s was made at %s precision: analysed again at %s",
            output.name,
            made,
            precision,
        )
    return made == precision


def video_metadata(
    info: dict,
    *,
    scorer: str,
    bodyparts: Sequence[str],
    batch_size: int,
    crop: Crop | None = None,
    scale: float = 1.0,
    model_config: dict | None = None,
    individuals: Sequence[str] | None = None,
    unique_bodyparts: Sequence[str] = (),
) -> dict:
    """Return the ``data`` of a ``<stem><scorer>_meta.pickle``, with DeepLabCut's keys.

    The keys are those DeepLabCut 3.0's PyTorch engine writes (``apis/videos.py``
    ``_generate_metadata``) and, where they differ, DeepLabCut 2's TensorFlow engine
    (``predict_videos.py``): ``start``, ``stop``, ``run_duration``, ``Scorer``,
    ``DLC-model-config file`` (the model's ``pose_cfg.yaml``, TensorFlow's key),
    ``fps``, ``batch_size``, ``frame_dimensions`` as ``(width, height)`` (DeepLabCut
    3's order; DeepLabCut 2 wrote ``(height, width)``), ``nframes``,
    ``iteration (active-learning)``, ``training set fraction``, ``cropping`` (bool),
    ``cropping_parameters`` ``[x1, x2, y1, y2]`` (the whole frame without a crop:
    ``create_labeled_video`` unpacks it), ``individuals``, ``bodyparts``,
    ``unique_bodyparts``; plus posekit's ``scale``, ``frames_per_second``,
    ``precision`` (``"float32"`` or ``"int8"``, the model that ran) and, when
    ``info`` has them, ``container_nframes``, ``truncated`` and (a variable frame
    rate) ``variable_frame_rate`` and ``frame_times`` (seconds from the first frame).

    Parameters
    ----------
    info
        What :func:`predict_video` returned (``fps``, ``n_frames``,
        ``frame_dimensions`` as ``(height, width)``, ``seconds``,
        ``frames_per_second``).
    scorer, bodyparts, batch_size
        The model's scorer name, bodyparts and the batch size used.
    crop, scale
        The crop and resize factor of the analysis.
    model_config
        The model's ``pose_cfg.yaml`` (with ``iteration`` and ``train_fraction``).
    individuals
        Individual names (default: DeepLabCut 3's single-animal
        ``["individual_1"]``).
    unique_bodyparts
        Unique bodyparts of a multi-animal model.

    Returns
    -------
    dict
        The metadata (pickled as ``{"data": ...}``).

    Examples
    --------
    >>> info = {"fps": 30.0, "n_frames": 10, "frame_dimensions": (480, 640),
    ...         "seconds": 1.0, "frames_per_second": 10.0}
    >>> m = video_metadata(info, scorer="DLC_x", bodyparts=["nose"], batch_size=8)
    >>> m["frame_dimensions"], m["cropping"], m["cropping_parameters"]
    ((640, 480), False, [0, 640, 0, 480])
    """
    config = dict(model_config or {})
    height, width = (int(v) for v in info["frame_dimensions"])
    stop = time.time()
    return {
        "start": stop - info["seconds"],
        "stop": stop,
        "run_duration": info["seconds"],
        "Scorer": scorer,
        "DLC-model-config file": config,
        "fps": info["fps"],
        "batch_size": batch_size,
        "frame_dimensions": (width, height),
        "nframes": info["n_frames"],
        "iteration (active-learning)": config.get(
            "iteration", config.get("iteration (active-learning)", 0)
        ),
        "training set fraction": config.get("train_fraction"),
        "cropping": crop is not None,
        "cropping_parameters": (
            [crop.x1, crop.x2, crop.y1, crop.y2] if crop else [0, width, 0, height]
        ),
        "individuals": list(individuals) if individuals else ["individual_1"],
        "bodyparts": list(bodyparts),
        "unique_bodyparts": list(unique_bodyparts),
        "scale": scale,
        "frames_per_second": info["frames_per_second"],
        "precision": info.get("precision", "float32"),
        **_timing_metadata(info),
    }


def _timing_metadata(info: dict) -> dict:
    """Return posekit's keys for a video's frame count and timing (``_meta.pickle``).

    ``container_nframes`` (what the container announced) and ``truncated`` (the
    sentence that says where decoding stopped or which frames did not decode, or
    ``None``), ``missing_frames`` (``[first, end)`` of each stretch in the middle
    that did not decode, left empty, if any); for a video whose
    frame intervals are irregular (:func:`~posekit.engine.video.frame_timing`),
    ``variable_frame_rate: True`` and ``frame_times``, each frame's time in
    seconds from the first frame (``fps`` stays the container's).
    """
    out: dict = {}
    if "container_nframes" in info:
        out["container_nframes"] = int(info["container_nframes"])
    if "truncated" in info:
        out["truncated"] = info["truncated"]
    if info.get("missing_frames"):  # [first, end) of each stretch left empty
        out["missing_frames"] = [list(map(int, m)) for m in info["missing_frames"]]
    times = _relative_times(info)
    if times is not None:
        out["variable_frame_rate"] = True
        out["frame_times"] = times
    return out


def _relative_times(info: dict) -> np.ndarray | None:
    """Each frame's time from the first frame, if the frame rate varies (else ``None``)."""
    from .video import frame_timing

    times = info.get("frame_times")
    if times is None or len(times) != info.get("n_frames") or not frame_timing(times):
        return None
    t = np.asarray(times, dtype=np.float64)
    first = t[np.isfinite(t)]
    return t - (first[0] if len(first) else 0.0)


def analyze_video(
    predictor: Predictor,
    video: str | os.PathLike,
    *,
    scorer: str,
    bodyparts: Sequence[str],
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    scale: float = 1.0,
    crop: Crop | None = None,
    meta: dict | None = None,
    progress: bool | Callable[[int, int], None] = True,
    netcdf: bool = False,
    backend: Literal["auto", "opencv", "ffmpeg"] = "auto",
    individuals: Sequence[str] | None = None,
    unique_bodyparts: Sequence[str] = (),
    resumable: bool = True,
    stop_event: StopSignal | None = None,
) -> Path:
    """Analyse one video and write ``<stem><scorer>.h5`` (+ ``.csv``, ``_meta.pickle``).

    One row per decoded frame, columns ``scorer/bodyparts/coords`` with
    ``x, y, likelihood``, key ``df_with_missing``, table format — what DeepLabCut,
    Anipose, SLEAP's importer and movement read.

    ``backend`` chooses the video decoding (:func:`predict_video`). ``individuals``
    and ``unique_bodyparts`` go into the ``_meta.pickle`` (:func:`video_metadata`).

    With ``resumable`` (default) the predictions so far are saved beside the output
    every :data:`CHECKPOINT_EVERY_S` seconds and when the analysis is interrupted
    (:class:`PartialAnalysis`); the next run with the same model and options
    resumes there ("resuming at frame k" in the log), and the file is removed once
    the ``.h5`` is written.

    ``stop_event`` (a ``threading.Event``) stops the analysis between two batches
    when another thread sets it: the predictions so far are saved as on Ctrl-C,
    no ``.h5`` is written, and :class:`AnalysisStopped` says where the next run
    resumes.

    Returns
    -------
    Path
        The ``.h5`` file.

    Raises
    ------
    AnalysisStopped
        When ``stop_event`` was set before the last batch.
    """
    video = Path(video)
    output = Path(destfolder or video.parent) / f"{video.stem}{scorer}.h5"
    partial = None
    if resumable:
        partial = PartialAnalysis.for_output(
            output, predictor, video, scale=scale, crop=crop
        )
    xyp, info = predict_video(
        predictor,
        video,
        scale=scale,
        crop=crop,
        progress=progress,
        backend=backend,
        checkpoint=partial,
        stop_event=stop_event,
    )
    out = save_video_analysis(
        xyp,
        info,
        video,
        scorer=scorer,
        bodyparts=bodyparts,
        batch_size=predictor.batch_size,
        destfolder=destfolder,
        save_as_csv=save_as_csv,
        scale=scale,
        crop=crop,
        meta=meta,
        netcdf=netcdf,
        individuals=individuals,
        unique_bodyparts=unique_bodyparts,
    )
    if partial is not None:
        partial.remove()
    return out


def _warn_variable_frame_rate(
    video: Path, info: dict, meta: dict, netcdf: bool
) -> None:
    """Say that a video's frame rate varies: times computed from ``fps`` are off."""
    if "frame_times" not in meta:
        return
    from .video import frame_timing

    timing = frame_timing(meta["frame_times"]) or {}
    logger.warning(
        "%s has a variable frame rate: frame intervals from %.0f to %.0f ms "
        "(median %.0f ms, %d irregular; %.3f frames/s on average, the container "
        "says %.3f). Times computed as frame / fps are approximate; each frame's "
        "time is saved in the _meta.pickle ('frame_times', seconds)%s.",
        video.name,
        timing.get("min_interval", 0) * 1000,
        timing.get("max_interval", 0) * 1000,
        timing.get("median_interval", 0) * 1000,
        timing.get("irregular", 0),
        timing.get("mean_fps", float("nan")),
        info["fps"],
        " and the netCDF ('frame_time')" if netcdf else "",
    )


def save_video_analysis(
    xyp: np.ndarray,
    info: dict,
    video: str | os.PathLike,
    *,
    scorer: str,
    bodyparts: Sequence[str],
    batch_size: int,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    scale: float = 1.0,
    crop: Crop | None = None,
    meta: dict | None = None,
    netcdf: bool = False,
    individuals: Sequence[str] | None = None,
    unique_bodyparts: Sequence[str] = (),
) -> Path:
    """Write the outputs of a video's analysis: ``.h5`` (+ ``.csv``), ``_meta.pickle``.

    :func:`analyze_video` calls it with what :func:`predict_video` returned; the
    distributed analysis (:mod:`posekit.engine.distributed`) with the chunks put
    together, so both write the same files.

    Parameters
    ----------
    xyp
        ``(n_frames, K, 3)`` in full-frame pixels.
    info
        ``fps``, ``n_frames``, ``frame_dimensions``, ``seconds``,
        ``frames_per_second`` (:func:`predict_video`).
    video
        The video analysed (names the outputs).
    scorer, bodyparts, batch_size, destfolder, save_as_csv, scale, crop, meta, netcdf, individuals, unique_bodyparts
        As for :func:`analyze_video`.

    Returns
    -------
    Path
        The ``.h5`` file.
    """
    video = Path(video)
    dest = Path(destfolder) if destfolder else video.parent
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{video.stem}{scorer}.h5"
    df = predictions_frame(xyp, scorer, bodyparts)
    write_predictions(df, out, save_csv=save_as_csv)
    meta_data = video_metadata(
        info,
        scorer=scorer,
        bodyparts=bodyparts,
        batch_size=batch_size,
        crop=crop,
        scale=scale,
        model_config=meta,
        individuals=individuals,
        unique_bodyparts=unique_bodyparts,
    )
    write_analysis_metadata(dest / f"{video.stem}{scorer}_meta.pickle", meta_data)
    _warn_variable_frame_rate(video, info, meta_data, netcdf)
    if netcdf:
        from .io import load_poses, save_poses

        ds = load_poses(out, fps=info["fps"])
        if "frame_times" in meta_data:  # the time coordinate stays frame / fps
            ds["frame_time"] = ("time", meta_data["frame_times"])
            ds["frame_time"].attrs.update(
                units="seconds",
                long_name="the frame's presentation time in the video, from its "
                "first frame (variable frame rate)",
            )
        save_poses(ds, out.with_suffix(".nc"), fmt="netCDF")
    logger.info(
        "analysed %s: %d frames in %.1f s (%.0f frames/s) -> %s",
        video.name,
        info["n_frames"],
        info["seconds"],
        info["frames_per_second"],
        out,
    )
    return out
