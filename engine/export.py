"""Shareable models: one ``.posekit.zip`` file that runs without a project.

:func:`export_model` writes a trained shuffle into one file:

- ``model.keras``: the network and its weights (Keras 3 format: JSON + HDF5, no
  pickle), for any frame size;
- ``float32.tflite`` and, when the project has labelled frames to calibrate on,
  ``int8.tflite`` (full-integer): ready for LiteRT at the card's input size;
- ``pose_cfg.yaml``: the model folder's configuration (DeepLabCut's keys);
- ``model_card.json``: what a user needs to know (:class:`ModelCard`: bodyparts,
  skeleton, training frames and videos, test error of both precisions, input size,
  licence);
- ``MANIFEST.json``: size and SHA-256 of every other file.

:func:`load_model_file` checks a file (or the folder it was unzipped into) before
anything in it is used: only the names
above (no folders, no ``..``, no absolute paths: no path traversal), sizes and
checksums as the manifest says, a bounded size (no zip bomb), the ``.keras`` member
holding only JSON and HDF5 (no pickle anywhere), and Keras's safe mode when the
network is loaded. :class:`ExportedModel` then analyses videos with no project and no
labels (:func:`analyze_with_model`, ``posekit analyze --model FILE VIDEO``).

:func:`export_savedmodel` and :func:`export_onnx` write the network for other
runtimes (TensorFlow Serving, ONNX Runtime, OpenCV DNN...); :func:`check_onnx`
compares ONNX Runtime's keypoints with posekit's own.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, logger
from ._fileio import atomic_path
from .dlc_names import dlc_keywords, elsewhere, ignored, renamed

if TYPE_CHECKING:
    import threading

    from .inference import AnalysisOutputs, Predictor
    from .model_folder import ModelFolder, TFLiteModel
    from .project import Project

__all__ = [
    "MODEL_FILE_FORMAT",
    "MODEL_FILE_SUFFIX",
    "ExportedModel",
    "ModelCard",
    "ModelFileError",
    "analyze_with_model",
    "check_onnx",
    "export_model",
    "export_onnx",
    "export_savedmodel",
    "load_model_file",
]

#: ``format`` of a model card and manifest.
MODEL_FILE_FORMAT = "posekit-model/1"

#: The suffix of a shared model file.
MODEL_FILE_SUFFIX = ".posekit.zip"

#: The members a model file may hold (nothing else is accepted).
_MEMBERS = (
    "MANIFEST.json",
    "model_card.json",
    "pose_cfg.yaml",
    "model.keras",
    "float32.tflite",
    "int8.tflite",
)
_REQUIRED = ("MANIFEST.json", "model_card.json", "pose_cfg.yaml", "model.keras")
#: Members of the ``.keras`` archive (Keras 3: config and metadata JSON, HDF5 weights).
_KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
#: Largest member accepted, and the whole file (uncompressed).
MAX_MEMBER_BYTES = 512 * 2**20
MAX_TOTAL_BYTES = 1024 * 2**20


class ModelFileError(ValueError):
    """A model file is damaged, tampered with or not a posekit model."""


@dataclass(frozen=True)
class ModelCard:
    """What a shared model is: the ``model_card.json`` of a ``.posekit.zip``.

    Attributes
    ----------
    name
        A name for the model (default: the project's task).
    bodyparts, skeleton
        Keypoints in output order, and the edges drawn between them.
    scorer
        DeepLabCut's scorer name: the prediction files are named with it.
    backbone, iterations
        Network and training iterations of the snapshot.
    input_size
        ``(height, width)`` the TFLite files take (frames of other sizes run on
        the Keras model).
    training_frames, test_frames
        How many labelled frames trained and tested it.
    training_videos
        The videos the frames come from (file names only).
    test_error_px
        Mean test error of the snapshot as training measured it.
    float_test_error_px, int8_test_error_px
        Test error of each TFLite model at ``input_size`` (``None`` without
        labelled test frames or without int8).
    int8_chosen
        Whether ``precision="auto"`` runs the int8 model.
    pcutoff
        The project's likelihood cutoff when it was exported (``posekit live
        --smooth`` blends only points above it); ``None`` in files written before
        posekit recorded it.
    licence
        The licence the authors give the model under.
    description, authors
        Free text.
    created, posekit_version
        When and by which posekit the file was written.
    """

    name: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    scorer: str
    backbone: str
    iterations: int
    input_size: tuple[int, int]
    training_frames: int
    test_frames: int
    training_videos: tuple[str, ...]
    test_error_px: float | None
    float_test_error_px: float | None
    int8_test_error_px: float | None
    int8_chosen: bool
    pcutoff: float | None = None
    licence: str = "unspecified"
    description: str = ""
    authors: str = ""
    created: str = ""
    posekit_version: str = __version__
    format: str = MODEL_FILE_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the card as JSON-ready data."""
        data = asdict(self)
        data["skeleton"] = [list(e) for e in self.skeleton]
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Read a card written by :meth:`to_dict`.

        Raises
        ------
        ModelFileError
            Not a posekit model card, or a field missing.
        """
        if not isinstance(data, dict) or data.get("format") != MODEL_FILE_FORMAT:
            fmt = data.get("format") if isinstance(data, dict) else None
            raise ModelFileError(
                _format_problem(
                    fmt,
                    f"model_card.json is not a {MODEL_FILE_FORMAT} card (format "
                    f"{fmt!r})",
                )
            )
        try:
            fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            fields["bodyparts"] = tuple(str(b) for b in fields["bodyparts"])
            fields["skeleton"] = tuple(
                (str(a), str(b)) for a, b in fields.get("skeleton") or ()
            )
            fields["input_size"] = tuple(int(v) for v in fields["input_size"])
            fields["training_videos"] = tuple(fields.get("training_videos") or ())
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"model_card.json is incomplete: {exc}") from exc

    def summary(self) -> str:
        """Say in a few lines what the model finds, how well, under which licence."""
        errors = []
        if self.float_test_error_px is not None:
            errors.append(f"float32 {self.float_test_error_px:.2f} px")
        if self.int8_test_error_px is not None:
            errors.append(f"int8 {self.int8_test_error_px:.2f} px")
        if not errors and self.test_error_px is not None:  # exported without int8
            errors.append(f"{self.test_error_px:.2f} px (the snapshot's, at training)")
        h, w = self.input_size
        return "\n".join(
            [
                f"{self.name}: {len(self.bodyparts)} bodyparts "
                f"({', '.join(self.bodyparts)})",
                f"{self.backbone}, {self.iterations} iterations, trained on "
                f"{self.training_frames} frames of {len(self.training_videos)} "
                f"video(s); input {w}×{h}",
                f"test error ({self.test_frames} frames): "
                + (", ".join(errors) or "not measured"),
                f"licence: {self.licence}",
            ]
        )


def _without_paths(value: Any, root: Path) -> Any:
    """Replace absolute paths in strings (nested) so a shared file names no folder.

    A path inside ``root`` (the project) becomes relative to the project's folder
    name; any other absolute path keeps only its file name. The trainer's home
    folder and user name stay on the trainer's machine.
    """
    if isinstance(value, dict):
        return {k: _without_paths(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_paths(v, root) for v in value)
    if not isinstance(value, str):
        return value
    text = value.replace(str(root), root.name)
    words = [
        Path(w).name if os.path.isabs(w) and len(Path(w).parts) > 1 else w
        for w in text.split(" ")
    ]
    return " ".join(words)


def _shareable_pose_cfg(path: Path, root: Path) -> bytes:
    """``pose_cfg.yaml`` as shared: the same keys, no absolute path (see above)."""
    import yaml

    cfg = yaml.safe_load(path.read_text()) or {}
    return yaml.safe_dump(_without_paths(cfg, root), sort_keys=False).encode()


def _format_problem(fmt: object, otherwise: str) -> str:
    """Say that a newer posekit wrote a file, or else ``otherwise``."""
    name, _, version = str(fmt).partition("/")
    if name == MODEL_FILE_FORMAT.split("/")[0] and version.isdigit():
        return (
            f"it is a {fmt} file, written by a newer posekit than this one (which "
            f"reads {MODEL_FILE_FORMAT}): upgrade posekit (pip install -U posekit)."
        )
    return otherwise


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _input_size(project: Project, folder: ModelFolder) -> tuple[int, int]:
    """Return the frame size of the project's first video, else of its labelled frames."""
    from .video import VideoReader

    for video in project.source_videos():
        try:
            with VideoReader(video) as reader:
                return reader.height, reader.width
        except OSError:
            continue
    frames = folder.labelled_frames()
    if frames is not None and len(frames.images):
        h, w = np.asarray(frames.images[0]).shape[:2]
        return int(h), int(w)
    raise ValueError(
        "Cannot tell the input size: the project has no readable video and no "
        "labelled frame. Pass input_size=(height, width)."
    )


