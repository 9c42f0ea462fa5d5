"""COCO keypoints: labels ↔ COCO dataset, predictions → results, OKS mAP vs COCOeval."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from posekit.engine.evaluation import keypoint_box, oks, oks_average_precision, oks_map
from posekit.engine.io import detect_format, load
from posekit.engine.io.coco import (
    CocoError,
    coco_to_labels,
    evaluate_coco,
    import_coco,
    labels_to_coco,
    poses_to_coco,
    predictions_to_coco_results,
    read_coco,
    read_coco_results,
    write_coco,
)
from posekit.engine.io.dlc import (
    index_to_paths,
    labels_to_array,
    make_labels_frame,
    read_labels,
)
from posekit.engine.poses import from_numpy
from posekit.engine.project import load_project

OPENFIELD_BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]
SIGMAS = np.array([0.025, 0.05, 0.1, 0.08])


# ---------------------------------------------------------------- synthetic data


def _multi_labels(n: int = 6, seed: int = 0) -> pd.DataFrame:
    """Two animals (A, B, C) and a ``single`` individual (unique D), with gaps."""
    rng = np.random.default_rng(seed)
    rows = [f"labeled-data/arena/img{i:03d}.png" for i in range(n)]
    animals = make_labels_frame(
        "Ann",
        ["A", "B", "C"],
        rows,
        rng.uniform(20, 300, (n, 2, 3, 2)),
        individuals=["mouse1", "mouse2"],
    )
    animals.iloc[1, 0:2] = np.nan  # mouse1's A missing in row 1
    animals.iloc[2, 6:12] = np.nan  # mouse2 not labelled at all in row 2
    single = make_labels_frame(
        "Ann", ["D"], rows, rng.uniform(20, 300, (n, 1, 1, 2)), individuals=["single"]
    )
    single.iloc[3] = np.nan
    return pd.concat([animals, single], axis=1)


def _sizes(rows, w: int = 320, h: int = 320) -> dict[str, tuple[int, int]]:
    return dict.fromkeys(rows, (w, h))


def _noisy_instances(labels: np.ndarray, rng: np.random.Generator) -> list:
    """Per image: predictions near each labelled instance, plus a false positive."""
    preds = []
    for gt in labels:
        inst = []
        for g in gt:
            if not np.isfinite(g).any():
                continue
            p = np.where(np.isfinite(g), g, rng.uniform(0, 300, g.shape))
            p = p + rng.normal(0, rng.uniform(0.5, 12), g.shape)
            like = rng.uniform(0.3, 1.0, (len(g), 1))
            inst.append(np.concatenate([p, like], axis=1))
        if rng.uniform() < 0.4:
            inst.append(
                np.concatenate(
                    [
                        rng.uniform(0, 300, (gt.shape[1], 2)),
                        rng.uniform(0, 0.5, (gt.shape[1], 1)),
                    ],
                    axis=1,
                )
            )
        preds.append(np.array(inst).reshape(-1, gt.shape[1], 3))
    return preds


# ---------------------------------------------------------------- OKS, no pycocotools


def test_oks_known_answers():
    gt = np.array([[0.0, 0.0], [10.0, 10.0], [np.nan, np.nan]])
    assert keypoint_box(gt).tolist() == [0.0, 0.0, 10.0, 10.0]
    assert keypoint_box(gt, margin=2).tolist() == [-2.0, -2.0, 14.0, 14.0]
    assert float(oks(gt, gt)) == pytest.approx(1.0)
    # one keypoint off by 1 px: area 100, sigma 0.1 -> exp(-1 / (2 * 100 * 0.04))
    pred = gt + np.array([[1.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    expected = (np.exp(-1 / 8) + 1.0) / 2  # the unlabelled keypoint does not count
    assert float(oks(pred, gt)) == pytest.approx(expected, rel=1e-12)
    # a missing prediction of a labelled keypoint is a miss
    pred[1] = np.nan
    assert float(oks(pred, gt)) == pytest.approx(np.exp(-1 / 8) / 2, rel=1e-12)
    # per-keypoint sigmas and an explicit area
    assert float(
        oks(gt + [[2.0, 0.0], [0, 0], [0, 0]], gt, sigma=[0.05, 0.1, 0.1], area=400.0)
    ) == pytest.approx((np.exp(-4 / (2 * 400 * 0.01)) + 1) / 2, rel=1e-12)
    assert np.isnan(oks(gt, np.full((3, 2), np.nan)))
    # a matrix by broadcasting
    m = oks(np.stack([gt, gt + 50])[:, None], np.stack([gt, gt + 50])[None])
    assert m.shape == (2, 2) and m[0, 0] == pytest.approx(1) and m[0, 1] < 1e-6


def test_oks_map_known_answers():
    gt = np.array([[[0.0, 0.0], [10.0, 10.0]], [[100.0, 100.0], [120.0, 130.0]]])
    # identities play no part: the detections may come in any order
    assert oks_map([gt], [gt[::-1]]) == pytest.approx(1.0)
    # one of two animals found: precision 1 up to recall 0.5, then nothing
    ap = oks_average_precision([gt], [gt[:1]])
    np.testing.assert_allclose(ap, 51 / 101 * (1 - np.spacing(1)), rtol=1e-12)
    # a false positive scored higher than the true one halves the precision
    fp = np.concatenate([gt[:1] + 500, gt[:1]])
    ap = oks_average_precision([gt[:1]], [fp], [np.array([0.9, 0.5])])
    np.testing.assert_allclose(ap, 0.5, rtol=1e-12)
    assert np.isnan(oks_map([np.empty((0, 2, 2))], [gt]))
    with pytest.raises(ValueError, match="2 images of labels but 1"):
        oks_map([gt, gt], [gt])


# ---------------------------------------------------------------- export and round trips


def test_openfield_labels_to_coco_and_back(openfield_dir, tmp_path):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    skeleton = [("snout", "leftear"), ("snout", "rightear"), ("leftear", "tailbase")]
    coco = labels_to_coco(labels, image_root=openfield_dir, skeleton=skeleton)
    path = write_coco(coco, tmp_path / "openfield.json")
    assert len(coco["images"]) == 116 and len(coco["annotations"]) == 116
    assert coco["images"][0] == {
        "id": 1,
        "file_name": "labeled-data/m4s1/img0000.png",
        "width": 640,
        "height": 480,
    }
    cat = coco["categories"][0]
    assert cat["keypoints"] == OPENFIELD_BODYPARTS
    assert cat["skeleton"] == [[1, 2], [1, 3], [2, 4]]  # 1-based
    ann = coco["annotations"][0]
    xy = labels_to_array(labels)[0]
    assert ann["keypoints"][:3] == [xy[0, 0], xy[0, 1], 2]
    assert ann["num_keypoints"] == 4 and ann["iscrowd"] == 0
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    assert ann["bbox"] == pytest.approx([lo[0], lo[1], *(hi - lo)], rel=1e-12)
    assert ann["area"] == pytest.approx(np.prod(hi - lo), rel=1e-12)
    assert coco["info"]["contributor"] == "Pranav"
    back = coco_to_labels(read_coco(path))
    assert index_to_paths(back.index) == index_to_paths(labels.index)
    assert list(back.columns) == list(labels.columns)
    np.testing.assert_array_equal(back.to_numpy(), labels.to_numpy())


def test_multi_animal_round_trip_keeps_nan_and_identities(tmp_path):
    labels = _multi_labels()
    rows = index_to_paths(labels.index)
    coco = labels_to_coco(labels, image_sizes=_sizes(rows), skeleton=[("A", "B")])
    # mouse2 has no point in row 2: no annotation for it there
    per_image = pd.Series([a["image_id"] for a in coco["annotations"]]).value_counts()
    assert per_image[3] == 2 and per_image[1] == 3
    assert {a["individual"] for a in coco["annotations"]} == {
        "mouse1",
        "mouse2",
        "single",
    }
    back = coco_to_labels(read_coco(write_coco(coco, tmp_path / "ma.json")))
    assert list(back.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(back.columns.get_level_values("individuals"))) == [
        "mouse1",
        "mouse2",
        "single",
    ]
    bodyparts = ["A", "B", "C", "D"]
    np.testing.assert_array_equal(
        labels_to_array(back, bodyparts), labels_to_array(labels, bodyparts)
    )


def test_poses_from_a_label_file_export_with_project_sizes(openfield_dir, tmp_path):
    ds = load(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    coco = poses_to_coco(ds)  # sizes read from the project that holds the file
    assert {(im["width"], im["height"]) for im in coco["images"]} == {(640, 480)}
    out = write_coco(coco, tmp_path / "of.json")
    assert detect_format(out) == "COCO"
    again = load(out)
    assert again.attrs["frames"] == ds.attrs["frames"]
    assert again.attrs["scorer"] == "Pranav"
    np.testing.assert_array_equal(again.position.values, ds.position.values)


def test_image_size_unknown_is_an_error():
    labels = _multi_labels(4)
    with pytest.raises(CocoError, match="image_sizes"):
        labels_to_coco(labels)


# ---------------------------------------------------------------- import as a project


def _write_images(folder: Path, names: list[str], shape=(64, 80)) -> None:
    rng = np.random.default_rng(3)
    for name in names:
        f = folder / name
        f.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(f), rng.integers(0, 255, (*shape, 3), dtype=np.uint8))


def _foreign_coco(tmp_path: Path, n_per_image=(1, 1, 1)) -> Path:
    """Write a COCO file as other tools do: images in images/, no individual key."""
    names = [f"images/{i:06d}.jpg" for i in range(len(n_per_image))]
    _write_images(tmp_path, names)
    anns = []
    for i, n in enumerate(n_per_image):
        for k in range(n):
            kp = [10.0 + i + 20 * k, 12.5, 2, 30.25, 40.0 + k, 2, 0, 0, 0]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": 7,
                    "keypoints": kp,
                    "num_keypoints": 2,
                    "bbox": [10, 12, 20, 28],
                    "area": 560.0,
                    "iscrowd": 0,
                }
            )
    coco = {
        "images": [
            {"id": i + 1, "file_name": n, "width": 80, "height": 64}
            for i, n in enumerate(names)
        ],
        "annotations": anns,
        "categories": [
            {
                "id": 7,
                "name": "mouse",
                "keypoints": ["nose", "tail", "paw"],
                "skeleton": [[1, 2], [2, 3]],
            }
        ],
    }
    path = tmp_path / "mice.json"
    path.write_text(json.dumps(coco))
    return path


def test_import_single_animal_coco_as_project(tmp_path):
    src = _foreign_coco(tmp_path / "src")
    project = import_coco(src, tmp_path / "proj", scorer="Jo")
    assert project.path == (tmp_path / "proj").resolve()
    assert project.bodyparts == ["nose", "tail", "paw"]
    assert project.skeleton == [("nose", "tail"), ("tail", "paw")]
    assert project.scorer == "Jo" and not project.multianimal
    assert load_project(tmp_path / "proj").task == "mice"
    h5 = project.path / "labeled-data/images/CollectedData_Jo.h5"
    assert h5.is_file() and h5.with_suffix(".csv").is_file()
    labels = read_labels(h5)
    assert index_to_paths(labels.index)[1] == "labeled-data/images/000001.jpg"
    assert (project.path / "labeled-data/images/000001.jpg").is_file()
    xy = labels_to_array(labels)
    np.testing.assert_array_equal(xy[1, :2], [[11.0, 12.5], [30.25, 40.0]])
    assert np.isnan(xy[:, 2]).all()  # v = 0: unlabelled
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_import_multi_animal_coco_as_project(tmp_path):
    src = _foreign_coco(tmp_path / "src", n_per_image=(2, 1, 2))
    project = import_coco(src, tmp_path / "proj")
    assert project.multianimal
    assert project.cfg["individuals"] == ["individual1", "individual2"]
    assert project.cfg["multianimalbodyparts"] == ["nose", "tail", "paw"]
    assert project.cfg["bodyparts"] == "MULTI!"
    labels = read_labels(project.path / "labeled-data/images/CollectedData_coco.h5")
    xy = labels_to_array(labels, ["nose", "tail", "paw"])
    assert xy.shape == (3, 2, 3, 2)
    assert xy[0, 1, 0, 0] == 30.0 and np.isnan(xy[1, 1]).all()


def test_openfield_export_imports_back_as_a_project(openfield_dir, tmp_path):
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    path = write_coco(
        labels_to_coco(labels, image_root=openfield_dir), tmp_path / "of.json"
    )
    project = import_coco(path, tmp_path / "of-project", image_root=openfield_dir)
    assert project.bodyparts == OPENFIELD_BODYPARTS and project.scorer == "Pranav"
    back = read_labels(project.path / "labeled-data/m4s1/CollectedData_Pranav.h5")
    np.testing.assert_array_equal(back.to_numpy(), labels.to_numpy())
    assert len(list((project.path / "labeled-data/m4s1").glob("*.png"))) == 116


def test_keypoint_count_mismatch_is_refused_and_nothing_written(tmp_path):
    src = _foreign_coco(tmp_path / "src")
    coco = json.loads(src.read_text())
    coco["annotations"][1]["keypoints"] = coco["annotations"][1]["keypoints"][:6]
    src.write_text(json.dumps(coco))
    with pytest.raises(CocoError, match=r"mice\.json.*annotation 2 has 6 keypoint"):
        import_coco(src, tmp_path / "proj")
    with pytest.raises(CocoError, match="mice.json"):
        load(src)
    assert not (tmp_path / "proj").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_truncated_or_missing_files(tmp_path):
    src = _foreign_coco(tmp_path / "src")
    cut = tmp_path / "cut.json"
    cut.write_text(src.read_text()[:200])
    with pytest.raises(CocoError, match="cut.json.*not a JSON"):
        read_coco(cut)
    (tmp_path / "src/images/000002.jpg").unlink()
    with pytest.raises(CocoError, match="1 image file"):
        import_coco(src, tmp_path / "proj")
    assert not (tmp_path / "proj").exists()


# ---------------------------------------------------------------- results and COCOeval


def _predictions_for(labels: pd.DataFrame, seed: int = 5) -> tuple:
    """Noisy predictions of multi-animal labels as a poses dataset with frames."""
    rng = np.random.default_rng(seed)
    bodyparts = ["A", "B", "C"]
    gt = labels_to_array(labels.drop(columns="single", level="individuals"), bodyparts)
    pred = gt + rng.normal(0, 4, gt.shape)
    pred[2, 1] = np.nan  # mouse2 not found in row 2
    pred[4, 0, 2] = np.nan  # one keypoint missing
    like = rng.uniform(0.2, 1, gt.shape[:3])
    like[np.isnan(pred).any(-1)] = np.nan
    ds = from_numpy(
        pred.transpose(0, 3, 2, 1),
        like.transpose(0, 2, 1),
        keypoint_names=bodyparts,
        individual_names=["mouse1", "mouse2"],
    )
    ds.attrs["frames"] = index_to_paths(labels.index)
    return gt, ds


def test_predictions_results_round_trip(tmp_path):
    labels = _multi_labels(8).drop(columns="single", level="individuals")
    coco = labels_to_coco(labels, image_sizes=_sizes(index_to_paths(labels.index)))
    _, ds = _predictions_for(_multi_labels(8))
    results = predictions_to_coco_results(ds, images=coco)
    assert len(results) == 8 * 2 - 1  # the missing instance is left out
    assert results[0]["score"] == pytest.approx(
        float(ds.confidence.isel(time=0, individual=0).mean())
    )
    path = write_coco(results, tmp_path / "results.json")
    assert detect_format(path) == "COCO"
    back = read_coco_results(path, images=coco)
    assert back.individual.values.tolist() == ["mouse1", "mouse2"]
    assert back.keypoint.values.tolist() == ["A", "B", "C"]
    assert back.attrs["frames"] == ds.attrs["frames"]
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    np.testing.assert_array_equal(back.confidence.values, ds.confidence.values)


def test_numpy_oks_map_agrees_with_cocoeval_multi_animal(tmp_path):
    pytest.importorskip("pycocotools")
    labels = _multi_labels(30, seed=1).drop(columns="single", level="individuals")
    rows = index_to_paths(labels.index)
    coco = labels_to_coco(labels, image_sizes=_sizes(rows))
    gt = labels_to_array(labels, ["A", "B", "C"])
    rng = np.random.default_rng(11)
    preds = _noisy_instances(gt, rng)
    width = max(len(p) for p in preds)
    pos = np.full((len(rows), width, 3, 3), np.nan)
    for i, p in enumerate(preds):
        pos[i, : len(p)] = p
    ds = from_numpy(
        pos[..., :2].transpose(0, 3, 2, 1),
        pos[..., 2].transpose(0, 2, 1),
        keypoint_names=["A", "B", "C"],
    )
    ds.attrs["frames"] = rows
    results = predictions_to_coco_results(ds, images=coco)
    sigma = SIGMAS[:3]
    stats = evaluate_coco(
        write_coco(coco, tmp_path / "gt.json"),
        write_coco(results, tmp_path / "dt.json"),
        sigma=sigma,
    )
    ap = oks_average_precision(list(gt), preds, sigma=sigma)
    assert 0.2 < stats["AP"] < 0.95  # a real test: neither trivial nor empty
    assert oks_map(list(gt), preds, sigma=sigma) == pytest.approx(
        stats["AP"], abs=1e-12
    )
    assert ap[0] == pytest.approx(stats["AP50"], abs=1e-12)
    assert ap[5] == pytest.approx(stats["AP75"], abs=1e-12)


def test_numpy_oks_map_agrees_with_cocoeval_openfield(openfield_dir, tmp_path):
    pytest.importorskip("pycocotools")
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    coco = labels_to_coco(labels, image_root=openfield_dir, margin=5.0)
    gt = labels_to_array(labels)[:, None]
    rng = np.random.default_rng(2)
    pred = gt + rng.normal(0, 3, gt.shape) * rng.uniform(0.2, 3, (len(gt), 1, 1, 1))
    like = rng.uniform(0.1, 1, gt.shape[:3])
    ds = from_numpy(pred.transpose(0, 3, 2, 1), like.transpose(0, 2, 1))
    ds.attrs["frames"] = index_to_paths(labels.index)
    results = predictions_to_coco_results(ds, images=coco)
    stats = evaluate_coco(coco, results, sigma=SIGMAS)
    ours = oks_map(
        list(gt),
        list(np.concatenate([pred, like[..., None]], axis=-1)),
        sigma=SIGMAS,
        margin=5.0,
    )
    assert 0.1 < stats["AP"] < 0.99
    assert ours == pytest.approx(stats["AP"], abs=1e-12)


def test_pycocotools_reads_what_posekit_writes(openfield_dir, tmp_path):
    coco_api = pytest.importorskip("pycocotools.coco")
    labels = read_labels(openfield_dir / "labeled-data/m4s1/CollectedData_Pranav.h5")
    path = write_coco(
        labels_to_coco(labels, image_root=openfield_dir), tmp_path / "of.json"
    )
    api = coco_api.COCO(str(path))
    assert api.loadCats(1)[0]["keypoints"] == OPENFIELD_BODYPARTS
    anns = api.loadAnns(api.getAnnIds(imgIds=[5]))
    assert len(anns) == 1
    kp = np.asarray(anns[0]["keypoints"], float).reshape(-1, 3)
    np.testing.assert_array_equal(kp[:, :2], labels_to_array(labels)[4])
    assert api.loadImgs(5)[0]["file_name"] == "labeled-data/m4s1/img0004.png"


def test_fly_clip_identities_through_coco(shared_data, tmp_path):
    ds = load(shared_data / "sleap-flies-clip/clip.slp").isel(time=slice(0, 60))
    rows = [f"labeled-data/clip/img{i:04d}.png" for i in range(60)]
    ds.attrs["frames"] = rows
    coco = poses_to_coco(ds, image_sizes=_sizes(rows, 1024, 1024))
    assert len(coco["annotations"]) == 120  # both flies in every frame
    back = load(write_coco(coco, tmp_path / "flies.json"))
    assert back.individual.values.tolist() == ["female", "male"]
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    # as results: identities kept; a point without confidence is written with 1
    # (results of images need their dataset, whose ids they take)
    results = write_coco(
        predictions_to_coco_results(ds, images=coco), tmp_path / "r.json"
    )
    again = read_coco_results(results, keypoint_names=list(ds.keypoint.values))
    assert again.individual.values.tolist() == ["female", "male"]
    np.testing.assert_array_equal(again.position.values, ds.position.values)
    seen = np.isfinite(ds.position.values).all(axis=1)
    assert (again.confidence.values[seen] == 1).all()
