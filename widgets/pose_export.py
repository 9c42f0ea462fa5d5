"""Export poses in any format posekit writes: a format menu and an Export button.

The analysis panel exports its result files, the behaviour app its (cleaned) sessions.
:class:`PoseExportModel` holds the state and does the writing (no ipywidgets, so tests
drive it directly); :class:`PoseExport` is the view. The formats are those
:func:`posekit.engine.io.export_formats` lists (DeepLabCut, netCDF, and whatever else
is installed: NWB, COCO, SLEAP, Lightning Pose).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path

import traitlets
import xarray as xr

from ..engine.io import export_formats, load, save
from .app import live_region

__all__ = [
    "PoseExportModel",
    "PoseExport",
    "export_target",
    "EXPORT_SUFFIXES",
    "NO_OVERWRITE",
]

Source = Path | xr.Dataset

#: The end of each format's exported file name, after the source's name: as the tool
#: names its files where that differs from the analysis' own outputs (SLEAP's
#: ``.analysis.h5``), else a tag, so that no two formats share a name and none
#: takes the name of the DeepLabCut ``.h5``/``.csv`` an analysis wrote (a Lightning
#: Pose ``<stem>.csv`` would replace the ``analyze --csv`` twin).
EXPORT_SUFFIXES = {
    "DeepLabCut": ".h5",
    "SLEAP": ".slp",
    "SLEAP-analysis": ".analysis.h5",
    "LightningPose": "_lp.csv",
    "netCDF": ".nc",
    "NWB": ".nwb",
    "COCO": "_coco.json",
}

#: Said under the Export button (the model refuses to replace a file).
NO_OVERWRITE = (
    "An existing file is never replaced: an export that would replace one writes "
    "nothing and names it (move or delete it to export again). Lightning Pose is "
    "written as <name>_lp.csv, SLEAP analysis as <name>.analysis.h5, COCO as "
    "<name>_coco.json, beside the DeepLabCut .h5/.csv."
)


def export_target(
    name: str, folder: Path, suffix: str, source: Path | None, fmt: str = ""
) -> Path:
    """Return where ``name`` is exported in format ``fmt``.

    ``<folder>/<name><end>``, the end from :data:`EXPORT_SUFFIXES` (``suffix``, the
    format's extension, for a format not listed). When that is the source file
    itself (a DeepLabCut ``.h5`` exported as DeepLabCut), ``_export`` is added to
    the name.

    Examples
    --------
    >>> export_target("m1DLC_x", Path("/v"), ".nc", Path("/v/m1DLC_x.h5")).name
    'm1DLC_x.nc'
    >>> export_target("m1DLC_x", Path("/v"), ".h5", Path("/v/m1DLC_x.h5")).name
    'm1DLC_x_export.h5'
    >>> export_target("m1DLC_x", Path("/v"), ".csv", None, "LightningPose").name
    'm1DLC_x_lp.csv'
    >>> export_target("m1DLC_x", Path("/v"), ".h5", None, "SLEAP-analysis").name
    'm1DLC_x.analysis.h5'
    """
    end = EXPORT_SUFFIXES.get(fmt, suffix)
    target = folder / f"{name}{end}"
    if source is not None and target.resolve() == Path(source).resolve():
        target = folder / f"{name}_export{end}"
    return target


class PoseExportModel(traitlets.HasTraits):
    """What to export, in which format, and what was written.

    Parameters
    ----------
    sources
        Returns the poses to export, by name: files (any format posekit reads) or
        poses datasets.
    folder
        Returns the folder datasets are written to (default: files are exported
        beside themselves, datasets into the current folder).
    """

    formats = traitlets.List(traitlets.Unicode())
    fmt = traitlets.Unicode("")
    files = traitlets.List()
    message = traitlets.Unicode("")

    def __init__(
        self,
        sources: Callable[[], Mapping[str, Source]],
        *,
        folder: Callable[[], Path] | None = None,
    ) -> None:
        super().__init__()
        self._sources = sources
        self._folder = folder
        self.formats = list(export_formats())
        self.fmt = self.formats[0] if self.formats else ""

    def export(self) -> list[Path]:
        """Write every source in :attr:`fmt`; return (and list in ``files``) the files.

        Nothing is written when a target exists already (or two sources would
        write the same file): files are never replaced.

        Raises
        ------
        ValueError
            No format chosen, or nothing to export.
        FileExistsError
            A file to write exists already (the message names it).
        """
        if self.fmt not in export_formats():
            raise ValueError(f"choose an export format; known: {self.formats}")
        sources = dict(self._sources())
        if not sources:
            raise ValueError("nothing to export yet")
        suffix = (export_formats()[self.fmt] or ("",))[0]
        jobs = []
        for name, source in sources.items():
            path = None if isinstance(source, xr.Dataset) else Path(source)
            if self._folder:
                folder = self._folder()
            else:
                folder = Path.cwd() if path is None else path.parent
            target = export_target(name, Path(folder), suffix, path, self.fmt)
            jobs.append((source, target))
        targets = [t for _, t in jobs]
        taken = [t for t in targets if t.exists()]
        taken += [t for i, t in enumerate(targets) if t in targets[:i]]
        if taken:
            self.files = []
            raise FileExistsError(
                f"nothing exported: {', '.join(str(t) for t in taken)} "
                f"{'exists' if len(taken) == 1 else 'exist'} already, and an "
                "export never replaces a file. Move or delete "
                f"{'it' if len(taken) == 1 else 'them'} to export again, or "
                "choose another format."
            )
        written = []
        for source, target in jobs:
            ds = source if isinstance(source, xr.Dataset) else load(Path(source))
            written.append(save(ds, target, format=self.fmt))
        self.files = written
        self.message = f"wrote {len(written)} {self.fmt} file(s)"
        return written


class PoseExport:
    """A format menu and an Export button on a :class:`PoseExportModel` (``.widget``).

    Parameters
    ----------
    model
        The model.
    """

    def __init__(self, model: PoseExportModel) -> None:
        import ipywidgets as w

        self.model = model
        self.format = w.Dropdown(
            options=model.formats,
            description="format",
            style={"description_width": "initial"},
            layout=w.Layout(width="240px"),
        )
        w.link((model, "fmt"), (self.format, "value"))
        self.button = w.Button(description="Export poses", icon="download")
        self.button.add_class("posekit-pose-export")
        self.button.on_click(lambda _: self._export())
        self.status = live_region(w.HTML())  # announced (QA s15 #8)
        #: How files are named and that none is replaced.
        self.note = w.HTML(f"<small>{html.escape(NO_OVERWRITE)}</small>")
        self.widget = w.VBox(
            [w.HBox([self.format, self.button]), self.note, self.status]
        )

    def _export(self) -> None:
        try:
            files = self.model.export()
        except Exception as err:  # noqa: BLE001 - shown in the widget
            self.status.value = (
                f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            )
            return
        items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in files)
        self.status.value = f"{html.escape(self.model.message)}<ul>{items}</ul>"

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
