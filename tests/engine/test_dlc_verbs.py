"""DeepLabCut's other top-level functions run with ``import posekit.engine as dlc``.

Each used to be an ``AttributeError`` (found by running a DeepLabCut user's script).
Known answers: the demo's ground truth as predictions, label files edited on disk.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import posekit.engine as dlc
from posekit.engine.io.dlc import read_labels
from posekit.engine.project import load_project


def test_create_new_project_returns_the_config_path(tmp_path, demo_project_ro):
    video = demo_project_ro.videos()[0]
    config = dlc.create_new_project(
        "reach", "alex", [str(video.parent)], working_directory=tmp_path,
        videotype=".mp4", copy_videos=True,
    )  # fmt: skip
    assert isinstance(config, str) and config.endswith("config.yaml")
    project = load_project(config)
    assert [v.name for v in project.videos()] == [video.name]
    assert not project.multianimal
    ma = dlc.create_new_project(
        "flies", "alex", [video], working_directory=tmp_path / "ma", multianimal=True
    )
    cfg = yaml.safe_load(Path(ma).read_text())
    assert cfg["multianimalproject"] is True
    assert cfg["individuals"] == ["individual1", "individual2", "individual3"]
    assert "multianimal" not in cfg  # not a stray key


def test_add_new_videos_with_crops_and_frames(demo_project, tmp_path):
    other = tmp_path / "extra.mp4"
    shutil.copy(demo_project.videos()[0], other)
    added = dlc.add_new_videos(
        str(demo_project.config_path), [other], coords=[[10, 90, 20, 80]],
        extract_frames=True,
    )  # fmt: skip
    project = load_project(demo_project.path)
    entry = next(k for k in project.video_sets if k.endswith("extra.mp4"))
    assert project.video_sets[entry]["crop"] == "10, 90, 20, 80"
    assert [p.name for p in added] == ["extra.mp4"]
    assert len(list((project.path / "labeled-data/extra").glob("img*.png"))) > 0
    with pytest.raises(ValueError, match="1 crops for 2 videos"):
        dlc.add_new_videos(demo_project.path, [other, other], coords=[[0, 1, 0, 1]])


def test_labelling_windows_point_to_the_apps():
    for verb in (dlc.label_frames, dlc.refine_labels):
        with pytest.raises(RuntimeError, match="labels in the browser.*LabelApp") as e:
            verb("config.yaml")
        # every command it names exists (it named a `posekit-apps` there is not)
        assert "posekit.widgets.serve" in str(e.value)
        assert "posekit-apps" not in str(e.value)


def test_refine_tracklets_points_to_the_viewer(tmp_path):
    tracks = tmp_path / "videoDLC_dlcrnetms5_flyJan1shuffle1_50000_el.h5"
    with pytest.raises(RuntimeError, match="corrects identities in the browser") as e:
        dlc.refine_tracklets("config.yaml", tracks, "video.mp4", min_swap_len=2)
    said = str(e.value)
    assert "Viewer" in said and str(tracks) in said
    # the call it names for Jupyter runs as written (its buttons are named right)
    from posekit.widgets import trajectory_viewer

    assert "TrajectoryViewer(" in said and hasattr(
        trajectory_viewer, "TrajectoryViewer"
    )
    source = Path(trajectory_viewer.__file__).read_text()
    for button in ("likely swaps", '"Swap"', '"Save tracks"'):
        assert button in source
    with pytest.raises(RuntimeError, match="tracks …_el.h5"):
        dlc.refine_tracklets("config.yaml", tmp_path / "video_el.pickle", "video.mp4")


def test_label_file_utilities(demo_project, capsys):
    """Deleted images, repeated and empty rows, unlabelled images; csv to h5."""
    h5 = demo_project.labels_path("session1")
    df = read_labels(h5)
    first, second = df.index[0], df.index[1]
    (demo_project.path / Path(*first)).unlink()  # an image deleted by hand
    empty = df.iloc[[2]].copy()
    empty[:] = np.nan
    doubled = pd.concat([df, df.iloc[[3]]])
    doubled.loc[df.index[2]] = empty.iloc[0].to_numpy()
    from posekit.engine.io.dlc import write_labels

    write_labels(doubled, h5)
    n = len(doubled)
    assert dlc.dropannotationfileentriesduetodeletedimages(demo_project) == {
        "session1": 1
    }
    assert dlc.dropduplicatesinannotatinfiles(demo_project) == {"session1": 1}
    assert dlc.dropunlabeledframes(demo_project) == {"session1": 1}
    left = read_labels(h5)
    assert len(left) == n - 3 and first not in left.index and second in left.index
    assert not left.index.duplicated().any()
    moved = dlc.dropimagesduetolackofannotation(demo_project)
    (aside,) = moved["session1"]  # the image of the empty row, not deleted
    assert aside.parent.name == "removed" and aside.is_file()
    # the .csv twin back to .h5
    h5.unlink()
    assert dlc.convertcsv2h5(str(demo_project.config_path)) == [h5]
    pd.testing.assert_frame_equal(read_labels(h5), left)
    report = dlc.comparevideolistsanddatafolders(demo_project)
    assert report == {"videos_without_folder": [], "folders_without_video": []}
    assert "1 videos in config.yaml, 1 labeled-data folders" in capsys.readouterr().out


def test_skeleton_and_trajectories_of_known_predictions(demo_project, fake_analysis):
    """Bone lengths and angles against numpy on the demo's ground truth."""
    truth = fake_analysis(demo_project, {})
    config = str(demo_project.config_path)
    video = str(demo_project.videos()[0])
    (out,) = dlc.analyzeskeleton(config, [video], save_as_csv=True)
    assert out.name.endswith("_500_skeleton.h5") and out.with_suffix(".csv").is_file()
    table = pd.read_hdf(out)
    a, b = demo_project.skeleton[0]
    ia, ib = demo_project.bodyparts.index(a), demo_project.bodyparts.index(b)
    d = truth[:, ib] - truth[:, ia]
    bone = table[f"{a}_{b}"]
    np.testing.assert_allclose(bone["length"], np.hypot(d[:, 0], d[:, 1]))
    angle = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360
    np.testing.assert_allclose(bone["orientation"], angle)
    np.testing.assert_allclose(bone["likelihood"], 0.95)
    assert math.isclose(len(table.columns), 3 * len(demo_project.skeleton))
    again = dlc.analyzeskeleton(config, [video], return_data=True, trainingsetindex=0)
    pd.testing.assert_frame_equal(next(iter(again.values())), table)  # skipped
    (csv,) = dlc.analyze_videos_converth5_to_csv(demo_project.videos()[0].parent)
    assert csv.name.endswith("_500.csv")  # the bone table is not predictions
    figures = dlc.plot_trajectories(config, [video], imagetype=".png")
    assert figures and all(p.suffix == ".png" and p.is_file() for p in figures)
    assert figures[0].parent == demo_project.videos()[0].parent / "plot-poses/session1"


