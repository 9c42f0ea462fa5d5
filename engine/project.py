"""DeepLabCut-compatible projects: ``config.yaml`` and the folder layout.

A posekit project *is* a DeepLabCut project: the same ``config.yaml`` keys (unknown keys
and comments preserved on a round trip), the same folders (``videos/``,
``labeled-data/``, ``training-datasets/``, ``dlc-models/``, ``evaluation-results/``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import io
import math
import os
import shutil
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from . import logger
from ._fileio import atomic_write_text
from .locks import file_mutex

__all__ = [
    "CONFIG_TEMPLATE",
    "DisplaySettings",
    "Project",
    "ProjectError",
    "config_lock",
    "VIDEO_SUFFIXES",
    "list_videos",
    "create_project",
    "find_project",
    "find_video",
    "entry_name",
    "video_folder_name",
    "is_labeled_video",
    "load_project",
    "as_project",
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
    "skeleton_color": "black",  # the plotting keys: DisplaySettings' defaults
    "pcutoff": 0.6,
    "dotsize": 12,
    "alphavalue": 0.7,
    "colormap": "rainbow",
    "TrainingFraction": [0.95],
    "iteration": 0,
    # the backbone with ImageNet weights offline (OFFLINE_IMAGENET_BACKBONE): a new
    # project trains what it names, with no fallback notice
    "default_net_type": "efficientnet_lite0",
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


# ---------------------------------------------------------------- display settings


def _number(key: str, value: Any, default: float, *, unit_range: bool) -> float:
    """Read a config number in [0, 1] (``unit_range``) or > 0; None/blank → default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return float(default)
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    ok = 0 <= number <= 1 if unit_range else 0 < number < math.inf
    if not ok:  # NaN fails both comparisons
        span = "a number in [0, 1]" if unit_range else "a positive number"
        raise ProjectError(
            f"config.yaml: {key} must be {span}, got {value!r}. Fix {key} in "
            f"config.yaml (DeepLabCut's default is {default:g}) or delete the value "
            "to use the default."
        )
    return number


