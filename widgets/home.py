"""Home app: open or create a project, see where it stands, go to each workflow step.

:func:`project_status` reads what a project holds (videos, labelled frames, training
set, snapshots, prediction files) from disk without loading TensorFlow;
:class:`HomeApp` shows it with links to the workflow apps
(:func:`posekit.widgets.app.app_links`) and boxes to open or create another project.
The boxes accept only folders and videos inside the data root
(:mod:`posekit.widgets.data_root`); anything else is refused with a message in the page.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from ..engine.project import Project, as_project, create_project, load_project
from .app import app_links
from .data_root import check_in_data_root, data_roots

__all__ = ["ProjectStatus", "project_status", "HomeApp"]

logger = logging.getLogger("posekit.widgets")


@dataclass(frozen=True)
class ProjectStatus:
    """What a project holds on disk."""

    videos: int
    labelled_frames: int
    training_set: bool
    snapshots: int
    predictions: int

    def next_step(self) -> str:
        """Say the workflow step to do next, in words."""
        if not self.videos:
            return "add videos to the project"
        if not self.labelled_frames:
            return "label some frames (Label)"
        if not self.snapshots:
            return "train a network (Train)"
        if not self.predictions:
            return "analyse the videos (Analyze)"
        return "look at the trajectories and the behaviour"


def project_status(project: Project) -> ProjectStatus:
    """Count a project's videos, labelled frames, snapshots and prediction files.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    ProjectStatus
    """
    from ..engine.io.dlc import LabelError, read_labels
    from ..engine.postprocessing import find_predictions

    videos = project.videos()
    labelled = 0
    for stem in project.labeled_videos():
        h5 = project.labels_path(stem)
        for path in (h5, h5.with_suffix(".csv")):
            if path.is_file():
                with contextlib.suppress(LabelError, OSError, ValueError):
                    labelled += int(read_labels(path).notna().any(axis=1).sum())
                break
    training_set = any(project.training_set_dir().glob("Documentation_data-*.pickle"))
    models = project.path / "dlc-models"
    snapshots = len(list(models.glob("**/snapshot-*.json"))) if models.is_dir() else 0
    predictions = sum(1 for v in videos if find_predictions(v))
    return ProjectStatus(len(videos), labelled, training_set, snapshots, predictions)


class HomeApp:
    """The home app's widget (``.widget``): project summary, app links, open/create.

    Parameters
    ----------
    project
        The project shown first.
    notebook_dir
        Folder of the app notebooks (default: the working directory).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        notebook_dir: str | os.PathLike | None = None,
    ) -> None:
        project = as_project(project)
        self.project = project
        self.notebook_dir = notebook_dir
        style = {"description_width": "initial"}
        self.summary = w.HTML()
        self.links = w.HTML()
        self.message = w.HTML()
        roots = data_roots()
        self.path_box = w.Text(
            description="Open a project",
            placeholder=f"folder with config.yaml, in {roots[0]}",
            style=style, layout=w.Layout(width="560px"),
        )  # fmt: skip
        self.open_button = w.Button(description="Open", icon="folder-open")
        self.open_button.on_click(lambda _: self._guard(self.open, self.path_box.value))
        self.task = w.Text(description="task", placeholder="openfield")
        self.experimenter = w.Text(description="experimenter", placeholder="me")
        self.folder = w.Text(
            description="in folder",
            value=str(roots[0]),
            layout=w.Layout(width="560px"),
        )
        self.video_paths = w.Textarea(
            description="videos", placeholder="one video path per line",
            layout=w.Layout(width="560px"),
        )  # fmt: skip
        self.bodyparts = w.Text(
            description="bodyparts", placeholder="snout, leftear, rightear, tailbase",
            layout=w.Layout(width="560px"),
        )  # fmt: skip
        self.individuals = w.Text(
            description="animals",
            placeholder="several animals: mouse1, mouse2 (empty: one animal)",
            layout=w.Layout(width="560px"),
        )
        self.create_button = w.Button(description="Create project", icon="plus")
        self.create_button.on_click(lambda _: self._guard(self.create))
        create_box = w.VBox(
            [
                self.task,
                self.experimenter,
                self.folder,
                self.video_paths,
                self.bodyparts,
                self.individuals,
                self.create_button,
            ]
        )
        more = w.Accordion(
            [w.HBox([self.path_box, self.open_button]), create_box],
            titles=("Open another project", "Create a new project"),
            selected_index=None,
        )
        allowed = ", ".join(html.escape(str(r)) for r in roots)
        self.root_note = w.HTML(
            f"<small class='posekit-data-root'>The apps open and create projects in: "
            f"{allowed}</small>"
        )
        self.widget = w.VBox(
            [self.summary, self.links, self.message, more, self.root_note],
            layout=w.Layout(max_width="900px"),
        )
        self.widget.add_class("posekit-home")
        self.show(project)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _guard(self, fn: Any, *args: Any) -> None:
        self.message.value = ""
        try:
            fn(*args)
        except Exception as err:  # noqa: BLE001 - shown in the widget
            logger.info("home app: %s", err, exc_info=True)
            self.message.value = (
                f'<div class="posekit-home-error" style="color:#cf222e">'
                f"<b>{type(err).__name__}</b>: {html.escape(str(err))}</div>"
            )

    def open(self, path: str | os.PathLike) -> Project:
        """Open the project at ``path`` and point every link at it.

        Parameters
        ----------
        path
            The project folder (or its ``config.yaml``), inside the data root.

        Returns
        -------
        Project
            The project now shown.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If ``path`` is outside the data root.
        posekit.engine.project.ProjectError
            If it holds no valid ``config.yaml``.
        """
        if not str(path).strip():
            raise ValueError("Type the folder of a project (the one with config.yaml).")
        project = load_project(check_in_data_root(str(path).strip()))
        self.show(project)
        return project

    def create(self) -> Project:
        """Create a project from the form and show it.

        Names in the *animals* box make a multi-animal project (DeepLabCut's
        ``multianimal=True``) with those individuals.

        Returns
        -------
        Project
            The new project.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If the folder or a video lies outside the data root.
        ValueError
            If no bodyparts are listed (or :func:`create_project` refuses the form).
        """
        parts = [b.strip() for b in self.bodyparts.value.split(",") if b.strip()]
        videos = [
            check_in_data_root(v.strip(), what="the video")
            for v in self.video_paths.value.splitlines()
            if v.strip()
        ]
        if not parts:
            raise ValueError("List the bodyparts, separated by commas.")
        folder = check_in_data_root(
            self.folder.value.strip() or data_roots()[0], what="the folder"
        )
        animals = [a.strip() for a in self.individuals.value.split(",") if a.strip()]
        project = create_project(
            self.task.value.strip(),
            self.experimenter.value.strip(),
            videos,
            working_directory=folder,
            bodyparts=parts,
            individuals=animals or None,
        )
        self.show(project)
        return project

    def show(self, project: Project) -> None:
        """Summary and links for ``project``."""
        self.project = project
        st = project_status(project)
        self.summary.value = (
            f"<h3 style='margin:4px 0'>Project <code>{html.escape(project.task)}</code>"
            f"</h3><div class='posekit-project-path'><small>{html.escape(str(project.path))}"
            f"</small></div><ul class='posekit-status'>"
            f"<li>{st.videos} video(s); bodyparts: "
            f"{html.escape(', '.join(project.bodyparts))}</li>"
            f"<li>{st.labelled_frames} labelled frame(s)</li>"
            f"<li>training set: {'yes' if st.training_set else 'not yet'}; "
            f"{st.snapshots} snapshot(s)</li>"
            f"<li>{st.predictions} analysed video(s)</li></ul>"
            f"<div>Next: <b>{html.escape(st.next_step())}</b></div>"
        )
        self.links.value = "<h4>Workflow</h4>" + app_links(
            project, notebook_dir=self.notebook_dir
        )
