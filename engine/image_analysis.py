"""Analyse a folder of images: time-lapse frames, camera traps, stills.

DeepLabCut's ``analyze_time_lapse_frames`` (2.x) and ``analyze_images`` (3.x) do this
job: every image of a folder through the trained network, and one predictions file
for the folder, ``<folder><scorer>.h5`` (+ ``.csv``, ``_meta.pickle``), indexed by the
images' file names. posekit writes the same file, so DeepLabCut's readers, movement
and posekit's own (:func:`posekit.engine.io.load_poses`) open it.

Unlike DeepLabCut 2, images of different sizes may share a folder (each size gets its
own network input), an unreadable image is left out with a warning instead of
stopping the run, and a multi-animal project's images give each image's assembled
animals (ranked by score: images have no order to track in).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import logger
from ._fileio import atomic_path
from .api import _one_at_a_time
from .dlc_names import dlc_keywords, ignored, renamed
from .inference import (
    AnalysisOutputs,
    Predictor,
    default_batch_size,
    to_frame_pixels,
    video_metadata,
)
from .io.dlc import predictions_frame, write_analysis_metadata, write_predictions
from .project import Project, as_project
from .video import Crop

__all__ = [
    "IMAGE_SUFFIXES",
    "list_images",
    "read_image",
    "images_output",
    "predict_images",
    "analyze_images",
    "draw_predictions",
]

#: Image files found in a folder when no ``frametype`` is given.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: Images read and predicted together (bounds the memory of a large folder).
CHUNK_IMAGES = 64


def _suffixes(frametype: str | Sequence[str] | None) -> tuple[str, ...]:
    if frametype is None:
        return IMAGE_SUFFIXES
    kinds = [frametype] if isinstance(frametype, str) else list(frametype)
    return tuple("." + str(k).lower().lstrip(".") for k in kinds)


def list_images(
    images: str | os.PathLike | Sequence[str | os.PathLike],
    frametype: str | Sequence[str] | None = None,
) -> list[Path]:
    """Return the image files to analyse: a folder's images, or the files listed.

    Parameters
    ----------
    images
        A folder (its images, sorted by name as DeepLabCut sorts them; sub-folders are
        not searched), an image file, or a list of folders and files.
    frametype
        Only files with this extension (``".png"``, ``"jpg"``, or several), matched
        without regard to case (default: :data:`IMAGE_SUFFIXES`). Files listed one
        by one are taken whatever their extension.

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        If a path does not exist, or no image is found (the message says which
        extensions were looked for).
    """
    items = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    wanted = _suffixes(frametype)
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(
                sorted(
                    (
                        p
                        for p in item.iterdir()
                        if p.is_file() and p.suffix.lower() in wanted
                    ),
                    key=lambda p: p.name,
                )
            )
        elif item.is_file():
            found.append(item)
        else:
            raise FileNotFoundError(f"No such folder or image: {item}")
    if not found:
        raise FileNotFoundError(
            f"No images ({', '.join('*' + s for s in wanted)}) in "
            f"{', '.join(str(i) for i in items)}: check the folder, or give the "
            "extension of your images (frametype, --frametype)."
        )
    return found


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` RGB ``uint8`` (grey and 16-bit images too).

    Raises
    ------
    ValueError
        If the file is not an image OpenCV can decode.
    """
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # any path, unlike cv2.imread
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(
            f"{Path(path).name} is not an image that can be read (empty, truncated, "
            "or not an image format)"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def images_output(
    images: Sequence[Path], scorer: str, destfolder: str | os.PathLike | None = None
) -> tuple[Path, list[str]]:
    """Return the predictions file of a set of images and its row names.

    The file is ``<folder><scorer>.h5`` in ``destfolder`` (default: the folder), where
    ``folder`` is the images' common folder; the rows are the images' paths relative
    to it (their file names when they share one folder, as in DeepLabCut).
    """
    parents = [p.resolve().parent for p in images]
    root = Path(os.path.commonpath([str(p) for p in parents]))
    names = [p.resolve().relative_to(root).as_posix() for p in images]
    return Path(destfolder or root) / f"{root.name}{scorer}.h5", names


def predict_images(
    predictor_for: Callable[[tuple[int, int]], Any],
    images: Sequence[Path],
    *,
    scale: float = 1.0,
    crop: Crop | None = None,
    progress: bool | Callable[[int, int], None] = False,
) -> tuple[list[Any], list[Path], dict[Path, str], dict[str, Any]]:
    """Run each image through the predictor made for its size.

    Parameters
    ----------
    predictor_for
        ``(height, width)`` of the network's input → a predictor taking such images
        (a :class:`~posekit.engine.inference.Predictor`, or a multi-animal one).
    images
        The image files, predicted in chunks of :data:`CHUNK_IMAGES`.
    scale, crop
        As for :func:`posekit.engine.inference.predict_video`: each image is cropped,
        then resized by ``scale``; single-animal keypoints are mapped back to the
        whole image.
    progress
        ``True`` for a tqdm bar, or ``progress(done, total)``.

    Returns
    -------
    results : list
        What the predictor returned for each image read (``(K, 3)`` keypoints, or a
        multi-animal predictor's assemblies), in the order of ``read``.
    read : list of Path
        The images that could be read.
    failed : dict
        Each image that could not be read → why.
    info : dict
        ``n_frames``, ``frame_dimensions`` (the first image's ``(height, width)``),
        ``seconds``, ``frames_per_second``.
    """
    import cv2

    t0 = time.perf_counter()
    bar = None
    if progress is True:
        from ._progress import progress_bar

        bar = progress_bar(len(images), unit="images", desc="images")
    results: list[Any] = []
    read: list[Path] = []
    failed: dict[Path, str] = {}
    first: tuple[int, int] | None = None
    done = 0
    for start in range(0, len(images), CHUNK_IMAGES):
        chunk: list[tuple[Path, np.ndarray]] = []
        for path in images[start : start + CHUNK_IMAGES]:
            try:
                image = read_image(path)
            except ValueError as err:
                failed[path] = str(err)
                continue
            first = first or (image.shape[0], image.shape[1])
            if crop is not None:
                image = crop.apply(image)
                if image.size == 0:
                    failed[path] = f"the crop {crop} lies outside the image"
                    continue
            if scale != 1.0:
                image = cv2.resize(
                    image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                )
            chunk.append((path, np.ascontiguousarray(image)))
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, (_, image) in enumerate(chunk):
            by_shape.setdefault(image.shape[:2], []).append(i)
        out: list[Any] = [None] * len(chunk)
        for shape, idx in by_shape.items():
            predicted = predictor_for(shape)([chunk[i][1] for i in idx])
            for i, value in zip(idx, predicted, strict=True):
                out[i] = value
        results.extend(out)
        read.extend(path for path, _ in chunk)
        done += min(CHUNK_IMAGES, len(images) - start)
        if bar is not None:
            bar.update(min(CHUNK_IMAGES, len(images) - start))
        elif callable(progress):
            progress(done, len(images))
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    info = {
        "fps": None,
        "n_frames": len(read),
        "frame_dimensions": first or (0, 0),
        "seconds": seconds,
        "frames_per_second": len(read) / seconds if seconds else float("nan"),
    }
    return results, read, failed, info


@dlc_keywords(
    batchsize=renamed("batch_size"),
    frame_type=renamed("frametype"),
    output_dir=renamed("destfolder"),
    snapshot_index=renamed("snapshot"),
    progress_bar=renamed("progress"),
    device=ignored("posekit runs on the CPU or the GPU TensorFlow finds"),
    rgb=ignored("images are read as RGB (grey ones too)"),
    plotting=renamed("plot"),
)
@_one_at_a_time("analysis", "analyze_images")
def analyze_images(
    project: Project | str | os.PathLike,
    images: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    frametype: str | Sequence[str] | None = None,
    shuffle: int = 1,
    snapshot: int | str | None = None,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    batch_size: int | None = None,
    scale: float = 1.0,
    cropping: Sequence[int] | None = None,
    use_tflite: bool = True,
    precision: str = "auto",
    overwrite: bool = False,
    plot: bool = False,
    progress: bool | Callable[[int, int], None] = True,
) -> AnalysisOutputs:
    """Analyse a folder of images with a trained shuffle: one DLC file for all.

    Writes ``<folder><scorer>.h5`` (+ ``.csv`` with ``save_as_csv``) and
    ``<folder><scorer>_meta.pickle`` in the folder (or ``destfolder``): one row per
    image, indexed by its file name, the columns of a video's predictions (with
    ``individuals`` for a multi-animal project: each image's animals, best first).
    As in DeepLabCut, a folder analysed before with this network is not analysed
    again unless ``overwrite``.

    Parameters
    ----------
    project
        The project (or its folder or ``config.yaml``).
    images
        A folder of images, image files, or a list of both (:func:`list_images`).
    frametype
        Extension of the images to take from folders (default: every image kind).
    shuffle, snapshot, destfolder, save_as_csv, batch_size, scale, use_tflite, precision
        As for :func:`posekit.engine.api.analyze_videos`.
    cropping
        ``x1, x2, y1, y2``: analyse this region of each image (coordinates are
        still in the whole image's pixels; default: the config's when
        ``cropping: true``).
    overwrite
        Analyse again when the output exists.
    plot
        Also write each image with its predictions drawn (points at or above the
        config's ``pcutoff``, the config's colours and skeleton) into
        ``<folder><scorer>_labeled/`` beside the ``.h5`` (DeepLabCut 3's
        ``plotting``).
    progress
        tqdm bar, or ``progress(done, total)``.

    Returns
    -------
    AnalysisOutputs
        ``[the .h5]``, with ``skipped`` (analysed before) and ``failed`` (each image
        that could not be read → why; the others were analysed).

    Raises
    ------
    FileNotFoundError
        If there are no images, or no trained snapshot.
    ValueError
        If no image can be read.
    posekit.engine.locks.JobLockError
        If an analysis already runs on the project.

    Notes
    -----
    DeepLabCut's keywords are taken too: ``frame_type``, ``output_dir``,
    ``snapshot_index``, ``batchsize``, ``progress_bar`` (its 3.x names).
    """
    from .api import _check_multianimal_options, _one_snapshot, config_batch_size
    from .model_folder import ModelFolder
    from .quantization import check_precision

    check_precision(precision)
    project = as_project(project)
    crop = Crop.parse(cropping) if cropping is not None else project.analysis_crop()
    files = list_images(images, frametype)
    most = config_batch_size(project) if batch_size is None else None
    folder = ModelFolder.of(project, shuffle)
    _, path = folder.snapshot(_one_snapshot(project, snapshot))
    folder.ensure_dlc_markers()
    scorer = folder.scorer(path)
    out, names = images_output(files, scorer, destfolder)
    if out.is_file() and not overwrite:
        logger.warning(
            "%s was analysed before with this network (%s); overwrite=True "
            "(--overwrite) analyses it again",
            out.parent,
            out.name,
        )
        return AnalysisOutputs([out], skipped=[out])
    meta = dict(folder.info)
    meta["iteration"] = meta["iteration (active-learning)"]
    row = dict(zip(files, names, strict=True))
    if project.multianimal:
        from .multianimal.outputs import tracks_frame

        _check_multianimal_options(
            precision=precision,
            client=None,
            shard=None,
            scale=scale,
            cropping=cropping,
            config_crop=None,
        )
        crop = None
        results, read, failed, info = _predict_animals(
            folder, path, files, batch_size, progress
        )
        _say_failed(read, failed, len(files))
        layout, animals, unique = results
        # the columns of a video's tracks (individuals, then ``single``), a row per
        # image instead of per frame
        df = tracks_frame(animals, layout, scorer, unique)
        df.index = pd.Index([row[p] for p in read])
        individuals = [
            i
            for i in dict.fromkeys(df.columns.get_level_values("individuals"))
            if i != "single"
        ]
        bodyparts = list(layout.multi_bodyparts)
        unique_bodyparts = list(layout.unique_bodyparts)
        batch = int(batch_size or 1)
    else:
        predictors: dict[tuple[int, int], Predictor] = {}

        def predictor_for(shape: tuple[int, int]) -> Predictor:
            if shape not in predictors:
                predictors[shape] = folder.predictor(
                    shape,
                    int(batch_size or default_batch_size(shape, most)),
                    use_tflite=use_tflite,
                    snapshot=path,
                    precision=precision,
                )
            return predictors[shape]

        xyps, read, failed, info = predict_images(
            predictor_for, files, scale=scale, crop=crop, progress=progress
        )
        _say_failed(read, failed, len(files))
        bodyparts = list(folder.model_config(path).bodyparts)
        xyp = to_frame_pixels(np.stack(xyps), scale, crop)
        df = predictions_frame(xyp, scorer, bodyparts, index=[row[p] for p in read])
        individuals, unique_bodyparts = [], []
        batch = next((p.batch_size for p in predictors.values()), 1)
        info["precision"] = next(
            (getattr(p, "precision", "float32") for p in predictors.values()),
            "float32",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(df, out, save_csv=save_as_csv)
    data = video_metadata(
        info,
        scorer=scorer,
        bodyparts=bodyparts,
        batch_size=batch,
        crop=crop,
        scale=scale,
        model_config=meta,
        individuals=individuals or None,
        unique_bodyparts=unique_bodyparts,
    )
    data["images"] = [row[p] for p in read]
    if plot:
        draw_predictions(project, df, read, out.with_name(f"{out.stem}_labeled"))
    write_analysis_metadata(out.with_name(f"{out.stem}_meta.pickle"), data)
    logger.info(
        "analysed %d image(s) in %.1f s (%.1f images/s) -> %s",
        len(read),
        info["seconds"],
        info["frames_per_second"],
        out,
    )
    return AnalysisOutputs([out], failed=failed)


def draw_predictions(
    project: Project, predictions: Any, images: Sequence[Path], folder: Path
) -> list[Path]:
    """Write each image with its predicted points drawn, into ``folder``.

    Parameters
    ----------
    project
        Gives the ``pcutoff``, colours, dot size and skeleton (:attr:`Project.display`).
    predictions
        The images' DLC predictions table (rows in the order of ``images``).
    images
        The image files.
    folder
        Where the drawn images go (``<image stem>.png``).

    Returns
    -------
    list of Path
        The images written.
    """
    import cv2

    from .drawing import bodypart_colors, draw_labels

    display = project.display
    columns = predictions.columns
    names = list(dict.fromkeys(columns.get_level_values("bodyparts")))
    values = predictions.to_numpy(float).reshape(len(predictions), -1, 3)
    parts = [columns[3 * j][-2] for j in range(values.shape[1])]
    colors = bodypart_colors(len(names), display.colormap)[
        [names.index(p) for p in parts]
    ]
    groups = (
        [columns[3 * j][1] for j in range(values.shape[1])]
        if "individuals" in columns.names
        else [""] * values.shape[1]
    )
    index = {(g, p): j for j, (g, p) in enumerate(zip(groups, parts, strict=True))}
    skeleton = [
        (index[(g, u)], index[(g, v)])
        for g in dict.fromkeys(groups)
        for u, v in display.skeleton
        if (g, u) in index and (g, v) in index
    ]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, points in zip(images, values, strict=True):
        xy = np.where(points[:, 2:] >= display.pcutoff, points[:, :2], np.nan)
        drawn = draw_labels(
            read_image(path),
            xy,
            colors,
            dotsize=display.dotsize,
            alpha=display.alphavalue,
            skeleton=skeleton,
            skeleton_color=display.skeleton_color,
        )
        out = folder / f"{path.stem}.png"
        with atomic_path(out) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {out}")
        written.append(out)
    logger.info("drew the predictions on %d image(s) in %s", len(written), folder)
    return written


def _predict_animals(
    folder: Any,
    snapshot: Path,
    files: list[Path],
    batch_size: int | None,
    progress: bool | Callable[[int, int], None],
) -> tuple[tuple[Any, np.ndarray, np.ndarray | None], list[Path], dict, dict]:
    """Assemble each image's animals; pad to the most animals any image has."""
    from .multianimal.api import (
        multianimal_config,
        multianimal_predictor,
        shuffle_assembly,
    )

    layout = multianimal_config(folder).layout
    n_max = max(len(folder.project.individuals), layout.n_individuals, 1)
    assembly = shuffle_assembly(folder.project, folder)  # test/inference_cfg.yaml's
    predictor = multianimal_predictor(
        folder,
        snapshot,
        batch_size=int(batch_size or 1),
        assembly=assembly,
        max_individuals=min(n_max, assembly.max_individuals or n_max),
    )
    assemblies, read, failed, info = predict_images(
        lambda shape: predictor, files, progress=progress
    )
    n_multi = len(layout.multi_bodyparts)
    animals = np.full((len(read), n_max, n_multi, 3), np.nan)
    unique = (
        np.full((len(read), layout.n_unique, 3), np.nan) if layout.n_unique else None
    )
    for i, found in enumerate(assemblies):
        order = np.argsort(-np.asarray(found.scores))[:n_max]
        animals[i, : len(order)] = np.asarray(found.animals)[order]
        if unique is not None:
            unique[i] = found.unique
    info["precision"] = "float32"
    return (layout, animals, unique), read, failed, info


def _say_failed(read: list[Path], failed: dict[Path, str], total: int) -> None:
    """Warn of the images left out; raise if none could be read."""
    if not read:
        raise ValueError(
            f"None of the {total} image(s) can be read: " + "; ".join(failed.values())
        )
    if failed:
        logger.warning(
            "%d of %d image(s) cannot be read and are left out (the others are "
            "analysed): %s",
            len(failed),
            total,
            "; ".join(f"{p}: {why}" for p, why in failed.items()),
        )
