"""DeepLabCut's step-by-step tracking verbs: convert_detections2tracklets, stitch_tracklets.

Also DeepLabCut's ``test/inference_cfg.yaml`` (written by create_training_dataset,
read by the analysis and convert_detections2tracklets) and
create_video_with_all_detections, on the same trained model.

A maDLC script analyses with ``auto_track=False``, then calls
``convert_detections2tracklets`` and ``stitch_tracklets``; posekit had neither (the
script stopped with an AttributeError) and refused ``auto_track=False``. The known
answer: the two steps, run on the detections the analysis wrote, give exactly the
tracklets and tracks the one-shot analysis gave.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import posekit.engine as deeplabcut
from posekit.engine.demo import make_demo_project
from posekit.engine.model_folder import ModelFolder


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Return a 2-animal demo project, trained briefly, its video analysed."""
    pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("steps")
    project = make_demo_project(root, n_animals=2, n_frames=24, n_labeled=6)
    deeplabcut.train_network(
        project.config_path,
        backbone="mobilenet_v2_0.35",
        weights=None,
        max_iterations=2,
        progress=False,
        eval_interval=0,
        save_interval_s=0,
    )
    video = project.source_videos()[0]
    outputs = deeplabcut.analyze_videos(
        str(project.config_path), [str(video)], auto_track=False, progress=False
    )
    h5 = Path(outputs[0])
    return project, video, h5


def _stem(h5: Path) -> str:
    return str(h5)[: -len("_el.h5")]


def _read(path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def test_the_steps_remake_what_the_analysis_made(analysed, caplog):
    project, video, h5 = analysed
    stem = _stem(h5)
    tracklets = Path(f"{stem}_el.pickle")
    before = _read(tracklets)
    tracks = pd.read_hdf(h5, "tracks")
    # there already: kept, as DeepLabCut's "tracklets already computed"
    with caplog.at_level(logging.INFO, logger="posekit"):
        found = deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], videotype=".mp4", shuffle=1
        )
    assert found == [tracklets] and "tracklets there already" in caplog.text
    tracklets.unlink()
    h5.unlink()
    made = deeplabcut.convert_detections2tracklets(
        str(project.config_path), [str(video)], shuffle=1, track_method="ellipse"
    )
    assert made == [tracklets]
    again = _read(tracklets)
    assert set(again) == set(before)
    for key, frames in before.items():
        if key == "header":
            assert list(again[key]) == list(frames)
            continue
        assert set(again[key]) == set(frames)
        for frame, value in frames.items():
            np.testing.assert_array_equal(again[key][frame], value)  # NaN = NaN
    out = deeplabcut.stitch_tracklets(
        project.config_path, [str(video)], shuffle=1, min_length=0
    )
    assert out == [h5]
    pd.testing.assert_frame_equal(pd.read_hdf(h5, "tracks"), tracks)


def test_another_tracker_and_number_of_animals(analysed):
    project, video, h5 = analysed
    stem = _stem(h5)
    made = deeplabcut.convert_detections2tracklets(
        project.config_path, [str(video)], track_method="box"
    )
    assert made == [Path(f"{stem}_bx.pickle")]
    out = deeplabcut.stitch_tracklets(
        project.config_path, [str(video)], track_method="box", n_tracks=1, min_length=1
    )
    assert out == [Path(f"{stem}_bx.h5")]
    df = pd.read_hdf(out[0], "tracks")
    assert list(df.columns.get_level_values("individuals").unique()) == ["mouse1"]
    assert len(df) == 24


def test_refusals_say_what_to_do(analysed, tmp_path):
    project, video, h5 = analysed
    with pytest.raises(TypeError, match="calibrate=.*calibration"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], calibrate=True
        )
    with pytest.raises(TypeError, match="transformer_checkpoint=.*re-identification"):
        deeplabcut.stitch_tracklets(
            project.config_path, [str(video)], transformer_checkpoint="reid.pt"
        )
    # a videotype that leaves out the video given tracks nothing (never every video)
    assert (
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], videotype=".avi", overwrite=True
        )
        == []
    )
    with pytest.raises(FileNotFoundError, match="Analyse the video first"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], destfolder=str(tmp_path)
        )
    with pytest.raises(FileNotFoundError, match="convert_detections2tracklets"):
        deeplabcut.stitch_tracklets(
            project.config_path, [str(video)], destfolder=str(tmp_path)
        )


# ------------------------------------------------ test/inference_cfg.yaml

