"""The refinement app: outlier frames, corrections, merge and retraining — one widget.

``notebooks/refine.ipynb`` displays a :class:`RefineApp` on a project; the same object
works in JupyterLab. Three tabs:

1. **Find outliers**: pick an analysed video and the criteria, score every frame (a
   timeline of the outlier scores, 1 = the threshold, with the frames chosen
   marked), extract them (``labeled-data/<video>/img<index>.png`` with the network's
   guesses as ``machinelabels-iter<N>.h5``);
2. **Refine**: the labeller on those frames, pre-filled with the guesses (hollow,
   coloured by likelihood): drag the wrong ones, accept the frame;
3. **Merge & retrain**: :func:`~posekit.engine.refinement.merge_datasets` (the next
   iteration, the old test frames kept) and the training dashboard, which starts from
   the previous iteration's model.

The logic is :class:`~posekit.widgets.refine_model.RefineModel`'s (headless).
"""

from __future__ import annotations

import html
import math
import os
import time
from typing import Any

import ipywidgets as W
import numpy as np
from bokeh.models import ColumnDataSource, Range1d, Span
from bokeh.plotting import figure

from ..engine.project import Project
from ..engine.refinement import CRITERIA
from ._bokeh import LiveBokehModel, LiveVBox, ensure_bokehjs
from .app import error_message, preload_tensorflow
from .labeler import Labeler
from .refine_model import RefineModel

__all__ = ["RefineApp"]

FIND, REFINE, MERGE = 0, 1, 2
_CRITERION_COLORS = {
    "jump": "#1f77b4",
    "uncertain": "#9467bd",
    "fitting": "#2ca02c",
    "tta": "#8c564b",
    "novelty": "#e377c2",
}


