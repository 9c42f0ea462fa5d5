"""Home app: open or create a project, see where it stands, go to each workflow step.

:func:`project_status` reads what a project holds (videos, labelled frames, training
set, snapshots, prediction files) from disk without loading TensorFlow;
:class:`HomeApp` shows it with links to the workflow apps
(:func:`posekit.widgets.app.app_links`), and boxes to open or create another project
and to add videos to this one. The boxes accept only folders and videos inside the data
root (:mod:`posekit.widgets.data_root`); anything else is refused with a message in the
page. After a project is opened or created the page address gets its
``?project=…`` (:func:`address_script`), so that a reload or the browser's Back
button shows that project again, not the one the page started with.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..engine.model_folder import ModelFolder
from ..engine.project import (
    Project,
    as_project,
    create_project,
    list_videos,
    load_project,
)
from .app import app_links, error_message, live_region
from .data_root import check_in_data_root, data_roots

__all__ = ["ProjectStatus", "project_status", "address_script", "HomeApp"]

logger = logging.getLogger("posekit.widgets")


@dataclass(frozen=True)
class ProjectStatus:
    """What a project holds on disk.

    ``videos`` counts the videos to analyse: the labelled videos made from them
    (``*_labeled.mp4``) are ``labeled_videos``.
    """

    videos: int
    labelled_frames: int
    training_set: bool
    snapshots: int
    predictions: int
    labeled_videos: int = 0

    def next_step(self) -> str:
        """Say the workflow step to do next, in words."""
        if not self.videos:
            return "add videos to the project (Add videos to this project, below)"
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

    every = project.videos()
    videos = project.source_videos()  # not the labelled videos made from them
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
    # ModelFolder lists real snapshots only (not TFLite side files such as
    # snapshot-161-480x640-b1-int8.json), in every iteration and shuffle
    snapshots = (
        sum(len(ModelFolder(train).snapshots()) for train in models.glob("**/train"))
        if models.is_dir()
        else 0
    )
    predictions = sum(1 for v in videos if find_predictions(v, project=project))
    return ProjectStatus(
        len(videos),
        labelled,
        training_set,
        snapshots,
        predictions,
        labeled_videos=len(every) - len(videos),
    )


def _videos_in_root(text: str) -> list[Path]:
    """Return the videos a box lists (one video or folder per line), data-root checked.

    A folder gives its videos, each checked too: a link in the folder must not lead
    out of the root. Used by the create form and the *Add videos* box.

    Raises
    ------
    posekit.widgets.data_root.DataRootError
        If a path, or a video a folder holds, lies outside the data root.
    """
    lines = [v.strip() for v in text.splitlines() if v.strip()]
    given = [check_in_data_root(v, what="the video") for v in lines]
    return [check_in_data_root(v, what="the video") for v in list_videos(given)]


def address_script(project: Project | str | os.PathLike) -> str:
    """JavaScript that puts ``?project=<folder>`` into the page address.

    The other parameters of the address (``token``) stay; the history entry is
    replaced, not added, so that a reload and the browser's Back button open the
    page on ``project``.

    Parameters
    ----------
    project
        The project (or its folder).

    Returns
    -------
    str
        The script.

    Examples
    --------
    >>> "history.replaceState" in address_script("/data/p</script>")
    True
    >>> "</script>" in address_script("/data/p</script>")
    False
    """
    path = str(getattr(project, "path", project))
    # a JSON string is a JS string; < > & escaped so that no markup can close a tag
    literal = (
        json.dumps(path)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        "(function () {"
        " var url = new URL(window.location.href);"
        f" url.searchParams.set('project', {literal});"
        " window.history.replaceState(window.history.state, '', url.toString());"
        " })();"
    )


class HomeApp:
    """The home app's widget (``.widget``): project summary, app links, open/create.

    Parameters
    ----------
    project
        The project shown first.
    notebook_dir
        Folder of the app notebooks (default: the working directory).

    Attributes
    ----------
    message
        What the last button did, or why it did nothing (an error in red).
    address
        Output that runs :func:`address_script` once a project was opened or
        created; ``address_project`` is the folder it put into the address.
    """

    #: Sections of the accordion.
    OPEN, CREATE, ADD = 0, 1, 2

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        notebook_dir: str | os.PathLike | None = None,
    ) -> None:
        project = as_project(project)
        self.project = project
        self.notebook_dir = notebook_dir
        self.address_project: str | None = None
        style = {"description_width": "initial"}
        # the create form's labels in one column, wide enough for "experimenter"
        form = {"description_width": "100px"}
        wide = w.Layout(width="560px")
        self.summary = w.HTML()
        self.links = w.HTML()
        self.message = live_region(w.HTML())  # announced (QA s15 #8)
        self.address = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
        roots = data_roots()
        self.path_box = w.Text(
            description="Open a project",
            placeholder=f"folder with config.yaml, in {roots[0]}",
            style=style, layout=wide,
        )  # fmt: skip
        self.open_button = w.Button(description="Open", icon="folder-open")
        self.open_button.on_click(lambda _: self._guard(self.open, self.path_box.value))
        self.task = w.Text(
            description="task", placeholder="openfield", style=form, layout=wide
        )
        self.experimenter = w.Text(
            description="experimenter", placeholder="me", style=form, layout=wide
        )
        self.folder = w.Text(
            description="in folder", value=str(roots[0]), style=form, layout=wide
        )
        self.video_paths = w.Textarea(
            description="videos", placeholder="one video path per line",
            style=form, layout=wide,
        )  # fmt: skip
        self.bodyparts = w.Text(
            description="bodyparts", placeholder="snout, leftear, rightear, tailbase",
            style=form, layout=wide,
        )  # fmt: skip
        self.individuals = w.Text(
            description="animals",
            placeholder="several animals: mouse1, mouse2 (empty: one animal)",
            style=form,
            layout=wide,
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
        self.add_paths = w.Textarea(
            description="videos",
            placeholder=f"one video (or folder of videos) per line, in {roots[0]}",
            style=form,
            layout=wide,
        )
        self.add_button = w.Button(description="Add videos", icon="film")
        self.add_button.on_click(lambda _: self._guard(self.add_videos))
        add_box = w.VBox(
            [
                w.HTML(
                    "<small>The videos are linked into the project's "
                    "<code>videos/</code> folder (copied where a link is not "
                    "possible), as when a project is created.</small>"
                ),
                self.add_paths,
                self.add_button,
            ]
        )
        self.sections = w.Accordion(
            [w.HBox([self.path_box, self.open_button]), create_box, add_box],
            titles=(
                "Open another project",
                "Create a new project",
                "Add videos to this project",
            ),
            selected_index=None,
        )
        allowed = ", ".join(html.escape(str(r)) for r in roots)
        self.root_note = w.HTML(
            f"<small class='posekit-data-root'>The apps open and create projects in: "
            f"{allowed}</small>"
        )
        self.widget = w.VBox(
            [
                self.summary,
                self.links,
                self.message,
                self.sections,
                self.root_note,
                self.address,
            ],
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
                f'<div class="posekit-home-error" role="alert" style="color:#cf222e">'
                f"{html.escape(error_message(err))}</div>"
            )

    def _say(self, text: str) -> None:
        """Show what a button did (HTML)."""
        self.message.value = (
            f'<div class="posekit-home-done" style="color:#1a7f37">{text}</div>'
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
        self.set_address(project)
        self._say(f"Opened the project <code>{html.escape(str(project.path))}</code>.")
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
        videos = _videos_in_root(self.video_paths.value)
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
        self.set_address(project)
        self._say(
            f"Project created in <code>{html.escape(str(project.path))}</code> "
            f"({len(project.source_videos())} video(s)). Next: "
            f"{html.escape(project_status(project).next_step())}."
        )
        return project

    def add_videos(self) -> list[Path]:
        """Add the videos typed in the *Add videos* box to the shown project.

        Each line is a video or a folder of videos inside the data root. The videos
        are linked into the project's ``videos/`` (copied where a link is not
        possible), as the create form does, and listed in ``config.yaml``
        (:meth:`~posekit.engine.project.Project.add_videos`).

        Returns
        -------
        list of Path
            The videos as the project now holds them.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If a video (or a folder, or a video a folder links to) lies outside the
            data root; nothing is added then.
        ValueError
            If the box is empty, or a video is missing or does not decode
            (``ProjectError``); nothing is added then.
        """
        videos = _videos_in_root(self.add_paths.value)
        if not videos:
            raise ValueError(
                "Type the path of a video (or of a folder of videos), one per line."
            )
        project = self.project
        had = {v.name for v in project.videos()}
        added = project.add_videos(videos)
        project.save()
        new = [v.name for v in added if v.name not in had]
        known = [v.name for v in added if v.name in had]
        self.add_paths.value = ""
        self.show(project)
        text = (
            f"Added {len(new)} video(s) to the project: {html.escape(', '.join(new))}."
            if new
            else "No new video added."
        )
        if known:
            text += (
                " Already in the project (a video of that name is in its videos/ "
                f"folder, so it was not added again): {html.escape(', '.join(known))}."
            )
        if new:
            text += " Next: pick frames to label in the Label app."
        self._say(text)
        return added

    def set_address(self, project: Project) -> None:
        """Put ``?project=<folder>`` into the page address (see :func:`address_script`)."""
        self.address_project = str(project.path)
        self.address.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "application/javascript": address_script(project),
                    "text/plain": "",
                },
                "metadata": {},
            },
        )

    def show(self, project: Project) -> None:
        """Summary and links for ``project``."""
        self.project = project
        st = project_status(project)
        self.summary.value = (
            f"<h3 style='margin:4px 0'>Project <code>{html.escape(project.task)}</code>"
            f"</h3><div class='posekit-project-path'><small>{html.escape(str(project.path))}"
            f"</small></div><ul class='posekit-status'>"
            f"<li>{st.videos} video(s)"
            + (
                f" (and {st.labeled_videos} labelled video(s) made from them)"
                if st.labeled_videos
                else ""
            )
            + "; bodyparts: "
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
        if not st.videos:
            self.sections.selected_index = self.ADD  # what to do next, opened
