"""What the behaviour tools say about inputs they cannot measure as given (QA s22).

- A label file (``CollectedData_*.h5`` / ``.csv``) holds labelled images, not
  consecutive frames: as speeds, angular velocities and displacements (distance
  travelled, path length, straightness) between its rows are refused, with a
  message naming the measure; measures within one image (a heading) still work.
- ``posekit filter --pcutoff`` on a file without likelihoods says that the cut-off
  was not applied (a logger warning the command line shows).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.engine.behavior import kinematics as kin
from posekit.engine.cli import main
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io import load_poses
from posekit.engine.io.dlc import (
    make_labels_frame,
    predictions_frame,
    write_labels,
    write_predictions,
)
from posekit.engine.poses import from_numpy

SCORER = "DLC_resnet50_demoJan1shuffle1_100"

# ---------------------------------------------------------------- label files


def _label_file(tmp_path: Path, suffix: str) -> Path:
    """Six labelled images of one animal, as DeepLabCut keeps them (.h5 or .csv)."""
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    rows = [f"labeled-data/vid/img{i:04d}.png" for i in (3, 17, 40, 41, 90, 120)]
    xy = np.arange(6 * 2 * 2, dtype=float).reshape(6, 2, 2) * 7.0
    df = make_labels_frame("me", ["nose", "tail"], rows, xy)
    h5 = write_labels(df, folder / "CollectedData_me.h5")
    return h5.with_suffix(suffix)


# measures between rows, each with the words its refusal names
BETWEEN_ROWS = {
    "angular velocity": lambda pos: kin.compute_angular_velocity(
        kin.compute_heading(pos, "tail", "nose"), per="frame"
    ),
    "displacement": kin.compute_displacement,
    "distance travelled": kin.compute_distance_travelled,
    "path length": kin.compute_path_length,
    "straightness": kin.compute_straightness,
}


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
@pytest.mark.parametrize("measure", list(BETWEEN_ROWS))
def test_measures_between_labelled_images_are_refused(
    tmp_path: Path, suffix: str, measure: str
) -> None:
    path = _label_file(tmp_path, suffix)
    assert path.is_file()
    ds = load_poses(path, fps=30)
    assert ds["time"].attrs["rows"] == "images"
    with pytest.raises(
        ValueError, match=f"labelled images.*{measure}.*posekit analyze"
    ):
        BETWEEN_ROWS[measure](ds.position)


def test_the_openfield_labels_refuse_an_angular_velocity(openfield_dir: Path) -> None:
    folder = openfield_dir / "labeled-data" / "m4s1"
    for name in ("CollectedData_Pranav.h5", "CollectedData_Pranav.csv"):
        ds = load_poses(folder / name)
        heading = kin.compute_heading(ds.position, "tailbase", "snout")
        assert heading.sizes["time"] == 116  # within one image: fine
        with pytest.raises(ValueError, match="an angular velocity"):
            kin.compute_angular_velocity(heading)
        with pytest.raises(ValueError, match="a displacement"):
            kin.compute_path_length(ds.position)


def test_an_angular_velocity_of_video_frames_is_measured() -> None:
    """A keypoint turning 0.1 rad a frame around another at 10 fps: 1 rad/s."""
    a = 0.1 * np.arange(20)
    nose = np.stack([np.cos(a), np.sin(a)], 1)
    pos = np.stack([np.zeros_like(nose), nose], 2)[..., None]
    ds = from_numpy(pos, keypoint_names=["tail", "nose"], fps=10)
    rate = kin.compute_angular_velocity(
        kin.compute_heading(ds.position, "tail", "nose")
    )
    assert rate.attrs["units"] == "rad/s"
    np.testing.assert_allclose(rate.values, 1.0)
    length = kin.compute_path_length(ds.position).squeeze("individual")
    assert float(length.sel(keypoint="tail")) == 0.0
    chord = 2 * np.sin(0.05)  # each step of the nose on the unit circle
    assert float(length.sel(keypoint="nose")) == pytest.approx(19 * chord)


# ---------------------------------------------------------------- filter --pcutoff


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Demo project with three predictions files of its video's known tracks."""
    project = make_demo_project(
        tmp_path_factory.mktemp("filter-pcutoff"), n_frames=30, n_labeled=0
    )
    truth, _ = load_ground_truth(project)
    xyp = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.9)], -1)
    xyp[::4, :, 2] = 0.1  # unlikely points: a cut-off removes them
    videos = project.path / "videos"
    good = predictions_frame(xyp, SCORER, project.bodyparts)
    write_predictions(good, videos / f"good{SCORER}.h5")
    empty = good.copy()  # likelihood columns, no value in them
    empty.loc[:, empty.columns.get_level_values("coords") == "likelihood"] = np.nan
    write_predictions(empty, videos / f"empty{SCORER}.h5")
    ragged = good.drop(columns=[(SCORER, project.bodyparts[1], "likelihood")])
    ragged.to_csv(videos / f"ragged{SCORER}.csv")
    return project


