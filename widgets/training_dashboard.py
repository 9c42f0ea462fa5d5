"""Training dashboard: train, stop, resume and evaluate a network from Jupyter or Voila.

:class:`TrainingDashboard` is the thin view of a
:class:`~posekit.widgets.training_model.TrainingModel` (which holds all state and
logic, and runs the training in a process of its own that goes on when the page is
left): ipywidgets controls, a progress bar with ETA, the loss and test-error curves in
a Bokeh figure (a ``jupyter_bokeh.BokehModel`` serialised under the model's document
lock), the snapshots, the evaluation table and the worst test frames. Opening it does
not load TensorFlow (the backbones are listed without it).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._bokeh import BokehComponent, LiveBokehModel, LiveVBox
from .app import BUTTON_COLORS, error_message, live_region, style_button
from .training_model import (
    APP_TIME_BUDGET_S,
    AnalysisRunsError,
    TrainingModel,
    TrainingState,
    format_eta,
)

if TYPE_CHECKING:
    from ..engine.project import Project

__all__ = ["TrainingDashboard"]

#: A disabled Start or Stop button: grey, not its colour (white text on it 5.3:1).
DISABLED_COLOR = "#656d76"


def _format_value(value: Any) -> str:
    """Format a table cell: integers as such, other numbers with 2 decimals.

    A missing number (NaN) reads "not measured".
    """
    if isinstance(value, bool | np.bool_ | str):
        return html.escape(str(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(number):
        return "not measured"
    if number.is_integer() and abs(number) < 1e12:
        return str(int(number))
    return f"{number:.2f}"


class TrainingDashboard(BokehComponent):
    """The dashboard's widgets on a :class:`TrainingModel` (``.widget`` to display).

    Parameters
    ----------
    model
        The model, or a project (a model with the app's settings is made: a time
        budget of :data:`~posekit.widgets.training_model.APP_TIME_BUDGET_S`, the
        training in a process of its own).
    backbones
        Choices for the backbone menu (default: the engine's backbones, one name
        per network: :func:`posekit.engine.models.registry.backbone_names`).
    """

    def __init__(
        self,
        model: TrainingModel | Project,
        *,
        backbones: Sequence[str] | None = None,
    ) -> None:
        import ipywidgets as w

        from ..engine.models.registry import BACKBONE_ALIASES, backbone_names

        if not isinstance(model, TrainingModel):
            model = TrainingModel(model, time_budget_s=APP_TIME_BUDGET_S)
        self.model = m = model
        if backbones is None:
            backbones = backbone_names()  # without TensorFlow, no aliases
        default_net = m.backbone or m.default_backbone
        default_net = BACKBONE_ALIASES.get(default_net, default_net)
        configured = m.project.get("default_net_type")
        configured = BACKBONE_ALIASES.get(configured, configured)
        options = list(
            dict.fromkeys(
                [default_net, *([configured] if configured in backbones else [])]
                + list(backbones)
            )
        )
        if not m.backbone or m.backbone in BACKBONE_ALIASES:
            m.backbone = default_net  # one name per network in the menu

        style = {"description_width": "initial"}
        self.shuffle = w.BoundedIntText(
            min=1, max=99, description="shuffle", style=style,
            layout=w.Layout(width="130px"),
        )  # fmt: skip
        self.backbone = w.Dropdown(options=options, description="backbone", style=style)
        self.limit = w.ToggleButtons(
            options=[("iterations", "iterations"), ("time budget", "time")],
            style={"button_width": "90px"},
        )
        self.iterations = w.BoundedIntText(
            min=1, max=10_000_000, step=100, description="train to iteration",
            style=style, layout=w.Layout(width="250px"),
        )  # fmt: skip
        self.iterations.add_class("posekit-train-to")
        self.minutes = w.BoundedFloatText(
            min=0.05, max=10_000, step=0.5, description="minutes more", style=style,
            layout=w.Layout(width="190px"),
            tooltip="each Start or Train more trains this many minutes more",
        )  # fmt: skip
        self.save_minutes = w.BoundedFloatText(
            min=0, max=10_000, step=1, description="snapshot every (min, 0: off)",
            style=style, layout=w.Layout(width="270px"),
        )  # fmt: skip
        self.batch_size = w.BoundedIntText(
            min=0, max=512, description="batch size (0: default)", style=style,
            layout=w.Layout(width="210px"),
        )  # fmt: skip
        self.crop_size = w.Dropdown(
            options=[("auto", 0), *((f"{c}×{c}", c) for c in (128, 192, 256, 320))],
            description="crop", style=style, layout=w.Layout(width="150px"),
        )  # fmt: skip
        self.imagenet = w.Checkbox(
            description="ImageNet weights", indent=False, layout=w.Layout(width="auto")
        )
        # why the configured backbone is not the one that trains (engine's choice)
        self.backbone_notice = w.HTML()
        self.backbone_notice.add_class("posekit-backbone-notice")
        self.eval_interval = w.BoundedIntText(
            min=0, max=1_000_000, step=50, description="test every (0: auto)",
            style=style, layout=w.Layout(width="200px"),
        )  # fmt: skip
        # DeepLabCut's weigh_only_present_joints (posekit train
        # --weigh-only-present-joints): what a bodypart left empty teaches
        self.weigh_only_present_joints = w.Checkbox(
            description="ignore points left empty",
            indent=False,
            layout=w.Layout(width="auto"),
            tooltip="pose_cfg.yaml weigh_only_present_joints",
        )
        self.weigh_only_present_joints.add_class("posekit-weigh-only-present")
        self.presence_note = w.HTML(
            "<small>on: a bodypart left empty in a labelled frame is not trained "
            "there; off (DeepLabCut's default): it is trained as absent. Points "
            "marked not visible are trained as absent either way.</small>"
        )
        for name in (
            "shuffle", "backbone", "limit", "iterations", "batch_size", "crop_size",
            "imagenet", "eval_interval", "weigh_only_present_joints",
        ):  # fmt: skip
            w.link((m, name), (getattr(self, name), "value"))
        self.minutes.value = round(m.time_budget_s / 60, 2)
        self.minutes.observe(
            lambda ch: setattr(m, "time_budget_s", 60 * float(ch["new"])), "value"
        )
        self.save_minutes.value = round(m.save_interval_s / 60, 2)
        self.save_minutes.observe(
            lambda ch: setattr(m, "save_interval_s", 60 * float(ch["new"])), "value"
        )

        # white text on the buttons' colours is 4.5:1 or more (QA s15 #13)
        self.start_button = style_button(
            w.Button(description="Start training", button_style="success", icon="play"),
            "go",
        )
        self.stop_button = style_button(
            w.Button(description="Stop training", button_style="warning", icon="stop"),
            "stop",
        )
        self.evaluate_button = w.Button(description="Evaluate", icon="check")
        self.auto_evaluate = w.Checkbox(
            description="evaluate when finished",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        w.link((m, "auto_evaluate"), (self.auto_evaluate, "value"))
        # a double click sends a second click while the first one's action runs
        # (or just after it started the thread): ignored, not an error on screen
        self.start_button.on_click(lambda _: self._click(m.start))
        self.stop_button.on_click(lambda _: self._stop())
        self.evaluate_button.on_click(lambda _: self._click(m.evaluate))

        # what the training does, announced by a screen reader (QA s15 #8): it
        # changes with the state and the message, not with every iteration
        self.status = live_region(w.HTML())
        self.status.add_class("posekit-train-status")
        self.progress = w.FloatProgress(
            min=0.0, max=1.0, layout=w.Layout(width="360px"), description="progress"
        )
        self.progress.add_class("posekit-train-progress")
        self.eta = w.HTML()
        self.error_box = w.HTML()
        self._message = self.error_box
        self.snapshot_html = w.HTML()
        self.evaluation_html = w.HTML()
        self.worst_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.process_note = w.HTML(
            "<small>The training runs in a process of its own: leaving this page "
            "(a link, a closed tab) does not stop it. Open the Train app again to "
            "follow it, or to stop it.</small>"
            if m.process
            else ""
        )
        self.process_note.add_class("posekit-train-process-note")
        #: An analysis of the project runs: what that means for memory (QA s22 #1).
        self.analysis_line = w.HTML()
        self.analysis_line.add_class("posekit-train-analysis")
        #: Shown while an analysis runs on a small machine: train all the same.
        self.anyway = w.Checkbox(
            description="train while it analyses (this server may run out of memory)",
            indent=False,
            layout=w.Layout(display="none", width="auto"),
        )
        w.link((m, "train_anyway"), (self.anyway, "value"))

        self.plot = self._make_plot()
        self.bokeh = LiveBokehModel(self.plot, combine_events=True)
        self.bokeh.lock = m.doc_lock  # the training thread streams into the curves
        self.bokeh.add_class("posekit-train-curves")
        # a narrow window (200 % zoom) scrolls the curves instead of cutting them
        self.bokeh.add_class("posekit-scroll")
        self.bokeh.layout = w.Layout(overflow="auto", max_width="100%")

        #: The observers this view put on the model (removed by :meth:`close`).
        self._callbacks: list[tuple[Callable[[Any], None], list[str]]] = [
            (lambda _: self._update_buttons(), ["state", "evaluating"]),
            (lambda _: self._update_status(), ["state", "message"]),
            (lambda _: self._update_evaluation(), ["evaluating"]),
            (
                lambda _: self._update_progress(),
                ["progress", "eta_s", "rate", "state", "iteration"],
            ),
            (lambda _: self._update_error(), ["error"]),
            (lambda _: self._update_limit(), ["limit"]),
            (lambda _: self._update_notice(), ["backbone", "imagenet"]),
            (lambda _: self._update_analysis(), ["analysis_note", "small_memory"]),
            (lambda _: self._recheck_analysis(), ["state"]),
        ]
        for fn, names in self._callbacks:
            m.observe(fn, names)
        self._listeners: list[tuple[str, Callable[[], None]]] = [
            ("snapshots", self._update_snapshots),
            ("snapshots", self._update_evaluation),
            ("evaluation", self._update_evaluation),
            ("worst", self._update_worst),
        ]
        for event, listener in self._listeners:
            m.on(event, listener)

        self._update_notice()
        # several backbones trained at once (Dask), compared in one table
        from .run_comparison import RunComparison
        from .run_comparison_model import RunComparisonModel

        self.comparison = RunComparison(
            RunComparisonModel(m.project, reference_shuffle=m.shuffle),
            backbones=options,
        )
        self.comparison_box = w.Accordion(
            [self.comparison.widget],
            titles=("Compare backbones: parallel training runs, one table",),
            selected_index=None,
        )
        settings = w.HBox(
            [
                self.shuffle,
                self.backbone,
                self.imagenet,
                self.backbone_notice,
                self.batch_size,
                self.crop_size,
                self.eval_interval,
                self.save_minutes,
            ],
            layout=w.Layout(flex_flow="row wrap", align_items="center"),
        )
        # rows wrap in a narrow window (200 % zoom) instead of being cut
        wrap = w.Layout(flex_flow="row wrap", align_items="center")
        presence = w.HBox(
            [self.weigh_only_present_joints, self.presence_note], layout=wrap
        )
        limits = w.HBox([self.limit, self.iterations, self.minutes], layout=wrap)
        buttons = w.HBox(
            [
                self.start_button,
                self.stop_button,
                self.evaluate_button,
                self.auto_evaluate,
            ],
            layout=wrap,
        )
        self.widget = LiveVBox(
            [
                settings,
                presence,
                limits,
                self.analysis_line,
                self.anyway,
                buttons,
                w.HBox([self.progress, self.eta], layout=wrap),
                self.status,
                self.process_note,
                self.error_box,
                self.bokeh,
                w.HTML("<h4>Snapshots</h4>"),
                self.snapshot_html,
                w.HTML("<h4>Evaluation</h4>"),
                self.evaluation_html,
                w.HTML(
                    "<h4>Test frames, worst first</h4><small>crosses: labels; "
                    "circles: predictions (filled: likelihood ≥ p-cutoff)</small>"
                ),
                self.worst_box,
                self.comparison_box,
            ]
        )
        self.widget.add_class("posekit-training-dashboard")
        self._update_buttons()
        self._update_status()
        self._update_progress()
        self._update_limit()
        self._update_snapshots()
        self._update_evaluation()
        self._update_worst()  # drawn by an earlier evaluation of the newest snapshot
        self._update_error()  # a training that died before the page opened
        self._update_analysis()

    def close(self) -> None:
        """Stop following the model and close every widget of the dashboard."""
        for fn, names in self._callbacks:
            self.model.unobserve(fn, names)
        for event, listener in self._listeners:
            self.model.off(event, listener)
        super().close()

    def _click(self, fn: Callable[[], Any]) -> None:
        """Run a button's action, unless a training or evaluation already runs.

        The button is disabled as soon as the action starts; a click that was on
        its way before (the second click of a double click) does nothing.
        """
        if self.model.busy:
            return
        self._safely(fn)
        self._focus_next()

    def _stop(self) -> None:
        """Stop the training; the status line, which says what happens, gets focus."""
        self.model.stop()
        self._focus_next()

    def _focus_next(self) -> None:
        """Move the focus off a button that just disabled itself (QA s15 #10).

        A keyboard user would otherwise land on the page's top: Stop training
        while a training runs, else the status line (focusable, announced).
        """
        if not self.stop_button.disabled:
            self.stop_button.focus()
        elif self.model.busy:
            self.status.focus()

    def _safely(self, fn: Callable[[], Any]) -> None:
        """Run a button's action.

        A refusal (bad setting, busy) is shown in the widget and leaves the state as
        it was.
        """
        try:
            fn()
        except AnalysisRunsError as err:  # a caution, not an error: the status line
            self.model.message = str(err)
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self.model.error = error_message(err)
            self.model.message = error_message(err)

    def _make_plot(self):
        from bokeh.layouts import row
        from bokeh.models import HoverTool, LogTicker, PrintfTickFormatter
        from bokeh.plotting import figure

        m = self.model
        loss = figure(
            title="training loss", height=260, width=430, y_axis_type="log",
            x_axis_label="iteration", tools="pan,wheel_zoom,box_zoom,reset,save",
        )  # fmt: skip
        # ticks at 1, 2 and 5 of each decade, written 0.05 (not 10^-1.3): a loss of
        # 0.05 had no tick label below 0.5 (QA s17 #7)
        loss.yaxis.ticker = LogTicker(mantissas=[1, 2, 5], desired_num_ticks=6)
        # three significant digits: a bare %g writes the tick 6 x 0.1 as
        # 0.6000000000000001 (BokehJS's sprintf; QA s18 #9)
        loss.yaxis.formatter = PrintfTickFormatter(format="%.3g")
        loss.toolbar.logo = None  # a link to bokeh.org is no use offline (QA s15 #8)
        loss.line("iteration", "loss", source=m.loss_source, line_width=1.5)
        loss.add_tools(HoverTool(tooltips=[("it", "@iteration"), ("loss", "@loss")]))
        err = figure(
            title="test error (px)", height=260, width=430, x_range=loss.x_range,
            x_axis_label="iteration", tools="pan,wheel_zoom,box_zoom,reset,save",
        )  # fmt: skip
        err.toolbar.logo = None
        err.line(
            "iteration", "test_error", source=m.error_source, color="firebrick"
        )  # fmt: skip
        err.scatter("iteration", "test_error", source=m.error_source, color="firebrick")
        return row(loss, err)

    # ------------------------------------------------------------------ updates
    def _update_buttons(self) -> None:
        m = self.model
        busy = m.busy
        # one name for one action, however the page was opened: a stopped session
        # and a reopened page on it both go on from the newest snapshot ("Resume
        # training" after Stop read "Train more" on a reopened page, QA s22 #9)
        label = (
            "Train more" if m.snapshots or m.state == "finished" else "Start training"
        )
        self.start_button.description = label
        self.start_button.disabled = busy
        self.stop_button.disabled = m.state != TrainingState.RUNNING.value
        # a disabled button is grey: the salmon Stop looked clickable (QA s17 #7)
        for button, kind in ((self.start_button, "go"), (self.stop_button, "stop")):
            button.style.button_color = (
                DISABLED_COLOR if button.disabled else BUTTON_COLORS[kind]
            )
        self.evaluate_button.disabled = busy or not m.snapshots
        for c in (
            self.shuffle, self.backbone, self.imagenet, self.batch_size,
            self.crop_size, self.eval_interval, self.limit, self.iterations,
            self.minutes, self.save_minutes, self.auto_evaluate,
            self.weigh_only_present_joints,
        ):  # fmt: skip
            c.disabled = busy

    def _update_status(self) -> None:
        m = self.model
        colors = {
            "idle": "#666666", "running": "#1a7f37", "stopping": "#8a6100",
            "stopped": "#0969da", "finished": "#0969da", "error": "#cf222e",
        }  # fmt: skip
        self.status.value = (
            f'<span class="posekit-train-state" data-state="{m.state}" '
            f'style="color:white;background:{colors.get(m.state, "#666666")};'
            f'padding:1px 6px;border-radius:4px">{m.state}</span> '
            f"{html.escape(m.message)}"
        )

    def _update_progress(self) -> None:
        m = self.model
        self.progress.value = m.progress
        it = f'iteration <b class="posekit-train-iteration">{m.iteration}</b> · '
        if m.state != TrainingState.RUNNING.value:  # no stale speed and ETA
            self.eta.value = (
                f'{it}<span class="posekit-train-eta">{100 * m.progress:.0f}%</span>'
            )
            return
        rate = f"{m.rate:.1f} it/s, " if math.isfinite(m.rate) else ""
        self.eta.value = (
            f'{it}<span class="posekit-train-eta">{100 * m.progress:.0f}% — {rate}'
            f"ETA {format_eta(m.eta_s)}</span>"
        )

    def _update_error(self) -> None:
        err = self.model.error
        self.error_box.value = (
            '<details open class="posekit-train-error" role="alert" '
            'style="color:#cf222e">'
            "<summary><b>Error</b></summary>"
            f'<pre style="white-space:pre-wrap">{html.escape(err)}</pre></details>'
            if err
            else ""
        )

    def _update_analysis(self) -> None:
        """Show the analysis that runs on the project, and "train anyway" if small."""
        m = self.model
        self.analysis_line.value = (
            '<div role="note" style="color:#8a6100;max-width:60em">'
            f"<b>\u26a0</b> {html.escape(m.analysis_note)}</div>"
            if m.analysis_note
            else ""
        )
        show = m.analysis_note and m.small_memory and not m.busy
        self.anyway.layout.display = "" if show else "none"

    def _recheck_analysis(self) -> None:
        """Look again for a running analysis once the training has ended."""
        if not self.model.busy:
            self.model.check_analysis()
        self._update_analysis()

    def _update_limit(self) -> None:
        by_time = self.model.limit == "time"
        self.iterations.layout.display = "none" if by_time else None
        self.minutes.layout.display = None if by_time else "none"

    def _update_notice(self) -> None:
        import html

        text = self.model.backbone_notice
        self.backbone_notice.value = (
            f'<span style="color:#a15c00">⚠ {html.escape(text)}</span>' if text else ""
        )

    def _update_snapshots(self) -> None:
        table = self.model.snapshot_table()
        self.snapshot_html.value = (
            "<i>no snapshot yet</i>"
            if table.empty
            else table.to_html(
                index=False,
                classes="posekit-snapshots",
                float_format="{:.2f}".format,
                na_rep="not measured",
            )
        )
        if self.model.test_set_note and not table.empty:
            self.snapshot_html.value += (
                '<p class="posekit-no-test-frames" style="color:#a15c00">⚠ '
                f"{html.escape(self.model.test_set_note)}</p>"
            )
        self._update_buttons()

    def _update_evaluation(self) -> None:
        """Show the evaluation table, one metric per row (it has ~20 columns).

        Says so when the newest snapshot (e.g. one saved by Stop) is not the one
        evaluated, rather than showing nothing or an older table without comment.
        """
        m = self.model
        table = m.evaluation
        newest = m.snapshots[-1][0] if m.snapshots else None
        evaluated = m.evaluated_iteration
        note = ""
        if newest is not None and evaluated != newest and not m.evaluating:
            note = (
                f'<p class="posekit-evaluation-note"><i>The newest snapshot '
                f"(iteration {newest}) is not evaluated yet: press Evaluate"
                + (
                    f". Below: the snapshot at iteration {evaluated}."
                    if evaluated is not None
                    else "."
                )
                + "</i></p>"
            )
        if m.test_set_note:
            note = (
                '<p class="posekit-no-test-frames" style="color:#a15c00">⚠ '
                f"{html.escape(m.test_set_note)}: test errors cannot be measured."
                "</p>" + note
            )
        if m.evaluating:
            self.evaluation_html.value = "<i>evaluating…</i>"
        elif table is None or table.empty:
            self.evaluation_html.value = note
        else:
            rows = "".join(
                f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                f"<td>{_format_value(v)}</td></tr>"
                for k, v in table.iloc[-1].items()
            )
            self.evaluation_html.value = (
                f'{note}<table class="posekit-evaluation">{rows}</table>'
            )

    def _update_worst(self) -> None:
        import ipywidgets as w

        boxes = []
        for f in self.model.worst_frames:
            img = w.Image(value=f.png, format="png", layout=w.Layout(max_width="320px"))
            caption = w.HTML(
                f"<small>{html.escape(f.path)}<br>{f.error_px:.1f} px</small>"
            )
            boxes.append(w.VBox([img, caption]))
        self.worst_box.children = boxes
