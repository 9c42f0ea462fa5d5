"""The behaviour app (``notebooks/behavior.ipynb``): tracking files to behaviour results.

It goes from tracking files to behaviour tables and figures, without code.

Steps, top to bottom: **load** one file, a folder of sessions or a sessions table
(``file, group`` CSV) with a progress bar; **clean** (likelihood threshold, jump
removal, gap interpolation, smoothing: :func:`~posekit.engine.behavior.filters.filter_poses`);
**calibrate** (frame rate, millimetres per pixel:
:class:`~posekit.engine.behavior.calibration.Calibration`); draw **ROIs**
(:class:`~posekit.widgets.roi_editor.ROIEditor`); **metrics** (kinematics summary, ROI
occupancy / entries / latency, ROI visits); **classify** (supervised: mark bouts in the
:class:`~posekit.widgets.ethogram_annotator.EthogramAnnotator`, train a
:class:`~posekit.engine.behavior.classify.BehaviorClassifier` with blocked
cross-validation, predict every session; unsupervised: motifs with
:class:`~posekit.engine.behavior.cluster.BehaviorClusterer`); **export** tables (CSV,
Excel) and figures (PNG, SVG) into an output folder.

The engine's :class:`~posekit.engine.behavior.session.BehaviorModel` holds the state
and does the work (test it, or script it, without widgets); :class:`BehaviorApp` is the
page on top of it.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine.behavior.annotations import labels_file_for, read_behavior_names
from ..engine.behavior.calibration import Calibration
from ..engine.behavior.filters import SMOOTHING_METHODS, FilterConfig
from ..engine.behavior.roi import ROI
from ..engine.behavior.session import (
    FEW_FRAMES_FRACTION,
    SUGGESTED_MAX_GAP,
    BehaviorModel,
    Session,
    default_input,
)
from .app import error_message, live_region
from .data_root import check_in_data_root
from .pose_export import PoseExport, PoseExportModel

if TYPE_CHECKING:
    from ..engine.behavior.classify import BehaviorCVResult
    from ..engine.project import Project
    from .ethogram_annotator import EthogramAnnotator
    from .roi_editor import ROIEditor

__all__ = ["BehaviorApp"]

logger = logging.getLogger("posekit.widgets.behavior_app")


#: Style of the table rows whose numbers come from few frames.
_FEW_FRAMES_ROW = "class='posekit-few-frames' style='color:#6e7781;background:#fff8c5'"


#: Corner cell of the confusion matrix: the marked (true) behaviours down the rows,
#: the predicted ones across the columns.
CONFUSION_CORNER = "true \\ predicted"


def _confusion_rows(confusion: pd.DataFrame) -> pd.DataFrame:
    r"""Return the confusion matrix as plain rows for :func:`_html_table`.

    Its first column, headed :data:`CONFUSION_CORNER`, holds the true behaviour
    of each row; the other columns are the predicted behaviours. The index and
    column names of ``confusion`` (``true``, ``predicted``) would otherwise be
    drawn as header cells of their own, in one garbled header row.

    Examples
    --------
    >>> import pandas as pd
    >>> cm = pd.DataFrame([[3, 1], [0, 2]], index=pd.Index(["rest", "run"], name="true"),
    ...                   columns=pd.Index(["rest", "run"], name="predicted"))
    >>> _confusion_rows(cm).columns.tolist()
    ['true \\ predicted', 'rest', 'run']
    >>> _confusion_rows(cm).values.tolist()
    [['rest', 3, 1], ['run', 0, 2]]
    """
    table = pd.DataFrame(
        confusion.to_numpy(), columns=[str(c) for c in confusion.columns]
    )
    table.insert(0, CONFUSION_CORNER, [str(i) for i in confusion.index],
                 allow_duplicates=True)  # fmt: skip
    return table


#: Processing steps (``attrs["log"]``) in the words of the app's controls.
_STEP_NAMES = {
    "filter_by_confidence": "Likelihood cut-off",
    "filter_jumps": "Jumps removed",
    "interpolate_gaps": "Gaps filled",
    "filter_median": "Median filter",
    "filter_savgol": "Savitzky-Golay filter",
    "filter_butterworth": "Butterworth low-pass filter",
    "smooth_kalman": "Kalman smoother",
    "filter_kalman": "Kalman filter",
    "calibrate": "Calibration",
}
_PARAMETER_NAMES = {
    "threshold": "threshold",
    "n_points_removed": "points removed",
    "max_gap": "up to (frames)",
    "window": "window (frames)",
    "min_periods": "fewest known frames",
    "polyorder": "order",
    "cutoff": "cut-off (Hz)",
    "order": "order",
    "fps": "frames/s",
    "mm_per_px": "mm per pixel",
    "k": "times the body length",
    "body_length": "body length (px)",
}


def describe_step(step: dict[str, Any]) -> str:
    """Say one processing step in words: what, with which settings, when.

    Parameters
    ----------
    step
        One entry of the processing log (``{"operation", "parameters",
        "datetime"}``, :func:`posekit.engine.behavior.filters.get_log`).

    Returns
    -------
    str
        For example ``"Gaps filled: up to (frames) 10 (14:03 UTC)"``.

    Examples
    --------
    >>> describe_step({"operation": "filter_by_confidence",
    ...                "parameters": {"threshold": 0.6, "n_points_removed": 12},
    ...                "datetime": "2026-12-07T14:03:09+00:00"})
    'Likelihood cut-off: threshold 0.6, points removed 12 (14:03 UTC)'
    """
    operation = str(step.get("operation", "step"))
    name = _STEP_NAMES.get(operation, operation.replace("_", " ").capitalize())
    params = step.get("parameters")
    if not isinstance(params, dict):  # a log written by hand, flat
        params = {k: v for k, v in step.items() if k not in ("operation", "datetime")}
    settings = ", ".join(
        f"points of unknown likelihood {'kept' if v == 'keep' else 'removed'}"
        if k == "unknown"
        else f"{_PARAMETER_NAMES.get(k, k.replace('_', ' '))} {_setting(v)}"
        for k, v in params.items()
        if v is not None
    )
    when = str(step.get("datetime") or "")
    clock = f" ({when[11:16]} UTC)" if len(when) >= 16 and when[10] == "T" else ""
    return f"{name}: {settings}{clock}" if settings else f"{name}{clock}"


def _setting(value: Any) -> str:
    """Write a setting as a user reads it (floats to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value)
    return str(value)


