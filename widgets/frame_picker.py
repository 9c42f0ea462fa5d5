"""Frame picker: scrub a project's videos and choose the frames to label.

:class:`FramePickerModel` holds the state and logic (which video, which frame, what is
extracted and labelled, extraction); :class:`FramePicker` is the thin ipywidgets view:
a video menu, a slider with play/pause (``ipywidgets.Play`` jslinked to it, so playing
needs no round trip per step), the frame as a JPEG, "mark this frame for labelling",
uniform or k-means extraction with a progress bar, and a strip and list of the
extracted (and labelled) frames. More than :data:`MANY_FRAMES` frames are extracted only
after a second, explicit confirmation (:meth:`FramePickerModel.extraction_warning`).
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import cv2
import ipywidgets as W
import numpy as np

from ..engine import logger
from ..engine.io.dlc import LabelError
from ..engine.labels import IMAGE_SUFFIXES, LabelStore
from ..engine.project import Project, as_project
from ..engine.video import VideoError, VideoReader, extract_frames, frame_index_of
from ._bokeh import encode_image
from .app import plain_text

__all__ = [
    "MANY_FRAMES",
    "MAX_FRAMES",
    "FramePickerModel",
    "FramePicker",
    "frame_index_of",
]

#: Above this many frames an extraction asks for confirmation first: each frame is
#: labelled by hand, and DeepLabCut suggests 100–200 frames in all.
MANY_FRAMES = 200
#: The most frames the *Frames* box accepts.
MAX_FRAMES = 10000
#: Bytes of a PNG frame per pixel, roughly (640x480 video frames: about 200 kB).
_PNG_BYTES_PER_PIXEL = 0.65


class FramePickerModel:
    """State and logic of the frame picker (no widgets; drive it from tests).

    Parameters
    ----------
    project
        A :class:`~posekit.engine.project.Project` or its folder.
    video
        A video of the project (path or file name; default the first).

    Attributes
    ----------
    videos
        The project's videos (:meth:`~posekit.engine.project.Project.source_videos`:
        labelled-video outputs left out).
    video
        The current video (``None`` when the project has none).
    index
        The current frame.
    listeners
        Callables ``f(video_stem)`` called after frames were extracted.
    """

    def __init__(
        self,
        project: Project | str | os.PathLike,
        video: str | os.PathLike | None = None,
    ) -> None:
        self.project = as_project(project)
        # labelled-video outputs (keypoints drawn on them) are not for labelling
        self.videos: list[Path] = self.project.source_videos()
        self.video: Path | None = None
        self.reader: VideoReader | None = None
        self.index = 0
        self.listeners: list[Callable[[str], None]] = []
        if self.videos:
            self.set_video(video if video is not None else self.videos[0])

    # ------------------------------------------------------------------ video
    def set_video(self, video: str | os.PathLike) -> None:
        """Open another video of the project (by path, file name or stem)."""
        name = Path(video).name
        match = [v for v in self.videos if v.name == name or v.stem == name]
        path = match[0] if match else Path(video)
        if self.reader is not None:
            self.reader.close()
        self.reader = VideoReader(path)
        self.video = path
        self.index = 0

    @property
    def stem(self) -> str:
        """Stem of the current video (its ``labeled-data/`` folder name)."""
        return self.video.stem if self.video is not None else ""

    @property
    def n_frames(self) -> int:
        """Frames in the video (the container's count; exact counting is slow)."""
        if self.reader is None:
            return 0
        return self.reader.metadata_frames or self.reader.n_frames

    @property
    def fps(self) -> float:
        """Frame rate of the video."""
        return self.reader.fps if self.reader is not None else 30.0

    def time_of(self, index: int) -> float:
        """Time of a frame in seconds."""
        return index / self.fps

    def frame(self, index: int | None = None) -> np.ndarray:
        """Decode a frame (default: the current one) as RGB ``uint8``."""
        if self.reader is None:
            raise VideoError("This project has no video.")
        return self.reader[self.index if index is None else int(index)]

    def thumbnail(self, index: int | None = None, width: int = 480) -> bytes:
        """Encode a frame as JPEG bytes, ``width`` pixels wide (never upscaled)."""
        img = self.frame(index)
        h, w = img.shape[:2]
        if w > width:
            img = cv2.resize(
                img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA
            )
        return encode_image(img, "jpeg", quality=85)

    # ------------------------------------------------------------------ status
    def extracted(self) -> list[int]:
        """Frame indices extracted from this video (``labeled-data/<stem>/img*.png``)."""
        folder = self.project.labeled_data_dir(self.stem) if self.video else None
        if folder is None or not folder.is_dir():
            return []
        out = {
            frame_index_of(f.name)
            for f in folder.iterdir()
            if f.suffix.lower() in IMAGE_SUFFIXES
        }
        return sorted(i for i in out if i is not None)

    def labelled(self) -> list[int]:
        """Frame indices of this video that have labels."""
        if self.video is None or not self.project.labels_path(self.stem).exists():
            return []
        try:
            store = LabelStore(self.project, self.stem, autosave=False)
        except LabelError as err:
            logger.warning("frame picker: %s", err)
            return []
        out = (frame_index_of(f) for f in store.labelled_frames())
        return sorted(i for i in out if i is not None)

    # ------------------------------------------------------------------ extraction
    def mark(self, index: int | None = None) -> Path:
        """Extract one frame for labelling ("mark this frame"); return its image."""
        if self.video is None:
            raise VideoError("This project has no video.")
        i = self.index if index is None else int(index)
        paths = extract_frames(self.project, self.video, indices=[i])
        self._notify()
        return paths[0]

    def extract(
        self,
        mode: Literal["uniform", "kmeans"] = "kmeans",
        n: int | None = None,
        *,
        start: float | None = None,
        stop: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Path]:
        """Extract ``n`` frames (uniform or k-means) like DeepLabCut's extract_frames."""
        if self.video is None:
            raise VideoError("This project has no video.")
        paths = extract_frames(
            self.project,
            self.video,
            mode=mode,
            n=n,
            start=start,
            stop=stop,
            progress=progress,
        )
        self._notify()
        return paths

    def _notify(self) -> None:
        for cb in list(self.listeners):
            cb(self.stem)

    def frames_in_part(self, start: float = 0.0, stop: float = 1.0) -> int:
        """Frames of the current video between fractions ``start`` and ``stop``."""
        n = self.n_frames
        return max(0, min(n, round(stop * n)) - max(0, round(start * n)))

    def extraction_warning(
        self, n: int, *, start: float = 0.0, stop: float = 1.0
    ) -> str | None:
        """Say why extracting ``n`` frames needs a confirmation, or ``None``.

        More than :data:`MANY_FRAMES` frames is far more than one labels by hand,
        and writes a lot of images (the apps cannot delete them).

        Parameters
        ----------
        n
            Frames asked for.
        start, stop
            Part of the video (fractions).

        Returns
        -------
        str or None
            The warning (what would be written and how much), or ``None`` when ``n``
            is at most :data:`MANY_FRAMES`.
        """
        if n <= MANY_FRAMES or self.reader is None:
            return None
        available = self.frames_in_part(start, stop)
        k = min(n, available) if available else n
        size = k * self.reader.width * self.reader.height * _PNG_BYTES_PER_PIXEL
        part = (
            f" The chosen part of {self.video.name if self.video else 'the video'} "
            f"has only {available} frames: all {k} of them would be extracted."
            if available and n >= available
            else ""
        )
        return (
            f"{n} frames is many more than you will label by hand: 100–200 frames "
            f"in all, from all videos, usually train a good network.{part} "
            f"{k} frames write about {size / 1e6:.0f} MB of images into "
            f"labeled-data/{self.stem}/, and the apps cannot delete them again. "
            f"Lower Frames, or press “Extract {k} frames anyway”."
        )


class FramePicker:
    """ipywidgets view of a :class:`FramePickerModel`.

    Parameters
    ----------
    project
        A project or its folder (or pass ``model``).
    model
        An existing model.
    threaded
        Run extraction in a background thread so the page stays responsive
        (tests set ``False`` to run it inline).

    Attributes
    ----------
    model
        The :class:`FramePickerModel`.
    widget
        The view (display this).
    label_requested
        Callables ``f(video_stem, image_name)`` called by "Label this frame".
    """

    def __init__(
        self,
        project: Project | str | os.PathLike | None = None,
        *,
        model: FramePickerModel | None = None,
        threaded: bool = True,
        image_width: int = 480,
    ) -> None:
        if model is None:
            if project is None:
                raise ValueError("pass a project or a model")
            model = FramePickerModel(project)
        self.model = model
        self.threaded = threaded
        self.image_width = image_width
        self.label_requested: list[Callable[[str, str], None]] = []
        self._guard = False
        self._job: threading.Thread | None = None
        self._extracted: set[int] = set()
        self._labelled: set[int] = set()
        self.video_dropdown = W.Dropdown(
            options=[v.name for v in model.videos],
            description="Video",
            layout=W.Layout(width="320px"),
        )
        self.play = W.Play(interval=100, min=0, max=0, step=1, description="Play")
        self.slider = W.IntSlider(
            min=0, max=0, description="Frame", layout=W.Layout(width="520px")
        )
        self.play_link = W.jslink((self.play, "value"), (self.slider, "value"))
        self.readout = W.HTML()
        self.readout.add_class("picker-readout")
        self.image = W.Image(format="jpeg", layout=W.Layout(width=f"{image_width}px"))
        self.mark_button = W.Button(
            description="Mark this frame for labelling",
            icon="plus",
            layout=W.Layout(width="240px"),
        )
        self.label_button = W.Button(
            description="Label this frame",
            icon="pencil",
            layout=W.Layout(width="160px"),
        )
        self.mode = W.ToggleButtons(
            options=[("k-means", "kmeans"), ("uniform", "uniform")],
            value="kmeans",
            description="Extract",
            style={"button_width": "80px"},
        )
        # not Bounded: 0 or 100000 would be clamped without a word (_on_count says it)
        self.n_frames = W.IntText(
            value=min(
                max(int(model.project.get("numframes2pick") or 20), 1), MAX_FRAMES
            ),
            description="Frames",
            layout=W.Layout(width="160px"),
        )
        self.range = W.FloatRangeSlider(
            value=(
                float(model.project.get("start", 0) or 0),
                float(model.project.get("stop", 1) or 1),
            ),
            min=0.0,
            max=1.0,
            step=0.01,
            description="Part",
            readout_format=".2f",
            layout=W.Layout(width="360px"),
        )
        self.extract_button = W.Button(
            description="Extract frames", icon="download", button_style="primary"
        )
        self.confirm_button = W.Button(
            description="Extract anyway",
            icon="exclamation-triangle",
            button_style="warning",
            layout=W.Layout(width="auto", display="none"),
        )
        self.progress = W.IntProgress(
            value=0, min=0, max=1, layout=W.Layout(width="300px", visibility="hidden")
        )
        self.message = W.HTML()
        self.strip = W.HTML()
        self.frame_list = W.Select(
            description="Extracted", rows=8, layout=W.Layout(width="320px")
        )
        self.video_dropdown.observe(self._on_video, "value")
        self.slider.observe(self._on_slider, "value")
        self.mark_button.on_click(lambda _: self.mark())
        self.label_button.on_click(lambda _: self.request_label())
        self.extract_button.on_click(lambda _: self.run_extraction())
        self.confirm_button.on_click(lambda _: self.run_extraction(confirmed=True))
        self.n_frames.observe(self._on_count, "value")
        for control in (self.mode, self.range, self.video_dropdown):
            control.observe(lambda _: self._cancel_confirmation(), "value")
        self.frame_list.observe(self._on_list, "value")
        left = W.VBox(
            [
                W.HBox([self.play, self.slider]),
                self.readout,
                self.image,
                W.HBox([self.mark_button, self.label_button]),
            ]
        )
        right = W.VBox(
            [
                self.frame_list,
                W.HTML("<b>Extract many frames</b>"),
                self.mode,
                W.HBox([self.n_frames]),
                self.range,
                W.HBox([self.extract_button, self.progress]),
                self.confirm_button,
            ],
            layout=W.Layout(margin="0 0 0 16px"),
        )
        self.widget = W.VBox(
            [self.video_dropdown, self.strip, W.HBox([left, right]), self.message]
        )
        self.widget.add_class("posekit-frame-picker")
        if model.video is not None:
            self._guard = True
            try:
                self.video_dropdown.value = model.video.name
            finally:
                self._guard = False
            self._load_video()
        else:
            self.show_message(
                "This project has no videos: add them on the Home page "
                "(Add videos to this project), then reload this page."
            )
            for w in (self.mark_button, self.label_button, self.extract_button):
                w.disabled = True

    # ------------------------------------------------------------------ events
    def _on_video(self, change: Mapping[str, Any]) -> None:
        if not self._guard and change["new"]:
            self.model.set_video(change["new"])
            self._load_video()

    def _load_video(self) -> None:
        m = self.model
        n = max(m.n_frames, 1)
        self._guard = True
        try:
            self.slider.max = n - 1
            self.play.max = n - 1
            self.slider.value = 0
            self.play.value = 0
        finally:
            self._guard = False
        self.play.step = max(1, round(m.fps * self.play.interval / 1000))
        self.refresh_status()
        self.show_frame(0)

    def _on_count(self, change: Mapping[str, Any]) -> None:
        self._cancel_confirmation()
        asked = int(change["new"])
        fixed = min(max(asked, 1), MAX_FRAMES)
        if fixed != asked:
            self.n_frames.value = fixed  # -> _on_count again, with nothing to fix
            limit = "at least 1" if asked < 1 else f"at most {MAX_FRAMES}"
            self.show_message(
                f"Frames: {limit} — {asked} was changed to {fixed}.", error=True
            )

    def _cancel_confirmation(self) -> None:
        self.confirm_button.layout.display = "none"

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if not self._guard:
            self.show_frame(int(change["new"]))

    def _on_list(self, change: Mapping[str, Any]) -> None:
        if not self._guard and change["new"] is not None:
            self.goto(int(change["new"]))

    def goto(self, index: int) -> None:
        """Move the slider (and the shown frame) to ``index``."""
        self.slider.value = int(index)  # -> show_frame (also when set by the browser)

    def show_frame(self, index: int) -> None:
        """Decode and show a frame; update the readout."""
        m = self.model
        m.index = int(index)
        try:
            self.image.value = m.thumbnail(index, self.image_width)
        except (IndexError, VideoError) as err:
            self.show_message(f"Frame {index} cannot be shown: {err}")
            return
        self._update_readout()

    def _update_readout(self) -> None:
        m = self.model
        i = m.index
        tags = []
        if i in self._extracted:
            tags.append("<span class='picker-extracted'>extracted</span>")
        if i in self._labelled:
            tags.append("<span class='picker-labelled'>labelled</span>")
        self.readout.value = (
            f"<span class='picker-frame'>frame <b>{i}</b> of {m.n_frames}</span> · "
            f"<span class='picker-time'>{m.time_of(i):.2f} s</span>"
            + (" · " + ", ".join(tags) if tags else "")
        )
        self.label_button.disabled = i not in self._extracted

    # ------------------------------------------------------------------ actions
    def mark(self) -> None:
        """Extract the current frame for labelling."""
        try:
            path = self.model.mark()
        except (ValueError, OSError, VideoError) as err:
            self.show_message(
                f"Could not extract the frame: {plain_text(str(err))}", error=True
            )
            return
        self.show_message(
            f"Marked for labelling: labeled-data/{self.model.stem}/{path.name}"
        )
        self.refresh_status()

    def request_label(self) -> None:
        """Ask the app to open the current frame in the labeller."""
        m = self.model
        if m.index not in self._extracted or m.reader is None:
            self.show_message("Mark this frame for labelling first.")
            return
        from ..engine.video import frame_filename

        names = {
            frame_index_of(p.name): p.name
            for p in m.project.labeled_data_dir(m.stem).iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES
        }
        name = names.get(m.index) or frame_filename(m.index, m.n_frames)
        for cb in list(self.label_requested):
            cb(m.stem, name)

    def run_extraction(
        self, *, wait: bool | None = None, confirmed: bool = False
    ) -> None:
        """Extract frames with the chosen mode, count and range (progress bar shown).

        More than :data:`MANY_FRAMES` frames are not extracted unless ``confirmed``
        (the *Extract anyway* button): the message says why and how much.
        """
        if self._job is not None and self._job.is_alive():
            return
        self._cancel_confirmation()
        start, stop = self.range.value
        warning = self.model.extraction_warning(
            int(self.n_frames.value), start=float(start), stop=float(stop)
        )
        if warning and not confirmed:
            k = min(
                int(self.n_frames.value),
                self.model.frames_in_part(float(start), float(stop))
                or int(self.n_frames.value),
            )
            self.confirm_button.description = f"Extract {k} frames anyway"
            self.confirm_button.layout.display = None
            self.show_message(warning, error=True)
            return
        threaded = self.threaded if wait is None else not wait
        self.extract_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.progress.value = 0
        self.show_message(
            f"Extracting {self.n_frames.value} frames ({self.mode.label}) from "
            f"{self.model.video.name if self.model.video else ''}…"
        )
        if threaded:
            self._job = threading.Thread(
                target=self._extract_job, name="posekit-extract", daemon=True
            )
            self._job.start()
        else:
            self._extract_job()

    def _extract_job(self) -> None:
        def progress(done: int, total: int) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done

        try:
            start, stop = self.range.value
            paths = self.model.extract(
                self.mode.value,
                int(self.n_frames.value),
                start=float(start),
                stop=float(stop),
                progress=progress,
            )
            self.show_message(
                f"{len(paths)} frames in labeled-data/{self.model.stem}/ — label them "
                "in the labeller."
            )
        except Exception as err:  # shown to the user; the app keeps running
            logger.exception("frame extraction failed")
            self.show_message(f"Extraction failed: {plain_text(str(err))}", error=True)
        finally:
            self.extract_button.disabled = False
            self.progress.layout.visibility = "hidden"
            self.refresh_status()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running extraction."""
        if self._job is not None:
            self._job.join(timeout)

    # ------------------------------------------------------------------ display
    def refresh_status(self) -> None:
        """Re-read which frames are extracted and labelled; redraw strip and list."""
        m = self.model
        self._extracted = set(m.extracted())
        self._labelled = set(m.labelled())
        n = max(m.n_frames, 1)
        ticks = []
        for i in sorted(self._extracted):
            color = "#2e7d32" if i in self._labelled else "#1565c0"
            x = 100.0 * i / max(n - 1, 1)
            ticks.append(
                f"<rect x='{x:.3f}%' y='0' width='2' height='14' fill='{color}'>"
                f"<title>frame {i}</title></rect>"
            )
        self.strip.value = (
            "<div class='picker-strip' style='width:520px'>"
            "<svg width='100%' height='14' style='background:#eee'>"
            + "".join(ticks)
            + "</svg><div style='font-size:11px;color:#555'>"
            f"{len(self._extracted)} extracted (<span style='color:#1565c0'>■</span>), "
            f"{len(self._labelled)} labelled (<span style='color:#2e7d32'>■</span>)"
            "</div></div>"
        )
        self._guard = True
        try:
            self.frame_list.options = [
                (f"{i:>6}  {'✓ labelled' if i in self._labelled else ''}", i)
                for i in sorted(self._extracted)
            ]
            self.frame_list.value = None
        finally:
            self._guard = False
        if m.reader is not None:
            self._update_readout()

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show a line under the picker."""
        color = "#b00020" if error else "#333"
        self.message.value = (
            f"<div class='picker-message' style='color:{color}'>{html.escape(text)}</div>"
            if text
            else ""
        )

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