#: DeepLabCut 2.3's deeplabcut/inference_cfg.yaml, less the two keys its
#: create_multianimaltraining_dataset fills in for the project.
DLC_TEMPLATE = {
    "boundingboxslack": 0,
    "iou_threshold": 0.6,
    "max_age": 1,
    "method": "m1",
    "min_hits": 1,
    "pafthreshold": 0.1,
    "pcutoff": 0.1,
    "variant": 0,
    "withid": False,
}


def _inference_cfg(project) -> Path:
    return ModelFolder.of(project, 1).path.parent / "test" / "inference_cfg.yaml"


def _copy_detections(stem: str, dest: Path) -> Path:
    """Copy a video's _full.pickle and _meta.pickle into ``dest`` (tracked there)."""
    dest.mkdir(parents=True, exist_ok=True)
    for end in ("_full.pickle", "_meta.pickle"):
        (dest / Path(f"{stem}{end}").name).write_bytes(
            Path(f"{stem}{end}").read_bytes()
        )
    return dest


def _animals_per_frame(path) -> list[int]:
    data = _read(path)
    return [len(v) for k, v in data.items() if isinstance(k, int | np.integer)]


@pytest.fixture
def edited_cfg(analysed):
    """Yield a function writing the shuffle's inference_cfg.yaml; restore it after."""
    import yaml

    project, _, _ = analysed
    path = _inference_cfg(project)
    original = path.read_bytes()

    def write(changes=None, text=None):
        if text is None:
            cfg = yaml.safe_load(original)
            cfg.update(changes or {})
            text = yaml.safe_dump(cfg)
        path.write_text(text)
        return path

    yield write
    path.write_bytes(original)


def test_inference_cfg_is_dlcs_template_for_the_project(analysed):
    import yaml

    project, _, _ = analysed
    path = _inference_cfg(project)
    cfg = yaml.safe_load(path.read_text())
    assert cfg == {
        **DLC_TEMPLATE,
        # DeepLabCut's form_default_inferencecfg: half the multi-animal bodyparts
        "minimalnumberofconnections": len(project.multianimal_bodyparts) / 2,
        "topktoretain": 2,  # the individuals
    }
    assert list(cfg) == sorted(cfg)  # DeepLabCut's yaml.dump sorts the keys
    assert cfg["minimalnumberofconnections"] == 3.0  # six bodyparts in the demo


def test_untouched_inference_cfg_tracks_as_no_file(analysed, tmp_path, caplog):
    from posekit.engine.multianimal.api import analysis_settings, multianimal_config
    from posekit.engine.multianimal.tracking import TrackingConfig

    project, video, h5 = analysed
    stem = _stem(h5)
    folder = ModelFolder.of(project, 1)
    multi = multianimal_config(folder)
    path = _inference_cfg(project)
    # DeepLabCut's values are not posekit's: applied, they would change the analysis
    assert TrackingConfig().max_age != DLC_TEMPLATE["max_age"]
    assert multi.assembly.min_affinity != DLC_TEMPLATE["pafthreshold"]
    with caplog.at_level(logging.INFO, logger="posekit"):
        settings = analysis_settings(project, folder, multi.assembly, "ellipse", 2)
    assert settings == (
        multi.assembly.replace(max_individuals=2),
        TrackingConfig(method="ellipse"),
        2,
    )
    with_file = _copy_detections(stem, tmp_path / "with")
    deeplabcut.convert_detections2tracklets(
        project.config_path, [str(video)], destfolder=str(with_file)
    )
    saved = path.read_bytes()
    path.unlink()
    try:
        without = _copy_detections(stem, tmp_path / "without")
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], destfolder=str(without)
        )
    finally:
        path.write_bytes(saved)
    assert "no effect" not in caplog.text and "your value" not in caplog.text
    name = Path(stem).name
    for end in ("_assemblies.pickle", "_el.pickle"):
        a, b = _read(with_file / f"{name}{end}"), _read(without / f"{name}{end}")
        assert set(a) == set(b)
        for key in a:
            if key != "header":
                np.testing.assert_equal(a[key], b[key])