def _name(key: str, value: Any, default: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        raise ProjectError(
            f"config.yaml: {key} must be a name such as {default!r}, got {value!r}. "
            f"Fix {key} in config.yaml or delete the value to use {default!r}."
        )
    return value.strip()


def _color(key: str, value: Any, default: str) -> str:
    """Read a colour: a name or ``#rrggbb`` as given, an RGB triple as ``#rrggbb``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    from .drawing import parse_color, to_hex

    try:
        rgb = parse_color(value)
    except ValueError as err:
        raise ProjectError(
            f"config.yaml: {key} must be a colour name, '#rrggbb' or an RGB triple "
            f"(0-1 floats or 0-255), got {value!r}. Fix {key} in config.yaml or "
            f"delete the value to use {default!r}."
        ) from err
    return value.strip() if isinstance(value, str) else to_hex(rgb)


def _edges(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    bad = ProjectError(
        f"config.yaml: skeleton must be a list of [bodypart, bodypart] pairs, got "
        f"{value!r}. Fix skeleton in config.yaml, e.g. [[snout, tailbase]], or "
        "leave it empty."
    )
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise bad
    edges = []
    for edge in value:
        if (
            isinstance(edge, str)
            or not isinstance(edge, Sequence)
            or len(edge) != 2
            or not all(isinstance(b, str | int) and str(b) for b in edge)
        ):
            raise bad
        edges.append((str(edge[0]), str(edge[1])))
    return tuple(edges)


@dataclass(frozen=True)
class DisplaySettings:
    """How poses are drawn: DeepLabCut's "Plotting configuration" keys of ``config.yaml``.

    Every drawing in posekit (check labels, labelled videos, evaluation images, plots,
    the widgets) reads these from :attr:`Project.display`. Missing or empty config
    values take DeepLabCut's defaults (``new.py`` of v2.3.11).

    Parameters
    ----------
    dotsize
        Marker size in pixels (> 0; default 12).
    alphavalue
        Marker opacity in [0, 1] (default 0.7).
    colormap
        Colour map the bodypart colours are sampled from (a matplotlib name DLC uses,
        default ``"rainbow"``).
    skeleton
        Edges as ``(bodypart, bodypart)`` pairs (default none).
    skeleton_color
        Colour of the skeleton lines: a name or ``#rrggbb`` (default ``"black"``).
    pcutoff
        Likelihood below which a prediction is not drawn, in [0, 1] (default 0.6).

    Raises
    ------
    ProjectError
        If a value has the wrong type or lies out of range; the message quotes it.

    Examples
    --------
    >>> DisplaySettings.from_dict({"dotsize": 8, "colormap": None})
    DisplaySettings(dotsize=8.0, alphavalue=0.7, colormap='rainbow', skeleton=(), \
skeleton_color='black', pcutoff=0.6)
    >>> DisplaySettings(alphavalue=2)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ProjectError: config.yaml: alphavalue must be a number in [0, 1], got 2. ...
    """

    dotsize: float = 12.0
    alphavalue: float = 0.7
    colormap: str = "rainbow"
    skeleton: tuple[tuple[str, str], ...] = field(default=())
    skeleton_color: str = "black"
    pcutoff: float = 0.6

    def __post_init__(self) -> None:
        d = _DISPLAY_DEFAULTS
        fix = object.__setattr__
        fix(
            self,
            "dotsize",
            _number("dotsize", self.dotsize, d["dotsize"], unit_range=False),
        )
        fix(
            self,
            "alphavalue",
            _number("alphavalue", self.alphavalue, d["alphavalue"], unit_range=True),
        )
        fix(
            self,
            "pcutoff",
            _number("pcutoff", self.pcutoff, d["pcutoff"], unit_range=True),
        )
        fix(self, "colormap", _name("colormap", self.colormap, d["colormap"]))
        fix(
            self,
            "skeleton_color",
            _color("skeleton_color", self.skeleton_color, d["skeleton_color"]),
        )
        fix(self, "skeleton", _edges(self.skeleton))

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> DisplaySettings:
        """Read the settings from a mapping of config keys (other keys are ignored).

        Parameters
        ----------
        cfg
            ``config.yaml`` contents (or any mapping with some of the keys).

        Returns
        -------
        DisplaySettings

        Raises
        ------
        ProjectError
            If a value is invalid.
        """
        return cls(**{k: cfg.get(k) for k in _DISPLAY_DEFAULTS})

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as ``config.yaml`` values (the skeleton as lists)."""
        return {
            "dotsize": self.dotsize,
            "alphavalue": self.alphavalue,
            "colormap": self.colormap,
            "skeleton": [list(e) for e in self.skeleton],
            "skeleton_color": self.skeleton_color,
            "pcutoff": self.pcutoff,
        }


#: DeepLabCut's defaults of the plotting keys (``new.py``@v2.3.11).
_DISPLAY_DEFAULTS: dict[str, Any] = {
    "dotsize": 12,
    "alphavalue": 0.7,
    "colormap": "rainbow",
    "skeleton": None,
    "skeleton_color": "black",
    "pcutoff": 0.6,
}


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
    typed accessors read the keys posekit uses. :meth:`save` writes only the keys that
    changed (:meth:`changes`) and keeps the rest of the file as the user wrote it.

    Attributes
    ----------
    path
        Project folder (absolute).
    cfg
        The parsed ``config.yaml`` (a ``ruamel`` round-trip mapping).
    saved_text
        The text of ``config.yaml`` as last read or written (``None``: not on disk
        yet); :meth:`changes` compares with it.
    """

    path: Path
    cfg: CommentedMap
    saved_text: str | None = field(default=None, repr=False, compare=False)
    #: DeepLabCut's ``trainingsetindex``: which ``TrainingFraction`` the verbs use
    #: (:meth:`for_training_set`); the config is not changed.
    training_set_index: int = field(default=0, repr=False, compare=False)

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
    def individuals(self) -> list[str]:
        """Individuals of a multi-animal project (``[]`` for a single-animal one)."""
        if not self.multianimal:
            return []
        return [str(i) for i in self.cfg.get("individuals") or []]

    @property
    def multianimal_bodyparts(self) -> list[str]:
        """``multianimalbodyparts`` (multi-animal), else ``bodyparts``."""
        if not self.multianimal:
            return self.bodyparts
        return [str(b) for b in self.cfg.get("multianimalbodyparts") or []]

    @property
    def unique_bodyparts(self) -> list[str]:
        """``uniquebodyparts`` of a multi-animal project (stored under ``single``)."""
        if not self.multianimal:
            return []
        return [str(b) for b in self.cfg.get("uniquebodyparts") or []]

    @property
    def skeleton(self) -> list[tuple[str, str]]:
        """Skeleton edges as pairs of bodypart names."""
        return [(str(a), str(b)) for a, b in (self.cfg.get("skeleton") or [])]

    @property
    def snapshot_index(self) -> int | str:
        """``snapshotindex``: the snapshot the verbs use by default (-1 the newest).

        ``"all"`` makes :func:`~posekit.engine.api.evaluate_network` evaluate every
        snapshot (DeepLabCut's meaning); the verbs that use one network then take
        the newest.

        Raises
        ------
        ProjectError
            If it is neither an integer nor ``"all"``.
        """
        value = self.cfg.get("snapshotindex", -1)
        if value is None or value == "":
            return -1
        if isinstance(value, str) and value.strip().lower() == "all":
            return "all"
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ProjectError(
                f"snapshotindex in {self.config_path} is {value!r}: give a snapshot "
                "number (-1 the newest, 0 the oldest) or 'all'."
            ) from None

    def analysis_crop(self):
        """Return the crop ``x1, x2, y1, y2`` of ``cropping: true``, else ``None``.

        DeepLabCut's analysis keeps only this part of every frame (coordinates stay
        those of the full frame).

        Returns
        -------
        posekit.engine.video.Crop or None

        Raises
        ------
        ProjectError
            If ``cropping`` is on and the four values do not make a box.
        """
        from .video import Crop

        if not self.cfg.get("cropping"):
            return None
        values = [self.cfg.get(k) for k in ("x1", "x2", "y1", "y2")]
        try:
            return Crop.parse([int(v) for v in values])
        except (TypeError, ValueError) as err:
            raise ProjectError(
                f"cropping is true in {self.config_path} but x1, x2, y1, y2 are "
                f"{values}: {err}. Give the box to keep (x1 < x2, y1 < y2), or set "
                "cropping: false."
            ) from None

    @property
    def pcutoff(self) -> float:
        """Likelihood threshold for display and evaluation (``display.pcutoff``).

        Raises
        ------
        ProjectError
            If ``pcutoff`` is not a number in [0, 1].
        """
        return _number(
            "pcutoff",
            self.cfg.get("pcutoff"),
            _DISPLAY_DEFAULTS["pcutoff"],
            unit_range=True,
        )

    @property
    def display(self) -> DisplaySettings:
        """The plotting settings of ``config.yaml`` (dots, colours, skeleton, p-cutoff).

        Read from the config each time, so :meth:`set` takes effect at once.

        Raises
        ------
        ProjectError
            If one of the plotting keys holds an invalid value.
        """
        return DisplaySettings.from_dict(self.cfg)

    @property
    def iteration(self) -> int:
        """Active-learning iteration."""
        return int(self.cfg.get("iteration") or 0)

    @property
    def training_fractions(self) -> list[float]:
        """``TrainingFraction`` list, the one in use first.

        The one in use is the first of ``config.yaml``'s, or the one
        :meth:`for_training_set` chose (DeepLabCut's ``trainingsetindex``): the verbs
        that make, train, evaluate or analyse a split take ``training_fractions[0]``.
        """
        fractions = self.listed_training_fractions
        i = self.training_set_index
        return [fractions[i], *fractions[:i], *fractions[i + 1 :]]

    @property
    def listed_training_fractions(self) -> list[float]:
        """``TrainingFraction`` as ``config.yaml`` lists it (``trainingsetindex`` order)."""
        return [float(f) for f in self.cfg.get("TrainingFraction") or [0.95]]

    def for_training_set(self, index: int) -> Project:
        """Return this project with ``TrainingFraction[index]`` in use.

        DeepLabCut's ``trainingsetindex``: the model folders, training sets and
        evaluation results of that fraction (``…-trainset<pct>shuffle<k>``) are the
        ones the verbs then read and write. ``config.yaml`` is not changed (a save
        from the returned project writes the same ``TrainingFraction``).

        Parameters
        ----------
        index
            Index into ``config.yaml``'s ``TrainingFraction``.

        Returns
        -------
        Project
            A view sharing this project's config.

        Raises
        ------
        ProjectError
            If there is no fraction at ``index``.

        Examples
        --------
        >>> import tempfile
        >>> p = create_project("t", "me", working_directory=tempfile.mkdtemp(),
        ...                    TrainingFraction=[0.5, 0.8])
        >>> p.for_training_set(1).training_fractions, p.training_fractions
        ([0.8, 0.5], [0.5, 0.8])
        """
        fractions = self.listed_training_fractions
        if not 0 <= int(index) < len(fractions):
            raise ProjectError(
                f"trainingsetindex={index}: config.yaml's TrainingFraction has "
                f"{len(fractions)} fraction(s) {fractions}; use 0 to "
                f"{len(fractions) - 1}."
            )
        return dataclasses.replace(self, training_set_index=int(index))

    @property
    def net_type(self) -> str:
        """Default network (backbone) name."""
        net = str(self.cfg.get("default_net_type") or "efficientnet_lite0")
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

    def resolve_video(self, entry: str | os.PathLike) -> Path | None:
        """Find a ``video_sets`` entry on disk, the project's own ``videos/`` first.

        A project copied or moved elsewhere still lists the original's absolute
        paths; the video of the same name in its own ``videos/`` is the one meant, so
        outputs written beside it stay inside the project. Only when ``videos/`` has
        no such file is the entry used as given, and a log message says that it lies
        outside the project. Symbolic links are not followed (a linked video's
        outputs go beside the link, as in DeepLabCut).

        Parameters
        ----------
        entry
            A ``video_sets`` key (a path) or a file name.

        Returns
        -------
        Path or None
            The video (absolute when the project path is), or ``None`` if it is in
            neither place.
        """
        p = Path(entry)
        own = self.path / "videos" / entry_name(entry)
        if own.is_file():
            return Path(os.path.abspath(own)) if self.path.is_absolute() else own
        if p.is_file():
            logger.info(
                "video %s, listed in %s, lies outside the project (there is no %s)",
                p,
                self.config_path,
                own,
            )
            return Path(os.path.abspath(p))
        return None

    def videos(self) -> list[Path]:
        """Videos of the project that exist on disk.

        Entries of ``video_sets`` are resolved by :meth:`resolve_video`: by name in
        the project's own ``videos/`` first (so a copied or moved project uses its own
        videos, and DLC's placeholder entries still work), else as given; videos in
        ``videos/`` not listed in the config are included too.
        """
        found: dict[str, Path] = {}
        for key in self.video_sets:
            video = self.resolve_video(key)
            if video is not None:
                found.setdefault(video.name, video)
        vdir = self.path / "videos"
        if vdir.is_dir():
            for f in sorted(vdir.iterdir()):
                if f.suffix.lower() in VIDEO_SUFFIXES and f.name not in found:
                    found[f.name] = f
        return list(found.values())

    def lists_video(self, video: str | os.PathLike) -> bool:
        """Whether ``video_sets`` lists a video of this name (stem).

        DeepLabCut's ``create_training_dataset`` reads the ``labeled-data`` folders of
        listed videos only.
        """
        stems = {Path(entry_name(key)).stem for key in self.video_sets}
        return video_folder_name(video) in stems

    def source_videos(self) -> list[Path]:
        """:meth:`videos` without labelled-video outputs (``*_labeled*``).

        These are the videos to analyse, filter or draw on; see
        :func:`is_labeled_video`.
        """
        return [v for v in self.videos() if not is_labeled_video(v)]

    def add_videos(
        self, videos: Sequence[str | os.PathLike], *, copy: bool = False
    ) -> list[Path]:
        """Link (or copy) videos into ``videos/`` and list them in ``video_sets``.

        Returns
        -------
        list of Path
            The videos' paths inside the project.

        Raises
        ------
        ProjectError
            A video is missing or no frame of it decodes; nothing is added then.
        """
        # every video readable before anything changes
        return self._link_videos(check_videos(videos), copy=copy)

    def _link_videos(
        self, sizes: Mapping[Path, tuple[int, int]], *, copy: bool
    ) -> list[Path]:
        """Add videos already checked by :func:`check_videos` (path → frame size).

        A video whose name is taken in ``videos/`` by another file is refused
        before anything changes; the same video added again is kept as it is.
        """
        out = []
        vdir = self.path / "videos"
        vdir.mkdir(exist_ok=True)
        sets = self.cfg.get("video_sets") or CommentedMap()
        # drop DLC demo placeholders
        for key in list(sets):
            if _PLACEHOLDER in str(key):
                del sets[key]
        for src in sizes:  # refuse before anything changes
            dst = vdir / src.name
            if (dst.exists() or dst.is_symlink()) and not _same_video(dst, src):
                raise ProjectError(
                    _same_name_message(
                        Path(os.readlink(dst)) if dst.is_symlink() else dst, src
                    )
                    + f" ({dst} is already in the project.)"
                )
        for src, (w, h) in sizes.items():
            dst = vdir / src.name
            if not dst.exists():
                if copy:
                    shutil.copy2(src, dst)
                else:
                    try:
                        dst.symlink_to(src)
                    except OSError:
                        shutil.copy2(src, dst)
            sets[str(dst)] = CommentedMap(crop=f"0, {w}, 0, {h}")
            out.append(dst)
        self.cfg["video_sets"] = sets
        return out

    # ------------------------------------------------------------------ layout
    def labeled_data_dir(self, video: str | os.PathLike) -> Path:
        """``labeled-data/<video stem>/`` for a video path or stem.

        The stem is taken once (:func:`video_folder_name`): ``m1.cam1.mp4`` and
        ``m1.cam1`` both name ``labeled-data/m1.cam1/``, as in DeepLabCut. Where
        no folder has that name, a folder whose name differs only in Unicode
        normalisation (macOS writes ``ü`` as ``u`` + combining diaeresis, NFD) is
        the video's: names are compared in NFC, and the folder keeps its name.
        """
        name = video_folder_name(video)
        folder = self.path / "labeled-data" / name
        if name.isascii() or folder.exists() or not folder.parent.is_dir():
            return folder
        want = unicodedata.normalize("NFC", name)
        for other in sorted(folder.parent.iterdir()):
            if other.is_dir() and unicodedata.normalize("NFC", other.name) == want:
                return other
        return folder

    def labels_path(self, video: str | os.PathLike) -> Path:
        """``labeled-data/<stem>/CollectedData_<scorer>.h5``."""
        return self.labeled_data_dir(video) / f"CollectedData_{self.scorer}.h5"

    def has_labels(self, video: str | os.PathLike) -> bool:
        """Whether a video has a label file of the scorer (the ``.h5`` or its ``.csv``)."""
        h5 = self.labels_path(video)
        return h5.is_file() or h5.with_suffix(".csv").is_file()

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
        """Return the config as YAML text (comments and unknown keys kept)."""
        buf = io.StringIO()
        _yaml().dump(self.cfg, buf)
        return buf.getvalue()

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Return the keys whose value differs from ``config.yaml`` on disk.

        A moved project counts ``project_path`` as changed (:func:`load_project` sets
        it to the folder in memory; :meth:`save` writes it).

        Returns
        -------
        dict
            ``{key: (value on disk, value now)}`` (``None`` for a key absent on one
            side), in the order of the config.
        """
        old = _plain(_yaml().load(self.saved_text) or {}) if self.saved_text else {}
        new = _plain(self.cfg)
        keys = list(dict.fromkeys([*new, *old]))
        return {
            k: (old.get(k), new.get(k))
            for k in keys
            if k not in old or k not in new or old[k] != new[k]
        }

    def save(self, keys: Sequence[str] | None = None) -> dict[str, tuple[Any, Any]]:
        """Write the keys of ``config.yaml`` that changed, atomically; say which.

        ``project_path`` is set to the folder first (DeepLabCut's convention). Only
        the lines of changed keys are rewritten: comments, blank lines, key order,
        indentation and flow style of every other key stay as they are in the file
        (a file not on disk yet is written whole). Nothing changed: nothing written.

        Several processes may save the same project at once (students adding
        videos, an app remembering its marker size): under the project's config
        lock (:func:`config_lock`) the file is read again and only the keys changed
        in memory since it was read (:meth:`changes`) are written into it, so that
        what the others wrote meanwhile stays. ``video_sets`` is merged entry by
        entry: the videos added (or whose crop changed) and removed here are applied
        to the file's list, so that two videos added at once are both listed. Keys
        changed by others and not here are taken into memory.

        Parameters
        ----------
        keys
            Write only these keys (e.g. ``["iteration"]``, or the marker size an app
            remembers); other changes in memory stay unsaved.

        Returns
        -------
        dict
            ``{key: (value in the file, value written)}`` (empty: the file was not
            touched). Each written key is also logged.

        Examples
        --------
        >>> import tempfile
        >>> from posekit.engine import make_demo_project
        >>> project = make_demo_project(tempfile.mkdtemp(), n_frames=10, n_labeled=2)
        >>> project.set("pcutoff", 0.7)
        >>> project.save()
        {'pcutoff': (0.5, 0.7)}
        >>> project.save()
        {}
        """
        if keys is None:
            self.cfg["project_path"] = str(self.path)
            if self.saved_text is not None and not self.changes():
                return {}  # nothing changed here: no lock, nothing written
        with config_lock(self.path):
            if not self.config_path.is_file() or (
                self.saved_text is None and keys is None
            ):
                self.cfg["project_path"] = str(self.path)
                text = self.to_yaml()
                atomic_write_text(self.config_path, text)
                self.saved_text = text
                return self._logged({k: (None, v) for k, v in _plain(self.cfg).items()})
            return self._merge_into_file(None if keys is None else list(keys))

    def _merge_into_file(self, keys: list[str] | None) -> dict[str, tuple[Any, Any]]:
        """Write this project's changes into ``config.yaml`` as it is now (locked).

        ``keys``: only these keys (``None``: every key changed since the file was
        read). See :meth:`save`.
        """
        base = _plain(_yaml().load(self.saved_text) or {}) if self.saved_text else {}
        mine = _plain(self.cfg)
        if keys is None:
            keys = [
                k
                for k in dict.fromkeys([*mine, *base])
                if mine.get(k, _MISSING) != base.get(k, _MISSING)
            ]
            if not keys:
                return {}
        on_disk = _read_config_text(self.config_path, warn=False)
        disk_cfg = _yaml().load(on_disk) or CommentedMap()
        disk = _plain(disk_cfg)
        if "video_sets" in keys and "video_sets" in self.cfg:
            self.cfg["video_sets"] = self._merged_video_sets(
                disk_cfg.get("video_sets"), base.get("video_sets"), mine["video_sets"]
            )
            mine = _plain(self.cfg)
        # keys others changed and this project did not: take them into memory
        for key in dict.fromkeys([*disk, *base]):
            if key in keys or mine.get(key, _MISSING) != base.get(key, _MISSING):
                continue
            if disk.get(key, _MISSING) == mine.get(key, _MISSING):
                continue
            if key in disk:
                self.cfg[key] = disk_cfg[key]
            else:
                self.cfg.pop(key, None)
        mine = _plain(self.cfg)
        changes = {
            k: (disk.get(k), mine.get(k))
            for k in keys
            if (k in disk) != (k in mine) or disk.get(k) != mine.get(k)
        }
        if not changes:
            self.saved_text = on_disk
            return {}
        expected = dict(disk)
        for key in changes:
            if key in mine:
                expected[key] = mine[key]
            else:
                expected.pop(key, None)
        text = self._patched(changes, base=on_disk, expected=expected)
        atomic_write_text(self.config_path, text)
        self.saved_text = text
        return self._logged(changes)

    def _merged_video_sets(
        self, disk: Any, base: Any, mine: Mapping[str, Any]
    ) -> CommentedMap:
        """``video_sets`` of the file with this project's additions and removals."""
        base = base if isinstance(base, Mapping) else {}
        merged = disk if isinstance(disk, CommentedMap) else CommentedMap()
        ours = self.cfg["video_sets"] or {}
        for key in base:
            if key not in mine:
                merged.pop(key, None)  # removed here
        for key, value in ours.items():
            if str(key) not in base or base[str(key)] != mine[str(key)]:
                merged[key] = value  # added or changed here
        return merged

    @staticmethod
    def _logged(changes: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        for key, (before, after) in changes.items():
            logger.info("config.yaml: %s: %r -> %r", key, before, after)
        return changes

    def _patched(
        self,
        changes: Mapping[str, Any],
        *,
        base: str | None = None,
        expected: Mapping[str, Any] | None = None,
    ) -> str:
        """Return the saved text with the blocks of ``changes`` replaced (or added).

        ``base`` replaces the saved text and ``expected`` what the result must parse
        to (default: the whole config in memory).
        """
        text = (self.saved_text if base is None else base) or ""
        old = _yaml().load(text) or CommentedMap()
        lines = text.splitlines(keepends=True)
        starts = sorted((old.lc.key(k)[0], k) for k in old)
        blocks: dict[str, tuple[int, int]] = {}
        for i, (start, key) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(lines)
            while end > start + 1 and (
                not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
            ):
                end -= 1  # blank lines and comments above the next key stay
            blocks[key] = (start, end)
        added = [k for k in changes if k not in blocks and k in self.cfg]
        for key in sorted(
            (k for k in changes if k in blocks), key=lambda k: -blocks[k][0]
        ):
            start, end = blocks[key]
            lines[start:end] = [self._key_yaml(key)] if key in self.cfg else []
        if added and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += [self._key_yaml(k) for k in added]
        patched = "".join(lines)
        want = _plain(self.cfg) if expected is None else dict(expected)
        if _plain(_yaml().load(patched) or {}) != want:
            logger.warning(
                "config.yaml: could not rewrite only the changed keys %s; writing the "
                "whole file",
                list(changes),
            )
            if expected is None:
                return self.to_yaml()
            whole = _yaml().load(text) or CommentedMap()
            for key in changes:
                if key in self.cfg:
                    whole[key] = self.cfg[key]
                else:
                    whole.pop(key, None)
            buf = io.StringIO()
            _yaml().dump(whole, buf)
            return buf.getvalue()
        return patched

    def _key_yaml(self, key: str) -> str:
        """Return ``key: value`` as YAML, without the comments that follow it."""
        one = CommentedMap()
        one[key] = self.cfg[key]
        comment = self.cfg.ca.items.get(key)  # e.g. an end-of-line comment
        if comment is not None:
            one.ca.items[key] = comment
        buf = io.StringIO()
        _yaml().dump(one, buf)
        out = buf.getvalue().splitlines(keepends=True)

        def note(line: str) -> bool:  # a blank or comment line
            return not line.strip() or line.lstrip().startswith("#")

        while len(out) > 1 and note(out[0]):
            out.pop(0)  # comments above the key stay where they are in the file
        while len(out) > 1 and note(out[-1]):
            out.pop()
        return "".join(out)


def _plain(value: Any) -> Any:
    """Return a config value as plain dicts and lists (for comparing)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


_MISSING = object()

#: The lock file of :func:`config_lock`, in the project folder.
CONFIG_LOCK_FILE = ".posekit-config.lock"

_config_guard = threading.Lock()
_config_locks: dict[str, tuple[threading.RLock, list[int]]] = {}


@contextlib.contextmanager
def config_lock(project_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the project's ``config.yaml`` lock for a read-change-write.

    The lock is a POSIX record lock (``fcntl.lockf``) on
    ``<project>/.posekit-config.lock`` opened for writing, which a network drive
    (NFS, SMB) passes on to the server, so that processes on several computers
    exclude each other; threads of one process wait on a lock of their own (a
    record lock is the process's). The same thread may take it again inside. The
    file is removed when the lock is released. Where it cannot be created (a
    read-only folder; Windows) only the threads of this process are excluded.

    Parameters
    ----------
    project_dir
        The project folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with config_lock(folder):
    ...     (folder / CONFIG_LOCK_FILE).exists()
    True
    >>> (folder / CONFIG_LOCK_FILE).exists()
    False
    """
    path = Path(os.path.abspath(Path(project_dir) / CONFIG_LOCK_FILE))
    with _config_guard:
        rlock, depth = _config_locks.setdefault(str(path), (threading.RLock(), [0]))
    with rlock:
        depth[0] += 1
        try:
            if depth[0] > 1:
                yield
                return
            with file_mutex(path, record=True):
                yield
        finally:
            depth[0] -= 1


#: Extensions of the videos a folder stands for (compared in lower case): MP4/MOV,
#: AVI, Matroska/WebM, MPEG-PS (``.mpg``, DVD ``.vob``), MPEG-TS (camcorders' ``.mts``
#: and ``.m2ts``, DVRs' ``.ts``), Windows Media, Flash, phones' ``.3gp``, broadcast
#: ``.mxf``, DV, Ogg, and raw H.264/H.265/MJPEG streams (Raspberry Pi cameras).
VIDEO_SUFFIXES = {
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".m4v",
    ".ts",
    ".mts",
    ".m2ts",
    ".webm",
    ".flv",
    ".3gp",
    ".mxf",
    ".dv",
    ".ogv",
    ".vob",
    ".asf",
    ".qt",
    ".h264",
    ".264",
    ".h265",
    ".hevc",
    ".mjpeg",
    ".mjpg",
}

#: Files a folder of videos often holds beside them that are no videos (analysis
#: outputs, labels, notes, images): left out of a folder without a word.
_NOT_VIDEO_SUFFIXES = {
    ".h5",
    ".csv",
    ".pickle",
    ".pkl",
    ".nc",
    ".npz",
    ".npy",
    ".json",
    ".yaml",
    ".yml",
    ".lock",
    ".nwb",
    ".slp",
    ".txt",
    ".md",
    ".log",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".pdf",
    ".svg",
    ".zip",
    ".xlsx",
    ".ini",
    ".xml",
    ".wav",
    ".mp3",
}


def entry_name(entry: str | os.PathLike) -> str:
    r"""Return the file name of a ``video_sets`` entry, also of a Windows path.

    A project made on Windows lists ``C:\Users\lab\videos\m1.mp4``, whose name on
    Linux or macOS would be the whole string.

    Examples
    --------
    >>> entry_name(r"C:\Users\lab\videos\m1.mp4"), entry_name("/data/m1.mp4")
    ('m1.mp4', 'm1.mp4')
    """
    text = os.fspath(entry)
    if "\\" in text and os.sep != "\\":
        return PureWindowsPath(text).name
    return Path(text).name


def video_folder_name(video: str | os.PathLike) -> str:
    r"""Return the name of a video's ``labeled-data/`` folder: its stem, taken once.

    DeepLabCut names the folder ``Path(video).stem``, so ``m1.cam1.mp4`` labels live
    in ``labeled-data/m1.cam1/``. A suffix is stripped only from a video file name
    (a :data:`VIDEO_SUFFIXES` extension, or an existing file); a folder name or a
    stem is taken as it is. A path of another machine, Windows' too (a
    ``video_sets`` key ``C:\Users\lab\videos\m1.mp4``), names its file's folder.

    Parameters
    ----------
    video
        A video path or file name, or a ``labeled-data/`` folder name (stem).

    Returns
    -------
    str
        The folder name.

    Examples
    --------
    >>> video_folder_name("videos/m1.cam1.mp4"), video_folder_name("m1.cam1")
    ('m1.cam1', 'm1.cam1')
    >>> video_folder_name("2024.03.01_m1.AVI"), video_folder_name("session1")
    ('2024.03.01_m1', 'session1')
    >>> video_folder_name(r"C:\Users\lab\videos\m1.cam1.mp4")
    'm1.cam1'
    """
    path = Path(os.fspath(video))
    name = entry_name(video)  # also a Windows path's (a video_sets key)
    suffix = Path(name).suffix
    if suffix.lower() in VIDEO_SUFFIXES or (suffix and path.is_file()):
        return Path(name).stem
    return name


def list_videos(
    items: Sequence[str | os.PathLike],
    videotype: str | Sequence[str] | None = None,
) -> list[Path]:
    """Expand folders into the videos they hold, as DeepLabCut's video arguments do.

    Parameters
    ----------
    items
        Video files and folders of videos.
    videotype
        DeepLabCut's ``videotype``: only videos with this extension (``".avi"`` or
        ``"avi"``, or several, any case); ``None`` or ``""``: every video extension
        in a folder (:data:`VIDEO_SUFFIXES`), and files named directly whatever
        their extension. With a ``videotype``, files named directly with another
        extension are left out with a warning (prediction files ``.h5``/``.csv``
        are kept). Files of a folder whose type is neither a known video type nor
        a usual companion of videos (outputs, labels, notes, images) are named in a
        warning: they are not analysed.

    Returns
    -------
    list of Path
        Each file as given; for each folder, its files with a video suffix
        (:data:`VIDEO_SUFFIXES`, or ``videotype``), labelled-video outputs left out,
        sorted by name.

    Raises
    ------
    ProjectError
        If a folder holds no video (of ``videotype``).

    Examples
    --------
    >>> list_videos(["a.mp4"])
    [PosixPath('a.mp4')]
    >>> list_videos(["a.mp4", "b.avi"], videotype="avi")
    [PosixPath('b.avi')]
    """
    wanted = _video_suffixes(videotype)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if not path.is_dir():
            kept = not videotype or path.suffix.lower() in (*wanted, ".h5", ".csv")
            if kept:
                out.append(path)
            else:
                logger.warning("%s left out: not a %s video", path, "/".join(wanted))
            continue
        files = [
            f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")
        ]
        found = sorted(
            f for f in files if f.suffix.lower() in wanted and not is_labeled_video(f)
        )
        unknown = _left_out(path, files, wanted, videotype)
        if not found:
            raise ProjectError(
                f"No video in the folder {path} (looked for "
                f"{', '.join(sorted(wanted))}, labelled videos left out){unknown}."
            )
        out.extend(found)
    return out


def _left_out(
    folder: Path,
    files: Sequence[Path],
    wanted: Sequence[str],
    videotype: str | Sequence[str] | None,
) -> str:
    """Say which files of a folder are not taken as videos; return that as a clause.

    Files of a type that is neither a video type posekit knows nor a usual
    companion of videos (outputs, labels, notes) get a warning: a camera's own
    extension would otherwise be skipped without a word. Videos of the types that
    ``videotype`` leaves out are logged (info).
    """
    unknown: dict[str, list[str]] = {}
    other_videos: dict[str, list[str]] = {}
    for f in sorted(files):
        suffix = f.suffix.lower()
        if suffix in wanted or suffix in _NOT_VIDEO_SUFFIXES:
            continue
        target = other_videos if suffix in VIDEO_SUFFIXES else unknown
        target.setdefault(suffix or "(no extension)", []).append(f.name)
    if other_videos:
        logger.info(
            "%s: %d video(s) of other types left out (videotype %s): %s",
            folder,
            sum(map(len, other_videos.values())),
            "/".join(wanted),
            _by_type(other_videos),
        )
    if not unknown:
        return ""
    n = sum(map(len, unknown.values()))
    types = ", ".join(unknown)
    said = (
        f"{n} file(s) in {folder} are not analysed: not a video type posekit "
        f"knows ({_by_type(unknown)}); if they are videos, name them one by one or "
        f"give their type (--videotype {next(iter(unknown)).lstrip('.')}, "
        "videotype=...)"
    )
    logger.warning("%s", said)
    return f"; {n} file(s) of other types are there ({types})"


def _by_type(files: dict[str, list[str]]) -> str:
    """``".xyz: a.xyz, b.xyz; .dat: c.dat"``, at most 3 names a type."""
    parts = []
    for suffix, names in files.items():
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        parts.append(f"{suffix}: {', '.join(names[:3])}{more}")
    return "; ".join(parts)


def _video_suffixes(videotype: str | Sequence[str] | None) -> tuple[str, ...]:
    """DeepLabCut's ``videotype`` as lower-case suffixes (all video suffixes if empty)."""
    if videotype is None or videotype == "":
        return tuple(VIDEO_SUFFIXES)
    kinds = [videotype] if isinstance(videotype, str) else list(videotype)
    return tuple("." + str(k).lower().lstrip(".") for k in kinds if str(k))


def is_labeled_video(path: str | os.PathLike) -> bool:
    """Whether a video is a labelled-video output (its stem contains ``_labeled``).

    DeepLabCut and posekit write ``<stem><scorer>_labeled.mp4`` (and
    ``…_filtered_labeled.mp4``, DLC 3's ``…_labeled_after_adapt.mp4``).

    Examples
    --------
    >>> is_labeled_video("m1DLC_resnet50_tOct30shuffle1_500_labeled.mp4")
    True
    >>> is_labeled_video("videos/m1.mp4")
    False
    """
    return "_labeled" in Path(path).stem


def find_project(path: str | os.PathLike, levels: int = 4) -> Project | None:
    """Find the project a file lies in: the nearest folder above with ``config.yaml``.

    Parameters
    ----------
    path
        A file inside a project (a predictions file, a video, a model file).
    levels
        How many parent folders to search.

    Returns
    -------
    Project or None
        ``None`` when no parent holds a ``config.yaml``, or the nearest one is not a
        readable project config (a foreign ``config.yaml``).

    Examples
    --------
    >>> find_project("/nonexistent/videos/a.h5") is None
    True
    """
    folder = Path(path).resolve().parent
    for _ in range(levels):
        if (folder / "config.yaml").is_file():
            try:
                return load_project(folder)
            except (ProjectError, OSError) as err:  # a foreign config.yaml
                logger.info("%s is not a posekit project: %s", folder, err)
                return None
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


_STEM_SEPARATORS = ("DLC", "DeepCut", "_", "-", ".", " ")


def find_video(
    predictions: str | os.PathLike, project: Project | None = None
) -> Path | None:
    """Find the video a predictions file belongs to.

    DeepLabCut names predictions ``<video stem><scorer>.h5``, so the video is the one
    whose stem is the longest prefix of the predictions' stem (followed by ``DLC``,
    ``DeepCut``, ``_`` or nothing), searched among the video files beside the
    predictions and then the project's videos (of two videos of the same name, the
    one beside the predictions). Labelled videos (``…_labeled``) are skipped.

    Parameters
    ----------
    predictions
        The predictions file.
    project
        Also search this project's videos.

    Returns
    -------
    Path or None

    Examples
    --------
    >>> find_video("/nonexistent/m1DLC_resnet50.h5") is None
    True
    """
    path = Path(predictions)
    candidates: list[Path] = []
    if path.parent.is_dir():  # first: a video beside its predictions is the one
        candidates += [
            p
            for p in sorted(path.parent.iterdir())
            if p.suffix.lower() in VIDEO_SUFFIXES
        ]
    if project is not None:
        candidates += list(project.videos())
    best: Path | None = None
    for video in candidates:
        if is_labeled_video(video) or not video.is_file():
            continue
        rest = path.stem[len(video.stem) :]
        if not path.stem.startswith(video.stem):
            continue
        if rest and not rest.startswith(_STEM_SEPARATORS):
            continue
        if best is None or len(video.stem) > len(best.stem):
            best = video
    return best


def _pct(fraction: float) -> int:
    return int(round(100 * float(fraction)))


def as_project(project: Project | str | os.PathLike) -> Project:
    """Return ``project`` if it is an open :class:`Project`, else open it.

    The apps and verbs take a project or its folder (or ``config.yaml``) alike.

    Raises
    ------
    ProjectError
        As :func:`load_project`.
    """
    return project if isinstance(project, Project) else load_project(project)


def load_project(path: str | os.PathLike) -> Project:
    """Open a project from its folder or its ``config.yaml``.

    A project that was moved (``project_path`` pointing elsewhere, or DLC's demo
    placeholder) is fixed up in memory: ``project_path`` becomes the folder that holds
    the config. Nothing is written until :meth:`Project.save`. A config in Windows'
    cp1252 rather than UTF-8 (DeepLabCut on Windows) is read with a warning, and
    written in UTF-8 when saved.

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
    if cfg_path.is_dir():
        raise ProjectError(
            f"{cfg_path} is a folder, not a file: config.yaml must be the project's "
            "settings file. Move that folder away and restore config.yaml from a "
            "backup (or pass the project folder that holds the real config.yaml)."
        )
    if not cfg_path.is_file():
        raise ProjectError(
            f"No config.yaml at {cfg_path}. Pass a project folder (one that holds "
            "config.yaml) or create one with posekit.engine.create_project / "
            "`posekit create`."
        )
    text = _read_config_text(cfg_path, warn=True)
    try:
        cfg = _yaml().load(text)
    except YAMLError as err:
        raise ProjectError(
            f"{cfg_path} is not valid YAML ({err.__class__.__name__}: "
            f"{_yaml_problem(err)}). Fix the file by hand or restore it from a "
            "backup; posekit did not change it."
        ) from err
    if cfg is None:
        raise ProjectError(
            f"{cfg_path} is empty (a copy cut short, or emptied by hand): restore "
            "config.yaml from a backup; it must give at least Task, scorer, date "
            "and bodyparts."
        )
    if not isinstance(cfg, dict):
        raise ProjectError(f"{cfg_path} does not hold a mapping of settings.")
    missing = [k for k in ("Task", "scorer", "date") if not cfg.get(k)]
    if missing:
        raise ProjectError(f"{cfg_path} lacks the required keys {missing}.")
    if not cfg.get("multianimalproject") and not cfg.get("bodyparts"):
        raise ProjectError(f"{cfg_path} lists no bodyparts.")
    if cfg.get("multianimalproject") and not (
        cfg.get("multianimalbodyparts") or cfg.get("uniquebodyparts")
    ):
        raise ProjectError(
            f"{cfg_path} is a multi-animal project that lists no bodyparts: add "
            "them under multianimalbodyparts (and uniquebodyparts)."
        )
    folder = cfg_path.parent.resolve()
    stated = str(cfg.get("project_path") or "")
    if stated != str(folder):
        if stated and _PLACEHOLDER not in stated:
            logger.info("project moved: project_path %s -> %s", stated, folder)
        cfg["project_path"] = str(folder)
    return Project(folder, cfg, saved_text=text)


def _read_config_text(path: Path, *, warn: bool) -> str:
    r"""Read ``config.yaml`` as UTF-8, or as Windows' cp1252 where it is not UTF-8.

    DeepLabCut's ``write_config`` writes in the system's encoding, so a project made
    on a Western-European Windows machine has ``C:\Users\Müller\…`` in cp1252. Such
    a file is read as cp1252 (with a warning when ``warn``) and left as it is; posekit
    writes it in UTF-8 when it next saves the config. A file that is no text in
    either (a NUL byte, control characters, bytes cp1252 does not define) is refused.

    Raises
    ------
    ProjectError
        The file is neither UTF-8 nor cp1252 text.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = _windows_text(data)
        if text is None:
            raise ProjectError(
                f"{path} is not a text (UTF-8) file ({err.reason} at byte "
                f"{err.start}). Restore config.yaml from a backup."
            ) from err
        if warn:
            line = data.count(b"\n", 0, err.start) + 1
            logger.warning(
                "%s is not UTF-8 (byte 0x%02x on line %d): it was read as Windows "
                "cp1252, the encoding DeepLabCut writes it in on a Western-European "
                "Windows machine. The file is left as it is; posekit writes it in "
                "UTF-8 when it next saves the config (convert it yourself with "
                "`iconv -f cp1252 -t utf-8`).",
                path,
                data[err.start],
                line,
            )
        return text


def _windows_text(data: bytes) -> str | None:
    """Decode cp1252 text; ``None`` for bytes no text file holds (binary, damaged)."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined
        return None
    if any((ch < " " and ch not in "\t\r\n") or ch == "\x7f" for ch in text):
        return None
    return text


def _yaml_problem(err: Exception) -> str:
    """Say what the YAML parser found wrong and where (the problem and its context)."""

    def at(mark: Any) -> str:
        return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""

    problem = getattr(err, "problem", None)
    context = getattr(err, "context", None)
    text = problem or (str(err).splitlines() or [""])[0]
    text += at(getattr(err, "problem_mark", None))
    if context:
        text += f" ({context}{at(getattr(err, 'context_mark', None))})"
    return text


def check_videos(videos: Sequence[str | os.PathLike]) -> dict[Path, tuple[int, int]]:
    """Check that each video exists and its first frame decodes.

    Parameters
    ----------
    videos
        Video files and folders of videos (:func:`list_videos`).

    Returns
    -------
    dict
        Absolute path as given → ``(width, height)``, in the order given. Symbolic
        links are not resolved: a video is named after the path given (as
        DeepLabCut names it), so ``sess01.mp4 -> /raw/cam0.mp4`` stays
        ``sess01``.

    Raises
    ------
    ProjectError
        Naming the first video that is missing or unreadable, and what to do; or
        two videos that would get the same name in ``videos/``.
    """
    from .video import VideoError, VideoReader

    sizes: dict[Path, tuple[int, int]] = {}
    by_name: dict[str, Path] = {}
    for v in list_videos([Path(v).expanduser() for v in videos]):
        src = Path(os.path.abspath(v))  # normalised, links kept (not resolve())
        other = by_name.setdefault(src.name, src)
        if other != src:
            raise ProjectError(_same_name_message(other, src))
        if src in sizes:
            continue
        if not src.is_file():
            raise ProjectError(f"Video not found: {src}")
        try:
            with VideoReader(src) as reader:
                sizes[src] = (reader.width, reader.height)
        except VideoError as err:
            raise ProjectError(
                f"{err} A recording cut off before it was closed has no index: "
                "recover it first (e.g. with untrunc and a good file from the same "
                "camera). A format OpenCV cannot decode: re-encode it (`ffmpeg -i "
                f"{src.name} -c:v libx264 fixed.mp4`). Then add the new file."
            ) from err
    return sizes


def _same_video(dst: Path, src: Path) -> bool:
    """Whether ``videos/<name>`` (``dst``) already is ``src``: its link, or a copy."""
    if dst.is_symlink():
        return Path(os.readlink(dst)) == src or _samefile(dst, src)
    # a copy (copy_videos=True) of the same recording
    return _samefile(dst, src) or dst.stat().st_size == src.stat().st_size


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a broken link
        return False


def _same_name_message(first: Path, second: Path) -> str:
    return (
        f"Two videos would both be videos/{second.name} in the project: {first} "
        f"and {second}. The project names a video after its file name (its labels "
        f"go to labeled-data/{second.stem}/), so the names must differ: give one "
        "of them another name (e.g. a symbolic link with the session's name, "
        f"`ln -s {second} {second.parent.name}_{second.name}`) and add that."
    )


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
    net_type: str = "efficientnet_lite0",
    individuals: Sequence[str] | None = None,
    uniquebodyparts: Sequence[str] = (),
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
        Videos to add (symlinked, or copied with ``copy_videos=True``); a folder adds
        the videos in it.
    working_directory
        Parent folder (default: the current directory).
    bodyparts, skeleton
        Keypoint names and skeleton edges.
    copy_videos
        Copy instead of symlink.
    date
        Project date (default today).
    net_type
        ``default_net_type`` (a posekit backbone name). The default,
        ``efficientnet_lite0``, is the backbone whose ImageNet weights come with
        posekit (no download).
    individuals
        Names of the animals: a multi-animal project, written as DeepLabCut's
        multi-animal template (``multianimalproject: true``, ``individuals``,
        ``uniquebodyparts``, ``multianimalbodyparts`` = ``bodyparts``,
        ``bodyparts: MULTI!``, ``default_track_method: ellipse``).
    uniquebodyparts
        Multi-animal only: bodyparts that appear once per frame (stored under the
        individual ``single``).
    **overrides
        Any other config key (e.g. ``pcutoff=0.4``, ``numframes2pick=30``).

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        If the project folder already holds a ``config.yaml``, a video is missing
        or unreadable, ``task`` or ``experimenter`` is not a plain name (a path
        separator, ``..``, or a character no file system takes: they name the
        folder and the label files), or a bodypart is empty, repeated or holds a
        ``/``; no folder is made then.
    """
    if not task or not experimenter:
        raise ProjectError("task and experimenter must be non-empty strings")
    _check_name("task", task)
    _check_name("experimenter", experimenter)
    _check_names("bodyparts", [*bodyparts, *uniquebodyparts])
    sizes = check_videos(videos)  # before any folder is made
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
    if individuals is not None:
        _make_multianimal(cfg, individuals, bodyparts, uniquebodyparts)
    for key, value in overrides.items():
        cfg[key] = value
    project = Project(folder, cfg)
    if sizes:
        project._link_videos(sizes, copy=copy_videos)
    project.save()
    logger.info("created project %s", folder)
    return project


#: Characters a task or experimenter name may not hold: they name the project's folder
#: and ``CollectedData_<experimenter>.h5`` (``/`` and ``\\`` would nest folders, and
#: Windows refuses the rest).
_NOT_IN_NAMES = set('/\\:*?"<>|')


def _check_name(kind: str, name: str) -> None:
    """Refuse a task or experimenter name that is not a plain file name part."""
    bad = sorted({c for c in name if c in _NOT_IN_NAMES or ord(c) < 32})
    if bad or name.strip() != name or name.startswith(".") or ".." in name:
        why = (
            f"it holds {' '.join(repr(c) for c in bad)}"
            if bad
            else "it starts or ends with a space or a dot, or holds '..'"
        )
        raise ProjectError(
            f"The {kind} {name!r} cannot name a project folder: {why}. Use letters, "
            "digits, '-' and '_' (the project folder is <task>-<experimenter>-<date>)."
        )


def _check_names(kind: str, names: Sequence[str]) -> None:
    """Refuse empty, repeated or ``/``-holding bodypart names."""
    names = [str(n) for n in names]
    empty = [n for n in names if not n.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    slashed = [n for n in names if "/" in n]
    if empty or repeated or slashed:
        problems = []
        if empty:
            problems.append("an empty name")
        if repeated:
            problems.append(f"{', '.join(map(repr, repeated))} more than once")
        if slashed:
            problems.append(f"'/' in {', '.join(map(repr, slashed))}")
        raise ProjectError(
            f"The {kind} {names!r} have {' and '.join(problems)}: each bodypart needs "
            "its own name (a '/' joins an animal and a bodypart in a multi-animal "
            "project's labels)."
        )


def _make_multianimal(
    cfg: CommentedMap,
    individuals: Sequence[str],
    bodyparts: Sequence[str],
    unique: Sequence[str],
) -> None:
    """Turn a template config into DeepLabCut's multi-animal one (keys in DLC's order)."""
    inds = [str(i) for i in individuals]
    if not inds or "single" in inds or len(set(inds)) != len(inds):
        raise ProjectError(
            f"individuals must be distinct names other than 'single'; got {inds!r}"
        )
    cfg["multianimalproject"] = True
    cfg["identity"] = False
    pos = list(cfg).index("bodyparts")
    cfg.insert(pos, "individuals", inds)
    cfg.insert(pos + 1, "uniquebodyparts", [str(b) for b in unique])
    cfg.insert(pos + 2, "multianimalbodyparts", [str(b) for b in bodyparts])
    cfg["bodyparts"] = "MULTI!"
    cfg["default_augmenter"] = "multi-animal-imgaug"
    pos = list(cfg).index("default_augmenter") + 1
    cfg.insert(pos, "default_track_method", "ellipse")


def index_length(n_frames: int) -> int:
    """Zero padding DLC uses for ``img<index>.png``: ``ceil(log10(n_frames))`` digits."""
    return max(1, int(math.ceil(math.log10(max(n_frames, 2)))))
