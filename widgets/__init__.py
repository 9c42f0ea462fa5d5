"""posekit.widgets: ipywidgets + Bokeh components on top of :mod:`posekit.engine`.

Each widget wraps plain-Python state (tests drive it without a browser); display its
``.widget`` (or the object itself) in JupyterLab or a Voila app.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it, imported on first use: importing posekit.widgets (or
# one of its modules, such as the app server's posekit.widgets.serve) then costs
# nothing, and an app's kernel loads only the widgets it shows.
_LAZY = {
    "AnalysisModel": ".analysis_panel",
    "AnalysisPanel": ".analysis_panel",
    "BehaviorApp": ".behavior_app",
    "BehaviorModel": ".behavior_app",
    "CheckLabelsGallery": ".check_labels",
    "EthogramAnnotator": ".ethogram_annotator",
    "FramePicker": ".frame_picker",
    "FramePickerModel": ".frame_picker",
    "HomeApp": ".home",
    "LabelApp": ".label_app",
    "Labeler": ".labeler",
    "LabelerModel": ".labeler_model",
    "ROIEditor": ".roi_editor",
    "RunComparison": ".run_comparison",
    "RunComparisonModel": ".run_comparison_model",
    "TrainingDashboard": ".training_dashboard",
    "TrainingModel": ".training_model",
    "TrajectoryModel": ".trajectory_model",
    "TrajectoryViewer": ".trajectory_viewer",
    "resolve_project": ".app",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'posekit.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
