"""A training prints no NumPy 2 ``copy`` keyword warning (QA s18 #9).

Keras 3 saves each variable through ``np.array(variable)``; its variables'
``__array__`` takes no ``copy`` keyword, so NumPy 2 warned once per variable at
every snapshot (several lines in a notebook). posekit hides exactly that warning
where it saves (:func:`posekit.engine.models.pose_model.save_pose_model`).
"""

from __future__ import annotations

import warnings

from posekit.engine.api import train_network
from posekit.engine.model_folder import ModelFolder

NO_COPY = "__array__ implementation doesn't accept a copy keyword"


def test_a_tiny_training_emits_no_copy_keyword_warning(demo_project) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # the suite's config ignores Keras' ones
        train_network(
            demo_project,
            backbone="mobilenet_v2_0.35",
            max_iterations=2,
            batch_size=2,
            crop_size=(64, 64),
            progress=False,
            eval_interval=0,
        )
    assert ModelFolder.of(demo_project, 1).snapshots()  # a snapshot was saved
    copy_warnings = [w for w in seen if NO_COPY in str(w.message)]
    assert copy_warnings == [], [
        f"{w.category.__name__} at {w.filename}:{w.lineno}" for w in copy_warnings
    ]


def test_only_that_warning_is_hidden(tmp_path) -> None:
    """Other warnings raised while saving still reach the caller."""
    from posekit.engine.models import pose_model

    class Model:
        def save(self, path):
            warnings.warn(
                f"{NO_COPY}, so passing copy=False failed.",
                DeprecationWarning,
                stacklevel=2,
            )
            warnings.warn("something else", DeprecationWarning, stacklevel=2)
            path.write_bytes(b"model")

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pose_model.save_pose_model(Model(), tmp_path / "m.keras")
    assert [str(w.message) for w in seen] == ["something else"]
    assert (tmp_path / "m.keras").read_bytes() == b"model"
