"""Behaviour widgets (QA s22): what the trajectory model and the annotator keep.

- :class:`~posekit.widgets.trajectory_model.TrajectoryModel` given a frame rate
  rebuilds the poses' times in seconds; the ``time`` coordinate says so
  (``time.attrs["time_unit"]``), so that ``model.raw.position`` alone is not taken
  for frame numbers at 1 fps (a step of 1).
- :meth:`EthogramAnnotator.load <posekit.widgets.ethogram_annotator.EthogramAnnotator.load>`
  reads one animal's rows of a labels file of several (``individual=``), and
  without it refuses the file naming the animals and the argument.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.engine.behavior.kinematics import compute_speed
from posekit.engine.poses import from_numpy
from posekit.widgets.ethogram_annotator import EthogramAnnotator
from posekit.widgets.trajectory_model import TrajectoryModel


def _walk(fps: float | None) -> object:
    """One animal, one keypoint moving 3 px right and 4 px down a frame (5 px)."""
    t = np.arange(12.0)
    pos = np.stack([10 + 3 * t, 20 + 4 * t], 1)[:, :, None, None]
    return from_numpy(pos, np.ones((12, 1, 1)), fps=fps)


@pytest.mark.parametrize("given", [None, 30.0])
def test_a_frame_rate_given_to_the_model_keeps_the_time_unit(given) -> None:
    """Frames (no rate) or 30 fps in, 1 fps given: times in seconds, said so."""
    model = TrajectoryModel(_walk(given), fps=1.0)
    assert model.raw.attrs["time_unit"] == "seconds"
    assert model.raw["time"].attrs["time_unit"] == "seconds"
    np.testing.assert_array_equal(model.raw["time"].values, np.arange(12.0))
    for position in (model.raw.position, model.filtered.position):
        # no fps= here: the coordinate alone says 1 s a step, not 1 frame
        speed = compute_speed(position)
        assert speed.attrs["units"] == "px/s"
        np.testing.assert_allclose(speed.values, 5.0)
    assert model.speed.attrs["units"] == "px/s"


def test_poses_in_frames_stay_frames() -> None:
    model = TrajectoryModel(_walk(None))
    assert model.fps is None
    assert model.raw["time"].attrs["time_unit"] == "frames"
    assert compute_speed(model.raw.position).attrs["units"] == "px/frame"


def _two_animals(path: Path) -> Path:
    path.write_text(
        "frame,individual,behavior\n"
        "0,m1,walk\n1,m1,walk\n2,m1,rest\n3,m1,rest\n"
        "0,m2,groom\n1,m2,rest\n2,m2,rest\n3,m2,groom\n"
    )
    return path


def test_annotator_reads_the_animal_it_is_given(tmp_path: Path) -> None:
    path = _two_animals(tmp_path / "marks.csv")
    annot = EthogramAnnotator(4, fps=30.0, load_bokehjs=False)
    got = annot.load(path, individual="m2")
    assert got.tolist() == ["groom", "rest", "rest", "groom"]
    assert annot.labels().tolist() == ["groom", "rest", "rest", "groom"]
    assert annot.load(path, individual="m1").tolist() == [
        "walk",
        "walk",
        "rest",
        "rest",
    ]
    with pytest.raises(ValueError, match="no rows of 'm3'.*names m1, m2"):
        annot.load(path, individual="m3")
    assert annot.labels().tolist() == ["walk", "walk", "rest", "rest"]  # unchanged


def test_annotator_without_an_animal_names_them_and_the_argument(
    tmp_path: Path,
) -> None:
    path = _two_animals(tmp_path / "marks.csv")
    annot = EthogramAnnotator(4, load_bokehjs=False)
    with pytest.raises(ValueError) as err:
        annot.load(path)
    assert "2 animals (m1, m2)" in str(err.value)
    assert "EthogramAnnotator.load(path, individual=NAME)" in str(err.value)
    assert annot.labels().tolist() == ["none"] * 4


def test_annotator_reads_a_file_of_one_animal_whole(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("frame,individual,behavior\n0,mouse,walk\n1,mouse,walk\n")
    annot = EthogramAnnotator(2, load_bokehjs=False)
    assert annot.load(path).tolist() == ["walk", "walk"]
