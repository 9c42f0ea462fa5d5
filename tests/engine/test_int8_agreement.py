"""``precision="auto"`` takes int8 only when it agrees with float, and says so.

QA s17 (sideview, finding 2): auto chose int8 on 8 test frames whose error
difference was noise, while int8 moved the points by a median 2 px and dropped a
third of the visible tongue below pcutoff; nothing on the terminal said int8. Here:

- the rule (:func:`~posekit.engine.quantization.decide`) on synthetic predictions
  whose disagreement is known: shifts, pcutoff crossings, too few frames;
- :func:`~posekit.engine.quantization.compare` checks on the frames of the analysed
  size first and writes exactly what it measured;
- ``posekit analyze`` prints one line per network and frame size, the decision file
  holds the numbers of that line, and ``_meta.pickle`` the precision that ran.
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from posekit.engine import quantization
from posekit.engine.quantization import (
    Agreement,
    LabelledFrames,
    QuantizationReport,
    Thresholds,
    compare,
    decide,
    precision_line,
)

K = 4  # bodyparts


def _predictions(n: int, seed: int = 0) -> np.ndarray:
    """``(n, K, 3)`` float predictions: positions anywhere, likelihoods 0.7-0.95."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, (n, K, 2))
    p = rng.uniform(0.7, 0.95, (n, K, 1))
    return np.concatenate([xy, p], axis=-1)


def test_int8_that_follows_float_is_taken() -> None:
    f = _predictions(40)
    q = f.copy()
    q[..., :2] += np.random.default_rng(1).normal(0, 0.2, q[..., :2].shape)
    a = Agreement.measure(f, q, pcutoff=0.6)
    assert a.frames == 40 and a.points == 40 * K and a.crossings == 0
    assert a.median_shift_px < 0.4 and a.tail_share == 0.0
    assert decide(a) == ("int8", [])


def test_int8_that_moves_the_points_is_refused() -> None:
    """The sideview models: a median shift of ~2 px (their errors barely differ)."""
    f = _predictions(40)
    q = f.copy()
    q[..., 0] += 2.5
    chosen, reasons = decide(Agreement.measure(f, q, pcutoff=0.6))
    assert chosen == "float32"
    assert reasons == [
        "median shift 2.50 px > 0.75 px",
        "100.0% of points moved > 2 px (> 5%)",
    ]


def test_int8_that_moves_likelihoods_across_pcutoff_is_refused() -> None:
    """A few points in place but dropped below pcutoff (the tongue of QA s17)."""
    f = _predictions(50)
    q = f.copy()
    q[:5, 0, 2] = 0.2  # 5 of 200 points (2.5 %) fall from ~0.8 to 0.2
    a = Agreement.measure(f, q, pcutoff=0.6)
    assert (a.crossings, a.clear_crossings) == (5, 5)
    assert a.median_shift_px == 0.0
    assert a.max_likelihood_change == pytest.approx(np.max(f[:5, 0, 2]) - 0.2)
    chosen, reasons = decide(a)
    assert chosen == "float32"
    assert reasons == ["5 of 200 points cross pcutoff 0.6 by > 0.1 (2.5% > 2%)"]
    # 4 of 200 (2 %) is within the limit
    q[4, 0, 2] = f[4, 0, 2]
    assert decide(Agreement.measure(f, q, pcutoff=0.6))[0] == "int8"


def test_likelihoods_that_sat_on_pcutoff_do_not_count() -> None:
    """A likelihood 0.01 either side of pcutoff flips in float as much as in int8."""
    f = _predictions(40)
    f[:, 0, 2] = 0.605
    q = f.copy()
    q[:, 0, 2] = 0.595  # all 40 points of bodypart 0 cross, by 0.01
    a = Agreement.measure(f, q, pcutoff=0.6)
    assert (a.crossings, a.clear_crossings) == (40, 0)
    assert decide(a)[0] == "int8"


def test_too_few_frames_decide_float32() -> None:
    f = _predictions(8)
    a = Agreement.measure(f, f.copy(), pcutoff=0.6)
    assert decide(a) == (
        "float32",
        ["only 8 labelled frames to check on (20 needed)"],
    )
    assert decide(a, Thresholds(min_frames=8))[0] == "int8"
    assert decide(None) == ("float32", ["no labelled frames to check int8 against"])


