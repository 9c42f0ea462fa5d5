"""Check-labels gallery: the labelled frames drawn with their points.

Each frame is one click away from the labeller.

"Render" runs :func:`posekit.engine.label_check.check_labels` (DeepLabCut's
``labeled-data/<video>_labeled/`` images) and shows them as a paged grid of
thumbnails; clicking a thumbnail (or its caption button) calls :attr:`selected`
listeners with the frame, which the label app uses to open that frame in the
labeller. Bodyparts are told apart by more than colour: a legend names each colour,
and "Show names" writes each point's name beside it on the thumbnails.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import ipywidgets as W
import numpy as np

from ..engine import logger
from ..engine.drawing import bodypart_colors, to_hex
from ..engine.io.dlc import LabelError
from ..engine.label_check import check_labels, labeled_dir
from ..engine.labels import LabelStore
from ..engine.project import Project, ProjectError, as_project
from ._bokeh import encode_image

__all__ = ["CheckLabelsGallery"]


class CheckLabelsGallery:
    """Render and browse DeepLabCut-style check-labels images.

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    per_page
        Thumbnails per page.
    thumb_width
        Thumbnail width in pixels.

    Attributes
    ----------
    images
        ``(video_stem, image_path)`` of the rendered images, in order.
    selected
        Callables ``f(video_stem, image_name)`` called when a thumbnail is clicked.
    widget
        The view (display this).
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        *,
        per_page: int = 12,
        thumb_width: int = 240,
    ) -> None:
        self.project = as_project(project)
        self.per_page = int(per_page)
        self.thumb_width = int(thumb_width)
        self.page = 0
        self.images: list[tuple[str, Path]] = []
        self.selected: list[Callable[[str, str], None]] = []
        self.cards: list[W.VBox] = []
        self.render_button = W.Button(
            description="Render labelled frames",
            icon="check",
            button_style="primary",
            layout=W.Layout(width="220px"),
            tooltip="draw every labelled frame to labeled-data/<video>_labeled/",
        )
        self.progress = W.IntProgress(
            min=0, max=1, layout=W.Layout(width="300px", visibility="hidden")
        )
        self.status = W.HTML()
        self.prev_button = W.Button(description="◀ page", layout=W.Layout(width="90px"))
        self.next_button = W.Button(description="page ▶", layout=W.Layout(width="90px"))
        self.page_label = W.HTML()
        self.grid = W.GridBox(
            layout=W.Layout(
                grid_template_columns=f"repeat(auto-fill, {self.thumb_width + 12}px)",
                grid_gap="8px",
            )
        )
        self.names_checkbox = W.Checkbox(
            value=True,
            description="Show names",
            indent=False,
            tooltip="write each point's bodypart name beside it on the thumbnails",
            layout=W.Layout(width="120px"),
        )
        self.names_checkbox.observe(lambda _: self.show_page(self.page), "value")
        self.legend = W.HTML(self.legend_html())
        self.legend.add_class("check-labels-legend")
        self.render_button.on_click(lambda _: self.render())
        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.widget = W.VBox(
            [
                W.HBox([self.render_button, self.progress]),
                self.status,
                W.HBox([self.names_checkbox, self.legend]),
                W.HBox([self.prev_button, self.page_label, self.next_button]),
                self.grid,
            ]
        )
        self.widget.add_class("posekit-check-labels")
        self._load_existing()

    def legend_html(self) -> str:
        """Each colour of the thumbnails and what it stands for, in words."""
        project = self.project
        if project.multianimal:
            names = list(project.individuals)
            what = "animals (each point's name is written beside it)"
        else:
            names = list(project.bodyparts)
            what = "bodyparts"
        colors = [
            to_hex(c) for c in bodypart_colors(len(names), project.display.colormap)
        ]
        items = " ".join(
            f"<span style='white-space:nowrap'><span aria-hidden='true' "
            f"style='color:{c};font-size:16px'>●</span> {html.escape(n)}</span>"
            for n, c in zip(names, colors, strict=True)
        )
        return f"<span style='font-size:12px'>Colours of the {what}: {items}</span>"

    def _names_on(
        self, small: np.ndarray, stem: str, name: str, scale: float, stores: dict
    ) -> None:
        """Write the bodypart names beside their points on a thumbnail (in place)."""
        if stem not in stores:
            try:
                stores[stem] = LabelStore(self.project, stem)
            except (LabelError, OSError) as err:
                logger.warning("no names on the %s thumbnails: %s", stem, err)
                stores[stem] = None
        store = stores[stem]
        frame = f"labeled-data/{stem}/{name}"
        if store is None or frame not in store.labelled_frames():
            return
        for (x, y), bp in zip(store.get(frame), store.bodyparts, strict=True):
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            org = (int(round(x * scale)) + 4, int(round(y * scale)) + 4)
            for color, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
                cv2.putText(
                    small, bp, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, thick,
                    cv2.LINE_AA,
                )  # fmt: skip

    def _load_existing(self) -> None:
        """Show images rendered earlier (if any), without re-rendering."""
        found = []
        for stem in self.project.labeled_videos():
            folder = labeled_dir(self.project, stem)
            if folder.is_dir():
                found += [(stem, p) for p in sorted(folder.glob("*.png"))]
        self.images = found
        if found:
            self.status.value = (
                f"{len(found)} images from an earlier check; render again after "
                "labelling more."
            )
        self.show_page(0)

    def render(self) -> list[Path]:
        """Draw all labelled frames (engine ``check_labels``) and show page 1."""
        self.render_button.disabled = True
        self.progress.layout.visibility = "visible"

        def progress(done: int, total: int) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done

        try:
            paths = check_labels(self.project, progress=progress)
        except (LabelError, ProjectError, OSError) as err:  # bad labels or config
            self.status.value = (
                f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
            )
            return []
        finally:
            self.render_button.disabled = False
            self.progress.layout.visibility = "hidden"
        self.images = [(p.parent.name.removesuffix("_labeled"), p) for p in paths]
        folders = sorted({str(p.parent.relative_to(self.project.path)) for p in paths})
        self.status.value = (
            f"<span class='check-count'>{len(paths)} labelled frames</span> drawn to "
            f"{html.escape(', '.join(folders) or 'nothing (no labels yet)')}. "
            "Click a frame to fix it in the labeller."
        )
        self.show_page(0)
        return paths

    @property
    def n_pages(self) -> int:
        """Number of pages."""
        return max(1, -(-len(self.images) // self.per_page))

    def show_page(self, page: int) -> None:
        """Show one page of thumbnails."""
        import ipyevents

        self.page = min(max(int(page), 0), self.n_pages - 1)
        for card in self.cards:  # free the previous page's widgets
            card._posekit_events.close()
            for child in card.children:
                child.close()
            card.close()
        start = self.page * self.per_page
        cards = []
        stores: dict = {}
        for stem, path in self.images[start : start + self.per_page]:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                logger.warning("check-labels image %s is unreadable", path)
                continue
            h, w = img.shape[:2]
            tw = min(self.thumb_width, w)
            small = cv2.resize(
                img, (tw, round(h * tw / w)), interpolation=cv2.INTER_AREA
            )
            if self.names_checkbox.value:
                self._names_on(small, stem, path.name, tw / w, stores)
            image = W.Image(
                value=encode_image(small, "jpeg", quality=85, bgr=True),
                format="jpeg",
                layout=W.Layout(width=f"{tw}px"),
            )
            button = W.Button(
                description=f"{stem}/{path.name}",
                tooltip="open this frame in the labeller",
                layout=W.Layout(width=f"{tw}px"),
            )
            button.add_class("check-labels-open")
            button.on_click(lambda _, s=stem, n=path.name: self.select(s, n))
            click = ipyevents.Event(source=image, watched_events=["click"])
            click.on_dom_event(lambda _ev, s=stem, n=path.name: self.select(s, n))
            card = W.VBox([image, button], layout=W.Layout(border="1px solid #ddd"))
            card._posekit_events = click  # keep the event widget alive with the card
            cards.append(card)
        self.cards = cards
        self.grid.children = cards
        self.page_label.value = f"&nbsp;page {self.page + 1} of {self.n_pages} ({len(self.images)} frames)&nbsp;"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.n_pages - 1

    def select(self, video: str, image_name: str) -> None:
        """Open a frame in the labeller (calls the :attr:`selected` listeners)."""
        for cb in list(self.selected):
            cb(video, image_name)

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
