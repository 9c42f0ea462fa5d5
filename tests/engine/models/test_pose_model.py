"""PoseModel: typed config, shapes, save/load identity, rebuilding at another size."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

keras = pytest.importorskip("keras")

from posekit.engine.models.pose_model import (  # noqa: E402
    PoseModel,
    PoseModelConfig,
    build_pose_model,
    load_pose_model,
    rebuild_for_input_shape,
    save_pose_model,
)

CONFIG = PoseModelConfig(bodyparts=("snout", "leftear", "rightear"), weights=None)


@pytest.fixture(scope="module")
def model() -> PoseModel:
    keras.utils.set_random_seed(0)
    return build_pose_model(CONFIG, (None, None, 3))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, 64, 96, 3)).astype("float32")


def test_config_round_trip_and_validation() -> None:
    d = CONFIG.to_dict()
    assert d["bodyparts"] == ["snout", "leftear", "rightear"]
    assert yaml.safe_load(yaml.safe_dump(d)) == d  # YAML-safe
    assert PoseModelConfig.from_dict(d) == CONFIG
    assert CONFIG.locref_stdev == 7.2801 and CONFIG.pos_dist_thresh == 17.0
    assert CONFIG.dlc_netname == "mobnet_35"
    with pytest.raises(ValueError, match="unique"):
        PoseModelConfig(bodyparts=("a", "a"))
    with pytest.raises(ValueError, match="head_stride"):
        PoseModelConfig(bodyparts=("a",), head_stride=32, output_stride=16)
    with pytest.raises(ValueError, match="sigma"):
        PoseModelConfig(bodyparts=("a",), sigma=0)
    with pytest.raises(ValueError, match="Unknown PoseModelConfig fields"):
        PoseModelConfig.from_dict({**d, "net_type": "x"})
    with pytest.raises(ValueError, match="Unknown backbone"):
        build_pose_model(CONFIG.replace(backbone="vgg"), (64, 64, 3))


def test_output_shapes_and_strides(model, images) -> None:
    out = model(images)
    assert set(out) == {"scoremap", "locref"}
    assert tuple(out["scoremap"].shape) == (2, 8, 12, 3)  # stride 8
    assert tuple(out["locref"].shape) == (2, 8, 12, 6)
    s = np.asarray(out["scoremap"])
    assert s.min() >= 0 and s.max() <= 1  # sigmoid probabilities
    fine = build_pose_model(CONFIG.replace(head_stride=4), (64, 96, 3))
    assert fine.output_shape == [(None, 16, 24, 6), (None, 16, 24, 3)]


def test_save_load_predicts_identically(model, images, tmp_path) -> None:
    path = save_pose_model(model, tmp_path / "m.keras")
    loaded = load_pose_model(path)
    assert isinstance(loaded, PoseModel)
    assert loaded.pose_config == CONFIG
    a, b = model(images), loaded(images)
    for key in ("scoremap", "locref"):
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))
    assert loaded.get_config() == model.get_config()
    with pytest.raises(ValueError, match=r"\.keras"):
        save_pose_model(model, tmp_path / "m.h5")


def test_truncated_file_is_a_clear_error(model, tmp_path) -> None:
    path = save_pose_model(model, tmp_path / "m.keras")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_pose_model(path)
    with pytest.raises(FileNotFoundError):
        load_pose_model(tmp_path / "missing.keras")


def test_rebuild_for_another_input_size(model, images) -> None:
    fixed = rebuild_for_input_shape(model, (64, 96, 3))
    assert fixed.input_shape == (None, 64, 96, 3)
    a, b = model(images), fixed(images)
    np.testing.assert_allclose(
        np.asarray(a["scoremap"]), np.asarray(b["scoremap"]), atol=1e-6
    )
    big = rebuild_for_input_shape(fixed, (128, 160, 3))
    assert big.output_shape[1] == (None, 16, 20, 3)
    for w1, w2 in zip(model.get_weights(), big.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)


def test_decode_in_graph_matches_numpy(model, images) -> None:
    out = model(images)
    np.testing.assert_allclose(
        model.decode(out), np.asarray(model.decode(out, in_graph=True)), atol=1e-4
    )
    assert model.decode(out).shape == (2, 3, 3)