@dlc_keywords(
    snapshotindex=renamed("snapshot"),
    make_tar=ignored("the .posekit.zip is one file already"),
    wipepaths=ignored("a .posekit.zip names no folder of this machine"),
    overwrite=ignored("an existing file is replaced atomically"),
    modelprefix=ignored("posekit's models are in the project"),
    iteration=elsewhere(
        "iteration={value!r}: posekit exports the config's iteration; set iteration "
        "in config.yaml to export another."
    ),
)
def export_model(
    project: Project | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    shuffle: int = 1,
    snapshot: int = -1,
    input_size: tuple[int, int] | None = None,
    name: str | None = None,
    licence: str = "unspecified",
    description: str = "",
    authors: str = "",
    int8: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> Path:
    """Write a trained shuffle into one shareable ``.posekit.zip``.

    Parameters
    ----------
    project
        The project (or its folder).
    out
        The file to write (``.posekit.zip`` is appended when missing; default:
        ``exported-models/<scorer>.posekit.zip`` in the project, as DeepLabCut's
        ``export_model(config)`` writes into ``exported-models/``).
    shuffle, snapshot
        Which network (``snapshot`` is DeepLabCut's ``snapshotindex``).
    input_size
        ``(height, width)`` of the TFLite files (default: the project's first
        video's frame size).
    name
        The model's name (default: the project's task).
    licence
        The licence you give the model under (e.g. ``"CC-BY-4.0"``); recorded in
        the card. Default ``"unspecified"``: users must ask you.
    description, authors
        Free text for the card.
    int8
        Also quantize to int8 (calibrated on the project's labelled frames).
    on_stage
        Called with ``"converting"`` before a conversion.

    Returns
    -------
    Path
        The file written (atomically).

    Raises
    ------
    FileNotFoundError
        No trained snapshot.
    ValueError
        A multi-animal model (its animals are assembled and tracked over a video,
        which the file's runtime does not do).
    """
    from .model_folder import ModelFolder, Snapshot
    from .project import as_project, entry_name

    project = as_project(project)
    folder = ModelFolder.of(project, shuffle)
    iteration, path = folder.snapshot(snapshot)
    if out is None:
        out = project.path / "exported-models" / folder.scorer(path)
    out = Path(out)
    if not out.name.endswith(MODEL_FILE_SUFFIX):
        out = out.with_name(out.name.removesuffix(".zip") + MODEL_FILE_SUFFIX)
    if folder.model_config(path).paf_edges:
        raise ValueError(
            f"{project.path.name} is a multi-animal model (part-affinity fields): a "
            f"{MODEL_FILE_SUFFIX} holds a single-animal network, which finds one "
            "animal per frame. Share the project instead: copy its config.yaml and "
            "its dlc-models folder (the network is in "
            f"{os.path.relpath(folder.path.parent, project.path)}) into one folder, "
            "and analyse videos with that folder as the project (posekit analyze "
            "FOLDER VIDEO), which assembles and tracks the animals."
        )
    size = tuple(int(v) for v in (input_size or _input_size(project, folder)))
    frames = folder.labelled_frames()  # the card's counts, and int8's calibration

    def stage(precision: str) -> Callable[[str], None] | None:
        """Say which of the two conversions runs ("converting" twice looked stuck)."""
        if on_stage is None:
            return None
        return lambda name: on_stage(f"{name} ({precision})")

    float_model = folder.tflite_model(
        size, 1, precision="float32", snapshot=path, on_stage=stage("float32")
    )
    int8_model = None
    if int8:
        int8_model = folder.tflite_model(
            size,
            1,
            precision="int8",
            snapshot=path,
            labelled_frames=frames,
            on_stage=stage("int8"),
        )
    report = int8_model.report if int8_model is not None else None
    meta = json.loads(path.with_suffix(".json").read_text())
    cfg = folder.model_config(path)
    metrics = meta.get("metrics") or {}
    card = ModelCard(
        name=name or project.task,
        bodyparts=tuple(cfg.bodyparts),
        skeleton=tuple(project.skeleton),
        scorer=folder.scorer(path),
        backbone=cfg.backbone,
        iterations=int(iteration),
        input_size=(size[0], size[1]),
        training_frames=len(frames.calibration) if frames else 0,
        test_frames=len(frames.test) if frames and frames.test_split == "test" else 0,
        training_videos=tuple(entry_name(v) for v in project.video_sets),
        test_error_px=metrics.get("mean_error_px"),
        float_test_error_px=report.float_test_error_px if report else None,
        int8_test_error_px=report.int8_test_error_px if report else None,
        int8_chosen=bool(report and report.chosen == "int8"),
        pcutoff=float(project.pcutoff),
        licence=licence,
        description=description,
        authors=authors,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        extra={"quantization": report.to_dict() if report else None},
    )
    Snapshot.read(path.with_suffix(".json"))  # the snapshot is intact
    members = {
        "model_card.json": (
            json.dumps(_without_paths(card.to_dict(), project.path), indent=2) + "\n"
        ).encode(),
        "pose_cfg.yaml": _shareable_pose_cfg(
            folder.path / "pose_cfg.yaml", project.path
        ),
        "model.keras": path.read_bytes(),
        "float32.tflite": float_model.path.read_bytes(),
    }
    if int8_model is not None:
        members["int8.tflite"] = int8_model.path.read_bytes()
    manifest = {
        "format": MODEL_FILE_FORMAT,
        "files": {
            n: {"size": len(data), "sha256": _sha256(data)}
            for n, data in members.items()
        },
    }
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr("MANIFEST.json", json.dumps(manifest, indent=2) + "\n")
        for member, data in members.items():
            # TFLite files and the .keras archive are stored as they are (they do
            # not shrink, and LiteRT can map them)
            kind = zipfile.ZIP_DEFLATED if member.endswith((".json", ".yaml")) else 0
            zf.writestr(member, data, compress_type=kind)
    logger.info("exported %s -> %s", path.name, out)
    return out


# --------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------


def _check_member_names(names: Sequence[str], where: str) -> None:
    for member in names:
        if member not in _MEMBERS:
            raise ModelFileError(
                f"{where} holds {member!r}, which a posekit model file never holds "
                "(only " + ", ".join(_MEMBERS) + "); refusing it."
            )
    if len(set(names)) != len(names):
        raise ModelFileError(f"{where} holds a file twice; refusing it.")
    for member in _REQUIRED:
        if member not in names:
            raise ModelFileError(f"{where} lacks {member}: not a posekit model file.")


def _read_members(path: Path) -> dict[str, bytes]:
    """Read and check every member (names, sizes, checksums) without extracting."""
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a zip file (a .posekit.zip model): a download or copy "
            "that did not finish looks like this. Copy the file again, and compare its "
            "size with the original's."
        )
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        _check_member_names([i.filename for i in infos], str(path))
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES or any(
            i.file_size > MAX_MEMBER_BYTES for i in infos
        ):
            raise ModelFileError(
                f"{path} unpacks to {total} bytes, beyond what a pose model needs; "
                "refusing it."
            )
        listed = _manifest_files(zf.read(zf.getinfo("MANIFEST.json")), path)
        members: dict[str, bytes] = {}
        for info in infos:
            if info.filename == "MANIFEST.json":
                continue
            entry = listed.get(info.filename)
            if not isinstance(entry, dict) or entry.get("size") != info.file_size:
                raise ModelFileError(
                    f"{path}: {info.filename} is not in the manifest, or its size "
                    "differs (damaged or altered file)."
                )
            with zf.open(info) as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)
            if len(data) != entry["size"] or _sha256(data) != entry.get("sha256"):
                raise ModelFileError(
                    f"{path}: {info.filename} does not match its checksum (damaged "
                    "or altered file)."
                )
            members[info.filename] = data
        for name in listed:
            if name not in members:
                raise ModelFileError(f"{path}: {name} is in the manifest but missing.")
    _check_keras_archive(members["model.keras"], path)
    return members


