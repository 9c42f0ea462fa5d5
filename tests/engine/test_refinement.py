"""Outlier criteria, outlier extraction, merge_datasets and the warm start.

Outlier extraction goes into DeepLabCut's layout (images + machinelabels-iter<N>.h5).

Every criterion test builds smooth, noisy trajectories (walking speeds of a few px per
frame, likelihoods 0.85-1), injects errors at known frames and asserts that the
criterion finds exactly those frames: all found, none invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.engine.dataset import create_training_dataset, load_split
from posekit.engine.demo import load_ground_truth
from posekit.engine.io.dlc import (
    LabelError,
    index_to_paths,
    predictions_frame,
    write_predictions,
)
from posekit.engine.labels import LabelStore
from posekit.engine.model_folder import ModelFolder
from posekit.engine.postprocessing import network_scorer
from posekit.engine.project import load_project
from posekit.engine.refinement import (
    CRITERIA,
    extract_outlier_frames,
    fitting_scores,
    jump_scores,
    likelihood_scores,
    machine_labels_path,
    merge_datasets,
    outlier_advice,
    outlier_scores,
    predict_augmented,
    read_machine_labels,
    select_diverse,
    snapshot_tta_augmentations,
    tta_augmentations,
    tta_predictions,
    tta_scores,
)

T, K = 400, 4


def smooth_tracks(seed: int = 0, noise: float = 0.8) -> np.ndarray:
    """``(T, K, 3)``: wandering keypoints (<= ~5 px/frame), likelihood 0.85-1."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (1, K))
    x = 160 + 90 * np.sin(2 * np.pi * t / 180 + phase) + 20 * np.sin(t / 13 + phase)
    y = 120 + 70 * np.cos(2 * np.pi * t / 240 + phase) + 15 * np.cos(t / 17 + phase)
    xy = np.stack([x, y], -1) + rng.normal(0, noise, (T, K, 2))
    p = rng.uniform(0.85, 1.0, (T, K, 1))
    return np.concatenate([xy, p], -1)


def offset(xyp: np.ndarray, frames, keypoint: int, dx: float, dy: float) -> None:
    for f in np.atleast_1d(frames):
        xyp[f, keypoint, 0] += dx
        xyp[f, keypoint, 1] += dy


def found(scores, name: str) -> list[int]:
    return scores.outliers(name).tolist()


def test_jump_finds_single_frame_glitches_and_nothing_else():
    xyp = smooth_tracks(1)
    glitches = {37: (0, 45, 0), 120: (1, -30, 25), 121: (3, 0, -60), 305: (2, 28, 28)}
    for f, (k, dx, dy) in glitches.items():
        offset(xyp, f, k, dx, dy)
    scores = outlier_scores(xyp, ["jump"])
    assert found(scores, "jump") == sorted(glitches)
    # the score is the glitch size (minus the motion), in pixels
    assert jump_scores(xyp)[37] == pytest.approx(45, abs=8)


def test_uncertain_finds_frames_below_pcutoff():
    xyp = smooth_tracks(2)
    unsure = [5, 88, 89, 250, 399]
    for i, f in enumerate(unsure):
        xyp[f, i % K, 2] = 0.1 + 0.1 * i
    scores = outlier_scores(xyp, ["uncertain"], pcutoff=0.6)
    assert found(scores, "uncertain") == unsure
    assert scores.thresholds["uncertain"] == pytest.approx(0.4)
    assert likelihood_scores(xyp)[5] == pytest.approx(0.9)


@pytest.mark.parametrize("method", ["savgol", "kalman"])
def test_fitting_finds_runs_of_wrong_frames(method):
    xyp = smooth_tracks(3)
    wrong = {60: 1, 61: 1, 62: 1, 150: 1, 151: 1, 230: 1, 331: 3}  # runs of 3, 2, 1, 1
    for f, k in wrong.items():
        offset(xyp, f, k, 35, -25)
    offset(xyp, 230, 0, -40, 0)  # two keypoints wrong on one frame
    scores = outlier_scores(xyp, ["fitting"], params={"fitting": {"method": method}})
    assert found(scores, "fitting") == sorted(wrong)
    # a jump-only view misses the runs (their frames jump in once, not out)
    assert 61 not in found(outlier_scores(xyp, ["jump"]), "jump")