def _filter(project, name: str, *options: str) -> int:
    return main(
        ["filter", str(project.path), str(project.path / "videos" / name), *options]
    )


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "posekit.postprocessing" and r.levelno == logging.WARNING
    ]


def test_pcutoff_on_a_file_without_likelihoods_says_so(
    project, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    name = f"empty{SCORER}.h5"
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert _filter(project, name, "--pcutoff", "0.6") == 0
    assert _said(caplog) == [
        f"{name} has no likelihood (a 'likelihood' value per bodypart), so pcutoff "
        "0.6 (--pcutoff) was not applied: every point is kept"
    ]
    assert "wrote " in capsys.readouterr().out
    filtered = pd.read_hdf(project.path / "videos" / f"empty{SCORER}_filtered.h5")
    assert filtered.xs("x", axis=1, level="coords").notna().all().all()  # all kept


def test_pcutoff_names_the_bodyparts_without_likelihood(
    project, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"ragged{SCORER}.csv"
    bodypart = project.bodyparts[1]
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert _filter(project, name, "--pcutoff", "0.6") == 0
    assert _said(caplog) == [
        f"{name} has no likelihood for {bodypart}, so pcutoff 0.6 (--pcutoff) was not "
        "applied to them: their points are all kept"
    ]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        (f"good{SCORER}.h5", ("--pcutoff", "0.6")),  # likelihoods: applied
        (f"empty{SCORER}.h5", ()),  # no --pcutoff: nothing to say
    ],
)
def test_pcutoff_applied_or_not_asked_says_nothing(
    project, caplog: pytest.LogCaptureFixture, name: str, options: tuple[str, ...]
) -> None:
    with caplog.at_level(logging.WARNING, logger="posekit"):
        assert _filter(project, name, *options) == 0
    assert _said(caplog) == []


def test_the_distance_across_gaps_is_its_own_column():
    """QA s22 metrics 7: a jump across a tracking gap hid in ``distance``."""
    from posekit.engine.behavior.session import Session
    from posekit.engine.behavior.tables import kinematics_table
    from posekit.engine.poses import from_numpy

    # a walk of 5 px a frame (3-4-5 steps), lost for frames 5-7 and seen again
    # 40 px off its line: distance = the observed steps + the line across the gap
    t = np.arange(12.0)
    xy = np.stack([3 * t, 4 * t], 1)
    xy[8:, 0] += 40.0  # where it is seen again: a jump (a swapped animal)
    xy[5:8] = np.nan
    ds = from_numpy(xy[:, :, None, None], individual_names=["m1"])
    point = ds.position.sel(keypoint=ds.keypoint.values[0])
    session = Session("s", None, "", ds)
    table = kinematics_table([session], {"s": point}, fps=10.0)
    row = table.iloc[0]
    steps_seen = 4 * 5.0 + 3 * 5.0  # frames 0-4 and 8-11
    jump = float(np.hypot(xy[8, 0] - xy[4, 0], xy[8, 1] - xy[4, 1]))
    assert row["distance"] == pytest.approx(steps_seen + jump)
    assert row["distance_across_gaps"] == pytest.approx(jump)
    # no gap: nothing across gaps
    whole = from_numpy(np.stack([3 * t, 4 * t], 1)[:, :, None, None])
    table = kinematics_table(
        [Session("w", None, "", whole)],
        {"w": whole.position.sel(keypoint=whole.keypoint.values[0])},
    )
    assert table.iloc[0]["distance_across_gaps"] == 0.0
