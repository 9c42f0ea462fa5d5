"""DeepLabCut-compatible projects: ``config.yaml`` and the folder layout.

A posekit project *is* a DeepLabCut project: the same ``config.yaml`` keys (unknown keys
and comments preserved on a round trip), the same folders (``videos/``,
``labeled-data/``, ``training-datasets/``, ``dlc-models/``, ``evaluation-results/``).
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from . import logger
from ._fileio import atomic_write_text

__all__ = [
    "Project",
    "ProjectError",
    "create_project",
    "load_project",
    "CONFIG_TEMPLATE",
]


class ProjectError(ValueError):
    """A project or its ``config.yaml`` is missing or invalid."""


#: DeepLabCut 2.x single-animal template (key order and comments as DLC writes them).
CONFIG_TEMPLATE = """\
# Project definitions (do not edit)
Task:
scorer:
date:
multianimalproject:
identity:

# Project path (change when moving around)
project_path:

# Default DeepLabCut engine to use for shuffle creation (either pytorch or tensorflow)
engine: tensorflow

# Annotation data set configuration (and individual video cropping parameters)
video_sets:
bodyparts:

# Fraction of video to start/stop when extracting frames for labeling/refinement
start:
stop:
numframes2pick:

# Plotting configuration
skeleton:
skeleton_color:
pcutoff:
dotsize:
alphavalue:
colormap:

# Training,Evaluation and Analysis configuration
TrainingFraction:
iteration:
default_net_type:
default_augmenter:
snapshotindex:
detector_snapshotindex:
batch_size:
detector_batch_size:

# Cropping Parameters (for analysis and outlier frame detection)
cropping:
#if cropping is true for analysis, then set the values here:
x1:
x2:
y1:
y2:

# Refinement configuration (parameters from annotation dataset configuration also relevant in this stage)
corner2move2:
move2corner:
"""

_MONTHS = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
]  # fmt: skip

_DEFAULTS: dict[str, Any] = {
    "multianimalproject": False,
    "identity": None,
    "engine": "tensorflow",
    "start": 0,
    "stop": 1,
    "numframes2pick": 20,
    "skeleton_color": "black",
    "pcutoff": 0.6,
    "dotsize": 12,
    "alphavalue": 0.7,
    "colormap": "rainbow",
    "TrainingFraction": [0.95],
    "iteration": 0,
    "default_net_type": "mobilenet_v2_0.35",
    "default_augmenter": "default",
    "snapshotindex": -1,
    "detector_snapshotindex": -1,
    "batch_size": 8,
    "detector_batch_size": 1,
    "cropping": False,
    "x1": 0,
    "x2": 640,
    "y1": 277,
    "y2": 624,
    "corner2move2": [50, 50],
    "move2corner": True,
}

_PLACEHOLDER = "WILL BE AUTOMATICALLY UPDATED"


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps key order, comments and unknown keys
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _month_day(date: _dt.date) -> str:
    return f"{_MONTHS[date.month - 1]}{date.day}"


@dataclass
class Project:
    """An open DeepLabCut-compatible project.

    Use :func:`load_project` or :func:`create_project` to get one. The raw config is kept
    as a round-trip mapping (``cfg``) so that keys posekit does not know survive a save;
    typed accessors read the keys posekit uses.

    Attributes
    ----------
    path
        Project folder (absolute).
    cfg
        The parsed ``config.yaml`` (a ``ruamel`` round-trip mapping).
    """

    path: Path
    cfg: CommentedMap

    # ------------------------------------------------------------------ typed keys
    @property
    def config_path(self) -> Path:
        """Path of ``config.yaml``."""
        return self.path / "config.yaml"

    @property
    def task(self) -> str:
        """Project task name (``Task``)."""
        return str(self.cfg["Task"])

    @property
    def scorer(self) -> str:
        """Labeller name (``scorer``)."""
        return str(self.cfg["scorer"])

    @property
    def date(self) -> str:
        """Project date as DLC writes it in file names (``Oct30``)."""
        return str(self.cfg["date"])

    @property
    def multianimal(self) -> bool:
        """Whether this is a multi-animal project."""
        return bool(self.cfg.get("multianimalproject") or False)

    @property
    def bodyparts(self) -> list[str]:
        """Bodyparts in config order (multi-animal: multi-animal then unique parts)."""
        if self.multianimal:
            return [str(b) for b in self.cfg.get("multianimalbodyparts") or []] + [
                str(b) for b in self.cfg.get("uniquebodyparts") or []
            ]
        return [str(b) for b in self.cfg.get("bodyparts") or []]

    @property
    def skeleton(self) -> list[tuple[str, str]]:
        """Skeleton edges as pairs of bodypart names."""
        return [(str(a), str(b)) for a, b in (self.cfg.get("skeleton") or [])]

    @property
    def pcutoff(self) -> float:
        """Likelihood threshold for display and evaluation."""
        return float(self.cfg.get("pcutoff", 0.6))

    @property
    def iteration(self) -> int:
        """Active-learning iteration."""
        return int(self.cfg.get("iteration") or 0)

    @property
    def training_fractions(self) -> list[float]:
        """``TrainingFraction`` list."""
        return [float(f) for f in self.cfg.get("TrainingFraction") or [0.95]]

    @property
    def net_type(self) -> str:
        """Default network (backbone) name."""
        net = str(self.cfg.get("default_net_type") or "mobilenet_v2_0.35")
        return net

    def get(self, key: str, default: Any = None) -> Any:
        """Raw config value (unknown keys included)."""
        return self.cfg.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a config value in memory (call :meth:`save` to write it)."""
        self.cfg[key] = value

    # ------------------------------------------------------------------ videos
    @property
    def video_sets(self) -> dict[str, dict[str, Any]]:
        """``video_sets`` as ``{path: {"crop": "x1, x2, y1, y2"}}``."""
        return {
            str(k): dict(v or {}) for k, v in (self.cfg.get("video_sets") or {}).items()
        }

    def videos(self) -> list[Path]:
        """Videos of the project that exist on disk.

        Entries of ``video_sets`` are resolved as given, then by name inside
        ``videos/`` (so a moved project, or DLC's placeholder entries, still work);
        videos in ``videos/`` not listed in the config are included too.
        """
        found: dict[str, Path] = {}
        for key in self.video_sets:
            p = Path(key)
            candidates = [p, self.path / "videos" / p.name]
            for c in candidates:
                if c.is_file():
                    found[c.name] = c.resolve() if c.is_absolute() else c
                    break
        vdir = self.path / "videos"
        if vdir.is_dir():
            for f in sorted(vdir.iterdir()):
                if f.suffix.lower() in VIDEO_SUFFIXES and f.name not in found:
                    found[f.name] = f
        return list(found.values())

    def add_videos(
        self, videos: Sequence[str | os.PathLike], *, copy: bool = False
    ) -> list[Path]:
        """Link (or copy) videos into ``videos/`` and list them in ``video_sets``.

        Returns
        -------
        list of Path
            The videos' paths inside the project.
        """
        import cv2

        out = []
        vdir = self.path / "videos"
        vdir.mkdir(exist_ok=True)
        sets = self.cfg.get("video_sets") or CommentedMap()
        # drop DLC demo placeholders
        for key in list(sets):
            if _PLACEHOLDER in str(key):
                del sets[key]
        for v in videos:
            src = Path(v).resolve()
            if not src.is_file():
                raise ProjectError(f"Video not found: {src}")
            dst = vdir / src.name
            if not dst.exists():
                if copy:
                    shutil.copy2(src, dst)
                else:
                    try:
                        dst.symlink_to(src)
                    except OSError:
                        shutil.copy2(src, dst)
            cap = cv2.VideoCapture(str(dst))
            w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            cap.release()
            sets[str(dst)] = CommentedMap(crop=f"0, {w}, 0, {h}")
            out.append(dst)
        self.cfg["video_sets"] = sets
        return out

    # ------------------------------------------------------------------ layout
    def labeled_data_dir(self, video: str | os.PathLike) -> Path:
        """``labeled-data/<video stem>/`` for a video path or stem."""
        return self.path / "labeled-data" / Path(video).stem

    def labels_path(self, video: str | os.PathLike) -> Path:
        """``labeled-data/<stem>/CollectedData_<scorer>.h5``."""
        return self.labeled_data_dir(video) / f"CollectedData_{self.scorer}.h5"

    def labeled_videos(self) -> list[str]:
        """Stems of the folders in ``labeled-data/`` (excluding ``*_labeled``)."""
        ld = self.path / "labeled-data"
        if not ld.is_dir():
            return []
        return sorted(
            d.name
            for d in ld.iterdir()
            if d.is_dir() and not d.name.endswith("_labeled")
        )

    def training_set_dir(self) -> Path:
        """``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/``."""
        return (
            self.path
            / "training-datasets"
            / f"iteration-{self.iteration}"
            / f"UnaugmentedDataSet_{self.task}{self.date}"
        )

    def model_dir(self, shuffle: int = 1, train_fraction: float | None = None) -> Path:
        """``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/``."""
        pct = _pct(
            train_fraction if train_fraction is not None else self.training_fractions[0]
        )
        return (
            self.path
            / "dlc-models"
            / f"iteration-{self.iteration}"
            / f"{self.task}{self.date}-trainset{pct}shuffle{shuffle}"
        )

    def evaluation_dir(
        self, shuffle: int = 1, train_fraction: float | None = None
    ) -> Path:
        """``evaluation-results/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/``."""
        pct = _pct(
            train_fraction if train_fraction is not None else self.training_fractions[0]
        )
        return (
            self.path
            / "evaluation-results"
            / f"iteration-{self.iteration}"
            / f"{self.task}{self.date}-trainset{pct}shuffle{shuffle}"
        )

    # ------------------------------------------------------------------ saving
    def to_yaml(self) -> str:
        """The config as YAML text (comments and unknown keys kept)."""
        buf = io.StringIO()
        _yaml().dump(self.cfg, buf)
        return buf.getvalue()

    def save(self) -> Path:
        """Write ``config.yaml`` atomically (``project_path`` set to the folder)."""
        self.cfg["project_path"] = str(self.path)
        return atomic_write_text(self.config_path, self.to_yaml())


VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv", ".m4v"}


def _pct(fraction: float) -> int:
    return int(round(100 * float(fraction)))


def load_project(path: str | os.PathLike) -> Project:
    """Open a project from its folder or its ``config.yaml``.

    A project that was moved (``project_path`` pointing elsewhere, or DLC's demo
    placeholder) is fixed up in memory: ``project_path`` becomes the folder that holds
    the config. Nothing is written until :meth:`Project.save`.

    Parameters
    ----------
    path
        Project folder or path to its ``config.yaml``.

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        If there is no ``config.yaml``, it does not parse, or required keys are missing.
    """
    path = Path(path).expanduser()
    cfg_path = path if path.suffix in (".yaml", ".yml") else path / "config.yaml"
    if not cfg_path.is_file():
        raise ProjectError(
            f"No config.yaml at {cfg_path}. Pass a project folder (one that holds "
            "config.yaml) or create one with posekit.engine.create_project / "
            "`posekit create`."
        )
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ProjectError(
            f"{cfg_path} is not a text (UTF-8) file ({err.reason} at byte "
            f"{err.start}). Restore config.yaml from a backup."
        ) from err
    try:
        cfg = _yaml().load(text)
    except YAMLError as err:
        raise ProjectError(
            f"{cfg_path} is not valid YAML ({err.__class__.__name__}: "
            f"{_yaml_problem(err)}). Fix the file by hand or restore it from a "
            "backup; posekit did not change it."
        ) from err
    if not isinstance(cfg, dict):
        raise ProjectError(f"{cfg_path} does not hold a mapping of settings.")
    missing = [k for k in ("Task", "scorer", "date") if not cfg.get(k)]
    if missing:
        raise ProjectError(f"{cfg_path} lacks the required keys {missing}.")
    if not cfg.get("multianimalproject") and not cfg.get("bodyparts"):
        raise ProjectError(f"{cfg_path} lists no bodyparts.")
    folder = cfg_path.parent.resolve()
    stated = str(cfg.get("project_path") or "")
    if stated != str(folder):
        if stated and _PLACEHOLDER not in stated:
            logger.info("project moved: project_path %s -> %s", stated, folder)
        cfg["project_path"] = str(folder)
    return Project(folder, cfg)