def test_fitting_ignores_points_below_min_likelihood():
    xyp = smooth_tracks(4)
    offset(xyp, 200, 0, 80, 80)
    xyp[200, 0, 2] = 0.05
    assert fitting_scores(xyp, min_likelihood=0.1)[200] < 10
    assert fitting_scores(xyp)[200] > 50


def test_fitting_can_fit_without_uncertain_points_and_still_score_them():
    """DeepLabCut's ``fitting`` takes points below ``p_bound`` as missing in its fit.

    A run of 8 uncertain frames, 57 px off, is longer than the median gate's
    neighbourhood: fitted with the others, the track follows it (the middle frames'
    residual is small); left out of the fit, every frame of the run is far from it.
    """
    xyp = smooth_tracks(4)
    run = list(range(100, 108))
    offset(xyp, run, 0, 40, 40)
    xyp[run, 0, 2] = 0.005
    assert fitting_scores(xyp)[102:106].max() < 10
    masked = fitting_scores(xyp, fit_min_likelihood=0.01)
    assert masked[run].min() > 50
    assert np.flatnonzero(masked > 20).tolist() == run
    # DeepLabCut's definitions pass p_bound on (the fit leaves those points out)
    from posekit.engine.refinement import _dlc_defaults

    _, params = _dlc_defaults({"uncertain": 1 - 0.05}, None)
    assert params["fitting"] == {"fit_min_likelihood": pytest.approx(0.05)}
    _, params = _dlc_defaults(None, None)
    assert params["fitting"] == {"fit_min_likelihood": pytest.approx(0.01)}


def test_tta_finds_frames_where_augmented_predictions_disagree():
    rng = np.random.default_rng(5)
    xyp = smooth_tracks(5)
    flipped = xyp.copy()
    scaled = xyp.copy()
    flipped[..., :2] += rng.normal(0, 1.0, flipped[..., :2].shape)
    scaled[..., :2] += rng.normal(0, 1.0, scaled[..., :2].shape)
    disagree = [12, 190, 191, 333]
    offset(flipped, [12, 190], 2, 18, 0)
    offset(scaled, [191, 333], 0, 0, -22)
    scores = outlier_scores(xyp, ["tta"], augmented=[flipped, scaled])
    assert found(scores, "tta") == disagree
    with pytest.raises(ValueError, match="augmented"):
        outlier_scores(xyp, ["tta"])


def test_tta_advice_names_a_never_seen_part_that_makes_it_flag_every_frame():
    rng = np.random.default_rng(7)
    xyp = smooth_tracks(7)
    bps = ["nose", "tongue", "ear", "tail"]
    scaled = xyp.copy()
    scaled[..., :2] += rng.normal(0, 0.5, scaled[..., :2].shape)
    offset(scaled, [31, 251], 0, 25, 0)  # two real disagreements on the nose
    # the tongue is never seen: low likelihood, its peak wanders between the copies
    xyp[:, 1, 2] = 0.05
    scaled[:, 1, :2] = rng.uniform(0, 300, (T, 2))
    scaled[::2] = xyp[::2]  # tta compared every other frame only
    scores = outlier_scores(xyp, ["tta"], augmented=[scaled])
    assert len(found(scores, "tta")) > 0.9 * T / 2
    (advice,) = outlier_advice(scores, xyp, bps, pcutoff=0.6, augmented=[scaled])
    assert "'tta' flags 100 % of the frames it compared" in advice
    assert "tongue (100 %)" in advice
    assert "would flag 1 %" in advice  # 2 of the 200 frames compared
    assert "comparisonbodyparts=['nose', 'ear', 'tail']" in advice
    # left out, the tongue no longer floods tta, and there is nothing to advise
    keep = [0, 2, 3]
    scores = outlier_scores(xyp[:, keep], ["tta"], augmented=[scaled[:, keep]])
    assert found(scores, "tta") == [31, 251]
    assert outlier_advice(
        scores, xyp[:, keep], ["nose", "ear", "tail"], pcutoff=0.6,
        augmented=[scaled[:, keep]],
    ) == []  # fmt: skip
    # a part below the p-cutoff but copies that agree: tta flags nothing, no advice
    close = xyp + 0.1
    quiet = outlier_scores(xyp, ["tta"], augmented=[close])
    assert found(quiet, "tta") == []
    assert outlier_advice(quiet, xyp, bps, pcutoff=0.6, augmented=[close]) == []


