"""Labelling several animals: what :class:`~.labeler_model.LabelerModel` adds for them.

In a multi-animal project the labeller's "bodyparts" are the points of a frame, one per
individual and bodypart (``"mouse1/snout"``, unique bodyparts under ``single``), as the
:class:`~posekit.engine.multianimal.labels.MultiAnimalLabelStore` names them; clicks,
drags, undo, "not visible" and merging work on them as on single-animal bodyparts.
:class:`MultiAnimalLabelling` (a mixin of the model, no widgets) adds:

- the individual and the bodypart chosen apart (:meth:`~MultiAnimalLabelling.select_individual`,
  keys ``i`` / ``j`` for the next / previous animal; the bodypart keys keep the
  animal);
- colours by individual and a skeleton drawn within each animal;
- copying the selected animal's points from the previous frame (key ``g``) and swapping
  two animals' labels on the frame (key ``w``: the selected animal with the next).

For a single-animal project every method leaves the labeller as it was.
"""

from __future__ import annotations

from typing import Any

from ..engine.multianimal.labels import SLOT_SEPARATOR, slot_name, split_slot

__all__ = ["MULTIANIMAL_SHORTCUTS", "MultiAnimalLabelling"]

#: Keyboard shortcuts of multi-animal labelling (merged into the labeller's).
MULTIANIMAL_SHORTCUTS: dict[str, tuple[str, ...]] = {
    "next animal": ("i",),
    "previous animal": ("j",),
    "copy animal from previous frame": ("g",),
    "swap animals": ("w",),
}


