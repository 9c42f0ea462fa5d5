"""posekit.widgets: ipywidgets + Bokeh components on top of :mod:`posekit.engine`.

Each widget wraps plain-Python state (tests drive it without a browser); display its
``.widget`` (or the object itself) in JupyterLab or a Voila app.
"""

from __future__ import annotations

from posekit.widgets.analysis_panel import AnalysisModel, AnalysisPanel
from posekit.widgets.app import resolve_project
from posekit.widgets.behavior_app import BehaviorApp, BehaviorModel
from posekit.widgets.check_labels import CheckLabelsGallery
from posekit.widgets.ethogram_annotator import EthogramAnnotator
from posekit.widgets.frame_picker import FramePicker, FramePickerModel
from posekit.widgets.home import HomeApp
from posekit.widgets.label_app import LabelApp
from posekit.widgets.labeler import Labeler
from posekit.widgets.roi_editor import ROIEditor
from posekit.widgets.training_dashboard import TrainingDashboard, TrainingModel
from posekit.widgets.trajectory_viewer import TrajectoryModel, TrajectoryViewer

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
    "ROIEditor",
    "TrainingDashboard",
    "TrainingModel",
    "TrajectoryModel",
    "TrajectoryViewer",
    "resolve_project",
]