def test_plot_trajectories_names_its_figures_as_deeplabcut(demo_project, fake_analysis):
    """DeepLabCut's four names, ``_filtered`` for filtered data (QA s15, finding 4).

    The filtered call wrote ``trajectory.png``/``timeseries.png`` again, over the
    unfiltered call's figures, and scripts that collect ``plot-likelihood.png`` or
    ``hist.png`` found nothing.
    """
    fake_analysis(demo_project, {5: 40.0})
    config = str(demo_project.config_path)
    video = str(demo_project.videos()[0])
    raw = dlc.plot_trajectories(config, [video])
    assert [p.name for p in raw] == [
        "trajectory.png", "plot.png", "plot-likelihood.png", "hist.png",
    ]  # fmt: skip
    before = {p: p.read_bytes() for p in raw}
    dlc.filterpredictions(config, [video], windowlength=5)
    smooth = dlc.plot_trajectories(config, [video], filtered=True, imagetype=".svg")
    assert [p.name for p in smooth] == [
        "trajectory_filtered.svg", "plot_filtered.svg",
        "plot-likelihood_filtered.svg", "hist_filtered.svg",
    ]  # fmt: skip
    assert {p.parent for p in smooth} == {raw[0].parent}
    assert {p: p.read_bytes() for p in raw} == before  # the unfiltered are kept


