"""Frames of two sizes in one project train and predict as well as frames of one size.

The demo's side view renders videos of 416×374 and 320×235 (235 is odd, and 374 is not
a multiple of the backbone stride: both used to shift every prediction by up to 10 px;
the animal is also 1.3× smaller in the smaller frames). A short training must reach a
test error on the smaller frames within 1.5× of the larger frames'.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine.demo import make_demo_project
from posekit.engine.inference import KerasPredictor
from posekit.engine.models.pose_model import PoseModelConfig
from posekit.engine.training import TrainConfig, Trainer


def _labelled_frames(project):
    images, keypoints = [], []
    for video in ("session1", "session2"):
        df = pd.read_hdf(project.labels_path(video))
        for p, row in zip(df.index, df.to_numpy(float), strict=True):
            rel = p if isinstance(p, str) else "/".join(p)
            img = cv2.imread(str(project.path / rel))
            images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            keypoints.append(row.reshape(-1, 2))
    return images, np.stack(keypoints)


@pytest.mark.slow
def test_smaller_frames_train_as_well_as_larger_ones(tmp_path):
    project = make_demo_project(
        tmp_path,
        view="side",
        frame_sizes=[(416, 374), (320, 235)],
        n_frames=240,
        n_labeled=40,
    )
    images, kp = _labelled_frames(project)
    sizes = {img.shape[:2] for img in images}
    assert sizes == {(374, 416), (234, 320)}  # MPEG-4 makes the height even
    test = np.arange(len(images)) % 4 == 0
    trainer = Trainer(
        PoseModelConfig(
            bodyparts=tuple(project.bodyparts),
            backbone="efficientnet_lite0",
            weights="imagenet",
        ),
        TrainConfig(batch_size=8, max_iterations=250, eval_interval=0, save_interval=0),
        tmp_path / "train",
        progress=False,
    )
    idx = np.flatnonzero(~test)
    trainer.fit([images[i] for i in idx], kp[idx])
    lo, hi = trainer.train_config.augment.scale_range
    assert lo <= 1 / 1.3 and hi >= 1.3  # the scale augmentation covers both sizes
    te = np.flatnonzero(test)
    pred = KerasPredictor(trainer.model, batch_size=1)([images[i] for i in te])
    err = np.linalg.norm(pred[..., :2] - kp[te], axis=-1)
    small = np.array([images[i].shape[0] == 234 for i in te])
    large_err, small_err = np.nanmean(err[~small]), np.nanmean(err[small])
    assert large_err < 6.0, (large_err, small_err)  # it trained
    assert small_err <= 1.5 * large_err, (large_err, small_err)