def test_combined_criteria_find_the_union():
    xyp = smooth_tracks(6)
    offset(xyp, 77, 0, 50, 0)  # jump (and fitting)
    offset(xyp, [140, 141], 2, 0, 40)  # fitting only (a run)
    xyp[260, 1, 2] = 0.2  # uncertain only
    scores = outlier_scores(xyp, ["jump", "uncertain", "fitting"], pcutoff=0.6)
    assert scores.outliers().tolist() == [77, 140, 141, 260]
    assert found(scores, "jump") == [77]
    assert found(scores, "uncertain") == [260]
    assert set(found(scores, "fitting")) == {77, 140, 141}
    assert scores.combined.shape == (T,)
    with pytest.raises(ValueError, match="unknown outlier criteria"):
        outlier_scores(xyp, ["jmup"])
    assert set(CRITERIA) == {"jump", "uncertain", "fitting", "tta", "novelty"}


def dot_predictor(frames):
    """Find the brightest pixel of channel 0 and of channel 1 (a "network")."""
    out = []
    for f in frames:
        pts = []
        for c in (0, 1):
            y, x = np.unravel_index(np.argmax(f[..., c]), f.shape[:2])
            pts.append([float(x), float(y), 1.0])
        out.append(pts)
    return np.array(out)


def test_tta_predictions_map_flips_and_scales_back():
    frames = []
    for x0, y0, x1, y1 in [(40, 30, 100, 60), (10, 70, 150, 20)]:
        yy, xx = np.mgrid[0:90, 0:160]
        f = np.zeros((90, 160, 3), np.uint8)
        f[..., 0] = 255 * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 18)  # "left"
        f[..., 1] = 255 * np.exp(-((xx - x1) ** 2 + (yy - y1) ** 2) / 18)  # "right"
        frames.append(f)
    base = dot_predictor(frames)
    # channel 0 mirrored is still channel 0: with the pair swapped the flip disagrees
    swapped = tta_predictions(dot_predictor, frames, flip_pairs=[(0, 1)], scales=())[0]
    assert np.abs(swapped[:, :, :2] - base[:, ::-1, :2]).max() <= 1.0
    aug = tta_predictions(dot_predictor, frames, scales=(0.5, 2.0))
    assert len(aug) == 3
    for a in aug:
        assert np.abs(a[..., :2] - base[..., :2]).max() <= 1.5
    assert tta_scores(base, aug).max() <= 1.5


def test_tta_uses_only_the_augmentations_the_network_trained_with(tmp_path):
    def record(flip, scale_range=(0.75, 1.25)):
        return {"augment": {"flip_probability": flip, "scale_range": list(scale_range)}}

    # posekit's default trains without mirroring: no mirrored copies
    assert tta_augmentations(record(0.0)) == (False, (0.8, 1.25))
    assert tta_augmentations(record(0.5)) == (True, (0.8, 1.25))
    # rescaled only within the trained range; a rescaling clipped to 1 is left out
    assert tta_augmentations(record(0.0, (0.9, 1.1))) == (False, (0.9, 1.1))
    assert tta_augmentations(record(0.0, (1.0, 1.2))) == (False, (1.2,))
    assert tta_augmentations(record(0.0, (1.0, 1.0))) == (False, ())
    # unknown training (a predictor of the caller's own): mirrored and rescaled
    assert tta_augmentations(None) == (True, (0.8, 1.25))
    assert snapshot_tta_augmentations(ModelFolder(tmp_path)) == (True, (0.8, 1.25))
    with pytest.raises(ValueError, match="no augmentation"):
        predict_augmented(dot_predictor, [], ["left", "right"], (False, ()))


