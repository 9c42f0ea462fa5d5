"""COCO keypoints: labels as a COCO dataset, predictions as COCO results, evaluation.

A COCO keypoint **dataset** is one JSON object (https://cocodataset.org/#format-data):

- ``images``: ``{"id", "file_name", "width", "height"}``; posekit numbers images from 1
  in row order and writes DeepLabCut's row path (``labeled-data/<video>/<image>``) as
  ``file_name``.
- ``annotations``: one per labelled instance: ``keypoints`` as ``x, y, v`` triples
  (``v = 2`` labelled, ``v = 0`` with ``x = y = 0`` unlabelled), ``num_keypoints``,
  ``bbox`` ``[x, y, w, h]`` around the labelled keypoints (plus ``margin``), ``area``
  ``= w · h`` (the object scale of :func:`posekit.engine.evaluation.oks`),
  ``iscrowd = 0``. Multi-animal labels add the individual's name as ``"individual"``
  (a key COCO tools ignore).
- ``categories``: one category whose ``keypoints`` are the bodypart names and whose
  ``skeleton`` lists edges as **1-based** keypoint indices.
- ``info.contributor``: the labeller (DeepLabCut's scorer).

COCO **results** (predictions) are a JSON list of ``{"image_id", "category_id",
"keypoints", "score"}``; the third value of each keypoint is its likelihood (0 with
``x = y = 0`` for a missing prediction; likelihood 0 anywhere else is a prediction,
kept as such both ways) and ``score`` the instance's mean likelihood. What the
triples cannot hold is said in one warning when writing: a point without a
likelihood gets score 1, a prediction at (0, 0) with likelihood 0 reads back as
missing, a likelihood without a position is dropped.
posekit adds ``"individual"``. ``image_id`` is the id of the image in the COCO dataset
the predictions are for, matched by file name (results of images need that dataset);
predictions of video frames get ``frame number + 1``.

Crowd annotations (``iscrowd: 1``) are regions COCO's evaluation ignores: reading a
dataset skips them (a warning counts them), never makes an animal of them.

:func:`evaluate_coco` scores results with pycocotools' ``COCOeval`` (optional:
``pip install "posekit[coco]"``); :func:`posekit.engine.evaluation.oks_map` computes the
same mAP with NumPy only.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._fileio import atomic_write_text
from ..evaluation import DEFAULT_OKS_SIGMA, keypoint_box
from ..poses import from_numpy, mark_time_unit
from . import register_loader, register_saver
from ._project_import import build_project
from .dlc import index_to_paths, labels_to_array, make_labels_frame

__all__ = [
    "CocoError",
    "labels_to_coco",
    "poses_to_coco",
    "read_coco",
    "coco_to_labels",
    "write_coco",
    "import_coco",
    "predictions_to_coco_results",
    "read_coco_results",
    "evaluate_coco",
    "load_coco",
    "save_coco",
]

logger = logging.getLogger("posekit.io.coco")

_ROW = re.compile(r"^labeled-data/[^/]+/[^/]+$")
_SINGLE_NAMES = ("individual_0",)


class CocoError(ValueError):
    """A COCO file is malformed or does not match what was asked."""


# ---------------------------------------------------------------- writing


def _image_size(
    row: str, image_root: Path | None, image_sizes: Mapping[str, Sequence[int]] | None
) -> tuple[int, int]:
    if image_sizes is not None and row in image_sizes:
        w, h = image_sizes[row]
        return int(w), int(h)
    if image_root is not None:
        import cv2

        img = cv2.imread(str(image_root / row), cv2.IMREAD_UNCHANGED)
        if img is not None:
            return int(img.shape[1]), int(img.shape[0])
    raise CocoError(
        f"The size of image {row!r} is unknown: it is not under "
        f"{image_root if image_root is not None else '(no image_root given)'}. COCO "
        "records every image's width and height; pass image_root= (the project "
        "folder) or image_sizes={row: (width, height)}."
    )


def _edges_1based(
    skeleton: Sequence[Sequence[str]], bodyparts: Sequence[str]
) -> list[list[int]]:
    edges = []
    for a, b in skeleton:
        if a not in bodyparts or b not in bodyparts:
            raise CocoError(
                f"skeleton edge ({a!r}, {b!r}) names a bodypart that is not among "
                f"{list(bodyparts)}"
            )
        edges.append([bodyparts.index(a) + 1, bodyparts.index(b) + 1])
    return edges


def _annotation(
    xy: np.ndarray, ann_id: int, image_id: int, margin: float
) -> dict[str, Any]:
    seen = np.isfinite(xy).all(axis=-1)
    keypoints: list[float] = []
    for point, ok in zip(xy, seen, strict=True):
        keypoints += [float(point[0]), float(point[1]), 2] if ok else [0, 0, 0]
    box = keypoint_box(xy, margin=margin)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": keypoints,
        "num_keypoints": int(seen.sum()),
        "bbox": [float(v) for v in box],
        "area": float(box[2] * box[3]),
        "iscrowd": 0,
    }


def _coco_dataset(
    rows: Sequence[str],
    xy: np.ndarray,
    bodyparts: Sequence[str],
    individuals: Sequence[str] | None,
    *,
    scorer: str,
    skeleton: Sequence[Sequence[str]],
    image_root: Path | None,
    image_sizes: Mapping[str, Sequence[int]] | None,
    category: str,
    margin: float,
) -> dict[str, Any]:
    """Build the COCO dict from ``xy`` ``(n_rows, n_individuals, n_bodyparts, 2)``."""
    bodyparts = [str(b) for b in bodyparts]
    images, annotations = [], []
    for i, row in enumerate(rows):
        w, h = _image_size(row, image_root, image_sizes)
        images.append({"id": i + 1, "file_name": row, "width": w, "height": h})
        for k in range(xy.shape[1]):
            if not np.isfinite(xy[i, k]).all(axis=-1).any():
                continue  # an individual not labelled in this image is no object
            ann = _annotation(xy[i, k], len(annotations) + 1, i + 1, margin)
            if individuals is not None:
                ann["individual"] = str(individuals[k])
            annotations.append(ann)
    return {
        "info": {
            "description": "posekit export of DeepLabCut labels",
            "contributor": scorer,
            "version": "1.0",
            "date_created": _dt.date.today().isoformat(),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": category,
                "supercategory": "animal",
                "keypoints": bodyparts,
                "skeleton": _edges_1based(skeleton, bodyparts),
            }
        ],
    }


def labels_to_coco(
    labels: pd.DataFrame,
    *,
    image_root: str | os.PathLike | None = None,
    image_sizes: Mapping[str, Sequence[int]] | None = None,
    skeleton: Sequence[Sequence[str]] = (),
    category: str = "animal",
    margin: float = 0.0,
) -> dict[str, Any]:
    """DeepLabCut labels (single- or multi-animal) → a COCO keypoint dataset.

    Parameters
    ----------
    labels
        A DLC labels frame (:func:`posekit.engine.io.dlc.read_labels`).
    image_root
        Folder the row paths are relative to (the project folder); image sizes are
        read from the images there.
    image_sizes
        ``{row path: (width, height)}``, for images that are not on disk.
    skeleton
        Edges as pairs of bodypart names (the project's ``skeleton``).
    category
        Name of the COCO category.
    margin
        Pixels added on every side of each ``bbox`` (and so to its ``area``).

    Returns
    -------
    dict
        The COCO dataset (see the module docstring); individuals without a labelled
        keypoint in an image get no annotation there.

    Raises
    ------
    CocoError
        If an image size is unknown or a skeleton edge names an unknown bodypart.
    """
    scorer = str(labels.columns.get_level_values("scorer")[0])
    bodyparts = list(dict.fromkeys(labels.columns.get_level_values("bodyparts")))
    sub = labels[scorer]
    if "individuals" in labels.columns.names:
        individuals = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
    else:
        individuals = None
        sub = pd.concat({"": sub}, axis=1)
    xy = np.full((len(labels), len(individuals or [""]), len(bodyparts), 2), np.nan)
    for k, ind in enumerate(individuals or [""]):
        for j, bp in enumerate(bodyparts):
            if (ind, bp, "x") in sub.columns:
                xy[:, k, j, 0] = sub[(ind, bp, "x")].to_numpy(float)
                xy[:, k, j, 1] = sub[(ind, bp, "y")].to_numpy(float)
    return _coco_dataset(
        index_to_paths(labels.index),
        xy,
        bodyparts,
        individuals,
        scorer=scorer,
        skeleton=skeleton,
        image_root=Path(image_root) if image_root is not None else None,
        image_sizes=image_sizes,
        category=category,
        margin=margin,
    )


def _project_root(ds: xr.Dataset) -> Path | None:
    """Find the project of a label file ``<project>/labeled-data/<video>/x.h5``."""
    root = ds.attrs.get("image_root")  # labels read from NWB with their images
    if root and Path(str(root)).is_dir():
        return Path(str(root))
    source = ds.attrs.get("source_file")
    if not source:
        return None
    parents = Path(source).resolve().parents
    if len(parents) > 2 and parents[1].name == "labeled-data":
        return parents[2]
    return None


def _file_scorer(ds: xr.Dataset) -> str | None:
    """Return the labeller a DLC label file ``CollectedData_<scorer>.h5`` names."""
    match = re.match(
        r"CollectedData_(.+)\.(h5|csv)$", Path(ds.attrs.get("source_file") or "").name
    )
    return match.group(1) if match else None


def _project_skeleton(root: Path | None) -> list[list[str]]:
    if root is None or not (root / "config.yaml").is_file():
        return []
    from ..project import load_project

    return [list(edge) for edge in load_project(root).skeleton]


def _individual_names(ds: xr.Dataset) -> list[str] | None:
    names = [str(i) for i in ds["individual"].values]
    return None if names == list(_SINGLE_NAMES) else names


def poses_to_coco(
    ds: xr.Dataset,
    *,
    image_root: str | os.PathLike | None = None,
    image_sizes: Mapping[str, Sequence[int]] | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    scorer: str | None = None,
    category: str = "animal",
    margin: float = 0.0,
) -> dict[str, Any]:
    """Labelled frames held in a poses dataset → a COCO keypoint dataset.

    Parameters
    ----------
    ds
        Poses of labelled frames: ``attrs["frames"]`` holds the row paths (as
        :func:`posekit.engine.io.dlc.load_dlc` gives for a label file).
    image_root
        Folder the row paths are relative to; default: the project that holds the
        label file (from ``attrs["source_file"]``).
    image_sizes, category, margin
        As in :func:`labels_to_coco`.
    skeleton
        Edges; default ``attrs["skeleton"]``, else the project's.
    scorer
        Labeller; default ``attrs["scorer"]``, the ``<scorer>`` of a
        ``CollectedData_<scorer>`` source file, or ``"posekit"``.

    Returns
    -------
    dict
        The COCO dataset.

    Raises
    ------
    CocoError
        If the dataset has no ``frames`` or an image size is unknown.
    """
    frames = ds.attrs.get("frames")
    if not frames:
        raise CocoError(
            "a COCO dataset needs the labelled images: this poses dataset has no "
            "attrs['frames'] (image paths). Load a label file, or write predictions "
            "on video frames as COCO results (predictions_to_coco_results)."
        )
    root = Path(image_root) if image_root is not None else _project_root(ds)
    if skeleton is None:
        skeleton = ds.attrs.get("skeleton") or _project_skeleton(root)
    xy = ds["position"].transpose("time", "individual", "keypoint", "space").values
    return _coco_dataset(
        list(frames),
        xy[..., :2],
        [str(k) for k in ds["keypoint"].values],
        _individual_names(ds),
        scorer=scorer or ds.attrs.get("scorer") or _file_scorer(ds) or "posekit",
        skeleton=skeleton,
        image_root=root,
        image_sizes=image_sizes,
        category=category,
        margin=margin,
    )


def write_coco(coco: dict[str, Any] | list[Any], path: str | os.PathLike) -> Path:
    """Write a COCO dataset or result list as JSON, atomically."""
    return atomic_write_text(Path(path), json.dumps(coco, allow_nan=False))


# ---------------------------------------------------------------- reading


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"No COCO file at {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CocoError(f"{path} is not a JSON file ({err}); is it cut short?") from err


def _keypoint_category(
    coco: dict[str, Any], where: str, category_id: int | None
) -> dict[str, Any]:
    cats = [c for c in coco.get("categories", []) if c.get("keypoints")]
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
    if len(cats) != 1:
        raise CocoError(
            f"{where}: expected one category with keypoints"
            f"{f' and id {category_id}' if category_id is not None else ''}, found "
            f"{[c.get('name') for c in cats]}; pass category_id="
        )
    return cats[0]


def _is_crowd(ann: dict[str, Any]) -> bool:
    """Whether an annotation is a crowd region (``iscrowd: 1``): an area to ignore."""
    return bool(ann.get("iscrowd", 0))


def _check_dataset(coco: Any, where: str, category_id: int | None) -> dict[str, Any]:
    if not isinstance(coco, dict) or not {"images", "annotations", "categories"} <= set(
        coco
    ):
        raise CocoError(
            f"{where} is not a COCO dataset: it needs 'images', 'annotations' and "
            "'categories'"
        )
    cat = _keypoint_category(coco, where, category_id)
    n_values = 3 * len(cat["keypoints"])
    image_ids = {img["id"] for img in coco["images"]}
    for ann in coco["annotations"]:
        if ann.get("category_id") != cat["id"] or _is_crowd(ann):
            continue
        kp = ann.get("keypoints")
        if not isinstance(kp, list) or len(kp) != n_values:
            raise CocoError(
                f"{where}: annotation {ann.get('id')} has "
                f"{len(kp) if isinstance(kp, list) else 'no'} keypoint values but "
                f"category {cat['name']!r} lists {len(cat['keypoints'])} keypoints "
                f"(expected {n_values} values: x, y, v for each)"
            )
        if ann.get("image_id") not in image_ids:
            raise CocoError(
                f"{where}: annotation {ann.get('id')} refers to image "
                f"{ann.get('image_id')}, which is not in 'images'"
            )
    return cat


def read_coco(
    path: str | os.PathLike, *, category_id: int | None = None
) -> dict[str, Any]:
    """Read and check a COCO keypoint dataset.

    Parameters
    ----------
    path
        The ``.json`` file.
    category_id
        The keypoint category to use when the file has several.

    Returns
    -------
    dict
        The parsed JSON.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    CocoError
        If it is not JSON, not a COCO dataset, or an annotation's keypoint count
        does not match its category (the message names the file and annotation).
    """
    path = Path(path)
    coco = _load_json(path)
    _check_dataset(coco, str(path), category_id)
    return coco


def _dlc_row(file_name: str, default_video: str) -> str:
    name = str(file_name).replace("\\", "/")
    if _ROW.match(name):
        return name
    parts = PurePosixPath(name).parts
    video = parts[-2] if len(parts) >= 2 else default_video
    return f"labeled-data/{video}/{parts[-1]}"


def _annotation_xy(ann: dict[str, Any]) -> np.ndarray:
    kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
    return np.where((kp[:, 2] > 0)[:, None], kp[:, :2], np.nan)


def _assign_individuals(
    anns_by_image: dict[int, list[dict[str, Any]]],
) -> list[str]:
    """Name every annotation's individual; returns the individuals in order."""
    names: list[str] = []
    for anns in anns_by_image.values():
        for ann in anns:
            name = ann.get("individual")
            if name is not None and str(name) not in names:
                names.append(str(name))
    for anns in anns_by_image.values():
        used = {str(a["individual"]) for a in anns if a.get("individual") is not None}
        k = 1
        for ann in anns:
            if ann.get("individual") is not None:
                ann["_individual"] = str(ann["individual"])
                continue
            while f"individual{k}" in used:
                k += 1
            ann["_individual"] = f"individual{k}"
            used.add(ann["_individual"])
            if ann["_individual"] not in names:
                names.append(ann["_individual"])
    return names


def coco_to_labels(
    coco: dict[str, Any],
    *,
    scorer: str | None = None,
    video: str = "coco",
    category_id: int | None = None,
    where: str = "COCO dataset",
) -> pd.DataFrame:
    """Convert a COCO keypoint dataset to DeepLabCut labels.

    Rows are the images (``labeled-data/<video>/<image>``: a ``file_name`` already of
    that form is kept, otherwise its folder name, or ``video``, becomes the video);
    images without annotations are unlabelled rows. With more than one annotation
    in an image, or ``"individual"`` keys, the labels are multi-animal; unnamed
    instances become ``individual1, individual2, …`` in annotation order.

    Parameters
    ----------
    coco
        The parsed dataset (:func:`read_coco`).
    scorer
        DLC scorer; default ``info.contributor``, else ``"coco"``.
    video
        Video folder name for images whose ``file_name`` has no folder.
    category_id
        The keypoint category to use when there are several.
    where
        Name of the source, for error messages.

    Returns
    -------
    pandas.DataFrame
        DLC labels (3-level row index), NaN for unlabelled keypoints (``v = 0``).

    Raises
    ------
    CocoError
        If the dataset is malformed or two images map to the same row.
    """
    cat = _check_dataset(coco, where, category_id)
    bodyparts = [str(k) for k in cat["keypoints"]]
    scorer = scorer or (coco.get("info") or {}).get("contributor") or "coco"
    images = sorted(coco["images"], key=lambda im: im["id"])
    rows = [_dlc_row(im["file_name"], video) for im in images]
    dup = sorted({r for r in rows if rows.count(r) > 1})
    if dup:
        raise CocoError(
            f"{where}: several images map to the same DeepLabCut row {dup[:3]}; give "
            "the images distinct names or folders"
        )
    anns_by_image: dict[int, list[dict[str, Any]]] = {im["id"]: [] for im in images}
    crowd = 0
    for ann in coco["annotations"]:
        if ann.get("category_id") != cat["id"]:
            continue
        if _is_crowd(ann):
            crowd += 1  # a region COCO's evaluation ignores, never an animal
            continue
        anns_by_image[ann["image_id"]].append(dict(ann))
    if crowd:
        logger.warning(
            "%s: %d crowd annotation(s) (iscrowd: 1) skipped: COCO marks with them "
            "regions to ignore, not animals to label",
            where,
            crowd,
        )
    multi = any(len(a) > 1 for a in anns_by_image.values()) or any(
        a.get("individual") is not None for v in anns_by_image.values() for a in v
    )
    if not multi:
        xy = np.full((len(images), len(bodyparts), 2), np.nan)
        for i, im in enumerate(images):
            for ann in anns_by_image[im["id"]]:
                xy[i] = _annotation_xy(ann)
        return make_labels_frame(scorer, bodyparts, rows, xy)
    individuals = _assign_individuals(anns_by_image)
    xy = np.full((len(images), len(individuals), len(bodyparts), 2), np.nan)
    for i, im in enumerate(images):
        for ann in anns_by_image[im["id"]]:
            xy[i, individuals.index(ann["_individual"])] = _annotation_xy(ann)
    return make_labels_frame(scorer, bodyparts, rows, xy, individuals=individuals)


# ---------------------------------------------------------------- import as a project


def _source_images(coco: dict[str, Any], image_root: Path, where: str) -> list[Path]:
    images = sorted(coco["images"], key=lambda im: im["id"])
    sources = [image_root / str(im["file_name"]).replace("\\", "/") for im in images]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise CocoError(
            f"{where}: {len(missing)} image file(s) not found under {image_root}, "
            f"e.g. {missing[:3]}; pass image_root= (the folder the file_name paths "
            "are relative to)"
        )
    return sources


def import_coco(
    coco_path: str | os.PathLike,
    project_dir: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    scorer: str | None = None,
    task: str | None = None,
    video: str | None = None,
    category_id: int | None = None,
) -> Any:
    """Turn a COCO keypoint dataset into a DeepLabCut/posekit project.

    The project gets ``config.yaml`` (bodyparts and skeleton from the category; a
    multi-animal project when the labels are), the images copied to
    ``labeled-data/<video>/`` and ``CollectedData_<scorer>.h5``/``.csv``. The file
    and every image are checked first, and the project is built in a temporary
    folder moved into place at the end, so on any error nothing is written.

    Parameters
    ----------
    coco_path
        The COCO ``.json``.
    project_dir
        The new project folder (must not exist, or be empty).
    image_root
        Folder the images' ``file_name`` paths are relative to; default the JSON's
        folder.
    scorer
        Labeller; default ``info.contributor`` or ``"coco"``.
    task
        Project task; default the JSON's stem.
    video
        Video folder for images without a folder in their name; default the task.
    category_id
        The keypoint category to import when there are several.

    Returns
    -------
    posekit.engine.project.Project
        The new project.

    Raises
    ------
    CocoError
        If the file is malformed or an image is missing.
    FileExistsError
        If ``project_dir`` exists and is not empty.
    """
    coco_path = Path(coco_path)
    project_dir = Path(project_dir).expanduser().resolve()
    coco = read_coco(coco_path, category_id=category_id)
    task = task or re.sub(r"[^A-Za-z0-9_]+", "_", coco_path.stem) or "coco"
    labels = coco_to_labels(
        coco,
        scorer=scorer,
        video=video or task,
        category_id=category_id,
        where=str(coco_path),
    )
    root = Path(image_root) if image_root is not None else coco_path.parent
    sources = _source_images(coco, root, str(coco_path))
    cat = _keypoint_category(coco, str(coco_path), category_id)
    bodyparts = [str(k) for k in cat["keypoints"]]
    skeleton = [
        [bodyparts[int(a) - 1], bodyparts[int(b) - 1]]
        for a, b in cat.get("skeleton") or []
    ]
    individuals = (
        list(dict.fromkeys(labels.columns.get_level_values("individuals")))
        if "individuals" in labels.columns.names
        else None
    )
    return build_project(
        project_dir,
        task=task,
        labels=labels,
        sources=sources,
        bodyparts=bodyparts,
        skeleton=skeleton,
        individuals=individuals,
    )


# ---------------------------------------------------------------- results


def _image_keys(name: str) -> list[str]:
    """Keys an image is matched by: its whole path, ``<folder>/<file>``, its file."""
    parts = str(name).replace("\\", "/").split("/")
    return list(dict.fromkeys(["/".join(parts), "/".join(parts[-2:]), parts[-1]]))


def _image_ids(
    ds: xr.Dataset, images: Sequence[dict[str, Any]] | dict[str, Any] | None
) -> list[int]:
    """Return the COCO image id of each ``time`` step (see the results writer)."""
    frames = ds.attrs.get("frames")
    if images is None:
        if frames:
            raise CocoError(
                "COCO results name their images by the ids of a COCO dataset, and "
                f"these are predictions of images ({frames[0]}, ...): pass the "
                "dataset they belong to (posekit convert --images dataset.json; "
                "images= in Python) so that each prediction gets its image's id "
                "(matched by file name)"
            )
        from ..poses import frame_numbers

        return [int(f) + 1 for f in frame_numbers(ds, fmt="COCO results")]
    if isinstance(images, dict):
        images = images["images"]
    if not frames:
        raise CocoError(
            "these predictions are of video frames (they name no images), so they "
            "cannot be matched to the images of a COCO dataset; write them without "
            "the dataset (image id = frame number + 1), or predict on the dataset's "
            "images (posekit analyze-images)"
        )
    # the whole path first, then <folder>/<file>, then the file name, each when it
    # names one image of the dataset
    levels: list[dict[str, list[int]]] = [{}, {}, {}]
    for im in images:
        keys = _image_keys(im["file_name"])
        for level, table in enumerate(levels):
            table.setdefault(keys[min(level, len(keys) - 1)], []).append(im["id"])
    ids, missing = [], []
    for f in frames:
        keys = _image_keys(f)
        hit = None
        for level, table in enumerate(levels):
            found = table.get(keys[min(level, len(keys) - 1)], [])
            if len(set(found)) == 1:
                hit = found[0]
                break
        if hit is None:
            missing.append(f)
        ids.append(hit)
    if missing:
        raise CocoError(
            f"{len(missing)} of {len(frames)} predicted images are not images of the "
            f"COCO dataset (matched by file name), e.g. {missing[:3]}; the dataset "
            f"has e.g. {[im['file_name'] for im in list(images)[:3]]}"
        )
    return [int(i) for i in ids]


def _say_what_results_change(xy: np.ndarray, conf: np.ndarray) -> None:
    """Warn once about the points COCO results cannot give back as they are.

    A result keypoint is ``x, y, score`` and ``0, 0, 0`` is a missing one, so three
    kinds of point change: a position without a likelihood gets score 1 (JSON has no
    NaN), a prediction at (0, 0) with likelihood 0 reads back as missing, and a
    likelihood without a position (a point masked out below ``pcutoff``) is lost.
    ``xy`` is ``(time, individual, keypoint, 2)``, ``conf`` the same without the last
    axis.
    """
    seen = np.isfinite(xy).all(axis=-1)
    rated = np.isfinite(conf)
    changes = []
    n = int((seen & ~rated).sum())
    if n:
        changes.append(f"{n} point(s) without a likelihood get score 1")
    n = int((seen & (xy == 0).all(axis=-1) & rated & (conf == 0)).sum())
    if n:
        changes.append(
            f"{n} point(s) predicted at (0, 0) with likelihood 0 are written 0, 0, 0, "
            "COCO's missing keypoint, and read back as missing"
        )
    n = int((~seen & rated).sum())
    if n:
        changes.append(
            f"{n} likelihood(s) of points without a position are dropped (a missing "
            "keypoint is 0, 0, 0)"
        )
    if changes:
        logger.warning(
            "COCO results hold x, y and a score per keypoint, so they cannot give "
            "these points back as they are: %s. Likelihood 0 at any other position "
            "is kept; netCDF (.nc) or DeepLabCut (.h5) keep everything.",
            "; ".join(changes),
        )


def predictions_to_coco_results(
    ds: xr.Dataset,
    *,
    images: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """Predictions → COCO keypoint results (one entry per frame and individual).

    Parameters
    ----------
    ds
        Poses dataset (predictions; confidence = likelihood).
    images
        The COCO dataset (or its ``images``) the predictions are for: predictions of
        images (``attrs["frames"]``) are matched to its images by file name (the
        whole path, else ``<folder>/<file>``, else the file name, when that names
        one image). Needed for predictions of images; predictions of video frames
        (no ``frames``) get image id = frame number + 1 without it.
    category_id
        The category of the results.

    Returns
    -------
    list of dict
        ``image_id``, ``category_id``, ``keypoints`` (``x, y, likelihood``; a missing
        keypoint is ``0, 0, 0``; likelihood 0 elsewhere is kept), ``score`` (mean
        likelihood of the instance, 1 if it has none) and ``individual``. Instances
        with no predicted keypoint are left out. What the results cannot hold (a
        point without a likelihood: score 1; likelihood 0 at (0, 0): missing; a
        likelihood without a position: dropped) is said in one warning.

    Raises
    ------
    CocoError
        If the predictions are of images and ``images`` is not given, or an image
        is not in ``images``.
    """
    ids = _image_ids(ds, images)
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["confidence"].transpose("time", "individual", "keypoint").values
    _say_what_results_change(pos[..., :2], conf)
    inds = [str(i) for i in ds["individual"].values]
    out = []
    for t, image_id in enumerate(ids):
        for k, name in enumerate(inds):
            xy = pos[t, k, :, :2]
            seen = np.isfinite(xy).all(axis=-1)
            if not seen.any():
                continue
            c = conf[t, k]
            keypoints: list[float] = []
            for point, ok, like in zip(xy, seen, c, strict=True):
                if ok:
                    keypoints += [
                        float(point[0]),
                        float(point[1]),
                        float(like) if np.isfinite(like) else 1.0,
                    ]
                else:
                    keypoints += [0.0, 0.0, 0.0]
            finite = c[seen & np.isfinite(c)]
            out.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(category_id),
                    "keypoints": keypoints,
                    "score": float(finite.mean()) if finite.size else 1.0,
                    "individual": name,
                }
            )
    return out


