"""Labels files: the accepted layouts, bouts in frames or seconds, length checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.engine.behavior.annotations import read_behavior_names, read_labels


def _csv(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_per_frame_table_longer_than_the_track_is_named_in_a_warning(
    tmp_path, caplog
):
    """QA S14 F9: 150 rows for a 100-frame track were cut to 100 without a word."""
    rows = "".join(f"{i},{'a' if i < 75 else 'b'}\n" for i in range(150))
    path = _csv(tmp_path, "frame,behavior\n" + rows)
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.annotations"):
        labels = read_labels(path, 100)
    assert labels.tolist() == ["a"] * 75 + ["b"] * 25
    (message,) = [r.getMessage() for r in caplog.records]
    assert "150 per-frame rows" in message and "100 frames" in message
    # without a frame column, too (row i is frame i), and shorter than the track
    caplog.clear()
    path = _csv(tmp_path, "behavior\n" + "a\n" * 60)
    with caplog.at_level("WARNING", logger="posekit.engine.behavior.annotations"):
        labels = read_labels(path, 100)
    assert (labels[:60] == "a").all() and (labels[60:] == "none").all()
    assert "60 per-frame rows" in caplog.text and "100 frames" in caplog.text
    caplog.clear()
    read_labels(path, 60)  # matching lengths: no warning
    assert not caplog.records


def test_start_stop_bouts_in_frames_and_in_seconds(tmp_path):
    # frames: start and stop (or end) are the first and last frame, inclusive
    frames = _csv(tmp_path, "behavior,start,stop\na,0,4\nb,5,9\n")
    assert read_labels(frames, 12).tolist() == ["a"] * 5 + ["b"] * 5 + ["none"] * 2
    # BORIS's aggregated export: [start, stop) in seconds, converted with the fps
    boris = _csv(
        tmp_path,
        "Subject,Behavior,Start (s),Stop (s)\nm1,a,0.0,0.5\nm1,b,0.5,1.0\n",
        "boris.csv",
    )
    assert read_labels(boris, 12, fps=10).tolist() == (
        ["a"] * 5 + ["b"] * 5 + ["none"] * 2
    )
    assert read_behavior_names(boris) == ["a", "b"]
    with pytest.raises(ValueError, match="frame rate"):
        read_labels(boris, 12)
    # QA S14 F9: 'behavior,start,stop' in seconds was read as one row per frame
    seconds = _csv(
        tmp_path, "behavior,start,stop\na,0.0,0.49\nb,0.5,0.99\n", "seconds.csv"
    )
    with pytest.raises(ValueError, match="start_s and stop_s"):
        read_labels(seconds, 12, fps=10)
    got = read_labels(seconds, 12, fps=10, time_unit="seconds")
    assert got.tolist() == ["a"] * 5 + ["b"] * 5 + ["none"] * 2
    # a bout beyond the track is an error that names the track's length
    with pytest.raises(ValueError, match="outside the track's 8 frames"):
        read_labels(boris, 8, fps=10)


@pytest.mark.parametrize(
    "header", ["label,onset,offset", "behavior,start", "behavior,stop_s", "frame,event"]
)
def test_an_unknown_layout_is_refused_with_the_accepted_ones(tmp_path, header):
    path = _csv(tmp_path, header + "\n" + ",".join(["1"] * header.count(",")) + ",2\n")
    with pytest.raises(ValueError, match="accepted layouts") as err:
        read_labels(path, 10)
    for layout in ("behavior, start, end", "behavior, start_s, stop_s"):
        assert layout in str(err.value)


def test_empty_behaviour_cells_are_background(tmp_path):
    path = _csv(tmp_path, "frame,behavior\n0,a\n1,\n2,b\n")
    assert read_labels(path, 3).tolist() == ["a", "none", "b"]
    assert np.asarray(read_labels(path, 3, background="bg"))[1] == "bg"