def test_select_diverse_takes_the_best_of_each_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    feats = np.concatenate([c + rng.normal(0, 0.3, (5, 2)) for c in centres])
    scores = rng.uniform(0, 1, 15)
    picked = select_diverse(scores, feats, 3)
    assert len(picked) == 3
    for c in range(3):
        members = np.arange(5 * c, 5 * c + 5)
        assert members[np.argmax(scores[members])] in picked
    assert select_diverse(scores[:2], feats[:2], 3).tolist() == [0, 1]


# ------------------------------------------------------------------ on the demo project

SCORER = "DLC_effnet_lite0_demoJan1shuffle1_500"


def write_fake_analysis(project, errors: dict[int, float]) -> tuple:
    """Predictions = ground truth + errors at known frames, named as analyze_videos."""
    truth, _ = load_ground_truth(project, "session1")
    rng = np.random.default_rng(0)
    xyp = np.concatenate(
        [
            truth + rng.normal(0, 0.3, truth.shape),
            np.full(truth.shape[:2] + (1,), 0.97),
        ],
        -1,
    )
    for f, dx in errors.items():
        xyp[f, 0, 0] += dx
    video = project.videos()[0]
    # a trained project: as its network's analysis (extract-outliers refuses another
    # network's, QA s16 finding 2)
    scorer = network_scorer(project) or SCORER
    path = video.with_name(video.stem + scorer + ".h5")
    write_predictions(predictions_frame(xyp, scorer, project.bodyparts), path)
    return video, xyp


def test_extract_outlier_frames_into_dlc_layout(demo_project):
    errors = {15: 60.0, 47: -55.0, 48: -55.0, 90: 70.0}  # none extracted before
    video, xyp = write_fake_analysis(demo_project, errors)
    (res,) = extract_outlier_frames(
        demo_project, [video], criteria=["jump", "fitting"], n=10
    )
    assert res.candidates.tolist() == sorted(errors)
    assert res.picked.tolist() == sorted(errors)
    assert [p.name for p in res.images] == ["img015.png", "img047.png", "img048.png",
                                            "img090.png"]  # fmt: skip
    assert all(p.is_file() for p in res.images)
    # machinelabels-iter0.h5 in DeepLabCut's layout, with the network's predictions
    path = machine_labels_path(demo_project, "session1")
    assert path == res.machine_labels
    assert path.name == "machinelabels-iter0.h5"
    assert (path.parent / "machinelabels.csv").is_file()
    df = pd.read_hdf(path, "df_with_missing")
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert set(df.columns.get_level_values("scorer")) == {SCORER}
    assert list(dict.fromkeys(df.columns.get_level_values("coords"))) == [
        "x",
        "y",
        "likelihood",
    ]
    assert df.index.nlevels == 3
    assert index_to_paths(df.index)[0] == "labeled-data/session1/img015.png"
    got = df.loc[("labeled-data", "session1", "img047.png"), (SCORER, "snout", "x")]
    assert got == pytest.approx(xyp[47, 0, 0])
    machine = read_machine_labels(demo_project, "session1")
    assert machine["labeled-data/session1/img090.png"][0, 0] == pytest.approx(
        xyp[90, 0, 0]
    )
    # a second run leaves the frames extracted before out and keeps their labels
    (again,) = extract_outlier_frames(
        demo_project, [video], criteria=["jump", "fitting"]
    )
    assert again.picked.tolist() == [] and again.candidates.tolist() == []
    assert len(read_machine_labels(demo_project, "session1")) == 4


def test_outlier_frames_of_an_unlisted_video_add_it_to_video_sets(demo_project):
    """As DeepLabCut's extract_outlier_frames: the video joins ``video_sets``.

    DeepLabCut's create_training_dataset reads only listed videos; a dry run changes
    nothing.
    """
    video, _ = write_fake_analysis(demo_project, {15: 60.0})
    key = str(video)
    demo_project.set("video_sets", {})
    demo_project.save(keys=["video_sets"])
    project = load_project(demo_project.path)
    extract_outlier_frames(project, [video], criteria=["jump"], dry_run=True)
    assert load_project(demo_project.path).video_sets == {}
    (res,) = extract_outlier_frames(project, [video], criteria=["jump"])
    assert res.picked.tolist() == [15]
    listed = load_project(demo_project.path).video_sets
    assert list(listed) == [key] and listed[key]["crop"] == "0, 320, 0, 240"