def _manifest_files(data: bytes, path: Path) -> dict[str, Any]:
    """Return the ``files`` of a ``MANIFEST.json`` (name -> size and checksum)."""
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise ModelFileError(f"{path}: MANIFEST.json is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FILE_FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        plain = "MANIFEST.json is not a posekit manifest"
        raise ModelFileError(f"{path}: {_format_problem(fmt, plain)}")
    return manifest.get("files") or {}


def _is_unpacked(path: Path) -> bool:
    """Whether ``path`` is a folder holding the files of an unzipped model file."""
    return (
        path.is_dir()
        and (path / "MANIFEST.json").is_file()
        and (path / "model_card.json").is_file()
    )


def _read_folder_members(path: Path) -> dict[str, bytes]:
    """Read and check the files of an unzipped model file, as the zip's are.

    Only the files its manifest lists are read (sizes and checksums compared); other
    files in the folder (conversions cached there) are left alone.
    """
    listed = _manifest_files((path / "MANIFEST.json").read_bytes(), path)
    _check_member_names(["MANIFEST.json", *listed], str(path))
    members: dict[str, bytes] = {}
    for name, entry in listed.items():
        file = path / name  # a checked plain name: stays inside path
        if not file.is_file():
            raise ModelFileError(f"{path}: {name} is in the manifest but missing.")
        if not isinstance(entry, dict) or file.stat().st_size != entry.get("size"):
            raise ModelFileError(
                f"{path}: the size of {name} differs from the manifest's (damaged "
                "or altered file)."
            )
        if file.stat().st_size > MAX_MEMBER_BYTES:
            raise ModelFileError(f"{path}: {name} is too large; refusing it.")
        data = file.read_bytes()
        if _sha256(data) != entry.get("sha256"):
            raise ModelFileError(
                f"{path}: {name} does not match its checksum (damaged or altered file)."
            )
        members[name] = data
    _check_keras_archive(members["model.keras"], path)
    return members


def _check_keras_archive(data: bytes, path: Path) -> None:
    """Check that the ``.keras`` member holds Keras 3's JSON and HDF5 files only."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            names = inner.namelist()
            config = json.loads(inner.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: model.keras is not a Keras 3 model") from exc
    unexpected = [n for n in names if n not in _KERAS_MEMBERS]
    if unexpected:
        raise ModelFileError(
            f"{path}: model.keras holds {unexpected} (only {_KERAS_MEMBERS} are "
            "accepted: no pickle, no code); refusing it."
        )
    if not isinstance(config, dict) or config.get("class_name") != "PoseModel":
        raise ModelFileError(f"{path}: model.keras is not a posekit PoseModel")


def _cache_root() -> Path:
    root = os.environ.get("POSEKIT_CACHE")
    if root:
        return Path(root) / "models"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
        "posekit/models"
    )


class ExportedModel:
    """A checked ``.posekit.zip``, unpacked into a folder of its own.

    Use :func:`load_model_file` to make one.

    Attributes
    ----------
    source
        The ``.posekit.zip`` (or the folder it was unzipped into).
    folder
        Where its files were unpacked (also the cache of conversions for other
        frame sizes).
    card
        The :class:`ModelCard`.
    """

    def __init__(self, source: Path, folder: Path, card: ModelCard) -> None:
        self.source = source
        self.folder = folder
        self.card = card

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.source)!r}, {self.card.name!r})"

    @property
    def scorer(self) -> str:
        """DeepLabCut's scorer name the outputs are named with."""
        return self.card.scorer

    @property
    def bodyparts(self) -> tuple[str, ...]:
        """The keypoints in output order."""
        return self.card.bodyparts

    def pose_cfg(self) -> dict[str, Any]:
        """Return the model's ``pose_cfg.yaml``."""
        import yaml

        return yaml.safe_load((self.folder / "pose_cfg.yaml").read_text()) or {}

    def load_keras(self):
        """Load the network (Keras safe mode: no code is run from the file).

        Returns
        -------
        posekit.engine.models.pose_model.PoseModel
        """
        from ._tf import keras
        from .models.pose_model import PoseModel

        try:
            model = keras.saving.load_model(
                self.folder / "model.keras", compile=False, safe_mode=True
            )
        except (TypeError, ValueError, KeyError, OSError) as exc:
            raise ModelFileError(
                f"{self.source}: model.keras cannot be loaded as a posekit network "
                f"({str(exc).splitlines()[0][:200]}): the file was edited or damaged. "
                "Export it again from the project."
            ) from exc
        if not isinstance(model, PoseModel):
            raise ModelFileError(f"{self.source}: model.keras is not a PoseModel")
        return model

    def _decoder_params(self) -> tuple[float, float, float]:
        section = (self.pose_cfg().get("posekit") or {}).get("model") or {}
        from .models.pose_config import PoseModelConfig  # no TensorFlow (QA s24)

        cfg = PoseModelConfig.from_dict(section)
        return float(cfg.head_stride), float(cfg.locref_stdev), float(cfg.input_scale)

    def tflite_model(
        self,
        frame_shape: tuple[int, int],
        batch_size: int = 1,
        precision: str = "auto",
        on_stage: Callable[[str], None] | None = None,
    ) -> TFLiteModel:
        """Return the TFLite model for a frame size.

        At the card's input size and batch 1, the files in the model file are used:
        int8 for ``"auto"`` when the card chose it (it agreed with float on the
        authors' labelled frames), else float32. Other sizes are converted to
        float32 from the Keras model once and cached in :attr:`folder`.

        Parameters
        ----------
        frame_shape
            ``(height, width)`` the network sees.
        batch_size
            Frames per call.
        precision
            ``"auto"``, ``"float32"`` or ``"int8"``.
        on_stage
            Called with ``"converting"`` before a conversion.

        Returns
        -------
        TFLiteModel

        Raises
        ------
        ValueError
            ``"int8"`` at another size than the card's, or without an int8 file
            (int8 needs the authors' labelled frames to calibrate).
        """
        from .model_folder import TFLiteModel
        from .quantization import check_precision

        check_precision(precision)
        h, w = int(frame_shape[0]), int(frame_shape[1])
        stride, locref, input_scale = self._decoder_params()
        native = (h, w) == tuple(self.card.input_size) and int(batch_size) == 1
        has_int8 = (self.folder / "int8.tflite").is_file()
        want_int8 = precision == "int8" or (
            precision == "auto" and self.card.int8_chosen
        )
        if want_int8 and native and has_int8:
            path, chosen = self.folder / "int8.tflite", "int8"
        elif precision == "int8":
            raise ValueError(
                f"The int8 model of {self.source.name} takes {self.card.input_size[1]}"
                f"×{self.card.input_size[0]} frames one at a time (it was calibrated "
                "on the authors' frames); use precision='float32' or 'auto' for "
                f"{w}×{h} frames or batches."
            )
        elif native:
            path, chosen = self.folder / "float32.tflite", "float32"
        else:
            from .inference import convert_to_tflite
            from .models.pose_model import rebuild_for_input_shape

            path, chosen = (
                self.folder / f"float32-{h}x{w}-b{batch_size}.tflite",
                ("float32"),
            )
            if not path.is_file():
                if on_stage is not None:
                    on_stage("converting")
                net = rebuild_for_input_shape(self.load_keras(), (h, w, 3))
                convert_to_tflite(net, path, input_shape=(batch_size, h, w, 3))
        return TFLiteModel(
            path=path,
            batch_size=int(batch_size),
            stride=stride,
            locref_stdev=locref,
            input_scale=input_scale,
            precision=chosen,
        )

    def predictor(
        self,
        frame_shape: tuple[int, int] | None = None,
        batch_size: int = 1,
        precision: str = "auto",
        *,
        num_threads: int | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> Predictor:
        """Return a predictor: TFLite for one frame size, Keras for any size.

        Parameters
        ----------
        frame_shape
            ``(height, width)``; ``None``: the Keras model, frames of any size.
        batch_size, precision, on_stage
            As for :meth:`tflite_model`.
        num_threads
            LiteRT threads.

        Returns
        -------
        Predictor
        """
        if frame_shape is None:
            from .inference import KerasPredictor

            return KerasPredictor(self.load_keras(), batch_size=batch_size)
        return self.tflite_model(
            frame_shape, batch_size, precision, on_stage=on_stage
        ).predictor(num_threads)


def _check_agreement(path: Path, card: ModelCard, members: dict[str, bytes]) -> None:
    """Refuse a file whose card and ``pose_cfg.yaml`` name different bodyparts."""
    import yaml

    try:
        cfg = yaml.safe_load(members["pose_cfg.yaml"]) or {}
        joints = [str(b) for b in cfg.get("all_joints_names") or []]
    except (yaml.YAMLError, AttributeError, TypeError) as exc:
        raise ModelFileError(f"{path}: pose_cfg.yaml cannot be read ({exc})") from exc
    if joints and joints != list(card.bodyparts):
        raise ModelFileError(
            f"{path}: the model card names the bodyparts {list(card.bodyparts)} but "
            f"the network was trained for {joints}: the file was edited or damaged. "
            "Export it again from the project."
        )


def load_model_file(
    path: str | os.PathLike, *, folder: str | os.PathLike | None = None
) -> ExportedModel:
    """Check a ``.posekit.zip`` and unpack it; see the module docs for the checks.

    Parameters
    ----------
    path
        The model file, or a folder holding its files (unzipped): checked as the
        file is.
    folder
        Where to unpack it (default: ``$POSEKIT_CACHE/models/<checksum>`` or
        ``~/.cache/posekit/models/<checksum>``; a file already unpacked there is
        reused after its checksums are compared again).

    Returns
    -------
    ExportedModel

    Raises
    ------
    FileNotFoundError
        No such file (or a folder that is not an unzipped model file).
    ModelFileError
        The file fails a check (the message says which).
    """
    path = Path(path)
    if _is_unpacked(path):  # the files of a .posekit.zip, unzipped
        members = _read_folder_members(path)
    elif path.is_dir():
        raise FileNotFoundError(
            f"{path} is a folder, not a model file: give a {MODEL_FILE_SUFFIX} "
            "(posekit export-model writes one) or the folder it was unzipped into "
            "(with MANIFEST.json and model_card.json). A project's network runs from "
            "its project: posekit analyze PROJECT VIDEO."
        )
    elif not path.is_file():
        raise FileNotFoundError(f"No model file {path}")
    else:
        members = _read_members(path)
    card = ModelCard.from_dict(json.loads(members["model_card.json"]))
    _check_agreement(path, card, members)
    digest = _sha256(b"".join(_sha256(members[n]).encode() for n in sorted(members)))
    target = Path(folder) if folder else _cache_root() / digest[:24]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"cannot unpack {path.name} into {target} ({exc.strerror}): posekit "
            "unpacks model files into a cache folder; point POSEKIT_CACHE at a "
            "folder you can write to."
        ) from exc
    for name, data in members.items():
        dest = target / name  # a checked plain name: stays inside target
        if not (dest.is_file() and _sha256(dest.read_bytes()) == _sha256(data)):
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
    return ExportedModel(path, target, card)


# --------------------------------------------------------------------------------------
# Analysing videos without a project
# --------------------------------------------------------------------------------------


def analyze_with_model(
    model: ExportedModel | str | os.PathLike,
    videos: Sequence[str | os.PathLike],
    *,
    destfolder: str | os.PathLike | None = None,
    save_as_csv: bool = False,
    batch_size: int | None = None,
    scale: float = 1.0,
    precision: str = "auto",
    netcdf: bool = False,
    progress: bool | Callable[[int, int], None] = True,
    on_stage: Callable[[str], None] | None = None,
    client: Any = None,
    shard: tuple[int, int] | str | None = None,
    chunk_frames: int | None = None,
    overwrite: bool = False,
    stop_event: threading.Event | None = None,
    use_tflite: bool = True,
    videotype: str | Sequence[str] | None = None,
) -> AnalysisOutputs:
    """Analyse videos with a shared model file: no project, no labels.

    The outputs are those of :func:`posekit.engine.api.analyze_videos` (DeepLabCut's
    ``.h5`` named with the model's scorer, ``_meta.pickle``), beside each video or
    in ``destfolder``, with its batch checks
    (:func:`~posekit.engine.inference.plan_analysis`): videos this model analysed
    before (at the precision asked for) are skipped, unreadable ones left out, and
    two videos that would write one file refused.

    Parameters
    ----------
    model
        An :class:`ExportedModel` or a ``.posekit.zip`` (checked and unpacked).
    videos
        The videos, or folders of videos (listed as a project's are:
        :func:`~posekit.engine.project.list_videos`).
    destfolder, save_as_csv, scale, netcdf, progress
        As for ``analyze_videos``.
    batch_size
        Default: 1 at the card's input size (the int8 file's size), else by frame
        size (:func:`~posekit.engine.inference.default_batch_size`).
    precision
        ``"auto"`` (the card's choice at its input size, float32 elsewhere),
        ``"float32"`` or ``"int8"`` (TFLite only).
    on_stage
        Called with ``"converting"`` before a conversion.
    client, shard, chunk_frames
        Chunked analysis on Dask or as a job array (as for ``analyze_videos``).
    overwrite
        Analyse again the videos this model has analysed.
    stop_event
        A ``threading.Event`` that stops the analysis when set (as for
        ``analyze_videos``: the frames so far are kept, the same call resumes).
    use_tflite
        Run the TFLite (LiteRT) models (default, faster on CPU); ``False``: the
        Keras model with TensorFlow, float32, in this process (not with
        ``precision="int8"``, nor chunked with ``client`` or ``shard``).
    videotype
        DeepLabCut's ``videotype``: in folders, only videos with this extension
        (``"avi"`` or ``".avi"``, or several; any case), as for ``analyze_videos``.
        When it leaves out every video given, nothing is analysed (nor the model
        loaded): a warning, and each video in ``failed`` with the reason.

    Returns
    -------
    AnalysisOutputs
        The ``.h5`` files (those analysed before included), with ``skipped`` and
        ``failed``.

    Raises
    ------
    ValueError
        ``use_tflite=False`` with ``precision="int8"``, or with ``client`` or
        ``shard``; ``chunk_frames`` without ``client`` or ``shard``.
    posekit.engine.inference.AnalysisStopped
        If ``stop_event`` was set (not an error); its ``outputs`` lists the
        ``.h5`` written or found done before the stop.
    """
    from .api import _check_chunk_frames
    from .inference import (
        AnalysisStopped,
        analyze_video,
        check_stop,
        default_batch_size,
        plan_analysis,
    )
    from .project import list_videos
    from .video import scaled_size

    _check_runtime(use_tflite, precision, client, shard)
    _check_chunk_frames(chunk_frames, client is not None or shard is not None)
    found = list_videos(videos, videotype)  # a folder without such a video fails now
    if not found and videotype is not None:  # DeepLabCut's "No video(s) were found"
        from .api import _left_out_by_videotype, _no_videos_found
        from .inference import AnalysisOutputs

        logger.warning("%s", _no_videos_found(videos, videotype, "nothing is analysed"))
        return AnalysisOutputs(failed=_left_out_by_videotype(videos, videotype))
    if not isinstance(model, ExportedModel):
        model = load_model_file(model)
    meta = dict(model.pose_cfg())
    meta.setdefault("iteration", meta.get("iteration (active-learning)", 0))
    plan = plan_analysis(
        dict.fromkeys(found, destfolder),
        model.scorer,
        overwrite=overwrite,
        precision=precision,
        model=meta,  # another network of the same scorer name: analysed again
    )
    outputs = plan.outputs()
    jobs, predictors = [], {}
    for video in plan.todo:
        check_stop(stop_event, video, outputs)  # a conversion takes minutes
        height, width = plan.sizes[video]
        shape = scaled_size(width, height, scale)[::-1]  # as the frames are resized
        batch = batch_size or (
            1 if shape == tuple(model.card.input_size) else default_batch_size(shape)
        )
        if use_tflite:
            tflite = model.tflite_model(shape, int(batch), precision, on_stage=on_stage)
            key = (shape, int(batch), str(tflite.path))
        else:  # TensorFlow, float32; not chunked (_check_runtime)
            tflite, key = None, (shape, int(batch), "keras")
        if client is not None or shard is not None:
            from .distributed import VideoJob, WorkerModel

            jobs.append(
                VideoJob(
                    video=video,
                    dest=Path(destfolder) if destfolder else video.parent,
                    model=WorkerModel(tflite, "", shape, int(batch)),
                    scorer=model.scorer,
                    bodyparts=model.bodyparts,
                    scale=scale,
                    save_as_csv=save_as_csv,
                    netcdf=netcdf,
                    meta=meta,
                )
            )
            continue
        if key not in predictors:
            predictors[key] = (
                tflite.predictor()
                if tflite is not None
                else model.predictor(None, int(batch))  # Keras: frames of any size
            )
        try:
            out = analyze_video(
                predictors[key],
                video,
                scorer=model.scorer,
                bodyparts=model.bodyparts,
                destfolder=destfolder,
                save_as_csv=save_as_csv,
                scale=scale,
                meta=meta,
                progress=progress,
                netcdf=netcdf,
                stop_event=stop_event,
            )
        except AnalysisStopped as stop:
            raise stop.with_outputs(outputs) from None
        except Exception as err:  # noqa: BLE001 - named at the end; the others go on
            outputs.video_failed(video, err)
            continue
        outputs.written(out, video)
    if jobs:
        from .api import _analyze_chunks

        _analyze_chunks(  # the finished chunks are kept when stopped
            jobs,
            outputs,
            client=client,
            shard=shard,
            chunk_frames=chunk_frames,
            progress=progress,
            stop_event=stop_event,
        )
    return outputs


def _check_runtime(
    use_tflite: bool, precision: str, client: Any, shard: object
) -> None:
    """Refuse what TensorFlow cannot run for :func:`analyze_with_model`."""
    if use_tflite:
        return
    if precision == "int8":
        raise ValueError(
            "precision='int8' runs the model file's int8 TFLite model, and "
            "use_tflite=False (--no-tflite) runs the float32 Keras model with "
            "TensorFlow: choose one (drop --no-tflite, or use --precision float32)."
        )
    if client is not None or shard is not None:
        raise ValueError(
            "A chunked analysis (--cluster or --shard) sends the model file's TFLite "
            "model to its workers; use_tflite=False (--no-tflite) runs the Keras "
            "model in this process only: drop --no-tflite, or --cluster/--shard."
        )


# --------------------------------------------------------------------------------------
# Other runtimes
# --------------------------------------------------------------------------------------


def _network(source) -> Any:
    """Return a PoseModel from a model, an ExportedModel, a snapshot or a folder."""
    from .model_folder import ModelFolder
    from .models.pose_model import PoseModel

    if isinstance(source, PoseModel):
        return source
    if isinstance(source, ExportedModel):
        return source.load_keras()
    path = Path(source)
    if path.name.endswith(MODEL_FILE_SUFFIX):
        return load_model_file(path).load_keras()
    if path.suffix == ".keras":
        return ModelFolder.at(path).load(path)
    return ModelFolder.at(path).load()


def export_savedmodel(source, out: str | os.PathLike) -> Path:
    """Write the network as a TensorFlow SavedModel (any frame size, float32).

    The signature ``serve`` takes ``image``: float32 ``(N, H, W, 3)`` RGB in
    ``[0, 255]`` and returns ``scoremap`` ``(N, h, w, K)`` and ``locref``
    ``(N, h, w, 2K)`` (decode them as posekit does:
    :func:`posekit.engine.models.decoder.decode_pose`).

    Parameters
    ----------
    source
        A ``PoseModel``, :class:`ExportedModel`, ``.posekit.zip``, snapshot
        ``.keras`` or ``train/`` folder.
    out
        The SavedModel folder: new, empty, or a SavedModel written before (then
        replaced).

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        If ``out`` holds other files (they are never deleted), or is a file.
    """
    from ._tf import keras
    from ._tf import tensorflow as tf

    out = Path(out).absolute()
    _check_savedmodel_target(out)
    net = _network(source)
    archive = keras.export.ExportArchive()
    archive.track(net)
    archive.add_endpoint(
        name="serve",
        fn=lambda image: net(image, training=False),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, "image")],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".savedmodel-", dir=out.parent))
    try:
        archive.write_out(str(tmp / "m"), verbose=False)
        if out.exists():  # empty, or an earlier SavedModel: moved aside, then gone
            os.replace(out, tmp / "old")
        os.replace(tmp / "m", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


#: What a TensorFlow SavedModel folder holds (and nothing else).
_SAVEDMODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "fingerprint.pb"}


