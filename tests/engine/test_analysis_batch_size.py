"""config.yaml's ``batch_size`` is the most frames per call of analysis (DeepLabCut's).

DeepLabCut's ``analyze_videos`` analyses ``batch_size`` frames per network call (its
template writes 8) when it is given none; posekit read no such key and chose by frame
size only (S18: "config batch_size not read"). Now an explicit ``batch_size=`` /
``--batch-size`` is used as given; otherwise the choice by frame size (1 from 640×480
up, else 8: the fastest on the CPU), at most the config's value (DeepLabCut users lower
it when memory runs out; a larger one does not slow the CPU down). The batch that ran is the one ``_meta.pickle``
records (DeepLabCut's ``batch_size`` key, the predictor's).

Also here, from the same review of ``posekit analyze`` and the DeepLabCut names:
``--no-tflite`` with ``--precision int8`` is refused (it silently ran float32),
``--workers N`` alone means ``--cluster local`` (it was silently ignored), and
``posekit.engine.scorer_name`` is DeepLabCut's ``get_scorer_name`` at the top level.
"""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

import pytest

import posekit.engine as deeplabcut
from posekit.engine.api import analyze_videos
from posekit.engine.cli import main
from posekit.engine.project import Project, ProjectError, load_project

SCORER = "DLC_mobnet_35_demoJan1shuffle1_3"


@pytest.fixture(scope="module")
def trained(tiny_trained_copy) -> Project:
    """Train a tiny network 3 iterations on the demo project (320x240 frames)."""
    return tiny_trained_copy("batch-size")


@pytest.fixture(scope="module")
def clip(trained: Project, video_clip) -> Path:
    """Cut the first 4 frames of the demo video."""
    return video_clip(trained.path / "videos" / "session1.mp4", 4)


@pytest.fixture(autouse=True)
def _config_kept(trained: Project):
    """Give each test the project's config.yaml as it was (DeepLabCut's batch 8)."""
    text = trained.config_path.read_text()
    yield
    trained.config_path.write_text(text)


def _with_batch_size(project: Project, value: object, *, absent: bool = False) -> str:
    """Set (or remove) config.yaml's ``batch_size``; return the config's path."""
    project = load_project(project.path)
    if absent:
        project.cfg.pop("batch_size", None)
    else:
        project.set("batch_size", value)
    project.save()
    assert ("batch_size" in load_project(project.path).cfg) is not absent
    return str(project.config_path)


def _batch_ran(output: Path) -> int:
    """Return the batch size the analysis ran with, as ``_meta.pickle`` records it."""
    meta = pickle.loads(output.with_name(output.stem + "_meta.pickle").read_bytes())
    return meta["data"]["batch_size"]


def _analyze(config: str, clip: Path, dest: Path, **kwargs) -> Path:
    (out,) = analyze_videos(
        config,
        [clip],
        destfolder=dest,
        use_tflite=False,
        progress=False,
        overwrite=True,
        **kwargs,
    )
    return out


def test_config_batch_size_is_the_most_frames_per_call(trained, clip, tmp_path) -> None:
    config = _with_batch_size(trained, 3)
    assert _batch_ran(_analyze(config, clip, tmp_path)) == 3
    # an explicit batch size wins, as in DeepLabCut (its batchsize= too)
    assert _batch_ran(_analyze(config, clip, tmp_path, batch_size=2)) == 2
    assert _batch_ran(_analyze(config, clip, tmp_path, batchsize=5)) == 5
    # a larger value does not raise the batch above the fastest on the CPU (8 at
    # 320x240, 1 at 640x480), but an explicit one is taken as given
    config = _with_batch_size(trained, 32)
    assert _batch_ran(_analyze(config, clip, tmp_path)) == 8
    assert _batch_ran(_analyze(config, clip, tmp_path, batch_size=32)) == 32
    config = _with_batch_size(trained, 4)  # openfield's config: 4 at 640x480 -> 1
    assert _batch_ran(_analyze(config, clip, tmp_path, scale=2.0)) == 1


