"""Training sets: merged labels, recorded splits (DLC's Documentation pickle)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat

from posekit.engine.dataset import (
    create_training_dataset,
    load_split,
    load_training_set,
    make_split,
    merge_labels,
    symmetric_pairs,
)
from posekit.engine.demo import load_ground_truth
from posekit.engine.io.dlc import (
    LabelError,
    index_to_paths,
    labels_to_array,
    read_labels,
    write_labels,
)
from posekit.engine.project import Project, load_project


def _doc(project: Project, pct: int = 80, shuffle: int = 1) -> Path:
    return (
        project.training_set_dir()
        / f"Documentation_data-{project.task}_{pct}shuffle{shuffle}.pickle"
    )


def _read_doc(path: Path) -> list:
    with open(path, "rb") as fh:
        return pickle.load(fh)


# ---------------------------------------------------------------- the real project


def test_openfield_training_set(openfield_copy: Path, openfield_dir: Path) -> None:
    project = load_project(openfield_copy)
    (split,) = create_training_dataset(project)
    out = (
        openfield_copy
        / "training-datasets"
        / "iteration-0"
        / "UnaugmentedDataSet_openfieldOct30"
    )
    assert project.training_set_dir() == out
    # 116 labelled frames, 95 % for training: DLC's int(round(0.95 * 116)) = 110
    assert len(split.train_indices) == 110 and len(split.test_indices) == 6
    assert sorted([*split.train_indices, *split.test_indices]) == list(range(116))
    assert split.train_fraction == 0.95 and split.shuffle == 1
    merged = pd.read_hdf(out / "CollectedData_Pranav.h5")  # as DeepLabCut reads it
    assert merged.shape == (116, 8)
    assert merged.index[0] == ("labeled-data", "m4s1", "img0000.png")
    original = pd.read_hdf(
        openfield_dir / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    )
    np.testing.assert_array_equal(merged.to_numpy(), original.to_numpy())
    assert (out / "CollectedData_Pranav.csv").is_file()

    doc_path = out / "Documentation_data-openfield_95shuffle1.pickle"
    data, train, test, fraction = _read_doc(doc_path)
    assert list(train) == split.train_indices.tolist()
    assert list(test) == split.test_indices.tolist()
    assert fraction == 0.95
    assert len(data) == 110
    first = data[0]
    i = split.train_indices[0]
    assert first["image"] == ("labeled-data", "m4s1", f"img{i:04d}.png")
    assert tuple(first["size"]) == (3, 480, 640)
    joints = first["joints"]  # DeepLabCut's form: int [bodypart, x, y] rows
    assert isinstance(joints, np.ndarray) and joints.dtype.kind == "i"
    assert joints[:, 0].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(
        joints[:, 1:], original.to_numpy()[i].reshape(4, 2).astype(int)
    )

    mat = loadmat(out / "openfield_Pranav95shuffle1.mat")["dataset"]
    assert mat.shape[-1] == 110

    ts = load_training_set(project)
    assert len(ts.images) == 116 and ts.keypoints.shape == (116, 4, 2)
    assert ts.images[0].shape == (480, 640, 3)
    np.testing.assert_array_equal(ts.keypoints.reshape(116, 8), original.to_numpy())
    assert ts.paths[7] == "labeled-data/m4s1/img0007.png"
    assert ts.flip_pairs == [("leftear", "rightear")]
    imgs, kps = ts.subset("test")
    assert len(imgs) == 6
    np.testing.assert_array_equal(kps, ts.keypoints[split.test_indices])


# ---------------------------------------------------------------- splits


def test_make_split() -> None:
    train, test = make_split(116, 0.95, seed=1)
    assert len(train) == 110 and len(test) == 6
    assert np.intersect1d(train, test).size == 0
    assert sorted([*train, *test]) == list(range(116))
    again = make_split(116, 0.95, seed=1)
    assert train.tolist() == again[0].tolist()
    assert test.tolist() != make_split(116, 0.95, seed=2)[1].tolist()
    assert make_split(10, 1.0)[1].tolist() == []
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\]"):
            make_split(10, bad)


def test_split_is_seeded_and_recorded(
    demo_project: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    splits = create_training_dataset(demo_project, shuffles=(1, 2, 3), seed=5)
    n = len(merge_labels(demo_project))
    assert n == 12
    for s in splits:
        assert len(s.train_indices) == 10 and len(s.test_indices) == 2  # round(0.8*12)
        data, train, test, fraction = _read_doc(_doc(demo_project, 80, s.shuffle))
        assert list(train) == s.train_indices.tolist()
        assert list(test) == s.test_indices.tolist()
        assert fraction == 0.8
        assert len(data) == 10
        recorded = load_split(demo_project, shuffle=s.shuffle)
        assert recorded.train_indices.tolist() == s.train_indices.tolist()
        assert recorded.test_indices.tolist() == s.test_indices.tolist()
    tests = {tuple(s.test_indices) for s in splits}
    assert len(tests) == 3  # each shuffle draws its own split
    # the same seed gives the same split in another copy of the project
    other = tmp_path / "other"
    shutil.copytree(
        demo_project.path, other, ignore=shutil.ignore_patterns("training-datasets")
    )
    same = create_training_dataset(load_project(other), shuffles=(1, 2, 3), seed=5)
    assert [s.test_indices.tolist() for s in same] == [
        s.test_indices.tolist() for s in splits
    ]
    with caplog.at_level("WARNING", logger="posekit"):
        different = create_training_dataset(
            load_project(other), shuffles=(4,), seed=5, train_fraction=0.5
        )
    assert len(different[0].train_indices) == 6
    # training takes the config's first fraction: a user is told (QA S14)
    assert "add 0.5 to config.yaml's TrainingFraction and pass its index" in caplog.text
    assert _doc(demo_project, 50, 4).name == "Documentation_data-demo_50shuffle4.pickle"
    assert (
        other
        / "training-datasets"
        / "iteration-0"
        / "UnaugmentedDataSet_demoJan1"
        / _doc(demo_project, 50, 4).name
    ).is_file()


def test_existing_dlc_split_is_kept(demo_project: Project) -> None:
    """A Documentation pickle written by DeepLabCut is read, never redrawn."""
    out = demo_project.training_set_dir()
    out.mkdir(parents=True)
    train = np.array([1, 2, 3, 4, 6, 7, 8, 9, 10, 11])  # DLC stores numpy arrays
    test = np.array([0, 5])
    data = [
        {
            "image": ("labeled-data", "session1", f"img{i:03d}.png"),
            "size": np.array([3, 240, 320]),
            "joints": {0: np.array([[0, 10, 20], [1, 11, 21]], dtype=np.int64)},
        }
        for i in train
    ]
    doc = _doc(demo_project)
    with open(doc, "wb") as fh:
        pickle.dump([data, train, test, 0.8], fh, pickle.HIGHEST_PROTOCOL)
    before = doc.read_bytes()
    (split,) = create_training_dataset(demo_project, seed=123)
    assert split.test_indices.tolist() == [0, 5]
    assert split.train_indices.tolist() == train.tolist()
    assert doc.read_bytes() == before
    loaded = load_split(demo_project)
    assert loaded.test_indices.tolist() == [0, 5] and loaded.train_fraction == 0.8
    # the merged labels are (re)written for that split
    assert (out / "CollectedData_posekit.h5").is_file()


def test_split_pickled_by_numpy_1_and_old_protocol(demo_project: Project) -> None:
    """Older DeepLabCut installs pickle numpy arrays as ``numpy.core.*``."""
    doc = _doc(demo_project)
    doc.parent.mkdir(parents=True)
    payload = [[], np.arange(1, 12), np.array([0]), np.float64(0.8)]
    data = pickle.dumps(payload, protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in data
    doc.write_bytes(data)
    split = load_split(demo_project)
    assert split.train_indices.tolist() == list(range(1, 12))
    assert split.test_indices.tolist() == [0]
    assert split.train_fraction == 0.8


def test_unsafe_documentation_pickle_is_refused(demo_project: Project) -> None:
    doc = _doc(demo_project)
    doc.parent.mkdir(parents=True)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(doc, "wb") as fh:
        pickle.dump([[], [Evil()], [], 0.8], fh)
    with pytest.raises(pickle.UnpicklingError, match="refusing builtins.print"):
        load_split(demo_project)


def test_fixed_test_frames(demo_project: Project) -> None:
    paths = index_to_paths(merge_labels(demo_project).index)
    wanted = [paths[3], paths[7].split("/")[-1]]  # a full path and a bare image name
    (split,) = create_training_dataset(demo_project, test_frames=wanted)
    assert split.test_indices.tolist() == [3, 7]
    assert split.train_indices.tolist() == [i for i in range(12) if i not in (3, 7)]
    # named by its own fraction, 10/12, as DeepLabCut names a split of given rows
    assert split.train_fraction == 0.83
    _, _, test, fraction = _read_doc(_doc(demo_project, pct=83))
    assert list(test) == [3, 7] and fraction == 0.83
    assert not _doc(demo_project).exists()
    assert load_project(demo_project.path).listed_training_fractions == [0.83, 0.8]
    with pytest.raises(LabelError, match="1 requested test frames are not labelled"):
        create_training_dataset(
            demo_project, shuffles=(2,), test_frames=["img999.png", paths[0]]
        )


def test_fixed_split_names_and_model_folder_say_its_fraction(demo_project) -> None:
    """QA s16 #9: 240 train / 60 test frames were recorded as 95 % (…95shuffle1)."""
    paths = index_to_paths(merge_labels(demo_project).index)
    (split,) = create_training_dataset(demo_project, test_frames=paths[-3:])
    assert split.train_fraction == 0.75  # 9 of 12 frames
    project = load_project(demo_project.path)
    assert project.training_fractions[0] == 0.75
    folder = project.training_set_dir()
    assert (folder / "Documentation_data-demo_75shuffle1.pickle").is_file()
    assert (folder / f"demo_{project.scorer}75shuffle1.mat").is_file()
    assert project.model_dir(1).name == "demoJan1-trainset75shuffle1"
    assert load_split(project).test_indices.tolist() == [9, 10, 11]


