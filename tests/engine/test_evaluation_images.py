"""``evaluate_network(config, plotting=True)`` draws every labelled frame, as DLC does.

QA s18 (jupyterlab #8): posekit drew only the test frames (12 of 60), named
``labeled-data_<video>_<image>.png``; DeepLabCut draws every labelled frame into
``LabeledImages_<DLCscorer>_snapshot-<N>/`` and names them
``Training-<video>-<image>.png`` and ``Test-<video>-<image>.png``
(``deeplabcut.utils.visualization.save_labeled_frame``). Multi-animal projects drew
nothing at all.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import cv2
import pytest

import posekit.engine as deeplabcut
from posekit.engine.dataset import load_training_set
from posekit.engine.demo import make_demo_project


def _train(project, iterations: int = 2) -> None:
    deeplabcut.train_network(
        project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=iterations,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
        save_interval_s=0,
    )


def _expected_names(project) -> set[str]:
    """DeepLabCut's names, from the recorded split and the labelled images' paths."""
    ts = load_training_set(project)
    names = set()
    for prefix, idx in (("Training", ts.train_indices), ("Test", ts.test_indices)):
        for i in idx:
            video, image = PurePosixPath(ts.paths[i]).parts[-2:]
            names.add(f"{prefix}-{video}-{image}")
    return names


def _labeled_images(project, iteration: int):
    (folder,) = project.evaluation_dir(1).glob(f"LabeledImages_*_snapshot-{iteration}")
    return folder


def test_plotting_draws_every_labelled_frame_named_as_deeplabcut(tmp_path) -> None:
    project = make_demo_project(tmp_path, n_frames=40, n_labeled=10, size=(160, 120))
    _train(project)
    config = str(project.config_path)
    expected = _expected_names(project)
    ts = load_training_set(project)
    assert len(ts.train_indices) + len(ts.test_indices) == 10
    assert 0 < len(ts.test_indices) < 10  # both kinds of image
    deeplabcut.evaluate_network(config, plotting=True)
    folder = _labeled_images(project, 2)
    assert folder.name.startswith("LabeledImages_DLC_")
    assert {p.name for p in folder.iterdir()} == expected
    # an earlier evaluation's image of a frame in the other split, posekit's old
    # names: removed by the next evaluation; another file is left alone
    trained_on = sorted(n for n in expected if n.startswith("Training-"))[0]
    (folder / trained_on.replace("Training-", "Test-", 1)).write_bytes(b"old")
    (folder / "labeled-data_session1_img0001.png").write_bytes(b"old")
    (folder / "mine.png").write_bytes(b"kept")

    deeplabcut.evaluate_network(config, plotting=True)
    written = {p.name for p in folder.iterdir()}
    assert written == expected | {"mine.png"}
    assert sum(n.startswith("Training-") for n in written) == len(ts.train_indices)
    assert sum(n.startswith("Test-") for n in written) == len(ts.test_indices)
    # each is its frame, drawn on (labels and predictions)
    for prefix, idx in (("Training", ts.train_indices), ("Test", ts.test_indices)):
        i = int(idx[0])
        video, image = PurePosixPath(ts.paths[i]).parts[-2:]
        drawn = cv2.imread(str(folder / f"{prefix}-{video}-{image}"))
        assert drawn.shape == ts.images[i].shape
        assert (drawn[..., ::-1] != ts.images[i]).any()


@pytest.mark.slow
def test_a_multianimal_project_draws_every_labelled_frame_too(tmp_path) -> None:
    project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    _train(project)
    deeplabcut.evaluate_network(str(project.config_path), plotting=True)
    folder = _labeled_images(project, 2)
    names = {p.name for p in folder.iterdir()}
    assert names == _expected_names(project)
    assert len(names) == 6
    assert any(n.startswith("Test-") for n in names)
    image = cv2.imread(str(next(folder.glob("Training-*.png"))))
    assert image.shape == (240, 320, 3)