def test_without_the_key_the_batch_is_chosen_by_frame_size(
    trained, clip, tmp_path
) -> None:
    config = _with_batch_size(trained, None, absent=True)
    assert _batch_ran(_analyze(config, clip, tmp_path)) == 8  # 320x240: 8
    # frames of 640x480 (scaled x2): 1, posekit's measured fastest there
    assert _batch_ran(_analyze(config, clip, tmp_path, scale=2.0)) == 1
    config = _with_batch_size(trained, "")  # left empty: the same
    assert _batch_ran(_analyze(config, clip, tmp_path, scale=2.0)) == 1


@pytest.mark.parametrize("value", [0, -4, "eight", 2.5, True])
def test_a_bad_config_batch_size_says_what_to_fix(trained, clip, value) -> None:
    config = _with_batch_size(trained, value)
    with pytest.raises(ProjectError) as err:
        analyze_videos(config, [clip], use_tflite=False, progress=False)
    message = str(err.value)
    assert f"got {value!r}" in message
    assert "batch_size must be a whole number of at least 1" in message
    assert "--batch-size N" in message and str(trained.config_path) in message


def test_posekit_analyze_takes_the_config_batch_size(trained, clip, tmp_path) -> None:
    config = _with_batch_size(trained, 3)
    argv = ["analyze", config, str(clip), "--dest", str(tmp_path), "--no-tflite"]
    assert main([*argv, "--overwrite"]) == 0
    assert _batch_ran(tmp_path / f"{clip.stem}{SCORER}.h5") == 3
    assert main([*argv, "--overwrite", "--batch-size", "2"]) == 0
    assert _batch_ran(tmp_path / f"{clip.stem}{SCORER}.h5") == 2


def test_image_analysis_takes_the_config_batch_size(trained, tmp_path) -> None:
    """``analyze_images`` (DLC's time-lapse verb runs it) caps the batch as videos do."""
    from posekit.engine.image_analysis import analyze_images

    images = tmp_path / "frames"
    images.mkdir()
    for png in sorted((trained.path / "labeled-data" / "session1").glob("*.png"))[:3]:
        (images / png.name).write_bytes(png.read_bytes())
    config = _with_batch_size(trained, 3)
    (out,) = analyze_images(config, images, use_tflite=False, progress=False)
    assert _batch_ran(out) == 3
    (out,) = analyze_images(
        config, images, use_tflite=False, progress=False, overwrite=True, batch_size=2
    )
    assert _batch_ran(out) == 2
    config = _with_batch_size(trained, None, absent=True)
    (out,) = analyze_images(
        config, images, use_tflite=False, progress=False, overwrite=True
    )
    assert _batch_ran(out) == 8  # 320x240 without the key: chosen by frame size
    config = _with_batch_size(trained, 5)
    (out,) = analyze_images(
        config, images, use_tflite=False, progress=False, overwrite=True
    )
    assert _batch_ran(out) == 5


# ----------------------------------------------------------- --no-tflite, --precision


def test_no_tflite_refuses_int8(trained, clip, tmp_path, capsys) -> None:
    argv = ["analyze", str(trained.path), str(clip), "--dest", str(tmp_path)]
    assert main([*argv, "--no-tflite", "--precision", "int8"]) == 2
    err = capsys.readouterr().err
    assert "posekit analyze: error: precision='int8' runs the int8 TFLite" in err
    assert "drop --no-tflite, or drop --precision int8" in err
    assert not list(tmp_path.iterdir())  # refused before anything ran
    with pytest.raises(ValueError, match="use_tflite=False .--no-tflite. runs the"):
        analyze_videos(trained, [clip], use_tflite=False, precision="int8")
    # float32 is what TensorFlow runs: taken
    assert main([*argv, "--no-tflite", "--precision", "float32"]) == 0
    assert (tmp_path / f"{clip.stem}{SCORER}.h5").is_file()


# -------------------------------------------------------------------------- --workers


@pytest.fixture
def started(monkeypatch):
    """Record the Dask cluster ``posekit analyze`` asks for, and stop there."""
    import posekit.engine.distributed as distributed

    asked: list[tuple[object, object]] = []

    @contextlib.contextmanager
    def dask_client(cluster, *, n_workers=None, threads_per_worker=1):
        asked.append((cluster, n_workers))
        raise ValueError("cluster recorded")
        yield  # pragma: no cover

    monkeypatch.setattr(distributed, "dask_client", dask_client)
    return asked