def test_advice_when_no_bodypart_is_seen_is_to_train_first():
    xyp = np.ones((10, 2, 3))
    xyp[..., 2] = 0.05  # an untrained network: nothing above the p-cutoff
    scores = outlier_scores(xyp, ["uncertain"], pcutoff=0.6)
    (advice,) = outlier_advice(scores, xyp, ["nose", "tail"], pcutoff=0.6)
    assert "every bodypart" in advice and "train it longer" in advice
    assert "comparisonbodyparts" not in advice


def test_extract_outlier_frames_chooses_n_diverse_frames(demo_project):
    # 11 single-frame glitches (the demo's labelled frames 0, 11, 22, ... avoided)
    errors = dict.fromkeys((5, 14, 25, 35, 46, 57, 68, 79, 90, 100, 111), 60.0)
    video, _ = write_fake_analysis(demo_project, errors)
    (res,) = extract_outlier_frames(demo_project, [video], criteria=["jump"], n=5)
    assert len(res.picked) == 5
    assert set(res.picked) <= set(errors)
    assert len(read_machine_labels(demo_project, "session1")) == 5
    (dry,) = extract_outlier_frames(
        demo_project, [video], criteria=["jump"], n=30, fill=True, dry_run=True
    )
    assert len(dry.picked) == 30 and not dry.images  # filled up with the next scores
    assert set(errors) - set(res.picked) <= set(dry.picked)


def test_uncertain_names_bodyparts_below_the_pcutoff_in_most_frames(demo_project):
    video, xyp = write_fake_analysis(demo_project, {})
    (clean,) = extract_outlier_frames(
        demo_project, [video], criteria=["uncertain"], n=5, dry_run=True
    )
    assert clean.advice == [] and len(clean.candidates) == 0
    # the second bodypart is below the p-cutoff in 80 % of the frames (a tongue that
    # is mostly in): 'uncertain' flags those frames and says which part and what to do
    xyp[: int(0.8 * len(xyp)), 1, 2] = 0.05
    bps = demo_project.bodyparts
    write_predictions(
        predictions_frame(xyp, SCORER, bps),
        video.with_name(video.stem + SCORER + ".h5"),
    )
    (res,) = extract_outlier_frames(
        demo_project, [video], criteria=["uncertain"], n=5, dry_run=True
    )
    assert len(res.advice) == 1
    assert f"{bps[1]} (80 %)" in res.advice[0]
    assert "comparisonbodyparts" in res.advice[0] and res.advice[0] in res.summary()
    assert str(res) == res.summary()  # print(result) reads as the CLI does
    assert "'novelty' criterion" in res.advice[0]
    (only,) = extract_outlier_frames(
        demo_project,
        [video],
        criteria=["uncertain"],
        n=5,
        dry_run=True,
        comparisonbodyparts=[b for b in bps if b != bps[1]],
    )
    assert only.advice == [] and len(only.candidates) == 0


def test_extract_outlier_frames_without_analysis(demo_project):
    with pytest.raises(FileNotFoundError, match="analyse"):
        extract_outlier_frames(demo_project)


def label_frames(project, frames):
    truth, _ = load_ground_truth(project, "session1")
    store = LabelStore(project, "session1")
    for f in frames:
        idx = int(f.rsplit("img", 1)[1].split(".")[0])
        store.apply(
            f, {bp: tuple(truth[idx, j]) for j, bp in enumerate(project.bodyparts)}
        )


