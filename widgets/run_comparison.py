"""The view of :class:`~posekit.widgets.run_comparison_model.RunComparisonModel`.

Backbones to compare, a budget, a button, and the table of finished runs (best test
error first), as they come in. The training dashboard shows it in a collapsible
section.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..engine.project import Project
from .app import live_region, style_button
from .run_comparison_model import RunComparisonModel

__all__ = ["RunComparison", "comparison_table_html"]

_COLUMNS = (
    ("backbone", "backbone"),
    ("shuffle", "shuffle"),
    ("iterations", "iterations"),
    ("test_error_px", "test error (px)"),
    ("wall_s", "wall time (s)"),
    ("threads", "threads"),
)


def comparison_table_html(rows: Sequence[dict]) -> str:
    """Return the runs as an HTML table (``""`` without rows).

    Examples
    --------
    >>> print(comparison_table_html([{"backbone": "a", "shuffle": 2,
    ...     "iterations": 10, "test_error_px": 3.14159, "wall_s": 12.0, "threads": 1}]))
    <table class="posekit-run-comparison"><tr><th>backbone</th>...<td>3.14</td>...
    """
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in _COLUMNS)
    body = []
    for row in rows:
        cells = []
        for key, _ in _COLUMNS:
            value = row.get(key)
            if isinstance(value, float):
                text = f"{value:.2f}" if key == "test_error_px" else f"{value:.0f}"
            else:
                text = "" if value is None else str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table class="posekit-run-comparison"><tr>'
        + head
        + "</tr>"
        + "".join(body)
        + "</table>"
    )


class RunComparison:
    """Widgets to train backbones in parallel and compare them (``.widget``).

    Parameters
    ----------
    model
        The model, or a project.
    backbones
        The backbones offered (default: the engine's registry).
    """

    def __init__(
        self,
        model: RunComparisonModel | Project,
        *,
        backbones: Sequence[str] | None = None,
    ) -> None:
        import ipywidgets as w

        if not isinstance(model, RunComparisonModel):
            model = RunComparisonModel(model)
        self.model = m = model
        if backbones is None:
            from ..engine.models.registry import list_backbones

            backbones = list_backbones()
        style = {"description_width": "initial"}
        self.backbones = w.SelectMultiple(
            options=list(backbones), description="backbones", rows=4, style=style
        )
        self.iterations = w.BoundedIntText(
            min=1, max=10_000_000, description="iterations each", style=style,
            layout=w.Layout(width="200px"),
        )  # fmt: skip
        self.minutes = w.BoundedFloatText(
            min=0.0, max=10_000.0, description="minutes each (0: no limit)",
            style=style, layout=w.Layout(width="230px"),
        )  # fmt: skip
        w.link((m, "iterations"), (self.iterations, "value"))
        w.link((m, "minutes"), (self.minutes, "value"))
        self.compare_button = style_button(  # white text 4.5:1 (QA s15 #13)
            w.Button(
                description="Train in parallel", icon="play", button_style="success"
            ),
            "go",
        )
        self.compare_button.on_click(lambda _: self._compare())
        self.status = live_region(w.HTML())  # announced (QA s15 #8)
        self.table = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.backbones, w.VBox([self.iterations, self.minutes])]),
                w.HBox([self.compare_button, self.status]),
                self.table,
            ]
        )
        self.widget.add_class("posekit-run-comparison")
        m.observe(lambda _: self._update(), ["state", "message", "rows", "error"])
        self._update()

    def _compare(self) -> None:
        try:
            self.model.compare(list(self.backbones.value))
        except (RuntimeError, ValueError) as err:
            self.model.message = str(err)

    def _update(self) -> None:
        m = self.model
        self.compare_button.disabled = m.state == "running"
        colour = "#b00" if m.state == "error" else "#444"
        self.status.value = (
            f'<span style="color:{colour}">{html.escape(m.message)}</span>'
        )
        self.table.value = comparison_table_html(m.rows)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