def test_workers_alone_mean_a_local_cluster(trained, clip, started, capsys) -> None:
    argv = ["analyze", str(trained.path), str(clip)]
    assert main([*argv, "--workers", "3"]) == 2
    assert started == [("local", 3)]
    err = capsys.readouterr().err
    assert "--workers 3 without --cluster: a local Dask cluster of 3 workers" in err
    assert "error: cluster recorded" in err
    assert main([*argv, "--workers", "2", "--cluster", "slurm"]) == 2
    assert started[-1] == ("slurm", 2)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--shard", "0/2"], "--shard I/N makes this process one task of a job"),
        (["--cluster", "tcp://127.0.0.1:8786"], "connects to a scheduler whose"),
    ],
)
def test_workers_where_they_cannot_act_are_refused(
    trained, clip, started, capsys, options, said
) -> None:
    assert (
        main(["analyze", str(trained.path), str(clip), "--workers", "2", *options]) == 2
    )
    err = capsys.readouterr().err
    assert said in err and "drop --workers" in err
    assert started == []


def test_workers_must_be_at_least_one(trained, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(trained.path), "--workers", "0"])
    assert exit_.value.code == 2
    assert "--workers: must be 1 or more" in capsys.readouterr().err


# ------------------------------------------------------------------------ scorer_name


def test_scorer_name_is_a_top_level_deeplabcut_name(trained, clip, tmp_path) -> None:
    from posekit.engine import dlc_verbs

    assert "scorer_name" in deeplabcut.__all__ and "scorer_name" in dir(deeplabcut)
    assert deeplabcut.scorer_name is dlc_verbs.scorer_name
    config = str(trained.config_path)
    out = _analyze(config, clip, tmp_path)
    scorer = deeplabcut.scorer_name(config, shuffle=1, trainingsetindex=0)
    assert scorer == SCORER and out.name == clip.stem + scorer + ".h5"


# --------------------------------------------------------------------- --chunk-frames


def test_chunk_frames_without_a_cluster_or_shard_is_refused(
    trained, clip, tmp_path, capsys
) -> None:
    """It was silently ignored: the video ran in one pass."""
    argv = ["analyze", str(trained.path), str(clip), "--dest", str(tmp_path)]
    assert main([*argv, "--chunk-frames", "512"]) == 2
    err = capsys.readouterr().err
    assert "--chunk-frames) sets the frames per chunk of a Dask cluster" in err
    assert "add --cluster local" in err and "drop --chunk-frames" in err
    assert not list(tmp_path.iterdir())  # refused before anything ran
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--chunk-frames", "0", "--cluster", "local"])
    assert exit_.value.code == 2
    assert "--chunk-frames: must be 1 or more" in capsys.readouterr().err
    with pytest.raises(ValueError, match="without client= .--cluster. or shard="):
        analyze_videos(trained, [clip], chunk_frames=64, use_tflite=False)
    with pytest.raises(ValueError, match="a chunk holds at least 1 frame"):
        analyze_videos(trained, [clip], chunk_frames=0, shard="0/2")
    # with --shard or --cluster it acts: tests/engine/test_distributed.py


# ------------------------------------------------------ --csv on an analysed video


def test_csv_asked_for_an_analysed_video_is_written_from_its_h5(
    trained, clip, tmp_path, caplog
) -> None:
    """QA s20 (docs-literal): ``save_as_csv=True`` after an analysis without it.

    The video is not analysed again (as in DeepLabCut), and the ``.csv`` asked for
    was not written either, without a word; now it is written from the ``.h5``.
    """
    import logging

    import pandas as pd

    out = _analyze(str(trained.config_path), clip, tmp_path)
    csv = out.with_suffix(".csv")
    assert not csv.exists()
    with caplog.at_level(logging.WARNING, logger="posekit"):
        again = analyze_videos(
            trained, [clip], destfolder=tmp_path, save_as_csv=True, progress=False
        )
    assert again.skipped == [out]
    assert csv.is_file()
    said = [r.getMessage() for r in caplog.records]
    assert f"{out.name}: analysed before, not again; the .csv asked for" in " ".join(
        said
    )
    table = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    pd.testing.assert_frame_equal(
        table, pd.read_hdf(out), check_dtype=False, check_names=False
    )
