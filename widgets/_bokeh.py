"""Shared helpers for the Bokeh-based widgets: BokehJS loading, image encoding, colours.

- :func:`ensure_bokehjs` loads BokehJS INLINE (no CDN: works offline, in CI, in Voila)
  once per kernel, before any ``jupyter_bokeh.BokehModel`` is displayed.
- :func:`image_to_data_url` / :func:`encode_image` turn frames into JPEG/PNG so the
  browser receives compressed images, never raw RGBA arrays.
- :func:`close_widget_tree` closes a widget that leaves the page with everything
  below it (closing only part of it hangs Voila's page load).
- :func:`hex_colors` gives the bodypart colours of the project's ``colormap`` (the
  same colours :mod:`posekit.engine.drawing` draws everywhere else).
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import ipywidgets as W
import numpy as np
from bokeh.core.json_encoder import serialize_json
from jupyter_bokeh import BokehModel

from ..engine.drawing import bodypart_colors, to_hex
from .app import error_message

__all__ = [
    "BokehComponent",
    "close_widget_tree",
    "display_scale",
    "ensure_bokehjs",
    "LiveBokehModel",
    "LiveVBox",
    "refresh_bokeh_state",
    "encode_image",
    "image_to_data_url",
    "file_to_data_url",
    "hex_colors",
    "text_color",
]

_LOADED: set[str] = set()

ImageFormat = Literal["jpeg", "png"]


def refresh_bokeh_state(widget) -> None:
    """Refresh every :class:`LiveBokehModel` in an ipywidgets tree (see ``refresh``)."""
    stack, seen = [widget], set()
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        if isinstance(w, LiveBokehModel):
            w.refresh()
        stack.extend(getattr(w, "children", ()) or ())


class LiveVBox(W.VBox):
    """A ``VBox`` that refreshes the :class:`LiveBokehModel` s inside it when displayed.

    Their new views then start from the current Bokeh document (JupyterLab and Voila).
    """

    def _repr_mimebundle_(self, **kwargs):
        refresh_bokeh_state(self)
        return super()._repr_mimebundle_(**kwargs)


def ensure_bokehjs(
    components: Sequence[str] = ("bokeh",), *, force: bool = False
) -> bool:
    """Load BokehJS into the page (INLINE resources) unless this kernel already did.

    Call it before displaying any ``BokehModel`` (otherwise the browser shows
    "Cannot read properties of undefined (reading 'require')"). Only the named
    BokehJS components are sent: the core ``bokeh`` bundle (1.3 MB) is enough for
    figures and tools; add ``"bokeh-widgets"``/``"bokeh-tables"`` for Bokeh's own
    widgets.

    Parameters
    ----------
    components
        BokehJS bundles needed.
    force
        Load again (e.g. after reloading a JupyterLab page that kept its kernel).

    Returns
    -------
    bool
        Whether anything was loaded now.
    """
    from bokeh.io import output_notebook
    from bokeh.resources import Resources

    wanted = [c for c in components if force or c not in _LOADED]
    if not wanted:
        return False
    if "bokeh" not in wanted and "bokeh" not in _LOADED:
        wanted.insert(0, "bokeh")
    output_notebook(
        resources=Resources(mode="inline", components=wanted), hide_banner=True
    )
    _LOADED.update(wanted)
    return True


class LiveBokehModel(BokehModel):
    """A ``jupyter_bokeh.BokehModel`` whose widget state is the *current* document.

    ``BokehModel`` serialises the document once, at construction, into its
    ``render_bundle`` state and later sends changes as patches to the views that
    exist. A view created later (the Voila page fetching widget state after the
    notebook ran, a second ``display`` in JupyterLab) would start from the stale
    bundle and miss every change made before it existed: a frame set after
    construction would never show. This subclass re-serialises the document whenever
    the full state is requested, so every new view starts from the present.

    Set :attr:`lock` to the lock another thread holds while it changes the document
    (e.g. streams into a ``ColumnDataSource``): the document is then serialised under
    it, so a page (re)load never reads a change half-way through.
    """

    #: Held while the document is serialised (``None``: no lock).
    lock: threading.RLock | None = None

    def close(self) -> None:
        """Close the widget (idempotent: ``BokehModel.close`` fails when repeated)."""
        with contextlib.suppress(KeyError):  # document callback already removed
            super().close()

    def refresh(self) -> None:
        """Send the current document as widget state, for views created next.

        JupyterLab creates a view only when the output is displayed; patches sent
        before that (e.g. the frame set in the same cell) reach no view. Displaying
        through :class:`LiveVBox` calls this first.
        """
        if self.comm is not None:
            with self.lock or contextlib.nullcontext():
                self.send_state("render_bundle")

    def get_state(self, key=None, drop_defaults=False):
        """Widget state; ``render_bundle`` is rebuilt from the current document."""
        with self.lock or contextlib.nullcontext():
            state = super().get_state(key=key, drop_defaults=drop_defaults)
            if "render_bundle" in state and getattr(self, "_model", None) is not None:
                model = self._model
                state["render_bundle"] = serialize_json(self._model_to_traits(model))
        return state


def encode_image(
    image: np.ndarray,
    fmt: ImageFormat = "jpeg",
    *,
    quality: int = 90,
    bgr: bool = False,
) -> bytes:
    """Encode an RGB (or grayscale) ``uint8`` image as JPEG or PNG bytes.

    Parameters
    ----------
    image
        ``(H, W, 3)`` RGB or ``(H, W)`` grayscale.
    fmt
        ``"jpeg"`` (small, fast; default) or ``"png"`` (lossless).
    quality
        JPEG quality (1–100).
    bgr
        The image is in OpenCV's BGR order (as ``cv2.imread`` gives it).

    Returns
    -------
    bytes
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image; received dtype={img.dtype}")
    if img.ndim == 3 and not bgr:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        raise ValueError(f"fmt must be 'jpeg' or 'png'; received {fmt!r}")
    if not ok:
        raise ValueError(f"could not encode a {img.shape} image as {fmt}")
    return buf.tobytes()


