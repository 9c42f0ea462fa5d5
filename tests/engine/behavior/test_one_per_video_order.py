"""``posekit behavior`` on a folder keeps the newest network's predictions per video.

QA s17: ``one_per_video`` chose by file time, so a copied folder (``cp -r``, rsync:
every file the same time, or the older network's written last) could measure the
older network. It now orders as ``find_predictions`` does
(:func:`posekit.engine.postprocessing.model_order`: the model's iteration, then its
training iterations; the file time only between files of one model).
"""

from __future__ import annotations

import os

import pytest

from posekit.engine.behavior.session import find_tracking_files, one_per_video

OLD = "DLC_effnet_lite0_demoJan1shuffle1_192"
NEW = "DLC_effnet_lite0_demoJan1shuffle1_280"


def _touch(folder, names_oldest_first: list[str], same_time: bool = False) -> None:
    for age, name in enumerate(reversed(names_oldest_first)):
        path = folder / name
        path.write_bytes(b"")
        stamp = 1_700_000_000 - (0 if same_time else 100 * age)
        os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("same_time", [False, True])
def test_the_newest_network_wins_over_the_newest_file(tmp_path, same_time) -> None:
    # the newer network's file written first (or all copied at once)
    _touch(tmp_path, [f"session1{NEW}.h5", f"session1{OLD}.h5"], same_time)
    found = find_tracking_files(tmp_path, "*.h5")
    assert [p.name for p in found] == [f"session1{NEW}.h5"]


def test_filtered_and_h5_of_the_newest_network(tmp_path) -> None:
    names = [
        f"m1{NEW}.h5",
        f"m1{NEW}_filtered.h5",
        f"m1{NEW}.csv",  # the same model's CSV, written after its .h5
        f"m1{OLD}.h5",
        f"m1{OLD}_filtered.h5",  # the older network filtered last
        f"m2{NEW}.csv",  # only a CSV of the newer network: it beats the older .h5
        f"m2{OLD}.h5",
    ]
    _touch(tmp_path, names)
    kept = one_per_video([tmp_path / n for n in names])
    assert [p.name for p in kept] == [f"m1{NEW}_filtered.h5", f"m2{NEW}.csv"]
