"""A trained model on disk: the ``train/`` folder of a shuffle.

DeepLabCut's layout, ``<project>/dlc-models/iteration-<N>/<Task><date>-trainset<pct>
shuffle<k>/train/``, written by :class:`~posekit.engine.training.Trainer`:

- ``pose_cfg.yaml``: DeepLabCut-like keys, what names the model (:data:`MODEL_KEYS`:
  ``Task``, ``date``, ``shuffle``, ``train_fraction``, ``trainingsetindex``,
  ``iteration (active-learning)``) and a ``posekit`` section with the model and
  training configuration;
- snapshots: ``snapshot-<iteration>.keras`` (the model), ``.optimizer.npz`` and
  ``.json`` (metadata with checksums, written last: a snapshot counts once it exists);
- ``learning_stats.csv``;
- ``snapshot-<iteration>.index``: a small text marker that lets DeepLabCut find the
  snapshot (DeepLabCut lists a model's snapshots by the ``.index`` files TensorFlow
  checkpoints have, and names the model's outputs after the chosen one; without a
  marker ``deeplabcut.filterpredictions`` and ``create_labeled_video`` stop with "No
  snapshots were found"). Written after the metadata, removed first;
- TFLite conversions cached beside their snapshot,
  ``snapshot-<iteration>-<h>x<w>-b<batch>-u8.tflite`` (float32) and
  ``...-int8.tflite`` (full-integer, calibrated on the project's labelled frames),
  with ``...-int8.json``, the :class:`~posekit.engine.quantization.QuantizationReport`
  that compares the two on the labelled frames and records which one analysis uses.

:class:`ModelFolder` lists and verifies the snapshots, names the model (the DeepLabCut
scorer name, built by :func:`dlc_scorer_name` only), loads it and gives a
:class:`~posekit.engine.inference.Predictor`. Listing, naming and reading the
configuration load no TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .project import Project, ProjectError, load_project

if TYPE_CHECKING:
    from .inference import Predictor, TFLitePredictor
    from .models.pose_model import PoseModel, PoseModelConfig
    from .quantization import LabelledFrames, QuantizationReport

__all__ = [
    "DLC_MARKER_SUFFIX",
    "MODEL_KEYS",
    "SNAPSHOT_FORMAT",
    "ModelFolder",
    "Snapshot",
    "SnapshotError",
    "SnapshotRef",
    "TFLiteModel",
    "dlc_scorer_name",
    "file_sha256",
    "model_naming",
]

logger = logging.getLogger("posekit.engine.model_folder")

#: ``format`` of a snapshot's JSON metadata.
SNAPSHOT_FORMAT = "posekit-snapshot/1"

#: Suffix of the marker that makes a snapshot visible to DeepLabCut, whose
#: ``get_snapshots_from_folder`` lists every file with ``index`` in its name and takes
#: the iteration from ``snapshot-<iteration>``.
DLC_MARKER_SUFFIX = ".index"

#: ``pose_cfg.yaml`` keys that name a model; :attr:`ModelFolder.info` always has them.
MODEL_KEYS = (
    "Task",
    "date",
    "shuffle",
    "train_fraction",
    "trainingsetindex",
    "iteration (active-learning)",
)

_SNAPSHOT_RE = re.compile(r"^snapshot-(\d+)\.json$")
#: A DeepLabCut (TensorFlow) checkpoint file: ``snapshot-<N>.meta`` or ``.data-…``.
_DLC_CHECKPOINT_RE = re.compile(r"^snapshot-(\d+)\.(meta|data-\d+-of-\d+)$")
#: DeepLabCut 3's PyTorch snapshots: ``snapshot-200.pt``, ``snapshot-best-190.pt``
#: (top-down models also ``snapshot-detector-…``).
_DLC_TORCH_RE = re.compile(r"^snapshot-(?:best-|detector-)*(\d+)\.pt$")
_SNAPSHOT_ITERATION_RE = re.compile(r"snapshot-(\d+)")
_MODEL_DIR_RE = re.compile(
    r"^(?P<name>.+)-trainset(?P<pct>\d+)shuffle(?P<shuffle>\d+)$"
)
# files of one snapshot in the order they are removed: the DeepLabCut marker first (an
# interrupted removal never leaves a marker without its snapshot), then the metadata
# (without it the snapshot no longer counts)
_SNAPSHOT_SUFFIXES = (DLC_MARKER_SUFFIX, ".json", ".keras", ".optimizer.npz")


def dlc_scorer_name(
    netname: str, task: str, date: str, shuffle: int, iterations: int
) -> str:
    """``DLC_<net>_<Task><date>shuffle<k>_<iters>`` (DeepLabCut 2.x naming).

    The one place the scorer name is put together; :meth:`ModelFolder.scorer` fills
    it in from a model folder.

    Examples
    --------
    >>> dlc_scorer_name("resnet50", "openfield", "Oct30", 1, 50000)
    'DLC_resnet50_openfieldOct30shuffle1_50000'
    """
    return f"DLC_{netname}_{task}{date}shuffle{shuffle}_{iterations}"


def _training_set_index(project: Project, train_fraction: float) -> int | None:
    return next(
        (
            i
            for i, f in enumerate(project.listed_training_fractions)
            if math.isclose(f, float(train_fraction))
        ),
        None,
    )


def model_naming(
    project: Project, *, shuffle: int, train_fraction: float
) -> dict[str, Any]:
    """Return what names a model of ``project`` (:data:`MODEL_KEYS` of ``pose_cfg.yaml``).

    :func:`~posekit.engine.api.train_network` writes them into the model folder, so the
    folder alone gives its scorer name.

    Parameters
    ----------
    project
        The project.
    shuffle
        Shuffle number.
    train_fraction
        Fraction of the labelled frames used for training.

    Returns
    -------
    dict
        ``Task``, ``date``, ``shuffle``, ``train_fraction``, ``trainingsetindex`` (the
        index of ``train_fraction`` in the project's ``TrainingFraction``, or
        ``None``) and ``iteration (active-learning)``.
    """
    return {
        "Task": project.task,
        "date": project.date,
        "shuffle": shuffle,
        "train_fraction": train_fraction,
        "trainingsetindex": _training_set_index(project, train_fraction),
        "iteration (active-learning)": project.iteration,
    }


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, hex (the checksums of a snapshot's metadata)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _snapshot_iteration(path: Path) -> int:
    m = _SNAPSHOT_ITERATION_RE.search(path.name)
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------


class SnapshotError(ValueError):
    """A snapshot is incomplete, corrupt or does not fit the configuration."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot on disk (its JSON metadata parsed)."""

    iteration: int
    model_path: Path
    optimizer_path: Path
    meta_path: Path
    meta: dict[str, Any]

    @property
    def bodyparts(self) -> tuple[str, ...]:
        """Bodyparts the snapshot was trained for."""
        return tuple(self.meta["model_config"]["bodyparts"])

    @classmethod
    def read(cls, path: str | os.PathLike, *, verify: bool = True) -> Snapshot:
        """Read a snapshot's metadata and (with ``verify``) check its files.

        Parameters
        ----------
        path
            ``snapshot-<iteration>.json``, or the ``.keras`` file beside it.
        verify
            Check that the model and optimizer files exist and match their checksums.

        Returns
        -------
        Snapshot

        Raises
        ------
        SnapshotError
            Unreadable or foreign metadata, a missing file or a wrong checksum.
        """
        path = Path(path)
        meta_path = (
            path
            if path.suffix == ".json"
            else path.with_name(path.name.removesuffix(".keras") + ".json")
        )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"unreadable metadata {meta_path.name}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"{meta_path.name} is not a posekit snapshot")
        folder = meta_path.parent
        snap = cls(
            iteration=int(meta["iteration"]),
            model_path=folder / meta["model_file"],
            optimizer_path=folder / meta["optimizer_file"],
            meta_path=meta_path,
            meta=meta,
        )
        if verify:
            for file, key in (
                (snap.model_path, "model_sha256"),
                (snap.optimizer_path, "optimizer_sha256"),
            ):
                if not file.is_file():
                    raise SnapshotError(f"{file.name} is missing")
                if file_sha256(file) != meta[key]:
                    raise SnapshotError(
                        f"{file.name} does not match its checksum (corrupt)"
                    )
        return snap


