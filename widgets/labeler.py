"""Click-to-label canvas: Bokeh in ``jupyter_bokeh.BokehModel`` + ipywidgets controls.

:class:`Labeler` is the view of a :class:`~posekit.widgets.labeler_model.LabelerModel`,
which holds the labelling state and logic (and saves every change to DeepLabCut's
``CollectedData_<scorer>.h5``/``.csv``). This module only turns browser events into
model calls and model state into the Bokeh document and the controls:

- the frame is sent as a JPEG (or PNG) data URL to a Bokeh ``ImageURL`` glyph, never
  as raw pixels;
- the points ``ColumnDataSource`` mirrors the model's
  :attr:`~posekit.widgets.labeler_model.LabelerModel.points_table`; what Bokeh's
  ``PointDrawTool`` sends back (twice per change, plus echoes of Python's own writes)
  goes to :meth:`~posekit.widgets.labeler_model.LabelerModel.receive_points`, which
  applies each user edit once, to the frame it was made on;
- keys are caught in the page (:data:`KEYS_JS`, installed by a Bokeh ``CustomJS``
  when the document is ready): wherever the focus is in the app (except text
  fields; in a JupyterLab or Notebook 7 notebook only while the pointer is over the
  labeller or the last click was in it, and then never reaching the notebook's
  command mode, where ``x`` would cut the cell), they reach Python through a small
  data source; frame switches are shown at
  once from the frames prefetched around the current one (image and points), then
  confirmed by Python. A second click within Bokeh's double-tap time places a second
  point (Bokeh would otherwise swallow it as a DoubleTap), and a dragged point
  follows the pointer even when a points table from a slow kernel lands mid-drag.
  While a button is down on the image nothing above it changes height (the status
  line reserves two lines; the rest is held until the button is released), so the
  canvas never moves under the pointer, and a press held still before moving drags
  (Bokeh took it as a "press" and ignored the moves);
- machine points (predictions) are hollow circles whose outline is coloured by
  likelihood (:data:`MACHINE_COLORS`; the bodypart's button also gives the likelihood
  in numbers and words), labels are filled in their bodypart's colour;
- without a mouse, ``k`` (or Enter on the image) places the selected bodypart and the
  arrows move it; ``+`` / ``-`` zoom. A focused tab bar, slider, list or button keeps
  its own keys (:data:`OWN_KEYS_RULE`);
- :data:`VIEW_JS` names the image for screen readers, makes the status line and the
  message live regions, scales the canvas down to the width the page gives it and
  reports the active Bokeh tool (toolbar buttons) back to the status line.

Coordinates are image pixels with pixel centres at integers: the image spans
``-0.5 .. W - 0.5``, ``y`` points down (flipped y range).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import ipywidgets as W
import numpy as np
from bokeh.document import Document
from bokeh.models import (
    CategoricalColorMapper,
    ColumnDataSource,
    CustomJS,
    Label,
    LabelSet,
    PanTool,
    PointDrawTool,
    Range1d,
    ResetTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from ..engine.project import Project
from ._bokeh import (
    BokehComponent,
    LiveBokehModel,
    LiveVBox,
    display_scale,
    encode_image,
    ensure_bokehjs,
    text_color,
)
from .frame_image import IMAGE_FORMATS, image_file_data_url, placeholder_data_url
from .labeler_model import (
    ANCHOR,
    MULTIANIMAL_ACTIONS,
    NAME_FONT_PX,
    SHORTCUTS,
    LabelerModel,
    key_action,
)

__all__ = [
    "ANCHOR",
    "KEYS_JS",
    "MACHINE_COLORS",
    "NOTEBOOK_KEYS_RULE",
    "OWN_KEYS_RULE",
    "PREDECODE_JS",
    "PREFETCH",
    "SHORTCUTS",
    "VIEW_JS",
    "Labeler",
]

_KEY_LABELS = {
    "Enter": "Enter",
    "Backspace": "Backspace",
    "ArrowRight": "→",
    "ArrowLeft": "←",
    "ArrowDown": "↓",
    "ArrowUp": "↑",
    "Delete": "Del",
    "Escape": "Esc",
}

#: Which keys a focused control keeps (shown in the help and the docs; :data:`KEYS_JS`
#: implements it).
OWN_KEYS_RULE = (
    "The keys work wherever the focus is in the app, except: while typing in a box; "
    "arrow keys, Home, End, PageUp and PageDown on a focused tab bar, slider, "
    "drop-down or list (they move that control); Enter and Space on a focused "
    "button, link or toolbar button (they press it)."
)

#: Where the keys work in a JupyterLab (or Notebook 7) notebook, whose command mode
#: has single-key shortcuts of its own (shown in the docs, and in the help unless the
#: labeller is in a Voila app).
NOTEBOOK_KEYS_RULE = (
    "In a JupyterLab notebook the keys act on the labeller while the pointer is over "
    "it or after a click in it, and never reach the notebook (x does not cut the "
    "cell); a click elsewhere in the notebook gives the notebook its keys back."
)

#: Environment variables that Voila sets for the kernel of a page it renders (its
#: ``SERVER_SOFTWARE`` is ``voila/<version>``; a pre-heated kernel has the others).
_VOILA_VARIABLES = ("VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL")


def _runs_in_voila(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this kernel runs a page that Voila renders (not a notebook).

    Examples
    --------
    >>> _runs_in_voila({"SERVER_SOFTWARE": "voila/0.5.13", "QUERY_STRING": ""})
    True
    >>> _runs_in_voila({"JPY_SESSION_NAME": "/home/me/label.ipynb"})
    False
    """
    env = os.environ if environ is None else environ
    return env.get("SERVER_SOFTWARE", "").startswith("voila/") or any(
        name in env for name in _VOILA_VARIABLES
    )


#: How a machine point's likelihood class is said in words (beside its colour).
_GUESS_WORDS = {
    "p-high": "sure",
    "p-mid": "unsure",
    "p-low": "below the p-cutoff",
}

#: Outline of a point: black for a label, by likelihood class for a machine point.
MACHINE_COLORS = {
    "label": "#000000",
    "p-high": "#1a9850",
    "p-mid": "#fdae61",
    "p-low": "#d73027",
}

#: How much ``+`` zooms in (and ``-`` out).
ZOOM_STEP = 1.5

#: Frames sent ahead around the current one (positions relative to it), plus the
#: next frame with work left.
PREFETCH = (-2, -1, 1, 2)

#: Decodes the prefetched frames' images as soon as they arrive, so that showing one
#: finds it decoded (the browser keeps the decoded image of a data URL).
PREDECODE_JS = """
const keep = window.posekitDecoded || (window.posekitDecoded = []);
for (const url of prefetch_source.data.url) {
  const img = new Image();
  img.src = url;
  if (img.decode) { img.decode().catch(() => null); }
  keep.push(img);
}
while (keep.length > 12) { keep.shift(); }
"""