def test_fixed_split_in_a_project_with_splits_keeps_the_configured_fraction(
    demo_project, caplog
) -> None:
    """Shuffles and model folders of the fraction in use must still resolve."""
    create_training_dataset(demo_project)  # a random 0.8 split, shuffle 1
    paths = index_to_paths(merge_labels(demo_project).index)
    with caplog.at_level("INFO", logger="posekit"):
        (split,) = create_training_dataset(
            demo_project, shuffles=(2,), test_frames=paths[:3]
        )
    assert split.train_fraction == 0.8 and _doc(demo_project, shuffle=2).is_file()
    assert "trains on 9 of 12 frames (0.75)" in caplog.text
    project = load_project(demo_project.path)
    assert project.listed_training_fractions == [0.8]
    assert load_split(project, shuffle=1).train_fraction == 0.8
    assert load_split(project, shuffle=2).test_indices.tolist() == [0, 1, 2]


def test_load_split_without_training_set(demo_project: Project) -> None:
    with pytest.raises(FileNotFoundError, match="posekit create-training-dataset"):
        load_split(demo_project, shuffle=7)


def test_training_set_of_the_demo(demo_project: Project) -> None:
    create_training_dataset(demo_project)
    ts = load_training_set(demo_project)
    gt, _ = load_ground_truth(demo_project)
    idx = [int(Path(p).stem[3:]) for p in ts.paths]
    np.testing.assert_array_equal(ts.keypoints, gt[idx])
    assert ts.bodyparts == ["snout", "leftear", "rightear", "neck", "spine", "tailbase"]
    assert ts.flip_pairs == [("leftear", "rightear")]
    assert all(img.shape == (240, 320, 3) for img in ts.images)
    # points outside the image are left out of DLC's joints
    data, *_ = _read_doc(_doc(demo_project))
    assert all(len(d["joints"]) == 6 for d in data)