def test_plot_trajectories_draws_every_displayed_bodypart(
    demo_project, fake_analysis, monkeypatch
):
    """DeepLabCut's ``trajectory`` figure: each displayed bodypart, a colour each.

    posekit drew the first displayed bodypart only (its path coloured by time), and
    a bodypart named as a string was split into letters.
    """
    from posekit.engine.behavior import export
    from posekit.engine.drawing import bodypart_colors
    from posekit.engine.io.dlc import write_predictions

    truth = fake_analysis(demo_project, {})
    video = demo_project.videos()[0]
    (h5,) = video.parent.glob(f"{video.stem}DLC_*.h5")
    df = pd.read_hdf(h5)
    scorer = df.columns.get_level_values("scorer")[0]
    df.loc[df.index[:10], (scorer, "leftear", "likelihood")] = 0.3  # < pcutoff
    write_predictions(df, h5)
    demo_project.set("colormap", "jet")
    demo_project.set("alphavalue", 0.4)
    demo_project.save()
    drawn = {}
    save = export.save_figure

    def keep(fig, path, **kwargs):
        drawn[Path(path).name] = fig
        return save(fig, path, **kwargs)

    monkeypatch.setattr(export, "save_figure", keep)
    config = str(demo_project.config_path)
    shown = ["tailbase", "snout", "leftear"]
    dlc.plot_trajectories(config, [str(video)], displayedbodyparts=shown)
    ax = drawn["trajectory.png"].axes[0]
    order = ["snout", "leftear", "tailbase"]  # the predictions' order, as DLC draws
    assert [line.get_label() for line in ax.lines] == order
    colors = bodypart_colors(len(order), "jet") / 255.0
    for line, color, name in zip(ax.lines, colors, order, strict=True):
        np.testing.assert_allclose(line.get_color(), color)
        assert line.get_alpha() == 0.4 and line.get_marker() == "."
        x = truth[:, demo_project.bodyparts.index(name), 0]
        if name == "leftear":  # the points below pcutoff (0.6) are left out
            x = np.where(np.arange(len(x)) < 10, np.nan, x)
        np.testing.assert_allclose(line.get_xdata(), x)
    assert ax.yaxis_inverted()
    dlc.plot_trajectories(config, [str(video)], displayedbodyparts="neck")
    assert [line.get_label() for line in drawn["trajectory.png"].axes[0].lines] == [
        "neck"
    ]
    with pytest.raises(ValueError, match=r"displayedbodyparts=\['nose'\].*'snout'"):
        dlc.plot_trajectories(config, [str(video)], displayedbodyparts=["nose"])


def test_scorer_name_is_what_deeplabcut_analyze_videos_returns(
    trained, video_clip, tmp_path
):
    """DeepLabCut's analyze_videos returns the scorer; posekit's returns the files."""
    from posekit.engine.dlc_verbs import scorer_name

    config = str(trained.config_path)
    clip = video_clip(trained.path / "videos" / "session1.mp4", 4)
    (out,) = dlc.analyze_videos(
        config, [str(clip)], destfolder=tmp_path, progress=False
    )
    scorer = scorer_name(config)
    assert out.name == clip.stem + scorer + ".h5"
    assert scorer == "DLC_mobnet_35_demoJan1shuffle1_3"
    assert scorer_name(trained.path, shuffle=1, snapshot=-1, trainingsetindex=0) == (
        scorer
    )
    with pytest.raises(FileNotFoundError):
        scorer_name(config, shuffle=7)


def test_dlc_names_on_the_package():
    assert dlc.filterpredictions is dlc.filter_predictions
    assert callable(dlc.check_labels)
    import posekit.engine.label_check  # noqa: F401  (a submodule import ...)

    assert callable(dlc.check_labels)  # ... no longer shadows the verb


@pytest.fixture(scope="module")
def trained(tiny_trained_copy):
    return tiny_trained_copy("dlc-verbs")


