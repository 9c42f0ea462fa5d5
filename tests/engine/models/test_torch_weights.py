"""Tests for the torch-free, code-free ``.pth`` reader and the strict state-dict mapping."""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

from posekit.engine.models.pretrained import lite0_imagenet_weights_path
from posekit.engine.models.torch_weights import (
    StateDictMismatchError,
    TensorSpec,
    UnsafeWeightsError,
    assign_state_dict,
    load_torch_state_dict,
    torch_to_keras_layout,
)

TORCH_INSTALLED = importlib.util.find_spec("torch") is not None


# --------------------------------------------------------------------------------------
# The shipped ImageNet file
# --------------------------------------------------------------------------------------


def test_shipped_lite0_file_loads_without_torch():
    # A fresh interpreter proves torch is never imported (and need not be installed).
    code = (
        "import sys\n"
        "from posekit.engine.models.pretrained import lite0_imagenet_weights_path\n"
        "from posekit.engine.models.torch_weights import load_torch_state_dict\n"
        "sd = load_torch_state_dict(lite0_imagenet_weights_path())\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(len(sd))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "296"


def test_shipped_lite0_file_contents():
    state = load_torch_state_dict(lite0_imagenet_weights_path())
    assert len(state) == 296
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    assert len(counters) == 49  # one per BatchNorm
    assert all(state[k].dtype == np.int64 and state[k].shape == () for k in counters)
    weights = {k: v for k, v in state.items() if k not in counters}
    assert all(v.dtype == np.float32 for v in weights.values())
    assert sum(v.size for v in weights.values()) == 4_694_024
    assert list(state)[:2] == ["_conv_stem.weight", "_bn0.weight"]
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    # Values as torch.load reads them (benchmarks/lite0_port_check.py compares all).
    np.testing.assert_allclose(
        state["_conv_stem.weight"][0, 0, 0], [-1.1103361, -1.3087704, -0.01015691], 1e-6
    )
    np.testing.assert_allclose(
        state["_fc.bias"][:3], [0.03205391, -0.01598576, 0.00529074], 1e-6
    )
    np.testing.assert_allclose(state["_fc.weight"].sum(dtype=np.float64), -470.632567)


# --------------------------------------------------------------------------------------
# Round trips through files written like torch.save
# --------------------------------------------------------------------------------------


@pytest.fixture
def small_state(rng) -> dict[str, np.ndarray]:
    return {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "bn.running_var": rng.uniform(0.5, 2, size=4).astype(np.float32),
        "bn.num_batches_tracked": np.array(17, dtype=np.int64),
        "fc.weight": rng.normal(size=(2, 4)).astype(np.float64),
        "mask": np.array([0, 1, 255], dtype=np.uint8),
    }


@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_round_trip(tmp_path, small_state, legacy_pth, zip_pth, container):
    write = legacy_pth if container == "legacy" else zip_pth
    path = write(tmp_path / "w.pth", small_state)
    loaded = load_torch_state_dict(path)
    assert list(loaded) == list(small_state)
    for name, array in small_state.items():
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)


def test_strided_views_are_materialized(tmp_path, legacy_pth, strided_view):
    # Two tensors sharing one storage: a transposed view and an offset slice.
    flat = np.arange(12, dtype=np.float32)
    state = {
        "t": strided_view(flat, (4, 3), (1, 4)),  # a (3, 4) matrix, transposed
        "row": strided_view(flat, (4,), (1,), offset=8),
    }
    loaded = load_torch_state_dict(legacy_pth(tmp_path / "views.pth", state))
    np.testing.assert_array_equal(loaded["t"], flat.reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["row"], [8, 9, 10, 11])


def test_view_past_its_storage_is_refused(tmp_path, legacy_pth, strided_view):
    flat = np.arange(4, dtype=np.float32)
    path = legacy_pth(tmp_path / "v.pth", {"t": strided_view(flat, (3,), (2,))})
    with pytest.raises(ValueError, match="runs past storage"):
        load_torch_state_dict(path)