#: Installed once per labeller and page (by ``document_ready``, and again on the
#: first navigation update as a fallback): catches the keys wherever the focus is in
#: the app, switches frames at once from the prefetched ones, forwards every key to
#: Python, and makes a second quick click a click (not a swallowed DoubleTap).
KEYS_JS = """
const KEY = "posekit_labeler_" + nav_source.id;
if (window[KEY]) { return; }
window[KEY] = true;
// A dragged point follows the pointer (grab offset kept), not the sum of the moves:
// Bokeh adds each move to the point's current value, so a points table from Python
// that lands mid-drag (a slow kernel answering the previous edit) would otherwise
// put the point back where that table has it and the drag would end off the pointer.
const rowKey = (d, i) => (d.bodypart ? d.bodypart[i] + "|" + (d.fill ? d.fill[i] : "") : i);
const rowOf = (d, key, n) => {
  if (!d.bodypart) { return key < n ? key : -1; }
  for (let i = 0; i < n; i++) { if (rowKey(d, i) === key) { return i; } }
  return -1;
};
const fixDrag = (proto) => {
  const panStart = proto._pan_start, pan = proto._pan, panEnd = proto._pan_end;
  proto._pan_start = function (ev) {
    panStart.call(this, ev);
    this.__posekit_grab = null;
    const r = this.model.renderers[0];
    const p = this._basepoint == null || !r ? null : this._map_drag(ev.sx, ev.sy, r);
    if (p == null) { return; }
    const d = r.data_source.data;
    const xs = d[r.glyph.x.field], ys = d[r.glyph.y.field];
    this.__posekit_grab = Array.from(r.data_source.selected.indices, (i) => (
      {key: rowKey(d, i), dx: xs[i] - p[0], dy: ys[i] - p[1]}));
  };
  proto._pan = function (ev) {
    pan.call(this, ev);
    const grab = this.__posekit_grab, r = this.model.renderers[0];
    if (!grab || grab.length === 0 || this._basepoint == null) { return; }
    const p = this._map_drag(ev.sx, ev.sy, r);
    if (p == null) { return; }
    const cds = r.data_source, d = cds.data;
    const xs = d[r.glyph.x.field], ys = d[r.glyph.y.field];
    for (const g of grab) {
      const i = rowOf(d, g.key, xs.length);
      if (i >= 0) { xs[i] = p[0] + g.dx; ys[i] = p[1] + g.dy; }
    }
    cds.change.emit();
  };
  proto._pan_end = function (ev) {
    panEnd.call(this, ev);
    this.__posekit_grab = null;
  };
};
const fixTap = () => {
  for (const v of Bokeh.index.find_all(draw_tool)) {
    const proto = Object.getPrototypeOf(v);
    if (!proto.__posekit_tap) {
      proto._doubletap = function (ev) { this._tap(ev); };
      fixDrag(proto);
      proto.__posekit_tap = true;
    }
  }
};
fixTap();
setTimeout(fixTap, 500);
setTimeout(fixTap, 3000);
const views = () => Bokeh.index.find_all(fig).filter(
  (v) => v.el && v.el.isConnected && v.el.getClientRects().length > 0);
// QA s16 #1: nothing above the image may change its height while a button is down
// on it. Bokeh maps the pointer through the canvas's place on the page at each
// event, so a status line that wraps mid-drag (the dragged point becomes the active
// one) moved the canvas down a line and the point was saved that far off the
// pointer. Every element before the canvas (the previous siblings of its ancestors:
// the status line, messages, live regions, progress) keeps its height until the
// button is released; then the page lays out what changed meanwhile.
// And a press held still before moving (Bokeh's "press" after 300 ms) is a drag
// like any other: Bokeh ignored the moves that followed, so the point stayed put.
let frozen = null;
const parentOf = (e) => e.parentElement || (e.getRootNode && e.getRootNode().host) || null;
const freeze = (start) => {
  const held = [];
  for (let e = start; e && e !== document.body; e = parentOf(e)) {
    for (let s = e.previousElementSibling; s; s = s.previousElementSibling) {
      const cs = getComputedStyle(s);
      if (cs.position === "absolute" || cs.position === "fixed") { continue; }
      const h = cs.display === "none" ? "0px" : cs.height;
      if (!h.endsWith("px")) { continue; }
      held.push([s, s.style.minHeight, s.style.maxHeight, s.style.overflow]);
      s.style.minHeight = h;
      s.style.maxHeight = h;
      s.style.overflow = "hidden";
    }
  }
  return held;
};
const thaw = () => {
  if (!frozen) { return; }
  for (const [s, lo, hi, ov] of frozen) {
    s.style.minHeight = lo;
    s.style.maxHeight = hi;
    s.style.overflow = ov;
  }
  frozen = null;
};
window.addEventListener("pointerdown", (ev) => {
  const path = ev.composedPath ? ev.composedPath() : [ev.target];
  for (const v of views()) {
    const cv = v.canvas_view;
    if (!cv || !path.includes(cv.el)) { continue; }
    const g = cv.ui_event_bus && cv.ui_event_bus.ui_gestures;
    if (g && !g.__posekit_nopress) {
      g._start_timeout = () => {};  // no "press" phase: holding still, then moving drags
      g.__posekit_nopress = true;
    }
    thaw();
    frozen = freeze(v.el);
    return;
  }
}, true);
const release = () => {
  const held = frozen;  // after Bokeh's own pointerup handler (the drop) has run
  if (held) { setTimeout(() => { if (frozen === held) { thaw(); } }, 0); }
};
window.addEventListener("pointerup", release, true);
window.addEventListener("pointercancel", release, true);
// In JupyterLab and Notebook 7 the page is the notebook: its command mode takes
// single keys too (x cuts the cell, a inserts one, c/v copy/paste, m makes it
// Markdown). The labeller takes its keys only while the user works in it: the
// pointer is over it, or the last click (or keyboard focus move) was in it. A press
// or focus move elsewhere gives the keys back to the notebook. Paths, not
// contains(): the canvas lives in Bokeh's shadow DOM.
const rootsOf = (vs) => vs.map((v) => v.el.closest(".posekit-labeler")).filter((r) => r);
const inLabeler = (ev) => {
  const path = ev.composedPath ? ev.composedPath() : [ev.target];
  return rootsOf(views()).some((r) => path.includes(r));
};
let hovered = false, engaged = false, pressing = false;
window.addEventListener("pointerover", (ev) => { hovered = inLabeler(ev); }, true);
window.addEventListener("pointerout", (ev) => {
  if (!ev.relatedTarget) { hovered = false; }  // out of the window
}, true);
window.addEventListener("pointerdown", (ev) => {
  pressing = true;
  engaged = inLabeler(ev);
}, true);
const unpress = () => { pressing = false; };
window.addEventListener("pointerup", unpress, true);
window.addEventListener("pointercancel", unpress, true);
window.addEventListener("focusin", (ev) => {
  // focus moved by a press follows the press (JupyterLab may focus the notebook
  // after a click in the labeller); by the keyboard (Tab) it decides
  if (!pressing) { engaged = inLabeler(ev); }
}, true);
const inNotebook = () => document.querySelector(".jp-InputArea-editor") !== null;
const inField = (t) => {
  if (!t || !t.tagName) { return false; }
  const tag = t.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
};
// Keys a focused control keeps (see OWN_KEYS_RULE): arrows, Home, End, PageUp and
// PageDown on a tab bar, slider, list, menu, spin box, ...; Enter and Space on a
// button, link, tab or check box.
const NAV_KEYS = {ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1, Home: 1,
                  End: 1, PageUp: 1, PageDown: 1};
const ARROW_ROLES = {tab: 1, tablist: 1, slider: 1, spinbutton: 1, listbox: 1,
                     option: 1, combobox: 1, menu: 1, menubar: 1, menuitem: 1,
                     radiogroup: 1, radio: 1, tree: 1, treeitem: 1, scrollbar: 1};
const PRESS_ROLES = {button: 1, link: 1, tab: 1, checkbox: 1, switch: 1, radio: 1,
                     menuitem: 1, option: 1};
const ARROW_CLASSES = ["lm-TabBar", "noUi-handle", "noUi-target", "widget-readout"];
const ownsKey = (ev) => {
  const nav = NAV_KEYS[ev.key], press = ev.key === "Enter" || ev.key === " ";
  if (!nav && !press) { return false; }
  const path = ev.composedPath ? ev.composedPath() : [ev.target];
  for (const e of path) {
    if (!e || !e.tagName) { continue; }
    const role = e.getAttribute("role"), tag = e.tagName.toLowerCase();
    if (nav && (ARROW_ROLES[role] || tag === "select"
                || ARROW_CLASSES.some((c) => e.classList.contains(c)))) { return true; }
    if (press && e === path[0] && !e.classList.contains("bk-events")
        && (e.tabIndex >= 0 || PRESS_ROLES[role] || tag === "button" || tag === "a")) {
      return true;  // any focused control but the image (e.g. a toolbar button)
    }
  }
  return false;
};
const keyName = (ev) => {
  let k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
  if (ev.ctrlKey || ev.metaKey) { k = "Ctrl+" + (ev.shiftKey ? "Shift+" : "") + k; }
  return k;
};
const nums = (a) => Float64Array.from(a, (v) => (v === null ? NaN : v));
const ARROWS = {ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1};
let seq = 0;
let local = null;  // the frame this page switched to before Python confirmed it
window.addEventListener("keydown", (ev) => {
  const shown_views = views();
  if (shown_views.length === 0) { return; }
  const t = ev.composedPath ? ev.composedPath()[0] : ev.target;
  if (inField(t) || ownsKey(ev)) { return; }
  if (inNotebook() && !(hovered || engaged)) { return; }  // JupyterLab, not Voila
  const nav = nav_source.data;
  const keys = JSON.parse(nav.shortcuts[0]);
  let action = keys[keyName(ev)];
  if (ARROWS[ev.key] && nav.nudge[0] && !(ev.ctrlKey || ev.metaKey)) {
    action = "nudge point";
  }
  if (!action) { return; }
  ev.preventDefault();
  ev.stopPropagation();
  let index = nav.index[0];
  let todo = nav.next_unlabelled[0];
  if (local !== null && nav.seq[0] < local.seq) {  // Python has not caught up yet
    index = local.index;
    todo = -1;
  }
  let target = null;
  if (action === "next frame") { target = index + 1; }
  if (action === "previous frame") { target = index - 1; }
  if (action === "next unlabelled frame" && todo >= 0) { target = todo; }
  let shown = -1;
  if (target !== null) {
    const pf = prefetch_source.data;
    const j = Array.from(pf.index).indexOf(target);
    if (j >= 0) {
      const pts = JSON.parse(pf.points[j]);
      pts.x = nums(pts.x);
      pts.y = nums(pts.y);
      const skel = JSON.parse(pf.skeleton[j]);
      image_source.data = {url: [pf.url[j]], x: [-0.5], y: [-0.5], w: [pf.w[j]],
                           h: [pf.h[j]], v: [pf.v[j]], frame: [pf.frame[j]]};
      points_source.data = pts;
      skeleton_source.data = skel;
      shown = target;
    }
  }
  seq += 1;
  if (shown >= 0) { local = {index: shown, seq: seq}; }
  const stats = window.posekitLabelerStats || (window.posekitLabelerStats = {});
  stats.keys = (stats.keys || 0) + 1;
  stats.fast = (stats.fast || 0) + (shown >= 0 ? 1 : 0);
  stats.last = {key: ev.key, shown: shown, at: performance.now()};
  key_source.data = {key: [ev.key], ctrl: [ev.ctrlKey || ev.metaKey],
                     shift: [ev.shiftKey], seq: [seq], shown: [shown], index: [index]};
}, true);
"""