@dataclass(frozen=True)
class TFLiteModel:
    """A converted TFLite file and what a :class:`TFLitePredictor` needs to run it.

    Everything here is plain data (no TensorFlow): a Dask worker or a job-array task
    builds its predictor from it without loading Keras.

    Attributes
    ----------
    path
        The ``.tflite`` file.
    batch_size
        Its batch size.
    stride, locref_stdev, input_scale
        The decoder's parameters (:func:`~posekit.engine.models.decoder.make_decoder`).
    precision
        ``"float32"`` or ``"int8"``.
    report
        The float-vs-int8 comparison, when one was made.
    """

    path: Path
    batch_size: int
    stride: float
    locref_stdev: float
    input_scale: float
    precision: str
    report: QuantizationReport | None = None

    def predictor(self, num_threads: int | None = None) -> TFLitePredictor:
        """Load the file into a :class:`~posekit.engine.inference.TFLitePredictor`.

        Parameters
        ----------
        num_threads
            LiteRT threads (default: every core this process may use).

        Returns
        -------
        TFLitePredictor
        """
        from .inference import TFLitePredictor
        from .models.decoder import make_decoder

        decoder = make_decoder(
            stride=self.stride,
            locref_stdev=self.locref_stdev,
            input_scale=self.input_scale,
        )
        return TFLitePredictor(
            self.path, decoder, batch_size=self.batch_size, num_threads=num_threads
        )


# --------------------------------------------------------------------------------------
# The model folder
# --------------------------------------------------------------------------------------

#: A snapshot: an index into :meth:`ModelFolder.snapshots` (DeepLabCut's
#: ``snapshotindex``, -1 the newest) or a snapshot file (``.keras`` or ``.json``).
SnapshotRef = int | str | os.PathLike