def read_coco_results(
    path: str | os.PathLike,
    *,
    images: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
    keypoint_names: Sequence[str] | None = None,
    fps: float | None = None,
) -> xr.Dataset:
    """COCO keypoint results → a poses dataset.

    Parameters
    ----------
    path
        The results ``.json`` (a list).
    images
        The COCO dataset (or its ``images``): then ``time`` runs over its images in
        id order and ``attrs["frames"]`` holds their ``file_name``. Default: ``time``
        runs over image ids ``1..max``.
    keypoint_names
        Names of the keypoints (default: the dataset's category, else
        ``keypoint_0…``).
    fps
        Frames per second.

    Returns
    -------
    xarray.Dataset
        Positions (a ``0, 0, 0`` keypoint is missing) and likelihoods; individuals
        from the ``individual`` keys, else ``individual_0…`` by score within each
        image.

    Raises
    ------
    CocoError
        If the file is not a COCO result list or keypoint counts differ.
    """
    path = Path(path)
    results = _load_json(path)
    if not isinstance(results, list) or not all(
        isinstance(r, dict) and {"image_id", "keypoints"} <= set(r) for r in results
    ):
        raise CocoError(
            f"{path} is not a COCO keypoint result list (a JSON list of objects "
            "with 'image_id' and 'keypoints')"
        )
    sizes = {len(r["keypoints"]) for r in results}
    if len(sizes) > 1 or any(s % 3 for s in sizes):
        raise CocoError(
            f"{path}: results have {sorted(sizes)} keypoint values; all need the "
            "same number, a multiple of 3"
        )
    n_kp = (sizes.pop() // 3) if results else len(keypoint_names or [])
    image_list = None
    if images is not None:
        image_list = sorted(
            images["images"] if isinstance(images, dict) else images,
            key=lambda im: im["id"],
        )
        if keypoint_names is None and isinstance(images, dict):
            keypoint_names = _keypoint_category(images, str(path), None)["keypoints"]
    ids = (
        [im["id"] for im in image_list]
        if image_list is not None
        else list(range(1, max((int(r["image_id"]) for r in results), default=0) + 1))
    )
    row_of = {i: t for t, i in enumerate(ids)}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        if r["image_id"] not in row_of:
            raise CocoError(f"{path}: result for unknown image {r['image_id']}")
        by_image.setdefault(r["image_id"], []).append(r)
    names = list(
        dict.fromkeys(str(r["individual"]) for r in results if "individual" in r)
    )
    for rs in by_image.values():
        unnamed = sorted(
            (r for r in rs if "individual" not in r),
            key=lambda r: -float(r.get("score", 0.0)),
        )
        for k, r in enumerate(unnamed):
            r["_individual"] = f"individual_{k}"
            if r["_individual"] not in names:
                names.append(r["_individual"])
        for r in rs:
            r.setdefault("_individual", str(r.get("individual")))
    names = names or ["individual_0"]
    pos = np.full((len(ids), 2, n_kp, len(names)), np.nan)
    conf = np.full((len(ids), n_kp, len(names)), np.nan)
    for image_id, rs in by_image.items():
        for r in rs:
            kp = np.asarray(r["keypoints"], np.float64).reshape(-1, 3)
            seen = ~((kp[:, 0] == 0) & (kp[:, 1] == 0) & (kp[:, 2] == 0))
            t, k = row_of[image_id], names.index(r["_individual"])
            pos[t, :, :, k] = np.where(seen, kp[:, :2].T, np.nan)
            conf[t, :, k] = np.where(seen, kp[:, 2], np.nan)
    ds = from_numpy(
        pos,
        conf,
        keypoint_names=keypoint_names,
        individual_names=names,
        fps=fps,
        source_software="COCO",
        source_file=str(path),
    )
    if image_list is not None:
        ds.attrs["frames"] = [str(im["file_name"]) for im in image_list]
    return ds


def evaluate_coco(
    dataset: dict[str, Any] | str | os.PathLike,
    results: list[dict[str, Any]] | str | os.PathLike,
    *,
    sigma: float | Sequence[float] = DEFAULT_OKS_SIGMA,
) -> dict[str, float]:
    """Score COCO keypoint results with pycocotools' ``COCOeval``.

    Parameters
    ----------
    dataset
        Ground truth: a COCO dataset dict or ``.json`` path.
    results
        Predictions: a COCO result list or ``.json`` path.
    sigma
        Per-keypoint OKS σ (``kpt_oks_sigmas``; DeepLabCut's default 0.1 for all).

    Returns
    -------
    dict
        COCOeval's ten keypoint statistics: ``AP``, ``AP50``, ``AP75``, ``APm``,
        ``APl``, ``AR``, ``AR50``, ``AR75``, ``ARm``, ``ARl``.

    Raises
    ------
    ImportError
        If pycocotools is not installed (``pip install "posekit[coco]"``).
    CocoError
        If the dataset is malformed.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as err:
        raise ImportError(
            'evaluate_coco needs pycocotools: pip install "posekit[coco]" (or use '
            "posekit.engine.evaluation.oks_map, which needs only NumPy)"
        ) from err
    if not isinstance(dataset, dict):
        dataset = read_coco(dataset)
    else:
        _check_dataset(dataset, "COCO dataset", None)
    if not isinstance(results, list):
        results = _load_json(Path(results))
    cat = _keypoint_category(dataset, "COCO dataset", None)
    names = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(dataset))
        gt.createIndex()
        if not results:
            return dict.fromkeys(names, float("nan"))
        dt = gt.loadRes(json.loads(json.dumps(results)))
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.broadcast_to(
            np.asarray(sigma, np.float64), (len(cat["keypoints"]),)
        ).copy()
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {n: float(v) for n, v in zip(names, ev.stats, strict=True)}


# ---------------------------------------------------------------- registry


def _sniff_coco(path: Path) -> bool:
    """Recognise COCO keypoints by content: JSON with COCO's keys and ``keypoints``."""
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    text = head.lstrip()
    if text.startswith("["):
        return '"keypoints"' in head and '"image_id"' in head
    if not text.startswith("{") or not any(
        f'"{k}"' in head for k in ("images", "annotations", "categories")
    ):
        return False
    if '"keypoints"' in head:
        return True
    try:  # a long image list first: look at the whole file
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and any(
        c.get("keypoints") for c in data.get("categories") or [] if isinstance(c, dict)
    )


@register_loader("COCO", sniff=_sniff_coco, suffixes=(".json",))
def load_coco(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    images: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Load a COCO keypoint dataset (labels) or result list (predictions) as poses.

    Parameters
    ----------
    path
        ``.json`` file.
    fps
        Frames per second.
    images
        For a result list: the COCO dataset the results are for.

    Returns
    -------
    xarray.Dataset
        For a dataset: one ``time`` step per image (``attrs["frames"]`` = the
        DeepLabCut rows), NaN confidence, ``attrs["skeleton"]`` and
        ``attrs["scorer"]``. For results: see :func:`read_coco_results`.

    Raises
    ------
    CocoError
        If the file is malformed.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, list):
        return read_coco_results(path, images=images, fps=fps)
    _check_dataset(data, str(path), None)
    labels = coco_to_labels(data, video=path.stem, where=str(path))
    cat = _keypoint_category(data, str(path), None)
    bodyparts = [str(k) for k in cat["keypoints"]]
    scorer = str(labels.columns.get_level_values("scorer")[0])
    xy = labels_to_array(labels, bodyparts)
    if "individuals" in labels.columns.names:
        individuals = list(
            dict.fromkeys(labels.columns.get_level_values("individuals"))
        )
    else:
        individuals, xy = list(_SINGLE_NAMES), xy[:, None]
    pos = xy.transpose(0, 3, 2, 1)  # (time, individual, keypoint, space) -> movement
    ds = from_numpy(
        pos,
        keypoint_names=bodyparts,
        individual_names=individuals,
        fps=fps,
        source_software="COCO",
        source_file=str(path),
    )
    ds.attrs["frames"] = index_to_paths(labels.index)
    ds.attrs["scorer"] = scorer
    ds.attrs["skeleton"] = [
        [bodyparts[int(a) - 1], bodyparts[int(b) - 1]]
        for a, b in cat.get("skeleton") or []
    ]
    return mark_time_unit(ds)


@register_saver("COCO", suffixes=(".json",))
def save_coco(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    kind: str | None = None,
    images: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Path:
    """Save poses as a COCO dataset (labels) or COCO results (predictions).

    Parameters
    ----------
    ds
        Poses dataset.
    path
        Target ``.json``.
    kind
        ``"dataset"`` or ``"results"``; default ``"results"`` when the poses have
        a confidence, else ``"dataset"``.
    images
        For results: the COCO dataset they are for (see
        :func:`predictions_to_coco_results`).
    **kwargs
        For a dataset: :func:`poses_to_coco` options (``image_root``,
        ``image_sizes``, ``skeleton``, ``margin``, ...).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    CocoError
        If the poses cannot be written in that form (see the functions above).
    """
    if kind is None:
        kind = "results" if np.isfinite(ds["confidence"].values).any() else "dataset"
    if kind == "dataset":
        return write_coco(poses_to_coco(ds, **kwargs), path)
    if kind == "results":
        return write_coco(predictions_to_coco_results(ds, images=images), path)
    raise ValueError(f"kind must be 'dataset' or 'results'; received {kind!r}")