def _yaml_problem(err: Exception) -> str:
    """What the YAML parser found wrong and where (the problem and its context)."""

    def at(mark: Any) -> str:
        return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""

    problem = getattr(err, "problem", None)
    context = getattr(err, "context", None)
    text = problem or (str(err).splitlines() or [""])[0]
    text += at(getattr(err, "problem_mark", None))
    if context:
        text += f" ({context}{at(getattr(err, 'context_mark', None))})"
    return text


def create_project(
    task: str,
    experimenter: str,
    videos: Sequence[str | os.PathLike] = (),
    *,
    working_directory: str | os.PathLike | None = None,
    bodyparts: Sequence[str] = ("bodypart1", "bodypart2", "bodypart3", "objectA"),
    skeleton: Sequence[Sequence[str]] | None = None,
    copy_videos: bool = False,
    date: _dt.date | None = None,
    net_type: str = "mobilenet_v2_0.35",
    **overrides: Any,
) -> Project:
    """Create a new DeepLabCut-compatible project.

    The folder is ``<working_directory>/<task>-<experimenter>-<YYYY-MM-DD>`` with
    ``videos/``, ``labeled-data/``, ``training-datasets/``, ``dlc-models/`` and
    ``config.yaml`` holding every key DeepLabCut 2.x writes.

    Parameters
    ----------
    task, experimenter
        Project name parts; ``experimenter`` becomes the ``scorer``.
    videos
        Videos to add (symlinked, or copied with ``copy_videos=True``).
    working_directory
        Parent folder (default: the current directory).
    bodyparts, skeleton
        Keypoint names and skeleton edges.
    copy_videos
        Copy instead of symlink.
    date
        Project date (default today).
    net_type
        ``default_net_type`` (a posekit backbone name).
    **overrides
        Any other config key (e.g. ``pcutoff=0.4``, ``numframes2pick=30``).

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        If the project folder already holds a ``config.yaml``.
    """
    if not task or not experimenter:
        raise ProjectError("task and experimenter must be non-empty strings")
    date = date or _dt.date.today()
    wd = Path(working_directory or os.getcwd()).expanduser().resolve()
    folder = wd / f"{task}-{experimenter}-{date.isoformat()}"
    if (folder / "config.yaml").exists():
        raise ProjectError(
            f"A project already exists at {folder}; open it with load_project()."
        )
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cfg = _yaml().load(CONFIG_TEMPLATE)
    for key, value in _DEFAULTS.items():
        cfg[key] = value
    cfg["Task"] = task
    cfg["scorer"] = experimenter
    cfg["date"] = _month_day(date)
    cfg["project_path"] = str(folder)
    cfg["video_sets"] = CommentedMap()
    cfg["bodyparts"] = [str(b) for b in bodyparts]
    cfg["skeleton"] = [list(map(str, e)) for e in (skeleton or [])]
    cfg["default_net_type"] = net_type
    for key, value in overrides.items():
        cfg[key] = value
    project = Project(folder, cfg)
    if videos:
        project.add_videos(videos, copy=copy_videos)
    project.save()
    logger.info("created project %s", folder)
    return project


def index_length(n_frames: int) -> int:
    """Zero padding DLC uses for ``img<index>.png``: ``ceil(log10(n_frames))`` digits."""
    return max(1, int(math.ceil(math.log10(max(n_frames, 2)))))
