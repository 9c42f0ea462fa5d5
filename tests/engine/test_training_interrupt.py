"""Interrupting ``train_network`` stops the caller after saving (QA s18 jupyterlab #2).

``train_network`` used to catch Ctrl-C (Jupyter's *Interrupt*), save a snapshot and
return normally, so *Run All* went on and the next cells (evaluate, analyse) ran on
the half-trained network. It now saves, then raises ``KeyboardInterrupt`` again.
"""

from __future__ import annotations

import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder
from posekit.engine.models.pose_model import load_pose_model
from posekit.engine.training import TrainingCallback

TINY = {
    "backbone": "mobilenet_v2_0.35",
    "weights": None,
    "progress": False,
    "batch_size": 2,
    "crop_size": (64, 64),
    "save_interval_s": 0,
}


class _InterruptAt(TrainingCallback):
    """Raise ``KeyboardInterrupt`` after a step, as Ctrl-C does."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, iteration, logs):
        if iteration == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("n_animals", [1, 2])
def test_an_interrupted_training_saves_then_raises_and_resumes(
    tmp_path, n_animals
) -> None:
    """Single- and multi-animal training: saved, then the interrupt reaches us."""
    from posekit.engine.api import TrainingInterrupted, train_network

    if n_animals == 1:
        project = make_demo_project(
            tmp_path, n_frames=30, n_labeled=11, size=(160, 120)
        )
    else:
        project = make_demo_project(tmp_path, n_animals=2, n_frames=24, n_labeled=6)
    with pytest.raises(KeyboardInterrupt) as caught:
        train_network(
            project,
            max_iterations=50,
            save_interval=1000,
            callbacks=[_InterruptAt(3)],
            **TINY,
        )
    assert isinstance(caught.value, TrainingInterrupted)
    result = caught.value.result
    assert result.stop_reason == "interrupted" and result.iteration == 3
    assert result.snapshot == result.train_dir / "snapshot-3.keras"
    message = str(caught.value)
    assert "interrupted at iteration 3" in message
    assert str(result.snapshot) in message and "train_network again" in message
    assert ModelFolder.of(project, 1).latest().iteration == 3
    load_pose_model(result.snapshot)  # a readable snapshot
    again = train_network(project, max_iterations=5, **TINY)
    assert (again.start_iteration, again.iteration) == (3, 5)
    assert again.stop_reason == "max_iterations"