#: Runs on every navigation update (and once the document is ready): names the image
#: for assistive technology (``role=application`` on the canvas's focusable layer,
#: with the frame and how many bodyparts are placed), makes the status line and the
#: message polite live regions, fits the canvas into the width the page gives it
#: (scaled down, never clipped; Bokeh maps clicks through its ranges, so they stay
#: exact image pixels) and into the window's height when 60 % of its height or
#: more is enough (a lower window scrolls), and follows the active Bokeh tool (a
#: toolbar button or ``m``) into the status line.
VIEW_JS = """
// Where an element is on the page, not in the window: its place in the window plus
// how far every box around it (the page too) is scrolled.
const pageTop = (el) => {
  let top = el.getBoundingClientRect().top;
  for (let e = el; e; e = e.parentElement || (e.getRootNode && e.getRootNode().host) || null) {
    top += e.scrollTop || 0;
  }
  return top;
};
const FIT_HEIGHT_MIN = 0.6;  // never smaller than this share of its height for it
const modeOf = () => (draw_tool.active ? "label" : (pan_tool.active ? "pan" : "none"));
const report = () => {
  const m = modeOf();
  if (tool_source.data.mode[0] !== m) { tool_source.data = {mode: [m]}; }
};
const apply = (tries) => {
  const shown = Bokeh.index.find_all(fig).filter(
    (v) => v.el && v.el.isConnected && v.el.getClientRects().length > 0);
  if (shown.length === 0) {  // not laid out yet (or on a hidden tab)
    if (tries > 0) { setTimeout(() => apply(tries - 1), 300); }
    return;
  }
  const want = mode_source.data.want[0], seq = mode_source.data.seq[0];
  if (window.posekitModeSeq === undefined) { window.posekitModeSeq = {}; }
  if (want && window.posekitModeSeq[mode_source.id] !== seq) {
    window.posekitModeSeq[mode_source.id] = seq;
    if (want === "label") { draw_tool.active = true; } else { pan_tool.active = true; }
  }
  for (const v of shown) {
    const ev = v.canvas_view && v.canvas_view.events_el;
    if (ev) {
      ev.setAttribute("role", "application");
      ev.setAttribute("aria-roledescription", "labelling image");
      ev.setAttribute("aria-label", nav_source.data.aria[0]);
    }
    const root = v.el.closest(".posekit-labeler");
    if (root) {
      for (const sel of [".labeler-status", ".labeler-message"]) {
        const el = root.querySelector(sel);
        if (el && !el.getAttribute("aria-live")) {
          el.setAttribute("role", "status");
          el.setAttribute("aria-live", "polite");
        }
      }
    }
    const host = v.el.closest(".labeler");
    const row = host && host.parentElement;
    if (row && !v.__posekit_fit) {
      v.__posekit_fit = true;
      const fit = () => {
        const d = nav_source.data, fw0 = d.fw[0], fh0 = d.fh[0];
        if (!(fw0 > 0) || !row.isConnected || row.clientWidth === 0) { return; }
        const tb = Math.max(0, v.el.getBoundingClientRect().width - fig.frame_width);
        const room = Math.floor(row.clientWidth - tb - 2);
        let fw = Math.max(80, Math.min(fw0, room));
        // the whole image in the window with the page at its top (QA s17 #7: at
        // 1024x700 its bottom 45 px were below it), when a little smaller does it
        const below = window.innerHeight - pageTop(v.el) - 8;
        if (below < fh0 * fw / fw0 && below >= FIT_HEIGHT_MIN * fh0) {
          fw = Math.min(fw, Math.floor(fw0 * below / fh0));
        }
        const fh = Math.round(fh0 * fw / fw0);
        if (fig.frame_width !== fw || fig.frame_height !== fh) {
          fig.frame_width = fw;
          fig.frame_height = fh;
        }
        if (host.scrollLeft || host.scrollTop) { host.scrollLeft = 0; host.scrollTop = 0; }
      };
      new ResizeObserver(fit).observe(row);
      window.addEventListener("resize", fit);  // a window made lower
      // tabbing onto the toolbar must not leave the image scrolled out of its box
      host.addEventListener("scroll", fit);
      v.__posekit_refit = fit;
      for (const t of [draw_tool, pan_tool]) { t.properties.active.change.connect(report); }
    }
    if (v.__posekit_refit) { v.__posekit_refit(); }
  }
  report();
};
apply(20);
"""

_MISSING = "is missing or unreadable"


def _on_step(slider: W.FloatSlider, value: float) -> float | None:
    """Snap a float slider's value to the decimals of its step.

    The browser moves a ``FloatSlider`` to ``min + k × step`` in floating point, so
    the Opacity slider (``min=0.05``, ``step=0.05``) sent 0.7000000000000002: the
    slider's value, the markers' alpha and what the labeller saved all carried it.

    Parameters
    ----------
    slider
        The slider (its ``step`` gives the decimals: 0.05 → 2).
    value
        The value it sent.

    Returns
    -------
    float or None
        The value when it was clean; ``None`` after setting the slider to the
        clean value (its observers are called again with it).

    Examples
    --------
    >>> s = W.FloatSlider(min=0.05, max=1.0, step=0.05)
    >>> _on_step(s, 0.7000000000000002) is None, s.value, _on_step(s, s.value)
    (True, 0.7, 0.7)
    """
    from decimal import Decimal

    exponent = Decimal(str(slider.step)).normalize().as_tuple().exponent
    clean = round(float(value), max(0, -int(exponent)))
    if clean != value:
        slider.value = clean
        return None
    return clean


def _from_model(name: str, doc: str | None = None) -> property:
    """Make a read-only property giving the model's attribute ``name``."""
    if doc is None:
        doc = getattr(LabelerModel, name).__doc__
    return property(lambda self: getattr(self.model, name), doc=doc)


def _forward(name: str) -> Callable[..., Any]:
    """Make a method calling the model's method ``name`` (same signature, docs)."""

    @functools.wraps(getattr(LabelerModel, name))
    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.model, name)(*args, **kwargs)

    return method