def _html_table(
    df: pd.DataFrame | None,
    css: str,
    empty: str,
    max_rows: int = 200,
    few: Sequence[str] | None = None,
) -> str:
    """Return ``df`` as an HTML table (``few``: a note per row, marking the row)."""
    if df is None or df.empty:
        return f"<div class='{css}-empty'><i>{html.escape(empty)}</i></div>"
    shown = df.head(max_rows).copy()
    marked = [bool(n) for n in few[: len(shown)]] if few is not None else []
    if any(marked):  # "⚠ 38 % of frames" first, the row greyed
        shown.insert(0, "based on", [f"⚠ {n}" if n else "" for n in few[: len(shown)]])
    for col in shown.columns:  # nullable integers (ROI latency): "–" where missing
        if isinstance(shown[col].dtype, pd.api.extensions.ExtensionDtype) and (
            pd.api.types.is_integer_dtype(shown[col].dtype)
        ):
            shown[col] = shown[col].astype(object).where(shown[col].notna(), "–")
    table = shown.to_html(
        index=False, classes=css, float_format=lambda v: f"{v:.3f}", na_rep="–",
        border=0,
    )  # fmt: skip
    if any(marked):
        head, sep, body = table.partition("<tbody>")
        rows = body.split("<tr>")
        body = rows[0] + "".join(
            ("<tr " + _FEW_FRAMES_ROW + ">" if m else "<tr>") + row
            for m, row in zip(marked, rows[1:], strict=True)
        )
        table = head + sep + body
    more = (
        f"<small>(first {max_rows} of {len(df)} rows; all rows are exported)</small>"
        if len(df) > max_rows
        else ""
    )
    style = (
        f"<style>table.{css} th, table.{css} td "
        "{padding: 2px 8px; text-align: right; white-space: nowrap}</style>"
    )
    return f"{style}<div style='max-height:320px;overflow:auto'>{table}</div>{more}"


def _project_pcutoff(project: Project | None) -> float | None:
    """Return the project's p-cutoff (config ``pcutoff``), or ``None``."""
    if project is None:
        return None
    try:
        return float(project.pcutoff)
    except Exception:  # noqa: BLE001 - a bad config value: the app's own default
        logger.warning("cannot read the p-cutoff of %s", project.path)
        return None


def _dropped_note(dropped: Sequence[str], what: str) -> str:
    """Return a line naming the features left out as not every ``what`` has them."""
    if not dropped:
        return ""
    from ..engine.behavior.classify import describe_features

    return (
        f"<div class='posekit-dropped-features'><small>left out (not in every "
        f"{what}): {html.escape(describe_features(dropped))}</small></div>"
    )