def _check_savedmodel_target(out: Path) -> None:
    """Refuse a SavedModel target that is a file, or a folder with other files."""
    if out.is_file():
        raise FileExistsError(f"{out} is a file: name a folder for the SavedModel.")
    if not out.is_dir():
        return
    entries = {p.name for p in out.iterdir()}
    if entries and not ("saved_model.pb" in entries and entries <= _SAVEDMODEL_ENTRIES):
        shown = ", ".join(sorted(entries)[:5]) + (" …" if len(entries) > 5 else "")
        raise FileExistsError(
            f"{out} holds other files ({shown}): name a new folder for the "
            "SavedModel (posekit replaces only an earlier SavedModel, and deletes "
            "nothing else)."
        )


def export_onnx(source, out: str | os.PathLike, *, opset: int = 17) -> Path:
    """Write the network as ONNX (any frame size, float32) with ``tf2onnx``.

    Input ``image``: float32 ``(N, H, W, 3)`` RGB in ``[0, 255]``; outputs
    ``scoremap`` and ``locref`` as for :func:`export_savedmodel`.

    Parameters
    ----------
    source
        As for :func:`export_savedmodel`.
    out
        The ``.onnx`` file (written atomically).
    opset
        ONNX opset.

    Returns
    -------
    Path

    Raises
    ------
    ImportError
        ``tf2onnx`` is not installed (``pip install tf2onnx onnxruntime``).
    """
    try:
        import tf2onnx
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs tf2onnx: pip install tf2onnx onnxruntime"
        ) from exc
    from ._tf import tensorflow as tf

    net = _network(source)
    spec = (tf.TensorSpec([None, None, None, 3], tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image):
        outputs = net(image, training=False)
        return {
            "scoremap": tf.identity(outputs["scoremap"], name="scoremap"),
            "locref": tf.identity(outputs["locref"], name="locref"),
        }

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset)
    with atomic_path(out) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return Path(out)


