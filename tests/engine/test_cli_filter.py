"""``posekit filter``: DLC's ``…_filtered.h5`` beside the predictions.

Same layout, values filtered by the engine's filters (checked against scipy's own
filters).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from posekit.engine.cli import main
from posekit.engine.demo import load_ground_truth, make_demo_project
from posekit.engine.io.dlc import predictions_frame, write_predictions

SCORER = "DLC_resnet50_demoJan1shuffle1_100"
N = 60


def _lines(out: str) -> dict[str, list[str]]:
    """Return the files a command printed: ``{"read": [...], "wrote": [...]}``."""
    got: dict[str, list[str]] = {"read": [], "wrote": []}
    for line in out.strip().splitlines():
        word, _, rest = line.partition(" ")
        got[word].append(rest.strip())
    return got


def _wrote(out: str) -> Path:
    """Return the last file a command said it wrote."""
    return Path(_lines(out)["wrote"][-1])


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Demo project + noisy predictions (known truth) with some unlikely points."""
    project = make_demo_project(
        tmp_path_factory.mktemp("cli-filter"), n_frames=N, n_labeled=0
    )
    truth, _ = load_ground_truth(project)
    rng = np.random.default_rng(0)
    xy = truth + rng.normal(0, 2.0, truth.shape)
    lik = np.full(truth.shape[:2], 0.95)
    lik[rng.random(lik.shape) < 0.1] = 0.2
    xyp = np.concatenate([xy, lik[..., None]], axis=-1)
    path = project.path / "videos" / f"session1{SCORER}.h5"
    write_predictions(predictions_frame(xyp, SCORER, project.bodyparts), path)
    return project, path, truth, lik


def test_median_filtered_h5(noisy, capsys) -> None:
    project, path, truth, _ = noisy
    assert (
        main(["filter", str(project.path), "--method", "median", "--window", "5"]) == 0
    )
    out = _wrote(capsys.readouterr().out)
    assert out == path.with_name(path.stem + "_filtered.h5")
    raw = pd.read_hdf(path)
    filtered = pd.read_hdf(out)  # one key, as DLC's own files: opens without a key
    with pd.HDFStore(out, "r") as store:
        assert store.keys() == ["/df_with_missing"]
    assert filtered.columns.equals(raw.columns)
    assert filtered.index.equals(raw.index)
    assert filtered.columns.names == ["scorer", "bodyparts", "coords"]
    lik = filtered.xs("likelihood", axis=1, level="coords")
    pd.testing.assert_frame_equal(lik, raw.xs("likelihood", axis=1, level="coords"))
    for bp in project.bodyparts:
        for coord in ("x", "y"):
            x = raw[(SCORER, bp, coord)].to_numpy()
            got = filtered[(SCORER, bp, coord)].to_numpy()
            expected = signal.medfilt(x, 5)
            np.testing.assert_allclose(got[2:-2], expected[2:-2])  # interior: exact
            assert not np.allclose(got, x)
    # smoothing brings the noisy points closer to the truth
    err_raw = np.abs(raw.xs("x", axis=1, level="coords").to_numpy() - truth[..., 0])
    err_f = np.abs(filtered.xs("x", axis=1, level="coords").to_numpy() - truth[..., 0])
    assert err_f.mean() < err_raw.mean()