def test_deeplabcut_arguments_of_the_workflow_verbs(trained, video_clip, tmp_path):
    """The keywords a DeepLabCut script passes are used, refused or dropped.

    Refused with a reason, or dropped with a log line; they were bare TypeErrors.
    """
    import pickle

    config = str(trained.config_path)
    # evaluate_network: comparisonbodyparts (errors over those only), rescale; the
    # rows over all bodyparts stay where they are (s25: they were replaced)
    full = dlc.evaluate_network(config, Shuffles=[1])
    evaluation = trained.evaluation_dir(1)
    combined = evaluation.parent / "CombinedEvaluation-results.csv"
    before = {p.name: p.read_text() for p in (combined, *evaluation.glob("*.csv"))}
    table = dlc.evaluate_network(
        config, Shuffles=[1], comparisonbodyparts=["snout"], rescale=False
    )
    per_part = [c for c in table.columns if re.fullmatch(r"Test error \S+\(px\)", c)]
    assert per_part == ["Test error snout(px)"]
    assert table["Test error(px)"].iloc[0] == table["Test error snout(px)"].iloc[0]
    assert table["Test error(px)"].iloc[0] != full["Test error(px)"].iloc[0]
    assert table["Compared bodyparts"].iloc[0] == "snout"
    after = {p.name: p.read_text() for p in (combined, *evaluation.glob("*.csv"))}
    added = sorted(set(after) - set(before))
    assert [after[n] for n in before] == list(before.values())  # untouched
    assert [n.rsplit("-", 1)[-1] for n in added] == ["snout.csv", "snout.csv"]
    written = pd.read_csv(evaluation / next(n for n in added if "-results-" in n))
    assert written["Compared bodyparts"].tolist() == ["snout"]
    with pytest.raises(ValueError, match="must be among the bodyparts"):
        dlc.evaluate_network(config, comparisonbodyparts=["nose"])
    # analyze_videos: cropping=[...], dynamic off accepted, dynamic on refused
    clip = video_clip(trained.path / "videos" / "session1.mp4", 6)
    (out,) = dlc.analyze_videos(
        config, [str(clip)], destfolder=tmp_path / "a", cropping=[20, 180, 10, 150],
        dynamic=(False, 0.5, 10), progress=False,
    )  # fmt: skip
    meta = pickle.loads(out.with_name(out.stem + "_meta.pickle").read_bytes())
    assert meta["data"]["cropping_parameters"] == [20, 180, 10, 150]
    with pytest.raises(ValueError, match="does not crop around the animal"):
        dlc.analyze_videos(config, [str(clip)], dynamic=(True, 0.5, 10))
    # extract_outlier_frames: the predictions of a destfolder, DLC's k-means options
    (found,) = dlc.extract_outlier_frames(
        config, [str(clip)], destfolder=tmp_path / "a", outlieralgorithm="uncertain",
        cluster_resizewidth=30, cluster_color=False, dry_run=True,
    )  # fmt: skip
    assert found.scores.frames.size == 6
    # merge_datasets: forceiterate is refused with where to set it
    with pytest.raises(TypeError, match="edit iteration in config.yaml"):
        dlc.merge_datasets(config, forceiterate=3)
    # filterpredictions: arima is refused with what to use instead, before its
    # parameters (ignored with another filtertype)
    with pytest.raises(ValueError, match="filtertype='arima'.*Use filtertype='kalman'"):
        dlc.filterpredictions(
            config, [str(clip)], filtertype="arima", ARdegree=3, MAdegree=1,
            destfolder=tmp_path / "a",
        )  # fmt: skip


def test_export_model_writes_into_exported_models(trained):
    """DeepLabCut's export_model(config, shuffle=1, make_tar=..., snapshotindex=...)."""
    out = dlc.export_model(
        str(trained.config_path), shuffle=1, snapshotindex=-1, make_tar=True,
        int8=False,
    )  # fmt: skip
    assert out.parent == trained.path / "exported-models"
    assert out.name.startswith("DLC_") and out.name.endswith(".posekit.zip")
    with pytest.raises(TypeError, match="exports the config's iteration"):
        dlc.export_model(str(trained.config_path), iteration=0)


