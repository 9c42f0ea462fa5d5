"""Ethogram annotator: mark behaviour bouts on a timeline, see predictions beside them.

:class:`EthogramAnnotator` shows an
:class:`~posekit.widgets.ethogram_annotator_model.EthogramAnnotatorModel` (one label per
frame, ``background`` where no bout was marked; all the logic) as a Bokeh timeline with
one row per behaviour; predicted labels (a classifier's or motifs from clustering) get
rows of their own under the annotations. Bouts are marked by

- choosing a behaviour, then **Start bout** and **End bout** at the cursor frame (the
  frame slider, or a tap on the timeline), or
- a frame range: the range slider, or a drag with the timeline's range-select tool,
  then **Mark range**.

A new bout overwrites what was marked on its frames; **Delete bout** clears the bout
under the cursor. :meth:`EthogramAnnotator.labels` gives the per-frame labels and
:meth:`EthogramAnnotator.bouts` the bout table
(:func:`~posekit.engine.behavior.ethogram.labels_to_bouts`); both save to and load
from CSV.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._bokeh import BokehComponent
from .app import live_region
from .ethogram_annotator_model import (
    NO_BEHAVIOR_ROW,
    PREDICTED_SUFFIX,
    EthogramAnnotatorModel,
)

__all__ = ["EthogramAnnotator", "PREDICTED_SUFFIX"]


def _error(text: str) -> str:
    return f'<span style="color:#cf222e">{html.escape(text)}</span>'


class EthogramAnnotator(BokehComponent):
    """Mark behaviour bouts frame by frame on a Bokeh timeline.

    Parameters
    ----------
    n_frames
        Length of the recording in frames.
    behaviors
        Behaviours offered (more can be added; labels loaded later add theirs).
    labels
        Initial per-frame labels (``background`` where unmarked).
    fps
        Frames per second (adds seconds to the bout table).
    background
        Label of unmarked frames.
    title
        Title of the timeline.
    width
        Width of the timeline in screen pixels.
    load_bokehjs
        Load BokehJS into the page first (turn off in tests).

    Attributes
    ----------
    model : EthogramAnnotatorModel
        The labels and the marking logic (the methods below forward to it).
    figure
        The Bokeh timeline (name ``posekit-ethogram``).
    bout_source, predicted_source
        The bars of the marked and of the predicted bouts.
    cursor
        The cursor ``Span``.
    bokeh_model
        The ``BokehModel`` (CSS class ``posekit-ethogram``).
    widget
        The whole annotator (display this).

    Examples
    --------
    >>> a = EthogramAnnotator(10, ["rest", "walk"], load_bokehjs=False)
    >>> _ = a.add_bout("walk", 2, 4)
    >>> a.labels().tolist()[:6]
    ['none', 'none', 'walk', 'walk', 'walk', 'none']
    >>> a.bouts()[["behavior", "start", "end", "duration"]].values.tolist()
    [['walk', 2, 4, 3]]
    """

    def __init__(
        self,
        n_frames: int,
        behaviors: Sequence[str] = (),
        *,
        labels: Sequence[str] | np.ndarray | None = None,
        fps: float | None = None,
        background: str = "none",
        title: str = "ethogram",
        width: int = 760,
        load_bokehjs: bool = True,
    ) -> None:
        if load_bokehjs:
            from ._bokeh import ensure_bokehjs

            ensure_bokehjs()
        self.model = EthogramAnnotatorModel(
            n_frames, behaviors, labels=labels, fps=fps, background=background
        )
        self._callbacks = self.model.callbacks  # cleared by close()
        self.title = str(title)
        self.width = int(width)
        self._guarding = False
        self._build_figure()
        self._build_controls()
        self.model.observe(self._on_model)
        self._refresh()
        # the BokehModel's state was taken when it was built; a view made later (the
        # annotator put into a page that is already shown) must start from now
        self.bokeh_model.refresh()

    # ================================================================ the model
    @property
    def n_frames(self) -> int:
        """Length of the recording in frames."""
        return self.model.n_frames

    @property
    def fps(self) -> float | None:
        """Frames per second (``None``: unknown)."""
        return self.model.fps

    @property
    def background(self) -> str:
        """Label of unmarked frames."""
        return self.model.background

    @property
    def behaviors(self) -> list[str]:
        """Behaviours that can be marked (a copy)."""
        return self.model.behaviors

    @property
    def frame(self) -> int:
        """The cursor frame."""
        return self.model.frame

    @frame.setter
    def frame(self, value: int) -> None:
        self.model.frame = value

    @property
    def behavior(self) -> str:
        """The behaviour the next bout gets."""
        return self.model.behavior

    @behavior.setter
    def behavior(self, name: str) -> None:
        self.model.behavior = name

    @property
    def pending_start(self) -> int | None:
        """Start frame of the bout being marked (after **Start bout**), else ``None``."""
        return self.model.pending_start

    @property
    def predictions(self) -> np.ndarray | None:
        """The predicted labels shown (``None`` if none)."""
        return self.model.predictions

    def on_change(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call ``callback(labels)`` after every change of the marked labels."""
        self.model.on_change(callback)

    def add_behavior(self, name: str) -> None:
        """Offer another behaviour (:meth:`EthogramAnnotatorModel.add_behavior`)."""
        self.model.add_behavior(name)

    def labels(self) -> np.ndarray:
        """Return the per-frame labels (``background`` where nothing is marked)."""
        return self.model.labels()

    def annotated(self) -> np.ndarray:
        """Return the boolean mask of the frames inside a marked bout."""
        return self.model.annotated()

    def set_labels(
        self, labels: Sequence[str] | np.ndarray, *, notify: bool = True
    ) -> None:
        """Replace every mark by per-frame ``labels`` (:meth:`EthogramAnnotatorModel.set_labels`)."""
        self.model.set_labels(labels, notify=notify)

    def add_bout(self, behavior: str, start: int, end: int) -> dict[str, Any]:
        """Mark frames ``start..end`` as ``behavior`` (:meth:`EthogramAnnotatorModel.add_bout`)."""
        return self.model.add_bout(behavior, start, end)

    def start_bout(self, frame: int | None = None) -> int:
        """Remember ``frame`` (default: the cursor) as the start of the next bout."""
        return self.model.start_bout(frame)

    def end_bout(
        self, frame: int | None = None, behavior: str | None = None
    ) -> dict[str, Any]:
        """Mark from the remembered start to ``frame`` (:meth:`EthogramAnnotatorModel.end_bout`)."""
        return self.model.end_bout(frame, behavior)

    def bout_at(self, frame: int) -> dict[str, Any] | None:
        """Return the marked bout that contains ``frame`` (``None`` if unmarked)."""
        return self.model.bout_at(frame)

    def delete_bout(self, frame: int | None = None) -> dict[str, Any] | None:
        """Clear the bout under ``frame`` (default: the cursor); return it."""
        return self.model.delete_bout(frame)

    def clear(self) -> None:
        """Clear every mark."""
        self.model.clear()

    def bouts(self) -> pd.DataFrame:
        """Return the marked bouts: ``behavior, start, end, duration`` (+ seconds)."""
        return self.model.bouts()

    def set_predictions(self, labels: Sequence[str] | np.ndarray | None) -> None:
        """Show predicted per-frame labels under the marks (``None`` hides them)."""
        self.model.set_predictions(labels)

    def rows(self) -> list[str]:
        """Return the timeline rows, top to bottom: behaviours, then predicted labels."""
        return self.model.rows()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the marks and return the file (:meth:`EthogramAnnotatorModel.save`)."""
        return self.model.save(path)

    def load(
        self, path: str | os.PathLike, *, individual: str | None = None
    ) -> np.ndarray:
        """Replace the marks by those of a labels CSV (:meth:`EthogramAnnotatorModel.load`).

        ``individual`` picks the animal of a file that holds several.
        """
        return self.model.load(path, individual=individual)

    # ================================================================ model → view
    def _on_model(self, aspects: frozenset[str]) -> None:
        """Redraw what changed in the model (see :data:`~posekit.widgets.ethogram_annotator_model.ASPECTS`)."""
        if "behaviors" in aspects:
            self._update_behavior_controls()
        elif "behavior" in aspects and self.behavior_buttons.value != self.behavior:
            self.behavior_buttons.value = self.behavior
        if "frame" in aspects:
            self.cursor.location = self.model.frame
            if self.frame_slider.value != self.model.frame:
                self.frame_slider.value = self.model.frame
        if aspects & {"labels", "predictions", "behaviors"}:
            self._refresh()
        elif aspects & {"frame", "pending"}:
            self._update_info()

    def _refresh(self) -> None:
        rows = self.model.rows()
        self.figure.y_range.factors = rows[::-1]
        self.figure.frame_height = max(60, 26 * len(rows))
        self.bout_source.data = self.model.bars()
        self.predicted_source.data = self.model.bars(predicted=True)
        self._update_table()
        self._update_info()

    def _update_table(self) -> None:
        bouts = self.model.bouts()
        if bouts.empty:
            self.table.value = "<i>No bouts marked yet.</i>"
            return
        shown = bouts.tail(200)
        more = len(bouts) - len(shown)
        self.table.value = (
            f"<div style='max-height:180px;overflow:auto'>"
            f"{shown.to_html(index=False, classes='posekit-bouts', float_format='%.2f')}"
            "</div>"
            + (f"<small>(last 200 of {len(bouts)} bouts)</small>" if more else "")
        )

    def _update_info(self) -> None:
        m = self.model
        frame = m.frame
        text = f"frame {frame} / {m.n_frames - 1}"
        if m.fps:
            text += f" · {frame / m.fps:.2f} s"
        text += f" · marked: <b>{html.escape(str(m.labels()[frame]))}</b>"
        predicted = m.predictions
        if predicted is not None:
            text += f" · predicted: <b>{html.escape(str(predicted[frame]))}</b>"
        if m.pending_start is not None:
            text += f" · bout started at frame {m.pending_start}"
        self.info.value = (
            f'<span class="posekit-ethogram-info" data-frame="{frame}">{text}</span>'
        )

    def _update_behavior_controls(self) -> None:
        if not hasattr(self, "behavior_buttons"):
            return
        self._guarding = True
        try:
            self.behavior_buttons.options = self.model.behaviors
            if self.model.behavior:
                self.behavior_buttons.value = self.model.behavior
        finally:
            self._guarding = False

    # ================================================================ building
    def _build_figure(self) -> None:
        from bokeh.events import SelectionGeometry, Tap
        from bokeh.models import (
            BoxSelectTool,
            ColumnDataSource,
            FactorRange,
            HoverTool,
            PanTool,
            Range1d,
            ResetTool,
            Span,
            WheelZoomTool,
        )
        from bokeh.plotting import figure
        from ipywidgets import Layout

        from ._bokeh import LiveBokehModel

        n = self.n_frames
        empty = {"row": [], "left": [], "right": [], "start": [], "end": [],
                 "behavior": [], "color": []}  # fmt: skip
        self.bout_source = ColumnDataSource(dict(empty))
        self.predicted_source = ColumnDataSource(dict(empty))
        self.select_tool = BoxSelectTool(dimensions="width")
        self.select_tool.description = "Select a frame range (then 'Mark range')"
        wheel = WheelZoomTool(dimensions="width")
        p = figure(
            x_range=Range1d(-0.5, n - 0.5, bounds=(-0.5, n - 0.5)),
            y_range=FactorRange(factors=[NO_BEHAVIOR_ROW]),
            frame_width=self.width,
            frame_height=60,
            tools=[self.select_tool, PanTool(dimensions="width"), wheel, ResetTool()],
            toolbar_location="right",
            name="posekit-ethogram",
            title=self.title,
            x_axis_label="frame",
        )
        p.toolbar.logo = None
        p.toolbar.active_drag = self.select_tool
        p.toolbar.active_scroll = wheel
        p.ygrid.grid_line_color = None
        bars = p.hbar(
            y="row", left="left", right="right", height=0.8, source=self.bout_source,
            fill_color="color", line_color=None,
        )  # fmt: skip
        pred = p.hbar(
            y="row", left="left", right="right", height=0.6,
            source=self.predicted_source, fill_color="color", fill_alpha=0.55,
            line_color=None,
        )  # fmt: skip
        p.add_tools(
            HoverTool(
                renderers=[bars, pred],
                tooltips=[("", "@behavior"), ("frames", "@start – @end")],
            )
        )
        self.cursor = Span(location=0, dimension="height", line_color="black",
                           line_width=1.5)  # fmt: skip
        p.add_layout(self.cursor)
        p.on_event(Tap, self._on_tap)
        p.on_event(SelectionGeometry, self._on_selection)
        self.figure = p
        self.bokeh_model = LiveBokehModel(p, combine_events=True)
        self.bokeh_model.add_class("posekit-ethogram")
        # a narrow window (200 % zoom) scrolls the ethogram instead of cutting it
        self.bokeh_model.add_class("posekit-scroll")
        self.bokeh_model.layout = Layout(overflow="auto", max_width="100%")

    def _build_controls(self) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox

        n = self.n_frames
        style = {"description_width": "initial"}
        self.behavior_buttons = w.ToggleButtons(
            options=self.model.behaviors, description="behaviour", style=style
        )
        if self.model.behavior:
            self.behavior_buttons.value = self.model.behavior
        self.behavior_buttons.observe(self._on_behavior_button, "value")
        self.new_behavior = w.Text(
            placeholder="new behaviour", layout=w.Layout(width="160px")
        )
        self.add_behavior_button = w.Button(description="Add", icon="plus",
                                            layout=w.Layout(width="80px"))  # fmt: skip
        self.add_behavior_button.on_click(lambda _: self.add_typed_behavior())
        self.add_message = live_region(w.HTML())  # announced (QA s15 #8)
        self.add_message.add_class("posekit-add-behavior-message")
        self.frame_slider = w.IntSlider(
            min=0, max=n - 1, description="frame", continuous_update=True,
            layout=w.Layout(width=f"{max(self.width - 80, 300)}px"),
        )  # fmt: skip
        self.frame_slider.observe(self._on_frame_slider, "value")
        self.start_button = w.Button(description="Start bout", icon="play")
        self.end_button = w.Button(description="End bout", icon="stop")
        self.delete_button = w.Button(description="Delete bout", icon="trash")
        self.start_button.on_click(lambda _: self._guard(self.start_bout))
        self.end_button.on_click(lambda _: self._guard(self.end_bout))
        self.delete_button.on_click(lambda _: self._guard(self.delete_bout))
        self.range_slider = w.IntRangeSlider(
            min=0, max=n - 1, value=(0, min(n - 1, 29)), description="range",
            continuous_update=False,
            layout=w.Layout(width=f"{max(self.width - 80, 300)}px"),
        )  # fmt: skip
        self.mark_button = w.Button(description="Mark range", icon="check")
        self.mark_button.on_click(
            lambda _: self._guard(
                self.add_bout, self.model.behavior, *self.range_slider.value
            )
        )
        self.info = w.HTML()
        self.message = live_region(w.HTML())
        self._message = self.message
        self.table = w.HTML()
        self.table.add_class("posekit-bout-table")
        row = {"layout": w.Layout(flex_flow="row wrap", align_items="center")}
        self.widget = LiveVBox(
            [
                w.HBox(
                    [
                        self.behavior_buttons,
                        self.new_behavior,
                        self.add_behavior_button,
                    ],
                    **row,
                ),
                self.add_message,
                self.bokeh_model,
                self.frame_slider,
                self.info,
                w.HBox([self.start_button, self.end_button, self.delete_button], **row),
                w.HBox([self.range_slider, self.mark_button], **row),
                self.message,
                self.table,
            ]
        )
        self.widget.add_class("posekit-ethogram-annotator")

    def add_typed_behavior(self) -> str | None:
        """Add the behaviour typed in the box and choose it (the **Add** button).

        What happened is said beside the button: the name added, or why nothing was
        (an empty box, the label of unmarked frames).

        Returns
        -------
        str or None
            The behaviour added (or already known), ``None`` if none was.
        """
        self.message.value = ""
        name = self.new_behavior.value.strip()
        if not name:
            self.add_message.value = _error(
                "Type a name for the behaviour in the box first (for example "
                "grooming), then press Add."
            )
            return None
        known = name in self.model.behaviors
        try:
            self.model.add_behavior(name)
        except ValueError as err:
            self.add_message.value = _error(str(err))
            return None
        self.model.behavior = name
        self.new_behavior.value = ""
        what = "is already in the list" if known else "added"
        self.add_message.value = (
            f"<small>{html.escape(repr(name))} {what}; new bouts get it.</small>"
        )
        return name

    def _on_behavior_button(self, change: dict[str, Any]) -> None:
        if not self._guarding and change["new"]:
            self.model.behavior = change["new"]

    def _on_frame_slider(self, change: dict[str, Any]) -> None:
        self.model.frame = change["new"]

    def _on_tap(self, event: Any) -> None:
        """Move the cursor to the frame nearest to a tap on the timeline."""
        x = getattr(event, "x", None)
        if x is not None and math.isfinite(x):
            self.model.frame = int(round(x))

    def _on_selection(self, event: Any) -> None:
        """Set the range slider to a range drawn with the select tool."""
        geometry = getattr(event, "geometry", None) or {}
        if geometry.get("type") not in (None, "rect"):
            return
        frames = self.model.frames_between(geometry.get("x0"), geometry.get("x1"))
        if frames is not None:
            self.range_slider.value = frames
