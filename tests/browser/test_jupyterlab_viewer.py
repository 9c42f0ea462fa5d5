"""The trajectory viewer fits a JupyterLab notebook column (QA s18 JupyterLab #9).

In a module of its own, so that it gets a JupyterLab server of its own (the
module-scoped fixtures of ``test_jupyterlab_labeler``): after the labeller test, in
the same server, its notebook never rendered within the timeout on CI.
"""

from __future__ import annotations

import time

import nbformat
import numpy as np
import pytest
from test_jupyterlab_labeler import JS_KERNEL_IDLE, lab, lab_root  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JS_VIEWER_FIT = """() => {
  const el = document.querySelector('.posekit-viewer');
  const out = el.closest('.jp-OutputArea-output').getBoundingClientRect();
  const v = Bokeh.index.roots.find((r) => el.contains(r.el));
  const rights = v.child_views.map((c) => c.el.getBoundingClientRect().right);
  return {scroll: el.scrollWidth, client: el.clientWidth, out: out.right,
          right: Math.max(...rights)};
}"""


def test_trajectory_viewer_fits_the_notebook(lab, page, lab_root):  # noqa: F811
    """QA s18 #9: at 1400 px the viewer's time series were cut off on the right."""
    from posekit.engine.demo import load_ground_truth
    from posekit.engine.io.dlc import predictions_frame, write_predictions

    root, project = lab_root
    truth, _ = load_ground_truth(project)
    xyp = np.concatenate([truth, np.full((*truth.shape[:2], 1), 0.95)], axis=-1)
    h5 = project.path / "videos" / "session1DLC_resnet50_demoJan1shuffle1_100.h5"
    write_predictions(predictions_frame(xyp, "DLC_x", project.bodyparts), h5)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from posekit.widgets.trajectory_viewer import TrajectoryViewer\n"
            f"TrajectoryViewer({str(h5)!r}, {str(project.path)!r}).widget"
        )
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "viewer.ipynb")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(
        lab.url_for("lab/tree/viewer.ipynb"),
        wait_until="domcontentloaded",
        timeout=300_000,
    )
    page.wait_for_function(JS_KERNEL_IDLE, timeout=300_000, polling=250)
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    # (300 s: on a loaded 2-core CI machine the kernel start and first render took
    # over 120 s once; 17 s on a quiet one)
    page.wait_for_function(
        "() => { const el = document.querySelector('.posekit-viewer');"
        " return !!(el && window.Bokeh && Bokeh.index.roots.some("
        "(r) => el.contains(r.el) && r.child_views.length === 2)); }",
        timeout=300_000,
    )
    time.sleep(1.0)  # layout settles
    fit = page.evaluate(JS_VIEWER_FIT)
    assert fit["scroll"] <= fit["client"] + 1, fit  # nothing to scroll to
    assert fit["right"] <= fit["out"] + 1, fit  # every plot inside the output