def test_load_demo_data_puts_the_video_in_place_of_the_placeholder(demo_project):
    """DeepLabCut's demo config lists a placeholder video (QA s15, finding 8).

    posekit's ``load_demo_data`` left it, so DeepLabCut could not find the video.
    """
    from posekit.engine.dlc_verbs import DEMO_PLACEHOLDER

    text = demo_project.config_path.read_text()
    key = next(iter(demo_project.video_sets))
    demo_project.config_path.write_text(text.replace(key, DEMO_PLACEHOLDER))
    project = dlc.load_demo_data(str(demo_project.config_path), createtrainingset=False)
    video = demo_project.path / "videos" / "session1.mp4"
    assert list(project.video_sets) == [str(video)]
    on_disk = yaml.safe_load(demo_project.config_path.read_text())
    assert list(on_disk["video_sets"]) == [str(video)]
    assert on_disk["video_sets"][str(video)] == demo_project.video_sets[key]


TRACKS_SCORER = "DLC_mobnet_35_social2Jan1shuffle1_1404"


@pytest.fixture(scope="module")
def two_trackers(tmp_path_factory):
    """Two-mouse demo with ``_el`` tracks (the truth) and newer ``_bx`` tracks.

    The box tracker's file has the animals swapped, and it was written last.
    """
    import os
    import time

    from posekit.engine.demo import make_demo_project
    from posekit.engine.io.dlc import read_predictions, write_predictions

    project = make_demo_project(
        tmp_path_factory.mktemp("trackers"),
        n_frames=12,
        n_labeled=0,
        n_animals=2,
        size=(160, 120),
    )
    assert project.get("default_track_method") == "ellipse" and project.skeleton
    truth = read_predictions(project.path / "ground-truth" / "session1_keypoints.h5")
    truth = truth.rename(columns={"GroundTruth": TRACKS_SCORER}, level="scorer")
    swapped = truth.rename(
        columns={"mouse1": "mouse2", "mouse2": "mouse1"}, level="individuals"
    )[truth.columns]
    swapped.columns = truth.columns
    videos = project.path / "videos"
    el = write_predictions(
        truth, videos / f"session1{TRACKS_SCORER}_el.h5", key="tracks"
    )
    bx = write_predictions(
        swapped, videos / f"session1{TRACKS_SCORER}_bx.h5", key="tracks"
    )
    now = time.time()
    os.utime(el, (now - 600, now - 600))  # the box tracker ran last
    return project, el, bx


def test_skeleton_and_trajectories_read_the_configs_tracker(two_trackers, monkeypatch):
    """``analyzeskeleton`` and ``plot_trajectories`` take ``default_track_method``.

    As DeepLabCut's do (``track_method=""``): the ``_el.h5`` tracks, not the newest
    tracks file (the ``_bx.h5`` of a tracker tried afterwards), which they read before
    (QA s18, the multianimal persona's finding 1, in these two verbs).
    """
    import posekit.engine.io as pio

    project, el, bx = two_trackers
    config = str(project.config_path)
    video = str(project.path / "videos" / "session1.mp4")
    tables = dlc.analyzeskeleton(config, [video], return_data=True)
    assert list(tables) == [el]
    a, b = project.skeleton[0]
    scorer_cols = pd.read_hdf(el)[TRACKS_SCORER]["mouse1"]
    d = scorer_cols[b][["x", "y"]].to_numpy() - scorer_cols[a][["x", "y"]].to_numpy()
    np.testing.assert_allclose(
        tables[el][f"mouse1_{a}_{b}"]["length"], np.hypot(d[:, 0], d[:, 1])
    )
    assert el.with_name(el.stem + "_skeleton.h5").is_file()
    assert not bx.with_name(bx.stem + "_skeleton.h5").exists()
    (out,) = dlc.analyzeskeleton(config, [video], track_method="box")
    assert out == bx.with_name(bx.stem + "_skeleton.h5")

    read = []
    load = pio.load_poses

    def record(path, *args, **kwargs):
        read.append(Path(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(pio, "load_poses", record)
    figures = dlc.plot_trajectories(config, [video])
    assert read == [el]
    assert {p.name for p in figures} >= {"trajectorymouse1.png", "histmouse2.png"}
    dlc.plot_trajectories(config, [video], track_method="box")
    assert read == [el, bx]
    with pytest.raises(ValueError, match="track_method='skeleton'"):
        dlc.plot_trajectories(config, [video], track_method="skeleton")