def _file_stem(name: str) -> str:
    """``name`` made safe as part of a file name (``/`` and odd characters → ``_``)."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("._") or "track"


def _cell(content: str, width: int, title: str = "") -> Any:
    """One cell of the sessions table: long text wraps inside its column."""
    import ipywidgets as w

    tip = f" title='{html.escape(title, quote=True)}'" if title else ""
    return w.HTML(
        "<div style='white-space:normal;overflow-wrap:anywhere;word-break:break-all;"
        f"line-height:1.3;padding:4px 8px 4px 0'{tip}>{content}</div>",
        layout=w.Layout(width=f"{width}px", min_width=f"{width}px", overflow="hidden"),
    )


#: Column widths (px) of the sessions table: session, frames, fps, individuals.
_SESSION_COLUMNS = (("session", 360), ("frames", 80), ("fps", 70),
                    ("individuals", 180))  # fmt: skip


#: Layout of a row of the sessions table: as wide as its cells, never scrolled on
#: its own (the table scrolls as a whole in a narrow window).
_ROW = {"width": "max-content", "min_width": "max-content", "overflow": "visible"}


# ---------------------------------------------------------------- app


_SMOOTHERS = {
    "none": "none",
    "median": "median",
    "Savitzky–Golay": "savgol",
    "Butterworth": "butterworth",
    "Kalman": "kalman",
}


class BehaviorApp:
    """The behaviour app's page (display it, or ``.widget``).

    It shows a :class:`~posekit.engine.behavior.session.BehaviorModel`. The paths
    typed into its boxes (tracking file, labels file, output folder, ROI file) must
    lie inside the data root (:mod:`posekit.widgets.data_root`) or one of
    :attr:`allowed_folders`; others are refused with a message in the app.

    Parameters
    ----------
    project
        The project (default input, videos, output folder).
    path
        File, folder or sessions table to load first (default: the ``poses``
        parameter of the page's address, else
        :func:`~posekit.engine.behavior.session.default_input`).
    output_dir
        Where the export goes (default ``<project>/behavior-results``).
    autoload
        Load ``path`` at once.
    autosave
        Save the marked behaviour labels and the ROIs as they change, into
        :attr:`autosave_dir`, and load what was saved there when the sessions (and
        the app) open again. Off when there is neither a project nor an
        ``output_dir`` (nowhere that belongs to the analysis).
    load_bokehjs
        Load BokehJS into the page first (turn off in tests).

    Attributes
    ----------
    model : BehaviorModel
        State and computations.
    roi_editor : ROIEditor
        The ROI editor.
    annotator : EthogramAnnotator or None
        The annotator of the chosen track.
    allowed_folders : tuple of pathlib.Path
        Folders the boxes accept besides the data root: those given through the
        Python API (the output folder, the project, ``path`` or its folder).
    autosave_dir : pathlib.Path or None
        Where marks (``<track>_labels.csv``, :meth:`autosave_path`) and ROIs
        (``rois.geojson``) are saved as they change: the output folder
        (``<project>/behavior-results``); ``None`` when autosave is off.
    widget
        The page.
    """

    def __init__(
        self,
        project: Project | str | os.PathLike | None = None,
        *,
        path: str | os.PathLike | None = None,
        output_dir: str | os.PathLike | None = None,
        autoload: bool = True,
        autosave: bool = True,
        load_bokehjs: bool = True,
    ) -> None:
        import ipywidgets as w

        from ._bokeh import LiveVBox, ensure_bokehjs
        from .app import query_path
        from .roi_editor import ROIEditor

        if load_bokehjs:
            ensure_bokehjs()
        self.load_bokehjs = load_bokehjs
        self.model = BehaviorModel(project, output_dir=output_dir)
        self.project = project = self.model.project
        self.annotator: EthogramAnnotator | None = None
        self._annotator_key: str | None = None  # the track the annotator shows
        self._group_boxes: dict[str, Any] = {}
        self._quiet = False
        chosen = path or query_path("poses") or default_input(project)
        folders = [self.model.output_dir]
        if project is not None:
            folders.append(Path(project.path))
        if path is not None:
            folders.append(Path(path) if Path(path).is_dir() else Path(path).parent)
        self.allowed_folders: tuple[Path, ...] = tuple(folders)
        self.autosave_dir: Path | None = (
            self.model.output_dir
            if autosave and (project is not None or output_dir is not None)
            else None
        )
        style = {"description_width": "initial"}

        def header(text: str) -> Any:
            return w.HTML(f"<h3 style='margin:14px 0 4px 0'>{html.escape(text)}</h3>")

        def message() -> Any:
            m = live_region(w.HTML())  # announced by a screen reader (QA s15 #8)
            m.add_class("posekit-behavior-message")
            return m

        # --- 1. load
        self.path_box = w.Text(
            value=str(chosen or ""), description="file, folder or sessions table",
            placeholder="tracking file (.h5/.csv/.slp/.nc), a folder, or a file,group CSV",
            style=style, layout=w.Layout(width="720px"),
        )  # fmt: skip
        self.path_box.add_class("posekit-behavior-path")
        self.pattern_box = w.Text(value="*.h5", description="files in a folder",
                                  style=style, layout=w.Layout(width="220px"))  # fmt: skip
        self.load_button = w.Button(description="Load", icon="folder-open",
                                    button_style="primary")  # fmt: skip
        self.load_button.add_class("posekit-behavior-load")
        self.load_button.on_click(lambda _: self._guard(self.load_message, self.load))
        self.load_progress = w.IntProgress(
            min=0, max=1, value=0, description="files",
            layout=w.Layout(width="320px", visibility="hidden"),
        )  # fmt: skip
        self.load_message = message()
        self.sessions_box = w.VBox()
        self.sessions_box.add_class("posekit-sessions")
        # the table (~850 px) scrolls sideways in a narrow window (200 % zoom)
        self.sessions_box.add_class("posekit-scroll")
        self.sessions_box.layout = w.Layout(overflow="auto", max_width="100%")

        # --- 2. clean
        pcutoff = _project_pcutoff(project)
        self.threshold = w.FloatSlider(
            value=pcutoff or 0.0, min=0.0, max=1.0, step=0.01, description="likelihood threshold",
            style=style, continuous_update=False, layout=w.Layout(width="380px"),
        )  # fmt: skip
        self.jump_k = w.BoundedFloatText(
            value=0.0, min=0.0, max=100.0, step=0.1,
            description="remove jumps > (body lengths, 0: off)", style=style,
            layout=w.Layout(width="330px"),
        )  # fmt: skip
        self.body_from = w.Dropdown(description="body from", options=[], style=style,
                                    layout=w.Layout(width="220px"))  # fmt: skip
        self.body_to = w.Dropdown(description="to", options=[], style=style,
                                  layout=w.Layout(width="180px"))  # fmt: skip
        # by default short gaps are filled and the positions smoothed (median of 5
        # frames): unsmoothed, the demo's distance was 2.4 times the true path, as it
        # adds up the tracking's frame-to-frame jitter (QA s22 workshop #5); the
        # median alone, without the gap filling, blanked the frames around each point
        # below the p-cutoff (41 % of the demo's frames after a 2.5-minute training)
        self.max_gap = w.BoundedIntText(
            value=SUGGESTED_MAX_GAP, min=0, max=10_000,
            description="interpolate gaps ≤ (frames, 0: off)",
            style=style, layout=w.Layout(width="330px"),
        )  # fmt: skip
        self.smoother = w.Dropdown(options=list(_SMOOTHERS.items()), value="median",
                                   description="smoothing", style=style)  # fmt: skip
        self.window = w.BoundedIntText(value=5, min=1, max=501, step=2,
                                       description="window (frames)", style=style,
                                       layout=w.Layout(width="200px"))  # fmt: skip
        self.cutoff = w.BoundedFloatText(value=5.0, min=0.01, max=1000.0,
                                         description="cut-off (Hz)", style=style,
                                         layout=w.Layout(width="200px"))  # fmt: skip
        self.clean_button = w.Button(description="Apply cleaning", icon="filter")
        self.clean_button.on_click(
            lambda _: self._guard(self.clean_message, self.apply_cleaning)
        )
        self.clean_message = message()
        self.log_box = w.HTML()
        # the default cleaning applies at once: the p-cutoff, gaps, median
        self.model.set_cleaning(self.filter_config())
        if pcutoff:  # the project's p-cutoff, as in the Trajectories app
            self.clean_message.value = (
                "<small class='posekit-pcutoff-note'>Points with a likelihood below "
                f"the project's p-cutoff ({pcutoff:.2f}) are left out. Set the "
                "threshold to 0 and press <b>Apply cleaning</b> to keep every "
                "point.</small>"
            )

        # --- 3. calibrate
        self.fps = w.BoundedFloatText(value=0.0, min=0.0, max=10_000.0,
                                      description="frames per second (0: each file's own)",
                                      style=style, layout=w.Layout(width="300px"))  # fmt: skip
        self.mm_per_px = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.001,
                                            description="mm per pixel (0: pixels)",
                                            style=style, layout=w.Layout(width="300px"))  # fmt: skip
        self.arena_px = w.BoundedFloatText(value=0.0, min=0.0, max=1e6,
                                           description="arena width: px", style=style,
                                           layout=w.Layout(width="200px"))  # fmt: skip
        self.arena_mm = w.BoundedFloatText(value=0.0, min=0.0, max=1e6,
                                           description="mm", style=style,
                                           layout=w.Layout(width="150px"))  # fmt: skip
        self.arena_button = w.Button(description="Scale from arena", icon="arrows-h")
        self.arena_button.on_click(
            lambda _: self._guard(self.calib_message, self.scale_from_arena)
        )
        self.keypoint = w.Dropdown(description="keypoint for ROIs, distance, speed",
                                   options=[("centroid", "")], style=style,
                                   layout=w.Layout(width="420px"))  # fmt: skip
        self.calib_button = w.Button(description="Apply calibration", icon="check")
        self.calib_button.on_click(
            lambda _: self._guard(self.calib_message, self.apply_calibration)
        )
        self.calib_message = message()

        # --- 4. ROIs
        self.roi_editor: ROIEditor = ROIEditor(size=(640, 480), load_bokehjs=False)
        self.roi_editor.path_box.value = str(self.model.output_dir / "rois.geojson")
        self.roi_editor.allowed_folders = self.allowed_folders
        self.roi_note = w.HTML()
        self.roi_note.add_class("posekit-roi-autosave")
        self._load_saved_rois()
        self.roi_editor.on_change(self._on_rois)

        # --- 5. metrics
        # the measures come from few frames: say so above the tables, with fixes
        self.coverage_html = w.HTML()
        self.coverage_html.add_class("posekit-coverage-warning")
        self.fill_gaps_button = w.Button(
            description=f"Fill gaps ≤ {SUGGESTED_MAX_GAP} frames", icon="magic",
            tooltip=f"interpolate gaps of up to {SUGGESTED_MAX_GAP} frames (2. Clean)",
            layout=w.Layout(width="auto"),
        )  # fmt: skip
        self.fill_gaps_button.add_class("posekit-fill-gaps")
        self.fill_gaps_button.on_click(
            lambda _: self._guard(self.coverage_message, self.fill_gaps)
        )
        self.better_point_button = w.Button(icon="crosshairs",
                                            layout=w.Layout(width="auto"))  # fmt: skip
        self.better_point_button.add_class("posekit-better-point")
        self.better_point_button.on_click(
            lambda _: self._guard(self.coverage_message, self.use_better_point)
        )
        self.coverage_message = message()
        self._better_point: str | None = None
        self._coverage: pd.DataFrame | None = None
        self.coverage_box = w.VBox(
            [
                self.coverage_html,
                w.HBox([self.fill_gaps_button, self.better_point_button],
                       layout=w.Layout(flex_flow="row wrap")),
                self.coverage_message,
            ],
            layout=w.Layout(display="none"),
        )  # fmt: skip
        self.coverage_box.add_class("posekit-coverage")
        # what the smoothing does to distance and speeds (none: they add up jitter)
        self.jitter_note = w.HTML()
        self.jitter_note.add_class("posekit-jitter-note")
        self.kinematics_html = w.HTML()
        self.kinematics_html.add_class("posekit-kinematics-table")
        self.roi_html = w.HTML()
        self.roi_html.add_class("posekit-roi-table")
        self.roi_bouts_html = w.HTML()
        self.roi_bouts_html.add_class("posekit-roi-bouts-table")
        # several animals: distances, contacts, approaches (engine/behavior/social.py)
        self.social_distance = w.FloatText(
            value=0.0,
            description="contact closer than (0: body length)",
            style=style,
            layout=w.Layout(width="330px"),
        )
        self.social_button = w.Button(description="Apply", icon="users")
        self.social_button.on_click(lambda _: self.apply_social())
        self.social_html = w.HTML()
        self.social_html.add_class("posekit-social-table")

        # --- 6. classify
        self.track_dropdown = w.Dropdown(description="animal", options=[], style=style,
                                         layout=w.Layout(width="420px"))  # fmt: skip
        self.track_dropdown.observe(self._on_track, "value")
        self.labels_path = w.Text(description="labels file", style=style,
                                  placeholder="frame,behavior CSV or behavior,start,end CSV",
                                  layout=w.Layout(width="560px"))  # fmt: skip
        self.labels_load = w.Button(description="Load labels", icon="folder-open")
        self.labels_load.on_click(
            lambda _: self._guard(self.classify_message, self.load_labels)
        )
        self.labels_save = w.Button(description="Save labels", icon="save")
        self.labels_save.on_click(
            lambda _: self._guard(self.classify_message, self.save_labels)
        )
        self.labels_note = w.HTML()
        self.labels_note.add_class("posekit-labels-autosave")
        self.annotator_box = LiveVBox()
        self.clf_model = w.Dropdown(options=[("random forest", "random_forest"),
                                             ("gradient boosting", "gradient_boosting")],
                                    description="model", style=style)  # fmt: skip
        self.n_estimators = w.BoundedIntText(value=100, min=1, max=2000,
                                             description="trees", style=style,
                                             layout=w.Layout(width="160px"))  # fmt: skip
        self.min_bout = w.BoundedIntText(value=5, min=1, max=10_000,
                                         description="min bout (frames)", style=style,
                                         layout=w.Layout(width="200px"))  # fmt: skip
        self.train_button = w.Button(
            description="Train + cross-validate", icon="graduation-cap"
        )
        self.train_button.on_click(
            lambda _: self._guard(self.classify_message, self.train)
        )
        self.predict_button = w.Button(description="Predict all", icon="magic")
        self.predict_button.on_click(
            lambda _: self._guard(self.classify_message, self.predict)
        )
        self.n_motifs = w.BoundedIntText(value=6, min=1, max=100, description="motifs",
                                         style=style, layout=w.Layout(width="160px"))  # fmt: skip
        self.cluster_method = w.Dropdown(options=[("Gaussian mixture", "gmm"),
                                                  ("k-means", "kmeans")],
                                         description="method", style=style)  # fmt: skip
        self.cluster_button = w.Button(description="Find motifs", icon="th")
        self.cluster_button.on_click(
            lambda _: self._guard(self.classify_message, self.cluster)
        )
        self.classify_message = message()
        self.scores_html = w.HTML()
        self.scores_html.add_class("posekit-classifier-scores")
        self.behavior_html = w.HTML()
        self.behavior_html.add_class("posekit-behavior-table")

        # --- 7. export
        self.output_box = w.Text(value=str(self.model.output_dir), description="output folder",
                                 style=style, layout=w.Layout(width="640px"))  # fmt: skip
        self.output_box.add_class("posekit-output-dir")
        self.export_csv = w.Checkbox(value=True, description="CSV", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_excel = w.Checkbox(value=True, description="Excel", indent=False,
                                       layout=w.Layout(width="80px"))  # fmt: skip
        self.export_png = w.Checkbox(value=True, description="PNG", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_svg = w.Checkbox(value=False, description="SVG", indent=False,
                                     layout=w.Layout(width="80px"))  # fmt: skip
        self.export_button = w.Button(description="Export", icon="download",
                                      button_style="success")  # fmt: skip
        self.export_button.add_class("posekit-behavior-export")
        self.export_button.on_click(
            lambda _: self._guard(self.export_message, self.export)
        )
        self.export_progress = w.IntProgress(min=0, max=1, value=0,
                                             layout=w.Layout(width="320px", visibility="hidden"))  # fmt: skip
        self.export_message = message()
        self.files_html = w.HTML()
        self.files_html.add_class("posekit-written-files")
        #: The sessions' poses in another format (netCDF, DeepLabCut, NWB, …).
        self.pose_export = PoseExport(PoseExportModel(
            lambda: {s.name: s.poses for s in self.model.sessions},
            folder=self.output_folder,
        ))  # fmt: skip

        row = {"layout": w.Layout(flex_flow="row wrap", align_items="center")}
        self.widget = LiveVBox(
            [
                header("1. Load tracking files"),
                w.HBox([self.path_box], **row),
                w.HBox([self.pattern_box, self.load_button, self.load_progress], **row),
                self.load_message,
                self.sessions_box,
                header("2. Clean"),
                w.HBox([self.threshold, self.max_gap], **row),
                w.HBox([self.jump_k, self.body_from, self.body_to], **row),
                w.HBox([self.smoother, self.window, self.cutoff, self.clean_button], **row),
                self.clean_message,
                self.log_box,
                header("3. Calibrate"),
                w.HBox([self.fps, self.mm_per_px], **row),
                w.HBox([self.arena_px, self.arena_mm, self.arena_button], **row),
                w.HBox([self.keypoint, self.calib_button], **row),
                self.calib_message,
                header("4. Regions of interest"),
                self.roi_note,
                self.roi_editor.widget,
                header("5. Metrics"),
                self.coverage_box,
                w.HBox([w.HTML("<b>Movement</b>&nbsp;"), self.jitter_note]),
                self.kinematics_html,
                w.HTML("<b>Regions of interest</b> (latency: frames to the first frame inside)"),
                self.roi_html,
                w.HTML("<b>Visits</b>"),
                self.roi_bouts_html,
                w.HTML(
                    "<b>Several animals</b> (distances between them, time in contact,"
                    " contacts and who approached whom)"
                ),
                w.HBox([self.social_distance, self.social_button], **row),
                self.social_html,
                header("6. Classify behaviour"),
                w.HTML("<small><b>Supervised</b>: mark bouts of each behaviour on the "
                       "timeline (or load a labels file), train, then predict every "
                       "session. <b>Unsupervised</b>: find motifs without labels. "
                       "Predictions show as extra rows on the timeline.</small>"),
                w.HBox([self.track_dropdown], **row),
                w.HBox([self.labels_path, self.labels_load, self.labels_save], **row),
                self.labels_note,
                self.annotator_box,
                w.HBox([self.clf_model, self.n_estimators, self.min_bout,
                        self.train_button, self.predict_button], **row),
                w.HBox([self.n_motifs, self.cluster_method, self.cluster_button], **row),
                self.classify_message,
                self.scores_html,
                self.behavior_html,
                header("7. Export"),
                w.HBox([self.output_box], **row),
                w.HBox([self.export_csv, self.export_excel, self.export_png,
                        self.export_svg, self.export_button, self.export_progress], **row),
                self.export_message,
                self.files_html,
                self.pose_export.widget,
            ]
        )  # fmt: skip
        self.widget.add_class("posekit-behavior-app")
        self._refresh_all()
        if autoload and chosen:
            self._guard(self.load_message, self.load)

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        from ._bokeh import ensure_bokehjs

        ensure_bokehjs()
        display(self.widget)

    # ------------------------------------------------------------ plumbing
    def _guard(self, target: Any, fn: Callable[..., Any], *args: Any) -> Any:
        target.value = ""
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 - shown in the app
            logger.exception("behaviour app action failed")
            target.value = (
                '<div style="color:#cf222e;white-space:pre-wrap">'
                f"{html.escape(error_message(err))}</div>"
            )
            return None

    def checked_path(self, value: str | os.PathLike, what: str) -> Path:
        """Resolve a path typed into the app; refuse one outside the data root.

        Parameters
        ----------
        value
            The path in a box (relative: to the data root's first folder).
        what
            What it is, for the message (``"the output folder"``).

        Returns
        -------
        pathlib.Path
            The resolved path.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If it is outside the data root and :attr:`allowed_folders`.
        ValueError
            If it is empty.
        """
        if not str(value).strip():
            raise ValueError(f"Type the path of {what} first.")
        return check_in_data_root(value, what=what, also=self.allowed_folders)

    def output_folder(self) -> Path:
        """Return the output folder in its box (checked against the data root)."""
        value = self.output_box.value.strip()
        if not value:
            return self.model.output_dir
        return self.checked_path(value, "the output folder")

    def _progress(self, bar: Any) -> Callable[[int, int, str], None]:
        def update(done: int, total: int, name: str) -> None:
            bar.max = max(int(total), 1)
            bar.value = min(int(done), bar.max)
            bar.description = f"{done}/{total}"

        return update

    # ------------------------------------------------------------ 1. load
    def load(self, path: str | os.PathLike | None = None) -> list[Session]:
        """Load the file, folder or sessions table in the path box (or ``path``)."""
        if path is not None:
            self.path_box.value = str(path)
        if not self.path_box.value.strip():
            raise ValueError("type the path of a tracking file or a folder first")
        source = (
            Path(path)
            if path is not None  # given through the Python API: not restricted
            else self.checked_path(self.path_box.value.strip(), "the tracking file")
        )
        self.load_progress.layout.visibility = "visible"
        self.load_progress.value = 0
        loaded = self.model.load_path(
            source, self.pattern_box.value.strip() or "*",
            progress=self._progress(self.load_progress),
        )  # fmt: skip
        n = len(self.model.sessions)
        text = f"Loaded {len(loaded)} session(s); {n} in total."
        if self.model.load_errors:
            text += " Skipped: " + "; ".join(self.model.load_errors)
        self.load_message.value = (
            f"<span class='posekit-loaded'>{html.escape(text)}</span>"
        )
        self._after_load()
        return loaded

    def _after_load(self) -> None:
        m = self.model
        keypoints = m.sessions[0].keypoints if m.sessions else []
        self.keypoint.options = [("centroid", ""), *((k, k) for k in keypoints)]
        if m.keypoint in keypoints:
            self.keypoint.value = m.keypoint
        self.body_from.options = keypoints
        self.body_to.options = keypoints
        if keypoints:
            self.body_from.value = keypoints[-1]
            self.body_to.value = keypoints[0]
        self.fps.value = float(m.calibration.fps or 0.0)
        self._update_sessions()
        self._update_background()
        keys = m.track_keys()
        self._quiet = True  # one show_track below, not one per dropdown change
        try:
            self.track_dropdown.options = keys
            self.track_dropdown.value = keys[0] if keys else None
        finally:
            self._quiet = False
        self.annotator_box.children = []
        if self.annotator is not None:
            self.annotator.close()
            self.annotator = None
            self._annotator_key = None
        self._load_saved_labels()
        if keys:
            self.show_track(keys[0])
        self._refresh_all()

    def _update_sessions(self) -> None:
        import ipywidgets as w

        from ._bokeh import close_widget_tree

        head = [_cell(f"<b>{name}</b>", width) for name, width in _SESSION_COLUMNS] + [
            _cell("<b>group</b>", 160)
        ]
        # rows keep their width: the whole table scrolls, not each row on its own
        rows = [w.HBox(head, layout=w.Layout(align_items="flex-end", **_ROW))]
        rows[0].add_class("posekit-sessions-head")
        self._group_boxes = {}
        for s in self.model.sessions:
            box = w.Text(
                value=s.group, placeholder="group", layout=w.Layout(width="160px"),
                tooltip=f"group of {s.name}",  # its name for a screen reader
            )  # fmt: skip
            box.observe(
                lambda ch, name=s.name: self._set_group(name, ch["new"]), "value"
            )
            self._group_boxes[s.name] = box
            individuals = ", ".join(s.individuals)
            widths = dict(_SESSION_COLUMNS)
            rows.append(
                w.HBox(
                    [
                        _cell(f"<code class='posekit-session-name'>{html.escape(s.name)}</code>",
                              widths["session"], title=str(s.path or s.name)),
                        _cell(str(s.n_frames), widths["frames"]),
                        _cell(f"{s.fps:g}" if s.fps else "–", widths["fps"]),
                        _cell(html.escape(individuals), widths["individuals"],
                              title=individuals),
                        box,
                    ],
                    layout=w.Layout(align_items="center", **_ROW),
                )
            )  # fmt: skip
        previous = self.sessions_box.children
        self.sessions_box.children = rows
        for row in previous:
            close_widget_tree(row)

    def _set_group(self, name: str, group: str) -> None:
        self.model.set_group(name, group)

    def _update_background(self) -> None:
        """Show the first session's video frame (else a blank arena) under the ROIs."""
        m = self.model
        if not m.sessions:
            return
        s = m.sessions[0]
        if s.video is not None:
            try:
                from ..engine.video import VideoReader

                self.roi_editor.set_image(VideoReader(s.video)[0])
                return
            except Exception:  # noqa: BLE001 - unreadable video: blank arena
                logger.warning("cannot read a frame of %s", s.video)
        pos = s.poses["position"].values
        finite = pos[np.isfinite(pos)]
        extent = int(math.ceil(finite.max())) + 10 if finite.size else 640
        self.roi_editor.set_arena(extent, extent)

    # ------------------------------------------------------------ 2. clean
    def filter_config(self) -> FilterConfig:
        """Return the :class:`FilterConfig` the cleaning controls describe."""
        method = self.smoother.value
        if method not in SMOOTHING_METHODS:
            raise ValueError(f"unknown smoothing {method!r}")
        params: dict[str, Any] = {"method": method}
        if self.threshold.value > 0:
            params["confidence_threshold"] = float(self.threshold.value)
        if self.jump_k.value > 0:
            if not self.body_from.value or self.body_from.value == self.body_to.value:
                raise ValueError("jump removal needs two different body keypoints")
            params["jump_k"] = float(self.jump_k.value)
            params["body_length"] = (self.body_from.value, self.body_to.value)
        if self.max_gap.value > 0:
            params["max_gap"] = int(self.max_gap.value)
        window = int(self.window.value)
        if method in ("median", "savgol") and window % 2 == 0:
            window += 1
        params["window"] = window
        if method == "savgol":
            params["polyorder"] = min(2, window - 1)
        if method == "butterworth":
            params["cutoff"] = float(self.cutoff.value)
        return FilterConfig(**params)

    def apply_cleaning(self) -> FilterConfig:
        """Clean every session with the controls' settings and refresh the results."""
        config = self.model.set_cleaning(self.filter_config())
        self.clean_message.value = "<small>cleaning applied</small>"
        self._refresh_all()
        return config

    # ------------------------------------------------------------ 3. calibrate
    def scale_from_arena(self) -> float:
        """Set mm/pixel from the arena's width in pixels and in mm."""
        cal = Calibration.from_arena(self.arena_px.value, self.arena_mm.value)
        assert cal.mm_per_px is not None
        self.mm_per_px.value = round(cal.mm_per_px, 6)
        return cal.mm_per_px

    def apply_calibration(self) -> Calibration:
        """Apply the frame rate, pixel size and keypoint; refresh the results."""
        cal = self.model.set_calibration(
            self.fps.value or None, self.mm_per_px.value or None
        )
        self.model.set_keypoint(self.keypoint.value or None)
        self.calib_message.value = "<small>calibration applied</small>"
        if self.track_dropdown.value:
            self.show_track(self.track_dropdown.value)
        self._refresh_all()
        return cal

    # ------------------------------------------------------------ 4. ROIs
    @property
    def rois_path(self) -> Path | None:
        """Where the ROIs are saved as they change (``None``: autosave is off)."""
        return None if self.autosave_dir is None else self.autosave_dir / "rois.geojson"

    def _load_saved_rois(self) -> None:
        """Show the ROIs saved by an earlier visit (:attr:`rois_path`), if any."""
        path = self.rois_path
        if path is None:
            self.roi_note.value = ""
            return
        where = f"<code>{html.escape(str(path))}</code>"
        self.roi_note.value = (
            f"<small>ROIs are saved at once to {where}; they come back when the app "
            "opens this project again.</small>"
        )
        if not path.is_file():
            return
        try:
            rois = self.roi_editor.load(path)
        except Exception as err:  # noqa: BLE001 - shown in the app
            logger.exception("cannot read the saved ROIs %s", path)
            self.roi_editor.status.value = (
                f'<span style="color:#cf222e">The saved ROIs in {where} could not be '
                f"read ({html.escape(str(err))}); draw them again or load another "
                "GeoJSON file.</span>"
            )
            return
        self.model.set_rois(rois)
        self.roi_editor.status.value = (
            f"<small>loaded {len(rois)} saved ROI(s) from {where}</small>"
        )

    def _on_rois(self, rois: list[ROI]) -> None:
        self.model.set_rois(rois)
        self._refresh_rois()
        path = self.rois_path
        if path is not None:
            try:
                self.roi_editor.save(path)
            except Exception as err:  # noqa: BLE001 - shown in the app
                logger.exception("cannot save the ROIs to %s", path)
                self.roi_editor.status.value = (
                    f'<span style="color:#cf222e">The ROIs could not be saved to '
                    f"<code>{html.escape(str(path))}</code>: "
                    f"{html.escape(str(err))}</span>"
                )

    # ------------------------------------------------------------ 5. metrics
    def _refresh_all(self) -> None:
        m = self.model
        self._refresh_coverage()
        self.jitter_note.value = self._smoothing_note() if m.sessions else ""
        if m.sessions:
            self.log_box.value = self._log_html()
            kinematics = m.kinematics_table()
            self.kinematics_html.value = _html_table(
                kinematics, "posekit-kinematics", "nothing loaded",
                few=self._few_notes(kinematics),
            )  # fmt: skip
        else:
            self.log_box.value = ""
            self.kinematics_html.value = _html_table(
                None, "posekit-kinematics", "Load a tracking file first."
            )
        self._refresh_rois()
        self._refresh_social()
        self._refresh_behavior()

    def _smoothing_note(self) -> str:
        """Say beside *Movement* what the smoothing does to distance and speeds."""
        config = self.model.filter_config
        if config.method == "none":
            return (
                "<small>(no smoothing: distance and speeds add up the tracking's "
                "frame-to-frame jitter; choose a smoothing in <i>2. Clean</i>, e.g. "
                "median, to measure the animal's own movement)</small>"
            )
        return (
            f"<small>(positions smoothed: {html.escape(config.describe_smoothing())}; "
            "unsmoothed, distance and speeds would add up the tracking's "
            "frame-to-frame jitter. Change it in <i>2. Clean</i>; the table's "
            "<code>smoothing</code> column records it)</small>"
        )

    def _refresh_coverage(self) -> None:
        """Show, above the tables, which animals' measures come from few frames."""
        m = self.model
        self._coverage = m.coverage_table() if m.sessions else None
        text = m.coverage_warning(fixes=False) if m.sessions else ""
        self.coverage_message.value = ""
        if not text:
            self.coverage_box.layout.display = "none"
            self.coverage_html.value = ""
            self._better_point = None
            return
        few = self._coverage[self._coverage["few_frames"]]
        better = few[few["better_point"] != ""]
        self._better_point = None
        if not better.empty:
            best = better.sort_values("better_fraction").iloc[-1]
            self._better_point = str(best["better_point"])
            self.better_point_button.description = (
                f"Measure the {self._better_point} ({best['better_fraction']:.0%} "
                "of frames)"
            )
        gaps = m.filter_config.max_gap or 0
        self.fill_gaps_button.layout.display = (
            "none" if gaps >= SUGGESTED_MAX_GAP else None
        )
        self.better_point_button.layout.display = None if self._better_point else "none"
        threshold = m.filter_config.confidence_threshold
        lower = (
            f" Or lower the likelihood threshold ({threshold:g}) in <i>2. Clean</i> "
            "if the tracking is good but unsure."
            if threshold
            else ""
        )
        lines = "<br>".join(html.escape(line) for line in text.splitlines())
        self.coverage_html.value = (
            "<div style='border-left:4px solid #d4a72c;background:#fff8c5;"
            "padding:6px 10px;margin:4px 0'><b>⚠ These numbers come from few "
            f"frames</b> (the point measured is known in less than {FEW_FRAMES_FRACTION:.0%}"
            f" of the frames; those rows are greyed below).<br>{lines}<br>"
            f"<small>To use more frames, press a button below.{lower}</small></div>"
        )
        self.coverage_box.layout.display = None

    def _few_notes(self, table: pd.DataFrame) -> list[str] | None:
        """Return a note per row of ``table`` (its animal's measures: few frames)."""
        cov = self._coverage
        if cov is None or cov.empty or table.empty or "individual" not in table:
            return None
        notes = {
            (r.session, r.individual): f"{r.fraction:.0%} of frames"
            for r in cov.itertuples()
            if r.few_frames
        }
        if not notes:
            return None
        return [
            notes.get((s, i), "")
            for s, i in zip(table["session"], table["individual"], strict=True)
        ]

    def fill_gaps(self) -> FilterConfig:
        """Interpolate gaps of up to :data:`SUGGESTED_MAX_GAP` frames and refresh."""
        self.max_gap.value = max(int(self.max_gap.value), SUGGESTED_MAX_GAP)
        return self.apply_cleaning()

    def use_better_point(self) -> Calibration:
        """Measure the point known in the most frames (the warning's) and refresh."""
        if not self._better_point:
            raise ValueError("every point is known in enough frames")
        value = "" if self._better_point == "centroid" else self._better_point
        self.keypoint.value = value
        return self.apply_calibration()

    def apply_social(self) -> None:
        """Set the contact distance (0: body length) and refresh the social table."""
        value = float(self.social_distance.value or 0.0)
        # the other settings (approach, release, following) are kept
        distance = value if value > 0 else None
        settings = {**self.model.social, "contact_distance": distance}
        self.model.set_social(**settings)
        self._refresh_social()

    def _refresh_social(self) -> None:
        m = self.model
        table = m.social_table() if m.sessions else None
        self.social_html.value = _html_table(
            table,
            "posekit-social",
            "One animal per session: load the tracks of several animals (…_el.h5).",
        )

    def _log_html(self) -> str:
        m = self.model
        steps = m.processing_log(m.sessions[0].name)
        if not steps:
            return "<small>No processing yet (raw positions).</small>"
        items = [f"<li>{html.escape(describe_step(step))}</li>" for step in steps]
        return (
            "<small>Processing log:</small><ol style='font-size:small'>"
            + "".join(items)
            + "</ol>"
        )

    def _refresh_rois(self) -> None:
        m = self.model
        if not m.sessions:
            self.roi_html.value = _html_table(
                None, "posekit-roi", "Load a tracking file first."
            )
            self.roi_bouts_html.value = ""
            return
        if not m.rois:
            self.roi_html.value = _html_table(
                None,
                "posekit-roi",
                "Draw a region of interest (shift + drag on the frame).",
            )
            self.roi_bouts_html.value = ""
            return
        areas = m.roi_table()
        crossings = m.line_crossings_table()
        self.roi_html.value = (
            _html_table(areas, "posekit-roi", "no ROI", few=self._few_notes(areas))
            if not areas.empty
            else ""
        ) + (
            "<small>Line crossings (to_right: onto the line's right-hand side, "
            "walking from its first point to its last):</small>"
            + _html_table(crossings, "posekit-line-crossings", "no line")
            if not crossings.empty
            else ""
        )
        self.roi_bouts_html.value = (
            _html_table(
                m.roi_bouts_table(), "posekit-roi-bouts", "No visit to any ROI."
            )
            if not areas.empty
            else ""
        )

    # ------------------------------------------------------------ 6. classify
    def autosave_path(self, key: str) -> Path | None:
        """Where the marks of track ``key`` are saved as they change.

        ``<output folder>/<session>_labels.csv`` (``<session>_<individual>_labels.csv``
        for sessions of several animals): one ``frame, behavior`` row per frame, the
        file **Save labels** writes by default. ``None`` when autosave is off.
        """
        if self.autosave_dir is None:
            return None
        track = self.model.track(key)
        name = (
            track.session
            if track.key == track.session
            else f"{track.session}_{track.individual}"
        )
        return self.autosave_dir / f"{_file_stem(name)}_labels.csv"

    def _load_saved_labels(self) -> None:
        """Mark every track with the labels saved by an earlier visit, if any."""
        m = self.model
        failed = []
        for key in m.track_keys():
            path = self.autosave_path(key)
            if key in m.annotations or path is None or not path.is_file():
                continue
            try:
                m.load_labels(key, path)
            except Exception as err:  # noqa: BLE001 - reported, the others load
                logger.exception("cannot read the saved labels %s", path)
                failed.append(f"{path.name} ({err})")
        if failed:
            self.classify_message.value = (
                '<div style="color:#cf222e">Saved labels could not be read: '
                f"{html.escape('; '.join(failed))}</div>"
            )

    def _marks_changed(self, key: str, labels: np.ndarray) -> None:
        """Keep the marks of track ``key`` and save them at once (autosave)."""
        self.model.set_annotation(key, labels)
        path = self.autosave_path(key)
        if path is None:
            return
        try:
            self.model.save_labels(key, path)
        except Exception as err:  # noqa: BLE001 - shown in the app
            logger.exception("cannot save the labels to %s", path)
            self.labels_note.value = (
                f'<span style="color:#cf222e">Your marks could not be saved to '
                f"<code>{html.escape(str(path))}</code>: {html.escape(str(err))}"
                "</span>"
            )
            return
        self._show_labels_note(key, saved=time.strftime("%H:%M:%S"))

    def _show_labels_note(self, key: str, saved: str = "") -> None:
        path = self.autosave_path(key)
        if path is None:
            self.labels_note.value = (
                "<small>Your marks are not saved by themselves here: press "
                "<b>Save labels</b>.</small>"
            )
            return
        when = f" (last saved {saved})" if saved else ""
        self.labels_note.value = (
            "<small>Every mark is saved at once to "
            f"<code class='posekit-labels-file'>{html.escape(str(path))}</code>{when}; "
            "the marks come back when the app opens this session again.</small>"
        )

    def _on_track(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._guard(self.classify_message, self.show_track, change["new"])

    def show_track(self, key: str | None) -> EthogramAnnotator | None:
        """Show the annotator of track ``key`` (its marks and predictions)."""
        from .ethogram_annotator import EthogramAnnotator

        if not key:
            return None
        m = self.model
        track = m.track(key)
        session = m.session(track.session)
        labels = m.annotations.get(key)
        found = labels_file_for(session.path, m.project)
        behaviors: list[str] = []
        if self.annotator is not None:
            behaviors = self.annotator.behaviors
        elif found is not None:  # offer the behaviours of the labels file
            with contextlib.suppress(Exception):
                behaviors = read_behavior_names(found)
        annot = EthogramAnnotator(
            session.n_frames, behaviors, labels=labels,
            fps=m.session_fps(session.name),
            background=m.background, title=f"ethogram · {key}",
            load_bokehjs=False,
        )  # fmt: skip
        if key in m.predictions:
            annot.set_predictions(m.predictions[key])
        annot.on_change(lambda labels, k=key: self._marks_changed(k, labels))
        annot.bokeh_model.refresh()  # its view is made after this (see LiveBokehModel)
        previous, self.annotator = self.annotator, annot
        self._annotator_key = key
        self.annotator_box.children = [annot.widget]
        if previous is not None:  # after it left the page (see close_widget_tree)
            previous.close()
        saved = self.autosave_path(key)
        default = saved or m.output_dir / f"{_file_stem(key)}_labels.csv"
        # the user's own saved marks first, else a labels file found for the file
        shown = default if default.is_file() or found is None else found
        self.labels_path.value = str(shown)
        self._show_labels_note(key)
        return annot

    def load_labels(self, path: str | os.PathLike | None = None) -> np.ndarray:
        """Load marks for the shown track from a labels CSV (the path box or ``path``).

        A file with an ``individual`` column (BORIS: ``Subject``) gives the shown
        animal its own rows (:meth:`BehaviorModel.load_labels
        <posekit.engine.behavior.session.BehaviorModel.load_labels>`); a file
        without rows of that animal is refused.
        """
        if self.annotator is None or self._annotator_key is None:
            raise ValueError("load a tracking file first")
        path = (
            Path(path)
            if path  # given through the Python API: not restricted
            else self.checked_path(self.labels_path.value.strip(), "the labels file")
        )
        labels = self.model.load_labels(self._annotator_key, path)
        self.annotator.set_labels(labels)  # saved at once (autosave), as a mark
        n_marked = int((labels != self.model.background).sum())
        self.classify_message.value = f"<small>loaded labels for {n_marked} frames from {html.escape(str(path))}</small>"
        return labels

    def save_labels(self) -> Path:
        """Save the shown track's marks to the labels path."""
        if self.annotator is None:
            raise ValueError("load a tracking file first")
        path = self.checked_path(self.labels_path.value.strip(), "the labels file")
        path.parent.mkdir(parents=True, exist_ok=True)
        out = self.annotator.save(path)
        self.classify_message.value = f"<small>saved {html.escape(str(out))}</small>"
        return out

    def train(self) -> BehaviorCVResult:
        """Train and cross-validate the classifier on the marked frames."""
        result = self.model.train(
            model=self.clf_model.value,
            n_estimators=int(self.n_estimators.value),
            min_bout=int(self.min_bout.value),
        )
        scores = result.scores.reset_index()
        self.scores_html.value = (
            f"<b>Cross-validated</b> (contiguous blocks): macro F1 "
            f"<b class='posekit-macro-f1'>{result.macro_f1:.3f}</b>, accuracy "
            f"{result.accuracy:.3f}"
            + _html_table(scores, "posekit-scores", "")
            + "<small>Confusion matrix (rows: marked, columns: predicted)</small>"
            + _html_table(_confusion_rows(result.confusion), "posekit-confusion", "")
            + _dropped_note(self.model.train_dropped_features, "marked session")
        )
        return result

    def predict(self) -> dict[str, np.ndarray]:
        """Predict every track with the trained classifier."""
        preds = self.model.predict()
        self._show_predictions()
        return preds

    def cluster(self) -> dict[str, np.ndarray]:
        """Find motifs over every track."""
        preds = self.model.cluster(
            int(self.n_motifs.value), method=self.cluster_method.value
        )
        total = sum(len(v) for v in preds.values())
        # fitted on a sample (bounded memory), every frame labelled chunk by chunk
        self.classify_message.value = (
            f"<small>motifs fitted on {self.model.cluster_sample_frames:,} of "
            f"{total:,} frames (evenly spaced); every frame labelled</small>"
            + _dropped_note(self.model.cluster_dropped_features, "session")
        )
        self._show_predictions()
        return preds

    def _show_predictions(self) -> None:
        key = self.track_dropdown.value
        if self.annotator is not None and key in self.model.predictions:
            self.annotator.set_predictions(self.model.predictions[key])
        self._refresh_behavior()

    def _refresh_behavior(self) -> None:
        m = self.model
        if not m.predictions:
            self.behavior_html.value = ""
            return
        what = "motifs" if m.prediction_kind == "motifs" else "predicted behaviour"
        parts = [f"<b>Summary of the {what}</b>"]
        parts.append(
            _html_table(
                m.behavior_summary_table(), "posekit-behavior-summary", "no bouts"
            )
        )
        if m.motif_table is not None:
            parts.append("<b>Example clips per motif</b> (longest bouts)")
            parts.append(_html_table(m.motif_table, "posekit-motifs", "no motif"))
        self.behavior_html.value = "".join(parts)

    # ------------------------------------------------------------ 7. export
    def export(self) -> list[Path]:
        """Export the checked formats into the output folder; list the files."""
        folder = self.output_folder()
        formats = [
            f
            for f, box in (("png", self.export_png), ("svg", self.export_svg))
            if box.value
        ]
        self.export_progress.layout.visibility = "visible"
        self.export_progress.value = 0
        files = self.model.export(
            folder, csv=self.export_csv.value, excel=self.export_excel.value,
            figure_formats=formats, progress=self._progress(self.export_progress),
        )  # fmt: skip
        self.export_progress.value = self.export_progress.max
        items = "".join(
            f"<li><code class='posekit-written-file'>{html.escape(p.name)}</code></li>"
            for p in files
        )
        self.files_html.value = (
            f"<div>Wrote {len(files)} file(s) to <code>{html.escape(str(folder))}</code>:"
            f"<ul>{items}</ul></div>"
        )
        return files