class Labeler(BokehComponent):
    """Label the extracted frames of a project's videos by clicking.

    Click places the selected bodypart (and selects the next unlabelled one), drag
    moves a point, the wheel zooms, keys navigate (:data:`SHORTCUTS`, also listed
    under the canvas). Every change is saved at once to
    ``labeled-data/<video>/CollectedData_<scorer>.h5`` (+ ``.csv``).

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder, or a
        :class:`~posekit.widgets.labeler_model.LabelerModel` to show.
    video
        Video stem (a folder of ``labeled-data/``) to start with (default: the first;
        ignored when ``project`` is a model).
    display_width
        Canvas width in screen pixels (default: the image width, scaled into
        480–960 px). Coordinates stay in image pixels at any size or zoom.
    image_format
        How frames are sent: ``"jpeg"`` (default; small), ``"png"`` (lossless
        re-encode) or ``"original"`` (the file's bytes as they are).
    jpeg_quality
        JPEG quality.
    load_bokehjs
        Load BokehJS into the page first (needed once per page before any Bokeh
        widget is shown).

    Attributes
    ----------
    model
        The :class:`~posekit.widgets.labeler_model.LabelerModel` (state and logic).
    figure, points_source, image_source, skeleton_source
        The Bokeh figure and its data sources.
    nav_source, key_source, tool_source, mode_source
        What the page and Python tell each other: the position, the shortcuts and
        the image's accessible name; the keys pressed; the active Bokeh tool; the
        tool ``m`` asks for.
    bokeh_model
        The ``jupyter_bokeh.BokehModel`` holding the figure (CSS class ``labeler``).
    events
        The ``ipyevents.Event`` on :attr:`bokeh_model` for keyboard shortcuts.
    widget
        The whole labeller (display this).

    Raises
    ------
    ValueError
        If ``image_format`` is not one of the three above.
    """

    def __init__(
        self,
        project: Project | LabelerModel | str | os.PathLike,
        video: str | None = None,
        *,
        display_width: int | None = None,
        image_format: str = "jpeg",
        jpeg_quality: int = 90,
        load_bokehjs: bool = True,
    ) -> None:
        if image_format not in IMAGE_FORMATS:
            raise ValueError(
                "image_format must be 'jpeg', 'png' or 'original'; received "
                f"{image_format!r}"
            )
        if load_bokehjs:
            ensure_bokehjs()
        self.model = (
            project
            if isinstance(project, LabelerModel)
            else LabelerModel(project, video)
        )
        # by bodypart; several animals: by individual (labeler_multianimal.py)
        self.colors = self.model.point_colors(self.project.display.colormap)
        self.display_width = display_width
        self.image_format = image_format
        self.jpeg_quality = int(jpeg_quality)
        self._size: tuple[int, int] | None = None
        self._natural = (0, 0)  # the canvas size before fitting it into the page
        self._image_version = 0
        self._writing = False
        self._syncing = False
        self._mode = "label"  # the active Bokeh tool: "label", "pan" or "none"
        self._mode_seq = 0
        self.brightness = 0.0
        self.contrast = 1.0
        self._last_key_seq = -1
        self._confirming = False
        self._url_cache: OrderedDict[tuple, tuple[str, tuple[int, int]] | None] = (
            OrderedDict()
        )
        self._build_figure()
        self._build_controls()
        #: What this view registered on the model (undone by :meth:`close`).
        self._callbacks: list[tuple[str, Callable[[], None]]] = [
            ("videos", self._sync_videos),
            ("frames", self._set_slider_max),
            ("frame", self._show_frame),
            ("points", self._show_points),
            ("status", self._update_status),
            ("message", self._show_model_message),
            ("status", self._sync_individuals),
            ("points", self._sync_individuals),
        ]
        for event, fn in self._callbacks:
            self.model.on(event, fn)
        with self.model.lock:  # start from the model's present state
            self._sync_videos()
            self._show_model_message()
            self._show_frame()
            if self.model.frame:  # the names that fit at this view's scale
                self.model.render()
            else:
                self._show_points()

    def close(self) -> None:
        """Stop following the model and close every widget of the labeller."""
        for event, fn in self._callbacks:
            self.model.off(event, fn)
        super().close()

    # ================================================================ the model
    # The model's state and actions, on the labeller too (scripts, the apps).
    project = _from_model("project", "The project.")
    bodyparts = _from_model("bodyparts", "The project's bodyparts, in config order.")
    store = _from_model("store", "The :class:`~posekit.engine.labels.LabelStore`.")
    selected = _from_model("selected", "The bodypart the next click places.")
    not_visible = _from_model("not_visible", "``(frame, bodypart)`` not visible.")
    frame_changed = _from_model("frame_changed", "Called after every frame switch.")
    frames = _from_model("frames")
    frame_index = _from_model("frame_index")
    frame = _from_model("frame")
    videos = _forward("videos")
    set_video = _forward("set_video")
    refresh_frames = _forward("refresh_frames")
    goto = _forward("goto")
    jump = _forward("jump")
    find_frame = _forward("find_frame")
    next_frame = _forward("next_frame")
    previous_frame = _forward("previous_frame")
    select = _forward("select")
    select_next = _forward("select_next")
    place = _forward("place")
    place_by_keyboard = _forward("place_by_keyboard")
    delete = _forward("delete")
    mark_not_visible = _forward("mark_not_visible")
    undo = _forward("undo")
    redo = _forward("redo")
    accept_frame = _forward("accept_frame")
    copy_previous = _forward("copy_previous")
    next_unlabelled = _forward("next_unlabelled")
    next_video = _forward("next_video")
    nudge = _forward("nudge")

    def handle_key(self, event: Mapping[str, Any]) -> str | None:
        """Run the shortcut for a ``keydown`` event; return its action.

        ``event`` has the browser's ``KeyboardEvent`` fields (``type``, ``key``,
        ``ctrlKey``, ``shiftKey``, ``metaKey``), as the page's key handler sends them.
        """
        with self.model.lock:
            view_actions = {
                "zoom in": lambda: self.zoom(ZOOM_STEP),
                "zoom out": lambda: self.zoom(1 / ZOOM_STEP),
                "reset zoom": self.reset_view,
                "label / pan mode": self.toggle_pan,
            }
            action = key_action(event)
            if action in view_actions:
                view_actions[action]()
                return action
            return self.model.handle_key(event)

    def _on_key_source(self, attr: str, old: Any, new: Mapping[str, Any]) -> None:
        """Handle a key the page caught (:data:`KEYS_JS`), maybe already shown."""
        try:
            key = str(list(new["key"])[-1])
            ctrl, shift = bool(list(new["ctrl"])[-1]), bool(list(new["shift"])[-1])
            shown = int(list(new["shown"])[-1])
            seq = int(list(new["seq"])[-1])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        if seq == self._last_key_seq:
            return  # jupyter_bokeh delivers each change twice
        self._last_key_seq = seq
        event = {"type": "keydown", "key": key, "ctrlKey": ctrl, "shiftKey": shift}
        with self.model.lock:
            if 0 <= shown < len(self.model.frames):
                # the page shows that frame already (prefetched): follow it, and send
                # no image or points that could land after a newer switch
                self._confirming = True
                try:
                    self.model.goto(shown)
                finally:
                    self._confirming = False
                    self._update_nav()
                return
            self.handle_key(event)
            self._update_nav()

    def _on_tap_select(self, attr: str, old: Any, new: Any) -> None:
        """Make a point tapped in the canvas the active one (arrows nudge it)."""
        names = list(self.points_source.data.get("bodypart", []))
        picked = [names[i] for i in new or [] if 0 <= i < len(names)]
        if picked and picked[-1] in self.bodyparts:
            self.model.activate(picked[-1])

    # ================================================================ building
    def _build_figure(self) -> None:
        w, h = 640, 480
        s = display_scale(w, h, self.display_width)
        self.x_range = Range1d(-0.5, w - 0.5, bounds=(-0.5, w - 0.5))
        self.y_range = Range1d(h - 0.5, -0.5, bounds=(-0.5, h - 0.5))
        self.draw_tool = PointDrawTool(add=True, drag=True, empty_value="?")
        self.pan_tool = PanTool()
        self.wheel_tool = WheelZoomTool(zoom_on_axis=False, maintain_focus=True)
        p = figure(
            x_range=self.x_range,
            y_range=self.y_range,
            frame_width=round(w * s),
            frame_height=round(h * s),
            min_border=0,
            tools=[self.draw_tool, self.pan_tool, self.wheel_tool, ResetTool()],
            toolbar_location="right",
            output_backend="canvas",
            name="posekit-labeler",
        )
        p.axis.visible = False
        p.grid.visible = False
        p.outline_line_color = None
        p.background_fill_color = "#303030"
        p.toolbar.logo = None
        p.toolbar.active_drag = self.draw_tool
        p.toolbar.active_tap = self.draw_tool
        p.toolbar.active_scroll = self.wheel_tool
        self.image_source = ColumnDataSource(
            {"url": [], "x": [], "y": [], "w": [], "h": [], "v": [], "frame": []}
        )
        p.image_url(
            url="url",
            x="x",
            y="y",
            w="w",
            h="h",
            anchor="top_left",
            source=self.image_source,
        )
        self.skeleton_source = ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": []}
        )
        p.segment(
            x0="x0",
            y0="y0",
            x1="x1",
            y1="y1",
            source=self.skeleton_source,
            line_color=self.project.display.skeleton_color,
            line_width=2,
            line_alpha=0.8,
        )
        self.points_source = ColumnDataSource(
            {
                "x": np.zeros(0),
                "y": np.zeros(0),
                "bodypart": [],
                "fill": [],
                "edge": [],
                "name": [],
            }
        )
        mapper = CategoricalColorMapper(
            factors=[*self.bodyparts, "machine"],
            palette=[*self.colors, "rgba(0, 0, 0, 0)"],
            nan_color="#ffffff",  # a click not yet named ("?")
        )
        edges = CategoricalColorMapper(
            factors=list(MACHINE_COLORS),
            palette=list(MACHINE_COLORS.values()),
            nan_color="#000000",
        )
        display = self.project.display
        self.points_renderer = p.scatter(
            "x",
            "y",
            source=self.points_source,
            size=display.dotsize,
            fill_color={"field": "fill", "transform": mapper},
            fill_alpha=display.alphavalue,
            line_color={"field": "edge", "transform": edges},
            line_width=2.0,
        )
        self.names = LabelSet(
            x="x",
            y="y",
            text="name",  # "" where it would overlap another (names_that_fit)
            source=self.points_source,
            x_offset=7,
            y_offset=-4,
            text_font_size=f"{NAME_FONT_PX}px",
            text_color="white",
            background_fill_color="black",
            background_fill_alpha=0.45,
        )
        p.add_layout(self.names)
        self.hidden_label = Label(
            x=6,
            y=6,
            x_units="screen",
            y_units="screen",
            text="",
            text_font_size="12px",
            text_color="white",
            background_fill_color="#7a0019",
            background_fill_alpha=0.75,
            name="posekit-labeler-not-visible",
        )
        p.add_layout(self.hidden_label)
        self.draw_tool.renderers = [self.points_renderer]
        self.points_source.on_change("data", self._on_points_change)
        self.points_source.selected.on_change("indices", self._on_tap_select)
        self.figure = p
        self._build_keys()

        self.bokeh_model = LiveBokehModel(p, combine_events=True)
        self.bokeh_model.add_class("labeler")

    def _build_keys(self) -> None:
        """Prefetch, navigation and key sources and the page's key handler."""
        self.prefetch_source = ColumnDataSource(
            {
                k: []
                for k in ("index", "frame", "url", "w", "h", "v", "points", "skeleton")
            },
            name="posekit-labeler-prefetch",
        )
        shortcuts = {k: a for a, ks in self.shortcuts.items() for k in ks}
        self.nav_source = ColumnDataSource(
            {
                "index": [0],
                "n": [0],
                "nudge": [False],
                "next_unlabelled": [-1],
                "seq": [-1],
                "shortcuts": [json.dumps(shortcuts)],
                "aria": ["labelling image"],
                "fw": [0],
                "fh": [0],
            },
            name="posekit-labeler-nav",
        )
        self.key_source = ColumnDataSource(
            {"key": [], "ctrl": [], "shift": [], "seq": [], "shown": [], "index": []},
            name="posekit-labeler-keys",
        )
        self.key_source.on_change("data", self._on_key_source)
        #: The page writes the active Bokeh tool here (toolbar buttons and ``m``).
        self.tool_source = ColumnDataSource(
            {"mode": ["label"]}, name="posekit-labeler-tool"
        )
        self.tool_source.on_change("data", self._on_tool_source)
        #: Python asks the page for a tool here (``m``): ``want`` label or pan.
        self.mode_source = ColumnDataSource(
            {"want": [""], "seq": [0]}, name="posekit-labeler-mode"
        )
        view = CustomJS(
            args={
                "fig": self.figure,
                "draw_tool": self.draw_tool,
                "pan_tool": self.pan_tool,
                "nav_source": self.nav_source,
                "tool_source": self.tool_source,
                "mode_source": self.mode_source,
            },
            code=VIEW_JS,
        )
        install = CustomJS(
            args={
                "fig": self.figure,
                "draw_tool": self.draw_tool,
                "image_source": self.image_source,
                "points_source": self.points_source,
                "skeleton_source": self.skeleton_source,
                "prefetch_source": self.prefetch_source,
                "nav_source": self.nav_source,
                "key_source": self.key_source,
            },
            code=KEYS_JS,
        )
        doc = Document()  # the sources the figure does not draw are roots too
        doc.add_root(self.figure)
        doc.add_root(self.prefetch_source)
        doc.add_root(self.nav_source)
        doc.add_root(self.key_source)
        doc.add_root(self.tool_source)
        doc.add_root(self.mode_source)
        doc.js_on_event("document_ready", install, view)
        self.nav_source.js_on_change("data", install, view)
        self.mode_source.js_on_change("data", view)
        self.prefetch_source.js_on_change(
            "data",
            CustomJS(args={"prefetch_source": self.prefetch_source}, code=PREDECODE_JS),
        )

    def _build_controls(self) -> None:
        self.video_dropdown = W.Dropdown(
            description="Video", layout=W.Layout(width="260px")
        )
        self.video_dropdown.observe(self._on_video, "value")
        self.prev_button = W.Button(
            description="◀",
            tooltip="previous frame (←, p)",
            layout=W.Layout(width="40px"),
        )
        self.next_button = W.Button(
            description="▶", tooltip="next frame (→, n)", layout=W.Layout(width="40px")
        )
        self.prev_button.on_click(lambda _: self.previous_frame())
        self.next_button.on_click(lambda _: self.next_frame())
        self.frame_slider = W.IntSlider(
            value=1,
            min=1,
            max=1,
            description="Frame",
            continuous_update=False,
            layout=W.Layout(width="420px"),
        )
        self.frame_slider.observe(self._on_slider, "value")
        self.jump_box = W.Text(
            placeholder=f"go to: {self.model.jump_hint}",  # the project's names
            description="Go to",
            continuous_update=False,  # on Enter (or leaving the box)
            layout=W.Layout(width="230px"),
            style={"description_width": "40px"},
            tooltip="a frame's file name or number, then Enter",
        )
        self.jump_box.add_class("labeler-jump")
        self.jump_box.observe(self._on_jump, "value")
        # two lines reserved (QA s16 #1): the status line gains "arrows move …"
        # when a point becomes active (a drag starting) and wrapped to a second
        # line, moving the image; with the page script's freeze during a press
        # the image stays put under the pointer
        self.status = W.HTML(layout=W.Layout(margin="0 0 0 8px", min_height="56px"))
        self.status.add_class("labeler-status")
        self.bodypart_buttons: list[W.Button] = []
        for bp, color in zip(self.bodyparts, self.colors, strict=True):
            b = W.Button(description=bp, tooltip=f"select {bp}")
            b.style.button_color = color
            b.style.text_color = text_color(color)
            b.layout = W.Layout(width="180px", height="30px", margin="1px 0")
            b.on_click(lambda _, bp=bp: self.select(bp))
            b.add_class("labeler-bodypart")
            self.bodypart_buttons.append(b)
        self.undo_button = W.Button(description="Undo", icon="undo", tooltip="Ctrl+Z")
        self.redo_button = W.Button(description="Redo", icon="redo", tooltip="Ctrl+Y")
        self.delete_button = W.Button(
            description="Delete", icon="trash", tooltip="delete the point (Del, x)"
        )
        self.hide_button = W.Button(
            description="Not visible", tooltip="mark not visible and go on (v)"
        )
        for b in (
            self.undo_button,
            self.redo_button,
            self.delete_button,
            self.hide_button,
        ):
            b.layout = W.Layout(width="88px", margin="1px", padding="0 4px")
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.delete_button.on_click(lambda _: self.delete())
        self.hide_button.on_click(lambda _: self.mark_not_visible())
        self._build_assist_controls()
        self.dotsize_slider = W.IntSlider(
            value=int(round(self.points_renderer.glyph.size)),
            min=2,
            max=40,
            description="Marker",
            continuous_update=False,
            layout=W.Layout(width="200px"),
            style={"description_width": "60px"},
        )
        self.alpha_slider = W.FloatSlider(
            value=round(float(self.points_renderer.glyph.fill_alpha), 2),
            min=0.05,
            max=1.0,
            step=0.05,
            description="Opacity",
            readout_format=".2f",
            continuous_update=False,
            layout=W.Layout(width="200px"),
            style={"description_width": "60px"},
        )
        self.brightness_slider = W.IntSlider(
            value=0,
            min=-100,
            max=100,
            description="Brightness",
            continuous_update=False,
            layout=W.Layout(width="200px"),
            style={"description_width": "60px"},
        )
        self.contrast_slider = W.FloatSlider(
            value=1.0,
            min=0.3,
            max=3.0,
            step=0.1,
            description="Contrast",
            readout_format=".1f",
            continuous_update=False,
            layout=W.Layout(width="200px"),
            style={"description_width": "60px"},
        )
        self.brightness_slider.observe(self._on_image_settings, "value")
        self.contrast_slider.observe(self._on_image_settings, "value")
        self.names_checkbox = W.Checkbox(
            value=True,
            description="Show names",
            indent=False,
            tooltip="names that would overlap another are left out: the colours "
            "are the buttons'; a tapped point is named in the status line",
        )
        self.dotsize_slider.observe(self._on_dotsize, "value")
        self.alpha_slider.observe(self._on_alpha, "value")
        self.names_checkbox.observe(
            lambda ch: setattr(self.names, "visible", bool(ch["new"])), "value"
        )
        self.message = W.HTML()
        self.message.add_class("labeler-message")
        self._message = self.message
        keys = " · ".join(
            f"<b>{' / '.join(_KEY_LABELS.get(k, k) for k in ks)}</b> {action}"
            for action, ks in self.shortcuts.items()
        )
        # JupyterLab's command-mode keys are no concern in a Voila app (QA s22 #6)
        notebook_rule = (
            "" if _runs_in_voila() else f"{html.escape(NOTEBOOK_KEYS_RULE)} "
        )
        self.help = W.HTML(
            "<div style='font-size:12px;color:#444;max-width:1100px'>"
            "Click the image to place the selected bodypart; drag a point to move it; "
            "click a point and press <b>Backspace</b> (or <b>Del</b>, <b>x</b>) to "
            "delete it; mouse wheel or <b>+</b> / <b>-</b> zoom (pan: <b>m</b> or the "
            "toolbar). Without a mouse: <b>k</b> (or <b>Enter</b> on the image) places "
            "the selected bodypart where it was on the previous frame, else at the "
            "network's guess, else in the middle of the image. Hollow circles are the "
            "network's guesses (outline: green sure, orange unsure, red below the "
            "p-cutoff; the bodypart's button shows the likelihood): drag one to "
            "correct it, <b>a</b> accepts the frame's guesses. The arrow keys nudge the "
            "point just placed (by mouse or keyboard), dragged or tapped (Shift: 10 "
            "px; <b>Esc</b>: arrows navigate again). "
            f"{html.escape(OWN_KEYS_RULE)} {notebook_rule}"
            f"Keys: {keys}. Every change is saved at once.</div>"
        )
        side = W.VBox(
            [
                *self._individual_controls(),
                W.HTML("<b>Bodyparts</b>"),
                *self.bodypart_buttons,
                W.HBox([self.undo_button, self.redo_button]),
                W.HBox([self.delete_button, self.hide_button]),
                W.HBox([self.accept_button, self.copy_button]),
                self.low_checkbox,
                self.dotsize_slider,
                self.alpha_slider,
                self.brightness_slider,
                self.contrast_slider,
                self.names_checkbox,
                self.progress,
            ],
            layout=W.Layout(margin="0 0 0 10px"),
        )
        nav = W.HBox(
            [
                self.video_dropdown,
                self.prev_button,
                self.frame_slider,
                self.next_button,
                self.jump_box,
                self.todo_button,
                self.next_video_button,
            ],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.widget = LiveVBox(
            [
                nav,
                self.status,
                self.message,  # near the Go-to box, undo and the status line
                W.HBox(
                    [self.bokeh_model, side],
                    layout=W.Layout(flex_flow="row wrap", align_items="flex-start"),
                ),
                self.help,
            ]
        )
        self.widget.add_class("posekit-labeler")

    def _build_assist_controls(self) -> None:
        """Buttons of model-assisted labelling and labelling at scale."""
        self.accept_button = W.Button(
            description="Accept frame",
            tooltip="turn the network's guesses on this frame into labels (a)",
        )
        self.copy_button = W.Button(
            description="Copy previous",
            tooltip="copy the previous frame's points to the parts not placed here (c)",
        )
        for b in (self.accept_button, self.copy_button):
            b.layout = W.Layout(width="88px", margin="1px", padding="0 4px")
        self.accept_button.add_class("labeler-accept")
        self.accept_button.on_click(lambda _: self.accept_frame())
        self.copy_button.on_click(lambda _: self.copy_previous())
        self.low_checkbox = W.Checkbox(
            value=False,
            description="Only unsure guesses (l)",
            indent=False,
            tooltip="show only the network's guesses below the p-cutoff",
        )
        self.low_checkbox.add_class("labeler-low-filter")
        self.low_checkbox.observe(
            lambda ch: self.model.set_low_likelihood_filter(bool(ch["new"])), "value"
        )
        self.todo_button = W.Button(
            description="Next to do",
            tooltip="next frame with work left (u)",
            layout=W.Layout(width="96px"),
        )
        self.todo_button.on_click(lambda _: self.next_unlabelled())
        self.next_video_button = W.Button(
            description="Next video",
            tooltip="next video, on its first frame with work left (])",
            layout=W.Layout(width="96px"),
        )
        self.next_video_button.on_click(lambda _: self.next_video(1))
        self.progress = W.HTML()
        self.progress.add_class("labeler-progress")

    # ================================================================ model → view
    def _sync_videos(self) -> None:
        """Offer the model's videos and show the current one."""
        m = self.model
        self._syncing = True
        try:
            if list(self.video_dropdown.options) != m.known_videos:
                self.video_dropdown.options = m.known_videos
            if m.video in m.known_videos and self.video_dropdown.value != m.video:
                self.video_dropdown.value = m.video
        finally:
            self._syncing = False

    def _set_slider_max(self) -> None:
        self._syncing = True
        try:
            self.frame_slider.max = max(len(self.model.frames), 1)
        finally:
            self._syncing = False

    def _show_frame(self) -> None:
        """Show the model's current frame: image, slider (empty without frames)."""
        m = self.model
        hint = f"go to: {m.jump_hint}"
        if self.jump_box.placeholder != hint:  # another video: its frames' names
            self.jump_box.placeholder = hint
        if self.frame_slider.max != max(len(m.frames), 1):
            self._set_slider_max()
        if not m.frame:
            self.image_source.data = {
                "url": [],
                "x": [],
                "y": [],
                "w": [],
                "h": [],
                "v": [],
                "frame": [],
            }
            return
        self._show_image(m.frame)
        if self.frame_slider.value != m.frame_index + 1:
            self._syncing = True
            try:
                self.frame_slider.value = m.frame_index + 1
            finally:
                self._syncing = False

    def _show_points(self) -> None:
        """Write the model's points and skeleton into the Bokeh sources."""
        m = self.model
        if not (self._confirming and self._page_shows(m.points_table)):
            self._writing = True  # Bokeh calls on_change for Python's own writes too
            try:
                self.points_source.data = dict(m.points_table)
                self.skeleton_source.data = dict(m.skeleton_table)
            finally:
                self._writing = False
        self._update_status()
        self._update_prefetch()

    def _page_shows(self, table: Mapping[str, Any]) -> bool:
        """Whether the page's points are ``table``'s (anchor versions aside)."""

        def rows(data: Mapping[str, Any]) -> list[tuple]:
            cols = [list(data.get(k, [])) for k in ("x", "y", "bodypart", "fill")]
            return [
                (round(float(x), 6), round(float(y), 6), str(b), str(f))
                for x, y, b, f in zip(*cols, strict=False)
                if not str(b).startswith(ANCHOR)
            ]

        return rows(self.points_source.data) == rows(table)

    # ================================================================ prefetch
    def _update_prefetch(self) -> None:
        """Send the frames around the current one ahead, and the navigation state."""
        m = self.model
        n = len(m.frames)
        i = m.frame_index
        todo = self._next_todo_index()
        wanted = sorted(
            {i + d for d in PREFETCH if 0 <= i + d < n}
            | ({todo} if todo >= 0 else set())
        )
        rows: dict[str, list] = {
            k: []
            for k in ("index", "frame", "url", "w", "h", "v", "points", "skeleton")
        }
        if m.frame:
            for j in wanted:
                frame = m.frames[j]
                got = self.frame_data_url(frame)
                if got is None:
                    continue
                points, skeleton = m.tables_for(frame)
                self._image_version += 1
                rows["index"].append(j)
                rows["frame"].append(frame)
                rows["url"].append(got[0])
                rows["w"].append(got[1][0])
                rows["h"].append(got[1][1])
                rows["v"].append(self._image_version)
                rows["points"].append(_to_json(points))
                rows["skeleton"].append(_to_json(skeleton))
        self.prefetch_source.data = rows
        self._update_nav(todo)

    def _update_nav(self, todo: int | None = None) -> None:
        """Tell the page the current position and whether the arrows nudge."""
        m = self.model
        nav = {
            "index": [m.frame_index],
            "n": [len(m.frames)],
            "nudge": [bool(m.arrows_nudge)],
            "next_unlabelled": [self._next_todo_index() if todo is None else todo],
            "seq": [self._last_key_seq],
            "shortcuts": list(self.nav_source.data["shortcuts"]),
            "aria": [self.canvas_label()],
            "fw": [self._natural[0]],
            "fh": [self._natural[1]],
        }
        if nav != dict(self.nav_source.data):
            self.nav_source.data = nav

    def _next_todo_index(self) -> int:
        """Position of the next frame with work left after the current one (or -1)."""
        m = self.model
        n = len(m.frames)
        for step in range(1, n):
            j = (m.frame_index + step) % n
            if not m.frame_done(m.frames[j]):
                return j
        return -1

    def _show_model_message(self) -> None:
        self.show_message(self.model.message, level=self.model.message_level)

    # ================================================================ view → model
    def _on_video(self, change: Mapping[str, Any]) -> None:
        if change["new"] is not None and not self._syncing:
            self.model.set_video(change["new"])

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:
            self.model.goto(int(change["new"]) - 1)  # the slider counts from 1

    def _on_jump(self, change: Mapping[str, Any]) -> None:
        """Go to the frame typed in the jump box, then empty the box."""
        text = str(change["new"]).strip()
        if not text:
            return
        self.model.jump(text)
        self.jump_box.value = ""

    def _on_points_change(self, attr: str, old: Any, new: Any) -> None:
        if not self._writing:
            self.model.receive_points(new)

    def _on_dotsize(self, change: Mapping[str, Any]) -> None:
        self.points_renderer.glyph.size = float(change["new"])
        self.model.remember_display(dotsize=float(change["new"]))

    def _on_alpha(self, change: Mapping[str, Any]) -> None:
        alpha = _on_step(self.alpha_slider, change["new"])
        if alpha is None:  # snapped: the slider calls again with the clean value
            return
        self.points_renderer.glyph.fill_alpha = alpha
        self.model.remember_display(alphavalue=alpha)

    def _on_image_settings(self, change: Mapping[str, Any]) -> None:
        """Brightness or contrast moved: re-send the frame and its neighbours."""
        if change.get("owner") is self.contrast_slider and (
            _on_step(self.contrast_slider, change["new"]) is None
        ):
            return  # snapped: the slider calls again with the clean value
        self.brightness = float(self.brightness_slider.value)
        self.contrast = float(self.contrast_slider.value)
        self._url_cache.clear()
        if self.model.frame:
            self._show_image(self.model.frame, force=True)
            self._update_prefetch()

    # ================================================================ image
    def frame_data_url(self, frame: str) -> tuple[str, tuple[int, int]] | None:
        """Encode the frame's image as a data URL; give it with its size ``(W, H)``.

        Returns
        -------
        tuple of (str, (int, int)) or None
            ``None`` when the image is missing or unreadable.
        """
        store = self.model.store
        if store is None:
            return None
        path = store.image_path(frame)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        key = (str(path), stamp, self.brightness, self.contrast, self.image_format)
        if key in self._url_cache:
            self._url_cache.move_to_end(key)
            return self._url_cache[key]
        if self.brightness == 0 and self.contrast == 1:
            got = image_file_data_url(
                path, self.image_format, quality=self.jpeg_quality
            )
        else:
            got = self._adjusted_url(path)
        self._url_cache[key] = got
        while len(self._url_cache) > 24:
            self._url_cache.popitem(last=False)
        return got

    def _adjusted_url(self, path: Path) -> tuple[str, tuple[int, int]] | None:
        """Encode the image with brightness and contrast applied as a data URL."""
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            return None
        out = (bgr.astype(np.float32) - 128.0) * self.contrast + 128.0 + self.brightness
        out = np.clip(out, 0, 255).astype(np.uint8)
        fmt = "png" if self.image_format == "png" else "jpeg"
        data = encode_image(out, fmt, quality=self.jpeg_quality, bgr=True)
        h, w = out.shape[:2]
        return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}", (w, h)

    def _show_image(self, frame: str, *, force: bool = False) -> None:
        shown = self.image_source.data
        if not force and (
            self._confirming
            or (list(shown.get("frame", [])) == [frame] and list(shown.get("url", [])))
        ):
            return  # the page shows it already (a prefetched frame)
        got = self.frame_data_url(frame)
        if got is None:
            size = self._size or (640, 480)
            url = placeholder_data_url(*size)
            store = self.model.store
            self.show_message(
                f"The image of {frame} {_MISSING} "
                f"({store.image_path(frame) if store else frame}). Its "
                "labels are kept; extract the frame again with the frame picker to "
                "see it.",
                level="warning",
            )
        else:
            url, size = got
            if self.message.value and _MISSING in self.message.value:
                self.show_message("")
        self._set_size(*size)
        self._image_version += 1
        w, h = size
        self.image_source.data = {
            "url": [url],
            "x": [-0.5],
            "y": [-0.5],
            "w": [w],
            "h": [h],
            "v": [self._image_version],
            "frame": [frame],
        }

    def _set_size(self, w: int, h: int) -> None:
        if self._size == (w, h):
            return
        self._size = (w, h)
        s = display_scale(w, h, self.display_width)
        self.scale = s
        self.model.image_size = (w, h)
        self.model.name_scale = s  # which names fit beside the points
        self._natural = (round(w * s), round(h * s))
        self.figure.frame_width, self.figure.frame_height = self._natural
        self.x_range.update(
            start=-0.5,
            end=w - 0.5,
            bounds=(-0.5, w - 0.5),
            reset_start=-0.5,
            reset_end=w - 0.5,
        )
        self.y_range.update(
            start=h - 0.5,
            end=-0.5,
            bounds=(-0.5, h - 0.5),
            reset_start=h - 0.5,
            reset_end=-0.5,
        )

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(W, H)`` of the current frame's image."""
        return self._size

    def reset_view(self) -> None:
        """Show the whole image (undo wheel zoom and pan)."""
        if self._size is None:
            return
        w, h = self._size
        self.x_range.update(start=-0.5, end=w - 0.5)
        self.y_range.update(start=h - 0.5, end=-0.5)

    def zoom(self, factor: float) -> None:
        """Zoom in (``factor > 1``) or out around the active point, else the centre.

        The view keeps the image's aspect ratio and stays inside the image.
        """
        if self._size is None:
            return
        w, h = self._size
        xr, yr = self.x_range, self.y_range
        cx, cy = (xr.start + xr.end) / 2, (yr.start + yr.end) / 2
        bp = self.model.active_point()
        if bp is not None:
            x, y = self.model.store.point(self.model.frame, bp)
            if not math.isfinite(x):
                x, y, _ = self.model.machine_points()[bp]
            cx, cy = x, y
        half = min(max(abs(xr.end - xr.start) / 2 / factor, 4.0), w / 2)
        half_y = half * h / w
        cx = min(max(cx, -0.5 + half), w - 0.5 - half)
        cy = min(max(cy, -0.5 + half_y), h - 0.5 - half_y)
        xr.update(start=cx - half, end=cx + half)
        yr.update(start=cy + half_y, end=cy - half_y)  # y flipped

    @property
    def mode(self) -> str:
        """The active tool: ``"label"`` (clicks place), ``"pan"`` or ``"none"``."""
        return self._mode

    def toggle_pan(self) -> None:
        """Switch dragging between moving points (label mode) and panning.

        From pan, or with both tools switched off in the toolbar, back to label.
        """
        pan = self._mode == "label"
        tool = self.pan_tool if pan else self.draw_tool
        self.figure.toolbar.active_drag = tool
        self.figure.toolbar.active_tap = None if pan else self.draw_tool
        self._mode_seq += 1
        self.mode_source.data = {
            "want": ["pan" if pan else "label"],
            "seq": [self._mode_seq],
        }
        self._mode = "pan" if pan else "label"
        self._update_status()

    def _on_tool_source(self, attr: str, old: Any, new: Mapping[str, Any]) -> None:
        """Follow the tool the page says is active (a toolbar button or ``m``)."""
        try:
            mode = str(list(new["mode"])[-1])
        except (KeyError, IndexError, TypeError):
            return
        if mode in ("label", "pan", "none") and mode != self._mode:
            self._mode = mode
            self._update_status()

    def focus(self) -> None:
        """Put the keyboard focus on the selected bodypart's button (else the first).

        After a tab switch the next key then goes to the labeller's frame, not to
        the tab bar or to nothing.
        """
        buttons = dict(zip(self.bodyparts, self.bodypart_buttons, strict=True))
        button = buttons.get(self.model.selected)
        if button is None or button.layout.display == "none":
            shown = [b for b in self.bodypart_buttons if b.layout.display != "none"]
            button = shown[0] if shown else self.next_button
        button.focus()

    @property
    def shortcuts(self) -> dict[str, tuple[str, ...]]:
        """The :data:`SHORTCUTS` of this project (no animal keys for one animal)."""
        if self.model.multianimal:
            return dict(SHORTCUTS)
        return {a: k for a, k in SHORTCUTS.items() if a not in MULTIANIMAL_ACTIONS}

    def canvas_label(self) -> str:
        """Give the image's accessible name: frame, bodyparts placed, active point."""
        m = self.model
        if m.store is None or not m.frame:
            return "labelling image: no frame"
        text = (
            f"frame {Path(m.frame).name} ({m.frame_index + 1} of {len(m.frames)}), "
            f"{m.n_labelled_bodyparts()} of {len(self.bodyparts)} bodyparts placed"
        )
        active = m.active_point()
        if active is not None:
            x, y = m.store.point(m.frame, active)
            if math.isfinite(x):
                text += f"; arrows move {active} at {x:.0f}, {y:.0f}"
        elif m.selected:
            text += f"; k or Enter places {m.selected}"
        return text

    # ================================================================ text
    def show_message(self, text: str, *, level: str = "info") -> None:
        """Show a message above the canvas (``info``, ``warning`` or ``error``)."""
        if not text:
            self.message.value = ""
            return
        color = {"error": "#b00020", "warning": "#8a5300"}.get(level, "#1d4f91")
        bg = {"error": "#fde7ea", "warning": "#fff4e0"}.get(level, "#e8f0fb")
        self.message.value = (
            f"<div class='labeler-{level}' style='color:{color};background:{bg};"
            f"padding:6px 10px;border-radius:4px;max-width:1000px'>"
            f"{html.escape(text)}</div>"
        )

    def _update_status(self) -> None:
        m = self.model
        marks = {"labelled": " ✓", "not visible": " (not visible)"}
        guesses = m.machine_points() if m.frame else {}
        off = m.guesses_off_image(guesses) if guesses else {}
        for b, bp in zip(self.bodypart_buttons, self.bodyparts, strict=True):
            sel = bp == m.selected
            guess = guesses.get(bp)
            if guess is None:
                said, tip = "", ""
            elif bp in off:  # accepting leaves it unlabelled: no guess to take
                x, y = off[bp]
                said = " · guess off the image"
                tip = (
                    f"; the network's guess ({x:.0f}, {y:.0f}) lies off the image: "
                    "accepting leaves it unlabelled; click the point"
                )
            else:
                said = f" · guess {guess[2]:.2f}"
                tip = (
                    f"; the network's guess here has likelihood {guess[2]:.2f} "
                    f"({_GUESS_WORDS[m.likelihood_class(guess[2])]})"
                )
            b.description = (
                ("▶ " if sel else "") + bp + marks.get(m.point_state(bp), "") + said
            )
            b.tooltip = f"select {bp}" + tip
            b.style.font_weight = "bold" if sel else "normal"
            b.layout.border = "3px solid #222" if sel else "1px solid #bbb"
        self.undo_button.disabled = not m.can_undo
        self.redo_button.disabled = not m.can_redo
        self._update_progress()
        self._update_nav()
        if m.store is None or not m.frame:
            self.status.value = ""
            return
        n_frames = len(m.frames)
        color = self.colors[self.bodyparts.index(m.selected)] if m.selected else ""
        mode = {
            "label": "label (m: pan)",
            "pan": "pan (m: label)",
            "none": "no tool, clicks place nothing (m: label)",
        }[self._mode]
        active = m.active_point()
        moving = (
            f" · <span class='active-point'>arrows move <b>{html.escape(active)}"
            "</b> (Shift: 10 px, Esc: done)</span>"
            if active is not None
            else ""
        )
        test = m.test_frame_label()
        test = (
            f"<span class='test-frame' style='color:#8a5300'><b>{test}</b></span> · "
            if test
            else ""
        )
        self.status.value = (
            f"<span class='frame-name'><b>{Path(m.frame).name}</b></span> · frame "
            f"{m.frame_index + 1} of {n_frames} · {test}"
            f"<span class='frame-progress'>{m.n_labelled_bodyparts()} of "
            f"{len(self.bodyparts)} bodyparts</span> on this frame · "
            f"<span class='labelled-count'>{m.n_labelled_frames()} of {n_frames} "
            "frames labelled</span> · "
            f"<span class='done-count'>{m.video_progress()[0]} of {n_frames} frames "
            "done</span> · click places "
            f"<span style='color:{color};font-size:16px'>●</span> "
            f"<b class='selected-bodypart'>{m.selected}</b> (k / Enter: place it "
            f"by keyboard){moving} · <span class='labeler-mode'>mode: {mode}</span>"
        )

    # ================================================================ several animals
    def _individual_controls(self) -> list[W.Widget]:
        """Build the animal chooser, copy and swap (multi-animal projects; else nothing)."""
        m = self.model
        self.individual_buttons: list[W.Button] = []
        if not m.multianimal:
            return []
        palette = dict(zip(self.bodyparts, self.colors, strict=True))
        for ind in m.individuals:
            color = palette[m.slots_of(ind)[0]]
            b = W.Button(
                description=ind,
                tooltip=f"label {ind} (i / j: next / previous animal)",
                layout=W.Layout(width="auto", margin="1px"),
            )
            b.style.button_color = color
            b.style.text_color = text_color(color)
            b.on_click(lambda _, ind=ind: self.model.select_individual(ind))
            b.add_class("labeler-individual")
            self.individual_buttons.append(b)
        self.copy_individual_button = W.Button(
            description="Copy animal ← previous frame",
            tooltip="the selected animal's points from the previous frame (g)",
            layout=W.Layout(width="220px", margin="1px"),
        )
        self.copy_individual_button.on_click(
            lambda _: self.model.copy_previous_individual()
        )
        self.swap_dropdown = W.Dropdown(
            options=[i for i in m.individuals if i != "single"],
            layout=W.Layout(width="110px"),
        )
        self.swap_button = W.Button(
            description="Swap with",
            tooltip="swap the selected animal's labels with this one on this frame (w:"
            " with the next animal)",
            layout=W.Layout(width="100px", margin="1px"),
        )
        self.swap_button.on_click(
            lambda _: self.model.swap_individuals(
                self.model.selected_individual, self.swap_dropdown.value
            )
        )
        self.swap_button.add_class("labeler-swap")
        self._sync_individuals()
        return [
            W.HTML("<b>Animals</b>"),
            W.HBox(self.individual_buttons, layout=W.Layout(flex_flow="row wrap")),
            self.copy_individual_button,
            W.HBox([self.swap_button, self.swap_dropdown]),
        ]

    def _sync_individuals(self) -> None:
        """Show the selected animal and its bodyparts' buttons only."""
        m = self.model
        if not m.multianimal or not getattr(self, "individual_buttons", None):
            return
        current = m.selected_individual
        for b in self.individual_buttons:
            sel = b.description == current
            b.style.font_weight = "bold" if sel else "normal"
            b.layout.border = "3px solid #222" if sel else "1px solid #bbb"
        for b, bp in zip(self.bodypart_buttons, self.bodyparts, strict=True):
            b.layout.display = "" if bp.split("/", 1)[0] == current else "none"
        others = [i for i in self.swap_dropdown.options if i != current]
        if others and self.swap_dropdown.value not in others:
            self.swap_dropdown.value = others[0]

    def _update_progress(self) -> None:
        """Project-wide "n of N frames done", per video; the not-visible overlay."""
        m = self.model
        progress = m.project_progress()
        done = sum(d for d, _ in progress.values())
        total = sum(t for _, t in progress.values())
        rows = "".join(
            f"<tr data-video='{html.escape(v)}'><td>{html.escape(v)}</td>"
            f"<td style='text-align:right'>{d} / {t}</td></tr>"
            for v, (d, t) in progress.items()
        )
        self.progress.value = (
            "<div style='font-size:12px;margin-top:6px'><b class='project-done'>"
            f"{done} of {total} frames done</b> in the project"
            f"<table style='font-size:12px'>{rows}</table></div>"
        )
        hidden = [bp for bp in self.bodyparts if m.point_state(bp) == "not visible"]
        self.hidden_label.text = (
            "not visible: " + ", ".join(hidden) if hidden and m.frame else ""
        )
        if self.low_checkbox.value != m.low_likelihood_only:
            self.low_checkbox.value = m.low_likelihood_only


def _to_json(table: Mapping[str, Any]) -> str:
    """Write a points or skeleton table as JSON (NaN as ``null``) for the page."""

    def plain(v: Any) -> Any:
        if isinstance(v, float | np.floating):
            return float(v) if math.isfinite(v) else None
        if isinstance(v, np.integer):
            return int(v)
        return v

    return json.dumps({k: [plain(v) for v in np.asarray(c).tolist()] if isinstance(c, np.ndarray) else [plain(v) for v in c] for k, c in table.items()})  # fmt: skip
