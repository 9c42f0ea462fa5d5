"""Multi-animal pose: part-affinity fields, assembly, tracking, tracklet stitching.

DeepLabCut's multi-animal mode in NumPy/SciPy and the same Keras model family:

- :mod:`.layout`: individuals, multi-animal and unique bodyparts, DLC's four-level
  columns (``scorer/individuals/bodyparts/coords``, unique parts under ``single``);
- :mod:`.dataset`: training sets of multi-animal projects;
- :mod:`.graph`: the part-affinity graph (all pairs, or a data-driven subset);
- :mod:`.targets`, :mod:`.augment`: training targets (score maps, location refinement,
  part-affinity fields) and per-individual augmentation;
- :mod:`.peaks`, :mod:`.assembly`: peaks of the score maps and their assembly into
  animals (PAF line integrals, optimal matching);
- :mod:`.tracking`, :mod:`.stitching`: frame-to-frame tracklets and their stitching
  into the requested number of animals over the whole video;
- :mod:`.outputs`: DeepLabCut's ``_full.pickle``, ``_assemblies.pickle``,
  ``_el.pickle`` and ``_el.h5`` (key ``tracks``);
- :mod:`.metrics`: OKS mAP/mAR, RMSE after matching, identity switches, IDF1;
- :mod:`.training`, :mod:`.inference`, :mod:`.api`: training, prediction and the
  project verbs;
- :mod:`.labels`, :mod:`.identity`, :mod:`.demo`: labels of several animals, identity
  corrections, the synthetic multi-animal demo.

Names load lazily: importing this package loads no TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SINGLE": ".layout",
    "MultiAnimalLayout": ".layout",
    "multianimal_frame": ".layout",
    "frame_to_arrays": ".layout",
    "MultiAnimalTrainingSet": ".dataset",
    "merge_multianimal_labels": ".dataset",
    "load_multianimal_training_set": ".dataset",
    "paf_graph": ".graph",
    "data_driven_edges": ".graph",
    "MultiAnimalTargets": ".targets",
    "make_multianimal_targets": ".targets",
    "make_paf": ".targets",
    "MultiAnimalAugmenter": ".augment",
    "FrameDetections": ".peaks",
    "find_peaks": ".peaks",
    "AssemblyConfig": ".assembly",
    "Assemblies": ".assembly",
    "Assembler": ".assembly",
    "paf_costs": ".assembly",
    "TrackingConfig": ".tracking",
    "Tracklet": ".tracking",
    "track_animals": ".tracking",
    "StitchConfig": ".stitching",
    "stitch_tracklets": ".stitching",
    "assembly_metrics": ".metrics",
    "identity_metrics": ".metrics",
    "MultiAnimalConfig": ".training",
    "MultiAnimalTrainer": ".training",
    "MultiAnimalPredictor": ".inference",
    "predict_video_detections": ".inference",
    "train_multianimal": ".api",
    "evaluate_multianimal": ".api",
    "analyze_multianimal_videos": ".api",
    "evaluate_tracks": ".api",
    "make_multianimal_demo": ".demo",
    "simulate_social_session": ".demo",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(
        f"module 'posekit.engine.multianimal' has no attribute {name!r}"
    )


def __dir__() -> list[str]:
    return sorted(__all__)
