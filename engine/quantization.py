"""int8 inference: calibration frames, the float-vs-int8 comparison and its record.

A TFLite model can be quantized after training to full integer (int8 weights *and*
activations; :func:`posekit.engine.inference.convert_to_tflite` with
``representative_frames``). On CPU it runs about 2-3× faster than float32, and it is
only worth it if the keypoints stay as good. This module decides that, on the
project's own labelled frames:

- the *calibration* frames (the training split) set the int8 ranges;
- the *test* frames (the test split, or the training frames when there is no test
  split) are predicted with the float and the int8 model at the analysis size;
- int8 is chosen when its mean error is within :data:`TOLERANCE_PX` of float's.

:class:`QuantizationReport` records both errors and the choice; the model folder
(:meth:`posekit.engine.model_folder.ModelFolder.predictor`) writes it as JSON beside
the cached ``.tflite`` files and reads it back, so the choice is made once per
snapshot and frame size. No TensorFlow is imported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._fileio import atomic_write_text

if TYPE_CHECKING:
    from .dataset import TrainingSet
    from .inference import Predictor

__all__ = [
    "MAX_CALIBRATION_FRAMES",
    "MAX_TEST_FRAMES",
    "PRECISIONS",
    "TOLERANCE_PX",
    "LabelledFrames",
    "QuantizationReport",
    "check_precision",
    "mean_error_px",
]

#: int8 is chosen when its test error is at most this much above float's (pixels).
TOLERANCE_PX = 0.2

#: At most this many frames calibrate (evenly spaced over the training frames).
MAX_CALIBRATION_FRAMES = 64

#: At most this many test frames compare int8 with float (evenly spaced), so that
#: the comparison reads a bounded number of labelled images however large the
#: project.
MAX_TEST_FRAMES = 200

#: The values of ``precision``: ``"auto"`` chooses by :data:`TOLERANCE_PX`.
PRECISIONS = ("auto", "float32", "int8")


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


@dataclass(frozen=True)
class LabelledFrames:
    """Labelled frames that calibrate an int8 model and test it against float.

    Attributes
    ----------
    images
        RGB ``uint8`` frames (sizes may differ).
    keypoints
        ``(N, K, 2)`` in each frame's pixels, NaN where not labelled.
    calibration
        Indices of the frames that calibrate (the training split).
    test
        Indices of the frames the errors are measured on (the test split; the
        training frames when the project has no test split).
    source
        Where the frames come from, for the record.
    """

    images: Sequence[np.ndarray]
    keypoints: np.ndarray
    calibration: tuple[int, ...]
    test: tuple[int, ...]
    source: str = ""

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

    @classmethod
    def from_training_set(cls, ts: TrainingSet, source: str = "") -> LabelledFrames:
        """Use a shuffle's split: training frames calibrate, test frames test.

        Parameters
        ----------
        ts
            A :class:`~posekit.engine.dataset.TrainingSet`.
        source
            Where it comes from (e.g. the project folder and shuffle).

        Returns
        -------
        LabelledFrames
        """
        train = tuple(int(i) for i in ts.train_indices)
        test = tuple(int(i) for i in ts.test_indices)
        if not train:  # everything is in the test split: calibrate on it
            train = test
        return cls(ts.images, ts.keypoints, train, test or train, source)

    @property
    def test_split(self) -> str:
        """``"test"``, or ``"train"`` when the errors are measured on training frames."""
        return "train" if set(self.test) <= set(self.calibration) else "test"

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

    def calibration_frames(self, frame_shape: tuple[int, int]) -> list[np.ndarray]:
        """Return at most :data:`MAX_CALIBRATION_FRAMES` calibration frames, resized."""
        return self.resized(
            _evenly(self.calibration, MAX_CALIBRATION_FRAMES), frame_shape
        )[0]

    @property
    def test_sample(self) -> tuple[int, ...]:
        """The test frames compared: at most :data:`MAX_TEST_FRAMES`, evenly spaced."""
        return tuple(_evenly(self.test, MAX_TEST_FRAMES))

    def test_error_px(
        self, predictor: Predictor, frame_shape: tuple[int, int]
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
class QuantizationReport:
    """What the int8 model was compared with, and which precision was chosen.

    Attributes
    ----------
    float_test_error_px, int8_test_error_px
        Mean error (Euclidean distance, DeepLabCut's "RMSE") of each model.
    chosen
        ``"int8"`` when ``int8_test_error_px <= float_test_error_px + tolerance_px``,
        else ``"float32"``.
    tolerance_px
        :data:`TOLERANCE_PX` when the report was made.
    frame_shape, batch_size
        What the models were converted for.
    calibration_frames, test_frames
        How many frames calibrated and tested.
    test_split
        ``"test"``, or ``"train"`` when the project had no test frames.
    snapshot
        The snapshot file the models come from.
    source
        Where the labelled frames came from.
    """

    float_test_error_px: float
    int8_test_error_px: float
    chosen: str
    tolerance_px: float
    frame_shape: tuple[int, int]
    batch_size: int
    calibration_frames: int
    test_frames: int
    test_split: str
    snapshot: str
    source: str = ""

    @property
    def difference_px(self) -> float:
        """int8's error minus float's (pixels)."""
        return self.int8_test_error_px - self.float_test_error_px

    @staticmethod
    def choose(
        float_error: float, int8_error: float, tolerance: float = TOLERANCE_PX
    ) -> str:
        """Return ``"int8"`` if its error is within ``tolerance`` of float's.

        Examples
        --------
        >>> QuantizationReport.choose(2.5, 2.65), QuantizationReport.choose(2.5, 2.8)
        ('int8', 'float32')
        """
        if np.isfinite(int8_error) and np.isfinite(float_error):
            return "int8" if int8_error <= float_error + tolerance else "float32"
        return "float32"

    def summary(self) -> str:
        """One line: both errors, the difference and the choice.

        Examples
        --------
        >>> r = QuantizationReport(2.5, 2.6, "int8", 0.2, (480, 640), 1, 110, 6,
        ...                        "test", "snapshot-10.keras")
        >>> r.summary()
        'int8 2.60 px vs float32 2.50 px on 6 test frames (+0.10 px; tolerance 0.2 px): int8 chosen'
        """
        return (
            f"int8 {self.int8_test_error_px:.2f} px vs float32 "
            f"{self.float_test_error_px:.2f} px on {self.test_frames} "
            f"{self.test_split} frames ({self.difference_px:+.2f} px; tolerance "
            f"{self.tolerance_px:g} px): {self.chosen} chosen"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (with ``difference_px``)."""
        data = asdict(self)
        data["frame_shape"] = list(self.frame_shape)
        data["difference_px"] = self.difference_px
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizationReport:
        """Rebuild a report from :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["frame_shape"] = tuple(int(v) for v in fields["frame_shape"])
        return cls(**fields)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike) -> QuantizationReport:
        """Read a report written by :meth:`write`.

        Raises
        ------
        ValueError
            The file is not such a report.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a quantization report: {exc}") from exc
