"""Ethogram annotator: mark behaviour bouts on a timeline, see predictions beside them.

:class:`EthogramAnnotator` holds one label per frame (``background``, ``"none"`` by
default, where no bout was marked) and shows it as a Bokeh timeline with one row per
behaviour; predicted labels (a classifier's or motifs from clustering) get rows of
their own under the annotations. Bouts are marked by

- choosing a behaviour, then **Start bout** and **End bout** at the cursor frame (the
  frame slider, or a tap on the timeline), or
- a frame range: the range slider, or a drag with the timeline's range-select tool,
  then **Mark range**.

A new bout overwrites what was marked on its frames (one behaviour per frame, what
:class:`~posekit.engine.behavior.classify.BehaviorClassifier` learns from);
**Delete bout** clears the bout under the cursor. :meth:`EthogramAnnotator.labels`
gives the per-frame labels and :meth:`EthogramAnnotator.bouts` the bout table
(:func:`~posekit.engine.behavior.ethogram.labels_to_bouts`); both save to and load
from CSV.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine.behavior.ethogram import bouts_to_labels, labels_to_bouts
from ._bokeh import BokehComponent

__all__ = ["EthogramAnnotator", "PREDICTED_SUFFIX"]

logger = logging.getLogger("posekit.widgets.ethogram_annotator")

#: Appended to a behaviour's name for its row of predictions on the timeline.
PREDICTED_SUFFIX = " (predicted)"


_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


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
        if int(n_frames) != n_frames or n_frames < 1:
            raise ValueError(
                f"n_frames must be a positive integer; received {n_frames!r}"
            )
        self.n_frames = int(n_frames)
        self.fps = float(fps) if fps else None
        self.background = str(background)
        self.title = str(title)
        self.width = int(width)
        self._behaviors: list[str] = []
        for b in behaviors:
            self._add_behavior_name(str(b))
        self._labels = np.full(self.n_frames, self.background, dtype=object)
        self._predicted: np.ndarray | None = None
        self._pending: int | None = None
        self._callbacks: list[Callable[[np.ndarray], None]] = []
        self._frame = 0
        self._selected = self._behaviors[0] if self._behaviors else ""
        self._guarding = False
        self._build_figure()
        self._build_controls()
        if labels is not None:
            self.set_labels(labels, notify=False)
        self._refresh()
        # the BokehModel's state was taken when it was built; a view made later (the
        # annotator put into a page that is already shown) must start from now
        self.bokeh_model.refresh()

    # ================================================================ model
    @property
    def behaviors(self) -> list[str]:
        """Behaviours that can be marked (a copy)."""
        return list(self._behaviors)

    @property
    def frame(self) -> int:
        """The cursor frame."""
        return self._frame

    @frame.setter
    def frame(self, value: int) -> None:
        value = min(max(int(value), 0), self.n_frames - 1)
        if value == self._frame:
            return
        self._frame = value
        self.cursor.location = value
        if self.frame_slider.value != value:
            self.frame_slider.value = value
        self._update_info()

    @property
    def behavior(self) -> str:
        """The behaviour the next bout gets."""
        return self._selected

    @behavior.setter
    def behavior(self, name: str) -> None:
        name = str(name)
        if name not in self._behaviors:
            raise ValueError(
                f"unknown behaviour {name!r}; add it first (known: {self._behaviors})"
            )
        self._selected = name
        if self.behavior_buttons.value != name:
            self.behavior_buttons.value = name

    @property
    def pending_start(self) -> int | None:
        """Start frame of the bout being marked (after **Start bout**), else ``None``."""
        return self._pending

    def on_change(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call ``callback(labels)`` after every change of the marked labels."""
        self._callbacks.append(callback)

    def add_behavior(self, name: str) -> None:
        """Offer another behaviour.

        Raises
        ------
        ValueError
            If ``name`` is empty or the background label.
        """
        name = str(name).strip()
        if not name:
            raise ValueError("a behaviour needs a non-empty name")
        if name == self.background:
            raise ValueError(
                f"{name!r} is the label of unmarked frames; choose another name"
            )
        if name not in self._behaviors:
            self._add_behavior_name(name)
            self._update_behavior_controls()
            self._refresh()
        if not self._selected:
            self.behavior = name

    def _add_behavior_name(self, name: str) -> None:
        if name and name != self.background and name not in self._behaviors:
            self._behaviors.append(name)

    def labels(self) -> np.ndarray:
        """Per-frame labels (``background`` where nothing is marked), a copy."""
        return self._labels.astype(str)

    def annotated(self) -> np.ndarray:
        """Boolean mask of the frames inside a marked bout."""
        return self._labels != self.background

    def set_labels(
        self, labels: Sequence[str] | np.ndarray, *, notify: bool = True
    ) -> None:
        """Replace every mark by per-frame ``labels``.

        Raises
        ------
        ValueError
            If the length is not ``n_frames``.
        """
        arr = np.asarray(labels).astype(str).astype(object)
        if arr.shape != (self.n_frames,):
            raise ValueError(
                f"expected {self.n_frames} labels (one per frame); received shape "
                f"{arr.shape}"
            )
        for b in pd.unique(arr):
            self._add_behavior_name(str(b))
        self._labels = arr
        self._pending = None
        self._update_behavior_controls()
        self._changed(notify)

    def add_bout(self, behavior: str, start: int, end: int) -> dict[str, Any]:
        """Mark frames ``start..end`` (inclusive; either order) as ``behavior``.

        Returns
        -------
        dict
            The bout: ``behavior``, ``start``, ``end``.

        Raises
        ------
        ValueError
            If the frames are outside the recording or the behaviour is the
            background label.
        """
        behavior = str(behavior).strip()
        if not behavior or behavior == self.background:
            raise ValueError(
                f"choose a behaviour for the bout (not {self.background!r})"
            )
        s, e = sorted((int(start), int(end)))
        if s < 0 or e >= self.n_frames:
            raise ValueError(
                f"bout [{s}, {e}] lies outside frames 0..{self.n_frames - 1}"
            )
        if behavior not in self._behaviors:
            self._add_behavior_name(behavior)
            self._update_behavior_controls()
        self._labels[s : e + 1] = behavior
        self._changed(True)
        return {"behavior": behavior, "start": s, "end": e}

    def start_bout(self, frame: int | None = None) -> int:
        """Remember ``frame`` (default: the cursor) as the start of the next bout."""
        frame = self._frame if frame is None else int(frame)
        if not 0 <= frame < self.n_frames:
            raise ValueError(f"frame {frame} lies outside 0..{self.n_frames - 1}")
        self._pending = frame
        self._update_info()
        return frame

    def end_bout(
        self, frame: int | None = None, behavior: str | None = None
    ) -> dict[str, Any]:
        """Mark from the remembered start to ``frame`` (default: the cursor) as
        ``behavior`` (default: the selected one).

        Raises
        ------
        ValueError
            If no bout was started or no behaviour is chosen.
        """
        if self._pending is None:
            raise ValueError("press 'Start bout' first (at the bout's first frame)")
        frame = self._frame if frame is None else int(frame)
        bout = self.add_bout(behavior or self._selected, self._pending, frame)
        self._pending = None
        self._update_info()
        return bout

    def bout_at(self, frame: int) -> dict[str, Any] | None:
        """The marked bout that contains ``frame`` (``None`` if unmarked)."""
        if not 0 <= int(frame) < self.n_frames:
            return None
        frame = int(frame)
        label = self._labels[frame]
        if label == self.background:
            return None
        s = frame
        while s > 0 and self._labels[s - 1] == label:
            s -= 1
        e = frame
        while e < self.n_frames - 1 and self._labels[e + 1] == label:
            e += 1
        return {"behavior": str(label), "start": s, "end": e}

    def delete_bout(self, frame: int | None = None) -> dict[str, Any] | None:
        """Clear the bout under ``frame`` (default: the cursor); return it."""
        bout = self.bout_at(self._frame if frame is None else int(frame))
        if bout is not None:
            self._labels[bout["start"] : bout["end"] + 1] = self.background
            self._changed(True)
        return bout

    def clear(self) -> None:
        """Clear every mark."""
        self._labels[:] = self.background
        self._pending = None
        self._changed(True)

    def bouts(self) -> pd.DataFrame:
        """Marked bouts: ``behavior, start, end, duration`` (+ seconds with ``fps``)."""
        return labels_to_bouts(self.labels(), fps=self.fps, ignore=[self.background])

    def set_predictions(self, labels: Sequence[str] | np.ndarray | None) -> None:
        """Show predicted per-frame labels under the marks (``None`` hides them).

        Raises
        ------
        ValueError
            If the length is not ``n_frames``.
        """
        if labels is None:
            self._predicted = None
        else:
            arr = np.asarray(labels).astype(str)
            if arr.shape != (self.n_frames,):
                raise ValueError(
                    f"expected {self.n_frames} predicted labels; received {arr.shape}"
                )
            self._predicted = arr
        self._refresh()

    @property
    def predictions(self) -> np.ndarray | None:
        """The predicted labels shown (``None`` if none)."""
        return None if self._predicted is None else self._predicted.copy()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the marks: ``frame, behavior`` per frame (``.csv``), or the bout
        table when the name ends in ``_bouts.csv``.

        Returns
        -------
        Path
            The written file.
        """
        from ..engine.behavior.export import save_table

        path = Path(path)
        if path.name.endswith("_bouts.csv"):
            return save_table(self.bouts(), path)
        table = pd.DataFrame(
            {"frame": np.arange(self.n_frames), "behavior": self.labels()}
        )
        if self.fps:
            table.insert(1, "time", table["frame"] / self.fps)
        return save_table(table, path)

    def load(self, path: str | os.PathLike) -> np.ndarray:
        """Read marks from a CSV: per-frame (``frame``/``behavior`` columns, as the demo's
        ``ground-truth/<video>_behavior.csv``) or a bout table (``behavior, start,
        end``).

        Returns
        -------
        numpy.ndarray
            The per-frame labels now marked.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ValueError
            If the columns are not recognised or the lengths do not match.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No labels file at {path}")
        table = pd.read_csv(path)
        cols = set(table.columns)
        if {"behavior", "start", "end"} <= cols:
            labels = bouts_to_labels(table, self.n_frames, background=self.background)
        elif "behavior" in cols:
            labels = np.full(self.n_frames, self.background, dtype=object)
            frames = (
                table["frame"].to_numpy(int)
                if "frame" in cols
                else np.arange(len(table))
            )
            ok = (frames >= 0) & (frames < self.n_frames)
            if not ok.any():
                raise ValueError(f"{path} has no frame inside 0..{self.n_frames - 1}")
            labels[frames[ok]] = table["behavior"].astype(str).to_numpy()[ok]
        else:
            raise ValueError(
                f"{path} has columns {sorted(cols)}; expected 'frame, behavior' (one "
                "row per frame) or 'behavior, start, end' (one row per bout)"
            )
        self.set_labels(labels)
        return self.labels()

    # ================================================================ updates
    def _changed(self, notify: bool) -> None:
        self._refresh()
        if notify:
            labels = self.labels()
            for cb in list(self._callbacks):
                try:
                    cb(labels)
                except Exception:  # noqa: BLE001 - one bad callback must not stop marking
                    logger.exception("ethogram change callback failed")

    def _colors(self) -> dict[str, str]:
        names = list(self._behaviors)
        if self._predicted is not None:
            names += [
                str(b)
                for b in pd.unique(self._predicted)
                if b != self.background and b not in names
            ]
        return {b: _PALETTE[i % len(_PALETTE)] for i, b in enumerate(names)}

    def rows(self) -> list[str]:
        """Timeline rows, top to bottom: each behaviour, then each predicted label."""
        rows = list(self._behaviors)
        if self._predicted is not None:
            predicted = sorted(
                {str(b) for b in self._predicted} - {self.background},
                key=lambda b: (b not in self._behaviors, self._behaviors.index(b)
                               if b in self._behaviors else 0, b),
            )  # fmt: skip
            rows += [b + PREDICTED_SUFFIX for b in predicted]
        return rows or ["(no behaviour)"]

    def _bars(self, labels: np.ndarray, suffix: str) -> dict[str, list]:
        bouts = labels_to_bouts(labels, ignore=[self.background])
        colors = self._colors()
        return {
            "row": [b + suffix for b in bouts["behavior"]],
            "left": (bouts["start"] - 0.5).astype(float).tolist(),
            "right": (bouts["end"] + 0.5).astype(float).tolist(),
            "start": bouts["start"].astype(int).tolist(),
            "end": bouts["end"].astype(int).tolist(),
            "behavior": bouts["behavior"].tolist(),
            "color": [colors.get(b, "#999999") for b in bouts["behavior"]],
        }

    def _refresh(self) -> None:
        rows = self.rows()
        self.figure.y_range.factors = rows[::-1]
        self.figure.frame_height = max(60, 26 * len(rows))
        self.bout_source.data = self._bars(self.labels(), "")
        if self._predicted is None:
            self.predicted_source.data = self._bars(
                np.full(0, self.background), PREDICTED_SUFFIX
            )
        else:
            self.predicted_source.data = self._bars(self._predicted, PREDICTED_SUFFIX)
        self._update_table()
        self._update_info()

    def _update_table(self) -> None:
        bouts = self.bouts()
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
        label = str(self._labels[self._frame])
        text = f"frame {self._frame} / {self.n_frames - 1}"
        if self.fps:
            text += f" · {self._frame / self.fps:.2f} s"
        text += f" · marked: <b>{html.escape(label)}</b>"
        if self._predicted is not None:
            text += (
                f" · predicted: <b>{html.escape(str(self._predicted[self._frame]))}</b>"
            )
        if self._pending is not None:
            text += f" · bout started at frame {self._pending}"
        self.info.value = f'<span class="posekit-ethogram-info" data-frame="{self._frame}">{text}</span>'

    def _update_behavior_controls(self) -> None:
        if not hasattr(self, "behavior_buttons"):
            return
        self._guarding = True
        try:
            self.behavior_buttons.options = list(self._behaviors)
            if self._selected in self._behaviors:
                self.behavior_buttons.value = self._selected
            elif self._behaviors:
                self._selected = self._behaviors[0]
                self.behavior_buttons.value = self._selected
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
            y_range=FactorRange(factors=["(no behaviour)"]),
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

    def _build_controls(self) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox

        n = self.n_frames
        style = {"description_width": "initial"}
        self.behavior_buttons = w.ToggleButtons(
            options=list(self._behaviors), description="behaviour", style=style
        )
        if self._selected:
            self.behavior_buttons.value = self._selected
        self.behavior_buttons.observe(self._on_behavior_button, "value")
        self.new_behavior = w.Text(
            placeholder="new behaviour", layout=w.Layout(width="160px")
        )
        self.add_behavior_button = w.Button(description="Add", icon="plus",
                                            layout=w.Layout(width="80px"))  # fmt: skip
        self.add_behavior_button.on_click(
            lambda _: self._guard(self.add_behavior, self.new_behavior.value)
        )
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
                self.add_bout, self._selected, *self.range_slider.value
            )
        )
        self.info = w.HTML()
        self.message = w.HTML()
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

    def _on_behavior_button(self, change: dict[str, Any]) -> None:
        if not self._guarding and change["new"]:
            self._selected = change["new"]

    def _on_frame_slider(self, change: dict[str, Any]) -> None:
        self.frame = change["new"]

    def _on_tap(self, event: Any) -> None:
        """A tap on the timeline moves the cursor to the nearest frame."""
        x = getattr(event, "x", None)
        if x is not None and math.isfinite(x):
            self.frame = int(round(x))

    def _on_selection(self, event: Any) -> None:
        """A range drawn with the select tool sets the range slider."""
        geometry = getattr(event, "geometry", None) or {}
        if geometry.get("type") not in (None, "rect"):
            return
        x0, x1 = geometry.get("x0"), geometry.get("x1")
        if x0 is None or x1 is None or not math.isfinite(x0) or not math.isfinite(x1):
            return
        lo, hi = sorted((x0, x1))
        # the frames whose centre lies inside the range (at least the nearest one)
        start, end = int(math.ceil(lo)), int(math.floor(hi))
        if end < start:
            start = end = int(round((lo + hi) / 2))
        last = self.n_frames - 1
        start, end = min(max(start, 0), last), min(max(end, 0), last)
        self.range_slider.value = (start, end)