def check_onnx(
    onnx_file: str | os.PathLike,
    source,
    frames: Sequence[np.ndarray],
) -> dict[str, float]:
    """Compare ONNX Runtime's keypoints with posekit's (Keras) on ``frames``.

    Parameters
    ----------
    onnx_file
        Written by :func:`export_onnx`.
    source
        The network it was written from (as for :func:`export_savedmodel`).
    frames
        RGB ``uint8`` frames of one size.

    Returns
    -------
    dict
        ``max_abs_px``: the largest difference of a coordinate;
        ``max_abs_likelihood``; ``frames``.

    Raises
    ------
    ImportError
        ``onnxruntime`` is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(
            "check_onnx needs onnxruntime: pip install onnxruntime"
        ) from exc
    from .inference import KerasPredictor
    from .models.decoder import make_decoder

    net = _network(source)
    cfg = net.pose_config
    batch = np.stack([np.asarray(f) for f in frames]).astype(np.float32)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(None, {"image": batch}), strict=True))
    scmap = next(v for k, v in values.items() if "scoremap" in k)
    locref = next(v for k, v in values.items() if "locref" in k)
    decode = make_decoder(
        stride=cfg.head_stride,
        locref_stdev=cfg.locref_stdev,
        input_scale=cfg.input_scale,
    )
    onnx_xyp = decode(scmap, locref)
    keras_xyp = KerasPredictor(net, batch_size=len(frames))(batch)
    return {
        "max_abs_px": float(np.abs(onnx_xyp[..., :2] - keras_xyp[..., :2]).max()),
        "max_abs_likelihood": float(np.abs(onnx_xyp[..., 2] - keras_xyp[..., 2]).max()),
        "frames": float(len(frames)),
    }
