"""int8 inference: calibration frames, the float-vs-int8 agreement check and its record.

A TFLite model can be quantized after training to full integer (int8 weights *and*
activations; :func:`posekit.engine.inference.convert_to_tflite` with
``representative_frames``). On CPU it runs up to about 2× faster than float32
(``docs/guides/many_videos.md``), and it is only worth it if it gives the user the
same keypoints as the float network they evaluated. This module decides that, per
snapshot and frame size, on the project's own labelled frames:

- the *calibration* frames (the training split, those of the analysed frame size
  first) set the int8 ranges;
- the *check* frames (all labelled frames, training and test, those of the analysed
  frame size first: :meth:`LabelledFrames.check_sample`) are predicted with the float
  and the int8 model at the analysis size, and the two predictions are compared
  with each other (:class:`Agreement`, no labels needed): how far the points move
  (median and tail) and how many cross the project's ``pcutoff``;
- ``precision="auto"`` takes int8 only when it agrees with float within
  :data:`THRESHOLDS` (:func:`decide`) on at least ``min_frames`` frames.

The test error of both models (on the test split) is recorded too, for the model
card, but does not decide: on a handful of test frames the difference of two errors
is noise (QA s17: int8 "0.69 px better" on 8 frames, 0.36 px worse on the video),
while the disagreement itself is measured on every labelled point and is what the
user's files would show.

:class:`QuantizationReport` records what was measured and the choice; the model
folder (:meth:`posekit.engine.model_folder.ModelFolder.tflite_model`) writes it as
JSON beside the cached ``.tflite`` files and reads it back, so the check runs once
per snapshot and frame size; :func:`announce` says the choice in one line per
network and frame size on the :data:`PRECISION_LOGGER` (``posekit analyze`` prints
it). No TensorFlow is imported here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._fileio import atomic_write_text

if TYPE_CHECKING:
    from .dataset import TrainingSet

__all__ = [
    "DEFAULT_PCUTOFF",
    "MAX_CALIBRATION_FRAMES",
    "MAX_CHECK_FRAMES",
    "MAX_TEST_FRAMES",
    "PRECISIONS",
    "PRECISION_LOGGER",
    "RULE",
    "THRESHOLDS",
    "Agreement",
    "LabelledFrames",
    "OutdatedReport",
    "QuantizationReport",
    "Thresholds",
    "announce",
    "check_precision",
    "compare",
    "decide",
    "mean_error_px",
    "precision_line",
]

#: At most this many frames calibrate (the analysed frame size's first).
MAX_CALIBRATION_FRAMES = 64

#: At most this many labelled frames compare int8 with float (evenly spaced, those
#: of the analysed frame size first), so that the check reads a bounded number of
#: images however large the project.
MAX_CHECK_FRAMES = 200

#: At most this many test frames give the recorded test errors (evenly spaced).
MAX_TEST_FRAMES = 200

#: ``pcutoff`` when the frames come without a project (DeepLabCut's default).
DEFAULT_PCUTOFF = 0.6

#: The values of ``precision``: ``"auto"`` chooses by :data:`THRESHOLDS`.
PRECISIONS = ("auto", "float32", "int8")

#: The rule of the reports made here; a report made by another rule (the test
#: error within 0.2 px on the test frames, before QA s17) is checked again.
RULE = "agreement/1"

#: The logger of the one-line precision decisions (``posekit analyze`` prints them).
PRECISION_LOGGER = "posekit.engine.quantization"

logger = logging.getLogger(PRECISION_LOGGER)


@dataclass(frozen=True)
class Thresholds:
    """How closely int8 must agree with float for ``precision="auto"`` to take it.

    Measured on the openfield models (MobileNetV2-0.35, both splits), int8 moves
    the points by a median 0.44-0.50 px, 1-3 % of them by more than 2 px, and
    0.4-0.9 % of the points cross pcutoff 0.4 with a likelihood change above 0.1,
    on the labelled frames and on the whole video alike. On the QA s17 side-view
    models (EfficientNet-Lite0, 2.5 min of training) int8 moved the points by a
    median 1.5-2.1 px, 35-50 % by more than 2 px, and 3-12 % crossed pcutoff: 0.27-
    0.36 px worse on one camera's video. The limits sit between the two with a
    margin of about 1.5× on each side. A random shift of median ``s`` adds roughly
    ``s² / (2 e)`` to a mean error ``e``: 0.75 px adds 0.06-0.14 px to errors of
    2-5 px.

    Attributes
    ----------
    max_median_shift_px
        The median distance between the float and int8 position of a point (of
        the points either model finds with likelihood ≥ pcutoff), in the frame's
        pixels.
    tail_px, max_tail_share
        At most this share of those points may move more than ``tail_px``.
    likelihood_margin, max_crossing_share
        At most this share of all points may cross pcutoff (likelihood on the other
        side in int8) *and* change their likelihood by more than
        ``likelihood_margin``: a point whose likelihood moves by 0.02 across pcutoff
        sat on it in float too (the openfield models' likelihoods pile up near 0.8:
        pcutoff 0.8 would count 6-9 % such crossings, almost none by more than 0.1).
    min_frames
        Fewer check frames than this decide float32 (20 frames are 40-100 points
        for 2-5 bodyparts: one point is at most 2.5 % of them).
    """

    max_median_shift_px: float = 0.75
    tail_px: float = 2.0
    max_tail_share: float = 0.05
    likelihood_margin: float = 0.1
    max_crossing_share: float = 0.02
    min_frames: int = 20

    def to_dict(self) -> dict[str, float]:
        """Return a JSON-ready dict."""
        return asdict(self)


#: The thresholds :func:`decide` applies by default.
THRESHOLDS = Thresholds()


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`.

    Raises
    ------
    ValueError
        Any other value.

    Examples
    --------
    >>> check_precision("int8")
    'int8'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}. Received: precision={precision!r}"
        )
    return precision


def mean_error_px(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean Euclidean distance over the labelled keypoints (DeepLabCut's "RMSE").

    Parameters
    ----------
    predicted
        ``(N, K, 2+)``: x, y first.
    truth
        ``(N, K, 2)``, NaN where a keypoint is not labelled.

    Returns
    -------
    float
        NaN when nothing is labelled.

    Examples
    --------
    >>> mean_error_px(np.array([[[3.0, 4.0, 0.9]]]), np.zeros((1, 1, 2)))
    5.0
    """
    dist = np.linalg.norm(
        np.asarray(predicted, float)[..., :2] - np.asarray(truth, float), axis=-1
    )
    finite = dist[np.isfinite(dist)]
    return float(finite.mean()) if finite.size else float("nan")