class ModelFolder:
    """A trained model on disk: a ``train/`` folder and its snapshots.

    Parameters
    ----------
    path
        The ``train/`` folder (it need not exist yet).
    project
        The project the folder belongs to, for model folders trained before
        ``pose_cfg.yaml`` named the model (default: found from the folder).

    Examples
    --------
    >>> folder = ModelFolder("/nowhere/train")
    >>> folder.snapshots()
    []
    >>> folder.path.name
    'train'
    """

    def __init__(
        self, path: str | os.PathLike, *, project: Project | None = None
    ) -> None:
        self.path = Path(path)
        self.project = project

    @classmethod
    def of(cls, project: Project | str | os.PathLike, shuffle: int = 1) -> ModelFolder:
        """Return the model folder of a shuffle: ``project.model_dir(shuffle) / "train"``.

        Parameters
        ----------
        project
            A :class:`~posekit.engine.project.Project` or its folder.
        shuffle
            Shuffle number.

        Returns
        -------
        ModelFolder
        """
        if not isinstance(project, Project):
            project = load_project(project)
        return cls(project.model_dir(shuffle) / "train", project=project)

    @classmethod
    def at(cls, path: str | os.PathLike) -> ModelFolder:
        """Return the model folder ``path`` is, or the one holding snapshot file ``path``."""
        path = Path(path)
        return cls(path if path.is_dir() else path.parent)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    # ------------------------------------------------------------------ snapshots
    def snapshots(self) -> list[tuple[int, Path]]:
        """List ``(iteration, snapshot .keras path)`` of the saved snapshots, oldest first.

        A snapshot counts once its metadata (``snapshot-<iteration>.json``, written
        last) exists; ``[-1]`` is the newest, as DeepLabCut's ``snapshotindex=-1``. The
        files are not verified here (:meth:`latest` does). An absent folder has none.
        """
        if not self.path.is_dir():
            return []
        found = []
        for p in self.path.iterdir():
            m = _SNAPSHOT_RE.match(p.name)
            if m:
                found.append((int(m.group(1)), p.with_suffix(".keras")))
        return sorted(found)

    def deeplabcut_pytorch_path(self) -> Path | None:
        """Return DeepLabCut 3's ``train/`` folder of the same shuffle, if laid out so.

        DeepLabCut 3 trains its PyTorch networks into
        ``dlc-models-pytorch/iteration-<N>/<name>/train/``, beside the
        ``dlc-models/…`` folder that this one is; ``None`` for a folder outside a
        project's ``dlc-models/``.

        Examples
        --------
        >>> folder = ModelFolder("/p/dlc-models/iteration-0/tOct30-trainset95shuffle1/train")
        >>> folder.deeplabcut_pytorch_path().as_posix()
        '/p/dlc-models-pytorch/iteration-0/tOct30-trainset95shuffle1/train'
        """
        parents = self.path.parents
        if len(parents) < 4 or parents[2].name != "dlc-models":
            return None
        return (
            parents[3]
            / "dlc-models-pytorch"
            / parents[1].name
            / parents[0].name
            / self.path.name
        )

    def _deeplabcut_files(self) -> tuple[str, list[int], str]:
        """Return ``(engine, iterations or epochs, newest file)`` of DeepLabCut's network.

        ``engine`` is ``"TensorFlow"`` (DeepLabCut 2's checkpoints in this folder),
        ``"PyTorch"`` (DeepLabCut 3's ``.pt`` snapshots of this shuffle) or ``""``.
        """
        found: dict[int, str] = {}
        if self.path.is_dir():
            for p in self.path.iterdir():
                m = _DLC_CHECKPOINT_RE.match(p.name)
                if m:
                    found[int(m.group(1))] = f"snapshot-{m.group(1)}"
        if found:
            return "TensorFlow", sorted(found), found[max(found)]
        torch = self.deeplabcut_pytorch_path()
        if torch is not None and torch.is_dir():
            for p in torch.iterdir():
                m = _DLC_TORCH_RE.match(p.name)
                if m:
                    n = int(m.group(1))
                    if n not in found or "best" not in found[n]:
                        found[n] = p.name
        if found:
            return "PyTorch", sorted(found), found[max(found)]
        return "", [], ""

    def deeplabcut_snapshots(self) -> list[int]:
        """Return the iterations (epochs) of DeepLabCut's own snapshots of the shuffle.

        DeepLabCut 2 writes ``snapshot-<N>.index``, ``.meta`` and ``.data-…`` (a
        TensorFlow checkpoint) into this folder; DeepLabCut 3 writes
        ``snapshot-<epoch>.pt`` and ``snapshot-best-<epoch>.pt`` (PyTorch) into
        :meth:`deeplabcut_pytorch_path`. posekit loads neither; posekit's
        ``snapshot-<N>.index`` is a marker beside a ``.keras`` file.
        """
        return self._deeplabcut_files()[1]

    def deeplabcut_engine(self) -> str:
        """Return the engine of DeepLabCut's own network of the shuffle.

        ``"TensorFlow"`` (DeepLabCut 2), ``"PyTorch"`` (DeepLabCut 3) or ``""``
        (DeepLabCut trained none; :meth:`deeplabcut_snapshots` lists its snapshots).
        """
        return self._deeplabcut_files()[0]

    def _deeplabcut_network(self) -> str:
        """Describe DeepLabCut's network of the shuffle for messages (``""``: none)."""
        engine, _, newest = self._deeplabcut_files()
        if not engine:
            return ""
        where = self.path if engine == "TensorFlow" else self.deeplabcut_pytorch_path()
        version = "DeepLabCut 2" if engine == "TensorFlow" else "DeepLabCut 3"
        return f"DeepLabCut's own trained network ({version}, {engine}: {newest} in {where})"

    def check_trainable(self) -> None:
        """Refuse to train a shuffle that holds DeepLabCut's trained network.

        Training there would mix posekit's snapshots with DeepLabCut's and replace
        DeepLabCut's ``pose_cfg.yaml`` and ``learning_stats.csv``, so that DeepLabCut
        could no longer use its own network; a shuffle DeepLabCut 3 trained
        (PyTorch, ``dlc-models-pytorch/``) would name two different networks.

        Raises
        ------
        FileExistsError
            The shuffle holds DeepLabCut snapshots (the message says to use another
            shuffle).
        """
        dlc = self._deeplabcut_network()
        if dlc:
            raise FileExistsError(
                f"This shuffle holds {dlc}, which posekit cannot load; training it "
                "would mix posekit's snapshots with it (and, for DeepLabCut 2, "
                "replace its pose_cfg.yaml). "
                "Train posekit's network on another shuffle and leave this one to "
                "DeepLabCut: posekit create-training-dataset PROJECT --shuffles 2, "
                "then posekit train PROJECT --shuffle 2 (Python: shuffles=[2], "
                "shuffle=2)."
            )

    def snapshot(self, index: int = -1) -> tuple[int, Path]:
        """Return snapshot ``index`` of :meth:`snapshots` (DLC ``snapshotindex``).

        Raises
        ------
        FileNotFoundError
            No snapshot yet (train first; the message says so when the shuffle holds
            DeepLabCut's own snapshots, TensorFlow or PyTorch, which posekit cannot
            load).
        IndexError
            ``index`` beyond the snapshots there are.
        """
        snaps = self.snapshots()
        theirs = "" if snaps else self._deeplabcut_network()
        if theirs:
            raise FileNotFoundError(
                f"No posekit snapshot in {self.path}: the shuffle holds {theirs}, "
                "which posekit cannot load. Use another shuffle for posekit's "
                "network: posekit create-training-dataset PROJECT --shuffles 2, then "
                "posekit train PROJECT --shuffle 2 (and --shuffle 2 here; Python: "
                "shuffle=2)."
            )
        if not snaps:
            raise FileNotFoundError(
                f"No trained snapshot in {self.path}. Train first: "
                "posekit.engine.train_network(project) or `posekit train PROJECT`."
            )
        try:
            return snaps[index]
        except IndexError:
            raise IndexError(
                f"Snapshot index {index} out of range: {self.path} has "
                f"{len(snaps)} snapshot(s) (iterations {[it for it, _ in snaps]})."
            ) from None

    def _file(self, snapshot: str | os.PathLike) -> Path:
        path = Path(snapshot)
        if path.parent == Path() and not path.is_absolute():
            path = self.path / path  # a bare file name: in this folder
        return path

    def _resolve(self, snapshot: SnapshotRef) -> tuple[int, Path]:
        """Return ``(iteration, .keras path)`` of an index or a snapshot file."""
        if isinstance(snapshot, numbers.Integral):
            return self.snapshot(int(snapshot))
        path = self._file(snapshot)
        if path.suffix == ".json":
            path = path.with_suffix(".keras")
        return _snapshot_iteration(path), path

    def _warn_unlisted(self) -> None:
        if self.path.is_dir():
            for p in sorted(self.path.glob("snapshot-*.keras")):
                if not p.with_suffix(".json").exists():
                    logger.warning(
                        "skipping %s: no metadata file %s (the run was probably "
                        "stopped while saving it)",
                        p.name,
                        p.with_suffix(".json").name,
                    )

    def latest(self) -> Snapshot | None:
        """Return the newest complete, intact snapshot (``None`` if there is none).

        Incomplete or corrupt snapshots (missing files, wrong checksums, an unreadable
        model) are skipped with a logged warning.
        """
        self._warn_unlisted()
        found = self.load_latest()
        return None if found is None else found[0]

    def load_latest(self) -> tuple[Snapshot, PoseModel] | None:
        """Load the newest intact snapshot; ``(snapshot, model)``, ``None`` if none.

        Snapshots that fail verification or do not load are skipped with a warning.
        """
        from .models.pose_model import load_pose_model

        for _, model_path in reversed(self.snapshots()):
            meta_path = model_path.with_suffix(".json")
            try:
                snap = Snapshot.read(meta_path)
                return snap, load_pose_model(snap.model_path)  # really loadable?
            except (SnapshotError, ValueError, KeyError, OSError) as exc:
                logger.warning("skipping snapshot %s: %s", meta_path.name, exc)
        return None

    def remove_snapshot(self, iteration: int) -> None:
        """Delete a snapshot's files: its DeepLabCut marker, then its metadata, then the rest."""
        for suffix in _SNAPSHOT_SUFFIXES:
            (self.path / f"snapshot-{iteration}{suffix}").unlink(missing_ok=True)

    def dlc_marker_path(self, iteration: int) -> Path:
        """Return the path of a snapshot's DeepLabCut marker, ``snapshot-<N>.index``."""
        return self.path / f"snapshot-{int(iteration)}{DLC_MARKER_SUFFIX}"

    def write_dlc_marker(self, iteration: int) -> Path:
        """Write the marker that lets DeepLabCut find snapshot ``iteration``.

        DeepLabCut (2.x and 3.x with the TensorFlow engine) finds a model's snapshots
        by listing the files whose name contains ``index`` (a TensorFlow checkpoint's
        ``snapshot-<N>.index``) and builds the scorer name,
        ``DLC_<net>_<Task><date>shuffle<k>_<N>``, from the chosen one. The marker is a
        short text file of that name; it is written atomically through a temporary
        name without ``index`` in it, so DeepLabCut never lists a half-written one.

        Parameters
        ----------
        iteration
            The snapshot's iteration (its ``snapshot-<N>.json`` should exist).

        Returns
        -------
        Path
            The marker.
        """
        import tempfile

        path = self.dlc_marker_path(iteration)
        text = (
            f"posekit snapshot marker. DeepLabCut lists a model's snapshots by their "
            f".index files; this model's snapshot is snapshot-{int(iteration)}.keras "
            "(a Keras model, not a TensorFlow checkpoint), described by "
            f"snapshot-{int(iteration)}.json.\n"
        )
        fd, tmp = tempfile.mkstemp(prefix=".dlc-marker-", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def ensure_dlc_markers(self) -> list[Path]:
        """Write the DeepLabCut marker of every listed snapshot that lacks one.

        For models trained before posekit wrote markers; :func:`analyze_videos
        <posekit.engine.api.analyze_videos>` calls it. Markers of snapshots that no
        longer exist are removed.

        Returns
        -------
        list of Path
            The markers written.
        """
        if not self.path.is_dir():
            return []
        listed = {it for it, _ in self.snapshots()}
        for p in self.path.glob(f"snapshot-*{DLC_MARKER_SUFFIX}"):
            m = _SNAPSHOT_ITERATION_RE.fullmatch(p.name.removesuffix(DLC_MARKER_SUFFIX))
            if m and int(m.group(1)) not in listed:
                p.unlink(missing_ok=True)
        return [
            self.write_dlc_marker(it)
            for it in sorted(listed)
            if not self.dlc_marker_path(it).exists()
        ]

    def load(self, snapshot: SnapshotRef | None = None) -> PoseModel:
        """Load a snapshot's model (built for a free input size: any frame size).

        Parameters
        ----------
        snapshot
            ``None``: the newest intact snapshot (:meth:`latest`); an index into
            :meth:`snapshots`; a ``.keras`` file; or a ``.json`` file (its checksums
            are verified first).

        Returns
        -------
        PoseModel

        Raises
        ------
        FileNotFoundError
            No (intact) snapshot.
        SnapshotError
            A ``.json`` whose files are missing or corrupt.
        """
        from .models.pose_model import load_pose_model

        if snapshot is None:
            self._warn_unlisted()
            found = self.load_latest()
            if found is None:
                raise FileNotFoundError(f"No intact snapshot in {self.path}")
            return found[1]
        if not isinstance(snapshot, numbers.Integral) and str(snapshot).endswith(
            ".json"
        ):
            return load_pose_model(Snapshot.read(self._file(snapshot)).model_path)
        return load_pose_model(self._resolve(snapshot)[1])

    # ------------------------------------------------------------------ configuration
    def pose_cfg(self) -> dict[str, Any]:
        """Read ``pose_cfg.yaml`` as written (nothing filled in; see :attr:`info`).

        Raises
        ------
        FileNotFoundError
            No ``pose_cfg.yaml``.
        ValueError
            It does not parse, or holds no mapping.
        """
        import yaml

        path = self.path / "pose_cfg.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{path} is not valid YAML ({exc}). It is rewritten when training "
                "resumes; posekit did not change it."
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a mapping of keys; it is damaged.")
        return data

    def model_config(self, snapshot: SnapshotRef = -1) -> PoseModelConfig:
        """Return the network configuration of a snapshot.

        It comes from the snapshot's metadata, else from ``pose_cfg.yaml``'s
        ``posekit`` section.

        Raises
        ------
        FileNotFoundError
            No snapshot, or neither file.
        ValueError
            ``pose_cfg.yaml`` was not written by posekit.
        """
        from .models.pose_config import PoseModelConfig  # (no TensorFlow)

        iteration, path = self._resolve(snapshot)
        meta = path.with_name(f"snapshot-{iteration}.json")
        if meta.is_file():
            return PoseModelConfig.from_dict(
                json.loads(meta.read_text())["model_config"]
            )
        folder = ModelFolder(path.parent) if path.parent != self.path else self
        section = folder.pose_cfg().get("posekit")
        if not section:
            raise ValueError(
                f"{folder.path / 'pose_cfg.yaml'} has no posekit section "
                "(not written by posekit?)"
            )
        return PoseModelConfig.from_dict(section["model"])

    @property
    def info(self) -> dict[str, Any]:
        """``pose_cfg.yaml`` with what names the model filled in.

        :data:`MODEL_KEYS` are always set. :func:`~posekit.engine.api.train_network`
        writes them; for a folder trained before they were written they come from the
        project (:attr:`project`, else the project the folder sits in by DeepLabCut's
        layout, else the one ``pose_cfg.yaml``'s ``project_path`` names) and the
        folder names (``iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train``).
        Reading never rewrites the file.

        Raises
        ------
        ValueError
            ``pose_cfg.yaml`` exists but does not parse.
        """
        folder = self.path
        info = self.pose_cfg() if (folder / "pose_cfg.yaml").is_file() else {}
        if all(info.get(k) is not None for k in MODEL_KEYS if k != "trainingsetindex"):
            info.setdefault("trainingsetindex", None)
            return info
        project = self.project or _project_of(folder, info)
        names = (
            _MODEL_DIR_RE.match(folder.parent.name) if folder.name == "train" else None
        )
        found: dict[str, Any] = {}
        if names:
            found["shuffle"] = int(names["shuffle"])
            found["train_fraction"] = int(names["pct"]) / 100
        iteration_dir = folder.parent.parent.name if names else ""
        if iteration_dir.startswith("iteration-") and iteration_dir[10:].isdigit():
            found["iteration (active-learning)"] = int(iteration_dir[10:])
        if project is not None:
            found.setdefault("iteration (active-learning)", project.iteration)
            found.setdefault("train_fraction", project.training_fractions[0])
            found.update(Task=project.task, date=project.date)
        elif names:
            # <Task><date> is all the scorer name needs
            found.update(Task=names["name"], date="")
            logger.warning(
                "%s: no Task/date in pose_cfg.yaml and no project config found; using "
                "the folder name %r",
                folder,
                names["name"],
            )
        fallback = {
            "Task": "posekit",
            "date": "",
            "shuffle": 1,
            "train_fraction": None,
            "iteration (active-learning)": 0,
        }
        for key in MODEL_KEYS:
            if info.get(key) is None:
                info[key] = found.get(key, fallback.get(key))
        if info["trainingsetindex"] is None and project and info["train_fraction"]:
            info["trainingsetindex"] = _training_set_index(
                project, info["train_fraction"]
            )
        return info

    def scorer(self, snapshot: SnapshotRef = -1, *, netname: str | None = None) -> str:
        """Return DeepLabCut's scorer name, ``DLC_<net>_<Task><date>shuffle<k>_<iters>``.

        Evaluation and video analysis name their files with it.

        Parameters
        ----------
        snapshot
            An index into :meth:`snapshots` (default: the newest) or a snapshot file.
        netname
            DLC's network name (``mobnet_35``, ``resnet_50``…); default: from the
            snapshot's configuration (:meth:`model_config`).

        Returns
        -------
        str
            For example the demo's model after 700 iterations of MobileNetV2
            α=0.35, shuffle 1: ``DLC_mobnet_35_demoJan1shuffle1_700``.

        Raises
        ------
        FileNotFoundError
            No snapshot yet.
        """
        iteration, path = self._resolve(snapshot)
        if netname is None:
            netname = self.model_config(path).dlc_netname
        info = self.info
        return dlc_scorer_name(
            netname,
            str(info["Task"]),
            str(info["date"]),
            int(info["shuffle"]),
            iteration,
        )

    # ------------------------------------------------------------------ prediction
    def tflite_path(
        self,
        snapshot: SnapshotRef,
        frame_shape: tuple[int, int],
        batch_size: int,
        precision: str = "float32",
    ) -> Path:
        """Return where the TFLite conversion of a snapshot is cached.

        ``snapshot-<iteration>-<h>x<w>-b<batch>-u8.tflite`` (float32, uint8 frames
        in) or ``...-int8.tflite`` (full-integer), beside the snapshot; when that
        folder cannot be written (a read-only project) and holds no such file, in
        ``$POSEKIT_CACHE/tflite/<folder's hash>/`` (default ``~/.cache/posekit``).
        """
        _, path = self._resolve(snapshot)
        h, w = int(frame_shape[0]), int(frame_shape[1])
        suffix = "int8" if precision == "int8" else "u8"
        beside = path.with_name(
            f"{path.stem}-{h}x{w}-b{int(batch_size)}-{suffix}.tflite"
        )
        if beside.exists() or os.access(beside.parent, os.W_OK):
            return beside
        return _conversion_cache(beside.parent) / beside.name  # a read-only model

    def quantization_report_path(
        self, snapshot: SnapshotRef, frame_shape: tuple[int, int], batch_size: int
    ) -> Path:
        """Return where the float-vs-int8 report of a conversion is kept (``-int8.json``)."""
        return self.tflite_path(snapshot, frame_shape, batch_size, "int8").with_suffix(
            ".json"
        )

    def labelled_frames(self) -> LabelledFrames | None:
        """Return the labelled frames of this model's shuffle, ``None`` without them.

        The project is :attr:`project` or the one the folder belongs to; the shuffle
        and training fraction come from ``pose_cfg.yaml``. The training frames
        calibrate an int8 model, the test frames compare it with float.
        """
        from .quantization import LabelledFrames

        try:
            info = self.info
            project = self.project or _project_of(self.path, info)
            if project is None:
                return None
            from .dataset import load_training_set

            # read when used, not all decoded at once: calibration and the
            # comparison read at most MAX_CALIBRATION_FRAMES + MAX_TEST_FRAMES
            ts = load_training_set(
                project,
                shuffle=int(info["shuffle"]),
                train_fraction=info.get("train_fraction"),
                cache_bytes=0,
            )
        except (FileNotFoundError, ValueError, KeyError, OSError) as exc:
            logger.info("no labelled frames for %s: %s", self.path, exc)
            return None
        if not len(ts.images):
            return None
        return LabelledFrames.from_training_set(
            ts,
            source=f"{project.path} shuffle {int(info['shuffle'])}",
            pcutoff=project.pcutoff,
        )

    def quantization_report(
        self,
        frame_shape: tuple[int, int],
        batch_size: int,
        *,
        snapshot: SnapshotRef = -1,
    ) -> QuantizationReport | None:
        """Return the recorded float-vs-int8 comparison, ``None`` if none is current.

        A report older than its snapshot, or without its int8 file, does not count;
        nor does one made at another ``pcutoff`` than the project's now (its
        "points crossing pcutoff" were counted at that one).
        """
        from .quantization import QuantizationReport

        _, path = self._resolve(snapshot)
        report = self.quantization_report_path(path, frame_shape, batch_size)
        tfl = self.tflite_path(path, frame_shape, batch_size, "int8")
        if not (report.is_file() and tfl.is_file()):
            return None
        newest = path.stat().st_mtime if path.exists() else 0.0
        if min(report.stat().st_mtime, tfl.stat().st_mtime) < newest:
            return None
        try:
            found = QuantizationReport.read(report)
        except ValueError as exc:
            logger.warning("ignoring %s: %s", report.name, exc)
            return None
        pcutoff = self._project_pcutoff()
        if pcutoff is not None and abs(found.agreement.pcutoff - pcutoff) > 1e-9:
            logger.info(
                "%s was made at pcutoff %g, the project's is %g now: comparing again",
                report.name,
                found.agreement.pcutoff,
                pcutoff,
            )
            return None
        return found

    def _project_pcutoff(self) -> float | None:
        """Return the ``pcutoff`` of the folder's project (``None``: no project)."""
        try:
            project = self.project or _project_of(self.path, self.info)
        except (FileNotFoundError, ValueError, KeyError, OSError):
            return None
        return None if project is None else float(project.pcutoff)

    def tflite_model(
        self,
        frame_shape: tuple[int, int],
        batch_size: int,
        *,
        precision: str = "auto",
        snapshot: SnapshotRef = -1,
        labelled_frames: LabelledFrames | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> TFLiteModel:
        """Convert a snapshot to TFLite for one frame size (cached) and choose a precision.

        The float32 model is converted once per snapshot, frame size and batch size
        (:meth:`tflite_path`). For ``precision="auto"`` (and ``"int8"``) a
        full-integer model is also converted, calibrated on the training frames, and
        both predict the labelled frames at this size; the comparison is recorded
        beside them (:meth:`quantization_report_path`). ``"auto"`` takes int8 when
        it agrees with float within
        :data:`~posekit.engine.quantization.THRESHOLDS`
        (:func:`~posekit.engine.quantization.compare`), and float32 otherwise or
        when there are no labelled frames to check with. The choice is said in one
        line (:func:`~posekit.engine.quantization.announce`).

        Parameters
        ----------
        frame_shape
            ``(height, width)`` the network sees.
        batch_size
            Frames per call.
        precision
            ``"auto"``, ``"float32"`` or ``"int8"``.
        snapshot
            An index into :meth:`snapshots` or a snapshot file.
        labelled_frames
            Frames to calibrate and test with (default: :meth:`labelled_frames`).
        on_stage
            Called with ``"converting"`` before a conversion.

        Returns
        -------
        TFLiteModel

        Raises
        ------
        ValueError
            Unknown ``precision``; ``"int8"`` without labelled frames.
        """
        from .quantization import check_precision

        check_precision(precision)
        _, path = self._resolve(snapshot)
        h, w = int(frame_shape[0]), int(frame_shape[1])
        cfg = self.model_config(path)
        net: list[Any] = []  # loaded only when something has to be converted

        def full_model():
            from .models.pose_model import load_pose_model, rebuild_for_input_shape

            if not net:
                if on_stage is not None:
                    on_stage("converting")
                net.append(rebuild_for_input_shape(load_pose_model(path), (h, w, 3)))
            return net[0]

        from .locks import file_mutex

        tfl = self.tflite_path(path, (h, w), batch_size)
        # several tasks of a job array start at once: one converts, the others wait
        with file_mutex(tfl.with_name(f".{tfl.stem}.lock")):
            return self._tflite_model_locked(
                path,
                tfl,
                (h, w),
                batch_size,
                precision,
                cfg,
                full_model,
                labelled_frames,
            )

    def _tflite_model_locked(
        self,
        path: Path,
        tfl: Path,
        frame_shape: tuple[int, int],
        batch_size: int,
        precision: str,
        cfg: Any,
        full_model: Callable[[], Any],
        labelled_frames: LabelledFrames | None,
    ) -> TFLiteModel:
        """:meth:`tflite_model` under the conversion's lock."""
        from .inference import convert_to_tflite

        h, w = frame_shape
        if not tfl.exists() or tfl.stat().st_mtime < path.stat().st_mtime:
            tfl.parent.mkdir(parents=True, exist_ok=True)
            convert_to_tflite(full_model(), tfl, input_shape=(batch_size, h, w, 3))
        chosen, report = "float32", None
        if precision != "float32":
            report = self.quantization_report((h, w), batch_size, snapshot=path)
            if report is None:
                frames = labelled_frames or self.labelled_frames()
                if frames is None:
                    if precision == "int8":
                        raise ValueError(
                            f"int8 needs labelled frames to calibrate on, and {self.path} "
                            "has no project with labelled frames: pass labelled_frames, "
                            "or use precision='float32'."
                        )
                else:
                    report = self._quantize(
                        path, (h, w), batch_size, frames, full_model
                    )
            if report is not None:
                chosen = "int8" if precision == "int8" else report.chosen
            from .quantization import announce

            announce(path.stem, (h, w), precision, chosen, report)
        stride = cfg.head_stride
        return TFLiteModel(
            path=self.tflite_path(path, (h, w), batch_size, chosen),
            batch_size=int(batch_size),
            stride=float(stride),
            locref_stdev=float(cfg.locref_stdev),
            input_scale=float(cfg.input_scale),
            precision=chosen,
            report=report,
        )

    def _quantize(
        self,
        path: Path,
        frame_shape: tuple[int, int],
        batch_size: int,
        frames: LabelledFrames,
        full_model: Callable[[], Any],
    ) -> QuantizationReport:
        """Convert to int8, compare with float32 on the labelled frames, record it."""
        from .inference import TFLitePredictor, convert_to_tflite
        from .models.decoder import make_decoder
        from .quantization import compare

        cfg = self.model_config(path)
        int8 = self.tflite_path(path, frame_shape, batch_size, "int8")
        h, w = frame_shape
        convert_to_tflite(
            full_model(),
            int8,
            input_shape=(batch_size, h, w, 3),
            representative_frames=frames.calibration_frames(frame_shape),
        )
        decoder = make_decoder(
            stride=cfg.head_stride,
            locref_stdev=cfg.locref_stdev,
            input_scale=cfg.input_scale,
        )
        float_pred, int8_pred = (
            TFLitePredictor(
                self.tflite_path(path, frame_shape, batch_size, precision),
                decoder,
                batch_size=batch_size,
            )
            for precision in ("float32", "int8")
        )
        report = compare(
            frames,
            float_pred,
            int8_pred,
            (int(h), int(w)),
            batch_size=int(batch_size),
            snapshot=path.name,
        )
        report.write(self.quantization_report_path(path, frame_shape, batch_size))
        logger.info("%s %dx%d: %s", path.name, w, h, report.summary())
        return report

    def predictor(
        self,
        frame_shape: tuple[int, int] | None = None,
        batch_size: int = 8,
        use_tflite: bool | None = None,
        *,
        snapshot: SnapshotRef = -1,
        on_stage: Callable[[str], None] | None = None,
        precision: str = "float32",
        labelled_frames: LabelledFrames | None = None,
        num_threads: int | None = None,
    ) -> Predictor:
        """Build a :class:`~posekit.engine.inference.Predictor` for a snapshot.

        Parameters
        ----------
        frame_shape
            ``(height, width)`` of the frames given to the predictor; ``None``: any
            size, several in one call (the Keras runtime only).
        batch_size
            Frames per inference call.
        use_tflite
            Convert to TFLite (cached beside the snapshot, :meth:`tflite_path`;
            reconverted when the snapshot is newer) and run on LiteRT: about 2× faster
            on CPU than TensorFlow. Default: when ``frame_shape`` is given.
        snapshot
            An index into :meth:`snapshots` (default: the newest) or a snapshot file.
        on_stage
            Called with ``"loading"`` before the model is read and ``"converting"``
            before a TFLite conversion (many seconds), so that a progress display can
            say what takes the time.
        precision
            TFLite only: ``"float32"`` (default), ``"int8"`` or ``"auto"`` (int8 when
            it agrees with float on the labelled frames; :meth:`tflite_model`).
        labelled_frames
            Frames to calibrate and compare int8 with (default: the project's).
        num_threads
            LiteRT threads (default: every core).

        Returns
        -------
        Predictor

        Raises
        ------
        FileNotFoundError
            No snapshot yet.
        ValueError
            ``use_tflite`` without a ``frame_shape``; ``precision="int8"`` without
            labelled frames.
        """
        from .inference import KerasPredictor
        from .models.decoder import make_decoder

        if use_tflite is None:
            use_tflite = frame_shape is not None
        if use_tflite and frame_shape is None:
            raise ValueError(
                "A TFLite model takes frames of one size: pass frame_shape=(height, "
                "width), or use_tflite=False for frames of any size."
            )
        _, path = self._resolve(snapshot)
        if on_stage is not None:
            on_stage("loading")
        if use_tflite:  # a cached conversion needs no Keras model
            h, w = int(frame_shape[0]), int(frame_shape[1])
            return self.tflite_model(
                (h, w),
                batch_size,
                precision=precision,
                snapshot=path,
                labelled_frames=labelled_frames,
                on_stage=on_stage,
            ).predictor(num_threads)
        from .models.pose_model import load_pose_model, rebuild_for_input_shape

        net = load_pose_model(path)
        if frame_shape is None:  # snapshots are saved with a free input size
            return KerasPredictor(net, batch_size=batch_size)
        cfg = net.pose_config
        h, w = int(frame_shape[0]), int(frame_shape[1])
        decoder = make_decoder(
            stride=net.stride,
            locref_stdev=cfg.locref_stdev,
            input_scale=cfg.input_scale,
        )
        full = rebuild_for_input_shape(net, (h, w, 3))
        return KerasPredictor(full, decoder, batch_size=batch_size)


def _conversion_cache(folder: Path) -> Path:
    """Where the conversions of a model folder that cannot be written are cached."""
    import hashlib

    root = os.environ.get("POSEKIT_CACHE")
    base = (
        Path(root)
        if root
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "posekit"
    )
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return base / "tflite" / key


def _project_of(folder: Path, pose_cfg: dict[str, Any]) -> Project | None:
    """Find the project of a ``train/`` folder: by DLC's layout, else ``project_path``."""
    candidates = []
    # <project>/dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/train
    if len(folder.parents) > 3 and folder.parents[2].name == "dlc-models":
        candidates.append(folder.parents[3])
    if pose_cfg.get("project_path"):
        candidates.append(Path(str(pose_cfg["project_path"])))
    for candidate in candidates:
        if (candidate / "config.yaml").is_file():
            try:
                return load_project(candidate)
            except ProjectError as exc:
                logger.warning("cannot read %s: %s", candidate / "config.yaml", exc)
    return None
