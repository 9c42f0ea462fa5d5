"""The labelling app: pick frames, label them, check the labels — one widget.

``notebooks/label.ipynb`` displays a :class:`LabelApp`; the same object works in
JupyterLab. Three tabs share one project:

1. **Pick frames** (:class:`~posekit.widgets.frame_picker.FramePicker`),
2. **Label** (:class:`~posekit.widgets.labeler.Labeler`),
3. **Check labels** (:class:`~posekit.widgets.check_labels.CheckLabelsGallery`),

wired so that extracted frames appear in the labeller, and "Label this frame" in the
picker or a click in the gallery opens that frame in the labeller. Another project
can be opened from the path box at the top.
"""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as W

from ..engine.project import Project, ProjectError, as_project
from ._bokeh import LiveVBox, ensure_bokehjs
from .app import error_message
from .check_labels import CheckLabelsGallery
from .data_root import DataRootError, check_in_data_root
from .frame_picker import FramePicker
from .labeler import Labeler

__all__ = ["LabelApp"]

PICK, LABEL, CHECK = 0, 1, 2


class LabelApp:
    """Frame picker, labeller and check-labels gallery on one project.

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    labeler_options
        Keyword arguments for :class:`~posekit.widgets.labeler.Labeler`
        (e.g. ``display_width``).
    threaded
        Run frame extraction in a background thread (tests: ``False``).

    Attributes
    ----------
    picker, labeler, gallery
        The three components (rebuilt when another project is opened).
    tabs
        The ``ipywidgets.Tab`` holding them.
    widget
        The app (display this; displaying the app object works too).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        labeler_options: dict[str, Any] | None = None,
        threaded: bool = True,
    ) -> None:
        ensure_bokehjs()
        self.labeler_options = dict(labeler_options or {})
        self.threaded = threaded
        self.path_box = W.Text(
            description="Project",
            placeholder="folder with config.yaml",
            layout=W.Layout(width="640px"),
        )
        self.open_button = W.Button(description="Open", icon="folder-open")
        self.open_button.on_click(lambda _: self.open_typed())
        self.project_info = W.HTML()
        self.tabs = W.Tab()
        self.widget = LiveVBox(
            [
                W.HTML("<h3 style='margin:4px 0'>posekit · label frames</h3>"),
                W.HBox([self.path_box, self.open_button]),
                self.project_info,
                self.tabs,
            ]
        )
        self.widget.add_class("posekit-label-app")
        self.open(project)

    def open_typed(self) -> None:
        """Open the project typed in the box; one outside the data root is refused.

        The box is the app's: its path must lie inside the data root
        (:mod:`posekit.widgets.data_root`), as in the home app; :meth:`open` (the
        Python API) is not restricted.
        """
        try:
            folder = check_in_data_root(self.path_box.value.strip())
        except DataRootError as err:
            self.project_info.value = (
                f"<span style='color:#b00020'>{html.escape(error_message(err))}</span>"
            )
            return
        self.open(folder)

    def open(self, project: Project | str | os.PathLike) -> None:
        """Open a project (its folder or ``config.yaml``) in all three tabs."""
        try:
            proj = as_project(project)
        except ProjectError as err:
            self.project_info.value = (
                f"<span style='color:#b00020'>{html.escape(error_message(err))}</span>"
            )
            return
        self.project = proj
        self.path_box.value = str(proj.path)
        self.picker = FramePicker(proj, threaded=self.threaded)
        self.labeler = Labeler(proj, load_bokehjs=False, **self.labeler_options)
        self.gallery = CheckLabelsGallery(proj)
        self.picker.model.listeners.append(lambda _stem: self.labeler.refresh_frames())
        self.picker.label_requested.append(self.label_frame)
        self.gallery.selected.append(self.label_frame)
        self.tabs.children = [
            self.picker.widget,
            self.labeler.widget,
            self.gallery.widget,
        ]
        for i, title in enumerate(("1 · Pick frames", "2 · Label", "3 · Check labels")):
            self.tabs.set_title(i, title)
        self.tabs.selected_index = LABEL if self.labeler.frames else PICK
        self.project_info.value = (
            f"<span class='project-info'><b>{html.escape(proj.task)}</b> · scorer "
            f"{html.escape(proj.scorer)} · {len(proj.bodyparts)} bodyparts · "
            f"{len(proj.source_videos())} video(s) · labels saved to "
            f"labeled-data/&lt;video&gt;/CollectedData_{html.escape(proj.scorer)}.h5 "
            "after every click</span>"
        )

    def label_frame(self, video: str, image_name: str) -> None:
        """Show ``labeled-data/<video>/<image_name>`` in the labeller tab."""
        lab = self.labeler
        if lab.store is None or lab.store.video != video:
            lab.refresh_frames()
            lab.set_video(video)
        lab.goto(f"labeled-data/{video}/{image_name}")
        self.tabs.selected_index = LABEL
        lab.focus()  # the button pressed is hidden now: keys go to the labeller

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