def test_edited_inference_cfg_is_honoured(analysed, edited_cfg, tmp_path, caplog):
    from posekit.engine.multianimal.api import analysis_settings, multianimal_config

    project, video, h5 = analysed
    stem = _stem(h5)
    name = Path(stem).name
    folder = ModelFolder.of(project, 1)
    multi = multianimal_config(folder)
    # posekit's choices first: two animals in some frame of this video
    assert max(_animals_per_frame(f"{stem}_assemblies.pickle")) == 2
    edited_cfg(
        {
            "topktoretain": 1,
            "pafthreshold": 0.3,
            "pcutoff": 0.2,
            "minimalnumberofconnections": 1,
            "max_age": 7,
            "iou_threshold": 0.4,
            "withid": True,
            "min_hits": 5,
        }
    )
    with caplog.at_level(logging.INFO, logger="posekit"):
        assembly, tracking, most = analysis_settings(
            project, folder, multi.assembly, "ellipse", 2
        )
    assert most == 1 and assembly.max_individuals == 1
    assert (assembly.min_affinity, assembly.pcutoff) == (0.3, 0.2)
    assert assembly.min_keypoints == 2  # 1 connection joins 2 keypoints
    assert assembly.n_samples == multi.assembly.n_samples  # untouched: posekit's
    assert (tracking.max_age, tracking.min_similarity) == (7, 0.4)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "no effect in posekit" in warnings[0]
    assert "withid" in warnings[0] and "min_hits" in warnings[0]
    assert "pafthreshold" not in warnings[0]
    # an argument wins: n_tracks (posekit analyze --animals)
    assert (
        analysis_settings(project, folder, multi.assembly, "ellipse", 2, n_given=2)[2]
        == 2
    )
    # the keypoints tracker's threshold is oks_threshold, not iou_threshold
    assert analysis_settings(project, folder, multi.assembly, "keypoints", 2)[
        1
    ].min_similarity == pytest.approx(0.05)
    # the steps read it
    dest = _copy_detections(stem, tmp_path / "steps")
    deeplabcut.convert_detections2tracklets(
        project.config_path, [str(video)], destfolder=str(dest)
    )
    assert max(_animals_per_frame(dest / f"{name}_assemblies.pickle")) == 1
    # the analysis reads it: from the network ...
    ran = tmp_path / "analysed"
    deeplabcut.analyze_videos(
        project.config_path, [str(video)], destfolder=str(ran), progress=False
    )
    assert max(_animals_per_frame(ran / f"{name}_assemblies.pickle")) == 1
    # ... and from the detections, where --animals wins over topktoretain
    again = _copy_detections(stem, tmp_path / "again")
    deeplabcut.analyze_videos(
        project.config_path, [str(video)], destfolder=str(again), n_tracks=2
    )
    assert max(_animals_per_frame(again / f"{name}_assemblies.pickle")) == 2


def test_inferencecfg_argument_is_read_instead_of_the_file(
    analysed, edited_cfg, tmp_path
):
    project, video, h5 = analysed
    stem = _stem(h5)
    name = Path(stem).name
    edited_cfg({"topktoretain": 1})
    dest = _copy_detections(stem, tmp_path / "given")
    deeplabcut.convert_detections2tracklets(
        project.config_path,
        [str(video)],
        destfolder=str(dest),
        inferencecfg={"topktoretain": 2, "pafthreshold": 0.1},  # DeepLabCut's values
    )
    assert max(_animals_per_frame(dest / f"{name}_assemblies.pickle")) == 2
    with pytest.raises(TypeError, match="inferencecfg must be a mapping"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], inferencecfg="inference_cfg.yaml"
        )


def test_a_malformed_inference_cfg_is_named(analysed, edited_cfg):
    project, video, _ = analysed
    path = edited_cfg(text="- pafthreshold\n- 0.1\n")
    with pytest.raises(ValueError, match=r"inference_cfg\.yaml holds a list, not"):
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], overwrite=True
        )
    edited_cfg({"pafthreshold": "high"})
    with pytest.raises(ValueError) as err:
        deeplabcut.convert_detections2tracklets(
            project.config_path, [str(video)], overwrite=True
        )
    assert str(path) in str(err.value)
    assert "pafthreshold must be a number; it is 'high'" in str(err.value)
    edited_cfg({"topktoretain": 1.5})
    with pytest.raises(ValueError, match="topktoretain must be a whole number"):
        deeplabcut.analyze_videos(project.config_path, [str(video)], progress=False)


# ------------------------------------------------ create_video_with_all_detections