def test_truncated_file_is_refused(tmp_path, small_state, legacy_pth):
    path = legacy_pth(tmp_path / "w.pth", small_state)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated"):
        load_torch_state_dict(path)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "x.pth"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch file"):
        load_torch_state_dict(path)
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(ValueError, match="magic number"):
        load_torch_state_dict(path)


# --------------------------------------------------------------------------------------
# Tampered files: nothing runs, UnsafeWeightsError names what was refused
# --------------------------------------------------------------------------------------


class _RunShell:
    """Pickles as a call of ``os.system(command)``, the classic pickle exploit."""

    def __init__(self, command: str, func=os.system) -> None:
        self.command, self.func = command, func

    def __reduce__(self):
        return self.func, (self.command,)


def _payloads(command: str, pickle_with_globals, torch_like) -> dict[str, bytes]:
    cmd = command.encode()
    return {
        # REDUCE of os.system inside an otherwise valid state dict (GLOBAL opcode;
        # pickle spells it posix.system on Linux).
        "reduce_global": pickle_with_globals(
            OrderedDict(w=[0.0], x=_RunShell(command))
        ),
        # The same global spelled "os system".
        "os_global": pickle_with_globals(
            OrderedDict(x=_RunShell(command, torch_like("os", "system")))
        ),
        # Protocol 4: the global comes from STACK_GLOBAL, invisible to a static scan.
        "stack_global": pickle.dumps(OrderedDict(x=_RunShell(command)), protocol=4),
        # INST: calls os.system from the stream without any REDUCE opcode.
        "inst_opcode": b"\x80\x02(X"
        + len(cmd).to_bytes(4, "little")
        + cmd
        + b"ios\nsystem\n.",
        # BUILD on a storage stand-in would change it for every later load.
        "build_on_stand_in": b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00"
        b"dtypeK\x01sb.",
    }


_EXPECTED_IN_MESSAGE = {
    "reduce_global": f"{os.system.__module__}.system",
    "os_global": "os.system",
    "stack_global": f"{os.system.__module__}.system",
    "inst_opcode": "opcode INST",
    "build_on_stand_in": "Refused pickle BUILD on a _StorageType",
}


@pytest.mark.parametrize("kind", list(_EXPECTED_IN_MESSAGE))
@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_tampered_file_is_refused_and_nothing_runs(
    tmp_path, legacy_pth, zip_pth, pickle_with_globals, torch_like, kind, container
):
    marker, live = tmp_path / "pwned", tmp_path / "alive"  # same length
    payload = _payloads(f"touch {marker}", pickle_with_globals, torch_like)[kind]
    if kind in ("reduce_global", "stack_global", "inst_opcode"):
        # The payload is live: a plain pickle.loads runs the command.
        pickle.loads(payload.replace(bytes(marker), bytes(live)))
        assert live.exists()
    write = legacy_pth if container == "legacy" else zip_pth
    path = write(tmp_path / "evil.pth", {}, payload=payload)

    with pytest.raises(UnsafeWeightsError) as info:
        load_torch_state_dict(path)
    assert not marker.exists()
    assert _EXPECTED_IN_MESSAGE[kind] in str(info.value)
    assert isinstance(info.value, ValueError)
    # The reader still works afterwards: nothing global was modified.
    assert len(load_torch_state_dict(lite0_imagenet_weights_path())) == 296


def test_unexpected_global_in_header_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_RunShell(f"touch {marker}"), protocol=2))
    with pytest.raises(UnsafeWeightsError, match="system"):
        load_torch_state_dict(path)
    assert not marker.exists()


# --------------------------------------------------------------------------------------
# Layout conversion and the strict mapping
# --------------------------------------------------------------------------------------


def test_layout_conversion_index_mapping(rng):
    w = rng.normal(size=(5, 4, 3, 2))
    k = torch_to_keras_layout(w, "conv")
    assert k.shape == (3, 2, 4, 5) and k.dtype == np.float32
    assert k[2, 1, 3, 4] == np.float32(w[4, 3, 2, 1])
    d = rng.normal(size=(6, 1, 5, 3))
    kd = torch_to_keras_layout(d, "depthwise")
    assert kd.shape == (5, 3, 6, 1)
    assert kd[4, 2, 5, 0] == np.float32(d[5, 0, 4, 2])
    lin = rng.normal(size=(7, 3))
    np.testing.assert_array_equal(
        torch_to_keras_layout(lin, "linear"), lin.T.astype(np.float32)
    )
    with pytest.raises(ValueError, match="needs 4 dims"):
        torch_to_keras_layout(lin, "conv")


