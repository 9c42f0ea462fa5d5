"""posekit.engine: all computation for markerless pose estimation.

The engine never imports widget code (ipywidgets, bokeh); everything here can run
headless on a cluster node.
"""

from __future__ import annotations

import logging

__all__ = ["__version__", "logger"]

__version__ = "0.1.0"

logger = logging.getLogger("posekit")