def _evenly(indices: Sequence[int], k: int) -> list[int]:
    """At most ``k`` of ``indices``, evenly spaced (all of them when they are fewer)."""
    idx = list(indices)
    if len(idx) <= k:
        return idx
    pick = np.unique(np.linspace(0, len(idx) - 1, k).round().astype(int))
    return [idx[int(j)] for j in pick]


def _same_aspect(shape: tuple[int, int], frame_shape: tuple[int, int]) -> bool:
    """Whether a frame of ``shape`` is the analysed ``frame_shape``, perhaps scaled."""
    h, w = shape
    fh, fw = frame_shape
    return h > 0 and w > 0 and abs((h / w) / (fh / fw) - 1.0) <= 0.02


@dataclass(frozen=True)
class LabelledFrames:
    """Labelled frames that calibrate an int8 model and check it against float.

    Attributes
    ----------
    images
        RGB ``uint8`` frames (sizes may differ). An
        :class:`~posekit.engine._image_cache.ImageList` gives their sizes from the
        file headers; another sequence is indexed for them.
    keypoints
        ``(N, K, 2)`` in each frame's pixels, NaN where not labelled.
    calibration
        Indices of the frames that calibrate (the training split).
    test
        Indices of the frames the test errors are measured on (the test split; the
        training frames when the project has no test split).
    source
        Where the frames come from, for the record.
    pcutoff
        The project's likelihood cut-off: the check counts the points int8 moves
        across it.
    """

    images: Sequence[np.ndarray]
    keypoints: np.ndarray
    calibration: tuple[int, ...]
    test: tuple[int, ...]
    source: str = ""
    pcutoff: float = DEFAULT_PCUTOFF

    def __post_init__(self) -> None:
        if len(self.images) != len(self.keypoints):
            raise ValueError(
                f"{len(self.images)} images but {len(self.keypoints)} rows of "
                "keypoints: give one row of keypoints per image."
            )
        if not self.calibration:
            raise ValueError(
                "No calibration frames: int8 quantization needs labelled frames."
            )
        if not 0.0 <= float(self.pcutoff) <= 1.0:
            raise ValueError(
                f"pcutoff is a likelihood between 0 and 1. Received: "
                f"pcutoff={self.pcutoff!r}"
            )

    @classmethod
    def from_training_set(
        cls, ts: TrainingSet, source: str = "", pcutoff: float | None = None
    ) -> LabelledFrames:
        """Use a shuffle's split: training frames calibrate, all frames check.

        Parameters
        ----------
        ts
            A :class:`~posekit.engine.dataset.TrainingSet`.
        source
            Where it comes from (e.g. the project folder and shuffle).
        pcutoff
            The project's ``pcutoff`` (default :data:`DEFAULT_PCUTOFF`).

        Returns
        -------
        LabelledFrames
        """
        train = tuple(int(i) for i in ts.train_indices)
        test = tuple(int(i) for i in ts.test_indices)
        if not train:  # everything is in the test split: calibrate on it
            train = test
        return cls(
            ts.images,
            ts.keypoints,
            train,
            test or train,
            source,
            DEFAULT_PCUTOFF if pcutoff is None else float(pcutoff),
        )

    @property
    def test_split(self) -> str:
        """``"test"``, or ``"train"`` when the errors are measured on training frames."""
        return "train" if set(self.test) <= set(self.calibration) else "test"

    @cached_property
    def shapes(self) -> list[tuple[int, int]]:
        """``(height, width)`` of every frame (from the file headers when it can)."""
        from_header = getattr(self.images, "shape", None)
        if callable(from_header):
            return [tuple(from_header(i)[:2]) for i in range(len(self.images))]
        return [tuple(np.shape(img)[:2]) for img in self.images]

    def _of_size_first(
        self,
        indices: Sequence[int],
        frame_shape: tuple[int, int],
        k: int,
        fill_to: int | None = None,
    ) -> list[int]:
        """At most ``k`` of ``indices``: the analysed size's first, then the others.

        Frames of the analysed frame's aspect ratio (that size, or scaled as
        ``--scale`` scales) are taken first, evenly spaced; frames of other sizes
        (resized, so squashed or stretched) fill up to ``fill_to`` (default ``k``)
        when those are fewer.
        """
        same = [i for i in indices if _same_aspect(self.shapes[i], frame_shape)]
        other = [i for i in indices if not _same_aspect(self.shapes[i], frame_shape)]
        picked = _evenly(same, k)
        room = min(k, k if fill_to is None else fill_to) - len(picked)
        return picked + _evenly(other, room) if room > 0 else picked

    def frames_of_size(
        self, indices: Sequence[int], frame_shape: tuple[int, int]
    ) -> int:
        """How many of ``indices`` have the analysed frame's aspect ratio."""
        return sum(_same_aspect(self.shapes[i], frame_shape) for i in indices)

    def resized(
        self, indices: Sequence[int], frame_shape: tuple[int, int]
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Frames resized to ``frame_shape`` as video analysis resizes them.

        Parameters
        ----------
        indices
            Which frames.
        frame_shape
            ``(height, width)`` the network sees.

        Returns
        -------
        frames : list of numpy.ndarray
            ``(height, width, 3)`` uint8 (OpenCV area interpolation).
        keypoints : numpy.ndarray
            ``(n, K, 2)`` in the frames' own pixels.
        factors : numpy.ndarray
            ``(n, 2)``: x and y resize factors (analysis pixels per frame pixel).
        """
        import cv2

        h, w = int(frame_shape[0]), int(frame_shape[1])
        frames, factors = [], []
        for i in indices:
            img = np.asarray(self.images[i])
            fh, fw = img.shape[:2]
            if (fh, fw) != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(img, dtype=np.uint8))
            factors.append((w / fw, h / fh))
        keypoints = np.asarray(self.keypoints, float)[list(indices)]
        return frames, keypoints, np.asarray(factors, float).reshape(-1, 2)

    def calibration_sample(self, frame_shape: tuple[int, int]) -> list[int]:
        """Return the calibration frames' indices (at most 64, this size's first)."""
        return self._of_size_first(
            self.calibration, frame_shape, MAX_CALIBRATION_FRAMES
        )

    def calibration_frames(self, frame_shape: tuple[int, int]) -> list[np.ndarray]:
        """Return the :meth:`calibration_sample` frames, resized."""
        return self.resized(self.calibration_sample(frame_shape), frame_shape)[0]

    def check_sample(
        self, frame_shape: tuple[int, int], minimum: int | None = None
    ) -> list[int]:
        """Return the indices of the frames int8 is compared with float on.

        The labelled frames of the analysed frame's aspect ratio, training and test
        (the comparison needs no labels), at most :data:`MAX_CHECK_FRAMES`; when
        they are fewer than ``minimum`` (default ``THRESHOLDS.min_frames``), frames
        of other sizes, resized, fill up to it.
        """
        everything = sorted({*self.calibration, *self.test})
        fill_to = THRESHOLDS.min_frames if minimum is None else int(minimum)
        return self._of_size_first(everything, frame_shape, MAX_CHECK_FRAMES, fill_to)

    @property
    def test_sample(self) -> tuple[int, ...]:
        """The test frames measured: at most :data:`MAX_TEST_FRAMES`, evenly spaced."""
        return tuple(_evenly(self.test, MAX_TEST_FRAMES))

    def test_error_px(
        self, predictor: Callable[[list[np.ndarray]], np.ndarray], frame_shape
    ) -> float:
        """Mean error of ``predictor`` on the test frames at ``frame_shape``.

        Predictions are mapped back to each frame's own pixels before they are
        compared with the labels.
        """
        frames, truth, factors = self.resized(self.test_sample, frame_shape)
        predicted = np.asarray(predictor(frames), float)[..., :2]
        predicted = predicted / factors[:, None, :]
        return mean_error_px(predicted, truth)


@dataclass(frozen=True)
class Agreement:
    """How closely the int8 predictions follow the float ones (no labels involved).

    Attributes
    ----------
    frames
        Frames compared.
    frames_of_size
        Of those, the frames of the analysed frame's aspect ratio (the others were
        resized from another camera's size).
    points
        Points compared (frames × bodyparts).
    confident_points
        Points that either model finds with likelihood ≥ ``pcutoff``: those the
        position statistics are over (all points when there are none).
    pcutoff
        The likelihood cut-off.
    median_shift_px
        Median distance between a point's float and int8 positions (frame pixels).
    tail_px, tail_share
        Share of the confident points int8 moves more than ``tail_px``.
    max_shift_px
        The largest such distance.
    crossings
        Points whose likelihood is on the other side of ``pcutoff`` in int8.
    clear_crossings, likelihood_margin
        Of those, the points whose likelihood changed by more than
        ``likelihood_margin``.
    max_likelihood_change
        The largest change of a likelihood.
    """

    frames: int
    frames_of_size: int
    points: int
    confident_points: int
    pcutoff: float
    median_shift_px: float
    tail_px: float
    tail_share: float
    max_shift_px: float
    crossings: int
    clear_crossings: int
    likelihood_margin: float
    max_likelihood_change: float

    @classmethod
    def measure(
        cls,
        float_pred: np.ndarray,
        int8_pred: np.ndarray,
        *,
        pcutoff: float = DEFAULT_PCUTOFF,
        frames_of_size: int | None = None,
        thresholds: Thresholds | None = None,
    ) -> Agreement:
        """Compare two predictions of the same frames.

        Parameters
        ----------
        float_pred, int8_pred
            ``(N, K, 3)``: x, y (frame pixels), likelihood.
        pcutoff
            The likelihood cut-off.
        frames_of_size
            How many of the ``N`` frames have the analysed size (default: all).
        thresholds
            Their ``tail_px`` and ``likelihood_margin`` are used (default
            :data:`THRESHOLDS`).

        Returns
        -------
        Agreement

        Examples
        --------
        >>> f = np.array([[[10.0, 10.0, 0.9], [20.0, 20.0, 0.55]]])
        >>> q = np.array([[[10.0, 13.0, 0.9], [20.0, 20.0, 0.30]]])
        >>> a = Agreement.measure(f, q, pcutoff=0.5)
        >>> a.median_shift_px, a.tail_share, a.crossings, a.clear_crossings
        (1.5, 0.5, 1, 1)
        """
        t = thresholds or THRESHOLDS
        a = np.asarray(float_pred, float)
        b = np.asarray(int8_pred, float)
        if a.shape != b.shape or a.ndim != 3 or a.shape[-1] < 3:
            raise ValueError(
                "float_pred and int8_pred must be (N, K, 3) arrays of the same "
                f"shape. Received: {a.shape} and {b.shape}"
            )
        shift = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
        pa, pb = a[..., 2], b[..., 2]
        ok = np.isfinite(shift) & np.isfinite(pa) & np.isfinite(pb)
        confident = ok & ((pa >= pcutoff) | (pb >= pcutoff))
        over = shift[confident] if confident.any() else shift[ok]
        change = np.abs(pa - pb)
        crossed = ok & ((pa >= pcutoff) != (pb >= pcutoff))
        n = int(a.shape[0])
        return cls(
            frames=n,
            frames_of_size=n if frames_of_size is None else int(frames_of_size),
            points=int(ok.sum()),
            confident_points=int(confident.sum()),
            pcutoff=float(pcutoff),
            median_shift_px=float(np.median(over)) if over.size else float("nan"),
            tail_px=float(t.tail_px),
            tail_share=float((over > t.tail_px).mean()) if over.size else float("nan"),
            max_shift_px=float(over.max()) if over.size else float("nan"),
            crossings=int(crossed.sum()),
            clear_crossings=int((crossed & (change > t.likelihood_margin)).sum()),
            likelihood_margin=float(t.likelihood_margin),
            max_likelihood_change=float(change[ok].max()) if ok.any() else 0.0,
        )

    @property
    def crossing_share(self) -> float:
        """Clear crossings per point."""
        return self.clear_crossings / self.points if self.points else float("nan")

    def describe(self) -> str:
        """Say the measurements in a few words.

        Examples
        --------
        >>> Agreement(40, 20, 200, 150, 0.5, 0.44, 2.0, 0.013, 3.1, 3, 1, 0.1,
        ...           0.3).describe()
        '40 frames (20 of this size): median shift 0.44 px, 1.3% of points moved > 2 px, 3 of 200 points cross pcutoff 0.5 (1 by > 0.1)'
        """
        return f"{self.frames_phrase()}: {self.measurements()}"

    def measurements(self) -> str:
        """Return the shift and crossing figures of :meth:`describe`."""
        return (
            f"median shift {self.median_shift_px:.2f} px, "
            f"{100 * self.tail_share:.1f}% of points moved > {self.tail_px:g} px, "
            f"{self.crossings} of {self.points} points cross pcutoff "
            f"{self.pcutoff:g} ({self.clear_crossings} by > "
            f"{self.likelihood_margin:g})"
        )

    def frames_phrase(self) -> str:
        """Return ``"N frames"``, with how many are of the analysed size if not all."""
        if self.frames_of_size == self.frames:
            return f"{self.frames} frames"
        return f"{self.frames} frames ({self.frames_of_size} of this size)"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def decide(
    agreement: Agreement | None, thresholds: Thresholds | None = None
) -> tuple[str, list[str]]:
    """Choose int8 or float32 from an :class:`Agreement`, with the reasons against.

    Parameters
    ----------
    agreement
        What the check measured; ``None``: nothing to check with.
    thresholds
        The limits (default :data:`THRESHOLDS`).

    Returns
    -------
    chosen : str
        ``"int8"`` when every limit holds, else ``"float32"``.
    reasons : list of str
        Each limit int8 failed, in words (empty for int8).

    Examples
    --------
    >>> close = Agreement(40, 40, 200, 160, 0.5, 0.4, 2.0, 0.01, 2.5, 2, 0, 0.1, 0.2)
    >>> decide(close)
    ('int8', [])
    >>> far = replace(close, median_shift_px=1.9, clear_crossings=9)
    >>> decide(far)[1]
    ['median shift 1.90 px > 0.75 px', '9 of 200 points cross pcutoff 0.5 by > 0.1 (4.5% > 2%)']
    """
    t = thresholds or THRESHOLDS
    if agreement is None:
        return "float32", ["no labelled frames to check int8 against"]
    reasons = []
    if agreement.frames < t.min_frames:
        reasons.append(
            f"only {agreement.frames} labelled frames to check on "
            f"({t.min_frames} needed)"
        )
    if not agreement.median_shift_px <= t.max_median_shift_px:
        reasons.append(
            f"median shift {agreement.median_shift_px:.2f} px > "
            f"{t.max_median_shift_px:g} px"
        )
    if not agreement.tail_share <= t.max_tail_share:
        reasons.append(
            f"{100 * agreement.tail_share:.1f}% of points moved > "
            f"{agreement.tail_px:g} px (> {100 * t.max_tail_share:g}%)"
        )
    if not agreement.crossing_share <= t.max_crossing_share:
        reasons.append(
            f"{agreement.clear_crossings} of {agreement.points} points cross pcutoff "
            f"{agreement.pcutoff:g} by > {agreement.likelihood_margin:g} "
            f"({100 * agreement.crossing_share:.1f}% > {100 * t.max_crossing_share:g}%)"
        )
    return ("float32", reasons) if reasons else ("int8", [])


class OutdatedReport(ValueError):
    """A decision file made by an older rule: int8 is checked again."""


@dataclass(frozen=True)
class QuantizationReport:
    """What the int8 model was compared with, and which precision ``auto`` runs.

    Attributes
    ----------
    chosen
        ``"int8"`` when int8 agrees with float within :attr:`thresholds`
        (:func:`decide`), else ``"float32"``.
    reasons
        Why not int8 (empty when it was chosen).
    agreement
        The float-vs-int8 comparison on the check frames.
    thresholds
        The limits applied.
    frame_shape, batch_size
        What the models were converted for.
    calibration_frames
        How many frames calibrated.
    float_test_error_px, int8_test_error_px
        Mean error (Euclidean distance, DeepLabCut's "RMSE") of each model on the
        test frames: recorded, not used to decide.
    test_frames, test_split
        How many frames those errors are over; ``"test"``, or ``"train"`` when the
        project had no test frames.
    snapshot
        The snapshot file the models come from.
    source
        Where the labelled frames came from.
    rule
        :data:`RULE` when the report was made.
    """

    chosen: str
    reasons: tuple[str, ...]
    agreement: Agreement
    thresholds: Thresholds
    frame_shape: tuple[int, int]
    batch_size: int
    calibration_frames: int
    float_test_error_px: float
    int8_test_error_px: float
    test_frames: int
    test_split: str
    snapshot: str
    source: str = ""
    rule: str = RULE

    @property
    def difference_px(self) -> float:
        """int8's test error minus float's (pixels)."""
        return self.int8_test_error_px - self.float_test_error_px

    def redecided(self, thresholds: Thresholds) -> QuantizationReport:
        """Return the same measurements decided with other ``thresholds``."""
        chosen, reasons = decide(self.agreement, thresholds)
        return replace(
            self, chosen=chosen, reasons=tuple(reasons), thresholds=thresholds
        )

    def summary(self) -> str:
        """One line: the choice and what it rests on.

        Examples
        --------
        >>> a = Agreement(40, 40, 200, 160, 0.5, 0.4, 2.0, 0.01, 2.5, 2, 0, 0.1, 0.2)
        >>> r = QuantizationReport("int8", (), a, Thresholds(), (480, 640), 1, 34,
        ...                        2.5, 2.6, 6, "test", "snapshot-10.keras")
        >>> r.summary()
        'int8: agrees with float on 40 frames: median shift 0.40 px, 1.0% of points moved > 2 px, 2 of 200 points cross pcutoff 0.5 (0 by > 0.1); test error int8 2.60 px, float32 2.50 px on 6 test frames'
        """
        if self.chosen == "int8":
            head = f"int8: agrees with float on {self.agreement.describe()}"
        else:
            head = (
                f"float32: int8 disagreed with float on "
                f"{self.agreement.frames_phrase()} ({'; '.join(self.reasons)})"
            )
        return (
            f"{head}; test error int8 {self.int8_test_error_px:.2f} px, float32 "
            f"{self.float_test_error_px:.2f} px on {self.test_frames} "
            f"{self.test_split} frames"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (with ``difference_px``)."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        data["frame_shape"] = list(self.frame_shape)
        data["difference_px"] = self.difference_px
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizationReport:
        """Rebuild a report from :meth:`to_dict`.

        Raises
        ------
        OutdatedReport
            ``data`` was made by another rule than :data:`RULE`.
        KeyError, TypeError
            Fields are missing or have the wrong type.
        """
        rule = data.get("rule")
        if rule != RULE:
            how = (
                f"test error within {data['tolerance_px']:g} px of float's on "
                f"{data.get('test_frames', '?')} frames"
                if "tolerance_px" in data
                else f"rule {rule!r}"
            )
            raise OutdatedReport(
                f"decided by an older rule ({how}; it chose {data.get('chosen', '?')}): "
                "int8 is compared with float again"
            )
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["frame_shape"] = tuple(int(v) for v in fields["frame_shape"])
        fields["reasons"] = tuple(str(r) for r in fields["reasons"])
        fields["agreement"] = Agreement(**fields["agreement"])
        fields["thresholds"] = Thresholds(**fields["thresholds"])
        return cls(**fields)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike) -> QuantizationReport:
        """Read a report written by :meth:`write`.

        A report whose thresholds are not :data:`THRESHOLDS` is decided again from
        its measurements (and rewritten when the folder can be written).

        Raises
        ------
        OutdatedReport
            The report was made by an older rule (its measurements do not fit this
            one): make it again.
        ValueError
            The file is not such a report.
        """
        try:
            report = cls.from_dict(json.loads(Path(path).read_text()))
        except OutdatedReport:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path} is not a quantization report: {exc}") from exc
        if report.thresholds != THRESHOLDS:
            report = report.redecided(THRESHOLDS)
            with contextlib.suppress(OSError):  # read-only: decided here each time
                report.write(path)
        return report


def compare(
    frames: LabelledFrames,
    float_predictor: Callable[[list[np.ndarray]], np.ndarray],
    int8_predictor: Callable[[list[np.ndarray]], np.ndarray],
    frame_shape: tuple[int, int],
    *,
    batch_size: int,
    snapshot: str,
    thresholds: Thresholds | None = None,
) -> QuantizationReport:
    """Compare an int8 model with float on labelled frames and decide.

    Both models predict the :meth:`~LabelledFrames.check_sample` frames (and the
    test frames, for the recorded errors) resized to ``frame_shape``, as video
    analysis resizes them; positions are compared in each frame's own pixels.

    Parameters
    ----------
    frames
        The labelled frames (their ``pcutoff`` too).
    float_predictor, int8_predictor
        ``predictor(list of (H, W, 3) uint8) -> (N, K, 3)``.
    frame_shape
        ``(height, width)`` the network sees.
    batch_size
        The models' batch size, for the record.
    snapshot
        The snapshot file's name, for the record.
    thresholds
        The limits (default :data:`THRESHOLDS`).

    Returns
    -------
    QuantizationReport
    """
    t = thresholds or THRESHOLDS
    check = frames.check_sample(frame_shape, t.min_frames)
    test = list(frames.test_sample)
    order = list(dict.fromkeys([*check, *test]))
    where = {i: j for j, i in enumerate(order)}
    images, truth, factors = frames.resized(order, frame_shape)
    pred = {}
    for name, predictor in (("float32", float_predictor), ("int8", int8_predictor)):
        out = np.array(predictor(images), float)
        out[..., :2] /= factors[:, None, :]  # the frames' own pixels
        pred[name] = out
    c = [where[i] for i in check]
    agreement = Agreement.measure(
        pred["float32"][c],
        pred["int8"][c],
        pcutoff=frames.pcutoff,
        frames_of_size=frames.frames_of_size(check, frame_shape),
        thresholds=t,
    )
    chosen, reasons = decide(agreement, t)
    s = [where[i] for i in test]
    return QuantizationReport(
        chosen=chosen,
        reasons=tuple(reasons),
        agreement=agreement,
        thresholds=t,
        frame_shape=(int(frame_shape[0]), int(frame_shape[1])),
        batch_size=int(batch_size),
        calibration_frames=len(frames.calibration_sample(frame_shape)),
        float_test_error_px=mean_error_px(pred["float32"][s], truth[s]),
        int8_test_error_px=mean_error_px(pred["int8"][s], truth[s]),
        test_frames=len(test),
        test_split=frames.test_split,
        snapshot=str(snapshot),
        source=frames.source,
    )


def precision_line(
    network: str,
    frame_shape: tuple[int, int],
    asked: str,
    chosen: str,
    report: QuantizationReport | None,
) -> str:
    """Say which precision a network runs at a frame size, and why, in one line.

    Parameters
    ----------
    network
        The network's name (e.g. the snapshot, ``snapshot-468``).
    frame_shape
        ``(height, width)`` analysed.
    asked
        The ``precision`` asked for (``"auto"`` or ``"int8"``).
    chosen
        The precision that runs.
    report
        The check (``None`` when there was nothing to check with).

    Returns
    -------
    str

    Examples
    --------
    >>> precision_line("snapshot-9", (240, 320), "auto", "float32", None)
    'snapshot-9 at 320×240: float32 (int8 not used: no labelled frames to check it against)'
    """
    where = f"{network} at {int(frame_shape[1])}×{int(frame_shape[0])}"
    if report is None:
        return (
            f"{where}: {chosen} (int8 not used: no labelled frames to check it against)"
        )
    a = report.agreement
    if report.chosen == "int8":
        verdict = f"agrees with float on {a.describe()}"
    elif len(report.reasons) == 1 and a.frames < report.thresholds.min_frames:
        verdict = f"not trusted: {report.reasons[0]}; on those, {a.measurements()}"
    else:
        verdict = (
            f"disagreed with float on {a.frames_phrase()} ({'; '.join(report.reasons)})"
        )
    if asked == "int8":
        return f"{where}: int8 as asked (the check: int8 {verdict})"
    if chosen == "int8":
        return f"{where}: int8 ({verdict}); --precision float32 to turn off"
    return f"{where}: float32: int8 {verdict}; --precision int8 forces it"


def announce(
    network: str,
    frame_shape: tuple[int, int],
    asked: str,
    chosen: str,
    report: QuantizationReport | None,
) -> str:
    """Log :func:`precision_line` on the :data:`PRECISION_LOGGER` and return it.

    int8 chosen by ``"auto"`` is logged as a warning (the analysis is not the
    evaluated float network: a notebook without logging set up shows it), the rest
    as info. ``posekit analyze`` prints every such line.

    Parameters
    ----------
    network, frame_shape, asked, chosen, report
        As for :func:`precision_line`.

    Returns
    -------
    str
        The line.
    """
    line = precision_line(network, frame_shape, asked, chosen, report)
    surprise = asked == "auto" and chosen == "int8"
    logger.log(logging.WARNING if surprise else logging.INFO, "%s", line)
    return line