def test_savgol_with_pcutoff_and_csv(noisy, capsys) -> None:
    project, path, _, lik = noisy
    video = project.path / "videos" / "session1.mp4"
    rc = main(
        [
            "filter", str(project.path), str(video), "--method", "savgol",
            "--window", "7", "--polyorder", "2", "--pcutoff", "0.5", "--csv",
        ]
    )  # fmt: skip
    assert rc == 0
    out = _wrote(capsys.readouterr().out)
    assert out.with_suffix(".csv").is_file()
    raw = pd.read_hdf(path)
    filtered = pd.read_hdf(out)
    x = filtered.xs("x", axis=1, level="coords").to_numpy()
    # points below the p-cutoff are NaN, the others are not
    assert np.isnan(x[lik < 0.5]).all()
    bp = project.bodyparts[0]
    col = raw[(SCORER, bp, "x")].to_numpy()
    ok = lik[:, 0] >= 0.5
    # a stretch of 7 valid frames around t: the value is scipy's savgol there
    ref = signal.savgol_filter(col, 7, 2)
    for t in range(3, N - 3):
        if ok[t - 3 : t + 4].all():
            assert filtered[(SCORER, bp, "x")].iloc[t] == pytest.approx(ref[t])
    csv = pd.read_csv(out.with_suffix(".csv"), header=[0, 1, 2], index_col=0)
    np.testing.assert_allclose(csv.to_numpy(), filtered.to_numpy(), equal_nan=True)


def test_errors(noisy, tmp_path, capsys) -> None:
    project, path, _, _ = noisy
    assert main(["filter", str(project.path), str(tmp_path / "none.h5")]) == 2
    assert "No video or predictions file at" in capsys.readouterr().err
    assert main(["filter", str(project.path), str(path), "--window", "4"]) == 2
    assert "odd" in capsys.readouterr().err


def test_a_folder_stands_for_its_videos(noisy, capsys) -> None:
    project, path, _, _ = noisy
    folder = str(project.path / "videos")
    assert main(["filter", str(project.path), folder, "--window", "3"]) == 0
    out = _wrote(capsys.readouterr().out)
    assert out == path.with_name(path.stem + "_filtered.h5")


def test_shuffle_and_trainingsetindex_as_in_the_other_commands(noisy, capsys) -> None:
    """``--shuffle``/``--trainingsetindex``, as train and analyze take them (QA s15).

    They were "unrecognized arguments", although refusals tell users to work on
    ``--shuffle 2``. (The demo has no network: the newest predictions are taken.)
    """
    from posekit.engine.cli import build_parser

    project, path, _, _ = noisy
    argv = [str(project.path), "--shuffle", "2", "--trainingsetindex", "0"]
    assert main(["filter", *argv]) == 0
    assert _lines(capsys.readouterr().out) == {
        "read": [str(path)],
        "wrote": [str(path.with_name(path.stem + "_filtered.h5"))],
    }
    args = build_parser().parse_args(["labeled-video", *argv])
    assert (args.shuffle, args.trainingsetindex) == (2, 0)


def test_filtered_takes_a_predictions_file_s_filtered_sibling(noisy, capsys) -> None:
    """QA s20 (docs-literal): ``labeled-video P F.h5 --filtered`` drew ``F.h5``.

    ``--filtered`` (``filtered=True``) was ignored for a predictions file given by
    name: the unfiltered points were drawn, into the unfiltered video's name.
    """
    from posekit.engine.api import video_predictions

    project, path, _, _ = noisy
    sibling = path.with_name(f"{path.stem}_filtered.h5")
    sibling.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match="No filtered predictions for .*filter"):
        video_predictions(project, [path], filtered=True)
    assert main(["filter", str(project.path), str(path)]) == 0
    capsys.readouterr()
    assert video_predictions(project, [path], filtered=True) == [sibling]
    assert video_predictions(project, [sibling], filtered=True) == [sibling]
    assert video_predictions(project, [path]) == [path]  # as given without it


def test_files_may_follow_the_options(noisy, capsys) -> None:
    """QA s20 (docs-literal): ``posekit filter P --method median F.h5`` was refused.

    argparse leaves a file list after an option unrecognized; the files given after
    options join the command's list of files, in order. A stray option still fails.
    """
    project, path, _, _ = noisy
    argv = ["filter", str(project.path), "--method", "median", "--window", "3"]
    assert main([*argv, str(path)]) == 0
    got = _lines(capsys.readouterr().out)
    assert got["read"] == [str(path)]
    assert got["wrote"] == [str(path.with_name(f"{path.stem}_filtered.h5"))]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, str(path), "--no-such-option"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: unrecognized arguments:" in err and "--no-such-option" in err
