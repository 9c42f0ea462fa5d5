"""Analysis panel: run the trained network on the project's videos and open the results.

:class:`AnalysisModel` holds the state and logic (which videos, the analysis thread,
progress with ETA, the prediction files on disk); :class:`AnalysisPanel` is the thin
ipywidgets view. Videos are analysed one after the other in a background thread, so
the kernel stays responsive; each result (``<video><scorer>.h5``, DeepLabCut's layout)
can be opened in the trajectory viewer, which opens at the top of the results, the
page scrolled to it, and, when the server serves them (``make app``, mybinder.org:
:func:`posekit.widgets.serve.project_file_url`), its files (``.h5``, ``.csv``,
labelled videos) have download and play links.

The kernel never imports TensorFlow (~650 MB that a process never gives back): the
network runs on LiteRT, and its conversion for LiteRT (once per snapshot and frame
size; with ``precision="auto"`` also the int8 model and its check against float) runs
in a short-lived process of its own (:func:`posekit.engine.tflite_convert.convert_in_child`,
through ``analyze_videos(prepare_tflite=...)``), only when its files are not cached
(:func:`posekit.engine.tflite_convert.conversion_needed`); while it runs the panel
says "preparing the fast runtime" (the engine's ``"converting"`` stage), and its
error, if any, the panel shows.
A shared model file (:attr:`AnalysisModel.model_file`) runs on LiteRT too at the
frame size it was exported for; only at another frame size (converted here) and for a
multi-animal project, which runs on Keras, is TensorFlow loaded here.

Before the first frame the network may be converted and the model loads: seconds
without a frame. The panel says which of these steps runs (the engine reports them
through ``analyze_videos(on_stage=...)``, :class:`posekit.engine.api.AnalysisStage`),
and its ETA starts with the frames: it is the frame rate measured from the first
batch on, never the set-up time spread over the frames.

Stop ends the analysis after the batch that runs (``analyze_videos(stop_event=...)``):
the frames so far are kept beside the output (``.<output>.partial.npz``; a
multi-animal video's detections in ``.<video><scorer>_full.partial.pickle``; a chunk
of a Dask analysis that has not finished is computed again), no ``.h5`` is written
for that video, and Analyze continues from there.

The analysis runs in the page's kernel, which ends when its page is left or reloaded
(a training runs in a process of its own instead, and goes on): the panel says so
while it runs, and records the running analysis in the project
(:data:`posekit.widgets._running_jobs.APP_ANALYSIS_FILE`), so that the page opened
again says that the last analysis of that video was stopped when its page was left
and that Analyze videos continues it (from the frames saved every minute).

A training of the same project and an analysis together need more memory than a 2 GB
server has (QA s22: 2.6 GB): while a training runs the panel says so, and on such a
small machine (:func:`posekit.engine._memory.is_small_machine`) Analyze refuses
(:class:`TrainingRunsError`) unless "analyse while it trains" is ticked. Without a
trained network the panel says so and Analyze is disabled.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import traitlets

from ..engine.project import as_project
from ._bokeh import refresh_bokeh_state
from .app import (
    app_url,
    error_message,
    live_region,
    preload_tensorflow,
    style_button,
)
from .data_root import check_in_data_root
from .pose_export import PoseExport, PoseExportModel
from .serve import project_file_url

if TYPE_CHECKING:
    from ..engine.inference import AnalysisStopped
    from ..engine.project import Project

__all__ = [
    "AnalysisModel",
    "AnalysisPanel",
    "TrainingRunsError",
    "done_message",
    "stopped_message",
]

logger = logging.getLogger("posekit.widgets.analysis")


#: Scrolls the viewer's title (``__SELECTOR__``) to the top of the window, again
#: while the viewer below it renders and the page grows (for 4 s, until the user
#: scrolls, turns the wheel or presses a key): the browser's own scrolling on focus
#: only brings it into view, possibly at the bottom, with the viewer out of sight.
SCROLL_JS = """
(function () {
  const title = document.querySelector(__SELECTOR__);
  if (!title) { return; }
  const area = title.closest(".posekit-analysis-viewer") || title;
  const go = () => title.scrollIntoView({block: "start"});
  const observer = new ResizeObserver(go);
  const stop = () => {
    observer.disconnect();
    ["wheel", "touchmove", "keydown", "mousedown"].forEach(
      (t) => window.removeEventListener(t, stop, true));
  };
  ["wheel", "touchmove", "keydown", "mousedown"].forEach(
    (t) => window.addEventListener(t, stop, true));
  observer.observe(area);
  go();
  setTimeout(stop, 4000);
})();
"""


def stopped_message(stopped: AnalysisStopped) -> str:
    """Return the status line of a stopped analysis: where, and what Analyze does.

    Parameters
    ----------
    stopped
        What the engine raised (:class:`posekit.engine.inference.AnalysisStopped`).

    Returns
    -------
    str

    Examples
    --------
    >>> from pathlib import Path
    >>> from posekit.engine.inference import AnalysisStopped
    >>> stopped_message(AnalysisStopped(Path("m1.mp4"), 256, 900, Path("p.npz")))
    'stopped at frame 256 of 900 (m1.mp4); Analyze videos resumes there'
    >>> stopped_message(AnalysisStopped(Path("m1.mp4"), 0, 0, None))
    'stopped before m1.mp4 was analysed; Analyze videos starts it'
    """
    name = stopped.video.name
    if stopped.frame > 0:
        return (
            f"stopped at frame {stopped.frame} of {stopped.total} ({name}); "
            "Analyze videos resumes there"
        )
    return f"stopped before {name} was analysed; Analyze videos starts it"


class TrainingRunsError(RuntimeError):
    """Analyze refused: a training runs on the project and this machine is small.

    Not an error of the user's: the panel shows its message as the status line,
    with the choice to analyse anyway.
    """


def _snapshot_of(output: Path) -> str | None:
    """Return the snapshot (training iteration) in an output's DeepLabCut scorer name.

    Examples
    --------
    >>> _snapshot_of(Path("m1DLC_effnet_lite0_demoJan1shuffle1_239.h5"))
    '239'
    >>> _snapshot_of(Path("m1DLC_dlcrnetms5_demoJan1shuffle1_50_el.h5"))
    '50'
    >>> _snapshot_of(Path("m1.h5")) is None
    True
    """
    found = re.findall(r"shuffle\d+_(\d+)", output.stem)
    return found[-1] if found else None


def done_message(
    outputs: Sequence[Path],
    reused: Sequence[Path] = (),
    failed: dict[Path, str] | None = None,
) -> str:
    """Return the status line of a finished analysis: analysed, reused, failed.

    Parameters
    ----------
    outputs
        The prediction files of the videos asked (written now or found).
    reused
        Those of ``outputs`` that were there already, from an earlier analysis with
        the same snapshot (not analysed again).
    failed
        Videos that could not be analysed, and why.

    Returns
    -------
    str

    Examples
    --------
    >>> m1, m2 = Path("m1DLC_x_shuffle1_239.h5"), Path("m2DLC_x_shuffle1_239.h5")
    >>> for part in done_message([m1, m2], [m2]).split("; "):
    ...     print(part)
    analysed 1 video(s): m1DLC_x_shuffle1_239.h5
    already analysed with snapshot 239 (reused): m2DLC_x_shuffle1_239.h5
    """
    reused_set = set(map(Path, reused))
    new = [p for p in outputs if Path(p) not in reused_set]
    parts = []
    if new:
        parts.append(f"analysed {len(new)} video(s): " + ", ".join(p.name for p in new))
    by_snapshot: dict[str | None, list[str]] = {}
    for p in outputs:
        if Path(p) in reused_set:
            by_snapshot.setdefault(_snapshot_of(Path(p)), []).append(Path(p).name)
    for snapshot, names in by_snapshot.items():
        with_what = f"snapshot {snapshot}" if snapshot else "this network"
        parts.append(f"already analysed with {with_what} (reused): " + ", ".join(names))
    for video, why in (failed or {}).items():
        parts.append(f"not analysed: {Path(video).name} ({why})")
    return "; ".join(parts) or "nothing to analyse"


def _stopped_before(video: str) -> AnalysisStopped:
    """Return the stop of a run that had not started ``video`` yet."""
    from ..engine.inference import AnalysisStopped

    return AnalysisStopped(Path(video), 0, 0, None)


class AnalysisModel(traitlets.HasTraits):
    """State and logic of the analysis panel (no widgets).

    Parameters
    ----------
    project
        The project whose videos are analysed.
    shuffle
        Which trained network (shuffle) to use.
    analyze_fn
        ``analyze_videos`` (default :func:`posekit.engine.api.analyze_videos`).
    flush_interval_s
        How often progress is pushed to the browser.
    videos
        The videos to offer when there is no project.
    model_file
        A shared ``.posekit.zip``: analyse with it instead of the project's network
        (:func:`posekit.engine.export.analyze_with_model`); ``project`` may then be
        ``None``.

    Attributes
    ----------
    batch_size
        Frames per network call; 0 (default): chosen by frame size, as
        ``posekit analyze`` does (the fastest measured).
    precision
        ``"auto"`` (int8 when it agrees with float), ``"float32"``, ``"int8"``.
    cluster
        ``""``: analyse in this kernel; ``"local"``: on a Dask cluster of this
        machine's cores; or a Dask scheduler address. The progress bar then
        follows the cluster's chunks.
    note
        What the last :meth:`analyze` used instead of what was asked (the newest
        trained iteration's model, when the project's iteration is not trained
        yet after a merge), or ``""``.
    state
        ``"idle"``, ``"running"``, ``"done"``, ``"error"``, or ``"stopped"``
        (:meth:`stop`; the next :meth:`analyze` resumes where it stopped).
    stopping
        A stop was asked and the running batch is finishing.
    training_note
        ``""``, or the line that says that a training runs on the project and how
        much memory analysing needs then (:meth:`check_training`).
    small_memory
        This machine (or its container) has too little memory for a training and
        an analysis together: :meth:`analyze` refuses while a training runs,
        unless :attr:`analyse_anyway`.
    analyse_anyway
        Analyse even while a training runs on a small machine.
    no_network
        ``""``, or why Analyze cannot run yet: the shuffle has no trained network
        (the message points to the Train app).
    """

    shuffle = traitlets.Int(1)
    videos = traitlets.List(traitlets.Unicode())
    selected = traitlets.List(traitlets.Unicode())
    scale = traitlets.Float(1.0)
    save_as_csv = traitlets.Bool(False)
    batch_size = traitlets.Int(0)
    precision = traitlets.Enum(["auto", "float32", "int8"], default_value="auto")
    cluster = traitlets.Unicode("")
    model_file = traitlets.Unicode("")
    destfolder = traitlets.Unicode("")
    state = traitlets.Enum(
        ["idle", "running", "done", "error", "stopped"], default_value="idle"
    )
    stopping = traitlets.Bool(False)
    current = traitlets.Unicode("")
    progress = traitlets.Float(0.0)
    eta_s = traitlets.Float(float("nan"))
    frames_per_s = traitlets.Float(float("nan"))
    message = traitlets.Unicode("")
    error = traitlets.Unicode("")
    note = traitlets.Unicode("")
    outputs = traitlets.List()
    training_note = traitlets.Unicode("")
    small_memory = traitlets.Bool(False)
    analyse_anyway = traitlets.Bool(False)
    no_network = traitlets.Unicode("")

    def __init__(
        self,
        project: Project | str | os.PathLike | None,
        *,
        shuffle: int = 1,
        analyze_fn: Callable[..., Any] | None = None,
        flush_interval_s: float = 0.3,
        videos: Sequence[str | Path] = (),
        model_file: str | Path | None = None,
    ) -> None:
        super().__init__(shuffle=shuffle)
        if project is None and not model_file:
            raise ValueError(
                "AnalysisModel needs a project, or a model_file (.posekit.zip) and "
                "videos to analyse without one."
            )
        self.project = as_project(project) if project is not None else None
        self.model_file = str(model_file or "")
        self.videos = [str(v) for v in videos]
        self._analyze_fn = analyze_fn
        self.flush_interval_s = float(flush_interval_s)
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        #: This model's record of its running analysis (``_running_jobs``).
        self._record_id: str | None = None
        self.refresh()
        self.observe(lambda _: self.check_network(), "shuffle")

    # ------------------------------------------------------------------ listing
    def refresh(self) -> None:
        """Re-read the videos, the results, the trained network and what runs.

        What runs: a training of the project (:meth:`check_training`), and, while
        this model has not analysed yet, the Analyze app's last analysis of the
        project in another page, running or stopped when its page was left
        (:meth:`check_other_pages`).
        """
        if self.project is not None:
            self.videos = [str(v) for v in self.project.source_videos()]
        if not self.selected or not set(self.selected) <= set(self.videos):
            self.selected = [v for v in self.selected if v in self.videos] or list(
                self.videos
            )
        self.refresh_outputs()
        self.check_network()
        self.check_training()
        self.check_other_pages()

    def check_network(self) -> str:
        """Say, in :attr:`no_network`, if the shuffle has no trained network yet.

        Returns
        -------
        str
            The message (``""``: there is one, or a model file analyses).
        """
        missing = ""
        if (
            self._analyze_fn is None
            and self.project is not None
            and not self.model_file
        ):
            try:
                self.model_project()
            except FileNotFoundError as err:
                missing = str(err)
            except Exception:  # noqa: BLE001 - anything else: said by Analyze
                logger.debug("checking the trained network failed", exc_info=True)
        self.no_network = missing
        return missing

    def check_training(self) -> str:
        """Say, in :attr:`training_note`, whether a training runs on the project.

        Also sets :attr:`small_memory` (:func:`posekit.engine._memory.is_small_machine`).

        Returns
        -------
        str
            The line (``""``: no training runs).
        """
        from ._running_jobs import memory_advice, training_line

        line = training_line(self.project) if not self.model_file else ""
        self.small_memory = bool(line) and memory_advice("")[1]
        self.training_note = line
        return line

    def check_other_pages(self) -> None:
        """Say what became of the Analyze app's last analysis of the project.

        Only while this model has not analysed: the analysis another page runs now
        (this one does not follow it), or one whose page was left or reloaded while
        it ran (its kernel ended with it): :attr:`state` ``"stopped"`` and the
        message says that Analyze videos continues it.
        """
        from ._running_jobs import (
            clock,
            interrupted_app_analysis,
            interrupted_message,
            running_app_analysis,
        )

        if self.project is None or self._record_id is not None:
            return
        if self.state not in ("idle", "stopped"):
            return
        try:
            interrupted = interrupted_app_analysis(self.project)
            elsewhere = running_app_analysis(self.project)
        except OSError:
            return
        if interrupted is not None:
            self.message = interrupted_message(interrupted)
            self.state = "stopped"
        elif elsewhere is not None:
            video = Path(str(elsewhere.get("current") or "")).name
            self.message = (
                f"An analysis of {video} started at "
                f"{clock(elsewhere.get('started_at', '?'))} runs in another page of "
                "the Analyze app; its results are listed here when it ends "
                "(re-read them with the refresh button)."
            )

    def refresh_outputs(self) -> list[Path]:
        """Re-scan the prediction files of all videos.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If :attr:`destfolder` is outside the data root (see :meth:`analyze`).
        """
        from ..engine.postprocessing import find_predictions

        dest = (
            self.checked_path(self.destfolder, "the destination folder")
            if self.destfolder
            else None
        )
        self.outputs = [p for v in self.videos for p in find_predictions(v, dest)]
        return self.outputs

    @staticmethod
    def result_files(output: str | os.PathLike) -> list[Path]:
        """Return the files of one result that exist, to download or play.

        The predictions (``output``), their CSV, the filtered ones
        (``…_filtered.h5``/``.csv``) and the labelled videos drawn from any of them
        (``<stem>[_filtered][_bp|_id]_p<cutoff>_labeled.<mp4|avi|…>``, as
        :func:`posekit.engine.labeled_video.labeled_video_path` names them).

        Parameters
        ----------
        output
            A prediction file (one of :attr:`outputs`).

        Returns
        -------
        list of pathlib.Path
            In that order; the labelled videos by name.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("m1DLC_x.h5", "m1DLC_x.csv", "m1DLC_x_p60_labeled.mp4",
        ...              "m1DLC_x2.h5", "m1DLC_x2_p60_labeled.mp4"):
        ...     _ = (d / name).write_bytes(b"")
        >>> [p.name for p in AnalysisModel.result_files(d / "m1DLC_x.h5")]
        ['m1DLC_x.h5', 'm1DLC_x.csv', 'm1DLC_x_p60_labeled.mp4']
        """
        output = Path(output)
        stem, folder = output.stem, output.parent
        files = [
            folder / f"{stem}{tag}{suffix}"
            for tag in ("", "_filtered")
            for suffix in (".h5", ".csv")
        ]
        labelled = re.compile(
            re.escape(stem)
            + r"(_filtered)?(_bp|_id)?_p\d+_labeled\.(mp4|avi|mkv|mov|webm)",
            re.IGNORECASE,
        )
        try:
            names = sorted(
                p.name for p in folder.iterdir() if labelled.fullmatch(p.name)
            )
        except OSError:
            names = []
        return [p for p in files if p.is_file()] + [folder / n for n in names]

    # ------------------------------------------------------------------ analysis
    def analyze(
        self, videos: Sequence[str | Path] | None = None, *, wait: bool = False
    ) -> None:
        """Analyse ``videos`` (default: the selected ones) in a background thread.

        A video that is not one of :attr:`videos` and the destination folder
        (:attr:`destfolder`) must lie inside the data root
        (:mod:`posekit.widgets.data_root`), the project or a folder of the offered
        videos: the panel is an app, and its user may not be the server's.

        Raises
        ------
        RuntimeError
            If an analysis is already running.
        TrainingRunsError
            If a training runs on the project and this machine has too little
            memory for both (:attr:`small_memory`), unless :attr:`analyse_anyway`.
        ValueError
            If no video is chosen or a setting is invalid.
        posekit.widgets.data_root.DataRootError
            If a video or the destination folder is outside those folders.
        """
        if self.state == "running":
            raise RuntimeError("An analysis is already running; wait for it to end.")
        chosen = [str(v) for v in (videos if videos is not None else self.selected)]
        if not chosen:
            raise ValueError("Choose at least one video to analyse.")
        chosen = [
            v if v in self.videos else str(self.checked_path(v, "the video"))
            for v in chosen
        ]
        dest = (
            str(self.checked_path(self.destfolder, "the destination folder"))
            if self.destfolder
            else None
        )
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0. Received: scale={self.scale}")
        # (a stand-in analyze_fn, in tests, brings its own model)
        project, note = (
            self.model_project() if self._analyze_fn is None else (self.project, "")
        )
        if self.batch_size < 0:
            raise ValueError(
                f"batch_size must be >= 1, or 0 for the default. Received: "
                f"{self.batch_size}"
            )
        if self.check_training() and self.small_memory and not self.analyse_anyway:
            raise TrainingRunsError(
                f"{self.training_note} Wait until the training ends (or stop it in "
                "the Train app), then press Analyze videos; or tick “analyse "
                "while it trains” to analyse anyway."
            )
        self.error = ""
        self.note = note
        self.progress = 0.0
        self.eta_s = float("nan")
        self.frames_per_s = float("nan")
        self._stop_event = threading.Event()  # a new one: never set by a late Stop
        self.stopping = False
        self.state = "running"
        self.message = "starting…"
        if self.project is not None:
            from ._running_jobs import start_app_analysis

            self._record_id = start_app_analysis(self.project, chosen, dest)
        self._thread = threading.Thread(
            target=self._run,
            args=(chosen, dest, project),
            name="posekit-analysis",
            daemon=True,
        )
        self._thread.start()
        if wait:
            self._thread.join()

    def model_project(self) -> tuple[Project | None, str]:
        """Return the project to analyse with, and a note when it is not the asked one.

        After a merge the project's iteration has no trained network until it is
        trained again; the newest earlier iteration's model
        (:func:`posekit.engine.api.previous_snapshot`) then analyses, with a note
        that says so. The project on disk is not changed (a copy of it in memory
        names that iteration).

        Returns
        -------
        tuple
            ``(project, note)``; ``note`` is ``""`` when the project's own
            iteration is used (or there is no project: a model file).

        Raises
        ------
        FileNotFoundError
            If no iteration of the shuffle has a trained network: the message
            points to the Train app.
        """
        project = self.project
        if project is None or self.model_file:
            return project, ""
        from ..engine.api import previous_snapshot
        from ..engine.model_folder import ModelFolder

        shuffle = int(self.shuffle)
        folder = ModelFolder.of(project, shuffle)
        if folder.snapshots() or folder.deeplabcut_snapshots():
            return project, ""  # (DeepLabCut's own: the engine says what to do)
        older = previous_snapshot(project, shuffle)
        if older is None:
            which = f" for shuffle {shuffle}" if shuffle != 1 else ""
            raise FileNotFoundError(
                f"No trained network yet{which}: train one in the Train app (home "
                "page → Train), then analyse here."
            )
        trained = int(older.parent.parent.parent.name.rsplit("-", 1)[-1])
        copy = dataclasses.replace(project, cfg=deepcopy(project.cfg))
        copy.cfg["iteration"] = trained
        note = (
            f"Iteration {project.iteration} is not trained yet (it starts after the "
            f"merge): analysed with the model of iteration {trained} "
            f"({older.stem}). Train iteration {project.iteration} in the Train app "
            "to use the merged labels."
        )
        return copy, note

    def checked_path(self, path: str | Path, what: str) -> Path:
        """Resolve ``path``; refuse it outside the data root and the app's folders.

        The app's folders are the project's and those of the offered videos (given
        through the Python API, which is not restricted).

        Parameters
        ----------
        path
            A video or the destination folder (relative: in the data root's first
            folder).
        what
            What it is, for the message.

        Returns
        -------
        pathlib.Path
            The resolved path.

        Raises
        ------
        posekit.widgets.data_root.DataRootError
            If it is outside those folders.
        """
        own = [Path(v).parent for v in self.videos]
        if self.project is not None:
            own.append(Path(self.project.path))
        return check_in_data_root(path, what=what, also=list(dict.fromkeys(own)))

    def stop(self) -> bool:
        """Ask the running analysis to stop after the batch that runs now.

        The engine keeps the frames analysed so far (as on Ctrl-C) and writes no
        ``.h5`` for the video it was on; :attr:`state` becomes ``"stopped"`` and the
        message says at which frame. :meth:`analyze` with the same settings
        resumes there.

        Returns
        -------
        bool
            ``True`` if an analysis was running (and is now stopping).
        """
        if self.state != "running":
            return False
        self._stop_event.set()
        self.stopping = True
        self.message = "stopping after the running batch…"
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the analysis thread; ``True`` if it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state != "running"

    def _run(
        self,
        videos: list[str],
        destfolder: str | None,
        project: Project | None = None,
    ) -> None:
        from ..engine.inference import AnalysisStopped  # (no TensorFlow)

        project = self.project if project is None else project
        try:
            analyze = self._analyze_fn
            in_child = False  # convert in a child: TensorFlow stays out of the kernel
            if analyze is None:
                from ..engine.api import analyze_videos as analyze

                if self.model_file:
                    analyze = self._analyze_with_model
                in_child = not self.model_file and not (
                    project is not None and project.multianimal
                )
                if not in_child:  # (Keras here: its start-up messages silenced)
                    self.message = "starting TensorFlow…"
                    preload_tensorflow()
            written: list[Path] = []
            reused: list[Path] = []
            failed: dict[Path, str] = {}
            for k, video in enumerate(videos):
                if self._stop_event.is_set():  # (an engine stand-in may not check)
                    raise _stopped_before(video)
                self.current = video
                self._record(current=video)
                self.message = f"video {k + 1} of {len(videos)}: starting…"
                on_stage = self._stage_callback(k, len(videos), video)
                extra = (
                    {"prepare_tflite": self._convert_callback(video, on_stage)}
                    if in_child
                    else {}
                )
                result = analyze(
                    project,
                    [video],
                    shuffle=int(self.shuffle),
                    destfolder=destfolder,
                    save_as_csv=bool(self.save_as_csv),
                    batch_size=int(self.batch_size) or None,
                    scale=float(self.scale),
                    precision=self.precision,
                    client=self.cluster or None,
                    progress=self._progress_callback(k, len(videos)),
                    on_stage=on_stage,
                    stop_event=self._stop_event,
                    **extra,
                )
                written += result
                reused += getattr(result, "skipped", [])
                failed.update(getattr(result, "failed", {}))
                self.progress = (k + 1) / len(videos)
        except AnalysisStopped as stopped:
            self._record(state="stopped")
            self._show_stopped(stopped)
            return
        except BaseException as err:  # noqa: BLE001 - shown in the widget, logged
            self._record(state="error")
            logger.exception("analysis failed: %s", err, exc_info=err)
            self.error = error_message(err)
            self.message = "the analysis ended with an error (below)"
            self.state = "error"
            self.stopping = False
            self.refresh_outputs()
            return
        self._record(state="done")
        self.stopping = False
        self.current = ""
        self.eta_s = 0.0
        self.refresh_outputs()
        message = done_message(written, reused, failed)
        if reused and self.check_training():
            message += (
                ". A training is running on this project: analyse again when it "
                "ends to use its newest snapshot"
            )
        self.message = message + (f". {self.note}" if self.note else "")
        self.state = "done"

    def _record(self, **fields: Any) -> None:
        """Update this analysis' record in the project (what runs, its end)."""
        if self.project is None or self._record_id is None:
            return
        from ._running_jobs import update_app_analysis

        try:
            update_app_analysis(self.project, self._record_id, **fields)
        except OSError:  # (a project that became read-only: the record says less)
            logger.debug("updating the analysis record failed", exc_info=True)

    def _show_stopped(self, stopped: AnalysisStopped) -> None:
        """Say where the analysis stopped and that Analyze resumes there."""
        self.current = ""
        self.eta_s = float("nan")
        self.refresh_outputs()
        self.message = stopped_message(stopped)
        self.stopping = False
        self.state = "stopped"

    def _analyze_with_model(self, project, videos, *, shuffle, **kwargs) -> list[Path]:
        """Analyse with :attr:`model_file` (no project; ``shuffle`` does not apply)."""
        from ..engine.export import analyze_with_model

        return analyze_with_model(self.model_file, videos, **kwargs)

    def _convert_callback(
        self, video: str, on_stage: Callable[[Any], None]
    ) -> Callable[..., None]:
        """Convert ``video``'s network for LiteRT in a child process, when needed.

        For ``analyze_videos(prepare_tflite=...)``: nothing when the converted files
        are cached; else the engine's ``"converting"`` stage goes to ``on_stage``
        (:meth:`_stage_callback`: "preparing the fast runtime…") and the child runs
        (:func:`posekit.engine.tflite_convert.convert_in_child`). Stop ends the child.
        """

        def convert(folder, snapshot, frame_shape, batch_size, precision) -> None:
            from ..engine.api import AnalysisStage
            from ..engine.tflite_convert import conversion_needed, convert_in_child

            args = (folder, snapshot, frame_shape, batch_size, precision)
            if not conversion_needed(*args):
                return
            on_stage(AnalysisStage("converting", Path(video), 1, 1))
            if not convert_in_child(*args, stop_event=self._stop_event):
                raise _stopped_before(video)

        return convert

    def _stage_callback(
        self, k: int, n_videos: int, video: str
    ) -> Callable[[Any], None]:
        """Say which step of video ``k`` runs (an engine ``AnalysisStage``)."""

        def on_stage(stage: Any) -> None:
            if getattr(stage, "name", None) == "analysing":
                self.message = (
                    f"analysing video {k + 1} of {n_videos}: {Path(video).name}"
                )
            else:
                self.message = f"video {k + 1} of {n_videos}: {stage}…"

        return on_stage

    def _progress_callback(self, k: int, n_videos: int) -> Callable[[int, int], None]:
        """Progress of video ``k``; the ETA from the frame rate after the first batch.

        The time before the first batch (TensorFlow, loading, conversion, the first
        call) is left out: spread over the frames it made a 42 s job show 7:49. The
        videos still to come are estimated to take as long as this one.
        """
        last = [0.0]
        first: list[tuple[float, int]] = []  # (time, frames) of the first report

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if not first:
                first.append((now, done))
            if now - last[0] < self.flush_interval_s and done < total:
                return
            last[0] = now
            frac = done / total if total else 1.0
            self.progress = (k + frac) / n_videos
            t_first, done_first = first[0]
            if done > done_first and now > t_first:
                rate = (done - done_first) / (now - t_first)
                self.frames_per_s = rate
                later = (n_videos - k - 1) * total / rate
                self.eta_s = max(total - done, 0) / rate + later

        return progress


