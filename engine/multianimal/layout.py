"""The layout of a multi-animal project: individuals, bodyparts and DLC's columns.

DeepLabCut's multi-animal label and track files have four column levels,
``scorer/individuals/bodyparts/coords``. Their columns are not a full product: every
individual of ``individuals`` has the ``multianimalbodyparts``, and the
``uniquebodyparts`` (an object or an animal that appears once, e.g. a lever) sit under
one more individual, ``single`` (``auxfun_multianimal.convert2_maDLC``). Network
channels follow DeepLabCut's ``all_joints_names`` order: the multi-animal bodyparts,
then the unique ones.

In memory a frame's labels are ``(n_individuals, n_multi, 2)`` plus ``(n_unique, 2)``;
flattened (``flat``) they are ``(n_individuals * n_multi + n_unique, 2)`` in column
order, which is what augmentation and the labeller's label store work on.

>>> layout = MultiAnimalLayout(("a1", "a2"), ("nose", "tail"), ("lever",))
>>> [c[1:3] for c in layout.columns("me")[::2]]
[('a1', 'nose'), ('a1', 'tail'), ('a2', 'nose'), ('a2', 'tail'), ('single', 'lever')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SINGLE",
    "MultiAnimalLayout",
    "multianimal_frame",
    "frame_to_arrays",
]

#: The individual DeepLabCut stores unique bodyparts under.
SINGLE = "single"


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list of names. Received: {value!r}")
    names = tuple(str(v) for v in value)
    if len(set(names)) != len(names):
        raise ValueError(f"{what} lists a name twice: {list(names)}")
    return names


@dataclass(frozen=True)
class MultiAnimalLayout:
    """Individuals and bodyparts of a multi-animal project (frozen, validated).

    Parameters
    ----------
    individuals
        Names of the animals (``individuals`` in ``config.yaml``).
    multi_bodyparts
        Bodyparts every animal has (``multianimalbodyparts``).
    unique_bodyparts
        Bodyparts that appear once per frame (``uniquebodyparts``), stored under the
        individual ``single``.

    Raises
    ------
    ValueError
        No individual or no bodypart, a name listed twice, an individual called
        ``single``, or a bodypart both multi-animal and unique.

    Examples
    --------
    >>> MultiAnimalLayout(("m1", "m2"), ("snout",)).n_slots
    2
    """

    individuals: tuple[str, ...]
    multi_bodyparts: tuple[str, ...]
    unique_bodyparts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        inds = _names(self.individuals, "individuals")
        multi = _names(self.multi_bodyparts, "multianimalbodyparts")
        unique = _names(self.unique_bodyparts, "uniquebodyparts")
        if not inds:
            raise ValueError(
                "A multi-animal project needs at least one individual: list them "
                "under `individuals` in config.yaml."
            )
        if not multi and not unique:
            raise ValueError(
                "A multi-animal project needs bodyparts: list them under "
                "`multianimalbodyparts` (and `uniquebodyparts`) in config.yaml."
            )
        if SINGLE in inds:
            raise ValueError(
                f"{SINGLE!r} cannot be an individual's name: DeepLabCut keeps unique "
                "bodyparts under it. Rename that individual."
            )
        both = sorted(set(multi) & set(unique))
        if both:
            raise ValueError(
                f"bodyparts {both} are both multianimalbodyparts and uniquebodyparts; "
                "keep each in one list."
            )
        object.__setattr__(self, "individuals", inds)
        object.__setattr__(self, "multi_bodyparts", multi)
        object.__setattr__(self, "unique_bodyparts", unique)

    @classmethod
    def from_config(cls, cfg: Any) -> MultiAnimalLayout:
        """Read the layout from a project (or its ``config.yaml`` mapping).

        Parameters
        ----------
        cfg
            A :class:`~posekit.engine.project.Project` or a config mapping.

        Returns
        -------
        MultiAnimalLayout

        Raises
        ------
        ValueError
            If the config is not multi-animal or its lists are invalid.
        """
        get = cfg.get if hasattr(cfg, "get") else cfg.__getitem__
        if not get("multianimalproject"):
            raise ValueError(
                "This is a single-animal project (multianimalproject is not true)."
            )
        return cls(
            _names(get("individuals"), "individuals"),
            _names(get("multianimalbodyparts"), "multianimalbodyparts"),
            _names(get("uniquebodyparts"), "uniquebodyparts"),
        )

    # ------------------------------------------------------------------ sizes
    @property
    def n_individuals(self) -> int:
        """Number of animals."""
        return len(self.individuals)

    @property
    def n_multi(self) -> int:
        """Number of multi-animal bodyparts."""
        return len(self.multi_bodyparts)

    @property
    def n_unique(self) -> int:
        """Number of unique bodyparts."""
        return len(self.unique_bodyparts)

    @property
    def bodyparts(self) -> tuple[str, ...]:
        """Network channels: multi-animal bodyparts, then unique ones (DLC's order)."""
        return self.multi_bodyparts + self.unique_bodyparts

    @property
    def n_slots(self) -> int:
        """Points per frame: ``n_individuals * n_multi + n_unique``."""
        return self.n_individuals * self.n_multi + self.n_unique

    @property
    def slots(self) -> list[tuple[str, str]]:
        """``(individual, bodypart)`` of every point of a frame, in column order."""
        out = [(i, b) for i in self.individuals for b in self.multi_bodyparts]
        return out + [(SINGLE, b) for b in self.unique_bodyparts]

    def slot_index(self, individual: str, bodypart: str) -> int:
        """Position of ``(individual, bodypart)`` in :attr:`slots`.

        Raises
        ------
        KeyError
            If the pair is not a point of this layout.
        """
        if individual == SINGLE and bodypart in self.unique_bodyparts:
            return self.n_individuals * self.n_multi + self.unique_bodyparts.index(
                bodypart
            )
        if individual in self.individuals and bodypart in self.multi_bodyparts:
            return self.individuals.index(
                individual
            ) * self.n_multi + self.multi_bodyparts.index(bodypart)
        raise KeyError(
            f"({individual!r}, {bodypart!r}) is not a point of this project: "
            f"individuals {list(self.individuals)} have {list(self.multi_bodyparts)}"
            + (
                f", and {SINGLE!r} has {list(self.unique_bodyparts)}"
                if self.unique_bodyparts
                else ""
            )
        )

    # ------------------------------------------------------------------ columns
    def columns(self, scorer: str, coords: Sequence[str] = ("x", "y")) -> pd.MultiIndex:
        """DeepLabCut's four-level columns (``single`` only when there are unique parts).

        Parameters
        ----------
        scorer
            The ``scorer`` level.
        coords
            ``("x", "y")`` for labels, ``("x", "y", "likelihood")`` for predictions.

        Returns
        -------
        pandas.MultiIndex
            Names ``scorer, individuals, bodyparts, coords``.
        """
        tuples = [(scorer, i, b, c) for i, b in self.slots for c in coords]
        return pd.MultiIndex.from_tuples(
            tuples, names=["scorer", "individuals", "bodyparts", "coords"]
        )

    # ------------------------------------------------------------------ arrays
    def flatten(self, keypoints: np.ndarray, unique: np.ndarray | None) -> np.ndarray:
        """``(..., I, Km, C)`` and ``(..., Ku, C)`` → ``(..., n_slots, C)``."""
        keypoints = np.asarray(keypoints, float)
        lead = keypoints.shape[:-3]
        c = keypoints.shape[-1]
        flat = keypoints.reshape(*lead, -1, c)
        if self.n_unique:
            if unique is None:
                unique = np.full((*lead, self.n_unique, c), np.nan)
            flat = np.concatenate([flat, np.asarray(unique, float)], axis=-2)
        return flat

    def unflatten(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., n_slots, C)`` → ``(..., I, Km, C)`` and ``(..., Ku, C)``."""
        flat = np.asarray(flat)
        lead, c = flat.shape[:-2], flat.shape[-1]
        n = self.n_individuals * self.n_multi
        multi = flat[..., :n, :].reshape(*lead, self.n_individuals, self.n_multi, c)
        return multi, flat[..., n:, :]

    def flip_slots(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Slot permutation of a left/right mirror: each pair swapped in every animal.

        Parameters
        ----------
        pairs
            ``(left, right)`` bodypart names (multi-animal or unique).

        Returns
        -------
        numpy.ndarray
            ``perm`` such that ``flat[perm]`` relabels a mirrored frame.
        """
        channel = np.arange(len(self.bodyparts))
        names = list(self.bodyparts)
        for a, b in pairs:
            if (a in self.unique_bodyparts) != (b in self.unique_bodyparts):
                raise ValueError(
                    f"flip pair ({a!r}, {b!r}) joins a unique and a multi-animal "
                    "bodypart; a mirror swaps parts of the same kind only"
                )
            i, j = names.index(a), names.index(b)
            channel[i], channel[j] = j, i
        perm = []
        for k in range(self.n_individuals):
            perm += [k * self.n_multi + int(channel[j]) for j in range(self.n_multi)]
        base = self.n_individuals * self.n_multi
        perm += [
            base + int(channel[self.n_multi + u]) - self.n_multi
            for u in range(self.n_unique)
        ]
        return np.asarray(perm, int)

    def to_dict(self) -> dict[str, list[str]]:
        """Plain, YAML-safe dict (config key names)."""
        return {
            "individuals": list(self.individuals),
            "multianimalbodyparts": list(self.multi_bodyparts),
            "uniquebodyparts": list(self.unique_bodyparts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultiAnimalLayout:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(data.get("individuals") or ()),
            tuple(data.get("multianimalbodyparts") or ()),
            tuple(data.get("uniquebodyparts") or ()),
        )


def multianimal_frame(
    layout: MultiAnimalLayout,
    scorer: str,
    index: pd.Index | Sequence[Any],
    keypoints: np.ndarray,
    unique: np.ndarray | None = None,
    *,
    coords: Sequence[str] = ("x", "y"),
) -> pd.DataFrame:
    """Arrays → a DataFrame with DeepLabCut's four-level columns.

    Parameters
    ----------
    layout
        The project's individuals and bodyparts.
    scorer
        The ``scorer`` level.
    index
        Row index (frame paths as DLC's 3-level index, or frame numbers).
    keypoints
        ``(n_rows, n_individuals, n_multi, len(coords))``; NaN for missing.
    unique
        ``(n_rows, n_unique, len(coords))`` (default all NaN).
    coords
        Coordinate names (``x, y`` or ``x, y, likelihood``).

    Returns
    -------
    pandas.DataFrame
        float64 values, columns :meth:`MultiAnimalLayout.columns`.

    Examples
    --------
    >>> layout = MultiAnimalLayout(("a",), ("nose",), ("lever",))
    >>> df = multianimal_frame(layout, "me", [0], np.ones((1, 1, 1, 2)))
    >>> df.shape, df.columns.names[1]
    ((1, 4), 'individuals')
    """
    flat = layout.flatten(keypoints, unique)
    n = flat.shape[0]
    return pd.DataFrame(
        flat.reshape(n, -1).astype(np.float64),
        index=index,
        columns=layout.columns(scorer, coords),
    )


def frame_to_arrays(
    df: pd.DataFrame,
    layout: MultiAnimalLayout | None = None,
    *,
    coords: Sequence[str] = ("x", "y"),
) -> tuple[np.ndarray, np.ndarray, MultiAnimalLayout]:
    """Read a four-level DeepLabCut DataFrame into arrays in the layout's order.

    Individuals the layout does not name are read too, after its own (a label file
    may name its animals otherwise than the config, e.g. ``Animal1`` while the config
    lists ``individual1``; animals are interchangeable for training). Bodyparts the
    layout does not list raise.

    Parameters
    ----------
    df
        Columns ``scorer/individuals/bodyparts/coords`` (one scorer).
    layout
        The expected layout (default: the one the columns describe).
    coords
        Coordinates to read.

    Returns
    -------
    keypoints : numpy.ndarray
        ``(n_rows, n_individuals, n_multi, len(coords))``, NaN where absent.
    unique : numpy.ndarray
        ``(n_rows, n_unique, len(coords))``.
    layout : MultiAnimalLayout
        ``layout`` with the file's extra individuals appended.

    Raises
    ------
    ValueError
        If the columns are not four-level, or name bodyparts the layout lacks.
    """
    if list(df.columns.names) != ["scorer", "individuals", "bodyparts", "coords"]:
        raise ValueError(
            f"expected DeepLabCut's multi-animal columns scorer/individuals/bodyparts/"
            f"coords; these are {list(df.columns.names)}"
        )
    scorer = df.columns.get_level_values("scorer")[0]
    sub = df[scorer]
    file_inds = list(dict.fromkeys(sub.columns.get_level_values("individuals")))
    animals = [i for i in file_inds if i != SINGLE]
    if layout is None:
        multi = list(dict.fromkeys(b for i, b, _ in sub.columns if i != SINGLE))
        unique = list(dict.fromkeys(b for i, b, _ in sub.columns if i == SINGLE))
        layout = MultiAnimalLayout(
            tuple(animals) or ("individual1",), tuple(multi), tuple(unique)
        )
    extra = [i for i in animals if i not in layout.individuals]
    if extra:
        layout = MultiAnimalLayout(
            layout.individuals + tuple(extra),
            layout.multi_bodyparts,
            layout.unique_bodyparts,
        )
    unknown = sorted(
        {
            b
            for i, b, _ in sub.columns
            if (
                b not in layout.unique_bodyparts
                if i == SINGLE
                else b not in layout.multi_bodyparts
            )
        }
    )
    if unknown:
        raise ValueError(
            f"the file labels bodyparts {unknown} that the project does not list "
            f"(multianimalbodyparts {list(layout.multi_bodyparts)}, uniquebodyparts "
            f"{list(layout.unique_bodyparts)})"
        )
    n, c = len(df), len(coords)
    keypoints = np.full((n, layout.n_individuals, layout.n_multi, c), np.nan)
    unique_xy = np.full((n, layout.n_unique, c), np.nan)
    present = set(sub.columns)
    for i, ind in enumerate(layout.individuals):
        for j, bp in enumerate(layout.multi_bodyparts):
            for k, coord in enumerate(coords):
                if (ind, bp, coord) in present:
                    keypoints[:, i, j, k] = sub[(ind, bp, coord)].to_numpy(float)
    for u, bp in enumerate(layout.unique_bodyparts):
        for k, coord in enumerate(coords):
            if (SINGLE, bp, coord) in present:
                unique_xy[:, u, k] = sub[(SINGLE, bp, coord)].to_numpy(float)
    return keypoints, unique_xy, layout