def test_merge_datasets_keeps_test_frames_and_raises_only_the_iteration(demo_project):
    create_training_dataset(demo_project)
    split0 = load_split(demo_project)
    before = demo_project.config_path.read_text()
    with pytest.raises(Exception, match="Nothing to merge"):
        merge_datasets(demo_project)
    errors = {30: 60.0, 70: -60.0, 100: 50.0}
    video, _ = write_fake_analysis(demo_project, errors)
    (res,) = extract_outlier_frames(demo_project, [video], criteria=["jump"])
    rel = [f"labeled-data/session1/{p.name}" for p in res.images]
    # extracted but not corrected: the message says that this is what is missing
    # (it said to extract outlier frames, which had been done; QA s15, finding 8)
    with pytest.raises(LabelError, match=r"3 outlier frame\(s\) were extracted.*none"):
        merge_datasets(demo_project)
    label_frames(demo_project, rel[:2])  # the third one is not refined
    demo_project.set("dotsize", 99)  # an unsaved change elsewhere is not written
    result = merge_datasets(demo_project)
    assert (result.previous_iteration, result.iteration) == (0, 1)
    assert sorted(result.refined_frames) == rel[:2]
    assert list(result.unrefined_frames) == rel[2:]
    after = demo_project.config_path.read_text()
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [("iteration: 0", "iteration: 1")]
    assert load_project(demo_project.path).iteration == 1
    # the new training set: the old test frames are the test frames, new ones train
    split1 = load_split(demo_project)
    assert "iteration-1" in str(demo_project.training_set_dir())
    merged = pd.read_hdf(
        demo_project.training_set_dir() / "CollectedData_posekit.h5", "df_with_missing"
    )
    paths = index_to_paths(merged.index)
    old_merged = pd.read_hdf(
        demo_project.path
        / "training-datasets"
        / "iteration-0"
        / "UnaugmentedDataSet_demoJan1"
        / "CollectedData_posekit.h5",
        "df_with_missing",
    )
    old_paths = index_to_paths(old_merged.index)
    old_test = sorted(old_paths[i] for i in split0.test_indices)
    assert sorted(paths[i] for i in split1.test_indices) == old_test
    assert sorted(result.test_frames) == old_test
    train1 = {paths[i] for i in split1.train_indices}
    assert set(rel[:2]) <= train1 and rel[2] not in paths
    assert len(paths) == len(old_paths) + 2


class _Weights:
    """Callback that keeps the network's weights after the first training step."""

    def __init__(self) -> None:
        self.trainer = None
        self.after_first_step = None

    def hook(self, trainer) -> None:
        self.trainer = trainer

    def __getattr__(self, name):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step(self, iteration, logs) -> None:
        if self.after_first_step is None:
            model = self.trainer.model
            self.after_first_step = [
                v.numpy().copy() for v in model.trainable_variables
            ]


def _max_difference(a, b) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_training_after_a_merge_starts_from_the_previous_model(demo_project):
    from posekit.engine.api import previous_snapshot, train_network
    from posekit.engine.models.pose_model import load_pose_model

    tiny = {"max_iterations": 3, "batch_size": 2, "crop_size": (64, 64)}
    tiny["progress"] = False
    first = train_network(  # long enough to move away from its random start
        demo_project,
        backbone="mobilenet_v2_0.35",
        weights=None,
        eval_interval=0,
        **{**tiny, "max_iterations": 80},
    )
    assert first.initialised_from is None and previous_snapshot(demo_project) is None
    errors = {30: 60.0, 70: -60.0}
    video, _ = write_fake_analysis(demo_project, errors)
    (res,) = extract_outlier_frames(demo_project, [video], criteria=["jump"])
    label_frames(demo_project, [f"labeled-data/session1/{p.name}" for p in res.images])
    merge_datasets(demo_project)
    assert previous_snapshot(demo_project) == first.snapshot
    previous = [v.numpy() for v in load_pose_model(first.snapshot).trainable_variables]

    warm, cold = _Weights(), _Weights()
    second = train_network(
        demo_project, callbacks=[warm], trainer_hook=warm.hook, eval_interval=0, **tiny
    )
    assert second.initialised_from == first.snapshot
    assert "iteration-1" in str(second.train_dir)
    assert second.start_iteration == 0 and second.iteration == 3
    # one step (Adam moves each weight by about the learning rate) from the previous
    # model's weights
    assert _max_difference(warm.after_first_step, previous) < 5e-3
    pose_cfg = (second.train_dir / "pose_cfg.yaml").read_text()
    assert f"init_weights: {first.snapshot.with_suffix('')}" in pose_cfg
    assert "mobilenet_v2" in pose_cfg  # the previous network, not the default backbone
    # from the backbone's weights instead (the same random start as the first run):
    # far from the previous model
    third = train_network(
        demo_project,
        resume=False,
        init_from=None,
        backbone="mobilenet_v2_0.35",
        weights=None,
        callbacks=[cold],
        trainer_hook=cold.hook,
        eval_interval=0,
        **tiny,
    )
    assert third.initialised_from is None
    assert _max_difference(cold.after_first_step, previous) > 0.02