@pytest.fixture
def tiny_model():
    keras = pytest.importorskip("keras")
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(2, name="fc")(x)
    return keras.Model(inputs, x)


TINY_SPECS = {
    "conv.weight": TensorSpec((4, 3, 3, 3), "conv", "conv", 0),
    "bn.weight": TensorSpec((4,), "vector", "bn", 0),
    "bn.bias": TensorSpec((4,), "vector", "bn", 1),
    "bn.running_mean": TensorSpec((4,), "vector", "bn", 2),
    "bn.running_var": TensorSpec((4,), "vector", "bn", 3),
    "fc.weight": TensorSpec((2, 4), "linear", "fc", 0),
    "fc.bias": TensorSpec((2,), "vector", "fc", 1),
    "later.weight": TensorSpec((3,), "vector", None, 0),  # beyond the cut: skipped
}


@pytest.fixture
def tiny_state(rng):
    return {
        name: rng.normal(size=spec.shape).astype(np.float32)
        for name, spec in TINY_SPECS.items()
    } | {"bn.num_batches_tracked": np.array(3)}


def _optional(name: str) -> bool:
    return name.endswith("num_batches_tracked")


def test_assign_state_dict(tiny_model, tiny_state):
    assigned = assign_state_dict(tiny_model, tiny_state, TINY_SPECS, optional=_optional)
    assert sorted(assigned) == sorted(n for n, s in TINY_SPECS.items() if s.layer)
    kernel = tiny_model.get_layer("conv").get_weights()[0]
    np.testing.assert_array_equal(
        kernel, tiny_state["conv.weight"].transpose(2, 3, 1, 0)
    )
    gamma, beta, mean, var = tiny_model.get_layer("bn").get_weights()
    np.testing.assert_array_equal(var, tiny_state["bn.running_var"])
    np.testing.assert_array_equal(mean, tiny_state["bn.running_mean"])
    fc_kernel, fc_bias = tiny_model.get_layer("fc").get_weights()
    np.testing.assert_array_equal(fc_kernel, tiny_state["fc.weight"].T)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ("missing", ["bn.running_var"]),
        ("extra", ["head.weight"]),
        ("misshaped", ["conv.weight"]),
        ("all", ["fc.bias", "extra.bias", "bn.weight"]),
    ],
)
def test_assign_state_dict_fails_loudly(tiny_model, tiny_state, change, names):
    before = [w.copy() for w in tiny_model.get_weights()]
    state = dict(tiny_state)
    if change == "missing":
        del state["bn.running_var"]
    elif change == "extra":
        state["head.weight"] = np.zeros(3, np.float32)
    elif change == "misshaped":
        state["conv.weight"] = np.zeros((4, 3, 5, 5), np.float32)
    else:
        del state["fc.bias"]
        state["extra.bias"] = np.zeros(1, np.float32)
        state["bn.weight"] = np.zeros(5, np.float32)
    with pytest.raises(StateDictMismatchError) as info:
        assign_state_dict(tiny_model, state, TINY_SPECS, optional=_optional)
    for name in names:
        assert name in str(info.value)
    if change == "misshaped":
        assert "(4, 3, 5, 5) (expected (4, 3, 3, 3))" in str(info.value)
        assert info.value.mismatched == [("conv.weight", (4, 3, 5, 5), (4, 3, 3, 3))]
    # Nothing was assigned.
    for b, a in zip(before, tiny_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not TORCH_INSTALLED, reason="torch is kept out of the project venv")
def test_matches_torch_load(tmp_path):  # pragma: no cover - runs where torch exists
    import torch

    torch.save({"a": torch.arange(6.0).reshape(2, 3).t()}, tmp_path / "z.pth")
    loaded = load_torch_state_dict(tmp_path / "z.pth")
    np.testing.assert_array_equal(loaded["a"], np.arange(6.0).reshape(2, 3).T)
