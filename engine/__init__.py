"""posekit.engine: all computation for markerless pose estimation.

The engine never imports widget code (ipywidgets, bokeh); everything here can run
headless on a cluster node. The workflow verbs are importable from here; heavy modules
(TensorFlow) load only when a verb that needs them is first used.

Importing ``posekit.engine`` changes no setting. TensorFlow is imported only through
:mod:`posekit.engine._tf`, which turns on its oneDNN kernels (``TF_ENABLE_ONEDNN_OPTS=1``)
right before the first import, unless the variable is already set
(``TF_ENABLE_ONEDNN_OPTS=0`` keeps them off). A script that imports TensorFlow itself,
before posekit does, calls :func:`set_tensorflow_options` first.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logger = logging.getLogger("posekit")

# name -> module that defines it (imported lazily on first attribute access)
_LAZY = {
    "Project": ".project",
    "create_project": ".project",
    "load_project": ".project",
    "VideoReader": ".video",
    "extract_frames": ".api",
    "check_labels": ".label_check",
    "read_labels": ".io.dlc",
    "write_labels": ".io.dlc",
    "load_poses": ".io",
    "save_poses": ".io",
    "from_numpy": ".poses",
    "create_training_dataset": ".dataset",
    "load_training_set": ".dataset",
    "mergeandsplit": ".dataset",
    "train_network": ".api",
    "evaluate_network": ".api",
    "analyze_videos": ".api",
    "AnalysisStopped": ".inference",
    "analyze_images": ".image_analysis",
    "filter_predictions": ".api",
    "filterpredictions": ".api",
    "create_labeled_video": ".api",
    "extract_outlier_frames": ".refinement",
    "merge_datasets": ".refinement",
    "export_model": ".export",
    "make_demo_project": ".demo",
    "set_tensorflow_options": "._tf",
    # DeepLabCut 3's deeplabcut.Engine (posekit has one engine; see dlc_names)
    "Engine": ".dlc_names",
    # DeepLabCut's names (posekit.engine.dlc_verbs)
    "create_new_project": ".dlc_verbs",
    "create_multianimaltraining_dataset": ".dlc_verbs",
    "convert_detections2tracklets": ".multianimal.dlc_steps",
    "stitch_tracklets": ".multianimal.dlc_steps",
    "create_video_with_all_detections": ".multianimal.dlc_steps",
    "add_new_videos": ".dlc_verbs",
    "load_demo_data": ".dlc_verbs",
    "label_frames": ".dlc_verbs",
    "refine_labels": ".dlc_verbs",
    "refine_tracklets": ".dlc_verbs",
    "convertcsv2h5": ".dlc_verbs",
    "comparevideolistsanddatafolders": ".dlc_verbs",
    "dropannotationfileentriesduetodeletedimages": ".dlc_verbs",
    "dropimagesduetolackofannotation": ".dlc_verbs",
    "dropduplicatesinannotatinfiles": ".dlc_verbs",
    "dropunlabeledframes": ".dlc_verbs",
    "plot_trajectories": ".dlc_verbs",
    "analyzeskeleton": ".dlc_verbs",
    "scorer_name": ".dlc_verbs",
    "analyze_videos_converth5_to_csv": ".dlc_verbs",
    "analyze_videos_converth5_to_nwb": ".dlc_verbs",
    "analyze_time_lapse_frames": ".dlc_verbs",
}

__all__ = ["__version__", "logger", "show_log", *_LAZY]

#: The handler :func:`show_log` added (``None``: none).
_SHOWN: logging.Handler | None = None


def show_log(level: int | str | None = "INFO") -> None:
    """Show posekit's log lines in a script or notebook, as ``posekit -v`` does.

    DeepLabCut prints what each step does; posekit logs it (logger ``posekit``), and
    Python shows only the warnings of a logger nobody configured. This shows
    posekit's lines from ``level`` on, on stderr (``INFO posekit.engine.training:
    …``). When logging is configured already (``logging.basicConfig``), only the
    level is set, and its handlers show the lines. Calling it again changes the
    level; ``show_log(None)`` undoes it.

    Parameters
    ----------
    level
        ``"INFO"`` (what each step chose and did), ``"DEBUG"``, ``"WARNING"``…;
        ``None``: back to Python's default (warnings only, no handler of posekit's).
    """
    global _SHOWN
    if level is None:
        logger.setLevel(logging.NOTSET)
        if _SHOWN is not None:
            logger.removeHandler(_SHOWN)
            _SHOWN = None
        return
    logger.setLevel(level)
    if _SHOWN is None and not logging.getLogger().handlers:
        _SHOWN = logging.StreamHandler()
        _SHOWN.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(_SHOWN)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'posekit.engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
