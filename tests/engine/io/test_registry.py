"""The loader/saver registry behind ``load_poses`` and ``save_poses``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import posekit.engine.io as pio
from posekit.engine.io import (
    list_formats,
    load_poses,
    register_loader,
    register_saver,
    save_poses,
)
from posekit.engine.io.dlc import predictions_frame, write_predictions
from posekit.engine.poses import from_numpy


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register formats without leaking them into other tests."""
    pio._ensure_registered()
    monkeypatch.setattr(pio, "_LOADERS", dict(pio._LOADERS))
    monkeypatch.setattr(pio, "_SAVERS", dict(pio._SAVERS))


def _toy_loader(
    path: Path, *, fps: float | None = None, offset: float = 0.0
) -> xr.Dataset:
    values = np.array([float(v) for v in path.read_text().split()[1:]])
    return from_numpy(
        values.reshape(-1, 2, 1, 1) + offset, fps=fps, source_software="toy"
    )


def test_deeplabcut_is_registered() -> None:
    formats = list_formats()
    assert "DeepLabCut" in formats["load"]
    assert "DeepLabCut" in formats["save"]


def test_sniffing_picks_the_dlc_loader(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    xyp = rng.uniform(0, 1, (5, 2, 3))
    h5 = write_predictions(
        predictions_frame(xyp, "DLC_a", ["p", "q"]),
        tmp_path / "vDLC_a.h5",
        save_csv=True,
    )
    for path in (h5, h5.with_suffix(".csv")):
        ds = load_poses(path, fps=10.0)
        assert ds.attrs["source_software"] == "DeepLabCut"
        assert ds.attrs["source_file"] == str(path)
        assert ds.attrs["fps"] == 10.0
        np.testing.assert_allclose(
            ds.confidence.values[..., 0], xyp[..., 2], rtol=1e-12
        )


def test_h5_under_tracks_key_is_recognised(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    df = predictions_frame(
        rng.uniform(0, 1, (3, 2, 1, 3)), "DLC_a", ["p"], individuals=["i1", "i2"]
    )
    path = write_predictions(df, tmp_path / "vDLC_a_el.h5", key="tracks")
    ds = load_poses(path)
    assert list(ds.individual.values) == ["i1", "i2"]


def test_custom_loader_by_sniffing_and_by_name(
    tmp_path: Path, clean_registry: None
) -> None:
    @register_loader("Toy", sniff=lambda p: p.suffix == ".toy")
    def load_toy(path, *, fps=None, **kw):
        return _toy_loader(path, fps=fps, **kw)

    path = tmp_path / "a.toy"
    path.write_text("TOY 1 2 3 4")
    ds = load_poses(path)
    assert ds.attrs["source_software"] == "toy"
    assert ds.position.values.ravel().tolist() == [1.0, 2.0, 3.0, 4.0]
    # forced by name, extra keyword arguments reach the loader
    other = tmp_path / "b.txt"
    other.write_text("TOY 5 6")
    ds = load_poses(other, source_software="Toy", offset=10.0, fps=5.0)
    assert ds.position.values.ravel().tolist() == [15.0, 16.0]
    assert ds.attrs["time_unit"] == "seconds"
    assert "Toy" in list_formats()["load"]


def test_custom_saver(tmp_path: Path, clean_registry: None) -> None:
    @register_saver("Npy")
    def save_npy(ds, path, *, scale=1.0):
        np.save(path, ds.position.values * scale)
        return path

    ds = from_numpy(np.ones((2, 2, 1, 1)))
    out = save_poses(ds, tmp_path / "p.npy", fmt="Npy", scale=3.0)
    assert out == tmp_path / "p.npy"
    assert np.load(out).ravel().tolist() == [3.0] * 4


def test_dlc_saver_through_registry(tmp_path: Path, rng: np.random.Generator) -> None:
    ds = from_numpy(rng.uniform(0, 9, (4, 2, 2, 1)), rng.uniform(0, 1, (4, 2, 1)))
    out = save_poses(ds, tmp_path / "vidDLC_net.h5", fmt="DeepLabCut")
    df = pd.read_hdf(out)
    assert df.shape == (4, 6)
    np.testing.assert_array_equal(load_poses(out).position.values, ds.position.values)


def test_unknown_file_says_how_to_force_a_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(
        ValueError, match=r"Could not recognise the format.*format=.*source_software="
    ):
        load_poses(path)
    csv = tmp_path / "other.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="Could not recognise"):
        load_poses(csv)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="Could not recognise"):
        load_poses(broken)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No tracking file"):
        load_poses(tmp_path / "missing.h5")
    path = tmp_path / "f.h5"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="Unknown source_software 'Nope'.*DeepLabCut"):
        load_poses(path, source_software="Nope")
    ds = from_numpy(np.zeros((1, 2, 1, 1)))
    with pytest.raises(ValueError, match="Unknown format 'Nope'; can save"):
        save_poses(ds, tmp_path / "x", fmt="Nope")


def test_format_names_match_without_case(tmp_path: Path) -> None:
    """QA s20: ``posekit convert --to sleap-analysis`` was refused (SLEAP-analysis)."""
    ds = from_numpy(np.arange(8.0).reshape(2, 2, 2, 1) + 1.0)
    out = save_poses(ds, tmp_path / "a.nc", fmt="netcdf")
    back = load_poses(out, source_software="NETCDF")
    np.testing.assert_allclose(back["position"].values, ds["position"].values)
