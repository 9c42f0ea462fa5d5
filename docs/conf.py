"""Sphinx configuration of the posekit documentation (MyST Markdown + autosummary).

Build: ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The API reference is generated from the docstrings (numpydoc, via napoleon) of the real
modules, imported as installed (``pip install -e .``): nothing is mocked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Importing the engine must not print TensorFlow's C++ banner into the build log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import posekit.engine  # noqa: F401  (installed: pip install -e .)
except ImportError:  # pragma: no cover - building from a bare checkout
    sys.exit("Install posekit first (pip install -e '.[docs]'), then build the docs.")

project = "posekit"
author = "posekit developers"
copyright = "2026, posekit developers"  # noqa: A001
release = version = posekit.engine.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_autodoc_typehints",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]

# --- MyST
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3

# --- autodoc / autosummary / napoleon (numpydoc docstrings, types from the signature)
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False  # document what each module exports
autodoc_mock_imports: list[str] = []
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    # scikit-learn's generated metadata-routing methods and inherited helpers
    "exclude-members": (
        "set_fit_request,set_predict_request,set_predict_proba_request,"
        "set_score_request,set_transform_request,set_partial_fit_request,"
        "set_output,get_metadata_routing"
    ),
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# A method without its own docstring gets none (not Keras's or scikit-learn's, which
# use their own Sphinx roles).
autodoc_inherit_docstrings = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = True
napoleon_use_ivar = True  # "Attributes" as fields: no duplicates of dataclass fields
typehints_document_rtype = False
always_document_param_types = False
typehints_use_signature = True
typehints_use_signature_return = True

# Cross-references to other projects resolve only online; offline they stay plain text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False
suppress_warnings = [
    # the same exception name exported by two modules (e.g. LabelError): the reference
    # resolves to one of them
    "ref.python",
    # annotations under ``if TYPE_CHECKING:`` cannot be resolved at build time
    "sphinx_autodoc_typehints.forward_reference",
    "sphinx_autodoc_typehints.guarded_import",
]

# --- HTML
html_theme = "pydata_sphinx_theme"
html_title = "posekit"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "light"}
