"""posekit.widgets: ipywidgets + Bokeh components on top of :mod:`posekit.engine`.

Each widget wraps plain-Python state (tests drive it without a browser); display its
``.widget`` (or the object itself) in JupyterLab or a Voila app.
"""

from __future__ import annotations

from .analysis_panel import AnalysisModel, AnalysisPanel
from .app import resolve_project
from .behavior_app import BehaviorApp, BehaviorModel
from .check_labels import CheckLabelsGallery
from .ethogram_annotator import EthogramAnnotator
from .frame_picker import FramePicker, FramePickerModel
from .home import HomeApp
from .label_app import LabelApp
from .labeler import Labeler
from .labeler_model import LabelerModel
from .roi_editor import ROIEditor
from .training_dashboard import TrainingDashboard
from .training_model import TrainingModel
from .trajectory_model import TrajectoryModel
from .trajectory_viewer import TrajectoryViewer

__all__ = [
    "AnalysisModel",
    "AnalysisPanel",
    "BehaviorApp",
    "BehaviorModel",
    "CheckLabelsGallery",
    "EthogramAnnotator",
    "FramePicker",
    "FramePickerModel",
    "HomeApp",
    "LabelApp",
    "Labeler",
    "LabelerModel",
    "ROIEditor",
    "TrainingDashboard",
    "TrainingModel",
    "TrajectoryModel",
    "TrajectoryViewer",
    "resolve_project",
]