def test_multi_animal_outliers_prefill_the_labeller_and_merge(tmp_path):
    """maDLC: outliers from the tracks (it refused: "holds several animals").

    A jump of one animal's snout is found; the frames get four-level machine labels
    that the labeller opens as each animal's points; accepted, they are labels and
    merge into iteration 1.
    """
    from posekit.engine.demo import make_demo_project
    from posekit.engine.multianimal.labels import slot_name
    from posekit.widgets.labeler_model import LabelerModel

    project = make_demo_project(
        tmp_path, n_animals=2, n_frames=60, n_labeled=4, size=(200, 150)
    )
    create_training_dataset(project)
    truth, _ = load_ground_truth(project, "session1")  # (T, animal, part, 2)
    xyp = np.concatenate([truth, np.full(truth.shape[:3] + (1,), 0.97)], -1)
    xyp[33, 1, 0, 0] += 40.0  # mouse2's snout jumps away and back
    video = project.videos()[0]
    scorer = "DLC_effnet_lite0_social2Jan1shuffle1_100"
    df = predictions_frame(
        xyp, scorer, project.bodyparts, individuals=project.individuals
    )
    write_predictions(df, video.with_name(f"{video.stem}{scorer}_el.h5"))
    with pytest.raises(ValueError, match="'jump', 'uncertain' and 'fitting'"):
        extract_outlier_frames(project, [video], criteria=["tta"])
    (res,) = extract_outlier_frames(
        project, [video], criteria=["jump"], comparisonbodyparts=["snout"]
    )
    assert res.candidates.tolist() == [33] and res.picked.tolist() == [33]
    table = pd.read_hdf(res.machine_labels, "df_with_missing")
    assert table.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    frame = "labeled-data/session1/img33.png"
    machine = read_machine_labels(project, "session1")[frame]
    names = [slot_name(i, b) for i in project.individuals for b in project.bodyparts]
    assert machine.shape == (12, 3)
    np.testing.assert_allclose(machine, xyp[33].reshape(12, 3))
    # the labeller shows them as each animal's points; accepted, they are labels
    model = LabelerModel(project)
    model.goto(frame)
    shown = model.machine_points()
    assert set(shown) == set(names)
    assert shown[slot_name("mouse2", "snout")][:2] == pytest.approx(
        tuple(xyp[33, 1, 0, :2])
    )
    model.accept_frame()
    store = LabelStore(project, "session1")
    np.testing.assert_allclose(store.get(frame), xyp[33, :, :, :2].reshape(12, 2))
    result = merge_datasets(project)
    assert result.iteration == 1 and frame in result.refined_frames
    with pytest.raises(ValueError, match="extract-outliers"):
        from posekit.engine.refinement import predict_machine_labels

        predict_machine_labels(project)


def _tracks_with_a_jump(project, video, scorer, suffix: str, frame: int):
    """Write ``<video><scorer>_<suffix>.h5``: the truth, mouse2's snout off at ``frame``."""
    truth, _ = load_ground_truth(project, "session1")  # (T, animal, part, 2)
    xyp = np.concatenate([truth, np.full(truth.shape[:3] + (1,), 0.97)], -1)
    xyp[frame, 1, 0, 0] += 40.0
    path = video.with_name(f"{video.stem}{scorer}_{suffix}.h5")
    df = predictions_frame(
        xyp, scorer, project.bodyparts, individuals=project.individuals
    )
    write_predictions(df, path)
    return path


