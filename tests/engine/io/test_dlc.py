"""DeepLabCut labels and predictions, checked against DeepLabCut's own files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest

from posekit.engine.io import load_poses
from posekit.engine.io.dlc import (
    H5_KEY,
    LabelError,
    convert_csv_to_h5,
    convert_h5_to_csv,
    index_to_paths,
    labels_to_array,
    load_dlc,
    make_labels_frame,
    paths_to_index,
    predictions_frame,
    read_dlc_csv,
    read_labels,
    read_predictions,
    save_dlc,
    validate_labels,
    write_labels,
    write_predictions,
)
from posekit.engine.poses import from_numpy

OPENFIELD_BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]


@pytest.fixture(scope="module")
def openfield_labels_dir(openfield_dir: Path) -> Path:
    return openfield_dir / "labeled-data" / "m4s1"


@pytest.fixture(scope="module")
def dlc_frame(openfield_labels_dir: Path) -> pd.DataFrame:
    """Read the openfield labels exactly as DeepLabCut reads them."""
    return pd.read_hdf(openfield_labels_dir / "CollectedData_Pranav.h5")


@pytest.fixture(scope="module")
def labels_frame() -> pd.DataFrame:
    """Labels laid out as openfield's (string rows, scorer Pranav), made here.

    For the tests that need some DLC label frame, not the real one.
    """
    values = np.random.default_rng(7).uniform(5, 470, (12, 8)).round(3)
    values[3, 2:4] = np.nan  # one bodypart not labelled
    columns = pd.MultiIndex.from_product(
        [["Pranav"], OPENFIELD_BODYPARTS, ["x", "y"]],
        names=["scorer", "bodyparts", "coords"],
    )
    rows = [f"labeled-data/m4s1/img{i:04d}.png" for i in range(12)]
    return pd.DataFrame(values, index=rows, columns=columns)


@pytest.fixture(scope="module")
def fixtures_dir(shared_data: Path) -> Path:
    return shared_data / "sleap-dlc-format-fixtures" / "labeled-data" / "video"


def _with_multiindex_rows(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.index = paths_to_index(index_to_paths(df.index))
    return out


def _leftovers(folder: Path, expected: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - expected


# ---------------------------------------------------------------- the real labels


def test_openfield_h5_reads_like_dlc(
    openfield_labels_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    df = read_labels(openfield_labels_dir / "CollectedData_Pranav.h5")
    pd.testing.assert_frame_equal(df, dlc_frame)
    assert df.shape == (116, 8)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert df.index[0] == "labeled-data/m4s1/img0000.png"
    assert df.notna().all().all()
    assert df.loc["labeled-data/m4s1/img0000.png", ("Pranav", "snout", "x")] == 21.521


def test_openfield_csv_reads_like_the_h5(
    openfield_labels_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    df = read_labels(openfield_labels_dir / "CollectedData_Pranav.csv")
    pd.testing.assert_frame_equal(df, dlc_frame)
    assert df.equals(dlc_frame)


@pytest.mark.parametrize("rows", ["string", "multiindex"])
def test_write_labels_round_trip(
    tmp_path: Path, labels_frame: pd.DataFrame, rows: str
) -> None:
    df = labels_frame if rows == "string" else _with_multiindex_rows(labels_frame)
    out = write_labels(df, tmp_path / "CollectedData_Pranav.h5")
    assert out == tmp_path / "CollectedData_Pranav.h5"
    assert {p.name for p in tmp_path.iterdir()} == {
        "CollectedData_Pranav.h5",
        "CollectedData_Pranav.csv",
    }
    # our reader, DeepLabCut's reader (pd.read_hdf without a key) and Lightning
    # Pose's CSV reader all give the same frame back
    pd.testing.assert_frame_equal(read_labels(out), df)
    pd.testing.assert_frame_equal(read_labels(out.with_suffix(".csv")), df)
    pd.testing.assert_frame_equal(pd.read_hdf(out), df)
    pd.testing.assert_frame_equal(pd.read_hdf(out, H5_KEY), df)
    if rows == "string":
        lp = pd.read_csv(out.with_suffix(".csv"), header=[0, 1, 2], index_col=0)
        pd.testing.assert_frame_equal(lp, df)
    else:
        assert isinstance(pd.read_hdf(out).index, pd.MultiIndex)
        assert pd.read_hdf(out).index[5] == ("labeled-data", "m4s1", "img0005.png")


def test_written_csv_is_byte_identical_to_dlcs(
    tmp_path: Path, openfield_labels_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    write_labels(dlc_frame, tmp_path / "CollectedData_Pranav.h5")
    assert (tmp_path / "CollectedData_Pranav.csv").read_bytes() == (
        openfield_labels_dir / "CollectedData_Pranav.csv"
    ).read_bytes()


def test_write_labels_without_csv(tmp_path: Path, labels_frame: pd.DataFrame) -> None:
    write_labels(labels_frame, tmp_path / "CollectedData_Pranav.csv", csv=False)
    assert [p.name for p in tmp_path.iterdir()] == ["CollectedData_Pranav.h5"]


def test_convert_csv_to_h5(
    tmp_path: Path, openfield_labels_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    csv = tmp_path / "CollectedData_Pranav.csv"
    shutil.copyfile(openfield_labels_dir / "CollectedData_Pranav.csv", csv)
    h5 = convert_csv_to_h5(csv)
    assert h5 == tmp_path / "CollectedData_Pranav.h5"
    pd.testing.assert_frame_equal(pd.read_hdf(h5), dlc_frame)
    assert (
        csv.read_bytes()
        == (openfield_labels_dir / "CollectedData_Pranav.csv").read_bytes()
    )


def test_convert_h5_to_csv(
    tmp_path: Path, openfield_labels_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    h5 = tmp_path / "CollectedData_Pranav.h5"
    shutil.copyfile(openfield_labels_dir / "CollectedData_Pranav.h5", h5)
    csv = convert_h5_to_csv(h5)
    assert csv == tmp_path / "CollectedData_Pranav.csv"
    pd.testing.assert_frame_equal(read_dlc_csv(csv), dlc_frame)
    assert (
        csv.read_bytes()
        == (openfield_labels_dir / "CollectedData_Pranav.csv").read_bytes()
    )


def test_multiindex_csv_converts_to_h5(
    tmp_path: Path, labels_frame: pd.DataFrame
) -> None:
    df = _with_multiindex_rows(labels_frame)
    df.to_csv(tmp_path / "CollectedData_Pranav.csv")  # DLC >= 2.2 CSV (3 index columns)
    h5 = convert_csv_to_h5(tmp_path / "CollectedData_Pranav.csv")
    pd.testing.assert_frame_equal(pd.read_hdf(h5), df)


def test_h5_under_napari_keypoints_key(
    tmp_path: Path, labels_frame: pd.DataFrame
) -> None:
    path = tmp_path / "CollectedData_Pranav.h5"
    labels_frame.to_hdf(path, key="keypoints", mode="w")  # napari-deeplabcut <= 0.2
    pd.testing.assert_frame_equal(read_labels(path), labels_frame)
    ds = load_poses(path)
    assert ds.position.shape == (12, 2, 4, 1)


def test_index_conversions() -> None:
    paths = ["labeled-data/v/img01.png", "labeled-data\\w\\img02.png"]
    mi = paths_to_index(paths)
    assert isinstance(mi, pd.MultiIndex)
    assert list(mi) == [
        ("labeled-data", "v", "img01.png"),
        ("labeled-data", "w", "img02.png"),
    ]
    assert index_to_paths(mi) == [
        "labeled-data/v/img01.png",
        "labeled-data/w/img02.png",
    ]
    flat = paths_to_index(paths, multiindex=False)
    assert not isinstance(flat, pd.MultiIndex)
    assert index_to_paths(flat) == index_to_paths(mi)
    with pytest.raises(LabelError, match="labeled-data/<video>/<image>"):
        paths_to_index(["img01.png"])


# ---------------------------------------------------------------- SLEAP's DLC fixtures


def _cells_from_text(path: Path, n_header: int, n_index: int) -> np.ndarray:
    """Parse the numbers of a DLC CSV naively from its text (short rows padded)."""
    lines = path.read_text().splitlines()
    width = max(len(line.split(",")) for line in lines) - n_index
    rows = []
    for line in lines[n_header:]:
        cells = line.split(",")[n_index:]
        cells += [""] * (width - len(cells))
        rows.append([float(c) if c else np.nan for c in cells])
    return np.array(rows)


FIXTURES = {
    # name: (header rows, index columns, n bodyparts x individuals columns)
    "dlc_testdata.csv": (3, 1, 6),
    "dlc_testdata_v2.csv": (3, 3, 6),
    "madlc_testdata.csv": (4, 1, 12),
    "madlc_testdata_v2.csv": (4, 3, 12),
    "maudlc_testdata.csv": (4, 1, 16),
    "maudlc_testdata_v2.csv": (4, 3, 16),
    "CollectedData_LM.csv": (4, 3, 16),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_dlc_csv_variant_parses(fixtures_dir: Path, name: str) -> None:
    n_header, n_index, n_cols = FIXTURES[name]
    path = fixtures_dir / name
    df = read_labels(path)
    assert df.shape == (4, n_cols)
    assert df.columns.nlevels == n_header
    expected_names = ["scorer", "bodyparts", "coords"]
    if n_header == 4:
        expected_names.insert(1, "individuals")
    assert list(df.columns.names) == expected_names
    assert df.index.nlevels == n_index
    assert index_to_paths(df.index) == [
        f"labeled-data/video/img00{i}.png" for i in range(4)
    ]
    assert set(df.columns.get_level_values("scorer")) == {"Scorer"}
    assert list(dict.fromkeys(df.columns.get_level_values("coords"))) == ["x", "y"]
    assert df.dtypes.eq(np.float64).all()
    np.testing.assert_array_equal(
        df.to_numpy(), _cells_from_text(path, n_header, n_index)
    )
    paths = index_to_paths(df.index)
    row = dict(zip(paths, range(4), strict=True))
    sub = df.droplevel("scorer", axis=1)
    img = "labeled-data/video/img00{}.png".format
    # img002.png has no labels at all (and is a short row in the maudlc files)
    assert sub.iloc[row[img(2)]].isna().all()
    if n_header == 3:
        assert sub.loc[df.index[row[img(0)]], ("A", "x")] == 0.0
        assert sub.loc[df.index[row[img(1)]], ("C", "y")] == 16.0
        assert np.isnan(sub.loc[df.index[row[img(1)]], ("B", "x")])
        assert sub.loc[df.index[row[img(3)]], ("A", "y")] == 23.0
    else:
        inds = list(dict.fromkeys(df.columns.get_level_values("individuals")))
        assert inds[:2] == ["Animal1", "Animal2"]
        assert sub.loc[df.index[row[img(0)]], ("Animal2", "C", "y")] == 11.0
        assert np.isnan(sub.loc[df.index[row[img(1)]], ("Animal1", "B", "x")])
        assert sub.loc[df.index[row[img(1)]], ("Animal2", "C", "x")] == 20.0
        assert sub.loc[df.index[row[img(3)]], ["Animal2"]].isna().all()
        if n_cols == 16:
            assert inds == ["Animal1", "Animal2", "single"]
            assert list(dict.fromkeys(sub["single"].columns.get_level_values(0))) == [
                "D",
                "E",
            ]
            assert sub.loc[df.index[row[img(0)]], ["single"]].isna().all()
            assert sub.loc[df.index[row[img(1)]], ("single", "D", "x")] == 22.0
            assert sub.loc[df.index[row[img(3)]], ("single", "E", "y")] == 35.0
            assert sub.loc[df.index[row[img(3)]], ("Animal1", "A", "x")] == 26.0


def test_multianimal_csv_round_trip(tmp_path: Path, fixtures_dir: Path) -> None:
    df = read_labels(fixtures_dir / "maudlc_testdata.csv")
    out = write_labels(df, tmp_path / "CollectedData_Scorer.h5")
    pd.testing.assert_frame_equal(read_labels(out), df)
    pd.testing.assert_frame_equal(read_labels(out.with_suffix(".csv")), df)
    arr = labels_to_array(df)
    assert arr.shape == (4, 3, 5, 2)  # Animal1, Animal2, single x A..E
    assert arr[3, 2, 4].tolist() == [34.0, 35.0]  # single/E in img003
    assert np.isnan(arr[:, 0, 3]).all()  # no D under Animal1
    ds = load_poses(fixtures_dir / "maudlc_testdata_v2.csv")
    assert list(ds.individual.values) == ["Animal1", "Animal2", "single"]
    assert ds.position.sel(individual="single", keypoint="D", space="x")[1] == 22.0


@pytest.mark.parametrize(
    "name", ["single", "single_v2", "multi", "multi_v2", "multi_unique_v2"]
)
def test_every_layout_round_trips(
    tmp_path: Path, dlc_csv_variants: dict[str, Path], name: str
) -> None:
    df = read_labels(dlc_csv_variants[name])
    expected = pd.read_csv(
        dlc_csv_variants[name],
        header=list(range(df.columns.nlevels)),
        index_col=list(range(df.index.nlevels)),
    )
    np.testing.assert_array_equal(df.to_numpy(), expected.to_numpy())
    assert df.columns.tolist() == expected.columns.tolist()
    out = write_labels(df, tmp_path / "CollectedData_Tester.h5")
    pd.testing.assert_frame_equal(read_labels(out), df)
    pd.testing.assert_frame_equal(read_labels(out.with_suffix(".csv")), df)
    arr = labels_to_array(df)
    assert arr.shape[0] == 4 and np.isnan(arr[2]).all()  # img002 not labelled


def test_csv_saved_by_excel_with_a_bom(
    tmp_path: Path, labels_frame: pd.DataFrame
) -> None:
    path = tmp_path / "CollectedData_Pranav.csv"
    labels_frame.to_csv(path)  # as DeepLabCut writes it
    text = path.read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(read_labels(path), labels_frame)
    assert load_poses(path).position.shape == (12, 2, 4, 1)  # recognised as DLC


def test_csv_saved_by_a_spreadsheet_in_a_decimal_comma_locale(
    tmp_path: Path, labels_frame: pd.DataFrame
) -> None:
    """';' between the cells, decimal commas, empty rows at the end.

    It failed ("not a DeepLabCut CSV"), and empty rows became frames.
    """
    import re

    path = tmp_path / "CollectedData_Pranav.csv"
    labels_frame.to_csv(path)
    lines = []
    for line in path.read_text().splitlines():
        cells = line.split(",")
        lines.append(
            ";".join(
                [
                    cells[0],
                    *(re.sub(r"^(-?\d+)\.(\d+)$", r"\1,\2", c) for c in cells[1:]),
                ]
            )
        )
    assert ",5" in lines[3]  # the numbers now have decimal commas
    path.write_text("\n".join(lines) + "\n;;;;;;;;\n\n")
    pd.testing.assert_frame_equal(read_labels(path), labels_frame)
    labels_frame.to_csv(path)
    with open(path, "a") as fh:
        fh.write(",,,,,,,,\n,,,,,,,,\n")  # a spreadsheet's empty rows
    pd.testing.assert_frame_equal(read_labels(path), labels_frame)


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "CollectedData_Jos\u00e9.csv"
    path.write_bytes(
        "scorer,Jos\u00e9,Jos\u00e9\nbodyparts,a,a\ncoords,x,y\n".encode("cp1252")
    )
    with pytest.raises(LabelError, match="is not UTF-8 text.*CSV UTF-8"):
        read_labels(path)


def test_csv_that_is_not_dlc(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("frame,x,y\n0,1,2\n")
    with pytest.raises(LabelError, match="first cell should be 'scorer'"):
        read_labels(bad)
    bad.write_text(
        "scorer,S,S\nbodyparts,a,a\ncoords,x,y\nlabeled-data/v/img0.png,1.5,oops\n"
    )
    with pytest.raises(LabelError, match=r"row 4: 'oops' is not a number"):
        read_labels(bad)
    with pytest.raises(FileNotFoundError, match="No label file"):
        read_labels(tmp_path / "missing.h5")


# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize("multiindex_rows", [True, False])
def test_make_labels_frame_and_back(
    tmp_path: Path, rng: np.random.Generator, multiindex_rows: bool
) -> None:
    coords = rng.uniform(0, 100, (3, 2, 2))
    coords[1, 0] = np.nan
    paths = [f"labeled-data/vid/img{i}.png" for i in range(3)]
    df = make_labels_frame(
        "me", ["nose", "tail"], paths, coords, multiindex_rows=multiindex_rows
    )
    assert list(df.columns) == [
        ("me", "nose", "x"),
        ("me", "nose", "y"),
        ("me", "tail", "x"),
        ("me", "tail", "y"),
    ]
    assert isinstance(df.index, pd.MultiIndex) == multiindex_rows
    np.testing.assert_array_equal(labels_to_array(df), coords)
    # in another bodypart order, with a bodypart the frame lacks
    arr = labels_to_array(df, ["tail", "ear", "nose"])
    np.testing.assert_array_equal(arr[:, 0], coords[:, 1])
    np.testing.assert_array_equal(arr[:, 2], coords[:, 0])
    assert np.isnan(arr[:, 1]).all()
    # the file round trip is exact, whatever the row form
    out = write_labels(df, tmp_path / "CollectedData_me.h5")
    pd.testing.assert_frame_equal(read_labels(out), df)
    pd.testing.assert_frame_equal(read_labels(out.with_suffix(".csv")), df)


def test_make_labels_frame_multianimal(rng: np.random.Generator) -> None:
    coords = rng.uniform(0, 100, (2, 3, 2, 2))
    df = make_labels_frame(
        "me",
        ["a", "b"],
        ["labeled-data/v/img0.png", "labeled-data/v/img1.png"],
        coords,
        individuals=["m1", "m2", "m3"],
    )
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df[("me", "m2", "b", "y")].tolist() == coords[:, 1, 1, 1].tolist()
    np.testing.assert_array_equal(labels_to_array(df), coords)


def test_write_labels_rejects_foreign_columns(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1.0], "y": [2.0]})
    with pytest.raises(LabelError, match="column levels"):
        write_labels(df, tmp_path / "CollectedData_me.h5")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- validation


def _labelled_project(tmp_path: Path, coords: np.ndarray) -> tuple[Path, pd.DataFrame]:
    """Two 40x30 images with labels ``coords`` (2, 2 bodyparts, 2)."""
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(folder / f"img{i}.png"), np.zeros((30, 40, 3), np.uint8))
    paths = [f"labeled-data/vid/img{i}.png" for i in range(2)]
    return tmp_path, make_labels_frame("me", ["nose", "tail"], paths, coords)


def test_openfield_labels_are_valid(
    openfield_dir: Path, dlc_frame: pd.DataFrame
) -> None:
    validate_labels(dlc_frame, OPENFIELD_BODYPARTS, project_path=openfield_dir)


def test_valid_labels_pass(tmp_path: Path) -> None:
    coords = np.array([[[1, 2], [39, 29]], [[np.nan, np.nan], [0, 0]]], float)
    root, df = _labelled_project(tmp_path, coords)
    validate_labels(df, ["nose", "tail"], project_path=root)


def test_bodyparts_not_in_config(tmp_path: Path) -> None:
    root, df = _labelled_project(tmp_path, np.ones((2, 2, 2)))
    with pytest.raises(LabelError) as info:
        validate_labels(df, ["nose", "ear"], project_path=root)
    message = str(info.value)
    assert "['tail'] are in the label file but not in config.yaml" in message
    assert "add them to the config" in message
    assert "['ear'] are in config.yaml but not in the label file" in message


def test_bodypart_added_to_the_config_after_labelling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, df = _labelled_project(tmp_path, np.ones((2, 2, 2)))
    with caplog.at_level(logging.WARNING, logger="posekit"):
        validate_labels(df, ["nose", "tail", "ear"], project_path=root)
    assert "['ear'] are in config.yaml but not in the label file" in caplog.text
    assert "unlabelled" in caplog.text


def test_duplicated_frames(tmp_path: Path) -> None:
    root, df = _labelled_project(tmp_path, np.ones((2, 2, 2)))
    dup = pd.concat([df, df.iloc[:1]])
    with pytest.raises(
        LabelError, match=r"duplicated frames: \['labeled-data/vid/img0.png'\]"
    ):
        validate_labels(dup, ["nose", "tail"])
    # the same frame written in the two row forms is a duplicate too
    flat = df.iloc[:1].copy()
    flat.index = pd.Index(index_to_paths(flat.index))
    mixed = pd.concat([df.reset_index(drop=True), flat.reset_index(drop=True)])
    mixed.index = pd.Index(index_to_paths(df.index) + ["labeled-data\\vid\\img0.png"])
    with pytest.raises(LabelError, match="duplicated frames"):
        validate_labels(mixed, ["nose", "tail"])


def test_coordinates_outside_the_image(tmp_path: Path) -> None:
    coords = np.array([[[1, 2], [3, 4]], [[41, 5], [3, 4]]], float)  # x 41 > width 40
    root, df = _labelled_project(tmp_path, coords)
    with pytest.raises(
        LabelError, match=r"outside the image in 1 frame\(s\)(.|\n)*img1\.png"
    ):
        validate_labels(df, ["nose", "tail"], project_path=root)
    coords[1, 0] = [5, -1]  # negative y
    root2, df2 = _labelled_project(tmp_path / "b", coords)
    with pytest.raises(LabelError, match="outside the image"):
        validate_labels(df2, ["nose", "tail"], project_path=root2)
    # not checked without the project's images
    validate_labels(df2, ["nose", "tail"])


def test_outside_message_names_frames_bodyparts_size_and_what_to_do(
    tmp_path: Path,
) -> None:
    """QA s19 #2: merge said only "coordinates outside the image in 1 frame(s)"."""
    coords = np.array(
        [[[1, 2], [40.0, 30.0]], [[42.8, 36.8], [45.4, -7.5]]], float
    )  # img0's tail on the corner (inside), img1's nose and tail outside 40x30
    root, df = _labelled_project(tmp_path, coords)
    with pytest.raises(LabelError) as info:
        validate_labels(df, ["nose", "tail"], project_path=root)
    message = str(info.value)
    assert "coordinates outside the image in 1 frame(s)" in message
    assert (
        "labeled-data/vid/img1.png (image 40×30 px): nose (42.8, 36.8), "
        "tail (45.4, -7.5)" in message
    )
    assert "img0.png" not in message
    assert "0 ≤ x ≤ width and 0 ≤ y ≤ height" in message
    assert "Move each of these points inside the image, or delete it" in message
    assert "labelling app (notebooks/label.ipynb; video vid;" in message
    assert "refine app (notebooks/refine.ipynb)" in message