def test_missing_image_in_training_set(demo_project: Project) -> None:
    create_training_dataset(demo_project)
    next((demo_project.path / "labeled-data" / "session1").glob("img*.png")).unlink()
    with pytest.raises(LabelError, match="missing or unreadable"):
        load_training_set(demo_project)


# ---------------------------------------------------------------- merging


def test_merge_uses_config_order_and_drops_empty_rows(demo_project: Project) -> None:
    h5 = demo_project.labels_path("session1")
    df = read_labels(h5)
    n = len(df)
    # reorder the columns and blank one row: the merge restores config order and drops it
    shuffled = df[df.columns[::-1]].copy()
    shuffled.iloc[2] = np.nan
    write_labels(shuffled, h5)
    merged = merge_labels(demo_project)
    assert len(merged) == n - 1
    assert list(dict.fromkeys(merged.columns.get_level_values("bodyparts"))) == (
        demo_project.bodyparts
    )
    assert isinstance(merged.index, pd.MultiIndex) and merged.index.nlevels == 3
    keep = [i for i in range(n) if i != 2]
    np.testing.assert_array_equal(
        labels_to_array(merged, demo_project.bodyparts),
        labels_to_array(df, demo_project.bodyparts)[keep],
    )


def test_merge_reads_csv_only_labels(demo_project: Project) -> None:
    h5 = demo_project.labels_path("session1")
    expected = read_labels(h5)
    h5.unlink()
    merged = merge_labels(demo_project)
    np.testing.assert_array_equal(merged.to_numpy(), expected.to_numpy())