def test_multi_animal_outliers_score_the_tracks_of_track_method(tmp_path, capsys):
    """QA s22 (madlc), finding 5: the tracker's tracks file, not the newest one.

    ``extract_outlier_frames`` took the newest tracks file (a ``_bx.h5`` written
    after the ``_el.h5``) and ignored ``track_method``. As DeepLabCut, and as
    ``filterpredictions``/``create_labeled_video`` do, it reads the tracks of
    ``track_method``, by default the config's ``default_track_method`` (else
    ellipse); ``posekit extract-outliers --track-method`` too.
    """
    import os

    from posekit.engine.cli import main
    from posekit.engine.demo import make_demo_project

    project = make_demo_project(
        tmp_path, n_animals=2, n_frames=60, n_labeled=4, size=(200, 150)
    )
    create_training_dataset(project)
    video = project.videos()[0]
    scorer = "DLC_effnet_lite0_social2Jan1shuffle1_100"
    el = _tracks_with_a_jump(project, video, scorer, "el", 33)
    bx = _tracks_with_a_jump(project, video, scorer, "bx", 44)
    later = el.stat().st_mtime + 60
    os.utime(bx, (later, later))  # the box tracker's tracks are the newest file
    assert project.get("default_track_method") in (None, "ellipse")
    kw = {"criteria": ["jump"], "comparisonbodyparts": ["snout"], "dry_run": True}
    (res,) = extract_outlier_frames(project, [video], **kw)
    assert res.predictions == el and res.candidates.tolist() == [33]
    (res,) = extract_outlier_frames(project, [video], track_method="box", **kw)
    assert res.predictions == bx and res.candidates.tolist() == [44]
    (res,) = extract_outlier_frames(project, **kw)  # the project's analysed videos
    assert res.predictions == el
    project.set("default_track_method", "box")
    project.save()
    (res,) = extract_outlier_frames(project.config_path, [video], **kw)
    assert res.predictions == bx and res.candidates.tolist() == [44]
    with pytest.raises(
        FileNotFoundError,
        match=r"not been analysed with the 'keypoints' tracker.*"
        r"_el\.h5 \(track_method='ellipse'\).*posekit extract-outliers --track-method",
    ):
        extract_outlier_frames(project, [video], track_method="keypoints", **kw)
    capsys.readouterr()
    args = ["extract-outliers", str(project.path), str(video), "--criteria", "jump"]
    args += ["--bodyparts", "snout", "--dry-run", "--track-method", "ellipse"]
    assert main(args) == 0
    assert "  frames: 33\n" in capsys.readouterr().out


def test_merge_messages_of_a_multi_animal_project(tmp_path, caplog):
    """QA s22 (madlc), finding 6: what works there; the iteration logged once.

    "Nothing to merge yet" pointed a multi-animal project to ``posekit label
    --from-predictions``, which refuses multi-animal projects; a merge logged its
    iteration change twice.
    """
    import logging

    from posekit.engine.demo import make_demo_project
    from posekit.widgets.labeler_model import LabelerModel

    project = make_demo_project(
        tmp_path, n_animals=2, n_frames=60, n_labeled=4, size=(200, 150)
    )
    create_training_dataset(project)
    video = project.videos()[0]
    _tracks_with_a_jump(
        project, video, "DLC_effnet_lite0_social2Jan1shuffle1_100", "el", 33
    )
    (res,) = extract_outlier_frames(
        project, [video], criteria=["jump"], comparisonbodyparts=["snout"]
    )
    assert res.picked.tolist() == [33]
    with pytest.raises(LabelError, match="Nothing to merge yet") as err:
        merge_datasets(project)
    assert "--from-predictions" not in str(err.value)
    assert "refine app" in str(err.value) and "notebooks/label.ipynb" in str(err.value)
    model = LabelerModel(project)
    model.goto("labeled-data/session1/img33.png")
    model.accept_frame()
    with caplog.at_level(logging.INFO, logger="posekit"):
        assert merge_datasets(project).iteration == 1
    said = [r.getMessage() for r in caplog.records if "0 -> 1" in r.getMessage()]
    assert said == ["config.yaml: iteration: 0 -> 1"]
