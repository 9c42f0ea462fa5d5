"""posekit.engine.behavior: from keypoints to behaviour.

Modules by concept:

- :mod:`~posekit.engine.behavior.filters`: cleaning and smoothing (``filter_*``,
  :func:`filter_poses`), with a processing log in ``attrs["log"]``;
- :mod:`~posekit.engine.behavior.kinematics`: velocity, speed, path, heading, angles,
  distances, egocentric frame (``compute_*``);
- :mod:`~posekit.engine.behavior.social`: several animals: distances, contacts,
  approaches, following;
- :mod:`~posekit.engine.behavior.calibration`: pixels → mm, frames → seconds;
- :mod:`~posekit.engine.behavior.roi`: ROIs, GeoJSON, occupancy, zone events and line
  crossings;
- :mod:`~posekit.engine.behavior.features`: windowed features for learning;
- :mod:`~posekit.engine.behavior.classify`: supervised classifier and block CV;
- :mod:`~posekit.engine.behavior.cluster`: unsupervised motifs;
- :mod:`~posekit.engine.behavior.ethogram`: bouts, transitions, summaries;
- :mod:`~posekit.engine.behavior.export`: CSV/Excel tables and PNG/SVG figures
  (matplotlib, imported lazily);
- :mod:`~posekit.engine.behavior.annotations`: behaviour labels files (find, read,
  write);
- :mod:`~posekit.engine.behavior.tables`: result tables over sessions (movement, ROI
  visits, bouts, group summaries);
- :mod:`~posekit.engine.behavior.results`: a study's figures and its results folder
  (tables, figures, ROIs, settings);
- :mod:`~posekit.engine.behavior.session`: :class:`~posekit.engine.behavior.session.BehaviorModel`, a whole analysis
  (sessions and groups, cleaning, calibration, ROIs, classification, export) with
  files in and tables or files out.

All functions take the movement-schema poses ``Dataset`` (or its ``position``
``DataArray``) from :func:`posekit.engine.io.load_poses` /
:func:`posekit.engine.poses.from_numpy`.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> submodule that defines it; imported on first access, so that e.g. the
# filters do not pull in scikit-learn or matplotlib
_LAZY = {
    "FilterConfig": "filters",
    "SMOOTHING_METHODS": "filters",
    "filter_poses": "filters",
    "filter_by_confidence": "filters",
    "filter_jumps": "filters",
    "interpolate_gaps": "filters",
    "filter_median": "filters",
    "filter_savgol": "filters",
    "filter_butterworth": "filters",
    "filter_kalman": "filters",
    "smooth_kalman": "filters",
    "get_log": "filters",
    "compute_displacement": "kinematics",
    "compute_velocity": "kinematics",
    "compute_acceleration": "kinematics",
    "compute_speed": "kinematics",
    "compute_distance_travelled": "kinematics",
    "compute_path_length": "kinematics",
    "compute_straightness": "kinematics",
    "compute_centroid": "kinematics",
    "compute_heading": "kinematics",
    "compute_head_direction": "kinematics",
    "compute_angular_velocity": "kinematics",
    "compute_joint_angle": "kinematics",
    "compute_keypoint_distances": "kinematics",
    "compute_interindividual_distances": "kinematics",
    "default_contact_distance": "social",
    "contact_bouts": "social",
    "approach_events": "social",
    "social_summary": "social",
    "following_bouts": "social",
    "EgocentricTransform": "kinematics",
    "Calibration": "calibration",
    "pixels_to_mm": "calibration",
    "ROI": "roi",
    "RectangleROI": "roi",
    "CircleROI": "roi",
    "PolygonROI": "roi",
    "LineROI": "roi",
    "save_rois": "roi",
    "load_rois": "roi",
    "compute_roi_occupancy": "roi",
    "roi_bouts": "roi",
    "roi_summary": "roi",
    "compute_line_crossings": "roi",
    "line_crossing_summary": "roi",
    "compute_zone_sequence": "roi",
    "zone_transitions": "roi",
    "compute_occupancy_heatmap": "roi",
    "FEATURE_FAMILIES": "features",
    "register_feature": "features",
    "rolling_mean_std": "features",
    "compute_base_features": "features",
    "compute_window_features": "features",
    "iter_window_features": "features",
    "feature_names": "features",
    "BehaviorClassifier": "classify",
    "BlockKFold": "classify",
    "BehaviorCVResult": "classify",
    "cross_validate_behavior": "classify",
    "behavior_permutation_importance": "classify",
    "BehaviorClusterer": "cluster",
    "motif_examples": "cluster",
    "labels_to_bouts": "ethogram",
    "bouts_to_labels": "ethogram",
    "remove_short_bouts": "ethogram",
    "compute_ethogram": "ethogram",
    "transition_matrix": "ethogram",
    "bout_summary": "ethogram",
    "group_summary": "ethogram",
    "save_table": "export",
    "save_table_chunks": "export",
    "save_tables": "export",
    "save_figure": "export",
    "plot_trajectory": "export",
    "plot_occupancy_heatmap": "export",
    "plot_speed": "export",
    "plot_ethogram": "export",
    "labels_file_for": "annotations",
    "read_labels": "annotations",
    "read_behavior_names": "annotations",
    "write_labels": "annotations",
    "TABLE_FILES": "tables",
    "kinematics_table": "tables",
    "roi_table": "tables",
    "roi_bouts_table": "tables",
    "zone_transitions_table": "tables",
    "line_crossings_table": "tables",
    "behavior_bouts_table": "tables",
    "behavior_summary_table": "tables",
    "group_summary_table": "tables",
    "behavior_transitions_table": "tables",
    "FIGURE_FORMATS": "results",
    "session_figures": "results",
    "write_results": "results",
    "BehaviorModel": "session",
    "Session": "session",
    "Track": "session",
    "TRACKING_SUFFIXES": "session",
    "default_input": "session",
    "find_tracking_files": "session",
    "read_sessions_table": "session",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"posekit.engine.behavior.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'posekit.engine.behavior' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