def test_merge_without_labels(demo_project: Project) -> None:
    for f in (demo_project.path / "labeled-data" / "session1").glob("CollectedData_*"):
        f.unlink()
    with pytest.raises(LabelError, match="No labels found.*label some frames first"):
        merge_labels(demo_project)
    with pytest.raises(LabelError, match="No labels found"):
        create_training_dataset(demo_project)
    assert not demo_project.training_set_dir().exists()


def test_merge_rejects_labels_that_do_not_match_the_config(
    demo_project: Project,
) -> None:
    demo_project.set("bodyparts", ["snout", "leftear", "rightear", "neck", "spine"])
    with pytest.raises(
        LabelError, match=r"\['tailbase'\] are in the label file but not"
    ):
        create_training_dataset(demo_project)


def test_merge_keeps_labels_when_a_bodypart_is_added_to_the_config(
    demo_project: Project,
) -> None:
    before = merge_labels(demo_project)
    demo_project.set("bodyparts", [*demo_project.bodyparts, "tailtip"])
    merged = merge_labels(demo_project)
    assert list(dict.fromkeys(merged.columns.get_level_values("bodyparts")))[-1] == (
        "tailtip"
    )
    assert merged.xs("tailtip", axis=1, level="bodyparts").isna().all().all()
    np.testing.assert_array_equal(
        merged.drop(columns="tailtip", level="bodyparts").to_numpy(), before.to_numpy()
    )


# ---------------------------------------------------------------- symmetric pairs


def test_symmetric_pairs_openfield() -> None:
    bodyparts = ["snout", "leftear", "rightear", "tailbase"]  # openfield's config
    assert symmetric_pairs(bodyparts) == [("leftear", "rightear")]


def test_symmetric_pairs_sleap_flies(shared_data: Path) -> None:
    with h5py.File(shared_data / "sleap-flies-clip" / "clip.slp", "r") as fh:
        meta = json.loads(fh["metadata"].attrs["json"])
    nodes = [meta["nodes"][n["id"]]["name"] for n in meta["skeletons"][0]["nodes"]]
    assert nodes[:4] == ["head", "thorax", "abdomen", "wingL"]
    assert symmetric_pairs(nodes) == [
        ("wingL", "wingR"),
        ("forelegL4", "forelegR4"),
        ("midlegL4", "midlegR4"),
        ("hindlegL4", "hindlegR4"),
        ("eyeL", "eyeR"),
    ]


@pytest.mark.parametrize(
    ("names", "pairs"),
    [
        (["Leftpaw", "Rightpaw"], [("Leftpaw", "Rightpaw")]),
        (["paw_left", "paw_right"], [("paw_left", "paw_right")]),
        (
            ["paw_l", "paw_r", "ear_L", "ear_R"],
            [("paw_l", "paw_r"), ("ear_L", "ear_R")],
        ),
        (["snout", "tail", "ball", "HL"], []),
        (["wingL"], []),  # no partner
    ],
)
def test_symmetric_pairs_naming_styles(names: list[str], pairs: list) -> None:
    assert symmetric_pairs(names) == pairs


def test_single_animal_documentation_joints_are_deeplabcuts(
    demo_project: Project,
) -> None:
    """``joints`` is DeepLabCut's int array of ``[bodypart, x, y]`` (QA s15, finding 6).

    posekit wrote the multi-animal form ``{0: float array}``, so code that indexes
    ``joints[:, 1:]`` as DeepLabCut's tools do failed. Training keeps sub-pixel labels:
    it reads the merged labels, not the pickle.
    """
    labels = demo_project.labels_path(demo_project.labeled_videos()[0])
    df = read_labels(labels)
    df.iloc[0, :2] = [np.nan, np.nan]  # bodypart 0 of the first frame unlabelled
    df.iloc[0, 2:4] = [0.0, 10.25]  # bodypart 1 on the edge: DeepLabCut drops it
    df.iloc[1, 0::2] = 0.0  # a frame whose every point is on the edge
    write_labels(df, labels)
    create_training_dataset(demo_project, test_frames=[])  # every frame trains
    data, train, _, _ = _read_doc(_doc(demo_project, 80, 1))
    merged = read_labels(
        demo_project.training_set_dir() / f"CollectedData_{demo_project.scorer}.h5"
    )
    xy = labels_to_array(merged, demo_project.bodyparts)
    by_image = {"/".join(d["image"]): d for d in data}
    paths = index_to_paths(merged.index)
    assert len(train) == 12 and len(data) == 11  # the frame without joints: left out
    for i in train:
        if paths[i] not in by_image:
            assert (xy[i, :, 0] == 0).all()
            continue
        joints = by_image[paths[i]]["joints"]
        assert isinstance(joints, np.ndarray) and joints.dtype.kind == "i"
        keep = [k for k in range(len(xy[i])) if np.isfinite(xy[i, k]).all()]
        keep = [k for k in keep if xy[i, k, 0] > 0 and xy[i, k, 1] > 0]
        assert joints[:, 0].tolist() == keep
        np.testing.assert_array_equal(joints[:, 1:], xy[i, keep].astype(int))
    ts = load_training_set(demo_project)  # training: the exact labels
    assert np.array_equal(ts.keypoints, xy, equal_nan=True)
    assert not np.array_equal(ts.keypoints, np.trunc(ts.keypoints), equal_nan=True)


