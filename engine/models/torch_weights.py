"""Read PyTorch ``.pth`` state dicts without torch and without running pickled code.

A ``.pth`` file is a Python pickle, and unpickling an untrusted pickle can run any code.
:func:`load_torch_state_dict` therefore never calls :func:`pickle.load` on the file's
objects with the standard class lookup: a restricted unpickler resolves only the few
globals that a state dict needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and the ``torch.*Storage`` types, all implemented
here by numpy stand-ins), and every opcode of the pickle is checked against an allow
list *before* anything is unpickled. Anything else raises :class:`UnsafeWeightsError`.

Two containers are read:

- the legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``, the
  default before torch 1.6): five pickles in a row (magic number, protocol version,
  system info, the state dict, the list of storage keys), then each storage as an
  8-byte little-endian element count followed by its raw bytes;
- the zip format (torch >= 1.6): ``<name>/data.pkl`` and one ``<name>/data/<key>`` entry
  of raw bytes per storage.

:func:`assign_state_dict` then copies the arrays into the variables of a Keras model
following a table of :class:`TensorSpec`, converting PyTorch layouts to Keras ones, and
refuses any state dict with a missing, unexpected or mis-shaped tensor.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

__all__ = [
    "UnsafeWeightsError",
    "StateDictMismatchError",
    "TensorSpec",
    "load_torch_state_dict",
    "torch_to_keras_layout",
    "assign_state_dict",
]

logger = logging.getLogger("posekit.engine.models.torch_weights")

#: Magic number at the start of a legacy ``torch.save`` file.
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
#: The only legacy protocol version torch ever wrote.
LEGACY_PROTOCOL_VERSION = 1001


class UnsafeWeightsError(ValueError):
    """A weights file asks the unpickler for something a state dict never needs.

    Raised *before* the offending object is created: nothing from the file has run.
    """


class StateDictMismatchError(ValueError):
    """A state dict does not match the model: missing, unexpected or mis-shaped tensors.

    Attributes
    ----------
    missing
        Names the model needs that the state dict lacks.
    unexpected
        Names in the state dict that the model has no place for.
    mismatched
        ``(name, shape in the file, expected shape)`` for tensors of the wrong shape.
    """

    def __init__(
        self,
        message: str,
        *,
        missing: list[str],
        unexpected: list[str],
        mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected
        self.mismatched = mismatched


# --------------------------------------------------------------------------------------
# Stand-ins for the torch objects a state dict pickle refers to
# --------------------------------------------------------------------------------------


class _StandIn:
    """Base of the stand-ins: no instance ``__dict__``, and BUILD is refused.

    The pickle BUILD opcode calls ``__setstate__`` (or updates ``__dict__``); a file
    could otherwise use it to alter the shared stand-ins for every later load.
    """

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnsafeWeightsError(
            f"Refused pickle BUILD on a {type(self).__name__} (state {state!r:.60}): "
            "PyTorch state dicts never do this."
        )


class _StorageType(_StandIn):
    """Stand-in for a ``torch.<X>Storage`` class: only carries the element dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: np.dtype) -> None:
        self.name = name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


