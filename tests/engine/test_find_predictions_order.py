"""Which predictions file of a video comes first: the newest model's, not the newest file.

``find_predictions`` (the home app, the analysis panel, the viewer: no shuffle given)
ordered a video's ``<video>DLC_*.h5`` files by modification time. After a copy or an
``rsync`` they all have the same time and the choice was arbitrary; a file copied
last won over the newest network's. They are now ordered by model (its iteration,
from the analysis' ``_meta.pickle``, then its training iterations, from the
scorer), as ``find_prediction_file`` does for ``extract-outliers``; the file time
decides only between files of one model.
"""

from __future__ import annotations

import os
from pathlib import Path

from posekit.engine.io.dlc import write_analysis_metadata
from posekit.engine.postprocessing import (
    filtered_path,
    find_predictions,
    prediction_files,
)
from posekit.engine.project import create_project

#: One clock time for every file: what a copy or an rsync leaves.
SAME_TIME = 1_700_000_000.0


def _analysis(folder: Path, video: str, scorer: str, iteration: int | None) -> Path:
    """Write an (empty) ``.h5`` and, with ``iteration``, its ``_meta.pickle``."""
    h5 = folder / f"{video}{scorer}.h5"
    h5.write_bytes(b"")
    if iteration is not None:
        write_analysis_metadata(
            folder / f"{video}{scorer}_meta.pickle",
            {"iteration (active-learning)": iteration, "Scorer": scorer},
        )
    return h5


def _touch(paths: list[Path], when: float = SAME_TIME) -> None:
    for path in paths:
        os.utime(path, (when, when))


def test_the_newest_iteration_then_the_most_trained_comes_first(tmp_path) -> None:
    (tmp_path / "m1.mp4").write_bytes(b"")
    # iteration 0's network trained long, iteration 1's (refined labels) shorter
    it0_long = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle1_50000", 0)
    it1_short = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle1_3000", 1)
    it1_long = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle1_9000", 1)
    unknown = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle1_99999", None)
    files = [it0_long, it1_short, it1_long, unknown]
    wanted = [it1_long, it1_short, it0_long, unknown]

    _touch(files)  # all copied at once
    assert find_predictions(tmp_path / "m1.mp4") == wanted
    # the oldest file on disk is the newest model's (it was copied first): still first
    _touch([it1_long], SAME_TIME - 3600)
    _touch([unknown], SAME_TIME + 3600)
    assert find_predictions(tmp_path / "m1.mp4") == wanted
    # the same order whatever the order of the names on disk
    for p in files:
        p.rename(p.with_name(p.name + ".tmp"))
    for p in reversed(files):
        p.with_name(p.name + ".tmp").rename(p)
    assert find_predictions(tmp_path / "m1.mp4") == wanted


def test_the_file_time_decides_only_between_files_of_one_model(tmp_path) -> None:
    (tmp_path / "m1.mp4").write_bytes(b"")
    # two shuffles of iteration 0 trained as long: the file time, then the name
    s1 = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle1_5000", 0)
    s2 = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle2_5000", 0)
    older_model = _analysis(tmp_path, "m1", "DLC_resnet50_tJan1shuffle3_1000", 0)
    _touch([s1, s2])
    _touch([older_model], SAME_TIME + 3600)  # the newest file
    assert find_predictions(tmp_path / "m1.mp4") == [s2, s1, older_model]
    _touch([s1], SAME_TIME + 60)
    assert find_predictions(tmp_path / "m1.mp4") == [s1, s2, older_model]


def test_filtered_files_and_a_projects_list_follow_the_same_order(tmp_path) -> None:
    project = create_project("t", "me", working_directory=tmp_path)
    videos = project.path / "videos"
    (videos / "m1.mp4").write_bytes(b"")
    older = _analysis(videos, "m1", "DLC_resnet50_tJan1shuffle1_50000", 0)
    newer = _analysis(videos, "m1", "DLC_resnet50_tJan1shuffle1_2000", 1)
    for path in (older, newer):
        filtered_path(path).write_bytes(b"")
    files = [older, newer, filtered_path(older), filtered_path(newer)]
    _touch(files)
    _touch([newer, filtered_path(newer)], SAME_TIME - 86400)
    assert find_predictions(videos / "m1.mp4", filtered=True) == [
        filtered_path(newer),
        filtered_path(older),
    ]
    assert prediction_files(project) == [
        newer,
        older,
        filtered_path(newer),
        filtered_path(older),
    ]


def test_a_shuffle_without_a_posekit_network_takes_the_file_that_names_it(
    tmp_path, caplog
) -> None:
    """QA s23 (DeepLabCut 3 user) 1: shuffle 1 holds DeepLabCut 3's own network.

    filter/labeled-video/plot_trajectories with shuffle=1 took posekit's shuffle-2
    file (50 iterations, 196 px test error) over DeepLabCut 3's shuffle-1 file,
    silently: the newest model came first whatever shuffle it was.
    """
    from posekit.engine.postprocessing import names_shuffle, network_predictions

    project = create_project("t", "me", working_directory=tmp_path)
    videos = project.path / "videos"
    videos.mkdir(exist_ok=True)
    (videos / "m4.mp4").write_bytes(b"")
    dlc3 = _analysis(videos, "m4", "DLC_Resnet50_tJan1shuffle1_snapshot_200", 0)
    ours = _analysis(videos, "m4", "DLC_effnet_lite0_tJan1shuffle2_50", 0)
    _touch([dlc3, ours])
    assert find_predictions(videos / "m4.mp4")[0] == ours  # no shuffle: newest model
    with caplog.at_level("WARNING", logger="posekit"):
        assert network_predictions(project, videos / "m4.mp4", 1)[0] == dlc3
        assert "made by another network" not in caplog.text
        # a shuffle no file names: the newest file, and a warning names it
        assert network_predictions(project, videos / "m4.mp4", 3)[0] == ours
    assert "no predictions of shuffle 3 (no file names it); using m4DLC_eff" in (
        caplog.text
    )
    assert names_shuffle(dlc3, 1) and not names_shuffle(ours, 1)
    assert not names_shuffle(videos / "m4DLC_x_tJan1shuffle12_50.h5", 1)
