"""A folder of images analysed into one DLC file (DeepLabCut's analyze_time_lapse_frames).

The known answer: frames of the demo video saved as PNG (lossless) give exactly the
keypoints the video's own analysis gives for those frames.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

import posekit.engine as deeplabcut
from posekit.engine.api import analyze_videos
from posekit.engine.cli import main
from posekit.engine.image_analysis import analyze_images, list_images
from posekit.engine.io import load_poses
from posekit.engine.video import VideoReader

N = 6


@pytest.fixture(scope="module")
def trained(tiny_trained_copy):
    """Return a trained demo project, its video's predictions and a folder of frames."""
    project = tiny_trained_copy("images")
    video = project.videos()[0]
    (h5,) = analyze_videos(
        project, [video], destfolder=project.path / "video-out", progress=False
    )
    frames = project.path / "stills"
    frames.mkdir()
    with VideoReader(video) as reader:
        for i, frame in reader.iter_frames(0, N):
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            assert cv2.imwrite(str(frames / f"img{i:04d}.png"), bgr)
    return project, pd.read_hdf(h5), frames


def test_a_folder_of_frames_gives_the_video_analysis(trained, tmp_path):
    project, by_video, stills = trained
    frames = tmp_path / "session-a"
    frames.mkdir()
    for png in stills.iterdir():
        (frames / png.name).write_bytes(png.read_bytes())
    (frames / "broken.png").write_bytes(b"not an image")
    (frames / "notes.txt").write_text("not an image either")
    out = analyze_images(project, frames, progress=False, plot=True)
    (h5,) = out
    scorer = by_video.columns.get_level_values("scorer")[0]
    assert h5 == frames / f"session-a{scorer}.h5"
    # the unreadable image is left out and named; the text file is not an image
    assert list(out.failed) == [frames / "broken.png"]
    df = pd.read_hdf(h5, "df_with_missing")
    assert df.index.tolist() == [f"img{i:04d}.png" for i in range(N)]
    assert df.columns.equals(by_video.columns)
    np.testing.assert_allclose(df.to_numpy(), by_video.to_numpy()[:N], atol=1e-4)
    # the poses dataset keeps the image names; no frame rate is invented
    ds = load_poses(h5)
    assert list(ds.attrs["frames"]) == df.index.tolist() and ds.attrs["fps"] is None
    drawn = sorted(p.name for p in (frames / f"session-a{scorer}_labeled").iterdir())
    assert drawn == [f"img{i:04d}.png" for i in range(N)]
    # a second run skips the folder; overwrite analyses it again
    before = h5.stat().st_mtime_ns
    again = analyze_images(project, frames, progress=False)
    assert again.skipped == [h5] and h5.stat().st_mtime_ns == before
    analyze_images(project, frames, progress=False, overwrite=True)
    assert h5.stat().st_mtime_ns != before


def test_images_of_two_sizes_and_a_crop_keep_whole_image_coordinates(trained, tmp_path):
    """Images of two sizes share a folder; a crop's points are in the whole image.

    The full-size frame still gives the video's answer beside a half-size copy (each
    size has its own network input), and the crop of an image gives the answer of
    the region saved alone, shifted by the crop's corner.
    """
    project, by_video, stills = trained
    folder = tmp_path / "mixed"
    folder.mkdir()
    image = cv2.imread(str(stills / "img0000.png"))
    cv2.imwrite(str(folder / "a_full.png"), image)
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(folder / "b_half.jpg"), small)
    (h5,) = analyze_images(project, folder, progress=False)
    df = pd.read_hdf(h5)
    assert df.index.tolist() == ["a_full.png", "b_half.jpg"]
    xyp = df.to_numpy().reshape(2, -1, 3)
    np.testing.assert_allclose(xyp[0], by_video.to_numpy()[0].reshape(-1, 3), atol=1e-4)
    assert np.isfinite(xyp[1]).all()
    assert (xyp[1, :, 0] <= small.shape[1]).all()
    assert (xyp[1, :, 1] <= small.shape[0]).all()
    # a crop: the region analysed alone, coordinates in the whole image
    h, w = image.shape[:2]
    crop = (w // 4, w, h // 4, h)
    (cropped,) = analyze_images(
        project,
        [folder / "a_full.png"],
        cropping=crop,
        destfolder=tmp_path / "crop",
        progress=False,
    )
    only = np.ascontiguousarray(image[h // 4 :, w // 4 :])
    cv2.imwrite(str(tmp_path / "region.png"), only)
    (region,) = analyze_images(
        project, [tmp_path / "region.png"], destfolder=tmp_path / "r", progress=False
    )
    a = pd.read_hdf(cropped).to_numpy().reshape(-1, 3)
    b = pd.read_hdf(region).to_numpy().reshape(-1, 3)
    np.testing.assert_allclose(a[:, 0], b[:, 0] + w // 4, atol=1e-3)
    np.testing.assert_allclose(a[:, 1], b[:, 1] + h // 4, atol=1e-3)
    np.testing.assert_allclose(a[:, 2], b[:, 2], atol=1e-5)


def test_deeplabcut_names_and_the_command_line(trained, tmp_path, capsys):
    project, by_video, stills = trained
    folder = tmp_path / "timelapse"
    folder.mkdir()
    for png in sorted(stills.iterdir())[:3]:
        (folder / png.name).write_bytes(png.read_bytes())
    (folder / "extra.jpg").write_bytes((stills / "img0003.png").read_bytes())
    # DeepLabCut 2's call: only frametype's images, outputs in the folder
    (h5,) = deeplabcut.analyze_time_lapse_frames(
        str(project.path / "config.yaml"),
        str(folder),
        frametype=".png",
        shuffle=1,
        trainingsetindex=0,
        gputouse=None,
        save_as_csv=True,
    )
    assert pd.read_hdf(h5).index.tolist() == [
        p.name for p in sorted(stills.iterdir())[:3]
    ]
    assert h5.with_suffix(".csv").is_file()
    assert h5.with_name(h5.stem + "_meta.pickle").is_file()
    # DeepLabCut 3's keywords
    (other,) = deeplabcut.analyze_images(
        project, folder, frame_type="jpg", output_dir=tmp_path / "dlc3", device="cpu"
    )
    assert pd.read_hdf(other).index.tolist() == ["extra.jpg"]
    # the command line: exit 2 naming an unreadable image, the file on stdout
    (folder / "zz.png").write_bytes(b"")
    code = main(
        [
            "analyze-images",
            str(project.path),
            str(folder),
            "--dest",
            str(tmp_path / "c"),
        ]
    )
    out = capsys.readouterr()
    assert code == 2
    assert "not analysed" in out.err and "zz.png" in out.err
    (written,) = out.out.split()
    assert len(pd.read_hdf(written)) == 4


def test_bad_input_says_what_is_wrong(trained, tmp_path):
    project, _, _ = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"No images \(\*\.png.*frametype"):
        list_images(empty)
    with pytest.raises(FileNotFoundError, match="No such folder or image"):
        list_images(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ValueError, match="None of the 1 image"):
        analyze_images(project, bad, progress=False)
    assert not list(bad.glob("*.h5"))
    assert list_images(bad, "PNG") == [bad / "a.png"]  # any case