_STORAGE_TYPES: dict[str, _StorageType] = {
    name: _StorageType(name, np.dtype(dtype))
    for name, dtype in {
        "DoubleStorage": "<f8",
        "FloatStorage": "<f4",
        "HalfStorage": "<f2",
        "LongStorage": "<i8",
        "IntStorage": "<i4",
        "ShortStorage": "<i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }.items()
}
# bfloat16 has no numpy dtype: read it as uint16 and widen to float32 afterwards.
_STORAGE_TYPES["BFloat16Storage"] = _StorageType("BFloat16Storage", np.dtype("<u2"))


class _Storage(_StandIn):
    """Stand-in for a torch storage: a flat numpy buffer filled after unpickling."""

    __slots__ = ("storage_type", "key", "numel", "data")

    def __init__(self, storage_type: _StorageType, key: str, numel: int) -> None:
        self.storage_type = storage_type
        self.key = key
        self.numel = numel
        self.data: np.ndarray | None = None


class _TensorRef(_StandIn):
    """A tensor as described by the pickle: a strided view of a storage."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(
        self,
        storage: _Storage,
        offset: int,
        size: tuple[int, ...],
        stride: tuple[int, ...],
    ) -> None:
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def materialize(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise ValueError(
                f"Storage {self.storage.key!r} was referenced but its bytes were never "
                "read: the file is truncated or corrupt."
            )
        itemsize = data.itemsize
        if self.size:
            # Highest flat index the view touches must lie inside the storage.
            last = self.offset + sum(
                (n - 1) * s for n, s in zip(self.size, self.stride, strict=True)
            )
            if min(self.size) > 0 and last >= data.size:
                raise ValueError(
                    f"Tensor view (offset {self.offset}, size {self.size}, stride "
                    f"{self.stride}) runs past storage {self.storage.key!r} of "
                    f"{data.size} elements: the file is corrupt."
                )
        elif self.offset >= data.size:
            raise ValueError(f"Scalar tensor offset {self.offset} is out of range.")
        array = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        array = np.array(array)  # own, contiguous copy
        if self.storage.storage_type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise UnsafeWeightsError(
            f"_rebuild_tensor_v2 got {what}={value!r}; expected a tuple of "
            "non-negative ints."
        )
    return value


class _RebuildTensorV2(_StandIn):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: validates, builds a view."""

    __slots__ = ()

    def __call__(
        self,
        storage: Any,
        storage_offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> _TensorRef:
        return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor(
    storage: Any, storage_offset: Any, size: Any, stride: Any
) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise UnsafeWeightsError(
            "_rebuild_tensor_v2 got a storage that is not a torch storage: "
            f"{type(storage).__name__}."
        )
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise UnsafeWeightsError(
            f"_rebuild_tensor_v2 got storage_offset={storage_offset!r}."
        )
    size = _int_tuple(size, "size")
    stride = _int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise UnsafeWeightsError(
            f"_rebuild_tensor_v2 got size {size} and stride {stride} of different "
            "lengths."
        )
    return _TensorRef(storage, storage_offset, size, stride)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _RebuildTensorV2(),
    }
    for name, storage_type in _STORAGE_TYPES.items():
        allowed[("torch", name)] = storage_type
    return allowed


_ALLOWED_GLOBALS = _allowed_globals()

# Opcodes a state-dict pickle (protocols 2-4) is made of. Notably absent: INST, OBJ,
# NEWOBJ, NEWOBJ_EX (object creation outside REDUCE), EXT1/2/4 (extension registry),
# the protocol-5 buffer opcodes, and the text-mode string opcodes.
_ALLOWED_OPCODES = frozenset(
    {
        "PROTO",
        "FRAME",
        "STOP",
        "MARK",
        "POP",
        "POP_MARK",
        "DUP",
        # scalars and strings
        "NONE",
        "NEWTRUE",
        "NEWFALSE",
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "BINFLOAT",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
        "SHORT_BINSTRING",
        "BINSTRING",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
        # containers
        "EMPTY_TUPLE",
        "TUPLE",
        "TUPLE1",
        "TUPLE2",
        "TUPLE3",
        "EMPTY_LIST",
        "LIST",
        "APPEND",
        "APPENDS",
        "EMPTY_DICT",
        "DICT",
        "SETITEM",
        "SETITEMS",
        # memo
        "PUT",
        "BINPUT",
        "LONG_BINPUT",
        "GET",
        "BINGET",
        "LONG_BINGET",
        "MEMOIZE",
        # globals are resolved by _RestrictedUnpickler.find_class (allow list)
        "GLOBAL",
        "STACK_GLOBAL",
        "REDUCE",
        "BUILD",
        "BINPERSID",
        "PERSID",
    }
)


def _check_opcodes(stream: BinaryIO, what: str) -> None:
    """Walk the next pickle in ``stream`` (without running it) and vet its opcodes."""
    start = stream.tell()
    try:
        for opcode, arg, pos in pickletools.genops(stream):
            if opcode.name not in _ALLOWED_OPCODES:
                raise UnsafeWeightsError(
                    f"Refused to load {what}: pickle opcode {opcode.name} at byte "
                    f"{pos} is not used by PyTorch state dicts. The file may be "
                    "malicious; only load weights from a source you trust."
                )
            if opcode.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                _resolve_global(module, name, what)
    except UnsafeWeightsError:
        raise
    except Exception as exc:  # malformed pickle: pickletools raises ValueError etc.
        raise ValueError(f"{what} is not a valid pickle stream: {exc}") from exc
    stream.seek(start)


def _resolve_global(module: str, name: str, what: str) -> Any:
    try:
        return _ALLOWED_GLOBALS[(module, name)]
    except (KeyError, TypeError):
        allowed = ", ".join(f"{m}.{n}" for m, n in sorted(_ALLOWED_GLOBALS))
        raise UnsafeWeightsError(
            f"Refused to load {what}: its pickle asks for the global "
            f"{module}.{name}, which a PyTorch state dict never needs (allowed: "
            f"{allowed}). The file may be malicious; only load weights from a source "
            "you trust."
        ) from None


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the allow-listed globals; storages by key."""

    def __init__(
        self,
        file: BinaryIO,
        *,
        what: str,
        storages: dict[str, _Storage] | None = None,
        persistent: Literal["legacy", "zip", "none"] = "none",
    ) -> None:
        super().__init__(file)
        self._what = what
        self._storages = storages if storages is not None else {}
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        return _resolve_global(module, name, self._what)

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent == "none":
            raise UnsafeWeightsError(
                f"Refused to load {self._what}: unexpected persistent id {pid!r}."
            )
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise UnsafeWeightsError(
                f"Refused to load {self._what}: persistent id {pid!r} is not a "
                "storage (module-source records and other ids are not supported)."
            )
        expected_len = 6 if self._persistent == "legacy" else 5
        if len(pid) != expected_len:
            raise UnsafeWeightsError(
                f"Refused to load {self._what}: storage record {pid!r} has "
                f"{len(pid)} fields, expected {expected_len}."
            )
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeWeightsError(
                f"Refused to load {self._what}: storage type {storage_type!r}."
            )
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise UnsafeWeightsError(
                f"Refused to load {self._what}: storage record {pid!r}."
            )
        if self._persistent == "legacy" and pid[5] is not None:
            raise ValueError(
                f"{self._what} uses storage views (a pre-1.0 torch feature); re-save "
                "it with a recent torch."
            )
        storage = self._storages.get(key)
        if storage is None:
            storage = _Storage(storage_type, key, numel)
            self._storages[key] = storage
        elif storage.storage_type is not storage_type:
            raise ValueError(
                f"{self._what}: storage {key!r} is referenced with two dtypes."
            )
        return storage


def _load_pickle(
    stream: BinaryIO,
    what: str,
    *,
    storages: dict[str, _Storage] | None = None,
    persistent: Literal["legacy", "zip", "none"] = "none",
) -> Any:
    _check_opcodes(stream, what)
    unpickler = _RestrictedUnpickler(
        stream, what=what, storages=storages, persistent=persistent
    )
    try:
        return unpickler.load()
    except (UnsafeWeightsError, ValueError):
        raise
    except Exception as exc:  # e.g. REDUCE on a non-callable, BUILD on a stand-in
        raise UnsafeWeightsError(
            f"Refused to load {what}: its pickle does something a PyTorch state dict "
            f"never does ({type(exc).__name__}: {exc})."
        ) from exc


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------


def _read_legacy(stream: BinaryIO, what: str) -> Any:
    magic = _load_pickle(stream, what)
    if magic != LEGACY_MAGIC_NUMBER:
        raise ValueError(
            f"{what} is neither a zip nor a legacy PyTorch file (magic number "
            f"{magic!r})."
        )
    version = _load_pickle(stream, what)
    if version != LEGACY_PROTOCOL_VERSION:
        raise ValueError(f"{what}: unsupported legacy protocol version {version!r}.")
    sys_info = _load_pickle(stream, what)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError(
            f"{what} was written on a big-endian machine (sys info {sys_info!r}); "
            "only little-endian files are supported."
        )
    storages: dict[str, _Storage] = {}
    result = _load_pickle(stream, what, storages=storages, persistent="legacy")
    keys = _load_pickle(stream, what)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{what}: the storage key list is malformed ({keys!r:.80}).")
    if set(keys) != set(storages):
        raise ValueError(
            f"{what}: storage keys {sorted(set(keys) ^ set(storages))[:5]} are listed "
            "but never used (or used but not listed)."
        )
    position = stream.tell()
    file_size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    for key in keys:
        storage = storages[key]
        header = stream.read(8)
        if len(header) != 8:
            raise ValueError(f"{what} is truncated: no data for storage {key!r}.")
        (numel,) = struct.unpack("<q", header)
        if numel != storage.numel:
            raise ValueError(
                f"{what}: storage {key!r} holds {numel} elements, the pickle said "
                f"{storage.numel}."
            )
        nbytes = numel * storage.storage_type.dtype.itemsize
        if nbytes > file_size - stream.tell():
            raise ValueError(f"{what} is truncated inside storage {key!r}.")
        raw = stream.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"{what} is truncated inside storage {key!r}.")
        storage.data = np.frombuffer(raw, dtype=storage.storage_type.dtype)
    return result


def _read_zip(stream: BinaryIO, what: str) -> Any:
    with zipfile.ZipFile(stream) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError(
                f"{what}: expected one data.pkl in the archive, got {pkl}."
            )
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = prefix + "byteorder"
        if byteorder in names and archive.read(byteorder).strip() != b"little":
            raise ValueError(f"{what} is big-endian; only little-endian is supported.")
        storages: dict[str, _Storage] = {}
        result = _load_pickle(
            io.BytesIO(archive.read(pkl[0])), what, storages=storages, persistent="zip"
        )
        for key, storage in storages.items():
            entry = f"{prefix}data/{key}"
            try:
                raw = archive.read(entry)
            except KeyError:
                raise ValueError(
                    f"{what}: storage entry {entry!r} is missing."
                ) from None
            nbytes = storage.numel * storage.storage_type.dtype.itemsize
            if len(raw) != nbytes:
                raise ValueError(
                    f"{what}: storage {key!r} has {len(raw)} bytes, expected {nbytes}."
                )
            storage.data = np.frombuffer(raw, dtype=storage.storage_type.dtype)
    return result


def _flatten(obj: Any, what: str) -> dict[str, np.ndarray]:
    # Some checkpoints wrap the weights: {"state_dict": {...}} or {"model": {...}}.
    if isinstance(obj, dict) and not any(
        isinstance(v, _TensorRef) for v in obj.values()
    ):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                return _flatten(obj[wrapper], what)
    if not isinstance(obj, dict):
        raise ValueError(
            f"{what} holds a {type(obj).__name__}, not a state dict (a mapping of "
            "names to tensors)."
        )
    out: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise ValueError(f"{what}: state dict key {name!r} is not a string.")
        if isinstance(value, _TensorRef):
            out[name] = value.materialize()
        else:
            logger.debug("%s: skipping non-tensor entry %r", what, name)
    return out


def load_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch ``.pth`` state dict into numpy arrays, safely and without torch.

    Parameters
    ----------
    path
        A file written by ``torch.save(model.state_dict(), path)``, in the legacy or
        the zip container.

    Returns
    -------
    dict[str, numpy.ndarray]
        Tensor name (``"_blocks.0._bn1.running_mean"``) to array, in file order, in
        PyTorch layout (convolutions ``(out, in, kh, kw)``) and dtype (float32 weights,
        int64 ``num_batches_tracked``).

    Raises
    ------
    UnsafeWeightsError
        The pickle uses an opcode or global that a state dict never needs; nothing from
        the file was executed.
    ValueError
        The file is not a PyTorch file, is truncated, or holds something other than a
        state dict.
    FileNotFoundError
        ``path`` does not exist.

    Examples
    --------
    >>> from posekit.engine.models.pretrained import lite0_imagenet_weights_path
    >>> state = load_torch_state_dict(lite0_imagenet_weights_path())
    >>> state["_conv_stem.weight"].shape
    (32, 3, 3, 3)
    """
    path = Path(path)
    what = f"weights file {str(path)!r}"
    with open(path, "rb") as stream:
        head = stream.read(4)
        stream.seek(0)
        if head == b"PK\x03\x04":
            obj = _read_zip(stream, what)
        elif head[:1] == b"\x80":
            obj = _read_legacy(stream, what)
        else:
            raise ValueError(
                f"{what} is not a PyTorch file (it starts with {head!r}; expected a "
                "zip archive or a pickle)."
            )
    return _flatten(obj, what)


# --------------------------------------------------------------------------------------
# Mapping onto Keras variables
# --------------------------------------------------------------------------------------

Layout = Literal["conv", "depthwise", "linear", "vector"]


@dataclass(frozen=True)
class TensorSpec:
    """Where one PyTorch tensor goes in a Keras model.

    Attributes
    ----------
    shape
        Expected shape in the PyTorch file.
    layout
        ``"conv"`` (``(O, I, kh, kw)`` → ``(kh, kw, I, O)``), ``"depthwise"``
        (``(C, 1, kh, kw)`` → ``(kh, kw, C, 1)``), ``"linear"`` (``(out, in)`` →
        ``(in, out)``) or ``"vector"`` (unchanged).
    layer
        Name of the Keras layer, or ``None`` when the tensor belongs to the
        architecture but not to this (truncated) model: it is checked, then skipped.
    variable
        Index into ``layer.weights`` (for BatchNormalization: 0 gamma, 1 beta,
        2 moving mean, 3 moving variance).
    """

    shape: tuple[int, ...]
    layout: Layout
    layer: str | None
    variable: int = 0


def torch_to_keras_layout(array: np.ndarray, layout: Layout) -> np.ndarray:
    """Convert a PyTorch weight array to the layout Keras uses.

    Parameters
    ----------
    array
        The PyTorch array.
    layout
        See :class:`TensorSpec`.

    Returns
    -------
    numpy.ndarray
        A contiguous float32 array in Keras layout.

    Raises
    ------
    ValueError
        If ``layout`` is unknown or the array has the wrong number of dimensions.

    Examples
    --------
    >>> torch_to_keras_layout(np.zeros((16, 8, 3, 3)), "conv").shape
    (3, 3, 8, 16)
    >>> torch_to_keras_layout(np.zeros((8, 1, 5, 5)), "depthwise").shape
    (5, 5, 8, 1)
    """
    ndim = {"conv": 4, "depthwise": 4, "linear": 2, "vector": 1}
    if layout not in ndim:
        raise ValueError(f"Unknown layout {layout!r}; expected one of {list(ndim)}.")
    if array.ndim != ndim[layout]:
        raise ValueError(
            f"A {layout!r} tensor needs {ndim[layout]} dims, got shape {array.shape}."
        )
    if layout == "conv":
        array = array.transpose(2, 3, 1, 0)
    elif layout == "depthwise":
        array = array.transpose(2, 3, 0, 1)
    elif layout == "linear":
        array = array.T
    return np.ascontiguousarray(array, dtype=np.float32)


def assign_state_dict(
    model: Any,
    state_dict: Mapping[str, np.ndarray],
    specs: Mapping[str, TensorSpec],
    *,
    optional: Collection[str] | Callable[[str], bool] = (),
    source: str = "state dict",
) -> list[str]:
    """Copy a PyTorch state dict into a Keras model, strictly.

    Every name in ``specs`` must be in ``state_dict`` with the expected shape, and every
    name in ``state_dict`` must be in ``specs`` or be ``optional``; otherwise nothing is
    assigned and the error lists *all* offending names.

    Parameters
    ----------
    model
        The Keras model whose layers are named as in ``specs``.
    state_dict
        Output of :func:`load_torch_state_dict`.
    specs
        Tensor name to :class:`TensorSpec`, covering the whole architecture.
    optional
        Names (or a predicate on names) that may be present or absent and are never
        assigned, e.g. ``num_batches_tracked`` counters or an unused classifier.
    source
        How to name the state dict in error messages (usually its path).

    Returns
    -------
    list[str]
        Names that were assigned to the model.

    Raises
    ------
    StateDictMismatchError
        Missing, unexpected or mis-shaped tensors (all are listed).
    ValueError
        A spec names a layer that the model does not have, or a converted tensor does
        not fit the Keras variable.
    """
    is_optional = optional if callable(optional) else set(optional).__contains__
    missing = [name for name in specs if name not in state_dict]
    unexpected = [
        name for name in state_dict if name not in specs and not is_optional(name)
    ]
    mismatched = [
        (name, tuple(state_dict[name].shape), spec.shape)
        for name, spec in specs.items()
        if name in state_dict and tuple(state_dict[name].shape) != spec.shape
    ]
    if missing or unexpected or mismatched:
        parts = [f"The {source} does not match the model."]
        if missing:
            parts.append(f"Missing tensors ({len(missing)}): {', '.join(missing)}.")
        if unexpected:
            parts.append(
                f"Unexpected tensors ({len(unexpected)}): {', '.join(unexpected)}."
            )
        if mismatched:
            shapes = ", ".join(
                f"{name} {got} (expected {want})" for name, got, want in mismatched
            )
            parts.append(f"Mis-shaped tensors ({len(mismatched)}): {shapes}.")
        parts.append(
            "Check that the file holds weights of this architecture (and the same "
            "number of classes, if a classifier is built)."
        )
        raise StateDictMismatchError(
            " ".join(parts),
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
        )

    # Convert everything first; assign only if every tensor fits.
    updates: dict[str, list[np.ndarray]] = {}
    layers: dict[str, Any] = {}
    assigned: list[str] = []
    for name, spec in specs.items():
        if spec.layer is None:
            continue
        if spec.layer not in layers:
            try:
                layers[spec.layer] = model.get_layer(spec.layer)
            except ValueError:
                raise ValueError(
                    f"Tensor {name!r} maps to layer {spec.layer!r}, which the model "
                    "does not have."
                ) from None
            updates[spec.layer] = [
                np.asarray(w) for w in layers[spec.layer].get_weights()
            ]
        values = updates[spec.layer]
        converted = torch_to_keras_layout(state_dict[name], spec.layout)
        if converted.shape != values[spec.variable].shape:
            raise ValueError(
                f"Tensor {name!r} of shape {state_dict[name].shape} becomes "
                f"{converted.shape} in Keras layout, but layer {spec.layer!r} "
                f"variable {spec.variable} has shape {values[spec.variable].shape}."
            )
        values[spec.variable] = converted
        assigned.append(name)
    for layer_name, values in updates.items():
        layers[layer_name].set_weights(values)
    skipped = [n for n, s in specs.items() if s.layer is None]
    if skipped:
        logger.debug(
            "%s: %d tensors belong to layers beyond this model's cut and were skipped",
            source,
            len(skipped),
        )
    return assigned
