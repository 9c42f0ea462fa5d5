"""Analysis panel: the kernel never imports TensorFlow (LiteRT only).

On Binder (2 GB a user) the Analyze app's kernel grew from 210 MB to 1342 MB at an
analysis and kept 1180 MB: TensorFlow, imported to start up, read the snapshot's
configuration and convert the network, is never freed. Even with every conversion
cached it went to 873 MB. The conversion now runs in a short-lived process of its
own (:mod:`posekit.engine.tflite_convert`), and the kernel analyses on LiteRT.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from posekit.engine.api import analyze_videos, train_network
from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project
from posekit.engine.models import registry
from posekit.widgets.analysis_panel import AnalysisModel

#: Run in a fresh interpreter: an import of TensorFlow or Keras raises (with where it
#: came from in the server's log) and the analysis fails; the messages, the state, the
#: error and whether TensorFlow got loaded are printed as JSON, after the analysis and
#: after a second one of the same video (with its .h5 removed) and a third (kept).
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    class NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras"):
                raise ImportError(f"the kernel imported {name}")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    from posekit.widgets.analysis_panel import AnalysisModel

    m = AnalysisModel(sys.argv[1])
    runs = []
    for remove in (False, True, False):
        if remove:
            for p in m.outputs:
                Path(p).unlink()
        messages = []
        m.observe(lambda ch: messages.append(ch["new"]), "message")
        m.analyze(wait=True)
        m.unobserve_all("message")
        runs.append({
            "state": m.state,
            "error": m.error,
            "messages": messages,
            "outputs": [str(p) for p in m.outputs],
            "tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules,
        })
    print("RESULT " + json.dumps(runs))
    """
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Make and train a tiny demo project (one 40-frame video), no conversion yet."""
    p = make_demo_project(
        tmp_path_factory.mktemp("notf"), n_frames=40, n_labeled=12, n_videos=1
    )
    create_training_dataset(p)
    train_network(
        p, backbone="mobilenet_v2_0.35", max_iterations=8, batch_size=2, weights=None
    )
    return p


def _run_panel(project_path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(project_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
def test_the_kernel_analyses_without_tensorflow_as_analyze_videos_does(
    trained, tmp_path
) -> None:
    # the same trained project, analysed in this process (conversion included)
    copy = shutil.copytree(trained.path, tmp_path / trained.path.name)
    [expected] = analyze_videos(copy, progress=False)
    first, again, done = _run_panel(trained.path)
    # first analysis: converted in a process of its own, analysed here on LiteRT
    assert first["state"] == "done", first["error"]
    assert not first["tensorflow"]
    # the panel says so while the child converts (the engine's "converting" stage)
    assert (
        "video 1 of 1: preparing the fast runtime (TFLite, once per snapshot and "
        "frame size)…"
    ) in first["messages"]
    (out,) = first["outputs"]
    train = trained.model_dir(1) / "train"
    assert (train / "snapshot-8-240x320-b8-u8.tflite").is_file()
    assert (train / "snapshot-8-240x320-b8-int8.json").is_file()  # (auto precision)
    got, want = pd.read_hdf(out), pd.read_hdf(expected)
    assert out.endswith(expected.name)
    assert got.columns.equals(want.columns) and got.shape == want.shape
    assert len(got) == 40
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-4)
    # analysed again with the conversion cached: no child process, the same result
    assert again["state"] == "done", again["error"]
    assert not again["tensorflow"]
    assert not any("fast runtime" in m for m in again["messages"])
    np.testing.assert_allclose(pd.read_hdf(out).to_numpy(), want.to_numpy(), atol=1e-4)
    # and with nothing to do (the .h5 exists)
    assert done["state"] == "done" and not done["tensorflow"]


@pytest.mark.slow
def test_an_error_of_the_conversion_process_is_shown_with_its_message(
    trained, tmp_path
) -> None:
    copy = shutil.copytree(trained.path, tmp_path / trained.path.name)
    snapshot = copy / trained.model_dir(1).relative_to(trained.path) / "train"
    for done in [*snapshot.glob("*.tflite"), *(copy / "videos").glob("*DLC_*.h5")]:
        done.unlink()  # (from the test above)
    (snapshot / "snapshot-8.keras").write_bytes(b"not a Keras file")
    m = AnalysisModel(copy)
    m.analyze(wait=True)
    assert m.state == "error"
    # the child's own message (bad input: shown as it is, the file named)
    assert m.error.startswith("Cannot load pose model"), m.error
    assert "snapshot-8.keras" in m.error and "truncated or corrupt" in m.error
    assert m.outputs == []
    assert not list(snapshot.glob("*.tflite"))


def test_backbone_short_names_are_known_without_importing_the_backbones() -> None:
    """The output file names (DLC's scorer) are named without TensorFlow."""
    assert set(registry.BACKBONE_NETNAMES) == set(registry.BACKBONE_NAMES)
    for name in registry.list_backbones():
        assert registry.dlc_netname(name) == registry.get_backbone(name).dlc_netname


def test_a_conversion_process_that_dies_is_reported_with_its_last_lines() -> None:
    from posekit.engine.tflite_convert import (
        ERROR_PREFIX,
        TFLiteConversionError,
        _raise_child_error,
    )

    with pytest.raises(
        TFLiteConversionError, match=r"(?s)code -9 .*lines:\nloading\nconverting$"
    ):
        _raise_child_error("loading\nconverting", -9)
    line = ERROR_PREFIX + json.dumps(
        {"type": "KeyError", "message": "'x'", "bad_input": False}
    )
    with pytest.raises(TFLiteConversionError, match="its own process: KeyError: 'x'"):
        _raise_child_error(f"noise\n{line}\n", 1)


@pytest.mark.slow
def test_stop_during_the_conversion_ends_its_process(trained, tmp_path) -> None:
    import threading

    copy = shutil.copytree(trained.path, tmp_path / trained.path.name)
    train = copy / trained.model_dir(1).relative_to(trained.path) / "train"
    for done in [*train.glob("*.tflite"), *(copy / "videos").glob("*DLC_*.h5")]:
        done.unlink()  # (from the tests above)
    m = AnalysisModel(copy)
    converting = threading.Event()
    m.observe(
        lambda ch: converting.set() if "fast runtime" in ch["new"] else None,
        "message",
    )
    m.analyze()
    assert converting.wait(60), m.message
    assert m.stop()
    assert m.join(60)
    assert m.state == "stopped", m.error
    assert m.message == (
        "stopped before session1.mp4 was analysed; Analyze videos starts it"
    )
    assert not list(train.glob("*.tflite")) and not list(train.glob(".*"))
    assert m.outputs == []