def test_deeplabcuts_train_and_test_indices_make_the_split(
    demo_project: Project,
) -> None:
    """``trainIndices``/``testIndices`` and ``mergeandsplit`` (QA s15, finding 3).

    Both were missing: a bare ``TypeError`` and an ``AttributeError``.
    """
    import posekit.engine as deeplabcut

    config = str(demo_project.config_path)
    padded = deeplabcut.mergeandsplit(config, trainindex=0, uniform=True, seed=3)
    # TrainingFraction 0.8 of 12 frames, padded with -1 to 12 + 3 (exactly 0.8)
    assert [len(p) for p in padded] == [12, 3]
    train, test = ([i for i in p if i != -1] for p in padded)
    assert len(train) == 10 and len(test) == 2
    assert sorted(train + test) == list(range(12))
    merged = demo_project.training_set_dir() / f"CollectedData_{demo_project.scorer}.h5"
    assert merged.is_file()
    out, lovo = deeplabcut.mergeandsplit(config, trainindex=0, uniform=False)
    assert out == [] and lovo == list(range(12))  # the demo has one video
    splits = deeplabcut.create_training_dataset(
        config=config,
        Shuffles=[2, 3],
        trainIndices=[padded[0], train[:6]],
        testIndices=[padded[1], test],
    )
    assert [s.shuffle for s in splits] == [2, 3]
    assert splits[0].train_indices.tolist() == train
    assert splits[0].test_indices.tolist() == test
    assert splits[0].train_fraction == 0.8
    assert splits[1].train_fraction == 0.75
    _, recorded_train, recorded_test, _ = _read_doc(_doc(demo_project, 80, 2))
    assert recorded_train == train and recorded_test == test
    assert load_split(demo_project, shuffle=2).test_indices.tolist() == test
    with pytest.raises(ValueError, match="one list of each per shuffle"):
        deeplabcut.create_training_dataset(
            config, Shuffles=[4], trainIndices=[train, train], testIndices=[test]
        )
    with pytest.raises(ValueError, match="not in the merged labels"):
        deeplabcut.create_training_dataset(
            config, Shuffles=[5], trainIndices=[[0, 99]], testIndices=[[1]]
        )


def test_training_images_are_read_on_demand_within_a_budget(
    demo_project: Project,
) -> None:
    """Peak memory is bounded: images are decoded when used, cached up to a budget.

    ``load_training_set`` used to decode every labelled frame at once (1.6 GB for
    1850 frames of 640x480), for training and for int8 calibration alike.
    """
    import cv2

    create_training_dataset(demo_project)
    one = 240 * 320 * 3  # bytes of one decoded demo frame
    ts = load_training_set(demo_project, cache_bytes=3 * one)
    n = len(ts.images)
    assert n > 6 and ts.images.reads == 0  # nothing decoded yet
    for k, img in enumerate(ts.images):
        expected = cv2.cvtColor(
            cv2.imread(str(demo_project.path / ts.paths[k])), cv2.COLOR_BGR2RGB
        )
        np.testing.assert_array_equal(img, expected)
        assert ts.images.cached_bytes <= 3 * one  # never more than the budget
    assert ts.images.reads == n
    ts.images[n - 1]  # recently used: from memory
    assert ts.images.reads == n
    ts.images[0]  # dropped long ago: read again
    assert ts.images.reads == n + 1
    train, kp = ts.subset("train")
    assert len(train) == len(kp) == len(ts.train_indices)
    assert ts.images.reads == n + 1  # a subset reads nothing until used
    np.testing.assert_array_equal(train[0], ts.images[int(ts.train_indices[0])])


def test_a_typical_training_set_stays_cached(demo_project: Project) -> None:
    """With the default budget every image is decoded once (training speed as before)."""
    create_training_dataset(demo_project)
    ts = load_training_set(demo_project)
    train, _ = ts.subset("train")
    for _ in range(3):
        for img in train:
            assert img.shape == (240, 320, 3)
    assert ts.images.reads == len(train)