class MultiAnimalLabelling:
    """Multi-animal labelling, mixed into :class:`~.labeler_model.LabelerModel`.

    Examples
    --------
    >>> import tempfile
    >>> from posekit.engine.demo import make_demo_project
    >>> from posekit.widgets.labeler_model import LabelerModel
    >>> project = make_demo_project(tempfile.mkdtemp(), n_animals=2, n_frames=20,
    ...                             n_labeled=2)
    >>> model = LabelerModel(project)
    >>> model.select_individual("mouse2"); model.selected
    'mouse2/snout'
    >>> model.select_next_individual(); model.selected_individual
    'mouse1'
    """

    # attributes of the model this mixin uses
    project: Any
    store: Any
    bodyparts: list[str]
    selected: str

    # ------------------------------------------------------------------ state
    @property
    def multianimal(self) -> bool:
        """Whether the project is multi-animal."""
        return bool(self.project.multianimal)

    def _initial_bodyparts(self) -> list[str]:
        """Return the points the labeller lists before a label file is opened."""
        if not self.multianimal:
            return list(self.project.bodyparts)
        from ..engine.multianimal.layout import MultiAnimalLayout

        try:
            layout = MultiAnimalLayout.from_config(self.project)
        except ValueError:
            return []
        return [slot_name(i, b) for i, b in layout.slots]

    def _multianimal_store_opened(self, store: Any) -> None:
        """Take the store's points (a label file may name more animals)."""
        if not self.multianimal or list(store.bodyparts) == self.bodyparts:
            return
        self.bodyparts = list(store.bodyparts)
        if self.selected not in self.bodyparts and self.bodyparts:
            self.selected = self.bodyparts[0]

    @property
    def individuals(self) -> list[str]:
        """The animals, in config order (``single`` last when it has bodyparts)."""
        if not self.multianimal:
            return []
        return list(dict.fromkeys(split_slot(s)[0] for s in self.bodyparts))

    @property
    def selected_individual(self) -> str:
        """The individual of the selected point (``""`` single-animal)."""
        if not self.multianimal or SLOT_SEPARATOR not in self.selected:
            return ""
        return split_slot(self.selected)[0]

    @property
    def selected_bodypart(self) -> str:
        """The bodypart of the selected point."""
        if not self.multianimal or SLOT_SEPARATOR not in self.selected:
            return self.selected
        return split_slot(self.selected)[1]

    def slots_of(self, individual: str) -> list[str]:
        """Return the points of one individual, in bodypart order."""
        return [s for s in self.bodyparts if split_slot(s)[0] == individual]

    # ------------------------------------------------------------------ choosing
    def select_individual(self, individual: str) -> None:
        """Select an animal, keeping the bodypart (else its first unlabelled point).

        Raises
        ------
        ValueError
            If ``individual`` is not one of :attr:`individuals`.
        """
        if individual not in self.individuals:
            raise ValueError(f"{individual!r} is not one of {self.individuals}")
        same = slot_name(individual, self.selected_bodypart)
        if same in self.bodyparts:
            self.select(same)  # type: ignore[attr-defined]
            return
        slots = self.slots_of(individual)
        frame = getattr(self, "frame", "")
        todo = [s for s in slots if frame and self._is_missing(frame, s)]
        self.select((todo or slots)[0])  # type: ignore[attr-defined]

    def select_next_individual(self, step: int = 1) -> None:
        """Select the next (``step=-1``: previous) animal."""
        inds = self.individuals
        if not inds:
            return
        current = self.selected_individual
        i = inds.index(current) if current in inds else -1
        self.select_individual(inds[(i + step) % len(inds)])

    def _is_missing(self, frame: str, slot: str) -> bool:
        if self.store is None:
            return True
        x, _ = self.store.point(frame, slot)
        return x != x  # NaN

    # ------------------------------------------------------------------ editing
    def copy_previous_individual(self, individual: str | None = None) -> list[str]:
        """Copy an animal's points (default: the selected one) from the previous frame.

        Returns
        -------
        list of str
            The points that changed (one undoable edit).
        """
        index = getattr(self, "_index", 0)
        if not self.multianimal or self.store is None:
            return []
        individual = individual or self.selected_individual
        if index == 0:
            self.show_message(  # type: ignore[attr-defined]
                f"This is the first frame: there is no previous frame to copy "
                f"{individual} from."
            )
            return []
        frames = self.frames  # type: ignore[attr-defined]
        changes = self.store.copy_individual(
            frames[index - 1], frames[index], individual
        )
        self._record(changes)  # type: ignore[attr-defined]
        n = len(changes)
        if n:
            message = (
                f"Copied {individual}'s {n} point{'s' if n != 1 else ''} from the "
                "previous frame."
            )
        elif any(
            not self._is_missing(frames[index - 1], s)
            for s in self.slots_of(individual)
        ):
            message = f"{individual}'s points are already those of the previous frame."
        else:
            message = f"{individual} has no points on the previous frame to copy."
        self.show_message(message)  # type: ignore[attr-defined]
        self.render()  # type: ignore[attr-defined]
        return [c.bodypart for c in changes]

    def swap_individuals(
        self, first: str | None = None, second: str | None = None
    ) -> list[str]:
        """Swap two animals' labels on this frame (default: the selected and the next).

        Returns
        -------
        list of str
            The points that changed (one undoable edit).
        """
        if not self.multianimal or self.store is None or not self.frame:  # type: ignore[attr-defined]
            return []
        animals = [i for i in self.individuals if i != "single"]
        first = first or self.selected_individual or (animals[0] if animals else "")
        if second is None:
            if first not in animals or len(animals) < 2:
                self.show_message(  # type: ignore[attr-defined]
                    f"Select one of the animals ({', '.join(animals)}) to swap it "
                    "with the next one."
                    if len(animals) > 1
                    else "There is no other animal to swap with."
                )
                return []
            second = animals[(animals.index(first) + 1) % len(animals)]
        changes = self.store.swap_individuals(self.frame, first, second)  # type: ignore[attr-defined]
        self._record(changes)  # type: ignore[attr-defined]
        self.show_message(  # type: ignore[attr-defined]
            f"Swapped {first} and {second} on this frame."
            if changes
            else f"{first} and {second} have the same labels here: nothing to swap."
        )
        self.render()  # type: ignore[attr-defined]
        return [c.bodypart for c in changes]

    # ------------------------------------------------------------------ drawing
    def _skeleton_pairs(self) -> list[tuple[str, str]]:
        """Skeleton edges between points: within each animal when there are several."""
        edges = list(self.project.skeleton)
        if not self.multianimal:
            return edges
        names = set(self.bodyparts)
        out = []
        for ind in self.individuals:
            for a, b in edges:
                sa, sb = slot_name(ind, a), slot_name(ind, b)
                if sa in names and sb in names:
                    out.append((sa, sb))
        return out

    def point_colors(self, colormap: str) -> list[str]:
        """Return a colour per point: by bodypart (single animal) or by individual.

        Parameters
        ----------
        colormap
            The project's colour map (``display.colormap``).

        Returns
        -------
        list of str
            ``#rrggbb`` in :attr:`bodyparts` order.
        """
        from ..engine.drawing import bodypart_colors, to_hex

        def hex_colors(n: int) -> list[str]:
            return [to_hex(c) for c in bodypart_colors(n, colormap)]

        if not self.multianimal:
            return hex_colors(len(self.bodyparts))
        inds = self.individuals
        palette = hex_colors(max(len(inds), 1))
        return [palette[inds.index(split_slot(s)[0])] for s in self.bodyparts]

    @property
    def multianimal_actions(self) -> dict[str, Any]:
        """The :data:`MULTIANIMAL_SHORTCUTS` actions."""
        return {
            "next animal": lambda: self.select_next_individual(1),
            "previous animal": lambda: self.select_next_individual(-1),
            "copy animal from previous frame": self.copy_previous_individual,
            "swap animals": self.swap_individuals,
        }