def test_outside_message_names_the_animal_and_caps_the_frames(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    paths = []
    for i in range(7):
        cv2.imwrite(str(folder / f"img{i}.png"), np.zeros((30, 40, 3), np.uint8))
        paths.append(f"labeled-data/vid/img{i}.png")
    columns = pd.MultiIndex.from_product(
        [["me"], ["mouse1", "mouse2"], ["nose"], ["x", "y"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    values = np.tile([1.0, 2.0, 50.0, 3.0], (7, 1))  # mouse2's nose at x 50 > 40
    df = pd.DataFrame(values, index=pd.Index(paths), columns=columns)
    with pytest.raises(LabelError) as info:
        validate_labels(df, ["nose"], project_path=tmp_path)
    message = str(info.value)
    assert "outside the image in 7 frame(s)" in message
    assert "img4.png (image 40×30 px): mouse2/nose (50.0, 3.0)" in message
    assert "img5.png" not in message
    assert "… and 2 more frame(s)" in message
    assert "mouse1" not in message


def test_missing_image_file(tmp_path: Path) -> None:
    root, df = _labelled_project(tmp_path, np.ones((2, 2, 2)))
    (root / "labeled-data" / "vid" / "img1.png").unlink()
    with pytest.raises(LabelError) as info:
        validate_labels(df, ["nose", "tail"], project_path=root)
    assert "1 labelled image file(s) missing or unreadable" in str(info.value)
    assert "put them back (extract_frames" in str(info.value)
    assert "labeled-data/vid/img1.png" in str(info.value)
    validate_labels(df, ["nose", "tail"], project_path=root, check_images=False)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    coords = np.array([[[1, 2], [3, 4]], [[99, 5], [3, 4]]], float)
    root, df = _labelled_project(tmp_path, coords)
    (root / "labeled-data" / "vid" / "img0.png").write_bytes(b"not a png")
    with pytest.raises(LabelError) as info:
        validate_labels(pd.concat([df, df]), ["nose"], project_path=root)
    message = str(info.value)
    for part in ("not in config.yaml", "duplicated frames", "unreadable", "outside"):
        assert part in message


# ---------------------------------------------------------------- broken files


def test_truncated_h5_raises_label_error_with_advice(
    tmp_path: Path, labels_frame: pd.DataFrame
) -> None:
    bad = tmp_path / "CollectedData_Pranav.h5"
    labels_frame.to_hdf(bad, key=H5_KEY, format="table", mode="w")  # as DLC does
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(LabelError) as info:
        read_labels(bad)
    message = str(info.value)
    assert str(bad) in message
    assert "convert_csv_to_h5" in message  # what to do
    bad.write_bytes(b"\x00" * 2048)
    with pytest.raises(LabelError, match="Could not read .* as a DeepLabCut h5"):
        read_labels(bad)


def test_h5_without_pandas_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("data", data=np.zeros(3))
    with pytest.raises(LabelError, match="holds no pandas table"):
        read_labels(path)


def test_h5_with_foreign_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path, key="df_with_missing", mode="w")
    with pytest.raises(LabelError, match=r"column levels are \[None\]"):
        read_labels(path)


def test_failed_write_keeps_the_old_labels(
    tmp_path: Path, labels_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_labels(labels_frame, tmp_path / "CollectedData_Pranav.h5")
    old_h5 = target.read_bytes()
    old_csv = target.with_suffix(".csv").read_bytes()

    def broken_to_hdf(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n partial")  # part of a file, then die
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_hdf", broken_to_hdf)
    changed = labels_frame * 2
    with pytest.raises(OSError, match="No space left"):
        write_labels(changed, target)
    assert target.read_bytes() == old_h5
    assert target.with_suffix(".csv").read_bytes() == old_csv
    assert _leftovers(tmp_path, {target.name, target.with_suffix(".csv").name}) == set()
    monkeypatch.undo()
    pd.testing.assert_frame_equal(read_labels(target), labels_frame)


def test_failed_csv_write_keeps_the_old_csv(
    tmp_path: Path, labels_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_labels(labels_frame, tmp_path / "CollectedData_Pranav.h5")
    old_csv = target.with_suffix(".csv").read_bytes()
    real_to_csv = pd.DataFrame.to_csv

    def broken_to_csv(self, path, *args, **kwargs):
        real_to_csv(self.iloc[:3], path, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(KeyboardInterrupt):
        write_labels(labels_frame * 2, target)
    assert target.with_suffix(".csv").read_bytes() == old_csv
    assert _leftovers(tmp_path, {target.name, target.with_suffix(".csv").name}) == set()


# ---------------------------------------------------------------- predictions


def test_predictions_open_with_plain_read_hdf(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    xyp = rng.uniform(0, 1, (25, 3, 3))
    scorer = "DLC_mobnet_35_demoJan1shuffle1_1000"
    df = predictions_frame(xyp, scorer, ["snout", "ear", "tail"])
    path = write_predictions(df, tmp_path / f"session1{scorer}.h5", save_csv=True)
    plain = pd.read_hdf(path)
    assert list(plain.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(dict.fromkeys(plain.columns.get_level_values("coords"))) == [
        "x",
        "y",
        "likelihood",
    ]
    assert set(plain.columns.get_level_values("scorer")) == {scorer}
    assert pd.api.types.is_integer_dtype(plain.index)
    assert plain.index.tolist() == list(range(25))
    np.testing.assert_array_equal(plain.to_numpy(), xyp.reshape(25, -1))
    with pd.HDFStore(path, mode="r") as store:
        assert store.keys() == ["/df_with_missing"]
        assert store.get_storer("df_with_missing").is_table  # DLC writes format="table"
    # the csv twin: what DLC's save_as_csv gives
    lp = pd.read_csv(path.with_suffix(".csv"), header=[0, 1, 2], index_col=0)
    pd.testing.assert_frame_equal(lp, plain, check_exact=False, rtol=1e-12)
    ours = read_predictions(path.with_suffix(".csv"))
    assert ours.index.tolist() == list(range(25))
    pd.testing.assert_frame_equal(ours, plain, check_exact=False, rtol=1e-12)


def test_multianimal_predictions(tmp_path: Path, rng: np.random.Generator) -> None:
    xyp = rng.uniform(0, 1, (4, 2, 3, 3))
    df = predictions_frame(
        xyp, "DLC_x", ["a", "b", "c"], individuals=["m1", "m2"], index=[10, 11, 12, 13]
    )
    path = write_predictions(df, tmp_path / "vDLC_x_el.h5", key="tracks")
    plain = pd.read_hdf(path, "tracks")
    assert list(plain.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert plain.index.tolist() == [10, 11, 12, 13]
    assert (
        plain[("DLC_x", "m2", "c", "likelihood")].tolist() == xyp[:, 1, 2, 2].tolist()
    )
    pd.testing.assert_frame_equal(read_predictions(path), plain)


# ---------------------------------------------------------------- poses dataset


def test_load_dlc_predictions_and_labels(
    tmp_path: Path, rng: np.random.Generator, openfield_labels_dir: Path
) -> None:
    xyp = rng.uniform(0, 100, (6, 2, 3))
    xyp[2, 1] = np.nan
    path = write_predictions(
        predictions_frame(xyp, "DLC_net", ["nose", "tail"]),
        tmp_path / "vidDLC_net.h5",
        save_csv=True,
    )
    ds = load_dlc(path, fps=30)
    assert ds.position.shape == (6, 2, 2, 1)
    np.testing.assert_array_equal(
        ds.position.sel(individual="individual_0").transpose(
            "time", "keypoint", "space"
        ),
        xyp[..., :2],
    )
    np.testing.assert_array_equal(ds.confidence.values[..., 0], xyp[..., 2])
    np.testing.assert_allclose(ds.time.values, np.arange(6) / 30)
    assert ds.attrs["source_software"] == "DeepLabCut"
    assert "frames" not in ds.attrs
    from_csv = load_dlc(path.with_suffix(".csv"))
    assert "frames" not in from_csv.attrs
    np.testing.assert_allclose(from_csv.position.values, ds.position.values, rtol=1e-12)

    labels = load_dlc(openfield_labels_dir / "CollectedData_Pranav.h5")
    assert labels.position.shape == (116, 2, 4, 1)
    assert list(labels.keypoint.values) == OPENFIELD_BODYPARTS
    assert np.isnan(labels.confidence.values).all()  # labels have no likelihood
    assert labels.attrs["frames"][3] == "labeled-data/m4s1/img0003.png"
    assert float(labels.position.sel(space="x", keypoint="snout")[0, 0]) == 21.521


def test_save_dlc_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    ds = from_numpy(
        rng.uniform(0, 100, (8, 2, 3, 1)),
        rng.uniform(0, 1, (8, 3, 1)),
        keypoint_names=["a", "b", "c"],
    )
    path = save_dlc(ds, tmp_path / "session1DLC_resnet50_demoJan1shuffle1_500.h5")
    plain = pd.read_hdf(path)
    assert set(plain.columns.get_level_values("scorer")) == {
        "DLC_resnet50_demoJan1shuffle1_500"
    }
    back = load_poses(path)
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    np.testing.assert_array_equal(back.confidence.values, ds.confidence.values)

    multi = from_numpy(
        rng.uniform(0, 100, (5, 2, 2, 2)),
        rng.uniform(0, 1, (5, 2, 2)),
        keypoint_names=["a", "b"],
        individual_names=["f", "m"],
    )
    path = save_dlc(multi, tmp_path / "x.h5", scorer="me", save_csv=True)
    assert pd.read_hdf(path).columns.names[1] == "individuals"
    back = load_poses(path.with_suffix(".csv"))
    assert list(back.individual.values) == ["f", "m"]
    np.testing.assert_allclose(back.position.values, multi.position.values, rtol=1e-12)