def test_video_with_all_detections_draws_them_where_they_are(analysed, tmp_path):
    from posekit.engine.drawing import bodypart_colors
    from posekit.engine.multianimal.api import multianimal_config
    from posekit.engine.multianimal.outputs import (
        full_pickle_metadata,
        save_full_pickle,
    )
    from posekit.engine.multianimal.peaks import FrameDetections
    from posekit.engine.video import VideoReader

    project, video, h5 = analysed
    name = Path(_stem(h5)).name
    layout = multianimal_config(ModelFolder.of(project, 1)).layout
    n = layout.n_multi + layout.n_unique
    display = project.display
    assert display.pcutoff == 0.5 and display.dotsize == 6  # the demo's config
    # per frame: bodypart 0 at two places, bodypart 2 at one (scores above pcutoff);
    # bodypart 1 below pcutoff (not drawn)
    shown = {0: [(60.0, 50.0), (200.0, 170.0)], 2: [(260.0, 60.0)]}
    hidden = (120.0, 120.0)
    empty = np.zeros((0, 2))
    dets = []
    for _ in range(24):
        coords = [empty] * n
        conf = [np.zeros(0)] * n
        for k, xy in shown.items():
            coords[k], conf[k] = np.array(xy), np.full(len(xy), 0.9)
        coords[1], conf[1] = np.array([hidden]), np.array([0.3])
        dets.append(FrameDetections(coords, conf))
    dest = tmp_path / "dets"
    dest.mkdir()
    save_full_pickle(
        dest / f"{name}_full.pickle",
        dets,
        full_pickle_metadata(
            layout, [], len(dets), nms_radius=5, min_confidence=0.01, sigma=1
        ),
    )
    with pytest.raises(FileNotFoundError, match=r"Run analyze_videos\(.*first"):
        deeplabcut.create_video_with_all_detections(
            project.config_path, [str(video)], destfolder=str(tmp_path / "none")
        )
    with pytest.raises(ValueError, match="displayedbodyparts.*tail"):
        deeplabcut.create_video_with_all_detections(
            project.config_path,
            [str(video)],
            destfolder=str(dest),
            displayedbodyparts=["tail"],
        )
    out = deeplabcut.create_video_with_all_detections(
        str(project.config_path), [str(video)], destfolder=str(dest), progress=False
    )
    assert out == [dest / f"{name}_full.mp4"]  # DeepLabCut's name
    colors = bodypart_colors(n, display.colormap).astype(int)
    with VideoReader(video) as before, VideoReader(out[0]) as after:
        assert len(after) == len(before) == 24
        for i in (0, 11, 23):
            src, drawn = before[i].astype(int), after[i].astype(int)
            for k, xy in shown.items():
                for x, y in xy:
                    assert np.abs(drawn[int(y), int(x)] - colors[k]).max() <= 30
                    assert np.abs(src[int(y), int(x)] - colors[k]).max() > 60
            x, y = map(int, hidden)  # below pcutoff, and a place far from any dot
            for yy, xx in ((y, x), (10, 300)):
                assert np.abs(drawn[yy, xx] - src[yy, xx]).max() <= 20
    # there already: kept, as DeepLabCut's "Detections already plotted"
    stamp = out[0].stat().st_mtime_ns
    assert (
        deeplabcut.create_video_with_all_detections(
            project.config_path, [str(video)], destfolder=str(dest)
        )
        == out
    )
    assert out[0].stat().st_mtime_ns == stamp


def test_evaluation_and_image_analysis_read_inference_cfg(
    analysed, edited_cfg, tmp_path
):
    """QA s23 leftover: evaluate and analyze_images assembled with posekit's values.

    DeepLabCut's evaluate_network assembles the labelled frames with the shuffle's
    test/inference_cfg.yaml (topktoretain, pafthreshold, pcutoff, ...), as its video
    analysis does; posekit's evaluation and image analysis ignored the file.
    """
    project, _, _ = analysed

    def animals_per_image() -> int:
        deeplabcut.evaluate_network(project.config_path)
        scores = next(project.evaluation_dir(1).glob("*-snapshot-*-scores.csv"))
        return int(pd.read_csv(scores).groupby("image").size().max())

    def animals_in_images(dest: Path) -> int:
        frames = project.path / "labeled-data" / project.source_videos()[0].stem
        out = deeplabcut.analyze_images(
            project.config_path, str(frames), frametype=".png",
            destfolder=str(dest), progress=False,
        )  # fmt: skip
        df = pd.read_hdf(out[0])
        x = df.xs("x", axis=1, level="coords").drop(
            columns="single", level="individuals", errors="ignore"
        )
        seen = x.notna().T.groupby(level="individuals").any().T
        return int(seen.sum(axis=1).max())

    assert animals_per_image() == 2 and animals_in_images(tmp_path / "a") == 2
    edited_cfg({"topktoretain": 1})
    assert animals_per_image() == 1 and animals_in_images(tmp_path / "b") == 1