class RefineApp:
    """Outlier extraction, the labeller and merge + retraining on one project.

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    shuffle
        The shuffle whose predictions and model are used.
    labeler_options
        Keyword arguments for :class:`~posekit.widgets.labeler.Labeler`.
    dashboard
        Build the training dashboard (tests of the other steps: ``False``).

    Attributes
    ----------
    model
        The :class:`~posekit.widgets.refine_model.RefineModel`.
    labeler
        The :class:`~posekit.widgets.labeler.Labeler` of the Refine tab.
    dashboard
        The :class:`~posekit.widgets.training_dashboard.TrainingDashboard` (or
        ``None``).
    tabs, widget
        The tabs and the whole app (display this).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        shuffle: int = 1,
        labeler_options: dict[str, Any] | None = None,
        dashboard: bool = True,
    ) -> None:
        ensure_bokehjs()
        # the app loads TensorFlow as it opens (the latest snapshot's predictions):
        # without its C++ start-up lines, which Voila shows as red output
        preload_tensorflow()
        self.model = RefineModel(project, shuffle=shuffle)
        self.project = self.model.project
        self._where = "find"
        self._running = False
        self._finished_at: dict[int, float] = {}
        self._build_find()
        self.labeler = Labeler(
            self.project, load_bokehjs=False, **dict(labeler_options or {})
        )
        self.labeler.model.shuffle = shuffle  # its test frames are marked
        self.predict_checkbox = W.Checkbox(
            value=False,
            indent=False,
            description="pre-fill the other frames with the latest model",
        )
        self.predict_checkbox.observe(self._on_predict, "value")
        self.dashboard = None
        if dashboard:
            from .training_dashboard import TrainingDashboard

            self.dashboard = TrainingDashboard(self.project)
        self._build_merge()
        self.tabs = W.Tab(
            children=[
                self.find_box,
                W.VBox([self.predict_checkbox, self.labeler.widget]),
                self.merge_box,
            ]
        )
        for i, title in enumerate(
            ("1 · Find outliers", "2 · Refine", "3 · Merge & retrain")
        ):
            self.tabs.set_title(i, title)
        self.widget = LiveVBox(
            [
                W.HTML(
                    "<h3 style='margin:4px 0'>posekit · refine: outlier frames, "
                    "corrections, retraining</h3>"
                ),
                self.tabs,
            ]
        )
        self.widget.add_class("posekit-refine-app")
        self.model.listeners.append(self._sync)
        self._sync()

    # ================================================================ building
    def _build_find(self) -> None:
        m = self.model
        self.video_dropdown = W.Dropdown(
            description="Video", layout=W.Layout(width="360px")
        )
        self.video_dropdown.observe(self._on_video, "value")
        self.criteria_boxes = {
            name: W.Checkbox(
                value=name in m.criteria,
                description=name,
                indent=False,
                tooltip=c.description,
                layout=W.Layout(width="110px"),
            )
            for name, c in CRITERIA.items()
        }
        # the engine's comparisonbodyparts: the advice may say to untick some
        self.bodypart_boxes = {
            name: W.Checkbox(
                value=name in m.bodyparts,
                description=name,
                indent=False,
                tooltip=f"look for outliers in {name}'s predictions",
                layout=W.Layout(width="auto", margin="0 12px 0 0"),
            )
            for name in self.project.bodyparts
        }
        for box in self.bodypart_boxes.values():
            box.add_class("refine-bodypart")
        self.n_box = W.BoundedIntText(
            value=m.n,
            min=1,
            max=1000,
            description="frames",
            layout=W.Layout(width="150px"),
        )
        self.algorithm = W.Dropdown(
            options=[
                ("diverse (k-means)", "kmeans"),
                ("evenly spaced", "uniform"),
                ("highest scores", "top"),
            ],
            value=m.algorithm,
            description="choose",
            layout=W.Layout(width="260px"),
        )
        self.score_button = W.Button(
            description="Find outliers", icon="search", button_style="info"
        )
        self.extract_button = W.Button(
            description="Extract frames", icon="download", button_style="primary"
        )
        self.score_button.on_click(lambda b: self._click(b, self.score, "find"))
        self.extract_button.on_click(lambda b: self._click(b, self.extract, "find"))
        self.find_message = W.HTML()
        self.find_message.add_class("refine-message")
        self._build_timeline()
        self.find_box = W.VBox(
            [
                W.HBox([self.video_dropdown, self.n_box, self.algorithm]),
                W.HBox(
                    [W.HTML("criteria:&nbsp;"), *self.criteria_boxes.values()],
                    layout=W.Layout(align_items="center"),
                ),
                W.HBox(
                    [W.HTML("bodyparts:&nbsp;"), *self.bodypart_boxes.values()],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),
                W.HBox([self.score_button, self.extract_button]),
                self.find_message,
                self.timeline_model,
            ]
        )

    def _build_timeline(self) -> None:
        p = figure(
            height=240,
            width=900,
            title="outlier score per frame (1 = threshold); chosen frames in red",
            x_axis_label="frame",
            y_axis_label="score / threshold",
            tools="xpan,xwheel_zoom,reset",
            y_range=Range1d(0, 3),
            name="posekit-refine-timeline",
        )
        self.score_source = ColumnDataSource(
            {"frame": [], "combined": [], **{c: [] for c in CRITERIA}}
        )
        for name, color in _CRITERION_COLORS.items():
            p.line(
                "frame",
                name,
                source=self.score_source,
                line_color=color,
                line_alpha=0.45,
                legend_label=name,
            )
        p.line(
            "frame",
            "combined",
            source=self.score_source,
            line_color="black",
            line_width=1.5,
            legend_label="combined",
        )
        self.picked_source = ColumnDataSource({"frame": [], "combined": []})
        p.scatter(
            "frame",
            "combined",
            source=self.picked_source,
            size=9,
            color="#d62728",
            name="posekit-refine-picked",
            legend_label="chosen",
        )
        p.add_layout(Span(location=1.0, dimension="width", line_dash="dashed"))
        # above the plot, in one row: inside it covered the last frames (QA s17 #5)
        legend = p.legend[0]
        p.add_layout(legend, "above")
        legend.orientation = "horizontal"
        legend.click_policy = "hide"
        legend.label_text_font_size = "11px"
        legend.spacing = 12
        p.toolbar.logo = None
        self.timeline = p
        self.timeline_model = LiveBokehModel(p)
        self.timeline_model.add_class("refine-timeline")

    def _build_merge(self) -> None:
        self.merge_button = W.Button(
            description="Merge and start the next iteration",
            icon="code-fork",
            button_style="primary",
            layout=W.Layout(width="300px"),
        )
        self.merge_button.on_click(lambda b: self._click(b, self.merge, "merge"))
        self.merge_message = W.HTML()
        self.merge_message.add_class("refine-merge-message")
        children = [
            W.HTML(
                "Merging adds the corrected frames to the labels, raises "
                "<code>iteration</code> in config.yaml and creates the next training "
                "set with the same test frames; training then starts from the "
                "previous iteration's model."
            ),
            self.merge_button,
            self.merge_message,
        ]
        if self.dashboard is not None:
            children.append(self.dashboard.widget)
        self.merge_box = W.VBox(children)

    # ================================================================ steps
    #: Clicks of a button that arrive this soon after its action ended are the
    #: second click of a double click, sent while the action ran: ignored.
    click_settle_s = 1.0

    def _click(self, button: W.Button, fn, where: str) -> None:
        """Run a button's step once per click: the button is disabled while it runs.

        The kernel handles clicks one after the other, so the second click of a
        double click arrives after the first one's step ended (a second merge then
        says "Nothing to merge" over the success): a click of the same button
        within :attr:`click_settle_s` of the end of its step is ignored, as is one
        that arrives while any step runs.
        """
        key = id(button)
        since = time.monotonic() - self._finished_at.get(key, -math.inf)
        if self._running or since < self.click_settle_s:
            return
        self._running = True
        button.disabled = True
        try:
            self._step(fn, where)
        finally:
            self._running = False
            self._finished_at[key] = time.monotonic()
            ready = self.model.video is not None
            self.score_button.disabled = not ready
            self.extract_button.disabled = not ready
            self.merge_button.disabled = False

    def _step(self, fn, where: str = "find") -> None:
        """Run a step; its message (an error too, not raised) shows beside it."""
        self._where = where
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - shown to the user
            self.model.message = error_message(err)
            self._sync(level="error")

    def _read_settings(self) -> None:
        m = self.model
        m.set_criteria([n for n, b in self.criteria_boxes.items() if b.value])
        m.set_bodyparts([n for n, b in self.bodypart_boxes.items() if b.value])
        m.n = int(self.n_box.value)
        m.algorithm = self.algorithm.value

    def score(self) -> None:
        """Score every frame of the chosen video and show the timeline."""
        self._read_settings()
        self.model.score()
        self._show_scores()

    def extract(self) -> None:
        """Extract the chosen frames and open the first in the labeller."""
        self._read_settings()
        result = self.model.extract()
        self._show_scores()
        frames = self.model.extracted_frames()
        if not frames:
            return
        lab = self.labeler
        lab.refresh_frames()
        lab.set_video(result.video.stem)
        lab.goto(frames[0])
        self.tabs.selected_index = REFINE
        lab.focus()  # the button pressed is hidden now: keys go to the labeller

    def merge(self) -> None:
        """Merge the refined frames; point the dashboard at the new iteration."""
        self.model.merge()
        if self.dashboard is not None:
            training = self.dashboard.model
            if not training.busy:  # show the new iteration (not trained yet)
                training.reload()
            self._train_previous_backbone()
            self.tabs.selected_index = MERGE

    def _train_previous_backbone(self) -> None:
        """Let the dashboard train the previous model's network (it starts from it)."""
        from ..engine.api import previous_snapshot
        from ..engine.model_folder import ModelFolder

        path = previous_snapshot(self.project, self.model.shuffle)
        if path is None:
            return
        backbone = ModelFolder.at(path).model_config(path).backbone
        if backbone in self.dashboard.backbone.options:
            self.dashboard.backbone.value = backbone
            self.dashboard.model.backbone = backbone

    # ================================================================ model → view
    def _show_scores(self) -> None:
        t = self.model.timeline()
        data = {"frame": np.asarray(t["frame"]), "combined": t["combined"]}
        for c in CRITERIA:
            data[c] = t.get(c, np.full(len(data["frame"]), np.nan))
        self.score_source.data = data
        r = self.model.result
        picked = r.picked if r is not None else np.zeros(0, int)
        if len(picked):
            pos = np.searchsorted(data["frame"], picked)
            self.picked_source.data = {
                "frame": picked,
                "combined": np.asarray(data["combined"])[pos],
            }
        else:
            self.picked_source.data = {"frame": [], "combined": []}
        top = float(np.nanmax(data["combined"])) if len(data["frame"]) else 3.0
        self.timeline.y_range.end = max(2.0, min(top * 1.1, 50.0))

    def _sync(self, level: str = "info") -> None:
        m = self.model
        options = [(v.name, str(v)) for v in m.videos]
        if list(self.video_dropdown.options) != options:
            self.video_dropdown.options = options
        if m.video is not None and self.video_dropdown.value != str(m.video):
            self.video_dropdown.value = str(m.video)
        ready = m.video is not None
        self.score_button.disabled = not ready
        self.extract_button.disabled = not ready
        color = "#b00020" if level == "error" else "#1d4f91"
        text = html.escape(m.message)
        box = f"<div class='refine-{level}' style='color:{color};max-width:900px'>"
        target = self.merge_message if self._where == "merge" else self.find_message
        target.value = f"{box}{text}</div>" if text else ""

    # ================================================================ view → model
    def _on_video(self, change) -> None:
        value = change["new"]
        if value and (self.model.video is None or str(self.model.video) != value):
            self._step(lambda: self.model.choose(value), "find")

    def _on_predict(self, change) -> None:
        if not change["new"]:
            self.labeler.model.use_predictor(None)
            return

        def use_model():
            from ..engine.model_folder import ModelFolder

            predictor = ModelFolder.of(self.project, self.model.shuffle).predictor(
                batch_size=1
            )
            self.labeler.model.use_predictor(predictor)

        self._step(use_model, "find")

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