def _two_camera_frames(n_big: int, n_small: int) -> LabelledFrames:
    """Frames of two sizes whose first pixel holds their index (for fake predictors)."""
    images = []
    for i in range(n_big + n_small):
        shape = (48, 64) if i < n_big else (30, 64)
        img = np.zeros((*shape, 3), np.uint8)
        img[..., 0] = i
        images.append(img)
    keypoints = np.full((len(images), K, 2), 10.0)
    train = tuple(range(0, len(images), 2))
    test = tuple(range(1, len(images), 2))
    return LabelledFrames(images, keypoints, train, test, "two cameras", pcutoff=0.5)


def _fake(shift: float):
    """Make a predictor whose points depend on the frame (``shift`` px right)."""

    def predict(frames):
        out = np.zeros((len(frames), K, 3))
        for j, frame in enumerate(frames):
            i = float(frame[0, 0, 0])
            out[j, :, 0] = 10.0 + i + shift
            out[j, :, 1] = 10.0 + np.arange(K)
            out[j, :, 2] = 0.9
        return out

    return predict


def test_compare_checks_frames_of_the_analysed_size(tmp_path: Path) -> None:
    frames = _two_camera_frames(24, 24)
    assert frames.check_sample((48, 64)) == list(range(24))  # only this camera
    assert frames.check_sample((24, 32)) == list(range(24))  # the same, --scale 0.5
    assert frames.check_sample((30, 64)) == list(range(24, 48))
    # a camera with fewer labelled frames: the others fill up to 20
    few = _two_camera_frames(30, 6)
    sample = few.check_sample((30, 64))
    assert len(sample) == 20 and sample[:6] == list(range(30, 36))
    assert few.frames_of_size(sample, (30, 64)) == 6
    assert few.calibration_sample((30, 64))[:3] == [30, 32, 34]

    report = compare(
        frames, _fake(0.0), _fake(1.5), (48, 64), batch_size=4, snapshot="s-9.keras"
    )
    assert report.chosen == "float32"
    assert report.reasons[0] == "median shift 1.50 px > 0.75 px"
    close = compare(
        frames, _fake(0.0), _fake(0.1), (48, 64), batch_size=4, snapshot="s-9.keras"
    )
    assert close.chosen == "int8" and close.reasons == ()
    a = close.agreement
    assert (a.frames, a.frames_of_size, a.points, a.pcutoff) == (24, 24, 96, 0.5)
    assert a.median_shift_px == pytest.approx(0.1)
    # the record holds what was measured
    path = close.write(tmp_path / "s-9-48x64-b4-int8.json")
    data = json.loads(path.read_text())
    assert data["chosen"] == "int8" and data["rule"] == quantization.RULE
    assert data["agreement"]["median_shift_px"] == pytest.approx(0.1)
    assert data["agreement"]["frames"] == 24
    assert data["thresholds"]["max_median_shift_px"] == 0.75
    assert QuantizationReport.read(path) == close


def test_stricter_thresholds_redecide_a_recorded_check(tmp_path, monkeypatch) -> None:
    frames = _two_camera_frames(24, 0)
    report = compare(frames, _fake(0.0), _fake(0.1), (48, 64), batch_size=4,
                     snapshot="s-9.keras")  # fmt: skip
    path = report.write(tmp_path / "r.json")
    strict = Thresholds(max_median_shift_px=0.05)
    monkeypatch.setattr(quantization, "THRESHOLDS", strict)
    again = QuantizationReport.read(path)
    assert again.chosen == "float32" and again.agreement == report.agreement
    assert json.loads(path.read_text())["chosen"] == "float32"  # rewritten


