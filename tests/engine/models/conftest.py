"""Fixtures for the model tests: write PyTorch ``.pth`` files without torch."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("uint8"): "ByteStorage",
}


class Global:
    r"""Pickled as ``GLOBAL module\nname\n`` without importing ``module``."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: object) -> None:  # pickle wants REDUCE funcs callable
        raise TypeError(f"placeholder for {self.module}.{self.name}")


class _Storage:
    def __init__(self, key: str, flat: np.ndarray) -> None:
        self.key, self.flat = key, flat


class View:
    """A strided view of ``base``'s flat storage (tensors sharing one storage)."""

    def __init__(self, base: np.ndarray, shape, stride, offset: int = 0) -> None:
        self.base, self.shape, self.stride, self.offset = base, shape, stride, offset


class _Tensor:
    def __init__(self, storage: _Storage, shape, stride, offset=0) -> None:
        self.storage, self.shape, self.stride, self.offset = (
            storage,
            shape,
            stride,
            offset,
        )

    def __reduce__(self):
        args = (
            self.storage,
            self.offset,
            self.shape,
            self.stride,
            False,
            OrderedDict(),
        )
        return Global("torch._utils", "_rebuild_tensor_v2"), args


class _TorchLikePickler(pickle._Pickler):  # the pure-Python pickler (overridable)
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, *, legacy: bool) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def _save_fake_global(self, obj: Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[Global] = _save_fake_global

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            storage_type = Global("torch", _STORAGE_NAMES[obj.flat.dtype])
            record = ("storage", storage_type, obj.key, "cpu", obj.flat.size)
            return (*record, None) if self.legacy else record
        return None


def _as_tensors(state_dict: Mapping[str, object]) -> tuple[OrderedDict, list[_Storage]]:
    tensors, storages = OrderedDict(), []
    shared: dict[int, _Storage] = {}
    for i, (name, value) in enumerate(state_dict.items()):
        if isinstance(value, View):
            if id(value.base) not in shared:
                shared[id(value.base)] = _Storage(f"v{i}", value.base.reshape(-1))
                storages.append(shared[id(value.base)])
            storage = shared[id(value.base)]
            tensors[name] = _Tensor(storage, value.shape, value.stride, value.offset)
            continue
        if not isinstance(value, np.ndarray):
            tensors[name] = value  # raw objects (used to build malicious files)
            continue
        array = np.array(value, order="C")  # (ascontiguousarray makes 0-d 1-d)
        storage = _Storage(str(1000 + i), array.reshape(-1))
        stride = tuple(s // array.itemsize for s in array.strides)
        tensors[name] = _Tensor(storage, tuple(array.shape), stride)
        storages.append(storage)
    return tensors, storages


def write_legacy_pth(
    path: Path,
    state_dict: Mapping[str, object],
    *,
    payload: bytes | None = None,
) -> Path:
    """Write ``state_dict`` (name -> array) like legacy ``torch.save``.

    ``payload`` replaces the pickled state dict by raw pickle bytes (tampered files).
    """
    tensors, storages = _as_tensors(state_dict)
    out = io.BytesIO()
    for header in (
        LEGACY_MAGIC_NUMBER,
        1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}},
    ):
        pickle.dump(header, out, protocol=2)
    if payload is None:
        _TorchLikePickler(out, legacy=True).dump(tensors)
    else:
        out.write(payload)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", s.flat.size))
        out.write(s.flat.astype(s.flat.dtype.newbyteorder("<")).tobytes())
    path.write_bytes(out.getvalue())
    return path


def write_zip_pth(
    path: Path, state_dict: Mapping[str, object], *, payload: bytes | None = None
) -> Path:
    """Write ``state_dict`` like ``torch.save`` (zip container, torch >= 1.6)."""
    tensors, storages = _as_tensors(state_dict)
    buf = io.BytesIO()
    if payload is None:
        _TorchLikePickler(buf, legacy=False).dump(tensors)
    else:
        buf.write(payload)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buf.getvalue())
        archive.writestr("archive/byteorder", "little")
        for s in storages:
            archive.writestr(f"archive/data/{s.key}", s.flat.tobytes())
        archive.writestr("archive/version", "3\n")
    return path


@pytest.fixture
def legacy_pth() -> Callable[..., Path]:
    """``write_legacy_pth(path, state_dict, payload=None)``."""
    return write_legacy_pth


@pytest.fixture
def zip_pth() -> Callable[..., Path]:
    """``write_zip_pth(path, state_dict, payload=None)``."""
    return write_zip_pth


@pytest.fixture
def torch_like() -> type[Global]:
    """Return the :class:`Global` marker, to reference a global without importing it."""
    return Global


@pytest.fixture
def strided_view() -> type[View]:
    """``View(base, shape, stride, offset)``: a tensor sharing ``base``'s storage."""
    return View


@pytest.fixture
def pickle_with_globals() -> Callable[[object], bytes]:
    """Pickle an object (protocol 2), writing :class:`Global` markers as globals."""

    def dump(obj: object) -> bytes:
        buf = io.BytesIO()
        _TorchLikePickler(buf, legacy=True).dump(obj)
        return buf.getvalue()

    return dump