def image_to_data_url(
    image: np.ndarray, fmt: ImageFormat = "jpeg", *, quality: int = 90
) -> str:
    """Encode an image as a ``data:image/...;base64,`` URL (for Bokeh ``ImageURL``).

    Examples
    --------
    >>> image_to_data_url(np.zeros((4, 4, 3), np.uint8))[:23]
    'data:image/jpeg;base64,'
    """
    data = encode_image(image, fmt, quality=quality)
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode('ascii')}"


def file_to_data_url(path: str | os.PathLike) -> str:
    """Encode an image file's bytes as a data URL, without decoding it."""
    path = Path(path)
    kind = {".jpg": "jpeg", ".jpeg": "jpeg"}.get(path.suffix.lower(), "png")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/{kind};base64,{data}"


def hex_colors(n: int, colormap: str = "rainbow") -> list[str]:
    """``n`` bodypart colours of a colour map as ``#rrggbb`` strings.

    Examples
    --------
    >>> hex_colors(2, "jet")
    ['#000080', '#800000']
    """
    return [to_hex(c) for c in bodypart_colors(n, colormap)]


def text_color(background: str) -> str:
    """``"black"`` or ``"white"``, whichever reads better on a ``#rrggbb`` background."""
    r, g, b = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def close_widget_tree(root: object) -> None:
    """Close an ipywidgets tree: ``root`` and every widget below it (``children``).

    Closing only a widget inside a container that stays open leaves the container
    pointing at a model that no longer exists; Voila loads every open model when the
    page connects and then waits forever for the missing one ("Loading widget...").
    Closing the whole tree of a widget that is no longer shown avoids that.
    """
    stack, seen, order = [root], set(), []
    while stack:
        w = stack.pop()
        if w is None or id(w) in seen:
            continue
        seen.add(id(w))
        order.append(w)
        stack.extend(getattr(w, "children", ()) or ())
    for w in reversed(order):  # children before their containers
        close = getattr(w, "close", None)
        if close is not None:
            close()


def display_scale(
    width: int,
    height: int,
    display_width: int | None,
    *,
    max_size: tuple[int, int] = (960, 800),
    min_width: int = 480,
) -> float:
    """Screen pixels per image pixel for showing a ``width`` × ``height`` image.

    ``display_width`` (if given) decides; otherwise the image is shrunk to fit
    ``max_size`` (width, height) and enlarged to at least ``min_width``.

    Examples
    --------
    >>> display_scale(640, 480, None), display_scale(320, 240, None)
    (1.0, 1.5)
    """
    if display_width:
        return float(display_width) / width
    s = 1.0
    if width * s > max_size[0]:
        s = max_size[0] / width
    if height * s > max_size[1]:
        s = max_size[1] / height
    if width * s < min_width:
        s = min_width / width
    return s


class BokehComponent:
    """Base of a component shown as one ipywidgets tree around a Bokeh figure.

    It provides display of ``self.widget`` (BokehJS loaded first), closing the whole
    tree, and errors of user actions shown in the component (``self._message``)
    instead of raised.
    """

    widget: W.Widget
    _message: W.HTML
    _callbacks: list

    def close(self) -> None:
        """Close every widget of the component (call when it is no longer shown)."""
        self._callbacks.clear()
        close_widget_tree(self.widget)

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        ensure_bokehjs()
        display(self.widget)

    def _guard(self, fn, *args):
        """``fn(*args)``; an exception is shown in the component and gives ``None``."""
        import html

        self._message.value = ""
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self._message.value = (
                f'<span style="color:#cf222e">{html.escape(error_message(err))}</span>'
            )
            return None