class AnalysisPanel:
    """The analysis panel's widgets on an :class:`AnalysisModel` (``.widget``).

    Parameters
    ----------
    model
        The model, or a project.
    on_open
        Called with the prediction file when its "Open" button is pressed (default:
        :meth:`open_in_viewer`, the trajectory viewer at the top of the results,
        scrolled into view).
    """

    def __init__(
        self,
        model: AnalysisModel | Project,
        *,
        on_open: Callable[[Path], Any] | None = None,
    ) -> None:
        import ipywidgets as w

        if not isinstance(model, AnalysisModel):
            model = AnalysisModel(model)
        self.model = m = model
        self.on_open = on_open or self.open_in_viewer
        style = {"description_width": "initial"}
        self.video_select = w.SelectMultiple(
            description="videos", rows=min(6, max(2, len(m.videos))), style=style,
            layout=w.Layout(width="420px"),
        )  # fmt: skip
        self.shuffle = w.BoundedIntText(
            min=1, max=99, description="shuffle", style=style,
            layout=w.Layout(width="130px"),
        )  # fmt: skip
        self.scale = w.BoundedFloatText(
            min=0.1, max=4.0, step=0.25, description="scale", style=style,
            layout=w.Layout(width="120px"),
        )  # fmt: skip
        self.csv = w.Checkbox(description="also write CSV", indent=False)
        places = [("this kernel", ""), ("Dask: this machine's cores", "local")]
        if m.cluster not in ("", "local"):
            places.append((f"Dask: {m.cluster}", m.cluster))
        self.cluster = w.Dropdown(
            options=places, description="run on", style=style,
            layout=w.Layout(width="260px"),
        )  # fmt: skip
        for trait, widget in (
            ("shuffle", self.shuffle),
            ("scale", self.scale),
            ("save_as_csv", self.csv),
            ("cluster", self.cluster),
        ):
            w.link((m, trait), (widget, "value"))
        self.analyze_button = style_button(
            w.Button(description="Analyze videos", button_style="success", icon="play"),
            "go",
        )
        self.analyze_button.on_click(lambda _: self._analyze())
        #: Stops after the running batch; enabled only while an analysis runs.
        self.stop_button = style_button(
            w.Button(
                description="Stop",
                button_style="warning",
                icon="stop",
                tooltip="Stop after the running batch; Analyze videos resumes there",
                disabled=True,
            ),
            "stop",
        )
        self.stop_button.on_click(lambda _: self._stop())
        self.refresh_button = w.Button(
            icon="refresh",
            tooltip="Re-read the videos and results",
            layout={"width": "40px"},
        )
        self.refresh_button.on_click(lambda _: self._refresh())
        #: A training runs on the project: what that means for memory (QA s22 #1).
        self.training_line = w.HTML()
        self.training_line.add_class("posekit-analysis-training")
        #: Shown while a training runs on a small machine: analyse all the same.
        self.anyway = w.Checkbox(
            description="analyse while it trains (this server may run out of memory)",
            indent=False,
            layout=w.Layout(display="none", width="auto"),
        )
        w.link((m, "analyse_anyway"), (self.anyway, "value"))
        #: No trained network yet: Analyze is disabled and this says what to do.
        self.network_line = w.HTML()
        self.network_line.add_class("posekit-analysis-no-network")
        #: While an analysis runs: leaving the page stops it (unlike a training).
        self.leave_line = w.HTML(
            '<span class="posekit-analysis-leave" style="color:#8a6100">'
            "The analysis runs in this page: leaving or reloading the page stops it "
            "(unlike a training, which goes on). What it analysed is saved every "
            "minute, and Analyze videos then continues from there.</span>",
            layout=w.Layout(display="none"),
        )
        self.progress = w.FloatProgress(
            min=0.0, max=1.0, description="progress", layout=w.Layout(width="360px")
        )
        self.progress.add_class("posekit-analysis-progress")
        #: How far the analysis is (percent, frames/s, ETA): updated many times a
        #: second, so not announced.
        self.progress_text = w.HTML()
        #: What the analysis does (the step, the video, the result), announced by a
        #: screen reader (QA s15 #8) and focused when Analyze disables itself (#10).
        self.status = live_region(w.HTML())
        self.status.add_class("posekit-analysis-status")
        self.error_box = w.HTML()
        self.outputs_box = w.VBox()
        self.outputs_box.add_class("posekit-analysis-outputs")
        #: Names the file the viewer shows (announced); focused by Open, which
        #: scrolls the page to it: it is always there (empty while nothing is open),
        #: so the browser has it when the focus request comes.
        self.viewer_title = live_region(w.HTML())
        self.viewer_title.add_class("posekit-analysis-viewer-title")
        self.close_viewer_button = w.Button(
            description="Close",
            icon="times",
            tooltip="Close the trajectory viewer",
            layout=w.Layout(display="none"),
        )
        self.close_viewer_button.on_click(lambda _: self.close_viewer())
        #: Runs :data:`SCROLL_JS` in the page (takes no room).
        self.scroller = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
        self._scrolls = 0
        self.viewer_header = w.HBox(
            [self.viewer_title, self.close_viewer_button, self.scroller],
            layout=w.Layout(align_items="center"),
        )
        #: The trajectory viewer's place: at the top of the results (QA s18: below
        #: the list and the export it opened out of sight, far down the page).
        self.viewer_box = w.VBox([self.viewer_header])
        self.viewer_box.add_class("posekit-analysis-viewer")
        #: The trajectory viewer last opened (``None`` before and once closed).
        self.viewer: Any = None
        #: The prediction file the viewer shows.
        self.viewer_path: Path | None = None
        self._open_buttons: dict[Path, Any] = {}
        self._shown_files: list[tuple[Path, tuple[Path, ...]]] | None = None
        #: Export the results in another format (netCDF, NWB, …).
        self.export = PoseExport(
            PoseExportModel(lambda: {p.stem: p for p in m.outputs})
        )
        self.widget = w.VBox(
            [
                w.HBox(
                    [
                        self.video_select,
                        w.VBox([self.shuffle, self.scale, self.csv, self.cluster]),
                    ],
                    layout=w.Layout(flex_flow="row wrap"),  # narrow window: wraps
                ),
                self.network_line,
                self.training_line,
                self.anyway,
                w.HBox([self.analyze_button, self.stop_button, self.refresh_button]),
                self.leave_line,
                w.HBox(
                    [self.progress, self.progress_text],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.status,
                self.error_box,
                w.HTML("<h4>Results</h4>"),
                self.viewer_box,
                self.outputs_box,
                self.export.widget,
            ]
        )
        self.widget.add_class("posekit-analysis-panel")
        #: This panel's own class, for :data:`SCROLL_JS` (a notebook may show two).
        self.panel_class = f"posekit-analysis-panel-{uuid.uuid4().hex[:12]}"
        self.widget.add_class(self.panel_class)
        self._syncing = False
        self._sync_videos()
        self.video_select.observe(self._on_select, "value")
        m.observe(lambda _: self._sync_videos(), ["videos", "selected"])
        m.observe(
            lambda _: self._update_status(),
            ["state", "message", "progress", "stopping"],
        )
        m.observe(lambda _: self._update_status(), ["eta_s", "frames_per_s"])
        m.observe(lambda _: self._update_error(), "error")
        m.observe(
            lambda _: self._update_checks(),
            ["training_note", "small_memory", "no_network"],
        )
        m.observe(lambda _: self._update_outputs(), "outputs")
        self._update_checks()
        self._update_status()
        self._update_outputs()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ._bokeh import ensure_bokehjs

        ensure_bokehjs()
        display(self.widget)

    def _refresh(self) -> None:
        """Re-read the videos, results and checks, and the results' files."""
        self.model.refresh()
        self._update_outputs(force=False)

    def _analyze(self) -> None:
        if self.model.state == "running":  # a double click's second click: ignored
            return
        try:
            self.model.analyze()
        except TrainingRunsError as err:  # a caution, not an error: the status line
            self.model.error = ""
            self.model.message = str(err)
        except Exception as err:  # noqa: BLE001 - shown in the widget, once
            self.model.message = ""
            self.model.error = error_message(err)
        self._focus_next()

    def _stop(self) -> None:
        """Stop the analysis; the status line, which says what happens, gets focus."""
        self.model.stop()
        self._focus_next()

    def _focus_next(self) -> None:
        """Move the focus off a button that just disabled itself (QA s15 #10).

        A keyboard user would otherwise land on the page's top: Stop while an
        analysis runs, else the status line (focusable, announced).
        """
        if not self.stop_button.disabled:
            self.stop_button.focus()
        elif self.model.state == "running":
            self.status.focus()

    def _on_select(self, change: dict) -> None:
        if not self._syncing:
            self.model.selected = list(change["new"])

    def _sync_videos(self) -> None:
        """Show the model's videos and selection.

        Setting ``options`` clears the widget's value; that must not clear the model's
        selection.
        """
        m = self.model
        self._syncing = True
        try:
            options = [(Path(v).name, v) for v in m.videos]
            if list(self.video_select.options) != options:
                self.video_select.options = options
            self.video_select.value = tuple(v for v in m.selected if v in m.videos)
        finally:
            self._syncing = False

    def _update_checks(self) -> None:
        """Show the running training and the missing network; Analyze accordingly."""
        m = self.model
        self.training_line.value = (
            '<div role="note" style="color:#8a6100;max-width:60em">'
            f"<b>⚠</b> {html.escape(m.training_note)}</div>"
            if m.training_note
            else ""
        )
        self.anyway.layout.display = (
            "" if m.training_note and m.small_memory else "none"
        )
        self.network_line.value = (
            f'<div style="max-width:60em"><b>{html.escape(m.no_network)}</b></div>'
            if m.no_network
            else ""
        )
        self._update_status()

    def _update_status(self) -> None:
        from .training_dashboard import format_eta

        m = self.model
        self.progress.value = m.progress
        self.analyze_button.disabled = m.state == "running" or bool(m.no_network)
        self.leave_line.layout.display = "" if m.state == "running" else "none"
        self.stop_button.disabled = m.state != "running" or m.stopping
        fps = (
            f", {m.frames_per_s:.0f} frames/s" if math.isfinite(m.frames_per_s) else ""
        )
        eta = (
            f", ETA {format_eta(m.eta_s)}"
            if m.state == "running" and math.isfinite(m.eta_s)
            else ""
        )
        self.progress_text.value = (
            f'<span class="posekit-analysis-progress-text">'
            f"{100 * m.progress:.0f}%{fps}{eta}</span>"
        )
        status = (
            f'<span class="posekit-analysis-state" data-state="{m.state}">'
            f"{html.escape(m.message)}</span>"
        )
        if self.status.value != status:  # announced only when it changes
            self.status.value = status

    def _update_error(self) -> None:
        err = self.model.error
        self.error_box.value = (
            '<details open role="alert" style="color:#cf222e">'
            "<summary><b>Error</b></summary>"
            f'<pre style="white-space:pre-wrap">{html.escape(err)}</pre></details>'
            if err
            else ""
        )

    def _files_shown(self) -> list[tuple[Path, tuple[Path, ...]]]:
        return [(p, tuple(self.model.result_files(p))) for p in self.model.outputs]

    def _update_outputs(self, force: bool = True) -> None:
        """List the results: Open, the name and size, links to the files.

        Parameters
        ----------
        force
            Rebuild the rows even if the files on disk are those already listed.
        """
        import ipywidgets as w

        shown = self._files_shown()
        if not force and shown == self._shown_files:
            return
        self._shown_files = shown
        rows = []
        self._open_buttons = {}
        for path, files in shown:
            button = w.Button(
                description="Open",
                icon="eye",
                tooltip=f"Show the trajectories of {path.name} above the results",
            )
            button.on_click(lambda _, p=path: self._open(p))
            self._open_buttons[path] = button
            size = path.stat().st_size / 1e6 if path.exists() else float("nan")
            link = ""
            if (Path.cwd() / "viewer.ipynb").is_file():
                href = app_url(
                    "viewer.ipynb", self.model.project, predictions=str(path)
                )
                link = (
                    f' <a href="{html.escape(href, quote=True)}" target="_blank">'
                    "open in the Trajectories app</a>"
                )
            rows.append(
                w.HBox(
                    [
                        button,
                        w.HTML(
                            f'<code class="posekit-output">{html.escape(path.name)}'
                            f"</code> <small>({size:.1f} MB){link}</small>"
                            + _file_links(files)
                        ),
                    ]
                )
            )
        self.outputs_box.children = rows or [w.HTML("<i>no results yet</i>")]
        if self.model.outputs and "nothing to export yet" in self.export.status.value:
            self.export.status.value = ""  # there are results now

    def _open(self, path: Path) -> None:
        try:
            self.on_open(path)
        except Exception as err:  # noqa: BLE001 - shown in the widget, logged
            logger.exception("opening %s failed", path)
            self.model.error = error_message(err)

    def open_in_viewer(self, path: str | os.PathLike) -> Any:
        """Show the trajectory viewer on ``path`` at the top of the results.

        The title above it says which file it shows, gets the focus and is
        scrolled to the top of the window (:meth:`show_viewer_title`; the Open
        button may be far down a long list); it says "Opening…" at once, while the
        viewer loads. Opening the file already shown only scrolls to it again (a
        second click does not reload).

        Parameters
        ----------
        path
            The prediction file.

        Returns
        -------
        posekit.widgets.trajectory_viewer.TrajectoryViewer or None
            The viewer (``None`` when that widget is not installed: the file's
            path is shown instead).
        """
        path = Path(path)
        name = html.escape(path.name)
        if self.viewer is not None and path == self.viewer_path:
            self.show_viewer_title()
            return self.viewer
        self.viewer_title.value = f"<h4>Opening the trajectories of {name}…</h4>"
        self.show_viewer_title()  # there while the viewer loads
        try:
            from .trajectory_viewer import TrajectoryViewer
        except ImportError:
            self.viewer_title.value = (
                f"<h4>Prediction file: <code>{html.escape(str(path))}</code></h4>"
            )
            return None
        try:
            viewer = TrajectoryViewer(path, self.model.project)
        except BaseException:
            self.viewer_title.value = (
                "" if self.viewer is None else self._viewer_heading(self.viewer_path)
            )
            raise
        self.viewer, self.viewer_path = viewer, path
        self.viewer_title.value = self._viewer_heading(path)
        self.close_viewer_button.layout.display = ""
        self.viewer_box.children = [self.viewer_header, viewer.widget]
        # views created from now on start from the current Bokeh documents
        refresh_bokeh_state(viewer.widget)
        # a labelled video made in the viewer gets its links in the list
        viewer.model.observe(lambda _: self._update_outputs(force=False), "message")
        self.show_viewer_title()  # (the page grew: the title to the top again)
        return viewer

    def show_viewer_title(self) -> None:
        """Focus the viewer's title and scroll it to the top of the window.

        The focus makes a screen reader read it (and the browser bring it into
        view); :data:`SCROLL_JS` puts it at the top, with the viewer below it.
        """
        self.viewer_title.focus()
        self._scrolls += 1
        selector = f".{self.panel_class} .posekit-analysis-viewer-title"
        script = SCROLL_JS.replace("__SELECTOR__", json.dumps(selector))
        self.scroller.outputs = (
            {
                "output_type": "display_data",
                # (a new text each time: the page runs it again)
                "data": {
                    "application/javascript": f"{script}// {self._scrolls}\n",
                    "text/plain": "",
                },
                "metadata": {},
            },
        )

    @staticmethod
    def _viewer_heading(path: Path | None) -> str:
        name = html.escape(path.name if path else "")
        return f"<h4>Trajectories of <code>{name}</code></h4>"

    def close_viewer(self) -> None:
        """Close the trajectory viewer; the focus goes back to the file's Open."""
        path = self.viewer_path
        self.viewer, self.viewer_path = None, None
        self.viewer_box.children = [self.viewer_header]
        self.viewer_title.value = ""
        self.close_viewer_button.layout.display = "none"
        button = self._open_buttons.get(path) if path is not None else None
        if button is not None:
            button.focus()


def _file_links(files: Sequence[Path]) -> str:
    """Return the line of download and play links of a result's files (HTML).

    ``files`` start with the prediction file (:meth:`AnalysisModel.result_files`).
    Only files the server serves get a link
    (:func:`posekit.widgets.serve.project_file_url`); without such a server (a
    plain ``voila``, JupyterLab without posekit's server extension) the files
    besides the predictions are named, with their folder.

    Examples
    --------
    >>> _file_links([Path("/nonexistent/m1DLC_x.h5")])
    ''
    >>> line = _file_links([Path("/v/m1DLC_x.h5"), Path("/v/m1DLC_x_p60_labeled.mp4")])
    >>> "also <code>m1DLC_x_p60_labeled.mp4</code> in <code>/v</code>" in line
    True
    """
    links, unserved = [], []
    for k, f in enumerate(files):
        url = project_file_url(f)
        name = html.escape(f.name)
        if url is None:
            if k:  # (the predictions' name is in the row)
                unserved.append(f"<code>{name}</code>")
            continue
        href = html.escape(url, quote=True)
        if f.stem.lower().endswith("_labeled"):
            links.append(
                f'<a href="{href}" target="_blank" rel="noopener" '
                f'class="posekit-result-play">▶ play {name}</a> '
                f'(<a href="{href}" download="{name}" '
                'class="posekit-result-download">download</a>)'
            )
        else:
            links.append(
                f'<a href="{href}" download="{name}" '
                f'class="posekit-result-download">⬇ {name}</a>'
            )
    parts = ["files: " + " · ".join(links)] if links else []
    if unserved:
        where = html.escape(str(files[0].parent))
        parts.append(f"also {', '.join(unserved)} in <code>{where}</code>")
    if not parts:
        return ""
    return (
        '<div class="posekit-result-files" style="margin-left:1em"><small>'
        + "; ".join(parts)
        + "</small></div>"
    )