def test_the_lines() -> None:
    frames = _two_camera_frames(24, 0)
    close = compare(frames, _fake(0.0), _fake(0.1), (48, 64), batch_size=4,
                    snapshot="s-9.keras")  # fmt: skip
    far = compare(frames, _fake(0.0), _fake(3.0), (48, 64), batch_size=4,
                  snapshot="s-9.keras")  # fmt: skip
    assert precision_line("snapshot-9", (48, 64), "auto", "int8", close) == (
        "snapshot-9 at 64×48: int8 (agrees with float on 24 frames: median shift "
        "0.10 px, 0.0% of points moved > 2 px, 0 of 96 points cross pcutoff 0.5 "
        "(0 by > 0.1)); --precision float32 to turn off"
    )
    assert precision_line("snapshot-9", (48, 64), "auto", "float32", far) == (
        "snapshot-9 at 64×48: float32: int8 disagreed with float on 24 frames "
        "(median shift 3.00 px > 0.75 px; 100.0% of points moved > 2 px (> 5%)); "
        "--precision int8 forces it"
    )
    forced = precision_line("snapshot-9", (48, 64), "int8", "int8", far)
    assert forced.startswith(
        "snapshot-9 at 64×48: int8 as asked (the check: int8 disagreed with float"
    )


# ---------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def trained(tiny_trained_copy):
    """Train a tiny network for 3 iterations on the demo project (12 frames)."""
    return tiny_trained_copy("int8-line")


@pytest.fixture(scope="module")
def clip(trained, video_clip) -> Path:
    """Cut the first 8 frames of the demo video."""
    return video_clip(trained.videos()[0], 8)


def _analyze(trained, clip, dest: Path, capsys, *extra: str) -> tuple[list[str], dict]:
    """Run ``posekit analyze``; return its precision lines and the ``_meta`` data."""
    from posekit.engine.cli import main

    capsys.readouterr()
    argv = ["analyze", str(trained.path), str(clip), "--dest", str(dest), *extra]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if " at 320×240: " in ln]
    [meta] = dest.glob("*_meta.pickle")
    return lines, pickle.loads(meta.read_bytes())["data"]


def test_analyze_says_which_precision_runs_and_why(
    trained, clip, tmp_path, capsys, monkeypatch
) -> None:
    from posekit.engine.model_folder import ModelFolder

    folder = ModelFolder.of(trained, 1)
    record = folder.quantization_report_path(-1, (240, 320), 8)
    # the demo has 12 labelled frames: too few to trust int8 with
    lines, meta = _analyze(trained, clip, tmp_path / "a", capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith("posekit analyze: snapshot-3 at 320×240: float32: ")
    assert lines[0].endswith("; --precision int8 forces it")
    assert meta["precision"] == "float32"
    data = json.loads(record.read_text())
    assert data["chosen"] == "float32" and data["agreement"]["frames"] == 12
    assert data["reasons"][0] == "only 12 labelled frames to check on (20 needed)"
    assert all(reason in lines[0] for reason in data["reasons"])

    # where int8 agrees (here: thresholds nothing fails), it runs, and says so
    lax = Thresholds(max_median_shift_px=1e9, max_tail_share=1.0,
                     max_crossing_share=1.0, min_frames=1)  # fmt: skip
    monkeypatch.setattr(quantization, "THRESHOLDS", lax)
    lines, meta = _analyze(trained, clip, tmp_path / "b", capsys)
    assert (
        len(lines) == 1
        and "320×240: int8 (agrees with float on 12 frames" in (lines[0])
    )
    assert lines[0].endswith("; --precision float32 to turn off")
    assert meta["precision"] == "int8"
    data = json.loads(record.read_text())  # decided again from what was measured
    assert data["chosen"] == "int8" and data["thresholds"]["min_frames"] == 1
    a = data["agreement"]
    assert (
        f"median shift {a['median_shift_px']:.2f} px, "
        f"{100 * a['tail_share']:.1f}% of points moved > 2 px, "
        f"{a['crossings']} of {a['points']} points cross pcutoff "
        f"{a['pcutoff']:g}" in lines[0]
    )
    assert a["pcutoff"] == trained.pcutoff

    # the line is printed whatever the log level, once, and not logged twice
    lines, _ = _analyze(trained, clip, tmp_path / "c", capsys, "--precision", "int8")
    assert len(lines) == 1 and "int8 as asked (the check: int8 agrees" in lines[0]
    assert not logging.getLogger(quantization.PRECISION_LOGGER).handlers
    _, meta = _analyze(trained, clip, tmp_path / "d", capsys, "--precision", "float32")
    assert meta["precision"] == "float32"
