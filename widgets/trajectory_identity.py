"""Identities in the trajectory viewer: colour by animal, swap, likely swaps, save.

:class:`IdentityCorrection` is mixed into
:class:`~posekit.widgets.trajectory_model.TrajectoryModel` (state and logic, no
widgets). For tracked poses of several animals (DeepLabCut's ``…_el.h5``) it:

- colours the frame view by individual (:attr:`~IdentityCorrection.color_by`);
- swaps two identities from a frame onwards or over a range of frames
  (:meth:`~IdentityCorrection.swap_identities`, undoable), with
  :func:`posekit.engine.multianimal.identity.swap_identities`;
- lists where swaps are likely, tracklet ends and crossings
  (:meth:`~IdentityCorrection.likely_swaps`);
- saves the corrected tracks back to the file, DeepLabCut's layout kept, and the
  ``.csv`` and ``.nc`` exports of the same tracks beside it (each file as it was is
  copied to ``.posekit/`` beside it once).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import traitlets

__all__ = ["IdentityCorrection"]


class IdentityCorrection(traitlets.HasTraits):
    """Identity correction of tracked animals (see the module docstring).

    Attributes
    ----------
    color_by
        ``"bodypart"`` or ``"individual"`` (the default with several animals).
    identity_version
        Counts the identity edits (views redraw on it).
    dirty
        Whether there are edits not yet saved.

    Examples
    --------
    >>> import numpy as np
    >>> from posekit.engine.poses import from_numpy
    >>> from posekit.widgets.trajectory_model import TrajectoryModel
    >>> pos = np.zeros((5, 2, 1, 2)); pos[..., 1] = 50.0
    >>> model = TrajectoryModel(from_numpy(pos, individual_names=["a", "b"]))
    >>> model.color_by, model.animals
    ('individual', ['a', 'b'])
    >>> model.frame = 3; model.swap_identities("a", "b")
    >>> model.raw.position.sel(individual="a", space="x").values.ravel().tolist()
    [0.0, 0.0, 0.0, 50.0, 50.0]
    """

    color_by = traitlets.Enum(["bodypart", "individual"], default_value="bodypart")
    identity_version = traitlets.Int(0)
    dirty = traitlets.Bool(False)

    # what the mixin uses of the model
    raw: Any
    individuals: list[str]
    n_frames: int
    source: Path | None

    def _init_identities(self) -> None:
        """Set the defaults once the poses are loaded.

        Nothing here looks at the frames: the likely swaps are found on first use
        (:meth:`likely_swaps`; the viewer asks for them after its first view) and
        kept until the tracks change.
        """
        self._identity_undo: list[Any] = []
        # (raw, max_candidates, candidates) of the last likely_swaps call
        self._swaps_cache: tuple[Any, int, list[Any]] | None = None
        self._swaps_lock = threading.Lock()
        if len(self.animals) > 1:
            self.color_by = "individual"

    @property
    def animals(self) -> list[str]:
        """The individuals that are animals (``single`` left out)."""
        return [i for i in self.individuals if i != "single"]

    def swap_identities(
        self,
        first: str,
        second: str,
        start: int | None = None,
        stop: int | None = None,
    ) -> None:
        """Swap two animals from ``start`` (default: the cursor) up to ``stop``.

        Parameters
        ----------
        first, second
            The animals.
        start
            First frame swapped (default: the frame shown).
        stop
            Frame after the last one swapped (default: to the end).

        Raises
        ------
        ValueError
            Unknown or equal animals, or an empty range.
        """
        from ..engine.multianimal.identity import swap_identities

        start = self.frame if start is None else int(start)  # type: ignore[attr-defined]
        swapped = swap_identities(self.raw, first, second, start, stop)
        self._identity_undo.append(self.raw)
        self._set_raw(swapped)
        end = "the end" if stop is None else f"frame {int(stop) - 1}"
        self.message = f"swapped {first} and {second} from frame {start} to {end}"  # type: ignore[attr-defined]

    def undo_identity(self) -> bool:
        """Take back the last swap; whether there was one."""
        if not self._identity_undo:
            return False
        self._set_raw(self._identity_undo.pop())
        self.message = "last swap undone"  # type: ignore[attr-defined]
        return True

    def _set_raw(self, ds: Any) -> None:
        self.raw = ds
        self._refilter()  # type: ignore[attr-defined]
        self.dirty = True
        self.identity_version += 1

    def likely_swaps(self, max_candidates: int = 200) -> list[Any]:
        """Frames where identities most likely swapped (tracklet ends, crossings).

        Found once per version of the tracks (a swap or an undo finds them again):
        it looks at every frame (about 0.3 s for an hour of 4 animals, 12 bodyparts).
        """
        from ..engine.multianimal.identity import likely_swaps

        if len(self.animals) < 2:
            return []
        with self._swaps_lock:
            raw = self.raw
            cached = self._swaps_cache
            if cached is not None and cached[0] is raw and cached[1] == max_candidates:
                return list(cached[2])
            found = likely_swaps(raw, max_candidates=max_candidates)
            self._swaps_cache = (raw, max_candidates, found)
            return list(found)

    def save_identities(self, path: str | os.PathLike | None = None) -> Path:
        """Write the corrected tracks (default: back to the file they came from).

        DeepLabCut's ``_el.h5`` layout (key ``tracks``, the file's columns) is kept.
        The other exports of the same tracks beside it that exist are written again
        from the same table, so that none keeps the old identities: the ``.csv``
        (``posekit analyze --csv``, what DeepLabCut users open in R or Excel) and the
        ``.nc`` (``netcdf=True``; its frame rate kept). Before a file is first
        overwritten, a copy goes to ``.posekit/<name>.orig`` beside it. The
        tracklets (``_el.pickle``) are left as the tracker wrote them. Each file is
        replaced atomically (a temporary file moved over it).

        Returns
        -------
        Path
            The written file (``path``, or the file the poses came from, ``.h5``
            or ``.csv``); :attr:`message` names every file written.

        Raises
        ------
        ValueError
            Without ``path`` for poses that did not come from a file, or for a
            file that is neither ``.h5`` nor ``.csv``.
        """
        from ..engine.io.dlc import read_predictions
        from ..engine.multianimal.identity import save_tracks

        target = Path(path) if path is not None else self.source
        if target is None:
            raise ValueError("these poses came from no file: pass path=")
        columns, scorer = None, None
        if self.source is not None and self.source.suffix.lower() in (".h5", ".csv"):
            try:
                df = read_predictions(self.source)
                if "individuals" in df.columns.names:
                    columns = df.columns
                    scorer = str(columns.get_level_values("scorer")[0])
            except Exception:  # noqa: BLE001 - not a DLC file: DLC's own columns
                columns = None
        if target.suffix.lower() not in (".h5", ".csv"):
            raise ValueError(
                f"tracks are saved as DeepLabCut's .h5 or .csv, not {target.name}: "
                "pass path= ending in .h5"
            )
        h5, csv, nc = (target.with_suffix(s) for s in (".h5", ".csv", ".nc"))
        others = [p for p in (h5, csv, nc) if p != target and p.is_file()]
        fps = None
        if nc in others:
            from ..engine.io import load_poses

            fps = load_poses(nc).attrs.get("fps")
        if target.exists() and target == self.source:
            _backup(target)
        for other in others:
            _backup(other)
        table = h5 if target == h5 or h5 in others else target
        save_tracks(
            self.raw,
            table,
            scorer=scorer,
            columns=columns,
            save_csv=table != target or csv in others,
        )
        if nc in others:  # as analysis writes it: the tracks file read back
            from ..engine.io import load_poses, save_poses

            ds = load_poses(table, fps=fps) if fps else load_poses(table)
            save_poses(ds, nc, fmt="netCDF")
        self.dirty = False
        names = ", ".join(p.name for p in [target, *others])
        self.message = f"tracks saved: {names} (in {target.parent})"  # type: ignore[attr-defined]
        return target

    def individual_colors(self) -> dict[str, str]:
        """Return a colour per individual (the project's colour map)."""
        from ..engine.drawing import bodypart_colors, to_hex

        names = self.individuals
        colors = bodypart_colors(max(len(names), 1), self.colormap)  # type: ignore[attr-defined]
        return {n: to_hex(c) for n, c in zip(names, colors, strict=False)}


def _backup(path: Path) -> None:
    """Copy ``path`` to ``.posekit/<name>.orig`` beside it, unless done before."""
    backup = path.parent / ".posekit" / f"{path.name}.orig"
    if not backup.exists():
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, backup)
